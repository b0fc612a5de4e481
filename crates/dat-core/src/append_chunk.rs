//! One chunk of an append: its blocks back to back, as `data` receives them, and the leaf
//! hashes of its blocks, computed by whichever thread gets there first.
//!
//! The blocks are cut into hashing units (a few blocks each). The feed's caller and its helper
//! thread ([`crate::append_helper`]) both claim units from one counter, so neither waits for
//! the other to start. When the caller has claimed the last unit, at most one unit per helper
//! is still being hashed; rather than wait for a helper the scheduler may have paused (a
//! loaded machine pauses it for milliseconds), the caller waits about as long as the unit
//! takes and then hashes it itself. Hashing is pure, so a unit done twice gives the same
//! hashes and the first set wins.

use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::crypto::Hash;
use crate::leaf_hash::{LeafScratch, hash_into};

/// Most blocks in one hashing unit: two rounds of the 4-lane kernel for small blocks.
const UNIT_BLOCKS: usize = 8;
/// A unit closes at this many bytes (four 64 KiB blocks fill the four lanes once).
const UNIT_BYTES: usize = 256 * 1024;
/// Polls of a unit another thread is hashing, one per this many bytes of it, before hashing
/// it here: a poll (a pause instruction and a load) takes 10–50 ns and hashing 8 bytes about
/// 8 ns, so this waits one to five times as long as the unit should take.
const POLL_BYTES: usize = 8;

type UnitHashes = [Hash; UNIT_BLOCKS];

/// A chunk's blocks and their leaf hashes.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) data: Vec<u8>,
    /// Block `i` is `data[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<usize>,
    /// First block of each hashing unit, then the block count.
    units: Vec<usize>,
    /// The next unit to claim.
    next: AtomicUsize,
    /// Each unit's hashes, once some thread has them.
    hashed: Vec<OnceLock<UnitHashes>>,
}

impl Default for Chunk {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            offsets: vec![0],
            units: vec![0],
            next: AtomicUsize::new(0),
            hashed: Vec::new(),
        }
    }
}

