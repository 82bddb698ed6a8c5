#!/bin/sh
# Single-thread detector throughput on the Asterisk workload, as a table.
#
#   crates/tg-detect/benches/throughput.sh [LINES]      (default 1000000)
#
# Generates the workload with testdata/workload/gen_asterisk_log.py (seed 42, 20% attack lines,
# 500 attackers), builds the release example and prints lines/s for the whole file, its benign
# lines and its attack lines, plus attackers found against the generator's .truth file.
set -eu
here=$(cd "$(dirname "$0")/../../.." && pwd)
lines=${1:-1000000}
out=${TMPDIR:-/tmp}/tg-detect-throughput
mkdir -p "$out"
log=$out/w.log
python3 "$here/testdata/workload/gen_asterisk_log.py" --seed 42 --lines "$lines" --attack-ratio 0.2 \
    --attackers 500 --out "$log" >/dev/null
attack='Registration from|pjsip_distributor|Severity="Error"|chan_iax2.c: Host|rejected because'
grep -E "$attack" "$log" >"$out/attack.log" || true
grep -v -E "$attack" "$log" >"$out/benign.log" || true
cp "$log.truth" "$out/attack.log.truth"
cargo build --release -q -p tg-detect --example detect_throughput --manifest-path "$here/Cargo.toml"
bin=$here/target/release/examples/detect_throughput
nproc_note="machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$nproc_note"
"$bin" "$log" 7 | sed -n 1,3p
"$bin" "$out/benign.log" 7 | sed -n 3p
"$bin" "$out/attack.log" 7 | sed -n 3,4p
"$bin" "$log" 1 | sed -n 4p
