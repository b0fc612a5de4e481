//! Test support for dat-rs: the JavaScript reference peer, interop vectors and fixtures, and
//! deterministic test data shared with the JS scripts.
//!
//! The JS peer is the pinned `dat@13.13.1` / `dat@14.0.3` install that `interop/scripts/setup.sh`
//! makes (`bash .ci/run` puts it in `target/js-lab`). Tests that need it call [`JsLab::get`]: with
//! no lab they are skipped with a printed reason, except under CI (`CI` set), where a missing lab
//! is a failure: interop is never silently skipped.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use std::time::Instant;

pub use serde_json::Value as Json;
use sha2::{Digest, Sha256};

/// The root of the dat-rs workspace.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The `dat` binary for tests outside dat-cli: `DAT_BIN`, else the one beside the running test
/// (cargo puts it there for `cargo test --workspace`), else built now with the test profile.
pub fn dat_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("DAT_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|profile_dir| profile_dir.join("dat"))
        .unwrap_or_else(|| PathBuf::from("dat"));
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "-p",
                "dat-cli",
                "--bin",
                "dat",
                "--profile",
                "test",
            ])
            .current_dir(workspace_root())
            .status()
            .unwrap_or_else(|e| panic!("cargo build: {e}"));
        assert!(status.success(), "cannot build the dat binary");
    }
    assert!(bin.exists(), "no dat binary at {}", bin.display());
    bin
}

/// A dat config file with every discovery backend off: set it as `DAT_CONFIG` for any `dat`
/// command a test runs that would otherwise look peers up on the public network.
pub fn offline_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/offline.conf")
}

/// The project's copy of the interop kit (`interop/`): vectors, fixtures, scripts.
pub fn interop_dir() -> PathBuf {
    workspace_root().join("interop")
}

/// Why a JS clone of our share failed, as far as both sides tell: the clone script's
/// output, our share's events other than progress, and the JS log's excerpt.
pub fn js_clone_failure(js: &Proc, share: &mut Proc) -> String {
    share.drain();
    let ours: Vec<_> = share
        .seen
        .iter()
        .filter(|l| !l.contains("\"progress\""))
        .collect();
    format!(
        "{:?}; our share said {ours:?}; its log:\n{}",
        js.seen,
        js_log_excerpt(&js.seen)
    )
}

