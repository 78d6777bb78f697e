#!/usr/bin/env bash
# End-to-end tests of the emu mode across the Soft-RoCE topology: the NIC
# daemon (`bluetas nic --channel verbs:NIC_IP`) on the NIC side with its
# port to the wire peer's namespace, where Linux TCP (nc, python3) is the
# peer: DPDK net_af_packet on a veth whose other end is there (RXE_PMD=
# af_packet, the default) or a net_tap whose kernel side is moved there
# (RXE_PMD=tap); applications (`bluetas app --channel
# verbs:NIC_IP,src=HOST_IP`) in their own processes on the host side.
#
#   tests/rxe/e2e.sh echo|bulk|many|kill|restart
#
# Runs where ci/rxe-topology.sh up made the topology (through
# tests/rxe/run.sh, i.e. `make test-rxe`); uses its wire namespace
# (RXE_WIRE_NS, `up --wire-ns NAME`), or makes one of its own when there is
# none. Every stream is checked (sha256, or byte for byte against the
# seeded pattern by the echo client), every wait is bounded, and a trap
# stops every process this script started and removes what it made.
#
#   wire ns:  10.77.0.1/24 on Linux's end (Linux peer)   stack: 10.77.0.2
#
# Environment: BUILD (build), RXE_PMD (af_packet or tap), RXE_BULK_MIB
# (64: the bulk test's size each way), RXE_KEEP=1 keeps the working
# directory. The helpers are in tests/rxe/lib.sh.
set -uo pipefail
me=e2e
# shellcheck source=tests/rxe/lib.sh
source "$(dirname "$0")/lib.sh"

# ---------------------------------------------------------------------------
# a. echo: an echo-server application; Linux clients in the wire namespace,
# many short connections (python3, each checked) and one long one (nc,
# sha256) at the same time.
test_echo() {
	local shorts=${RXE_ECHO_SHORT:-60} long_mib=${RXE_ECHO_LONG_MIB:-8}
	head -c "${long_mib}M" /dev/urandom >"$work/long.bin"
	next_port || return 1
	start_daemon d --exit-after-apps 1 || return 1
	local d=$daemon_pid
	start_app srv --app echo-server --exit-after-conns $((shorts + 1)) --duration-s 90 --stats
	local a=$app_pid
	app_ready srv || return 1
	sleep 1 # the LISTEN command reaches the NIC right after "ready"
	local t0
	t0=$(now_ms)
	"${WIRE_DO[@]}" timeout 90 nc -N "$stack_ip" 7 <"$work/long.bin" >"$work/long.out" &
	local ncpid=$!
	pids+=("$ncpid")
	"${WIRE_DO[@]}" timeout 90 python3 tests/interop/echo_clients.py "$stack_ip" 7 --conns "$shorts" --parallel 4 \
		--max-bytes 20000 --timeout-s 60 >"$work/short.out" 2>&1
	local py_rc=$?
	wait_exit "$ncpid" 90
	local nc_rc=$?
	wait_exit "$a" 30
	local app_rc=$?
	wait_exit "$d" 30
	local d_rc=$?
	say "echo: $shorts short connections + one ${long_mib} MiB in $(($(now_ms) - t0)) ms; $(tail -1 "$work/short.out")"
	say "$(grep '^echo-server' "$work/srv.out")"
	local ok=0
	[[ $py_rc == 0 ]] || { fail "short connections (python3 exit $py_rc)"; ok=1; }
	[[ $nc_rc == 0 ]] || { fail "the long connection's nc exited $nc_rc"; ok=1; }
	[[ $(sha "$work/long.out") == $(sha "$work/long.bin") ]] || { fail "long echo differs (sha256)"; ok=1; }
	[[ $app_rc == 0 ]] || { fail "echo-server app exit $app_rc"; ok=1; }
	grep -q "^echo-server accepted=$((shorts + 1)) closed=$((shorts + 1)) .* errors=0" "$work/srv.out" ||
		{ fail "echo-server did not serve $((shorts + 1)) connections cleanly"; ok=1; }
	[[ $d_rc == 0 ]] || { fail "daemon exit $d_rc"; ok=1; }
	grep -q 'app 1 attached' "$work/d.err" && grep -q 'app 1 detached (CHAN_EDISCONNECTED: peer disconnected; 0 connections reset)' "$work/d.err" ||
		{ fail "daemon did not log the app's attach and clean detach"; ok=1; }
	[[ $(dstat d daemon.apps_attached) == 1 && $(dstat d daemon.apps_detached) == 1 ]] || { fail "daemon app counters"; ok=1; }
	# --idle-sleep-us (RXE_IDLE_SLEEP_US): the daemon slept through its
	# idle gaps (the start, the wait for the first client) when asked to,
	# and never when not
	local sleeps
	sleeps=$(dstat d daemon.loop_sleeps)
	if [[ $RXE_IDLE_SLEEP_US != 0 ]]; then
		[[ ${sleeps:-0} -gt 0 ]] || { fail "daemon --idle-sleep-us $RXE_IDLE_SLEEP_US: no idle sleep counted ('$sleeps')"; ok=1; }
	else
		[[ $sleeps == 0 ]] || { fail "daemon without --idle-sleep-us slept $sleeps times"; ok=1; }
	fi
	say "daemon: $sleeps idle sleeps of $RXE_IDLE_SLEEP_US us, $(dstat d daemon.loop_passes) loop passes"
	[[ $(dstat d nic.conns_accepted) == $((shorts + 1)) && $(dstat d nic.conns_reset) == 0 ]] ||
		{ fail "nic: $(dstat d nic.conns_accepted) accepted, $(dstat d nic.conns_reset) reset"; ok=1; }
	[[ $ok == 0 ]] || { cat "$work/short.out"; show d srv; }
	return $ok
}

