//! The load generator against an in-process hub, briefly and gently: every message accounted
//! for. No timing is asserted.

use clap::Parser;
use loadgen::{Cli, Scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_delivers_everything_once() {
    let hub = hub::server::build(hub::Config::for_tests(), None)
        .await
        .expect("build hub");
    let running = hub::server::start(hub).await.expect("start hub");
    let url = format!("ws://{}", running.addr);
    let cli = Cli::parse_from([
        "loadgen",
        "--url",
        &url,
        "relay",
        "--visitors",
        "6",
        "--operators",
        "2",
        "--rate",
        "60",
        "--operator-rate",
        "20",
        "--warmup-secs",
        "0.5",
        "--duration-secs",
        "2",
        "--drain-secs",
        "10",
        "--operator-jwt-secret",
        hub::dev::DEV_OPERATOR_SECRET,
        // One owner on the team view, and the JSON lines: the team benchmark's additions.
        "--owners",
        "1",
        "--json",
    ]);
    let Scenario::Relay(args) = &cli.scenario else {
        unreachable!()
    };
    let report = loadgen::relay::run(&cli.target, args)
        .await
        .expect("relay run");
    eprintln!("{}", report.text);
    let acc = &report.accounting;
    assert_eq!(acc.lost, 0, "{}", report.text);
    assert_eq!(acc.duplicated, 0, "{}", report.text);
    assert_eq!(acc.seq_gaps, 0, "{}", report.text);
    assert_eq!(acc.closed, 0, "{}", report.text);
    assert!(acc.acked > 0, "{}", report.text);
    let step = &report.steps[0];
    assert!(
        step.visitor_sent > 0 && step.operator_sent > 0,
        "{}",
        report.text
    );
    assert_eq!(
        step.delivered,
        step.visitor_sent + step.operator_sent,
        "{}",
        report.text
    );
    assert_eq!(step.errors, 0, "{}", report.text);
    assert_eq!(
        (report.takeovers_answered, report.takeovers_timed_out),
        (6, 0),
        "{}",
        report.text
    );
    assert!(
        report
            .text
            .lines()
            .any(|l| l.starts_with("JSON {") && l.contains(r#""kind":"wave""#)),
        "{}",
        report.text
    );
    running.shutdown().await;
}

#[tokio::test]
async fn idle_holds_connections() {
    let hub = hub::server::build(hub::Config::for_tests(), None)
        .await
        .expect("build hub");
    let running = hub::server::start(hub).await.expect("start hub");
    let url = format!("ws://{}", running.addr);
    let cli = Cli::parse_from([
        "loadgen",
        "--url",
        &url,
        "idle",
        "--connections",
        "20",
        "--settle-secs",
        "0",
    ]);
    let Scenario::Idle(args) = &cli.scenario else {
        unreachable!()
    };
    let report = loadgen::idle::run(&cli.target, args)
        .await
        .expect("idle run");
    assert_eq!(
        (report.connected, report.failed),
        (20, 0),
        "{}",
        report.text
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_relays_everything_once() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("ws://{}", listener.local_addr().expect("addr"));
    let relay = tokio::spawn(loadgen::floor::serve(listener, None, false));
    let report = floor_delivers_all(&[url], &["--visitors", "6", "--operators", "2"]).await;
    // Every frame after the names was acknowledged (operators answer some, so more than sent
    // in the window: warm-up and drain included).
    assert!(report.acked >= report.sent, "{}", report.text);
    relay.abort();
}

/// Two relay-floor nodes on one redis-server. Connections go round robin over the URLs: the
/// one operator and visitors 0 and 2 on node 0, visitors 1 and 3 on node 1, whose frames (and
/// the operator's answers to them) can only cross through Redis pub/sub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_relays_across_nodes_through_redis() {
    let redis = testkit::RedisServer::start().await;
    let (nodes, report) = two_nodes_relay(&redis, false).await;
    let mut redis_conn = redis.manager().await;
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut redis_conn)
        .await
        .expect("info");
    let published: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_publish:calls="))
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // Visitors 1 and 3 send about half the window's visitor frames, all published.
    assert!(
        published * 3 >= report.sent,
        "{published} of {}",
        report.sent
    );
    for node in nodes {
        node.abort();
    }
}

/// `floorp` on two nodes: every acknowledged frame was stored first, in its visitor's
/// conversation, under gap-free sequence numbers, and frames between the nodes still cross.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floorp_stores_every_frame_it_acknowledges() {
    let redis = testkit::RedisServer::start().await;
    let (nodes, report) = two_nodes_relay(&redis, true).await;
    let mut conn = redis.manager().await;
    let mut stored = 0u64;
    for v in 0..4 {
        let (len, seq): (u64, Option<u64>) = redis::pipe()
            .cmd("XLEN")
            .arg(format!("floorp:{{v{v}}}:ev"))
            .cmd("HGET")
            .arg(format!("floorp:{{v{v}}}:m"))
            .arg("seq")
            .query_async(&mut conn)
            .await
            .expect("read");
        assert_eq!(
            Some(len),
            seq.or(Some(0)),
            "v{v}: one entry per sequence number"
        );
        stored += len;
    }
    // Acknowledged means stored; a frame stored as the run ends may not have its ack read.
    assert!(
        stored >= report.acked && report.acked > 0,
        "{stored}: {}",
        report.text
    );
    for node in nodes {
        node.abort();
    }
}

/// Two relay-floor nodes on `redis` (storing every frame first with `persist`), and a floor
/// run of four visitors and one operator across them (round robin: the operator and visitors 0
/// and 2 on node 0, visitors 1 and 3 on node 1). The nodes, to stop, and the run's report.
async fn two_nodes_relay(
    redis: &testkit::RedisServer,
    persist: bool,
) -> (
    Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
    loadgen::floor::FloorReport,
) {
    let mut urls = Vec::new();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        urls.push(format!("ws://{}", listener.local_addr().expect("addr")));
        let url = redis.url();
        nodes.push(tokio::spawn(async move {
            loadgen::floor::serve(listener, Some(&url), persist).await
        }));
    }
    let report = floor_delivers_all(
        &urls,
        &[
            "--visitors",
            "4",
            "--operators",
            "1",
            "--operator-ratio",
            "0.5",
        ],
    )
    .await;
    (nodes, report)
}

/// A one-second floor run against `urls` (round robin) at 60 visitor msg/s with `args`: every
/// frame sent in the window arrived.
async fn floor_delivers_all(urls: &[String], args: &[&str]) -> loadgen::floor::FloorReport {
    let mut argv = vec!["loadgen"];
    for url in urls {
        argv.extend(["--url", url.as_str()]);
    }
    argv.extend([
        "floor",
        "--rate",
        "60",
        "--warmup-secs",
        "0",
        "--duration-secs",
        "1",
    ]);
    argv.extend(args);
    let cli = Cli::parse_from(argv);
    let Scenario::Floor(args) = &cli.scenario else {
        unreachable!()
    };
    let report = loadgen::floor::run(&cli.target, args)
        .await
        .expect("floor run");
    eprintln!("{}", report.text);
    assert!(report.sent > 0, "{}", report.text);
    assert_eq!(report.delivered, report.sent, "{}", report.text);
    report
}
