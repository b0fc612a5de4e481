//! The multicast DNS socket (224.0.0.251:5353, TTL 255, loopback on — as
//! multicast-dns 7.2.5 sets it up).

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use dat_discovery::mdns::{MDNS_GROUP, Mdns};
use dat_discovery::schedule::Backend;
use dat_discovery::token::Secrets;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{BackendCmd, DiscoveryConfig, Shared};

fn multicast_socket(port: u16, iface: Ipv4Addr) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.bind(&SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).into())?;
    s.join_multicast_v4(MDNS_GROUP.ip(), &iface)?;
    if !iface.is_unspecified() {
        s.set_multicast_if_v4(&iface)?;
    }
    s.set_multicast_loop_v4(true)?;
    s.set_multicast_ttl_v4(255)?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s.into())
}

pub(crate) fn spawn(
    cfg: &DiscoveryConfig,
    shared: Shared,
) -> io::Result<(mpsc::Sender<BackendCmd>, JoinHandle<()>)> {
    let socket = multicast_socket(cfg.mdns_port, cfg.mdns_interface)?;
    let mdns = Mdns::new(
        &cfg.domain,
        Secrets::new(super::random_secret(), super::random_secret()),
    );
    let group = SocketAddrV4::new(*MDNS_GROUP.ip(), cfg.mdns_port);
    let (tx, rx) = mpsc::channel(256);
    Ok((tx, tokio::spawn(run(socket, mdns, group, rx, shared))))
}

async fn run(
    socket: UdpSocket,
    mut mdns: Mdns,
    group: SocketAddrV4,
    mut rx: mpsc::Receiver<BackendCmd>,
    shared: Shared,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                None => return,
                Some(BackendCmd::Query { topic, announce }) => {
                    let id = topic.name();
                    if let Some(p) = announce {
                        mdns.announce(&id, p);
                    }
                    // dns-discovery's query (dat@13), then hyperswarm's (dat@14).
                    for query in [mdns.query(&id), mdns.hyperswarm_query(&id)] {
                        if let Err(e) = socket.send_to(&query, group).await {
                            shared.recorder.error(Backend::Mdns, format!("send: {e}"));
                        }
                    }
                }
                Some(BackendCmd::Unannounce { topic, port }) => mdns.unannounce(&topic.name(), port),
            },
            got = socket.recv_from(&mut buf) => {
                let Ok((n, SocketAddr::V4(from))) = got else { continue };
                let out = mdns.handle(from, &buf[..n]);
                let mut useful = false;
                for (id, peer) in out.peers {
                    if let Some(topic) = shared.topic_for(&id) {
                        useful = true;
                        shared.emit(Backend::Mdns, topic, peer);
                    }
                }
                if useful {
                    shared.recorder.answer(Backend::Mdns, None);
                }
                if let Some(reply) = out.reply {
                    let to = SocketAddrV4::new(*group.ip(), out.reply_port);
                    if let Err(e) = socket.send_to(&reply, to).await {
                        shared.recorder.error(Backend::Mdns, format!("reply: {e}"));
                    }
                }
            }
        }
    }
}
