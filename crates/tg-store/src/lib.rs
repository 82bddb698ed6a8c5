//! The state store: bans, offender history, file positions, behind one small trait so a
//! shared PostgreSQL store can follow.
//!
//! # API (used by tg-daemon)
//! - [`Store`]: the interface (blocking; the daemon calls it from its own thread).
//! - [`SqliteStore::open`]: the local store (default `/var/lib/tollguard/state.db`).
//! - [`BanRecord`]: one active ban, one per address or prefix (the kernel holds one element
//!   per address or prefix too); recording a ban for an address that already has one replaces it — the latest
//!   decision wins, exactly as the kernel's refreshed timeout does.
//! - Offender history: every recorded ban raises `(ip, jail)`'s count to at least the record's
//!   `ban_number` (so recording the same ban twice counts once); [`Store::prior_bans`] and
//!   [`Store::all_prior_bans`] give it back for escalation (`tg_jail::JailSet::set_prior_bans`).
//!   [`Store::history_of`] is one address's history (a point query) and
//!   [`Store::history_pages`] streams everyone's, in pages (the daemon's start, off its
//!   critical path). History outlives the ban and the process: escalation works across restarts;
//!   [`Store::forget_offenders_before`] keeps it from growing forever (the daemon calls it daily
//!   with `[daemon] forget_offenders_after`, and reads history back through
//!   [`SqliteStore::history_since`] so older rows never reach memory even before that).
//! - [`FilePosition`]: where the follower stopped in each log; [`Store::save_positions`]
//!   upserts by path; [`Store::record`] commits a batch of bans *and* positions atomically.
//!
//! # Durability: `kill -9` loses no ban
//! The rules for the caller:
//! 1. **a position never gets ahead of the bans**: a follower position is saved in the same
//!    transaction as the bans of the lines before it ([`Store::record`]) or after them, never
//!    before — otherwise a kill between the two skips the lines whose ban was not recorded;
//! 2. **reconcile on every start**: the daemon runs `tg_daemon::reconcile`, which re-adds every
//!    active ban of the store that is missing from the kernel.
//!
//! The kernel write may then come before the commit (the daemon does that for bans decided from
//! log lines, so a slow commit never delays protection) or after it (manual bans, which have no
//! lines to be read again). Walking through a kill at each moment:
//! - before the commit: the store has neither the ban nor the position past its lines, so the
//!   restarted daemon reads those lines again and decides the ban again (a kernel that already
//!   had it keeps it meanwhile); a manual ban, stored first, was not confirmed yet;
//! - after the commit: the store has it, and reconcile re-adds it if the kernel lost it;
//! - after both: the kernel still has it (bans live in the kernel, not in the process), and
//!   reconcile leaves it alone.
//!
//! The database runs in WAL mode with `synchronous = NORMAL` ([`Durability::ProcessCrash`]):
//! a committed transaction is in the WAL file, in the OS page cache, which a killed process
//! cannot lose — `kill -9` loses nothing. A power cut or kernel panic can roll back the last
//! few commits (never corrupt the file), but always a *suffix* of them: the follower positions
//! live in the same database and (rule 2) are never ahead of the bans of the lines
//! before them, so a rolled-back ban comes with a rolled-back position, and the restarted daemon
//! reads those lines again and bans again (the log lines themselves are only as durable as
//! the PBX's log writer, which does not fsync either). `FULL` ([`Durability::PowerLoss`],
//! via [`SqliteStore::open_with`]) fsyncs every commit instead; measured with
//! `bench/bans_store.sh` (two runs on the 2-vCPU test machine, busy with builds) a one-ban
//! commit costs p50 0.2–4 ms / p99 8–13 ms with FULL against p50 0.03 ms / p99 0.1–1.6 ms
//! with NORMAL — and the commit sits on the path from log line to kernel ban, whose p99
//! budget is 10 ms.
//!
//! The schema carries its version in `PRAGMA user_version`; opening a database written by a
//! newer tollguard is refused rather than guessed at, and an older one is migrated at open in
//! one transaction (version 1 to 2: `bans` and `offenders` became `WITHOUT ROWID`, which with
//! the multi-row upserts of a batch made recording 100,000 bans about 40% cheaper; see
//! `bench/bans_store.sh`).

