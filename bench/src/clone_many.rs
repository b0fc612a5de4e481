//! W4: clone the W2 archive (small files of 1–4 KiB in 100 folders) over loopback, one peer,
//! a direct connection: time to metadata complete and to content complete. The archive is
//! imported once by Rust (`dat create`); the Rust pair is `dat share` → `dat clone --peer`,
//! the JS pair is JS hyperdrive 9.16 serving a copy of the same archive (`dat-serve.js`, no
//! import: a JS import of 100k files takes ~6 min) → `net-bench.js clone` (dat-node as `dat
//! clone` opens it). Metadata complete: Rust's `metadata-complete` event, JS's (every
//! metadata block up to the remote length), timed when the line reaches the bench; content
//! complete: the clone's exit (both exit once complete).
//!
//! The JS pair slows down sharply with the file count (10k files: ~11 s; 100k: its peers
//! drop each other every ~9 s with "Remote timed out" and it had 74k files after 8 min), so
//! the full run clones 100k files (JS once, stopped after a cap: the files it had are
//! counted) and 20k files (both sides every run).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::Options;
use crate::data;
use crate::net::{self, Done, Net, Stdout, Task};
use crate::report::{Row, median, median_side};

#[derive(Default)]
struct Samples {
    meta_s: Vec<f64>,
    all_s: Vec<f64>,
    cpu: Vec<f64>,
    rss: Vec<f64>,
    send_cpu: Vec<f64>,
    send_rss: Vec<f64>,
    wire: Vec<f64>,
    /// Connections the JS clone dialled again after its peer dropped it (all runs).
    reconnects: u64,
    /// Runs stopped at the cap, with the files they had.
    capped: Vec<usize>,
}

/// One W4 size.
struct Shape {
    count: u64,
    folders: u64,
    /// JS runs (the Rust side runs `--runs` times).
    js_runs: usize,
    /// Stop the JS clone after this long.
    js_cap: Option<Duration>,
}

fn shapes(options: &Options) -> Vec<Shape> {
    let all = options.runs;
    if options.smoke {
        return vec![Shape {
            count: 1000,
            folders: 10,
            js_runs: all,
            js_cap: None,
        }];
    }
    // `BENCH_W4_FILES` runs one size instead (for trying sizes).
    if let Some(n) = std::env::var("BENCH_W4_FILES")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        return vec![Shape {
            count: n,
            folders: 100,
            js_runs: all,
            js_cap: None,
        }];
    }
    vec![
        Shape {
            count: 100_000,
            folders: 100,
            js_runs: 1,
            js_cap: Some(Duration::from_secs(options.js_cap_seconds.max(600))),
        },
        Shape {
            count: 20_000,
            folders: 100,
            js_runs: all,
            js_cap: None,
        },
    ]
}

/// Run W4.
pub fn run(options: &Options) -> (Vec<Row>, Vec<String>) {
    let mut rows = Vec::new();
    let mut details = Vec::new();
    // Every folder stays until the end (see `dst` below).
    let mut roots = Vec::new();
    for shape in shapes(options) {
        let root = tempfile::tempdir_in(crate::feed_append::scratch())
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        let (r, d) = run_shape(options, &shape, root.path());
        roots.push(root);
        rows.extend(r);
        details.extend(d);
    }
    drop(roots);
    (rows, details)
}

