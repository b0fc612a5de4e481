//! XSalsa20 keystream for the transport encryption (DAT-SPEC §4.3), in safe, portable Rust.
//!
//! Each direction of a connection XORs everything after its first Feed frame with one
//! continuous XSalsa20 keystream (key = the first feed's public key, nonce = that side's
//! 24-byte nonce, block counter from 0). Data arrives in arbitrary chunk sizes, so
//! [`XSalsa20::apply_keystream`] keeps the unused keystream of the last batch and continues
//! exactly where the previous call stopped: the result equals libsodium's
//! `crypto_stream_xsalsa20_xor_ic(all_bytes, nonce, 0, key)` however the bytes are split.
//!
//! Why not the `salsa20` crate: replication moves whole archives through this cipher, and
//! that crate computes one 64-byte block at a time. Here the keystream is computed `LANES`
//! consecutive blocks at a time by a loop whose body is one plain, fully unrolled Salsa20
//! block. The blocks are independent, so LLVM's loop vectorizer runs the loop SIMD-wide,
//! one block per vector lane, with no `unsafe` and no intrinsics. Keep the round function
//! free of loops: an inner loop turns the body back into scalar code (check with
//! `objdump -d` for `paddd`/`pslld`, or `vprold` in the AVX-512 copy).
//!
//! The loop is compiled several times, by the `multiversion` crate, which picks one at run
//! time from the CPU's features: AVX-512 (16 blocks per instruction and a rotate
//! instruction), AVX2 (8 blocks), and the default x86_64 build's SSE2 (4 blocks), so the
//! binary stays portable and still uses the machine it runs on. A copy is chosen once per
//! call over a whole buffer, not per batch.
//!
//! Measured on the project's machine (`examples/xsalsa20_speed.rs`, 1 MiB buffers): SSE2
//! ≈1.5 GB/s, with the run-time choice (AVX-512 here) ≈3.3 GB/s; the `salsa20` crate
//! ≈0.7 GB/s.

use multiversion::multiversion;

/// "expand 32-byte k", the Salsa20 constants for a 256-bit key (words 0, 5, 10, 15).
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// Blocks computed per batch: a multiple of every vector width (4, 8 or 16 lanes), and
/// small enough (1 KiB of keystream) that a short message costs little.
const LANES: usize = 16;

/// Keystream bytes produced per batch.
const BATCH: usize = 64 * LANES;

/// A batch of keystream: `LANES` blocks of 16 little-endian words.
type Batch = [[u32; 16]; LANES];

/// The XSalsa20 stream cipher, continuing across calls (see the module docs).
///
/// `apply_keystream(a); apply_keystream(b)` equals `apply_keystream(a ‖ b)`. Encryption and
/// decryption are the same operation.
pub struct XSalsa20 {
    /// Salsa20 input words: constants, the HSalsa20 subkey, the last 8 nonce bytes; the
    /// block counter (words 8 and 9) is set per block.
    input: [u32; 16],
    /// The block number of the first block of the next batch.
    counter: u64,
    /// Keystream of the last batch as bytes; those before `used` are consumed.
    leftover: [u8; BATCH],
    /// How many bytes of `leftover` have been used (`BATCH` = nothing left).
    used: usize,
}

impl XSalsa20 {
    /// The keystream for `key` and `nonce`, starting at block 0 (libsodium `ic = 0`).
    pub fn new(key: &[u8; 32], nonce: &[u8; 24]) -> Self {
        let (prefix, tail) = nonce.split_at(16);
        let subkey: [u32; 8] = hsalsa20(&words(key), &words(prefix));
        let tail: [u32; 2] = words(tail);
        let mut input = [0u32; 16];
        for (i, word) in [0, 5, 10, 15].into_iter().zip(SIGMA) {
            input[i] = word;
        }
        for (i, word) in (1..5).chain(11..15).zip(subkey) {
            input[i] = word;
        }
        input[6..8].copy_from_slice(&tail);
        Self {
            input,
            counter: 0,
            leftover: [0; BATCH],
            used: BATCH,
        }
    }

