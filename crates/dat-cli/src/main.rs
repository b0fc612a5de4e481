//! The `dat` command line: a thin shell over the dat-rs libraries. Each command is one file in
//! `commands/` that maps parsed flags to library calls and renders human or `--json` output.

mod commands;
mod local;
mod output;
mod progress;

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
    /// Import a folder into a new or existing archive (DIR/.dat) and print its link.
    Create(commands::create::Args),
    /// Print the archive's history: one line per version.
    Log(commands::log::Args),
    /// List a folder of the archive (or stat a file), at any version.
    #[command(disable_version_flag = true)]
    Ls(commands::ls::Args),
    /// Print a file (or a byte range of it) at any version.
    #[command(disable_version_flag = true)]
    Cat(commands::cat::Args),
    /// Print the archive's key, version, size and what is stored locally.
    Status(commands::status::Args),
    /// Check every hash and signature of both feeds.
    Verify(commands::verify::Args),
    /// Write a version of the archive into a folder.
    #[command(disable_version_flag = true)]
    Export(commands::export::Args),
    /// Run a DNS discovery server that peers can announce to and look each other up on.
    DiscoveryServer(commands::discovery_server::Args),
    /// Check which discovery backends answer and which peers they find.
    Doctor(commands::doctor::Args),
    /// Import a folder and serve it to peers, importing changes as they happen.
    Share(commands::share::Args),
    /// Download an archive into a folder (resumes an interrupted clone).
    Clone(commands::clone::Args),
    /// Update a clone to the newest version its peers have, then exit.
    Pull(commands::pull::Args),
    /// Keep a clone connected and live, downloading new versions as they appear.
    Sync(commands::sync::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = output::Output::new(cli.json, cli.quiet);
    let result = match cli.command {
        Command::Keys(args) => commands::keys::run(args, &out),
        Command::Create(args) => commands::create::run(args, &out),
        Command::Log(args) => commands::log::run(args, &out),
        Command::Ls(args) => commands::ls::run(args, &out),
        Command::Cat(args) => commands::cat::run(args, &out),
        Command::Status(args) => commands::status::run(args, &out),
        Command::Verify(args) => commands::verify::run(args, &out),
        Command::Export(args) => commands::export::run(args, &out),
        Command::DiscoveryServer(args) => commands::discovery_server::run(args, &out),
        Command::Doctor(args) => commands::doctor::run(args, &out),
        Command::Share(args) => commands::share::run(args, &out),
        Command::Clone(args) => commands::clone::run(args, &out),
        Command::Pull(args) => commands::pull::run(args, &out),
        Command::Sync(args) => commands::sync::run(args, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            out.error(&err);
            ExitCode::FAILURE
        }
    }
}
