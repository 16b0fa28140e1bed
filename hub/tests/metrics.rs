//! `/metrics` exposes every named series (OpenMetrics text, through `prometheus-client`, under
//! the names docs/operations.md lists), and the counters move when the story runs.

mod common;

use common::{TestHub, http};
use protocol::Role;

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{series} not in\n{text}"))
}

#[tokio::test]
async fn the_counters_follow_the_story() {
    let th = TestHub::start().await;
    let scrape = common::http_bin(th.addr(), "GET", "/metrics", &[], b"").await;
    assert_eq!(scrape.status, 200);
    // The media type Prometheus reads as OpenMetrics, and the format's end marker.
    assert_eq!(
        scrape.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let before = String::from_utf8(scrape.body).expect("utf-8");
    assert!(before.ends_with("# EOF\n"), "{before}");
    assert_eq!(value(&before, "tc_takeovers_total"), 0.0);

    let mut visitor = th.visitor().await;
    let cid = visitor.conversation_id.clone();
    visitor.say("v1", "How long does shipping take?").await;
    visitor
        .client
        .until(|f| f["type"] == "event" && f["event"]["author"]["kind"] == "ai")
        .await;
    let mut martin = th.operator("martin", Role::Operator).await;
    martin.open(&cid).await;
    martin.takeover(&cid).await;
    martin.say(&cid, "o1", "hello").await;
    visitor.client.until_event("message").await;
    martin.release(&cid, false).await;

    let (_, after) = http(th.addr(), "GET", "/metrics", None).await;
    assert_eq!(value(&after, "tc_connections{kind=\"widget\"}"), 1.0);
    assert_eq!(value(&after, "tc_connections{kind=\"operator\"}"), 1.0);
    assert_eq!(value(&after, "tc_messages_in_total{from=\"visitor\"}"), 1.0);
    assert_eq!(
        value(&after, "tc_messages_in_total{from=\"operator\"}"),
        1.0
    );
    assert_eq!(value(&after, "tc_takeovers_total"), 1.0);
    assert_eq!(value(&after, "tc_releases_total{reason=\"ended\"}"), 1.0);
    assert_eq!(
        value(&after, "tc_ai_replies_total{outcome=\"stored\"}"),
        1.0
    );
    assert!(value(&after, "tc_frames_out_total") > value(&before, "tc_frames_out_total"));
    assert!(value(&after, "tc_store_latency_seconds_count") > 0.0);
    assert!(value(&after, "tc_delivery_latency_seconds_count") > 0.0);
    for series in [
        "tc_slow_consumer_closes_total",
        "tc_bus_resyncs_total",
        "tc_catch_ups_total",
        "tc_store_errors_total",
        "tc_bus_publish_errors_total",
        "tc_ai_failures_total{kind=\"timeout\"}",
        "tc_human_requests_expired_total",
        "tc_follow_ups_total",
        "tc_follow_up_emails_total{outcome=\"sent\"}",
        "tc_follow_up_emails_total{outcome=\"retrying\"}",
        "tc_follow_up_emails_total{outcome=\"failed\"}",
        "tc_connects_refused_total",
    ] {
        value(&after, series);
    }
}

#[tokio::test]
async fn a_metrics_token_guards_the_endpoint() {
    let mut config = hub::Config::for_tests();
    config.metrics_token = Some("scrape-me".into());
    let th = TestHub::with(config, None).await;
    assert_eq!(http(th.addr(), "GET", "/metrics", None).await.0, 401);
    let ok = [("Authorization", "Bearer scrape-me")];
    assert_eq!(
        common::http_with(th.addr(), "GET", "/metrics", &ok, None)
            .await
            .0,
        200
    );
    let wrong = [("Authorization", "Bearer guess")];
    assert_eq!(
        common::http_with(th.addr(), "GET", "/metrics", &wrong, None)
            .await
            .0,
        401
    );
}

/// The hot path's cost in store round trips: a holder's message is one append (its session
/// knows it holds the conversation), not a conversation read and then the append.
#[tokio::test]
async fn a_holders_message_costs_one_store_call() {
    const MESSAGES: u32 = 20;
    let th = TestHub::start().await;
    let visitor = th.visitor().await;
    let cid = visitor.conversation_id.clone();
    let mut martin = th.operator("martin", Role::Operator).await;
    martin.open(&cid).await;
    martin.takeover(&cid).await;
    let calls = || async {
        let (_, text) = http(th.addr(), "GET", "/metrics", None).await;
        value(&text, "tc_store_latency_seconds_count")
    };
    let before = calls().await;
    for i in 0..MESSAGES {
        martin.say(&cid, &format!("o{i}"), "hello").await;
    }
    let spent = calls().await - before;
    // One call per message; background work (presence, Online rows) may add a few, but a
    // read per message would double it.
    assert!(spent >= f64::from(MESSAGES), "{spent}");
    assert!(
        spent < f64::from(MESSAGES) * 1.5,
        "{spent} store calls for {MESSAGES} messages"
    );
}

/// What the metrics cost the hot path, per message: the counters a message moves (`messages_in`
/// once, `frames_out` once per frame written) and the two histograms (a store round trip, a
/// delivery), beside a plain `AtomicU64` increment in the same run, on one thread and on two
/// threads sharing the same series (the hub's two workers). A benchmark, not a timed test:
/// `cargo test --release -p take-control-hub --test metrics hot_path_cost -- --ignored --nocapture`.
#[test]
#[ignore = "a benchmark: run it in release with --ignored --nocapture"]
fn hot_path_cost() {
    use std::hint::black_box;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    const N: u64 = 10_000_000;
    const ROUNDS: usize = 5;
    let m = hub::metrics::Metrics::default();
    let plain = AtomicU64::new(0);
    // Spread over the buckets, as store and delivery latencies are.
    let latency = |i: u64| Duration::from_micros(black_box(i % 3_000));
    let cases: [(&str, &(dyn Fn(u64) + Sync)); 5] = [
        ("plain AtomicU64 fetch_add", &|_| {
            plain.fetch_add(1, Ordering::Relaxed);
        }),
        ("messages_in (visitor)", &|_| {
            m.add(&m.messages_in_visitor, 1)
        }),
        ("frames_out", &|_| m.add(&m.frames_out, 1)),
        ("store_latency.observe", &|i| {
            m.store_latency.observe(latency(i))
        }),
        ("delivery_latency.observe", &|i| {
            m.delivery_latency.observe(latency(i))
        }),
    ];
    // Nanoseconds per operation on each thread: the best of the rounds (the least disturbed).
    let run = |f: &(dyn Fn(u64) + Sync), threads: u64| {
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    for i in 0..N {
                        f(black_box(i));
                    }
                });
            }
        });
        start.elapsed().as_secs_f64() * 1e9 / N as f64
    };
    for threads in [1, 2] {
        let mut best = [f64::MAX; 5];
        for _ in 0..ROUNDS {
            for (i, (_, f)) in cases.iter().enumerate() {
                best[i] = best[i].min(run(*f, threads));
            }
        }
        println!("{threads} thread(s), {N} operations each, best of {ROUNDS}:");
        for (i, (name, _)) in cases.iter().enumerate() {
            println!(
                "  {name:<28} {:>6.2} ns  ({:.2}x plain)",
                best[i],
                best[i] / best[0]
            );
        }
    }
}
