//! `dat status [DIR]`: the archive's key and version, the files and bytes of its latest
//! version, and how much of each feed is stored here (a latest-mode folder keeps only the
//! newest content; a sparse clone only what was downloaded).

use std::path::PathBuf;

use dat_core::Feed;
use dat_drive::Archive;

use crate::commands::ls::{child_path, children};
use crate::local;
use crate::output::{Output, human_bytes, json_object, json_string};

/// Flags of `dat status`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The archive's folder (default: the current folder).
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// What one feed holds locally.
#[derive(Debug, Default, Clone, Copy)]
struct FeedStatus {
    blocks: u64,
    bytes: u64,
    stored_blocks: u64,
    stored_bytes: u64,
}

/// Report on the archive in `args.dir`.
pub fn run(args: Args, out: &Output) -> anyhow::Result<()> {
    let local = local::open(&args.dir)?;
    let archive = &local.archive;
    let (files, bytes) = totals(archive)?;
    let metadata = feed_status(&archive.metadata())?;
    let content = feed_status(archive.content())?;
    let key = archive.key();
    if out.json() {
        let feed = |f: FeedStatus| {
            json_object(&[
                ("blocks", f.blocks.to_string()),
                ("bytes", f.bytes.to_string()),
                ("downloadedBlocks", f.stored_blocks.to_string()),
                ("downloadedBytes", f.stored_bytes.to_string()),
            ])
        };
        out.record(&[
            ("key", json_string(&key.to_hex())),
            ("link", json_string(&format!("dat://{key}"))),
            (
                "discoveryKey",
                json_string(&archive.discovery_key().to_hex()),
            ),
            ("version", archive.version().to_string()),
            ("writable", archive.writable().to_string()),
            ("mode", json_string(local.layout.name())),
            ("files", files.to_string()),
            ("bytes", bytes.to_string()),
            ("metadata", feed(metadata)),
            ("content", feed(content)),
        ]);
    } else {
        out.line(format!("dat://{key}"));
        out.line(format!(
            "version {} ({}, {})",
            archive.version(),
            local.layout.name(),
            if archive.writable() {
                "writable"
            } else {
                "read-only"
            }
        ));
        out.line(format!("{files} files, {}", human_bytes(bytes)));
        for (name, f) in [("metadata", metadata), ("content", content)] {
            out.line(format!(
                "{name:<8} {}/{} blocks, {}/{} downloaded",
                f.stored_blocks,
                f.blocks,
                human_bytes(f.stored_bytes),
                human_bytes(f.bytes)
            ));
        }
    }
    Ok(())
}

/// Files and their bytes at the latest version: one listing per folder.
fn totals(archive: &Archive) -> anyhow::Result<(u64, u64)> {
    let tree = archive.latest()?;
    let (mut files, mut bytes) = (0u64, 0u64);
    let mut stack = vec!["/".to_string()];
    while let Some(dir) = stack.pop() {
        for c in children(&tree, &dir)? {
            if c.stat.is_directory() {
                stack.push(child_path(&dir, &c.name));
            } else if c.stat.is_file() {
                files += 1;
                bytes += c.stat.size();
            }
        }
    }
    Ok((files, bytes))
}

/// Count the stored blocks `a..b`: two byte offsets, or (on a sparse clone missing the
/// tree nodes for them) the blocks' own sizes.
fn add_run(feed: &Feed, (a, b): (u64, u64), st: &mut FeedStatus) {
    st.stored_blocks += b - a;
    st.stored_bytes += match (feed.byte_offset(a), feed.byte_offset(b)) {
        (Ok(x), Ok(y)) => y.saturating_sub(x),
        _ => (a..b).map(|i| feed.block_size(i).unwrap_or(0)).sum(),
    };
}

/// Blocks and bytes of a feed, and how many are stored here (runs of stored blocks, each
/// measured by two byte offsets).
fn feed_status(feed: &Feed) -> anyhow::Result<FeedStatus> {
    let mut st = FeedStatus {
        blocks: feed.len(),
        bytes: feed.byte_len(),
        ..Default::default()
    };
    let mut run: Option<(u64, u64)> = None;
    for i in feed.bitfield().data_blocks_from(0) {
        if i >= feed.len() {
            break;
        }
        run = match run {
            Some((a, b)) if b == i => Some((a, i + 1)),
            Some(r) => {
                add_run(feed, r, &mut st);
                Some((i, i + 1))
            }
            None => Some((i, i + 1)),
        };
    }
    if let Some(r) = run {
        add_run(feed, r, &mut st);
    }
    Ok(st)
}
