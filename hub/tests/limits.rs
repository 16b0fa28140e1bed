//! Limits per client IP and per workspace (the per-connection ones are in `bad_input.rs`).

mod common;

use common::{TestHub, Visitor};
use hub::Config;
use serde_json::json;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Error as WsError;

/// Open a widget socket; the HTTP status when the upgrade is refused.
async fn upgrade(th: &TestHub, headers: &[(&str, &str)]) -> Result<(), (u16, Option<String>)> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}/ws/widget", th.addr())
        .into_client_request()
        .expect("request");
    for (k, v) in headers {
        req.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes())
                .expect("name"),
            v.parse().expect("value"),
        );
    }
    match connect_async(req).await {
        Ok(_) => Ok(()),
        Err(WsError::Http(res)) => Err((
            res.status().as_u16(),
            res.headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        )),
        Err(e) => panic!("unexpected: {e}"),
    }
}

fn limited(rate: f64, burst: u32) -> Config {
    let mut c = Config::for_tests();
    c.connect_rate = rate;
    c.connect_burst = burst;
    c
}

#[tokio::test]
async fn a_connect_flood_from_one_ip_is_refused_before_the_upgrade() {
    let th = TestHub::with(limited(0.5, 3), None).await;
    for _ in 0..3 {
        assert_eq!(upgrade(&th, &[]).await, Ok(()));
    }
    let (status, retry) = upgrade(&th, &[]).await.expect_err("refused");
    assert_eq!(status, 429);
    let retry: u64 = retry.expect("Retry-After").parse().expect("secs");
    assert!((1..=2).contains(&retry), "{retry}");
    let (_, metrics) = common::http(th.addr(), "GET", "/metrics", None).await;
    assert!(metrics.contains("tc_connects_refused_total 1"), "{metrics}");
}

#[tokio::test]
async fn behind_a_proxy_each_client_ip_has_its_own_budget() {
    let mut config = limited(0.5, 2);
    config.client_ip_header = Some("x-real-ip".into());
    let th = TestHub::with(config, None).await;
    let a = [("x-real-ip", "203.0.113.7")];
    let b = [("x-real-ip", "198.51.100.9")];
    assert_eq!(upgrade(&th, &a).await, Ok(()));
    assert_eq!(upgrade(&th, &a).await, Ok(()));
    assert_eq!(upgrade(&th, &a).await.map_err(|e| e.0), Err(429));
    assert_eq!(
        upgrade(&th, &b).await,
        Ok(()),
        "another visitor behind the same proxy"
    );
    // X-Forwarded-For style lists: the client is the first entry.
    let c = [("x-real-ip", "192.0.2.1, 10.0.0.1")];
    assert_eq!(upgrade(&th, &c).await, Ok(()));
}

#[tokio::test]
async fn without_the_proxy_setting_a_forged_header_changes_nothing() {
    let th = TestHub::with(limited(0.5, 1), None).await;
    assert_eq!(upgrade(&th, &[("x-real-ip", "203.0.113.1")]).await, Ok(()));
    assert_eq!(
        upgrade(&th, &[("x-real-ip", "203.0.113.2")])
            .await
            .map_err(|e| e.0),
        Err(429),
        "the header is ignored: both came from 127.0.0.1"
    );
}

#[tokio::test]
async fn a_flood_on_one_workspace_is_limited_and_nothing_refused_is_stored() {
    let mut config = Config::for_tests();
    config.workspace_message_rate = 0.5;
    config.workspace_message_burst = 4;
    let th = TestHub::with(config, None).await;
    // Many sockets, one workspace: the per-connection limit alone would not stop this.
    let mut visitors = Vec::new();
    for _ in 0..5 {
        visitors.push(th.visitor().await);
    }
    let mut stored = 0;
    let mut refused = Vec::new();
    for (i, v) in visitors.iter_mut().enumerate() {
        v.client
            .send(json!({"type": "message", "client_id": format!("c{i}"), "text": "hi"}))
            .await;
        let f = v
            .client
            .until(|f| f["type"] == "ack" || f["type"] == "error")
            .await;
        if f["type"] == "ack" {
            stored += 1;
        } else {
            refused.push(f);
        }
    }
    assert_eq!(stored, 4);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["code"], "rate_limited");
    assert_eq!(refused[0]["client_id"], "c4");
    assert!(
        refused[0]["retry_after_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 0)
    );
    // Another workspace is not affected.
    let mut other = Visitor::connect(th.addr(), "demo-basic", None, None).await;
    assert_eq!(other.say("b1", "hello").await, 1);
    // The refused message was not stored: the conversation's history is empty.
    let last = visitors.pop().expect("visitor");
    let back = Visitor::connect(th.addr(), "demo-pro", Some(&last.token), None).await;
    assert_eq!(back.history["events"].as_array().map(Vec::len), Some(0));
}
