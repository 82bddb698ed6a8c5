#!/usr/bin/env bash
# bench/bans_store.sh — what `synchronous = FULL` would cost: the commit latency of one-ban
# batches in the SQLite store, FULL (fsync per commit) against NORMAL (tollguard's default), on the
# filesystem of /var/lib (where state.db lives); then what a big batch costs (BULK bans in one
# transaction, and reading every history back as the daemon does at start). Prints tables of
# milliseconds.
#
# Usage: [BULK=100000] bench/bans_store.sh [COMMITS]     (default 500)
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
# history and running ban (history_pages, pages of 2,000).
BULK=${BULK:-100000}
printf '\n%s bans in one batch, synchronous = NORMAL, ms (3 runs)\n\n' "$BULK"
printf '| %-5s | %10s | %10s | %14s |\n' run "record new" "record again" "read history"
printf '|%s|%s|%s|%s|\n' "-------" "------------" "--------------" "----------------"
for run in 1 2 3; do
  rm -f "$WORK"/bulk.db*
  # "new X replace Y history Z rows N"
  read -r _ new _ again _ hist _ _ < <("$CLI" bulk "$WORK/bulk.db" "$BULK")
  printf '| %-5s | %10s | %12s | %14s |\n' "$run" "$new" "$again" "$hist"
done
