//! `tollguard`: the command line. Glue only: parse flags, call the crate that does the work,
//! print, and map the outcome to an exit code (0 fine, 1 findings that need action, 2 bad usage
//! or unreadable input).

// Cargo.toml denies unsafe (the integration tests need it); the binary forbids it.
#![forbid(unsafe_code)]

mod cmd;
mod exit;
mod sanitize;

use std::io::Write;

use clap::{Parser, Subcommand};

use crate::exit::ExitCode;

/// Keeps an Asterisk/FreePBX PBX from being turned into a free international payphone.
#[derive(Parser)]
#[command(name = "tollguard", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read logs offline: who attacked, how, how often, and whom the jails would ban.
    Scan(cmd::scan::Args),
    /// The daemon: follow logs live and ban offenders in the kernel.
    Run(cmd::run::Args),
    /// Ask the running daemon how it is.
    Status(cmd::ctl::StatusArgs),
    /// List the daemon's current bans.
    Bans(cmd::ctl::BansArgs),
    /// Ban an address now.
    Ban(cmd::ctl::BanArgs),
    /// Lift a ban now.
    Unban(cmd::ctl::UnbanArgs),
    /// Make the daemon re-read its configuration.
    Reload(cmd::ctl::ReloadArgs),
    /// The declarative firewall: render, apply (with automatic rollback), confirm, rollback, status.
    #[command(subcommand)]
    Firewall(cmd::firewall::Command),
    /// Read the PBX's configuration and say what would let an attacker phone for free.
    Audit(cmd::audit::Args),
    /// Call records: daily volume, destinations, fraud alarms.
    #[command(subcommand)]
    Calls(cmd::calls::Command),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(a) => cmd::scan::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Status(a) => cmd::ctl::status(a),
        Command::Bans(a) => cmd::ctl::bans(a),
        Command::Ban(a) => cmd::ctl::ban(a),
        Command::Unban(a) => cmd::ctl::unban(a),
        Command::Reload(a) => cmd::ctl::reload(a),
        Command::Firewall(c) => cmd::firewall::run(c),
        Command::Audit(a) => cmd::audit::run(a),
        Command::Calls(c) => cmd::calls::run(c),
    };
    match result {
        Ok(code) => code.into(),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::Success.into();
            }
            let _ = writeln!(std::io::stderr(), "tollguard: {err:#}");
            ExitCode::Error.into()
        }
    }
}

/// A closed stdout (`tollguard scan … | head`) is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
