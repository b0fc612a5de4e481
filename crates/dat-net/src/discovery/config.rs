//! Discovery settings, defaulting to dat-swarm-defaults 1.0.3 (DAT-SPEC §6.2.1).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use dat_discovery::schedule::ScheduleConfig;

/// dat's swarm port.
pub const DEFAULT_PORT: u16 = 3282;
/// dat-swarm-defaults' DNS discovery servers (no port: 5300, then 53).
pub const DEFAULT_DNS_SERVERS: [&str; 2] =
    ["discovery1.datprotocol.com", "discovery2.datprotocol.com"];
/// dat-swarm-defaults' DHT bootstrap nodes.
pub const DEFAULT_DHT_BOOTSTRAP: [&str; 4] = [
    "bootstrap1.datprotocol.com:6881",
    "bootstrap2.datprotocol.com:6881",
    "bootstrap3.datprotocol.com:6881",
    "bootstrap4.datprotocol.com:6881",
];

/// Everything [`super::Discovery`] needs; each backend can be switched off.
#[derive(Debug, Clone)]
pub struct DiscoveryConfig {
    /// Disable the unicast DNS discovery servers.
    pub no_dns: bool,
    /// Disable multicast DNS.
    pub no_mdns: bool,
    /// Disable the Mainline DHT.
    pub no_dht: bool,
    /// DNS discovery servers, `host[:port]` (JS `parseAddr`: no port = 5300 then 53).
    pub dns_servers: Vec<String>,
    /// DNS (and mDNS) domain.
    pub domain: String,
    /// Local address of the DNS discovery client socket.
    pub dns_bind: SocketAddrV4,
    /// mDNS UDP port (5353; tests may pick another).
    pub mdns_port: u16,
    /// Interface address for multicast (UNSPECIFIED = the kernel's choice).
    pub mdns_interface: Ipv4Addr,
    /// DHT bootstrap nodes, `host:port`.
    pub dht_bootstrap: Vec<String>,
    /// Local address of the DHT socket.
    pub dht_bind: Ipv4Addr,
    /// DHT UDP port (`None`: mainline's choice).
    pub dht_port: Option<u16>,
    /// Announce with `implied_port` (only right when the DHT socket is the swarm's
    /// UDP port, as with dat's shared uTP socket).
    pub dht_implied_port: bool,
    /// KRPC request timeout.
    pub dht_request_timeout: Duration,
    /// How long one DHT lookup may run.
    pub dht_query_timeout: Duration,
    /// Query intervals.
    pub schedule: ScheduleConfig,
    /// Capacity of the `found` channel; finds beyond it are dropped (they recur).
    pub channel_capacity: usize,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            no_dns: false,
            no_mdns: false,
            no_dht: false,
            dns_servers: DEFAULT_DNS_SERVERS.iter().map(|s| s.to_string()).collect(),
            domain: dat_discovery::DAT_DOMAIN.to_string(),
            dns_bind: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
            mdns_port: 5353,
            mdns_interface: Ipv4Addr::UNSPECIFIED,
            dht_bootstrap: DEFAULT_DHT_BOOTSTRAP
                .iter()
                .map(|s| s.to_string())
                .collect(),
            dht_bind: Ipv4Addr::UNSPECIFIED,
            dht_port: None,
            dht_implied_port: false,
            dht_request_timeout: Duration::from_secs(2),
            dht_query_timeout: Duration::from_secs(30),
            schedule: ScheduleConfig::default(),
            channel_capacity: 256,
        }
    }
}

impl DiscoveryConfig {
    /// Nothing enabled: a base for tests and for callers enabling one backend.
    pub fn none() -> Self {
        DiscoveryConfig {
            no_dns: true,
            no_mdns: true,
            no_dht: true,
            ..Self::default()
        }
    }
}
