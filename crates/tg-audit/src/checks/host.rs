//! The host around the PBX, read from files only (never by running `nft`/`iptables`):
//! listening sockets from `/proc/net/{tcp,tcp6,udp,udp6}`; the firewall from tollguard's own
//! `[firewall]` policy, else from an nftables/iptables rules file; a ban daemon from
//! `/proc/*/comm` and its socket; `sshd_config` (with `Include` and `Match`); the web
//! server's protection of FreePBX's `admin`, `maint`, `meetme` and `panel` directories;
//! known rootkit files (`data/rootkit-indicators.txt`).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use super::rulesfile::Verdict;
use crate::finding::{Finding, Severity};
use tg_asterisk::Root;

const ROOTKIT_INDICATORS: &str = include_str!("../../data/rootkit-indicators.txt");

/// What the firewall admits, as far as files tell.
#[derive(Clone, Debug)]
pub enum Firewall {
    /// tollguard's `[firewall]` policy: the services it opens to `anyone`.
    Tollguard {
        /// Services (lower-case names as written in the policy) open to anyone.
        open: BTreeSet<String>,
        /// Ports of custom services open to anyone (`ports = [8088]`).
        open_ports: BTreeSet<u16>,
    },
    /// Some other rules file exists (nftables.conf, iptables rules); what it admits is not
    /// evaluated.
    Other {
        /// The file found.
        file: String,
        /// What it admits from any source ([`super::rulesfile`]).
        admits: Verdict,
    },
    /// No firewall configuration found.
    None,
}

/// Names a policy may use for each service the audit asks about.
fn aliases(service: &str) -> &'static [&'static str] {
    match service {
        "sip" => &["sip", "sip-tls", "pjsip", "sip-tcp", "sip-udp"],
        "iax" => &["iax", "iax2"],
        "ami" => &["ami", "manager"],
        "ari" => &["ari", "asterisk-http", "http-asterisk"],
        "ssh" => &["ssh"],
        "web" => &["http", "https", "web"],
        "rtp" => &["rtp"],
        "tftp" => &["provisioning", "tftp"],
        _ => &[],
    }
}

impl Firewall {
    /// Whether `service` (`sip`, `iax`, `ami`, `ari`, `ssh`, `web`) can be reached from any
    /// address. Unknown rules files count as admitting (the audit cannot prove otherwise).
    pub fn admits_anyone(&self, service: &str) -> bool {
        match self {
            Firewall::Tollguard { open, open_ports } => {
                aliases(service).iter().any(|a| open.contains(*a))
                    || default_ports(service)
                        .iter()
                        .any(|p| open_ports.contains(p))
            }
            Firewall::Other {
                admits: Verdict::Only(open),
                ..
            } => default_ports(service).iter().any(|p| open.contains(p)),
            Firewall::Other { .. } | Firewall::None => true,
        }
    }

    /// Whether a listening port can be reached from any address.
    pub fn admits_port(&self, service: &str, port: u16) -> bool {
        match self {
            Firewall::Tollguard { open_ports, .. } => {
                self.admits_anyone(service) || open_ports.contains(&port)
            }
            Firewall::Other {
                admits: Verdict::Only(open),
                ..
            } => open.contains(&port),
            Firewall::Other { .. } | Firewall::None => true,
        }
    }
}

/// The ports Asterisk and the host use for a service by default.
fn default_ports(service: &str) -> &'static [u16] {
    match service {
        "sip" => &[5060, 5061],
        "iax" => &[4569],
        "ami" => &[5038, 5039],
        "ari" => &[8088, 8089],
        "ssh" => &[22],
        "web" => &[80, 443],
        _ => &[],
    }
}

