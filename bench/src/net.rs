//! What the network workloads (W3–W8) share: a network namespace of the bench's own, whose
//! loopback counts every byte the two peers exchange; child processes measured by
//! `/usr/bin/time` and watched from outside (stdout lines with the time they arrived, CPU
//! seconds and peak RSS from `/proc` while they run); and the sharers of either side.
//!
//! Wire bytes are the loopback interface's transmitted bytes in the namespace (both directions,
//! TCP/IP headers included: loopback segments are up to 64 KiB, so headers add ~0.1 %).
//! Without `ip` or root the workloads run on the host's loopback and wire bytes are not
//! measured.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dat_test::{JsLab, Json, parse_json_lines};
use sha2::{Digest, Sha256};

use crate::Options;

/// Clock ticks per second of `/proc/PID/stat` times (`CLK_TCK`, 100 on Linux).
const TICKS: f64 = 100.0;

/// Where the peers of a workload run: a network namespace of the bench's own, or the host.
pub struct Net {
    ns: Option<String>,
    /// A process that lives in the namespace, to read its counters from `/proc`.
    anchor: Option<std::process::Child>,
    /// Why there is no namespace.
    pub why_not: String,
}

fn quiet(argv: &[&str]) -> Result<(), String> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", argv.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            argv.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Net {
    /// A new namespace `datbench-PID-TAG` with only `lo`, up; namespaces left behind by bench
    /// processes that no longer exist are removed first. Falls back to the host (with the
    /// reason in `why_not`) when namespaces cannot be made.
    pub fn new(tag: &str) -> Self {
        remove_stale();
        let name = format!("datbench-{}-{tag}", std::process::id());
        let made = quiet(&["ip", "netns", "add", &name]).and_then(|()| {
            quiet(&["ip", "-n", &name, "link", "set", "lo", "up"])?;
            Command::new("ip")
                .args(["netns", "exec", &name, "sleep", "86400"])
                .stdin(Stdio::null())
                .spawn()
                .map_err(|e| format!("ip netns exec: {e}"))
        });
        match made {
            Ok(anchor) => {
                let net = Self {
                    ns: Some(name),
                    anchor: Some(anchor),
                    why_not: String::new(),
                };
                // The anchor is in the namespace once its counters read.
                for _ in 0..500 {
                    if net.wire_bytes().is_some() {
                        return net;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                panic!("the namespace's anchor process did not start");
            }
            Err(e) => {
                let _ = quiet(&["ip", "netns", "del", &name]);
                eprintln!("bench: no network namespace ({e}); peers run on the host's loopback");
                Self {
                    ns: None,
                    anchor: None,
                    why_not: e,
                }
            }
        }
    }

    /// The namespace's name, if there is one.
    pub fn name(&self) -> Option<&str> {
        self.ns.as_deref()
    }

    /// `argv` run inside the namespace.
    pub fn wrap(&self, argv: Vec<String>) -> Vec<String> {
        match &self.ns {
            Some(ns) => ["ip", "netns", "exec", ns]
                .into_iter()
                .map(String::from)
                .chain(argv)
                .collect(),
            None => argv,
        }
    }

    /// Bytes sent on the namespace's loopback so far (every byte between its processes, once).
    pub fn wire_bytes(&self) -> Option<u64> {
        let pid = self.anchor.as_ref()?.id();
        let dev = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok()?;
        dev.lines()
            .find_map(|l| l.trim_start().strip_prefix("lo:"))
            .and_then(|rest| rest.split_whitespace().nth(8)?.parse().ok())
    }

    /// Add `ms` of delay each way to the namespace's loopback with `tc netem`; the error when
    /// that is not possible (e.g. a kernel without sch_netem).
    pub fn netem(&self, ms: u64) -> Result<(), String> {
        let ns = self.ns.as_deref().ok_or("no network namespace")?;
        quiet(&[
            "ip",
            "netns",
            "exec",
            ns,
            "tc",
            "qdisc",
            "add",
            "dev",
            "lo",
            "root",
            "netem",
            "delay",
            &format!("{ms}ms"),
            "limit",
            "100000",
        ])
    }

    /// A free TCP port to give a peer that takes its port as an argument.
    pub fn free_port(&self, preferred: u16) -> u16 {
        if self.ns.is_some() {
            return preferred;
        }
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_or(preferred, |a| a.port())
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        if let Some(mut a) = self.anchor.take() {
            let _ = a.kill();
            let _ = a.wait();
        }
        if let Some(ns) = self.ns.take()
            && let Err(e) = quiet(&["ip", "netns", "del", &ns])
        {
            eprintln!("bench: {e}");
        }
    }
}

/// Remove `datbench-PID-*` namespaces whose bench process is gone (a run that was killed).
fn remove_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(pid) = name
            .strip_prefix("datbench-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = quiet(&["ip", "netns", "del", name]);
        }
    }
}

