//! Growing a feed's Merkle tree by many leaves at once, level by level.
//!
//! The merkle-tree-stream generator of DAT-SPEC §2.2 pushes one leaf and hashes the parents it
//! completes one at a time. Appending leaves `start..end` produces exactly the nodes at level
//! `d` with offsets `start >> d .. end >> d` (a node is new when its last leaf is new and
//! complete when its span ends at or before `end`), so a whole level can be hashed in SIMD
//! lanes once the level below is known. Only the first new node of a level can have an old
//! left child, and that child is one of the old roots. The nodes and roots are the same as the
//! one-leaf-at-a-time generator's; the tests check that.

use crate::append_chunk::{KnownParents, UNIT_DEPTH};
use crate::blake2b_lanes::BLOCK;
use crate::crypto::Hash;
use crate::error::FeedError;
use crate::flat_tree;
use crate::leaf_hash::{hash_parent_blocks, parent_block};
use crate::node::Node;
use crate::storage::Slot;

/// Buffers reused across calls, so growing does not allocate once warm.
#[derive(Default)]
pub(crate) struct Grower {
    level: Vec<Node>,
    next: Vec<Node>,
    preimages: Vec<[u8; BLOCK]>,
    /// Positions in `next` of the parents being hashed.
    pending: Vec<usize>,
    new_roots: Vec<Node>,
    /// Node sizes of two levels, for [`Grower::emit_below`].
    sizes_below: Vec<u64>,
    sizes_next: Vec<u64>,
}

impl Grower {
    /// Add leaves `start..start + sizes.len()` (sizes and hashes in order) to the tree whose
    /// roots are `roots` (the nodes at `full_roots(2 * start)`, ascending), replacing `roots`
    /// with the new ones. Parents in `known` are taken from there rather than hashed. `emit`
    /// sees every new node from the returned depth up, level by level; when that depth is
    /// above 0, [`Grower::emit_below`] gives the ones under it (the roots, which a batch's
    /// signature waits for, come first that way).
    pub(crate) fn grow(
        &mut self,
        roots: &mut Vec<Node>,
        start: u64,
        sizes: &[u64],
        hashes: &[Hash],
        known: &KnownParents,
        mut emit: impl FnMut(&Node),
    ) -> Result<u32, FeedError> {
        debug_assert_eq!(sizes.len(), hashes.len());
        if sizes.is_empty() {
            return Ok(0);
        }
        let end = start + sizes.len() as u64;
        let lowest = self.known_level(start, sizes, hashes, known);
        let mut depth = lowest;
        for node in &self.level {
            emit(node);
        }
        self.new_roots.clear();
        loop {
            // `level` holds the new nodes of `depth`, offsets `start >> depth ..`.
            let first = start >> depth;
            if (end >> depth) & 1 == 1 {
                let o = (end >> depth) - 1;
                let root = if o >= first {
                    self.level[(o - first) as usize]
                } else {
                    old_root(roots, flat_tree::index(depth, o))?
                };
                self.new_roots.push(root);
            }
            let (lo, hi) = (start >> (depth + 1), end >> (depth + 1));
            if lo >= hi || depth >= 63 {
                break;
            }
            let left_of_first = if 2 * lo < first {
                Some(old_root(roots, flat_tree::index(depth, 2 * lo))?)
            } else {
                None
            };
            self.parents(depth, first, lo..hi, left_of_first, known);
            for node in &self.next {
                emit(node);
            }
            std::mem::swap(&mut self.level, &mut self.next);
            depth += 1;
        }
        // Roots above the highest new level are old roots that stay.
        roots.retain(|r| flat_tree::depth(r.index) > depth);
        roots.extend(self.new_roots.iter().rev());
        Ok(lowest)
    }

