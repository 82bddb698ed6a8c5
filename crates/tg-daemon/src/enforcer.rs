//! The enforcer thread: owns the store connection and the kernel enforcer, applies bans in
//! batches, and `kill -9` at any moment loses no ban.
//!
//! Bans decided from log lines go to the kernel first and to the store right after (a mass
//! batch — a botnet, a restart's backlog: [`PARALLEL_FROM`] bans or more — to both at the same
//! time, on two threads, since the two take about as long). The kernel comes first because it
//! is what protects, and because a store write now and then waits for a WAL checkpoint's
//! fsync, which must not sit in an attacker's reaction time. The guarantee holds because the
//! file positions that cover the batch's lines are committed only in its store transaction: a
//! kill before that commit makes the restart read those lines again and decide the same bans
//! again, and a ban that reached the kernel stays there (set elements outlive the process).
//! A manual ban (`tollguard ban`, no log line behind it) is stored first and answered only
//! once it is in both.
//!
//! Batching costs no latency: the thread takes every ban already queued (all that arrived while
//! the previous batch was being applied), writes them in one store transaction and one kernel
//! transaction, and goes back to waiting. An idle daemon bans a lone attacker in one round; a
//! flood's ten thousand decisions become a handful of transactions.

use ipnet::IpNet;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tg_enforce::{BanOrder, Enforcer};
use tg_store::{BanRecord, FilePosition, Store};

use crate::calls::AlertSlot;
use crate::stats::Stats;

/// The longest the thread sleeps without looking at retries and saved positions.
const HOUSEKEEPING: Duration = Duration::from_secs(1);
/// Positions are written at most this often (each save is one fsynced transaction); a
/// `kill -9` can make a restart read up to this much again, never skip anything.
const SAVE_POSITIONS_EVERY: Duration = Duration::from_millis(250);
/// How often bans that ended are dropped from the store.
const EXPIRE_EVERY: Duration = Duration::from_secs(30);
/// How often offender history past its retention is deleted from the store (the first time a
/// minute after the start, off the start's busy first seconds).
const FORGET_EVERY: Duration = Duration::from_secs(86_400);
const FIRST_FORGET_AFTER: Duration = Duration::from_secs(60);
/// Batches up to this size log one line per ban.
const LOG_EACH_UP_TO: usize = 20;
/// How long a failed kernel batch waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// Batches at least this big write the store and the kernel concurrently (see the module docs);
/// below it the second thread would cost more than it saves.
pub const PARALLEL_FROM: usize = 512;

/// How a batch reaches the store and the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    /// The store transaction commits before the kernel transaction starts (manual bans).
    StoreFirst,
    /// The kernel transaction, then the store's (bans decided from log lines).
    KernelFirst,
    /// Both at once, on two threads (mass batches; see the module docs).
    Concurrent,
}

/// A ban to apply: from a jail's decision or from `tollguard ban`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BanRequest {
    /// Whom: one address (a /32 or /128) or a prefix.
    pub ip: IpNet,
    /// Which jail (`manual` for `tollguard ban`).
    pub jail: String,
    /// How long, seconds.
    pub secs: u64,
    /// Why, in words.
    pub reason: String,
    /// Counted attempts.
    pub count: u32,
    /// Escalation step (1 = first ban).
    pub ban_number: u32,
}

/// What the enforcer thread is asked to do.
pub enum EnforceMsg {
    /// Ban (batched with whatever else is queued).
    Ban(BanRequest),
    /// Ban now and say when it is done.
    BanAndReply(BanRequest, Sender<Result<(), EnforcerError>>),
    /// Lift a ban (of an address or a prefix); replies whether there was one in the store.
    Unban(IpNet, Sender<Result<bool, EnforcerError>>),
    /// The active bans.
    List(Sender<Result<Vec<BanRecord>, EnforcerError>>),
    /// Reading positions to save at the next housekeeping (and the journal cursor).
    Positions(Vec<FilePosition>, Option<String>),
    /// Flush, save, and stop.
    Stop(Sender<()>),
}

/// Why the enforcer thread could not do what it was asked. Cheap to clone: one batch's error
/// answers every manual ban in it.
#[derive(Clone, Debug, thiserror::Error)]
pub enum EnforcerError {
    /// The kernel refused (bans in a refused batch are retried).
    #[error(transparent)]
    Kernel(Arc<tg_enforce::EnforceError>),
    /// The store failed.
    #[error(transparent)]
    Store(Arc<tg_store::StoreError>),
}

