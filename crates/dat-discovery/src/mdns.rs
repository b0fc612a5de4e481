//! dns-discovery over multicast DNS (DAT-SPEC §6.2.4) as a state machine.
//!
//! A lookup or announce is a multicast `TXT <id>.dat.local` query. Instances holding
//! announcements for the id answer with `token=…`, `peers=<base64>` where their own
//! announcements appear as `0.0.0.0:port` and the receiver substitutes the
//! responder's source address. Responses go to the group at the querier's source
//! port. Our own looped-back responses are recognised by the token (minted with our
//! secret for the address we see them from), exactly as dns-discovery does.
//!
//! dat@14 finds peers with hyperswarm instead, whose mDNS asks `SRV <id>.hyperswarm.local`
//! for the same id (the first 20 bytes of the discovery key, in hex). We answer those for
//! our announcements (`SRV 0.0.0.0:port`, the responder's address standing in, as
//! hyperswarm does) and ask them too ([`Mdns::hyperswarm_query`]), so both versions find
//! us and we find both.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};

use crate::packet::{self, Kind, Message, Question, Record, RecordData};
use crate::token::Secrets;
use crate::topic::{is_bare_domain, split_name};
use crate::txt::{self, TxtData};

/// The mDNS group and port.
pub const MDNS_GROUP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(224, 0, 0, 251), 5353);
/// Most ids we announce at once.
pub const MAX_OWN_IDS: usize = 1024;
/// Most ports announced under one id.
pub const MAX_OWN_PORTS: usize = 16;
/// hyperswarm's mDNS domain (dat@14).
pub const HYPERSWARM_DOMAIN: &str = "hyperswarm.local";
/// Most peers taken from one multicast message.
pub const MAX_PEERS_PER_MESSAGE: usize = 256;

/// Results of handling one multicast datagram.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MdnsOutput {
    /// `(record id, peer)` pairs learned.
    pub peers: Vec<(String, SocketAddrV4)>,
    /// A response to multicast to the group at `reply_port`.
    pub reply: Option<Vec<u8>>,
    /// Port of the querier (destination port for `reply`).
    pub reply_port: u16,
}

/// The mDNS participant.
#[derive(Debug)]
pub struct Mdns {
    domain: String,
    secrets: Secrets,
    own: BTreeMap<String, BTreeSet<u16>>,
}

impl Mdns {
    /// A participant for `domain` with random secrets from the caller.
    pub fn new(domain: &str, secrets: Secrets) -> Self {
        Mdns {
            domain: domain.to_string(),
            secrets,
            own: BTreeMap::new(),
        }
    }

    /// Start answering for `id` with our `port`. Returns false when over the limits.
    pub fn announce(&mut self, id: &str, port: u16) -> bool {
        if !self.own.contains_key(id) && self.own.len() >= MAX_OWN_IDS {
            return false;
        }
        let ports = self.own.entry(id.to_string()).or_default();
        if ports.len() >= MAX_OWN_PORTS && !ports.contains(&port) {
            return false;
        }
        ports.insert(port);
        true
    }

    /// Stop answering for `id`/`port`.
    pub fn unannounce(&mut self, id: &str, port: u16) {
        if let Some(ports) = self.own.get_mut(id) {
            ports.remove(&port);
            if ports.is_empty() {
                self.own.remove(id);
            }
        }
    }

    /// The multicast query for `id` (multicast-dns sends id 0, no flags).
    pub fn query(&self, id: &str) -> Vec<u8> {
        let name = format!("{id}.{}", self.domain);
        let msg = Message {
            questions: vec![Question {
                name,
                kind: Kind::Txt,
            }],
            ..Message::default()
        };
        // Only an over-long id can fail; such a query is simply not sent.
        packet::encode(&msg, false).unwrap_or_default()
    }

    /// hyperswarm's multicast query for `id`: `SRV <id>.hyperswarm.local`.
    pub fn hyperswarm_query(&self, id: &str) -> Vec<u8> {
        let msg = Message {
            questions: vec![Question {
                name: format!("{id}.{HYPERSWARM_DOMAIN}"),
                kind: Kind::Srv,
            }],
            ..Message::default()
        };
        packet::encode(&msg, false).unwrap_or_default()
    }

    /// Handle a datagram received from `from` on the multicast socket.
    pub fn handle(&mut self, from: SocketAddrV4, bytes: &[u8]) -> MdnsOutput {
        let mut out = MdnsOutput {
            reply_port: from.port(),
            ..MdnsOutput::default()
        };
        let Ok(msg) = packet::decode(bytes) else {
            return out;
        };
        for r in msg.answers.iter().chain(&msg.additionals) {
            self.on_record(r, from, &mut out.peers);
        }
        out.peers.truncate(MAX_PEERS_PER_MESSAGE);
        if msg.response {
            return out;
        }
        let mut answers = Vec::new();
        for q in &msg.questions {
            self.on_question(q, from, &mut answers);
        }
        if !answers.is_empty() {
            let reply = Message {
                id: 0,
                response: true,
                questions: msg.questions,
                answers,
                additionals: Vec::new(),
            };
            out.reply = packet::encode(&reply, true).ok();
        }
        out
    }

