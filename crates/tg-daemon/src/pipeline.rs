//! The detection thread: sources → detectors → jails; ban decisions go to the enforcer thread.
//!
//! It owns the followers, the detectors and the jail counters, and takes one closed set of
//! messages ([`PipelineMsg`]): "files changed" from the inotify thread, journal entries, findings
//! from outside (the AMI call guard), trusted-set updates, manual bans and unbans, reloads and
//! status questions. Lines are read in big chunks and handed to the detectors as borrowed
//! slices; only findings are built, and only decisions leave the thread. A line naming several
//! candidate addresses is settled, if at all, by the evidence given with
//! [`Pipeline::with_evidence`] (the daemon's: `crate::evidence`, the kernel's connection
//! tracking), inside `tg_engine::step`.
//!
//! # History from the store, without waiting for it
//! The jails need the store's history for every decision: how many bans an address already
//! served in a jail (escalation) and which bans are still running (no second decision). Reading
//! it all (100,000 histories and 100,000 bans: 200–400 ms) must not delay the first line read,
//! so the daemon starts this thread at once and a background thread (`tg-seed`) reads the store
//! on its own read-only connection and sends the rows in pages ([`PipelineMsg::Seed`]), then
//! [`PipelineMsg::Seeded`]. Until that last message, the thread is *seeding*:
//! - before the jails count a finding of an address not looked at yet, its history is read with
//!   a point query on the thread's own read-only connection ([`Store::history_of`], two primary
//!   key lookups, tens of microseconds; WAL lets it read while the enforcer commits) and merged
//!   into the jails. So a decision in the first millisecond escalates exactly as one an hour
//!   later would;
//! - pages and lookups are merged with *max* semantics (`JailSet::merge_prior_bans`,
//!   `merge_banned_until`): a count only grows (the store's never shrinks while we run), and a
//!   page read before a live decision raised a count or a ban's end cannot lower it again;
//! - the one exception to "the later end wins" is the operator: after `tollguard ban`/`unban` of
//!   an address the store's running ban of it is stale, so pages and lookups skip its running
//!   ban from then on (its count still merges).
//!
//! Lines come first: before each page is merged the files are looked at, since an inotify
//! wake-up for a line written now may be queued behind pages sent earlier.
//!
//! After `Seeded` the jails hold everything and lookups stop. If the background read failed,
//! lookups go on for the rest of the run: slower for new addresses, never wrong. The jails stay
//! free of I/O; all of this is here.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tg_detect::Detectors;
use tg_engine::step::{self, Evidence, LineCounts, NoEvidence, Seen};
use tg_jail::{Decision, JailSet, LogClock};
use tg_model::{canonical_ip, canonical_net, net_text, Finding, Stamp, TrustedSet};
use tg_source::follow::{parent_dir, Follower, Position, StartAt, WatchHandle};
use tg_source::journal::JournalEntry;
use tg_store::{AddressHistory, FilePosition, HistoryPage, Store};

use crate::enforcer::{now_ms, BanRequest, EnforceMsg};
use crate::protocol::FileReport;
use crate::stats::Stats;

/// The safety-net tick: every file is looked at, missing directories watched again, positions
/// handed to the enforcer thread for saving.
const TICK: Duration = Duration::from_secs(1);
/// How often jail counters that can no longer matter are dropped.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// While lines flow, positions go to the enforcer thread at most this often.
const SEND_POSITIONS_EVERY: Duration = Duration::from_millis(250);

/// What the detection thread is told.
pub enum PipelineMsg {
    /// Something happened in a watched directory (or the inotify queue overflowed).
    FilesChanged,
    /// A journal entry.
    Journal(JournalEntry),
    /// A finding from outside the log sources: the hook for the AMI live call guard, which
    /// reports hostile AMI logins and fraud calls as findings of its own.
    External(Finding),
    /// The trusted set changed (host names re-resolved, own addresses changed).
    Trusted(TrustedSet),
    /// `tollguard ban`: count the address as banned until then in every jail.
    Banned(IpAddr, i64),
    /// `tollguard unban`: forget the address's (or prefix's) ban and window.
    Unbanned(IpNet),
    /// A new configuration, already validated and built.
    Reload(Box<Reloaded>, Sender<()>),
    /// The followed files, for `status`.
    Files(Sender<Vec<FileReport>>),
    /// Save positions and stop.
    Stop(Sender<()>),
    /// A page of the store's history, read in the background at start (see the module docs).
    Seed(Box<HistoryPage>),
    /// The background read is over.
    Seeded(SeedReport),
}