    /// XORs `data` in place with the next `data.len()` keystream bytes.
    ///
    /// Whole batches are XORed straight from freshly computed keystream; a partial batch at
    /// the end keeps its unused keystream for the next call.
    pub fn apply_keystream(&mut self, data: &mut [u8]) {
        let take = data.len().min(BATCH - self.used);
        let (head, rest) = data.split_at_mut(take);
        for (d, k) in head.iter_mut().zip(&self.leftover[self.used..]) {
            *d ^= k;
        }
        self.used += take;

        let (batches, tail) = rest.as_chunks_mut::<BATCH>();
        if !batches.is_empty() {
            xor_batches(&self.input, self.counter, batches);
            // 64-bit block counter: 2^70 bytes per nonce, more than a connection can carry.
            let blocks = (batches.len() as u64).wrapping_mul(LANES as u64);
            self.counter = self.counter.wrapping_add(blocks);
        }
        if !tail.is_empty() {
            let mut keystream: Batch = [[0; 16]; LANES];
            self.next_batch(&mut keystream);
            let leftover = self.leftover.as_chunks_mut::<4>().0;
            for (bytes, word) in leftover.iter_mut().zip(keystream.as_flattened()) {
                *bytes = word.to_le_bytes();
            }
            for (d, k) in tail.iter_mut().zip(&self.leftover) {
                *d ^= k;
            }
            self.used = tail.len();
        }
    }

    /// Writes the next `LANES` keystream blocks to `out`; advances the counter past them.
    fn next_batch(&mut self, out: &mut Batch) {
        let start = self.counter;
        // 64-bit block counter: 2^70 bytes per nonce, more than a connection can carry.
        self.counter = start.wrapping_add(LANES as u64);
        keystream_batch(&self.input, start, out);
    }
}

