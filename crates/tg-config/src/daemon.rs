//! `[daemon]`: where the daemon keeps state, where it listens, how it enforces.

use std::path::PathBuf;

use serde::Deserialize;

use crate::{Problem, Secs};

/// The firewall backend that holds the bans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// nftables sets with per-element timeouts (the default).
    #[default]
    Nftables,
    /// iptables + ipset with timeouts, for hosts without nftables.
    Iptables,
}

/// Where a log follower starts on a file it has no saved position for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadFrom {
    /// At the end: only new lines count (the default).
    #[default]
    End,
    /// At the start: replay the whole file.
    Start,
}

/// `[daemon]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Directory for `state.db` (SQLite): bans, offender history, file positions.
    pub state_dir: PathBuf,
    /// Control socket path (created mode 0600).
    pub socket: PathBuf,
    /// The enforcement backend.
    pub backend: Backend,
    /// Where to start reading a log file with no saved position.
    pub read_from: ReadFrom,
    /// Name of the nftables table (inet family) holding the ban sets.
    pub table: String,
    /// Elements each nftables ban set holds at most (addresses, or prefixes in the prefix
    /// sets); when one is full, addresses are banned as their prefixes instead.
    pub set_size: u32,
    /// Offender history (served bans, for escalation) older than this is forgotten: deleted
    /// from the store daily and never read back at start.
    pub forget_offenders_after: Secs,
}

/// The default `set_size`.
pub const DEFAULT_SET_SIZE: u32 = 1_000_000;
/// The default `forget_offenders_after`: 90 days.
pub const DEFAULT_FORGET_OFFENDERS_AFTER: Secs = Secs(90 * 86_400);

impl DaemonConfig {
    pub(crate) fn validate(&self, text: &str, problems: &mut Vec<Problem>) {
        let line = |key: &str| {
            let mut in_daemon = false;
            text.lines().position(|l| {
                let l = l.trim();
                if l.starts_with('[') {
                    in_daemon = l.starts_with("[daemon]");
                }
                in_daemon && l.starts_with(key)
            })
        };
        if self.set_size < 1000 {
            problems.push(Problem {
                line: line("set_size").map(|i| i + 1),
                key: Some("daemon.set_size".into()),
                message: format!("{} must be at least 1000", self.set_size),
            });
        }
        if self.forget_offenders_after.0 < 86_400 {
            problems.push(Problem {
                line: line("forget_offenders_after").map(|i| i + 1),
                key: Some("daemon.forget_offenders_after".into()),
                message: "must be at least 1d (escalation needs the history of recent bans)".into(),
            });
        }
    }
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            state_dir: PathBuf::from("/var/lib/tollguard"),
            socket: PathBuf::from("/run/tollguard.sock"),
            backend: Backend::Nftables,
            read_from: ReadFrom::End,
            table: "tollguard".to_string(),
            set_size: DEFAULT_SET_SIZE,
            forget_offenders_after: DEFAULT_FORGET_OFFENDERS_AFTER,
        }
    }
}
