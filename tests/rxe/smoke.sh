#!/usr/bin/env bash
# Soft-RoCE smoke tests across the emu topology (ci/rxe-topology.sh up must
# have run: this reads /run/bluetas-rxe/topology.env). Each test is a
# server on the NIC side (rxe_nic) and a client on the host side (rxe_host),
# small iteration counts, every process bounded by a timeout; the veth's
# counters must move, so traffic did cross the pair.
#
#   tests/rxe/smoke.sh TEST...     devices rc_pingpong send_lat write_lat rping, or all
set -uo pipefail

STATE=${RXE_STATE_DIR:-/run/bluetas-rxe}/topology.env
if [[ ! -r $STATE ]]; then
	echo "smoke: no topology ($STATE missing): run through ci/rxe-vm.sh, or ci/rxe-topology.sh up first" >&2
	exit 2
fi
# shellcheck disable=SC1090
source "$STATE"
T=${SMOKE_TIMEOUT:-60}

host() { if [[ -n $RXE_HOST_NS ]]; then ip netns exec "$RXE_HOST_NS" "$@"; else "$@"; fi; }
nic() { if [[ -n $RXE_NIC_NS ]]; then ip netns exec "$RXE_NIC_NS" "$@"; else "$@"; fi; }
counter() { # side ifname stat
	"$1" cat "/sys/class/net/$2/statistics/$3"
}
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# Waits (bounded) until a TCP port listens on the NIC side.
wait_listen() { # port
	local i
	for ((i = 0; i < 100; i++)); do
		nic ss -Htln "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	echo "smoke: the server never listened on port $1" >&2
	return 1
}

# A server/client pair. Server output in $out_s, client output in $out_c.
out_s='' out_c=''
pair() { # port server-cmd... -- client-cmd...
	local port=$1 s=() c=() spid rc src
	shift
	while [[ $1 != -- ]]; do s+=("$1"); shift; done
	shift
	c=("$@")
	local fs fc
	fs=$(mktemp) fc=$(mktemp)
	nic timeout -k 2 "$T" "${s[@]}" >"$fs" 2>&1 &
	spid=$!
	if [[ $port == cm ]]; then
		# an rdma_cm listener has no TCP socket to wait for: the client
		# retries while it is refused
		local i ok=0
		for ((i = 0; i < 20; i++)); do
			sleep 0.3
			if host timeout -k 2 "$T" "${c[@]}" >"$fc" 2>&1; then
				ok=1
				break
			fi
			kill -0 "$spid" 2>/dev/null || break
		done
		rc=1
		[[ $ok == 1 ]] && rc=0
		[[ $ok == 1 ]] || kill "$spid" 2>/dev/null
		wait "$spid"
		src=$?
		out_s=$(<"$fs") out_c=$(<"$fc")
		rm -f "$fs" "$fc"
		if [[ $rc -ne 0 || $src -ne 0 ]]; then
			echo "smoke: client failed ($rc), server exit $src (124 = timed out after $T s)" >&2
			echo "$out_s" | tail -20 | sed 's/^/  server| /'
			echo "$out_c" | tail -20 | sed 's/^/  client| /'
			return 1
		fi
		return 0
	fi
	if ! wait_listen "$port"; then
		kill "$spid" 2>/dev/null
		wait "$spid"
		out_s=$(<"$fs")
		rm -f "$fs" "$fc"
		echo "$out_s" | tail -20 | sed 's/^/  server| /'
		return 1
	fi
	host timeout -k 2 "$T" "${c[@]}" >"$fc" 2>&1
	rc=$?
	wait "$spid"
	src=$?
	out_s=$(<"$fs") out_c=$(<"$fc")
	rm -f "$fs" "$fc"
	if [[ $rc -ne 0 || $src -ne 0 ]]; then
		echo "smoke: client exit $rc, server exit $src (124 = timed out after $T s)" >&2
		echo "$out_s" | tail -20 | sed 's/^/  server| /'
		echo "$out_c" | tail -20 | sed 's/^/  client| /'
		return 1
	fi
	return 0
}

# Runs a test body and checks the veth counters moved by >= $2 packets each way.
crossed() { # name min-packets body...
	local name=$1 min=$2 h0 n0 h1 n1
	shift 2
	h0=$(counter host "$RXE_HOST_IF" tx_packets) n0=$(counter nic "$RXE_NIC_IF" tx_packets)
	"$@" || return 1
	h1=$(counter host "$RXE_HOST_IF" tx_packets) n1=$(counter nic "$RXE_NIC_IF" tx_packets)
	if ((h1 - h0 < min || n1 - n0 < min)); then
		echo "smoke: $name: traffic did not cross the veth ($RXE_HOST_IF tx +$((h1 - h0)), $RXE_NIC_IF tx +$((n1 - n0)) packets, expected >= $min each)" >&2
		return 1
	fi
	echo "  veth: $RXE_HOST_IF tx +$((h1 - h0)), $RXE_NIC_IF tx +$((n1 - n0)) packets"
}

