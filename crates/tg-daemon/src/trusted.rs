//! Builds the trusted set: configured networks, host names resolved (again every `refresh`),
//! and the host's own addresses read from the kernel (`ip -j addr`, argv only).

use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tg_config::trusted::TrustedConfig;
use tg_engine::trusted::resolve_system;
use tg_model::TrustedSet;

/// How long start-up waits for host names to resolve before going on without them (they are
/// added when the resolution finishes).
pub const FIRST_RESOLVE_WAIT: Duration = Duration::from_secs(3);

/// The trusted set of `cfg` through the one builder ([`tg_engine::trusted::build`]), names
/// resolved by the system resolver. The daemon's rule for a name that does not resolve: a
/// warning, and the name is not trusted until a later refresh resolves it.
pub fn build(cfg: &TrustedConfig, own: &[IpAddr]) -> TrustedSet {
    let trusted = tg_engine::trusted::build(cfg, &resolve_system, own);
    for u in &trusted.unresolved {
        tracing::warn!(
            "trusted host name {}: cannot resolve ({}); not trusted until it resolves",
            u.name,
            u.reason
        );
    }
    trusted.set
}

/// The trusted set of `cfg` without waiting for DNS: networks and `own` addresses only (the
/// names follow when they resolve).
pub fn build_without_names(cfg: &TrustedConfig, own: &[IpAddr]) -> TrustedSet {
    tg_engine::trusted::build(cfg, &|_| Ok(Vec::new()), own).set
}

/// The whole trusted set now: resolution runs in a helper thread and is given at most `wait`;
/// `None` when it did not finish in time (the caller goes on with [`build`] without names).
pub fn build_now(cfg: &TrustedConfig, wait: Duration) -> Option<TrustedSet> {
    let (tx, rx) = mpsc::channel();
    let cfg = cfg.clone();
    std::thread::Builder::new()
        .name("tg-resolve".into())
        .spawn(move || {
            let own = own_addresses();
            let _ = tx.send(build(&cfg, &own));
        })
        .ok()?;
    rx.recv_timeout(wait).ok()
}

/// The addresses configured on this host's interfaces (in the current network namespace).
pub fn own_addresses() -> Vec<IpAddr> {
    let Some(ip) = tg_nft::system_program("ip") else {
        tracing::warn!(
            "`ip` (iproute2) not found: the host's own addresses are not trusted automatically"
        );
        return Vec::new();
    };
    let out = Command::new(ip)
        .args(["-j", "addr", "show"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => parse_ip_addr_json(&o.stdout),
        _ => {
            tracing::warn!(
                "`ip -j addr show` failed: the host's own addresses are not trusted automatically"
            );
            Vec::new()
        }
    }
}

/// The `local` addresses in `ip -j addr show` output.
pub fn parse_ip_addr_json(json: &[u8]) -> Vec<IpAddr> {
    let Ok(serde_json::Value::Array(links)) = serde_json::from_slice(json) else {
        return Vec::new();
    };
    links
        .iter()
        .filter_map(|l| l.get("addr_info")?.as_array())
        .flatten()
        .filter_map(|a| a.get("local")?.as_str()?.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ip_json() {
        let json = br#"[{"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1"},{"family":"inet6","local":"::1"}]},{"ifname":"eth0","addr_info":[{"local":"fe80::1"}]},{"ifname":"x"}]"#;
        let ips = parse_ip_addr_json(json);
        assert_eq!(ips.len(), 3);
        assert!(parse_ip_addr_json(b"garbage").is_empty());
    }
}
