//! W2: import many small files (1–4 KiB) into a new archive: 100k files in 100 folders, and
//! 20k files in one folder. The import rate is sampled per window of files from the metadata
//! feed's length (see [`crate::measure`]); it must stay flat. JS hyperdrive slows down as
//! folders fill up (append-tree's index grows with each folder), so the JS side is stopped
//! after its first 10k files (100 folders) or after a time cap (one folder), and compared on
//! the files it did.

use std::path::Path;
use std::time::Duration;

use crate::Options;
use crate::check;
use crate::data::{self, Expected};
use crate::measure;
use crate::report::{Row, median, median_side};

/// One W2 shape.
struct Shape {
    name: &'static str,
    count: u64,
    folders: u64,
    /// Files per window of the Rust rate.
    window: u64,
    /// Stop JS after this many files (0: all).
    js_max_files: u64,
    /// Stop both sides after the time cap (`--js-cap-seconds`); a side whose first run is
    /// stopped runs once.
    capped: bool,
}

fn shapes(options: &Options) -> [Shape; 2] {
    if options.smoke {
        return [
            Shape {
                name: "W2 import 2k files of 1–4 KiB in 10 folders",
                count: 2000,
                folders: 10,
                window: 500,
                js_max_files: 1000,
                capped: false,
            },
            Shape {
                name: "W2 import 2k files of 1–4 KiB in one folder",
                count: 2000,
                folders: 1,
                window: 250,
                js_max_files: 0,
                capped: true,
            },
        ];
    }
    [
        Shape {
            name: "W2 import 100k files of 1–4 KiB in 100 folders",
            count: 100_000,
            folders: 100,
            window: 10_000,
            js_max_files: 10_000,
            capped: false,
        },
        Shape {
            name: "W2 import 20k files of 1–4 KiB in one folder",
            count: 20_000,
            folders: 1,
            window: 2_000,
            js_max_files: 0,
            capped: true,
        },
    ]
}

/// One side's samples over its runs.
#[derive(Default)]
struct Runs {
    rate: Vec<f64>,
    cpu: Vec<f64>,
    rss: Vec<f64>,
    /// Per run, files/s in each window.
    windows: Vec<Vec<f64>>,
    files: Vec<f64>,
    ms: Vec<f64>,
    meta_per_file: Vec<f64>,
}

impl Runs {
    fn push(&mut self, out: &measure::Outcome, files: u64, secs: f64, window: u64, dir: &Path) {
        self.rate.push(files as f64 / secs);
        self.ms.push(secs * 1000.0);
        self.files.push(files as f64);
        self.cpu.push(out.cpu_s);
        self.rss.push(out.rss_mb);
        self.windows.push(out.window_rates(window));
        self.meta_per_file
            .push(check::metadata_bytes(dir).0 as f64 / files.max(1) as f64);
    }

    /// Median rate of each window over the runs that reached it.
    fn window_medians(&self) -> Vec<f64> {
        let n = self.windows.iter().map(Vec::len).max().unwrap_or(0);
        (0..n)
            .map(|i| {
                median(
                    self.windows
                        .iter()
                        .filter_map(|w| w.get(i).copied())
                        .collect(),
                )
            })
            .collect()
    }
}

/// Run W2; returns its rows and detail lines.
pub fn run(options: &Options) -> (Vec<Row>, Vec<String>) {
    let mut rows = Vec::new();
    let mut details = Vec::new();
    for shape in shapes(options) {
        let (row, lines) = run_shape(options, &shape);
        rows.push(row);
        details.extend(lines);
    }
    (rows, details)
}

