//! Apply, confirm, rollback and the watchdog, with their state directory
//! (`<daemon.state_dir>/firewall/`, default `/var/lib/tollguard/firewall/`):
//!
//! - `current.nft`: the policy script last loaded;
//! - `previous.nft` (or `previous.none` when there was no policy): what `rollback` restores;
//! - `previous-table.json`: `nft -j list table inet tollguard` as it was before the last apply;
//! - `pending`: `<id> <deadline unix seconds>` while an apply waits for `confirm`;
//! - `names.json`: the trusted names and the addresses now in the kernel sets;
//! - `watchdog.log`: what the watchdog did.
//!
//! An apply that is not confirmed in time is rolled back by a detached watchdog process (its own
//! session, so closing the terminal — or losing the SSH connection — does not stop it).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tg_nft::{Nft, TABLE};

use crate::dns::Resolved;
use crate::render::{self, Live, Script};
use crate::FwError;

/// The firewall's state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    dir: PathBuf,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> FwError + '_ {
    move |source| FwError::State {
        path: path.to_path_buf(),
        source,
    }
}

impl StateDir {
    /// `<state_dir>/firewall`.
    pub fn new(daemon_state_dir: &Path) -> StateDir {
        StateDir {
            dir: daemon_state_dir.join("firewall"),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn ensure(&self) -> Result<(), FwError> {
        std::fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io_err(&self.dir))
    }

    /// Takes the directory's exclusive lock (`flock` on `.lock`), so that an apply, a confirm,
    /// a rollback and the watchdog's last check never interleave. Released on drop.
    fn lock(&self) -> Result<Lock, FwError> {
        use std::os::fd::AsRawFd;
        self.ensure()?;
        let p = self.file(".lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io_err(&p))?;
        // SAFETY: flock on a file descriptor we own; no memory is shared.
        // flock: std::fs::File::lock needs Rust 1.89, the MSRV is 1.85.
        #[allow(unsafe_code)]
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io_err(&p)(std::io::Error::last_os_error()));
        }
        Ok(Lock { _file: f })
    }

    fn read(&self, name: &str) -> Result<Option<String>, FwError> {
        let p = self.file(name);
        match std::fs::read_to_string(&p) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&p)(e)),
        }
    }

    /// Writes via a temporary file and rename, so a crash never leaves half a file.
    fn write(&self, name: &str, text: &str) -> Result<(), FwError> {
        let p = self.file(name);
        let tmp = self.file(&format!(".{name}.tmp"));
        std::fs::write(&tmp, text).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &p).map_err(io_err(&p))
    }

    fn remove(&self, name: &str) -> Result<(), FwError> {
        let p = self.file(name);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(&p)(e)),
            _ => Ok(()),
        }
    }

    /// The pending apply: its id and deadline (unix seconds).
    pub fn pending(&self) -> Result<Option<(String, u64)>, FwError> {
        Ok(self.read("pending")?.and_then(|s| {
            let mut f = s.split_whitespace();
            Some((f.next()?.to_string(), f.next()?.parse().ok()?))
        }))
    }

    /// The names and the addresses now loaded for them.
    pub fn names(&self) -> Result<Resolved, FwError> {
        let Some(text) = self.read("names.json")? else {
            return Ok(Resolved::new());
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let mut out = Resolved::new();
        for (name, addrs) in v.as_object().into_iter().flatten() {
            let addrs: Vec<IpAddr> = addrs
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str()?.parse().ok())
                .collect();
            out.insert(name.clone(), addrs);
        }
        Ok(out)
    }

    /// Records the names and their loaded addresses.
    pub fn save_names(&self, names: &Resolved) -> Result<(), FwError> {
        let map: BTreeMap<&String, Vec<String>> = names
            .iter()
            .map(|(n, a)| (n, a.iter().map(|a| a.to_string()).collect()))
            .collect();
        self.ensure()?;
        self.write(
            "names.json",
            &serde_json::to_string_pretty(&map).unwrap_or_default(),
        )
    }

    fn log(&self, line: &str) {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.file("watchdog.log"))
        {
            let _ = writeln!(f, "{} {line}", unix_now());
        }
    }
}

