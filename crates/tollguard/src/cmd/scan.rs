//! `tollguard scan`: reads logs offline and says who attacked, how, how often, and whom the jails
//! would have banned.
//!
//! The pipeline is the daemon's, minus enforcement: `tg_source::reader` cuts each input into
//! chunks of whole lines, a pool of worker threads runs `tg_detect` over them, and this thread
//! takes the findings back in input order and feeds them to one `tg_jail::JailSet` on the log's
//! own clock (one `LogClock` per file, anchored at the file's modification time). The rotated
//! copies of one log are read oldest first; several different logs are read side by side and
//! their findings merged by time, so the jails see what the daemon would have seen live. Only
//! findings cross threads, never lines, so memory stays at a few chunk buffers per log plus
//! per-offender counts: the jails are bounded by each jail's `max_tracked`, and the report lists
//! at most [`REPORT_CAP`] offenders (past it, those with the fewest findings and no ban are
//! dropped from the listing and counted, `offenders_not_listed`).

use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
use std::net::{IpAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use serde::Serialize;
use tg_config::trusted::{classify, TrustedEntry};
use tg_config::Config;
use tg_detect::{Detection, Detectors, Outcome};
use tg_jail::{Decision, JailSet, LogClock};
use tg_model::{format_duration, net_text, Finding, Kind, Service, TrustedSet};
use tg_source::reader::{self, ChunkError, ChunkInfo, ChunkReader, Input, Line};

use crate::exit::ExitCode;
use crate::sanitize::sanitize;

/// Chunk size for scan: larger than the reader's default so that the per-chunk hand-offs
/// between threads (a wake-up each) vanish next to the work; one per worker exists.
const SCAN_CHUNK: usize = 1024 * 1024;

/// The text report lists at most this many attackers and bans (JSON lists all of them).
const TEXT_ROWS: usize = 50;
/// The most offenders the report keeps (about 25 MB at ~120 bytes each); past it the ones with
/// the fewest findings, oldest first, that no jail banned are dropped from the listing, an eighth
/// of the cap at a time, and counted. Banned offenders are always kept.
const REPORT_CAP: usize = 200_000;

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
    let groups = open_inputs(&args.files)?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));

    let stdout = io::stdout().lock();
    let mut out = io::BufWriter::with_capacity(64 * 1024, stdout);
    let events = match (args.events, args.format) {
        (false, _) => EventSink::None,
        (true, Format::Text) => EventSink::Text,
        (true, Format::Json) => EventSink::Json,
    };
    let names: Vec<String> = groups
        .iter()
        .flatten()
        .map(|(_, input)| input.path.display().to_string())
        .collect();
    let mut scan = Scan::new(JailSet::new(setup.jails, setup.trusted), events, &names);
    let progress = Progress::new(groups.iter().flatten());
    let started = std::time::Instant::now();
    if groups.len() == 1 {
        scan_in_file_order(
            &mut scan,
            groups,
            &setup.detectors,
            workers,
            &progress,
            &mut out,
        )?;
    } else {
        scan_merged(
            &mut scan,
            groups,
            &setup.detectors,
            workers,
            &progress,
            &mut out,
        )?;
    }
    progress.finish();
    let elapsed = started.elapsed();
    let summary = scan.summary(workers);
    match args.format {
        Format::Json => {
            serde_json::to_writer(&mut out, &SummaryLine { summary: &summary })?;
            writeln!(out)?;
        }
        Format::Text => print_text(&mut out, &summary, elapsed.as_secs_f64())?,
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

/// One log (with its rotated copies): files go to the jails one after the other, on this thread.
fn scan_in_file_order(
    scan: &mut Scan,
    groups: Vec<Vec<(usize, Input)>>,
    detectors: &Detectors,
    workers: usize,
    progress: &Progress,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    for (index, input) in groups.into_iter().flatten() {
        let report = read_file(
            index,
            input,
            detectors,
            workers,
            SCAN_CHUNK,
            progress,
            |batch| batch.into_iter().try_for_each(|t| scan.finding(t, out)),
        )?;
        scan.file_done(report);
    }
    Ok(())
}

/// Several logs (say `messages` and `auth.log`): each is read on its own threads, and their
/// findings reach the jails merged by time, as the daemon would have seen them live.
fn scan_merged(
    scan: &mut Scan,
    groups: Vec<Vec<(usize, Input)>>,
    detectors: &Detectors,
    workers: usize,
    progress: &Progress,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    enum Message {
        Findings(Vec<Timed>),
        FileDone(FileReport),
    }
    std::thread::scope(|threads| {
        let mut streams = Vec::new();
        for group in groups {
            // A few batches of slack per log: enough to keep readers busy, and memory bounded.
            let (tx, rx) = mpsc::sync_channel::<Message>(4);
            threads.spawn(move || {
                for (index, input) in group {
                    // Smaller chunks: several logs are in flight at once.
                    let report = read_file(
                        index,
                        input,
                        detectors,
                        workers,
                        reader::CHUNK_SIZE,
                        progress,
                        |batch| {
                            tx.send(Message::Findings(batch))
                                .map_err(|_| io::Error::other("scan stopped"))
                        },
                    );
                    // An error here means the merging side has stopped: so do we.
                    let Ok(report) = report else { return };
                    if tx.send(Message::FileDone(report)).is_err() {
                        return;
                    }
                }
            });
            streams.push((rx, std::collections::VecDeque::new(), true));
        }
        loop {
            // Every live log must show its next finding before the earliest can be chosen.
            for (rx, head, live) in streams.iter_mut() {
                while *live && head.is_empty() {
                    match rx.recv() {
                        Ok(Message::Findings(batch)) => head.extend(batch),
                        Ok(Message::FileDone(report)) => scan.file_done(report),
                        Err(_) => *live = false,
                    }
                }
            }
            // The earliest head goes first (ties: the log given first).
            let next = streams
                .iter_mut()
                .map(|(_, head, _)| head)
                .filter(|head| !head.is_empty())
                .min_by_key(|head| head.front().map(|t| t.time_ms));
            let Some(head) = next else { break };
            if let Some(t) = head.pop_front() {
                scan.finding(t, out)?;
            }
        }
        Ok(())
    })
}

/// One finding on its way to the jails: where, when (on its file's own clock), what.
struct Timed {
    file: usize,
    line: u64,
    time_ms: i64,
    detection: Detection,
}

/// What reading one file found besides the findings.
struct FileReport {
    index: usize,
    gzip: bool,
    counts: Totals,
    error: Option<String>,
}

/// Reads one input to its end (or to the point where it fails), resolving each finding's time on
/// the file's own clock, and hands the findings to `emit` chunk by chunk, in file order.
fn read_file(
    index: usize,
    input: Input,
    detectors: &Detectors,
    workers: usize,
    chunk_size: usize,
    progress: &Progress,
    mut emit: impl FnMut(Vec<Timed>) -> io::Result<()>,
) -> io::Result<FileReport> {
    let name = input.path.display().to_string();
    let mut clock = LogClock::new(input.modified_ms.unwrap_or_else(now_ms));
    let mut counts = Totals::default();
    let mut line_base = 0u64;
    let mut reader = ChunkReader::with_limits(input.reader, chunk_size, reader::MAX_LINE);
    let max_line = reader.max_line();
    let result = reader::for_each_chunk(
        &mut reader,
        workers,
        |chunk| detect_chunk(detectors, chunk, max_line),
        |info: ChunkInfo, r: ChunkResult| -> io::Result<()> {
            line_base += info.overlong_before;
            counts.lines += info.overlong_before + r.lines;
            counts.skipped += info.overlong_before + r.overlong;
            counts.invalid_utf8 += r.invalid_utf8;
            counts.suspicious += r.suspicious;
            counts.findings += r.hits.len() as u64;
            let batch: Vec<Timed> = r
                .hits
                .into_iter()
                .map(|hit| Timed {
                    file: index,
                    line: line_base + u64::from(hit.index) + 1,
                    time_ms: clock.resolve(hit.detection.stamp),
                    detection: hit.detection,
                })
                .collect();
            line_base += r.lines;
            if info.dropped_partial {
                // The line cut short by the failure: counted, never examined.
                line_base += 1;
                counts.lines += 1;
                counts.skipped += 1;
            }
            progress.advance();
            if batch.is_empty() {
                Ok(())
            } else {
                emit(batch)
            }
        },
    );
    counts.untimed = clock.untimed;
    let error = match result {
        Ok(()) => None,
        Err(ChunkError::Consume(e)) => return Err(e),
        Err(ChunkError::Read(e)) => Some(format!(
            "{name}: read error after line {line_base}: {e} (the lines before it were scanned)"
        )),
    };
    Ok(FileReport {
        index,
        gzip: input.gzip,
        counts,
        error,
    })
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
        let config = Config::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let detectors = Detectors::with_custom(&config.detector).map_err(|e| {
            // Point at the pattern of the detector that failed to compile.
            #[allow(unreachable_patterns)] // tolerate variants added later
            let name = match &e {
                tg_detect::DetectError::BadPattern { name, .. } => Some(name),
                _ => None,
            };
            let line = config
                .detector
                .iter()
                .find(|d| Some(&d.name) == name)
                .map(|d| tg_config::line_of(&text, d.pattern.span().start));
            match line {
                Some(line) => anyhow::anyhow!("{}:{line}: [[detector]]: {e}", path.display()),
                None => anyhow::anyhow!("{}: [[detector]]: {e}", path.display()),
            }
        })?;
        let mut trusted = TrustedSet::new();
        for entry in &config.trusted.addresses {
            // Validation already refused entries that are neither address, CIDR nor name.
            match classify(entry.get_ref()) {
                Ok(TrustedEntry::Net(net)) => trusted.insert(net),
                Ok(TrustedEntry::Name(name)) => {
                    let line = tg_config::line_of(&text, entry.span().start);
                    let addrs = (name.as_str(), 0u16).to_socket_addrs().with_context(|| {
                        format!(
                            "{}:{line}: trusted.addresses: cannot resolve host name {name:?}",
                            path.display()
                        )
                    })?;
                    let mut any = false;
                    for a in addrs {
                        trusted.insert_ip(a.ip());
                        any = true;
                    }
                    if !any {
                        bail!(
                            "{}:{line}: trusted.addresses: host name {name:?} has no address",
                            path.display()
                        );
                    }
                }
                Err(message) => bail!("{}: trusted.addresses: {message}", path.display()),
            }
        }
        Ok(Setup {
            jails: config.jails(),
            trusted,
            detectors,
        })
    }
}

