#!/bin/sh
# Non-matching lines, before and after a change: the detector at git revision BEFORE (default
# a0b063d, before the kernel flood detector) against the working tree, on the same inputs,
# runs alternated to share the machine's noise, best of each side reported.
#
#   crates/tg-detect/benches/miss_ab.sh [BEFORE] [RUNS]      (default a0b063d 5)
#
# Inputs: the benign lines of the Asterisk workload (testdata/workload, seed 42), and a generated syslog
# file of lines the detectors must turn away — other kernel messages (conntrack, ufw/iptables
# log lines with SRC=, USB, audit), CRON and systemd lines — plus, for scale, the same syslog
# file with 1% tollguard-flood lines (hits). BEFORE is built from `git archive` in a temporary
# directory with its own target dir (the repository is not touched).
set -eu
here=$(cd "$(dirname "$0")/../../.." && pwd)
before=${1:-a0b063d}
runs=${2:-5}
out=${TMPDIR:-/tmp}/tg-detect-miss-ab
mkdir -p "$out/src"

python3 "$here/testdata/workload/gen_asterisk_log.py" --seed 42 --lines 400000 --attack-ratio 0.2 \
    --attackers 500 --out "$out/w.log" >/dev/null
attack='Registration from|pjsip_distributor|Severity="Error"|chan_iax2.c: Host|rejected because'
grep -v -E "$attack" "$out/w.log" >"$out/asterisk_benign.log" || true

python3 - "$out" <<'EOF'
import random, sys
out = sys.argv[1]
r = random.Random(42)
def stamp(i):
    s = i // 20
    return "Nov 25 %02d:%02d:%02d" % (s // 3600 % 24, s // 60 % 60, s % 60)
def up(i):
    return "[%d.%06d]" % (100000 + i // 20, r.randrange(10**6))
def ip():
    return "%d.%d.%d.%d" % (r.randrange(1, 224), r.randrange(256), r.randrange(256), r.randrange(1, 255))
shapes = [
    lambda i: "%s pbx kernel: %s nf_conntrack: nf_conntrack: table full, dropping packet" % (stamp(i), up(i)),
    lambda i: "%s pbx kernel: %s [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=%s DST=192.0.2.1 LEN=40 TOS=0x00 PREC=0x00 TTL=241 ID=54321 PROTO=TCP SPT=%d DPT=23 WINDOW=65535 RES=0x00 SYN URGP=0" % (stamp(i), up(i), ip(), r.randrange(1024, 65535)),
    lambda i: "%s pbx kernel: %s iptables-drop: IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=%s DST=192.0.2.1 LEN=433 TOS=0x00 PREC=0x00 TTL=52 ID=0 DF PROTO=UDP SPT=5070 DPT=5060 LEN=413" % (stamp(i), up(i), ip()),
    lambda i: "%s pbx kernel: %s usb 1-1: new high-speed USB device number %d using xhci_hcd" % (stamp(i), up(i), r.randrange(2, 99)),
    lambda i: "%s pbx kernel: %s audit: type=1400 audit(1732528801.123:%d): apparmor=\"DENIED\" operation=\"open\" profile=\"/usr/sbin/ntpd\" name=\"/etc/ssl/openssl.cnf\" pid=%d comm=\"ntpd\"" % (stamp(i), up(i), r.randrange(10**5), r.randrange(10**5)),
    lambda i: "%s pbx kernel: tollguard-floods-other: IN=eth0 OUT= MAC= SRC=%s DST=192.0.2.1 LEN=1" % (stamp(i), ip()),
    lambda i: "%s pbx CRON[%d]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)" % (stamp(i), r.randrange(1000, 99999)),
    lambda i: "%s pbx systemd[1]: Started session-%d.scope - Session %d of User asterisk." % (stamp(i), i, i),
]
with open(out + "/syslog_miss.log", "w") as f, open(out + "/syslog_1pct_flood.log", "w") as g:
    for i in range(400000):
        line = r.choice(shapes)(i)
        f.write(line + "\n")
        if i % 100 == 0:
            line = "%s pbx kernel: %s tollguard-flood: IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=%s DST=192.0.2.1 LEN=433 TOS=0x00 PREC=0x00 TTL=52 ID=0 DF PROTO=UDP SPT=5070 DPT=5060 LEN=413" % (stamp(i), up(i), ip())
        g.write(line + "\n")
EOF

# BEFORE, from git archive, in its own target dir.
rm -rf "$out/src/before"
mkdir -p "$out/src/before"
git -C "$here" archive "$before" | tar -x -C "$out/src/before"
CARGO_TARGET_DIR="$out/target-before" cargo build --release -q -p tg-detect \
    --example detect_throughput --manifest-path "$out/src/before/Cargo.toml"
cargo build --release -q -p tg-detect --example detect_throughput --manifest-path "$here/Cargo.toml"
bin_before=$out/target-before/release/examples/detect_throughput
bin_after=$here/target/release/examples/detect_throughput

# ns/line, best over RUNS alternated runs of 5 rounds each.
ns() { "$1" "$2" 5 | sed -n 3p | awk -F'|' '{gsub(/ /, "", $6); print $6}'; }
hits() { "$1" "$2" 1 | sed -n 3p | awk -F'|' '{gsub(/ /, "", $8); print $8}'; }
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); before = $before, after = working tree; best of $runs alternated runs"
echo "| input | lines | before ns/line | after ns/line | change | findings before | findings after |"
echo "|---|---|---|---|---|---|---|"
for input in asterisk_benign syslog_miss syslog_1pct_flood; do
    f=$out/$input.log
    b=999999; a=999999
    i=0
    while [ "$i" -lt "$runs" ]; do
        x=$(ns "$bin_before" "$f"); b=$(echo "$x $b" | awk '{print ($1 < $2) ? $1 : $2}')
        x=$(ns "$bin_after" "$f"); a=$(echo "$x $a" | awk '{print ($1 < $2) ? $1 : $2}')
        i=$((i + 1))
    done
    n=$(wc -l <"$f" | tr -d ' ')
    change=$(echo "$b $a" | awk '{printf "%+.1f%%", ($2 - $1) / $1 * 100}')
    echo "| $input | $n | $b | $a | $change | $(hits "$bin_before" "$f") | $(hits "$bin_after" "$f") |"
done
