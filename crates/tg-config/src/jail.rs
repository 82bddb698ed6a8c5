//! `[jail.NAME]`: which findings count, from which logs, how many in what window, banned how long.
//!
//! Built-in jails exist for every service (`sip`, `iax`, `ami`, `web`, `ssh`, `ftp`, `custom`),
//! plus `flood` for service `firewall`: senders the firewall's SIP flood limit kept dropping.
//! A user section with a built-in name overrides only the fields it sets; a new name makes a new
//! jail, which must say which `services` it counts.

use std::collections::BTreeMap;

use serde::Deserialize;
use tg_model::Service;

use crate::{Problem, Secs};

/// `[jail.NAME]` as written by the user: every field optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JailSection {
    /// `false` turns the jail off.
    pub enabled: Option<bool>,
    /// Which services' findings this jail counts.
    pub services: Option<Vec<String>>,
    /// Log files the daemon follows for this jail (missing files are waited for).
    pub logs: Option<Vec<String>>,
    /// systemd journal matches (`["_SYSTEMD_UNIT=ssh.service"]`) followed by the daemon.
    pub journal: Option<JournalSource>,
    /// Findings from one address within `find_time` that trigger a ban.
    pub max_retry: Option<u32>,
    /// The counting window.
    pub find_time: Option<Secs>,
    /// How long the first ban lasts.
    pub ban_time: Option<Secs>,
    /// Each repeat ban of the same address lasts this many times longer than the previous.
    pub ban_time_multiplier: Option<u32>,
    /// The longest a repeat ban may last.
    pub max_ban_time: Option<Secs>,
    /// IPv4 findings are counted and banned per network of this prefix length (32: per
    /// address, the default).
    pub prefix_v4: Option<u8>,
    /// IPv6 findings are counted and banned per network of this prefix length (64 by default:
    /// an attacker owns a /64; 128 counts and bans single addresses).
    pub prefix_v6: Option<u8>,
    /// The most addresses (and prefixes) the jail keeps counters for; past it the least
    /// threatening are evicted.
    pub max_tracked: Option<usize>,
}

/// `journal = { match = [...], namespace = "pbx" }`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalSource {
    /// journalctl-style `FIELD=value` matches, OR-ed.
    #[serde(rename = "match")]
    pub matches: Vec<String>,
    /// The journald namespace the service logs to (its unit's `LogNamespace=`); none: the
    /// default journal.
    pub namespace: Option<String>,
}

/// An effective jail, with every field resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jail {
    /// The jail's name (`sip`, `ssh`, …).
    pub name: String,
    /// Whether the jail counts and bans at all.
    pub enabled: bool,
    /// The services whose findings it counts.
    pub services: Vec<Service>,
    /// Log files to follow.
    pub logs: Vec<String>,
    /// Journal matches to follow.
    pub journal: Vec<String>,
    /// The journald namespace of those matches (none: the default journal).
    pub journal_namespace: Option<String>,
    /// Findings within `find_time` that trigger a ban.
    pub max_retry: u32,
    /// The counting window, seconds.
    pub find_time: u64,
    /// The first ban's length, seconds.
    pub ban_time: u64,
    /// Repeat-ban growth factor (1 = no escalation).
    pub ban_time_multiplier: u32,
    /// Cap on escalated bans, seconds.
    pub max_ban_time: u64,
    /// Prefix length IPv4 findings are counted and banned under (32 = per address).
    pub prefix_v4: u8,
    /// Prefix length IPv6 findings are counted and banned under (128 = per address).
    pub prefix_v6: u8,
    /// The most counted sources (addresses or prefixes) kept; the least threatening are
    /// evicted past it.
    pub max_tracked: usize,
}

