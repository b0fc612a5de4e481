//! Appending: the merkle-tree-stream generator of DAT-SPEC §2.2 with batched I/O.
//!
//! A batch is processed in chunks of at most [`APPEND_CHUNK_BYTES`]: the chunk's blocks are
//! gathered into one buffer and go to `data` in one write, leaves are hashed in SIMD lanes
//! ([`crate::leaf_hash`]) shared with the feed's helper thread ([`crate::append_io`]), and
//! the parents they complete are hashed level by level, also in lanes ([`crate::tree_grow`]).
//! Tree entries accumulate in one contiguous buffer covering `2 * start ..` that is written
//! when it fills or the batch ends. Parents that complete older subtrees sit before that range
//! and are written individually (at most one per old root). Then one signature, then the
//! dirty bitfield pages. The bytes written are those JS hypercore writes for the same
//! `append(batch)`, in the order of [`crate::storage`].

use std::ops::Range;
use std::sync::Arc;

use crate::append_helper::{Chunk, Payload};
use crate::append_io::{Outbox, threads};
use crate::crypto::{Hash, Signature, hash_roots};
use crate::error::{FeedError, io};
use crate::feed::Feed;
use crate::flat_tree;
use crate::leaf_hash::{LeafScratch, hash_append};
use crate::limits::{APPEND_CHUNK_BYTES, MAX_BLOCK_INDEX, PARALLEL_HASH_BYTES};
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
    outbox: Outbox,
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
            // A failed append may leave storage with the helper: take it back.
            let settled = scratch.outbox.settle(&mut self.storage);
            result = result.and(settled.map(|_| 0..0));
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
            outbox,
        } = scratch;
        if tree.capacity() == 0 {
            *tree = outbox.buffer();
        }
        tree.clear();
        low.clear();
        let mut tree = TreeBuf {
            bytes: tree,
            low,
            base: 2 * start,
        };
        let mut last = false;
        while !last {
            // A full tree buffer is queued before the wait below, never after it: the next
            // reply the chunk's hashing expects from the helper must be its hashes.
            if tree.bytes.len() >= APPEND_CHUNK_BYTES {
                let offset = HEADER_LEN as u64 + NODE_RECORD_LEN as u64 * tree.base;
                tree.base += (tree.bytes.len() / NODE_RECORD_LEN) as u64;
                let full = std::mem::replace(tree.bytes, outbox.buffer());
                let pieces = vec![(offset, 0..full.len())];
                outbox.submit(&mut self.storage, Slot::Tree, Payload::Owned(full), pieces)?;
            }
            // The previous chunk must be written before its buffer is reused.
            outbox.settle(&mut self.storage)?;
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
            if n == 0 {
                outbox.begin(c);
            }
            sizes.clear();
            sizes.extend((0..k).map(|i| c.block(i).len() as u64));
            hashes.clear();
            hashes.resize(k, Hash([0; 32]));
            let chunk_bytes = c.data.len() as u64;
            let at = self.byte_length + bytes;
            self.hash_and_write(chunk, hashes, leaves, outbox, at, last)?;
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
        // The tree entries, then the signature: the helper writes them (after the data)
        // while this thread signs and waits.
        let offset = HEADER_LEN as u64 + NODE_RECORD_LEN as u64 * tree.base;
        let mut records = std::mem::take(tree.bytes);
        let mut pieces = vec![(offset, 0..records.len())];
        for node in tree.low.iter() {
            let at = records.len();
            records.extend_from_slice(&node.to_record());
            let offset = HEADER_LEN as u64 + NODE_RECORD_LEN as u64 * node.index;
            pieces.push((offset, at..records.len()));
        }
        outbox.submit(
            &mut self.storage,
            Slot::Tree,
            Payload::Owned(records),
            pieces,
        )?;
        let signature = match self.secret.as_ref() {
            Some(secret) => secret.sign(&hash_roots(&roots)),
            None => return Err(FeedError::NotWritable),
        };
        let buf = outbox.buffer();
        let (buf, pieces) = self.signature_writes(start, n, &signature, buf)?;
        outbox.submit(
            &mut self.storage,
            Slot::Signatures,
            Payload::Owned(buf),
            pieces,
        )?;
        // Set the bits while the helper writes, and undo them if a write failed. All data
        // bits, then all tree bits: the tree bits never touch the data and index regions or
        // grow the pager, so the pages end up as with JS's per-block order.
        self.bitfield.checkpoint();
        self.bitfield.set_run(start, start + n);
        for i in start..start + n {
            TreeBits::set(&mut self.bitfield, flat_tree::leaf(i));
        }
        if let Err(e) = outbox.settle(&mut self.storage) {
            self.bitfield.rollback();
            return Err(e);
        }
        self.bitfield.commit();
        if tree.bytes.capacity() == 0 {
            *tree.bytes = outbox.buffer();
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
    /// shared with the helper thread when the batch uses it.
    fn hash_and_write(
        &mut self,
        chunk: &Arc<Chunk>,
        hashes: &mut [Hash],
        leaves: &mut LeafScratch,
        outbox: &mut Outbox,
        offset: u64,
        last: bool,
    ) -> Result<(), FeedError> {
        let c: &Chunk = chunk;
        let pieces = vec![(offset, 0..c.data.len())];
        let Some(mine) = outbox.share_hashing(chunk, last) else {
            c.hash_units(usize::MAX, leaves, |r, hs| hashes[r].copy_from_slice(hs));
            let payload = Payload::Chunk(Arc::clone(chunk));
            return outbox.submit(&mut self.storage, Slot::Data, payload, pieces);
        };
        let payload = Payload::Chunk(Arc::clone(chunk));
        outbox.submit(&mut self.storage, Slot::Data, payload, pieces)?;
        c.hash_units(mine, leaves, |r, hs| hashes[r].copy_from_slice(hs));
        outbox.take_hashes(hashes)?;
        // Units the helper left (it started late): hash them here.
        c.hash_units(usize::MAX, leaves, |r, hs| hashes[r].copy_from_slice(hs));
        Ok(())
    }

    /// The writes of a batch's signature at entry `start + n - 1`, zeroing stale entries of
    /// the batch (left by an earlier torn append) so every entry of the batch but the last
    /// reads as blank: a buffer and `(file offset, range)` pieces.
    #[allow(clippy::type_complexity)]
    fn signature_writes(
        &mut self,
        start: u64,
        n: u64,
        signature: &Signature,
        mut buf: Vec<u8>,
    ) -> Result<(Vec<u8>, Vec<(u64, Range<usize>)>), FeedError> {
        let entries = self
            .storage
            .signatures
            .len()
            .map_err(io(Slot::Signatures))?
            .saturating_sub(HEADER_LEN as u64)
            / 64;
        let last = start + n - 1;
        let stale = entries.min(last).saturating_sub(start);
        let zeros = (stale.min(256) * 64) as usize;
        buf.clear();
        buf.resize(zeros, 0);
        buf.extend_from_slice(signature.as_bytes());
        let mut pieces = Vec::new();
        let mut i = start;
        while i < entries.min(last) {
            let count = (entries.min(last) - i).min(256);
            pieces.push((HEADER_LEN as u64 + 64 * i, 0..(count * 64) as usize));
            i += count;
        }
        pieces.push((HEADER_LEN as u64 + 64 * last, zeros..zeros + 64));
        Ok((buf, pieces))
    }
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
