//! The 32-byte SLEEP header of the `tree`, `signatures` and `bitfield` files (DAT-SPEC §3.2).
//!
//! `05 02 57 TT | version 0 | u16be entry size | name length | name | zero padding`. The
//! bitfield entry size is read from the header because two page sizes exist in the wild
//! (3584 since hypercore 6.22.1, 3328 before).

/// Bytes of a SLEEP header.
pub const HEADER_LEN: usize = 32;
/// Bitfield page size written by hypercore ≥ 6.22.1 (data 1024 + tree 2048 + index 512).
pub const BITFIELD_PAGE_SIZE: u16 = 3584;
/// Bitfield page size of feeds created by hypercore < 6.22.1 (256-byte index region).
pub const LEGACY_BITFIELD_PAGE_SIZE: u16 = 3328;
/// Tree entry size: 32-byte hash + u64be size.
pub const TREE_ENTRY_SIZE: u16 = 40;
/// Signature entry size.
pub const SIGNATURE_ENTRY_SIZE: u16 = 64;

/// Which SLEEP file a header belongs to (the magic's last byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// `bitfield`, type byte 0.
    Bitfield,
    /// `signatures`, type byte 1.
    Signatures,
    /// `tree`, type byte 2.
    Tree,
}

impl FileType {
    /// The type byte in the magic.
    pub fn byte(self) -> u8 {
        match self {
            FileType::Bitfield => 0,
            FileType::Signatures => 1,
            FileType::Tree => 2,
        }
    }

    /// The algorithm name hypercore writes for this file, exact case.
    pub fn algorithm(self) -> &'static str {
        match self {
            FileType::Bitfield => "",
            FileType::Signatures => "Ed25519",
            FileType::Tree => "BLAKE2b",
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(FileType::Bitfield),
            1 => Some(FileType::Signatures),
            2 => Some(FileType::Tree),
            _ => None,
        }
    }
}

/// A decoded SLEEP header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The file type from the magic.
    pub file_type: FileType,
    /// Bytes per entry.
    pub entry_size: u16,
    /// The algorithm name (empty for the bitfield).
    pub algorithm: String,
}

/// Why a SLEEP header was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer than 32 bytes.
    #[error("truncated header: {len} of 32 bytes")]
    Truncated {
        /// Bytes present.
        len: usize,
    },
    /// The first three bytes are not `05 02 57`.
    #[error("wrong magic {found:02x?}, expected 05 02 57")]
    WrongMagic {
        /// The bytes found.
        found: [u8; 3],
    },
    /// The type byte is not the one this file should have.
    #[error("wrong file type {found}, expected {expected}")]
    WrongType {
        /// Type byte expected.
        expected: u8,
        /// Type byte found.
        found: u8,
    },
    /// Header version other than 0.
    #[error("unsupported header version {0}")]
    WrongVersion(u8),
    /// The entry size is not one this file can have.
    #[error("wrong entry size {found}")]
    WrongEntrySize {
        /// Size found.
        found: u16,
    },
    /// The algorithm name is not the one hypercore writes.
    #[error("wrong algorithm name {found:?}, expected {expected:?}")]
    WrongAlgorithm {
        /// Name expected.
        expected: &'static str,
        /// Name found (lossy UTF-8).
        found: String,
    },
}

impl Header {
    /// The header hypercore writes for a new file of this type.
    pub fn new(file_type: FileType) -> Self {
        let entry_size = match file_type {
            FileType::Bitfield => BITFIELD_PAGE_SIZE,
            FileType::Signatures => SIGNATURE_ENTRY_SIZE,
            FileType::Tree => TREE_ENTRY_SIZE,
        };
        Self {
            file_type,
            entry_size,
            algorithm: file_type.algorithm().to_string(),
        }
    }

