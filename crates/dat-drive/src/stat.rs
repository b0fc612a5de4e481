//! hyperdrive's `Stat` message (DAT-SPEC §5.2): what a metadata entry says about a file or
//! directory, including where its bytes are in the content feed.

use dat_core::protobuf::{DecodeError, Fields, put_varint, varint_field_len};

/// Regular file type bits.
pub const IFREG: u32 = 0o100000;
/// Directory type bits.
pub const IFDIR: u32 = 0o040000;
/// Symbolic link type bits.
pub const IFLNK: u32 = 0o120000;
/// The mask of the type bits.
pub const IFMT: u32 = 0o170000;
/// Mode hyperdrive gives files by default (`0o644 | IFREG`).
pub const DEFAULT_FILE_MODE: u32 = IFREG | 0o644;
/// Mode hyperdrive gives directories by default (`0o755 | IFDIR`).
pub const DEFAULT_DIR_MODE: u32 = IFDIR | 0o755;

/// `message Stat` with proto2 presence kept: JS `writeFile` emits all nine fields while
/// `mkdir` omits `uid`, `gid`, `size` and `blocks`, and re-encoding must reproduce that.
/// Absent numbers read as 0, as in JS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    /// POSIX `st_mode`, type bits included.
    pub mode: u32,
    /// Owner (field 2).
    pub uid: Option<u32>,
    /// Group (field 3).
    pub gid: Option<u32>,
    /// Size in bytes (field 4).
    pub size: Option<u64>,
    /// Content blocks of this file (field 5).
    pub blocks: Option<u64>,
    /// Index of the file's first content block (field 6).
    pub offset: Option<u64>,
    /// Content-feed byte offset of that block (field 7).
    pub byte_offset: Option<u64>,
    /// Modification time, milliseconds since the Unix epoch (field 8).
    pub mtime: Option<u64>,
    /// Change time, milliseconds since the Unix epoch (field 9).
    pub ctime: Option<u64>,
}

impl Stat {
    /// A file as `writeFile` records it: all nine fields present.
    pub fn file(
        mode: u32,
        size: u64,
        blocks: u64,
        offset: u64,
        byte_offset: u64,
        time_ms: u64,
    ) -> Self {
        Self {
            mode: (mode & !IFMT) | IFREG,
            uid: Some(0),
            gid: Some(0),
            size: Some(size),
            blocks: Some(blocks),
            offset: Some(offset),
            byte_offset: Some(byte_offset),
            mtime: Some(time_ms),
            ctime: Some(time_ms),
        }
    }

    /// A directory as `mkdir` records it: no uid/gid/size/blocks; offset and byteOffset are
    /// the content feed's length and byte length at the time.
    pub fn directory(mode: u32, offset: u64, byte_offset: u64, time_ms: u64) -> Self {
        Self {
            mode: (mode & !IFMT) | IFDIR,
            offset: Some(offset),
            byte_offset: Some(byte_offset),
            mtime: Some(time_ms),
            ctime: Some(time_ms),
            ..Self::default()
        }
    }

    /// The synthetic stat of a directory that has no entry of its own (`/` or a parent).
    pub fn implied_directory() -> Self {
        Self {
            mode: DEFAULT_DIR_MODE,
            ..Self::default()
        }
    }

    /// Whether the type bits say regular file.
    pub fn is_file(&self) -> bool {
        self.mode & IFMT == IFREG
    }

    /// Whether the type bits say directory.
    pub fn is_directory(&self) -> bool {
        self.mode & IFMT == IFDIR
    }

    /// Size in bytes (0 when absent).
    pub fn size(&self) -> u64 {
        self.size.unwrap_or(0)
    }

    /// Content blocks (0 when absent).
    pub fn blocks(&self) -> u64 {
        self.blocks.unwrap_or(0)
    }

    /// First content block (0 when absent).
    pub fn offset(&self) -> u64 {
        self.offset.unwrap_or(0)
    }

    /// Content byte offset (0 when absent).
    pub fn byte_offset(&self) -> u64 {
        self.byte_offset.unwrap_or(0)
    }

    /// Modification time in ms (0 when absent).
    pub fn mtime(&self) -> u64 {
        self.mtime.unwrap_or(0)
    }

