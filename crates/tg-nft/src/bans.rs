//! The ban sets and their drop chains (owned by the ban enforcer, tg-enforce): the nftables
//! text that creates them idempotently. Their elements — the bans — are written over netlink by
//! [`crate::elements`].
//!
//! Objects owned here, inside the shared `inet` table (see the crate docs):
//! - sets [`BANNED_V4`] / [`BANNED_V6`] (`type ipv4_addr` / `ipv6_addr`, `flags timeout`): one
//!   element per banned address, each with its own timeout, so bans expire in the kernel and
//!   outlive the daemon;
//! - sets [`BANNED_NETS_V4`] / [`BANNED_NETS_V6`] (`flags interval, timeout`): banned prefixes
//!   (an IPv6 /64 that rotated its addresses), each an interval with its own timeout. Separate
//!   sets, so the address sets of an existing installation are kept as they are;
//! - every set has a `size` ([`BanScript::size`], `[daemon] set_size`): the kernel refuses an
//!   add to a full set (`ENFILE`), and tg-enforce then bans the addresses' prefixes instead;
//! - base chain [`BAN_CHAIN`] (`hook input priority -150`), which drops their members before any
//!   filter-priority chain (and its `ct state established accept`) sees the packet: a drop in
//!   any base chain is final, so the firewall's accepts cannot let a banned sender through;
//! - optionally base chain [`BAN_FORWARD_CHAIN`] (`hook forward priority -150`), the same drop
//!   for traffic routed *through* the host — a PBX in a container or VM behind it (Docker's
//!   DNAT happens in prerouting, so the source address still matches).
//!
//! Nothing here deletes or flushes the table, or touches an `fw_*` object. The setup script
//! uses `add` (a no-op for what already exists), so existing set elements — live bans — are
//! kept, and only flushes and refills the ban chains' own two rules.
//!
//! Refreshing a ban: on older kernels (such as Debian 12's 6.1), adding an element leaves an
//! existing element's timeout alone, so a refresh is `add` (no error if present), `delete`,
//! `add … timeout` for the same addresses; the three statements are one transaction, so the
//! address is never unbanned in between. A plain add costs a third of that and is right for
//! addresses known not to be in the set, and for restores (where an existing element keeps its
//! timeout on older kernels, and recent ones — the 6.18 test machine — set the new one: a ban
//! either way). [`crate::elements`] writes these statements as netlink messages.

use std::fmt::Write;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::{BANNED_NETS_V4, BANNED_NETS_V6, BANNED_V4, BANNED_V6, BAN_CHAIN, BAN_CHAIN_PRIORITY};

/// The optional base chain that drops banned sources in forwarded traffic.
pub const BAN_FORWARD_CHAIN: &str = "bans_forward";
/// The shortest ban the kernel is given (nft rejects a zero timeout).
pub const MIN_TIMEOUT_SECS: u64 = 1;
/// The longest ban the kernel is given: ten years ("permanent" in practice). Linux 6.x accepts
/// timeouts up to a few hundred years (a millisecond count that must fit in jiffies); ten years
/// stays far inside that on every kernel with nftables set timeouts.
pub const MAX_TIMEOUT_SECS: u64 = 3650 * 86_400;

/// Clamps a ban duration to what the kernel accepts: `[MIN_TIMEOUT_SECS, MAX_TIMEOUT_SECS]`.
pub fn clamp_timeout(secs: u64) -> u64 {
    secs.clamp(MIN_TIMEOUT_SECS, MAX_TIMEOUT_SECS)
}

/// A table name that is not a plain nftables identifier.
#[derive(Debug, thiserror::Error)]
#[error("invalid nftables table name {0:?} (letters, digits and '_', starting with a letter, at most 31)")]
pub struct InvalidTableName(pub String);

/// The default `size` of each ban set: a million elements, about 100 MB of kernel memory for
/// the IPv6 set when full (measured per element by `bench/bans_batch.sh`'s neighbours).
pub const DEFAULT_SET_SIZE: u32 = 1_000_000;

/// One address or prefix and how long it stays banned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Element {
    /// The address (a host network) or prefix; an IPv4-mapped IPv6 address goes into the IPv4
    /// sets, a prefix into the prefix sets.
    pub net: IpNet,
    /// Seconds; clamped with [`clamp_timeout`] when written.
    pub secs: u64,
}

/// Renders the ban objects' scripts for one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BanScript {
    table: String,
    size: Option<u32>,
}

