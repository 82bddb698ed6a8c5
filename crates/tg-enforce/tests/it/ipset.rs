//! What only the iptables + ipset enforcer does, against a real kernel with real packets, in
//! namespaces made here (iptables is whichever variant the system has; both work inside a
//! namespace). What every backend does is in `backends`.

use crate::common::*;

const IPT: &str = "iptables";

/// Another tool inserting an `ACCEPT` above our drop rule would let a banned sender through:
/// `intact` notices and `init` puts the drop rule back on top.
#[test]
fn ipset_init_keeps_the_drop_rule_first_in_input() {
    let net = Net::new();
    enforce(&net.pbx, &["--backend", IPT, "ban", ATTACKER_V4, "600"]);
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
