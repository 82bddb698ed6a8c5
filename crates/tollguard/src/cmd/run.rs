//! `tollguard run`. (Being built: see the issue for this command.)

use crate::exit::ExitCode;

/// Flags of `tollguard run`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `tollguard run`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`tollguard run` is not built yet")
}
