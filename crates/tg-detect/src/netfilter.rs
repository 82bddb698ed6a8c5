//! The kernel's netfilter log lines written by tollguard's own firewall: the SIP flood limit's
//! `log prefix "tollguard-flood: "` rule (tg-firewall's `render`), counted as
//! `service = firewall, kind = flood` for the built-in `flood` jail.
//!
//! The kernel (`net/netfilter/nf_log_syslog.c`) writes the rule's prefix, then
//! `IN=<dev> OUT=<dev> `, optionally `PHYSIN=`/`PHYSOUT=`, then the link header (`MAC=<hex>` or,
//! with `log flags ether`, `MACSRC=… MACDST=… MACPROTO=…`), then `SRC=<addr> DST=<addr> ` with
//! `%pI4` (dotted quad) or `%pI6` (eight groups of four hex digits, uncompressed), then the IP
//! and transport fields (`… PROTO=UDP SPT=5070 DPT=5060 LEN=…`). Every byte of it is the
//! kernel's: interface names are the administrator's, the rest is numbers and hex. Nothing the
//! sender controls is printed as text, so the address is the one ` SRC=` field before ` DST=`.
//! The line is still read as strictly as the other families: a second ` SRC=` field (which no
//! kernel writes: the inner packet of an ICMP error is printed as `[SRC=…`, and `MACSRC=` is
//! another word) or an address not closed by ` DST=` (a truncated line, where `203.0.113.99`
//! may have lost its last digit) makes it `Suspicious`, never a finding.
//!
//! The program is read from the logger's tag, which must be exactly `kernel`: rsyslog's
//! `kernel: ` (kern.log, syslog, messages), the journal's `SYSLOG_IDENTIFIER=kernel` as the
//! daemon writes it. A program logging the same text under another tag is not this family.
//! Like every tag-based family, the tag is as trustworthy as the local log path: a local
//! program can still write `kernel:` lines to syslog (as it can write `sshd:` ones), which is
//! why the `flood` jail follows `kern.log` (facility `kern`) and the journal's
//! `_TRANSPORT=kernel` entries rather than the all-programs `syslog` file.

use tg_model::{Kind, Service};

use crate::addr;
use crate::find;
use crate::verdict::{AttemptOf, Verdict};

/// The log prefix tg-firewall's flood rule writes (`tg_firewall::FLOOD_LOG_PREFIX`; the
/// tollguard crate's `scan_flood` test keeps the two equal).
pub const FLOOD_LOG_PREFIX: &str = "tollguard-flood: ";

/// A message from the `kernel` tag: a flood line, or `Nothing` for every other kernel message.
// Out of line: inlined, it tipped the compiler into calling (not inlining) `services::tagged`
// on every syslog line, ~4 ns a line of any program (`benches/miss_ab.sh`).
#[inline(never)]
pub(crate) fn kernel(body: &[u8]) -> Verdict {
    let Some(m) = flood_message(body) else {
        return Verdict::Nothing;
    };
    // Our prefix from the kernel: an attack line from here on, with or without an address.
    if !m.starts_with(b"IN=") {
        return Verdict::suspicious(Service::Firewall, Kind::Flood);
    }
    let mut fields = find::find_iter(m, b" SRC=");
    let (Some(at), None) = (fields.next(), fields.next()) else {
        return Verdict::suspicious(Service::Firewall, Kind::Flood);
    };
    let rest = &m[at + 5..];
    let Some(end) = find::find(rest, b" DST=") else {
        return Verdict::suspicious(Service::Firewall, Kind::Flood);
    };
    match addr::ip(&rest[..end]) {
        // Every flood line of one address within one second is one count. The log rule lets a
        // burst of ten lines through at once, so counting lines would ban a sender that crossed
        // the limit once; counting seconds with drops measures how long it flooded.
        Some(ip) => {
            Verdict::hit(Service::Firewall, Kind::Flood, ip).with_attempt(AttemptOf::Second)
        }
        None => Verdict::suspicious(Service::Firewall, Kind::Flood),
    }
}

