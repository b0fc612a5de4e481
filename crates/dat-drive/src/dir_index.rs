//! Which representatives of a wide directory have a given child name, without scanning them.
//!
//! A lookup or a put scans one level of an entry's index (one sequence number per child of a
//! directory) for the child it names; in a folder of n files that is n name comparisons per
//! put. Consecutive versions list almost the same children, so this keeps, per directory, the
//! last level seen and a map from child name to sequence numbers, and brings it up to date with
//! the few sequence numbers that differ (a merge of two sorted lists, no name decoded) instead
//! of comparing every name again. The answer is the same as the scan's, duplicates included.

use std::collections::HashMap;

/// Levels shorter than this are scanned directly.
pub(crate) const MIN_INDEXED: usize = 64;

/// Most sequence numbers that may differ between the level indexed and the one asked about
/// before the index is rebuilt instead of updated.
const MAX_CHANGES: usize = 256;

/// Rough bytes per child held (level slot, map key and value).
const BYTES_PER_CHILD: usize = 96;

/// Child-name maps of a few wide directories, at most `budget` bytes.
#[derive(Debug)]
pub(crate) struct DirIndexes {
    dirs: HashMap<String, DirIndex>,
    budget: usize,
    tick: u64,
}

#[derive(Debug, Default)]
struct DirIndex {
    level: Vec<u64>,
    children: HashMap<Option<Box<str>>, Vec<u64>>,
    used: u64,
}

impl DirIndexes {
    /// Empty, holding at most `budget` bytes.
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            dirs: HashMap::new(),
            budget,
            tick: 0,
        }
    }

    /// The sequence numbers of `level` (ascending, the representatives of directory `dir`)
    /// whose component `depth` is `target`, ascending; `None` if the level is too small or
    /// too big to index. `component` gives an entry's component `depth`.
    pub(crate) fn children_named<E>(
        &mut self,
        dir: &str,
        depth: usize,
        level: &[u64],
        target: Option<&str>,
        mut component: impl FnMut(u64) -> Result<Option<Box<str>>, E>,
    ) -> Result<Option<Vec<u64>>, E> {
        let size = level.len() * BYTES_PER_CHILD;
        if level.len() < MIN_INDEXED || size > self.budget {
            return Ok(None);
        }
        self.tick += 1;
        let key = format!("{depth}:{dir}");
        if !self.dirs.contains_key(&key) {
            self.make_room(size);
        }
        let index = self.dirs.entry(key.clone()).or_default();
        index.used = self.tick;
        let updated = if index.level.as_slice() == level {
            Ok(true)
        } else {
            index.update(level, &mut component)
        };
        match updated {
            Ok(true) => {}
            Ok(false) => {
                index.rebuild(level, &mut component).inspect_err(|_| {
                    self.dirs.remove(&key);
                })?;
            }
            Err(e) => {
                self.dirs.remove(&key);
                return Err(e);
            }
        }
        let index = self.dirs.get(&key);
        Ok(Some(
            index
                .and_then(|i| i.children.get(&target.map(Box::from)))
                .cloned()
                .unwrap_or_default(),
        ))
    }

    fn make_room(&mut self, size: usize) {
        while self.bytes() + size > self.budget {
            let Some(oldest) = self
                .dirs
                .iter()
                .min_by_key(|(_, d)| d.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.dirs.remove(&oldest);
        }
    }

    fn bytes(&self) -> usize {
        self.dirs.values().map(|d| d.level.len()).sum::<usize>() * BYTES_PER_CHILD
    }
}

