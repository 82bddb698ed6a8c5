//! `[firewall]`: the declarative firewall policy (compiled to nftables by tg-firewall).
//!
//! This module owns the vocabulary (services and their presets, zones, port ranges, time
//! windows) and the pure checks on it. Everything that needs I/O — reading `rtp.conf` and the
//! Asterisk peer files, resolving host names — happens in tg-firewall.
//!
//! ```toml
//! [firewall]
//! lan_interfaces = ["eth1"]
//! vpn_interfaces = ["wg0"]
//! [firewall.services.sip]
//! zones = ["anyone"]
//! [firewall.services.ssh]
//! zones = ["trusted", "lan"]
//! hours = "07:00-20:00"
//! days = ["mon", "tue", "wed", "thu", "fri"]
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use crate::{problem_at, Problem};

/// `[firewall]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FirewallConfig {
    /// `[firewall.services.NAME]`: each service and the zones it is open to. A preset name
    /// (`sip`, `ssh`, …) brings its ports; any other name is a custom service and needs `ports`.
    pub services: BTreeMap<String, Spanned<ServiceSection>>,
    /// Interfaces whose traffic is the `lan` zone.
    pub lan_interfaces: Vec<Spanned<String>>,
    /// Source networks that are the `lan` zone too, whatever the interface.
    pub lan_networks: Vec<Spanned<String>>,
    /// Interfaces whose traffic is the `vpn` zone (WireGuard, OpenVPN…).
    pub vpn_interfaces: Vec<Spanned<String>>,
    /// Also trust the SIP trunks, `identify` matches and registration servers that Asterisk's
    /// own `pjsip.conf`/`sip.conf` name.
    pub trust_from_asterisk: bool,
    /// Where `pjsip.conf`, `sip.conf` and `rtp.conf` are read from.
    pub asterisk_dir: PathBuf,
    /// DNS servers for trusted host names (`"127.0.0.1:5353"` or `"192.0.2.53"`); empty means
    /// the system's `/etc/resolv.conf`.
    pub dns_servers: Vec<Spanned<String>>,
    /// Per-source SIP flood limits for untrusted senders.
    pub flood: FloodConfig,
}

impl Default for FirewallConfig {
    fn default() -> Self {
        FirewallConfig {
            services: BTreeMap::new(),
            lan_interfaces: Vec::new(),
            lan_networks: Vec::new(),
            vpn_interfaces: Vec::new(),
            trust_from_asterisk: false,
            asterisk_dir: PathBuf::from("/etc/asterisk"),
            dns_servers: Vec::new(),
            flood: FloodConfig::default(),
        }
    }
}

/// `[firewall.services.NAME]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceSection {
    /// Who may reach the service: `anyone`, `trusted`, `lan`, `vpn`, `nobody`.
    pub zones: Vec<Spanned<String>>,
    /// Ports (`5060`, `"10000-20000"`); required for a custom service, replaces a preset's.
    pub ports: Option<Vec<Spanned<PortItem>>>,
    /// `tcp`, `udp` or `both`; required for a custom service.
    pub protocol: Option<Spanned<String>>,
    /// Open only in this daily window, `"HH:MM-HH:MM"` (local time).
    pub hours: Option<Spanned<String>>,
    /// Open only on these days (`mon` … `sun`).
    pub days: Option<Vec<Spanned<String>>>,
    /// Publish the service on this port instead; its own port is then closed from outside.
    pub external_port: Option<Spanned<i64>>,
    /// `rtp` only: read `rtpstart`/`rtpend` from this file (default `<asterisk_dir>/rtp.conf`
    /// when it exists, else 10000–20000).
    pub rtp_conf: Option<PathBuf>,
    /// `ami` only: allow zones beyond `lan`/`vpn` (AMI is a remote shell to the PBX).
    pub i_understand_ami_is_exposed: bool,
}