    /// Fill `self.level` with the new nodes of the highest level at or below
    /// [`UNIT_DEPTH`] below which every new node is a leaf or in `known` and lies wholly in
    /// `start..end` (both multiples of its width), and return that depth: growing can start
    /// there, and [`Grower::emit_below`] gives the nodes under it. Depth 0 (the leaves) when
    /// there is no such level. The roots of a batch are then a few hashes away from the
    /// units' tops, which shortens the path to the batch's signature.
    fn known_level(
        &mut self,
        start: u64,
        sizes: &[u64],
        hashes: &[Hash],
        known: &KnownParents,
    ) -> u32 {
        let end = start + sizes.len() as u64;
        let mut depth = 0;
        while depth < UNIT_DEPTH {
            let width = 1u64 << (depth + 1);
            if !start.is_multiple_of(width)
                || !end.is_multiple_of(width)
                || !known.complete(depth + 1, start, end)
            {
                break;
            }
            depth += 1;
        }
        self.level.clear();
        if depth > 0 {
            let width = 1usize << depth;
            for (k, group) in sizes.chunks(width).enumerate() {
                let offset = (start >> depth) + k as u64;
                let Some(hash) = known.get(depth, offset) else {
                    break;
                };
                self.level.push(Node {
                    index: flat_tree::index(depth, offset),
                    hash,
                    size: group.iter().fold(0u64, |a, &b| a.wrapping_add(b)),
                });
            }
            if self.level.len() == sizes.len() >> depth {
                return depth;
            }
            // `complete` and `get` disagree (they cannot): start from the leaves.
            self.level.clear();
        }
        self.level.extend(
            sizes
                .iter()
                .zip(hashes)
                .enumerate()
                .map(|(k, (&size, &hash))| Node {
                    index: flat_tree::leaf(start + k as u64),
                    hash,
                    size,
                }),
        );
        0
    }

    /// The new nodes below `depth` (what [`Grower::grow`] returned, and did not emit): the
    /// leaves, then the parents in `known`, level by level.
    pub(crate) fn emit_below(
        &mut self,
        start: u64,
        sizes: &[u64],
        hashes: &[Hash],
        known: &KnownParents,
        depth: u32,
        mut emit: impl FnMut(&Node),
    ) {
        if depth == 0 {
            return;
        }
        for (k, (&size, &hash)) in sizes.iter().zip(hashes).enumerate() {
            emit(&Node {
                index: flat_tree::leaf(start + k as u64),
                hash,
                size,
            });
        }
        let (below, next) = (&mut self.sizes_below, &mut self.sizes_next);
        below.clear();
        below.extend_from_slice(sizes);
        for d in 1..depth {
            let first = start >> d;
            next.clear();
            next.extend(below.chunks_exact(2).map(|p| p[0].wrapping_add(p[1])));
            for (k, &size) in next.iter().enumerate() {
                let offset = first + k as u64;
                if let Some(hash) = known.get(d, offset) {
                    emit(&Node {
                        index: flat_tree::index(d, offset),
                        hash,
                        size,
                    });
                }
            }
            std::mem::swap(below, next);
        }
    }

    /// Hash the parents at offsets `range` of level `depth + 1` from `self.level` (level
    /// `depth`, first offset `first`) into `self.next`, those not in `known` in SIMD lanes.
    fn parents(
        &mut self,
        depth: u32,
        first: u64,
        range: std::ops::Range<u64>,
        left_of_first: Option<Node>,
        known: &KnownParents,
    ) {
        let child = |o: u64, level: &[Node]| level[(o - first) as usize];
        self.preimages.clear();
        self.next.clear();
        self.pending.clear();
        for o in range.clone() {
            let left = match left_of_first {
                Some(node) if o == range.start => node,
                _ => child(2 * o, &self.level),
            };
            let right = child(2 * o + 1, &self.level);
            let size = left.size.wrapping_add(right.size);
            let hash = match known.get(depth + 1, o) {
                Some(hash) => hash,
                None => {
                    self.pending.push(self.next.len());
                    self.preimages
                        .push(parent_block(size, &left.hash, &right.hash));
                    Hash([0; 32])
                }
            };
            self.next.push(Node {
                index: flat_tree::index(depth + 1, o),
                hash,
                size,
            });
        }
        if self.pending.is_empty() {
            return;
        }
        // Eight at a time, through the same lanes as the leaves.
        let mut out = [Hash([0; 32]); 8];
        for (pending, blocks) in self.pending.chunks(8).zip(self.preimages.chunks(8)) {
            let n = blocks.len();
            hash_parent_blocks(blocks, &mut out[..n]);
            for (&k, hash) in pending.iter().zip(&out) {
                self.next[k].hash = *hash;
            }
        }
    }
}

