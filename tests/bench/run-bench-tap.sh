#!/usr/bin/env bash
# make bench-tap: a Linux peer against `bluetas nic` over DPDK net_tap, next
# to Linux against Linux over a veth pair, measured now, in this run, by
# the same peer program (build/bench/bench_tap_peer):
#
#   bulk throughput, one connection, each direction, Mbit/s at the receiver
#   64 B echo RPC, one connection, closed loop: round trips/s, p50, p99
#
# and the ratio bluetas / Linux for each (>1: bluetas does better for
# rates, worse for latencies). Read the comparison for what it is: every
# bluetas frame also crosses the tap device (a read or write system call
# by the PMD, the kernel's tap queue), which a real NIC would not add; the
# veth baseline is two kernel stacks sharing this machine's 2 cores with
# the peer program, while the daemon busy-polls one core by itself.
#
# Needs root (network namespaces, net_tap). Elsewhere it prints one
# "skipped" line and exits 0. Everything it creates lives in namespaces it
# removes on exit; every wait is bounded.
set -u
build=${1:-build}
mib=${BENCH_TAP_MIB:-256}
duration_ms=${BENCH_DURATION_MS:-2000}
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/support/netns_lock.sh
source tests/support/netns_lock.sh
netns_lock_take
bin=$build/bluetas
peer=$build/bench/bench_tap_peer

skip() {
	echo "bench-tap: skipped: $*"
	exit 0
}
[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, net_tap)"
[[ -c /dev/net/tun ]] || skip "no /dev/net/tun (net_tap cannot be created here)"
command -v ip >/dev/null || skip "needs iproute2"
[[ -x $bin && -x $peer ]] || skip "build first: make cli benches ($bin, $peer)"

