//! Reconnecting clients get exactly what they missed: nothing lost, nothing twice.

mod common;

use common::{TestHub, Visitor};
use protocol::Role;
use serde_json::{Value, json};

fn seqs(events: &Value) -> Vec<u64> {
    events
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect()
}

#[tokio::test]
async fn a_visitor_resumes_with_token_and_last_seq() {
    let th = TestHub::start().await;
    let mut visitor = th.visitor().await;
    let cid = visitor.conversation_id.clone();
    let mut martin = th.operator("martin", Role::Operator).await;
    martin.open(&cid).await;
    martin.takeover(&cid).await; // seq 1: joined
    assert_eq!(visitor.say("v1", "first").await, 2);
    let seen = visitor
        .client
        .until(|f| f["type"] == "event" && f["event"]["seq"] == 2)
        .await;
    assert_eq!(seen["event"]["text"], "first");
    let token = visitor.token.clone();
    visitor.client.close().await;

    // While the visitor is away: three operator messages.
    for i in 0..3 {
        let ack = martin
            .say(&cid, &format!("o{i}"), &format!("reply {i}"))
            .await;
        assert_eq!(ack["seq"], 3 + i);
    }

    let back = Visitor::connect(th.addr(), "demo-pro", Some(&token), Some(2)).await;
    assert_eq!(back.conversation_id, cid, "same conversation after reload");
    assert_eq!(seqs(&back.history["events"]), [3, 4, 5]);
    assert_eq!(back.history["control"]["holder"]["name"], "Human");

    // A reload that kept nothing but the token gets the whole history, once.
    let fresh = Visitor::connect(th.addr(), "demo-pro", Some(&token), None).await;
    assert_eq!(seqs(&fresh.history["events"]), [1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn an_operator_reopens_after_seq_and_live_events_continue_gap_free() {
    let th = TestHub::start().await;
    let mut visitor = th.visitor().await;
    let cid = visitor.conversation_id.clone();
    let mut martin = th.operator("martin", Role::Operator).await;
    martin.takeover(&cid).await;
    visitor.say("v1", "a").await;
    martin.close().await;
    visitor.say("v2", "b").await;
    visitor.say("v3", "c").await;

    let mut again = th.operator("martin", Role::Operator).await;
    again
        .send(json!({"type": "open", "conversation_id": cid, "after_seq": 2}))
        .await;
    let h = again.until_type("history").await;
    assert_eq!(seqs(&h["events"]), [3, 4]);
    // Live events follow on from the history without a gap or a repeat.
    visitor.say("v4", "d").await;
    let live = again.until_type("event").await;
    assert_eq!(live["event"]["seq"], 5);
}

#[tokio::test]
async fn resending_a_client_id_never_duplicates() {
    let th = TestHub::start().await;
    let mut visitor = th.visitor().await;
    let cid = visitor.conversation_id.clone();
    let mut martin = th.operator("martin", Role::Operator).await;
    martin.takeover(&cid).await; // keep the AI out of the history
    let first = visitor.say("same-id", "hello").await;
    let again = visitor.say("same-id", "hello").await;
    assert_eq!(first, again);
    let ack1 = martin.say(&cid, "op-same", "hi").await;
    let ack2 = martin.say(&cid, "op-same", "hi").await;
    assert_eq!(ack1["seq"], ack2["seq"]);
    let h = martin.open(&cid).await;
    assert_eq!(seqs(&h["events"]), [1, 2, 3]);
}

#[tokio::test]
async fn a_visitor_token_for_a_vanished_conversation_starts_a_new_one() {
    // The token is valid, but this in-memory hub never saw its conversation (as after a restart).
    let mut config = hub::Config::for_tests();
    config.visitor_token_secret = Some("shared".into());
    let restarted = TestHub::with(config, None).await;
    let token = restarted.hub().visitor_tokens().issue(
        "cv_gone",
        "demo-pro",
        "vi_returning",
        hub::util::now_secs(),
    );
    let v = Visitor::connect(restarted.addr(), "demo-pro", Some(&token), Some(7)).await;
    assert_ne!(v.conversation_id, "cv_gone");
    assert_eq!(seqs(&v.history["events"]), Vec::<u64>::new());
    // Still the same visitor: the new token names them, and so does the label.
    let claims = restarted
        .hub()
        .visitor_tokens()
        .verify(&v.token)
        .expect("token");
    assert_eq!(claims.visitor_id(), "vi_returning");
    assert_eq!(
        v.welcome["visitor_label"],
        hub::util::visitor_label("vi_returning")
    );
}
