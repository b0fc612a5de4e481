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
use std::sync::OnceLock;

use crate::crypto::{Hash, hash_roots};
use crate::error::{FeedError, io};
use crate::feed::Feed;
use crate::flat_tree;
use crate::leaf_hash::{LeafScratch, hash_into};
use crate::limits::{APPEND_CHUNK_BYTES, MAX_BLOCK_INDEX, PARALLEL_HASH_BYTES};
use crate::node::{NODE_RECORD_LEN, Node};
use crate::sleep::HEADER_LEN;
use crate::storage::Slot;
use crate::tree_grow::Grower;
use crate::tree_index::TreeBits;

/// Buffers reused across appends, so the hot path does not allocate once warm.
#[derive(Default)]
pub(crate) struct Scratch {
    /// The chunk's blocks, back to back, as `data` receives them.
    data: Vec<u8>,
    sizes: Vec<u64>,
    hashes: Vec<Hash>,
    tree: Vec<u8>,
    low: Vec<Node>,
    leaves: LeafScratch,
    grower: Grower,
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
        let result = self.append_chunks(blocks.into_iter(), &mut scratch);
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
            data,
            sizes,
            hashes,
            tree,
            low,
            leaves,
            grower,
        } = scratch;
        tree.clear();
        low.clear();
        let mut tree = TreeBuf {
            bytes: tree,
            low,
            base: 2 * start,
        };
        loop {
            data.clear();
            sizes.clear();
            for block in blocks.by_ref() {
                data.extend_from_slice(block);
                sizes.push(block.len() as u64);
                if data.len() >= APPEND_CHUNK_BYTES || sizes.len() >= APPEND_CHUNK_BYTES / 80 {
                    break;
                }
            }
            if sizes.is_empty() {
                break;
            }
            let chunk_start = start + n;
            let k = sizes.len() as u64;
            if chunk_start + k > MAX_BLOCK_INDEX {
                self.roots = roots;
                return Err(FeedError::IndexTooLarge {
                    index: chunk_start + k,
                });
            }
            let chunk = split(data, sizes);
            hashes.clear();
            hash_leaves_with(&chunk, hashes, leaves);
            if !data.is_empty() {
                self.storage
                    .data
                    .write_at(self.byte_length + bytes, data)
                    .map_err(io(Slot::Data))?;
            }
            tree.cover(2 * (chunk_start + k) - 1);
            if let Err(e) = grower.grow(&mut roots, chunk_start, sizes, hashes, |node| {
                tree.place(node)
            }) {
                self.roots = roots;
                return Err(e);
            }
            n += k;
            bytes += data.len() as u64;
            if tree.bytes.len() >= APPEND_CHUNK_BYTES {
                self.write_tree_buf(&mut tree)?;
            }
        }
        if n == 0 {
            self.roots = roots;
            return Ok(start..start);
        }
        self.write_tree_buf(&mut tree)?;
        for node in tree.low.iter() {
            let offset = HEADER_LEN as u64 + NODE_RECORD_LEN as u64 * node.index;
            self.storage
                .tree
                .write_at(offset, &node.to_record())
                .map_err(io(Slot::Tree))?;
        }
        self.write_signature(start, n, &roots)?;
        for i in start..start + n {
            self.bitfield.set(i, true);
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
    fn write_signature(&mut self, start: u64, n: u64, roots: &[Node]) -> Result<(), FeedError> {
        let Some(secret) = self.secret.as_ref() else {
            return Err(FeedError::NotWritable);
        };
        let signature = secret.sign(&hash_roots(roots));
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

/// The blocks of a gathered chunk, as slices of its buffer.
fn split<'d>(data: &'d [u8], sizes: &[u64]) -> Vec<&'d [u8]> {
    let mut at = 0usize;
    sizes
        .iter()
        .map(|&size| {
            let block = &data[at..at + size as usize];
            at += size as usize;
            block
        })
        .collect()
}

fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Leaf hashes `H(0x00 || u64be(len) || block)` of a chunk, SIMD lanes in parallel, split
/// over two threads when the chunk is large.
pub(crate) fn hash_leaves(blocks: &[&[u8]], out: &mut Vec<Hash>) {
    out.clear();
    hash_leaves_with(blocks, out, &mut LeafScratch::default());
}

fn hash_leaves_with(blocks: &[&[u8]], out: &mut Vec<Hash>, scratch: &mut LeafScratch) {
    let total: usize = blocks.iter().map(|b| b.len()).sum();
    if total < PARALLEL_HASH_BYTES || blocks.len() < 2 || threads() < 2 {
        hash_into(blocks, out, scratch);
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
        s.spawn(|| hash_into(b, &mut second, &mut LeafScratch::default()));
        hash_into(a, out, scratch);
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
