//! DNS messages as dns-discovery uses them, decoded into owned, bounded values.
//!
//! simple-dns does the wire work (and guards against compression loops); this module
//! adds the limits a hostile sender must not be able to exceed — record counts checked
//! against the packet length *before* simple-dns pre-allocates them, and caps on
//! questions, records and TXT strings — and keeps only the record kinds dns-discovery
//! reads (TXT, SRV, A).

use std::net::Ipv4Addr;

use simple_dns::rdata::{A, RData, SRV, TXT};
use simple_dns::{CLASS, CharacterString, Name, PacketFlag, QCLASS, QTYPE, ResourceRecord, TYPE};

/// Largest UDP payload we accept.
pub const MAX_PACKET: usize = 65_535;
/// Most questions we accept in one message (dns-discovery sends one).
pub const MAX_QUESTIONS: usize = 16;
/// Most answer + additional records we accept in one message.
pub const MAX_RECORDS: usize = 64;
/// Most character-strings we accept in one TXT record.
pub const MAX_TXT_STRINGS: usize = 32;

const HEADER_LEN: usize = 12;
const MIN_QUESTION_LEN: usize = 5;
const MIN_RECORD_LEN: usize = 11;

/// Why a datagram was not a usable DNS message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PacketError {
    /// Longer than any UDP payload.
    #[error("packet of {len} bytes is larger than {MAX_PACKET}")]
    TooLarge {
        /// Datagram length.
        len: usize,
    },
    /// Shorter than a DNS header.
    #[error("packet of {len} bytes is shorter than a DNS header")]
    TooShort {
        /// Datagram length.
        len: usize,
    },
    /// The header claims more entries than the bytes could possibly hold.
    #[error("header claims {questions} questions and {records} records in {len} bytes")]
    ImpossibleCounts {
        /// Question count from the header.
        questions: usize,
        /// Answer + authority + additional count from the header.
        records: usize,
        /// Datagram length.
        len: usize,
    },
    /// More entries than we are willing to process.
    #[error("{what}: {count} exceeds the limit of {limit}")]
    TooMany {
        /// Which section or list.
        what: &'static str,
        /// Count found.
        count: usize,
        /// Our limit.
        limit: usize,
    },
    /// simple-dns rejected the bytes (truncation, bad label, pointer loop, ...).
    #[error("malformed DNS message: {reason}")]
    Malformed {
        /// simple-dns' description.
        reason: String,
    },
    /// A name or string could not be encoded.
    #[error("cannot encode {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

/// The question types dns-discovery distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// TXT (16).
    Txt,
    /// SRV (33).
    Srv,
    /// A (1).
    A,
    /// Anything else (ignored by dns-discovery).
    Other(u16),
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Dotted name without the trailing dot.
    pub name: String,
    /// Queried type.
    pub kind: Kind,
}

/// The data of a record we understand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordData {
    /// TXT character-strings.
    Txt(Vec<Vec<u8>>),
    /// SRV port and target name (an IPv4 literal in dns-discovery).
    Srv {
        /// Port.
        port: u16,
        /// Target name.
        target: String,
    },
    /// IPv4 address.
    A(Ipv4Addr),
    /// A record type dns-discovery ignores.
    Other,
}

/// One answer or additional record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Dotted name without the trailing dot.
    pub name: String,
    /// Payload.
    pub data: RecordData,
}

/// A decoded message: answers and additionals are kept apart because a query's
/// additionals carry announcements while a response's answers carry peer lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Transaction id.
    pub id: u16,
    /// QR bit.
    pub response: bool,
    /// Question section.
    pub questions: Vec<Question>,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Additional section.
    pub additionals: Vec<Record>,
}

fn check_counts(bytes: &[u8]) -> Result<(), PacketError> {
    let len = bytes.len();
    if len > MAX_PACKET {
        return Err(PacketError::TooLarge { len });
    }
    if len < HEADER_LEN {
        return Err(PacketError::TooShort { len });
    }
    let count = |i: usize| usize::from(u16::from_be_bytes([bytes[i], bytes[i + 1]]));
    let questions = count(4);
    let records = count(6) + count(8) + count(10);
    if questions * MIN_QUESTION_LEN + records * MIN_RECORD_LEN > len - HEADER_LEN {
        return Err(PacketError::ImpossibleCounts {
            questions,
            records,
            len,
        });
    }
    too_many("questions", questions, MAX_QUESTIONS)?;
    too_many("records", records, MAX_RECORDS)
}

fn too_many(what: &'static str, count: usize, limit: usize) -> Result<(), PacketError> {
    if count > limit {
        return Err(PacketError::TooMany { what, count, limit });
    }
    Ok(())
}

fn name_string(name: &Name<'_>) -> String {
    let s = name.to_string();
    match s.strip_suffix('.') {
        Some(t) => t.to_string(),
        None => s,
    }
}

fn kind_of(qtype: QTYPE) -> Kind {
    match qtype {
        QTYPE::TYPE(TYPE::TXT) => Kind::Txt,
        QTYPE::TYPE(TYPE::SRV) => Kind::Srv,
        QTYPE::TYPE(TYPE::A) => Kind::A,
        QTYPE::TYPE(t) => Kind::Other(t.into()),
        _ => Kind::Other(255),
    }
}

