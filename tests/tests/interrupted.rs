//! The interrupted reply: an operator who takes over while the AI is writing is offered what it
//! had written, on whichever node the generation ran, and nobody else is: the visitor sees the
//! draft discarded and nothing more, a watching teammate sees no offer, and nothing of it is
//! stored unless the operator sends it.

use serde_json::{Value, json};
use system::{Client, Cluster, Visitor, operator_token};

/// Every frame of `c` until one matches `last` (included).
async fn frames_until(c: &mut Client, last: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        let f = c.frame().await;
        let done = last(&f);
        frames.push(f);
        if done {
            return frames;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_mid_reply_offers_the_draft_to_the_new_holder_alone() {
    // A second of "thinking", then the reply word by word over another second: the takeover
    // lands while it streams.
    let cluster = Cluster::builder("interrupted")
        .assistant_delay_ms(2000)
        .start()
        .await;
    let [n0, n1, n2] = [0, 1, 2].map(|i| cluster.nodes[i].addr);
    // The visitor on node 0 (where the reply is generated), the operators on the other two.
    let mut visitor = Visitor::connect(n0, None, None).await;
    let cid = visitor.conversation_id.clone();
    let mut martin = Client::operator(n1, &operator_token("martin")).await;
    martin.open(&cid).await;
    // Every dashboard follows the Online list, the watcher's too (it must not get the offer).
    martin.send(json!({"type": "subscribe_online"})).await;
    martin.until_type("online_view").await;
    let mut watcher = Client::operator(n2, &operator_token("watcher")).await;
    watcher.open(&cid).await;
    watcher.send(json!({"type": "subscribe_online"})).await;
    watcher.until_type("online_view").await;

    visitor
        .client
        .send(json!({"type": "message", "client_id": "v1", "text": "How long does shipping take?"}))
        .await;
    let first = visitor
        .client
        .until(|f| f["type"] == "ai_draft" && f["state"] == "streaming")
        .await;
    let draft_id = first["draft_id"].clone();
    martin
        .send(json!({"type": "takeover", "conversation_id": cid}))
        .await;
    // The offer and the `control` answer come in either order (the generation may run on
    // another node than the takeover).
    let mut frames = frames_until(&mut martin, |f| {
        f["type"] == "control" || f["type"] == "error"
    })
    .await;
    assert_eq!(
        frames.last().map(|f| &f["type"]),
        Some(&json!("control")),
        "{frames:?}"
    );
    if !frames.iter().any(|f| f["type"] == "interrupted_reply") {
        frames.push(martin.until_type("interrupted_reply").await);
    }
    let offer = frames
        .iter()
        .find(|f| f["type"] == "interrupted_reply")
        .cloned()
        .expect("offered");
    assert_eq!(offer["conversation_id"], cid.as_str());
    assert_eq!(offer["draft_id"], draft_id);
    let text = offer["text"].as_str().expect("text").to_owned();
    assert!(
        !text.trim().is_empty() && text.starts_with(first["text"].as_str().unwrap_or("")),
        "the offer is what the AI had written, from its first piece on: {offer}"
    );

    // A marker from Martin follows everything published before it, on every socket.
    let ack = martin.say(&cid, "marker", "marker").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let is_marker = |f: &Value| f["type"] == "event" && f["event"]["text"] == "marker";
    for (who, socket) in [("visitor", &mut visitor.client), ("watcher", &mut watcher)] {
        let frames = frames_until(socket, is_marker).await;
        assert!(
            !frames.iter().any(|f| f["type"] == "interrupted_reply"),
            "{who} was offered the draft: {frames:?}"
        );
        let leaked: Vec<&Value> = frames
            .iter()
            .filter(|f| f.to_string().contains(text.as_str()) && f["type"] != "ai_draft")
            .collect();
        assert!(
            leaked.is_empty(),
            "{who} saw the draft outside ai_draft: {leaked:?}"
        );
    }
    // Not stored: the history has the visitor's question, the join and the marker only.
    let history = system::client::history(n2, &cid).await;
    let kinds: Vec<&str> = history.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        kinds,
        ["message", "operator_joined", "message"],
        "{history:?}"
    );
    assert!(!history.iter().any(|e| e["author"]["kind"] == "ai"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_before_the_ai_wrote_anything_offers_nothing() {
    let cluster = Cluster::builder("interrupted-early")
        .assistant_delay_ms(4000)
        .start()
        .await;
    let lb = cluster.lb();
    let mut visitor = Visitor::connect(lb, None, None).await;
    let cid = visitor.conversation_id.clone();
    let mut martin = Client::operator(lb, &operator_token("martin")).await;
    martin.open(&cid).await;
    visitor
        .client
        .send(json!({"type": "message", "client_id": "v1", "text": "How long does shipping take?"}))
        .await;
    // The AI is thinking (its typing is on), nothing written yet.
    martin
        .until(|f| f["type"] == "typing" && f["author"]["kind"] == "ai" && f["active"] == true)
        .await;
    assert_eq!(martin.takeover(&cid).await["type"], "control");
    cluster.generations_finished().await;
    // Sent without waiting for its ack, so that every frame before the marker is read here.
    martin
        .send(json!({"type": "message", "conversation_id": cid, "client_id": "marker", "text": "marker"}))
        .await;
    let frames = frames_until(&mut martin, |f| {
        f["type"] == "event" && f["event"]["text"] == "marker"
    })
    .await;
    assert!(
        !frames.iter().any(|f| f["type"] == "interrupted_reply"),
        "{frames:?}"
    );
}
