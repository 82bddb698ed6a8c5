//! Start, reload and shutdown: builds the threads from a configuration and tears them down.
//!
//! Threads (each owns its state; they talk over channels):
//! - `tg-inotify`: blocks on inotify, wakes the detection thread;
//! - `tg-detect`: followers, detectors, jails ([`crate::pipeline`]);
//! - `tg-enforce`: store and kernel, batched bans ([`crate::enforcer`]);
//! - `tg-restore`: at start only, puts the store's bans back into the kernel with its own store
//!   connection and enforcer, in transactions of [`tg_enforce::RESTORE_CHUNK`] bans, so new
//!   attackers are banned (by `tg-enforce`, between two chunks) while 100,000 old bans are
//!   restored;
//! - `tg-seed`: at start only, reads the jails' history from the store on its own read-only
//!   connection and sends it to `tg-detect` in pages; `tg-detect` does not wait for it (it looks
//!   new addresses up in the store meanwhile, see [`crate::pipeline`]);
//! - `tg-journal`: `journalctl -f`, when a jail names journal matches;
//! - `tg-trusted`: re-resolves trusted host names and the host's addresses;
//! - `tg-calls`: when `[calls.ami]` or `[alerts]` is configured, a single-threaded tokio runtime
//!   ([`crate::calls`]) running the AMI live call guard (tg-guard), whose security events reach `tg-detect`
//!   as external findings, and the alert notifier (tg-alert), which `tg-enforce` sends a ban notice per
//!   ban batch; stopped and started again on a reload that changes those sections, stopped
//!   (queued alerts delivered for a few seconds) on shutdown;
//! - `tg-fw-names`: when `[firewall]` names trusted hosts, re-resolves them on their TTLs and
//!   rewrites the firewall's `fw_trusted_v4`/`fw_trusted_v6` sets ([`crate::fwnames`]; a plain
//!   thread, the resolver runs its own runtime); replaced on a reload that changes the policy,
//!   stopped on shutdown;
//! - `tg-control`: the control socket;
//! - the caller's thread: signals and reloads ([`run`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tg_config::daemon::ReadFrom;
use tg_config::Config;
use tg_detect::Detectors;
use tg_jail::JailSet;
use tg_model::TrustedSet;
use tg_source::follow::{StartAt, Watcher};
use tg_source::journal::{validate_match, JournalError, JournalFollower};
use tg_store::{SqliteStore, Store};

use crate::calls::{AlertSlot, CallsPlan, CallsThread};
use crate::control::{self, ControlContext, MainMsg};
use crate::enforcer::{now_ms, EnforceMsg, EnforcerTask};
use crate::fwnames::{self, NamesThread};
use crate::pipeline::{Pipeline, PipelineMsg, Reloaded, SeedReport};
use crate::stats::Stats;
use crate::{trusted, DaemonError, ReloadError};

/// Rows per page of history sent to the detection thread while seeding: merging one page costs
/// that thread well under a millisecond, and it looks at the files before each page.
const SEED_PAGE: usize = 2_000;
/// The history is read after the restore, but not later than this after the start.
const SEED_AFTER_AT_MOST: Duration = Duration::from_secs(5);
/// The nice value of the start's background threads (`tg-seed`, `tg-restore`).
const BACKGROUND_NICE: libc::c_int = 5;
/// The longest the restore waits for queued live bans between two of its chunks.
const RESTORE_YIELD_MAX: Duration = Duration::from_millis(50);
/// How long a journalctl that ended waits before it is started again.
const JOURNAL_RESTART: Duration = Duration::from_secs(30);

/// A running daemon.
pub struct Daemon {
    config_path: PathBuf,
    config: Config,
    pipeline: Sender<PipelineMsg>,
    enforce: Sender<EnforceMsg>,
    stats: Arc<Stats>,
    trusted: Arc<RwLock<TrustedSet>>,
    jail_names: Arc<Mutex<Vec<String>>>,
    journal_pid: Arc<AtomicU32>,
    stopping: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    calls_plan: CallsPlan,
    calls: Option<CallsThread>,
    alerts: AlertSlot,
    fw_names: Option<NamesThread>,
}

