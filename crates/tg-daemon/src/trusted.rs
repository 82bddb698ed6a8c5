//! Builds the trusted set: configured networks, host names resolved (again every `refresh`),
//! and the host's own addresses read from the kernel (`ip -j addr`, argv only).

use std::net::{IpAddr, ToSocketAddrs};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tg_config::trusted::{TrustedConfig, TrustedEntry};
use tg_model::TrustedSet;

/// How long start-up waits for host names to resolve before going on without them (they are
/// added when the resolution finishes).
pub const FIRST_RESOLVE_WAIT: Duration = Duration::from_secs(3);

/// The trusted set from configuration: networks now, names as resolved by `resolve`.
pub fn build(
    cfg: &TrustedConfig,
    resolve: &dyn Fn(&str) -> Vec<IpAddr>,
    own: &[IpAddr],
) -> TrustedSet {
    let mut set = TrustedSet::new();
    for entry in cfg.entries() {
        match entry {
            TrustedEntry::Net(net) => set.insert(net),
            TrustedEntry::Name(name) => {
                for ip in resolve(&name) {
                    set.insert_ip(ip);
                }
            }
        }
    }
    if cfg.own_addresses {
        for &ip in own {
            set.insert_ip(ip);
        }
    }
    set
}

/// Resolves a host name with the system resolver (A and AAAA); nothing when it fails.
pub fn resolve_system(name: &str) -> Vec<IpAddr> {
    match (name, 0u16).to_socket_addrs() {
        Ok(addrs) => addrs.map(|a| a.ip()).collect(),
        Err(e) => {
            tracing::warn!(
                "trusted host name {name}: cannot resolve ({e}); not trusted until it resolves"
            );
            Vec::new()
        }
    }
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
            let _ = tx.send(build(&cfg, &resolve_system, &own));
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

    fn cfg(text: &str) -> TrustedConfig {
        tg_config::Config::parse(text, std::path::Path::new("t.toml"))
            .unwrap()
            .trusted
    }

    #[test]
    fn networks_names_and_own_addresses() {
        let c = cfg("[trusted]\naddresses = [\"10.1.0.0/16\", \"office.example.com\"]\n");
        let set = build(
            &c,
            &|n| {
                assert_eq!(n, "office.example.com");
                vec!["203.0.113.7".parse().unwrap()]
            },
            &["192.0.2.1".parse().unwrap()],
        );
        for ip in ["10.1.2.3", "203.0.113.7", "192.0.2.1"] {
            assert!(set.contains(ip.parse().unwrap()), "{ip}");
        }
        assert!(!set.contains("203.0.113.8".parse().unwrap()));
        let c = cfg("[trusted]\nown_addresses = false\n");
        assert!(build(&c, &|_| Vec::new(), &["192.0.2.1".parse().unwrap()]).is_empty());
    }

    #[test]
    fn parses_ip_json() {
        let json = br#"[{"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1"},{"family":"inet6","local":"::1"}]},{"ifname":"eth0","addr_info":[{"local":"fe80::1"}]},{"ifname":"x"}]"#;
        let ips = parse_ip_addr_json(json);
        assert_eq!(ips.len(), 3);
        assert!(parse_ip_addr_json(b"garbage").is_empty());
    }
}
