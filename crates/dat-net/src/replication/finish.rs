//! Finishing the working folder of a clone in "latest" mode: blocks create only the files
//! they land in, so empty files and directories are made here, and a file that shrank since
//! an earlier version is cut to its size. Archive names are hostile input: only safe
//! components are joined, and an existing symlink is never followed.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use dat_drive::{Stat, name};

use super::drive::Error;

/// Make `dir/name` match `st` in size (files) or existence (directories).
pub(crate) fn size_file(dir: &Path, stored: &str, st: &Stat) -> Result<(), Error> {
    let Ok(parts) = name::safe_components(stored) else {
        return Ok(()); // never downloaded either (see `Latest::scan`)
    };
    let mut path = dir.to_path_buf();
    for part in parts {
        path.push(part);
        refuse_symlink(&path)?;
    }
    let io_err = |path: &PathBuf| {
        let path = path.clone();
        move |source| Error::Io { path, source }
    };
    if st.is_directory() {
        return fs::create_dir_all(&path).map_err(io_err(&path));
    }
    if !st.is_file() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_err(&path))?;
    }
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_err(&path))?;
    let len = file.metadata().map_err(io_err(&path))?.len();
    if len != st.size() {
        file.set_len(st.size()).map_err(io_err(&path))?;
    }
    Ok(())
}

fn refuse_symlink(path: &Path) -> Result<(), Error> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::Io {
            path: path.to_path_buf(),
            source: io::Error::new(
                io::ErrorKind::AlreadyExists,
                "refusing to follow an existing symlink",
            ),
        });
    }
    Ok(())
}