/// The default `prefix_v4`: per address (IPv4 addresses are scarce; a /24 is often a whole
/// provider's NAT pool).
pub const DEFAULT_PREFIX_V4: u8 = 32;
/// The default `prefix_v6`: a /64, the smallest network a provider hands a customer.
pub const DEFAULT_PREFIX_V6: u8 = 64;
/// The default `max_tracked`: 900,000 sources, which fill a hash table of 2^20 slots of 36
/// bytes (about 38 MB) and no more; eight jails flooded at once stay under a third of a 2 GB
/// VPS. (A cap just above 917,504 = 7/8 of 2^20 would make the table double to 2^21 slots.)
pub const DEFAULT_MAX_TRACKED: usize = 900_000;

const ASTERISK_LOGS: &[&str] = &[
    "/var/log/asterisk/messages",
    "/var/log/asterisk/messages.log",
    "/var/log/asterisk/security",
    "/var/log/asterisk/security.log",
];

/// The built-in jails, before user overrides.
pub fn builtin_jails() -> Vec<Jail> {
    let jail = |name: &str, service: Service, logs: &[&str], journal: &[&str], max_retry| Jail {
        name: name.to_string(),
        enabled: true,
        services: vec![service],
        logs: logs.iter().map(|s| s.to_string()).collect(),
        journal: journal.iter().map(|s| s.to_string()).collect(),
        journal_namespace: None,
        max_retry,
        find_time: 600,
        ban_time: 3600,
        ban_time_multiplier: 2,
        max_ban_time: 7 * 86_400,
        prefix_v4: DEFAULT_PREFIX_V4,
        prefix_v6: DEFAULT_PREFIX_V6,
        max_tracked: DEFAULT_MAX_TRACKED,
    };
    vec![
        jail("sip", Service::Sip, ASTERISK_LOGS, &[], 5),
        jail("iax", Service::Iax, ASTERISK_LOGS, &[], 5),
        jail("ami", Service::Ami, ASTERISK_LOGS, &[], 5),
        jail(
            "web",
            Service::Web,
            &[
                "/var/log/asterisk/freepbx_security.log",
                "/var/log/apache2/error.log",
                "/var/log/httpd/error_log",
                "/var/log/nginx/error.log",
            ],
            &[],
            10,
        ),
        jail(
            "ssh",
            Service::Ssh,
            &["/var/log/auth.log", "/var/log/secure"],
            &["_SYSTEMD_UNIT=ssh.service", "_SYSTEMD_UNIT=sshd.service"],
            5,
        ),
        jail(
            "ftp",
            Service::Ftp,
            &[
                "/var/log/vsftpd.log",
                "/var/log/proftpd/proftpd.log",
                "/var/log/pure-ftpd/pure-ftpd.log",
            ],
            &[],
            5,
        ),
        jail("custom", Service::Custom, &[], &[], 5),
        flood_jail(),
    ]
}

/// `flood`: the kernel's `tollguard-flood: ` lines (the firewall's `[firewall.flood] log`),
/// found as service `firewall`, kind `flood`, so they never count toward `sip`'s failed
/// registrations. The log rule passes a burst of ten lines at once, so the detector counts one
/// finding per address and second: `max_retry = 5` means dropped packets in five different
/// seconds within ten minutes, a flood that outlasted the limit's burst, while a sender that
/// crossed the limit once is only rate-limited.
///
/// Only `kern.log` (facility `kern`) is followed: Debian's `syslog` and `messages` repeat the
/// same kernel lines, so following them too would count each drop twice. Hosts without
/// rsyslog set `journal = { match = ["_TRANSPORT=kernel"] }` (and `logs = []`); RHEL without
/// `kern.log` sets `logs = ["/var/log/messages"]`.
fn flood_jail() -> Jail {
    Jail {
        name: "flood".to_string(),
        enabled: true,
        services: vec![Service::Firewall],
        logs: vec!["/var/log/kern.log".to_string()],
        journal: Vec::new(),
        journal_namespace: None,
        max_retry: 5,
        find_time: 600,
        ban_time: 3600,
        ban_time_multiplier: 2,
        max_ban_time: 7 * 86_400,
        prefix_v4: DEFAULT_PREFIX_V4,
        prefix_v6: DEFAULT_PREFIX_V6,
        max_tracked: DEFAULT_MAX_TRACKED,
    }
}

