//! Two hub nodes on one real redis-server (spawned per test on a free port): a visitor on one
//! node, operators on the other, the story across them and a cross-node takeover race.

mod common;

use std::sync::Arc;

use common::{Client, TestHub, Visitor};
use protocol::Role;
use serde_json::json;
use testkit::RedisServer;
use tokio::sync::Barrier;

async fn node(redis: &RedisServer, prefix: &str) -> TestHub {
    let mut config = hub::Config::for_tests();
    config.redis_url = Some(redis.url());
    config.redis_prefix = prefix.into();
    // Nodes must share the visitor-token secret, as in any multi-node deployment.
    config.visitor_token_secret = Some("shared-visitor-secret".into());
    // Housekeeping (presence, bus healing) every 50 ms instead of every 10 s.
    config.sweep_interval_ms = 50;
    TestHub::with(config, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_across_two_nodes() {
    let redis = RedisServer::start().await;
    let a = node(&redis, "story:").await;
    let b = node(&redis, "story:").await;

    let mut martin = b.operator("martin", Role::Operator).await;
    martin.send(json!({"type": "subscribe_online"})).await;
    martin.until_type("online_view").await;

    let mut visitor = a.visitor().await;
    let cid = visitor.conversation_id.clone();
    martin.until_row(|c| c["id"] == cid.as_str()).await;
    visitor.say("v1", "How long does shipping take?").await;
    let ai = visitor
        .client
        .until(|f| f["type"] == "event" && f["event"]["author"]["kind"] == "ai")
        .await;
    assert_eq!(ai["event"]["seq"], 2);

    martin.open(&cid).await;
    assert_eq!(martin.takeover(&cid).await["type"], "control");
    let joined = visitor.client.until_event("operator_joined").await;
    assert_eq!(joined["operator"]["name"], "Human");

    // An operator on the visitor's node is refused: one holder across nodes.
    let mut nora = a.operator("nora", Role::Operator).await;
    assert_eq!(nora.takeover(&cid).await["code"], "already_controlled");

    martin
        .say(&cid, "o1", "Martin here, from the other node.")
        .await;
    let msg = visitor.client.until_event("message").await;
    assert_eq!(msg["text"], "Martin here, from the other node.");
    visitor.say("v2", "Thanks").await;
    let got = martin
        .until(|f| f["type"] == "event" && f["event"]["client_id"] == "v2")
        .await;
    assert_eq!(got["event"]["author"]["kind"], "visitor");

    martin.release(&cid, false).await;
    visitor.client.until_event("operator_left").await;
    // "Thanks" was left unanswered by the human: the AI picks the conversation up again.
    let resumed = visitor.client.until_event("message").await;
    assert_eq!(resumed["author"]["kind"], "ai");

    // The visitor reloads onto the other node and resumes where they were.
    let last = got["event"]["seq"].as_u64().expect("seq");
    let token = visitor.token.clone();
    visitor.client.close().await;
    let back = Visitor::connect(b.addr(), "demo-pro", Some(&token), Some(last)).await;
    assert_eq!(back.conversation_id, cid);
    let seqs: Vec<u64> = back.history["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(
        seqs,
        [last + 1, last + 2],
        "exactly the left notice and the AI's reply were missed"
    );
    println!("two nodes: story events delivered across nodes, resume on the other node: {seqs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takeover_races_across_nodes_have_one_winner() {
    let redis = RedisServer::start().await;
    let a = node(&redis, "race:").await;
    let b = node(&redis, "race:").await;
    let mut ops: Vec<Client> = Vec::new();
    for i in 0..8 {
        let n = if i % 2 == 0 { &a } else { &b };
        ops.push(n.operator(&format!("op{i}"), Role::Operator).await);
    }
    let rounds = 25;
    for round in 0..rounds {
        let visitor = if round % 2 == 0 {
            a.visitor().await
        } else {
            b.visitor().await
        };
        let cid = visitor.conversation_id.clone();
        let barrier = Arc::new(Barrier::new(ops.len()));
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
        let mut winners = 0;
        for t in tasks {
            let (op, answer) = t.await.expect("join");
            match answer["type"].as_str() {
                Some("control") => winners += 1,
                _ => assert_eq!(answer["code"], "already_controlled", "{answer}"),
            }
            ops.push(op);
        }
        assert_eq!(winners, 1, "round {round}");
    }
    println!(
        "cross-node takeover races: {rounds} rounds x 8 operators on 2 nodes, one winner each"
    );
}

#[tokio::test]
async fn readyz_follows_redis() {
    let redis = RedisServer::start().await;
    let n = node(&redis, "ready:").await;
    assert_eq!(common::http(n.addr(), "GET", "/readyz", None).await.0, 200);
    redis.kill().await;
    let (status, body) = common::http(n.addr(), "GET", "/readyz", None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(common::http(n.addr(), "GET", "/healthz", None).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_gives_retryable_errors_and_heals_by_itself() {
    let redis = RedisServer::start().await;
    let port = redis.port;
    let n = node(&redis, "outage:").await;
    let mut visitor = n.visitor().await;
    visitor.say("v1", "before the outage").await;

    redis.kill().await;
    visitor
        .client
        .send(json!({"type": "message", "client_id": "v2", "text": "during the outage"}))
        .await;
    // Either answer says "retry": an `unavailable` error for the message, or, when the node
    // noticed first that it could not catch the socket up, a close with 4008 (reconnect).
    match visitor
        .client
        .until_or_closed(|f| f["type"] == "error" && f["client_id"] == "v2")
        .await
    {
        Ok(err) => {
            assert_eq!(err["code"], "unavailable");
            assert_eq!(err["retryable"], true);
        }
        Err(close) => assert_eq!(close.map(|c| u16::from(c.code)), Some(4008)),
    }
    assert_eq!(common::http(n.addr(), "GET", "/readyz", None).await.0, 503);

    // Redis comes back (empty: this test server keeps nothing). The hub reconnects by itself;
    // the client retries the same message with backoff, as the protocol says for `retryable`.
    let _back = RedisServer::start_on(port)
        .await
        .expect("restart on the same port");
    let mut attempts = 0;
    let answer = loop {
        attempts += 1;
        assert!(attempts <= 100, "the hub did not recover");
        let mut again = Visitor::connect_or_refused(n.addr(), "demo-pro").await;
        if let Some(v) = again.as_mut() {
            let seq = v.say("v3", "How long does shipping take?").await;
            // Fan-out works again too: the AI's reply comes back through Redis pub/sub.
            v.client
                .until(|f| f["type"] == "event" && f["event"]["author"]["kind"] == "ai")
                .await;
            break seq;
        }
        // Client backoff between attempts (product behaviour of a reconnecting widget).
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(answer, 1, "a fresh conversation on the fresh Redis");
    assert_eq!(common::http(n.addr(), "GET", "/readyz", None).await.0, 200);
    println!("redis outage: retryable error during, recovered after {attempts} attempt(s)");
}

/// A dashboard that sends takeovers, messages and releases for many conversations without
/// waiting for answers: the takeovers run side by side, yet each conversation's frames take
/// effect in the order sent (a message right behind its takeover is stored, not refused as
/// from a non-holder; the release comes after it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_takeovers_overlap_but_each_conversation_keeps_its_order() {
    const CONVERSATIONS: usize = 30;
    let redis = RedisServer::start().await;
    let a = node(&redis, "pipelined:").await;
    let mut cids = Vec::new();
    let mut visitors = Vec::new();
    for _ in 0..CONVERSATIONS {
        let v = a.visitor().await;
        cids.push(v.conversation_id.clone());
        visitors.push(v);
    }
    let mut op = a.operator("martin", Role::Operator).await;
    for (i, cid) in cids.iter().enumerate() {
        op.send(json!({"type": "takeover", "conversation_id": cid}))
            .await;
        op.send(json!({"type": "message", "conversation_id": cid, "client_id": format!("m{i}"), "text": "Martin here."}))
            .await;
        if i % 3 == 0 {
            op.send(json!({"type": "release", "conversation_id": cid, "force": false}))
                .await;
        }
    }
    // Each conversation's answers, in the order they arrived.
    let mut answers: std::collections::HashMap<String, Vec<String>> = Default::default();
    let expected: usize = (0..CONVERSATIONS)
        .map(|i| 2 + usize::from(i % 3 == 0))
        .sum();
    let mut got = 0;
    while got < expected {
        let f = op.frame().await;
        let kind = match f["type"].as_str() {
            Some("control") => format!("control:{}", f["control"]["holder"]["kind"]),
            Some("ack") => "ack".to_owned(),
            Some("error") => format!("error:{}", f["code"]),
            _ => continue,
        };
        got += 1;
        let cid = f["conversation_id"]
            .as_str()
            .expect("conversation id")
            .to_owned();
        answers.entry(cid).or_default().push(kind);
    }
    for (i, cid) in cids.iter().enumerate() {
        let mut want = vec!["control:\"operator\"".to_owned(), "ack".to_owned()];
        if i % 3 == 0 {
            want.push("control:\"ai\"".to_owned());
        }
        assert_eq!(answers.get(cid), Some(&want), "conversation {i}");
    }
}
