//! Ban set elements written straight into the kernel over nf_tables netlink: no `nft` process,
//! no script text to render and parse. Setup (tables, sets, chains) stays with the `nft` program
//! ([`crate::bans::BanScript::setup`]); this module only adds and deletes elements of
//! [`BANNED_V4`] / [`BANNED_V6`] (addresses) and [`BANNED_NETS_V4`] / [`BANNED_NETS_V6`]
//! (prefixes) in `inet <table>`.
//!
//! A prefix is an interval of its interval set: two elements, the network address (with the
//! timeout) and the first address past the prefix flagged `NFT_SET_ELEM_INTERVAL_END` (none for
//! a prefix that ends at the top of the address space); both go in one message, so a prefix is
//! added or deleted whole.
//!
//! # Transactions
//! Each transaction is one nfnetlink batch in one `sendmsg`: `NFNL_MSG_BATCH_BEGIN` (resource
//! id `NFNL_SUBSYS_NFTABLES`, big-endian), `NFT_MSG_NEWSETELEM` / `NFT_MSG_DELSETELEM`
//! messages, `NFNL_MSG_BATCH_END`. The kernel runs the whole batch inside `sendmsg`, under the
//! nfnetlink mutex, and commits it only if every message succeeded: all or nothing. Every element
//! message carries `NLM_F_ACK`, so success is confirmed message by message; the first error names
//! the message that caused it (and, with extended acks, the kernel's reason).
//!
//! A nested attribute's length is a u16, so a message carries at most
//! [`ELEMENTS_PER_MESSAGE`] elements and a transaction as many messages as it needs. A call with
//! more addresses than its per-transaction bound is split into several transactions: each
//! address's statements stay in one transaction (so a refreshed address is never unbanned in
//! between), and each transaction is all-or-nothing, but a failure in the third leaves the
//! first two applied (each ban is independent; redoing the call is harmless). Bounding the
//! transactions also bounds how long the nfnetlink mutex is held: another thread's one-address
//! ban waits for one chunk, not for a 100,000-element restore (see tg-enforce's `restore`). The
//! socket's send buffer is enlarged (`SO_SNDBUFFORCE`, as root) so a transaction of
//! [`MAX_TRANSACTION`] addresses fits one datagram; where the kernel grants less, transactions
//! shrink to fit, so `sendmsg` never fails with `EMSGSIZE`.
//!
//! # Statements (the same as the `nft` text this replaced; see [`crate::bans`])
//! - add: `NEWSETELEM` with `NLM_F_CREATE` and without `NLM_F_EXCL` (an element already present
//!   is not an error; older kernels keep its timeout, recent ones take the new one);
//! - refresh (an address known to be present gets exactly the new timeout): add without
//!   timeout, delete, add with timeout — in one transaction;
//! - unban (absent addresses are fine): add without timeout, then delete.
//!
//! Timeouts are clamped with [`clamp_timeout`] and sent in milliseconds (be64). IPv4-mapped IPv6
//! addresses go to the IPv4 set; an address listed twice keeps its last entry.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use tg_model::canonical_net;

use crate::bans::{clamp_timeout, set_of, Element, InvalidTableName};
use crate::netlink::{self, Socket};
use crate::{NftError, BANNED_NETS_V4, BANNED_NETS_V6, BANNED_V4, BANNED_V6};

/// nfnetlink subsystem of nf_tables (`nfnetlink.h`).
const NFNL_SUBSYS_NFTABLES: u16 = 10;
/// `NLMSG_MIN_TYPE` and the next one (`nfnetlink.h`).
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
/// `enum nf_tables_msg_types` (`nf_tables.h`).
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
/// `NFPROTO_INET` (`netfilter.h`).
const NFPROTO_INET: u8 = 1;
/// `enum nft_set_elem_list_attributes`.
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
/// `enum nft_list_attributes`.
const NFTA_LIST_ELEM: u16 = 1;
/// `enum nft_set_elem_attributes`.
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_FLAGS: u16 = 3;
const NFTA_SET_ELEM_TIMEOUT: u16 = 4;
/// `enum nft_set_elem_flags`.
const NFT_SET_ELEM_INTERVAL_END: u32 = 1;
/// `enum nft_data_attributes`.
const NFTA_DATA_VALUE: u16 = 1;

