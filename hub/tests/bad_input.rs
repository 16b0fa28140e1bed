//! The bad-input table: each hostile or broken input gets its documented error frame or close
//! code, the hub stays up, and nothing already accepted is lost.

mod common;

use common::{Client, TestHub, Visitor, http};
use protocol::{CloseCode, PROTOCOL_VERSION, Role, limits};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// A visitor with one accepted message, for checking that nothing accepted is lost.
async fn visitor_with_history(th: &TestHub) -> Visitor {
    let mut v = th.visitor().await;
    let mut op = th.operator("martin", Role::Operator).await;
    op.takeover(&v.conversation_id).await; // keeps the AI out of the way: seq 1
    assert_eq!(v.say("keep", "accepted before").await, 2);
    v
}

async fn still_serving(th: &TestHub, v: &mut Visitor) {
    still_serving_as(th, v, Some(3)).await;
}

/// The same socket still works (its next message stored as `seq`, when the test knows it), and
/// of the people's messages only the earlier one and that one exist (the AI may answer after a
/// hand-back).
async fn still_serving_as(th: &TestHub, v: &mut Visitor, seq: Option<u64>) {
    let stored = v.say("after", "still here").await;
    if let Some(seq) = seq {
        assert_eq!(stored, seq);
    }
    let mut op = th.operator("nora", Role::Operator).await;
    let h = op.open(&v.conversation_id).await;
    let texts: Vec<&str> = h["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["author"]["kind"] != "ai")
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert_eq!(texts, ["accepted before", "still here"]);
}

async fn error_after(v: &mut Visitor, raw: String) -> Value {
    v.client.send_text(raw).await;
    v.client.until_type("error").await
}

#[tokio::test]
async fn malformed_json_gets_bad_frame() {
    let th = TestHub::start().await;
    let mut v = visitor_with_history(&th).await;
    let e = error_after(&mut v, "{\"type\": \"message\", ".into()).await;
    assert_eq!(e["code"], "bad_frame");
    assert_eq!(e["retryable"], false);
    still_serving(&th, &mut v).await;
}

#[tokio::test]
async fn unknown_frame_type_is_named() {
    let th = TestHub::start().await;
    let mut v = visitor_with_history(&th).await;
    let e = error_after(&mut v, json!({"type": "self_destruct"}).to_string()).await;
    assert_eq!(e["code"], "unknown_frame_type");
    assert!(
        e["message"]
            .as_str()
            .expect("msg")
            .contains("self_destruct")
    );
    still_serving(&th, &mut v).await;
}

#[tokio::test]
async fn frame_over_the_size_limit_is_refused() {
    let th = TestHub::start().await;
    let mut v = visitor_with_history(&th).await;
    let big =
        json!({"type": "message", "client_id": "big", "text": "x".repeat(limits::MAX_FRAME_BYTES)});
    let e = error_after(&mut v, big.to_string()).await;
    assert_eq!(e["code"], "frame_too_large");
    still_serving(&th, &mut v).await;
}

#[tokio::test]
async fn message_text_over_its_limit_is_refused() {
    let th = TestHub::start().await;
    let mut v = visitor_with_history(&th).await;
    let long = json!({"type": "message", "client_id": "long", "text": "y".repeat(limits::MAX_MESSAGE_CHARS + 1)});
    let e = error_after(&mut v, long.to_string()).await;
    assert_eq!(e["code"], "message_too_long");
    assert_eq!(
        e["client_id"], "long",
        "the client can tell which message: {e}"
    );
    still_serving(&th, &mut v).await;
}

#[tokio::test]
async fn empty_message_is_refused() {
    let th = TestHub::start().await;
    let mut v = visitor_with_history(&th).await;
    // Spaces, and text that shows nothing either: zero-width spaces, joiners, a bare combining
    // mark, a byte-order mark. None is stored or answered.
    for (i, text) in [
        "   ",
        "\u{200b}\u{200b} ",
        "\u{200d}\u{2060}",
        "\u{301}",
        "\u{feff}\u{a0}",
    ]
    .into_iter()
    .enumerate()
    {
        let e = error_after(
            &mut v,
            json!({"type": "message", "client_id": format!("e{i}"), "text": text}).to_string(),
        )
        .await;
        assert_eq!(e["code"], "empty_message", "{text:?}");
    }
    // An operator's invisible message is refused the same way.
    let mut op = th.operator("martin", Role::Operator).await;
    assert_eq!(op.takeover(&v.conversation_id).await["type"], "control");
    op.send(json!({"type": "message", "conversation_id": v.conversation_id, "client_id": "o1", "text": "\u{200b}\u{200b} "}))
        .await;
    assert_eq!(op.until_type("error").await["code"], "empty_message");
    assert_eq!(
        op.release(&v.conversation_id, false).await["type"],
        "control"
    );
    still_serving_as(&th, &mut v, None).await;
}

#[tokio::test]
async fn unknown_conversation_id_is_not_found() {
    let th = TestHub::start().await;
    let mut op = th.operator("martin", Role::Operator).await;
    let e = op.takeover("cv_doesnotexist").await;
    assert_eq!(e["code"], "conversation_not_found");
    op.send(json!({"type": "open", "conversation_id": "cv_doesnotexist"}))
        .await;
    assert_eq!(
        op.until_type("error").await["code"],
        "conversation_not_found"
    );
}

#[tokio::test]
async fn another_workspaces_conversation_looks_like_no_conversation() {
    let th = TestHub::start().await;
    let mut v = visitor_with_history(&th).await;
    let cid = v.conversation_id.clone();
    let mut bob = th.operator_in("bob", "demo-basic", Role::Owner).await;
    for frame in [
        json!({"type": "open", "conversation_id": cid}),
        json!({"type": "takeover", "conversation_id": cid}),
        json!({"type": "release", "conversation_id": cid, "force": true}),
        json!({"type": "message", "conversation_id": cid, "client_id": "x", "text": "hi"}),
        json!({"type": "typing", "conversation_id": cid, "active": true}),
    ] {
        bob.send(frame.clone()).await;
        let e = bob.until_type("error").await;
        assert_eq!(e["code"], "conversation_not_found", "{frame}");
    }
    still_serving(&th, &mut v).await;
}

#[tokio::test]
async fn a_visitor_sending_operator_frames_is_forbidden() {
    let th = TestHub::start().await;
    let mut v = visitor_with_history(&th).await;
    let cid = v.conversation_id.clone();
    for frame in [
        json!({"type": "takeover", "conversation_id": cid}),
        json!({"type": "release", "conversation_id": cid, "force": true}),
        json!({"type": "subscribe_online"}),
    ] {
        let e = error_after(&mut v, frame.to_string()).await;
        assert_eq!(e["code"], "forbidden", "{frame}");
    }
    still_serving(&th, &mut v).await;
}

#[tokio::test]
async fn binary_frames_are_refused() {
    let th = TestHub::start().await;
    let mut v = visitor_with_history(&th).await;
    v.client
        .send_raw(Message::binary(vec![0u8, 159, 146, 150]))
        .await;
    assert_eq!(v.client.until_type("error").await["code"], "bad_frame");
    still_serving(&th, &mut v).await;
}

#[tokio::test]
async fn a_second_hello_is_refused() {
    let th = TestHub::start().await;
    let mut v = visitor_with_history(&th).await;
    let e = error_after(
        &mut v,
        json!({"type": "hello", "protocol": 1, "workspace_id": "demo-pro"}).to_string(),
    )
    .await;
    assert_eq!(e["code"], "already_handshaken");
    still_serving(&th, &mut v).await;
}

#[tokio::test]
async fn a_message_over_the_transport_cap_closes_only_that_socket() {
    let th = TestHub::start().await;
    let mut v = visitor_with_history(&th).await;
    let mut rogue = th.visitor().await;
    rogue
        .client
        .send_text("z".repeat(limits::MAX_FRAME_BYTES * 8))
        .await;
    let (_, close) = rogue.client.closed().await;
    assert_eq!(
        close.map(|c| u16::from(c.code)),
        Some(CloseCode::MESSAGE_TOO_BIG.code)
    );
    still_serving(&th, &mut v).await;
}

/// Connect and send a first frame; return the frames and the close code.
async fn handshake(th: &TestHub, path: &str, hello: Value) -> (Vec<Value>, u16) {
    let mut c = Client::connect(th.addr(), path).await;
    c.send(hello).await;
    let (frames, close) = c.closed().await;
    (
        frames,
        close.map(|c| u16::from(c.code)).expect("a close frame"),
    )
}

fn operator_hello(token: &str) -> Value {
    json!({"type": "hello", "protocol": PROTOCOL_VERSION, "token": token})
}

#[tokio::test]
async fn a_missing_operator_token_is_unauthorized() {
    let th = TestHub::start().await;
    let (frames, code) = handshake(&th, "/ws/operator", operator_hello("")).await;
    assert_eq!(frames[0]["code"], "unauthorized");
    assert_eq!(code, CloseCode::UNAUTHORIZED.code);
    let (frames, code) =
        handshake(&th, "/ws/operator", json!({"type": "hello", "protocol": 1})).await;
    assert_eq!(frames[0]["code"], "invalid_frame");
    assert_eq!(code, CloseCode::PROTOCOL_ERROR.code);
}

#[tokio::test]
async fn an_expired_operator_token_says_so() {
    let th = TestHub::start().await;
    let token = th.token_with_exp(
        "martin",
        "demo-pro",
        Role::Operator,
        hub::util::now_secs() - 3600,
    );
    let (frames, code) = handshake(&th, "/ws/operator", operator_hello(&token)).await;
    assert_eq!(frames[0]["code"], "token_expired");
    assert_eq!(code, CloseCode::TOKEN_EXPIRED.code);
}

#[tokio::test]
async fn a_forged_operator_token_is_unauthorized() {
    let th = TestHub::start().await;
    let token = th.token("martin", "demo-pro", Role::Owner);
    // Flip the signature's last character: same claims, wrong signature.
    let mut forged = token.clone();
    let last = forged.pop().expect("char");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let (frames, code) = handshake(&th, "/ws/operator", operator_hello(&forged)).await;
    assert_eq!(frames[0]["code"], "unauthorized");
    assert_eq!(code, CloseCode::UNAUTHORIZED.code);
}

#[tokio::test]
async fn a_visitor_token_is_never_an_operator_token() {
    let th = TestHub::start().await;
    let v = th.visitor().await;
    let (frames, code) = handshake(&th, "/ws/operator", operator_hello(&v.token)).await;
    assert_eq!(frames[0]["code"], "unauthorized");
    assert_eq!(code, CloseCode::UNAUTHORIZED.code);
}

#[tokio::test]
async fn an_operator_token_is_never_a_visitor_token() {
    let th = TestHub::start().await;
    let token = th.token("martin", "demo-pro", Role::Owner);
    let hello =
        json!({"type": "hello", "protocol": 1, "workspace_id": "demo-pro", "visitor_token": token});
    let (frames, code) = handshake(&th, "/ws/widget", hello).await;
    assert_eq!(frames[0]["code"], "unauthorized");
    assert_eq!(code, CloseCode::UNAUTHORIZED.code);
}

#[tokio::test]
async fn a_visitor_token_for_another_workspace_is_unauthorized() {
    let th = TestHub::start().await;
    let v = th.visitor().await;
    let hello = json!({"type": "hello", "protocol": 1, "workspace_id": "demo-basic", "visitor_token": v.token});
    let (frames, code) = handshake(&th, "/ws/widget", hello).await;
    assert_eq!(frames[0]["code"], "unauthorized");
    assert_eq!(code, CloseCode::UNAUTHORIZED.code);
}

#[tokio::test]
async fn an_unknown_workspace_is_refused() {
    let th = TestHub::start().await;
    let hello = json!({"type": "hello", "protocol": 1, "workspace_id": "nope"});
    let (frames, code) = handshake(&th, "/ws/widget", hello).await;
    assert_eq!(frames[0]["code"], "workspace_not_found");
    assert_eq!(code, CloseCode::WORKSPACE_NOT_FOUND.code);
}

#[tokio::test]
async fn an_unsupported_protocol_version_is_refused() {
    let th = TestHub::start().await;
    let hello = json!({"type": "hello", "protocol": 99, "workspace_id": "demo-pro"});
    let (frames, code) = handshake(&th, "/ws/widget", hello).await;
    assert_eq!(frames[0]["code"], "unsupported_protocol");
    assert_eq!(code, CloseCode::UNSUPPORTED_PROTOCOL.code);
}

#[tokio::test]
async fn a_first_frame_other_than_hello_is_refused() {
    let th = TestHub::start().await;
    let (frames, code) =
        handshake(&th, "/ws/widget", json!({"type": "typing", "active": true})).await;
    assert_eq!(frames[0]["code"], "handshake_required");
    assert_eq!(code, CloseCode::PROTOCOL_ERROR.code);
}

#[tokio::test]
async fn a_silent_socket_is_closed_after_the_handshake_timeout() {
    let mut config = hub::Config::for_tests();
    config.handshake_timeout_ms = 50;
    let th = TestHub::with(config, None).await;
    let mut c = Client::connect(th.addr(), "/ws/widget").await;
    let (_, close) = c.closed().await;
    assert_eq!(
        close.map(|c| u16::from(c.code)),
        Some(CloseCode::HANDSHAKE_TIMEOUT.code)
    );
}

#[tokio::test]
async fn health_ready_and_dev_routes() {
    let th = TestHub::start().await;
    assert_eq!(http(th.addr(), "GET", "/healthz", None).await.0, 200);
    assert_eq!(http(th.addr(), "GET", "/readyz", None).await.0, 200);
    let (status, body) = http(th.addr(), "GET", "/dev/operators", None).await;
    assert_eq!(status, 200);
    assert!(body.contains("martin"));
    let (status, body) = http(
        th.addr(),
        "POST",
        "/dev/login",
        Some(r#"{"operator_id":"martin"}"#),
    )
    .await;
    assert_eq!(status, 200);
    let token: Value = serde_json::from_str(&body).expect("json");
    assert!(
        th.hub()
            .operator_sign_in(token["token"].as_str().expect("token"))
            .is_ok()
    );
    assert_eq!(
        http(
            th.addr(),
            "POST",
            "/dev/login",
            Some(r#"{"operator_id":"mallory"}"#)
        )
        .await
        .0,
        404
    );
    assert_eq!(
        http(th.addr(), "POST", "/dev/login", Some("{not json"))
            .await
            .0,
        400
    );
    let (status, page) = http(th.addr(), "GET", "/dev/chat", None).await;
    assert_eq!(status, 200);
    assert!(page.contains("/ws/widget"));
    assert_eq!(http(th.addr(), "GET", "/nope", None).await.0, 404);
}

#[tokio::test]
async fn dev_routes_do_not_exist_without_dev() {
    let mut config = hub::Config::for_tests();
    config.dev = false;
    config.operator_jwt_secret = Some("s3cret".into());
    let th = TestHub::with(config, None).await;
    assert_eq!(http(th.addr(), "GET", "/dev/operators", None).await.0, 404);
    assert_eq!(
        http(
            th.addr(),
            "POST",
            "/dev/login",
            Some(r#"{"operator_id":"martin"}"#)
        )
        .await
        .0,
        404
    );
    // And the demo workspaces are not there either.
    let hello = json!({"type": "hello", "protocol": 1, "workspace_id": "demo-pro"});
    let (frames, _) = handshake(&th, "/ws/widget", hello).await;
    assert_eq!(frames[0]["code"], "workspace_not_found");
}

#[tokio::test]
async fn shutdown_tells_every_client_to_reconnect() {
    let th = TestHub::start().await;
    let mut v = th.visitor().await;
    let mut op = th.operator("martin", Role::Operator).await;
    let running = th.running;
    let drained = tokio::spawn(running.shutdown());
    for c in [&mut v.client, &mut op] {
        let (_, close) = c.closed().await;
        assert_eq!(
            close.map(|c| u16::from(c.code)),
            Some(CloseCode::GOING_AWAY.code)
        );
    }
    assert!(drained.await.expect("join"), "drained within the grace");
}

#[tokio::test]
async fn the_dashboard_is_served_with_security_headers() {
    let dir = std::env::temp_dir().join(hub::util::random_id("spa-"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("index.html"), "<!doctype html><title>x</title>").expect("write");
    let mut config = hub::Config::for_tests();
    config.static_dir = Some(dir.clone());
    let th = TestHub::with(config, None).await;
    for path in ["/", "/conversations/some-client-route"] {
        let head = common::http_raw(th.addr(), "HEAD", path, &[], None).await;
        assert!(head.starts_with("HTTP/1.1 200"), "HEAD {path}: {head}");
        let raw = common::http_raw(th.addr(), "GET", path, &[], None).await;
        assert!(raw.starts_with("HTTP/1.1 200"), "{path}: {raw}");
        let lower = raw.to_lowercase();
        assert!(
            lower.contains("content-security-policy: default-src 'self'"),
            "{raw}"
        );
        assert!(lower.contains("frame-ancestors 'none'"));
        assert!(lower.contains("x-frame-options: deny"));
        assert!(lower.contains("x-content-type-options: nosniff"));
    }
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn the_widget_script_is_embeddable_anywhere_and_always_fresh() {
    let dir = std::env::temp_dir().join(hub::util::random_id("spa-"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("index.html"), "<!doctype html>").expect("write");
    std::fs::write(dir.join("widget.js"), "(()=>{})();").expect("write");
    let mut config = hub::Config::for_tests();
    config.static_dir = Some(dir.clone());
    let th = TestHub::with(config, None).await;
    let raw = common::http_raw(th.addr(), "GET", "/widget.js", &[], None)
        .await
        .to_lowercase();
    assert!(raw.starts_with("http/1.1 200"), "{raw}");
    assert!(raw.contains("cache-control: no-cache"), "{raw}");
    assert!(raw.contains("cross-origin-resource-policy: cross-origin"));
    assert!(raw.contains("javascript"), "served as a script: {raw}");
    assert!(
        !raw.contains("frame-ancestors"),
        "the dashboard's page policy is not the widget's"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn a_message_flood_is_rate_limited_with_a_retry_time_and_nothing_is_lost() {
    let mut config = hub::Config::for_tests();
    config.message_rate = 1.0;
    config.message_burst = 5;
    config.typing_rate = 1.0;
    config.typing_burst = 2;
    let th = TestHub::with(config, None).await;
    let mut v = th.visitor().await;
    let mut op = th.operator("martin", Role::Operator).await;
    op.takeover(&v.conversation_id).await; // keep the AI out of the history
    for i in 0..5 {
        v.client
            .send(json!({"type": "message", "client_id": format!("m{i}"), "text": "hi"}))
            .await;
    }
    v.client
        .send(json!({"type": "message", "client_id": "m5", "text": "one too many"}))
        .await;
    let refused = v
        .client
        .until(|f| f["type"] == "error" && f["client_id"] == "m5")
        .await;
    assert_eq!(refused["code"], "rate_limited");
    assert_eq!(refused["retryable"], true);
    let wait = refused["retry_after_ms"].as_u64().expect("retry_after_ms");
    assert!(wait > 0 && wait <= 1000, "{wait}");
    // The five within the burst are stored; the refused one is not.
    let h = op.open(&v.conversation_id).await;
    let ids: Vec<&str> = h["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["client_id"].as_str())
        .collect();
    assert_eq!(ids, ["m0", "m1", "m2", "m3", "m4"]);
    // Typing has its own bucket.
    for _ in 0..2 {
        v.client
            .send(json!({"type": "typing", "active": true}))
            .await;
    }
    v.client
        .send(json!({"type": "typing", "active": false}))
        .await;
    let e = v.client.until_type("error").await;
    assert_eq!(e["code"], "rate_limited");
    assert!(e["message"].as_str().expect("message").contains("typing"));
}

async fn widget_hello_from(
    addr: std::net::SocketAddr,
    origin: Option<&str>,
) -> (Vec<Value>, Option<u16>) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{addr}/ws/widget")
        .into_client_request()
        .expect("request");
    if let Some(o) = origin {
        req.headers_mut()
            .insert("origin", o.parse().expect("header"));
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("connect");
    let hello = json!({"type": "hello", "protocol": 1, "workspace_id": "shop"});
    ws.send(Message::text(hello.to_string()))
        .await
        .expect("send");
    let mut frames = Vec::new();
    while let Some(Ok(m)) = tokio::time::timeout(common::WAIT, ws.next())
        .await
        .expect("answer")
    {
        match m {
            Message::Text(t) => {
                let f: Value = serde_json::from_str(&t).expect("json");
                let done = f["type"] == "history";
                frames.push(f);
                if done {
                    return (frames, None);
                }
            }
            Message::Close(c) => return (frames, c.map(|c| u16::from(c.code))),
            _ => {}
        }
    }
    (frames, None)
}

#[tokio::test]
async fn a_widget_from_an_origin_the_workspace_did_not_allow_is_refused() {
    let dir = std::env::temp_dir().join(hub::util::random_id("ws-"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("workspaces.json");
    std::fs::write(
        &file,
        r#"[{"id": "shop", "name": "Shop", "plan": "pro", "allowed_origins": ["https://Shop.example/"]}]"#,
    )
    .expect("write");
    let mut config = hub::Config::for_tests();
    config.workspaces = Some(file);
    let th = TestHub::with(config, None).await;

    let (frames, close) = widget_hello_from(th.addr(), Some("https://evil.example")).await;
    assert_eq!(frames[0]["code"], "forbidden");
    assert!(
        frames[0]["message"]
            .as_str()
            .expect("message")
            .contains("evil.example")
    );
    assert_eq!(close, Some(CloseCode::UNAUTHORIZED.code));
    let (frames, _) = widget_hello_from(th.addr(), None).await;
    assert_eq!(
        frames[0]["code"], "forbidden",
        "no Origin at all is refused too"
    );

    let (frames, close) = widget_hello_from(th.addr(), Some("https://shop.example")).await;
    assert_eq!((frames[0]["type"].as_str(), close), (Some("welcome"), None));
    std::fs::remove_dir_all(dir).ok();
}
