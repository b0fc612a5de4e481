//! W3: clone one 1 GiB file over loopback, one peer, a direct connection: Rust `dat share` →
//! Rust `dat clone --peer` beside the JS CLI's `dat share` → JS clone (`net-bench.js clone`:
//! dat-node as `dat clone` opens it, replicating over one TCP socket). Both pairs run in the
//! bench's own network namespace, whose loopback counts the wire bytes.
//!
//! W8: the same clone, the receiver killed with SIGKILL once half the payload has crossed the
//! wire, then run again on the same folder: how much it fetches beyond what was missing.
//! The resumed Rust copy must pass `dat verify`, and the JS client clones from it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::Options;
use crate::data::{self, Expect, hex};
use crate::net::{self, Done, Net, Sharer, Stdout, Task};
use crate::report::{Row, median, median_side};

/// The generated file, and a sharer folder for each side (two copies: each side keeps its
/// own `.dat` beside it).
pub struct BigData {
    /// Holds everything; removed on drop.
    pub root: tempfile::TempDir,
    /// Payload bytes.
    pub size: u64,
    /// `big.bin`'s size and sha256.
    pub expect: Expect,
}

impl BigData {
    /// Generate `size` bytes as `big.bin` in `rust-src/` and `js-src/`.
    pub fn new(size: u64, what: &str) -> Self {
        let root = tempfile::tempdir_in(crate::feed_append::scratch())
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        eprintln!("{what}: generating {size} bytes (twice: one sharer folder per side)");
        let expect = data::write_file(&root.path().join("rust-src/big.bin"), 3 << 40, size);
        let again = data::write_file(&root.path().join("js-src/big.bin"), 3 << 40, size);
        assert_eq!(expect, again);
        for d in ["home-rust", "home-js", "scratch"] {
            std::fs::create_dir_all(root.path().join(d))
                .unwrap_or_else(|e| panic!("mkdir {d}: {e}"));
        }
        Self { root, size, expect }
    }

    /// A path under the root.
    pub fn path(&self, p: &str) -> PathBuf {
        self.root.path().join(p)
    }

    /// Where the tasks keep their time and stderr files.
    pub fn scratch(&self) -> PathBuf {
        self.path("scratch")
    }

    /// Start the sharer of `side` ("rust" or "js").
    pub fn share(&self, net: &Net, options: &Options, side: &str) -> Sharer {
        let src = self.path(&format!("{side}-src"));
        let home = self.path(&format!("home-{side}"));
        if side == "rust" {
            net::rust_share(net, options, &src, &home, &self.scratch(), false, 1800)
        } else {
            net::js_share(net, &options.lab, &src, &home, &self.scratch(), 1800)
        }
    }

    /// The clone of `sharer` into `dst` by `side`, started.
    pub fn clone_task(
        &self,
        net: &Net,
        options: &Options,
        side: &str,
        sharer: &Sharer,
        dst: &Path,
    ) -> Task {
        let home = self.path(&format!("home-{side}"));
        let (argv, env) = net::clone_command(options, side, sharer, dst, &home, self.timeout());
        Task::spawn(
            &format!("{side} clone"),
            net.wrap(argv),
            &env,
            &self.scratch(),
            Stdout::Lines,
        )
    }

    /// Longest a clone may take.
    pub fn timeout(&self) -> u64 {
        120 + self.size / 1_000_000
    }

    /// `dst/big.bin` is the generated file.
    pub fn check(&self, dst: &Path, who: &str) {
        let got = net::file_sha256(&dst.join("big.bin"));
        assert_eq!(
            got,
            Some((self.expect.size, self.expect.sha256)),
            "{who}: the cloned big.bin differs from the source (sha256 {})",
            hex(&self.expect.sha256)
        );
    }
}

/// The payload bytes a finished clone reports it downloaded in this run (content and
/// metadata): Rust `cloned.downloadedBytes`; JS `complete.downloadedBytes` (content) plus its
/// metadata blocks' bytes.
fn downloaded(side: &str, done: &Done) -> f64 {
    if side == "rust" {
        let ev = done.event("cloned").unwrap_or_default();
        ev["downloadedBytes"].as_f64().unwrap_or(f64::NAN)
    } else {
        let ev = done.event("complete").unwrap_or_default();
        ev["downloadedBytes"].as_f64().unwrap_or(f64::NAN)
            + ev["metadataDownloadedBytes"].as_f64().unwrap_or(0.0)
    }
}

