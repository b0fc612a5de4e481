//! append-tree's algorithms (DAT-SPEC §5.4, §5.5) over any [`EntrySource`]: lookup, listing,
//! and the `paths` index a put or a delete must carry. Every algorithm starts at the head
//! entry of a version and fetches only the entries its index points at (about one per level
//! for a lookup, one directory's worth for a listing), so it works on a sparse feed where each
//! fetch may be a network request.

use std::sync::Arc;

use dat_core::FeedError;

use crate::error::{DriveError, EntryError};
use crate::name::{self, shared_prefix};
use crate::node::{Entry, EntryName};
use crate::paths::Paths;
use crate::stat::Stat;

/// Why an entry could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The entry's bytes do not decode.
    #[error(transparent)]
    Decode(#[from] EntryError),
    /// The feed could not provide the block.
    #[error(transparent)]
    Feed(#[from] FeedError),
}

/// Where the tree gets metadata entries: a feed (maybe sparse, maybe remote), or a `Vec` in
/// tests. Implementations should cache; the algorithms fetch the same entries repeatedly.
pub trait EntrySource {
    /// Entry `seq` (`seq >= 1`).
    fn entry(&self, seq: u64) -> Result<Arc<Entry>, SourceError>;

    /// The name of entry `seq`: scans of a directory compare only names, and in a wide
    /// directory each entry's index is as long as the directory, so a source that can decode
    /// a name without its index ([`EntryName::decode`]) should, and cache it.
    fn name(&self, seq: u64) -> Result<Arc<EntryName>, SourceError> {
        self.entry(seq).map(|e| Arc::new(EntryName::from(&*e)))
    }

    /// The sequence numbers in `level` (one level of an entry's index: the representatives of
    /// directory `dir`, ascending) whose component `dir.len()` is `target`, ascending. The
    /// default compares every name; a source may keep an index of wide directories.
    fn children_named(
        &self,
        dir: &[&str],
        level: &[u64],
        target: Option<&str>,
    ) -> Result<Vec<u64>, SourceError> {
        let mut out = Vec::new();
        for &seq in level {
            if self.name(seq)?.component(dir.len()) == target {
                out.push(seq);
            }
        }
        Ok(out)
    }
}

impl EntrySource for Vec<Arc<Entry>> {
    /// Entries stored at index `seq - 1` (entry 0 is the archive header).
    fn entry(&self, seq: u64) -> Result<Arc<Entry>, SourceError> {
        seq.checked_sub(1)
            .and_then(|i| self.get(usize::try_from(i).ok()?))
            .cloned()
            .ok_or(SourceError::Feed(FeedError::NotFound { index: seq }))
    }
}

/// One version of the tree: the algorithms of append-tree run from its head entry.
pub struct Tree<'a, S: ?Sized> {
    src: &'a S,
    head: Option<Arc<Entry>>,
    version: u64,
}

impl<'a, S: EntrySource + ?Sized> Tree<'a, S> {
    /// The tree as of `version` (the sequence of its head entry; 0 = empty tree).
    pub fn at(src: &'a S, version: u64) -> Result<Self, DriveError> {
        let mut tree = Self {
            src,
            head: None,
            version,
        };
        if version > 0 {
            tree.head = Some(tree.fetch(version, "/")?);
        }
        Ok(tree)
    }

    /// The version this tree shows.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The head entry (`None` for version 0).
    pub fn head(&self) -> Option<&Arc<Entry>> {
        self.head.as_ref()
    }

    fn fetch(&self, seq: u64, path: &str) -> Result<Arc<Entry>, DriveError> {
        self.src.entry(seq).map_err(|e| match e {
            SourceError::Decode(source) => DriveError::Entry {
                seq,
                version: self.version,
                path: path.to_string(),
                source,
            },
            SourceError::Feed(source) => DriveError::metadata(source),
        })
    }

    /// [`EntrySource::children_named`]; errors name the entry that failed and `path`.
    fn children(
        &self,
        dir: &[&str],
        level: &[u64],
        target: Option<&str>,
        path: &str,
    ) -> Result<Vec<u64>, DriveError> {
        match self.src.children_named(dir, level, target) {
            Ok(found) => Ok(found),
            Err(SourceError::Feed(source)) => Err(DriveError::metadata(source)),
            Err(SourceError::Decode(source)) => {
                // The source does not say which sibling failed: find it to name it.
                for &seq in level {
                    self.fetch_name(seq, path)?;
                }
                Err(DriveError::Entry {
                    seq: self.version,
                    version: self.version,
                    path: path.to_string(),
                    source,
                })
            }
        }
    }

    fn fetch_name(&self, seq: u64, path: &str) -> Result<Arc<EntryName>, DriveError> {
        self.src.name(seq).map_err(|e| match e {
            SourceError::Decode(source) => DriveError::Entry {
                seq,
                version: self.version,
                path: path.to_string(),
                source,
            },
            SourceError::Feed(source) => DriveError::metadata(source),
        })
    }