t_devices() {
	local out
	out=$(timeout 10 ibv_devices 2>&1) || { echo "$out"; return 1; }
	echo "$out" | sed 's/^/  /'
	local d
	for d in "$RXE_HOST_DEV" "$RXE_NIC_DEV"; do
		# in netns mode with exclusive rdma netns, a device shows in its own
		# namespace only: ask on the right side
		local side=host
		[[ $d == "$RXE_NIC_DEV" ]] && side=nic
		if ! "$side" timeout 10 ibv_devinfo -d "$d" 2>&1 | grep -q 'state:.*PORT_ACTIVE'; then
			echo "smoke: $d missing or its port not PORT_ACTIVE:" >&2
			"$side" timeout 10 ibv_devinfo -d "$d" 2>&1 | head -20 >&2
			return 1
		fi
		local gi=$RXE_HOST_GID_INDEX gid=''
		[[ $side == nic ]] && gi=$RXE_NIC_GID_INDEX
		read -r gid 2>/dev/null <"/sys/class/infiniband/$d/ports/1/gids/$gi"
		echo "  $d: PORT_ACTIVE, gid[$gi] $gid"
	done
}

_rc_pingpong() {
	pair 18515 ibv_rc_pingpong -d "$RXE_NIC_DEV" -g "$RXE_NIC_GID_INDEX" -n 200 -s 4096 -p 18515 -- \
		ibv_rc_pingpong -d "$RXE_HOST_DEV" -g "$RXE_HOST_GID_INDEX" -n 200 -s 4096 -p 18515 "$RXE_NIC_IP" || return 1
	echo "$out_c" | grep -E 'bytes in|iters in' | sed 's/^/  /'
}
t_rc_pingpong() { crossed rc_pingpong 200 _rc_pingpong; }

# perftest latency: prints "  <test>: <bytes> B typical X us avg Y us"
_perftest_lat() { # binary port
	local bin=$1 port=$2 line
	pair "$port" "$bin" -d "$RXE_NIC_DEV" -x "$RXE_NIC_GID_INDEX" -n 1000 -s 64 -F -p "$port" -- \
		"$bin" -d "$RXE_HOST_DEV" -x "$RXE_HOST_GID_INDEX" -n 1000 -s 64 -F -p "$port" "$RXE_NIC_IP" || return 1
	# #bytes #iterations t_min t_max t_typical t_avg t_stdev 99% 99.9%
	line=$(echo "$out_c" | awk '$1 ~ /^[0-9]+$/ && NF >= 7 {l=$0} END {print l}')
	if [[ -z $line ]]; then
		echo "smoke: $bin printed no result line" >&2
		echo "$out_c" | tail -20 | sed 's/^/  client| /'
		return 1
	fi
	read -r b n tmin _ ttyp tavg _ p99 _ <<<"$line"
	echo "  $bin: $b B x $n: t_min $tmin us, t_typical $ttyp us, t_avg $tavg us, 99% $p99 us"
}
t_send_lat() { crossed send_lat 1000 _perftest_lat ib_send_lat 18516; }
t_write_lat() { crossed write_lat 1000 _perftest_lat ib_write_lat 18517; }

# rdma_cm: address and route resolution over the topology, then 10 pings.
_rping() {
	pair cm rping -s -a "$RXE_NIC_IP" -p 18518 -C 10 -S 64 -- \
		rping -c -a "$RXE_NIC_IP" -I "$RXE_HOST_IP" -p 18518 -C 10 -S 64 -v || return 1
	echo "  rping: $(echo "$out_c" | grep -c 'ping data') pings (rdma_cm connect, send, RDMA read/write)"
}
t_rping() {
	command -v rping >/dev/null 2>&1 || { echo "smoke: rping missing (rdmacm-utils)" >&2; return 1; }
	crossed rping 10 _rping
}

all=(devices rc_pingpong send_lat write_lat rping)
[[ $# -gt 0 ]] || { echo "usage: $0 TEST... (${all[*]}, or all)" >&2; exit 2; }
[[ $1 == all ]] && set -- "${all[@]}"
failed=0
for t in "$@"; do
	declare -F "t_$t" >/dev/null || { echo "smoke: unknown test '$t' (known: ${all[*]})" >&2; exit 2; }
	t0=$(now_ms)
	if "t_$t"; then
		echo "smoke: $t ok ($(( $(now_ms) - t0 )) ms, mode $RXE_MODE)"
	else
		echo "smoke: $t FAILED ($(( $(now_ms) - t0 )) ms, mode $RXE_MODE)"
		failed=$((failed + 1))
	fi
done
[[ $failed -eq 0 ]]
