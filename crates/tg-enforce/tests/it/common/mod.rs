//! Shared test support: the PBX network of `tg_testnet::pbx` and the `enforce_cli` example run
//! *inside* a namespace (the enforcers act on the namespace they run in; never the host's).

#![allow(dead_code)]

pub use tg_testnet::pbx::*;
use tg_testnet::Netns;

/// Runs `enforce_cli ARGS` inside `ns`; panics with its stderr on failure; returns stdout.
pub fn enforce(ns: &Netns, args: &[&str]) -> String {
    run_example(ns, "enforce_cli", args)
}

/// `enforce_cli list` parsed into (address, seconds left).
pub fn listed(ns: &Netns, backend: &str) -> Vec<(String, u64)> {
    listed_by(ns, "enforce_cli", backend)
}

/// Adds `addrs` to the attacker's interface (no duplicate address detection: usable at once).
pub fn more_sources(net: &Net, addrs: &[&str]) {
    for a in addrs {
        let len = if a.contains(':') { "128" } else { "32" };
        let out = net
            .attacker
            .exec(&[
                "ip",
                "addr",
                "add",
                &format!("{a}/{len}"),
                "dev",
                &net.attacker_if,
                "nodad",
            ])
            .unwrap();
        assert!(out.status.success(), "{a}: {out:?}");
    }
}
