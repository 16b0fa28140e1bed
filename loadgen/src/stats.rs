//! Latency histograms (HDR, microseconds) and the counters of one measured step.

use std::fmt::Write as _;
use std::sync::Mutex;

use hdrhistogram::Histogram;

/// A latency histogram in microseconds, 1 µs to 10 min, 3 significant figures.
#[derive(Debug, Clone)]
pub struct Hist(Histogram<u64>);

impl Default for Hist {
    fn default() -> Self {
        Hist(Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"))
    }
}

impl Hist {
    pub fn record_ns(&mut self, ns: u64) {
        self.0.saturating_record((ns / 1_000).max(1));
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Milliseconds at quantile `q`.
    pub fn ms(&self, q: f64) -> f64 {
        self.0.value_at_quantile(q) as f64 / 1000.0
    }

    /// Every recorded value (µs, the top of its bucket) with its count: enough to merge windows
    /// of one run into one distribution elsewhere (`scripts/team_table.py` pools rounds).
    pub fn recorded(&self) -> Vec<(u64, u64)> {
        self.0
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect()
    }

    pub fn max_ms(&self) -> f64 {
        self.0.max() as f64 / 1000.0
    }

    /// `p50 / p90 / p99 / p99.9 / max` in ms, or `–` when empty.
    pub fn summary(&self) -> String {
        if self.is_empty() {
            return "–".into();
        }
        format!(
            "{} / {} / {} / {} / {}",
            fmt_ms(self.ms(0.5)),
            fmt_ms(self.ms(0.9)),
            fmt_ms(self.ms(0.99)),
            fmt_ms(self.ms(0.999)),
            fmt_ms(self.max_ms())
        )
    }
}

pub fn fmt_ms(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

/// What happened to the messages scheduled inside one step's measured window.
#[derive(Debug, Default)]
pub struct StepStats {
    pub visitor_sent: u64,
    pub visitor_acked: u64,
    pub operator_sent: u64,
    pub operator_acked: u64,
    /// Visitor messages delivered to the operator holding the conversation.
    pub v2o_delivered: u64,
    pub o2v_delivered: u64,
    pub v2o: Hist,
    pub o2v: Hist,
    /// Send → ack, both kinds of sender.
    pub ack: Hist,
    /// Scheduled → actually written: the generator's own delay (its timer ticks in whole
    /// milliseconds, and it shares the cores). Latencies run from the write; this shows whether
    /// the generator kept its schedule, so a slow generator cannot hide a slow hub.
    pub lag: Hist,
    pub errors: u64,
}

/// Step stats shared by every connection task: one lock per recorded message, which at tens of
/// thousands of messages a second is far below the generator's other costs.
#[derive(Debug)]
pub struct Shared {
    pub steps: Vec<Mutex<StepStats>>,
}

impl Shared {
    pub fn new(steps: usize) -> Self {
        Shared {
            steps: (0..steps)
                .map(|_| Mutex::new(StepStats::default()))
                .collect(),
        }
    }

    pub fn with<R>(&self, step: usize, f: impl FnOnce(&mut StepStats) -> R) -> Option<R> {
        let m = self.steps.get(step)?;
        let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
        Some(f(&mut g))
    }
}

/// A markdown table from a header and rows.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(
        out,
        "|{}|",
        header.iter().map(|_| " --- ").collect::<Vec<_>>().join("|")
    );
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    out
}
