#!/usr/bin/env python3
"""Writes decoys.tsv: the red-team corpus of issue #12.1.

Every attacker-controlled field of every log family tollguard reads, with a decoy address
written in the server's own fixed text around it, placed before the real address, after it,
or on both sides. Columns: family, field(s), placement, expect, real, decoy, line.

expect is what tg-detect must answer (crates/tg-detect/tests/redteam.rs checks every row):
  found      the server's grammar places the address: found with `real`, never `decoy`;
  ambiguous  the text alone cannot tell (attacker text on both sides of the address and no
             syntax the server enforces): Suspicious, naming `real` and `decoy` both, for
             evidence outside the line (the daemon's conntrack check) to settle.

Run it from anywhere: python3 testdata/redteam/make_decoys.py  (it rewrites decoys.tsv beside it).
"""

import os

R, D = "198.51.100.7", "203.0.113.9"
R6, D6 = "2001:db8::7", "2001:db8::9"

AST = "[2026-11-25 10:00:01] "
rows = []


def row(family, field, placement, expect, line, real=R, decoy=D):
    assert "\t" not in line and "\n" not in line
    rows.append((family, field, placement, expect, real, decoy, line))


def three(family, field, template, before, after, benign, expect, real=R, decoy=D):
    """`template` has {r} (the real address) and {b}/{a} (the field before/after it)."""
    for placement, b, a in (
        ("before", before, benign[1]),
        ("after", benign[0], after),
        ("both", before, after),
    ):
        if b is None or a is None:
            continue
        e = expect[placement] if isinstance(expect, dict) else expect
        row(family, field, placement, e, template.format(r=real, b=b, a=a), real, decoy)


# --- sshd (OpenSSH auth.c/auth2.c: the user name is cut at its first ':' and at 100 bytes) ---
SSH = "Nov 25 10:00:01 pbx sshd[4242]: "
for d, r in ((D, R), (D6, R6)):
    v6 = ":" in d
    # An IPv6 decoy cannot be in a user name (no ':'), only in the detail after `ssh2: `.
    users = [] if v6 else [f"x from {d} via z", f"x from {d} port 1", f"x from {d} port 1 ssh2",
                           f"x from {d} port 1 ssh2 [preauth]", f"x from {d}"]
    for u in users:
        row("sshd", "user", "before", "found", f"{SSH}Invalid user {u} from {r} port 50250", r, d)
        row("sshd", "user", "before", "found",
            f"{SSH}Failed password for invalid user {u} from {r} port 50250 ssh2", r, d)
        row("sshd", "user", "before", "found",
            f"{SSH}error: maximum authentication attempts exceeded for invalid user {u} from {r} port 50250 ssh2 [preauth]", r, d)
        row("sshd", "user", "before", "found",
            f"{SSH}error: PAM: Authentication failure for illegal user {u} from {r}", r, d)
    detail = f"x from {d} port 1 ssh2: y"
    row("sshd", "hostbased client user", "after", "found",
        f'{SSH}Failed hostbased for root from {r} port 50250 ssh2: RSA SHA256:abc, client user "{detail}", client host "h"', r, d)
    row("sshd", "certificate key id", "after", "found",
        f"{SSH}Failed publickey for root from {r} port 50250 ssh2: ED25519-CERT SHA256:abc ID {detail} (serial 1) CA ED25519 SHA256:def", r, d)
    if not v6:
        row("sshd", "user + hostbased client host", "both", "found",
            f'{SSH}Failed hostbased for x from {d} port 1 from {r} port 50250 ssh2: RSA SHA256:abc, client user "u", client host "{detail}"', r, d)

# --- chan_sip ---
CS = AST + "NOTICE[1638] chan_sip.c: "
three("chan_sip registration", "To", CS + "Registration from '{b}' failed for '{r}:5060' - Wrong password",
      f"<sip:100@x>' failed for '{D}:5060' - Wrong password", None, ("<sip:100@x>", ""), "found")
row("chan_sip registration", "To", "before", "found",
    CS + f"Registration from '<sip:100@x>' failed for '[{D6}]:5060' - No matching peer found'<sip:1@x>' failed for '[{R6}]:5060' - No matching peer found", R6, D6)
three("chan_sip call", "caller / dialled number",
      CS + "Call from '{b}' ({r}:5060) to extension '{a}' rejected because extension not found in context 'default'.",
      f"1' ({D}:5060) to extension '9", f"0' ({D}:5060) to extension '011", ("100", "011442079460000"),
      "ambiguous")

# --- res_pjsip (pjsip_distributor.c: the From is printed by pjsip_uri_print, the Call-ID raw) ---
PJ = AST + "NOTICE[17103] res_pjsip/pjsip_distributor.c: "
for reason in ("Failed to authenticate", "No matching endpoint found after 5 tries in 2.500 ms"):
    three("pjsip request", "From display name / Call-ID",
          PJ + "Request 'REGISTER' from '{b}' failed for '{r}:5060' (callid: {a}) - " + reason,
          f"\"x' failed for '{D}:5060' (callid: y\" <sip:100@x>", f"abc' failed for '{D}:5060' (callid: def",
          ("<sip:100@x>", "abc@host"), "found")
