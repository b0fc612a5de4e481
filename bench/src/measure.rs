//! Running one side of a workload as a child process: under `/usr/bin/time` (CPU seconds and
//! peak RSS of the child and everything it waited for) and `timeout` (a hard bound), with its
//! progress sampled from outside by the length of the archive's metadata feed.
//!
//! Both sides write one signature per metadata append to `.dat/metadata.signatures` (a
//! 32-byte header, then 64 bytes per entry), so its size is the entry count for Rust and JS
//! alike, read the same way, without instrumenting either importer.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dat_test::{Json, parse_json_lines};

/// What a child did and cost.
pub struct Outcome {
    /// Its JSON-lines stdout.
    pub lines: Vec<Json>,
    /// user + sys CPU seconds.
    pub cpu_s: f64,
    /// Peak resident set, MB (10^6 bytes).
    pub rss_mb: f64,
    /// Times (since the metadata header was first seen) at which the file count reached each
    /// multiple of the window size.
    pub marks: Vec<Duration>,
    /// The child was stopped by its time cap (it printed no result).
    pub capped: bool,
    /// Files in the archive when it ended (metadata length − 1, sampled from outside).
    pub files: u64,
    /// From the first metadata entry seen to the child's end, as sampled from outside.
    pub sampled: Duration,
    /// The whole process, start to exit, as the parent saw it.
    pub wall: Duration,
    /// Report `wall` as the time (`--rust-cli`: whole commands are compared), not the time
    /// the child measured around its import.
    pub whole: bool,
}

impl Outcome {
    /// The `"event":"bench"` line the child printed.
    pub fn result(&self) -> &Json {
        self.lines
            .iter()
            .find(|l| l["event"] == "bench")
            .unwrap_or_else(|| panic!("the child printed no result: {:?}", self.lines))
    }

    /// The import's time in ms: measured by the child around the import (archive open to
    /// close), or with `--rust-cli` the whole process's wall clock.
    pub fn ms(&self) -> f64 {
        if self.whole {
            self.wall.as_secs_f64() * 1000.0
        } else {
            self.num("ms")
        }
    }

    /// A number from the result line.
    pub fn num(&self, key: &str) -> f64 {
        self.result()[key]
            .as_f64()
            .unwrap_or_else(|| panic!("no {key} in {}", self.result()))
    }

    /// Files per second in each window (window size / time between marks).
    pub fn window_rates(&self, window: u64) -> Vec<f64> {
        let mut prev = Duration::ZERO;
        self.marks
            .iter()
            .map(|&t| {
                let rate = window as f64 / (t - prev).as_secs_f64().max(1e-9);
                prev = t;
                rate
            })
            .collect()
    }
}

/// A child to run and watch.
pub struct Child {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, PathBuf)>,
    /// The archive folder whose `.dat/metadata.signatures` is sampled.
    pub archive: PathBuf,
    /// Window size in files (0: no sampling).
    pub window: u64,
    /// Hard bound; the child is killed by `timeout` after it.
    pub timeout: Duration,
    /// Whether being stopped at `timeout` is a result (a capped run) rather than a failure.
    pub capped_ok: bool,
    /// Time the whole process (see [`Outcome::ms`]).
    pub whole: bool,
}

/// Entries in the metadata feed, from the size of its signatures file.
pub fn metadata_len(archive: &Path) -> u64 {
    feed_len(archive, "metadata")
}

/// Length of the archive's `metadata` or `content` feed, from the size of its signatures file
/// (hypercore writes the signature of each append at the index of its last block).
pub fn feed_len(archive: &Path, feed: &str) -> u64 {
    std::fs::metadata(archive.join(format!(".dat/{feed}.signatures")))
        .map_or(0, |m| m.len().saturating_sub(32) / 64)
}

/// `dat create --json` reports `{"event":"created","seconds":..,"added":..}`: name it as the
/// bench children do (`"event":"bench"`, `ms`).
fn from_cli(mut line: Json) -> Json {
    if line["event"] == "created" {
        let ms = line["seconds"].as_f64().unwrap_or(f64::NAN) * 1000.0;
        line["event"] = "bench".into();
        line["ms"] = ms.into();
    }
    line
}

