//! The control-socket commands: `status`, `bans`, `ban`, `unban`, `reload`.
//! (Being built with the daemon.)

use crate::exit::ExitCode;

macro_rules! not_yet {
    ($args:ident, $f:ident, $name:literal) => {
        /// Flags of this control command.
        #[derive(clap::Args)]
        pub struct $args {}

        /// Sends this command to the daemon.
        pub fn $f(_args: $args) -> anyhow::Result<ExitCode> {
            anyhow::bail!(concat!("`tollguard ", $name, "` is not built yet"))
        }
    };
}

not_yet!(StatusArgs, status, "status");
not_yet!(BansArgs, bans, "bans");
not_yet!(BanArgs, ban, "ban");
not_yet!(UnbanArgs, unban, "unban");
not_yet!(ReloadArgs, reload, "reload");
