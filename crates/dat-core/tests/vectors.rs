//! Byte-exact comparison with the files JS hypercore 7.7.1 wrote (interop/vectors) and
//! opening/verifying every golden feed in interop/.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use dat_core::crypto::{from_hex, to_hex};
use dat_core::{DatDir, Feed, FeedStorage, KeyPair, MemoryFeedFiles, Slot};

fn interop() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn hello_world(storage: FeedStorage) -> Feed {
    let mut feed = Feed::create(storage, KeyPair::from_seed(&[1; 32])).unwrap();
    let range = feed
        .append_batch([&b"hello"[..], &b"world"[..], &b"!"[..]])
        .unwrap();
    assert_eq!(range, 0..3);
    feed
}

#[test]
fn feed1_memory_is_byte_exact() {
    let files = MemoryFeedFiles::new();
    let feed = hello_world(FeedStorage::from_memory(&files));
    let dir = interop().join("vectors/feed1");
    for slot in Slot::ALL {
        let expected = std::fs::read(dir.join(slot.name())).unwrap();
        assert_eq!(
            to_hex(&files.slot(slot).to_vec()),
            to_hex(&expected),
            "slot {slot} differs"
        );
    }
    assert_eq!(feed.len(), 3);
    assert_eq!(feed.byte_len(), 11);
    let root = std::fs::read(interop().join("vectors/root.bin")).unwrap();
    assert_eq!(feed.root_hash().unwrap().0.to_vec(), root);
    let sig = std::fs::read(interop().join("vectors/sig.bin")).unwrap();
    assert_eq!(feed.signature(0).unwrap().unwrap().0.to_vec(), sig);
}

#[test]
fn feed1_flat_dir_is_byte_exact_and_reopens() {
    let tmp = tempfile::tempdir().unwrap();
    let feed = hello_world(FeedStorage::flat_dir(tmp.path()));
    drop(feed);
    let dir = interop().join("vectors/feed1");
    for slot in Slot::ALL {
        let expected = std::fs::read(dir.join(slot.name())).unwrap();
        let got = std::fs::read(tmp.path().join(slot.name())).unwrap();
        assert_eq!(to_hex(&got), to_hex(&expected), "file {slot} differs");
    }
    let mut feed = Feed::open(FeedStorage::flat_dir(tmp.path())).unwrap();
    assert!(feed.writable());
    assert_eq!(feed.get(1).unwrap(), b"world");
    assert_eq!(feed.append(b"more").unwrap(), 3);
    let feed = Feed::open(FeedStorage::flat_dir(tmp.path())).unwrap();
    assert_eq!(feed.len(), 4);
    assert_eq!(feed.get(3).unwrap(), b"more");
    assert!(feed.verify_all().unwrap().is_ok());
}

/// Open, verify and read every block; returns the blocks.
fn check_feed(storage: FeedStorage, expected_len: u64) -> (Feed, Vec<Vec<u8>>) {
    let feed = Feed::open(storage).unwrap();
    assert_eq!(feed.len(), expected_len);
    let report = feed.verify_all().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert!(report.signature_ok);
    assert_eq!(report.blocks_checked, expected_len);
    let blocks: Vec<Vec<u8>> = (0..feed.len()).map(|i| feed.get(i).unwrap()).collect();
    let total: u64 = blocks.iter().map(|b| b.len() as u64).sum();
    assert_eq!(total, feed.byte_len());
    (feed, blocks)
}

#[test]
fn feed1_opens_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&interop().join("vectors/feed1"), tmp.path());
    let (feed, blocks) = check_feed(FeedStorage::flat_dir(tmp.path()), 3);
    assert!(feed.writable());
    assert_eq!(
        blocks,
        vec![b"hello".to_vec(), b"world".to_vec(), b"!".to_vec()]
    );
}