impl std::fmt::Debug for XSalsa20 {
    /// Prints no key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XSalsa20")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

/// XORs each chunk of `batches` with the next `LANES` keystream blocks, from block `start`
/// on: one copy per SIMD width (see the module docs).
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
fn xor_batches(input: &[u32; 16], start: u64, batches: &mut [[u8; BATCH]]) {
    xor_batches_body(input, start, batches);
}

/// [`xor_batches`] compiled for the build's baseline only (SSE2 on x86_64), which the tests
/// compare with the copy the CPU gets (on a machine with AVX-512 or AVX2, the baseline copy
/// of `xor_batches` is otherwise never run by the tests).
#[cfg(test)]
fn xor_batches_baseline(input: &[u32; 16], start: u64, batches: &mut [[u8; BATCH]]) {
    xor_batches_body(input, start, batches);
}

#[inline(always)]
fn xor_batches_body(input: &[u32; 16], start: u64, batches: &mut [[u8; BATCH]]) {
    let mut keystream: Batch = [[0; 16]; LANES];
    let mut block = start;
    for chunk in batches {
        salsa20_blocks(input, block, &mut keystream);
        xor_words(chunk, keystream.as_flattened());
        block = block.wrapping_add(LANES as u64);
    }
}

/// The keystream blocks `start .. start + LANES` into `out` (for a partial batch).
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
fn keystream_batch(input: &[u32; 16], start: u64, out: &mut Batch) {
    salsa20_blocks(input, start, out);
}

/// Salsa20 blocks `start .. start + LANES` for the input words `input`, into `out`.
///
/// Inlined into each copy of [`xor_batches`] and [`keystream_batch`], so that it is
/// vectorized for that copy's SIMD width.
#[inline(always)]
fn salsa20_blocks(input: &[u32; 16], start: u64, out: &mut Batch) {
    for (block, lane) in out.iter_mut().zip(0u64..) {
        let n = start.wrapping_add(lane);
        let mut x = *input;
        x[8] = n as u32;
        x[9] = (n >> 32) as u32;
        let mut y = x;
        salsa20_rounds(&mut y);
        for (o, (y, x)) in block.iter_mut().zip(y.into_iter().zip(x)) {
            *o = y.wrapping_add(x);
        }
    }
}

/// HSalsa20: the 8-word XSalsa20 subkey from the key and the first 16 nonce bytes.
fn hsalsa20(key: &[u32; 8], nonce: &[u32; 4]) -> [u32; 8] {
    let mut x = [0u32; 16];
    for (i, word) in [0, 5, 10, 15].into_iter().zip(SIGMA) {
        x[i] = word;
    }
    for (i, &word) in (1..5).chain(11..15).zip(key) {
        x[i] = word;
    }
    x[6..10].copy_from_slice(nonce);
    salsa20_rounds(&mut x);
    [0, 5, 10, 15, 6, 7, 8, 9].map(|i| x[i])
}

/// Little-endian words of `bytes` (whose length is `4 * N`).
fn words<const N: usize>(bytes: &[u8]) -> [u32; N] {
    let mut out = [0u32; N];
    for (word, chunk) in out.iter_mut().zip(bytes.as_chunks::<4>().0) {
        *word = u32::from_le_bytes(*chunk);
    }
    out
}

/// XORs `data` with the little-endian bytes of `keystream`, a word at a time.
#[inline(always)]
fn xor_words(data: &mut [u8], keystream: &[u32]) {
    for (bytes, word) in data.as_chunks_mut::<4>().0.iter_mut().zip(keystream) {
        *bytes = (u32::from_le_bytes(*bytes) ^ word).to_le_bytes();
    }
}

/// The 20 rounds of Salsa20, written out (ten double rounds, no loop) so that the loop in
/// [`salsa20_blocks`] has a straight-line body to vectorize.
#[inline(always)]
fn salsa20_rounds(x: &mut [u32; 16]) {
    double_round(x);
    double_round(x);
    double_round(x);
    double_round(x);
    double_round(x);
    double_round(x);
    double_round(x);
    double_round(x);
    double_round(x);
    double_round(x);
}

/// One Salsa20 double round: a column round, then a row round.
#[inline(always)]
fn double_round(x: &mut [u32; 16]) {
    quarter_round(x, 0, 4, 8, 12);
    quarter_round(x, 5, 9, 13, 1);
    quarter_round(x, 10, 14, 2, 6);
    quarter_round(x, 15, 3, 7, 11);
    quarter_round(x, 0, 1, 2, 3);
    quarter_round(x, 5, 6, 7, 4);
    quarter_round(x, 10, 11, 8, 9);
    quarter_round(x, 15, 12, 13, 14);
}

/// The Salsa20 quarter-round on words `a, b, c, d`.
#[inline(always)]
fn quarter_round(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    x[b] ^= x[a].wrapping_add(x[d]).rotate_left(7);
    x[c] ^= x[b].wrapping_add(x[a]).rotate_left(9);
    x[d] ^= x[c].wrapping_add(x[b]).rotate_left(13);
    x[a] ^= x[d].wrapping_add(x[c]).rotate_left(18);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A straightforward scalar XSalsa20, written from Bernstein's Salsa20 specification
    /// and the XSalsa20 paper, byte-oriented, sharing no code with the module.
    mod reference {
        fn quarterround(y: [u32; 4]) -> [u32; 4] {
            let z1 = y[1] ^ y[0].wrapping_add(y[3]).rotate_left(7);
            let z2 = y[2] ^ z1.wrapping_add(y[0]).rotate_left(9);
            let z3 = y[3] ^ z2.wrapping_add(z1).rotate_left(13);
            let z0 = y[0] ^ z3.wrapping_add(z2).rotate_left(18);
            [z0, z1, z2, z3]
        }

        fn rowround(y: [u32; 16]) -> [u32; 16] {
            let [z0, z1, z2, z3] = quarterround([y[0], y[1], y[2], y[3]]);
            let [z5, z6, z7, z4] = quarterround([y[5], y[6], y[7], y[4]]);
            let [z10, z11, z8, z9] = quarterround([y[10], y[11], y[8], y[9]]);
            let [z15, z12, z13, z14] = quarterround([y[15], y[12], y[13], y[14]]);
            [
                z0, z1, z2, z3, z4, z5, z6, z7, z8, z9, z10, z11, z12, z13, z14, z15,
            ]
        }

        fn columnround(x: [u32; 16]) -> [u32; 16] {
            let [y0, y4, y8, y12] = quarterround([x[0], x[4], x[8], x[12]]);
            let [y5, y9, y13, y1] = quarterround([x[5], x[9], x[13], x[1]]);
            let [y10, y14, y2, y6] = quarterround([x[10], x[14], x[2], x[6]]);
            let [y15, y3, y7, y11] = quarterround([x[15], x[3], x[7], x[11]]);
            [
                y0, y1, y2, y3, y4, y5, y6, y7, y8, y9, y10, y11, y12, y13, y14, y15,
            ]
        }

        fn littleendian(b: &[u8]) -> u32 {
            u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16 | u32::from(b[3]) << 24
        }

        /// Constants, key and the 16 "nonce" bytes (nonce ‖ counter for Salsa20).
        fn input(k: &[u8; 32], n: &[u8; 16]) -> [u32; 16] {
            let sigma = b"expand 32-byte k";
            let mut x = [0u32; 16];
            for i in 0..4 {
                x[[0, 5, 10, 15][i]] = littleendian(&sigma[4 * i..]);
                x[1 + i] = littleendian(&k[4 * i..]);
                x[11 + i] = littleendian(&k[16 + 4 * i..]);
                x[6 + i] = littleendian(&n[4 * i..]);
            }
            x
        }

        fn rounds(mut z: [u32; 16]) -> [u32; 16] {
            for _ in 0..10 {
                z = rowround(columnround(z));
            }
            z
        }

        fn salsa20_block(k: &[u8; 32], n: &[u8; 16]) -> [u8; 64] {
            let x = input(k, n);
            let z = rounds(x);
            let mut out = [0u8; 64];
            for i in 0..16 {
                out[4 * i..4 * i + 4].copy_from_slice(&z[i].wrapping_add(x[i]).to_le_bytes());
            }
            out
        }

        pub fn hsalsa20(k: &[u8; 32], n: &[u8; 16]) -> [u8; 32] {
            let z = rounds(input(k, n));
            let mut out = [0u8; 32];
            for (j, i) in [0, 5, 10, 15, 6, 7, 8, 9].into_iter().enumerate() {
                out[4 * j..4 * j + 4].copy_from_slice(&z[i].to_le_bytes());
            }
            out
        }

        /// XORs `data` with the XSalsa20 keystream from byte `offset` of the stream on.
        pub fn xsalsa20_xor(key: &[u8; 32], nonce: &[u8; 24], offset: u64, data: &mut [u8]) {
            let subkey = hsalsa20(key, nonce[..16].try_into().unwrap());
            let mut n = [0u8; 16];
            n[..8].copy_from_slice(&nonce[16..]);
            let mut pos = offset;
            let mut i = 0;
            while i < data.len() {
                let skip = (pos % 64) as usize;
                n[8..].copy_from_slice(&(pos / 64).to_le_bytes());
                let block = salsa20_block(&subkey, &n);
                let take = (64 - skip).min(data.len() - i);
                for j in 0..take {
                    data[i + j] ^= block[skip + j];
                }
                i += take;
                pos += take as u64;
            }
        }
    }

    fn unhex<const N: usize>(hex: &str) -> [u8; N] {
        assert_eq!(hex.len(), 2 * N, "{hex}");
        std::array::from_fn(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
    }

    fn keystream(key: &[u8; 32], nonce: &[u8; 24], len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        XSalsa20::new(key, nonce).apply_keystream(&mut out);
        out
    }

    /// splitmix64: deterministic test randomness without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn fill(&mut self, bytes: &mut [u8]) {
            for b in bytes {
                *b = self.next() as u8;
            }
        }
    }

