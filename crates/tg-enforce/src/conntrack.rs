//! Forgetting banned sources' connection-tracking entries, so a flow the kernel already tracks
//! (an established UDP SIP "call", a NAT binding) does not outlive the ban. The drop chains run
//! before any `ct state established accept` and stop the packets anyway; deleting the entries
//! also ends flows that a host's own earlier-priority rules would accept, and frees the table.
//!
//! How: ctnetlink, directly (no `conntrack` process). Finding a source's entries needs a dump of
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

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The shortest time between the starts of two passes.
pub(crate) const MIN_SPACING: Duration = Duration::from_secs(1);

/// The handle the enforcers hold: a channel to the worker.
#[derive(Debug)]
pub(crate) struct Conntrack {
    tx: Option<Sender<Vec<IpAddr>>>,
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

    /// Schedules the deletion of every entry whose original source is one of `ips`.
    pub(crate) fn forget(&self, ips: &[IpAddr]) {
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

fn worker(rx: Receiver<Vec<IpAddr>>) {
    let mut last_pass: Option<Instant> = None;
    let mut open = true;
    while open {
        let Ok(first) = rx.recv() else { return };
        let mut pending: HashSet<IpAddr> = first.into_iter().collect();
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
pub(crate) fn forget_now(ips: &HashSet<IpAddr>) -> io::Result<usize> {
    let mut deleted = 0;
    for (family, wanted) in [
        (libc::AF_INET, ips.iter().any(IpAddr::is_ipv4)),
        (libc::AF_INET6, ips.iter().any(IpAddr::is_ipv6)),
    ] {
        if !wanted {
            continue;
        }
        let mut socket = netlink::Socket::open()?;
        let entries = socket.dump_conntrack(family as u8)?;
        for entry in entries.iter().filter(|e| ips.contains(&e.source)) {
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

/// One tracked flow: its original source and the attributes that name it exactly.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) source: IpAddr,
    /// `CTA_TUPLE_ORIG` (and `CTA_ZONE` if any), as the kernel sent them.
    pub(crate) key: Vec<u8>,
}

mod netlink {
    //! The few ctnetlink messages needed: dump the table, delete one entry.

    use super::*;

    const NETLINK_NETFILTER: libc::c_int = 12;
    const NFNL_SUBSYS_CTNETLINK: u16 = 1;
    const IPCTNL_MSG_CT_GET: u16 = 1;
    const IPCTNL_MSG_CT_DELETE: u16 = 2;
    const NLM_F_REQUEST: u16 = 1;
    const NLM_F_ACK: u16 = 4;
    const NLM_F_DUMP: u16 = 0x300;
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    const CTA_TUPLE_ORIG: u16 = 1;
    const CTA_ZONE: u16 = 18;
    const CTA_TUPLE_IP: u16 = 1;
    const CTA_IP_V4_SRC: u16 = 1;
    const CTA_IP_V6_SRC: u16 = 3;
    const NLA_TYPE_MASK: u16 = 0x3fff;
    const HEADER: usize = 16 + 4; // nlmsghdr + nfgenmsg

    pub(crate) struct Socket {
        fd: libc::c_int,
        seq: u32,
    }

    impl Drop for Socket {
        fn drop(&mut self) {
            // SAFETY: fd is a socket this struct opened and owns.
            unsafe { libc::close(self.fd) };
        }
    }

    impl Socket {
        pub(crate) fn open() -> io::Result<Socket> {
            // SAFETY: plain socket(2) call; the result is checked.
            let fd = unsafe {
                libc::socket(
                    libc::AF_NETLINK,
                    libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                    NETLINK_NETFILTER,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let socket = Socket { fd, seq: 1 };
            // A reply that never comes must not hang the worker forever.
            let timeout = libc::timeval {
                tv_sec: 5,
                tv_usec: 0,
            };
            // SAFETY: valid fd, pointer and length of a timeval.
            let rc = unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    (&timeout as *const libc::timeval).cast(),
                    std::mem::size_of::<libc::timeval>() as libc::socklen_t,
                )
            };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(socket)
        }

        fn send(&mut self, msg_type: u16, flags: u16, family: u8, attrs: &[u8]) -> io::Result<u32> {
            self.seq = self.seq.wrapping_add(1);
            let len = HEADER + attrs.len();
            let mut msg = Vec::with_capacity(len);
            msg.extend_from_slice(&(len as u32).to_ne_bytes());
            msg.extend_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | msg_type).to_ne_bytes());
            msg.extend_from_slice(&flags.to_ne_bytes());
            msg.extend_from_slice(&self.seq.to_ne_bytes());
            msg.extend_from_slice(&0u32.to_ne_bytes());
            msg.extend_from_slice(&[family, 0, 0, 0]); // nfgenmsg: family, version 0, res_id 0
            msg.extend_from_slice(attrs);
            // SAFETY: sending an owned, initialised buffer on our socket; a zeroed sockaddr_nl
            // with nl_family set addresses the kernel.
            let rc = unsafe {
                let mut to: libc::sockaddr_nl = std::mem::zeroed();
                to.nl_family = libc::AF_NETLINK as libc::sa_family_t;
                libc::sendto(
                    self.fd,
                    msg.as_ptr().cast(),
                    msg.len(),
                    0,
                    (&to as *const libc::sockaddr_nl).cast(),
                    std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(self.seq)
        }

        fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
            // SAFETY: receiving into a buffer we own, within its length.
            let n = unsafe { libc::recv(self.fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(n as usize)
        }

        /// Every tracked flow of `family` (AF_INET or AF_INET6) in this network namespace.
        pub(crate) fn dump_conntrack(&mut self, family: u8) -> io::Result<Vec<Entry>> {
            let seq = self.send(IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, family, &[])?;
            let mut buf = vec![0u8; 64 * 1024];
            let mut entries = Vec::new();
            loop {
                let n = self.recv(&mut buf)?;
                let mut done = false;
                for (msg_type, msg_seq, payload) in messages(&buf[..n]) {
                    if msg_seq != seq {
                        continue;
                    }
                    match msg_type {
                        NLMSG_DONE => done = true,
                        NLMSG_ERROR => {
                            let code = error_code(payload);
                            if code != 0 {
                                return Err(io::Error::from_raw_os_error(-code));
                            }
                        }
                        _ => entries.extend(parse_entry(payload)),
                    }
                }
                if done || n == 0 {
                    return Ok(entries);
                }
            }
        }

        /// Deletes the one entry named by `key` and waits for the kernel's answer.
        pub(crate) fn delete_conntrack(&mut self, family: u8, key: &[u8]) -> io::Result<()> {
            let seq = self.send(IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, family, key)?;
            let mut buf = vec![0u8; 8 * 1024];
            loop {
                let n = self.recv(&mut buf)?;
                for (msg_type, msg_seq, payload) in messages(&buf[..n]) {
                    if msg_seq == seq && msg_type == NLMSG_ERROR {
                        let code = error_code(payload);
                        return if code == 0 {
                            Ok(())
                        } else {
                            Err(io::Error::from_raw_os_error(-code))
                        };
                    }
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

    fn align(n: usize) -> usize {
        (n + 3) & !3
    }

    fn u16_at(b: &[u8], at: usize) -> Option<u16> {
        b.get(at..at + 2).map(|s| u16::from_ne_bytes([s[0], s[1]]))
    }

    fn u32_at(b: &[u8], at: usize) -> Option<u32> {
        b.get(at..at + 4)
            .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
    }

    /// The netlink messages in a buffer: (type, sequence, payload after nlmsghdr). Stops at
    /// anything malformed rather than trusting a length.
    pub(crate) fn messages(buf: &[u8]) -> Vec<(u16, u32, &[u8])> {
        let mut out = Vec::new();
        let mut at = 0;
        while let (Some(len), Some(ty), Some(seq)) =
            (u32_at(buf, at), u16_at(buf, at + 4), u32_at(buf, at + 8))
        {
            let len = len as usize;
            if len < 16 || at + len > buf.len() {
                break;
            }
            out.push((ty, seq, &buf[at + 16..at + len]));
            at += align(len);
        }
        out
    }

    /// The error code of an NLMSG_ERROR payload (0 is an ACK).
    fn error_code(payload: &[u8]) -> i32 {
        payload.get(..4).map_or(-libc::EPROTO, |b| {
            i32::from_ne_bytes([b[0], b[1], b[2], b[3]])
        })
    }

    /// Attributes as (type without flags, the whole attribute, its value).
    pub(crate) fn attributes(buf: &[u8]) -> Vec<(u16, &[u8], &[u8])> {
        let mut out = Vec::new();
        let mut at = 0;
        while let (Some(len), Some(ty)) = (u16_at(buf, at), u16_at(buf, at + 2)) {
            let len = len as usize;
            if len < 4 || at + len > buf.len() {
                break;
            }
            out.push((
                ty & NLA_TYPE_MASK,
                &buf[at..at + len],
                &buf[at + 4..at + len],
            ));
            at += align(len);
        }
        out
    }

    /// A conntrack message (payload after nlmsghdr) → its original source and delete key.
    pub(crate) fn parse_entry(payload: &[u8]) -> Option<Entry> {
        let attrs = attributes(payload.get(4..)?);
        let (_, orig_whole, orig) = attrs.iter().find(|(t, _, _)| *t == CTA_TUPLE_ORIG)?;
        let (_, _, ip) = attributes(orig)
            .into_iter()
            .find(|(t, _, _)| *t == CTA_TUPLE_IP)?;
        let source = attributes(ip)
            .into_iter()
            .find_map(|(t, _, v)| match (t, v.len()) {
                (CTA_IP_V4_SRC, 4) => Some(IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3]))),
                (CTA_IP_V6_SRC, 16) => <[u8; 16]>::try_from(v)
                    .ok()
                    .map(|a| IpAddr::V6(Ipv6Addr::from(a))),
                _ => None,
            })?;
        let mut key = Vec::with_capacity(align(orig_whole.len()) + 8);
        key.extend_from_slice(orig_whole);
        key.resize(align(key.len()), 0);
        if let Some((_, zone, _)) = attrs.iter().find(|(t, _, _)| *t == CTA_ZONE) {
            key.extend_from_slice(zone);
            key.resize(align(key.len()), 0);
        }
        Some(Entry { source, key })
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
        p.extend(attr(3, &[0, 0, 0, 1])); // CTA_STATUS, ignored
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
