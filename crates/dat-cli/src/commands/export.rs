//! `dat export [DIR] DEST [--version N] [--path SUBTREE]`: write a version of the archive (or
//! one folder or file of it) into DEST, restoring modes and mtimes. Names from the archive
//! are hostile input: the library refuses any that would leave DEST.

use std::path::Path;

use anyhow::{Context, bail};

use crate::local;
use crate::output::{Output, human_bytes, json_string};

/// Flags of `dat export`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// `[DIR] DEST`: the archive's folder (default: the current folder) and where to write.
    #[arg(value_name = "DIR DEST", num_args = 1..=2, required = true)]
    args: Vec<String>,
    /// Export this version (default: the latest).
    #[arg(long, value_name = "N")]
    version: Option<u64>,
    /// Only this folder or file of the archive.
    #[arg(long, value_name = "SUBTREE", default_value = "/")]
    path: String,
}

/// Export as asked.
pub fn run(args: Args, out: &Output) -> anyhow::Result<()> {
    let (dir, dest) = match args.args.as_slice() {
        [dest] => (".", dest.as_str()),
        [dir, dest, ..] => (dir.as_str(), dest.as_str()),
        [] => bail!("where to? (dat export [DIR] DEST)"),
    };
    let local = local::open(Path::new(dir))?;
    let archive = &local.archive;
    let version = args.version.unwrap_or_else(|| archive.version());
    let dest = Path::new(dest);
    let report = dat_drive::export(archive, version, &args.path, dest).with_context(|| {
        format!(
            "cannot export {} of version {version} to {}",
            args.path,
            dest.display()
        )
    })?;
    if out.json() {
        out.record(&[
            ("event", json_string("exported")),
            ("version", version.to_string()),
            ("path", json_string(&args.path)),
            ("dest", json_string(&dest.display().to_string())),
            ("files", report.files.to_string()),
            ("bytes", report.bytes.to_string()),
        ]);
    } else {
        out.line(format!(
            "exported {} files ({}) of version {version} to {}",
            report.files,
            human_bytes(report.bytes),
            dest.display()
        ));
    }
    Ok(())
}
