//! The firewall policy: `[firewall]` compiled into the `inet tollguard` table; apply with
//! automatic rollback, confirm, rollback, status.
