//! `dat sync [DIR]`: keep a clone connected and live: every new version the peers announce
//! is downloaded as it appears, and the clone serves what it has to others.

use std::path::PathBuf;

use anyhow::Context;
use dat_core::DatDir;
use dat_net::replication::{Drive, Mode};

use super::net_common::{
    PeerArgs, Reporter, drive_options, runtime, shutdown_signal, start_discovery, start_serving,
};
use super::pull::clone_key;
use crate::output::{Output, json_string};

/// Flags of `dat sync`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The clone's folder (default: the current folder).
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[command(flatten)]
    peers: PeerArgs,
    /// TCP port to serve on (default 3282, or a free port when 3282 is taken).
    #[arg(long)]
    port: Option<u16>,
}

/// Sync `args.dir` until interrupted.
pub fn run(args: Args, out: &Output) -> anyhow::Result<()> {
    let key = clone_key(&args.dir)?;
    let out = *out;
    runtime()?.block_on(async move {
        let drive = Drive::clone_dat(
            &args.dir,
            DatDir::new(args.dir.join(".dat")),
            key,
            Mode::Full,
            drive_options(),
        )
        .with_context(|| format!("cannot open {}", args.dir.display()))?;
        let peers = args.peers.resolve().await?;
        let reporter = Reporter::start(&drive, out);
        let swarm = start_serving(&drive, args.port, &peers).await?;
        let port = swarm.local_addr().map_or(0, |a| a.port());
        let discovering = start_discovery(&swarm, &drive, &args.peers, Some(port), out).await?;
        if out.json() {
            out.record(&[
                ("event", json_string("syncing")),
                ("link", json_string(&format!("dat://{key}"))),
                ("port", port.to_string()),
            ]);
        } else {
            out.note(format!(
                "syncing dat://{key} in {} (serving on port {port}); Ctrl-C to stop",
                args.dir.display()
            ));
        }
        shutdown_signal().await;
        reporter.stop().await;
        if let Some(d) = discovering {
            d.stop().await;
        }
        drop(swarm);
        drive.flush().await?;
        Ok(())
    })
}
