//! `tollguard run` with the AMI live call guard and alerts wired in, end to end.
//!
//! The daemon runs in its own network namespace (tg-testnet), with its nftables. Inside the same
//! namespace a scripted AMI peer (python3, speaking the real wire format: banner, `Response:
//! Success` echoing the Login's ActionID, events as `Key: Value` blocks ending in a blank line)
//! listens on the namespace's 127.0.0.1 and sends `InvalidPassword` security events from one
//! address; a scripted webhook receiver records the alerts the daemon POSTs. The guard's events
//! must count in the daemon's jail, ban the address in the namespace's kernel set, and the ban
//! must produce a ban notice at the webhook. Nothing touches the host's ruleset.
//!
//! The daemon also keeps the firewall's trusted host names current: with a real dnsmasq (2 s
//! TTL) in the namespace, the name's address appears in `fw_trusted_v4` and is swapped when the
//! answer changes.

// Signalling dnsmasq to re-read its hosts (kill) is a libc call.
#![allow(unsafe_code)]

use std::process::Stdio;
use std::time::Duration;

use tg_testnet::Netns;

use crate::support::{in_set, nft_set, spawn_dnsmasq, wait_for, Reaped, Site};

const OFFENDER: &str = "198.51.100.77";
const AMI_PORT: u16 = 15038;
const HOOK_PORT: u16 = 18080;

/// The AMI peer and the webhook receiver, one python3 process inside the daemon's namespace.
/// Writes `ready` once both listen, one line per Login it received to `login`, and one line per
/// POSTed body to `hooks`.
const PEER: &str = r#"
import socket, sys, threading, os
from http.server import BaseHTTPRequestHandler, HTTPServer

out, events, ami_port, hook_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
offender = sys.argv[5]

def read_block(f):
    block = {}
    while True:
        line = f.readline()
        if not line:
            return None
        line = line.decode('utf-8', 'replace').rstrip('\r\n')
        if line == '':
            return block
        k, _, v = line.partition(':')
        block[k.strip()] = v.strip()

def ami():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', ami_port))
    srv.listen(4)
    ami_ready.set()
    while True:
        conn, _ = srv.accept()
        conn.sendall(b'Asterisk Call Manager/9.0.0\r\n')
        f = conn.makefile('rb')
        login = read_block(f)
        if login is None:
            conn.close()
            continue
        with open(os.path.join(out, 'login'), 'a') as lf:
            lf.write(repr(login) + '\n')
        conn.sendall(('Response: Success\r\nActionID: %s\r\nMessage: Authentication accepted\r\n\r\n'
                      % login.get('ActionID', '')).encode())
        conn.sendall(b'Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n')
        for i in range(events):
            conn.sendall(('Event: InvalidPassword\r\nPrivilege: security,all\r\nSeverity: Error\r\n'
                          'Service: PJSIP\r\nEventVersion: 2\r\nAccountID: 10%02d\r\nSessionID: 0x7f%02d\r\n'
                          'LocalAddress: IPV4/TCP/127.0.0.1/5060\r\n'
                          'RemoteAddress: IPV4/TCP/%s/5038\r\n'
                          'Challenge: 1a2b\r\nReceivedChallenge: 1a2b\r\nReceivedHash: ffff\r\n\r\n'
                          % (i, i, offender)).encode())
        # Stay connected like a real PBX; answer nothing else.
        while read_block(f) is not None:
            pass
        conn.close()

class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get('Content-Length', '0'))
        body = self.rfile.read(n).decode('utf-8', 'replace').replace('\n', ' ')
        with open(os.path.join(out, 'hooks'), 'a') as hf:
            hf.write(body + '\n')
        self.send_response(200)
        self.send_header('Content-Length', '0')
        self.end_headers()
    def log_message(self, *a):
        pass

ami_ready = threading.Event()
threading.Thread(target=ami, daemon=True).start()
ami_ready.wait()
hook = HTTPServer(('127.0.0.1', hook_port), Hook)
open(os.path.join(out, 'ready'), 'w').close()
hook.serve_forever()
"#;

/// A site whose sip jail (`max_retry`) also counts the AMI guard's events, with the scripted
/// peer's script beside the config.
fn guard_site(max_retry: u32) -> Site {
    let site = Site::new();
    let config = format!(
        "[daemon]\nstate_dir = \"{state}\"\nsocket = \"{sock}\"\n\n\
         [jail.sip]\nlogs = [\"{log}\"]\nmax_retry = {max_retry}\nfind_time = \"10m\"\nban_time = \"1h\"\n\n\
         [jail.iax]\nenabled = false\n[jail.ami]\nenabled = false\n[jail.web]\nenabled = false\n\
         [jail.ssh]\nenabled = false\n[jail.ftp]\nenabled = false\n\n\
         [calls]\nhome_country = \"US\"\n\n\
         [calls.ami]\nhost = \"127.0.0.1\"\nport = {AMI_PORT}\nuser = \"tollguard\"\nsecret = \"s3cret\"\n\n\
         [alerts]\nwebhook_url = \"http://127.0.0.1:{HOOK_PORT}/hook\"\n",
        state = site.path("state").display(),
        sock = site.path("tg.sock").display(),
        log = site.path("messages").display(),
    );
    site.write_config(&config);
    std::fs::write(site.path("messages"), "").unwrap();
    std::fs::write(site.path("peer.py"), PEER).unwrap();
    site
}

