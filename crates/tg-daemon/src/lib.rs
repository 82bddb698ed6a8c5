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

/// Why the daemon could not start (or a reload was refused).
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] tg_config::ConfigError),
    /// A custom detector does not compile.
    #[error("{0}")]
    Detectors(String),
    /// The store could not be opened or read.
    #[error("state store: {0}")]
    Store(#[from] tg_store::StoreError),
    /// The firewall backend failed to initialise.
    #[error("firewall: {0}")]
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
    #[error("call guard: {0}")]
    Calls(String),
    /// The firewall's trusted names cannot be refreshed (`[firewall]`).
    #[error("firewall trusted names: {0}")]
    Firewall(String),
    /// A thread could not be started.
    #[error("starting a thread")]
    Thread(#[source] std::io::Error),
}