/// Merges the user's sections over the built-in jails.
pub fn effective_jails(user: &BTreeMap<String, JailSection>) -> Vec<Jail> {
    let mut jails = builtin_jails();
    for (name, s) in user {
        let idx = match jails.iter().position(|j| &j.name == name) {
            Some(i) => i,
            None => {
                let mut fresh = builtin_jails().remove(0);
                fresh.name = name.clone();
                fresh.services.clear();
                fresh.logs.clear();
                jails.push(fresh);
                jails.len() - 1
            }
        };
        let j = &mut jails[idx];
        if let Some(v) = s.enabled {
            j.enabled = v;
        }
        if let Some(v) = &s.services {
            j.services = v.iter().filter_map(|n| Service::from_name(n)).collect();
        }
        if let Some(v) = &s.logs {
            j.logs = v.clone();
        }
        if let Some(v) = &s.journal {
            j.journal = v.matches.clone();
            j.journal_namespace = v.namespace.clone();
        }
        if let Some(v) = s.max_retry {
            j.max_retry = v;
        }
        if let Some(v) = s.find_time {
            j.find_time = v.0;
        }
        if let Some(v) = s.ban_time {
            j.ban_time = v.0;
        }
        if let Some(v) = s.ban_time_multiplier {
            j.ban_time_multiplier = v;
        }
        if let Some(v) = s.max_ban_time {
            j.max_ban_time = v.0;
        }
        if let Some(v) = s.prefix_v4 {
            j.prefix_v4 = v;
        }
        if let Some(v) = s.prefix_v6 {
            j.prefix_v6 = v;
        }
        if let Some(v) = s.max_tracked {
            j.max_tracked = v;
        }
    }
    jails
}

/// What the daemon's one `journalctl` gets as `--namespace=`, from the enabled jails that
/// follow the journal: none when they all use the default journal, `NAME` when they all name
/// one namespace, `+NAME` when some use the default journal too, `*` (every namespace) when
/// they name several. Entries are selected by the matches alone, whichever jail named them.
pub fn journal_namespace(jails: &[Jail]) -> Option<String> {
    let following = || jails.iter().filter(|j| j.enabled && !j.journal.is_empty());
    let mut names: Vec<&str> = following()
        .filter_map(|j| j.journal_namespace.as_deref())
        .collect();
    names.sort_unstable();
    names.dedup();
    let default_too = following().any(|j| j.journal_namespace.is_none());
    match (names.as_slice(), default_too) {
        ([], _) => None,
        ([one], false) => Some(one.to_string()),
        ([one], true) => Some(format!("+{one}")),
        _ => Some("*".to_string()),
    }
}