impl From<tg_enforce::EnforceError> for EnforcerError {
    fn from(e: tg_enforce::EnforceError) -> Self {
        EnforcerError::Kernel(Arc::new(e))
    }
}

impl From<tg_store::StoreError> for EnforcerError {
    fn from(e: tg_store::StoreError) -> Self {
        EnforcerError::Store(Arc::new(e))
    }
}

/// The enforcer thread's state.
pub struct EnforcerTask {
    store: Box<dyn Store>,
    enforcer: Box<dyn Enforcer>,
    stats: Arc<Stats>,
    cursor_file: PathBuf,
    positions: Option<Vec<FilePosition>>,
    cursor: Option<String>,
    retry: Vec<BanOrder>,
    retry_at: Option<Instant>,
    last_save: Option<Instant>,
    last_expire: Instant,
    alerts: AlertSlot,
    retention_ms: Option<i64>,
    next_forget: Instant,
}

impl EnforcerTask {
    /// A task over an open store and an initialised enforcer.
    pub fn new(
        store: Box<dyn Store>,
        enforcer: Box<dyn Enforcer>,
        stats: Arc<Stats>,
        cursor_file: PathBuf,
    ) -> EnforcerTask {
        EnforcerTask {
            store,
            enforcer,
            stats,
            cursor_file,
            positions: None,
            cursor: None,
            retry: Vec::new(),
            retry_at: None,
            last_save: None,
            last_expire: Instant::now(),
            alerts: AlertSlot::default(),
            retention_ms: None,
            next_forget: Instant::now() + FIRST_FORGET_AFTER,
        }
    }

    /// Offender history whose last ban started more than `retention_ms` ago is deleted from
    /// the store a minute after the start and then daily (`[daemon] forget_offenders_after`).
    pub fn forgetting_after(mut self, retention_ms: i64) -> EnforcerTask {
        self.retention_ms = Some(retention_ms);
        self
    }

    /// Ban notices go to whatever notifier `slot` holds (none while `[alerts]` is absent).
    pub fn with_alerts(mut self, slot: AlertSlot) -> EnforcerTask {
        self.alerts = slot;
        self
    }

