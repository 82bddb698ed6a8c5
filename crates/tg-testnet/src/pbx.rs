//! A small PBX network for enforcer and restore tests: a `pbx` namespace joined to an `attacker`
//! (IPv4 and IPv6) and a `trusted` peer, a UDP+TCP echo listener in the pbx, probes that say
//! whether a packet gets through, a steady UDP "call", and a runner for a crate's example binary
//! *inside* a namespace (the enforcers act on the namespace they run in, never the host's).
//! Shared by tg-enforce's kernel tests and tg-daemon's restore tests.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{Link, Netns};

/// The pbx's IPv4 address on the attacker link.
pub const PBX_V4: &str = "198.51.100.1";
/// The attacker's IPv4 address.
pub const ATTACKER_V4: &str = "198.51.100.7";
/// The pbx's IPv6 address on the attacker link.
pub const PBX_V6: &str = "2001:db8:1::1";
/// The attacker's IPv6 address.
pub const ATTACKER_V6: &str = "2001:db8:1::7";
/// The pbx's IPv4 address on the trusted link.
pub const PBX_TRUSTED_V4: &str = "192.0.2.1";
/// The trusted peer's IPv4 address.
pub const TRUSTED_V4: &str = "192.0.2.2";
/// The echo listener's UDP port (SIP's).
pub const UDP_PORT: &str = "5060";
/// The echo listener's TCP port.
pub const TCP_PORT: &str = "5061";

/// The example `name` of the crate under test, built by `cargo test` next to the test binaries.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let cli = dir.join("examples").join(name);
    assert!(
        cli.is_file(),
        "{} missing: run the tests with `cargo test -p <crate>` (it builds examples)",
        cli.display()
    );
    cli
}

