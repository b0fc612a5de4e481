//! Replication primitives: the request digest, building proofs, and verifying and storing
//! what a peer sent (JS `_putBuffer` → `_verifyAndWrite` → `_verifyRootsAndWrite`,
//! DAT-SPEC §4.7–§4.8). A `put` writes nothing unless the whole proof verifies.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::crypto::{Hash, hash_leaf, hash_parent, hash_roots};
use crate::error::{FeedError, VerifyError, io};
use crate::feed::{Feed, read_opt};
use crate::flat_tree;
use crate::leaf_hash::{LeafScratch, hash_into};
use crate::limits::{MAX_BLOCK_INDEX, MAX_PROOF_NODES, MAX_PUT_BLOCK};
use crate::node::{NODE_RECORD_LEN, Node};
use crate::proof::{HashedBlock, Proof, RemoteTree};
use crate::sleep::HEADER_LEN;
use crate::storage::Slot;
use crate::tree_index::{self, TreeBits};

/// Blocks received are hashed on two threads from this many bytes on. A thread is started
/// per run (~20-50 µs, more when the other core is busy): measured in a 1 GiB clone on the
/// 2-core machine, from 256 KiB on the helper thread hashed about what starting it cost,
/// so only the larger runs (about half of a bulk clone's bytes) get one.
const PARALLEL_PUT_HASH_BYTES: usize = 1024 * 1024;

/// Tree nodes read at once for proofs (32 blocks' leaves and the parents between them).
const READ_AHEAD_NODES: u64 = 64;

/// Blocks per group the two hashing threads take in turn (one round of the 4-lane kernel).
const HASH_GROUP: usize = 4;

/// Cores this process may use, asked once: `available_parallelism` reads the cgroup files
/// each time (ten system calls), which was 1.4% of a 1 GiB clone's receiving thread when it
/// was asked for every run of blocks.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// What a verified put writes.
struct Verified {
    nodes: Vec<Node>,
    signature: Option<(u64, crate::crypto::Signature)>,
    new_length: Option<(u64, u64)>,
}