/// Elements per message: 1,000 IPv6 elements with timeouts take 40,000 bytes, well inside the
/// 65,535 a nested attribute's u16 length allows.
pub const ELEMENTS_PER_MESSAGE: usize = 1000;
/// The most addresses in one transaction (at most three statements each, ~490 kB for IPv6
/// refreshes); calls with more are split.
pub const MAX_TRANSACTION: usize = 4096;
/// The socket buffers asked for: room for a [`MAX_TRANSACTION`] batch.
const SOCKET_BUFFER: usize = 4 * 1024 * 1024;
/// The worst case bytes one target adds to a transaction (three statements on an IPv6 prefix,
/// two elements of up to 48 bytes each), plus slack for message headers, used to size
/// transactions.
const WORST_BYTES_PER_ADDRESS: usize = 320;
const HEADROOM: usize = 8 * 1024;
/// How long to wait for the kernel's answer (it runs the batch inside `sendmsg`, so the
/// answers are normally there when it returns).
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// What happens to one address in a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Add with the timeout.
    Add(u64),
    /// Add bare, delete, add with the timeout.
    Refresh(u64),
    /// Add bare, delete.
    Remove,
}

/// One message of a batch: a statement on one set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verb {
    AddBare,
    Delete,
    AddTimed,
}

/// The bytes of one transaction and, for each acknowledged message, what it did (for errors).
#[derive(Debug)]
struct Batch {
    /// The datagram.
    bytes: Vec<u8>,
    /// The batch-begin message's sequence number.
    begin_seq: u32,
    /// Sequence number → "adding 1000 elements to inet tollguard banned_v4".
    acked: HashMap<u32, String>,
}

/// Writes elements of the ban sets of one table over netlink.
#[derive(Debug)]
pub struct SetWriter {
    table: String,
    buffer: usize,
    socket: Option<Socket>,
    max_message: usize,
    seq: u32,
}

impl SetWriter {
    /// A writer for the sets of `inet <table>`. The socket is opened on first use, in the
    /// network namespace of the thread that uses it.
    pub fn new(table: &str) -> Result<SetWriter, InvalidTableName> {
        crate::bans::BanScript::new(table)?;
        Ok(SetWriter {
            table: table.to_string(),
            buffer: SOCKET_BUFFER,
            socket: None,
            max_message: 0,
            seq: 1,
        })
    }

