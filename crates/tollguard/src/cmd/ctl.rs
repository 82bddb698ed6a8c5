//! The control-socket commands: `status`, `bans`, `ban`, `unban`, `reload`.
//!
//! Each finds the socket from `--socket`, else from `--config`'s `[daemon] socket`, else from
//! the default configuration file if it exists, else `/run/tollguard.sock`; sends one request
//! (`tg_daemon::protocol`) and prints the answer.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use tg_daemon::protocol::{self, BanView, Request, Response, StatusReport};

use crate::exit::ExitCode;
use crate::sanitize::sanitize;

const DEFAULT_CONFIG: &str = "/etc/tollguard/tollguard.toml";
const DEFAULT_SOCKET: &str = "/run/tollguard.sock";
/// A reload re-reads and rebuilds everything; the rest answer in milliseconds.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Where the daemon listens.
#[derive(clap::Args)]
pub struct Target {
    /// The control socket (default: `[daemon] socket` of the configuration, else /run/tollguard.sock).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Configuration file whose `[daemon] socket` to use.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl Target {
    fn socket(&self) -> anyhow::Result<PathBuf> {
        if let Some(s) = &self.socket {
            return Ok(s.clone());
        }
        let config = match &self.config {
            Some(c) => Some(c.clone()),
            None => Some(PathBuf::from(DEFAULT_CONFIG)).filter(|p| p.is_file()),
        };
        match config {
            Some(c) => Ok(tg_config::Config::load(&c)?.daemon.socket),
            None => Ok(PathBuf::from(DEFAULT_SOCKET)),
        }
    }