# ---------------------------------------------------------------------------
# b. bulk each way: Linux nc -> a sink application, then a source
# application -> Linux nc -l; sha256 compared at both ends.
test_bulk() {
	local mib=${RXE_BULK_MIB:-64}
	head -c "${mib}M" /dev/urandom >"$work/bulk.bin"
	local want
	want=$(sha "$work/bulk.bin")
	next_port || return 1
	start_daemon d --exit-after-apps 2 || return 1
	local d=$daemon_pid ok=0 t0 ms1 ms2
	# Linux -> sink
	start_app sink --app sink --exit-after-conns 1 --duration-s 100
	local a=$app_pid
	app_ready sink || return 1
	sleep 1
	t0=$(now_ms)
	"${WIRE_DO[@]}" timeout 100 nc -N "$stack_ip" 9 <"$work/bulk.bin"
	local nc_rc=$?
	wait_exit "$a" 60
	local app_rc=$?
	ms1=$(($(now_ms) - t0))
	local line
	line=$(grep '^sink ' "$work/sink.out")
	say "Linux nc -> sink app: ${mib} MiB in $ms1 ms ($((mib * 8 * 1000 / (ms1 ? ms1 : 1))) Mbit/s); $line"
	[[ $nc_rc == 0 && $app_rc == 0 ]] || { fail "nc exit $nc_rc, sink app exit $app_rc"; ok=1; }
	[[ $(field "$line" sha256) == "$want" && $(field "$line" bytes) == $((mib << 20)) ]] ||
		{ fail "sink sha256/bytes differ from the file's ($want)"; ok=1; }
	# source -> Linux
	"${WIRE_DO[@]}" timeout 100 nc -l 5001 >"$work/recv.bin" </dev/null &
	local ncpid=$!
	pids+=("$ncpid")
	sleep 0.5
	t0=$(now_ms)
	start_app source --app source --remote "$peer_ip:5001" --bytes "${mib}M" --seed 7 --duration-s 100
	a=$app_pid
	wait_exit "$a" 100
	app_rc=$?
	wait_exit "$ncpid" 20
	nc_rc=$?
	ms2=$(($(now_ms) - t0))
	line=$(grep '^source ' "$work/source.out")
	say "source app -> Linux nc -l: ${mib} MiB in $ms2 ms (app start included); $line"
	[[ $nc_rc == 0 && $app_rc == 0 ]] || { fail "nc -l exit $nc_rc, source app exit $app_rc"; ok=1; }
	[[ $(field "$line" sha256) == $(sha "$work/recv.bin") && $(stat_size "$work/recv.bin") == $((mib << 20)) ]] ||
		{ fail "what Linux received ($(stat_size "$work/recv.bin") bytes) differs from what the source sent"; ok=1; }
	wait_exit "$d" 30
	local d_rc=$?
	[[ $d_rc == 0 ]] || { fail "daemon exit $d_rc"; ok=1; }
	[[ $(dstat d daemon.apps_detached) == 2 && $(dstat d daemon.apps_flows_reset) == 0 ]] || { fail "daemon app counters"; ok=1; }
	[[ $ok == 0 ]] || show d sink source
	return $ok
}

