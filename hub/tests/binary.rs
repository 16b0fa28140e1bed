//! The `hub` binary as a process: it prints where it listens, prints dev tokens, refuses to
//! start without a key, and on SIGTERM tells clients to reconnect and exits cleanly.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use common::Client;
use protocol::CloseCode;
use serde_json::json;

const HUB: &str = env!("CARGO_BIN_EXE_hub");

#[test]
fn dev_token_needs_dev_and_prints_a_valid_token() {
    let out = Command::new(HUB)
        .env("TC_FILE_STORE", "memory:")
        .args(["--dev", "dev-token", "martin"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).expect("utf8");
    let verifier = hub::auth::OperatorVerifier::new(
        hub::auth::OperatorKey::Hs256Secret(hub::dev::DEV_OPERATOR_SECRET.into()),
        None,
    )
    .expect("key");
    let claims = verifier.verify(token.trim()).expect("valid token");
    assert_eq!(
        (claims.sub.as_str(), claims.ws.as_str()),
        ("martin", "demo-pro")
    );

    let out = Command::new(HUB)
        .env("TC_FILE_STORE", "memory:")
        .args(["dev-token", "martin"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --dev"));
}

#[test]
fn without_a_key_or_dev_it_refuses_to_start_and_says_why() {
    let out = Command::new(HUB)
        .env("TC_FILE_STORE", "memory:")
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("TC_OPERATOR_JWT_SECRET")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no operator key"));
}

#[tokio::test]
async fn sigterm_closes_sockets_with_going_away_and_exits_zero() {
    let mut child = Command::new(HUB)
        .env("TC_FILE_STORE", "memory:")
        .args([
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--assistant-delay-ms",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn hub");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = tokio::sync::oneshot::channel();
    // Keep reading to the end: closing the pipe early would make the hub's next print fail.
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let _ = tx.send(first);
        for _ in lines {}
    });
    let line = rx.await.expect("first line");
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("hub listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("address");

    let mut visitor = Client::connect(addr, "/ws/widget").await;
    visitor
        .send(json!({"type": "hello", "protocol": 1, "workspace_id": "demo-pro"}))
        .await;
    assert_eq!(visitor.frame().await["type"], "welcome");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let (_, close) = visitor.closed().await;
    assert_eq!(
        close.map(|c| u16::from(c.code)),
        Some(CloseCode::GOING_AWAY.code)
    );
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(exit.success(), "{exit:?}");
}