    /// The socket buffer size to ask for (default 4 MiB). Transactions shrink to what the
    /// kernel grants, so a smaller buffer costs more transactions, never an `EMSGSIZE`.
    pub fn socket_buffer(mut self, bytes: usize) -> SetWriter {
        self.buffer = bytes;
        self.socket = None;
        self
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Adds the elements (present ones are not an error), in transactions of at most
    /// `per_transaction` addresses.
    pub fn add(&mut self, elements: &[Element], per_transaction: usize) -> Result<(), NftError> {
        let items = elements
            .iter()
            .map(|e| (e.net, Kind::Add(e.secs)))
            .collect();
        self.apply(items, per_transaction)
    }

    /// Bans `refresh` (addresses believed present: each gets exactly its new timeout) and `add`
    /// (new ones), in transactions of at most `per_transaction` addresses.
    pub fn ban(
        &mut self,
        refresh: &[Element],
        add: &[Element],
        per_transaction: usize,
    ) -> Result<(), NftError> {
        let items = refresh
            .iter()
            .map(|e| (e.net, Kind::Refresh(e.secs)))
            .chain(add.iter().map(|e| (e.net, Kind::Add(e.secs))))
            .collect();
        self.apply(items, per_transaction)
    }

    /// Removes the addresses and prefixes; absent ones are fine.
    pub fn remove(&mut self, nets: &[IpNet], per_transaction: usize) -> Result<(), NftError> {
        let items = nets.iter().map(|&net| (net, Kind::Remove)).collect();
        self.apply(items, per_transaction)
    }

    fn apply(&mut self, items: Vec<(IpNet, Kind)>, per_transaction: usize) -> Result<(), NftError> {
        let items = unique(items);
        if items.is_empty() {
            return Ok(());
        }
        if self.socket.is_none() {
            let socket = Socket::open(netlink::NETLINK_NETFILTER, REPLY_TIMEOUT)
                .map_err(|e| netlink_error("opening the nf_tables netlink socket", e))?;
            socket.size_buffers(self.buffer);
            self.max_message = socket.max_message();
            self.socket = Some(socket);
        }
        // Transactions small enough for one datagram on this socket.
        let fits = self.max_message.saturating_sub(HEADROOM) / WORST_BYTES_PER_ADDRESS;
        let chunk = per_transaction.clamp(1, MAX_TRANSACTION).min(fits.max(1));
        let count = items.len().div_ceil(chunk);
        for (i, group) in items.chunks(chunk).enumerate() {
            let result = self.transaction(group);
            if let Err(e) = result {
                if matches!(e, NftError::Netlink { .. }) {
                    // A socket in an unknown state (a timeout, a short read) is not reused.
                    self.socket = None;
                }
                return Err(if count > 1 {
                    e.in_transaction(i + 1, count)
                } else {
                    e
                });
            }
        }
        Ok(())
    }

    fn transaction(&mut self, group: &[(IpNet, Kind)]) -> Result<(), NftError> {
        let socket = self
            .socket
            .as_ref()
            .ok_or_else(|| netlink_error("the socket", io::ErrorKind::NotConnected.into()))?;
        // Numbers never repeat on this socket, so a late answer to an abandoned batch cannot
        // be taken for this one's.
        let batch = encode(&self.table, group, &mut self.seq);
        socket
            .send(&batch.bytes)
            .map_err(|e| netlink_error("sending a ban batch to nf_tables", e))?;
        await_acks(socket, &batch)
    }
}

/// Keeps the last entry per (canonical) target, in first-seen order of those last entries.
fn unique(items: Vec<(IpNet, Kind)>) -> Vec<(IpNet, Kind)> {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    let mut out: Vec<(IpNet, Kind)> = items
        .into_iter()
        .rev()
        .map(|(ip, k)| (canonical_net(ip), k))
        .filter(|(ip, _)| seen.insert(*ip))
        .collect();
    out.reverse();
    out
}

/// Encodes one transaction for `group` (unique, canonical targets); `seq` is the first
/// sequence number to use and is left one past the last used.
fn encode(table: &str, group: &[(IpNet, Kind)], seq: &mut u32) -> Batch {
    let mut bytes = Vec::with_capacity(group.len() * 48 + 256);
    let mut acked = HashMap::new();
    let mut take = || {
        let s = *seq;
        *seq = seq.wrapping_add(1).max(1);
        s
    };
    let begin_seq = take();
    let start = netlink::begin_message(
        &mut bytes,
        NFNL_MSG_BATCH_BEGIN,
        netlink::NLM_F_REQUEST,
        begin_seq,
        0,
        NFNL_SUBSYS_NFTABLES,
    );
    netlink::end_message(&mut bytes, start);
    for set in [BANNED_V4, BANNED_V6, BANNED_NETS_V4, BANNED_NETS_V6] {
        let family: Vec<(IpNet, Kind)> = group
            .iter()
            .copied()
            .filter(|(net, _)| set_of(*net) == set)
            .collect();
        // A prefix is two elements.
        let per_message = if set == BANNED_V4 || set == BANNED_V6 {
            ELEMENTS_PER_MESSAGE
        } else {
            ELEMENTS_PER_MESSAGE / 2
        };
        for verb in [Verb::AddBare, Verb::Delete, Verb::AddTimed] {
            let picked: Vec<(IpNet, Option<u64>)> = family
                .iter()
                .filter_map(|&(ip, kind)| match (verb, kind) {
                    (Verb::AddBare | Verb::Delete, Kind::Refresh(_) | Kind::Remove) => {
                        Some((ip, None))
                    }
                    (Verb::AddTimed, Kind::Refresh(secs) | Kind::Add(secs)) => {
                        Some((ip, Some(clamp_timeout(secs).saturating_mul(1000))))
                    }
                    _ => None,
                })
                .collect();
            for part in picked.chunks(per_message) {
                let s = take();
                element_message(&mut bytes, table, set, verb, part, s);
                let what = match verb {
                    Verb::Delete => "deleting",
                    Verb::AddBare | Verb::AddTimed => "adding",
                };
                let preposition = if verb == Verb::Delete { "from" } else { "to" };
                acked.insert(
                    s,
                    format!(
                        "{what} {} element(s) {preposition} inet {table} {set}",
                        part.len()
                    ),
                );
            }
        }
    }
    let start = netlink::begin_message(
        &mut bytes,
        NFNL_MSG_BATCH_END,
        netlink::NLM_F_REQUEST,
        take(),
        0,
        NFNL_SUBSYS_NFTABLES,
    );
    netlink::end_message(&mut bytes, start);
    Batch {
        bytes,
        begin_seq,
        acked,
    }
}

/// One `NEWSETELEM` / `DELSETELEM` message; `elements` are (target, timeout in ms).
fn element_message(
    buf: &mut Vec<u8>,
    table: &str,
    set: &str,
    verb: Verb,
    elements: &[(IpNet, Option<u64>)],
    seq: u32,
) {
    let (msg, flags) = match verb {
        Verb::Delete => (NFT_MSG_DELSETELEM, 0),
        Verb::AddBare | Verb::AddTimed => (NFT_MSG_NEWSETELEM, netlink::NLM_F_CREATE),
    };
    let start = netlink::begin_message(
        buf,
        (NFNL_SUBSYS_NFTABLES << 8) | msg,
        netlink::NLM_F_REQUEST | netlink::NLM_F_ACK | flags,
        seq,
        NFPROTO_INET,
        0,
    );
    netlink::put_str(buf, NFTA_SET_ELEM_LIST_TABLE, table);
    netlink::put_str(buf, NFTA_SET_ELEM_LIST_SET, set);
    let list = netlink::begin_nested(buf, NFTA_SET_ELEM_LIST_ELEMENTS);
    for &(net, timeout_ms) in elements {
        put_element(buf, net.network(), timeout_ms, false);
        if net.prefix_len() < net.max_prefix_len() {
            if let Some(end) = past(net) {
                put_element(buf, end, None, true);
            }
        }
    }
    // ELEMENTS_PER_MESSAGE keeps the list under 65,535 bytes (checked by a unit test).
    let _ = netlink::end_nested(buf, list);
    netlink::end_message(buf, start);
}

/// One element of an element list: its key, timeout and (for an interval's end) flags.
fn put_element(buf: &mut Vec<u8>, ip: IpAddr, timeout_ms: Option<u64>, interval_end: bool) {
    let elem = netlink::begin_nested(buf, NFTA_LIST_ELEM);
    let key = netlink::begin_nested(buf, NFTA_SET_ELEM_KEY);
    match ip {
        IpAddr::V4(a) => netlink::put_attr(buf, NFTA_DATA_VALUE, &a.octets()),
        IpAddr::V6(a) => netlink::put_attr(buf, NFTA_DATA_VALUE, &a.octets()),
    }
    // Inner nests are a few dozen bytes: always within a u16.
    let _ = netlink::end_nested(buf, key);
    if interval_end {
        netlink::put_attr(
            buf,
            NFTA_SET_ELEM_FLAGS,
            &NFT_SET_ELEM_INTERVAL_END.to_be_bytes(),
        );
    }
    if let Some(ms) = timeout_ms {
        netlink::put_attr(buf, NFTA_SET_ELEM_TIMEOUT, &ms.to_be_bytes());
    }
    let _ = netlink::end_nested(buf, elem);
}

/// The first address after `net` (its interval's exclusive end); none past the top.
fn past(net: IpNet) -> Option<IpAddr> {
    match net {
        IpNet::V4(n) => u32::from(n.broadcast())
            .checked_add(1)
            .map(|a| IpAddr::V4(a.into())),
        IpNet::V6(n) => u128::from(n.broadcast())
            .checked_add(1)
            .map(|a| IpAddr::V6(a.into())),
    }
}

/// Reads the kernel's answers to `batch` until every element message is answered; the first
/// error (in message order) is the transaction's.
fn await_acks(socket: &Socket, batch: &Batch) -> Result<(), NftError> {
    let mut buf = vec![0u8; 128 * 1024];
    let mut pending = batch.acked.len();
    let mut answered = std::collections::HashSet::with_capacity(pending);
    let mut first_error: Option<(u32, netlink::Ack)> = None;
    while pending > 0 {
        let n = socket.recv(&mut buf).map_err(|e| {
            let e = if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) {
                io::Error::new(e.kind(), "no answer from the kernel")
            } else {
                e
            };
            netlink_error("reading nf_tables' answer to a ban batch", e)
        })?;
        if n == 0 {
            return Err(netlink_error(
                "reading nf_tables' answer to a ban batch",
                io::ErrorKind::UnexpectedEof.into(),
            ));
        }
        for msg in netlink::messages(&buf[..n]) {
            if msg.msg_type != netlink::NLMSG_ERROR {
                continue;
            }
            let ack = netlink::parse_ack(&msg);
            if msg.seq == batch.begin_seq {
                // The batch as a whole was refused (malformed, out of memory): nothing else
                // will be answered.
                return Err(kernel_error("a ban batch".into(), ack));
            }
            if !batch.acked.contains_key(&msg.seq) || !answered.insert(msg.seq) {
                continue; // a stale answer to an earlier, abandoned batch
            }
            pending -= 1;
            if ack.errno != 0 && first_error.as_ref().is_none_or(|(s, _)| msg.seq < *s) {
                first_error = Some((msg.seq, ack));
            }
        }
    }
    match first_error {
        None => Ok(()),
        Some((seq, ack)) => {
            let what = batch.acked.get(&seq).cloned().unwrap_or_default();
            Err(kernel_error(what, ack))
        }
    }
}

