//! Addresses that must never be banned, whatever the logs say.

use std::net::IpAddr;

use ipnet::IpNet;

/// Folds IPv4-mapped IPv6 (`::ffff:1.2.3.4`) to IPv4, the form Asterisk itself prints.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// A set of trusted networks (single addresses are /32 or /128 networks).
///
/// Host names are resolved elsewhere (that is I/O); this set only holds addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedSet {
    nets: Vec<IpNet>,
}

impl TrustedSet {
    /// An empty set: nobody is trusted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a network (or a single address as a host network).
    pub fn insert(&mut self, net: IpNet) {
        let net = match net {
            IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
                Some(v4) => {
                    IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).unwrap_or(IpNet::V6(v6))
                }
                None => IpNet::V6(v6),
            },
            other => other,
        };
        if !self.nets.contains(&net) {
            self.nets.push(net);
        }
    }

    /// Adds one address.
    pub fn insert_ip(&mut self, ip: IpAddr) {
        self.insert(IpNet::from(canonical_ip(ip)));
    }

    /// True when `ip` falls inside any trusted network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// True when `net` and a trusted network share an address (one holds the other): a
    /// prefix that must never be banned as a whole.
    pub fn overlaps(&self, net: IpNet) -> bool {
        self.nets
            .iter()
            .any(|n| n.contains(&net.network()) || net.contains(&n.network()))
    }

    /// The networks, in insertion order.
    pub fn networks(&self) -> &[IpNet] {
        &self.nets
    }

    /// True when nothing is trusted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_and_mapped_addresses_match() {
        let mut t = TrustedSet::new();
        t.insert("10.0.0.0/8".parse().unwrap());
        t.insert_ip("2001:db8::1".parse().unwrap());
        assert!(t.contains("10.1.2.3".parse().unwrap()));
        assert!(t.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(t.contains("2001:db8::1".parse().unwrap()));
        assert!(!t.contains("2001:db8::2".parse().unwrap()));
        assert!(!t.contains("11.0.0.1".parse().unwrap()));
    }

    #[test]
    fn overlaps_either_way() {
        let mut t = TrustedSet::new();
        t.insert_ip("2001:db8:1:2::7".parse().unwrap());
        t.insert("10.0.0.0/8".parse().unwrap());
        assert!(t.overlaps("2001:db8:1:2::/64".parse().unwrap()));
        assert!(!t.overlaps("2001:db8:1:3::/64".parse().unwrap()));
        assert!(t.overlaps("10.1.2.0/24".parse().unwrap()));
        assert!(t.overlaps("8.0.0.0/5".parse().unwrap()));
        assert!(!t.overlaps("11.0.0.0/24".parse().unwrap()));
    }

    #[test]
    fn mapped_network_is_folded() {
        let mut t = TrustedSet::new();
        t.insert("::ffff:192.0.2.0/120".parse().unwrap());
        assert!(t.contains("192.0.2.77".parse().unwrap()));
    }
}
