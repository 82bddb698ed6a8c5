//! The control socket: a Unix socket created mode 0600, answering one JSON request per
//! connection (see [`crate::protocol`]) for root or the daemon's own user only (SO_PEERCRED).

use std::io::{self, Write};
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tg_model::{canonical_ip, TrustedSet};

use crate::enforcer::{now_ms, BanRequest, EnforceMsg};
use crate::pipeline::PipelineMsg;
use crate::protocol::{read_request, BanView, Counters, Request, Response, StatusReport};
use crate::stats::Stats;
use crate::{error_chain, DaemonError, ReloadError};

/// A manual ban without `--for` lasts a day.
pub const MANUAL_BAN_SECS: u64 = 86_400;
/// How long a client may take to send its request.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a request may take inside the daemon (a reload re-reads and rebuilds everything).
const WORK_TIMEOUT: Duration = Duration::from_secs(30);

/// What the main thread is asked to do.
pub enum MainMsg {
    /// Reload the configuration (SIGHUP has no one to answer to).
    Reload(Option<Sender<Result<String, ReloadError>>>),
    /// Shut down (SIGTERM, SIGINT).
    Stop,
}

/// What the control thread needs to answer.
pub struct ControlContext {
    /// The detection thread.
    pub pipeline: Sender<PipelineMsg>,
    /// The enforcer thread.
    pub enforce: Sender<EnforceMsg>,
    /// The main thread (reload).
    pub main: Sender<MainMsg>,
    /// Counters.
    pub stats: Arc<Stats>,
    /// The trusted set in force (manual bans of trusted addresses are refused).
    pub trusted: Arc<RwLock<TrustedSet>>,
    /// Enabled jail names (replaced on reload).
    pub jails: Arc<Mutex<Vec<String>>>,
    /// Journal matches followed.
    pub journal: Vec<String>,
    /// The configuration file.
    pub config: PathBuf,
    /// When the daemon started.
    pub started: Instant,
    /// The store, read (on its own read-only connection) for `status`'s count of bans.
    pub store_path: std::path::PathBuf,
}

/// Binds the socket with mode 0600 from the start (umask), refusing if a daemon already
/// answers there and removing a stale socket file otherwise.
// umask: the socket is created 0600 from the start.
#[allow(unsafe_code)]
pub fn bind(path: &Path) -> Result<UnixListener, DaemonError> {
    let err = |source| DaemonError::Socket {
        path: path.to_path_buf(),
        source,
    };
    if std::fs::symlink_metadata(path).is_ok() {
        if UnixStream::connect(path).is_ok() {
            return Err(DaemonError::AlreadyRunning(path.to_path_buf()));
        }
        remove_socket(path).map_err(err)?;
    }
    // SAFETY: umask only swaps the process's file-creation mask; no memory is involved.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above, restoring the previous mask.
    unsafe { libc::umask(old) };
    let listener = bound.map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    Ok(listener)
}

/// Removes the socket file at `path`, and nothing else: a regular file, a directory or a
/// symlink there (even one pointing at a socket) is refused with an error that says what it is,
/// since root deleting whatever a config names is an attack. A missing file is fine.
pub fn remove_socket(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let kind = meta.file_type();
    if !kind.is_socket() {
        let what = if kind.is_symlink() {
            "a symbolic link"
        } else if kind.is_dir() {
            "a directory"
        } else if kind.is_file() {
            "a regular file"
        } else {
            "not a socket"
        };
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{what} is in the way; tollguard removes only its own socket there"),
        ));
    }
    std::fs::remove_file(path)
}

/// Answers connections until the listener fails (it is closed at shutdown).
pub fn serve(listener: UnixListener, ctx: ControlContext) {
    for conn in listener.incoming() {
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("control socket: {e}");
                continue;
            }
        };
        if let Err(e) = answer(stream, &ctx) {
            tracing::debug!("control client: {e}");
        }
    }
}

fn answer(mut stream: UnixStream, ctx: &ControlContext) -> io::Result<()> {
    let response = match peer_allowed(&stream) {
        Ok(true) => {
            stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
            match read_request(&stream)? {
                Ok(request) => dispatch(request, ctx),
                Err(e) => Response::failed(e),
            }
        }
        Ok(false) => {
            Response::failed("permission denied: only root or the daemon's user may control it")
        }
        Err(e) => Response::failed(format!("cannot check the caller: {e}")),
    };
    let mut out = serde_json::to_vec(&response).map_err(io::Error::other)?;
    out.push(b'\n');
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    stream.write_all(&out)
}

