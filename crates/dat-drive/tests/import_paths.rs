//! `import_paths` (what a folder watcher reported) against `import` (a whole walk): after any
//! sequence of changes to a folder, importing only the changed paths leaves the archive
//! holding exactly what a whole import would, with the same counts.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use dat_core::KeyPair;
use dat_drive::{Archive, ImportOptions, ImportReport, import, import_paths};
use proptest::prelude::*;

/// Every file of the latest version: path → bytes.
fn files(a: &Archive) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![String::new()];
    while let Some(dir) = stack.pop() {
        let tree = a.latest().unwrap();
        let names = tree
            .readdir(&format!("{dir}/"))
            .unwrap()
            .unwrap_or_default();
        for name in names {
            let path = format!("{dir}/{name}");
            match tree.get(&path).unwrap() {
                Some(st) if st.is_file() => {
                    let mut bytes = Vec::new();
                    a.read_file(a.version(), &path)
                        .unwrap()
                        .read_to_end(&mut bytes)
                        .unwrap();
                    out.insert(path, bytes);
                }
                _ => stack.push(path),
            }
        }
    }
    out
}

fn counts(r: &ImportReport) -> (u64, u64, u64, u64) {
    (r.added, r.updated, r.deleted, r.bytes)
}

/// One change to the folder: the paths a watcher reports for it.
#[derive(Clone, Debug)]
enum Op {
    Write { path: String, len: usize },
    Remove { path: String },
    Rename { from: String, to: String },
    RemoveDir { dir: String },
}

fn rel_path() -> impl Strategy<Value = String> {
    // Few names so that operations meet: folders a/b/c, hidden and ignored names too.
    let part = prop::sample::select(vec!["a", "b", "c", ".h", "x.log", "f1", "f2"]);
    prop::collection::vec(part, 1..4).prop_map(|parts| parts.join("/"))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (rel_path(), 0usize..3000).prop_map(|(path, len)| Op::Write { path, len }),
        2 => rel_path().prop_map(|path| Op::Remove { path }),
        2 => (rel_path(), rel_path()).prop_map(|(from, to)| Op::Rename { from, to }),
        1 => rel_path().prop_map(|dir| Op::RemoveDir { dir }),
    ]
}

/// Apply `op` to `root`; returns the paths a watcher would report (empty when the change
/// was impossible, e.g. a file where a folder is needed).
fn apply(root: &Path, op: &Op, seq: u8) -> Vec<String> {
    match op {
        Op::Write { path, len } => {
            let p = root.join(path);
            if p.is_dir() {
                return vec![];
            }
            let mut created = vec![];
            let mut dir = p.parent().unwrap().to_path_buf();
            while dir != root && !dir.exists() {
                created.push(
                    dir.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
                dir = dir.parent().unwrap().to_path_buf();
            }
            if std::fs::create_dir_all(p.parent().unwrap()).is_err() {
                return vec![];
            }
            let data: Vec<u8> = (0..*len).map(|i| (i as u8) ^ seq).collect();
            if std::fs::write(&p, data).is_err() {
                return vec![];
            }
            // A watcher reports a new folder (not its contents: it was not watched yet).
            match created.last() {
                Some(top) => vec![top.clone()],
                None => vec![path.clone()],
            }
        }
        Op::Remove { path } => match std::fs::remove_file(root.join(path)) {
            Ok(()) => vec![path.clone()],
            Err(_) => vec![],
        },
        Op::RemoveDir { dir } => {
            let p = root.join(dir);
            if p.is_dir() && std::fs::remove_dir_all(&p).is_ok() {
                vec![dir.clone()]
            } else {
                vec![]
            }
        }
        Op::Rename { from, to } => {
            let (f, t) = (root.join(from), root.join(to));
            if !f.exists() || t.exists() || t.starts_with(&f) || !t.parent().unwrap().is_dir() {
                return vec![];
            }
            match std::fs::rename(&f, &t) {
                Ok(()) => vec![from.clone(), to.clone()],
                Err(_) => vec![],
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn importing_changed_paths_equals_importing_everything(
        setup in prop::collection::vec(op(), 0..12),
        rounds in prop::collection::vec(prop::collection::vec(op(), 1..6), 1..5),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("folder");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join(".datignore"), "*.log\n").unwrap();
        for op in &setup {
            apply(&root, op, 1);
        }
        let opts = ImportOptions::default();
        let mut targeted = Archive::in_memory(KeyPair::generate().unwrap()).unwrap();
        let mut whole = Archive::in_memory(KeyPair::generate().unwrap()).unwrap();
        import(&mut targeted, &root, &opts).unwrap();
        import(&mut whole, &root, &opts).unwrap();
        for (n, round) in rounds.iter().enumerate() {
            let mut changed = Vec::new();
            for op in round {
                changed.extend(apply(&root, op, n as u8 + 2));
            }
            // Same-size rewrites within one mtime tick are invisible to both imports alike.
            let a = import_paths(&mut targeted, &root, &changed, &opts).unwrap();
            let b = import(&mut whole, &root, &opts).unwrap();
            prop_assert_eq!(counts(&a), counts(&b), "round {} changed {:?}", n, changed);
            prop_assert_eq!(files(&targeted), files(&whole));
        }
    }
}

#[test]
fn ignored_folders_and_datignore_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("build/out")).unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join(".datignore"), "build/\n").unwrap();
    std::fs::write(root.join("src/a.rs"), "a").unwrap();
    let opts = ImportOptions::default();
    let mut a = Archive::in_memory(KeyPair::generate().unwrap()).unwrap();
    import(&mut a, root, &opts).unwrap();

    // Inside an ignored folder, hidden, or the folder itself: nothing.
    std::fs::write(root.join("build/out/x.o"), "x").unwrap();
    std::fs::write(root.join(".secret"), "s").unwrap();
    let r = import_paths(&mut a, root, &["build/out/x.o", ".secret", "build"], &opts).unwrap();
    assert_eq!(counts(&r), (0, 0, 0, 0));

    // `.datignore` changed: everything is looked at again.
    std::fs::write(root.join(".datignore"), "").unwrap();
    let r = import_paths(&mut a, root, &[".datignore"], &opts).unwrap();
    assert_eq!(r.added, 1, "{r:?}");
    assert!(files(&a).contains_key("/build/out/x.o"));
}
