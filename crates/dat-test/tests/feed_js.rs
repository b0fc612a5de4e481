//! Feeds cross the language boundary both ways: the real JS hypercore 7.7.1 opens, audits,
//! signature-checks and replicates (verifying every proof) a feed that dat-core wrote, and
//! dat-core opens, verifies and reads a feed that JS wrote, then appends to it for JS again.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use dat_core::KeyPair;
use dat_core::feed::Feed;
use dat_core::storage::FeedStorage;
use dat_test::{JsLab, Sha256Hex, block_bytes, parse_spec};

/// Several batches; empty, 1 MiB and 64 KiB blocks; 100k small blocks in one batch.
const RUST_SPEC: &str = "3x5,1x0,4x1048576,1x0@e,100000x64@small,7x65536,1x1";

fn append_spec(feed: &mut Feed, spec: &str, sha: &mut Sha256Hex) {
    for batch in parse_spec(spec) {
        let blocks: Vec<Vec<u8>> = (0..batch.count)
            .map(|i| block_bytes(&batch.seed, i, batch.size))
            .collect();
        for b in &blocks {
            sha.update(b);
        }
        feed.append_batch(blocks.iter().map(Vec::as_slice)).unwrap();
    }
}

fn all_blocks_sha(feed: &Feed) -> String {
    let mut sha = Sha256Hex::default();
    let mut buf = Vec::new();
    for i in 0..feed.len() {
        feed.get_into(i, &mut buf).unwrap();
        sha.update(&buf);
    }
    sha.finish()
}

#[test]
fn js_verifies_a_feed_written_by_rust() {
    let Some(lab) = JsLab::get("js_verifies_a_feed_written_by_rust") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut sha = Sha256Hex::default();
    let (len, bytes, key) = {
        let mut feed = Feed::create(
            FeedStorage::flat_dir(dir.path()),
            KeyPair::generate().unwrap(),
        )
        .unwrap();
        append_spec(&mut feed, RUST_SPEC, &mut sha);
        (feed.len(), feed.byte_len(), feed.key().to_hex())
    };
    let expected_sha = sha.finish();
    let verdict = lab.verify_feed(dir.path());
    assert_eq!(verdict["length"], len, "{verdict}");
    assert_eq!(verdict["byteLength"], bytes, "{verdict}");
    assert_eq!(verdict["sha256"], expected_sha.as_str(), "{verdict}");
    assert_eq!(verdict["audit"]["invalid"], 0);
    assert_eq!(verdict["audit"]["valid"], len);
    assert_eq!(verdict["writable"], true);
    // And Rust still opens it after appending more, for JS again.
    let mut feed = Feed::open(FeedStorage::flat_dir(dir.path())).unwrap();
    assert_eq!(feed.key().to_hex(), key);
    assert_eq!(feed.len(), len);
    feed.append(b"one more").unwrap();
    drop(feed);
    let verdict = lab.verify_feed(dir.path());
    assert_eq!(verdict["length"], len + 1);
}

#[test]
fn rust_verifies_a_feed_written_by_js() {
    let Some(lab) = JsLab::get("rust_verifies_a_feed_written_by_js") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spec = "3x5,1x0,2x1048576,20000x100@small,5x65536";
    let written = lab.write_feed(dir.path(), spec);
    let mut feed = Feed::open(FeedStorage::flat_dir(dir.path())).unwrap();
    assert_eq!(feed.key().to_hex(), written["key"].as_str().unwrap());
    assert_eq!(feed.len(), written["length"].as_u64().unwrap());
    assert_eq!(feed.byte_len(), written["byteLength"].as_u64().unwrap());
    assert!(feed.writable());
    let report = feed.verify_all().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(all_blocks_sha(&feed), written["sha256"].as_str().unwrap());
    // Rust appends to the JS-written feed; JS verifies the result.
    let before = feed.len();
    feed.append_batch([&b"rust"[..], &[7u8; 70000][..]])
        .unwrap();
    drop(feed);
    let verdict = lab.verify_feed(dir.path());
    assert_eq!(verdict["length"], before + 2, "{verdict}");
}
