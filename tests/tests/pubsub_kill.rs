//! Redis cuts the nodes' pub/sub connections (`CLIENT KILL TYPE pubsub`, as it does to a
//! subscriber over its output buffer limit) while a visitor on one node and an operator on
//! another are talking. Pub/sub is at most once: the hub resubscribes and catches its clients up
//! from the history. Nothing is lost, nothing is seen twice.

use std::time::Duration;

use system::participant::{Participant, Role};
use system::{Client, Cluster, Flow, Visitor, check, operator_token};

const MESSAGES: usize = 90;

async fn kill_pubsub(cluster: &Cluster) -> i64 {
    let mut conn = cluster.redis.manager().await;
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

    let visitor = Visitor::connect(lb, None, None).await;
    let cid = visitor.conversation_id.clone();
    let token = operator_token("martin-ps");
    let mut martin = Client::operator(lb, &token).await;
    while martin.node == visitor.client.node {
        martin.close().await;
        martin = Client::operator(lb, &token).await;
    }
    let control = martin.takeover(&cid).await;
    assert_eq!(control["type"], "control", "{control}");
    let martin_history = martin.open(&cid).await;
    println!(
        "pubsub kill: visitor on node {}, operator on node {}",
        cluster.node_at(visitor.client.node).index,
        cluster.node_at(martin.node).index
    );

    let events = |h: &serde_json::Value| h["events"].as_array().cloned().unwrap_or_default();
    let participant = |name: &str, role| Participant {
        name: name.into(),
        role,
        conversation_id: cid.clone(),
        lb,
        messages: MESSAGES,
        interval: Duration::from_millis(10),
    };
    let visitor_events = events(&visitor.history);
    let visitor_token = visitor.token.clone();
    let mut flow = Flow::start(vec![
        (
            participant(
                "visitor",
                Role::Visitor {
                    token: visitor_token,
                },
            ),
            visitor.client,
            visitor_events,
        ),
        (
            participant("martin", Role::Operator { token }),
            martin,
            events(&martin_history),
        ),
    ]);

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
