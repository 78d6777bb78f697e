# tests/rxe/lib.sh: what the emu end-to-end tests (e2e.sh) and the
# benchmark (bench.sh) share, sourced by both after setting `me`: the
# topology's variables, per-side command prefixes, the wire namespace (the
# topology's, RXE_WIRE_NS from `ci/rxe-topology.sh up --wire-ns NAME`, or
# one of our own when there is none), the daemon's port to it, the NIC
# daemon and application launchers, bounded waits, and a trap that stops
# every process started here and removes what was made. RXE_KEEP=1 keeps
# the working directory.
#
# The daemon's port (RXE_PMD): af_packet (the default) is DPDK
# net_af_packet on one end of a veth pair whose other end is in the wire
# namespace (PACKET_MMAP rings, no system call per frame;
# tests/support/af_packet_port.sh); tap is DPDK net_tap, its kernel side
# moved into the wire namespace once the daemon is ready.
#
#   wire ns:  10.77.0.1/24 on Linux's end (Linux peer)   stack: 10.77.0.2
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
# shellcheck source=tests/support/af_packet_port.sh
source tests/support/af_packet_port.sh
RXE_PMD=${RXE_PMD:-af_packet}
case $RXE_PMD in
af_packet | tap) ;;
*) echo "$me: RXE_PMD takes af_packet or tap, not '$RXE_PMD'" >&2; exit 2 ;;
esac

STATE=${RXE_STATE_DIR:-/run/bluetas-rxe}/topology.env
if [[ -z ${RXE_NIC_IP:-} ]]; then
	[[ -r $STATE ]] || { echo "$me: no emu topology ($STATE missing): run it through ci/rxe-vm.sh (make test-rxe, make bench-rxe)" >&2; exit 2; }
	# shellcheck disable=SC1090
	source "$STATE"
fi
B=${BUILD:-build}/bluetas
[[ -x $B ]] || { echo "$me: no $B (make all first)"; exit 1; }
here=tests/rxe
stack_ip=10.77.0.2
peer_ip=10.77.0.1
stack_mac=02:00:00:77:00:02
# RXE_CHAN_PORT: the daemon's verbs port (default the channel's, 7471);
# tests/rxe/run.sh gives its second lane another one.
chan_port=${RXE_CHAN_PORT:+:$RXE_CHAN_PORT}
CH_NIC=verbs:$RXE_NIC_IP$chan_port
CH_APP=verbs:$RXE_NIC_IP$chan_port,src=$RXE_HOST_IP
work=$(mktemp -d "/tmp/bt-rxe-$me.XXXXXX")
pids=()
own_wire=0
WIRE=${RXE_WIRE_NS:-}
# Command prefixes per side: `ip netns exec NS` in netns mode, nothing in
# single mode (the exec keeps the pid: $! is the program itself).
NIC=()
HOST=()
[[ -n ${RXE_NIC_NS:-} ]] && NIC=(ip netns exec "$RXE_NIC_NS")
[[ -n ${RXE_HOST_NS:-} ]] && HOST=(ip netns exec "$RXE_HOST_NS")
# RXE_PIN=1 (the default where there are 2 or more CPUs): the busy-polling
# daemon alone on the last CPU (start_daemon checks its affinity), every
# host-side program (HOST: the applications, the preload library's
# programs) on the others; the wire side is left to the scheduler. Under
# TCG a spinning daemon that shares a vCPU with the application or rxe's
# softirq work costs the RPC (docs/emu.md, "Pinning"). RXE_PIN=0 pins
# nothing (bench.sh places each run itself).
RXE_PIN=${RXE_PIN:-1}
[[ $RXE_PIN == 0 || $RXE_PIN == 1 ]] || { echo "$me: RXE_PIN takes 0 or 1, not '$RXE_PIN'" >&2; exit 2; }
# RXE_IDLE_SLEEP_US (the suite: 1000): the daemon's --idle-sleep-us, so an
# idle daemon sleeps in 1 ms slices instead of spinning its vCPU: under TCG
# every vCPU is a host thread, and a spinning one takes the host CPU the
# test's own work (the applications, Linux, rxe) needs. Gaps under 1 ms are
# still polled through. 0: the daemon polls without sleeping (bench.sh).
RXE_IDLE_SLEEP_US=${RXE_IDLE_SLEEP_US:-1000}
[[ $RXE_IDLE_SLEEP_US =~ ^[0-9]+$ ]] || { echo "$me: RXE_IDLE_SLEEP_US takes microseconds, not '$RXE_IDLE_SLEEP_US'" >&2; exit 2; }
PIN_DAEMON=()
daemon_cpu=
if [[ $RXE_PIN == 1 ]] && (($(nproc) >= 2)); then
	daemon_cpu=$(($(nproc) - 1))
	PIN_DAEMON=(taskset -c "$daemon_cpu")
	HOST=(taskset -c "0-$((daemon_cpu - 1))" "${HOST[@]}")
