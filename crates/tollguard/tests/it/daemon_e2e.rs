//! End-to-end tests of `tollguard run` with real kernels and real packets.
//!
//! Each test makes its own network namespaces (tg-testnet): a "pbx" namespace runs the built
//! daemon with its own nftables, an "attacker" and a "trusted" namespace reach it over veth
//! pairs. Lines in Asterisk's exact formats are appended to the watched file; we then send real
//! UDP and TCP packets from the other namespaces (from threads that `setns` into them) and
//! watch them being dropped. Nothing here touches the host's ruleset.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use tg_testnet::{Link, Netns};

use crate::support::{append, in_ns, in_set, kill_and_reap, time_until, Site, BIN};

const PBX: &str = "10.99.0.1";
const ATTACKER: &str = "10.99.0.2";
const PBX_T: &str = "10.98.0.1";
const TRUSTED: &str = "10.98.0.2";

/// A UDP echo and a TCP accept-and-greet server on port 5060 inside `ns`, forever; returns once
/// both are bound.
fn start_servers(ns: &str) {
    let ns = ns.to_string();
    let (bound_tx, bound_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        in_ns(&ns, move || {
            let udp = UdpSocket::bind("0.0.0.0:5060").expect("udp bind");
            let tcp = TcpListener::bind("0.0.0.0:5060").expect("tcp bind");
            let _ = bound_tx.send(());
            std::thread::spawn(move || {
                for s in tcp.incoming().flatten() {
                    let _ = (&s).write_all(b"SIP/2.0 200 OK\r\n");
                }
            });
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = udp.recv_from(&mut buf) {
                let _ = udp.send_to(&buf[..n], from);
            }
        })
    });
    bound_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the servers bound port 5060");
}

fn udp_reaches(ns: &str, to: &str) -> bool {
    let to: SocketAddr = format!("{to}:5060").parse().unwrap();
    in_ns(ns, move || {
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let _ = s.send_to(b"OPTIONS sip:probe SIP/2.0\r\n", to);
        let mut buf = [0u8; 64];
        s.recv_from(&mut buf).is_ok()
    })
}

fn tcp_reaches(ns: &str, to: &str) -> bool {
    let to: SocketAddr = format!("{to}:5060").parse().unwrap();
    in_ns(ns, move || {
        TcpStream::connect_timeout(&to, Duration::from_millis(300)).is_ok()
    })
}

fn chan_sip(ip: &str, sec: u32, why: &str) -> String {
    format!(
        "[2026-11-25 10:{:02}:{:02}] NOTICE[1234] chan_sip.c: Registration from '\"100\" <sip:100@203.0.113.5>' failed for '{ip}:5060' - {why}\n",
        sec / 60 % 60,
        sec % 60
    )
}

fn pjsip(ip: &str, sec: u32, callid: &str) -> String {
    format!(
        "[2026-11-25 10:{:02}:{:02}] NOTICE[1234] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:100@203.0.113.5>' failed for '{ip}:5061' (callid: {callid}) - Failed to authenticate\n",
        sec / 60 % 60,
        sec % 60
    )
}

fn benign(n: u32) -> String {
    format!(
        "[2026-11-25 10:00:00] VERBOSE[2345][C-{n:08x}] pbx.c: Executing [100@from-internal:1] Dial(\"PJSIP/100-{n:08x}\", \"PJSIP/200,30\") in new stack\n"
    )
}

