//! A real Prometheus scrapes the three nodes of a cluster every second (OpenMetrics text, from
//! `prometheus-client`): every node is up, every series docs/operations.md documents exists on
//! each of them under its documented name, and the series move when a visitor writes, an
//! operator takes over, answers and hands back, all through nginx. Asserted in PromQL over
//! Prometheus's HTTP API, polled until true or a deadline.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use system::prometheus::{JOB, Prometheus};
use system::{Client, Cluster, Visitor, operator_token};

/// A failure guard only: scraped every second, each condition holds within a few.
const DEADLINE: Duration = Duration::from_secs(15);

/// The sample names of the Metrics table in docs/operations.md, each with its label if the row
/// names one (`tc_connections{kind}`). A histogram's row names its family: Prometheus stores its
/// `_bucket`, `_sum` and `_count` samples.
fn documented() -> Vec<(String, Option<String>)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/operations.md");
    let doc = std::fs::read_to_string(path).expect("docs/operations.md");
    let section = doc
        .split("\n## Metrics\n")
        .nth(1)
        .expect("a Metrics section in docs/operations.md");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut names = Vec::new();
    for row in section.lines().filter(|l| l.starts_with("| `tc_")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let series = cells[1].trim_matches('`');
        let (name, label) = match series.split_once('{') {
            Some((name, label)) => (name, Some(label.trim_end_matches('}').to_owned())),
            None => (series, None),
        };
        if cells[2] == "histogram" {
            for suffix in ["_bucket", "_sum", "_count"] {
                names.push((format!("{name}{suffix}"), None));
            }
        } else {
            names.push((name.to_owned(), label));
        }
    }
    assert!(
        names.len() > 20,
        "the Metrics table of docs/operations.md was not read: {names:?}"
    );
    names
}

/// Poll `check` (a query of Prometheus's own state) until it holds; panic with its last
/// complaint after [`DEADLINE`].
async fn until<T>(what: &str, mut check: impl AsyncFnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) if Instant::now() > deadline => {
                panic!("{what}: not within {DEADLINE:?}; last: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_three_nodes_and_sees_them_move() {
    let started = Instant::now();
    let cluster = Cluster::builder("prometheus").start().await;
    let targets: Vec<_> = cluster.nodes.iter().map(|n| n.addr).collect();
    let prom = Prometheus::start(&cluster.dir.0.join("prometheus"), &targets).await;

    // Scraped and parsed: a target whose exposition Prometheus cannot read is `up` 0.
    until("up{job=\"hub\"} is 1 for three targets", async || {
        let up = prom.query(&format!("up{{job=\"{JOB}\"}}")).await;
        let ok = up.iter().filter(|s| s.value == 1.0).count();
        if ok == 3 && up.len() == 3 {
            Ok(())
        } else {
            Err(format!("{up:?}"))
        }
    })
    .await;

    // Every documented series on every node before any traffic (created at 0 with the node):
    // these first samples are what `increase` measures from below.
    let documented = documented();
    let per_node =
        format!("count by (__name__, instance) ({{job=\"{JOB}\", __name__=~\"tc_.+\"}})");
    until("every documented series on every node", async || {
        let mut nodes: BTreeMap<String, usize> = BTreeMap::new();
        for s in prom.query(&per_node).await {
            *nodes.entry(s.label("__name__").to_owned()).or_default() += 1;
        }
        let missing: Vec<&str> = documented
            .iter()
            .map(|(name, _)| name.as_str())
            .filter(|name| nodes.get(*name) != Some(&3))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("missing on some node: {missing:?}"))
        }
    })
    .await;
    for (name, label) in documented
        .iter()
        .filter_map(|(n, l)| Some((n, l.as_ref()?)))
    {
        let labelled = prom
            .query(&format!(
                "count by (instance) ({name}{{job=\"{JOB}\", {label}!=\"\"}})"
            ))
            .await;
        assert_eq!(
            labelled.len(),
            3,
            "{name} by {label} on every node: {labelled:?}"
        );
    }
    println!(
        "prometheus: 3 nodes up, {} documented series on each ({:.1} s)",
        documented.len(),
        started.elapsed().as_secs_f64()
    );

    // The traffic, through nginx: a visitor's message, a takeover, an answer, the hand-back.
    let lb = cluster.lb();
    let mut visitor = Visitor::connect(lb, None, None).await;
    let cid = visitor.conversation_id.clone();
    visitor.say("v1", "Where is my order?").await;
    let mut martin = Client::operator(lb, &operator_token("martin")).await;
    martin.open(&cid).await;
    let taken = martin.takeover(&cid).await;
    assert_eq!(taken["type"], "control", "{taken}");
    let ack = martin.say(&cid, "o1", "It left the warehouse today.").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let ended = martin.release(&cid).await;
    assert_eq!(ended["type"], "control", "{ended}");

    // Both clients stay connected until every condition holds: `tc_connections` counts them.
    let moved = [
        "sum(increase(tc_messages_in_total{job=\"hub\", from=\"visitor\"}[1m]))",
        "sum(increase(tc_messages_in_total{job=\"hub\", from=\"operator\"}[1m]))",
        "sum(tc_takeovers_total{job=\"hub\"})",
        "sum(tc_releases_total{job=\"hub\", reason=\"ended\"})",
        "sum(tc_connections{job=\"hub\"})",
        "sum(increase(tc_frames_out_total{job=\"hub\"}[1m]))",
        "sum(increase(tc_store_latency_seconds_count{job=\"hub\"}[1m]))",
        "sum(increase(tc_delivery_latency_seconds_count{job=\"hub\"}[1m]))",
    ];
    let values = until("the series moved under traffic", async || {
        let mut values = Vec::new();
        let mut still = Vec::new();
        for q in moved {
            match prom.scalar(q).await {
                Some(v) if v > 0.0 => values.push(format!("{q} = {v}")),
                other => still.push(format!("{q} = {other:?}")),
            }
        }
        if still.is_empty() {
            Ok(values)
        } else {
            Err(still.join("; "))
        }
    })
    .await;
    for v in values {
        println!("prometheus: {v}");
    }
    println!(
        "prometheus: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    drop((visitor, martin));
}
