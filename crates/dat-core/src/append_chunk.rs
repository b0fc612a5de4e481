//! One chunk of an append: its blocks cut into hashing units, and each unit's leaf hashes,
//! computed by whichever thread gets there first.
//!
//! The caller plans the units from the block sizes ([`Chunk::plan`]), lends its blocks to the
//! feed's helper thread ([`crate::lend`]) and shows it the chunk ([`crate::append_helper`]);
//! the helper starts hashing units at once, reading the caller's blocks where they lie, while
//! the caller writes them to disk. The caller and the helper both claim units from one
//! counter, so neither waits for the other to start. When the caller has claimed the last
//! unit, at most one unit per helper is still being hashed; rather than wait for a helper
//! the scheduler may have paused (a loaded machine pauses it for milliseconds), the caller
//! waits about as long as the unit takes and then hashes it itself. Hashing is pure, so a
//! unit done twice gives the same hashes and the first set wins.
//!
//! A unit of 2, 4, 8 or 16 blocks that starts at a multiple of its length in the feed is a whole
//! subtree of the Merkle tree, so the thread that hashes its leaves also hashes the parents
//! inside it: fifteen of every sixteen parents of an append are hashed beside the leaves.

use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::blake2b_lanes::{BLOCK, LANES};
use crate::crypto::Hash;
use crate::leaf_hash::{LeafScratch, hash_into, hash_parent_blocks, parent_block};
use crate::lend::{LentBlocks, MAX_READ};
use crate::prefetch;

/// Most blocks in one hashing unit: two rounds of the 8-lane kernel, and a subtree of depth 4
/// whose 8 lowest parents fill the lanes once. (With units of 8 blocks, their 7 parents took
/// three calls, of 4, 2 and 1, and a quarter of the unit's time.)
pub(crate) const UNIT_BLOCKS: usize = MAX_READ;
/// A claim from the front of the chunk, and one from the back (see [`Chunk::claim`]).
const FRONT: u64 = 1;
const BACK: u64 = 1 << 32;
/// Parents inside a unit of [`UNIT_BLOCKS`] aligned blocks.
const UNIT_PARENTS: usize = UNIT_BLOCKS - 1;
/// Depth of the highest parent inside a unit.
pub(crate) const UNIT_DEPTH: u32 = UNIT_BLOCKS.trailing_zeros();
/// A unit closes at this many bytes (four 64 KiB blocks fill the four lanes once).
const UNIT_BYTES: usize = 256 * 1024;
/// Units claimed and hashed together while at least [`PAIR_WHEN_FREE`] are unclaimed: the
/// upper levels of one unit's parents (4, 2 and 1) leave most lanes idle, and two units'
/// fill them twice as well (a unit took 6.2 µs alone and 6.0 in a pair). Near the end of
/// a chunk units go one at a time, so that neither thread waits long for the other's last.
const PAIR: usize = 2;
const PAIR_WHEN_FREE: u64 = 4;
/// Polls of a unit another thread is hashing, one per this many bytes of it, before hashing
/// it here: a poll (a pause instruction and a load) takes 10–50 ns and hashing 8 bytes about
/// 8 ns, so this waits one to five times as long as the unit should take.
const POLL_BYTES: usize = 8;

/// A unit's leaf hashes and, for an aligned unit, the parents inside it, level by level
/// (for 16 blocks: 8 at depth 1, 4 at depth 2, 2 at depth 3, 1 at depth 4).
#[derive(Debug, Clone, Copy)]
struct UnitHashes {
    leaves: [Hash; UNIT_BLOCKS],
    parents: [Hash; UNIT_PARENTS],
}

impl UnitHashes {
    /// The leaf hashes of a unit's `blocks`, its parents still to do.
    fn leaves_of(blocks: &[&[u8]]) -> Self {
        let mut hashes = Self {
            leaves: [Hash([0; 32]); UNIT_BLOCKS],
            parents: [Hash([0; 32]); UNIT_PARENTS],
        };
        let k = blocks.len();
        SCRATCH.with_borrow_mut(|scratch| hash_into(blocks, &mut hashes.leaves[..k], scratch));
        hashes
    }
}

