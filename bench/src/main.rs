//! Benchmarks of dat-rs beside the JavaScript reference client, measured in the same run on the
//! same machine. Each workload runs both sides several times and prints medians and the ratio
//! Rust/JS as a markdown table (these machines are shared and noisy: compare ratios, not seconds).
//!
//! ```text
//! cargo run --release -p bench -- [--smoke] [--runs N] [--only W1,W2,...] [--js-cap-seconds S]
//!                                  [--rust-cli target/release/dat]
//! ```
//! Workloads: `feed-append-64k` (1 GiB in 64 KiB blocks), `feed-append-1k` (100k 1 KiB
//! blocks), `W1` (import one 1 GiB file, then a no-op re-import), `W2` (import 100k small
//! files in 100 folders, and 20k in one folder). `--smoke` runs tiny sizes once, to prove the
//! harness works (CI does this). Import workloads run each side as a child process (Rust:
//! `bench child-import DIR SECRET_DIR`, or `dat create` with `--rust-cli`) to measure its CPU
//! time and peak RSS.

mod big_tree;
mod check;
mod child;
mod clone_big;
mod clone_many;
mod data;
mod delay_proxy;
mod feed_append;
mod import_big;
mod import_many;
mod live_change;
mod measure;
mod net;
mod report;
mod sparse_read;

use std::path::Path;
use std::process::ExitCode;

use dat_test::JsLab;

/// Options shared by every workload.
pub struct Options {
    /// Runs per side; the median is reported.
    pub runs: usize,
    /// Tiny sizes, one run: a check that the harness works, not a measurement.
    pub smoke: bool,
    /// The JS reference peer.
    pub lab: JsLab,
    /// Run `dat create` (this `dat` binary) as the Rust side of the import workloads instead
    /// of the library in `bench child-import`.
    pub rust_cli: Option<std::path::PathBuf>,
    /// Longest an import may run where it cannot finish (W2, one folder; default 120 s, 30 s
    /// in smoke mode).
    pub js_cap_seconds: u64,
}

const ALL: [&str; 10] = [
    "feed-append-64k",
    "feed-append-1k",
    "W1",
    "W2",
    "W3",
    "W4",
    "W5",
    "W6",
    "W7",
    "W8",
];

const USAGE: &str = "usage: bench [--smoke] [--runs N] [--only W1,W2,...] [--js-cap-seconds S]
             [--rust-cli PATH/TO/dat] [WORKLOAD...]
workloads: feed-append-64k feed-append-1k W1 W2 W3 W4 W5 W6 W7 W8 (default: all)";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut runs = 3;
    let mut smoke = false;
    let mut js_cap_seconds = None;
    let mut rust_cli = None;
    let mut workloads: Vec<String> = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "child-import" => return child_import(args.next(), args.next()),
            "child-delay-proxy" => {
                return delay_proxy::main(args.next(), args.next(), args.next());
            }
            "--smoke" => smoke = true,
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).unwrap_or(3),
            "--js-cap-seconds" => {
                js_cap_seconds = args.next().and_then(|n| n.parse().ok());
            }
            "--rust-cli" => rust_cli = args.next().map(std::path::PathBuf::from),
            "--only" => workloads.extend(
                args.next()
                    .unwrap_or_default()
                    .split(',')
                    .filter(|w| !w.is_empty())
                    .map(String::from),
            ),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => workloads.push(other.to_string()),
        }
    }
    if let Some(bad) = workloads
        .iter()
        .find(|w| !ALL.iter().any(|a| a.eq_ignore_ascii_case(w)))
    {
        eprintln!("bench: unknown workload {bad}\n{USAGE}");
        return ExitCode::FAILURE;
    }
    let Some(lab) = JsLab::find() else {
        eprintln!(
            "bench: the JS reference peer is not installed (set DAT_LAB; bash .ci/run installs it)"
        );
        return ExitCode::FAILURE;
    };
    if workloads.is_empty() {
        workloads = ALL.iter().map(|w| w.to_string()).collect();
    }
    let options = Options {
        runs: if smoke { 1 } else { runs.max(1) },
        smoke,
        lab,
        rust_cli,
        js_cap_seconds: js_cap_seconds.unwrap_or(if smoke { 30 } else { 120 }),
    };
    let mut rows = Vec::new();
    let mut details = Vec::new();
    for workload in &workloads {
        let (r, d) = match workload.to_ascii_lowercase().as_str() {
            "feed-append-64k" => (vec![feed_append::run(&options, feed_append::BIG)], vec![]),
            "feed-append-1k" => (vec![feed_append::run(&options, feed_append::SMALL)], vec![]),
            "w1" => import_big::run(&options),
            "w3" => clone_big::run_w3(&options),
            "w4" => clone_many::run(&options),
            "w5" => sparse_read::run(&options),
            "w6" => big_tree::run(&options),
            "w7" => live_change::run(&options),
            "w8" => clone_big::run_w8(&options),
            _ => import_many::run(&options),
        };
        // Each result as soon as it is known, in case a later workload fails.
        for row in &r {
            eprintln!("{}", report::line(row));
        }
        for d in &d {
            eprintln!("- {d}");
        }
        rows.extend(r);
        details.extend(d);
    }
    report::print(&rows, &details, &options);
    ExitCode::SUCCESS
}

fn child_import(dir: Option<String>, secrets: Option<String>) -> ExitCode {
    let (Some(dir), Some(secrets)) = (dir, secrets) else {
        eprintln!("usage: bench child-import DIR SECRET_DIR");
        return ExitCode::FAILURE;
    };
    match child::import_child(Path::new(&dir), Path::new(&secrets)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench child-import: {e}");
            ExitCode::FAILURE
        }
    }
}
