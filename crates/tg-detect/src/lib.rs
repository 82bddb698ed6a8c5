//! Detectors: one log line in, at most one finding out.
//!
//! A detector never looks beyond the line it is given and does no I/O, so `scan` (offline) and
//! `run` (live) share it unchanged. The offender's address is only ever taken from text the
//! *server* wrote, anchored on the fixed words around it; attacker-controlled text (SIP headers,
//! user names, Call-IDs) can never supply it.

use std::net::IpAddr;

use tg_model::{Kind, Service, Stamp};

/// Why a custom detector could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The pattern is not a valid regex or has no single `<HOST>`.
    #[error("detector {name:?}: {message}")]
    BadPattern {
        /// The detector's name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// What a detector found on one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detection {
    /// The attacked service.
    pub service: Service,
    /// What happened.
    pub kind: Kind,
    /// The offender (canonical form).
    pub ip: IpAddr,
    /// The line's time, if it had one the detector could read.
    pub stamp: Option<Stamp>,
    /// Attempt key for multi-line attempts (see `tg_model::Finding::attempt`).
    pub attempt: Option<u64>,
}

/// The verdict on one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not an attack line (the overwhelming majority).
    Nothing,
    /// An attack with a trustworthy address.
    Found(Detection),
    /// Looks like an attack line but the address cannot be trusted (conflicting candidates,
    /// an address only from a SIP header): no address is reported; the line is counted.
    Suspicious,
}

/// All detectors, built in and custom, ready to run.
#[derive(Clone, Debug, Default)]
pub struct Detectors {}

impl Detectors {
    /// The built-in detectors only.
    pub fn builtin() -> Self {
        Detectors {}
    }

    /// Built-in detectors plus the config's custom ones.
    pub fn with_custom(
        _custom: &[tg_config::detector::CustomDetector],
    ) -> Result<Self, DetectError> {
        Ok(Detectors {})
    }

    /// Examines one line (without its line terminator).
    pub fn detect(&self, _line: &[u8]) -> Outcome {
        Outcome::Nothing
    }
}