/// True when the peer is root or runs as the daemon's effective user.
// getsockopt(SO_PEERCRED) and geteuid have no safe std equivalent.
#[allow(unsafe_code)]
fn peer_allowed(stream: &UnixStream) -> io::Result<bool> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: u32::MAX,
        gid: u32::MAX,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes of the sizes given; the fd is open.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: geteuid cannot fail and touches no memory.
    let me = unsafe { libc::geteuid() };
    Ok(cred.uid == 0 || cred.uid == me)
}

fn dispatch(request: Request, ctx: &ControlContext) -> Response {
    match request {
        Request::Status => status(ctx),
        Request::Bans => match ask(&ctx.enforce, EnforceMsg::List) {
            Ok(Ok(bans)) => Response {
                ok: true,
                bans: Some(bans.iter().map(ban_view).collect()),
                ..Response::default()
            },
            Ok(Err(e)) => Response::failed(e.to_string()),
            Err(e) => Response::failed(e),
        },
        Request::Ban { ip, secs } => ban(ctx, ip, secs.unwrap_or(MANUAL_BAN_SECS)),
        Request::Unban { ip: net } => {
            let net = tg_model::canonical_net(net);
            let ip = tg_model::net_text(net);
            match ask(&ctx.enforce, |tx| EnforceMsg::Unban(net, tx)) {
                Ok(Ok(was)) => {
                    let _ = ctx.pipeline.send(PipelineMsg::Unbanned(net));
                    Response::done(if was {
                        format!("unbanned {ip}")
                    } else {
                        format!(
                            "{ip} was not banned in the store; removed from the kernel sets anyway"
                        )
                    })
                }
                Ok(Err(e)) => Response::failed(format!("unban {ip}: {e}")),
                Err(e) => Response::failed(format!("unban {ip}: {e}")),
            }
        }
        Request::Reload => match ask(&ctx.main, |tx| MainMsg::Reload(Some(tx))) {
            Ok(Ok(message)) => Response::done(message),
            Ok(Err(e)) => Response::failed(error_chain(&e)),
            Err(e) => Response::failed(e),
        },
    }
}

fn ban(ctx: &ControlContext, ip: IpAddr, secs: u64) -> Response {
    let ip = canonical_ip(ip);
    if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() {
        return Response::failed(format!(
            "refusing to ban {ip}: not a unicast remote address"
        ));
    }
    let trusted = ctx.trusted.read().map(|t| t.contains(ip)).unwrap_or(true);
    if trusted {
        return Response::failed(format!(
            "refusing to ban {ip}: it is trusted ([trusted] or this host's own address)"
        ));
    }
    if secs == 0 {
        return Response::failed("the ban must last at least 1s");
    }
    let request = BanRequest {
        ip: ip.into(),
        jail: "manual".to_string(),
        secs,
        reason: "manual".to_string(),
        count: 0,
        ban_number: 1,
    };
    ctx.stats
        .queued_bans
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match ask(&ctx.enforce, |tx| EnforceMsg::BanAndReply(request, tx)) {
        Ok(Ok(())) => {
            let until = now_ms().saturating_add((secs as i64).saturating_mul(1000));
            let _ = ctx.pipeline.send(PipelineMsg::Banned(ip, until));
            Response::done(format!(
                "banned {ip} for {}",
                tg_model::format_duration(secs)
            ))
        }
        Ok(Err(e)) => Response::failed(format!("ban {ip}: {e}")),
        Err(e) => Response::failed(format!("ban {ip}: {e}")),
    }
}

