//! What the binary's namespace tests share: running a closure inside a network namespace,
//! polling until a condition holds, appending to watched logs, a daemon site (config, state,
//! socket and daemon logs in a temporary directory; `tollguard run` started in a namespace,
//! stopped, and asked for its status and bans), set membership in the namespace's nftables,
//! and a dnsmasq inside a namespace. Each test file keeps its own configs and log lines.
//! [`sip_responder`] is a SIP registrar that answers and logs like Asterisk.

// Entering a network namespace (setns) and stopping the daemon (kill) are libc calls.
#![allow(unsafe_code)]
#![allow(dead_code)]

pub mod sip_responder;

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tg_testnet::Netns;

pub const BIN: &str = env!("CARGO_BIN_EXE_tollguard");

/// Runs `f` on a thread that has entered `ns`'s network namespace; sockets it opens stay there.
pub fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open netns");
        // SAFETY: setns on a valid namespace fd changes only this thread's network namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("namespace thread")
}

/// Polls `cond` every `every` until it holds or `limit` passes; returns how long it took.
pub fn poll(limit: Duration, every: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return Some(start.elapsed());
        }
        std::thread::sleep(every);
    }
    None
}

/// Whether `cond` holds within `limit` (polled every 20 ms).
pub fn wait_for(limit: Duration, cond: impl FnMut() -> bool) -> bool {
    poll(limit, Duration::from_millis(20), cond).is_some()
}

/// How long until `cond` holds, if within `limit`; polled every 5 ms, for latencies.
pub fn time_until(limit: Duration, cond: impl FnMut() -> bool) -> Option<Duration> {
    poll(limit, Duration::from_millis(5), cond)
}

/// Appends `text` to `path`, creating it, as a logging program would.
pub fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// `nft list set inet tollguard SET` inside `ns`, as text (empty when the table is missing).
pub fn nft_set(ns: &Netns, set: &str) -> String {
    let out = ns
        .exec(&["nft", "list", "set", "inet", "tollguard", set])
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `ip` is in the namespace's kernel ban set `banned_v4`.
pub fn in_set(ns: &Netns, ip: &str) -> bool {
    nft_set(ns, "banned_v4").contains(ip)
}

/// Whether `ip` (IPv4 or IPv6) is in the namespace's kernel ban set of its family.
pub fn in_ban_set(ns: &Netns, ip: &str) -> bool {
    let set = if ip.contains(':') {
        "banned_v6"
    } else {
        "banned_v4"
    };
    nft_set(ns, set)
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '{' | '}'))
        .any(|t| t == ip)
}

/// Kills and reaps a child (`ip netns exec` execs the program: the child's pid is its pid).
pub fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A child killed and reaped when dropped, so a failing test leaves no process behind.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        kill_and_reap(&mut self.0);
    }
}

/// A dnsmasq in `ns` answering from `hosts` on 127.0.0.1:`port` ([`Netns::spawn_dnsmasq`]).
pub fn spawn_dnsmasq(ns: &Netns, hosts: &Path, port: u16) -> Child {
    ns.spawn_dnsmasq(hosts, port).expect("dnsmasq")
}

/// A daemon's site: `tollguard.toml`, state, socket and one stderr log per start, all in a
/// temporary directory. The config itself is each test file's own.
pub struct Site {
    pub dir: tempfile::TempDir,
    starts: AtomicU32,
}

impl Site {
    pub fn new() -> Site {
        Site {
            dir: tempfile::tempdir().unwrap(),
            starts: AtomicU32::new(0),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn socket(&self) -> String {
        self.path("tg.sock").display().to_string()
    }

    pub fn write_config(&self, config: &str) {
        std::fs::write(self.path("tollguard.toml"), config).unwrap();
    }

    /// A file of the site as text; empty when it does not exist (yet).
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// Starts `tollguard run` inside `ns` and waits up to 15 s until its socket answers.
    pub fn start(&self, ns: &Netns) -> Child {
        self.start_within(ns, Duration::from_secs(15))
    }

    /// Starts `tollguard run` inside `ns` and waits up to `limit` until its socket answers.
    pub fn start_within(&self, ns: &Netns, limit: Duration) -> Child {
        let config = self.path("tollguard.toml").display().to_string();
        let n = self.starts.fetch_add(1, Ordering::SeqCst);
        let log = std::fs::File::create(self.path(&format!("daemon-{n}.log"))).unwrap();
        let mut child = ns
            .command(&[BIN, "run", "--config", &config])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let ready = wait_for(limit, || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("daemon exited: {status}\n{}", self.logs());
            }
            self.ctl(&["status"]).status.success()
        });
        if !ready {
            kill_and_reap(&mut child);
            panic!("daemon did not answer on its socket\n{}", self.logs());
        }
        child
    }

    /// SIGTERM, the clean shutdown; panics (after killing it) unless it exits within `limit`.
    pub fn stop(&self, child: &mut Child, limit: Duration) {
        let pid = libc::pid_t::try_from(child.id()).unwrap();
        // SAFETY: sends a signal to the daemon this test started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let exited = wait_for(limit, || matches!(child.try_wait(), Ok(Some(_))));
        if !exited {
            kill_and_reap(child);
            panic!("daemon did not stop on SIGTERM\n{}", self.logs());
        }
    }

    /// Everything the site's daemons wrote to stderr, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for n in 0..self.starts.load(Ordering::SeqCst) {
            if let Ok(text) = std::fs::read_to_string(self.path(&format!("daemon-{n}.log"))) {
                out.push_str(&format!("--- daemon-{n}.log\n{text}"));
            }
        }
        out
    }

    /// `tollguard ARGS --socket SOCKET`, run outside any namespace (the socket is a file).
    pub fn ctl(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .args(["--socket", &self.socket()])
            .output()
            .unwrap()
    }

    /// `tollguard ARGS --format json`, parsed; it must succeed.
    pub fn ctl_json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.ctl(&[args, &["--format", "json"]].concat());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `tollguard status --format json`; it must succeed.
    pub fn status(&self) -> serde_json::Value {
        self.ctl_json(&["status"])
    }

    /// One counter of `status`; it must be there.
    pub fn counter(&self, name: &str) -> u64 {
        self.status()["counters"][name].as_u64().unwrap()
    }

    /// All counters of `status`, or null while the daemon does not answer.
    pub fn counters(&self) -> serde_json::Value {
        let out = self.ctl(&["status", "--format", "json"]);
        if !out.status.success() {
            return serde_json::Value::Null;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["counters"].clone()
    }

    /// `tollguard bans --format json`; it must succeed and be a list.
    pub fn bans(&self) -> Vec<serde_json::Value> {
        match self.ctl_json(&["bans"]) {
            serde_json::Value::Array(bans) => bans,
            other => panic!("bans is not a list: {other}"),
        }
    }

    /// The ban of `ip` as `tollguard bans --format json` shows it.
    pub fn ban(&self, ip: &str) -> Option<serde_json::Value> {
        self.bans().into_iter().find(|b| b["ip"] == ip)
    }
}
