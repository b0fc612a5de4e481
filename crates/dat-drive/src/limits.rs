//! Bounds on what a hostile metadata feed can make the drive allocate or loop over.

/// Longest entry name accepted, in bytes (Linux `PATH_MAX`).
pub const MAX_NAME_LEN: usize = 4096;

/// Most components a name may have; the `paths` index of an entry has one level per
/// component plus one, so this also bounds the levels.
pub const MAX_DEPTH: usize = 256;

/// Largest metadata entry decoded (an entry lists every sibling on every level of its path,
/// so wide directories make big entries; 64 MiB is ~20 million siblings).
pub const MAX_ENTRY_LEN: usize = 64 * 1024 * 1024;

/// Decoded entries a drive keeps in memory (direct-mapped by sequence number).
pub const ENTRY_CACHE_SLOTS: usize = 1 << 14;
