//! `tollguard firewall render|apply|confirm|rollback|status|refresh --config F`: flags and
//! printing; the work is in tg-firewall.
//!
//! `apply` arms a watchdog (a detached `tollguard firewall watchdog …` process) that rolls the
//! policy back unless `confirm` runs within `--confirm-within`. Trusted host names are resolved
//! once by `apply`; `refresh` (or `apply --watch`) keeps re-resolving them on their DNS TTL.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use tg_config::Config;
use tg_firewall::dns::{self, NameResolver, Refresher};
use tg_firewall::lockout::{self, LocalTime, SshSession};
use tg_firewall::policy::Policy;
use tg_firewall::render;
use tg_firewall::state::{self, StateDir};
use tg_nft::Nft;

use crate::exit::ExitCode;
use crate::sanitize::sanitize;

const DEFAULT_CONFIG: &str = "/etc/tollguard/tollguard.toml";

/// `--config`, shared by every subcommand.
#[derive(clap::Args)]
pub struct ConfigArg {
    /// The configuration file.
    #[arg(long, short = 'c', default_value = DEFAULT_CONFIG)]
    config: PathBuf,
}

/// The `tollguard firewall` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Print the complete nftables script the policy compiles to (names resolved now).
    Render(ConfigArg),
    /// Load the policy atomically; it is rolled back unless confirmed in time.
    Apply(ApplyArgs),
    /// Keep an applied policy (stops the automatic rollback).
    Confirm(ConfigArg),
    /// Restore the policy that was loaded before the last apply.
    Rollback(ConfigArg),
    /// Show each rule with its packet counter, and the trusted names with their addresses.
    Status(ConfigArg),
    /// Keep re-resolving trusted host names on their DNS TTL and update the kernel sets
    /// (runs until stopped).
    Refresh(ConfigArg),
    /// The rollback watchdog started by `apply` (internal).
    #[command(hide = true)]
    Watchdog(WatchdogArgs),
}

/// Flags of `tollguard firewall apply`.
#[derive(clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Roll back by itself unless `tollguard firewall confirm` runs within this time
    /// (`60s`, `5m`; `0` applies without a rollback).
    #[arg(long, default_value = "60s", value_parser = parse_secs)]
    confirm_within: u64,
    /// Apply even if the policy would lock out this SSH session or leaves no way in for SSH.
    #[arg(long)]
    force: bool,
    /// After applying, stay in the foreground re-resolving trusted names (like `refresh`).
    #[arg(long)]
    watch: bool,
}

/// Flags of the hidden watchdog.
#[derive(clap::Args)]
pub struct WatchdogArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The apply to watch.
    #[arg(long)]
    id: String,
    /// Seconds to wait for its confirmation.
    #[arg(long)]
    after: u64,
}

fn parse_secs(s: &str) -> Result<u64, String> {
    if s == "0" {
        return Ok(0);
    }
    tg_model::parse_duration(s).map_err(|e| e.to_string())
}

/// Runs a `tollguard firewall` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Render(a) => render_cmd(&a.config),
        Command::Apply(a) => apply_cmd(a),
        Command::Confirm(a) => {
            let (config, _) = load(&a.config)?;
            let dir = state_dir(&config);
            if state::confirm(&dir)? {
                println!("confirmed: the firewall policy stays");
            } else {
                println!("nothing to confirm (no apply is waiting)");
            }
            Ok(ExitCode::Success)
        }
        Command::Rollback(a) => {
            let (config, _) = load_only(&a.config)?;
            let what = state::rollback(&Nft::locate()?, &state_dir(&config))?;
            println!("rollback: {what}");
            Ok(ExitCode::Success)
        }
        Command::Status(a) => status_cmd(&a.config),
        Command::Refresh(a) => {
            let (config, text) = load(&a.config)?;
            let policy = Policy::build(&config, &text, &a.config)?;
            refresh_forever(&config, policy)
        }
        Command::Watchdog(a) => {
            let (config, _) = load_only(&a.config.config)?;
            state::watchdog(
                &Nft::locate()?,
                &state_dir(&config),
                &a.id,
                Duration::from_secs(a.after),
            )?;
            Ok(ExitCode::Success)
        }
    }
}

/// Reads the config, then rolls back an apply whose watchdog is gone (see
/// [`roll_back_expired`]).
fn load(path: &Path) -> anyhow::Result<(Config, String)> {
    let (config, text) = load_only(path)?;
    roll_back_expired(&config)?;
    Ok((config, text))
}

fn load_only(path: &Path) -> anyhow::Result<(Config, String)> {
    Ok(Config::load_with_text(path)?)
}

fn state_dir(config: &Config) -> StateDir {
    StateDir::new(&config.daemon.state_dir)
}

/// Builds the policy, resolves its names and renders it.
fn prepare(path: &Path) -> anyhow::Result<(Config, Policy, dns::Resolved, render::Script)> {
    let (config, text) = load(path)?;
    let policy = Policy::build(&config, &text, path)?;
    let resolved = if policy.trusted_names.is_empty() {
        dns::Resolved::new()
    } else {
        dns::resolve_all(
            &NameResolver::new(&policy.dns_servers)?,
            &policy.trusted_names,
        )?
        .0
    };
    let script = render::render(&policy, &resolved);
    Ok((config, policy, resolved, script))
}

fn render_cmd(path: &Path) -> anyhow::Result<ExitCode> {
    let (_, _, _, script) = prepare(path)?;
    std::io::stdout().write_all(script.text.as_bytes())?;
    Ok(ExitCode::Success)
}

