//! Bounds on everything a hostile file or peer can make the feed allocate or loop over.

/// Highest block index accepted from a peer or a file: JS numbers are exact to 2^53, so no
/// honest feed goes beyond.
pub const MAX_BLOCK_INDEX: u64 = 1 << 53;

/// Most nodes a proof can need: one sibling per level of a 2^53-block tree, the same number
/// of extra roots, and the hash-request leaf, with room to spare.
pub const MAX_PROOF_NODES: usize = 256;

/// Largest block `put` accepts: the wire protocol's maximum frame (8 MiB).
pub const MAX_PUT_BLOCK: usize = 8 * 1024 * 1024;

/// Largest bitfield file read on open (about 300 million blocks).
pub const MAX_BITFIELD_BYTES: u64 = 1 << 30;

/// Bytes an append buffers (data, tree entries) before writing, so memory use does not grow
/// with the size of a batch.
pub const APPEND_CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// Most problems a [`crate::verify::VerifyReport`] lists (the counters keep counting).
pub const MAX_REPORTED_PROBLEMS: usize = 1000;

/// Leaves hashed on two threads only above this many bytes (thread start-up costs ~20 µs).
pub const PARALLEL_HASH_BYTES: usize = 1024 * 1024;

/// Appends of at least this many bytes per chunk share the work with the feed's helper thread
/// (a hand-over costs a few µs; 32 KiB takes ~15 µs to hash and write).
pub const HELPER_MIN_BYTES: usize = 32 * 1024;