/// How a task's stdout is taken.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stdout {
    /// Lines, each with the time it arrived.
    Lines,
    /// Raw bytes: hashed, counted, first and last arrival timed.
    Raw,
}

/// What a raw stdout held.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawOut {
    /// When the first byte arrived (since spawn).
    pub first: Option<Duration>,
    /// When the last byte arrived.
    pub last: Option<Duration>,
    /// Bytes.
    pub len: u64,
    /// Their sha256.
    pub sha256: [u8; 32],
}

enum Reader {
    Lines(mpsc::Receiver<(Duration, String)>),
    Raw(std::thread::JoinHandle<RawOut>),
}

/// A child process run under `/usr/bin/time`, watched while it runs.
pub struct Task {
    name: String,
    time: std::process::Child,
    /// The measured program (the child of `/usr/bin/time`).
    pid: u32,
    started: Instant,
    reader: Option<Reader>,
    /// Stdout lines seen so far, with their arrival times.
    pub seen: Vec<(Duration, String)>,
    time_file: PathBuf,
    stderr_file: PathBuf,
}

/// A finished task.
pub struct Done {
    /// Spawn to exit, as the bench saw it.
    pub wall: Duration,
    /// user + sys CPU seconds.
    pub cpu_s: f64,
    /// Peak RSS, MB.
    pub rss_mb: f64,
    /// It exited with status 0.
    pub ok: bool,
    /// Stdout lines (Lines mode).
    pub lines: Vec<(Duration, String)>,
    /// Raw stdout (Raw mode).
    pub raw: RawOut,
    /// Its stderr.
    pub stderr: String,
}

impl Done {
    /// The JSON stdout lines.
    pub fn json(&self) -> Vec<Json> {
        self.lines
            .iter()
            .flat_map(|(_, l)| parse_json_lines(l))
            .collect()
    }

    /// The last JSON line (stdout, else stderr) whose event is `event`.
    pub fn event(&self, event: &str) -> Option<Json> {
        let err = parse_json_lines(&self.stderr);
        self.json()
            .into_iter()
            .chain(err)
            .rev()
            .find(|j| j["event"] == event)
    }

    /// When (since spawn) the first stdout line with `event` arrived.
    pub fn event_time(&self, event: &str) -> Option<Duration> {
        event_time(&self.lines, event)
    }
}

fn event_time(lines: &[(Duration, String)], event: &str) -> Option<Duration> {
    lines.iter().find_map(|(t, l)| {
        parse_json_lines(l)
            .iter()
            .any(|j| j["event"] == event)
            .then_some(*t)
    })
}