/// What a JS script's log (the file its `LOG=` line names) says about a failure: the lines
/// the trace hook wrote (`interop/scripts/lib/trace-destroy.js`) and the last lines, with the
/// terminal's escape sequences removed.
pub fn js_log_excerpt(seen: &[String]) -> String {
    let Some(path) = seen.iter().find_map(|l| l.strip_prefix("LOG=")) else {
        return "(no LOG= line)".into();
    };
    let Ok(bytes) = std::fs::read(path) else {
        return format!("({path} unreadable)");
    };
    let mut text = String::new();
    let mut escape = false;
    for c in String::from_utf8_lossy(&bytes).chars() {
        match c {
            '\u{1b}' => escape = true,
            c if escape => escape = !c.is_ascii_alphabetic(),
            c => text.push(c),
        }
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    // Each trace line and the stack lines under it.
    let mut out: Vec<&str> = Vec::new();
    let mut stack = 0;
    for l in &lines {
        if l.starts_with("[js-trace") {
            stack = 8;
        }
        if stack > 0 {
            out.push(l);
            stack -= 1;
        }
    }
    out.push("(last lines)");
    out.extend(lines.iter().skip(lines.len().saturating_sub(30)));
    out.join("\n")
}

/// An installed JS reference peer.
#[derive(Debug, Clone)]
pub struct JsLab {
    root: PathBuf,
}

impl JsLab {
    /// The lab from `DAT_LAB`, else `target/js-lab` when installed there.
    pub fn find() -> Option<Self> {
        let candidates = std::env::var_os("DAT_LAB")
            .map(PathBuf::from)
            .into_iter()
            .chain([workspace_root().join("target/js-lab")]);
        for root in candidates {
            if root.join("dat13/node_modules/hypercore").is_dir() {
                return Some(Self { root });
            }
        }
        None
    }

    /// The lab, or `None` after printing why the calling test is skipped. Under CI a missing
    /// lab panics: interop tests must run there.
    pub fn get(test: &str) -> Option<Self> {
        let lab = Self::find();
        if lab.is_none() {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "{test}: the JS reference peer is not installed (set DAT_LAB; .ci/run installs it)"
                );
            }
            eprintln!("{test}: skipped: no JS lab (set DAT_LAB or run bash .ci/run once)");
        }
        lab
    }

    /// Where the lab is installed.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `interop/scripts/js-clone.sh KEY DEST PEERS`: the real JS `dat clone` (dat@13) of `key`
    /// into `dest`, told of the comma-separated loopback `peers` through a seeded local
    /// discovery server. The script gives up after 120 s.
    pub fn clone_command(&self, key: &str, dest: &Path, peers: &str) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(interop_dir().join("scripts/js-clone.sh"))
            .arg(key)
            .arg(dest)
            .arg(peers)
            .env("DAT_LAB", &self.root)
            .env("TIMEOUT", "120");
        cmd
    }

    /// The real JS `dat clone` (dat@13) of the archive in `dir` as stored, served by our `dat
    /// share --no-import` (with `HOME=home`, discovery off) on loopback: the files it wrote to
    /// `dest` (as [`file_hashes`]). Panics if the clone fails or takes over two minutes.
    pub fn clone_of(&self, dir: &Path, home: &Path, dest: &Path) -> BTreeMap<String, String> {
        let mut share = Command::new(dat_bin());
        share
            .args(["--json", "share", "--no-import", "--port", "0"])
            .arg(dir)
            .env("HOME", home)
            .env("DAT_CONFIG", offline_config());
        let mut share = Proc::spawn(share);
        let sharing = share.json_event(60, "sharing");
        let key = sharing["key"].as_str().unwrap_or_default().to_string();
        let port = sharing["port"].as_u64().unwrap_or_default();
        let mut js = Proc::spawn(self.clone_command(&key, dest, &format!("127.0.0.1:{port}")));
        let status = js.wait_exit(150);
        assert!(
            status.success(),
            "JS dat clone failed: {}",
            js_clone_failure(&js, &mut share)
        );
        drop(share);
        file_hashes(dest)
    }

    /// Run a node script from `interop/` (path relative to it) with the lab's modules, and return
    /// its JSON-lines stdout. Panics with the script's stderr when it fails or times out.
    pub fn node(&self, script: &str, args: &[&str], timeout: Duration) -> Vec<Json> {
        let output = self.node_output(script, args, timeout);
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            panic!(
                "node {script} {args:?} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        parse_json_lines(&stdout)
    }

    /// Like [`JsLab::node`], but returns the raw output whatever the exit status.
    pub fn node_output(
        &self,
        script: &str,
        args: &[&str],
        timeout: Duration,
    ) -> std::process::Output {
        let mut cmd = Command::new("timeout");
        cmd.arg("-k")
            .arg("5")
            .arg(timeout.as_secs().max(1).to_string())
            .arg("node")
            .arg(interop_dir().join(script))
            .args(args)
            .env("DAT_LAB", &self.root)
            .env("TIMEOUT", timeout.as_secs().max(1).to_string())
            .env("HOME", self.root.join("home"))
            .stdin(Stdio::null());
        cmd.output()
            .unwrap_or_else(|e| panic!("cannot run node: {e}"))
    }

    /// The JS hypercore 7.7.1 verdict on a feed folder (flat layout). The folder is copied first:
    /// JS rewrites headers and bitfields when it opens a feed, and the caller's bytes must stay
    /// as they were.
    pub fn verify_feed(&self, dir: &Path) -> Json {
        let copy = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        copy_dir(dir, copy.path());
        let dir = copy.path().to_string_lossy().into_owned();
        let lines = self.node(
            "js/hypercore-check.js",
            &["verify", &dir],
            Duration::from_secs(600),
        );
        last_event(lines, "verified")
    }

    /// Have JS hypercore write a feed into `dir` from a batch spec (see `interop/js/hypercore-check.js`).
    pub fn write_feed(&self, dir: &Path, spec: &str) -> Json {
        let dir = dir.to_string_lossy().into_owned();
        let lines = self.node(
            "js/hypercore-check.js",
            &["write", &dir, spec],
            Duration::from_secs(600),
        );
        last_event(lines, "written")
    }
}

fn last_event(lines: Vec<Json>, event: &str) -> Json {
    lines
        .into_iter()
        .rev()
        .find(|l| l["event"] == event)
        .unwrap_or_else(|| panic!("no {event:?} event from the JS script"))
}

/// A child whose stdout lines arrive on a channel; SIGTERM then SIGKILL on drop.
pub struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every stdout line seen so far.
    pub seen: Vec<String>,
}

