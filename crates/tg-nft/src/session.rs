//! A long-lived `nft -i` process that loads one batch per line, for the daemon's frequent small
//! ban batches: no process start per batch (~2.5 ms each, and most of the daemon's CPU under a
//! flood).
//!
//! Protocol (nftables 1.0.x interactive mode, input on a pipe): each input line is parsed and
//! committed as one kernel transaction — several commands on one line, separated by `;`, all
//! take effect or none. A multi-line script is therefore joined into one line. nft keeps no exit
//! status per line and prints errors (`Error: …`, the offending line, a caret line) on stderr;
//! stdout is not used. So every batch is followed by a marker line, `tollguard_done_<n>`, which
//! is itself a syntax error: nft echoes it on stderr, after whatever the batch printed. The
//! stderr lines before the marker's own error record are the batch's; an `Error:` among them
//! means nft refused the batch (nothing of it was applied).
//!
//! Where interactive mode is the wrong tool, [`NftSession::load`] uses a one-shot `nft -f -`
//! (same transaction semantics): for scripts over [`SESSION_MAX_SCRIPT`] bytes (nft's line
//! editor reads a long line slower than `-f` reads a file: one element in a 10-element line
//! costs about the same as in `-f`, but 1,000 elements take 16 ms against 8 ms, 100,000 take
//! 1.9 s against 0.4 s; the break-even, process start included, is near 200 elements), for
//! scripts that are not one complete command per line, and for one
//! retry when the session died. nft's line editor keeps every line in its history, so the
//! process is replaced after [`SESSION_RECYCLE_BYTES`] of input, which bounds its memory;
//! `HOME` points nowhere so no `~/.nft.history` is written.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::{Nft, NftError};

/// Scripts longer than this (about 150 elements) go through `nft -f -`, which is faster then.
pub const SESSION_MAX_SCRIPT: usize = 4 * 1024;
/// The session process is replaced after this much input (its line history grows with it).
pub const SESSION_RECYCLE_BYTES: usize = 16 * 1024 * 1024;
/// How long one batch may take before the session is declared stuck and killed.
const BATCH_TIMEOUT: Duration = Duration::from_secs(60);
/// Stderr text kept for an error (a refused line is echoed whole).
const MAX_ERROR_CHARS: usize = 4096;
const MARKER_PREFIX: &str = "tollguard_done_";

/// One long-lived `nft -i`, started on first use and restarted after it dies.
#[derive(Debug)]
pub struct NftSession {
    nft: Nft,
    launcher: Vec<OsString>,
    live: Option<Live>,
    batches: u64,
    timeout: Duration,
}

#[derive(Debug)]
struct Live {
    child: Child,
    stdin: ChildStdin,
    stderr_lines: Receiver<String>,
    written: usize,
}

impl NftSession {
    /// A session on the system's `nft` (started lazily by the first [`NftSession::load`]).
    pub fn new(nft: Nft) -> NftSession {
        NftSession::with_launcher(nft, &[])
    }

    /// A session whose `nft` (session and fallback alike) runs as `launcher… <nft> …`; for
    /// tests, e.g. `["ip", "netns", "exec", NAME]` to stay inside a test namespace.
    pub fn with_launcher(nft: Nft, launcher: &[&str]) -> NftSession {
        NftSession {
            nft,
            launcher: launcher.iter().map(OsString::from).collect(),
            live: None,
            batches: 0,
            timeout: BATCH_TIMEOUT,
        }
    }

    /// The process id of the running `nft -i` (or of its launcher), if one is running.
    pub fn pid(&self) -> Option<u32> {
        self.live.as_ref().map(|l| l.child.id())
    }

    /// Loads a script as one transaction: all of it takes effect, or none. Scripts must be
    /// idempotent (a batch is retried once with `nft -f -` when the session dies mid-way, and
    /// nft may have committed it before dying): the ban scripts of [`crate::bans`] are.
    pub fn load(&mut self, script: &str) -> Result<(), NftError> {
        let Some(line) = one_line(script) else {
            return self.load_once(script);
        };
        if line.is_empty() {
            return Ok(());
        }
        match self.load_in_session(&line) {
            Err(NftError::Io { .. }) => {
                // The session died or hung: it is gone; this batch goes the slow way, the
                // next one starts a new session.
                self.stop();
                self.load_once(script)
            }
            other => other,
        }
    }