/// Reads the firewall configuration under `root`.
pub fn firewall(root: &Root) -> Firewall {
    let toml_path = Path::new("/etc/tollguard/tollguard.toml");
    if let Some(text) = root.read_text_opt(toml_path) {
        if let Ok(value) = text.parse::<toml::Table>() {
            if let Some(fw) = value.get("firewall") {
                let mut open = BTreeSet::new();
                let mut open_ports = BTreeSet::new();
                collect_open(None, fw, &mut open, &mut open_ports);
                return Firewall::Tollguard { open, open_ports };
            }
        }
    }
    for file in [
        "/etc/nftables.conf",
        "/etc/sysconfig/nftables.conf",
        "/etc/iptables/rules.v4",
        "/etc/iptables/rules.v6",
        "/etc/sysconfig/iptables",
    ] {
        if let Some(text) = root.read_text_opt(Path::new(file)) {
            let has_rules = text.contains("hook input")
                || text.contains("-A INPUT")
                || text.contains(":INPUT DROP")
                || text.contains("policy drop");
            if has_rules {
                return Firewall::Other {
                    file: file.to_string(),
                    admits: super::rulesfile::verdict(&text),
                };
            }
        }
    }
    Firewall::None
}

/// Walks the `[firewall]` policy without depending on its exact schema (today:
/// `[firewall.services.NAME] zones = [...]`, `ports = [...]` for custom services): any table
/// or array named after a service (or a table with `name = "svc"`) whose zone list includes
/// `anyone` opens that service, and the table's `ports`, to anyone.
fn collect_open(
    name: Option<&str>,
    v: &toml::Value,
    open: &mut BTreeSet<String>,
    open_ports: &mut BTreeSet<u16>,
) {
    let says_anyone = |v: &toml::Value| match v {
        toml::Value::String(s) => s.eq_ignore_ascii_case("anyone"),
        toml::Value::Array(items) => items
            .iter()
            .any(|i| i.as_str().is_some_and(|s| s.eq_ignore_ascii_case("anyone"))),
        _ => false,
    };
    match v {
        toml::Value::Array(items) => {
            if let (true, Some(n)) = (says_anyone(v), name) {
                open.insert(n.to_ascii_lowercase());
            }
            for i in items.iter().filter(|i| i.is_table()) {
                collect_open(name, i, open, open_ports);
            }
        }
        toml::Value::Table(t) => {
            let own = t
                .get("name")
                .or_else(|| t.get("service"))
                .and_then(|n| n.as_str())
                .or(name);
            let zone_keys = ["zones", "open_to", "allow", "from"];
            let anyone = zone_keys.iter().any(|k| t.get(*k).is_some_and(says_anyone));
            if anyone {
                if let Some(n) = own {
                    open.insert(n.to_ascii_lowercase());
                }
                for p in t
                    .get("ports")
                    .and_then(|p| p.as_array())
                    .into_iter()
                    .flatten()
                {
                    open_ports.extend(port_items(p));
                }
            }
            for (k, val) in t {
                if !zone_keys.contains(&k.as_str()) && k != "ports" {
                    collect_open(Some(k.as_str()), val, open, open_ports);
                }
            }
        }
        _ => {}
    }
}

