//! Ban targets: one address or a prefix, as one [`IpNet`], and their text form.
//!
//! A single address is a host network (`/32`, `/128`) and is written as the bare address
//! (`198.51.100.7`), so text written before prefixes existed reads back the same; a prefix is
//! written as `2001:db8:1:2::/64`. IPv4-mapped IPv6 folds to IPv4, host bits are cleared.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::canonical_ip;

/// The canonical form: IPv4-mapped IPv6 folded to IPv4, host bits cleared.
pub fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => {
                IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).map_or(net.trunc(), |n| n.trunc())
            }
            None => net.trunc(),
        },
        other => other.trunc(),
    }
}

/// True when `net` is one address.
pub fn is_host(net: IpNet) -> bool {
    net.prefix_len() == net.max_prefix_len()
}

/// The text form: the bare address for one address, `ADDR/LEN` for a prefix.
pub fn net_text(net: IpNet) -> String {
    if is_host(net) {
        net.addr().to_string()
    } else {
        net.trunc().to_string()
    }
}

/// Reads `ADDR` or `ADDR/LEN` (canonical, host bits cleared); `None` when it is neither.
pub fn parse_net(text: &str) -> Option<IpNet> {
    match text.parse::<IpAddr>() {
        Ok(ip) => Some(IpNet::from(canonical_ip(ip))),
        Err(_) => text.parse::<IpNet>().ok().map(canonical_net),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_hosts_bare_and_prefixes_with_their_length() {
        for (text, want) in [
            ("198.51.100.7", "198.51.100.7"),
            ("::ffff:198.51.100.7", "198.51.100.7"),
            ("2001:db8:1:2::/64", "2001:db8:1:2::/64"),
            ("2001:db8:1:2::99/64", "2001:db8:1:2::/64"),
            ("198.51.100.7/32", "198.51.100.7"),
            ("::ffff:198.51.100.0/120", "198.51.100.0/24"),
        ] {
            assert_eq!(net_text(parse_net(text).unwrap()), want, "{text}");
        }
        assert!(parse_net("nope").is_none());
        assert!(parse_net("1.2.3.4/33").is_none());
        assert!(is_host(parse_net("2001:db8::1").unwrap()));
    }
}
