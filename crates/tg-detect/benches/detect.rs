//! Criterion benchmarks of `Detectors::detect`: one hit line per family, a miss line, and the
//! workload (`testdata/workload/gen_asterisk_log.py`, 80% benign Asterisk lines) per line.
//!
//! `cargo bench -p tg-detect --bench detect`; `TG_WORKLOAD=/tmp/w.log` benchmarks that file
//! instead of a generated 200,000-line one.

// criterion_group! defines an undocumented `pub fn benches`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tg_detect::{Detectors, Outcome};

const LINES: &[(&str, &str)] = &[
    ("miss_verbose", "[2026-11-20 19:49:01] VERBOSE[7650][C-0000a23f] pbx.c: Spawn extension (from-internal, 114, 1) exited non-zero on 'PJSIP/138-00011bf6'"),
    ("miss_notice", "[2026-11-20 14:21:01] NOTICE[9688][C-00009b6e] res_rtp_asterisk.c: Strict RTP learning after remote address set to: 10.20.0.13:10586"),
    ("miss_security_success", "[2026-11-20 22:35:33] SECURITY[1502] res_security_log.c: SecurityEvent=\"SuccessfulAuth\",EventTV=\"2026-11-20T22:35:33.753+0000\",Severity=\"Informational\",Service=\"PJSIP\",EventVersion=\"1\",AccountID=\"131\",SessionID=\"7b6c76f9-3a3b@10.20.0.42\",LocalAddress=\"IPV4/UDP/203.0.113.5/5060\",RemoteAddress=\"IPV4/UDP/10.20.0.42/5060\",UsingPassword=\"1\""),
    ("miss_syslog_other", "Nov 28 09:16:03 srv CRON[2]: pam_unix(cron:session): session opened for user root by (uid=0)"),
    ("miss_kernel_other", "Nov 28 09:16:03 srv kernel: [1234567.123456] nf_conntrack: nf_conntrack: table full, dropping packet"),
    ("miss_kernel_other_log", "Nov 28 09:16:03 srv kernel: [1234567.123456] ufw-block: IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=198.51.100.7 DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=0 DF PROTO=TCP SPT=40000 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0"),
    ("chan_sip_registration", "[2026-11-20 13:49:40] NOTICE[1431] chan_sip.c: Registration from '\"646\"<sip:646@203.0.113.5:5060>' failed for '198.18.173.67:5071' - Wrong password"),
    ("chan_sip_call_rejected", "[2026-11-21 03:32:40] NOTICE[1503][C-00004cbd] chan_sip.c: Call from '' (198.18.77.92:5060) to extension '00441678968799' rejected because extension not found in context 'default'."),
    ("pjsip_request_failed", "[2026-11-20 12:46:20] NOTICE[1503] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:308@203.0.113.5>' failed for '198.19.15.58:64047' (callid: 66b384df26ccd478) - No matching endpoint found"),
    ("pjsip_call_rejected", "[2026-11-21 03:32:40] NOTICE[1503][C-00004cbd] res_pjsip_session.c:  anonymous: Call (UDP:198.18.77.92:5060) to extension '0044167' rejected because extension not found in context 'anonymous'."),
    ("pjsip_registrar", "[2024-01-01 10:00:00] WARNING[1] res_pjsip_registrar.c: AOR 'x' not found for endpoint '100' (2001:db8::9:5060)"),
    ("iax2", "[2026-11-20 13:49:40] NOTICE[1431] chan_iax2.c: Host 198.18.5.98 failed to authenticate as 'admin'"),
    ("ami", "[2016-05-06 07:08:09] NOTICE[31554] manager.c: 192.0.2.4 tried to authenticate with nonexistent user 'opennms'"),
    ("security_event", "[2026-11-20 17:17:33] SECURITY[1505] res_security_log.c: SecurityEvent=\"InvalidAccountID\",EventTV=\"2026-11-20T17:17:33.282+0000\",Severity=\"Error\",Service=\"SIP\",EventVersion=\"1\",AccountID=\"guest\",SessionID=\"0xb998b1ab4f7\",LocalAddress=\"IPV4/UDP/203.0.113.5/5060\",RemoteAddress=\"IPV4/UDP/198.19.100.17/5070\""),
    ("freepbx_rejecting", "Mar  1 15:35:53 pbx asterisk[2350]: WARNING[1195][C-00000b43]: Ext. s:6 in @ from-sip-external: \"Rejecting unknown SIP connection from 192.0.2.2\""),
    ("freepbx_gui", "[2024-01-01 10:00:00] [freepbx_security.NOTICE]: Authentication failure for admin from 192.0.2.9 [] []"),
    ("json_formatter", "{\"hostname\":\"pbx\",\"timestamp\":\"2024-01-01 10:00:00.123\",\"identifiers\":{\"lwp\":1,\"callid\":\"\"},\"logmsg\":{\"location\":{\"filename\":\"manager.c\",\"function\":\"authenticate\",\"line\":1},\"level\":\"NOTICE\",\"message\":\"192.0.2.4 failed to authenticate as 'x'\"}}"),
    ("sshd", "Feb 25 14:34:10 belka sshd[31602]: Failed password for invalid user ROOT from 194.117.26.69 port 50273 ssh2"),
    ("apache", "[Sat Jul 20 21:37:32.266605 2013] [auth_basic:error] [pid 17512:tid 140123079128832] [client 127.0.0.1:51386] AH01618: user  not found: /basic/file/cant_get_me.html"),
    ("nginx", "2012/04/09 11:53:36 [error] 2865#0: *66647 user \"xyz\": password mismatch, client: 192.0.43.10, server: www.myhost.com, request: \"GET / HTTP/1.1\", host: \"www.myhost.com\""),
    ("vsftpd", "Oct 23 21:15:42 vps vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=test rhost=58.254.172.161"),
    ("proftpd", "Jun 09 07:30:58 ftp proftpd[11864] ftp.example.com (mail.example.net[::ffff:67.227.224.66]): USER username (Login failed): Incorrect password."),
    ("netfilter_flood", "Nov 28 09:16:03 srv kernel: [1234567.123456] tollguard-flood: IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=198.51.100.7 DST=192.0.2.1 LEN=433 TOS=0x00 PREC=0x00 TTL=52 ID=0 DF PROTO=UDP SPT=5070 DPT=5060 LEN=413"),
    ("pure_ftpd", "Jan 31 16:54:07 desktop pure-ftpd: (?@24.79.92.194) [WARNING] Authentication failed for user [Administrator]"),
];

