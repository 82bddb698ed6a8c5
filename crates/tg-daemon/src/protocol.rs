//! The control socket's protocol: one JSON request per line, one JSON response per line.
//!
//! ```text
//! → {"cmd":"status"}                      ← {"ok":true,"status":{…}}
//! → {"cmd":"bans"}                        ← {"ok":true,"bans":[{"ip":…,"jail":…,…}]}
//! → {"cmd":"ban","ip":"198.51.100.7","secs":3600}   ← {"ok":true,"message":"…"}
//! → {"cmd":"unban","ip":"198.51.100.7"}   ← {"ok":true,"message":"…"}
//! → {"cmd":"unban","ip":"2001:db8:1:2::/64"}  (a banned prefix)
//! → {"cmd":"reload"}                      ← {"ok":false,"error":"t.toml:3: …"}
//! ```
//! The client half ([`call`]) is what `tollguard status|bans|ban|unban|reload` use.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The longest request line the daemon reads.
pub const MAX_REQUEST: usize = 4096;

/// What a client asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase", deny_unknown_fields)]
pub enum Request {
    /// Counters, sources, jails.
    Status,
    /// The active bans.
    Bans,
    /// Ban an address now, for `secs` (default: the `manual` ban time, one day).
    Ban {
        /// Whom.
        ip: IpAddr,
        /// How long, seconds.
        #[serde(default)]
        secs: Option<u64>,
    },
    /// Lift a ban now.
    Unban {
        /// Whom: an address, or a banned prefix (`2001:db8:1:2::/64`).
        #[serde(with = "target")]
        ip: ipnet::IpNet,
    },
    /// Re-read the configuration file.
    Reload,
}

/// An address or prefix in its text form (`tg_model::net_text`, `tg_model::parse_net`).
mod target {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(net: &ipnet::IpNet, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&tg_model::net_text(*net))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ipnet::IpNet, D::Error> {
        let text = String::deserialize(d)?;
        tg_model::parse_net(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("{text:?} is not an address or prefix"))
        })
    }
}

/// The daemon's answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// False when the request failed; `error` says why.
    pub ok: bool,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A sentence about what was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusReport>,
    /// For `bans`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bans: Option<Vec<BanView>>,
}

impl Response {
    /// A success with a message.
    pub fn done(message: impl Into<String>) -> Response {
        Response {
            ok: true,
            message: Some(message.into()),
            ..Response::default()
        }
    }

    /// A failure.
    pub fn failed(error: impl Into<String>) -> Response {
        Response {
            ok: false,
            error: Some(error.into()),
            ..Response::default()
        }
    }
}

/// One active ban as `tollguard bans --format json` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanView {
    /// The banned address, or prefix (`2001:db8:1:2::/64`).
    pub ip: String,
    /// The jail that banned it (`manual` for `tollguard ban`).
    pub jail: String,
    /// When the ban started, RFC 3339 UTC.
    pub since: String,
    /// When it ends, RFC 3339 UTC.
    pub until: String,
    /// Why (`sip auth-failure`, `manual`).
    pub reason: String,
    /// Counted attempts that led to the ban.
    pub count: u32,
}

/// `tollguard status`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Daemon version.
    pub version: String,
    /// Process id.
    pub pid: u32,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// The configuration file.
    pub config: String,
    /// Enabled jails.
    pub jails: Vec<String>,
    /// Followed files.
    pub files: Vec<FileReport>,
    /// Journal matches followed (empty when none or journalctl is missing).
    pub journal: Vec<String>,
    /// Trusted networks in force (configured, resolved and the host's own).
    pub trusted: usize,
    /// Active bans in the store.
    pub active_bans: usize,
    /// Counters.
    pub counters: Counters,
}

/// One followed file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReport {
    /// The path.
    pub path: String,
    /// Whether it exists and is open.
    pub open: bool,
    /// Offset just past the last complete line read.
    pub offset: u64,
    /// Lines read from it.
    pub lines: u64,
}

