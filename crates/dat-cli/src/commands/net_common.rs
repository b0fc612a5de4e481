//! What the networked commands (share, clone, pull, sync) have in common: the `--peer` list
//! and discovery (both feed the same swarm), the runtime, waiting for a
//! drive with a watchdog, and progress: a line on stderr (metadata first, then content with
//! totals, rate and ETA) or `--json` event lines on stdout.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use dat_net::discovery::{Discovery, Topic, topic_of};
use dat_net::replication::{Drive, DriveOptions, Mode, NetEvent, Progress, Swarm, SwarmOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use super::discovery_flags::DiscoveryFlags;
use crate::output::{Output, human_bytes, json_object, json_string};

/// The default TCP port of dat (dat-swarm-defaults).
pub const DEFAULT_PORT: u16 = 3282;

/// Where peers come from: addresses given directly, and discovery.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PeerArgs {
    /// Connect to this peer (repeatable).
    #[arg(long = "peer", value_name = "HOST:PORT")]
    pub peers: Vec<String>,
    #[command(flatten)]
    pub discovery: DiscoveryFlags,
}

impl PeerArgs {
    /// The peers' socket addresses (names are resolved).
    pub async fn resolve(&self) -> anyhow::Result<Vec<SocketAddr>> {
        let mut out = Vec::new();
        for p in &self.peers {
            let addrs = tokio::net::lookup_host(p.as_str())
                .await
                .with_context(|| format!("bad --peer {p:?} (expected HOST:PORT)"))?;
            out.extend(addrs.take(1));
        }
        Ok(out)
    }
}

/// The tokio runtime of a networked command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// How drives replicate from the command line.
pub fn drive_options() -> DriveOptions {
    DriveOptions::default()
}

/// Start the swarm of `drive`: listen on `listen` (if any) and dial `peers`.
pub async fn start_swarm(
    drive: &Drive,
    listen: Option<SocketAddr>,
    peers: &[SocketAddr],
) -> anyhow::Result<Swarm> {
    let swarm = Swarm::start(
        drive.clone(),
        SwarmOptions {
            listen,
            ..SwarmOptions::default()
        },
    )
    .await
    .with_context(|| match listen {
        Some(a) => format!("cannot listen on {a}"),
        None => "cannot start the swarm".to_string(),
    })?;
    for p in peers {
        swarm.add_peer(*p);
    }
    Ok(swarm)
}

/// Start the swarm of a serving command (share, sync): listen on all interfaces at `port`,
/// or at dat's 3282 when none is given, falling back to any free port when 3282 is taken
/// (another dat is running); dial `peers`.
pub async fn start_serving(
    drive: &Drive,
    port: Option<u16>,
    peers: &[SocketAddr],
) -> anyhow::Result<Swarm> {
    let any = |port| Some(SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, port)));
    match start_swarm(drive, any(port.unwrap_or(DEFAULT_PORT)), peers).await {
        Ok(s) => Ok(s),
        Err(_) if port.is_none() => start_swarm(drive, any(0), peers).await,
        Err(e) => Err(e),
    }
}

/// Discovery of one archive's peers, feeding its swarm. Dropping it stops the backends;
/// [`Discovering::stop`] also withdraws the announcement first.
pub struct Discovering {
    discovery: Discovery,
    topic: Topic,
    task: JoinHandle<()>,
}

impl Discovering {
    /// Withdraw the announcement and stop.
    pub async fn stop(self) {
        self.task.abort();
        self.discovery.leave(self.topic).await;
    }
}

