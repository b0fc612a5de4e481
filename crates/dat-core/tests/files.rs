//! Round trips through storage and hostile SLEEP files: each corruption gives a typed error or
//! a precise verify report, never a panic.
#![allow(clippy::unwrap_used)]

use dat_core::sleep::HeaderError;
use dat_core::{
    Feed, FeedError, FeedStorage, KeyPair, MemoryFeedFiles, MemoryStorage, ProblemKind, Slot,
    Storage, VerifyError,
};
use proptest::prelude::*;

fn feed_with(files: &MemoryFeedFiles, batches: &[Vec<Vec<u8>>]) -> Feed {
    let mut feed = Feed::create(
        FeedStorage::from_memory(files),
        KeyPair::from_seed(&[9; 32]),
    )
    .unwrap();
    for batch in batches {
        feed.append_batch(batch.iter().map(|b| b.as_slice()))
            .unwrap();
    }
    feed
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn batches_round_trip(batches in prop::collection::vec(
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..40), 1..8)) {
        let files = MemoryFeedFiles::new();
        let feed = feed_with(&files, &batches);
        let all: Vec<&Vec<u8>> = batches.iter().flatten().collect();
        prop_assert_eq!(feed.len(), all.len() as u64);
        let feed2 = Feed::open(FeedStorage::from_memory(&files)).unwrap();
        prop_assert_eq!(feed2.len(), feed.len());
        prop_assert_eq!(feed2.byte_len(), feed.byte_len());
        prop_assert_eq!(feed2.root_hash().unwrap(), feed.root_hash().unwrap());
        let mut offset = 0u64;
        for (i, block) in all.iter().enumerate() {
            let i = i as u64;
            prop_assert_eq!(&feed2.get(i).unwrap(), *block);
            prop_assert_eq!(feed2.byte_offset(i).unwrap(), offset);
            if !block.is_empty() {
                prop_assert_eq!(feed2.seek(offset + block.len() as u64 / 2).unwrap(),
                    (i, block.len() as u64 / 2));
            }
            offset += block.len() as u64;
        }
        // File sizes a JS reader expects of a writer's feed.
        let n = feed.len();
        if n > 0 {
            prop_assert_eq!(files.slot(Slot::Tree).to_vec().len() as u64, 32 + 40 * (2 * n - 1));
            prop_assert_eq!(files.slot(Slot::Signatures).to_vec().len() as u64, 32 + 64 * n);
        }
        prop_assert!(feed2.verify_all().unwrap().is_ok());
    }
}

fn flip(files: &MemoryFeedFiles, slot: Slot, offset: u64) {
    let m = files.slot(slot);
    let mut bytes = m.to_vec();
    bytes[offset as usize] ^= 0x10;
    let mut m = m.clone();
    m.write_at(0, &bytes).unwrap();
}

fn sample(files: &MemoryFeedFiles) -> Feed {
    let blocks: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 100]).collect();
    feed_with(files, &[blocks[..6].to_vec(), blocks[6..].to_vec()])
}

#[test]
fn bad_headers_are_typed() {
    type Check = fn(&HeaderError) -> bool;
    let cases: [(Slot, usize, Check); 4] = [
        (Slot::Tree, 0, |e| {
            matches!(e, HeaderError::WrongMagic { .. })
        }),
        (Slot::Signatures, 9, |e| {
            matches!(e, HeaderError::WrongAlgorithm { .. })
        }),
        (Slot::Tree, 3, |e| {
            matches!(e, HeaderError::WrongType { .. })
        }),
        (Slot::Bitfield, 5, |e| {
            matches!(e, HeaderError::WrongEntrySize { .. })
        }),
    ];
    for (slot, offset, check) in cases {
        let files = MemoryFeedFiles::new();
        sample(&files);
        flip(&files, slot, offset as u64);
        match Feed::open(FeedStorage::from_memory(&files)) {
            Err(FeedError::BadHeader { file, source }) => {
                assert_eq!(file, slot);
                assert!(check(&source), "{source:?}");
            }
            other => panic!("{slot}: {other:?}"),
        }
    }
    let files = MemoryFeedFiles::new();
    sample(&files);
    files.slot(Slot::Bitfield).clone().truncate(10).unwrap();
    assert!(matches!(
        Feed::open(FeedStorage::from_memory(&files)),
        Err(FeedError::BadHeader {
            file: Slot::Bitfield,
            source: HeaderError::Truncated { len: 10 }
        })
    ));
}

