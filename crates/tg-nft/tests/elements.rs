//! The netlink set-element writer against a real kernel, in namespaces made here: the writer
//! runs on a thread moved into the namespace (`setns`), `nft` checks what the kernel holds.

// Entering a network namespace (setns) is a libc call.
#![allow(unsafe_code)]

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::process::Stdio;

use tg_nft::bans::{BanScript, Element};
use tg_nft::elements::{SetWriter, MAX_TRANSACTION};
use tg_testnet::Netns;

/// Runs `f` on a thread that has entered `ns`'s network namespace (only that thread moves).
fn in_netns<T: Send>(ns: &Netns, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = std::fs::File::open(format!("/run/netns/{}", ns.name())).expect("netns");
            // SAFETY: setns(2) on a descriptor we hold open; it affects this thread only.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("the namespaced thread")
    })
}

fn nft(ns: &Netns, script: &str) {
    let mut child = ns
        .command(&["nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nft");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("script");
    let out = child.wait_with_output().expect("nft");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn count(ns: &Netns, set: &str) -> usize {
    let out = ns
        .exec_ok(&["nft", "list", "set", "inet", "tollguard", set])
        .expect("list set");
    String::from_utf8_lossy(&out.stdout)
        .matches("expires")
        .count()
}

fn elements(n: u32, secs: u64) -> Vec<Element> {
    (1..=n)
        .flat_map(|i| {
            let v4 = IpAddr::V4(Ipv4Addr::from(u32::from_be_bytes([10, 50, 0, 0]) + i));
            let v6 = IpAddr::V6(Ipv6Addr::from((0x2001_0db8_u128 << 96) | u128::from(i)));
            [
                Element {
                    net: v4.into(),
                    secs,
                },
                Element {
                    net: v6.into(),
                    secs,
                },
            ]
        })
        .collect()
}

#[test]
fn a_missing_table_is_enoent_saying_which_set() {
    let ns = Netns::new("noent").unwrap();
    let err = in_netns(&ns, || {
        SetWriter::new("tollguard")
            .unwrap()
            .add(&elements(1, 60), MAX_TRANSACTION)
            .unwrap_err()
    });
    assert!(err.objects_missing(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("inet tollguard banned_v4") && text.contains("missing"),
        "{text}"
    );
}

/// One message of a transaction fails (the IPv6 set does not exist): the IPv4 element of the
/// same transaction is not applied either, and the error names the IPv6 set.
#[test]
fn a_transaction_is_all_or_nothing() {
    let ns = Netns::new("atomic").unwrap();
    nft(
        &ns,
        "add table inet tollguard\nadd set inet tollguard banned_v4 { type ipv4_addr; flags timeout; }\n",
    );
    let err = in_netns(&ns, || {
        SetWriter::new("tollguard")
            .unwrap()
            .add(&elements(1, 60), MAX_TRANSACTION)
            .unwrap_err()
    });
    assert!(
        err.objects_missing() && err.to_string().contains("banned_v6"),
        "{err}"
    );
    assert_eq!(count(&ns, "banned_v4"), 0, "the IPv4 half was rolled back");
}

/// 6,000 addresses per family in transactions of 1,000 addresses (twelve transactions), a
/// refresh of 100 of them to a shorter timeout, then the removal of all (and of absent ones).
#[test]
fn many_transactions_add_refresh_and_remove_everything() {
    let ns = Netns::new("many").unwrap();
    nft(&ns, &BanScript::new("tollguard").unwrap().setup(false));
    let all = elements(6000, 600);
    in_netns(&ns, || {
        let mut w = SetWriter::new("tollguard").unwrap();
        w.add(&all, 1000).unwrap();
        w.ban(&all[..100], &[], 1000).unwrap();
    });
    assert_eq!(
        (count(&ns, "banned_v4"), count(&ns, "banned_v6")),
        (6000, 6000)
    );
    let ips: Vec<ipnet::IpNet> = all.iter().map(|e| e.net).collect();
    in_netns(&ns, || {
        let mut w = SetWriter::new("tollguard").unwrap();
        w.remove(&ips, MAX_TRANSACTION).unwrap();
        // Absent now: removing again is fine.
        w.remove(&ips[..10], MAX_TRANSACTION).unwrap();
    });
    assert_eq!((count(&ns, "banned_v4"), count(&ns, "banned_v6")), (0, 0));
}

/// A send buffer far smaller than a full transaction (64 kB granted for 32 kB asked): the
/// writer sizes its transactions to fit instead of failing with EMSGSIZE.
#[test]
fn a_small_socket_buffer_means_smaller_transactions_not_emsgsize() {
    let ns = Netns::new("smallbuf").unwrap();
    nft(&ns, &BanScript::new("tollguard").unwrap().setup(false));
    let all = elements(2500, 600);
    in_netns(&ns, || {
        SetWriter::new("tollguard")
            .unwrap()
            .socket_buffer(32 * 1024)
            .ban(&all, &[], MAX_TRANSACTION)
            .unwrap()
    });
    assert_eq!(
        (count(&ns, "banned_v4"), count(&ns, "banned_v6")),
        (2500, 2500)
    );
}
