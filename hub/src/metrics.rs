//! What the hub did, counted: exported at `/metrics` in the OpenMetrics text format, and awaited
//! by tests instead of sleeping.
//!
//! The series are `prometheus-client`'s types in one [`Registry`] per node, encoded by the
//! crate, so the exposition's format and escaping are the Prometheus project's to keep right.
//! Labelled series are created once, here, and kept as handles: counting on a hot path is one
//! atomic add behind a pointer, never a lookup in a family's map. Counters on hot paths use
//! [`Metrics::add`] (no wake-ups); the rare ones tests wait for use [`Metrics::bump`].

use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram;
use prometheus_client::registry::{Registry, Unit};
use protocol::ReleaseReason;
use tokio::sync::Notify;

/// The media type of [`Metrics::render`]'s text, as `prometheus-client` documents it.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

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

/// Upper bounds of the latency histograms' buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// One label's name and value: every family here has a single label.
type Label = [(&'static str, &'static str); 1];

/// A node's series and the handles the hub counts through. The fields share their values with
/// the registry (a `prometheus-client` metric is a handle to shared atomics).
#[derive(Debug)]
pub struct Metrics {
    /// AI generations started; each ends as exactly one of replies, fenced, cancelled, failed.
    pub ai_started: Counter,
    pub ai_replies: Counter,
    /// AI replies refused by the epoch fence (generated across a takeover).
    pub ai_fenced: Counter,
    /// AI generations cancelled by a takeover or a newer visitor message.
    pub ai_cancelled: Counter,
    pub ai_failed: Counter,
    /// Generations whose task has not finished yet (its last draft and typing frames included).
    pub ai_running: Gauge,
    /// Failures by kind, in the order of [`AI_FAILURE_KINDS`].
    pub ai_failures: [Counter; AI_FAILURE_KINDS.len()],
    /// Live AI frames (draft pieces, typing) a node dropped because it had already delivered a
    /// newer control epoch (a takeover) for their conversation.
    pub ai_frames_fenced: Counter,
    /// Requests for a human nobody answered within the wait.
    pub human_requests_expired: Counter,
    pub slow_closes: Counter,
    /// WebSocket upgrades refused by the per-IP connect limit.
    pub connects_refused: Counter,
    pub publish_errors: Counter,
    pub catch_ups: Counter,
    /// Client sessions that ended (after the handshake), for any reason. Not exported: tests
    /// wait on it.
    pub sessions_closed: Counter,
    /// Rounds of the node's housekeeping (presence refresh, auto-release, sweeps). Not
    /// exported: tests wait on it.
    pub housekeeping_rounds: Counter,
    pub messages_in_visitor: Counter,
    pub messages_in_operator: Counter,
    /// Frames written to client sockets.
    pub frames_out: Counter,
    pub takeovers: Counter,
    pub transfers: Counter,
    /// Briefs made for operators, and those the assistant failed or was too slow to make.
    pub briefs_made: Counter,
    pub briefs_failed: Counter,
    /// Attachments stored.
    pub files_stored: Counter,
    /// Conversations that began waiting for follow-up, and follow-up emails by outcome.
    pub follow_ups: Counter,
    pub emails_sent: Counter,
    pub emails_retrying: Counter,
    pub emails_failed: Counter,
    pub releases_ended: Counter,
    pub releases_force: Counter,
    pub releases_disconnected: Counter,
    pub releases_idle: Counter,
    /// Times the bus lost its subscription and the node resynced its clients.
    pub resyncs: Counter,
    pub store_errors: Counter,
    /// Duration of each store operation (a Redis round trip, with the Redis backends).
    pub store_latency: Latency,
    /// From the event's publication on its origin node to its write to a client socket.
    pub delivery_latency: Latency,
    /// Open sockets by kind: the registry (not the sessions) counts them, so they are copied
    /// in at each scrape.
    widgets: Gauge,
    operators: Gauge,
    registry: Registry,
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

/// A latency histogram with the buckets of [`BUCKETS`], observed in [`Duration`]s.
#[derive(Debug, Clone)]
pub struct Latency(histogram::Histogram);

impl Default for Latency {
    fn default() -> Self {
        Latency(histogram::Histogram::new(BUCKETS))
    }
}

impl Latency {
    pub fn observe(&self, d: Duration) {
        self.0.observe(d.as_secs_f64());
    }
}

/// Register a counter (`name` without `_total`: the encoder adds it).
fn counter(registry: &mut Registry, name: &str, help: &str) -> Counter {
    let c = Counter::default();
    registry.register(name, help, c.clone());
    c
}

/// Register a family of one label and create its series, one per value, so that each is
/// exported (at 0) from the start; their handles, in the order of `values`.
fn family<M, const N: usize>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    label: &'static str,
    values: [&'static str; N],
) -> [M; N]
where
    M: prometheus_client::registry::Metric + Clone + Default,
    Family<Label, M>: prometheus_client::registry::Metric,
{
    let family = Family::<Label, M>::default();
    registry.register(name, help, family.clone());
    values.map(|v| family.get_or_create(&[(label, v)]).clone())
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every series of the node, registered once.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let r = &mut registry;
        let [widgets, operators] = family(
            r,
            "tc_connections",
            "Open client connections on this node",
            "kind",
            ["widget", "operator"],
        );
        let [messages_in_visitor, messages_in_operator] = family(
            r,
            "tc_messages_in",
            "Chat messages accepted from clients (duplicates not counted)",
            "from",
            ["visitor", "operator"],
        );
        let frames_out = counter(r, "tc_frames_out", "Frames written to client sockets");
        let takeovers = counter(r, "tc_takeovers", "Conversations taken over by an operator");
        let transfers = counter(
            r,
            "tc_transfers",
            "Held conversations handed from one operator to another",
        );
        let files_stored = counter(r, "tc_files_stored", "Attachments vetted and stored");
        let follow_ups = counter(
            r,
            "tc_follow_ups",
            "Conversations that began waiting for follow-up (nobody was available)",
        );
        let [emails_sent, emails_retrying, emails_failed] = family(
            r,
            "tc_follow_up_emails",
            "Follow-up email deliveries, by outcome (sent; retrying after a failure that may pass; failed for good)",
            "outcome",
            ["sent", "retrying", "failed"],
        );
        let [briefs_made, briefs_failed] = family(
            r,
            "tc_briefs",
            "Briefs for operators, by outcome (made, or failed: the assistant failed or was too slow)",
            "outcome",
            ["made", "failed"],
        );
        let [
            releases_ended,
            releases_force,
            releases_disconnected,
            releases_idle,
        ] = family(
            r,
            "tc_releases",
            "Conversations handed back to the AI, by reason",
            "reason",
            ["ended", "force_released", "disconnected", "idle"],
        );
        let [ai_replies, ai_fenced, ai_cancelled, ai_failed] = family(
            r,
            "tc_ai_replies",
            "AI generations by outcome; fenced = refused because an operator took over meanwhile",
            "outcome",
            ["stored", "fenced", "cancelled", "failed"],
        );
        let ai_failures = family(
            r,
            "tc_ai_failures",
            "AI generations that failed, by kind; each gave the visitor the fallback message",
            "kind",
            AI_FAILURE_KINDS,
        );
        let ai_running = Gauge::default();
        r.register(
            "tc_ai_generations_running",
            "AI generations on this node whose task has not finished (its last frames included)",
            ai_running.clone(),
        );
        let ai_frames_fenced = counter(
            r,
            "tc_ai_frames_fenced",
            "Live AI frames (draft pieces, typing) dropped because a takeover was delivered first",
        );
        let human_requests_expired = counter(
            r,
            "tc_human_requests_expired",
            "Requests for a human that nobody answered within --human-wait-ms",
        );
        let connects_refused = counter(
            r,
            "tc_connects_refused",
            "WebSocket upgrades answered 429 by the per-IP connect limit",
        );
        let slow_closes = counter(
            r,
            "tc_slow_consumer_closes",
            "Connections closed with 4005 because their outbound queue was full (the frame is dropped for them)",
        );
        let publish_errors = counter(
            r,
            "tc_bus_publish_errors",
            "Publications the bus refused (subscribers catch up from the store)",
        );
        let resyncs = counter(
            r,
            "tc_bus_resyncs",
            "Times the bus subscription was lost and local clients were caught up",
        );
        let catch_ups = counter(
            r,
            "tc_catch_ups",
            "Catch-ups of a client from the store (gap or resync)",
        );
        let store_errors = counter(
            r,
            "tc_store_errors",
            "Store operations that failed (backend unavailable)",
        );
        let store_latency = Latency::default();
        r.register_with_unit(
            "tc_store_latency",
            "Duration of store operations (Redis round trips with the Redis backends)",
            Unit::Seconds,
            store_latency.0.clone(),
        );
        let delivery_latency = Latency::default();
        r.register_with_unit(
            "tc_delivery_latency",
            "From an event's publication on its origin node to its write to a client socket",
            Unit::Seconds,
            delivery_latency.0.clone(),
        );
        Metrics {
            // Counted for tests only, in no registry.
            ai_started: Counter::default(),
            sessions_closed: Counter::default(),
            housekeeping_rounds: Counter::default(),
            ai_replies,
            ai_fenced,
            ai_cancelled,
            ai_failed,
            ai_running,
            ai_failures,
            ai_frames_fenced,
            human_requests_expired,
            slow_closes,
            connects_refused,
            publish_errors,
            catch_ups,
            messages_in_visitor,
            messages_in_operator,
            frames_out,
            takeovers,
            transfers,
            briefs_made,
            briefs_failed,
            files_stored,
            follow_ups,
            emails_sent,
            emails_retrying,
            emails_failed,
            releases_ended,
            releases_force,
            releases_disconnected,
            releases_idle,
            resyncs,
            store_errors,
            store_latency,
            delivery_latency,
            widgets,
            operators,
            registry,
            changed: Notify::new(),
        }
    }

