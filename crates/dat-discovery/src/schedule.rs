//! When to query which backend for which topic (discovery-channel's timers,
//! DAT-SPEC §6.2.2): everything at once on join, then DNS every 60–70 s and the DHT
//! every 10–15 min, jittered so many peers do not synchronise.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::rng::Rng;
use crate::topic::Topic;

/// A discovery mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Backend {
    /// Unicast dns-discovery servers.
    Dns,
    /// Multicast DNS on the LAN.
    Mdns,
    /// The BitTorrent Mainline DHT.
    Dht,
}

impl Backend {
    /// Lower-case name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Dns => "dns",
            Backend::Mdns => "mdns",
            Backend::Dht => "dht",
        }
    }
}

/// A repeat interval: `base` plus a uniformly random part below `jitter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    /// Fixed part.
    pub base: Duration,
    /// Random extra (exclusive bound).
    pub jitter: Duration,
}

/// Intervals per backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// DNS servers.
    pub dns: Interval,
    /// mDNS (dat@13 multicasts with every DNS round).
    pub mdns: Interval,
    /// DHT.
    pub dht: Interval,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        let s = Duration::from_secs;
        ScheduleConfig {
            dns: Interval {
                base: s(60),
                jitter: s(10),
            },
            mdns: Interval {
                base: s(60),
                jitter: s(10),
            },
            dht: Interval {
                base: s(600),
                jitter: s(300),
            },
        }
    }
}

/// One due query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task {
    /// Topic.
    pub topic: Topic,
    /// Port to announce, or `None` for lookup only.
    pub announce: Option<u16>,
    /// Which backend.
    pub backend: Backend,
}

/// The schedule.
#[derive(Debug)]
pub struct Schedule {
    cfg: ScheduleConfig,
    backends: Vec<Backend>,
    joined: BTreeMap<Topic, Option<u16>>,
    due: BTreeMap<(Duration, u64), (Topic, Backend)>,
    seq: u64,
    rng: Rng,
}

impl Schedule {
    /// A schedule for the enabled `backends`.
    pub fn new(cfg: ScheduleConfig, backends: &[Backend], seed: u64) -> Self {
        Schedule {
            cfg,
            backends: backends.to_vec(),
            joined: BTreeMap::new(),
            due: BTreeMap::new(),
            seq: 0,
            rng: Rng::new(seed),
        }
    }

    /// Join `topic` (announcing `announce` if given); all backends become due now.
    /// Re-joining with another port replaces the old one; returns the replaced port
    /// setting, if any, so the caller can unannounce it.
    pub fn join(
        &mut self,
        now: Duration,
        topic: Topic,
        announce: Option<u16>,
    ) -> Option<Option<u16>> {
        let previous = self.joined.insert(topic, announce);
        if previous.is_none() {
            for b in self.backends.clone() {
                self.push(now, topic, b);
            }
        } else if previous != Some(announce) {
            self.due.retain(|_, (t, _)| *t != topic);
            for b in self.backends.clone() {
                self.push(now, topic, b);
            }
        }
        previous
    }

    /// Leave `topic`; returns its announce setting if it was joined.
    pub fn leave(&mut self, topic: Topic) -> Option<Option<u16>> {
        let was = self.joined.remove(&topic)?;
        self.due.retain(|_, (t, _)| *t != topic);
        Some(was)
    }

    /// Joined topics.
    pub fn topics(&self) -> impl Iterator<Item = (&Topic, &Option<u16>)> {
        self.joined.iter()
    }

    fn push(&mut self, at: Duration, topic: Topic, backend: Backend) {
        self.seq += 1;
        self.due.insert((at, self.seq), (topic, backend));
    }

    fn interval(&mut self, backend: Backend) -> Duration {
        let iv = match backend {
            Backend::Dns => self.cfg.dns,
            Backend::Mdns => self.cfg.mdns,
            Backend::Dht => self.cfg.dht,
        };
        let jitter_ms = self
            .rng
            .below(iv.jitter.as_millis().min(u128::from(u64::MAX)) as u64);
        iv.base + Duration::from_millis(jitter_ms)
    }

    /// Tasks due at `now`, each rescheduled one interval later.
    pub fn poll(&mut self, now: Duration) -> Vec<Task> {
        let mut tasks = Vec::new();
        while let Some((&(at, seq), _)) = self.due.first_key_value() {
            if at > now {
                break;
            }
            let Some((topic, backend)) = self.due.remove(&(at, seq)) else {
                break;
            };
            let Some(&announce) = self.joined.get(&topic) else {
                continue;
            };
            tasks.push(Task {
                topic,
                announce,
                backend,
            });
            let next = now + self.interval(backend);
            self.push(next, topic, backend);
        }
        tasks
    }

    /// When the next task is due.
    pub fn next_due(&self) -> Option<Duration> {
        self.due.first_key_value().map(|(k, _)| k.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_poll_leave() {
        let ms = Duration::from_millis;
        let cfg = ScheduleConfig {
            dns: Interval {
                base: ms(1000),
                jitter: ms(100),
            },
            mdns: Interval {
                base: ms(500),
                jitter: ms(0),
            },
            dht: Interval {
                base: ms(5000),
                jitter: ms(0),
            },
        };
        let mut s = Schedule::new(cfg, &[Backend::Dns, Backend::Mdns, Backend::Dht], 7);
        let t = Topic([1; 32]);
        assert_eq!(s.join(ms(0), t, Some(3282)), None);
        assert_eq!(s.join(ms(0), t, Some(3282)), Some(Some(3282)));
        let first = s.poll(ms(0));
        assert_eq!(first.len(), 3, "every backend immediately, once");
        assert!(first.iter().all(|k| k.announce == Some(3282)));
        assert!(s.poll(ms(499)).is_empty());
        assert_eq!(
            s.poll(ms(500))
                .iter()
                .map(|k| k.backend)
                .collect::<Vec<_>>(),
            vec![Backend::Mdns]
        );
        let dns = s.poll(ms(1100));
        assert!(dns.iter().any(|k| k.backend == Backend::Dns));
        assert_eq!(s.leave(t), Some(Some(3282)));
        assert!(s.poll(ms(100_000)).is_empty());
        assert_eq!(s.next_due(), None);
    }
}