/// A chunk's blocks and their hashes.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    /// Feed index of the chunk's first block.
    first: u64,
    /// Block `i`'s size.
    sizes: Vec<u64>,
    /// First block of each hashing unit, then the block count.
    units: Vec<usize>,
    /// Units claimed from the front (the low 32 bits) and from the back (the high 32 bits).
    claimed: AtomicU64,
    /// Each unit's hashes, once some thread has them.
    hashed: Vec<OnceLock<UnitHashes>>,
}

impl Chunk {
    /// Lay out a chunk of blocks `first..` with these sizes.
    pub(crate) fn plan(&mut self, first: u64, sizes: impl Iterator<Item = u64>) {
        self.first = first;
        self.sizes.clear();
        self.sizes.extend(sizes);
        self.units.clear();
        self.units.push(0);
        let mut bytes = 0usize;
        for (i, &size) in self.sizes.iter().enumerate() {
            bytes = bytes.saturating_add(size as usize);
            let unit = self.units[self.units.len() - 1];
            let end = i + 1;
            // Units end at multiples of UNIT_BLOCKS in the feed, so that whole ones are
            // subtrees.
            if end - unit >= UNIT_BLOCKS
                || bytes >= UNIT_BYTES
                || (first + end as u64).is_multiple_of(UNIT_BLOCKS as u64)
            {
                self.units.push(end);
                bytes = 0;
            }
        }
        let n = self.sizes.len();
        if self.units[self.units.len() - 1] != n {
            self.units.push(n);
        }
        *self.claimed.get_mut() = 0;
        let units = self.unit_count();
        self.hashed.clear();
        self.hashed.resize_with(units, OnceLock::new);
    }

    /// Number of blocks.
    pub(crate) fn len(&self) -> usize {
        self.sizes.len()
    }

    /// Block sizes, in order.
    pub(crate) fn sizes(&self) -> &[u64] {
        &self.sizes
    }

    fn unit_count(&self) -> usize {
        self.units.len() - 1
    }

    fn unit_blocks(&self, u: usize) -> Range<usize> {
        self.units[u]..self.units[u + 1]
    }

    fn unit_bytes(&self, u: usize) -> usize {
        self.sizes[self.unit_blocks(u)].iter().sum::<u64>() as usize
    }

    /// Depth of the parents inside unit `u` (0: none): a unit of 2^d blocks starting at a
    /// multiple of 2^d is the subtree of one node at depth d.
    fn unit_depth(&self, u: usize) -> u32 {
        let blocks = self.unit_blocks(u);
        let n = blocks.len() as u64;
        let first = self.first + blocks.start as u64;
        if n >= 2 && n.is_power_of_two() && first.is_multiple_of(n) {
            n.trailing_zeros()
        } else {
            0
        }
    }

    /// The helper's share: claim units from the front and hash them, reading the lent blocks,
    /// until none are left to claim or the blocks are no longer lent.
    pub(crate) fn help(&self, lent: &LentBlocks) {
        loop {
            let Some(units) = self.claim(FRONT) else {
                return;
            };
            // The unit this thread most likely hashes next, brought into L2 meanwhile.
            if units.end < self.unit_count() {
                lent.read(self.unit_blocks(units.end), |blocks| {
                    for block in blocks {
                        prefetch::bytes(block);
                    }
                });
            }
            let u = units.start;
            let hashed = if units.len() == PAIR {
                lent.read(self.unit_blocks(u), |first| {
                    lent.read(self.unit_blocks(u + 1), |second| {
                        self.hash_pair(u, first, second);
                    })
                })
                .flatten()
            } else {
                lent.read(self.unit_blocks(u), |blocks| {
                    self.hash_unit(u, blocks);
                })
            };
            if hashed.is_none() {
                return;
            }
        }
    }

