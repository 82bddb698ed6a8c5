//! The one trusted-set builder: `[trusted]` networks as written, host names resolved, and the
//! host's own addresses when the caller has them.
//!
//! It has one failure rule, and the rule is data: [`build`] always returns a set, plus the names
//! that did not resolve ([`Unresolved`], each with its place in the file). What a failure means
//! is the caller's to say: `tollguard scan` refuses to start (exit 2, naming the file and line),
//! the daemon warns, goes on without the name and tries again every `refresh`. The firewall keeps
//! its names as names (resolved on their TTLs by `tg_firewall::dns`) and shares only the static
//! part, [`tg_config::trusted::TrustedConfig::spanned_entries`], which this builder starts from
//! too.

use std::fmt;
use std::net::{IpAddr, ToSocketAddrs};
use std::ops::Range;

use tg_config::trusted::{TrustedConfig, TrustedEntry};
use tg_model::TrustedSet;

/// A trusted set, and the names that are missing from it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trusted {
    /// Networks, resolved names and (when given and configured) the host's own addresses.
    pub set: TrustedSet,
    /// Host names that gave no address, in file order.
    pub unresolved: Vec<Unresolved>,
}

/// A trusted host name that gave no address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unresolved {
    /// The name, lower case.
    pub name: String,
    /// Where the entry stands in the configuration's text (bytes; `tg_config::line_of` gives
    /// the line).
    pub span: Range<usize>,
    /// Why.
    pub reason: Reason,
}

/// Why a name gave no address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The resolver failed (its message).
    Lookup(String),
    /// The resolver answered, with no address.
    NoAddress,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Lookup(e) => f.write_str(e),
            Reason::NoAddress => f.write_str("no address"),
        }
    }
}

/// Builds the trusted set of `cfg`: names through `resolve`, and `own` when
/// `own_addresses` is on (`scan` gives none: its logs may come from another machine).
pub fn build(
    cfg: &TrustedConfig,
    resolve: &dyn Fn(&str) -> Result<Vec<IpAddr>, String>,
    own: &[IpAddr],
) -> Trusted {
    let mut out = Trusted::default();
    for (entry, span) in cfg.spanned_entries() {
        match entry {
            TrustedEntry::Net(net) => out.set.insert(net),
            TrustedEntry::Name(name) => {
                let reason = match resolve(&name) {
                    Ok(addrs) if !addrs.is_empty() => {
                        addrs.into_iter().for_each(|ip| out.set.insert_ip(ip));
                        continue;
                    }
                    Ok(_) => Reason::NoAddress,
                    Err(e) => Reason::Lookup(e),
                };
                out.unresolved.push(Unresolved { name, span, reason });
            }
        }
    }
    if cfg.own_addresses {
        own.iter().for_each(|&ip| out.set.insert_ip(ip));
    }
    out
}

/// Resolves a host name with the system resolver (A and AAAA).
pub fn resolve_system(name: &str) -> Result<Vec<IpAddr>, String> {
    (name, 0u16)
        .to_socket_addrs()
        .map(|addrs| addrs.map(|a| a.ip()).collect())
        .map_err(|e| e.to_string())
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
                Ok(vec!["203.0.113.7".parse().unwrap()])
            },
            &["192.0.2.1".parse().unwrap()],
        )
        .set;
        for ip in ["10.1.2.3", "203.0.113.7", "192.0.2.1"] {
            assert!(set.contains(ip.parse().unwrap()), "{ip}");
        }
        assert!(!set.contains("203.0.113.8".parse().unwrap()));
        let c = cfg("[trusted]\nown_addresses = false\n");
        assert!(
            build(&c, &|_| Ok(Vec::new()), &["192.0.2.1".parse().unwrap()])
                .set
                .is_empty()
        );
    }

    #[test]
    fn a_name_that_gives_no_address_is_reported_with_its_place() {
        let text =
            "[trusted]\naddresses = [\n  \"10.0.0.1\",\n  \"a.invalid\",\n  \"b.invalid\",\n]\n";
        let t = build(
            &cfg(text),
            &|n| match n {
                "a.invalid" => Err("lookup failed".into()),
                _ => Ok(Vec::new()),
            },
            &[],
        );
        assert!(t.set.contains("10.0.0.1".parse().unwrap()));
        let got: Vec<(&str, usize, String)> = t
            .unresolved
            .iter()
            .map(|u| {
                let line = tg_config::line_of(text, u.span.start);
                (u.name.as_str(), line, u.reason.to_string())
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a.invalid", 4, "lookup failed".to_string()),
                ("b.invalid", 5, "no address".to_string())
            ]
        );
    }
}
