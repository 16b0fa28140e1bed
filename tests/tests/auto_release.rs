//! Auto-release when the holder vanishes with their node: the holder's node is killed with -9,
//! and after `--holder-grace-ms` control returns to the AI, announced once to the visitor on
//! another node as `operator_left` with reason `disconnected`.

use std::time::Instant;

use system::{Client, Cluster, Visitor, operator_token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holders_node_dies_and_control_returns_to_the_ai() {
    let mut cluster = Cluster::builder("auto-release")
        .arg("--holder-grace-ms", "500")
        .start()
        .await;
    let lb = cluster.lb();
    let x = cluster.nodes[0].addr;

    let mut visitor = Visitor::connect(lb, None, None).await;
    while visitor.client.node == x {
        visitor.client.close().await;
        visitor = Visitor::connect(lb, None, None).await;
    }
    let cid = visitor.conversation_id.clone();
    let mut holder = Client::operator(x, &operator_token("holder-x")).await;
    let control = holder.takeover(&cid).await;
    assert_eq!(control["type"], "control", "{control}");
    let joined = visitor.client.until_event("operator_joined").await;

    cluster.nodes[0].kill().await;
    let killed = Instant::now();
    println!("auto-release: holder's node 0 killed with -9");

    // Generous bound: the grace, plus however long the cluster takes to notice a dead node.
    let mut frames = 0;
    let left = loop {
        let f = visitor
            .client
            .frame_within(std::time::Duration::from_secs(60))
            .await
            .expect("operator_left within 60 s");
        frames += 1;
        if f["type"] == "event" && f["event"]["type"] == "operator_left" {
            break f["event"].clone();
        }
    };
    let noticed = killed.elapsed();
    assert_eq!(left["reason"], "disconnected", "{left}");
    assert_eq!(left["operator"]["id"], joined["operator"]["id"]);

    // The AI holds it again: the next message gets an AI answer, and between the two no second
    // operator_left came.
    visitor
        .client
        .send(serde_json::json!({"type": "message", "client_id": "after", "text": "How long does shipping take?"}))
        .await;
    let mut left_again = 0;
    loop {
        let f = visitor.client.frame().await;
        frames += 1;
        if f["type"] == "event" && f["event"]["type"] == "operator_left" {
            left_again += 1;
        }
        if f["type"] == "event" && f["event"]["author"]["kind"] == "ai" {
            break;
        }
    }
    assert_eq!(left_again, 0, "operator_left exactly once");
    let history = system::client::history(lb, &cid).await;
    let lefts = history
        .iter()
        .filter(|e| e["type"] == "operator_left")
        .count();
    assert_eq!(lefts, 1, "{history:?}");
    println!(
        "auto-release: operator_left (disconnected) {:.1} s after the kill, received once; \
         visitor frames received {frames}, stored operator_left 1, lost 0, duplicated 0",
        noticed.as_secs_f64()
    );
}
