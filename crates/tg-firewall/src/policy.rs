//! The policy: a validated `[firewall]` section plus what it needs from disk (the RTP range,
//! the Asterisk peers), as typed values ready to render. Host names are not resolved here.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use tg_config::firewall::{Listen, PortRange, Proto, Window, Zone};
use tg_config::trusted::TrustedEntry;
use tg_config::Config;

use crate::asterisk;

/// One service, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// The name under `[firewall.services]`.
    pub name: String,
    /// Ports per protocol.
    pub listen: Vec<Listen>,
    /// Who may reach it (empty: closed).
    pub zones: Vec<Zone>,
    /// When, if not always.
    pub window: Option<Window>,
    /// The published port when remapped (TCP, single port services only).
    pub external_port: Option<u16>,
}

impl Service {
    /// The TCP port a remapped service really listens on.
    pub fn internal_tcp_port(&self) -> Option<u16> {
        self.listen
            .iter()
            .find(|l| l.proto == Proto::Tcp)
            .and_then(|l| l.ports.first())
            .map(|p| p.lo)
    }

    /// True when a new connection to `port`/`proto` from outside reaches this service.
    pub fn publishes(&self, proto: Proto, port: u16) -> bool {
        match (self.external_port, proto) {
            (Some(ext), Proto::Tcp) => ext == port,
            _ => self
                .listen
                .iter()
                .any(|l| l.proto == proto && l.ports.iter().any(|r| r.contains(port))),
        }
    }
}

/// A trusted host name and where it was configured (for messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedName {
    /// The name, lower case.
    pub name: String,
    /// `path:line: key`, e.g. `tollguard.toml:12: trusted.addresses`.
    pub origin: String,
}

/// Per-source SIP flood limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flood {
    /// Packets per second.
    pub rate: u32,
    /// Burst, packets.
    pub burst: u32,
    /// Log drops (rate-limited) with [`crate::FLOOD_LOG_PREFIX`].
    pub log: bool,
    /// The UDP ports limited (SIP).
    pub udp_ports: Vec<PortRange>,
    /// The TCP ports whose new connections are limited (SIP, SIP-TLS).
    pub tcp_ports: Vec<PortRange>,
}

/// The compiled policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Services in config order (by name).
    pub services: Vec<Service>,
    /// Trusted networks given as addresses/CIDRs.
    pub trusted_nets: Vec<IpNet>,
    /// Trusted host names, resolved at apply time and refreshed on their TTL.
    pub trusted_names: Vec<TrustedName>,
    /// How often names are re-resolved at most.
    pub refresh_max_secs: u64,
    /// LAN interfaces.
    pub lan_ifaces: Vec<String>,
    /// LAN source networks.
    pub lan_nets: Vec<IpNet>,
    /// VPN interfaces.
    pub vpn_ifaces: Vec<String>,
    /// SIP flood limits (none when off or there is no SIP service).
    pub flood: Option<Flood>,
    /// DNS servers for names (empty: the system's).
    pub dns_servers: Vec<SocketAddr>,
}

/// Why a policy could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The config has no `[firewall]` section.
    #[error("{path}: there is no [firewall] section (see examples/config/firewall.toml)")]
    NoSection {
        /// The config file.
        path: PathBuf,
    },
}

impl Policy {
    /// Builds the policy from a validated config; `text` is the config's text (for lines) and
    /// `path` its file name (for messages).
    pub fn build(config: &Config, text: &str, path: &Path) -> Result<Policy, PolicyError> {
        let fw = config
            .firewall
            .as_ref()
            .ok_or_else(|| PolicyError::NoSection {
                path: path.to_path_buf(),
            })?;
        let mut services = Vec::new();
        for spec in fw.services(text) {
            let mut listen = spec.listen.clone();
            if spec.name == "rtp" {
                let explicit = fw
                    .services
                    .get("rtp")
                    .is_some_and(|s| s.get_ref().ports.is_some());
                let conf = spec
                    .rtp_conf
                    .clone()
                    .unwrap_or_else(|| fw.asterisk_dir.join("rtp.conf"));
                if !explicit {
                    if let Some(range) = asterisk::rtp_range(&conf) {
                        listen = vec![Listen {
                            proto: Proto::Udp,
                            ports: vec![range],
                        }];
                    }
                }
            }
            services.push(Service {
                name: spec.name,
                listen,
                zones: spec.zones,
                window: spec.window,
                external_port: spec.external_port,
            });
        }

        let mut trusted_nets = Vec::new();
        let mut trusted_names: Vec<TrustedName> = Vec::new();
        let mut add_name = |name: String, origin: String| {
            if !trusted_names.iter().any(|n| n.name == name) {
                trusted_names.push(TrustedName { name, origin });
            }
        };
        for (entry, span) in config.trusted.spanned_entries() {
            match entry {
                TrustedEntry::Net(n) => trusted_nets.push(n),
                TrustedEntry::Name(n) => add_name(
                    n,
                    format!(
                        "{}:{}: trusted.addresses",
                        path.display(),
                        tg_config::line_of(text, span.start)
                    ),
                ),
            }
        }
        if fw.trust_from_asterisk {
            let mut derived = asterisk::pjsip_hosts(&fw.asterisk_dir.join("pjsip.conf"));
            derived.extend(asterisk::sip_hosts(&fw.asterisk_dir.join("sip.conf")));
            for d in derived {
                match d.entry {
                    TrustedEntry::Net(n) => trusted_nets.push(n),
                    TrustedEntry::Name(n) => add_name(
                        n,
                        format!("{}:{}: (trust_from_asterisk)", d.file.display(), d.line),
                    ),
                }
            }
        }
        trusted_nets.sort();
        trusted_nets.dedup();

        let flood = fw.flood.enabled.then(|| {
            let mut udp_ports = Vec::new();
            let mut tcp_ports = Vec::new();
            for s in services
                .iter()
                .filter(|s| s.name == "sip" || s.name == "sip-tls")
            {
                for l in &s.listen {
                    match l.proto {
                        Proto::Udp => udp_ports.extend(l.ports.iter().copied()),
                        Proto::Tcp => tcp_ports.extend(l.ports.iter().copied()),
                    }
                }
            }
            Flood {
                rate: u32::try_from(*fw.flood.rate.get_ref()).unwrap_or(20),
                burst: u32::try_from(*fw.flood.burst.get_ref()).unwrap_or(50),
                log: fw.flood.log,
                udp_ports,
                tcp_ports,
            }
        });
        let flood = flood.filter(|f| !f.udp_ports.is_empty() || !f.tcp_ports.is_empty());

        Ok(Policy {
            services,
            trusted_nets,
            trusted_names,
            refresh_max_secs: config.trusted.refresh.0.max(1),
            lan_ifaces: fw
                .lan_interfaces
                .iter()
                .map(|s| s.get_ref().clone())
                .collect(),
            lan_nets: fw.lan_nets(),
            vpn_ifaces: fw
                .vpn_interfaces
                .iter()
                .map(|s| s.get_ref().clone())
                .collect(),
            flood,
            dns_servers: fw.dns(),
        })
    }

