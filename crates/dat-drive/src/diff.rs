//! append-tree `diff` (DAT-SPEC §5.5): what changed between two versions, found by walking
//! both trees' directory listings from `/` and skipping children whose representative entry
//! is the same in both (same sequence number = identical subtree). Lazy: one directory is
//! compared per step, so memory is one directory's listing plus the queue of directories.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use crate::error::DriveError;
use crate::name;
use crate::node::Entry;
use crate::stat::Stat;
use crate::tree::{EntrySource, Tree};

/// Whether a diff record adds or removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeKind {
    /// The entry is in the newer version but not the older.
    Put,
    /// The entry is in the older version but not the newer.
    Del,
}

/// One record of a diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Put or del.
    pub kind: ChangeKind,
    /// The entry's name.
    pub name: String,
    /// The entry's sequence number (the version that wrote it).
    pub seq: u64,
    /// The entry's Stat (`None` for a deletion entry).
    pub stat: Option<Stat>,
}

/// Iterator over the changes from one version to another (append-tree `diff(to)` run on the
/// `from` tree: puts are entries of `to`, dels entries of `from`).
pub struct Diff<'a, S: ?Sized> {
    from: Tree<'a, S>,
    to: Tree<'a, S>,
    queue: Vec<String>,
    pending: VecDeque<Change>,
    force_visit: HashSet<String>,
}

impl<'a, S: EntrySource + ?Sized> Diff<'a, S> {
    /// Changes from `from` to `to`.
    pub fn new(from: Tree<'a, S>, to: Tree<'a, S>) -> Self {
        let mut force_visit = HashSet::new();
        if let Some(head) = to.head().filter(|h| h.is_deletion()) {
            // A deletion at the head changes its ancestors' listings even where the
            // representatives compare equal; JS visits them all.
            let parts: Vec<&str> = head.name.split('/').collect();
            for i in 0..parts.len() {
                let dir = parts[..i].join("/");
                force_visit.insert(if dir.is_empty() { "/".to_string() } else { dir });
            }
        }
        Self {
            from,
            to,
            queue: vec!["/".to_string()],
            pending: VecDeque::new(),
            force_visit,
        }
    }

    fn visit(&mut self, dir: &str) -> Result<(), DriveError> {
        let a = self.to.list(dir)?;
        let b = self.from.list(dir)?;
        let names = name::split(dir);
        let depth = names.len();
        // Only directories one level below `dir` are queued: a hostile index can list
        // entries from anywhere, and following those could revisit directories forever.
        let mut visited = HashSet::new();
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            if a[i].seq == b[j].seq {
                let sub = parse_dir(depth, &a[i]);
                if self.force_visit.contains(&sub)
                    && is_child(&names, &sub)
                    && visited.insert(sub.clone())
                {
                    self.queue.push(sub);
                }
                i += 1;
                j += 1;
            } else if a[i].seq < b[j].seq {
                self.push(&names, ChangeKind::Put, &a[i], &mut visited);
                i += 1;
            } else {
                self.push(&names, ChangeKind::Del, &b[j], &mut visited);
                j += 1;
            }
        }
        for e in &a[i..] {
            self.push(&names, ChangeKind::Put, e, &mut visited);
        }
        for e in &b[j..] {
            self.push(&names, ChangeKind::Del, e, &mut visited);
        }
        Ok(())
    }

    fn push(
        &mut self,
        dir: &[&str],
        kind: ChangeKind,
        e: &Arc<Entry>,
        visited: &mut HashSet<String>,
    ) {
        let sub = parse_dir(dir.len(), e);
        if e.name == sub {
            self.pending.push_back(Change {
                kind,
                name: e.name.clone(),
                seq: e.seq,
                stat: e.stat,
            });
        }
        if is_child(dir, &sub) && visited.insert(sub.clone()) {
            self.queue.push(sub);
        }
    }
}

/// Whether `sub` is a directory one level below `dir`, so every directory is visited once
/// (`/b//x` gives `/b/`, which is `/b` again).
fn is_child(dir: &[&str], sub: &str) -> bool {
    let names = name::split(sub);
    names.len() == dir.len() + 1 && names[..dir.len()] == *dir
}

/// The child of a directory `depth` components deep that `e` lies in.
fn parse_dir(depth: usize, e: &Entry) -> String {
    let end = (depth + 1).min(e.components.len());
    name::join(&e.components[..end])
}

impl<S: EntrySource + ?Sized> Iterator for Diff<'_, S> {
    type Item = Result<Change, DriveError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(c) = self.pending.pop_front() {
                return Some(Ok(c));
            }
            let dir = self.queue.pop()?;
            if let Err(e) = self.visit(&dir) {
                self.queue.clear();
                return Some(Err(e));
            }
        }
    }
}
