#!/usr/bin/env bash
# Times `tollguard audit` on generated FreePBX-style trees of 100, 2,000 and 10,000 extensions
# (release build) and prints a table. Uses hyperfine when installed, else a timed loop.
#
#   bench/audit_scale.sh [RUNS]        # RUNS per size for the loop fallback (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"

# hyperfine from Debian when we may install it; otherwise the loop below does the timing.
if ! command -v hyperfine >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -qq hyperfine >/dev/null 2>&1 || true
fi

cargo build --release -q -p tollguard
cargo build --release -q -p tg-audit --example gen_pbx
bin=target/release/tollguard
gen=target/release/examples/gen_pbx

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

printf '%-12s %-8s %-12s %-12s %-12s %s\n' extensions files "mean (ms)" "min (ms)" "max (ms)" tool
for n in 100 2000 10000; do
    tree="$work/pbx-$n"
    "$gen" "$tree" "$n" >/dev/null
    files=$(find "$tree" -type f | wc -l)
    # exit 1 = findings (the generated tree plants some); only 2 is a failure
    cmd="$bin audit --root $tree --asterisk-version 22.10.1 --format json"
    if command -v hyperfine >/dev/null 2>&1; then
        hyperfine -N --warmup 2 -i --style none --export-json "$work/h.json" "$cmd" >/dev/null 2>&1
        read -r mean min max < <(python3 -c "import json;r=json.load(open('$work/h.json'))['results'][0];print(f\"{r['mean']*1e3:.1f} {r['min']*1e3:.1f} {r['max']*1e3:.1f}\")")
        tool=hyperfine
    else
        times=()
        for _ in $(seq "$runs"); do
            start=$(date +%s%N)
            $cmd >/dev/null || [ $? -eq 1 ]
            end=$(date +%s%N)
            times+=($(( (end - start) / 1000 )))
        done
        read -r mean min max < <(printf '%s\n' "${times[@]}" | awk '{s+=$1; if(min==""||$1<min)min=$1; if($1>max)max=$1} END {printf "%.1f %.1f %.1f\n", s/NR/1000, min/1000, max/1000}')
        tool="loop x$runs"
    fi
    printf '%-12s %-8s %-12s %-12s %-12s %s\n' "$n" "$files" "$mean" "$min" "$max" "$tool"
done