/// Run `child` to completion; panics with its stderr if it fails.
pub fn run(child: &Child, scratch: &Path) -> Outcome {
    let time_out = scratch.join("time.txt");
    let stdout = scratch.join("stdout.txt");
    let stderr = scratch.join("stderr.txt");
    let open = |p: &Path| File::create(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f")
        .arg("%e %U %S %M")
        .arg("-o")
        .arg(&time_out)
        .arg("timeout")
        .arg("-k")
        .arg("10")
        .arg(child.timeout.as_secs().max(1).to_string())
        .args(&child.argv)
        .stdin(Stdio::null())
        .stdout(open(&stdout))
        .stderr(open(&stderr));
    for (k, v) in &child.env {
        cmd.env(k, v);
    }
    let spawned = Instant::now();
    let mut proc = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run /usr/bin/time: {e}"));
    let mut marks = Vec::new();
    let mut t0: Option<Instant> = None;
    let mut sample = |marks: &mut Vec<Duration>| {
        let len = metadata_len(&child.archive);
        let now = Instant::now();
        if len > 0 {
            let start = *t0.get_or_insert(now);
            let files = len - 1;
            while child.window > 0 && files >= (marks.len() as u64 + 1) * child.window {
                marks.push(now - start);
            }
            return (files, now - start);
        }
        (0, Duration::ZERO)
    };
    let status = loop {
        if let Some(status) = proc
            .try_wait()
            .unwrap_or_else(|e| panic!("wait for {:?}: {e}", child.argv))
        {
            break status;
        }
        sample(&mut marks);
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = spawned.elapsed();
    let (files, sampled) = sample(&mut marks);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    // `timeout` exits 124 when it stopped the command (137 if it had to kill it).
    let capped = child.capped_ok && matches!(status.code(), Some(124 | 137));
    if !status.success() && !capped {
        panic!(
            "{:?} failed ({status}):\nstdout:\n{}\nstderr:\n{}",
            child.argv,
            read(&stdout),
            read(&stderr)
        );
    }
    let times = read(&time_out);
    let fields: Vec<f64> = times
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let [_, user, sys, rss_kb] = fields[..] else {
        panic!("unexpected /usr/bin/time output: {times:?}");
    };
    Outcome {
        lines: parse_json_lines(&read(&stdout))
            .into_iter()
            .map(from_cli)
            .collect(),
        cpu_s: user + sys,
        rss_mb: rss_kb * 1024.0 / 1e6,
        marks,
        capped,
        files,
        sampled,
        wall,
        whole: child.whole,
    }
}

/// What runs the Rust side of the import workloads, for the notes.
pub fn rust_label(options: &crate::Options) -> &'static str {
    if options.rust_cli.is_some() {
        "Rust = `dat create` (fsyncs at the end); times are whole processes"
    } else {
        "Rust = dat-drive `import` in a child"
    }
}

/// The Rust import of `dir`: the bench binary itself (`bench child-import`), or with
/// `--rust-cli`, `dat create --json` (with `HOME` two levels above `secrets`, where it keeps
/// secret keys). With `cap`, it is stopped after that long (a capped run).
pub fn rust_import(
    options: &crate::Options,
    dir: &Path,
    secrets: &Path,
    window: u64,
    cap: Option<Duration>,
) -> Child {
    let dir_arg = dir.to_string_lossy().into_owned();
    let (argv, env) = match &options.rust_cli {
        Some(dat) => {
            let home = secrets
                .parent()
                .and_then(Path::parent)
                .unwrap_or(secrets)
                .to_path_buf();
            let argv = ["create", &dir_arg, "--json", "--quiet"].map(String::from);
            let mut all = vec![dat.to_string_lossy().into_owned()];
            all.extend(argv);
            (all, vec![("HOME".to_string(), home)])
        }
        None => {
            let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
            let argv = vec![
                exe.to_string_lossy().into_owned(),
                "child-import".into(),
                dir_arg,
                secrets.to_string_lossy().into_owned(),
            ];
            (argv, Vec::new())
        }
    };
    Child {
        argv,
        env,
        archive: dir.to_path_buf(),
        window,
        timeout: cap.unwrap_or(Duration::from_secs(3600)),
        capped_ok: cap.is_some(),
        whole: options.rust_cli.is_some(),
    }
}

/// `interop/js/hyperdrive-bench.js import`: dat-node's `importFiles`, as `dat create` runs it,
/// stopped after `max_files` files or `max_seconds`.
pub fn js_import(
    options: &crate::Options,
    dir: &Path,
    secrets: &Path,
    window: u64,
    max_files: u64,
    max_seconds: u64,
) -> Child {
    let lab = &options.lab;
    let script = dat_test::interop_dir().join("js/hyperdrive-bench.js");
    let timeout = Duration::from_secs(max_seconds + 600);
    Child {
        argv: vec![
            "node".into(),
            script.to_string_lossy().into_owned(),
            "import".into(),
            dir.to_string_lossy().into_owned(),
            secrets.to_string_lossy().into_owned(),
            max_files.to_string(),
            max_seconds.to_string(),
        ],
        env: vec![
            ("DAT_LAB".into(), lab.root().to_path_buf()),
            ("HOME".into(), lab.root().join("home")),
            (
                "TIMEOUT".into(),
                PathBuf::from(timeout.as_secs().to_string()),
            ),
        ],
        archive: dir.to_path_buf(),
        window,
        timeout,
        capped_ok: false,
        whole: options.rust_cli.is_some(),
    }
}
