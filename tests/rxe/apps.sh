#!/usr/bin/env bash
# Unmodified programs on the stack over the verbs channel (docs/sockets.md,
# docs/emu.md): the same nc and redis checks tests/apps/run.sh makes over
# ipc, here with LD_PRELOAD=libbluetas_preload.so and
# BLUETAS_CHANNEL=verbs:NIC_IP,src=HOST_IP on the host side of the
# Soft-RoCE topology, one `bluetas nic --channel verbs:...` on the NIC side
# for all of them, Linux peers in the wire namespace:
#
#   nc_stack_to_linux   nc on the stack sends RXE_APPS_MIB (4) MiB to nc -l
#   nc_linux_to_stack   Linux nc sends them to nc -k -l on the stack
#   redis_cli           redis-cli on the stack SETs a 48 KiB value on Linux
#                       redis-server and GETs it back
#   redis_server        redis-server on the stack (epoll, non-blocking
#                       accept): Linux redis-cli SETs a 48 KiB value and
#                       GETs it back, then redis-benchmark (SET/GET, -P 16)
#   redis_wakeup        redis-server on the stack with BLUETAS_SPIN_US=0
#                       (epoll on a mixed set, asleep between requests):
#                       redis-benchmark -c 1 GET p50 with the wakeup
#                       descriptor (the completion channel, wait_fd_arm)
#                       must beat the negative control BLUETAS_WAKE_FD=0
#                       (2 ms sleep slices) by RXE_WAKE_GAIN_MS (0.5)
#   socket_semantics    tests/apps/sock_semantics.py client on the stack
#                       against its Linux peer, as tests/apps/run.sh does
#                       over ipc: MSG_PEEK, keepalive, and a blocking recv
#                       a SIGALRM handler interrupts (EINTR) without
#                       SA_RESTART and does not end with it (the call is
#                       restarted; transports/chan_signal.h)
#
# Each is checked byte for byte (sha256), and the daemon must have attached
# every program as an application of its own over verbs (so a program that
# reached Linux some other way fails the test). Runs through tests/rxe/run.sh
# (`make test-rxe`, the rxe section of `make test`; RXE_APPS=0 leaves it
# out there); 57 s measured in the TCG VM with the host loaded (load
# average 8-12 on 2 cores; the four cases 42 s of it, redis_server 16 s).
# Programs come from
# the host's /usr (the VM shares it), the preload library from BUILD.
#
#   tests/rxe/apps.sh [CASE...]    all four, or the ones named
set -uo pipefail
me=apps
# shellcheck source=tests/rxe/lib.sh
source "$(dirname "$0")/lib.sh"
preload=$PWD/${BUILD:-build}/libbluetas_preload.so
mib=${RXE_APPS_MIB:-4}
all_cases=(nc_stack_to_linux nc_linux_to_stack redis_cli redis_server redis_wakeup socket_semantics)
cases=("${all_cases[@]}")
[[ $# -gt 0 ]] && cases=("$@")
for c in "${cases[@]}"; do
	[[ " ${all_cases[*]} " == *" $c "* ]] || { echo "$me: no case '$c' (${all_cases[*]})" >&2; exit 2; }
done

# on_stack CMD...: the program on the host side, its TCP on the stack.
on_stack() { "${HOST[@]}" env LD_PRELOAD="$preload" BLUETAS_CHANNEL="$CH_APP" "$@"; }
in_wire() { "${WIRE_DO[@]}" "$@"; }
wire_listens() { in_wire ss -ltn 2>/dev/null | grep -q ":$1 "; }
stack_listens() { in_wire timeout 2 bash -c "exec 3<>/dev/tcp/$stack_ip/$1" 2>/dev/null; }
# until_stack_listens PORT PID LIMIT_S: probes until the program PID listens
# on the stack; gives up when it exited or LIMIT_S passed (a probe may take
# its 2 s, so the bound is on the clock, not on the number of probes).
until_stack_listens() {
	local end=$((SECONDS + $3))
	while ((SECONDS < end)); do
		stack_listens "$1" && return 0
		alive "$2" || { fail "the program that was to listen on port $1 exited"; return 1; }
		sleep 0.1
	done
	fail "nothing listened on the stack's port $1 within $3 s"
}

t_nc_stack_to_linux() {
	in_wire timeout 60 nc -4 -l "$peer_ip" 5101 >"$work/nc1.out" </dev/null &
	local lp=$!
	pids+=("$lp")
	wait_for 10 "Linux nc listening" wire_listens 5101 || return 1
	on_stack timeout 60 nc -4 -N "$peer_ip" 5101 <"$work/data" 2>"$work/nc1.err"
	local rc=$?
	[[ $rc == 0 ]] || kill "$lp" 2>/dev/null
	wait_exit "$lp" 20
	[[ $rc == 0 ]] || { fail "nc on the stack exited $rc: $(head -c 300 "$work/nc1.err")"; return 1; }
	[[ $(sha "$work/nc1.out") == "$want" ]] ||
		fail "Linux received $(stat_size "$work/nc1.out") bytes, not the $mib MiB sent (sha256)"
}

t_nc_linux_to_stack() {
	# -k: the readiness probe is a connection of its own
	on_stack timeout 60 nc -4 -k -l 5102 >"$work/nc2.out" 2>"$work/nc2.err" </dev/null &
	local sp=$!
	pids+=("$sp")
	until_stack_listens 5102 "$sp" 20 ||
		{ say "$(head -c 300 "$work/nc2.err")"; return 1; }
	in_wire timeout 60 nc -N "$stack_ip" 5102 <"$work/data"
	local rc=$?
	wait_for 20 "$mib MiB at nc on the stack" eval '[[ $(stat_size "$work/nc2.out") -ge $((mib << 20)) ]]'
	sleep 0.2
	kill "$sp" 2>/dev/null
	wait "$sp" 2>/dev/null
	[[ $rc == 0 ]] || { fail "Linux nc exited $rc"; return 1; }
	[[ $(sha "$work/nc2.out") == "$want" ]] ||
		fail "nc on the stack received $(stat_size "$work/nc2.out") bytes, not the $mib MiB sent (sha256)"
}

t_redis_cli() {
	command -v redis-server >/dev/null || { fail "no redis-server (bash ci/install-deps.sh)"; return 1; }
	in_wire timeout 60 redis-server --port 6101 --bind "$peer_ip" --save "" --appendonly no --protected-mode no \
		>"$work/redis.log" 2>&1 &
	pids+=("$!")
	wait_for 10 "redis-server listening" wire_listens 6101 || { tail -3 "$work/redis.log"; return 1; }
	head -c 36864 /dev/urandom | base64 -w0 >"$work/val"
	on_stack timeout 30 redis-cli -h "$peer_ip" -p 6101 -x set k <"$work/val" >"$work/set.out" 2>"$work/set.err"
	on_stack timeout 30 redis-cli -h "$peer_ip" -p 6101 --raw get k >"$work/get.out" 2>"$work/get.err"
	printf '\n' >>"$work/val"
	grep -q OK "$work/set.out" || { fail "SET did not answer OK: $(head -c 300 "$work/set.out")"; return 1; }
	[[ $(sha "$work/val") == $(sha "$work/get.out") ]] ||
		fail "GET returned $(stat_size "$work/get.out") bytes, not the 48 KiB value (sha256)"
}

# redis-server on the stack, over verbs, with Linux clients in the wire
# namespace: a 48 KiB value SET and read back byte-exact, and a short
# redis-benchmark (its SETs and GETs pipelined 16 deep) that must finish.
t_redis_server() {
	command -v redis-server >/dev/null || { fail "no redis-server (bash ci/install-deps.sh)"; return 1; }
	on_stack timeout 90 redis-server --port 6102 --bind 0.0.0.0 --save "" --appendonly no --protected-mode no \
		>"$work/redis_s.log" 2>&1 &
	local rp=$!
	pids+=("$rp")
	until_stack_listens 6102 "$rp" 30 || { say "$(tail -3 "$work/redis_s.log")"; return 1; }
	head -c 36864 /dev/urandom | base64 -w0 >"$work/val_s"
	in_wire timeout 30 redis-cli -h "$stack_ip" -p 6102 -x set k <"$work/val_s" >"$work/set_s.out" 2>&1
	in_wire timeout 30 redis-cli -h "$stack_ip" -p 6102 --raw get k >"$work/get_s.out" 2>"$work/get_s.err"
	in_wire timeout 60 redis-benchmark -h "$stack_ip" -p 6102 -t set,get -n 2000 -c 4 -P 16 -d 64 -q \
		>"$work/bench_s.out" 2>&1
	local brc=$?
	kill "$rp" 2>/dev/null
	wait_exit "$rp" 10
	printf '\n' >>"$work/val_s"
	say "redis-benchmark on the stack: $(tr '\r' '\n' <"$work/bench_s.out" | grep -E '^(SET|GET):' | grep requests | tr '\n' ' ')"
	grep -q OK "$work/set_s.out" || { fail "SET did not answer OK: $(head -c 300 "$work/set_s.out")"; return 1; }
	[[ $(sha "$work/val_s") == $(sha "$work/get_s.out") ]] ||
		{ fail "GET returned $(stat_size "$work/get_s.out") bytes, not the 48 KiB value (sha256)"; return 1; }
	[[ $brc == 0 ]] && tr '\r' '\n' <"$work/bench_s.out" | grep -q 'GET:.*requests per second' ||
		{ fail "redis-benchmark did not finish (exit $brc): $(tail -c 300 "$work/bench_s.out")"; return 1; }
}

# redis-server on the stack asleep in epoll_wait between requests (no
# spinning): with the wakeup descriptor a request wakes it at once, without
# it (BLUETAS_WAKE_FD=0, the negative control) it waits for the end of a
# 2 ms slice, about 1 ms more per request on average.
t_redis_wakeup() {
	command -v redis-benchmark >/dev/null || { fail "no redis-benchmark (bash ci/install-deps.sh)"; return 1; }
	local wake port rp p50 p50_on=
	for wake in 1 0; do
		port=$((6103 + wake))
		on_stack env BLUETAS_SPIN_US=0 BLUETAS_WAKE_FD=$wake timeout 60 redis-server --port $port --bind 0.0.0.0 \
			--save "" --appendonly no --protected-mode no >"$work/redis_w$wake.log" 2>&1 &
		rp=$!
		pids+=("$rp")
		until_stack_listens $port "$rp" 30 || { say "$(tail -3 "$work/redis_w$wake.log")"; return 1; }
		p50=$(in_wire timeout 30 redis-benchmark -h "$stack_ip" -p $port -t get -n 300 -c 1 -d 64 --csv 2>/dev/null |
			tr -d '"' | awk -F, '$1 == "GET" { print $5 }')
		kill "$rp" 2>/dev/null
		wait "$rp" 2>/dev/null
		say "redis-benchmark -c 1 GET, BLUETAS_WAKE_FD=$wake: p50 ${p50:-none} ms"
		[[ -n $p50 ]] || { fail "redis-benchmark gave no p50 (BLUETAS_WAKE_FD=$wake)"; return 1; }
		[[ $wake == 1 ]] && p50_on=$p50
	done
	awk -v on="$p50_on" -v off="$p50" -v gain="${RXE_WAKE_GAIN_MS:-0.5}" 'BEGIN { exit !(on + gain <= off) }' ||
		{ fail "p50 $p50_on ms with the wakeup descriptor is not ${RXE_WAKE_GAIN_MS:-0.5} ms under the $p50 ms of 2 ms slices"; return 1; }
}

# python3 on the stack against python3 on Linux: the same script and checks
# as tests/apps/run.sh's socket_semantics over ipc, here over verbs.
t_socket_semantics() {
	# The peer waits up to 100 s for the client (a loaded TCG boot once
	# took ~30 s to get the client connected: refused by a peer that had
	# given up at its default 30 s).
	in_wire env SEM_ACCEPT_S=100 timeout 150 python3 tests/apps/sock_semantics.py serve 7101 >"$work/sem_s.out" 2>&1 &
	local sp=$! rc src
	pids+=("$sp")
	wait_for 20 "the Linux peer listening" wire_listens 7101 || return 1
	on_stack timeout -k 5 120 python3 tests/apps/sock_semantics.py client "$peer_ip" 7101 >"$work/sem_c.out" 2>&1
	rc=$?
	wait_exit "$sp" 20
	src=$?
	say "$(grep '^sock_semantics' "$work/sem_c.out" | tr '\n' ' ')"
	[[ $rc == 0 ]] || { fail "socket semantics on the stack: $(grep -v '^bluetas preload' "$work/sem_c.out" | tail -3 | tr '\n' ' ')"; return 1; }
	[[ $src == 0 ]] || { fail "the Linux peer: $(tail -2 "$work/sem_s.out" | tr '\n' ' ')"; return 1; }
}

[[ -f $preload ]] || { fail "no $preload (make preload)"; exit 1; }
head -c "$((mib << 20))" /dev/urandom >"$work/data"
want=$(sha "$work/data")
next_port || exit 1
# The daemon must outlive every case: they took 100 s in all under TCG with
# the host at load 6-8 (socket_semantics 52 s of it), past start_daemon's
# default --duration-s of 100 ("the daemon died" though every case passed).
# tests/rxe/run.sh bounds the whole test at 240 s.
start_daemon d --duration-s 230 || exit 1
t0=$(now_ms)
bad=0
for c in "${cases[@]}"; do
	t1=$(now_ms)
	if t_"$c"; then say "$c: ok ($(($(now_ms) - t1)) ms)"; else say "$c: FAILED"; bad=1; fi
done
# One application per program (redis_cli and redis_wakeup run two), each over verbs.
apps_want=0
for c in "${cases[@]}"; do
	if [[ $c == redis_cli || $c == redis_wakeup ]]; then apps_want=$((apps_want + 2)); else apps_want=$((apps_want + 1)); fi
done
apps_seen=$(grep -c ' attached (' "$work/d.err")
say "daemon: $apps_seen application(s) attached over verbs, $(grep -c ' detached (' "$work/d.err") detached; cases took $(($(now_ms) - t0)) ms"
[[ $apps_seen -ge $apps_want ]] || { fail "the daemon attached $apps_seen programs, not $apps_want"; bad=1; }
alive "$daemon_pid" || { fail "the daemon died"; bad=1; }
[[ $bad == 0 ]] || show d
exit $bad
