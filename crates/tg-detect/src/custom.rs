//! Custom `[[detector]]` patterns from the config: a regex with one `<HOST>`.
//!
//! Anchoring discipline: the pattern is matched against the *message* (the text after the prefix
//! tollguard recognised), anchored at its start, so the fixed words the user writes before
//! `<HOST>` must be the first words the server prints. A pattern starting with `^` is matched
//! against the whole line, anchored at its start. Either way nothing earlier in the line than
//! the user's own fixed text can supply the address.
//!
//! Bounded time: the `regex` crate matches in time linear in the line (finite automata, no
//! backtracking), and tg-config caps the compiled size, so a hostile line cannot stall the
//! detector. The pattern rules (`<HOST>`, service, kind, anchoring) are tg-config's
//! `CustomDetector::compile`, which config validation runs too.

use std::net::IpAddr;
use std::sync::Arc;

use regex::bytes::Regex;
use tg_config::detector::CustomDetector;
use tg_model::{Kind, Service};

use crate::addr::{self, Port};
use crate::DetectError;

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
    /// Compiled by tg-config's rules ([`CustomDetector::compile`]), which config validation
    /// applies too: this fails only for a detector that did not come from a validated config.
    pub(crate) fn compile(d: &CustomDetector) -> Result<Self, DetectError> {
        let compiled = d.compile().map_err(|e| DetectError::BadPattern {
            name: d.name.clone(),
            message: e.to_string(),
        })?;
        Ok(Custom {
            name: Arc::from(d.name.as_str()),
            service: compiled.service,
            kind: compiled.kind,
            regex: compiled.regex,
            whole_line: compiled.whole_line,
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