/// One entry of `ports`: a number or a `"low-high"` range.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum PortItem {
    /// `5060`.
    Number(i64),
    /// `"10000-20000"` or `"5060"`.
    Text(String),
}

/// `[firewall.flood]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FloodConfig {
    /// Off turns the SIP flood limit off.
    pub enabled: bool,
    /// Packets per second one untrusted source may send to the SIP ports.
    pub rate: Spanned<i64>,
    /// Packets a source may send at once above the rate.
    pub burst: Spanned<i64>,
    /// Log dropped floods with the prefix `tollguard-flood: ` (rate-limited), for the built-in
    /// `flood` jail (tg-detect's `netfilter` family).
    pub log: bool,
}

impl Default for FloodConfig {
    fn default() -> Self {
        FloodConfig {
            enabled: true,
            rate: Spanned::new(0..0, 20),
            burst: Spanned::new(0..0, 50),
            log: true,
        }
    }
}

/// Who a service is open to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Zone {
    /// Every source.
    Anyone,
    /// `[trusted] addresses` (and, on request, the Asterisk trunks).
    Trusted,
    /// `lan_interfaces` and `lan_networks`.
    Lan,
    /// `vpn_interfaces`.
    Vpn,
    /// Nobody: the service is closed.
    Nobody,
}

impl Zone {
    /// The zone named `name`.
    pub fn from_name(name: &str) -> Option<Zone> {
        Some(match name {
            "anyone" => Zone::Anyone,
            "trusted" => Zone::Trusted,
            "lan" => Zone::Lan,
            "vpn" => Zone::Vpn,
            "nobody" => Zone::Nobody,
            _ => return None,
        })
    }

    /// The zone's name in the config.
    pub fn name(self) -> &'static str {
        match self {
            Zone::Anyone => "anyone",
            Zone::Trusted => "trusted",
            Zone::Lan => "lan",
            Zone::Vpn => "vpn",
            Zone::Nobody => "nobody",
        }
    }
}

/// A transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// `tcp` or `udp`.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// An inclusive port range (a single port is `lo == hi`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    /// First port.
    pub lo: u16,
    /// Last port.
    pub hi: u16,
}

impl PortRange {
    /// One port.
    pub const fn one(p: u16) -> PortRange {
        PortRange { lo: p, hi: p }
    }
    /// True when `p` is inside.
    pub fn contains(self, p: u16) -> bool {
        self.lo <= p && p <= self.hi
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// The ports of one protocol a service uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listen {
    /// The protocol.
    pub proto: Proto,
    /// Its ports.
    pub ports: Vec<PortRange>,
}

/// The preset services and their ports.
pub const PRESETS: &[&str] = &[
    "sip",
    "sip-tls",
    "rtp",
    "iax",
    "ssh",
    "http",
    "https",
    "provisioning",
    "ami",
    "wireguard",
];

/// A preset's ports, or `None` for a name that is not a preset.
pub fn preset(name: &str) -> Option<Vec<Listen>> {
    let tcp = |ports: &[PortRange]| Listen {
        proto: Proto::Tcp,
        ports: ports.to_vec(),
    };
    let udp = |ports: &[PortRange]| Listen {
        proto: Proto::Udp,
        ports: ports.to_vec(),
    };
    let one = PortRange::one;
    Some(match name {
        "sip" => vec![udp(&[one(5060)]), tcp(&[one(5060)])],
        "sip-tls" => vec![tcp(&[one(5061)])],
        "rtp" => vec![udp(&[PortRange {
            lo: 10000,
            hi: 20000,
        }])],
        "iax" => vec![udp(&[one(4569)])],
        "ssh" => vec![tcp(&[one(22)])],
        "http" => vec![tcp(&[one(80)])],
        "https" => vec![tcp(&[one(443)])],
        "provisioning" => vec![udp(&[one(69)]), tcp(&[one(80)])],
        "ami" => vec![tcp(&[one(5038)])],
        "wireguard" => vec![udp(&[one(51820)])],
        _ => return None,
    })
}

/// A daily time window in local time, `[start, end)` in minutes since midnight, on some days.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// `(start, end)` minutes since midnight, start < end; `None` means all day.
    pub hours: Option<(u16, u16)>,
    /// Days (0 = Sunday … 6 = Saturday, as nftables counts); empty means every day.
    pub days: Vec<u8>,
}

