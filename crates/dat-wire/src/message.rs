//! The eleven messages of hypercore-protocol v6 (DAT-SPEC §4.2), hand-coded on
//! `dat_core::protobuf` so that required fields are checked as the JS codec checks them,
//! unknown fields are skipped, and exactly the fields JS emits are emitted (`Request` with all
//! four fields, `Handshake` with `ack`, `Info` with both).
//!
//! Byte fields are `Cow`: decoding borrows from the frame (a `Data.value` of 64 KiB is not
//! copied); [`Message::into_owned`] detaches a message to queue it.

use std::borrow::Cow;

use dat_core::protobuf::{
    DecodeError, Field, Fields, bytes_field_len, put_bool, put_bytes, put_varint, read_varint,
    varint_field_len, varint_len, write_varint,
};
use dat_core::{DiscoveryKey, Hash, Node, Signature};

use crate::frame::{EXTENSION_TYPE, encode_frame};

/// Most nodes a Data message may carry (a proof for a 2^53-block feed needs ~110).
pub const MAX_DATA_NODES: usize = dat_core::limits::MAX_PROOF_NODES;

/// Most extension names a Handshake may list.
pub const MAX_EXTENSIONS: usize = 64;

/// Type 0: opens a channel for a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// Discovery key of the feed (required, 32 bytes).
    pub discovery_key: DiscoveryKey,
    /// The sender's stream nonce; only in the first Feed of a side (24 bytes).
    pub nonce: Option<[u8; 24]>,
}

/// Type 1: the connection handshake, once per connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Handshake<'a> {
    /// Random peer id (32 bytes in practice; any length on the wire).
    pub id: Option<Cow<'a, [u8]>>,
    /// Whether the sender replicates forever.
    pub live: bool,
    /// Opaque application data (unset in dat).
    pub user_data: Option<Cow<'a, [u8]>>,
    /// Sorted extension names.
    pub extensions: Vec<Cow<'a, str>>,
    /// Whether every block should be acknowledged (unused by dat).
    pub ack: bool,
}

/// Type 2: uploading/downloading state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Info {
    /// Sender uploads (absent decodes as false).
    pub uploading: bool,
    /// Sender downloads (absent decodes as false).
    pub downloading: bool,
}

/// Type 3: what the sender has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Have<'a> {
    /// First block.
    pub start: u64,
    /// Number of blocks; absent means 1 (and is how JS sends the eager length Have).
    pub length: Option<u64>,
    /// RLE-encoded bitfield (bitfield-rle), bit k MSB-first = block `start + k`.
    pub bitfield: Option<Cow<'a, [u8]>>,
    /// An acknowledgement (unused by dat); emitted only when true.
    pub ack: bool,
}

/// Type 4 (Unhave) and the shape of Want (5) and Unwant (6): a block range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First block.
    pub start: u64,
    /// Number of blocks, if sent (defaults: 1 for Unhave, 0 = "everything" for Want/Unwant).
    pub length: Option<u64>,
}

/// Type 7 (Request) and, without `nodes`, type 8 (Cancel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Request {
    /// Block index.
    pub index: u64,
    /// Non-zero: the block containing this byte offset.
    pub bytes: u64,
    /// Only the tree node(s), no value.
    pub hash: bool,
    /// The digest of proof nodes the requester has (§4.7).
    pub nodes: u64,
}

/// Type 9: a block (or hash-only answer) with its proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data<'a> {
    /// Block index.
    pub index: u64,
    /// Block bytes; absent for a hash-only answer.
    pub value: Option<Cow<'a, [u8]>>,
    /// Proof nodes in JS order.
    pub nodes: Vec<Node>,
    /// Signature of the length the proof ends at.
    pub signature: Option<Signature>,
}

