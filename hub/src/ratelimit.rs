//! Token buckets: how many frames of a kind a connection may send, in bursts and over time.
//!
//! Pure (the caller passes the time), so the arithmetic is tested without a clock.

use std::time::{Duration, Instant};

/// Avatar uploads per operator (`crate::api`, through `Inner::upload_limits`): a burst of 5,
/// then one every 10 s.
pub const UPLOAD_BURST: u32 = 5;
pub const UPLOAD_RATE: f64 = 0.1;
/// Attachment uploads per sender (a visitor's conversation, or an operator): a burst of 10
/// (several screenshots pasted at once), then one a second.
pub const FILE_UPLOAD_BURST: u32 = 10;
pub const FILE_UPLOAD_RATE: f64 = 1.0;

/// Refills `rate` tokens per second up to `burst`. A rate of 0 means unlimited.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Take one token, or say how long until one is available.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// The buckets of one connection.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    pub messages: TokenBucket,
    pub typing: TokenBucket,
}

impl ConnLimits {
    pub fn new(config: &crate::Config) -> Self {
        let now = Instant::now();
        Self {
            messages: TokenBucket::new(config.message_rate, config.message_burst, now),
            typing: TokenBucket::new(config.typing_rate, config.typing_burst, now),
        }
    }
}

/// Token buckets by key (a client IP, a workspace), created on first use. Per node: with N
/// nodes behind a balancer a key gets up to N times the rate, which is the point of spreading
/// load; what these stop is one source hammering one node.
#[derive(Debug)]
pub struct KeyedLimiter<K: std::hash::Hash + Eq> {
    rate: f64,
    burst: u32,
    buckets: dashmap::DashMap<K, TokenBucket>,
}

impl<K: std::hash::Hash + Eq + Clone> KeyedLimiter<K> {
    pub fn new(rate: f64, burst: u32) -> Self {
        KeyedLimiter {
            rate,
            burst,
            buckets: dashmap::DashMap::new(),
        }
    }

    /// Take one token for `key`, or say how long until one is available. The key is borrowed
    /// (a workspace id as `&str`): it is copied only for a bucket's first token, not on every
    /// message.
    pub fn take<Q>(&self, key: &Q, now: Instant) -> Result<(), Duration>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if self.rate <= 0.0 {
            return Ok(());
        }
        if let Some(mut b) = self.buckets.get_mut(key) {
            return b.take(now);
        }
        self.buckets
            .entry(key.to_owned())
            .or_insert_with(|| TokenBucket::new(self.rate, self.burst, now))
            .take(now)
    }

    /// Forget buckets that have refilled completely: they behave exactly like new ones, so
    /// memory stays bounded by the keys active in the last `burst / rate` seconds.
    pub fn prune(&self, now: Instant) {
        if self.rate <= 0.0 {
            return;
        }
        let full = Duration::from_secs_f64(f64::from(self.burst) / self.rate);
        self.buckets
            .retain(|_, b| now.saturating_duration_since(b.last) < full);
    }

    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_their_own_buckets_and_full_ones_are_pruned() {
        let t0 = Instant::now();
        let l = KeyedLimiter::new(1.0, 2);
        assert!(l.take(&"a", t0).is_ok());
        assert!(l.take(&"a", t0).is_ok());
        assert_eq!(l.take(&"a", t0), Err(Duration::from_secs(1)));
        assert!(l.take(&"b", t0).is_ok(), "another key is not affected");
        l.prune(t0 + Duration::from_millis(1500));
        assert_eq!(l.len(), 2, "not yet refilled");
        l.prune(t0 + Duration::from_secs(2));
        assert!(l.is_empty());
        assert!(l.take(&"a", t0 + Duration::from_secs(2)).is_ok());
    }

    #[test]
    fn a_burst_then_the_steady_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2.0, 3, t0);
        assert!(b.take(t0).is_ok());
        assert!(b.take(t0).is_ok());
        assert!(b.take(t0).is_ok());
        let wait = b.take(t0).expect_err("burst spent");
        assert_eq!(wait, Duration::from_millis(500));
        // Half a second later one token is back, and only one.
        let t1 = t0 + Duration::from_millis(500);
        assert!(b.take(t1).is_ok());
        assert!(b.take(t1).is_err());
        // Idle for a long time: back to the burst, not beyond.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(b.take(t2).is_ok());
        }
        assert!(b.take(t2).is_err());
    }

    #[test]
    fn a_zero_rate_is_unlimited() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(0.0, 1, t0);
        for _ in 0..10_000 {
            assert!(b.take(t0).is_ok());
        }
    }
}
