//! The DNS refresher as the daemon uses it (library API): a real dnsmasq with a 2 s TTL in a
//! throwaway namespace; the refresher schedules itself on that TTL, rewrites the trusted sets
//! when the answer changes, and keeps the last addresses when DNS goes away.

// Entering a network namespace (setns) and signalling dnsmasq (kill) are libc calls.
#![allow(unsafe_code)]

use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tg_config::Config;
use tg_firewall::dns::{self, NameResolver, Refresher};
use tg_firewall::policy::Policy;
use tg_firewall::render;
use tg_testnet::Netns;

/// Enters `ns` on this thread (the resolver's runtime threads and nft children inherit it).
fn enter(ns: &str) {
    let f = std::fs::File::open(format!("/run/netns/{ns}")).unwrap();
    // SAFETY: setns on a valid namespace fd changes only this thread's network namespace.
    assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
}

fn dnsmasq(ns: &Netns, hosts: &Path) -> Child {
    ns.spawn_dnsmasq(hosts, 5354).unwrap()
}

fn trusted_set(ns: &Netns) -> String {
    let out = ns
        .exec_ok(&["nft", "list", "set", "inet", "tollguard", "fw_trusted_v4"])
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn refresher_follows_the_ttl_and_keeps_addresses_through_a_dns_outage() {
    assert!(tg_testnet::available(), "needs root and iproute2");
    let ns = Netns::new("dns").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let hosts = tmp.path().join("hosts");
    std::fs::write(&hosts, "192.0.2.10 sbc.test\n2001:db8::10 sbc.test\n").unwrap();
    let mut dns_server = dnsmasq(&ns, &hosts);

    let text = "[trusted]\naddresses = [\"198.51.100.0/24\", \"sbc.test\"]\nrefresh = \"1m\"\n\
                [firewall]\ndns_servers = [\"127.0.0.1:5354\"]\n[firewall.services.ssh]\nzones = [\"trusted\"]\n";
    let path = Path::new("t.toml");
    let policy = Policy::build(&Config::parse(text, path).unwrap(), text, path).unwrap();

    let reports = Arc::new(Mutex::new(Vec::<String>::new()));
    let ns_name = ns.name().to_string();
    let (policy2, reports2) = (policy.clone(), reports.clone());
    let result = std::thread::spawn(move || {
        enter(&ns_name);
        let resolver = NameResolver::new(&policy2.dns_servers).unwrap();
        let (resolved, ttl) = dns::resolve_all(&resolver, &policy2.trusted_names).unwrap();
        assert!(ttl <= Duration::from_secs(2), "ttl {ttl:?}");
        let script = render::render(&policy2, &resolved);
        let mut nft = std::process::Command::new("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        nft.stdin
            .take()
            .unwrap()
            .write_all(script.text.as_bytes())
            .unwrap();
        assert!(nft.wait().unwrap().success());

        let mut r = Refresher::new(policy2, tg_nft::Nft::locate().unwrap(), resolved)
            .unwrap()
            .on_report(move |l| reports2.lock().unwrap().push(l.to_string()));
        let wait = r.step().unwrap();
        assert!(
            wait >= dns::MIN_REFRESH && wait <= Duration::from_secs(2),
            "next round on the TTL: {wait:?}"
        );
        r
    })
    .join();
    let mut refresher = result.unwrap();
    let set = trusted_set(&ns);
    assert!(
        set.contains("192.0.2.10") && set.contains("198.51.100.0/24"),
        "{set}"
    );
    let v6 = ns
        .exec_ok(&["nft", "list", "set", "inet", "tollguard", "fw_trusted_v6"])
        .unwrap();
    assert!(
        String::from_utf8_lossy(&v6.stdout).contains("2001:db8::10"),
        "AAAA answers are trusted too"
    );

    // The answer changes: the next round swaps the address, the static network stays.
    std::fs::write(&hosts, "192.0.2.20 sbc.test\n").unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(dns_server.id() as i32, libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(300));
    let ns_name = ns.name().to_string();
    let mut refresher = std::thread::spawn(move || {
        enter(&ns_name);
        refresher.step().unwrap();
        refresher
    })
    .join()
    .unwrap();
    let set = trusted_set(&ns);
    assert!(
        set.contains("192.0.2.20")
            && !set.contains("192.0.2.10")
            && set.contains("198.51.100.0/24"),
        "{set}"
    );
    assert_eq!(
        refresher.current().get("sbc.test"),
        Some(&vec!["192.0.2.20".parse().unwrap()])
    );

    // DNS goes away: the last addresses stay, a retry is scheduled, and the failure is reported.
    let _ = dns_server.kill();
    let _ = dns_server.wait();
    let ns_name = ns.name().to_string();
    let wait = std::thread::spawn(move || {
        enter(&ns_name);
        refresher.step().unwrap()
    })
    .join()
    .unwrap();
    assert!(wait <= dns::RETRY_AFTER, "{wait:?}");
    assert!(trusted_set(&ns).contains("192.0.2.20"));
    let reports = reports.lock().unwrap().clone();
    assert!(
        reports
            .iter()
            .any(|l| l.contains("sbc.test: now 192.0.2.20")),
        "{reports:?}"
    );
    assert!(
        reports
            .iter()
            .any(|l| l.contains("sbc.test") && l.contains("keeping")),
        "{reports:?}"
    );
}
