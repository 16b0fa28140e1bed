//! The harness itself: a test leaves nothing running.

use system::Cluster;
use system::cluster::{alive, children_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_leaves_no_process_behind_nginx_workers_included() {
    let mut cluster = Cluster::builder("harness").nodes(1).start().await;
    let pids = cluster.pids();
    // Redis, the hub, nginx's master and its worker.
    assert_eq!(pids.len(), 4, "{pids:?}");
    let master = pids[2];
    let workers = children_of(master);
    assert_eq!(workers.len(), 1, "one nginx worker: {workers:?}");
    drop(cluster);
    let left: Vec<u32> = pids.into_iter().filter(|&p| alive(p)).collect();
    assert!(left.is_empty(), "still running after the test: {left:?}");
}
