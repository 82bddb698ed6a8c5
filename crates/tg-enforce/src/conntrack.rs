//! Forgetting banned sources' connection-tracking entries, so a flow the kernel already tracks
//! (an established UDP SIP "call", a NAT binding) does not outlive the ban. The drop chains run
//! before any `ct state established accept` and stop the packets anyway; deleting the entries
//! also ends flows that a host's own earlier-priority rules would accept, and frees the table.
//!
//! How: ctnetlink, directly (no `conntrack` process), on the netlink layer shared with the
//! ban-set writer ([`tg_nft::netlink`]). Finding a source's entries needs a dump of
//! the conntrack table — the kernel walks its whole hash (262,144 buckets here, 10–20 ms), and
//! the `conntrack -D -s ADDR` tool does one such walk *per address*. Here one pass does one
//! dump per address family for any number of banned sources, then deletes each matching entry
//! by its exact tuple (a hash lookup).
//!
//! When: off the ban path. [`Conntrack::forget`] hands the addresses to a worker thread and
//! returns at once, so a ban's latency is the nft transaction alone. The worker coalesces: the
//! first pass after a quiet spell starts immediately, later ones at most one per
//! [`MIN_SPACING`], each covering every address banned meanwhile — during a flood of thousands
//! of bans that is one dump a second, not one per ban. Dropping the enforcer finishes the
//! pending pass first (so a short-lived process still clears what it banned).
//!
//! Reading, too: [`tracked_flows`] lists the table's flows by their original source, port,
//! protocol and whether the kernel saw them answered and (TCP) completed, for the daemon's
//! evidence about lines that name several candidate addresses (`tg_daemon::evidence`). One dump
//! per family, within a time budget; a dump that overruns it is an error, never a wait.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The shortest time between the starts of two passes.
pub(crate) const MIN_SPACING: Duration = Duration::from_secs(1);

/// The handle the enforcers hold: a channel to the worker.
#[derive(Debug)]
pub(crate) struct Conntrack {
    tx: Option<Sender<Vec<IpNet>>>,
    worker: Option<JoinHandle<()>>,
}

impl Conntrack {
    pub(crate) fn start() -> Conntrack {
        let (tx, rx) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("tg-conntrack".into())
            .spawn(move || worker(rx));
        match worker {
            Ok(handle) => Conntrack {
                tx: Some(tx),
                worker: Some(handle),
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the conntrack worker: banned sources' tracked flows will not be cleared");
                Conntrack {
                    tx: None,
                    worker: None,
                }
            }
        }
    }

    /// Schedules the deletion of every entry whose original source is one of `ips` (an
    /// address, or any address of a prefix).
    pub(crate) fn forget(&self, ips: &[IpNet]) {
        if let (Some(tx), false) = (&self.tx, ips.is_empty()) {
            let _ = tx.send(ips.to_vec());
        }
    }
}

