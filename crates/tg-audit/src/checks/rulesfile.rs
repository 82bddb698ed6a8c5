//! What a host's own firewall rules file (`/etc/nftables.conf`, `iptables-save` output in
//! `/etc/iptables/rules.v4`) admits from any address — read as text, never by running `nft`
//! or `iptables`.
//!
//! Only the simple, common shape is evaluated: an input chain whose default is drop, with
//! `accept` rules by destination port. A rule that also names a source (`saddr`, `-s`) admits
//! only that source and so does not count. Anything the reading cannot follow (a jump to a
//! user chain, an accept without a port, a default of accept) gives `None`: "cannot tell",
//! and the caller treats every port as reachable. An input chain that never drops anything
//! (Debian's stock `/etc/nftables.conf`) admits everything.

use std::collections::BTreeSet;

/// What a rules file admits from any source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Only these ports (input defaults to drop).
    Only(BTreeSet<u16>),
    /// Everything: the input chain neither defaults to drop nor drops anything.
    Everything,
    /// Too involved to read this simply.
    Unknown,
}

/// Reads an nftables script or `iptables-save` output.
pub fn verdict(text: &str) -> Verdict {
    let parsed = if text.contains("hook input") {
        nftables(text)
    } else if text.contains(":INPUT") || text.contains("-A INPUT") {
        iptables(text)
    } else {
        None
    };
    match parsed {
        Some(ports) => Verdict::Only(ports),
        None if never_drops(text) => Verdict::Everything,
        None => Verdict::Unknown,
    }
}

/// No drop default and no drop/reject rule anywhere, and no jump that could hide one.
fn never_drops(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    let has_input = t.contains("hook input") || t.contains(":input");
    has_input
        && !["drop", "reject", "jump", "goto", "-j fpbx"]
            .iter()
            .any(|w| t.contains(w))
}

/// The ports open to any source, or `None` when the file cannot be evaluated this simply.
pub fn open_ports(text: &str) -> Option<BTreeSet<u16>> {
    match verdict(text) {
        Verdict::Only(p) => Some(p),
        _ => None,
    }
}

fn nftables(text: &str) -> Option<BTreeSet<u16>> {
    let mut in_input = false;
    let mut depth = 0i32;
    let mut input_depth = 0i32;
    let mut drop = false;
    let mut open = BTreeSet::new();
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let opens = line.matches('{').count() as i32;
        let closes = line.matches('}').count() as i32;
        if line.starts_with("chain ") {
            in_input = false;
            input_depth = depth + 1;
        }
        if line.contains("hook input") {
            in_input = true;
            drop |= line.contains("policy drop");
        }
        if in_input && depth >= input_depth && !line.contains("hook input") {
            if line.contains("policy drop") {
                drop = true;
            }
            let verdict_accept = line.split_whitespace().any(|w| w == "accept");
            if line.split_whitespace().any(|w| w == "jump" || w == "goto") {
                return None;
            }
            if verdict_accept {
                let conntrack = line.contains("ct state")
                    || line.starts_with("iif")
                    || line.contains("iifname");
                let icmp = line.contains("icmp");
                if line.contains("saddr") || conntrack || icmp {
                    // a named source, established traffic, loopback or ICMP: not "anyone"
                } else if let Some(ports) = nft_ports(line) {
                    open.extend(ports);
                } else {
                    return None; // accepts everything, or something we cannot read
                }
            }
        }
        depth += opens - closes;
        if depth < input_depth {
            in_input = false;
        }
    }
    drop.then_some(open)
}

/// The ports after `dport`: `22`, `10000-20000`, `{ 5060, 5061, ssh }`.
fn nft_ports(line: &str) -> Option<Vec<u16>> {
    let after = line.split_once("dport")?.1.trim();
    let list = if let Some(rest) = after.strip_prefix('{') {
        rest.split('}').next()?.to_string()
    } else {
        after.split_whitespace().next()?.to_string()
    };
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        out.extend(port_or_range(item, '-')?);
    }
    Some(out)
}

