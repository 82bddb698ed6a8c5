//! Scenarios every ban backend must pass, run once for nftables and once for iptables + ipset
//! (`both_backends!`): the same packets, the same assertions, so the fallback cannot drift from
//! the default.

use std::time::{Duration, Instant};

use crate::common::*;

/// A ban backend, as `enforce_cli --backend` names it.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    /// nftables sets over netlink.
    Nft,
    /// iptables rules over ipset sets.
    Ipset,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Nft => "nftables",
            Backend::Ipset => "iptables",
        }
    }

    /// `enforce_cli --backend NAME ARGS` in `ns`.
    pub fn enforce(self, ns: &tg_testnet::Netns, args: &[&str]) -> String {
        let mut argv = vec!["--backend", self.name()];
        argv.extend_from_slice(args);
        enforce(ns, &argv)
    }

    /// What the backend lists: (address or prefix, seconds left).
    pub fn listed(self, ns: &tg_testnet::Netns) -> Vec<(String, u64)> {
        listed(ns, self.name())
    }
}

pub fn ban_drops_udp_and_tcp_from_the_attacker_only_and_unban_restores(b: Backend) {
    let net = Net::new();
    for (proto, host) in [
        ("udp", PBX_V4),
        ("tcp", PBX_V4),
        ("udp", PBX_V6),
        ("tcp", PBX_V6),
    ] {
        assert!(
            reaches(&net.attacker, proto, host),
            "before the ban: {proto} to {host}"
        );
    }
    // One batch, both families; the enforcer process exits right after: the ban lives on.
    b.enforce(&net.pbx, &["ban", ATTACKER_V4, "60", ATTACKER_V6, "60"]);
    for (proto, host) in [
        ("udp", PBX_V4),
        ("tcp", PBX_V4),
        ("udp", PBX_V6),
        ("tcp", PBX_V6),
    ] {
        assert!(
            blocked(&net.attacker, proto, host),
            "banned: {proto} to {host} got through"
        );
    }
    assert!(
        reaches(&net.trusted, "udp", PBX_TRUSTED_V4)
            && reaches(&net.trusted, "tcp", PBX_TRUSTED_V4)
    );
    let mut bans = b.listed(&net.pbx);
    bans.sort();
    assert_eq!(
        bans.iter().map(|(ip, _)| ip.as_str()).collect::<Vec<_>>(),
        [ATTACKER_V4, ATTACKER_V6]
    );
    assert!(
        bans.iter().all(|(_, left)| (45..=60).contains(left)),
        "{bans:?}"
    );

    // Unbanning addresses that are not banned in the same batch is fine.
    b.enforce(
        &net.pbx,
        &[
            "unban",
            ATTACKER_V4,
            ATTACKER_V6,
            "203.0.113.9",
            "2001:db8::99",
        ],
    );
    assert!(b.listed(&net.pbx).is_empty());
    for (proto, host) in [
        ("udp", PBX_V4),
        ("tcp", PBX_V4),
        ("udp", PBX_V6),
        ("tcp", PBX_V6),
    ] {
        assert!(
            reaches(&net.attacker, proto, host),
            "after unban: {proto} to {host}"
        );
    }
}

