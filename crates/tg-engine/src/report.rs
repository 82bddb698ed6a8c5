//! What a replay found, as data: per-offender aggregation of what the jails saw and decided, and
//! the [`Summary`] it ends in. Fed one finding at a time in the order the jails see them.
//!
//! The summary's serde form is `scan --format json`'s summary object: its field names are a
//! contract with scripts; the printing (text or JSON) is the binary's.
//!
//! Memory is bounded whatever the input: the jails by each jail's `max_tracked`, and the
//! report by [`REPORT_CAP`] offenders (past it, those with the fewest findings and no ban are
//! dropped from the listing, an eighth of the cap at a time, and counted as
//! `offenders_not_listed`).

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;

use serde::Serialize;
use tg_detect::Suspicion;
use tg_jail::{Decision, JailSet};
use tg_model::{net_text, Finding, Kind, Service};

/// The most offenders the report keeps (about 25 MB at ~120 bytes each); banned offenders are
/// always kept.
pub const REPORT_CAP: usize = 200_000;

/// What the replay hands its caller, line by line, in the order the jails see them.
pub enum Event<'a> {
    /// A finding, after the jails saw it.
    Finding(FindingEvent<'a>),
    /// An attack line naming several candidate addresses its text cannot tell apart: nobody
    /// was counted.
    Ambiguous(AmbiguousEvent<'a>),
}

/// An ambiguous line (see [`Event::Ambiguous`]).
pub struct AmbiguousEvent<'a> {
    /// The file's name as given (`-` for stdin).
    pub file: &'a str,
    /// 1-based line number in that file.
    pub line: u64,
    /// The line's time on its file's clock (an untimed line takes the previous line's).
    pub time_ms: i64,
    /// What the line is, were its address known.
    pub service: Service,
    /// What happened.
    pub kind: Kind,
    /// The candidate addresses, in the order the line names them.
    pub candidates: &'a [IpAddr],
}

/// One finding, as the replay hands it to its caller after the jails saw it.
pub struct FindingEvent<'a> {
    /// The file's name as given (`-` for stdin).
    pub file: &'a str,
    /// 1-based line number in that file.
    pub line: u64,
    /// What the jails were given.
    pub finding: &'a Finding,
    /// The address is trusted: never counted.
    pub trusted: bool,
    /// The first ban this finding triggered, if any.
    pub ban: Option<&'a Decision>,
}

/// Line and finding counts, per file and in total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Lines read (skipped ones included).
    pub lines: u64,
    /// Findings (trusted ones included).
    pub findings: u64,
    /// Attack-like lines without a trustworthy address.
    pub suspicious: u64,
    /// Lines over the length cap, or cut off by a read error.
    pub skipped: u64,
    /// Findings without a readable time (they took the previous line's).
    pub untimed: u64,
    /// Lines with invalid UTF-8 (examined anyway).
    pub invalid_utf8: u64,
    /// Findings of trusted addresses (never counted).
    pub trusted_findings: u64,
}

/// Everything a replay found.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Totals over every file.
    #[serde(flatten)]
    pub totals: Totals,
    /// Addresses that would have been banned.
    pub would_ban: u64,
    /// Ban decisions (an address can be banned again after its ban expires).
    pub bans: u64,
    /// Every untrusted address found, most findings first.
    pub offenders: Vec<OffenderSummary>,
    /// Trusted addresses found, most findings first.
    pub trusted: Vec<TrustedSummary>,
    /// Every file, in reading order.
    pub files: Vec<FileSummary>,
    /// Files that could not be read to their end, one sentence each.
    pub read_errors: Vec<String>,
    /// Attack lines naming several candidate addresses that their text cannot tell apart
    /// (part of `suspicious`), counted per set of candidates, most frequent first.
    pub ambiguous: Vec<AmbiguousSummary>,
    /// Detector threads per log.
    pub threads: usize,
    /// Offenders dropped from `offenders` at the report's cap (never a banned one).
    pub offenders_not_listed: u64,
    /// Each jail's memory at the end: sources tracked, evicted at `max_tracked`, table bytes.
    pub jails: Vec<JailMemory>,
}

/// One jail's counters at the end of a replay.
#[derive(Clone, Debug, Serialize)]
pub struct JailMemory {
    /// The jail.
    pub jail: String,
    /// Sources (addresses and prefixes) it held counters for.
    pub tracked: usize,
    /// Sources evicted at its `max_tracked` cap.
    pub evicted: u64,
    /// The counters' heap size in bytes (estimated from the tables' capacities).
    pub bytes: usize,
}

