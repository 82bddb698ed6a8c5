//! Issue #12.1: an attacker must not escape its own ban by writing a second address.
//!
//! - `real_sshd_with_decoy_user_names`: Debian's OpenSSH server (`sshd -D -E FILE`, its own host
//!   key and config in a temporary directory, port 2222) runs in a "pbx" namespace; the ssh
//!   client, driven by sshpass, logs in from an "attacker" namespace with user names that carry
//!   a decoy address in sshd's own words (`x from 203.0.113.9 via z`, `x from 203.0.113.9 port 1`,
//!   …). sshd's file holds its messages without a syslog header; the test puts the header
//!   syslog would put (`<date> <host> sshd[<pid>]: `) before each, and gives the lines to
//!   `tollguard scan` and to a daemon following them. The attacker's real address is found and
//!   banned; the decoy never appears.
//! - `conntrack_settles_what_the_text_cannot`: lines whose text cannot tell the sender from a
//!   decoy (chan_sip's caller and dialled number around the address) name a real attacker that
//!   opened a TCP connection to the pbx and a decoy that never sent a packet; the daemon asks
//!   the kernel's connection tracking, bans the attacker and never the decoy. A decoy that
//!   *does* have a flow leaves the line ambiguous: nobody is banned.
//!
//! Everything runs in namespaces made by tg-testnet; nothing touches the host's ruleset.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tg_testnet::{Link, Netns};

use crate::support::{append, in_ban_set, in_ns, wait_for, Reaped, Site, BIN};

const PBX: &str = "10.96.0.1";
const ATTACKER: &str = "10.96.0.2";
const DECOY: &str = "203.0.113.9";

/// The header syslog puts before sshd's message.
const SYSLOG: &str = "Nov 25 10:00:01 pbx sshd[4242]: ";

fn require(program: &str) {
    assert!(
        Path::new(program).exists(),
        "{program} missing: install the Debian packages of ci/apt-packages.txt (scripts/test does)"
    );
}

/// An sshd in `ns` on `addr`:2222 writing its log to `log`; password logins only, no PAM.
fn start_sshd(ns: &Netns, dir: &Path, addr: &str, log: &Path) -> Reaped {
    require("/usr/sbin/sshd");
    let key = dir.join("host_key");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(&key)
        .output()
        .expect("ssh-keygen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port 2222\nListenAddress {addr}\nHostKey {key}\nPidFile {pid}\nUsePAM no\n\
             PasswordAuthentication yes\nKbdInteractiveAuthentication no\nPermitRootLogin no\n\
             MaxAuthTries 3\nLogLevel INFO\n",
            key = key.display(),
            pid = dir.join("sshd.pid").display()
        ),
    )
    .unwrap();
    // sshd's privilege separation directory (Debian's unit makes it with RuntimeDirectory=).
    std::fs::create_dir_all("/run/sshd").unwrap();
    let child = ns
        .command(&["/usr/sbin/sshd", "-D", "-E"])
        .arg(log)
        .arg("-f")
        .arg(&config)
        .stdin(Stdio::null())
        .spawn()
        .expect("start sshd");
    let child = Reaped(child);
    let up = wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(log).is_ok_and(|t| t.contains("Server listening"))
    });
    assert!(up, "sshd did not start: {:?}", std::fs::read_to_string(log));
    child
}

