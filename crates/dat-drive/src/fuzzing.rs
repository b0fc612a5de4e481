//! Entry points for fuzz targets: each feeds arbitrary bytes to one decoder and checks what
//! must hold for any input (no panic; accepted input re-encodes to something that decodes
//! to the same value).

use std::io::Read;
use std::sync::Arc;

use dat_core::feed_fuzzing::FeedFiles;

use crate::archive::{Archive, ContentData};
use crate::diff::Diff;
use crate::index_header::IndexHeader;
use crate::node::{Entry, Node};
use crate::paths::Paths;
use crate::stat::Stat;
use crate::tree::{EntrySource, SourceError, Tree};

/// `Stat`: never panics; accepted stats round-trip.
pub fn stat(data: &[u8]) {
    if let Ok(st) = Stat::decode(data) {
        assert_eq!(Stat::decode(&st.encode()), Ok(st));
    }
}

/// `Index` header: never panics; accepted headers round-trip.
pub fn index_header(data: &[u8]) {
    if let Ok(h) = IndexHeader::decode(data) {
        assert_eq!(IndexHeader::decode(&h.encode()), Ok(h));
    }
}

/// `Node` message: never panics; accepted nodes round-trip.
pub fn node(data: &[u8]) {
    if let Ok(n) = Node::decode(data) {
        assert_eq!(Node::decode(&n.encode()), Ok(n));
    }
}

/// `paths` index: the first 8 bytes are the entry's sequence, the rest the index. Never
/// panics; accepted indexes re-encode to bytes that decode to the same levels.
pub fn paths(data: &[u8]) {
    let (seq, bytes) = split_seq(data);
    if let Ok(p) = Paths::decode(seq, bytes) {
        assert_eq!(Paths::decode(seq, &p.encode(seq)), Ok(p));
    }
}

/// A whole metadata entry at a sequence (first 8 bytes): never panics; accepted entries
/// round-trip through [`Entry::encode`].
pub fn entry(data: &[u8]) {
    let (seq, bytes) = split_seq(data);
    if let Ok(e) = Entry::decode(seq, bytes) {
        assert_eq!(Entry::decode(seq, &e.encode()), Ok(e));
    }
}

/// Most entries [`tree`] builds from one input.
pub const TREE_ENTRIES: usize = 48;

/// Most changes a diff of [`TREE_ENTRIES`] entries may yield before it counts as looping.
const MAX_DIFF_CHANGES: usize = 16 * 1024;

/// Metadata blocks as a fuzz input: each behind a 2-byte little-endian length (block `i` is
/// entry `i + 1`; the header is not included).
pub fn pack_blocks<'a>(blocks: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for b in blocks {
        let len = b.len().min(usize::from(u16::MAX));
        out.extend_from_slice(&(len as u16).to_le_bytes());
        out.extend_from_slice(&b[..len]);
    }
    out
}

/// Entries decoded on every fetch from raw blocks, as [`Archive`] does from its feed.
struct Blocks(Vec<Vec<u8>>);

impl EntrySource for Blocks {
    fn entry(&self, seq: u64) -> Result<Arc<Entry>, SourceError> {
        let i = usize::try_from(seq.wrapping_sub(1)).unwrap_or(usize::MAX);
        let bytes = self
            .0
            .get(i)
            .ok_or(dat_core::FeedError::NotFound { index: seq })?;
        Ok(Arc::new(Entry::decode(seq, bytes)?))
    }
}

/// append-tree over hostile entries (see [`pack_blocks`]): lookups, listings, stats, the
/// index of a put or a delete and diffs between versions follow `paths` indexes that may
/// point anywhere; they must end (with an error at worst) and never panic.
pub fn tree(data: &[u8]) {
    let mut blocks = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 && blocks.len() < TREE_ENTRIES {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let (block, after) = rest[2..].split_at(len.min(rest.len() - 2));
        blocks.push(block.to_vec());
        rest = after;
    }
    let src = Blocks(blocks);
    let names: Vec<String> = (1..=src.0.len() as u64)
        .filter_map(|seq| src.entry(seq).ok().map(|e| e.name.clone()))
        .collect();
    let last = src.0.len() as u64;
    let mut versions = vec![last, last / 2, 1];
    versions.dedup();
    for &v in &versions {
        walk(&src, v, &names);
    }
    for (from, to) in [(0, last), (last / 2, last), (last, 1)] {
        if let (Ok(a), Ok(b)) = (Tree::at(&src, from), Tree::at(&src, to)) {
            let n = Diff::new(a, b).take(MAX_DIFF_CHANGES + 1).count();
            assert!(n <= MAX_DIFF_CHANGES, "diff {from}..{to} does not end");
        }
    }
}

