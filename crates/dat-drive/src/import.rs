//! Importing a folder (dat-node `importFiles` over mirror-folder, DAT-SPEC §5.6): a sorted
//! depth-first walk; a file is re-imported only when its size differs or its mtime is newer
//! than the archive's entry; entries whose file is gone are deleted; directories are not
//! recorded (dat-node imports with `ignoreDirs`).
//!
//! [`import_paths`] does the same for only the paths a folder watcher reported changed, so
//! that one new file in a folder of millions costs one file's import, not a walk.
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
    let mut importer = Importer::new(archive, src, opts)?;
    importer.walk(String::new())?;
    Ok(importer.report)
}

/// Import only `paths` of `src` (relative, `/`-separated): what [`import`] would do for
/// them. A path that is a folder is walked as a whole, a path that is gone is deleted from
/// the archive (with everything under it), a path inside an ignored folder or with a name
/// dat refuses is skipped. A change to `.datignore` changes what every path means: then the
/// whole folder is imported.
pub fn import_paths<S: AsRef<str>>(
    archive: &mut Archive,
    src: &Path,
    paths: &[S],
    opts: &ImportOptions,
) -> Result<ImportReport, DriveError> {
    if opts.use_datignore && paths.iter().any(|p| p.as_ref() == ".datignore") {
        return import(archive, src, opts);
    }
    let mut paths: Vec<&str> = paths
        .iter()
        .map(|p| p.as_ref().trim_matches('/'))
        .filter(|p| !p.is_empty())
        .collect();
    paths.sort_unstable();
    paths.dedup();
    let mut importer = Importer::new(archive, src, opts)?;
    let mut walked: Option<&str> = None;
    for rel in paths {
        // Already covered by a folder walked whole just before (sorted: it comes first).
        if walked.is_some_and(|w| rel.strip_prefix(w).is_some_and(|r| r.starts_with('/'))) {
            continue;
        }
        let path = src.join(rel);
        let meta = fs::symlink_metadata(&path);
        if importer.skipped(rel, meta.as_ref().is_ok_and(|m| m.is_dir())) {
            continue;
        }
        match meta {
            Ok(m) if m.is_dir() => {
                importer.walk(rel.to_string())?;
                walked = Some(rel);
            }
            Ok(_) => importer.import_file(rel)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if importer.delete_removed {
                    importer.delete_tree(&format!("/{rel}"))?;
                }
            }
            Err(e) => return Err(DriveError::io(&path)(e)),
        }
    }
    Ok(importer.report)
}

impl<'a> Importer<'a> {
    fn new(archive: &'a mut Archive, src: &Path, opts: &ImportOptions) -> Result<Self, DriveError> {
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
        Ok(Importer {
            archive,
            src: src.to_path_buf(),
            ignore,
            indexing,
            delete_removed: opts.delete_removed,
            report: ImportReport::default(),
        })
    }
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
    /// Whether the walk leaves out `path` (whose last component is `name`): ignored, or a
    /// name dat refuses.
    fn excluded(&self, path: &str, name: &str, is_dir: bool) -> bool {
        self.ignore.is_ignored(path, is_dir) || crate::name::check_component(name).is_err()
    }

    /// Whether a walk would never reach `rel` (a folder if `is_dir`): it, or a folder above
    /// it, is ignored, or a name on the way is one dat refuses.
    fn skipped(&self, rel: &str, is_dir: bool) -> bool {
        let mut end = 0;
        for part in rel.split('/') {
            end += part.len();
            let is_dir = end < rel.len() || is_dir;
            if self.excluded(&rel[..end], part, is_dir) {
                return true;
            }
            end += 1;
        }
        false
    }

    /// Import the folder `rel` (`""`: the root) and everything under it.
    fn walk(&mut self, rel: String) -> Result<(), DriveError> {
        // Stack of (relative path, is_dir); popping yields a sorted depth-first walk.
        let mut stack = vec![(rel, true)];
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
            if self.excluded(&child(rel, &name), &name, is_dir) {
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
