#!/usr/bin/env bash
# Fuzz smoke test (bounded, for CI): build every target of fuzz/, replay its committed seed
# corpus (corpus/<target>/) and saved crash inputs (regressions/<target>/), then fuzz it for
# FUZZ_SECONDS (default 2). Fails on any panic, timeout (10 s) or RSS over 2 GB.
#
# Toolchain: `cargo +nightly` when a nightly toolchain is installed, else the default
# (stable) toolchain with RUSTC_BOOTSTRAP=1. cargo-fuzz is used when installed; without it
# the targets are built directly with the same instrumentation flags.
# Usage: fuzz/smoke.sh [target...]
# env: FUZZ_SECONDS (2), FUZZ_PROFILE=dev|release (dev), FUZZ_TOOLCHAIN=stable to skip nightly,
#      FUZZ_DIRECT=1 to build without cargo-fuzz even when it is installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
seconds="${FUZZ_SECONDS:-2}"
profile="${FUZZ_PROFILE:-dev}"
# The fuzz crate is its own workspace: never build into another checkout's target dir.
unset CARGO_TARGET_DIR

cargo=(cargo)
if [ "${FUZZ_TOOLCHAIN:-}" != stable ] && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    cargo=(cargo +nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
triple="$("${cargo[@]}" -vV 2>/dev/null | sed -n 's/^host: //p')"
[ -n "$triple" ] || triple="$(rustc -vV | sed -n 's/^host: //p')"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(grep -A1 '^\[\[bin\]\]' Cargo.toml | sed -n 's/^name = "\(.*\)"/\1/p')
fi

start=$SECONDS
if [ -z "${FUZZ_DIRECT:-}" ] && "${cargo[@]}" fuzz --version >/dev/null 2>&1; then
    flags=(-s none)
    [ "$profile" = dev ] && flags+=(--dev)
    "${cargo[@]}" fuzz build "${flags[@]}" >/dev/null
else
    # What `cargo fuzz build -s none` passes (cargo-fuzz 0.13).
    export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth \
--cfg fuzzing -Cdebug-assertions -Coverflow-checks"
    release=()
    [ "$profile" = release ] && release=(--release)
    "${cargo[@]}" build --quiet --manifest-path Cargo.toml --target "$triple" --bins "${release[@]}"
fi
dir=debug
[ "$profile" = release ] && dir=release
bin="$here/target/$triple/$dir"
echo "fuzz smoke: built ${#targets[@]} targets in $((SECONDS - start)) s"

failed=()
for t in "${targets[@]}"; do
    work="$here/target/smoke-corpus/$t"
    rm -rf "$work"
    mkdir -p "$work" "$here/artifacts/$t"
    dirs=("$work")
    for d in "corpus/$t" "regressions/$t"; do
        [ -d "$d" ] && dirs+=("$here/$d")
    done
    log="$here/target/smoke-$t.log"
    if "$bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
        -print_final_stats=1 -artifact_prefix="$here/artifacts/$t/" "${dirs[@]}" >"$log" 2>&1; then
        execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
        printf '%-20s ok   %8s execs\n' "$t" "${execs:-?}"
    else
        printf '%-20s FAIL (log %s)\n' "$t" "$log"
        grep -E 'panicked|ERROR|SUMMARY' "$log" | head -5 || true
        failed+=("$t")
    fi
done
echo "fuzz smoke: ${#targets[@]} targets in $((SECONDS - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz smoke FAILED: ${failed[*]} (inputs in fuzz/artifacts/)"
    exit 1
fi
