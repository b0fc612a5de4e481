//! Why a feed operation failed: typed, with the file and index involved.

use crate::crypto::{KeyError, PublicKey};
use crate::sleep::HeaderError;
use crate::storage::Slot;

/// A failed feed operation.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The block (or node) is not stored locally.
    #[error("block {index} is not available locally")]
    NotFound {
        /// Block index.
        index: u64,
    },
    /// A byte offset at or beyond the end of the feed.
    #[error("byte offset {offset} is out of bounds")]
    OutOfBounds {
        /// The offset asked for.
        offset: u64,
    },
    /// Appending to a feed without its secret key.
    #[error("feed is not writable (no secret key)")]
    NotWritable,
    /// Opening storage that holds no feed (no `key`).
    #[error("no feed is stored here")]
    NoFeed,
    /// Creating a feed where one already exists.
    #[error("a feed is already stored here ({key})")]
    AlreadyExists {
        /// The key found in storage.
        key: PublicKey,
    },
    /// The storage holds a different feed than the one asked for.
    #[error("another feed is stored here: expected {expected}, found {found}")]
    WrongKey {
        /// The key asked for.
        expected: PublicKey,
        /// The key found in storage.
        found: PublicKey,
    },
    /// The secret key does not belong to the public key.
    #[error("secret key does not match the feed key")]
    SecretKeyMismatch,
    /// A key file is malformed.
    #[error("bad key in {file}: {source}")]
    Key {
        /// The slot.
        file: Slot,
        /// Why.
        source: KeyError,
    },
    /// The storage failed.
    #[error("I/O error on {file}: {source}")]
    Io {
        /// The slot.
        file: Slot,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Stored bytes contradict each other or the format.
    #[error("corrupt {file} at index {index}: {reason}")]
    Corrupt {
        /// The slot.
        file: Slot,
        /// Entry (block, node or signature) index.
        index: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// A SLEEP header was refused.
    #[error("bad SLEEP header in {file}: {source}")]
    BadHeader {
        /// The slot.
        file: Slot,
        /// Why.
        source: HeaderError,
    },
    /// A block index beyond what any feed can have (2^53).
    #[error("index {index} is beyond the maximum feed length")]
    IndexTooLarge {
        /// The index.
        index: u64,
    },
    /// A block too large to accept from a peer.
    #[error("block of {len} bytes exceeds the limit")]
    BlockTooLarge {
        /// Its size.
        len: usize,
    },
    /// Verification of a proof, a block or a signature failed.
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

/// What failed to verify. Nothing is stored when a proof fails.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// A computed hash does not match the trusted node at `index`.
    #[error("hash mismatch at tree node {index}")]
    HashMismatch {
        /// Flat-tree node index.
        index: u64,
    },
    /// The signature does not sign the roots of `length`.
    #[error("signature for length {length} does not verify")]
    BadSignature {
        /// The signed length (entry `length - 1` of `signatures`).
        length: u64,
    },
    /// A signed feed's proof ended at the roots but came without a signature.
    #[error("proof for length {length} carries no signature")]
    MissingSignature {
        /// The length the roots describe.
        length: u64,
    },
    /// A root needed to check the signature is neither in the proof nor stored.
    #[error("missing tree node {index} needed to verify")]
    MissingNodes {
        /// Flat-tree index of the first missing node.
        index: u64,
    },
    /// A proof with more nodes than any valid proof has.
    #[error("proof has {count} nodes, more than the limit {max}")]
    TooManyNodes {
        /// Nodes received.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A hash-only proof whose first node is not the requested leaf.
    #[error("hash-only proof does not start with leaf {index}")]
    WrongLeaf {
        /// Expected flat index.
        index: u64,
    },
    /// A proof node with an index no feed can have, or sizes that overflow.
    #[error("proof node {index} is out of range")]
    NodeOutOfRange {
        /// The node's index.
        index: u64,
    },
    /// An unsigned proof whose root digest is not the feed key.
    #[error("root checksum does not match the feed key")]
    ChecksumFailed,
}

pub(crate) fn io(file: Slot) -> impl FnOnce(std::io::Error) -> FeedError {
    move |source| FeedError::Io { file, source }
}