/// Look up, stat, list and re-index every name (and each parent directory) at `version`.
fn walk<S: EntrySource + ?Sized>(src: &S, version: u64, names: &[String]) {
    let Ok(tree) = Tree::at(src, version) else {
        return;
    };
    let _ = tree.readdir("/");
    for name in names.iter().take(16) {
        let _ = tree.entry(name);
        let _ = tree.stat(name);
        let _ = tree.put_index(name, version + 1);
        let _ = tree.delete_index(name, version + 1);
        if let Some((dir, _)) = name.rsplit_once('/') {
            let _ = tree.readdir(dir);
            let _ = tree.list(dir);
        }
    }
}

/// The metadata and content feeds of an archive as one fuzz input: the metadata
/// [`FeedFiles`] behind a 4-byte little-endian length, then the content's.
pub fn pack_archive(metadata: &FeedFiles<'_>, content: &FeedFiles<'_>) -> Vec<u8> {
    let meta = metadata.pack();
    let mut out = (meta.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&meta);
    out.extend_from_slice(&content.pack());
    out
}

/// An archive opened read-only from hostile SLEEP files (see [`pack_archive`]): opening,
/// listing, stat, history, diff and reading files end with an error at worst, never panic,
/// and never read more of a file than its Stat says.
pub fn archive_files(data: &[u8]) {
    let n = data.len().min(4);
    let mut len = [0u8; 4];
    len[..n].copy_from_slice(&data[..n]);
    let len = usize::try_from(u32::from_le_bytes(len)).unwrap_or(usize::MAX);
    let (meta, content) = data[n..].split_at(len.min(data.len() - n));
    let (meta, content) = (FeedFiles::unpack(meta), FeedFiles::unpack(content));
    let Ok(archive) = Archive::open(meta.storage(), content.storage(), ContentData::Stored, None)
    else {
        return;
    };
    let version = archive.version();
    let names: Vec<String> = archive
        .history(1..TREE_ENTRIES as u64)
        .filter_map(|e| e.ok().map(|e| e.name.clone()))
        .collect();
    walk(&archive, version, &names);
    if let Ok(diff) = archive.diff(0, version) {
        let n = diff.take(MAX_DIFF_CHANGES + 1).count();
        assert!(n <= MAX_DIFF_CHANGES, "diff 0..{version} does not end");
    }
    let _ = archive.file_history(names.first().map_or("/", String::as_str));
    for name in names.iter().take(8) {
        let Ok(Some(st)) = archive.latest().and_then(|t| t.get(name)) else {
            continue;
        };
        if let Ok(reader) = archive.read_file(version, name) {
            let mut buf = Vec::new();
            let limit = st.size().min(1 << 20);
            if reader.take(limit + 1).read_to_end(&mut buf).is_ok() {
                assert!(buf.len() as u64 <= st.size(), "{name}: read past its size");
            }
        }
    }
}

fn split_seq(data: &[u8]) -> (u64, &[u8]) {
    let mut seq = [0u8; 8];
    let n = data.len().min(8);
    seq[..n].copy_from_slice(&data[..n]);
    (u64::from_le_bytes(seq), &data[n..])
}

#[cfg(test)]
mod tests {
    use dat_core::feed_fuzzing::FeedFiles;
    use dat_core::{FeedStorage, KeyPair, MemoryFeedFiles, Slot};
    use proptest::prelude::*;

    use crate::archive::{Archive, ContentData};
    use crate::write::WriteOptions;