/// Runs the daemon until SIGTERM or SIGINT; SIGHUP reloads. Bans stay in the kernel.
pub fn run(config_path: &Path) -> Result<(), DaemonError> {
    let (main_tx, main_rx) = mpsc::channel();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])
    .map_err(DaemonError::Signals)?;
    let sig_tx = main_tx.clone();
    std::thread::Builder::new()
        .name("tg-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let msg = if sig == signal_hook::consts::SIGHUP {
                    MainMsg::Reload(None)
                } else {
                    MainMsg::Stop
                };
                if sig_tx.send(msg).is_err() {
                    return;
                }
            }
        })
        .map_err(DaemonError::Thread)?;
    let daemon = Daemon::start(config_path, main_tx)?;
    daemon.serve(main_rx);
    Ok(())
}

impl Daemon {
    /// Loads the configuration, restores state and starts every thread.
    ///
    /// In this order: the control socket is bound (refusing a second daemon before anything
    /// else), the store opened, the kernel's sets made sure of, and the enforcer and detection
    /// threads started; the store's history (`tg-seed`) and the kernel's restore
    /// (`tg-restore`) then run beside them, so lines are read and attackers banned from the
    /// first milliseconds, however big the store.
    pub fn start(config_path: &Path, main: Sender<MainMsg>) -> Result<Daemon, DaemonError> {
        let started = Instant::now();
        let config = Config::load(config_path)?;
        let state_dir = config.daemon.state_dir.clone();
        create_state_dir(&state_dir)?;
        let listener = control::bind(&config.daemon.socket)?;
        // A start that fails after the bind must not leave the socket file behind.
        let socket = SocketFile(Some(config.daemon.socket.clone()));
        let store_path = state_dir.join("state.db");
        let mut store = SqliteStore::open(&store_path)?;
        let stats = Arc::new(Stats::default());
        stats.restore_ms.store(-1, Ordering::Relaxed);

        // The kernel's sets exist before the first ban.
        let mut enforcer = tg_enforce::build_from(&config.daemon)?;
        enforcer.init()?;
        let restore_enforcer = tg_enforce::build_from(&config.daemon)?;
        let retention_ms = retention_ms(&config);
        let reader =
            SqliteStore::open_read_only(&store_path)?.history_since(now_ms() - retention_ms);

        // Trusted before any line is read: nothing is counted before we know whom never to ban.
        let trusted_set = initial_trusted(&config);
        let trusted = Arc::new(RwLock::new(trusted_set.clone()));

        let built = build(&config, trusted_set)?;
        let calls_plan = CallsPlan::from_config(&config)?;
        let fw_policy = fwnames::plan(&config, config_path)?;
        let positions = store.load_positions()?;
        let jail_names = Arc::new(Mutex::new(names(&built.jails)));

        let (enforce_tx, enforce_rx) = mpsc::channel();
        let alerts = AlertSlot::default();
        let cursor_file = state_dir.join("journal.cursor");
        let task = EnforcerTask::new(
            Box::new(store),
            enforcer,
            Arc::clone(&stats),
            cursor_file.clone(),
        )
        .with_alerts(Arc::clone(&alerts))
        .forgetting_after(retention_ms);
        let mut threads = vec![spawn("tg-enforce", move || task.run(enforce_rx))?];

        let (pipe_tx, pipe_rx) = mpsc::channel();
        let mut watcher = Watcher::new().map_err(DaemonError::Inotify)?;
        let handle = watcher.handle();
        let wake = pipe_tx.clone();
        threads.push(spawn("tg-inotify", move || loop {
            match watcher.wait() {
                Ok(_) => {
                    if wake.send(PipelineMsg::FilesChanged).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::error!("inotify: {e}; files are looked at every second only");
                    return;
                }
            }
        })?);
        let journal = journal_matches(&config);
        let pipeline = Pipeline::new(
            built,
            positions,
            enforce_tx.clone(),
            handle,
            Arc::clone(&stats),
        )
        .seeding_from(Box::new(reader))
        .with_evidence(Box::new(crate::evidence::Conntrack::new()));
        threads.push(spawn("tg-detect", move || pipeline.run(pipe_rx))?);
        // The restore first, then the history: both are CPU-bound, and the restore has a
        // deadline while lookups keep every decision right until the history is in.
        let (restored_tx, restored_rx) = mpsc::channel();
        threads.push(spawn_restore(
            &store_path,
            restore_enforcer,
            Arc::clone(&stats),
            restored_tx,
        )?);
        threads.push(spawn_seeder(
            &store_path,
            retention_ms,
            pipe_tx.clone(),
            restored_rx,
        )?);

        let journal_pid = Arc::new(AtomicU32::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        if !journal.is_empty() {
            let cursor = std::fs::read_to_string(&cursor_file)
                .ok()
                .map(|c| c.trim().to_string());
            let from_start = config.daemon.read_from == ReadFrom::Start;
            let (tx, pid, stop) = (
                pipe_tx.clone(),
                Arc::clone(&journal_pid),
                Arc::clone(&stopping),
            );
            let matches = journal.clone();
            let namespace = tg_config::jail::journal_namespace(&config.jails());
            threads.push(spawn("tg-journal", move || {
                follow_journal(matches, namespace, cursor, from_start, tx, pid, stop)
            })?);
        }

        spawn_trusted_refresher(&config, Arc::clone(&trusted), pipe_tx.clone())?;

        let calls = CallsThread::start(&calls_plan, pipe_tx.clone(), &alerts, Arc::clone(&stats))?;
        let fw_names = match fw_policy {
            Some(p) => Some(NamesThread::start(p, &state_dir)?),
            None => None,
        };
        let ctx = ControlContext {
            pipeline: pipe_tx.clone(),
            enforce: enforce_tx.clone(),
            main,
            stats: Arc::clone(&stats),
            trusted: Arc::clone(&trusted),
            jails: Arc::clone(&jail_names),
            journal,
            config: config_path.to_path_buf(),
            started,
            store_path: store_path.clone(),
        };
        spawn("tg-control", move || control::serve(listener, ctx))?;
        socket.keep();
        tracing::info!(
            "tollguard running: {} jail(s), socket {}, started in {} ms",
            jail_names.lock().map(|j| j.len()).unwrap_or(0),
            config.daemon.socket.display(),
            started.elapsed().as_millis()
        );
        Ok(Daemon {
            config_path: config_path.to_path_buf(),
            config,
            pipeline: pipe_tx,
            enforce: enforce_tx,
            stats,
            trusted,
            jail_names,
            journal_pid,
            stopping,
            threads,
            calls_plan,
            calls,
            alerts,
            fw_names,
        })
    }

    /// Handles reloads until told to stop, then shuts down.
    pub fn serve(mut self, main: Receiver<MainMsg>) {
        for msg in main.iter() {
            match msg {
                MainMsg::Reload(reply) => {
                    let result = self.reload();
                    match &result {
                        Ok(m) => tracing::info!("{m}"),
                        Err(e) => tracing::error!(
                            "reload refused, the old configuration stays: {}",
                            crate::error_chain(e)
                        ),
                    }
                    if let Some(reply) = reply {
                        let _ = reply.send(result);
                    }
                }
                MainMsg::Stop => break,
            }
        }
        self.shutdown();
    }

    /// Re-reads the configuration; on any error the running one stays and the error is returned.
    pub fn reload(&mut self) -> Result<String, ReloadError> {
        let config = Config::load(&self.config_path).map_err(DaemonError::from)?;
        let trusted_set = trusted::build_now(&config.trusted, trusted::FIRST_RESOLVE_WAIT)
            .unwrap_or_else(|| {
                trusted::build_without_names(&config.trusted, &trusted::own_addresses())
            });
        let mut built = build(&config, trusted_set.clone())?;
        let calls_plan = CallsPlan::from_config(&config)?;
        let fw_policy = fwnames::plan(&config, &self.config_path)?;
        let store_path = self.config.daemon.state_dir.join("state.db");
        let mut store = SqliteStore::open(&store_path)
            .map_err(DaemonError::from)?
            .history_since(now_ms() - retention_ms(&config));
        seed_jails(&mut built.jails, &mut store)?;
        let jails = names(&built.jails);
        let files = built.files.len();
        let (tx, rx) = mpsc::channel();
        self.pipeline
            .send(PipelineMsg::Reload(Box::new(built), tx))
            .map_err(|_| ReloadError::DetectionStopped)?;
        rx.recv_timeout(Duration::from_secs(30))
            .map_err(|_| ReloadError::DetectionTimedOut)?;
        if let Ok(mut t) = self.trusted.write() {
            *t = trusted_set;
        }
        let mut notes = Vec::new();
        if !calls_plan.same_as(&self.calls_plan) {
            if let Some(old) = self.calls.take() {
                old.stop(&self.alerts);
            }
            match CallsThread::start(
                &calls_plan,
                self.pipeline.clone(),
                &self.alerts,
                Arc::clone(&self.stats),
            ) {
                Ok(t) => self.calls = t,
                Err(e) => {
                    tracing::error!("{}", crate::error_chain(&e));
                    notes.push("the call guard and alerts could not be restarted");
                }
            }
            self.calls_plan = calls_plan;
        }
        if self.fw_names.as_ref().map(|t| t.policy()) != fw_policy.as_ref() {
            if let Some(old) = self.fw_names.take() {
                old.stop();
            }
            if let Some(p) = fw_policy {
                match NamesThread::start(p, &self.config.daemon.state_dir) {
                    Ok(t) => self.fw_names = Some(t),
                    Err(e) => {
                        tracing::error!("{}", crate::error_chain(&e));
                        notes.push("the firewall's trusted names could not be refreshed");
                    }
                }
            }
        }
        let (old, new) = (&self.config.daemon, &config.daemon);
        if old.state_dir != new.state_dir
            || old.socket != new.socket
            || old.backend != new.backend
            || old.table != new.table
        {
            notes.push(
                "[daemon] state_dir, socket, backend and table take effect at the next start",
            );
        }
        if journal_matches(&self.config) != journal_matches(&config)
            || tg_config::jail::journal_namespace(&self.config.jails())
                != tg_config::jail::journal_namespace(&config.jails())
        {
            notes.push("journal matches take effect at the next start");
        }
        let message = format!(
            "reloaded {}: {} jail(s) ({}), {} file(s){}{}",
            self.config_path.display(),
            jails.len(),
            jails.join(", "),
            files,
            if notes.is_empty() { "" } else { "; " },
            notes.join("; ")
        );
        if let Ok(mut j) = self.jail_names.lock() {
            *j = jails;
        }
        let daemon = self.config.daemon.clone();
        self.config = config;
        self.config.daemon = daemon;
        Stats::add(&self.stats.reloads, 1);
        Ok(message)
    }

    /// Saves positions, flushes pending bans, removes the socket. Bans stay in the kernel.
    pub fn shutdown(self) {
        self.stopping.store(true, Ordering::SeqCst);
        let (tx, rx) = mpsc::channel();
        if self.pipeline.send(PipelineMsg::Stop(tx)).is_ok() {
            let _ = rx.recv_timeout(Duration::from_secs(10));
        }
        let (tx, rx) = mpsc::channel();
        if self.enforce.send(EnforceMsg::Stop(tx)).is_ok() {
            let _ = rx.recv_timeout(Duration::from_secs(10));
        }
        if let Some(calls) = self.calls {
            calls.stop(&self.alerts);
        }
        if let Some(names) = self.fw_names {
            names.stop();
        }
        let pid = self.journal_pid.load(Ordering::SeqCst);
        if pid > 0 {
            // libc: std can only SIGKILL a Child, and this one belongs to the tg-journal thread.
            // SAFETY: kill only sends a signal to the journalctl child we started.
            #[allow(unsafe_code)]
            let _ = unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
        let _ = control::remove_socket(&self.config.daemon.socket);
        // The detection, enforcer and restore threads have finished; the inotify, control and
        // refresher threads stay blocked in their system calls and end with the process.
        drop(self.threads);
        tracing::info!("tollguard stopped; bans stay in the kernel until they expire");
    }
}

/// Detectors, jails (without history) and files for a configuration.
fn build(config: &Config, trusted: TrustedSet) -> Result<Reloaded, DaemonError> {
    let detectors = Detectors::with_custom(&config.detector)?;
    let jails = JailSet::new(config.jails(), trusted);
    let mut files: Vec<PathBuf> = Vec::new();
    for j in jails.jails() {
        for f in &j.logs {
            let p = PathBuf::from(f);
            if !files.contains(&p) {
                files.push(p);
            }
        }
    }
    Ok(Reloaded {
        detectors,
        jails,
        files,
        start_at: match config.daemon.read_from {
            ReadFrom::End => StartAt::End,
            ReadFrom::Start => StartAt::Start,
        },
    })
}

/// `[daemon] forget_offenders_after` in milliseconds.
fn retention_ms(config: &Config) -> i64 {
    i64::try_from(config.daemon.forget_offenders_after.0)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000)
}

/// Escalation history and running bans from the store, so a restart neither forgets a repeat
/// offender nor bans a banned address again.
fn seed_jails(jails: &mut JailSet, store: &mut dyn Store) -> Result<(), DaemonError> {
    let t = Instant::now();
    let prior = store.all_prior_bans()?;
    for (ip, jail, bans) in &prior {
        jails.set_prior_bans(jail, *ip, *bans);
    }
    let active = store.active_bans(now_ms())?;
    for b in &active {
        jails.set_banned_until(&b.jail, b.ip, b.until_ms);
    }
    tracing::info!(
        "jails seeded from the store: {} offender histories, {} running bans, in {} ms",
        prior.len(),
        active.len(),
        t.elapsed().as_millis()
    );
    Ok(())
}

fn names(jails: &JailSet) -> Vec<String> {
    jails.jails().iter().map(|j| j.name.clone()).collect()
}

/// Valid journal matches of the enabled jails, deduplicated; invalid ones are warned about.
fn journal_matches(config: &Config) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for j in config.jails().iter().filter(|j| j.enabled) {
        for m in &j.journal {
            match validate_match(m) {
                Ok(()) if !out.contains(m) => out.push(m.clone()),
                Ok(()) => {}
                Err(e) => tracing::warn!("jail {}: {e}; skipped", j.name),
            }
        }
    }
    out
}

