#!/usr/bin/env bash
# make bench-apps: what the offload saves an unmodified server, measured
# (docs/benchmarks.md, "make bench-apps"). The same program runs as a server
# on our stack (LD_PRELOAD=libbluetas_preload.so over the ipc channel to
# `bluetas nic` on DPDK net_af_packet, or net_tap with BENCH_APPS_PMD=tap)
# and on Linux TCP, in the same run, with the same client:
#
#   redis-server under redis-benchmark: SET and GET, 64 B values, 1 and 50
#     clients, pipelining 1 and 16: requests/s, p50 and p99 (redis-benchmark's
#     own figures), and the server process's CPU (user+sys, /proc/PID/stat)
#     per request; for ours the daemon's CPU per request separately (on a
#     BlueField it runs on the NIC's cores, not the host's)
#   iperf3 -s: throughput and the server's CPU seconds per GB, each way
#
# Topology (namespaces made here, removed on exit):
#
#   ns C (clients): veth end 10.77.0.1/24 --- bluetas nic (net_af_packet on
#                   the other end, or a tap; stack 10.77.0.2)
#                                          |  ipc (Unix socket + shared memory)
#                   veth 10.78.0.1/24      |
#                        |                 |
#   ns S (servers): veth 10.78.0.2/24   redis-server / iperf3 -s with LD_PRELOAD
#                   redis-server / iperf3 -s on Linux TCP
#
# Both servers live in ns S and both clients run in ns C: the paths differ
# by the stack (and the veth or tap device the daemon's PMD reads and writes,
# which a real NIC would not add).
#
# Fairness: Linux runs in its ordinary best configuration (Debian's redis
# defaults; iperf3 defaults, kernel autotuning), both stacks pinned (client
# CPU 0, server CPU 1, our daemon CPU 0) and not pinned; every block of runs
# starts with a warm-up run of each server that is not measured; CPU is
# sampled just around each measured client run; every figure is the median
# [min-max] of BENCH_APPS_RUNS runs, the stacks alternating run by run so
# that load changes hit both; the load average is printed with each block.
#
# Variables: BENCH_APPS_RUNS (3), BENCH_APPS_REQ (20000: requests at 1
# client, no pipelining; x2 at 50 clients, x5 with -P 16), BENCH_APPS_PIN
# ("unpinned pinned"), BENCH_APPS_IPERF_S (3, seconds per iperf3 run),
# BENCH_APPS_OURS_ENV (more environment for the servers on the stack),
# BENCH_APPS_REDIS_CFGS ("1:1 50:1 1:16 50:16": clients:pipelining
# cases), BENCH_APPS_PMD (af_packet: net_af_packet on a veth; tap: net_tap),
# BENCH_APPS_REDIS=0 / BENCH_APPS_IPERF=0 skip a part, BENCH_APPS_KEEP=1
# keeps the working directory. Needs root; elsewhere one "skipped" line.
# A server that does not work on the stack is reported as blocked with what
# it printed; Linux's figures are still measured. Nothing here is a test.
set -u
build=${1:-build}
runs=${BENCH_APPS_RUNS:-3}
req=${BENCH_APPS_REQ:-20000}
pins=${BENCH_APPS_PIN:-unpinned pinned}
iperf_s=${BENCH_APPS_IPERF_S:-3}
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/support/netns_lock.sh
source tests/support/netns_lock.sh
netns_lock_take
. tests/bench/bench-lib.sh
# shellcheck source=tests/support/af_packet_port.sh
source tests/support/af_packet_port.sh
bin=$build/bluetas
preload=$build/libbluetas_preload.so
[[ $preload == /* ]] || preload=$PWD/$preload
me=bench-apps

skip() {
	echo "$me: skipped: $*"
	exit 0
}
for v in runs req iperf_s; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "$me: $v must be a positive whole number, not '${!v}'" >&2; exit 2; }
done
for p in $pins; do
	[[ $p == pinned || $p == unpinned ]] || { echo "$me: BENCH_APPS_PIN takes pinned and/or unpinned, not '$p'" >&2; exit 2; }
done
# BENCH_APPS_REDIS_CFGS: the clients:pipelining cases, e.g. "1:1 50:1".
redis_cfgs=()
for cfg in ${BENCH_APPS_REDIS_CFGS:-1:1 50:1 1:16 50:16}; do
	[[ $cfg =~ ^[1-9][0-9]*:[1-9][0-9]*$ ]] ||
		{ echo "$me: BENCH_APPS_REDIS_CFGS takes CLIENTS:PIPELINE cases (e.g. 50:16), not '$cfg'" >&2; exit 2; }
	redis_cfgs+=("${cfg/:/ }")
done
pmd=${BENCH_APPS_PMD:-af_packet}
[[ $pmd == af_packet || $pmd == tap ]] || { echo "$me: BENCH_APPS_PMD takes af_packet or tap, not '$pmd'" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, net_$pmd)"
[[ $pmd == af_packet || -c /dev/net/tun ]] || skip "no /dev/net/tun (net_tap cannot be created here)"
[[ -x $bin && -f $preload ]] || skip "build first: make cli preload ($bin, $preload)"
for t in redis-server redis-benchmark iperf3 python3 taskset; do
	command -v $t >/dev/null || skip "needs $t (bash ci/install-deps.sh)"
done
ncpu=$(nproc)
[[ $ncpu -ge 2 ]] || pins=unpinned

ns_c=btbac$$ ns_s=btbas$$
tap=btba$$ # Linux's end of the daemon's port: the tap's kernel side or a veth end
stack_ip=10.77.0.2
linux_ip=10.78.0.2
work=$(mktemp -d /tmp/bt-bench-apps.XXXXXX)
sock=$work/nic.sock
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	for n in "$ns_c" "$ns_s"; do
		if ip netns list 2>/dev/null | grep -qw "$n"; then
			for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
			ip netns del "$n" 2>/dev/null
		fi
	done
	if [[ ${BENCH_APPS_KEEP:-0} == 1 ]]; then echo "$me: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
	echo "$me: FAILED: $*"
	if [[ -s ${results:-} ]]; then
		echo "--- the runs measured so far"
		cat "$results"
		[[ -n ${BENCH_APPS_RESULTS:-} ]] && cp "$results" "$BENCH_APPS_RESULTS"
	fi
	for f in "$work"/*.err "$work"/*.log; do
		[[ -s $f ]] && { echo "--- $f"; grep -v 'multiq\|rte flow\|secondary\|qdisc' "$f" | tail -5; }
	done
	exit 1
}
note() { echo "$me: $*"; }
in_c() { ip netns exec "$ns_c" "$@"; }
in_s() { ip netns exec "$ns_s" "$@"; }

# cpu_ticks PID: user+sys of the whole process (every thread, live or gone),
# in clock ticks (fields 14 and 15 of /proc/PID/stat, counted after the
# command name, which may hold spaces).
cpu_ticks() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	s=${s##*) }
	awk '{ print $12 + $13 }' <<<"$s"
}
hz=$(getconf CLK_TCK)

# child_of PID: the program `timeout` started (bounded: 5 s); PID is
# `ip netns exec` run directly in the background (it execs timeout).
child_of() {
	local c
	for _ in $(seq 50); do
		c=$(pgrep -P "$1" | head -1)
		[[ -n $c ]] && { echo "$c"; return 0; }
		sleep 0.1
	done
	return 1
}

# ---- topology ----
for n in "$ns_c" "$ns_s"; do
	ip netns add "$n" || die "ip netns add $n"
	ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$n" link set lo up
done
ip link add vc netns "$ns_c" type veth peer name vs netns "$ns_s" || die "cannot create a veth pair"
ip -n "$ns_c" addr add 10.78.0.1/24 dev vc
ip -n "$ns_s" addr add "$linux_ip/24" dev vs
ip -n "$ns_c" link set vc up
ip -n "$ns_s" link set vs up

vdev="net_tap0,iface=$tap"
if [[ $pmd == af_packet ]]; then
	vdev=$(af_packet_veth "$ns_c" "$tap" "${tap}d") || die "no veth for net_af_packet"
fi
ip netns exec "$ns_c" timeout -k 5 7200 "$bin" nic --vdev "$vdev" --ip "$stack_ip/24" --channel "ipc:$sock" \
	>"$work/nic.out" 2>"$work/nic.err" &
pids+=("$!")
dpid=$(child_of "$!") || die "bluetas nic did not start"
[[ $(cat "/proc/$dpid/comm") == bluetas ]] || die "pid $dpid is not bluetas nic"
for _ in $(seq 100); do
	grep -q '^ready ' "$work/nic.out" 2>/dev/null && break
	kill -0 "$dpid" 2>/dev/null || die "bluetas nic exited before it was ready"
	sleep 0.1
done
grep -q '^ready ' "$work/nic.out" || die "bluetas nic not ready after 10 s"
ip -n "$ns_c" addr add 10.77.0.1/24 dev "$tap" && ip -n "$ns_c" link set "$tap" up || die "cannot configure $tap"

# start_server NAME STACK CMD...: CMD in ns S, on our stack (STACK=ours,
# through the preload library) or Linux's; sets spid (the program's pid).
start_server() {
	local name=$1 stack=$2
	shift 2
	local pre=()
	[[ $stack == ours ]] && pre=(env LD_PRELOAD="$preload" BLUETAS_CHANNEL="ipc:$sock" "${ours_env[@]}" "${server_env[@]}")
	# not through in_s: a function in the background is a subshell, and
	# child_of must find the program under ip's exec of timeout
	ip netns exec "$ns_s" timeout -k 5 7200 "${pre[@]}" "$@" >"$work/$name.log" 2>&1 &
	pids+=("$!")
	spid=$(child_of "$!") || { note "$name did not start: $(tail -2 "$work/$name.log" | tr '\n' ' ')"; return 1; }
	# the CPU figures are this process's: make sure it is the program
	# (env execs it a moment later)
	local want=${1##*/}
	for _ in $(seq 50); do
		[[ $(cat "/proc/$spid/comm" 2>/dev/null) == "${want:0:15}" ]] && return 0
		sleep 0.1
	done
	note "$name: pid $spid is '$(cat "/proc/$spid/comm" 2>/dev/null)', not $want (exited?): $(tail -2 "$work/$name.log" | tr '\n' ' ')"
	return 1
}