impl Task {
    /// Start `argv` (already wrapped for its namespace) with extra `env`; `scratch` holds its
    /// time and stderr files (named after `name`).
    pub fn spawn(
        name: &str,
        argv: Vec<String>,
        env: &[(String, String)],
        scratch: &Path,
        stdout: Stdout,
    ) -> Self {
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tag: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .chain(format!("-{seq}").chars())
            .collect();
        let time_file = scratch.join(format!("{tag}.time"));
        let stderr_file = scratch.join(format!("{tag}.stderr"));
        let mut cmd = Command::new("/usr/bin/time");
        cmd.arg("-f")
            .arg("%e %U %S %M")
            .arg("-o")
            .arg(&time_file)
            .args(&argv)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(
                std::fs::File::create(&stderr_file)
                    .unwrap_or_else(|e| panic!("{}: {e}", stderr_file.display())),
            );
        for (k, v) in env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let mut time = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot run /usr/bin/time: {e}"));
        let out = time.stdout.take().expect("stdout was piped");
        let reader = match stdout {
            Stdout::Lines => {
                let (tx, rx) = mpsc::channel();
                std::thread::spawn(move || {
                    for l in BufReader::new(out).lines().map_while(Result::ok) {
                        if tx.send((started.elapsed(), l)).is_err() {
                            break;
                        }
                    }
                });
                Reader::Lines(rx)
            }
            Stdout::Raw => Reader::Raw(std::thread::spawn(move || raw_read(out, started))),
        };
        let tpid = time.id();
        let mut pid = None;
        for _ in 0..1000 {
            let kids = std::fs::read_to_string(format!("/proc/{tpid}/task/{tpid}/children"))
                .unwrap_or_default();
            if let Some(p) = kids.split_whitespace().next().and_then(|p| p.parse().ok()) {
                pid = Some(p);
                break;
            }
            if time.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let mut task = Self {
            name: name.to_string(),
            time,
            pid: 0,
            started,
            reader: Some(reader),
            seen: Vec::new(),
            time_file,
            stderr_file,
        };
        match pid {
            Some(p) => task.pid = p,
            None => panic!("{name}: {argv:?} did not start: {}", task.stderr()),
        }
        task
    }

    fn stderr(&self) -> String {
        let s = std::fs::read_to_string(&self.stderr_file).unwrap_or_default();
        let n = s.len().saturating_sub(3000);
        s.get(n..).unwrap_or(&s).to_string()
    }

    fn drain(&mut self) {
        if let Some(Reader::Lines(rx)) = &self.reader {
            while let Ok(l) = rx.try_recv() {
                self.seen.push(l);
            }
        }
    }

    /// Whether the program is still running.
    pub fn running(&mut self) -> bool {
        self.time.try_wait().ok().flatten().is_none()
    }

    /// Wait (at most `secs`) for a stdout line `f` accepts; panics if the task ends first.
    pub fn wait_line<T>(&mut self, secs: u64, mut f: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut checked = 0;
        loop {
            self.drain();
            for (_, l) in &self.seen[checked..] {
                if let Some(v) = f(l) {
                    return v;
                }
            }
            checked = self.seen.len();
            if !self.running() {
                std::thread::sleep(Duration::from_millis(100));
                self.drain();
                if self.seen.len() == checked {
                    panic!(
                        "{}: exited before the expected line; stdout tail {:?}\nstderr: {}",
                        self.name,
                        self.seen.iter().rev().take(5).collect::<Vec<_>>(),
                        self.stderr()
                    );
                }
                continue;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no expected line within {secs} s; stdout tail {:?}\nstderr: {}",
                self.name,
                self.seen.iter().rev().take(5).collect::<Vec<_>>(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Wait for the JSON stdout line whose `event` is `event`.
    pub fn json_event(&mut self, secs: u64, event: &str) -> Json {
        self.wait_line(secs, |l| {
            parse_json_lines(l)
                .into_iter()
                .find(|j| j["event"] == event)
        })
    }

    /// CPU seconds (user + sys) the program has used so far.
    pub fn cpu_s(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        // Fields after the command name (which may hold spaces) close with ')'.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<f64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0.0))
            .collect();
        // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
        (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / TICKS
    }

    /// Start measuring the peak RSS afresh from now (`/proc/PID/clear_refs`).
    pub fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5");
    }

    /// Peak RSS in MB since start or the last [`Task::reset_peak`].
    pub fn peak_mb(&self) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb * 1024.0 / 1e6)
    }

    fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, &self.pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }

    /// kill -9 the program (not waiting).
    pub fn kill9(&self) {
        self.signal("-KILL");
    }

    /// Wait at most `secs` for the program to exit (killed and a panic after that).
    pub fn wait(mut self, secs: u64) -> Done {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let status = loop {
            if let Some(s) = self.time.try_wait().expect("wait for /usr/bin/time") {
                break s;
            }
            self.drain();
            if Instant::now() > deadline {
                self.signal("-KILL");
                let _ = self.time.wait();
                panic!(
                    "{}: still running after {secs} s; stdout tail {:?}\nstderr: {}",
                    self.name,
                    self.seen.iter().rev().take(5).collect::<Vec<_>>(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let wall = self.started.elapsed();
        let raw = match self.reader.take() {
            Some(Reader::Lines(rx)) => {
                while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
                    self.seen.push(l);
                }
                RawOut::default()
            }
            Some(Reader::Raw(h)) => h.join().unwrap_or_default(),
            None => RawOut::default(),
        };
        let times = std::fs::read_to_string(&self.time_file).unwrap_or_default();
        let f: Vec<f64> = times
            .lines()
            .last()
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let (cpu_s, rss_mb) = match f[..] {
            [_, user, sys, rss_kb] => (user + sys, rss_kb * 1024.0 / 1e6),
            _ => (f64::NAN, f64::NAN),
        };
        Done {
            wall,
            cpu_s,
            rss_mb,
            ok: status.success(),
            lines: std::mem::take(&mut self.seen),
            raw,
            stderr: std::fs::read_to_string(&self.stderr_file).unwrap_or_default(),
        }
    }

    /// Wait for a successful exit; panics with the output otherwise.
    pub fn finish(self, secs: u64) -> Done {
        let name = self.name.clone();
        let done = self.wait(secs);
        assert!(
            done.ok,
            "{name} failed: stdout tail {:?}\nstderr: {}",
            done.lines.iter().rev().take(5).collect::<Vec<_>>(),
            tail(&done.stderr)
        );
        done
    }

    /// SIGTERM, then at most `secs` for it to exit (SIGKILL after).
    pub fn stop(mut self, secs: u64) -> Done {
        if self.running() {
            self.signal("-TERM");
            let deadline = Instant::now() + Duration::from_secs(secs);
            while self.running() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if self.running() {
                self.signal("-KILL");
            }
        }
        self.wait(10)
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if self.time.try_wait().ok().flatten().is_none() {
            self.signal("-KILL");
            let _ = self.time.kill();
            let _ = self.time.wait();
        }
    }
}

fn raw_read(mut out: impl Read, started: Instant) -> RawOut {
    let mut r = RawOut::default();
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match out.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let now = started.elapsed();
                r.first.get_or_insert(now);
                r.last = Some(now);
                r.len += n as u64;
                hash.update(&buf[..n]);
            }
        }
    }
    r.sha256 = hash.finalize().into();
    r
}

/// The last 3000 bytes of `s`.
pub fn tail(s: &str) -> &str {
    let mut n = s.len().saturating_sub(3000);
    while !s.is_char_boundary(n) {
        n += 1;
    }
    &s[n..]
}

/// The `dat` binary the network workloads run: `--rust-cli`, else `dat` beside the bench
/// binary (`cargo build --release -p dat-cli` puts it there), else `DAT_BIN`.
pub fn dat_bin(options: &Options) -> PathBuf {
    if let Some(p) = &options.rust_cli {
        return p.clone();
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("dat")));
    if let Some(b) = beside.filter(|b| b.exists()) {
        return b;
    }
    if let Some(p) = std::env::var_os("DAT_BIN") {
        return PathBuf::from(p);
    }
    panic!(
        "no dat binary beside the bench: build it (cargo build --release -p dat-cli) or pass --rust-cli"
    );
}

/// Argument vector of a Rust `dat` command.
pub fn dat(options: &Options, args: &[&str]) -> Vec<String> {
    std::iter::once(dat_bin(options).to_string_lossy().into_owned())
        .chain(args.iter().map(|a| a.to_string()))
        .collect()
}

/// Environment of a Rust `dat` command: every discovery backend off, its own HOME.
pub fn rust_env(home: &Path) -> Vec<(String, String)> {
    vec![
        (
            "DAT_CONFIG".into(),
            dat_test::offline_config().to_string_lossy().into_owned(),
        ),
        ("HOME".into(), home.to_string_lossy().into_owned()),
    ]
}

/// Environment of a JS command: the lab's modules, its own HOME (where the JS CLI keeps secret
/// keys), a hard deadline.
pub fn js_env(lab: &JsLab, home: &Path, timeout_s: u64) -> Vec<(String, String)> {
    vec![
        ("DAT_LAB".into(), lab.root().to_string_lossy().into_owned()),
        ("HOME".into(), home.to_string_lossy().into_owned()),
        ("NO_UPDATE_NOTIFIER".into(), "1".into()),
        ("TIMEOUT".into(), timeout_s.to_string()),
    ]
}

/// The command line and environment of `side`'s clone of `sharer` into `dst`: Rust `dat
/// clone --peer`, or JS `net-bench.js clone` (which gives up after `js_timeout_s`).
pub fn clone_command(
    options: &Options,
    side: &str,
    sharer: &Sharer,
    dst: &Path,
    home: &Path,
    js_timeout_s: u64,
) -> (Vec<String>, Vec<(String, String)>) {
    let d = dst.to_string_lossy();
    if side == "rust" {
        let (link, addr) = (sharer.link(), sharer.addr());
        (
            dat(options, &["--json", "clone", &link, &d, "--peer", &addr]),
            rust_env(home),
        )
    } else {
        (
            js_bench(&["clone", &sharer.key, &d, &sharer.addr()]),
            js_env(&options.lab, home, js_timeout_s),
        )
    }
}

/// `node interop/js/net-bench.js ARGS...`.
pub fn js_bench(args: &[&str]) -> Vec<String> {
    let script = dat_test::interop_dir().join("js/net-bench.js");
    ["node".to_string(), script.to_string_lossy().into_owned()]
        .into_iter()
        .chain(args.iter().map(|a| a.to_string()))
        .collect()
}

/// A peer serving an archive.
pub struct Sharer {
    /// The serving process.
    pub task: Task,
    /// The archive's key (hex).
    pub key: String,
    /// Its TCP port (in the workload's namespace).
    pub port: u16,
}

impl Sharer {
    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `dat://KEY`.
    pub fn link(&self) -> String {
        format!("dat://{}", self.key)
    }
}

/// `dat share DIR --port 0 --json` (with `--no-watch` unless `watch`); waits (at most `secs`)
/// for its import and `sharing` event.
pub fn rust_share(
    net: &Net,
    options: &Options,
    dir: &Path,
    home: &Path,
    scratch: &Path,
    watch: bool,
    secs: u64,
) -> Sharer {
    let d = dir.to_string_lossy();
    let mut args = vec!["--json", "share", &d, "--port", "0"];
    if !watch {
        args.push("--no-watch");
    }
    let mut task = Task::spawn(
        "rust share",
        net.wrap(dat(options, &args)),
        &rust_env(home),
        scratch,
        Stdout::Lines,
    );
    let ev = task.json_event(secs, "sharing");
    let key = ev["key"].as_str().unwrap_or_default().to_string();
    let port = ev["port"].as_u64().unwrap_or(0) as u16;
    assert!(key.len() == 64 && port > 0, "rust share: {ev}");
    Sharer { task, key, port }
}

/// The JS CLI's `dat share DIR --port PORT --no-dht --no-dns` (dat@13.13.1: imports, then
/// serves and watches); waits (at most `secs`) until its import is done.
pub fn js_share(
    net: &Net,
    lab: &JsLab,
    dir: &Path,
    home: &Path,
    scratch: &Path,
    secs: u64,
) -> Sharer {
    let port = net.free_port(3282);
    let cli = lab.root().join("dat13/node_modules/dat/bin/cli.js");
    let argv = vec![
        "node".to_string(),
        cli.to_string_lossy().into_owned(),
        "share".into(),
        dir.to_string_lossy().into_owned(),
        "--port".into(),
        port.to_string(),
        "--no-dht".into(),
        "--no-dns".into(),
    ];
    let mut task = Task::spawn(
        "js share",
        net.wrap(argv),
        &js_env(lab, home, 7200),
        scratch,
        Stdout::Lines,
    );
    let mut key = None;
    task.wait_line(secs, |l| {
        if key.is_none() {
            key = l.find("dat://").and_then(|i| {
                let k = l.get(i + 6..i + 70)?;
                k.bytes()
                    .all(|b| b.is_ascii_hexdigit())
                    .then(|| k.to_string())
            });
        }
        (key.is_some() && l.contains("Watching for file updates")).then_some(())
    });
    Sharer {
        task,
        key: key.unwrap_or_default(),
        port,
    }
}

/// `interop/scripts/dat-serve.js --dir DIR`: JS hyperdrive 9.16 serving an existing archive
/// (dat layout) over TCP, without importing.
pub fn js_serve(net: &Net, lab: &JsLab, dir: &Path, home: &Path, scratch: &Path) -> Sharer {
    let script = dat_test::interop_dir().join("scripts/dat-serve.js");
    let argv = vec![
        "node".to_string(),
        script.to_string_lossy().into_owned(),
        "--dir".into(),
        dir.to_string_lossy().into_owned(),
        "--port".into(),
        "0".into(),
        "--timeout".into(),
        "7200".into(),
        "--quiet".into(),
    ];
    let mut task = Task::spawn(
        "js serve",
        net.wrap(argv),
        &js_env(lab, home, 7200),
        scratch,
        Stdout::Lines,
    );
    let ev = task.json_event(600, "ready");
    let key = ev["key"].as_str().unwrap_or_default().to_string();
    let port = ev["port"].as_u64().unwrap_or(0) as u16;
    Sharer { task, key, port }
}

/// sha256 and size of a file, streamed.
pub fn file_sha256(path: &Path) -> Option<(u64, [u8; 32])> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).ok()?;
        if k == 0 {
            break;
        }
        n += k as u64;
        hash.update(&buf[..k]);
    }
    Some((n, hash.finalize().into()))
}

/// Every file of `expected` is in `dir` with its size and sha256; returns how many were
/// checked, or the first that differs.
pub fn check_tree(dir: &Path, expected: &crate::data::Expected) -> Result<usize, String> {
    for (path, e) in expected {
        let p = dir.join(path.trim_start_matches('/'));
        match file_sha256(&p) {
            Some((size, sha)) if size == e.size && sha == e.sha256 => {}
            Some(_) => return Err(format!("{path} differs")),
            None => return Err(format!("{path} is missing")),
        }
    }
    Ok(expected.len())
}

/// Remove a folder if it exists.
pub fn rm(dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("rm {}: {e}", dir.display()),
    }
}

/// MB (10^6 bytes), for notes.
pub fn mb(bytes: f64) -> String {
    format!("{:.1} MB", bytes / 1e6)
}