/// One password login as `user` from `ns` (sshpass types a wrong password once).
fn ssh_login(ns: &Netns, server: &str, user: &str) {
    require("/usr/bin/sshpass");
    let out = ns
        .command(&[
            "timeout",
            "20",
            "sshpass",
            "-p",
            "wrong",
            "ssh",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "NumberOfPasswordPrompts=1",
            "-o",
            "ConnectTimeout=5",
            "-p",
            "2222",
            "-l",
            user,
            server,
            "true",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("ssh");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Permission denied"), "ssh as {user:?}: {err}");
}

/// A daemon site whose only jail is `jail` (over `log`) with `max_retry`.
fn site(jail: &str, log: &Path, max_retry: u32) -> Site {
    let site = Site::new();
    let mut config = format!(
        "[daemon]\nstate_dir = \"{state}\"\nsocket = \"{sock}\"\n\n\
         [jail.{jail}]\nlogs = [\"{log}\"]\nmax_retry = {max_retry}\nfind_time = \"10m\"\n\
         ban_time = \"1h\"\n",
        state = site.path("state").display(),
        sock = site.path("tg.sock").display(),
        log = log.display(),
    );
    for other in ["sip", "iax", "ami", "web", "ssh", "ftp"] {
        if other != jail {
            config.push_str(&format!("[jail.{other}]\nenabled = false\n"));
        }
    }
    site.write_config(&config);
    append(log, "");
    site
}

#[test]
fn real_sshd_with_decoy_user_names() {
    assert!(
        tg_testnet::available(),
        "tests need root and iproute2 (CI runs as root)"
    );
    let pbx = Netns::new("pbx").unwrap();
    let attacker = Netns::new("atk").unwrap();
    Link::connect(
        &pbx,
        &format!("{PBX}/24"),
        &attacker,
        &format!("{ATTACKER}/24"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("sshd.log");
    let _sshd = start_sshd(&pbx, dir.path(), PBX, &raw);

    // A daemon following the lines as syslog would have written them, banning at the 3rd.
    let auth = dir.path().join("auth.log");
    let site = site("ssh", &auth, 3);
    let _daemon = Reaped(site.start(&pbx));

    let users = [
        format!("x from {DECOY} via z"),
        format!("x from {DECOY} port 1"),
        format!("x from {DECOY} port 1 ssh2"),
        format!("x from {DECOY} port 1 ssh2 [preauth]"),
        format!("x from {DECOY}"),
    ];
    for user in &users {
        ssh_login(&attacker, PBX, user);
    }
    // sshd writes the connection's last line when the client is gone.
    let closed = wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&raw)
            .is_ok_and(|t| t.matches("Connection closed by").count() >= users.len())
    });
    let text = std::fs::read_to_string(&raw).unwrap();
    assert!(closed, "sshd's log is incomplete:\n{text}");
    // What sshd really wrote, as the final report quotes it.
    println!("sshd wrote:\n{text}");
    for user in &users {
        assert!(
            text.contains(&format!(
                "Failed password for invalid user {user} from {ATTACKER} port "
            )),
            "sshd wrote no failure for {user:?}:\n{text}"
        );
    }
    let wrapped: String = text
        .lines()
        .map(|l| format!("{SYSLOG}{}\n", l.trim_end_matches('\r')))
        .collect();
    append(&auth, &wrapped);

    // The daemon bans the attacker, never the decoy.
    let banned = wait_for(Duration::from_secs(10), || in_ban_set(&pbx, ATTACKER));
    assert!(banned, "the attacker was not banned\n{}", site.logs());
    assert!(!in_ban_set(&pbx, DECOY));
    assert_eq!(site.counter("suspicious"), 0);

    // scan finds the attacker on every failure line and never the decoy.
    let out = Command::new(BIN)
        .args(["scan", "--events", "--format", "json"])
        .arg(&auth)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let objects: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ips: Vec<&str> = objects.iter().filter_map(|o| o["ip"].as_str()).collect();
    // Per login: `Invalid user …` and `Failed password …` (the `Connection closed` line is not
    // read as an attack line).
    assert_eq!(ips.len(), 2 * users.len(), "{stdout}");
    assert!(ips.iter().all(|ip| *ip == ATTACKER), "{stdout}");
    let summary = &objects.last().unwrap()["summary"];
    assert_eq!(summary["suspicious"], 0, "{stdout}");
    assert_eq!(summary["would_ban"], 1, "{stdout}");
}

const PBX_B: &str = "10.95.0.1";
const BYSTANDER: &str = "10.95.0.2";

/// `now` in UTC as Asterisk's `%F %T` dateformat writes it.
fn stamp_now() -> String {
    let out = Command::new("date")
        .args(["-u", "+%F %T"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// chan_sip's rejected call naming `a` and `b`: the caller's user part before the address and
/// the dialled number after it are both the sender's, so its text cannot say which is whose.
fn ambiguous_call(a: &str, b: &str) -> String {
    format!(
        "[{}] NOTICE[1423][C-00000001] chan_sip.c: Call from '100' ({a}) to extension '0' ({b}) to extension '011' rejected because extension not found in context 'default'.\n",
        stamp_now()
    )
}

/// A TCP connection from `ns` to the pbx's port 5060, kept open; with its local port.
fn connect_from(ns: &Netns, to: &str) -> (TcpStream, u16) {
    let to = format!("{to}:5060");
    let stream = in_ns(ns.name(), move || {
        TcpStream::connect_timeout(&to.parse().unwrap(), Duration::from_secs(5)).expect("connect")
    });
    let port = stream.local_addr().unwrap().port();
    (stream, port)
}

#[test]
fn conntrack_settles_what_the_text_cannot() {
    assert!(
        tg_testnet::available(),
        "tests need root and iproute2 (CI runs as root)"
    );
    let pbx = Netns::new("pbx").unwrap();
    let attacker = Netns::new("atk").unwrap();
    let bystander = Netns::new("bys").unwrap();
    Link::connect(
        &pbx,
        &format!("{PBX}/24"),
        &attacker,
        &format!("{ATTACKER}/24"),
    )
    .unwrap();
    Link::connect(
        &pbx,
        &format!("{PBX_B}/24"),
        &bystander,
        &format!("{BYSTANDER}/24"),
    )
    .unwrap();
    // Connection tracking runs in a namespace once a rule uses it, as any stateful firewall's
    // does (tollguard's own included).
    tg_testnet::pbx::nft(
        &pbx,
        "table inet ct_on {\n chain input {\n type filter hook input priority 0; policy accept;\n ct state established,related accept\n }\n}\n",
    );
    // A TCP service on 5060 that accepts and holds its connections.
    let listener = in_ns(pbx.name(), || {
        TcpListener::bind("0.0.0.0:5060").expect("bind")
    });
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let (_a, attacker_port) = connect_from(&attacker, PBX);
    let (_b, bystander_port) = connect_from(&bystander, PBX_B);

    let dir = tempfile::tempdir().unwrap();
    let messages = dir.path().join("messages");
    let site = site("sip", &messages, 3);
    let _daemon = Reaped(site.start(&pbx));

    // Both candidates talk to the pbx: the lines stay ambiguous, nobody is banned.
    let both = ambiguous_call(
        &format!("{ATTACKER}:{attacker_port}"),
        &format!("{BYSTANDER}:{bystander_port}"),
    );
    append(&messages, &both.repeat(4));
    let counted = wait_for(Duration::from_secs(10), || site.counter("suspicious") >= 4);
    assert!(counted, "the lines were not read\n{}", site.logs());
    assert_eq!(site.counter("resolved"), 0);
    assert!(site.bans().is_empty(), "{:?}", site.bans());

    // The decoy never sent a packet: the attacker is the one, and is banned; the decoy never.
    let decoy = ambiguous_call(
        &format!("{DECOY}:5060"),
        &format!("{ATTACKER}:{attacker_port}"),
    );
    append(&messages, &decoy.repeat(4));
    let banned = wait_for(Duration::from_secs(10), || in_ban_set(&pbx, ATTACKER));
    assert!(banned, "the attacker was not banned\n{}", site.logs());
    assert!(site.counter("resolved") >= 3, "{}", site.counters());
    assert!(!in_ban_set(&pbx, DECOY));
    assert!(!in_ban_set(&pbx, BYSTANDER));
    let bans: Vec<String> = site
        .bans()
        .iter()
        .map(|b| b["ip"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(bans, [ATTACKER]);
}
