//! A rolling upgrade under traffic: three nodes behind nginx, conversations held by operators
//! with both sides sending, and an AI reply being written; each node in turn gets SIGTERM,
//! tells its clients `going_away`, drains and exits, and a new process takes its place on the
//! same address. Nothing is lost or seen twice, every holder keeps their conversation, the AI
//! never speaks in a held one, the reply in flight is stored once, and every client is back
//! within the drain window.

use std::time::Duration;

use serde_json::Value;
use system::{Client, Cluster, Flow, Visitor, check, operator_token};

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

/// What a roll measured.
struct Rolled {
    secs: f64,
    reconnects: usize,
    offline_max: Duration,
    offline_median: Duration,
    /// Send → ack, messages sent while nodes were being replaced, and all of the run.
    ack_p99_rolling: Duration,
    ack_p99_all: Duration,
    messages: usize,
}

/// `pairs` held conversations (visitor and holder on different nodes, `messages` each every
/// `interval`) and one AI reply in flight; every node replaced in turn; everything checked.
async fn roll(pairs: usize, messages: usize, interval: Duration) -> Rolled {
    let mut cluster = Cluster::builder("roll")
        // The AI takes a while over its reply: one is being written when its node is rolled.
        .assistant_delay_ms(1_500)
        .arg("--shutdown-grace-ms", &DRAIN.as_millis().to_string())
        .start()
        .await;
    let lb = cluster.lb();

    // Held conversations, visitor and holder on different nodes, both sending.
    let mut flows = Vec::new();
    for i in 0..pairs {
        let (flow, _, _) =
            Flow::visitor_and_operator_apart(lb, &format!("holder-{i}"), messages, interval).await;
        flows.push(flow);
    }
    let warm = (messages / 16).max(1);
    for f in &mut flows {
        f.until_acked(|a| a["visitor"] >= warm && a["martin"] >= warm)
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
    let started = std::time::Instant::now();
    for i in order {
        let clean = cluster.replace_node(i).await;
        assert!(clean, "node {i} drained and exited 0");
        println!(
            "roll: node {i} replaced after {:.2} s",
            started.elapsed().as_secs_f64()
        );
    }
    let ended = std::time::Instant::now();

    let mut offline: Vec<Duration> = Vec::new();
    let (mut rolling, mut all) = (Vec::new(), Vec::new());
    for (i, flow) in flows.into_iter().enumerate() {
        let cid = flow.conversation_id().to_owned();
        let (views, history) = flow.finish().await;
        let sent = check(&format!("roll pair {i}"), &views, &history);
        assert_eq!(sent, 2 * messages);
        assert_eq!(
            ai_messages_after_a_takeover(&history),
            0,
            "pair {i}: the AI spoke"
        );
        for v in &views {
            offline.extend(v.offline.iter().copied());
            for &(at, took) in &v.ack_latency {
                all.push(took);
                if at >= started && at <= ended {
                    rolling.push(took);
                }
            }
        }
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
    let offline_max = offline.iter().max().copied().unwrap_or_default();
    assert!(
        offline_max <= DRAIN,
        "a client was without a socket for {offline_max:?}, beyond the drain window"
    );

    // The reply in flight was stored exactly once, and the asker (reconnected) has it.
    let history = system::client::history(lb, &asker_cid).await;
    let ai = history
        .iter()
        .filter(|e| e["type"] == "message" && e["author"]["kind"] == "ai")
        .count();
    assert_eq!(ai, 1, "one AI reply: {history:?}");
    let back = Visitor::connect(lb, Some(&asker.token), None).await;
    assert!(
        back.history["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["author"]["kind"] == "ai"),
        "the asker sees the reply"
    );
    Rolled {
        secs: ended.duration_since(started).as_secs_f64(),
        reconnects: offline.len(),
        offline_median: quantile(&mut offline, 0.5),
        offline_max,
        ack_p99_rolling: quantile(&mut rolling, 0.99),
        ack_p99_all: quantile(&mut all, 0.99),
        messages: all.len(),
    }
}

fn report(r: &Rolled) -> String {
    format!(
        "roll: 3 nodes replaced in {:.2} s; {} messages; send→ack p99 {:.1} ms while rolling, \
         {:.1} ms over the run; {} reconnects, without a socket at most {:.0} ms (median {:.0} ms)",
        r.secs,
        r.messages,
        r.ack_p99_rolling.as_secs_f64() * 1e3,
        r.ack_p99_all.as_secs_f64() * 1e3,
        r.reconnects,
        r.offline_max.as_secs_f64() * 1e3,
        r.offline_median.as_secs_f64() * 1e3,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_traffic_loses_nothing_and_keeps_every_holder() {
    let r = roll(4, 80, Duration::from_millis(20)).await;
    println!("{}", report(&r));
}

/// `./scripts/bench.sh roll`: the same under load (`ROLL_PAIRS` held conversations, 100 by
/// default, each side sending `ROLL_MESSAGES` (400) every `ROLL_INTERVAL_MS` (20) ms).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: ./scripts/bench.sh roll"]
async fn roll_under_load() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let r = roll(
        env("ROLL_PAIRS", 100) as usize,
        env("ROLL_MESSAGES", 400) as usize,
        Duration::from_millis(env("ROLL_INTERVAL_MS", 20)),
    )
    .await;
    println!("ROLL {}", report(&r));
}

fn quantile(v: &mut [Duration], q: f64) -> Duration {
    v.sort();
    let at = ((v.len() as f64 * q) as usize).min(v.len().saturating_sub(1));
    v.get(at).copied().unwrap_or_default()
}