/// The message after our prefix, behind what printk puts before a message when rsyslog keeps
/// it (`print_time`, `print_caller` and one space in the kernel's `printk.c`): the uptime
/// `[%5lu.%06lu]` (`[12345.678901]`, `[    5.123456]`), with `CONFIG_PRINTK_CALLER` the caller
/// `[%6s]` (`[    T123]`, `[    C1]`) right after it. The journal's message has neither.
///
/// Most kernel lines are someone else's: the groups' contents are checked only once our
/// prefix is found behind them, so another message costs a `memchr` and two byte compares.
fn flood_message(body: &[u8]) -> Option<&[u8]> {
    let prefix = FLOOD_LOG_PREFIX.as_bytes();
    if let Some(m) = body.strip_prefix(prefix) {
        return Some(m);
    }
    let (first, rest) = bracket_group(body)?;
    let (second, rest) = match bracket_group(rest) {
        Some((group, rest)) => (Some(group), rest),
        None => (None, rest),
    };
    let m = rest.strip_prefix(b" ")?.strip_prefix(prefix)?;
    let printk = match second {
        None => is_uptime(first) || is_caller(first),
        Some(caller) => is_uptime(first) && is_caller(caller),
    };
    printk.then_some(m)
}

/// `[inner]rest` with a short `inner` (printk's groups are at most 20 bytes).
fn bracket_group(m: &[u8]) -> Option<(&[u8], &[u8])> {
    let inner = m.strip_prefix(b"[")?;
    let close = memchr::memchr(b']', &inner[..inner.len().min(24)])?;
    Some((&inner[..close], &inner[close + 1..]))
}

/// `12345.678901` or `    5.123456`.
fn is_uptime(s: &[u8]) -> bool {
    let s = &s[s.iter().take_while(|&&b| b == b' ').count()..];
    let Some(dot) = memchr::memchr(b'.', s) else {
        return false;
    };
    let (secs, micros) = (&s[..dot], &s[dot + 1..]);
    !secs.is_empty()
        && !micros.is_empty()
        && secs.iter().all(u8::is_ascii_digit)
        && micros.iter().all(u8::is_ascii_digit)
}

