//! Idle scenario: N widget connections that only say `hello` and then stay quiet.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::StreamExt;
use tokio::sync::{Semaphore, watch};

use crate::Target;
use crate::procstat::{self, Sample};
use crate::stats::table;
use crate::wire;

#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    /// Widget connections to open and hold.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// Wait this long after the last handshake before sampling, seconds.
    #[arg(long, default_value_t = 3.0)]
    pub settle_secs: f64,
}

#[derive(Debug)]
pub struct IdleReport {
    pub connected: u64,
    pub failed: u64,
    /// Hub RSS growth per connection, KiB (summed over hub pids).
    pub hub_kib_per_conn: Option<f64>,
    pub text: String,
}

pub async fn run(target: &Target, args: &IdleArgs) -> anyhow::Result<IdleReport> {
    let watched = target.watched()?;
    let before = procstat::sample_all(&watched);
    let n = args.connections;
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let permits = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let (url, ws_id) = (target.url(i).to_owned(), target.workspace(i).to_owned());
        let (ok, failed, first_error, permits) = (
            ok.clone(),
            failed.clone(),
            first_error.clone(),
            permits.clone(),
        );
        let mut stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let permit = permits.acquire_owned().await;
            let conn = async {
                let mut ws = wire::connect(&url, "/ws/widget").await?;
                wire::widget_hello(&mut ws, &ws_id).await?;
                anyhow::Ok(ws)
            }
            .await;
            drop(permit);
            let mut ws = match conn {
                Ok(ws) => {
                    ok.fetch_add(1, Ordering::Relaxed);
                    ws
                }
                Err(e) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    first_error
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert(format!("{e:#}"));
                    return;
                }
            };
            // Hold the socket, reading (pings are answered by tungstenite), until told to stop.
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    m = ws.next() => if !matches!(m, Some(Ok(_))) { break },
                }
            }
        }));
    }
    while ok.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < n as u64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_secs = start.elapsed().as_secs_f64();
    let connected_cpu = procstat::sample_all(&watched);
    tokio::time::sleep(Duration::from_secs_f64(args.settle_secs)).await;
    let after = procstat::sample_all(&watched);
    target.hook("connected", 0).await;

    let connected = ok.load(Ordering::Relaxed);
    let failed = failed.load(Ordering::Relaxed);
    let mut rows = Vec::new();
    let mut hub_delta = 0i64;
    let mut hub_seen = false;
    for (i, w) in watched.iter().enumerate() {
        let (Some(b), Some(a), Some(c)) = (before[i], after[i], connected_cpu[i]) else {
            continue;
        };
        let delta = a.rss_kib as i64 - b.rss_kib as i64;
        if w.is_hub {
            hub_delta += delta;
            hub_seen = true;
        }
        rows.push(vec![
            w.label.clone(),
            format!("{:.1}", b.rss_kib as f64 / 1024.0),
            format!("{:.1}", a.rss_kib as f64 / 1024.0),
            format!("{:.2}", delta as f64 / connected.max(1) as f64),
            format!("{:.0}", cpu_us(&b, &c) as f64 / connected.max(1) as f64),
        ]);
    }
    let per_conn = hub_seen.then(|| hub_delta as f64 / connected.max(1) as f64);
    let mut text = format!(
        "idle: {connected} connected, {failed} failed in {connect_secs:.2} s ({:.0} handshakes/s, {} in flight)\n\n",
        connected as f64 / connect_secs,
        args.concurrency
    );
    if let Some(e) = first_error
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
    {
        text.push_str(&format!("first error: {e}\n\n"));
    }
    text.push_str(&table(
        &[
            "process",
            "RSS before (MiB)",
            "RSS after (MiB)",
            "Δ RSS per connection (KiB)",
            "CPU per handshake (µs)",
        ],
        &rows,
    ));
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    Ok(IdleReport {
        connected,
        failed,
        hub_kib_per_conn: per_conn,
        text,
    })
}

fn cpu_us(before: &Sample, after: &Sample) -> u64 {
    after.cpu_us.saturating_sub(before.cpu_us)
}
