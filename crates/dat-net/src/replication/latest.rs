//! The content blocks the newest version of an archive needs, kept up to date as the
//! metadata feed grows. A clone in dat's "latest" mode downloads only these blocks
//! (hyperdrive `_trackLatest`): the working folder holds one version of each file, so a
//! block of an overwritten version has nowhere to go.
//!
//! Each scan runs append-tree's diff from the version scanned last to the new one: a put adds
//! its file's blocks, a deletion (or the older side of a replacement) drops them. Memory is
//! one directory listing at a time plus the merged block ranges, never a table of every file
//! (an archive of millions of files is cloned in the memory of its largest folder).
//!
//! Normal archives never let two files share blocks (content is only appended). A hostile or
//! odd one may; then subtracting a dropped file's blocks could drop a live file's too, so
//! once an overlap is seen every scan that drops anything recounts from the empty version.

use std::ops::Range;

use dat_drive::{Archive, ChangeKind, DriveError, name};

/// A run of content blocks of live files, and the bytes of those files.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Span {
    blocks: Range<u64>,
    bytes: u64,
}

/// The live files' content, as of metadata entry `scanned - 1`.
#[derive(Debug, Default)]
pub(crate) struct Latest {
    /// Sorted, disjoint, merged when touching.
    spans: Vec<Span>,
    /// Bytes of the live files.
    bytes: u64,
    /// The next metadata entry to apply.
    scanned: u64,
    /// Two live files were seen sharing blocks.
    overlap: bool,
}

impl Latest {
    /// Entries applied so far (the metadata length they reflect).
    pub(crate) fn scanned(&self) -> u64 {
        self.scanned
    }

    /// Apply entries `scanned..end` (all stored locally). Returns the content ranges that no
    /// longer belong to any live file.
    pub(crate) fn scan(
        &mut self,
        archive: &Archive,
        end: u64,
    ) -> Result<Vec<Range<u64>>, DriveError> {
        if end <= self.scanned.max(1) {
            self.scanned = self.scanned.max(end);
            return Ok(Vec::new());
        }
        let mut dropped = self.apply(archive, self.scanned.max(1) - 1, end - 1)?;
        if self.overlap && !dropped.is_empty() {
            *self = Self::default();
            self.apply(archive, 0, end - 1)?;
            // Only what no live file uses any more is dropped.
            let live: Vec<Range<u64>> = self.spans.iter().map(|s| s.blocks.clone()).collect();
            dropped = dropped
                .into_iter()
                .flat_map(|r| subtract(r, &live))
                .collect();
        }
        self.scanned = end;
        Ok(dropped)
    }

    /// Apply the diff from version `from` to version `to`; returns the dropped ranges.
    fn apply(
        &mut self,
        archive: &Archive,
        from: u64,
        to: u64,
    ) -> Result<Vec<Range<u64>>, DriveError> {
        let mut dropped = Vec::new();
        for change in archive.diff(from, to)? {
            let change = change?;
            // A name that cannot be a local path (hostile archive) is never downloaded.
            if name::safe_components(&change.name).is_err() {
                continue;
            }
            let Some(st) = change.stat.filter(|s| s.is_file()) else {
                continue;
            };
            let blocks = st.offset()..st.offset().saturating_add(st.blocks());
            match change.kind {
                ChangeKind::Put => {
                    self.bytes = self.bytes.saturating_add(st.size());
                    self.add(blocks, st.size());
                }
                ChangeKind::Del => {
                    self.bytes = self.bytes.saturating_sub(st.size());
                    self.remove(blocks.clone(), st.size());
                    if !blocks.is_empty() {
                        dropped.push(blocks);
                    }
                }
            }
        }
        Ok(dropped)
    }

    fn add(&mut self, blocks: Range<u64>, bytes: u64) {
        if blocks.is_empty() {
            return;
        }
        // The spans that touch or overlap `blocks` merge into one.
        let first = self.spans.partition_point(|s| s.blocks.end < blocks.start);
        let last = self.spans.partition_point(|s| s.blocks.start <= blocks.end);
        let mut merged = Span { blocks, bytes };
        for s in &self.spans[first..last] {
            if s.blocks.start < merged.blocks.end && merged.blocks.start < s.blocks.end {
                self.overlap = true;
            }
            merged.blocks.start = merged.blocks.start.min(s.blocks.start);
            merged.blocks.end = merged.blocks.end.max(s.blocks.end);
            merged.bytes = merged.bytes.saturating_add(s.bytes);
        }
        self.spans.splice(first..last, [merged]);
    }

