//! The commands that work on a local archive, run as a user runs them: the built `dat`
//! binary in temporary folders, with `HOME` (where secret keys live) a temporary folder too.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dat_core::{Feed, FeedStorage, KeyPair};
use dat_drive::tree::{EntrySource, SourceError, Tree};
use dat_drive::{Archive, Entry, Stat};
use dat_test::{Json, block_bytes, parse_json_lines};

/// A folder's files: path in the archive → bytes.
type State = BTreeMap<String, Vec<u8>>;

struct Env {
    tmp: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("home")).unwrap();
        Self { tmp }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    /// Run `dat` with this environment's HOME.
    fn run(&self, args: &[&str]) -> Output {
        self.run_home(&self.path("home"), args)
    }

    fn run_home(&self, home: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_dat"))
            .args(args)
            .env("HOME", home)
            .output()
            .unwrap()
    }

    /// Run `dat`, require success, return stdout.
    fn ok(&self, args: &[&str]) -> Vec<u8> {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "dat {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn json(&self, args: &[&str]) -> Vec<Json> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        parse_json_lines(&String::from_utf8(self.ok(&all)).unwrap())
    }
}

fn write(dir: &Path, rel: &str, data: &[u8]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn apply(dir: &Path, state: &mut State, rel: &str, data: Option<&[u8]>) {
    match data {
        Some(d) => {
            write(dir, rel, d);
            state.insert(format!("/{rel}"), d.to_vec());
        }
        None => {
            std::fs::remove_file(dir.join(rel)).unwrap();
            state.remove(&format!("/{rel}"));
        }
    }
}

/// Names directly in folder `dir` of a state.
fn expected_children(state: &State, dir: &str) -> Vec<String> {
    let prefix = if dir == "/" {
        "/".to_string()
    } else {
        format!("{dir}/")
    };
    let mut names: Vec<String> = state
        .keys()
        .filter_map(|p| p.strip_prefix(&prefix))
        .map(|rest| rest.split('/').next().unwrap().to_string())
        .collect();
    names.dedup();
    names
}

fn ls_names(env: &Env, dir: &str, version: u64, path: &str) -> Vec<String> {
    env.json(&["ls", dir, path, "--version", &version.to_string()])
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect()
}

fn version_of(env: &Env, dir: &str) -> u64 {
    env.json(&["status", dir])[0]["version"].as_u64().unwrap()
}

fn cat_ranges(env: &Env, dir: &str, version: u64, path: &str, bytes: &[u8]) {
    let v = version.to_string();
    let len = bytes.len();
    for (range, want) in [
        ("0-0", &bytes[..len.min(1)]),
        ("1-5", &bytes[len.min(1)..len.min(6)]),
        ("5-", &bytes[len.min(5)..]),
        ("-3", &bytes[len.saturating_sub(3)..]),
        ("100000-199999", &bytes[len.min(100_000)..len.min(200_000)]),
        ("0-999999999", bytes),
    ] {
        let got = env.ok(&["cat", dir, path, "--version", &v, "--range", range]);
        assert!(got == want, "cat {path} v{version} --range {range}");
    }
}

/// Create, change the files three times, and read every version back with log, ls and
/// cat (whole and ranges); then verify, and verify again after corrupting a metadata block.
#[test]
fn versions_log_ls_cat_verify_and_corruption() {
    let env = Env::new();
    let share = env.path("share");
    let dir = share.to_str().unwrap();
    let mut state = State::new();
    apply(&share, &mut state, "a.txt", Some(b"alpha, first\n"));
    apply(
        &share,
        &mut state,
        "sub/deep/b.bin",
        Some(&block_bytes("b", 0, 300_000)),
    );
    apply(
        &share,
        &mut state,
        "sub/ünï cødé.txt",
        Some("ü\n".as_bytes()),
    );
    apply(&share, &mut state, "empty", Some(b""));
    write(&share, ".hidden", b"not imported");

    let created = env.run(&["create", dir]);
    assert!(created.status.success());
    let link = String::from_utf8(created.stdout).unwrap();
    assert!(
        link.starts_with("dat://") && link.trim().len() == 6 + 64,
        "{link}"
    );
    // Not a terminal: no progress drawing, only the summary.
    let note = String::from_utf8(created.stderr).unwrap();
    assert!(!note.contains('\r') && !note.contains('\x1b'), "{note:?}");
    assert!(note.contains("4 added"), "{note}");
    let mut states = vec![(version_of(&env, dir), state.clone())];

    // Three rounds of changes (sizes change, so the importer sees every one).
    apply(&share, &mut state, "a.txt", Some(b"alpha, second time\n"));
    apply(&share, &mut state, "c/new.txt", Some(b"new file"));
    env.ok(&["create", dir]);
    states.push((version_of(&env, dir), state.clone()));

    apply(&share, &mut state, "sub/ünï cødé.txt", None);
    apply(
        &share,
        &mut state,
        "sub/deep/b.bin",
        Some(&block_bytes("b2", 0, 140_001)),
    );
    env.ok(&["create", dir]);
    states.push((version_of(&env, dir), state.clone()));

    apply(
        &share,
        &mut state,
        "a.txt",
        Some(b"alpha, third and last\n"),
    );
    let again = env.json(&["create", dir]);
    assert_eq!(again[0]["updated"], 1, "{again:?}");
    assert_eq!(again[0]["unchanged"], 3, "{again:?}");
    states.push((version_of(&env, dir), state.clone()));
    let final_state = state;

    // The log replays to each state's sizes.
    let log = env.json(&["log", dir]);
    assert_eq!(log.len() as u64, states.last().unwrap().0);
    let mut replay: BTreeMap<String, u64> = BTreeMap::new();
    let mut text_log = String::from_utf8(env.ok(&["log", dir])).unwrap();
    for (i, line) in log.iter().enumerate() {
        let version = line["version"].as_u64().unwrap();
        assert_eq!(version, i as u64 + 1);
        let path = line["path"].as_str().unwrap().to_string();
        match line["type"].as_str().unwrap() {
            "put" => replay.insert(path, line["size"].as_u64().unwrap()),
            "del" => replay.remove(&path),
            other => panic!("{other}"),
        };
        if let Some((_, st)) = states.iter().find(|(v, _)| *v == version) {
            let sizes: BTreeMap<String, u64> = st
                .iter()
                .map(|(p, b)| (p.clone(), b.len() as u64))
                .collect();
            assert_eq!(replay, sizes, "log replayed to version {version}");
        }
    }
    assert!(text_log.contains(" del /sub/ünï cødé.txt"), "{text_log}");
    text_log.clear();

    // ls and cat at every version.
    for (version, st) in &states {
        for folder in ["/", "/sub", "/sub/deep"] {
            let mut got = ls_names(&env, dir, *version, folder);
            got.sort();
            assert_eq!(got, expected_children(st, folder), "ls {folder} v{version}");
        }
        for (path, bytes) in st {
            let v = version.to_string();
            // Latest mode keeps only the newest bytes of each file: older versions are
            // readable exactly when the file has not changed since.
            if final_state.get(path) == Some(bytes) {
                let got = env.ok(&["cat", dir, path, "--version", &v]);
                assert!(got == *bytes, "cat {path} v{version}");
                cat_ranges(&env, dir, *version, path, bytes);
            } else {
                let out = env.run(&["cat", dir, path, "--version", &v]);
                assert!(!out.status.success(), "cat {path} v{version}");
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains("not stored here"), "{err}");
            }
        }
    }
    // A file's own ls line, a missing path, a directory given to cat.
    let one = env.json(&["ls", dir, "/sub/deep/b.bin"]);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["size"], 140_001);
    assert!(!env.run(&["ls", dir, "/nope"]).status.success());
    let err = env.run(&["cat", dir, "/sub"]);
    assert!(String::from_utf8_lossy(&err.stderr).contains("is a directory"));
    let json_cat = env.json(&["cat", dir, "/a.txt", "--range", "0-4"]);
    assert_eq!(json_cat[0]["base64"], "YWxwaGE=");

    // Status and keys.
    let status = &env.json(&["status", dir])[0];
    assert_eq!(status["files"], final_state.len());
    let total: usize = final_state.values().map(Vec::len).sum();
    assert_eq!(status["bytes"], total);
    assert_eq!(status["writable"], true);
    assert_eq!(status["mode"], "latest");
    assert_eq!(status["content"]["downloadedBytes"], total);
    assert!(status["content"]["bytes"].as_u64().unwrap() > total as u64);
    let keys = String::from_utf8(env.ok(&["keys", dir])).unwrap();
    assert!(keys.starts_with(link.trim()), "{keys}");

    // Verify: fine as written.
    let verified = String::from_utf8(env.ok(&["verify", dir])).unwrap();
    assert!(verified.contains("verified"), "{verified}");

    // Corrupt the metadata entry that first put /sub/deep/b.bin: one byte at its end (its
    // index), so the block no longer matches its signed hash but still names its path.
    let target = log.iter().find(|l| l["path"] == "/sub/deep/b.bin").unwrap()["version"]
        .as_u64()
        .unwrap();
    let (offset, size) = {
        let feed = Feed::open(FeedStorage::prefixed(&share.join(".dat"), "metadata")).unwrap();
        (
            feed.byte_offset(target).unwrap(),
            feed.block_size(target).unwrap(),
        )
    };
    let data_file = share.join(".dat/metadata.data");
    let mut bytes = std::fs::read(&data_file).unwrap();
    bytes[(offset + size - 1) as usize] ^= 0x01;
    std::fs::write(&data_file, bytes).unwrap();
    let out = env.run(&["verify", dir]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    println!("dat verify after corruption: {}", err.trim());
    assert!(
        err.contains(&format!(
            "metadata entry {target} (version {target}, /sub/deep/b.bin)"
        )),
        "{err}"
    );
    assert!(err.contains("do not match their signed hash"), "{err}");
    let out = env.run(&["verify", "--json", dir]);
    let lines = parse_json_lines(&String::from_utf8_lossy(&out.stdout));
    let problem = lines.iter().find(|l| l["event"] == "problem").unwrap();
    assert_eq!(problem["version"], target);
    assert_eq!(problem["path"], "/sub/deep/b.bin");
}

