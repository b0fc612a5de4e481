//! dns-discovery's TXT payload: character-strings `key=value` (DAT-SPEC §6.2.3) and
//! the compact peer list carried in `peers=`.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::base64;

/// Longest DNS character-string. dns-packet 4.2.0 writes `len & 0xff` for longer
/// strings (a corrupt packet), so we never produce one.
pub const MAX_STRING: usize = 255;

/// Most peers in one `peers=` string that still fits 255 bytes: 6 + 8·31 = 254.
pub const MAX_PEERS_PER_TXT: usize = 31;

/// The keys dns-discovery understands; unknown keys are ignored (as in JS).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxtData {
    /// `token=`: the server's per-host token, echoed back to prove the source address.
    pub token: Option<String>,
    /// `peers=`: base64 of 6-byte peers.
    pub peers: Option<String>,
    /// `announce=` port (`0` = the UDP source port).
    pub announce: Option<String>,
    /// `unannounce=` port.
    pub unannounce: Option<String>,
    /// `subscribe` truthy: the sender wants pushes for this name.
    pub subscribe: bool,
    /// `host=` (whoami answer).
    pub host: Option<String>,
    /// `port=` (whoami answer).
    pub port: Option<String>,
}

impl TxtData {
    /// Decode like `decodeTxt`: later keys win; a string without `=` means `true`.
    pub fn decode<S: AsRef<[u8]>>(strings: &[S]) -> TxtData {
        let mut data = TxtData::default();
        for s in strings {
            let s = s.as_ref();
            let (key, value) = match s.iter().position(|&b| b == b'=') {
                Some(i) => (&s[..i], Some(&s[i + 1..])),
                None => (s, None),
            };
            let text = value.map(|v| String::from_utf8_lossy(v).into_owned());
            match key {
                b"token" => data.token = Some(text.unwrap_or_else(|| "true".into())),
                b"peers" => data.peers = text,
                b"announce" => data.announce = text,
                b"unannounce" => data.unannounce = text,
                b"host" => data.host = text,
                b"port" => data.port = text,
                // JS truthiness: "subscribe" (true) or a non-empty value.
                b"subscribe" => data.subscribe = value.is_none_or(|v| !v.is_empty()),
                _ => {}
            }
        }
        data
    }

    /// The peers carried in `peers=`, at most `max`.
    pub fn peer_list(&self, max: usize) -> Vec<SocketAddrV4> {
        match &self.peers {
            Some(p) => decode_peers(&base64::decode(p.as_bytes()), max),
            None => Vec::new(),
        }
    }
}

/// Encode ordered `(key, value)` pairs as `key=value` strings (JS object key order).
/// Strings longer than 255 bytes are dropped rather than corrupting the packet.
pub fn encode_pairs(pairs: &[(&str, &str)]) -> Vec<Vec<u8>> {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}").into_bytes())
        .filter(|s| s.len() <= MAX_STRING)
        .collect()
}

/// A port as dns-discovery's `PORT` regex accepts it (`^\d{1,5}$`), within u16.
pub fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Compact 6-byte peers: IPv4 then big-endian port.
pub fn encode_peers(peers: &[SocketAddrV4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(peers.len() * 6);
    for p in peers {
        out.extend_from_slice(&p.ip().octets());
        out.extend_from_slice(&p.port().to_be_bytes());
    }
    out
}

/// Decode compact peers, ignoring a trailing partial entry, at most `max`.
pub fn decode_peers(bytes: &[u8], max: usize) -> Vec<SocketAddrV4> {
    bytes
        .chunks_exact(6)
        .take(max)
        .map(|c| {
            SocketAddrV4::new(
                Ipv4Addr::new(c[0], c[1], c[2], c[3]),
                u16::from_be_bytes([c[4], c[5]]),
            )
        })
        .collect()
}

/// `peers=<base64>` value for up to [`MAX_PEERS_PER_TXT`] peers.
pub fn peers_value(peers: &[SocketAddrV4]) -> String {
    let n = peers.len().min(MAX_PEERS_PER_TXT);
    base64::encode(&encode_peers(&peers[..n]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_like_js() {
        let d = TxtData::decode(&[
            &b"subscribe=true"[..],
            b"token=abc+/=",
            b"announce=3282",
            b"junk",
        ]);
        assert!(d.subscribe);
        assert_eq!(d.token.as_deref(), Some("abc+/="));
        assert_eq!(d.announce.as_deref(), Some("3282"));
        assert!(TxtData::decode(&[b"subscribe"]).subscribe);
        assert!(!TxtData::decode(&[b"subscribe="]).subscribe);
        assert!(!TxtData::decode::<&[u8]>(&[]).subscribe);
    }

    #[test]
    fn peers_vector() {
        // The research vector: 127.0.0.1:3282 is `fwAAAQzS`.
        let p = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 3282);
        assert_eq!(peers_value(&[p]), "fwAAAQzS");
        let d = TxtData::decode(&[b"peers=fwAAAQzS"]);
        assert_eq!(d.peer_list(10), vec![p]);
    }

    #[test]
    fn max_peers_fit_one_string() {
        let peers: Vec<_> = (0..100)
            .map(|i| SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, i as u8), i))
            .collect();
        let s = encode_pairs(&[("peers", &peers_value(&peers))]);
        assert_eq!(s.len(), 1);
        assert!(s[0].len() <= MAX_STRING);
        assert_eq!(decode_peers(&encode_peers(&peers), 1000).len(), 100);
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("0"), Some(0));
        assert_eq!(parse_port("3282"), Some(3282));
        assert_eq!(parse_port("65536"), None);
        assert_eq!(parse_port("123456"), None);
        assert_eq!(parse_port("-1"), None);
        assert_eq!(parse_port(""), None);
    }
}
