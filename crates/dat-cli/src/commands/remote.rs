//! `dat ls LINK` and `dat cat LINK/path`: reading an archive from peers without cloning it.
//!
//! A sparse drive in a scratch folder (SLEEP files are sparse on disk, so a range deep in a
//! big file costs only its blocks) dials the `--peer`s; each lookup runs the drive's own
//! algorithm and fetches only the metadata entries it stops at, and a byte range fetches the
//! content blocks it spans, streamed in order as they arrive. What was fetched is reported at
//! the end: on stderr, or as a `fetched` record with `--json`.

use std::cell::Cell;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use dat_core::{DatLink, Feed, FeedError};
use dat_drive::{Archive, DriveError, Stat};
use dat_net::replication::{Drive, Mode, Swarm};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use super::net_common::{
    Discovering, PeerArgs, drive_options, runtime, start_discovery, start_swarm, until_done,
};
use crate::local::Layout;
use crate::output::{Output, describe, human_bytes, json_string};

/// The flags `dat ls` and `dat cat` take for a remote LINK.
#[derive(clap::Args, Debug, Clone)]
pub struct RemoteArgs {
    #[command(flatten)]
    peers: PeerArgs,
    /// With a LINK: give up after this many seconds without any connected peer (0: never).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    timeout: u64,
}

/// Whether `arg` is written as a Dat link: `dat://…`, or 64 hex characters optionally
/// followed by `+VERSION` or `/path`.
pub fn is_link(arg: &str) -> bool {
    let t = arg.trim();
    if t.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("dat://")) {
        return true;
    }
    t.get(..64)
        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
        && matches!(t.as_bytes().get(64), None | Some(b'+' | b'/'))
}

impl RemoteArgs {
    /// Whether `first` (the first positional argument) names a remote archive: `dat://…`,
    /// or a bare key when `--peer` is given or no archive is at hand that it could mean (a
    /// clone's default folder is named by its key; a single argument may be a path in the
    /// archive of the current folder).
    pub fn wants_remote(&self, first: &str) -> bool {
        let t = first.trim();
        if t.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("dat://")) {
            return true;
        }
        is_link(t)
            && (!self.peers.peers.is_empty()
                || (Layout::detect(Path::new(first)).is_none()
                    && Layout::detect(Path::new(".")).is_none()))
    }

    /// Refuse `--peer` where it would be ignored.
    pub fn check_local(&self) -> anyhow::Result<()> {
        if !self.peers.peers.is_empty() {
            bail!("--peer needs a link (dat://KEY[/path]) as the first argument");
        }
        Ok(())
    }
}

/// The path a command reads: from the link, or given separately (not both).
pub fn path_of(link: &DatLink, separate: Option<&str>) -> anyhow::Result<Option<String>> {
    match (&link.path, separate) {
        (Some(_), Some(p)) => bail!("give the path in the link or as {p:?}, not both"),
        (Some(p), None) => Ok(Some(p.clone())),
        (None, p) => Ok(p.map(str::to_string)),
    }
}

/// A folder removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> anyhow::Result<Self> {
        let mut r = [0u8; 8];
        getrandom::fill(&mut r).context("no randomness for a scratch folder name")?;
        let tag: String = r.iter().map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("dat-remote-{}-{tag}", std::process::id()));
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A remote archive being read. Fields drop in order: connections first, the scratch
/// folder last.
pub struct Remote {
    discovering: Option<Discovering>,
    swarm: Option<Swarm>,
    ahead: Cell<Option<JoinHandle<()>>>,
    drive: Drive,
    rt: Runtime,
    _scratch: Scratch,
    idle: Option<Duration>,
    started: Instant,
    first_byte: Cell<Option<Duration>>,
    /// The link read.
    pub link: DatLink,
    /// The newest version the peers have.
    pub latest: u64,
}

