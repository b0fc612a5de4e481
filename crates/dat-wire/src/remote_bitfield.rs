//! Which blocks a peer says it has (from Have/Unhave), stored sparsely in 1 KiB pages of 8192
//! blocks and bounded: a peer claiming 2^40 blocks is refused, not believed into memory.

use std::collections::HashMap;

const PAGE_BYTES: usize = 1024;
const PAGE_BITS: u64 = 8 * PAGE_BYTES as u64;

/// Most pages held per peer: 16 MiB, 2^27 blocks.
pub const MAX_PAGES: usize = 16 * 1024;

/// The remote claimed more blocks than [`MAX_PAGES`] can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("remote bitfield would exceed {MAX_PAGES} pages")]
pub struct TooLarge;

/// A sparse bitfield, MSB-first within each byte like the wire format.
#[derive(Debug, Default, Clone)]
pub struct RemoteBitfield {
    pages: HashMap<u64, Box<[u8; PAGE_BYTES]>>,
}

impl RemoteBitfield {
    /// Whether bit `i` is set.
    pub fn get(&self, i: u64) -> bool {
        self.pages
            .get(&(i / PAGE_BITS))
            .is_some_and(|p| p[((i % PAGE_BITS) / 8) as usize] & (128 >> (i % 8)) != 0)
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

    /// Set `len` bits from `start`. Clearing never allocates.
    pub fn set_range(&mut self, start: u64, len: u64, value: bool) -> Result<(), TooLarge> {
        let end = start.checked_add(len).ok_or(TooLarge)?;
        let (first, last) = (start / PAGE_BITS, end.div_ceil(PAGE_BITS));
        if value && last - first > MAX_PAGES as u64 {
            return Err(TooLarge);
        }
        for p in first..last.min(first + MAX_PAGES as u64 + 1) {
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

    /// Overwrite bits from `start` (a multiple of 8192) with `bytes`, as JS `fill` does.
    pub fn fill(&mut self, start: u64, bytes: &[u8]) -> Result<(), TooLarge> {
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

    /// The first set bit in `from..end`, skipping absent pages.
    pub fn next_set(&self, from: u64, end: u64) -> Option<u64> {
        let mut i = from;
        while i < end {
            match self.pages.get(&(i / PAGE_BITS)) {
                None => i = (i / PAGE_BITS + 1) * PAGE_BITS,
                Some(page) => {
                    let bit = i % PAGE_BITS;
                    if page[(bit / 8) as usize] & (128 >> (bit % 8)) != 0 {
                        return Some(i);
                    }
                    i += 1;
                }
            }
        }
        None
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.pages.clear();
    }
}

/// One past the last set bit of `bytes` placed at `start`, if any bit is set.
pub fn last_set(start: u64, bytes: &[u8]) -> Option<u64> {
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
}
