#!/bin/bash
# tollguard's daemon, measured with the peers' harness (research/peer-daemon-baseline.md):
# reaction (200 attackers 50 ms apart; 60 lone attackers 1-2 s apart), a 50,000 lines/s flood
# for 20 s with 2,000 attackers, and 100,000 bans applied, then restored after a restart while
# a new attacker appears. fail2ban (the Debian package) runs the same reaction and flood in the
# same run; fail2ban-rs and fail2ban's restore are quoted from the baseline ("measured earlier").
#
# Every experiment runs in its own throw-away network namespace tgr-tgd-<name> (the harness
# refuses to run elsewhere): the daemon, `nft monitor` and every nft command live there, never
# in the host namespace. Processes are started and stopped by PID; nothing is left running.
#
# Needs: root, nftables, python3, fail2ban + python3-pyinotify (for the fail2ban columns), the
# shared harness (PEER_BENCH_DIR, default ../shared/bench beside the repo).
# Env: TGB_DIR (default /tmp/tg-daemon-bench), PARTS (default "reaction isolated flood restore f2b_reaction
#      f2b_flood"), BANS (default 100000), TOLLGUARD_BIN (default: a release build made here).
# Output: one table (bench/daemon_summary.py), results as JSON in $TGB_DIR/results.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
export PEER_BENCH_DIR=${PEER_BENCH_DIR:-$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd || echo "$ROOT/../shared/bench")}
if [ ! -f "$PEER_BENCH_DIR/peer_daemon_bench.py" ]; then
    echo "the peers' harness is not at $PEER_BENCH_DIR (set PEER_BENCH_DIR)" >&2
    exit 2
fi
W=${TGB_DIR:-/tmp/tg-daemon-bench}
R=$W/results
BANS=${BANS:-100000}
PARTS=${PARTS:-reaction isolated flood restore f2b_reaction f2b_flood}
has() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
rm -rf "$R"
mkdir -p "$R"

if [ -z "${TOLLGUARD_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release -q -p tollguard)
    TOLLGUARD_BIN=$ROOT/target/release/tollguard
fi
export TOLLGUARD_BIN
B="python3 $HERE/daemon_bench.py"

NS=""
cleanup() { if [ -n "$NS" ]; then ip netns del "$NS" 2>/dev/null || true; fi; }
trap cleanup EXIT

# run CMD... inside a fresh namespace tgr-tgd-NAME, then delete it
in_ns() {
    local name=$1; shift
    NS=tgr-tgd-$name
    ip netns add "$NS"
    ip netns exec "$NS" ip link set lo up
    echo "== $(date -u +%T) $NS: $*" >&2
    ip netns exec "$NS" "$@" >&2 || echo "FAILED rc=$? $NS: $*" | tee -a "$R/failures.txt" >&2
    if [ -n "$(ip netns pids "$NS")" ]; then
        echo "processes left in $NS: $(ip netns pids "$NS" | tr '\n' ' ')" | tee -a "$R/failures.txt" >&2
    fi
    ip netns del "$NS"
    NS=""
}

{
    echo "date_utc: $(date -u +%FT%TZ)  nproc: $(nproc)  kernel: $(uname -r)"
    echo "tollguard: $("$TOLLGUARD_BIN" --version)  nftables: $(nft --version)"
    echo "fail2ban: $(fail2ban-server -V 2>/dev/null || echo absent)"
    echo "loadavg_start: $(cat /proc/loadavg)"
} > "$R/machine.txt"

if has reaction; then
    in_ns r $B reaction --daemon tollguard --seed 1 --work "$W/r" --out "$R/reaction_tollguard.json"
fi
if has isolated; then
    in_ns i $B reaction --daemon tollguard -n 60 --spacing 1.0 --jitter 1.0 --seed 11 --wait 60 \
        --work "$W/i" --out "$R/isolated_tollguard.json"
fi
if has flood; then
    in_ns f $B flood --daemon tollguard --seed 1 --drain 10 --work "$W/f" --out "$R/flood_tollguard.json"
fi
if has restore; then
    in_ns s $B restore --daemon tollguard --bans "$BANS" --work "$W/s" --out "$R/restore_tollguard.json"
fi
if has f2b_reaction && command -v fail2ban-server >/dev/null; then
    in_ns rf $B reaction --daemon fail2ban --backend pyinotify --variant one --seed 1 \
        --work "$W/rf" --out "$R/reaction_fail2ban.json"
fi
if has f2b_flood && command -v fail2ban-server >/dev/null; then
    in_ns ff $B flood --daemon fail2ban --backend pyinotify --variant stock2 --seed 1 \
        --work "$W/ff" --out "$R/flood_fail2ban.json"
fi
echo "loadavg_end: $(cat /proc/loadavg)" >> "$R/machine.txt"
python3 "$HERE/daemon_summary.py" "$R"