    /// NaCl's test keys: `firstkey` is HSalsa20 of the Alice/Bob X25519 shared secret.
    const FIRSTKEY: &str = "1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389";
    const NONCE: &str = "69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37";

    #[test]
    fn dat_spec_vector() {
        let key = unhex("8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c");
        assert_eq!(
            keystream(&key, &[0; 24], 32),
            unhex::<32>("2a5c4b05b9b8022319255dcc64213ef0ffbc1b456004c8c26d9e88cb1429fc8a")
        );
    }

    #[test]
    fn nacl_hsalsa20_vectors() {
        // core1: the X25519 shared secret → firstkey (zero nonce); core2: firstkey → secondkey.
        let shared: [u8; 32] =
            unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        let firstkey = hsalsa20(&words(&shared), &[0; 4]);
        assert_eq!(firstkey, words::<8>(&unhex::<32>(FIRSTKEY)));
        let nonce: [u8; 24] = unhex(NONCE);
        let secondkey = hsalsa20(&firstkey, &words(&nonce[..16]));
        let expected: [u8; 32] =
            unhex("dc908dda0b9344a953629b733820778880f3ceb421bb61b91cbd4c3e66256ce4");
        assert_eq!(secondkey, words::<8>(&expected));
    }

    #[test]
    fn nacl_stream_vector() {
        // NaCl tests/stream3: the first 32 bytes of crypto_stream(firstkey, nonce).
        assert_eq!(
            keystream(&unhex(FIRSTKEY), &unhex(NONCE), 32),
            unhex::<32>("eea6a7251c1e72916d11c2cb214d3c252539121d8e234e652d651fa4c8cff880")
        );
    }

