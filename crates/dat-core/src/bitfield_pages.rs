//! The pages of a [`crate::bitfield::Bitfield`] in memory: page numbers below
//! [`DENSE_PAGES`] in a vector indexed by page number, higher ones (only a sparse clone has
//! them) in a map.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A page number hashed by multiplication: page numbers are dense small integers.
#[derive(Default)]
struct PageHasher(u64);

impl Hasher for PageHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type PageMap = HashMap<u64, Box<[u8]>, BuildHasherDefault<PageHasher>>;

/// Pages below this number live in a vector indexed by page number (the bit operations of an
/// append touch a few pages hundreds of times, and a vector index is the cheapest lookup);
/// higher ones, which only a sparse clone has, in a map. 65536 pages cover 2^29 blocks, and
/// the vector costs 16 bytes per page up to the highest one used.
const DENSE_PAGES: u64 = 1 << 16;

/// The allocated pages of a bitfield.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pages {
    dense: Vec<Option<Box<[u8]>>>,
    sparse: PageMap,
    pub(crate) count: usize,
}

impl Pages {
    pub(crate) fn get(&self, p: u64) -> Option<&[u8]> {
        if p < DENSE_PAGES {
            self.dense.get(p as usize)?.as_deref()
        } else {
            self.sparse.get(&p).map(|b| &b[..])
        }
    }

    pub(crate) fn contains(&self, p: u64) -> bool {
        self.get(p).is_some()
    }

    /// The page, allocated (zeroed) if absent.
    pub(crate) fn get_or_alloc(&mut self, p: u64, page_size: usize) -> &mut [u8] {
        let slot = if p < DENSE_PAGES {
            let i = p as usize;
            if self.dense.len() <= i {
                self.dense.resize_with(i + 1, || None);
            }
            &mut self.dense[i]
        } else {
            let count = &mut self.count;
            return self.sparse.entry(p).or_insert_with(|| {
                *count += 1;
                vec![0u8; page_size].into_boxed_slice()
            });
        };
        if slot.is_none() {
            self.count += 1;
        }
        slot.get_or_insert_with(|| vec![0u8; page_size].into_boxed_slice())
    }

    pub(crate) fn insert(&mut self, p: u64, page: Box<[u8]>) {
        let slot = self.get_or_alloc(p, page.len());
        slot.copy_from_slice(&page);
    }

    /// Put page `p` back as it was: `None` for absent.
    pub(crate) fn restore(&mut self, p: u64, old: Option<Box<[u8]>>) {
        let had = self.get(p).is_some();
        self.count = self.count + usize::from(old.is_some()) - usize::from(had);
        if p < DENSE_PAGES {
            if let Some(slot) = self.dense.get_mut(p as usize) {
                *slot = old;
            }
        } else if let Some(page) = old {
            self.sparse.insert(p, page);
        } else {
            self.sparse.remove(&p);
        }
    }

    /// Allocated page numbers, ascending.
    pub(crate) fn numbers(&self) -> Vec<u64> {
        let mut numbers: Vec<u64> = (0..self.dense.len() as u64)
            .filter(|&p| self.dense[p as usize].is_some())
            .collect();
        let mut high: Vec<u64> = self.sparse.keys().copied().collect();
        high.sort_unstable();
        numbers.extend(high);
        numbers
    }
}
