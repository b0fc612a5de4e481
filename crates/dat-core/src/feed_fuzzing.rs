//! Fuzz entry points for the feed's decoders (the fuzz crate wraps them): arbitrary bytes must
//! never panic.

use crate::crypto::PublicKey;
use crate::proof::RemoteTree;
use crate::sleep::{FileType, Header};
use crate::storage::{FeedStorage, MemoryStorage, Slot};

/// SLEEP header decoding: never panics; accepted headers re-encode to the same header.
pub fn sleep_header(data: &[u8]) {
    for t in [FileType::Tree, FileType::Signatures, FileType::Bitfield] {
        if let Ok(h) = Header::decode_for(data, t) {
            assert_eq!(Header::decode_for(&h.encode(), t).ok(), Some(h));
        }
    }
}

/// The SLEEP files of one feed packed into one fuzz input, so a corpus can start from real
/// files: `key` (32 bytes), then `tree`, `signatures` and `bitfield` each behind a 4-byte
/// little-endian length, then `data` (the rest). [`FeedFiles::pack`] writes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedFiles<'a> {
    /// The `key` file.
    pub key: &'a [u8],
    /// The `tree` file.
    pub tree: &'a [u8],
    /// The `signatures` file.
    pub signatures: &'a [u8],
    /// The `bitfield` file.
    pub bitfield: &'a [u8],
    /// The `data` file.
    pub data: &'a [u8],
}

impl<'a> FeedFiles<'a> {
    /// Split a fuzz input; a length running past the end takes what is left.
    pub fn unpack(input: &'a [u8]) -> Self {
        let (key, mut rest) = input.split_at(input.len().min(32));
        let mut next = || {
            let n = rest.len().min(4);
            let mut len = [0u8; 4];
            len[..n].copy_from_slice(&rest[..n]);
            let len = usize::try_from(u32::from_le_bytes(len)).unwrap_or(usize::MAX);
            let (file, after) = rest[n..].split_at(len.min(rest.len() - n));
            rest = after;
            file
        };
        let (tree, signatures, bitfield) = (next(), next(), next());
        Self {
            key,
            tree,
            signatures,
            bitfield,
            data: rest,
        }
    }

    /// The fuzz input that [`FeedFiles::unpack`] splits back into these files.
    pub fn pack(&self) -> Vec<u8> {
        let mut out = self.key.to_vec();
        for file in [self.tree, self.signatures, self.bitfield] {
            out.extend_from_slice(&(file.len() as u32).to_le_bytes());
            out.extend_from_slice(file);
        }
        out.extend_from_slice(self.data);
        out
    }

    /// Read-only in-memory storage holding these files.
    pub fn storage(&self) -> FeedStorage {
        let slot = |bytes: &[u8]| -> Box<MemoryStorage> {
            Box::new(MemoryStorage::from_bytes(bytes.to_vec()))
        };
        FeedStorage::memory()
            .without_secret_key()
            .with_slot(Slot::Key, slot(self.key))
            .with_slot(Slot::Tree, slot(self.tree))
            .with_slot(Slot::Signatures, slot(self.signatures))
            .with_slot(Slot::Bitfield, slot(self.bitfield))
            .with_slot(Slot::Data, slot(self.data))
    }
}

/// A feed opened from hostile files (see [`FeedFiles`]): opening, verifying, reading, seeking
/// and proving never panic, and what reads back stays within the files' bounds.
pub fn feed_files(data: &[u8]) {
    let files = FeedFiles::unpack(data);
    let Ok(feed) = crate::feed::Feed::open(files.storage()) else {
        return;
    };
    assert!(!feed.writable());
    let _ = feed.verify_all();
    let _ = feed.roots();
    let _ = feed.root_hash();
    let len = feed.len();
    let mut remote = RemoteTree::new();
    for i in (0..len.min(8)).chain(len.saturating_sub(2)..len) {
        if let Ok(block) = feed.get(i) {
            assert!(
                block.len() <= files.data.len(),
                "block {i} larger than the data file"
            );
        }
        let _ = feed.byte_offset(i);
        let _ = feed.block_size(i);
        let _ = feed.signature(i);
        let _ = feed.next_signature(i);
        let _ = feed.node(2 * i + 1);
        let _ = feed.proof(i, feed.digest(i), i % 2 == 0, &mut remote);
    }
    let _ = feed.seek(feed.byte_len() / 2);
    let _ = feed.bitfield_bytes(0, len.min(1 << 16));
    let _ = feed.downloaded(0..len);
}

/// A feed opened from hostile files, with the key given separately (a reader that already
/// knows the key, as a clone does): like [`feed_files`] but the key file always matches.
pub fn reader_files(data: &[u8]) {
    let files = FeedFiles::unpack(data);
    let Ok(key) = PublicKey::from_slice(files.key) else {
        return;
    };
    let Ok(feed) = crate::feed::Feed::open_or_create_reader(files.storage(), key) else {
        return;
    };
    assert_eq!(*feed.key(), key);
    let _ = feed.verify_all();
    if let Some(last) = feed.len().checked_sub(1) {
        let _ = feed.get(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points_accept_anything() {
        super::sleep_header(&[5, 2, 87, 2, 0, 0, 40, 7]);
        super::sleep_header(&crate::sleep::Header::new(crate::sleep::FileType::Tree).encode());
        for n in [0usize, 31, 36, 200, 4000] {
            super::feed_files(&vec![0xa5; n]);
            super::reader_files(&vec![0x02; n]);
        }
    }

    #[test]
    fn real_feed_opens_from_its_packed_files() {
        let m = crate::storage::MemoryFeedFiles::new();
        let mut feed = crate::feed::Feed::create(
            FeedStorage::from_memory(&m),
            crate::crypto::KeyPair::from_seed(&[9; 32]),
        )
        .unwrap();
        feed.append_batch([&b"one"[..], b"two", b"three"]).unwrap();
        feed.append(b"four").unwrap();
        drop(feed);
        let [key, tree, signatures, bitfield, data] = [
            Slot::Key,
            Slot::Tree,
            Slot::Signatures,
            Slot::Bitfield,
            Slot::Data,
        ]
        .map(|s| m.slot(s).to_vec());
        let packed = FeedFiles {
            key: &key,
            tree: &tree,
            signatures: &signatures,
            bitfield: &bitfield,
            data: &data,
        }
        .pack();
        let feed = crate::feed::Feed::open(FeedFiles::unpack(&packed).storage()).unwrap();
        assert_eq!((feed.len(), feed.get(3).unwrap()), (4, b"four".to_vec()));
        assert!(feed.verify_all().unwrap().problems.is_empty());
        super::feed_files(&packed);
        super::reader_files(&packed);
        for i in (0..packed.len()).step_by(5) {
            let mut p = packed.clone();
            p[i] ^= 0x81;
            super::feed_files(&p);
        }
    }

    #[test]
    fn pack_unpack_round_trip() {
        let files = FeedFiles {
            key: &[7; 32],
            tree: b"tree",
            signatures: b"",
            bitfield: b"bits",
            data: b"data bytes",
        };
        assert_eq!(FeedFiles::unpack(&files.pack()), files);
        // Truncated inputs still split, shorter files last.
        let short = FeedFiles::unpack(&[1; 40]);
        assert_eq!((short.key.len(), short.tree.len()), (32, 4));
    }
}