/// Opens every input before reading any, so a typo fails at once and not after an hour.
/// Returns the logs (each with its rotated copies, oldest first) and every file's index.
fn open_inputs(files: &[PathBuf]) -> anyhow::Result<Vec<Vec<(usize, Input)>>> {
    if files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        bail!("standard input (-) can be read only once");
    }
    let mut index = 0;
    group_rotated(files)
        .into_iter()
        .map(|group| {
            group
                .into_iter()
                .map(|path| {
                    let input = if path.as_os_str() == "-" {
                        Input::stdin()
                    } else {
                        Input::open(&path)
                    };
                    index += 1;
                    Ok((index - 1, input?))
                })
                .collect()
        })
        .collect()
}

/// Groups rotated copies of one log (`x.3.gz`, `x.2`, `x.1`, `x`), oldest first; each group
/// where its first member was given. Every other file (and stdin) is a log of its own.
fn group_rotated(files: &[PathBuf]) -> Vec<Vec<PathBuf>> {
    fn key(path: &Path) -> Option<(PathBuf, u64)> {
        let name = path.file_name()?.to_str()?;
        let name = name.strip_suffix(".gz").unwrap_or(name);
        let (stem, generation) = match name.rsplit_once('.') {
            Some((stem, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                (stem, n.parse().ok()?)
            }
            _ => (name, 0),
        };
        Some((path.with_file_name(stem), generation))
    }
    /// A log's stem (`None` for stdin) and its copies with their generation numbers.
    type Group = (Option<PathBuf>, Vec<(u64, PathBuf)>);
    let mut groups: Vec<Group> = Vec::new();
    for f in files {
        let k = if f.as_os_str() == "-" { None } else { key(f) };
        match k {
            Some((stem, generation)) => {
                match groups.iter_mut().find(|(s, _)| s.as_ref() == Some(&stem)) {
                    Some((_, members)) => members.push((generation, f.clone())),
                    None => groups.push((Some(stem), vec![(generation, f.clone())])),
                }
            }
            None => groups.push((None, vec![(0, f.clone())])),
        }
    }
    groups
        .into_iter()
        .map(|(_, mut members)| {
            members.sort_by_key(|m| std::cmp::Reverse(m.0)); // stable: duplicates keep their order
            members.into_iter().map(|(_, p)| p).collect()
        })
        .collect()
}

/// One detected line, as a worker hands it back.
struct Hit {
    /// 0-based line index within its chunk.
    index: u32,
    detection: Detection,
}

/// A worker's verdict on one chunk.
#[derive(Default)]
struct ChunkResult {
    lines: u64,
    overlong: u64,
    invalid_utf8: u64,
    suspicious: u64,
    hits: Vec<Hit>,
}

fn detect_chunk(detectors: &Detectors, chunk: &[u8], max_line: usize) -> ChunkResult {
    let mut r = ChunkResult::default();
    // One pass over the whole chunk tells whether per-line UTF-8 checks are needed at all
    // (ASCII first: it is the common case and the cheapest test).
    let all_utf8 = chunk.is_ascii() || std::str::from_utf8(chunk).is_ok();
    for (i, line) in reader::lines(chunk, max_line).enumerate() {
        r.lines += 1;
        let text = match line {
            Line::Text(t) => t,
            Line::Overlong => {
                r.overlong += 1;
                continue;
            }
        };
        // Invalid UTF-8 is counted but still examined: attackers control some of the bytes,
        // and a stray \xff in a user name must not hide the attempt.
        if !all_utf8 && std::str::from_utf8(text).is_err() {
            r.invalid_utf8 += 1;
        }
        match detectors.detect(text) {
            Outcome::Nothing => {}
            Outcome::Suspicious => r.suspicious += 1,
            Outcome::Found(detection) => r.hits.push(Hit {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                detection,
            }),
        }
    }
    r
}

/// Where per-finding output goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EventSink {
    None,
    Text,
    Json,
}

