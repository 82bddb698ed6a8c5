//! Which attempt an Asterisk line belongs to (`tg_model::AttemptPart`): what the lines of one
//! attempt share, module by module, as the real server writes them.
//!
//! - **chan_pjsip**: a request that fails writes `Request … failed for '<addr>' (callid: <id>)`
//!   and security events whose `SessionID` is the same Call-ID, all naming the same source
//!   port. An unknown user (or an endpoint refused by its ACL) is challenged through Asterisk's
//!   artificial endpoint: the challenged request and its answer *each* write `No matching
//!   endpoint found` and `InvalidAccountID` (or the ACL pair), then the answer writes `Failed to
//!   authenticate` and `ChallengeResponseFailed`. So the group is source port + Call-ID, every
//!   kind of line joins it, and the unknown-user and ACL lines come twice per attempt.
//!   `svcrack` sends every guess with one Call-ID: each guess still brings its own `Failed to
//!   authenticate`, which no attempt holds twice.
//! - **chan_sip**: a failed REGISTER writes one `Registration from … failed for '<addr:port>' -
//!   <reason>` and one security event of the same kind; its `SessionID` is a recycled pointer,
//!   and the NOTICE carries no Call-ID. The group is source port + kind.
//! - **manager.c** (AMI): a login names its user in every line (`tried to authenticate with
//!   nonexistent user`, then `failed to authenticate as`, and the event's `AccountID`); AMI logs
//!   no port. The group is the user.
//! - A security event is the same text in `messages` and `security`, and the same fields on
//!   AMI: its identity is its event name, `EventTV`, `SessionID` and digest.

use tg_model::{attempt_hash, AttemptPart, Kind, Role};

/// A chan_pjsip request's line (its NOTICE), from the source port and the Call-ID.
pub(crate) fn pjsip_notice(port: Option<u16>, call_id: &[u8], kind: Kind) -> AttemptPart {
    AttemptPart {
        group: pjsip_group(port, call_id),
        role: pjsip_role(Role::module(kind), kind),
        copy_of: None,
    }
}

/// A chan_sip REGISTER or call line (its NOTICE).
pub(crate) fn chan_sip_notice(port: Option<u16>, kind: Kind) -> AttemptPart {
    AttemptPart {
        group: chan_sip_group(port, kind),
        role: Role::module(kind),
        copy_of: None,
    }
}

/// One of manager.c's login lines.
pub(crate) fn ami_notice(user: &[u8], kind: Kind) -> AttemptPart {
    AttemptPart {
        group: ami_group(user),
        role: Role::module(kind),
        copy_of: None,
    }
}

/// The fields of an Asterisk security event that place it in an attempt, as written in a log
/// line (`res_security_log`) or an AMI event: the same values either way.
#[derive(Clone, Copy, Debug)]
pub struct SecurityEventFields<'a> {
    /// `Service` (`PJSIP`, `SIP`, `AMI`, …).
    pub service: &'a [u8],
    /// The event's name (`ChallengeResponseFailed`).
    pub event: &'a [u8],
    /// Its kind (see [`security_event_kind`]).
    pub kind: Kind,
    /// `EventTV`, as written.
    pub event_tv: &'a [u8],
    /// `AccountID`.
    pub account: &'a [u8],
    /// `SessionID` (PJSIP: the Call-ID).
    pub session: &'a [u8],
    /// The port of `RemoteAddress`.
    pub port: u16,
    /// The digest the sender answered with (`Response`, or chan_sip's `ReceivedHash`), empty
    /// when the event has none.
    pub digest: &'a [u8],
}

/// Where a security event stands in an attempt; `None` for services whose events are never
/// logged beside a line of the same attempt.
pub fn security_event_attempt(ev: &SecurityEventFields<'_>) -> Option<AttemptPart> {
    let event = Role::event(ev.kind);
    let (group, role) = match ev.service {
        b"PJSIP" => (
            pjsip_group(Some(ev.port), ev.session),
            pjsip_role(event, ev.kind),
        ),
        b"SIP" => (chan_sip_group(Some(ev.port), ev.kind), event),
        b"AMI" => (ami_group(ev.account), event),
        _ => return None,
    };
    let copy_of = attempt_hash(&[b"event", ev.event, ev.event_tv, ev.session, ev.digest]);
    Some(AttemptPart {
        group,
        role,
        copy_of: Some(copy_of),
    })
}

/// The kind of a security event by its name (and, for `FailedACL`, its `ACLName`); `None` for
/// the events that are no attack (`ChallengeSent`, `SuccessfulAuth`) and unknown names.
pub fn security_event_kind(event: &[u8], acl_name: &[u8]) -> Option<Kind> {
    Some(match event {
        b"InvalidAccountID" => Kind::UnknownAccount,
        // chan_sip's dialling sweep: `Call from … rejected because extension not found`.
        b"FailedACL" if acl_name == b"no_extension_match" => Kind::CallRejected,
        b"FailedACL" | b"InvalidTransport" | b"AuthMethodNotAllowed" => Kind::AclDenied,
        b"SessionLimit" | b"MemoryLimit" | b"LoadAverageLimit" => Kind::Flood,
        b"UnexpectedAddress" => Kind::Other,
        b"ChallengeResponseFailed" | b"InvalidPassword" => Kind::AuthFailure,
        b"RequestBadFormat" | b"RequestNotAllowed" | b"RequestNotSupported" => Kind::BadRequest,
        _ => return None,
    })
}

fn pjsip_group(port: Option<u16>, call_id: &[u8]) -> u64 {
    attempt_hash(&[b"pjsip", &port_bytes(port), call_id])
}

/// Unknown users and ACL refusals go through the artificial endpoint's challenge: the
/// challenged request and its answer both write the line.
fn pjsip_role(role: Role, kind: Kind) -> Role {
    match kind {
        Kind::UnknownAccount | Kind::AclDenied => role.times(2),
        _ => role,
    }
}

fn chan_sip_group(port: Option<u16>, kind: Kind) -> u64 {
    attempt_hash(&[b"chan_sip", &port_bytes(port), &[kind.index()]])
}

fn ami_group(user: &[u8]) -> u64 {
    attempt_hash(&[b"ami", user])
}

fn port_bytes(port: Option<u16>) -> [u8; 3] {
    let [hi, lo] = port.unwrap_or(0).to_be_bytes();
    [u8::from(port.is_some()), hi, lo]
}
