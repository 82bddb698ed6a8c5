//! The daemon's counters, shared lock-free between its threads and read by `tollguard status`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// One counter per thing worth watching; every field only ever grows, except the gauges.
#[derive(Debug, Default)]
pub struct Stats {
    /// Lines read from files and the journal.
    pub lines: AtomicU64,
    /// Bytes read from files.
    pub bytes: AtomicU64,
    /// Lines a detector turned into a finding.
    pub findings: AtomicU64,
    /// Lines that looked hostile but carried no trustworthy address (and no evidence settled).
    pub suspicious: AtomicU64,
    /// Lines naming several candidate addresses that evidence outside the line settled.
    pub resolved: AtomicU64,
    /// Findings about trusted addresses (never counted, never banned).
    pub trusted_findings: AtomicU64,
    /// Findings from outside the log sources (the AMI call guard).
    pub external_findings: AtomicU64,
    /// Ban decisions taken by the jails.
    pub decisions: AtomicU64,
    /// Bans put into the kernel (jail and manual).
    pub bans_applied: AtomicU64,
    /// Ban batches applied (one store write and one kernel transaction each).
    pub ban_batches: AtomicU64,
    /// Failed attempts to write bans to the store or the kernel.
    pub ban_errors: AtomicU64,
    /// Manual unbans.
    pub unbans: AtomicU64,
    /// Lines longer than the cap, skipped.
    pub long_lines: AtomicU64,
    /// Rotations seen (rename or delete and recreate).
    pub rotations: AtomicU64,
    /// Truncations seen (copytruncate).
    pub truncations: AtomicU64,
    /// Journal entries read.
    pub journal_entries: AtomicU64,
    /// Bans restored into the kernel at start (reconcile).
    pub restored: AtomicU64,
    /// Gauge: milliseconds the start-up restore took, -1 while it runs.
    pub restore_ms: AtomicI64,
    /// Gauge: configuration reloads that succeeded.
    pub reloads: AtomicU64,
    /// Times the AMI call guard ended (an error, a panic) and was started again.
    pub guard_restarts: AtomicU64,
    /// Gauge: bans sent to the enforcer thread and not yet applied (≤ 0: none). The start-up
    /// restore waits between its chunks while this is positive, so live bans go first.
    pub queued_bans: AtomicI64,
    /// Gauge: sources (addresses and prefixes) the jails hold counters for, over every jail.
    pub tracked: AtomicU64,
    /// Sources the jails evicted at their `max_tracked` cap (least threatening first).
    pub evicted: AtomicU64,
    /// Addresses banned as their prefix because a kernel ban set was full.
    pub aggregated: AtomicU64,
    /// Offender histories deleted from the store past `forget_offenders_after`.
    pub offenders_forgotten: AtomicU64,
}

impl Stats {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
