//! `dat create [DIR]`: import a folder into `DIR/.dat` as dat-node does (content stays in the
//! working files, "latest" mode), print its `dat://` link and exit. Run again, it imports what
//! changed: unchanged files are skipped, files that are gone are recorded as deletions.
//! `--title` / `--description` write them into the folder's `dat.json` first (with the
//! archive's `url`, other keys kept), as dat's own `create` does, so they are imported too.

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
    /// The archive's title, written to `dat.json`.
    #[arg(long)]
    title: Option<String>,
    /// The archive's description, written to `dat.json`.
    #[arg(long)]
    description: Option<String>,
}

/// Set `title` and `description` in `dir/dat.json` (other keys kept, `url` the archive's),
/// laid out as dat's toiletdb writes it.
fn write_dat_json(
    dir: &std::path::Path,
    key: &dat_core::PublicKey,
    title: Option<&str>,
    description: Option<&str>,
) -> anyhow::Result<()> {
    let path = dir.join("dat.json");
    let mut doc = match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
                .with_context(|| format!("{} is not a JSON object", path.display()))?
        }
        Ok(_) => serde_json::Map::new(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Map::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    // dat's defaults first (their order is the file's for a new dat.json), then the values.
    for (k, default) in [("title", ""), ("description", "")] {
        doc.entry(k).or_insert_with(|| default.into());
    }
    if let Some(t) = title {
        doc.insert("title".into(), t.into());
    }
    if let Some(d) = description {
        doc.insert("description".into(), d.into());
    }
    doc.insert("url".into(), format!("dat://{key}").into());
    let text = serde_json::to_string_pretty(&doc)?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Create or update the archive of `args.dir`.
pub fn run(args: Args, out: &Output) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let counters = Arc::new(Counters::default());
    let (mut archive, created) = open_for_import(&args.dir, &counters)?;
    if args.title.is_some() || args.description.is_some() {
        let (t, d) = (args.title.as_deref(), args.description.as_deref());
        write_dat_json(&args.dir, &archive.key(), t, d)?;
    }
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
