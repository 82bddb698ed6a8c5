#!/usr/bin/env bash
# bench/bans_store.sh — what `synchronous = FULL` would cost: the commit latency of one-ban
# batches in the SQLite store, FULL (fsync per commit) against NORMAL (tollguard's default), on the
# filesystem of /var/lib (where state.db lives). Prints a table of milliseconds.
#
# Usage: bench/bans_store.sh [COMMITS]     (default 500)
set -euo pipefail
cd "$(dirname "$0")/.."
COMMITS=${1:-500}
cargo build --release -q -p tg-store --example store_cli
CLI=$PWD/target/release/examples/store_cli
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
