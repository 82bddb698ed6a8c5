//! res_pjsip (`pjsip.conf` and, on FreePBX, its `pjsip.*.conf` includes): objects by `type=`,
//! what an endpoint lands in and authenticates with, which endpoints are identified by source
//! address, and the hosts its trunks name.
//!
//! Behaviour from the research notes (§3.2): authentication is only required when the
//! endpoint has an `auth=`; a request matching no endpoint goes to `anonymous` when it
//! exists; endpoint `context` defaults to `default`.

use std::collections::HashSet;

use crate::conf::{ConfFile, Section};
use crate::sip::host_of;
use crate::TrunkHost;

/// The real objects of a `type=` (`endpoint`, `auth`, `aor`, `identify`, `acl`…).
pub fn of_type<'a>(conf: &'a ConfFile, ty: &'a str) -> impl Iterator<Item = &'a Section> + 'a {
    conf.objects()
        .filter(move |s| s.value("type").is_some_and(|t| t.eq_ignore_ascii_case(ty)))
}

/// The context an endpoint's calls land in (`default` when unset).
pub fn context_of(s: &Section) -> String {
    s.value("context").unwrap_or("default").to_string()
}

/// The `auth=` objects an endpoint authenticates with; empty: it does not authenticate.
pub fn auth_refs(s: &Section) -> Vec<String> {
    s.value("auth")
        .map(|v| {
            v.split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Endpoints identified by source address (lower-cased names). An `identify` that matches
/// only on a header (`match_header`) or the request URI does not count: the sender writes
/// those.
pub fn identified(conf: &ConfFile) -> HashSet<String> {
    of_type(conf, "identify")
        .filter(|s| s.get("match").is_some_and(|m| !m.value.is_empty()))
        .filter_map(|s| s.value("endpoint"))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Whether an endpoint is the one unmatched requests go to (`anonymous`, `anonymous@…`).
pub fn is_anonymous(s: &Section) -> bool {
    let n = s.name.to_ascii_lowercase();
    n == "anonymous" || n.starts_with("anonymous@")
}

/// The hosts `pjsip.conf` names for trunks: AOR `contact`s and `outbound_proxy`, `identify`
/// `match`es (addresses, networks, names), registration `server_uri` and `outbound_proxy`,
/// endpoint `outbound_proxy`. `accept` turns a host's text into the caller's type, `None`
/// when it is not a host the caller takes.
pub fn trunk_hosts<T>(
    conf: &ConfFile,
    mut accept: impl FnMut(&str) -> Option<T>,
) -> Vec<TrunkHost<T>> {
    let mut out = Vec::new();
    for s in conf.objects() {
        let ty = s.value("type").unwrap_or("").to_ascii_lowercase();
        let keys: &[&str] = match ty.as_str() {
            "aor" => &["contact", "outbound_proxy"],
            "identify" => &["match"],
            "registration" => &["server_uri", "outbound_proxy"],
            "endpoint" => &["outbound_proxy"],
            _ => continue,
        };
        for key in keys {
            for entry in s.all(key) {
                for part in entry.value.split(',') {
                    // `match=` also takes networks, which `host_of` would cut at the slash.
                    let host = accept(part.trim()).or_else(|| host_of(part).and_then(&mut accept));
                    if let Some(host) = host {
                        out.push(TrunkHost { host, at: entry.at });
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::parse_for_test;

    #[test]
    fn header_only_identify_does_not_authenticate() {
        let conf = parse_for_test(
            "/etc/asterisk/pjsip.conf",
            b"[a]\ntype=identify\nendpoint=trunk-a\nmatch=203.0.113.5\n\
              [b]\ntype=identify\nendpoint=trunk-b\nmatch_header=X-Trunk: b\n",
        );
        let ids = identified(&conf);
        assert!(ids.contains("trunk-a"));
        assert!(!ids.contains("trunk-b"));
    }
}