/// Parses `"HH:MM-HH:MM"` into minutes since midnight.
pub fn parse_hours(s: &str) -> Result<(u16, u16), String> {
    let parse = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
    };
    let bad = || format!("{s:?} is not a window like \"07:00-20:00\"");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let (a, b) = (parse(a).ok_or_else(bad)?, parse(b).ok_or_else(bad)?);
    if a >= b {
        return Err(format!(
            "{s:?}: the window must start before it ends (split a window across midnight into two services)"
        ));
    }
    Ok((a, b))
}

/// Parses a day name (`mon`, `Monday`, …) into nftables' number (0 = Sunday).
pub fn parse_day(s: &str) -> Option<u8> {
    let l = s.trim().to_ascii_lowercase();
    let days = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let full = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    days.iter()
        .position(|d| *d == l)
        .or_else(|| full.iter().position(|d| *d == l))
        .map(|i| i as u8)
}

/// Parses one `ports` entry.
pub fn parse_port_item(item: &PortItem) -> Result<PortRange, String> {
    let port = |n: i64| -> Result<u16, String> {
        u16::try_from(n)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("port {n} is out of range (1-65535)"))
    };
    match item {
        PortItem::Number(n) => port(*n).map(PortRange::one),
        PortItem::Text(s) => {
            let num = |t: &str| -> Result<u16, String> {
                let n: i64 = t
                    .trim()
                    .parse()
                    .map_err(|_| format!("{s:?} is not a port or a range like \"10000-20000\""))?;
                port(n)
            };
            match s.split_once('-') {
                Some((a, b)) => {
                    let (lo, hi) = (num(a)?, num(b)?);
                    if lo > hi {
                        return Err(format!("{s:?}: the range ends before it starts"));
                    }
                    Ok(PortRange { lo, hi })
                }
                None => num(s).map(PortRange::one),
            }
        }
    }
}

/// Parses a DNS server: `"192.0.2.53"` (port 53) or `"127.0.0.1:5353"` / `"[::1]:5353"`.
pub fn parse_dns_server(s: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = s.trim().parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    s.trim()
        .parse::<SocketAddr>()
        .map_err(|_| format!("{s:?} is not an address or address:port"))
}

/// True for a Linux interface name (what `iifname` can match; a trailing `*` is a wildcard).
pub fn is_interface_name(s: &str) -> bool {
    let core = s.strip_suffix('*').unwrap_or(s);
    !core.is_empty()
        && s.len() < 16
        && core
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@:".contains(&b))
}

/// A service as validated: its name, ports, zones and window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSpec {
    /// The key under `[firewall.services]`.
    pub name: String,
    /// The ports it listens on (for `rtp` without `ports`, the preset's 10000–20000).
    pub listen: Vec<Listen>,
    /// Who may reach it (`nobody` removed; empty means closed).
    pub zones: Vec<Zone>,
    /// When it is open, if not always.
    pub window: Option<Window>,
    /// The published port when remapped.
    pub external_port: Option<u16>,
    /// `rtp` only: the file to read the range from.
    pub rtp_conf: Option<PathBuf>,
    /// The section's 1-based line in the config, when known.
    pub line: Option<usize>,
}