# ---------------------------------------------------------------------------
# c. 64 concurrent connections from 4 applications (16 each): echo clients
# against a Linux echo server, every byte checked against the pattern. The
# daemon and the first application also record their halves of the hop
# trace (--hops): joined by `bluetas hops`, every RPC of that application
# passes every hop, in order (docs/emu.md, "Where the time goes").
test_many() {
	local apps=4 per=16 secs=${RXE_MANY_SECS:-8}
	local total=$((apps * per))
	"${WIRE_DO[@]}" timeout 100 python3 "$here/echo_server.py" 7000 --expect "$total" --timeout-s 90 \
		>"$work/esrv.out" 2>&1 &
	local spid=$!
	pids+=("$spid")
	wait_for 20 "Linux echo server listening" has_line esrv.out '^listening' || return 1
	next_port || return 1
	start_daemon d --exit-after-apps "$apps" --hops "$work/d.hops" || return 1
	local d=$daemon_pid i ok=0 t0 rc
	local app_pids=()
	t0=$(now_ms)
	for ((i = 1; i <= apps; i++)); do
		local hops=()
		[[ $i == 1 ]] && hops=(--hops "$work/c1.hops")
		start_app "c$i" --app echo-client --remote "$peer_ip:7000" --conns "$per" --msg-bytes 1K \
			--duration-s "$secs" --seed "$i" "${hops[@]}"
		app_pids+=("$app_pid")
	done
	for ((i = 1; i <= apps; i++)); do
		wait_exit "${app_pids[i - 1]}" 60
		rc=$?
		local line
		line=$(grep '^echo-client' "$work/c$i.out")
		say "app c$i: exit $rc: $line"
		[[ $rc == 0 && $(field "$line" conns) == "$per" && $(field "$line" mismatched_bytes) == 0 &&
			$(field "$line" bytes_sent) == $(field "$line" bytes_received) ]] || { fail "app c$i"; ok=1; }
	done
	wait_exit "$spid" 30
	local s_rc=$?
	local sline
	sline=$(grep '^echo_server' "$work/esrv.out")
	say "Linux side: $sline; in $(($(now_ms) - t0)) ms"
	[[ $s_rc == 0 && $(field "$sline" conns) == "$total" ]] || { fail "the Linux echo server did not see $total clean connections"; ok=1; }
	[[ $(field "$sline" max_concurrent) == "$total" ]] || { fail "not all $total connections were open at once"; ok=1; }
	wait_exit "$d" 30
	rc=$?
	[[ $rc == 0 ]] || { fail "daemon exit $rc"; ok=1; }
	[[ $(dstat d daemon.apps_attached) == "$apps" && $(dstat d daemon.apps_detached) == "$apps" &&
		$(dstat d nic.conns_opened) == "$total" && $(dstat d nic.conns_reset) == 0 ]] ||
		{ fail "daemon: $(dstat d daemon.apps_attached) attached, $(dstat d nic.conns_opened) opened, $(dstat d nic.conns_reset) reset"; ok=1; }
	say "daemon: flows at most $(dstat d nic.flows_max_seen), $(dstat d nic.rx_payload_bytes) bytes in, $(dstat d nic.tx_payload_bytes) out"
	check_hops "$work/c1.hops" "$work/d.hops" || ok=1
	[[ $ok == 0 ]] || show d c1 c2 c3 c4
	return $ok
}