/// A journald namespace name is a plain identifier (it becomes one `journalctl` argument).
fn namespace_name_ok(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl JailSection {
    pub(crate) fn validate(&self, name: &str, text: &str, problems: &mut Vec<Problem>) {
        let line = find_section_line(text, name);
        let mut bad = |field: &str, message: String| {
            problems.push(Problem {
                line,
                key: Some(format!("jail.{name}.{field}")),
                message,
            });
        };
        let builtin = builtin_jails().iter().any(|j| j.name == name);
        match &self.services {
            Some(services) => {
                for s in services {
                    if Service::from_name(s).is_none() {
                        bad("services", format!("unknown service {s:?} (one of sip, iax, ami, web, ssh, ftp, custom, firewall)"));
                    }
                }
            }
            None if !builtin => bad(
                "services",
                "a new jail must list the services it counts".into(),
            ),
            None => {}
        }
        if let Some(ns) = self.journal.as_ref().and_then(|j| j.namespace.as_deref()) {
            if !namespace_name_ok(ns) {
                bad(
                    "journal.namespace",
                    format!("{ns:?} must be 1 to 64 of A-Z, a-z, 0-9, _ and - (the unit's LogNamespace=)"),
                );
            }
        }
        if self.max_retry == Some(0) {
            bad("max_retry", "must be at least 1".into());
        }
        if self.find_time == Some(Secs(0)) {
            bad("find_time", "must be longer than 0s".into());
        }
        if self.ban_time == Some(Secs(0)) {
            bad("ban_time", "must be longer than 0s".into());
        }
        if self.ban_time_multiplier == Some(0) {
            bad("ban_time_multiplier", "must be at least 1".into());
        }
        if let Some(v) = self.prefix_v4.filter(|v| !(MIN_PREFIX_V4..=32).contains(v)) {
            bad(
                "prefix_v4",
                format!("{v} must be from {MIN_PREFIX_V4} to 32 (32: one address)"),
            );
        }
        if let Some(v) = self
            .prefix_v6
            .filter(|v| !(MIN_PREFIX_V6..=128).contains(v))
        {
            bad(
                "prefix_v6",
                format!("{v} must be from {MIN_PREFIX_V6} to 128 (128: one address)"),
            );
        }
        if let Some(v) = self.max_tracked.filter(|&v| v < MIN_MAX_TRACKED) {
            bad(
                "max_tracked",
                format!("{v} must be at least {MIN_MAX_TRACKED}"),
            );
        }
    }
}

/// The widest IPv4 network a jail may ban as one (a /16 is a whole provider already).
const MIN_PREFIX_V4: u8 = 16;
/// The widest IPv6 network a jail may ban as one (a /32 is a whole provider's allocation).
const MIN_PREFIX_V6: u8 = 32;
/// A smaller cap would evict a real attacker between two of its guesses.
const MIN_MAX_TRACKED: usize = 1000;

/// The line of `[jail.NAME]` in the text, for messages about fields that failed validation.
fn find_section_line(text: &str, name: &str) -> Option<usize> {
    let header = format!("[jail.{name}]");
    let quoted = format!("[jail.\"{name}\"]");
    text.lines()
        .position(|l| {
            let l = l.trim();
            l.starts_with(&header) || l.starts_with(&quoted)
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<crate::Config, crate::ConfigError> {
        crate::Config::parse(text, std::path::Path::new("t.toml"))
    }

    fn with_journal(jails: &[(&str, Option<&str>)]) -> Vec<Jail> {
        let mut user = BTreeMap::new();
        for (name, ns) in jails {
            user.insert(
                name.to_string(),
                JailSection {
                    services: Some(vec!["ssh".into()]),
                    journal: Some(JournalSource {
                        matches: vec![format!("SYSLOG_IDENTIFIER={name}")],
                        namespace: ns.map(str::to_string),
                    }),
                    ..JailSection::default()
                },
            );
        }
        let off = JailSection {
            enabled: Some(false),
            ..JailSection::default()
        };
        user.entry("ssh".to_string()).or_insert(off);
        effective_jails(&user)
    }

    #[test]
    fn namespace_is_read_and_checked() {
        let config = parse(
            "[jail.ssh]\njournal = { match = [\"SYSLOG_IDENTIFIER=sshd\"], namespace = \"pbx\" }\n",
        )
        .unwrap();
        let ssh = config
            .jails()
            .into_iter()
            .find(|j| j.name == "ssh")
            .unwrap();
        assert_eq!(ssh.journal, vec!["SYSLOG_IDENTIFIER=sshd".to_string()]);
        assert_eq!(ssh.journal_namespace.as_deref(), Some("pbx"));

        for bad in ["", "-a", "a b", "../x", "+pbx", "*"] {
            let text = format!(
                "\n[jail.ssh]\njournal = {{ match = [\"SYSLOG_IDENTIFIER=sshd\"], namespace = {bad:?} }}\n"
            );
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains("jail.ssh.journal.namespace"), "{bad:?}: {err}");
            assert!(err.contains(":2"), "{bad:?}: no line in {err}");
        }
        let err = parse("[jail.ssh]\njournal = { match = [], nmespace = \"x\" }\n").unwrap_err();
        assert!(err.to_string().contains("nmespace"), "{err}");
    }

    #[test]
    fn prefixes_and_the_cap_default_override_and_are_checked() {
        let sip = |text: &str| {
            parse(text)
                .unwrap()
                .jails()
                .into_iter()
                .find(|j| j.name == "sip")
                .unwrap()
        };
        let j = sip("");
        assert_eq!((j.prefix_v4, j.prefix_v6), (32, 64));
        assert_eq!(j.max_tracked, DEFAULT_MAX_TRACKED);
        let j = sip("[jail.sip]\nprefix_v4 = 24\nprefix_v6 = 128\nmax_tracked = 5000\n");
        assert_eq!((j.prefix_v4, j.prefix_v6, j.max_tracked), (24, 128, 5000));
        for (bad, key) in [
            ("prefix_v4 = 33", "jail.sip.prefix_v4"),
            ("prefix_v4 = 8", "jail.sip.prefix_v4"),
            ("prefix_v6 = 129", "jail.sip.prefix_v6"),
            ("prefix_v6 = 16", "jail.sip.prefix_v6"),
            ("max_tracked = 10", "jail.sip.max_tracked"),
        ] {
            let err = parse(&format!("\n[jail.sip]\n{bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key) && err.contains(":2"), "{bad}: {err}");
        }
    }

    #[test]
    fn flood_jail_counts_only_the_firewall() {
        let jails = builtin_jails();
        let flood = jails.iter().find(|j| j.name == "flood").unwrap();
        assert_eq!(flood.services, vec![Service::Firewall]);
        assert_eq!(flood.logs, vec!["/var/log/kern.log".to_string()]);
        assert_eq!((flood.max_retry, flood.find_time), (5, 600));
        assert_eq!((flood.ban_time, flood.ban_time_multiplier), (3600, 2));
        for j in jails.iter().filter(|j| j.name != "flood") {
            assert!(
                !j.services.contains(&Service::Firewall),
                "{} counts firewall findings",
                j.name
            );
        }
        // Field by field: a user section changes what it names and keeps the rest.
        let config = parse(
            "[jail.flood]\nlogs = []\njournal = { match = [\"_TRANSPORT=kernel\"] }\nmax_retry = 8\n",
        )
        .unwrap();
        let flood = config
            .jails()
            .into_iter()
            .find(|j| j.name == "flood")
            .unwrap();
        assert!(flood.logs.is_empty());
        assert_eq!(flood.journal, vec!["_TRANSPORT=kernel".to_string()]);
        assert_eq!(flood.max_retry, 8);
        assert_eq!(flood.services, vec![Service::Firewall]);
        assert_eq!(flood.ban_time, 3600);
        // A user jail can count the firewall too, by its name.
        let config = parse("[jail.all-voip]\nservices = [\"sip\", \"firewall\"]\n").unwrap();
        let all = config
            .jails()
            .into_iter()
            .find(|j| j.name == "all-voip")
            .unwrap();
        assert_eq!(all.services, vec![Service::Sip, Service::Firewall]);
        let err = parse("[jail.x]\nservices = [\"firewal\"]\n").unwrap_err();
        assert!(err.to_string().contains("firewall)"), "{err}");
    }

    #[test]
    fn one_namespace_argument_covers_every_journal_jail() {
        assert_eq!(journal_namespace(&builtin_jails()), None);
        assert_eq!(journal_namespace(&with_journal(&[("a", None)])), None);
        assert_eq!(
            journal_namespace(&with_journal(&[("a", Some("pbx")), ("b", Some("pbx"))])),
            Some("pbx".to_string())
        );
        assert_eq!(
            journal_namespace(&with_journal(&[("a", Some("pbx")), ("b", None)])),
            Some("+pbx".to_string())
        );
        assert_eq!(
            journal_namespace(&with_journal(&[("a", Some("pbx")), ("b", Some("web"))])),
            Some("*".to_string())
        );
        // A disabled jail's namespace does not count.
        let mut jails = with_journal(&[("a", Some("pbx")), ("b", Some("web"))]);
        jails
            .iter_mut()
            .filter(|j| j.name == "b")
            .for_each(|j| j.enabled = false);
        assert_eq!(journal_namespace(&jails), Some("pbx".to_string()));
    }
}