/// `5060` or `"10000-20000"` (at most 65,536 ports, so a wide range stays small).
fn port_items(p: &toml::Value) -> Vec<u16> {
    match p {
        toml::Value::Integer(n) => u16::try_from(*n).ok().into_iter().collect(),
        toml::Value::String(s) => {
            let (a, b) = s.split_once('-').unwrap_or((s, s));
            match (a.trim().parse::<u16>(), b.trim().parse::<u16>()) {
                (Ok(a), Ok(b)) if a <= b => (a..=b).collect(),
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

/// A socket listening on a non-loopback address.
#[derive(Clone, Debug)]
pub struct Listener {
    /// `tcp` or `udp`.
    pub proto: &'static str,
    /// The bound address.
    pub addr: IpAddr,
    /// The port.
    pub port: u16,
    /// `/proc/net/tcp` etc.
    pub file: String,
    /// Line in that file.
    pub line: u32,
}

/// Non-loopback listening sockets; `None` when `/proc/net` is not there.
pub fn listeners(root: &Root) -> Option<Vec<Listener>> {
    let mut out = Vec::new();
    let mut any = false;
    for (file, proto, v6) in [
        ("/proc/net/tcp", "tcp", false),
        ("/proc/net/tcp6", "tcp", true),
        ("/proc/net/udp", "udp", false),
        ("/proc/net/udp6", "udp", true),
    ] {
        let Some(text) = root.read_text_opt(Path::new(file)) else {
            continue;
        };
        any = true;
        for (i, line) in text.lines().enumerate().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 4 {
                continue;
            }
            // TCP_LISTEN is 0A; an unconnected UDP socket is 07 (TCP_CLOSE) with no peer.
            let listening = if proto == "tcp" {
                f[3] == "0A"
            } else {
                f[3] == "07" && f[2].ends_with(":0000")
            };
            if !listening {
                continue;
            }
            let Some((addr, port)) = parse_proc_addr(f[1], v6) else {
                continue;
            };
            if addr.is_loopback() {
                continue;
            }
            if let IpAddr::V6(a) = addr {
                if a.to_ipv4_mapped().is_some_and(|m| m.is_loopback()) {
                    continue;
                }
            }
            out.push(Listener {
                proto,
                addr,
                port,
                file: file.to_string(),
                line: i as u32 + 1,
            });
        }
    }
    any.then_some(out)
}

/// `0100007F:13C4` (little-endian words) → 127.0.0.1:5060.
fn parse_proc_addr(s: &str, v6: bool) -> Option<(IpAddr, u16)> {
    let (a, p) = s.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let addr = if v6 {
        if a.len() != 32 || !a.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 16];
        for w in 0..4 {
            let word = u32::from_str_radix(&a[w * 8..w * 8 + 8], 16).ok()?;
            bytes[w * 4..w * 4 + 4].copy_from_slice(&word.to_le_bytes());
        }
        IpAddr::V6(Ipv6Addr::from(bytes))
    } else {
        let word = u32::from_str_radix(a, 16).ok()?;
        IpAddr::V4(Ipv4Addr::from(word.to_le_bytes()))
    };
    Some((addr, port))
}

/// The service a port belongs to, its name for messages, and how bad exposing it is.
fn service_of(proto: &str, port: u16) -> (&'static str, &'static str, Severity) {
    match (proto, port) {
        (_, 5060) | (_, 5061) => ("sip", "SIP", Severity::Medium),
        ("udp", 4569) => ("iax", "IAX2", Severity::Medium),
        ("tcp", 5038) | ("tcp", 5039) => ("ami", "the Asterisk manager (AMI)", Severity::High),
        ("tcp", 8088) | ("tcp", 8089) => ("ari", "Asterisk's HTTP server (ARI)", Severity::High),
        ("tcp", 22) => ("ssh", "SSH", Severity::Medium),
        ("tcp", 80) | ("tcp", 443) => ("web", "the web server (FreePBX GUI)", Severity::Medium),
        ("tcp", 3306) => ("mysql", "MySQL (FreePBX's database)", Severity::High),
        ("udp", 69) => (
            "tftp",
            "TFTP provisioning (phone configs with secrets)",
            Severity::High,
        ),
        _ => ("other", "a service", Severity::Low),
    }
}

/// Firewall, exposed sockets, ban daemon.
pub fn check_network(root: &Root, fw: &Firewall, out: &mut Vec<Finding>) {
    match fw {
        Firewall::None => out.push(Finding::new(
            "host.firewall.absent",
            "No firewall configuration found (no tollguard [firewall], nftables or iptables rules file)",
            "add a [firewall] section to /etc/tollguard/tollguard.toml and run `tollguard firewall apply`",
        )),
        Firewall::Other {
            file,
            admits: Verdict::Everything,
        } => out.push(
            Finding::new(
                "host.firewall.absent",
                format!("{file} accepts all input: it neither defaults to drop nor drops anything"),
                "add a [firewall] section to /etc/tollguard/tollguard.toml and run `tollguard firewall apply`",
            )
            .at(file.clone(), None),
        ),
        _ => {}
    }
    if let Some(list) = listeners(root) {
        let mut seen = BTreeSet::new();
        for l in list {
            if !seen.insert((l.proto, l.port)) {
                continue;
            }
            let (service, label, severity) = service_of(l.proto, l.port);
            if service == "rtp" || (l.proto == "udp" && (10000..=20000).contains(&l.port)) {
                continue; // RTP must be reachable for calls to work
            }
            if !fw.admits_port(service, l.port) {
                continue;
            }
            let (severity, how) = match fw {
                Firewall::Other {
                    file,
                    admits: Verdict::Unknown,
                } => (
                    Severity::Low,
                    format!("a rules file ({file}) whose restrictions the audit cannot evaluate"),
                ),
                Firewall::Other {
                    file,
                    admits: Verdict::Everything,
                } => (severity, format!("{file} accepting all input")),
                Firewall::Other { file, .. } => {
                    (severity, format!("{file} admitting it from any address"))
                }
                _ => (severity, "no firewall restriction".to_string()),
            };
            let fix = format!(
                "open {}/{} only to trusted zones in /etc/tollguard/tollguard.toml [firewall] (or bind the service to 127.0.0.1)",
                l.proto, l.port
            );
            out.push(
                Finding::new(
                    "host.port.exposed",
                    format!(
                        "{label} listens on {}:{} ({}) with {how}",
                        l.addr, l.port, l.proto
                    ),
                    fix,
                )
                .severity(severity)
                .at(l.file.clone(), Some(l.line)),
            );
        }
    }
    ban_daemon(root, out);
}

fn ban_daemon(root: &Root, out: &mut Vec<Finding>) {
    let proc_dir = Path::new("/proc");
    let sockets = [
        "/run/tollguard.sock",
        "/run/tollguard/tollguard.sock",
        "/run/fail2ban/fail2ban.sock",
        "/var/run/fail2ban/fail2ban.sock",
    ];
    let socket = sockets.iter().any(|s| root.exists(Path::new(s)));
    if !root.is_dir(proc_dir) && !socket {
        return; // a copied tree without /proc: cannot tell
    }
    // The daemon is `tollguard run`; `tollguard audit` itself (this process) does not count.
    let running = root
        .list(proc_dir)
        .iter()
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        .any(|pid| {
            let dir = proc_dir.join(pid);
            let comm = root.read_text_opt(&dir.join("comm")).unwrap_or_default();
            let comm = comm.trim();
            if comm.starts_with("fail2ban") {
                return true;
            }
            let cmdline = root.read_text_opt(&dir.join("cmdline")).unwrap_or_default();
            comm == "tollguard" && cmdline.split('\0').nth(1) == Some("run")
        });
    if !running && !socket {
        out.push(Finding::new(
            "host.ban-daemon.absent",
            "No ban daemon is running (neither tollguard nor fail2ban)",
            "run `tollguard run --config /etc/tollguard/tollguard.toml` as a service (systemd unit in the package)",
        ));
    }
}

/// `sshd_config`: effective global `PermitRootLogin` / `PasswordAuthentication` (the first
/// value wins, as in sshd), plus `Match` blocks that turn them on.
pub fn check_ssh(root: &Root, out: &mut Vec<Finding>) {
    let main = Path::new("/etc/ssh/sshd_config");
    if !root.exists(main) {
        return;
    }
    let mut lines = Vec::new();
    read_sshd(root, main, false, 0, &mut lines);
    for (keyword, name, id) in [
        (
            "permitrootlogin",
            "PermitRootLogin",
            "ssh.permit-root-login",
        ),
        (
            "passwordauthentication",
            "PasswordAuthentication",
            "ssh.password-authentication",
        ),
    ] {
        let global = lines.iter().find(|l| !l.in_match && l.keyword == keyword);
        let on = |v: &str| v.eq_ignore_ascii_case("yes");
        match global {
            Some(l) if on(&l.value) => {
                let name = if keyword == "permitrootlogin" {
                    "PermitRootLogin"
                } else {
                    "PasswordAuthentication"
                };
                let fix_value = if keyword == "permitrootlogin" {
                    "prohibit-password"
                } else {
                    "no"
                };
                out.push(
                    Finding::new(
                        id,
                        format!("sshd: {name} yes"),
                        format!("{}:{}: {name} {fix_value}", l.file.display(), l.line),
                    )
                    .at(l.file.display().to_string(), Some(l.line)),
                );
            }
            None if keyword == "passwordauthentication" => {
                out.push(
                    Finding::new(
                        id,
                        "sshd: PasswordAuthentication is not set and defaults to yes",
                        format!(
                            "{}: PasswordAuthentication no (after installing your SSH key)",
                            main.display()
                        ),
                    )
                    .at(main.display().to_string(), None),
                );
            }
            _ => {}
        }
        for l in lines
            .iter()
            .filter(|l| l.in_match && l.keyword == keyword && on(&l.value))
        {
            out.push(
                Finding::new(
                    id,
                    format!("sshd: a Match block sets {name} yes"),
                    format!("{}:{}: remove it or set it to no", l.file.display(), l.line),
                )
                .at(l.file.display().to_string(), Some(l.line)),
            );
        }
    }
}

struct SshLine {
    file: PathBuf,
    line: u32,
    keyword: String,
    value: String,
    in_match: bool,
}

fn read_sshd(root: &Root, file: &Path, in_match: bool, depth: usize, out: &mut Vec<SshLine>) {
    if depth > 8 {
        return;
    }
    let Some(text) = root.read_text_opt(file) else {
        return;
    };
    let mut in_match = in_match;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or((line, ""));
        let keyword = k.to_ascii_lowercase();
        let value = v.trim().trim_start_matches('=').trim().to_string();
        if keyword == "match" {
            in_match = !value.eq_ignore_ascii_case("all");
            continue;
        }
        if keyword == "include" {
            for pat in value.split_whitespace() {
                let pattern = if pat.starts_with('/') {
                    PathBuf::from(pat)
                } else {
                    Path::new("/etc/ssh").join(pat)
                };
                for inc in root.glob(&pattern) {
                    read_sshd(root, &inc, in_match, depth + 1, out);
                }
            }
            continue;
        }
        out.push(SshLine {
            file: file.to_path_buf(),
            line: i as u32 + 1,
            keyword,
            value,
            in_match,
        });
    }
}

/// Directives that restrict who may load a page.
fn restricts(line: &str) -> bool {
    let l = line.trim().to_ascii_lowercase();
    (l.starts_with("require ") && !l.contains("all granted"))
        || l.starts_with("allow from")
        || l.starts_with("deny from all")
        || l.starts_with("authtype")
        || l.starts_with("authuserfile")
}

/// FreePBX's web directories: each that exists must be restricted (by IP or login) in an
/// `.htaccess` at its top level, or in a `<Directory>`/`<Location>` block of the Apache
/// configuration.
pub fn check_web(root: &Root, out: &mut Vec<Finding>) {
    let webroot = Path::new("/var/www/html");
    let apache_conf: Vec<(PathBuf, String)> = ["/etc/apache2", "/etc/httpd"]
        .iter()
        .flat_map(|d| conf_files(root, Path::new(d), 0))
        .filter_map(|p| root.read_text_opt(&p).map(|t| (p, t)))
        .collect();
    for dir in ["admin", "maint", "meetme", "panel"] {
        let path = webroot.join(dir);
        if !root.is_dir(&path) {
            continue;
        }
        let htaccess = path.join(".htaccess");
        let in_htaccess = root
            .read_text_opt(&htaccess)
            .is_some_and(|t| top_level_restriction(&t));
        let in_apache = apache_conf
            .iter()
            .any(|(_, text)| block_restriction(text, &path, dir));
        if !in_htaccess && !in_apache {
            out.push(
                Finding::new(
                    "web.freepbx-dir.unprotected",
                    format!("{} is served without an IP or login restriction", path.display()),
                    format!(
                        "{}: Require ip <your office or VPN network> (and AllowOverride AuthConfig Limit for this directory), or close port 80/443 to the internet",
                        htaccess.display()
                    ),
                )
                .at(path.display().to_string(), None),
            );
        }
    }
}

fn conf_files(root: &Root, dir: &Path, depth: usize) -> Vec<PathBuf> {
    if depth > 4 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for name in root.list(dir) {
        let p = dir.join(&name);
        if root.is_dir(&p) {
            out.extend(conf_files(root, &p, depth + 1));
        } else if name.ends_with(".conf") || name == ".htaccess" {
            out.push(p);
        }
    }
    out
}

/// A restriction outside any `<Files…>`/`<If…>` block of an `.htaccess`.
fn top_level_restriction(text: &str) -> bool {
    let mut depth = 0i32;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with("</") {
            depth -= 1;
        } else if l.starts_with('<') {
            depth += 1;
        } else if depth <= 0 && restricts(l) {
            return true;
        }
    }
    false
}

