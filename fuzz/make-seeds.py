#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/seed-*) from the repository's own
test data: testdata/, examples/, the crates' test fixtures, and messages laid out as the crates'
unit tests lay them out. Inputs a fuzzer found (crash-*, found-*) are kept beside the seeds and
never touched here. Run from anywhere: python3 fuzz/make-seeds.py
"""

import csv
import glob
import os
import re
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def rel(*p):
    return os.path.join(ROOT, *p)


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for f in glob.glob(os.path.join(d, "seed-*")):
        os.remove(f)
    for i, data in enumerate(seeds):
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
            f.write(data)


def lines(path, n=None):
    with open(rel(path), "rb") as f:
        out = f.read().split(b"\n")
    return [l for l in out if l][:n]


# detect: a few lines of every public corpus file, the real Asterisk logs, the JSON formatter,
# the kernel's flood log line and the bundled attacked PBX's log.
detect = []
for tsv in sorted(glob.glob(rel("testdata/corpus/*.tsv"))):
    with open(tsv, newline="", encoding="utf-8", errors="surrogateescape") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    for row in rows[:: max(1, len(rows) // 5)][:5]:
        detect.append(row[-1].encode("utf-8", "surrogateescape"))
for log in sorted(glob.glob(rel("testdata/real-asterisk/*.messages"))):
    detect += lines(os.path.relpath(log, ROOT), 3)
detect.append(
    '{"hostname":"pbx","timestamp":"2024-01-01 10:00:00.123","identifiers":{"lwp":1,"callid":""},'
    '"logmsg":{"location":{"filename":"chan_sip.c","function":"handle_request_register","line":1},'
    '"level":"NOTICE","message":"Registration from \'<sip:301@example.com>\' failed for '
    "'1.2.3.4:5060' - Wrong password\"}}"
)
detect.append(
    "Nov 25 10:00:01 pbx kernel: [ 12.345678] tollguard-flood: IN=eth0 OUT= "
    "MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.9 DST=192.0.2.1 LEN=433 "
    "TOS=0x00 PREC=0x00 TTL=52 ID=0 DF PROTO=UDP SPT=5070 DPT=5060 LEN=413"
)
attacked = [l for l in lines("examples/attacked-pbx.log") if b"failed for" in l or b"SECURITY" in l]
detect += attacked[:4]
write("detect", detect)

# netlink: datagrams as the kernel sends them (layout of tg-nft's and tg-enforce's unit tests).
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_CAPPED, NLM_F_ACK_TLVS, NLM_F_MULTI = 0x100, 0x200, 0x2


def pad(b):
    return b + b"\0" * (-len(b) % 4)


def attr(t, value):
    return pad(struct.pack("=HH", 4 + len(value), t) + value)


def msg(t, flags, seq, payload):
    return pad(struct.pack("=IHHII", 16 + len(payload), t, flags, seq, 0) + payload)


def ack(errno, flags, seq, text=None):
    body = struct.pack("=i", -errno) + struct.pack("=IHHII", 40, 0x0A0C, 5, seq, 0)
    if text is not None:
        body += attr(1, text.encode() + b"\0")
    return msg(NLMSG_ERROR, flags, seq, body)


def ct_entry(src, family, seq, zone=False):
    t = 1 if len(src) == 4 else 3
    ip = attr(1 | 0x8000, attr(t, src) + attr(t + 1, bytes(len(src))))
    proto = attr(2 | 0x8000, attr(1, b"\x11") + attr(2, b"\x13\xc4") + attr(3, b"\x13\xc4"))
    body = struct.pack("=BBH", family, 0, 0) + attr(1 | 0x8000, ip + proto)
    if zone:
        body += attr(18, b"\x00\x01")
    return msg((1 << 8) | 0, NLM_F_MULTI, seq, body)


write(
    "netlink",
    [
        ack(0, NLM_F_CAPPED, 5),
        ack(2, NLM_F_CAPPED | NLM_F_ACK_TLVS, 5, "no set"),
        ack(1, 0, 7),
        ack(0, NLM_F_CAPPED, 5) + ack(17, NLM_F_CAPPED | NLM_F_ACK_TLVS, 6, "exists"),
        ct_entry(bytes([203, 0, 113, 5]), 2, 9) + msg(NLMSG_DONE, NLM_F_MULTI, 9, b"\0\0\0\0"),
        ct_entry(bytes.fromhex("20010db8000000000000000000000001"), 10, 9, zone=True),
    ],
)

# ami: the scripted AMI server's frames (crates/tg-guard/tests/guard_ami.rs) and the real
# Asterisk security events of testdata/real-asterisk as AMI sends them. The first byte is the
# read buffer's size.
ami = [
    "Asterisk Call Manager/7.0.3\r\nResponse: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n",
    "Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/1001-00000001\r\nChannelState: 4\r\n"
    "CallerIDNum: 1001\r\nContext: from-internal\r\nExten: 011442079460000\r\nUniqueid: 1714557600.1\r\n\r\n",
    "Event: DialBegin\r\nPrivilege: call,all\r\nChannel: PJSIP/1001-00000001\r\n"
    "DestChannel: PJSIP/trunk-00000002\r\nDialString: 011442079460000@trunk\r\n\r\n",
    "Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/1001-00000001\r\nCause: 16\r\n"
    "Cause-txt: Normal Clearing\r\n\r\n",
    "Event: InvalidPassword\r\nPrivilege: security,all\r\nEventTV: 2025-04-18T21:00:00.123+0000\r\n"
    "Severity: Error\r\nService: PJSIP\r\nEventVersion: 2\r\nAccountID: 1005\r\nSessionID: 0x7f\r\n"
    "LocalAddress: IPV4/UDP/192.0.2.10/5060\r\nRemoteAddress: IPV4/UDP/203.0.113.5/5060\r\n"
    "Challenge: 1a2b\r\nReceivedChallenge: 1a2b\r\nReceivedHash: ffff\r\n\r\n",
    "Response: Success\r\nActionID: 2\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n"
    "Event: CoreShowChannelsComplete\r\nEventList: Complete\r\nListItems: 0\r\nActionID: 2\r\n\r\n",
]
for log in sorted(glob.glob(rel("testdata/real-asterisk/*.security"))):
    for line in lines(os.path.relpath(log, ROOT), 3):
        fields = re.findall(rb'(\w+)="([^"]*)"', line)
        frame = b"".join(
            (b"Event" if k == b"SecurityEvent" else k) + b": " + v + b"\r\n" for k, v in fields
        )
        ami.append(frame.replace(b"\r\n", b"\r\nPrivilege: security,all\r\n", 1) + b"\r\n")
write("ami", [bytes([[7, 255, 0, 31][i % 4]]) + (a.encode() if isinstance(a, str) else a)
              for i, a in enumerate(ami)])

# cdr: the bundled Master.csv's first lines, every layout of cdr.rs's tests, and a few broken
# lines. The first byte is the read buffer's size.
master = lines("examples/cdr/Master.csv")
BASE = (
    b'"","1001","011442079460000","from-internal","""Alice"" <1001>","PJSIP/1001-00000001",'
    b'"PJSIP/trunk-00000002","Dial","PJSIP/011442079460000@trunk,60","2024-05-01 10:00:00",'
    b'"2024-05-01 10:00:05","2024-05-01 10:02:05",125,120,"ANSWERED","DOCUMENTATION"'
)
cdr = [
    b"\n".join(master[0:4]) + b"\n",
    b"\n".join(master[100:103]) + b"\n",
    b"\r\n".join(master[500:502]) + b"\r\n",
    BASE + b"\n" + BASE + b',"1714557600.1"\n' + BASE + b',"1714557600.1",""\n'
    + BASE + b',"1714557600.1","","","1714557600.1",7\r\n',
    b'"","1001","2000","from-internal","","PJSIP/1001-1","","Dial","PJSIP/2000",'
    b'"2024-05-01 10:00:00",,"2024-05-01 10:00:20",20,0,"NO ANSWER","DOCUMENTATION"',
    b"garbage\n" + BASE + b'\n"unterminated,1,2\n\xff\xfe\x00binary\n\n' + BASE,
]
write("cdr", [bytes([[255, 0, 12, 63][i % 4]]) + c for i, c in enumerate(cdr)])