#[test]
fn flipped_bits_are_reported_precisely() {
    // A block.
    let files = MemoryFeedFiles::new();
    sample(&files);
    flip(&files, Slot::Data, 7 * 100 + 3);
    let report = Feed::open(FeedStorage::from_memory(&files))
        .unwrap()
        .verify_all()
        .unwrap();
    assert_eq!(report.problem_count, 1);
    assert_eq!(
        (report.problems[0].file, report.problems[0].index),
        (Slot::Data, 7)
    );
    assert_eq!(report.problems[0].kind, ProblemKind::BlockHashMismatch);
    // A parent node (node 5 = parent of blocks 2,3).
    let files = MemoryFeedFiles::new();
    sample(&files);
    flip(&files, Slot::Tree, 32 + 40 * 5 + 1);
    let report = Feed::open(FeedStorage::from_memory(&files))
        .unwrap()
        .verify_all()
        .unwrap();
    assert!(
        report.problems.iter().any(|p| p.file == Slot::Tree
            && p.index == 5
            && p.kind == ProblemKind::ParentHashMismatch),
        "{report:?}"
    );
    // A leaf (node 8 = block 4): the block no longer matches, nor does parent 9.
    let files = MemoryFeedFiles::new();
    sample(&files);
    flip(&files, Slot::Tree, 32 + 40 * 8);
    let report = Feed::open(FeedStorage::from_memory(&files))
        .unwrap()
        .verify_all()
        .unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.file == Slot::Data && p.index == 4)
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.file == Slot::Tree && p.index == 9)
    );
    // The last signature: open refuses the feed.
    let files = MemoryFeedFiles::new();
    sample(&files);
    flip(&files, Slot::Signatures, 32 + 64 * 9 + 5);
    assert!(matches!(
        Feed::open(FeedStorage::from_memory(&files)),
        Err(FeedError::Verify(VerifyError::BadSignature { length: 10 }))
    ));
    // An older signature: open is fine, proofs still verify, nothing to report at length.
    let files = MemoryFeedFiles::new();
    sample(&files);
    flip(&files, Slot::Signatures, 32 + 64 * 5 + 5);
    assert!(
        Feed::open(FeedStorage::from_memory(&files))
            .unwrap()
            .verify_all()
            .unwrap()
            .is_ok()
    );
}

#[test]
fn truncated_and_garbage_files() {
    // Tree cut below a root of the signed length: a typed corruption error.
    let files = MemoryFeedFiles::new();
    sample(&files);
    files
        .slot(Slot::Tree)
        .clone()
        .truncate(32 + 40 * 3)
        .unwrap();
    assert!(matches!(
        Feed::open(FeedStorage::from_memory(&files)),
        Err(FeedError::Corrupt {
            file: Slot::Tree,
            index: 7,
            ..
        })
    ));
    // Data cut: open works, the lost blocks are named.
    let files = MemoryFeedFiles::new();
    sample(&files);
    files.slot(Slot::Data).clone().truncate(950).unwrap();
    let feed = Feed::open(FeedStorage::from_memory(&files)).unwrap();
    assert!(matches!(
        feed.get(9),
        Err(FeedError::Corrupt {
            file: Slot::Data,
            index: 9,
            ..
        })
    ));
    let report = feed.verify_all().unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::MissingBlockBytes)
    );
    // Oversized files (garbage after the end) change nothing.
    let files = MemoryFeedFiles::new();
    sample(&files);
    for slot in [Slot::Tree, Slot::Data, Slot::Signatures] {
        let mut m = files.slot(slot).clone();
        let len = m.len().unwrap();
        m.write_at(len, &[0xab; 1000]).unwrap();
    }
    let feed = Feed::open(FeedStorage::from_memory(&files)).unwrap();
    assert_eq!(feed.len(), 10);
    assert!(feed.verify_all().unwrap().is_ok());
    // Short key and secret key files.
    let files = MemoryFeedFiles::new();
    sample(&files);
    files.slot(Slot::Key).clone().truncate(20).unwrap();
    assert!(matches!(
        Feed::open(FeedStorage::from_memory(&files)),
        Err(FeedError::Corrupt {
            file: Slot::Key,
            ..
        })
    ));
    let files = MemoryFeedFiles::new();
    sample(&files);
    flip(&files, Slot::SecretKey, 40);
    assert!(Feed::open(FeedStorage::from_memory(&files)).is_err());
    assert!(matches!(
        Feed::open(FeedStorage::memory()),
        Err(FeedError::NoFeed)
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// Garbage in any SLEEP file never panics: open fails with a typed error, or the feed
    /// opens and verify_all / get / proof return results.
    #[test]
    fn garbage_never_panics(slot_i in 0usize..4, garbage in prop::collection::vec(any::<u8>(), 0..8000), keep_header in any::<bool>()) {
        let slot = [Slot::Tree, Slot::Bitfield, Slot::Signatures, Slot::Data][slot_i];
        let files = MemoryFeedFiles::new();
        sample(&files);
        let mut bytes = if keep_header { files.slot(slot).to_vec()[..32].to_vec() } else { Vec::new() };
        bytes.extend(&garbage);
        let reader = files.snapshot();
        let mut m = reader.slot(slot).clone();
        m.truncate(0).unwrap();
        m.write_at(0, &bytes).unwrap();
        reader.slot(Slot::SecretKey).clone().truncate(0).unwrap();
        if let Ok(feed) = Feed::open(FeedStorage::from_memory(&reader)) {
            let _ = feed.verify_all();
            for i in 0..feed.len().min(20) {
                let _ = feed.get(i);
                let _ = feed.proof(i, 0, false, &mut dat_core::RemoteTree::new());
            }
        }
        let _ = MemoryStorage::new();
    }
}
