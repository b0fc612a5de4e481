//! The `dat` command line.

use clap::Parser;

/// Share, clone and version folders of data with the Dat protocol.
#[derive(Parser, Debug)]
#[command(name = "dat", version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}