/// Everything one address did.
struct Offender {
    count: u64,
    /// Findings a jail counted (one attempt logged as several lines counts once).
    attempts: u64,
    what: Vec<(Service, Kind, u64)>,
    first_ms: i64,
    last_ms: i64,
    bans: Vec<Decision>,
}

/// The scan's sequential side: the jails and the report, fed one finding at a time.
struct Scan {
    jails: JailSet,
    events: EventSink,
    names: Vec<String>,
    offenders: HashMap<IpAddr, Offender>,
    trusted_seen: HashMap<IpAddr, u64>,
    totals: Totals,
    observed: u64,
    files: Vec<Option<FileSummary>>,
    read_errors: Vec<String>,
    not_listed: u64,
}

#[derive(Default, Clone, Copy, Serialize)]
struct Totals {
    lines: u64,
    findings: u64,
    suspicious: u64,
    skipped: u64,
    untimed: u64,
    invalid_utf8: u64,
    trusted_findings: u64,
}

impl Scan {
    fn new(jails: JailSet, events: EventSink, names: &[String]) -> Self {
        Scan {
            jails,
            events,
            names: names.to_vec(),
            offenders: HashMap::new(),
            trusted_seen: HashMap::new(),
            totals: Totals::default(),
            observed: 0,
            files: names.iter().map(|_| None).collect(),
            read_errors: Vec::new(),
            not_listed: 0,
        }
    }

