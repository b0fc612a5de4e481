//! Which blocks a peer says it has (from Have/Unhave), stored sparsely in 1 KiB pages of 8192
//! blocks and bounded: a peer claiming 2^40 blocks is refused, not believed into memory.
//!
//! Bits at or past [`MAX_BLOCK_INDEX`] (2^53, beyond any JS feed) are ignored, so a Have near
//! the end of the u64 range neither overflows nor costs a page. Pages are kept in order, so
//! finding the next advertised block skips absent pages by the map, not one by one: a peer
//! advertising blocks 0 and 2^53 - 1 costs two pages and a lookup, not 2^40 steps.

use std::collections::BTreeMap;

use dat_core::limits::MAX_BLOCK_INDEX;

const PAGE_BYTES: usize = 1024;
const PAGE_BITS: u64 = 8 * PAGE_BYTES as u64;

/// Most pages held per peer and feed: 16 MiB, 2^27 blocks.
pub const MAX_PAGES: usize = 16 * 1024;

/// The remote claimed more blocks than [`MAX_PAGES`] can hold (or a range past 2^64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("remote bitfield would exceed {MAX_PAGES} pages")]
pub struct TooLarge;

/// A sparse bitfield, MSB-first within each byte like the wire format.
#[derive(Debug, Default, Clone)]
pub struct RemoteBitfield {
    pages: BTreeMap<u64, Box<[u8; PAGE_BYTES]>>,
}

impl RemoteBitfield {
    /// Whether bit `i` is set.
    pub fn get(&self, i: u64) -> bool {
        self.pages
            .get(&(i / PAGE_BITS))
            .is_some_and(|p| p[((i % PAGE_BITS) / 8) as usize] & (128 >> (i % 8)) != 0)
    }

    /// Pages held (each [`PAGE_BYTES`] bytes plus a map entry); at most [`MAX_PAGES`].
    pub fn pages(&self) -> usize {
        self.pages.len()
    }

    fn page(&mut self, p: u64) -> Result<&mut [u8; PAGE_BYTES], TooLarge> {
        if !self.pages.contains_key(&p) && self.pages.len() >= MAX_PAGES {
            return Err(TooLarge);
        }
        Ok(self
            .pages
            .entry(p)
            .or_insert_with(|| Box::new([0; PAGE_BYTES])))
    }

    /// Set `len` bits from `start`; bits from [`MAX_BLOCK_INDEX`] on are ignored. Clearing
    /// never allocates. Refused if `start + len` overflows or the bits need too many pages.
    pub fn set_range(&mut self, start: u64, len: u64, value: bool) -> Result<(), TooLarge> {
        let end = start.checked_add(len).ok_or(TooLarge)?.min(MAX_BLOCK_INDEX);
        if start >= end {
            return Ok(());
        }
        let (first, last) = (start / PAGE_BITS, end.div_ceil(PAGE_BITS));
        if value && last - first > MAX_PAGES as u64 {
            return Err(TooLarge);
        }
        for p in first..last {
            if !value && !self.pages.contains_key(&p) {
                continue;
            }
            let page = self.page(p)?;
            let lo = start.max(p * PAGE_BITS) - p * PAGE_BITS;
            let hi = end.min((p + 1) * PAGE_BITS) - p * PAGE_BITS;
            for bit in lo..hi {
                let (byte, mask) = ((bit / 8) as usize, 128u8 >> (bit % 8));
                if value {
                    page[byte] |= mask;
                } else {
                    page[byte] &= !mask;
                }
            }
        }
        Ok(())
    }

    /// Overwrite bits from `start` (a multiple of 8192) with `bytes`, as JS `fill` does;
    /// bytes from [`MAX_BLOCK_INDEX`] on are ignored.
    pub fn fill(&mut self, start: u64, bytes: &[u8]) -> Result<(), TooLarge> {
        let room = MAX_BLOCK_INDEX.saturating_sub(start) / 8;
        let bytes = &bytes[..bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX))];
        let first = start / PAGE_BITS;
        for (k, chunk) in bytes.chunks(PAGE_BYTES).enumerate() {
            let p = first + k as u64;
            if chunk.iter().all(|&b| b == 0) && !self.pages.contains_key(&p) {
                continue;
            }
            self.page(p)?[..chunk.len()].copy_from_slice(chunk);
        }
        Ok(())
    }

    /// The first set bit in `from..end`, visiting only the pages held.
    pub fn next_set(&self, from: u64, end: u64) -> Option<u64> {
        let end = end.min(MAX_BLOCK_INDEX);
        if from >= end {
            return None;
        }
        for (&p, page) in self.pages.range(from / PAGE_BITS..end.div_ceil(PAGE_BITS)) {
            let base = p * PAGE_BITS;
            let lo = from.max(base) - base;
            let hi = end.min(base + PAGE_BITS) - base;
            if let Some(bit) = first_set_in_page(page, lo, hi) {
                return Some(base + bit);
            }
        }
        None
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.pages.clear();
    }
}

