#!/usr/bin/env bash
# make bench-tap: a Linux peer against `bluetas nic` over each DPDK PMD that
# reaches Linux on this machine, next to Linux against Linux over a veth
# pair, measured now, in this run, by the same peer program
# (build/bench/bench_tap_peer):
#
#   bulk throughput, one connection, each direction, Mbit/s at the receiver
#   64 B echo RPC, one connection, closed loop: round trips/s, p50, p99
#   the daemon's CPU (user and sys, /proc/PID/stat, from just before the
#     peer starts to the daemon's exit) per frame the port moved (the PMD's
#     ipackets + opackets), for each of the three runs
#
# The PMDs (BENCH_TAP_PMDS, default "af_packet af_xdp tap"):
#   tap        net_tap: the daemon makes a tap device, Linux is its kernel
#              side; one read or write system call per frame
#   af_packet  net_af_packet on one end of a veth (PACKET_MMAP rings,
#              qdisc bypass); Linux is the other end
#   af_xdp     net_af_xdp on one end of a veth (XDP on the veth, copy mode)
# A PMD that cannot run here (not built, no kernel support) is reported as
# unavailable with the daemon's reason; the others are still measured.
#
# Read the comparison for what it is: every bluetas frame also crosses a
# kernel device the PMD reads and writes, which a real NIC would not add;
# the veth baseline is two kernel stacks sharing this machine's 2 cores with
# the peer program, while the daemon busy-polls one core by itself.
#
# Variables: BENCH_TAP_PMDS, BENCH_TAP_RUNS (3: every figure is the median
# [min-max] of the runs, the paths alternating run by run), BENCH_TAP_MIB
# (256), BENCH_DURATION_MS (2000, per echo run). Needs root (network
# namespaces, net_tap); elsewhere one "skipped" line, exit 0. Everything it
# creates lives in namespaces it removes on exit; every wait is bounded.
set -u
build=${1:-build}
mib=${BENCH_TAP_MIB:-256}
duration_ms=${BENCH_DURATION_MS:-2000}
runs=${BENCH_TAP_RUNS:-3}
pmds=${BENCH_TAP_PMDS:-af_packet af_xdp tap}
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/support/netns_lock.sh
source tests/support/netns_lock.sh
netns_lock_take
. tests/bench/bench-lib.sh
# shellcheck source=tests/support/af_packet_port.sh
source tests/support/af_packet_port.sh
bin=$build/bluetas
peer=$build/bench/bench_tap_peer

skip() {
	echo "bench-tap: skipped: $*"
	exit 0
}
for v in mib duration_ms runs; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench-tap: $v must be a positive whole number, not '${!v}'" >&2; exit 2; }
done
for p in $pmds; do
	[[ $p == tap || $p == af_packet || $p == af_xdp ]] ||
		{ echo "bench-tap: BENCH_TAP_PMDS takes tap, af_packet and af_xdp, not '$p'" >&2; exit 2; }
done
[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, net_tap, AF_PACKET)"
command -v ip >/dev/null || skip "needs iproute2"
[[ -x $bin && -x $peer ]] || skip "build first: make cli benches ($bin, $peer)"

ns_t=btbt$$ ns_a=btba$$ ns_b=btbb$$
tap=bt$$bt
vk=bt$$vk vd=bt$$vd # the veth for af_packet/af_xdp: Linux's end, the daemon's end
work=$(mktemp -d /tmp/bt-bench-tap.XXXXXX)
hz=$(getconf CLK_TCK)
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
		[[ -s $f ]] && { echo "--- $f"; grep -v 'multiq\|rte flow\|qdisc' "$f" | tail -5; }
	done
	exit 1
}

field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2" | head -1; }
dstat() { sed -n "s/^stat\.$1=//p" "$2" | tail -1; }

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

# The veth the af_packet and af_xdp ports sit on, in ns_t (both PMDs read
# the daemon's end; tests/support/af_packet_port.sh says how it is set up).
# Linux's end holds 10.77.0.1/24.
af_packet_veth "$ns_t" "$vk" "$vd" >/dev/null || die "no veth for net_af_packet / net_af_xdp"
ip -n "$ns_t" addr add 10.77.0.1/24 dev "$vk"

