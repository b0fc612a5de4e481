//! `dat cat [DIR] PATH [--version N] [--range START-END]`: a file's bytes at any version, or
//! any byte range of them, streamed to stdout one content block at a time. With a link
//! (`dat cat dat://KEY/path --range S-E --peer HOST:PORT`) only the metadata entries of the
//! lookup and the content blocks of the range are fetched from the peers.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, bail};
use dat_core::{DatLink, FeedError};
use dat_drive::{DriveError, name};

use super::remote::{self, Remote, RemoteArgs};
use crate::local;
use crate::output::{Output, json_string};

/// Flags of `dat cat`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// `[DIR] PATH`: the archive's folder (default: the current folder) and the file's path
    /// in the archive. Or `LINK[/path] [PATH]`: a file of a remote archive
    /// (`dat://KEY/path`), read from the `--peer`s.
    #[arg(value_name = "DIR PATH", num_args = 1..=2, required = true)]
    args: Vec<String>,
    /// Read this version (default: the latest).
    #[arg(long, value_name = "N")]
    version: Option<u64>,
    /// Only bytes START to END inclusive (as HTTP ranges: `0-99` is 100 bytes; `START-`
    /// reads to the end; `-N` is the last N bytes).
    #[arg(long, value_name = "START-END", allow_hyphen_values = true)]
    range: Option<String>,
    #[command(flatten)]
    remote: RemoteArgs,
}

/// Which bytes of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Range {
    /// From `start` (inclusive) to `end` (inclusive, or to the end of the file).
    From { start: u64, end: Option<u64> },
    /// The last `n` bytes.
    Last(u64),
}

fn parse_range(s: &str) -> anyhow::Result<Range> {
    let (a, b) = s
        .split_once('-')
        .with_context(|| format!("bad range {s:?}: expected START-END"))?;
    let num = |t: &str| -> anyhow::Result<u64> {
        t.trim()
            .parse()
            .with_context(|| format!("bad range {s:?}: {t:?} is not a byte offset"))
    };
    match (a.trim().is_empty(), b.trim().is_empty()) {
        (true, true) => bail!("bad range {s:?}: expected START-END"),
        (true, false) => Ok(Range::Last(num(b)?)),
        (false, true) => Ok(Range::From {
            start: num(a)?,
            end: None,
        }),
        (false, false) => {
            let (start, end) = (num(a)?, num(b)?);
            if end < start {
                bail!("bad range {s:?}: END is before START");
            }
            Ok(Range::From {
                start,
                end: Some(end),
            })
        }
    }
}

/// `(start, len)` of `range` within a file of `size` bytes.
fn resolve(range: Option<Range>, size: u64) -> (u64, u64) {
    match range {
        None => (0, size),
        Some(Range::Last(n)) => (size - n.min(size), n.min(size)),
        Some(Range::From { start, end }) => {
            let start = start.min(size);
            let end = end.map_or(size, |e| e.saturating_add(1).min(size));
            (start, end.saturating_sub(start))
        }
    }
}

/// Stream the file to stdout.
pub fn run(args: Args, out: &Output) -> anyhow::Result<()> {
    if let Some(first) = args.args.first()
        && args.remote.wants_remote(first)
    {
        return run_remote(&args, out);
    }
    args.remote.check_local()?;
    let (dir, path) = match args.args.as_slice() {
        [path] => (".", path.as_str()),
        [dir, path, ..] => (dir.as_str(), path.as_str()),
        [] => bail!("which file? (dat cat [DIR] PATH)"),
    };
    let range = args.range.as_deref().map(parse_range).transpose()?;
    let local = local::open(Path::new(dir))?;
    let archive = &local.archive;
    let version = args.version.unwrap_or_else(|| archive.version());
    let path = name::normalize(path).with_context(|| format!("bad path {path:?}"))?;
    let st = archive
        .checkout(version)?
        .stat(&path)?
        .with_context(|| format!("{path} not found at version {version}"))?;
    if st.is_directory() {
        bail!("{path} is a directory (at version {version}); try dat ls");
    }
    let (start, len) = resolve(range, st.size());
    let mut reader = archive.reader_for(&st, &path, version, start, len)?;
    let file = File {
        path: &path,
        version,
        size: st.size(),
        start,
        len,
    };
    stream(out, &file, &mut reader)
}

