//! Bounds on what a hostile metadata feed can make the drive allocate or loop over.

/// Longest entry name accepted, in bytes (Linux `PATH_MAX`).
pub const MAX_NAME_LEN: usize = 4096;

/// Most components a name may have; the `paths` index of an entry has one level per
/// component plus one, so this also bounds the levels.
pub const MAX_DEPTH: usize = 256;

/// Largest metadata entry decoded (an entry lists every sibling on every level of its path,
/// so wide directories make big entries; 64 MiB is ~20 million siblings).
pub const MAX_ENTRY_LEN: usize = 64 * 1024 * 1024;

/// Bytes of decoded entries a drive keeps in memory. Bounded by bytes, not entries: an entry
/// of a directory with n children carries an index of n sequence numbers.
pub const ENTRY_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Bytes of decoded entry names a drive keeps in memory (what lookups and puts compare while
/// scanning a directory; ~100 bytes per entry).
pub const NAME_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Bytes of child-name maps of wide directories a drive keeps (~100 bytes per child), so a
/// put into a folder of n files does not compare n names.
pub const DIR_INDEX_BYTES: usize = 32 * 1024 * 1024;
