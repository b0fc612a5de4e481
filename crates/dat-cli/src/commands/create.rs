//! `dat create [DIR]`: import a folder into `DIR/.dat` as dat-node does (content stays in the
//! working files, "latest" mode), print its `dat://` link and exit. Run again, it imports what
//! changed: unchanged files are skipped, files that are gone are recorded as deletions.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::local::{ImportFlags, import_and_sync, open_for_import};
use crate::output::{Output, human_bytes, json_string};
use crate::progress::{Counters, ImportProgress};

/// Flags of `dat create`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The folder to share (default: the current folder; created if missing).
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[command(flatten)]
    import: ImportFlags,
}

/// Create or update the archive of `args.dir`.
pub fn run(args: Args, out: &Output) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let counters = Arc::new(Counters::default());
    let (mut archive, created) = open_for_import(&args.dir, &counters)?;
    counters.reset();
    let started = Instant::now();
    let progress = ImportProgress::start(counters.clone(), out.progress());
    let result = import_and_sync(&mut archive, &args.dir, &args.import.options(), true);
    progress.finish();
    let report = result?;
    let secs = started.elapsed().as_secs_f64();
    let key = archive.key();
    if out.json() {
        out.record(&[
            ("event", json_string("created")),
            ("link", json_string(&format!("dat://{key}"))),
            ("key", json_string(&key.to_hex())),
            ("new", created.to_string()),
            ("version", archive.version().to_string()),
            ("added", report.added.to_string()),
            ("updated", report.updated.to_string()),
            ("unchanged", report.unchanged.to_string()),
            ("deleted", report.deleted.to_string()),
            ("ignored", report.ignored.to_string()),
            ("bytes", report.bytes.to_string()),
            ("seconds", format!("{secs:.3}")),
        ]);
    } else {
        out.line(format!("dat://{key}"));
        out.note(format!(
            "{} {}: {} added, {} updated, {} unchanged, {} deleted; {} imported in {:.1} s ({}/s); version {}",
            if created { "created" } else { "updated" },
            args.dir.display(),
            report.added,
            report.updated,
            report.unchanged,
            report.deleted,
            human_bytes(report.bytes),
            secs,
            human_bytes((report.bytes as f64 / secs.max(1e-3)) as u64),
            archive.version()
        ));
    }
    Ok(())
}