/// `    T123` (a task) or `    C1` (a CPU), right-aligned.
fn is_caller(s: &[u8]) -> bool {
    let s = &s[s.iter().take_while(|&&b| b == b' ').count()..];
    matches!(s, [b'T' | b'C', id @ ..] if !id.is_empty() && id.iter().all(u8::is_ascii_digit))
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use tg_model::Stamp;

    use super::*;
    use crate::{Detection, Detectors, Outcome};

    const V4_BODY: &str = "tollguard-flood: IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.9 DST=192.0.2.1 LEN=433 TOS=0x00 PREC=0x00 TTL=52 ID=0 DF PROTO=UDP SPT=5070 DPT=5060 LEN=413";
    /// `%pI6` is the full form: eight groups of four digits.
    const V6_BODY: &str = "tollguard-flood: IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:86:dd SRC=2001:0db8:0000:0000:0000:0000:0000:0009 DST=2001:0db8:0000:0000:0000:0000:0000:0001 LEN=453 TC=0 HOPLIMIT=56 FLOWLBL=0 PROTO=UDP SPT=5070 DPT=5060 LEN=413";

    fn detect(line: &str) -> Outcome {
        Detectors::builtin().detect(line.as_bytes())
    }

    #[track_caller]
    fn flood(line: &str, ip: &str) -> Detection {
        match detect(line) {
            Outcome::Found(d) => {
                assert_eq!(
                    (d.service, d.kind, d.ip),
                    (
                        Service::Firewall,
                        Kind::Flood,
                        ip.parse::<IpAddr>().unwrap()
                    ),
                    "{line}"
                );
                d
            }
            other => panic!("expected a flood finding, got {other:?} for {line}"),
        }
    }

    #[test]
    fn every_envelope_of_the_kernel_line() {
        let v4 = "203.0.113.9";
        let v6 = "2001:db8::9";
        for (envelope, body, ip) in [
            // rsyslog, traditional format, printk uptime kept (kern.log, syslog, messages).
            ("Nov 25 10:00:01 pbx kernel: [12345.678901] ", V4_BODY, v4),
            ("Nov  5 10:00:01 pbx kernel: [    5.123456] ", V6_BODY, v6),
            (
                "Nov 25 10:00:01 pbx kernel: [12345.678901][    T0] ",
                V4_BODY,
                v4,
            ),
            // rsyslog without the uptime, and the journal's entry as the daemon writes it.
            ("Nov 25 10:00:01 pbx kernel: ", V4_BODY, v4),
            ("Nov 25 10:00:01 pbx kernel: ", V6_BODY, v6),
            // rsyslog's RFC 3339 file format, and RFC 5424 forwarding.
            (
                "2026-11-25T10:00:01.123456+01:00 pbx kernel: [12345.678901] ",
                V4_BODY,
                v4,
            ),
            ("2026-11-25T10:00:01.123456+00:00 pbx kernel: ", V6_BODY, v6),
            (
                "<4>1 2026-11-25T10:00:01.123456+00:00 pbx kernel - - - ",
                V4_BODY,
                v4,
            ),
        ] {
            let line = format!("{envelope}{body}");
            let d = flood(&line, ip);
            assert!(d.stamp.is_some(), "no time read from {line}");
            assert!(d.attempt.is_some(), "no per-second key for {line}");
        }
        let d = flood(
            &format!("2026-11-25T10:00:01.123456+01:00 pbx kernel: {V4_BODY}"),
            v4,
        );
        assert_eq!(d.stamp, Some(Stamp::Absolute(1_795_597_201_123)));
    }

    #[test]
    fn other_field_layouts_the_kernel_writes() {
        let ip = "203.0.113.9";
        for body in [
            // TCP (`ct state new` to a SIP TLS/TCP port).
            "IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.9 DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=54321 DF PROTO=TCP SPT=40000 DPT=5061 WINDOW=64240 RES=0x00 SYN URGP=0",
            // `log flags ether`: MACSRC= is not a SRC= field.
            "IN=eth0 OUT= MACSRC=52:54:00:65:43:21 MACDST=52:54:00:12:34:56 MACPROTO=0800 SRC=203.0.113.9 DST=192.0.2.1 LEN=433 TOS=0x00 PREC=0x00 TTL=52 ID=0 DF PROTO=UDP SPT=5070 DPT=5060 LEN=413",
            // A bridge port, no link header (a tunnel device), an IPv4-mapped source.
            "IN=br0 OUT= PHYSIN=eth1 MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.9 DST=192.0.2.1 LEN=433 TOS=0x00 PREC=0x00 TTL=52 ID=0 PROTO=UDP SPT=5070 DPT=5060 LEN=413",
            "IN=wg0 OUT= MAC= SRC=203.0.113.9 DST=192.0.2.1 LEN=433 TOS=0x00 PREC=0x00 TTL=52 ID=0 PROTO=UDP SPT=5070 DPT=5060 LEN=413",
            "IN=eth0 OUT= MAC=  SRC=0000:0000:0000:0000:0000:ffff:cb00:7109 DST=2001:0db8:0000:0000:0000:0000:0000:0001 LEN=453 TC=0 HOPLIMIT=56 FLOWLBL=0 PROTO=UDP SPT=5070 DPT=5060 LEN=413",
            // An ICMP error prints its inner packet as `[SRC=…`: not a second field.
            "IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.9 DST=192.0.2.1 LEN=576 TOS=0x00 PREC=0xC0 TTL=52 ID=1 PROTO=ICMP TYPE=3 CODE=3 [SRC=192.0.2.1 DST=198.51.100.7 LEN=433 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=UDP SPT=5060 DPT=5070 LEN=413 ]",
        ] {
            flood(
                &format!("Nov 25 10:00:01 pbx kernel: [12345.678901] tollguard-flood: {body}"),
                ip,
            );
        }
    }

    #[test]
    fn one_count_per_address_and_second() {
        let at = |time: &str, src: &str| {
            let line = format!(
                "Nov 25 {time} pbx kernel: tollguard-flood: IN=eth0 OUT= MAC= SRC={src} DST=192.0.2.1 LEN=1 PROTO=UDP SPT=1 DPT=5060 LEN=1"
            );
            match detect(&line) {
                Outcome::Found(d) => d.attempt,
                other => panic!("{other:?} for {line}"),
            }
        };
        assert_eq!(at("10:00:01", "203.0.113.9"), at("10:00:01", "203.0.113.9"));
        assert_ne!(at("10:00:01", "203.0.113.9"), at("10:00:02", "203.0.113.9"));
    }

    #[test]
    fn only_the_kernel_tag_counts() {
        for envelope in [
            "Nov 25 10:00:01 pbx kernel2: ",
            "Nov 25 10:00:01 pbx sshd[42]: ",
            "Nov 25 10:00:01 pbx Kernel: ",
            "Nov 25 10:00:01 pbx logger: kernel: ",
            "Nov 25 10:00:01 pbx myapp[7]: [12345.678901] ",
            "Nov 25 10:00:01 pbx asterisk[7]: ",
            "[Nov 25 10:00:01] NOTICE[1] chan_sip.c: ",
            "",
        ] {
            let line = format!("{envelope}{V4_BODY}");
            assert_eq!(detect(&line), Outcome::Nothing, "{line}");
        }
        // Other kernel messages, other log prefixes.
        for body in [
            "[12345.678901] nf_conntrack: nf_conntrack: table full, dropping packet",
            "[12345.678901] ufw-block: IN=eth0 OUT= MAC= SRC=203.0.113.9 DST=192.0.2.1 LEN=1",
            "tollguard-flood:IN=eth0 OUT= MAC= SRC=203.0.113.9 DST=192.0.2.1 LEN=1",
            "x tollguard-flood: IN=eth0 OUT= MAC= SRC=203.0.113.9 DST=192.0.2.1 LEN=1",
            "",
        ] {
            let line = format!("Nov 25 10:00:01 pbx kernel: {body}");
            assert_eq!(detect(&line), Outcome::Nothing, "{line}");
        }
    }

    #[test]
    fn hostile_or_broken_lines_are_never_a_wrong_address() {
        let head = "Nov 25 10:00:01 pbx kernel: [12345.678901] tollguard-flood: ";
        for body in [
            // Two SRC= fields.
            "IN=eth0 OUT= MAC= SRC=9.9.9.9 DST=192.0.2.1 SRC=203.0.113.9 DST=192.0.2.1 LEN=1",
            "IN=eth0 OUT= MAC=00:11 SRC=9.9.9.9 SRC=203.0.113.9 DST=192.0.2.1 LEN=1",
            // Truncated: no address, a cut address, an address with nothing after it.
            "IN=eth0 OUT= MAC=52:54",
            "IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.11",
            "IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.9",
            "IN=eth0 OUT= MAC= SRC=203.0.113.9 DST",
            // Not what the kernel writes after the prefix.
            "hello SRC=203.0.113.9 DST=192.0.2.1",
            // No address where the address goes, invalid UTF-8 in it.
            "IN=eth0 OUT= MAC= SRC=pbx.example.com DST=192.0.2.1 LEN=1",
            "IN=eth0 OUT= MAC= SRC= DST=192.0.2.1 LEN=1",
            "IN=eth0 OUT= MAC= SRC=203.0.113.9 LEN=1 DST=192.0.2.1",
        ] {
            let line = format!("{head}{body}");
            assert!(matches!(detect(&line), Outcome::Suspicious(_)), "{line}");
        }
        // Cut right after the prefix: trailing blanks go, so not even the prefix is left.
        assert_eq!(detect(head), Outcome::Nothing);
        let mut bad = format!("{head}IN=eth0 OUT= MAC= SRC=203.0.113.9").into_bytes();
        bad.extend_from_slice(b"\xff\xfe DST=192.0.2.1 LEN=1");
        assert!(matches!(
            Detectors::builtin().detect(&bad),
            Outcome::Suspicious(_)
        ));
        // Junk glued to the MAC field is not a SRC= field; the real one still counts.
        flood(
            &format!(
                "{head}IN=eth0 OUT= MAC=00:11:SRC=9.9.9.9 SRC=203.0.113.9 DST=192.0.2.1 LEN=1"
            ),
            "203.0.113.9",
        );
        let mut odd = format!("{head}IN=eth\u{0}").into_bytes();
        odd.extend_from_slice(b"\xff OUT= MAC= SRC=203.0.113.9 DST=192.0.2.1 LEN=1");
        assert!(
            matches!(Detectors::builtin().detect(&odd), Outcome::Found(d) if d.ip.to_string() == "203.0.113.9")
        );
    }

    #[test]
    fn printk_prefixes_come_off() {
        for body in [
            &b"tollguard-flood: x"[..],
            b"[12345.678901] tollguard-flood: x",
            b"[    5.123456] tollguard-flood: x",
            b"[    5.123456][  T812] tollguard-flood: x",
            b"[    C1] tollguard-flood: x",
        ] {
            let got = flood_message(body);
            assert_eq!(got, Some(&b"x"[..]), "{:?}", String::from_utf8_lossy(body));
        }
        // Not printk's groups, or not our prefix behind them.
        for body in [
            &b"[12345] tollguard-flood: x"[..],
            b"[.5] tollguard-flood: x",
            b"[1.2]tollguard-flood: x",
            b"[1.2]  tollguard-flood: x",
            b"[T] tollguard-flood: x",
            b"[X12] tollguard-flood: x",
            b"[    T1][1.2] tollguard-flood: x",
            b"[UFW BLOCK] tollguard-flood: x",
            b"[12345.678901] nf_conntrack: table full",
            b"[12345.678901] tollguard-flood:x",
            b"[",
            b"",
        ] {
            let got = flood_message(body);
            assert_eq!(got, None, "{:?}", String::from_utf8_lossy(body));
        }
    }
}
