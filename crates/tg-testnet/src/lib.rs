//! Throwaway network namespaces for tests that need a real kernel and real packets.
//!
//! Every namespace gets a unique name (`tgt-<pid>-<n>-<label>`) and is deleted on drop, so a
//! failing test leaves nothing behind; [`Netns::exec`] runs a program *inside* the namespace
//! with argv (never a shell). Tests must run every `nft`/`iptables` command through a namespace
//! made here — never against the host's own ruleset.
//!
//! Addresses: [`Link::connect`] joins two namespaces with a veth pair and gives each end an
//! address you choose. Use documentation or private ranges; the traffic never leaves the
//! namespaces.
//!
//! [`pbx`] builds the network most kernel tests want on top: a PBX between an attacker and a
//! trusted peer, an echo listener, probes, and a runner for example binaries inside it.

pub mod pbx;

use std::io;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// True when this process can create network namespaces (root with `ip` available).
pub fn available() -> bool {
    Command::new("ip")
        .args(["netns", "list"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        && unsafe_geteuid_is_root()
}

fn unsafe_geteuid_is_root() -> bool {
    // Without libc: /proc/self/status has "Uid: real effective saved fs".
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A network namespace that is deleted when dropped.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a namespace with loopback up. `label` (letters/digits, short) ends its name.
    pub fn new(label: &str) -> io::Result<Netns> {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let label: String = label
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(8)
            .collect();
        let name = format!("tgt-{}-{n}-{label}", std::process::id());
        run(&["ip", "netns", "add", &name])?;
        let ns = Netns { name };
        ns.exec_ok(&["ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `argv` inside the namespace and returns its output (whatever the exit status).
    pub fn exec(&self, argv: &[&str]) -> io::Result<Output> {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(argv)
            .stdin(Stdio::null())
            .output()
    }

    /// Runs `argv` inside the namespace; a non-zero exit is an error carrying its stderr.
    pub fn exec_ok(&self, argv: &[&str]) -> io::Result<Output> {
        let out = self.exec(argv)?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(io::Error::other(format!(
                "in {}: {:?} failed: {}",
                self.name,
                argv,
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// A `Command` for `argv` inside the namespace, for callers that need pipes or spawn.
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(argv);
        c
    }

    /// Starts a dnsmasq inside the namespace, in the foreground, answering names from the
    /// hosts file `hosts` (and nothing else: no upstream, no /etc/hosts) on 127.0.0.1:`port`
    /// with a TTL of 2 s, so tests can watch a name change. Returns once it listens. The caller
    /// owns the child (it also dies with the namespace).
    pub fn spawn_dnsmasq(
        &self,
        hosts: &std::path::Path,
        port: u16,
    ) -> io::Result<std::process::Child> {
        let mut child = self
            .command(&[
                "dnsmasq",
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--user=root",
                "--pid-file",
                &format!("--port={port}"),
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--local-ttl=2",
                &format!("--addn-hosts={}", hosts.display()),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        if !self.wait_listening("tcp", port, std::time::Duration::from_secs(5)) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("dnsmasq did not listen on port {port} within 5 s"),
            ));
        }
        Ok(child)
    }

    /// Waits until something in the namespace listens on `port` (`proto` "tcp" or "udp"), as
    /// `ss` sees it; false after `limit`.
    pub fn wait_listening(&self, proto: &str, port: u16, limit: std::time::Duration) -> bool {
        let flag = if proto == "udp" { "-Hnul" } else { "-Hntl" };
        let t0 = std::time::Instant::now();
        loop {
            let listening = self
                .exec(&["ss", flag, &format!("sport = :{port}")])
                .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
            if listening {
                return true;
            }
            if t0.elapsed() >= limit {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Kill anything still running inside, then remove the namespace.
        let _ = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
            .map(|o| {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            });
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A veth pair between two namespaces.
#[derive(Debug)]
pub struct Link {
    /// Interface name inside the first namespace.
    pub a_if: String,
    /// Interface name inside the second namespace.
    pub b_if: String,
}

impl Link {
    /// Joins `a` and `b` with a veth pair; `a_addr`/`b_addr` are CIDRs such as `"10.9.0.1/24"`
    /// or `"fd00:9::1/64"` (IPv6 addresses are added without duplicate address detection).
    pub fn connect(a: &Netns, a_addr: &str, b: &Netns, b_addr: &str) -> io::Result<Link> {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let a_if = format!("tga{}x{n}", std::process::id() % 100_000);
        let b_if = format!("tgb{}x{n}", std::process::id() % 100_000);
        run(&[
            "ip",
            "link",
            "add",
            &a_if,
            "netns",
            a.name(),
            "type",
            "veth",
            "peer",
            "name",
            &b_if,
            "netns",
            b.name(),
        ])?;
        for (ns, ifname, addr) in [(a, &a_if, a_addr), (b, &b_if, b_addr)] {
            let mut argv = vec!["ip", "addr", "add", addr, "dev", ifname.as_str()];
            if addr.contains(':') {
                argv.push("nodad");
            }
            ns.exec_ok(&argv)?;
            ns.exec_ok(&["ip", "link", "set", ifname, "up"])?;
        }
        Ok(Link { a_if, b_if })
    }

    /// Adds a further address to one end (e.g. an IPv6 address next to the IPv4 one).
    pub fn add_addr(ns: &Netns, ifname: &str, addr: &str) -> io::Result<()> {
        let mut argv = vec!["ip", "addr", "add", addr, "dev", ifname];
        if addr.contains(':') {
            argv.push("nodad");
        }
        ns.exec_ok(&argv).map(|_| ())
    }
}

fn run(argv: &[&str]) -> io::Result<()> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{:?} failed: {}",
            argv,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_talk_over_veth_and_vanish() {
        assert!(
            available(),
            "tests need root and iproute2 (CI runs as root)"
        );
        let name;
        {
            let a = Netns::new("a").unwrap();
            let b = Netns::new("b").unwrap();
            name = a.name().to_string();
            Link::connect(&a, "10.77.0.1/24", &b, "10.77.0.2/24").unwrap();
            let ping = a
                .exec(&["ping", "-c", "1", "-W", "2", "10.77.0.2"])
                .unwrap();
            assert!(
                ping.status.success(),
                "{}",
                String::from_utf8_lossy(&ping.stdout)
            );
        }
        let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
        assert!(!String::from_utf8_lossy(&list.stdout).contains(&name));
    }
}
