//! Peer discovery for Dat (DAT-SPEC §6.1, §6.2): DNS discovery servers, multicast DNS
//! and the Mainline DHT behind one `join` / `leave` / `found` interface.
//!
//! The protocol logic is the sans-IO `dat-discovery` crate; this module owns the
//! sockets, timers and the `mainline` DHT node. A swarm calls
//! [`Discovery::join`] with a discovery key and the port it listens on, and reads
//! [`Found`] events from the bounded channel returned by [`Discovery::start`].

mod config;
mod dht;
mod dns;
mod mdns;
mod report;
pub mod server;

use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dat_discovery::schedule::{Backend, Schedule};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use config::{DEFAULT_DHT_BOOTSTRAP, DEFAULT_DNS_SERVERS, DEFAULT_PORT, DiscoveryConfig};
pub use dat_discovery::Topic;
pub use dat_discovery::schedule::{Backend as Source, Interval, ScheduleConfig};
pub use report::{BackendReport, FoundRecord, Report};

/// A peer found for a topic, and which backend found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// The joined topic (discovery key).
    pub topic: Topic,
    /// The peer's address.
    pub addr: SocketAddrV4,
    /// Which backend reported it.
    pub source: Source,
}

/// The topic for a Dat discovery key.
pub fn topic_of(dk: &dat_core::crypto::DiscoveryKey) -> Topic {
    Topic(*dk.as_bytes())
}

/// Commands the driver forwards to a backend task.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BackendCmd {
    /// Look up (and announce `announce` if given).
    Query { topic: Topic, announce: Option<u16> },
    /// Withdraw an announcement.
    Unannounce { topic: Topic, port: u16 },
}

/// State every backend task shares.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    found_tx: mpsc::Sender<Found>,
    recorder: report::Recorder,
    topics: Arc<Mutex<HashMap<String, Topic>>>,
    start: Instant,
}

impl Shared {
    /// Our clock for the sans-IO machines: time since discovery started.
    pub(crate) fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Map a record id (hex of `dk[0..20]`) to a joined topic.
    pub(crate) fn topic_for(&self, id: &str) -> Option<Topic> {
        self.topics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .copied()
    }

    pub(crate) fn emit(&self, source: Source, topic: Topic, addr: SocketAddrV4) {
        if addr.port() == 0 || addr.ip().is_unspecified() {
            return;
        }
        self.recorder.found(source, topic, addr);
        if self
            .found_tx
            .try_send(Found {
                topic,
                addr,
                source,
            })
            .is_err()
        {
            self.recorder.dropped(source);
        }
    }
}

enum Command {
    Join(Topic, Option<u16>),
    Leave(Topic),
}

/// A running discovery instance. Dropping it stops every backend.
#[derive(Debug)]
pub struct Discovery {
    cmd_tx: mpsc::Sender<Command>,
    recorder: report::Recorder,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Join(t, p) => write!(f, "Join({t:?}, {p:?})"),
            Command::Leave(t) => write!(f, "Leave({t:?})"),
        }
    }
}

