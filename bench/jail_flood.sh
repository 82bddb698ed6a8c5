#!/usr/bin/env bash
# bench/jail_flood.sh — memory and ban correctness of the jails under an address-rotating flood
# (issue #12.3), through `tollguard scan` (the offline path: the same JailSet the daemon runs).
#
#   flood      FLOOD (default 10,000,000) distinct IPv6 addresses, each in its own /64 (so
#              neither per-address nor per-prefix counting can fold them), failing once each,
#              spread evenly over WINDOW seconds (default 600) of log time: ~16,700 lines per
#              second of log clock, all inside one sip find_time.
#   attackers  ATTACKERS (default 200) real attackers inside the flood, 100 IPv4 (10.200.0.0/16)
#              and 100 IPv6 (one per /64 in 2001:db8:ffff::/48), 5 failures each, one every
#              GAP (default 5) seconds, starting at random times; sip's max_retry is 5, so each
#              must be banned at its 5th failure (log-clock delay 0).
#   lines      chan_sip "Registration from ... failed for 'IP:5060' - Wrong password", generated
#              by the Python below and streamed through a pipe to `tollguard scan -` (nothing
#              written to disk).
#
# Each configuration runs once under GNU time -v (peak RSS). The table: peak RSS, the sip jail's
# tracked sources and table bytes at the end (its own estimate from the hash tables'
# capacities) and bytes per tracked source, evictions, attackers banned, the log-clock delay from
# an attacker's 5th failure to its ban, and wall time per line. Configurations:
#   default    the defaults (max_tracked = 900,000 per jail)
#   1M-nocap   a flood of 1,000,000 with max_tracked above it: memory per address, no eviction
#
# Peers: fail2ban-regex only matches (it keeps no jail state), and fail2ban-server's own
# per-ticket memory needs the live daemon fed 10 M lines, which takes hours; neither is run.
#
# Usage: bench/jail_flood.sh   env: FLOOD=10000000 ATTACKERS=200 WINDOW=600 GAP=5 SEED=7
#                                   TOLLGUARD=path (measure that binary, do not build)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out/jail_flood
FLOOD=${FLOOD:-10000000}
ATTACKERS=${ATTACKERS:-200}
WINDOW=${WINDOW:-600}
GAP=${GAP:-5}
SEED=${SEED:-7}
mkdir -p "$OUT"
say() { printf '%s\n' "$*" >&2; }

[ -x /usr/bin/time ] || { say "installing GNU time"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
if [ -z "${TOLLGUARD:-}" ]; then
    say "building tollguard (release)"
    cargo build --release --quiet -p tollguard
    TOLLGUARD=${CARGO_TARGET_DIR:-$ROOT/target}/release/tollguard
fi

cat >"$OUT/gen.py" <<'PY'
"""Streams the flood with the attackers inside it to stdout; writes the attackers' truth."""
import random, sys
flood, attackers, window, gap, seed, truth = (int(sys.argv[1]), int(sys.argv[2]),
                                              int(sys.argv[3]), int(sys.argv[4]),
                                              int(sys.argv[5]), sys.argv[6])
rng = random.Random(seed)
base = 1764064800  # 2025-11-25 10:00:00 UTC: only hh:mm:ss matter to the log clock
events = {}  # second -> list of attacker lines
with open(truth, "w") as t:
    for i in range(attackers):
        ip = f"10.200.{i // 250}.{i % 250 + 1}" if i % 2 == 0 else f"2001:db8:ffff:{i:x}::1"
        start = rng.randrange(0, window - 5 * gap)
        for k in range(5):
            events.setdefault(start + k * gap, []).append(ip)
        # the prefix a sip ban of an IPv6 address names (prefix_v6 = 64)
        target = ip if "." in ip else f"2001:db8:ffff:{i:x}::/64"
        t.write(f"{ip} {target} {start + 4 * gap}\n")
out = sys.stdout
per_sec = flood / window
n = 0
for sec in range(window):
    stamp = f"[2026-11-25 10:{sec // 60:02d}:{sec % 60:02d}]"
    head = f"{stamp} NOTICE[1234] chan_sip.c: Registration from '\"100\" <sip:100@192.0.2.5>' failed for '"
    tail = ":5060' - Wrong password\n"  # chan_sip writes IPv6 as [ADDR]:PORT
    upto = int((sec + 1) * per_sec) if sec < window - 1 else flood
    lines = []
    for j in range(n, upto):
        # 2001:db8:XXXX:XXXX::1 — a distinct /64 per line (j < 2^32)
        lines.append(f"{head}[2001:db8:{j >> 16:x}:{j & 0xffff:x}::1]{tail}")
        if len(lines) >= 4096:
            out.write("".join(lines)); lines.clear()
    n = upto
    for ip in events.get(sec, []):
        lines.append(f"{head}{ip if '.' in ip else '[' + ip + ']'}{tail}")
    out.write("".join(lines))
PY

cat >"$OUT/read.py" <<'PY'
"""One table row from scan's summary, GNU time's report and the truth file."""
import json, sys, datetime
summary_path, time_path, truth_path, lines, label = sys.argv[1:6]
lines = int(lines)
summary = None
with open(summary_path) as f:
    for line in f:
        pass
    summary = json.loads(line)["summary"]
rss_kb = wall = 0
for line in open(time_path):
    line = line.strip()
    if line.startswith("Maximum resident set size"):
        rss_kb = int(line.split(":")[1])
    if line.startswith("Elapsed (wall clock) time"):
        v = line.split(": ", 1)[1].split(":")
        wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(v)))