    fn corrupt(&self, seq: u64, path: &[&str], reason: &'static str) -> DriveError {
        DriveError::Tree {
            seq,
            path: name::join(path),
            reason,
        }
    }

    /// The entry named exactly `path` (a deletion too), append-tree `_get`.
    pub fn entry(&self, path: &str) -> Result<Option<Arc<Entry>>, DriveError> {
        let names = name::split(path);
        let Some(mut head) = self.head.clone() else {
            return Ok(None);
        };
        for _ in 0..names.len() + 2 {
            let cmp = shared_prefix(&names, &head.components);
            if cmp == head.components.len() && cmp == names.len() {
                return Ok(Some(head));
            }
            let Some(level) = head.paths.level(cmp) else {
                return Ok(None);
            };
            let level = match level.split_last() {
                Some((&last, rest)) if last == head.seq => rest,
                _ => level,
            };
            let target = names.get(cmp).copied();
            match self.children(&names[..cmp], level, target, path)?.first() {
                Some(&seq) => head = self.fetch(seq, path)?,
                None => return Ok(None),
            }
        }
        Err(self.corrupt(head.seq, &names, "lookup does not converge"))
    }

    /// The live Stat of the entry named `path`, if any (deletions are not found).
    pub fn get(&self, path: &str) -> Result<Option<Stat>, DriveError> {
        Ok(self.entry(path)?.and_then(|e| e.stat))
    }

    /// hyperdrive `stat`: the entry's Stat, or a synthetic directory Stat when `path` has
    /// children, or `None`. `/` always exists.
    pub fn stat(&self, path: &str) -> Result<Option<Stat>, DriveError> {
        if let Some(st) = self.get(path)? {
            return Ok(Some(st));
        }
        if name::split(path).is_empty() || !self.list(path)?.is_empty() {
            return Ok(Some(Stat::implied_directory()));
        }
        Ok(None)
    }

    /// append-tree `_list`: the representatives of `dir`'s children (one entry per child
    /// name, the newest under it), or empty if the directory does not exist. May include
    /// entries not deeper than `dir` (the entry named `dir` itself).
    pub fn representatives(&self, dir: &[&str]) -> Result<Vec<Arc<Entry>>, DriveError> {
        let Some(head) = self.representative_seqs(dir)? else {
            return Ok(Vec::new());
        };
        let seqs = head.paths.level(dir.len()).unwrap_or(&[]);
        let path = name::join(dir);
        seqs.iter()
            .map(|&s| {
                if s == head.seq {
                    Ok(head.clone())
                } else {
                    self.fetch(s, &path)
                }
            })
            .collect()
    }

    /// The names of [`Tree::representatives`], which is all a scan of a directory needs:
    /// no entry's index is decoded but the ones on the way to `dir`.
    pub fn representative_names(&self, dir: &[&str]) -> Result<Vec<Arc<EntryName>>, DriveError> {
        let Some(head) = self.representative_seqs(dir)? else {
            return Ok(Vec::new());
        };
        let seqs = head.paths.level(dir.len()).unwrap_or(&[]);
        let path = name::join(dir);
        seqs.iter().map(|&s| self.fetch_name(s, &path)).collect()
    }

    /// The walk of append-tree `_list`: from the head down to an entry under `dir`, whose
    /// index level `dir.len()` lists the representatives of `dir`; that entry.
    fn representative_seqs(&self, dir: &[&str]) -> Result<Option<Arc<Entry>>, DriveError> {
        let Some(mut head) = self.head.clone() else {
            return Ok(None);
        };
        let path = name::join(dir);
        for _ in 0..dir.len() + 2 {
            let cmp = shared_prefix(&head.components, dir);
            let level = head.paths.level(cmp).unwrap_or(&[]);
            if cmp == dir.len() {
                return Ok(Some(head));
            }
            if level.is_empty() || level == [head.seq] {
                return Ok(None);
            }
            let found = self.children(&dir[..cmp], level, Some(dir[cmp]), &path)?;
            let next = match found.into_iter().find(|&s| s != head.seq) {
                Some(seq) => Some(self.fetch_name(seq, &path)?),
                None => None,
            };
            match next {
                Some(n) if shared_prefix(&n.components, dir) > cmp => {
                    head = self.fetch(n.seq, &path)?;
                }
                Some(n) => {
                    return Err(self.corrupt(n.seq, dir, "index entry outside its directory"));
                }
                None => return Ok(None),
            }
        }
        Err(self.corrupt(head.seq, dir, "listing does not converge"))
    }

    /// append-tree `list` with nodes: the representatives strictly below `dir`, ascending by
    /// sequence.
    pub fn list(&self, dir: &str) -> Result<Vec<Arc<Entry>>, DriveError> {
        let names = name::split(dir);
        let mut reps = self.representatives(&names)?;
        reps.retain(|e| e.components.len() > names.len());
        Ok(reps)
    }

