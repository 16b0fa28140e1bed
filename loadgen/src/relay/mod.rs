//! Relay scenario: visitors and operators exchange paced messages through the hub.
//!
//! Setup: operators connect and `subscribe_online`; visitors connect (one conversation each);
//! each conversation is given to one operator of its workspace, who `open`s it and takes it
//! over, so the assistant stays silent and only human traffic is measured. Then, for each
//! offered rate, a step: warm-up, measured window, drain. A message's text carries its
//! conversation, number, step and send time; latency is measured from the moment it is written.
//! How late each write is against its schedule is measured too (`generator lag`): the
//! generator's timer ticks in whole milliseconds, which would otherwise add up to 1 ms to every
//! latency, and a generator that falls behind shows there instead of hiding a slow hub
//! (coordinated omission). Every message's fate is tracked per conversation: sequences must be
//! gap-free with no duplicates, and every acknowledged message must reach the other side exactly
//! once.
//!
//! For the `team` benchmark it also counts what each dashboard receives for the Online list and
//! the team view (owners subscribe to it), per second of each window ([`dash`]), and the fate of
//! each takeover of the set-up's wave: answered, refused (by code, retried when retryable), or
//! timed out ([`wave`]); `--json` prints the figures as JSON lines.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::sleep_until;
use tokio_tungstenite::tungstenite::Message;

use crate::Target;
use crate::procstat;
use crate::stats::{Hist, Shared, StepStats, table};
use crate::wire::{self, Frame, Ws};

mod client;
mod dash;
mod wave;
use client::{Cmd, operator, visitor};
use dash::{DashCounters, PerDashboard};

#[derive(Debug, Clone, Args)]
pub struct RelayArgs {
    /// Visitors (one conversation each).
    #[arg(long, default_value_t = 200)]
    pub visitors: usize,
    /// Operators; each holds the conversations given to it.
    #[arg(long, default_value_t = 20)]
    pub operators: usize,
    /// Offered visitor messages per second, all visitors together. Several, comma separated,
    /// run as successive steps on the same connections.
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    pub rate: Vec<f64>,
    /// Operator replies per second, all operators together (each step).
    #[arg(long, default_value_t = 0.0)]
    pub operator_rate: f64,
    /// Or: operator replies as a fraction of the visitor rate (overrides --operator-rate).
    #[arg(long)]
    pub operator_ratio: Option<f64>,
    /// Seconds of load before each measured window.
    #[arg(long, default_value_t = 2.0)]
    pub warmup_secs: f64,
    /// Length of each measured window, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration_secs: f64,
    /// After a window, wait at most this long for outstanding acks and deliveries, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub drain_secs: f64,
    /// Stop stepping once a step's p99 visitor→operator latency exceeds this (ms).
    #[arg(long)]
    pub stop_p99_ms: Option<f64>,
    /// HS256 secret of operator tokens (the hub's `--operator-jwt-secret`; the default is the
    /// `--dev` one).
    #[arg(long, default_value = "take-control-dev-operator-secret")]
    pub operator_jwt_secret: String,
    /// Operators do not subscribe to the Online list (by default they do, like a dashboard).
    #[arg(long)]
    pub no_online: bool,
    /// Visitor handshakes in flight at once.
    #[arg(long, default_value_t = 100)]
    pub concurrency: usize,
    /// Bytes of filler appended to each message text (the tag itself is ~50 bytes).
    #[arg(long, default_value_t = 40)]
    pub pad: usize,
    /// The set-up's takeovers (an `open` and a `takeover` per conversation), paced at this many
    /// per second over all operators: a wave of takeovers, like a shift starting. 0: all at once
    /// (the whole burst queued in the first millisecond).
    #[arg(long, default_value_t = 0.0)]
    pub takeover_rate: f64,
    /// How long the set-up's takeovers may take; one without a final answer by then timed out.
    #[arg(long, default_value_t = 60.0)]
    pub takeover_timeout_secs: f64,
    /// Only the last N conversations' takeovers form the measured wave (sent at
    /// `--takeover-rate`); the others are taken over before it at `--prewave-rate`. 0: all.
    #[arg(long, default_value_t = 0)]
    pub wave: usize,
    /// Takeovers per second before the wave (with `--wave`).
    #[arg(long, default_value_t = 1000.0)]
    pub prewave_rate: f64,
    /// The first N operators (spread over the workspaces like the others) are owners and also
    /// follow the team view (`subscribe_team`).
    #[arg(long, default_value_t = 0)]
    pub owners: usize,
    /// The last N operators' dashboards follow the Online list newest first (`order: started`,
    /// rows in place) instead of by recent activity; each kind is counted apart.
    #[arg(long, default_value_t = 0)]
    pub started_dashboards: usize,
    /// Also print the figures as JSON lines (`JSON {...}`): one for the takeover wave, one per
    /// step, one for the accounting.
    #[arg(long)]
    pub json: bool,
}