/// A decoded message of any type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// 0
    Feed(Feed),
    /// 1
    Handshake(Handshake<'a>),
    /// 2
    Info(Info),
    /// 3
    Have(Have<'a>),
    /// 4
    Unhave(Range),
    /// 5
    Want(Range),
    /// 6
    Unwant(Range),
    /// 7
    Request(Request),
    /// 8 (`nodes` is not part of Cancel and is ignored)
    Cancel(Request),
    /// 9
    Data(Data<'a>),
    /// 15: `varint id || payload`, id indexing the sender's sorted extension list.
    Extension {
        /// Index in the sender's extension list.
        id: u64,
        /// Raw payload.
        payload: Cow<'a, [u8]>,
    },
}

/// Why a frame body is not a message of its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Protobuf-level failure (truncation, wire type, missing required field, ...).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Types 10–14: JS ignores them.
    #[error("unknown message type {0}")]
    UnknownType(u8),
}

fn owned<T: ?Sized + ToOwned>(c: Cow<'_, T>) -> Cow<'static, T> {
    Cow::Owned(c.into_owned())
}

impl Message<'_> {
    /// The wire type number.
    pub fn kind(&self) -> u8 {
        match self {
            Self::Feed(_) => 0,
            Self::Handshake(_) => 1,
            Self::Info(_) => 2,
            Self::Have(_) => 3,
            Self::Unhave(_) => 4,
            Self::Want(_) => 5,
            Self::Unwant(_) => 6,
            Self::Request(_) => 7,
            Self::Cancel(_) => 8,
            Self::Data(_) => 9,
            Self::Extension { .. } => EXTENSION_TYPE,
        }
    }

    /// Copy borrowed bytes so the message can outlive its frame.
    pub fn into_owned(self) -> Message<'static> {
        match self {
            Self::Feed(f) => Message::Feed(f),
            Self::Handshake(h) => Message::Handshake(Handshake {
                id: h.id.map(owned),
                live: h.live,
                user_data: h.user_data.map(owned),
                extensions: h.extensions.into_iter().map(owned).collect(),
                ack: h.ack,
            }),
            Self::Info(i) => Message::Info(i),
            Self::Have(h) => Message::Have(Have {
                start: h.start,
                length: h.length,
                bitfield: h.bitfield.map(owned),
                ack: h.ack,
            }),
            Self::Unhave(r) => Message::Unhave(r),
            Self::Want(r) => Message::Want(r),
            Self::Unwant(r) => Message::Unwant(r),
            Self::Request(r) => Message::Request(r),
            Self::Cancel(r) => Message::Cancel(r),
            Self::Data(d) => Message::Data(Data {
                index: d.index,
                value: d.value.map(owned),
                nodes: d.nodes,
                signature: d.signature,
            }),
            Self::Extension { id, payload } => Message::Extension {
                id,
                payload: owned(payload),
            },
        }
    }
}

impl<'a> Message<'a> {
    /// Decode the body of a frame of type `kind`.
    pub fn decode(kind: u8, body: &'a [u8]) -> Result<Self, MessageError> {
        Ok(match kind {
            0 => Self::Feed(decode_feed(body)?),
            1 => Self::Handshake(decode_handshake(body)?),
            2 => Self::Info(decode_info(body)?),
            3 => Self::Have(decode_have(body)?),
            4 => Self::Unhave(decode_range(body)?),
            5 => Self::Want(decode_range(body)?),
            6 => Self::Unwant(decode_range(body)?),
            7 => Self::Request(decode_request(body, true)?),
            8 => Self::Cancel(decode_request(body, false)?),
            9 => Self::Data(decode_data(body)?),
            EXTENSION_TYPE => {
                let mut rest = body;
                let id = read_varint(&mut rest)?;
                Self::Extension {
                    id,
                    payload: Cow::Borrowed(rest),
                }
            }
            other => return Err(MessageError::UnknownType(other)),
        })
    }

    /// Bytes of the encoded body.
    pub fn encoded_len(&self) -> usize {
        // Data and Extension may be large; count them without copying.
        match self {
            Self::Data(d) => return data_len(d),
            Self::Extension { id, payload } => return varint_len(*id) + payload.len(),
            _ => {}
        }
        let mut counter = Vec::with_capacity(64);
        self.encode_body(&mut counter);
        counter.len()
    }

