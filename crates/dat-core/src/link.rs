//! `dat://` links: the metadata feed key as 64 hex characters, with an optional version and path.
//!
//! Accepted forms: `<hex>`, `dat://<hex>`, either followed by `+<version>` (the Beaker
//! convention) and/or `/path/in/archive`. Like dat-encoding 5, any other string is accepted when
//! its first run of 64-or-more hex characters is exactly 64 long (`https://host/<hex>/x`);
//! version and path are then not parsed.

use std::fmt;
use std::str::FromStr;

use crate::crypto::{PublicKey, from_hex};

/// A parsed Dat link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatLink {
    /// The archive's metadata feed key.
    pub key: PublicKey,
    /// The version after `+`, if any.
    pub version: Option<u64>,
    /// The path inside the archive, starting with `/`, if any.
    pub path: Option<String>,
}

/// Why a string is not a Dat link.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    /// No run of exactly 64 hex characters.
    #[error("no 64-character hex key in {0:?}")]
    NoKey(String),
    /// The text after `+` is not a version number.
    #[error("bad version {0:?} (expected a number after '+')")]
    BadVersion(String),
}

impl DatLink {
    /// A link to the latest version of the whole archive.
    pub fn new(key: PublicKey) -> Self {
        Self {
            key,
            version: None,
            path: None,
        }
    }
}

impl FromStr for DatLink {
    type Err = LinkError;

    fn from_str(s: &str) -> Result<Self, LinkError> {
        let trimmed = s.trim();
        let rest = strip_prefix_ignore_case(trimmed, "dat://").unwrap_or(trimmed);
        if rest.len() >= 64 && rest.is_char_boundary(64) {
            let (hex, tail) = rest.split_at(64);
            let boundary = tail.is_empty() || tail.starts_with(['+', '/']);
            if let (Some(bytes), true) = (from_hex(hex), boundary) {
                return parse_tail(bytes, tail, s);
            }
        }
        lenient(trimmed).ok_or_else(|| LinkError::NoKey(s.to_string()))
    }
}

fn parse_tail(bytes: Vec<u8>, tail: &str, original: &str) -> Result<DatLink, LinkError> {
    let key = PublicKey::from_slice(&bytes).map_err(|_| LinkError::NoKey(original.to_string()))?;
    let (version, path) = match tail.strip_prefix('+') {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            let version = after[..end]
                .parse::<u64>()
                .map_err(|_| LinkError::BadVersion(after[..end].to_string()))?;
            (Some(version), &after[end..])
        }
        None => (None, tail),
    };
    let path = match path.trim_end_matches('/') {
        "" => None,
        p => Some(p.to_string()),
    };
    Ok(DatLink { key, version, path })
}

/// dat-encoding's rule: the first maximal run of hex characters of length >= 64 must be 64 long.
fn lenient(s: &str) -> Option<DatLink> {
    let bytes = s.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        if !bytes[start].is_ascii_hexdigit() {
            start += 1;
            continue;
        }
        let end = start
            + bytes[start..]
                .iter()
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
        match end - start {
            64 => {
                let key = PublicKey::from_slice(&from_hex(&s[start..end])?).ok()?;
                return Some(DatLink::new(key));
            }
            n if n > 64 => return None,
            _ => start = end,
        }
    }
    None
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

impl fmt::Display for DatLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dat://{}", self.key.to_hex())?;
        if let Some(v) = self.version {
            write!(f, "+{v}")?;
        }
        if let Some(p) = &self.path {
            if !p.starts_with('/') {
                f.write_str("/")?;
            }
            f.write_str(p)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";

    fn link(s: &str) -> Result<DatLink, LinkError> {
        s.parse()
    }

    #[test]
    fn accepted_forms() {
        let plain = link(HEX).unwrap();
        assert_eq!(plain.key.to_hex(), HEX);
        assert_eq!(plain.version, None);
        assert_eq!(plain.path, None);
        assert_eq!(link(&format!("dat://{HEX}")).unwrap(), plain);
        assert_eq!(
            link(&format!("DAT://{}/", HEX.to_uppercase())).unwrap(),
            plain
        );
        let full = link(&format!("dat://{HEX}+42/a/b.txt")).unwrap();
        assert_eq!(full.version, Some(42));
        assert_eq!(full.path.as_deref(), Some("/a/b.txt"));
        assert_eq!(full.to_string(), format!("dat://{HEX}+42/a/b.txt"));
        let path_only = link(&format!("{HEX}/x")).unwrap();
        assert_eq!(path_only.path.as_deref(), Some("/x"));
        assert_eq!(
            link(&format!("https://example.invalid/{HEX}/x")).unwrap(),
            plain
        );
        assert_eq!(plain.to_string(), format!("dat://{HEX}"));
    }

    #[test]
    fn rejected_forms() {
        assert!(matches!(link(""), Err(LinkError::NoKey(_))));
        assert!(matches!(link("dat://abc"), Err(LinkError::NoKey(_))));
        assert!(matches!(link(&format!("{HEX}0")), Err(LinkError::NoKey(_))));
        assert!(matches!(
            link(&format!("dat://{HEX}+x1")),
            Err(LinkError::BadVersion(_))
        ));
        assert!(matches!(
            link(&format!("{}é", &HEX[..63])),
            Err(LinkError::NoKey(_))
        ));
    }
}
