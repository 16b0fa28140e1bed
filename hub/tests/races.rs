//! Races that the product's correctness rests on, run many times over real sockets:
//! exactly one takeover wins, and no AI reply is ever stored after a takeover.

mod common;

use std::sync::Arc;

use common::TestHub;
use protocol::Role;
use serde_json::json;
use tokio::sync::Barrier;

const OPERATORS: usize = 12;
const ROUNDS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_takeovers_have_exactly_one_winner() {
    let th = TestHub::start().await;
    let mut ops = Vec::new();
    for i in 0..OPERATORS {
        ops.push(th.operator(&format!("op{i}"), Role::Operator).await);
    }
    let mut wins_by_operator = vec![0usize; OPERATORS];
    for round in 0..ROUNDS {
        let visitor = th.visitor().await;
        let cid = visitor.conversation_id.clone();
        let barrier = Arc::new(Barrier::new(OPERATORS));
        let mut tasks = Vec::new();
        for (i, mut op) in ops.drain(..).enumerate() {
            let barrier = barrier.clone();
            let cid = cid.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let answer = op.takeover(&cid).await;
                (i, op, answer)
            }));
        }
        let mut winners = Vec::new();
        let mut holders_named = Vec::new();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.expect("join"));
        }
        results.sort_by_key(|(i, _, _)| *i);
        for (i, op, answer) in results {
            match answer["type"].as_str() {
                Some("control") => winners.push(i),
                Some("error") => {
                    assert_eq!(answer["code"], "already_controlled", "{answer}");
                    holders_named.push(answer["holder"]["id"].as_str().expect("holder").to_owned());
                }
                other => panic!("unexpected answer {other:?}"),
            }
            ops.push(op);
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let winner = winners[0];
        wins_by_operator[winner] += 1;
        // Every loser was told who won.
        assert!(
            holders_named.iter().all(|h| *h == format!("op{winner}")),
            "round {round}"
        );
        // The history records exactly one joined.
        let h = ops[0].open(&cid).await;
        let joined = h["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["type"] == "operator_joined")
            .count();
        assert_eq!(joined, 1, "round {round}");
        ops[0]
            .send(json!({"type": "close", "conversation_id": cid}))
            .await;
    }
    println!(
        "takeover races: {ROUNDS} rounds x {OPERATORS} operators, wins per operator {wins_by_operator:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ai_reply_is_stored_after_a_takeover() {
    // The embedded assistant with no delay answers as fast as it can, racing each takeover.
    let th = TestHub::start().await;
    let mut martin = th.operator("martin", Role::Operator).await;
    let rounds = 60;
    for round in 0..rounds {
        let mut visitor = th.visitor().await;
        let cid = visitor.conversation_id.clone();
        // Send the visitor's message and the takeover at the same instant, from two sockets.
        let say = visitor.say("v1", "How long does shipping take?");
        let take = martin.takeover(&cid);
        let (_, answer) = tokio::join!(say, take);
        assert_eq!(answer["type"], "control", "{answer}");
        // Both are processed: any generation the message started has been counted. Wait until
        // each one has ended (stored, fenced, cancelled or failed).
        th.hub().metrics().wait_until(|m| m.ai_settled()).await;
        let h = martin.open(&cid).await;
        let events = h["events"].as_array().expect("events");
        let joined_at = events
            .iter()
            .position(|e| e["type"] == "operator_joined")
            .expect("joined recorded");
        assert!(
            !events[joined_at..]
                .iter()
                .any(|e| e["type"] == "message" && e["author"]["kind"] == "ai"),
            "round {round}: AI message after takeover: {events:?}"
        );
        martin.release(&cid, false).await;
        martin
            .send(json!({"type": "close", "conversation_id": cid}))
            .await;
    }
    let m = th.hub().metrics().snapshot();
    println!(
        "AI vs takeover races: {rounds} rounds; replies stored before the takeover {}, fenced {}, cancelled {}",
        m.ai_replies, m.ai_fenced, m.ai_cancelled
    );
}
