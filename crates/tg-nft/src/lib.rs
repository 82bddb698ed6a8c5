//! nftables: the one place that runs `nft`.
//!
//! Scripts are built from typed, validated values and loaded with `nft -f -` (the script on
//! stdin, argv fixed), so each load is one atomic kernel transaction and no shell ever sees a
//! built string. The binary is looked up only in the system directories, never via `PATH`.
//!
//! The `inet tollguard` table is shared by two owners, which must never destroy each other's
//! objects (so neither ever deletes or flushes the whole table):
//! - the ban enforcer ([`bans`]): sets `banned_v4` / `banned_v6` (`flags timeout`: single
//!   addresses), `banned_nets_v4` / `banned_nets_v6` (`flags interval, timeout`: prefixes) and
//!   the base chain `bans` (hook input, priority [`BAN_CHAIN_PRIORITY`]) that drops their
//!   members;
//! - the firewall policy (tg-firewall): every other object, named with the `fw_` prefix.
//!
//! The frequent writes — ban set elements, up to 100,000 at a time — skip the `nft` program:
//! [`elements::SetWriter`] sends them as nf_tables netlink batches from inside the process (no
//! process start, no text to render and parse), over the small hand-written netlink layer in
//! [`netlink`] that tg-enforce's conntrack code shares.

pub mod bans;
pub mod elements;
pub mod netlink;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The table both owners share (family `inet`).
pub const TABLE: &str = "tollguard";
/// The ban set for IPv4 addresses.
pub const BANNED_V4: &str = "banned_v4";
/// The ban set for IPv6 addresses.
pub const BANNED_V6: &str = "banned_v6";
/// The ban set for IPv4 prefixes (an interval set).
pub const BANNED_NETS_V4: &str = "banned_nets_v4";
/// The ban set for IPv6 prefixes (an interval set).
pub const BANNED_NETS_V6: &str = "banned_nets_v6";
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
    /// The kernel refused a netlink transaction (none of that transaction took effect).
    #[error("the kernel refused {what}: {}{}", errno_text(*errno), message.as_ref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Kernel {
        /// Which message of the transaction, e.g. "adding 1000 element(s) to inet tollguard banned_v4".
        what: String,
        /// The errno the kernel answered.
        errno: i32,
        /// The kernel's extended-ack text, if any.
        message: Option<String>,
    },
    /// The netlink socket failed (opening, sending, or no answer).
    #[error("{what}: {source}")]
    Netlink {
        /// What was being done.
        what: String,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

impl NftError {
    /// True when the kernel said the table or set does not exist (`ENOENT`): someone removed
    /// the ban objects (`nft flush ruleset`); re-create them and retry.
    pub fn objects_missing(&self) -> bool {
        matches!(self, NftError::Kernel { errno, .. } if *errno == libc::ENOENT)
    }

    /// True when the kernel refused an add because the set is at its `size` (`ENFILE`; some
    /// kernels say `ENOSPC`).
    pub fn set_full(&self) -> bool {
        matches!(self, NftError::Kernel { errno, .. } if *errno == libc::ENFILE || *errno == libc::ENOSPC)
    }

    /// True when `nft` or the kernel refused the change (as opposed to failing to run or talk).
    pub fn is_refusal(&self) -> bool {
        matches!(self, NftError::Refused { .. } | NftError::Kernel { .. })
    }

    /// The same error, saying it happened in transaction `n` of `of` (earlier ones took effect).
    pub(crate) fn in_transaction(self, n: usize, of: usize) -> NftError {
        let prefix = |what: String| format!("transaction {n} of {of} ({what})");
        match self {
            NftError::Kernel {
                what,
                errno,
                message,
            } => NftError::Kernel {
                what: prefix(what),
                errno,
                message,
            },
            NftError::Netlink { what, source } => NftError::Netlink {
                what: prefix(what),
                source,
            },
            other => other,
        }
    }
}

/// The errno's text plus what it means for a set-element change.
fn errno_text(errno: i32) -> String {
    let hint = match errno {
        libc::ENOENT => " — the table or set is missing",
        libc::EPERM => " — needs CAP_NET_ADMIN in this network namespace",
        libc::ENOSPC | libc::ENFILE => " — the set is full",
        libc::EMSGSIZE => " — the batch is too big for the socket",
        libc::EBUSY => " — an element clashes with an existing one",
        _ => "",
    };
    format!("{}{hint}", std::io::Error::from_raw_os_error(errno))
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
}

/// Runs a prepared `nft` command to its end and returns stdout; `path` names it in errors.
fn run_command(cmd: Command, path: &Path, stdin: Option<&str>) -> Result<String, NftError> {
    let out = program_output(cmd, stdin).map_err(|source| NftError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(NftError::Refused {
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Runs a prepared command (argv only, no shell) to its end with `stdin` written to it, and
/// returns its output whatever its exit status. A program that exits before reading all of
/// `stdin` closes the pipe: then its exit status tells why, and the write error counts only
/// when it claims success. The one way tollguard runs a firewall program (tg-enforce's
/// iptables and ipset too).
pub fn program_output(
    mut cmd: Command,
    stdin: Option<&str>,
) -> std::io::Result<std::process::Output> {
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let written = pipe.write_all(text.as_bytes());
        drop(pipe);
        let out = child.wait_with_output()?;
        return match written {
            Err(e) if out.status.success() => Err(e),
            _ => Ok(out),
        };
    }
    child.wait_with_output()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_refusals_say_what_and_why() {
        let missing = NftError::Kernel {
            what: "adding 3 element(s) to inet tollguard banned_v4".into(),
            errno: libc::ENOENT,
            message: Some("set not found".into()),
        };
        assert!(missing.objects_missing() && missing.is_refusal());
        let text = missing.in_transaction(2, 5).to_string();
        assert!(
            text.contains("transaction 2 of 5 (adding 3 element(s) to inet tollguard banned_v4)")
                && text.contains("the table or set is missing")
                && text.ends_with("(set not found)"),
            "{text}"
        );
        let denied = NftError::Kernel {
            what: "x".into(),
            errno: libc::EPERM,
            message: None,
        };
        assert!(!denied.objects_missing());
        assert!(denied.to_string().contains("CAP_NET_ADMIN"));
        let io = NftError::Netlink {
            what: "sending".into(),
            source: std::io::ErrorKind::TimedOut.into(),
        };
        assert!(!io.is_refusal() && !io.objects_missing());
    }
}
