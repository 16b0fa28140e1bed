//! Reconnect storm: N visitors on one node, the node is killed (SIGKILL), and every visitor
//! reconnects to the surviving nodes the way the widget does (full-jitter exponential backoff,
//! visitor token, `last_seq`). Measured: time from the kill until each visitor has resumed
//! (its `history` arrived) and sent a new message that was acknowledged; lost and duplicated
//! events, counted from every sequence number each visitor received.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use futures_util::StreamExt;
use rand::Rng;
use serde_json::json;
use tokio::sync::{Barrier, Semaphore};

use crate::Target;
use crate::procstat;
use crate::stats::{Hist, table};
use crate::wire::{self, Frame, Ws};

#[derive(Debug, Clone, Args)]
pub struct StormArgs {
    /// Visitors on the victim node.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Index (among the `--url`s) of the node the visitors start on and that is killed.
    #[arg(long, default_value_t = 0)]
    pub victim: usize,
    /// The victim's pid: the generator kills it with SIGKILL once every visitor is settled.
    #[arg(long)]
    pub kill_pid: u32,
    /// Handshakes in flight at once while setting up.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// First reconnect delay bound, ms; doubled per failed attempt (full jitter), capped.
    #[arg(long, default_value_t = 500)]
    pub backoff_ms: u64,
    #[arg(long, default_value_t = 10_000)]
    pub backoff_max_ms: u64,
}

/// What one visitor saw.
#[derive(Debug, Default)]
struct Outcome {
    resumed_after: Option<Duration>,
    acked_after: Option<Duration>,
    attempts: u32,
    lost: u64,
    duplicated: u64,
    error: Option<String>,
}

/// Every sequence number a visitor received; duplicates counted.
#[derive(Debug, Default)]
struct Seen {
    seqs: BTreeSet<u64>,
    duplicated: u64,
    acked: Vec<u64>,
}

impl Seen {
    fn record(&mut self, seq: u64) {
        if !self.seqs.insert(seq) {
            self.duplicated += 1;
        }
    }

    fn last(&self) -> u64 {
        self.seqs.last().copied().unwrap_or(0)
    }

    /// Apply one frame; the ack's seq for `client_id`, if it is that ack.
    fn apply(&mut self, text: &str, client_id: &str) -> anyhow::Result<Option<u64>> {
        let f: Frame<'_> = serde_json::from_str(text)?;
        match &*f.ty {
            "event" => {
                if let Some(e) = f.event {
                    self.record(e.seq);
                }
            }
            "history" => {
                let h: serde_json::Value = serde_json::from_str(text)?;
                for e in h["events"].as_array().into_iter().flatten() {
                    self.record(e["seq"].as_u64().context("event without seq")?);
                }
            }
            "ack" if f.client_id.as_deref() == Some(client_id) => {
                let seq = f.seq.context("ack without seq")?;
                self.acked.push(seq);
                return Ok(Some(seq));
            }
            "error" => bail!("error frame: {text}"),
            _ => {}
        }
        Ok(None)
    }
}

/// Send a message; return once it is acknowledged *and* its event has arrived (the ack and the
/// event travel separately, in either order).
async fn say_and_wait(ws: &mut Ws, seen: &mut Seen, client_id: &str) -> anyhow::Result<u64> {
    wire::send(
        ws,
        json!({"type": "message", "client_id": client_id, "text": "storm"}),
    )
    .await?;
    let mut acked = None;
    loop {
        if let Some(seq) = acked
            && seen.seqs.contains(&seq)
        {
            return Ok(seq);
        }
        let text = wire::next_text(ws).await?;
        if let Some(seq) = seen.apply(&text, client_id)? {
            acked = Some(seq);
        }
    }
}

/// Read until the socket dies (the kill), recording what arrives.
async fn hold(ws: &mut Ws, seen: &mut Seen) {
    while let Some(Ok(m)) = ws.next().await {
        if let tokio_tungstenite::tungstenite::Message::Text(t) = m {
            let _ = seen.apply(t.as_str(), "");
        }
    }
}

#[derive(Debug)]
pub struct StormReport {
    pub visitors: u64,
    pub resumed: u64,
    pub failed: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub text: String,
}

