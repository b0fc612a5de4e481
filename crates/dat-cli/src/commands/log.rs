//! `dat log [DIR]`: the archive's history, one line per metadata entry (each entry is a
//! version): its number, put or del, the path and the size it recorded.

use std::path::PathBuf;

use dat_core::FeedError;
use dat_drive::{DriveError, Entry};

use crate::local;
use crate::output::{Lines, Output, human_bytes, json_string};

/// Flags of `dat log`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The archive's folder (default: the current folder).
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// Print every entry of the archive in `args.dir`.
pub fn run(args: Args, out: &Output) -> anyhow::Result<()> {
    let local = local::open(&args.dir)?;
    let archive = &local.archive;
    let mut lines = out.lines();
    let result = (|| -> anyhow::Result<()> {
        for (seq, entry) in (1..=archive.version()).zip(archive.history(1..u64::MAX)) {
            match entry {
                Ok(e) => print_entry(&mut lines, &e)?,
                Err(DriveError::Feed {
                    source: FeedError::NotFound { .. },
                    ..
                }) => {
                    lines.line(format!("{seq:>8} ??? (entry not downloaded)"))?;
                    lines.record(&[("version", seq.to_string()), ("missing", "true".into())])?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        lines.finish()?;
        Ok(())
    })();
    crate::output::ok_if_broken_pipe(result)
}

fn print_entry(lines: &mut Lines, e: &Entry) -> std::io::Result<()> {
    let (op, kind, size) = match &e.stat {
        None => ("del", "deletion", None),
        Some(st) if st.is_directory() => ("put", "directory", None),
        Some(st) if st.is_file() => ("put", "file", Some(st.size())),
        Some(st) => ("put", "other", Some(st.size())),
    };
    if lines.json() {
        let mut fields = vec![
            ("version", e.seq.to_string()),
            ("type", json_string(op)),
            ("kind", json_string(kind)),
            ("path", json_string(&e.name)),
        ];
        if let Some(size) = size {
            fields.push(("size", size.to_string()));
        }
        if let Some(st) = &e.stat {
            fields.push(("blocks", st.blocks().to_string()));
            fields.push(("mtime", st.mtime().to_string()));
        }
        lines.record(&fields)
    } else {
        let size = match (kind, size) {
            ("directory", _) => "(directory)".to_string(),
            (_, Some(n)) => human_bytes(n),
            _ => String::new(),
        };
        lines.line(format!("{:>8} {op} {} {size}", e.seq, e.name).trim_end())
    }
}
