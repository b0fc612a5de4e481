//! W5: a sparse read of a remote file: 10 MiB at offset 512 MiB of a 1 GiB file, fetching
//! only the metadata and blocks it needs. Rust: `dat cat LINK/big.bin --range S-E --peer`
//! (raw bytes to stdout); JS: `net-bench.js read` (hyperdrive 9.16 sparse, `createReadStream`
//! with start and length). Time to first and last byte on the reader's stdout, from the
//! process's start; blocks fetched as each reader counts them; wire bytes from the
//! namespace's loopback. Then again with 20 ms more round-trip time: `tc netem` on the
//! namespace's loopback (10 ms each way), or where the kernel has no netem, the bench's own
//! delay proxy (`bench child-delay-proxy`) between reader and sharer.

use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::Options;
use crate::clone_big::BigData;
use crate::net::{self, Done, Net, Sharer, Stdout, Task};
use crate::report::{Row, median, median_side};

/// Samples of one side in one variant.
#[derive(Default)]
struct Samples {
    first_ms: Vec<f64>,
    last_ms: Vec<f64>,
    cpu: Vec<f64>,
    rss: Vec<f64>,
    content_blocks: Vec<f64>,
    metadata_blocks: Vec<f64>,
    wire: Vec<f64>,
}

/// Blocks a reader says it fetched: Rust's note on stderr ("fetched N metadata blocks and
/// M content blocks ..."), JS's `fetched` line.
fn fetched(side: &str, done: &Done) -> (f64, f64) {
    if side == "js" {
        let ev = done.event("fetched").unwrap_or_default();
        return (
            ev["metadataBlocks"].as_f64().unwrap_or(f64::NAN),
            ev["contentBlocks"].as_f64().unwrap_or(f64::NAN),
        );
    }
    let number_before = |s: &str, what: &str| -> f64 {
        s.find(what)
            .and_then(|i| s[..i].split_whitespace().last()?.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let line = done
        .stderr
        .lines()
        .find(|l| l.contains("metadata blocks and"))
        .unwrap_or_default();
    (
        number_before(line, "metadata blocks"),
        number_before(line, "content blocks"),
    )
}

/// Run W5.
pub fn run(options: &Options) -> (Vec<Row>, Vec<String>) {
    let (size, at, len): (u64, u64, u64) = if options.smoke {
        (64 << 20, 32 << 20, 1 << 20)
    } else {
        (1 << 30, 512 << 20, 10 << 20)
    };
    let d = BigData::new(size, "W5");
    let want = {
        let mut f = std::fs::File::open(d.path("rust-src/big.bin"))
            .unwrap_or_else(|e| panic!("open big.bin: {e}"));
        let mut buf = vec![0u8; len as usize];
        f.seek(SeekFrom::Start(at))
            .and_then(|_| f.read_exact(&mut buf))
            .unwrap_or_else(|e| panic!("read big.bin: {e}"));
        <[u8; 32]>::from(Sha256::digest(&buf))
    };
    let net = Net::new("w5");
    let sharers = [d.share(&net, options, "rust"), d.share(&net, options, "js")];
    let mut rows = Vec::new();
    let mut details = Vec::new();
    let (mib, at_mib, size_mib) = (len >> 20, at >> 20, size >> 20);
    for delayed in [false, true] {
        // Where each side's reader connects, what part of the loopback bytes is the
        // connection's, and how the delay was made.
        let mut proxies = Vec::new();
        let mut wire_share = 1.0;
        let how = if !delayed {
            String::new()
        } else if net.name().is_some() && net.netem(10).is_ok() {
            "`tc netem delay 10ms` on the namespace's loopback".to_string()
        } else {
            for s in &sharers {
                proxies.push(delay_proxy(&net, s, &d));
            }
            // Every byte crosses loopback twice: reader → proxy → sharer.
            wire_share = 0.5;
            let why = net.name().map_or(net.why_not.clone(), |_| {
                "tc netem is unavailable (this kernel has no sch_netem)".into()
            });
            format!("{why}: the bench's delay proxy, 10 ms each way")
        };
        let (mut rust, mut js) = (Samples::default(), Samples::default());
        for run in 0..options.runs {
            for (i, side) in ["rust", "js"].into_iter().enumerate() {
                eprintln!(
                    "W5{} run {}: {side}",
                    if delayed { " (20 ms RTT)" } else { "" },
                    run + 1
                );
                let s = if side == "rust" { &mut rust } else { &mut js };
                let sharer = &sharers[i];
                let addr = match proxies.get(i) {
                    Some((_, port)) => format!("127.0.0.1:{port}"),
                    None => sharer.addr(),
                };
                let home = d.path(&format!("home-{side}"));
                let (argv, env) = if side == "rust" {
                    let target = format!("{}/big.bin", sharer.link());
                    let range = format!("{at}-{}", at + len - 1);
                    (
                        net::dat(
                            options,
                            &["cat", &target, "--range", &range, "--peer", &addr],
                        ),
                        net::rust_env(&home),
                    )
                } else {
                    (
                        net::js_bench(&[
                            "read",
                            &sharer.key,
                            &addr,
                            "/big.bin",
                            &at.to_string(),
                            &len.to_string(),
                        ]),
                        net::js_env(&options.lab, &home, 300),
                    )
                };
                let w0 = net.wire_bytes();
                let done = Task::spawn(
                    &format!("{side} read"),
                    net.wrap(argv),
                    &env,
                    &d.scratch(),
                    Stdout::Raw,
                )
                .finish(300);
                let w1 = net.wire_bytes();
                assert!(
                    done.raw.len == len && done.raw.sha256 == want,
                    "W5 {side}: read {} bytes, sha256 {} (want {len} bytes, {})",
                    done.raw.len,
                    crate::data::hex(&done.raw.sha256),
                    crate::data::hex(&want)
                );
                let ms = |t: Option<Duration>| t.map_or(f64::NAN, |t| t.as_secs_f64() * 1000.0);
                s.first_ms.push(ms(done.raw.first));
                s.last_ms.push(ms(done.raw.last));
                s.cpu.push(done.cpu_s);
                s.rss.push(done.rss_mb);
                let (m, c) = fetched(side, &done);
                s.metadata_blocks.push(m);
                s.content_blocks.push(c);
                if let (Some(a), Some(b)) = (w0, w1) {
                    s.wire.push((b - a) as f64 * wire_share);
                }
            }
        }
        for (p, _) in proxies {
            p.stop(5);
        }
        let label = if delayed { ", 20 ms RTT" } else { "" };
        let wire = |s: &Samples| {
            if s.wire.is_empty() {
                "wire —".to_string()
            } else {
                format!("wire {}", net::mb(median(s.wire.clone())))
            }
        };
        let fetched_note = format!(
            "fetched R/JS: {:.0} / {:.0} content blocks of 64 KiB, {:.0} / {:.0} metadata blocks; \
             {} / {}",
            median(rust.content_blocks.clone()),
            median(js.content_blocks.clone()),
            median(rust.metadata_blocks.clone()),
            median(js.metadata_blocks.clone()),
            wire(&rust),
            wire(&js),
        );
        let what = format!(
            "W5 sparse read {mib} MiB at {at_mib} MiB of a remote {size_mib} MiB file{label}"
        );
        rows.push(Row {
            workload: format!("{what}: first byte"),
            unit: "ms",
            rust: median_side(&rust.first_ms, &rust.cpu, &rust.rss),
            js: median_side(&js.first_ms, &js.cpu, &js.rss),
            check: "sha256 of the range ✓ both".into(),
            note: format!(
                "from process start (node's start included); lower is better; {fetched_note}{}",
                if how.is_empty() {
                    String::new()
                } else {
                    format!("; delay: {how}")
                }
            ),
        });
        rows.push(Row {
            workload: format!("{what}: last byte"),
            unit: "ms",
            rust: median_side(&rust.last_ms, &rust.cpu, &rust.rss),
            js: median_side(&js.last_ms, &js.cpu, &js.rss),
            check: "sha256 of the range ✓ both".into(),
            note: "Rust `dat cat LINK/big.bin --range --peer` / JS hyperdrive sparse + \
                   sparseMetadata, createReadStream(start, length), in memory"
                .into(),
        });
        details.push(format!(
            "W5{label}: first byte ms Rust {:?}, JS {:?}; last byte ms Rust {:?}, JS {:?}",
            rounded(&rust.first_ms),
            rounded(&js.first_ms),
            rounded(&rust.last_ms),
            rounded(&js.last_ms)
        ));
    }
    for s in sharers {
        s.task.stop(10);
    }
    (rows, details)
}

/// A delay proxy in the namespace in front of `sharer`: the task and its port.
fn delay_proxy(net: &Net, sharer: &Sharer, d: &BigData) -> (Task, u16) {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
    let mut task = Task::spawn(
        "delay proxy",
        net.wrap(vec![
            exe.to_string_lossy().into_owned(),
            "child-delay-proxy".into(),
            "127.0.0.1:0".into(),
            sharer.addr(),
            "10".into(),
        ]),
        &[],
        &d.scratch(),
        Stdout::Lines,
    );
    let port = task.json_event(30, "proxy")["port"].as_u64().unwrap_or(0) as u16;
    (task, port)
}

fn rounded(v: &[f64]) -> Vec<i64> {
    v.iter().map(|x| x.round() as i64).collect()
}
