//! The proto2 wire format, by hand: varints and tagged fields.
//!
//! Dat's messages (the wire protocol's eleven, hyperdrive's Index, Node and Stat) are small
//! proto2 messages. A hand codec lets each message check its `required` fields as the JS
//! `protocol-buffers` codec does (prost does not), emit exactly the fields JS emits, borrow bytes
//! from the input instead of copying, and bound everything it reads.

/// The longest varint a `u64` needs.
pub const MAX_VARINT_LEN: usize = 10;

/// Why bytes are not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended inside a varint or a field.
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// A varint ran past 10 bytes or past 64 bits.
    #[error("varint longer than 64 bits")]
    VarintOverflow,
    /// A wire type other than varint (0), 64-bit (1), length-delimited (2) or 32-bit (5).
    #[error("unsupported protobuf wire type {0}")]
    BadWireType(u8),
    /// Field number 0, which protobuf forbids.
    #[error("field number 0")]
    BadFieldNumber,
    /// A field had the wrong wire type for its number.
    #[error("field {field} has wire type {got}, expected {expected}")]
    WrongWireType {
        /// The field number.
        field: u32,
        /// The wire type the schema gives it.
        expected: u8,
        /// The wire type found.
        got: u8,
    },
    /// A `required` field was absent.
    #[error("required field {0} missing")]
    MissingField(&'static str),
    /// A field held a value outside what the schema allows (wrong key length, bad UTF-8, ...).
    #[error("invalid value for field {0}")]
    InvalidValue(&'static str),
    /// More of something than a limit allows.
    #[error("{what} exceeds the limit of {limit}")]
    TooLarge {
        /// What was counted.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
}

/// Append `value` as a varint.
pub fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Bytes `value` takes as a varint.
pub fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros()).div_ceil(7) as usize
}

/// Read a varint from the front of `input`, advancing it. Non-minimal encodings are accepted, as
/// the JS `varint` module accepts them.
pub fn read_varint(input: &mut &[u8]) -> Result<u64, DecodeError> {
    let mut value = 0u64;
    for (i, &byte) in input.iter().enumerate().take(MAX_VARINT_LEN) {
        let bits = u64::from(byte & 0x7f);
        if i == 9 && bits > 1 {
            return Err(DecodeError::VarintOverflow);
        }
        value |= bits << (7 * i);
        if byte & 0x80 == 0 {
            *input = &input[i + 1..];
            return Ok(value);
        }
    }
    if input.len() >= MAX_VARINT_LEN {
        Err(DecodeError::VarintOverflow)
    } else {
        Err(DecodeError::UnexpectedEnd)
    }
}

/// A protobuf wire type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireType {
    /// 0: a varint.
    Varint,
    /// 1: eight bytes.
    Fixed64,
    /// 2: a varint length then that many bytes.
    Bytes,
    /// 5: four bytes.
    Fixed32,
}

impl WireType {
    fn code(self) -> u8 {
        match self {
            Self::Varint => 0,
            Self::Fixed64 => 1,
            Self::Bytes => 2,
            Self::Fixed32 => 5,
        }
    }
}

/// One decoded field: its number and its value, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// A varint field.
    Varint(u32, u64),
    /// A length-delimited field.
    Bytes(u32, &'a [u8]),
    /// A fixed-width field (skipped by every Dat message; kept for unknown-field tolerance).
    Fixed(u32),
}

impl<'a> Field<'a> {
    /// The field number.
    pub fn number(&self) -> u32 {
        match *self {
            Self::Varint(n, _) | Self::Bytes(n, _) | Self::Fixed(n) => n,
        }
    }

    /// The value of a varint field; an error names the field if it has another wire type.
    pub fn varint(&self, name: &'static str) -> Result<u64, DecodeError> {
        match *self {
            Self::Varint(_, v) => Ok(v),
            _ => Err(self.wrong(name, WireType::Varint)),
        }
    }

    /// The value of a bool field (any non-zero varint is true, as in JS).
    pub fn bool(&self, name: &'static str) -> Result<bool, DecodeError> {
        self.varint(name).map(|v| v != 0)
    }

    /// The bytes of a length-delimited field.
    pub fn bytes(&self, name: &'static str) -> Result<&'a [u8], DecodeError> {
        match *self {
            Self::Bytes(_, b) => Ok(b),
            _ => Err(self.wrong(name, WireType::Bytes)),
        }
    }

    /// A length-delimited field as UTF-8.
    pub fn string(&self, name: &'static str) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes(name)?).map_err(|_| DecodeError::InvalidValue(name))
    }

    fn wrong(&self, _name: &'static str, expected: WireType) -> DecodeError {
        let got = match self {
            Self::Varint(..) => 0,
            Self::Bytes(..) => 2,
            Self::Fixed(..) => 1,
        };
        DecodeError::WrongWireType {
            field: self.number(),
            expected: expected.code(),
            got,
        }
    }
}

/// Iterates the fields of a message. Unknown fields are returned too; callers skip them.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    input: &'a [u8],
}

