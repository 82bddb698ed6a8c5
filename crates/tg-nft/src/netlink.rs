//! The generic netlink plumbing tollguard writes by hand (nf_tables set elements here,
//! ctnetlink in tg-enforce): a `NETLINK_NETFILTER` socket, message and attribute building, and
//! parsing that never trusts a length it has not checked against the buffer.
//!
//! Layout (native byte order, everything padded to 4 bytes): a message is `nlmsghdr` (length
//! u32, type u16, flags u16, sequence u32, port id u32) then, for nfnetlink, `nfgenmsg` (family
//! u8, version u8, resource id be16) then attributes; an attribute is length u16 (header
//! included, padding not), type u16 (bit 15 marks a nested one), value.
//!
//! The socket asks for capped acknowledgements (`NETLINK_CAP_ACK`: an error echoes only the
//! failing message's header, not its possibly 40 kB body) and extended ones (`NETLINK_EXT_ACK`:
//! the kernel adds a text message saying what it refused). Kernels without them (before 4.2 and
//! 4.12) still work, with plainer errors.

// Unsafe by nature: the raw netlink socket is libc FFI (socket, bind, setsockopt, send, recv).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// `NETLINK_NETFILTER`: nfnetlink (nf_tables, ctnetlink, …).
pub const NETLINK_NETFILTER: libc::c_int = 12;
/// The size of `nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// `nlmsghdr` plus `nfgenmsg`.
pub const NFNL_HDRLEN: usize = NLMSG_HDRLEN + 4;

/// A request (every message to the kernel).
pub const NLM_F_REQUEST: u16 = 0x1;
/// Ask for an acknowledgement (an `NLMSG_ERROR` with code 0) on success.
pub const NLM_F_ACK: u16 = 0x4;
/// A dump (`NLM_F_ROOT | NLM_F_MATCH`).
pub const NLM_F_DUMP: u16 = 0x300;
/// Fail if the object exists.
pub const NLM_F_EXCL: u16 = 0x200;
/// Create the object if it does not exist.
pub const NLM_F_CREATE: u16 = 0x400;
/// In an error reply: the echoed request was capped to its header.
pub const NLM_F_CAPPED: u16 = 0x100;
/// In an error reply: extended-ack attributes follow the echoed request.
pub const NLM_F_ACK_TLVS: u16 = 0x200;

/// An error or acknowledgement.
pub const NLMSG_ERROR: u16 = 2;
/// The end of a dump.
pub const NLMSG_DONE: u16 = 3;
/// The extended-ack attribute holding the kernel's text message.
const NLMSGERR_ATTR_MSG: u16 = 1;

/// Marks a nested attribute.
pub const NLA_F_NESTED: u16 = 0x8000;
/// The attribute type without its flag bits.
pub const NLA_TYPE_MASK: u16 = 0x3fff;

const SOL_NETLINK: libc::c_int = 270;
const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_EXT_ACK: libc::c_int = 11;

/// Rounds up to the 4-byte alignment of messages and attributes.
pub fn align(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// A netlink socket to the kernel, closed on drop.
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
}

