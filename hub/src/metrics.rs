//! What the hub did, counted: exported at `/metrics` in the Prometheus text format, and awaited
//! by tests instead of sleeping.
//!
//! Plain atomics and fixed-bucket histograms, rendered by hand: no metrics framework to pull in.
//! Counters on hot paths use [`Metrics::add`] (no wake-ups); the rare ones tests wait for use
//! [`Metrics::bump`].

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use protocol::ReleaseReason;
use tokio::sync::Notify;

/// The kinds of AI failure counted apart (`store`: the reply could not be stored; the last one
/// catches anything else).
pub const AI_FAILURE_KINDS: [&str; 6] = [
    "timeout",
    "status",
    "malformed",
    "transport",
    "store",
    "failed",
];

#[derive(Debug, Default)]
pub struct Metrics {
    /// AI generations started; each ends as exactly one of replies, fenced, cancelled, failed.
    pub ai_started: AtomicU64,
    pub ai_replies: AtomicU64,
    /// AI replies refused by the epoch fence (generated across a takeover).
    pub ai_fenced: AtomicU64,
    /// AI generations cancelled by a takeover or a newer visitor message.
    pub ai_cancelled: AtomicU64,
    pub ai_failed: AtomicU64,
    /// Generations whose task has not finished yet (its last draft and typing frames included).
    pub ai_running: AtomicU64,
    /// Failures by kind: timeout, status, malformed, transport, failed, store.
    pub ai_failures: [AtomicU64; AI_FAILURE_KINDS.len()],
    /// Live AI frames (draft pieces, typing) a node dropped because it had already delivered a
    /// newer control epoch (a takeover) for their conversation.
    pub ai_frames_fenced: AtomicU64,
    /// Requests for a human nobody answered within the wait.
    pub human_requests_expired: AtomicU64,
    pub slow_closes: AtomicU64,
    /// WebSocket upgrades refused by the per-IP connect limit.
    pub connects_refused: AtomicU64,
    pub publish_errors: AtomicU64,
    pub catch_ups: AtomicU64,
    /// Client sessions that ended (after the handshake), for any reason.
    pub sessions_closed: AtomicU64,
    /// Rounds of the node's housekeeping (presence refresh, auto-release, sweeps).
    pub housekeeping_rounds: AtomicU64,
    pub messages_in_visitor: AtomicU64,
    pub messages_in_operator: AtomicU64,
    /// Frames written to client sockets.
    pub frames_out: AtomicU64,
    pub takeovers: AtomicU64,
    pub transfers: AtomicU64,
    /// Briefs made for operators, and those the assistant failed or was too slow to make.
    pub briefs_made: AtomicU64,
    pub briefs_failed: AtomicU64,
    /// Attachments stored.
    pub files_stored: AtomicU64,
    /// Conversations that began waiting for follow-up, and follow-up emails by outcome.
    pub follow_ups: AtomicU64,
    pub emails_sent: AtomicU64,
    pub emails_retrying: AtomicU64,
    pub emails_failed: AtomicU64,
    pub releases_ended: AtomicU64,
    pub releases_force: AtomicU64,
    pub releases_disconnected: AtomicU64,
    pub releases_idle: AtomicU64,
    /// Times the bus lost its subscription and the node resynced its clients.
    pub resyncs: AtomicU64,
    pub store_errors: AtomicU64,
    /// Duration of each store operation (a Redis round trip, with the Redis backends).
    pub store_latency: Histogram,
    /// From the event's publication on its origin node to its write to a client socket.
    pub delivery_latency: Histogram,
    changed: Notify,
}

/// A copy of the counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub ai_started: u64,
    pub ai_replies: u64,
    pub ai_fenced: u64,
    pub ai_cancelled: u64,
    pub ai_failed: u64,
    pub slow_closes: u64,
    pub publish_errors: u64,
    pub catch_ups: u64,
    pub housekeeping_rounds: u64,
    pub sessions_closed: u64,
    pub briefs_made: u64,
    pub briefs_failed: u64,
    pub emails_sent: u64,
    pub emails_retrying: u64,
    pub emails_failed: u64,
}

impl Snapshot {
    /// Every generation started has ended.
    pub fn ai_settled(&self) -> bool {
        self.ai_replies + self.ai_fenced + self.ai_cancelled + self.ai_failed == self.ai_started
    }
}

/// Upper bounds of the histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A Prometheus histogram with fixed buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

