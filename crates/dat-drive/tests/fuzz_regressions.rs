//! Inputs the fuzzers (`fuzz/`) found, each kept as a test: a readable case per bug, and a
//! replay of the seed corpus and every saved input of this crate's fuzz targets.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use dat_drive::tree::{EntrySource, SourceError, Tree};
use dat_drive::{Diff, Entry};

/// Metadata blocks decoded on each fetch (entry `seq` is block `seq - 1`).
struct Blocks(Vec<Vec<u8>>);

impl EntrySource for Blocks {
    fn entry(&self, seq: u64) -> Result<Arc<Entry>, SourceError> {
        let bytes = self
            .0
            .get(seq as usize - 1)
            .ok_or(dat_core::FeedError::NotFound { index: seq })?;
        Ok(Arc::new(Entry::decode(seq, bytes)?))
    }
}

/// Blocks behind 2-byte little-endian lengths, as the drive_tree target reads them.
fn unpack(mut input: &[u8]) -> Blocks {
    let mut blocks = Vec::new();
    while input.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([input[0], input[1]])).min(input.len() - 2);
        blocks.push(input[2..2 + len].to_vec());
        input = &input[2 + len..];
    }
    Blocks(blocks)
}

/// drive_tree: among 24 hostile entries, `/b//xa.f` is listed under `/b`; the directory diff
/// queued for it, `/b/`, is `/b` again, so diff listed `/b` forever (16k changes before the
/// target gave up). Entries listed outside their directory could loop the same way.
#[test]
fn diff_ends_on_hostile_index_entries() {
    let src = unpack(include_bytes!(
        "../../../fuzz/regressions/drive_tree/diff-loops-outside-dir"
    ));
    assert_eq!(src.0.len(), 24);
    let diff = Diff::new(Tree::at(&src, 0).unwrap(), Tree::at(&src, 24).unwrap());
    let changes: Vec<_> = diff.take(1000).collect();
    assert!(changes.len() < 100, "{} changes", changes.len());
    let puts = changes
        .iter()
        .filter(|c| matches!(c, Ok(c) if c.name == "/b/x.f"))
        .count();
    assert_eq!(puts, 1);
}

#[path = "../../../fuzz/replay.rs"]
mod replay;
use replay::{EntryPoint, replay};

/// The seed corpus and every saved crash input of the dat-drive targets run cleanly on stable.
#[test]
fn saved_fuzz_inputs_replay() {
    let targets: [(&str, EntryPoint); 7] = [
        ("drive_stat", dat_drive::fuzzing::stat),
        ("drive_index_header", dat_drive::fuzzing::index_header),
        ("drive_node", dat_drive::fuzzing::node),
        ("drive_paths", dat_drive::fuzzing::paths),
        ("drive_entry", dat_drive::fuzzing::entry),
        ("drive_tree", dat_drive::fuzzing::tree),
        ("drive_archive", dat_drive::fuzzing::archive_files),
    ];
    for (target, run) in targets {
        assert!(replay(target, run) > 0, "no inputs for {target}");
    }
}