    /// The fields in field-number order, for encoding.
    fn fields(&self) -> [(u32, Option<u64>); 9] {
        [
            (1, Some(u64::from(self.mode))),
            (2, self.uid.map(u64::from)),
            (3, self.gid.map(u64::from)),
            (4, self.size),
            (5, self.blocks),
            (6, self.offset),
            (7, self.byte_offset),
            (8, self.mtime),
            (9, self.ctime),
        ]
    }

    /// Encode the present fields in field order, as protocol-buffers JS does.
    pub fn encode(&self) -> Vec<u8> {
        let fields = self.fields();
        let len = fields
            .iter()
            .filter_map(|(n, v)| v.map(|v| varint_field_len(*n, v)))
            .sum();
        let mut out = Vec::with_capacity(len);
        for (n, v) in fields {
            if let Some(v) = v {
                put_varint(&mut out, n, v);
            }
        }
        out
    }

    /// Decode, requiring `mode`. `uint32` fields above `u32::MAX` are refused.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut stat = Self::default();
        let mut mode = None;
        for field in Fields::new(bytes) {
            let field = field?;
            match field.number() {
                1 => mode = Some(u32_field(field.varint("mode")?, "mode")?),
                2 => stat.uid = Some(u32_field(field.varint("uid")?, "uid")?),
                3 => stat.gid = Some(u32_field(field.varint("gid")?, "gid")?),
                4 => stat.size = Some(field.varint("size")?),
                5 => stat.blocks = Some(field.varint("blocks")?),
                6 => stat.offset = Some(field.varint("offset")?),
                7 => stat.byte_offset = Some(field.varint("byteOffset")?),
                8 => stat.mtime = Some(field.varint("mtime")?),
                9 => stat.ctime = Some(field.varint("ctime")?),
                _ => {}
            }
        }
        stat.mode = mode.ok_or(DecodeError::MissingField("mode"))?;
        Ok(stat)
    }
}

fn u32_field(value: u64, name: &'static str) -> Result<u32, DecodeError> {
    u32::try_from(value).map_err(|_| DecodeError::InvalidValue(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_file_stat_bytes() {
        // DAT-SPEC §5.7 seq 1: /results.csv, 8 bytes, mtime/ctime 1500000000000.
        let st = Stat::file(0o644, 8, 1, 0, 0, 1_500_000_000_000);
        assert_eq!(
            hex::encode(st.encode()),
            "08a4830210001800200828013000380040 80b0def7d32b4880b0def7d32b".replace(' ', "")
        );
        assert_eq!(Stat::decode(&st.encode()).unwrap(), st);
    }

    #[test]
    fn spec_mkdir_stat_bytes() {
        // DAT-SPEC §5.7 seq 6: mkdir /empty, mode 16877, offset 5, byteOffset 70020.
        let st = Stat::directory(0o755, 5, 70020, 1_500_000_004_000);
        assert_eq!(
            hex::encode(st.encode()),
            "08ed8301300538 84a30440a0cfdef7d32b48a0cfdef7d32b".replace(' ', "")
        );
        let back = Stat::decode(&st.encode()).unwrap();
        assert_eq!(back, st);
        assert_eq!(back.uid, None);
        assert!(back.is_directory() && !back.is_file());
    }

    #[test]
    fn hostile_stats() {
        assert_eq!(Stat::decode(&[]), Err(DecodeError::MissingField("mode")));
        assert_eq!(
            Stat::decode(&[0x20, 0x01]),
            Err(DecodeError::MissingField("mode"))
        );
        assert_eq!(Stat::decode(&[0x08]), Err(DecodeError::UnexpectedEnd));
        assert_eq!(
            Stat::decode(&[0x08, 0x80, 0x80, 0x80, 0x80, 0x10]),
            Err(DecodeError::InvalidValue("mode"))
        );
        assert_eq!(
            Stat::decode(&[0x0a, 0x00]),
            Err(DecodeError::WrongWireType {
                field: 1,
                expected: 0,
                got: 2
            })
        );
        // Unknown fields are skipped, as JS does.
        assert_eq!(
            Stat::decode(&[0x08, 0x01, 0x52, 0x01, 0x00]).unwrap().mode,
            1
        );
    }
}