/// A site whose sip jail watches `messages` (bans after 3 failures), trusting `trusted`, with
/// `extra` appended to the config.
fn sip_site(trusted: &[&str], extra: &str) -> Site {
    let site = Site::new();
    let trusted: Vec<String> = trusted.iter().map(|t| format!("\"{t}\"")).collect();
    let config = format!(
        "[daemon]\nstate_dir = \"{state}\"\nsocket = \"{sock}\"\n\n\
         [trusted]\naddresses = [{trusted}]\n\n\
         [jail.sip]\nlogs = [\"{log}\"]\nmax_retry = 3\nfind_time = \"10m\"\nban_time = \"1h\"\n\n\
         [jail.iax]\nenabled = false\n[jail.ami]\nenabled = false\n[jail.web]\nenabled = false\n\
         [jail.ssh]\nenabled = false\n[jail.ftp]\nenabled = false\n{extra}",
        state = site.path("state").display(),
        sock = site.path("tg.sock").display(),
        log = site.path("messages").display(),
        trusted = trusted.join(", "),
    );
    site.write_config(&config);
    append(&site.path("messages"), "");
    site
}

#[test]
fn attacker_is_dropped_within_a_second_trusted_never_and_bans_survive_kill_and_flush() {
    assert!(
        tg_testnet::available(),
        "tests need root and iproute2 (CI runs as root)"
    );
    let pbx = Netns::new("pbx").unwrap();
    let attacker = Netns::new("atk").unwrap();
    let trusted = Netns::new("trs").unwrap();
    Link::connect(
        &pbx,
        &format!("{PBX}/24"),
        &attacker,
        &format!("{ATTACKER}/24"),
    )
    .unwrap();
    Link::connect(
        &pbx,
        &format!("{PBX_T}/24"),
        &trusted,
        &format!("{TRUSTED}/24"),
    )
    .unwrap();
    start_servers(pbx.name());
    let (atk, trs) = (attacker.name().to_string(), trusted.name().to_string());
    assert!(
        udp_reaches(&atk, PBX) && tcp_reaches(&atk, PBX),
        "no baseline reachability"
    );
    assert!(
        udp_reaches(&trs, PBX_T),
        "no baseline reachability for the trusted side"
    );

    let site = sip_site(&[TRUSTED], "");
    let mut daemon = site.start(&pbx);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(site.path("tg.sock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "control socket mode {mode:o}");
    // Another user cannot control the daemon.
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            BIN,
            "status",
        ])
        .args(["--socket", &site.socket()])
        .output()
        .unwrap();
    assert!(!out.status.success(), "nobody could ask for the status");

    // A thousand failures from the trusted address: counted as findings, never banned.
    let mut text = String::new();
    for i in 0..1000 {
        text.push_str(&chan_sip(TRUSTED, i % 600, "Wrong password"));
    }
    append(&site.path("messages"), &text);

    // Three failures from the attacker, in both chan_sip and PJSIP formats.
    let written = Instant::now();
    append(
        &site.path("messages"),
        &(chan_sip(ATTACKER, 1, "Wrong password")
            + &pjsip(ATTACKER, 2, "a1b2c3@203.0.113.5")
            + &chan_sip(ATTACKER, 3, "No matching peer found")),
    );
    let blocked = time_until(Duration::from_secs(2), || !udp_reaches(&atk, PBX));
    let blocked_after = written.elapsed();
    assert!(
        blocked.is_some(),
        "attacker's UDP still answered 2 s after its failures"
    );
    // The probe that found it blocked waited its 200 ms timeout; the ban came before it.
    assert!(
        blocked_after < Duration::from_millis(1200),
        "ban took {blocked_after:?}"
    );
    assert!(in_set(&pbx, ATTACKER));
    assert!(
        !tcp_reaches(&atk, PBX),
        "TCP from the banned attacker got through"
    );
    assert!(udp_reaches(&trs, PBX_T), "trusted UDP was dropped");
    assert!(tcp_reaches(&trs, PBX_T), "trusted TCP was dropped");
    assert!(!in_set(&pbx, TRUSTED));

    let status = site.status();
    assert!(
        status["counters"]["findings"].as_u64().unwrap() >= 1003,
        "{status}"
    );
    assert_eq!(
        status["counters"]["trusted_findings"].as_u64(),
        Some(1000),
        "{status}"
    );
    let bans = site.bans();
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(bans[0]["ip"], ATTACKER);
    assert_eq!(bans[0]["jail"], "sip");
    assert_eq!(bans[0]["count"], 3);
    for key in ["since", "until", "reason"] {
        assert!(bans[0][key].is_string(), "{key} missing: {bans:?}");
    }

    // Unban restores reachability.
    let out = site.ctl(&["unban", ATTACKER]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(time_until(Duration::from_secs(1), || udp_reaches(&atk, PBX)).is_some());
    assert!(tcp_reaches(&atk, PBX));
    assert!(site.bans().is_empty());

    // Bad input to the control commands is refused with a message, not sent.
    let out = site.ctl(&["ban", "10.99.0.300"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an IPv4 or IPv6"));
    let out = site.ctl(&["ban", TRUSTED]);
    assert!(
        !out.status.success(),
        "a trusted address was banned by hand"
    );

    // It attacks again: banned again.
    append(
        &site.path("messages"),
        &(chan_sip(ATTACKER, 10, "Wrong password")
            + &chan_sip(ATTACKER, 11, "Wrong password")
            + &chan_sip(ATTACKER, 12, "Wrong password")),
    );
    assert!(time_until(Duration::from_secs(1), || in_set(&pbx, ATTACKER)).is_some());

    // kill -9, the ruleset flushed (inside the pbx namespace), restart: the ban is back.
    kill_and_reap(&mut daemon);
    pbx.exec_ok(&["nft", "flush", "ruleset"]).unwrap();
    assert!(udp_reaches(&atk, PBX), "flush did not lift the ban");
    let mut daemon = site.start(&pbx);
    assert!(
        time_until(Duration::from_secs(2), || in_set(&pbx, ATTACKER)).is_some(),
        "the ban was not restored after kill -9 and flush"
    );
    assert!(!udp_reaches(&atk, PBX));
    assert!(!tcp_reaches(&atk, PBX));

    // Lines written while the daemon is down are read on restart.
    kill_and_reap(&mut daemon);
    let late = "10.99.0.77";
    append(
        &site.path("messages"),
        &(chan_sip(late, 20, "Wrong password")
            + &chan_sip(late, 21, "Wrong password")
            + &chan_sip(late, 22, "Wrong password")),
    );
    let mut daemon = site.start(&pbx);
    assert!(
        time_until(Duration::from_secs(2), || in_set(&pbx, late)).is_some(),
        "lines written while the daemon was down were not read: {}\n{}",
        site.status(),
        site.logs()
    );

    // A bad configuration on reload is refused and the old one keeps working.
    let config = site.path("tollguard.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{good}\n[jail.sip]\nbogus = 1\n")).unwrap();
    let out = site.ctl(&["reload"]);
    assert!(!out.status.success(), "a bad config was accepted");
    std::fs::write(&config, &good).unwrap();
    let out = site.ctl(&["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = "10.99.0.78";
    append(
        &site.path("messages"),
        &(chan_sip(again, 30, "Wrong password")
            + &chan_sip(again, 31, "Wrong password")
            + &chan_sip(again, 32, "Wrong password")),
    );
    assert!(time_until(Duration::from_secs(1), || in_set(&pbx, again)).is_some());

    // SIGHUP reloads too.
    let pid = daemon.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    assert!(
        time_until(Duration::from_secs(5), || site.counter("reloads") == 2).is_some(),
        "SIGHUP did not reload"
    );

    // A manual IPv6 ban with a duration, listed, then lifted.
    let out = site.ctl(&["ban", "2001:db8::66", "--for", "90m"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v6 = pbx
        .exec(&["nft", "list", "set", "inet", "tollguard", "banned_v6"])
        .unwrap();
    assert!(String::from_utf8_lossy(&v6.stdout).contains("2001:db8::66"));
    let manual: Vec<_> = site
        .bans()
        .into_iter()
        .filter(|b| b["ip"] == "2001:db8::66")
        .collect();
    assert_eq!(manual.len(), 1);
    assert_eq!(manual[0]["jail"], "manual");
    let table = site.ctl(&["bans"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("2001:db8::66"));
    assert!(site.ctl(&["unban", "2001:db8::66"]).status.success());
    let v6 = pbx
        .exec(&["nft", "list", "set", "inet", "tollguard", "banned_v6"])
        .unwrap();
    assert!(!String::from_utf8_lossy(&v6.stdout).contains("2001:db8::66"));

    // SIGTERM: a clean stop that leaves the bans in the kernel.
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let stopped = time_until(Duration::from_secs(5), || {
        matches!(daemon.try_wait(), Ok(Some(_)))
    });
    assert!(stopped.is_some(), "daemon did not stop on SIGTERM");
    assert!(in_set(&pbx, ATTACKER) && in_set(&pbx, again));
    assert!(!site.path("tg.sock").exists(), "socket left behind");
}

/// True when a UDP datagram sent from `src` (an address of `ns`) to `to` gets its echo.
fn udp_reaches_from(ns: &str, src: &str, to: &str) -> bool {
    let to: SocketAddr = format!("[{to}]:5060").parse().unwrap();
    let from: SocketAddr = format!("[{src}]:0").parse().unwrap();
    in_ns(ns, move || {
        let s = UdpSocket::bind(from).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let _ = s.send_to(b"OPTIONS sip:probe SIP/2.0\r\n", to);
        let mut buf = [0u8; 64];
        s.recv_from(&mut buf).is_ok()
    })
}

#[test]
fn an_ipv6_attacker_rotating_addresses_in_its_64_is_banned_as_the_64() {
    assert!(
        tg_testnet::available(),
        "tests need root and iproute2 (CI runs as root)"
    );
    let pbx = Netns::new("pbx6").unwrap();
    let attacker = Netns::new("atk6").unwrap();
    let link = Link::connect(&pbx, "10.97.0.1/24", &attacker, "10.97.0.2/24").unwrap();
    const PBX6: &str = "2001:db8:77::1";
    Link::add_addr(&pbx, &link.a_if, &format!("{PBX6}/48")).unwrap();
    // Three addresses of one /64 take turns; a fourth of it never writes a line; a neighbour
    // in the next /64 does nothing at all.
    let rotating = ["2001:db8:77:1::a", "2001:db8:77:1::b", "2001:db8:77:1::c"];
    let silent = "2001:db8:77:1::99";
    let neighbour = "2001:db8:77:2::5";
    for a in rotating.iter().chain([&silent, &neighbour]) {
        Link::add_addr(&attacker, &link.b_if, &format!("{a}/48")).unwrap();
    }
    start_servers_v6(pbx.name());
    let atk = attacker.name().to_string();
    for a in rotating.iter().chain([&silent, &neighbour]) {
        assert!(
            udp_reaches_from(&atk, a, PBX6),
            "no baseline reachability from {a}"
        );
    }

    let site = sip_site(&[], "");
    let mut daemon = site.start(&pbx);
    // One failure per address: no address reaches max_retry (3), its /64 does.
    let lines: String = rotating
        .iter()
        .enumerate()
        .map(|(i, a)| pjsip(a, i as u32 + 1, &format!("rot{i}@203.0.113.5")))
        .collect();
    append(&site.path("messages"), &lines);
    let blocked = time_until(Duration::from_secs(3), || {
        !udp_reaches_from(&atk, silent, PBX6)
    });
    assert!(blocked.is_some(), "the /64 was not banned");
    for a in rotating {
        assert!(!udp_reaches_from(&atk, a, PBX6), "{a} got through");
    }
    assert!(
        udp_reaches_from(&atk, neighbour, PBX6),
        "the next /64 was dropped"
    );
    let ban = site
        .ban("2001:db8:77:1::/64")
        .expect("`bans` lists the prefix");
    assert_eq!(ban["jail"], "sip");
    assert!(
        site.bans().iter().all(|b| b["ip"] != rotating[0]),
        "no single address was banned"
    );
    assert!(crate::support::nft_set(&pbx, "banned_nets_v6").contains("2001:db8:77:1::/64"));
    // An unban of the prefix lifts it whole.
    let out = site.ctl(&["unban", "2001:db8:77:1::/64"]);
    assert!(out.status.success(), "{out:?}");
    assert!(udp_reaches_from(&atk, silent, PBX6));
    kill_and_reap(&mut daemon);
}

/// [`start_servers`], listening on IPv6 (and IPv4-mapped) too.
fn start_servers_v6(ns: &str) {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        in_ns(&ns, || {
            let udp = UdpSocket::bind("[::]:5060").expect("udp bind");
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = udp.recv_from(&mut buf) {
                let _ = udp.send_to(&buf[..n], from);
            }
        })
    });
    std::thread::sleep(Duration::from_millis(100));
}

#[test]
fn rotation_in_the_middle_of_a_flood_loses_and_repeats_no_finding() {
    assert!(
        tg_testnet::available(),
        "tests need root and iproute2 (CI runs as root)"
    );
    let pbx = Netns::new("pbxrot").unwrap();
    let site = sip_site(&[], "");
    let mut daemon = site.start(&pbx);
    let log = site.path("messages");
    const ATTACKERS: u32 = 1000;
    let mut written_findings = 0u64;
    let mut n = 0u32;
    let mut batch = String::new();
    for k in 0..ATTACKERS {
        let ip = format!("198.18.{}.{}", k / 250, k % 250 + 1);
        batch.push_str(&chan_sip(&ip, k % 600, "Wrong password"));
        for _ in 0..3 {
            n += 1;
            batch.push_str(&benign(n));
        }
        batch.push_str(&chan_sip(&ip, k % 600, "No matching peer found"));
        for _ in 0..3 {
            n += 1;
            batch.push_str(&benign(n));
        }
        batch.push_str(&pjsip(&ip, k % 600, &format!("call-{k}@198.18.0.1")));
        for _ in 0..3 {
            n += 1;
            batch.push_str(&benign(n));
        }
        written_findings += 3;
        if k % 20 == 19 {
            append(&log, &batch);
            batch.clear();
            std::thread::sleep(Duration::from_millis(2));
        }
        if k == 333 {
            // logrotate's default: rename, then the writer creates a new file.
            std::fs::rename(&log, site.path("messages.1")).unwrap();
            append(&log, "");
        }
        if k == 666 {
            // copytruncate: copy, then truncate in place.
            std::fs::copy(&log, site.path("messages.2")).unwrap();
            OpenOptions::new()
                .write(true)
                .open(&log)
                .unwrap()
                .set_len(0)
                .unwrap();
        }
    }
    append(&log, &batch);
    let done = time_until(Duration::from_secs(20), || {
        site.counter("findings") >= written_findings
    });
    std::thread::sleep(Duration::from_millis(300));
    let status = site.status();
    let c = &status["counters"];
    assert!(done.is_some(), "findings lost: {status}");
    assert_eq!(c["findings"].as_u64(), Some(written_findings), "{status}");
    assert_eq!(c["rotations"].as_u64(), Some(1), "{status}");
    assert_eq!(c["truncations"].as_u64(), Some(1), "{status}");
    let banned = time_until(Duration::from_secs(5), || {
        site.counter("bans_applied") >= u64::from(ATTACKERS)
    });
    assert!(
        banned.is_some(),
        "not every attacker banned: {}",
        site.status()
    );
    assert_eq!(site.bans().len(), ATTACKERS as usize);
    let out = pbx
        .exec(&["nft", "list", "set", "inet", "tollguard", "banned_v4"])
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("198.18.0.1 ") || listed.contains("198.18.0.1,"),
        "{listed}"
    );
    assert!(
        listed.contains("198.18.3.250"),
        "the last attacker is not in the set"
    );
    kill_and_reap(&mut daemon);
}
