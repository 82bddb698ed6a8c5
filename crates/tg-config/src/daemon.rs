//! `[daemon]`: where the daemon keeps state, where it listens, how it enforces.

use std::path::PathBuf;

use serde::Deserialize;

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
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            state_dir: PathBuf::from("/var/lib/tollguard"),
            socket: PathBuf::from("/run/tollguard.sock"),
            backend: Backend::Nftables,
            read_from: ReadFrom::End,
            table: "tollguard".to_string(),
        }
    }
}