impl DirIndex {
    /// Apply the differences from the level held to `level`; `false` if there are too many.
    fn update<E>(
        &mut self,
        level: &[u64],
        component: &mut impl FnMut(u64) -> Result<Option<Box<str>>, E>,
    ) -> Result<bool, E> {
        let (mut removed, mut added) = (Vec::new(), Vec::new());
        let old = &self.level;
        // Versions differ in a few sequence numbers, usually near the end: skip the common
        // prefix and suffix at memcmp speed before merging what is left.
        let start = common_prefix(old, level);
        let (old_rest, new_rest) = (&old[start..], &level[start..]);
        let end = common_suffix(old_rest, new_rest);
        let (mut i, mut j) = (start, start);
        let (old_end, new_end) = (old.len() - end, level.len() - end);
        while i < old_end || j < new_end {
            if removed.len() + added.len() > MAX_CHANGES {
                return Ok(false);
            }
            match (old[..old_end].get(i), level[..new_end].get(j)) {
                (Some(a), Some(b)) if a == b => {
                    i += 1;
                    j += 1;
                }
                (Some(&a), Some(&b)) if a < b => {
                    removed.push(a);
                    i += 1;
                }
                (Some(&a), None) => {
                    removed.push(a);
                    i += 1;
                }
                (_, Some(&b)) => {
                    added.push(b);
                    j += 1;
                }
                (None, None) => break,
            }
        }
        for seq in removed {
            let name = component(seq)?;
            if let Some(seqs) = self.children.get_mut(&name) {
                seqs.retain(|&s| s != seq);
                if seqs.is_empty() {
                    self.children.remove(&name);
                }
            }
        }
        for seq in added {
            let seqs = self.children.entry(component(seq)?).or_default();
            let at = seqs.partition_point(|&s| s < seq);
            seqs.insert(at, seq);
        }
        self.level.clear();
        self.level.extend_from_slice(level);
        Ok(true)
    }

    fn rebuild<E>(
        &mut self,
        level: &[u64],
        component: &mut impl FnMut(u64) -> Result<Option<Box<str>>, E>,
    ) -> Result<(), E> {
        self.children.clear();
        self.level.clear();
        for &seq in level {
            self.children.entry(component(seq)?).or_default().push(seq);
        }
        self.level.extend_from_slice(level);
        Ok(())
    }
}

/// Length of the longest common prefix of `a` and `b`.
fn common_prefix(a: &[u64], b: &[u64]) -> usize {
    let mut n = 0;
    for (x, y) in a.chunks(64).zip(b.chunks(64)) {
        if x == y {
            n += x.len();
        } else {
            return n + x.iter().zip(y).take_while(|(p, q)| p == q).count();
        }
    }
    n
}

/// Length of the longest common suffix of `a` and `b`.
fn common_suffix(a: &[u64], b: &[u64]) -> usize {
    let mut n = 0;
    for (x, y) in a.rchunks(64).zip(b.rchunks(64)) {
        if x == y {
            n += x.len();
        } else {
            return n + x
                .iter()
                .rev()
                .zip(y.iter().rev())
                .take_while(|(p, q)| p == q)
                .count();
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_changes_and_keeps_duplicates() {
        let names: Vec<Option<Box<str>>> = (0..500u64)
            .map(|s| Some(format!("c{}", s % 300).into()))
            .collect();
        let comp = |s: u64| Ok::<_, ()>(names[s as usize].clone());
        let mut idx = DirIndexes::new(1 << 20);
        let level: Vec<u64> = (0..100).collect();
        let got = idx
            .children_named("/d", 1, &level, Some("c5"), comp)
            .unwrap();
        assert_eq!(got, Some(vec![5]));
        let level2: Vec<u64> = (1..100).chain([305, 350]).collect();
        let got = idx
            .children_named("/d", 1, &level2, Some("c5"), comp)
            .unwrap();
        assert_eq!(got, Some(vec![5, 305]));
        let got = idx
            .children_named("/d", 1, &level2, Some("c50"), comp)
            .unwrap();
        assert_eq!(got, Some(vec![50, 350]));
        let got = idx
            .children_named("/d", 1, &level2, Some("c0"), comp)
            .unwrap();
        assert_eq!(got, Some(vec![]));
        assert_eq!(
            idx.children_named("/d", 1, &level2[..10], None, comp),
            Ok(None)
        );
    }
}
