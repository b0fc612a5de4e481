//! Hints that bring memory into the CPU's caches ahead of use.
//!
//! Hashing reads the caller's blocks, often straight from memory (a file just read, a pool
//! bigger than the caches): a unit of sixteen 1 KiB leaves hashes in 6.3 µs from cache and
//! 7.0 µs from memory (`unit_speed`). The hardware prefetcher follows the lanes' streams
//! well; hinting two blocks ahead in every lane cost more than it saved (4–7%) and was
//! removed. What is left: the helper asks for its next unit while it hashes one (about 1%),
//! and signing warms its table. The hints never change what the program reads, so they are
//! always correct, only sometimes useless.

/// Ask for every cache line of `bytes` to be brought into the second-level cache.
pub(crate) fn bytes(bytes: &[u8]) {
    for line in bytes.chunks(64) {
        self::line(line.as_ptr());
    }
    if let Some(last) = bytes.last() {
        line(last);
    }
}

/// Ask for the cache line holding `p` to be brought into the second-level cache (L1 would
/// be too close: bytes needed in a few microseconds would evict what is being worked on).
#[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
#[inline(always)]
#[allow(unsafe_code)]
pub(crate) fn line(p: *const u8) {
    use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
    // SAFETY: `_mm_prefetch` requires SSE, which this build has (the `cfg` above; SSE is in
    // every x86_64 target's baseline). PREFETCHT1 is a hint: it reads nothing the program
    // sees and cannot fault, whatever the address, so any pointer is a valid argument.
    unsafe { _mm_prefetch::<_MM_HINT_T1>(p.cast()) }
}

/// Ask for the cache line holding `p` to be brought into cache (no hint on this target).
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
#[inline(always)]
pub(crate) fn line(_p: *const u8) {}
