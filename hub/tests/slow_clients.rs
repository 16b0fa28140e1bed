//! Slow and stalled HTTP clients, over raw sockets: a token is checked before any body is read,
//! a header or body that does not arrive in time ends the connection, and one address holds
//! only so many unfinished requests.

mod common;

use std::net::SocketAddr;

use common::{TestHub, WAIT};
use hub::Config;
use protocol::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn hub_with(configure: impl FnOnce(&mut Config)) -> TestHub {
    let mut config = Config::for_tests();
    configure(&mut config);
    TestHub::with(config, None).await
}

/// A socket that sent `head` (and no more).
async fn send(addr: SocketAddr, head: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("write");
    s
}

/// Everything the server sends until it closes, within the wait bound; a reset counts as a
/// close (the server may drop a socket with bytes unread).
async fn until_closed(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(WAIT, s.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "still open after {WAIT:?}, having sent {:?}",
                    String::from_utf8_lossy(&out)
                )
            });
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn status(answer: &str) -> Option<u16> {
    answer.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test]
async fn an_upload_without_a_token_is_refused_before_its_body() {
    // Time-outs far beyond the wait bound: only the token check can answer in time.
    let th = hub_with(|c| {
        c.http_body_timeout_ms = 600_000;
        c.http_header_timeout_ms = 600_000;
    })
    .await;
    let mut s = send(
        th.addr(),
        "POST /api/profile/avatar HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n\
         Content-Length: 5000000\r\n\r\nPNG!",
    )
    .await;
    let answer = until_closed(&mut s).await;
    assert_eq!(status(&answer), Some(401), "{answer}");
    assert!(answer.contains("\"code\":\"unauthorized\""), "{answer}");

    // The same for a forged token, for the profile and for saved replies.
    for (method, path) in [
        ("POST", "/api/profile/avatar"),
        ("PUT", "/api/profile"),
        ("POST", "/api/canned-replies"),
    ] {
        let mut s = send(
            th.addr(),
            &format!(
                "{method} {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer forged\r\n\
                 Content-Length: 4000\r\n\r\n{{"
            ),
        )
        .await;
        let answer = until_closed(&mut s).await;
        assert_eq!(status(&answer), Some(401), "{method} {path}: {answer}");
    }
}

#[tokio::test]
async fn a_plain_operator_is_refused_a_saved_reply_before_its_body() {
    let th = hub_with(|c| c.http_body_timeout_ms = 600_000).await;
    let token = th.token("martin", "demo-pro", Role::Operator);
    let mut s = send(
        th.addr(),
        &format!(
            "POST /api/canned-replies HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n\
             Content-Length: 4000\r\n\r\n{{"
        ),
    )
    .await;
    let answer = until_closed(&mut s).await;
    assert_eq!(status(&answer), Some(403), "{answer}");
    assert!(answer.contains("role_required"), "{answer}");
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_refused_and_the_connection_closed() {
    let th = hub_with(|c| c.http_body_timeout_ms = 300).await;
    let token = th.token("martin", "demo-pro", Role::Operator);
    for (path, method, length) in [
        ("/api/profile", "PUT", 4096),
        ("/api/profile/avatar", "POST", 5_000_000),
    ] {
        let mut s = send(
            th.addr(),
            &format!(
                "{method} {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n\
                 Content-Length: {length}\r\n\r\n{{"
            ),
        )
        .await;
        let answer = until_closed(&mut s).await;
        assert_eq!(status(&answer), Some(408), "{path}: {answer}");
        assert!(
            answer.contains("\"code\":\"request_timeout\""),
            "{path}: {answer}"
        );
        assert!(answer.contains("application/problem+json"), "{answer}");
    }
    // A body that arrives is read as before.
    let saved = common::http_bin(
        th.addr(),
        "PUT",
        "/api/profile",
        &[("Authorization", &format!("Bearer {token}"))],
        br#"{"display_name": "Martin"}"#,
    )
    .await;
    assert_eq!(
        saved.status,
        200,
        "{}",
        String::from_utf8_lossy(&saved.body)
    );
}

#[tokio::test]
async fn a_header_that_never_ends_is_closed() {
    let th = hub_with(|c| c.http_header_timeout_ms = 300).await;
    let mut unfinished = send(th.addr(), "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ").await;
    let mut silent = TcpStream::connect(th.addr()).await.expect("connect");
    // Kept alive after an answer, then silent: the next header does not come either.
    let mut kept = send(th.addr(), "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await;
    for (what, s) in [
        ("an unfinished header", &mut unfinished),
        ("a silent connection", &mut silent),
        ("a kept-alive connection", &mut kept),
    ] {
        let answer = until_closed(s).await;
        assert!(status(&answer).is_none_or(|s| s == 200), "{what}: {answer}");
    }
    // A client that sends its header in time is served.
    let ok = common::http_bin(th.addr(), "GET", "/healthz", &[], b"").await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn one_address_holds_only_so_many_unfinished_requests() {
    let th = hub_with(|c| {
        c.http_pending_per_ip = 5;
        c.http_header_timeout_ms = 600_000;
    })
    .await;
    // WebSockets, once upgraded, are no longer pending (else nothing below would be served).
    let mut visitors = Vec::new();
    for _ in 0..6 {
        visitors.push(th.visitor().await);
    }
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(send(th.addr(), "GET /healthz HTTP/1.1\r\nHost: t\r\n").await);
    }
    let mut refused = TcpStream::connect(th.addr()).await.expect("connect");
    let answer = until_closed(&mut refused).await;
    assert_eq!(status(&answer), Some(429), "{answer}");
    assert!(answer.contains("rate_limited"), "{answer}");

    // One held request finishes: its place is free again (once the hub has seen it end, so
    // a few attempts may still be refused).
    let mut finished = held.pop().expect("held");
    finished.write_all(b"\r\n").await.expect("finish");
    drop(finished);
    let served = tokio::time::timeout(WAIT, async {
        loop {
            let mut s = send(
                th.addr(),
                "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            )
            .await;
            let answer = until_closed(&mut s).await;
            if status(&answer) == Some(200) {
                return answer;
            }
            assert_eq!(status(&answer), Some(429), "{answer}");
        }
    })
    .await
    .expect("a place frees up");
    assert!(served.contains("\"status\":\"ok\""), "{served}");
    drop(visitors);
}

#[tokio::test]
async fn behind_a_proxy_the_bound_is_the_proxys() {
    // With --client-ip-header every connection comes from the proxy: counting them per TCP
    // peer would refuse everyone, so the hub leaves the bound to the proxy.
    let th = hub_with(|c| {
        c.http_pending_per_ip = 2;
        c.http_header_timeout_ms = 600_000;
        c.client_ip_header = Some("X-Real-IP".into());
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(send(th.addr(), "GET /healthz HTTP/1.1\r\nHost: t\r\n").await);
    }
    let ok = common::http_bin(th.addr(), "GET", "/healthz", &[], b"").await;
    assert_eq!(ok.status, 200);
}
