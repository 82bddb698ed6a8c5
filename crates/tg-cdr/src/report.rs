//! `calls report`: one pass over call records into bounded aggregates (per day, per country,
//! per source, per hour of the week, per minute for concurrency) and alarms with evidence.
//!
//! Nothing grows with the number of records: sources, open alarm episodes and burst trackers are
//! capped, and per-day data grows with the span of days only. Alarms that need a baseline
//! (volume, concurrency) are computed at the end from the per-day data with robust statistics
//! (median and MAD over the previous [`BASELINE_DAYS`] days), so one busy Monday is not fraud.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::BufRead;
use std::path::Path;

use serde::Serialize;
use tg_config::calls::BusinessHours;

use crate::cdr::{Cdr, CdrError, CdrReader, Disposition, Skip};
use tg_model::civil::{format_date, format_time, weekday};
use tg_model::text::clean;
use tg_office::classify::{Category, Classifier, Country};
use tg_office::clock::{ClockError, OfficeClock};
use tg_office::fasthash::{hash_bytes, FxHashMap, FxHashSet};

/// Days of history a baseline looks at.
pub const BASELINE_DAYS: i64 = 28;
/// Distinct sources (devices) tracked individually; the rest are pooled as `(other)`.
pub const MAX_SOURCES: usize = 10_000;
/// Alarms kept in full; further ones are only counted.
pub const MAX_ALARMS: usize = 1_000;
/// Example calls kept per alarm.
pub const MAX_EXAMPLES: usize = 5;
/// Countries listed per alarm.
pub const MAX_ALARM_COUNTRIES: usize = 32;
/// A call longer than this counts only this long for concurrency.
const MAX_CONCURRENCY_MINUTES: i64 = 240;
/// An extension's day is never unusual below these (outbound calls, minutes).
const EXT_CALLS_FLOOR: u64 = 20;
const EXT_MINUTES_FLOOR: u64 = 90;
/// Events for the same alarm closer than this join one episode.
const EPISODE_GAP: i64 = 6 * 3600;
/// Range bursts: window, "short" call, and distinct numbers that make a burst.
const BURST_WINDOW: i64 = 3600;
const BURST_SHORT_SECS: u32 = 60;
const BURST_DISTINCT: usize = 10;
/// Digits cut off a number to name its range (a block of 1000 numbers).
const RANGE_CUT_DIGITS: usize = 3;

/// How to read and judge the records.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// Only days from this day number on are reported (earlier records still teach baselines).
    pub since_day: Option<i64>,
    /// When people work.
    pub business_hours: BusinessHours,
    /// Seconds from the first record before "new country" and baselines may alarm.
    pub learning_secs: i64,
    /// One source calling more foreign countries than this in a day alarms.
    pub max_countries_per_day: usize,
    /// With `usegmtime` CDR times are UTC and this turns them into the office's wall clock
    /// (daylight saving included); `None` when Asterisk already wrote local times.
    pub clock: Option<OfficeClock>,
}

impl ReportOptions {
    /// From `[calls]` (and `--since`); fails only when the time zone is unknown.
    pub fn from_config(
        c: &tg_config::calls::CallsConfig,
        since_day: Option<i64>,
    ) -> Result<Self, ClockError> {
        Ok(ReportOptions {
            since_day,
            business_hours: c.business_hours(),
            learning_secs: c.learning_period.0 as i64,
            max_countries_per_day: c.max_countries_per_day,
            // Resolved even when unused, so a misspelt zone is reported here too.
            clock: Some(OfficeClock::from_config(c)?).filter(|_| c.cdr_usegmtime),
        })
    }
}

/// How serious an alarm is. Exit code 1 means at least one `high` or `critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look.
    Medium,
    /// Likely fraud.
    High,
    /// Fraud in progress at scale.
    Critical,
}

/// One day.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Day {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// All calls.
    pub calls: u64,
    /// Answered calls.
    pub answered: u64,
    /// Billable minutes (sum of `billsec` / 60).
    pub minutes: f64,
    /// International calls (outbound to another country, premium abroad, satellite).
    pub intl_calls: u64,
    /// Their billable minutes.
    pub intl_minutes: f64,
    /// Outbound calls.
    pub outbound_calls: u64,
    /// Most outbound calls at once (per minute).
    pub peak_concurrent: u32,
}

/// Calls to one country.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DestinationRow {
    /// ISO code, `+CODE` for global codes, `??` unknown.
    pub country: String,
    /// Calls.
    pub calls: u64,
    /// Billable minutes.
    pub minutes: f64,
}

/// Calls from one source (device from the channel name, or the caller number).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SourceRow {
    /// `PJSIP/1001`.
    pub source: String,
    /// Outbound calls.
    pub calls: u64,
    /// Outbound billable minutes.
    pub minutes: f64,
    /// International calls.
    pub intl_calls: u64,
}

