//! `tollguard scan`: flags, printing and exit codes around [`tg_engine::Replay`], which reads
//! logs offline through the detectors and the jails, on the logs' own clocks, as the daemon
//! would have seen them live (see `tg_engine::replay`). What the replay found comes back as data
//! ([`tg_engine::Summary`], each finding as a [`tg_engine::Event`]); this file prints it, as
//! text for people or JSON for machines, and turns unreadable input into exit status 2.

use std::io::{self, IsTerminal, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::bail;
use serde::Serialize;
use tg_config::Config;
use tg_detect::Detectors;
use tg_engine::report::{iso_time, AmbiguousEvent, Summary};
use tg_engine::trusted::{self, Reason};
use tg_engine::{Event, Inputs, Replay};
use tg_jail::JailSet;
use tg_model::{format_duration, net_text, Kind, Service, TrustedSet};
use tg_source::reader::Input;

use crate::exit::ExitCode;
use crate::sanitize::sanitize;

mod text;

/// Above this much input (bytes on disk) a progress bar is drawn, if stderr is a terminal.
const PROGRESS_THRESHOLD: u64 = 50 * 1024 * 1024;

/// Flags of `tollguard scan`.
#[derive(clap::Args)]
#[command(after_help = "\
Files are read in the order given, except that rotated copies of one log are put oldest first: \
`messages messages.1 messages.2.gz` is read as messages.2.gz, messages.1, messages. \
Gzip is recognised by its content, whatever the name. Lines longer than 64 KiB are skipped \
and counted. A damaged gzip file is read up to the damage; the scan then finishes, reports \
it and exits with status 2.

The jails decide on the logs' own clock: lines without a year get it from the file's \
modification time (stdin: now). The rotated copies of one log are read one after the other; \
different logs (say messages and auth.log) are read side by side and their findings reach the \
jails merged by time, as the daemon would have seen them. [trusted] own_addresses is not \
applied: the logs may come from another machine.")]
pub struct Args {
    /// Configuration file: its jails, trusted addresses and custom detectors are applied
    /// (without it: the built-in jails, nobody trusted).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Also print every finding (one JSON object per line with --format json).
    #[arg(long)]
    events: bool,
    /// Output for people (text) or machines (json).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Log files (plain or gzip), or - for standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Runs `tollguard scan`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let setup = Setup::load(args.config.as_deref())?;
    let inputs = Inputs::open(&args.files)?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));

    let stdout = io::stdout().lock();
    let mut out = io::BufWriter::with_capacity(64 * 1024, stdout);
    let progress = Progress::new(inputs.iter());
    let started = std::time::Instant::now();
    let replay = Replay {
        detectors: &setup.detectors,
        workers,
        on_chunk: &|| progress.advance(),
    };
    let jails = JailSet::new(setup.jails, setup.trusted);
    let summary = replay.run(inputs, jails, &mut |event| match args.events {
        true => print_event(&mut out, event, args.format),
        false => Ok(()),
    })?;
    progress.finish();
    let elapsed = started.elapsed();
    match args.format {
        Format::Json => {
            serde_json::to_writer(&mut out, &SummaryLine { summary: &summary })?;
            writeln!(out)?;
        }
        Format::Text => text::print_text(&mut out, &summary, elapsed.as_secs_f64())?,
    }
    out.flush()?;
    if summary.read_errors.is_empty() {
        return Ok(ExitCode::Success);
    }
    let mut err = io::stderr().lock();
    for e in &summary.read_errors {
        writeln!(err, "tollguard: {}", sanitize(e))?;
    }
    Ok(ExitCode::Error)
}

/// What the configuration contributes: jails, trusted addresses, detectors.
struct Setup {
    jails: Vec<tg_config::jail::Jail>,
    trusted: TrustedSet,
    detectors: Detectors,
}

impl Setup {
    fn load(path: Option<&Path>) -> anyhow::Result<Setup> {
        let Some(path) = path else {
            return Ok(Setup {
                jails: tg_config::jail::builtin_jails(),
                trusted: TrustedSet::new(),
                detectors: Detectors::builtin(),
            });
        };
        // The config's text, for the lines of trusted names; a bad [[detector]] pattern is a
        // config error with its line already.
        let (config, text) = Config::load_with_text(path).map_err(|e| anyhow::anyhow!("{e}"))?;
        let detectors = Detectors::with_custom(&config.detector)
            .map_err(|e| anyhow::anyhow!("{}: [[detector]]: {e}", path.display()))?;
        // [trusted] own_addresses is not applied: the logs may come from another machine. A
        // name that does not resolve is fatal: a scan must not count a trusted partner.
        let trusted = trusted::build(&config.trusted, &trusted::resolve_system, &[]);
        if let Some(u) = trusted.unresolved.first() {
            let line = tg_config::line_of(&text, u.span.start);
            let at = format!("{}:{line}: trusted.addresses", path.display());
            match &u.reason {
                Reason::Lookup(e) => bail!("{at}: cannot resolve host name {:?}: {e}", u.name),
                Reason::NoAddress => bail!("{at}: host name {:?} has no address", u.name),
            }
        }
        Ok(Setup {
            jails: config.jails(),
            trusted: trusted.set,
            detectors,
        })
    }
}