    /// Append the encoded body (no frame header).
    pub fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            Self::Feed(f) => {
                put_bytes(out, 1, f.discovery_key.as_bytes());
                if let Some(n) = &f.nonce {
                    put_bytes(out, 2, n);
                }
            }
            Self::Handshake(h) => {
                if let Some(id) = &h.id {
                    put_bytes(out, 1, id);
                }
                put_bool(out, 2, h.live);
                if let Some(u) = &h.user_data {
                    put_bytes(out, 3, u);
                }
                for e in &h.extensions {
                    put_bytes(out, 4, e.as_bytes());
                }
                put_bool(out, 5, h.ack);
            }
            Self::Info(i) => {
                put_bool(out, 1, i.uploading);
                put_bool(out, 2, i.downloading);
            }
            Self::Have(h) => {
                put_varint(out, 1, h.start);
                if let Some(l) = h.length {
                    put_varint(out, 2, l);
                }
                if let Some(b) = &h.bitfield {
                    put_bytes(out, 3, b);
                }
                if h.ack {
                    put_bool(out, 4, true);
                }
            }
            Self::Unhave(r) | Self::Want(r) | Self::Unwant(r) => {
                put_varint(out, 1, r.start);
                if let Some(l) = r.length {
                    put_varint(out, 2, l);
                }
            }
            Self::Request(r) | Self::Cancel(r) => {
                put_varint(out, 1, r.index);
                put_varint(out, 2, r.bytes);
                put_bool(out, 3, r.hash);
                if matches!(self, Self::Request(_)) {
                    put_varint(out, 4, r.nodes);
                }
            }
            Self::Data(d) => encode_data(d, out),
            Self::Extension { id, payload } => {
                write_varint(out, *id);
                out.extend_from_slice(payload);
            }
        }
    }

    /// Append a whole frame carrying this message on `channel`.
    pub fn encode_frame(&self, channel: u16, out: &mut Vec<u8>) {
        encode_frame(out, channel, self.kind(), self.encoded_len(), |o| {
            self.encode_body(o)
        });
    }
}

fn node_len(n: &Node) -> usize {
    varint_field_len(1, n.index) + bytes_field_len(2, 32) + varint_field_len(3, n.size)
}

fn data_len(d: &Data<'_>) -> usize {
    let mut len = varint_field_len(1, d.index);
    if let Some(v) = &d.value {
        len += bytes_field_len(2, v.len());
    }
    len += d
        .nodes
        .iter()
        .map(|n| bytes_field_len(3, node_len(n)))
        .sum::<usize>();
    if d.signature.is_some() {
        len += bytes_field_len(4, 64);
    }
    len
}

fn encode_data(d: &Data<'_>, out: &mut Vec<u8>) {
    put_varint(out, 1, d.index);
    if let Some(v) = &d.value {
        put_bytes(out, 2, v);
    }
    for n in &d.nodes {
        write_varint(out, (3 << 3) | 2);
        write_varint(out, node_len(n) as u64);
        put_varint(out, 1, n.index);
        put_bytes(out, 2, n.hash.as_bytes());
        put_varint(out, 3, n.size);
    }
    if let Some(s) = &d.signature {
        put_bytes(out, 4, s.as_bytes());
    }
}

/// Apply `f` to every field, skipping unknown ones (the closure ignores them).
fn each_field<'a>(
    body: &'a [u8],
    mut f: impl FnMut(Field<'a>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    for field in Fields::new(body) {
        f(field?)?;
    }
    Ok(())
}

fn decode_feed(body: &[u8]) -> Result<Feed, DecodeError> {
    let mut dk = None;
    let mut nonce = None;
    each_field(body, |f| {
        match f.number() {
            1 => dk = Some(f.bytes("Feed.discoveryKey")?),
            2 => nonce = Some(f.bytes("Feed.nonce")?),
            _ => {}
        }
        Ok(())
    })?;
    let dk = dk.ok_or(DecodeError::MissingField("Feed.discoveryKey"))?;
    let discovery_key =
        DiscoveryKey::from_slice(dk).map_err(|_| DecodeError::InvalidValue("Feed.discoveryKey"))?;
    let nonce = match nonce {
        None => None,
        Some(n) => {
            Some(<[u8; 24]>::try_from(n).map_err(|_| DecodeError::InvalidValue("Feed.nonce"))?)
        }
    };
    Ok(Feed {
        discovery_key,
        nonce,
    })
}

