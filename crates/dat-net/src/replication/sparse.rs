//! Reading an archive from peers without downloading it: each operation runs the drive's
//! algorithms on what is stored, and when one stops at a missing metadata entry or a content
//! tree node, that block is asked for and the operation runs again once something arrives.
//! A lookup costs about one round trip per directory level; a byte range costs two seeks and
//! the blocks it spans.

use std::io::Read;
use std::ops::Range;

use dat_core::FeedError;
use dat_drive::{Archive, DriveError, Stat, name};

use super::drive::{Change, Drive, Error, Mode, State};
use super::progress::FeedKind;

/// One try of an operation.
enum Step<R> {
    Done(R),
    Wait,
}

/// The metadata block a drive error says is missing.
fn missing_metadata(e: &DriveError) -> Option<u64> {
    match e {
        DriveError::Feed {
            feed: dat_drive::FeedKind::Metadata,
            source: FeedError::NotFound { index },
        } => Some(*index),
        _ => None,
    }
}

/// What a fetch stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchReport {
    /// Files whose blocks are all stored.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

impl Drive {
    /// Run `f` until it is done, waiting for arriving blocks between tries; fails after the
    /// fetch timeout passes without any progress.
    async fn retry<R>(
        &self,
        what: &'static str,
        mut f: impl FnMut(&mut State) -> Result<Step<R>, Error>,
    ) -> Result<R, Error> {
        let mut rx = self.inner.progress.subscribe();
        let silence = self.inner.options.fetch_timeout;
        loop {
            {
                let mut st = self.lock().await;
                rx.borrow_and_update();
                if let Some(reason) = &st.failed {
                    return Err(Error::Failed(reason.clone()));
                }
                if let Step::Done(r) = f(&mut st)? {
                    return Ok(r);
                }
            }
            match tokio::time::timeout(silence, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(Error::Failed("drive closed".into())),
                Err(_) => {
                    return Err(Error::Timeout {
                        what,
                        seconds: silence.as_secs(),
                    });
                }
            }
        }
    }

    /// Catch up with the newest version a peer advertised: its metadata head entry and the
    /// header are stored. Returns the version.
    pub async fn update(&self) -> Result<u64, Error> {
        self.retry("waiting for the archive's metadata", |st| {
            let remote = st.progress.metadata.remote_length;
            if remote == 0 {
                return Ok(Step::Wait);
            }
            let len = st.with_feed(FeedKind::Metadata, |f| f.len()).unwrap_or(0);
            if st.archive.is_some() && len >= remote {
                return Ok(Step::Done(len - 1));
            }
            if st.mode == Mode::Sparse {
                st.want(FeedKind::Metadata, 0..1);
                st.want(FeedKind::Metadata, remote - 1..remote);
            }
            Ok(Step::Wait)
        })
        .await
    }

    /// The Stat of `path` at the newest version (fetching the entries the lookup needs).
    pub async fn stat(&self, path: &str) -> Result<Option<Stat>, Error> {
        let version = self.update().await?;
        self.with_metadata("looking up a path", move |st| {
            let Some(a) = &st.archive else {
                return Ok(None);
            };
            a.checkout(version)?.stat(path).map(Some)
        })
        .await
    }

    /// Run a metadata algorithm, fetching each entry it stops at.
    async fn with_metadata<R>(
        &self,
        what: &'static str,
        mut f: impl FnMut(&mut State) -> Result<Option<R>, DriveError>,
    ) -> Result<R, Error> {
        self.retry(what, |st| match f(st) {
            Ok(Some(r)) => Ok(Step::Done(r)),
            Ok(None) => Ok(Step::Wait),
            Err(e) => match missing_metadata(&e) {
                Some(index) => {
                    st.want(FeedKind::Metadata, index..index + 1);
                    Ok(Step::Wait)
                }
                None => Err(e.into()),
            },
        })
        .await
    }

    /// The content block holding byte `bytes` of the content feed.
    async fn seek(&self, bytes: u64) -> Result<u64, Error> {
        self.retry("seeking in the content feed", |st| {
            let found = st.with_feed(FeedKind::Content, |f| f.seek(bytes));
            match found {
                Some(Ok((index, _))) => {
                    st.seeks.retain(|&b| b != bytes);
                    Ok(Step::Done(index))
                }
                // Not stored yet: the tree nodes (or the length) come with the answer.
                Some(Err(FeedError::NotFound { .. } | FeedError::OutOfBounds { .. })) | None => {
                    if !st.seeks.contains(&bytes) {
                        st.seeks.push(bytes);
                        st.send(Change::Seek);
                    }
                    Ok(Step::Wait)
                }
                Some(Err(e)) => Err(e.into()),
            }
        })
        .await
    }

    /// Run `f`, a read-only algorithm of the archive at any version (a lookup at an older
    /// version, a folder listing), fetching each metadata entry it stops at. `f` runs again
    /// after each arrival, so it must only read.
    pub async fn lookup<R>(
        &self,
        what: &'static str,
        mut f: impl FnMut(&Archive) -> Result<R, DriveError>,
    ) -> Result<R, Error> {
        self.update().await?;
        self.with_metadata(what, move |st| match &st.archive {
            Some(a) => f(a).map(Some),
            None => Ok(None),
        })
        .await
    }