#[test]
fn drive1_feeds_open_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&interop().join("vectors/drive1"), tmp.path());
    let (meta, blocks) = check_feed(FeedStorage::flat_dir(&tmp.path().join("metadata")), 8);
    assert!(meta.writable());
    // Entry 0 is the hyperdrive Index header naming the content key.
    let content_key = std::fs::read(tmp.path().join("content/key")).unwrap();
    assert!(blocks[0].windows(32).any(|w| w == content_key.as_slice()));
    let content = FeedStorage::flat_dir(&tmp.path().join("content")).without_secret_key();
    let (content, _) = check_feed(content, 5);
    assert!(!content.writable());
    assert_eq!(content.byte_len(), 70020);
}

#[test]
fn datdir_feeds_open_with_home_secret() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        &interop().join("vectors/datdir"),
        &tmp.path().join("datdir"),
    );
    copy_dir(&interop().join("vectors/home"), &tmp.path().join("home"));
    let dat = DatDir::new(tmp.path().join("datdir/.dat"))
        .with_secret_dir(tmp.path().join("home/.dat/secret_keys"));
    let key = dat.metadata_key().unwrap().unwrap();
    assert!(to_hex(&key.discovery_key().0).starts_with("929e59a1"));
    let (meta, _) = check_feed(dat.metadata(&key), 3);
    assert!(meta.writable(), "secret key found through metadata.ogd");
    // Content data lives in the working files: verify the tree and signature only.
    let content = Feed::open(dat.content()).unwrap();
    assert_eq!(content.len(), 4);
    let report = content.verify_all().unwrap();
    assert!(report.signature_ok);
    // Without the marker the secret key is not read.
    std::fs::remove_file(dat.owner_marker()).unwrap();
    let meta = Feed::open(dat.metadata(&key)).unwrap();
    assert!(!meta.writable());
}

#[test]
fn sleep_layout_fixture_opens_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let root = interop().join("fixtures/sleep-layout-small");
    copy_dir(&root.join("archive"), tmp.path());
    let key_txt = std::fs::read_to_string(root.join("KEY.txt")).unwrap();
    let key_hex = key_txt.trim().trim_start_matches("key:").trim();
    let meta_storage = FeedStorage::prefixed(tmp.path(), "metadata");
    let (meta, _) = check_feed(meta_storage, 7);
    assert_eq!(meta.key().to_hex(), key_hex);
    let (content, blocks) = check_feed(FeedStorage::prefixed(tmp.path(), "content"), 84);
    assert_eq!(content.byte_len(), 5_244_264);
    assert_eq!(&blocks[0], b"hello dat\n");
}

#[test]
fn share13_fixture_opens_with_its_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let root = interop().join("fixtures/share13-small");
    copy_dir(&root.join("archive"), tmp.path());
    let secret = std::fs::read(root.join("secret/metadata.secret_key")).unwrap();
    let dat = DatDir::new(tmp.path().join(".dat")).with_secret_dir(tmp.path().join("secrets"));
    let key = dat.metadata_key().unwrap().unwrap();
    let path = dat.secret_key_path(&key.discovery_key());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &secret).unwrap();
    let (meta, blocks) = check_feed(dat.metadata(&key), 7);
    assert!(meta.writable());
    let decoded = std::fs::read_to_string(root.join("metadata-decoded.txt")).unwrap();
    for (line, block) in decoded.lines().zip(&blocks) {
        let len: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert_eq!(block.len(), len, "{line}");
    }
    let header_hex = decoded
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(3)
        .unwrap();
    assert_eq!(from_hex(header_hex).unwrap(), blocks[0]);
    // Content: data is in the working files, in the order the metadata lists them.
    let mut data = Vec::new();
    for f in [
        "empty.txt",
        "hello.txt",
        "nested/config.json",
        "nested/deeper/b64.txt",
        "notes.md",
        "random5m.bin",
    ] {
        data.extend(std::fs::read(tmp.path().join(f)).unwrap());
    }
    let content_storage = dat.content().with_slot(
        Slot::Data,
        Box::new(dat_core::MemoryStorage::from_bytes(data)),
    );
    let (content, _) = check_feed(content_storage, 84);
    assert!(!content.writable());
}
