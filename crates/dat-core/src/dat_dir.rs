//! dat-node's `.dat` folder layout (DAT-SPEC §3.1): `metadata.*` and `content.*` files, the
//! metadata secret key in `<secret_dir>/<dk[0:2]>/<dk[2:64]>` (default
//! `$HOME/.dat/secret_keys`) guarded by the one-byte marker `metadata.ogd`.

use std::io;
use std::path::{Path, PathBuf};

use crate::crypto::{DiscoveryKey, PublicKey};
use crate::storage::{FeedStorage, FileStorage, Slot, Storage};

/// A `.dat` directory and where its secret keys live.
#[derive(Clone, Debug)]
pub struct DatDir {
    dir: PathBuf,
    secret_dir: PathBuf,
}

impl DatDir {
    /// The `.dat` directory `dir` (e.g. `<archive>/.dat`), with secret keys in
    /// `$HOME/.dat/secret_keys` (or `./.dat/secret_keys` when `HOME` is unset).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        Self {
            dir: dir.into(),
            secret_dir: home.join(".dat").join("secret_keys"),
        }
    }

    /// Keep secret keys in `secret_dir` instead (dat-storage `opts.secretDir`; tests use it
    /// so they never touch the real home directory).
    pub fn with_secret_dir(mut self, secret_dir: impl Into<PathBuf>) -> Self {
        self.secret_dir = secret_dir.into();
        self
    }

    /// The `.dat` directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the secret key of the metadata feed with this discovery key is stored.
    pub fn secret_key_path(&self, discovery_key: &DiscoveryKey) -> PathBuf {
        let hex = discovery_key.to_hex();
        self.secret_dir.join(&hex[..2]).join(&hex[2..])
    }

    /// Path of the ownership marker.
    pub fn owner_marker(&self) -> PathBuf {
        self.dir.join("metadata.ogd")
    }

    /// The metadata key stored in `metadata.key`, if any.
    pub fn metadata_key(&self) -> io::Result<Option<PublicKey>> {
        match std::fs::read(self.dir.join("metadata.key")) {
            Ok(bytes) => Ok(PublicKey::from_slice(&bytes).ok()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Storage for the metadata feed with key `key`: `metadata.*`, secret key in the secret
    /// directory behind the `metadata.ogd` marker.
    pub fn metadata(&self, key: &PublicKey) -> FeedStorage {
        let secret = OwnedSecretStorage {
            marker: FileStorage::new(self.owner_marker()),
            secret: FileStorage::new(self.secret_key_path(&key.discovery_key())),
        };
        FeedStorage::prefixed(&self.dir, "metadata").with_slot(Slot::SecretKey, Box::new(secret))
    }

    /// Storage for the content feed: `content.*`, no secret key (it is derived). Its data
    /// slot is `content.data`; hyperdrive replaces it with the working files.
    pub fn content(&self) -> FeedStorage {
        FeedStorage::prefixed(&self.dir, "content").without_secret_key()
    }
}

/// dat-secret-storage: reads need the marker file to be readable; writes write the marker
/// (one 0x00 byte) first, then the secret key file.
#[derive(Debug)]
pub struct OwnedSecretStorage {
    marker: FileStorage,
    secret: FileStorage,
}

impl OwnedSecretStorage {
    /// A secret key at `secret` guarded by the marker file `marker`.
    pub fn new(marker: impl Into<PathBuf>, secret: impl Into<PathBuf>) -> Self {
        Self {
            marker: FileStorage::new(marker),
            secret: FileStorage::new(secret),
        }
    }

    fn owned(&self) -> io::Result<bool> {
        Ok(self.marker.len()? >= 1)
    }
}

impl Storage for OwnedSecretStorage {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        if !self.owned()? {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.secret.read_at(offset, buf)
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.marker.write_at(0, &[0])?;
        self.secret.write_at(offset, data)
    }

    fn len(&self) -> io::Result<u64> {
        if !self.owned()? {
            return Ok(0);
        }
        self.secret.len()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.secret.truncate(len)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.marker.sync_data()?;
        self.secret.sync_data()
    }
}