    /// Claim the next unit from the front or the back. While the helper starts hashing, the
    /// caller writes the chunk to disk, front to back, faster than the helper hashes: so the
    /// helper claims from the front, just behind the write, and reads blocks the write has
    /// brought into the caller's cache rather than from memory; the caller, done writing,
    /// claims from the back, which the write left in its own cache.
    ///
    /// Two units at once ([`PAIR`]) while enough are left, else one. A claim that asks for
    /// two when one is left takes that one (the counters then overshoot, which only means
    /// nothing is left).
    fn claim(&self, end: u64) -> Option<Range<usize>> {
        let units = self.unit_count() as u64;
        let free = |claimed: u64| units.saturating_sub((claimed & 0xffff_ffff) + (claimed >> 32));
        let want = if free(self.claimed.load(Ordering::Relaxed)) >= PAIR_WHEN_FREE {
            PAIR as u64
        } else {
            1
        };
        let before = self.claimed.fetch_add(end * want, Ordering::Relaxed);
        let take = want.min(free(before));
        if take == 0 {
            return None;
        }
        let (front, back) = (before & 0xffff_ffff, before >> 32);
        let first = if end == FRONT {
            front
        } else {
            units - back - take
        };
        Some(first as usize..(first + take) as usize)
    }

    /// Every leaf hash of the chunk into `leaves` (one per block), and the parents hashed
    /// inside units into `parents`: claims what is left, then collects what others hashed,
    /// hashing here any unit still in flight after a short wait. `blocks` are the chunk's
    /// blocks, as planned.
    ///
    /// The helper's units are collected from the front as they are done, between this
    /// thread's own units (collected as it hashes them), so that little is left to copy once
    /// the last unit is hashed: what comes after that waits for it.
    pub(crate) fn hash_all(
        &self,
        blocks: &[&[u8]],
        leaves: &mut [Hash],
        parents: &mut KnownParents,
    ) {
        debug_assert_eq!(leaves.len(), self.len());
        debug_assert_eq!(blocks.len(), self.len());
        parents.reset(self.first, self.first + self.len() as u64);
        // Units below `own` are the helper's (claimed from the front), collected up to `next`.
        let (mut own, mut next) = (self.unit_count(), 0);
        while let Some(units) = self.claim(BACK) {
            let u = units.start;
            let first = &blocks[self.unit_blocks(u)];
            if units.len() == PAIR {
                let [a, b] = self.hash_pair(u, first, &blocks[self.unit_blocks(u + 1)]);
                self.collect(u, a, leaves, parents);
                self.collect(u + 1, b, leaves, parents);
            } else {
                let hashes = self.hash_unit(u, first);
                self.collect(u, hashes, leaves, parents);
            }
            own = u;
            while next < own
                && let Some(hashes) = self.hashed[next].get()
            {
                self.collect(next, hashes, leaves, parents);
                next += 1;
            }
        }
        for u in next..own {
            let hashes = match self.hashed[u].get() {
                Some(h) => h,
                None => self.wait_or_hash(u, &blocks[self.unit_blocks(u)]),
            };
            self.collect(u, hashes, leaves, parents);
        }
    }

    /// Copy unit `u`'s leaf hashes into `leaves` and its parents into `parents`.
    fn collect(
        &self,
        u: usize,
        hashes: &UnitHashes,
        leaves: &mut [Hash],
        parents: &mut KnownParents,
    ) {
        let range = self.unit_blocks(u);
        leaves[range.clone()].copy_from_slice(&hashes.leaves[..range.len()]);
        let depth = self.unit_depth(u);
        let first = self.first + range.start as u64;
        let mut at = 0;
        for d in 1..=depth {
            let count = range.len() >> d;
            parents.set(d, first >> d, &hashes.parents[at..at + count]);
            at += count;
        }
    }

