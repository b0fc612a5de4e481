//! The archive of a local folder, as the commands find it: dat's own layout (`DIR/.dat`,
//! content in the working files, secret key under `$HOME/.dat/secret_keys`), or an archival
//! SLEEP folder (`DIR/metadata.*`, `DIR/content.*` with `content.data`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use dat_core::{DatDir, FileStorage, KeyPair, SecretKey, Slot};
use dat_drive::{Archive, ContentData, ImportOptions, ImportReport, import};

use crate::progress::{Count, CountLeaves, Counters};

/// Where an archive's feeds are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `DIR/.dat`, content in the working folder (dat's "latest" mode).
    Dat,
    /// `DIR/metadata.*` and `DIR/content.*` (archival: every version kept).
    Sleep,
}

impl Layout {
    /// The layout of the archive in `dir`, if there is one.
    pub fn detect(dir: &Path) -> Option<Self> {
        if dir.join(".dat").join("metadata.key").is_file() {
            Some(Layout::Dat)
        } else if dir.join("metadata.key").is_file() {
            Some(Layout::Sleep)
        } else {
            None
        }
    }

    /// The folder holding the SLEEP files (`<name>.tree`, `<name>.signatures`, ...).
    pub fn sleep_dir(self, dir: &Path) -> PathBuf {
        match self {
            Layout::Dat => dir.join(".dat"),
            Layout::Sleep => dir.to_path_buf(),
        }
    }

    /// A name for people.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Dat => "latest",
            Layout::Sleep => "archival",
        }
    }
}

/// An archive opened from a folder.
pub struct Local {
    /// The archive.
    pub archive: Archive,
    /// How it is stored.
    pub layout: Layout,
    /// The folder given on the command line.
    pub dir: PathBuf,
}

/// Open the archive in `dir` for reading (writable if its secret key is here; reading never
/// needs it).
pub fn open(dir: &Path) -> anyhow::Result<Local> {
    let layout = Layout::detect(dir).with_context(|| {
        format!(
            "no Dat archive here ({} has no .dat/metadata.key)",
            dir.display()
        )
    })?;
    let key_file = layout.sleep_dir(dir).join("metadata.key");
    if std::fs::metadata(&key_file).is_ok_and(|m| m.len() == 0) {
        bail!(
            "nothing is stored in {} yet: {} is empty (a clone or create was cut short \
             before it began; run it again)",
            dir.display(),
            key_file.display()
        );
    }
    let archive = match layout {
        Layout::Dat => Archive::open_dat(dir, &DatDir::new(dir.join(".dat"))),
        Layout::Sleep => Archive::open_sleep(dir),
    }
    .with_context(|| format!("cannot open the archive in {}", dir.display()))?;
    Ok(Local {
        archive,
        layout,
        dir: dir.to_path_buf(),
    })
}

