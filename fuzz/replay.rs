//! Replays saved fuzz inputs as ordinary tests on stable: included by each library crate's
//! `tests/fuzz_regressions.rs` with `#[path]`, so the one replayer serves all of them without
//! a crate of its own (and without a dev-dependency cycle through dat-test).

use std::path::Path;

/// A fuzz entry point of a crate's `fuzzing` module.
pub type EntryPoint = fn(&[u8]);

/// Runs every file of `fuzz/corpus/<target>` and `fuzz/regressions/<target>`; returns how many.
pub fn replay(target: &str, run: EntryPoint) -> usize {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut n = 0;
    for dir in [
        fuzz.join("corpus").join(target),
        fuzz.join("regressions").join(target),
    ] {
        let Ok(files) = std::fs::read_dir(&dir) else {
            continue;
        };
        for file in files {
            let path = file.unwrap().path();
            run(&std::fs::read(&path).unwrap());
            n += 1;
        }
    }
    n
}
