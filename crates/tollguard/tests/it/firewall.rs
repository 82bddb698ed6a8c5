//! `tollguard firewall` end to end, with real kernels and real packets: a "pbx" network
//! namespace where the built binary applies the policy, and trusted, LAN, VPN and stranger
//! namespaces joined to it by veth pairs. Listeners and probes are sockets opened inside those
//! namespaces by threads of this test (`setns`), so every verdict is the kernel's.

// Signalling dnsmasq to re-read its hosts (kill) is a libc call.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tg_testnet::{Link, Netns};

use crate::support::{in_ns, kill_and_reap, spawn_dnsmasq, BIN};

const PROBE_TIMEOUT: Duration = Duration::from_millis(400);

/// TCP and UDP listeners in one namespace. UDP datagrams starting with `probe` are echoed;
/// every datagram is counted per source address.
struct Listeners {
    stop: Arc<AtomicBool>,
    udp_counts: Arc<Mutex<HashMap<(u16, IpAddr), usize>>>,
}

impl Listeners {
    fn start(ns: &Netns, tcp: &[u16], udp: &[u16]) -> Listeners {
        let (tcp, udp) = (tcp.to_vec(), udp.to_vec());
        let (tcp_socks, udp_socks) = in_ns(ns.name(), move || {
            let t: Vec<TcpListener> = tcp
                .iter()
                .map(|p| TcpListener::bind(("::", *p)).expect("tcp bind"))
                .collect();
            let u: Vec<UdpSocket> = udp
                .iter()
                .map(|p| UdpSocket::bind(("::", *p)).expect("udp bind"))
                .collect();
            (t, u)
        });
        let stop = Arc::new(AtomicBool::new(false));
        let udp_counts = Arc::new(Mutex::new(HashMap::new()));
        for l in tcp_socks {
            l.set_nonblocking(true).unwrap();
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match l.accept() {
                        Ok((s, _)) => drop(s),
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
        for s in udp_socks {
            s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let (stop, counts) = (stop.clone(), udp_counts.clone());
            std::thread::spawn(move || {
                let port = s.local_addr().unwrap().port();
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((n, from)) = s.recv_from(&mut buf) {
                        let ip = canonical(from.ip());
                        *counts.lock().unwrap().entry((port, ip)).or_default() += 1;
                        if buf[..n].starts_with(b"probe") {
                            let _ = s.send_to(&buf[..n], from);
                        }
                    }
                }
            });
        }
        Listeners { stop, udp_counts }
    }

    fn udp_count(&self, port: u16, from: &str) -> usize {
        let ip: IpAddr = from.parse().unwrap();
        self.udp_counts
            .lock()
            .unwrap()
            .get(&(port, ip))
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum P {
    Tcp,
    Udp,
}

/// One real probe from `ns` to `target:port`: a TCP connect, or a UDP datagram answered by the
/// listener's echo.
fn probe(ns: &str, proto: P, target: IpAddr, port: u16) -> bool {
    let to = SocketAddr::new(target, port);
    in_ns(ns, move || match proto {
        P::Tcp => TcpStream::connect_timeout(&to, PROBE_TIMEOUT).is_ok(),
        P::Udp => {
            let bind: SocketAddr = if to.is_ipv4() {
                "0.0.0.0:0".parse().unwrap()
            } else {
                "[::]:0".parse().unwrap()
            };
            let s = UdpSocket::bind(bind).unwrap();
            s.set_read_timeout(Some(PROBE_TIMEOUT)).unwrap();
            let _ = s.send_to(b"probe", to);
            let mut buf = [0u8; 64];
            matches!(s.recv_from(&mut buf), Ok((5, _)))
        }
    })
}

/// Probes many `(ns, proto, target, port)` at once; returns the verdicts in order.
fn probe_all(cases: &[(String, P, IpAddr, u16)]) -> Vec<bool> {
    let handles: Vec<_> = cases
        .iter()
        .cloned()
        .map(|(ns, proto, target, port)| {
            std::thread::spawn(move || probe(&ns, proto, target, port))
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

fn tollguard(ns: &Netns, args: &[&str]) -> Output {
    let mut argv = vec![BIN];
    argv.extend_from_slice(args);
    ns.command(&argv)
        .env_remove("SSH_CONNECTION")
        .stdin(Stdio::null())
        .output()
        .expect("run tollguard")
}

fn ok(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "tollguard failed: {text}");
    text
}

fn nft(ns: &Netns, args: &[&str]) -> String {
    let mut argv = vec!["nft"];
    argv.extend_from_slice(args);
    String::from_utf8_lossy(&ns.exec_ok(&argv).unwrap().stdout).into_owned()
}

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("tollguard.toml");
    let state = dir.join("state");
    std::fs::write(&path, format!("[daemon]\nstate_dir = {:?}\n{body}", state)).unwrap();
    path
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn reachability_matrix_over_zones_ports_and_protocols() {
    assert!(
        tg_testnet::available(),
        "the firewall tests need root and iproute2 (CI runs as root)"
    );
    let pbx = Netns::new("pbx").unwrap();
    let trusted = Netns::new("trusted").unwrap();
    let lan = Netns::new("lan").unwrap();
    let vpn = Netns::new("vpn").unwrap();
    let stranger = Netns::new("stranger").unwrap();
    Link::connect(&pbx, "198.51.100.1/24", &trusted, "198.51.100.2/24").unwrap();
    let lan_link = Link::connect(&pbx, "10.1.0.1/24", &lan, "10.1.0.2/24").unwrap();
    let vpn_link = Link::connect(&pbx, "10.8.0.1/24", &vpn, "10.8.0.2/24").unwrap();
    let s_link = Link::connect(&pbx, "203.0.113.1/24", &stranger, "203.0.113.2/24").unwrap();
    Link::add_addr(&pbx, &s_link.a_if, "fd00:5::1/64").unwrap();
    Link::add_addr(&stranger, &s_link.b_if, "fd00:5::2/64").unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(
        tmp.path(),
        &format!(
            "[trusted]\naddresses = [\"198.51.100.2\"]\n\
             [firewall]\nlan_interfaces = [{:?}]\nvpn_interfaces = [{:?}]\n\
             [firewall.services.sip]\nzones = [\"anyone\"]\n\
             [firewall.services.rtp]\nzones = [\"anyone\"]\nports = [\"10000-10010\"]\n\
             [firewall.services.iax]\nzones = [\"trusted\"]\n\
             [firewall.services.ssh]\nzones = [\"trusted\", \"lan\"]\n\
             [firewall.services.http]\nzones = [\"lan\", \"vpn\"]\n\
             [firewall.services.ami]\nzones = [\"lan\"]\n\
             [firewall.services.wireguard]\nzones = [\"anyone\"]\n\
             [firewall.services.provisioning]\nzones = [\"lan\"]\n\
             [firewall.services.https]\nzones = [\"nobody\"]\n",
            lan_link.a_if, vpn_link.a_if
        ),
    );
    let tcp_ports = [5060, 22, 80, 443, 5038, 5061, 8080];
    let udp_ports = [5060, 10005, 4569, 51820, 69, 5353];
    let _listeners = Listeners::start(&pbx, &tcp_ports, &udp_ports);

    // (proto, port, reachable from [trusted, lan, vpn, stranger])
    let expect: &[(P, u16, [bool; 4])] = &[
        (P::Udp, 5060, [true, true, true, true]),
        (P::Tcp, 5060, [true, true, true, true]),
        (P::Udp, 10005, [true, true, true, true]),
        (P::Udp, 51820, [true, true, true, true]),
        (P::Udp, 4569, [true, false, false, false]),
        (P::Tcp, 22, [true, true, false, false]),
        (P::Tcp, 80, [false, true, true, false]),
        (P::Tcp, 5038, [false, true, false, false]),
        (P::Udp, 69, [false, true, false, false]),
        (P::Tcp, 443, [false, false, false, false]),
        (P::Tcp, 5061, [false, false, false, false]),
        (P::Tcp, 8080, [false, false, false, false]),
        (P::Udp, 5353, [false, false, false, false]),
    ];
    let sources = [
        (trusted.name().to_string(), ip("198.51.100.1")),
        (lan.name().to_string(), ip("10.1.0.1")),
        (vpn.name().to_string(), ip("10.8.0.1")),
        (stranger.name().to_string(), ip("203.0.113.1")),
    ];
    let mut cases = Vec::new();
    for (proto, port, _) in expect {
        for (ns, target) in &sources {
            cases.push((ns.clone(), *proto, *target, *port));
        }
    }
    // IPv6 from the stranger: SIP open, SSH closed.
    cases.push((stranger.name().to_string(), P::Udp, ip("fd00:5::1"), 5060));
    cases.push((stranger.name().to_string(), P::Tcp, ip("fd00:5::1"), 22));

    // Without a policy every listener answers: a refusal below is the firewall's doing.
    assert!(
        probe_all(&cases).iter().all(|v| *v),
        "listeners must answer before the policy is applied"
    );

    ok(&tollguard(
        &pbx,
        &[
            "firewall",
            "apply",
            "--config",
            config.to_str().unwrap(),
            "--confirm-within",
            "0",
        ],
    ));
    // Forget the neighbours learnt before the policy: the IPv6 probe below then needs
    // neighbour discovery to pass the policy too.
    for ns in [&pbx, &stranger] {
        ns.exec_ok(&["ip", "-6", "neigh", "flush", "all"]).unwrap();
    }
    let got = probe_all(&cases);
    let ping = |target: &str| {
        stranger
            .exec(&["ping", "-c", "1", "-W", "1", target])
            .unwrap()
            .status
            .success()
    };
    assert!(
        ping("203.0.113.1") && ping("fd00:5::1"),
        "ICMP echo is an essential (v4 and v6)"
    );
    let mut wrong = Vec::new();
    for (i, (proto, port, want)) in expect.iter().enumerate() {
        for (j, (ns, _)) in sources.iter().enumerate() {
            if got[i * 4 + j] != want[j] {
                wrong.push(format!(
                    "{proto:?}/{port} from {ns}: got {}, want {}",
                    got[i * 4 + j],
                    want[j]
                ));
            }
        }
    }
    let n = expect.len() * 4;
    if !got[n] {
        wrong.push("IPv6 udp/5060 from stranger refused".into());
    }
    if got[n + 1] {
        wrong.push("IPv6 tcp/22 from stranger admitted".into());
    }
    assert!(
        wrong.is_empty(),
        "reachability matrix:\n{}",
        wrong.join("\n")
    );

    let status = ok(&tollguard(
        &pbx,
        &["firewall", "status", "--config", config.to_str().unwrap()],
    ));
    let sip_line = status
        .lines()
        .find(|l| l.contains("sip udp from anyone"))
        .expect(&status);
    let packets: u64 = sip_line.split_whitespace().next().unwrap().parse().unwrap();
    assert!(packets >= 5, "status counts the SIP probes: {status}");
    assert!(status.contains("dropped by the default policy"), "{status}");
}

/// The daemon's contract objects, created as the ban enforcer would if they are missing.
fn ban(ns: &Netns, addr: &str) {
    let script = "add table inet tollguard\n\
                  add set inet tollguard banned_v4 { type ipv4_addr; flags timeout; }\n\
                  add set inet tollguard banned_v6 { type ipv6_addr; flags timeout; }\n\
                  add chain inet tollguard bans { type filter hook input priority -150; policy accept; }\n";
    let mut child = ns
        .command(&["nft", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    if !nft(ns, &["list", "chain", "inet", "tollguard", "bans"]).contains("@banned_v4") {
        nft(
            ns,
            &[
                "add",
                "rule",
                "inet",
                "tollguard",
                "bans",
                "ip",
                "saddr",
                "@banned_v4",
                "drop",
            ],
        );
    }
    nft(
        ns,
        &[
            "add",
            "element",
            "inet",
            "tollguard",
            "banned_v4",
            &format!("{{ {addr} timeout 1h }}"),
        ],
    );
}

#[test]
fn bans_survive_apply_and_other_tables_are_untouched() {
    assert!(tg_testnet::available(), "the firewall tests need root");
    let pbx = Netns::new("pbx").unwrap();
    let s1 = Netns::new("s1").unwrap();
    let s2 = Netns::new("s2").unwrap();
    Link::connect(&pbx, "203.0.113.1/24", &s1, "203.0.113.2/24").unwrap();
    Link::connect(&pbx, "198.18.0.1/24", &s2, "198.18.0.2/24").unwrap();
    let _l = Listeners::start(&pbx, &[22], &[5060]);
    // Another tool's table with a rule and a counter (think Docker).
    nft(&pbx, &["add", "table", "ip", "docker_like"]);
    nft(
        &pbx,
        &[
            "add",
            "chain",
            "ip",
            "docker_like",
            "forward",
            "{ type filter hook forward priority 0; policy accept; }",
        ],
    );
    nft(
        &pbx,
        &[
            "add",
            "rule",
            "ip",
            "docker_like",
            "forward",
            "ip",
            "daddr",
            "172.17.0.0/16",
            "counter",
            "accept",
        ],
    );
    let docker_before = nft(&pbx, &["list", "table", "ip", "docker_like"]);
    ban(&pbx, "203.0.113.2");

    let tmp = tempfile::tempdir().unwrap();
    let sip_and_ssh = "[firewall.services.sip]\nzones = [\"anyone\"]\n[firewall.services.ssh]\nzones = [\"anyone\"]\n";
    let config = write_config(tmp.path(), sip_and_ssh);
    let cfg = config.to_str().unwrap();
    ok(&tollguard(
        &pbx,
        &[
            "firewall",
            "apply",
            "--config",
            cfg,
            "--confirm-within",
            "0",
        ],
    ));
    let (pbx1, pbx2) = (ip("203.0.113.1"), ip("198.18.0.1"));
    let check = |label: &str| {
        let v = probe_all(&[
            (s1.name().to_string(), P::Udp, pbx1, 5060),
            (s2.name().to_string(), P::Udp, pbx2, 5060),
            (s2.name().to_string(), P::Tcp, pbx2, 22),
        ]);
        assert_eq!(
            v,
            vec![false, true, true],
            "{label}: banned s1 dropped, s2 admitted"
        );
        assert!(
            nft(&pbx, &["list", "set", "inet", "tollguard", "banned_v4"]).contains("203.0.113.2"),
            "{label}"
        );
    };
    check("after the first apply");

    // A second apply with a different policy (ssh gone) keeps the ban and drops ssh.
    std::fs::write(
        &config,
        std::fs::read_to_string(&config).unwrap().replace(
            "[firewall.services.ssh]\nzones = [\"anyone\"]",
            "[firewall.services.ssh]\nzones = [\"nobody\"]",
        ),
    )
    .unwrap();
    ok(&tollguard(
        &pbx,
        &[
            "firewall",
            "apply",
            "--config",
            cfg,
            "--confirm-within",
            "0",
            "--force",
        ],
    ));
    let v = probe_all(&[
        (s1.name().to_string(), P::Udp, pbx1, 5060),
        (s2.name().to_string(), P::Udp, pbx2, 5060),
        (s2.name().to_string(), P::Tcp, pbx2, 22),
    ]);
    assert_eq!(
        v,
        vec![false, true, false],
        "second policy: ban kept, ssh closed"
    );
    assert_eq!(
        nft(&pbx, &["list", "table", "ip", "docker_like"]),
        docker_before,
        "other tables untouched by apply"
    );

    // Rollback to the first policy, then to none: the ban and the other table stay.
    let out = ok(&tollguard(&pbx, &["firewall", "rollback", "--config", cfg]));
    assert!(
        out.contains("restored the previous firewall policy"),
        "{out}"
    );
    check("after rollback");
    // The first apply had nothing before it; roll all the way back via a fresh state.
    std::fs::remove_dir_all(tmp.path().join("state")).unwrap();
    ok(&tollguard(
        &pbx,
        &[
            "firewall",
            "apply",
            "--config",
            cfg,
            "--confirm-within",
            "0",
            "--force",
        ],
    ));
    ok(&tollguard(&pbx, &["firewall", "rollback", "--config", cfg]));
    let table = nft(&pbx, &["list", "table", "inet", "tollguard"]);
    assert!(
        !table.contains("fw_"),
        "policy removed by rollback:\n{table}"
    );
    assert!(
        table.contains("203.0.113.2") && table.contains("chain bans"),
        "ban objects kept:\n{table}"
    );
    assert_eq!(
        nft(&pbx, &["list", "table", "ip", "docker_like"]),
        docker_before,
        "other tables untouched by rollback"
    );
    let v = probe_all(&[
        (s1.name().to_string(), P::Udp, pbx1, 5060),
        (s2.name().to_string(), P::Tcp, pbx2, 22),
    ]);
    assert_eq!(
        v,
        vec![false, true],
        "no policy: still banned, everything else open"
    );
}

const WEB_OPEN: &str =
    "[firewall.services.ssh]\nzones = [\"anyone\"]\n[firewall.services.http]\nzones = [\"anyone\"]\n";
const WEB_CLOSED: &str =
    "[firewall.services.ssh]\nzones = [\"anyone\"]\n[firewall.services.http]\nzones = [\"nobody\"]\n";

/// A PBX with ssh and http listening, a client beside it, and a first policy (http open)
/// applied and confirmed.
struct WebLab {
    pbx: Netns,
    client: Netns,
    _listeners: Listeners,
    tmp: tempfile::TempDir,
    cfg: String,
}

impl WebLab {
    fn new(pbx: &str, client: &str) -> WebLab {
        assert!(tg_testnet::available(), "the firewall tests need root");
        let pbx = Netns::new(pbx).unwrap();
        let client = Netns::new(client).unwrap();
        Link::connect(&pbx, "203.0.113.1/24", &client, "203.0.113.2/24").unwrap();
        let listeners = Listeners::start(&pbx, &[22, 80], &[]);
        let tmp = tempfile::tempdir().unwrap();
        let cfg = write_config(tmp.path(), WEB_OPEN)
            .to_str()
            .unwrap()
            .to_string();
        ok(&tollguard(
            &pbx,
            &[
                "firewall",
                "apply",
                "--config",
                &cfg,
                "--confirm-within",
                "0",
            ],
        ));
        let lab = WebLab {
            pbx,
            client,
            _listeners: listeners,
            tmp,
            cfg,
        };
        assert!(lab.http(), "first policy opens http");
        lab
    }

    fn http(&self) -> bool {
        probe(self.client.name(), P::Tcp, ip("203.0.113.1"), 80)
    }

    /// Writes the policy that closes http (not applied).
    fn close_http(&self) {
        write_config(self.tmp.path(), WEB_CLOSED);
    }

    fn state(&self, name: &str) -> PathBuf {
        self.tmp.path().join("state/firewall").join(name)
    }
}

#[test]
fn unconfirmed_apply_rolls_back_and_confirmed_one_stays() {
    let lab = WebLab::new("pbx", "s");
    let cfg = lab.cfg.as_str();
    let pbx = &lab.pbx;
    let http = || lab.http();

    // Close http, do not confirm: rolled back by the watchdog after ~2s.
    lab.close_http();
    let out = ok(&tollguard(
        pbx,
        &[
            "firewall",
            "apply",
            "--config",
            cfg,
            "--confirm-within",
            "2s",
        ],
    ));
    assert!(out.contains("firewall confirm"), "{out}");
    assert!(!http(), "second policy closes http");
    let status = ok(&tollguard(pbx, &["firewall", "status", "--config", cfg]));
    assert!(status.contains("rolled back in"), "{status}");
    let t0 = Instant::now();
    while !http() && t0.elapsed() < Duration::from_secs(6) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(http(), "not confirmed: rolled back to the first policy");
    assert!(
        t0.elapsed() >= Duration::from_millis(1000),
        "not before its time: {:?}",
        t0.elapsed()
    );
    let log = std::fs::read_to_string(lab.state("watchdog.log")).unwrap();
    assert!(log.contains("not confirmed within 2s"), "{log}");

    // Applied twice without a confirm: the second apply supersedes the first one's watchdog,
    // and the rollback still returns to the last confirmed policy (http open).
    let apply2 = || {
        ok(&tollguard(
            pbx,
            &[
                "firewall",
                "apply",
                "--config",
                cfg,
                "--confirm-within",
                "2s",
            ],
        ))
    };
    apply2();
    apply2();
    assert!(!http(), "closed while pending");
    let t0 = Instant::now();
    while !http() && t0.elapsed() < Duration::from_secs(6) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        http(),
        "rolled back to the last confirmed policy, not to the superseded apply"
    );
    let log = std::fs::read_to_string(lab.state("watchdog.log")).unwrap();
    assert!(log.contains("superseded"), "{log}");

    // The same change confirmed in time stays.
    ok(&tollguard(
        pbx,
        &[
            "firewall",
            "apply",
            "--config",
            cfg,
            "--confirm-within",
            "2s",
        ],
    ));
    let out = ok(&tollguard(pbx, &["firewall", "confirm", "--config", cfg]));
    assert!(out.contains("confirmed"), "{out}");
    std::thread::sleep(Duration::from_millis(3000));
    assert!(!http(), "confirmed policy stays (http closed)");
}

#[test]
fn an_apply_whose_reader_went_away_is_rolled_back_and_an_expired_one_is_undone_at_start() {
    let lab = WebLab::new("pbxpipe", "spipe");
    let cfg = lab.cfg.as_str();
    let pbx = &lab.pbx;
    let http = || lab.http();

    // `tollguard firewall apply | true`: stdout's reader is gone before apply writes a line.
    lab.close_http();
    let mut child = pbx
        .command(&[
            BIN,
            "firewall",
            "apply",
            "--config",
            cfg,
            "--confirm-within",
            "2s",
        ])
        .env_remove("SSH_CONNECTION")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.status.success(),
        "a gone reader is no failure: {stderr}"
    );
    assert!(!http(), "the new policy was loaded");
    let t0 = Instant::now();
    while !http() && t0.elapsed() < Duration::from_secs(8) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(http(), "its watchdog was armed and rolled it back");

    // An apply whose watchdog died (a reboot, a kill): the next tollguard start undoes it.
    ok(&tollguard(
        pbx,
        &[
            "firewall",
            "apply",
            "--config",
            cfg,
            "--confirm-within",
            "30s",
        ],
    ));
    assert!(!http());
    let killed = Command::new("pkill")
        .args(["-f", &format!("firewall watchdog --config {cfg}")])
        .status()
        .unwrap();
    assert!(killed.success(), "the watchdog was running");
    let pending_file = lab.state("pending");
    let pending = std::fs::read_to_string(&pending_file).unwrap();
    let id = pending.split_whitespace().next().unwrap().to_string();
    // Its deadline long past.
    std::fs::write(&pending_file, format!("{id} 1000\n")).unwrap();
    let out = tollguard(pbx, &["firewall", "status", "--config", cfg]);
    let text = ok(&out);
    assert!(text.contains("was never confirmed"), "{text}");
    assert!(http(), "rolled back to the confirmed policy");
    assert!(!pending_file.exists());
    let log = std::fs::read_to_string(lab.state("watchdog.log")).unwrap();
    assert!(log.contains("after its deadline"), "{log}");
}

#[test]
fn refused_inputs_name_the_key_and_line_and_apply_nothing() {
    assert!(tg_testnet::available(), "the firewall tests need root");
    let pbx = Netns::new("pbx").unwrap();
    let s = Netns::new("s").unwrap();
    Link::connect(&pbx, "203.0.113.1/24", &s, "203.0.113.2/24").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let nothing_loaded = |label: &str| {
        let out = pbx.exec(&["nft", "list", "tables"]).unwrap();
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("tollguard"),
            "{label}: nothing applied"
        );
    };
    let refused = |body: &str, wants: &[&str], extra: &[&str]| {
        let config = write_config(tmp.path(), body);
        let mut args = vec![
            "firewall",
            "apply",
            "--config",
            config.to_str().unwrap(),
            "--confirm-within",
            "0",
        ];
        args.extend_from_slice(extra);
        let out = tollguard(&pbx, &args);
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{body}: {text}");
        for w in wants {
            assert!(text.contains(w), "{body}: want {w:?} in {text}");
        }
        nothing_loaded(body);
    };
    // `render` prints the whole commented script and loads nothing.
    let config = write_config(
        tmp.path(),
        "[firewall.services.ssh]\nzones = [\"anyone\"]\n",
    );
    let script = ok(&tollguard(
        &pbx,
        &["firewall", "render", "--config", config.to_str().unwrap()],
    ));
    for want in [
        "# tollguard firewall policy",
        "add chain inet tollguard fw_input { type filter hook input priority 0; policy drop; }",
        "add rule inet tollguard fw_zone_anyone tcp dport 22 counter accept comment \"ssh tcp from anyone\"",
    ] {
        assert!(script.contains(want), "{want:?} missing from\n{script}");
    }
    nothing_loaded("render");
    // Line numbers count the two lines write_config puts first.
    refused(
        "[firewall.services.fax]\nzones = [\"anyone\"]\n",
        &["tollguard.toml:3: firewall.services.fax: unknown service"],
        &[],
    );
    refused(
        "[firewall.services.ssh]\nzones = [\"everybody\"]\n",
        &["tollguard.toml:4: firewall.services.ssh.zones: unknown zone"],
        &[],
    );
    refused("[firewall]\nlan_networks = [\"10.0.0.0/33\"]\n[firewall.services.ssh]\nzones = [\"lan\"]\n", &["tollguard.toml:4: firewall.lan_networks"], &[]);
    refused(
        "[firewall.services.web]\nzones = [\"anyone\"]\nports = [65536]\nprotocol = \"tcp\"\n",
        &["tollguard.toml:5: firewall.services.web.ports: port 65536 is out of range"],
        &[],
    );
    refused("[trusted]\naddresses = [\"nonexistent.invalid\"]\n[firewall]\ndns_servers = [\"127.0.0.1:5399\"]\n[firewall.services.ssh]\nzones = [\"trusted\"]\n", &["tollguard.toml:4: trusted.addresses", "\"nonexistent.invalid\" does not resolve"], &[]);
    refused(
        "[firewall.services.sip]\nzones = [\"anyone\"]\n",
        &["no service opens SSH", "--force"],
        &[],
    );
    refused(
        "[firewall.services.ssh]\nzones = [\"trusted\"]\n",
        &["SSH is open to no zone that has members"],
        &[],
    );

    // The SSH session applying it would be cut off: refused, then allowed with --force.
    let config = write_config(
        tmp.path(),
        "[trusted]\naddresses = [\"192.0.2.9\"]\n[firewall.services.ssh]\nzones = [\"trusted\"]\n",
    );
    let apply = |force: bool| {
        let mut argv = vec![
            BIN,
            "firewall",
            "apply",
            "--config",
            config.to_str().unwrap(),
            "--confirm-within",
            "0",
        ];
        if force {
            argv.push("--force");
        }
        pbx.command(&argv)
            .env("SSH_CONNECTION", "203.0.113.2 50000 203.0.113.1 22")
            .output()
            .unwrap()
    };
    let out = apply(false);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(
            "would not admit a new SSH connection from your session's address 203.0.113.2"
        ),
        "{text}"
    );
    nothing_loaded("lockout");
    let out = apply(true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning (--force)"));
}

/// A dnsmasq serving `name` from a hosts file, on 127.0.0.1:5353 inside `ns`, TTL 2s.
struct Dns {
    child: Child,
    hosts: PathBuf,
}

impl Dns {
    fn start(ns: &Netns, dir: &Path, name: &str, addr: &str) -> Dns {
        let hosts = dir.join("hosts");
        std::fs::write(&hosts, format!("{addr} {name}\n")).unwrap();
        let mut perms = std::fs::metadata(dir).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(dir, perms).unwrap();
        let child = spawn_dnsmasq(ns, &hosts, 5353);
        Dns { child, hosts }
    }

    fn change(&self, name: &str, addr: &str) {
        std::fs::write(&self.hosts, format!("{addr} {name}\n")).unwrap();
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGHUP) };
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}

#[test]
fn a_trusted_name_follows_its_dns_answer_within_one_ttl() {
    assert!(tg_testnet::available(), "the firewall tests need root");
    let pbx = Netns::new("pbx").unwrap();
    let old = Netns::new("old").unwrap();
    let new = Netns::new("new").unwrap();
    Link::connect(&pbx, "198.51.100.1/24", &old, "198.51.100.2/24").unwrap();
    Link::connect(&pbx, "192.0.2.1/24", &new, "192.0.2.2/24").unwrap();
    let _l = Listeners::start(&pbx, &[22], &[]);
    let tmp = tempfile::tempdir().unwrap();
    let dns = Dns::start(&pbx, tmp.path(), "phone.test", "198.51.100.2");
    let config = write_config(
        tmp.path(),
        "[trusted]\naddresses = [\"phone.test\"]\nrefresh = \"1m\"\n[firewall]\ndns_servers = [\"127.0.0.1:5353\"]\n\
         [firewall.services.ssh]\nzones = [\"trusted\"]\n",
    );
    let cfg = config.to_str().unwrap();
    let out = ok(&tollguard(
        &pbx,
        &[
            "firewall",
            "apply",
            "--config",
            cfg,
            "--confirm-within",
            "0",
        ],
    ));
    assert!(out.contains("trusted phone.test = 198.51.100.2"), "{out}");
    let ssh = |ns: &Netns, target: &str| probe(ns.name(), P::Tcp, ip(target), 22);
    assert!(
        ssh(&old, "198.51.100.1") && !ssh(&new, "192.0.2.1"),
        "the old address is trusted, the new one not yet"
    );

    let mut refresher = pbx
        .command(&[BIN, "firewall", "refresh", "--config", cfg])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Whether the refresher's first round sees the old or the new answer, the new address must
    // be admitted within one TTL of the change: nothing to wait for here.
    dns.change("phone.test", "192.0.2.2");
    let t0 = Instant::now();
    while !ssh(&new, "192.0.2.1") && t0.elapsed() < Duration::from_secs(8) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = t0.elapsed();
    eprintln!("dns: the new address was admitted {took:?} after the DNS change (TTL 2s)");
    let old_still = ssh(&old, "198.51.100.1");
    let status = ok(&tollguard(&pbx, &["firewall", "status", "--config", cfg]));
    let _ = refresher.kill();
    let _ = refresher.wait();
    assert!(
        took < Duration::from_millis(4500),
        "the new address was admitted after {took:?} (TTL 2s)"
    );
    assert!(!old_still, "the old address is no longer trusted");
    assert!(status.contains("phone.test = 192.0.2.2"), "{status}");
}

#[test]
fn a_sip_flood_is_limited_per_source_while_another_register_gets_through() {
    assert!(tg_testnet::available(), "the firewall tests need root");
    let pbx = Netns::new("pbx").unwrap();
    let flooder = Netns::new("flood").unwrap();
    let caller = Netns::new("caller").unwrap();
    let friend = Netns::new("friend").unwrap();
    Link::connect(&pbx, "203.0.113.1/24", &flooder, "203.0.113.2/24").unwrap();
    Link::connect(&pbx, "198.18.0.1/24", &caller, "198.18.0.2/24").unwrap();
    Link::connect(&pbx, "192.0.2.1/24", &friend, "192.0.2.2/24").unwrap();
    let listeners = Listeners::start(&pbx, &[], &[5060]);
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(
        tmp.path(),
        "[trusted]\naddresses = [\"192.0.2.2\"]\n\
         [firewall.services.sip]\nzones = [\"anyone\"]\n[firewall.services.ssh]\nzones = [\"anyone\"]\n\
         [firewall.flood]\nrate = 10\nburst = 20\n",
    );
    let cfg = config.to_str().unwrap();
    ok(&tollguard(
        &pbx,
        &[
            "firewall",
            "apply",
            "--config",
            cfg,
            "--confirm-within",
            "0",
        ],
    ));

    let scenario = tmp.path().join("register.xml");
    std::fs::write(&scenario, REGISTER_XML).unwrap();
    let sipp = |ns: &Netns, local: &str, target: &str, calls: &str, rate: &str| {
        ns.command(&[
            "sipp",
            "-sf",
            scenario.to_str().unwrap(),
            "-m",
            calls,
            "-r",
            rate,
            "-l",
            calls,
            "-i",
            local,
            "-p",
            "5070",
            "-nostdin",
            "-timeout",
            "10s",
            "-nr",
            target,
        ])
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("sipp")
    };
    // 400 REGISTERs at 400/s from the flooder (about one second).
    let t0 = Instant::now();
    let flood_status = sipp(&flooder, "203.0.113.2", "203.0.113.1:5060", "400", "400");
    let flood_secs = t0.elapsed().as_secs_f64();
    // And one REGISTER from another stranger; and a trusted peer's burst, which is exempt.
    let _ = sipp(&caller, "198.18.0.2", "198.18.0.1:5060", "1", "1");
    let _ = sipp(&friend, "192.0.2.2", "192.0.2.1:5060", "200", "400");
    std::thread::sleep(Duration::from_millis(200));

    let flooded = listeners.udp_count(5060, "203.0.113.2");
    let single = listeners.udp_count(5060, "198.18.0.2");
    let allowed = 20.0 + 10.0 * (flood_secs + 1.0);
    eprintln!("flood: {flooded} of 400 REGISTERs from the flooder in {flood_secs:.2}s reached 5060; the other stranger's: {single}");
    assert!(
        flooded > 0,
        "sipp ran ({flood_status:?}) and some REGISTERs are let through"
    );
    assert!(
        (flooded as f64) <= allowed,
        "{flooded} of 400 flood packets in {flood_secs:.1}s got through (limit ~{allowed})"
    );
    assert_eq!(single, 1, "the other stranger's REGISTER got through");
    assert_eq!(
        listeners.udp_count(5060, "192.0.2.2"),
        200,
        "a trusted sender is not limited"
    );
    let status = ok(&tollguard(&pbx, &["firewall", "status", "--config", cfg]));
    let dropped: u64 = status
        .lines()
        .find(|l| l.contains("SIP flood dropped"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    // Every REGISTER that did not arrive was dropped by the flood rule, and counted there.
    assert_eq!(
        dropped as usize + flooded,
        400,
        "flood drops are counted: {status}"
    );
}

const REGISTER_XML: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register, no answer awaited">
  <send>
    <![CDATA[

      REGISTER sip:[remote_ip] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:1000@[remote_ip]>;tag=[call_number]
      To: <sip:1000@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:1000@[local_ip]:[local_port]>
      Max-Forwards: 70
      Expires: 60
      Content-Length: 0

    ]]>
  </send>
</scenario>
"#;

/// Today's and another day's name as the config spells them, from the same clock nft uses.
fn today_and_another_day() -> (String, String) {
    let out = Command::new("date").arg("+%u").output().unwrap();
    let n: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap(); // 1 = Monday
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    (days[n - 1].to_string(), days[n % 7].to_string())
}

#[test]
fn time_windows_port_remapping_and_asterisk_trunks_in_the_kernel() {
    assert!(tg_testnet::available(), "the firewall tests need root");
    let pbx = Netns::new("pbx").unwrap();
    let admin = Netns::new("admin").unwrap();
    let trunk = Netns::new("trunk").unwrap();
    Link::connect(&pbx, "203.0.113.1/24", &admin, "203.0.113.2/24").unwrap();
    Link::connect(&pbx, "198.51.100.1/24", &trunk, "198.51.100.9/24").unwrap();
    let _l = Listeners::start(&pbx, &[22, 80, 443, 5060], &[5060]);
    let tmp = tempfile::tempdir().unwrap();
    let ast = tmp.path().join("asterisk");
    std::fs::create_dir_all(&ast).unwrap();
    std::fs::write(
        ast.join("pjsip.conf"),
        "[provider]\ntype=identify\nendpoint=provider\nmatch=198.51.100.9\n",
    )
    .unwrap();
    let (today, other) = today_and_another_day();
    let config = write_config(
        tmp.path(),
        &format!(
            "[firewall]\ntrust_from_asterisk = true\nasterisk_dir = {ast:?}\n\
             [firewall.services.sip]\nzones = [\"trusted\"]\n\
             [firewall.services.ssh]\nzones = [\"anyone\"]\nexternal_port = 2222\n\
             [firewall.services.http]\nzones = [\"anyone\"]\nhours = \"00:00-24:00\"\ndays = [\"{today}\"]\n\
             [firewall.services.https]\nzones = [\"anyone\"]\ndays = [\"{other}\"]\n"
        ),
    );
    ok(&tollguard(
        &pbx,
        &[
            "firewall",
            "apply",
            "--config",
            config.to_str().unwrap(),
            "--confirm-within",
            "0",
        ],
    ));
    let a = admin.name().to_string();
    let t = trunk.name().to_string();
    let v = probe_all(&[
        (a.clone(), P::Tcp, ip("203.0.113.1"), 2222),
        (a.clone(), P::Tcp, ip("203.0.113.1"), 22),
        (a.clone(), P::Tcp, ip("203.0.113.1"), 80),
        (a.clone(), P::Tcp, ip("203.0.113.1"), 443),
        (t.clone(), P::Udp, ip("198.51.100.1"), 5060),
        (t, P::Tcp, ip("198.51.100.1"), 5060),
        (a.clone(), P::Udp, ip("203.0.113.1"), 5060),
    ]);
    assert_eq!(
        v,
        vec![true, false, true, false, true, true, false],
        "ssh via 2222 only; http today ({today}), https not ({other}); SIP only from the pjsip trunk"
    );
}
