//! The load generator's reconnect storm, small, on a real cluster: visitors on one node, the
//! node killed with SIGKILL, everyone back on the others by token and `last_seq`. Keeps the
//! `storm` scenario of `./scripts/bench.sh` working; no timing is asserted.

use clap::Parser;
use loadgen::{Cli, Scenario};
use system::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_s_visitors_all_resume_elsewhere() {
    let cluster = Cluster::builder("storm").start().await;
    let pid = cluster.nodes[0].pid().expect("node 0 runs").to_string();
    let urls: Vec<String> = cluster
        .nodes
        .iter()
        .map(|n| format!("ws://{}", n.addr))
        .collect();
    let mut args = vec!["loadgen".to_owned()];
    for u in &urls {
        args.extend(["--url".to_owned(), u.clone()]);
    }
    args.extend(
        [
            "storm",
            "--connections",
            "150",
            "--victim",
            "0",
            "--kill-pid",
            &pid,
            "--backoff-ms",
            "100",
        ]
        .map(str::to_owned),
    );
    let cli = Cli::parse_from(args);
    let Scenario::Storm(storm) = &cli.scenario else {
        unreachable!()
    };
    let report = loadgen::storm::run(&cli.target, storm)
        .await
        .expect("storm run");
    println!("{}", report.text);
    assert_eq!(report.resumed, report.visitors, "{}", report.text);
    assert_eq!(report.failed, 0, "{}", report.text);
    assert_eq!(report.lost, 0, "{}", report.text);
    assert_eq!(report.duplicated, 0, "{}", report.text);
}
