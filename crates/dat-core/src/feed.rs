//! The hypercore feed: a signed append-only log of blocks on SLEEP storage, byte-compatible
//! with JS hypercore 7.7.1.
//!
//! State in memory is the bitfield pages, the current roots and a fixed-size node cache; all
//! block bytes and nodes stay in storage. Appends live in `append.rs`, replication (digest,
//! proof, put) in `replicate.rs`, opening and crash recovery in `open.rs`.

use std::ops::Range;
use std::sync::Mutex;

use crate::bitfield::Bitfield;
use crate::crypto::{DiscoveryKey, Hash, PublicKey, SecretKey, Signature, hash_roots};
use crate::error::io;
use crate::flat_tree;
use crate::limits::{MAX_BLOCK_INDEX, MAX_PUT_BLOCK};
use crate::node::{NODE_RECORD_LEN, Node};
use crate::sleep::HEADER_LEN;
use crate::storage::{FeedStorage, Slot, Storage};

pub use crate::error::{FeedError, VerifyError};
pub use crate::proof::{Proof, RemoteTree};

const CACHE_SLOTS: usize = 1 << 14;

/// What open did to recover from a torn write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// The length the bitfield implied.
    pub derived_length: u64,
    /// The last signed length the feed was opened at.
    pub length: u64,
}

/// A hypercore feed.
pub struct Feed {
    pub(crate) storage: FeedStorage,
    pub(crate) key: PublicKey,
    pub(crate) secret: Option<SecretKey>,
    pub(crate) bitfield: Bitfield,
    pub(crate) length: u64,
    pub(crate) byte_length: u64,
    /// Whether the feed is signed (JS `live`): the signature at `length - 1` exists.
    pub(crate) live: bool,
    /// Writer's Merkle state: the nodes at `full_roots(2 * length)`, when `roots_valid`.
    pub(crate) roots: Vec<Node>,
    pub(crate) roots_valid: bool,
    cache: Mutex<Vec<Option<Node>>>,
    pub(crate) recovery: Option<Recovery>,
    pub(crate) scratch: crate::append::Scratch,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("key", &self.key)
            .field("length", &self.length)
            .field("byte_length", &self.byte_length)
            .field("writable", &self.writable())
            .finish_non_exhaustive()
    }
}

impl Feed {
    pub(crate) fn assemble(
        storage: FeedStorage,
        key: PublicKey,
        secret: Option<SecretKey>,
        bitfield: Bitfield,
    ) -> Self {
        Self {
            storage,
            key,
            secret,
            bitfield,
            length: 0,
            byte_length: 0,
            live: true,
            roots: Vec::new(),
            roots_valid: true,
            cache: Mutex::new(vec![None; CACHE_SLOTS]),
            recovery: None,
            scratch: Default::default(),
        }
    }

    /// The feed's public key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The discovery key peers use to find this feed.
    pub fn discovery_key(&self) -> DiscoveryKey {
        self.key.discovery_key()
    }

    /// Whether this feed holds its secret key and can append.
    pub fn writable(&self) -> bool {
        self.secret.is_some()
    }

    /// Length in blocks (for a clone: the longest verified length).
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether the feed has no blocks.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Length in bytes.
    pub fn byte_len(&self) -> u64 {
        self.byte_length
    }

    /// If open had to step back from a torn write, what it did.
    pub fn recovery(&self) -> Option<Recovery> {
        self.recovery
    }

    /// The in-memory bitfield (read-only view).
    pub fn bitfield(&self) -> &Bitfield {
        &self.bitfield
    }

    /// Whether block `index` is stored locally (and was verified when it arrived).
    pub fn has(&self, index: u64) -> bool {
        self.bitfield.get(index)
    }

    /// Blocks stored locally in `range`.
    pub fn downloaded(&self, range: Range<u64>) -> u64 {
        self.bitfield.total(range.start, range.end)
    }

    /// Whether tree node `index` is stored.
    pub fn has_node(&self, index: u64) -> bool {
        self.bitfield.get_tree(index)
    }

    /// The data bitfield of blocks `start_block..start_block+len_blocks`, MSB-first, as Have
    /// messages carry it (before RLE).
    pub fn bitfield_bytes(&self, start_block: u64, len_blocks: u64) -> Vec<u8> {
        self.bitfield.data_bytes_range(start_block, len_blocks)
    }

    /// Tree node `index`, if stored.
    pub fn node(&self, index: u64) -> Result<Option<Node>, FeedError> {
        if !self.has_node(index) {
            return Ok(None);
        }
        self.read_node(index)
    }

