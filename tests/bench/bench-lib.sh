# bench-lib.sh: what the bench scripts share (sourced, not run). Every
# benchmark binary prints one line of key=value pairs; these helpers run
# one N times, and print the median [min-max] of a key over the runs.

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# repeat N CMD...: runs CMD N times, prints its result lines (one per run);
# a failing run fails the bench.
repeat() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" || { echo "bench: run $((i + 1)) of '$*' failed" >&2; return 1; }
	done
}

# stat KEY LINES: "median min max" of KEY over the lines.
stat() {
	sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2" | sort -g |
		awk '{ v[NR] = $1 } END { if (!NR) { print "nan nan nan"; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			print m, v[1], v[NR] }'
}

# cell KEY LINES: "median [min-max]" formatted.
cell() {
	local med lo hi
	read -r med lo hi < <(stat "$1" "$2")
	awk -v m="$med" -v a="$lo" -v b="$hi" 'BEGIN {
		f = (m >= 100) ? "%.0f" : "%.2f"
		printf(f " [" f "-" f "]", m, a, b) }'
}

bulk_table_header() {
	echo "$1: one-way data segments (the sender's, retransmissions included; no ACKs),"
	echo "  median [min-max] of ${runs} runs; wall and CPU time of the run itself; extra: segments"
	echo "  beyond one per full MSS of the streams (short segments and retransmissions)"
	printf '%-22s %5s %10s %26s %26s %8s  %s\n' what flows segments segs_per_wall_s segs_per_cpu_s extra load
}

# bulk_row NAME FLOWS LINES LOAD
bulk_row() {
	local segs
	segs=$(stat data_segments "$3" | cut -d' ' -f1)
	printf '%-22s %5s %10s %26s %26s %8s  %s\n' "$1" "$2" "$segs" "$(cell segs_per_wall_s "$3")" \
		"$(cell segs_per_cpu_s "$3")" "$(stat extra_segments "$3" | cut -d' ' -f1)" "$4"
}

# ratio_row NAME FLOWS OURS THEIRS KEY...: ratio of the medians per key.
ratio_row() {
	local name=$1 flows=$2 ours=$3 theirs=$4 out="" k a b
	shift 4
	for k in "$@"; do
		a=$(stat "$k" "$ours" | cut -d' ' -f1)
		b=$(stat "$k" "$theirs" | cut -d' ' -f1)
		out+=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%26s ", (b > 0 ? sprintf("%.2fx", a / b) : "n/a") }')
	done
	printf '%-22s %5s %10s %s\n' "$name" "$flows" "" "$out"
}