impl Proc {
    /// Start `cmd` with its stdout read line by line.
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let out = child.stdout.take().expect("stdout was piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Wait (at most `secs`) for the first line `f` accepts.
    pub fn wait_for<T>(&mut self, secs: u64, mut f: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    eprintln!("[child] {l}");
                    let r = f(&l);
                    self.seen.push(l);
                    if let Some(v) = r {
                        return v;
                    }
                }
                Err(e) => panic!(
                    "no expected line within {secs} s ({e}); saw {:?}",
                    self.seen
                ),
            }
        }
    }

    /// Wait for the JSON line whose `event` is `event`.
    pub fn json_event(&mut self, secs: u64, event: &str) -> Json {
        self.wait_for(secs, |l| {
            parse_json_lines(l)
                .into_iter()
                .find(|j| j["event"] == event)
        })
    }

    /// Add the lines that arrived since last looked to `seen`, without waiting.
    pub fn drain(&mut self) {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait (at most `secs`) for the child to exit, collecting its output.
    pub fn wait_exit(&mut self, secs: u64) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(s) = self.child.try_wait().expect("child status") {
                while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    eprintln!("[child] {l}");
                    self.seen.push(l);
                }
                return s;
            }
            while let Ok(l) = self.lines.try_recv() {
                eprintln!("[child] {l}");
                self.seen.push(l);
            }
            assert!(
                Instant::now() < deadline,
                "still running after {secs} s: {:?}",
                self.seen
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every regular file under `dir` (outside `.dat`), by path relative to `dir` → its SHA-256:
/// what two folders are compared by after a clone.
pub fn file_hashes(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display()));
        for e in entries.flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == ".dat") {
                continue;
            } else if p.is_dir() {
                stack.push(p);
            } else {
                let bytes =
                    std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
                let rel = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
                out.insert(rel, dat_core::crypto::to_hex(&Sha256::digest(&bytes)));
            }
        }
    }
    out
}

/// Parse JSON lines, ignoring lines that are not JSON.
pub fn parse_json_lines(text: &str) -> Vec<Json> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Copy a folder tree (files and folders only).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    let entries =
        std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    for entry in entries.flatten() {
        let target = to.join(entry.file_name());
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target)
                .unwrap_or_else(|e| panic!("copy {}: {e}", path.display()));
        }
    }
}

/// Deterministic block contents, identical to `blockBytes` in `interop/js/hypercore-check.js`:
/// a SHA-256 counter stream over `"{seed}:{index}:{counter}"`.
pub fn block_bytes(seed: &str, index: u64, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 32);
    let mut counter = 0u64;
    while out.len() < size {
        let digest = Sha256::digest(format!("{seed}:{index}:{counter}").as_bytes());
        out.extend_from_slice(&digest);
        counter += 1;
    }
    out.truncate(size);
    out
}

/// One batch of a feed spec: `count` blocks of `size` bytes from `seed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSpec {
    /// Blocks in the batch.
    pub count: u64,
    /// Bytes per block.
    pub size: usize,
    /// Seed of the block bytes.
    pub seed: String,
}

/// Parse `COUNTxSIZE[@SEED],...` as the JS script does (default seed: the item's position).
pub fn parse_spec(spec: &str) -> Vec<BatchSpec> {
    spec.split(',')
        .enumerate()
        .map(|(pos, item)| {
            let (shape, seed) = item.split_once('@').unwrap_or((item, ""));
            let (count, size) = shape
                .split_once('x')
                .unwrap_or_else(|| panic!("bad spec {item}"));
            BatchSpec {
                count: count
                    .parse()
                    .unwrap_or_else(|_| panic!("bad count in {item}")),
                size: size
                    .parse()
                    .unwrap_or_else(|_| panic!("bad size in {item}")),
                seed: if seed.is_empty() {
                    pos.to_string()
                } else {
                    seed.to_string()
                },
            }
        })
        .collect()
}

/// Lowercase hex SHA-256 of data fed in pieces.
#[derive(Default)]
pub struct Sha256Hex(Sha256);

impl Sha256Hex {
    /// Add bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The hex digest.
    pub fn finish(self) -> String {
        dat_core::crypto::to_hex(&self.0.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_js_log_excerpt_keeps_the_traces_and_the_tail_without_escapes() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("js.log");
        let mut text = String::from("\u{1b}[?25lConnecting\u{1b}[0K\n");
        text += "[js-trace t] protocol stream destroyed: Error: Remote timed out\n    at here\n";
        for i in 0..40 {
            text += &format!("line {i}\n");
        }
        std::fs::write(&log, text).unwrap();
        let seen = vec!["RESULT=fail".into(), format!("LOG={}", log.display())];
        let out = js_log_excerpt(&seen);
        assert!(out.starts_with(
            "[js-trace t] protocol stream destroyed: Error: Remote timed out\n    at here\n"
        ));
        assert!(out.ends_with("line 39") && !out.contains("line 9\n") && !out.contains('\u{1b}'));
        assert_eq!(js_log_excerpt(&[]), "(no LOG= line)");
    }

    #[test]
    fn spec_parsing_matches_the_js_rules() {
        assert_eq!(
            parse_spec("3x5,1x0@z"),
            vec![
                BatchSpec {
                    count: 3,
                    size: 5,
                    seed: "0".into()
                },
                BatchSpec {
                    count: 1,
                    size: 0,
                    seed: "z".into()
                }
            ]
        );
        assert_eq!(block_bytes("s", 1, 40).len(), 40);
        assert_eq!(block_bytes("s", 1, 40)[..32], block_bytes("s", 1, 32)[..]);
        assert_ne!(block_bytes("s", 1, 32), block_bytes("s", 2, 32));
    }
}
