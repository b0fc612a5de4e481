//! The connections of one drive: a listener that serves it to any number of peers, a dialer
//! for the addresses a peer source hands in (the command line's `--peer` list now, discovery
//! later), and the policy for peers that leave: redial the ones that only went quiet, never
//! again the ones that broke the protocol.
//!
//! Every connection of a drive sends one peer id, so a connection to ourselves and a second
//! connection to a peer are recognised at the Handshake and closed (`peer_ids`); an address
//! that led back to us is never dialed again.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use dat_wire::PeerAction;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use super::drive::Drive;
use super::peer::{Closed, Origin, run_connection};
use super::progress::NetEvent;

/// How a swarm behaves.
#[derive(Clone, Debug)]
pub struct SwarmOptions {
    /// Listen for peers here (`None`: dial only).
    pub listen: Option<SocketAddr>,
    /// Dial a peer again after it went away for a transient reason.
    pub redial: bool,
    /// Give up a TCP connect after this long.
    pub dial_timeout: Duration,
    /// First delay before redialing; doubles per failure up to [`MAX_REDIAL_DELAY`].
    pub redial_delay: Duration,
    /// Most connections at once (more inbound ones are refused).
    pub max_connections: usize,
}

/// Longest wait between two dials of one peer.
pub const MAX_REDIAL_DELAY: Duration = Duration::from_secs(8);

impl Default for SwarmOptions {
    fn default() -> Self {
        Self {
            listen: None,
            redial: true,
            dial_timeout: Duration::from_secs(5),
            redial_delay: Duration::from_millis(500),
            max_connections: 64,
        }
    }
}

/// Hands peer addresses to a swarm; clone it into whatever finds peers.
#[derive(Clone, Debug)]
pub struct PeerSource(mpsc::UnboundedSender<SocketAddr>);

impl PeerSource {
    /// Dial `addr` (ignored if already connected, being dialed, or banned).
    pub fn add(&self, addr: SocketAddr) {
        let _ = self.0.send(addr);
    }
}

/// A running swarm; dropping it ends every connection.
#[derive(Debug)]
pub struct Swarm {
    source: PeerSource,
    local_addr: Option<SocketAddr>,
    task: JoinHandle<()>,
}

impl Drop for Swarm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Swarm {
    /// Start serving and dialing for `drive`.
    pub async fn start(drive: Drive, options: SwarmOptions) -> std::io::Result<Self> {
        let listener = match options.listen {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let local_addr = listener.as_ref().map(TcpListener::local_addr).transpose()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let source = PeerSource(tx.clone());
        let manager = Manager {
            drive,
            options,
            local_addr,
            redial: PeerSource(tx),
            tasks: JoinSet::new(),
            busy: HashSet::new(),
            banned: HashSet::new(),
            failures: HashMap::new(),
        };
        let task = tokio::spawn(manager.run(listener, rx));
        Ok(Self {
            source,
            local_addr,
            task,
        })
    }

    /// Where the listener is bound (the port to tell peers).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Dial `addr`.
    pub fn add_peer(&self, addr: SocketAddr) {
        self.source.add(addr);
    }

    /// A handle for whatever finds peers (discovery).
    pub fn peer_source(&self) -> PeerSource {
        self.source.clone()
    }
}

/// How one connection task ended.
enum Ended {
    Outbound(SocketAddr, Result<Closed, String>),
    Inbound,
}

struct Manager {
    drive: Drive,
    options: SwarmOptions,
    local_addr: Option<SocketAddr>,
    redial: PeerSource,
    tasks: JoinSet<Ended>,
    /// Peers with an outbound connection or dial under way.
    busy: HashSet<SocketAddr>,
    banned: HashSet<SocketAddr>,
    failures: HashMap<SocketAddr, u32>,
}

impl Manager {
    async fn run(
        mut self,
        listener: Option<TcpListener>,
        mut rx: mpsc::UnboundedReceiver<SocketAddr>,
    ) {
        loop {
            tokio::select! {
                Some(addr) = rx.recv() => self.dial(addr),
                accepted = accept(&listener) => {
                    if let Ok((stream, addr)) = accepted {
                        if self.tasks.len() >= self.options.max_connections {
                            continue; // dropped: the peer sees the connection close
                        }
                        let drive = self.drive.clone();
                        self.tasks.spawn(async move {
                            run_connection(stream, addr, drive, Origin::Accepted).await;
                            Ended::Inbound
                        });
                    }
                }
                Some(ended) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    if let Ok(ended) = ended {
                        self.ended(ended);
                    }
                }
            }
        }
    }

    fn dial(&mut self, addr: SocketAddr) {
        if self.busy.contains(&addr)
            || self.banned.contains(&addr)
            || Some(addr) == self.local_addr
            || self.tasks.len() >= self.options.max_connections
        {
            return;
        }
        self.busy.insert(addr);
        let drive = self.drive.clone();
        let timeout = self.options.dial_timeout;
        self.tasks.spawn(async move {
            let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return Ended::Outbound(addr, Err(e.to_string())),
                Err(_) => return Ended::Outbound(addr, Err("connect timed out".into())),
            };
            Ended::Outbound(
                addr,
                Ok(run_connection(stream, addr, drive, Origin::Dialed).await),
            )
        });
    }

    fn ended(&mut self, ended: Ended) {
        let Ended::Outbound(addr, result) = ended else {
            return;
        };
        self.busy.remove(&addr);
        let (action, peer_id) = match result {
            Ok(closed) => {
                if closed.action == PeerAction::Retry {
                    self.failures.remove(&addr);
                }
                (closed.action, closed.peer_id)
            }
            Err(reason) => {
                self.drive.emit(NetEvent::DialFailed { addr, reason });
                (PeerAction::Retry, None)
            }
        };
        match action {
            PeerAction::Ban => {
                self.banned.insert(addr);
            }
            PeerAction::Forget => {}
            PeerAction::Retry if self.options.redial => {
                let n = self.failures.entry(addr).or_insert(0);
                *n = n.saturating_add(1);
                let delay = self
                    .options
                    .redial_delay
                    .saturating_mul(1 << (*n - 1).min(5))
                    .min(MAX_REDIAL_DELAY);
                let source = self.redial.clone();
                let drive = self.drive.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    // Still connected to that peer another way (it dialed us as we dialed
                    // it, and this was the redundant connection): nothing to redial.
                    if let Some(id) = peer_id
                        && drive.lock().await.peer_ids.is_connected(&id)
                    {
                        return;
                    }
                    source.add(addr);
                });
            }
            PeerAction::Retry => {}
        }
    }
}

async fn accept(listener: &Option<TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}
