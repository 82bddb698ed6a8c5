#!/usr/bin/env bash
# bench/bans_batch.sh — how fast bans reach the kernel in bulk, in a throwaway network namespace
# (never the host's ruleset). Prints one table; figures are wall-clock milliseconds.
#
#   apply      N new bans, one call (NftEnforcer::ban: nf_tables netlink batches from inside the
#              process, transactions of up to 4,096 addresses; then the conntrack pass, here over
#              an empty conntrack table). ipset: one `ipset restore`
#   re-ban     the same N again in the same process: the refresh path (add, delete, add)
#   nft -f     the same N new bans as one `nft -f` script (the way before netlink), script
#              written to a file beforehand: process start, parsing and the kernel transaction
#   concurrent one thread restores N (transactions of 2,000) while another bans newcomers one
#              at a time, 1 ms apart: the restore's time, and the newcomers' ban latency
#              (p99, max) counting those started during the restore
#   restore    after `nft flush ruleset` (or `ipset flush`): open the SQLite store holding N
#              active bans, read them, put them back in one batch (tg_daemon::reconcile);
#              "process" adds the program start and init; "in batches" is
#              tg_daemon::reconcile::reconcile_in_chunks, which lets the daemon ban newcomers in between
#   latency    one-address batches (a lone attacker): the whole `ban` call, nft transaction
#              plus the conntrack pass, p50/p99 over L calls
#   per-ban    the peers' method (fail2ban, fail2ban-rs): one `nft add element` process per ban,
#              K of them timed here, scaled to N
#
# Usage: sudo bench/bans_batch.sh [N] [RUNS]      (defaults 100000 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/bans_batch.sh: run as root (it makes a network namespace)" >&2; exit 2; }

N=${1:-100000}
RUNS=${2:-3}
K=${K:-2000}
L=${L:-300}