/// Per-side samples.
#[derive(Default)]
struct Samples {
    mbps: Vec<f64>,
    inproc_mbps: Vec<f64>,
    cpu: Vec<f64>,
    rss: Vec<f64>,
    send_cpu: Vec<f64>,
    send_rss: Vec<f64>,
    wire: Vec<f64>,
}

/// Run W3.
pub fn run_w3(options: &Options) -> (Vec<Row>, Vec<String>) {
    let size: u64 = if options.smoke { 32 << 20 } else { 1 << 30 };
    let d = BigData::new(size, "W3");
    let net = Net::new("w3");
    let (mut rust, mut js) = (Samples::default(), Samples::default());
    for run in 0..options.runs {
        for side in ["rust", "js"] {
            eprintln!("W3 run {}: {side}", run + 1);
            let s = if side == "rust" { &mut rust } else { &mut js };
            let sharer = d.share(&net, options, side);
            let dst = d.path(&format!("dst-{side}"));
            net::rm(&dst);
            sharer.task.reset_peak();
            let cpu0 = sharer.task.cpu_s();
            let w0 = net.wire_bytes();
            let done = d
                .clone_task(&net, options, side, &sharer, &dst)
                .finish(d.timeout());
            let w1 = net.wire_bytes();
            s.send_cpu.push(sharer.task.cpu_s() - cpu0);
            s.send_rss.push(sharer.task.peak_mb());
            sharer.task.stop(10);
            let inproc = if side == "rust" {
                done.event("cloned").unwrap_or_default()["seconds"]
                    .as_f64()
                    .unwrap_or(f64::NAN)
            } else {
                done.event("complete").unwrap_or_default()["ms"]
                    .as_f64()
                    .unwrap_or(f64::NAN)
                    / 1000.0
            };
            assert!(
                downloaded(side, &done) >= size as f64,
                "{side} clone downloaded {} of {size} bytes",
                downloaded(side, &done)
            );
            d.check(&dst, side);
            net::rm(&dst);
            s.mbps.push(size as f64 / 1e6 / done.wall.as_secs_f64());
            s.inproc_mbps.push(size as f64 / 1e6 / inproc);
            s.cpu.push(done.cpu_s);
            s.rss.push(done.rss_mb);
            if let (Some(a), Some(b)) = (w0, w1) {
                s.wire.push((b - a) as f64 / size as f64);
            }
        }
    }
    let mib = size >> 20;
    let wire = |s: &Samples| {
        if s.wire.is_empty() {
            f64::NAN
        } else {
            median(s.wire.clone())
        }
    };
    let rows = vec![
        Row {
            workload: format!("W3 clone one {mib} MiB file over loopback: receiver"),
            unit: "MB/s",
            rust: median_side(&rust.mbps, &rust.cpu, &rust.rss),
            js: median_side(&js.mbps, &js.cpu, &js.rss),
            check: "sha256 of the clone ✓ both".into(),
            note: "whole `dat clone --peer` process (start to exit) / JS `net-bench.js clone` \
                   (dat-node as `dat clone`, one TCP socket); costs = receiver"
                .into(),
        },
        Row {
            workload: format!("W3 clone one {mib} MiB file: sender, wire bytes / payload"),
            unit: "×",
            rust: median_side(&[wire(&rust)], &rust.send_cpu, &rust.send_rss),
            js: median_side(&[wire(&js)], &js.send_cpu, &js.send_rss),
            check: "sha256 of the clone ✓ both".into(),
            note: if net.name().is_some() {
                "Rust `dat share --no-watch` / JS CLI `dat share`; CPU during the clone, peak RSS \
                 while serving (VmHWM reset at clone start); wire = the bench netns's loopback \
                 bytes, both directions, TCP/IP headers included"
                    .into()
            } else {
                format!("wire bytes not measured: {}", net.why_not)
            },
        },
    ];
    let details = vec![format!(
        "W3: receiver MB/s per run Rust {:?}, JS {:?}; in-process (Rust `cloned.seconds`, JS \
         start to 'sync') Rust {:?}, JS {:?}",
        rounded(&rust.mbps),
        rounded(&js.mbps),
        rounded(&rust.inproc_mbps),
        rounded(&js.inproc_mbps)
    )];
    (rows, details)
}

/// One W8 run of one side.
struct Resume {
    /// Payload bytes the clone held when it was killed.
    held: f64,
    /// Payload bytes in all (content + metadata).
    total: f64,
    /// Payload bytes the resumed clone downloaded.
    fetched: f64,
    /// Wire bytes of the resumed run.
    wire: Option<u64>,
    /// Wire bytes of the killed run beyond the payload it kept (in flight at the kill, and
    /// protocol overhead).
    lost: Option<f64>,
    /// The resumed run.
    done: Done,
}

