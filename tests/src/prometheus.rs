//! A real Prometheus (Debian's `prometheus` package; `./scripts/test.sh` installs it) scraping a
//! cluster's nodes, and PromQL over its HTTP API.
//!
//! It runs in a directory the caller owns (its configuration, its TSDB, its log), on a free port,
//! and is ready when its own `/-/ready` says so. Dropping it kills it and waits for the exit.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::process::{Child, Command};

use crate::WAIT;

/// The binary of Debian's package.
const PROMETHEUS: &str = "prometheus";

/// The scrape job of the nodes: `up{job="hub"}`.
pub const JOB: &str = "hub";

/// One `prometheus` process.
#[derive(Debug)]
pub struct Prometheus {
    pub addr: SocketAddr,
    child: Child,
    pub log: PathBuf,
}

/// One element of an instant vector: its labels and its value.
#[derive(Debug, Clone)]
pub struct Sample {
    pub labels: serde_json::Map<String, Value>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).and_then(Value::as_str).unwrap_or("")
    }
}

impl Prometheus {
    /// The configuration: the nodes in one job, scraped every second.
    pub fn config(targets: &[SocketAddr]) -> String {
        let targets: Vec<String> = targets.iter().map(|a| format!("'{a}'")).collect();
        format!(
            "global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: {JOB}
    static_configs:
      - targets: [{}]
",
            targets.join(", ")
        )
    }

    /// Start it in `dir` (created if missing), scraping `targets`; returns once it is ready.
    pub async fn start(dir: &Path, targets: &[SocketAddr]) -> Prometheus {
        std::fs::create_dir_all(dir).expect("prometheus dir");
        let conf = dir.join("prometheus.yml");
        std::fs::write(&conf, Self::config(targets)).expect("write prometheus.yml");
        let log = dir.join("prometheus.log");
        // A port probed free may be taken before Prometheus binds it: then it exits, and the
        // next try takes another.
        for _ in 0..5 {
            let port = crate::cluster::free_port();
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let file = std::fs::File::create(&log).expect("prometheus log");
            let child = Command::new(PROMETHEUS)
                .arg(format!("--config.file={}", conf.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("data").display()
                ))
                .arg(format!("--web.listen-address={addr}"))
                .stdout(Stdio::null())
                .stderr(Stdio::from(file))
                .kill_on_drop(true)
                .spawn()
                .expect("prometheus is installed (./scripts/test.sh installs it)");
            let mut p = Prometheus {
                addr,
                child,
                log: log.clone(),
            };
            let deadline = Instant::now() + WAIT;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = p.child.try_wait() {
                    break;
                }
                if let Ok((200, _)) = get(addr, "/-/ready").await {
                    return p;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            p.stop();
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        panic!("prometheus did not start; its log:\n{text}");
    }

    /// An instant query; panics unless Prometheus answers `success` with a vector.
    pub async fn query(&self, promql: &str) -> Vec<Sample> {
        let path = format!("/api/v1/query?query={}", percent_encode(promql));
        let (status, body) = get(self.addr, &path)
            .await
            .unwrap_or_else(|e| panic!("query {promql}: {e}"));
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("query {promql}: {e} in {body:?}"));
        assert!(
            status == 200 && v["status"] == "success" && v["data"]["resultType"] == "vector",
            "query {promql}: {status} {body}"
        );
        v["data"]["result"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|s| Sample {
                        labels: s["metric"].as_object().cloned().unwrap_or_default(),
                        value: s["value"][1]
                            .as_str()
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(f64::NAN),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The single value of a query that aggregates to one element (`sum(...)`), or `None` while
    /// it has no data.
    pub async fn scalar(&self, promql: &str) -> Option<f64> {
        let samples = self.query(promql).await;
        assert!(samples.len() <= 1, "{promql}: {samples:?}");
        samples.first().map(|s| s.value)
    }

    /// Kill it and wait for the exit; its pid if it is somehow still alive.
    fn stop(&mut self) -> Option<u32> {
        testkit::kill_and_wait(&mut self.child)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(pid) = self.stop()
            && !std::thread::panicking()
        {
            panic!("prometheus (pid {pid}) outlived its test");
        }
    }
}

/// `GET path` as HTTP/1.0: the answer ends with the connection, never chunked (Go's server
/// chunks a larger HTTP/1.1 body, and query results are large).
async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    crate::client::exchange(
        addr,
        &format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n"),
    )
    .await
}

/// A query string's value: every byte but the unreserved ones as `%XX`.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            percent_encode("up{job=\"hub\"} > 0"),
            "up%7Bjob%3D%22hub%22%7D%20%3E%200"
        );
    }

    #[test]
    fn the_config_lists_every_node_in_one_job() {
        let a: SocketAddr = ([127, 0, 0, 1], 1).into();
        let b: SocketAddr = ([127, 0, 0, 1], 2).into();
        let c = Prometheus::config(&[a, b]);
        assert!(c.contains("job_name: hub"));
        assert!(c.contains("targets: ['127.0.0.1:1', '127.0.0.1:2']"), "{c}");
    }
}