mod sqlite;

use std::path::PathBuf;

use ipnet::IpNet;

use serde::{Deserialize, Serialize};

pub use sqlite::{Durability, SqliteStore, SCHEMA_VERSION};

/// One ban, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanRecord {
    /// The banned address (a /32 or /128) or prefix. Stored as text: the bare address for one
    /// address (as before prefixes existed, so no schema change was needed), `ADDR/LEN` for a
    /// prefix ([`tg_model::net_text`]).
    pub ip: IpNet,
    /// The jail that decided it (or e.g. `"manual"` for `tollguard ban`).
    pub jail: String,
    /// When the ban started, Unix milliseconds.
    pub since_ms: i64,
    /// When it ends, Unix milliseconds.
    pub until_ms: i64,
    /// Why, in words (e.g. the finding kind).
    pub reason: String,
    /// How many findings led to it.
    pub count: u32,
    /// 1 for this address's first ban in this jail, 2 for the second, … (escalation).
    pub ban_number: u32,
}

/// Where a log follower stopped in one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePosition {
    /// The log's path, as configured.
    pub path: String,
    /// `st_dev` of the file read.
    pub dev: u64,
    /// `st_ino` of the file read.
    pub inode: u64,
    /// Byte offset just after the last complete line consumed.
    pub offset: u64,
    /// A hash of the file's first bytes, to tell a recreated file that reused the inode.
    pub head_hash: u64,
}

/// One address's history, read with an index-backed point query ([`Store::history_of`]): what the
/// daemon's detection thread needs before it decides about an address whose history the
/// background read has not delivered yet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressHistory {
    /// `(jail, bans served)` for every jail the address was banned by.
    pub prior_bans: Vec<(String, u32)>,
    /// `(jail, until_ms)` of the address's running ban, if any.
    pub running: Vec<(String, i64)>,
}

/// A page of every offender's history and every running ban ([`Store::history_pages`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryPage {
    /// `(ip, jail, bans served)`.
    pub prior_bans: Vec<(IpNet, String, u32)>,
    /// `(ip, jail, until_ms)` of bans still running.
    pub running: Vec<(IpNet, String, i64)>,
}

impl HistoryPage {
    /// Rows in the page.
    pub fn len(&self) -> usize {
        self.prior_bans.len() + self.running.len()
    }

    /// True when the page holds no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why the store failed. No backend's own error type appears here: the [`Store`] trait is the
/// seam between the daemon and its backends (SQLite now, PostgreSQL next), so callers match on
/// [`StoreErrorKind`] and the backend's error is only a boxed [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Could not create the state directory or the database file.
    #[error("{path}: {source}")]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The database refused or failed an operation.
    #[error("{database}: {what}: {source}")]
    Database {
        /// Which database: the SQLite file's path (a server's name for a remote store).
        database: String,
        /// The operation.
        what: &'static str,
        /// What kind of failure, for callers that react to some (a busy database, a read-only one).
        kind: StoreErrorKind,
        /// The backend's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The database was written by a newer tollguard.
    #[error(
        "{path}: schema version {found} is newer than this tollguard understands ({supported})"
    )]
    SchemaTooNew {
        /// The database.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
}

impl StoreError {
    /// The kind of a [`StoreError::Database`] failure; [`StoreErrorKind::Other`] for the rest.
    pub fn kind(&self) -> StoreErrorKind {
        match self {
            StoreError::Database { kind, .. } => *kind,
            StoreError::Io { .. } | StoreError::SchemaTooNew { .. } => StoreErrorKind::Other,
        }
    }
}

/// What kind of database failure a [`StoreError::Database`] is, whatever the backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// Another connection holds a lock for longer than the busy timeout.
    Busy,
    /// A write through a read-only connection or to a read-only file.
    ReadOnly,
    /// The database file is damaged or not a database.
    Corrupt,
    /// The disk (or the database's quota) is full.
    Full,
    /// A constraint (unique key, check) refused a row.
    Constraint,
    /// Anything else.
    Other,
}

