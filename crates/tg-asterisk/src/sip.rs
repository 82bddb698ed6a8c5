//! chan_sip (`sip.conf`) and chan_iax2 (`iax.conf`), which share one layout: a `[general]`
//! section with defaults, then one section per peer, user or friend. Also the SIP URI and
//! `register =>` syntax the trunk hosts are written in.
//!
//! Defaults from the research notes (§3.1, §3.3): peer/user `context` falls back to
//! `[general]`'s, then `default`; a peer without `host=` is `dynamic`.

use crate::conf::{ConfFile, Section};
use crate::TrunkHost;

/// Peers, users and friends: every real section but `[general]` and `[authentication]`.
pub fn peers(conf: &ConfFile) -> impl Iterator<Item = &Section> {
    conf.objects().filter(|s| {
        !s.name.eq_ignore_ascii_case("general") && !s.name.eq_ignore_ascii_case("authentication")
    })
}

/// `[general]`'s `context`, else `default`.
pub fn general_context(conf: &ConfFile) -> String {
    conf.value("general", "context")
        .map(|e| e.value.clone())
        .unwrap_or_else(|| "default".to_string())
}

/// The context a peer's calls land in.
pub fn context_of(conf: &ConfFile, s: &Section) -> String {
    s.value("context")
        .map(str::to_string)
        .unwrap_or_else(|| general_context(conf))
}

/// Whether a peer registers from anywhere (`host=dynamic`, or no `host=`).
pub fn is_dynamic(s: &Section) -> bool {
    s.value("host")
        .is_none_or(|h| h.eq_ignore_ascii_case("dynamic"))
}

/// The hosts `sip.conf` names: peers' `host=` (not `dynamic`), `outboundproxy=` and
/// `register =>` servers. `accept` as in [`crate::pjsip::trunk_hosts`].
pub fn trunk_hosts<T>(
    conf: &ConfFile,
    mut accept: impl FnMut(&str) -> Option<T>,
) -> Vec<TrunkHost<T>> {
    let mut out = Vec::new();
    for s in conf.objects() {
        for entry in &s.entries {
            let key = entry.key.to_ascii_lowercase();
            let host = match key.as_str() {
                "host" | "outboundproxy" => host_of(&entry.value),
                "register" => register_host(&entry.value),
                _ => None,
            };
            if let Some(host) = host.and_then(&mut accept) {
                out.push(TrunkHost { host, at: entry.at });
            }
        }
    }
    out
}

/// The host of a SIP URI or host spec: `sip:user@host:5060;transport=udp`,
/// `[2001:db8::1]:5060`, `host`. `None` when nothing is left, or it is `dynamic`.
pub fn host_of(spec: &str) -> Option<&str> {
    let mut s = spec.trim().trim_start_matches('<');
    for scheme in ["sips:", "sip:", "SIP:", "SIPS:"] {
        if let Some(rest) = s.strip_prefix(scheme) {
            s = rest;
        }
    }
    let s = s.split([';', '>', '/', '?', ',', ' ']).next().unwrap_or("");
    let s = s.rsplit_once('@').map_or(s, |(_, host)| host);
    let host = if let Some(rest) = s.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else if s.matches(':').count() > 1 {
        s // a bare IPv6 address (or an IPv6 CIDR in `match=`)
    } else {
        s.split(':').next().unwrap_or("")
    };
    let host = host.trim();
    if host.is_empty() || host.eq_ignore_ascii_case("dynamic") {
        return None;
    }
    Some(host)
}

/// The server of `register => [transport://]user[:secret[:authuser]]@host[:port][/exten][~expiry]`.
pub fn register_host(value: &str) -> Option<&str> {
    let v = value.split_once("://").map_or(value, |(_, rest)| rest);
    let (_, host) = v.rsplit_once('@')?;
    let host = host.split(['/', '~']).next().unwrap_or("");
    host_of(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_uris_and_register_lines() {
        assert_eq!(
            host_of("<sip:user@trunk.example:5060;transport=udp>"),
            Some("trunk.example")
        );
        assert_eq!(host_of("[2001:db8::1]:5060"), Some("2001:db8::1"));
        assert_eq!(host_of("2001:db8::/32"), Some("2001:db8::"));
        assert_eq!(host_of("dynamic"), None);
        assert_eq!(host_of(" "), None);
        assert_eq!(
            register_host("tls://user:secret:auth@itsp.example:5061/1234~3600"),
            Some("itsp.example")
        );
        assert_eq!(register_host("no-at-sign"), None);
    }
}
