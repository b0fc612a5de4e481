//! Keys, signatures and the hashes of the Merkle tree, byte-compatible with hypercore-crypto 1.0.
//!
//! Every preimage is DAT-SPEC §1.3: a one-byte type prefix (leaf, parent, root) and big-endian
//! `u64` sizes and indexes. The feed signs the 32-byte root digest, not its preimage.

use std::fmt;

use blake2b_simd::{Params, State};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use crate::node::Node;
use crate::prefetch;

const LEAF_TYPE: u8 = 0x00;
const PARENT_TYPE: u8 = 0x01;
const ROOT_TYPE: u8 = 0x02;

/// A BLAKE2b-256 digest: a tree node hash or a root digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Hash(pub [u8; 32]);

/// An Ed25519 public key: a feed's identity. The metadata feed's key is the Dat link.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; 32]);

/// The keyed BLAKE2b of "hypercore" under a feed key: what peers announce and look up, so the
/// key itself never travels in clear.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DiscoveryKey(pub [u8; 32]);

/// A detached Ed25519 signature over a root digest.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

/// An Ed25519 secret key in libsodium's 64-byte layout, `seed || public key`, which is what
/// `secret_key` files and `~/.dat/secret_keys` hold. Never printed.
#[derive(Clone)]
pub struct SecretKey {
    signing: SigningKey,
}

/// A public key with its secret key: what a writer holds.
#[derive(Clone, Debug)]
pub struct KeyPair {
    /// The public half.
    pub public: PublicKey,
    /// The secret half.
    pub secret: SecretKey,
}

/// Why a key or a signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The 32 bytes are not a valid Ed25519 point.
    #[error("not a valid ed25519 public key")]
    InvalidPublicKey,
    /// The 64-byte secret key's second half is not the public key of its first half.
    #[error("secret key does not match its public half")]
    MismatchedSecretKey,
    /// A key or signature had the wrong number of bytes.
    #[error("expected {expected} bytes, got {got}")]
    WrongLength {
        /// Bytes a valid value has.
        expected: usize,
        /// Bytes received.
        got: usize,
    },
    /// The OS random source failed.
    #[error("no randomness available: {0}")]
    Random(String),
}

impl Hash {
    /// The all-zero value, which the `tree` file uses for "no node".
    pub const ZERO: Self = Self([0; 32]);

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PublicKey {
    /// Parse 32 bytes (the point is checked when verifying).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        Ok(Self(fixed(bytes)?))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, the form of a Dat link.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    /// This key's discovery key.
    pub fn discovery_key(&self) -> DiscoveryKey {
        discovery_key(self)
    }

    /// Check a signature over a root digest, with libsodium's rejection of non-canonical and
    /// small-order encodings.
    pub fn verify(&self, root: &Hash, signature: &Signature) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        key.verify_strict(&root.0, &sig).is_ok()
    }
}

impl DiscoveryKey {
    /// Parse 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        Ok(Self(fixed(bytes)?))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }
}

impl Signature {
    /// Parse 64 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        Ok(Self(fixed(bytes)?))
    }

    /// The signature bytes.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }

    /// Whether this is the all-zero placeholder that a `signatures` file holds for unsigned
    /// lengths.
    pub fn is_blank(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }
}

impl SecretKey {
    /// The secret key from a 32-byte Ed25519 seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// Parse libsodium's 64-byte `seed || public key` form, checking that the halves agree.
    pub fn from_libsodium_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let bytes: [u8; 64] = fixed(bytes)?;
        let signing =
            SigningKey::from_keypair_bytes(&bytes).map_err(|_| KeyError::MismatchedSecretKey)?;
        Ok(Self { signing })
    }

    /// libsodium's 64-byte form, as written to `secret_key` files.
    pub fn to_libsodium_bytes(&self) -> [u8; 64] {
        self.signing.to_keypair_bytes()
    }

    /// The 32-byte seed (the first half of the libsodium form).
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    /// Sign a root digest.
    pub fn sign(&self, root: &Hash) -> Signature {
        Signature(self.signing.sign(&root.0).to_bytes())
    }
}

/// Bring the fixed-base table that signing reads (30 KB) into the L2 cache ahead of a
/// signature. A thread that has just hashed a chunk has its caches full of blocks, and
/// signing with the table out of cache measured 21 µs against 18.
pub(crate) fn warm_signing() {
    let table = curve25519_dalek::constants::ED25519_BASEPOINT_TABLE;
    let start = std::ptr::from_ref(table).cast::<u8>();
    for offset in (0..std::mem::size_of_val(table)).step_by(64) {
        prefetch::line(start.wrapping_add(offset));
    }
}

