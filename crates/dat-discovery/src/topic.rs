//! Topics and the DNS names derived from them (DAT-SPEC §6.2.1).
//!
//! A topic is a 32-byte discovery key. dat@13 truncates it to 20 bytes (`hash: false`
//! in discovery-channel) so that it fits the Mainline DHT; the DNS label is the hex of
//! those 20 bytes, so DNS, mDNS and DHT all agree on one identifier.

use std::fmt;

/// dat-swarm-defaults' DNS domain.
pub const DAT_DOMAIN: &str = "dat.local";

/// A 32-byte discovery key used as a discovery topic.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Topic(pub [u8; 32]);

impl Topic {
    /// The 20-byte identifier used as DHT info-hash and DNS label (`dk[0..20]`).
    pub fn id20(&self) -> [u8; 20] {
        let mut out = [0u8; 20];
        out.copy_from_slice(&self.0[..20]);
        out
    }

    /// `hex(dk[0..20])`: the label dns-discovery puts in front of the domain.
    pub fn name(&self) -> String {
        hex(&self.0[..20])
    }

    /// `<hex(dk[0..20])>.<domain>`, the record name queried and announced.
    pub fn record_name(&self, domain: &str) -> String {
        format!("{}.{}", self.name(), domain)
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Topic({})", self.name())
    }
}

impl From<[u8; 32]> for Topic {
    fn from(bytes: [u8; 32]) -> Self {
        Topic(bytes)
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Split a record name the way dns-discovery does (`parseDomain`/`parseId`): the
/// domain is the last two labels, the id is everything before it. Returns `None` for
/// a bare domain or a single label. The id is lower-cased (DNS names are
/// case-insensitive; our ids are lower-case hex).
pub fn split_name(name: &str) -> Option<(String, &str)> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let last = name.rfind('.')?;
    let start = name[..last].rfind('.')?;
    let id = &name[..start];
    if id.is_empty() {
        return None;
    }
    Some((id.to_ascii_lowercase(), &name[start + 1..]))
}

/// Whether `name` is exactly `domain` (the probe / whoami question).
pub fn is_bare_domain(name: &str, domain: &str) -> bool {
    name.strip_suffix('.')
        .unwrap_or(name)
        .eq_ignore_ascii_case(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let mut dk = [0u8; 32];
        for (i, b) in dk.iter_mut().enumerate() {
            *b = i as u8;
        }
        let t = Topic(dk);
        assert_eq!(t.name(), "000102030405060708090a0b0c0d0e0f10111213");
        assert_eq!(
            t.record_name(DAT_DOMAIN),
            "000102030405060708090a0b0c0d0e0f10111213.dat.local"
        );
        assert_eq!(&t.id20()[..], &dk[..20]);
    }

    #[test]
    fn split() {
        assert_eq!(split_name("AB.dat.local"), Some(("ab".into(), "dat.local")));
        assert_eq!(
            split_name("x.y.hyperswarm.local."),
            Some(("x.y".into(), "hyperswarm.local"))
        );
        assert_eq!(split_name("dat.local"), None);
        assert_eq!(split_name("local"), None);
        assert_eq!(split_name(".dat.local"), None);
        assert!(is_bare_domain("DAT.local.", "dat.local"));
    }
}
