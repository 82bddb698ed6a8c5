//! End-to-end tests of the journal source: a real `systemd-journald`, real `journalctl`, the
//! real `tollguard run`, bans checked in the kernel set of a network namespace the test makes.
//!
//! The host has no journald running and must not get one: each test runs on a thread that
//! enters a private mount namespace with tmpfs over /run/systemd and /var/log, and starts
//! journald there as a namespace instance (`systemd-journald NAME`, the same program a unit
//! with `LogNamespace=NAME` logs to). Its sockets and files live only in those tmpfs, which
//! vanish with the thread and its children. Entries are written with journald's native
//! protocol, so the tests control every field (identifier, binary message, field count).

// A private mount namespace (unshare, mount) is made with libc calls.
#![allow(unsafe_code)]

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tg_testnet::Netns;

use crate::support::{in_set, kill_and_reap, wait_for, Site};

const CLIENT: &str = "203.0.113.9";
const SECOND: &str = "203.0.113.77";
const HOSTILE_CLIENT: &str = "203.0.113.30";
const DECOY: &str = "198.51.100.99";

/// Runs `f` on a thread in a fresh mount namespace where /run/systemd and /var/log are empty
/// tmpfs: whatever journald writes there never reaches the host, and goes away with the
/// namespace. Children spawned from the thread (journald, `ip netns exec`, the daemon and its
/// journalctl) inherit it.
fn in_private_mounts<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: unshare and mount with constant, NUL-terminated arguments; they change only
            // this thread's mount namespace (and its own copies of the mounts).
            unsafe {
                assert_eq!(
                    libc::unshare(libc::CLONE_NEWNS),
                    0,
                    "unshare(CLONE_NEWNS): {}",
                    std::io::Error::last_os_error()
                );
                let none = c"none".as_ptr();
                let rc = libc::mount(
                    none,
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                );
                assert_eq!(rc, 0, "make / private: {}", std::io::Error::last_os_error());
                for dir in [c"/run/systemd", c"/var/log"] {
                    let rc = libc::mount(
                        c"tmpfs".as_ptr(),
                        dir.as_ptr(),
                        c"tmpfs".as_ptr(),
                        libc::MS_NOSUID | libc::MS_NODEV,
                        c"mode=0755,size=64m".as_ptr().cast(),
                    );
                    assert_eq!(
                        rc,
                        0,
                        "tmpfs over {dir:?}: {}",
                        std::io::Error::last_os_error()
                    );
                }
            }
            // journald keeps namespaced journals under /var/log/journal/MACHINE.NAME when the
            // directory exists; here it is on the private tmpfs.
            std::fs::create_dir("/var/log/journal").unwrap();
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// A private journald namespace instance; killed on drop (its files are on the tmpfs).
struct Journald {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Journald {
    fn start(name: &str, log: PathBuf) -> Journald {
        let program = [
            "/lib/systemd/systemd-journald",
            "/usr/lib/systemd/systemd-journald",
        ]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("systemd-journald is installed (package systemd)");
        let child = Command::new(program)
            .arg(name)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut j = Journald {
            name: name.to_string(),
            child,
            log,
        };
        // Ready when an entry sent to its socket can be read back.
        let ready = wait_for(Duration::from_secs(10), || {
            if let Ok(Some(status)) = j.child.try_wait() {
                panic!(
                    "journald exited: {status}\n{}",
                    std::fs::read_to_string(&j.log).unwrap_or_default()
                );
            }
            j.try_send(&[("SYSLOG_IDENTIFIER", b"tg-test"), ("MESSAGE", b"ready")])
                .is_ok()
                && j.read_back().contains("\"ready\"")
        });
        assert!(ready, "journald {name} did not come up");
        j
    }

    fn socket(&self) -> PathBuf {
        PathBuf::from(format!("/run/systemd/journal.{}/socket", self.name))
    }

    fn read_back(&self) -> String {
        self.entries(&[]).join("\n")
    }

