//! Random put/delete sequences on random paths against a `BTreeMap<path, seq>` model: at every
//! version, lookups, listings and diffs of the append-tree index agree with the model.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::MemTree;
use dat_drive::{ChangeKind, Diff, Stat};
use proptest::prelude::*;

/// Paths where no file is a prefix of another: directories `a`/`b`/`c`, files `x.f`/`y.f`.
fn path_strategy() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(proptest::sample::select(vec!["a", "b", "c"]), 0..4),
        proptest::sample::select(vec!["x.f", "y.f"]),
    )
        .prop_map(|(dirs, file)| {
            let mut p = String::new();
            for d in dirs {
                p.push('/');
                p.push_str(d);
            }
            p.push('/');
            p.push_str(file);
            p
        })
}

#[derive(Clone, Debug)]
enum Op {
    Put(String),
    /// Delete the n-th live file (mod count), if any.
    Del(usize),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => path_strategy().prop_map(Op::Put),
        1 => any::<usize>().prop_map(Op::Del),
    ]
}

type Model = BTreeMap<String, u64>;

fn children(model: &Model, dir: &str) -> BTreeSet<String> {
    let prefix = if dir == "/" {
        "/".to_string()
    } else {
        format!("{dir}/")
    };
    model
        .keys()
        .filter_map(|k| k.strip_prefix(&prefix))
        .map(|rest| rest.split('/').next().unwrap().to_string())
        .collect()
}

fn all_dirs(model: &Model) -> BTreeSet<String> {
    let mut dirs = BTreeSet::from(["/".to_string(), "/a".into(), "/a/b".into(), "/zz".into()]);
    for k in model.keys() {
        let parts: Vec<&str> = k.split('/').collect();
        for i in 2..parts.len() {
            dirs.insert(parts[..i].join("/"));
        }
    }
    dirs
}

fn check_version(t: &MemTree, version: u64, model: &Model, probes: &BTreeSet<String>) {
    let tree = t.tree(version);
    for p in probes {
        let got = tree
            .entry(p)
            .unwrap()
            .filter(|e| !e.is_deletion())
            .map(|e| e.seq);
        assert_eq!(got, model.get(p).copied(), "get {p} at {version}");
    }
    for dir in all_dirs(model).iter().chain(probes.iter()) {
        let expected = children(model, dir);
        let got = tree.readdir(dir).unwrap();
        if expected.is_empty() && dir != "/" {
            assert!(
                got.is_none() || got.as_ref().unwrap().is_empty(),
                "readdir {dir} at {version}: {got:?}"
            );
        } else {
            let got = got.unwrap_or_else(|| panic!("readdir {dir} at {version} not found"));
            let set: BTreeSet<String> = got.iter().cloned().collect();
            assert_eq!(
                set.len(),
                got.len(),
                "duplicates in readdir {dir} at {version}"
            );
            assert_eq!(set, expected, "readdir {dir} at {version}");
        }
    }
}

fn check_diff(t: &MemTree, from: u64, to: u64, models: &[Model]) {
    let (a, b) = (&models[from as usize], &models[to as usize]);
    let mut puts = BTreeSet::new();
    let mut dels = BTreeSet::new();
    for c in Diff::new(t.tree(from), t.tree(to)) {
        let c = c.unwrap();
        match c.kind {
            ChangeKind::Put if c.stat.is_some() => puts.insert((c.name, c.seq)),
            ChangeKind::Del if c.stat.is_some() => dels.insert((c.name, c.seq)),
            _ => true,
        };
    }
    let exp_puts: BTreeSet<_> = b
        .iter()
        .filter(|(k, v)| a.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let exp_dels: BTreeSet<_> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    assert_eq!(puts, exp_puts, "diff puts {from}->{to}");
    assert_eq!(dels, exp_dels, "diff dels {from}->{to}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn index_matches_model(ops in proptest::collection::vec(op_strategy(), 1..40), pairs in proptest::collection::vec((any::<u16>(), any::<u16>()), 8)) {
        let mut t = MemTree::default();
        let mut models = vec![Model::new()];
        let mut probes = BTreeSet::new();
        for op in ops {
            let mut model = models.last().unwrap().clone();
            match op {
                Op::Put(p) => {
                    let seq = t.put(&p, Stat::file(0o644, 1, 1, 0, 0, 0));
                    model.insert(p.clone(), seq);
                    probes.insert(p);
                }
                Op::Del(n) => {
                    if model.is_empty() {
                        continue;
                    }
                    let p = model.keys().nth(n % model.len()).unwrap().clone();
                    t.del(&p);
                    model.remove(&p);
                }
            }
            models.push(model);
        }
        for (v, model) in models.iter().enumerate() {
            check_version(&t, v as u64, model, &probes);
        }
        let n = models.len() as u64;
        for (x, y) in pairs {
            check_diff(&t, u64::from(x) % n, u64::from(y) % n, &models);
        }
        check_diff(&t, 0, n - 1, &models);
        check_diff(&t, n - 1, 0, &models);
    }
}
