//! `dat clone LINK [DIR]`: download an archive into DIR as dat-node does (`DIR/.dat` holds
//! the metadata and content SLEEP files, the files of the newest version are written into
//! DIR) and exit when complete. Run again on the same DIR, it resumes: nothing already
//! verified is fetched again. `LINK/path` or `--sparse` fetches only what is asked for.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use dat_core::{DatDir, DatLink};
use dat_net::replication::{Drive, Mode};

use super::net_common::{
    PeerArgs, Reporter, drive_options, runtime, start_discovery, start_swarm, summary, until_done,
    wait_complete,
};
use crate::local::Layout;
use crate::output::{Output, json_string};

/// Flags of `dat clone`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The link: `dat://KEY`, `KEY`, or `dat://KEY/path` for one file or folder of it.
    link: String,
    /// The folder to clone into (default: a folder named by the key).
    dir: Option<PathBuf>,
    #[command(flatten)]
    peers: PeerArgs,
    /// Fetch the metadata only (with a path in the link: that path only).
    #[arg(long)]
    sparse: bool,
    /// Give up after this many seconds without any connected peer (0: never).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    timeout: u64,
}

/// Clone `args.link`.
pub fn run(args: Args, out: &Output) -> anyhow::Result<()> {
    let link: DatLink = args.link.parse().context("not a Dat link")?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(link.key.to_hex()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if Layout::detect(&dir) == Some(Layout::Sleep) {
        bail!(
            "{} holds an archival SLEEP archive; clone into another folder",
            dir.display()
        );
    }
    let mode = if args.sparse || link.path.is_some() {
        Mode::Sparse
    } else {
        Mode::Full
    };
    runtime()?.block_on(download(
        &dir,
        &link,
        mode,
        &args.peers,
        idle(args.timeout),
        *out,
        "cloned",
    ))
}

/// The watchdog setting of `--timeout`.
pub fn idle(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// Replicate `link` into `dir` until what `mode` wants is stored (shared by clone and pull).
pub async fn download(
    dir: &std::path::Path,
    link: &DatLink,
    mode: Mode,
    peers: &PeerArgs,
    idle: Option<Duration>,
    out: Output,
    verb: &str,
) -> anyhow::Result<()> {
    let key = link.key;
    let direct = peers.resolve().await?;
    let cfg = peers.discovery.config()?;
    if direct.is_empty() && cfg.no_dns && cfg.no_mdns && cfg.no_dht {
        bail!("no peer to connect to: give one with --peer HOST:PORT, or enable discovery");
    }
    let drive = Drive::clone_dat(
        dir,
        DatDir::new(dir.join(".dat")),
        key,
        mode,
        drive_options(),
    )
    .with_context(|| format!("cannot open {}", dir.display()))?;
    out.note(format!("{verb}: dat://{key} into {}", dir.display()));
    let started = Instant::now();
    let reporter = Reporter::start(&drive, out);
    let swarm = start_swarm(&drive, None, &direct).await?;
    let discovering = start_discovery(&swarm, &drive, peers, None, out).await?;
    let result = match (mode, &link.path) {
        (Mode::Sparse, Some(path)) => {
            until_done(&drive, idle, async {
                let r = drive.fetch(path).await?;
                Ok(format!("{path}: {} files, {} bytes", r.files, r.bytes))
            })
            .await
        }
        (Mode::Sparse, None) => {
            until_done(&drive, idle, async {
                let v = drive.fetch_metadata().await?;
                Ok(format!("metadata of version {v}"))
            })
            .await
        }
        _ => wait_complete(&drive, idle).await.map(|_| String::new()),
    };
    let p = reporter.stop().await;
    if let Some(d) = discovering {
        d.stop().await;
    }
    drop(swarm);
    drive.flush().await?;
    let what = result?;
    let secs = started.elapsed().as_secs_f64();
    if out.json() {
        out.record(&[
            ("event", json_string(verb)),
            ("link", json_string(&format!("dat://{key}"))),
            ("dir", json_string(&dir.display().to_string())),
            ("version", p.version.to_string()),
            ("contentBytes", p.content.have_bytes.to_string()),
            (
                "downloadedBytes",
                (p.metadata.downloaded_bytes + p.content.downloaded_bytes).to_string(),
            ),
            ("seconds", format!("{secs:.3}")),
        ]);
    } else {
        out.line(format!("dat://{key}"));
        out.note(if what.is_empty() {
            summary(&p, secs)
        } else {
            format!("{what}; {}", summary(&p, secs))
        });
    }
    Ok(())
}
