//! The policy rendered as one readable, commented nftables script for the shared
//! `inet tollguard` table.
//!
//! The script only ever creates, flushes and fills objects named `fw_*`: each set and chain is
//! `add`ed (a no-op when it exists), `flush`ed, then filled, so loading it twice gives the same
//! table, and the ban daemon's `banned_v4`/`banned_v6` sets and `bans` chain are never named.
//! [`reconcile`] appends the deletion of `fw_*` objects a previous policy had and this one does
//! not; all of it is loaded as one `nft -f -` transaction.
//!
//! Chain layout (`fw_input`, hook input, priority 0, policy drop):
//! loopback → ICMPv6 essentials → invalid drop → SIP flood limits (before the
//! established/related accept, because a UDP flood becomes "established" once the PBX replies) →
//! established/related → ICMP essentials → DHCP/DHCPv6 client replies → one jump per zone (`fw_zone_trusted`, `_lan`, `_vpn`,
//! `_anyone`), each accepting its services → counted default drop.

use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use tg_config::firewall::{PortRange, Proto, Zone};
use tg_nft::TABLE;

use crate::dns::Resolved;
use crate::policy::{Policy, Service};
use crate::FLOOD_LOG_PREFIX;

/// Our main input chain.
pub const INPUT_CHAIN: &str = "fw_input";
/// The NAT chain for remapped ports.
pub const PREROUTING_CHAIN: &str = "fw_prerouting";
/// Trusted IPv4 sources (addresses, networks, resolved names).
pub const TRUSTED_V4: &str = "fw_trusted_v4";
/// Trusted IPv6 sources.
pub const TRUSTED_V6: &str = "fw_trusted_v6";

/// A rendered script and the objects it owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// The nftables script.
    pub text: String,
    /// The `fw_*` sets it defines.
    pub sets: Vec<String>,
    /// The `fw_*` chains it defines.
    pub chains: Vec<String>,
}

/// The objects named in one of our scripts (`add set|chain inet tollguard fw_…` lines).
pub fn objects_of(text: &str) -> (Vec<String>, Vec<String>) {
    let (mut sets, mut chains) = (Vec::new(), Vec::new());
    let set_prefix = format!("add set inet {TABLE} ");
    let chain_prefix = format!("add chain inet {TABLE} ");
    for line in text.lines() {
        let name = |rest: &str| rest.split_whitespace().next().unwrap_or("").to_string();
        if let Some(rest) = line.strip_prefix(&set_prefix) {
            sets.push(name(rest));
        } else if let Some(rest) = line.strip_prefix(&chain_prefix) {
            chains.push(name(rest));
        }
    }
    sets.retain(|n| n.starts_with("fw_"));
    chains.retain(|n| n.starts_with("fw_"));
    (sets, chains)
}

/// The trusted networks (static plus resolved), merged and split by family.
pub fn trusted_networks(policy: &Policy, resolved: &Resolved) -> (Vec<Ipv4Net>, Vec<Ipv6Net>) {
    let mut nets: Vec<IpNet> = policy.trusted_nets.clone();
    for addrs in resolved.values() {
        nets.extend(
            addrs
                .iter()
                .map(|a| IpNet::from(tg_model::canonical_ip(*a))),
        );
    }
    split(nets)
}

fn split(nets: Vec<IpNet>) -> (Vec<Ipv4Net>, Vec<Ipv6Net>) {
    // Interval sets refuse overlapping elements, so merge first.
    let nets = IpNet::aggregate(&nets);
    let v4 = nets
        .iter()
        .filter_map(|n| if let IpNet::V4(n) = n { Some(*n) } else { None })
        .collect();
    let v6 = nets
        .iter()
        .filter_map(|n| if let IpNet::V6(n) = n { Some(*n) } else { None })
        .collect();
    (v4, v6)
}