impl KeyPair {
    /// A fresh key pair from the OS random source.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self::from_seed(&seed))
    }

    /// The key pair for a 32-byte seed (libsodium `crypto_sign_seed_keypair`).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self::from_secret(SecretKey::from_seed(seed))
    }

    /// The key pair of a secret key.
    pub fn from_secret(secret: SecretKey) -> Self {
        Self {
            public: secret.public_key(),
            secret,
        }
    }
}

/// Hash of a leaf: `H(0x00 || u64be(len) || data)`.
pub fn hash_leaf(data: &[u8]) -> Hash {
    let mut state = hasher();
    state.update(&[LEAF_TYPE]);
    state.update(&(data.len() as u64).to_be_bytes());
    state.update(data);
    finish(&state)
}

/// Hash of a parent: `H(0x01 || u64be(left.size + right.size) || left.hash || right.hash)`,
/// with `left` the child with the smaller index, whatever order the arguments come in.
pub fn hash_parent(a: &Node, b: &Node) -> Hash {
    let (left, right) = if a.index <= b.index { (a, b) } else { (b, a) };
    let mut state = hasher();
    state.update(&[PARENT_TYPE]);
    state.update(&left.size.wrapping_add(right.size).to_be_bytes());
    state.update(&left.hash.0);
    state.update(&right.hash.0);
    finish(&state)
}

/// The parent node of two sibling nodes.
pub fn parent_node(a: &Node, b: &Node) -> Node {
    Node {
        index: crate::flat_tree::parent(a.index),
        hash: hash_parent(a, b),
        size: a.size.wrapping_add(b.size),
    }
}

/// The root digest a signature covers: `H(0x02 || (hash || u64be(index) || u64be(size))*)` over
/// the roots in ascending index order.
pub fn hash_roots(roots: &[Node]) -> Hash {
    let mut state = hasher();
    state.update(&[ROOT_TYPE]);
    for root in roots {
        state.update(&root.hash.0);
        state.update(&root.index.to_be_bytes());
        state.update(&root.size.to_be_bytes());
    }
    finish(&state)
}

/// The discovery key of a feed key: keyed BLAKE2b-256 of `"hypercore"` under the key.
pub fn discovery_key(key: &PublicKey) -> DiscoveryKey {
    let digest = Params::new().hash_length(32).key(&key.0).hash(b"hypercore");
    DiscoveryKey(to32(digest.as_bytes()))
}

/// The hyperdrive content feed's key pair, derived from the metadata secret key as libsodium
/// `crypto_kdf_derive_from_key(32, 1, "hyperdri", sk)` does (DAT-SPEC §1.5). Only the writer can
/// derive it; readers learn the content public key from metadata entry 0.
pub fn derive_content_keypair(metadata_secret: &SecretKey) -> KeyPair {
    let mut salt = [0u8; 16];
    salt[..8].copy_from_slice(&1u64.to_le_bytes());
    let mut personal = [0u8; 16];
    personal[..8].copy_from_slice(b"hyperdri");
    let seed = Params::new()
        .hash_length(32)
        .key(&metadata_secret.seed())
        .salt(&salt)
        .personal(&personal)
        .hash(&[]);
    KeyPair::from_seed(&to32(seed.as_bytes()))
}

/// Lowercase hex of any bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Parse hex (either case) into bytes; `None` on odd length or a non-hex character.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks(2)
        .map(|pair| Some((hex_digit(pair[0])? << 4) | hex_digit(pair[1])?))
        .collect()
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn hasher() -> State {
    Params::new().hash_length(32).to_state()
}

fn finish(state: &State) -> Hash {
    Hash(to32(state.finalize().as_bytes()))
}

fn to32(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&bytes[..32]);
    out
}

fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N], KeyError> {
    bytes.try_into().map_err(|_| KeyError::WrongLength {
        expected: N,
        got: bytes.len(),
    })
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", &to_hex(&self.0)[..12])
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", &to_hex(&self.0)[..12])
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for DiscoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DiscoveryKey({})", &to_hex(&self.0)[..12])
    }
}

