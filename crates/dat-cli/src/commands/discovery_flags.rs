//! The discovery flags every networked command takes, and the config file behind them.
//!
//! Defaults are dat-swarm-defaults 1.0.3 (DNS discovery servers, the DHT bootstrap nodes,
//! multicast DNS), so a plain `dat share` finds and is found as the JS client is. A config
//! file can switch backends off or point them elsewhere for a whole site (a lab without
//! internet runs its own `dat discovery-server`); flags on the command line win over it.
//!
//! The file is `$DAT_CONFIG`, else `~/.dat/config`: `key = value` lines, `#` comments.
//! Keys: `dns`, `mdns`, `dht` (`true`/`false`), `dns-server` and `dht-bootstrap`
//! (`HOST:PORT`, repeatable: the first occurrence replaces the defaults).

use std::path::PathBuf;

use anyhow::{Context, bail};
use dat_net::discovery::DiscoveryConfig;

/// Which discovery backends to use and where they point.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DiscoveryFlags {
    /// Do not use the BitTorrent Mainline DHT.
    #[arg(long)]
    pub no_dht: bool,
    /// Do not use DNS discovery servers.
    #[arg(long)]
    pub no_dns: bool,
    /// Do not use multicast DNS on the local network.
    #[arg(long)]
    pub no_mdns: bool,
    /// A DNS discovery server to use instead of the defaults (repeatable).
    #[arg(long = "dns-server", value_name = "HOST:PORT")]
    pub dns_servers: Vec<String>,
    /// A DHT bootstrap node to use instead of the defaults (repeatable).
    #[arg(long = "dht-bootstrap", value_name = "HOST:PORT")]
    pub dht_bootstrap: Vec<String>,
    /// The config file (default: $DAT_CONFIG, else ~/.dat/config).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl DiscoveryFlags {
    /// The discovery settings: defaults, then the config file, then the flags.
    pub fn config(&self) -> anyhow::Result<DiscoveryConfig> {
        let mut cfg = DiscoveryConfig::default();
        if let Some(path) = self.config_path() {
            match std::fs::read_to_string(&path) {
                Ok(text) => apply_file(&mut cfg, &text)
                    .with_context(|| format!("in the config file {}", path.display()))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.config.is_none() => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("reading {}", path.display()));
                }
            }
        }
        cfg.no_dht |= self.no_dht;
        cfg.no_dns |= self.no_dns;
        cfg.no_mdns |= self.no_mdns;
        if !self.dns_servers.is_empty() {
            cfg.dns_servers = self.dns_servers.clone();
        }
        if !self.dht_bootstrap.is_empty() {
            cfg.dht_bootstrap = self.dht_bootstrap.clone();
        }
        Ok(cfg)
    }

    fn config_path(&self) -> Option<PathBuf> {
        if let Some(p) = &self.config {
            return Some(p.clone());
        }
        if let Some(p) = std::env::var_os("DAT_CONFIG") {
            return Some(p.into());
        }
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".dat").join("config"))
    }
}

/// Apply a config file's `key = value` lines to `cfg`.
fn apply_file(cfg: &mut DiscoveryConfig, text: &str) -> anyhow::Result<()> {
    let (mut dns_seen, mut dht_seen) = (false, false);
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            bail!("line {}: expected `key = value`, got `{line}`", n + 1);
        };
        let (key, value) = (key.trim(), value.trim());
        let flag = || -> anyhow::Result<bool> {
            match value {
                "true" | "yes" | "on" => Ok(true),
                "false" | "no" | "off" => Ok(false),
                _ => bail!("line {}: `{key}` takes true or false, not `{value}`", n + 1),
            }
        };
        match key {
            "dns" => cfg.no_dns = !flag()?,
            "mdns" => cfg.no_mdns = !flag()?,
            "dht" => cfg.no_dht = !flag()?,
            "dns-server" => {
                if !std::mem::replace(&mut dns_seen, true) {
                    cfg.dns_servers.clear();
                }
                cfg.dns_servers.push(value.to_string());
            }
            "dht-bootstrap" => {
                if !std::mem::replace(&mut dht_seen, true) {
                    cfg.dht_bootstrap.clear();
                }
                cfg.dht_bootstrap.push(value.to_string());
            }
            _ => bail!("line {}: unknown key `{key}`", n + 1),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_flags() {
        let mut cfg = DiscoveryConfig::default();
        apply_file(
            &mut cfg,
            "# lab settings\ndht = false\ndns-server = 127.0.0.1:5300\ndns-server = 10.0.0.1:53 # b\n",
        )
        .unwrap();
        assert!(cfg.no_dht && !cfg.no_dns && !cfg.no_mdns);
        assert_eq!(cfg.dns_servers, ["127.0.0.1:5300", "10.0.0.1:53"]);
        assert_eq!(cfg.dht_bootstrap.len(), 4, "defaults kept");
    }

    #[test]
    fn bad_lines_are_named() {
        let mut cfg = DiscoveryConfig::default();
        let err = apply_file(&mut cfg, "dns = maybe").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        let err = apply_file(&mut cfg, "\nfoo = 1").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("foo"), "{err}");
    }
}