/// Holds [`StateDir::lock`] until dropped (closing the file releases the `flock`).
struct Lock {
    _file: std::fs::File,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The live `fw_*` objects (none when the table does not exist).
pub fn live_objects(nft: &Nft) -> Live {
    match nft.run(&["-j", "list", "table", "inet", TABLE], None) {
        Ok(json) => Live::from_json(&json),
        Err(_) => Live::default(),
    }
}

/// What an apply did.
#[derive(Clone, Debug)]
pub struct Applied {
    /// The id the watchdog and `confirm` know this apply by, when a confirmation is awaited.
    pub pending_id: Option<String>,
}

/// Loads `script` atomically (removing `fw_*` objects it no longer has) and records the
/// previous policy for `rollback`.
///
/// With `confirm_within`, the apply is recorded as pending and `arm` is called with its id
/// *before* anything is loaded: it must start the watchdog (see [`spawn_detached`]). Whatever
/// happens to this process after the load (killed, its terminal gone, a broken pipe), a policy
/// that was loaded always has a watchdog that rolls it back unless confirmed. When `arm` fails,
/// nothing is loaded; when the load fails, the pending record goes and the watchdog exits.
pub fn apply(
    nft: &Nft,
    dir: &StateDir,
    script: &Script,
    names: &Resolved,
    confirm_within: Option<Duration>,
    arm: impl FnOnce(&str) -> Result<(), FwError>,
) -> Result<Applied, FwError> {
    let _lock = dir.lock()?;
    let already_pending = dir.pending()?.is_some();
    if let Ok(json) = nft.run(&["-j", "list", "table", "inet", TABLE], None) {
        dir.write("previous-table.json", &json)?;
    }
    // While an earlier apply still awaits confirmation, the known-good state is the one before
    // it: keep that as the rollback target.
    if !already_pending {
        match dir.read("current.nft")? {
            Some(prev) => {
                dir.write("previous.nft", &prev)?;
                dir.remove("previous.none")?;
            }
            None => {
                dir.write("previous.none", "no firewall policy was loaded before\n")?;
                dir.remove("previous.nft")?;
            }
        }
    }
    let pending_id = match confirm_within {
        Some(d) if !d.is_zero() => {
            let id = format!("{}-{}", unix_now(), std::process::id());
            dir.write(
                "pending",
                &format!("{id} {}\n", unix_now() + d.as_secs().max(1)),
            )?;
            if let Err(e) = arm(&id) {
                dir.remove("pending")?;
                return Err(e);
            }
            Some(id)
        }
        _ => None,
    };
    let full = render::reconcile(&script.text, &live_objects(nft));
    if let Err(e) = nft.load(&full) {
        if pending_id.is_some() {
            dir.remove("pending")?;
        }
        return Err(e.into());
    }
    dir.write("current.nft", &script.text)?;
    dir.save_names(names)?;
    if pending_id.is_none() {
        dir.remove("pending")?;
    }
    Ok(Applied { pending_id })
}

/// Rolls back a pending apply whose deadline passed more than [`EXPIRED_GRACE`] ago: its
/// watchdog is gone (killed, the machine rebooted). Every tollguard command that manages the
/// firewall, and the daemon, calls this first. Returns what it did, `None` when nothing was
/// pending or the deadline is not past.
pub fn rollback_if_expired(nft: &Nft, dir: &StateDir) -> Result<Option<String>, FwError> {
    if dir.pending()?.is_none() {
        return Ok(None);
    }
    let _lock = dir.lock()?;
    let Some((id, deadline)) = dir.pending()? else {
        return Ok(None);
    };
    if unix_now() < deadline.saturating_add(EXPIRED_GRACE.as_secs()) {
        return Ok(None);
    }
    let what = rollback_locked(nft, dir)?;
    dir.log(&format!(
        "apply {id} was still pending {}s after its deadline (no watchdog rolled it back): {what}",
        unix_now().saturating_sub(deadline)
    ));
    Ok(Some(format!("apply {id} was never confirmed: {what}")))
}

/// How long after a pending apply's deadline its own watchdog is given before another start
/// rolls it back.
pub const EXPIRED_GRACE: Duration = Duration::from_secs(5);

/// Confirms the pending apply; `false` when none was pending.
pub fn confirm(dir: &StateDir) -> Result<bool, FwError> {
    let _lock = dir.lock()?;
    let pending = dir.pending()?.is_some();
    dir.remove("pending")?;
    Ok(pending)
}

/// Restores the previous policy (or removes ours when there was none before). Returns a
/// sentence saying which.
pub fn rollback(nft: &Nft, dir: &StateDir) -> Result<String, FwError> {
    let _lock = dir.lock()?;
    rollback_locked(nft, dir)
}

fn rollback_locked(nft: &Nft, dir: &StateDir) -> Result<String, FwError> {
    let previous = dir.read("previous.nft")?;
    let none = dir.read("previous.none")?.is_some();
    let (script, what) = match (previous, none) {
        (Some(p), _) => (p, "restored the previous firewall policy"),
        (None, true) => (
            String::new(),
            "removed the firewall policy (there was none before it)",
        ),
        (None, false) => {
            return Err(FwError::NothingToRollBack {
                dir: dir.path().to_path_buf(),
            })
        }
    };
    let full = render::reconcile(&script, &live_objects(nft));
    if !full.trim().is_empty() {
        nft.load(&full)?;
    }
    if script.is_empty() {
        dir.remove("current.nft")?;
    } else {
        dir.write("current.nft", &script)?;
    }
    dir.remove("previous.nft")?;
    dir.remove("previous.none")?;
    dir.remove("pending")?;
    Ok(what.to_string())
}

/// The watchdog's body: waits until `after` has passed; if apply `id` is still pending then,
/// rolls back. Returns early (`Ok(false)`) as soon as it is confirmed or superseded.
pub fn watchdog(nft: &Nft, dir: &StateDir, id: &str, after: Duration) -> Result<bool, FwError> {
    let until = Instant::now() + after;
    loop {
        match dir.pending()? {
            Some((pending, _)) if pending == id => {}
            _ => {
                dir.log(&format!(
                    "apply {id} confirmed or superseded; watchdog exits"
                ));
                return Ok(false);
            }
        }
        if Instant::now() >= until {
            break;
        }
        std::thread::sleep(
            Duration::from_millis(200).min(until.saturating_duration_since(Instant::now())),
        );
    }
    // Confirmed between the last look and now? Decide under the lock.
    let _lock = dir.lock()?;
    if dir.pending()?.is_none_or(|(pending, _)| pending != id) {
        dir.log(&format!(
            "apply {id} confirmed at the last moment; watchdog exits"
        ));
        return Ok(false);
    }
    let result = rollback_locked(nft, dir);
    match &result {
        Ok(what) => dir.log(&format!(
            "apply {id} not confirmed within {}s: {what}",
            after.as_secs()
        )),
        Err(e) => dir.log(&format!("apply {id} not confirmed; rollback failed: {e}")),
    }
    result.map(|_| true)
}

/// Starts `program args…` detached: its own session (`setsid`), no terminal, stdio to
/// /dev/null, so it survives the terminal and the SSH session that started it.
// setsid between fork and exec (pre_exec) is unsafe by its contract.
#[allow(unsafe_code)]
pub fn spawn_detached(program: &Path, args: &[std::ffi::OsString]) -> Result<u32, FwError> {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: setsid() is async-signal-safe and touches no memory of the parent; it is the
    // only call made between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(io_err(program))?;
    Ok(child.id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_confirm_and_names_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        dir.ensure().unwrap();
        assert_eq!(dir.pending().unwrap(), None);
        dir.write("pending", "abc 123\n").unwrap();
        assert_eq!(dir.pending().unwrap(), Some(("abc".into(), 123)));
        assert!(confirm(&dir).unwrap());
        assert!(!confirm(&dir).unwrap());
        let mut names = Resolved::new();
        names.insert(
            "a.example".into(),
            vec!["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()],
        );
        dir.save_names(&names).unwrap();
        assert_eq!(dir.names().unwrap(), names);
        let nothing = rollback(&Nft::with_path("/nonexistent/nft"), &dir).unwrap_err();
        assert!(
            matches!(nothing, FwError::NothingToRollBack { .. }),
            "{nothing}"
        );
    }
}
