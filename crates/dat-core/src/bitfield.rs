//! The `bitfield` SLEEP file in memory: pages holding the data, tree and index regions,
//! maintained exactly as JS hypercore 7.7.1 does (DAT-SPEC §3.6), so the pages we write are
//! byte-identical to the ones JS writes for the same operations.
//!
//! JS keeps three `sparse-bitfield`s over one `memory-pager`; each has its own notion of
//! length (`byteLength`) and the pager has its own (`pages.length`). The index region's update
//! rule depends on all of them, so they are emulated field by field here. Bits are MSB-first.
//! Only pages whose bytes changed are marked dirty, and each dirty page is written once per
//! flush.

use std::collections::BTreeSet;

use crate::bitfield_pages::Pages;
use crate::flat_tree;

/// Bytes of the data region of a page (8192 blocks).
pub const DATA_REGION: usize = 1024;
/// Bytes of the tree region of a page (16384 nodes).
pub const TREE_REGION: usize = 2048;
const INDEX_START: usize = DATA_REGION + TREE_REGION;

const INDEX_UPDATE_MASK: [u8; 4] = [63, 207, 243, 252];

/// Climbing the tree by index arithmetic is exact (no saturation in `flat_tree`) below these.
const FAST_CLIMB_BELOW: u64 = 1 << 60;
const FAST_CLIMB_DEPTH: u32 = 58;

/// The three regions of a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Region {
    Data,
    Tree,
    Index,
}

/// A feed's bitfield: which blocks are stored, which tree nodes are stored, and the index.
#[derive(Debug, Clone)]
pub struct Bitfield {
    page_size: usize,
    index_size: usize,
    pages: Pages,
    /// memory-pager `length`: one past the highest page ever allocated.
    pager_len: u64,
    data_bytes: u64,
    tree_bytes: u64,
    index_bytes: u64,
    dirty: BTreeSet<u64>,
    /// The page last added to `dirty` (an append marks the same page again and again).
    last_dirty: Option<u64>,
    /// What [`Bitfield::rollback`] restores, while a checkpoint is open.
    undo: Option<Box<Undo>>,
    /// Buffers of `set_tree_leaves`, kept to not allocate per append.
    window: Vec<u8>,
    touched: Vec<u8>,
}

/// The state before a checkpoint: each page touched since, as it was (absent or its bytes),
/// and the lengths and dirty set.
#[derive(Debug, Clone)]
struct Undo {
    pages: Vec<(u64, Option<Box<[u8]>>)>,
    lens: [u64; 4],
    dirty: BTreeSet<u64>,
    last_dirty: Option<u64>,
}

fn reduce(byte: u8) -> u8 {
    let nib = |n: u8| match n {
        15 => 3,
        0 => 0,
        _ => 1,
    };
    (nib(byte >> 4) << 2) | nib(byte & 15)
}

fn index_value(data_byte: u8) -> u8 {
    match data_byte {
        255 => 192,
        0 => 0,
        _ => 64,
    }
}

impl Bitfield {
    /// An empty bitfield with `page_size`-byte pages (3584, or 3328 for legacy files).
    pub fn new(page_size: usize) -> Self {
        Self {
            page_size,
            index_size: page_size.saturating_sub(INDEX_START).max(1),
            pages: Pages::default(),
            pager_len: 0,
            data_bytes: 0,
            tree_bytes: 0,
            index_bytes: 0,
            dirty: BTreeSet::new(),
            last_dirty: None,
            undo: None,
            window: Vec::new(),
            touched: Vec::new(),
        }
    }

    /// Load the pages that follow the header of a `bitfield` file. A short last page (a torn
    /// write) is padded with zeros, as JS does.
    pub fn from_pages(page_size: usize, bytes: &[u8]) -> Self {
        let mut bf = Self::new(page_size);
        for (i, chunk) in bytes.chunks(page_size).enumerate() {
            if chunk.iter().any(|&b| b != 0) {
                let mut page = vec![0u8; page_size].into_boxed_slice();
                page[..chunk.len()].copy_from_slice(chunk);
                bf.pages.insert(i as u64, page);
            }
            bf.pager_len = i as u64 + 1;
        }
        bf.data_bytes = bf.pager_len * DATA_REGION as u64;
        bf.tree_bytes = bf.pager_len * TREE_REGION as u64;
        bf.index_bytes = bf.pager_len * bf.index_size as u64;
        bf
    }