/// Runs the example `name` with `args` inside `ns`; panics with its stderr on failure; returns
/// stdout.
pub fn run_example(ns: &Netns, name: &str, args: &[&str]) -> String {
    let cli = example(name);
    let mut argv = vec![cli.to_str().expect("utf-8 path")];
    argv.extend_from_slice(args);
    let out = ns.exec(&argv).expect("spawn the example");
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `list` of the example `name` (lines `IP SECONDS_LEFT`) parsed into (address, seconds left).
pub fn listed_by(ns: &Netns, name: &str, backend: &str) -> Vec<(String, u64)> {
    run_example(ns, name, &["--backend", backend, "list"])
        .lines()
        .map(|l| {
            let (ip, left) = l.split_once(' ').expect("ip secs");
            (ip.to_string(), left.parse().expect("secs"))
        })
        .collect()
}

/// Loads an nftables script in `ns` with `nft -f -`; panics when nft refuses it.
pub fn nft(ns: &Netns, script: &str) {
    let mut child = ns
        .command(&["nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nft");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write script");
    let out = child.wait_with_output().expect("nft");
    assert!(
        out.status.success(),
        "nft: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `argv` in `ns`, which must succeed, and returns its stdout.
pub fn sh_out(ns: &Netns, argv: &[&str]) -> String {
    let out = ns.exec_ok(argv).expect("command in namespace");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Three namespaces: attacker ↔ pbx (IPv4 and IPv6) and trusted ↔ pbx, and an echo listener
/// in the pbx.
pub struct Net {
    /// The protected machine.
    pub pbx: Netns,
    /// The attacker, linked to the pbx over IPv4 and IPv6.
    pub attacker: Netns,
    /// A trusted peer, on its own link to the pbx.
    pub trusted: Netns,
    /// The echo listener in the pbx.
    pub listener: Listener,
    /// The attacker's interface towards the pbx (for more source addresses).
    pub attacker_if: String,
}

impl Net {
    /// Makes the three namespaces and starts the listener.
    // Not `Default`: it makes namespaces and starts a process, which a default value should not.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Net {
        assert!(
            crate::available(),
            "tests need root and iproute2 (CI runs as root)"
        );
        let pbx = Netns::new("pbx").unwrap();
        let attacker = Netns::new("attacker").unwrap();
        let trusted = Netns::new("trusted").unwrap();
        let a = Link::connect(
            &pbx,
            &format!("{PBX_V4}/24"),
            &attacker,
            &format!("{ATTACKER_V4}/24"),
        )
        .unwrap();
        Link::add_addr(&pbx, &a.a_if, &format!("{PBX_V6}/64")).unwrap();
        Link::add_addr(&attacker, &a.b_if, &format!("{ATTACKER_V6}/64")).unwrap();
        let attacker_if = a.b_if.clone();
        Link::connect(
            &pbx,
            &format!("{PBX_TRUSTED_V4}/24"),
            &trusted,
            &format!("{TRUSTED_V4}/24"),
        )
        .unwrap();
        let listener = Listener::start_in(&pbx);
        Net {
            pbx,
            attacker,
            trusted,
            listener,
            attacker_if,
        }
    }
}

const LISTENER: &str = r#"
import select, socket, sys
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
u.bind(("::", int(sys.argv[1])))
t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
t.bind(("::", int(sys.argv[2])))
t.listen(64)
print("ready", flush=True)
while True:
    r, _, _ = select.select([u, t], [], [])
    if u in r:
        data, addr = u.recvfrom(2048)
        u.sendto(data, addr)
        print("udp", addr[0].removeprefix("::ffff:"), flush=True)
    if t in r:
        c, addr = t.accept()
        c.settimeout(1)
        try:
            c.sendall(c.recv(2048))
        except OSError:
            pass
        c.close()
"#;

/// The pbx's UDP+TCP echo server; remembers when each UDP datagram arrived and from whom.
pub struct Listener {
    child: Child,
    /// When each UDP datagram arrived, and its source address.
    pub udp_seen: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Listener {
    /// Starts the echo listener in `ns` (ports 5060/udp and 5061/tcp, IPv4 and IPv6).
    pub fn start_in(ns: &Netns) -> Listener {
        let mut child = ns
            .command(&["python3", "-c", LISTENER, UDP_PORT, TCP_PORT])
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("start listener");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        assert_eq!(
            lines.next().and_then(Result::ok).as_deref(),
            Some("ready"),
            "listener did not start"
        );
        let udp_seen = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&udp_seen);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Some(src) = line.strip_prefix("udp ") {
                    seen.lock().unwrap().push((Instant::now(), src.to_string()));
                }
            }
        });
        Listener { child, udp_seen }
    }

    /// Datagrams from `src` that arrived after `since`.
    pub fn udp_from_since(&self, src: &str, since: Instant) -> usize {
        self.udp_seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, s)| *t > since && s == src)
            .count()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PROBE: &str = r#"
import socket, sys
proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
try:
    if proto == "udp":
        s = socket.socket(fam, socket.SOCK_DGRAM)
        if len(sys.argv) > 4:
            s.bind((sys.argv[4], 0))
        s.settimeout(0.4)
        s.sendto(b"ping", (host, port))
        s.recvfrom(64)
    else:
        s = socket.create_connection((host, port), timeout=0.4)
        s.sendall(b"ping")
        s.recv(64)
except OSError:
    sys.exit(1)
"#;

/// True when `from` gets an echo from `host` over `proto` ("udp" or "tcp"); a reachable path
/// gets three tries, so a lost first packet does not make it look blocked.
pub fn reaches(from: &Netns, proto: &str, host: &str) -> bool {
    (0..3).any(|_| probe(from, proto, host))
}

/// True when `from` gets a UDP echo from `host` sent from its address `src` (three tries).
pub fn reaches_from(from: &Netns, src: &str, host: &str) -> bool {
    (0..3).any(|_| {
        from.exec(&["python3", "-c", PROBE, "udp", host, UDP_PORT, src])
            .expect("probe")
            .status
            .success()
    })
}

/// True when one probe gets no answer (a drop, not a lost packet: the paths are veth pairs).
pub fn blocked(from: &Netns, proto: &str, host: &str) -> bool {
    !probe(from, proto, host)
}

fn probe(from: &Netns, proto: &str, host: &str) -> bool {
    let port = if proto == "udp" { UDP_PORT } else { TCP_PORT };
    from.exec(&["python3", "-c", PROBE, proto, host, port])
        .expect("probe")
        .status
        .success()
}

const FLOW: &str = r#"
import socket, sys, time
v6 = ":" in sys.argv[1]
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
if v6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # beside an IPv4 flow on the same port
s.bind(("::" if v6 else "0.0.0.0", 40000))
end = time.time() + float(sys.argv[3])
while time.time() < end:
    s.sendto(b"flow", (sys.argv[1], int(sys.argv[2])))
    time.sleep(0.02)
"#;

/// A UDP "call" from one fixed source port, one datagram every 20 ms for `secs`.
pub struct Flow(Child);

impl Flow {
    /// Starts the call from `from` to `host`'s UDP port, for `secs` seconds.
    pub fn start(from: &Netns, host: &str, secs: u32) -> Flow {
        let child = from
            .command(&["python3", "-c", FLOW, host, UDP_PORT, &secs.to_string()])
            .stdin(Stdio::null())
            .spawn()
            .expect("start flow");
        Flow(child)
    }
}

impl Drop for Flow {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `cond` holds, up to `limit`.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
