//! `dat pull [DIR]`: bring a clone up to the newest version its peers have, then exit.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use dat_core::{DatDir, DatLink, PublicKey};
use dat_net::replication::Mode;

use super::clone::{download, idle};
use super::net_common::{PeerArgs, runtime};
use crate::output::Output;

/// Flags of `dat pull`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The clone's folder (default: the current folder).
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[command(flatten)]
    peers: PeerArgs,
    /// Give up after this many seconds without any connected peer (0: never).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    timeout: u64,
}

/// The key of the clone in `dir`; refuses the writer's own folder (nothing to pull).
pub fn clone_key(dir: &Path) -> anyhow::Result<PublicKey> {
    let dat = DatDir::new(dir.join(".dat"));
    let key = dat
        .metadata_key()
        .with_context(|| format!("cannot read {}", dat.dir().display()))?;
    let Some(key) = key else {
        bail!(
            "no Dat archive here ({} has no .dat/metadata.key)",
            dir.display()
        );
    };
    if dat.owner_marker().exists() {
        bail!(
            "{} is the writer's archive: there is nothing to pull (use dat share)",
            dir.display()
        );
    }
    Ok(key)
}

/// Update the clone in `args.dir`.
pub fn run(args: Args, out: &Output) -> anyhow::Result<()> {
    let key = clone_key(&args.dir)?;
    runtime()?.block_on(download(
        &args.dir,
        &DatLink::new(key),
        Mode::Full,
        &args.peers,
        idle(args.timeout),
        *out,
        "pulled",
    ))
}
