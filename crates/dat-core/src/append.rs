//! Appending: the merkle-tree-stream generator of DAT-SPEC §2.2 with batched I/O.
//!
//! A batch is processed in chunks of at most [`APPEND_CHUNK_BYTES`]: the chunk's blocks go
//! to `data` in one gathered write, leaves are hashed in SIMD lanes ([`crate::leaf_hash`])
//! shared with the feed's helper thread ([`crate::append_helper`]), which hashes the blocks
//! lent to it ([`crate::lend`]) while the caller writes, and the parents they complete are
//! hashed level by level, also in lanes ([`crate::tree_grow`]). Tree entries accumulate in
//! one contiguous buffer covering `2 * start ..` that is written when it fills or the batch
//! ends. Parents that complete older subtrees sit before that range: the one right before it
//! (closed by the batch's first leaf) goes out with the buffer, the others are written
//! individually (at most one per old root). Then one signature, then the dirty bitfield
//! pages: data → tree → signatures → bitfield, so a batch cut short is never pointed at by
//! the bitfield. The bytes written are those JS hypercore writes for the same
//! `append(batch)`.

use std::ops::Range;
use std::sync::Arc;

use crate::append_chunk::{Chunk, KnownParents};
use crate::append_helper::{Helping, threads};
use crate::crypto::{Hash, Signature, hash_roots};
use crate::error::{FeedError, io};
use crate::feed::Feed;
use crate::leaf_hash::{LeafScratch, hash_append};
use crate::lend::LentBlocks;
use crate::limits::{APPEND_CHUNK_BYTES, MAX_BLOCK_INDEX, PARALLEL_HASH_BYTES};
use crate::node::{NODE_RECORD_LEN, Node};
use crate::sleep::HEADER_LEN;
use crate::storage::Slot;
use crate::tree_grow::Grower;

/// Buffers reused across appends, so the hot path does not allocate once warm, and the
/// helper thread.
#[derive(Default)]
pub(crate) struct Scratch {
    chunk: Arc<Chunk>,
    lent: Arc<LentBlocks>,
    hashes: Vec<Hash>,
    known: KnownParents,
    tree: Vec<u8>,
    low: Vec<Node>,
    /// The last chunk's new nodes, placed in `tree` after the next step starts.
    grown: Vec<Node>,
    signatures: Vec<u8>,
    /// Entries of the `signatures` file, when known: `(feed length, entries)`, valid while
    /// the feed still has that length (only appends write it then).
    sig_entries: Option<(u64, u64)>,
    grower: Grower,
    helping: Helping,
}