fi

say() { echo "$me: $*"; }
fail() {
	echo "$me: FAILED: $*"
	return 1
}

cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	# What is still running in the wire namespace was started by us.
	if [[ -n $WIRE ]]; then
		for p in $(ip netns pids "$WIRE" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	fi
	# A veth outlives its daemon (a tap does not), and the topology's wire
	# namespace outlives this script: the next script's peer address
	# would be on two interfaces.
	[[ -n ${tap:-} ]] && ip -n "$WIRE" link del "$tap" 2>/dev/null
	[[ $own_wire == 1 ]] && ip netns del "$WIRE" 2>/dev/null
	if [[ ${RXE_KEEP:-0} == 1 ]]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z $WIRE ]]; then
	WIRE=bt-$me$$
	ip netns add "$WIRE" || { echo "$me: cannot create a wire namespace"; exit 1; }
	ip -n "$WIRE" link set lo up
	own_wire=1
fi
WIRE_DO=(ip netns exec "$WIRE")
# No IPv6 chatter on the taps.
"${WIRE_DO[@]}" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null

sha() { sha256sum "$1" | cut -d' ' -f1; }
# dstat NAME COUNTER: from a daemon's --stats
dstat() { sed -n "s/^stat\.$2=//p" "$work/$1.out" | tail -1; }
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1" | head -1; } # field LINE KEY
stat_size() { stat -c %s "$1" 2>/dev/null || echo 0; }
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# wait_for LIMIT_S DESCRIPTION CMD...: until CMD succeeds, bounded.
wait_for() {
	local limit=$1 what=$2 i
	shift 2
	for ((i = 0; i < limit * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	fail "$what: not within $limit s"
}
has_line() { grep -q "$2" "$work/$1" 2>/dev/null; }
alive() { kill -0 "$1" 2>/dev/null; }

# wait_exit PID LIMIT_S: its exit status; TERM then KILL past the limit (124).
wait_exit() {
	local pid=$1 limit=$2 i
	for ((i = 0; i < limit * 10; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		say "pid $pid still running after ${limit}s: stopping it"
		kill -TERM "$pid" 2>/dev/null
		sleep 1
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 124
	fi
	wait "$pid" 2>/dev/null
}

show() { # NAME...: the tails of their logs
	local n
	for n in "$@"; do
		echo "$me: --- $n stdout ---"
		grep -v '=0$' "$work/$n.out" 2>/dev/null | tail -40 | sed 's/^/    /'
		echo "$me: --- $n stderr ---"
		grep -v 'multiq\|rte flow support\|secondary' "$work/$n.err" 2>/dev/null | tail -12 | sed 's/^/    /'
	done
}

# next_port: a fresh port for the next daemon, on RXE_PMD. Sets tap (Linux's
# interface in the wire namespace: the tap's kernel side, or Linux's end of
# the veth) and port_vdev (the daemon's --vdev). For af_packet the veth is
# made in the wire namespace (Linux's end: TSO/GSO off) and the daemon's
# end moved to the NIC side (GRO off, up there: a move takes it down); the
# previous one is removed first (two interfaces holding the peer address
# would split the routes).
tap_seq=0
next_port() {
	[[ -n ${tap:-} ]] && ip -n "$WIRE" link del "$tap" 2>/dev/null
	tap_seq=$((tap_seq + 1))
	tap=bte$$t$tap_seq
	if [[ $RXE_PMD == tap ]]; then
		port_vdev="net_tap0,iface=$tap"
		return 0
	fi
	local dk=${tap}d to=${RXE_NIC_NS:-1}
	# (`netns 1`: the namespace of pid 1, the initial one, in single mode)
	port_vdev=$(af_packet_veth "$WIRE" "$tap" "$dk" 2>&1) || { fail "$port_vdev"; return 1; }
	if ! ip -n "$WIRE" link set "$dk" netns "$to"; then
		fail "moving the daemon's end $dk of the veth to the NIC side (netns ${RXE_NIC_NS:-of pid 1})"
		return 1
	fi
	"${NIC[@]}" ethtool -K "$dk" gro off >/dev/null 2>&1
	# no IPv6 chatter from the NIC side's kernel out of the daemon's end
	"${NIC[@]}" sysctl -qw "net.ipv6.conf.$dk.disable_ipv6=1" 2>/dev/null
	"${NIC[@]}" ip link set "$dk" up || { fail "$dk up on the NIC side"; return 1; }
}

# start_daemon NAME ARGS...: `bluetas nic` on the NIC side on the port of
# the last next_port and a verbs listener; once it is ready Linux's end
# gets the peer address in the wire namespace (a tap's kernel side is
# moved there first). Fails unless the daemon runs on the PMD asked for.
# Sets daemon_pid. Bounded by --duration-s (100 s) unless ARGS give one.
start_daemon() {
	local name=$1
	shift
	"${PIN_DAEMON[@]}" "${NIC[@]}" "$B" nic --vdev "$port_vdev" --ip "$stack_ip/24" --mac "$stack_mac" --channel "$CH_NIC" \
		--idle-sleep-us "$RXE_IDLE_SLEEP_US" --duration-s 100 --stats "$@" >"$work/$name.out" 2>"$work/$name.err" &
	daemon_pid=$!
	pids+=("$daemon_pid")
	if ! wait_for 30 "daemon $name ready" has_line "$name.out" '^ready '; then
		show "$name"
		return 1
	fi
	local driver cpus
	if [[ -n $daemon_cpu ]]; then
		# every thread (the EAL's too) on the daemon's CPU, none elsewhere
		cpus=$(for t in /proc/"$daemon_pid"/task/*; do taskset -pc "${t##*/}" 2>/dev/null | sed 's/.*: //'; done | sort -u | tr '\n' ' ')
		[[ $cpus == "$daemon_cpu " ]] || { fail "daemon $name runs on CPUs '$cpus', not CPU $daemon_cpu alone (RXE_PIN=1)"; return 1; }
	fi
	driver=$(sed -n 's/^ready .*driver=\([^ ]*\).*/\1/p' "$work/$name.out")
	[[ $driver == "net_$RXE_PMD" ]] || { fail "daemon $name runs on '$driver', not net_$RXE_PMD (RXE_PMD=$RXE_PMD)"; return 1; }
	if [[ $RXE_PMD == tap ]]; then
		local nsarg=()
		[[ -n ${RXE_NIC_NS:-} ]] && nsarg=(-n "$RXE_NIC_NS")
		ip "${nsarg[@]}" link set "$tap" netns "$WIRE" || { fail "moving $tap into $WIRE"; return 1; }
	fi
	"${WIRE_DO[@]}" ip addr add "$peer_ip/24" dev "$tap" &&
		"${WIRE_DO[@]}" ip link set "$tap" up || fail "the peer address on $tap in $WIRE"
}

# start_app NAME ARGS...: `bluetas app` on the host side; sets app_pid
# (the program itself: kill -9 reaches it). Bounded by the caller's
# --duration-s and wait_exit.
start_app() {
	local name=$1
	shift
	"${HOST[@]}" "$B" app --channel "$CH_APP" "$@" >"$work/$name.out" 2>"$work/$name.err" &
	app_pid=$!
	pids+=("$app_pid")
}
app_ready() { wait_for 20 "app $1 ready" has_line "$1.out" '^ready ' || { show "$1"; return 1; }; }

# The daemon's "app N attached (peer ADDR..." line for the app whose ready
# line says local=ADDR: its N.
app_seq_of() {
	local local_addr
	local_addr=$(sed -n 's/^ready .* local=\([^ ]*\) .*/\1/p' "$work/$2.out")
	sed -n "s/.*app \([0-9]*\) attached (peer $local_addr,.*/\1/p" "$work/$1.err" | head -1
}


# check_hops APPFILE NICFILE: `bluetas hops` joins the two halves of the
# hop trace; every client hop is printed, and no RPC's chain goes back in
# time (the two processes share CLOCK_MONOTONIC). Times are not judged.
check_hops() {
	local out=$work/hops.$$.out
	if ! "$B" hops "$1" "$2" >"$out" 2>&1; then
		fail "bluetas hops $1 $2: $(tail -2 "$out" | tr '\n' ' ')"
		return 1
	fi
	local summary want p missing=() prev=send
	summary=$(grep '^hops ' "$out")
	say "hop trace: $summary"
	for p in db_post db_seen read_done frame_out frame_in ev_posted woke ev_seen recv; do
		grep -Eq "^hop client\.$prev +-> client\.$p +p50_us=" "$out" || missing+=("$prev->$p")
		prev=$p
	done
	if ((${#missing[@]})) || [[ $(field "$summary" disordered) != 0 || $(field "$summary" rpcs) -lt 1 ]]; then
		fail "hop breakdown: missing hops ${missing[*]:-none}, $summary"
		cat "$out"
		return 1
	fi
}