    /// The JSON lines `journalctl` prints for the entries matching `matches`.
    fn entries(&self, matches: &[&str]) -> Vec<String> {
        let out = Command::new("journalctl")
            .args([
                &format!("--namespace={}", self.name),
                "-o",
                "json",
                "--no-pager",
            ])
            .args(matches)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// One entry in journald's native protocol; values with a newline or invalid UTF-8 use
    /// the binary form (`NAME\n`, 64-bit little-endian length, bytes, `\n`).
    fn try_send(&self, fields: &[(&str, &[u8])]) -> std::io::Result<()> {
        let mut dgram = Vec::new();
        for (name, value) in fields {
            dgram.extend_from_slice(name.as_bytes());
            if value.contains(&b'\n') || std::str::from_utf8(value).is_err() {
                dgram.push(b'\n');
                dgram.extend_from_slice(&(value.len() as u64).to_le_bytes());
            } else {
                dgram.push(b'=');
            }
            dgram.extend_from_slice(value);
            dgram.push(b'\n');
        }
        let sock = UnixDatagram::unbound()?;
        sock.send_to(&dgram, self.socket())?;
        Ok(())
    }

    fn send(&self, ident: &str, message: &[u8]) {
        self.try_send(&[
            ("SYSLOG_IDENTIFIER", ident.as_bytes()),
            ("MESSAGE", message),
        ])
        .unwrap();
    }
}

impl Drop for Journald {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}

fn ssh_failure(ip: &str, port: u32) -> Vec<u8> {
    format!("Failed password for invalid user admin from {ip} port {port} ssh2").into_bytes()
}

/// Config, state and socket in a temporary directory; only the ssh jail, fed by the journal.
/// `read_from = "start"`: without a saved cursor the daemon reads the whole (private) journal,
/// so no entry races its journalctl's start and every count below is exact.
fn journal_site(namespace: &str) -> Site {
    let site = Site::new();
    let config = format!(
        "[daemon]\nstate_dir = \"{state}\"\nsocket = \"{sock}\"\nread_from = \"start\"\n\n\
         [jail.ssh]\nlogs = []\n\
         journal = {{ match = [\"SYSLOG_IDENTIFIER=sshd\"], namespace = \"{namespace}\" }}\n\
         max_retry = 3\nfind_time = \"10m\"\nban_time = \"1h\"\n\n\
         [jail.sip]\nenabled = false\n[jail.iax]\nenabled = false\n[jail.ami]\nenabled = false\n\
         [jail.web]\nenabled = false\n[jail.ftp]\nenabled = false\n",
        state = site.path("state").display(),
        sock = site.path("tg.sock").display(),
    );
    site.write_config(&config);
    site
}

/// The host's own /run/systemd and /var/log/journal never saw the test's journald.
fn assert_host_untouched(name: &str) {
    assert!(!Path::new(&format!("/run/systemd/journal.{name}")).exists());
    let leaked = std::fs::read_dir("/var/log/journal")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with(&format!(".{name}"))
        });
    assert!(
        !leaked,
        "a journal of namespace {name} is in the host's /var/log/journal"
    );
}

fn unique_name(label: &str) -> String {
    format!("tg{label}{}", std::process::id() % 100_000)
}

#[test]
fn journal_failures_ban_only_through_the_match_and_resume_after_the_cursor() {
    assert!(
        tg_testnet::available(),
        "tests need root and iproute2 (CI runs as root)"
    );
    let pbx = Netns::new("jpbx").unwrap();
    let name = unique_name("a");
    in_private_mounts(|| {
        let site = journal_site(&name);
        let journald = Journald::start(&name, site.path("journald.log"));
        let mut daemon = site.start(&pbx);

        // sshd's failure text from programs the match does not select: OpenSSH >= 9.8 logs as
        // sshd-session, which the detector would read; any local program can log as well.
        for port in 1..=4 {
            journald.send("sshd-session", &ssh_failure(DECOY, port));
            journald.send("evil", &ssh_failure(DECOY, port));
        }
        for port in 4711..4714 {
            journald.send("sshd", &ssh_failure(CLIENT, port));
        }
        assert!(
            wait_for(Duration::from_secs(10), || in_set(&pbx, CLIENT)),
            "{CLIENT} not banned from the journal\n{}",
            site.logs()
        );
        // The journal keeps order: the unmatched entries came first, so had they been read
        // they would be counted by now.
        assert!(!in_set(&pbx, DECOY), "unmatched entries were counted");
        assert_eq!(site.counter("journal_entries"), 3);
        assert_eq!(site.counter("findings"), 3);
        let first_ban = site.ban(CLIENT).expect("listed");
        assert_eq!(first_ban["count"], 3, "{first_ban}");

        // Down: failures of a second address are logged while nobody reads.
        site.stop(&mut daemon, Duration::from_secs(10));
        let cursor = std::fs::read_to_string(site.path("state/journal.cursor")).unwrap();
        assert!(cursor.starts_with("s="), "cursor {cursor:?}");
        for port in 5000..5003 {
            journald.send("sshd", &ssh_failure(SECOND, port));
        }
        let mut daemon = site.start(&pbx);
        assert!(
            wait_for(Duration::from_secs(10), || in_set(&pbx, SECOND)),
            "entries written while the daemon was down were not read\n{}",
            site.logs()
        );
        // Exactly the three entries after the stored cursor: nothing before it read twice.
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(site.counter("journal_entries"), 3, "{}", site.logs());
        assert_eq!(site.counter("findings"), 3);
        assert_eq!(
            site.ban(CLIENT),
            Some(first_ban),
            "the first ban was decided again"
        );
        assert_eq!(site.ban(SECOND).expect("listed")["count"], 3);
        assert!(
            in_set(&pbx, CLIENT),
            "the first ban is kept across the restart"
        );
        assert!(!in_set(&pbx, DECOY));
        site.stop(&mut daemon, Duration::from_secs(10));
    });
    assert_host_untouched(&name);
}