    fn command(&self) -> Command {
        let mut c = match self.launcher.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(self.nft.path());
                c
            }
            None => Command::new(self.nft.path()),
        };
        c.env_clear().env("HOME", "/nonexistent").env("LC_ALL", "C");
        c
    }

    fn io_error(&self, source: std::io::Error) -> NftError {
        NftError::Io {
            path: self.nft.path().to_path_buf(),
            source,
        }
    }

    /// `nft -f -`, once.
    fn load_once(&self, script: &str) -> Result<(), NftError> {
        let mut cmd = self.command();
        cmd.args(["-f", "-"]);
        crate::run_command(cmd, self.nft.path(), Some(script)).map(|_| ())
    }

    fn start(&mut self) -> Result<&mut Live, NftError> {
        if self
            .live
            .as_ref()
            .is_some_and(|l| l.written > SESSION_RECYCLE_BYTES)
        {
            self.stop();
        }
        if self.live.is_none() {
            let mut cmd = self.command();
            cmd.arg("-i")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().map_err(|e| self.io_error(e))?;
            let (Some(stdin), Some(stderr)) = (child.stdin.take(), child.stderr.take()) else {
                let _ = child.kill();
                let _ = child.wait();
                return Err(self.io_error(std::io::Error::other("nft -i without pipes")));
            };
            let (tx, stderr_lines) = mpsc::channel();
            std::thread::Builder::new()
                .name("nft-session-stderr".into())
                .spawn(move || {
                    let mut reader = BufReader::new(stderr);
                    let mut buf = Vec::new();
                    loop {
                        buf.clear();
                        match reader.read_until(b'\n', &mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {
                                let line = String::from_utf8_lossy(&buf);
                                if tx.send(line.trim_end_matches('\n').to_string()).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                })
                .map_err(|e| self.io_error(e))?;
            self.live = Some(Live {
                child,
                stdin,
                stderr_lines,
                written: 0,
            });
        }
        self.live.as_mut().ok_or_else(|| NftError::Io {
            path: "nft".into(),
            source: std::io::Error::other("no session"),
        })
    }

    fn load_in_session(&mut self, line: &str) -> Result<(), NftError> {
        self.batches += 1;
        let marker = format!("{MARKER_PREFIX}{}", self.batches);
        let timeout = self.timeout;
        let path = self.nft.path().to_path_buf();
        let io = |source| NftError::Io {
            path: path.clone(),
            source,
        };
        let live = self.start()?;
        let input = format!("{line}\n{marker}\n");
        live.stdin.write_all(input.as_bytes()).map_err(io)?;
        live.stdin.flush().map_err(io)?;
        live.written += input.len();

        let deadline = Instant::now() + timeout;
        let mut lines = Vec::new();
        loop {
            let line = next_line(&live.stderr_lines, deadline).map_err(io)?;
            if line == marker {
                break;
            }
            lines.push(line);
        }
        // The marker's own record: `Error: syntax error …` before the echo, a caret line after.
        if lines.last().is_some_and(|l| l.starts_with("Error:")) {
            lines.pop();
        }
        next_line(&live.stderr_lines, deadline).map_err(io)?;
        if lines.iter().any(|l| l.starts_with("Error:")) {
            Err(NftError::Refused {
                stderr: capped(&lines.join("\n")),
            })
        } else {
            Ok(())
        }
    }

    /// Ends the session process (the next load starts a new one).
    fn stop(&mut self) {
        if let Some(mut live) = self.live.take() {
            drop(live.stdin);
            let _ = live.child.kill();
            let _ = live.child.wait();
        }
    }
}

impl Drop for NftSession {
    fn drop(&mut self) {
        self.stop();
    }
}

fn next_line(lines: &Receiver<String>, deadline: Instant) -> Result<String, std::io::Error> {
    let left = deadline.saturating_duration_since(Instant::now());
    lines.recv_timeout(left).map_err(|e| match e {
        RecvTimeoutError::Timeout => {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "nft -i did not answer")
        }
        RecvTimeoutError::Disconnected => {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "nft -i exited")
        }
    })
}

/// The script as one input line (its commands joined with `; `), or `None` when it cannot be
/// one safely: longer than [`SESSION_MAX_SCRIPT`], a command spread over several lines (braces
/// not closed on their line), a comment, a character the line editor might treat specially,
/// or a line that could be taken for the marker.
fn one_line(script: &str) -> Option<String> {
    if script.len() > SESSION_MAX_SCRIPT {
        return None;
    }
    let plain = |c: char| c == '\n' || (c.is_ascii() && !c.is_ascii_control());
    if !script.chars().all(plain) || script.contains(['#', '!', '\\']) {
        return None;
    }
    let mut commands = Vec::new();
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let opens = line.matches('{').count();
        if opens != line.matches('}').count() || line.starts_with(MARKER_PREFIX) {
            return None;
        }
        commands.push(line.trim_end_matches(';'));
    }
    Some(commands.join("; "))
}

fn capped(text: &str) -> String {
    if text.len() <= MAX_ERROR_CHARS {
        return text.to_string();
    }
    let mut end = MAX_ERROR_CHARS;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_become_one_line_or_go_the_file_way() {
        let s = "add element inet t banned_v4 { 192.0.2.1 }\ndelete element inet t banned_v4 { 192.0.2.1 }\n";
        assert_eq!(
            one_line(s).unwrap(),
            "add element inet t banned_v4 { 192.0.2.1 }; delete element inet t banned_v4 { 192.0.2.1 }"
        );
        assert_eq!(one_line("").unwrap(), "");
        assert!(one_line("table inet t {\n  set s { type ipv4_addr; }\n}\n").is_none());
        assert!(one_line("add table inet t # note\n").is_none());
        assert!(one_line("add table inet t\ttab\n").is_none());
        assert!(one_line("tollguard_done_7\n").is_none());
        assert!(one_line(&"x".repeat(SESSION_MAX_SCRIPT + 1)).is_none());
    }

    #[test]
    fn long_errors_are_capped_on_a_char_boundary() {
        let long = "é".repeat(MAX_ERROR_CHARS);
        let c = capped(&long);
        assert!(c.len() < long.len() && c.contains("bytes in all"));
        assert_eq!(capped("short"), "short");
    }
}
