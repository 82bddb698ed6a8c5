//! The ban sets and their drop chains (owned by the ban enforcer, tg-enforce): the nftables
//! text that creates them idempotently and the text of ban and unban batches.
//!
//! Objects owned here, inside the shared `inet` table (see the crate docs):
//! - sets [`BANNED_V4`] / [`BANNED_V6`] (`type ipv4_addr` / `ipv6_addr`, `flags timeout`): one
//!   element per banned address, each with its own timeout, so bans expire in the kernel and
//!   outlive the daemon;
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
//! Refreshing a ban: on older kernels (such as Debian 12's 6.1), `add element` leaves an
//! existing element's timeout alone, so [`BanScript::refresh`] writes `add` (no error if
//! present), `delete`, `add … timeout` for the same addresses; the three statements are one
//! transaction, so the address is never unbanned in between. Plain [`BanScript::add`] costs a
//! third of that and is right for addresses known not to be in the set, and for restores (where
//! an existing element keeps its timeout on older kernels, and recent ones — the 6.18 test
//! machine — set the new one: a ban either way).

use std::collections::HashSet;
use std::fmt::Write;
use std::net::IpAddr;

use crate::{BANNED_V4, BANNED_V6, BAN_CHAIN, BAN_CHAIN_PRIORITY};

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

/// One address and how long it stays banned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Element {
    /// The address (an IPv4-mapped IPv6 address goes into the IPv4 set).
    pub ip: IpAddr,
    /// Seconds; clamped with [`clamp_timeout`] when rendered.
    pub secs: u64,
}

/// Renders the ban objects' scripts for one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BanScript {
    table: String,
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
            })
        } else {
            Err(InvalidTableName(table.to_string()))
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table, both sets and the drop chain(s) if missing, keeping every existing set
    /// element. With `forward` false, an existing forward chain of ours is removed.
    pub fn setup(&self, forward: bool) -> String {
        let t = &self.table;
        let mut s = String::new();
        let _ = writeln!(s, "add table inet {t}");
        let _ = writeln!(
            s,
            "add set inet {t} {BANNED_V4} {{ type ipv4_addr; flags timeout; }}"
        );
        let _ = writeln!(
            s,
            "add set inet {t} {BANNED_V6} {{ type ipv6_addr; flags timeout; }}"
        );
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
            } else {
                let _ = writeln!(s, "delete chain inet {t} {chain}");
            }
        }
        s
    }

    /// Adds the elements with their timeouts. An element already present keeps its own timeout
    /// on older kernels (recent ones update it). Empty input renders an empty script.
    pub fn add(&self, elements: &[Element]) -> String {
        let mut s = String::new();
        self.write_add(&mut s, elements);
        s
    }

    /// Bans every element for exactly its timeout, whether or not it is already in the set
    /// (`add`, `delete`, `add … timeout`: one transaction).
    pub fn refresh(&self, elements: &[Element]) -> String {
        let mut s = String::new();
        self.write_refresh(&mut s, elements);
        s
    }

    /// One transaction: `refresh` for the first group, plain `add` for the second.
    pub fn ban(&self, refresh: &[Element], add: &[Element]) -> String {
        let mut s = String::new();
        self.write_refresh(&mut s, refresh);
        self.write_add(&mut s, add);
        s
    }

    /// Removes the addresses, tolerating those not in the set (`add` then `delete`).
    pub fn unban(&self, ips: &[IpAddr]) -> String {
        let mut s = String::new();
        let (v4, v6) = split(ips.iter().map(|&ip| (ip, None)));
        for (set, group) in [(BANNED_V4, &v4), (BANNED_V6, &v6)] {
            self.statement(&mut s, "add", set, group);
            self.statement(&mut s, "delete", set, group);
        }
        s
    }

    fn write_add(&self, s: &mut String, elements: &[Element]) {
        let (v4, v6) = split(elements.iter().map(|e| (e.ip, Some(e.secs))));
        self.statement(s, "add", BANNED_V4, &v4);
        self.statement(s, "add", BANNED_V6, &v6);
    }

    fn write_refresh(&self, s: &mut String, elements: &[Element]) {
        let (v4, v6) = split(elements.iter().map(|e| (e.ip, Some(e.secs))));
        for (set, group) in [(BANNED_V4, &v4), (BANNED_V6, &v6)] {
            let bare: Vec<(IpAddr, Option<u64>)> =
                group.iter().map(|&(ip, _)| (ip, None)).collect();
            self.statement(s, "add", set, &bare);
            self.statement(s, "delete", set, &bare);
            self.statement(s, "add", set, group);
        }
    }

    fn statement(&self, s: &mut String, verb: &str, set: &str, group: &[(IpAddr, Option<u64>)]) {
        if group.is_empty() {
            return;
        }
        let _ = write!(s, "{verb} element inet {} {set} {{ ", self.table);
        for (i, (ip, secs)) in group.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            let _ = write!(s, "{ip}");
            if let Some(secs) = secs {
                let _ = write!(s, " timeout {}s", clamp_timeout(*secs));
            }
        }
        s.push_str(" }\n");
    }
}