fn apply_cmd(a: ApplyArgs) -> anyhow::Result<ExitCode> {
    let path = std::path::absolute(&a.config.config).unwrap_or(a.config.config.clone());
    let (config, policy, resolved, script) = prepare(&path)?;

    let mut refusals = Vec::new();
    if let Some(why) = policy.ssh_way_in() {
        refusals.push(why);
    }
    if let Some(session) = std::env::var("SSH_CONNECTION")
        .ok()
        .as_deref()
        .and_then(SshSession::parse)
    {
        let iface = lockout::interface_of(session.server);
        if let Some(why) = lockout::session_cut_off(
            &policy,
            &resolved,
            &session,
            iface.as_deref(),
            LocalTime::now(),
        ) {
            refusals.push(why);
        }
    }
    if !refusals.is_empty() {
        if !a.force {
            return Err(tg_firewall::FwError::Lockout {
                detail: refusals.join("; "),
            }
            .into());
        }
        for why in &refusals {
            eprintln!("tollguard: warning (--force): {}", sanitize(why));
        }
    }

    let nft = Nft::locate()?;
    let dir = state_dir(&config);
    let confirm = (a.confirm_within > 0).then(|| Duration::from_secs(a.confirm_within));
    let exe = std::env::current_exe().context("finding the tollguard binary for the watchdog")?;
    let applied = state::apply(&nft, &dir, &script, &resolved, confirm, |id| {
        let args: Vec<OsString> = vec![
            "firewall".into(),
            "watchdog".into(),
            "--config".into(),
            path.clone().into(),
            "--id".into(),
            id.into(),
            "--after".into(),
            a.confirm_within.to_string().into(),
        ];
        // Without a watchdog nobody would undo a lockout: nothing is loaded then.
        state::spawn_detached(&exe, &args).map(|_| ())
    })?;
    let open: Vec<String> = policy
        .services
        .iter()
        .filter(|s| !s.zones.is_empty())
        .map(|s| {
            format!(
                "{} ({})",
                s.name,
                s.zones
                    .iter()
                    .map(|z| z.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    // The policy is loaded and its watchdog armed: a reader that went away (`apply | head`)
    // must not turn this into a failure, so what follows ignores stdout's errors.
    say(format_args!("applied: {}", sanitize(&open.join("; "))));
    for (name, addrs) in &resolved {
        let list: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
        say(format_args!(
            "trusted {} = {}",
            sanitize(name),
            list.join(", ")
        ));
    }
    if applied.pending_id.is_some() {
        say(format_args!(
            "run `tollguard firewall confirm --config {}` within {}s, or this policy is rolled back",
            path.display(),
            a.confirm_within
        ));
    }
    if a.watch {
        return refresh_forever(&config, policy);
    }
    Ok(ExitCode::Success)
}

/// One line on stdout, ignoring a reader that went away.
fn say(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Rolls back an apply left pending past its deadline (its watchdog died with the machine or
/// was killed), saying so on stderr; every firewall command and `tollguard run` start with it.
pub fn roll_back_expired(config: &Config) -> anyhow::Result<()> {
    let dir = state_dir(config);
    if dir.pending()?.is_none() {
        return Ok(());
    }
    if let Some(what) = state::rollback_if_expired(&Nft::locate()?, &dir)? {
        eprintln!("tollguard: {}", sanitize(&what));
    }
    Ok(())
}

fn refresh_forever(config: &Config, policy: Policy) -> anyhow::Result<ExitCode> {
    let dir = state_dir(config);
    let current = dir.names()?;
    let names: Vec<String> = policy
        .trusted_names
        .iter()
        .map(|n| n.name.clone())
        .collect();
    if names.is_empty() {
        println!("no trusted host names to refresh");
        return Ok(ExitCode::Success);
    }
    let mut refresher = Refresher::new(policy, Nft::locate()?, current)?
        .record_to(dir)
        .on_report(|line| eprintln!("tollguard firewall refresh: {}", sanitize(line)));
    println!(
        "refreshing {} trusted name(s): {}",
        names.len(),
        sanitize(&names.join(", "))
    );
    let _ = std::io::stdout().flush();
    // Runs until the process is stopped (SIGTERM/SIGINT end it; the kernel sets stay as they are).
    refresher.run(&AtomicBool::new(false));
    Ok(ExitCode::Success)
}

fn status_cmd(path: &Path) -> anyhow::Result<ExitCode> {
    let (config, _) = load(path)?;
    let st = tg_firewall::status::status(&Nft::locate()?, &state_dir(&config))?;
    let mut out = std::io::stdout().lock();
    if !st.loaded {
        writeln!(out, "firewall: no policy loaded")?;
    }
    if let Some(secs) = st.pending_secs {
        writeln!(
            out,
            "firewall: waiting for `tollguard firewall confirm`: rolled back in {secs}s"
        )?;
    }
    let mut chain = "";
    for r in &st.rules {
        if r.chain != chain {
            chain = &r.chain;
            writeln!(out, "{chain}")?;
        }
        match r.packets {
            Some(p) => writeln!(
                out,
                "  {:>12} pkts {:>14} bytes  {}",
                p,
                r.bytes.unwrap_or(0),
                sanitize(&r.comment)
            )?,
            None => writeln!(
                out,
                "  {:>12}      {:>14}        {}",
                "-",
                "-",
                sanitize(&r.comment)
            )?,
        }
    }
    if !st.names.is_empty() {
        writeln!(out, "trusted names")?;
    }
    for n in &st.names {
        let addrs: Vec<String> = n
            .addrs
            .iter()
            .map(|(a, loaded)| {
                if *loaded {
                    a.to_string()
                } else {
                    format!("{a} (not in the kernel set)")
                }
            })
            .collect();
        writeln!(out, "  {} = {}", sanitize(&n.name), addrs.join(", "))?;
    }
    Ok(ExitCode::Success)
}