impl Remote {
    /// Dial the peers of `link` (given, and found by discovery) and fetch its newest
    /// version's head entry.
    pub fn open(link: DatLink, args: &RemoteArgs, out: Output) -> anyhow::Result<Self> {
        let started = Instant::now();
        let rt = runtime()?;
        let direct = rt.block_on(args.peers.resolve())?;
        let cfg = args.peers.discovery.config()?;
        if direct.is_empty() && cfg.no_dns && cfg.no_mdns && cfg.no_dht {
            bail!(
                "no peer to read dat://{} from: give one with --peer HOST:PORT, or enable discovery",
                link.key
            );
        }
        let scratch = Scratch::new()?;
        let drive = Drive::clone_sleep(&scratch.0, link.key, Mode::Sparse, drive_options())
            .context("cannot open a scratch archive")?;
        let swarm = rt.block_on(start_swarm(&drive, None, &direct))?;
        let discovering = rt.block_on(start_discovery(&swarm, &drive, &args.peers, None, out))?;
        let mut remote = Self {
            discovering,
            swarm: Some(swarm),
            ahead: Cell::new(None),
            drive,
            rt,
            _scratch: scratch,
            idle: (args.timeout > 0).then(|| Duration::from_secs(args.timeout)),
            started,
            first_byte: Cell::new(None),
            link,
            latest: 0,
        };
        let drive = remote.drive.clone();
        remote.latest = remote.run(async move { drive.update().await })?;
        Ok(remote)
    }

    /// The version to read: `--version`, else the link's `+N`, else the newest.
    pub fn version(&self, flag: Option<u64>) -> anyhow::Result<u64> {
        let v = flag.or(self.link.version).unwrap_or(self.latest);
        if v > self.latest {
            bail!("version {v} does not exist (the newest is {})", self.latest);
        }
        Ok(v)
    }

    /// Run `work` on the runtime under the watchdog (no peer for `--timeout` s, Ctrl-C).
    fn run<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, dat_net::replication::Error>>,
    ) -> anyhow::Result<T> {
        self.rt.block_on(until_done(&self.drive, self.idle, async {
            Ok(work.await?)
        }))
    }

    /// Run a read-only algorithm of the archive, fetching the metadata entries it needs.
    pub fn lookup<R>(
        &self,
        what: &'static str,
        f: impl FnMut(&Archive) -> Result<R, DriveError>,
    ) -> anyhow::Result<R> {
        self.run(self.drive.lookup(what, f))
    }

    /// A reader of bytes `start..start + len` of the file `st` (clamped to its size); the
    /// blocks are asked for at once and read in order.
    pub fn reader(&self, st: &Stat, start: u64, len: u64) -> anyhow::Result<RemoteReader<'_>> {
        let start = start.min(st.size());
        let len = len.min(st.size() - start);
        let blocks = self.run(self.drive.blocks_of(st, start, len))?;
        // Where the first byte sits in its block (the seek above stored the nodes for it).
        let skip = if start == 0 || blocks.is_empty() {
            0
        } else {
            let at = st.byte_offset() + start;
            self.lookup("seeking", move |a| Ok(a.content().seek(at)))?
                .with_context(|| format!("cannot seek to byte {at} of the content feed"))?
                .1
        };
        if !blocks.is_empty() {
            let drive = self.drive.clone();
            let all = blocks.clone();
            let task = self.rt.spawn(async move {
                let _ = drive.download(all).await;
            });
            if let Some(old) = self.ahead.replace(Some(task)) {
                old.abort();
            }
        }
        Ok(RemoteReader {
            remote: self,
            blocks,
            skip,
            left: len,
            chunk: 1,
            buf: Vec::new(),
            pos: 0,
        })
    }

    /// What was fetched, on stderr (or as a `fetched` record with `--json`).
    pub fn report(&self, out: &Output, version: u64) {
        let p = self.drive.progress();
        let secs = self.started.elapsed().as_secs_f64();
        let first = self.first_byte.get();
        if out.json() {
            out.record(&[
                ("event", json_string("fetched")),
                ("link", json_string(&format!("dat://{}", self.link.key))),
                ("version", version.to_string()),
                ("latest", self.latest.to_string()),
                ("metadataBlocks", p.metadata.downloaded_blocks.to_string()),
                ("metadataBytes", p.metadata.downloaded_bytes.to_string()),
                ("contentBlocks", p.content.downloaded_blocks.to_string()),
                ("contentBytes", p.content.downloaded_bytes.to_string()),
                (
                    "firstByteMs",
                    first.map_or("null".into(), |d| format!("{:.1}", ms(d))),
                ),
                ("seconds", format!("{secs:.3}")),
            ]);
        } else {
            let first = first.map_or(String::new(), |d| {
                format!(", first byte after {:.0} ms", ms(d))
            });
            out.note(format!(
                "fetched {} metadata blocks and {} content blocks ({}) of dat://{} version {version} in {secs:.2} s{first}",
                p.metadata.downloaded_blocks,
                p.content.downloaded_blocks,
                human_bytes(p.metadata.downloaded_bytes + p.content.downloaded_bytes),
                self.link.key,
            ));
        }
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        if let Some(t) = self.ahead.take() {
            t.abort();
        }
        if let Some(d) = self.discovering.take() {
            let _ = self
                .rt
                .block_on(tokio::time::timeout(Duration::from_secs(1), d.stop()));
        }
        self.swarm.take();
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Bytes of a remote file, a few blocks at a time (1, 2, 4 ... then 16 per wait, so the
/// first bytes come after one block).
pub struct RemoteReader<'a> {
    remote: &'a Remote,
    blocks: Range<u64>,
    skip: u64,
    left: u64,
    chunk: u64,
    buf: Vec<u8>,
    pos: usize,
}

const MAX_CHUNK: u64 = 16;

impl RemoteReader<'_> {
    fn fill(&mut self) -> anyhow::Result<()> {
        self.buf.clear();
        self.pos = 0;
        if self.left == 0 || self.blocks.is_empty() {
            return Ok(());
        }
        let n = self.chunk.min(self.blocks.end - self.blocks.start);
        let range = self.blocks.start..self.blocks.start + n;
        let r = self.remote;
        r.run(r.drive.download(range.clone()))?;
        let (skip, left) = (self.skip, self.left);
        let bytes = r.lookup("reading", move |a| {
            Ok(blocks_bytes(a.content(), range.clone(), skip, left))
        })??;
        self.blocks.start += n;
        self.chunk = (self.chunk * 2).min(MAX_CHUNK);
        self.skip = 0;
        self.left -= bytes.len() as u64;
        self.buf = bytes;
        if r.first_byte.get().is_none() && !self.buf.is_empty() {
            r.first_byte.set(Some(r.started.elapsed()));
        }
        Ok(())
    }
}