    #[test]
    fn nacl_box_vector() {
        // NaCl tests/box.c: the message XORed with keystream bytes 32.. (bytes 0..32 are the
        // Poly1305 key) is the crypto_box ciphertext after its 16-byte tag.
        let message: [u8; 131] = unhex(concat!(
            "be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffc",
            "e5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb31",
            "0e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde",
            "048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f93776384864",
            "5e0705"
        ));
        let ciphertext: [u8; 131] = unhex(concat!(
            "8e993b9f48681273c29650ba32fc76ce48332ea7164d96a4476fb8c531a1186a",
            "c0dfc17c98dce87b4da7f011ec48c97271d2c20f9b928fe2270d6fb863d51738",
            "b48eeee314a7cc8ab932164548e526ae90224368517acfeabd6bb3732bc0e9da",
            "99832b61ca01b6de56244a9e88d5f9b37973f622a43d14a6599b1f654cb45a74",
            "e355a5"
        ));
        let mut cipher = XSalsa20::new(&unhex(FIRSTKEY), &unhex(NONCE));
        cipher.apply_keystream(&mut [0u8; 32]);
        let mut data = message;
        cipher.apply_keystream(&mut data);
        assert_eq!(data, ciphertext);
    }

    #[test]
    fn matches_reference_hsalsa20() {
        let mut rng = Rng(1);
        for _ in 0..50 {
            let mut key = [0u8; 32];
            let mut nonce = [0u8; 16];
            rng.fill(&mut key);
            rng.fill(&mut nonce);
            let ours = hsalsa20(&words(&key), &words(&nonce));
            assert_eq!(ours, words::<8>(&reference::hsalsa20(&key, &nonce)));
        }
    }

    #[test]
    fn random_chunks_match_reference() {
        let mut rng = Rng(2);
        for round in 0..8 {
            let mut key = [0u8; 32];
            let mut nonce = [0u8; 24];
            rng.fill(&mut key);
            rng.fill(&mut nonce);
            let len = if round == 0 {
                3 << 20
            } else {
                rng.below(300_000)
            };
            let mut data = vec![0u8; len];
            rng.fill(&mut data);
            let mut expected = data.clone();
            reference::xsalsa20_xor(&key, &nonce, 0, &mut expected);

            let mut cipher = XSalsa20::new(&key, &nonce);
            let mut at = 0;
            while at < len {
                // Mostly small pieces, sometimes up to 10 KiB, sometimes empty.
                let max = if rng.below(4) == 0 { 10 << 10 } else { 100 };
                let end = (at + rng.below(max + 1)).min(len);
                cipher.apply_keystream(&mut data[at..end]);
                at = end;
            }
            assert!(data == expected, "round {round}, len {len}");
        }
    }

