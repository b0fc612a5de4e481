//! `dat verify [DIR]`: check both feeds completely, every stored block against its hash, every
//! tree parent against its children, every stored signature against the roots it signs,
//! and every metadata entry decodes. Exits non-zero with a message naming what is wrong: for
//! metadata, the version and the path of the entry.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use dat_core::crypto::{hash_leaf, hash_roots};
use dat_core::sleep::HEADER_LEN;
use dat_core::{Feed, FeedError, FeedStorage, Problem, ProblemKind, Signature, Slot, flat_tree};
use dat_drive::{Archive, DriveError, FeedKind, Node};

use crate::local;
use crate::output::{Output, human_bytes, json_string};

/// Flags of `dat verify`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The archive's folder (default: the current folder).
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// One thing found wrong, already explained.
struct Finding {
    feed: FeedKind,
    file: &'static str,
    index: u64,
    version: Option<u64>,
    path: Option<String>,
    what: String,
}

/// How one feed fared.
#[derive(Default)]
struct Checked {
    blocks: u64,
    bytes: u64,
    signatures: u64,
}

/// Verify the archive in `args.dir`.
pub fn run(args: Args, out: &Output) -> anyhow::Result<()> {
    if verify_empty_clone(&args.dir, out)? {
        return Ok(());
    }
    let local = local::open(&args.dir)?;
    let archive = &local.archive;
    let sleep_dir = local.layout.sleep_dir(&local.dir);
    let mut findings = Vec::new();
    let mut summary = Vec::new();
    for feed_kind in [FeedKind::Metadata, FeedKind::Content] {
        let (checked, problems) = {
            let guard;
            let feed: &Feed = match feed_kind {
                FeedKind::Metadata => {
                    guard = archive.metadata();
                    &guard
                }
                FeedKind::Content => archive.content(),
            };
            let working = feed_kind == FeedKind::Content && archive.latest_mode();
            check_feed(
                feed,
                &sleep_dir.join(format!("{feed_kind}.signatures")),
                working,
            )
            .with_context(|| format!("cannot verify the {feed_kind} feed"))?
        };
        findings.extend(explain(archive, feed_kind, &problems)?);
        summary.push((feed_kind, checked));
    }
    findings.extend(check_entries(archive, &findings)?);

    for (feed, c) in &summary {
        let bad = findings.iter().filter(|f| f.feed == *feed).count();
        if out.json() {
            out.record(&[
                ("event", json_string("feed")),
                ("feed", json_string(&feed.to_string())),
                ("blocks", c.blocks.to_string()),
                ("bytes", c.bytes.to_string()),
                ("signatures", c.signatures.to_string()),
                ("problems", bad.to_string()),
            ]);
        } else {
            out.line(format!(
                "{feed:<8} {} blocks, {}, {} signatures: {}",
                c.blocks,
                human_bytes(c.bytes),
                c.signatures,
                if bad == 0 {
                    "ok".to_string()
                } else {
                    format!("{bad} problems")
                }
            ));
        }
    }
    for f in &findings {
        let msg = describe(f);
        if out.json() {
            let mut fields = vec![
                ("event", json_string("problem")),
                ("feed", json_string(&f.feed.to_string())),
                ("file", json_string(f.file)),
                ("index", f.index.to_string()),
                ("message", json_string(&msg)),
            ];
            if let Some(v) = f.version {
                fields.push(("version", v.to_string()));
            }
            if let Some(p) = &f.path {
                fields.push(("path", json_string(p)));
            }
            out.record(&fields);
        } else {
            out.line(&msg);
        }
    }
    if let Some(first) = findings.first() {
        bail!(
            "verification failed: {} problem{}; first: {}",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            describe(first)
        );
    }
    if out.json() {
        out.record(&[
            ("event", json_string("verified")),
            ("ok", "true".into()),
            ("version", archive.version().to_string()),
        ]);
    } else {
        out.line(format!("version {}: verified", archive.version()));
    }
    Ok(())
}