/// The old root with flat index `index`: the writer's roots always hold it, so a miss means
/// the in-memory state is broken, reported rather than hashed wrong.
fn old_root(roots: &[Node], index: u64) -> Result<Node, FeedError> {
    roots
        .iter()
        .find(|r| r.index == index)
        .copied()
        .ok_or(FeedError::Corrupt {
            file: Slot::Tree,
            index,
            reason: "root missing from the writer's merkle state",
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{hash_leaf, parent_node};
    use proptest::prelude::*;

    /// The one-leaf-at-a-time generator of DAT-SPEC §2.2.
    fn push_one(roots: &mut Vec<Node>, leaf: Node, out: &mut Vec<Node>) {
        out.push(leaf);
        roots.push(leaf);
        while roots.len() >= 2 {
            let (l, r) = (roots[roots.len() - 2], roots[roots.len() - 1]);
            if flat_tree::parent(l.index) != flat_tree::parent(r.index) {
                break;
            }
            roots.truncate(roots.len() - 2);
            let p = parent_node(&l, &r);
            out.push(p);
            roots.push(p);
        }
    }

    fn leaf(i: u64) -> (u64, Hash) {
        let data = vec![i as u8; (i % 7) as usize * 3];
        (data.len() as u64, hash_leaf(&data))
    }

    fn check(start: u64, batches: &[u64]) {
        let mut reference_roots = Vec::new();
        let mut reference = Vec::new();
        for i in 0..start {
            let (size, hash) = leaf(i);
            let node = Node {
                index: 2 * i,
                hash,
                size,
            };
            push_one(&mut reference_roots, node, &mut Vec::new());
        }
        let mut roots = reference_roots.clone();
        let mut grown = Vec::new();
        let mut grower = Grower::default();
        let mut at = start;
        for &n in batches {
            let (sizes, hashes): (Vec<u64>, Vec<Hash>) = (at..at + n).map(leaf).unzip();
            for i in at..at + n {
                let (size, hash) = leaf(i);
                let node = Node {
                    index: 2 * i,
                    hash,
                    size,
                };
                push_one(&mut reference_roots, node, &mut reference);
            }
            grower
                .grow(
                    &mut roots,
                    at,
                    &sizes,
                    &hashes,
                    &KnownParents::default(),
                    |n| grown.push(*n),
                )
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(roots, reference_roots, "roots after {at}+{n}");
            at += n;
        }
        let key = |n: &Node| n.index;
        reference.sort_by_key(key);
        grown.sort_by_key(key);
        assert_eq!(grown, reference, "start {start} batches {batches:?}");
    }

    #[test]
    fn edges_of_complete_subtrees() {
        for start in [0, 1, 2, 3, 4, 7, 8, 15, 16, 255, 256, 1023] {
            for n in [1, 2, 3, 4, 5, 8, 9, 255, 256, 257, 1025] {
                check(start, &[n]);
            }
        }
    }

    #[test]
    fn missing_old_root_is_an_error() {
        let mut roots = Vec::new();
        let known = KnownParents::default();
        let err = Grower::default().grow(&mut roots, 1, &[1], &[Hash([0; 32])], &known, |_| {});
        assert!(matches!(err, Err(FeedError::Corrupt { index: 0, .. })));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn batches_equal_one_leaf_at_a_time(
            start in 0u64..3000,
            batches in proptest::collection::vec(1u64..600, 1..6),
        ) {
            check(start, &batches);
        }
    }
}
