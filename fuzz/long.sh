#!/usr/bin/env bash
# The longer fuzz run (before resolving fuzzing work): each target in turn, one process
# (-jobs=1 equivalent), release build with AddressSanitizer, FUZZ_SECONDS each (default 150).
# The working corpus grows in target/long-corpus/<target> (seeded from corpus/ and
# regressions/); crashes land in artifacts/<target>/. Prints a table: target, execs, crashes.
# Usage: fuzz/long.sh [target...]   (nightly toolchain and cargo-fuzz required)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
unset CARGO_TARGET_DIR
seconds="${FUZZ_SECONDS:-150}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(grep -A1 '^\[\[bin\]\]' Cargo.toml | sed -n 's/^name = "\(.*\)"/\1/p')
cargo +nightly fuzz build >/dev/null || exit 1
triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"
bin="$here/target/$triple/release"
echo "| target | seconds | execs | execs/s | corpus | crashes |"
echo "|---|---|---|---|---|---|"
for t in "${targets[@]}"; do
    work="$here/target/long-corpus/$t"
    mkdir -p "$work" "$here/artifacts/$t"
    dirs=("$work")
    for d in "corpus/$t" "regressions/$t"; do
        [ -d "$d" ] && dirs+=("$here/$d")
    done
    log="$here/target/long-$t.log"
    before=$(ls "$here/artifacts/$t" | wc -l)
    "$bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
        -print_final_stats=1 -artifact_prefix="$here/artifacts/$t/" "${dirs[@]}" >"$log" 2>&1
    rc=$?
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    crashes=$(( $(ls "$here/artifacts/$t" | wc -l) - before ))
    echo "| $t | $seconds | ${execs:-?} | ${rate:-?} | $(ls "$work" | wc -l) | $crashes (rc $rc) |"
done