impl Metrics {
    /// Count, and wake whoever waits in [`Metrics::wait_until`].
    pub fn bump(&self, counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
        self.changed.notify_waiters();
    }

    /// Count on a hot path, without waking anyone.
    pub fn add(&self, counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    /// A generation failed, for `kind` (see [`AI_FAILURE_KINDS`]).
    pub fn ai_failure(&self, kind: &str) {
        let i = AI_FAILURE_KINDS
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(AI_FAILURE_KINDS.len() - 1);
        self.ai_failures[i].fetch_add(1, Ordering::Relaxed);
        self.bump(&self.ai_failed, 1);
    }

    pub fn release(&self, reason: ReleaseReason) {
        let counter = match reason {
            ReleaseReason::Ended => &self.releases_ended,
            ReleaseReason::ForceReleased => &self.releases_force,
            ReleaseReason::Disconnected => &self.releases_disconnected,
            ReleaseReason::Idle => &self.releases_idle,
        };
        self.bump(counter, 1);
    }

    pub fn snapshot(&self) -> Snapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            ai_started: g(&self.ai_started),
            ai_replies: g(&self.ai_replies),
            ai_fenced: g(&self.ai_fenced),
            ai_cancelled: g(&self.ai_cancelled),
            ai_failed: g(&self.ai_failed),
            slow_closes: g(&self.slow_closes),
            publish_errors: g(&self.publish_errors),
            catch_ups: g(&self.catch_ups),
            housekeeping_rounds: g(&self.housekeeping_rounds),
            sessions_closed: g(&self.sessions_closed),
            briefs_made: g(&self.briefs_made),
            briefs_failed: g(&self.briefs_failed),
            emails_sent: g(&self.emails_sent),
            emails_retrying: g(&self.emails_retrying),
            emails_failed: g(&self.emails_failed),
        }
    }

    /// Resolve once `done` holds for the counters.
    pub async fn wait_until(&self, done: impl Fn(&Snapshot) -> bool) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Register before checking, so a bump between the check and the await is not missed.
            changed.as_mut().enable();
            if done(&self.snapshot()) {
                return;
            }
            changed.await;
        }
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self, widgets: usize, operators: usize) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::with_capacity(4096);
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in samples {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        family(
            "tc_connections",
            "gauge",
            "Open client connections on this node.",
            &[
                ("{kind=\"widget\"}", widgets as u64),
                ("{kind=\"operator\"}", operators as u64),
            ],
        );
        family(
            "tc_messages_in_total",
            "counter",
            "Chat messages accepted from clients (duplicates not counted).",
            &[
                ("{from=\"visitor\"}", g(&self.messages_in_visitor)),
                ("{from=\"operator\"}", g(&self.messages_in_operator)),
            ],
        );
        family(
            "tc_frames_out_total",
            "counter",
            "Frames written to client sockets.",
            &[("", g(&self.frames_out))],
        );
        family(
            "tc_takeovers_total",
            "counter",
            "Conversations taken over by an operator.",
            &[("", g(&self.takeovers))],
        );
        family(
            "tc_transfers_total",
            "counter",
            "Held conversations handed from one operator to another.",
            &[("", g(&self.transfers))],
        );
        family(
            "tc_files_stored_total",
            "counter",
            "Attachments vetted and stored.",
            &[("", g(&self.files_stored))],
        );
        family(
            "tc_follow_ups_total",
            "counter",
            "Conversations that began waiting for follow-up (nobody was available).",
            &[("", g(&self.follow_ups))],
        );
        family(
            "tc_follow_up_emails_total",
            "counter",
            "Follow-up email deliveries, by outcome (sent; retrying after a failure that may pass; failed for good).",
            &[
                ("{outcome=\"sent\"}", g(&self.emails_sent)),
                ("{outcome=\"retrying\"}", g(&self.emails_retrying)),
                ("{outcome=\"failed\"}", g(&self.emails_failed)),
            ],
        );
        family(
            "tc_briefs_total",
            "counter",
            "Briefs for operators, by outcome (made, or failed: the assistant failed or was too slow).",
            &[
                ("{outcome=\"made\"}", g(&self.briefs_made)),
                ("{outcome=\"failed\"}", g(&self.briefs_failed)),
            ],
        );
        family(
            "tc_releases_total",
            "counter",
            "Conversations handed back to the AI, by reason.",
            &[
                ("{reason=\"ended\"}", g(&self.releases_ended)),
                ("{reason=\"force_released\"}", g(&self.releases_force)),
                ("{reason=\"disconnected\"}", g(&self.releases_disconnected)),
                ("{reason=\"idle\"}", g(&self.releases_idle)),
            ],
        );
        family(
            "tc_ai_replies_total",
            "counter",
            "AI generations by outcome; fenced = refused because an operator took over meanwhile.",
            &[
                ("{outcome=\"stored\"}", g(&self.ai_replies)),
                ("{outcome=\"fenced\"}", g(&self.ai_fenced)),
                ("{outcome=\"cancelled\"}", g(&self.ai_cancelled)),
                ("{outcome=\"failed\"}", g(&self.ai_failed)),
            ],
        );
        let failures: Vec<(String, u64)> = AI_FAILURE_KINDS
            .iter()
            .zip(&self.ai_failures)
            .map(|(k, c)| (format!("{{kind=\"{k}\"}}"), g(c)))
            .collect();
        let failures: Vec<(&str, u64)> = failures.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        family(
            "tc_ai_failures_total",
            "counter",
            "AI generations that failed, by kind; each gave the visitor the fallback message.",
            &failures,
        );
        family(
            "tc_ai_generations_running",
            "gauge",
            "AI generations on this node whose task has not finished (its last frames included).",
            &[("", g(&self.ai_running))],
        );
        family(
            "tc_ai_frames_fenced_total",
            "counter",
            "Live AI frames (draft pieces, typing) dropped because a takeover was delivered first.",
            &[("", g(&self.ai_frames_fenced))],
        );
        family(
            "tc_human_requests_expired_total",
            "counter",
            "Requests for a human that nobody answered within --human-wait-ms.",
            &[("", g(&self.human_requests_expired))],
        );
        family(
            "tc_connects_refused_total",
            "counter",
            "WebSocket upgrades answered 429 by the per-IP connect limit.",
            &[("", g(&self.connects_refused))],
        );
        family(
            "tc_slow_consumer_closes_total",
            "counter",
            "Connections closed with 4005 because their outbound queue was full (the frame is dropped for them).",
            &[("", g(&self.slow_closes))],
        );
        family(
            "tc_bus_publish_errors_total",
            "counter",
            "Publications the bus refused (subscribers catch up from the store).",
            &[("", g(&self.publish_errors))],
        );
        family(
            "tc_bus_resyncs_total",
            "counter",
            "Times the bus subscription was lost and local clients were caught up.",
            &[("", g(&self.resyncs))],
        );
        family(
            "tc_catch_ups_total",
            "counter",
            "Catch-ups of a client from the store (gap or resync).",
            &[("", g(&self.catch_ups))],
        );
        family(
            "tc_store_errors_total",
            "counter",
            "Store operations that failed (backend unavailable).",
            &[("", g(&self.store_errors))],
        );
        self.store_latency.render(
            &mut out,
            "tc_store_latency_seconds",
            "Duration of store operations (Redis round trips with the Redis backends).",
        );
        self.delivery_latency.render(
            &mut out,
            "tc_delivery_latency_seconds",
            "From an event's publication on its origin node to its write to a client socket.",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(10));
        let mut out = String::new();
        h.render(&mut out, "x", "help");
        assert!(out.contains("x_bucket{le=\"0.0005\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.005\"} 2\n"));
        assert!(out.contains("x_bucket{le=\"2.5\"} 2\n"));
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3\n"));
        assert!(out.contains("x_count 3\n"));
        assert!(out.contains("x_sum 10.0033\n"));
    }

    #[test]
    fn every_series_is_rendered() {
        let m = Metrics::default();
        m.release(ReleaseReason::Idle);
        let text = m.render(3, 1);
        assert!(text.contains("tc_connections{kind=\"widget\"} 3"));
        assert!(text.contains("tc_releases_total{reason=\"idle\"} 1"));
        for name in [
            "tc_messages_in_total",
            "tc_frames_out_total",
            "tc_takeovers_total",
            "tc_ai_replies_total",
            "tc_slow_consumer_closes_total",
            "tc_bus_resyncs_total",
            "tc_catch_ups_total",
            "tc_store_errors_total",
            "tc_store_latency_seconds_bucket",
            "tc_delivery_latency_seconds_count",
        ] {
            assert!(text.contains(name), "{name} missing");
        }
    }
}
