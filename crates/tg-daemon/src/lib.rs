//! The daemon (`tollguard run`): live sources → detectors → jails → enforcers, the store and
//! the control socket.
//!
//! - [`daemon`]: start, reload (SIGHUP or `tollguard reload`), shutdown (SIGTERM), the threads;
//! - [`pipeline`]: the detection thread (followers, detectors, jails); it reads from the first
//!   millisecond while the store's history arrives in the background, looking new addresses up
//!   in the store until it has;
//! - [`enforcer`]: the enforcer thread (kernel and store, batched; positions commit with bans);
//! - [`reconcile`]: the store's bans back into the kernel at start and after a flush (here, not
//!   in tg-enforce, because the daemon is what holds both a store and an enforcer);
//! - [`control`] and [`protocol`]: the control socket and its line-delimited JSON;
//! - [`trusted`]: configured, resolved and own addresses, never banned;
//! - [`calls`]: the AMI live call guard (tg-guard) and the alert notifier (tg-alert) on one
//!   tokio thread;
//! - [`fwnames`]: the firewall's trusted host names kept current in the kernel (tg-firewall);
//! - [`stats`]: counters for `tollguard status`.
//!
//! The AMI live call guard (tg-guard) plugs in through [`pipeline::PipelineMsg::External`]:
//! it sends findings, and the jails count them like findings from logs. Every ban batch the
//! enforcer puts into the kernel becomes ban notices for the notifier (`[alerts]`).

pub mod calls;
pub mod control;
pub mod daemon;
pub mod enforcer;
pub mod evidence;
pub mod fwnames;
pub mod pipeline;
pub mod protocol;
pub mod reconcile;
pub mod stats;
pub mod trusted;

use std::path::PathBuf;

pub use daemon::{run, Daemon};
pub use enforcer::EnforcerError;

/// Why the daemon could not start (or a reload was refused).
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] tg_config::ConfigError),
    /// A custom detector does not compile (only for a configuration that was not validated:
    /// validation reports a bad pattern with its line).
    #[error(transparent)]
    Detectors(#[from] tg_detect::DetectError),
    /// The store could not be opened or read.
    #[error("state store")]
    Store(#[from] tg_store::StoreError),
    /// The firewall backend failed to initialise.
    #[error("firewall")]
    Enforce(#[from] tg_enforce::EnforceError),
    /// The state directory could not be created.
    #[error("state directory {path}")]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The control socket could not be created.
    #[error("control socket {path}")]
    Socket {
        /// The socket path.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// Another daemon answers on the socket.
    #[error("another tollguard answers on {0}; stop it first")]
    AlreadyRunning(PathBuf),
    /// inotify could not be set up.
    #[error("inotify")]
    Inotify(#[source] std::io::Error),
    /// Signal handlers could not be installed.
    #[error("installing signal handlers")]
    Signals(#[source] std::io::Error),
    /// The call guard or the alerts could not be set up (`[calls]`, `[alerts]`).
    #[error("call guard")]
    Calls(#[source] tg_guard::guard::GuardError),
    /// The firewall's trusted names cannot be refreshed (`[firewall]`).
    #[error("firewall trusted names")]
    Firewall(#[source] tg_firewall::FwError),
    /// A thread could not be started.
    #[error("starting a thread")]
    Thread(#[source] std::io::Error),
}

/// Why a reload was refused. The running configuration stays.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new configuration cannot run: which part failed is the [`DaemonError`] inside
    /// (`Config`, `Detectors`, `Calls`, `Firewall`, or `Store` for the jails' history).
    #[error(transparent)]
    Refused(#[from] DaemonError),
    /// The detection thread has stopped (the daemon is shutting down).
    #[error("the detection thread has stopped")]
    DetectionStopped,
    /// The detection thread did not take the new configuration in time.
    #[error("the detection thread did not take the new configuration")]
    DetectionTimedOut,
}

/// An error and its sources on one line, `: `-separated, as the binary prints a chain; a
/// source whose text its parent already ends with (an error that shows its source itself) is
/// not repeated.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_reload_says_which_part_failed_and_why() {
        let e = ReloadError::from(DaemonError::Calls(tg_guard::guard::GuardError::NoAmi));
        assert!(matches!(e, ReloadError::Refused(DaemonError::Calls(_))));
        assert_eq!(
            error_chain(&e),
            "call guard: the configuration has no [calls.ami] section"
        );
        // A source its parent already shows is not repeated.
        let e = DaemonError::Store(tg_store::StoreError::Io {
            path: "/var/lib/tollguard".into(),
            source: std::io::Error::other("disk full"),
        });
        assert_eq!(
            error_chain(&e),
            "state store: /var/lib/tollguard: disk full"
        );
        let config = tg_config::Config::parse("[daemon]\nbogus = 1\n", "t.toml".as_ref());
        let e = ReloadError::from(DaemonError::from(config.unwrap_err()));
        assert!(
            error_chain(&e).starts_with("t.toml:2: "),
            "{}",
            error_chain(&e)
        );
    }
}
