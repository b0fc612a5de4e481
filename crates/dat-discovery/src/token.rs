//! Per-host tokens (DAT-SPEC §6.2.3): `base64(SHA-256(secret ‖ host))`.
//!
//! A token proves the announcer really receives packets at its source address, so a
//! spoofed announce cannot register someone else's IP. Two secrets are live (current
//! and previous) so a rotation does not invalidate tokens clients just fetched.

use sha2::{Digest, Sha256};
use std::net::Ipv4Addr;

use crate::base64;

/// The token dns-discovery computes for `host` (its dotted-quad string).
pub fn token(secret: &[u8; 32], host: Ipv4Addr) -> String {
    let mut h = Sha256::new();
    h.update(secret);
    h.update(host.to_string().as_bytes());
    base64::encode(&h.finalize())
}

/// The current and previous secrets.
#[derive(Clone)]
pub struct Secrets {
    previous: [u8; 32],
    current: [u8; 32],
}

impl Secrets {
    /// Start with two caller-provided random secrets.
    pub fn new(previous: [u8; 32], current: [u8; 32]) -> Self {
        Secrets { previous, current }
    }

    /// Drop the previous secret and make `fresh` current (every 5 min in JS).
    pub fn rotate(&mut self, fresh: [u8; 32]) {
        self.previous = self.current;
        self.current = fresh;
    }

    /// The token we hand out to `host` now.
    pub fn current_token(&self, host: Ipv4Addr) -> String {
        token(&self.current, host)
    }

    /// Whether `candidate` was minted for `host` by the current or previous secret.
    pub fn accepts(&self, candidate: &str, host: Ipv4Addr) -> bool {
        candidate == token(&self.current, host) || candidate == token(&self.previous, host)
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_node_crypto() {
        // node -e "crypto.createHash('sha256').update(Buffer.alloc(32,7)).update('127.0.0.1').digest('base64')"
        assert_eq!(
            token(&[7; 32], Ipv4Addr::LOCALHOST),
            "y7Donhg8d4hnLM4IU/uz5hH3pjUFaimKFvqAG9L6dDU="
        );
    }

    #[test]
    fn rotation_keeps_previous() {
        let mut s = Secrets::new([1; 32], [2; 32]);
        let host = Ipv4Addr::new(10, 0, 0, 1);
        let t = s.current_token(host);
        s.rotate([3; 32]);
        assert!(s.accepts(&t, host));
        assert!(!s.accepts(&t, Ipv4Addr::new(10, 0, 0, 2)));
        s.rotate([4; 32]);
        assert!(!s.accepts(&t, host));
    }
}
