//! The firewall policy: `[firewall]` compiled into the `fw_*` objects of the shared
//! `inet tollguard` table; apply with automatic rollback, confirm, rollback, status, and the
//! DNS refresher that keeps trusted host names current.
//!
//! The path of `tollguard firewall apply`:
//! [`policy::Policy::build`] (config + `rtp.conf` + Asterisk peers) → [`dns::resolve_all`] →
//! [`render::render`] → [`lockout`] checks → [`state::apply`] (save the previous policy, one
//! `nft -f -` transaction, arm the watchdog). Nothing here ever deletes or flushes the whole
//! table, nor touches the ban daemon's sets and chain, nor any other table.

pub mod asterisk;
pub mod dns;
pub mod lockout;
pub mod policy;
pub mod render;
pub mod state;
pub mod status;

use std::path::PathBuf;

/// The kernel log prefix of dropped SIP floods (rate-limited to 5 lines/s in all), e.g.
/// `tollguard-flood: IN=eth0 OUT= MAC=… SRC=203.0.113.9 DST=192.0.2.1 … PROTO=UDP SPT=5070 DPT=5060 LEN=…`.
/// tg-detect reads these kernel lines (kern.log, syslog, the journal) as service `firewall`,
/// kind `flood`, for the address after `SRC=`, and the built-in `flood` jail bans a sender
/// dropped in five different seconds within ten minutes (`tg_config::jail`). The detector keeps
/// its own copy of this text; tollguard's `scan_flood` test checks the two agree. (No test
/// sends packets for it: the kernel logs a network namespace's packets only with the host-wide
/// sysctl `net.netfilter.nf_log_all_netns`, which tests leave alone.)
pub const FLOOD_LOG_PREFIX: &str = "tollguard-flood: ";

/// Why a firewall command failed. Nothing was applied when one of these is returned from
/// apply, except where the variant says otherwise.
#[derive(Debug, thiserror::Error)]
pub enum FwError {
    /// The configuration is invalid (every problem, with file, line and key).
    #[error("{0}")]
    Config(#[from] tg_config::ConfigError),
    /// The policy could not be built.
    #[error("{0}")]
    Policy(#[from] policy::PolicyError),
    /// A trusted host name did not resolve.
    #[error("{origin}: {name:?} does not resolve ({detail}); nothing applied")]
    Unresolved {
        /// The name.
        name: String,
        /// `file:line: key` where it was configured.
        origin: String,
        /// The resolver's answer.
        detail: String,
    },
    /// The resolver could not start.
    #[error("DNS: {detail}")]
    Dns {
        /// What failed.
        detail: String,
    },
    /// nft failed.
    #[error("{0}")]
    Nft(#[from] tg_nft::NftError),
    /// A state file could not be read or written.
    #[error("{path}: {source}")]
    State {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The policy would lock out the SSH session applying it, or leaves no way in for SSH.
    #[error("refused: {detail}; nothing applied (use --force if you are sure)")]
    Lockout {
        /// Why.
        detail: String,
    },
    /// There is no saved policy to roll back to.
    #[error("nothing to roll back to: no policy was applied with this state directory ({dir})")]
    NothingToRollBack {
        /// The state directory.
        dir: PathBuf,
    },
}
