//! `NftSession` against a real kernel, inside a network namespace made here (never the host's
//! ruleset): batches are transactions, refusals are reported per batch, a dead session is
//! replaced, and large or multi-line scripts take the `nft -f -` way.

use tg_nft::{Nft, NftError, NftSession};
use tg_testnet::Netns;

fn setup() -> (Netns, NftSession) {
    let ns = Netns::new("nftsess").expect("netns (run as root)");
    ns.exec_ok(&[
        "nft",
        "add table inet t; add set inet t s { type ipv4_addr; flags timeout; }",
    ])
    .expect("table");
    let nft = Nft::locate().expect("nft installed");
    let session = NftSession::with_launcher(nft, &["ip", "netns", "exec", ns.name()]);
    (ns, session)
}

fn elements(ns: &Netns) -> String {
    let out = ns
        .exec_ok(&["nft", "list", "set", "inet", "t", "s"])
        .expect("list");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn each_batch_is_one_transaction_and_a_refused_one_changes_nothing() {
    let (ns, mut session) = setup();
    session
        .load(
            "add element inet t s { 192.0.2.1 timeout 60s }\nadd element inet t s { 192.0.2.2 }\n",
        )
        .expect("first batch");
    let pid = session.pid().expect("a running session");
    let refused = session
        .load("add element inet t s { 192.0.2.3 }\nadd element inet t missing { 192.0.2.4 }\n");
    match refused {
        Err(NftError::Refused { stderr }) => assert!(stderr.contains("missing"), "{stderr}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    session
        .load("delete element inet t s { 192.0.2.2 }\n")
        .expect("a batch after a refused one");
    assert_eq!(
        session.pid(),
        Some(pid),
        "the same process served all three"
    );
    let listed = elements(&ns);
    assert!(listed.contains("192.0.2.1"), "{listed}");
    assert!(!listed.contains("192.0.2.2"), "deleted: {listed}");
    assert!(
        !listed.contains("192.0.2.3"),
        "refused batch half-applied: {listed}"
    );
}

#[test]
fn a_killed_session_is_replaced_and_no_batch_is_lost() {
    let (ns, mut session) = setup();
    session
        .load("add element inet t s { 198.51.100.1 }\n")
        .expect("first");
    let pid = session.pid().expect("running");
    ns.exec_ok(&["kill", "-9", &pid.to_string()]).expect("kill");
    std::thread::sleep(std::time::Duration::from_millis(100));
    session
        .load("add element inet t s { 198.51.100.2 }\n")
        .expect("after the kill");
    session
        .load("add element inet t s { 198.51.100.3 }\n")
        .expect("next");
    assert!(session.pid().is_some_and(|p| p != pid), "a new process");
    let listed = elements(&ns);
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        assert!(listed.contains(ip), "{ip} missing: {listed}");
    }
}

#[test]
fn large_and_multi_line_scripts_are_loaded_whole() {
    let (ns, mut session) = setup();
    let many: Vec<String> = (0..5000)
        .map(|i| format!("10.9.{}.{} timeout 600s", i / 256, i % 256))
        .collect();
    let big = format!("add element inet t s {{ {} }}\n", many.join(", "));
    assert!(big.len() > tg_nft::SESSION_MAX_SCRIPT);
    session.load(&big).expect("large batch");
    session
        .load("add set inet t s6 {\n  type ipv6_addr\n}\nadd element inet t s6 { 2001:db8::1 }\n")
        .expect("multi-line script");
    let listed = elements(&ns);
    assert!(listed.contains("10.9.19.135"), "last of 5000 missing");
    let s6 = ns
        .exec_ok(&["nft", "list", "set", "inet", "t", "s6"])
        .expect("s6");
    assert!(String::from_utf8_lossy(&s6.stdout).contains("2001:db8::1"));
    // A refused large batch is an error too.
    let bad = big.replace("10.9.0.0", "10.9.0.300");
    assert!(matches!(session.load(&bad), Err(NftError::Refused { .. })));
}