sip = next(j for j in summary["jails"] if j["jail"] == "sip")
truth = [l.split() for l in open(truth_path)]
bans = {}
for o in summary["offenders"]:
    for b in o["bans"]:
        bans.setdefault(o["ip"], []).append(b)
def secs(iso):
    t = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return t.hour * 3600 + t.minute * 60 + t.second - 10 * 3600
banned, delays = 0, []
for ip, target, fifth in truth:
    b = [x for x in bans.get(ip, []) if x["target"] == target]
    if b:
        banned += 1
        delays.append(secs(b[0]["at"]) - int(fifth))
delays.sort()
tracked = sip["tracked"]
per = sip["bytes"] / tracked if tracked else 0
print(f"| {label} | {lines:,} | {rss_kb / 1024:.0f} | {tracked:,} | {sip['bytes'] / 2**20:.1f} | "
      f"{per:.0f} | {sip['evicted']:,} | {banned} / {len(truth)} | "
      f"{delays[len(delays) // 2] if delays else '-'} / {delays[-1] if delays else '-'} | "
      f"{wall:.1f} | {wall / lines * 1e9:.0f} |")
PY

run() {  # LABEL FLOOD MAX_TRACKED
    local label=$1 flood=$2 cap=$3
    local cfg=$OUT/$label.toml
    {
        printf '[trusted]\naddresses = []\nown_addresses = false\n\n[jail.sip]\nmax_retry = 5\nfind_time = "10m"\n'
        [ -n "$cap" ] && printf 'max_tracked = %s\n' "$cap"
    } >"$cfg"
    say "run $label: $flood flood lines + $ATTACKERS attackers"
    python3 "$OUT/gen.py" "$flood" "$ATTACKERS" "$WINDOW" "$GAP" "$SEED" "$OUT/$label.truth" |
        /usr/bin/time -v -o "$OUT/$label.time" "$TOLLGUARD" scan --config "$cfg" --format json - \
            >"$OUT/$label.json"
    python3 "$OUT/read.py" "$OUT/$label.json" "$OUT/$label.time" "$OUT/$label.truth" \
        "$((flood + 5 * ATTACKERS))" "$label"
    rm -f "$OUT/$label.json"
}

echo "jail_flood: $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $("$TOLLGUARD" --version 2>/dev/null || echo tollguard)"
echo
echo "| run | lines | peak RSS MB | sip tracked | sip table MB | bytes / tracked | evicted | attackers banned | ban delay s (median / max, log clock) | wall s | wall ns / line |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
run default "$FLOOD" ""
run 1M-nocap 1000000 2000000
