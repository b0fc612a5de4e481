//! `dat share [DIR]`: import the folder (creating its archive if needed), serve it over TCP
//! to any number of peers, and keep importing what changes so that new versions reach
//! connected peers live. Changes are noticed by the operating system's file notifications
//! (polling with `--poll`, or where the folder cannot be watched); each import compares the
//! folder with the archive (the importer's unchanged-file skip). With `--no-import`, serve
//! the archive as stored (a clone, or an archive whose folder has moved on).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use dat_drive::{
    Archive, Debounce, FolderChange, FolderEvent, FolderWatcher, ImportOptions, Pending,
};
use dat_net::replication::Drive;
use tokio::sync::Notify;

use super::net_common::{
    PeerArgs, Reporter, drive_options, runtime, shutdown_signal, start_discovery, start_serving,
};
use crate::local::{
    ImportFlags, changed, import_and_sync, import_pending_and_sync, open, open_for_import,
};
use crate::output::{Output, describe, human_bytes, json_string};
use crate::progress::{Counters, ImportProgress};

/// Flags of `dat share`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The folder to share (default: the current folder).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// TCP port to listen on (default 3282, or a free port when 3282 is taken).
    #[arg(long)]
    port: Option<u16>,
    #[command(flatten)]
    peers: PeerArgs,
    #[command(flatten)]
    import: ImportFlags,
    /// Do not import changes after the first import.
    #[arg(long)]
    no_watch: bool,
    /// Serve the archive as it is stored, without importing the folder (nor watching it).
    #[arg(long)]
    no_import: bool,
    /// Look for changes by rescanning the folder every `--watch-interval` instead of being
    /// notified (for filesystems that do not notify of changes made elsewhere, e.g. network
    /// mounts).
    #[arg(long)]
    poll: bool,
    /// How often to rescan the folder when polling, in milliseconds.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    watch_interval: u64,
}

/// How a share learns of changes to its folder.
enum Watching {
    Off,
    /// Notifications, gathered by the debounce.
    Notified {
        _watcher: FolderWatcher,
        debounce: Arc<Mutex<Debounce>>,
        wake: Arc<Notify>,
    },
    Polling(Duration),
}

impl Watching {
    async fn start(args: &Args, out: Output) -> Self {
        if args.no_watch || args.no_import {
            return Self::Off;
        }
        let interval = Duration::from_millis(args.watch_interval.max(50));
        if args.poll {
            return Self::Polling(interval);
        }
        let debounce = Arc::new(Mutex::new(Debounce::default()));
        let wake = Arc::new(Notify::new());
        let (d, w, dir) = (debounce.clone(), wake.clone(), args.dir.clone());
        let started = tokio::task::spawn_blocking(move || {
            FolderWatcher::start(&dir, move |event| {
                if let Ok(mut d) = d.lock() {
                    d.event(event, std::time::Instant::now());
                }
                w.notify_one();
            })
        })
        .await;
        match started {
            Ok(Ok(watcher)) => {
                // Anything changed between the first import and the watch is imported now.
                if let Ok(mut d) = debounce.lock() {
                    let all = FolderChange {
                        event: FolderEvent::Changed,
                        paths: None,
                    };
                    d.event(all, std::time::Instant::now());
                }
                Self::Notified {
                    _watcher: watcher,
                    debounce,
                    wake,
                }
            }
            Ok(Err(e)) => {
                out.note(format!(
                    "{e}; looking for changes every {} ms instead",
                    interval.as_millis()
                ));
                Self::Polling(interval)
            }
            Err(e) => {
                out.note(format!("cannot watch for changes ({e}); polling instead"));
                Self::Polling(interval)
            }
        }
    }