impl Drop for Discovering {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Look up (and, with `announce`, announce) `swarm`'s archive with the backends `peers`
/// enables, dialing every address found. `None` when every backend is off.
pub async fn start_discovery(
    swarm: &Swarm,
    drive: &Drive,
    peers: &PeerArgs,
    announce: Option<u16>,
    out: Output,
) -> anyhow::Result<Option<Discovering>> {
    let cfg = peers.discovery.config()?;
    if cfg.no_dns && cfg.no_mdns && cfg.no_dht {
        return Ok(None);
    }
    let topic = topic_of(&drive.discovery_key());
    let (discovery, mut found) = Discovery::start(cfg).await;
    discovery.join(topic, announce).await;
    let source = swarm.peer_source();
    let own = swarm.local_addr();
    let task = tokio::spawn(async move {
        let mut seen = std::collections::HashSet::new();
        while let Some(f) = found.recv().await {
            let addr = SocketAddr::V4(f.addr);
            if f.topic != topic || is_own(addr, own) {
                continue;
            }
            if seen.insert(addr) {
                out.note(format!("found {addr} ({})", f.source.as_str()));
                out.record(&[
                    ("event", json_string("peer-found")),
                    ("address", json_string(&addr.to_string())),
                    ("source", json_string(f.source.as_str())),
                ]);
            }
            // Finds recur at every lookup: a peer that went away is dialed again.
            source.add(addr);
        }
    });
    Ok(Some(Discovering {
        discovery,
        topic,
        task,
    }))
}

/// Our own announcement coming back: same port, on a loopback or unspecified address.
/// (An announcement found through another of this host's addresses is not recognised
/// here; that connection replicates nothing and ends when the peer is idle.)
fn is_own(addr: SocketAddr, own: Option<SocketAddr>) -> bool {
    own.is_some_and(|own| {
        addr.port() == own.port()
            && (addr.ip().is_loopback() || addr.ip().is_unspecified() || addr.ip() == own.ip())
    })
}

/// Until Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Wait until `drive` is complete (a full clone at the peers' version).
pub async fn wait_complete(drive: &Drive, idle: Option<Duration>) -> anyhow::Result<u64> {
    until_done(drive, idle, async { Ok(drive.wait_complete().await?) }).await
}

/// Run `work` on `drive`. Fails on Ctrl-C or SIGTERM, or when for `idle` no peer was
/// connected and nothing arrived.
pub async fn until_done<T>(
    drive: &Drive,
    idle: Option<Duration>,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let watchdog = async {
        let mut last = (Instant::now(), drive.progress());
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let p = drive.progress();
            if p.peers > 0 || p.metadata.downloaded_blocks != last.1.metadata.downloaded_blocks {
                last = (Instant::now(), p);
                continue;
            }
            if let Some(idle) = idle
                && last.0.elapsed() >= idle
            {
                return idle;
            }
        }
    };
    tokio::select! {
        r = work => r,
        _ = shutdown_signal() => bail!("interrupted"),
        idle = watchdog => bail!(
            "no peer connected for {} s (is a peer sharing this link? give one with --peer HOST:PORT)",
            idle.as_secs()
        ),
    }
}

/// Draws progress until stopped.
pub struct Reporter {
    task: JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
    bar: Option<ProgressBar>,
    out: Output,
    rate: Rate,
    drive: Drive,
}

impl Reporter {
    /// Report on `drive` as `out` asks.
    pub fn start(drive: &Drive, out: Output) -> Self {
        let bar = out.progress().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        });
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(report(
            drive.clone(),
            drive.events(),
            out,
            bar.clone(),
            stopped,
        ));
        Self {
            task,
            stop,
            bar,
            out,
            rate: Rate::default(),
            drive: drive.clone(),
        }
    }

    /// Stop drawing (after the events so far); print the final counters in `--json` mode.
    pub async fn stop(mut self) -> Progress {
        let _ = self.stop.send(true);
        let _ = (&mut self.task).await;
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let p = self.drive.progress();
        if self.out.json() {
            self.out.record(&progress_fields(&p, &mut self.rate));
        }
        p
    }
}

