//! The bench harness's Rust side alone, for profiling:
//! `cargo run --release -p dat-core --example append_bench -- SIZE BATCH COUNT RUNS [DIR]`.
//! Random 64 MiB pool, one `append_batch` per BATCH blocks, timed until the feed is dropped.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use dat_core::{Feed, FeedStorage, KeyPair};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: usize| args.get(i).map_or(d, |s| s.parse().unwrap());
    let (size, batch, count, runs) = (arg(1, 1024), arg(2, 256), arg(3, 100_000), arg(4, 5));
    let root = std::path::PathBuf::from(args.get(5).cloned().unwrap_or("/tmp/dat-bench".into()));
    let mut pool = vec![0u8; size.max(64 << 20)];
    getrandom::fill(&mut pool).unwrap();
    let blocks: Vec<&[u8]> = pool.chunks_exact(size.max(1)).collect();
    let mut times = Vec::new();
    for run in 0..runs {
        let dir = root.join(format!("run{run}"));
        let _ = std::fs::remove_dir_all(&dir);
        let mut feed =
            Feed::create(FeedStorage::flat_dir(&dir), KeyPair::generate().unwrap()).unwrap();
        let start = Instant::now();
        let (mut done, mut next) = (0usize, 0usize);
        while done < count {
            let n = batch.min(count - done);
            let b: Vec<&[u8]> = (0..n)
                .map(|_| {
                    next = (next + 1) % blocks.len();
                    blocks[next]
                })
                .collect();
            feed.append_batch(b).unwrap();
            done += n;
        }
        drop(feed);
        let s = start.elapsed().as_secs_f64();
        times.push(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
    if std::env::var_os("APPEND_BENCH_EACH").is_some() {
        let each: Vec<String> = times.iter().map(|t| format!("{:.0}", t * 1e3)).collect();
        println!("each run, ms: {}", each.join(" "));
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let med = times[times.len() / 2];
    println!(
        "size {size} batch {batch} count {count}: median {:.1} ms, {:.0} blocks/s, {:.1} MB/s, {:.3} us/block (min {:.1} ms)",
        med * 1e3,
        count as f64 / med,
        (count * size) as f64 / med / 1e6,
        med * 1e6 / count as f64,
        times[0] * 1e3
    );
}