fn txt_strings(txt: &TXT<'_>) -> Result<Vec<Vec<u8>>, PacketError> {
    let mut out = Vec::new();
    for (key, value) in txt.iter_raw() {
        too_many("TXT strings", out.len() + 1, MAX_TXT_STRINGS)?;
        let mut s = key.to_vec();
        if let Some(v) = value {
            s.push(b'=');
            s.extend_from_slice(v);
        }
        out.push(s);
    }
    Ok(out)
}

fn record(rr: &ResourceRecord<'_>) -> Result<Record, PacketError> {
    let data = match &rr.rdata {
        RData::TXT(txt) => RecordData::Txt(txt_strings(txt)?),
        RData::SRV(srv) => RecordData::Srv {
            port: srv.port,
            target: name_string(&srv.target),
        },
        RData::A(a) => RecordData::A(Ipv4Addr::from(a.address)),
        _ => RecordData::Other,
    };
    Ok(Record {
        name: name_string(&rr.name),
        data,
    })
}

/// Decode a datagram. Never panics; every limit above yields a typed error.
pub fn decode(bytes: &[u8]) -> Result<Message, PacketError> {
    check_counts(bytes)?;
    let packet = simple_dns::Packet::parse(bytes).map_err(|e| PacketError::Malformed {
        reason: e.to_string(),
    })?;
    let questions = packet
        .questions
        .iter()
        .map(|q| Question {
            name: name_string(&q.qname),
            kind: kind_of(q.qtype),
        })
        .collect();
    let answers = packet
        .answers
        .iter()
        .map(record)
        .collect::<Result<_, _>>()?;
    let additionals = packet
        .additional_records
        .iter()
        .map(record)
        .collect::<Result<_, _>>()?;
    Ok(Message {
        id: packet.id(),
        response: packet.has_flags(PacketFlag::RESPONSE),
        questions,
        answers,
        additionals,
    })
}

fn enc_err(what: &'static str) -> impl Fn(simple_dns::SimpleDnsError) -> PacketError {
    move |e| PacketError::Encode {
        what,
        reason: e.to_string(),
    }
}

fn rr<'a>(r: &'a Record) -> Result<Option<ResourceRecord<'a>>, PacketError> {
    let name = Name::new(&r.name).map_err(enc_err("record name"))?;
    let rdata = match &r.data {
        RecordData::Txt(strings) => {
            let mut txt = TXT::new();
            for s in strings {
                txt.add_char_string(CharacterString::new(s).map_err(enc_err("TXT string"))?);
            }
            RData::TXT(txt)
        }
        RecordData::Srv { port, target } => RData::SRV(SRV {
            priority: 0,
            weight: 0,
            port: *port,
            target: Name::new(target).map_err(enc_err("SRV target"))?,
        }),
        RecordData::A(ip) => RData::A(A {
            address: u32::from(*ip),
        }),
        RecordData::Other => return Ok(None),
    };
    // dns-discovery sends TTL 0 everywhere.
    Ok(Some(ResourceRecord::new(name, CLASS::IN, 0, rdata)))
}

/// Encode a message. Queries get RD set (as dns-socket does); responses get QR and,
/// for multicast, AA (as multicast-dns does) when `authoritative`.
pub fn encode(msg: &Message, authoritative: bool) -> Result<Vec<u8>, PacketError> {
    let mut packet = if msg.response {
        simple_dns::Packet::new_reply(msg.id)
    } else {
        let mut p = simple_dns::Packet::new_query(msg.id);
        p.set_flags(PacketFlag::RECURSION_DESIRED);
        p
    };
    if authoritative {
        packet.set_flags(PacketFlag::AUTHORITATIVE_ANSWER);
    }
    for q in &msg.questions {
        let name = Name::new(&q.name).map_err(enc_err("question name"))?;
        let qtype = match q.kind {
            Kind::Txt => TYPE::TXT,
            Kind::Srv => TYPE::SRV,
            Kind::A => TYPE::A,
            Kind::Other(t) => TYPE::from(t),
        };
        packet.questions.push(simple_dns::Question::new(
            name,
            QTYPE::TYPE(qtype),
            QCLASS::CLASS(CLASS::IN),
            false,
        ));
    }
    for r in &msg.answers {
        packet.answers.extend(rr(r)?);
    }
    for r in &msg.additionals {
        packet.additional_records.extend(rr(r)?);
    }
    packet.build_bytes_vec().map_err(enc_err("packet"))
}

/// A single-question TXT query for `name` with optional TXT additional (the
/// dns-discovery announce/lookup/unannounce shape).
pub fn txt_query(id: u16, name: &str, additional: Option<Vec<Vec<u8>>>) -> Message {
    Message {
        id,
        response: false,
        questions: vec![Question {
            name: name.to_string(),
            kind: Kind::Txt,
        }],
        answers: Vec::new(),
        additionals: additional
            .map(|strings| {
                vec![Record {
                    name: name.to_string(),
                    data: RecordData::Txt(strings),
                }]
            })
            .unwrap_or_default(),
    }
}
