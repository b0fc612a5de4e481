//! Appending: the merkle-tree-stream generator of DAT-SPEC §2.2 with batched I/O.
//!
//! A batch is processed in chunks of at most [`APPEND_CHUNK_BYTES`]: the chunk's blocks are
//! gathered into one buffer and go to `data` in one write, leaves are hashed in SIMD lanes
//! ([`crate::leaf_hash`], two threads for large chunks), and the parents they complete are
//! hashed level by level, also in lanes ([`crate::tree_grow`]). Tree entries accumulate in one
//! contiguous buffer covering `2 * start ..` that is written when it fills or the batch ends.
//! Parents that complete older subtrees sit before that range and are written individually
//! (at most one per old root). Then one signature, then the dirty bitfield pages. The bytes
//! written are those JS hypercore writes for the same `append(batch)`.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use crate::append_helper::{Chunk, Helper, Lent, Reply, Task, helper_budget};
use crate::crypto::{Hash, Signature, hash_roots};
use crate::error::{FeedError, io};
use crate::feed::Feed;
use crate::flat_tree;
use crate::leaf_hash::{LeafScratch, hash_append};
use crate::limits::{APPEND_CHUNK_BYTES, HELPER_MIN_BYTES, MAX_BLOCK_INDEX, PARALLEL_HASH_BYTES};
use crate::node::{NODE_RECORD_LEN, Node};
use crate::sleep::HEADER_LEN;
use crate::storage::Slot;
use crate::tree_grow::Grower;
use crate::tree_index::TreeBits;

/// Buffers reused across appends, so the hot path does not allocate once warm, and the
/// helper thread.
#[derive(Default)]
pub(crate) struct Scratch {
    chunk: Arc<Chunk>,
    sizes: Vec<u64>,
    hashes: Vec<Hash>,
    tree: Vec<u8>,
    low: Vec<Node>,
    leaves: LeafScratch,
    grower: Grower,
    helper: Option<Helper>,
    /// Starting the helper failed once; do not try again.
    no_helper: bool,
    /// The `data` storage is with the helper (a write is in flight).
    lent: bool,
}

/// Where tree entries of the running batch go: records at or after `base` into the
/// contiguous buffer (holes stay zero), older ones to `low`, written one by one.
struct TreeBuf<'s> {
    bytes: &'s mut Vec<u8>,
    low: &'s mut Vec<Node>,
    base: u64,
}

impl TreeBuf<'_> {
    /// Make the buffer cover every index below `end`.
    fn cover(&mut self, end: u64) {
        let len = (end.saturating_sub(self.base) as usize) * NODE_RECORD_LEN;
        if self.bytes.len() < len {
            self.bytes.resize(len, 0);
        }
    }

    fn place(&mut self, node: &Node) {
        if node.index < self.base {
            self.low.push(*node);
            return;
        }
        let pos = ((node.index - self.base) as usize) * NODE_RECORD_LEN;
        if self.bytes.len() < pos + NODE_RECORD_LEN {
            self.bytes.resize(pos + NODE_RECORD_LEN, 0);
        }
        self.bytes[pos..pos + NODE_RECORD_LEN].copy_from_slice(&node.to_record());
    }
}

impl Feed {
    /// Append one block; returns its index.
    pub fn append(&mut self, block: &[u8]) -> Result<u64, FeedError> {
        Ok(self.append_batch([block])?.start)
    }

