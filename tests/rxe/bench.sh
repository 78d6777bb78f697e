#!/usr/bin/env bash
# The emu latency benchmark (`make bench-rxe`): in ONE boot of the topology
# (ci/rxe-vm.sh under TCG here), so every number is comparable with the
# others and none with another run's:
#
#   perftest           ib_send_lat, ib_write_lat: 64 B, rxe_host -> rxe_nic
#   verbs channel      build/rxe/bench_verbs_chan: a message (the doorbell
#                      path) and a one-sided WRITE, both half round trips
#                      like perftest's; WRITE and READ post-to-completion
#   Linux TCP          64 B closed-loop echo, 10.10.0.1 -> 10.10.0.2 over
#                      the same veth (bench_tap_peer both ends)
#   bluetas RPC        64 B closed-loop echo through the whole emu path:
#                      `bluetas app --app echo-client` (host side) -> verbs
#                      channel -> `bluetas nic` -> its port (net_af_packet
#                      on a veth, or net_tap) -> a Linux echo server
#                      (bench_tap_peer) in the wire namespace; and the other
#                      way round, a Linux client -> `bluetas app --app
#                      echo-server`
#
# and prints one table with the ratios (each pass ends with its headline:
# our best placement over Linux's best), then where the time of the bluetas
# RPC (app echo-client -> Linux) goes, hop by hop: the app and the daemon
# each record their half (--hops FILE), `bluetas hops` joins them
# (docs/emu.md, "Where the time goes"). Environment: BENCH_RXE_ITERS
# (perftest and channel iterations, 5000), BENCH_RXE_RPCS (RPCs per bluetas
# run, 3000), BENCH_RXE_MS (Linux TCP and Linux-client runs, 3000 ms),
# BENCH_RXE_PMDS (the daemon's port per pass: af_packet; "af_packet tap
# af_packet tap af_packet tap" alternates the two three times, each pass
# with its own Linux TCP run and daemon, and adds the medians per row),
# BENCH_RXE_BUSY=1 adds a run of the echo client with --busy-poll,
# BENCH_RXE_PLACES (1/0/0) one echo-client run per placement D/A/P (the
# daemon's threads on CPU D, the app on CPU A, the Linux peer on CPU P),
# BENCH_RXE_LINUX_PLACES (0/1 0/0) one Linux TCP run per placement C/S
# (client, server) after the unpinned one, the best of them the pinned
# rows' baseline; BENCH_RXE_PIN=0 drops every pinned run,
# BENCH_RXE_DEVICE=0 the perftest and channel rows,
# BENCH_RXE_VARIANTS="ARGS;ARGS" adds one run per set of extra echo-client
# arguments (e.g. "--no-inline;--spin-us 0"; BENCH_RXE_VARIANT_PLACE=D/A/P
# places them), BENCH_RXE_SRV_VARIANTS the
# same for the Linux client -> app echo-server run, and
# BENCH_RXE_APP_B=PATH adds one with PATH (another build's bluetas) as the
# application: an A/B comparison within one boot.
set -uo pipefail
me=bench-rxe
# every run is placed here (BENCH_RXE_PLACES), not by lib.sh's RXE_PIN
RXE_PIN=0
# and its daemons poll without sleeping (--idle-sleep-us 0): a latency
# benchmark, not the suite's CPU budget
RXE_IDLE_SLEEP_US=0
# shellcheck source=tests/rxe/lib.sh
source "$(dirname "$0")/lib.sh"

iters=${BENCH_RXE_ITERS:-5000}
rpcs=${BENCH_RXE_RPCS:-3000}
ms=${BENCH_RXE_MS:-3000}
PEER=${BUILD:-build}/bench/bench_tap_peer
VBENCH=${BUILD:-build}/rxe/bench_verbs_chan
for f in "$PEER" "$VBENCH"; do [[ -x $f ]] || { echo "$me: no $f (make all)"; exit 1; }; done
for t in ib_send_lat ib_write_lat; do command -v $t >/dev/null || { echo "$me: $t missing (perftest)"; exit 1; }; done

