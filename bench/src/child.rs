//! The Rust side of the import workloads, run as a child process of the bench (`bench
//! child-import DIR SECRET_DIR`) so that its CPU time and peak RSS are its own. It does what
//! `dat create DIR` does: the dat-node layout (`DIR/.dat`, file bytes left in place), a new
//! archive or the existing one, then an import of DIR. Prints one JSON line.

use std::path::Path;
use std::time::Instant;

use dat_core::{DatDir, KeyPair};
use dat_drive::{Archive, ImportOptions, import};

/// Run the child; the result line goes to stdout.
pub fn import_child(dir: &Path, secret_dir: &Path) -> Result<(), String> {
    let start = Instant::now();
    let dat = DatDir::new(dir.join(".dat")).with_secret_dir(secret_dir);
    let existing = dat.metadata_key().map_err(|e| e.to_string())?.is_some();
    let mut archive = if existing {
        Archive::open_dat(dir, &dat)
    } else {
        std::fs::create_dir_all(dat.dir()).map_err(|e| e.to_string())?;
        Archive::create_dat(dir, &dat, KeyPair::generate().map_err(|e| e.to_string())?)
    }
    .map_err(|e| e.to_string())?;
    let report = import(&mut archive, dir, &ImportOptions::default()).map_err(|e| e.to_string())?;
    let metadata_len = archive.metadata().len();
    let content_len = archive.content().len();
    let content_bytes = archive.content().byte_len();
    drop(archive);
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{{\"event\":\"bench\",\"ms\":{ms:.3},\"existing\":{existing},\"added\":{},\"updated\":{},\
         \"unchanged\":{},\"deleted\":{},\"bytes\":{},\"metadataLength\":{metadata_len},\
         \"contentLength\":{content_len},\"contentBytes\":{content_bytes}}}",
        report.added, report.updated, report.unchanged, report.deleted, report.bytes
    );
    Ok(())
}