impl Drop for Conntrack {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

fn worker(rx: Receiver<Vec<IpNet>>) {
    let mut last_pass: Option<Instant> = None;
    let mut open = true;
    while open {
        let Ok(first) = rx.recv() else { return };
        let mut pending: HashSet<IpNet> = first.into_iter().collect();
        // Wait out the spacing, gathering what else gets banned meanwhile.
        let start_at = last_pass.map_or_else(Instant::now, |t| t + MIN_SPACING);
        loop {
            let now = Instant::now();
            let wait = start_at.saturating_duration_since(now);
            match rx.recv_timeout(wait) {
                Ok(more) => pending.extend(more),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        while let Ok(more) = rx.try_recv() {
            pending.extend(more);
        }
        last_pass = Some(Instant::now());
        match forget_now(&pending) {
            Ok(deleted) => tracing::debug!(
                sources = pending.len(),
                deleted,
                "conntrack entries of banned sources cleared"
            ),
            Err(e) => {
                tracing::warn!(error = %e, sources = pending.len(), "clearing conntrack entries of banned sources failed")
            }
        }
    }
}

/// One pass: dump each family that has a banned source, delete the matching entries; returns
/// how many were deleted.
pub(crate) fn forget_now(ips: &HashSet<IpNet>) -> io::Result<usize> {
    let mut deleted = 0;
    let hosts: HashSet<IpAddr> = ips
        .iter()
        .filter(|n| tg_model::is_host(**n))
        .map(IpNet::addr)
        .collect();
    let nets: Vec<IpNet> = ips
        .iter()
        .copied()
        .filter(|n| !tg_model::is_host(*n))
        .collect();
    let banned = |ip: &IpAddr| hosts.contains(ip) || nets.iter().any(|n| n.contains(ip));
    for (family, wanted) in [
        (libc::AF_INET, ips.iter().any(|n| n.addr().is_ipv4())),
        (libc::AF_INET6, ips.iter().any(|n| n.addr().is_ipv6())),
    ] {
        if !wanted {
            continue;
        }
        let mut socket = netlink::Socket::open()?;
        let entries = socket.dump_conntrack(family as u8)?;
        for entry in entries.iter().filter(|e| banned(&e.source)) {
            // An entry may time out between the dump and here: ENOENT is fine.
            match socket.delete_conntrack(family as u8, &entry.key) {
                Ok(()) => deleted += 1,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(deleted)
}

pub(crate) use netlink::parse_entry;

/// One tracked flow: its original source and the attributes that name it exactly.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) source: IpAddr,
    /// `CTA_TUPLE_ORIG` (and `CTA_ZONE` if any), as the kernel sent them.
    pub(crate) key: Vec<u8>,
    /// What the kernel knows of the flow's original direction.
    pub(crate) flow: Flow,
}

/// A flow the kernel tracks, by its original direction (who started it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    /// The address that sent the first packet.
    pub source: IpAddr,
    /// Its source port (TCP, UDP, SCTP, …), if the protocol has ports.
    pub source_port: Option<u16>,
    /// Its destination port, likewise.
    pub dest_port: Option<u16>,
    /// The IP protocol number (6 TCP, 17 UDP).
    pub protocol: u8,
    /// The kernel saw an answer (`IPS_SEEN_REPLY`).
    pub seen_reply: bool,
    /// The kernel holds it for an established exchange (`IPS_ASSURED`): for TCP, the
    /// three-way handshake completed, which a sender of forged source addresses cannot do.
    pub assured: bool,
}

/// Every flow the kernel tracks for IPv4 (`v6 == false`) or IPv6 in this network namespace,
/// read in one ctnetlink dump that must finish within `budget` (else `TimedOut`).
pub fn tracked_flows(v6: bool, budget: std::time::Duration) -> io::Result<Vec<Flow>> {
    let family = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    let mut socket = netlink::Socket::open_with(budget)?;
    let deadline = Instant::now() + budget;
    let entries = socket.dump_conntrack_until(family as u8, Some(deadline))?;
    Ok(entries.into_iter().map(|e| e.flow).collect())
}

mod netlink {
    //! The few ctnetlink messages needed — dump the table, delete one entry — on the shared
    //! netlink layer ([`tg_nft::netlink`]).

    use super::*;
    use tg_nft::netlink::{self as nl, Message, NLMSG_DONE, NLMSG_ERROR};

    pub(crate) use tg_nft::netlink::{attributes, messages};

    const NFNL_SUBSYS_CTNETLINK: u16 = 1;
    const IPCTNL_MSG_CT_GET: u16 = 1;
    const IPCTNL_MSG_CT_DELETE: u16 = 2;
    const CTA_TUPLE_ORIG: u16 = 1;
    const CTA_STATUS: u16 = 3;
    const CTA_TUPLE_PROTO: u16 = 2;
    const CTA_PROTO_NUM: u16 = 1;
    const CTA_PROTO_SRC_PORT: u16 = 2;
    const CTA_PROTO_DST_PORT: u16 = 3;
    const IPS_SEEN_REPLY: u32 = 1 << 1;
    const IPS_ASSURED: u32 = 1 << 2;
    const CTA_ZONE: u16 = 18;
    const CTA_TUPLE_IP: u16 = 1;
    const CTA_IP_V4_SRC: u16 = 1;
    const CTA_IP_V6_SRC: u16 = 3;
    /// A reply that never comes must not hang the worker forever.
    const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

    pub(crate) struct Socket(nl::Socket);

    impl Socket {
        pub(crate) fn open() -> io::Result<Socket> {
            Self::open_with(REPLY_TIMEOUT)
        }

        /// A socket whose every read gives up after `timeout`.
        pub(crate) fn open_with(timeout: Duration) -> io::Result<Socket> {
            nl::Socket::open(nl::NETLINK_NETFILTER, timeout).map(Socket)
        }

        fn send(&mut self, msg_type: u16, flags: u16, family: u8, attrs: &[u8]) -> io::Result<u32> {
            let seq = self.0.next_seq();
            let mut msg = Vec::with_capacity(nl::NFNL_HDRLEN + attrs.len());
            let start = nl::begin_message(
                &mut msg,
                (NFNL_SUBSYS_CTNETLINK << 8) | msg_type,
                flags,
                seq,
                family,
                0,
            );
            msg.extend_from_slice(attrs);
            nl::end_message(&mut msg, start);
            self.0.send(&msg)?;
            Ok(seq)
        }

        /// Every tracked flow of `family` (AF_INET or AF_INET6) in this network namespace.
        pub(crate) fn dump_conntrack(&mut self, family: u8) -> io::Result<Vec<Entry>> {
            self.dump_conntrack_until(family, None)
        }

        /// [`Socket::dump_conntrack`], given up (`TimedOut`) once `deadline` has passed.
        pub(crate) fn dump_conntrack_until(
            &mut self,
            family: u8,
            deadline: Option<Instant>,
        ) -> io::Result<Vec<Entry>> {
            let seq = self.send(
                IPCTNL_MSG_CT_GET,
                nl::NLM_F_REQUEST | nl::NLM_F_DUMP,
                family,
                &[],
            )?;
            let mut buf = vec![0u8; 64 * 1024];
            let mut entries = Vec::new();
            loop {
                let n = self.0.recv(&mut buf)?;
                let mut done = false;
                for msg in messages(&buf[..n]).into_iter().filter(|m| m.seq == seq) {
                    match msg.msg_type {
                        NLMSG_DONE => done = true,
                        NLMSG_ERROR => check(&msg)?,
                        _ => entries.extend(parse_entry(msg.payload)),
                    }
                }
                if done || n == 0 {
                    return Ok(entries);
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "conntrack dump over its time budget",
                    ));
                }
            }
        }

        /// Deletes the one entry named by `key` and waits for the kernel's answer.
        pub(crate) fn delete_conntrack(&mut self, family: u8, key: &[u8]) -> io::Result<()> {
            let seq = self.send(
                IPCTNL_MSG_CT_DELETE,
                nl::NLM_F_REQUEST | nl::NLM_F_ACK,
                family,
                key,
            )?;
            let mut buf = vec![0u8; 8 * 1024];
            loop {
                let n = self.0.recv(&mut buf)?;
                if let Some(msg) = messages(&buf[..n])
                    .into_iter()
                    .find(|m| m.seq == seq && m.msg_type == NLMSG_ERROR)
                {
                    return check(&msg);
                }
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "netlink closed",
                    ));
                }
            }
        }
    }

    /// An `NLMSG_ERROR` message as a result (code 0 is an acknowledgement).
    fn check(msg: &Message<'_>) -> io::Result<()> {
        match nl::parse_ack(msg).errno {
            0 => Ok(()),
            errno => Err(io::Error::from_raw_os_error(errno)),
        }
    }

    /// A conntrack message (payload after nlmsghdr) → its original source and delete key.
    pub(crate) fn parse_entry(payload: &[u8]) -> Option<Entry> {
        let attrs = attributes(payload.get(4..)?);
        let orig = attrs.iter().find(|a| a.attr_type == CTA_TUPLE_ORIG)?;
        let ip = attributes(orig.value)
            .into_iter()
            .find(|a| a.attr_type == CTA_TUPLE_IP)?;
        let source =
            attributes(ip.value)
                .into_iter()
                .find_map(|a| match (a.attr_type, a.value.len()) {
                    (CTA_IP_V4_SRC, 4) => <[u8; 4]>::try_from(a.value)
                        .ok()
                        .map(|v| IpAddr::V4(Ipv4Addr::from(v))),
                    (CTA_IP_V6_SRC, 16) => <[u8; 16]>::try_from(a.value)
                        .ok()
                        .map(|v| IpAddr::V6(Ipv6Addr::from(v))),
                    _ => None,
                })?;
        let proto = attributes(orig.value)
            .into_iter()
            .find(|a| a.attr_type == CTA_TUPLE_PROTO);
        let proto_attrs = proto.map(|p| attributes(p.value)).unwrap_or_default();
        let port = |ty: u16| {
            proto_attrs
                .iter()
                .find(|a| a.attr_type == ty)
                .and_then(|a| <[u8; 2]>::try_from(a.value).ok())
                .map(u16::from_be_bytes)
        };
        let status = attrs
            .iter()
            .find(|a| a.attr_type == CTA_STATUS)
            .and_then(|a| <[u8; 4]>::try_from(a.value).ok())
            .map_or(0, u32::from_be_bytes);
        let flow = Flow {
            source,
            source_port: port(CTA_PROTO_SRC_PORT),
            dest_port: port(CTA_PROTO_DST_PORT),
            protocol: proto_attrs
                .iter()
                .find(|a| a.attr_type == CTA_PROTO_NUM)
                .and_then(|a| a.value.first().copied())
                .unwrap_or(0),
            seen_reply: status & IPS_SEEN_REPLY != 0,
            assured: status & IPS_ASSURED != 0,
        };
        let mut key = Vec::with_capacity(nl::align(orig.whole.len()) + 8);
        key.extend_from_slice(orig.whole);
        key.resize(nl::align(key.len()), 0);
        if let Some(zone) = attrs.iter().find(|a| a.attr_type == CTA_ZONE) {
            key.extend_from_slice(zone.whole);
            key.resize(nl::align(key.len()), 0);
        }
        Some(Entry { source, key, flow })
    }
}