fn initial_trusted(config: &Config) -> TrustedSet {
    trusted::build_now(&config.trusted, trusted::FIRST_RESOLVE_WAIT).unwrap_or_else(|| {
        tracing::warn!(
            "trusted host names did not resolve within {:?}; they are added when they do",
            trusted::FIRST_RESOLVE_WAIT
        );
        trusted::build_without_names(&config.trusted, &trusted::own_addresses())
    })
}

fn spawn_trusted_refresher(
    config: &Config,
    shared: Arc<RwLock<TrustedSet>>,
    pipeline: Sender<PipelineMsg>,
) -> Result<(), DaemonError> {
    let cfg = config.trusted.clone();
    let every = Duration::from_secs(cfg.refresh.0.max(10));
    spawn("tg-trusted", move || loop {
        std::thread::sleep(every);
        let fresh = trusted::build(&cfg, &trusted::own_addresses());
        let changed = shared.read().map(|t| *t != fresh).unwrap_or(true);
        if changed {
            tracing::info!("trusted set changed: {} network(s)", fresh.networks().len());
            if let Ok(mut t) = shared.write() {
                *t = fresh.clone();
            }
            if pipeline.send(PipelineMsg::Trusted(fresh)).is_err() {
                return;
            }
        }
    })?;
    Ok(())
}

