//! The whole take-control story over real WebSockets, on one hub with in-memory backends.

mod common;

use common::{GatedAssistant, TestHub};
use hub::Config;
use protocol::Role;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitor_ai_takeover_operator_end_ai_again() {
    let (assistant, mut started) = GatedAssistant::new();
    let th = TestHub::with(Config::for_tests(), Some(assistant.clone())).await;

    // An operator watches the Online list.
    let mut martin = th.operator("martin", Role::Operator).await;
    martin.send(json!({"type": "subscribe_online"})).await;
    let snapshot = martin.until_type("online_view").await;
    assert_eq!(snapshot["ids"], json!([]));

    // A visitor arrives and the conversation appears without refresh.
    let mut visitor = th.visitor().await;
    let cid = visitor.conversation_id.clone();
    let row = martin.until_row(|c| c["id"] == cid.as_str()).await;
    assert_eq!(row["control"]["holder"]["kind"], "ai");
    assert_eq!(row["visitor_online"], true);

    // Visitor ↔ AI.
    assistant.permits.add_permits(1);
    assert_eq!(visitor.say("v1", "Where is my parcel?").await, 1);
    let ai = visitor.client.until_event("message").await;
    assert_eq!(ai["author"]["kind"], "visitor");
    let ai = visitor.client.until_event("message").await;
    assert_eq!(ai["author"]["kind"], "ai");
    assert_eq!(ai["seq"], 2);
    started.recv().await.expect("assistant ran");

    // The list row updates with the last message.
    let row = martin
        .until_row(|c| c["id"] == cid.as_str() && c["last_seq"] == 2)
        .await;
    assert_eq!(row["last_message"]["author"], "ai");

    // The operator opens the history.
    let history = martin.open(&cid).await;
    let seqs: Vec<_> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["seq"].clone())
        .collect();
    assert_eq!(seqs, [json!(1), json!(2)]);

    // The visitor asks again; the AI is generating when Martin takes over.
    assert_eq!(visitor.say("v2", "Hello? Anyone?").await, 3);
    started.recv().await.expect("generation started");
    let control = martin.takeover(&cid).await;
    assert_eq!(control["type"], "control", "{control}");
    assert_eq!(control["control"]["holder"]["id"], "martin");

    // The visitor sees who joined: no profile yet, so "Human", and never the account name.
    let joined = visitor.client.until_event("operator_joined").await;
    assert_eq!(joined["operator"]["name"], "Human");
    assert!(!joined.to_string().contains("martin account"));

    // Let the in-flight generation finish: it must be cancelled or fenced, never delivered.
    assistant.permits.add_permits(1);
    th.hub()
        .metrics()
        .wait_until(|m| m.ai_cancelled + m.ai_fenced == 1)
        .await;

    // A second operator is refused, with the holder named.
    let mut nora = th.operator("nora", Role::Operator).await;
    let refused = nora.takeover(&cid).await;
    assert_eq!(refused["code"], "already_controlled");
    assert_eq!(refused["holder"]["id"], "martin");
    assert!(
        refused["message"]
            .as_str()
            .expect("text")
            .contains("martin account")
    );

    // Operator messages reach the visitor; visitor messages do not wake the AI.
    let ack = martin.say(&cid, "o1", "Hi, I'm looking into it.").await;
    assert_eq!(ack["type"], "ack");
    let msg = visitor.client.until_event("message").await;
    assert_eq!(msg["author"]["kind"], "operator");
    assert_eq!(msg["text"], "Hi, I'm looking into it.");
    let seq = visitor.say("v3", "Thanks!").await;
    let ended = martin.release(&cid, false).await;
    assert_eq!(ended["control"]["holder"]["kind"], "ai");

    // Everything between the takeover and End: no AI message at all.
    let left = visitor
        .client
        .until(|f| f["type"] == "event" && f["event"]["type"] == "operator_left")
        .await;
    assert_eq!(left["event"]["reason"], "ended");
    // The human left "Thanks!" unanswered: after End the AI picks it up, it does not stall.
    assistant.permits.add_permits(1);
    let resumed = visitor
        .client
        .until(|f| f["type"] == "event" && f["event"]["author"]["kind"] == "ai")
        .await;
    assert!(resumed["event"]["seq"].as_u64() > left["event"]["seq"].as_u64());
    martin
        .send(json!({"type": "open", "conversation_id": cid, "after_seq": 3}))
        .await;
    let h = martin.until(|f| f["type"] == "history").await;
    let kinds = common::event_kinds(&h["events"]);
    assert_eq!(
        kinds,
        [
            "operator_joined:",
            "message:operator",
            "message:visitor",
            "operator_left:",
            "message:ai"
        ],
        "seq {seq}"
    );
    assert_eq!(th.hub().metrics().snapshot().ai_replies, 2);

    // After End the AI answers the next message.
    assistant.permits.add_permits(1);
    visitor.say("v4", "One more question").await;
    let ai = visitor
        .client
        .until(|f| f["type"] == "event" && f["event"]["author"]["kind"] == "ai")
        .await;
    assert!(
        ai["event"]["text"]
            .as_str()
            .expect("text")
            .starts_with("AI reply")
    );
}