impl Chunk {
    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.offsets.truncate(1);
        self.units.truncate(1);
        *self.next.get_mut() = 0;
        self.hashed.clear();
    }

    /// Add a block (copying it).
    pub(crate) fn push(&mut self, block: &[u8]) {
        self.data.extend_from_slice(block);
        self.offsets.push(self.data.len());
        let unit = self.units[self.units.len() - 1];
        let n = self.len();
        if n - unit >= UNIT_BLOCKS || self.data.len() - self.offsets[unit] >= UNIT_BYTES {
            self.units.push(n);
        }
    }

    /// Close the last hashing unit; call once all blocks are in, before hashing.
    pub(crate) fn seal(&mut self) {
        let n = self.len();
        if self.units[self.units.len() - 1] != n {
            self.units.push(n);
        }
        self.hashed.clear();
        self.hashed.resize_with(self.unit_count(), OnceLock::new);
    }

    /// Number of blocks.
    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub(crate) fn block(&self, i: usize) -> &[u8] {
        &self.data[self.offsets[i]..self.offsets[i + 1]]
    }

    fn unit_count(&self) -> usize {
        self.units.len() - 1
    }

    fn unit_blocks(&self, u: usize) -> Range<usize> {
        self.units[u]..self.units[u + 1]
    }

    fn unit_bytes(&self, u: usize) -> usize {
        let blocks = self.unit_blocks(u);
        self.offsets[blocks.end] - self.offsets[blocks.start]
    }

    /// Claim units and hash them until none are left to claim (the helper's share, or the
    /// caller's first pass).
    pub(crate) fn help(&self, scratch: &mut LeafScratch) {
        let units = self.unit_count();
        loop {
            let u = self.next.fetch_add(1, Ordering::Relaxed);
            if u >= units {
                return;
            }
            self.hash_unit(u, scratch);
        }
    }

    /// Every leaf hash of the chunk into `out` (one per block): claims what is left, then
    /// collects what others hashed, hashing here any unit still in flight after a short wait.
    pub(crate) fn hash_all(&self, scratch: &mut LeafScratch, out: &mut [Hash]) {
        debug_assert_eq!(out.len(), self.len());
        self.help(scratch);
        for u in 0..self.unit_count() {
            let blocks = self.unit_blocks(u);
            let hashes = match self.hashed[u].get() {
                Some(h) => h,
                None => self.wait_or_hash(u, scratch),
            };
            out[blocks.clone()].copy_from_slice(&hashes[..blocks.len()]);
        }
    }

    fn wait_or_hash(&self, u: usize, scratch: &mut LeafScratch) -> &UnitHashes {
        for _ in 0..self.unit_bytes(u) / POLL_BYTES {
            if let Some(h) = self.hashed[u].get() {
                return h;
            }
            std::hint::spin_loop();
        }
        self.hash_unit(u, scratch)
    }

    fn hash_unit(&self, u: usize, scratch: &mut LeafScratch) -> &UnitHashes {
        let range = self.unit_blocks(u);
        let mut blocks: [&[u8]; UNIT_BLOCKS] = [&[]; UNIT_BLOCKS];
        for (slot, i) in blocks.iter_mut().zip(range.clone()) {
            *slot = self.block(i);
        }
        let k = range.len();
        let mut hashes = [Hash([0; 32]); UNIT_BLOCKS];
        hash_into(&blocks[..k], &mut hashes[..k], scratch);
        // Another thread may have set it meanwhile: same bytes, so either is right.
        self.hashed[u].get_or_init(|| hashes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hash_leaf;
    use std::sync::Arc;

    fn chunk_of(sizes: &[usize]) -> Chunk {
        let mut chunk = Chunk::default();
        for (i, &s) in sizes.iter().enumerate() {
            chunk.push(&vec![i as u8; s]);
        }
        chunk.seal();
        chunk
    }

    const SIZES: [&[usize]; 5] = [
        &[],
        &[5],
        &[1024; 17],
        &[65536; 9],
        &[10, 300_000, 10, 10, 70_000, 70_000, 70_000, 70_000, 1],
    ];

    #[test]
    fn every_block_gets_its_leaf_hash() {
        for sizes in SIZES {
            let chunk = chunk_of(sizes);
            let mut out = vec![Hash([0; 32]); sizes.len()];
            chunk.hash_all(&mut LeafScratch::default(), &mut out);
            for (i, h) in out.iter().enumerate() {
                assert_eq!(*h, hash_leaf(chunk.block(i)), "sizes {sizes:?}");
            }
        }
    }

    #[test]
    fn a_second_thread_shares_the_units_and_a_late_one_finds_none() {
        for sizes in SIZES {
            let chunk = Arc::new(chunk_of(sizes));
            let mut out = vec![Hash([0; 32]); sizes.len()];
            std::thread::scope(|s| {
                let other = Arc::clone(&chunk);
                s.spawn(move || other.help(&mut LeafScratch::default()));
                chunk.hash_all(&mut LeafScratch::default(), &mut out);
            });
            // A helper that starts after everything is hashed claims nothing.
            chunk.help(&mut LeafScratch::default());
            for (i, h) in out.iter().enumerate() {
                assert_eq!(*h, hash_leaf(chunk.block(i)), "sizes {sizes:?}");
            }
        }
    }

    #[test]
    fn a_unit_claimed_but_never_hashed_is_hashed_by_the_caller() {
        let chunk = chunk_of(&[1024; 40]);
        // A helper that claimed unit 0 and was then paused for good.
        chunk.next.fetch_add(1, Ordering::Relaxed);
        let mut out = vec![Hash([0; 32]); 40];
        chunk.hash_all(&mut LeafScratch::default(), &mut out);
        for (i, h) in out.iter().enumerate() {
            assert_eq!(*h, hash_leaf(chunk.block(i)));
        }
    }
}