/// The counters of [`crate::stats::Stats`], as numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Lines read.
    pub lines: u64,
    /// Bytes read from files.
    pub bytes: u64,
    /// Findings.
    pub findings: u64,
    /// Suspicious lines without a trustworthy address.
    pub suspicious: u64,
    /// Lines naming several candidate addresses that the kernel's connection tracking settled.
    #[serde(default)]
    pub resolved: u64,
    /// Findings about trusted addresses.
    pub trusted_findings: u64,
    /// Findings from the call guard.
    pub external_findings: u64,
    /// Ban decisions.
    pub decisions: u64,
    /// Bans applied.
    pub bans_applied: u64,
    /// Ban batches applied.
    pub ban_batches: u64,
    /// Ban errors.
    pub ban_errors: u64,
    /// Manual unbans.
    pub unbans: u64,
    /// Over-long lines skipped.
    pub long_lines: u64,
    /// Rotations seen.
    pub rotations: u64,
    /// Truncations seen.
    pub truncations: u64,
    /// Journal entries read.
    pub journal_entries: u64,
    /// Bans restored at start.
    pub restored: u64,
    /// Restore duration, ms (-1 while running).
    pub restore_ms: i64,
    /// Successful reloads.
    pub reloads: u64,
    /// Times the AMI call guard failed and was restarted.
    #[serde(default)]
    pub guard_restarts: u64,
    /// Sources (addresses and prefixes) the jails hold counters for now.
    #[serde(default)]
    pub tracked: u64,
    /// Sources evicted at a jail's `max_tracked` cap.
    #[serde(default)]
    pub evicted: u64,
    /// Addresses banned as their prefix because a kernel ban set was full.
    #[serde(default)]
    pub aggregated: u64,
    /// Offender histories forgotten past `forget_offenders_after`.
    #[serde(default)]
    pub offenders_forgotten: u64,
}

/// Reads one request the way the daemon does: the first line of at most [`MAX_REQUEST`] bytes,
/// trimmed, as JSON. `Err` when the connection fails or the bytes are not UTF-8 (the client gets
/// no answer); `Ok(Err(text))` when the line is not a request (the client is told why).
pub fn read_request(input: impl Read) -> std::io::Result<Result<Request, String>> {
    let mut line = String::new();
    BufReader::new(input.take(MAX_REQUEST as u64)).read_line(&mut line)?;
    Ok(serde_json::from_str::<Request>(line.trim()).map_err(|e| format!("bad request: {e}")))
}

/// Why a control command could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nobody listens there.
    #[error("cannot connect to {path} (is `tollguard run` running, and are you root?)")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The conversation broke off.
    #[error("talking to {path}")]
    Io {
        /// The socket.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The daemon answered something that is not a response.
    #[error("bad answer from {path}: {message}")]
    BadAnswer {
        /// The socket.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

/// Sends one request and waits (up to `timeout`) for the response.
pub fn call(socket: &Path, request: &Request, timeout: Duration) -> Result<Response, ClientError> {
    let io = |source| ClientError::Io {
        path: socket.to_path_buf(),
        source,
    };
    let mut stream = UnixStream::connect(socket).map_err(|source| ClientError::Connect {
        path: socket.to_path_buf(),
        source,
    })?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let mut line = serde_json::to_vec(request).map_err(|e| io(std::io::Error::other(e)))?;
    line.push(b'\n');
    stream.write_all(&line).map_err(io)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).map_err(io)?;
    serde_json::from_str(&answer).map_err(|e| ClientError::BadAnswer {
        path: socket.to_path_buf(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_garbage_is_refused() {
        let r: Request =
            serde_json::from_str(r#"{"cmd":"ban","ip":"2001:db8::1","secs":60}"#).unwrap();
        assert_eq!(
            r,
            Request::Ban {
                ip: "2001:db8::1".parse().unwrap(),
                secs: Some(60)
            }
        );
        let text = serde_json::to_string(&Request::Unban {
            ip: tg_model::parse_net("192.0.2.1").unwrap(),
        })
        .unwrap();
        assert_eq!(text, r#"{"cmd":"unban","ip":"192.0.2.1"}"#);
        let r: Request =
            serde_json::from_str(r#"{"cmd":"unban","ip":"2001:db8:1:2::/64"}"#).unwrap();
        assert_eq!(
            r,
            Request::Unban {
                ip: "2001:db8:1:2::/64".parse().unwrap()
            }
        );
        for bad in [
            r#"{"cmd":"ban","ip":"999.1.1.1"}"#,
            r#"{"cmd":"unban","ip":"2001:db8::/129"}"#,
            r#"{"cmd":"rm -rf"}"#,
            "not json",
        ] {
            assert!(serde_json::from_str::<Request>(bad).is_err(), "{bad}");
        }
    }
}