    /// Append blocks as one batch with one signature (at the batch's last block), as JS
    /// `feed.append([..])` does. Returns the new blocks' indexes.
    pub fn append_batch<'a>(
        &mut self,
        blocks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Range<u64>, FeedError> {
        if !self.writable() {
            return Err(FeedError::NotWritable);
        }
        if !self.roots_valid {
            self.reload_roots()?;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut result = self.append_chunks(blocks.into_iter(), &mut scratch);
        if result.is_err() {
            // A failed append may leave the data storage with the helper: take it back.
            let reclaimed = self.reclaim_data(&scratch.helper, &mut scratch.lent);
            result = result.and(reclaimed.map(|_| 0..0));
        }
        self.scratch = scratch;
        if result.is_err() {
            // Storage may hold part of the batch, but the bitfield does not point at it.
            self.roots_valid = false;
            self.reload_roots()?;
        }
        result
    }

    fn append_chunks<'a>(
        &mut self,
        mut blocks: impl Iterator<Item = &'a [u8]>,
        scratch: &mut Scratch,
    ) -> Result<Range<u64>, FeedError> {
        let start = self.length;
        let mut n = 0u64;
        let mut bytes = 0u64;
        let mut roots = std::mem::take(&mut self.roots);
        let Scratch {
            chunk,
            sizes,
            hashes,
            tree,
            low,
            leaves,
            grower,
            helper,
            no_helper,
            lent,
        } = scratch;
        tree.clear();
        low.clear();
        let mut tree = TreeBuf {
            bytes: tree,
            low,
            base: 2 * start,
        };
        let mut last = false;
        while !last {
            // The previous chunk's data must be written before its tree entries.
            self.reclaim_data(helper, lent)?;
            if tree.bytes.len() >= APPEND_CHUNK_BYTES {
                self.write_tree_buf(&mut tree)?;
            }
            if Arc::get_mut(chunk).is_none() {
                *chunk = Arc::default();
            }
            let Some(c) = Arc::get_mut(chunk) else {
                break;
            };
            c.clear();
            last = true;
            for block in blocks.by_ref() {
                c.push(block);
                if c.data.len() >= APPEND_CHUNK_BYTES || c.len() >= APPEND_CHUNK_BYTES / 80 {
                    last = false;
                    break;
                }
            }
            c.seal();
            let k = c.len();
            if k == 0 {
                break;
            }
            let chunk_start = start + n;
            if chunk_start + k as u64 > MAX_BLOCK_INDEX {
                return Err(FeedError::IndexTooLarge {
                    index: chunk_start + k as u64,
                });
            }
            sizes.clear();
            sizes.extend((0..k).map(|i| c.block(i).len() as u64));
            hashes.clear();
            hashes.resize(k, Hash([0; 32]));
            let chunk_bytes = c.data.len() as u64;
            if helper.is_none() && !*no_helper && wants_helper(c) {
                // Start the helper on the first chunk worth it.
                *helper = Helper::spawn();
                *no_helper = helper.is_none();
            }
            let at = self.byte_length + bytes;
            self.hash_and_write(chunk, hashes, leaves, helper, lent, at, last)?;
            tree.cover(2 * (chunk_start + k as u64) - 1);
            grower.grow(&mut roots, chunk_start, sizes, hashes, |node| {
                tree.place(node)
            })?;
            n += k as u64;
            bytes += chunk_bytes;
        }
        if n == 0 {
            self.roots = roots;
            return Ok(start..start);
        }
        // Sign while the helper writes the last chunk.
        let signature = match self.secret.as_ref() {
            Some(secret) => secret.sign(&hash_roots(&roots)),
            None => return Err(FeedError::NotWritable),
        };
        self.reclaim_data(helper, lent)?;
        self.write_tree_buf(&mut tree)?;
        for node in tree.low.iter() {
            let offset = HEADER_LEN as u64 + NODE_RECORD_LEN as u64 * node.index;
            self.storage
                .tree
                .write_at(offset, &node.to_record())
                .map_err(io(Slot::Tree))?;
        }
        self.write_signature(start, n, &signature)?;
        // All data bits, then all tree bits: the tree bits never touch the data and index
        // regions or grow the pager, so the pages end up as with JS's per-block order.
        self.bitfield.set_run(start, start + n);
        for i in start..start + n {
            TreeBits::set(&mut self.bitfield, flat_tree::leaf(i));
        }
        self.flush_bitfield()?;
        for root in &roots {
            self.cache_node(root);
        }
        self.roots = roots;
        self.length = start + n;
        self.byte_length += bytes;
        Ok(start..start + n)
    }

    /// Hash the chunk's leaves into `hashes` and write its blocks at `offset` of `data`:
    /// with the helper, both threads hash and the helper keeps the storage until
    /// [`Feed::reclaim_data`]; without, here and now.
    #[allow(clippy::too_many_arguments)]
    fn hash_and_write(
        &mut self,
        chunk: &Arc<Chunk>,
        hashes: &mut [Hash],
        leaves: &mut LeafScratch,
        helper: &mut Option<Helper>,
        lent: &mut bool,
        offset: u64,
        last: bool,
    ) -> Result<(), FeedError> {
        let c: &Chunk = chunk;
        if let Some(h) = helper.as_ref().filter(|_| wants_helper(c)) {
            let storage = std::mem::replace(&mut self.storage.data, Box::new(Lent));
            let budget = helper_budget(c.data.len(), c.len(), last);
            let task = Task {
                chunk: Arc::clone(chunk),
                budget,
                storage,
                offset,
            };
            match h.send(task) {
                Ok(()) => {
                    *lent = true;
                    let mine = (c.data.len() + 9 * c.len()).saturating_sub(budget);
                    c.hash_units(mine, leaves, |r, hs| hashes[r].copy_from_slice(hs));
                    let r = h.recv();
                    let Some(Reply::Hashed {
                        ranges,
                        hashes: theirs,
                    }) = r
                    else {
                        return Err(helper_lost());
                    };
                    let mut at = 0;
                    for r in ranges {
                        let len = r.len();
                        hashes[r].copy_from_slice(&theirs[at..at + len]);
                        at += len;
                    }
                    // Units the helper left (it started late): hash them here.
                    c.hash_units(usize::MAX, leaves, |r, hs| hashes[r].copy_from_slice(hs));
                    return Ok(());
                }
                Err(task) => {
                    // The thread is gone: take the storage back and work alone.
                    self.storage.data = task.storage;
                    *helper = None;
                }
            }
        }
        c.hash_units(usize::MAX, leaves, |r, hs| hashes[r].copy_from_slice(hs));
        if !c.data.is_empty() {
            self.storage
                .data
                .write_at(offset, &c.data)
                .map_err(io(Slot::Data))?;
        }
        Ok(())
    }

