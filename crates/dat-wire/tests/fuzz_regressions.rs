//! Inputs the fuzzers (`fuzz/`) found, each kept as a test: a readable case per bug, and a
//! replay of the seed corpus and every saved input of this crate's fuzz targets.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use dat_wire::fuzzing::{REPLICATION_BLOCKS, replication, replication_seed};

/// The recorded download replays to a complete clone: the seed reaches Data verification.
#[test]
fn recorded_download_stores_every_block() {
    let now = Instant::now();
    let seed = replication_seed(false, 0, now).unwrap();
    assert!(seed.len() > 2000, "a real exchange: {} bytes", seed.len());
    assert_eq!(replication(&seed, now), REPLICATION_BLOCKS);
    let mut chunked = seed.clone();
    chunked[0] = 3 << 1; // 24-byte chunks
    assert_eq!(replication(&chunked, now), REPLICATION_BLOCKS);
    // A flipped byte in a block or a proof never gets a wrong block stored (checked inside).
    for i in (1..seed.len()).step_by(11) {
        let mut flipped = seed.clone();
        flipped[i] ^= 0x08;
        assert!(replication(&flipped, now) <= REPLICATION_BLOCKS);
    }
}

/// The recorded requests replay against the writer, which keeps its blocks.
#[test]
fn recorded_upload_serves_requests() {
    let now = Instant::now();
    let seed = replication_seed(true, 3, now).unwrap();
    assert_eq!(seed[0], 7);
    assert_eq!(replication(&seed, now), REPLICATION_BLOCKS);
    for i in (1..seed.len()).step_by(7) {
        let mut flipped = seed.clone();
        flipped[i] ^= 0x40;
        assert_eq!(replication(&flipped, now), REPLICATION_BLOCKS);
    }
}

#[path = "../../../fuzz/replay.rs"]
mod replay;
use replay::{EntryPoint, replay};

/// The seed corpus and every saved crash input of the dat-wire targets run cleanly on stable.
#[test]
fn saved_fuzz_inputs_replay() {
    let targets: [(&str, EntryPoint); 5] = [
        ("wire_frames", dat_wire::fuzzing::frame_stream),
        ("wire_message", dat_wire::fuzzing::message),
        ("wire_rle", dat_wire::fuzzing::rle_decode),
        ("wire_session", |d| {
            dat_wire::fuzzing::session_input(d, Instant::now())
        }),
        ("wire_replication", |d| {
            dat_wire::fuzzing::replication(d, Instant::now());
        }),
    ];
    for (target, run) in targets {
        assert!(replay(target, run) > 0, "no inputs for {target}");
    }
}