#[tokio::test]
async fn plan_gating_refuses_basic_workspaces() {
    let th = TestHub::start().await;
    let mut visitor = common::Visitor::connect(th.addr(), "demo-basic", None, None).await;
    visitor.say("v1", "hello").await;
    let mut bob = th.operator_in("bob", "demo-basic", Role::Owner).await;
    let refused = bob.takeover(&visitor.conversation_id).await;
    assert_eq!(refused["code"], "plan_required");
    assert_eq!(refused["retryable"], false);
}

#[tokio::test]
async fn editors_force_release_plain_operators_cannot() {
    let th = TestHub::start().await;
    let visitor = th.visitor().await;
    let cid = visitor.conversation_id.clone();
    let mut martin = th.operator("martin", Role::Operator).await;
    assert_eq!(martin.takeover(&cid).await["type"], "control");

    let mut nora = th.operator("nora", Role::Operator).await;
    assert_eq!(nora.release(&cid, false).await["code"], "not_holder");
    assert_eq!(nora.release(&cid, true).await["code"], "role_required");

    let mut eddie = th.operator("eddie", Role::Editor).await;
    eddie.open(&cid).await;
    let released = eddie.release(&cid, true).await;
    assert_eq!(released["control"]["holder"]["kind"], "ai");
    let left = eddie.until_event("operator_left").await;
    assert_eq!(left["reason"], "force_released");
    assert_eq!(left["by"], "eddie");
    // The holder can no longer write.
    assert_eq!(
        martin.say(&cid, "o1", "still here?").await["code"],
        "not_controlled"
    );
}

#[tokio::test]
async fn the_embedded_assistant_asks_for_a_human_and_flags_the_conversation() {
    let th = TestHub::start().await;
    let mut olivia = th.operator("olivia", Role::Owner).await;
    olivia.send(json!({"type": "subscribe_online"})).await;
    olivia.until_type("online_view").await;
    let mut visitor = th.visitor().await;
    visitor.say("v1", "Can I speak to a human?").await;
    let ai = visitor
        .client
        .until(|f| f["type"] == "event" && f["event"]["author"]["kind"] == "ai")
        .await;
    assert!(
        ai["event"]["text"]
            .as_str()
            .expect("text")
            .contains("human")
    );
    visitor.client.until_event("human_requested").await;
    let waiting = olivia
        .until(|f| f["type"] == "online_view" && f["counts"]["needs_human"] == 1)
        .await;
    assert_eq!(waiting["rows"][0]["needs_human"], true, "{waiting}");
    // Taking over clears the flag.
    let control = olivia.takeover(&visitor.conversation_id).await;
    assert_eq!(control["type"], "control");
    olivia
        .until_row(|c| c["needs_human"] == false && c["control"]["holder"]["kind"] == "operator")
        .await;
}

#[tokio::test]
async fn the_ai_typing_indicator_brackets_each_reply() {
    let th = TestHub::start().await;
    let mut visitor = th.visitor().await;
    visitor.say("v1", "How long does shipping take?").await;
    let on = visitor.client.until_type("typing").await;
    assert_eq!(
        (on["author"]["kind"].as_str(), on["active"].as_bool()),
        (Some("ai"), Some(true))
    );
    visitor
        .client
        .until(|f| f["type"] == "event" && f["event"]["author"]["kind"] == "ai")
        .await;
    let off = visitor.client.until_type("typing").await;
    assert_eq!(off["active"], false);
}

#[tokio::test]
async fn idle_conversations_leave_the_online_list() {
    let mut config = Config::for_tests();
    config.conversation_idle_secs = 0;
    config.sweep_interval_ms = 20;
    let th = TestHub::with(config, None).await;
    let mut op = th.operator("martin", Role::Operator).await;
    op.send(json!({"type": "subscribe_online"})).await;
    op.until_type("online_view").await;
    let visitor = th.visitor().await;
    let cid = visitor.conversation_id.clone();
    op.until_row(|c| c["id"] == cid.as_str()).await;
    // While the visitor is connected the conversation stays; once gone and idle, it leaves.
    visitor.client.close().await;
    let gone = op.until_gone(&cid).await;
    assert_eq!(
        (gone["total"].as_u64(), gone["counts"]["all"].as_u64()),
        (Some(0), Some(0))
    );
    op.send(json!({"type": "subscribe_online"})).await;
    let snap = op.until_type("online_view").await;
    assert_eq!(snap["ids"], json!([]));
}

#[tokio::test]
async fn a_busy_conversation_does_not_flood_the_online_list() {
    let th = TestHub::start().await;
    let mut visitor = th.visitor().await;
    let cid = visitor.conversation_id.clone();
    let mut martin = th.operator("martin", Role::Operator).await;
    martin.takeover(&cid).await; // the AI stays out: only the visitor's messages change the row
    let mut olivia = th.operator("olivia", Role::Owner).await;
    olivia.send(json!({"type": "subscribe_online"})).await;
    olivia.until_type("online_view").await;
    let mut last = 0;
    for i in 0..50 {
        last = visitor.say(&format!("v{i}"), "and another thing").await;
    }
    // Count the rows until the one showing the last message: coalesced, not one per message.
    let mut rows = 0;
    loop {
        let row = olivia.until_row(|c| c["id"] == cid.as_str()).await;
        rows += 1;
        if row["last_seq"] == last {
            break;
        }
    }
    assert!(rows < 25, "{rows} rows for 50 messages");
    println!("online list: {rows} row updates for 50 messages");
}
