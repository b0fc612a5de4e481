//! Inputs the fuzzers (`fuzz/`) found, each kept as a test: a readable case per bug, and a
//! replay of the seed corpus and every saved input of this crate's fuzz targets.
#![allow(clippy::unwrap_used)]

#[path = "../../../fuzz/replay.rs"]
mod replay;
use replay::{EntryPoint, replay};

/// The seed corpus and every saved crash input of the dat-discovery targets run cleanly on stable.
#[test]
fn saved_fuzz_inputs_replay() {
    let targets: [(&str, EntryPoint); 5] = [
        ("disc_packet", dat_discovery::fuzzing::fuzz_packet),
        ("disc_txt", dat_discovery::fuzzing::fuzz_txt),
        ("disc_server", dat_discovery::fuzzing::fuzz_server),
        ("disc_client", dat_discovery::fuzzing::fuzz_client),
        ("disc_mdns", dat_discovery::fuzzing::fuzz_mdns),
    ];
    for (target, run) in targets {
        assert!(replay(target, run) > 0, "no inputs for {target}");
    }
}