/// Reads the jails' history from the store on its own read-only connection and sends it to the
/// detection thread in pages, then the report (see [`crate::pipeline`]).
fn spawn_seeder(
    store_path: &Path,
    retention_ms: i64,
    pipeline: Sender<PipelineMsg>,
    after: Receiver<()>,
) -> Result<JoinHandle<()>, DaemonError> {
    let path = store_path.to_path_buf();
    spawn("tg-seed", move || {
        lower_priority();
        // Starts when the restore is over (or has failed, or is slow).
        let _ = after.recv_timeout(SEED_AFTER_AT_MOST);
        let t = Instant::now();
        let read = SqliteStore::open_read_only(&path).and_then(|store| {
            // History past its retention never reaches memory (see `forget_offenders_after`).
            let mut store = store.history_since(now_ms() - retention_ms);
            store.history_pages(now_ms(), SEED_PAGE, &mut |page| {
                pipeline.send(PipelineMsg::Seed(Box::new(page))).is_ok()
            })
        });
        let (rows, complete) = match read {
            Ok(rows) => (rows, true),
            Err(e) => {
                tracing::error!("reading the jails' history from the store: {e}");
                (0, false)
            }
        };
        let report = SeedReport {
            rows,
            ms: t.elapsed().as_millis(),
            complete,
        };
        let _ = pipeline.send(PipelineMsg::Seeded(report));
    })
}

