//! A set of block indexes held as sorted, disjoint ranges: what a replicator downloads (its
//! selection) and where it has still to look for blocks to request. Membership and "the next
//! range from here" are binary searches, so a search passes over a gap of any size in one
//! step instead of one block at a time.

use std::ops::Range;

/// Sorted, disjoint, non-empty ranges that do not touch (touching ones are joined).
#[derive(Debug, Clone, Default)]
pub(crate) struct BlockRanges {
    ranges: Vec<Range<u64>>,
}

impl BlockRanges {
    /// The union of `ranges` (any order, overlapping or empty).
    pub(crate) fn new(ranges: impl IntoIterator<Item = Range<u64>>) -> Self {
        let mut sorted: Vec<Range<u64>> = ranges.into_iter().filter(|r| r.start < r.end).collect();
        sorted.sort_unstable_by_key(|r| r.start);
        let mut joined: Vec<Range<u64>> = Vec::with_capacity(sorted.len());
        for r in sorted {
            match joined.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => joined.push(r),
            }
        }
        Self { ranges: joined }
    }

    /// Add the blocks of `r`.
    pub(crate) fn insert(&mut self, r: Range<u64>) {
        if r.start >= r.end {
            return;
        }
        // Ranges i..j overlap or touch `r`.
        let i = self.ranges.partition_point(|x| x.end < r.start);
        let j = self.ranges.partition_point(|x| x.start <= r.end);
        if i == j {
            self.ranges.insert(i, r);
            return;
        }
        let start = r.start.min(self.ranges[i].start);
        let end = r.end.max(self.ranges[j - 1].end);
        self.ranges.drain(i + 1..j);
        self.ranges[i] = start..end;
    }

    /// Remove the blocks of `r`; returns how many were in the set.
    pub(crate) fn remove(&mut self, r: Range<u64>) -> u64 {
        if r.start >= r.end {
            return 0;
        }
        // Ranges i..j overlap `r`.
        let i = self.ranges.partition_point(|x| x.end <= r.start);
        let j = self.ranges.partition_point(|x| x.start < r.end);
        if i >= j {
            return 0;
        }
        let removed = self.ranges[i..j]
            .iter()
            .map(|x| x.end.min(r.end) - x.start.max(r.start))
            .sum();
        let left = self.ranges[i].start..r.start;
        let right = r.end..self.ranges[j - 1].end;
        let kept: Vec<Range<u64>> = [left, right]
            .into_iter()
            .filter(|x| x.start < x.end)
            .collect();
        self.ranges.splice(i..j, kept);
        removed
    }

    /// How many blocks of `r` are not in the set, and a range covering them.
    pub(crate) fn gaps(&self, r: Range<u64>) -> (u64, Option<Range<u64>>) {
        let mut count = 0;
        let (mut first, mut last) = (None, 0);
        let mut at = r.start;
        let i = self.ranges.partition_point(|x| x.end <= r.start);
        for x in self.ranges[i..].iter().take_while(|x| x.start < r.end) {
            if x.start > at {
                count += x.start - at;
                first.get_or_insert(at);
                last = x.start;
            }
            at = at.max(x.end);
        }
        if at < r.end {
            count += r.end - at;
            first.get_or_insert(at);
            last = r.end;
        }
        (count, first.map(|f| f..last))
    }

    /// The ranges, lowest first.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Range<u64>> {
        self.ranges.iter()
    }

    /// Whether block `i` is in the set.
    pub(crate) fn contains(&self, i: u64) -> bool {
        self.next_from(i).is_some_and(|r| r.start <= i)
    }

    /// The range holding `i`, or else the first one after it.
    pub(crate) fn next_from(&self, i: u64) -> Option<&Range<u64>> {
        self.ranges.get(self.ranges.partition_point(|r| r.end <= i))
    }

    /// The lowest range.
    pub(crate) fn first(&self) -> Option<&Range<u64>> {
        self.ranges.first()
    }

    /// Drop every block below `i`.
    pub(crate) fn remove_below(&mut self, i: u64) {
        let k = self.ranges.partition_point(|r| r.end <= i);
        self.ranges.drain(..k);
        if let Some(first) = self.ranges.first_mut() {
            first.start = first.start.max(i);
        }
    }

    /// Number of ranges.
    pub(crate) fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Drop everything.
    pub(crate) fn clear(&mut self) {
        self.ranges.clear();
    }

    /// Join the two neighbouring ranges closest together, the blocks between them included:
    /// keeps the set small when it only needs to cover its blocks, not be exact.
    pub(crate) fn join_closest(&mut self) {
        let closest =
            (1..self.ranges.len()).min_by_key(|&k| self.ranges[k].start - self.ranges[k - 1].end);
        if let Some(k) = closest {
            let end = self.ranges[k].end;
            self.ranges[k - 1].end = end;
            self.ranges.remove(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn joins_and_searches() {
        let mut s = BlockRanges::new([10..20, 5..5, 15..30, 40..50, 0..1]);
        assert_eq!(s.ranges, vec![0..1, 10..30, 40..50]);
        s.insert(30..35);
        s.insert(1..2);
        assert_eq!(s.ranges, vec![0..2, 10..35, 40..50]);
        assert_eq!(s.next_from(2), Some(&(10..35)));
        assert_eq!(s.next_from(34), Some(&(10..35)));
        assert_eq!(s.next_from(50), None);
        assert!(s.contains(40) && !s.contains(39) && !s.contains(50));
        s.join_closest();
        assert_eq!(s.ranges, vec![0..2, 10..50]);
        s.remove_below(12);
        assert_eq!(s.ranges, vec![12..50]);
        s.remove_below(50);
        assert_eq!(s.len(), 0);
        let mut s = BlockRanges::new([0..10, 20..30, 40..50]);
        assert_eq!(s.gaps(5..45), (20, Some(10..40)));
        assert_eq!(s.gaps(20..30), (0, None));
        assert_eq!(s.gaps(25..60), (20, Some(30..60)));
        assert_eq!(s.remove(5..45), 5 + 10 + 5);
        assert_eq!(s.ranges, vec![0..5, 45..50]);
        assert_eq!(s.remove(100..200), 0);
    }

    proptest! {
        #[test]
        fn matches_a_plain_set(
            ops in prop::collection::vec((0..300u64, 0..40u64, 0..3u8), 1..40),
        ) {
            let mut s = BlockRanges::default();
            let mut m = [false; 400];
            for (start, len, op) in ops {
                let r = start as usize..(start + len) as usize;
                let missing = m[r.clone()].iter().filter(|&&b| !b).count() as u64;
                let first = m[r.clone()].iter().position(|&b| !b).map(|k| start + k as u64);
                let last = m[r.clone()].iter().rposition(|&b| !b).map(|k| start + k as u64 + 1);
                let (count, hull) = s.gaps(start..start + len);
                prop_assert_eq!(count, missing);
                prop_assert_eq!(hull, first.zip(last).map(|(f, l)| f..l));
                match op {
                    0 => {
                        s.insert(start..start + len);
                        m[r].fill(true);
                    }
                    1 => {
                        let present = len - missing;
                        prop_assert_eq!(s.remove(start..start + len), present);
                        m[r].fill(false);
                    }
                    _ => {
                        s.remove_below(start);
                        m[..start as usize].fill(false);
                    }
                }
                for w in s.ranges.windows(2) {
                    prop_assert!(w[0].start < w[0].end && w[0].end < w[1].start);
                }
                for i in 0..400u64 {
                    prop_assert_eq!(s.contains(i), m[i as usize], "{}", i);
                    let next = (i..400).find(|&k| m[k as usize]);
                    prop_assert_eq!(s.next_from(i).map(|r| r.start.max(i)), next);
                }
            }
        }
    }
}