/// How the background read of the store's history went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedReport {
    /// Rows read (histories and running bans).
    pub rows: usize,
    /// How long the read took, milliseconds.
    pub ms: u128,
    /// False when the read failed part way: lookups then go on for good.
    pub complete: bool,
}

/// The thread's state while the store's history is still arriving.
struct Seeding {
    /// The thread's own read-only store connection for point queries.
    store: Box<dyn Store>,
    /// Addresses and prefixes whose history was read with a point query.
    looked_up: HashSet<IpNet>,
    /// Addresses and prefixes banned or unbanned by the operator meanwhile: their stored ban is
    /// stale.
    operator: HashSet<IpNet>,
    /// Whether a failed lookup was already logged.
    warned: bool,
}

impl Seeding {
    /// Merges the stored history of what `ip` is counted as (the address, its prefixes) into
    /// the jails the first time each is seen.
    fn look_up(&mut self, jails: &mut JailSet, ip: IpAddr) {
        for net in jails.counted_as(ip) {
            self.look_up_one(jails, net);
        }
    }

    fn look_up_one(&mut self, jails: &mut JailSet, ip: IpNet) {
        if !self.looked_up.insert(ip) {
            return;
        }
        let t = Instant::now();
        match self.store.history_of(ip, now_ms()) {
            Ok(h) => {
                tracing::debug!(
                    "{}'s history looked up in {:?}: {h:?}",
                    net_text(ip),
                    t.elapsed()
                );
                merge_history(jails, &self.operator, ip, &h)
            }
            Err(e) => {
                if !self.warned {
                    tracing::warn!(
                        "reading {}'s history from the store: {e}; its ban may not escalate",
                        net_text(ip)
                    );
                    self.warned = true;
                }
            }
        }
    }
}

/// Merges one address's stored history (max semantics; see the module docs).
fn merge_history(jails: &mut JailSet, operator: &HashSet<IpNet>, ip: IpNet, h: &AddressHistory) {
    for (jail, bans) in &h.prior_bans {
        jails.merge_prior_bans(jail, ip, *bans);
    }
    if !operator.contains(&ip) {
        for (jail, until_ms) in &h.running {
            jails.merge_banned_until(jail, ip, *until_ms);
        }
    }
}

/// Merges a page of everyone's stored history.
fn merge_page(jails: &mut JailSet, operator: Option<&HashSet<IpNet>>, page: &HistoryPage) {
    for (ip, jail, bans) in &page.prior_bans {
        jails.merge_prior_bans(jail, *ip, *bans);
    }
    for (ip, jail, until_ms) in &page.running {
        if !operator.is_some_and(|o| o.contains(&canonical_net(*ip))) {
            jails.merge_banned_until(jail, *ip, *until_ms);
        }
    }
}

/// The parts of a configuration the detection thread uses.
pub struct Reloaded {
    /// Detectors (built-in and custom).
    pub detectors: Detectors,
    /// Jails with their history seeded from the store.
    pub jails: JailSet,
    /// The union of the enabled jails' log files.
    pub files: Vec<PathBuf>,
    /// Where a file without a saved position starts.
    pub start_at: StartAt,
}

struct FileSource {
    follower: Follower,
    clock: LogClock,
}

/// The detection thread's state.
pub struct Pipeline {
    detectors: Detectors,
    jails: JailSet,
    sources: Vec<FileSource>,
    journal_clock: LogClock,
    journal_cursor: Option<String>,
    enforce: Sender<EnforceMsg>,
    watch: WatchHandle,
    stats: Arc<Stats>,
    dirty: bool,
    last_prune: Instant,
    last_sent: Instant,
    last_follow: HashMap<PathBuf, (u64, u64, u64)>,
    seeding: Option<Seeding>,
    /// What settles a line that names several candidate addresses (see `tg_engine::step`).
    evidence: Box<dyn Evidence + Send>,
}

