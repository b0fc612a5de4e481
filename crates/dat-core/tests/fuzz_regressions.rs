//! Inputs the fuzzers (`fuzz/`) found, each kept as a test: a readable case per bug, and a
//! replay of every saved input of this crate's fuzz targets (`fuzz/regressions/core_*`).
#![allow(clippy::unwrap_used)]

use dat_core::{
    Feed, FeedError, FeedStorage, KeyPair, MemoryFeedFiles, ProblemKind, Proof, RemoteTree, Slot,
    Storage, VerifyError,
};

/// A two-block feed whose tree file then claims leaf 0 is `size` bytes long (opening checks
/// the signed root, node 1, not the leaves under it).
fn feed_claiming(size: u64) -> MemoryFeedFiles {
    let files = MemoryFeedFiles::new();
    let mut feed = Feed::create(
        FeedStorage::from_memory(&files),
        KeyPair::from_seed(&[4; 32]),
    )
    .unwrap();
    feed.append_batch([&b"abc"[..], b"defg"]).unwrap();
    drop(feed);
    // Leaf 0 is the first 40-byte record after the 32-byte header; its size ends the record.
    let mut tree = files.slot(Slot::Tree).clone();
    tree.write_at(32 + 32, &size.to_be_bytes()).unwrap();
    files
}

/// core_feed_files: a leaf size of 2^64-1 made `verify_all` allocate it (capacity overflow);
/// sizes of a few GiB would abort on memory instead.
#[test]
fn verify_reports_a_leaf_larger_than_the_data_file() {
    for size in [u64::MAX, 1 << 40, 1 << 31, 4] {
        let files = feed_claiming(size);
        let feed = Feed::open(FeedStorage::from_memory(&files)).unwrap();
        let report = feed.verify_all().unwrap();
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.kind == ProblemKind::MissingBlockBytes),
            "size {size}: {report:?}"
        );
    }
}

/// core_feed_files: the same tree file made `get` allocate the claimed size.
#[test]
fn get_refuses_a_leaf_larger_than_the_data_file() {
    for size in [u64::MAX, 1 << 40, 1 << 31] {
        let files = feed_claiming(size);
        let feed = Feed::open(FeedStorage::from_memory(&files)).unwrap();
        assert!(
            matches!(
                feed.get(0),
                Err(FeedError::Corrupt {
                    file: Slot::Data,
                    index: 0,
                    ..
                })
            ),
            "size {size}"
        );
    }
}

/// wire_replication: a peer answered a Request for a block whose sibling the clone lacked but
/// whose parent it had, leaving the sibling out of the proof. Hashing stopped below the
/// roots, the stored roots matched the signature, and the unverified block was written.
#[test]
fn put_rejects_a_proof_that_skips_the_sibling() {
    let blocks: [&[u8]; 4] = [b"zero", b"one", b"two", b"three"];
    let mut writer = Feed::create(FeedStorage::memory(), KeyPair::from_seed(&[6; 32])).unwrap();
    writer.append_batch(blocks).unwrap();
    let mut clone = Feed::open_or_create_reader(FeedStorage::memory(), *writer.key()).unwrap();
    let honest = writer
        .proof(0, clone.digest(0), false, &mut RemoteTree::new())
        .unwrap();
    clone.put(0, Some(blocks[0]), &honest).unwrap();
    assert!(clone.has_node(5) && !clone.has_node(6));
    // Block 2 (leaf 4) with node 5, its parent, instead of its sibling 6: the proof "ends"
    // at leaf 4, and node 5 only stretches the verified length to the signed 4 blocks.
    let hostile = Proof {
        index: 2,
        nodes: vec![writer.node(5).unwrap().unwrap()],
        signature: honest.signature,
    };
    let err = clone.put(2, Some(b"evil"), &hostile).unwrap_err();
    assert!(
        matches!(
            err,
            FeedError::Verify(VerifyError::MissingNodes { index: 6 })
        ),
        "{err}"
    );
    assert!(!clone.has(2));
    // The honest block still goes in.
    let proof = writer
        .proof(2, clone.digest(2), false, &mut RemoteTree::new())
        .unwrap();
    clone.put(2, Some(blocks[2]), &proof).unwrap();
    assert_eq!(clone.get(2).unwrap(), blocks[2]);
}

#[path = "../../../fuzz/replay.rs"]
mod replay;
use replay::{EntryPoint, replay};

/// The seed corpus and every saved crash input of the dat-core targets run cleanly on stable.
#[test]
fn saved_fuzz_inputs_replay() {
    let targets: [(&str, EntryPoint); 5] = [
        ("core_link", dat_core::fuzzing::link),
        ("core_protobuf", dat_core::fuzzing::protobuf_fields),
        ("core_sleep_header", dat_core::feed_fuzzing::sleep_header),
        ("core_feed_files", dat_core::feed_fuzzing::feed_files),
        ("core_reader_files", dat_core::feed_fuzzing::reader_files),
    ];
    for (target, run) in targets {
        assert!(replay(target, run) > 0, "no inputs for {target}");
    }
}