impl<'a> Fields<'a> {
    /// Fields of the message in `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Self { input }
    }

    fn next_field(&mut self) -> Result<Field<'a>, DecodeError> {
        let key = read_varint(&mut self.input)?;
        let number = u32::try_from(key >> 3).map_err(|_| DecodeError::BadFieldNumber)?;
        if number == 0 {
            return Err(DecodeError::BadFieldNumber);
        }
        match key & 7 {
            0 => Ok(Field::Varint(number, read_varint(&mut self.input)?)),
            1 => self.skip(8).map(|_| Field::Fixed(number)),
            2 => {
                let len = read_varint(&mut self.input)?;
                let len = usize::try_from(len).map_err(|_| DecodeError::UnexpectedEnd)?;
                self.skip(len).map(|bytes| Field::Bytes(number, bytes))
            }
            5 => self.skip(4).map(|_| Field::Fixed(number)),
            other => Err(DecodeError::BadWireType(other as u8)),
        }
    }

    fn skip(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        if self.input.len() < len {
            return Err(DecodeError::UnexpectedEnd);
        }
        let (head, rest) = self.input.split_at(len);
        self.input = rest;
        Ok(head)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.input.is_empty() {
            return None;
        }
        let field = self.next_field();
        if field.is_err() {
            self.input = &[];
        }
        Some(field)
    }
}

/// Append a varint field.
pub fn put_varint(out: &mut Vec<u8>, field: u32, value: u64) {
    write_varint(out, u64::from(field) << 3);
    write_varint(out, value);
}

/// Append a bool field.
pub fn put_bool(out: &mut Vec<u8>, field: u32, value: bool) {
    put_varint(out, field, u64::from(value));
}

/// Append a length-delimited field.
pub fn put_bytes(out: &mut Vec<u8>, field: u32, value: &[u8]) {
    write_varint(out, (u64::from(field) << 3) | 2);
    write_varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// Bytes a varint field takes.
pub fn varint_field_len(field: u32, value: u64) -> usize {
    varint_len(u64::from(field) << 3) + varint_len(value)
}

/// Bytes a length-delimited field of `len` bytes takes.
pub fn bytes_field_len(field: u32, len: usize) -> usize {
    varint_len((u64::from(field) << 3) | 2) + varint_len(len as u64) + len
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn varint_examples() {
        let mut out = Vec::new();
        write_varint(&mut out, 1048576);
        assert_eq!(out, [0x80, 0x80, 0x40]);
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
        assert_eq!(varint_len(u64::MAX), 10);
        assert_eq!(read_varint(&mut &[0x80, 0x00][..]), Ok(0));
        assert_eq!(
            read_varint(&mut &[0x80][..]),
            Err(DecodeError::UnexpectedEnd)
        );
        assert_eq!(
            read_varint(&mut &[0xff; 11][..]),
            Err(DecodeError::VarintOverflow)
        );
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(read_varint(&mut &max[..]), Ok(u64::MAX));
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(
            read_varint(&mut &over[..]),
            Err(DecodeError::VarintOverflow)
        );
    }

    #[test]
    fn fields_skip_unknown_and_fail_on_truncation() {
        let mut msg = Vec::new();
        put_varint(&mut msg, 1, 7);
        msg.extend_from_slice(&[0x11, 1, 2, 3, 4, 5, 6, 7, 8]); // field 2, fixed64
        put_bytes(&mut msg, 3, b"abc");
        let fields: Vec<_> = Fields::new(&msg).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            fields,
            vec![
                Field::Varint(1, 7),
                Field::Fixed(2),
                Field::Bytes(3, b"abc")
            ]
        );
        let truncated = &msg[..msg.len() - 1];
        assert_eq!(
            Fields::new(truncated).last(),
            Some(Err(DecodeError::UnexpectedEnd))
        );
        assert_eq!(
            Fields::new(&[0x0b]).next(),
            Some(Err(DecodeError::BadWireType(3)))
        );
        assert_eq!(
            Fields::new(&[0x00, 0x01]).next(),
            Some(Err(DecodeError::BadFieldNumber))
        );
    }

    proptest! {
        #[test]
        fn varint_round_trip(v in any::<u64>()) {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            prop_assert_eq!(out.len(), varint_len(v));
            let mut input = &out[..];
            prop_assert_eq!(read_varint(&mut input), Ok(v));
            prop_assert!(input.is_empty());
        }

        #[test]
        fn fields_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            for field in Fields::new(&bytes) {
                let _ = field;
            }
        }
    }
}