impl fmt::Display for DiscoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", &to_hex(&self.0)[..12])
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        from_hex(s).unwrap()
    }

    fn node(index: u64, hash: Hash, size: u64) -> Node {
        Node { index, hash, size }
    }

    /// DAT-SPEC §1.6, generated by the JS hypercore-crypto.
    #[test]
    fn feed1_vectors() {
        let pair = KeyPair::from_seed(&[1; 32]);
        assert_eq!(
            pair.public.to_hex(),
            "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
        );
        assert_eq!(
            pair.public.discovery_key().to_hex(),
            "c1feb82a2b3ba065ffed9f6addcf19ac250793bcab748986a1b4272c62da20e6"
        );
        let sk = pair.secret.to_libsodium_bytes();
        assert_eq!(&sk[..32], &[1; 32]);
        assert_eq!(&sk[32..], pair.public.as_bytes());

        let n0 = node(0, hash_leaf(b"hello"), 5);
        let n2 = node(2, hash_leaf(b"world"), 5);
        let n4 = node(4, hash_leaf(b"!"), 1);
        assert_eq!(
            to_hex(&n0.hash.0),
            "6717b25f24d96ccbc95166bacbb671d59eb4263ee5e1aa0f6b1520815cbee80b"
        );
        assert_eq!(
            to_hex(&n2.hash.0),
            "b49340bf69887822e1c282929e2c81125ec7aedb902b34f7ca3ba1db7aabdea5"
        );
        assert_eq!(
            to_hex(&n4.hash.0),
            "a8a76210488427c2c4987eea9194e82649256daf5d84affb781587741d3f08c6"
        );
        let n1 = parent_node(&n2, &n0);
        assert_eq!(n1.index, 1);
        assert_eq!(n1.size, 10);
        assert_eq!(
            to_hex(&n1.hash.0),
            "408f1fc979c28158324b753394dc4630723761a06fc7202df5d95ad27028a130"
        );
        let root = hash_roots(&[n1, n4]);
        assert_eq!(
            to_hex(&root.0),
            "79efdd2997356d5c0dd6bff327479823e7ff53ec0daa4da8ada71c83e1aba208"
        );
        let sig = pair.secret.sign(&root);
        assert_eq!(
            to_hex(&sig.0),
            "ad2f029e1dade138aa5d8222571eebf242e13c02c8b94315654954ee2e5e683f\
             637317b8314a2db4e36025f842952dbf21ae2bd27f84c3dae322b0dea399930c"
        );
        assert!(pair.public.verify(&root, &sig));
        let mut bad = sig;
        bad.0[5] ^= 1;
        assert!(!pair.public.verify(&root, &bad));
        assert!(!pair.public.verify(&Hash([7; 32]), &sig));
    }

    #[test]
    fn content_key_derivation() {
        let meta = KeyPair::from_seed(&[1; 32]);
        let content = derive_content_keypair(&meta.secret);
        assert_eq!(
            to_hex(&content.secret.seed()),
            "ca778fa1003d361540d532fe3fa936d13e59b27cc7c60fda82e280bfd1cf5f20"
        );
        assert_eq!(
            content.public.to_hex(),
            "1b60d3350e81bb7f891235cbe776781b785b06777a9c5385cd17bb55b8b330ef"
        );
        let meta2 = KeyPair::from_seed(&[2; 32]);
        assert_eq!(
            meta2.public.to_hex(),
            "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394"
        );
        assert_eq!(
            derive_content_keypair(&meta2.secret).public.to_hex(),
            "e6997dec5a0d0d72ec8c61b03afab9a3a137758f539012b9aece1079b75f2fc5"
        );
    }

    #[test]
    fn secret_key_parsing_checks_halves() {
        let pair = KeyPair::from_seed(&[9; 32]);
        let mut bytes = pair.secret.to_libsodium_bytes();
        assert!(SecretKey::from_libsodium_bytes(&bytes).is_ok());
        bytes[40] ^= 1;
        assert_eq!(
            SecretKey::from_libsodium_bytes(&bytes).unwrap_err(),
            KeyError::MismatchedSecretKey
        );
        assert_eq!(
            SecretKey::from_libsodium_bytes(&bytes[..10]).unwrap_err(),
            KeyError::WrongLength {
                expected: 64,
                got: 10
            }
        );
        assert_eq!(format!("{:?}", pair.secret), "SecretKey(..)");
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex("00ff10Ab"), vec![0, 255, 16, 171]);
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(to_hex(&[0, 255, 16]), "00ff10");
    }
}