    /// Page size in bytes.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    #[inline(always)]
    fn region(&self, region: Region) -> (u64, usize) {
        match region {
            Region::Data => (DATA_REGION as u64, 0),
            Region::Tree => (TREE_REGION as u64, DATA_REGION),
            Region::Index => (self.index_size as u64, INDEX_START),
        }
    }

    /// The page holding byte `i` of `region`, and the byte's place in that page. The index
    /// region's size is a power of two for both page sizes (512, 256): a shift, not a
    /// division, on the path every bit of an append takes several times.
    #[inline(always)]
    fn locate(&self, region: Region, i: u64) -> (u64, usize) {
        let (size, start) = self.region(region);
        if size.is_power_of_two() {
            (
                i >> size.trailing_zeros(),
                start + (i & (size - 1)) as usize,
            )
        } else {
            (i / size, start + (i % size) as usize)
        }
    }

    #[inline(always)]
    fn get_byte(&self, region: Region, i: u64) -> u8 {
        let (p, at) = self.locate(region, i);
        match self.pages.get(p) {
            Some(page) => page[at],
            None => 0,
        }
    }

    /// sparse-bitfield `setByte`: allocates the page (growing the pager) even when the byte
    /// does not change, and reports whether it changed.
    #[inline(always)]
    fn set_byte(&mut self, region: Region, i: u64, b: u8) -> bool {
        let (p, at) = self.locate(region, i);
        let slot = &mut self.page_to_write(p)[at];
        if *slot == b {
            return false;
        }
        *slot = b;
        self.changed(region, i, p);
        true
    }

    /// Page `p`, about to be written: kept for [`Bitfield::rollback`] when a checkpoint is
    /// open, allocated if absent (growing the pager).
    #[inline(always)]
    fn page_to_write(&mut self, p: u64) -> &mut [u8] {
        if let Some(undo) = self.undo.as_deref_mut()
            && !undo.pages.iter().rev().any(|(q, _)| *q == p)
        {
            let old = self.pages.get(p).map(Box::from);
            undo.pages.push((p, old));
        }
        if p >= self.pager_len {
            self.pager_len = p + 1;
        }
        self.pages.get_or_alloc(p, self.page_size)
    }

    /// Byte `i` of `region`, on page `p`, changed: the region's length and the dirty pages.
    #[inline(always)]
    fn changed(&mut self, region: Region, i: u64, p: u64) {
        let len = match region {
            Region::Data => &mut self.data_bytes,
            Region::Tree => &mut self.tree_bytes,
            Region::Index => &mut self.index_bytes,
        };
        if i >= *len {
            *len = i + 1;
        }
        if self.last_dirty != Some(p) {
            self.dirty.insert(p);
            self.last_dirty = Some(p);
        }
    }

    /// Start recording changes, so that [`Bitfield::rollback`] can undo them (an append sets
    /// its bits while its writes are still in flight, and undoes them if a write fails).
    pub fn checkpoint(&mut self) {
        self.undo = Some(Box::new(Undo {
            pages: Vec::new(),
            lens: [
                self.pager_len,
                self.data_bytes,
                self.tree_bytes,
                self.index_bytes,
            ],
            dirty: self.dirty.clone(),
            last_dirty: self.last_dirty,
        }));
    }

    /// Keep the changes since the checkpoint.
    pub fn commit(&mut self) {
        self.undo = None;
    }

    /// Put every page, length and the dirty set back as they were at the checkpoint.
    pub fn rollback(&mut self) {
        let Some(undo) = self.undo.take() else {
            return;
        };
        let Undo {
            pages,
            lens,
            dirty,
            last_dirty,
        } = *undo;
        for (p, old) in pages.into_iter().rev() {
            self.pages.restore(p, old);
        }
        [
            self.pager_len,
            self.data_bytes,
            self.tree_bytes,
            self.index_bytes,
        ] = lens;
        self.dirty = dirty;
        self.last_dirty = last_dirty;
    }