impl Discovery {
    /// Start the enabled backends. A backend that cannot start (socket in use, DHT
    /// bind failure) is reported in [`Discovery::report`] and the others keep going.
    pub async fn start(cfg: DiscoveryConfig) -> (Discovery, mpsc::Receiver<Found>) {
        let start = Instant::now();
        let enabled = [
            (Backend::Dns, !cfg.no_dns),
            (Backend::Mdns, !cfg.no_mdns),
            (Backend::Dht, !cfg.no_dht),
        ];
        let recorder = report::Recorder::new(start, &enabled);
        let (found_tx, found_rx) = mpsc::channel(cfg.channel_capacity.max(1));
        let shared = Shared {
            found_tx,
            recorder: recorder.clone(),
            topics: Arc::default(),
            start,
        };
        let mut tasks = Vec::new();
        let mut backends = Vec::new();
        for (backend, on) in enabled {
            if !on {
                continue;
            }
            let spawned = match backend {
                Backend::Dns => dns::spawn(&cfg, shared.clone()).await,
                Backend::Mdns => mdns::spawn(&cfg, shared.clone()),
                Backend::Dht => dht::spawn(&cfg, shared.clone()),
            };
            match spawned {
                Ok((tx, task)) => {
                    backends.push((backend, tx));
                    tasks.push(task);
                }
                Err(e) => recorder.error(backend, format!("start failed: {e}")),
            }
        }
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let active: Vec<Backend> = backends.iter().map(|(b, _)| *b).collect();
        let schedule = Schedule::new(cfg.schedule, &active, random_u64());
        tasks.push(tokio::spawn(drive(cmd_rx, schedule, backends, shared)));
        (
            Discovery {
                cmd_tx,
                recorder,
                tasks,
            },
            found_rx,
        )
    }

    /// Join `topic`: look it up now and on every interval, announcing
    /// `announce_port` (the swarm's listening port) if given.
    pub async fn join(&self, topic: impl Into<Topic>, announce_port: Option<u16>) {
        let _ = self
            .cmd_tx
            .send(Command::Join(topic.into(), announce_port))
            .await;
    }

    /// Leave `topic`: stop looking it up and withdraw its announcement.
    pub async fn leave(&self, topic: impl Into<Topic>) {
        let _ = self.cmd_tx.send(Command::Leave(topic.into())).await;
    }

    /// What each backend did so far.
    pub fn report(&self) -> Report {
        self.recorder.snapshot()
    }
}

impl Drop for Discovery {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

pub(crate) fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // Only spreads timers and ids; a zero seed is still correct if the OS fails.
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

pub(crate) fn random_secret() -> [u8; 32] {
    let mut b = [0u8; 32];
    if getrandom::fill(&mut b).is_err() {
        // Tokens would become predictable; mix in the clock rather than use zeros.
        let t = Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id());
        b[..16].copy_from_slice(&t.to_le_bytes());
    }
    b
}

async fn drive(
    mut rx: mpsc::Receiver<Command>,
    mut schedule: Schedule,
    backends: Vec<(Backend, mpsc::Sender<BackendCmd>)>,
    shared: Shared,
) {
    let send = |backend: Backend, cmd: BackendCmd| {
        if let Some((_, tx)) = backends.iter().find(|(b, _)| *b == backend)
            && tx.try_send(cmd).is_err()
        {
            shared.recorder.error(backend, "command queue full".into());
        }
    };
    loop {
        let sleep_for = schedule.next_due().map(|d| d.saturating_sub(shared.now()));
        tokio::select! {
            cmd = rx.recv() => match cmd {
                None => return,
                Some(Command::Join(topic, port)) => {
                    shared.topics.lock().unwrap_or_else(|p| p.into_inner()).insert(topic.name(), topic);
                    if let Some(Some(old)) = schedule.join(shared.now(), topic, port)
                        && Some(old) != port
                    {
                        for b in [Backend::Dns, Backend::Mdns] {
                            send(b, BackendCmd::Unannounce { topic, port: old });
                        }
                    }
                }
                Some(Command::Leave(topic)) => {
                    shared.topics.lock().unwrap_or_else(|p| p.into_inner()).remove(&topic.name());
                    if let Some(Some(port)) = schedule.leave(topic) {
                        for b in [Backend::Dns, Backend::Mdns] {
                            send(b, BackendCmd::Unannounce { topic, port });
                        }
                    }
                }
            },
            _ = sleep_opt(sleep_for) => {}
        }
        for task in schedule.poll(shared.now()) {
            shared.recorder.query(task.backend);
            send(
                task.backend,
                BackendCmd::Query {
                    topic: task.topic,
                    announce: task.announce,
                },
            );
        }
    }
}

async fn sleep_opt(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
