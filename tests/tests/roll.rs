//! A rolling upgrade under traffic: three nodes behind nginx, conversations held by operators
//! with both sides sending, and an AI reply being written; each node in turn gets SIGTERM,
//! tells its clients `going_away`, drains and exits, and a new process takes its place on the
//! same address. Nothing is lost or seen twice, every holder keeps their conversation, the AI
//! never speaks in a held one, the reply in flight is stored once, and every client is back
//! within the drain window.

use std::time::Duration;

use serde_json::Value;
use system::participant::View;
use system::{Client, Cluster, Flow, Visitor, check, operator_token};

const PAIRS: usize = 4;
const MESSAGES: usize = 80;
const INTERVAL: Duration = Duration::from_millis(20);
/// The nodes' drain (`--shutdown-grace-ms`): each client must be back within it.
const DRAIN: Duration = Duration::from_secs(5);

fn ai_messages_after_a_takeover(history: &[Value]) -> usize {
    let mut held = false;
    let mut spoke = 0;
    for e in history {
        match e["type"].as_str() {
            Some("operator_joined" | "operator_transferred") => held = true,
            Some("operator_left") => held = false,
            Some("message") if held && e["author"]["kind"] == "ai" => spoke += 1,
            _ => {}
        }
    }
    spoke
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_traffic_loses_nothing_and_keeps_every_holder() {
    let mut cluster = Cluster::builder("roll")
        // The AI takes a while over its reply: one is being written when its node is rolled.
        .assistant_delay_ms(1_500)
        .arg("--shutdown-grace-ms", &DRAIN.as_millis().to_string())
        .start()
        .await;
    let lb = cluster.lb();

    // Held conversations, visitor and holder on different nodes, both sending.
    let mut flows = Vec::new();
    for i in 0..PAIRS {
        let (flow, _, _) =
            Flow::visitor_and_operator_apart(lb, &format!("holder-{i}"), MESSAGES, INTERVAL).await;
        flows.push(flow);
    }
    for f in &mut flows {
        f.until_acked(|a| a["visitor"] >= 5 && a["martin"] >= 5)
            .await;
    }

    // A conversation the AI holds, whose reply is being written as the roll starts.
    let mut asker = Visitor::connect(lb, None, None).await;
    let asked_on = asker.client.node;
    let asker_cid = asker.conversation_id.clone();
    asker.say("ask-1", "Where is my parcel?").await;
    asker
        .client
        .until(|f| f["type"] == "typing" && f["author"]["kind"] == "ai" && f["active"] == true)
        .await;

    // Roll: the asker's node first (its reply in flight), then the others.
    let first = cluster
        .nodes
        .iter()
        .position(|n| n.addr == asked_on)
        .expect("the asker's node");
    let order: Vec<usize> = std::iter::once(first)
        .chain((0..cluster.nodes.len()).filter(|i| *i != first))
        .collect();
    let rolled = std::time::Instant::now();
    for i in order {
        let clean = cluster.replace_node(i).await;
        assert!(clean, "node {i} drained and exited 0");
        println!(
            "roll: node {i} replaced after {:.2} s",
            rolled.elapsed().as_secs_f64()
        );
    }
    let roll_secs = rolled.elapsed().as_secs_f64();

    let mut offline: Vec<Duration> = Vec::new();
    for (i, flow) in flows.into_iter().enumerate() {
        let cid = flow_conversation(&flow);
        let (views, history) = flow.finish().await;
        let sent = check(&format!("roll pair {i}"), &views, &history);
        assert_eq!(sent, 2 * MESSAGES);
        assert_eq!(
            ai_messages_after_a_takeover(&history),
            0,
            "pair {i}: the AI spoke"
        );
        offline.extend(views.iter().flat_map(|v: &View| v.offline.iter().copied()));
        // The holder kept the conversation through every restart.
        let mut reader = Client::operator(lb, &operator_token("roll-reader")).await;
        let h = reader.open(&cid).await;
        assert_eq!(
            h["control"]["holder"]["id"],
            format!("holder-{i}"),
            "pair {i}: {}",
            h["control"]
        );
    }
    let worst = offline.iter().max().copied().unwrap_or_default();
    assert!(
        worst <= DRAIN,
        "a client was without a socket for {worst:?}, beyond the drain window"
    );

    // The reply in flight was stored exactly once, and the asker (reconnected) has it.
    let history = system::client::history(lb, &asker_cid).await;
    let ai: Vec<&Value> = history
        .iter()
        .filter(|e| e["type"] == "message" && e["author"]["kind"] == "ai")
        .collect();
    assert_eq!(ai.len(), 1, "one AI reply: {history:?}");
    let back = Visitor::connect(lb, Some(&asker.token), None).await;
    assert!(
        back.history["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["author"]["kind"] == "ai"),
        "the asker sees the reply"
    );
    println!(
        "roll: 3 nodes replaced in {roll_secs:.2} s; {} reconnects, without a socket at most \
         {:.0} ms (median {:.0} ms)",
        offline.len(),
        worst.as_secs_f64() * 1e3,
        median(&mut offline).as_secs_f64() * 1e3
    );
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn flow_conversation(flow: &Flow) -> String {
    flow.conversation_id().to_owned()
}