impl Pipeline {
    /// A pipeline over `cfg`, resuming files at the saved `positions`.
    pub fn new(
        cfg: Reloaded,
        positions: Vec<FilePosition>,
        enforce: Sender<EnforceMsg>,
        watch: WatchHandle,
        stats: Arc<Stats>,
    ) -> Pipeline {
        let mut saved: HashMap<PathBuf, Position> = positions
            .into_iter()
            .map(|p| {
                let path = PathBuf::from(&p.path);
                (
                    path.clone(),
                    Position {
                        path,
                        dev: p.dev,
                        inode: p.inode,
                        offset: p.offset,
                        head_hash: p.head_hash,
                    },
                )
            })
            .collect();
        let now = now_ms();
        let sources = cfg
            .files
            .iter()
            .map(|path| FileSource {
                follower: Follower::new(path, cfg.start_at, saved.remove(path)),
                clock: LogClock::new(now),
            })
            .collect();
        let mut p = Pipeline {
            detectors: cfg.detectors,
            jails: cfg.jails,
            sources,
            journal_clock: LogClock::new(now),
            journal_cursor: None,
            enforce,
            watch,
            stats,
            dirty: true,
            last_prune: Instant::now(),
            last_sent: Instant::now(),
            last_follow: HashMap::new(),
            seeding: None,
            evidence: Box::new(NoEvidence),
        };
        p.watch_dirs();
        p
    }

    /// Lines naming several candidate addresses are put to `evidence` (the kernel's
    /// connection tracking in the daemon) before they are given up as suspicious.
    pub fn with_evidence(mut self, evidence: Box<dyn Evidence + Send>) -> Pipeline {
        self.evidence = evidence;
        self
    }

    /// The jails' history from the store is still to come ([`PipelineMsg::Seed`] pages, then
    /// [`PipelineMsg::Seeded`]); meanwhile each new address is looked up through `reader`
    /// before its findings are counted.
    pub fn seeding_from(mut self, reader: Box<dyn Store>) -> Pipeline {
        self.seeding = Some(Seeding {
            store: reader,
            looked_up: HashSet::new(),
            operator: HashSet::new(),
            warned: false,
        });
        self
    }