    /// hyperdrive `readdir`: child names of `dir` in index order, `None` if it does not
    /// exist (`/` always does).
    pub fn readdir(&self, dir: &str) -> Result<Option<Vec<String>>, DriveError> {
        let names = name::split(dir);
        let reps = self.representative_names(&names)?;
        if reps.is_empty() && !names.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            reps.iter()
                .filter_map(|e| e.component(names.len()))
                .filter(|c| *c != "." && *c != "..")
                .map(String::from)
                .collect(),
        ))
    }

    /// The `paths` index for putting `name` as entry `seq` on top of this version
    /// (append-tree `_put`, or `_init` on an empty tree).
    pub fn put_index(&self, name: &str, seq: u64) -> Result<Paths, DriveError> {
        let names = name::split(name);
        if self.head.is_none() {
            return Ok(Paths {
                levels: vec![vec![seq]; names.len() + 1],
            });
        }
        let mut levels = Vec::with_capacity(names.len() + 1);
        for i in 0..=names.len() {
            let mut level = self.level_without(&names, i, None)?;
            level.push(seq);
            levels.push(level);
        }
        Ok(Paths { levels })
    }

    /// The `paths` index for deleting `name` as entry `seq` (append-tree `_del`): only as
    /// many levels as directories that still hold something after the deletion.
    pub fn delete_index(&self, name: &str, seq: u64) -> Result<Paths, DriveError> {
        let names = name::split(name);
        let closest = self.closest_live(&names, name)?;
        let depth = closest.map_or(0, |c| shared_prefix(&names, &c)) + 1;
        let mut levels = Vec::with_capacity(depth);
        for i in 0..depth {
            let mut level = self.level_without(&names, i, Some(name))?;
            if i + 1 < depth {
                level.push(seq);
            }
            levels.push(level);
        }
        Ok(Paths { levels })
    }

    /// Sequence numbers of the representatives of `names[..i]` whose component `i` differs
    /// from `names[i]` (and, for deletions, not named `ignore`).
    fn level_without(
        &self,
        names: &[&str],
        i: usize,
        ignore: Option<&str>,
    ) -> Result<Vec<u64>, DriveError> {
        if ignore.is_none() {
            let Some(head) = self.representative_seqs(&names[..i])? else {
                return Ok(Vec::new());
            };
            let level = head.paths.level(i).unwrap_or(&[]);
            let path = name::join(names);
            let named = self.children(&names[..i], level, names.get(i).copied(), &path)?;
            // Index levels are ascending (deltas are unsigned): cut out the named children
            // and copy the runs between them.
            let mut out = Vec::with_capacity(level.len() + 1);
            let mut rest = level;
            for s in named {
                let lo = rest.partition_point(|&x| x < s);
                let hi = rest.partition_point(|&x| x <= s);
                out.extend_from_slice(&rest[..lo]);
                rest = &rest[hi..];
            }
            out.extend_from_slice(rest);
            return Ok(out);
        }
        let reps = self.representative_names(&names[..i])?;
        Ok(reps
            .iter()
            .filter(|e| e.component(i) != names.get(i).copied())
            .filter(|e| ignore != Some(e.name.as_str()))
            .map(|e| e.seq)
            .collect())
    }

    /// The newest entry showing that something other than `ignore` still exists, searching
    /// `names`' directories from the deepest up, as a name whose shared prefix with `names`
    /// gives the depth of the deletion index (append-tree `_del`'s `closest`).
    ///
    /// **Deliberate deviation from append-tree 2.4.4**: JS accepts only live entries here, so
    /// when every representative of a still-existing directory is a deletion entry (it keeps
    /// representing the directory, §5.4), JS cuts the index above that directory and the live
    /// files under it vanish from every later version (e.g. put /c/c/x, put /c/a/x, put
    /// /c/c/y, del /c/c/x, del /c/a/x: JS loses /c/c/y). When a directory has no live
    /// representative we also accept a deletion entry representing a sibling directory off the
    /// deleted path. Whenever JS finds a live entry the result, and so the bytes, are identical.
    fn closest_live(
        &self,
        names: &[&str],
        ignore: &str,
    ) -> Result<Option<Vec<String>>, DriveError> {
        for j in (0..=names.len()).rev() {
            let reps = self.representative_names(&names[..j])?;
            let live = reps
                .iter()
                .rev()
                .find(|e| e.name != ignore && e.live)
                .map(|e| e.components.clone());
            // A deletion entry representing a sibling directory off the deleted path: that
            // directory still holds live files (deletions stop representing a directory once
            // it is empty), and none of them is `ignore`.
            let found = live.or_else(|| {
                reps.iter()
                    .rev()
                    .find(|e| {
                        !e.live
                            && e.components.len() > j + 1
                            && e.component(j) != names.get(j).copied()
                    })
                    .map(|e| e.components[..=j].to_vec())
            });
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }
}
