//! Reconcile: after a start (or a reboot, or `nft flush ruleset`), put the store's active bans
//! back into the kernel in one batch, with their remaining time, and drop expired ones.
//!
//! It lives in the daemon, the one place that holds both a store and an enforcer, so that
//! tg-enforce knows nothing of the store (and links no SQLite).

use tg_enforce::{BanOrder, EnforceError, Enforcer};
use tg_store::{Store, StoreError};

/// Reconciling failed: the store could not be read or the kernel refused the bans.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The enforcer failed.
    #[error(transparent)]
    Enforce(#[from] EnforceError),
}

/// What [`reconcile`] (or [`reconcile_in_chunks`]) did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Active bans handed to the kernel in the batch (including those it still had).
    pub restored: usize,
    /// Bans that had ended and were dropped from the store.
    pub expired: usize,
}

/// Drops the store's expired bans, then re-adds every active one that is missing from the kernel,
/// in one batch ([`Enforcer::restore`]), for its remaining time (rounded up to whole seconds).
/// Call it after [`Enforcer::init`] and before the first [`Enforcer::ban`].
pub fn reconcile(
    store: &mut dyn Store,
    enforcer: &mut dyn Enforcer,
    now_ms: i64,
) -> Result<ReconcileReport, ReconcileError> {
    let (orders, expired) = pending(store, now_ms)?;
    enforcer.restore(&orders)?;
    Ok(ReconcileReport {
        restored: orders.len(),
        expired,
    })
}

/// [`reconcile`] in batches of `chunk` bans, most recent first, calling `between` after each
/// batch — so a daemon restoring 100,000 bans can still ban a new attacker within milliseconds
/// (`between` drains its queue and bans with the same enforcer). One batch of 1,000 costs a few
/// milliseconds; `bench/bans_batch.sh` measures the whole restore and the longest batch.
pub fn reconcile_in_chunks(
    store: &mut dyn Store,
    enforcer: &mut dyn Enforcer,
    now_ms: i64,
    chunk: usize,
    between: &mut dyn FnMut(&mut dyn Enforcer) -> Result<(), EnforceError>,
) -> Result<ReconcileReport, ReconcileError> {
    let (mut orders, expired) = pending(store, now_ms)?;
    // `active_bans` is oldest first; the newest bans are the likeliest still-active attackers.
    orders.reverse();
    for batch in orders.chunks(chunk.max(1)) {
        enforcer.restore(batch)?;
        between(enforcer)?;
    }
    Ok(ReconcileReport {
        restored: orders.len(),
        expired,
    })
}

/// The store's active bans as orders for their remaining time, and how many had expired.
fn pending(store: &mut dyn Store, now_ms: i64) -> Result<(Vec<BanOrder>, usize), StoreError> {
    let expired = store.expire_bans(now_ms)?;
    let orders = store
        .active_bans(now_ms)?
        .iter()
        .map(|b| {
            let left_ms = u64::try_from(b.until_ms.saturating_sub(now_ms)).unwrap_or(0);
            // Never longer than the ban itself: a ban recorded after `now_ms` was taken (the
            // daemon bans while it restores) would otherwise come back a second too long.
            let length_ms = u64::try_from(b.until_ms.saturating_sub(b.since_ms)).unwrap_or(0);
            BanOrder {
                net: b.ip,
                secs: left_ms.min(length_ms).div_ceil(1000).max(1),
            }
        })
        .collect();
    Ok((orders, expired))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use tg_store::{BanRecord, SqliteStore};

    /// Records what it is asked to do (the kernel side is tested in tests/, in namespaces).
    #[derive(Default)]
    struct Recorder {
        restored: Vec<BanOrder>,
    }

    impl Enforcer for Recorder {
        fn init(&mut self) -> Result<(), EnforceError> {
            Ok(())
        }
        fn ban(&mut self, _: &[BanOrder]) -> Result<(), EnforceError> {
            Ok(())
        }
        fn restore(&mut self, orders: &[BanOrder]) -> Result<(), EnforceError> {
            self.restored.extend_from_slice(orders);
            Ok(())
        }
        fn unban(&mut self, _: &[ipnet::IpNet]) -> Result<(), EnforceError> {
            Ok(())
        }
        fn list(&mut self) -> Result<Vec<(ipnet::IpNet, u64)>, EnforceError> {
            Ok(self.restored.iter().map(|o| (o.net, o.secs)).collect())
        }
        fn backend(&self) -> &'static str {
            "recorder"
        }
    }

    #[test]
    fn restores_remaining_time_and_drops_expired() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&tmp.path().join("state.db")).unwrap();
        let rec = |ip: &str, until_ms| BanRecord {
            ip: tg_model::parse_net(ip).unwrap(),
            jail: "sip".into(),
            since_ms: 0,
            until_ms,
            reason: "x".into(),
            count: 3,
            ban_number: 1,
        };
        store
            .record_bans(&[
                rec("198.51.100.1", 10_000),
                rec("198.51.100.2", 70_001),
                rec("2001:db8::3", 9_000),
            ])
            .unwrap();
        let mut enforcer = Recorder::default();
        let report = reconcile(&mut store, &mut enforcer, 10_000).unwrap();
        assert_eq!(
            report,
            ReconcileReport {
                restored: 1,
                expired: 2
            }
        );
        assert_eq!(
            enforcer.restored,
            vec![BanOrder {
                net: tg_model::parse_net("198.51.100.2").unwrap(),
                secs: 61
            }]
        );
    }

    #[test]
    fn a_ban_recorded_after_the_restore_began_comes_back_no_longer_than_it_is() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&tmp.path().join("state.db")).unwrap();
        // Banned for exactly 4 h, half a second after the restore took its `now`.
        store
            .record_bans(&[BanRecord {
                ip: tg_model::parse_net("198.51.100.9").unwrap(),
                jail: "sip".into(),
                since_ms: 1_000_500,
                until_ms: 1_000_500 + 14_400_000,
                reason: "x".into(),
                count: 3,
                ban_number: 3,
            }])
            .unwrap();
        let mut enforcer = Recorder::default();
        reconcile(&mut store, &mut enforcer, 1_000_000).unwrap();
        assert_eq!(enforcer.restored[0].secs, 14_400, "not 14,401");
    }

    #[test]
    fn chunks_go_newest_first_with_room_between() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&tmp.path().join("state.db")).unwrap();
        let bans: Vec<BanRecord> = (1..=5u8)
            .map(|i| BanRecord {
                ip: IpAddr::from([198, 51, 100, i]).into(),
                jail: "sip".into(),
                since_ms: i64::from(i),
                until_ms: 60_000,
                reason: "x".into(),
                count: 3,
                ban_number: 1,
            })
            .collect();
        store.record_bans(&bans).unwrap();
        let mut enforcer = Recorder::default();
        let mut pauses = Vec::new();
        let report = reconcile_in_chunks(&mut store, &mut enforcer, 0, 2, &mut |e| {
            pauses.push(e.list()?.len());
            Ok(())
        })
        .unwrap();
        assert_eq!(
            report,
            ReconcileReport {
                restored: 5,
                expired: 0
            }
        );
        assert_eq!(
            pauses,
            [2, 4, 5],
            "called after each batch (2 + 2 + 1) is in"
        );
        let order: Vec<u8> = enforcer
            .restored
            .iter()
            .map(|o| match o.net.addr() {
                IpAddr::V4(v4) => v4.octets()[3],
                IpAddr::V6(_) => 0,
            })
            .collect();
        assert_eq!(order, [5, 4, 3, 2, 1]);
    }
}