impl BanScript {
    /// Scripts for the table `inet <table>` (normally [`crate::TABLE`]).
    pub fn new(table: &str) -> Result<BanScript, InvalidTableName> {
        let ok = table.len() <= 31
            && table.starts_with(|c: char| c.is_ascii_alphabetic())
            && table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(BanScript {
                table: table.to_string(),
                size: Some(DEFAULT_SET_SIZE),
            })
        } else {
            Err(InvalidTableName(table.to_string()))
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Each set's `size` (default [`DEFAULT_SET_SIZE`]); `None` leaves it out (kernels that
    /// refuse to change the size of an existing set).
    pub fn size(mut self, size: Option<u32>) -> BanScript {
        self.size = size;
        self
    }

    /// Creates the table, both sets and the drop chain(s) if missing, keeping every existing set
    /// element. With `forward` false, an existing forward chain of ours is removed.
    pub fn setup(&self, forward: bool) -> String {
        let t = &self.table;
        let mut s = String::new();
        let _ = writeln!(s, "add table inet {t}");
        let size = self.size.map(|n| format!(" size {n};")).unwrap_or_default();
        for (set, kind, flags) in [
            (BANNED_V4, "ipv4_addr", "timeout"),
            (BANNED_V6, "ipv6_addr", "timeout"),
            (BANNED_NETS_V4, "ipv4_addr", "interval, timeout"),
            (BANNED_NETS_V6, "ipv6_addr", "interval, timeout"),
        ] {
            let _ = writeln!(
                s,
                "add set inet {t} {set} {{ type {kind}; flags {flags};{size} }}"
            );
        }
        let chains = [
            (BAN_CHAIN, "input", true),
            (BAN_FORWARD_CHAIN, "forward", forward),
        ];
        for (chain, hook, wanted) in chains {
            let _ = writeln!(
                s,
                "add chain inet {t} {chain} {{ type filter hook {hook} priority {BAN_CHAIN_PRIORITY}; policy accept; }}"
            );
            let _ = writeln!(s, "flush chain inet {t} {chain}");
            if wanted {
                let _ = writeln!(s, "add rule inet {t} {chain} ip saddr @{BANNED_V4} drop");
                let _ = writeln!(s, "add rule inet {t} {chain} ip6 saddr @{BANNED_V6} drop");
                let _ = writeln!(
                    s,
                    "add rule inet {t} {chain} ip saddr @{BANNED_NETS_V4} drop"
                );
                let _ = writeln!(
                    s,
                    "add rule inet {t} {chain} ip6 saddr @{BANNED_NETS_V6} drop"
                );
            } else {
                let _ = writeln!(s, "delete chain inet {t} {chain}");
            }
        }
        s
    }
}

/// The set a target goes to: by family, and whether it is one address or a prefix.
pub(crate) fn set_of(net: IpNet) -> &'static str {
    let host = net.prefix_len() == net.max_prefix_len();
    match (net.addr(), host) {
        (IpAddr::V4(_), true) => BANNED_V4,
        (IpAddr::V6(_), true) => BANNED_V6,
        (IpAddr::V4(_), false) => BANNED_NETS_V4,
        (IpAddr::V6(_), false) => BANNED_NETS_V6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_creates_sets_and_chain_without_touching_the_table() {
        let s = BanScript::new("tollguard").unwrap().setup(false);
        assert!(s.contains(
            "add set inet tollguard banned_v4 { type ipv4_addr; flags timeout; size 1000000; }"
        ));
        assert!(s.contains(
            "add set inet tollguard banned_v6 { type ipv6_addr; flags timeout; size 1000000; }"
        ));
        assert!(s.contains(
            "add set inet tollguard banned_nets_v6 { type ipv6_addr; flags interval, timeout; size 1000000; }"
        ));
        assert!(s.contains("add rule inet tollguard bans ip6 saddr @banned_nets_v6 drop"));
        let unsized_sets = BanScript::new("tollguard").unwrap().size(None).setup(false);
        assert!(unsized_sets.contains("banned_v4 { type ipv4_addr; flags timeout; }"));
        assert!(s.contains("type filter hook input priority -150; policy accept;"));
        assert!(s.contains("add rule inet tollguard bans ip saddr @banned_v4 drop"));
        assert!(s.contains("add rule inet tollguard bans ip6 saddr @banned_v6 drop"));
        assert!(s.contains("delete chain inet tollguard bans_forward"));
        for line in s.lines() {
            assert!(
                !line.starts_with("delete table") && !line.starts_with("flush table"),
                "{line}"
            );
            assert!(!line.contains("fw_"), "{line}");
        }
        let f = BanScript::new("tollguard").unwrap().setup(true);
        assert!(f.contains("add rule inet tollguard bans_forward ip saddr @banned_v4 drop"));
        assert!(!f.contains("delete chain"));
    }

    #[test]
    fn table_names_are_identifiers_only() {
        for bad in ["", "1x", "a b", "a;flush ruleset", "x\n", &"a".repeat(32)] {
            assert!(BanScript::new(bad).is_err(), "{bad:?}");
        }
        assert!(BanScript::new("tollguard_2").is_ok());
    }

    #[test]
    fn timeouts_are_clamped_into_the_kernels_range() {
        assert_eq!(clamp_timeout(0), 1);
        assert_eq!(clamp_timeout(3600), 3600);
        assert_eq!(clamp_timeout(u64::MAX), MAX_TIMEOUT_SECS);
    }
}