    /// Runs until `Stop` or until every sender is gone.
    pub fn run(mut self, rx: Receiver<PipelineMsg>) {
        // Lines already in the files (a resumed position, `read_from = "start"`) first, then
        // the starting positions saved at once: a daemon killed in its first second must not
        // come back at the end of the file.
        self.poll_files();
        self.send_positions();
        loop {
            let msg = match rx.recv_timeout(TICK) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    self.tick();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.send_positions();
                    return;
                }
            };
            match msg {
                PipelineMsg::FilesChanged => {
                    // A burst of writes is many wake-ups: one look at the files serves all.
                    let mut others = Vec::new();
                    while let Ok(m) = rx.try_recv() {
                        match m {
                            PipelineMsg::FilesChanged => {}
                            other => others.push(other),
                        }
                    }
                    self.poll_files();
                    if self.dirty && self.last_sent.elapsed() >= SEND_POSITIONS_EVERY {
                        self.send_positions();
                    }
                    for m in others {
                        if let Some(done) = self.handle(m) {
                            let _ = done.send(());
                            return;
                        }
                    }
                }
                other => {
                    if let Some(done) = self.handle(other) {
                        let _ = done.send(());
                        return;
                    }
                }
            }
        }
    }

    /// Handles one message other than `FilesChanged`; returns the reply channel on `Stop`.
    fn handle(&mut self, msg: PipelineMsg) -> Option<Sender<()>> {
        match msg {
            PipelineMsg::FilesChanged => self.poll_files(),
            PipelineMsg::Journal(entry) => self.journal(entry),
            PipelineMsg::External(f) => {
                Stats::add(&self.stats.external_findings, 1);
                self.observe(&f);
            }
            PipelineMsg::Trusted(t) => self.jails.set_trusted(t),
            PipelineMsg::Banned(ip, until_ms) => {
                if let Some(s) = &mut self.seeding {
                    s.operator.insert(IpNet::from(canonical_ip(ip)));
                }
                let names: Vec<String> =
                    self.jails.jails().iter().map(|j| j.name.clone()).collect();
                for name in names {
                    self.jails.set_banned_until(&name, ip, until_ms);
                }
            }
            PipelineMsg::Unbanned(ip) => {
                if let Some(s) = &mut self.seeding {
                    s.operator.insert(canonical_net(ip));
                }
                self.jails.unbanned(ip)
            }
            PipelineMsg::Seed(page) => {
                // Lines first: the wake-up for a line written now may be queued behind pages
                // sent earlier, and merging a page takes about a millisecond.
                self.poll_files();
                merge_page(
                    &mut self.jails,
                    self.seeding.as_ref().map(|s| &s.operator),
                    &page,
                );
            }
            PipelineMsg::Seeded(report) => self.seeded(report),
            PipelineMsg::Reload(cfg, done) => {
                self.reload(*cfg);
                let _ = done.send(());
            }
            PipelineMsg::Files(reply) => {
                let files = self
                    .sources
                    .iter()
                    .map(|s| FileReport {
                        path: s.follower.path().display().to_string(),
                        open: s.follower.is_open(),
                        offset: s.follower.position().map_or(0, |p| p.offset),
                        lines: s.follower.stats().lines,
                    })
                    .collect();
                let _ = reply.send(files);
            }
            PipelineMsg::Stop(done) => {
                self.poll_files();
                self.send_positions();
                return Some(done);
            }
        }
        None
    }

    fn seeded(&mut self, report: SeedReport) {
        let looked_up = self.seeding.as_ref().map_or(0, |s| s.looked_up.len());
        if report.complete {
            self.seeding = None;
            tracing::info!(
                "jails seeded from the store: {} rows in {} ms ({} address(es) looked up before)",
                report.rows,
                report.ms,
                looked_up
            );
        } else {
            tracing::warn!(
                "the store's history was read only in part ({} rows in {} ms); new addresses \
                 are looked up in the store one by one",
                report.rows,
                report.ms
            );
        }
    }

    fn tick(&mut self) {
        self.watch_dirs();
        self.poll_files();
        if self.dirty {
            self.send_positions();
        }
        if self.last_prune.elapsed() >= PRUNE_EVERY {
            self.jails.prune(now_ms());
            self.last_prune = Instant::now();
        }
        let usage = self.jails.usage();
        let tracked: usize = usage.iter().map(|u| u.tracked).sum();
        let evicted: u64 = usage.iter().map(|u| u.evicted).sum();
        self.stats.tracked.store(tracked as u64, Ordering::Relaxed);
        self.stats.evicted.store(evicted, Ordering::Relaxed);
    }

    /// Watches every followed file's directory that exists and is not watched yet.
    fn watch_dirs(&mut self) {
        for s in &self.sources {
            let dir = parent_dir(s.follower.path());
            if !self.watch.watches(&dir) && dir.is_dir() {
                if let Err(e) = self.watch.watch_dir(&dir) {
                    tracing::warn!("cannot watch {}: {e}; looking every second", dir.display());
                }
            }
        }
    }

    /// Reads what is new in every file and runs it through detectors and jails.
    fn poll_files(&mut self) {
        let Pipeline {
            detectors,
            jails,
            sources,
            enforce,
            stats,
            seeding,
            evidence,
            ..
        } = self;
        let evidence = evidence.as_mut();
        let mut counts = LineCounts::default();
        for s in sources.iter_mut() {
            let before = s.follower.stats();
            let clock = &mut s.clock;
            let result = s.follower.poll(&mut |line| {
                if let Seen::Found(d) = step::detect(detectors, line, &mut counts, evidence) {
                    let f = step::finding(d, clock);
                    observe(jails, seeding.as_mut(), enforce, stats, &f);
                }
            });
            if let Err(e) = result {
                tracing::warn!("reading {}: {e}", s.follower.path().display());
            }
            let after = s.follower.stats();
            Stats::add(&stats.bytes, after.bytes - before.bytes);
            Stats::add(&stats.long_lines, after.long_lines - before.long_lines);
            Stats::add(&stats.rotations, after.rotations - before.rotations);
            Stats::add(&stats.truncations, after.truncations - before.truncations);
        }
        add_counts(stats, counts);
        if counts.lines > 0 {
            self.dirty = true;
        }
    }

    fn journal(&mut self, entry: JournalEntry) {
        Stats::add(&self.stats.journal_entries, 1);
        let mut counts = LineCounts::default();
        let seen = step::detect(
            &self.detectors,
            &entry.line,
            &mut counts,
            self.evidence.as_mut(),
        );
        if let Seen::Found(mut d) = seen {
            // The journal's own timestamp is exact; the line's syslog stamp has no year.
            d.stamp = entry.time_ms.map(Stamp::Absolute).or(d.stamp);
            let f = step::finding(d, &mut self.journal_clock);
            self.observe(&f);
        }
        add_counts(&self.stats, counts);
        self.journal_cursor = Some(entry.cursor);
        self.dirty = true;
    }

    fn observe(&mut self, f: &Finding) {
        observe(
            &mut self.jails,
            self.seeding.as_mut(),
            &self.enforce,
            &self.stats,
            f,
        );
    }

    /// Hands the current positions to the enforcer thread, which saves them after any ban
    /// decided before them (the channel keeps the order).
    fn send_positions(&mut self) {
        let positions: Vec<FilePosition> = self
            .sources
            .iter()
            .filter_map(|s| s.follower.position())
            .filter(|p| {
                let key = (p.inode, p.offset, p.head_hash);
                self.last_follow.get(&p.path) != Some(&key)
            })
            .map(|p| FilePosition {
                path: p.path.display().to_string(),
                dev: p.dev,
                inode: p.inode,
                offset: p.offset,
                head_hash: p.head_hash,
            })
            .collect();
        for p in &positions {
            self.last_follow
                .insert(PathBuf::from(&p.path), (p.inode, p.offset, p.head_hash));
        }
        let cursor = self.journal_cursor.take();
        if !positions.is_empty() || cursor.is_some() {
            let _ = self.enforce.send(EnforceMsg::Positions(positions, cursor));
        }
        self.dirty = false;
        self.last_sent = Instant::now();
    }

    fn reload(&mut self, cfg: Reloaded) {
        let mut kept: HashMap<PathBuf, FileSource> = self
            .sources
            .drain(..)
            .map(|s| (s.follower.path().to_path_buf(), s))
            .collect();
        let now = now_ms();
        self.sources = cfg
            .files
            .iter()
            .map(|path| {
                kept.remove(path).unwrap_or_else(|| FileSource {
                    follower: Follower::new(path, cfg.start_at, None),
                    clock: LogClock::new(now),
                })
            })
            .collect();
        self.detectors = cfg.detectors;
        let previous = std::mem::replace(&mut self.jails, cfg.jails);
        self.jails.carry_over(previous);
        self.watch_dirs();
        self.poll_files();
    }
}

