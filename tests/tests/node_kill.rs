//! `kill -9` (and, as on every deploy, SIGTERM) of the node that serves the visitor and the
//! operator holding the conversation, mid-conversation. Both reconnect through nginx (which skips the dead node), resume by
//! sequence number and re-send what was not acknowledged; a second operator on another node
//! watches throughout. Nothing is lost, nothing is seen twice.

use std::time::Duration;

use system::participant::{Participant, Role};
use system::{Client, Cluster, Flow, Visitor, check, operator_token};

const MESSAGES: usize = 60;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stop {
    Kill,
    Term,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_node_mid_conversation_loses_nothing() {
    node_goes_away(Stop::Kill, Cluster::builder("node-kill")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_of_a_node_under_load_loses_nothing() {
    node_goes_away(Stop::Term, Cluster::builder("node-term")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_node_on_redis_cluster_loses_nothing() {
    node_goes_away(Stop::Kill, Cluster::builder("node-kill-rc").redis_cluster()).await;
}

async fn node_goes_away(stop: Stop, builder: system::cluster::Builder) {
    let mut cluster = builder.start().await;
    let tag = format!(
        "{} on {}",
        if stop == Stop::Kill {
            "node kill"
        } else {
            "node term"
        },
        cluster.redis.kind()
    );
    let tag = tag.as_str();
    let lb = cluster.lb();
    let x = cluster.nodes[0].addr;

    // The visitor and the holder straight on node X; the watcher through nginx elsewhere.
    let visitor = Visitor::connect(x, None, None).await;
    let cid = visitor.conversation_id.clone();
    let martin_token = operator_token("martin-x");
    let mut martin = Client::operator(x, &martin_token).await;
    let control = martin.takeover(&cid).await;
    assert_eq!(control["type"], "control", "{control}");
    let martin_history = martin.open(&cid).await;
    let nora_token = operator_token("nora-y");
    let mut nora = Client::operator(lb, &nora_token).await;
    while nora.node == x {
        nora.close().await;
        nora = Client::operator(lb, &nora_token).await;
    }
    let nora_history = nora.open(&cid).await;

    let events = |h: &serde_json::Value| h["events"].as_array().cloned().unwrap_or_default();
    let participant = |name: &str, role, messages| Participant {
        name: name.into(),
        role,
        conversation_id: cid.clone(),
        lb,
        messages,
        interval: Duration::from_millis(15),
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
                MESSAGES,
            ),
            visitor.client,
            visitor_events,
        ),
        (
            participant(
                "martin",
                Role::Operator {
                    token: martin_token,
                },
                MESSAGES,
            ),
            martin,
            events(&martin_history),
        ),
        (
            participant("nora", Role::Operator { token: nora_token }, 0),
            nora,
            events(&nora_history),
        ),
    ]);

    // Mid-conversation: a third of each side's messages acknowledged.
    flow.until_acked(|a| a["visitor"] >= MESSAGES / 3 && a["martin"] >= MESSAGES / 3)
        .await;
    match stop {
        Stop::Kill => {
            cluster.nodes[0].kill().await;
            println!("{tag}: node 0 ({x}) killed with -9 mid-conversation");
        }
        Stop::Term => {
            let clean = cluster.nodes[0].terminate().await;
            assert!(clean, "the node drained and exited 0");
            println!("{tag}: node 0 ({x}) stopped with SIGTERM mid-conversation");
        }
    }

    let (views, history) = flow.finish().await;
    let sent = check(tag, &views, &history);
    assert_eq!(sent, 2 * MESSAGES);
    for v in &views[..2] {
        assert!(v.reconnects >= 1, "{} reconnected", v.name);
        assert!(
            v.nodes[1..].iter().all(|n| *n != x),
            "{} came back on a live node",
            v.name
        );
    }
    assert_eq!(views[2].reconnects, 0, "the watcher's node stayed up");
}
