//! The iptables + ipset enforcer, for hosts without nftables: bans are members of the ipsets
//! [`SET_V4`]/[`SET_V6`] (`hash:ip`, per-member timeouts; prefixes in [`NETS_V4`]/[`NETS_V6`],
//! `hash:net`), dropped by rules at the top of `INPUT` in iptables and ip6tables — kept first:
//! `init` moves them back to the top if another tool inserted rules above them (an `ACCEPT`
//! there would let a banned sender through).
//!
//! A batch is one `ipset restore -exist` process: `add` with `-exist` also refreshes the timeout
//! of a member already present, and `del` with `-exist` tolerates an absent one. Unlike an nft
//! transaction, `ipset restore` applies line by line, so a batch that fails half-way has
//! applied its first half; the input is built from validated addresses only, so in practice it
//! fails whole (missing set) or not at all. The kernel caps ipset timeouts at
//! [`MAX_TIMEOUT_SECS`] (about 24.8 days); longer bans are clamped to it.

use std::fmt::Write;

use ipnet::IpNet;

use crate::conntrack::Conntrack;
use crate::program::Program;
use crate::{unique_nets, unique_orders, BanOrder, EnforceError, Enforcer};

/// The IPv4 ban set.
pub const SET_V4: &str = "tollguard_v4";
/// The IPv6 ban set.
pub const SET_V6: &str = "tollguard_v6";
/// The IPv4 prefix ban set.
pub const NETS_V4: &str = "tollguard_nets_v4";
/// The IPv6 prefix ban set.
pub const NETS_V6: &str = "tollguard_nets_v6";
/// Every set with its type and family, and which tool's rules drop its members.
const SETS: [(&str, &str, &str, bool); 4] = [
    (SET_V4, "hash:ip", "inet", true),
    (NETS_V4, "hash:net", "inet", true),
    (SET_V6, "hash:ip", "inet6", false),
    (NETS_V6, "hash:net", "inet6", false),
];
/// The longest timeout the kernel's ipset accepts, in seconds.
pub const MAX_TIMEOUT_SECS: u64 = 2_147_483;
/// Room for a large flood (the ipset default is 65,536 members).
const MAX_ELEMENTS: &str = "1048576";

/// Bans as ipset members with timeouts, dropped by iptables/ip6tables.
#[derive(Debug)]
pub struct IpsetEnforcer {
    ipset: Program,
    iptables: Program,
    ip6tables: Program,
    conntrack: Conntrack,
}

impl IpsetEnforcer {
    /// Finds `ipset`, `iptables` and `ip6tables` (whichever variant, nft or legacy, is the
    /// system's default).
    pub fn new() -> Result<IpsetEnforcer, EnforceError> {
        Ok(IpsetEnforcer {
            ipset: Program::locate("ipset", "ipset")?,
            iptables: Program::locate("iptables", "iptables")?,
            ip6tables: Program::locate("ip6tables", "iptables")?,
            conntrack: Conntrack::start(),
        })
    }

    /// Loads a batch; if it is refused because the sets or rules are gone, re-creates them
    /// (as [`Enforcer::init`]) and loads it once more.
    fn restore_batch(&mut self, batch: &str) -> Result<(), EnforceError> {
        if batch.is_empty() {
            return Ok(());
        }
        match self.ipset.run(&["restore", "-exist"], Some(batch)) {
            Err(EnforceError::Refused { .. }) if !self.intact()? => {
                tracing::warn!("the ban ipsets or their rules were gone; re-creating them");
                self.init()?;
                self.ipset
                    .run(&["restore", "-exist"], Some(batch))
                    .map(|_| ())
            }
            other => other.map(|_| ()),
        }
    }

    fn list_set(&self, set: &str) -> Result<Vec<(IpNet, u64)>, EnforceError> {
        let text = self.ipset.run(&["save", set], None)?;
        parse_save(&text, set).map_err(|detail| EnforceError::Unreadable {
            what: format!("ipset save {set}"),
            detail,
        })
    }
}

/// Our rule as `iptables -S` prints it.
fn drop_rule(set: &str) -> String {
    format!("-A INPUT -m set --match-set {set} src -j DROP")
}

/// The `-A INPUT …` lines of `iptables -S INPUT`, in order.
fn input_rules(tool: &Program) -> Result<Vec<String>, EnforceError> {
    let listing = tool.run(&["-w", "-S", "INPUT"], None)?;
    Ok(listing
        .lines()
        .filter(|l| l.starts_with("-A INPUT "))
        .map(str::to_string)
        .collect())
}

fn set_of(net: &IpNet) -> &'static str {
    match (net.addr().is_ipv4(), tg_model::is_host(*net)) {
        (true, true) => SET_V4,
        (true, false) => NETS_V4,
        (false, true) => SET_V6,
        (false, false) => NETS_V6,
    }
}

fn add_batch(orders: &[BanOrder]) -> String {
    let mut batch = String::with_capacity(orders.len() * 40);
    for o in orders {
        let secs = o.secs.clamp(1, MAX_TIMEOUT_SECS);
        let _ = writeln!(
            batch,
            "add {} {} timeout {secs}",
            set_of(&o.net),
            tg_model::net_text(o.net)
        );
    }
    batch
}