/// A clone that has not yet received metadata block 0 (the header naming the content feed)
/// is an archive with nothing in it: check what its metadata feed holds (tree nodes and
/// signatures may have arrived) and report it, instead of failing to open it. False when
/// `dir` is anything else.
fn verify_empty_clone(dir: &Path, out: &Output) -> anyhow::Result<bool> {
    let Some(layout) = local::Layout::detect(dir) else {
        return Ok(false);
    };
    let sleep = layout.sleep_dir(dir);
    let storage = FeedStorage::prefixed(&sleep, "metadata").without_secret_key();
    let feed = match Feed::open(storage) {
        Ok(f) if !f.has(0) => f,
        _ => return Ok(false),
    };
    let (checked, problems) = check_feed(&feed, &sleep.join("metadata.signatures"), false)?;
    if let Some(p) = problems.first() {
        bail!(
            "verification failed: {} problems in the metadata feed of a clone with no entries; first: {:?} at {} {}",
            problems.len(),
            p.kind,
            p.file,
            p.index
        );
    }
    out.record(&[
        ("event", json_string("verified")),
        ("ok", "true".into()),
        ("version", "0".into()),
        ("signatures", checked.signatures.to_string()),
    ]);
    out.line(format!(
        "no entries yet (a clone that has not received metadata block 0; {} signatures): verified",
        checked.signatures
    ));
    Ok(true)
}

/// `verify_all` plus every stored signature. With `working` (the content feed of a
/// latest-mode folder, whose data slot is the working files and has no length of its own)
/// the blocks are hashed as read through the feed instead.
fn check_feed(
    feed: &Feed,
    signatures: &Path,
    working: bool,
) -> anyhow::Result<(Checked, Vec<Problem>)> {
    let mut report = feed.verify_all()?;
    if working {
        report.problems.retain(|p| p.file != Slot::Data);
        let (checked, problems) = check_blocks_by_reading(feed)?;
        report.blocks_checked = checked;
        report.problems.extend(problems);
    }
    let mut problems = report.problems;
    let (count, bad) = check_signatures(feed, signatures)?;
    for index in bad {
        let p = Problem {
            file: Slot::Signatures,
            index,
            kind: ProblemKind::BadSignature,
        };
        if !problems.contains(&p) {
            problems.push(p);
        }
    }
    let checked = Checked {
        blocks: report.blocks_checked,
        bytes: feed.byte_len(),
        signatures: count,
    };
    Ok((checked, problems))
}

/// Hash every stored block as the feed reads it and compare with its leaf node.
fn check_blocks_by_reading(feed: &Feed) -> anyhow::Result<(u64, Vec<Problem>)> {
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut buf = Vec::new();
    let stored: Vec<u64> = feed
        .bitfield()
        .data_blocks_from(0)
        .take_while(|&i| i < feed.len())
        .collect();
    for i in stored {
        let Some(leaf) = feed.node(flat_tree::leaf(i))? else {
            problems.push(Problem {
                file: Slot::Tree,
                index: flat_tree::leaf(i),
                kind: ProblemKind::MissingNode,
            });
            continue;
        };
        checked += 1;
        let kind = match feed.get_into(i, &mut buf) {
            Ok(()) if hash_leaf(&buf) == leaf.hash => continue,
            Ok(()) => ProblemKind::BlockHashMismatch,
            Err(FeedError::Io { .. } | FeedError::Corrupt { .. }) => ProblemKind::MissingBlockBytes,
            Err(e) => return Err(e.into()),
        };
        problems.push(Problem {
            file: Slot::Data,
            index: i,
            kind,
        });
    }
    Ok((checked, problems))
}

/// Check every non-blank entry of the `signatures` file below the feed's length against the
/// roots of the length it signs (skipping lengths whose roots are not stored, on a sparse
/// clone). Returns how many were checked and the entries that fail.
fn check_signatures(feed: &Feed, path: &Path) -> anyhow::Result<(u64, Vec<u64>)> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok((0, Vec::new())),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    const CHUNK: u64 = 4096;
    let file_entries = file.metadata()?.len().saturating_sub(HEADER_LEN as u64) / 64;
    let entries = file_entries.min(feed.len());
    let (mut checked, mut bad) = (0, Vec::new());
    let mut buf = vec![0u8; (CHUNK * 64) as usize];
    let mut start = 0;
    while start < entries {
        let n = (entries - start).min(CHUNK);
        let chunk = &mut buf[..(n * 64) as usize];
        file.read_exact_at(chunk, HEADER_LEN as u64 + start * 64)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for (k, raw) in chunk.chunks_exact(64).enumerate() {
            if raw.iter().all(|&b| b == 0) {
                continue;
            }
            let index = start + k as u64;
            let roots: Option<Vec<_>> = flat_tree::full_roots(2 * (index + 1))
                .into_iter()
                .map(|r| feed.node(r).ok().flatten())
                .collect();
            let Some(roots) = roots else { continue };
            checked += 1;
            let sig = Signature::from_slice(raw)?;
            if !feed.key().verify(&hash_roots(&roots), &sig) {
                bad.push(index);
            }
        }
        start += n;
    }
    Ok((checked, bad))
}