fn status(ctx: &ControlContext) -> Response {
    let files = ask(&ctx.pipeline, PipelineMsg::Files).unwrap_or_default();
    // Counted here, not by the enforcer thread: listing 100,000 bans there cost it 50-100 ms per
    // `status`, and a new attacker's ban waited behind it.
    let counted = tg_store::SqliteStore::open_read_only(&ctx.store_path)
        .and_then(|mut s| tg_store::Store::count_active_bans(&mut s, crate::enforcer::now_ms()));
    let active = counted.unwrap_or_else(|e| {
        tracing::warn!("status: counting the active bans: {e}");
        0
    });
    let s = &ctx.stats;
    let g = Stats::get;
    let counters = Counters {
        lines: g(&s.lines),
        bytes: g(&s.bytes),
        findings: g(&s.findings),
        suspicious: g(&s.suspicious),
        resolved: g(&s.resolved),
        trusted_findings: g(&s.trusted_findings),
        external_findings: g(&s.external_findings),
        decisions: g(&s.decisions),
        bans_applied: g(&s.bans_applied),
        ban_batches: g(&s.ban_batches),
        ban_errors: g(&s.ban_errors),
        unbans: g(&s.unbans),
        long_lines: g(&s.long_lines),
        rotations: g(&s.rotations),
        truncations: g(&s.truncations),
        journal_entries: g(&s.journal_entries),
        restored: g(&s.restored),
        restore_ms: s.restore_ms.load(std::sync::atomic::Ordering::Relaxed),
        reloads: g(&s.reloads),
        guard_restarts: g(&s.guard_restarts),
        tracked: g(&s.tracked),
        evicted: g(&s.evicted),
        aggregated: g(&s.aggregated),
        offenders_forgotten: g(&s.offenders_forgotten),
    };
    let report = StatusReport {
        version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        uptime_secs: ctx.started.elapsed().as_secs(),
        config: ctx.config.display().to_string(),
        jails: ctx.jails.lock().map(|j| j.clone()).unwrap_or_default(),
        files,
        journal: ctx.journal.clone(),
        trusted: ctx.trusted.read().map(|t| t.networks().len()).unwrap_or(0),
        active_bans: active,
        counters,
    };
    Response {
        ok: true,
        status: Some(report),
        ..Response::default()
    }
}

/// Sends a request carrying a reply channel and waits for the answer.
fn ask<M, T>(to: &Sender<M>, make: impl FnOnce(Sender<T>) -> M) -> Result<T, String> {
    let (tx, rx) = mpsc::channel();
    to.send(make(tx))
        .map_err(|_| "the daemon is shutting down".to_string())?;
    rx.recv_timeout(WORK_TIMEOUT)
        .map_err(|_| "the daemon did not answer in time".to_string())
}

/// A store record as `tollguard bans` shows it.
pub fn ban_view(b: &tg_store::BanRecord) -> BanView {
    BanView {
        ip: tg_model::net_text(b.ip),
        jail: b.jail.clone(),
        since: rfc3339(b.since_ms),
        until: rfc3339(b.until_ms),
        reason: b.reason.clone(),
        count: b.count,
    }
}

/// `2026-11-25T10:00:01Z` for Unix milliseconds.
pub fn rfc3339(unix_ms: i64) -> String {
    // Whole seconds, rounded down (also before 1970); jiff prints no fraction for them.
    jiff::Timestamp::from_second(unix_ms.div_euclid(1000))
        .map(|t| t.to_string())
        .unwrap_or_else(|_| unix_ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_socket_is_ever_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tollguard.sock");
        // A regular file, a directory and a symlink to a socket at the configured path stay.
        std::fs::write(&path, b"precious").unwrap();
        let e = bind(&path).expect_err("a regular file is in the way");
        assert!(anyhow_chain(&e).contains("a regular file"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert!(remove_socket(&path).is_err());
        assert!(path.is_dir());
        std::fs::remove_dir(&path).unwrap();
        let real = dir.path().join("real.sock");
        let _stale = UnixListener::bind(&real).unwrap();
        std::os::unix::fs::symlink(&real, &path).unwrap();
        assert!(remove_socket(&path).is_err());
        assert!(real.exists() && std::fs::symlink_metadata(&path).is_ok());
        std::fs::remove_file(&path).unwrap();
        // A stale socket of ours is replaced; a missing one is fine.
        drop(UnixListener::bind(&path).unwrap());
        let listener = bind(&path).expect("a stale socket is replaced");
        drop(listener);
        remove_socket(&path).unwrap();
        assert!(std::fs::symlink_metadata(&path).is_err());
        remove_socket(&path).unwrap();
    }

    #[test]
    fn times_are_rfc3339_in_whole_utc_seconds() {
        assert_eq!(rfc3339(1_795_600_801_000), "2026-11-25T10:00:01Z");
        assert_eq!(rfc3339(1_795_600_801_999), "2026-11-25T10:00:01Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(i64::MAX), i64::MAX.to_string());
    }

    /// The error with its sources, as the binary prints it.
    fn anyhow_chain(e: &DaemonError) -> String {
        let mut out = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            out.push_str(": ");
            out.push_str(&s.to_string());
            source = s.source();
        }
        out
    }
}