    /// Keeps the report at [`REPORT_CAP`] offenders (see its docs).
    fn bound_report(offenders: &mut HashMap<IpAddr, Offender>, not_listed: &mut u64) {
        if offenders.len() < REPORT_CAP {
            return;
        }
        let drop = REPORT_CAP / 8;
        let mut keys: Vec<(u64, i64, IpAddr)> = offenders
            .iter()
            .filter(|(_, o)| o.bans.is_empty())
            .map(|(ip, o)| (o.count, o.last_ms, *ip))
            .collect();
        let n = drop.min(keys.len());
        if n == 0 {
            return;
        }
        keys.select_nth_unstable(n - 1);
        for (_, _, ip) in &keys[..n] {
            offenders.remove(ip);
        }
        *not_listed += n as u64;
    }

    /// A file was read to its end: its counts join the totals.
    fn file_done(&mut self, r: FileReport) {
        let c = r.counts;
        let t = &mut self.totals;
        t.lines += c.lines;
        t.findings += c.findings;
        t.suspicious += c.suspicious;
        t.skipped += c.skipped;
        t.untimed += c.untimed;
        t.invalid_utf8 += c.invalid_utf8;
        if let Some(e) = &r.error {
            self.read_errors.push(e.clone());
        }
        if let Some(slot) = self.files.get_mut(r.index) {
            *slot = Some(FileSummary {
                file: self.names[r.index].clone(),
                gzip: r.gzip,
                lines: c.lines,
                findings: c.findings,
                error: r.error,
            });
        }
    }

