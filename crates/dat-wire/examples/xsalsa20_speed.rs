//! Throughput of dat-wire's XSalsa20 (`src/xsalsa20.rs`) against the `salsa20` crate.
//!
//! `cargo run --release -p dat-wire --example xsalsa20_speed [MiB per run]`
//!
//! First checks that both produce the same stream over random chunk sizes, then prints the
//! median of 7 runs for 64 KiB and 1 MiB buffers. The module picks its SIMD width from the
//! build's target features: the default x86_64 build uses SSE2; build with
//! `RUSTFLAGS="-C target-cpu=native"` to see AVX2 / AVX-512.

// The module is private to the crate: include its file directly to time it alone.
#[path = "../src/xsalsa20.rs"]
mod xsalsa20;

use salsa20::cipher::{KeyIvInit, StreamCipher};
use std::hint::black_box;
use std::time::Instant;

/// Runs `apply` over a `len`-byte buffer until `total` bytes have passed; median GB/s of 7.
fn median_gbps(len: usize, total: usize, mut apply: impl FnMut(&mut [u8])) -> f64 {
    let mut buf = vec![0x5a_u8; len];
    let reps = (total / len).max(1);
    let mut rates: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reps {
                apply(black_box(&mut buf));
            }
            (reps * len) as f64 / start.elapsed().as_secs_f64() / 1e9
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// Both ciphers over the same 3 MiB in uneven chunks (1 byte … 10 KiB) must agree.
fn same_stream(key: &[u8; 32], nonce: &[u8; 24]) -> bool {
    let mut ours = vec![0u8; 3 << 20];
    let mut theirs = ours.clone();
    let mut cipher = xsalsa20::XSalsa20::new(key, nonce);
    let mut at = 0;
    for size in (1..).map(|i: usize| (i * i * 37) % (10 << 10) + 1) {
        let end = (at + size).min(ours.len());
        cipher.apply_keystream(&mut ours[at..end]);
        at = end;
        if at == ours.len() {
            break;
        }
    }
    salsa20::XSalsa20::new(&(*key).into(), &(*nonce).into()).apply_keystream(&mut theirs);
    ours == theirs
}

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(128);
    let total = mib << 20;
    let (key, nonce) = ([7u8; 32], [9u8; 24]);
    if !same_stream(&key, &nonce) {
        eprintln!("MISMATCH: dat-wire XSalsa20 differs from the salsa20 crate");
        std::process::exit(1);
    }
    println!("streams agree; median of 7 runs, {mib} MiB per run");
    for len in [64 << 10, 1 << 20] {
        let mut ours = xsalsa20::XSalsa20::new(&key, &nonce);
        let fast = median_gbps(len, total, |buf| ours.apply_keystream(buf));
        let mut theirs = salsa20::XSalsa20::new(&key.into(), &nonce.into());
        let crate_rate = median_gbps(len, total, |buf| theirs.apply_keystream(buf));
        println!(
            "{:>5} KiB buffers: dat-wire xsalsa20 {fast:.2} GB/s, salsa20 crate {crate_rate:.2} GB/s ({:.1}x)",
            len >> 10,
            fast / crate_rate
        );
    }
}
