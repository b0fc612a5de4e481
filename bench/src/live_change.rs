//! W7: one new 4 KiB file in a shared archive of 10k small files (1–4 KiB in 100 folders)
//! that a live clone follows: the time from writing the file into the sharer's folder until
//! the clone's folder holds it (right size and sha256), and the wire bytes in that window.
//! Rust: `dat share` (notified of changes by inotify; it imports the changed paths) → `dat sync
//! --peer` on a finished `dat clone`; JS: the JS CLI's `dat share` (which watches the folder
//! for changes) → `net-bench.js clone --live` on a finished clone (dat-node as `dat sync`
//! runs it). Also when the sharer had imported the file (its metadata feed grew), sampled
//! from outside, so detection and replication can be told apart.

use std::time::{Duration, Instant};

use crate::Options;
use crate::data;
use crate::measure::metadata_len;
use crate::net::{self, Net, Sharer, Stdout, Task};
use crate::report::{Row, median, median_side};

#[derive(Default)]
struct Samples {
    ms: Vec<f64>,
    import_ms: Vec<f64>,
    cpu: Vec<f64>,
    rss: Vec<f64>,
    send_cpu: Vec<f64>,
    wire: Vec<f64>,
}

/// Run W7.
pub fn run(options: &Options) -> (Vec<Row>, Vec<String>) {
    let (count, folders) = if options.smoke {
        (300, 10)
    } else {
        (10_000, 100)
    };
    let root = tempfile::tempdir_in(crate::feed_append::scratch())
        .unwrap_or_else(|e| panic!("tempdir: {e}"));
    let p = |s: &str| root.path().join(s);
    for d in ["home-rust", "home-js", "scratch"] {
        std::fs::create_dir_all(p(d)).unwrap_or_else(|e| panic!("mkdir {d}: {e}"));
    }
    let scratch = p("scratch");
    eprintln!("W7: generating {count} files (twice: one sharer folder per side)");
    let expected = data::small_files(&p("rust-src"), count, folders);
    assert_eq!(data::small_files(&p("js-src"), count, folders), expected);
    let net = Net::new("w7");

    // Each side: its sharer, a finished clone, then the live follower.
    let mut pairs: Vec<(Sharer, Task)> = Vec::new();
    for side in ["rust", "js"] {
        eprintln!("W7: {side} share, clone, then follow live");
        let home = p(&format!("home-{side}"));
        let src = p(&format!("{side}-src"));
        let dst = p(&format!("dst-{side}"));
        let d = dst.to_string_lossy().into_owned();
        let sharer = if side == "rust" {
            net::rust_share(&net, options, &src, &home, &scratch, true, 3600)
        } else {
            net::js_share(&net, &options.lab, &src, &home, &scratch, 3600)
        };
        let (clone, follow, env) = if side == "rust" {
            let (link, addr) = (sharer.link(), sharer.addr());
            (
                net::dat(options, &["--json", "clone", &link, &d, "--peer", &addr]),
                net::dat(
                    options,
                    &["--json", "sync", &d, "--peer", &addr, "--port", "0"],
                ),
                net::rust_env(&home),
            )
        } else {
            let (key, addr) = (sharer.key.clone(), sharer.addr());
            (
                net::js_bench(&["clone", &key, &d, &addr]),
                net::js_bench(&["clone", &key, &d, &addr, "--live"]),
                net::js_env(&options.lab, &home, 7200),
            )
        };
        Task::spawn(
            &format!("{side} clone"),
            net.wrap(clone),
            &env,
            &scratch,
            Stdout::Lines,
        )
        .finish(3600);
        if let Err(e) = net::check_tree(&dst, &expected) {
            panic!("W7 {side} clone: {e}");
        }
        let mut follower = Task::spawn(
            &format!("{side} follow"),
            net.wrap(follow),
            &env,
            &scratch,
            Stdout::Lines,
        );
        follower.json_event(
            300,
            if side == "rust" {
                "peer-connected"
            } else {
                "complete"
            },
        );
        pairs.push((sharer, follower));
    }

    let (mut rust, mut js) = (Samples::default(), Samples::default());
    for run in 0..options.runs {
        for (i, side) in ["rust", "js"].into_iter().enumerate() {
            eprintln!("W7 run {}: {side}", run + 1);
            let s = if side == "rust" { &mut rust } else { &mut js };
            let (sharer, follower) = &pairs[i];
            let src = p(&format!("{side}-src"));
            let dst = p(&format!("dst-{side}"));
            let rel = format!("new/r{run}.bin");
            let meta0 = metadata_len(&src);
            let (recv0, send0) = (follower.cpu_s(), sharer.task.cpu_s());
            let w0 = net.wire_bytes();
            let t0 = Instant::now();
            let want = data::write_file(&src.join(&rel), (7 << 40) + run as u64, 4096);
            let mut imported = None;
            let done = loop {
                if imported.is_none() && metadata_len(&src) > meta0 {
                    imported = Some(t0.elapsed());
                }
                if net::file_sha256(&dst.join(&rel)) == Some((want.size, want.sha256)) {
                    break t0.elapsed();
                }
                assert!(
                    t0.elapsed() < Duration::from_secs(120),
                    "W7 {side}: the clone did not get {rel} within 120 s"
                );
                std::thread::sleep(Duration::from_millis(1));
            };
            let w1 = net.wire_bytes();
            s.ms.push(done.as_secs_f64() * 1000.0);
            s.import_ms
                .push(imported.map_or(f64::NAN, |t| t.as_secs_f64() * 1000.0));
            s.cpu.push(follower.cpu_s() - recv0);
            s.rss.push(follower.peak_mb());
            s.send_cpu.push(sharer.task.cpu_s() - send0);
            if let (Some(a), Some(b)) = (w0, w1) {
                s.wire.push((b - a) as f64);
            }
        }
    }
    for (sharer, follower) in pairs {
        follower.stop(10);
        sharer.task.stop(10);
    }
    let k = if count >= 1000 {
        format!("{}k", count / 1000)
    } else {
        count.to_string()
    };
    let wire = |s: &Samples| {
        if s.wire.is_empty() {
            "—".to_string()
        } else {
            format!("{:.1} KB", median(s.wire.clone()) / 1e3)
        }
    };
    let rows = vec![Row {
        workload: format!(
            "W7 one new 4 KiB file in a shared {k}-file archive: until the live clone has it"
        ),
        unit: "ms",
        rust: median_side(&rust.ms, &rust.cpu, &rust.rss),
        js: median_side(&js.ms, &js.cpu, &js.rss),
        check: "sha256 of the new file in the clone ✓ both".into(),
        note: format!(
            "lower is better; of which until the sharer had imported it {:.0} / {:.0} ms (both \
             watch the folder: inotify, 20 ms after the file is closed / fs.watch), from then on {:.0} / \
             {:.0} ms; wire {} / {}; CPU = the follower (`dat sync` / JS live clone) in that \
             window, RSS its peak",
            median(rust.import_ms.clone()),
            median(js.import_ms.clone()),
            median(after(&rust)),
            median(after(&js)),
            wire(&rust),
            wire(&js)
        ),
    }];
    let details = vec![format!(
        "W7: until the clone has it, ms per run Rust {:?}, JS {:?}; until imported Rust {:?}, JS {:?}; \
         sender CPU s Rust {:.3}, JS {:.3}",
        rounded(&rust.ms),
        rounded(&js.ms),
        rounded(&rust.import_ms),
        rounded(&js.import_ms),
        median(rust.send_cpu.clone()),
        median(js.send_cpu.clone()),
    )];
    (rows, details)
}

/// From the sharer's import to the clone having the file, per run.
fn after(s: &Samples) -> Vec<f64> {
    s.ms.iter().zip(&s.import_ms).map(|(a, b)| a - b).collect()
}

fn rounded(v: &[f64]) -> Vec<i64> {
    v.iter().map(|x| x.round() as i64).collect()
}
