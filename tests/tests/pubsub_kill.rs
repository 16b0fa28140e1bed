//! Redis cuts the nodes' pub/sub connections (`CLIENT KILL TYPE pubsub`, as it does to a
//! subscriber over its output buffer limit) while a visitor on one node and an operator on
//! another are talking. Pub/sub is at most once: the hub resubscribes and catches its clients up
//! from the history. Nothing is lost, nothing is seen twice.

use std::time::Duration;

use system::{Cluster, Flow, check};

const MESSAGES: usize = 90;

async fn kill_pubsub(cluster: &Cluster) -> i64 {
    let mut conn = cluster.redis.server().manager().await;
    redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .expect("CLIENT KILL")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_connections_cut_mid_conversation_lose_nothing() {
    let cluster = Cluster::builder("pubsub").start().await;
    let lb = cluster.lb();

    let (mut flow, visitor_node, operator_node) =
        Flow::visitor_and_operator_apart(lb, "martin-ps", MESSAGES, Duration::from_millis(10))
            .await;
    println!(
        "pubsub kill: visitor on node {}, operator on node {}",
        cluster.node_at(visitor_node).index,
        cluster.node_at(operator_node).index
    );

    let mut killed = Vec::new();
    for k in 1..=2 {
        let at = k * MESSAGES / 3;
        flow.until_acked(|a| a["visitor"] >= at && a["martin"] >= at)
            .await;
        killed.push(kill_pubsub(&cluster).await);
    }
    println!("pubsub kill: CLIENT KILL TYPE pubsub twice mid-flow, connections cut: {killed:?}");
    assert!(
        killed.iter().all(|n| *n >= 2),
        "both nodes' subscribers were cut"
    );

    let (views, history) = flow.finish().await;
    let sent = check("pubsub kill", &views, &history);
    assert_eq!(sent, 2 * MESSAGES);
    for v in &views {
        assert_eq!(v.reconnects, 0, "{}: the client sockets stayed up", v.name);
    }
}
