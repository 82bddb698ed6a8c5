//! Evidence from the kernel's connection tracking for lines whose text names several candidate
//! addresses (issue #12.1): of the candidates, which one has actually been talking to this
//! host. A decoy the attacker merely wrote into a field never sent a packet, so the kernel
//! tracks no flow from it; the attacker's own request made one.
//!
//! [`Conntrack`] is the daemon's [`tg_engine::Evidence`]. For an ambiguous line it says "this
//! one" only when *exactly one* candidate has a flow, and only for a fresh line; everything
//! else (none or several with a flow, a stale line, a failed query) leaves the line ambiguous:
//! counted as suspicious, nobody banned. A candidate has a flow when the table holds one whose
//! original source is that address, from the source port the line names with it (if it names
//! one), of a protocol the service speaks; a TCP flow must also be *assured* (the kernel saw
//! the three-way handshake complete).
//!
//! The kernel tracks flows in a network namespace only once a rule there uses connection
//! tracking, as every stateful firewall does (tollguard's own `firewall` included). Without one
//! the table is empty: nothing is settled, every ambiguous line stays suspicious.
//!
//! # Bounded cost on the detection thread
//! One ctnetlink dump per address family serves every line for [`SNAPSHOT_TTL`]; a dump must
//! finish within [`DUMP_BUDGET`] or it counts as failed (and a failed family is not asked again
//! before the TTL). An attacker varying its decoys on every line therefore costs at most one
//! dump per family and second.
//!
//! # Freshness
//! The table only says who talks to the host *now* (a closed TCP connection lingers about two
//! minutes, an answered UDP exchange half a minute to two minutes). A line read long after it
//! was written (a backlog after a restart) would be judged against today's flows, which the
//! attacker no longer has and a bystander might: such lines are not judged. A line is fresh when
//! its stamp is within [`FRESH`] of now, read either as UTC or as the host's local time (servers
//! log either); a line without a stamp is not judged.
//!
//! # What a sender of forged source addresses can do
//! Over TCP nothing: without the server's answers it cannot complete a handshake, so it cannot
//! give a decoy an assured flow. Over UDP (SIP, IAX2) it can send a packet with a decoy's
//! address, and the kernel then tracks a flow from the decoy. That makes the decoy a second
//! candidate with a flow, so the line stays ambiguous: the attacker escapes the count of that
//! line, but the decoy is never counted in its place, because the attacker's own request is
//! itself a flow. The decoy would be counted alone only if the attacker's own address had no
//! flow, that is if the attacker sent the logged request from the forged address itself; then
//! the server logged the forged address as the sender, which is the older and wider limit of any
//! log-based ban over UDP (Asterisk answers an unauthenticated REGISTER to whatever address it
//! came from) and not one this evidence adds.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use tg_detect::Suspicion;
use tg_enforce::Flow;
use tg_engine::Evidence;
use tg_jail::LogClock;
use tg_model::Service;

/// How long one dump of a family's table answers for.
pub const SNAPSHOT_TTL: Duration = Duration::from_secs(1);
/// The longest a dump may take.
pub const DUMP_BUDGET: Duration = Duration::from_millis(250);
/// How far a line's stamp may be from now to be judged.
pub const FRESH: Duration = Duration::from_secs(120);

/// One family's table, by original source.
struct Snapshot {
    taken: Instant,
    /// `None`: the dump failed.
    flows: Option<HashMap<IpAddr, Vec<Flow>>>,
}

/// The daemon's evidence: the kernel's connection tracking in the daemon's network namespace.
pub struct Conntrack {
    v4: Option<Snapshot>,
    v6: Option<Snapshot>,
    /// Lists one family's flows; the kernel's, except in tests.
    read: Box<dyn FnMut(bool) -> std::io::Result<Vec<Flow>> + Send>,
    /// Milliseconds since the epoch; the wall clock, except in tests.
    now_ms: Box<dyn Fn() -> i64 + Send>,
    warned: bool,
}