    /// Runs until `Stop` (or every sender is gone).
    pub fn run(mut self, rx: Receiver<EnforceMsg>) {
        loop {
            let msg = match rx.recv_timeout(HOUSEKEEPING) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    self.housekeeping();
                    return;
                }
            };
            let mut batch = Vec::new();
            let mut replies = Vec::new();
            let mut later = Vec::new();
            if let Some(m) = msg {
                self.sort(m, &mut batch, &mut replies, &mut later);
            }
            // Everything already queued joins this batch.
            while let Ok(m) = rx.try_recv() {
                self.sort(m, &mut batch, &mut replies, &mut later);
            }
            if !batch.is_empty() {
                // A manual ban is answered "done" only once it is both stored and in the kernel,
                // in that order.
                let mode = if !replies.is_empty() {
                    Order::StoreFirst
                } else if batch.len() >= PARALLEL_FROM {
                    Order::Concurrent
                } else {
                    Order::KernelFirst
                };
                let result = self.apply(&batch, mode);
                self.stats
                    .queued_bans
                    .fetch_sub(batch.len() as i64, Ordering::Relaxed);
                for reply in replies {
                    let _ = reply.send(result.clone());
                }
            }
            if self.retry_at.is_some_and(|t| t <= Instant::now()) {
                self.retry_failed();
            }
            let mut stop = None;
            for m in later {
                match m {
                    EnforceMsg::Unban(ip, reply) => {
                        let _ = reply.send(self.unban(ip));
                    }
                    EnforceMsg::List(reply) => {
                        let now = now_ms();
                        let _ = reply.send(self.store.active_bans(now).map_err(Into::into));
                    }
                    EnforceMsg::Stop(done) => stop = Some(done),
                    _ => {}
                }
            }
            let due = self
                .last_save
                .is_none_or(|t| t.elapsed() >= SAVE_POSITIONS_EVERY);
            if stop.is_some() || due {
                self.housekeeping();
            }
            if let Some(done) = stop {
                let _ = done.send(());
                return;
            }
        }
    }

    fn sort(
        &mut self,
        m: EnforceMsg,
        batch: &mut Vec<BanRequest>,
        replies: &mut Vec<Sender<Result<(), EnforcerError>>>,
        later: &mut Vec<EnforceMsg>,
    ) {
        match m {
            EnforceMsg::Ban(b) => batch.push(b),
            EnforceMsg::BanAndReply(b, reply) => {
                batch.push(b);
                replies.push(reply);
            }
            EnforceMsg::Positions(p, cursor) => {
                self.positions = Some(p);
                if cursor.is_some() {
                    self.cursor = cursor;
                }
            }
            other => later.push(other),
        }
    }

    /// Store (one transaction) and kernel, in the given order.
    fn apply(&mut self, batch: &[BanRequest], order: Order) -> Result<(), EnforcerError> {
        let now = now_ms();
        let records: Vec<BanRecord> = batch
            .iter()
            .map(|b| BanRecord {
                ip: b.ip,
                jail: b.jail.clone(),
                since_ms: now,
                until_ms: now.saturating_add((b.secs as i64).saturating_mul(1000)),
                reason: b.reason.clone(),
                count: b.count,
                ban_number: b.ban_number,
            })
            .collect();
        // Positions go in the same transaction as the bans their lines caused (they were sent
        // after those bans): a kill before the commit makes a restart read those lines again.
        let positions = self.positions.take().unwrap_or_default();
        let orders: Vec<BanOrder> = batch
            .iter()
            .map(|b| BanOrder {
                net: b.ip,
                secs: b.secs,
            })
            .collect();
        let (stored, store_time, applied, kernel_time) = match order {
            Order::StoreFirst => {
                let t0 = Instant::now();
                let stored = self
                    .store
                    .record(&records, &positions)
                    .map_err(|e| e.to_string());
                let store_time = t0.elapsed();
                let t1 = Instant::now();
                // Conntrack clean-up happens off this path (tg-enforce).
                let applied = self.enforcer.ban(&orders);
                (stored, store_time, applied, t1.elapsed())
            }
            Order::KernelFirst => {
                let t1 = Instant::now();
                let applied = self.enforcer.ban(&orders);
                let kernel_time = t1.elapsed();
                let t0 = Instant::now();
                let stored = self
                    .store
                    .record(&records, &positions)
                    .map_err(|e| e.to_string());
                (stored, t0.elapsed(), applied, kernel_time)
            }
            Order::Concurrent => {
                let store = &mut self.store;
                let enforcer = &mut self.enforcer;
                std::thread::scope(|scope| {
                    let write = || {
                        let t0 = Instant::now();
                        let stored = store.record(&records, &positions);
                        (stored.map_err(|e| e.to_string()), t0.elapsed())
                    };
                    let writer = std::thread::Builder::new()
                        .name("tg-store-write".into())
                        .spawn_scoped(scope, write);
                    let t1 = Instant::now();
                    let applied = enforcer.ban(&orders);
                    let kernel_time = t1.elapsed();
                    let (stored, store_time) = match writer {
                        Ok(handle) => handle.join().unwrap_or_else(|_| {
                            (Err("the store writer panicked".into()), Duration::ZERO)
                        }),
                        // Not stored, so the positions were not saved either: a restart
                        // reads these lines again (the kernel has the bans meanwhile).
                        Err(e) => (
                            Err(format!("starting the store writer: {e}")),
                            Duration::ZERO,
                        ),
                    };
                    (stored, store_time, applied, kernel_time)
                })
            }
        };
        if let Err(e) = stored {
            // The kernel ban goes in regardless: protection first; the lines are read again
            // after a restart, since their positions were not saved either.
            tracing::error!("recording {} ban(s) in the store: {e}", records.len());
            Stats::add(&self.stats.ban_errors, 1);
        }
        tracing::debug!(
            "batch of {} ({order:?}): store {store_time:?}, kernel {kernel_time:?}",
            orders.len(),
        );
        match applied {
            Ok(()) => {
                Stats::add(&self.stats.bans_applied, orders.len() as u64);
                Stats::add(&self.stats.ban_batches, 1);
                // One line per ban, except for mass bans (a restart's backlog, a botnet):
                // then one line for the batch, the addresses at debug level.
                if batch.len() <= LOG_EACH_UP_TO {
                    for b in batch {
                        tracing::info!(
                            "banned {} for {}s (jail {}, {}, {} attempt(s), ban #{})",
                            tg_model::net_text(b.ip),
                            b.secs,
                            b.jail,
                            b.reason,
                            b.count,
                            b.ban_number
                        );
                    }
                } else {
                    tracing::info!(
                        "banned {} addresses in one batch ({} … {})",
                        batch.len(),
                        tg_model::net_text(batch[0].ip),
                        tg_model::net_text(batch[batch.len() - 1].ip)
                    );
                    for b in batch {
                        tracing::debug!(
                            "banned {} for {}s (jail {})",
                            tg_model::net_text(b.ip),
                            b.secs,
                            b.jail
                        );
                    }
                }
                self.notify(batch, now / 1000);
                Ok(())
            }
            Err(e) => {
                tracing::error!(
                    "putting {} ban(s) into the kernel: {e}; retrying",
                    orders.len()
                );
                Stats::add(&self.stats.ban_errors, 1);
                self.retry.extend(orders);
                self.retry_at = Some(Instant::now() + RETRY_AFTER);
                Err(e.into())
            }
        }
    }

    /// Ban notices for a batch that is in the kernel: one per ban (the notifier de-duplicates
    /// and rate-limits), or one for the whole batch when it is a mass ban.
    fn notify(&self, batch: &[BanRequest], now_secs: i64) {
        let Ok(slot) = self.alerts.lock() else {
            return;
        };
        let Some(alerts) = slot.as_ref() else {
            return;
        };
        if batch.len() <= LOG_EACH_UP_TO {
            for b in batch {
                alerts.send(tg_alert::ban_notice(
                    tg_model::net_text(b.ip),
                    &b.jail,
                    b.secs,
                    &b.reason,
                    now_secs,
                ));
            }
        } else if let (Some(first), Some(last)) = (batch.first(), batch.last()) {
            alerts.send(tg_alert::Alert {
                key: "ban:batch".into(),
                severity: tg_alert::Severity::Info,
                subject: format!("tollguard: banned {} addresses at once", batch.len()),
                body: format!(
                    "{} addresses were banned in one batch ({} … {}); `tollguard bans` lists them.",
                    batch.len(),
                    tg_model::net_text(first.ip),
                    tg_model::net_text(last.ip)
                ),
                time: now_secs,
            });
        }
    }

    fn retry_failed(&mut self) {
        let orders = std::mem::take(&mut self.retry);
        self.retry_at = None;
        if orders.is_empty() {
            return;
        }
        if let Err(e) = self.enforcer.ban(&orders) {
            tracing::error!("retrying {} ban(s): {e}", orders.len());
            self.retry = orders;
            self.retry_at = Some(Instant::now() + RETRY_AFTER);
        } else {
            Stats::add(&self.stats.bans_applied, orders.len() as u64);
        }
    }

    fn unban(&mut self, ip: IpNet) -> Result<bool, EnforcerError> {
        // Kernel first here: the address must be free when we say so; a store that still lists
        // it would only re-add it on the next restart, which the store removal below prevents.
        self.enforcer.unban(&[ip])?;
        self.retry.retain(|o| o.net != ip);
        let was = self.store.remove_ban(ip)?;
        Stats::add(&self.stats.unbans, 1);
        tracing::info!("unbanned {}", tg_model::net_text(ip));
        Ok(was)
    }

    fn housekeeping(&mut self) {
        if let Some(p) = self.positions.take() {
            if let Err(e) = self.store.save_positions(&p) {
                tracing::warn!("saving file positions: {e}");
            }
            self.last_save = Some(Instant::now());
        }
        if let Some(c) = self.cursor.take() {
            if let Err(e) = write_atomically(&self.cursor_file, c.as_bytes()) {
                tracing::warn!(
                    "saving the journal cursor to {}: {e}",
                    self.cursor_file.display()
                );
            }
            self.last_save = Some(Instant::now());
        }
        self.stats
            .aggregated
            .store(self.enforcer.aggregated(), Ordering::Relaxed);
        if let Some(keep) = self
            .retention_ms
            .filter(|_| Instant::now() >= self.next_forget)
        {
            let t = Instant::now();
            match self
                .store
                .forget_offenders_before(now_ms().saturating_sub(keep))
            {
                Ok(n) => {
                    Stats::add(&self.stats.offenders_forgotten, n as u64);
                    tracing::info!(
                        "forgot {n} offender histories past their retention in {:?}",
                        t.elapsed()
                    );
                }
                Err(e) => tracing::warn!("forgetting old offender history: {e}"),
            }
            self.next_forget = Instant::now() + FORGET_EVERY;
        }
        if self.last_expire.elapsed() >= EXPIRE_EVERY {
            if let Err(e) = self.store.expire_bans(now_ms()) {
                tracing::warn!("dropping expired bans from the store: {e}");
            }
            self.last_expire = Instant::now();
        }
    }
}

