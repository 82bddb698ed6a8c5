//! `tollguard scan`. (Being built: see the issue for this command.)

use crate::exit::ExitCode;

/// Flags of `tollguard scan`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `tollguard scan`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`tollguard scan` is not built yet")
}
