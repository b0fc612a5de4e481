//! The markdown table every run prints.

use crate::Options;

/// One line of the results table.
pub struct Row {
    /// What was measured.
    pub workload: String,
    /// The figure's unit, e.g. "MB/s".
    pub unit: &'static str,
    /// Median figure for dat-rs.
    pub rust: f64,
    /// Median figure for the JS reference.
    pub js: f64,
    /// Free-form notes (sizes, batch sizes, correctness check).
    pub note: String,
}

/// The median of some samples (the upper one for an even count).
pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Print the table, with the machine it ran on.
pub fn print(rows: &[Row], options: &Options) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    println!("| workload | dat-rs | JS reference | ratio Rust/JS | notes |\n|---|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {:.1} {} | {:.1} {} | **{:.2}×** | {} |",
            row.workload,
            row.rust,
            row.unit,
            row.js,
            row.unit,
            row.rust / row.js,
            row.note
        );
    }
    println!();
    println!(
        "medians of {} run(s) per side{}; {} cores; JS = hypercore 7.7.1 (dat@13.13.1) on node",
        options.runs,
        if options.smoke {
            ", SMOKE sizes (not a measurement)"
        } else {
            ""
        },
        cores
    );
}