/// Reads `ipset save SET`: `create …` then `add SET ADDR[/LEN] [timeout N]` lines.
fn parse_save(text: &str, set: &str) -> Result<Vec<(IpNet, u64)>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["add", s, ip, rest @ ..] if *s == set => {
                let ip: IpNet = tg_model::parse_net(ip)
                    .ok_or_else(|| format!("member {ip:?} is not an address"))?;
                let left = match rest {
                    ["timeout", n, ..] => n
                        .parse()
                        .map_err(|_| format!("bad timeout {n:?} for {ip}"))?,
                    _ => u64::MAX,
                };
                out.push((ip, left));
            }
            _ => {}
        }
    }
    Ok(out)
}

impl Enforcer for IpsetEnforcer {
    fn init(&mut self) -> Result<(), EnforceError> {
        for (set, kind, family, _) in SETS {
            let args = [
                "create",
                set,
                kind,
                "family",
                family,
                "timeout",
                "0",
                "maxelem",
                MAX_ELEMENTS,
                "-exist",
            ];
            self.ipset.run(&args, None)?;
        }
        // Each set's rule at the top, in `SETS` order: the last inserted at 1 goes first.
        for (set, _, _, v4) in SETS.iter().rev() {
            let tool = if *v4 { &self.iptables } else { &self.ip6tables };
            let rules = input_rules(tool)?;
            let wanted: Vec<String> = SETS
                .iter()
                .filter(|s| s.3 == *v4)
                .map(|s| drop_rule(s.0))
                .collect();
            if rules.len() >= wanted.len() && rules[..wanted.len()] == wanted[..] {
                continue;
            }
            match rules.iter().position(|r| *r == drop_rule(set)) {
                Some(0) => {}
                found => {
                    let insert = [
                        "-w",
                        "-I",
                        "INPUT",
                        "1",
                        "-m",
                        "set",
                        "--match-set",
                        set,
                        "src",
                        "-j",
                        "DROP",
                    ];
                    tool.run(&insert, None)?;
                    // Something was inserted above ours: ours moved down by one with the insert.
                    if let Some(i) = found {
                        tool.run(&["-w", "-D", "INPUT", &(i + 2).to_string()], None)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn intact(&mut self) -> Result<bool, EnforceError> {
        let sets = self.ipset.run(&["list", "-n"], None)?;
        if !SETS.iter().all(|s| sets.lines().any(|l| l.trim() == s.0)) {
            return Ok(false);
        }
        for (tool, v4) in [(&self.iptables, true), (&self.ip6tables, false)] {
            let wanted: Vec<String> = SETS
                .iter()
                .filter(|s| s.3 == v4)
                .map(|s| drop_rule(s.0))
                .collect();
            let rules = input_rules(tool)?;
            if rules.len() < wanted.len() || rules[..wanted.len()] != wanted[..] {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn ban(&mut self, orders: &[BanOrder]) -> Result<(), EnforceError> {
        let orders = unique_orders(orders);
        self.restore_batch(&add_batch(&orders))?;
        let nets: Vec<IpNet> = orders.iter().map(|o| o.net).collect();
        self.conntrack.forget(&nets);
        Ok(())
    }

    fn restore(&mut self, orders: &[BanOrder]) -> Result<(), EnforceError> {
        // `add -exist` refreshes present members to the store's remaining time: the same ban.
        self.restore_batch(&add_batch(&unique_orders(orders)))
    }

    fn unban(&mut self, nets: &[IpNet]) -> Result<(), EnforceError> {
        let mut batch = String::new();
        for net in unique_nets(nets) {
            let _ = writeln!(batch, "del {} {}", set_of(&net), tg_model::net_text(net));
        }
        self.restore_batch(&batch)
    }

    fn list(&mut self) -> Result<Vec<(IpNet, u64)>, EnforceError> {
        let mut all = Vec::new();
        for (set, ..) in SETS {
            all.extend(self.list_set(set)?);
        }
        Ok(all)
    }

    fn backend(&self) -> &'static str {
        "iptables"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_go_to_the_right_set_with_clamped_timeouts() {
        let o = |ip: &str, secs| BanOrder {
            net: tg_model::parse_net(ip).unwrap(),
            secs,
        };
        let got = add_batch(&[
            o("198.51.100.7", 0),
            o("2001:db8::7", 60),
            o("192.0.2.1", u64::MAX),
            o("2001:db8:1:2::/64", 60),
        ]);
        assert_eq!(
            got,
            "add tollguard_v4 198.51.100.7 timeout 1\nadd tollguard_v6 2001:db8::7 timeout 60\n\
             add tollguard_v4 192.0.2.1 timeout 2147483\nadd tollguard_nets_v6 2001:db8:1:2::/64 timeout 60\n"
        );
    }

    #[test]
    fn save_output_parses_and_garbage_is_an_error() {
        let text = "create tollguard_v4 hash:ip family inet hashsize 1024 maxelem 1048576 timeout 0\n\
                    add tollguard_v4 198.51.100.7 timeout 599\nadd tollguard_v4 192.0.2.1\nadd other 192.0.2.2 timeout 5\n";
        let got = parse_save(text, SET_V4).unwrap();
        assert_eq!(
            got,
            vec![
                (tg_model::parse_net("198.51.100.7").unwrap(), 599),
                (tg_model::parse_net("192.0.2.1").unwrap(), u64::MAX)
            ]
        );
        assert!(parse_save("add tollguard_v4 nope timeout 5\n", SET_V4).is_err());
        assert!(parse_save("add tollguard_v4 192.0.2.1 timeout x\n", SET_V4).is_err());
    }
}