    /// Returns what to import when it is time (never when off).
    async fn due(&self) -> Pending {
        match self {
            Self::Off => std::future::pending().await,
            Self::Polling(interval) => {
                tokio::time::sleep(*interval).await;
                Pending::All
            }
            Self::Notified { debounce, wake, .. } => loop {
                let deadline = match debounce.lock() {
                    Ok(mut d) => {
                        if let Some(pending) = d.due(std::time::Instant::now()) {
                            return pending;
                        }
                        d.deadline()
                    }
                    Err(_) => return std::future::pending().await,
                };
                match deadline {
                    Some(at) => {
                        let at = tokio::time::Instant::from_std(at);
                        let _ = tokio::time::timeout_at(at, wake.notified()).await;
                    }
                    None => wake.notified().await,
                }
            },
        }
    }
}

/// Share `args.dir` until interrupted.
pub fn run(args: Args, out: &Output) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    if args.no_import {
        let local = open(&args.dir)?;
        let opts = args.import.options();
        return runtime()?.block_on(serve(args, *out, local.archive, opts));
    }
    let counters = Arc::new(Counters::default());
    let (mut archive, created) = open_for_import(&args.dir, &counters)?;
    counters.reset();
    let opts = args.import.options();
    let progress = ImportProgress::start(counters, out.progress());
    let first = import_and_sync(&mut archive, &args.dir, &opts, created);
    progress.finish();
    let report = first?;
    out.note(format!(
        "imported {}: {} files added, {} updated, {} unchanged ({})",
        args.dir.display(),
        report.added,
        report.updated,
        report.unchanged,
        human_bytes(report.bytes)
    ));
    runtime()?.block_on(serve(args, *out, archive, opts))
}

async fn serve(
    args: Args,
    out: Output,
    archive: Archive,
    opts: ImportOptions,
) -> anyhow::Result<()> {
    let key = archive.key();
    let version = archive.version();
    let drive = Drive::share(archive, drive_options());
    let peers = args.peers.resolve().await?;
    let swarm = start_serving(&drive, args.port, &peers).await?;
    let port = swarm.local_addr().map_or(0, |a| a.port());
    let discovering = start_discovery(&swarm, &drive, &args.peers, Some(port), out).await?;
    if out.json() {
        out.record(&[
            ("event", json_string("sharing")),
            ("link", json_string(&format!("dat://{key}"))),
            ("key", json_string(&key.to_hex())),
            ("port", port.to_string()),
            ("version", version.to_string()),
        ]);
    } else {
        out.line(format!("dat://{key}"));
        out.note(format!(
            "sharing {} (version {version}) on port {port}{}; Ctrl-C to stop",
            args.dir.display(),
            if args.no_watch || args.no_import {
                ""
            } else {
                ", watching for changes"
            }
        ));
    }
    let reporter = Reporter::start(&drive, out);
    let watching = Watching::start(&args, out).await;
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let args = Arc::new(args);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            pending = watching.due() => {
                let (d, a, o) = (drive.clone(), args.clone(), opts.clone());
                let result = tokio::task::spawn_blocking(move || {
                    d.with_archive_blocking(|archive| {
                        import_pending_and_sync(archive, &a.dir, &o, &pending)
                            .map(|r| (r, archive.version()))
                    })
                })
                .await
                .context("the import task failed")?;
                match result {
                    Some(Ok((r, v))) if changed(&r) => {
                        if out.json() {
                            out.record(&[
                                ("event", json_string("imported")),
                                ("version", v.to_string()),
                                ("added", r.added.to_string()),
                                ("updated", r.updated.to_string()),
                                ("deleted", r.deleted.to_string()),
                                ("bytes", r.bytes.to_string()),
                            ]);
                        } else {
                            out.note(format!(
                                "version {v}: {} added, {} updated, {} deleted ({})",
                                r.added, r.updated, r.deleted, human_bytes(r.bytes)
                            ));
                        }
                    }
                    // A file that changed under the importer is picked up next time.
                    Some(Err(e)) => out.note(format!("import: {}", describe(&e))),
                    _ => {}
                }
            }
        }
    }
    reporter.stop().await;
    if let Some(d) = discovering {
        d.stop().await;
    }
    drop(swarm);
    drive.flush().await?;
    Ok(())
}
