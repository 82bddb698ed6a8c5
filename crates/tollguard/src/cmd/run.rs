//! `tollguard run --config F`: the daemon. Sets up logging to stderr (journald keeps it under
//! systemd) and hands over to `tg_daemon::run`, which returns on SIGTERM or SIGINT.

use std::path::PathBuf;

use anyhow::Context;

use crate::exit::ExitCode;

/// Flags of `tollguard run`.
#[derive(clap::Args)]
#[command(after_help = "\
Follows the jails' log files (and journal matches) live and bans offenders in the kernel \
(nftables sets with timeouts). SIGHUP or `tollguard reload` re-reads the configuration (a bad \
one is refused and the running one kept); SIGTERM stops the daemon, leaving the bans in the \
kernel until they expire. Log verbosity: RUST_LOG (default info).")]
pub struct Args {
    /// Configuration file.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/etc/tollguard/tollguard.toml"
    )]
    config: PathBuf,
}

/// Runs `tollguard run`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    // Settings that weaken the protection are said once at start. An apply left pending by a
    // machine that rebooted before its watchdog acted is undone before protecting the machine
    // with a policy nobody confirmed. A config the daemon cannot read is its own error to
    // report.
    if let Ok(config) = tg_config::Config::load(&args.config) {
        for warning in config.warnings() {
            eprintln!("tollguard: warning: {warning}");
        }
        if let Err(e) = super::firewall::roll_back_expired(&config) {
            eprintln!("tollguard: warning: checking for an unconfirmed firewall apply: {e:#}");
        }
    }
    tg_daemon::run(&args.config)
        .with_context(|| format!("tollguard run --config {}", args.config.display()))?;
    Ok(ExitCode::Success)
}