fn elements<T: std::fmt::Display>(nets: &[T]) -> String {
    // Host networks are written as plain addresses, the way nft lists them.
    nets.iter()
        .map(|n| {
            let s = n.to_string();
            match s.strip_suffix("/32").or_else(|| s.strip_suffix("/128")) {
                Some(host) => host.to_string(),
                None => s,
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `flush set` + `add element` for both trusted sets: the refresher's one transaction.
pub fn trusted_update(policy: &Policy, resolved: &Resolved) -> String {
    let (v4, v6) = trusted_networks(policy, resolved);
    let mut s = String::new();
    fill_set(&mut s, TRUSTED_V4, &v4);
    fill_set(&mut s, TRUSTED_V6, &v6);
    s
}

fn fill_set<T: std::fmt::Display>(s: &mut String, name: &str, nets: &[T]) {
    let _ = writeln!(s, "flush set inet {TABLE} {name}");
    if !nets.is_empty() {
        let _ = writeln!(
            s,
            "add element inet {TABLE} {name} {{ {} }}",
            elements(nets)
        );
    }
}

/// Only characters that are harmless inside an nft `comment "…"`.
fn comment_text(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || " ._:-/,()+>".contains(*c))
        .take(120)
        .collect()
}

fn ports_expr(ports: &[PortRange]) -> String {
    if ports.len() == 1 {
        ports[0].to_string()
    } else {
        format!("{{ {} }}", elements(ports))
    }
}

fn ifaces_expr(ifaces: &[String]) -> String {
    let quoted: Vec<String> = ifaces.iter().map(|i| format!("\"{i}\"")).collect();
    if quoted.len() == 1 {
        quoted[0].clone()
    } else {
        format!("{{ {} }}", quoted.join(", "))
    }
}

const DAY_NAMES: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn window_expr(service: &Service) -> String {
    let Some(w) = &service.window else {
        return String::new();
    };
    let mut s = String::new();
    if let Some((a, b)) = w.hours {
        let end = if b >= 24 * 60 {
            "23:59:59".to_string()
        } else {
            format!("{:02}:{:02}", b / 60, b % 60)
        };
        let _ = write!(s, " meta hour \"{:02}:{:02}\"-\"{end}\"", a / 60, a % 60);
    }
    if !w.days.is_empty() {
        let names: Vec<String> = w
            .days
            .iter()
            .map(|d| format!("\"{}\"", DAY_NAMES[(*d as usize) % 7]))
            .collect();
        let _ = write!(s, " meta day {{ {} }}", names.join(", "));
    }
    s
}

fn zone_chain(zone: Zone) -> String {
    format!("fw_zone_{}", zone.name())
}

/// Renders the whole policy with `resolved` names.
pub fn render(policy: &Policy, resolved: &Resolved) -> Script {
    let mut out = String::new();
    let mut sets: Vec<String> = Vec::new();
    let mut chains: Vec<String> = Vec::new();
    let w = &mut out;
    let t = TABLE;
    let _ = writeln!(w, "#!/usr/sbin/nft -f");
    let _ = writeln!(
        w,
        "# tollguard firewall policy, rendered by `tollguard firewall render`."
    );
    let _ = writeln!(
        w,
        "# Only objects named fw_* in table inet {t} belong to this policy. The ban daemon's"
    );
    let _ = writeln!(
        w,
        "# sets {} / {} and chain `{}` share the table and are never touched here.",
        tg_nft::BANNED_V4,
        tg_nft::BANNED_V6,
        tg_nft::BAN_CHAIN
    );
    let _ = writeln!(
        w,
        "# Each object is added (no-op if present), flushed and refilled: one atomic transaction."
    );
    let _ = writeln!(w);
    let _ = writeln!(w, "add table inet {t}");

    // ---- sets
    let (v4, v6) = trusted_networks(policy, resolved);
    let _ = writeln!(
        w,
        "\n# Trusted sources: [trusted] addresses{}.",
        if policy.trusted_names.is_empty() {
            ""
        } else {
            " and these names (kept current by the refresher)"
        }
    );
    for n in &policy.trusted_names {
        let addrs = resolved
            .get(&n.name)
            .map(|a| elements(a))
            .unwrap_or_default();
        let _ = writeln!(
            w,
            "#   {} -> {}   ({})",
            n.name,
            addrs,
            comment_text(&n.origin)
        );
    }
    for (name, ty, body) in [
        (TRUSTED_V4, "ipv4_addr", elements(&v4)),
        (TRUSTED_V6, "ipv6_addr", elements(&v6)),
    ] {
        let _ = writeln!(
            w,
            "add set inet {t} {name} {{ type {ty}; flags interval; }}"
        );
        let _ = writeln!(w, "flush set inet {t} {name}");
        if !body.is_empty() {
            let _ = writeln!(w, "add element inet {t} {name} {{ {body} }}");
        }
        sets.push(name.to_string());
    }
    let (lan4, lan6) = split(policy.lan_nets.clone());
    if !lan4.is_empty() || !lan6.is_empty() {
        let _ = writeln!(w, "\n# LAN source networks (lan_networks).");
        for (name, ty, body) in [
            ("fw_lan_v4", "ipv4_addr", elements(&lan4)),
            ("fw_lan_v6", "ipv6_addr", elements(&lan6)),
        ] {
            let _ = writeln!(
                w,
                "add set inet {t} {name} {{ type {ty}; flags interval; }}"
            );
            let _ = writeln!(w, "flush set inet {t} {name}");
            if !body.is_empty() {
                let _ = writeln!(w, "add element inet {t} {name} {{ {body} }}");
            }
            sets.push(name.to_string());
        }
    }
    if policy.flood.is_some() {
        let _ = writeln!(
            w,
            "\n# Per-source SIP flood meters (one element per sender, forgotten after 60s idle)."
        );
        for (name, ty) in [("fw_flood_v4", "ipv4_addr"), ("fw_flood_v6", "ipv6_addr")] {
            let _ = writeln!(w, "add set inet {t} {name} {{ type {ty}; size 65535; flags dynamic,timeout; timeout 60s; }}");
            let _ = writeln!(w, "flush set inet {t} {name}");
            sets.push(name.to_string());
        }
    }

    // ---- chains
    let zones: Vec<Zone> = policy
        .used_zones()
        .into_iter()
        .filter(|z| *z != Zone::Nobody)
        .collect();
    let remapped: Vec<&Service> = policy
        .services
        .iter()
        .filter(|s| s.external_port.is_some() && !s.zones.is_empty())
        .collect();
    let _ = writeln!(w, "\n# Chains.");
    let _ = writeln!(
        w,
        "add chain inet {t} {INPUT_CHAIN} {{ type filter hook input priority 0; policy drop; }}"
    );
    chains.push(INPUT_CHAIN.into());
    if policy.flood.is_some() {
        chains.push("fw_flood".into());
        chains.push("fw_flood_drop".into());
    }
    for z in &zones {
        chains.push(zone_chain(*z));
    }
    for c in chains.iter().skip(1) {
        let _ = writeln!(w, "add chain inet {t} {c}");
    }
    if !remapped.is_empty() {
        let _ = writeln!(w, "add chain inet {t} {PREROUTING_CHAIN} {{ type nat hook prerouting priority dstnat; policy accept; }}");
        chains.push(PREROUTING_CHAIN.into());
    }
    for c in &chains {
        let _ = writeln!(w, "flush chain inet {t} {c}");
    }

    let rule = |w: &mut String, chain: &str, body: &str, comment: &str| {
        let _ = writeln!(
            w,
            "add rule inet {t} {chain} {body} comment \"{}\"",
            comment_text(comment)
        );
    };

    let _ = writeln!(w, "\n# {INPUT_CHAIN}: default drop; the essentials first.");
    rule(w, INPUT_CHAIN, "iif \"lo\" counter accept", "loopback");
    rule(
        w,
        INPUT_CHAIN,
        "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert, nd-redirect, mld-listener-query, mld-listener-report, mld2-listener-report } counter accept",
        "IPv6 neighbour discovery and multicast listeners",
    );
    rule(
        w,
        INPUT_CHAIN,
        "ct state invalid counter drop",
        "invalid packets",
    );
    if let Some(f) = &policy.flood {
        if !f.udp_ports.is_empty() {
            rule(
                w,
                INPUT_CHAIN,
                &format!("udp dport {} jump fw_flood", ports_expr(&f.udp_ports)),
                "SIP flood limits (UDP)",
            );
        }
        if !f.tcp_ports.is_empty() {
            rule(
                w,
                INPUT_CHAIN,
                &format!(
                    "tcp dport {} ct state new jump fw_flood",
                    ports_expr(&f.tcp_ports)
                ),
                "SIP flood limits (new TCP)",
            );
        }
    }
    rule(
        w,
        INPUT_CHAIN,
        "ct state established,related counter accept",
        "replies and related traffic",
    );
    rule(
        w,
        INPUT_CHAIN,
        "icmp type { echo-request, destination-unreachable, time-exceeded, parameter-problem } limit rate 100/second burst 200 packets counter accept",
        "ICMP essentials",
    );
    rule(
        w,
        INPUT_CHAIN,
        "icmpv6 type { echo-request, destination-unreachable, packet-too-big, time-exceeded, parameter-problem } limit rate 100/second burst 200 packets counter accept",
        "ICMPv6 essentials",
    );
    // Broadcast DHCP offers match no conntrack entry; without these a PBX on DHCP loses its
    // address at the next lease.
    rule(
        w,
        INPUT_CHAIN,
        "udp sport 67 udp dport 68 counter accept",
        "DHCP client replies",
    );
    rule(
        w,
        INPUT_CHAIN,
        "ip6 saddr fe80::/10 udp sport 547 udp dport 546 counter accept",
        "DHCPv6 client replies",
    );
    for z in &zones {
        let c = zone_chain(*z);
        match z {
            Zone::Trusted => {
                rule(
                    w,
                    INPUT_CHAIN,
                    &format!("ip saddr @{TRUSTED_V4} jump {c}"),
                    "zone trusted (IPv4)",
                );
                rule(
                    w,
                    INPUT_CHAIN,
                    &format!("ip6 saddr @{TRUSTED_V6} jump {c}"),
                    "zone trusted (IPv6)",
                );
            }
            Zone::Lan => {
                if !policy.lan_ifaces.is_empty() {
                    rule(
                        w,
                        INPUT_CHAIN,
                        &format!("iifname {} jump {c}", ifaces_expr(&policy.lan_ifaces)),
                        "zone lan (interfaces)",
                    );
                }
                if sets.iter().any(|s| s == "fw_lan_v4") {
                    rule(
                        w,
                        INPUT_CHAIN,
                        &format!("ip saddr @fw_lan_v4 jump {c}"),
                        "zone lan (IPv4 networks)",
                    );
                    rule(
                        w,
                        INPUT_CHAIN,
                        &format!("ip6 saddr @fw_lan_v6 jump {c}"),
                        "zone lan (IPv6 networks)",
                    );
                }
            }
            Zone::Vpn => {
                if !policy.vpn_ifaces.is_empty() {
                    rule(
                        w,
                        INPUT_CHAIN,
                        &format!("iifname {} jump {c}", ifaces_expr(&policy.vpn_ifaces)),
                        "zone vpn (interfaces)",
                    );
                }
            }
            Zone::Anyone => rule(w, INPUT_CHAIN, &format!("jump {c}"), "zone anyone"),
            Zone::Nobody => {}
        }
    }
    rule(w, INPUT_CHAIN, "counter", "dropped by the default policy");

    if let Some(f) = &policy.flood {
        let _ = writeln!(
            w,
            "\n# fw_flood: at most {}/s (burst {}) per untrusted source to the SIP ports; trusted, lan and vpn are exempt.",
            f.rate, f.burst
        );
        rule(
            w,
            "fw_flood",
            &format!("ip saddr @{TRUSTED_V4} return"),
            "trusted is exempt",
        );
        rule(
            w,
            "fw_flood",
            &format!("ip6 saddr @{TRUSTED_V6} return"),
            "trusted is exempt",
        );
        let internal: Vec<String> = policy
            .lan_ifaces
            .iter()
            .chain(&policy.vpn_ifaces)
            .cloned()
            .collect();
        if !internal.is_empty() {
            rule(
                w,
                "fw_flood",
                &format!("iifname {} return", ifaces_expr(&internal)),
                "lan and vpn are exempt",
            );
        }
        if sets.iter().any(|s| s == "fw_lan_v4") {
            rule(w, "fw_flood", "ip saddr @fw_lan_v4 return", "lan is exempt");
            rule(
                w,
                "fw_flood",
                "ip6 saddr @fw_lan_v6 return",
                "lan is exempt",
            );
        }
        let (r, b) = (f.rate, f.burst);
        rule(w, "fw_flood", &format!("update @fw_flood_v4 {{ ip saddr limit rate over {r}/second burst {b} packets }} jump fw_flood_drop"), "over the limit (IPv4)");
        rule(w, "fw_flood", &format!("update @fw_flood_v6 {{ ip6 saddr limit rate over {r}/second burst {b} packets }} jump fw_flood_drop"), "over the limit (IPv6)");
        if f.log {
            rule(
                w,
                "fw_flood_drop",
                &format!("limit rate 5/second burst 10 packets log prefix \"{FLOOD_LOG_PREFIX}\" level warn"),
                "log some drops for the ban jails (kind flood)",
            );
        }
        rule(w, "fw_flood_drop", "counter drop", "SIP flood dropped");
    }

    for z in &zones {
        let c = zone_chain(*z);
        let _ = writeln!(w, "\n# {c}: services open to zone {}.", z.name());
        for s in policy.services.iter().filter(|s| s.zones.contains(z)) {
            let win = window_expr(s);
            let when = if win.is_empty() {
                String::new()
            } else {
                " (time window)".to_string()
            };
            for l in &s.listen {
                let ports = ports_expr(&l.ports);
                match (s.external_port, l.proto) {
                    (Some(ext), Proto::Tcp) => rule(
                        w,
                        &c,
                        &format!(
                            "tcp dport {ports} ct original proto-dst {ext}{win} counter accept"
                        ),
                        &format!("{} via port {ext} from {}{when}", s.name, z.name()),
                    ),
                    _ => rule(
                        w,
                        &c,
                        &format!("{} dport {ports}{win} counter accept", l.proto.name()),
                        &format!("{} {} from {}{when}", s.name, l.proto.name(), z.name()),
                    ),
                }
            }
        }
    }

    if !remapped.is_empty() {
        let _ = writeln!(w, "\n# {PREROUTING_CHAIN}: published ports redirected to the real ones (which stay closed).");
        for s in &remapped {
            if let (Some(ext), Some(port)) = (s.external_port, s.internal_tcp_port()) {
                rule(
                    w,
                    PREROUTING_CHAIN,
                    &format!("fib daddr type local tcp dport {ext} counter redirect to :{port}"),
                    &format!("{} published on {ext}", s.name),
                );
            }
        }
    }
    Script {
        text: out,
        sets,
        chains,
    }
}

/// The live `fw_*` objects of our table, from `nft -j list table inet tollguard`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Live {
    /// Set names.
    pub sets: Vec<String>,
    /// Chain names.
    pub chains: Vec<String>,
}

impl Live {
    /// Parses `nft -j list table` output; only `fw_*` objects are kept.
    pub fn from_json(json: &str) -> Live {
        let mut live = Live::default();
        let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
            return live;
        };
        for item in v
            .get("nftables")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten()
        {
            for (kind, list) in [("set", &mut live.sets), ("chain", &mut live.chains)] {
                if let Some(name) = item
                    .get(kind)
                    .and_then(|o| o.get("name"))
                    .and_then(|n| n.as_str())
                {
                    if name.starts_with("fw_") {
                        list.push(name.to_string());
                    }
                }
            }
        }
        live
    }
}

/// `script` followed by the removal of live `fw_*` objects it does not define: their chains
/// are flushed first (dropping their references), then deleted, then the sets.
pub fn reconcile(script_text: &str, live: &Live) -> String {
    let (sets, chains) = objects_of(script_text);
    let stale_chains: Vec<&String> = live.chains.iter().filter(|c| !chains.contains(c)).collect();
    let stale_sets: Vec<&String> = live.sets.iter().filter(|s| !sets.contains(s)).collect();
    let mut s = script_text.to_string();
    if stale_chains.is_empty() && stale_sets.is_empty() {
        return s;
    }
    let _ = writeln!(
        s,
        "\n# Objects of the previous policy that this one no longer has."
    );
    for c in &stale_chains {
        let _ = writeln!(s, "flush chain inet {TABLE} {c}");
    }
    for c in &stale_chains {
        let _ = writeln!(s, "delete chain inet {TABLE} {c}");
    }
    for set in &stale_sets {
        let _ = writeln!(s, "delete set inet {TABLE} {set}");
    }
    s
}

/// True when `ip` is in one of `nets`.
pub fn in_nets(ip: IpAddr, v4: &[Ipv4Net], v6: &[Ipv6Net]) -> bool {
    match tg_model::canonical_ip(ip) {
        IpAddr::V4(a) => v4.iter().any(|n| n.contains(&a)),
        IpAddr::V6(a) => v6.iter().any(|n| n.contains(&a)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use tg_config::Config;

    fn policy(text: &str) -> Policy {
        let c = Config::parse(text, Path::new("t.toml")).unwrap();
        Policy::build(&c, text, Path::new("t.toml")).unwrap()
    }

    const TEXT: &str = "[trusted]\naddresses = [\"192.0.2.0/24\", \"192.0.2.7\", \"2001:db8::1\", \"office.example\"]\n\
        [firewall]\nlan_interfaces = [\"eth1\"]\nlan_networks = [\"10.1.0.0/16\"]\nvpn_interfaces = [\"wg0\"]\n\
        [firewall.services.sip]\nzones = [\"anyone\"]\n\
        [firewall.services.ssh]\nzones = [\"trusted\", \"lan\"]\nhours = \"07:00-20:00\"\ndays = [\"mon\", \"fri\"]\nexternal_port = 2222\n\
        [firewall.services.ami]\nzones = [\"lan\", \"vpn\"]\n\
        [firewall.services.iax]\nzones = [\"nobody\"]\n";

    #[test]
    fn renders_every_part_and_never_names_the_ban_objects() {
        let p = policy(TEXT);
        let mut resolved = Resolved::new();
        resolved.insert(
            "office.example".into(),
            vec!["198.51.100.7".parse().unwrap()],
        );
        let s = render(&p, &resolved);
        let text = &s.text;
        for want in [
            "add element inet tollguard fw_trusted_v4 { 192.0.2.0/24, 198.51.100.7 }",
            "add element inet tollguard fw_trusted_v6 { 2001:db8::1 }",
            "policy drop;",
            "udp dport 5060 jump fw_flood",
            "tcp dport 5060 ct state new jump fw_flood",
            "iifname \"eth1\" jump fw_zone_lan",
            "ip saddr @fw_lan_v4 jump fw_zone_lan",
            "tcp dport 22 ct original proto-dst 2222 meta hour \"07:00\"-\"20:00\" meta day { \"Monday\", \"Friday\" } counter accept",
            "fib daddr type local tcp dport 2222 counter redirect to :22",
            "add rule inet tollguard fw_zone_vpn tcp dport 5038 counter accept",
            "log prefix \"tollguard-flood: \"",
            "udp sport 67 udp dport 68 counter accept",
            "#   office.example -> 198.51.100.7",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("4569"), "iax is open to nobody");
        assert!(
            !text.contains("fw_zone_anyone tcp dport 22"),
            "ssh is not open to anyone"
        );
        let commands: String = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        for forbidden in [
            "banned_v",
            "delete table",
            "flush table",
            "flush ruleset",
            " bans ",
        ] {
            assert!(!commands.contains(forbidden), "{forbidden:?} in\n{text}");
        }
        assert_eq!(objects_of(text), (s.sets.clone(), s.chains.clone()));
        assert!(s.chains.contains(&"fw_prerouting".to_string()));
    }

    #[test]
    fn reconcile_removes_only_stale_fw_objects() {
        let p = policy(TEXT);
        let s = render(&p, &Resolved::new());
        let json = r#"{"nftables":[{"metainfo":{}},{"table":{"name":"tollguard"}},
            {"set":{"name":"banned_v4"}},{"set":{"name":"fw_old"}},{"set":{"name":"fw_trusted_v4"}},
            {"chain":{"name":"bans"}},{"chain":{"name":"fw_zone_old"}},{"chain":{"name":"fw_input"}}]}"#;
        let live = Live::from_json(json);
        assert_eq!(live.sets, vec!["fw_old", "fw_trusted_v4"]);
        let out = reconcile(&s.text, &live);
        assert!(out.ends_with(
            "flush chain inet tollguard fw_zone_old\ndelete chain inet tollguard fw_zone_old\ndelete set inet tollguard fw_old\n"
        ));
        assert!(
            !out.contains("delete set inet tollguard banned")
                && !out.contains("delete chain inet tollguard bans")
        );
    }

    #[test]
    fn comments_cannot_break_out() {
        assert_eq!(comment_text("a\"; flush ruleset\n#"), "a flush ruleset");
    }
}
