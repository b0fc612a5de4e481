//! bitfield-rle 2.2.1 byte-identity: 206 inputs encoded by the JS module (tests/data/rle-js.txt,
//! made with `node` from /work/lab/dat13/node_modules/bitfield-rle; random, run-heavy and sparse
//! bitfields plus the DAT-SPEC §4.6 examples).
#![allow(clippy::unwrap_used)]

use dat_wire::rle;

#[test]
fn encode_matches_js_byte_for_byte_and_decodes_back() {
    let text = include_str!("data/rle-js.txt");
    let mut n = 0;
    for line in text.lines() {
        let (input, js) = line.split_once(' ').expect("two columns");
        let input = hex::decode(input).unwrap();
        let js = hex::decode(js).unwrap();
        assert_eq!(rle::encode(&input), js, "input {}", hex::encode(&input));
        let back = rle::decode(&js, input.len()).unwrap();
        let common = back.len().min(input.len());
        assert_eq!(&back[..common], &input[..common]);
        assert!(
            back[common..]
                .iter()
                .chain(&input[common..])
                .all(|&b| b == 0)
        );
        assert_eq!(back.len() % rle::ALIGN, 0);
        n += 1;
    }
    assert_eq!(n, 206);
}
