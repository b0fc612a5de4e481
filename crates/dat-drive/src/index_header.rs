//! Metadata entry 0: hyperdrive's `Index { type, content }` (DAT-SPEC §5.1), which names the
//! content feed. It is the only link between the two feeds.

use dat_core::PublicKey;
use dat_core::protobuf::{DecodeError, Fields, bytes_field_len, put_bytes};

/// The `type` hyperdrive writes.
pub const HYPERDRIVE_TYPE: &str = "hyperdrive";

/// `message Index { required string type = 1; optional bytes content = 2; }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexHeader {
    /// The archive type; `"hyperdrive"` for every archive dat writes.
    pub kind: String,
    /// The content feed's public key (always present in hyperdrive archives).
    pub content: Option<Vec<u8>>,
}

impl IndexHeader {
    /// The header a hyperdrive writer appends first.
    pub fn hyperdrive(content: &PublicKey) -> Self {
        Self {
            kind: HYPERDRIVE_TYPE.to_string(),
            content: Some(content.as_bytes().to_vec()),
        }
    }

    /// Encode as JS does: `type`, then `content` if present.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            bytes_field_len(1, self.kind.len()) + self.content.as_ref().map_or(0, |c| c.len() + 2),
        );
        put_bytes(&mut out, 1, self.kind.as_bytes());
        if let Some(content) = &self.content {
            put_bytes(&mut out, 2, content);
        }
        out
    }

    /// Decode, requiring `type`; unknown fields are skipped.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut kind = None;
        let mut content = None;
        for field in Fields::new(bytes) {
            let field = field?;
            match field.number() {
                1 => kind = Some(field.string("type")?.to_string()),
                2 => content = Some(field.bytes("content")?.to_vec()),
                _ => {}
            }
        }
        Ok(Self {
            kind: kind.ok_or(DecodeError::MissingField("type"))?,
            content,
        })
    }

    /// The content feed key, if this is a hyperdrive header with a 32-byte key.
    pub fn content_key(&self) -> Result<PublicKey, DecodeError> {
        if self.kind != HYPERDRIVE_TYPE {
            return Err(DecodeError::InvalidValue("type"));
        }
        let bytes = self
            .content
            .as_deref()
            .ok_or(DecodeError::MissingField("content"))?;
        PublicKey::from_slice(bytes).map_err(|_| DecodeError::InvalidValue("content"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_bytes() {
        let key = PublicKey([0xe6; 32]);
        let bytes = IndexHeader::hyperdrive(&key).encode();
        let mut expected = hex::decode("0a0a687970657264726976651220").unwrap();
        expected.extend_from_slice(&[0xe6; 32]);
        assert_eq!(bytes, expected);
        let back = IndexHeader::decode(&bytes).unwrap();
        assert_eq!(back.content_key().unwrap(), key);
    }

    #[test]
    fn hostile_headers() {
        assert_eq!(
            IndexHeader::decode(&hex::decode("1220").unwrap()[..1]),
            Err(DecodeError::UnexpectedEnd)
        );
        assert_eq!(
            IndexHeader::decode(&[0x12, 0x01, 0xaa]),
            Err(DecodeError::MissingField("type"))
        );
        assert_eq!(
            IndexHeader::decode(&[0x08, 0x01]),
            Err(DecodeError::WrongWireType {
                field: 1,
                expected: 2,
                got: 0
            })
        );
        let short = IndexHeader {
            kind: HYPERDRIVE_TYPE.into(),
            content: Some(vec![1, 2]),
        };
        assert_eq!(
            IndexHeader::decode(&short.encode()).unwrap().content_key(),
            Err(DecodeError::InvalidValue("content"))
        );
        assert_eq!(
            IndexHeader::decode(&[0x0a, 0x02, 0xff, 0xfe]),
            Err(DecodeError::InvalidValue("type"))
        );
    }
}
