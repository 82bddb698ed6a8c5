#!/usr/bin/env python3
"""Writes examples/attacked-pbx.log: four hours of a small FreePBX office PBX under attack.

Deterministic (random.Random(7), no clock): run it again and the file is byte-identical.

    python3 examples/make-attacked-pbx.py > examples/attacked-pbx.log

The log is what an administrator gets from `sort -m` of /var/log/asterisk/full (FreePBX's
`dateformat=%F %T`, security events routed to it) and /var/log/asterisk/freepbx_security.log.
Only documentation addresses are used (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
2001:db8::/32) plus 10.20.0.0/24 for the office LAN. The PBX itself is 203.0.113.5.

The story (what `tollguard scan examples/attacked-pbx.log` should tell):
  203.0.113.45      chan_sip password brute force on extension 100, two bursts: banned twice
                    (the second ban escalated), one From header forged to name a LAN address
  198.51.100.23     PJSIP extension enumeration, then toll-fraud calls to premium numbers
  2001:db8:4d2::66  PJSIP digest brute force over IPv6 (NOTICE + SECURITY line per attempt)
  192.0.2.77        AMI login guessing (two lines per attempt)
  198.51.100.140    FreePBX admin GUI password guessing
  203.0.113.200     three IAX2 guesses, 15 minutes apart: stays under every threshold
  10.20.0.31        an office phone with a stale password: three failures, 40 minutes apart,
                    stays under the threshold (and is trusted in attacked-pbx.toml)
Plus lines that must NOT name anyone: 'Failed to authenticate device' (address only in a SIP
header) and a 'Friendly Scanner' line (address from the Via header).
"""

import datetime
import random

rng = random.Random(7)
START = datetime.datetime(2026, 11, 24, 8, 0, 0)
SERVER = "203.0.113.5"
PHONES = {ext: "10.20.0.%d" % (20 + i) for i, ext in enumerate(range(101, 113))}
events = []  # (seconds since START, sequence, text)


def at(sec, text):
    events.append((sec, len(events), text))


def stamp(sec):
    return (START + datetime.timedelta(seconds=sec)).strftime("%Y-%m-%d %H:%M:%S")


def lwp():
    return rng.choice([1423, 1424, 1502, 1503, 1504, 2210, 2211])


def cid():
    return "[C-%08x]" % rng.randrange(1, 0x3000)


def callid():
    return "%08x-%04x@%s" % (rng.getrandbits(32), rng.getrandbits(16), SERVER)