# ---------------------------------------------------------------------------
# d. an application killed (kill -9) mid-stream: the others finish intact;
# the daemon detaches it and resets its connection (its Linux peer gets an
# RST instead of hanging).
test_kill() {
	local mib=${RXE_KILL_MIB:-24}
	head -c "${mib}M" /dev/urandom >"$work/k.bin"
	"${WIRE_DO[@]}" timeout 100 nc -l 5001 >"$work/victim.bin" </dev/null 2>"$work/nc_victim.err" &
	local nv=$!
	"${WIRE_DO[@]}" timeout 100 nc -l 5002 >"$work/recvB.bin" </dev/null &
	local nb=$!
	pids+=("$nv" "$nb")
	next_port || return 1
	start_daemon d --exit-after-apps 3 || return 1
	local d=$daemon_pid ok=0
	start_app sinkC --app sink --exit-after-conns 1 --duration-s 100
	local c=$app_pid
	start_app victim --app source --remote "$peer_ip:5001" --bytes 4G --seed 3 --duration-s 100
	local v=$app_pid
	app_ready sinkC && app_ready victim || return 1
	wait_for 30 "the victim streams" eval '[[ $(stat_size "$work/victim.bin") -ge 1048576 ]]' || return 1
	start_app srcB --app source --remote "$peer_ip:5002" --bytes "${mib}M" --seed 2 --duration-s 100
	local b=$app_pid
	"${WIRE_DO[@]}" timeout 100 nc -N "$stack_ip" 9 <"$work/k.bin" &
	local nc=$!
	pids+=("$nc")
	# Both others mid-stream: then the kill.
	wait_for 30 "the other streams started" eval '[[ $(stat_size "$work/recvB.bin") -ge 1048576 ]]' || return 1
	local victim_seq
	victim_seq=$(app_seq_of d victim)
	kill -KILL "$v"
	wait "$v" 2>/dev/null
	local at_kill_b at_kill_v
	at_kill_b=$(stat_size "$work/recvB.bin")
	at_kill_v=$(stat_size "$work/victim.bin")
	say "killed app $victim_seq (the victim source) after $at_kill_v bytes; srcB at $at_kill_b of $((mib << 20))"
	grep -q '^sink \|^source ' "$work/sinkC.out" "$work/srcB.out" && say "note: another stream had already finished"
	wait_exit "$nv" 20
	local nv_rc=$?
	wait_exit "$b" 90
	local b_rc=$?
	wait_exit "$nb" 20
	local nb_rc=$?
	wait_exit "$nc" 90
	local nc_rc=$?
	wait_exit "$c" 60
	local c_rc=$?
	wait_exit "$d" 30
	local d_rc=$?
	local lb lc
	lb=$(grep '^source ' "$work/srcB.out")
	lc=$(grep '^sink ' "$work/sinkC.out")
	say "srcB: $lb"
	say "sinkC: $lc"
	say "daemon: $(grep "app $victim_seq detached" "$work/d.err")"
	say "victim's Linux peer: nc -l exit $nv_rc after $(stat_size "$work/victim.bin") bytes ($(tr '\n' ' ' <"$work/nc_victim.err"))"
	[[ $b_rc == 0 && $nb_rc == 0 && $(field "$lb" sha256) == $(sha "$work/recvB.bin") &&
		$(stat_size "$work/recvB.bin") == $((mib << 20)) ]] || { fail "srcB -> Linux not intact (app $b_rc, nc $nb_rc)"; ok=1; }
	[[ $c_rc == 0 && $nc_rc == 0 && $(field "$lc" sha256) == $(sha "$work/k.bin") ]] ||
		{ fail "Linux -> sinkC not intact (app $c_rc, nc $nc_rc)"; ok=1; }
	[[ $nv_rc != 124 ]] || { fail "the victim's Linux peer hung (no RST)"; ok=1; }
	grep -q "app $victim_seq detached (CHAN_[A-Z]*: .*; 1 connection reset)" "$work/d.err" ||
		{ fail "daemon did not report app $victim_seq detached with its connection reset"; ok=1; }
	[[ $d_rc == 0 && $(dstat d daemon.apps_detached) == 3 && $(dstat d daemon.apps_flows_reset) == 1 &&
		$(dstat d nic.conns_reset) -ge 1 ]] || { fail "daemon exit $d_rc / counters"; ok=1; }
	[[ $ok == 0 ]] || show d srcB sinkC victim
	return $ok
}