#[test]
fn hostile_journal_messages_are_skipped_or_counted_never_misattributed() {
    assert!(
        tg_testnet::available(),
        "tests need root and iproute2 (CI runs as root)"
    );
    let pbx = Netns::new("jhst").unwrap();
    let name = unique_name("h");
    in_private_mounts(|| {
        let site = journal_site(&name);
        let journald = Journald::start(&name, site.path("journald.log"));
        // A damaged saved cursor (journalctl refuses it) must not keep the journal unread.
        std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
            .create(site.path("state"))
            .unwrap();
        std::fs::write(site.path("state/journal.cursor"), "s=garbage;i=zz\n").unwrap();
        let mut daemon = site.start(&pbx);

        // Invalid UTF-8 in the user name (journalctl prints it as an array of bytes): counted.
        let mut binary = b"Failed password for invalid user \xff\xfe\x80 from ".to_vec();
        binary.extend_from_slice(format!("{HOSTILE_CLIENT} port 4711 ssh2").as_bytes());
        journald.send("sshd", &binary);
        // A user name with a newline that carries a decoy's failure: the client is still the
        // address sshd wrote last.
        journald.send(
            "sshd",
            format!(
                "Failed password for invalid user x from {DECOY} port 22 ssh2\nFailed password for invalid user y from {HOSTILE_CLIENT} port 4712 ssh2"
            )
            .as_bytes(),
        );
        // A 100 KB message naming the decoy: journalctl prints fields over 4096 bytes as null,
        // so the entry has no message and is skipped.
        let mut huge = b"Failed password for invalid user ".to_vec();
        huge.extend(std::iter::repeat_n(b'A', 100_000));
        huge.extend_from_slice(format!(" from {DECOY} port 22 ssh2").as_bytes());
        journald.send("sshd", &huge);
        // An entry with 48 binary fields of 3 KB: one JSON line of ~600 KB, past the reader's
        // cap, skipped to its end without being parsed from the middle.
        let filler = vec![0xffu8; 3000];
        let names: Vec<String> = (0..48).map(|i| format!("FILLER_{i}")).collect();
        let decoy_message = ssh_failure(DECOY, 23);
        let mut fields: Vec<(&str, &[u8])> = vec![
            ("SYSLOG_IDENTIFIER", b"sshd"),
            ("MESSAGE", &decoy_message),
            ("TG_PROBE", b"many-fields"),
        ];
        fields.extend(names.iter().map(|n| (n.as_str(), filler.as_slice())));
        journald.try_send(&fields).unwrap();
        // The third countable failure.
        journald.send("sshd", &ssh_failure(HOSTILE_CLIENT, 4713));

        // journald stored both oversized entries as the test means them (it stores a datagram
        // some time after the send returned: wait for it, as a loaded machine needs).
        let mut wide = Vec::new();
        wait_for(Duration::from_secs(10), || {
            wide = journald.entries(&["TG_PROBE=many-fields"]);
            !wide.is_empty()
        });
        assert_eq!(wide.len(), 1, "the many-field entry was not stored");
        assert!(
            wide[0].len() > tg_source::journal::MAX_JSON_LINE,
            "its JSON line is only {} bytes",
            wide[0].len()
        );
        let long_ones = || {
            journald
                .entries(&["SYSLOG_IDENTIFIER=sshd"])
                .into_iter()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
                .filter(|v| v["MESSAGE"].is_null())
                .count()
        };
        wait_for(Duration::from_secs(10), || long_ones() >= 1);
        let long = long_ones();
        assert_eq!(
            long, 1,
            "the 100 KB message was not stored (or not printed as null)"
        );

        assert!(
            wait_for(Duration::from_secs(10), || in_set(&pbx, HOSTILE_CLIENT)),
            "{HOSTILE_CLIENT} not banned after three failures\n{}",
            site.logs()
        );
        assert!(!in_set(&pbx, DECOY), "a decoy address was banned");
        assert_eq!(site.ban(DECOY), None);
        // Read: the binary, the newline and the last entry; skipped: the two oversized ones.
        assert_eq!(site.counter("journal_entries"), 3, "{}", site.logs());
        assert!(
            matches!(daemon.try_wait(), Ok(None)),
            "daemon died\n{}",
            site.logs()
        );
        site.stop(&mut daemon, Duration::from_secs(10));
    });
    assert_host_untouched(&name);
}
