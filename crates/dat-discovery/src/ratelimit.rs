//! Per-source token buckets, bounded in the number of sources tracked.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

/// Rate-limit settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateConfig {
    /// Sustained packets per second per source IP.
    pub per_second: u32,
    /// Burst allowance.
    pub burst: u32,
    /// Most sources tracked at once.
    pub max_sources: usize,
}

impl Default for RateConfig {
    fn default() -> Self {
        RateConfig {
            per_second: 20,
            burst: 50,
            max_sources: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    // Milli-tokens, to avoid floats.
    milli: u64,
    last: Duration,
}

/// The limiter.
#[derive(Debug)]
pub struct RateLimiter {
    cfg: RateConfig,
    buckets: HashMap<Ipv4Addr, Bucket>,
}

impl RateLimiter {
    /// A limiter with no history.
    pub fn new(cfg: RateConfig) -> Self {
        RateLimiter {
            cfg,
            buckets: HashMap::new(),
        }
    }

    /// Whether a packet from `ip` at `now` may be processed (consumes one token).
    pub fn allow(&mut self, now: Duration, ip: Ipv4Addr) -> bool {
        let cap = u64::from(self.cfg.burst.max(1)) * 1000;
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= self.cfg.max_sources {
            self.make_room(now);
        }
        let b = self.buckets.entry(ip).or_insert(Bucket {
            milli: cap,
            last: now,
        });
        let elapsed = now
            .saturating_sub(b.last)
            .as_millis()
            .min(u128::from(u32::MAX)) as u64;
        b.milli = (b.milli + elapsed * u64::from(self.cfg.per_second)).min(cap);
        b.last = now;
        if b.milli >= 1000 {
            b.milli -= 1000;
            true
        } else {
            false
        }
    }

    /// Forget sources whose bucket has refilled; if none, forget an arbitrary one.
    fn make_room(&mut self, now: Duration) {
        let refill =
            Duration::from_secs(u64::from(self.cfg.burst / self.cfg.per_second.max(1) + 1));
        self.buckets
            .retain(|_, b| now.saturating_sub(b.last) < refill);
        if self.buckets.len() >= self.cfg.max_sources
            && let Some(k) = self.buckets.keys().next().copied()
        {
            self.buckets.remove(&k);
        }
    }

    /// Sources currently tracked.
    pub fn sources(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let mut r = RateLimiter::new(RateConfig {
            per_second: 10,
            burst: 5,
            max_sources: 2,
        });
        let ip = Ipv4Addr::new(1, 2, 3, 4);
        let t0 = Duration::from_secs(100);
        assert_eq!((0..20).filter(|_| r.allow(t0, ip)).count(), 5);
        assert!(r.allow(t0 + Duration::from_millis(100), ip));
        assert!(!r.allow(t0 + Duration::from_millis(100), ip));
        // Another source is unaffected, and the table stays bounded.
        for i in 0..100 {
            assert!(r.allow(t0, Ipv4Addr::new(9, 9, 9, i)));
        }
        assert!(r.sources() <= 2);
    }
}
