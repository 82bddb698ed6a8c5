//! Custom `[[detector]]` patterns from the config: a regex with one `<HOST>`.
//!
//! Anchoring discipline: the pattern is matched against the *message* (the text after the prefix
//! tollguard recognised), anchored at its start, so the fixed words the user writes before
//! `<HOST>` must be the first words the server prints. A pattern starting with `^` is matched
//! against the whole line, anchored at its start. Either way nothing earlier in the line than
//! the user's own fixed text can supply the address.
//!
//! Bounded time: the `regex` crate matches in time linear in the line (finite automata, no
//! backtracking), and we cap the compiled size, so a hostile line cannot stall the detector.

use std::net::IpAddr;
use std::sync::Arc;

use regex::bytes::{Regex, RegexBuilder};
use tg_config::detector::CustomDetector;
use tg_model::{Kind, Service};

use crate::addr::{self, Port};
use crate::DetectError;

/// What `<HOST>` becomes: a bracketed IPv6 with optional port, or an IPv4/IPv6 address with an
/// optional port (only IPv4 takes an unbracketed port; see `addr::Port::Optional`).
const HOST_GROUP: &str = r"(?P<host>\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?|[0-9A-Fa-f:.]+)";

/// Compiled-program size cap: generous for any sane pattern, small enough to refuse a blow-up.
const SIZE_LIMIT: usize = 2 << 20;

/// One compiled custom detector.
#[derive(Clone, Debug)]
pub(crate) struct Custom {
    name: Arc<str>,
    service: Service,
    kind: Kind,
    regex: Regex,
    whole_line: bool,
}

impl Custom {
    pub(crate) fn compile(d: &CustomDetector) -> Result<Self, DetectError> {
        let bad = |message: String| DetectError::BadPattern {
            name: d.name.clone(),
            message,
        };
        let pattern = d.pattern.get_ref();
        let n = pattern.matches("<HOST>").count();
        if n != 1 {
            return Err(bad(format!(
                "the pattern must contain <HOST> exactly once (found {n})"
            )));
        }
        let service = Service::from_name(&d.service)
            .ok_or_else(|| bad(format!("unknown service {:?}", d.service)))?;
        let kind = Kind::from_name(&d.kind).ok_or_else(|| {
            bad(format!(
                "unknown kind {:?} (use auth-failure, unknown-account, acl-denied, \
                 call-rejected, bad-request, flood or other)",
                d.kind
            ))
        })?;
        let whole_line = pattern.starts_with('^');
        let body = pattern.strip_prefix('^').unwrap_or(pattern);
        let source = format!("^(?:{})", body.replace("<HOST>", HOST_GROUP));
        let regex = RegexBuilder::new(&source)
            .size_limit(SIZE_LIMIT)
            .dfa_size_limit(SIZE_LIMIT)
            .build()
            .map_err(|e| bad(format!("invalid regular expression: {e}")))?;
        Ok(Custom {
            name: Arc::from(d.name.as_str()),
            service,
            kind,
            regex,
            whole_line,
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The service, kind and address when the pattern matches this line.
    pub(crate) fn matches(&self, line: &[u8], message: &[u8]) -> Option<(Service, Kind, IpAddr)> {
        let hay = if self.whole_line { line } else { message };
        let caps = self.regex.captures(hay)?;
        let host = caps.name("host")?.as_bytes();
        let ip = addr::host_port(host, Port::Optional)?;
        Some((self.service, self.kind, ip))
    }
}
