//! The files of the newest version of an archive, kept up to date entry by entry as the
//! metadata feed grows, and the content blocks they use. A clone in dat's "latest" mode
//! downloads only these blocks (hyperdrive `_trackLatest`): the working folder holds one
//! version of each file, so a block of an overwritten version has nowhere to go.

use std::collections::BTreeMap;
use std::ops::Range;

use dat_drive::{Archive, DriveError, Stat, name};

/// Name → Stat of every live file or directory entry, as of entry `scanned - 1`.
#[derive(Debug, Default)]
pub(crate) struct Latest {
    files: BTreeMap<String, Stat>,
    /// The next metadata entry to apply.
    scanned: u64,
}

impl Latest {
    /// Entries applied so far (the metadata length they reflect).
    pub(crate) fn scanned(&self) -> u64 {
        self.scanned
    }

    /// Apply entries `scanned..end` (all stored locally). Returns the content ranges of the
    /// entries they replaced or deleted: blocks that no longer belong to any live file.
    pub(crate) fn scan(
        &mut self,
        archive: &Archive,
        end: u64,
    ) -> Result<Vec<Range<u64>>, DriveError> {
        let mut dropped = Vec::new();
        for seq in self.scanned.max(1)..end {
            let entry = archive.entry_at(seq)?;
            // A name that cannot be a local path (hostile archive) is never downloaded.
            if name::safe_components(&entry.name).is_err() {
                continue;
            }
            let key = name::normalize(&entry.name).unwrap_or_else(|_| entry.name.clone());
            let old = match entry.stat {
                Some(st) => self.files.insert(key, st),
                None => self.files.remove(&key),
            };
            if let Some(old) = old.filter(|o| o.blocks() > 0) {
                dropped.push(old.offset()..old.offset().saturating_add(old.blocks()));
            }
        }
        self.scanned = self.scanned.max(end);
        Ok(dropped)
    }

    /// The content blocks of the live files, sorted and merged.
    pub(crate) fn content_ranges(&self) -> Vec<Range<u64>> {
        let mut ranges: Vec<Range<u64>> = self
            .files
            .values()
            .filter(|st| st.is_file() && st.blocks() > 0)
            .map(|st| st.offset()..st.offset().saturating_add(st.blocks()))
            .collect();
        merge(&mut ranges);
        ranges
    }

    /// Bytes of the live files.
    pub(crate) fn bytes(&self) -> u64 {
        self.files
            .values()
            .filter(|st| st.is_file())
            .map(Stat::size)
            .fold(0, u64::saturating_add)
    }

    /// The live entries.
    pub(crate) fn files(&self) -> impl Iterator<Item = (&String, &Stat)> {
        self.files.iter()
    }
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

    #[test]
    fn merge_sorts_and_joins() {
        let mut r = vec![5..7, 0..2, 2..3, 6..9, 10..10, 12..13];
        merge(&mut r);
        assert_eq!(r, vec![0..3, 5..9, 12..13]);
    }
}