# wait_listen IP PORT: a connection from ns C succeeds (15 s at most).
wait_listen() {
	for _ in $(seq 150); do
		in_c timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# pin_all MODE PID...: every thread of each PID on the server CPU (pinned)
# or on any CPU (unpinned). The client is started with its own affinity.
server_cpu=1
pin_to() { # CPU PID...
	local cpu=$1 p
	shift
	for p in "$@"; do [[ $p != 0 ]] && taskset -a -p -c "$cpu" "$p" >/dev/null 2>&1; done
}
client_pin=()
set_mode() { # MODE: affinity of the servers and the daemon for this block
	if [[ $1 == pinned ]]; then
		pin_to "$server_cpu" "${servers[@]}"
		pin_to 0 "$dpid"
		client_pin=(taskset -c 0)
	else
		pin_to "0-$((ncpu - 1))" "${servers[@]}" "$dpid"
		client_pin=()
	fi
}

# BENCH_APPS_OURS_ENV="VAR=VALUE ...": more environment for the servers on
# the stack (e.g. BLUETAS_MIXED_WAIT=stack, docs/sockets.md)
read -ra ours_env <<<"${BENCH_APPS_OURS_ENV:-}"
for v in "${ours_env[@]}"; do
	[[ $v == [A-Z_]*=* ]] || { echo "$me: BENCH_APPS_OURS_ENV takes VAR=VALUE words, not '$v'" >&2; exit 2; }
done
results=$work/results
: >"$results"
echo "$me: $(nproc) CPUs, load average at start $(loadavg); $runs runs; stacks alternate run by run"
echo "$me: ours = the server with LD_PRELOAD over ipc to bluetas nic (net_$pmd); linux = the same server on Linux TCP over a veth"
[[ ${#ours_env[@]} -gt 0 ]] && echo "$me: ours with ${ours_env[*]}"

# ---- redis ----
redis_args=(--port 6379 --save "" --appendonly no --protected-mode no)
# bench_redis STACK PIN RUN OP CLIENTS PIPE N: one measured redis-benchmark
# run; appends one line to $results.
bench_redis() {
	local stack=$1 pin=$2 run=$3 op=$4 c=$5 p=$6 n=$7 ip=$linux_ip srv=$lrpid
	[[ $stack == ours ]] && { ip=$stack_ip; srv=$orpid; }
	local s0 d0 s1 d1 line
	s0=$(cpu_ticks "$srv")
	d0=$(cpu_ticks "$dpid")
	in_c timeout 60 "${client_pin[@]}" redis-benchmark -h "$ip" -p 6379 -t "$op" -n "$n" -c "$c" -P "$p" -d 64 \
		--csv >"$work/rb.out" 2>"$work/rb.err"
	local rc=$?
	s1=$(cpu_ticks "$srv")
	d1=$(cpu_ticks "$dpid")
	line=$(grep -i "^\"$op\"" "$work/rb.out" | tail -1)
	local tag="redis stack=$stack pin=$pin op=${op^^} clients=$c pipe=$p run=$run"
	if [[ $rc != 0 || -z $line ]]; then
		echo "$tag failed=1 why=exit_$rc" >>"$results"
		note "$tag: failed (exit $rc): $(tr '\r' '\n' <"$work/rb.err" | grep -v '^$' | tail -1 | head -c 200)"
		return 1
	fi
	IFS=, read -r _ rps _ _ p50 _ p99 _ <<<"${line//\"/}"
	awk -v tag="$tag" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v n="$n" -v s="$((s1 - s0))" \
		-v d="$((d1 - d0))" -v hz="$hz" -v ours="$([[ $stack == ours ]] && echo 1 || echo 0)" 'BEGIN {
		printf "%s rps=%s p50_ms=%s p99_ms=%s app_us_per_req=%.3f", tag, rps, p50, p99, s * 1e6 / hz / n
		if (ours) printf " daemon_us_per_req=%.3f", d * 1e6 / hz / n
		printf "\n" }' >>"$results"
}

redis_n() { echo $((req * ($1 > 1 ? 2 : 1) * ($2 > 1 ? 5 : 1))); }
redis_blocked=""
declare -A ours_bad=()

if [[ ${BENCH_APPS_REDIS:-1} != 0 ]]; then
	server_env=()
	start_server redis-linux linux redis-server "${redis_args[@]}" --bind "$linux_ip" || die "redis-server on Linux"
	lrpid=$spid
	orpid=0
	if ! start_server redis-ours ours redis-server "${redis_args[@]}" --bind 0.0.0.0; then
		redis_blocked="redis-server on the stack did not start: $(tail -2 "$work/redis-ours.log" | tr '\n' ' ')"
	else
		orpid=$spid
	fi
	wait_listen "$linux_ip" 6379 || die "redis-server on Linux never listened"
	if [[ -z $redis_blocked ]] && ! wait_listen "$stack_ip" 6379; then
		redis_blocked="redis-server on the stack never listened: $(tail -2 "$work/redis-ours.log" | tr '\n' ' ')"
	fi
	servers=("$lrpid" "$orpid")
	for ((r = 1; r <= runs; r++)); do
		for pin in $pins; do
			set_mode "$pin"
			note "redis run $r/$runs, $pin, load average $(loadavg)"
			for stack in linux ours; do
				[[ $stack == ours && -n $redis_blocked ]] && continue
				ip=$linux_ip
				[[ $stack == ours ]] && ip=$stack_ip
				# warm-up, not measured: connections, allocator, caches, the key
				in_c timeout 60 "${client_pin[@]}" redis-benchmark -h "$ip" -p 6379 -t set,get -n 2000 -c 50 -P 16 \
					-d 64 -q >/dev/null 2>&1
				for cfg in "${redis_cfgs[@]}"; do
					read -r c p <<<"$cfg"
					for op in set get; do
						# a case that failed on the stack is not tried again
						[[ $stack == ours && -n ${ours_bad["$op $c $p"]:-} ]] && continue
						if ! bench_redis "$stack" "$pin" "$r" "$op" "$c" "$p" "$(redis_n "$c" "$p")" &&
							[[ $stack == ours ]]; then
							ours_bad["$op $c $p"]=1
							kill -0 "$orpid" 2>/dev/null ||
								redis_blocked="redis-server on the stack died: $(tail -2 "$work/redis-ours.log" | tr '\n' ' ')"
						fi
						[[ $stack == ours && -n $redis_blocked ]] && break 2
					done
				done
			done
		done
	done
	kill -0 "$dpid" 2>/dev/null || die "bluetas nic died during the redis runs"
fi

# ---- iperf3 ----
# bench_iperf STACK PIN RUN DIR: DIR=to_server (the client sends) or
# from_server (-R). One measured run.
bench_iperf() {
	local stack=$1 pin=$2 run=$3 dir=$4 ip=$linux_ip srv=$lipid
	[[ $stack == ours ]] && { ip=$stack_ip; srv=$oipid; }
	local rev=()
	[[ $dir == from_server ]] && rev=(-R)
	local s0 d0 s1 d1 t0 t1 bytes bps
	s0=$(cpu_ticks "$srv")
	d0=$(cpu_ticks "$dpid")
	t0=${EPOCHREALTIME/./}
	in_c timeout $((iperf_s + 30)) "${client_pin[@]}" iperf3 -c "$ip" -p 5201 -t "$iperf_s" "${rev[@]}" -J \
		>"$work/ip.json" 2>"$work/ip.err"
	local rc=$?
	t1=${EPOCHREALTIME/./}
	s1=$(cpu_ticks "$srv")
	d1=$(cpu_ticks "$dpid")
	read -r bytes bps < <(python3 -c 'import json,sys
try:
    e = json.load(open(sys.argv[1]))["end"]["sum_received"]
    print(int(e["bytes"]), e["bits_per_second"])
except Exception:
    print(0, 0)' "$work/ip.json")
	local tag="iperf3 stack=$stack pin=$pin dir=$dir run=$run"
	if [[ $rc != 0 || $bytes == 0 ]]; then
		echo "$tag failed=1 why=exit_$rc" >>"$results"
		note "$tag: failed (exit $rc): $(python3 -c 'import json,sys
try: print(json.load(open(sys.argv[1])).get("error", ""))
except Exception: print("")' "$work/ip.json") $(tail -1 "$work/ip.err")"
		return 1
	fi
	awk -v tag="$tag" -v b="$bytes" -v bps="$bps" -v s="$((s1 - s0))" -v d="$((d1 - d0))" -v hz="$hz" \
		-v w="$(((t1 - t0) / 1000))" -v ours="$([[ $stack == ours ]] && echo 1 || echo 0)" 'BEGIN {
		printf "%s gbit_per_s=%.3f app_cpu_s_per_GB=%.3f", tag, bps / 1e9, s / hz / (b / 1e9)
		if (ours) printf " daemon_cpu_s_per_GB=%.3f", d / hz / (b / 1e9)
		printf " wall_ms=%d\n", w }' >>"$results"
}
iperf_blocked=""
if [[ ${BENCH_APPS_IPERF:-1} != 0 ]]; then
	# ours: 1 MiB rings (the window is what the rings hold; bench-tap does the same)
	server_env=(BLUETAS_RING_BYTES=1048576 BLUETAS_MAX_CONNS=16)
	# -4: without it iperf3 listens on a kernel AF_INET6 socket (the preload
	# leaves IPv6 to the kernel), which collides with Linux's server in ns S
	start_server iperf-linux linux iperf3 -s -4 -p 5201 -B "$linux_ip" || die "iperf3 -s on Linux"
	lipid=$spid
	oipid=0
	if ! start_server iperf-ours ours iperf3 -s -4 -p 5201; then
		iperf_blocked="iperf3 -s on the stack did not start: $(tail -2 "$work/iperf-ours.log" | tr '\n' ' ')"
	else
		oipid=$spid
	fi
	wait_listen "$linux_ip" 5201 || die "iperf3 -s on Linux never listened"
	if [[ -z $iperf_blocked ]] && ! wait_listen "$stack_ip" 5201; then
		iperf_blocked="iperf3 -s on the stack never listened: $(tail -2 "$work/iperf-ours.log" | tr '\n' ' ')"
	fi
	servers=("$lipid" "$oipid")
	for ((r = 1; r <= runs; r++)); do
		for pin in $pins; do
			set_mode "$pin"
			note "iperf3 run $r/$runs, $pin, load average $(loadavg)"
			for stack in linux ours; do
				[[ $stack == ours && -n $iperf_blocked ]] && continue
				ip=$linux_ip
				[[ $stack == ours ]] && ip=$stack_ip
				in_c timeout 30 "${client_pin[@]}" iperf3 -c "$ip" -p 5201 -t 1 >/dev/null 2>&1 # warm-up
				for dir in to_server from_server; do
					if ! bench_iperf "$stack" "$pin" "$r" "$dir" && [[ $stack == ours ]]; then
						kill -0 "$oipid" 2>/dev/null ||
							iperf_blocked="iperf3 -s on the stack died: $(tail -2 "$work/iperf-ours.log" | tr '\n' ' ')"
					fi
				done
			done
		done
	done
fi

# ---- tables ----
# sel PATTERN...: the result lines holding every PATTERN (and no failure).
sel() {
	local out
	out=$(grep -v ' failed=1' "$results")
	for p in "$@"; do out=$(grep -F -- " $p" <<<"$out"); done
	echo "$out"
}
nfail() { local out; out=$(grep ' failed=1' "$results"); for p in "$@"; do out=$(grep -F -- " $p" <<<"$out"); done; grep -c . <<<"$out"; }
med() { stat "$1" "$2" | cut -d' ' -f1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "nan" || b == "nan" || b <= 0) print "n/a"; else printf "%.2fx", a / b }'; }
cellq() { [[ -n $2 ]] && cell "$1" "$2" || echo "-"; }

echo
echo "load average at the end: $(loadavg)"
if [[ ${BENCH_APPS_REDIS:-1} != 0 ]]; then
	echo
	echo "redis-benchmark -d 64 against redis-server: median [min-max] of $runs runs; CPU = user+sys of the server"
	echo "  process (/proc/PID/stat, ${hz} Hz ticks) over the measured run / requests; daemon = bluetas nic, ours only"
	printf '%-4s %4s %4s %-6s %-9s %26s %20s %20s %22s %22s\n' op c P stack pin requests_per_s p50_ms p99_ms \
		app_cpu_us_per_req daemon_cpu_us_per_req
	for cfg in "${redis_cfgs[@]}"; do
		read -r c p <<<"$cfg"
		for op in SET GET; do
			for pin in $pins; do
				for stack in linux ours; do
					l=$(sel "stack=$stack " "pin=$pin " "op=$op " "clients=$c " "pipe=$p ")
					nf=$(nfail "stack=$stack " "pin=$pin " "op=$op " "clients=$c " "pipe=$p ")
					extra=""
					[[ $nf -gt 0 ]] && extra="  ($nf run(s) failed)"
					if [[ -z $l ]]; then
						printf '%-4s %4s %4s %-6s %-9s %s\n' "$op" "$c" "$p" "$stack" "$pin" "no result${extra}"
						continue
					fi
					printf '%-4s %4s %4s %-6s %-9s %26s %20s %20s %22s %22s%s\n' "$op" "$c" "$p" "$stack" "$pin" \
						"$(cellq rps "$l")" "$(cellq p50_ms "$l")" "$(cellq p99_ms "$l")" "$(cellq app_us_per_req "$l")" \
						"$([[ $stack == ours ]] && cellq daemon_us_per_req "$l" || echo -)" "$extra"
				done
				lo=$(sel "stack=ours " "pin=$pin " "op=$op " "clients=$c " "pipe=$p ")
				ll=$(sel "stack=linux " "pin=$pin " "op=$op " "clients=$c " "pipe=$p ")
				if [[ -n $lo && -n $ll ]]; then
					printf '%-4s %4s %4s %-6s %-9s %26s %20s %20s %22s\n' "$op" "$c" "$p" "ratio" "$pin" \
						"$(ratio "$(med rps "$lo")" "$(med rps "$ll")")" "$(ratio "$(med p50_ms "$lo")" "$(med p50_ms "$ll")")" \
						"$(ratio "$(med p99_ms "$lo")" "$(med p99_ms "$ll")")" \
						"$(ratio "$(med app_us_per_req "$lo")" "$(med app_us_per_req "$ll")")"
				fi
			done
		done
	done
	echo "ratio = ours / linux of the medians. Goal: app CPU per request <= 0.40x, requests/s >= 1x, p99 <= 1x."
	[[ -n $redis_blocked ]] && echo "redis on the stack: BLOCKED: $redis_blocked"
fi
if [[ ${BENCH_APPS_IPERF:-1} != 0 ]]; then
	echo
	echo "iperf3 -t $iperf_s, one connection: median [min-max] of $runs runs; CPU = user+sys of iperf3 -s over the run"
	echo "  / bytes received (GB = 1e9 B); to_server: the client sends, from_server: -R"
	printf '%-12s %-6s %-9s %22s %22s %24s\n' dir stack pin gbit_per_s app_cpu_s_per_GB daemon_cpu_s_per_GB
	for dir in to_server from_server; do
		for pin in $pins; do
			for stack in linux ours; do
				l=$(sel "stack=$stack " "pin=$pin " "dir=$dir ")
				nf=$(nfail "stack=$stack " "pin=$pin " "dir=$dir ")
				extra=""
				[[ $nf -gt 0 ]] && extra="  ($nf run(s) failed)"
				if [[ -z $l ]]; then
					printf '%-12s %-6s %-9s %s\n' "$dir" "$stack" "$pin" "no result${extra}"
					continue
				fi
				printf '%-12s %-6s %-9s %22s %22s %24s%s\n' "$dir" "$stack" "$pin" "$(cellq gbit_per_s "$l")" \
					"$(cellq app_cpu_s_per_GB "$l")" "$([[ $stack == ours ]] && cellq daemon_cpu_s_per_GB "$l" || echo -)" "$extra"
			done
			lo=$(sel "stack=ours " "pin=$pin " "dir=$dir ")
			ll=$(sel "stack=linux " "pin=$pin " "dir=$dir ")
			[[ -n $lo && -n $ll ]] && printf '%-12s %-6s %-9s %22s %22s\n' "$dir" ratio "$pin" \
				"$(ratio "$(med gbit_per_s "$lo")" "$(med gbit_per_s "$ll")")" \
				"$(ratio "$(med app_cpu_s_per_GB "$lo")" "$(med app_cpu_s_per_GB "$ll")")"
		done
	done
	[[ -n $iperf_blocked ]] && echo "iperf3 on the stack: BLOCKED: $iperf_blocked"
fi
kill -0 "$dpid" 2>/dev/null || note "bluetas nic died during the run: $(tail -2 "$work/nic.err" | tr '\n' ' ')"
[[ -n ${BENCH_APPS_RESULTS:-} ]] && cp "$results" "$BENCH_APPS_RESULTS"
exit 0