fn start_peer(ns: &Netns, site: &Site, events: u32) -> Reaped {
    let out = site.dir.path().display().to_string();
    let script = site.path("peer.py").display().to_string();
    let child = ns
        .command(&[
            "python3",
            &script,
            &out,
            &events.to_string(),
            &AMI_PORT.to_string(),
            &HOOK_PORT.to_string(),
            OFFENDER,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(site.path("peer.log")).unwrap())
        .spawn()
        .unwrap();
    let peer = Reaped(child);
    assert!(
        wait_for(Duration::from_secs(5), || site.path("ready").exists()),
        "the scripted AMI peer did not start: {}",
        site.read("peer.log")
    );
    peer
}

fn start_daemon(ns: &Netns, site: &Site) -> Reaped {
    Reaped(site.start_within(ns, Duration::from_secs(10)))
}

fn stop(mut daemon: Reaped, site: &Site) {
    site.stop(&mut daemon.0, Duration::from_secs(8));
}

#[test]
fn ami_security_events_ban_the_offender_and_the_ban_is_announced_by_webhook() {
    assert!(
        tg_testnet::available(),
        "tests need root and iproute2 (CI runs as root)"
    );
    let ns = Netns::new("guard").unwrap();
    let site = guard_site(5);
    let _peer = start_peer(&ns, &site, 5);
    let daemon = start_daemon(&ns, &site);

    // The guard logged in with the configured account, asking for security events.
    assert!(
        wait_for(Duration::from_secs(5), || site
            .read("login")
            .contains("s3cret")),
        "no Login at the AMI peer: {}",
        site.logs()
    );
    let login = site.read("login");
    assert!(login.contains("'Action': 'Login'"), "{login}");
    assert!(login.contains("'Username': 'tollguard'"), "{login}");
    assert!(login.contains("'Events': 'call,security'"), "{login}");

    // Five failed logins from one address: the sip jail (max_retry = 5) bans it.
    assert!(
        wait_for(Duration::from_secs(5), || in_set(&ns, OFFENDER)),
        "{OFFENDER} not in the namespace's banned_v4: {}",
        site.logs()
    );
    let bans = site.bans();
    let ban = bans
        .iter()
        .find(|b| b["ip"] == OFFENDER)
        .unwrap_or_else(|| panic!("no ban for {OFFENDER} in {bans:?}"));
    assert_eq!(ban["jail"], "sip", "{ban}");
    assert_eq!(bans.len(), 1, "only the offender is banned: {bans:?}");

    // The ban notice reached the webhook.
    assert!(
        wait_for(Duration::from_secs(5), || site
            .read("hooks")
            .contains(OFFENDER)),
        "no ban notice at the webhook: hooks {:?}, log {}",
        site.read("hooks"),
        site.logs()
    );
    let hooks = site.read("hooks");
    assert!(hooks.contains("ban:198.51.100.77"), "{hooks}");
    assert!(hooks.contains("banned 198.51.100.77 (sip)"), "{hooks}");

    // A reload that leaves [calls] and [alerts] alone keeps the guard's session ...
    let reload = site.ctl(&["reload"]);
    assert!(
        reload.status.success(),
        "{}",
        String::from_utf8_lossy(&reload.stderr)
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        site.read("login").lines().count(),
        1,
        "{}",
        site.read("login")
    );
    // ... one that changes them stops the guard and starts it again with the new settings.
    let config = std::fs::read_to_string(site.path("tollguard.toml")).unwrap();
    std::fs::write(
        site.path("tollguard.toml"),
        config.replace("s3cret", "n3w-secret"),
    )
    .unwrap();
    let reload = site.ctl(&["reload"]);
    assert!(
        reload.status.success(),
        "{}",
        String::from_utf8_lossy(&reload.stderr)
    );
    assert!(
        wait_for(Duration::from_secs(5), || site
            .read("login")
            .contains("n3w-secret")),
        "the guard did not log in again after the reload: {}",
        site.logs()
    );
    assert_eq!(
        site.read("login").lines().count(),
        2,
        "{}",
        site.read("login")
    );

    // SIGTERM stops the guard's runtime with the rest of the daemon.
    stop(daemon, &site);
    assert!(in_set(&ns, OFFENDER), "bans stay in the kernel");
    let log = site.logs();
    assert!(log.contains("logged in to AMI"), "{log}");
}

#[test]
fn four_ami_failures_stay_under_the_jail_limit() {
    assert!(
        tg_testnet::available(),
        "tests need root and iproute2 (CI runs as root)"
    );
    let ns = Netns::new("guard4").unwrap();
    let site = guard_site(5);
    let _peer = start_peer(&ns, &site, 4);
    let daemon = start_daemon(&ns, &site);
    assert!(
        wait_for(Duration::from_secs(5), || site
            .read("login")
            .contains("s3cret")),
        "no Login at the AMI peer: {}",
        site.logs()
    );
    // The events were counted (they reached the jails) ...
    let counted = wait_for(Duration::from_secs(5), || {
        let out = site.ctl(&["status", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["counters"]["external_findings"].as_u64() == Some(4)
    });
    assert!(counted, "4 external findings expected: {}", site.logs());
    // ... but four are below max_retry: no ban.
    assert!(site.bans().is_empty());
    assert!(!in_set(&ns, OFFENDER));
    assert!(!site.read("hooks").contains(OFFENDER));
    stop(daemon, &site);
}

fn dnsmasq(ns: &Netns, hosts: &std::path::Path) -> Reaped {
    Reaped(spawn_dnsmasq(ns, hosts, 5354))
}

fn fw_trusted(ns: &Netns) -> String {
    nft_set(ns, "fw_trusted_v4")
}

#[test]
fn the_daemon_keeps_the_firewalls_trusted_names_current() {
    assert!(
        tg_testnet::available(),
        "tests need root and iproute2 (CI runs as root)"
    );
    let ns = Netns::new("fwnames").unwrap();
    let site = guard_site(5);
    let hosts = site.path("hosts");
    std::fs::write(&hosts, "192.0.2.10 sbc.test\n").unwrap();
    let dns_server = dnsmasq(&ns, &hosts);
    let d = site.dir.path();
    let config = format!(
        "[daemon]\nstate_dir = \"{state}\"\nsocket = \"{sock}\"\n\n\
         [trusted]\naddresses = [\"198.51.100.0/24\", \"sbc.test\"]\nrefresh = \"1m\"\n\n\
         [jail.sip]\nlogs = [\"{log}\"]\n\
         [jail.iax]\nenabled = false\n[jail.ami]\nenabled = false\n[jail.web]\nenabled = false\n\
         [jail.ssh]\nenabled = false\n[jail.ftp]\nenabled = false\n\n\
         [firewall]\ndns_servers = [\"127.0.0.1:5354\"]\n[firewall.services.ssh]\nzones = [\"trusted\"]\n",
        state = d.join("state").display(),
        sock = d.join("tg.sock").display(),
        log = d.join("messages").display(),
    );
    let config_path = site.path("tollguard.toml");
    std::fs::write(&config_path, &config).unwrap();

    // The firewall policy as `tollguard firewall apply` loads it, but without the name's
    // address: only the daemon's refresher can put it there.
    let parsed = tg_config::Config::parse(&config, &config_path).unwrap();
    let policy = tg_firewall::policy::Policy::build(&parsed, &config, &config_path).unwrap();
    let script = tg_firewall::render::render(&policy, &Default::default());
    std::fs::write(site.path("fw.nft"), &script.text).unwrap();
    let fw_script = site.path("fw.nft").display().to_string();
    ns.exec_ok(&["nft", "-f", &fw_script]).unwrap();
    assert!(!fw_trusted(&ns).contains("192.0.2.10"));

    let daemon = start_daemon(&ns, &site);
    assert!(
        wait_for(Duration::from_secs(5), || fw_trusted(&ns)
            .contains("192.0.2.10")),
        "the name's address never reached fw_trusted_v4: {} / {}",
        fw_trusted(&ns),
        site.logs()
    );
    assert!(
        fw_trusted(&ns).contains("198.51.100.0/24"),
        "static networks stay"
    );

    // The answer changes: within the TTL (2 s) and a round, the set follows.
    std::fs::write(&hosts, "192.0.2.20 sbc.test\n").unwrap();
    // SAFETY: signalling our own child (dnsmasq re-reads its hosts file on SIGHUP).
    unsafe { libc::kill(dns_server.0.id() as libc::pid_t, libc::SIGHUP) };
    assert!(
        wait_for(Duration::from_secs(6), || {
            let set = fw_trusted(&ns);
            set.contains("192.0.2.20") && !set.contains("192.0.2.10")
        }),
        "the set did not follow DNS: {} / {}",
        fw_trusted(&ns),
        site.logs()
    );
    // What is loaded is recorded for `tollguard firewall status` (written just after the set).
    let names = d.join("state").join("firewall").join("names.json");
    let recorded = || std::fs::read_to_string(&names).unwrap_or_default();
    assert!(
        wait_for(Duration::from_secs(3), || recorded().contains("192.0.2.20")),
        "{}",
        recorded()
    );
    stop(daemon, &site);
}
