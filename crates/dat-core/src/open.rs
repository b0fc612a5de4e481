//! Creating and opening feeds: keys, SLEEP headers, the bitfield, the length derivation of
//! DAT-SPEC §3.7 and recovery from a torn last write.

use crate::bitfield::Bitfield;
use crate::crypto::{KeyPair, PublicKey, SecretKey, hash_roots};
use crate::error::{FeedError, VerifyError, io};
use crate::feed::{Feed, Recovery, read_opt};
use crate::flat_tree;
use crate::limits::MAX_BITFIELD_BYTES;
use crate::node::Node;
use crate::sleep::{FileType, HEADER_LEN, Header};
use crate::storage::{FeedStorage, Slot, Storage};
use crate::tree_index;

impl Feed {
    /// A new, empty, writable feed. Fails with [`FeedError::AlreadyExists`] if the storage
    /// already holds a key.
    pub fn create(mut storage: FeedStorage, keys: KeyPair) -> Result<Feed, FeedError> {
        if let Some(key) = read_key(&storage)? {
            return Err(FeedError::AlreadyExists { key });
        }
        // The key file is what makes a folder hold a feed, so it is written last, after the
        // secret key is durable: a create cut short leaves no key (the next create starts
        // over) rather than a feed whose owner has lost the right to write it.
        write_headers(&mut storage)?;
        if let Some(secret) = storage.secret_key.as_mut() {
            secret
                .write_at(0, &keys.secret.to_libsodium_bytes())
                .and_then(|()| secret.sync_data())
                .map_err(io(Slot::SecretKey))?;
        }
        storage
            .key
            .write_at(0, keys.public.as_bytes())
            .map_err(io(Slot::Key))?;
        let bitfield = Bitfield::new(usize::from(crate::sleep::BITFIELD_PAGE_SIZE));
        Ok(Feed::assemble(
            storage,
            keys.public,
            Some(keys.secret),
            bitfield,
        ))
    }

    /// Open an existing feed; read-only when the storage holds no secret key. Derives the
    /// length as JS does and, if the last write was torn, opens at the last signed length
    /// (see [`Feed::recovery`]).
    pub fn open(storage: FeedStorage) -> Result<Feed, FeedError> {
        let key = read_key(&storage)?.ok_or(FeedError::NoFeed)?;
        let secret = read_secret(&storage, &key)?;
        Feed::load(storage, key, secret)
    }

    /// Open the feed of `keys` stored here, or create it when no key is stored (a writer
    /// resuming a create that was cut short). A different stored key is an error.
    pub fn open_or_create(storage: FeedStorage, keys: KeyPair) -> Result<Feed, FeedError> {
        match read_key(&storage)? {
            Some(found) if found != keys.public => Err(FeedError::WrongKey {
                expected: keys.public,
                found,
            }),
            Some(_) => Feed::open(storage),
            None => Feed::create(storage, keys),
        }
    }

    /// Open the clone of `key` stored here, or start an empty one.
    pub fn open_or_create_reader(
        mut storage: FeedStorage,
        key: PublicKey,
    ) -> Result<Feed, FeedError> {
        match read_key(&storage)? {
            Some(found) if found != key => Err(FeedError::WrongKey {
                expected: key,
                found,
            }),
            Some(_) => Feed::open(storage),
            None => {
                write_headers(&mut storage)?;
                storage
                    .key
                    .write_at(0, key.as_bytes())
                    .map_err(io(Slot::Key))?;
                Feed::load(storage, key, None)
            }
        }
    }