impl Socket {
    /// Opens a `protocol` socket (e.g. [`NETLINK_NETFILTER`]) whose reads give up after
    /// `timeout` (a reply that never comes must not hang a thread), with capped and extended
    /// acknowledgements where the kernel has them.
    pub fn open(protocol: libc::c_int, timeout: Duration) -> io::Result<Socket> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                protocol,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        let socket = Socket {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            seq: 0,
        };
        let tv = libc::timeval {
            tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_usec: timeout.subsec_micros() as libc::suseconds_t,
        };
        socket.set_option(libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)?;
        // Best effort: only the error texts get poorer without them.
        let _ = socket.set_option(SOL_NETLINK, NETLINK_CAP_ACK, &1 as &libc::c_int);
        let _ = socket.set_option(SOL_NETLINK, NETLINK_EXT_ACK, &1 as &libc::c_int);
        Ok(socket)
    }

    fn set_option<T>(&self, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
        // SAFETY: a valid fd, and a pointer to a live T with its exact size.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (value as *const T).cast(),
                std::mem::size_of::<T>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn get_int_option(&self, level: libc::c_int, name: libc::c_int) -> io::Result<usize> {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: a valid fd, and pointers to a live c_int and its length.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(value.max(0) as usize)
    }

    /// Asks for `bytes` of send and receive buffer: beyond the system limits
    /// (`SO_SNDBUFFORCE`, which needs CAP_NET_ADMIN), else within them. Returns the send
    /// buffer the kernel granted: the largest message [`Socket::send`] can pass is a little
    /// smaller (see [`Socket::max_message`]).
    pub fn size_buffers(&self, bytes: usize) -> usize {
        let bytes = bytes.min(i32::MAX as usize / 2) as libc::c_int;
        for (force, plain) in [
            (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
            (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        ] {
            if self.set_option(libc::SOL_SOCKET, force, &bytes).is_err() {
                let _ = self.set_option(libc::SOL_SOCKET, plain, &bytes);
            }
        }
        self.get_int_option(libc::SOL_SOCKET, libc::SO_SNDBUF)
            .unwrap_or(0)
    }

    /// The largest message the kernel accepts in one `sendmsg` on this socket: netlink refuses
    /// (`EMSGSIZE`) anything over the send buffer less 32 bytes.
    pub fn max_message(&self) -> usize {
        self.get_int_option(libc::SOL_SOCKET, libc::SO_SNDBUF)
            .unwrap_or(0)
            .saturating_sub(64)
    }

    /// A fresh sequence number (never 0, which the kernel uses for notifications).
    pub fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// Sends `buf` (one or more whole messages) to the kernel in one datagram.
    pub fn send(&self, buf: &[u8]) -> io::Result<()> {
        // SAFETY: sending an initialised buffer we borrow, on our socket, to a zeroed
        // sockaddr_nl with nl_family set (the kernel).
        let rc = unsafe {
            let mut to: libc::sockaddr_nl = std::mem::zeroed();
            to.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            libc::sendto(
                self.fd.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                0,
                (&to as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        if rc as usize != buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "netlink datagram sent short",
            ));
        }
        Ok(())
    }

    /// Receives one datagram into `buf`; `Ok(0)` means the socket was closed.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: receiving into a buffer we own, within its length.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

/// Appends an nfnetlink message header (nlmsghdr with a length to patch, then nfgenmsg) and
/// returns where the message starts, for [`end_message`].
pub fn begin_message(
    buf: &mut Vec<u8>,
    msg_type: u16,
    flags: u16,
    seq: u32,
    family: u8,
    res_id: u16,
) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&msg_type.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.push(family);
    buf.push(0); // NFNETLINK_V0
    buf.extend_from_slice(&res_id.to_be_bytes());
    start
}

/// Writes the length of the message begun at `start` (everything appended since).
pub fn end_message(buf: &mut [u8], start: usize) {
    let len = (buf.len() - start) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

/// Appends one attribute, padded.
pub fn put_attr(buf: &mut Vec<u8>, attr_type: u16, value: &[u8]) {
    buf.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&attr_type.to_ne_bytes());
    buf.extend_from_slice(value);
    buf.resize(align(buf.len()), 0);
}

/// Appends a NUL-terminated string attribute, padded.
pub fn put_str(buf: &mut Vec<u8>, attr_type: u16, value: &str) {
    let start = buf.len();
    buf.extend_from_slice(&((5 + value.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&attr_type.to_ne_bytes());
    buf.extend_from_slice(value.as_bytes());
    buf.push(0);
    debug_assert_eq!(buf.len() - start, 5 + value.len());
    buf.resize(align(buf.len()), 0);
}

/// Starts a nested attribute; returns where it starts, for [`end_nested`].
pub fn begin_nested(buf: &mut Vec<u8>, attr_type: u16) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&0u16.to_ne_bytes());
    buf.extend_from_slice(&(attr_type | NLA_F_NESTED).to_ne_bytes());
    start
}

/// Writes the length of the nested attribute begun at `start`. An attribute's length is a u16:
/// `Err` with the length when everything appended since does not fit (the caller must split).
pub fn end_nested(buf: &mut [u8], start: usize) -> Result<(), usize> {
    let len = buf.len() - start;
    let short = u16::try_from(len).map_err(|_| len)?;
    buf[start..start + 2].copy_from_slice(&short.to_ne_bytes());
    Ok(())
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at.checked_add(2)?)
        .map(|s| u16::from_ne_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?)
        .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

/// One message of a received datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// `nlmsg_type`.
    pub msg_type: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// Everything after the nlmsghdr.
    pub payload: &'a [u8],
}

/// The messages in a buffer. Stops at anything malformed (a length shorter than a header or
/// past the end) rather than trusting it.
pub fn messages(buf: &[u8]) -> Vec<Message<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    while let (Some(len), Some(msg_type), Some(flags), Some(seq)) = (
        u32_at(buf, at),
        u16_at(buf, at + 4),
        u16_at(buf, at + 6),
        u32_at(buf, at + 8),
    ) {
        let len = len as usize;
        if len < NLMSG_HDRLEN || len > buf.len() - at {
            break;
        }
        out.push(Message {
            msg_type,
            flags,
            seq,
            payload: &buf[at + NLMSG_HDRLEN..at + len],
        });
        at += align(len);
    }
    out
}

