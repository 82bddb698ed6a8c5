//! `tollguard audit`: flags and printing. The work is in `tg-audit`.

use std::io::Write;
use std::path::PathBuf;

use crate::exit::ExitCode;

/// Output formats of `tollguard audit`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    /// For people: grouped by severity, each with where, why and the fix.
    Text,
    /// `{"findings": [{id, category, severity, file, line, title, why, fix}], "score", …}`.
    Json,
    /// SARIF 2.1.0, for CI code-scanning dashboards.
    Sarif,
}

/// Flags of `tollguard audit`.
#[derive(clap::Args)]
#[command(
    after_help = "Exit status: 0 when no finding is high or critical, 1 otherwise, 2 when a \
configuration file cannot be read (the message names file and line).\n\
Score: 100 - 25 per critical - 10 per high - 4 per medium - 1 per low finding, not below 0.\n\
Every check, its category and severity: crates/tg-audit/CHECKS.md."
)]
pub struct Args {
    /// Audit the machine as if DIR were `/` (a copy, a mounted image, a test tree).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// The Asterisk version to check against the advisory table (default: ask
    /// `/usr/sbin/asterisk -V`, only when --root is `/`).
    #[arg(long, value_name = "V")]
    pub asterisk_version: Option<String>,
}

/// Runs `tollguard audit`: exit 0 when nothing high or critical, 1 otherwise, 2 when the
/// configuration cannot be read (the message names file and line).
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut opts = tg_audit::Options::new(&args.root);
    opts.asterisk_version = args.asterisk_version;
    // Paths in messages are machine paths ("/etc/asterisk/sip.conf"); say where they live.
    let report = tg_audit::audit(&opts).map_err(|e| {
        if args.root == std::path::Path::new("/") {
            anyhow::Error::new(e)
        } else {
            anyhow::Error::new(e).context(format!("auditing --root {}", args.root.display()))
        }
    })?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Text => out.write_all(tg_audit::render::text(&report).as_bytes())?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &tg_audit::render::json(&report))?;
            writeln!(out)?;
        }
        Format::Sarif => {
            serde_json::to_writer_pretty(&mut out, &tg_audit::render::sarif(&report))?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(if report.needs_action() {
        ExitCode::Findings
    } else {
        ExitCode::Success
    })
}
