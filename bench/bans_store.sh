#!/usr/bin/env bash
# bench/bans_store.sh — what `synchronous = FULL` would cost: the commit latency of one-ban
# batches in the SQLite store, FULL (fsync per commit) against NORMAL (tollguard's default), on the
# filesystem of /var/lib (where state.db lives); then what a big batch costs (BULK bans in one
# transaction, and reading every history back as the daemon does at start). Prints tables of
# milliseconds.
#
# Usage: [BULK=100000] [RUNS=5] [BASELINE_CLI=PATH] bench/bans_store.sh [COMMITS]   (default 500)
#
# BASELINE_CLI: a store_cli built from another revision (e.g. before a schema change); the bulk
# runs then alternate between it and this build (the machine is shared and noisy, so the two are
# measured under the same load) and both get a median row.
set -euo pipefail
cd "$(dirname "$0")/.."
COMMITS=${1:-500}
cargo build --release -q -p tg-store --example store_cli
CLI=${CARGO_TARGET_DIR:-$PWD/target}/release/examples/store_cli
WORK=$(mktemp -d -p /var/tmp tollguard-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

printf '\none-ban commits to the SQLite store (WAL), %s each, ms\n\n' "$COMMITS"
printf '| %-12s | %8s | %8s | %8s |\n' synchronous p50 p99 max
printf '|%s|%s|%s|%s|\n' "--------------" "----------" "----------" "----------"
for sync in full normal; do
  # "full p50 X p99 Y max Z"
  read -r _ _ p50 _ p99 _ max < <("$CLI" latency "$WORK/$sync.db" "$COMMITS" "$sync")
  printf '| %-12s | %8s | %8s | %8s |\n' "$sync" "$p50" "$p99" "$max"
done

# A restart's or a flood's big batch: BULK bans recorded in one transaction (new addresses, then
# the same addresses again, each replacing its ban), and the daemon's start-up read of every
# history and running ban (history_pages, pages of 2,000), and the restore's listing of every
# running ban (active_bans, sorted by start).
BULK=${BULK:-100000}
RUNS=${RUNS:-5}
builds=(this)
[[ -n ${BASELINE_CLI:-} ]] && builds=(baseline this)
printf '\n%s bans in one batch, synchronous = NORMAL, ms (%s runs per build)\n\n' "$BULK" "$RUNS"
printf '| %-8s | %-6s | %10s | %12s | %12s | %11s |\n' build run "record new" "record again" "read history" "list active"
printf '|%s|%s|%s|%s|%s|%s|\n' "----------" "--------" "------------" "--------------" "--------------" "-------------"
for run in $(seq "$RUNS"); do
  for build in "${builds[@]}"; do
    cli=$CLI
    [[ $build == baseline ]] && cli=$BASELINE_CLI
    rm -f "$WORK"/bulk.db*
    # "new X replace Y history Z rows N active A bans M"
    read -r _ new _ again _ hist _ _ _ active _ _ < <("$cli" bulk "$WORK/bulk.db" "$BULK")
    printf '| %-8s | %-6s | %10s | %12s | %12s | %11s |\n' "$build" "$run" "$new" "$again" "$hist" "$active"
    echo "$build $new $again $hist $active" >>"$WORK/bulk.txt"
  done
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for build in "${builds[@]}"; do
  col() { awk -v b="$build" -v c="$1" '$1 == b { print $c }' "$WORK/bulk.txt" | median; }
  printf '| %-8s | %-6s | %10s | %12s | %12s | %11s |\n' "$build" median "$(col 2)" "$(col 3)" "$(col 4)" "$(col 5)"
done