    /// Whether block `i` is stored.
    pub fn get(&self, i: u64) -> bool {
        self.get_byte(Region::Data, i >> 3) & (128 >> (i & 7)) != 0
    }

    /// Set or clear block `i`'s data bit, updating the index; whether it changed.
    pub fn set(&mut self, i: u64, value: bool) -> bool {
        let o = i & 7;
        let byte_i = i >> 3;
        let old = self.get_byte(Region::Data, byte_i);
        let v = if value {
            old | (128 >> o)
        } else {
            old & !(128 >> o)
        };
        if !self.set_byte(Region::Data, byte_i, v) {
            return false;
        }
        self.set_index(byte_i, v);
        true
    }

    /// Set the data bits of blocks `start..end`: exactly what `set(i, true)` for each `i` in
    /// order does to every page and length, in one data write and at most two index updates
    /// per data byte instead of eight. Why that is the same: a call that sets no new bit only
    /// allocates the page; `_setIndex` reads only the index region and the pager length, and
    /// only the first data write of a byte can grow the pager; so after the first new bit of a
    /// byte has updated the index (to "some"), the next calls recompute the same leaf byte and
    /// stop at once, until the byte fills up and the index value becomes "all".
    pub fn set_run(&mut self, start: u64, end: u64) {
        let mut i = start;
        while i < end {
            let byte_i = i >> 3;
            let stop = end.min((byte_i + 1) << 3);
            let mask = (0xffu8 >> (i & 7)) & !(0xffu16 >> (stop - (byte_i << 3))) as u8;
            let old = self.get_byte(Region::Data, byte_i);
            let new_bits = mask & !old;
            let last = old | mask;
            self.set_byte(Region::Data, byte_i, last);
            if new_bits != 0 {
                let first = old | (0x80u8 >> new_bits.leading_zeros());
                self.set_index(byte_i, first);
                if index_value(last) != index_value(first) {
                    self.set_index(byte_i, last);
                }
            }
            i = stop;
        }
    }

    /// Length of the data region in bits (JS `bitfield.length`).
    pub fn data_len_bits(&self) -> u64 {
        self.data_bytes.saturating_mul(8)
    }

    /// Whether tree node `n` is stored.
    pub fn get_tree(&self, n: u64) -> bool {
        self.get_byte(Region::Tree, n >> 3) & (128 >> (n & 7)) != 0
    }

    /// Set or clear one tree bit (no upward closure); whether it changed.
    pub fn set_tree_bit(&mut self, n: u64, value: bool) -> bool {
        let byte_i = n >> 3;
        let old = self.get_byte(Region::Tree, byte_i);
        let mask = 128u8 >> (n & 7);
        let v = if value { old | mask } else { old & !mask };
        self.set_byte(Region::Tree, byte_i, v)
    }

    /// JS `TreeIndex.set` of the leaves of blocks `start..end`, in order (each leaf, then each
    /// parent whose two children are set, climbing): the same bits, pages and lengths as
    /// calling [`crate::tree_index::TreeBits::set`] on each leaf, with the tree bytes under
    /// the new leaves worked on in a local copy (one page lookup per byte instead of one per
    /// bit read or written). Bits outside that copy go to the pages directly.
    pub fn set_tree_leaves(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let first = (2 * start) >> 3;
        let last = (2 * end - 2) >> 3;
        let mut window = std::mem::take(&mut self.window);
        window.clear();
        window.extend((first..=last).map(|b| self.get_byte(Region::Tree, b)));
        // Bits written in the window, set or not: writing a byte allocates its page even
        // when the byte stays the same.
        let mut touched = std::mem::take(&mut self.touched);
        touched.clear();
        touched.resize(window.len(), 0);
        // Where tree bit `n` is in the window: its byte and mask.
        let local = |n: u64| {
            (n >> 3 >= first && n >> 3 <= last)
                .then(|| (((n >> 3) - first) as usize, 128u8 >> (n & 7)))
        };
        for i in start..end {
            // Climb from the leaf, keeping the depth instead of recounting it per node.
            let (mut n, mut d) = (2 * i, 0u32);
            loop {
                let changed = match local(n) {
                    Some((k, mask)) => {
                        touched[k] |= mask;
                        let old = window[k];
                        window[k] |= mask;
                        old & mask == 0
                    }
                    None => self.set_tree_bit(n, true),
                };
                if !changed || d >= 64 {
                    break;
                }
                let (sibling, parent) = if n < FAST_CLIMB_BELOW && d < FAST_CLIMB_DEPTH {
                    // A node at depth d has index 2^d (2 offset + 1) - 1: its sibling is
                    // 2^(d+1) away and its parent 2^d, on the side the offset's parity says.
                    if (n >> (d + 1)) & 1 == 0 {
                        (n + (2 << d), n + (1 << d))
                    } else {
                        (n - (2 << d), n - (1 << d))
                    }
                } else {
                    (flat_tree::sibling(n), flat_tree::parent(n))
                };
                let has_sibling = match local(sibling) {
                    Some((k, mask)) => window[k] & mask != 0,
                    None => self.get_tree(sibling),
                };
                if !has_sibling {
                    break;
                }
                n = parent;
                d += 1;
            }
        }
        self.set_bytes(Region::Tree, first, &window, &touched);
        self.window = window;
        self.touched = touched;
    }