# conf: the audit's fixtures (every small .conf), broken ones included.
confs = sorted(glob.glob(rel("crates/tg-audit/tests/fixtures/**/*.conf"), recursive=True))
conf = [open(c, "rb").read() for c in confs if os.path.getsize(c) <= 8192]
conf = conf[:: max(1, len(conf) // 30)]
conf.append(b"[general]\n#include sip_custom.conf\n#tryinclude pjsip.d/*.conf\n#include loop.conf\n")
write("conf", conf)

# dialplan: every extensions*.conf of the fixtures.
write(
    "dialplan",
    [open(c, "rb").read() for c in confs if "extensions" in os.path.basename(c)],
)

# journal: entries as journalctl -o json prints them (tg-source's journal tests).
write(
    "journal",
    [
        '{"__CURSOR":"s=eb4645e73c744bd39be40880764530d4;i=3;b=9f3a60259ce34931ab31afabdcfc9f5f;'
        'm=26b076047;t=661189acf627c;x=606f303314fa9a18","__REALTIME_TIMESTAMP":"1764064801000000",'
        '"_HOSTNAME":"pbx","SYSLOG_IDENTIFIER":"sshd","_PID":"42",'
        '"MESSAGE":"Failed password for root from 203.0.113.9 port 22 ssh2"}\n',
        '{"__CURSOR":"c","MESSAGE":[104,105,255]}',
        '{"__CURSOR":"evil","SYSLOG_IDENTIFIER":"sshd",'
        '"MESSAGE":"Failed password for root from 198.51.100.99 port 22 ssh2"}\n',
        '{"__CURSOR":"t=661189acf627c;i=1","_COMM":"asterisk","_PID":"1424",'
        '"__REALTIME_TIMESTAMP":"-5","MESSAGE":"line one\\nline two","_HOSTNAME":null}',
        "s=eb4645e73c744bd39be40880764530d4;i=3;b=9f3a60259ce34931ab31afabdcfc9f5f;m=26b076047;t=661189acf627c;x=606f303314fa9a18",
    ],
)

# control: the requests of tg-daemon's protocol (each command, and refused ones).
write(
    "control",
    [
        '{"cmd":"status"}\n',
        '{"cmd":"bans"}\n',
        '{"cmd":"ban","ip":"198.51.100.7","secs":3600}\n',
        '{"cmd":"ban","ip":"2001:db8::1"}\n',
        '{"cmd":"unban","ip":"::ffff:192.0.2.1"}\n',
        '{"cmd":"reload"}\n{"cmd":"status"}\n',
        '{"cmd":"ban","ip":"999.1.1.1"}\n',
        '{"cmd":"rm -rf"}\n',
        "not json\n",
    ],
)

# config: the example configurations.
write(
    "config",
    [open(rel(p), "rb").read() for p in ["tollguard.example.toml", "examples/attacked-pbx.toml"]]
    + [open(p, "rb").read() for p in sorted(glob.glob(rel("examples/config/*.toml")))]
    + [
        b"[jail.sip]\nmax_retry = 3\n",
        b'[trusted]\naddresses = ["10.0.0.0/33", "not an address!"]\n[jail.sip]\nmax_retry = 0\n',
        b'[[detector]]\nname = "x"\nservice = "custom"\nkind = "other"\npattern = \'from <HOST> (\'\n',
    ],
)
