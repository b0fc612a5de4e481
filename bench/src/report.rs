//! The markdown table every run prints, and the detail lines under it.

use crate::Options;

/// One side's figures in a row.
#[derive(Clone, Copy, Debug, Default)]
pub struct Side {
    /// Median of the workload's figure.
    pub figure: f64,
    /// Median CPU seconds (user + sys) of the process, when it ran as a child.
    pub cpu_s: Option<f64>,
    /// Median peak RSS in MB, when it ran as a child.
    pub rss_mb: Option<f64>,
}

impl Side {
    /// A figure without process costs (measured in-process).
    pub fn figure(figure: f64) -> Self {
        Self {
            figure,
            ..Self::default()
        }
    }
}

/// One line of the results table.
pub struct Row {
    /// What was measured.
    pub workload: String,
    /// The figure's unit, e.g. "MB/s".
    pub unit: &'static str,
    /// dat-rs.
    pub rust: Side,
    /// The JS reference.
    pub js: Side,
    /// The correctness check and its result.
    pub check: String,
    /// Free-form notes (sizes, batch sizes, caps).
    pub note: String,
}

/// The median of some samples (the upper one for an even count).
pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Medians of each field over several runs.
pub fn median_side(figures: &[f64], cpu: &[f64], rss: &[f64]) -> Side {
    let opt = |v: &[f64]| (!v.is_empty()).then(|| median(v.to_vec()));
    Side {
        figure: median(figures.to_vec()),
        cpu_s: opt(cpu),
        rss_mb: opt(rss),
    }
}

fn cost(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "—".to_string(), |v| format!("{v:.digits$}"))
}

fn figure(v: f64) -> String {
    if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// The table's header lines.
pub const HEADER: &str = "| workload | dat-rs | JS reference | Rust/JS | CPU s (Rust / JS) | peak RSS MB (Rust / JS) | check | notes |
|---|---|---|---|---|---|---|---|";

/// Rust / JS; both zero (e.g. nothing fetched again) is a tie, not NaN.
fn ratio(rust: f64, js: f64) -> String {
    if rust == 0.0 && js == 0.0 {
        "= (both 0)".to_string()
    } else {
        format!("{:.2}×", rust / js)
    }
}

/// One row of the table.
pub fn line(row: &Row) -> String {
    format!(
        "| {} | {} {} | {} {} | **{}** | {} / {} | {} / {} | {} | {} |",
        row.workload,
        figure(row.rust.figure),
        row.unit,
        figure(row.js.figure),
        row.unit,
        ratio(row.rust.figure, row.js.figure),
        cost(row.rust.cpu_s, 2),
        cost(row.js.cpu_s, 2),
        cost(row.rust.rss_mb, 0),
        cost(row.js.rss_mb, 0),
        row.check,
        row.note
    )
}

/// Print the table, then the details, with the machine it ran on.
pub fn print(rows: &[Row], details: &[String], options: &Options) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    println!("{HEADER}");
    for row in rows {
        println!("{}", line(row));
    }
    println!();
    for d in details {
        println!("- {d}");
    }
    println!();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "medians of {} run(s) per side unless noted{}; {} cores, load average {}; \
         JS = dat@13.13.1 modules (hypercore 7.7.1, hyperdrive 9.16.0, dat-node 3.5.15) on node",
        options.runs,
        if options.smoke {
            ", SMOKE sizes (not a measurement)"
        } else {
            ""
        },
        cores,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