    /// Write `bytes[k]` at byte `first + k` of `region` where `touched[k]` is not zero,
    /// exactly as `set_byte` on each in order does, with one page lookup per page.
    fn set_bytes(&mut self, region: Region, first: u64, bytes: &[u8], touched: &[u8]) {
        let (size, start) = self.region(region);
        let mut k = 0usize;
        while k < bytes.len() {
            let i = first + k as u64;
            let (p, at) = self.locate(region, i);
            // The bytes of this call on page p.
            let run = (bytes.len() - k).min(start + size as usize - at);
            let (run_bytes, run_touched) = (&bytes[k..k + run], &touched[k..k + run]);
            k += run;
            let Some(first_touched) = run_touched.iter().position(|&t| t != 0) else {
                continue;
            };
            let page = self.page_to_write(p);
            let mut last_changed = None;
            for (j, (&b, &t)) in run_bytes
                .iter()
                .zip(run_touched)
                .enumerate()
                .skip(first_touched)
            {
                if t != 0 && page[at + j] != b {
                    page[at + j] = b;
                    last_changed = Some(j);
                }
            }
            if let Some(j) = last_changed {
                self.changed(region, i + j as u64, p);
            }
        }
    }

    /// Length of the tree region in bits (JS `tree.bitfield.length`).
    pub fn tree_len_bits(&self) -> u64 {
        self.tree_bytes.saturating_mul(8)
    }

    /// One index byte (for tests and debugging).
    pub fn index_byte(&self, position: u64) -> u8 {
        self.get_byte(Region::Index, position)
    }

    #[inline(always)]
    fn combine(&self, position: u64, byte: u8) -> u8 {
        let sibling = self.get_byte(Region::Index, flat_tree::sibling(position));
        if flat_tree::is_left(position) {
            (reduce(byte) << 4) | reduce(sibling)
        } else {
            reduce(byte) | (reduce(sibling) << 4)
        }
    }

    /// JS `Bitfield._setIndex`: recompute the leaf tuple for data byte `i`, walk up while
    /// bytes change and stay inside the allocated pages, then `_expand` if the index grew.
    fn set_index(&mut self, i: u64, value: u8) {
        let o = (i & 3) as usize;
        let start = 2 * (i >> 2);
        let mut byte = (self.get_byte(Region::Index, start) & INDEX_UPDATE_MASK[o])
            | (index_value(value) >> (2 * o));
        let len = self.index_bytes;
        let max_length = self.pager_len.saturating_mul(self.index_size as u64);
        let mut ite = start;
        while ite < max_length && self.set_byte(Region::Index, ite, byte) {
            byte = self.combine(ite, byte);
            ite = flat_tree::parent(ite);
        }
        if len != self.index_bytes {
            self.expand(len.saturating_mul(8));
        }
    }

