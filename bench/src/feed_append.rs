//! Appending to a feed on disk: dat-core's `Feed` against JS hypercore, same block sizes, same
//! batch sizes, files on the same disk. Time runs from the first append until everything is
//! written (JS: the feed closed; Rust: the feed dropped after its last batch).

use std::time::{Duration, Instant};

use dat_core::KeyPair;
use dat_core::feed::Feed;
use dat_core::storage::FeedStorage;

use crate::Options;
use crate::report::{Row, Side, median};

/// A feed-append workload.
pub struct Shape {
    name: &'static str,
    count: u64,
    size: usize,
    batch: usize,
    smoke_count: u64,
}

/// 1 GiB in 64 KiB blocks, appended 16 blocks (1 MiB) per batch.
pub const BIG: Shape = Shape {
    name: "feed append, 1 GiB in 64 KiB blocks",
    count: 16384,
    size: 65536,
    batch: 16,
    smoke_count: 64,
};

/// 100k blocks of 1 KiB, appended 256 per batch.
pub const SMALL: Shape = Shape {
    name: "feed append, 100k × 1 KiB blocks",
    count: 100_000,
    size: 1024,
    batch: 256,
    smoke_count: 1000,
};

/// Run both sides `options.runs` times and report MB/s (64 KiB) or blocks/s (1 KiB).
pub fn run(options: &Options, shape: Shape) -> Row {
    let count = if options.smoke {
        shape.smoke_count
    } else {
        shape.count
    };
    let mut rust = Vec::new();
    let mut js = Vec::new();
    for _ in 0..options.runs {
        rust.push(rust_once(count, shape.size, shape.batch));
        js.push(js_once(options, count, shape.size, shape.batch));
    }
    let (unit, scale) = if shape.size >= 65536 {
        ("MB/s", (count * shape.size as u64) as f64 / 1e6)
    } else {
        ("blocks/s", count as f64)
    };
    let rate = |d: &Duration| scale / d.as_secs_f64();
    Row {
        workload: shape.name.to_string(),
        unit,
        rust: Side::figure(median(rust.iter().map(rate).collect())),
        js: Side::figure(median(js.iter().map(rate).collect())),
        check: "data length".to_string(),
        note: format!("{} per batch, files on disk, in-process", shape.batch),
    }
}

fn pool(size: usize) -> Vec<u8> {
    let mut pool = vec![0u8; size.max(64 << 20)];
    getrandom::fill(&mut pool).unwrap_or_else(|e| panic!("random: {e}"));
    pool
}

fn rust_once(count: u64, size: usize, batch: usize) -> Duration {
    let dir = tempfile::tempdir_in(scratch()).unwrap_or_else(|e| panic!("tempdir: {e}"));
    let pool = pool(size);
    let mut feed = Feed::create(
        FeedStorage::flat_dir(dir.path()),
        KeyPair::generate().unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("create: {e}"));
    let blocks: Vec<&[u8]> = pool.chunks_exact(size.max(1)).collect();
    settle();
    let start = Instant::now();
    let mut done = 0u64;
    let mut next = 0usize;
    while done < count {
        let n = batch.min((count - done) as usize);
        let batch: Vec<&[u8]> = (0..n)
            .map(|_| {
                next = (next + 1) % blocks.len();
                if size == 0 { &[][..] } else { blocks[next] }
            })
            .collect();
        feed.append_batch(batch)
            .unwrap_or_else(|e| panic!("append: {e}"));
        done += n as u64;
    }
    drop(feed);
    let elapsed = start.elapsed();
    assert_eq!(
        std::fs::metadata(dir.path().join("data"))
            .map(|m| m.len())
            .unwrap_or(0),
        count * size as u64
    );
    elapsed
}

fn js_once(options: &Options, count: u64, size: usize, batch: usize) -> Duration {
    let dir = tempfile::tempdir_in(scratch()).unwrap_or_else(|e| panic!("tempdir: {e}"));
    let feed_dir = dir.path().join("feed").to_string_lossy().into_owned();
    settle();
    let lines = options.lab.node(
        "js/hypercore-bench.js",
        &[
            &feed_dir,
            &count.to_string(),
            &size.to_string(),
            &batch.to_string(),
        ],
        Duration::from_secs(1800),
    );
    let ms = lines
        .iter()
        .find(|l| l["event"] == "bench")
        .and_then(|l| l["ms"].as_f64())
        .unwrap_or_else(|| panic!("no result from hypercore-bench.js"));
    assert_eq!(lines[0]["byteLength"], count * size as u64);
    Duration::from_secs_f64(ms / 1000.0)
}

/// Wait for the disk work that earlier runs left behind (writeback of their files, the
/// journal commit that discards the blocks of deleted ones on a `discard` mount) before the
/// next run is timed: kernel threads doing it take a core from whichever run is going, and a
/// 50 ms run after a 1 GiB one measured 64 ms instead of 49. Both sides wait the same way.
fn settle() {
    rustix::fs::sync();
}

/// Benchmarks write real files, on the same disk for both sides: the workspace's target dir.
pub fn scratch() -> std::path::PathBuf {
    let dir = dat_test::workspace_root().join("target/bench-scratch");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    dir
}