    /// The zones some service is open to, in a fixed order.
    pub fn used_zones(&self) -> Vec<Zone> {
        let mut z: Vec<Zone> = self
            .services
            .iter()
            .flat_map(|s| s.zones.iter().copied())
            .collect();
        z.sort();
        z.dedup();
        z
    }

    /// True when `zone` has members at all (a `lan` zone without interfaces or networks is
    /// empty, and so is `trusted` without entries).
    pub fn zone_has_members(&self, zone: Zone) -> bool {
        match zone {
            Zone::Anyone => true,
            Zone::Trusted => !self.trusted_nets.is_empty() || !self.trusted_names.is_empty(),
            Zone::Lan => !self.lan_ifaces.is_empty() || !self.lan_nets.is_empty(),
            Zone::Vpn => !self.vpn_ifaces.is_empty(),
            Zone::Nobody => false,
        }
    }

    /// The services that publish SSH (the one named `ssh`, or any on TCP 22).
    pub fn ssh_services(&self) -> Vec<&Service> {
        self.services
            .iter()
            .filter(|s| s.name == "ssh" || s.publishes(Proto::Tcp, 22))
            .collect()
    }

    /// `None` when SSH can be reached from some zone with members; else why not.
    pub fn ssh_way_in(&self) -> Option<String> {
        let ssh = self.ssh_services();
        if ssh.is_empty() {
            return Some("no service opens SSH (add [firewall.services.ssh])".into());
        }
        let open = ssh
            .iter()
            .any(|s| s.zones.iter().any(|z| self.zone_has_members(*z)));
        (!open).then(|| {
            "SSH is open to no zone that has members (trusted without addresses, lan or vpn without interfaces, or nobody)"
                .to_string()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(text: &str) -> Policy {
        let c = Config::parse(text, Path::new("t.toml")).unwrap();
        Policy::build(&c, text, Path::new("t.toml")).unwrap()
    }

    #[test]
    fn rtp_range_from_rtp_conf_and_names_with_origin() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("rtp.conf"),
            "[general]\nrtpstart=16000\nrtpend=16100\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("pjsip.conf"),
            "[t]\ntype=registration\nserver_uri=sip:itsp.example\n",
        )
        .unwrap();
        let text = format!(
            "[trusted]\naddresses = [\"192.0.2.0/24\", \"office.example\"]\n[firewall]\ntrust_from_asterisk = true\nasterisk_dir = {:?}\n\
             [firewall.services.rtp]\nzones = [\"anyone\"]\n[firewall.services.sip]\nzones = [\"anyone\"]\n[firewall.services.ssh]\nzones = [\"trusted\"]\n",
            dir.path()
        );
        let p = build(&text);
        let rtp = p.services.iter().find(|s| s.name == "rtp").unwrap();
        assert_eq!(
            rtp.listen[0].ports,
            vec![PortRange {
                lo: 16000,
                hi: 16100
            }]
        );
        assert_eq!(p.trusted_names.len(), 2);
        assert_eq!(p.trusted_names[0].origin, "t.toml:2: trusted.addresses");
        assert!(
            p.trusted_names[1]
                .origin
                .ends_with("pjsip.conf:3: (trust_from_asterisk)"),
            "{:?}",
            p.trusted_names
        );
        let flood = p.flood.clone().unwrap();
        assert_eq!(flood.udp_ports, vec![PortRange::one(5060)]);
        assert!(p.ssh_way_in().is_none());
    }

    #[test]
    fn ssh_without_a_way_in_is_reported() {
        let p = build("[firewall.services.sip]\nzones = [\"anyone\"]\n");
        assert!(p.ssh_way_in().unwrap().contains("no service opens SSH"));
        let p = build("[firewall.services.ssh]\nzones = [\"lan\", \"trusted\"]\n");
        assert!(p.ssh_way_in().unwrap().contains("no zone that has members"));
        let p = build("[firewall]\nvpn_interfaces = [\"wg0\"]\n[firewall.services.ssh]\nzones = [\"vpn\"]\nexternal_port = 2222\n");
        assert!(p.ssh_way_in().is_none());
        assert!(p.services[0].publishes(Proto::Tcp, 2222));
        assert!(!p.services[0].publishes(Proto::Tcp, 22));
    }
}