    /// Take `blocks` (a file of `bytes`) out; the rest of a span it was merged into keeps
    /// the span's other bytes, shared by block count when the span splits in two.
    fn remove(&mut self, blocks: Range<u64>, bytes: u64) {
        if blocks.is_empty() {
            return;
        }
        let first = self.spans.partition_point(|s| s.blocks.end <= blocks.start);
        let last = self.spans.partition_point(|s| s.blocks.start < blocks.end);
        let mut pieces = Vec::new();
        let mut bytes_left = bytes;
        for s in &self.spans[first..last] {
            let inside = s.blocks.start.max(blocks.start)..s.blocks.end.min(blocks.end);
            let taken = bytes_left.min(s.bytes);
            bytes_left -= taken;
            let rest = s.bytes - taken;
            let left = s.blocks.start..inside.start;
            let right = inside.end..s.blocks.end;
            let (l, r) = (len(&left), len(&right));
            let left_bytes = if l + r == 0 {
                0
            } else {
                u64::try_from(u128::from(rest) * u128::from(l) / u128::from(l + r)).unwrap_or(rest)
            };
            if l > 0 {
                pieces.push(Span {
                    blocks: left,
                    bytes: left_bytes,
                });
            }
            if r > 0 {
                pieces.push(Span {
                    blocks: right,
                    bytes: rest - left_bytes,
                });
            }
        }
        self.spans.splice(first..last, pieces);
    }

    /// The content blocks of the live files, sorted and merged.
    pub(crate) fn content_ranges(&self) -> Vec<Range<u64>> {
        self.spans.iter().map(|s| s.blocks.clone()).collect()
    }

    /// Bytes of the live files.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Bytes of the live files stored, given how many blocks of a range are stored:
    /// prorated by blocks within each span, scaled to the exact total (a span's own byte
    /// count is an estimate once a removal split it).
    pub(crate) fn stored_bytes(&self, mut stored: impl FnMut(Range<u64>) -> u64) -> u64 {
        let (mut have, mut all) = (0u128, 0u128);
        for s in &self.spans {
            let n = stored(s.blocks.clone()).min(len(&s.blocks));
            have += u128::from(s.bytes) * u128::from(n) / u128::from(len(&s.blocks));
            all += u128::from(s.bytes);
        }
        if all == 0 {
            return 0;
        }
        u64::try_from(u128::from(self.bytes) * have / all).unwrap_or(self.bytes)
    }
}

fn len(r: &Range<u64>) -> u64 {
    r.end.saturating_sub(r.start)
}

/// `r` minus the sorted disjoint `live` ranges.
fn subtract(r: Range<u64>, live: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    let mut start = r.start;
    for l in live {
        if l.end <= start || l.start >= r.end {
            continue;
        }
        if l.start > start {
            out.push(start..l.start);
        }
        start = start.max(l.end);
    }
    if start < r.end {
        out.push(start..r.end);
    }
    out
}

/// Sort `ranges` and merge overlapping or touching ones.
pub(crate) fn merge(ranges: &mut Vec<Range<u64>>) {
    ranges.retain(|r| !r.is_empty());
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges.drain(..) {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    *ranges = out;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn merge_sorts_and_joins() {
        let mut r = vec![5..7, 0..2, 2..3, 6..9, 10..10, 12..13];
        merge(&mut r);
        assert_eq!(r, vec![0..3, 5..9, 12..13]);
    }

    #[test]
    fn subtract_ranges() {
        assert_eq!(subtract(0..10, &[2..3, 5..7]), vec![0..2, 3..5, 7..10]);
        assert_eq!(subtract(3..6, &[0..4, 5..9]), vec![4..5]);
        assert_eq!(
            subtract(3..6, std::slice::from_ref(&(0..9))),
            Vec::<Range<u64>>::new()
        );
    }

    /// Spans against a table of files, through random puts and removes of disjoint files.
    #[test]
    fn spans_follow_a_table_of_files() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut latest = Latest::default();
        let mut table: BTreeMap<u64, (u64, u64)> = BTreeMap::new(); // start -> (end, bytes)
        let mut next = 0u64;
        for _ in 0..5000 {
            if table.is_empty() || rnd(3) > 0 {
                let n = rnd(4);
                let bytes = n * 1000 + rnd(1000);
                latest.add(next..next + n, bytes);
                if n > 0 {
                    table.insert(next, (next + n, bytes));
                }
                next += n + rnd(2); // sometimes a gap (a block of an older version)
            } else {
                let k = *table
                    .keys()
                    .nth(rnd(table.len() as u64) as usize)
                    .unwrap_or(&0);
                let (end, bytes) = table.remove(&k).unwrap_or((k, 0));
                latest.remove(k..end, bytes);
            }
            let mut want: Vec<Range<u64>> = table.iter().map(|(s, (e, _))| *s..*e).collect();
            merge(&mut want);
            assert_eq!(latest.content_ranges(), want);
            let total: u64 = table.values().map(|(_, b)| b).sum();
            latest.bytes = total; // kept by `apply` beside the spans
            assert_eq!(latest.stored_bytes(|r| len(&r)), total);
            assert_eq!(latest.stored_bytes(|_| 0), 0);
            assert!(!latest.overlap);
        }
    }

    #[test]
    fn overlapping_files_are_noticed() {
        let mut latest = Latest::default();
        latest.add(0..4, 4000);
        latest.add(4..6, 2000);
        assert!(!latest.overlap);
        latest.add(5..8, 3000);
        assert!(latest.overlap);
    }
}
