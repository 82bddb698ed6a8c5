//! The iptables + ipset enforcer, for hosts without nftables: bans are members of the ipsets
//! [`SET_V4`]/[`SET_V6`] (`hash:ip`, per-member timeouts), dropped by one rule at the top of
//! `INPUT` in iptables and ip6tables — kept first: `init` moves it back to the top if another
//! tool inserted rules above it (an `ACCEPT` there would let a banned sender through).
//!
//! A batch is one `ipset restore -exist` process: `add` with `-exist` also refreshes the timeout
//! of a member already present, and `del` with `-exist` tolerates an absent one. Unlike an nft
//! transaction, `ipset restore` applies line by line, so a batch that fails half-way has
//! applied its first half; the input is built from validated addresses only, so in practice it
//! fails whole (missing set) or not at all. The kernel caps ipset timeouts at
//! [`MAX_TIMEOUT_SECS`] (about 24.8 days); longer bans are clamped to it.

use std::fmt::Write;
use std::net::IpAddr;

use crate::conntrack::Conntrack;
use crate::program::Program;
use crate::{unique_ips, unique_orders, BanOrder, EnforceError, Enforcer};

/// The IPv4 ban set.
pub const SET_V4: &str = "tollguard_v4";
/// The IPv6 ban set.
pub const SET_V6: &str = "tollguard_v6";
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

    fn list_set(&self, set: &str) -> Result<Vec<(IpAddr, u64)>, EnforceError> {
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

fn set_of(ip: &IpAddr) -> &'static str {
    if ip.is_ipv4() {
        SET_V4
    } else {
        SET_V6
    }
}

fn add_batch(orders: &[BanOrder]) -> String {
    let mut batch = String::with_capacity(orders.len() * 40);
    for o in orders {
        let secs = o.secs.clamp(1, MAX_TIMEOUT_SECS);
        let _ = writeln!(batch, "add {} {} timeout {secs}", set_of(&o.ip), o.ip);
    }
    batch
}

/// Reads `ipset save SET`: `create …` then `add SET ADDR [timeout N]` lines.
fn parse_save(text: &str, set: &str) -> Result<Vec<(IpAddr, u64)>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["add", s, ip, rest @ ..] if *s == set => {
                let ip: IpAddr = ip
                    .parse()
                    .map_err(|_| format!("member {ip:?} is not an address"))?;
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
        for (set, family) in [(SET_V4, "inet"), (SET_V6, "inet6")] {
            let args = [
                "create",
                set,
                "hash:ip",
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
        for (tool, set) in [(&self.iptables, SET_V4), (&self.ip6tables, SET_V6)] {
            let rules = input_rules(tool)?;
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
        if ![SET_V4, SET_V6]
            .iter()
            .all(|s| sets.lines().any(|l| l.trim() == *s))
        {
            return Ok(false);
        }
        for (tool, set) in [(&self.iptables, SET_V4), (&self.ip6tables, SET_V6)] {
            if input_rules(tool)?.first().map(String::as_str) != Some(drop_rule(set).as_str()) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn ban(&mut self, orders: &[BanOrder]) -> Result<(), EnforceError> {
        let orders = unique_orders(orders);
        self.restore_batch(&add_batch(&orders))?;
        let ips: Vec<IpAddr> = orders.iter().map(|o| o.ip).collect();
        self.conntrack.forget(&ips);
        Ok(())
    }

    fn restore(&mut self, orders: &[BanOrder]) -> Result<(), EnforceError> {
        // `add -exist` refreshes present members to the store's remaining time: the same ban.
        self.restore_batch(&add_batch(&unique_orders(orders)))
    }

    fn unban(&mut self, ips: &[IpAddr]) -> Result<(), EnforceError> {
        let mut batch = String::new();
        for ip in unique_ips(ips) {
            let _ = writeln!(batch, "del {} {ip}", set_of(&ip));
        }
        self.restore_batch(&batch)
    }

    fn list(&mut self) -> Result<Vec<(IpAddr, u64)>, EnforceError> {
        let mut all = self.list_set(SET_V4)?;
        all.extend(self.list_set(SET_V6)?);
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
            ip: ip.parse().unwrap(),
            secs,
        };
        let got = add_batch(&[
            o("198.51.100.7", 0),
            o("2001:db8::7", 60),
            o("192.0.2.1", u64::MAX),
        ]);
        assert_eq!(
            got,
            "add tollguard_v4 198.51.100.7 timeout 1\nadd tollguard_v6 2001:db8::7 timeout 60\n\
             add tollguard_v4 192.0.2.1 timeout 2147483\n"
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
                ("198.51.100.7".parse().unwrap(), 599),
                ("192.0.2.1".parse().unwrap(), u64::MAX)
            ]
        );
        assert!(parse_save("add tollguard_v4 nope timeout 5\n", SET_V4).is_err());
        assert!(parse_save("add tollguard_v4 192.0.2.1 timeout x\n", SET_V4).is_err());
    }
}
