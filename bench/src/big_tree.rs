//! W6: an archive of 1M small files (100 folders × 100 subfolders × 100 files, plus one file
//! nine folders deeper): list one folder (100 entries, each with its stat, as `dat ls` prints
//! them) and stat the deep file, locally and from a remote peer. Time of the whole command
//! (process start to exit), and for the remote reads the metadata fetched and the wire bytes.
//!
//! The archive is made once by Rust (`dat create`). A JS import of 1M files would take about
//! an hour (~300 files/s in W2), so the JS side reads the same archive: its `.dat` copied
//! (byte-compatible hyperdrive 9; listing needs no file bytes), read locally by
//! `net-bench.js ls DIR PATH` and served by `dat-serve.js` for `net-bench.js ls KEY PEER PATH`.

use std::path::Path;
use std::process::Command;

use crate::Options;
use crate::data::Rng;
use crate::net::{self, Done, Net, Stdout, Task};
use crate::report::{Row, median, median_side};

/// The deep file, below `/d00/s00`.
const DEEP: &str = "/d00/s00/deep/a/b/c/d/e/f/g/h/deep.bin";

/// Files: `BENCH_W6_FILES` overrides the full size (for trying sizes).
fn shape(options: &Options) -> (u64, u64, u64) {
    let n: u64 = if options.smoke {
        10_000
    } else {
        std::env::var("BENCH_W6_FILES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000_000)
    };
    let sub = if n >= 1_000_000 { 100 } else { 10 };
    (100, sub, n / (100 * sub))
}

/// Write the tree; returns the (name, size) of each file of the folder `listed`, sorted, and
/// the deep file's size.
fn generate(root: &Path, top: u64, sub: u64, per: u64, listed: &str) -> (Vec<(String, u64)>, u64) {
    let mut rng = Rng::new(6 << 40);
    let mut listing = Vec::new();
    let mut buf = [0u8; 80];
    for t in 0..top {
        for s in 0..sub {
            let rel = format!("d{t:02}/s{s:02}");
            let dir = root.join(&rel);
            std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {rel}: {e}"));
            for f in 0..per {
                let size = 16 + (rng.next_u64() % 65) as usize;
                rng.fill(&mut buf[..size]);
                let name = format!("f{f:03}.bin");
                std::fs::write(dir.join(&name), &buf[..size])
                    .unwrap_or_else(|e| panic!("write {rel}/{name}: {e}"));
                if format!("/{rel}") == listed {
                    listing.push((name, size as u64));
                }
            }
        }
    }
    let deep = root.join(DEEP.trim_start_matches('/'));
    if let Some(parent) = deep.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir: {e}"));
    }
    std::fs::write(&deep, b"the deep file\n").unwrap_or_else(|e| panic!("write deep: {e}"));
    listing.sort();
    (listing, 14)
}