/// Everything one address did.
#[derive(Clone, Debug, Serialize)]
pub struct OffenderSummary {
    /// The address.
    pub ip: IpAddr,
    /// Findings (lines).
    pub count: u64,
    /// A jail banned it at least once.
    pub would_ban: bool,
    /// Findings a jail counted (one attempt logged as several lines counts once).
    pub attempts: u64,
    /// The first finding's time (log clock, `YYYY-MM-DDTHH:MM:SS`).
    pub first_seen: String,
    /// The last finding's time.
    pub last_seen: String,
    /// What it did, most frequent first.
    pub what: Vec<What>,
    /// Its bans, in order.
    pub bans: Vec<BanSummary>,
}

/// How often an address did one thing.
#[derive(Clone, Debug, Serialize)]
pub struct What {
    /// The service.
    pub service: Service,
    /// What happened.
    pub kind: Kind,
    /// How often.
    pub count: u64,
}

/// One ban decision.
#[derive(Clone, Debug, Serialize)]
pub struct BanSummary {
    /// What was banned: the address, or its prefix (`2001:db8:1:2::/64`).
    pub target: String,
    /// The jail that decided.
    pub jail: String,
    /// When (log clock).
    pub at: String,
    /// For how long.
    pub ban_secs: u64,
    /// Counted attempts that triggered the ban …
    pub after: u32,
    /// … within this many seconds (the jail's `find_time`).
    pub within_secs: u64,
}

/// How often lines named the same candidate addresses without saying which one is the sender.
#[derive(Clone, Debug, Serialize)]
pub struct AmbiguousSummary {
    /// The candidates, in address order.
    pub candidates: Vec<IpAddr>,
    /// Lines.
    pub count: u64,
    /// The first such line's time (log clock, `YYYY-MM-DDTHH:MM:SS`).
    pub first_seen: String,
    /// The last one's.
    pub last_seen: String,
}

/// A trusted address and its findings (never counted).
#[derive(Clone, Debug, Serialize)]
pub struct TrustedSummary {
    /// The address.
    pub ip: IpAddr,
    /// Its findings.
    pub count: u64,
}

/// One file read.
#[derive(Clone, Debug, Serialize)]
pub struct FileSummary {
    /// Its name as given.
    pub file: String,
    /// It was gzip.
    pub gzip: bool,
    /// Lines read.
    pub lines: u64,
    /// Findings in it.
    pub findings: u64,
    /// Why it was not read to its end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What reading one file found besides the findings.
pub(crate) struct FileReport {
    pub(crate) index: usize,
    pub(crate) gzip: bool,
    pub(crate) counts: Totals,
    pub(crate) error: Option<String>,
}

/// One finding (or ambiguous line) on its way to the jails: where, and what (on its file's own
/// clock).
pub(crate) struct Timed {
    pub(crate) file: usize,
    pub(crate) line: u64,
    pub(crate) item: Item,
}

/// What a [`Timed`] carries.
pub(crate) enum Item {
    Finding(Finding),
    Ambiguous { time_ms: i64, suspicion: Suspicion },
}

impl Timed {
    pub(crate) fn time_ms(&self) -> i64 {
        match &self.item {
            Item::Finding(f) => f.time_ms,
            Item::Ambiguous { time_ms, .. } => *time_ms,
        }
    }
}

/// Lines of one set of candidates.
struct Ambiguous {
    count: u64,
    first_ms: i64,
    last_ms: i64,
}

/// Everything one address did, while it is being counted.
struct Offender {
    count: u64,
    attempts: u64,
    what: Vec<(Service, Kind, u64)>,
    first_ms: i64,
    last_ms: i64,
    bans: Vec<Decision>,
}

/// The replay's sequential side: the jails and the aggregates, fed one finding at a time.
pub(crate) struct Tally {
    jails: JailSet,
    names: Vec<String>,
    offenders: HashMap<IpAddr, Offender>,
    trusted_seen: HashMap<IpAddr, u64>,
    ambiguous: HashMap<Vec<IpAddr>, Ambiguous>,
    totals: Totals,
    observed: u64,
    files: Vec<Option<FileSummary>>,
    read_errors: Vec<String>,
    not_listed: u64,
}

impl Tally {
    pub(crate) fn new(jails: JailSet, names: Vec<String>) -> Self {
        Tally {
            jails,
            offenders: HashMap::new(),
            trusted_seen: HashMap::new(),
            ambiguous: HashMap::new(),
            totals: Totals::default(),
            observed: 0,
            files: names.iter().map(|_| None).collect(),
            names,
            read_errors: Vec::new(),
            not_listed: 0,
        }
    }