    /// Read node `index` from the tree file (cached); `None` for a hole or past the end.
    pub(crate) fn read_node(&self, index: u64) -> Result<Option<Node>, FeedError> {
        if index > 4 * MAX_BLOCK_INDEX {
            return Ok(None);
        }
        let slot = (index as usize) & (CACHE_SLOTS - 1);
        if let Some(node) = self.cache_lock()[slot].filter(|n| n.index == index) {
            return Ok(Some(node));
        }
        let mut record = [0u8; NODE_RECORD_LEN];
        let offset = HEADER_LEN as u64 + NODE_RECORD_LEN as u64 * index;
        if !read_opt(self.storage.tree.as_ref(), offset, &mut record).map_err(io(Slot::Tree))? {
            return Ok(None);
        }
        let node = Node::from_record(index, &record);
        if let Some(node) = node
            && self.bitfield.get_tree(index)
        {
            self.cache_lock()[slot] = Some(node);
        }
        Ok(node)
    }

    /// Node `index`, which the bitfield says is stored: missing bytes are corruption.
    pub(crate) fn require_node(&self, index: u64) -> Result<Node, FeedError> {
        self.read_node(index)?.ok_or(FeedError::Corrupt {
            file: Slot::Tree,
            index,
            reason: "node marked present is missing",
        })
    }

    pub(crate) fn cache_node(&self, node: &Node) {
        let slot = (node.index as usize) & (CACHE_SLOTS - 1);
        self.cache_lock()[slot] = Some(*node);
    }

    fn cache_lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<Node>>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Size of block `index`.
    pub fn block_size(&self, index: u64) -> Result<u64, FeedError> {
        if !self.has_node(flat_tree::leaf(index)) || index >= MAX_BLOCK_INDEX {
            return Err(FeedError::NotFound { index });
        }
        Ok(self.require_node(flat_tree::leaf(index))?.size)
    }

    /// Byte offset where block `index` starts (`index == len()` gives `byte_len()`).
    pub fn byte_offset(&self, index: u64) -> Result<u64, FeedError> {
        if index == self.length {
            return Ok(self.byte_length);
        }
        if index > self.length {
            return Err(FeedError::NotFound { index });
        }
        let mut offset = 0u64;
        for root in flat_tree::full_roots(2 * index) {
            if !self.has_node(root) {
                return Err(FeedError::NotFound { index });
            }
            offset = offset.saturating_add(self.require_node(root)?.size);
        }
        Ok(offset)
    }

    /// Block `index`, or [`FeedError::NotFound`] if it is not stored locally.
    pub fn get(&self, index: u64) -> Result<Vec<u8>, FeedError> {
        let mut buf = Vec::new();
        self.get_into(index, &mut buf)?;
        Ok(buf)
    }

    /// Block `index` into `buf` (replacing its contents), reusing its allocation.
    pub fn get_into(&self, index: u64, buf: &mut Vec<u8>) -> Result<(), FeedError> {
        if !self.has(index) {
            return Err(FeedError::NotFound { index });
        }
        let size = self.block_size(index)?;
        let offset = self.byte_offset(index)?;
        let size = usize::try_from(size).map_err(|_| FeedError::Corrupt {
            file: Slot::Tree,
            index: flat_tree::leaf(index),
            reason: "block size does not fit in memory",
        })?;
        buf.clear();
        if size == 0 {
            return Ok(());
        }
        // The size comes from the tree file: a block larger than any a peer may send must
        // be in the data file before we allocate for it.
        if size > MAX_PUT_BLOCK {
            let data_len = self.storage.data.len().map_err(io(Slot::Data))?;
            if offset
                .checked_add(size as u64)
                .is_none_or(|end| end > data_len)
            {
                return Err(FeedError::Corrupt {
                    file: Slot::Data,
                    index,
                    reason: "data file ends before the block",
                });
            }
        }
        buf.resize(size, 0);
        if !read_opt(self.storage.data.as_ref(), offset, buf).map_err(io(Slot::Data))? {
            return Err(FeedError::Corrupt {
                file: Slot::Data,
                index,
                reason: "data file ends before the block",
            });
        }
        Ok(())
    }

    /// The block containing byte `offset` and the offset inside it (DAT-SPEC §2.3).
    pub fn seek(&self, offset: u64) -> Result<(u64, u64), FeedError> {
        if offset == self.byte_length {
            return Ok((self.length, 0));
        }
        if offset > self.byte_length {
            return Err(FeedError::OutOfBounds { offset });
        }
        let mut rest = offset;
        for root in flat_tree::full_roots(2 * self.length) {
            let node = self.stored_node(root)?;
            if rest < node.size {
                return self.descend(node, rest);
            }
            rest -= node.size;
        }
        Err(FeedError::OutOfBounds { offset })
    }

    fn descend(&self, mut node: Node, mut rest: u64) -> Result<(u64, u64), FeedError> {
        while let Some((left, right)) = flat_tree::children(node.index) {
            let l = self.stored_node(left)?;
            node = if rest < l.size {
                l
            } else {
                rest -= l.size;
                self.stored_node(right)?
            };
        }
        Ok((node.index / 2, rest))
    }