    fn wait_or_hash(&self, u: usize, blocks: &[&[u8]]) -> &UnitHashes {
        for _ in 0..self.unit_bytes(u) / POLL_BYTES {
            if let Some(h) = self.hashed[u].get() {
                return h;
            }
            std::hint::spin_loop();
        }
        self.hash_unit(u, blocks)
    }

    /// Hash unit `u`, whose blocks are `blocks`.
    fn hash_unit(&self, u: usize, blocks: &[&[u8]]) -> &UnitHashes {
        let mut hashes = UnitHashes::leaves_of(blocks);
        let depth = self.unit_depth(u);
        if depth > 0 {
            self.hash_parents(u, depth, std::slice::from_mut(&mut hashes));
        }
        // Another thread may have set it meanwhile: same bytes, so either is right.
        self.hashed[u].get_or_init(|| hashes)
    }

    /// Hash units `u` and `u + 1`, whose blocks are `first` and `second`: when both are
    /// whole aligned units, their parents go through the lanes together, level by level.
    fn hash_pair(&self, u: usize, first: &[&[u8]], second: &[&[u8]]) -> [&UnitHashes; 2] {
        let depth = self.unit_depth(u);
        if depth != UNIT_DEPTH || self.unit_depth(u + 1) != depth {
            return [self.hash_unit(u, first), self.hash_unit(u + 1, second)];
        }
        let mut hashes = [UnitHashes::leaves_of(first), UnitHashes::leaves_of(second)];
        self.hash_parents(u, depth, &mut hashes);
        let [a, b] = hashes;
        [
            self.hashed[u].get_or_init(|| a),
            self.hashed[u + 1].get_or_init(|| b),
        ]
    }

    /// The parents inside aligned units `u..` (one per entry of `hashes`, at most [`PAIR`],
    /// all of depth `depth`), level by level from their leaves, each level of all the units
    /// hashed together.
    fn hash_parents(&self, u: usize, depth: u32, hashes: &mut [UnitHashes]) {
        debug_assert!(hashes.len() <= PAIR);
        let mut sizes = [[0u64; UNIT_BLOCKS]; PAIR];
        let mut level = [[Hash([0; 32]); UNIT_BLOCKS]; PAIR];
        for (k, h) in hashes.iter().enumerate() {
            let range = self.unit_blocks(u + k);
            sizes[k][..range.len()].copy_from_slice(&self.sizes[range]);
            level[k] = h.leaves;
        }
        let mut count = 1usize << depth;
        let mut at = 0;
        let mut buf = [[0u8; BLOCK]; PAIR * UNIT_BLOCKS / 2];
        let mut out = [Hash([0; 32]); PAIR * UNIT_BLOCKS / 2];
        for _ in 1..=depth {
            count /= 2;
            for (k, sizes) in sizes.iter_mut().enumerate().take(hashes.len()) {
                for j in 0..count {
                    let size = sizes[2 * j].wrapping_add(sizes[2 * j + 1]);
                    let (left, right) = (&level[k][2 * j], &level[k][2 * j + 1]);
                    buf[k * count + j] = parent_block(size, left, right);
                    sizes[j] = size;
                }
            }
            let total = count * hashes.len();
            for (blocks, out) in buf[..total].chunks(LANES).zip(out.chunks_mut(LANES)) {
                hash_parent_blocks(blocks, &mut out[..blocks.len()]);
            }
            for (k, h) in hashes.iter_mut().enumerate() {
                let mine = &out[k * count..(k + 1) * count];
                level[k][..count].copy_from_slice(mine);
                h.parents[at..at + count].copy_from_slice(mine);
            }
            at += count;
        }
    }
}

thread_local! {
    /// Buffers for leaf hashing where the CPU has no 8-lane kernel, per thread.
    static SCRATCH: std::cell::RefCell<LeafScratch> = std::cell::RefCell::default();
}