/// The first set bit of `page` in `lo..hi` (bit offsets within the page), a byte at a time.
fn first_set_in_page(page: &[u8; PAGE_BYTES], lo: u64, hi: u64) -> Option<u64> {
    let mut bit = lo;
    while bit < hi {
        let byte = page[(bit / 8) as usize] & (0xff >> (bit % 8));
        if byte == 0 {
            bit = (bit / 8 + 1) * 8;
            continue;
        }
        let found = (bit / 8) * 8 + u64::from(byte.leading_zeros());
        return (found < hi).then_some(found);
    }
    None
}

/// One past the last set bit of `bytes` placed at `start`, if any bit below
/// [`MAX_BLOCK_INDEX`] is set (the bits past it are ignored, as [`RemoteBitfield::fill`]
/// ignores them).
pub fn last_set(start: u64, bytes: &[u8]) -> Option<u64> {
    let room = MAX_BLOCK_INDEX.saturating_sub(start) / 8;
    let bytes = &bytes[..bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX))];
    let (i, &b) = bytes.iter().enumerate().rev().find(|(_, b)| **b != 0)?;
    Some(start + 8 * i as u64 + (8 - u64::from(b.trailing_zeros())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_fill_and_bounds() {
        let mut r = RemoteBitfield::default();
        r.set_range(3, 10, true).unwrap();
        assert!(!r.get(2) && r.get(3) && r.get(12) && !r.get(13));
        assert_eq!(r.next_set(0, 100), Some(3));
        r.set_range(5, 2, false).unwrap();
        assert!(!r.get(5) && !r.get(6) && r.get(7));
        r.fill(8192, &[0x80]).unwrap();
        assert_eq!(r.next_set(13, 1 << 20), Some(8192));
        assert_eq!(r.set_range(0, 1 << 40, true), Err(TooLarge));
        assert_eq!(r.set_range(u64::MAX - 1, 5, true), Err(TooLarge));
        assert_eq!(last_set(8, &[0xf8]), Some(13));
        assert_eq!(last_set(0, &[0, 0]), None);
    }

    #[test]
    fn next_set_matches_a_bit_by_bit_scan() {
        let mut r = RemoteBitfield::default();
        for &(s, l) in &[(0, 1), (7, 9), (8191, 2), (20_000, 300), (3 * 8192 + 5, 1)] {
            r.set_range(s, l, true).unwrap();
        }
        let end = 5 * 8192;
        for from in (0..end).step_by(37).chain([8191, 8192, 20_299, 20_300]) {
            for to in [from, from + 1, from + 9, 20_100, end] {
                let slow = (from..to).find(|&i| r.get(i));
                assert_eq!(r.next_set(from, to), slow, "{from}..{to}");
            }
        }
    }

    #[test]
    fn bits_past_2_pow_53_are_ignored() {
        let mut r = RemoteBitfield::default();
        let top = u64::MAX - 8191;
        r.fill(top, &[0xff; 1024]).unwrap();
        r.set_range(MAX_BLOCK_INDEX - 1, 100, true).unwrap();
        assert_eq!(r.pages(), 1);
        assert!(r.get(MAX_BLOCK_INDEX - 1) && !r.get(MAX_BLOCK_INDEX));
        assert_eq!(last_set(top, &[0xff; 1024]), None);
        assert_eq!(
            last_set(MAX_BLOCK_INDEX - 8, &[1, 0xff]),
            Some(MAX_BLOCK_INDEX)
        );
        assert_eq!(r.next_set(0, u64::MAX), Some(MAX_BLOCK_INDEX - 1));
    }
}