/// Prints one finding or ambiguous line (`--events`): a line of text, or one JSON object.
fn print_event(out: &mut impl Write, e: &Event, format: Format) -> io::Result<()> {
    let e = match e {
        Event::Finding(f) => f,
        Event::Ambiguous(a) => return print_ambiguous(out, a, format),
    };
    let f = e.finding;
    if format == Format::Json {
        let event = EventLine {
            file: e.file,
            line: e.line,
            service: f.service,
            kind: f.kind,
            ip: f.ip,
            time: iso_time(f.time_ms, 'T'),
            trusted: e.trusted.then_some(true),
            jail: e.ban.map(|b| b.jail.as_str()),
            banned: e.ban.map(|_| true),
            ban_secs: e.ban.map(|b| b.ban_secs),
            prefix: e.ban.filter(|b| b.is_prefix()).map(|b| net_text(b.net)),
        };
        serde_json::to_writer(&mut *out, &event)?;
        return writeln!(out);
    }
    write!(
        out,
        "{}:{}  {}  {:<15}  {}/{}",
        sanitize(e.file),
        e.line,
        iso_time(f.time_ms, ' '),
        f.ip,
        f.service,
        f.kind
    )?;
    if e.trusted {
        write!(out, "  (trusted, not counted)")?;
    }
    if let Some(b) = e.ban {
        write!(
            out,
            "  -> banned by jail {} for {}",
            sanitize(&b.jail),
            format_duration(b.ban_secs)
        )?;
        if b.is_prefix() {
            write!(out, " as {}", net_text(b.net))?;
        }
    }
    writeln!(out)
}

/// Prints one ambiguous line (`--events`).
fn print_ambiguous(out: &mut impl Write, a: &AmbiguousEvent, format: Format) -> io::Result<()> {
    if format == Format::Json {
        let event = AmbiguousLine {
            file: a.file,
            line: a.line,
            service: a.service,
            kind: a.kind,
            ambiguous: true,
            candidates: a.candidates,
            time: iso_time(a.time_ms, 'T'),
        };
        serde_json::to_writer(&mut *out, &event)?;
        return writeln!(out);
    }
    let candidates: Vec<String> = a.candidates.iter().map(IpAddr::to_string).collect();
    writeln!(
        out,
        "{}:{}  {}  {}  {}/{}  (ambiguous: the line names each; nobody counted)",
        sanitize(a.file),
        a.line,
        iso_time(a.time_ms, ' '),
        candidates.join(" or "),
        a.service,
        a.kind
    )
}

/// An ambiguous line, as `--events --format json` prints it: no `ip`, its `candidates` instead.
#[derive(Serialize)]
struct AmbiguousLine<'a> {
    file: &'a str,
    line: u64,
    service: Service,
    kind: Kind,
    ambiguous: bool,
    candidates: &'a [IpAddr],
    time: String,
}

/// One finding, as `--events --format json` prints it.
#[derive(Serialize)]
struct EventLine<'a> {
    file: &'a str,
    line: u64,
    service: Service,
    kind: Kind,
    ip: IpAddr,
    time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    trusted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    banned: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ban_secs: Option<u64>,
    /// The prefix banned, when the jail banned the address's prefix rather than the address.
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
}

#[derive(Serialize)]
struct SummaryLine<'a> {
    summary: &'a Summary,
}

/// A progress bar on stderr, only for large inputs on a terminal. Shared by the reading threads.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    consumed: Vec<Arc<AtomicU64>>,
}

impl Progress {
    fn new<'a>(inputs: impl Iterator<Item = &'a Input>) -> Self {
        let mut total = 0;
        let mut consumed = Vec::new();
        for input in inputs {
            total += input.size.unwrap_or(0);
            consumed.push(Arc::clone(&input.consumed));
        }
        let bar = (io::stderr().is_terminal() && total > PROGRESS_THRESHOLD).then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Progress { bar, consumed }
    }

    fn advance(&self) {
        if let Some(bar) = &self.bar {
            bar.set_position(
                self.consumed
                    .iter()
                    .map(|c| c.load(Ordering::Relaxed))
                    .sum(),
            );
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
