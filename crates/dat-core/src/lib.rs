//! dat-core: hypercore 7 on SLEEP, the bottom of the dat-rs stack.
//!
//! A feed is a signed append-only log: blocks are hashed into a BLAKE2b Merkle tree laid out in
//! flat-tree order, and each append batch signs the root digest with the feed's Ed25519 key. The
//! files are SLEEP, byte-compatible with the JavaScript hypercore 7.7.1 that `dat` 13 and 14 use.
//!
//! This crate does no networking and reads no clock: the wire protocol (`dat-wire`) moves
//! blocks and proofs between feeds, and the filesystem (`dat-drive`) is built on two feeds.

mod append;
mod append_chunk;
mod append_helper;
pub mod bitfield;
mod bitfield_pages;
mod blake2b_lanes;
pub mod crypto;
pub mod dat_dir;
mod error;
pub mod feed;
pub mod feed_fuzzing;
pub mod flat_tree;
pub mod fuzzing;
mod gather;
mod leaf_hash;
mod lend;
pub mod limits;
pub mod link;
pub mod node;
mod open;
mod prefetch;
pub mod proof;
pub mod protobuf;
mod replicate;
pub mod sleep;
#[cfg(test)]
mod speed;
pub mod storage;
mod tree_grow;
pub mod tree_index;
pub mod verify;

pub use crypto::{DiscoveryKey, Hash, KeyPair, PublicKey, SecretKey, Signature};
pub use link::DatLink;
pub use node::Node;

pub use dat_dir::DatDir;
pub use feed::{Feed, FeedError, Recovery, VerifyError};
pub use proof::{Proof, RemoteTree};
pub use storage::{FeedStorage, FileStorage, MemoryFeedFiles, MemoryStorage, Slot, Storage};
pub use verify::{Problem, ProblemKind, VerifyReport};