impl Default for Conntrack {
    fn default() -> Self {
        Self::new()
    }
}

impl Conntrack {
    /// Evidence from this network namespace's conntrack table.
    pub fn new() -> Conntrack {
        Conntrack {
            v4: None,
            v6: None,
            read: Box::new(|v6| tg_enforce::tracked_flows(v6, DUMP_BUDGET)),
            now_ms: Box::new(crate::enforcer::now_ms),
            warned: false,
        }
    }

    /// Whether a line stamped `stamp` is recent enough to judge by today's flows.
    fn fresh(&self, stamp: Option<tg_model::Stamp>) -> bool {
        let Some(stamp) = stamp else { return false };
        let now = (self.now_ms)();
        let at = LogClock::new(now).resolve(Some(stamp));
        let fresh = i64::try_from(FRESH.as_millis()).unwrap_or(i64::MAX);
        let offset = local_offset_ms(now);
        (at - now).abs() <= fresh || (at - (now + offset)).abs() <= fresh
    }

    /// The flows from `ip`; `None` when the table could not be read.
    fn flows_of(&mut self, ip: IpAddr) -> Option<&[Flow]> {
        let v6 = ip.is_ipv6();
        let expired = match if v6 { &self.v6 } else { &self.v4 } {
            Some(s) => s.taken.elapsed() >= SNAPSHOT_TTL,
            None => true,
        };
        if expired {
            let flows = match (self.read)(v6) {
                Ok(list) => {
                    let mut by_source: HashMap<IpAddr, Vec<Flow>> = HashMap::new();
                    for f in list {
                        by_source
                            .entry(tg_model::canonical_ip(f.source))
                            .or_default()
                            .push(f);
                    }
                    Some(by_source)
                }
                Err(e) => {
                    if !self.warned {
                        tracing::warn!(
                            "reading the conntrack table failed: {e}; lines naming several \
                             addresses stay suspicious"
                        );
                        self.warned = true;
                    }
                    None
                }
            };
            let snapshot = Snapshot {
                taken: Instant::now(),
                flows,
            };
            if v6 {
                self.v6 = Some(snapshot);
            } else {
                self.v4 = Some(snapshot);
            }
        }
        let snapshot = if v6 { &self.v6 } else { &self.v4 };
        let flows = snapshot.as_ref()?.flows.as_ref()?;
        Some(flows.get(&ip).map_or(&[][..], Vec::as_slice))
    }
}

impl Evidence for Conntrack {
    fn decide(&mut self, s: &Suspicion) -> Option<IpAddr> {
        if s.candidates.more() || !self.fresh(s.stamp) {
            return None;
        }
        let mut with_flow = None;
        for c in s.candidates.as_slice() {
            let flows = self.flows_of(c.ip)?;
            if flows.iter().any(|f| speaks(f, s.service, c.port)) {
                if with_flow.is_some() {
                    tracing::debug!("several candidates of a line have flows: {s:?}");
                    return None;
                }
                with_flow = Some(c.ip);
            }
        }
        if let Some(ip) = with_flow {
            tracing::debug!("conntrack settles {s:?}: {ip}");
        }
        with_flow
    }
}

/// Whether `f` is a flow the sender of a `service` line would have: the protocol the service
/// speaks, from the port the line names (if any), and for TCP a completed handshake.
fn speaks(f: &Flow, service: Service, port: Option<u16>) -> bool {
    const TCP: u8 = 6;
    const UDP: u8 = 17;
    let protocol_ok = match service {
        Service::Ssh | Service::Web | Service::Ftp | Service::Ami => f.protocol == TCP,
        Service::Iax => f.protocol == UDP,
        _ => f.protocol == TCP || f.protocol == UDP,
    };
    let handshake_ok = f.protocol != TCP || f.assured;
    let port_ok = port.is_none_or(|p| f.source_port == Some(p));
    protocol_ok && handshake_ok && port_ok
}