type Group = Vec<(IpAddr, Option<u64>)>;

/// Splits by family (IPv4-mapped IPv6 counts as IPv4), keeping the last entry for an address
/// that appears twice (nft refuses a duplicate inside one statement).
fn split(items: impl Iterator<Item = (IpAddr, Option<u64>)>) -> (Group, Group) {
    let items: Vec<(IpAddr, Option<u64>)> = items.map(|(ip, secs)| (canonical(ip), secs)).collect();
    let mut seen = HashSet::with_capacity(items.len());
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for &(ip, secs) in items.iter().rev() {
        if seen.insert(ip) {
            if ip.is_ipv4() {
                v4.push((ip, secs));
            } else {
                v6.push((ip, secs));
            }
        }
    }
    v4.reverse();
    v6.reverse();
    (v4, v6)
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(ip: &str, secs: u64) -> Element {
        Element {
            ip: ip.parse().unwrap(),
            secs,
        }
    }

    #[test]
    fn setup_creates_sets_and_chain_without_touching_the_table() {
        let s = BanScript::new("tollguard").unwrap().setup(false);
        assert!(s.contains("add set inet tollguard banned_v4 { type ipv4_addr; flags timeout; }"));
        assert!(s.contains("add set inet tollguard banned_v6 { type ipv6_addr; flags timeout; }"));
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
    fn refresh_adds_deletes_and_re_adds_per_family() {
        let s = BanScript::new("tollguard").unwrap().refresh(&[
            el("198.51.100.7", 60),
            el("2001:db8::7", 0),
            el("::ffff:192.0.2.1", u64::MAX),
        ]);
        let want = "add element inet tollguard banned_v4 { 198.51.100.7, 192.0.2.1 }\n\
                    delete element inet tollguard banned_v4 { 198.51.100.7, 192.0.2.1 }\n\
                    add element inet tollguard banned_v4 { 198.51.100.7 timeout 60s, 192.0.2.1 timeout 315360000s }\n\
                    add element inet tollguard banned_v6 { 2001:db8::7 }\n\
                    delete element inet tollguard banned_v6 { 2001:db8::7 }\n\
                    add element inet tollguard banned_v6 { 2001:db8::7 timeout 1s }\n";
        assert_eq!(s, want);
    }

    #[test]
    fn duplicates_keep_the_last_order_and_empty_batches_render_nothing() {
        let b = BanScript::new("t1").unwrap();
        assert_eq!(
            b.add(&[el("192.0.2.1", 5), el("192.0.2.2", 6), el("192.0.2.1", 7)]),
            "add element inet t1 banned_v4 { 192.0.2.2 timeout 6s, 192.0.2.1 timeout 7s }\n"
        );
        assert_eq!(b.ban(&[], &[]), "");
        assert_eq!(b.unban(&[]), "");
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            b.unban(&[ip]),
            "add element inet t1 banned_v6 { 2001:db8::1 }\ndelete element inet t1 banned_v6 { 2001:db8::1 }\n"
        );
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
