//! nftables: the one place that runs `nft`.
//!
//! Scripts are built from typed, validated values and loaded with `nft -f -` (the script on
//! stdin, argv fixed), so each load is one atomic kernel transaction and no shell ever sees a
//! built string. The binary is looked up only in the system directories, never via `PATH`.
//!
//! The `inet tollguard` table is shared by two owners, which must never destroy each other's
//! objects (so neither ever deletes or flushes the whole table):
//! - the ban enforcer ([`bans`]): sets `banned_v4` / `banned_v6` (`flags timeout`) and the base
//!   chain `bans` (hook input, priority [`BAN_CHAIN_PRIORITY`]) that drops their members;
//! - the firewall policy (tg-firewall): every other object, named with the `fw_` prefix.
//!
//! Frequent small batches (the daemon's bans) go through an [`NftSession`] instead: one
//! long-lived `nft -i` fed a batch per line, which saves a process start per batch.

pub mod bans;
mod session;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use session::{NftSession, SESSION_MAX_SCRIPT, SESSION_RECYCLE_BYTES};

/// The table both owners share (family `inet`).
pub const TABLE: &str = "tollguard";
/// The ban set for IPv4 addresses.
pub const BANNED_V4: &str = "banned_v4";
/// The ban set for IPv6 addresses.
pub const BANNED_V6: &str = "banned_v6";
/// The base chain that drops banned sources.
pub const BAN_CHAIN: &str = "bans";
/// Earlier than the filter priority (0) and every `ct state established accept` there.
pub const BAN_CHAIN_PRIORITY: i32 = -150;

/// Why an `nft` call failed.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    /// No `nft` binary in the system directories.
    #[error("nft not found in /usr/sbin, /sbin, /usr/bin or /bin (install the nftables package)")]
    NotFound,
    /// Could not start or talk to `nft`.
    #[error("running {path}: {source}")]
    Io {
        /// The binary.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// `nft` refused the script or command.
    #[error("nft refused it: {stderr}")]
    Refused {
        /// What nft printed.
        stderr: String,
    },
}

/// The directories privileged programs (`nft`, `ip`, `ipset`, …) are taken from. Never `PATH`:
/// a root daemon must not run whatever an environment variable points at.
pub const SYSTEM_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// The first `name` found in [`SYSTEM_DIRS`].
pub fn system_program(name: &str) -> Option<PathBuf> {
    SYSTEM_DIRS
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// A handle on the system's `nft` binary.
#[derive(Clone, Debug)]
pub struct Nft {
    path: PathBuf,
}

impl Nft {
    /// Finds `nft` in the system directories.
    pub fn locate() -> Result<Nft, NftError> {
        system_program("nft")
            .map(|path| Nft { path })
            .ok_or(NftError::NotFound)
    }

    /// Uses a specific binary (tests).
    pub fn with_path(path: impl Into<PathBuf>) -> Nft {
        Nft { path: path.into() }
    }

    /// The binary.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads a script atomically (`nft -f -`): all of it takes effect, or none.
    pub fn load(&self, script: &str) -> Result<(), NftError> {
        self.run(&["-f", "-"], Some(script)).map(|_| ())
    }

    /// Checks a script without applying it (`nft -c -f -`).
    pub fn check(&self, script: &str) -> Result<(), NftError> {
        self.run(&["-c", "-f", "-"], Some(script)).map(|_| ())
    }

    /// Runs `nft` with fixed arguments and returns stdout (e.g. `["-j", "list", "table", "inet", "tollguard"]`).
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String, NftError> {
        let mut cmd = Command::new(&self.path);
        cmd.args(args);
        run_command(cmd, &self.path, stdin)
    }

    /// A long-lived interactive session on this binary, for frequent small batches.
    pub fn session(&self) -> NftSession {
        NftSession::new(self.clone())
    }
}

/// Runs a prepared `nft` command to its end and returns stdout; `path` names it in errors.
fn run_command(mut cmd: Command, path: &Path, stdin: Option<&str>) -> Result<String, NftError> {
    let io = |source| NftError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io)?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).map_err(io)?;
    }
    let out = child.wait_with_output().map_err(io)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(NftError::Refused {
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}
