//! The systemd journal, followed live through `journalctl -f -o json` (argv, validated matches
//! and namespace).
//!
//! Each journal entry becomes one syslog-style line (`Nov 25 10:00:01 host sshd[42]: message`)
//! so the same detectors read journal and file sources, plus its cursor, which the daemon keeps
//! so a restart continues after the last entry it saw.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

/// Why the journal cannot be followed.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A match is not `FIELD=value` with an upper-case field name.
    #[error("journal match {0:?} must be FIELD=value with FIELD of A-Z, 0-9 and _ (e.g. _SYSTEMD_UNIT=ssh.service)")]
    BadMatch(String),
    /// A journal namespace is not a plain name (`pbx`), `+name` or `*`.
    #[error("journal namespace {0:?} must be 1 to 64 of A-Z, a-z, 0-9, _ and - (e.g. pbx), optionally after +, or *")]
    BadNamespace(String),
    /// `journalctl` is not installed.
    #[error("journalctl not found in /usr/bin or /bin: journal sources are skipped")]
    NotFound,
    /// Could not start or read `journalctl`.
    #[error("running {path}: {source}")]
    Io {
        /// The binary.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// Checks one `FIELD=value` match.
pub fn validate_match(m: &str) -> Result<(), JournalError> {
    let bad = || JournalError::BadMatch(m.to_string());
    let (field, value) = m.split_once('=').ok_or_else(bad)?;
    let field_ok = !field.is_empty()
        && !field.starts_with(|c: char| c.is_ascii_digit())
        && field
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !field_ok || value.is_empty() || value.contains(['\n', '\0']) {
        return Err(bad());
    }
    Ok(())
}

/// Checks a journald namespace name (what a unit's `LogNamespace=` says): a plain identifier.
pub fn validate_namespace_name(name: &str) -> Result<(), JournalError> {
    let ok = (1..=64).contains(&name.len())
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(JournalError::BadNamespace(name.to_string()))
    }
}

/// Checks what `journalctl --namespace=` gets: a name, `+name` (that namespace and the default
/// one) or `*` (every namespace).
pub fn validate_namespace(namespace: &str) -> Result<(), JournalError> {
    match namespace {
        "*" => Ok(()),
        n => validate_namespace_name(n.strip_prefix('+').unwrap_or(n))
            .map_err(|_| JournalError::BadNamespace(namespace.to_string())),
    }
}

/// Whether journalctl can seek to `cursor` (`s=…;i=…;b=…;m=…;t=…;x=…`, hex values): each item
/// is `k=value`, the known ones well formed, and there is something to seek by (sequence
/// number with its id, monotonic time with its boot id, or wall-clock time).
pub fn cursor_well_formed(cursor: &str) -> bool {
    let hex = |v: &str, len: Option<usize>| {
        !v.is_empty()
            && v.len() <= 32
            && len.is_none_or(|l| v.len() == l)
            && v.bytes().all(|b| b.is_ascii_hexdigit())
    };
    let mut seen = [false; 6];
    for item in cursor.split(';') {
        let Some((key, value)) = item.split_once('=') else {
            return false;
        };
        let ok = match key {
            "s" => hex(value, Some(32)),
            "b" => hex(value, Some(32)),
            "i" | "m" | "t" | "x" => hex(value, None),
            // A key journalctl may add later: one letter, like the others.
            k if k.len() == 1
                && k.bytes().all(|b| b.is_ascii_alphabetic())
                && !value.contains(['\n', '\0']) =>
            {
                true
            }
            _ => false,
        };
        if !ok {
            return false;
        }
        if let Some(i) = ["s", "i", "b", "m", "t", "x"]
            .iter()
            .position(|k| *k == key)
        {
            seen[i] = true;
        }
    }
    let [s, i, b, m, t, _] = seen;
    (s && i) || (b && m) || t
}

/// Finds `journalctl` in the system directories (never via `PATH`).
pub fn locate_journalctl() -> Result<PathBuf, JournalError> {
    ["/usr/bin/journalctl", "/bin/journalctl"]
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .map(Path::to_path_buf)
        .ok_or(JournalError::NotFound)
}