three("pjsip request (12.x form)", "From display name / Call-ID",
      PJ + "Request from '{b}' failed for '{r}:5060' (callid: {a}) - No matching endpoint found",
      f"\"x' failed for '{D}:5060' (callid: y\" <sip:100@x>", f"abc' failed for '{D}:5060' (callid: def",
      ("<sip:100@x>", "abc@host"), "found")
three("pjsip request", "From display name / Call-ID",
      PJ + "Request 'INVITE' from '{b}' failed for '[{r}]:5060' (callid: {a}) - Failed to authenticate",
      f"\"x' failed for '[{D6}]:5060' (callid: y\" <sip:100@x>", f"abc' failed for '[{D6}]:5060' (callid: def",
      ("<sip:100@x>", "abc@host"), "found", R6, D6)
PS = AST + "NOTICE[3980] res_pjsip_session.c: "
three("pjsip call", "dialled number",
      PS + "Call from 'anonymous' (UDP:{r}:5060) to extension '{a}' rejected because extension not found in context 'default'.",
      None, f"0' (UDP:{D}:5060) to extension '011", ("", "011"), "found")
three("pjsip call (16.15+ form)", "dialled number",
      PS + "anonymous: Call (UDP:{r}:5060) to extension '{a}' rejected because extension not found in context 'inbound'.",
      None, f"0' (TCP:{D}:5060) to extension '011", ("", "011"), "found")
PR = AST + "WARNING[1] res_pjsip_registrar.c: "
three("pjsip registrar", "AOR",
      PR + "AOR '{b}' not found for endpoint '100' ({r}:5060)",
      f"x' not found for endpoint '100' ({D}:5060)", None, ("100", ""), "found")
three("pjsip registrar", "AOR",
      PR + "Registration attempt from endpoint '100' ({r}:5060) to AOR '{a}' will exceed max contacts of 1",
      None, f"x' will exceed max contacts of 1 ... ({D}:5060) to AOR 'y", ("", "100"), "found")

# --- chan_iax2 ---
IX = AST + "NOTICE[1638] chan_iax2.c: "
three("iax2", "user", IX + "Host {r} failed to authenticate as {a}", None, f"x Host {D} failed to authenticate as y", ("", "100"), "found")
three("iax2", "peer", IX + "No registration for peer '{b}' (from {r})", f"x' (from {D})", None, ("100", ""), "found")
three("iax2", "extension", IX + "Rejected connect attempt from {r}:4569, who was trying to reach '{a}'", None, f"x' Rejected connect attempt from {D}:4569, who was trying to reach 'y@default", ("", "100@default"), "found")

# --- manager.c (AMI user names) ---
MG = AST + "NOTICE[6772] manager.c: "
three("ami", "user", MG + "{r} failed to authenticate as '{a}'", None, f"x' {D} failed to authenticate as 'y", ("", "admin"), "found")
three("ami", "user", MG + "{r} tried to authenticate with nonexistent user '{a}'", None, f"x' {D} tried to authenticate with nonexistent user 'y", ("", "admin"), "found")

# --- security events (res_security_log.c prints values unescaped) ---
SE = AST + "SECURITY[6988] res_security_log.c: "
HEAD = 'SecurityEvent="{ev}",EventTV="2026-11-25T10:00:01.275+0000",Severity="Error",Service="{svc}",EventVersion="{ver}",'


def pair(addr, port):
    fam = "IPV6" if ":" in addr else "IPV4"
    return f'LocalAddress="{fam}/UDP/192.0.2.1/5060",RemoteAddress="{fam}/UDP/{addr}/{port}"'


FAKE = '",' + pair(D, 5060) + ',Extra="'  # a forged pair inside a value
ev = HEAD.format(ev="InvalidAccountID", svc="PJSIP", ver="1")
three("security InvalidAccountID", "AccountID (From user)", SE + ev + 'AccountID="{b}",SessionID="abc",' + pair("{r}", 5061),
      "x" + FAKE + "y", None, ("100", ""), "found")
three("security InvalidAccountID", "SessionID (Call-ID)", SE + ev + 'AccountID="100",SessionID="{b}",' + pair("{r}", 5061),
      "x" + FAKE + "y", None, ("abc", ""), "found")
ev = HEAD.format(ev="FailedACL", svc="AMI", ver="1")
three("security FailedACL", "AccountID (AMI login)", SE + ev + 'AccountID="{b}",SessionID="0x7fb580001518",' + pair("{r}", 62389) + ',SessionTV="1970-01-01T03:00:00.000+0300"',
      "x" + FAKE + "y", None, ("admin", ""), "found")