rows=() # "label|p50 or typical us|p99 us|baseline label|baseline us"
hop_runs=() # the RPC client runs whose hop trace is joined at the end
row() { rows+=("$1|$2|$3|${4:-}|${5:-}"); }
errors=0
bad() {
	echo "$me: $*"
	errors=$((errors + 1))
}
lower() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && (b == "" || a + 0 < b + 0)) }'; } # lower A B: A < B, or B empty
ns_to_us() { awk -v v="$1" 'BEGIN { if (v == "") print ""; else printf "%.1f", v / 1000 }'; }
kv() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" "$1" | head -1; } # kv FILE KEY

# --- perftest: server on the NIC side, client on the host side -------------
perftest() { # binary port -> sets pt_typ pt_p99 (us)
	local bin=$1 port=$2 line
	pt_typ='' pt_p99=''
	"${NIC[@]}" timeout 120 "$bin" -d "$RXE_NIC_DEV" -x "$RXE_NIC_GID_INDEX" -n "$iters" -s 64 -F -p "$port" \
		>"$work/$bin.srv" 2>&1 &
	local s=$!
	pids+=("$s")
	local i
	for ((i = 0; i < 30; i++)); do
		sleep 0.3
		"${HOST[@]}" timeout 120 "$bin" -d "$RXE_HOST_DEV" -x "$RXE_HOST_GID_INDEX" -n "$iters" -s 64 -F -p "$port" \
			"$RXE_NIC_IP" >"$work/$bin.out" 2>&1 && break
		alive "$s" || break
	done
	wait_exit "$s" 30 >/dev/null
	# #bytes #iterations t_min t_max t_typical t_avg t_stdev 99% 99.9%
	line=$(awk '$1 ~ /^[0-9]+$/ && NF >= 8 {l = $0} END {print l}' "$work/$bin.out")
	if [[ -z $line ]]; then
		bad "$bin printed no result:"
		tail -5 "$work/$bin.out" | sed 's/^/    /'
		return 1
	fi
	read -r _ _ _ _ pt_typ _ _ pt_p99 _ <<<"$line"
}
if [[ ${BENCH_RXE_DEVICE:-1} == 1 ]]; then # BENCH_RXE_DEVICE=0: no perftest or channel rows
say "perftest, $iters x 64 B each"
perftest ib_send_lat 18610 && row "ib_send_lat 64 B, half RTT (t_typical)" "$pt_typ" "$pt_p99"
send_typ=$pt_typ
perftest ib_write_lat 18611 && row "ib_write_lat 64 B, half RTT (t_typical)" "$pt_typ" "$pt_p99"
write_typ=$pt_typ

