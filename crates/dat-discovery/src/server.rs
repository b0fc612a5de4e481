//! The dns-discovery server state machine (what discovery1.datprotocol.com runs,
//! dns-discovery 6.2.3 `listen()` mode; DAT-SPEC §6.2.3).
//!
//! Feed it every datagram with its source; it returns the datagrams to send: the
//! response to the sender (always, like dns-socket) and pushes to subscribers when a
//! new announcement arrives. Memory is bounded by [`StoreConfig`] and
//! [`RateConfig`]; packets over a source's rate are dropped unanswered.

use std::net::SocketAddrV4;
use std::time::Duration;

use crate::packet::{self, Kind, Message, Question, Record, RecordData};
use crate::ratelimit::{RateConfig, RateLimiter};
use crate::rng::Rng;
use crate::store::{Store, StoreConfig};
use crate::token::Secrets;
use crate::topic::{DAT_DOMAIN, is_bare_domain, split_name};
use crate::txt::{self, TxtData};

/// Peers in one TXT answer (JS asks its store for 100, but only 31 fit a string).
pub const TXT_PEERS: usize = txt::MAX_PEERS_PER_TXT;
/// Records in an SRV/A answer.
pub const SRV_PEERS: usize = 10;
/// Subscribers pushed to per new announcement.
pub const PUSH_FANOUT: usize = 16;

/// Server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Domain served (`dat.local`).
    pub domain: String,
    /// Announcement store limits and TTL.
    pub store: StoreConfig,
    /// Push-subscriber store limits and TTL (JS: 60 s).
    pub push: StoreConfig,
    /// Per-source rate limit.
    pub rate: RateConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            domain: DAT_DOMAIN.to_string(),
            store: StoreConfig::default(),
            push: StoreConfig {
                ttl: Some(Duration::from_secs(60)),
                ..StoreConfig::default()
            },
            rate: RateConfig::default(),
        }
    }
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Destination.
    pub to: SocketAddrV4,
    /// Payload.
    pub bytes: Vec<u8>,
}

/// Counters for operators and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Datagrams received.
    pub received: u64,
    /// Datagrams that failed to decode.
    pub malformed: u64,
    /// Datagrams dropped by the rate limit.
    pub rate_limited: u64,
    /// Responses sent.
    pub answered: u64,
    /// Announcements accepted (new or refreshed).
    pub announces: u64,
    /// Announcements refused for a bad token.
    pub bad_tokens: u64,
    /// Push queries sent.
    pub pushes: u64,
}

/// The server.
#[derive(Debug)]
pub struct Server {
    cfg: ServerConfig,
    secrets: Secrets,
    store: Store,
    push: Store,
    limiter: RateLimiter,
    rng: Rng,
    next_id: u16,
    stats: ServerStats,
}

impl Server {
    /// A server with two caller-provided random secrets and RNG seed.
    pub fn new(cfg: ServerConfig, secrets: Secrets, seed: u64) -> Self {
        Server {
            store: Store::new(cfg.store),
            push: Store::new(cfg.push),
            limiter: RateLimiter::new(cfg.rate),
            secrets,
            rng: Rng::new(seed),
            next_id: 1,
            stats: ServerStats::default(),
            cfg,
        }
    }

    /// Rotate the token secret (call every 5 minutes with fresh random bytes).
    pub fn rotate_secret(&mut self, fresh: [u8; 32]) {
        self.secrets.rotate(fresh);
    }

    /// Counters.
    pub fn stats(&self) -> ServerStats {
        self.stats
    }

    /// Peers currently stored.
    pub fn stored(&self) -> usize {
        self.store.len()
    }

    /// Add a static peer under the record id (hex of `dk[0..20]`), as the JS test
    /// server's `--peer` does.
    pub fn seed(&mut self, now: Duration, id: &str, peer: SocketAddrV4) {
        self.store.add(now, &id.to_ascii_lowercase(), peer);
    }

    /// Handle one datagram from `from`.
    pub fn handle(&mut self, now: Duration, from: SocketAddrV4, bytes: &[u8]) -> Vec<Datagram> {
        self.stats.received += 1;
        if !self.limiter.allow(now, *from.ip()) {
            self.stats.rate_limited += 1;
            return Vec::new();
        }
        let msg = match packet::decode(bytes) {
            Ok(m) => m,
            Err(_) => {
                self.stats.malformed += 1;
                return Vec::new();
            }
        };
        if msg.response {
            return Vec::new(); // replies to our pushes
        }
        let mut out = Vec::new();
        let mut answers = Vec::new();
        for q in &msg.questions {
            self.on_question(now, q, from, &mut answers);
        }
        for r in msg.answers.iter().chain(&msg.additionals) {
            self.on_record(now, r, from, &mut out);
        }
        let reply = Message {
            id: msg.id,
            response: true,
            questions: msg.questions,
            answers,
            additionals: Vec::new(),
        };
        if let Ok(bytes) = packet::encode(&reply, false) {
            self.stats.answered += 1;
            out.insert(0, Datagram { to: from, bytes });
        }
        out
    }