/// A copy of the folder without its secret key (another HOME) reads fine and refuses to
/// write; a working file changed behind dat's back fails verify, naming the file.
#[test]
fn read_only_copy_and_changed_working_file() {
    let env = Env::new();
    let share = env.path("share");
    let dir = share.to_str().unwrap();
    let mut state = State::new();
    apply(&share, &mut state, "x/y.txt", Some(b"why"));
    apply(
        &share,
        &mut state,
        "z.bin",
        Some(&block_bytes("z", 0, 70_000)),
    );
    env.ok(&["create", dir]);
    // dat-node's layout: the ownership marker in .dat, the key under HOME.
    assert!(share.join(".dat/metadata.ogd").exists());
    let secrets: Vec<_> = walk_files(&env.path("home/.dat/secret_keys"));
    assert_eq!(secrets.len(), 1, "{secrets:?}");
    assert_eq!(std::fs::metadata(&secrets[0]).unwrap().len(), 64);

    let other_home = env.path("other-home");
    std::fs::create_dir_all(&other_home).unwrap();
    let status = env.run_home(&other_home, &["status", "--json", dir]);
    assert!(status.status.success());
    let status = &parse_json_lines(&String::from_utf8_lossy(&status.stdout))[0];
    assert_eq!(status["writable"], false);
    let cat = env.run_home(&other_home, &["cat", dir, "/x/y.txt"]);
    assert_eq!(cat.stdout, b"why");
    let verify = env.run_home(&other_home, &["verify", dir]);
    assert!(verify.status.success());
    let create = env.run_home(&other_home, &["create", dir]);
    assert!(!create.status.success());
    let err = String::from_utf8_lossy(&create.stderr);
    assert!(
        err.contains("read-only") && err.contains("secret_keys"),
        "{err}"
    );

    // Same size, bytes changed in place without an import.
    std::fs::write(share.join("x/y.txt"), b"WHY").unwrap();
    let out = env.run(&["verify", dir]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("content block") && err.contains("/x/y.txt"),
        "{err}"
    );
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// Export writes a version with its bytes and mtimes; an archive with a `..` name exports
/// nothing outside the destination.
#[test]
fn export_versions_and_hostile_names() {
    let env = Env::new();
    let share = env.path("share");
    let dir = share.to_str().unwrap();
    let mut state = State::new();
    apply(&share, &mut state, "doc/readme.md", Some(b"# hi\n"));
    apply(
        &share,
        &mut state,
        "big",
        Some(&block_bytes("big", 0, 200_000)),
    );
    env.ok(&["create", dir]);
    let dest = env.path("out");
    let rec = &env.json(&["export", dir, dest.to_str().unwrap()])[0];
    assert_eq!(rec["files"], 2);
    for (path, bytes) in &state {
        assert_eq!(
            std::fs::read(dest.join(&path[1..])).unwrap(),
            *bytes,
            "{path}"
        );
    }
    // The exported mtime is the one the archive recorded.
    let recorded = env.json(&["ls", dir, "/big"])[0]["mtime"].as_u64().unwrap();
    let exported = std::fs::metadata(dest.join("big"))
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    assert_eq!(exported.as_millis() as u64, recorded);

    // A forged archival archive whose second entry is named `/../evil`.
    let sleep = env.path("evil-archive");
    {
        let mut a = Archive::create_sleep(&sleep, KeyPair::generate().unwrap()).unwrap();
        a.write_file("/ok.txt", &b"fine"[..], Default::default())
            .unwrap();
        let seq = a.metadata().len();
        let paths = a.latest().unwrap().put_index("/../evil", seq).unwrap();
        let entry = Entry::new(
            seq,
            "/../evil",
            Some(Stat::file(0o644, 4, 1, 0, 0, 0)),
            paths,
        );
        a.metadata().append(&entry.encode()).unwrap();
    }
    let inner = env.path("dest/inner");
    let out = env.run(&["export", sleep.to_str().unwrap(), inner.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to export"), "{err}");
    let siblings: Vec<_> = std::fs::read_dir(env.path("dest"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings, ["inner"]);
    assert!(!env.path("evil").exists());
    // The same archive lists and verifies (its bytes are validly signed).
    let names = ls_names(&env, sleep.to_str().unwrap(), 2, "/");
    assert!(names.contains(&"ok.txt".to_string()), "{names:?}");
}

/// With a terminal on stderr, import progress is drawn; `--quiet` prints nothing there.
#[test]
fn progress_only_on_a_terminal() {
    let env = Env::new();
    let share = env.path("share");
    for i in 0..3000 {
        write(&share, &format!("d{}/f{i}", i % 30), &[b'x'; 100]);
    }
    let quiet = env.run(&["create", "-q", share.to_str().unwrap()]);
    assert!(quiet.status.success());
    assert!(quiet.stderr.is_empty());
    // `script` gives the command a pseudo-terminal.
    for i in 0..3000 {
        write(&share, &format!("d{}/f{i}", i % 30), &[b'y'; 101]);
    }
    let cmd = format!(
        "HOME={} {} create {}",
        env.path("home").display(),
        env!("CARGO_BIN_EXE_dat"),
        share.display()
    );
    let out = Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(tty.contains("importing") && tty.contains("files,"), "{tty}");
    assert!(tty.contains("3000 updated"), "{tty}");
}

/// Entries appended in batches: an [`EntrySource`] over the archive plus the entries not yet
/// appended, so the index of each new entry can be computed before its batch is written.
struct Batch<'a> {
    archive: &'a Archive,
    base: u64,
    pending: Vec<Arc<Entry>>,
}

impl EntrySource for Batch<'_> {
    fn entry(&self, seq: u64) -> Result<Arc<Entry>, SourceError> {
        match seq.checked_sub(self.base) {
            Some(i) => Ok(self.pending[i as usize].clone()),
            None => self.archive.entry(seq),
        }
    }
}

/// An archival archive of `fanout^depth * files` empty files named
/// `/d<i>/d<j>/.../f<k>`, written with the library in batches of 4096 entries.
fn build_wide_archive(dir: &Path, fanout: u64, depth: u32, files: u64) -> (u64, Duration) {
    let started = Instant::now();
    let archive = Archive::create_sleep(dir, KeyPair::generate().unwrap()).unwrap();
    let folders = fanout.pow(depth);
    let total = folders * files;
    let mut batch = Batch {
        archive: &archive,
        base: 1,
        pending: Vec::new(),
    };
    for n in 0..total {
        let (mut folder, file) = (n / files, n % files);
        let mut digits = vec![0; depth as usize];
        for d in digits.iter_mut().rev() {
            *d = folder % fanout;
            folder /= fanout;
        }
        let mut name = String::new();
        for (level, d) in digits.iter().enumerate() {
            name.push_str(&format!("/{}{d}", (b'a' + level as u8) as char));
        }
        name.push_str(&format!("/f{file:04}"));
        let seq = batch.base + batch.pending.len() as u64;
        let paths = Tree::at(&batch, seq - 1)
            .unwrap()
            .put_index(&name, seq)
            .unwrap();
        let stat = Stat::file(0o644, 0, 0, 0, 0, 1_700_000_000_000);
        batch
            .pending
            .push(Arc::new(Entry::new(seq, &name, Some(stat), paths)));
        if batch.pending.len() == 4096 || n + 1 == total {
            let encoded: Vec<Vec<u8>> = batch.pending.iter().map(|e| e.encode()).collect();
            archive
                .metadata()
                .append_batch(encoded.iter().map(Vec::as_slice))
                .unwrap();
            batch.base += batch.pending.len() as u64;
            batch.pending.clear();
        }
    }
    assert_eq!(archive.version(), total);
    (total, started.elapsed())
}

fn timed(env: &Env, args: &[&str]) -> (Vec<Json>, Duration) {
    let started = Instant::now();
    let lines = env.json(args);
    (lines, started.elapsed())
}

fn check_wide_archive(fanout: u64, depth: u32, files: u64) {
    let env = Env::new();
    let dir = env.path("wide");
    let (total, built) = build_wide_archive(&dir, fanout, depth, files);
    let metadata_bytes = std::fs::metadata(dir.join("metadata.data")).unwrap().len();
    println!(
        "built {total} entries in {:.1} s ({:.0} entries/s), metadata.data {} bytes ({} per entry)",
        built.as_secs_f64(),
        total as f64 / built.as_secs_f64(),
        metadata_bytes,
        metadata_bytes / total
    );
    let d = dir.to_str().unwrap();
    let last = fanout - 1;
    let folder: String = (0..depth)
        .map(|l| format!("/{}{}", (b'a' + l as u8) as char, l as u64 % fanout))
        .collect();
    let (listing, ls_time) = timed(&env, &["ls", d, &folder]);
    assert_eq!(listing.len() as u64, files, "{folder}");
    assert_eq!(listing[0]["name"], "f0000");
    let deep: String = (0..depth)
        .map(|l| format!("/{}{last}", (b'a' + l as u8) as char))
        .collect::<String>()
        + &format!("/f{:04}", files - 1);
    let (stat, stat_time) = timed(&env, &["ls", d, &deep]);
    assert_eq!(stat.len(), 1);
    assert_eq!(stat[0]["path"], deep.as_str());
    assert_eq!(stat[0]["version"], total);
    let (root, root_time) = timed(&env, &["ls", d]);
    assert_eq!(root.len() as u64, fanout);
    println!(
        "{total} entries: `dat ls {folder}` ({files} files) {:.0} ms, `dat ls {deep}` {:.0} ms, `dat ls /` {:.0} ms (each a whole process)",
        ls_time.as_secs_f64() * 1e3,
        stat_time.as_secs_f64() * 1e3,
        root_time.as_secs_f64() * 1e3
    );
    assert!(ls_time < Duration::from_secs(1), "{ls_time:?}");
    assert!(stat_time < Duration::from_secs(1), "{stat_time:?}");
}

/// 1,000,000 entries (10·10·10·10 folders of 100 files), written with the library in
/// batches (about 30 s here): one folder and one deep file in well under a second.
#[test]
fn million_entries_ls_and_stat() {
    check_wide_archive(10, 4, 100);
}

/// `dat create --title --description` writes `dat.json` as dat's create does (toiletdb's
/// pretty JSON: title, description, url), imports it, and keeps keys it did not set.
#[test]
fn create_writes_dat_json() {
    let env = Env::new();
    let dir = env.path("d");
    write(&dir, "data.csv", b"a,b\n1,2\n");
    let d = dir.to_str().unwrap();
    let created = env.json(&[
        "create",
        d,
        "--title",
        "Ocean \"temps\"",
        "--description",
        "ünïcode",
    ]);
    let key = created[0]["key"].as_str().unwrap().to_string();
    let text = std::fs::read_to_string(dir.join("dat.json")).unwrap();
    let want = format!(
        "{{\n  \"title\": \"Ocean \\\"temps\\\"\",\n  \"description\": \"ünïcode\",\n  \"url\": \"dat://{key}\"\n}}"
    );
    assert_eq!(text, want);
    assert_eq!(env.ok(&["cat", d, "/dat.json"]), want.as_bytes());

    // Only the title changes; a key of the user's stays where it was.
    let edited = text.replacen('{', "{\n  \"license\": \"CC-BY-4.0\",", 1);
    std::fs::write(dir.join("dat.json"), &edited).unwrap();
    env.ok(&["create", d, "--title", "Ocean temperatures"]);
    let text = std::fs::read_to_string(dir.join("dat.json")).unwrap();
    let json: Json = serde_json::from_str(&text).unwrap();
    assert_eq!(json["title"], "Ocean temperatures");
    assert_eq!(json["description"], "ünïcode");
    assert_eq!(json["license"], "CC-BY-4.0");
    assert!(text.starts_with("{\n  \"license\""), "{text}");
    assert_eq!(env.ok(&["cat", d, "/dat.json"]), text.as_bytes());

    // Without the flags, dat.json is not touched.
    env.ok(&["create", d]);
    assert_eq!(std::fs::read_to_string(dir.join("dat.json")).unwrap(), text);

    // A dat.json that is not a JSON object is refused by name, and left as it was.
    for bad in ["[1, 2]", "{\"title\": ", "\u{0}\u{ff}"] {
        std::fs::write(dir.join("dat.json"), bad).unwrap();
        let out = env.run(&["create", d, "--title", "x"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("dat.json"),
            "{bad:?}: {err}"
        );
        assert_eq!(std::fs::read_to_string(dir.join("dat.json")).unwrap(), bad);
    }
}