/// One attribute: its type without flag bits, the whole attribute (header included, padding
/// not), and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    /// The type, flag bits masked off.
    pub attr_type: u16,
    /// Header and value, as received.
    pub whole: &'a [u8],
    /// The value.
    pub value: &'a [u8],
}

/// The attributes in a buffer; stops at anything malformed.
pub fn attributes(buf: &[u8]) -> Vec<Attr<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    while let (Some(len), Some(attr_type)) = (u16_at(buf, at), u16_at(buf, at + 2)) {
        let len = len as usize;
        if len < 4 || len > buf.len() - at {
            break;
        }
        out.push(Attr {
            attr_type: attr_type & NLA_TYPE_MASK,
            whole: &buf[at..at + len],
            value: &buf[at + 4..at + len],
        });
        at += align(len);
    }
    out
}

/// What an `NLMSG_ERROR` message says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// 0 for an acknowledgement, else a positive errno.
    pub errno: i32,
    /// The sequence number of the request it answers (from the echoed header).
    pub request_seq: Option<u32>,
    /// The kernel's extended-ack text, if it sent one.
    pub message: Option<String>,
}

/// Reads an `NLMSG_ERROR` message; a payload too short for its error code, or a code that is
/// not 0 or a negated errno, reads as `EPROTO`.
pub fn parse_ack(msg: &Message<'_>) -> Ack {
    let Some(code) = u32_at(msg.payload, 0).map(|c| c as i32) else {
        return Ack {
            errno: libc::EPROTO,
            request_seq: None,
            message: None,
        };
    };
    let request_len = u32_at(msg.payload, 4).map(|l| l as usize);
    let request_seq = u32_at(msg.payload, 4 + 8);
    let mut message = None;
    if msg.flags & NLM_F_ACK_TLVS != 0 {
        // After the echoed request: just its header if capped, else all of it.
        let tlv_at = if msg.flags & NLM_F_CAPPED != 0 {
            Some(4 + NLMSG_HDRLEN)
        } else {
            request_len.map(|l| 4 + align(l.max(NLMSG_HDRLEN)))
        };
        message = tlv_at
            .and_then(|at| msg.payload.get(at..))
            .and_then(|tlvs| {
                attributes(tlvs)
                    .into_iter()
                    .find(|a| a.attr_type == NLMSGERR_ATTR_MSG)
            })
            .map(|a| {
                let text = a.value.split(|&b| b == 0).next().unwrap_or_default();
                String::from_utf8_lossy(&text[..text.len().min(512)]).into_owned()
            })
            .filter(|t| !t.is_empty());
    }
    Ack {
        // The kernel sends 0 or a negated errno; anything else is not an answer we understand
        // (and must not become a negative "errno").
        errno: match code {
            0 => 0,
            c if c < 0 => c.checked_neg().unwrap_or(libc::EPROTO),
            _ => libc::EPROTO,
        },
        request_seq,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_attributes_round_trip() {
        let mut buf = Vec::new();
        let start = begin_message(&mut buf, 0x0a0c, NLM_F_REQUEST, 7, 1, 10);
        put_str(&mut buf, 1, "tollguard");
        let nest = begin_nested(&mut buf, 3);
        put_attr(&mut buf, 1, &[1, 2, 3, 4]);
        end_nested(&mut buf, nest).unwrap();
        end_message(&mut buf, start);
        assert_eq!(buf.len() % 4, 0);
        assert_eq!(
            &buf[16..20],
            &[1, 0, 0, 10],
            "nfgenmsg with res_id big-endian"
        );
        let msgs = messages(&buf);
        assert_eq!(msgs.len(), 1);
        assert_eq!((msgs[0].msg_type, msgs[0].seq), (0x0a0c, 7));
        let attrs = attributes(&msgs[0].payload[4..]);
        assert_eq!(attrs.len(), 2);
        assert_eq!(attrs[0].value, b"tollguard\0");
        assert_eq!(attrs[1].attr_type, 3, "the nested flag is masked off");
        assert_eq!(attributes(attrs[1].value)[0].value, &[1, 2, 3, 4]);
    }

    #[test]
    fn a_nest_longer_than_a_u16_is_refused() {
        let mut buf = Vec::new();
        let nest = begin_nested(&mut buf, 3);
        put_attr(&mut buf, 1, &vec![0; 65_000]);
        put_attr(&mut buf, 1, &[0; 600]);
        assert_eq!(end_nested(&mut buf, nest), Err(buf.len()));
    }

    #[test]
    fn truncated_or_lying_buffers_yield_only_what_is_whole() {
        assert!(messages(&[0xff; 7]).is_empty());
        let mut msg = vec![0u8; 16];
        msg[..4].copy_from_slice(&4000u32.to_ne_bytes());
        assert!(messages(&msg).is_empty(), "a length past the buffer");
        msg[..4].copy_from_slice(&3u32.to_ne_bytes());
        assert!(messages(&msg).is_empty(), "a length shorter than a header");
        msg[..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(messages(&msg).is_empty(), "a huge length");
        assert!(
            attributes(&[8, 0, 1, 0, 1, 2]).is_empty(),
            "value cut short"
        );
        assert!(attributes(&[0xff, 0xff, 1, 0]).is_empty());
        assert!(
            attributes(&[2, 0, 1, 0]).is_empty(),
            "length under a header"
        );
        // A whole message followed by garbage: the whole one is kept.
        let mut two = Vec::new();
        let s = begin_message(&mut two, 2, 0, 9, 0, 0);
        end_message(&mut two, s);
        two.extend_from_slice(&[50, 0, 0, 0, 1]);
        assert_eq!(messages(&two).len(), 1);
    }

    fn error_message(errno: i32, flags: u16, text: Option<&str>) -> Vec<u8> {
        let mut buf = Vec::new();
        let s = begin_message(&mut buf, NLMSG_ERROR, flags, 5, 0, 0);
        buf.truncate(s + NLMSG_HDRLEN); // no nfgenmsg in an error
        buf.extend_from_slice(&(-errno).to_ne_bytes());
        // The echoed request header: length 40 (capped away), type, flags, seq 5, pid.
        for word in [40u32, 0x0a0c, 5, 0] {
            buf.extend_from_slice(&word.to_ne_bytes());
        }
        if let Some(t) = text {
            put_str(&mut buf, NLMSGERR_ATTR_MSG, t);
        }
        end_message(&mut buf, s);
        buf
    }

    #[test]
    fn errors_give_errno_request_and_text() {
        let buf = error_message(libc::ENOENT, NLM_F_CAPPED | NLM_F_ACK_TLVS, Some("no set"));
        let msgs = messages(&buf);
        let ack = parse_ack(&msgs[0]);
        assert_eq!(ack.errno, libc::ENOENT);
        assert_eq!(ack.request_seq, Some(5));
        assert_eq!(ack.message.as_deref(), Some("no set"));
        let plain = error_message(0, NLM_F_CAPPED, None);
        assert_eq!(parse_ack(&messages(&plain)[0]).errno, 0);
        let cut = Message {
            msg_type: NLMSG_ERROR,
            flags: NLM_F_ACK_TLVS,
            seq: 1,
            payload: &[1, 2],
        };
        assert_eq!(parse_ack(&cut).errno, libc::EPROTO);
        // TLVs claimed but the echoed length points past the end: no text, no panic.
        let mut lying = error_message(libc::EPERM, NLM_F_ACK_TLVS, None);
        lying[20..24].copy_from_slice(&u32::MAX.to_ne_bytes());
        let ack = parse_ack(&messages(&lying)[0]);
        assert_eq!((ack.errno, ack.message), (libc::EPERM, None));
    }

    #[test]
    fn a_positive_or_unnegatable_error_code_is_eproto_never_a_negative_errno() {
        // Found by the `netlink` fuzz target (fuzz/corpus/netlink/found-positive-error-code): an
        // NLMSG_ERROR whose code is positive (15) read as errno -15.
        let found: &[u8] = &[
            0x39, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c,
            0x6c, 0xff, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x5b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00,
        ];
        let msgs = messages(found);
        assert_eq!(msgs.len(), 1);
        assert_eq!(parse_ack(&msgs[0]).errno, libc::EPROTO);
        for (code, errno) in [
            (15, libc::EPROTO),
            (i32::MIN, libc::EPROTO),
            (0, 0),
            (-2, 2),
        ] {
            let mut buf = error_message(0, NLM_F_CAPPED, None);
            buf[16..20].copy_from_slice(&code.to_ne_bytes());
            assert_eq!(parse_ack(&messages(&buf)[0]).errno, errno, "code {code}");
        }
    }
}