    /// A small archive written here, packed as [`super::archive_files`] reads it, and its
    /// metadata blocks packed for [`super::tree`].
    fn packed_archive() -> (Vec<u8>, Vec<u8>, u64) {
        let (m, c) = (MemoryFeedFiles::new(), MemoryFeedFiles::new());
        let mut archive = Archive::create(
            FeedStorage::from_memory(&m),
            FeedStorage::from_memory(&c),
            ContentData::Stored,
            KeyPair::from_seed(&[3; 32]),
        )
        .unwrap();
        let opts = || WriteOptions {
            mtime: Some(1),
            ctime: Some(1),
            ..WriteOptions::default()
        };
        archive.write_file("/a.txt", &b"hello"[..], opts()).unwrap();
        archive
            .write_file("/d/e/f.bin", &[7u8; 70_000][..], opts())
            .unwrap();
        archive.mkdir("/d/g", 0o755, Some(1)).unwrap();
        archive.write_file("/d/h", &b""[..], opts()).unwrap();
        archive.unlink("/a.txt").unwrap();
        let version = archive.version();
        let blocks: Vec<Vec<u8>> = (1..=version)
            .map(|i| archive.metadata().get(i).unwrap())
            .collect();
        drop(archive);
        let files = |f: &MemoryFeedFiles| {
            [
                Slot::Key,
                Slot::Tree,
                Slot::Signatures,
                Slot::Bitfield,
                Slot::Data,
            ]
            .map(|s| f.slot(s).to_vec())
        };
        let ([mk, mt, ms, mb, md], [ck, ct, cs, cb, cd]) = (files(&m), files(&c));
        let meta = FeedFiles {
            key: &mk,
            tree: &mt,
            signatures: &ms,
            bitfield: &mb,
            data: &md,
        };
        let content = FeedFiles {
            key: &ck,
            tree: &ct,
            signatures: &cs,
            bitfield: &cb,
            data: &cd,
        };
        let packed = super::pack_archive(&meta, &content);
        (
            packed,
            super::pack_blocks(blocks.iter().map(Vec::as_slice)),
            version,
        )
    }

    #[test]
    fn real_archive_opens_from_its_packed_files() {
        let (packed, blocks, version) = packed_archive();
        let meta_len = u32::from_le_bytes(packed[..4].try_into().unwrap()) as usize;
        let meta = FeedFiles::unpack(&packed[4..4 + meta_len]);
        let content = FeedFiles::unpack(&packed[4 + meta_len..]);
        let archive =
            Archive::open(meta.storage(), content.storage(), ContentData::Stored, None).unwrap();
        assert_eq!(archive.version(), version);
        let tree = archive.latest().unwrap();
        assert_eq!(tree.readdir("/d").unwrap().unwrap().len(), 3);
        assert!(tree.get("/a.txt").unwrap().is_none());
        super::archive_files(&packed);
        super::tree(&blocks);
        // Every flipped byte still ends cleanly.
        for i in (0..blocks.len()).step_by(3) {
            let mut b = blocks.clone();
            b[i] ^= 0x21;
            super::tree(&b);
        }
        for i in (0..packed.len()).step_by(97) {
            let mut p = packed.clone();
            p[i] ^= 0x10;
            super::archive_files(&p);
        }
    }

    proptest! {
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            super::stat(&bytes);
            super::index_header(&bytes);
            super::node(&bytes);
            super::paths(&bytes);
            super::entry(&bytes);
            super::tree(&bytes);
            super::archive_files(&bytes);
        }

        #[test]
        fn paths_round_trip(levels in proptest::collection::vec(proptest::collection::btree_set(1u64..1000, 0..6), 0..5), seq in 1000u64..2000) {
            let mut levels: Vec<Vec<u64>> = levels.into_iter().map(|l| l.into_iter().collect()).collect();
            for l in &mut levels {
                l.push(seq);
            }
            let p = crate::paths::Paths { levels };
            prop_assert_eq!(crate::paths::Paths::decode(seq, &p.encode(seq)), Ok(p));
        }
    }
}
