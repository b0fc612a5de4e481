//! `verify_all`: re-check everything a feed stores and say precisely what is wrong.
//!
//! Works in windows of blocks so memory stays bounded: one read of the window's tree entries,
//! reads of the window's stored data in runs, leaf hashes in batches; then each stored parent
//! against its stored children, and finally the signature of the current length.

use crate::append::hash_leaves;
use crate::crypto::{hash_parent, hash_roots};
use crate::error::{FeedError, io};
use crate::feed::{Feed, read_opt};
use crate::flat_tree;
use crate::limits::{APPEND_CHUNK_BYTES, MAX_PUT_BLOCK, MAX_REPORTED_PROBLEMS};
use crate::node::{NODE_RECORD_LEN, Node};
use crate::sleep::HEADER_LEN;
use crate::storage::Slot;

const WINDOW_BLOCKS: u64 = 4096;

/// What is wrong with one stored entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// The block's bytes do not hash to its leaf node.
    BlockHashMismatch,
    /// The data file ends before the block.
    MissingBlockBytes,
    /// The bitfield says the node is stored, the tree file has none.
    MissingNode,
    /// A parent's hash or size does not match its children.
    ParentHashMismatch,
    /// The signature at `length - 1` does not sign the roots.
    BadSignature,
    /// There is no signature at `length - 1`.
    MissingSignature,
}

/// One problem: which file, which entry (block index for `data`, node index for `tree`,
/// entry index for `signatures`), and what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The slot.
    pub file: Slot,
    /// The entry index in that slot.
    pub index: u64,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// The result of [`Feed::verify_all`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// The length checked.
    pub length: u64,
    /// Blocks re-hashed.
    pub blocks_checked: u64,
    /// Parent nodes checked against their children.
    pub parents_checked: u64,
    /// Whether the signature at `length - 1` verified.
    pub signature_ok: bool,
    /// Problems found (at most [`MAX_REPORTED_PROBLEMS`] listed).
    pub problems: Vec<Problem>,
    /// Problems found in total.
    pub problem_count: u64,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problem_count == 0
    }

    fn report(&mut self, file: Slot, index: u64, kind: ProblemKind) {
        self.problem_count += 1;
        if self.problems.len() < MAX_REPORTED_PROBLEMS {
            self.problems.push(Problem { file, index, kind });
        }
    }
}

impl Feed {
    /// Re-hash every stored block, check every stored parent against its children and the
    /// signature of the current length. Errors only on I/O failure; corruption is reported.
    pub fn verify_all(&self) -> Result<VerifyReport, FeedError> {
        let mut report = VerifyReport {
            length: self.length,
            ..Default::default()
        };
        let mut a = 0;
        while a < self.length {
            let b = (a + WINDOW_BLOCKS).min(self.length);
            let window = self.read_tree_window(2 * a, 2 * b)?;
            self.check_blocks(a, b, &window, &mut report)?;
            self.check_parents(2 * a, &window, &mut report)?;
            a = b;
        }
        self.check_signature(&mut report)?;
        Ok(report)
    }

    fn read_tree_window(&self, from: u64, to: u64) -> Result<Vec<Option<Node>>, FeedError> {
        let tree = self.storage.tree.as_ref();
        let file_len = tree.len().map_err(io(Slot::Tree))?;
        let offset = HEADER_LEN as u64 + NODE_RECORD_LEN as u64 * from;
        let want = (to - from) as usize * NODE_RECORD_LEN;
        let have = file_len.saturating_sub(offset).min(want as u64) as usize;
        let mut buf = vec![0u8; want];
        tree.read_at(offset, &mut buf[..have])
            .map_err(io(Slot::Tree))?;
        Ok(buf
            .chunks_exact(NODE_RECORD_LEN)
            .enumerate()
            .map(|(k, rec)| {
                let mut r = [0u8; NODE_RECORD_LEN];
                r.copy_from_slice(rec);
                Node::from_record(from + k as u64, &r)
            })
            .collect())
    }

    fn check_blocks(
        &self,
        a: u64,
        b: u64,
        window: &[Option<Node>],
        report: &mut VerifyReport,
    ) -> Result<(), FeedError> {
        let mut i = a;
        while i < b {
            if !self.has(i) {
                i += 1;
                continue;
            }
            // A run of stored blocks whose leaves exist, up to the chunk size.
            let start = i;
            let mut sizes = Vec::new();
            let mut total = 0usize;
            while i < b && self.has(i) && total < APPEND_CHUNK_BYTES {
                match window[(2 * (i - a)) as usize] {
                    Some(leaf) if usize::try_from(leaf.size).is_ok() => {
                        sizes.push(leaf.size as usize);
                        total = total.saturating_add(leaf.size as usize);
                    }
                    _ => break,
                }
                i += 1;
            }
            if sizes.is_empty() {
                report.report(Slot::Tree, 2 * i, ProblemKind::MissingNode);
                i += 1;
                continue;
            }
            self.check_run(a, start, &sizes, total, window, report)?;
        }
        Ok(())
    }