#[cfg(test)]
mod tests {
    use super::netlink::*;
    use super::*;

    fn attr(ty: u16, value: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&ty.to_ne_bytes());
        a.extend_from_slice(value);
        a.resize((a.len() + 3) & !3, 0);
        a
    }

    fn entry_payload(src: &[u8], src_type: u16) -> Vec<u8> {
        let ip = attr(0x8000 | 1, &attr(src_type, src));
        let orig = attr(0x8000 | 1, &ip);
        let mut p = vec![2, 0, 0, 0]; // nfgenmsg
        p.extend(orig);
        p.extend(attr(3, &[0, 0, 0, 1])); // CTA_STATUS: expected only
        p
    }

    #[test]
    fn entries_yield_their_original_source_and_exact_key() {
        let p = entry_payload(&[198, 51, 100, 7], 1);
        let e = parse_entry(&p).unwrap();
        assert_eq!(e.source, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(
            e.key,
            p[4..4 + 16].to_vec(),
            "the CTA_TUPLE_ORIG attribute, verbatim"
        );
        let v6: [u8; 16] = "2001:db8::7".parse::<Ipv6Addr>().unwrap().octets();
        assert_eq!(
            parse_entry(&entry_payload(&v6, 3)).unwrap().source,
            "2001:db8::7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn flows_carry_protocol_ports_and_status() {
        let ip = attr(0x8000 | 1, &attr(1, &[198, 51, 100, 7]));
        let mut proto = attr(1, &[6]);
        proto.extend(attr(2, &50250u16.to_be_bytes()));
        proto.extend(attr(3, &22u16.to_be_bytes()));
        let mut tuple = ip;
        tuple.extend(attr(0x8000 | 2, &proto));
        let mut p = vec![2, 0, 0, 0];
        p.extend(attr(0x8000 | 1, &tuple));
        p.extend(attr(3, &(0b110u32).to_be_bytes())); // SEEN_REPLY | ASSURED
        let f = parse_entry(&p).unwrap().flow;
        assert_eq!(
            f,
            Flow {
                source: "198.51.100.7".parse().unwrap(),
                source_port: Some(50250),
                dest_port: Some(22),
                protocol: 6,
                seen_reply: true,
                assured: true,
            }
        );
        let bare = parse_entry(&entry_payload(&[198, 51, 100, 7], 1))
            .unwrap()
            .flow;
        assert_eq!(
            (bare.protocol, bare.source_port, bare.assured),
            (0, None, false)
        );
    }

    #[test]
    fn malformed_netlink_data_is_skipped_not_trusted() {
        assert!(parse_entry(&[]).is_none());
        assert!(
            parse_entry(&entry_payload(&[1, 2, 3], 1)).is_none(),
            "a 3-byte IPv4 address"
        );
        let mut p = entry_payload(&[198, 51, 100, 7], 1);
        p[4] = 200; // the first attribute claims more bytes than there are
        assert!(parse_entry(&p).is_none());
        assert!(messages(&[0xff; 7]).is_empty());
        let mut msg = vec![0u8; 16];
        msg[..4].copy_from_slice(&4000u32.to_ne_bytes());
        assert!(messages(&msg).is_empty(), "a length past the buffer");
    }
}
