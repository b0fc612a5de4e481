//! Appends to files on disk write the bytes appends to memory write: the data slot is written
//! from the caller's blocks in one vectored write per chunk, which must skip empty blocks and
//! land every byte where a single write of the chunk would.
#![allow(clippy::unwrap_used)]

use dat_core::{Feed, FeedStorage, KeyPair, MemoryFeedFiles, Slot};

#[test]
fn files_on_disk_hold_the_bytes_of_memory_slots() {
    let dir = tempfile::tempdir().unwrap();
    let files = MemoryFeedFiles::new();
    let key = KeyPair::from_seed(&[3; 32]);
    let mut on_disk = Feed::create(FeedStorage::flat_dir(dir.path()), key.clone()).unwrap();
    let mut in_memory = Feed::create(FeedStorage::from_memory(&files), key).unwrap();
    // Empty blocks alone and among others, small and large blocks, batches that start off
    // the 8-block grid, and more blocks than one vectored write takes.
    let shapes: [&[usize]; 7] = [
        &[0],
        &[5, 0, 0, 7],
        &[1024; 300],
        &[0; 3],
        &[65536, 0, 70_000, 1, 65536],
        &[100; 2500],
        &[1],
    ];
    let mut seed = 0u8;
    for sizes in shapes {
        let blocks: Vec<Vec<u8>> = sizes
            .iter()
            .map(|&s| {
                seed = seed.wrapping_add(1);
                (0..s).map(|k| seed ^ k as u8).collect()
            })
            .collect();
        let a = on_disk
            .append_batch(blocks.iter().map(Vec::as_slice))
            .unwrap();
        let b = in_memory
            .append_batch(blocks.iter().map(Vec::as_slice))
            .unwrap();
        assert_eq!(a, b);
    }
    drop(on_disk);
    for slot in [Slot::Data, Slot::Tree, Slot::Signatures, Slot::Bitfield] {
        let disk = std::fs::read(dir.path().join(slot.name())).unwrap();
        assert!(disk == files.slot(slot).to_vec(), "{slot} differs");
    }
}