/// The host's UTC offset at `now_ms`, in milliseconds (0 when it cannot be had), from the
/// system's time zone database as jiff reads it.
fn local_offset_ms(now_ms: i64) -> i64 {
    jiff::Timestamp::from_millisecond(now_ms).map_or(0, |t| {
        i64::from(jiff::tz::TimeZone::system().to_offset(t).seconds()) * 1000
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tg_detect::{Detectors, Outcome};

    const NOW: i64 = 1_795_000_000_000;

    fn evidence(flows: Vec<Flow>) -> Conntrack {
        Conntrack {
            v4: None,
            v6: None,
            read: Box::new(move |_| Ok(flows.clone())),
            now_ms: Box::new(|| NOW),
            warned: false,
        }
    }

    fn flow(ip: &str, port: u16, protocol: u8, assured: bool) -> Flow {
        Flow {
            source: ip.parse().unwrap(),
            source_port: Some(port),
            dest_port: Some(5060),
            protocol,
            seen_reply: assured,
            assured,
        }
    }

    /// chan_sip's call line naming `a:pa` and `b:pb`, stamped `at_ms`.
    fn call(a: &str, b: &str, at_ms: i64) -> Suspicion {
        let c = tg_model::civil::Civil::from_unix_ms(at_ms);
        let line = format!("[{} {}] NOTICE[1] chan_sip.c: Call from '1' ({a}) to extension '0' ({b}) to extension '2' rejected because extension not found in context 'default'.", c.date(), c.time());
        match Detectors::builtin().detect(line.as_bytes()) {
            Outcome::Suspicious(s) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn exactly_one_candidate_with_a_flow_is_the_one() {
        let real = flow("198.51.100.7", 5070, 17, false);
        let mut e = evidence(vec![real]);
        let s = call("198.51.100.7:5070", "203.0.113.9:5060", NOW);
        assert_eq!(e.decide(&s), Some("198.51.100.7".parse().unwrap()));
        // The port the line names must be the flow's.
        let s = call("198.51.100.7:5071", "203.0.113.9:5060", NOW);
        assert_eq!(e.decide(&s), None);
    }

    #[test]
    fn two_candidates_with_flows_or_none_or_a_stale_line_settle_nothing() {
        let mut e = evidence(vec![
            flow("198.51.100.7", 5070, 17, false),
            flow("203.0.113.9", 5060, 17, false),
        ]);
        assert_eq!(
            e.decide(&call("198.51.100.7:5070", "203.0.113.9:5060", NOW)),
            None
        );
        let mut e = evidence(vec![]);
        assert_eq!(
            e.decide(&call("198.51.100.7:5070", "203.0.113.9:5060", NOW)),
            None
        );
        let mut e = evidence(vec![flow("198.51.100.7", 5070, 17, false)]);
        let stale = NOW - 3_600_000 * 30;
        assert_eq!(
            e.decide(&call("198.51.100.7:5070", "203.0.113.9:5060", stale)),
            None
        );
    }

    #[test]
    fn a_tcp_flow_counts_only_once_its_handshake_completed() {
        // A forged SYN from the decoy makes an unassured entry: no evidence for it.
        let mut e = evidence(vec![
            flow("198.51.100.7", 5070, 6, true),
            flow("203.0.113.9", 5060, 6, false),
        ]);
        assert_eq!(
            e.decide(&call("198.51.100.7:5070", "203.0.113.9:5060", NOW)),
            Some("198.51.100.7".parse().unwrap())
        );
    }

    #[test]
    fn a_failed_read_settles_nothing() {
        let mut e = evidence(vec![]);
        e.read = Box::new(|_| Err(std::io::Error::other("no netlink")));
        assert_eq!(
            e.decide(&call("198.51.100.7:5070", "203.0.113.9:5060", NOW)),
            None
        );
    }
}
