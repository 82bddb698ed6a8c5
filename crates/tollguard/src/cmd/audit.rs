//! `tollguard audit`. (Being built: see the issue for this command.)

use crate::exit::ExitCode;

/// Flags of `tollguard audit`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `tollguard audit`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`tollguard audit` is not built yet")
}