    /// One finding through the jails, into the report (and out as an event).
    fn finding(&mut self, t: Timed, out: &mut impl Write) -> io::Result<()> {
        let (time_ms, d) = (t.time_ms, t.detection);
        let file = self.names.get(t.file).map_or("?", String::as_str);
        let line = t.line;
        let finding = Finding {
            time_ms,
            service: d.service,
            kind: d.kind,
            ip: d.ip,
            attempt: d.attempt,
        };
        let obs = self.jails.observe(&finding);
        self.observed += 1;
        if self.observed.is_multiple_of(65_536) {
            self.jails.prune(time_ms);
        }
        if obs.trusted {
            self.totals.trusted_findings += 1;
            *self.trusted_seen.entry(finding.ip).or_default() += 1;
        } else {
            if !self.offenders.contains_key(&finding.ip) {
                Scan::bound_report(&mut self.offenders, &mut self.not_listed);
            }
            let o = self.offenders.entry(finding.ip).or_insert(Offender {
                count: 0,
                attempts: 0,
                what: Vec::new(),
                first_ms: time_ms,
                last_ms: time_ms,
                bans: Vec::new(),
            });
            o.count += 1;
            o.attempts += u64::from(obs.counted);
            o.first_ms = o.first_ms.min(time_ms);
            o.last_ms = o.last_ms.max(time_ms);
            match o
                .what
                .iter_mut()
                .find(|(s, k, _)| *s == finding.service && *k == finding.kind)
            {
                Some((_, _, n)) => *n += 1,
                None => o.what.push((finding.service, finding.kind, 1)),
            }
            o.bans.extend(obs.decisions.iter().cloned());
        }
        let ban = obs.decisions.first();
        match self.events {
            EventSink::None => Ok(()),
            EventSink::Json => {
                let event = Event {
                    file,
                    line,
                    service: finding.service,
                    kind: finding.kind,
                    ip: finding.ip,
                    time: iso_time(time_ms, 'T'),
                    trusted: obs.trusted.then_some(true),
                    jail: ban.map(|b| b.jail.as_str()),
                    banned: ban.map(|_| true),
                    prefix: ban.filter(|b| b.is_prefix()).map(|b| net_text(b.net)),
                    ban_secs: ban.map(|b| b.ban_secs),
                };
                serde_json::to_writer(&mut *out, &event)?;
                writeln!(out)
            }
            EventSink::Text => {
                write!(
                    out,
                    "{}:{line}  {}  {:<15}  {}/{}",
                    sanitize(file),
                    iso_time(time_ms, ' '),
                    finding.ip,
                    finding.service,
                    finding.kind
                )?;
                if obs.trusted {
                    write!(out, "  (trusted, not counted)")?;
                }
                if let Some(b) = ban {
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
        }
    }

    fn summary(&self, threads: usize) -> Summary {
        let mut offenders: Vec<OffenderSummary> = self
            .offenders
            .iter()
            .map(|(ip, o)| {
                let mut what: Vec<What> = o
                    .what
                    .iter()
                    .map(|&(service, kind, count)| What {
                        service,
                        kind,
                        count,
                    })
                    .collect();
                what.sort_by(|a, b| b.count.cmp(&a.count).then(a.service.cmp(&b.service)));
                OffenderSummary {
                    ip: *ip,
                    count: o.count,
                    would_ban: !o.bans.is_empty(),
                    attempts: o.attempts,
                    first_seen: iso_time(o.first_ms, 'T'),
                    last_seen: iso_time(o.last_ms, 'T'),
                    what,
                    bans: o
                        .bans
                        .iter()
                        .map(|d| BanSummary {
                            target: net_text(d.net),
                            jail: d.jail.clone(),
                            at: iso_time(d.at_ms, 'T'),
                            ban_secs: d.ban_secs,
                            after: d.count,
                            within_secs: self
                                .jails
                                .jails()
                                .iter()
                                .find(|j| j.name == d.jail)
                                .map_or(0, |j| j.find_time),
                        })
                        .collect(),
                }
            })
            .collect();
        offenders.sort_by(|a, b| b.count.cmp(&a.count).then(a.ip.cmp(&b.ip)));
        let mut trusted: Vec<TrustedSummary> = self
            .trusted_seen
            .iter()
            .map(|(ip, &count)| TrustedSummary { ip: *ip, count })
            .collect();
        trusted.sort_by(|a, b| b.count.cmp(&a.count).then(a.ip.cmp(&b.ip)));
        Summary {
            totals: self.totals,
            bans: offenders.iter().map(|o| o.bans.len() as u64).sum(),
            would_ban: offenders.iter().filter(|o| o.would_ban).count() as u64,
            offenders,
            trusted,
            files: self.files.iter().flatten().cloned().collect(),
            read_errors: self.read_errors.clone(),
            threads,
            offenders_not_listed: self.not_listed,
            jails: self
                .jails
                .usage()
                .into_iter()
                .map(|u| JailMemory {
                    jail: u.jail,
                    tracked: u.tracked,
                    evicted: u.evicted,
                    bytes: u.bytes,
                })
                .collect(),
        }
    }
}

/// One finding, as `--events --format json` prints it.
#[derive(Serialize)]
struct Event<'a> {
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

#[derive(Serialize)]
struct Summary {
    #[serde(flatten)]
    totals: Totals,
    /// Addresses that would have been banned.
    would_ban: u64,
    /// Ban decisions (an address can be banned again after its ban expires).
    bans: u64,
    offenders: Vec<OffenderSummary>,
    trusted: Vec<TrustedSummary>,
    files: Vec<FileSummary>,
    read_errors: Vec<String>,
    threads: usize,
    /// Offenders dropped from `offenders` at the report's cap (never a banned one).
    offenders_not_listed: u64,
    /// Each jail's memory at the end: sources tracked, evicted at `max_tracked`, table bytes.
    jails: Vec<JailMemory>,
}

#[derive(Serialize)]
struct JailMemory {
    jail: String,
    tracked: usize,
    evicted: u64,
    bytes: usize,
}

#[derive(Serialize)]
struct OffenderSummary {
    ip: IpAddr,
    count: u64,
    would_ban: bool,
    attempts: u64,
    first_seen: String,
    last_seen: String,
    what: Vec<What>,
    bans: Vec<BanSummary>,
}

#[derive(Serialize)]
struct What {
    service: Service,
    kind: Kind,
    count: u64,
}

#[derive(Serialize)]
struct BanSummary {
    /// What was banned: the address, or its prefix (`2001:db8:1:2::/64`).
    target: String,
    jail: String,
    at: String,
    ban_secs: u64,
    /// Counted attempts that triggered the ban …
    after: u32,
    /// … within this many seconds (the jail's `find_time`).
    within_secs: u64,
}

#[derive(Serialize)]
struct TrustedSummary {
    ip: IpAddr,
    count: u64,
}

#[derive(Clone, Serialize)]
struct FileSummary {
    file: String,
    gzip: bool,
    lines: u64,
    findings: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn print_text(out: &mut impl Write, s: &Summary, secs: f64) -> io::Result<()> {
    let t = &s.totals;
    let files = s.files.len();
    writeln!(
        out,
        "Scanned {} lines in {} file{} ({:.2} s).",
        thousands(t.lines),
        files,
        if files == 1 { "" } else { "s" },
        secs
    )?;
    writeln!(out)?;
    if s.offenders.is_empty() {
        writeln!(out, "No attacks found.")?;
    } else {
        writeln!(
            out,
            "{} attacking address{} ({} finding{}), most active first:",
            s.offenders.len(),
            if s.offenders.len() == 1 { "" } else { "es" },
            thousands(t.findings - t.trusted_findings),
            if t.findings - t.trusted_findings == 1 {
                ""
            } else {
                "s"
            },
        )?;
        writeln!(out)?;
        let width = s
            .offenders
            .iter()
            .map(|o| o.ip.to_string().len())
            .max()
            .unwrap_or(7)
            .max(7);
        writeln!(
            out,
            "  {:<width$}  {:>8}  {:>8}  {:<19}  {:<19}  {:<10}  WHAT",
            "ADDRESS", "FINDINGS", "ATTEMPTS", "FIRST SEEN", "LAST SEEN", "WOULD BAN"
        )?;
        for o in s.offenders.iter().take(TEXT_ROWS) {
            // "sip: 74 unknown-account, 5 call-rejected; ami: 7 auth-failure"
            let mut by_service: Vec<(Service, Vec<String>)> = Vec::new();
            for w in &o.what {
                let item = format!("{} {}", thousands(w.count), w.kind);
                match by_service.iter_mut().find(|(s, _)| *s == w.service) {
                    Some((_, items)) => items.push(item),
                    None => by_service.push((w.service, vec![item])),
                }
            }
            let what: Vec<String> = by_service
                .iter()
                .map(|(service, items)| format!("{service}: {}", items.join(", ")))
                .collect();
            let ban = match o.bans.len() {
                0 => "no".to_string(),
                1 => "yes".to_string(),
                n => format!("yes, {n}x"),
            };
            writeln!(
                out,
                "  {:<width$}  {:>8}  {:>8}  {:<19}  {:<19}  {:<10}  {}",
                o.ip.to_string(),
                thousands(o.count),
                thousands(o.attempts),
                o.first_seen.replace('T', " "),
                o.last_seen.replace('T', " "),
                ban,
                what.join("; ")
            )?;
        }
        if s.offenders.len() > TEXT_ROWS {
            writeln!(
                out,
                "  … and {} more addresses (--format json lists every one)",
                thousands((s.offenders.len() - TEXT_ROWS) as u64)
            )?;
        }
        if s.offenders_not_listed > 0 {
            writeln!(
                out,
                "  ({} more offender entries with few findings and no ban were not kept: the \
                 report holds {} at most)",
                thousands(s.offenders_not_listed),
                thousands(REPORT_CAP as u64)
            )?;
        }
        writeln!(
            out,
            "  (FINDINGS counts lines; ATTEMPTS what the jails count: the lines of one attempt,\n   \
             such as a NOTICE and its security event in two files, count once.)"
        )?;
    }
    writeln!(out)?;
    if s.would_ban == 0 {
        writeln!(out, "The jails would have banned nobody.")?;
    } else {
        writeln!(
            out,
            "The jails would have banned {} address{} ({} ban{}):",
            s.would_ban,
            if s.would_ban == 1 { "" } else { "es" },
            s.bans,
            if s.bans == 1 { "" } else { "s" }
        )?;
        writeln!(out)?;
        let banned = s.offenders.iter().filter(|o| o.would_ban);
        let width = banned
            .clone()
            .flat_map(|o| o.bans.iter().map(|b| b.target.len()))
            .max()
            .unwrap_or(7)
            .max(7);
        let jail_width = banned
            .clone()
            .flat_map(|o| o.bans.iter().map(|b| b.jail.len()))
            .max()
            .unwrap_or(4)
            .max(4);
        writeln!(
            out,
            "  {:<width$}  {:<jail_width$}  {:<19}  {:<6}  WHY",
            "ADDRESS", "JAIL", "BANNED AT", "FOR"
        )?;
        let rows = banned.flat_map(|o| o.bans.iter().enumerate());
        for (i, b) in rows.take(TEXT_ROWS) {
            {
                let nth = match i {
                    0 => String::new(),
                    _ => format!(" (ban #{}, escalated)", i + 1),
                };
                writeln!(
                    out,
                    "  {:<width$}  {:<jail_width$}  {:<19}  {:<6}  {} attempts in {}{}",
                    b.target,
                    sanitize(&b.jail),
                    b.at.replace('T', " "),
                    format_duration(b.ban_secs),
                    b.after,
                    format_duration(b.within_secs),
                    nth
                )?;
            }
        }
        if s.bans as usize > TEXT_ROWS {
            writeln!(
                out,
                "  … and {} more bans (--format json lists every one)",
                thousands(s.bans - TEXT_ROWS as u64)
            )?;
        }
        let under: Vec<String> = s
            .offenders
            .iter()
            .filter(|o| !o.would_ban)
            .map(|o| format!("{} ({})", o.ip, o.count))
            .collect();
        if !under.is_empty() {
            writeln!(out)?;
            writeln!(
                out,
                "Stayed under every jail's threshold: {}",
                shorten_list(&under, 12)
            )?;
        }
    }
    if !s.trusted.is_empty() {
        let list: Vec<String> = s
            .trusted
            .iter()
            .map(|t| format!("{} ({})", t.ip, t.count))
            .collect();
        writeln!(out)?;
        writeln!(out, "Trusted, never counted: {}", shorten_list(&list, 12))?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Totals: {} lines; {} findings ({} from trusted addresses, not counted);",
        thousands(t.lines),
        thousands(t.findings),
        thousands(t.trusted_findings),
    )?;
    writeln!(
        out,
        "        {} suspicious lines (attack-like, but no trustworthy address: nobody counted);",
        thousands(t.suspicious)
    )?;
    writeln!(
        out,
        "        {} skipped (over 64 KiB or cut off); {} without a readable time (took the previous \
         one's); {} with invalid UTF-8 (examined anyway).",
        thousands(t.skipped),
        thousands(t.untimed),
        thousands(t.invalid_utf8),
    )?;
    Ok(())
}

fn shorten_list(items: &[String], max: usize) -> String {
    if items.len() <= max {
        return items.join(", ");
    }
    format!(
        "{}, and {} more",
        items[..max].join(", "),
        items.len() - max
    )
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `2026-11-24T03:12:01` (on the log's own clock: no zone is claimed).
fn iso_time(ms: i64, sep: char) -> String {
    let c = tg_model::civil::Civil::from_unix_ms(ms);
    format!("{}{sep}{}", c.date(), c.time())
}

/// A progress bar on stderr, only for large inputs on a terminal. Shared by the reading threads.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    consumed: Vec<Arc<AtomicU64>>,
}

impl Progress {
    fn new<'a>(inputs: impl Iterator<Item = &'a (usize, Input)>) -> Self {
        let mut total = 0;
        let mut consumed = Vec::new();
        for (_, input) in inputs {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn rotated_copies_are_read_oldest_first() {
        let flat = |files: &[PathBuf]| -> Vec<PathBuf> { group_rotated(files).concat() };
        let got = flat(&paths(&[
            "/var/log/asterisk/messages",
            "/var/log/auth.log",
            "/var/log/asterisk/messages.1",
            "-",
            "/var/log/asterisk/messages.10.gz",
            "/var/log/asterisk/messages.2.gz",
            "/var/log/auth.log.1",
        ]));
        assert_eq!(
            got,
            paths(&[
                "/var/log/asterisk/messages.10.gz",
                "/var/log/asterisk/messages.2.gz",
                "/var/log/asterisk/messages.1",
                "/var/log/asterisk/messages",
                "/var/log/auth.log.1",
                "/var/log/auth.log",
                "-",
            ])
        );
        // Same names in other directories are other logs.
        let got = group_rotated(&paths(&["a/messages", "b/messages.1"]));
        assert_eq!(got, [paths(&["a/messages"]), paths(&["b/messages.1"])]);
        assert_eq!(group_rotated(&paths(&["-", "x.1", "x"])).len(), 2);
    }

    #[test]
    fn times_are_civil() {
        assert_eq!(iso_time(0, 'T'), "1970-01-01T00:00:00");
        assert_eq!(
            iso_time(tg_jail::civil_to_unix_ms(2024, 2, 29, 3_723_000), ' '),
            "2024-02-29 01:02:03"
        );
        assert_eq!(iso_time(-1000, 'T'), "1969-12-31T23:59:59");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