# ---------------------------------------------------------------------------
# e. the NIC daemon killed and started again: attached applications and
# one started while no daemon runs fail clearly (non-zero, naming the
# channel), within a bound; a new application works with the new daemon.
test_restart() {
	# No --expect: the connection of the daemon killed below is never
	# closed on the Linux side (nobody is left to send an RST).
	"${WIRE_DO[@]}" timeout 100 python3 "$here/echo_server.py" 7000 --timeout-s 90 >"$work/esrv.out" 2>&1 &
	local spid=$!
	pids+=("$spid")
	wait_for 20 "Linux echo server listening" has_line esrv.out '^listening' || return 1
	next_port || return 1
	start_daemon d1 || return 1
	local d1=$daemon_pid ok=0
	start_app srv --app echo-server --duration-s 90
	local s=$app_pid
	start_app cli --app echo-client --remote "$peer_ip:7000" --msg-bytes 256 --duration-s 90
	local c=$app_pid
	app_ready srv && app_ready cli || return 1
	sleep 1
	kill -KILL "$d1"
	wait "$d1" 2>/dev/null
	local t0
	t0=$(now_ms)
	say "daemon 1 killed (kill -9) with 2 applications attached"
	# An application that comes while no daemon runs.
	start_app late --app echo-server --duration-s 30
	local l=$app_pid
	wait_exit "$s" 30
	local s_rc=$?
	local s_ms=$(($(now_ms) - t0))
	wait_exit "$c" 30
	local c_rc=$?
	local c_ms=$(($(now_ms) - t0))
	wait_exit "$l" 30
	local l_rc=$?
	local l_ms=$(($(now_ms) - t0))
	local n
	for n in srv cli late; do say "$n: $(grep -v '^$' "$work/$n.err" | tail -1)"; done
	say "exits: echo-server $s_rc after $s_ms ms, echo-client $c_rc after $c_ms ms, late app $l_rc after $l_ms ms"
	for n in "srv:$s_rc" "cli:$c_rc" "late:$l_rc"; do
		local nm=${n%%:*} rc=${n#*:}
		[[ $rc != 0 && $rc != 124 ]] || { fail "$nm: exit $rc (expected a non-zero exit of its own, not a timeout)"; ok=1; }
		grep -q "channel.*verbs:$RXE_NIC_IP" "$work/$nm.err" || { fail "$nm: no error naming the channel"; ok=1; }
	done
	# The daemon again (its tap went with it: a new one).
	next_port || return 1
	start_daemon d2 --exit-after-apps 1 || return 1
	local d2=$daemon_pid
	start_app again --app echo-client --remote "$peer_ip:7000" --msg-bytes 256 --messages 200
	local a=$app_pid
	wait_exit "$a" 60
	local a_rc=$?
	say "after the restart: $(grep '^echo-client' "$work/again.out")"
	[[ $a_rc == 0 ]] || { fail "an application after the restart: exit $a_rc"; ok=1; }
	wait_exit "$d2" 30
	local d_rc=$?
	[[ $d_rc == 0 ]] || { fail "daemon 2 exit $d_rc"; ok=1; }
	[[ $ok == 0 ]] || show d1 d2 srv cli late again
	return $ok
}

case ${1:-} in
echo) test_echo ;;
bulk) test_bulk ;;
many) test_many ;;
kill) test_kill ;;
restart) test_restart ;;
*)
	echo "usage: $0 echo|bulk|many|kill|restart" >&2
	exit 2
	;;
esac