    fn load(
        mut storage: FeedStorage,
        key: PublicKey,
        secret: Option<SecretKey>,
    ) -> Result<Feed, FeedError> {
        ensure_header(storage.tree.as_mut(), Slot::Tree, FileType::Tree)?;
        ensure_header(
            storage.signatures.as_mut(),
            Slot::Signatures,
            FileType::Signatures,
        )?;
        let header = ensure_header(
            storage.bitfield.as_mut(),
            Slot::Bitfield,
            FileType::Bitfield,
        )?;
        let bitfield = read_bitfield(storage.bitfield.as_ref(), usize::from(header.entry_size))?;
        let mut feed = Feed::assemble(storage, key, secret, bitfield);
        let derived = tree_index::blocks(&feed.bitfield);
        let length = feed.last_signed_length(derived)?;
        if length < derived {
            feed.recovery = Some(Recovery {
                derived_length: derived,
                length,
            });
            if feed.writable() {
                feed.roll_back_bits(length);
                feed.flush_bitfield()?;
            }
        }
        feed.length = length;
        feed.live = true;
        feed.reload_roots()?;
        Ok(feed)
    }

    /// Load the roots of the current length (the writer's Merkle state) and the byte length.
    pub(crate) fn reload_roots(&mut self) -> Result<(), FeedError> {
        let roots: Vec<Node> = flat_tree::full_roots(2 * self.length)
            .into_iter()
            .map(|r| self.require_node(r))
            .collect::<Result<_, _>>()?;
        self.byte_length = roots.iter().fold(0u64, |a, r| a.saturating_add(r.size));
        self.roots = roots;
        self.roots_valid = true;
        Ok(())
    }

    /// Starting at `length`, the longest length that has a signature. A blank signature at
    /// `length - 1` is a torn bitfield write (the bitfield is written last), so step back to
    /// the previous signed length. A present signature whose roots are missing or that does
    /// not verify is corruption and an error, never repaired.
    fn last_signed_length(&self, mut length: u64) -> Result<u64, FeedError> {
        while length > 0 {
            let Some(sig) = self.signature_entry(length - 1)? else {
                length = self.previous_signature(length - 1)?;
                continue;
            };
            let roots = self.stored_roots(length)?;
            return match roots {
                Err(index) => Err(FeedError::Corrupt {
                    file: Slot::Tree,
                    index,
                    reason: "root node of the signed length is missing",
                }),
                Ok(roots) if self.key.verify(&hash_roots(&roots), &sig) => Ok(length),
                Ok(_) => Err(VerifyError::BadSignature { length }.into()),
            };
        }
        Ok(0)
    }

    /// The roots of `length`, or the index of the first root missing.
    fn stored_roots(&self, length: u64) -> Result<Result<Vec<Node>, u64>, FeedError> {
        let mut roots = Vec::new();
        for r in flat_tree::full_roots(2 * length) {
            match self.read_node(r)? {
                Some(node) if self.bitfield.get_tree(r) => roots.push(node),
                _ => return Ok(Err(r)),
            }
        }
        Ok(Ok(roots))
    }

    /// `j + 1` for the highest non-blank signature entry `j < before`, or 0.
    fn previous_signature(&self, before: u64) -> Result<u64, FeedError> {
        let file = self.storage.signatures.as_ref();
        let file_len = file.len().map_err(io(Slot::Signatures))?;
        let mut end = before.min(file_len.saturating_sub(HEADER_LEN as u64) / 64);
        let mut buf = vec![0u8; 64 * 1024];
        while end > 0 {
            let start = end.saturating_sub(1024);
            let chunk = &mut buf[..((end - start) * 64) as usize];
            file.read_at(HEADER_LEN as u64 + start * 64, chunk)
                .map_err(io(Slot::Signatures))?;
            if let Some(k) = chunk
                .chunks_exact(64)
                .rposition(|e| e.iter().any(|&b| b != 0))
            {
                return Ok(start + k as u64 + 1);
            }
            end = start;
        }
        Ok(0)
    }