/// Adds what the detectors counted to the status counters (`lines`, `suspicious`), for files
/// and the journal alike.
fn add_counts(stats: &Stats, counts: LineCounts) {
    Stats::add(&stats.lines, counts.lines);
    Stats::add(&stats.suspicious, counts.suspicious);
    Stats::add(&stats.resolved, counts.resolved);
}

/// Counts one finding (after reading the address's history if it may still be missing); sends
/// the bans it triggers.
fn observe(
    jails: &mut JailSet,
    seeding: Option<&mut Seeding>,
    enforce: &Sender<EnforceMsg>,
    stats: &Stats,
    f: &Finding,
) {
    Stats::add(&stats.findings, 1);
    if let Some(s) = seeding {
        let ip = canonical_ip(f.ip);
        if !jails.trusted().contains(ip) {
            s.look_up(jails, ip);
        }
    }
    let obs = jails.observe(f);
    if obs.trusted {
        Stats::add(&stats.trusted_findings, 1);
    }
    for d in obs.decisions {
        tracing::debug!(
            "decided: {} in {} (ban #{})",
            net_text(d.net),
            d.jail,
            d.ban_number
        );
        Stats::add(&stats.decisions, 1);
        stats.queued_bans.fetch_add(1, Ordering::Relaxed);
        let _ = enforce.send(EnforceMsg::Ban(ban_request(&d)));
    }
}