    fn stored_node(&self, index: u64) -> Result<Node, FeedError> {
        if !self.has_node(index) {
            return Err(FeedError::NotFound { index: index / 2 });
        }
        self.require_node(index)
    }

    /// The roots of the current length, ascending.
    pub fn roots(&self) -> Result<Vec<Node>, FeedError> {
        if self.roots_valid && self.writable() {
            return Ok(self.roots.clone());
        }
        flat_tree::full_roots(2 * self.length)
            .into_iter()
            .map(|r| self.require_node(r))
            .collect()
    }

    /// The root digest of the current length (what the last signature signs).
    pub fn root_hash(&self) -> Result<Hash, FeedError> {
        Ok(hash_roots(&self.roots()?))
    }

    /// The signature entry `index` exactly (`None` if blank or beyond the file).
    pub(crate) fn signature_entry(&self, index: u64) -> Result<Option<Signature>, FeedError> {
        let mut buf = [0u8; 64];
        let offset = HEADER_LEN as u64 + 64 * index;
        if !read_opt(self.storage.signatures.as_ref(), offset, &mut buf)
            .map_err(io(Slot::Signatures))?
        {
            return Ok(None);
        }
        let sig = Signature(buf);
        Ok((!sig.is_blank()).then_some(sig))
    }

    /// The next non-blank signature at or after `index` (below the length), JS
    /// `Feed.signature`: batches sign only their last block.
    pub fn signature(&self, index: u64) -> Result<Option<Signature>, FeedError> {
        Ok(self.next_signature(index)?.map(|(_, sig)| sig))
    }

    /// Like [`Feed::signature`], also returning the entry index the signature was found at
    /// (it signs the roots of length `entry + 1`).
    pub fn next_signature(&self, index: u64) -> Result<Option<(u64, Signature)>, FeedError> {
        let mut i = index;
        while i < self.length {
            let chunk = (self.length - i).min(1024);
            let mut buf = vec![0u8; chunk as usize * 64];
            let offset = HEADER_LEN as u64 + 64 * i;
            let file_len = self
                .storage
                .signatures
                .len()
                .map_err(io(Slot::Signatures))?;
            let avail = file_len.saturating_sub(offset).min(buf.len() as u64) as usize;
            buf.truncate(avail - avail % 64);
            if buf.is_empty() {
                return Ok(None);
            }
            self.storage
                .signatures
                .read_at(offset, &mut buf)
                .map_err(io(Slot::Signatures))?;
            for (k, entry) in buf.chunks_exact(64).enumerate() {
                if entry.iter().any(|&b| b != 0) {
                    let mut sig = [0u8; 64];
                    sig.copy_from_slice(entry);
                    return Ok(Some((i + k as u64, Signature(sig))));
                }
            }
            i += chunk;
        }
        Ok(None)
    }

    /// Write the dirty bitfield pages (the commit point of every write).
    pub(crate) fn flush_bitfield(&mut self) -> Result<(), FeedError> {
        if !self.bitfield.is_dirty() {
            return Ok(());
        }
        let storage = self.storage.bitfield.as_mut();
        for (offset, page) in self.bitfield.take_dirty() {
            storage.write_at(offset, page).map_err(io(Slot::Bitfield))?;
        }
        Ok(())
    }

    /// fsync every slot, the bitfield last.
    pub fn sync(&mut self) -> Result<(), FeedError> {
        for slot in [
            Slot::Data,
            Slot::Tree,
            Slot::Signatures,
            Slot::Key,
            Slot::SecretKey,
        ] {
            if let Some(s) = self.storage.slot_mut(slot) {
                s.sync_data().map_err(io(slot))?;
            }
        }
        self.flush_bitfield()?;
        self.storage
            .bitfield
            .sync_data()
            .map_err(io(Slot::Bitfield))
    }

    /// Drop the local copies of the blocks in `range` (clones in "latest" mode): clears their
    /// data bits and asks the data storage to delete the bytes. Tree nodes stay.
    pub fn clear(&mut self, range: Range<u64>) -> Result<(), FeedError> {
        let end = range.end.min(self.length);
        let mut first = None;
        let mut last = range.start;
        for i in range.start..end {
            if self.bitfield.set(i, false) {
                first.get_or_insert(i);
                last = i + 1;
            }
        }
        let Some(first) = first else {
            return Ok(());
        };
        let start_byte = self.byte_offset(first);
        let end_byte = self.byte_offset(last);
        if let (Ok(a), Ok(b)) = (start_byte, end_byte) {
            self.storage
                .data
                .delete(a, b.saturating_sub(a))
                .map_err(io(Slot::Data))?;
        }
        self.flush_bitfield()
    }
}

/// Positioned read that reports a short slot as `false` instead of an error.
pub(crate) fn read_opt(
    storage: &dyn Storage,
    offset: u64,
    buf: &mut [u8],
) -> std::io::Result<bool> {
    match storage.read_at(offset, buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}