fn decode_handshake(body: &[u8]) -> Result<Handshake<'_>, DecodeError> {
    let mut h = Handshake::default();
    each_field(body, |f| {
        match f.number() {
            1 => h.id = Some(Cow::Borrowed(f.bytes("Handshake.id")?)),
            2 => h.live = f.bool("Handshake.live")?,
            3 => h.user_data = Some(Cow::Borrowed(f.bytes("Handshake.userData")?)),
            4 => {
                if h.extensions.len() >= MAX_EXTENSIONS {
                    return Err(DecodeError::TooLarge {
                        what: "Handshake.extensions",
                        limit: MAX_EXTENSIONS as u64,
                    });
                }
                h.extensions
                    .push(Cow::Borrowed(f.string("Handshake.extensions")?));
            }
            5 => h.ack = f.bool("Handshake.ack")?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(h)
}

fn decode_info(body: &[u8]) -> Result<Info, DecodeError> {
    let mut i = Info::default();
    each_field(body, |f| {
        match f.number() {
            1 => i.uploading = f.bool("Info.uploading")?,
            2 => i.downloading = f.bool("Info.downloading")?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(i)
}

fn decode_have(body: &[u8]) -> Result<Have<'_>, DecodeError> {
    let mut start = None;
    let mut h = Have {
        start: 0,
        length: None,
        bitfield: None,
        ack: false,
    };
    each_field(body, |f| {
        match f.number() {
            1 => start = Some(f.varint("Have.start")?),
            2 => h.length = Some(f.varint("Have.length")?),
            3 => h.bitfield = Some(Cow::Borrowed(f.bytes("Have.bitfield")?)),
            4 => h.ack = f.bool("Have.ack")?,
            _ => {}
        }
        Ok(())
    })?;
    h.start = start.ok_or(DecodeError::MissingField("start"))?;
    Ok(h)
}

fn decode_range(body: &[u8]) -> Result<Range, DecodeError> {
    let mut start = None;
    let mut length = None;
    each_field(body, |f| {
        match f.number() {
            1 => start = Some(f.varint("start")?),
            2 => length = Some(f.varint("length")?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(Range {
        start: start.ok_or(DecodeError::MissingField("start"))?,
        length,
    })
}

fn decode_request(body: &[u8], with_nodes: bool) -> Result<Request, DecodeError> {
    let mut index = None;
    let mut r = Request::default();
    each_field(body, |f| {
        match f.number() {
            1 => index = Some(f.varint("Request.index")?),
            2 => r.bytes = f.varint("Request.bytes")?,
            3 => r.hash = f.bool("Request.hash")?,
            4 if with_nodes => r.nodes = f.varint("Request.nodes")?,
            _ => {}
        }
        Ok(())
    })?;
    r.index = index.ok_or(DecodeError::MissingField("Request.index"))?;
    Ok(r)
}

fn decode_node(body: &[u8]) -> Result<Node, DecodeError> {
    let (mut index, mut hash, mut size) = (None, None, None);
    each_field(body, |f| {
        match f.number() {
            1 => index = Some(f.varint("Node.index")?),
            2 => hash = Some(f.bytes("Node.hash")?),
            3 => size = Some(f.varint("Node.size")?),
            _ => {}
        }
        Ok(())
    })?;
    let hash = hash.ok_or(DecodeError::MissingField("Node.hash"))?;
    Ok(Node {
        index: index.ok_or(DecodeError::MissingField("Node.index"))?,
        // JS would accept any length and then fail verification; a non-32-byte hash can never
        // verify, so it is refused here.
        hash: Hash(<[u8; 32]>::try_from(hash).map_err(|_| DecodeError::InvalidValue("Node.hash"))?),
        size: size.ok_or(DecodeError::MissingField("Node.size"))?,
    })
}

fn decode_data(body: &[u8]) -> Result<Data<'_>, DecodeError> {
    let mut index = None;
    let mut d = Data {
        index: 0,
        value: None,
        nodes: Vec::new(),
        signature: None,
    };
    each_field(body, |f| {
        match f.number() {
            1 => index = Some(f.varint("Data.index")?),
            2 => d.value = Some(Cow::Borrowed(f.bytes("Data.value")?)),
            3 => {
                if d.nodes.len() >= MAX_DATA_NODES {
                    return Err(DecodeError::TooLarge {
                        what: "Data.nodes",
                        limit: MAX_DATA_NODES as u64,
                    });
                }
                d.nodes.push(decode_node(f.bytes("Data.nodes")?)?);
            }
            4 => {
                let s = f.bytes("Data.signature")?;
                d.signature = Some(
                    Signature::from_slice(s)
                        .map_err(|_| DecodeError::InvalidValue("Data.signature"))?,
                );
            }
            _ => {}
        }
        Ok(())
    })?;
    d.index = index.ok_or(DecodeError::MissingField("Data.index"))?;
    Ok(d)
}
