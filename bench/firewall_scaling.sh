#!/usr/bin/env bash
# Firewall policy scaling: how long `tollguard firewall render` and `apply` take as the trusted
# list grows, and whether the per-packet cost depends on it.
#
#   bash bench/firewall_scaling.sh            # sizes 10 100 1000 10000 50000
#   SIZES="10 1000" PINGS=2000 bash bench/firewall_scaling.sh
#
# Everything runs in throwaway network namespaces (tgfwb-<pid>-*), deleted on exit; the host's
# own ruleset is never touched. Needs root, nftables, iproute2, python3, and a release build
# (built here if missing: cargo build --release -p tollguard).
#
# Per-packet cost: a trusted client sends PINGS UDP datagrams one at a time, each from a new
# source port (a new flow, so the policy judges it), to an echo service on the PBX open to
# "trusted" only, and the mean round trip is reported.
# The client's address is the LAST trusted entry. With tollguard's set (one hash/interval
# lookup) the round trip should not grow with N. For comparison the same check runs against a
# linear chain of N `ip saddr X accept` rules, the way rule-per-host firewalls work.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "firewall_scaling.sh: run as root (it makes network namespaces)" >&2; exit 2; }

SIZES=${SIZES:-"10 100 1000 10000 50000"}
PINGS=${PINGS:-3000}
BIN=${TOLLGUARD_BIN:-target/release/tollguard}
if [ ! -x "$BIN" ]; then
  cargo build --release -p tollguard >&2
fi

P=tgfwb-$$
PBX=$P-pbx; CLI=$P-cli
WD=$(mktemp -d)
cleanup() {
  for ns in "$PBX" "$CLI"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$WD"
}
trap cleanup EXIT

ip netns add "$PBX"; ip netns add "$CLI"
ip -n "$PBX" link set lo up; ip -n "$CLI" link set lo up
ip link add fwb$$a netns "$PBX" type veth peer name fwb$$b netns "$CLI"
ip -n "$PBX" addr add 198.18.0.1/15 dev fwb$$a; ip -n "$PBX" link set fwb$$a up
ip -n "$CLI" link set fwb$$b up

# A UDP echo server on the PBX, port 2200.
ip netns exec "$PBX" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 2200))
while True:
    d, a = s.recvfrom(64); s.sendto(d, a)
' &
sleep 0.3

# Mean UDP round trip in microseconds from the client, PINGS datagrams one after another.
rtt() {
  ip netns exec "$CLI" python3 - "$PINGS" <<'EOF'
import socket, sys, time
n = int(sys.argv[1])
def one():
    # A fresh socket (new source port) per datagram: every packet is a new flow, so it is
    # judged by the policy rather than by the established-flow shortcut.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0)
    s.sendto(b"x", ("198.18.0.1", 2200)); s.recvfrom(64); s.close()
for _ in range(200):  # warm up (ARP)
    one()
t0 = time.perf_counter()
for _ in range(n):
    one()
print("%.1f" % ((time.perf_counter() - t0) / n * 1e6))
EOF
}

# N distinct addresses in 198.18.0.0/15; the last one is the client's.
addresses() {
  python3 - "$1" <<'EOF'
import ipaddress, sys
n = int(sys.argv[1])
base = int(ipaddress.IPv4Address("198.18.1.0"))
for i in range(n):
    print(ipaddress.IPv4Address(base + 2 * i))
EOF
}

now() { date +%s.%N; }
secs() { python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }

printf '%-8s %-10s %-10s %-12s %-14s %-14s\n' "trusted" "render s" "apply s" "reapply s" "rtt set us" "rtt linear us"
for N in $SIZES; do
  addresses "$N" > "$WD/addrs"
  last=$(tail -n 1 "$WD/addrs")
  ip -n "$CLI" addr flush dev fwb$$b
  ip -n "$CLI" addr add "$last/15" dev fwb$$b
  {
    echo "[daemon]"; echo "state_dir = \"$WD/state\""
    echo "[trusted]"; printf 'addresses = ['; sed 's/.*/"&"/' "$WD/addrs" | paste -sd, - | tr -d '\n'; echo "]"
    echo "[firewall.services.ssh]"; echo 'zones = ["trusted"]'
    echo "[firewall.services.echo]"; echo 'ports = [2200]'; echo 'protocol = "udp"'; echo 'zones = ["trusted"]'
  } > "$WD/fw.toml"
  ip netns exec "$PBX" nft flush ruleset
  rm -rf "$WD/state"

  t0=$(now); ip netns exec "$PBX" "$BIN" firewall render --config "$WD/fw.toml" > "$WD/out.nft"; t1=$(now)
  render=$(secs "$t0" "$t1")
  t0=$(now); ip netns exec "$PBX" "$BIN" firewall apply --config "$WD/fw.toml" --confirm-within 0 >/dev/null; t1=$(now)
  apply=$(secs "$t0" "$t1")
  t0=$(now); ip netns exec "$PBX" "$BIN" firewall apply --config "$WD/fw.toml" --confirm-within 0 >/dev/null; t1=$(now)
  reapply=$(secs "$t0" "$t1")
  rtt_set=$(rtt)

  # The same admission as N linear rules (client last), in a table of its own.
  ip netns exec "$PBX" nft flush ruleset
  {
    echo "table inet linear {"
    echo "  chain input { type filter hook input priority 0; policy drop;"
    echo "    iif lo accept"
    sed 's/.*/    ip saddr & udp dport 2200 accept/' "$WD/addrs"
    echo "  }"
    echo "}"
  } > "$WD/linear.nft"
  ip netns exec "$PBX" nft -f "$WD/linear.nft"
  rtt_linear=$(rtt)
  printf '%-8s %-10s %-10s %-12s %-14s %-14s\n' "$N" "$render" "$apply" "$reapply" "$rtt_set" "$rtt_linear"
done
echo "($(nproc) cores, kernel $(uname -r), $(nft --version | head -1), binary $BIN)"
