//! "Don't lock yourself out": would the policy still let the SSH session that applies it (from
//! `SSH_CONNECTION`) open a new connection? And does it leave any way in for SSH at all?

use std::net::IpAddr;
use std::process::{Command, Stdio};

use tg_config::firewall::{Proto, Zone};

use crate::dns::Resolved;
use crate::policy::Policy;
use crate::render;

/// `SSH_CONNECTION` = `client_ip client_port server_ip server_port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshSession {
    /// The client's address.
    pub client: IpAddr,
    /// The local address the client connected to.
    pub server: IpAddr,
    /// The local port it connected to.
    pub port: u16,
}

impl SshSession {
    /// Parses the value of `SSH_CONNECTION`; `None` when it is absent or malformed.
    pub fn parse(value: &str) -> Option<SshSession> {
        let f: Vec<&str> = value.split_whitespace().collect();
        if f.len() != 4 {
            return None;
        }
        Some(SshSession {
            client: tg_model::canonical_ip(f[0].parse().ok()?),
            server: tg_model::canonical_ip(f[2].parse().ok()?),
            port: f[3].parse().ok()?,
        })
    }
}

/// The local time as nftables' `meta day` (0 = Sunday) and minutes since midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    /// 0 = Sunday … 6 = Saturday.
    pub weekday: u8,
    /// Minutes since midnight.
    pub minute: u16,
}

impl LocalTime {
    /// Now, in the machine's time zone.
    pub fn now() -> LocalTime {
        let now = jiff::Zoned::now();
        LocalTime {
            weekday: now.weekday().to_sunday_zero_offset() as u8,
            minute: (i16::from(now.hour()) * 60 + i16::from(now.minute())) as u16,
        }
    }
}

/// The interface that holds local address `addr` (from `ip -o addr show`), if any.
pub fn interface_of(addr: IpAddr) -> Option<String> {
    // Like nft, `ip` is taken from the system directories only, never from PATH.
    let ip = tg_nft::system_program("ip")?;
    let out = Command::new(ip)
        .args(["-o", "addr", "show"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let a: IpAddr = f.get(3)?.split('/').next()?.parse().ok()?;
        (tg_model::canonical_ip(a) == addr)
            .then(|| f.get(1).map(|s| s.trim_end_matches(':').to_string()))?
    })
}

/// `None` when a new SSH connection from `session` would be admitted by the policy now; else
/// why not. `iface` is the interface the session arrived on (see [`interface_of`]).
pub fn session_cut_off(
    policy: &Policy,
    resolved: &Resolved,
    session: &SshSession,
    iface: Option<&str>,
    now: LocalTime,
) -> Option<String> {
    let (t4, t6) = render::trusted_networks(policy, resolved);
    let (l4, l6): (Vec<_>, Vec<_>) = {
        let nets = ipnet::IpNet::aggregate(&policy.lan_nets);
        (
            nets.iter()
                .filter_map(|n| {
                    if let ipnet::IpNet::V4(n) = n {
                        Some(*n)
                    } else {
                        None
                    }
                })
                .collect(),
            nets.iter()
                .filter_map(|n| {
                    if let ipnet::IpNet::V6(n) = n {
                        Some(*n)
                    } else {
                        None
                    }
                })
                .collect(),
        )
    };
    let on = |ifaces: &[String]| {
        iface.is_some_and(|i| {
            ifaces
                .iter()
                .any(|x| x == i || x.strip_suffix('*').is_some_and(|p| i.starts_with(p)))
        })
    };
    let in_zone = |z: Zone| match z {
        Zone::Anyone => true,
        Zone::Trusted => render::in_nets(session.client, &t4, &t6),
        Zone::Lan => on(&policy.lan_ifaces) || render::in_nets(session.client, &l4, &l6),
        Zone::Vpn => on(&policy.vpn_ifaces),
        Zone::Nobody => false,
    };
    let mut outside_window = None;
    for s in policy
        .services
        .iter()
        .filter(|s| s.publishes(Proto::Tcp, session.port))
    {
        if !s.zones.iter().any(|z| in_zone(*z)) {
            continue;
        }
        match &s.window {
            Some(w) if !window_contains(w, now) => outside_window = Some(s.name.clone()),
            _ => return None,
        }
    }
    Some(match outside_window {
        Some(name) => format!(
            "your SSH session ({} to port {}) is admitted by {name:?} only inside its time window, and now is outside it",
            session.client, session.port
        ),
        None => format!(
            "the policy would not admit a new SSH connection from your session's address {} to port {}",
            session.client, session.port
        ),
    })
}

fn window_contains(w: &tg_config::firewall::Window, now: LocalTime) -> bool {
    let day_ok = w.days.is_empty() || w.days.contains(&now.weekday);
    let hour_ok = w
        .hours
        .is_none_or(|(a, b)| a <= now.minute && now.minute < b);
    day_ok && hour_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use tg_config::Config;

    fn policy(text: &str) -> Policy {
        let c = Config::parse(text, Path::new("t.toml")).unwrap();
        Policy::build(&c, text, Path::new("t.toml")).unwrap()
    }

    const MON_NOON: LocalTime = LocalTime {
        weekday: 1,
        minute: 12 * 60,
    };

    #[test]
    fn session_from_trusted_name_is_admitted_and_stranger_is_not() {
        let p = policy(
            "[trusted]\naddresses = [\"admin.example\"]\n[firewall]\nlan_interfaces = [\"eth1\"]\n\
             [firewall.services.ssh]\nzones = [\"trusted\", \"lan\"]\n",
        );
        let mut r = Resolved::new();
        r.insert(
            "admin.example".into(),
            vec!["198.51.100.7".parse().unwrap()],
        );
        let s = SshSession::parse("198.51.100.7 50000 192.0.2.1 22").unwrap();
        assert_eq!(session_cut_off(&p, &r, &s, Some("eth0"), MON_NOON), None);
        let stranger = SshSession::parse("203.0.113.5 50000 192.0.2.1 22").unwrap();
        assert!(session_cut_off(&p, &r, &stranger, Some("eth0"), MON_NOON).is_some());
        assert_eq!(
            session_cut_off(&p, &r, &stranger, Some("eth1"), MON_NOON),
            None,
            "lan interface"
        );
    }

    #[test]
    fn remap_and_window_are_honoured() {
        let p = policy(
            "[firewall.services.ssh]\nzones = [\"anyone\"]\nexternal_port = 2222\nhours = \"07:00-20:00\"\ndays = [\"mon\"]\n",
        );
        let r = Resolved::new();
        let via_22 = SshSession::parse("::ffff:203.0.113.5 1 192.0.2.1 22").unwrap();
        assert_eq!(via_22.client, "203.0.113.5".parse::<IpAddr>().unwrap());
        assert!(
            session_cut_off(&p, &r, &via_22, None, MON_NOON).is_some(),
            "22 is closed when remapped"
        );
        let via_2222 = SshSession::parse("203.0.113.5 1 192.0.2.1 2222").unwrap();
        assert_eq!(session_cut_off(&p, &r, &via_2222, None, MON_NOON), None);
        let sunday = LocalTime {
            weekday: 0,
            minute: 12 * 60,
        };
        let why = session_cut_off(&p, &r, &via_2222, None, sunday).unwrap();
        assert!(why.contains("time window"), "{why}");
        assert!(SshSession::parse("garbage").is_none());
    }
}
