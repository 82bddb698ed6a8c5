//! The detection thread: sources → detectors → jails; ban decisions go to the enforcer thread.
//!
//! It owns the followers, the detectors and the jail counters, and takes one closed set of
//! messages ([`PipelineMsg`]): "files changed" from the inotify thread, journal entries, findings
//! from outside (the AMI call guard), trusted-set updates, manual bans and unbans, reloads and
//! status questions. Lines are read in big chunks and handed to the detectors as borrowed
//! slices; only findings are built, and only decisions leave the thread.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tg_detect::{Detectors, Outcome};
use tg_jail::{Decision, JailSet, LogClock};
use tg_model::{Finding, Stamp, TrustedSet};
use tg_source::follow::{parent_dir, Follower, Position, StartAt, WatchHandle};
use tg_source::journal::JournalEntry;
use tg_store::FilePosition;

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
    /// `tollguard unban`: forget the address's ban and window.
    Unbanned(IpAddr),
    /// A new configuration, already validated and built.
    Reload(Box<Reloaded>, Sender<()>),
    /// The followed files, for `status`.
    Files(Sender<Vec<FileReport>>),
    /// Save positions and stop.
    Stop(Sender<()>),
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
        };
        p.watch_dirs();
        p
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
                let names: Vec<String> =
                    self.jails.jails().iter().map(|j| j.name.clone()).collect();
                for name in names {
                    self.jails.set_banned_until(&name, ip, until_ms);
                }
            }
            PipelineMsg::Unbanned(ip) => self.jails.unbanned(ip),
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
            ..
        } = self;
        let mut lines = 0u64;
        for s in sources.iter_mut() {
            let before = s.follower.stats();
            let clock = &mut s.clock;
            let result = s.follower.poll(&mut |line| {
                lines += 1;
                match detectors.detect(line) {
                    Outcome::Nothing => {}
                    Outcome::Suspicious => Stats::add(&stats.suspicious, 1),
                    Outcome::Found(d) => {
                        let f = Finding {
                            time_ms: clock.resolve(d.stamp),
                            service: d.service,
                            kind: d.kind,
                            ip: d.ip,
                            attempt: d.attempt,
                        };
                        observe(jails, enforce, stats, &f);
                    }
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
        if lines > 0 {
            Stats::add(&stats.lines, lines);
            self.dirty = true;
        }
    }

    fn journal(&mut self, entry: JournalEntry) {
        Stats::add(&self.stats.lines, 1);
        Stats::add(&self.stats.journal_entries, 1);
        if let Outcome::Found(d) = self.detectors.detect(&entry.line) {
            // The journal's own timestamp is exact; the line's syslog stamp has no year.
            let stamp = entry.time_ms.map(Stamp::Absolute).or(d.stamp);
            let f = Finding {
                time_ms: self.journal_clock.resolve(stamp),
                service: d.service,
                kind: d.kind,
                ip: d.ip,
                attempt: d.attempt,
            };
            self.observe(&f);
        }
        self.journal_cursor = Some(entry.cursor);
        self.dirty = true;
    }

    fn observe(&mut self, f: &Finding) {
        observe(&mut self.jails, &self.enforce, &self.stats, f);
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
        self.jails = cfg.jails;
        self.watch_dirs();
        self.poll_files();
    }
}

/// Counts one finding; sends the bans it triggers.
fn observe(jails: &mut JailSet, enforce: &Sender<EnforceMsg>, stats: &Stats, f: &Finding) {
    Stats::add(&stats.findings, 1);
    let obs = jails.observe(f);
    if obs.trusted {
        Stats::add(&stats.trusted_findings, 1);
    }
    for d in obs.decisions {
        Stats::add(&stats.decisions, 1);
        let _ = enforce.send(EnforceMsg::Ban(ban_request(&d)));
    }
}

/// The enforcer's view of a jail decision.
pub fn ban_request(d: &Decision) -> BanRequest {
    BanRequest {
        ip: d.ip,
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
    use std::sync::mpsc;

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
        assert_eq!(bans[0].ip, "10.99.0.2".parse::<IpAddr>().unwrap());
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
}