fn kernel_error(what: String, ack: netlink::Ack) -> NftError {
    NftError::Kernel {
        what,
        errno: ack.errno,
        message: ack.message,
    }
}

fn netlink_error(what: &str, source: io::Error) -> NftError {
    NftError::Netlink {
        what: what.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpNet {
        IpNet::from(s.parse::<IpAddr>().unwrap())
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn one_element_message_has_the_kernels_layout() {
        let mut buf = Vec::new();
        element_message(
            &mut buf,
            "t1",
            "banned_v4",
            Verb::AddTimed,
            &[(ip("198.51.100.7"), Some(60_000))],
            2,
        );
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            76, 0, 0, 0,            // nlmsg_len
            0x0c, 0x0a,             // NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWSETELEM
            0x05, 0x04,             // NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE
            2, 0, 0, 0,             // seq
            0, 0, 0, 0,             // port id
            1, 0, 0, 0,             // nfgenmsg: NFPROTO_INET, version 0, res_id 0
            7, 0, 1, 0, b't', b'1', 0, 0,                    // LIST_TABLE "t1\0" + pad
            14, 0, 2, 0, b'b', b'a', b'n', b'n', b'e', b'd', b'_', b'v', b'4', 0, 0, 0, // LIST_SET
            32, 0, 3, 0x80,         // LIST_ELEMENTS (nested)
            28, 0, 1, 0x80,         //   LIST_ELEM (nested)
            12, 0, 1, 0x80,         //     SET_ELEM_KEY (nested)
            8, 0, 1, 0, 198, 51, 100, 7, // DATA_VALUE
            12, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0xea, 0x60, // SET_ELEM_TIMEOUT be64 60000 ms
        ];
        assert_eq!(buf, want);
    }

    #[test]
    fn a_batch_is_begin_messages_end_with_big_endian_res_id() {
        let mut seq = 10;
        let group = [(ip("2001:db8::7"), Kind::Remove)];
        let batch = encode("tollguard", &group, &mut seq);
        let msgs = netlink::messages(&batch.bytes);
        let types: Vec<u16> = msgs.iter().map(|m| m.msg_type).collect();
        assert_eq!(
            types,
            [0x10, 0x0a0c, 0x0a0e, 0x11],
            "begin, add, delete, end"
        );
        assert_eq!(
            &msgs[0].payload[..4],
            &[0, 0, 0, 10],
            "res_id 10, big-endian"
        );
        assert_eq!(msgs[1].flags, 0x405);
        assert_eq!(msgs[2].flags, 0x005, "delete: no NLM_F_CREATE");
        assert_eq!(seq, 14);
        assert_eq!(batch.begin_seq, 10);
        assert_eq!(batch.acked.len(), 2);
        let list = netlink::attributes(&msgs[2].payload[4..]);
        let elem = netlink::attributes(list[2].value);
        let inner = netlink::attributes(elem[0].value);
        assert_eq!(inner.len(), 1, "no timeout on a delete");
        assert_eq!(
            netlink::attributes(inner[0].value)[0].value,
            &"2001:db8::7"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets()
        );
    }

    #[test]
    fn large_groups_split_into_messages_under_the_u16_limit() {
        let group: Vec<(IpNet, Kind)> = (0..2500u32)
            .map(|i| {
                let v6 = std::net::Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(i));
                (IpNet::from(IpAddr::V6(v6)), Kind::Refresh(3600))
            })
            .collect();
        let mut seq = 1;
        let batch = encode("tollguard", &group, &mut seq);
        let msgs = netlink::messages(&batch.bytes);
        // 3 statements × ceil(2500 / 1000) messages, plus begin and end.
        assert_eq!(msgs.len(), 3 * 3 + 2);
        let mut elements = 0;
        for m in &msgs[1..msgs.len() - 1] {
            let attrs = netlink::attributes(&m.payload[4..]);
            assert_eq!(attrs.len(), 3, "table, set, elements");
            let list = attrs[2];
            assert!(list.whole.len() < 65_536);
            let n = netlink::attributes(list.value).len();
            assert!(n <= ELEMENTS_PER_MESSAGE);
            elements += n;
        }
        assert_eq!(elements, 3 * 2500);
        // The worst case per address used to size transactions holds.
        assert!(batch.bytes.len() <= group.len() * WORST_BYTES_PER_ADDRESS);
    }

    type KeyAndTimeout = (Vec<u8>, Option<u64>);

    #[test]
    fn refresh_is_add_delete_add_and_timeouts_are_clamped_milliseconds() {
        let mut seq = 1;
        let group = [
            (ip("192.0.2.1"), Kind::Refresh(0)),
            (ip("192.0.2.2"), Kind::Add(u64::MAX)),
        ];
        let batch = encode("t", &group, &mut seq);
        let msgs = netlink::messages(&batch.bytes);
        let summary: Vec<(u16, Vec<KeyAndTimeout>)> = msgs[1..msgs.len() - 1]
            .iter()
            .map(|m| {
                let attrs = netlink::attributes(&m.payload[4..]);
                let elems = netlink::attributes(attrs[2].value)
                    .iter()
                    .map(|e| {
                        let inner = netlink::attributes(e.value);
                        let key = netlink::attributes(inner[0].value)[0].value.to_vec();
                        let t = inner
                            .get(1)
                            .map(|t| u64::from_be_bytes(t.value.try_into().unwrap()));
                        (key, t)
                    })
                    .collect();
                (m.msg_type & 0xff, elems)
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (12, vec![(vec![192, 0, 2, 1], None)]),
                (14, vec![(vec![192, 0, 2, 1], None)]),
                (
                    12,
                    vec![
                        (vec![192, 0, 2, 1], Some(1000)),
                        (
                            vec![192, 0, 2, 2],
                            Some(crate::bans::MAX_TIMEOUT_SECS * 1000)
                        ),
                    ]
                ),
            ]
        );
    }

    #[test]
    fn mapped_addresses_go_to_the_v4_set_and_the_last_entry_wins() {
        let items = unique(vec![
            (ip("::ffff:192.0.2.1"), Kind::Add(5)),
            (ip("2001:db8::1"), Kind::Add(6)),
            (ip("192.0.2.1"), Kind::Remove),
        ]);
        assert_eq!(
            items,
            vec![
                (ip("2001:db8::1"), Kind::Add(6)),
                (ip("192.0.2.1"), Kind::Remove)
            ]
        );
        let mut seq = 1;
        let batch = encode("t", &items, &mut seq);
        let sets: Vec<String> = netlink::messages(&batch.bytes)[1..]
            .iter()
            .filter_map(|m| {
                let attrs = netlink::attributes(m.payload.get(4..)?);
                Some(String::from_utf8_lossy(attrs.get(1)?.value).into_owned())
            })
            .collect();
        assert_eq!(sets, ["banned_v4\0", "banned_v4\0", "banned_v6\0"]);
    }

    #[test]
    fn bad_table_names_are_refused() {
        assert!(SetWriter::new("a;b").is_err());
        assert_eq!(SetWriter::new("tollguard").unwrap().table(), "tollguard");
    }

    #[test]
    fn a_prefix_is_an_interval_start_with_the_timeout_and_a_flagged_end() {
        let mut seq = 1;
        let net: IpNet = "2001:db8:1:2::/64".parse().unwrap();
        let top: IpNet = "255.255.255.0/24".parse().unwrap();
        let batch = encode("t", &[(net, Kind::Add(60)), (top, Kind::Add(60))], &mut seq);
        let msgs = netlink::messages(&batch.bytes);
        assert_eq!(msgs.len(), 4, "begin, one message per prefix set, end");
        let set = |m: &netlink::Message| {
            let attrs = netlink::attributes(&m.payload[4..]);
            String::from_utf8_lossy(attrs[1].value).into_owned()
        };
        assert_eq!(set(&msgs[1]), "banned_nets_v4\0");
        assert_eq!(set(&msgs[2]), "banned_nets_v6\0");
        let elems = |m: &netlink::Message| -> Vec<(Vec<u8>, Vec<u16>)> {
            let attrs = netlink::attributes(&m.payload[4..]);
            netlink::attributes(attrs[2].value)
                .iter()
                .map(|e| {
                    let inner = netlink::attributes(e.value);
                    let key = netlink::attributes(inner[0].value)[0].value.to_vec();
                    (key, inner[1..].iter().map(|a| a.attr_type).collect())
                })
                .collect()
        };
        let v6 = elems(&msgs[2]);
        assert_eq!(v6.len(), 2);
        assert_eq!(v6[0].0[..8], [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2]);
        assert_eq!(v6[0].1, [NFTA_SET_ELEM_TIMEOUT]);
        assert_eq!(v6[1].0[..8], [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 3]);
        assert_eq!(v6[1].1, [NFTA_SET_ELEM_FLAGS]);
        // The top /24 has no end past it: one open interval.
        assert_eq!(elems(&msgs[1]).len(), 1);
    }
}
