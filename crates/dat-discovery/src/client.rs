//! The unicast dns-discovery client (dns-discovery 6.2.3 `announce` / `lookup` /
//! `unannounce` / `whoami`; DAT-SPEC §6.2.3) as a state machine.
//!
//! Per server it first probes the bare domain to get a token (and learn our public
//! address), then sends the queued operations with that token. Retransmissions and
//! timeouts are driven by [`Client::poll`] with the caller's clock.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use crate::packet::{self, Message, RecordData};
use crate::server::Datagram;
use crate::topic::split_name;
use crate::txt::{self, TxtData};

/// Most peers taken from one answer.
pub const MAX_PEERS_PER_ANSWER: usize = 100;
/// Tokens older than this are refreshed by a new probe (server secrets rotate every
/// 5 minutes and the previous one stays valid, so 5 minutes is always safe).
pub const TOKEN_MAX_AGE: Duration = Duration::from_secs(5 * 60);

/// What to do for a record id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Ask for peers (and subscribe to pushes).
    Lookup,
    /// Announce this port (`0`: the server uses our UDP source port).
    Announce(u16),
    /// Withdraw this port.
    Unannounce(u16),
}

/// A discovery server address; dat's defaults have no port, meaning 5300 then 53.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerAddr {
    /// Resolved address and primary port.
    pub addr: SocketAddrV4,
    /// Port tried when the primary does not answer a probe.
    pub fallback_port: Option<u16>,
}

/// Client settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Domain (`dat.local`).
    pub domain: String,
    /// Servers, already resolved.
    pub servers: Vec<ServerAddr>,
    /// First retransmission delay (doubles each time).
    pub retry_after: Duration,
    /// Sends per query before giving up.
    pub tries: u32,
    /// Most outstanding queries.
    pub max_pending: usize,
}

/// What the client reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A peer for record id `id` (hex of `dk[0..20]`).
    Peer {
        /// Record id.
        id: String,
        /// The peer.
        peer: SocketAddrV4,
        /// The server that told us.
        via: SocketAddrV4,
    },
    /// A server answered a query after `rtt`.
    Answered {
        /// Server.
        server: SocketAddrV4,
        /// Time since the first send.
        rtt: Duration,
    },
    /// A query to a server got no answer after all tries.
    TimedOut {
        /// Server.
        server: SocketAddrV4,
    },
}

/// Events and datagrams produced by one step.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClientOutput {
    /// Things learned.
    pub events: Vec<ClientEvent>,
    /// Datagrams to send.
    pub send: Vec<Datagram>,
}

#[derive(Debug)]
struct ServerState {
    addr: ServerAddr,
    tried_fallback: bool,
    token: Option<(String, Duration)>,
    seen_as: Option<SocketAddrV4>,
}

#[derive(Debug)]
enum Purpose {
    Probe { queued: Vec<(String, Op)> },
    Op { id: String },
}

#[derive(Debug)]
struct Pending {
    server: usize,
    purpose: Purpose,
    bytes: Vec<u8>,
    first_sent: Duration,
    next_send: Duration,
    sends: u32,
}

/// The client.
#[derive(Debug)]
pub struct Client {
    cfg: ClientConfig,
    servers: Vec<ServerState>,
    pending: BTreeMap<u16, Pending>,
    next_id: u16,
}

impl Client {
    /// A client; `first_id` seeds transaction ids (pass something random).
    pub fn new(cfg: ClientConfig, first_id: u16) -> Self {
        let servers = cfg
            .servers
            .iter()
            .map(|&addr| ServerState {
                addr,
                tried_fallback: false,
                token: None,
                seen_as: None,
            })
            .collect();
        Client {
            cfg,
            servers,
            pending: BTreeMap::new(),
            next_id: first_id.max(1),
        }
    }

    /// Start `op` for record id `id` at every server.
    pub fn request(&mut self, now: Duration, id: &str, op: Op) -> Vec<Datagram> {
        let mut out = Vec::new();
        for i in 0..self.servers.len() {
            let fresh = self.servers[i]
                .token
                .as_ref()
                .filter(|(_, at)| now.saturating_sub(*at) < TOKEN_MAX_AGE)
                .map(|(t, _)| t.clone());
            match fresh {
                Some(token) => out.extend(self.send_op(now, i, id, op, &token)),
                None => out.extend(self.queue_behind_probe(now, i, id, op)),
            }
        }
        out
    }