    /// Clear the data bits of blocks `>= length` and the tree bits of nodes reaching past it,
    /// so the bitfield says exactly "length blocks" again.
    pub(crate) fn roll_back_bits(&mut self, length: u64) {
        let blocks: Vec<u64> = self.bitfield.data_blocks_from(length).collect();
        for i in blocks {
            self.bitfield.set(i, false);
        }
        let edge = 2 * length;
        let nodes: Vec<u64> = self
            .bitfield
            .tree_nodes()
            .filter(|&n| flat_tree::right_span(n) >= edge)
            .collect();
        for n in nodes {
            self.bitfield.set_tree_bit(n, false);
        }
    }
}

fn read_key(storage: &FeedStorage) -> Result<Option<PublicKey>, FeedError> {
    let len = storage.key.len().map_err(io(Slot::Key))?;
    if len == 0 {
        return Ok(None);
    }
    let mut buf = [0u8; 32];
    if !read_opt(storage.key.as_ref(), 0, &mut buf).map_err(io(Slot::Key))? {
        return Err(FeedError::Corrupt {
            file: Slot::Key,
            index: 0,
            reason: "key shorter than 32 bytes",
        });
    }
    Ok(Some(PublicKey(buf)))
}

fn read_secret(storage: &FeedStorage, key: &PublicKey) -> Result<Option<SecretKey>, FeedError> {
    let Some(slot) = storage.secret_key.as_ref() else {
        return Ok(None);
    };
    let mut buf = [0u8; 64];
    match slot.read_at(0, &mut buf) {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::NotFound
            ) =>
        {
            if slot.len().unwrap_or(0) == 0 {
                return Ok(None);
            }
            return Err(FeedError::Corrupt {
                file: Slot::SecretKey,
                index: 0,
                reason: "secret key shorter than 64 bytes",
            });
        }
        Err(e) => return Err(io(Slot::SecretKey)(e)),
    }
    let secret = SecretKey::from_libsodium_bytes(&buf).map_err(|source| FeedError::Key {
        file: Slot::SecretKey,
        source,
    })?;
    if secret.public_key() != *key {
        return Err(FeedError::SecretKeyMismatch);
    }
    Ok(Some(secret))
}

fn write_headers(storage: &mut FeedStorage) -> Result<(), FeedError> {
    ensure_header(storage.tree.as_mut(), Slot::Tree, FileType::Tree)?;
    ensure_header(
        storage.signatures.as_mut(),
        Slot::Signatures,
        FileType::Signatures,
    )?;
    ensure_header(
        storage.bitfield.as_mut(),
        Slot::Bitfield,
        FileType::Bitfield,
    )?;
    Ok(())
}

/// Check the header of a SLEEP file, writing the default one into an empty file (as JS does
/// on open).
fn ensure_header(
    storage: &mut dyn Storage,
    slot: Slot,
    file_type: FileType,
) -> Result<Header, FeedError> {
    let len = storage.len().map_err(io(slot))?;
    if len == 0 {
        let header = Header::new(file_type);
        storage.write_at(0, &header.encode()).map_err(io(slot))?;
        return Ok(header);
    }
    let mut buf = vec![0u8; len.min(HEADER_LEN as u64) as usize];
    storage.read_at(0, &mut buf).map_err(io(slot))?;
    Header::decode_for(&buf, file_type)
        .map_err(|source| FeedError::BadHeader { file: slot, source })
}

fn read_bitfield(storage: &dyn Storage, page_size: usize) -> Result<Bitfield, FeedError> {
    let len = storage.len().map_err(io(Slot::Bitfield))?;
    let body = len.saturating_sub(HEADER_LEN as u64);
    if body > MAX_BITFIELD_BYTES {
        return Err(FeedError::Corrupt {
            file: Slot::Bitfield,
            index: body / page_size as u64,
            reason: "bitfield file larger than the limit",
        });
    }
    let mut bytes = vec![0u8; body as usize];
    storage
        .read_at(HEADER_LEN as u64, &mut bytes)
        .map_err(io(Slot::Bitfield))?;
    Ok(Bitfield::from_pages(page_size, &bytes))
}