/// Writes a small file through a temporary and a rename, so a crash leaves the old or the new.
pub fn write_atomically(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, path)
}

/// Wall-clock Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::sync::Mutex;
    use tg_enforce::EnforceError;
    use tg_store::SqliteStore;

    /// A kernel stand-in that looks into the store each time it is asked to ban.
    struct Witness {
        db: PathBuf,
        seen: Arc<Mutex<Vec<(usize, bool)>>>,
    }

    impl Enforcer for Witness {
        fn init(&mut self) -> Result<(), EnforceError> {
            Ok(())
        }
        fn ban(&mut self, orders: &[BanOrder]) -> Result<(), EnforceError> {
            let mut store = SqliteStore::open(&self.db).expect("open the store");
            let active = store.active_bans(now_ms()).expect("read the store");
            let all_stored = orders.iter().all(|o| active.iter().any(|b| b.ip == o.net));
            self.seen.lock().unwrap().push((orders.len(), all_stored));
            Ok(())
        }
        fn restore(&mut self, orders: &[BanOrder]) -> Result<(), EnforceError> {
            self.ban(orders)
        }
        fn unban(&mut self, _: &[IpNet]) -> Result<(), EnforceError> {
            Ok(())
        }
        fn list(&mut self) -> Result<Vec<(IpNet, u64)>, EnforceError> {
            Ok(Vec::new())
        }
        fn backend(&self) -> &'static str {
            "witness"
        }
    }

    fn request(i: u32) -> BanRequest {
        BanRequest {
            ip: std::net::IpAddr::from([198, 18, (i / 250) as u8, (i % 250 + 1) as u8]).into(),
            jail: "sip".into(),
            secs: 3600,
            reason: "sip auth-failure".into(),
            count: 3,
            ban_number: 1,
        }
    }

    /// An enforcer task over a fresh store and a [`Witness`] kernel.
    struct Fixture {
        _dir: tempfile::TempDir,
        db: PathBuf,
        seen: Arc<Mutex<Vec<(usize, bool)>>>,
        stats: Arc<Stats>,
        task: EnforcerTask,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let witness = Witness {
            db: db.clone(),
            seen: Arc::clone(&seen),
        };
        let stats = Arc::new(Stats::default());
        let task = EnforcerTask::new(
            Box::new(SqliteStore::open(&db).unwrap()),
            Box::new(witness),
            Arc::clone(&stats),
            dir.path().join("journal.cursor"),
        );
        Fixture {
            _dir: dir,
            db,
            seen,
            stats,
            task,
        }
    }

    fn position(offset: u64) -> FilePosition {
        FilePosition {
            path: "/var/log/asterisk/messages".into(),
            dev: 1,
            inode: 2,
            offset,
            head_hash: 3,
        }
    }

    /// Runs `task` over what `tx` already holds, calls `during` with the running thread's
    /// sender, then stops it and waits for it.
    fn run_then_stop(
        task: EnforcerTask,
        tx: Sender<EnforceMsg>,
        rx: Receiver<EnforceMsg>,
        during: impl FnOnce(&Sender<EnforceMsg>),
    ) {
        let thread = std::thread::spawn(move || task.run(rx));
        during(&tx);
        let (stop, stopped) = mpsc::channel();
        tx.send(EnforceMsg::Stop(stop)).unwrap();
        stopped.recv_timeout(Duration::from_secs(30)).unwrap();
        thread.join().unwrap();
    }

    #[test]
    fn decided_bans_reach_the_kernel_first_then_the_store_with_their_positions() {
        let f = fixture();
        let (tx, rx) = mpsc::channel();
        tx.send(EnforceMsg::Positions(vec![position(777)], None))
            .unwrap();
        // 500 decisions queued before the thread starts: one batch.
        for i in 0..500 {
            f.stats.queued_bans.fetch_add(1, Ordering::Relaxed);
            tx.send(EnforceMsg::Ban(request(i))).unwrap();
        }
        run_then_stop(f.task, tx, rx, |tx| {
            let (done, wait) = mpsc::channel();
            tx.send(EnforceMsg::List(done)).unwrap();
            let listed = wait.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
            assert_eq!(listed.len(), 500);
        });
        assert_eq!(
            *f.seen.lock().unwrap(),
            vec![(500, false)],
            "one batch, in the kernel before the store"
        );
        let mut store = SqliteStore::open(&f.db).unwrap();
        assert_eq!(
            store.load_positions().unwrap(),
            vec![position(777)],
            "the positions committed with the bans"
        );
        assert_eq!(
            f.stats.queued_bans.load(Ordering::Relaxed),
            0,
            "nothing left queued for the restore to wait on"
        );
        assert_eq!(Stats::get(&f.stats.bans_applied), 500);
        assert_eq!(Stats::get(&f.stats.ban_batches), 1);
    }

    #[test]
    fn a_mass_batch_is_stored_with_its_positions_and_banned_at_once() {
        let f = fixture();
        let (tx, rx) = mpsc::channel();
        let n = PARALLEL_FROM as u32 * 3;
        tx.send(EnforceMsg::Positions(vec![position(4096)], None))
            .unwrap();
        for i in 0..n {
            tx.send(EnforceMsg::Ban(request(i))).unwrap();
        }
        run_then_stop(f.task, tx, rx, |_| {});

        let seen = f.seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "one kernel batch: {seen:?}");
        assert_eq!(seen[0].0, n as usize);
        let mut store = SqliteStore::open(&f.db).unwrap();
        assert_eq!(store.active_bans(now_ms()).unwrap().len(), n as usize);
        assert_eq!(store.load_positions().unwrap(), vec![position(4096)]);
        assert_eq!(Stats::get(&f.stats.bans_applied), u64::from(n));
        assert_eq!(Stats::get(&f.stats.ban_errors), 0);
    }

    #[test]
    fn a_manual_ban_in_a_mass_batch_is_stored_before_the_kernel_sees_it() {
        let f = fixture();
        let (tx, rx) = mpsc::channel();
        let n = PARALLEL_FROM as u32 * 2;
        for i in 0..n {
            tx.send(EnforceMsg::Ban(request(i))).unwrap();
        }
        let (reply, answer) = mpsc::channel();
        tx.send(EnforceMsg::BanAndReply(request(n), reply)).unwrap();
        run_then_stop(f.task, tx, rx, |_| {
            answer
                .recv_timeout(Duration::from_secs(30))
                .unwrap()
                .unwrap();
        });
        assert_eq!(*f.seen.lock().unwrap(), vec![(n as usize + 1, true)]);
    }

    #[test]
    fn each_ban_of_a_small_batch_is_announced_and_a_mass_ban_once() {
        let f = fixture();
        let (sender, mut notices) = tg_alert::channel(64);
        let slot: AlertSlot = Arc::new(Mutex::new(Some(sender)));
        let mut task = f.task.with_alerts(Arc::clone(&slot));

        task.apply(&[request(0), request(1)], Order::StoreFirst)
            .unwrap();
        let first = notices.try_recv().unwrap();
        assert_eq!(first.key, "ban:198.18.0.1");
        assert!(
            first.subject.contains("banned 198.18.0.1 (sip)"),
            "{}",
            first.subject
        );
        assert!(first.body.contains("sip auth-failure"), "{}", first.body);
        assert_eq!(notices.try_recv().unwrap().key, "ban:198.18.0.2");
        assert!(notices.try_recv().is_err(), "one notice per ban");

        let mass: Vec<BanRequest> = (10..110).map(request).collect();
        task.apply(&mass, Order::StoreFirst).unwrap();
        let batch = notices.try_recv().unwrap();
        assert_eq!(batch.key, "ban:batch");
        assert!(batch.subject.contains("100 addresses"), "{}", batch.subject);
        assert!(notices.try_recv().is_err(), "one notice for a mass ban");

        // Without a notifier (no [alerts]) bans still go in, silently.
        *slot.lock().unwrap() = None;
        task.apply(&[request(200)], Order::StoreFirst).unwrap();
        assert!(notices.try_recv().is_err());
    }
}