fn per_line(c: &mut Criterion) {
    let det = Detectors::builtin();
    let mut group = c.benchmark_group("line");
    for (name, line) in LINES {
        let hit = matches!(det.detect(line.as_bytes()), Outcome::Found(_));
        assert_eq!(hit, !name.starts_with("miss"), "{name}");
        group.bench_function(*name, |b| b.iter(|| det.detect(black_box(line.as_bytes()))));
    }
    group.finish();
}

fn workload_text() -> Vec<u8> {
    if let Some(path) = std::env::var_os("TG_WORKLOAD") {
        return std::fs::read(&path).expect("TG_WORKLOAD is readable");
    }
    let generator = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/workload/gen_asterisk_log.py");
    let out = std::env::temp_dir().join("tg-detect-bench-workload.log");
    let status = Command::new("python3")
        .arg(&generator)
        .args(["--seed", "42", "--lines", "200000", "--attack-ratio", "0.2"])
        .args(["--attackers", "500", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .expect("python3 runs the workload generator");
    assert!(status.success());
    std::fs::read(&out).expect("generated workload")
}

fn workload(c: &mut Criterion) {
    let text = workload_text();
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let det = Detectors::builtin();
    let mut group = c.benchmark_group("workload");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.sample_size(20);
    group.bench_function("gen_asterisk_log_single_thread", |b| {
        b.iter(|| {
            let mut found = 0u32;
            for line in &lines {
                found += u32::from(matches!(det.detect(line), Outcome::Found(_)));
            }
            found
        })
    });
    group.finish();
}

criterion_group!(benches, per_line, workload);
criterion_main!(benches);