/// Puts the store's bans back into the kernel with its own connection and enforcer, newest
/// first, in transactions of [`tg_enforce::RESTORE_CHUNK`] bans: the kernel serialises
/// transactions, and a live ban must never wait behind 100,000 restored ones. (The nftables
/// enforcer bounds its own transactions too; the chunks here bound the ipset one as well.)
fn spawn_restore(
    store_path: &Path,
    mut enforcer: Box<dyn tg_enforce::Enforcer>,
    stats: Arc<Stats>,
    done: Sender<()>,
) -> Result<JoinHandle<()>, DaemonError> {
    let mut store = SqliteStore::open(store_path)?;
    spawn("tg-restore", move || {
        lower_priority();
        let t = Instant::now();
        let chunked = crate::reconcile::reconcile_in_chunks(
            &mut store,
            enforcer.as_mut(),
            now_ms(),
            tg_enforce::RESTORE_CHUNK,
            &mut |_| {
                live_bans_first(&stats);
                Ok(())
            },
        );
        match chunked {
            Ok(r) => {
                Stats::add(&stats.restored, r.restored as u64);
                tracing::info!(
                    "restored {} ban(s) into the kernel in {} ms ({} expired)",
                    r.restored,
                    t.elapsed().as_millis(),
                    r.expired
                );
            }
            Err(e) => tracing::error!("restoring bans from the store: {e}"),
        }
        stats
            .restore_ms
            .store(t.elapsed().as_millis() as i64, Ordering::Relaxed);
        let _ = done.send(());
    })
}