ns_t=btbt$$ ns_a=btba$$ ns_b=btbb$$
tap=bt$$bt
work=$(mktemp -d /tmp/bt-bench-tap.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	for n in "$ns_t" "$ns_a" "$ns_b"; do
		if ip netns list 2>/dev/null | grep -qw "$n"; then
			for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
			ip netns del "$n" 2>/dev/null
		fi
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
	echo "bench-tap: FAILED: $*"
	for f in "$work"/*.err; do
		[[ -s $f ]] && { echo "--- $f"; tail -5 "$f"; }
	done
	exit 1
}

field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2" | head -1; }

for n in "$ns_t" "$ns_a" "$ns_b"; do
	ip netns add "$n" || die "ip netns add $n"
	ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$n" link set lo up
done
ip link add va netns "$ns_a" type veth peer name vb netns "$ns_b" || die "cannot create a veth pair"
ip -n "$ns_a" addr add 10.78.0.1/24 dev va
ip -n "$ns_b" addr add 10.78.0.2/24 dev vb
ip -n "$ns_a" link set va up
ip -n "$ns_b" link set vb up

# daemon NAME ARGS...: `bluetas nic` on a fresh tap in ns_t; waits for ready
# and gives the tap's kernel side 10.77.0.1/24. Sets dpid.
daemon() {
	local name=$1
	shift
	ip netns exec "$ns_t" timeout -k 5 120 "$bin" nic --vdev "net_tap0,iface=$tap" --ip 10.77.0.2/24 \
		--mac 02:00:00:77:00:02 "$@" >"$work/$name.out" 2>"$work/$name.err" &
	dpid=$!
	pids+=("$dpid")
	for _ in $(seq 100); do
		grep -q '^ready ' "$work/$name.out" && break
		kill -0 "$dpid" 2>/dev/null || die "$name: bluetas nic exited before it was ready"
		sleep 0.1
	done
	grep -q '^ready ' "$work/$name.out" || die "$name: bluetas nic not ready after 10 s"
	ip -n "$ns_t" addr add 10.77.0.1/24 dev "$tap" && ip -n "$ns_t" link set "$tap" up || die "cannot configure $tap"
}

# finish PID LIMIT_S: waits for a process, TERM at the limit.
finish() {
	for _ in $(seq $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

bytes=$((mib << 20))
# Bulk runs get 1 MiB rings: the window (and so the bytes in flight) is
# what the rings hold, and the tap's queueing makes the RTT under load a
# few milliseconds. 256 KiB (the default) caps a connection near 0.7 Gbit/s.
ring_opts="--ring-bytes 1M --max-conns 8 --backlog 4"
in_t() { ip netns exec "$ns_t" timeout 120 "$@"; }
in_a() { ip netns exec "$ns_a" timeout 120 "$@"; }
in_b() { ip netns exec "$ns_b" timeout 120 "$@"; }

# ---- bulk: Linux -> bluetas sink over the tap ----
daemon sink --app sink --exit-after-conns 1 $ring_opts
in_t "$peer" bulk-send 10.77.0.2 9 --bytes "$bytes" >"$work/tap_rx_peer.out" 2>"$work/tap_rx_peer.err" ||
	die "bulk Linux -> bluetas"
finish "$dpid" 20
tap_rx=$(field mbit_per_s "$(grep '^sink ' "$work/sink.out")")
[[ -n $tap_rx ]] || die "no sink result"

# ---- bulk: bluetas source -> Linux over the tap ----
ip netns exec "$ns_t" timeout 120 "$peer" bulk-recv 5001 >"$work/tap_tx_peer.out" 2>"$work/tap_tx_peer.err" &
rpid=$!
pids+=("$rpid")
daemon source --app source --connect 10.77.0.1:5001 --bytes "$bytes" $ring_opts
finish "$dpid" 100
finish "$rpid" 10
tap_tx=$(field mbit_per_s "$(cat "$work/tap_tx_peer.out")")
[[ -n $tap_tx ]] || die "no receiver result for bluetas -> Linux"

# ---- bulk: Linux -> Linux over the veth ----
ip netns exec "$ns_b" timeout 120 "$peer" bulk-recv 5001 >"$work/veth_peer.out" 2>"$work/veth_recv.err" &
rpid=$!
pids+=("$rpid")
in_a "$peer" bulk-send 10.78.0.2 5001 --bytes "$bytes" >/dev/null 2>"$work/veth_send.err" || die "bulk over veth"
finish "$rpid" 10
veth=$(field mbit_per_s "$(cat "$work/veth_peer.out")")
[[ -n $veth ]] || die "no receiver result over veth"

# ---- 64 B echo: bluetas over the tap, then Linux over the veth ----
daemon echo --app echo --exit-after-conns 1
in_t "$peer" echo-client 10.77.0.2 7 --msg-bytes 64 --duration-ms "$duration_ms" --warmup-ms 200 \
	>"$work/echo_tap.out" 2>"$work/echo_tap.err" || die "echo over the tap"
finish "$dpid" 20
ip netns exec "$ns_b" timeout 120 "$peer" echo-server 7007 >/dev/null 2>"$work/echo_srv.err" &
spid=$!
pids+=("$spid")
in_a "$peer" echo-client 10.78.0.2 7007 --msg-bytes 64 --duration-ms "$duration_ms" --warmup-ms 200 \
	>"$work/echo_veth.out" 2>"$work/echo_veth.err" || die "echo over veth"
finish "$spid" 10

et=$(cat "$work/echo_tap.out")
ev=$(cat "$work/echo_veth.out")

echo "net_tap vs veth: bulk throughput, one connection, ${mib} MiB, Mbit/s at the receiver"
printf '%-34s %12s %14s\n' path mbit_per_s ratio_to_veth
awk -v a="$tap_rx" -v b="$tap_tx" -v c="$veth" 'BEGIN {
	printf "%-34s %12.1f %14.3f\n", "linux -> bluetas (net_tap)", a, a / c
	printf "%-34s %12.1f %14.3f\n", "bluetas -> linux (net_tap)", b, b / c
	printf "%-34s %12.1f %14.3f\n", "linux -> linux (veth)", c, 1
}'
echo
echo "net_tap vs veth: 64 B echo RPC, one connection, closed loop, ${duration_ms} ms"
printf '%-34s %12s %10s %10s\n' path rtt_per_s p50_us p99_us
printf '%-34s %12s %10s %10s\n' "linux <-> bluetas (net_tap)" "$(field rtt_per_s "$et")" "$(field p50_us "$et")" \
	"$(field p99_us "$et")"
printf '%-34s %12s %10s %10s\n' "linux <-> linux (veth)" "$(field rtt_per_s "$ev")" "$(field p50_us "$ev")" \
	"$(field p99_us "$ev")"
awk -v a="$(field rtt_per_s "$et")" -v b="$(field rtt_per_s "$ev")" -v c="$(field p50_us "$et")" \
	-v d="$(field p50_us "$ev")" -v e="$(field p99_us "$et")" -v f="$(field p99_us "$ev")" \
	'BEGIN { printf "%-34s %12.3f %10.3f %10.3f\n", "ratio bluetas / linux", a / b, c / d, e / f }'