    /// Count, and wake whoever waits in [`Metrics::wait_until`].
    pub fn bump(&self, counter: &Counter, by: u64) {
        counter.inc_by(by);
        self.changed.notify_waiters();
    }

    /// Count on a hot path, without waking anyone.
    pub fn add(&self, counter: &Counter, by: u64) {
        counter.inc_by(by);
    }

    /// A generation failed, for `kind` (see [`AI_FAILURE_KINDS`]).
    pub fn ai_failure(&self, kind: &str) {
        let i = AI_FAILURE_KINDS
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(AI_FAILURE_KINDS.len() - 1);
        self.ai_failures[i].inc();
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
        Snapshot {
            ai_started: self.ai_started.get(),
            ai_replies: self.ai_replies.get(),
            ai_fenced: self.ai_fenced.get(),
            ai_cancelled: self.ai_cancelled.get(),
            ai_failed: self.ai_failed.get(),
            slow_closes: self.slow_closes.get(),
            publish_errors: self.publish_errors.get(),
            catch_ups: self.catch_ups.get(),
            housekeeping_rounds: self.housekeeping_rounds.get(),
            sessions_closed: self.sessions_closed.get(),
            briefs_made: self.briefs_made.get(),
            briefs_failed: self.briefs_failed.get(),
            emails_sent: self.emails_sent.get(),
            emails_retrying: self.emails_retrying.get(),
            emails_failed: self.emails_failed.get(),
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

    /// The OpenMetrics text exposition of every series (served as [`CONTENT_TYPE`]), with the
    /// node's open connections as they are now.
    pub fn render(&self, widgets: usize, operators: usize) -> String {
        self.widgets.set(i64::try_from(widgets).unwrap_or(i64::MAX));
        self.operators
            .set(i64::try_from(operators).unwrap_or(i64::MAX));
        let mut out = String::with_capacity(8192);
        encode(&mut out, &self.registry).expect("writing to a String does not fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the sample line `series` (name and labels, exactly as written).
    fn sample(text: &str, series: &str) -> Option<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .map(str::to_owned)
    }

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let m = Metrics::new();
        m.store_latency.observe(Duration::from_micros(300));
        m.store_latency.observe(Duration::from_millis(3));
        m.store_latency.observe(Duration::from_secs(10));
        let text = m.render(0, 0);
        let s = |le: &str| {
            sample(
                &text,
                &format!("tc_store_latency_seconds_bucket{{le=\"{le}\"}}"),
            )
        };
        assert_eq!(s("0.00025").as_deref(), Some("0"), "{text}");
        assert_eq!(s("0.0005").as_deref(), Some("1"));
        assert_eq!(s("0.005").as_deref(), Some("2"));
        assert_eq!(s("2.5").as_deref(), Some("2"));
        assert_eq!(s("+Inf").as_deref(), Some("3"));
        assert_eq!(
            BUCKETS.len() + 1,
            text.matches("tc_store_latency_seconds_bucket{").count()
        );
        assert_eq!(
            sample(&text, "tc_store_latency_seconds_count").as_deref(),
            Some("3")
        );
        let sum: f64 = sample(&text, "tc_store_latency_seconds_sum")
            .and_then(|v| v.parse().ok())
            .expect("a sum");
        assert!((sum - 10.0033).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn every_series_is_rendered_under_its_name() {
        let m = Metrics::new();
        m.release(ReleaseReason::Idle);
        m.ai_failure("no such kind");
        m.ai_running.inc();
        let text = m.render(3, 1);
        // OpenMetrics, complete: its end marker.
        assert!(text.ends_with("# EOF\n"), "{text}");
        for (series, value) in [
            ("tc_connections{kind=\"widget\"}", "3"),
            ("tc_connections{kind=\"operator\"}", "1"),
            ("tc_releases_total{reason=\"idle\"}", "1"),
            ("tc_releases_total{reason=\"ended\"}", "0"),
            ("tc_ai_failures_total{kind=\"failed\"}", "1"),
            ("tc_ai_failures_total{kind=\"timeout\"}", "0"),
            ("tc_ai_replies_total{outcome=\"failed\"}", "1"),
            ("tc_ai_generations_running", "1"),
            ("tc_messages_in_total{from=\"visitor\"}", "0"),
            ("tc_messages_in_total{from=\"operator\"}", "0"),
            ("tc_frames_out_total", "0"),
            ("tc_takeovers_total", "0"),
            ("tc_transfers_total", "0"),
            ("tc_files_stored_total", "0"),
            ("tc_follow_ups_total", "0"),
            ("tc_follow_up_emails_total{outcome=\"retrying\"}", "0"),
            ("tc_briefs_total{outcome=\"made\"}", "0"),
            ("tc_ai_frames_fenced_total", "0"),
            ("tc_human_requests_expired_total", "0"),
            ("tc_connects_refused_total", "0"),
            ("tc_slow_consumer_closes_total", "0"),
            ("tc_bus_publish_errors_total", "0"),
            ("tc_bus_resyncs_total", "0"),
            ("tc_catch_ups_total", "0"),
            ("tc_store_errors_total", "0"),
            ("tc_store_latency_seconds_count", "0"),
            ("tc_delivery_latency_seconds_count", "0"),
        ] {
            assert_eq!(
                sample(&text, series).as_deref(),
                Some(value),
                "{series} in\n{text}"
            );
        }
        // Counted for tests, not exported.
        assert!(!text.contains("sessions_closed") && !text.contains("housekeeping"));
    }

    #[test]
    fn handles_count_into_the_exported_series() {
        let m = Metrics::new();
        m.add(&m.messages_in_visitor, 2);
        m.bump(&m.takeovers, 1);
        let text = m.render(0, 0);
        assert_eq!(
            sample(&text, "tc_messages_in_total{from=\"visitor\"}").as_deref(),
            Some("2")
        );
        assert_eq!(sample(&text, "tc_takeovers_total").as_deref(), Some("1"));
        // A second scrape sees the connections of its own moment.
        let text = m.render(5, 0);
        assert_eq!(
            sample(&text, "tc_connections{kind=\"widget\"}").as_deref(),
            Some("5")
        );
    }
}