/// Blocks `range` of `feed` joined, without the first `skip` bytes, at most `left` bytes.
fn blocks_bytes(
    feed: &Feed,
    range: Range<u64>,
    skip: u64,
    left: u64,
) -> Result<Vec<u8>, FeedError> {
    let mut out = Vec::new();
    let mut block = Vec::new();
    let mut skip = usize::try_from(skip).unwrap_or(usize::MAX);
    for i in range {
        feed.get_into(i, &mut block)?;
        let from = skip.min(block.len());
        skip = 0;
        let room = usize::try_from(left).unwrap_or(usize::MAX) - out.len();
        let take = (block.len() - from).min(room);
        out.extend_from_slice(&block[from..from + take]);
        if out.len() as u64 >= left {
            break;
        }
    }
    Ok(out)
}

impl Read for RemoteReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.buf.len() {
            self.fill()
                .map_err(|e| std::io::Error::other(describe(&e)))?;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_folders() {
        let hex = "a".repeat(64);
        assert!(is_link(&format!("dat://{hex}")));
        assert!(is_link(&format!("DAT://{hex}/x")));
        assert!(is_link(&hex));
        assert!(is_link(&format!("{hex}+3/a/b")));
        assert!(!is_link(&format!("{hex}x")));
        assert!(!is_link(&hex[..63]));
        assert!(!is_link("./some/folder"));
        assert!(!is_link(&format!("/tmp/{hex}")));
    }

    #[test]
    fn bytes_of_blocks() {
        let keys = dat_core::KeyPair::generate().unwrap();
        let mut feed = Feed::create(dat_core::FeedStorage::memory(), keys).unwrap();
        feed.append_batch([b"abcd".as_slice(), b"efgh", b"ij"])
            .unwrap();
        assert_eq!(blocks_bytes(&feed, 0..3, 2, 100).unwrap(), b"cdefghij");
        assert_eq!(blocks_bytes(&feed, 0..3, 3, 4).unwrap(), b"defg");
        assert_eq!(blocks_bytes(&feed, 1..2, 0, 4).unwrap(), b"efgh");
        assert_eq!(blocks_bytes(&feed, 2..3, 5, 4).unwrap(), b"");
    }
}