fn iptables(text: &str) -> Option<BTreeSet<u16>> {
    let mut drop = false;
    let mut open = BTreeSet::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.starts_with(":INPUT DROP") || line == "-P INPUT DROP" {
            drop = true;
        }
        let Some(rule) = line.strip_prefix("-A INPUT ") else {
            continue;
        };
        let words: Vec<&str> = rule.split_whitespace().collect();
        let target = words
            .iter()
            .position(|w| *w == "-j")
            .and_then(|i| words.get(i + 1))
            .copied()
            .unwrap_or("");
        match target {
            "ACCEPT" => {}
            "DROP" | "REJECT" | "LOG" | "RETURN" => continue,
            _ => return None, // a user chain (FreePBX's fpbxfirewall…): cannot tell
        }
        let has = |flag: &str| words.contains(&flag);
        let source = words
            .iter()
            .position(|w| *w == "-s" || *w == "--source")
            .and_then(|i| words.get(i + 1));
        let from_anyone = source.is_none_or(|s| *s == "0.0.0.0/0" || *s == "::/0");
        let established = rule.contains("ESTABLISHED") || rule.contains("RELATED");
        if !from_anyone || established || has("-i") || rule.contains("icmp") {
            continue;
        }
        let ports = words
            .iter()
            .position(|w| *w == "--dport" || *w == "--dports" || *w == "--destination-port")
            .and_then(|i| words.get(i + 1));
        let ports = ports?; // an ACCEPT for every port: cannot tell
        for item in ports.split(',') {
            open.extend(port_or_range(item, ':')?);
        }
    }
    drop.then_some(open)
}

fn port_or_range(item: &str, sep: char) -> Option<Vec<u16>> {
    let named = match item {
        "ssh" => Some(22),
        "http" => Some(80),
        "https" => Some(443),
        "sip" => Some(5060),
        "sip-tls" => Some(5061),
        _ => None,
    };
    if let Some(p) = named {
        return Some(vec![p]);
    }
    let (a, b) = item.split_once(sep).unwrap_or((item, item));
    let (a, b) = (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?);
    (a <= b).then(|| (a..=b).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nftables_default_drop_with_port_rules() {
        let text = r#"
table inet filter {
    chain input {
        type filter hook input priority filter; policy drop;
        ct state established,related accept
        iifname "lo" accept
        ip saddr 192.0.2.0/24 tcp dport 22 accept
        udp dport { 5060, 10000-10002 } accept
        tcp dport sip-tls accept
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
        tcp dport 5038 accept
    }
}
"#;
        let open = open_ports(text).unwrap();
        assert_eq!(open, BTreeSet::from([5060, 5061, 10000, 10001, 10002]));
    }

    #[test]
    fn nftables_without_a_drop_default_cannot_be_told() {
        let text = "table inet filter {\n chain input {\n type filter hook input priority 0; policy accept;\n }\n}\n";
        assert_eq!(
            verdict(text),
            Verdict::Everything,
            "Debian's stock nftables.conf"
        );
        let jumps = "table inet f {\n chain input {\n type filter hook input priority 0; policy drop;\n jump mine\n }\n}\n";
        assert_eq!(verdict(jumps), Verdict::Unknown);
    }

    #[test]
    fn iptables_save_output() {
        let text = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
                    -A INPUT -i lo -j ACCEPT\n\
                    -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n\
                    -A INPUT -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j ACCEPT\n\
                    -A INPUT -p udp -m udp --dport 5060 -j ACCEPT\n\
                    -A INPUT -p udp -m multiport --dports 10000:10002,4569 -j ACCEPT\n\
                    COMMIT\n";
        assert_eq!(
            open_ports(text).unwrap(),
            BTreeSet::from([4569, 5060, 10000, 10001, 10002])
        );
        let freepbx = "*filter\n:INPUT DROP [0:0]\n-A INPUT -j fpbxfirewall\nCOMMIT\n";
        assert_eq!(open_ports(freepbx), None);
        let open_all = "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n";
        assert_eq!(verdict(open_all), Verdict::Everything);
        assert_eq!(verdict(freepbx), Verdict::Unknown);
    }
}