    /// JS `Bitfield._expand(len)`: refresh the parents above the roots of `len` positions
    /// without allocating beyond the index length.
    fn expand(&mut self, len: u64) {
        // The roots of `flat_tree::full_roots(2 len)`, without collecting them: this runs
        // each time an append reaches a new index byte.
        let mut blocks = len.saturating_mul(2) >> 1;
        let mut offset = 0u64;
        while blocks > 0 {
            let factor = 1u64 << (63 - blocks.leading_zeros());
            let root = offset + factor - 1;
            offset += 2 * factor;
            blocks -= factor;
            let mut ite = root;
            let mut byte = self.get_byte(Region::Index, ite);
            for _ in 0..64 {
                byte = self.combine(ite, byte);
                ite = flat_tree::parent(ite);
                if ite >= self.index_bytes || !self.set_byte(Region::Index, ite, byte) {
                    break;
                }
            }
        }
    }

    /// Number of stored blocks in `start..end`.
    pub fn total(&self, start: u64, end: u64) -> u64 {
        if end <= start {
            return 0;
        }
        let mut total = 0u64;
        let mut i = start;
        while i < end {
            let byte_i = i >> 3;
            let page = byte_i / DATA_REGION as u64;
            if !self.pages.contains(page) {
                i = (page + 1) * DATA_REGION as u64 * 8;
                continue;
            }
            let byte = self.get_byte(Region::Data, byte_i);
            if i & 7 == 0 && i + 8 <= end {
                total += u64::from(byte.count_ones());
                i += 8;
            } else {
                total += u64::from(byte & (128 >> (i & 7)) != 0);
                i += 1;
            }
        }
        total
    }

    /// The data bits of blocks `start..start+len` packed MSB-first (for Have messages).
    pub fn data_bytes_range(&self, start: u64, len: u64) -> Vec<u8> {
        let len = len.min(1 << 32);
        let mut out = vec![0u8; len.div_ceil(8) as usize];
        if start & 7 == 0 {
            for (k, b) in out.iter_mut().enumerate() {
                *b = self.get_byte(Region::Data, (start >> 3) + k as u64);
            }
            if len & 7 != 0
                && let Some(last) = out.last_mut()
            {
                *last &= 0xffu8 << (8 - (len & 7));
            }
        } else {
            for k in 0..len {
                if self.get(start + k) {
                    out[(k >> 3) as usize] |= 128 >> (k & 7);
                }
            }
        }
        out
    }