/// Open (or create, if `dir` has none) the dat-layout archive of `dir` for an import, with
/// both feeds' appends counted into `counters`. Returns whether it was created.
pub fn open_for_import(dir: &Path, counters: &Arc<Counters>) -> anyhow::Result<(Archive, bool)> {
    if Layout::detect(dir) == Some(Layout::Sleep) {
        bail!(
            "{} is an archival SLEEP folder; `dat create` imports into a .dat folder",
            dir.display()
        );
    }
    let dat = DatDir::new(dir.join(".dat"));
    let counted = |slot_file: &str, count| {
        let file = FileStorage::new(dat.dir().join(slot_file));
        Box::new(CountLeaves::new(Box::new(file), counters.clone(), count))
    };
    let data = ContentData::WorkingFiles(dir.to_path_buf());
    let content = dat
        .content()
        .with_slot(Slot::Tree, counted("content.tree", Count::Bytes));
    let key = dat
        .metadata_key()
        .with_context(|| format!("cannot read {}", dat.dir().join("metadata.key").display()))?;
    let Some(key) = key else {
        let keys = KeyPair::generate().context("cannot generate a key pair")?;
        let metadata = dat
            .metadata(&keys.public)
            .with_slot(Slot::Tree, counted("metadata.tree", Count::Entries));
        let archive = Archive::create(metadata, content, data, keys)
            .with_context(|| format!("cannot create an archive in {}", dat.dir().display()))?;
        return Ok((archive, true));
    };
    let secret_path = dat.secret_key_path(&key.discovery_key());
    let secret = if dat.owner_marker().exists() {
        read_secret(&secret_path)?
    } else {
        None
    };
    let Some(secret) = secret else {
        bail!(
            "the archive in {} is read-only here: its secret key is not in {} \
             (this copy was cloned, or made under another $HOME)",
            dir.display(),
            secret_path.display()
        );
    };
    let metadata = dat
        .metadata(&key)
        .with_slot(Slot::Tree, counted("metadata.tree", Count::Entries));
    let archive = Archive::open(metadata, content, data, Some(&secret))
        .with_context(|| format!("cannot open the archive in {}", dir.display()))?;
    if !archive.writable() {
        bail!(
            "the secret key in {} does not belong to the archive in {}",
            secret_path.display(),
            dir.display()
        );
    }
    Ok((archive, false))
}

fn read_secret(path: &Path) -> anyhow::Result<Option<SecretKey>> {
    match std::fs::read(path) {
        Ok(bytes) => SecretKey::from_libsodium_bytes(&bytes)
            .map(Some)
            .map_err(|_| anyhow::anyhow!("{} is not a secret key file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// What an import takes in, shared by `dat create` and `dat share`.
#[derive(clap::Args, Debug, Clone)]
pub struct ImportFlags {
    /// Import hidden files and folders too (dat skips names starting with `.`).
    #[arg(long)]
    pub hidden: bool,
    /// Extra ignore patterns (gitignore syntax), besides `.datignore`.
    #[arg(long = "ignore", value_name = "PATTERN")]
    pub ignore: Vec<String>,
}

impl ImportFlags {
    /// The importer's options for these flags.
    pub fn options(&self) -> ImportOptions {
        ImportOptions {
            ignore_hidden: !self.hidden,
            ignore: self.ignore.clone(),
            ..ImportOptions::default()
        }
    }
}

/// Import `dir` into `archive` and make what changed durable (both feeds synced). `sync`
/// forces the sync when nothing changed (a just-created archive's header).
pub fn import_and_sync(
    archive: &mut Archive,
    dir: &Path,
    opts: &ImportOptions,
    sync: bool,
) -> anyhow::Result<ImportReport> {
    let report = import(archive, dir, opts)
        .with_context(|| format!("importing {} failed", dir.display()))?;
    sync_if(archive, report, sync)
}

/// [`import_and_sync`] of what a folder watcher found changed.
pub fn import_pending_and_sync(
    archive: &mut Archive,
    dir: &Path,
    opts: &ImportOptions,
    pending: &dat_drive::Pending,
) -> anyhow::Result<ImportReport> {
    let report = match pending {
        dat_drive::Pending::All => import(archive, dir, opts),
        dat_drive::Pending::Paths(paths) => {
            let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
            dat_drive::import_paths(archive, dir, &paths, opts)
        }
    }
    .with_context(|| format!("importing {} failed", dir.display()))?;
    sync_if(archive, report, false)
}

/// Sync both feeds when `sync` or when `report` says something was appended.
fn sync_if(
    archive: &mut Archive,
    report: ImportReport,
    sync: bool,
) -> anyhow::Result<ImportReport> {
    if sync || changed(&report) {
        archive
            .content_mut()
            .sync()
            .context("cannot sync the content feed")?;
        archive
            .metadata()
            .sync()
            .context("cannot sync the metadata feed")?;
    }
    Ok(report)
}

/// Whether an import appended anything.
pub fn changed(r: &ImportReport) -> bool {
    r.added + r.updated + r.deleted > 0
}
