//! The `dat` command line: a thin shell over the dat-rs libraries. Each command is one file in
//! `commands/` that maps parsed flags to library calls and renders human or `--json` output.

mod commands;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Share, clone and version folders of data with the Dat protocol.
#[derive(Parser, Debug)]
#[command(name = "dat", version, about, propagate_version = true)]
struct Cli {
    /// Print machine-readable JSON lines instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Print nothing but errors (no progress).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the archive's link (public key) and discovery key.
    Keys(commands::keys::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = output::Output::new(cli.json, cli.quiet);
    let result = match cli.command {
        Command::Keys(args) => commands::keys::run(args, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            out.error(&err);
            ExitCode::FAILURE
        }
    }
}
