//! Load generator for the Take Control hub.
//!
//! Visitors and operators speak the real protocol (docs/protocol.md) over real WebSockets to
//! one hub, several, or nginx in front of them. The scenarios:
//!
//! - [`idle`]: hold N widget connections and report what they cost the hub in memory;
//! - [`relay`]: operators take over every conversation (so the assistant is silent), visitors
//!   and operators send evenly paced messages, and every delivery is timed and accounted for
//!   (gap-free sequences, every acknowledged message delivered exactly once);
//! - [`storm`]: visitors on one node, the node is killed, everyone reconnects to the others:
//!   time until all have resumed, lost and duplicated events;
//! - [`drafts`]: AI replies streamed a token at a time: the bytes of their drafts to the visitor
//!   and to a dashboard on each node, and through Redis;
//! - [`floor`]: the same traffic through a relay that only moves frames (`relay-floor`): the
//!   CPU per message the socket calls alone cost on this machine.
//!
//! Hub processes given by pid are sampled from `/proc` around each measured window.

pub mod drafts;
pub mod floor;
pub mod idle;
pub mod procstat;
pub mod relay;
pub mod stats;
pub mod storm;
pub mod wire;

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::procstat::Watched;

#[derive(Debug, Clone, Parser)]
#[command(name = "loadgen", about = "Load generator for the Take Control hub")]
pub struct Cli {
    /// Runtime threads of the generator. One by default: it shares the machine's cores with
    /// what it measures, and on one thread it spends a third less CPU per message than on two
    /// (no cross-thread wake-ups), which leaves the hub more room (docs/benchmarks.md).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: u16,
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub scenario: Scenario,
}

#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Hub (or proxy) base URL, e.g. `ws://127.0.0.1:8080`. Repeat it to spread connections
    /// round robin over several nodes.
    #[arg(long = "url", required = true, num_args = 1)]
    pub urls: Vec<String>,

    /// A hub process to sample (CPU time, RSS) from /proc. Repeatable.
    #[arg(long = "hub-pid")]
    pub hub_pids: Vec<u32>,

    /// Another process to sample, as `LABEL=PID` (e.g. `redis=1234`, `nginx=99`). Repeatable.
    #[arg(long = "pid")]
    pub other_pids: Vec<String>,

    /// Workspace ids, assigned round robin to visitors and to operators. Must exist on the hub.
    #[arg(long = "workspace", default_value = "demo-pro")]
    pub workspaces: Vec<String>,

    /// Shell command run as `CMD EVENT STEP` when a measured window starts (`start`) and ends
    /// (`end`), and in the idle scenario once all are connected (`connected`); e.g. to read
    /// Redis `INFO commandstats`. Awaited (5 s at most).
    #[arg(long)]
    pub hook: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Scenario {
    /// Hold N idle widget connections; report hub RSS per connection.
    Idle(idle::IdleArgs),
    /// Visitors and operators exchange paced messages; report latency, loss, CPU per message.
    Relay(relay::RelayArgs),
    /// Visitors on one node, the node is killed, all reconnect: time to resume, loss.
    Storm(storm::StormArgs),
    /// Drive `relay-floor` (a relay that only moves frames) with the relay's shape: the CPU
    /// per message below which no relay that writes each message at once can go here.
    Floor(floor::FloorArgs),
    /// AI replies streamed token by token (from `fake-openai`): draft bytes per reply to the
    /// visitor and to a dashboard on each URL, and through Redis.
    Drafts(drafts::DraftsArgs),
}

impl Target {
    pub fn url(&self, i: usize) -> &str {
        &self.urls[i % self.urls.len()]
    }

    pub fn workspace(&self, i: usize) -> &str {
        &self.workspaces[i % self.workspaces.len()]
    }

    /// The processes to sample: hubs first, then the others, then the generator itself.
    pub fn watched(&self) -> anyhow::Result<Vec<Watched>> {
        let mut w: Vec<Watched> = self
            .hub_pids
            .iter()
            .enumerate()
            .map(|(i, p)| Watched {
                label: if self.hub_pids.len() == 1 {
                    "hub".into()
                } else {
                    format!("hub{}", i + 1)
                },
                pid: Some(*p),
                is_hub: true,
            })
            .collect();
        for o in &self.other_pids {
            let (label, pid) = o
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--pid wants LABEL=PID, got {o}"))?;
            w.push(Watched {
                label: label.into(),
                pid: Some(pid.parse()?),
                is_hub: false,
            });
        }
        w.push(Watched {
            label: "loadgen".into(),
            pid: None,
            is_hub: false,
        });
        Ok(w)
    }

    /// Run the hook, if any, and wait for it (bounded).
    pub async fn hook(&self, event: &str, step: usize) {
        let Some(cmd) = &self.hook else { return };
        let child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{cmd} {event} {step}"))
            .status();
        match tokio::time::timeout(Duration::from_secs(5), child).await {
            Ok(Ok(s)) if s.success() => {}
            other => eprintln!("loadgen: hook {event} {step}: {other:?}"),
        }
    }
}

/// One measured step, as `./scripts/bench.sh compare` reads it: a line `COMPARE {json}`.
#[derive(Debug, serde::Serialize)]
pub struct CompareRow {
    pub system: &'static str,
    pub rate: f64,
    pub sent: u64,
    /// CPU of every server process (hubs or relays, Redis, nginx) per message sent.
    pub servers_us_per_msg: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub lost: u64,
    /// `None` where the scenario cannot tell duplicates apart.
    pub duplicated: Option<u64>,
    /// The relay or hub processes alone, per message sent: CPU, and of it system time (the
    /// kernel's work: reads, writes, wake-ups).
    pub node_us_per_msg: Option<f64>,
    pub node_sys_us_per_msg: Option<f64>,
    /// The redis-server alone, per message sent (`None` without one).
    pub redis_us_per_msg: Option<f64>,
}

impl CompareRow {
    /// The per-process figures of a window of `sent` messages.
    pub fn per_process(
        watched: &[procstat::Watched],
        before: &[Option<procstat::Sample>],
        after: &[Option<procstat::Sample>],
        sent: u64,
    ) -> (Option<f64>, Option<f64>, Option<f64>) {
        let per = |us: u64| us as f64 / sent.max(1) as f64;
        let (node, _) = procstat::hub_totals(watched, before, after);
        (
            node.map(|c| per(c.us)),
            node.map(|c| per(c.sys_us)),
            procstat::labelled_cpu_us(watched, before, after, "redis").map(per),
        )
    }
}

pub fn compare_line(row: &CompareRow) -> String {
    format!(
        "COMPARE {}\n",
        serde_json::to_string(row).unwrap_or_default()
    )
}

/// After the last measured window, how long a run waits for what is still in flight.
const SETTLE: Duration = Duration::from_secs(5);

/// Wait until `done` (checked every 10 ms: counters the connections' tasks move), or
/// [`SETTLE`] at most, so that what is in flight when a run stops is not counted lost.
pub async fn settle(done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + SETTLE;
    while !done() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Run a scenario; returns the report to print.
pub async fn run(cli: Cli) -> anyhow::Result<String> {
    match &cli.scenario {
        Scenario::Idle(a) => idle::run(&cli.target, a).await.map(|r| r.text),
        Scenario::Relay(a) => relay::run(&cli.target, a).await.map(|r| r.text),
        Scenario::Storm(a) => storm::run(&cli.target, a).await.map(|r| r.text),
        Scenario::Floor(a) => floor::run(&cli.target, a).await.map(|r| r.text),
        Scenario::Drafts(a) => drafts::run(&cli.target, a).await,
    }
}
