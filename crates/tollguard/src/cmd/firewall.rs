//! `tollguard firewall …`. (Being built: see the issue for this command.)

use crate::exit::ExitCode;

/// The `tollguard firewall` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {}

/// Runs a `tollguard firewall` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {}
}
