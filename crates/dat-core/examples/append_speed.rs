//! Rough append/read throughput: `cargo run --release -p dat-core --example append_speed -- DIR MIB`.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use dat_core::{Feed, FeedStorage, KeyPair};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).cloned().unwrap_or("/tmp/dat-speed".into()));
    let mib: usize = args.get(2).map_or(256, |s| s.parse().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    let block = vec![7u8; 65536];
    let mut feed = Feed::create(
        FeedStorage::flat_dir(&dir.join("a")),
        KeyPair::from_seed(&[1; 32]),
    )
    .unwrap();
    let t = Instant::now();
    for _ in 0..mib * 16 / 64 {
        feed.append_batch(std::iter::repeat_n(block.as_slice(), 64))
            .unwrap();
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "64 KiB blocks, batches of 64: {} MiB in {s:.3}s = {:.0} MiB/s",
        mib,
        mib as f64 / s
    );
    let mut feed = Feed::create(
        FeedStorage::flat_dir(&dir.join("b")),
        KeyPair::from_seed(&[1; 32]),
    )
    .unwrap();
    let t = Instant::now();
    for _ in 0..mib * 16 / 16 {
        feed.append(&block).unwrap();
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "64 KiB blocks, single appends: {} MiB in {s:.3}s = {:.0} MiB/s",
        mib / 16,
        (mib / 16) as f64 / s
    );
    let small = vec![3u8; 1024];
    let mut feed = Feed::create(
        FeedStorage::flat_dir(&dir.join("c")),
        KeyPair::from_seed(&[1; 32]),
    )
    .unwrap();
    let t = Instant::now();
    feed.append_batch(std::iter::repeat_n(small.as_slice(), 100_000))
        .unwrap();
    println!("100k x 1 KiB, one batch: {:.3}s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let mut buf = Vec::new();
    for i in 0..feed.len() {
        feed.get_into(i, &mut buf).unwrap();
    }
    println!("100k x 1 KiB, get each: {:.3}s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let r = feed.verify_all().unwrap();
    println!(
        "verify_all 100k: {:.3}s ok={}",
        t.elapsed().as_secs_f64(),
        r.is_ok()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