impl FirewallConfig {
    /// The services, typed. Invalid entries are skipped (validation reports them), so call this
    /// on a validated config.
    pub fn services(&self, text: &str) -> Vec<ServiceSpec> {
        let mut out = Vec::new();
        for (name, section) in &self.services {
            let line = section_line(text, name);
            let s = section.get_ref();
            let proto = s.protocol.as_ref().map(|p| p.get_ref().as_str());
            let ports: Option<Vec<PortRange>> = s.ports.as_ref().map(|ps| {
                ps.iter()
                    .filter_map(|p| parse_port_item(p.get_ref()).ok())
                    .collect()
            });
            let listen = match (preset(name), ports) {
                (Some(preset), None) => preset,
                (preset, Some(ports)) => {
                    let protos: Vec<Proto> = match proto {
                        Some("tcp") => vec![Proto::Tcp],
                        Some("udp") => vec![Proto::Udp],
                        Some("both") => vec![Proto::Udp, Proto::Tcp],
                        _ => match preset {
                            Some(p) => p.iter().map(|l| l.proto).collect(),
                            None => continue,
                        },
                    };
                    protos
                        .into_iter()
                        .map(|proto| Listen {
                            proto,
                            ports: ports.clone(),
                        })
                        .collect()
                }
                (None, None) => continue,
            };
            let mut zones: Vec<Zone> = s
                .zones
                .iter()
                .filter_map(|z| Zone::from_name(z.get_ref()))
                .filter(|z| *z != Zone::Nobody)
                .collect();
            zones.sort();
            zones.dedup();
            let hours = s.hours.as_ref().and_then(|h| parse_hours(h.get_ref()).ok());
            let days: Vec<u8> = s
                .days
                .iter()
                .flatten()
                .filter_map(|d| parse_day(d.get_ref()))
                .collect();
            let window = (hours.is_some() || !days.is_empty()).then_some(Window { hours, days });
            out.push(ServiceSpec {
                name: name.clone(),
                listen,
                zones,
                window,
                external_port: s
                    .external_port
                    .as_ref()
                    .and_then(|p| u16::try_from(*p.get_ref()).ok()),
                rtp_conf: s.rtp_conf.clone(),
                line,
            });
        }
        out
    }

    /// `lan_networks`, parsed (invalid entries skipped).
    pub fn lan_nets(&self) -> Vec<IpNet> {
        self.lan_networks
            .iter()
            .filter_map(|n| parse_net(n.get_ref()).ok())
            .collect()
    }

    /// `dns_servers`, parsed (invalid entries skipped).
    pub fn dns(&self) -> Vec<SocketAddr> {
        self.dns_servers
            .iter()
            .filter_map(|s| parse_dns_server(s.get_ref()).ok())
            .collect()
    }