impl Resume {
    fn again(&self) -> f64 {
        self.fetched - (self.total - self.held)
    }
}

/// Payload bytes a Rust `dat status --json` says the clone in `dst` holds, and in all.
fn rust_status(net: &Net, options: &Options, d: &BigData, dst: &Path) -> (f64, f64) {
    let dd = dst.to_string_lossy();
    let done = Task::spawn(
        "rust status",
        net.wrap(net::dat(options, &["--json", "status", &dd])),
        &net::rust_env(&d.path("home-rust")),
        &d.scratch(),
        Stdout::Lines,
    )
    .finish(60);
    let j = done.json().into_iter().last().unwrap_or_default();
    let f = |feed: &str, k: &str| j[feed][k].as_f64().unwrap_or(f64::NAN);
    (
        f("content", "downloadedBytes") + f("metadata", "downloadedBytes"),
        f("content", "bytes") + f("metadata", "bytes"),
    )
}

fn resume_once(net: &Net, options: &Options, d: &BigData, side: &str, sharer: &Sharer) -> Resume {
    let dst = d.path(&format!("dst-{side}"));
    let half = d.size / 2;
    for attempt in 0..3 {
        net::rm(&dst);
        let w0 = net.wire_bytes();
        let mut task = d.clone_task(net, options, side, sharer, &dst);
        let deadline = Instant::now() + Duration::from_secs(d.timeout());
        let mut killed = false;
        while task.running() && Instant::now() < deadline {
            let crossed = match (w0, net.wire_bytes()) {
                (Some(a), Some(b)) => b - a,
                // Without a namespace: the clone's file as written so far.
                _ => std::fs::metadata(dst.join("big.bin")).map_or(0, |m| {
                    use std::os::unix::fs::MetadataExt;
                    m.blocks() * 512
                }),
            };
            if crossed >= half {
                task.kill9();
                killed = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let first = task.wait(60);
        if !killed || first.ok {
            eprintln!("W8 {side}: the clone ended before half (attempt {attempt}); again");
            continue;
        }
        // What the clone holds, in its own view: Rust `dat status`; JS, the `opened` event
        // of the resumed run (before it connects).
        let (rust_held, rust_total) = if side == "rust" {
            rust_status(net, options, d, &dst)
        } else {
            (f64::NAN, f64::NAN)
        };
        let w1 = net.wire_bytes();
        let killed_wire = w0.zip(w1).map(|(a, b)| (b - a) as f64);
        let done = d
            .clone_task(net, options, side, sharer, &dst)
            .finish(d.timeout());
        let w2 = net.wire_bytes();
        d.check(&dst, &format!("W8 {side} resumed"));
        let (held, total) = if side == "rust" {
            (rust_held, rust_total)
        } else {
            let o = done.event("opened").unwrap_or_default();
            let c = done.event("complete").unwrap_or_default();
            let meta = c["metadataDownloadedBytes"].as_f64().unwrap_or(0.0);
            // JS counts content only when it opens: metadata is all fetched again or held;
            // count what it fetched as held-or-missing either way.
            (
                o["contentHaveBytes"].as_f64().unwrap_or(f64::NAN),
                c["contentBytes"].as_f64().unwrap_or(f64::NAN) + meta,
            )
        };
        return Resume {
            lost: killed_wire.map(|w| w - held),
            held,
            total,
            fetched: downloaded(side, &done),
            wire: w1.zip(w2).map(|(a, b)| b - a),
            done,
        };
    }
    panic!("W8 {side}: three clones ended before half of the payload had crossed");
}

/// Run W8.
pub fn run_w8(options: &Options) -> (Vec<Row>, Vec<String>) {
    let size: u64 = if options.smoke { 64 << 20 } else { 1 << 30 };
    let d = BigData::new(size, "W8");
    let net = Net::new("w8");
    let mut again: [Vec<f64>; 2] = Default::default();
    let mut cpu: [Vec<f64>; 2] = Default::default();
    let mut rss: [Vec<f64>; 2] = Default::default();
    let mut held: [Vec<f64>; 2] = Default::default();
    let mut wire: [Vec<f64>; 2] = Default::default();
    let mut lost: [Vec<f64>; 2] = Default::default();
    let mut verified = String::new();
    let mut js_from_resumed = String::new();
    for run in 0..options.runs {
        for (i, side) in ["rust", "js"].into_iter().enumerate() {
            eprintln!("W8 run {}: {side}", run + 1);
            let sharer = d.share(&net, options, side);
            let r = resume_once(&net, options, &d, side, &sharer);
            sharer.task.stop(10);
            again[i].push(r.again());
            cpu[i].push(r.done.cpu_s);
            rss[i].push(r.done.rss_mb);
            held[i].push(r.held / r.total * 100.0);
            if let Some(l) = r.lost {
                lost[i].push(l);
            }
            if let Some(w) = r.wire {
                wire[i].push(w as f64 - (r.total - r.held));
            }
            let dst = d.path(&format!("dst-{side}"));
            if side == "rust" && run == 0 {
                verified = verify(&net, options, &d, &dst);
                js_from_resumed = js_clone_of(&net, options, &d, &dst);
            }
            net::rm(&dst);
        }
    }
    let mib = size >> 20;
    let rows = vec![Row {
        workload: format!(
            "W8 kill -9 of the receiver at ~50% of a {mib} MiB clone, restart: fetched again"
        ),
        unit: "MB",
        rust: median_side(
            &again[0].iter().map(|b| b / 1e6).collect::<Vec<_>>(),
            &cpu[0],
            &rss[0],
        ),
        js: median_side(
            &again[1].iter().map(|b| b / 1e6).collect::<Vec<_>>(),
            &cpu[1],
            &rss[1],
        ),
        check: format!("sha256 ✓ both; Rust copy: {verified}; {js_from_resumed}"),
        note: format!(
            "payload fetched by the restarted clone beyond what was missing (Rust: `dat status` \
             after the kill; JS: its own count on reopening); held at the kill {:.0}% / {:.0}%; \
             {:.2}% / {:.2}% of the payload; costs = the restarted clone",
            median(held[0].clone()),
            median(held[1].clone()),
            median(again[0].clone()) / size as f64 * 100.0,
            median(again[1].clone()) / size as f64 * 100.0,
        ),
    }];
    let details = vec![format!(
        "W8: fetched again per run (bytes) Rust {:?}, JS {:?}; wire bytes of the restarted clone \
         beyond the missing payload (protocol overhead included) Rust {:?}, JS {:?}; wire bytes \
         of the killed run beyond the payload it kept (in flight at the kill, overhead) Rust \
         {:?}, JS {:?}",
        rounded(&again[0]),
        rounded(&again[1]),
        rounded(&wire[0]),
        rounded(&wire[1]),
        rounded(&lost[0]),
        rounded(&lost[1])
    )];
    (rows, details)
}

/// `dat verify` on the resumed clone.
fn verify(net: &Net, options: &Options, d: &BigData, dst: &Path) -> String {
    let dd = dst.to_string_lossy();
    let done = Task::spawn(
        "rust verify",
        net.wrap(net::dat(options, &["--json", "verify", &dd])),
        &net::rust_env(&d.path("home-rust")),
        &d.scratch(),
        Stdout::Lines,
    )
    .wait(600);
    if done.ok {
        "`dat verify` ✓".into()
    } else {
        format!("`dat verify` FAILED (!): {}", net::tail(&done.stderr))
    }
}

/// The JS client clones the resumed Rust copy, served by `dat sync`.
fn js_clone_of(net: &Net, options: &Options, d: &BigData, dst: &Path) -> String {
    let dd = dst.to_string_lossy();
    let mut sync = Task::spawn(
        "rust sync",
        net.wrap(net::dat(options, &["--json", "sync", &dd, "--port", "0"])),
        &net::rust_env(&d.path("home-rust")),
        &d.scratch(),
        Stdout::Lines,
    );
    let ev = sync.json_event(120, "syncing");
    let sharer = Sharer {
        key: ev["link"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("dat://")
            .to_string(),
        port: ev["port"].as_u64().unwrap_or(0) as u16,
        task: sync,
    };
    let js_dst = d.path("dst-js-of-resumed");
    net::rm(&js_dst);
    let done = d
        .clone_task(net, options, "js", &sharer, &js_dst)
        .wait(d.timeout());
    sharer.task.stop(10);
    let ok = done.ok
        && net::file_sha256(&js_dst.join("big.bin")) == Some((d.expect.size, d.expect.sha256));
    net::rm(&js_dst);
    if ok {
        "JS clones it ✓".into()
    } else {
        format!("JS clone of it FAILED (!): {}", net::tail(&done.stderr))
    }
}

/// Figures rounded for the detail lines.
fn rounded(v: &[f64]) -> Vec<i64> {
    v.iter().map(|x| x.round() as i64).collect()
}
