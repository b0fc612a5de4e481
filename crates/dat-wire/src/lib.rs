//! hypercore-protocol v6, sans-IO: framing, messages, cipher, channels, replication.
//!
//! This is the wire protocol `dat` 13 and 14 speak (hypercore-protocol 6.12, DAT-SPEC §4). No
//! module here does I/O or reads a clock: bytes and the current `Instant` come in as arguments,
//! bytes to write and deadlines go out, so the same code runs under tokio, in a test with a
//! virtual clock, or under a fuzzer.

pub mod frame;

pub use frame::{Frame, FrameDecoder, FrameError, MAX_FEEDS, MAX_FRAME_LEN};
pub mod message;

pub use message::{Data, Handshake, Have, Info, Message, MessageError, Request};
mod block_ranges;
mod channels;
pub mod cipher;
pub mod event;
pub mod rle;
pub mod session;
mod xsalsa20;

pub use event::{Channel, CloseReason, Event, PeerAction, SendError, SessionError};
pub use session::{Session, SessionOptions};
pub mod fuzzing;
pub mod limits;
pub mod remote_bitfield;
pub mod replicator;

pub use replicator::{Claims, ReplicationError, Replicator, ReplicatorEvent, ReplicatorOptions};
