//! Control returns to the AI by itself when the holder is gone or idle, announced beforehand,
//! exactly once.

mod common;

use common::TestHub;
use protocol::Role;
use serde_json::Value;

fn hub_config(grace_ms: u64, idle_ms: u64, warn_ms: u64) -> hub::Config {
    let mut c = hub::Config::for_tests();
    c.holder_grace_ms = grace_ms;
    c.holder_idle_ms = idle_ms;
    c.holder_warn_ms = warn_ms;
    c.sweep_interval_ms = 20;
    c
}

fn left_events(h: &Value) -> Vec<String> {
    h["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "operator_left")
        .map(|e| e["reason"].as_str().expect("reason").to_owned())
        .collect()
}

#[tokio::test]
async fn a_holder_who_disconnects_is_released_after_the_grace() {
    let th = TestHub::with(hub_config(300, 3_600_000, 1_000), None).await;
    let mut visitor = th.visitor().await;
    let cid = visitor.conversation_id.clone();
    let mut martin = th.operator("martin", Role::Operator).await;
    assert_eq!(martin.takeover(&cid).await["type"], "control");
    visitor.client.until_event("operator_joined").await;
    martin.close().await;

    let left = visitor.client.until_event("operator_left").await;
    assert_eq!(left["reason"], "disconnected");
    assert_eq!(left["operator"]["name"], "Human");
    // The AI answers again, and the release happened once.
    visitor.say("v1", "How long does shipping take?").await;
    visitor
        .client
        .until(|f| f["type"] == "event" && f["event"]["author"]["kind"] == "ai")
        .await;
    let mut nora = th.operator("nora", Role::Operator).await;
    assert_eq!(left_events(&nora.open(&cid).await), ["disconnected"]);
}

#[tokio::test]
async fn a_holder_who_reconnects_within_the_grace_keeps_control() {
    let th = TestHub::with(hub_config(600, 3_600_000, 1_000), None).await;
    let visitor = th.visitor().await;
    let cid = visitor.conversation_id.clone();
    let mut martin = th.operator("martin", Role::Operator).await;
    martin.takeover(&cid).await;
    martin.close().await;
    let mut again = th.operator("martin", Role::Operator).await;
    // Let well over the grace pass, counted in housekeeping rounds (20 ms apart here).
    let start = th.hub().metrics().snapshot().housekeeping_rounds;
    th.hub()
        .metrics()
        .wait_until(|m| m.housekeeping_rounds >= start + 60)
        .await;
    // Still the holder: writing works, and nothing was released.
    let ack = again.say(&cid, "o1", "back again").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(left_events(&again.open(&cid).await), Vec::<String>::new());
}

#[tokio::test]
async fn an_idle_holder_is_warned_then_released() {
    let th = TestHub::with(hub_config(60_000, 600, 400), None).await;
    let mut visitor = th.visitor().await;
    let cid = visitor.conversation_id.clone();
    let mut martin = th.operator("martin", Role::Operator).await;
    martin.open(&cid).await;
    martin.takeover(&cid).await;
    let warning = martin.until_type("control_warning").await;
    assert_eq!(warning["holder_id"], "martin");
    assert_eq!(warning["reason"], "idle");
    let left = martin.until_event("operator_left").await;
    assert_eq!(left["reason"], "idle");
    // The visitor never sees the warning, only the notice.
    let frames_until_left = {
        let mut seen = Vec::new();
        loop {
            let f = visitor.client.frame().await;
            let done = f["type"] == "event" && f["event"]["type"] == "operator_left";
            seen.push(f);
            if done {
                break seen;
            }
        }
    };
    assert!(
        !frames_until_left
            .iter()
            .any(|f| f["type"] == "control_warning")
    );
}