/// A `<Directory …/dir>` or `<Location /dir>` block with a restriction.
fn block_restriction(text: &str, path: &Path, dir: &str) -> bool {
    let full = path.display().to_string();
    let mut inside = false;
    for line in text.lines() {
        let l = line.trim();
        let lower = l.to_ascii_lowercase();
        if lower.starts_with("<directory") || lower.starts_with("<location") {
            let target = l
                .split_once(char::is_whitespace)
                .map(|(_, t)| t.trim_end_matches('>').trim().trim_matches('"'))
                .unwrap_or("");
            let target = target.trim_end_matches('/');
            inside = target == full || target == format!("/{dir}");
        } else if lower.starts_with("</directory") || lower.starts_with("</location") {
            inside = false;
        } else if inside && restricts(l) {
            return true;
        }
    }
    false
}

/// Known rootkit files.
pub fn check_rootkits(root: &Root, out: &mut Vec<Finding>) {
    for line in ROOTKIT_INDICATORS.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut f = line.split('\t');
        let (Some(path), Some(name), Some(source)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if root.exists(Path::new(path)) {
            out.push(
                Finding::new(
                    "rootkit.indicator",
                    format!("{path} exists: a known indicator of the {name}"),
                    "treat the machine as compromised: take it offline, rebuild from a clean install, and change every secret that was on it",
                )
                .why(format!(
                    "A file that the {name} leaves behind exists (indicator list: {source}); the machine may already be owned and every secret on it is burnt."
                ))
                .at(path.to_string(), None),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_addresses_decode() {
        assert_eq!(
            parse_proc_addr("0100007F:13C4", false),
            Some((IpAddr::V4(Ipv4Addr::LOCALHOST), 5060))
        );
        assert_eq!(
            parse_proc_addr("00000000:13BE", false),
            Some((IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5054))
        );
        assert_eq!(
            parse_proc_addr("00000000000000000000000001000000:0016", true),
            Some((IpAddr::V6(Ipv6Addr::LOCALHOST), 22))
        );
        assert_eq!(parse_proc_addr("ééééééééééééééee:0016", true), None);
        assert_eq!(parse_proc_addr("zz:0016", false), None);
    }

    #[test]
    fn policy_shapes_all_read() {
        let t: toml::Table = r#"
            [firewall.services]
            sip = ["trusted"]
            ssh = { zones = ["anyone"] }
            [[firewall.service]]
            name = "ami"
            open_to = ["anyone"]
        "#
        .parse()
        .unwrap();
        let mut open = BTreeSet::new();
        let mut ports = BTreeSet::new();
        collect_open(None, &t["firewall"], &mut open, &mut ports);
        assert!(
            open.contains("ssh") && open.contains("ami") && !open.contains("sip"),
            "{open:?}"
        );
    }

    #[test]
    fn the_firewall_schema_of_tg_config_is_read() {
        let t: toml::Table = r#"
            [firewall]
            lan_interfaces = ["eth1"]
            [firewall.services.sip]
            zones = ["anyone"]
            [firewall.services.ssh]
            zones = ["trusted", "lan"]
            [firewall.services.asterisk-http]
            zones = ["anyone"]
            ports = [8088, "9000-9002"]
            protocol = "tcp"
        "#
        .parse()
        .unwrap();
        let mut open = BTreeSet::new();
        let mut open_ports = BTreeSet::new();
        collect_open(None, &t["firewall"], &mut open, &mut open_ports);
        assert_eq!(
            open,
            BTreeSet::from(["sip".to_string(), "asterisk-http".to_string()])
        );
        assert_eq!(open_ports, BTreeSet::from([8088, 9000, 9001, 9002]));
        let fw = Firewall::Tollguard { open, open_ports };
        assert!(fw.admits_anyone("sip") && fw.admits_anyone("ari") && !fw.admits_anyone("ssh"));
        assert!(fw.admits_port("other", 9001) && !fw.admits_port("other", 9003));
    }

    #[test]
    fn htaccess_restrictions_inside_files_blocks_do_not_count() {
        assert!(!top_level_restriction(
            "<FilesMatch \"^\\.\">\nRequire all denied\n</FilesMatch>\n"
        ));
        assert!(top_level_restriction("Require ip 192.0.2.0/24\n"));
        assert!(!top_level_restriction("Require all granted\n"));
    }
}
