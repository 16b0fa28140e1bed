//! Counters of what the hub did. Tests wait on them instead of sleeping; `/metrics` (later)
//! exports them.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

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
    pub slow_closes: AtomicU64,
    pub publish_errors: AtomicU64,
    pub catch_ups: AtomicU64,
    /// Rounds of the node's housekeeping (presence refresh, auto-release, sweeps).
    pub housekeeping_rounds: AtomicU64,
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
}

impl Snapshot {
    /// Every generation started has ended.
    pub fn ai_settled(&self) -> bool {
        self.ai_replies + self.ai_fenced + self.ai_cancelled + self.ai_failed == self.ai_started
    }
}

impl Metrics {
    pub fn bump(&self, counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
        self.changed.notify_waiters();
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
}