    fn on_question(
        &mut self,
        now: Duration,
        q: &Question,
        from: SocketAddrV4,
        out: &mut Vec<Record>,
    ) {
        let host = *from.ip();
        if is_bare_domain(&q.name, &self.cfg.domain) {
            if q.kind == Kind::Txt {
                let token = self.secrets.current_token(host);
                let (h, p) = (host.to_string(), from.port().to_string());
                let strings = txt::encode_pairs(&[("token", &token), ("host", &h), ("port", &p)]);
                out.push(Record {
                    name: q.name.clone(),
                    data: RecordData::Txt(strings),
                });
            }
            return;
        }
        let Some((id, domain)) = split_name(&q.name) else {
            return;
        };
        if !domain.eq_ignore_ascii_case(&self.cfg.domain) {
            return;
        }
        match q.kind {
            Kind::Txt => {
                let peers = self.store.get(now, &id, TXT_PEERS, &mut self.rng);
                let token = self.secrets.current_token(host);
                let value = txt::peers_value(&peers);
                let pairs: &[(&str, &str)] = if peers.is_empty() {
                    &[("token", &token)]
                } else {
                    &[("token", &token), ("peers", &value)]
                };
                let strings = txt::encode_pairs(pairs);
                out.push(Record {
                    name: q.name.clone(),
                    data: RecordData::Txt(strings),
                });
            }
            Kind::Srv | Kind::A => {
                for p in self.store.get(now, &id, SRV_PEERS, &mut self.rng) {
                    let data = if q.kind == Kind::A {
                        RecordData::A(*p.ip())
                    } else {
                        RecordData::Srv {
                            port: p.port(),
                            target: p.ip().to_string(),
                        }
                    };
                    out.push(Record {
                        name: q.name.clone(),
                        data,
                    });
                }
            }
            Kind::Other(_) => {}
        }
    }

    fn on_record(
        &mut self,
        now: Duration,
        r: &Record,
        from: SocketAddrV4,
        out: &mut Vec<Datagram>,
    ) {
        let RecordData::Txt(strings) = &r.data else {
            return;
        };
        let Some((id, domain)) = split_name(&r.name) else {
            return;
        };
        if !domain.eq_ignore_ascii_case(&self.cfg.domain) {
            return;
        }
        let data = TxtData::decode(strings);
        let host = *from.ip();
        if !data
            .token
            .as_deref()
            .is_some_and(|t| self.secrets.accepts(t, host))
        {
            self.stats.bad_tokens += 1;
            return;
        }
        if let Some(port) = data.announce.as_deref().and_then(txt::parse_port) {
            let peer = SocketAddrV4::new(host, if port == 0 { from.port() } else { port });
            self.stats.announces += 1;
            if self.store.add(now, &id, peer) {
                self.push_to_subscribers(now, &r.name, &id, peer, out);
            }
        }
        if let Some(port) = data.unannounce.as_deref().and_then(txt::parse_port) {
            let peer = SocketAddrV4::new(host, if port == 0 { from.port() } else { port });
            self.store.remove(&id, peer);
        }
        if data.subscribe {
            self.push.add(now, &id, from);
        } else {
            self.push.remove(&id, from);
        }
    }

    fn push_to_subscribers(
        &mut self,
        now: Duration,
        name: &str,
        id: &str,
        peer: SocketAddrV4,
        out: &mut Vec<Datagram>,
    ) {
        let subs = self.push.get(now, id, PUSH_FANOUT, &mut self.rng);
        if subs.is_empty() {
            return;
        }
        let msg = Message {
            id: self.next_id,
            response: false,
            questions: Vec::new(),
            answers: Vec::new(),
            additionals: vec![Record {
                name: name.to_string(),
                data: RecordData::Srv {
                    port: peer.port(),
                    target: peer.ip().to_string(),
                },
            }],
        };
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let Ok(bytes) = packet::encode(&msg, false) else {
            return;
        };
        for to in subs.into_iter().filter(|s| *s != peer) {
            self.stats.pushes += 1;
            out.push(Datagram {
                to,
                bytes: bytes.clone(),
            });
        }
    }
}
