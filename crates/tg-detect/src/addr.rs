//! Reading the offender's address in every form the servers print it (§2 of the catalogue).
//!
//! Every function here is strict: the whole slice must be the address (and port), or the answer
//! is `None`. Detectors hand us exactly the bytes between fixed server text, so a lenient parser
//! would only widen what attacker text could slip through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use tg_model::canonical_ip;

/// Longest textual address we ever accept (`[` + IPv6 with embedded IPv4 + `]:65535`).
const MAX_ADDR_LEN: usize = 64;

/// How a shape writes the port after the address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Port {
    /// Address only (`1.2.3.4`, `2001:db8::1`).
    Never,
    /// `ast_sockaddr_stringify` style: `1.2.3.4`, `1.2.3.4:5060`, `[v6]:5060`, `[v6]`, bare `v6`
    /// (a bare IPv6 never has a port in this style, so it is read whole).
    Optional,
    /// `src_name:src_port` style (old PJSIP, registrar): a port is always appended, IPv6 may be
    /// unbracketed, so the last `:port` of an unbracketed IPv6 is the port.
    Always,
}

/// A plain address, no port, no brackets. IPv4-mapped IPv6 folds to IPv4.
pub(crate) fn ip(s: &[u8]) -> Option<IpAddr> {
    if s.is_empty() || s.len() > MAX_ADDR_LEN {
        return None;
    }
    if let Some(v4) = ipv4(s) {
        return Some(IpAddr::V4(v4));
    }
    // Only the bytes an IPv6 address can contain; this also makes from_utf8 infallible.
    if !s.contains(&b':')
        || !s
            .iter()
            .all(|&b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
    {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    Some(canonical_ip(IpAddr::V6(Ipv6Addr::from_str(text).ok()?)))
}

/// Dotted-quad IPv4, as strict as `Ipv4Addr::from_str` (no leading zeros, four octets ≤ 255)
/// but in one pass without its UTF-8 and generic-parser overhead: it runs on every attack line.
fn ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut n = 0; // octets completed
    let mut value: u16 = 0;
    let mut digits = 0;
    for &b in s {
        match b {
            b'0'..=b'9' => {
                if digits == 1 && value == 0 {
                    return None; // leading zero
                }
                value = value * 10 + u16::from(b - b'0');
                digits += 1;
                if value > 255 {
                    return None;
                }
            }
            b'.' if digits > 0 && n < 3 => {
                octets[n] = value as u8;
                n += 1;
                value = 0;
                digits = 0;
            }
            _ => return None,
        }
    }
    if n != 3 || digits == 0 {
        return None;
    }
    octets[3] = value as u8;
    Some(Ipv4Addr::from(octets))
}

/// An address with an optional or mandatory port, as `mode` says.
pub(crate) fn host_port(s: &[u8], mode: Port) -> Option<IpAddr> {
    endpoint(s, mode).map(|(ip, _)| ip)
}

/// [`host_port`] with the port, when the text has one.
pub(crate) fn endpoint(s: &[u8], mode: Port) -> Option<(IpAddr, Option<u16>)> {
    if s.len() > MAX_ADDR_LEN + 8 {
        return None;
    }
    if let Some(rest) = s.strip_prefix(b"[") {
        let close = memchr::memchr(b']', rest)?;
        let inner = &rest[..close];
        let after = &rest[close + 1..];
        if !inner.contains(&b':') {
            // `[1.2.3.4]:port` appears in fail2ban's PJSIP sample; accept it.
            if after.is_empty() {
                return Some((ip(inner)?, None));
            }
            let p = port(after.strip_prefix(b":")?)?;
            return Some((ip(inner)?, Some(p)));
        }
        return match after {
            [] if mode != Port::Always => Some((ip(inner)?, None)),
            [b':', p @ ..] => {
                let p = port(p)?;
                Some((ip(inner)?, Some(p)))
            }
            _ => None,
        };
    }
    if mode == Port::Never {
        return Some((ip(s)?, None));
    }
    let Some(first) = memchr::memchr(b':', s) else {
        return if mode == Port::Optional {
            Some((ip(s)?, None))
        } else {
            None
        };
    };
    let last = memchr::memrchr(b':', s).unwrap_or(first);
    if first == last {
        // One colon: `v4:port`.
        let p = port(&s[last + 1..])?;
        let v4 = ip(&s[..last])?;
        return v4.is_ipv4().then_some((v4, Some(p)));
    }
    if mode == Port::Optional {
        // A bare IPv6 never carries a port in this style.
        return Some((ip(s)?, None));
    }
    let p = port(&s[last + 1..])?;
    Some((ip(&s[..last])?, Some(p)))
}

/// A security-event address: `IPV4/UDP/1.2.3.4/5060`, `IPV6/TLS/2001:db8::1/5061`, or without
/// the transport segment (`IPV4/1.2.3.4/5060`), with its port.
pub(crate) fn security_endpoint(s: &[u8]) -> Option<(IpAddr, u16)> {
    let (family, rest) = if let Some(r) = s.strip_prefix(b"IPV4/") {
        (4, r)
    } else if let Some(r) = s.strip_prefix(b"IPV6/") {
        (6, r)
    } else {
        return None;
    };
    let last = memchr::memrchr(b'/', rest)?;
    let p = port(&rest[last + 1..])?;
    let head = &rest[..last];
    let addr = match memchr::memchr(b'/', head) {
        Some(t) => {
            let transport = &head[..t];
            if transport.is_empty() || !transport.iter().all(u8::is_ascii_alphanumeric) {
                return None;
            }
            &head[t + 1..]
        }
        None => head,
    };
    let parsed = ip(addr)?;
    // IPV6 with a mapped IPv4 folds to IPv4, so only insist on the family for real IPv4.
    if family == 4 && !parsed.is_ipv4() {
        return None;
    }
    Some((parsed, p))
}

/// A decimal port 0–65535 with no sign or spaces.
pub(crate) fn port(s: &[u8]) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u32 = 0;
    for &b in s {
        v = v * 10 + u32::from(b - b'0');
    }
    u16::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn security_addr(s: &[u8]) -> Option<IpAddr> {
        security_endpoint(s).map(|(ip, _)| ip)
    }

    #[test]
    fn plain_addresses() {
        assert_eq!(ip(b"1.2.3.4"), Some(a("1.2.3.4")));
        assert_eq!(ip(b"2001:db8::1"), Some(a("2001:db8::1")));
        assert_eq!(ip(b"::ffff:1.2.3.4"), Some(a("1.2.3.4")));
        for bad in [
            &b""[..],
            b"1.2.3",
            b"192.030.0.6",
            b"1.2.3.256",
            b"1.2.3.4.5",
            b"1..3.4",
            b"a.b.c.d",
            b"example.com",
            b"1.2.3.4 ",
            b"fe80::1%eth0",
        ] {
            assert_eq!(ip(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    proptest::proptest! {
        #[test]
        fn ipv4_agrees_with_std(text in "[0-9.]{0,18}") {
            let ours = ip(text.as_bytes());
            let std = text.parse::<Ipv4Addr>().ok().map(IpAddr::V4);
            proptest::prop_assert_eq!(ours, std);
        }

        #[test]
        fn ipv6_agrees_with_std(text in "[0-9a-f:.]{0,40}") {
            let ours = ip(text.as_bytes());
            let std = text.parse::<IpAddr>().ok().map(canonical_ip);
            proptest::prop_assert_eq!(ours, std);
        }
    }

    #[test]
    fn optional_port_forms() {
        let m = Port::Optional;
        assert_eq!(host_port(b"1.2.3.4", m), Some(a("1.2.3.4")));
        assert_eq!(host_port(b"1.2.3.4:5060", m), Some(a("1.2.3.4")));
        assert_eq!(host_port(b"[2001:db8::1]:5060", m), Some(a("2001:db8::1")));
        assert_eq!(host_port(b"[2001:db8::1]", m), Some(a("2001:db8::1")));
        assert_eq!(host_port(b"2001:db8::1", m), Some(a("2001:db8::1")));
        assert_eq!(host_port(b"[1.2.3.4]:61470", m), Some(a("1.2.3.4")));
        assert_eq!(host_port(b"1.2.3.4:99999", m), None);
        assert_eq!(host_port(b"1.2.3.4:", m), None);
        assert_eq!(host_port(b"[2001:db8::1]x", m), None);
    }

    #[test]
    fn mandatory_port_strips_the_last_group_of_bare_ipv6() {
        let m = Port::Always;
        assert_eq!(host_port(b"2001:db8::1:5060", m), Some(a("2001:db8::1")));
        assert_eq!(host_port(b"1.2.3.4:48336", m), Some(a("1.2.3.4")));
        assert_eq!(host_port(b"[2001:db8::1]:5060", m), Some(a("2001:db8::1")));
        assert_eq!(host_port(b"::ffff:1.2.3.4:5060", m), Some(a("1.2.3.4")));
        assert_eq!(host_port(b"1.2.3.4", m), None);
        assert_eq!(host_port(b"[2001:db8::1]", m), None);
    }

    #[test]
    fn security_event_addresses() {
        assert_eq!(
            security_addr(b"IPV4/UDP/10.250.251.252/5061"),
            Some(a("10.250.251.252"))
        );
        assert_eq!(
            security_addr(b"IPV6/TLS/2001:db8::7/5061"),
            Some(a("2001:db8::7"))
        );
        assert_eq!(security_addr(b"IPV4/1.2.3.4/5060"), Some(a("1.2.3.4")));
        assert_eq!(security_addr(b"IPV4/UDP/2001:db8::7/5061"), None);
        assert_eq!(security_addr(b"IPV4/U DP/1.2.3.4/5060"), None);
        assert_eq!(security_addr(b"IPV4/UDP/1.2.3.4"), None);
    }
}
