//! 1,000 takeover races among operators spread over three nodes behind nginx: exactly one
//! winner every time; and 300 more with the nodes on Redis Cluster.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use system::cluster::Builder;
use system::{Client, Cluster, Visitor, operator_token};
use tokio::sync::Barrier;

const OPERATORS: usize = 6;
const ROUNDS: usize = 1000;
const CLUSTER_ROUNDS: usize = 300;
/// A new conversation every this many rounds; in between the winner ends it (release) and the
/// next round races for it again.
const ROUNDS_PER_CONVERSATION: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_takeover_races_have_one_winner_each() {
    races(Cluster::builder("races"), ROUNDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takeover_races_on_redis_cluster_have_one_winner_each() {
    races(Cluster::builder("races-rc").redis_cluster(), CLUSTER_ROUNDS).await;
}

async fn races(builder: Builder, rounds: usize) {
    let cluster = builder.start().await;
    let lb = cluster.lb();
    let mut ops = Vec::new();
    for i in 0..OPERATORS {
        ops.push(Client::operator(lb, &operator_token(&format!("racer{i}"))).await);
    }
    let nodes: BTreeSet<_> = ops.iter().map(|o| o.node).collect();
    assert!(nodes.len() >= 2, "round robin spread the operators");
    println!(
        "races: {OPERATORS} operators on {} nodes through nginx",
        nodes.len()
    );

    let started = Instant::now();
    let (mut sent, mut received, mut wins, mut refusals) = (0, 0, 0, 0);
    let mut visitor: Option<Visitor> = None;
    for round in 0..rounds {
        if round % ROUNDS_PER_CONVERSATION == 0 {
            if let Some(v) = visitor.take() {
                v.client.close().await;
            }
            visitor = Some(Visitor::connect(lb, None, None).await);
        }
        let cid = visitor.as_ref().expect("visitor").conversation_id.clone();
        let barrier = Arc::new(Barrier::new(OPERATORS));
        let tasks: Vec<_> = ops
            .drain(..)
            .map(|mut op| {
                let (barrier, cid) = (barrier.clone(), cid.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let answer = op.takeover(&cid).await;
                    (op, answer)
                })
            })
            .collect();
        sent += OPERATORS;
        let mut winner = None;
        let mut round_wins = 0;
        for t in tasks {
            let (op, answer) = t.await.expect("join");
            received += 1;
            match answer["type"].as_str() {
                Some("control") => {
                    round_wins += 1;
                    winner = Some(ops.len());
                }
                _ => {
                    assert_eq!(answer["code"], "already_controlled", "{answer}");
                    refusals += 1;
                }
            }
            ops.push(op);
        }
        assert_eq!(round_wins, 1, "round {round}: one winner");
        wins += round_wins;
        // End, so the next round races again on the same conversation.
        let w = winner.expect("a winner");
        let ended = ops[w].release(&cid).await;
        assert_eq!(ended["control"]["holder"]["kind"], "ai", "{ended}");
    }
    let elapsed = started.elapsed();
    println!(
        "races on {}: {rounds} rounds, {sent} takeovers sent, {received} answers received, {wins} wins, \
         {refusals} already_controlled, lost 0, duplicated winners 0, in {:.1} s",
        cluster.redis.kind(),
        elapsed.as_secs_f64()
    );
    assert_eq!(wins, rounds);
    assert_eq!(received, sent);
}
