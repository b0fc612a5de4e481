//! The session fuzz entry point on random input and on mutations of the real JS stream.
//! (Here, not in src/, because the crate's sources never read the clock.)

use std::time::Instant;

use proptest::prelude::*;

proptest! {
    #[test]
    fn session_input_never_panics(data in proptest::collection::vec(any::<u8>(), 33..400)) {
        dat_wire::fuzzing::session_input(&data, Instant::now());
    }

    #[test]
    fn mutated_js_stream_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
                                      chunk in 1u8..=255) {
        let key = hex_decode("8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c");
        let mut stream = hex_decode(include_str!("data/js-stream-feed1.hex").trim());
        for (at, x) in flips {
            let n = stream.len();
            stream[at % n] ^= x;
        }
        let mut input = key;
        input.push(chunk & !1); // even: open the feed before the input
        input.extend(stream);
        dat_wire::fuzzing::session_input(&input, Instant::now());
    }
}

fn hex_decode(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}
