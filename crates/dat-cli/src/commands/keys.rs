//! `dat keys [DIR]`: the archive's link and discovery key, read from its key files alone
//! (no feed is opened, so this works on a damaged archive too).

use std::path::PathBuf;

use anyhow::{Context, bail};
use dat_core::PublicKey;

use crate::local::Layout;
use crate::output::{Output, json_string};

/// Flags of `dat keys`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The archive's folder (default: the current folder).
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// Print the keys of the archive in `args.dir`.
pub fn run(args: Args, out: &Output) -> anyhow::Result<()> {
    let layout = Layout::detect(&args.dir)
        .with_context(|| format!("no Dat archive here ({})", args.dir.display()))?;
    let sleep = layout.sleep_dir(&args.dir);
    let key = read_key(&sleep.join("metadata.key"))?;
    let content = read_key(&sleep.join("content.key")).ok();
    let dk = key.discovery_key();
    if out.json() {
        let mut fields = vec![
            ("key", json_string(&key.to_hex())),
            ("link", json_string(&format!("dat://{key}"))),
            ("discoveryKey", json_string(&dk.to_hex())),
        ];
        if let Some(c) = content {
            fields.push(("contentKey", json_string(&c.to_hex())));
        }
        out.record(&fields);
    } else {
        out.line(format!("dat://{key}"));
        out.line(format!("discovery key: {dk}"));
        if let Some(c) = content {
            out.line(format!("content key:   {c}"));
        }
    }
    Ok(())
}

fn read_key(path: &std::path::Path) -> anyhow::Result<PublicKey> {
    let bytes =
        std::fs::read(path).with_context(|| format!("no Dat archive here ({})", path.display()))?;
    if bytes.len() != 32 {
        bail!(
            "{} holds {} bytes, a key has 32",
            path.display(),
            bytes.len()
        );
    }
    Ok(PublicKey::from_slice(&bytes)?)
}