/// Parents hashed inside units, by depth (1 to [`UNIT_DEPTH`]) and offset, for the tree
/// grower to take instead of hashing them again.
#[derive(Debug, Default)]
pub(crate) struct KnownParents {
    /// Per depth: the offset of entry 0, and the entries.
    levels: [(u64, Vec<Option<Hash>>); UNIT_DEPTH as usize],
}

impl KnownParents {
    /// Nothing known, room for the parents over blocks `start..end`.
    fn reset(&mut self, start: u64, end: u64) {
        for (d, (base, hashes)) in self.levels.iter_mut().enumerate() {
            let depth = d as u32 + 1;
            *base = start >> depth;
            hashes.clear();
            hashes.resize(((end >> depth) - *base) as usize, None);
        }
    }

    fn set(&mut self, depth: u32, offset: u64, hashes: &[Hash]) {
        let (base, level) = &mut self.levels[depth as usize - 1];
        let at = (offset - *base) as usize;
        for (slot, h) in level[at..at + hashes.len()].iter_mut().zip(hashes) {
            *slot = Some(*h);
        }
    }

    /// Whether every node at `depth` (1 to [`UNIT_DEPTH`]) over blocks `start..end` is known.
    pub(crate) fn complete(&self, depth: u32, start: u64, end: u64) -> bool {
        let Some((base, level)) = (depth as usize)
            .checked_sub(1)
            .and_then(|d| self.levels.get(d))
        else {
            return false;
        };
        *base == start >> depth
            && level.len() as u64 == (end >> depth) - (start >> depth)
            && level.iter().all(Option::is_some)
    }

    /// The hash of the node at `depth` and `offset`, if a unit had it.
    pub(crate) fn get(&self, depth: u32, offset: u64) -> Option<Hash> {
        let (base, level) = self.levels.get((depth as usize).checked_sub(1)?)?;
        level
            .get(usize::try_from(offset.checked_sub(*base)?).ok()?)?
            .as_ref()
            .copied()
    }

