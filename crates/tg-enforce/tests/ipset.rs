//! The iptables + ipset enforcer against a real kernel with real packets, in namespaces made
//! here (iptables is whichever variant the system has; both work inside a namespace).

mod common;

use std::time::Duration;

use common::*;

const IPT: &str = "iptables";

#[test]
fn ipset_bans_drop_the_attacker_only_refresh_unban_and_expire() {
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
    enforce(
        &net.pbx,
        &[
            "--backend",
            IPT,
            "ban",
            ATTACKER_V4,
            "600",
            ATTACKER_V6,
            "600",
        ],
    );
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

    // The drop rule sits first in INPUT, once, however often init runs.
    enforce(&net.pbx, &["--backend", IPT, "init", "+", "init"]);
    let rules = sh_out(&net.pbx, &["iptables", "-S", "INPUT"]);
    assert_eq!(
        rules
            .matches("--match-set tollguard_v4 src -j DROP")
            .count(),
        1,
        "{rules}"
    );
    assert!(sh_out(&net.pbx, &["ip6tables", "-S", "INPUT"])
        .contains("--match-set tollguard_v6 src -j DROP"));

    // A re-ban sets the new duration (here: shorter), in both sets.
    enforce(
        &net.pbx,
        &["--backend", IPT, "ban", ATTACKER_V4, "30", ATTACKER_V6, "2"],
    );
    let bans = listed(&net.pbx, IPT);
    assert_eq!(bans.len(), 2, "{bans:?}");
    assert!(bans.iter().all(|(_, left)| *left <= 30), "{bans:?}");
    assert!(
        wait_for(Duration::from_secs(5), || reaches(
            &net.attacker,
            "udp",
            PBX_V6
        )),
        "the 2 s ban expired"
    );
    assert!(
        blocked(&net.attacker, "udp", PBX_V4),
        "the 30 s ban still holds"
    );

    enforce(
        &net.pbx,
        &[
            "--backend",
            IPT,
            "unban",
            ATTACKER_V4,
            ATTACKER_V6,
            "203.0.113.9",
        ],
    );
    assert!(listed(&net.pbx, IPT).is_empty());
    assert!(reaches(&net.attacker, "udp", PBX_V4) && reaches(&net.attacker, "tcp", PBX_V4));
}

/// Another tool inserting an `ACCEPT` above our drop rule would let a banned sender through:
/// `intact` notices and `init` puts the drop rule back on top.
#[test]
fn ipset_init_keeps_the_drop_rule_first_in_input() {
    let net = Net::new();
    enforce(&net.pbx, &["--backend", IPT, "ban", ATTACKER_V4, "600"]);
    assert_eq!(
        enforce(&net.pbx, &["--backend", IPT, "intact"]).trim(),
        "intact true"
    );
    sh_out(
        &net.pbx,
        &[
            "iptables",
            "-I",
            "INPUT",
            "1",
            "-s",
            ATTACKER_V4,
            "-j",
            "ACCEPT",
        ],
    );
    assert!(
        reaches(&net.attacker, "udp", PBX_V4),
        "the ACCEPT above the drop lets it in"
    );
    assert_eq!(
        enforce(&net.pbx, &["--backend", IPT, "intact"]).trim(),
        "intact false"
    );

    enforce(&net.pbx, &["--backend", IPT, "init"]);
    let rules: Vec<String> = sh_out(&net.pbx, &["iptables", "-S", "INPUT"])
        .lines()
        .filter(|l| l.starts_with("-A INPUT"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        rules,
        [
            "-A INPUT -m set --match-set tollguard_v4 src -j DROP".to_string(),
            "-A INPUT -m set --match-set tollguard_nets_v4 src -j DROP".to_string(),
            format!("-A INPUT -s {ATTACKER_V4}/32 -j ACCEPT"),
        ]
    );
    assert!(blocked(&net.attacker, "udp", PBX_V4));
    assert_eq!(
        enforce(&net.pbx, &["--backend", IPT, "intact"]).trim(),
        "intact true"
    );

    // Rules and sets destroyed: the next ban, without an explicit init, re-creates them.
    sh_out(&net.pbx, &["iptables", "-F", "INPUT"]);
    sh_out(&net.pbx, &["ip6tables", "-F", "INPUT"]);
    sh_out(&net.pbx, &["ipset", "destroy"]);
    enforce(
        &net.pbx,
        &["--backend", IPT, "--no-init", "ban", ATTACKER_V4, "60"],
    );
    assert!(blocked(&net.attacker, "udp", PBX_V4));
    assert_eq!(
        enforce(&net.pbx, &["--backend", IPT, "intact"]).trim(),
        "intact true"
    );
}