/// Between two restore chunks: while live bans are queued for the enforcer thread, the restore
/// waits (up to [`RESTORE_YIELD_MAX`]), so a new attacker's transaction does not compete with
/// the next chunk for the kernel's nf_tables lock (a mutex, not a queue: the restore thread
/// could take it again and again).
fn live_bans_first(stats: &Stats) {
    let since = Instant::now();
    while stats.queued_bans.load(Ordering::Relaxed) > 0 && since.elapsed() < RESTORE_YIELD_MAX {
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Background work at start (seeding, restoring) yields the CPU to the detection and enforcer
/// threads, which carry the reaction time: on two busy cores, CPU-bound threads of our own at
/// equal priority can make a new attacker's ban wait for the scheduler.
// setpriority has no safe std equivalent.
#[allow(unsafe_code)]
fn lower_priority() {
    // SAFETY: gettid and setpriority only read and set this thread's scheduling priority.
    let rc = unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, BACKGROUND_NICE)
    };
    if rc != 0 {
        tracing::debug!(
            "lowering a background thread's priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Removes the control socket's file when a start fails after binding it.
struct SocketFile(Option<PathBuf>);

impl SocketFile {
    /// The start succeeded: the file stays (shutdown removes it).
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = control::remove_socket(&path);
        }
    }
}

fn follow_journal(
    matches: Vec<String>,
    namespace: Option<String>,
    mut cursor: Option<String>,
    from_start: bool,
    tx: Sender<PipelineMsg>,
    pid: Arc<AtomicU32>,
    stopping: Arc<AtomicBool>,
) {
    loop {
        match JournalFollower::spawn(
            &matches,
            namespace.as_deref(),
            cursor.as_deref(),
            from_start,
        ) {
            Err(JournalError::NotFound) => {
                tracing::warn!(
                    "{}; jails keep following their files",
                    JournalError::NotFound
                );
                return;
            }
            Err(e) => tracing::warn!("journal: {e}"),
            Ok(mut f) => {
                pid.store(f.pid(), Ordering::SeqCst);
                loop {
                    match f.next_entry() {
                        Ok(Some(entry)) => {
                            cursor = Some(entry.cursor.clone());
                            if tx.send(PipelineMsg::Journal(entry)).is_err() {
                                return;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!("reading journalctl: {e}");
                            break;
                        }
                    }
                }
                pid.store(0, Ordering::SeqCst);
            }
        }
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        tracing::warn!("journalctl ended; starting it again in {JOURNAL_RESTART:?}");
        std::thread::sleep(JOURNAL_RESTART);
    }
}

fn create_state_dir(dir: &Path) -> Result<(), DaemonError> {
    use std::os::unix::fs::DirBuilderExt;
    let err = |source| DaemonError::StateDir {
        path: dir.to_path_buf(),
        source,
    };
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
    }
    Ok(())
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, DaemonError> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map_err(DaemonError::Thread)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_is_valid_and_follows_the_journal() {
        let text = include_str!("../../../examples/config/daemon.toml");
        let config = Config::parse(text, Path::new("examples/config/daemon.toml")).unwrap();
        assert_eq!(
            journal_matches(&config),
            vec!["_SYSTEMD_UNIT=ssh.service".to_string()]
        );
        let built = build(&config, TrustedSet::new()).unwrap();
        assert!(built
            .files
            .contains(&PathBuf::from("/var/log/asterisk/messages")));
        assert!(!names(&built.jails).contains(&"ftp".to_string()));
    }
}