impl Feed {
    /// The leaf hashes of `blocks` (to be stored with [`Feed::put_hashed`]), computed in SIMD
    /// lanes, and on two threads when they add up to 1 MiB or more: hashing is
    /// most of what verifying a downloaded block costs. The two threads take groups of blocks
    /// in turn, so a helper thread that is slow to start (a busy machine) costs no waiting:
    /// the caller hashes whatever the helper has not taken.
    pub fn hash_blocks<'a>(blocks: &[&'a [u8]]) -> Vec<HashedBlock<'a>> {
        let mut hashes = vec![Hash([0; 32]); blocks.len()];
        let total: usize = blocks.iter().map(|b| b.len()).sum();
        let groups = blocks.len().div_ceil(HASH_GROUP);
        let two_threads = total >= PARALLEL_PUT_HASH_BYTES && groups >= 2 && cores() >= 2;
        if !two_threads {
            hash_into(blocks, &mut hashes, &mut LeafScratch::default());
        } else {
            let slots: Vec<Mutex<&mut [Hash]>> =
                hashes.chunks_mut(HASH_GROUP).map(Mutex::new).collect();
            let next = AtomicUsize::new(0);
            let work = || {
                let mut scratch = LeafScratch::default();
                loop {
                    let g = next.fetch_add(1, Ordering::Relaxed);
                    let Some(slot) = slots.get(g) else { break };
                    let mut out = slot.lock().unwrap_or_else(|e| e.into_inner());
                    let from = g * HASH_GROUP;
                    let to = (from + out.len()).min(blocks.len());
                    hash_into(&blocks[from..to], &mut out, &mut scratch);
                }
            };
            std::thread::scope(|s| {
                // Without a thread, the caller hashes every group itself.
                let _helper = std::thread::Builder::new()
                    .name("dat-hash".into())
                    .spawn_scoped(s, work);
                work();
            });
        }
        blocks
            .iter()
            .zip(hashes)
            .map(|(&value, leaf)| HashedBlock { value, leaf })
            .collect()
    }

    /// The `Request.nodes` digest for block `index`: which proof nodes we already have.
    pub fn digest(&self, index: u64) -> u64 {
        tree_index::digest(&self.bitfield, flat_tree::leaf(index.min(MAX_BLOCK_INDEX)))
    }

    /// The proof for block `index` given the requester's `digest`, as JS `Feed.proof`
    /// builds it. `remote` accumulates what this peer is known to have.
    pub fn proof(
        &self,
        index: u64,
        digest: u64,
        hash_only: bool,
        remote: &mut RemoteTree,
    ) -> Result<Proof, FeedError> {
        if index >= MAX_BLOCK_INDEX {
            return Err(FeedError::IndexTooLarge { index });
        }
        let leaf = flat_tree::leaf(index);
        self.read_ahead(leaf, remote);
        let selected = tree_index::proof(&self.bitfield, leaf, digest, hash_only, remote)
            .ok_or(FeedError::NotFound { index })?;
        let nodes = selected
            .nodes
            .iter()
            .map(|&n| self.require_node(n))
            .collect::<Result<Vec<_>, _>>()?;
        let signature = if self.live && selected.verified_by > 0 {
            let entry = selected.verified_by / 2 - 1;
            match remote.last_signature {
                Some((e, sig)) if e == entry => Some(sig),
                _ => {
                    let sig = self.signature_entry(entry)?.ok_or(FeedError::Corrupt {
                        file: Slot::Signatures,
                        index: entry,
                        reason: "signature needed for a proof is blank",
                    })?;
                    remote.last_signature = Some((entry, sig));
                    Some(sig)
                }
            }
        } else {
            None
        };
        Ok(Proof {
            index,
            nodes,
            signature,
        })
    }

    /// Read the tree nodes from `leaf` on in one read into the node cache, unless this peer's
    /// last read-ahead covered `leaf`: a peer downloading in order next asks for the blocks
    /// whose leaves (and the parents between them) these are, which would otherwise be read
    /// one 40-byte record at a time. Only nodes the bitfield marks stored are cached (as
    /// `read_node` does); a failed or short read leaves the nodes to be read one by one.
    fn read_ahead(&self, leaf: u64, remote: &mut RemoteTree) {
        if remote.read_ahead.contains(&leaf) {
            return;
        }
        let end = leaf
            .saturating_add(READ_AHEAD_NODES)
            .min(2 * self.length.min(MAX_BLOCK_INDEX));
        if end <= leaf {
            return;
        }
        // Tried once per window, read or not (a sparse feed's tree file may end sooner).
        remote.read_ahead = leaf..end;
        let mut records = vec![0u8; (end - leaf) as usize * NODE_RECORD_LEN];
        let offset = HEADER_LEN as u64 + NODE_RECORD_LEN as u64 * leaf;
        if !matches!(
            read_opt(self.storage.tree.as_ref(), offset, &mut records),
            Ok(true)
        ) {
            return;
        }
        for (index, record) in (leaf..end).zip(records.as_chunks::<NODE_RECORD_LEN>().0) {
            if self.has_node(index)
                && let Some(node) = Node::from_record(index, record)
            {
                self.cache_node(&node);
            }
        }
    }

    /// Verify a block (or, with `value = None`, a hash-only answer) against its proof and
    /// store it: nodes, block, signature, then bits. Nothing is written if verification
    /// fails.
    pub fn put(
        &mut self,
        index: u64,
        value: Option<&[u8]>,
        proof: &Proof,
    ) -> Result<(), FeedError> {
        let hashed = value.map(|v| HashedBlock {
            value: v,
            leaf: hash_leaf(v),
        });
        self.put_hashed(index, hashed, proof)?;
        self.flush_puts()
    }

    /// [`Feed::put`] of a block hashed by [`Feed::hash_blocks`], except that the bitfield, the
    /// commit point, is not written: call [`Feed::flush_puts`] after a run of puts (until then
    /// a crash forgets the run's blocks, which are fetched again). Data, tree nodes and the
    /// signature are written before this returns, so the order on disk stays data, tree,
    /// signatures, bitfield.
    pub fn put_hashed(
        &mut self,
        index: u64,
        value: Option<HashedBlock<'_>>,
        proof: &Proof,
    ) -> Result<(), FeedError> {
        if index >= MAX_BLOCK_INDEX {
            return Err(FeedError::IndexTooLarge { index });
        }
        if let Some(v) = value
            && v.value.len() > MAX_PUT_BLOCK
        {
            return Err(FeedError::BlockTooLarge { len: v.value.len() });
        }
        if proof.nodes.len() > MAX_PROOF_NODES {
            return Err(VerifyError::TooManyNodes {
                count: proof.nodes.len(),
                max: MAX_PROOF_NODES,
            }
            .into());
        }
        if let Some(bad) = proof.nodes.iter().find(|n| n.index > 4 * MAX_BLOCK_INDEX) {
            return Err(VerifyError::NodeOutOfRange { index: bad.index }.into());
        }
        let verified = self.verify_proof(index, value, proof)?;
        self.write_verified(index, value.map(|v| v.value), verified)
    }

    /// Write the bitfield pages that [`Feed::put_hashed`] changed: the blocks become stored.
    pub fn flush_puts(&mut self) -> Result<(), FeedError> {
        self.flush_bitfield()
    }

    fn verify_proof(
        &self,
        index: u64,
        value: Option<HashedBlock<'_>>,
        proof: &Proof,
    ) -> Result<Verified, FeedError> {
        let leaf = flat_tree::leaf(index);
        let (trusted, mut local) = self.trusted_and_local(leaf, value.is_some(), proof)?;
        let mut remote = proof.nodes.iter().copied().peekable();
        let mut top = match value {
            Some(v) => Node {
                index: leaf,
                hash: v.leaf,
                size: v.value.len() as u64,
            },
            None => match remote.next() {
                Some(n) if n.index == leaf => n,
                _ => return Err(VerifyError::WrongLeaf { index: leaf }.into()),
            },
        };
        let mut visited = Vec::new();
        let mut local_iter = local.drain(..).peekable();
        loop {
            if let Some(t) = &trusted
                && t.index == top.index
            {
                if t.hash != top.hash || t.size != top.size {
                    return Err(VerifyError::HashMismatch { index: top.index }.into());
                }
                return Ok(Verified {
                    nodes: visited,
                    signature: None,
                    new_length: None,
                });
            }
            let sibling = flat_tree::sibling(top.index);
            let node = if remote.peek().is_some_and(|n| n.index == sibling) {
                let n = remote
                    .next()
                    .ok_or(VerifyError::MissingNodes { index: sibling })?;
                visited.push(n);
                n
            } else if local_iter.peek().is_some_and(|n| n.index == sibling) {
                local_iter
                    .next()
                    .ok_or(VerifyError::MissingNodes { index: sibling })?
            } else {
                let rest: Vec<Node> = remote.collect();
                return self.verify_roots(top, &rest, visited, proof);
            };
            visited.push(top);
            let size = top
                .size
                .checked_add(node.size)
                .ok_or(VerifyError::NodeOutOfRange { index: node.index })?;
            top = Node {
                index: flat_tree::parent(top.index),
                hash: hash_parent(&top, &node),
                size,
            };
        }
    }

    /// JS `_putBuffer`: walk up from the leaf to the first locally stored node (trusted),
    /// collecting the siblings the proof does not carry but we have.
    fn trusted_and_local(
        &self,
        leaf: u64,
        has_value: bool,
        proof: &Proof,
    ) -> Result<(Option<Node>, Vec<Node>), FeedError> {
        let mut trusted = None;
        let mut missing = Vec::new();
        let mut next = leaf;
        let mut i = usize::from(!has_value);
        for _ in 0..(64 + proof.nodes.len()) {
            if self.has_node(next) {
                trusted = Some(next);
                break;
            }
            let sibling = flat_tree::sibling(next);
            next = flat_tree::parent(next);
            if i < proof.nodes.len() && proof.nodes[i].index == sibling {
                i += 1;
                continue;
            }
            if !self.has_node(sibling) {
                break;
            }
            missing.push(sibling);
        }
        if trusted.is_none() && self.has_node(next) {
            trusted = Some(next);
        }
        let local = missing
            .iter()
            .map(|&n| self.require_node(n))
            .collect::<Result<Vec<_>, _>>()?;
        let trusted = trusted.map(|t| self.require_node(t)).transpose()?;
        Ok((trusted, local))
    }

    /// JS `_verifyRootsAndWrite`: `top` is a root; check the signature over the roots it
    /// implies, taking them from `top`, the remaining proof nodes or local storage.
    fn verify_roots(
        &self,
        top: Node,
        remote: &[Node],
        mut nodes: Vec<Node>,
        proof: &Proof,
    ) -> Result<Verified, FeedError> {
        let last = remote.last().map_or(top.index, |n| n.index);
        let verified_by = flat_tree::right_span(top.index)
            .max(flat_tree::right_span(last))
            .saturating_add(2);
        let length = verified_by / 2;
        if length > MAX_BLOCK_INDEX {
            return Err(VerifyError::NodeOutOfRange { index: last }.into());
        }
        let root_indexes = flat_tree::full_roots(verified_by);
        // The block is covered by the signature only if the hashing from it reached a root;
        // a proof that leaves out a sibling would otherwise be checked against roots that
        // are stored already, and its block written unverified.
        if !root_indexes.contains(&top.index) {
            let index = flat_tree::sibling(top.index);
            return Err(VerifyError::MissingNodes { index }.into());
        }
        let mut remote = remote.iter().copied().peekable();
        let mut roots = Vec::new();
        for r in root_indexes {
            let node = if r == top.index {
                nodes.push(top);
                top
            } else if remote.peek().is_some_and(|n| n.index == r) {
                let n = remote
                    .next()
                    .ok_or(VerifyError::MissingNodes { index: r })?;
                nodes.push(n);
                n
            } else if self.has_node(r) {
                self.require_node(r)?
            } else {
                return Err(VerifyError::MissingNodes { index: r }.into());
            };
            roots.push(node);
        }
        let checksum = hash_roots(&roots);
        let signature = match proof.signature {
            Some(sig) => {
                if !self.key.verify(&checksum, &sig) {
                    return Err(VerifyError::BadSignature { length }.into());
                }
                Some((length - 1, sig))
            }
            None if self.length > 0 && self.live => {
                return Err(VerifyError::MissingSignature { length }.into());
            }
            None => {
                if checksum.0 != self.key.0 {
                    return Err(VerifyError::ChecksumFailed.into());
                }
                None
            }
        };
        let byte_length = roots.iter().try_fold(0u64, |a, r| a.checked_add(r.size));
        let byte_length = byte_length.ok_or(VerifyError::NodeOutOfRange { index: last })?;
        Ok(Verified {
            nodes,
            signature,
            new_length: Some((length, byte_length)),
        })
    }

    /// Store a verified put in the crash-safe order: data, tree, signature; the bitfield,
    /// which makes them count, is left to [`Feed::flush_puts`].
    fn write_verified(
        &mut self,
        index: u64,
        value: Option<&[u8]>,
        verified: Verified,
    ) -> Result<(), FeedError> {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            let offset = self.offset_with(index, &verified.nodes)?;
            self.storage
                .data
                .write_at(offset, v)
                .map_err(io(Slot::Data))?;
        }
        self.write_nodes(&verified.nodes)?;
        if let Some((entry, sig)) = verified.signature {
            self.storage
                .signatures
                .write_at(HEADER_LEN as u64 + 64 * entry, sig.as_bytes())
                .map_err(io(Slot::Signatures))?;
        }
        for node in &verified.nodes {
            TreeBits::set(&mut self.bitfield, node.index);
            self.cache_node(node);
        }
        if let Some((length, byte_length)) = verified.new_length
            && length > self.length
        {
            self.length = length;
            self.byte_length = byte_length;
            self.roots_valid = false;
        }
        if verified.signature.is_some() {
            self.live = true;
        }
        if value.is_some() {
            TreeBits::set(&mut self.bitfield, flat_tree::leaf(index));
            self.bitfield.set(index, true);
        }
        if !self.roots_valid && self.writable() {
            self.reload_roots()?;
        }
        Ok(())
    }

    /// Write tree node records, those with consecutive indexes in one write (a block's leaf,
    /// its parent and the sibling leaf usually are).
    fn write_nodes(&mut self, nodes: &[Node]) -> Result<(), FeedError> {
        // Sorted by index; of two records for one index the later is written, as before.
        let mut sorted: Vec<&Node> = nodes.iter().collect();
        sorted.sort_by_key(|n| n.index);
        sorted.reverse();
        sorted.dedup_by_key(|n| n.index);
        sorted.reverse();
        let mut records = Vec::with_capacity(NODE_RECORD_LEN * sorted.len());
        let mut i = 0;
        while i < sorted.len() {
            let first = sorted[i].index;
            records.clear();
            while i < sorted.len()
                && sorted[i].index == first + (records.len() / NODE_RECORD_LEN) as u64
            {
                records.extend_from_slice(&sorted[i].to_record());
                i += 1;
            }
            let offset = HEADER_LEN as u64 + NODE_RECORD_LEN as u64 * first;
            self.storage
                .tree
                .write_at(offset, &records)
                .map_err(io(Slot::Tree))?;
        }
        Ok(())
    }

    /// JS `Storage.dataOffset(index, nodes)`: the prefix roots, from the just-verified nodes
    /// or storage.
    fn offset_with(&self, index: u64, nodes: &[Node]) -> Result<u64, FeedError> {
        let mut offset = 0u64;
        for r in flat_tree::full_roots(flat_tree::leaf(index)) {
            let node = match nodes.iter().find(|n| n.index == r) {
                Some(n) => *n,
                None if self.has_node(r) => self.require_node(r)?,
                None => return Err(VerifyError::MissingNodes { index: r }.into()),
            };
            offset = offset.saturating_add(node.size);
        }
        Ok(offset)
    }
}
