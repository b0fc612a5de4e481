#!/usr/bin/env bash
# Regenerates the seed corpora fuzz/corpus/<target>/ from real bytes: the JS-written fixtures
# and vectors in interop/, the recorded JS wire stream of the dat-wire tests, replication
# traffic between two in-memory peers, and discovery packets (see seeder/src/main.rs).
# Usage: fuzz/seed.sh   (replaces fuzz/corpus; commit the result, it stays well under 2 MB)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
cargo build --quiet --manifest-path "$here/seeder/Cargo.toml"
rm -rf "$here/corpus"
"$CARGO_TARGET_DIR/debug/dat-fuzz-seeder" "$root" "$here/corpus"
du -sh "$here/corpus"
