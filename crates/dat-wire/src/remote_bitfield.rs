//! Which blocks a peer says it has (from Have/Unhave), bounded: a peer claiming 2^40 blocks
//! is refused, not believed into memory.
//!
//! Bits at or past [`MAX_BLOCK_INDEX`] (2^53, beyond any JS feed) are ignored, so a Have near
//! the end of the u64 range neither overflows nor costs a page. Bits live in pages of 8192
//! blocks: runs of pages with every bit set are held as ranges of page numbers, pages with
//! some bits as 1 KiB of bytes in an ordered map, pages with none not at all. So a peer that
//! has everything costs a range, a Have or Unhave of any run (or an RLE bitfield's repeat
//! run) costs a few range operations whatever its length, finding the next advertised block
//! skips absent pages by the map, and every change reports which bits it newly set, so the
//! downloader looks only there for new blocks to request.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::ops::Range;

use dat_core::limits::MAX_BLOCK_INDEX;

use crate::block_ranges::BlockRanges;
use crate::rle::{self, RleError, Run};

const PAGE_BYTES: usize = 1024;
const PAGE_BITS: u64 = 8 * PAGE_BYTES as u64;

/// Most pages held per peer and feed (2^27 blocks; at most 16 MiB of partly set pages).
pub const MAX_PAGES: usize = 16 * 1024;

/// The remote claimed more blocks than [`MAX_PAGES`] can hold (or a range past 2^64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("remote bitfield would exceed {MAX_PAGES} pages")]
pub struct TooLarge;

/// Why an RLE Have bitfield was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FillError {
    /// It does not decode, or decodes to more bytes than allowed.
    #[error(transparent)]
    Rle(#[from] RleError),
    /// It needs more pages than a peer may hold.
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
}

/// What applying an RLE Have bitfield did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filled {
    /// A range covering every bit that was clear and is now set, if any.
    pub grown: Option<Range<u64>>,
    /// One past the highest bit the bitfield sets (below [`MAX_BLOCK_INDEX`]), if any.
    pub end: Option<u64>,
}

/// A page with some of its bits set, not all, and how many.
#[derive(Debug, Clone)]
struct Bits {
    ones: u32,
    bytes: Box<[u8; PAGE_BYTES]>,
}

/// The union of ranges, as they are added.
#[derive(Debug, Default)]
struct Grown(Option<Range<u64>>);

impl Grown {
    fn add(&mut self, r: Option<Range<u64>>) {
        if let Some(r) = r {
            self.0 = Some(match self.0.take() {
                Some(g) => g.start.min(r.start)..g.end.max(r.end),
                None => r,
            });
        }
    }
}

/// A sparse bitfield, MSB-first within each byte like the wire format.
#[derive(Debug, Default, Clone)]
pub struct RemoteBitfield {
    /// Page numbers of the pages with every bit set.
    full: BlockRanges,
    /// Pages with some bits set (never a page in `full`).
    some: BTreeMap<u64, Bits>,
    /// Pages in `full` and in `some`.
    held: usize,
}

impl RemoteBitfield {
    /// Whether bit `i` is set.
    pub fn get(&self, i: u64) -> bool {
        let p = i / PAGE_BITS;
        match self.some.get(&p) {
            Some(b) => b.bytes[((i % PAGE_BITS) / 8) as usize] & (128 >> (i % 8)) != 0,
            None => self.full.contains(p),
        }
    }

    /// Pages with a bit set (a full page costs no bytes, a partly set one 1 KiB); at most
    /// [`MAX_PAGES`].
    pub fn pages(&self) -> usize {
        self.held
    }

