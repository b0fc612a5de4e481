//! DAT-SPEC §5.7 reproduced byte for byte against the JS-written vector `interop/vectors/drive1`.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::MemTree;
use dat_core::{Feed, FeedStorage};
use dat_drive::{IndexHeader, Stat};

fn vector_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/vectors/drive1")
}

fn js_entries() -> Vec<Vec<u8>> {
    let feed = Feed::open(FeedStorage::flat_dir(&vector_dir().join("metadata"))).unwrap();
    (0..feed.len()).map(|i| feed.get(i).unwrap()).collect()
}

/// The operations of interop/gen/gen2.js, with our own index algorithms.
fn build() -> MemTree {
    let mut t = MemTree::default();
    t.put(
        "/results.csv",
        Stat::file(0o644, 8, 1, 0, 0, 1_500_000_000_000),
    );
    t.put(
        "/figures/graph1.png",
        Stat::file(0o644, 70000, 2, 1, 8, 1_500_000_001_000),
    );
    t.put(
        "/figures/graph2.png",
        Stat::file(0o644, 4, 1, 3, 70008, 1_500_000_002_000),
    );
    t.del("/figures/graph1.png");
    t.put(
        "/results.csv",
        Stat::file(0o644, 8, 1, 4, 70012, 1_500_000_003_000),
    );
    t.put(
        "/empty",
        Stat::directory(0o755, 5, 70020, 1_500_000_004_000),
    );
    t.del("/figures/graph2.png");
    t
}

#[test]
fn entries_are_byte_identical_to_js() {
    let js = js_entries();
    assert_eq!(js.len(), 8);
    let header = IndexHeader::decode(&js[0]).unwrap();
    let content = Feed::open(FeedStorage::flat_dir(&vector_dir().join("content"))).unwrap();
    assert_eq!(header.content_key().unwrap(), *content.key());
    assert_eq!(IndexHeader::hyperdrive(content.key()).encode(), js[0]);
    let ours = build();
    for (i, e) in ours.entries.iter().enumerate() {
        assert_eq!(
            hex::encode(e.encode()),
            hex::encode(&js[i + 1]),
            "seq {}",
            i + 1
        );
    }
    let paths: Vec<String> = ours
        .entries
        .iter()
        .map(|e| hex::encode(e.paths.encode(e.seq)))
        .collect();
    assert_eq!(
        paths,
        [
            "010000",
            "0101010000",
            "010101010200",
            "000201030103",
            "01010400",
            "0102040100",
            "00020501"
        ]
    );
}

#[test]
fn queries_at_every_version() {
    let t = build();
    let readdir = |v: u64, d: &str| t.tree(v).readdir(d).unwrap();
    let names = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(readdir(0, "/"), names(&[]));
    assert_eq!(readdir(1, "/"), names(&["results.csv"]));
    assert_eq!(readdir(2, "/"), names(&["results.csv", "figures"]));
    assert_eq!(readdir(3, "/figures"), names(&["graph1.png", "graph2.png"]));
    assert_eq!(readdir(4, "/figures"), names(&["graph2.png"]));
    assert_eq!(readdir(4, "/"), names(&["results.csv", "figures"]));
    assert_eq!(readdir(5, "/"), names(&["figures", "results.csv"]));
    assert_eq!(readdir(6, "/"), names(&["figures", "results.csv", "empty"]));
    assert_eq!(readdir(7, "/"), names(&["results.csv", "empty"]));
    assert_eq!(readdir(7, "/figures"), None);
    assert_eq!(readdir(2, "/nope"), None);

    let offset = |v: u64, p: &str| t.tree(v).get(p).unwrap().map(|s| s.offset());
    assert_eq!(offset(3, "/results.csv"), Some(0));
    assert_eq!(offset(7, "/results.csv"), Some(4));
    assert_eq!(offset(3, "/figures/graph1.png"), Some(1));
    assert_eq!(offset(4, "/figures/graph1.png"), None);
    assert_eq!(offset(5, "/figures/graph2.png"), Some(3));
    assert_eq!(offset(7, "/figures/graph2.png"), None);
    assert_eq!(offset(0, "/results.csv"), None);

    let tree = t.tree(6);
    assert!(tree.stat("/empty").unwrap().unwrap().is_directory());
    assert!(tree.stat("/figures").unwrap().unwrap().is_directory());
    assert!(tree.stat("/").unwrap().unwrap().is_directory());
    assert_eq!(t.tree(7).stat("/figures").unwrap(), None);
}

#[test]
fn lookup_fetches_one_entry_per_level() {
    // §5.7: /figures/graph2.png at version 5 walks 5 -> 4 -> 3.
    use std::cell::RefCell;
    use std::sync::Arc;
    struct Counting(Vec<Arc<dat_drive::Entry>>, RefCell<Vec<u64>>);
    impl dat_drive::EntrySource for Counting {
        fn entry(&self, seq: u64) -> Result<Arc<dat_drive::Entry>, dat_drive::SourceError> {
            self.1.borrow_mut().push(seq);
            self.0.entry(seq)
        }
        // Scans compare names only; the walk decodes one whole entry per level.
        fn name(&self, seq: u64) -> Result<Arc<dat_drive::EntryName>, dat_drive::SourceError> {
            self.0.name(seq)
        }
    }
    let src = Counting(build().entries, RefCell::new(Vec::new()));
    let tree = dat_drive::Tree::at(&src, 5).unwrap();
    assert_eq!(
        tree.get("/figures/graph2.png").unwrap().unwrap().offset(),
        3
    );
    assert_eq!(*src.1.borrow(), [5, 4, 3]);
}

#[test]
fn diff_between_versions() {
    use dat_drive::{ChangeKind::*, Diff};
    let t = build();
    let diff = |a: u64, b: u64| {
        let mut v: Vec<(dat_drive::ChangeKind, String, u64)> = Diff::new(t.tree(a), t.tree(b))
            .map(|c| c.unwrap())
            .map(|c| (c.kind, c.name, c.seq))
            .collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<(dat_drive::ChangeKind, String, u64)>| {
        v.sort();
        v
    };
    assert_eq!(
        diff(0, 3),
        sorted(vec![
            (Put, "/results.csv".into(), 1),
            (Put, "/figures/graph1.png".into(), 2),
            (Put, "/figures/graph2.png".into(), 3)
        ])
    );
    assert_eq!(
        diff(3, 5),
        sorted(vec![
            (Put, "/results.csv".into(), 5),
            (Del, "/results.csv".into(), 1),
            (Del, "/figures/graph1.png".into(), 2)
        ])
    );
    assert_eq!(
        diff(5, 7),
        [
            (Put, "/empty".to_string(), 6),
            (Del, "/figures/graph2.png".into(), 3)
        ]
    );
}