    pub(crate) fn validate(&self, text: &str, problems: &mut Vec<Problem>) {
        let mut at = |span: std::ops::Range<usize>, key: String, message: String| {
            problems.push(problem_at(text, span, key, message));
        };
        for (name, section) in &self.services {
            let key = |field: &str| format!("firewall.services.{name}.{field}");
            let line_span = section_span(text, name).unwrap_or_else(|| section.span());
            let s = section.get_ref();
            let is_preset = preset(name).is_some();
            if !is_preset && s.ports.is_none() {
                at(
                    line_span.clone(),
                    format!("firewall.services.{name}"),
                    format!(
                        "unknown service {name:?} (presets: {}); a custom service needs `ports` and `protocol`",
                        PRESETS.join(", ")
                    ),
                );
            }
            if !is_preset && s.ports.is_some() && s.protocol.is_none() {
                at(
                    line_span.clone(),
                    key("protocol"),
                    "a custom service needs `protocol` (tcp, udp or both)".into(),
                );
            }
            if let Some(p) = &s.protocol {
                if !["tcp", "udp", "both"].contains(&p.get_ref().as_str()) {
                    at(
                        p.span(),
                        key("protocol"),
                        format!("unknown protocol {:?} (tcp, udp or both)", p.get_ref()),
                    );
                }
            }
            for p in s.ports.iter().flatten() {
                if let Err(m) = parse_port_item(p.get_ref()) {
                    at(p.span(), key("ports"), m);
                }
            }
            if s.ports.as_ref().is_some_and(|p| p.is_empty()) {
                at(line_span.clone(), key("ports"), "lists no port".into());
            }
            if s.zones.is_empty() {
                at(
                    line_span.clone(),
                    key("zones"),
                    "lists no zone (say `zones = [\"nobody\"]` to close it)".into(),
                );
            }
            if s.zones.len() > 1 {
                if let Some(z) = s.zones.iter().find(|z| z.get_ref() == "nobody") {
                    at(
                        z.span(),
                        key("zones"),
                        "\"nobody\" closes the service and cannot be combined with other zones"
                            .into(),
                    );
                }
            }
            if let Some(p) = &s.external_port {
                let n = *p.get_ref();
                let clash = self.services.iter().find(|(other, o)| {
                    let o = o.get_ref();
                    let ports: Vec<PortRange> = match (&o.ports, preset(other)) {
                        (Some(ps), _) => ps
                            .iter()
                            .filter_map(|p| parse_port_item(p.get_ref()).ok())
                            .collect(),
                        (None, Some(pre)) => pre
                            .into_iter()
                            .filter(|l| l.proto == Proto::Tcp)
                            .flat_map(|l| l.ports)
                            .collect(),
                        (None, None) => Vec::new(),
                    };
                    u16::try_from(n).is_ok_and(|n| ports.iter().any(|r| r.contains(n)))
                });
                if let Some((other, _)) = clash {
                    at(
                        p.span(),
                        key("external_port"),
                        format!("port {n} is already a port of service {other:?}"),
                    );
                }
            }
            for z in &s.zones {
                match Zone::from_name(z.get_ref()) {
                    None => at(
                        z.span(),
                        key("zones"),
                        format!("unknown zone {:?} (anyone, trusted, lan, vpn, nobody)", z.get_ref()),
                    ),
                    Some(Zone::Anyone | Zone::Trusted)
                        if name == "ami" && !s.i_understand_ami_is_exposed =>
                    {
                        at(
                            z.span(),
                            key("zones"),
                            format!(
                                "AMI is a remote control of the PBX and is only opened to lan or vpn; \
                                 to open it to {:?} anyway set `i_understand_ami_is_exposed = true`",
                                z.get_ref()
                            ),
                        )
                    }
                    Some(_) => {}
                }
            }
            if let Some(h) = &s.hours {
                if let Err(m) = parse_hours(h.get_ref()) {
                    at(h.span(), key("hours"), m);
                }
            }
            for d in s.days.iter().flatten() {
                if parse_day(d.get_ref()).is_none() {
                    at(
                        d.span(),
                        key("days"),
                        format!("unknown day {:?} (mon … sun)", d.get_ref()),
                    );
                }
            }
            if let Some(p) = &s.external_port {
                let n = *p.get_ref();
                if !(1..=65535).contains(&n) {
                    at(
                        p.span(),
                        key("external_port"),
                        format!("port {n} is out of range (1-65535)"),
                    );
                } else {
                    let tcp_ports: Vec<PortRange> = match (&s.ports, preset(name)) {
                        (Some(ps), _) => ps
                            .iter()
                            .filter_map(|p| parse_port_item(p.get_ref()).ok())
                            .collect(),
                        (None, Some(pre)) => pre.into_iter().flat_map(|l| l.ports).collect(),
                        (None, None) => Vec::new(),
                    };
                    let udp_only = match (&s.protocol, preset(name)) {
                        (Some(p), _) => p.get_ref() == "udp",
                        (None, Some(pre)) => pre.iter().all(|l| l.proto == Proto::Udp),
                        (None, None) => false,
                    };
                    if udp_only || tcp_ports.len() != 1 || tcp_ports[0].lo != tcp_ports[0].hi {
                        at(
                            p.span(),
                            key("external_port"),
                            "remapping needs a service with exactly one TCP port (ssh, http, https, ami or a custom one)".into(),
                        );
                    }
                }
            }
            if s.rtp_conf.is_some() && name != "rtp" {
                at(
                    line_span.clone(),
                    key("rtp_conf"),
                    "only the rtp service reads rtp.conf".into(),
                );
            }
        }
        for (list, key) in [
            (&self.lan_interfaces, "firewall.lan_interfaces"),
            (&self.vpn_interfaces, "firewall.vpn_interfaces"),
        ] {
            for i in list {
                if !is_interface_name(i.get_ref()) {
                    at(
                        i.span(),
                        key.into(),
                        format!("{:?} is not an interface name", i.get_ref()),
                    );
                }
            }
        }
        for n in &self.lan_networks {
            if let Err(m) = parse_net(n.get_ref()) {
                at(n.span(), "firewall.lan_networks".into(), m);
            }
        }
        for d in &self.dns_servers {
            if let Err(m) = parse_dns_server(d.get_ref()) {
                at(d.span(), "firewall.dns_servers".into(), m);
            }
        }
        let f = &self.flood;
        for (v, k) in [(&f.rate, "rate"), (&f.burst, "burst")] {
            if !(1..=1_000_000).contains(v.get_ref()) {
                at(
                    v.span(),
                    format!("firewall.flood.{k}"),
                    format!("{} is out of range (1-1000000)", v.get_ref()),
                );
            }
        }
    }
}