vdev_of() {
	case $1 in
	tap) echo "net_tap0,iface=$tap" ;;
	af_packet) af_packet_vdev "$vd" ;;
	af_xdp) echo "net_af_xdp0,iface=$vd,start_queue=0,queue_count=1" ;;
	esac
}

# cpu_ticks PID: "user sys" of the process in clock ticks (fields 14 and 15
# of /proc/PID/stat, counted after the command name).
cpu_ticks() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	awk '{ print $12, $13 }' <<<"$s"
}

# watch_cpu PID FILE: keeps FILE at the process's CPU ticks until it exits
# (20 ms behind at most; 150 s at most).
watch_cpu() {
	local t
	for _ in $(seq 7500); do
		t=$(cpu_ticks "$1") || break
		echo "$t" >"$2.tmp" && mv "$2.tmp" "$2"
		sleep 0.02
	done
}

# daemon PMD NAME ARGS...: `bluetas nic` on the PMD's port in ns_t; waits
# for ready (for tap, then gives the tap's kernel side 10.77.0.1/24). Sets
# dpid (the `ip netns exec` pid) and bpid (bluetas itself); returns 1 when
# the daemon did not become ready (its stderr in $work/NAME.err).
daemon() {
	local pmd=$1 name=$2
	shift 2
	ip netns exec "$ns_t" timeout -k 5 120 "$bin" nic --vdev "$(vdev_of "$pmd")" --ip 10.77.0.2/24 \
		--mac 02:00:00:77:00:02 --stats "$@" >"$work/$name.out" 2>"$work/$name.err" &
	dpid=$!
	pids+=("$dpid")
	for _ in $(seq 100); do
		grep -q '^ready ' "$work/$name.out" 2>/dev/null && break
		kill -0 "$dpid" 2>/dev/null || return 1
		sleep 0.1
	done
	grep -q '^ready ' "$work/$name.out" || return 1
	bpid=$(pgrep -P "$dpid" | head -1)
	[[ -n $bpid ]] || return 1
	if [[ $pmd == tap ]]; then
		{ ip -n "$ns_t" addr add 10.77.0.1/24 dev "$tap" && ip -n "$ns_t" link set "$tap" up; } ||
			die "cannot configure $tap"
	fi
	cpu_ticks "$bpid" >"$work/$name.cpu0"
	watch_cpu "$bpid" "$work/$name.cpu" &
	wpid=$!
	pids+=("$wpid")
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

# cpu_line NAME: "cpu_us_per_frame=.. sys_share=.." of the daemon run NAME.
cpu_line() {
	local u0 s0 u1 s1 frames
	read -r u0 s0 <"$work/$1.cpu0"
	read -r u1 s1 <"$work/$1.cpu"
	frames=$(($(dstat dpdk.pmd_ipackets "$work/$1.out") + $(dstat dpdk.pmd_opackets "$work/$1.out")))
	awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v f="$frames" -v hz="$hz" 'BEGIN {
		printf "frames=%d cpu_s=%.2f cpu_us_per_frame=%.3f sys_share=%.2f", f, (u + s) / hz,
			(f > 0 ? (u + s) / hz * 1e6 / f : 0), (u + s > 0 ? s / (u + s) : 0) }'
}

bytes=$((mib << 20))
# Bulk runs get 1 MiB rings: the window (and so the bytes in flight) is
# what the rings hold. 256 KiB (the default) caps a connection near 0.7 Gbit/s.
ring_opts=(--ring-bytes 1M)
in_t() { ip netns exec "$ns_t" timeout 120 "$@"; }
in_a() { ip netns exec "$ns_a" timeout 120 "$@"; }

