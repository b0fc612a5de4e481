//! W1: import one 1 GiB file into a new archive (what `dat create DIR` does), then import the
//! unchanged folder again, which must find the file unchanged by its stat and not hash it.
//! Both sides run in the same folder in turn (its `.dat` removed between runs); the file is
//! in the page cache (written just before), so this measures hashing and bookkeeping.

use crate::Options;
use crate::check;
use crate::data::{self, Expected};
use crate::measure::{self, Outcome};
use crate::report::{Row, median_side};

/// Costs of one side over the runs.
#[derive(Default)]
struct Runs {
    mbps: Vec<f64>,
    cpu: Vec<f64>,
    rss: Vec<f64>,
    noop_ms: Vec<f64>,
    noop_cpu: Vec<f64>,
    noop_rss: Vec<f64>,
}

impl Runs {
    fn push(&mut self, size: u64, import: &Outcome, noop: &Outcome) {
        self.mbps.push(size as f64 / 1e6 / (import.ms() / 1000.0));
        self.cpu.push(import.cpu_s);
        self.rss.push(import.rss_mb);
        self.noop_ms.push(noop.ms());
        self.noop_cpu.push(noop.cpu_s);
        self.noop_rss.push(noop.rss_mb);
    }
}

/// Run W1; returns its two rows and detail lines.
pub fn run(options: &Options) -> (Vec<Row>, Vec<String>) {
    let size: u64 = if options.smoke { 8 << 20 } else { 1 << 30 };
    let root = tempfile::tempdir_in(crate::feed_append::scratch())
        .unwrap_or_else(|e| panic!("tempdir: {e}"));
    let dir = root.path().join("w1");
    let secrets = root.path().join("home/.dat/secret_keys");
    eprintln!("W1: generating {size} bytes");
    let mut expected = Expected::new();
    expected.insert(
        "/big.bin".into(),
        data::write_file(&dir.join("big.bin"), 1 << 40, size),
    );
    let (mut rust, mut js) = (Runs::default(), Runs::default());
    let (mut leaves, mut meta) = (Vec::new(), (0, 0));
    let mut same = false;
    for run in 0..options.runs {
        eprintln!("W1 run {}: Rust", run + 1);
        check::reset(&dir, &secrets);
        let child = measure::rust_import(options, &dir, &secrets, 0, None);
        let import = measure::run(&child, root.path());
        assert_eq!(import.num("added"), 1.0, "Rust import: {}", import.result());
        let lengths = feed_lengths(&dir);
        let noop = measure::run(&child, root.path());
        assert_noop(lengths, &dir, "Rust");
        assert!(
            noop.num("unchanged") == 1.0 && noop.num("bytes") == 0.0,
            "Rust re-import re-imported: {}",
            noop.result()
        );
        assert!(
            noop.ms() < 1000.0,
            "Rust no-op re-import took {} ms",
            noop.ms()
        );
        rust.push(size, &import, &noop);
        if run == 0 {
            check::rust_read_back(&dir, &secrets, &expected, true);
            leaves = check::content_leaves(&dir);
            meta = check::metadata_bytes(&dir);
        }

        eprintln!("W1 run {}: JS", run + 1);
        check::reset(&dir, &secrets);
        let child = measure::js_import(options, &dir, &secrets, 0, 0, 0);
        let import = measure::run(&child, root.path());
        assert_eq!(import.num("contentBytes"), size as f64, "JS import");
        let lengths = feed_lengths(&dir);
        let noop = measure::run(&child, root.path());
        assert_noop(lengths, &dir, "JS");
        js.push(size, &import, &noop);
        if run == 0 {
            check::js_read_back(&options.lab, &dir, &secrets, &expected, 1, false);
            let js_leaves = check::content_leaves(&dir);
            same = leaves.len() == js_leaves.len()
                && check::same_leaves(&leaves, &js_leaves, leaves.len());
        }
    }
    check::reset(&dir, &secrets);
    let mib = size >> 20;
    let check = format!(
        "sha256 read back ✓ both; content tree {} JS",
        if same { "=" } else { "≠ (!)" }
    );
    let rows = vec![
        Row {
            workload: format!("W1 import one {mib} MiB file (new archive)"),
            unit: "MB/s",
            rust: median_side(&rust.mbps, &rust.cpu, &rust.rss),
            js: median_side(&js.mbps, &js.cpu, &js.rss),
            check,
            note: format!(
                "{}; dat-node layout, bytes stay in place; warm page cache",
                measure::rust_label(options)
            ),
        },
        Row {
            workload: "W1 no-op re-import of the same folder".into(),
            unit: "ms",
            rust: median_side(&rust.noop_ms, &rust.noop_cpu, &rust.noop_rss),
            js: median_side(&js.noop_ms, &js.noop_cpu, &js.noop_rss),
            check: "nothing appended ✓ both".into(),
            note: "time: lower is better (ratio < 1 = Rust faster)".into(),
        },
    ];
    let details = vec![format!(
        "W1: Rust metadata feed {} bytes ({} of entries); {} content blocks; \
         Rust import runs {:?} MB/s, JS {:?} MB/s",
        meta.0,
        meta.1,
        leaves.len(),
        rounded(&rust.mbps),
        rounded(&js.mbps)
    )];
    (rows, details)
}

/// Lengths of the metadata and content feeds on disk.
fn feed_lengths(dir: &std::path::Path) -> (u64, u64) {
    (
        measure::feed_len(dir, "metadata"),
        measure::feed_len(dir, "content"),
    )
}

/// The second import of an unchanged folder appended nothing to either feed.
fn assert_noop(before: (u64, u64), dir: &std::path::Path, side: &str) {
    assert!(before.0 == 2 && before.1 > 0, "{side} import: {before:?}");
    let after = feed_lengths(dir);
    assert_eq!(
        after, before,
        "{side} no-op re-import appended (metadata, content lengths)"
    );
}

/// Figures rounded for the detail lines.
pub fn rounded(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.round() as u64).collect()
}