    #[test]
    fn every_split_point_continues_the_stream() {
        let (key, nonce) = ([3u8; 32], [4u8; 24]);
        let len = 2 * BATCH + 100;
        let whole = keystream(&key, &nonce, len);
        for split in 0..=len {
            let mut parts = vec![0u8; len];
            let mut cipher = XSalsa20::new(&key, &nonce);
            let (a, b) = parts.split_at_mut(split);
            cipher.apply_keystream(a);
            cipher.apply_keystream(b);
            assert!(parts == whole, "split at {split}");
        }
    }

    #[test]
    fn block_counter_carries_into_the_high_word() {
        let (key, nonce) = ([5u8; 32], [6u8; 24]);
        let first_block = (1u64 << 32) - 3;
        let mut cipher = XSalsa20::new(&key, &nonce);
        cipher.counter = first_block;
        let mut ours = vec![0u8; 5 * BATCH + 7];
        cipher.apply_keystream(&mut ours[..10]);
        cipher.apply_keystream(&mut ours[10..]);
        let mut expected = vec![0u8; ours.len()];
        reference::xsalsa20_xor(&key, &nonce, first_block * 64, &mut expected);
        assert!(ours == expected);
    }

    /// The copy for the CPU's SIMD width and the baseline copy give the reference stream,
    /// across the 2^32 block boundary too.
    #[test]
    fn every_simd_copy_matches_the_reference() {
        let mut rng = Rng(9);
        let (key, nonce) = ([11u8; 32], [12u8; 24]);
        let cipher = XSalsa20::new(&key, &nonce);
        for start in [0u64, 5, (1 << 32) - 20, u64::MAX - 3 * LANES as u64] {
            let mut plain = vec![[0u8; BATCH]; 5];
            for batch in plain.iter_mut() {
                rng.fill(batch);
            }
            let mut expected = plain.as_flattened().to_vec();
            if start < u64::MAX / 128 {
                reference::xsalsa20_xor(&key, &nonce, start * 64, &mut expected);
            }
            let mut dispatched = plain.clone();
            xor_batches(&cipher.input, start, &mut dispatched);
            let mut baseline = plain.clone();
            xor_batches_baseline(&cipher.input, start, &mut baseline);
            assert!(dispatched == baseline, "start {start}");
            if start < u64::MAX / 128 {
                assert!(
                    dispatched.as_flattened() == expected.as_slice(),
                    "start {start}"
                );
            }
            let mut tail: Batch = [[0; 16]; LANES];
            keystream_batch(&cipher.input, start, &mut tail);
            let mut first = plain[0];
            xor_words(&mut first, tail.as_flattened());
            assert!(first == dispatched[0], "start {start}");
        }
    }

    #[test]
    fn xor_twice_restores_the_plaintext() {
        let (key, nonce) = ([7u8; 32], [8u8; 24]);
        let plain: Vec<u8> = (0..5000u32).map(|i| (i * 31) as u8).collect();
        let mut data = plain.clone();
        XSalsa20::new(&key, &nonce).apply_keystream(&mut data);
        assert_ne!(data, plain);
        XSalsa20::new(&key, &nonce).apply_keystream(&mut data);
        assert_eq!(data, plain);
    }

    #[test]
    fn debug_shows_no_key() {
        let cipher = XSalsa20::new(&[0xab; 32], &[0; 24]);
        assert_eq!(format!("{cipher:?}"), "XSalsa20 { counter: 0, .. }");
    }
}