    /// Wait for the helper's write of the last chunk and put the `data` storage back.
    fn reclaim_data(&mut self, helper: &Option<Helper>, lent: &mut bool) -> Result<(), FeedError> {
        if !std::mem::take(lent) {
            return Ok(());
        }
        let Some(h) = helper else {
            return Err(helper_lost());
        };
        loop {
            match h.recv() {
                Some(Reply::Written { storage, result }) => {
                    self.storage.data = storage;
                    return result.map_err(io(Slot::Data));
                }
                Some(Reply::Hashed { .. }) => continue,
                None => return Err(helper_lost()),
            }
        }
    }

    fn write_tree_buf(&mut self, tree: &mut TreeBuf<'_>) -> Result<(), FeedError> {
        if tree.bytes.is_empty() {
            return Ok(());
        }
        let offset = HEADER_LEN as u64 + NODE_RECORD_LEN as u64 * tree.base;
        self.storage
            .tree
            .write_at(offset, tree.bytes)
            .map_err(io(Slot::Tree))?;
        tree.base += (tree.bytes.len() / NODE_RECORD_LEN) as u64;
        tree.bytes.clear();
        Ok(())
    }

    /// Sign the new roots at entry `start + n - 1`, zeroing stale entries of the batch (left
    /// by an earlier torn append) so every entry of the batch but the last reads as blank.
    fn write_signature(
        &mut self,
        start: u64,
        n: u64,
        signature: &Signature,
    ) -> Result<(), FeedError> {
        let file = self.storage.signatures.as_mut();
        let entries = file
            .len()
            .map_err(io(Slot::Signatures))?
            .saturating_sub(HEADER_LEN as u64)
            / 64;
        let last = start + n - 1;
        let mut i = start;
        let zeros = [0u8; 64 * 256];
        while i < entries.min(last) {
            let count = (entries.min(last) - i).min(256);
            file.write_at(HEADER_LEN as u64 + 64 * i, &zeros[..(count * 64) as usize])
                .map_err(io(Slot::Signatures))?;
            i += count;
        }
        file.write_at(HEADER_LEN as u64 + 64 * last, signature.as_bytes())
            .map_err(io(Slot::Signatures))
    }
}

/// Whether a chunk is worth a trip to the helper thread (a few µs each way).
fn wants_helper(chunk: &Chunk) -> bool {
    chunk.data.len() >= HELPER_MIN_BYTES && threads() >= 2
}

fn helper_lost() -> FeedError {
    FeedError::Io {
        file: Slot::Data,
        source: std::io::Error::other("the append helper thread died"),
    }
}

fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Leaf hashes `H(0x00 || u64be(len) || block)` of a chunk, SIMD lanes in parallel, split
/// over two threads when the chunk is large.
pub(crate) fn hash_leaves(blocks: &[&[u8]], out: &mut Vec<Hash>) {
    out.clear();
    let total: usize = blocks.iter().map(|b| b.len()).sum();
    if total < PARALLEL_HASH_BYTES || blocks.len() < 2 || threads() < 2 {
        hash_append(blocks, out, &mut LeafScratch::default());
        return;
    }
    let mut mid = 0;
    let mut acc = 0;
    while mid < blocks.len() - 1 && acc < total / 2 {
        acc += blocks[mid].len();
        mid += 1;
    }
    let (a, b) = blocks.split_at(mid.max(1));
    let mut second = Vec::with_capacity(b.len());
    std::thread::scope(|s| {
        s.spawn(|| hash_append(b, &mut second, &mut LeafScratch::default()));
        hash_append(a, out, &mut LeafScratch::default());
    });
    out.extend_from_slice(&second);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batched_leaf_hashes_match_single() {
        let data: Vec<Vec<u8>> = (0..40).map(|i| vec![i as u8; (i * 977) % 70_000]).collect();
        let blocks: Vec<&[u8]> = data.iter().map(|v| v.as_slice()).collect();
        let mut out = Vec::new();
        hash_leaves(&blocks, &mut out);
        assert_eq!(out.len(), blocks.len());
        for (b, h) in blocks.iter().zip(&out) {
            assert_eq!(*h, crate::crypto::hash_leaf(b));
        }
    }
}
