//! `[trusted]`: sources that are never banned, whatever the logs say.

use std::net::IpAddr;
use std::ops::Range;

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use crate::{problem_at, Problem, Secs};

/// `[trusted]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrustedConfig {
    /// Addresses, CIDRs and host names (host names are re-resolved every `refresh`).
    pub addresses: Vec<Spanned<String>>,
    /// How often host names are re-resolved at most (the DNS TTL is honoured when shorter).
    pub refresh: Secs,
    /// Also trust this host's own addresses (on by default).
    pub own_addresses: bool,
}

impl Default for TrustedConfig {
    fn default() -> Self {
        TrustedConfig {
            addresses: Vec::new(),
            refresh: Secs(300),
            own_addresses: true,
        }
    }
}

/// One entry of `trusted.addresses`, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustedEntry {
    /// A network (a single address is a host network).
    Net(IpNet),
    /// A host name to resolve (A and AAAA).
    Name(String),
}

/// Classifies one trusted entry: an address, a CIDR, or a host name.
pub fn classify(entry: &str) -> Result<TrustedEntry, String> {
    let s = entry.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(TrustedEntry::Net(IpNet::from(ip)));
    }
    if s.contains('/') {
        return s
            .parse::<IpNet>()
            .map(|n| TrustedEntry::Net(n.trunc()))
            .map_err(|_| format!("{s:?} is not a valid CIDR"));
    }
    if is_host_name(s) {
        return Ok(TrustedEntry::Name(s.to_ascii_lowercase()));
    }
    Err(format!(
        "{s:?} is neither an address, a CIDR nor a host name"
    ))
}

/// True for a syntactically valid DNS host name (letters, digits, hyphens, dots).
pub fn is_host_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

impl TrustedConfig {
    /// The entries, classified; invalid ones are skipped (validation reports them).
    pub fn entries(&self) -> Vec<TrustedEntry> {
        self.spanned_entries().map(|(entry, _)| entry).collect()
    }

    /// The entries, classified, each with its byte span in the file (for `path:line` in
    /// messages); invalid ones are skipped (validation reports them). The static part every
    /// user of `[trusted]` starts from: `tg_engine::trusted` resolves its names into the jails'
    /// set, the firewall keeps them as names refreshed on their TTLs.
    pub fn spanned_entries(&self) -> impl Iterator<Item = (TrustedEntry, Range<usize>)> + '_ {
        self.addresses
            .iter()
            .filter_map(|e| Some((classify(e.get_ref()).ok()?, e.span())))
    }

    pub(crate) fn validate(&self, text: &str, problems: &mut Vec<Problem>) {
        for entry in &self.addresses {
            if let Err(message) = classify(entry.get_ref()) {
                problems.push(problem_at(text, entry.span(), "trusted.addresses", message));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_entries() {
        assert!(matches!(classify("192.0.2.1"), Ok(TrustedEntry::Net(_))));
        assert!(matches!(
            classify("2001:db8::/32"),
            Ok(TrustedEntry::Net(_))
        ));
        assert_eq!(
            classify("Office.Example.COM"),
            Ok(TrustedEntry::Name("office.example.com".into()))
        );
        assert!(classify("10.0.0.0/33").is_err());
        assert!(classify("300.1.1.1").is_err());
        assert!(classify("bad name!").is_err());
    }
}