/// A call quoted as evidence.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Example {
    /// Start, `YYYY-MM-DD HH:MM:SS`.
    pub time: String,
    /// `src`.
    pub src: String,
    /// `dst`.
    pub dst: String,
    /// Destination country.
    pub country: String,
    /// The calling channel.
    pub channel: String,
    /// Billable seconds.
    pub billsec: u32,
    /// The CDR line.
    pub line: u64,
}

/// One alarm.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Alarm {
    /// `premium`, `satellite`, `new-country`, `after-hours`, `range-burst`, `many-countries`,
    /// `volume`, `extension-volume`, `concurrency`.
    pub kind: String,
    /// How serious.
    pub severity: Severity,
    /// First call, `YYYY-MM-DD HH:MM:SS` (or the day for daily alarms).
    pub start: String,
    /// Last call.
    pub end: String,
    /// The extension/channel, number range or `PBX`.
    pub source: String,
    /// What happened, in a sentence.
    pub detail: String,
    /// Calls involved.
    pub calls: u64,
    /// Countries involved, most called first.
    pub countries: Vec<String>,
    /// A few of the calls.
    pub examples: Vec<Example>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Per day, oldest first.
    pub days: Vec<Day>,
    /// Per destination country, most calls first.
    pub destinations: Vec<DestinationRow>,
    /// Alarms, oldest first.
    pub alarms: Vec<Alarm>,
    /// Malformed records skipped.
    pub skipped: u64,
    /// The first few skipped lines with reasons.
    pub skipped_lines: Vec<SkipRow>,
    /// Records read.
    pub records: u64,
    /// Top sources by outbound calls.
    pub sources: Vec<SourceRow>,
    /// Calls by hour of week: 7 rows (Monday first) of 24 hours.
    pub hour_of_week: Vec<Vec<u64>>,
    /// Alarms beyond [`MAX_ALARMS`], counted only.
    pub alarms_dropped: u64,
}

/// A skipped line.
#[derive(Clone, Debug, Serialize)]
pub struct SkipRow {
    /// 1-based line.
    pub line: u64,
    /// Why.
    pub reason: String,
}

impl From<&Skip> for SkipRow {
    fn from(s: &Skip) -> Self {
        SkipRow {
            line: s.line,
            reason: s.reason.clone(),
        }
    }
}

impl Report {
    /// The worst severity among the alarms.
    pub fn worst(&self) -> Option<Severity> {
        self.alarms.iter().map(|a| a.severity).max()
    }
}

#[derive(Clone, Debug, Default)]
struct DayAgg {
    calls: u64,
    answered: u64,
    billsec: u64,
    intl_calls: u64,
    intl_billsec: u64,
    out_calls: u64,
    out_billsec: u64,
    /// Active outbound calls per minute of the day.
    active: Option<Box<[u16]>>,
}

#[derive(Default)]
struct CountryAgg {
    calls: u64,
    billsec: u64,
}

#[derive(Default)]
struct SourceAgg {
    name: String,
    calls: u64,
    billsec: u64,
    intl_calls: u64,
    /// Outbound (calls, billsec) per day.
    per_day: DaySeries,
}

/// A source's name stored inline (no pointer to chase on every record): up to 39 bytes, which
/// holds any real device name; longer ones are cut (and so share a key).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct SourceKey {
    len: u8,
    bytes: [u8; 39],
}

