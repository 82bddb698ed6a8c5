//! `tollguard calls …`. (Being built: see the issue for this command.)

use crate::exit::ExitCode;

/// The `tollguard calls` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {}

/// Runs a `tollguard calls` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {}
}