/// Put names on a feed's problems: metadata blocks are versions (and the path the entry
/// claims, if its bytes still say one); content blocks belong to files.
fn explain(
    archive: &Archive,
    feed: FeedKind,
    problems: &[Problem],
) -> anyhow::Result<Vec<Finding>> {
    let mut owners = BTreeMap::new();
    if feed == FeedKind::Content {
        let blocks: Vec<u64> = problems.iter().filter_map(block_of).collect();
        owners = content_owners(archive, &blocks);
    }
    let mut out = Vec::new();
    for p in problems {
        let block = block_of(p);
        let (version, path) = match (feed, block) {
            (FeedKind::Metadata, Some(b)) => (Some(b), claimed_name(archive, b)),
            (FeedKind::Content, Some(b)) => match owners.get(&b) {
                Some((v, path)) => (Some(*v), Some(path.clone())),
                None => (None, None),
            },
            _ => (None, None),
        };
        out.push(Finding {
            feed,
            file: p.file.name(),
            index: p.index,
            version,
            path,
            what: kind_text(p).to_string(),
        });
    }
    Ok(out)
}

/// The block a problem is about (data entries, leaf nodes, signatures).
fn block_of(p: &Problem) -> Option<u64> {
    match p.file {
        Slot::Data | Slot::Signatures => Some(p.index),
        Slot::Tree if p.index.is_multiple_of(2) => Some(p.index / 2),
        _ => None,
    }
}

fn kind_text(p: &Problem) -> &'static str {
    match p.kind {
        ProblemKind::BlockHashMismatch => "its bytes do not match their signed hash",
        ProblemKind::MissingBlockBytes => {
            "its bytes are missing (the data file is too short or gone)"
        }
        ProblemKind::MissingNode => "its tree node is missing",
        ProblemKind::ParentHashMismatch => "a tree node does not match its children",
        ProblemKind::BadSignature => "the signature does not verify",
        ProblemKind::MissingSignature => "the latest length has no signature",
    }
}

/// The name a (possibly corrupt) metadata block still carries, if it decodes that far.
fn claimed_name(archive: &Archive, seq: u64) -> Option<String> {
    if seq == 0 {
        return Some("(archive header)".into());
    }
    let bytes = archive.metadata().get(seq).ok()?;
    Node::decode(&bytes).ok().map(|n| n.name)
}

/// For each content block, the newest entry whose file holds it: one pass over the history.
fn content_owners(archive: &Archive, blocks: &[u64]) -> BTreeMap<u64, (u64, String)> {
    let mut owners = BTreeMap::new();
    if blocks.is_empty() {
        return owners;
    }
    for entry in archive.history(1..u64::MAX).flatten() {
        let Some(st) = entry.stat.filter(|s| s.is_file()) else {
            continue;
        };
        let range = st.offset()..st.offset().saturating_add(st.blocks());
        for &b in blocks.iter().filter(|b| range.contains(b)) {
            owners.insert(b, (entry.seq, entry.name.clone()));
        }
    }
    owners
}

/// Every metadata entry decodes (skipping blocks already reported and ones not stored).
fn check_entries(archive: &Archive, known: &[Finding]) -> anyhow::Result<Vec<Finding>> {
    let mut out = Vec::new();
    for seq in 1..=archive.version() {
        if known
            .iter()
            .any(|f| f.feed == FeedKind::Metadata && f.version == Some(seq))
        {
            continue;
        }
        match archive.entry_at(seq) {
            Ok(_) => {}
            Err(DriveError::Entry { source, .. }) => out.push(Finding {
                feed: FeedKind::Metadata,
                file: Slot::Data.name(),
                index: seq,
                version: Some(seq),
                path: claimed_name(archive, seq),
                what: format!("it does not decode: {source}"),
            }),
            Err(DriveError::Feed {
                source: FeedError::NotFound { .. },
                ..
            }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

fn describe(f: &Finding) -> String {
    match (f.feed, f.version, &f.path) {
        (FeedKind::Metadata, Some(v), path) => format!(
            "metadata entry {v} (version {v}, {}) is corrupt: {}",
            path.as_deref().unwrap_or("path unreadable"),
            f.what
        ),
        (FeedKind::Content, Some(v), Some(path)) => format!(
            "content block {} of {path} (written at version {v}) is corrupt: {}{}",
            block_hint(f),
            f.what,
            if f.what.contains("hash") || f.what.contains("missing") {
                " (in a latest-mode folder: was the file changed without `dat create`?)"
            } else {
                ""
            }
        ),
        _ => format!("{} feed, {} entry {}: {}", f.feed, f.file, f.index, f.what),
    }
}

fn block_hint(f: &Finding) -> u64 {
    if f.file == "tree" {
        f.index / 2
    } else {
        f.index
    }
}
