//! The per-direction stream cipher (DAT-SPEC §4.3): XSalsa20 keyed with the first feed's public
//! key and the sending side's 24-byte nonce, one continuous keystream over everything after
//! that side's first Feed frame.
//!
//! Behind a trait so the implementation can change without touching the session. The default
//! is this crate's own batched XSalsa20 (`xsalsa20.rs`, ≈2× the `salsa20` crate with SSE2 and
//! ≈5× with AVX-512, chosen at run time); the `salsa20` crate stays as the independent oracle
//! in the tests.

use crate::xsalsa20::XSalsa20;
use dat_core::PublicKey;

/// A keystream that continues across calls: `apply(a); apply(b)` equals `apply(a || b)`.
pub trait StreamCipher: Send {
    /// XOR `data` in place with the next `data.len()` keystream bytes.
    fn apply(&mut self, data: &mut [u8]);
}

/// Makes the cipher for one direction from the key and that direction's nonce.
pub type CipherFactory = fn(&PublicKey, &[u8; 24]) -> Box<dyn StreamCipher>;

/// XSalsa20, libsodium `crypto_stream_xsalsa20_xor_ic`-compatible.
pub struct XSalsa20Cipher(XSalsa20);

impl XSalsa20Cipher {
    /// The keystream for `key` and `nonce`, starting at block 0.
    pub fn new(key: &PublicKey, nonce: &[u8; 24]) -> Self {
        Self(XSalsa20::new(&key.0, nonce))
    }

    /// The default [`CipherFactory`].
    pub fn boxed(key: &PublicKey, nonce: &[u8; 24]) -> Box<dyn StreamCipher> {
        Box::new(Self::new(key, nonce))
    }
}

impl StreamCipher for XSalsa20Cipher {
    fn apply(&mut self, data: &mut [u8]) {
        // The keystream is 2^70 bytes long; a connection cannot exhaust it.
        self.0.apply_keystream(data);
    }
}

impl std::fmt::Debug for XSalsa20Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("XSalsa20Cipher")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed1_key() -> PublicKey {
        let hex = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";
        PublicKey::from_slice(&dat_core::crypto::from_hex(hex).unwrap()).unwrap()
    }

    #[test]
    fn spec_keystream_vector() {
        let mut ks = [0u8; 32];
        XSalsa20Cipher::new(&feed1_key(), &[0; 24]).apply(&mut ks);
        assert_eq!(
            dat_core::crypto::to_hex(&ks),
            "2a5c4b05b9b8022319255dcc64213ef0ffbc1b456004c8c26d9e88cb1429fc8a"
        );
    }

    /// The RustCrypto `salsa20` crate, written independently, agrees on a long stream.
    #[test]
    fn agrees_with_the_salsa20_crate() {
        use salsa20::cipher::{KeyIvInit, StreamCipher as _};
        for (len, nonce) in [(1usize, [0u8; 24]), (4095, [9; 24]), (1 << 20, [0xa5; 24])] {
            let mut ours = vec![0u8; len];
            XSalsa20Cipher::new(&feed1_key(), &nonce).apply(&mut ours);
            let mut theirs = vec![0u8; len];
            salsa20::XSalsa20::new(&feed1_key().0.into(), &nonce.into())
                .apply_keystream(&mut theirs);
            assert!(ours == theirs, "len {len}");
        }
    }

    #[test]
    fn any_split_gives_the_same_stream() {
        let input: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        let mut whole = input.clone();
        XSalsa20Cipher::new(&feed1_key(), &[5; 24]).apply(&mut whole);
        for split in 0..input.len() {
            for second in [split, (split + 63).min(input.len()), input.len()] {
                let mut parts = input.clone();
                let mut c = XSalsa20Cipher::boxed(&feed1_key(), &[5; 24]);
                c.apply(&mut parts[..split]);
                c.apply(&mut parts[split..second]);
                c.apply(&mut parts[second..]);
                assert_eq!(parts, whole, "split at {split}/{second}");
            }
        }
    }
}