    /// Indexes of the set tree bits, in ascending order (allocated pages only).
    pub fn tree_nodes(&self) -> impl Iterator<Item = u64> + '_ {
        self.pages.numbers().into_iter().flat_map(move |p| {
            let page = self.pages.get(p).unwrap_or(&[]);
            let region = page
                .get(DATA_REGION..DATA_REGION + TREE_REGION)
                .unwrap_or(&[]);
            region.iter().enumerate().flat_map(move |(k, &b)| {
                (0..8u64)
                    .filter(move |bit| b & (128 >> bit) != 0)
                    .map(move |bit| (p * TREE_REGION as u64 + k as u64) * 8 + bit)
            })
        })
    }

    /// Indexes of the set data bits at or after `from`, ascending (allocated pages only).
    pub fn data_blocks_from(&self, from: u64) -> impl Iterator<Item = u64> + '_ {
        self.pages.numbers().into_iter().flat_map(move |p| {
            let page = self.pages.get(p).unwrap_or(&[]);
            page.get(..DATA_REGION)
                .unwrap_or(&[])
                .iter()
                .enumerate()
                .flat_map(move |(k, &b)| {
                    (0..8u64)
                        .filter(move |bit| b & (128 >> bit) != 0)
                        .map(move |bit| (p * DATA_REGION as u64 + k as u64) * 8 + bit)
                })
                .filter(move |&i| i >= from)
        })
    }

    /// Whether any page changed since the last [`Bitfield::take_dirty`].
    pub fn is_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// The changed pages as `(file offset, page bytes)`, clearing the dirty set.
    pub fn take_dirty(&mut self) -> Vec<(u64, &[u8])> {
        let dirty = std::mem::take(&mut self.dirty);
        self.last_dirty = None;
        let header = crate::sleep::HEADER_LEN as u64;
        dirty
            .into_iter()
            .filter_map(|p| {
                let page = self.pages.get(p)?;
                Some((header + p * self.page_size as u64, page))
            })
            .collect()
    }

    /// Mark every allocated page dirty (after a repair that must reach the file).
    pub fn mark_all_dirty(&mut self) {
        self.dirty.extend(self.pages.numbers());
    }

    /// Number of allocated pages (the memory this bitfield holds is this × page size).
    pub fn allocated_pages(&self) -> usize {
        self.pages.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same(a: &Bitfield, b: &Bitfield) -> bool {
        let pages = a.pages.numbers();
        pages == b.pages.numbers()
            && pages.iter().all(|&p| a.pages.get(p) == b.pages.get(p))
            && (a.pager_len, a.data_bytes, a.tree_bytes, a.index_bytes)
                == (b.pager_len, b.data_bytes, b.tree_bytes, b.index_bytes)
            && a.dirty == b.dirty
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// `set_tree_leaves` against `TreeBits::set` on each leaf, from random tree bits
        /// (sparse and dense, either page size) and after earlier runs.
        #[test]
        fn set_tree_leaves_equals_setting_each_leaf(
            legacy in any::<bool>(),
            preset in proptest::collection::vec(0u64..70_000, 0..300),
            dense_to in 0u64..5000,
            runs in proptest::collection::vec((0u64..40_000, 0u64..3000), 1..5),
        ) {
            use crate::tree_index::TreeBits;
            let page_size = if legacy { 3328 } else { 3584 };
            let mut fast = Bitfield::from_pages(page_size, &[]);
            for i in 0..dense_to {
                TreeBits::set(&mut fast, 2 * i);
            }
            for n in preset {
                fast.set_tree_bit(n, true);
            }
            let mut slow = fast.clone();
            let before = fast.clone();
            fast.checkpoint();
            for &(start, len) in &runs {
                fast.set_tree_leaves(start, start + len);
            }
            fast.rollback();
            prop_assert!(same(&fast, &before), "rollback restores everything");
            for (start, len) in runs {
                fast.set_tree_leaves(start, start + len);
                for i in start..start + len {
                    TreeBits::set(&mut slow, 2 * i);
                }
                prop_assert!(same(&fast, &slow), "run {}..{}", start, start + len);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// `set_run` against the per-bit JS rule, from random loaded pages (either page size,
        /// some pages absent) and after earlier runs.
        #[test]
        fn set_run_equals_setting_each_bit(
            legacy in any::<bool>(),
            pages in proptest::collection::vec(
                prop_oneof![Just(None), proptest::collection::vec(any::<u8>(), 1..40).prop_map(Some)],
                0..4,
            ),
            dense in any::<bool>(),
            runs in proptest::collection::vec((0u64..40_000, 0u64..3000), 1..5),
        ) {
            let page_size = if legacy { 3328 } else { 3584 };
            let mut bytes = Vec::new();
            for page in &pages {
                let mut buf = vec![0u8; page_size];
                if let Some(fill) = page {
                    for (k, b) in buf.iter_mut().enumerate() {
                        let v = fill[k % fill.len()];
                        *b = if dense { v | 0x0f } else { v & fill[(k / 7) % fill.len()] };
                    }
                }
                bytes.extend_from_slice(&buf);
            }
            let mut fast = Bitfield::from_pages(page_size, &bytes);
            let mut slow = fast.clone();
            let before = fast.clone();
            fast.checkpoint();
            for &(start, len) in &runs {
                fast.set_run(start, start + len);
                fast.set_tree_bit(2 * start, true);
            }
            fast.rollback();
            prop_assert!(same(&fast, &before), "rollback restores everything");
            prop_assert_eq!(fast.allocated_pages(), before.allocated_pages());
            for (start, len) in runs {
                fast.set_run(start, start + len);
                for i in start..start + len {
                    slow.set(i, true);
                }
                prop_assert!(same(&fast, &slow), "run {}..{}", start, start + len);
            }
        }
    }

    /// Near the top of the index space, where climbing falls back to `flat_tree` (which
    /// saturates), and across the line where it switches: still the per-leaf result.
    #[test]
    fn set_tree_leaves_climbs_the_same_near_the_top_of_the_index_space() {
        use crate::tree_index::TreeBits;
        let edge = FAST_CLIMB_BELOW / 2;
        for (start, len) in [(edge - 40, 80), (edge - 1, 2), ((1 << 62) - 16, 33)] {
            let mut fast = Bitfield::new(3584);
            // Earlier leaves, so that the new ones close parents high above.
            for i in start - 300..start {
                TreeBits::set(&mut fast, 2 * i);
            }
            let mut slow = fast.clone();
            fast.set_tree_leaves(start, start + len);
            for i in start..start + len {
                TreeBits::set(&mut slow, 2 * i);
            }
            assert!(same(&fast, &slow), "{start}+{len}");
        }
    }

    #[test]
    fn feed1_page_matches_js() {
        // Three blocks appended in one batch: data bits 0..3, tree bits 0,2,4 + closure 1.
        let mut bf = Bitfield::new(3584);
        for i in 0..3 {
            bf.set(i, true);
        }
        for n in [0u64, 2, 1, 4] {
            bf.set_tree_bit(n, true);
        }
        let dirty = bf.take_dirty();
        assert_eq!(dirty.len(), 1);
        let (offset, page) = dirty[0];
        assert_eq!(offset, 32);
        assert_eq!(page[0], 0xe0);
        assert_eq!(page[1024], 0xe8);
        let set: Vec<usize> = (0..512).filter(|&k| page[3072 + k] != 0).collect();
        assert_eq!(set, vec![0, 1, 3, 7, 15, 31, 63, 127, 255, 511]);
        assert!(set.iter().all(|&k| page[3072 + k] == 0x40));
    }

    #[test]
    fn full_byte_gives_11_tuple_and_clear_reverts() {
        let mut bf = Bitfield::new(3584);
        for i in 0..8 {
            bf.set(i, true);
        }
        assert_eq!(bf.index_byte(0), 0xc0);
        assert_eq!(bf.total(0, 8), 8);
        assert_eq!(bf.total(3, 100), 5);
        bf.set(3, false);
        assert_eq!(bf.index_byte(0), 0x40);
        assert_eq!(bf.data_bytes_range(0, 8), vec![0xef]);
        assert_eq!(bf.data_bytes_range(1, 3), vec![0xc0]);
    }

    #[test]
    fn pages_load_padded_and_lengths_follow_js() {
        let mut bytes = vec![0u8; 3584 + 10];
        bytes[3584] = 0x80;
        let bf = Bitfield::from_pages(3584, &bytes);
        assert!(bf.get(8192));
        assert!(!bf.get(0));
        assert_eq!(bf.tree_len_bits(), 2 * 2048 * 8);
        assert_eq!(bf.data_len_bits(), 2 * 1024 * 8);
        assert_eq!(bf.allocated_pages(), 1);
    }
}

#[cfg(test)]
mod speed {
    use super::*;

    /// The bits of an append of 100k blocks in batches of 256, as the append benchmark sets
    /// them: `cargo test --release -p dat-core --lib bits_speed -- --ignored --nocapture`.
    /// Prints the best of 20 passes, per batch.
    #[test]
    #[ignore]
    fn bits_speed() {
        let batches = 400u64;
        let mut best = (f64::MAX, 0.0, 0.0);
        for _ in 0..20 {
            let mut bf = Bitfield::new(3584);
            let (mut run, mut tree, mut all) = (0.0, 0.0, 0.0);
            for b in 0..batches {
                let (s, e) = (b * 256, (b + 1) * 256);
                let t0 = std::time::Instant::now();
                bf.checkpoint();
                let t1 = std::time::Instant::now();
                bf.set_run(s, e);
                let t2 = std::time::Instant::now();
                bf.set_tree_leaves(s, e);
                let t3 = std::time::Instant::now();
                bf.commit();
                std::hint::black_box(bf.take_dirty().len());
                run += (t2 - t1).as_secs_f64();
                tree += (t3 - t2).as_secs_f64();
                all += t0.elapsed().as_secs_f64();
            }
            if all < best.0 {
                best = (all, run, tree);
            }
        }
        let us = |x: f64| x * 1e6 / batches as f64;
        eprintln!(
            "per batch of 256: {:.2} us (set_run {:.2}, set_tree_leaves {:.2})",
            us(best.0),
            us(best.1),
            us(best.2)
        );
    }
}