    fn check_run(
        &self,
        a: u64,
        start: u64,
        sizes: &[usize],
        total: usize,
        window: &[Option<Node>],
        report: &mut VerifyReport,
    ) -> Result<(), FeedError> {
        let offset = match self.byte_offset(start) {
            Ok(o) => o,
            Err(FeedError::NotFound { .. }) | Err(FeedError::Corrupt { .. }) => {
                report.report(Slot::Tree, 2 * start, ProblemKind::MissingNode);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        // Leaf sizes come from the tree file. A run is cut after the chunk size, so only a
        // leaf larger than any a peer may send can make it bigger than this bound: such a
        // run must be in the data file before we allocate for it. (Honest runs skip the
        // check: latest-mode working files cannot tell their length.)
        let bound = APPEND_CHUNK_BYTES.saturating_add(MAX_PUT_BLOCK);
        let data_len = if total > bound {
            self.storage.data.len().map_err(io(Slot::Data))?
        } else {
            u64::MAX
        };
        if offset
            .checked_add(total as u64)
            .is_none_or(|end| end > data_len)
        {
            report.report(Slot::Data, start, ProblemKind::MissingBlockBytes);
            return Ok(());
        }
        let mut buf = vec![0u8; total];
        if !read_opt(self.storage.data.as_ref(), offset, &mut buf).map_err(io(Slot::Data))? {
            report.report(Slot::Data, start, ProblemKind::MissingBlockBytes);
            return Ok(());
        }
        let mut blocks = Vec::with_capacity(sizes.len());
        let mut pos = 0;
        for &s in sizes {
            blocks.push(&buf[pos..pos + s]);
            pos += s;
        }
        let mut hashes = Vec::new();
        hash_leaves(&blocks, &mut hashes);
        for (k, hash) in hashes.iter().enumerate() {
            let i = start + k as u64;
            report.blocks_checked += 1;
            let leaf = window[(2 * (i - a)) as usize];
            if leaf.map(|l| l.hash) != Some(*hash) {
                report.report(Slot::Data, i, ProblemKind::BlockHashMismatch);
            }
        }
        Ok(())
    }

    fn check_parents(
        &self,
        from: u64,
        window: &[Option<Node>],
        report: &mut VerifyReport,
    ) -> Result<(), FeedError> {
        let fetch = |n: u64| -> Result<Option<Node>, FeedError> {
            if !self.has_node(n) {
                return Ok(None);
            }
            match n.checked_sub(from).and_then(|k| window.get(k as usize)) {
                Some(node) => Ok(*node),
                None => self.read_node(n),
            }
        };
        for (k, node) in window.iter().enumerate() {
            let index = from + k as u64;
            if index & 1 == 0 || !self.has_node(index) {
                continue;
            }
            let Some(parent) = node else {
                report.report(Slot::Tree, index, ProblemKind::MissingNode);
                continue;
            };
            let Some((l, r)) = flat_tree::children(index) else {
                continue;
            };
            let (Some(left), Some(right)) = (fetch(l)?, fetch(r)?) else {
                continue;
            };
            report.parents_checked += 1;
            if hash_parent(&left, &right) != parent.hash
                || left.size.checked_add(right.size) != Some(parent.size)
            {
                report.report(Slot::Tree, index, ProblemKind::ParentHashMismatch);
            }
        }
        Ok(())
    }

    fn check_signature(&self, report: &mut VerifyReport) -> Result<(), FeedError> {
        if self.length == 0 {
            report.signature_ok = true;
            return Ok(());
        }
        let mut roots = Vec::new();
        for r in flat_tree::full_roots(2 * self.length) {
            match self.read_node(r)? {
                Some(node) => roots.push(node),
                None => {
                    report.report(Slot::Tree, r, ProblemKind::MissingNode);
                    return Ok(());
                }
            }
        }
        let entry = self.length - 1;
        match self.signature_entry(entry)? {
            None => report.report(Slot::Signatures, entry, ProblemKind::MissingSignature),
            Some(sig) if self.key.verify(&hash_roots(&roots), &sig) => report.signature_ok = true,
            Some(_) => report.report(Slot::Signatures, entry, ProblemKind::BadSignature),
        }
        Ok(())
    }
}
