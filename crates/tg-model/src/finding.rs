//! A finding: one line (or event) that says "this address attacked this service".

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::AttemptPart;

/// The service an attacker went after. This is what jails select on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// SIP, via chan_sip, res_pjsip or a SIP security event.
    Sip,
    /// IAX2 (chan_iax2).
    Iax,
    /// The Asterisk Manager Interface (TCP or HTTP manager).
    Ami,
    /// FreePBX's web GUI / UCP, and HTTP auth in front of it (Apache, nginx).
    Web,
    /// OpenSSH.
    Ssh,
    /// FTP servers (vsftpd, proftpd, pure-ftpd), often used for phone provisioning.
    Ftp,
    /// A user-defined detector from the config.
    Custom,
    /// tollguard's own firewall: the kernel's log lines of senders its SIP flood limit dropped
    /// (a finding from the firewall, not from the attacked program, so it reaches the `flood`
    /// jail and not the `sip` jail's count of failed registrations).
    Firewall,
}

impl Service {
    /// Every service, in a stable order.
    pub const ALL: [Service; 8] = [
        Service::Sip,
        Service::Iax,
        Service::Ami,
        Service::Web,
        Service::Ssh,
        Service::Ftp,
        Service::Custom,
        Service::Firewall,
    ];

    /// The lowercase name used in configs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Sip => "sip",
            Service::Iax => "iax",
            Service::Ami => "ami",
            Service::Web => "web",
            Service::Ssh => "ssh",
            Service::Ftp => "ftp",
            Service::Custom => "custom",
            Service::Firewall => "firewall",
        }
    }

    /// Parses the name written by [`Service::as_str`].
    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the attacker did, as far as one line tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A known account with a wrong password or digest response (brute force).
    AuthFailure,
    /// An account that does not exist (enumeration).
    UnknownAccount,
    /// Refused by an ACL (permit/deny, transport, domain).
    AclDenied,
    /// A call to an extension that does not exist (toll-fraud dialling sweep).
    CallRejected,
    /// A malformed or not-allowed request (fuzzing, privilege probing).
    BadRequest,
    /// A session, call or rate limit was hit (Asterisk's limits, or the firewall's SIP flood
    /// limit dropping the sender's packets).
    Flood,
    /// Anything else a detector counts as hostile.
    Other,
}

impl Kind {
    /// Every kind, in a stable order.
    pub const ALL: [Kind; 7] = [
        Kind::AuthFailure,
        Kind::UnknownAccount,
        Kind::AclDenied,
        Kind::CallRejected,
        Kind::BadRequest,
        Kind::Flood,
        Kind::Other,
    ];

    /// Parses the name written by [`Kind::as_str`].
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The kind's position in [`Kind::ALL`].
    pub fn index(self) -> u8 {
        self as u8
    }

    /// The kebab-case name used in configs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::AuthFailure => "auth-failure",
            Kind::UnknownAccount => "unknown-account",
            Kind::AclDenied => "acl-denied",
            Kind::CallRejected => "call-rejected",
            Kind::BadRequest => "bad-request",
            Kind::Flood => "flood",
            Kind::Other => "other",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One hostile act by one address, at one time (on the log's clock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Unix time in milliseconds, taken from the log line (or the previous line's time).
    pub time_ms: i64,
    /// The attacked service.
    pub service: Service,
    /// What happened.
    pub kind: Kind,
    /// The offender, in canonical form (IPv4-mapped IPv6 folded to IPv4).
    pub ip: IpAddr,
    /// Where this line stands within an attempt logged as several lines (a PJSIP NOTICE and
    /// its security events, the same event in two files, AMI's two lines for one login); `None`
    /// when every such line is an attempt of its own. Attacker-chosen text may feed it: it can
    /// only merge or split the attacker's *own* findings, never move them to another address.
    pub attempt: Option<AttemptPart>,
}

/// A time read from a log line, before the year is known.
///
/// Syslog and Asterisk's default `dateformat` (`%b %e %T`) omit the year; the jail's clock
/// supplies it (see `tg_jail::LogClock`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    /// A complete time: Unix milliseconds (UTC, or local time read as UTC when the log has no zone).
    Absolute(i64),
    /// Month (1–12), day (1–31) and milliseconds since midnight, without a year.
    NoYear {
        /// 1–12.
        month: u8,
        /// 1–31.
        day: u8,
        /// 0..86_400_000.
        ms_of_day: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_index_is_its_place_in_all_and_its_name_reads_back() {
        for (i, k) in Kind::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(k.index()), i);
            assert_eq!(Kind::from_name(k.as_str()), Some(k));
        }
        assert_eq!(Kind::from_name("Flood"), None);
    }

    #[test]
    fn every_service_name_reads_back() {
        for s in Service::ALL {
            assert_eq!(Service::from_name(s.as_str()), Some(s));
        }
        let mut names: Vec<&str> = Service::ALL.iter().map(|s| s.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Service::ALL.len());
        assert_eq!(Service::from_name("firewall"), Some(Service::Firewall));
        assert_eq!(Service::from_name("Firewall"), None);
    }
}