def event_tv(sec):
    return (START + datetime.timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S") + ".%03d+0000" % rng.randrange(1000)


def security(sec, name, service, account, session, remote, extra=""):
    family = "IPV6" if ":" in remote else "IPV4"
    local = "IPV6/UDP/2001:db8::5/5060" if family == "IPV6" else "IPV4/UDP/%s/5060" % SERVER
    severity = "Informational" if name in ("ChallengeSent", "SuccessfulAuth") else "Error"
    version = "2" if name == "InvalidPassword" else "1"
    at(sec, '[%s] SECURITY[%d] res_security_log.c: SecurityEvent="%s",EventTV="%s",Severity="%s",'
       'Service="%s",EventVersion="%s",AccountID="%s",SessionID="%s",LocalAddress="%s",'
       'RemoteAddress="%s/UDP/%s/5060"%s'
       % (stamp(sec), lwp(), name, event_tv(sec), severity, service, version, account, session,
          local, family, remote, extra))


# ---------------------------------------------------------------- benign office traffic
HOURS = 4 * 3600
for ext, ip in PHONES.items():
    # Registrations every ~10 minutes, with their (benign) security events.
    sec = rng.randrange(0, 600)
    while sec < HOURS:
        c = callid()
        security(sec, "ChallengeSent", "PJSIP", ext, c, ip,
                 ',Challenge="%d/%032x"' % (1764000000 + sec, rng.getrandbits(128)))
        security(sec + 1, "SuccessfulAuth", "PJSIP", ext, c, ip, ',UsingPassword="1"')
        at(sec + 1, "[%s] VERBOSE[%d] res_pjsip_registrar.c: Added contact 'sip:%d@%s:5060;transport=udp' "
           "to AOR '%d' with expiration of 600 seconds" % (stamp(sec + 1), lwp(), ext, ip, ext))
        sec += 600 + rng.randrange(-30, 30)

sec = 0
while sec < HOURS:
    # Internal and outbound calls.
    a, b = rng.sample(sorted(PHONES), 2)
    c, n = cid(), rng.randrange(1, 0x500)
    outbound = rng.random() < 0.3
    dest = "0%d" % rng.randrange(100000000, 999999999) if outbound else str(b)
    dialled = "PJSIP/%s@trunk" % dest if outbound else "PJSIP/%s" % dest
    at(sec, '[%s] VERBOSE[%d]%s pbx.c: Executing [%s@from-internal:1] Dial("PJSIP/%s-%08x", "%s,30,tT") in new stack'
       % (stamp(sec), lwp(), c, dest, a, n, dialled))
    at(sec + 1, "[%s] VERBOSE[%d]%s app_dial.c: Called %s" % (stamp(sec + 1), lwp(), c, dialled))
    at(sec + 4, "[%s] VERBOSE[%d]%s app_dial.c: %s is ringing" % (stamp(sec + 4), lwp(), c, dialled))
    talk = rng.randrange(20, 400)
    at(sec + 9, "[%s] VERBOSE[%d]%s app_dial.c: %s answered PJSIP/%s-%08x"
       % (stamp(sec + 9), lwp(), c, dialled, a, n))
    at(sec + 10, "[%s] NOTICE[%d]%s res_rtp_asterisk.c: Strict RTP learning after remote address set to: %s:%d"
       % (stamp(sec + 10), lwp(), c, PHONES[a], rng.randrange(10000, 20000)))
    at(sec + 9 + talk, "[%s] VERBOSE[%d]%s pbx.c: Spawn extension (from-internal, %s, 1) exited non-zero on 'PJSIP/%s-%08x'"
       % (stamp(sec + 9 + talk), lwp(), c, dest, a, n))
    sec += rng.randrange(60, 240)

for sec in range(0, HOURS, 300):
    at(sec, "[%s] VERBOSE[%d] res_pjsip/pjsip_configuration.c: Endpoint trunk is now Reachable" % (stamp(sec), lwp()))
for sec in range(1800, HOURS, 3600):
    at(sec, "[%s] WARNING[%d] res_pjsip_outbound_registration.c: No response received from "
       "'sip:sip.trunk.example.net' on registration attempt to 'sip:4930123456@sip.trunk.example.net', "
       "retrying in '60'" % (stamp(sec), lwp()))
# The operator panel logs into AMI from the PBX itself.
for sec in range(120, HOURS, 1800):
    at(sec, "[%s] VERBOSE[%d] manager.c: Manager 'fop2' logged on from 127.0.0.1" % (stamp(sec), lwp()))
# The administrator logs into the GUI once.
at(5400, "[%s] [freepbx_security.NOTICE]: Authentication successful for admin from 10.20.0.10 [] []" % stamp(5400))

# ---------------------------------------------------------------- the LAN phone with a stale password
for i in range(3):
    sec = 3000 + i * 2400
    at(sec, "[%s] NOTICE[%d] chan_sip.c: Registration from '\"110\" <sip:110@%s:5060>' failed for '10.20.0.31:5060' - Wrong password"
       % (stamp(sec), lwp(), SERVER))

# ---------------------------------------------------------------- 203.0.113.45: chan_sip brute force, two bursts
for burst_start in (2 * 3600, 2 * 3600 + 5400):
    for i in range(40):
        sec = burst_start + i * 2
        name = '"100" <sip:100@%s:5060>' % SERVER
        if i == 7:
            # A forged To header naming a LAN phone: the address must still be 203.0.113.45.
            name = "\"10.20.0.21\" <sip:100@10.20.0.21>' failed for '10.20.0.21:5060' - Wrong password"
        at(sec, "[%s] NOTICE[%d] chan_sip.c: Registration from '%s' failed for '203.0.113.45:%d' - Wrong password"
           % (stamp(sec), lwp(), name, rng.choice([5060, 5071, 5080])))

# ---------------------------------------------------------------- 198.51.100.23: enumeration, then toll fraud
sec = 3600 + 1200
for ext in list(range(100, 130)) + [1000, 1001, 2000, 9999]:
    c = "%016x" % rng.getrandbits(64)
    at(sec, "[%s] NOTICE[%d] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:%d@%s>' failed for "
       "'198.51.100.23:5060' (callid: %s) - No matching endpoint found" % (stamp(sec), lwp(), ext, SERVER, c))
    security(sec, "InvalidAccountID", "PJSIP", ext, c, "198.51.100.23")
    sec += rng.randrange(1, 4)
at(sec, "[%s] NOTICE[%d] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:100@%s>' failed for "
   "'198.51.100.23:5060' (callid: %016x) - No matching endpoint found after 5 tries in 12.061 ms"
   % (stamp(sec), lwp(), SERVER, rng.getrandbits(64)))
sec += 300
for number in ["011972595123456", "00882161234567", "9011442071234567", "+37257123456", "00239123456"]:
    c = cid()
    at(sec, "[%s] NOTICE[%d]%s res_pjsip_session.c:  anonymous: Call (UDP:198.51.100.23:5060) to extension '%s' "
       "rejected because extension not found in context 'anonymous'." % (stamp(sec), lwp(), c, number))
    at(sec + 1, '[%s] WARNING[%d]%s Ext. s: "Rejecting unknown SIP connection from 198.51.100.23:5060"'
       % (stamp(sec + 1), lwp(), c))
    sec += rng.randrange(5, 20)

# ---------------------------------------------------------------- 2001:db8:4d2::66: PJSIP digest brute force over IPv6
sec = 3 * 3600 + 600
for i in range(25):
    c = "%08x-%04x@[2001:db8::5]" % (rng.getrandbits(32), rng.getrandbits(16))
    method = rng.choice(["INVITE", "REGISTER"])
    at(sec, "[%s] NOTICE[%d] res_pjsip/pjsip_distributor.c: Request '%s' from '\"101\" <sip:101@[2001:db8::5]>' failed for "
       "'[2001:db8:4d2::66]:5060' (callid: %s) - Failed to authenticate" % (stamp(sec), lwp(), method, c))
    security(sec, "ChallengeResponseFailed", "PJSIP", "101", c, "2001:db8:4d2::66",
             ',Challenge="%d/%032x",Response="%032x",ExpectedResponse=""'
             % (1764000000 + sec, rng.getrandbits(128), rng.getrandbits(128)))
    sec += rng.randrange(3, 9)

# ---------------------------------------------------------------- 192.0.2.77: AMI login guessing
sec = 2 * 3600 + 2400
for user in ["admin", "manager", "asterisk", "admin", "freepbx", "root", "amp111"]:
    at(sec, "[%s] NOTICE[%d] manager.c: 192.0.2.77 tried to authenticate with nonexistent user '%s'" % (stamp(sec), lwp(), user))
    security(sec, "InvalidAccountID", "AMI", user, "0x7f%010x" % rng.getrandbits(40), "192.0.2.77")
    at(sec, "[%s] NOTICE[%d] manager.c: 192.0.2.77 failed to authenticate as '%s'" % (stamp(sec), lwp(), user))
    sec += rng.randrange(4, 15)

# ---------------------------------------------------------------- 198.51.100.140: FreePBX GUI password guessing
sec = 3600 + 2700
for user in ["admin"] * 9 + ["root", "administrator", "admin", "freepbx", "admin"]:
    at(sec, "[%s] [freepbx_security.NOTICE]: Authentication failure for %s from 198.51.100.140 [] []" % (stamp(sec), user))
    sec += rng.randrange(5, 25)

# ---------------------------------------------------------------- 203.0.113.200: three slow IAX2 guesses
for i in range(3):
    sec = 600 + i * 900
    at(sec, "[%s] NOTICE[%d] chan_iax2.c: Host 203.0.113.200 failed to authenticate as 100" % (stamp(sec), lwp()))

# ---------------------------------------------------------------- lines that name no trustworthy address
at(4000, "[%s] NOTICE[%d][C-000004d2] chan_sip.c: Failed to authenticate device <sip:100@%s>;tag=as6f3a0c1e for INVITE, code = -1"
   % (stamp(4000), lwp(), SERVER))
at(4100, "[%s] WARNING[%d][C-000004e0] Ext. s: Friendly Scanner from 10.20.0.21" % (stamp(4100), lwp()))

for _, _, text in sorted(events):
    print(text)