pub async fn run(target: &Target, args: &StormArgs) -> anyhow::Result<StormReport> {
    if target.urls.len() < 2 {
        bail!("a storm needs the victim and at least one surviving node (--url twice or more)");
    }
    let victim = target.url(args.victim).to_owned();
    let survivors: Vec<String> = (0..target.urls.len())
        .filter(|i| *i != args.victim)
        .map(|i| target.url(i).to_owned())
        .collect();
    let n = args.connections;
    let permits = Arc::new(Semaphore::new(args.concurrency.max(1)));
    // Everyone settled (connected, a message acknowledged) → the kill; then everyone reconnects.
    let settled = Arc::new(Barrier::new(n + 1));
    let (kill_tx, kill_rx) = tokio::sync::watch::channel(None::<Instant>);
    let attempts_total = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(n);
    let setup_started = Instant::now();
    for i in 0..n {
        let (victim, survivors, workspace) = (
            victim.clone(),
            survivors.clone(),
            target.workspace(i).to_owned(),
        );
        let (permits, settled, mut kill_rx, attempts_total, args) = (
            permits.clone(),
            settled.clone(),
            kill_rx.clone(),
            attempts_total.clone(),
            args.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome::default();
            let mut seen = Seen::default();
            let setup = async {
                let _permit = permits.acquire().await;
                let mut ws = wire::connect(&victim, "/ws/widget").await?;
                let welcomed = wire::widget_handshake(&mut ws, &workspace, None).await?;
                seen.apply(&welcomed.history, "")?;
                say_and_wait(&mut ws, &mut seen, "s-1").await?;
                anyhow::Ok((ws, welcomed.visitor_token))
            }
            .await;
            settled.wait().await;
            let (mut ws, token) = match setup {
                Ok(ok) => ok,
                Err(e) => {
                    out.error = Some(format!("setup: {e:#}"));
                    return out;
                }
            };
            hold(&mut ws, &mut seen).await;
            drop(ws);
            // The node is gone: reconnect like the widget, to whichever node the balancer picks.
            let _ = kill_rx.wait_for(Option::is_some).await;
            let killed_at = kill_rx.borrow().unwrap_or_else(Instant::now);
            let mut bound = args.backoff_ms.max(1);
            loop {
                let delay = rand::rng().random_range(0..bound);
                tokio::time::sleep(Duration::from_millis(delay)).await;
                out.attempts += 1;
                attempts_total.fetch_add(1, Ordering::Relaxed);
                let url = &survivors[(i + out.attempts as usize) % survivors.len()];
                let resumed = async {
                    let mut ws = wire::connect(url, "/ws/widget").await?;
                    let resume = Some((token.as_str(), seen.last()));
                    let welcomed = wire::widget_handshake(&mut ws, &workspace, resume).await?;
                    seen.apply(&welcomed.history, "")?;
                    anyhow::Ok(ws)
                }
                .await;
                match resumed {
                    Ok(mut ws) => {
                        out.resumed_after = Some(killed_at.elapsed());
                        match say_and_wait(&mut ws, &mut seen, "s-2").await {
                            Ok(_) => out.acked_after = Some(killed_at.elapsed()),
                            Err(e) => out.error = Some(format!("after resume: {e:#}")),
                        }
                        break;
                    }
                    Err(e) if out.attempts >= 30 => {
                        out.error = Some(format!("gave up: {e:#}"));
                        break;
                    }
                    Err(_) => bound = (bound * 2).min(args.backoff_max_ms),
                }
            }
            // Everything from 1 to the last seq exactly once, both acknowledged messages in it.
            let last = seen.last();
            out.lost = (1..=last).filter(|s| !seen.seqs.contains(s)).count() as u64
                + seen.acked.iter().filter(|s| !seen.seqs.contains(s)).count() as u64;
            out.duplicated = seen.duplicated;
            out
        }));
    }
    settled.wait().await;
    let setup_secs = setup_started.elapsed().as_secs_f64();
    let watched = target.watched()?;
    let before = procstat::sample_all(&watched);
    let killed_at = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-9", &args.kill_pid.to_string()])
        .status()
        .context("run kill")?;
    if !status.success() {
        bail!("kill -9 {} failed", args.kill_pid);
    }
    let _ = kill_tx.send(Some(killed_at));
    let mut outcomes = Vec::with_capacity(n);
    for t in tasks {
        outcomes.push(t.await?);
    }
    let all_done = killed_at.elapsed();
    let after = procstat::sample_all(&watched);

    let mut resume = Hist::default();
    let mut acked = Hist::default();
    let (mut resumed, mut failed, mut lost, mut duplicated) = (0u64, 0u64, 0u64, 0u64);
    let mut first_error = None;
    let mut last_ack = Duration::ZERO;
    for o in &outcomes {
        if let Some(d) = o.resumed_after {
            resumed += 1;
            resume.record_ns(d.as_nanos() as u64);
        }
        if let Some(d) = o.acked_after {
            acked.record_ns(d.as_nanos() as u64);
            last_ack = last_ack.max(d);
        }
        if let Some(e) = &o.error {
            failed += 1;
            first_error.get_or_insert_with(|| e.clone());
        }
        lost += o.lost;
        duplicated += o.duplicated;
    }
    let mut text = format!(
        "storm: {n} visitors on {victim}, set up in {setup_secs:.1} s; node killed (SIGKILL); \
         {resumed} resumed on {} surviving node(s), {failed} failed; all done {:.2} s after the kill; \
         {} connection attempts in all\n\n",
        survivors.len(),
        all_done.as_secs_f64(),
        attempts_total.load(Ordering::Relaxed),
    );
    if let Some(e) = first_error {
        text.push_str(&format!("first error: {e}\n\n"));
    }
    text.push_str(&table(
        &["measure", "p50", "p90", "p99", "max", "count"],
        &[
            hist_row("kill → resumed (history received)", &resume),
            hist_row("kill → new message acknowledged", &acked),
        ],
    ));
    text.push_str(&format!(
        "\nlast visitor back and acknowledged {:.2} s after the kill; lost {lost}, duplicated {duplicated}\n\n",
        last_ack.as_secs_f64()
    ));
    let mut rows = Vec::new();
    for (i, w) in watched.iter().enumerate() {
        if let (Some(b), Some(a)) = (before[i], after[i]) {
            rows.push(vec![
                w.label.clone(),
                format!("{:.0}", a.cpu_us.saturating_sub(b.cpu_us) as f64 / 1000.0),
                format!("{:.1}", a.rss_kib as f64 / 1024.0),
            ]);
        }
    }
    text.push_str(&table(
        &["process", "CPU during the storm (ms)", "RSS after (MiB)"],
        &rows,
    ));
    Ok(StormReport {
        visitors: n as u64,
        resumed,
        failed,
        lost,
        duplicated,
        text,
    })
}

fn hist_row(name: &str, h: &Hist) -> Vec<String> {
    vec![
        name.to_owned(),
        crate::stats::fmt_ms(h.ms(0.5)),
        crate::stats::fmt_ms(h.ms(0.9)),
        crate::stats::fmt_ms(h.ms(0.99)),
        crate::stats::fmt_ms(h.max_ms()),
        h.len().to_string(),
    ]
}