/// The entries a listing printed: name and size of each record (lines without `event`).
fn entries(done: &Done) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = done
        .json()
        .into_iter()
        .filter(|j| j.get("event").is_none())
        .map(|j| {
            (
                j["name"].as_str().unwrap_or_default().to_string(),
                j["size"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    v.sort();
    v
}

#[derive(Default)]
struct Samples {
    ms: Vec<f64>,
    cpu: Vec<f64>,
    rss: Vec<f64>,
    blocks: Vec<f64>,
    bytes: Vec<f64>,
    wire: Vec<f64>,
}

/// Run W6.
pub fn run(options: &Options) -> (Vec<Row>, Vec<String>) {
    let (top, sub, per) = shape(options);
    let count = top * sub * per + 1;
    let listed = format!("/d{:02}/s{:02}", top / 2, sub / 2);
    let root = tempfile::tempdir_in(crate::feed_append::scratch())
        .unwrap_or_else(|e| panic!("tempdir: {e}"));
    let p = |s: &str| root.path().join(s);
    for d in ["home-rust", "home-js", "scratch", "js"] {
        std::fs::create_dir_all(p(d)).unwrap_or_else(|e| panic!("mkdir {d}: {e}"));
    }
    let scratch = p("scratch");
    let src = p("src");
    eprintln!("W6: generating {count} files");
    let (listing, deep_size) = generate(&src, top, sub, per, &listed);
    eprintln!("W6: importing them (`dat create`)");
    let import = Task::spawn(
        "rust create",
        net::dat(options, &["--json", "create", &src.to_string_lossy()]),
        &net::rust_env(&p("home-rust")),
        &scratch,
        Stdout::Lines,
    )
    .finish(7200);
    let status = Command::new("cp")
        .arg("-a")
        .arg(src.join(".dat"))
        .arg(p("js/.dat"))
        .status()
        .unwrap_or_else(|e| panic!("cp: {e}"));
    assert!(status.success(), "cp -a src/.dat js/.dat failed");
    let meta_bytes = crate::check::metadata_bytes(&src).1;

    let net = Net::new("w6");
    eprintln!("W6: starting the sharers (Rust `dat share` re-checks every file first)");
    let rust_sharer = net::rust_share(&net, options, &src, &p("home-rust"), &scratch, false, 7200);
    let js_sharer = net::js_serve(&net, &options.lab, &p("js"), &p("home-js"), &scratch);
    // [local list, local stat, remote list, remote stat] × [rust, js]
    let mut samples: Vec<[Samples; 2]> = (0..4).map(|_| Default::default()).collect();
    let want_deep = vec![("deep.bin".to_string(), deep_size)];
    for run in 0..options.runs {
        for (op, (remote, path)) in [
            (false, listed.as_str()),
            (false, DEEP),
            (true, listed.as_str()),
            (true, DEEP),
        ]
        .into_iter()
        .enumerate()
        {
            for (i, side) in ["rust", "js"].into_iter().enumerate() {
                eprintln!(
                    "W6 run {}: {side} {} {path}",
                    run + 1,
                    if remote { "remote" } else { "local" }
                );
                let home = p(&format!("home-{side}"));
                let (argv, env) = match (side, remote) {
                    ("rust", false) => (
                        net::dat(options, &["--json", "ls", &src.to_string_lossy(), path]),
                        net::rust_env(&home),
                    ),
                    ("rust", true) => {
                        let target = format!("{}{path}", rust_sharer.link());
                        let addr = rust_sharer.addr();
                        (
                            net::dat(options, &["--json", "ls", &target, "--peer", &addr]),
                            net::rust_env(&home),
                        )
                    }
                    (_, false) => (
                        net::js_bench(&["ls", &p("js").to_string_lossy(), path]),
                        net::js_env(&options.lab, &home, 1800),
                    ),
                    (_, true) => (
                        net::js_bench(&["ls", &js_sharer.key, &js_sharer.addr(), path]),
                        net::js_env(&options.lab, &home, 1800),
                    ),
                };
                let w0 = net.wire_bytes();
                let done = Task::spawn(
                    &format!("{side} ls"),
                    net.wrap(argv),
                    &env,
                    &scratch,
                    Stdout::Lines,
                )
                .finish(1800);
                let w1 = net.wire_bytes();
                let want = if path == DEEP { &want_deep } else { &listing };
                assert_eq!(
                    &entries(&done),
                    want,
                    "W6 {side} ls {path} ({})",
                    if remote { "remote" } else { "local" }
                );
                let s = &mut samples[op][i];
                s.ms.push(done.wall.as_secs_f64() * 1000.0);
                s.cpu.push(done.cpu_s);
                s.rss.push(done.rss_mb);
                if remote {
                    let f = done.event("fetched").unwrap_or_default();
                    s.blocks
                        .push(f["metadataBlocks"].as_f64().unwrap_or(f64::NAN));
                    s.bytes
                        .push(f["metadataBytes"].as_f64().unwrap_or(f64::NAN));
                    if let (Some(a), Some(b)) = (w0, w1) {
                        s.wire.push((b - a) as f64);
                    }
                }
            }
        }
    }
    rust_sharer.task.stop(10);
    js_sharer.task.stop(10);
    let files = if count >= 1_000_000 {
        format!("{}M", count / 1_000_000)
    } else {
        format!("{}k", count / 1000)
    };
    let names = [
        format!("W6 {files}-file archive, local: list one folder ({per} files)"),
        format!("W6 {files}-file archive, local: stat one deep file"),
        format!("W6 {files}-file archive, from a peer: list one folder ({per} files)"),
        format!("W6 {files}-file archive, from a peer: stat one deep file"),
    ];
    let mut rows = Vec::new();
    for (op, [r, j]) in samples.iter().enumerate() {
        let fetched = if op >= 2 {
            let wire = |s: &Samples| {
                if s.wire.is_empty() {
                    "—".to_string()
                } else {
                    format!("{:.0} KB", median(s.wire.clone()) / 1e3)
                }
            };
            format!(
                "; fetched R/JS {:.0} / {:.0} metadata blocks, {:.0} / {:.0} KB; wire {} / {}",
                median(r.blocks.clone()),
                median(j.blocks.clone()),
                median(r.bytes.clone()) / 1e3,
                median(j.bytes.clone()) / 1e3,
                wire(r),
                wire(j)
            )
        } else {
            String::new()
        };
        rows.push(Row {
            workload: names[op].clone(),
            unit: "ms",
            rust: median_side(&r.ms, &r.cpu, &r.rss),
            js: median_side(&j.ms, &j.cpu, &j.rss),
            check: "names and sizes ✓ both".into(),
            note: format!(
                "whole process; lower is better; JS reads the Rust-made archive{fetched}"
            ),
        });
    }
    let details = vec![format!(
        "W6: {count} files, made by `dat create` in {:.0} s; metadata feed data {}; listed {listed}, stat {DEEP}",
        import.wall.as_secs_f64(),
        net::mb(meta_bytes as f64)
    )];
    (rows, details)
}
