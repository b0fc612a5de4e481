//! Writing a version (or a subtree) of an archive to a folder, restoring modes and mtimes.
//! Archive names are hostile input: every component is checked (no `..`, `.`, empty, `\`,
//! NUL) and no existing symlink is followed, so nothing is ever written outside the
//! destination.

use std::fs::{self, File, FileTimes};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use crate::archive::Archive;
use crate::error::DriveError;
use crate::name;
use crate::stat::Stat;

/// What an export wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Write `subtree` (`/` for everything) of `version` into `dest`.
pub fn export(
    archive: &Archive,
    version: u64,
    subtree: &str,
    dest: &Path,
) -> Result<ExportReport, DriveError> {
    let root = name::normalize(subtree).map_err(|source| DriveError::Name {
        name: subtree.to_string(),
        source,
    })?;
    let tree = archive.checkout(version)?;
    let st = tree.stat(&root)?.ok_or_else(|| DriveError::NotFound {
        path: root.clone(),
        version,
    })?;
    fs::create_dir_all(dest).map_err(DriveError::io(dest))?;
    let mut report = ExportReport::default();
    if !st.is_directory() {
        let base = name::split(&root)
            .last()
            .copied()
            .unwrap_or_default()
            .to_string();
        let local = safe_child(dest, &root, &base)?;
        write_file(archive, version, &root, &st, &local, &mut report)?;
        return Ok(report);
    }
    // Depth-first, one directory listing at a time.
    let mut stack = vec![(root, dest.to_path_buf())];
    while let Some((dir, local_dir)) = stack.pop() {
        // Raw listing (readdir would hide `.` and `..`, which must be refused, not skipped).
        let depth = name::split(&dir).len();
        let names: Vec<String> = tree
            .list(&dir)?
            .iter()
            .filter_map(|e| e.component(depth).map(String::from))
            .collect();
        for child in names {
            let path = if dir == "/" {
                format!("/{child}")
            } else {
                format!("{dir}/{child}")
            };
            let local = safe_child(&local_dir, &path, &child)?;
            let Some(st) = tree.stat(&path)? else {
                continue;
            };
            if st.is_directory() {
                make_dir(&local)?;
                stack.push((path, local));
            } else if st.is_file() {
                write_file(archive, version, &path, &st, &local, &mut report)?;
            }
        }
    }
    Ok(report)
}

/// `dir/component`, refusing unsafe components and existing symlinks.
fn safe_child(dir: &Path, stored: &str, component: &str) -> Result<PathBuf, DriveError> {
    name::check_component(component).map_err(|source| DriveError::UnsafeName {
        name: stored.to_string(),
        source,
    })?;
    let path = dir.join(component);
    if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(DriveError::Io {
            path,
            source: io::Error::new(
                io::ErrorKind::AlreadyExists,
                "refusing to follow an existing symlink",
            ),
        });
    }
    Ok(path)
}

fn make_dir(path: &Path) -> Result<(), DriveError> {
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(DriveError::io(path)(e)),
    }
}

fn write_file(
    archive: &Archive,
    version: u64,
    stored: &str,
    st: &Stat,
    local: &Path,
    report: &mut ExportReport,
) -> Result<(), DriveError> {
    let mut reader = archive.reader_for(st, stored, version, 0, u64::MAX)?;
    let mut file = File::create(local).map_err(DriveError::io(local))?;
    let n = io::copy(&mut reader, &mut file).map_err(DriveError::io(local))?;
    let mode = st.mode & 0o777;
    if mode != 0 {
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(DriveError::io(local))?;
    }
    if let Some(ms) = st.mtime {
        let t = UNIX_EPOCH + Duration::from_millis(ms);
        file.set_times(FileTimes::new().set_modified(t).set_accessed(t))
            .map_err(DriveError::io(local))?;
    }
    report.files += 1;
    report.bytes += n;
    Ok(())
}
