//! Importing a folder (dat-node `importFiles` over mirror-folder, DAT-SPEC §5.6): a sorted
//! depth-first walk; a file is re-imported only when its size differs or its mtime is newer
//! than the archive's entry; entries whose file is gone are deleted; directories are not
//! recorded (dat-node imports with `ignoreDirs`).
//!
//! Cost per file is a lookup and an index computation over the file's own directories (the
//! entry cache keeps those warm), never a scan of the archive; memory is the pending siblings
//! of the directories on the current path.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::archive::Archive;
use crate::error::DriveError;
use crate::ignore::Ignore;
use crate::write::WriteOptions;

/// How to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Skip files and folders whose name starts with `.` (dat's default).
    pub ignore_hidden: bool,
    /// Read `.datignore` in the source folder.
    pub use_datignore: bool,
    /// Extra ignore patterns (gitignore syntax).
    pub ignore: Vec<String>,
    /// Delete archive entries whose file is gone.
    pub delete_removed: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            ignore_hidden: true,
            use_datignore: true,
            ignore: Vec::new(),
            delete_removed: true,
        }
    }
}

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Files new to the archive.
    pub added: u64,
    /// Files re-imported because they changed.
    pub updated: u64,
    /// Files left alone (same size, not newer).
    pub unchanged: u64,
    /// Entries deleted because their file is gone.
    pub deleted: u64,
    /// Paths skipped by the ignore rules.
    pub ignored: u64,
    /// Content bytes appended.
    pub bytes: u64,
}

struct Importer<'a> {
    archive: &'a mut Archive,
    src: PathBuf,
    ignore: Ignore,
    indexing: bool,
    delete_removed: bool,
    report: ImportReport,
}

/// Import `src` into `archive` (the archive's working folder in latest mode, where the bytes
/// are then hashed in place, or any folder).
pub fn import(
    archive: &mut Archive,
    src: &Path,
    opts: &ImportOptions,
) -> Result<ImportReport, DriveError> {
    if !archive.writable() {
        return Err(DriveError::NotWritable);
    }
    let mut patterns = opts.ignore.clone();
    if opts.use_datignore {
        match fs::read_to_string(src.join(".datignore")) {
            Ok(text) => patterns.extend(text.lines().map(String::from)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(DriveError::io(src.join(".datignore"))(e)),
        }
    }
    let ignore = Ignore::new(patterns.iter().map(String::as_str), opts.ignore_hidden)?;
    let indexing = match archive.working_dir() {
        Some(dir) => same_dir(&dir, src),
        None => false,
    };
    let mut importer = Importer {
        archive,
        src: src.to_path_buf(),
        ignore,
        indexing,
        delete_removed: opts.delete_removed,
        report: ImportReport::default(),
    };
    importer.run()?;
    Ok(importer.report)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

fn child(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

impl Importer<'_> {
    fn run(&mut self) -> Result<(), DriveError> {
        // Stack of (relative path, is_dir); popping yields a sorted depth-first walk.
        let mut stack = vec![(String::new(), true)];
        while let Some((rel, is_dir)) = stack.pop() {
            if is_dir {
                let children = self.read_dir(&rel)?;
                if self.delete_removed {
                    self.delete_missing(&rel, &children)?;
                }
                stack.extend(
                    children
                        .into_iter()
                        .rev()
                        .map(|(n, d)| (child(&rel, &n), d)),
                );
            } else {
                self.import_file(&rel)?;
            }
        }
        Ok(())
    }

    /// The non-ignored children of a folder, sorted by name, with whether each is a folder
    /// to walk (symlinks to folders are not followed, as mirror-folder does not).
    fn read_dir(&mut self, rel: &str) -> Result<Vec<(String, bool)>, DriveError> {
        let path = self.src.join(rel);
        let mut out = Vec::new();
        for e in fs::read_dir(&path).map_err(DriveError::io(&path))? {
            let e = e.map_err(DriveError::io(&path))?;
            let Ok(name) = e.file_name().into_string() else {
                self.report.ignored += 1;
                continue;
            };
            let ty = e.file_type().map_err(DriveError::io(e.path()))?;
            let is_dir = ty.is_dir();
            if self.ignore.is_ignored(&child(rel, &name), is_dir)
                || crate::name::check_component(&name).is_err()
            {
                self.report.ignored += 1;
                continue;
            }
            out.push((name, is_dir));
        }
        out.sort();
        Ok(out)
    }

    fn delete_missing(&mut self, rel: &str, present: &[(String, bool)]) -> Result<(), DriveError> {
        let dir = format!("/{rel}");
        let names = self.archive.latest()?.readdir(&dir)?.unwrap_or_default();
        for name in names {
            if present.iter().any(|(n, _)| *n == name) {
                continue;
            }
            let path = child(rel, &name);
            if self.ignore.is_ignored(&path, false) {
                continue;
            }
            self.delete_tree(&format!("/{path}"))?;
        }
        Ok(())
    }

    /// Delete the entry `path` and every file under it, one directory at a time.
    fn delete_tree(&mut self, path: &str) -> Result<(), DriveError> {
        let mut stack = vec![path.to_string()];
        while let Some(p) = stack.pop() {
            let tree = self.archive.latest()?;
            let live = tree.get(&p)?.is_some();
            let children = tree.readdir(&p)?.unwrap_or_default();
            drop(tree);
            if live {
                self.archive.unlink(&p)?;
                self.report.deleted += 1;
            }
            stack.extend(children.into_iter().map(|c| format!("{p}/{c}")));
        }
        Ok(())
    }

    fn import_file(&mut self, rel: &str) -> Result<(), DriveError> {
        let path = self.src.join(rel);
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(DriveError::io(&path)(e)),
        };
        if !meta.is_file() {
            self.report.ignored += 1;
            return Ok(());
        }
        let name = format!("/{rel}");
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as u64);
        let old = self.archive.latest()?.get(&name)?;
        if let Some(st) = old.filter(|s| s.is_file()) {
            if st.size() == meta.len() && mtime <= st.mtime() {
                self.report.unchanged += 1;
                return Ok(());
            }
            self.report.updated += 1;
        } else {
            self.report.added += 1;
        }
        let file = File::open(&path).map_err(DriveError::io(&path))?;
        let opts = WriteOptions {
            mode: meta.permissions().mode(),
            mtime: None,
            ctime: None,
        };
        let before = self.archive.content().byte_len();
        self.archive.append_file(&name, file, opts, self.indexing)?;
        self.report.bytes += self.archive.content().byte_len() - before;
        Ok(())
    }
}