/// The store's small interface: SQLite now, a shared PostgreSQL store (a fleet bans together)
/// next. Blocking; every method is one transaction.
pub trait Store: Send {
    /// Records a batch of bans in one transaction (replacing any ban of the same address) and
    /// raises each `(ip, jail)`'s history to at least its `ban_number`.
    fn record_bans(&mut self, bans: &[BanRecord]) -> Result<(), StoreError>;
    /// Records bans and saves follower positions in one transaction — the way to move a
    /// position past the lines that caused bans (see "Durability" in the crate docs). The
    /// default runs the two steps in that order, bans first.
    fn record(&mut self, bans: &[BanRecord], positions: &[FilePosition]) -> Result<(), StoreError> {
        self.record_bans(bans)?;
        self.save_positions(positions)
    }
    /// Removes the ban of `ip`; true if there was one. History stays.
    fn remove_ban(&mut self, ip: IpNet) -> Result<bool, StoreError>;
    /// Drops bans that ended at or before `now_ms`; returns how many.
    fn expire_bans(&mut self, now_ms: i64) -> Result<usize, StoreError>;
    /// The bans still running at `now_ms` (expired ones are dropped first), oldest first.
    fn active_bans(&mut self, now_ms: i64) -> Result<Vec<BanRecord>, StoreError>;
    /// How many bans are still running at `now_ms` (reads only; no row is built). The default
    /// counts [`Store::active_bans`].
    fn count_active_bans(&mut self, now_ms: i64) -> Result<usize, StoreError> {
        Ok(self.active_bans(now_ms)?.len())
    }
    /// How many bans `ip` has had in `jail` (0 if none).
    fn prior_bans(&mut self, ip: IpNet, jail: &str) -> Result<u32, StoreError>;
    /// Every offender's history: `(ip, jail, bans)`.
    fn all_prior_bans(&mut self) -> Result<Vec<(IpNet, String, u32)>, StoreError>;
    /// `ip`'s history in every jail and its ban still running at `now_ms` (a point query; reads
    /// only, so it also works on a [`SqliteStore::open_read_only`] connection).
    fn history_of(&mut self, ip: IpNet, now_ms: i64) -> Result<AddressHistory, StoreError>;
    /// Every offender's history and every ban still running at `now_ms`, handed to `each` in
    /// pages of up to `page` rows; `each` returns false to stop early. Returns the rows read.
    /// Reads only. The default reads everything at once and cuts it into pages; the SQLite
    /// store streams.
    fn history_pages(
        &mut self,
        now_ms: i64,
        page: usize,
        each: &mut dyn FnMut(HistoryPage) -> bool,
    ) -> Result<usize, StoreError> {
        let prior = self.all_prior_bans()?;
        let running: Vec<(IpNet, String, i64)> = self
            .active_bans(now_ms)?
            .into_iter()
            .map(|b| (b.ip, b.jail, b.until_ms))
            .collect();
        let rows = prior.len() + running.len();
        let page = page.max(1);
        for chunk in prior.chunks(page) {
            let p = HistoryPage {
                prior_bans: chunk.to_vec(),
                running: Vec::new(),
            };
            if !each(p) {
                return Ok(rows);
            }
        }
        for chunk in running.chunks(page) {
            let p = HistoryPage {
                prior_bans: Vec::new(),
                running: chunk.to_vec(),
            };
            if !each(p) {
                return Ok(rows);
            }
        }
        Ok(rows)
    }
    /// Forgets the history of offenders whose last ban started before `before_ms` (they start
    /// again from a first ban); returns how many `(ip, jail)` rows went. Without it the history
    /// grows with every attacker ever seen — call it now and then (e.g. daily, keeping 30 days).
    fn forget_offenders_before(&mut self, before_ms: i64) -> Result<usize, StoreError>;
    /// Saves follower positions (upsert by path) in one transaction.
    fn save_positions(&mut self, positions: &[FilePosition]) -> Result<(), StoreError>;
    /// Every saved position.
    fn load_positions(&mut self) -> Result<Vec<FilePosition>, StoreError>;
}
