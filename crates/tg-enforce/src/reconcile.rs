//! Reconcile: after a start (or a reboot, or `nft flush ruleset`), put the store's active bans
//! back into the kernel in one batch, with their remaining time, and drop expired ones.

use tg_store::Store;

use crate::{BanOrder, EnforceError, Enforcer};

/// What [`reconcile`] did.
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
) -> Result<ReconcileReport, EnforceError> {
    let expired = store.expire_bans(now_ms)?;
    let active = store.active_bans(now_ms)?;
    let orders: Vec<BanOrder> = active
        .iter()
        .map(|b| {
            let left_ms = u64::try_from(b.until_ms.saturating_sub(now_ms)).unwrap_or(0);
            BanOrder {
                ip: b.ip,
                secs: left_ms.div_ceil(1000).max(1),
            }
        })
        .collect();
    enforcer.restore(&orders)?;
    Ok(ReconcileReport {
        restored: orders.len(),
        expired,
    })
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
        fn unban(&mut self, _: &[IpAddr]) -> Result<(), EnforceError> {
            Ok(())
        }
        fn list(&mut self) -> Result<Vec<(IpAddr, u64)>, EnforceError> {
            Ok(Vec::new())
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
            ip: ip.parse().unwrap(),
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
                ip: "198.51.100.2".parse().unwrap(),
                secs: 61
            }]
        );
    }
}