# --- the verbs channel itself ----------------------------------------------
say "bench_verbs_chan, $iters iterations"
if timeout 120 "$VBENCH" --iters "$iters" >"$work/vb.out" 2>&1 && grep -q '^result=ok' "$work/vb.out"; then
	v() { ns_to_us "$(sed -n "s/^$1=//p" "$work/vb.out")"; }
	row "channel message (doorbell path), half RTT" "$(v msg_half_rtt_p50_ns)" "$(v msg_half_rtt_p99_ns)" \
		ib_send_lat "$send_typ"
	row "channel one-sided WRITE, half RTT" "$(v write_half_rtt_p50_ns)" "$(v write_half_rtt_p99_ns)" \
		ib_write_lat "$write_typ"
	row "channel WRITE post -> completion (full RTT)" "$(v write_post_to_cqe_p50_ns)" "$(v write_post_to_cqe_p99_ns)" \
		"2 x ib_write_lat" "$(awk -v t="$write_typ" 'BEGIN { if (t != "") printf "%.1f", 2 * t }')"
	row "channel READ post -> completion (full RTT)" "$(v read_post_to_cqe_p50_ns)" "$(v read_post_to_cqe_p99_ns)"
else
	bad "bench_verbs_chan failed:"
	tail -5 "$work/vb.out" | sed 's/^/    /'
fi
fi

# --- Linux TCP across the same veth ------------------------------------------
# linux_tcp [C/S]: one closed-loop run, the client on CPU C and the server on
# CPU S (taskset) or, without an argument, both left to the scheduler; sets
# linux_p50. Once per bluetas pass and placement, so each pass has its
# baselines measured next to it.
linux_tcp() {
	local place=${1:-} cpin=() spin=() label="Linux TCP 64 B echo RTT, host -> nic side (veth)"
	if [[ -n $place ]]; then
		cpin=(taskset -c "${place%/*}") spin=(taskset -c "${place#*/}")
		label="Linux TCP 64 B echo RTT (pinned: client CPU ${place%/*}, server CPU ${place#*/})"
	fi
	say "Linux TCP 64 B echo $RXE_HOST_IP -> $RXE_NIC_IP, $ms ms${place:+, client/server on CPUs $place}"
	local h0 h1 s
	h0=$(<"/sys/class/net/$RXE_HOST_IF/statistics/tx_packets") 2>/dev/null || h0=0
	"${spin[@]}" "${NIC[@]}" timeout 60 "$PEER" echo-server 7100 --timeout-s 50 >"$work/ltcp.srv" 2>&1 &
	s=$!
	pids+=("$s")
	wait_for 10 "Linux echo server on 7100" has_line ltcp.srv 'listening'
	"${cpin[@]}" "${HOST[@]}" timeout 60 "$PEER" echo-client "$RXE_NIC_IP" 7100 --msg-bytes 64 --warmup-ms 300 --duration-ms "$ms" \
		>"$work/ltcp.out" 2>"$work/ltcp.err"
	wait_exit "$s" 10 >/dev/null
	h1=$(<"/sys/class/net/$RXE_HOST_IF/statistics/tx_packets") 2>/dev/null || h1=0
	linux_p50=$(kv "$work/ltcp.out" p50_us)
	if [[ -n $linux_p50 ]]; then
		row "$label" "$linux_p50" "$(kv "$work/ltcp.out" p99_us)"
		say "  $(kv "$work/ltcp.out" rtts) round trips; $RXE_HOST_IF tx +$((h1 - h0)) packets (crossed the veth)"
	else
		bad "Linux TCP echo${place:+ ($place)} failed: $(tail -2 "$work/ltcp.err" | tr '\n' ' ')"
	fi
}

# linux_runs: Linux unpinned (linux_p50), then once per BENCH_RXE_LINUX_PLACES
# placement; linux_pin_p50 is the best (lowest p50) of the pinned ones: the
# fair baseline for our pinned runs is Linux's best ordinary configuration.
linux_runs() {
	linux_tcp
	local un=$linux_p50 best='' p
	if [[ $pin_ok == 1 ]]; then
		for p in $linux_places; do
			linux_tcp "$p"
			lower "$linux_p50" "$best" && best=$linux_p50
		done
	fi
	linux_p50=$un linux_pin_p50=$best
}

# --- bluetas over the whole emu path ------------------------------------------
# app echo-client -> Linux echo server in the wire namespace
rpc_client() { # name extra-args...
	local name=$1
	shift
	local port=$((7200 + ${#rows[@]}))
	"${PIN_PEER[@]}" "${WIRE_DO[@]}" timeout 90 "$PEER" echo-server "$port" --timeout-s 80 >"$work/$name.srv" 2>&1 &
	local s=$!
	pids+=("$s")
	wait_for 10 "Linux echo server on $port" has_line "$name.srv" 'listening' || return 1
	start_app "$name" --app echo-client --remote "$peer_ip:$port" --msg-bytes 64 --messages "$rpcs" --stats \
		--hops "$work/$name.hops" "$@"
	# joined when the pass's daemon has exited: the RPCs done count even if the run failed
	hop_runs+=("$name:$dname:$RXE_PMD")
	wait_exit "$app_pid" 90
	local rc=$?
	wait_exit "$s" 10 >/dev/null
	local line
	line=$(grep '^echo-client' "$work/$name.out")
	if [[ $rc != 0 || -z $line ]]; then
		bad "$name: exit $rc: $line $(tail -2 "$work/$name.err" | tr '\n' ' ')"
		return 1
	fi
	say "  $line"
	# this build's default and pinned runs make the pass's best (not variants)
	[[ $name == "rpc$sfx" || $name == rpcpin* ]] && lower "$(field "$line" rtt_p50_us)" "$ours_best" && ours_best=$(field "$line" rtt_p50_us) ours_best99=$(field "$line" rtt_p99_us)
	say "  app counters: $(grep -E '^stat\.(host\.(doorbells_refreshed|waits_timed_out|lost_wakeups|arms_deferred|doorbells_sent)|loop\.|chan\.(cq_events|eagain_credit|credit_msgs))' "$work/$name.out" | sed 's/^stat\.//' | tr '\n' ' ')"
	rpc_p50=$(field "$line" rtt_p50_us) rpc_p99=$(field "$line" rtt_p99_us)
}

# place_on D/A/P: the daemon's threads to CPU D, the next application to
# CPU A, the next Linux peer to CPU P; place_off undoes it.
place_on() {
	local dc=${1%%/*} ac pc
	ac=${1#*/} pc=${ac#*/} ac=${ac%%/*}
	say "  again, the daemon pinned to CPU $dc, the app to CPU $ac, the Linux peer to CPU $pc"
	taskset -apc "$dc" "$daemon_pid" >/dev/null
	PIN_PEER=(taskset -c "$pc")
	HOST_SAVED=("${HOST[@]}")
	HOST=(taskset -c "$ac" "${HOST[@]}")
}
place_off() {
	HOST=("${HOST_SAVED[@]}")
	PIN_PEER=()
	taskset -apc 0-$(($(nproc) - 1)) "$daemon_pid" >/dev/null
}

# bluetas_pass: one daemon on RXE_PMD's port, the RPC runs against it.
bluetas_pass() {
	local rl="bluetas RPC RTT [$RXE_PMD]"
	if ! next_port || ! start_daemon "$dname" --duration-s 400 --hops "$work/$dname.hops"; then
		bad "the NIC daemon on net_$RXE_PMD did not start"
		show "$dname"
		return 1
	fi
	say "bluetas 64 B RPC: app echo-client -> daemon -> net_$RXE_PMD -> Linux echo server, $rpcs RPCs"
	PIN_PEER=()
	rpc_client "rpc$sfx" && row "$rl: app echo-client -> Linux (unpinned)" "$rpc_p50" "$rpc_p99" \
		"Linux TCP RTT" "$linux_p50"
	# The same once per placement of BENCH_RXE_PLACES, "D/A/P": the
	# busy-polling daemon's threads on CPU D, the application on CPU A, the
	# Linux echo peer on CPU P (taskset), against Linux's best pinned run.
	local pl
	for pl in $places; do
		[[ $pin_ok == 1 ]] || break
		place_on "$pl"
		rpc_client "rpcpin${pl//\//}$sfx" && row "$rl: app echo-client -> Linux (pinned $pl)" "$rpc_p50" "$rpc_p99" \
			"Linux TCP RTT pinned" "$linux_pin_p50"
		place_off
	done
	if [[ -n ${BENCH_RXE_APP_B:-} ]]; then
		# A/B in one boot: the same RPC run with another build's
		# `bluetas` as the application (the daemon stays this build's).
		say "  again, the application from $BENCH_RXE_APP_B"
		B_SAVED=$B
		B=$BENCH_RXE_APP_B
		rpc_client "rpcb$sfx" && row "$rl: app (BENCH_RXE_APP_B) -> Linux" "$rpc_p50" "$rpc_p99" \
			"Linux TCP RTT" "$linux_p50"
		B=$B_SAVED
	fi
	if [[ ${BENCH_RXE_BUSY:-0} == 1 ]]; then
		rpc_client "rpcbusy$sfx" --busy-poll && row "$rl: app echo-client -> Linux (--busy-poll)" \
			"$rpc_p50" "$rpc_p99" "Linux TCP RTT" "$linux_p50"
	fi
	if [[ -n ${BENCH_RXE_VARIANTS:-} ]]; then
		# A/B in one boot: the same RPC run once per set of extra app
		# arguments ("--no-inline;--spin-us 2000": two more runs).
		# BENCH_RXE_VARIANT_PLACE=D/A/P runs them so placed, against
		# Linux's best pinned run.
		IFS=';' read -ra variants <<<"$BENCH_RXE_VARIANTS"
		local vp=${BENCH_RXE_VARIANT_PLACE:-} vb=$linux_p50 vl=''
		[[ $pin_ok == 1 && -n $vp ]] || vp=''
		[[ -n $vp ]] && vb=$linux_pin_p50 vl=", pinned $vp"
		for vi in "${!variants[@]}"; do
			read -ra vargs <<<"${variants[$vi]}"
			[[ -n $vp ]] && place_on "$vp"
			rpc_client "rpcv$vi$sfx" "${vargs[@]}" && row "$rl: app echo-client -> Linux (${variants[$vi]}$vl)" \
				"$rpc_p50" "$rpc_p99" "Linux TCP RTT${vp:+ pinned}" "$vb"
			[[ -n $vp ]] && place_off
		done
	fi
	# Linux client -> app echo-server (and once per BENCH_RXE_SRV_VARIANTS
	# set of extra echo-server arguments, "--no-inline;--spin-us 50")
	srv_variants=("")
	[[ -n ${BENCH_RXE_SRV_VARIANTS:-} ]] && IFS=';' read -ra more <<<"$BENCH_RXE_SRV_VARIANTS" && srv_variants+=("${more[@]}")
	for sv in "${srv_variants[@]}"; do
		read -ra sargs <<<"$sv"
		say "bluetas 64 B RPC: Linux client -> net_$RXE_PMD -> daemon -> app echo-server ${sv:+($sv) }, $ms ms"
		start_app esrv --app echo-server --listen 7 --exit-after-conns 1 --duration-s 60 --stats "${sargs[@]}"
		esrv=$app_pid
		if app_ready esrv; then
			sleep 1
			"${WIRE_DO[@]}" timeout 60 "$PEER" echo-client "$stack_ip" 7 --msg-bytes 64 --warmup-ms 300 --duration-ms "$ms" \
				>"$work/lcli.out" 2>"$work/lcli.err"
			wait_exit "$esrv" 20 >/dev/null
			p50=$(kv "$work/lcli.out" p50_us)
			if [[ -n $p50 ]]; then
				say "  $(cat "$work/lcli.out")"
				# A sleeping server's waits: none may end by its timeout
				# with work there (tests/rxe/wake.sh checks the same)
				say "  app counters: $(grep -E '^stat\.(host\.(waits_timed_out|lost_wakeups|doorbells_refreshed)|verbs\.(sleeps|sleeps_timed_out|sleeps_slept_through)|loop\.waits)=' "$work/esrv.out" | sed 's/^stat\.//' | tr '\n' ' ')"
				row "$rl: Linux client -> app echo-server${sv:+ ($sv)}" "$p50" "$(kv "$work/lcli.out" p99_us)" \
					"Linux TCP RTT" "$linux_p50"
			else
				bad "Linux client -> echo-server app${sv:+ ($sv)} failed: $(tail -2 "$work/lcli.err" | tr '\n' ' ')"
			fi
		fi
	done
	kill -TERM "$daemon_pid" 2>/dev/null
	wait_exit "$daemon_pid" 20 >/dev/null
	# How late a poll can see a doorbell or a frame: the mean loop pass.
	local lp ln
	lp=$(dstat "$dname" daemon.loop_passes) ln=$(dstat "$dname" daemon.loop_ns)
	[[ ${lp:-0} -gt 0 ]] && say "  daemon loop: $lp passes in $((ln / 1000000)) ms, mean pass $(awk -v n="$ln" -v p="$lp" 'BEGIN { printf "%.2f", n / p / 1000 }') us, $(dstat "$dname" daemon.loop_yields) yields"
}

# One pass per entry of BENCH_RXE_PMDS (af_packet; "af_packet tap af_packet
# tap af_packet tap" alternates the two ports three times), each with its
# own Linux TCP baseline and its own daemon.
read -ra pmds <<<"${BENCH_RXE_PMDS:-af_packet}"
# Placements: BENCH_RXE_PLACES for our pinned runs (D/A/P: daemon, app, Linux
# peer CPUs), BENCH_RXE_LINUX_PLACES for Linux's (C/S: client, server);
# BENCH_RXE_PIN=0, or one CPU, runs neither.
pin_ok=0
[[ ${BENCH_RXE_PIN:-1} == 1 && $(nproc) -ge 2 ]] && pin_ok=1
places=${BENCH_RXE_PLACES-1/0/0}
linux_places=${BENCH_RXE_LINUX_PLACES-0/1 0/0}
for pl in $places $linux_places; do
	[[ $pl =~ ^[0-9]+(/[0-9]+){1,2}$ ]] || { echo "$me: a placement is CPU/CPU[/CPU], not '$pl'" >&2; exit 2; }
done
((${#pmds[@]})) || { echo "$me: BENCH_RXE_PMDS names no port" >&2; exit 2; }
for p in "${pmds[@]}"; do
	[[ $p == af_packet || $p == tap ]] || { echo "$me: BENCH_RXE_PMDS takes af_packet and tap, not '$p'" >&2; exit 2; }
done
for pi in "${!pmds[@]}"; do
	RXE_PMD=${pmds[$pi]}
	sfx=
	((${#pmds[@]} > 1)) && sfx=.$pi
	dname=d$sfx
	linux_runs
	ours_best='' ours_best99=''
	bluetas_pass
	# The pass's headline: our best echo-client run (any placement) over
	# Linux's best (pinned or not), both from this pass.
	linux_best=$linux_p50
	lower "$linux_pin_p50" "$linux_best" && linux_best=$linux_pin_p50
	[[ -n $ours_best && -n $linux_best ]] &&
		row "bluetas RPC RTT [$RXE_PMD], best placement of the pass" "$ours_best" "$ours_best99" "Linux TCP RTT, best" "$linux_best"
done
# Each daemon wrote its half at exit: join it with each RPC client's.
for h in "${hop_runs[@]}"; do
	IFS=: read -r hn hd _ <<<"$h"
	if ! "$B" hops "$work/$hn.hops" "$work/$hd.hops" >"$work/$hn.hops.out" 2>"$work/hops.err"; then
		bad "bluetas hops ($hn): $(tail -2 "$work/hops.err" | tr '\n' ' ')"
	fi
done

# --- the table --------------------------------------------------------------------
fmt='%-66s %10s %10s   %-18s %10s %8s\n'
echo
echo "bench-rxe: one boot, kernel $(uname -r), mode $RXE_MODE, $(nproc) CPUs; latencies in us; daemon port(s): ${pmds[*]}."
echo "  half RTT = round trip / 2 (perftest's convention); RTT = full round trip. Ratio = p50 / baseline."
# shellcheck disable=SC2059
printf "$fmt" "measurement" "p50/typ" "p99" "baseline" "base" "ratio"
# shellcheck disable=SC2059
printf "$fmt" "-----------" "-------" "---" "--------" "----" "-----"
for r in "${rows[@]}"; do
	IFS='|' read -r label p50 p99 bl bv <<<"$r"
	ratio=$(awk -v a="$p50" -v b="$bv" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.2fx", a / b }')
	# shellcheck disable=SC2059
	printf "$fmt" "$label" "${p50:--}" "${p99:--}" "${bl:-}" "${bv:-}" "$ratio"
done
echo "(TCG numbers: they move with the host's load; compare within this table only.)"
# Rows measured in more than one pass: the medians of their p50s, p99s and
# baselines, and the median of their per-pass ratios (each pass's p50 over
# the Linux TCP run next to it: the host's load moves both within a boot).
if ((${#pmds[@]} > 1)); then
	echo
	echo "medians over the passes (rows measured more than once; ratio = median of the per-pass ratios [min-max]):"
	# shellcheck disable=SC2059
	printf "$fmt" "measurement (passes)" "p50 med" "p99 med" "baseline" "base med" "ratio"
	printf '%s\n' "${rows[@]}" | awk -F'|' -v fmt="$fmt" '
		function med(s,   a, n, i, j, t) {
			n = split(s, a, " ")
			for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		function span(s,   a, n, i, lo, hi) {
			n = split(s, a, " "); lo = hi = a[1] + 0
			for (i = 2; i <= n; i++) { if (a[i] + 0 < lo) lo = a[i] + 0; if (a[i] + 0 > hi) hi = a[i] + 0 }
			return sprintf("%.2f-%.2f", lo, hi)
		}
		$2 != "" { if (!($1 in n)) order[++k] = $1; n[$1]++; p50[$1] = p50[$1] " " $2; p99[$1] = p99[$1] " " $3
			if ($5 != "" && $5 + 0 > 0) { base[$1] = base[$1] " " $5; bl[$1] = $4; ratio[$1] = ratio[$1] " " $2 / $5 } }
		END {
			for (i = 1; i <= k; i++) {
				l = order[i]; if (n[l] < 2) continue
				bs = (l in base) ? sprintf("%.1f", med(base[l])) : ""
				r = (l in ratio) ? sprintf("%.2fx [%s]", med(ratio[l]), span(ratio[l])) : ""
				printf(fmt, l " (" n[l] ")", sprintf("%.1f", med(p50[l])), sprintf("%.1f", med(p99[l])), bl[l], bs, r)
			}
		}'
fi
echo
echo "the daemon's port trip (frame_out -> frame_in: the frame out, the Linux peer, its answer back) per RPC run:"
trips=()
for h in "${hop_runs[@]}"; do
	IFS=: read -r hn _ hp <<<"$h"
	[[ -s $work/$hn.hops.out ]] || continue
	trip=$(grep -E '^hop client\.frame_out +-> client\.frame_in ' "$work/$hn.hops.out" | grep -o 'p50_us=[^ ]* p99_us=[^ ]*')
	e2e=$(grep '^hops ' "$work/$hn.hops.out" | grep -o 'e2e_p50_us=[^ ]*')
	printf '  %-12s %-10s trip %s; %s; %s\n' "$hn" "$hp" "${trip:-?}" "${e2e:-?}" \
		"$(sed -n 's/^largest hop of each RPC: \([^,]*\).*/largest hop: \1/p' "$work/$hn.hops.out")"
	[[ -n $trip ]] && trips+=("${hn%.*} $hp ${trip#p50_us=}")
done
# the same run repeated over the passes: the median trip p50
if ((${#pmds[@]} > 1 && ${#trips[@]})); then
	printf '%s\n' "${trips[@]}" | awk '
		function med(s,   a, n, i, j, t) {
			n = split(s, a, " ")
			for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		{ k = $1 " " $2; if (!(k in n)) order[++m] = k; n[k]++; v[k] = v[k] " " $3 }
		END { for (i = 1; i <= m; i++) if (n[order[i]] > 1) printf "  median %-22s trip p50_us=%.1f over %d runs\n", order[i], med(v[order[i]]), n[order[i]] }'
fi
for h in "${hop_runs[@]}"; do
	IFS=: read -r hn _ hp <<<"$h"
	[[ -s $work/$hn.hops.out ]] || continue
	echo
	echo "where the time of the bluetas RPC ($hn, net_$hp: app echo-client -> Linux) goes, same run; guest load $(cut -d' ' -f1-3 /proc/loadavg):"
	cat "$work/$hn.hops.out"
done
[[ $errors == 0 ]] || { echo "$me: $errors measurement(s) failed (above)"; exit 1; }
exit 0