    fn queue_behind_probe(
        &mut self,
        now: Duration,
        i: usize,
        id: &str,
        op: Op,
    ) -> Option<Datagram> {
        let probing = self
            .pending
            .values_mut()
            .find(|p| p.server == i && matches!(p.purpose, Purpose::Probe { .. }));
        if let Some(Pending {
            purpose: Purpose::Probe { queued },
            ..
        }) = probing
        {
            if queued.len() < self.cfg.max_pending {
                queued.push((id.to_string(), op));
            }
            return None;
        }
        let msg = packet::txt_query(0, &self.cfg.domain, None);
        self.start(
            now,
            i,
            msg,
            Purpose::Probe {
                queued: vec![(id.to_string(), op)],
            },
        )
    }

    fn send_op(
        &mut self,
        now: Duration,
        i: usize,
        id: &str,
        op: Op,
        token: &str,
    ) -> Option<Datagram> {
        let (a, b);
        let pairs: Vec<(&str, &str)> = match op {
            Op::Lookup => vec![("subscribe", "true"), ("token", token)],
            Op::Announce(p) => {
                a = p.to_string();
                vec![("subscribe", "true"), ("token", token), ("announce", &a)]
            }
            Op::Unannounce(p) => {
                b = p.to_string();
                vec![("token", token), ("unannounce", &b)]
            }
        };
        let name = format!("{id}.{}", self.cfg.domain);
        let msg = packet::txt_query(0, &name, Some(txt::encode_pairs(&pairs)));
        self.start(now, i, msg, Purpose::Op { id: id.to_string() })
    }

    fn start(
        &mut self,
        now: Duration,
        server: usize,
        mut msg: Message,
        purpose: Purpose,
    ) -> Option<Datagram> {
        if self.pending.len() >= self.cfg.max_pending {
            return None;
        }
        let id = self.fresh_id();
        msg.id = id;
        let bytes = packet::encode(&msg, false).ok()?;
        let to = self.servers[server].addr.addr;
        self.pending.insert(
            id,
            Pending {
                server,
                purpose,
                bytes: bytes.clone(),
                first_sent: now,
                next_send: now + self.cfg.retry_after,
                sends: 1,
            },
        );
        Some(Datagram { to, bytes })
    }