    /// Set `len` bits from `start`; bits from [`MAX_BLOCK_INDEX`] on are ignored. Clearing
    /// never allocates. Refused if `start + len` overflows or the bits need too many pages.
    /// Returns a range covering the bits that were clear and are now set, if any.
    pub fn set_range(
        &mut self,
        start: u64,
        len: u64,
        value: bool,
    ) -> Result<Option<Range<u64>>, TooLarge> {
        let end = start.checked_add(len).ok_or(TooLarge)?.min(MAX_BLOCK_INDEX);
        if start >= end {
            return Ok(None);
        }
        if value && end.div_ceil(PAGE_BITS) - start / PAGE_BITS > MAX_PAGES as u64 {
            return Err(TooLarge);
        }
        // A partial first page, whole pages, a partial last page.
        let mut grown = Grown::default();
        let mut at = start;
        while at < end {
            let p = at / PAGE_BITS;
            let base = p * PAGE_BITS;
            if at == base && end >= base + PAGE_BITS {
                let whole = p..end / PAGE_BITS;
                at = whole.end * PAGE_BITS;
                grown.add(self.set_pages(whole, value)?);
            } else {
                let hi = end.min(base + PAGE_BITS);
                grown.add(self.set_bits(p, at - base, hi - base, value)?);
                at = hi;
            }
        }
        Ok(grown.0)
    }

    /// Set or clear every bit of `pages`; returns the blocks newly set.
    fn set_pages(
        &mut self,
        pages: Range<u64>,
        value: bool,
    ) -> Result<Option<Range<u64>>, TooLarge> {
        let partial: Vec<u64> = self.some.range(pages.clone()).map(|(&p, _)| p).collect();
        if !value {
            let removed = self.full.remove(pages) as usize;
            for p in &partial {
                self.some.remove(p);
            }
            self.held -= removed + partial.len();
            return Ok(None);
        }
        // The partly set pages are among the pages not full yet, and held already.
        let (not_full, hull) = self.full.gaps(pages.clone());
        let new = not_full as usize - partial.len();
        if self.held + new > MAX_PAGES {
            return Err(TooLarge);
        }
        self.full.insert(pages);
        for p in &partial {
            self.some.remove(p);
        }
        self.held += new;
        Ok(hull.map(|h| h.start * PAGE_BITS..h.end * PAGE_BITS))
    }