    fn call(&self, request: &Request) -> anyhow::Result<Response> {
        let socket = self.socket()?;
        let response = protocol::call(&socket, request, TIMEOUT)?;
        if !response.ok {
            bail!(
                "{}",
                sanitize(response.error.as_deref().unwrap_or("the daemon refused"))
            );
        }
        Ok(response)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Flags of `tollguard status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    target: Target,
    /// Output for people (text) or machines (json).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Flags of `tollguard bans`.
#[derive(clap::Args)]
pub struct BansArgs {
    #[command(flatten)]
    target: Target,
    /// Output for people (text) or machines (json: a list of {ip, jail, since, until, reason, count}).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Flags of `tollguard ban`.
#[derive(clap::Args)]
pub struct BanArgs {
    #[command(flatten)]
    target: Target,
    /// The address to ban (IPv4 or IPv6).
    ip: String,
    /// How long (e.g. 30m, 1h, 7d; default 1d).
    #[arg(long = "for", value_name = "DUR")]
    duration: Option<String>,
}

/// Flags of `tollguard unban`.
#[derive(clap::Args)]
pub struct UnbanArgs {
    #[command(flatten)]
    target: Target,
    /// The address (or banned prefix, e.g. 2001:db8:1:2::/64) to unban.
    ip: String,
}

/// Flags of `tollguard reload`.
#[derive(clap::Args)]
pub struct ReloadArgs {
    #[command(flatten)]
    target: Target,
}

/// `tollguard status`.
pub fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let response = args.target.call(&Request::Status)?;
    let status = response.status.context("the daemon sent no status")?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&status)?)?,
        Format::Text => print_status(&mut out, &status)?,
    }
    Ok(ExitCode::Success)
}

fn print_status(out: &mut impl Write, s: &StatusReport) -> std::io::Result<()> {
    let c = &s.counters;
    writeln!(
        out,
        "tollguard {} (pid {}), up {}",
        s.version,
        s.pid,
        tg_model::format_duration(s.uptime_secs)
    )?;
    writeln!(out, "config:      {}", sanitize(&s.config))?;
    writeln!(out, "jails:       {}", s.jails.join(", "))?;
    writeln!(out, "trusted:     {} network(s)", s.trusted)?;
    writeln!(out, "active bans: {}", s.active_bans)?;
    writeln!(
        out,
        "lines:       {} ({} bytes), {} too long",
        c.lines, c.bytes, c.long_lines
    )?;
    writeln!(
        out,
        "findings:    {} ({} trusted, {} suspicious, {} settled by conntrack, {} external)",
        c.findings, c.trusted_findings, c.suspicious, c.resolved, c.external_findings
    )?;
    writeln!(
        out,
        "bans:        {} decided, {} applied in {} batch(es), {} error(s), {} unban(s)",
        c.decisions, c.bans_applied, c.ban_batches, c.ban_errors, c.unbans
    )?;
    writeln!(
        out,
        "restored:    {} at start ({})",
        c.restored,
        if c.restore_ms < 0 {
            "running".to_string()
        } else {
            format!("{} ms", c.restore_ms)
        }
    )?;
    writeln!(
        out,
        "rotations:   {} rename/recreate, {} truncation(s); {} reload(s)",
        c.rotations, c.truncations, c.reloads
    )?;
    writeln!(
        out,
        "memory:      {} tracked, {} evicted at max_tracked; {} aggregated (full set); {} old histories forgotten",
        c.tracked, c.evicted, c.aggregated, c.offenders_forgotten
    )?;
    if c.guard_restarts > 0 {
        writeln!(
            out,
            "call guard:  failed and restarted {} time(s) (see the daemon's log)",
            c.guard_restarts
        )?;
    }
    for f in &s.files {
        writeln!(
            out,
            "  {} {} offset {} lines {}",
            if f.open { "open   " } else { "missing" },
            sanitize(&f.path),
            f.offset,
            f.lines
        )?;
    }
    if !s.journal.is_empty() {
        writeln!(
            out,
            "journal:     {} ({} entries)",
            s.journal.join(" + "),
            c.journal_entries
        )?;
    }
    Ok(())
}

/// `tollguard bans`.
pub fn bans(args: BansArgs) -> anyhow::Result<ExitCode> {
    let response = args.target.call(&Request::Bans)?;
    let bans = response.bans.unwrap_or_default();
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&bans)?)?,
        Format::Text => print_bans(&mut out, &bans)?,
    }
    Ok(ExitCode::Success)
}

fn print_bans(out: &mut impl Write, bans: &[BanView]) -> std::io::Result<()> {
    if bans.is_empty() {
        return writeln!(out, "no active bans");
    }
    let ipw = bans.iter().map(|b| b.ip.len()).max().unwrap_or(2).max(2);
    let jw = bans.iter().map(|b| b.jail.len()).max().unwrap_or(4).max(4);
    writeln!(
        out,
        "{:ipw$}  {:jw$}  {:20}  {:20}  {:>5}  REASON",
        "IP", "JAIL", "SINCE", "UNTIL", "COUNT"
    )?;
    for b in bans {
        writeln!(
            out,
            "{:ipw$}  {:jw$}  {:20}  {:20}  {:>5}  {}",
            b.ip,
            sanitize(&b.jail),
            b.since,
            b.until,
            b.count,
            sanitize(&b.reason)
        )?;
    }
    Ok(())
}

/// `tollguard ban IP [--for DUR]`.
pub fn ban(args: BanArgs) -> anyhow::Result<ExitCode> {
    let ip = parse_ip(&args.ip)?;
    let secs = match &args.duration {
        Some(d) => Some(tg_model::parse_duration(d)?),
        None => None,
    };
    if secs == Some(0) {
        bail!("--for must be longer than 0s");
    }
    print_done(args.target.call(&Request::Ban { ip, secs })?)
}

/// `tollguard unban IP|PREFIX`.
pub fn unban(args: UnbanArgs) -> anyhow::Result<ExitCode> {
    let ip = tg_model::parse_net(args.ip.trim()).with_context(|| {
        format!(
            "{:?} is not an IPv4 or IPv6 address or prefix",
            sanitize(&args.ip)
        )
    })?;
    print_done(args.target.call(&Request::Unban { ip })?)
}

/// `tollguard reload`.
pub fn reload(args: ReloadArgs) -> anyhow::Result<ExitCode> {
    print_done(args.target.call(&Request::Reload)?)
}

fn parse_ip(text: &str) -> anyhow::Result<IpAddr> {
    text.trim()
        .parse()
        .with_context(|| format!("{:?} is not an IPv4 or IPv6 address", sanitize(text)))
}

fn print_done(response: Response) -> anyhow::Result<ExitCode> {
    if let Some(m) = response.message {
        writeln!(std::io::stdout().lock(), "{}", sanitize(&m))?;
    }
    Ok(ExitCode::Success)
}