/// The arguments after the program name: follow, JSON, the journal `namespace` (none: the
/// default one), resume after `cursor` (else start at the end, or replay everything when
/// `from_start`), and the matches OR-ed together.
pub fn journalctl_args(
    matches: &[String],
    namespace: Option<&str>,
    cursor: Option<&str>,
    from_start: bool,
) -> Result<Vec<String>, JournalError> {
    let mut args: Vec<String> = ["--follow", "--output=json", "--no-pager", "--quiet"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if let Some(ns) = namespace {
        validate_namespace(ns)?;
        args.push(format!("--namespace={ns}"));
    }
    match cursor {
        // journalctl exits at once on a cursor it cannot parse, and would again at every
        // restart: a damaged saved cursor falls back to the start position instead.
        Some(c) if cursor_well_formed(c) => args.push(format!("--after-cursor={c}")),
        _ if from_start => args.push("--no-tail".to_string()),
        _ => args.push("--lines=0".to_string()),
    }
    for (i, m) in matches.iter().enumerate() {
        validate_match(m)?;
        if i > 0 {
            args.push("+".to_string());
        }
        args.push(m.clone());
    }
    Ok(args)
}

/// One journal entry as a log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalEntry {
    /// `Mon dd HH:MM:SS host ident[pid]: message`, the message's bytes as they were.
    pub line: Vec<u8>,
    /// The entry's time (`__REALTIME_TIMESTAMP`), Unix milliseconds.
    pub time_ms: Option<i64>,
    /// The entry's cursor.
    pub cursor: String,
}

/// Parses one line of `journalctl -o json`; `None` when it is not an entry with a message.
pub fn parse_entry(json: &[u8]) -> Option<JournalEntry> {
    let v: serde_json::Value = serde_json::from_slice(json).ok()?;
    let obj = v.as_object()?;
    let cursor = obj.get("__CURSOR")?.as_str()?.to_string();
    let field = |name: &str| -> Option<Vec<u8>> {
        match obj.get(name)? {
            serde_json::Value::String(s) => Some(s.as_bytes().to_vec()),
            // Non-UTF-8 values come as arrays of byte values.
            serde_json::Value::Array(a) => a
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect(),
            _ => None,
        }
    };
    let message = field("MESSAGE")?;
    let time_ms = field("__REALTIME_TIMESTAMP")
        .and_then(|t| String::from_utf8(t).ok())
        .and_then(|t| t.parse::<i64>().ok())
        .map(|us| us / 1000);
    let ident = field("SYSLOG_IDENTIFIER")
        .or_else(|| field("_COMM"))
        .unwrap_or_else(|| b"journal".to_vec());
    let host = field("_HOSTNAME").unwrap_or_else(|| b"localhost".to_vec());
    let mut line = Vec::with_capacity(message.len() + 64);
    line.extend_from_slice(syslog_stamp(time_ms.unwrap_or(0)).as_bytes());
    line.push(b' ');
    line.extend_from_slice(&host);
    line.push(b' ');
    line.extend_from_slice(&ident);
    if let Some(pid) = field("_PID").or_else(|| field("SYSLOG_PID")) {
        line.push(b'[');
        line.extend_from_slice(&pid);
        line.push(b']');
    }
    line.extend_from_slice(b": ");
    line.extend_from_slice(&message);
    line.retain(|&b| b != b'\n');
    Some(JournalEntry {
        line,
        time_ms,
        cursor,
    })
}

/// `Nov 25 10:00:01` (UTC) for Unix milliseconds.
fn syslog_stamp(unix_ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = tg_model::civil::Civil::from_unix_ms(unix_ms);
    let month = MONTHS[(c.month as usize).clamp(1, 12) - 1];
    format!("{month} {:>2} {}", c.day, c.time())
}

/// The longest `journalctl -o json` line read; longer ones (an entry with many fields: any
/// local program can log one) are skipped to their end and counted.
pub const MAX_JSON_LINE: usize = crate::follow::MAX_LINE * 4;

/// A running `journalctl -f`, read entry by entry.
pub struct JournalFollower {
    child: Child,
    stdout: BufReader<ChildStdout>,
    buf: Vec<u8>,
    skipped: u64,
}

impl JournalFollower {
    /// Starts `journalctl` (found in the system directories) with [`journalctl_args`].
    pub fn spawn(
        matches: &[String],
        namespace: Option<&str>,
        cursor: Option<&str>,
        from_start: bool,
    ) -> Result<JournalFollower, JournalError> {
        let path = locate_journalctl()?;
        Self::spawn_with(
            &path,
            &journalctl_args(matches, namespace, cursor, from_start)?,
        )
    }

