//! One workspace with a big team: operators spread over three nodes behind nginx, hundreds of
//! live conversations whose visitors have each just asked the AI something, and a takeover
//! burst in which every conversation is raced by three operators at once, all sent in the same
//! instant. Exactly one holder per conversation, every visitor told once, no AI word after the
//! takeover; and right after the burst, the owner's team view and every operator's Online
//! counts agree with the winners.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::join_all;
use serde_json::{Value, json};
use system::{Client, Cluster, Visitor, operator_token, operator_token_as};

const OPERATORS: usize = 30;
const CONVERSATIONS: usize = 200;
const RACERS: usize = 3;

fn is_joined(f: &Value) -> bool {
    f["type"] == "event" && f["event"]["type"] == "operator_joined"
}

fn is_ai(f: &Value) -> bool {
    (f["type"] == "event" && f["event"]["author"]["kind"] == "ai")
        || f["type"] == "ai_draft"
        || (f["type"] == "typing" && f["author"]["kind"] == "ai")
}

/// The operators racing for conversation `i`.
fn racers(i: usize) -> impl Iterator<Item = usize> {
    (0..RACERS).map(move |k| (i * 7 + k * 11) % OPERATORS)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_burst_in_one_big_workspace_has_one_holder_each() {
    // The AI's reply is on its way when the burst lands.
    let cluster = Cluster::builder("big-team")
        .assistant_delay_ms(150)
        .start()
        .await;
    let lb = cluster.lb();
    let mut ops = Vec::new();
    for i in 0..OPERATORS {
        let mut op = Client::operator(lb, &operator_token(&format!("op{i:02}"))).await;
        op.send(json!({"type": "subscribe_online", "limit": 200}))
            .await;
        op.until_type("online_view").await;
        ops.push(op);
    }
    let nodes: BTreeSet<_> = ops.iter().map(|o| o.node).collect();
    assert_eq!(nodes.len(), 3, "round robin spread the operators");
    let mut owner = Client::operator(lb, &operator_token_as("olivia", "owner")).await;
    owner.send(json!({"type": "subscribe_team"})).await;
    owner.until_type("audit_snapshot").await;

    let mut visitors = Vec::new();
    for _ in 0..CONVERSATIONS / 50 {
        visitors.extend(join_all((0..50).map(|_| Visitor::connect(lb, None, None))).await);
    }
    for v in &mut visitors {
        v.client
            .send(json!({"type": "message", "client_id": "v1", "text": "How long does shipping take?"}))
            .await;
    }

    // The burst: every racer sends all of its takeovers at once, then reads the answers.
    let mut wanted: Vec<Vec<String>> = vec![Vec::new(); OPERATORS];
    for (i, v) in visitors.iter().enumerate() {
        for op in racers(i) {
            wanted[op].push(v.conversation_id.clone());
        }
    }
    let answers = join_all(ops.iter_mut().zip(&wanted).map(|(op, cids)| async move {
        for cid in cids {
            op.send(json!({"type": "takeover", "conversation_id": cid}))
                .await;
        }
        let mut answers = BTreeMap::new();
        while answers.len() < cids.len() {
            let f = op
                .until(|f| f["type"] == "control" || f["type"] == "error")
                .await;
            let cid = f["conversation_id"].as_str().expect("answer names it");
            assert!(answers.insert(cid.to_owned(), f.clone()).is_none(), "{f}");
        }
        answers
    }))
    .await;

    // Exactly one winner per conversation; every loser told who holds it.
    let mut holder: BTreeMap<String, usize> = BTreeMap::new();
    for (op, answers) in answers.iter().enumerate() {
        for (cid, answer) in answers {
            match answer["type"].as_str() {
                Some("control") => {
                    assert_eq!(
                        answer["control"]["holder"]["id"],
                        format!("op{op:02}"),
                        "{answer}"
                    );
                    assert!(
                        holder.insert(cid.clone(), op).is_none(),
                        "two winners: {cid}"
                    );
                }
                _ => assert_eq!(answer["code"], "already_controlled", "{answer}"),
            }
        }
    }
    assert_eq!(
        holder.len(),
        CONVERSATIONS,
        "every conversation has a holder"
    );

    // Every visitor is told once, and nothing of the AI comes after it.
    cluster.generations_finished().await;
    let (mut ai_before, mut frames) = (0, 0);
    for (i, v) in visitors.iter_mut().enumerate() {
        let cid = v.conversation_id.clone();
        let winner = holder[&cid];
        let ack = ops[winner].say(&cid, &format!("m{i}"), "marker").await;
        assert_eq!(ack["type"], "ack", "{ack}");
        let mut seen = Vec::new();
        loop {
            let f = v.client.frame().await;
            let marker = f["type"] == "event" && f["event"]["text"] == "marker";
            seen.push(f);
            if marker {
                break;
            }
        }
        frames += seen.len();
        let joins: Vec<usize> = (0..seen.len()).filter(|&k| is_joined(&seen[k])).collect();
        assert_eq!(joins.len(), 1, "{cid}: {seen:?}");
        assert_eq!(
            seen[joins[0]]["event"]["operator"]["name"], "Human",
            "visitors see no account name: {cid}"
        );
        assert!(
            !seen[joins[0]..].iter().any(is_ai),
            "{cid}: an AI frame after the takeover: {seen:?}"
        );
        ai_before += seen[..joins[0]]
            .iter()
            .filter(|f| f["type"] == "event" && f["event"]["author"]["kind"] == "ai")
            .count();
    }

    // The owner's team view: each operator holds exactly what it won.
    let mut won: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (cid, op) in &holder {
        won.entry(format!("op{op:02}"))
            .or_default()
            .insert(cid.clone());
    }
    let team = owner
        .until(|f| {
            f["type"] == "team_snapshot"
                && f["members"].as_array().is_some_and(|m| {
                    m.iter()
                        .map(|m| m["holding"].as_array().map_or(0, Vec::len))
                        .sum::<usize>()
                        == CONVERSATIONS
                })
        })
        .await;
    for member in team["members"].as_array().expect("members") {
        let id = member["id"].as_str().expect("id");
        let holding: BTreeSet<String> = member["holding"]
            .as_array()
            .expect("holding")
            .iter()
            .map(|h| h["conversation_id"].as_str().expect("id").to_owned())
            .collect();
        assert_eq!(holding, won.get(id).cloned().unwrap_or_default(), "{id}");
    }

    // Every operator's Online counts: everything held by someone, its own share as "mine".
    for (i, op) in ops.iter_mut().enumerate() {
        let mine = won.get(&format!("op{i:02}")).map_or(0, BTreeSet::len);
        op.until(|f| {
            f["type"] == "online_view"
                && f["counts"]
                    == json!({"all": CONVERSATIONS, "needs_human": 0, "mine": mine, "ai": 0})
        })
        .await;
    }
    // And the "mine" view lists exactly those.
    let op = &mut ops[0];
    op.send(json!({"type": "subscribe_online", "filter": "mine", "limit": 200}))
        .await;
    let view = op
        .until(|f| f["type"] == "online_view" && f["filter"] == "mine")
        .await;
    let listed: BTreeSet<String> = view["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|i| i.as_str().expect("id").to_owned())
        .collect();
    assert_eq!(listed, won.get("op00").cloned().unwrap_or_default());

    println!(
        "big team: {OPERATORS} operators on 3 nodes, {CONVERSATIONS} conversations, {} takeovers \
         sent at once, {} answered, {} winners, visitors told once each, AI messages after a \
         takeover 0 (before it: {ai_before}), visitor frames {frames}",
        CONVERSATIONS * RACERS,
        answers.iter().map(BTreeMap::len).sum::<usize>(),
        holder.len()
    );
}
