//! Transfer between operators across three nodes behind nginx: raced against another transfer,
//! a force-release and a takeover, exactly one change of control applies each round; the
//! visitor sees the hand-over with the recipient's visitor-facing name only; the recipient's
//! dashboards are alerted with the note, nobody else's; and the AI, whose fence a transfer must
//! never lower, says nothing however often the conversation changes hands.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use system::{Client, Cluster, Visitor, operator_token, operator_token_as};
use tokio::sync::Barrier;

const ROUNDS: usize = 400;

async fn dashboard(lb: std::net::SocketAddr, id: &str, role: &str) -> Client {
    let mut c = Client::operator(lb, &operator_token_as(id, role)).await;
    // On the Online list, as every dashboard is: the transfer alert comes on its topic.
    c.send(json!({"type": "subscribe_online"})).await;
    c.until_type("online_view").await;
    c
}

async fn answer(c: &mut Client, cid: &str) -> Value {
    c.until(|f| (f["type"] == "control" || f["type"] == "error") && f["conversation_id"] == cid)
        .await
}

/// A small deterministic generator of 0–3,000 µs: the run is repeatable.
fn jitter_us(round: usize, i: usize) -> u64 {
    let mut x = ((round * 4 + i) as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 31;
    x % 3_000
}

fn epoch(control: &Value) -> u64 {
    control["control"]["epoch"]
        .as_u64()
        .unwrap_or_else(|| panic!("a control answer: {control}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_race_releases_takeovers_and_each_other_with_one_outcome() {
    let cluster = Cluster::builder("transfer").start().await;
    let lb = cluster.lb();
    // The holder, two owners, a would-be taker, and two recipients, spread by nginx.
    let mut holder = dashboard(lb, "hold", "operator").await;
    let boss1 = dashboard(lb, "boss1", "owner").await;
    let boss2 = dashboard(lb, "boss2", "owner").await;
    let mut taker = dashboard(lb, "taker", "operator").await;
    let mut nora = dashboard(lb, "nora", "operator").await;
    let mut nils = dashboard(lb, "nils", "operator").await;
    let nodes: std::collections::BTreeSet<_> = [&holder, &boss1, &boss2, &taker, &nora, &nils]
        .iter()
        .map(|c| c.node)
        .collect();
    assert!(nodes.len() >= 2, "nginx spread the dashboards");

    // The rules, once each, before the races.
    let mut visitor = Visitor::connect(lb, None, None).await;
    let cid = visitor.conversation_id.clone();
    let taken = holder.takeover(&cid).await;
    let e = epoch(&taken);
    let transfer = |to: &str, epoch: u64| json!({"type": "transfer", "conversation_id": cid, "to": to, "epoch": epoch});
    for (to, at, code) in [
        ("hold", e, "transfer_to_self"),
        ("ghost", e, "operator_offline"),
        ("nora", e + 7, "control_changed"),
    ] {
        holder.send(transfer(to, at)).await;
        let refused = answer(&mut holder, &cid).await;
        assert_eq!(refused["code"], code, "{refused}");
    }
    taker.send(transfer("nora", e)).await;
    assert_eq!(answer(&mut taker, &cid).await["code"], "role_required");
    taker.send(json!({"type": "colleagues"})).await;
    let colleagues = taker.until_type("colleagues").await;
    let ids: Vec<&str> = colleagues["operators"]
        .as_array()
        .expect("operators")
        .iter()
        .filter_map(|o| o["id"].as_str())
        .collect();
    for id in ["hold", "boss1", "boss2", "taker", "nora", "nils"] {
        assert!(ids.contains(&id), "{id} is online: {colleagues}");
    }

    // The owners' audit log records the transfer.
    let mut audit = Client::operator(lb, &operator_token_as("auditor", "owner")).await;
    audit.send(json!({"type": "subscribe_team"})).await;
    audit.until_type("audit_snapshot").await;
    // A transfer with a note: the visitor sees the hand-over, Nora is alerted, Nils is not.
    let mut with_note = transfer("nora", e);
    with_note["note"] = json!("Refund approved; she needs the return label.");
    holder.send(with_note).await;
    let moved = answer(&mut holder, &cid).await;
    assert_eq!(moved["control"]["holder"]["id"], "nora", "{moved}");
    let alert = nora.until_type("transfer_received").await;
    assert_eq!(alert["conversation_id"], cid.as_str());
    assert_eq!(alert["by"]["id"], "hold");
    assert_eq!(
        alert["note"],
        "Refund approved; she needs the return label."
    );
    let entry = audit
        .until(|f| f["type"] == "audit_entry" && f["entry"]["action"] == "transfer")
        .await;
    assert_eq!(entry["entry"]["actor"]["id"], "hold");
    assert_eq!(entry["entry"]["to"], "nora");
    assert_eq!(entry["entry"]["conversation_id"], cid.as_str());
    audit.close().await;
    let seen = visitor.client.until_event("operator_transferred").await;
    // Neither operator saved a profile: the visitor sees "Human" for both, never an account.
    assert_eq!(
        (seen["from"]["name"].as_str(), seen["to"]["name"].as_str()),
        (Some("Human"), Some("Human"))
    );
    assert!(!seen.to_string().contains("account"), "{seen}");
    let opened = nora.open(&cid).await;
    assert!(
        opened["notes"].as_array().is_some_and(|n| n
            .iter()
            .any(|n| n["text"] == "Refund approved; she needs the return label.")),
        "the note is kept with the conversation: {opened}"
    );
    assert_eq!(opened["control"]["holder"]["id"], "nora");
    // Only the holder writes now: Nora yes, the previous holder no.
    assert_eq!(
        nora.say(&cid, "n-1", "Nora here, I have your refund.")
            .await["type"],
        "ack"
    );
    assert_eq!(
        holder.say(&cid, "h-1", "still me?").await["code"],
        "not_holder"
    );
    // Nils, online on the list all along, was not alerted: his next frame of that kind is the
    // one a later transfer to him sends (checked in the races below).
    let release =
        json!({"type": "release", "conversation_id": cid, "force": false, "epoch": epoch(&moved)});
    nora.send(release).await;
    assert_eq!(
        answer(&mut nora, &cid).await["control"]["holder"]["kind"],
        "ai"
    );
    visitor.client.close().await;

    // The races: each round the holder takes over again, then four frames race under the epoch
    // they saw, from four dashboards on different nodes.
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut visitor = Visitor::connect(lb, None, None).await;
    let cid = visitor.conversation_id.clone();
    let mut clients = vec![holder, boss1, boss2, taker];
    for round in 0..ROUNDS {
        let e = epoch(&clients[0].takeover(&cid).await);
        let barrier = Arc::new(Barrier::new(clients.len()));
        let frames = [
            json!({"type": "transfer", "conversation_id": cid, "to": "nora", "epoch": e}),
            json!({"type": "transfer", "conversation_id": cid, "to": "nils", "epoch": e, "note": format!("round {round}")}),
            json!({"type": "release", "conversation_id": cid, "force": true, "epoch": e}),
            json!({"type": "takeover", "conversation_id": cid}),
        ];
        let tasks: Vec<_> = clients
            .drain(..)
            .zip(frames)
            .enumerate()
            .map(|(i, (mut c, frame))| {
                let (barrier, cid) = (barrier.clone(), cid.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    // The transfers read the team and the recipient's profile before their
                    // store step: the release and the takeover start 0–3 ms late, so that
                    // every order of arrival occurs (an interleaving generator, not a wait).
                    if i >= 2 {
                        tokio::time::sleep(Duration::from_micros(jitter_us(round, i))).await;
                    }
                    c.send(frame).await;
                    let a = answer(&mut c, &cid).await;
                    (c, a)
                })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            let (c, a) = t.await.expect("join");
            clients.push(c);
            answers.push(a);
        }
        let won: Vec<bool> = answers.iter().map(|a| a["type"] == "control").collect();
        // Of the three under the epoch, exactly one; the takeover wins only after the release.
        assert_eq!(
            won[..3].iter().filter(|w| **w).count(),
            1,
            "round {round}: {answers:?}"
        );
        for a in &answers[..3] {
            if a["type"] == "error" {
                assert_eq!(a["code"], "control_changed", "round {round}: {a}");
            }
        }
        if won[3] {
            assert!(
                won[2],
                "round {round}: a takeover won while held: {answers:?}"
            );
        } else {
            assert_eq!(answers[3]["code"], "already_controlled", "round {round}");
        }
        let outcome = match (won[0], won[1], won[2], won[3]) {
            (true, ..) => "transferred to nora",
            (_, true, ..) => "transferred to nils",
            (.., true, true) => "force-released, then taken over",
            _ => "force-released",
        };
        *outcomes.entry(outcome).or_default() += 1;
        // The recipient is alerted; then everything goes back to the AI for the next round.
        let back = if won[0] {
            nora.until_type("transfer_received").await;
            let s = json!({"type": "release", "conversation_id": cid, "force": false});
            nora.send(s).await;
            answer(&mut nora, &cid).await
        } else if won[1] {
            let alert = nils.until_type("transfer_received").await;
            assert_eq!(alert["note"], format!("round {round}"));
            let s = json!({"type": "release", "conversation_id": cid, "force": false});
            nils.send(s).await;
            answer(&mut nils, &cid).await
        } else if won[3] {
            clients[3].release(&cid).await
        } else {
            answers[2].clone()
        };
        assert_eq!(
            back["control"]["holder"]["kind"], "ai",
            "round {round}: {back}"
        );
        // The visitor's side agrees: the round's events are exactly the winners', at
        // consecutive epochs, up to the one that gave the conversation back to the AI.
        let last = epoch(&back);
        let mut seen = Vec::new();
        while seen.last().is_none_or(|(_, at)| *at != last) {
            let ev = visitor.client.until_type("event").await["event"].clone();
            if let Some(at) = ev["epoch"].as_u64() {
                seen.push((ev["type"].as_str().unwrap_or("").to_owned(), at));
            }
        }
        let expected: &[&str] = if won[0] || won[1] {
            &["operator_joined", "operator_transferred", "operator_left"]
        } else if won[3] {
            &[
                "operator_joined",
                "operator_left",
                "operator_joined",
                "operator_left",
            ]
        } else {
            &["operator_joined", "operator_left"]
        };
        let types: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(types, expected, "round {round}: {seen:?}");
        let epochs: Vec<u64> = seen.iter().map(|(_, at)| *at).collect();
        assert_eq!(
            epochs,
            (e..e + expected.len() as u64).collect::<Vec<_>>(),
            "round {round}"
        );
    }
    println!("transfer races: {ROUNDS} rounds, outcomes {outcomes:?}");
    assert!(
        outcomes.len() >= 2,
        "the races went more than one way: {outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ai_never_speaks_while_a_conversation_changes_hands() {
    // The assistant answers 50 ms after each visitor message, so any moment at which the AI
    // held the conversation would show as an AI frame.
    let cluster = Cluster::builder("transfer-fence")
        .assistant_delay_ms(50)
        .start()
        .await;
    let lb = cluster.lb();
    let mut a = dashboard(lb, "ana", "operator").await;
    let mut b = dashboard(lb, "ben", "operator").await;
    let mut visitor = Visitor::connect(lb, None, None).await;
    let cid = visitor.conversation_id.clone();
    let mut watcher = Client::operator(lb, &operator_token("watcher")).await;
    watcher.open(&cid).await;
    let mut e = epoch(&a.takeover(&cid).await);
    let mut ana_holds = true;
    for i in 0..60u64 {
        // The visitor writes as the conversation changes hands: at no moment may the AI answer.
        visitor
            .client
            .send(json!({"type": "message", "client_id": format!("v-{i}"), "text": "are you still there?"}))
            .await;
        let (from, to) = if ana_holds {
            (&mut a, "ben")
        } else {
            (&mut b, "ana")
        };
        from.send(json!({"type": "transfer", "conversation_id": cid, "to": to, "epoch": e}))
            .await;
        e = epoch(&answer(from, &cid).await);
        ana_holds = !ana_holds;
    }
    // Whatever a generation could have started has finished on every node; a marker from the
    // holder then follows everything published before it.
    cluster.generations_finished().await;
    let holder = if ana_holds { &mut a } else { &mut b };
    let ack = holder.say(&cid, "marker", "marker").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    for (who, socket) in [("visitor", &mut visitor.client), ("watcher", &mut watcher)] {
        let mut frames = Vec::new();
        loop {
            let f = socket.frame().await;
            let done = f["type"] == "event" && f["event"]["text"] == "marker";
            frames.push(f);
            if done {
                break;
            }
        }
        let ai: Vec<&Value> = frames
            .iter()
            .filter(|f| match f["type"].as_str() {
                Some("ai_draft") => true,
                Some("typing") => f["author"]["kind"] == "ai",
                Some("event") => f["event"]["author"]["kind"] == "ai",
                _ => false,
            })
            .collect();
        assert!(
            ai.is_empty(),
            "{who} got AI frames while operators held it: {ai:?}"
        );
        let transfers = frames
            .iter()
            .filter(|f| f["event"]["type"] == "operator_transferred")
            .count();
        assert_eq!(transfers, 60, "{who} saw every hand-over once");
        if who == "visitor" {
            let acks = frames.iter().filter(|f| f["type"] == "ack").count();
            assert_eq!(acks, 60, "every visitor message was stored");
        }
    }
    let history = system::client::history(lb, &cid).await;
    assert!(
        !history.iter().any(|e| e["author"]["kind"] == "ai"),
        "no AI message was stored"
    );
}
