#!/usr/bin/env bash
# make bench-ns3: the simulator bulk workload (docs/benchmarks.md) in ns-3
# 3.37 (tests/bench/ns3/ns3_bulk.cc against Debian's ns3/libns3-dev) next
# to ours, in this run: one-way data segments per wall second and per CPU
# second, median [min-max] of BENCH_RUNS runs (default 3) after one
# unmeasured warm-up run of each, with the load average before and after.
# Where ns-3 is not installed it says so and exits 0.
set -euo pipefail
build=${1:-build}
runs=${BENCH_RUNS:-3}
cd "$(dirname "$0")/../.."
. tests/bench/bench-lib.sh

if [[ ! -x "$build/bench/ns3_bulk" ]]; then
	echo "bench-ns3: skipped: ns-3 is not installed (Debian's ns3 and libns3-dev: run"
	echo "  'bash ci/install-deps.sh --ns3' as root, then make bench-ns3 again)"
	exit 0
fi

bulk_table_header "simulator bulk workload, ns-3 3.37 vs bluetas"
for spec in "1 67108864" "100 1048576"; do
	read -r flows bytes <<<"$spec"
	# One unmeasured run of each first (warm-up: libraries loaded, page
	# cache and CPU frequency settled), then the measured runs, alternating
	# so a change in the machine's load hits both sides alike.
	"$build/bench/ns3_bulk" --flows "$flows" --bytes-per-flow "$bytes" >/dev/null
	"$build/bench/bench_stack" --mode bulk --flows "$flows" --bytes-per-flow "$bytes" >/dev/null
	load=$(loadavg)
	ns3="" ours=""
	for ((i = 0; i < runs; i++)); do
		ns3+=$(repeat 1 "$build/bench/ns3_bulk" --flows "$flows" --bytes-per-flow "$bytes")$'\n'
		ours+=$(repeat 1 "$build/bench/bench_stack" --mode bulk --flows "$flows" --bytes-per-flow "$bytes")$'\n'
	done
	load="$load -> $(loadavg)"
	bulk_row "ns-3 3.37" "$flows" "$ns3" "$load"
	bulk_row "bluetas sim" "$flows" "$ours" "$load"
	ratio_row "ratio bluetas / ns-3" "$flows" "$ours" "$ns3" segs_per_wall_s segs_per_cpu_s
done
