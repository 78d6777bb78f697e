#!/usr/bin/env bash
# make bench: the stack's echo RPC on the shm channel next to Linux TCP on
# loopback, measured now, in this run, on this machine; then the
# simulator's speed. Ratios are stack / Linux (>1: the stack does better
# for rates, worse for latencies).
set -euo pipefail
build=${1:-build}
duration_ms=${BENCH_DURATION_MS:-2000}
cd "$(dirname "$0")/../.."

field() { # field KEY LINE
	sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"
}

echo "64 B echo RPC, closed loop, ${duration_ms} ms per run"
printf '%-6s %-12s %14s %16s %10s %10s\n' conns stack rtt_per_s rtt_per_cpu_s p50_us p99_us
for conns in 1 64; do
	ours=$("$build/bench/bench_stack" --mode rt --conns "$conns" --msg-bytes 64 --duration-ms "$duration_ms")
	linux=$("$build/bench/bench_linux_tcp" --conns "$conns" --msg-bytes 64 --duration-ms "$duration_ms" --warmup-ms 200)
	for line in "$ours" "$linux"; do
		printf '%-6s %-12s %14s %16s %10s %10s\n' "$conns" "${line%% *}" "$(field rtt_per_s "$line")" \
			"$(field rtt_per_cpu_s "$line")" "$(field p50_us "$line")" "$(field p99_us "$line")"
	done
	awk -v a="$(field rtt_per_cpu_s "$ours")" -v b="$(field rtt_per_cpu_s "$linux")" \
	    -v c="$(field p50_us "$ours")" -v d="$(field p50_us "$linux")" \
	    -v e="$(field p99_us "$ours")" -v f="$(field p99_us "$linux")" -v n="$conns" \
	    'BEGIN { printf "%-6s %-12s %14s %16.2f %10.2f %10.2f\n", n, "ratio", "", a / b, c / d, e / f }'
done
echo
"$build/bench/bench_stack" --mode sim

# Last: a Linux peer against `bluetas nic` on DPDK net_tap, next to Linux
# over a veth (tests/bench/run-bench-tap.sh). It needs root; elsewhere it
# says so in one line and the rest of the bench stands.
echo
if [[ $(id -u) -ne 0 ]]; then
	echo "bench-tap: skipped: needs root (network namespaces, net_tap)"
elif ! bash tests/bench/run-bench-tap.sh "$build"; then
	echo "bench-tap: FAILED"
	exit 1
fi