fn run_shape(options: &Options, shape: &Shape, root: &std::path::Path) -> (Vec<Row>, Vec<String>) {
    let Shape { count, folders, .. } = *shape;
    let p = |s: &str| root.join(s);
    for d in ["home-rust", "home-js", "scratch"] {
        std::fs::create_dir_all(p(d)).unwrap_or_else(|e| panic!("mkdir {d}: {e}"));
    }
    let scratch = p("scratch");
    eprintln!("W4: generating {count} files in {folders} folders");
    let expected = data::small_files(&p("rust-src"), count, folders);
    let payload: u64 = expected.values().map(|e| e.size).sum();
    let net = Net::new("w4");
    let src = p("rust-src");
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
        .arg(&src)
        .arg(p("js-src"))
        .status()
        .unwrap_or_else(|e| panic!("cp: {e}"));
    assert!(status.success(), "cp -a rust-src js-src failed");
    let (mut rust, mut js) = (Samples::default(), Samples::default());
    for run in 0..options.runs {
        for side in ["rust", "js"] {
            if side == "js" && run >= shape.js_runs {
                continue;
            }
            eprintln!("W4 {count} files, run {}: {side}", run + 1);
            let s = if side == "rust" { &mut rust } else { &mut js };
            let home = p(&format!("home-{side}"));
            let sharer = if side == "rust" {
                net::rust_share(&net, options, &src, &home, &scratch, false, 7200)
            } else {
                net::js_serve(&net, &options.lab, &p("js-src"), &home, &scratch)
            };
            // A folder per run, all removed when W4 ends: creating files right after deleting
            // many makes ext4 skip each recently deleted inode (`recently_deleted` in its
            // inode allocator), which made later clones 2-4x slower than the first.
            let dst = p(&format!("dst-{side}-{run}"));
            let (argv, env) = net::clone_command(options, side, &sharer, &dst, &home, 7200);
            sharer.task.reset_peak();
            let cpu0 = sharer.task.cpu_s();
            let w0 = net.wire_bytes();
            let mut task = Task::spawn(
                &format!("{side} clone"),
                net.wrap(argv),
                &env,
                &scratch,
                Stdout::Lines,
            );
            let cap = if side == "js" { shape.js_cap } else { None };
            let started = Instant::now();
            while cap.is_some_and(|c| started.elapsed() < c) && task.running() {
                std::thread::sleep(Duration::from_millis(50));
            }
            let capped = task.running() && cap.is_some();
            let done = if capped {
                task.stop(10)
            } else {
                task.finish(7200)
            };
            let w1 = net.wire_bytes();
            s.send_cpu.push(sharer.task.cpu_s() - cpu0);
            s.send_rss.push(sharer.task.peak_mb());
            sharer.task.stop(10);
            if capped {
                let have = expected
                    .iter()
                    .filter(|(path, e)| {
                        net::file_sha256(&dst.join(path.trim_start_matches('/')))
                            == Some((e.size, e.sha256))
                    })
                    .count();
                s.capped.push(have);
            } else {
                check(side, &done, &dst, &expected);
            }
            s.reconnects += done
                .event("complete")
                .map_or(0, |e| e["reconnects"].as_u64().unwrap_or(0))
                + done
                    .stderr
                    .lines()
                    .filter(|l| l.contains("connection closed"))
                    .count() as u64
                    * u64::from(capped);
            let meta = done.event_time("metadata-complete");
            s.meta_s.push(meta.map_or(f64::NAN, |t| t.as_secs_f64()));
            s.all_s.push(done.wall.as_secs_f64());
            s.cpu.push(done.cpu_s);
            s.rss.push(done.rss_mb);
            if let (Some(a), Some(b)) = (w0, w1)
                && !capped
            {
                s.wire.push((b - a) as f64 / payload as f64);
            }
        }
    }
    let files = if count >= 1000 {
        format!("{}k", count / 1000)
    } else {
        count.to_string()
    };
    let what = format!("W4 clone {files} files of 1–4 KiB in {folders} folders");
    let wire = |s: &Samples| {
        if s.wire.is_empty() {
            "—".to_string()
        } else {
            format!("{:.2}×", median(s.wire.clone()))
        }
    };
    let js_runs = shape.js_runs.min(options.runs);
    let runs_note = if js_runs < options.runs {
        format!("; JS {js_runs} run")
    } else {
        String::new()
    };
    let (check_all, cap_note) = match js.capped.first() {
        Some(have) => (
            format!("sha256 of all {count} files ✓ Rust; JS stopped at the cap"),
            format!(
                "; JS stopped after {:.0} s (cap) holding {have} of {count} files: its figure is \
                 a lower bound",
                js.all_s.first().copied().unwrap_or(f64::NAN)
            ),
        ),
        None => (format!("sha256 of all {count} files ✓ both"), String::new()),
    };
    let rows = vec![
        Row {
            workload: format!("{what}: metadata complete"),
            unit: "s",
            rust: median_side(&rust.meta_s, &rust.cpu, &rust.rss),
            js: median_side(&js.meta_s, &js.cpu, &js.rss),
            check: check_all.clone(),
            note: format!(
                "from the clone's start to its metadata-complete line; lower is better; costs = \
                 the whole clone{runs_note}"
            ),
        },
        Row {
            workload: format!("{what}: content complete"),
            unit: "s",
            rust: median_side(&rust.all_s, &rust.cpu, &rust.rss),
            js: median_side(&js.all_s, &js.cpu, &js.rss),
            check: check_all,
            note: format!(
                "whole clone process; sender CPU s R/JS {:.2} / {:.2}, peak RSS MB {:.0} / {:.0}; \
                 wire / payload ({}) {} / {}; JS serves a copy of the Rust-made archive \
                 (`dat-serve.js`); JS dialled again after a dropped connection {} times{cap_note}",
                median(rust.send_cpu.clone()),
                median(js.send_cpu.clone()),
                median(rust.send_rss.clone()),
                median(js.send_rss.clone()),
                net::mb(payload as f64),
                wire(&rust),
                wire(&js),
                js.reconnects,
            ),
        },
    ];
    let details = vec![format!(
        "W4 {files}: archive made by `dat create` in {:.1} s; metadata complete s Rust {:.2?}, \
         JS {:.2?}; content complete s Rust {:.2?}, JS {:.2?}",
        import.wall.as_secs_f64(),
        rust.meta_s,
        js.meta_s,
        rust.all_s,
        js.all_s
    )];
    (rows, details)
}

/// A finished clone printed its end event and holds every file.
fn check(side: &str, done: &Done, dst: &std::path::Path, expected: &data::Expected) {
    let end = done.event(if side == "rust" { "cloned" } else { "complete" });
    if let Err(e) = end
        .as_ref()
        .ok_or("no end event".to_string())
        .and_then(|_| net::check_tree(dst, expected))
    {
        panic!(
            "W4 {side} clone: {e}; it printed {:?}\nstderr: {}",
            done.json()
                .into_iter()
                .filter(|j| j["event"] != "progress")
                .collect::<Vec<_>>(),
            net::tail(&done.stderr)
        );
    }
}
