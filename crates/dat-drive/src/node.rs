//! append-tree's `Node { name, value, paths }` (DAT-SPEC §5.2) and [`Entry`], a node decoded
//! at its sequence number with its Stat and index.

use dat_core::protobuf::{DecodeError, Fields, bytes_field_len, put_bytes};

use crate::error::EntryError;
use crate::limits::MAX_ENTRY_LEN;
use crate::name;
use crate::paths::Paths;
use crate::stat::Stat;

/// `message Node { required string name = 1; optional bytes value = 2; optional bytes paths = 3; }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Absolute, `/`-separated name.
    pub name: String,
    /// The encoded Stat; absent for a deletion (tombstone).
    pub value: Option<Vec<u8>>,
    /// The encoded [`Paths`] index.
    pub paths: Option<Vec<u8>>,
}

impl Node {
    /// Encode in field order, omitting absent fields, as JS does.
    pub fn encode(&self) -> Vec<u8> {
        let len = bytes_field_len(1, self.name.len())
            + self
                .value
                .as_ref()
                .map_or(0, |v| bytes_field_len(2, v.len()))
            + self
                .paths
                .as_ref()
                .map_or(0, |p| bytes_field_len(3, p.len()));
        let mut out = Vec::with_capacity(len);
        put_bytes(&mut out, 1, self.name.as_bytes());
        if let Some(value) = &self.value {
            put_bytes(&mut out, 2, value);
        }
        if let Some(paths) = &self.paths {
            put_bytes(&mut out, 3, paths);
        }
        out
    }

    /// Decode, requiring `name`; unknown fields are skipped.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut name = None;
        let mut value = None;
        let mut paths = None;
        for field in Fields::new(bytes) {
            let field = field?;
            match field.number() {
                1 => name = Some(field.string("name")?.to_string()),
                2 => value = Some(field.bytes("value")?.to_vec()),
                3 => paths = Some(field.bytes("paths")?.to_vec()),
                _ => {}
            }
        }
        Ok(Self {
            name: name.ok_or(DecodeError::MissingField("name"))?,
            value,
            paths,
        })
    }
}

/// A metadata entry decoded at its sequence number (which is the archive version it created).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Sequence number in the metadata feed.
    pub seq: u64,
    /// The name as stored.
    pub name: String,
    /// The name split as append-tree splits it.
    pub components: Vec<String>,
    /// The Stat; `None` for a deletion.
    pub stat: Option<Stat>,
    /// The directory index.
    pub paths: Paths,
}

impl Entry {
    /// Build an entry (for writing).
    pub fn new(seq: u64, name: &str, stat: Option<Stat>, paths: Paths) -> Self {
        Self {
            seq,
            name: name.to_string(),
            components: name::split(name).into_iter().map(String::from).collect(),
            stat,
            paths,
        }
    }

    /// Decode metadata block `seq`, bounded and checked (name, Stat, paths).
    pub fn decode(seq: u64, bytes: &[u8]) -> Result<Self, EntryError> {
        if seq == 0 {
            return Err(EntryError::HeaderSeq);
        }
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(EntryError::TooLarge { len: bytes.len() });
        }
        let node = Node::decode(bytes).map_err(EntryError::Node)?;
        let components = name::checked_components(&node.name)?
            .into_iter()
            .map(String::from)
            .collect();
        let stat = match &node.value {
            Some(v) => Some(Stat::decode(v).map_err(EntryError::Stat)?),
            None => None,
        };
        let paths = Paths::decode(seq, node.paths.as_deref().ok_or(EntryError::MissingPaths)?)?;
        Ok(Self {
            seq,
            name: node.name,
            components,
            stat,
            paths,
        })
    }

    /// Encode as the Node JS appends.
    pub fn encode(&self) -> Vec<u8> {
        Node {
            name: self.name.clone(),
            value: self.stat.map(|s| s.encode()),
            paths: Some(self.paths.encode(self.seq)),
        }
        .encode()
    }

    /// Whether this entry deletes its name.
    pub fn is_deletion(&self) -> bool {
        self.stat.is_none()
    }

    /// Component `i`, if the name has that many.
    pub fn component(&self, i: usize) -> Option<&str> {
        self.components.get(i).map(String::as_str)
    }

    /// Bytes this takes in memory, roughly (for caches bounded by bytes): dominated by the
    /// index, which in a wide directory lists every sibling.
    pub fn heap_size(&self) -> usize {
        std::mem::size_of::<Self>()
            + 2 * self.name.len()
            + self.components.len() * std::mem::size_of::<String>()
            + self
                .paths
                .levels
                .iter()
                .map(|l| l.len() * 8 + std::mem::size_of::<Vec<u64>>())
                .sum::<usize>()
    }
}