/// What a step does: send from `start` to `end`; messages scheduled from `window` on count.
#[derive(Debug, Clone, Copy)]
struct Plan {
    step: usize,
    start: Instant,
    window: Instant,
    end: Instant,
    visitor_period: Option<Duration>,
    operator_period: Option<Duration>,
}

#[derive(Debug, Clone, Copy)]
enum Control {
    Quiet,
    Run(Plan),
    Stop,
}

/// State shared by every task.
#[derive(Debug)]
struct Ctx {
    base: Instant,
    visitors: usize,
    operators: usize,
    pad: String,
    stats: Shared,
    /// When each conversation's takeover was sent, ns since `base` (0: not yet).
    takeover_sent: Vec<AtomicU64>,
    takeover: Mutex<Hist>,
    joined: AtomicU64,
    controls: AtomicU64,
    /// The set-up's takeovers: answered, refused, retried.
    wave: Mutex<wave::Tally>,
    /// What each operator's dashboard received, by operator.
    dash: Vec<DashCounters>,
    ai_messages: AtomicU64,
    other_errors: AtomicU64,
    first_error: Mutex<Option<String>>,
    /// Messages sent in any phase, their acknowledgements, and their first arrivals on the other
    /// side: the run stops once all three agree (or after a deadline), so what is still in
    /// flight when the last step ends is not counted as lost or never acknowledged.
    all_sent: AtomicU64,
    all_acked: AtomicU64,
    all_delivered: AtomicU64,
}

