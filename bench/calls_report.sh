#!/usr/bin/env bash
# Benchmark: `tollguard calls report` over generated cdr_csv files of 1 and 10 million records
# (a 180-day office scaled up in extensions, with the article's fraud campaign injected).
# Prints wall time, CPU time, peak RSS and records/s per run. Needs ~3 GB in $BENCH_DIR.
#
#   bench/calls_report.sh            # 1M and 10M records
#   RECORDS="1" bench/calls_report.sh   # only 1M (quick)
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/tollguard-calls-bench}
RECORDS=${RECORDS:-"1 10"}   # millions
mkdir -p "$BENCH_DIR"

if [ ! -x /usr/bin/time ]; then
    apt-get install -y -qq time >/dev/null
fi
cargo build --release -q -p tollguard -p tg-cdr-gen --bin tollguard --bin tg-gen-cdr
TG=target/release/tollguard
GEN=target/release/tg-gen-cdr

# The generator makes ~1.03M records per 650 extensions over 180 days.
declare -A EXT=([1]=630 [10]=6300)

row() { printf '%-28s %10s %9s %9s %9s %10s %12s\n' "$@"; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $(nproc)"
row "input" "records" "size MB" "wall s" "cpu s" "RSS MB" "records/s"
for m in $RECORDS; do
    file="$BENCH_DIR/Master-${m}M.csv"
    if [ ! -s "$file" ]; then
        "$GEN" --extensions "${EXT[$m]}" --fraud-article 2025-04-18T21:00 >"$file" 2>"$file.log"
    fi
    records=$(wc -l <"$file")
    runs=("$file")
    if [ "$m" = 1 ]; then
        [ -s "$file.gz" ] || gzip -1 -c "$file" >"$file.gz"
        runs+=("$file.gz")
    fi
    for input in "${runs[@]}"; do
        /usr/bin/time -v -o "$BENCH_DIR/time.txt" "$TG" calls report --cdr "$input" --format json \
            >"$BENCH_DIR/out.json" || [ $? = 1 ]   # exit 1 = alarms (the campaign), expected
        wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$BENCH_DIR/time.txt")
        user=$(awk -F': ' '/User time/ {print $2}' "$BENCH_DIR/time.txt")
        sys=$(awk -F': ' '/System time/ {print $2}' "$BENCH_DIR/time.txt")
        rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$BENCH_DIR/time.txt")
        cpu=$(echo "$user + $sys" | bc)
        size=$(( $(stat -c %s "$input") / 1048576 ))
        rate=$(echo "$records / $wall" | bc)
        row "$(basename "$input")" "$records" "$size" "$wall" "$cpu" "$rss" "$rate"
        python3 -c "import json,sys; d=json.load(open('$BENCH_DIR/out.json')); a=d['alarms']; print('   alarms:', len(a), 'first:', min(x['start'] for x in a) if a else '-', ' skipped:', d['skipped'])"
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