    fn on_question(&self, q: &Question, from: SocketAddrV4, answers: &mut Vec<Record>) {
        if is_bare_domain(&q.name, &self.domain) {
            if q.kind == Kind::Txt {
                let token = self.secrets.current_token(*from.ip());
                let (h, p) = (from.ip().to_string(), from.port().to_string());
                let strings = txt::encode_pairs(&[("token", &token), ("host", &h), ("port", &p)]);
                answers.push(Record {
                    name: q.name.clone(),
                    data: RecordData::Txt(strings),
                });
            }
            return;
        }
        let Some((id, domain)) = split_name(&q.name) else {
            return;
        };
        let hyperswarm = domain.eq_ignore_ascii_case(HYPERSWARM_DOMAIN);
        if !domain.eq_ignore_ascii_case(&self.domain) && !hyperswarm {
            return;
        }
        let Some(ports) = self.own.get(&id) else {
            return;
        };
        if hyperswarm {
            // hyperswarm asks only SRV, and dials the responder's address for 0.0.0.0.
            if q.kind == Kind::Srv {
                for p in ports.iter().take(10) {
                    let data = RecordData::Srv {
                        port: *p,
                        target: Ipv4Addr::UNSPECIFIED.to_string(),
                    };
                    answers.push(Record {
                        name: q.name.clone(),
                        data,
                    });
                }
            }
            return;
        }
        let peers: Vec<SocketAddrV4> = ports
            .iter()
            .map(|p| SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, *p))
            .collect();
        match q.kind {
            Kind::Txt => {
                let token = self.secrets.current_token(*from.ip());
                let value = txt::peers_value(&peers);
                let strings = txt::encode_pairs(&[("token", &token), ("peers", &value)]);
                answers.push(Record {
                    name: q.name.clone(),
                    data: RecordData::Txt(strings),
                });
            }
            Kind::Srv => {
                for p in peers.iter().take(10) {
                    let data = RecordData::Srv {
                        port: p.port(),
                        target: p.ip().to_string(),
                    };
                    answers.push(Record {
                        name: q.name.clone(),
                        data,
                    });
                }
            }
            // JS answers A with its own LAN address, which we do not know here.
            Kind::A | Kind::Other(_) => {}
        }
    }

    fn on_record(&self, r: &Record, from: SocketAddrV4, peers: &mut Vec<(String, SocketAddrV4)>) {
        // dns-discovery ignores the domain of answers: dat@14's `hyperswarm.local` SRV
        // records are accepted too; the caller maps ids to joined topics.
        let Some((id, _)) = split_name(&r.name) else {
            return;
        };
        match &r.data {
            RecordData::Srv { port, target } => {
                let Ok(ip) = target.parse::<Ipv4Addr>() else {
                    return;
                };
                let ip = if ip.is_unspecified() { *from.ip() } else { ip };
                let port = if *port == 0 { from.port() } else { *port };
                peers.push((id, SocketAddrV4::new(ip, port)));
            }
            RecordData::Txt(strings) => {
                let data = TxtData::decode(strings);
                let echo =
                    data.token.as_deref() == Some(self.secrets.current_token(*from.ip()).as_str());
                if echo {
                    return;
                }
                for p in data.peer_list(MAX_PEERS_PER_MESSAGE) {
                    let p = if p.ip().is_unspecified() {
                        SocketAddrV4::new(*from.ip(), p.port())
                    } else {
                        p
                    };
                    peers.push((id.clone(), p));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "00112233445566778899aabbccddeeff00112233";

    fn participant() -> Mdns {
        Mdns::new(crate::DAT_DOMAIN, Secrets::new([1; 32], [2; 32]))
    }

    /// dat@14's query, as hyperswarm's multicast-dns sends it.
    fn hyperswarm_query(name: &str) -> Vec<u8> {
        let msg = Message {
            questions: vec![Question {
                name: name.into(),
                kind: Kind::Srv,
            }],
            ..Message::default()
        };
        packet::encode(&msg, false).unwrap()
    }

    #[test]
    fn hyperswarm_srv_queries_are_answered_with_our_port() {
        let mut m = participant();
        assert!(m.announce(ID, 3282));
        let from = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5353);
        let out = m.handle(from, &hyperswarm_query(&format!("{ID}.hyperswarm.local")));
        let reply = packet::decode(&out.reply.expect("a reply")).unwrap();
        assert!(reply.response);
        assert_eq!(
            reply.answers,
            vec![Record {
                name: format!("{ID}.hyperswarm.local"),
                data: RecordData::Srv {
                    port: 3282,
                    target: "0.0.0.0".into()
                },
            }]
        );
        // Not for ids we do not announce, nor TXT questions in hyperswarm's domain.
        let other = format!("{}.hyperswarm.local", "ff".repeat(20));
        assert_eq!(m.handle(from, &hyperswarm_query(&other)).reply, None);
        let txt = packet::encode(
            &Message {
                questions: vec![Question {
                    name: format!("{ID}.hyperswarm.local"),
                    kind: Kind::Txt,
                }],
                ..Message::default()
            },
            false,
        )
        .unwrap();
        assert_eq!(m.handle(from, &txt).reply, None);
    }

    /// Our hyperswarm query answered by a dat@14 peer (its SRV answer with `0.0.0.0`)
    /// yields the peer at the responder's address.
    #[test]
    fn hyperswarm_answers_give_the_responders_address() {
        let mut asker = participant();
        let query = packet::decode(&asker.hyperswarm_query(ID)).unwrap();
        assert_eq!(query.questions[0].name, format!("{ID}.hyperswarm.local"));
        assert_eq!(query.questions[0].kind, Kind::Srv);
        let answer = Message {
            response: true,
            answers: vec![Record {
                name: format!("{ID}.hyperswarm.local"),
                data: RecordData::Srv {
                    port: 49737,
                    target: "0.0.0.0".into(),
                },
            }],
            ..Message::default()
        };
        let from = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 9), 5353);
        let out = asker.handle(from, &packet::encode(&answer, true).unwrap());
        assert_eq!(
            out.peers,
            vec![(
                ID.to_string(),
                SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 9), 49737)
            )]
        );
    }
}
