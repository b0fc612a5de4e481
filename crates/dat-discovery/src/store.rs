//! Bounded announcement store: name → set of peers, with expiry.
//!
//! Bounds (all hard): total peers, peers per name, peers per announcing host. When the
//! total is full the oldest announcement anywhere is evicted (LRU by refresh time, like
//! dns-discovery's store); a host over its own quota is refused instead, so one source
//! flooding announces cannot push out everyone else.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use crate::rng::Rng;

/// Store limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    /// Peers across all names.
    pub max_total: usize,
    /// Peers under one name (oldest evicted when full).
    pub max_per_name: usize,
    /// Peers one IPv4 host may hold (new ones refused when full).
    pub max_per_host: usize,
    /// Age after which an unrefreshed announcement is dropped (`None`: never).
    pub ttl: Option<Duration>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        // dns-discovery's limit is 10 000; clients re-announce every 60–70 s.
        StoreConfig {
            max_total: 10_000,
            max_per_name: 1_000,
            max_per_host: 64,
            ttl: Some(Duration::from_secs(5 * 60)),
        }
    }
}

type Stamp = (Duration, u64);

/// The store.
#[derive(Debug)]
pub struct Store {
    cfg: StoreConfig,
    names: HashMap<String, HashMap<SocketAddrV4, Stamp>>,
    by_age: BTreeMap<Stamp, (String, SocketAddrV4)>,
    per_host: HashMap<Ipv4Addr, usize>,
    seq: u64,
}

impl Store {
    /// An empty store.
    pub fn new(cfg: StoreConfig) -> Self {
        Store {
            cfg,
            names: HashMap::new(),
            by_age: BTreeMap::new(),
            per_host: HashMap::new(),
            seq: 0,
        }
    }

    /// Number of stored peers.
    pub fn len(&self) -> usize {
        self.by_age.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.by_age.is_empty()
    }

    /// Number of names with at least one peer.
    pub fn names(&self) -> usize {
        self.names.len()
    }

    /// Add or refresh. Returns `true` only for a new peer (the JS push trigger).
    pub fn add(&mut self, now: Duration, name: &str, peer: SocketAddrV4) -> bool {
        self.expire(now);
        self.seq += 1;
        let stamp = (now, self.seq);
        if let Some(old) = self.names.get_mut(name).and_then(|e| e.get_mut(&peer)) {
            let prev = std::mem::replace(old, stamp);
            if let Some(v) = self.by_age.remove(&prev) {
                self.by_age.insert(stamp, v);
            }
            return false;
        }
        if self.cfg.max_total == 0 || self.host_count(*peer.ip()) >= self.cfg.max_per_host {
            return false;
        }
        if let Some(entry) = self.names.get(name)
            && entry.len() >= self.cfg.max_per_name
            && let Some(oldest) = entry.iter().min_by_key(|(_, s)| **s).map(|(p, _)| *p)
        {
            self.remove(name, oldest);
        }
        while self.by_age.len() >= self.cfg.max_total {
            self.evict_oldest();
        }
        self.names
            .entry(name.to_string())
            .or_default()
            .insert(peer, stamp);
        self.by_age.insert(stamp, (name.to_string(), peer));
        *self.per_host.entry(*peer.ip()).or_default() += 1;
        true
    }

    fn host_count(&self, host: Ipv4Addr) -> usize {
        self.per_host.get(&host).copied().unwrap_or(0)
    }

    /// Remove one peer; returns whether it was there.
    pub fn remove(&mut self, name: &str, peer: SocketAddrV4) -> bool {
        let Some(entry) = self.names.get_mut(name) else {
            return false;
        };
        let Some(stamp) = entry.remove(&peer) else {
            return false;
        };
        if entry.is_empty() {
            self.names.remove(name);
        }
        self.by_age.remove(&stamp);
        if let Some(n) = self.per_host.get_mut(peer.ip()) {
            *n -= 1;
            if *n == 0 {
                self.per_host.remove(peer.ip());
            }
        }
        true
    }

    fn evict_oldest(&mut self) {
        if let Some((_, (name, peer))) = self.by_age.first_key_value().map(|(k, v)| (*k, v.clone()))
        {
            self.remove(&name, peer);
        }
    }

    /// Drop everything older than the TTL.
    pub fn expire(&mut self, now: Duration) {
        let Some(ttl) = self.cfg.ttl else { return };
        while let Some((stamp, (name, peer))) =
            self.by_age.first_key_value().map(|(k, v)| (*k, v.clone()))
        {
            if now.saturating_sub(stamp.0) <= ttl {
                break;
            }
            self.remove(&name, peer);
        }
    }

    /// Up to `max` live peers for `name`, in random order.
    pub fn get(
        &mut self,
        now: Duration,
        name: &str,
        max: usize,
        rng: &mut Rng,
    ) -> Vec<SocketAddrV4> {
        self.expire(now);
        let mut all: Vec<SocketAddrV4> = match self.names.get(name) {
            Some(e) => e.keys().copied().collect(),
            None => return Vec::new(),
        };
        all.sort();
        rng.shuffle(&mut all);
        all.truncate(max);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(host: u8, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, host), port)
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn add_refresh_expire() {
        let mut s = Store::new(StoreConfig {
            ttl: Some(secs(10)),
            ..StoreConfig::default()
        });
        let mut rng = Rng::new(1);
        assert!(s.add(secs(0), "a", p(1, 1)));
        assert!(!s.add(secs(5), "a", p(1, 1)));
        assert!(s.add(secs(5), "a", p(2, 1)));
        assert_eq!(s.get(secs(12), "a", 10, &mut rng).len(), 2);
        assert_eq!(s.get(secs(16), "a", 10, &mut rng), vec![]);
        assert!(s.is_empty());
        assert_eq!(s.names(), 0);
    }

    #[test]
    fn limits_hold() {
        let cfg = StoreConfig {
            max_total: 10,
            max_per_name: 4,
            max_per_host: 3,
            ttl: None,
        };
        let mut s = Store::new(cfg);
        let mut rng = Rng::new(1);
        for port in 0..10 {
            s.add(secs(0), "x", p(1, port));
        }
        assert_eq!(s.len(), 3, "per-host quota");
        for host in 2..20 {
            s.add(secs(u64::from(host)), "y", p(host, 1));
        }
        assert_eq!(s.get(secs(30), "y", 100, &mut rng).len(), 4, "per-name cap");
        for host in 20..60 {
            s.add(secs(u64::from(host)), &format!("n{host}"), p(host, 1));
        }
        assert_eq!(s.len(), 10, "total cap");
        assert_eq!(s.get(secs(99), "n59", 10, &mut rng), vec![p(59, 1)]);
        assert_eq!(
            s.get(secs(99), "x", 10, &mut rng),
            vec![],
            "oldest evicted first"
        );
    }

    #[test]
    fn remove_frees_host_quota() {
        let cfg = StoreConfig {
            max_total: 10,
            max_per_name: 10,
            max_per_host: 1,
            ttl: None,
        };
        let mut s = Store::new(cfg);
        assert!(s.add(secs(0), "a", p(1, 1)));
        assert!(!s.add(secs(0), "a", p(1, 2)));
        assert!(s.remove("a", p(1, 1)));
        assert!(s.add(secs(0), "a", p(1, 2)));
    }
}