    /// Keeps the report at [`REPORT_CAP`] offenders (see the module docs).
    fn bound_report(&mut self) {
        if self.offenders.len() < REPORT_CAP {
            return;
        }
        let mut keys: Vec<(u64, i64, IpAddr)> = self
            .offenders
            .iter()
            .filter(|(_, o)| o.bans.is_empty())
            .map(|(ip, o)| (o.count, o.last_ms, *ip))
            .collect();
        let n = (REPORT_CAP / 8).min(keys.len());
        if n == 0 {
            return;
        }
        keys.select_nth_unstable(n - 1);
        for (_, _, ip) in &keys[..n] {
            self.offenders.remove(ip);
        }
        self.not_listed += n as u64;
    }

    /// A file was read to its end: its counts join the totals.
    pub(crate) fn file_done(&mut self, r: FileReport) {
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

    /// One finding through the jails, into the aggregates, and out to `on_event`; an ambiguous
    /// line into its candidates' count and out.
    pub(crate) fn observe(
        &mut self,
        t: Timed,
        on_event: &mut dyn FnMut(&Event) -> io::Result<()>,
    ) -> io::Result<()> {
        let finding = match t.item {
            Item::Finding(f) => f,
            Item::Ambiguous { time_ms, suspicion } => {
                let candidates: Vec<IpAddr> = suspicion.candidates.ips().collect();
                let mut key = candidates.clone();
                key.sort();
                let a = self.ambiguous.entry(key).or_insert(Ambiguous {
                    count: 0,
                    first_ms: time_ms,
                    last_ms: time_ms,
                });
                a.count += 1;
                a.first_ms = a.first_ms.min(time_ms);
                a.last_ms = a.last_ms.max(time_ms);
                return on_event(&Event::Ambiguous(AmbiguousEvent {
                    file: self.names.get(t.file).map_or("?", String::as_str),
                    line: t.line,
                    time_ms,
                    service: suspicion.service,
                    kind: suspicion.kind,
                    candidates: &candidates,
                }));
            }
        };
        let time_ms = finding.time_ms;
        let obs = self.jails.observe(&finding);
        self.observed += 1;
        if self.observed % 65_536 == 0 {
            self.jails.prune(time_ms);
        }
        if obs.trusted {
            self.totals.trusted_findings += 1;
            *self.trusted_seen.entry(finding.ip).or_default() += 1;
        } else {
            if !self.offenders.contains_key(&finding.ip) {
                self.bound_report();
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
        on_event(&Event::Finding(FindingEvent {
            file: self.names.get(t.file).map_or("?", String::as_str),
            line: t.line,
            finding: &finding,
            trusted: obs.trusted,
            ban: obs.decisions.first(),
        }))
    }

    pub(crate) fn summary(&self, threads: usize) -> Summary {
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
        let mut ambiguous: Vec<AmbiguousSummary> = self
            .ambiguous
            .iter()
            .map(|(candidates, a)| AmbiguousSummary {
                candidates: candidates.clone(),
                count: a.count,
                first_seen: iso_time(a.first_ms, 'T'),
                last_seen: iso_time(a.last_ms, 'T'),
            })
            .collect();
        ambiguous.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.candidates.cmp(&b.candidates))
        });
        Summary {
            totals: self.totals,
            bans: offenders.iter().map(|o| o.bans.len() as u64).sum(),
            would_ban: offenders.iter().filter(|o| o.would_ban).count() as u64,
            offenders,
            trusted,
            files: self.files.iter().flatten().cloned().collect(),
            read_errors: self.read_errors.clone(),
            ambiguous,
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

/// `2026-11-24T03:12:01` with `sep` between date and time (on the log's own clock: no zone is
/// claimed).
pub fn iso_time(ms: i64, sep: char) -> String {
    let c = tg_model::civil::Civil::from_unix_ms(ms);
    format!("{}{sep}{}", c.date(), c.time())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_civil() {
        assert_eq!(iso_time(0, 'T'), "1970-01-01T00:00:00");
        assert_eq!(
            iso_time(tg_jail::civil_to_unix_ms(2024, 2, 29, 3_723_000), ' '),
            "2024-02-29 01:02:03"
        );
        assert_eq!(iso_time(-1000, 'T'), "1969-12-31T23:59:59");
    }
}
