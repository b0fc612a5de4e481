//! The unicast DNS-discovery client socket.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Duration;

use dat_discovery::Topic;
use dat_discovery::client::{Client, ClientConfig, ClientEvent, ClientOutput, Op, ServerAddr};
use dat_discovery::schedule::Backend;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{BackendCmd, DiscoveryConfig, Shared};

/// Parse `host[:port]` like dns-discovery's `parseAddr`: no port means 5300 with
/// fallback 53.
pub(crate) fn parse_server(s: &str) -> (String, u16, Option<u16>) {
    match s.rsplit_once(':') {
        Some((host, port)) => match port.parse() {
            Ok(p) => (host.to_string(), p, None),
            Err(_) => (s.to_string(), 5300, Some(53)),
        },
        None => (s.to_string(), 5300, Some(53)),
    }
}

async fn resolve(servers: &[String], shared: &Shared) -> Vec<ServerAddr> {
    let mut out = Vec::new();
    for s in servers {
        let (host, port, fallback_port) = parse_server(s);
        let found = tokio::net::lookup_host((host.as_str(), port))
            .await
            .ok()
            .and_then(|mut it| {
                it.find_map(|a| match a {
                    SocketAddr::V4(v4) => Some(v4),
                    SocketAddr::V6(_) => None,
                })
            });
        match found {
            Some(addr) => out.push(ServerAddr {
                addr,
                fallback_port,
            }),
            None => shared
                .recorder
                .error(Backend::Dns, format!("cannot resolve {s}")),
        }
    }
    out
}

pub(crate) async fn spawn(
    cfg: &DiscoveryConfig,
    shared: Shared,
) -> io::Result<(mpsc::Sender<BackendCmd>, JoinHandle<()>)> {
    let socket = UdpSocket::bind(cfg.dns_bind).await?;
    let servers = resolve(&cfg.dns_servers, &shared).await;
    let client = Client::new(
        ClientConfig {
            domain: cfg.domain.clone(),
            servers,
            retry_after: Duration::from_secs(1),
            tries: 3,
            max_pending: 1024,
        },
        super::random_u64() as u16,
    );
    let (tx, rx) = mpsc::channel(256);
    let task = tokio::spawn(run(socket, client, rx, shared));
    Ok((tx, task))
}

struct State {
    client: Client,
    socket: UdpSocket,
    shared: Shared,
    announced: HashMap<Topic, u16>,
}

async fn run(
    socket: UdpSocket,
    client: Client,
    mut rx: mpsc::Receiver<BackendCmd>,
    shared: Shared,
) {
    let mut st = State {
        client,
        socket,
        shared,
        announced: HashMap::new(),
    };
    let mut buf = vec![0u8; 65_536];
    loop {
        let wait = st
            .client
            .next_deadline()
            .map(|d| d.saturating_sub(st.shared.now()));
        tokio::select! {
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { return };
                let now = st.shared.now();
                let sends = match cmd {
                    BackendCmd::Query { topic, announce } => {
                        let op = match announce {
                            Some(p) => {
                                st.announced.insert(topic, p);
                                Op::Announce(p)
                            }
                            None => Op::Lookup,
                        };
                        st.client.request(now, &topic.name(), op)
                    }
                    BackendCmd::Unannounce { topic, port } => {
                        st.announced.remove(&topic);
                        st.client.request(now, &topic.name(), Op::Unannounce(port))
                    }
                };
                st.send_all(sends).await;
            }
            got = st.socket.recv_from(&mut buf) => match got {
                Ok((n, SocketAddr::V4(from))) => {
                    let out = st.client.handle(st.shared.now(), from, &buf[..n]);
                    st.process(out).await;
                }
                Ok(_) => {}
                Err(e) => {
                    // ICMP port unreachable surfaces here on Linux; keep going.
                    st.shared.recorder.error(Backend::Dns, format!("recv: {e}"));
                }
            },
            _ = super::sleep_opt(wait) => {
                let out = st.client.poll(st.shared.now());
                st.process(out).await;
            }
        }
    }
}

impl State {
    async fn send_all(&self, sends: Vec<dat_discovery::server::Datagram>) {
        for d in sends {
            if let Err(e) = self.socket.send_to(&d.bytes, d.to).await {
                self.shared
                    .recorder
                    .error(Backend::Dns, format!("send to {}: {e}", d.to));
            }
        }
    }

    async fn process(&mut self, out: ClientOutput) {
        for ev in out.events {
            match ev {
                ClientEvent::Peer { id, peer, .. } => {
                    let Some(topic) = self.shared.topic_for(&id) else {
                        continue;
                    };
                    if self.is_self(topic, peer) {
                        continue;
                    }
                    self.shared.emit(Backend::Dns, topic, peer);
                }
                ClientEvent::Answered { rtt, .. } => {
                    self.shared.recorder.answer(Backend::Dns, Some(rtt))
                }
                ClientEvent::TimedOut { server } => self
                    .shared
                    .recorder
                    .error(Backend::Dns, format!("{server} timed out")),
            }
        }
        self.send_all(out.send).await;
    }

    /// discovery-channel drops peers equal to our own public address (whoami).
    fn is_self(&self, topic: Topic, peer: SocketAddrV4) -> bool {
        let Some((host, _)) = self.client.whoami() else {
            return false;
        };
        *peer.ip() == host && self.announced.get(&topic) == Some(&peer.port())
    }
}

#[cfg(test)]
mod tests {
    use super::parse_server;

    #[test]
    fn parse_addr_like_js() {
        assert_eq!(
            parse_server("discovery1.datprotocol.com"),
            ("discovery1.datprotocol.com".into(), 5300, Some(53))
        );
        assert_eq!(
            parse_server("127.0.0.1:9000"),
            ("127.0.0.1".into(), 9000, None)
        );
    }
}
