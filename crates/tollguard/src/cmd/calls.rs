//! `tollguard calls …`: flags and printing. The work is in `tg-cdr` (report) and `tg-guard` (live guard).
//!
//! `calls report` exits 0 when no alarm is high or critical, 1 when one is, 2 when the call
//! records or the configuration cannot be read (the message names the file and line).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use tg_config::calls::CallsConfig;
use tg_config::Config;

use crate::exit::ExitCode;
use crate::sanitize::sanitize;

/// The `tollguard calls` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Read call records (cdr-csv Master.csv, plain or .gz): per-day volume, destinations,
    /// fraud alarms with evidence. Exit 1 when an alarm is high or critical.
    Report(ReportArgs),
    /// Run the live call guard alone (the daemon runs it too): follow calls over AMI, hang up
    /// fraudulent ones, send alerts.
    Guard(GuardArgs),
}

/// Output formats of `tollguard calls report`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    /// A per-day bar chart, destinations and alarms with evidence.
    Text,
    /// `{"days": [...], "destinations": [...], "alarms": [...], "skipped": N, ...}`.
    Json,
}

/// Flags of `tollguard calls report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// The call records: Asterisk's cdr-csv Master.csv (any layout), plain or gzip; `-` for stdin.
    #[arg(long, value_name = "FILE")]
    pub cdr: PathBuf,
    /// Report days from this date on (YYYY-MM-DD); earlier records still teach the baselines.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also write a self-contained HTML report with charts to OUT.
    #[arg(long, value_name = "OUT")]
    pub html: Option<PathBuf>,
    /// The configuration (for `[calls]`: home country, prefixes, business hours); defaults
    /// apply without one.
    #[arg(long, value_name = "F")]
    pub config: Option<PathBuf>,
}

/// Flags of `tollguard calls guard`.
#[derive(clap::Args)]
pub struct GuardArgs {
    /// The configuration with `[calls.ami]`, `[calls.guard]` and `[alerts]`.
    #[arg(
        long,
        value_name = "F",
        default_value = "/etc/tollguard/tollguard.toml"
    )]
    pub config: PathBuf,
}

/// Runs a `tollguard calls` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Report(args) => report(args),
        Command::Guard(args) => guard(args),
    }
}

fn load(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    match path {
        Some(p) => Config::load(p).map_err(|e| anyhow::anyhow!("{e}")),
        None => Ok(Config::default()),
    }
}

fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let config = load(args.config.as_ref())?;
    let calls = config.calls.clone().unwrap_or_default();
    let since = match &args.since {
        Some(s) => Some(
            tg_model::civil::parse_date(s)
                .with_context(|| format!("--since {s:?}: expected YYYY-MM-DD"))?,
        ),
        None => None,
    };
    let report = build(&calls, &args, since)?;
    if let Some(out) = &args.html {
        let title = args.cdr.display().to_string();
        std::fs::write(out, tg_cdr::html::html(&report, &title))
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Text => {
            let width = std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(100);
            for line in tg_cdr::render::text(&report, width).lines() {
                writeln!(stdout, "{}", sanitize(line))?;
            }
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            writeln!(stdout)?;
        }
    }
    stdout.flush()?;
    let high = report
        .worst()
        .is_some_and(|s| s >= tg_cdr::report::Severity::High);
    Ok(if high {
        ExitCode::Findings
    } else {
        ExitCode::Success
    })
}

fn build(
    calls: &CallsConfig,
    args: &ReportArgs,
    since: Option<i64>,
) -> anyhow::Result<tg_cdr::report::Report> {
    let plan = tg_office::classify::Dialplan::from_config(calls)?;
    let classifier = tg_office::classify::Classifier::new(plan);
    let opts = tg_cdr::report::ReportOptions::from_config(calls, since)?;
    Ok(tg_cdr::report::report_file(&args.cdr, classifier, opts)?)
}

fn guard(args: GuardArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    tg_guard::guard::run_standalone(&config)?;
    Ok(ExitCode::Success)
}