async fn report(
    drive: Drive,
    mut events: tokio::sync::broadcast::Receiver<NetEvent>,
    out: Output,
    bar: Option<ProgressBar>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut rate = Rate::default();
    let every = if bar.is_some() {
        Duration::from_millis(200)
    } else if out.json() {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(5)
    };
    let mut tick = tokio::time::interval(every);
    let mut last_share: Option<Progress> = None;
    loop {
        tokio::select! {
            _ = stopped.changed() => {
                while let Ok(ev) = events.try_recv() {
                    event(&out, bar.as_ref(), &ev);
                }
                return;
            }
            _ = tick.tick() => {
                let p = drive.progress();
                let share = drive.mode() == Mode::Share;
                if out.json() {
                    // A share reports only when something changed (peers, uploads, versions).
                    if share && last_share.as_ref() == Some(&p) {
                        continue;
                    }
                    if share {
                        last_share = Some(p.clone());
                    }
                    out.record(&progress_fields(&p, &mut rate));
                } else if let Some(bar) = &bar {
                    bar.set_message(if share { share_line(&p) } else { progress_line(&p, &mut rate) });
                    bar.tick();
                } else if !share {
                    out.note(progress_line(&p, &mut rate));
                }
            }
            ev = events.recv() => match ev {
                Ok(ev) => event(&out, bar.as_ref(), &ev),
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
        }
    }
}

/// Bytes per second over the last few seconds.
#[derive(Default)]
struct Rate {
    samples: VecDeque<(Instant, u64)>,
}

impl Rate {
    fn update(&mut self, total: u64) -> f64 {
        let now = Instant::now();
        self.samples.push_back((now, total));
        while self.samples.len() > 2
            && self
                .samples
                .front()
                .is_some_and(|s| now.duration_since(s.0) > Duration::from_secs(5))
        {
            self.samples.pop_front();
        }
        match (self.samples.front(), self.samples.back()) {
            (Some(a), Some(b)) if b.0 > a.0 => {
                b.1.saturating_sub(a.1) as f64 / b.0.duration_since(a.0).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

fn metadata_done(p: &Progress) -> bool {
    p.metadata.wanted_blocks > 0 && p.metadata.have_blocks >= p.metadata.wanted_blocks
}

fn eta(p: &Progress, rate: f64) -> Option<u64> {
    let left = p.content.wanted_bytes.saturating_sub(p.content.have_bytes);
    (rate > 1.0 && left > 0).then(|| (left as f64 / rate).ceil() as u64)
}

fn progress_line(p: &Progress, rate: &mut Rate) -> String {
    let bps = rate.update(p.metadata.downloaded_bytes + p.content.downloaded_bytes);
    let peers = format!("{} peer{}", p.peers, if p.peers == 1 { "" } else { "s" });
    if !metadata_done(p) {
        return format!(
            "metadata {}/{} entries | {peers}",
            p.metadata.have_blocks, p.metadata.wanted_blocks
        );
    }
    let c = &p.content;
    let pct = (c.have_bytes * 100)
        .checked_div(c.wanted_bytes)
        .unwrap_or(100);
    let eta = eta(p, bps).map_or(String::new(), |s| format!(", ETA {s} s"));
    format!(
        "version {} | content {} / {} ({pct}%), {} blocks of {} at {}/s{eta} | {peers}",
        p.version,
        human_bytes(c.have_bytes),
        human_bytes(c.wanted_bytes),
        c.have_blocks,
        c.wanted_blocks,
        human_bytes(bps as u64)
    )
}

fn share_line(p: &Progress) -> String {
    format!(
        "version {} | {} peer{} | {} blocks uploaded",
        p.version,
        p.peers,
        if p.peers == 1 { "" } else { "s" },
        p.metadata.uploaded_blocks + p.content.uploaded_blocks
    )
}

fn progress_fields(p: &Progress, rate: &mut Rate) -> Vec<(&'static str, String)> {
    let bps = rate.update(p.metadata.downloaded_bytes + p.content.downloaded_bytes);
    let feed = |f: &dat_net::replication::FeedProgress| {
        json_object(&[
            ("length", f.length.to_string()),
            ("remoteLength", f.remote_length.to_string()),
            ("haveBlocks", f.have_blocks.to_string()),
            ("wantedBlocks", f.wanted_blocks.to_string()),
            ("haveBytes", f.have_bytes.to_string()),
            ("wantedBytes", f.wanted_bytes.to_string()),
            ("downloadedBlocks", f.downloaded_blocks.to_string()),
            ("downloadedBytes", f.downloaded_bytes.to_string()),
            ("uploadedBlocks", f.uploaded_blocks.to_string()),
        ])
    };
    vec![
        ("event", json_string("progress")),
        ("version", p.version.to_string()),
        ("peers", p.peers.to_string()),
        ("complete", p.complete.to_string()),
        ("metadata", feed(&p.metadata)),
        ("content", feed(&p.content)),
        ("bytesPerSecond", format!("{}", bps as u64)),
        (
            "etaSeconds",
            eta(p, bps).map_or("null".into(), |s| s.to_string()),
        ),
    ]
}

fn event(out: &Output, bar: Option<&ProgressBar>, ev: &NetEvent) {
    let (name, mut fields, text) = match ev {
        NetEvent::PeerConnected { addr } => (
            "peer-connected",
            vec![("addr", json_string(&addr.to_string()))],
            format!("connected to {addr}"),
        ),
        NetEvent::PeerClosed {
            addr,
            reason,
            action,
        } => (
            "peer-closed",
            vec![
                ("addr", json_string(&addr.to_string())),
                ("reason", json_string(reason)),
                ("action", json_string(&format!("{action:?}").to_lowercase())),
            ],
            format!("{addr} left: {reason}"),
        ),
        NetEvent::DialFailed { addr, reason } => (
            "dial-failed",
            vec![
                ("addr", json_string(&addr.to_string())),
                ("reason", json_string(reason)),
            ],
            format!("cannot connect to {addr}: {reason}"),
        ),
        NetEvent::MetadataComplete { version } => (
            "metadata-complete",
            vec![("version", version.to_string())],
            format!("metadata of version {version} complete"),
        ),
        NetEvent::Complete { version } => (
            "complete",
            vec![("version", version.to_string())],
            format!("version {version} complete"),
        ),
        NetEvent::Appended { version } => (
            "appended",
            vec![("version", version.to_string())],
            format!("version {version} announced"),
        ),
        NetEvent::Failed { reason } => (
            "failed",
            vec![("reason", json_string(reason))],
            format!("replication failed: {reason}"),
        ),
    };
    if out.json() {
        fields.insert(0, ("event", json_string(name)));
        out.record(&fields);
    } else if let Some(bar) = bar {
        bar.println(text);
    } else if !matches!(ev, NetEvent::DialFailed { .. }) {
        out.note(text);
    }
}

/// A summary line for a finished download.
pub fn summary(p: &Progress, secs: f64) -> String {
    let bytes = p.metadata.downloaded_bytes + p.content.downloaded_bytes;
    format!(
        "version {}: {} of content ({} blocks) stored; {} downloaded in {:.1} s ({}/s)",
        p.version,
        human_bytes(p.content.have_bytes),
        p.content.have_blocks,
        human_bytes(bytes),
        secs,
        human_bytes((bytes as f64 / secs.max(1e-3)) as u64)
    )
}