impl SourceKey {
    fn new(name: &[u8]) -> SourceKey {
        let len = name.len().min(39);
        let mut bytes = [0u8; 39];
        bytes[..len].copy_from_slice(&name[..len]);
        SourceKey {
            len: len as u8,
            bytes,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// Per-day (calls, billsec) of one source, sorted by day. Records arrive nearly in time order,
/// so adding is almost always an update of the last entry.
#[derive(Default)]
struct DaySeries(Vec<(i64, u64, u64)>);

impl DaySeries {
    fn add(&mut self, day: i64, billsec: u64) {
        let i = match self.0.last() {
            Some(&(d, _, _)) if d == day => self.0.len() - 1,
            Some(&(d, _, _)) if d < day => {
                self.0.push((day, 0, 0));
                self.0.len() - 1
            }
            None => {
                self.0.push((day, 0, 0));
                0
            }
            Some(_) => match self.0.binary_search_by_key(&day, |e| e.0) {
                Ok(i) => i,
                Err(i) => {
                    self.0.insert(i, (day, 0, 0));
                    i
                }
            },
        };
        self.0[i].1 += 1;
        self.0[i].2 += billsec;
    }

    fn get(&self, day: i64) -> (u64, u64) {
        match self.0.binary_search_by_key(&day, |e| e.0) {
            Ok(i) => (self.0[i].1, self.0[i].2),
            Err(_) => (0, 0),
        }
    }
}

struct Episode {
    kind: &'static str,
    severity: Severity,
    start: i64,
    end: i64,
    source: String,
    calls: u64,
    billsec: u64,
    countries: BTreeMap<Country, u64>,
    examples: Vec<Example>,
}

/// The streaming analysis; feed it records, then [`Analyzer::finish`].
pub struct Analyzer {
    classifier: Classifier,
    opts: ReportOptions,
    days: BTreeMap<i64, DayAgg>,
    countries: FxHashMap<Country, CountryAgg>,
    sources: Vec<SourceAgg>,
    source_ids: FxHashMap<SourceKey, usize>,
    hour_of_week: [u64; 168],
    first_time: Option<i64>,
    learn_end: i64,
    country_first_seen: FxHashMap<Country, i64>,
    countries_per_source_day: FxHashMap<(usize, i64), FxHashSet<Country>>,
    bursts: FxHashMap<u64, VecDeque<(i64, u64)>>,
    distinct_scratch: Vec<u64>,
    open: HashMap<(&'static str, String), Episode>,
    alarms: Vec<Alarm>,
    alarms_dropped: u64,
    records: u64,
}

impl Analyzer {
    /// An analyzer classifying with `classifier`.
    pub fn new(classifier: Classifier, opts: ReportOptions) -> Analyzer {
        Analyzer {
            classifier,
            opts,
            days: BTreeMap::new(),
            countries: Default::default(),
            sources: Vec::new(),
            source_ids: Default::default(),
            hour_of_week: [0; 168],
            first_time: None,
            learn_end: i64::MAX,
            country_first_seen: Default::default(),
            countries_per_source_day: Default::default(),
            bursts: Default::default(),
            distinct_scratch: Vec::new(),
            open: HashMap::new(),
            alarms: Vec::new(),
            alarms_dropped: 0,
            records: 0,
        }
    }

    /// Reads every record of `input` (a CDR file already opened by [`crate::cdr::open`]).
    pub fn read(
        &mut self,
        input: impl BufRead,
        path: &Path,
    ) -> Result<crate::cdr::Skips, CdrError> {
        let mut reader = CdrReader::new(input, path);
        while let Some(cdr) = reader.next_record()? {
            self.add(&cdr);
        }
        Ok(reader.skips)
    }

    fn source_id(&mut self, cdr: &Cdr<'_>) -> usize {
        let key = SourceKey::new(device(cdr.channel).unwrap_or(cdr.src));
        if let Some(&id) = self.source_ids.get(&key) {
            return id;
        }
        let (key, name) = if self.sources.len() >= MAX_SOURCES {
            (SourceKey::new(b"(other)"), "(other)".to_string())
        } else {
            (key, clean(key.as_bytes()))
        };
        if let Some(&id) = self.source_ids.get(&key) {
            return id;
        }
        self.sources.push(SourceAgg {
            name,
            ..SourceAgg::default()
        });
        let id = self.sources.len() - 1;
        self.source_ids.insert(key, id);
        id
    }

    /// Adds one record.
    pub fn add(&mut self, cdr: &Cdr<'_>) {
        self.records += 1;
        // One offset for both ends (the start's), so a call across a DST change keeps its
        // real length.
        let shift = self
            .opts
            .clock
            .as_mut()
            .map_or(0, |c| c.offset_at(cdr.start));
        let start = cdr.start.saturating_add(shift);
        let end = cdr.end.max(cdr.start).saturating_add(shift);
        if self.first_time.is_none() {
            self.first_time = Some(start);
            self.learn_end = start.saturating_add(self.opts.learning_secs);
        }
        let class = self
            .classifier
            .classify_call(cdr.src, cdr.dst, cdr.dcontext);
        let day = start.div_euclid(86_400);
        let reported = self.opts.since_day.is_none_or(|s| day >= s);
        let answered = cdr.disposition == Disposition::Answered;
        let billsec = u64::from(cdr.billsec);
        let intl = class.destination.is_some_and(|d| d.international);
        let outbound = class.category.is_outbound();

        let agg = self.days.entry(day).or_default();
        agg.calls += 1;
        agg.answered += u64::from(answered);
        agg.billsec += billsec;
        if intl {
            agg.intl_calls += 1;
            agg.intl_billsec += billsec;
        }
        if outbound {
            agg.out_calls += 1;
            agg.out_billsec += billsec;
            add_active(&mut self.days, start, end);
        }
        if reported {
            let how = (weekday(day) * 24) + (start.rem_euclid(86_400) / 3600) as usize;
            self.hour_of_week[how] += 1;
        }
        let Some(dest) = class.destination else {
            return;
        };
        let sid = self.source_id(cdr);
        {
            let s = &mut self.sources[sid];
            s.calls += 1;
            s.billsec += billsec;
            s.intl_calls += u64::from(intl);
            s.per_day.add(day, billsec);
        }
        if reported {
            let c = self.countries.entry(dest.country).or_default();
            c.calls += 1;
            c.billsec += billsec;
        }
        self.call_alarms(cdr, start, end, sid, dest, reported);
    }

    fn call_alarms(
        &mut self,
        cdr: &Cdr<'_>,
        start: i64,
        end: i64,
        sid: usize,
        dest: tg_office::classify::Destination,
        reported: bool,
    ) {
        let source = self.sources[sid].name.clone();
        let day = start.div_euclid(86_400);
        let mut hits: Vec<(&'static str, Severity, String)> = Vec::new();
        match dest.category {
            Category::Premium => hits.push(("premium", Severity::High, source.clone())),
            Category::Satellite => hits.push(("satellite", Severity::High, source.clone())),
            _ => {}
        }
        if dest.international {
            let first = *self.country_first_seen.entry(dest.country).or_insert(start);
            if first >= self.learn_end && start - first < 86_400 {
                hits.push(("new-country", Severity::Medium, dest.country.to_string()));
            }
            let minute = (start.rem_euclid(86_400) / 60) as u16;
            if !self.opts.business_hours.contains(weekday(day), minute) {
                hits.push(("after-hours", Severity::Medium, source.clone()));
            }
            let set = self.countries_per_source_day.entry((sid, day)).or_default();
            if set.len() < 64 {
                set.insert(dest.country);
            }
            if set.len() > self.opts.max_countries_per_day {
                hits.push(("many-countries", Severity::High, source.clone()));
            }
            if self.countries_per_source_day.len() > 4 * MAX_SOURCES {
                self.countries_per_source_day.retain(|k, _| k.1 >= day - 1);
            }
        }
        // Range testing targets international and premium ranges; tracking only those keeps the
        // tracker small enough to stay in cache.
        let billed_abroad = dest.international || dest.category == Category::Premium;
        if billed_abroad && cdr.billsec < BURST_SHORT_SECS {
            if let Some(range) = self.burst(start) {
                hits.push(("range-burst", Severity::High, range));
            }
        }
        if !reported {
            return;
        }
        for (kind, severity, key) in hits {
            self.note(kind, severity, key, cdr, start, end, dest.country);
        }
    }

    /// Tracks short calls per number range; returns the range when it is being swept.
    fn burst(&mut self, start: i64) -> Option<String> {
        let digits = self.classifier.last_digits();
        if digits.len() <= RANGE_CUT_DIGITS + 3 {
            return None;
        }
        let range = &digits[..digits.len() - RANGE_CUT_DIGITS];
        let range_key = hash_bytes(range);
        let number_key = hash_bytes(digits);
        if self.bursts.len() > 100_000 {
            self.bursts
                .retain(|_, q| q.back().is_some_and(|&(t, _)| start - t < BURST_WINDOW));
        }
        let q = self.bursts.entry(range_key).or_default();
        while q.front().is_some_and(|&(t, _)| start - t > BURST_WINDOW) {
            q.pop_front();
        }
        if q.len() >= 4 * BURST_DISTINCT {
            q.pop_front();
        }
        q.push_back((start, number_key));
        if q.len() < BURST_DISTINCT {
            return None;
        }
        let seen = &mut self.distinct_scratch;
        seen.clear();
        seen.extend(q.iter().map(|&(_, n)| n));
        seen.sort_unstable();
        seen.dedup();
        (seen.len() >= BURST_DISTINCT).then(|| {
            format!(
                "{}{}",
                String::from_utf8_lossy(range),
                "x".repeat(RANGE_CUT_DIGITS)
            )
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn note(
        &mut self,
        kind: &'static str,
        severity: Severity,
        key: String,
        cdr: &Cdr<'_>,
        start: i64,
        end: i64,
        country: Country,
    ) {
        let k = (kind, key);
        if let Some(ep) = self.open.get(&k) {
            if start > ep.end + EPISODE_GAP {
                if let Some(ep) = self.open.remove(&k) {
                    self.close(ep);
                }
            }
        }
        if self.open.len() > MAX_SOURCES {
            let stale: Vec<_> = self
                .open
                .iter()
                .filter(|(_, e)| start > e.end + EPISODE_GAP)
                .map(|(k, _)| k.clone())
                .collect();
            for s in stale {
                if let Some(ep) = self.open.remove(&s) {
                    self.close(ep);
                }
            }
        }
        let ep = self.open.entry(k.clone()).or_insert_with(|| Episode {
            kind,
            severity,
            start,
            end,
            source: k.1.clone(),
            calls: 0,
            billsec: 0,
            countries: BTreeMap::new(),
            examples: Vec::new(),
        });
        ep.calls += 1;
        ep.billsec += u64::from(cdr.billsec);
        ep.end = ep.end.max(end);
        ep.severity = ep.severity.max(severity);
        if ep.countries.len() < MAX_ALARM_COUNTRIES || ep.countries.contains_key(&country) {
            *ep.countries.entry(country).or_default() += 1;
        }
        if ep.examples.len() < MAX_EXAMPLES {
            ep.examples.push(Example {
                time: format_time(start),
                src: clean(cdr.src),
                dst: clean(cdr.dst),
                country: country.to_string(),
                channel: clean(cdr.channel),
                billsec: cdr.billsec,
                line: cdr.line,
            });
        }
    }

    fn close(&mut self, ep: Episode) {
        let mut countries: Vec<(Country, u64)> = ep.countries.into_iter().collect();
        countries.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let list: Vec<String> = countries.iter().map(|c| c.0.to_string()).collect();
        let minutes = ep.billsec as f64 / 60.0;
        let mut severity = ep.severity;
        if ep.kind == "after-hours" && ep.calls >= 10 {
            severity = severity.max(Severity::High);
        }
        if ep.calls >= 1000 {
            severity = Severity::Critical;
        }
        let detail = match ep.kind {
            "premium" => format!(
                "{} calls ({minutes:.0} min) from {} to premium-rate or shared-cost numbers in {}",
                ep.calls,
                ep.source,
                list.join(", ")
            ),
            "satellite" => format!(
                "{} calls ({minutes:.0} min) from {} to satellite/global codes {}",
                ep.calls,
                ep.source,
                list.join(", ")
            ),
            "new-country" => format!(
                "{} calls ({minutes:.0} min) to {}, a country never called before",
                ep.calls, ep.source
            ),
            "after-hours" => format!(
                "{} international calls ({minutes:.0} min) from {} outside business hours, to {}",
                ep.calls,
                ep.source,
                list.join(", ")
            ),
            "many-countries" => format!(
                "{} called more than {} foreign countries in a day: {}",
                ep.source,
                self.opts.max_countries_per_day,
                list.join(", ")
            ),
            "range-burst" => format!(
                "{} short calls to many numbers in range {} (number-range testing)",
                ep.calls, ep.source
            ),
            _ => format!("{} calls", ep.calls),
        };
        self.push_alarm(Alarm {
            kind: ep.kind.to_string(),
            severity,
            start: format_time(ep.start),
            end: format_time(ep.end),
            source: ep.source,
            detail,
            calls: ep.calls,
            countries: list,
            examples: ep.examples,
        });
    }

    fn push_alarm(&mut self, alarm: Alarm) {
        if self.alarms.len() < MAX_ALARMS {
            self.alarms.push(alarm);
        } else {
            self.alarms_dropped += 1;
        }
    }

    /// Ends the analysis: closes episodes, computes baseline alarms, builds the report.
    pub fn finish(mut self, skips: &crate::cdr::Skips) -> Report {
        let open: Vec<Episode> = self.open.drain().map(|(_, e)| e).collect();
        for ep in open {
            self.close(ep);
        }
        self.baseline_alarms();
        let since = self.opts.since_day;
        let reported = |d: i64| since.is_none_or(|s| d >= s);
        let mut alarms = std::mem::take(&mut self.alarms);
        alarms.sort_by(|a, b| a.start.cmp(&b.start).then(a.kind.cmp(&b.kind)));
        let days = self
            .days
            .iter()
            .filter(|(d, _)| reported(**d))
            .map(|(&d, a)| Day {
                date: format_date(d),
                calls: a.calls,
                answered: a.answered,
                minutes: minutes(a.billsec),
                intl_calls: a.intl_calls,
                intl_minutes: minutes(a.intl_billsec),
                outbound_calls: a.out_calls,
                peak_concurrent: peak(a),
            })
            .collect();
        let mut destinations: Vec<DestinationRow> = self
            .countries
            .iter()
            .map(|(c, a)| DestinationRow {
                country: c.to_string(),
                calls: a.calls,
                minutes: minutes(a.billsec),
            })
            .collect();
        destinations.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.country.cmp(&b.country)));
        let mut sources: Vec<SourceRow> = self
            .sources
            .iter()
            .map(|s| {
                let (calls, billsec) = s
                    .per_day
                    .0
                    .iter()
                    .filter(|e| reported(e.0))
                    .fold((0, 0), |acc, e| (acc.0 + e.1, acc.1 + e.2));
                SourceRow {
                    source: s.name.clone(),
                    calls,
                    minutes: minutes(billsec),
                    intl_calls: s.intl_calls,
                }
            })
            .filter(|s| s.calls > 0)
            .collect();
        sources.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.source.cmp(&b.source)));
        sources.truncate(20);
        Report {
            days,
            destinations,
            alarms,
            skipped: skips.count,
            skipped_lines: skips.first.iter().map(SkipRow::from).collect(),
            records: self.records,
            sources,
            hour_of_week: self.hour_of_week.chunks(24).map(|c| c.to_vec()).collect(),
            alarms_dropped: self.alarms_dropped,
        }
    }

    /// Volume, minutes and concurrency against each day's own trailing baseline.
    fn baseline_alarms(&mut self) {
        let Some(first) = self.first_time else {
            return;
        };
        let first_day = first.div_euclid(86_400);
        let learn_day = self.learn_end.div_euclid(86_400);
        let (Some(&lo), Some(&hi)) = (self.days.keys().next(), self.days.keys().next_back()) else {
            return;
        };
        let series = |f: &dyn Fn(&DayAgg) -> u64| -> Vec<u64> {
            (lo..=hi).map(|d| self.days.get(&d).map_or(0, f)).collect()
        };
        let out_calls = series(&|a| a.out_calls);
        let out_min = series(&|a| a.out_billsec / 60);
        let intl_calls = series(&|a| a.intl_calls);
        let intl_min = series(&|a| a.intl_billsec / 60);
        let peaks = series(&|a| u64::from(peak(a)));
        let since = self.opts.since_day.unwrap_or(i64::MIN);
        let mut found = Vec::new();
        for day in learn_day.max(first_day + 1)..=hi {
            if day < since {
                continue;
            }
            let i = (day - lo) as usize;
            let w0 = i.saturating_sub(BASELINE_DAYS as usize);
            let mut over = Vec::new();
            for (name, s, floor) in [
                ("outbound calls", &out_calls, 30),
                ("outbound minutes", &out_min, 120),
                ("international calls", &intl_calls, 15),
                ("international minutes", &intl_min, 60),
            ] {
                if let Some(limit) = exceeds(&s[w0..i], s[i], floor, 3) {
                    over.push(format!("{name} {} (usual up to {limit})", s[i]));
                }
            }
            if !over.is_empty() {
                found.push(self.day_alarm(
                    "volume",
                    day,
                    "PBX".into(),
                    over.join("; "),
                    out_calls[i],
                ));
            }
            let usual_peak = peaks[w0..i].iter().copied().max().unwrap_or(0);
            if peaks[i] > (usual_peak * 3 / 2).max(usual_peak + 4) {
                found.push(self.day_alarm(
                    "concurrency",
                    day,
                    "PBX".into(),
                    format!(
                        "{} outbound calls at once (usual peak {usual_peak})",
                        peaks[i]
                    ),
                    out_calls[i],
                ));
            }
        }
        for s in &self.sources {
            let from = learn_day.max(since);
            for &(day, calls, billsec) in s.per_day.0.iter().filter(|e| e.0 >= from) {
                // Below both floors no baseline can make it an alarm: skip the statistics.
                if calls <= EXT_CALLS_FLOOR && billsec / 60 <= EXT_MINUTES_FLOOR {
                    continue;
                }
                let history: Vec<(u64, u64)> = (day - BASELINE_DAYS..day)
                    .map(|d| s.per_day.get(d))
                    .collect();
                let c: Vec<u64> = history.iter().map(|h| h.0).collect();
                let m: Vec<u64> = history.iter().map(|h| h.1 / 60).collect();
                let mut over = Vec::new();
                if let Some(limit) = exceeds(&c, calls, EXT_CALLS_FLOOR, 4) {
                    over.push(format!("{calls} outbound calls (usual up to {limit})"));
                }
                if let Some(limit) = exceeds(&m, billsec / 60, EXT_MINUTES_FLOOR, 4) {
                    over.push(format!(
                        "{} outbound minutes (usual up to {limit})",
                        billsec / 60
                    ));
                }
                if !over.is_empty() {
                    found.push(self.day_alarm(
                        "extension-volume",
                        day,
                        s.name.clone(),
                        format!("{}: {}", s.name, over.join("; ")),
                        calls,
                    ));
                }
            }
        }
        for a in found {
            self.push_alarm(a);
        }
    }

    fn day_alarm(&self, kind: &str, day: i64, source: String, detail: String, calls: u64) -> Alarm {
        Alarm {
            kind: kind.into(),
            severity: Severity::High,
            start: format!("{} 00:00:00", format_date(day)),
            end: format!("{} 23:59:59", format_date(day)),
            source,
            detail,
            calls,
            countries: Vec::new(),
            examples: Vec::new(),
        }
    }
}

/// The robust limit for `value` given `history`: `max(median + 6·σ, factor·median, median +
/// floor)` with σ = 1.4826·MAD. Returns the limit when `value` is above it.
fn exceeds(history: &[u64], value: u64, floor: u64, factor: u64) -> Option<u64> {
    let mut h = history.to_vec();
    let median = median(&mut h);
    let mut dev: Vec<u64> = h.iter().map(|&v| v.abs_diff(median)).collect();
    let mad = median_of(&mut dev);
    let sigma = (mad as f64 * 1.4826).ceil() as u64;
    let limit = (median + 6 * sigma)
        .max(factor * median)
        .max(median + floor);
    (value > limit).then_some(limit)
}

fn median(v: &mut [u64]) -> u64 {
    median_of(v)
}

fn median_of(v: &mut [u64]) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[v.len() / 2]
}

fn minutes(billsec: u64) -> f64 {
    (billsec as f64 / 6.0).round() / 10.0
}

fn peak(a: &DayAgg) -> u32 {
    a.active
        .as_ref()
        .and_then(|m| m.iter().max().copied())
        .map_or(0, u32::from)
}

/// Counts one outbound call in every minute it was up.
fn add_active(days: &mut BTreeMap<i64, DayAgg>, start: i64, end: i64) {
    let first = start.div_euclid(60);
    let last = end.div_euclid(60).min(first + MAX_CONCURRENCY_MINUTES);
    let mut minute = first;
    while minute <= last {
        let day = minute.div_euclid(1440);
        let day_end = (day + 1) * 1440 - 1;
        let agg = days.entry(day).or_default();
        let m = agg
            .active
            .get_or_insert_with(|| vec![0u16; 1440].into_boxed_slice());
        for slot in minute.rem_euclid(1440)..=last.min(day_end).rem_euclid(1440) {
            let slot = slot as usize;
            m[slot] = m[slot].saturating_add(1);
        }
        minute = day_end + 1;
    }
}

/// `PJSIP/1001-0000002a` → `PJSIP/1001`; `None` for an empty channel.
fn device(channel: &[u8]) -> Option<&[u8]> {
    if channel.is_empty() {
        return None;
    }
    match memchr::memrchr(b'-', channel) {
        Some(i) if i > 0 => Some(&channel[..i]),
        _ => Some(channel),
    }
}

/// Records per batch handed from the reading thread to the analysing one.
const BATCH_RECORDS: usize = 8192;

/// Reads a CDR file and builds the report. One thread reads, unquotes and parses records;
/// the calling thread classifies and aggregates them (the order of records is kept).
pub fn report_file(
    path: &Path,
    classifier: Classifier,
    opts: ReportOptions,
) -> Result<Report, CdrError> {
    let input = crate::cdr::open(path)?;
    let mut analyzer = Analyzer::new(classifier, opts);
    let skips = read_parallel(&mut analyzer, input, path)?;
    Ok(analyzer.finish(&skips))
}

/// Feeds `analyzer` from `input`, reading on a second thread.
pub fn read_parallel(
    analyzer: &mut Analyzer,
    input: Box<dyn BufRead + Send>,
    path: &Path,
) -> Result<crate::cdr::Skips, CdrError> {
    use crate::cdr::Batch;
    use std::sync::mpsc::sync_channel;
    let (full_tx, full_rx) = sync_channel::<Batch>(4);
    let (empty_tx, empty_rx) = sync_channel::<Batch>(8);
    for _ in 0..6 {
        let _ = empty_tx.send(Batch::default());
    }
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> Result<crate::cdr::Skips, CdrError> {
            let mut reader = CdrReader::new(input, path);
            let mut batch = empty_rx.recv().unwrap_or_default();
            while let Some(cdr) = reader.next_record()? {
                batch.push(&cdr);
                if batch.len() >= BATCH_RECORDS {
                    let next = empty_rx.recv().unwrap_or_default();
                    if full_tx.send(std::mem::replace(&mut batch, next)).is_err() {
                        return Ok(reader.skips);
                    }
                    batch.clear();
                }
            }
            if !batch.is_empty() {
                let _ = full_tx.send(batch);
            }
            Ok(reader.skips)
        });
        for batch in full_rx {
            for cdr in batch.iter() {
                analyzer.add(&cdr);
            }
            let _ = empty_tx.send(batch);
        }
        reader.join().unwrap_or_else(|_| {
            Err(CdrError::Io {
                path: path.to_path_buf(),
                line: 0,
                source: std::io::Error::other("the reading thread failed"),
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_limit_ignores_one_busy_day() {
        let mut history = vec![100; 20];
        history.extend([0; 8]);
        history[5] = 180; // a busy Monday
        assert_eq!(exceeds(&history, 150, 30, 3), None);
        assert!(exceeds(&history, 400, 30, 3).is_some());
        assert!(exceeds(&[0; 28], 31, 30, 3).is_some());
        assert_eq!(exceeds(&[0; 28], 30, 30, 3), None);
    }

    #[test]
    fn gmt_records_are_shifted_to_the_office_clock() {
        let line = b"\"\",\"1001\",\"2125550123\",\"from-internal\",\"\",\"PJSIP/1001-1\",\"PJSIP/trunk-2\",\"Dial\",\"\",\"2025-01-06 23:30:00\",\"2025-01-06 23:30:05\",\"2025-01-06 23:31:05\",65,60,\"ANSWERED\",\"DOCUMENTATION\"\n";
        let text = "[calls]\ncdr_usegmtime = true\nutc_offset = \"+01:00\"\n";
        let cfg = tg_config::Config::parse(text, Path::new("t.toml")).unwrap();
        let calls = cfg.calls.unwrap();
        let plan = tg_office::classify::Dialplan::from_config(&calls).unwrap();
        let mut a = Analyzer::new(
            Classifier::new(plan),
            ReportOptions::from_config(&calls, None).unwrap(),
        );
        let skips = a.read(&line[..], Path::new("x")).unwrap();
        let r = a.finish(&skips);
        assert_eq!(r.days.len(), 1);
        assert_eq!(r.days[0].date, "2025-01-07");
        assert_eq!(r.days[0].minutes, 1.0);
        assert_eq!(r.hour_of_week[1][0], 1, "Tuesday 00h");
    }

    /// One answered national call of a minute, starting at the UTC time `start`.
    fn gmt_record(start: &str, end: &str) -> String {
        format!(
            "\"\",\"1001\",\"2125550123\",\"from-internal\",\"\",\"PJSIP/1001-1\",\"PJSIP/trunk-2\",\"Dial\",\"\",\"{start}\",\"{start}\",\"{end}\",60,60,\"ANSWERED\",\"DOCUMENTATION\"\n"
        )
    }

    fn days_of(zone: &str, records: &[(&str, &str)]) -> (Vec<(String, u64)>, Report) {
        let text = format!("[calls]\ncdr_usegmtime = true\ntimezone = \"{zone}\"\n");
        let cfg = tg_config::Config::parse(&text, Path::new("t.toml")).unwrap();
        let calls = cfg.calls.unwrap();
        let plan = tg_office::classify::Dialplan::from_config(&calls).unwrap();
        let mut a = Analyzer::new(
            Classifier::new(plan),
            ReportOptions::from_config(&calls, None).unwrap(),
        );
        let input: String = records.iter().map(|(s, e)| gmt_record(s, e)).collect();
        let skips = a.read(input.as_bytes(), Path::new("x")).unwrap();
        let r = a.finish(&skips);
        let days = r.days.iter().map(|d| (d.date.clone(), d.calls)).collect();
        (days, r)
    }

    #[test]
    fn days_split_at_local_midnight_across_daylight_saving_changes() {
        let day = |d: &str, n: u64| (d.to_string(), n);
        // Berlin, spring: 22:30 UTC is 23:30 CET on the 28th but 00:30 CEST on the 30th.
        let (days, r) = days_of(
            "Europe/Berlin",
            &[
                ("2026-03-28 22:30:00", "2026-03-28 22:31:00"),
                ("2026-03-29 21:30:00", "2026-03-29 21:31:00"),
                ("2026-03-29 22:30:00", "2026-03-29 22:31:00"),
            ],
        );
        assert_eq!(
            days,
            vec![
                day("2026-03-28", 1),
                day("2026-03-29", 1),
                day("2026-03-30", 1)
            ]
        );
        // Saturday 23h, Sunday 23h, Monday 00h on the office clock.
        assert_eq!(r.hour_of_week[5][23], 1);
        assert_eq!(r.hour_of_week[6][23], 1);
        assert_eq!(r.hour_of_week[0][0], 1);
        // Berlin, autumn: 22:30 UTC is 00:30 CEST on the 25th, then 23:30 CET on the 25th.
        let (days, _) = days_of(
            "Europe/Berlin",
            &[
                ("2026-10-24 22:30:00", "2026-10-24 22:31:00"),
                ("2026-10-25 22:30:00", "2026-10-25 22:31:00"),
                ("2026-10-25 23:30:00", "2026-10-25 23:31:00"),
            ],
        );
        assert_eq!(days, vec![day("2026-10-25", 2), day("2026-10-26", 1)]);
        // New York: 04:30 UTC is 23:30 EST before 8 March, 00:30 EDT after; 05:30 UTC on
        // 1 November is still 01:30 EDT, 04:30 UTC the next day 23:30 EST on the 1st again.
        let (days, r) = days_of(
            "America/New_York",
            &[
                ("2026-03-07 04:30:00", "2026-03-07 04:31:00"),
                ("2026-03-09 04:30:00", "2026-03-09 04:31:00"),
                ("2026-11-01 05:30:00", "2026-11-01 05:31:00"),
                ("2026-11-02 04:30:00", "2026-11-02 04:31:00"),
            ],
        );
        let busy: Vec<_> = days.into_iter().filter(|d| d.1 > 0).collect();
        assert_eq!(
            busy,
            vec![
                day("2026-03-06", 1),
                day("2026-03-09", 1),
                day("2026-11-01", 2)
            ]
        );
        assert_eq!(r.hour_of_week[4][23], 1, "Friday 23h EST");
        assert_eq!(r.hour_of_week[0][0], 1, "Monday 00h EDT");
        assert_eq!(r.hour_of_week[6][1], 1, "Sunday 01h EDT");
        assert_eq!(r.hour_of_week[6][23], 1, "Sunday 23h EST");
    }

    #[test]
    fn devices_and_cleaning() {
        assert_eq!(device(b"PJSIP/1001-0000002a"), Some(&b"PJSIP/1001"[..]));
        assert_eq!(device(b"SIP/trunk"), Some(&b"SIP/trunk"[..]));
        assert_eq!(device(b""), None);
        assert_eq!(clean(b"a\x1b[2J\xffb"), "a\\u{1b}[2J\u{fffd}b");
    }
}