    /// Download content blocks `range` and wait until they are all stored (a reader that
    /// streams waits for its blocks a few at a time, in order).
    pub async fn download(&self, range: Range<u64>) -> Result<(), Error> {
        self.retry("downloading content", |st| {
            st.want(FeedKind::Content, range.clone());
            let have = st
                .with_feed(FeedKind::Content, |f| f.downloaded(range.clone()))
                .unwrap_or(0);
            Ok(if have == range.end - range.start {
                Step::Done(())
            } else {
                Step::Wait
            })
        })
        .await
    }

    /// The content blocks holding bytes `start..start + len` of the file `st` (of any
    /// version; clamped to its size), seeking the first and last through peers.
    pub async fn blocks_of(&self, st: &Stat, start: u64, len: u64) -> Result<Range<u64>, Error> {
        let end_block = st.offset() + st.blocks();
        let start = start.min(st.size());
        let len = len.min(st.size() - start);
        if len == 0 {
            return Ok(st.offset()..st.offset());
        }
        let first = if start == 0 {
            st.offset()
        } else {
            self.seek(st.byte_offset() + start).await?
        };
        let last = if start + len >= st.size() {
            end_block
        } else {
            self.seek(st.byte_offset() + start + len - 1).await? + 1
        };
        Ok(first.max(st.offset())..last.min(end_block).max(first))
    }

    /// Read `len` bytes of file `path` from byte `start` (clamped to its size), fetching only
    /// the entries and blocks needed.
    pub async fn read(&self, path: &str, start: u64, len: u64) -> Result<Vec<u8>, Error> {
        let version = self.update().await?;
        let st = self.stat(path).await?.ok_or_else(|| DriveError::NotFound {
            path: path.to_string(),
            version,
        })?;
        if st.is_directory() {
            return Err(DriveError::IsDirectory {
                path: path.to_string(),
            }
            .into());
        }
        let start = start.min(st.size());
        let len = len.min(st.size() - start);
        if len == 0 {
            return Ok(Vec::new());
        }
        let blocks = self.blocks_of(&st, start, len).await?;
        self.download(blocks).await?;
        let st2 = st;
        let path = path.to_string();
        self.with_metadata("reading", move |s| {
            let Some(a) = &s.archive else { return Ok(None) };
            let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            a.reader_for(&st2, &path, version, start, len)?
                .read_to_end(&mut out)
                .map_err(|source| DriveError::Io {
                    path: path.clone().into(),
                    source,
                })?;
            Ok(Some(out))
        })
        .await
    }

    /// Every file and directory entry below `dir` at `version` (all of it for `/`).
    async fn walk(&self, dir: &str, version: u64) -> Result<Vec<(String, Stat)>, Error> {
        let root = name::normalize(dir).map_err(|source| DriveError::Name {
            name: dir.to_string(),
            source,
        })?;
        self.with_metadata("listing", move |st| {
            let Some(a) = &st.archive else {
                return Ok(None);
            };
            let tree = a.checkout(version)?;
            let mut out = Vec::new();
            let mut stack = vec![root.clone()];
            while let Some(d) = stack.pop() {
                let depth = name::split(&d).len();
                for e in tree.list(&d)? {
                    let Some(child) = e.component(depth) else {
                        continue;
                    };
                    let path = if d == "/" {
                        format!("/{child}")
                    } else {
                        format!("{d}/{child}")
                    };
                    let Some(s) = tree.stat(&path)? else { continue };
                    if s.is_directory() {
                        stack.push(path.clone());
                    }
                    out.push((path, s));
                }
            }
            Ok(Some(out))
        })
        .await
    }

    /// Download every metadata entry of the newest version (a listing of the whole archive
    /// then needs no network); returns the version.
    pub async fn fetch_metadata(&self) -> Result<u64, Error> {
        let version = self.update().await?;
        self.retry("downloading the metadata", |s| {
            s.want(FeedKind::Metadata, 0..version + 1);
            let have = s
                .with_feed(FeedKind::Metadata, |f| f.downloaded(0..version + 1))
                .unwrap_or(0);
            Ok(if have > version {
                Step::Done(version)
            } else {
                Step::Wait
            })
        })
        .await
    }

    /// Download `path` (a file, or a directory and everything below it) at the newest
    /// version: in a dat folder the files appear in the working folder. A directory needs its
    /// whole listing, so all metadata is fetched for it.
    pub async fn fetch(&self, path: &str) -> Result<FetchReport, Error> {
        let version = self.update().await?;
        let st = self.stat(path).await?.ok_or_else(|| DriveError::NotFound {
            path: path.to_string(),
            version,
        })?;
        let files = if st.is_directory() {
            self.retry("downloading the metadata", |s| {
                s.want(FeedKind::Metadata, 0..version + 1);
                let have = s
                    .with_feed(FeedKind::Metadata, |f| f.downloaded(0..version + 1))
                    .unwrap_or(0);
                Ok(if have > version {
                    Step::Done(())
                } else {
                    Step::Wait
                })
            })
            .await?;
            self.walk(path, version).await?
        } else {
            vec![(
                name::normalize(path).unwrap_or_else(|_| path.to_string()),
                st,
            )]
        };
        let mut report = FetchReport::default();
        for (p, s) in &files {
            if s.is_file() && s.blocks() > 0 {
                self.download(s.offset()..s.offset() + s.blocks()).await?;
            }
            let mut st = self.lock().await;
            st.finish_file(p, s)?;
            if s.is_file() {
                report.files += 1;
                report.bytes += s.size();
            }
        }
        Ok(report)
    }
}