    /// The flat index of a known node, for tests.
    #[cfg(test)]
    fn indexes(&self) -> Vec<u64> {
        let mut out = Vec::new();
        for (d, (base, level)) in self.levels.iter().enumerate() {
            for (k, h) in level.iter().enumerate() {
                if h.is_some() {
                    out.push(crate::flat_tree::index(d as u32 + 1, base + k as u64));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{hash_leaf, parent_node};
    use crate::flat_tree;
    use crate::node::Node;
    use std::sync::Arc;

    fn data_of(sizes: &[usize]) -> Vec<Vec<u8>> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &s)| vec![i as u8; s])
            .collect()
    }

    fn slices(data: &[Vec<u8>]) -> Vec<&[u8]> {
        data.iter().map(|v| v.as_slice()).collect()
    }

    fn chunk_of(first: u64, sizes: &[usize]) -> Chunk {
        let mut chunk = Chunk::default();
        chunk.plan(first, sizes.iter().map(|&s| s as u64));
        chunk
    }

    const SIZES: [&[usize]; 5] = [
        &[],
        &[5],
        &[1024; 17],
        &[65536; 9],
        &[10, 300_000, 10, 10, 70_000, 70_000, 70_000, 70_000, 1],
    ];

    /// The subtree root over blocks `from..from + 2^depth` of `data`, the slow way.
    fn subtree(data: &[Vec<u8>], first: u64, from: u64, depth: u32) -> Node {
        let mut level: Vec<Node> = (from..from + (1 << depth))
            .map(|i| {
                let b = &data[(i - first) as usize];
                Node {
                    index: 2 * i,
                    hash: hash_leaf(b),
                    size: b.len() as u64,
                }
            })
            .collect();
        while level.len() > 1 {
            level = level.chunks(2).map(|p| parent_node(&p[0], &p[1])).collect();
        }
        level[0]
    }

    fn check(first: u64, sizes: &[usize], chunk: &Chunk, data: &[Vec<u8>], out: &[Hash]) {
        for (i, h) in out.iter().enumerate() {
            assert_eq!(*h, hash_leaf(&data[i]), "sizes {sizes:?}");
        }
        let mut known = KnownParents::default();
        let mut again = vec![Hash([0; 32]); out.len()];
        chunk.hash_all(&slices(data), &mut again, &mut known);
        for index in known.indexes() {
            let (depth, offset) = (flat_tree::depth(index), flat_tree::offset(index));
            let node = subtree(data, first, offset << depth, depth);
            assert_eq!(node.index, index);
            assert_eq!(known.get(depth, offset), Some(node.hash), "node {index}");
        }
    }

    #[test]
    fn every_block_gets_its_leaf_hash_and_aligned_units_their_parents() {
        for first in [0, 3, 8, 13] {
            for sizes in SIZES {
                let (chunk, data) = (chunk_of(first, sizes), data_of(sizes));
                let mut out = vec![Hash([0; 32]); sizes.len()];
                chunk.hash_all(&slices(&data), &mut out, &mut KnownParents::default());
                check(first, sizes, &chunk, &data, &out);
            }
        }
        // 17 blocks from 0: unit 0..16 has 15 parents.
        let (chunk, data) = (chunk_of(0, &[1024; 17]), data_of(&[1024; 17]));
        let mut known = KnownParents::default();
        chunk.hash_all(&slices(&data), &mut vec![Hash([0; 32]); 17], &mut known);
        assert_eq!(known.indexes().len(), 15);
    }

    #[test]
    fn a_second_thread_shares_the_units_and_a_late_one_finds_none() {
        for sizes in SIZES {
            let data = data_of(sizes);
            let blocks = slices(&data);
            let chunk = Arc::new(chunk_of(5, sizes));
            let mut out = vec![Hash([0; 32]); sizes.len()];
            let mut slot = Arc::default();
            let kept = std::thread::scope(|s| {
                LentBlocks::lend(&mut slot, &blocks, |lent| {
                    let (other, theirs) = (Arc::clone(&chunk), Arc::clone(lent));
                    s.spawn(move || other.help(&theirs));
                    chunk.hash_all(&blocks, &mut out, &mut KnownParents::default());
                    Arc::clone(lent)
                })
            });
            // A helper that starts after the call claims nothing and reads nothing.
            chunk.help(&kept);
            check(5, sizes, &chunk, &data, &out);
        }
    }

    #[test]
    fn a_helper_that_comes_after_the_call_reads_nothing() {
        let data = data_of(&[1024; 40]);
        let blocks = slices(&data);
        let chunk = chunk_of(0, &[1024; 40]);
        let mut slot = Arc::default();
        let kept = LentBlocks::lend(&mut slot, &blocks, Arc::clone);
        // Nothing was claimed: the helper claims unit 0 but may not read it.
        chunk.help(&kept);
        assert!(chunk.hashed.iter().all(|h| h.get().is_none()));
    }

    #[test]
    fn a_unit_claimed_but_never_hashed_is_hashed_by_the_caller() {
        let (chunk, data) = (chunk_of(0, &[1024; 40]), data_of(&[1024; 40]));
        // A helper that claimed the first unit and was then paused for good.
        chunk.claimed.fetch_add(FRONT, Ordering::Relaxed);
        let mut out = vec![Hash([0; 32]); 40];
        chunk.hash_all(&slices(&data), &mut out, &mut KnownParents::default());
        check(0, &[1024; 40], &chunk, &data, &out);
    }

    #[test]
    fn claims_from_both_ends_take_each_unit_once() {
        for units in [0usize, 1, 2, 7, 40] {
            let chunk = chunk_of(0, &vec![1024; units * UNIT_BLOCKS]);
            assert_eq!(chunk.unit_count(), units);
            let claimed: Vec<Vec<Range<usize>>> = std::thread::scope(|s| {
                let ends = [FRONT, BACK, FRONT, BACK];
                let threads: Vec<_> = ends
                    .iter()
                    .map(|&end| {
                        let chunk = &chunk;
                        s.spawn(move || std::iter::from_fn(|| chunk.claim(end)).collect())
                    })
                    .collect();
                threads
                    .into_iter()
                    .map(|t| t.join().unwrap_or_default())
                    .collect()
            });
            let mut all: Vec<usize> = claimed.concat().into_iter().flatten().collect();
            all.sort_unstable();
            assert_eq!(all, (0..units).collect::<Vec<_>>(), "{units} units");
            // One or two units at a time; a front claimer sees its claims in order, a back
            // claimer in reverse.
            assert!(
                claimed
                    .concat()
                    .iter()
                    .all(|r| (1..=PAIR).contains(&r.len()))
            );
            assert!(claimed[0].windows(2).all(|w| w[0].end <= w[1].start));
            assert!(claimed[1].windows(2).all(|w| w[0].start >= w[1].end));
        }
    }

    /// `cargo test --release -p dat-core --lib unit_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn unit_speed() {
        let data = data_of(&[1024; UNIT_BLOCKS]);
        let blocks = slices(&data);
        // Microseconds per call, the best of 60 trials.
        let best = |f: &mut dyn FnMut()| crate::speed::best_ns(400, f) / 1e3;
        let unit = best(&mut || {
            let chunk = chunk_of(0, &[1024; UNIT_BLOCKS]);
            std::hint::black_box(chunk.hash_unit(0, &blocks));
        });
        let leaves = best(&mut || {
            let mut out = [Hash([0; 32]); UNIT_BLOCKS];
            SCRATCH.with_borrow_mut(|s| hash_into(&blocks, &mut out, s));
            std::hint::black_box(out);
        });
        eprintln!(
            "unit of {UNIT_BLOCKS} x 1 KiB: {unit:.2} us, its leaves alone {leaves:.2} us (best of 60)"
        );
        let pair = best(&mut || {
            let chunk = chunk_of(0, &[1024; 2 * UNIT_BLOCKS]);
            std::hint::black_box(chunk.hash_pair(0, &blocks, &blocks));
        });
        eprintln!("per unit of a pair: {:.2} us (best of 60)", pair / 2.0);
        // From memory, as in an append of fresh data: units walk a 64 MiB pool.
        let pool: Vec<u8> = (0..64u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        let units: Vec<Vec<&[u8]>> = pool
            .chunks_exact(1024 * UNIT_BLOCKS)
            .map(|u| u.chunks_exact(1024).collect())
            .collect();
        let mut next = 0;
        let chunk = chunk_of(0, &[1024; UNIT_BLOCKS]);
        let cold = best(&mut || {
            next = (next + 1) % units.len();
            std::hint::black_box(chunk.hash_unit(0, &units[next]));
        });
        eprintln!("unit of {UNIT_BLOCKS} x 1 KiB from memory: {cold:.2} us (best of 60)");
        let blocks = [parent_block(5, &Hash([1; 32]), &Hash([2; 32])); 8];
        for n in [1usize, 2, 4, 8] {
            let parents = best(&mut || {
                let mut out = [Hash([0; 32]); 8];
                hash_parent_blocks(std::hint::black_box(&blocks[..n]), &mut out[..n]);
                std::hint::black_box(out);
            });
            eprintln!("{n} parents: {:.0} ns", parents * 1e3);
        }
    }

    /// Roots of a tree of `n` leaves, the slow way.
    fn roots_of(data: &[Vec<u8>], n: u64) -> Vec<Node> {
        flat_tree::full_roots(2 * n)
            .into_iter()
            .map(|index| {
                let (depth, offset) = (flat_tree::depth(index), flat_tree::offset(index));
                subtree(data, 0, offset << depth, depth)
            })
            .collect()
    }

    #[test]
    fn growing_from_the_units_tops_gives_the_same_nodes_and_roots() {
        use crate::tree_grow::Grower;
        let sizes: Vec<usize> = (0..700).map(|i| (i * 37) % 3000).collect();
        let data = data_of(&sizes);
        for (start, n) in [
            (0u64, 256usize),
            (16, 48),
            (32, 16),
            (48, 300),
            (3, 61),
            (16, 40),
        ] {
            let end = start as usize + n;
            let blocks = slices(&data[start as usize..end]);
            let chunk = chunk_of(start, &sizes[start as usize..end]);
            let mut leaves = vec![Hash([0; 32]); n];
            let mut known = KnownParents::default();
            chunk.hash_all(&blocks, &mut leaves, &mut known);
            let grown = |known: &KnownParents| {
                let mut roots = roots_of(&data, start);
                let mut nodes = Vec::new();
                let mut grower = Grower::default();
                let depth = grower
                    .grow(&mut roots, start, chunk.sizes(), &leaves, known, |x| {
                        nodes.push(*x)
                    })
                    .unwrap_or_else(|e| panic!("{e}"));
                grower.emit_below(start, chunk.sizes(), &leaves, known, depth, |x| {
                    nodes.push(*x)
                });
                nodes.sort_by_key(|x| x.index);
                (depth, nodes, roots)
            };
            let (depth, fast, fast_roots) = grown(&known);
            let (plain_depth, plain, plain_roots) = grown(&KnownParents::default());
            // Whole units from a unit boundary start at the units' tops; others lower.
            let whole = start.is_multiple_of(16) && end.is_multiple_of(16);
            assert!(
                depth <= UNIT_DEPTH && (!whole || depth == UNIT_DEPTH),
                "{start}+{n}"
            );
            if !start.is_multiple_of(2) {
                assert_eq!(depth, 0);
            }
            assert_eq!(plain_depth, 0);
            assert_eq!(fast, plain, "{start}+{n}: nodes");
            assert_eq!(fast_roots, plain_roots, "{start}+{n}: roots");
            assert_eq!(
                fast_roots,
                roots_of(&data, end as u64),
                "{start}+{n}: roots"
            );
            // Every new node, once.
            let expected: usize = (0..64)
                .map(|d| ((end as u64) >> d) - (start >> d))
                .sum::<u64>() as usize;
            assert_eq!(fast.len(), expected, "{start}+{n}");
        }
    }

    /// `cargo test --release -p dat-core --lib grow_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn grow_speed() {
        let sizes = [1024usize; 256];
        let data = data_of(&sizes);
        let blocks = slices(&data);
        let start = 256 * 40;
        let chunk = chunk_of(start, &sizes);
        let mut leaves = vec![Hash([0; 32]); 256];
        let mut known = KnownParents::default();
        chunk.hash_all(&blocks, &mut leaves, &mut known);
        // Roots of a tree of `start` leaves: one full subtree.
        let root = Node {
            index: flat_tree::index(13, 0),
            hash: Hash([1; 32]),
            size: start * 1024,
        };
        let mut grower = crate::tree_grow::Grower::default();
        let mut out = Vec::with_capacity(600);
        let rounds = 20_000;
        let t = std::time::Instant::now();
        for _ in 0..rounds {
            let mut roots = vec![root];
            out.clear();
            grower
                .grow(&mut roots, start, chunk.sizes(), &leaves, &known, |n| {
                    out.push(*n)
                })
                .unwrap_or_else(|e| panic!("{e}"));
            std::hint::black_box(&roots);
        }
        eprintln!(
            "grow 256 leaves, {} nodes: {:.2} us",
            out.len(),
            t.elapsed().as_secs_f64() * 1e6 / rounds as f64
        );
    }

    #[test]
    fn a_replanned_chunk_starts_over() {
        let mut chunk = chunk_of(0, &[1024; 40]);
        chunk.plan(40, [1u64; 3].into_iter());
        assert_eq!(chunk.unit_count(), 1);
        assert_eq!(chunk.claimed.load(Ordering::Relaxed), 0);
        assert!(chunk.hashed.iter().all(|h| h.get().is_none()));
    }
}
