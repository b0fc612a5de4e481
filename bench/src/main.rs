//! Benchmarks of dat-rs beside the JavaScript reference client, measured in the same run on the
//! same machine. Each workload runs both sides several times and prints medians and the ratio
//! Rust/JS as a markdown table (these machines are shared and noisy: compare ratios, not seconds).
//!
//! ```text
//! cargo run --release -p bench -- [--smoke] [--runs N] [WORKLOAD...]
//! ```
//! Workloads: `feed-append-64k` (1 GiB in 64 KiB blocks), `feed-append-1k` (100k 1 KiB blocks).
//! `--smoke` runs tiny sizes once, to prove the harness works (CI does this).

mod feed_append;
mod report;

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
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut runs = 3;
    let mut smoke = false;
    let mut workloads = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--smoke" => smoke = true,
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).unwrap_or(3),
            "-h" | "--help" => {
                println!("usage: bench [--smoke] [--runs N] [feed-append-64k] [feed-append-1k]");
                return ExitCode::SUCCESS;
            }
            other => workloads.push(other.to_string()),
        }
    }
    let Some(lab) = JsLab::find() else {
        eprintln!(
            "bench: the JS reference peer is not installed (set DAT_LAB; bash .ci/run installs it)"
        );
        return ExitCode::FAILURE;
    };
    if workloads.is_empty() {
        workloads = vec!["feed-append-64k".into(), "feed-append-1k".into()];
    }
    let options = Options {
        runs: if smoke { 1 } else { runs.max(1) },
        smoke,
        lab,
    };
    let mut rows = Vec::new();
    for workload in &workloads {
        match workload.as_str() {
            "feed-append-64k" => rows.push(feed_append::run(&options, feed_append::BIG)),
            "feed-append-1k" => rows.push(feed_append::run(&options, feed_append::SMALL)),
            other => {
                eprintln!("bench: unknown workload {other}");
                return ExitCode::FAILURE;
            }
        }
    }
    report::print(&rows, &options);
    ExitCode::SUCCESS
}