fn run_shape(options: &Options, shape: &Shape) -> (Row, Vec<String>) {
    let root = tempfile::tempdir_in(crate::feed_append::scratch())
        .unwrap_or_else(|e| panic!("tempdir: {e}"));
    let dir = root.path().join("w2");
    let secrets = root.path().join("home/.dat/secret_keys");
    eprintln!("{}: generating", shape.name);
    let expected: Expected = data::small_files(&dir, shape.count, shape.folders);
    let js_cap = options.js_cap_seconds;
    let js_window = if shape.js_max_files > 0 {
        (shape.js_max_files / 10).max(1)
    } else {
        shape.window
    };

    let cap = Duration::from_secs(js_cap);
    let mut rust = Runs::default();
    let mut leaves = Vec::new();
    let mut rust_entries = Vec::new();
    let mut rust_capped = false;
    for run in 0..options.runs {
        eprintln!("{} run {}: Rust", shape.name, run + 1);
        check::reset(&dir, &secrets);
        let child = measure::rust_import(
            options,
            &dir,
            &secrets,
            shape.window,
            shape.capped.then_some(cap),
        );
        let out = measure::run(&child, root.path());
        let (files, secs) = if out.capped {
            (out.files, out.sampled.as_secs_f64())
        } else {
            assert_eq!(out.num("added"), shape.count as f64, "{}", out.result());
            (shape.count, out.ms() / 1000.0)
        };
        rust.push(&out, files, secs, shape.window, &dir);
        if run == 0 {
            check::rust_read_back(&dir, &secrets, &expected, !out.capped);
            leaves = check::content_leaves(&dir);
            rust_entries = check::metadata_entry_sizes(&dir);
        }
        if out.capped {
            rust_capped = true;
            break;
        }
    }

    let mut js = Runs::default();
    let mut same = false;
    let mut stopped = String::new();
    let mut entries_per_file = (f64::NAN, f64::NAN, 0);
    for run in 0..options.runs {
        eprintln!("{} run {}: JS", shape.name, run + 1);
        check::reset(&dir, &secrets);
        let child = measure::js_import(
            options,
            &dir,
            &secrets,
            js_window,
            shape.js_max_files,
            if shape.capped || shape.js_max_files > 0 {
                js_cap
            } else {
                0
            },
        );
        let out = measure::run(&child, root.path());
        let files = out.num("files") as u64;
        js.push(&out, files, out.ms() / 1000.0, js_window, &dir);
        stopped = out.result()["stopped"].as_str().unwrap_or("").to_string();
        if run == 0 {
            check::js_read_back(
                &options.lab,
                &dir,
                &secrets,
                &expected,
                files,
                !stopped.is_empty(),
            );
            let js_leaves = check::content_leaves(&dir);
            let js_entries = check::metadata_entry_sizes(&dir);
            let n = js_entries.len().min(rust_entries.len());
            let per_file = |v: &[u64]| v[..n].iter().sum::<u64>() as f64 / n.max(1) as f64;
            entries_per_file = (per_file(&rust_entries), per_file(&js_entries), n);
            same = check::same_leaves(&leaves, &js_leaves, files.min(leaves.len() as u64) as usize);
        }
        if stopped == "max-seconds" {
            break;
        }
    }
    check::reset(&dir, &secrets);

    let rust_windows = rust.window_medians();
    let flat = rust_windows.iter().copied().fold(f64::MIN, f64::max)
        / rust_windows.iter().copied().fold(f64::MAX, f64::min);
    let js_files = median(js.files.clone()) as u64;
    let rust_files = median(rust.files.clone()) as u64;
    let rust_scope = if rust_capped {
        format!("Rust: stopped at {rust_files} files after {js_cap} s (1 run)")
    } else {
        format!("Rust: all {rust_files} files")
    };
    let js_scope = match stopped.as_str() {
        "max-files" => format!("JS: its first {js_files} files"),
        "max-seconds" => format!(
            "JS: stopped at {js_files} files after {js_cap} s ({} run)",
            js.files.len()
        ),
        _ => format!("JS: all {js_files} files"),
    };
    let row = Row {
        workload: shape.name.to_string(),
        unit: "files/s",
        rust: median_side(&rust.rate, &rust.cpu, &rust.rss),
        js: median_side(&js.rate, &js.cpu, &js.rss),
        check: format!(
            "sha256 read back ✓ both; content leaves {} JS",
            if same { "=" } else { "≠ (!)" }
        ),
        note: format!(
            "{rust_scope}, {}-file windows flat within **{flat:.2}×** (max/min); {js_scope}; \
             metadata {:.0} B/file Rust, {:.0} B/file JS; {}",
            shape.window,
            median(rust.meta_per_file.clone()),
            median(js.meta_per_file.clone()),
            measure::rust_label(options),
        ),
    };
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let details = vec![
        format!(
            "{}: Rust files/s per {}-file window (median of {} run(s)): {} — {rust_scope}, \
             max/min {flat:.2}, {:.1} s, peak RSS {:.0} MB",
            shape.name,
            shape.window,
            rust.windows.len(),
            fmt(&rust_windows),
            median(rust.ms.clone()) / 1000.0,
            median(rust.rss.clone()),
        ),
        format!(
            "{}: metadata entries over the first {} files: {:.1} B/file Rust, {:.1} B/file JS \
             (whole metadata feed on disk per file: see the row)",
            shape.name, entries_per_file.2, entries_per_file.0, entries_per_file.1,
        ),
        format!(
            "{}: JS files/s per {js_window}-file window ({} run(s)): {} — {js_scope}, {:.1} s, \
             peak RSS {:.0} MB",
            shape.name,
            js.windows.len(),
            fmt(&js.window_medians()),
            median(js.ms.clone()) / 1000.0,
            median(js.rss.clone()),
        ),
    ];
    (row, details)
}