impl Ctx {
    fn ns(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.base).as_nanos() as u64
    }

    /// Count a message of the measured window as sent, and how late it left against its slot.
    fn count_sent(&self, step: usize, scheduled: Instant, sent_ns: u64, visitor: bool) {
        let lag = sent_ns.saturating_sub(self.ns(scheduled));
        self.stats.with(step, |s| {
            if visitor {
                s.visitor_sent += 1;
            } else {
                s.operator_sent += 1;
            }
            s.lag.record_ns(lag);
        });
    }

    fn error(&self, step: Option<usize>, e: String) {
        match step {
            Some(s) => {
                self.stats.with(s, |st| st.errors += 1);
            }
            None => {
                self.other_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(e);
    }
}

/// Sequence bookkeeping of one conversation as one client sees it.
#[derive(Debug, Default)]
struct Seqs {
    last: u64,
    gaps: u64,
    dupes: u64,
}

impl Seqs {
    /// Returns whether the event is new.
    fn see(&mut self, seq: u64) -> bool {
        if seq <= self.last {
            self.dupes += 1;
            return false;
        }
        if seq > self.last + 1 {
            self.gaps += seq - self.last - 1;
        }
        self.last = seq;
        true
    }
}

/// One side's record of one conversation, returned when its task ends.
#[derive(Debug, Default)]
struct Side {
    seqs: Seqs,
    /// Numbers of this side's own messages the hub acknowledged.
    acked: HashSet<u64>,
    /// Messages from the other side, by number: how many times each arrived.
    seen: HashMap<u64, u32>,
    /// Sent, never answered (neither acknowledged nor refused).
    unacked: u64,
    /// Sent and refused with an `error` naming its client id.
    refused: u64,
    /// A few of the never-answered: (number, when sent, ns on the run's clock).
    unanswered: Vec<(u64, u64)>,
}

#[derive(Debug, Default)]
pub struct Accounting {
    pub conversations: usize,
    pub acked: u64,
    /// Acknowledged messages that never reached the other side.
    pub lost: u64,
    /// Messages delivered more than once, plus sequence numbers seen twice.
    pub duplicated: u64,
    /// Sequence numbers skipped (a gap in what a client saw).
    pub seq_gaps: u64,
    /// Sent and never answered: neither acknowledged nor refused.
    pub unacked: u64,
    /// Sent and refused with an `error` naming the message (its code among the run's errors).
    pub refused: u64,
    /// A few never-answered messages: `v3-17 (sent 812 ms before the accounting)`.
    pub unanswered: Vec<String>,
    /// Connections the hub closed (or that failed) during the run.
    pub closed: u64,
}

#[derive(Debug)]
pub struct StepRow {
    pub rate: f64,
    pub operator_rate: f64,
    pub visitor_sent: u64,
    pub operator_sent: u64,
    pub delivered: u64,
    pub throughput: f64,
    pub v2o_p99_ms: f64,
    pub v2o_p50_ms: f64,
    pub v2o_p999_ms: f64,
    /// The visitor→operator histogram, as (µs, count) pairs.
    pub v2o_recorded: Vec<(u64, u64)>,
    pub hub_cpu_us_per_msg: Option<f64>,
    /// Of the hubs' CPU per message, system time (the kernel's work for them).
    pub hub_sys_us_per_msg: Option<f64>,
    /// Every watched server process (hubs, Redis, nginx) per message sent.
    pub servers_us_per_msg: f64,
    /// The redis-server alone per message sent (`None` without one).
    pub redis_us_per_msg: Option<f64>,
    pub errors: u64,
}

#[derive(Debug)]
pub struct RelayReport {
    pub steps: Vec<StepRow>,
    pub accounting: Accounting,
    /// The set-up's takeovers answered with `control`, and timed out (no final answer in time).
    pub takeovers_answered: u64,
    pub takeovers_timed_out: u64,
    pub text: String,
}

pub async fn run(target: &Target, args: &RelayArgs) -> anyhow::Result<RelayReport> {
    anyhow::ensure!(
        args.visitors > 0 && args.operators > 0,
        "need visitors and operators"
    );
    let watched = target.watched()?;
    let ctx = Arc::new(Ctx {
        base: Instant::now(),
        visitors: args.visitors,
        operators: args.operators,
        pad: "x".repeat(args.pad),
        stats: Shared::new(args.rate.len()),
        takeover_sent: (0..args.visitors).map(|_| AtomicU64::new(0)).collect(),
        takeover: Mutex::new(Hist::default()),
        joined: AtomicU64::new(0),
        controls: AtomicU64::new(0),
        wave: Mutex::new(wave::Tally::default()),
        dash: (0..args.operators)
            .map(|_| DashCounters::default())
            .collect(),
        ai_messages: AtomicU64::new(0),
        all_sent: AtomicU64::new(0),
        all_acked: AtomicU64::new(0),
        all_delivered: AtomicU64::new(0),
        other_errors: AtomicU64::new(0),
        first_error: Mutex::new(None),
    });
    let (ctl_tx, ctl_rx) = watch::channel(Control::Quiet);

    // Operators.
    let mut op_cmds = Vec::new();
    let mut op_tasks = Vec::new();
    let (op_ready_tx, mut op_ready_rx) = mpsc::channel::<anyhow::Result<()>>(args.operators);
    for j in 0..args.operators {
        let owner = j < args.owners;
        let token = wire::operator_token_as(
            &args.operator_jwt_secret,
            &format!("load-op-{j}"),
            target.workspace(j),
            if owner { "owner" } else { "operator" },
        )?;
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        op_cmds.push(cmd_tx.clone());
        let url = target.url(j).to_owned();
        let (ctx, ctl, ready) = (ctx.clone(), ctl_rx.clone(), op_ready_tx.clone());
        let online = !args.no_online;
        let order = if j + args.started_dashboards >= args.operators {
            "started"
        } else {
            "activity"
        };
        op_tasks.push(tokio::spawn(async move {
            let ws = async {
                let mut ws = wire::connect(&url, "/ws/operator").await?;
                wire::operator_hello(&mut ws, &token).await?;
                if online {
                    wire::send(&mut ws, json!({"type": "subscribe_online", "order": order}))
                        .await?;
                }
                if owner {
                    wire::send(&mut ws, json!({"type": "subscribe_team"})).await?;
                }
                anyhow::Ok(ws)
            }
            .await;
            match ws {
                Ok(ws) => {
                    let _ = ready.send(Ok(())).await;
                    operator(ctx, j, ws, ctl, cmd_rx, cmd_tx).await
                }
                Err(e) => {
                    let _ = ready.send(Err(e)).await;
                    (HashMap::new(), true)
                }
            }
        }));
    }
    drop(op_ready_tx);
    for _ in 0..args.operators {
        op_ready_rx
            .recv()
            .await
            .context("operator task ended")?
            .context("operator handshake")?;
    }

    // Visitors.
    let permits = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let (v_ready_tx, mut v_ready_rx) = mpsc::channel::<anyhow::Result<(usize, String)>>(64);
    let mut v_tasks = Vec::new();
    let connect_start = Instant::now();
    for c in 0..args.visitors {
        let (url, ws_id) = (target.url(c).to_owned(), target.workspace(c).to_owned());
        let (ctx, ctl, ready, permits) = (
            ctx.clone(),
            ctl_rx.clone(),
            v_ready_tx.clone(),
            permits.clone(),
        );
        v_tasks.push(tokio::spawn(async move {
            let permit = permits.acquire_owned().await;
            let conn = async {
                let mut ws = wire::connect(&url, "/ws/widget").await?;
                let (id, last) = wire::widget_hello(&mut ws, &ws_id).await?;
                anyhow::Ok((ws, id, last))
            }
            .await;
            drop(permit);
            match conn {
                Ok((ws, id, last)) => {
                    let _ = ready.send(Ok((c, id))).await;
                    visitor(ctx, c, ws, last, ctl).await
                }
                Err(e) => {
                    let _ = ready.send(Err(e)).await;
                    (Side::default(), true)
                }
            }
        }));
    }
    drop(v_ready_tx);
    let mut conv_ids = vec![String::new(); args.visitors];
    for _ in 0..args.visitors {
        let (c, id) = v_ready_rx
            .recv()
            .await
            .context("visitor task ended")?
            .context("visitor handshake")?;
        conv_ids[c] = id;
    }
    let connect_secs = connect_start.elapsed().as_secs_f64();

    // Each conversation to one operator of its workspace, who opens it and takes it over: the
    // first ones before the wave (paced, unmeasured), then the wave, the last `--wave` of them.
    let w = target.workspaces.len();
    let wave_n = if args.wave == 0 {
        args.visitors
    } else {
        args.wave.min(args.visitors)
    };
    let pre = args.visitors - wave_n;
    let send_takeovers = |range: std::ops::Range<usize>, rate: f64| {
        let (ctx, op_cmds, conv_ids) = (&ctx, &op_cmds, &conv_ids);
        async move {
            let start = Instant::now();
            for c in range.clone() {
                if rate > 0.0 {
                    let at = start + Duration::from_secs_f64((c - range.start) as f64 / rate);
                    tokio::time::sleep_until(at.into()).await;
                }
                let ops: Vec<usize> = (0..ctx.operators).filter(|j| j % w == c % w).collect();
                anyhow::ensure!(
                    !ops.is_empty(),
                    "workspace {} has no operator",
                    target.workspace(c)
                );
                let j = ops[(c / w) % ops.len()];
                let _ = op_cmds[j].send(Cmd::Take(c, conv_ids[c].clone()));
            }
            anyhow::Ok(())
        }
    };
    let timeout = Duration::from_secs_f64(args.takeover_timeout_secs.max(0.0));
    let mut pre_timed_out = 0;
    if pre > 0 {
        let t0 = Instant::now();
        send_takeovers(0..pre, args.prewave_rate).await?;
        pre_timed_out = await_takeovers(&ctx, pre as u64, 0, t0 + timeout).await;
        // The wave is counted and timed on its own.
        *ctx.wave.lock().unwrap_or_else(|e| e.into_inner()) = wave::Tally::default();
        *ctx.takeover.lock().unwrap_or_else(|e| e.into_inner()) = Hist::default();
    }
    let joined_before = ctx.joined.load(Ordering::Relaxed);
    let total = wave_n as u64;
    let takeovers_before = procstat::sample_all(&watched);
    let wave_dash_before: Vec<_> = ctx.dash.iter().map(DashCounters::read).collect();
    let takeovers_start = Instant::now();
    send_takeovers(pre..args.visitors, args.takeover_rate).await?;
    let timed_out = await_takeovers(&ctx, total, joined_before, takeovers_start + timeout).await;
    let setup_secs = connect_start.elapsed().as_secs_f64();
    // What the takeovers cost each process, from the first sent to the last answered: where a
    // wave's time goes.
    let takeovers_after = procstat::sample_all(&watched);
    let takeovers_wall = takeovers_start.elapsed();
    // What each dashboard received for the wave, in all (each takeover changes a row, the team
    // and the audit log): until a second after the last answer, since lists and team snapshots
    // go out on the hubs' 250 ms ticks.
    tokio::time::sleep(WAVE_TAIL).await;
    let wave_dash_after: Vec<_> = ctx.dash.iter().map(DashCounters::read).collect();
    let owners = args.owners.min(args.operators);
    let wave_online = PerDashboard::over(
        &wave_dash_before,
        &wave_dash_after,
        1.0,
        |d| d.online,
        |_| true,
    );
    let wave_team = PerDashboard::over(
        &wave_dash_before,
        &wave_dash_after,
        1.0,
        |d| d.team,
        |j| j < owners,
    );
    let pair_cpu = per_process_us(&watched, &takeovers_before, &takeovers_after, total);
    let takeover_cpu: Vec<String> = pair_cpu
        .iter()
        .map(|(label, us)| format!("{label} {us:.0} µs"))
        .collect();
    let pair_servers_us = procstat::servers_cpu_us(&watched, &takeovers_before, &takeovers_after)
        as f64
        / total.max(1) as f64;
    let wave_tally = ctx.wave.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut json_lines = Vec::new();

    // Steps.
    let mut rows = Vec::new();
    let mut step_rows = Vec::new();
    let mut proc_rows = Vec::new();
    let mut dash_rows = Vec::new();
    let read_dash = || ctx.dash.iter().map(DashCounters::read).collect::<Vec<_>>();
    for (step, &rate) in args.rate.iter().enumerate() {
        let op_rate = args.operator_ratio.map_or(args.operator_rate, |r| rate * r);
        let start = Instant::now() + Duration::from_millis(50);
        let window = start + Duration::from_secs_f64(args.warmup_secs);
        let end = window + Duration::from_secs_f64(args.duration_secs);
        let period =
            |total: f64, n: usize| (total > 0.0).then(|| Duration::from_secs_f64(n as f64 / total));
        let plan = Plan {
            step,
            start,
            window,
            end,
            visitor_period: period(rate, args.visitors),
            operator_period: period(op_rate, args.operators),
        };
        let _ = ctl_tx.send(Control::Run(plan));
        sleep_until(window.into()).await;
        let before = procstat::sample_all(&watched);
        let dash_before = read_dash();
        target.hook("start", step).await;
        sleep_until(end.into()).await;
        let after = procstat::sample_all(&watched);
        let dash_after = read_dash();
        target.hook("end", step).await;
        // Drain: wait for every message of the window to be acknowledged and delivered.
        let drain_deadline = Instant::now() + Duration::from_secs_f64(args.drain_secs);
        loop {
            let done = ctx
                .stats
                .with(step, |s| {
                    s.visitor_acked >= s.visitor_sent
                        && s.operator_acked >= s.operator_sent
                        && s.v2o_delivered >= s.visitor_acked
                        && s.o2v_delivered >= s.operator_acked
                })
                .unwrap_or(true);
            if done || Instant::now() >= drain_deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = ctl_tx.send(Control::Quiet);

        let secs = after
            .iter()
            .flatten()
            .next()
            .zip(before.iter().flatten().next())
            .map_or(args.duration_secs, |(a, b)| {
                a.at.duration_since(b.at).as_secs_f64()
            });
        let (hub_cpu, hub_rss) = procstat::hub_totals(&watched, &before, &after);
        let servers_us = procstat::servers_cpu_us(&watched, &before, &after);
        let mut row = ctx
            .stats
            .with(step, |s| {
                step_row(s, rate, op_rate, secs, (hub_cpu, servers_us), hub_rss)
            })
            .context("step stats")?;
        let step_sent = (row.summary.visitor_sent + row.summary.operator_sent).max(1);
        row.summary.redis_us_per_msg =
            procstat::labelled_cpu_us(&watched, &before, &after, "redis")
                .map(|us| us as f64 / step_sent as f64);
        let started_from = args.operators.saturating_sub(args.started_dashboards);
        let online = PerDashboard::over(
            &dash_before,
            &dash_after,
            secs,
            |d| d.online,
            |j| j < started_from,
        );
        let online_started = PerDashboard::over(
            &dash_before,
            &dash_after,
            secs,
            |d| d.online,
            |j| j >= started_from,
        );
        let team = PerDashboard::over(&dash_before, &dash_after, secs, |d| d.team, |j| j < owners);
        let [of, ob] = online.cells();
        let [tf, tb] = team.cells();
        dash_rows.push(vec![rate_label(rate), of, ob, tf, tb]);
        let sent = row.summary.visitor_sent + row.summary.operator_sent;
        json_lines.push(json!({
            "kind": "step",
            "step": step,
            "rate": rate,
            "operator_rate": op_rate,
            "secs": secs,
            "sent": sent,
            "visitor_sent": row.summary.visitor_sent,
            "operator_sent": row.summary.operator_sent,
            "delivered": row.summary.delivered,
            "hub_us_per_msg": row.summary.hub_cpu_us_per_msg,
            "servers_us_per_msg": row.summary.servers_us_per_msg,
            "cpu_us_per_msg": by_label(&per_process_us(&watched, &before, &after, sent)),
            "p50_ms": row.summary.v2o_p50_ms,
            "p99_ms": finite(row.summary.v2o_p99_ms),
            "p999_ms": row.summary.v2o_p999_ms,
            "v2o_us_counts": row.summary.v2o_recorded,
            "errors": row.summary.errors,
            "online": online,
            "online_started": online_started,
            "team": team,
        }));
        step_rows.push(row.summary);
        rows.push(row.cells);
        for (i, wch) in watched.iter().enumerate() {
            if let (Some(b), Some(a)) = (before[i], after[i]) {
                proc_rows.push(vec![
                    rate_label(rate),
                    wch.label.clone(),
                    format!("{:.0} %", procstat::cpu_share(&b, &a) * 100.0),
                    format!("{:.1}", a.rss_kib as f64 / 1024.0),
                ]);
            }
        }
        if let (Some(limit), Some(last)) = (args.stop_p99_ms, step_rows.last())
            && last.v2o_p99_ms > limit
        {
            break;
        }
    }

    // Nothing is sent any more (each step ends quiet): let what is in flight arrive, then stop
    // and account for every message.
    crate::settle(|| {
        let sent = ctx.all_sent.load(Ordering::Relaxed);
        ctx.all_acked.load(Ordering::Relaxed) >= sent
            && ctx.all_delivered.load(Ordering::Relaxed) >= sent
    })
    .await;
    let _ = ctl_tx.send(Control::Stop);
    let mut acc = Accounting {
        conversations: args.visitors,
        ..Accounting::default()
    };
    let mut visitor_sides = Vec::with_capacity(args.visitors);
    for t in v_tasks {
        let (side, closed) = t.await?;
        acc.closed += u64::from(closed);
        visitor_sides.push(side);
    }
    let mut operator_sides: HashMap<usize, Side> = HashMap::new();
    for t in op_tasks {
        let (sides, closed) = t.await?;
        acc.closed += u64::from(closed);
        operator_sides.extend(sides);
    }
    for (c, v) in visitor_sides.iter().enumerate() {
        let empty = Side::default();
        let o = operator_sides.get(&c).unwrap_or(&empty);
        for (mine, theirs) in [(v, o), (o, v)] {
            acc.acked += mine.acked.len() as u64;
            acc.lost += mine
                .acked
                .iter()
                .filter(|n| !theirs.seen.contains_key(n))
                .count() as u64;
            acc.duplicated += theirs
                .seen
                .values()
                .map(|k| u64::from(k.saturating_sub(1)))
                .sum::<u64>();
            acc.duplicated += mine.seqs.dupes;
            acc.seq_gaps += mine.seqs.gaps;
            acc.unacked += mine.unacked;
            acc.refused += mine.refused;
            let who = if std::ptr::eq(mine, v) { 'v' } else { 'o' };
            let now = ctx.ns(Instant::now());
            let room = 10usize.saturating_sub(acc.unanswered.len());
            acc.unanswered
                .extend(mine.unanswered.iter().take(room).map(|(n, t)| {
                    format!(
                        "{who}{c}-{n} (sent {} ms before the accounting)",
                        now.saturating_sub(*t) / 1_000_000
                    )
                }));
        }
    }

    let takeover = ctx
        .takeover
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut text = format!(
        "relay: {} visitors, {} operators ({} owners on the team view), {} workspace(s), {} url(s); online list {}\n\
         setup: {} visitor handshakes in {connect_secs:.2} s ({:.0}/s); takeovers over after {setup_secs:.2} s\n\
         takeover wave: {} of {total} answered ({pre} taken over before it, {pre_timed_out} of them timed out), refused {} (retried {}, final {}), timed out {timed_out}; open refused {}\n\
         takeover → visitor's operator_joined (ms, p50/p90/p99/p99.9/max over {}, {}): {}\n\
         takeovers: {:.0} ms from the first sent to the last answered; CPU per open + takeover: {} (servers {pair_servers_us:.0} µs)\n\
         for the wave, until 1 s after its last answer, in all (mean / max): per dashboard {} Online frames, {} bytes; per owner {} team frames, {} bytes\n\n",
        args.visitors,
        args.operators,
        args.owners.min(args.operators),
        target.workspaces.len(),
        target.urls.len(),
        if args.no_online { "off" } else { "on" },
        args.visitors,
        args.visitors as f64 / connect_secs,
        wave_tally.answered,
        wave::Tally::codes(&wave_tally.refused),
        wave_tally.retried,
        wave_tally.refused_final,
        wave::Tally::codes(&wave_tally.open_refused),
        takeover.len(),
        if args.takeover_rate > 0.0 {
            format!("paced at {:.0}/s", args.takeover_rate)
        } else {
            "all sent at once".to_owned()
        },
        takeover.summary(),
        takeovers_wall.as_secs_f64() * 1e3,
        takeover_cpu.join(", "),
        wave_online.cells()[0],
        wave_online.cells()[1],
        wave_team.cells()[0],
        wave_team.cells()[1],
    );
    text.push_str(&table(
        &[
            "offered v/o (msg/s)",
            "sent v+o",
            "delivered (msg/s)",
            "visitor→operator ms p50/p90/p99/p99.9/max",
            "operator→visitor ms",
            "send→ack ms",
            "generator lag ms",
            "hub CPU µs/msg",
            "of which system",
            "hub CPU (cores)",
            "hub RSS MiB",
            "errors",
        ],
        &rows,
    ));
    text.push('\n');
    text.push_str(&table(
        &[
            "step",
            "Online frames/s per dashboard, mean / max",
            "Online bytes/s per dashboard, mean / max",
            "team frames/s per owner, mean / max",
            "team bytes/s per owner, mean / max",
        ],
        &dash_rows,
    ));
    text.push('\n');
    text.push_str(&table(
        &["step", "process", "CPU (of one core)", "RSS MiB"],
        &proc_rows,
    ));
    text.push_str(&format!(
        "\naccounting over {} conversations: {} acknowledged messages, lost {}, duplicated {}, \
         sequence gaps {}, never answered {}, refused {}, connections closed {}, AI messages {}, \
         errors outside windows {}\n",
        acc.conversations,
        acc.acked,
        acc.lost,
        acc.duplicated,
        acc.seq_gaps,
        acc.unacked,
        acc.refused,
        acc.closed,
        ctx.ai_messages.load(Ordering::Relaxed),
        ctx.other_errors.load(Ordering::Relaxed),
    ));
    if !acc.unanswered.is_empty() {
        text.push_str(&format!(
            "never answered (the first {}): {}\n",
            acc.unanswered.len(),
            acc.unanswered.join(", ")
        ));
    }
    if let Some(e) = ctx
        .first_error
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
    {
        text.push_str(&format!("first error: {e}\n"));
    }
    if args.json {
        json_lines.insert(
            0,
            json!({
                "kind": "wave",
                "visitors": args.visitors,
                "operators": args.operators,
                "owners": args.owners.min(args.operators),
                "workspaces": target.workspaces.len(),
                "takeovers": total,
                "before_wave": pre,
                "before_wave_timed_out": pre_timed_out,
                "answered": wave_tally.answered,
                "refused": wave_tally.refused,
                "refused_final": wave_tally.refused_final,
                "retried": wave_tally.retried,
                "open_refused": wave_tally.open_refused,
                "timed_out": timed_out,
                "joined": takeover.len(),
                "p50_ms": takeover.ms(0.5),
                "p99_ms": takeover.ms(0.99),
                "max_ms": takeover.max_ms(),
                "wall_ms": takeovers_wall.as_secs_f64() * 1e3,
                "cpu_us_per_pair": by_label(&pair_cpu),
                "servers_us_per_pair": pair_servers_us,
                "online": wave_online,
                "team": wave_team,
            }),
        );
        json_lines.push(json!({
            "kind": "accounting",
            "conversations": acc.conversations,
            "acked": acc.acked,
            "lost": acc.lost,
            "duplicated": acc.duplicated,
            "seq_gaps": acc.seq_gaps,
            "unacked": acc.unacked,
            "refused": acc.refused,
            "unanswered": acc.unanswered,
            "closed": acc.closed,
            "ai_messages": ctx.ai_messages.load(Ordering::Relaxed),
            "errors_outside_windows": ctx.other_errors.load(Ordering::Relaxed),
        }));
        for l in &json_lines {
            text.push_str(&format!("JSON {l}\n"));
        }
    }
    // For ./scripts/bench.sh compare, which runs one step per run: the run's accounting is the
    // step's.
    for step in &step_rows {
        text.push_str(&crate::compare_line(&crate::CompareRow {
            system: "hub",
            rate: step.rate,
            sent: step.visitor_sent + step.operator_sent,
            servers_us_per_msg: step.servers_us_per_msg,
            p50_ms: step.v2o_p50_ms,
            p99_ms: step.v2o_p99_ms,
            p999_ms: step.v2o_p999_ms,
            lost: acc.lost,
            duplicated: Some(acc.duplicated),
            node_us_per_msg: step.hub_cpu_us_per_msg,
            node_sys_us_per_msg: step.hub_sys_us_per_msg,
            redis_us_per_msg: step.redis_us_per_msg,
        }));
    }
    Ok(RelayReport {
        steps: step_rows,
        accounting: acc,
        takeovers_answered: wave_tally.answered,
        takeovers_timed_out: timed_out,
        text,
    })
}

/// How long after the wave's last answer its frames to the dashboards are still counted.
const WAVE_TAIL: Duration = Duration::from_secs(1);

/// Wait until the `total` takeovers sent last all have a final answer (`control`, or a refusal
/// that is not retryable) and every answered one was seen by its visitor as `operator_joined`
/// (beyond `joined_base`), or until `deadline`. Returns how many were still unanswered then
/// (timed out; the run goes on to report them).
async fn await_takeovers(ctx: &Ctx, total: u64, joined_base: u64, deadline: Instant) -> u64 {
    loop {
        let (unanswered, answered) = {
            let t = ctx.wave.lock().unwrap_or_else(|e| e.into_inner());
            (t.unanswered(total), t.answered)
        };
        let joined = ctx
            .joined
            .load(Ordering::Relaxed)
            .saturating_sub(joined_base);
        if unanswered == 0 && joined >= answered {
            return 0;
        }
        if Instant::now() >= deadline {
            ctx.error(
                None,
                format!(
                    "takeovers incomplete: {unanswered} of {total} unanswered, {answered} answered, \
                     {joined} operator_joined seen by visitors"
                ),
            );
            return unanswered;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn rate_label(rate: f64) -> String {
    format!("{rate:.0}")
}

/// JSON has no infinity (a step without deliveries has an infinite p99): `null` instead.
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// `[(label, v)]` as a JSON object.
fn by_label(v: &[(String, f64)]) -> serde_json::Value {
    serde_json::Value::Object(v.iter().map(|(k, x)| (k.clone(), json!(x))).collect())
}

/// CPU µs of each watched process between two readings, per `n` (messages, takeovers), by label.
fn per_process_us(
    watched: &[procstat::Watched],
    before: &[Option<procstat::Sample>],
    after: &[Option<procstat::Sample>],
    n: u64,
) -> Vec<(String, f64)> {
    watched
        .iter()
        .zip(before.iter().zip(after))
        .filter_map(|(w, (b, a))| {
            let us = a.as_ref()?.cpu_us.saturating_sub(b.as_ref()?.cpu_us) as f64;
            Some((w.label.clone(), us / n.max(1) as f64))
        })
        .collect()
}

struct Row {
    cells: Vec<String>,
    summary: StepRow,
}

fn step_row(
    s: &StepStats,
    rate: f64,
    op_rate: f64,
    secs: f64,
    (hub_cpu, servers_us): (Option<procstat::HubCpu>, u64),
    hub_rss: Option<u64>,
) -> Row {
    let sent = s.visitor_sent + s.operator_sent;
    let delivered = s.v2o_delivered + s.o2v_delivered;
    let throughput = delivered as f64 / secs;
    let per_msg = hub_cpu.map(|c| c.us as f64 / sent.max(1) as f64);
    let sys_per_msg = hub_cpu.map(|c| c.sys_us as f64 / sent.max(1) as f64);
    let cores = hub_cpu.map(|c| c.us as f64 / 1e6 / c.wall.max(1e-9));
    Row {
        cells: vec![
            format!("{} / {}", rate_label(rate), rate_label(op_rate)),
            format!("{} + {}", s.visitor_sent, s.operator_sent),
            format!("{delivered} ({throughput:.0})"),
            s.v2o.summary(),
            s.o2v.summary(),
            s.ack.summary(),
            s.lag.summary(),
            per_msg.map_or("–".into(), |v| format!("{v:.1}")),
            sys_per_msg.map_or("–".into(), |v| format!("{v:.1}")),
            cores.map_or("–".into(), |v| format!("{v:.2}")),
            hub_rss.map_or("–".into(), |v| format!("{:.1}", v as f64 / 1024.0)),
            s.errors.to_string(),
        ],
        summary: StepRow {
            rate,
            operator_rate: op_rate,
            visitor_sent: s.visitor_sent,
            operator_sent: s.operator_sent,
            delivered,
            throughput,
            v2o_p99_ms: if s.v2o.is_empty() {
                f64::INFINITY
            } else {
                s.v2o.ms(0.99)
            },
            v2o_p50_ms: s.v2o.ms(0.5),
            v2o_p999_ms: s.v2o.ms(0.999),
            v2o_recorded: s.v2o.recorded(),
            hub_cpu_us_per_msg: per_msg,
            hub_sys_us_per_msg: sys_per_msg,
            servers_us_per_msg: servers_us as f64 / sent.max(1) as f64,
            redis_us_per_msg: None,
            errors: s.errors,
        },
    }
}
