//! Entry points for the fuzz targets in `fuzz/`: each feeds arbitrary bytes to one decoder and
//! checks the properties that must hold for any input (no panic; round trips where the decoder
//! accepts). They live in the library so a stable `#[test]` can replay the fuzz corpus too.

use crate::protobuf::{self, Field, Fields};

/// `dat://` link parsing: never panics; what parses prints and re-parses to itself.
pub fn link(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(link) = text.parse::<crate::DatLink>() {
        let again: crate::DatLink = link
            .to_string()
            .parse()
            .unwrap_or_else(|e| panic!("printed link {link} does not parse: {e}"));
        assert_eq!(again.key, link.key);
        assert_eq!(again.version, link.version);
    }
}

/// The proto2 field reader: never panics; accepted varint and bytes fields re-encode to input
/// that decodes to the same fields.
pub fn protobuf_fields(data: &[u8]) {
    let mut fields = Vec::new();
    for field in Fields::new(data) {
        match field {
            Ok(f) => fields.push(f),
            Err(_) => return,
        }
    }
    let mut out = Vec::new();
    let mut kept = Vec::new();
    for f in fields {
        match f {
            Field::Varint(n, v) => protobuf::put_varint(&mut out, n, v),
            Field::Bytes(n, b) => protobuf::put_bytes(&mut out, n, b),
            Field::Fixed(_) => continue,
        }
        kept.push(f);
    }
    let again: Vec<Field<'_>> = Fields::new(&out)
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("re-encoded fields do not decode: {e}"));
    assert_eq!(again, kept);
}

#[cfg(test)]
mod tests {
    #[test]
    fn seeds_do_not_panic() {
        super::link(b"dat://8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c+3/a");
        super::link(&[0xff, 0xfe]);
        super::protobuf_fields(&[0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i']);
        super::protobuf_fields(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    }
}
