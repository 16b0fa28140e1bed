//! A Redis primary dies under load: `kill -9` of the Redis Cluster master that owns a busy
//! conversation's slot, and of the Sentinel primary, while a visitor on one hub and the operator
//! holding the conversation on another are talking. Redis promotes a replica by itself; the hubs
//! follow it (Cluster: redis-rs's slot map; Sentinel: the heartbeat asks the sentinels).
//!
//! Asserted: every acknowledged message is stored and delivered exactly once after catch-up; the
//! conversation keeps its holder (no `operator_left`, one `operator_joined`); no AI message
//! reaches it; the kill did stop writes for a while (no acknowledgement for at least half a
//! second); and meanwhile the clients were told at most `unavailable` (retryable), or had their
//! write wait for the new primary, never an error they cannot act on (the participants fail on
//! any other). The window from the kill until both sides' messages are acknowledged again is
//! printed.

use std::time::{Duration, Instant};

use serde_json::Value;
use system::{Cluster, Flow, WORKSPACE, check};

const MESSAGES: usize = 150;

/// The conversation kept its holder and the AI stayed out of it.
fn held_throughout(label: &str, history: &[Value]) {
    let joined = history
        .iter()
        .filter(|e| e["type"] == "operator_joined")
        .count();
    let left = history
        .iter()
        .filter(|e| e["type"] == "operator_left")
        .count();
    let ai = history
        .iter()
        .filter(|e| e["type"] == "message" && e["author"]["kind"] == "ai")
        .count();
    println!("{label}: operator_joined {joined}, operator_left {left}, AI messages {ai}");
    assert_eq!((joined, left, ai), (1, 0, 0), "{history:?}");
}

/// Wait until both sides have `more` acknowledgements beyond those they had when `killed` was
/// called: the store takes writes again. Returns how long that took from the kill.
async fn until_writes_resume(
    flow: &mut Flow,
    killed: impl std::future::Future<Output = ()>,
    more: usize,
) -> Duration {
    let from = (flow.acked()["visitor"], flow.acked()["martin"]);
    let started = Instant::now();
    killed.await;
    flow.until_acked(|a| a["visitor"] >= from.0 + more && a["martin"] >= from.1 + more)
        .await;
    started.elapsed()
}

/// Finish the flow and check what a failover must leave: everything delivered once, the holder
/// kept, no AI, and the clients told to retry while no primary was up.
async fn after_failover(label: &str, flow: Flow, what: &str, window: Duration) {
    let (views, history) = flow.finish().await;
    let sent = check(label, &views, &history);
    assert_eq!(sent, 2 * MESSAGES);
    held_throughout(label, &history);
    let retried: usize = views.iter().map(|v| v.retried).sum();
    let reconnects: usize = views.iter().map(|v| v.reconnects).sum();
    // Messages go out every 10 ms: five acknowledgements take 50 ms while Redis serves.
    assert!(
        window >= Duration::from_millis(500),
        "writes went on through the kill ({window:?}): it was not the conversation's primary"
    );
    println!(
        "{label}: {what}; writes acknowledged again {:.2} s after the kill; {retried} messages \
         refused as unavailable and retried, {reconnects} sockets closed as unavailable and \
         resumed",
        window.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_cluster_master_of_a_busy_conversation_loses_nothing() {
    let mut cluster = Cluster::builder("failover-rc")
        .redis_cluster()
        .start()
        .await;
    let lb = cluster.lb();
    let (mut flow, _, _) =
        Flow::visitor_and_operator_apart(lb, "martin-fo", MESSAGES, Duration::from_millis(10))
            .await;
    let at = MESSAGES / 3;
    flow.until_acked(|a| a["visitor"] >= at && a["martin"] >= at)
        .await;
    // Every key and channel of the workspace carries its hash tag: this master owns them all.
    let tag = format!("{{{WORKSPACE}}}");
    let redis = cluster.redis.cluster();
    let killed = redis.master_of(&tag).await;
    let window = until_writes_resume(
        &mut flow,
        async {
            redis.kill_master_of(&tag).await;
        },
        5,
    )
    .await;
    let promoted = cluster.redis.cluster().master_of(&tag).await;
    assert_ne!(promoted, killed, "a replica took the slot over");

    let what = format!(
        "master :{killed} of the conversation's slot killed with -9 at {at} acks each; replica \
         :{promoted} promoted"
    );
    after_failover("cluster master kill", flow, &what, window).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_sentinel_primary_loses_nothing() {
    let mut cluster = Cluster::builder("failover-sn")
        .redis_sentinel()
        .start()
        .await;
    let lb = cluster.lb();
    let (mut flow, _, _) =
        Flow::visitor_and_operator_apart(lb, "martin-fs", MESSAGES, Duration::from_millis(10))
            .await;
    let at = MESSAGES / 3;
    flow.until_acked(|a| a["visitor"] >= at && a["martin"] >= at)
        .await;
    let killed = cluster.redis.sentinels().primary.port;
    let sentinels = cluster.redis.sentinels();
    let window = until_writes_resume(&mut flow, sentinels.kill_primary_now(), 5).await;
    let promoted = cluster.redis.sentinels().named_primary().await;
    assert_eq!(promoted, Some(cluster.redis.sentinels().replica.port));

    let what = format!(
        "primary :{killed} killed with -9 at {at} acks each; the sentinels promoted :{}",
        promoted.unwrap_or_default()
    );
    after_failover("sentinel primary kill", flow, &what, window).await;
}
