//! The whole take-control story through nginx, with a visitor and two operators that landed on
//! different nodes of a three-node cluster.

use serde_json::{Value, json};
use system::{Client, Cluster, Visitor, http};

/// A demo operator's token, through nginx's /dev/login like the dashboard.
async fn login(lb: std::net::SocketAddr, id: &str) -> String {
    let (status, body) = http(
        lb,
        "POST",
        "/dev/login",
        Some(&json!({"operator_id": id}).to_string()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    v["token"].as_str().expect("token").to_owned()
}

/// An operator socket through nginx on a node other than `avoid`'s.
async fn operator_avoiding(cluster: &Cluster, token: &str, avoid: &[&Client]) -> Client {
    for _ in 0..10 {
        let c = Client::operator(cluster.lb(), token).await;
        if avoid.iter().all(|o| o.node != c.node) {
            return c;
        }
        c.close().await;
    }
    panic!("round robin never spread the operators");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_through_nginx_across_nodes() {
    let cluster = Cluster::builder("story").start().await;
    let lb = cluster.lb();

    // Plain routes pass through too.
    assert_eq!(http(lb, "GET", "/healthz", None).await.0, 200);
    assert_eq!(http(lb, "GET", "/readyz", None).await.0, 200);
    assert_eq!(http(lb, "GET", "/dev/chat", None).await.0, 200);

    let mut martin = Client::operator(lb, &login(lb, "martin").await).await;
    let mut nora = operator_avoiding(&cluster, &login(lb, "nora").await, &[&martin]).await;
    martin.send(json!({"type": "subscribe_online"})).await;
    martin.until_type("online_view").await;

    let mut visitor = Visitor::connect(lb, None, None).await;
    let cid = visitor.conversation_id.clone();
    let nodes = [visitor.client.node, martin.node, nora.node];
    println!(
        "story: visitor on node {}, martin on node {}, nora on node {}",
        cluster.node_at(nodes[0]).index,
        cluster.node_at(nodes[1]).index,
        cluster.node_at(nodes[2]).index
    );
    assert_ne!(martin.node, nora.node);
    let mut received = 0;

    // The Online list of an operator on another node shows the new conversation.
    martin.until_row(|c| c["id"] == cid.as_str()).await;
    received += 1;

    visitor.say("v1", "How long does shipping take?").await;
    let ai = visitor
        .client
        .until(|f| f["type"] == "event" && f["event"]["author"]["kind"] == "ai")
        .await;
    assert!(
        ai["event"]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("ship")
    );
    received += 1;

    let history = martin.open(&cid).await;
    assert_eq!(history["events"].as_array().map(Vec::len), Some(2));
    nora.open(&cid).await;

    let control = martin.takeover(&cid).await;
    assert_eq!(control["type"], "control", "{control}");
    assert_eq!(control["control"]["holder"]["id"], "martin");
    let joined = visitor.client.until_event("operator_joined").await;
    assert_eq!(joined["operator"]["name"], "Human", "{joined}");
    let seen_by_nora = nora.until_event("operator_joined").await;
    assert_eq!(seen_by_nora["operator"]["id"], "martin");
    received += 2;

    let refused = nora.takeover(&cid).await;
    assert_eq!(refused["code"], "already_controlled", "{refused}");
    assert_eq!(refused["holder"]["id"], "martin");

    let ack = martin
        .say(&cid, "o1", "Hi, Martin here. Let me check that.")
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let msg = visitor.client.until_event("message").await;
    assert_eq!(msg["text"], "Hi, Martin here. Let me check that.");
    assert_eq!(msg["author"]["kind"], "operator");
    received += 1;

    visitor.say("v2", "Thanks!").await;
    let got = martin
        .until(|f| f["type"] == "event" && f["event"]["client_id"] == "v2")
        .await;
    assert_eq!(got["event"]["author"]["kind"], "visitor");
    received += 1;

    // End: control goes back to the AI, the visitor is told.
    let ended = martin.release(&cid).await;
    assert_eq!(ended["control"]["holder"]["kind"], "ai", "{ended}");
    let left = visitor.client.until_event("operator_left").await;
    assert_eq!(left["reason"], "ended", "{left}");
    received += 1;

    // The human left "Thanks!" unanswered: the AI picks the conversation up after End.
    let resumed = visitor
        .client
        .until(|f| f["type"] == "event" && f["event"]["author"]["kind"] == "ai")
        .await;
    nora.until(|f| f["type"] == "event" && f["event"]["seq"] == resumed["event"]["seq"])
        .await;
    received += 2;

    // And it answers the next message.
    visitor.say("v3", "How do I return an item?").await;
    let ai = visitor
        .client
        .until(|f| f["type"] == "event" && f["event"]["author"]["kind"] == "ai")
        .await;
    assert!(
        ai["event"]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("return")
    );
    let seen_by_nora = nora
        .until(|f| f["type"] == "event" && f["event"]["seq"] == ai["event"]["seq"])
        .await;
    assert_eq!(seen_by_nora["event"]["seq"], ai["event"]["seq"]);
    received += 2;

    let last = ai["event"]["seq"].as_u64().expect("seq");
    let events = system::client::history(lb, &cid).await;
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(seqs, (1..=last).collect::<Vec<_>>());
    println!(
        "story: sent 3 visitor + 1 operator messages, {received} expected frames received across \
         3 nodes, history {last} events, lost 0, duplicated 0"
    );
}