/// What the tree's scans of a directory need of an entry: its name and whether it is live,
/// without its `paths` index. In a wide directory every entry's index lists all its
/// siblings, so decoding whole entries to compare names made each put cost the square of
/// the directory size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryName {
    /// Sequence number in the metadata feed.
    pub seq: u64,
    /// The name as stored.
    pub name: String,
    /// The name split as append-tree splits it.
    pub components: Vec<String>,
    /// Whether the entry has a Stat (is not a deletion).
    pub live: bool,
}

impl EntryName {
    /// Decode the name and Stat of metadata block `seq` with the checks of [`Entry::decode`],
    /// requiring but not decoding the `paths` index.
    pub fn decode(seq: u64, bytes: &[u8]) -> Result<Self, EntryError> {
        if seq == 0 {
            return Err(EntryError::HeaderSeq);
        }
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(EntryError::TooLarge { len: bytes.len() });
        }
        let mut name = None;
        let mut value = None;
        let mut has_paths = false;
        for field in Fields::new(bytes) {
            let field = field.map_err(EntryError::Node)?;
            match field.number() {
                1 => name = Some(field.string("name").map_err(EntryError::Node)?),
                2 => value = Some(field.bytes("value").map_err(EntryError::Node)?),
                3 => {
                    field.bytes("paths").map_err(EntryError::Node)?;
                    has_paths = true;
                }
                _ => {}
            }
        }
        let name = name.ok_or(EntryError::Node(DecodeError::MissingField("name")))?;
        let components = name::checked_components(name)?
            .into_iter()
            .map(String::from)
            .collect();
        if let Some(v) = value {
            Stat::decode(v).map_err(EntryError::Stat)?;
        }
        if !has_paths {
            return Err(EntryError::MissingPaths);
        }
        Ok(Self {
            seq,
            name: name.to_string(),
            components,
            live: value.is_some(),
        })
    }

    /// Component `i`, if the name has that many.
    pub fn component(&self, i: usize) -> Option<&str> {
        self.components.get(i).map(String::as_str)
    }

    /// Bytes this takes in memory, roughly (for caches bounded by bytes).
    pub fn heap_size(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.name.len()
            + self
                .components
                .iter()
                .map(|c| c.len() + std::mem::size_of::<String>())
                .sum::<usize>()
    }
}

impl From<&Entry> for EntryName {
    fn from(e: &Entry) -> Self {
        Self {
            seq: e.seq,
            name: e.name.clone(),
            components: e.components.clone(),
            live: e.stat.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_tombstone_bytes() {
        // DAT-SPEC §5.7 seq 4: delete /figures/graph1.png.
        let raw =
            hex::decode("0a132f666967757265732f6772617068312e706e671a06000201030103").unwrap();
        let entry = Entry::decode(4, &raw).unwrap();
        assert_eq!(entry.name, "/figures/graph1.png");
        assert!(entry.is_deletion());
        assert_eq!(entry.paths.levels, vec![vec![1, 4], vec![3]]);
        assert_eq!(entry.encode(), raw);
    }

    #[test]
    fn hostile_nodes() {
        assert_eq!(Entry::decode(0, &[]), Err(EntryError::HeaderSeq));
        assert_eq!(
            Entry::decode(1, &[0x1a, 0x01, 0x00]),
            Err(EntryError::Node(DecodeError::MissingField("name")))
        );
        assert_eq!(
            Entry::decode(1, &[0x0a, 0x05, b'/']),
            Err(EntryError::Node(DecodeError::UnexpectedEnd))
        );
        assert_eq!(
            Entry::decode(1, &[0x0a, 0x02, b'/', b'a']),
            Err(EntryError::MissingPaths)
        );
        assert_eq!(
            Entry::decode(
                1,
                &[
                    0x0a, 0x02, b'/', b'a', 0x12, 0x02, 0x10, 0x00, 0x1a, 0x01, 0x01
                ]
            ),
            Err(EntryError::Stat(DecodeError::MissingField("mode")))
        );
        let deep = Node {
            name: "/a".repeat(crate::limits::MAX_DEPTH + 1),
            value: None,
            paths: Some(vec![0]),
        };
        assert!(matches!(
            Entry::decode(1, &deep.encode()),
            Err(EntryError::Name(crate::error::NameError::TooDeep { .. }))
        ));
        let bad_paths = Node {
            name: "/a".into(),
            value: None,
            paths: Some(vec![1, 9, 1]),
        };
        assert!(matches!(
            Entry::decode(3, &bad_paths.encode()),
            Err(EntryError::Paths(
                crate::error::PathsError::CountTooLarge { .. }
            ))
        ));
    }
}