    /// The 32 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..4].copy_from_slice(&[5, 2, 87, self.file_type.byte()]);
        out[5..7].copy_from_slice(&self.entry_size.to_be_bytes());
        let name = self.algorithm.as_bytes();
        let n = name.len().min(HEADER_LEN - 8);
        out[7] = n as u8;
        out[8..8 + n].copy_from_slice(&name[..n]);
        out
    }

    /// Decode any well-formed header (type, size and name not checked against a file).
    pub fn decode(bytes: &[u8]) -> Result<Self, HeaderError> {
        if bytes.len() < HEADER_LEN {
            return Err(HeaderError::Truncated { len: bytes.len() });
        }
        if bytes[..3] != [5, 2, 87] {
            return Err(HeaderError::WrongMagic {
                found: [bytes[0], bytes[1], bytes[2]],
            });
        }
        let file_type = FileType::from_byte(bytes[3]).ok_or(HeaderError::WrongType {
            expected: 0,
            found: bytes[3],
        })?;
        if bytes[4] != 0 {
            return Err(HeaderError::WrongVersion(bytes[4]));
        }
        let entry_size = u16::from_be_bytes([bytes[5], bytes[6]]);
        let n = usize::from(bytes[7]);
        let name = bytes
            .get(8..8 + n)
            .filter(|_| 8 + n <= HEADER_LEN)
            .ok_or_else(|| HeaderError::WrongAlgorithm {
                expected: file_type.algorithm(),
                found: format!("<{n} bytes>"),
            })?;
        Ok(Self {
            file_type,
            entry_size,
            algorithm: String::from_utf8_lossy(name).into_owned(),
        })
    }

    /// Decode and check that this is a valid header for a file of `expected` type:
    /// right type byte, entry size (3584 or 3328 for the bitfield) and algorithm name.
    pub fn decode_for(bytes: &[u8], expected: FileType) -> Result<Self, HeaderError> {
        if bytes.len() >= 4 && bytes[..3] == [5, 2, 87] && bytes[3] != expected.byte() {
            return Err(HeaderError::WrongType {
                expected: expected.byte(),
                found: bytes[3],
            });
        }
        let header = Self::decode(bytes)?;
        if header.file_type != expected {
            return Err(HeaderError::WrongType {
                expected: expected.byte(),
                found: header.file_type.byte(),
            });
        }
        let size_ok = match expected {
            FileType::Bitfield => {
                header.entry_size == BITFIELD_PAGE_SIZE
                    || header.entry_size == LEGACY_BITFIELD_PAGE_SIZE
            }
            FileType::Signatures => header.entry_size == SIGNATURE_ENTRY_SIZE,
            FileType::Tree => header.entry_size == TREE_ENTRY_SIZE,
        };
        if !size_ok {
            return Err(HeaderError::WrongEntrySize {
                found: header.entry_size,
            });
        }
        if header.algorithm != expected.algorithm() {
            return Err(HeaderError::WrongAlgorithm {
                expected: expected.algorithm(),
                found: header.algorithm,
            });
        }
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_header_bytes() {
        let tree = Header::new(FileType::Tree).encode();
        assert_eq!(
            crate::crypto::to_hex(&tree),
            "0502570200002807424c414b45326200".to_string() + &"00".repeat(16)
        );
        let sigs = Header::new(FileType::Signatures).encode();
        assert_eq!(
            crate::crypto::to_hex(&sigs[..16]),
            "05025701000040074564323535313900"
        );
        let bits = Header::new(FileType::Bitfield).encode();
        assert_eq!(crate::crypto::to_hex(&bits[..8]), "05025700000e0000");
        for t in [FileType::Tree, FileType::Signatures, FileType::Bitfield] {
            let h = Header::new(t);
            assert_eq!(Header::decode_for(&h.encode(), t), Ok(h));
        }
    }

    #[test]
    fn hostile_headers() {
        let good = Header::new(FileType::Tree).encode();
        assert_eq!(
            Header::decode_for(&good[..31], FileType::Tree),
            Err(HeaderError::Truncated { len: 31 })
        );
        let mut bad = good;
        bad[0] = 6;
        assert!(matches!(
            Header::decode_for(&bad, FileType::Tree),
            Err(HeaderError::WrongMagic { .. })
        ));
        assert_eq!(
            Header::decode_for(&good, FileType::Signatures),
            Err(HeaderError::WrongType {
                expected: 1,
                found: 2
            })
        );
        let mut bad = good;
        bad[8] = b'b';
        assert!(matches!(
            Header::decode_for(&bad, FileType::Tree),
            Err(HeaderError::WrongAlgorithm { .. })
        ));
        let mut bad = good;
        bad[6] = 41;
        assert_eq!(
            Header::decode_for(&bad, FileType::Tree),
            Err(HeaderError::WrongEntrySize { found: 41 })
        );
        let mut bad = good;
        bad[7] = 200;
        assert!(Header::decode(&bad).is_err());
        let mut legacy = Header::new(FileType::Bitfield);
        legacy.entry_size = LEGACY_BITFIELD_PAGE_SIZE;
        assert_eq!(
            Header::decode_for(&legacy.encode(), FileType::Bitfield)
                .unwrap()
                .entry_size,
            3328
        );
    }
}
