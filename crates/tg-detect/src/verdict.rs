//! The internal result of a family detector, and the candidate set that decides between one
//! trustworthy address and "suspicious".

use std::net::IpAddr;

use tg_model::{AttemptPart, Kind, Service};

/// What a family detector concluded about one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not this family, or not an attack.
    Nothing,
    /// This family's attack shape, but no trustworthy address.
    Suspicious,
    /// An attack with its address.
    Hit(Hit),
}

/// An attack with a trustworthy address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub service: Service,
    pub kind: Kind,
    pub ip: IpAddr,
    /// Where the line stands in an attempt logged as several lines (see `crate::attempt`).
    pub attempt: Option<AttemptOf>,
}

/// How a hit joins others into one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AttemptOf {
    /// As the part says.
    Part(AttemptPart),
    /// Every line of the address in the same second is one count (the firewall's flood drops:
    /// the kernel logs a burst of packets, not a number of attempts).
    Second,
}

impl Verdict {
    pub(crate) fn hit(service: Service, kind: Kind, ip: IpAddr) -> Self {
        Verdict::Hit(Hit {
            service,
            kind,
            ip,
            attempt: None,
        })
    }

    pub(crate) fn with_attempt(self, attempt: AttemptOf) -> Self {
        match self {
            Verdict::Hit(h) => Verdict::Hit(Hit {
                attempt: Some(attempt),
                ..h
            }),
            other => other,
        }
    }

    /// [`Verdict::with_attempt`] for a part.
    pub(crate) fn in_attempt(self, part: AttemptPart) -> Self {
        self.with_attempt(AttemptOf::Part(part))
    }
}

/// Every place in a line where the shape's fixed text surrounds a valid address.
///
/// The true address is always among the candidates, because the server wrote the fixed text
/// around it. Attacker text can add candidates but never remove the true one; so one distinct
/// address is the true one, and two distinct addresses mean we cannot tell which is true.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Candidates {
    found: Option<IpAddr>,
    conflict: bool,
}

impl Candidates {
    pub(crate) fn add(&mut self, ip: IpAddr) {
        match self.found {
            None => self.found = Some(ip),
            Some(prev) if prev != ip => self.conflict = true,
            Some(_) => {}
        }
    }

    /// A hit for the one address; `Suspicious` for none or several (the shape matched).
    pub(crate) fn verdict(self, service: Service, kind: Kind) -> Verdict {
        match self.found {
            Some(ip) if !self.conflict => Verdict::hit(service, kind, ip),
            _ => Verdict::Suspicious,
        }
    }
}