    fn fresh_id(&mut self) -> u16 {
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1).max(1);
            if !self.pending.contains_key(&id) {
                return id;
            }
        }
    }

    /// When [`Client::poll`] next has work.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.pending.values().map(|p| p.next_send).min()
    }

    /// Retransmit or time out due queries.
    pub fn poll(&mut self, now: Duration) -> ClientOutput {
        let mut out = ClientOutput::default();
        let due: Vec<u16> = self
            .pending
            .iter()
            .filter(|(_, p)| p.next_send <= now)
            .map(|(k, _)| *k)
            .collect();
        for id in due {
            let Some(p) = self.pending.get_mut(&id) else {
                continue;
            };
            let server = self.servers[p.server].addr.addr;
            if p.sends < self.cfg.tries {
                p.sends += 1;
                p.next_send = now + self.cfg.retry_after * 2u32.pow(p.sends - 1);
                out.send.push(Datagram {
                    to: server,
                    bytes: p.bytes.clone(),
                });
                continue;
            }
            let Some(p) = self.pending.remove(&id) else {
                continue;
            };
            out.events.push(ClientEvent::TimedOut { server });
            if let Purpose::Probe { queued } = p.purpose {
                self.retry_probe_on_fallback(now, p.server, queued, &mut out);
            }
        }
        out
    }

    fn retry_probe_on_fallback(
        &mut self,
        now: Duration,
        i: usize,
        queued: Vec<(String, Op)>,
        out: &mut ClientOutput,
    ) {
        let s = &mut self.servers[i];
        let Some(port) = s.addr.fallback_port.filter(|_| !s.tried_fallback) else {
            return;
        };
        s.tried_fallback = true;
        s.addr.addr.set_port(port);
        let msg = packet::txt_query(0, &self.cfg.domain, None);
        out.send
            .extend(self.start(now, i, msg, Purpose::Probe { queued }));
    }

    /// Handle a datagram received on the client socket.
    pub fn handle(&mut self, now: Duration, from: SocketAddrV4, bytes: &[u8]) -> ClientOutput {
        let mut out = ClientOutput::default();
        let Ok(msg) = packet::decode(bytes) else {
            return out;
        };
        if !msg.response {
            self.on_push(from, msg, &mut out);
            return out;
        }
        let matches = self
            .pending
            .get(&msg.id)
            .is_some_and(|p| self.servers[p.server].addr.addr == from);
        if !matches {
            return out;
        }
        let Some(p) = self.pending.remove(&msg.id) else {
            return out;
        };
        out.events.push(ClientEvent::Answered {
            server: from,
            rtt: now.saturating_sub(p.first_sent),
        });
        let data = msg.answers.iter().find_map(|r| match &r.data {
            RecordData::Txt(s) => Some(TxtData::decode(s)),
            _ => None,
        });
        let data = data.unwrap_or_default();
        let server = &mut self.servers[p.server];
        if let Some(t) = &data.token {
            server.token = Some((t.clone(), now));
        }
        match p.purpose {
            Purpose::Op { id } => {
                for peer in data.peer_list(MAX_PEERS_PER_ANSWER) {
                    let peer = if peer.ip().is_unspecified() {
                        SocketAddrV4::new(*from.ip(), peer.port())
                    } else {
                        peer
                    };
                    out.events.push(ClientEvent::Peer {
                        id: id.clone(),
                        peer,
                        via: from,
                    });
                }
            }
            Purpose::Probe { queued } => {
                let host = data
                    .host
                    .as_deref()
                    .and_then(|h| h.parse::<Ipv4Addr>().ok());
                let port = data.port.as_deref().and_then(txt::parse_port);
                if let (Some(h), Some(p)) = (host, port) {
                    server.seen_as = Some(SocketAddrV4::new(h, p));
                }
                if let Some(token) = data.token {
                    for (id, op) in queued {
                        out.send
                            .extend(self.send_op(now, p.server, &id, op, &token));
                    }
                }
            }
        }
        out
    }

    /// A server pushes new announcements as a query with SRV additionals; reply with
    /// an empty response so it stops retrying (dns-socket answers every query).
    fn on_push(&mut self, from: SocketAddrV4, msg: Message, out: &mut ClientOutput) {
        if !self.servers.iter().any(|s| s.addr.addr.ip() == from.ip()) {
            return;
        }
        for r in msg.answers.iter().chain(&msg.additionals) {
            let RecordData::Srv { port, target } = &r.data else {
                continue;
            };
            let Ok(ip) = target.parse::<Ipv4Addr>() else {
                continue;
            };
            let Some((id, _)) = split_name(&r.name) else {
                continue;
            };
            let ip = if ip.is_unspecified() { *from.ip() } else { ip };
            let port = if *port == 0 { from.port() } else { *port };
            out.events.push(ClientEvent::Peer {
                id,
                peer: SocketAddrV4::new(ip, port),
                via: from,
            });
        }
        let reply = Message {
            id: msg.id,
            response: true,
            questions: msg.questions,
            ..Message::default()
        };
        if let Ok(bytes) = packet::encode(&reply, false) {
            out.send.push(Datagram { to: from, bytes });
        }
    }

    /// Our public address as the servers see it (`whoami`): the host when all
    /// answering servers agree, and the port only when at least two agree on it.
    pub fn whoami(&self) -> Option<(Ipv4Addr, Option<u16>)> {
        let seen: Vec<SocketAddrV4> = self.servers.iter().filter_map(|s| s.seen_as).collect();
        let first = seen.first()?;
        if seen.iter().any(|s| s.ip() != first.ip()) {
            return None;
        }
        let port = (seen.len() >= 2 && seen.iter().all(|s| s.port() == first.port()))
            .then_some(first.port());
        Some((*first.ip(), port))
    }
}