cargo build --release -q -p tg-enforce --example enforce_cli -p tg-daemon --example restore_cli
CLI=$PWD/target/release/examples/enforce_cli
RESTORE=$PWD/target/release/examples/restore_cli   # the store and reconcile
NS=tgbench-$$
WORK=$(mktemp -d)
cleanup() { ip netns del "$NS" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
in_ns() { ip netns exec "$NS" "$@"; }
now_ms() { date +%s%3N; }
# `enforce_cli` and `restore_cli` print "<step> <count> <ms> ms"; pick the ms of the n-th line for a step.
ms_of() { awk -v step="$1" -v nth="${2:-1}" '$1 == step { if (++seen == nth) print $3 }'; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RESULTS=$WORK/results.tsv
: > "$RESULTS"
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$RESULTS"; }

DB=$WORK/state.db
in_ns "$RESTORE" seed-store "$DB" "$N" 86400 > /dev/null

for backend in nftables iptables; do
  for run in $(seq "$RUNS"); do
    if [ "$backend" = nftables ]; then in_ns nft flush ruleset; else in_ns ipset flush 2>/dev/null || true; fi
    out=$(in_ns "$CLI" --backend "$backend" ban-many "$N" 3600 + ban-many "$N" 7200)
    record "$backend" "apply $N new bans (one batch)" "$(ms_of ban 1 <<< "$out")"
    record "$backend" "re-ban the same $N (refresh)" "$(ms_of ban 2 <<< "$out")"

    if [ "$backend" = nftables ]; then in_ns nft flush ruleset; else in_ns ipset flush; fi
    start=$(now_ms)
    out=$(in_ns "$RESTORE" --backend "$backend" reconcile "$DB")
    end=$(now_ms)
    record "$backend" "restore $N from the store (reconcile)" "$(ms_of reconcile 1 <<< "$out")"
    record "$backend" "restore $N, whole process" "$((end - start))"

    if [ "$backend" = nftables ]; then in_ns nft flush ruleset; else in_ns ipset flush; fi
    out=$(in_ns "$RESTORE" --backend "$backend" reconcile "$DB" 1000)
    record "$backend" "restore $N in batches of 1000" "$(ms_of reconcile 1 <<< "$out")"
    record "$backend" "  store read + first batch" "$(ms_of first-chunk 1 <<< "$out")"
    record "$backend" "  longest later batch" "$(ms_of longest-chunk 1 <<< "$out")"
  done
done

# The old way: the same N as one `nft -f` script.
awk -v n="$N" 'BEGIN {
  base = 10 * 16777216 + 200 * 65536
  printf "add element inet tollguard banned_v4 { "
  for (i = 1; i <= n; i++) {
    a = base + i
    printf "%s%d.%d.%d.%d timeout 3600s", (i > 1 ? ", " : ""), int(a / 16777216), int(a / 65536) % 256, int(a / 256) % 256, a % 256
  }
  print " }"
}' > "$WORK/bans.nft"
for run in $(seq "$RUNS"); do
  in_ns nft flush ruleset
  in_ns "$CLI" init > /dev/null
  start=$(now_ms)
  in_ns nft -f "$WORK/bans.nft"
  end=$(now_ms)
  record "nft -f (the old way)" "apply $N new bans (one script)" "$((end - start))"
done

# A new attacker during a restore: two enforcers, two threads.
for run in $(seq "$RUNS"); do
  in_ns nft flush ruleset
  out=$(in_ns "$CLI" restore-with-bans "$N" 300)
  read -r _ during _ p50 _ p99 _ max <<< "$(grep '^bans-during-restore' <<< "$out")"
  record "nftables" "restore $N while another thread bans" "$(ms_of restore 1 <<< "$out")"
  record "nftables" "  newcomer bans started during it (count)" "$during"
  record "nftables" "  newcomer ban during it, p99" "$p99"
  record "nftables" "  newcomer ban during it, max" "$max"
done

# One ban at a time.
for backend in nftables iptables; do
  if [ "$backend" = nftables ]; then in_ns nft flush ruleset; else in_ns ipset flush; fi
  out=$(in_ns "$CLI" --backend "$backend" ban-latency "$L")
  read -r _ _ _ p50 _ p99 _ max <<< "$(grep '^ban-latency' <<< "$out")"
  record "$backend" "one-address ban, p50 of $L" "$p50"
  record "$backend" "one-address ban, p99 of $L" "$p99"
done

# The peers' way: one nft process per ban (run inside the namespace, as a daemon there would).
in_ns nft flush ruleset
in_ns "$CLI" init > /dev/null
for run in $(seq "$RUNS"); do
  in_ns nft flush set inet tollguard banned_v4
  start=$(now_ms)
  in_ns bash -c 'for i in $(seq 1 "$1"); do nft add element inet tollguard banned_v4 "{ 10.201.$((i / 256)).$((i % 256)) timeout 3600s }"; done' _ "$K"
  end=$(now_ms)
  record "one nft process per ban" "$K bans, scaled to $N" "$(( (end - start) * N / K ))"
done

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$RESULTS" "$N" "$RUNS" "$LOAD_BEFORE" "$LOAD_AFTER" "$(nproc)" <<'PY'
import statistics, sys
from collections import OrderedDict
rows = OrderedDict()
for line in open(sys.argv[1]):
    backend, step, ms = line.rstrip("\n").split("\t")
    rows.setdefault((backend, step), []).append(float(ms))
n, runs = sys.argv[2], sys.argv[3]
print(f"\nbans in bulk: N = {n}, {runs} runs each, wall-clock ms (median, min, max; \"count\" rows are counts)")
print(f"load average before {sys.argv[4]}, after {sys.argv[5]} ({sys.argv[6]} CPUs)\n")
print(f"| {'backend':<24} | {'step':<42} | {'median':>9} | {'min':>9} | {'max':>9} |")
print(f"|{'-'*26}|{'-'*44}|{'-'*11}|{'-'*11}|{'-'*11}|")
for (backend, step), v in rows.items():
    f = lambda x: f"{x:>9.2f}" if max(v) < 100 and "count" not in step else f"{x:>9.0f}"
    print(f"| {backend:<24} | {step:<42} | {f(statistics.median(v))} | {f(min(v))} | {f(max(v))} |")
print("\nPeers, restoring 20,000 bans after a restart (../shared/research/peer-daemon-baseline.md):")
print("fail2ban 1.0.2: 355 s; fail2ban-rs 1.5.4: 49 s — one nft process per ban.")
PY