/// The enforcer's view of a jail decision.
pub fn ban_request(d: &Decision) -> BanRequest {
    BanRequest {
        ip: d.net,
        jail: d.jail.clone(),
        secs: d.ban_secs,
        reason: format!("{} {}", d.service, d.kind),
        count: d.count,
        ban_number: d.ban_number,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::mpsc::{self, Receiver};

    fn append(path: &std::path::Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn line(ip: &str, sec: u32) -> String {
        format!("[2026-11-25 10:00:{sec:02}] NOTICE[1234] chan_sip.c: Registration from '\"100\" <sip:100@203.0.113.5>' failed for '{ip}:5060' - Wrong password\n")
    }

    /// A running detection thread over one `sip` jail (3 failures) following `messages` in
    /// `dir`, looking up history through `reader` until seeded; the log is open when it returns.
    struct Running {
        log: std::path::PathBuf,
        tx: Sender<PipelineMsg>,
        bans: Receiver<EnforceMsg>,
        stats: Arc<Stats>,
        thread: std::thread::JoinHandle<()>,
    }

    impl Running {
        fn start(dir: &std::path::Path, reader: Option<Box<dyn Store>>) -> Running {
            let log = dir.join("messages");
            append(&log, "");
            let text = format!(
                "[jail.sip]\nlogs = [\"{}\"]\nmax_retry = 3\n",
                log.display()
            );
            let cfg = tg_config::Config::parse(&text, std::path::Path::new("t.toml")).unwrap();
            let reloaded = Reloaded {
                detectors: Detectors::builtin(),
                jails: JailSet::new(cfg.jails(), TrustedSet::new()),
                files: vec![log.clone()],
                start_at: StartAt::End,
            };
            let (etx, erx) = mpsc::channel();
            let (ptx, prx) = mpsc::channel();
            let watcher = tg_source::follow::Watcher::new().unwrap();
            let stats = Arc::new(Stats::default());
            let mut p = Pipeline::new(
                reloaded,
                Vec::new(),
                etx,
                watcher.handle(),
                Arc::clone(&stats),
            );
            if let Some(r) = reader {
                p = p.seeding_from(r);
            }
            let thread = std::thread::spawn(move || p.run(prx));
            let (ftx, frx) = mpsc::channel();
            ptx.send(PipelineMsg::Files(ftx)).unwrap();
            assert!(frx.recv_timeout(Duration::from_secs(10)).unwrap()[0].open);
            Running {
                log,
                tx: ptx,
                bans: erx,
                stats,
                thread,
            }
        }

        /// Returns once the thread has handled every message sent before.
        fn sync(&self) {
            let (ftx, frx) = mpsc::channel();
            self.tx.send(PipelineMsg::Files(ftx)).unwrap();
            frx.recv_timeout(Duration::from_secs(10)).unwrap();
        }

        /// Three failures of `ip` written and read; the bans decided so far.
        fn three_failures(&self, ip: &str) -> Vec<BanRequest> {
            append(&self.log, &(0..3).map(|i| line(ip, i)).collect::<String>());
            self.tx.send(PipelineMsg::FilesChanged).unwrap();
            // A question answered after the lines were read: they have been counted.
            self.sync();
            self.bans
                .try_iter()
                .filter_map(|m| match m {
                    EnforceMsg::Ban(b) => Some(b),
                    _ => None,
                })
                .collect()
        }

        fn stop(self) {
            let (tx, rx) = mpsc::channel();
            self.tx.send(PipelineMsg::Stop(tx)).unwrap();
            rx.recv_timeout(Duration::from_secs(10)).unwrap();
            self.thread.join().unwrap();
        }
    }

    fn stored_ban(ip: &str, until_ms: i64, ban_number: u32) -> tg_store::BanRecord {
        tg_store::BanRecord {
            ip: tg_model::parse_net(ip).unwrap(),
            jail: "sip".into(),
            since_ms: 1_000,
            until_ms,
            reason: "sip auth-failure".into(),
            count: 3,
            ban_number,
        }
    }

    /// A store in `dir` holding `bans`, and a read-only connection to it.
    fn store_with(dir: &std::path::Path, bans: &[tg_store::BanRecord]) -> Box<dyn Store> {
        let path = dir.join("state.db");
        let mut w = tg_store::SqliteStore::open(&path).unwrap();
        w.record_bans(bans).unwrap();
        Box::new(tg_store::SqliteStore::open_read_only(&path).unwrap())
    }

    const FOREVER: i64 = i64::MAX / 4;

    #[test]
    fn before_the_history_arrives_a_decision_still_escalates_and_running_bans_hold() {
        let dir = tempfile::tempdir().unwrap();
        // 10.97.0.2 served two sip bans, both over; 10.97.0.3 is banned right now.
        let reader = store_with(
            dir.path(),
            &[
                stored_ban("10.97.0.2", 2_000, 1),
                stored_ban("10.97.0.2", 3_000, 2),
                stored_ban("10.97.0.3", FOREVER, 1),
            ],
        );
        let run = Running::start(dir.path(), Some(reader));
        // No page has arrived: the point query alone gives the history.
        let bans = run.three_failures("10.97.0.2");
        assert_eq!(bans.len(), 1);
        assert_eq!((bans[0].ban_number, bans[0].secs), (3, 4 * 3600));
        assert!(
            run.three_failures("10.97.0.3").is_empty(),
            "its stored ban is still running: no second decision"
        );
        assert_eq!(run.three_failures("10.97.0.4")[0].ban_number, 1);
        run.stop();
    }

    #[test]
    fn a_late_page_never_lowers_what_a_live_decision_raised() {
        let dir = tempfile::tempdir().unwrap();
        let reader = store_with(dir.path(), &[stored_ban("10.97.0.2", 3_000, 2)]);
        let run = Running::start(dir.path(), Some(reader));
        assert_eq!(run.three_failures("10.97.0.2")[0].ban_number, 3);
        // A page read before that decision: count 2, its ban long over.
        let page = HistoryPage {
            prior_bans: vec![(tg_model::parse_net("10.97.0.2").unwrap(), "sip".into(), 2)],
            running: vec![(
                tg_model::parse_net("10.97.0.2").unwrap(),
                "sip".into(),
                3_000,
            )],
        };
        run.tx.send(PipelineMsg::Seed(Box::new(page))).unwrap();
        let report = SeedReport {
            rows: 2,
            ms: 1,
            complete: true,
        };
        run.tx.send(PipelineMsg::Seeded(report)).unwrap();
        assert!(
            run.three_failures("10.97.0.2").is_empty(),
            "still banned by the live decision"
        );
        // An operator's unban lifts it; the next ban is the fourth.
        run.tx
            .send(PipelineMsg::Unbanned(
                tg_model::parse_net("10.97.0.2").unwrap(),
            ))
            .unwrap();
        assert_eq!(run.three_failures("10.97.0.2")[0].ban_number, 4);
        run.stop();
    }

    #[test]
    fn pages_seed_the_jails_but_an_operators_unban_outranks_a_stored_ban() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        drop(tg_store::SqliteStore::open(&path).unwrap());
        // An empty store for lookups: everything comes from the pages.
        let reader = Box::new(tg_store::SqliteStore::open_read_only(&path).unwrap());
        let run = Running::start(dir.path(), Some(reader));
        run.tx
            .send(PipelineMsg::Unbanned(
                tg_model::parse_net("10.97.0.6").unwrap(),
            ))
            .unwrap();
        let ip = |s: &str| tg_model::parse_net(s).unwrap();
        let page = HistoryPage {
            prior_bans: vec![(ip("10.97.0.5"), "sip".into(), 4)],
            running: vec![
                (ip("10.97.0.6"), "sip".into(), FOREVER),
                (ip("10.97.0.7"), "sip".into(), FOREVER),
            ],
        };
        run.tx.send(PipelineMsg::Seed(Box::new(page))).unwrap();
        // The page is merged before these lines are written (a line read earlier is decided
        // with what the lookup found: nothing, in this empty store).
        run.sync();
        assert_eq!(run.three_failures("10.97.0.5")[0].ban_number, 5);
        assert!(run.three_failures("10.97.0.7").is_empty());
        assert_eq!(
            run.three_failures("10.97.0.6").len(),
            1,
            "unbanned by the operator after the store was read"
        );
        run.stop();
    }

    #[test]
    fn third_failure_is_one_ban_trusted_is_never_one_and_positions_follow_bans() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("messages");
        append(&log, "");
        let text = format!(
            "[jail.sip]\nlogs = [\"{}\"]\nmax_retry = 3\n",
            log.display()
        );
        let cfg = tg_config::Config::parse(&text, std::path::Path::new("t.toml")).unwrap();
        let mut trusted = TrustedSet::new();
        trusted.insert_ip("10.98.0.2".parse().unwrap());
        let reloaded = Reloaded {
            detectors: Detectors::builtin(),
            jails: JailSet::new(cfg.jails(), trusted),
            files: vec![log.clone()],
            start_at: StartAt::End,
        };
        let (etx, erx) = mpsc::channel();
        let (ptx, prx) = mpsc::channel();
        let watcher = tg_source::follow::Watcher::new().unwrap();
        let stats = Arc::new(Stats::default());
        let p = Pipeline::new(
            reloaded,
            Vec::new(),
            etx,
            watcher.handle(),
            Arc::clone(&stats),
        );
        let thread = std::thread::spawn(move || p.run(prx));
        // The file is opened (at its end) by the thread's first look; lines appended before
        // that would be skipped, so wait until it answers.
        let (ftx, frx) = mpsc::channel();
        ptx.send(PipelineMsg::Files(ftx)).unwrap();
        let files = frx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(files[0].open, "the log is open before lines are appended");

        let mut text = String::new();
        for i in 0..1000 {
            text.push_str(&line("10.98.0.2", i % 60));
        }
        for i in 0..3 {
            text.push_str(&line("10.99.0.2", i));
        }
        append(&log, &text);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .unwrap()
            .write_all(b"[2026-11-25 10:00:09] NOTICE[1] chan_sip.c: garbage \xff\xfe\n")
            .unwrap();
        ptx.send(PipelineMsg::FilesChanged).unwrap();
        let (tx, rx) = mpsc::channel();
        ptx.send(PipelineMsg::Stop(tx)).unwrap();
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        thread.join().unwrap();

        let msgs: Vec<EnforceMsg> = erx.try_iter().collect();
        let bans: Vec<&BanRequest> = msgs
            .iter()
            .filter_map(|m| match m {
                EnforceMsg::Ban(b) => Some(b),
                _ => None,
            })
            .collect();
        assert_eq!(bans.len(), 1);
        assert_eq!(bans[0].ip, tg_model::parse_net("10.99.0.2").unwrap());
        assert_eq!(
            (bans[0].jail.as_str(), bans[0].count, bans[0].secs),
            ("sip", 3, 3600)
        );
        assert_eq!(Stats::get(&stats.trusted_findings), 1000);
        assert_eq!(Stats::get(&stats.findings), 1003);
        assert_eq!(Stats::get(&stats.lines), 1004);
        // The last message is the position past every line, sent after the ban.
        let last_ban = msgs
            .iter()
            .rposition(|m| matches!(m, EnforceMsg::Ban(_)))
            .unwrap();
        let last_pos = msgs
            .iter()
            .rposition(|m| matches!(m, EnforceMsg::Positions(p, _) if !p.is_empty()))
            .unwrap();
        assert!(last_pos > last_ban);
        let EnforceMsg::Positions(p, _) = &msgs[last_pos] else {
            unreachable!()
        };
        assert_eq!(p[0].offset, std::fs::metadata(&log).unwrap().len());
    }

    #[test]
    fn suspicious_lines_count_alike_from_files_and_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let run = Running::start(dir.path(), None);
        // Two candidate addresses in one line: attack-like, but nobody to count.
        let suspicious = "[Mar  6 08:44:27] NOTICE[1] chan_sip.c: Sending fake auth rejection for device 100<sip:100@10.0.0.1>;tag=x";
        append(&run.log, &format!("{suspicious}\n"));
        run.tx.send(PipelineMsg::FilesChanged).unwrap();
        let entry = JournalEntry {
            line: suspicious.as_bytes().to_vec(),
            time_ms: Some(1_000),
            cursor: "c1".into(),
        };
        run.tx.send(PipelineMsg::Journal(entry)).unwrap();
        run.sync();
        let stats = Arc::clone(&run.stats);
        run.stop();
        assert_eq!(
            Stats::get(&stats.suspicious),
            2,
            "one from the file, one from the journal"
        );
        assert_eq!(Stats::get(&stats.lines), 2);
        assert_eq!(Stats::get(&stats.journal_entries), 1);
        assert_eq!(Stats::get(&stats.findings), 0);
    }
}