pub fn a_prefix_ban_drops_every_address_in_it_and_no_neighbour(b: Backend) {
    let net = Net::new();
    // Inside 2001:db8:1::/124 (::0–::f) and 198.51.100.4/30 (.4–.7): two senders each; one
    // neighbour just outside each.
    more_sources(
        &net,
        &[
            "2001:db8:1::8",
            "2001:db8:1::27",
            "198.51.100.6",
            "198.51.100.9",
        ],
    );
    let inside = [ATTACKER_V6, "2001:db8:1::8", ATTACKER_V4, "198.51.100.6"];
    let outside = ["2001:db8:1::27", "198.51.100.9"];
    let pbx = |src: &str| if src.contains(':') { PBX_V6 } else { PBX_V4 };
    for src in inside.iter().chain(&outside) {
        assert!(reaches_from(&net.attacker, src, pbx(src)), "before: {src}");
    }
    b.enforce(
        &net.pbx,
        &["ban", "2001:db8:1::/124", "60", "198.51.100.4/30", "60"],
    );
    for src in inside {
        assert!(
            !reaches_from(&net.attacker, src, pbx(src)),
            "banned prefix: {src} got through"
        );
    }
    for src in outside {
        assert!(
            reaches_from(&net.attacker, src, pbx(src)),
            "neighbour {src} was dropped"
        );
    }
    let mut bans = b.listed(&net.pbx);
    bans.sort();
    assert_eq!(
        bans.iter().map(|(ip, _)| ip.as_str()).collect::<Vec<_>>(),
        ["198.51.100.4/30", "2001:db8:1::/124"]
    );
    assert!(
        bans.iter().all(|(_, left)| (45..=60).contains(left)),
        "{bans:?}"
    );
    // A refresh of a present prefix, then the unban lifts it whole.
    b.enforce(&net.pbx, &["ban", "2001:db8:1::/124", "120"]);
    b.enforce(&net.pbx, &["unban", "2001:db8:1::/124", "198.51.100.4/30"]);
    assert!(b.listed(&net.pbx).is_empty());
    for src in inside {
        assert!(
            reaches_from(&net.attacker, src, pbx(src)),
            "after unban: {src}"
        );
    }
}

pub fn a_reban_sets_the_new_duration_whether_longer_or_shorter(b: Backend) {
    let net = Net::new();
    // One process, so the second ban takes the refresh path (the address is known to be live).
    b.enforce(
        &net.pbx,
        &[
            "ban",
            ATTACKER_V4,
            "600",
            "+",
            "ban",
            ATTACKER_V4,
            "30",
            ATTACKER_V6,
            "40",
        ],
    );
    let mut bans = b.listed(&net.pbx);
    bans.sort();
    assert_eq!(bans.len(), 2, "{bans:?}");
    assert!(
        (25..=30).contains(&bans[0].1),
        "shortened to 30 s: {bans:?}"
    );
    b.enforce(
        &net.pbx,
        &["ban", ATTACKER_V4, "90", "+", "ban", ATTACKER_V4, "900"],
    );
    let left = b
        .listed(&net.pbx)
        .into_iter()
        .find(|(ip, _)| ip == ATTACKER_V4)
        .unwrap()
        .1;
    assert!((890..=900).contains(&left), "lengthened to 900 s: {left}");
    assert!(blocked(&net.attacker, "udp", PBX_V4));
}

pub fn bans_expire_in_the_kernel_by_themselves_each_on_its_own_clock(b: Backend) {
    let net = Net::new();
    b.enforce(&net.pbx, &["ban", ATTACKER_V4, "2", ATTACKER_V6, "30"]);
    let banned_at = Instant::now();
    assert!(blocked(&net.attacker, "udp", PBX_V4));
    assert!(wait_for(Duration::from_secs(5), || reaches(
        &net.attacker,
        "udp",
        PBX_V4
    )));
    assert!(
        banned_at.elapsed() >= Duration::from_millis(1900),
        "expired too early: {:?}",
        banned_at.elapsed()
    );
    assert!(
        blocked(&net.attacker, "udp", PBX_V6),
        "the 30 s ban in the other family still holds"
    );
    let left: Vec<String> = b.listed(&net.pbx).into_iter().map(|(ip, _)| ip).collect();
    assert_eq!(left, [ATTACKER_V6]);
}

/// A `#[test]` per scenario and backend.
macro_rules! both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod nftables {
            $(#[test] fn $scenario() { super::$scenario(super::Backend::Nft) })*
        }
        mod ipset {
            $(#[test] fn $scenario() { super::$scenario(super::Backend::Ipset) })*
        }
    };
}

both_backends!(
    ban_drops_udp_and_tcp_from_the_attacker_only_and_unban_restores,
    a_prefix_ban_drops_every_address_in_it_and_no_neighbour,
    a_reban_sets_the_new_duration_whether_longer_or_shorter,
    bans_expire_in_the_kernel_by_themselves_each_on_its_own_clock,
);