    /// Page `p` as bytes to edit (a full page given its bytes, an absent one zeros); the
    /// edit ends with [`settle`](Self::settle).
    fn bits_mut(&mut self, p: u64) -> Result<&mut Bits, TooLarge> {
        match self.some.entry(p) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(v) => {
                let bits = if self.full.contains(p) {
                    self.full.remove(p..p + 1);
                    Bits {
                        ones: PAGE_BITS as u32,
                        bytes: Box::new([0xff; PAGE_BYTES]),
                    }
                } else if self.held >= MAX_PAGES {
                    return Err(TooLarge);
                } else {
                    self.held += 1;
                    Bits {
                        ones: 0,
                        bytes: Box::new([0; PAGE_BYTES]),
                    }
                };
                Ok(v.insert(bits))
            }
        }
    }

    /// After an edit of page `p`: drop it if no bit is left, hold it as full if all are set.
    fn settle(&mut self, p: u64) {
        match self.some.get(&p).map(|b| u64::from(b.ones)) {
            Some(0) => {
                self.some.remove(&p);
                self.held -= 1;
            }
            Some(PAGE_BITS) => {
                self.some.remove(&p);
                self.full.insert(p..p + 1);
            }
            _ => {}
        }
    }

    fn is_held(&self, p: u64) -> bool {
        self.some.contains_key(&p) || self.full.contains(p)
    }

    /// Set or clear bits `lo..hi` of page `p`; returns the blocks newly set.
    fn set_bits(
        &mut self,
        p: u64,
        lo: u64,
        hi: u64,
        value: bool,
    ) -> Result<Option<Range<u64>>, TooLarge> {
        if (value && self.full.contains(p)) || (!value && !self.is_held(p)) {
            return Ok(None);
        }
        let bits = self.bits_mut(p)?;
        let mut grown = Grown::default();
        for k in lo / 8..hi.div_ceil(8) {
            let from = lo.max(8 * k) - 8 * k;
            let to = hi.min(8 * k + 8) - 8 * k;
            let mask = (0xffu8 >> from) & !(0xffu16 >> to) as u8;
            let byte = &mut bits.bytes[k as usize];
            let old = *byte;
            *byte = if value { old | mask } else { old & !mask };
            bits.ones = bits.ones + byte.count_ones() - old.count_ones();
            if *byte & !old != 0 {
                grown.add(Some(8 * k..8 * k + 8));
            }
        }
        self.settle(p);
        let base = p * PAGE_BITS;
        Ok(grown.0.map(|g| base + g.start..base + g.end))
    }

    /// Overwrite bits from `start` (a multiple of 8) with `bytes`, as JS `fill` does; bytes
    /// from [`MAX_BLOCK_INDEX`] on are ignored. Returns a range covering the bits that were
    /// clear and are now set, if any.
    pub fn fill(&mut self, start: u64, bytes: &[u8]) -> Result<Option<Range<u64>>, TooLarge> {
        let room = MAX_BLOCK_INDEX.saturating_sub(start) / 8;
        let mut rest = &bytes[..bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX))];
        let mut grown = Grown::default();
        let mut at = start;
        while !rest.is_empty() {
            let p = at / PAGE_BITS;
            let offset = ((at % PAGE_BITS) / 8) as usize;
            let (chunk, tail) = rest.split_at(rest.len().min(PAGE_BYTES - offset));
            let unchanged = if self.full.contains(p) {
                chunk.iter().all(|&b| b == 0xff)
            } else {
                !self.some.contains_key(&p) && chunk.iter().all(|&b| b == 0)
            };
            if !unchanged {
                let bits = self.bits_mut(p)?;
                let mut new = None;
                for (k, &b) in chunk.iter().enumerate() {
                    let old = std::mem::replace(&mut bits.bytes[offset + k], b);
                    bits.ones = bits.ones + b.count_ones() - old.count_ones();
                    if b & !old != 0 {
                        let first = new.map_or(k, |(first, _)| first);
                        new = Some((first, k));
                    }
                }
                self.settle(p);
                if let Some((first, last)) = new {
                    grown.add(Some(at + 8 * first as u64..at + 8 * last as u64 + 8));
                }
            }
            at += 8 * chunk.len() as u64;
            rest = tail;
        }
        Ok(grown.0)
    }

    /// Apply an RLE Have bitfield from `start` (a multiple of 8192) decoding to at most `max`
    /// bytes, run by run: a repeat run costs what setting or clearing its range costs, not
    /// its length in bytes. Bits from [`MAX_BLOCK_INDEX`] on are ignored.
    pub fn fill_rle(
        &mut self,
        start: u64,
        encoded: &[u8],
        max: usize,
    ) -> Result<Filled, FillError> {
        // JS pads the decoded bitfield with zero bytes to a multiple of 4: they clear too.
        let padded = rle::decoded_len(encoded, max)? as u64;
        let mut filled = Filled::default();
        if start >= MAX_BLOCK_INDEX {
            return Ok(filled);
        }
        let mut grown = Grown::default();
        // Bytes decoded so far; the byte where they end, and the bytes left below 2^53.
        let mut done = 0u64;
        let place = |done: u64| {
            let at = start.saturating_add(done.saturating_mul(8));
            (at, MAX_BLOCK_INDEX.saturating_sub(at) / 8)
        };
        for run in rle::runs(encoded) {
            let (at, room) = place(done);
            if room == 0 {
                break;
            }
            match run? {
                Run::Repeat { ones, len } => {
                    grown.add(self.set_range(at, 8 * len.min(room), ones)?);
                    if ones && len > 0 {
                        filled.end = Some(at + 8 * len.min(room));
                    }
                    done = done.saturating_add(len);
                }
                Run::Literal(bytes) => {
                    grown.add(self.fill(at, bytes)?);
                    let seen =
                        &bytes[..bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX))];
                    if let Some(k) = seen.iter().rposition(|&b| b != 0) {
                        let last = u64::from(seen[k].trailing_zeros());
                        filled.end = Some(at + 8 * k as u64 + 8 - last);
                    }
                    done = done.saturating_add(bytes.len() as u64);
                }
            }
        }
        let (at, room) = place(done);
        if padded > done {
            self.set_range(at, 8 * (padded - done).min(room), false)?;
        }
        filled.grown = grown.0;
        Ok(filled)
    }

    /// The first set bit in `from..end`, visiting only the pages held.
    pub fn next_set(&self, from: u64, end: u64) -> Option<u64> {
        self.next_set_unless(from, end, &mut |_, _, _| 0, &mut 0)
    }

    /// The first set bit in `from..end` that `skip` does not exclude, a 64-bit word at a time
    /// over the pages held: `skip(at, end, bits)` is given the set bits of blocks
    /// `at..at + 64` in `from..end` (`at` a multiple of 64, MSB-first, never none) and the
    /// end of `from..end` in this page, and returns the bits to pass over. Adds the pages and
    /// words visited to `steps`.
    pub fn next_set_unless(
        &self,
        from: u64,
        end: u64,
        skip: &mut dyn FnMut(u64, u64, u64) -> u64,
        steps: &mut u64,
    ) -> Option<u64> {
        let end = end.min(MAX_BLOCK_INDEX);
        if from >= end {
            return None;
        }
        let last = end.div_ceil(PAGE_BITS);
        let mut p = from / PAGE_BITS;
        while p < last {
            *steps += 1;
            let some = self.some.range(p..last).next();
            let full = self.full.next_from(p).map(|r| r.start.max(p));
            let (q, bits) = match (some, full) {
                (Some((&s, bits)), f) if f.is_none_or(|f| s < f) => (s, Some(bits)),
                (_, Some(f)) if f < last => (f, None),
                _ => return None,
            };
            let base = q * PAGE_BITS;
            let (lo, hi) = (from.max(base) - base, end.min(base + PAGE_BITS) - base);
            for w in lo / 64..hi.div_ceil(64) {
                *steps += 1;
                let mut word = bits.map_or(u64::MAX, |b| {
                    let mut word = [0u8; 8];
                    word.copy_from_slice(&b.bytes[8 * w as usize..8 * w as usize + 8]);
                    u64::from_be_bytes(word)
                });
                if 64 * w < lo {
                    word &= u64::MAX >> (lo - 64 * w);
                }
                if 64 * w + 64 > hi {
                    word &= !(u64::MAX >> (hi - 64 * w));
                }
                if word != 0 {
                    word &= !skip(base + 64 * w, base + hi, word);
                }
                if word != 0 {
                    return Some(base + 64 * w + u64::from(word.leading_zeros()));
                }
            }
            p = q + 1;
        }
        None
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.full.clear();
        self.some.clear();
        self.held = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges_fill_and_bounds() {
        let mut r = RemoteBitfield::default();
        assert_eq!(r.set_range(3, 10, true), Ok(Some(0..16)));
        assert!(!r.get(2) && r.get(3) && r.get(12) && !r.get(13));
        assert_eq!(r.next_set(0, 100), Some(3));
        assert_eq!(r.set_range(5, 2, false), Ok(None));
        assert!(!r.get(5) && !r.get(6) && r.get(7));
        assert_eq!(r.fill(8192, &[0x80]), Ok(Some(8192..8200)));
        assert_eq!(r.next_set(13, 1 << 20), Some(8192));
        assert_eq!(r.set_range(0, 1 << 40, true), Err(TooLarge));
        assert_eq!(r.set_range(u64::MAX - 1, 5, true), Err(TooLarge));
        assert_eq!(r.set_range(0, 3 * 8192, true), Ok(Some(0..3 * 8192)));
        assert_eq!((r.pages(), r.some.len()), (3, 0));
        assert_eq!(r.set_range(100, 8192, true), Ok(None));
        let filled = r.fill_rle(0, &rle::encode(&[0xf8]), 1024).unwrap();
        assert_eq!(
            filled,
            Filled {
                grown: None,
                end: Some(5)
            }
        );
        // The byte and its zero padding overwrote bits 0..32.
        assert_eq!(r.next_set(0, 1 << 20), Some(0));
        assert_eq!(r.next_set(5, 1 << 20), Some(32));
        assert_eq!(r.fill_rle(0, &[], 16).unwrap(), Filled::default());
        assert_eq!(
            r.fill_rle(0, &[0x08, 1], 16),
            Err(FillError::Rle(RleError::Truncated { offset: 1, len: 4 }))
        );
    }

    /// Clearing one bit of a full page, then setting it again: the page goes to bytes and
    /// back, and the range of newly set bits is that bit's byte.
    #[test]
    fn full_pages_split_and_rejoin() {
        let mut r = RemoteBitfield::default();
        let enc = rle::encode(&vec![0xff; 4 * 1024 * 1024]);
        let filled = r.fill_rle(0, &enc, 4 * 1024 * 1024).unwrap();
        assert_eq!(filled.end, Some(1 << 25));
        assert_eq!(filled.grown, Some(0..1 << 25));
        assert_eq!((r.pages(), r.some.len(), r.full.len()), (4096, 0, 1));
        assert_eq!(r.set_range(70_000, 1, false), Ok(None));
        assert_eq!((r.pages(), r.some.len(), r.full.len()), (4096, 1, 2));
        assert_eq!(r.next_set(70_000, 1 << 25), Some(70_001));
        assert_eq!(r.set_range(70_000, 1, true), Ok(Some(70_000..70_008)));
        assert_eq!((r.pages(), r.some.len(), r.full.len()), (4096, 0, 1));
        assert_eq!(r.fill_rle(0, &enc, 4 * 1024 * 1024).unwrap().grown, None);
        assert_eq!(r.set_range(8191, 8194, false), Ok(None));
        assert_eq!((r.pages(), r.some.len()), (4095, 2));
    }

    #[test]
    fn next_set_matches_a_bit_by_bit_scan() {
        let mut r = RemoteBitfield::default();
        for &(s, l) in &[(0, 1), (7, 9), (8191, 2), (20_000, 300), (3 * 8192 + 5, 1)] {
            r.set_range(s, l, true).unwrap();
        }
        r.set_range(6 * 8192, 2 * 8192, true).unwrap();
        let end = 9 * 8192;
        for from in (0..end).step_by(37).chain([8191, 8192, 20_299, 20_300]) {
            for to in [from, from + 1, from + 9, 20_100, 7 * 8192 + 3, end] {
                let slow = (from..to).find(|&i| r.get(i));
                assert_eq!(r.next_set(from, to), slow, "{from}..{to}");
            }
        }
    }

    #[test]
    fn bits_past_2_pow_53_are_ignored() {
        let mut r = RemoteBitfield::default();
        let top = u64::MAX - 8191;
        assert_eq!(r.fill(top, &[0xff; 1024]), Ok(None));
        let filled = r.fill_rle(top, &rle::encode(&[0xff; 1024]), 1024).unwrap();
        assert_eq!(filled, Filled::default());
        r.set_range(MAX_BLOCK_INDEX - 1, 100, true).unwrap();
        assert_eq!(r.pages(), 1);
        assert!(r.get(MAX_BLOCK_INDEX - 1) && !r.get(MAX_BLOCK_INDEX));
        let mut bytes = vec![0; 1023];
        bytes.extend([1, 0xff]);
        let filled = r
            .fill_rle(MAX_BLOCK_INDEX - 8192, &rle::encode(&bytes), 2048)
            .unwrap();
        assert_eq!(filled.end, Some(MAX_BLOCK_INDEX));
        assert_eq!(r.next_set(0, u64::MAX), Some(MAX_BLOCK_INDEX - 1));
        let ones = rle::encode(&[0xff; 2048]);
        let filled = r.fill_rle(MAX_BLOCK_INDEX - 8192, &ones, 2048).unwrap();
        assert_eq!(filled.end, Some(MAX_BLOCK_INDEX));
        assert_eq!(r.pages(), 1);
        // Runs of 2^60 bytes under a bound of 2^62: clamped at 2^53, no overflow.
        let mut huge = Vec::new();
        dat_core::protobuf::write_varint(&mut huge, (1u64 << 60) << 2 | 3);
        let filled = r.fill_rle(MAX_BLOCK_INDEX - 8192, &huge, 1 << 62).unwrap();
        assert_eq!(filled.end, Some(MAX_BLOCK_INDEX));
        let mut zeros = Vec::new();
        dat_core::protobuf::write_varint(&mut zeros, (1u64 << 60) << 2 | 1);
        assert_eq!(r.fill_rle(0, &zeros, 1 << 62), Ok(Filled::default()));
        assert_eq!(r.pages(), 0);
    }

    /// Random Have/Unhave/fill sequences against a plain `Vec<bool>`: same bits, same search
    /// results, the reported newly set range covers every bit that went from 0 to 1, and
    /// every page is in its proper form (no empty page held, full pages without bytes).
    mod model {
        use super::*;

        const BITS: u64 = 4 * PAGE_BITS;

        #[derive(Debug, Clone)]
        enum Op {
            Set(u64, u64, bool),
            Fill(u64, Vec<u8>),
            Rle(u64, Vec<u8>),
        }

        fn op() -> impl Strategy<Value = Op> {
            let byte = prop_oneof![Just(0u8), Just(0xffu8), any::<u8>()];
            let bytes = (1..64usize, 0..97usize, byte.clone(), byte).prop_map(|(n, cut, a, b)| {
                (0..n * 40)
                    .map(|i| if i % 97 < cut { a } else { b })
                    .collect::<Vec<u8>>()
            });
            prop_oneof![
                (0..BITS, 0..3 * PAGE_BITS, any::<bool>()).prop_map(|(s, l, v)| Op::Set(s, l, v)),
                (0..4 * PAGE_BYTES as u64, bytes.clone()).prop_map(|(s, b)| Op::Fill(8 * s, b)),
                (0..4u64, bytes).prop_map(|(p, b)| Op::Rle(p * PAGE_BITS, b)),
            ]
        }

        fn write(m: &mut [bool], start: u64, bytes: &[u8]) {
            for (k, b) in bytes.iter().enumerate() {
                for bit in 0..8 {
                    if let Some(x) = m.get_mut(start as usize + 8 * k + bit) {
                        *x = b & (128 >> bit) != 0;
                    }
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn matches_a_plain_bitfield(ops in prop::collection::vec(op(), 1..24)) {
                let mut r = RemoteBitfield::default();
                let mut m = vec![false; 3 * BITS as usize];
                for op in ops {
                    let before = m.clone();
                    let grown = match &op {
                        Op::Set(s, l, v) => {
                            let end = (s + l) as usize;
                            m[*s as usize..end].fill(*v);
                            r.set_range(*s, *l, *v).unwrap()
                        }
                        Op::Fill(s, bytes) => {
                            write(&mut m, *s, bytes);
                            r.fill(*s, bytes).unwrap()
                        }
                        Op::Rle(s, bytes) => {
                            let enc = rle::encode(bytes);
                            let decoded = rle::decode(&enc, 1 << 20).unwrap();
                            write(&mut m, *s, &decoded);
                            let filled = r.fill_rle(*s, &enc, 1 << 20).unwrap();
                            let end = decoded
                                .iter()
                                .rposition(|&b| b != 0)
                                .map(|k| s + 8 * k as u64 + 8 - u64::from(decoded[k].trailing_zeros()));
                            prop_assert_eq!(filled.end, end);
                            filled.grown
                        }
                    };
                    for (i, (&b, &a)) in before.iter().zip(&m).enumerate() {
                        prop_assert_eq!(r.get(i as u64), a, "bit {} after {:?}", i, op);
                        if a && !b {
                            prop_assert!(
                                grown.as_ref().is_some_and(|g| g.contains(&(i as u64))),
                                "bit {} set by {:?} outside {:?}", i, op, grown
                            );
                        }
                    }
                    let mut held = 0;
                    for (&p, bits) in &r.some {
                        let count: u32 = bits.bytes.iter().map(|b| b.count_ones()).sum();
                        prop_assert_eq!(bits.ones, count, "page {}", p);
                        prop_assert!(count > 0 && u64::from(count) < PAGE_BITS, "page {}", p);
                        prop_assert!(!r.full.contains(p), "page {}", p);
                        held += 1;
                    }
                    held += r.full.iter().map(|x| x.end - x.start).sum::<u64>();
                    prop_assert_eq!(r.pages() as u64, held);
                    for from in (0..3 * BITS).step_by(1237) {
                        let slow = (from..3 * BITS).find(|&i| m[i as usize]);
                        prop_assert_eq!(r.next_set(from, 3 * BITS), slow);
                    }
                }
            }
        }
    }
}