/// `dat cat LINK/path`: the same bytes, from peers (only the blocks of the range).
fn run_remote(args: &Args, out: &Output) -> anyhow::Result<()> {
    let (first, rest) = (&args.args[0], args.args.get(1));
    let link: DatLink = first.parse().context("not a Dat link")?;
    let path = remote::path_of(&link, rest.map(String::as_str))?
        .context("which file? (dat cat dat://KEY/path)")?;
    let range = args.range.as_deref().map(parse_range).transpose()?;
    let path = name::normalize(&path).with_context(|| format!("bad path {path:?}"))?;
    let remote = Remote::open(link, &args.remote, *out)?;
    let version = remote.version(args.version)?;
    let st = remote
        .lookup("looking up a path", |a| a.checkout(version)?.stat(&path))?
        .with_context(|| format!("{path} not found at version {version}"))?;
    if st.is_directory() {
        bail!("{path} is a directory (at version {version}); try dat ls");
    }
    let (start, len) = resolve(range, st.size());
    let mut reader = remote.reader(&st, start, len)?;
    let file = File {
        path: &path,
        version,
        size: st.size(),
        start,
        len,
    };
    stream(out, &file, &mut reader)?;
    remote.report(out, version);
    Ok(())
}

/// The bytes being printed.
struct File<'a> {
    path: &'a str,
    version: u64,
    size: u64,
    start: u64,
    len: u64,
}

/// Copy `reader` (the file's bytes `start..start + len`) to stdout, raw or as one `--json`
/// record with the bytes in base64.
fn stream(out: &Output, f: &File<'_>, reader: &mut impl Read) -> anyhow::Result<()> {
    let File {
        path,
        version,
        size,
        start,
        len,
    } = *f;
    let mut lines = out.lines();
    let result = (|| -> anyhow::Result<()> {
        let written = if out.json() {
            let w = lines.raw();
            write!(
                w,
                "{{\"path\":{},\"version\":{version},\"size\":{size},\"start\":{start},\"length\":{len},\"base64\":\"",
                json_string(path),
            )?;
            let n = copy_base64(reader, w, path, version)?;
            writeln!(w, "\"}}")?;
            n
        } else {
            copy(reader, lines.raw(), path, version)?
        };
        if written != len {
            bail!("{path} at version {version}: read {written} of {len} bytes");
        }
        lines.finish()?;
        Ok(())
    })();
    crate::output::ok_if_broken_pipe(result)
}

fn read_err(path: &str, version: u64) -> impl FnOnce(std::io::Error) -> anyhow::Error + '_ {
    move |e| {
        let absent = matches!(
            e.get_ref().and_then(|i| i.downcast_ref::<DriveError>()),
            Some(DriveError::Feed {
                source: FeedError::NotFound { .. },
                ..
            })
        );
        let hint = if absent {
            " (its content is not stored here: an older version in a latest-mode folder, or not downloaded)"
        } else {
            ""
        };
        anyhow::Error::new(e).context(format!("cannot read {path} at version {version}{hint}"))
    }
}

/// Copy, telling read errors (the archive) from write errors (stdout).
fn copy(r: &mut impl Read, w: &mut impl Write, path: &str, version: u64) -> anyhow::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(path, version)(e)),
        };
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Copy as standard base64 (padded), streaming in whole 3-byte groups.
fn copy_base64(
    r: &mut impl Read,
    w: &mut impl Write,
    path: &str,
    version: u64,
) -> anyhow::Result<u64> {
    let mut buf = vec![0u8; 48 * 1024];
    let mut have = 0usize;
    let mut total = 0u64;
    let mut text = Vec::with_capacity(buf.len() / 3 * 4 + 4);
    loop {
        let n = match r.read(&mut buf[have..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(path, version)(e)),
        };
        total += n as u64;
        have += n;
        let whole = if n == 0 { have } else { have - have % 3 };
        text.clear();
        encode_base64(&buf[..whole], &mut text);
        w.write_all(&text)?;
        buf.copy_within(whole..have, 0);
        have -= whole;
        if n == 0 {
            return Ok(total);
        }
    }
}

fn encode_base64(data: &[u8], out: &mut Vec<u8>) {
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((v >> shift) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |s| resolve(Some(parse_range(s).unwrap()), 100);
        assert_eq!(r("0-9"), (0, 10));
        assert_eq!(r("90-"), (90, 10));
        assert_eq!(r("-5"), (95, 5));
        assert_eq!(r("-500"), (0, 100));
        assert_eq!(r("50-1000"), (50, 50));
        assert_eq!(r("200-300"), (100, 0));
        assert_eq!(resolve(None, 7), (0, 7));
        assert!(parse_range("9-1").is_err());
        assert!(parse_range("x-1").is_err());
        assert!(parse_range("-").is_err());
        assert!(parse_range("12").is_err());
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = Vec::new();
            encode_base64(plain.as_bytes(), &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), coded);
            let mut w = Vec::new();
            copy_base64(&mut plain.as_bytes(), &mut w, "/x", 1).unwrap();
            assert_eq!(String::from_utf8(w).unwrap(), coded);
        }
    }
}