/// Where tree entries of the running batch go: records at or after `base` into the
/// contiguous buffer (holes stay zero), the one just before `base` (the parent that the
/// batch's first leaf closes, when there is one) beside it, written with it, and older ones
/// to `low`, written one by one.
struct TreeBuf<'s> {
    bytes: &'s mut Vec<u8>,
    low: &'s mut Vec<Node>,
    base: u64,
    /// The record at `base - 1`, until the buffer is first written.
    before: Option<[u8; NODE_RECORD_LEN]>,
    /// Whether the buffer was written yet (only the first write takes `before`).
    flushed: bool,
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
            if node.index + 1 == self.base && !self.flushed {
                self.before = Some(node.to_record());
            } else {
                self.low.push(*node);
            }
            return;
        }
        let pos = ((node.index - self.base) as usize) * NODE_RECORD_LEN;
        if self.bytes.len() < pos + NODE_RECORD_LEN {
            self.bytes.resize(pos + NODE_RECORD_LEN, 0);
        }
        self.bytes[pos..pos + NODE_RECORD_LEN].copy_from_slice(&node.to_record());
    }

    /// File offset of the buffer's first record.
    fn offset(&self) -> u64 {
        HEADER_LEN as u64 + NODE_RECORD_LEN as u64 * self.base
    }

    /// Write the buffer (and the record before it, the first time) to the tree file with
    /// `write(offset, parts)`, and start the next buffer after it.
    fn flush(
        &mut self,
        write: impl FnOnce(u64, &[&[u8]]) -> Result<(), FeedError>,
    ) -> Result<(), FeedError> {
        let offset = self.offset();
        match self.before.take() {
            Some(record) => write(offset - NODE_RECORD_LEN as u64, &[&record, self.bytes])?,
            None => write(offset, &[self.bytes])?,
        }
        self.flushed = true;
        self.base += (self.bytes.len() / NODE_RECORD_LEN) as u64;
        self.bytes.clear();
        Ok(())
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
        let result = self.append_chunks(blocks.into_iter(), &mut scratch);
        if result.is_err() {
            scratch.sig_entries = None;
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
            lent,
            hashes,
            known,
            tree,
            low,
            grown,
            signatures,
            sig_entries,
            grower,
            helping,
        } = scratch;
        tree.clear();
        low.clear();
        grown.clear();
        let mut tree = TreeBuf {
            bytes: tree,
            low,
            base: 2 * start,
            before: None,
            flushed: false,
        };
        let mut refs: Vec<&'a [u8]> = Vec::new();
        let mut last = false;
        // The last chunk's first grown level, when the nodes under it are still to be laid out.
        let mut below: Option<(u64, u32)> = None;
        while !last {
            place_grown(&mut tree, grown, &mut below, grower, chunk, hashes, known);
            if tree.bytes.len() >= APPEND_CHUNK_BYTES {
                tree.flush(|offset, parts| self.write_parts(Slot::Tree, offset, parts))?;
            }
            // The helper may still hold the last chunk (it started late): take a fresh one.
            if Arc::get_mut(chunk).is_none() {
                *chunk = Arc::default();
            }
            let Some(c) = Arc::get_mut(chunk) else {
                break;
            };
            refs.clear();
            let mut chunk_bytes = 0usize;
            last = true;
            for block in blocks.by_ref() {
                refs.push(block);
                chunk_bytes += block.len();
                if chunk_bytes >= APPEND_CHUNK_BYTES || refs.len() >= APPEND_CHUNK_BYTES / 80 {
                    last = false;
                    break;
                }
            }
            let k = refs.len();
            if k == 0 {
                break;
            }
            let chunk_start = start + n;
            if chunk_start + k as u64 > MAX_BLOCK_INDEX {
                return Err(FeedError::IndexTooLarge {
                    index: chunk_start + k as u64,
                });
            }
            c.plan(chunk_start, refs.iter().map(|b| b.len() as u64));
            if n == 0 {
                helping.begin(chunk_bytes);
            }
            // The helper hashes units of the lent blocks while this thread writes them; then
            // both hash what is left. What this thread has to set up is done after the
            // helper is shown the chunk, so that it starts at once.
            let offset = self.byte_length + bytes;
            LentBlocks::lend(lent, &refs, |lent| {
                helping.share(chunk, lent);
                hashes.clear();
                hashes.resize(k, Hash([0; 32]));
                tree.cover(2 * (chunk_start + k as u64) - 1);
                let written = self.write_parts(Slot::Data, offset, &refs);
                chunk.hash_all(&refs, hashes, known);
                written
            })?;
            let depth = grower.grow(
                &mut roots,
                chunk_start,
                chunk.sizes(),
                hashes,
                known,
                |node| grown.push(*node),
            )?;
            below = (depth > 0).then_some((chunk_start, depth));
            n += k as u64;
            bytes += chunk_bytes as u64;
        }
        if n == 0 {
            self.roots = roots;
            return Ok(start..start);
        }
        // The helper signs while this thread lays out and writes the tree and sets the
        // bitfield's bits: the signature is the longest step of a batch's end.
        let root_hash = hash_roots(&roots);
        let signing = match self.secret.as_ref() {
            Some(secret) => helping.sign(secret, root_hash),
            None => return Err(FeedError::NotWritable),
        };
        place_grown(&mut tree, grown, &mut below, grower, chunk, hashes, known);
        tree.flush(|offset, parts| self.write_parts(Slot::Tree, offset, parts))?;
        for node in tree.low.iter() {
            let offset = HEADER_LEN as u64 + NODE_RECORD_LEN as u64 * node.index;
            self.write(Slot::Tree, offset, &node.to_record())?;
        }
        // All data bits, then all tree bits: the tree bits never touch the data and index
        // regions or grow the pager, so the pages end up as with JS's per-block order. They
        // are set before the signature is written, so undone if that write fails.
        self.bitfield.checkpoint();
        self.bitfield.set_run(start, start + n);
        self.bitfield.set_tree_leaves(start, start + n);
        let signature = match (signing, self.secret.as_ref()) {
            (Some(job), _) => job.wait_or_sign(),
            (None, Some(secret)) => secret.sign(&root_hash),
            (None, None) => Err(FeedError::NotWritable)?,
        };
        if let Err(e) = self.write_signature(start, n, &signature, signatures, sig_entries) {
            self.bitfield.rollback();
            return Err(e);
        }
        self.bitfield.commit();
        self.flush_bitfield()?;
        for root in &roots {
            self.cache_node(root);
        }
        self.roots = roots;
        self.length = start + n;
        self.byte_length += bytes;
        Ok(start..start + n)
    }

    fn write(&mut self, slot: Slot, offset: u64, bytes: &[u8]) -> Result<(), FeedError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let Some(storage) = self.storage.slot_box(slot) else {
            return Err(FeedError::NotWritable);
        };
        storage.write_at(offset, bytes).map_err(io(slot))
    }

    fn write_parts(&mut self, slot: Slot, offset: u64, parts: &[&[u8]]) -> Result<(), FeedError> {
        if parts.iter().all(|p| p.is_empty()) {
            return Ok(());
        }
        let Some(storage) = self.storage.slot_box(slot) else {
            return Err(FeedError::NotWritable);
        };
        storage.write_parts_at(offset, parts).map_err(io(slot))
    }

    /// Write a batch's signature at entry `start + n - 1`, zeroing stale entries of the
    /// batch (left by an earlier torn append) so every entry of the batch but the last reads
    /// as blank.
    fn write_signature(
        &mut self,
        start: u64,
        n: u64,
        signature: &Signature,
        buf: &mut Vec<u8>,
        known: &mut Option<(u64, u64)>,
    ) -> Result<(), FeedError> {
        let entries = match *known {
            Some((length, entries)) if length == start => entries,
            _ => {
                self.storage
                    .signatures
                    .len()
                    .map_err(io(Slot::Signatures))?
                    .saturating_sub(HEADER_LEN as u64)
                    / 64
            }
        };
        *known = None;
        let last = start + n - 1;
        let stale_end = entries.min(last);
        let mut i = start;
        while i < stale_end {
            let count = (stale_end - i).min(256);
            buf.clear();
            buf.resize((count * 64) as usize, 0);
            self.write(Slot::Signatures, HEADER_LEN as u64 + 64 * i, buf)?;
            i += count;
        }
        self.write(
            Slot::Signatures,
            HEADER_LEN as u64 + 64 * last,
            signature.as_bytes(),
        )?;
        *known = Some((start + n, entries.max(last + 1)));
        Ok(())
    }
}

/// Lay out the last chunk's new nodes: those the grower emitted, then, when it grew from the
/// units' tops, the leaves and inner parents under them (`below`: the chunk's first block and
/// the depth it grew from). `chunk`, `hashes` and `known` are still that chunk's.
fn place_grown(
    tree: &mut TreeBuf<'_>,
    grown: &mut Vec<Node>,
    below: &mut Option<(u64, u32)>,
    grower: &mut Grower,
    chunk: &Chunk,
    hashes: &[Hash],
    known: &KnownParents,
) {
    for node in grown.drain(..) {
        tree.place(&node);
    }
    if let Some((at, depth)) = below.take() {
        grower.emit_below(at, chunk.sizes(), hashes, known, depth, |n| tree.place(n));
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
