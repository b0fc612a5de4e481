//! `dat ls [DIR] [PATH] [--version N]`: one folder of an archive at any version (or one file's
//! Stat), read from the folder's own index entries, never the whole archive. With a link
//! (`dat ls dat://KEY[/path] --peer HOST:PORT`) the same lookup runs against peers, fetching
//! only the metadata entries it reads.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use dat_core::DatLink;
use dat_drive::{Archive, DriveError, Entry, Stat, Tree, name};

use super::remote::{self, Remote, RemoteArgs};
use crate::local::{self, Layout};
use crate::output::{Lines, Output, human_bytes, json_string};

/// Flags of `dat ls`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// `[DIR] [PATH]`: the archive's folder (default: the current folder) and the path in the
    /// archive (default `/`). A single argument is the folder if it holds an archive, else a
    /// path in the archive of the current folder. Or `LINK [PATH]`: a remote archive
    /// (`dat://KEY[/path]`), read from the `--peer`s.
    #[arg(value_name = "DIR PATH", num_args = 0..=2)]
    args: Vec<String>,
    /// Show this version (default: the latest).
    #[arg(long, value_name = "N")]
    version: Option<u64>,
    #[command(flatten)]
    remote: RemoteArgs,
}

/// One child of a folder.
#[derive(Debug)]
pub struct Child {
    /// Its name in the folder.
    pub name: String,
    /// Its Stat (a synthetic directory Stat for folders with no entry of their own).
    pub stat: Stat,
    /// The version that last wrote its entry (for folders: the newest entry under them).
    pub version: u64,
}

/// List `args` in the archive.
pub fn run(args: Args, out: &Output) -> anyhow::Result<()> {
    if let Some(first) = args.args.first()
        && args.remote.wants_remote(first)
    {
        return run_remote(&args, out);
    }
    args.remote.check_local()?;
    let (dir, path) = match args.args.as_slice() {
        [] => (".".to_string(), "/".to_string()),
        [one] if Layout::detect(Path::new(one)).is_some() => (one.clone(), "/".to_string()),
        [one] => (".".to_string(), one.clone()),
        [dir, path, ..] => (dir.clone(), path.clone()),
    };
    let local = local::open(Path::new(&dir))?;
    let archive = &local.archive;
    let version = args.version.unwrap_or_else(|| archive.version());
    let path = name::normalize(&path).with_context(|| format!("bad path {path:?}"))?;
    let tree = archive.checkout(version)?;
    let lines = out.lines();
    let result = (|| -> anyhow::Result<()> {
        let Some(items) = listing(&tree, &path)? else {
            bail!("{path} not found at version {version}");
        };
        print(lines, &items)
    })();
    crate::output::ok_if_broken_pipe(result)
}

/// `dat ls LINK [PATH]`: the same listing, from peers.
fn run_remote(args: &Args, out: &Output) -> anyhow::Result<()> {
    let (first, rest) = (&args.args[0], args.args.get(1));
    let link: DatLink = first.parse().context("not a Dat link")?;
    let path = remote::path_of(&link, rest.map(String::as_str))?.unwrap_or_else(|| "/".into());
    let path = name::normalize(&path).with_context(|| format!("bad path {path:?}"))?;
    let remote = Remote::open(link, &args.remote, *out)?;
    let version = remote.version(args.version)?;
    let items = remote.lookup("listing", |a| listing(&a.checkout(version)?, &path))?;
    let Some(items) = items else {
        bail!("{path} not found at version {version}");
    };
    crate::output::ok_if_broken_pipe(print(out.lines(), &items))?;
    remote.report(out, version);
    Ok(())
}

/// What `dat ls` shows of `path` in `tree`: the file itself, or each child of the folder
/// sorted by name, as `(full path, child)`; `None` when nothing is there.
pub fn listing(
    tree: &Tree<'_, Archive>,
    path: &str,
) -> Result<Option<Vec<(String, Child)>>, DriveError> {
    let version = tree.version();
    match tree.stat(path)? {
        None => Ok(None),
        Some(st) if !st.is_directory() => {
            let base = name::split(path).last().copied().unwrap_or("/");
            let seq = tree.entry(path)?.map_or(version, |e| e.seq);
            let me = Child {
                name: base.to_string(),
                stat: st,
                version: seq,
            };
            Ok(Some(vec![(path.to_string(), me)]))
        }
        Some(_) => {
            let mut kids = children(tree, path)?;
            kids.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(Some(
                kids.into_iter()
                    .map(|c| (child_path(path, &c.name), c))
                    .collect(),
            ))
        }
    }
}

fn print(mut lines: Lines, items: &[(String, Child)]) -> anyhow::Result<()> {
    for (full, c) in items {
        print_child(&mut lines, full, &c.name, &c.stat, c.version)?;
    }
    lines.finish()?;
    Ok(())
}

/// `dir/name`.
pub fn child_path(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The children of folder `dir` at the tree's version, from its representatives: a child's
/// own entry when it is the newest under its name (files), else its Stat is looked up.
pub fn children(tree: &Tree<'_, Archive>, dir: &str) -> Result<Vec<Child>, DriveError> {
    let depth = name::split(dir).len();
    let reps: Vec<Arc<Entry>> = tree.list(dir)?;
    let mut out = Vec::with_capacity(reps.len());
    for rep in reps {
        let Some(child) = rep.component(depth) else {
            continue;
        };
        if child == "." || child == ".." || child.is_empty() {
            continue; // hyperdrive's readdir hides these; export refuses them
        }
        let (stat, version) = match rep.stat {
            Some(st) if rep.components.len() == depth + 1 => (st, rep.seq),
            _ => match tree.stat(&child_path(dir, child))? {
                Some(st) => (st, rep.seq),
                None => continue,
            },
        };
        out.push(Child {
            name: child.to_string(),
            stat,
            version,
        });
    }
    Ok(out)
}

fn kind(st: &Stat) -> &'static str {
    if st.is_directory() {
        "directory"
    } else if st.is_file() {
        "file"
    } else if st.mode & dat_drive::stat::IFMT == dat_drive::stat::IFLNK {
        "symlink"
    } else {
        "other"
    }
}

fn print_child(
    lines: &mut Lines,
    path: &str,
    name: &str,
    st: &Stat,
    version: u64,
) -> std::io::Result<()> {
    if lines.json() {
        let mut fields = vec![
            ("name", json_string(name)),
            ("path", json_string(path)),
            ("type", json_string(kind(st))),
            ("version", version.to_string()),
            ("mode", format!("{}", st.mode & 0o7777)),
        ];
        if !st.is_directory() {
            fields.push(("size", st.size().to_string()));
            fields.push(("blocks", st.blocks().to_string()));
        }
        if let Some(m) = st.mtime {
            fields.push(("mtime", m.to_string()));
        }
        lines.record(&fields)
    } else if st.is_directory() {
        lines.line(format!("d {:>10}  {name}/", ""))
    } else {
        let t = if kind(st) == "symlink" { 'l' } else { '-' };
        lines.line(format!("{t} {:>10}  {name}", human_bytes(st.size())))
    }
}