/// Parses an address or CIDR as a network.
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    s.parse::<IpNet>()
        .map(|n| n.trunc())
        .map_err(|_| format!("{s:?} is not a valid address or CIDR"))
}

/// The byte span of the `[firewall.services.NAME]` header (or the `NAME = {` line).
fn section_span(text: &str, name: &str) -> Option<std::ops::Range<usize>> {
    let headers = [
        format!("[firewall.services.{name}]"),
        format!("[firewall.services.\"{name}\"]"),
    ];
    let mut offset = 0;
    let mut in_services = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if headers.iter().any(|h| t.starts_with(h.as_str())) {
            return Some(offset..offset + line.len());
        }
        if t.starts_with('[') {
            in_services = t.starts_with("[firewall.services]");
        } else if in_services {
            let key = t.split('=').next().unwrap_or("").trim().trim_matches('"');
            if key == name {
                return Some(offset..offset + line.len());
            }
        }
        offset += line.len();
    }
    None
}

fn section_line(text: &str, name: &str) -> Option<usize> {
    section_span(text, name).map(|s| crate::line_of(text, s.start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, crate::ConfigError> {
        Config::parse(text, Path::new("fw.toml"))
    }

    #[test]
    fn presets_and_custom_services_become_specs() {
        let text = "[firewall]\nlan_interfaces = [\"eth1\"]\n\
                    [firewall.services.sip]\nzones = [\"anyone\"]\n\
                    [firewall.services.ssh]\nzones = [\"trusted\", \"lan\"]\nhours = \"07:00-20:00\"\ndays = [\"mon\", \"Friday\"]\nexternal_port = 2222\n\
                    [firewall.services.myapp]\nzones = [\"vpn\"]\nports = [8080, \"9000-9010\"]\nprotocol = \"both\"\n";
        let c = parse(text).unwrap();
        let fw = c.firewall.as_ref().unwrap();
        let specs = fw.services(text);
        let ssh = specs.iter().find(|s| s.name == "ssh").unwrap();
        assert_eq!(ssh.zones, vec![Zone::Trusted, Zone::Lan]);
        assert_eq!(
            ssh.window,
            Some(Window {
                hours: Some((420, 1200)),
                days: vec![1, 5]
            })
        );
        assert_eq!(ssh.external_port, Some(2222));
        assert_eq!(ssh.line, Some(5));
        let app = specs.iter().find(|s| s.name == "myapp").unwrap();
        assert_eq!(app.listen.len(), 2);
        assert_eq!(
            app.listen[0].ports,
            vec![PortRange::one(8080), PortRange { lo: 9000, hi: 9010 }]
        );
        let sip = specs.iter().find(|s| s.name == "sip").unwrap();
        assert_eq!(sip.listen, preset("sip").unwrap());
    }

    #[test]
    fn bad_values_name_key_and_line() {
        let text = "[firewall]\nlan_networks = [\"10.0.0.0/33\"]\n\
                    [firewall.services.sip]\nzones = [\"everyone\"]\n\
                    [firewall.services.telnet]\nzones = [\"lan\"]\n\
                    [firewall.services.web]\nzones = [\"lan\"]\nports = [70000]\nprotocol = \"tcp\"\n\
                    [firewall.services.ami]\nzones = [\"anyone\"]\n\
                    [firewall.services.ssh]\nzones = [\"lan\"]\nhours = \"20:00-07:00\"\ndays = [\"someday\"]\n";
        let err = parse(text).unwrap_err();
        let msg = err.to_string();
        for want in [
            "fw.toml:2: firewall.lan_networks",
            "fw.toml:4: firewall.services.sip.zones: unknown zone \"everyone\"",
            "fw.toml:5: firewall.services.telnet: unknown service",
            "fw.toml:9: firewall.services.web.ports: port 70000 is out of range",
            "fw.toml:12: firewall.services.ami.zones",
            "fw.toml:15: firewall.services.ssh.hours",
            "fw.toml:16: firewall.services.ssh.days",
        ] {
            assert!(msg.contains(want), "missing {want:?} in:\n{msg}");
        }
    }

    #[test]
    fn contradictions_are_refused() {
        let err = parse(
            "[firewall]\nvpn_interfaces = [\"wg 0\"]\n\
             [firewall.services.ssh]\nzones = [\"lan\", \"nobody\"]\nexternal_port = 5060\n\
             [firewall.services.sip]\nzones = [\"anyone\"]\n",
        )
        .unwrap_err()
        .to_string();
        for want in [
            "fw.toml:2: firewall.vpn_interfaces",
            "fw.toml:4: firewall.services.ssh.zones: \"nobody\" closes",
            "fw.toml:5: firewall.services.ssh.external_port: port 5060 is already a port of service \"sip\"",
        ] {
            assert!(err.contains(want), "missing {want:?} in\n{err}");
        }
    }

    #[test]
    fn ami_override_and_remap_rules() {
        let ok =
            "[firewall.services.ami]\nzones = [\"trusted\"]\ni_understand_ami_is_exposed = true\n";
        assert!(parse(ok).is_ok());
        let bad = "[firewall.services.rtp]\nzones = [\"anyone\"]\nexternal_port = 3000\n";
        let err = parse(bad).unwrap_err().to_string();
        assert!(
            err.contains("fw.toml:3: firewall.services.rtp.external_port"),
            "{err}"
        );
    }

    #[test]
    fn port_items_and_hours_parse() {
        assert_eq!(
            parse_port_item(&PortItem::Text("10000-20000".into())),
            Ok(PortRange {
                lo: 10000,
                hi: 20000
            })
        );
        assert!(parse_port_item(&PortItem::Number(0)).is_err());
        assert!(parse_port_item(&PortItem::Text("20-10".into())).is_err());
        assert!(parse_port_item(&PortItem::Text("x".into())).is_err());
        assert_eq!(parse_hours("00:00-24:00"), Ok((0, 1440)));
        assert!(parse_hours("7-8").is_err());
        assert_eq!(parse_dns_server("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(parse_dns_server("::1").unwrap().port(), 53);
        assert!(
            is_interface_name("wg0") && is_interface_name("veth*") && !is_interface_name("a b")
        );
    }
}