ev = HEAD.format(ev="ChallengeResponseFailed", svc="PJSIP", ver="1")
three("security ChallengeResponseFailed", "SessionID (Call-ID) / Challenge, Response",
      SE + ev + 'AccountID="<unknown>",SessionID="{b}",' + pair("{r}", 5061) + ',Challenge="1/2",Response="{a}",ExpectedResponse=""',
      "x" + FAKE + "y", "0f" + FAKE + "0f", ("abc", "0123456789abcdef0123456789abcdef"), "ambiguous")
ev = HEAD.format(ev="InvalidPassword", svc="SIP", ver="2")
three("security InvalidPassword", "AccountID / ReceivedChallenge, ReceivedHash",
      SE + ev + 'AccountID="{b}",SessionID="0x88aab6c",' + pair("{r}", 5084) + ',Challenge="41d26de5",ReceivedChallenge="41d26de5",ReceivedHash="{a}"',
      "x" + FAKE + "y", "0f" + FAKE + "0f", ("100", "0123456789abcdef"), "ambiguous")
ev = HEAD.format(ev="RequestBadFormat", svc="AMI", ver="1")
three("security RequestBadFormat", "RequestType / AccountID / RequestParams",
      SE + ev + 'SessionID="0x7f",' + pair("{r}", 40000) + ',RequestType="{a}",AccountID="admin",RequestParams=""',
      None, "x" + FAKE + "y", ("", "Login"), "found")
ev = HEAD.format(ev="RequestNotAllowed", svc="AMI", ver="1")
three("security RequestNotAllowed", "AccountID / RequestType",
      SE + ev + 'AccountID="{b}",SessionID="0x7f",' + pair("{r}", 40000) + ',RequestType="{a}"',
      "x" + FAKE + "y", "x" + FAKE + "y", ("admin", "Originate"), "ambiguous")

# --- Apache (the address is in a bracket group before the client's message) ---
AP = "[Wed Nov 25 10:00:01.266605 2026] [auth_basic:error] [pid 1:tid 2] [client {r}:51386] "
three("apache", "user / URI", AP + "AH01618: user {a} not found: /admin", None,
      f"x [client {D}:1] y", ("", "admin"), "found")
three("apache", "user / URI", AP + "AH01617: user admin: authentication failure for \"{a}\": Password Mismatch", None,
      f"/x [client {D}:1] y", ("", "/admin"), "found")

# --- nginx (the user name is the part of a Basic Authorization before its first ':') ---
NG = "2026/11/25 10:00:01 [error] 2865#0: *66647 "
three("nginx", "request line / Host", NG + 'user "admin" was not found in "/etc/nginx/.htpasswd", client: {r}, server: pbx, request: "{a}", host: "pbx"',
      None, f"GET / HTTP/1.1\", client: {D}, server: pbx, request: \"x", ("", "GET / HTTP/1.1"), "found")
three("nginx", "request line / Host", NG + 'user "admin": password mismatch, client: {r}, server: pbx, request: "GET / HTTP/1.1", host: "{a}"',
      None, f"pbx\", client: {D}, server: pbx, request: \"x", ("", "pbx"), "found")
# A decoy in the user name needs a ':' there, which nginx never logs: not nginx's line, so both
# addresses are candidates.
row("nginx", "user (impossible: holds ':')", "before", "ambiguous",
    NG + f'user "x, client: {D}, server: pbx": password mismatch, client: {R}, server: pbx, request: "GET / HTTP/1.1", host: "pbx"')

# --- FreePBX GUI / UCP ---
three("freepbx", "user", "[2026-11-25 10:00:01] [freepbx_security.NOTICE]: Authentication failure for {b} from {r} [] []",
      f"x from {D} [] []", None, ("admin", ""), "found")
three("freepbx", "user", "[2026-11-25 10:00:01] Authentication failure for {b} from {r}",
      f"x from {D}", None, ("admin", ""), "found")

# --- FTP ---
three("vsftpd", "user", "Wed Nov 25 10:00:01 2026 [pid 2] [{b}] FAIL LOGIN: Client \"{r}\"",
      f"x] FAIL LOGIN: Client \"{D}\"", None, ("admin", ""), "found")
three("vsftpd pam", "ruser / user",
      "Nov 25 10:00:01 pbx vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser={b} rhost={r}  user={a}",
      f"x rhost={D}", f"x rhost={D}", ("admin", "admin"), "ambiguous")
three("pure-ftpd", "user", "Nov 25 10:00:01 pbx pure-ftpd: (?@{r}) [WARNING] Authentication failed for user [{a}]",
      None, f"x@{D}) [WARNING] Authentication failed for user [y", ("", "admin"), "found")
three("proftpd", "USER argument", "Nov 25 10:00:01 pbx proftpd[1] pbx (h[{r}]): USER {a}: no such user found from h [{r}] to 192.0.2.1:21",
      None, f"x (h[{D}]): y", ("", "admin"), "found")

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "decoys.tsv")
with open(out, "w") as f:
    f.write("family\tfield\tplacement\texpect\treal\tdecoy\tline\n")
    for r in rows:
        f.write("\t".join(r) + "\n")
print(f"{len(rows)} rows -> {out}")