    /// Starts a given program with given arguments (tests use a stand-in).
    pub fn spawn_with(path: &Path, args: &[String]) -> Result<JournalFollower, JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut child = Command::new(path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io)?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io(std::io::Error::other("no stdout pipe")))?;
        Ok(JournalFollower {
            child,
            stdout: BufReader::with_capacity(64 * 1024, stdout),
            buf: Vec::new(),
            skipped: 0,
        })
    }

    /// The child's process id (for stopping it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lines skipped so far: too long, not JSON, or no message (journalctl prints fields over
    /// 4096 bytes as `null`).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Blocks for the next entry; `Ok(None)` when journalctl ended.
    pub fn next_entry(&mut self) -> Result<Option<JournalEntry>, std::io::Error> {
        loop {
            self.buf.clear();
            let n = (&mut self.stdout)
                .take(MAX_JSON_LINE as u64)
                .read_until(b'\n', &mut self.buf)?;
            if n == 0 {
                return Ok(None);
            }
            if !self.buf.ends_with(b"\n") && n == MAX_JSON_LINE {
                // Never parse the middle of a line as if it were an entry of its own.
                self.skipped += 1;
                self.skip_rest_of_line()?;
                continue;
            }
            match parse_entry(&self.buf) {
                Some(entry) => return Ok(Some(entry)),
                None => self.skipped += 1,
            }
        }
    }

    fn skip_rest_of_line(&mut self) -> Result<(), std::io::Error> {
        loop {
            let chunk = self.stdout.fill_buf()?;
            if chunk.is_empty() {
                return Ok(());
            }
            if let Some(i) = memchr::memchr(b'\n', chunk) {
                self.stdout.consume(i + 1);
                return Ok(());
            }
            let len = chunk.len();
            self.stdout.consume(len);
        }
    }

    /// Stops journalctl.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for JournalFollower {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_are_validated() {
        assert!(validate_match("_SYSTEMD_UNIT=ssh.service").is_ok());
        assert!(validate_match("SYSLOG_IDENTIFIER=sshd").is_ok());
        for bad in [
            "ssh.service",
            "_systemd_unit=ssh",
            "=x",
            "UNIT=",
            "--output=cat",
            "A B=c",
        ] {
            assert!(validate_match(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn args_resume_after_cursor_and_or_the_matches() {
        let m = vec![
            "_SYSTEMD_UNIT=ssh.service".to_string(),
            "_SYSTEMD_UNIT=sshd.service".to_string(),
        ];
        let a = journalctl_args(&m, None, Some("t=661189acf627c;i=1"), false).unwrap();
        assert!(a.contains(&"--after-cursor=t=661189acf627c;i=1".to_string()));
        assert_eq!(
            &a[a.len() - 3..],
            [
                "_SYSTEMD_UNIT=ssh.service",
                "+",
                "_SYSTEMD_UNIT=sshd.service"
            ]
        );
        let a = journalctl_args(&m, None, None, false).unwrap();
        assert!(a.contains(&"--lines=0".to_string()));
        assert!(!a.iter().any(|a| a.starts_with("--namespace")));
        assert!(journalctl_args(&["-f".to_string()], None, None, false).is_err());
    }

    #[test]
    fn damaged_cursor_falls_back_to_the_start_position() {
        let real = "s=eb4645e73c744bd39be40880764530d4;i=3;b=9f3a60259ce34931ab31afabdcfc9f5f;m=26b076047;t=661189acf627c;x=606f303314fa9a18";
        assert!(cursor_well_formed(real));
        let a = journalctl_args(&[], None, Some(real), false).unwrap();
        assert!(a.contains(&format!("--after-cursor={real}")));
        for bad in [
            "",
            "garbage",
            "s=eb4645e73c744bd39be40880764530d4",
            "s=eb46;i=3",
            "t=xyz",
            "i=3;b=9f3a60259ce34931ab31afabdcfc9f5f",
            &real[..60],
            "t=1\n--all",
            // Found by the `journal` fuzz target (fuzz/corpus/journal/found-cursor-nul-key):
            // an unknown key was taken whatever it was, a NUL or a line break included.
            "q=766;\0=66;t=661",
            "\n=1;t=661",
            "t=661;1=2",
        ] {
            assert!(!cursor_well_formed(bad), "{bad:?} accepted");
            let a = journalctl_args(&[], None, Some(bad), false).unwrap();
            assert!(
                !a.iter().any(|a| a.starts_with("--after-cursor")),
                "{bad:?}"
            );
            assert!(a.contains(&"--lines=0".to_string()));
            let a = journalctl_args(&[], None, Some(bad), true).unwrap();
            assert!(a.contains(&"--no-tail".to_string()));
        }
    }

    #[test]
    fn namespace_is_one_validated_argument() {
        let m = vec!["SYSLOG_IDENTIFIER=sshd".to_string()];
        for ns in ["pbx", "+pbx", "*", "tg-test_1"] {
            let a = journalctl_args(&m, Some(ns), None, true).unwrap();
            assert!(a.contains(&format!("--namespace={ns}")), "{a:?}");
            assert!(a.contains(&"--no-tail".to_string()));
        }
        for bad in [
            "",
            "+",
            "**",
            "-f",
            "pbx --all",
            "a/b",
            "../x",
            "p\nx",
            "x".repeat(65).as_str(),
        ] {
            assert!(
                matches!(
                    journalctl_args(&m, Some(bad), None, false),
                    Err(JournalError::BadNamespace(_))
                ),
                "{bad:?} accepted"
            );
        }
        assert!(validate_namespace_name("+pbx").is_err());
        assert!(validate_namespace_name("*").is_err());
    }

    #[test]
    fn entry_becomes_syslog_line_with_cursor() {
        let json = br#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1764064801000000","_HOSTNAME":"pbx","SYSLOG_IDENTIFIER":"sshd","_PID":"42","MESSAGE":"Failed password for root from 203.0.113.9 port 22 ssh2"}"#;
        let e = parse_entry(json).unwrap();
        assert_eq!(e.cursor, "s=1;i=2");
        assert_eq!(e.time_ms, Some(1_764_064_801_000));
        assert_eq!(
            String::from_utf8(e.line).unwrap(),
            "Nov 25 10:00:01 pbx sshd[42]: Failed password for root from 203.0.113.9 port 22 ssh2"
        );
    }

    #[test]
    fn binary_message_and_garbage() {
        let json = br#"{"__CURSOR":"c","MESSAGE":[104,105,255]}"#;
        let e = parse_entry(json).unwrap();
        assert!(e.line.ends_with(b": hi\xff"));
        assert!(parse_entry(b"not json").is_none());
        assert!(parse_entry(br#"{"MESSAGE":"no cursor"}"#).is_none());
    }

    #[test]
    fn follower_reads_entries_from_a_child() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("j.json");
        std::fs::write(
            &data,
            "{\"__CURSOR\":\"a\",\"MESSAGE\":\"one\"}\ngarbage\n{\"__CURSOR\":\"b\",\"MESSAGE\":\"two\"}\n",
        )
        .unwrap();
        let mut f =
            JournalFollower::spawn_with(Path::new("/bin/cat"), &[data.display().to_string()])
                .unwrap();
        assert_eq!(f.next_entry().unwrap().unwrap().cursor, "a");
        assert_eq!(f.next_entry().unwrap().unwrap().cursor, "b");
        assert!(f.next_entry().unwrap().is_none());
        assert_eq!(f.skipped(), 1);
    }

    #[test]
    fn overlong_line_is_skipped_whole_never_parsed_from_its_middle() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("j.json");
        // The cut falls exactly where an entry-shaped text begins: it must not be taken.
        let mut text = vec![b'x'; MAX_JSON_LINE];
        text.extend_from_slice(
            b"{\"__CURSOR\":\"evil\",\"SYSLOG_IDENTIFIER\":\"sshd\",\"MESSAGE\":\"Failed password for root from 198.51.100.99 port 22 ssh2\"}\n",
        );
        text.extend_from_slice(b"{\"__CURSOR\":\"good\",\"MESSAGE\":\"next\"}\n");
        std::fs::write(&data, &text).unwrap();
        let mut f =
            JournalFollower::spawn_with(Path::new("/bin/cat"), &[data.display().to_string()])
                .unwrap();
        let e = f.next_entry().unwrap().unwrap();
        assert_eq!(e.cursor, "good");
        assert!(f.next_entry().unwrap().is_none());
        assert_eq!(f.skipped(), 1);
    }
}