# measure_pmd PMD RUN: one run of the three figures; appends a result line
# to $work/PMD.res, or the reason to $work/PMD.unavailable.
measure_pmd() {
	local pmd=$1 r=$2 rx tx et line
	# Linux's address on the veth only while a veth PMD is measured: with a
	# tap holding 10.77.0.1/24 too, the routes would split.
	if [[ $pmd == tap ]]; then
		ip -n "$ns_t" addr flush dev "$vk"
	else
		ip -n "$ns_t" addr replace 10.77.0.1/24 dev "$vk"
	fi
	if ! daemon "$pmd" "$pmd.sink" --app sink --exit-after-conns 1 "${ring_opts[@]}"; then
		finish "$dpid" 5
		grep -v 'multiq\|rte flow\|qdisc' "$work/$pmd.sink.err" | grep -i 'error\|fail\|cannot\|not\|unable' |
			head -3 | tr '\n' ' ' >"$work/$pmd.unavailable"
		[[ -s $work/$pmd.unavailable ]] || tail -2 "$work/$pmd.sink.err" >"$work/$pmd.unavailable"
		return 1
	fi
	in_t "$peer" bulk-send 10.77.0.2 9 --bytes "$bytes" >"$work/$pmd.rx_peer.out" 2>"$work/$pmd.rx_peer.err" ||
		die "$pmd: bulk Linux -> bluetas"
	finish "$dpid" 20
	wait "$wpid" 2>/dev/null
	rx=$(field mbit_per_s "$(grep '^sink ' "$work/$pmd.sink.out")")
	[[ -n $rx ]] || die "$pmd: no sink result"
	line="pmd=$pmd run=$r rx_mbit=$rx $(cpu_line "$pmd.sink" | sed 's/\([a-z_]*\)=/rx_\1=/g')"

	ip netns exec "$ns_t" timeout 120 "$peer" bulk-recv 5001 >"$work/$pmd.tx_peer.out" 2>"$work/$pmd.tx_peer.err" &
	local rpid=$!
	pids+=("$rpid")
	daemon "$pmd" "$pmd.source" --app source --connect 10.77.0.1:5001 --bytes "$bytes" "${ring_opts[@]}" ||
		die "$pmd: source daemon not ready"
	finish "$dpid" 100
	wait "$wpid" 2>/dev/null
	finish "$rpid" 10
	tx=$(field mbit_per_s "$(cat "$work/$pmd.tx_peer.out")")
	[[ -n $tx ]] || die "$pmd: no receiver result for bluetas -> Linux"
	line+=" tx_mbit=$tx $(cpu_line "$pmd.source" | sed 's/\([a-z_]*\)=/tx_\1=/g')"

	daemon "$pmd" "$pmd.echo" --app echo --exit-after-conns 1 || die "$pmd: echo daemon not ready"
	in_t "$peer" echo-client 10.77.0.2 7 --msg-bytes 64 --duration-ms "$duration_ms" --warmup-ms 200 \
		>"$work/$pmd.echo_peer.out" 2>"$work/$pmd.echo_peer.err" || die "$pmd: echo"
	finish "$dpid" 20
	wait "$wpid" 2>/dev/null
	et=$(cat "$work/$pmd.echo_peer.out")
	line+=" rtt_per_s=$(field rtt_per_s "$et") p50_us=$(field p50_us "$et") p99_us=$(field p99_us "$et")"
	line+=" $(cpu_line "$pmd.echo" | sed 's/\([a-z_]*\)=/echo_\1=/g') load=$(loadavg | tr ' ' /)"
	echo "$line" >>"$work/$pmd.res"
	echo "bench-tap: $line" >&2
}

measure_linux() {
	local r=$1 rx et
	ip netns exec "$ns_b" timeout 120 "$peer" bulk-recv 5001 >"$work/veth_peer.out" 2>"$work/veth_recv.err" &
	local rpid=$!
	pids+=("$rpid")
	in_a "$peer" bulk-send 10.78.0.2 5001 --bytes "$bytes" >/dev/null 2>"$work/veth_send.err" || die "bulk over veth"
	finish "$rpid" 10
	rx=$(field mbit_per_s "$(cat "$work/veth_peer.out")")
	[[ -n $rx ]] || die "no receiver result over veth"
	ip netns exec "$ns_b" timeout 120 "$peer" echo-server 7007 >/dev/null 2>"$work/echo_srv.err" &
	local spid=$!
	pids+=("$spid")
	in_a "$peer" echo-client 10.78.0.2 7007 --msg-bytes 64 --duration-ms "$duration_ms" --warmup-ms 200 \
		>"$work/echo_veth.out" 2>"$work/echo_veth.err" || die "echo over veth"
	finish "$spid" 10
	et=$(cat "$work/echo_veth.out")
	local line
	line="pmd=linux run=$r rx_mbit=$rx tx_mbit=$rx rtt_per_s=$(field rtt_per_s "$et")"
	line+=" p50_us=$(field p50_us "$et") p99_us=$(field p99_us "$et") load=$(loadavg | tr ' ' /)"
	echo "$line" >>"$work/linux.res"
	echo "bench-tap: $line" >&2
}

