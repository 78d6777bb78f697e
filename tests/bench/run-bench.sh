#!/usr/bin/env bash
# make bench: every figure next to its baseline measured in this run, on
# this machine, as the median [min-max] of BENCH_RUNS runs (default 3), with
# the load average when it was taken (docs/benchmarks.md):
#   1. the 64 B echo RPC, 1 and 64 connections: the stack on the shm channel
#      (one thread drives both stacks) vs Linux TCP over loopback, client and
#      server processes both pinned to one CPU, and not pinned; the first
#      BENCH_WARMUP_MS of every run excluded on both sides;
#   2. the simulator's one-way data segments per wall and per CPU second on
#      the bulk workload (1 flow x 64 MiB, 100 flows x 1 MiB; 10 Gbit/s,
#      10 us, MSS 1448), next to ns-3 when `make bench-ns3` built it;
#   3. where the time of one 64 B RPC goes on shm: one more run, 1 connection,
#      with the hop trace on (bench_stack --hops; its figures are not the
#      benchmark's, the trace costs a clock read per hop), BENCH_HOPS=0 skips;
#   4. last, a Linux peer vs `bluetas nic` on net_tap (root only).
# Ratios are stack / baseline (> 1: the stack does better for rates, worse
# for latencies). Nothing here is a test: it measures, it does not judge.
set -euo pipefail
build=${1:-build}
runs=${BENCH_RUNS:-3}
duration_ms=${BENCH_DURATION_MS:-2000}
warmup_ms=${BENCH_WARMUP_MS:-200}
pin_cpu=${BENCH_PIN_CPU:-0}
cd "$(dirname "$0")/../.."
. tests/bench/bench-lib.sh

echo "64 B echo RPC, closed loop: ${duration_ms} ms measured after ${warmup_ms} ms of warm-up (both sides),"
echo "  median [min-max] of ${runs} runs; Linux pinned = client and server processes both on CPU ${pin_cpu}"
printf '%-6s %-18s %24s %26s %22s %24s  %s\n' conns stack rtt_per_s rtt_per_cpu_s p50_us p99_us load
for conns in 1 64; do
	load=$(loadavg)
	ours=$(repeat "$runs" "$build/bench/bench_stack" --mode rt --conns "$conns" --msg-bytes 64 \
		--duration-ms "$duration_ms" --warmup-ms "$warmup_ms")
	pinned=$(repeat "$runs" "$build/bench/bench_linux_tcp" --conns "$conns" --msg-bytes 64 \
		--duration-ms "$duration_ms" --warmup-ms "$warmup_ms" --cpu "$pin_cpu")
	unpinned=$(repeat "$runs" "$build/bench/bench_linux_tcp" --conns "$conns" --msg-bytes 64 \
		--duration-ms "$duration_ms" --warmup-ms "$warmup_ms")
	for row in "bluetas_shm:$ours" "linux_pinned:$pinned" "linux_unpinned:$unpinned"; do
		name=${row%%:*}
		lines=${row#*:}
		printf '%-6s %-18s %24s %26s %22s %24s  %s\n' "$conns" "$name" "$(cell rtt_per_s "$lines")" \
			"$(cell rtt_per_cpu_s "$lines")" "$(cell p50_us "$lines")" "$(cell p99_us "$lines")" "$load"
	done
	for row in "ratio/pinned:$pinned" "ratio/unpinned:$unpinned"; do
		out=""
		for k in rtt_per_s rtt_per_cpu_s p50_us p99_us; do
			a=$(stat "$k" "$ours" | cut -d' ' -f1)
			b=$(stat "$k" "${row#*:}" | cut -d' ' -f1)
			out+=$(awk -v a="$a" -v b="$b" -v k="$k" 'BEGIN {
				w = k ~ /rtt_per_s/ ? 24 : k ~ /cpu/ ? 26 : k ~ /p50/ ? 22 : 24
				printf "%*s ", w, (b > 0 ? sprintf("%.2fx", a / b) : "n/a") }')
		done
		printf '%-6s %-18s %s\n' "$conns" "${row%%:*}" "$out"
	done
done

if [[ ${BENCH_HOPS:-1} != 0 ]]; then
	echo
	echo "where the time of a 64 B RPC goes on shm (1 connection, one traced run, load $(loadavg)):"
	"$build/bench/bench_stack" --mode rt --conns 1 --msg-bytes 64 --duration-ms 300 --warmup-ms 0 --hops |
		grep -v '^bluetas_shm '
fi

echo
bulk_table_header "simulator bulk workload (10 Gbit/s, 10 us one way, MSS 1448, every byte checked)"
for spec in "1 67108864" "100 1048576"; do
	read -r flows bytes <<<"$spec"
	load=$(loadavg)
	ours=$(repeat "$runs" "$build/bench/bench_stack" --mode bulk --flows "$flows" --bytes-per-flow "$bytes")
	bulk_row "bluetas sim" "$flows" "$ours" "$load"
	if [[ -x "$build/bench/ns3_bulk" ]]; then
		ns3=$(repeat "$runs" "$build/bench/ns3_bulk" --flows "$flows" --bytes-per-flow "$bytes")
		bulk_row "ns-3 3.37" "$flows" "$ns3" "$load"
		ratio_row "ratio bluetas / ns-3" "$flows" "$ours" "$ns3" segs_per_wall_s segs_per_cpu_s
	fi
done
[[ -x "$build/bench/ns3_bulk" ]] || echo "  (ns-3 baseline: make bench-ns3 installs Debian's ns-3 and builds it)"

# Last: a Linux peer against `bluetas nic` on DPDK net_tap, next to Linux
# over a veth (tests/bench/run-bench-tap.sh). It needs root; elsewhere it
# says so in one line and the rest of the bench stands.
echo
if [[ $(id -u) -ne 0 ]]; then
	echo "bench-tap: skipped: needs root (network namespaces, net_tap)"
elif [[ ${BENCH_TAP:-1} == 0 ]]; then
	echo "bench-tap: skipped: BENCH_TAP=0"
elif ! bash tests/bench/run-bench-tap.sh "$build"; then
	echo "bench-tap: FAILED"
	exit 1
fi
