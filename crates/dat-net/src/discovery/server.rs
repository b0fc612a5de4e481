//! A dns-discovery server anyone can run (what discovery1.datprotocol.com runs):
//! `dat discovery-server [--port P]` calls [`run`].

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dat_discovery::server::{Server, ServerStats};
use dat_discovery::token::Secrets;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

pub use dat_discovery::server::ServerConfig;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// UDP address to listen on (dns-discovery listens on 53 and 5300).
    pub bind: SocketAddrV4,
    /// Protocol limits, TTLs and rate limits.
    pub config: ServerConfig,
    /// Static peers: `(record id = hex(dk[0..20]), address)`.
    pub seeds: Vec<(String, SocketAddrV4)>,
    /// Token secret rotation period (dns-discovery: 5 minutes).
    pub rotate_every: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            bind: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5300),
            config: ServerConfig::default(),
            seeds: Vec::new(),
            rotate_every: Duration::from_secs(5 * 60),
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddrV4,
    stats: Arc<Mutex<ServerStats>>,
    task: JoinHandle<io::Result<()>>,
}

impl ServerHandle {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddrV4 {
        self.local_addr
    }

    /// Counters so far.
    pub fn stats(&self) -> ServerStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait for the server to stop (it only stops on a socket error).
    pub async fn wait(mut self) -> io::Result<()> {
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(io::Error::other(e)),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Run a server until a socket error.
pub async fn run(opts: ServerOptions) -> io::Result<()> {
    spawn(opts).await?.wait().await
}

/// Bind and run a server in the background; dropping the handle stops it.
pub async fn spawn(opts: ServerOptions) -> io::Result<ServerHandle> {
    let socket = UdpSocket::bind(opts.bind).await?;
    let local_addr = match socket.local_addr()? {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(_) => return Err(io::Error::other("server must bind IPv4")),
    };
    let start = Instant::now();
    let secrets = Secrets::new(super::random_secret(), super::random_secret());
    let mut server = Server::new(opts.config.clone(), secrets, super::random_u64());
    for (id, peer) in &opts.seeds {
        server.seed(start.elapsed(), id, *peer);
    }
    let stats = Arc::new(Mutex::new(server.stats()));
    let task = tokio::spawn(serve(
        socket,
        server,
        start,
        opts.rotate_every,
        stats.clone(),
    ));
    Ok(ServerHandle {
        local_addr,
        stats,
        task,
    })
}

async fn serve(
    socket: UdpSocket,
    mut server: Server,
    start: Instant,
    rotate_every: Duration,
    stats: Arc<Mutex<ServerStats>>,
) -> io::Result<()> {
    let mut buf = vec![0u8; 65_536];
    let mut rotate = tokio::time::interval(rotate_every.max(Duration::from_secs(1)));
    rotate.tick().await;
    loop {
        tokio::select! {
            _ = rotate.tick() => server.rotate_secret(super::random_secret()),
            got = socket.recv_from(&mut buf) => {
                let (n, from) = match got {
                    Ok(x) => x,
                    // ICMP errors from earlier sends show up here; not fatal.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                    Err(e) if e.kind() == io::ErrorKind::ConnectionReset => continue,
                    Err(e) => return Err(e),
                };
                let SocketAddr::V4(from) = from else { continue };
                for d in server.handle(start.elapsed(), from, &buf[..n]) {
                    let _ = socket.send_to(&d.bytes, d.to).await;
                }
                *stats.lock().unwrap_or_else(|p| p.into_inner()) = server.stats();
            }
        }
    }
}
