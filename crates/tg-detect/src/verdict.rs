//! The internal result of a family detector, and the candidate set that decides between one
//! trustworthy address and "suspicious".

use std::net::IpAddr;

use tg_model::{AttemptPart, Kind, Service};

/// What a family detector concluded about one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not this family, or not an attack.
    Nothing,
    /// This family's attack shape, but no trustworthy address: the line names none in a
    /// server-written place (`candidates` empty), or several that its grammar cannot tell apart.
    Suspicious(Doubt),
    /// An attack with its address.
    Hit(Hit),
}

/// A `Suspicious` verdict: what the line would be, and the addresses it could be about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Doubt {
    pub service: Service,
    pub kind: Kind,
    pub candidates: crate::Addrs,
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

    /// An attack line without any address the server wrote.
    pub(crate) fn suspicious(service: Service, kind: Kind) -> Self {
        Verdict::Suspicious(Doubt {
            service,
            kind,
            candidates: crate::Addrs::default(),
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
/// address is the true one, and two distinct addresses mean the text alone cannot tell which is
/// true: the line is `Suspicious` and carries them, for `scan` to report and for the daemon to
/// weigh against evidence from outside the line (`tg_engine::step`).
///
/// Where a family's grammar says which placement is the server's (the first, when only server
/// text precedes the address; the last, when only server text follows it), the family takes
/// that one and uses this set only for the placements its grammar cannot order.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Candidates {
    addrs: crate::Addrs,
}

impl Candidates {
    /// One more placement: `ip`, with the source port the line gives for it, if any.
    pub(crate) fn add(&mut self, ip: IpAddr, port: Option<u16>) {
        self.addrs.add(ip, port);
    }

    /// No placement yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// How many distinct addresses were added (at most `MAX_CANDIDATES + 1`).
    pub(crate) fn distinct(&self) -> usize {
        self.addrs.as_slice().len() + usize::from(self.addrs.more())
    }

    /// `Suspicious` with these candidates, however many (for placements the grammar rejected).
    pub(crate) fn doubt(self, service: Service, kind: Kind) -> Verdict {
        Verdict::Suspicious(Doubt {
            service,
            kind,
            candidates: self.addrs,
        })
    }

    /// A hit for the one address; `Suspicious` for none or several (the shape matched).
    pub(crate) fn verdict(self, service: Service, kind: Kind) -> Verdict {
        match self.addrs.as_slice() {
            [one] => Verdict::hit(service, kind, one.ip),
            _ => Verdict::Suspicious(Doubt {
                service,
                kind,
                candidates: self.addrs,
            }),
        }
    }
}