for ((r = 1; r <= runs; r++)); do
	measure_linux "$r"
	for pmd in $pmds; do
		[[ -e $work/$pmd.unavailable ]] && continue
		measure_pmd "$pmd" "$r" || echo "bench-tap: $pmd unavailable: $(cat "$work/$pmd.unavailable")" >&2
	done
done

lin=$(cat "$work/linux.res")
echo "bluetas nic per PMD vs Linux over a veth: one connection, median [min-max] of $runs runs"
echo "  bulk: ${mib} MiB each way, Mbit/s at the receiver; echo: 64 B closed loop, ${duration_ms} ms"
echo "  cpu/frame: the daemon's user+sys CPU per frame its port moved (ipackets + opackets), us; sys: kernel share"
printf '%-10s %22s %22s %20s %10s %10s %9s %9s %9s %5s\n' pmd linux_to_stack stack_to_linux rtt_per_s p50_us \
	p99_us rx_cpu/f tx_cpu/f echo_cpu/f sys
printf '%-10s %22s %22s %20s %10s %10s %9s %9s %9s %5s\n' linux "$(cell rx_mbit "$lin")" "$(cell tx_mbit "$lin")" \
	"$(cell rtt_per_s "$lin")" "$(stat p50_us "$lin" | cut -d' ' -f1)" "$(stat p99_us "$lin" | cut -d' ' -f1)" - - - -
for pmd in $pmds; do
	if [[ ! -s $work/$pmd.res ]]; then
		printf '%-10s unavailable: %s\n' "$pmd" "$(cat "$work/$pmd.unavailable" 2>/dev/null)"
		continue
	fi
	res=$(cat "$work/$pmd.res")
	printf '%-10s %22s %22s %20s %10s %10s %9s %9s %9s %5s\n' "$pmd" "$(cell rx_mbit "$res")" "$(cell tx_mbit "$res")" \
		"$(cell rtt_per_s "$res")" "$(stat p50_us "$res" | cut -d' ' -f1)" "$(stat p99_us "$res" | cut -d' ' -f1)" \
		"$(stat rx_cpu_us_per_frame "$res" | cut -d' ' -f1)" "$(stat tx_cpu_us_per_frame "$res" | cut -d' ' -f1)" \
		"$(stat echo_cpu_us_per_frame "$res" | cut -d' ' -f1)" "$(stat echo_sys_share "$res" | cut -d' ' -f1)"
done
echo "ratios to Linux (medians; >1 is better for rates, worse for latencies)"
for pmd in $pmds; do
	[[ -s $work/$pmd.res ]] || continue
	res=$(cat "$work/$pmd.res")
	printf '%-10s %22s %22s %20s %10s %10s\n' "$pmd" \
		"$(awk -v a="$(stat rx_mbit "$res" | cut -d' ' -f1)" -v b="$(stat rx_mbit "$lin" | cut -d' ' -f1)" 'BEGIN { printf "%.3f", a / b }')" \
		"$(awk -v a="$(stat tx_mbit "$res" | cut -d' ' -f1)" -v b="$(stat tx_mbit "$lin" | cut -d' ' -f1)" 'BEGIN { printf "%.3f", a / b }')" \
		"$(awk -v a="$(stat rtt_per_s "$res" | cut -d' ' -f1)" -v b="$(stat rtt_per_s "$lin" | cut -d' ' -f1)" 'BEGIN { printf "%.3f", a / b }')" \
		"$(awk -v a="$(stat p50_us "$res" | cut -d' ' -f1)" -v b="$(stat p50_us "$lin" | cut -d' ' -f1)" 'BEGIN { printf "%.3f", a / b }')" \
		"$(awk -v a="$(stat p99_us "$res" | cut -d' ' -f1)" -v b="$(stat p99_us "$lin" | cut -d' ' -f1)" 'BEGIN { printf "%.3f", a / b }')"
done
echo "load average at the end: $(loadavg)"
