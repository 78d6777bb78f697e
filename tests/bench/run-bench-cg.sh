#!/usr/bin/env bash
# make bench-cg: instructions per received in-order 1448 B data segment,
# counted by callgrind, our NIC receive path (fp_rx_frame, fed by
# bench_cg_rx through the test harness) next to lwIP 2.1.3 (ip4_input in
# Debian's liblwip, fed the same segments by bench_lwip_rx). Each side's
# counters are zeroed after its handshake and dumped after the last segment,
# so only the data segments count. "without checksum" subtracts the
# instructions spent inside the internet checksum (IP header and TCP, every
# call made from the receive path: ours in core/proto/checksum.c, lwIP's
# *chksum* functions). Instruction counts are deterministic: one run each.
set -euo pipefail
build=${1:-build}
segments=${BENCH_CG_SEGMENTS:-10000}
cd "$(dirname "$0")/../.."

if ! command -v valgrind >/dev/null; then
	echo "bench-cg: skipped: valgrind is not installed (apt-get install valgrind)"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# cg_costs FILE CHECKSUM_FILE_RE CHECKSUM_FN_RE: prints "total checksum".
# Total is the dump's summary; checksum is the inclusive cost of every call
# into a checksum function from a function that is not one.
cg_costs() {
	awk -v file_re="$2" -v fn_re="$3" '
	function is_ck(file, fn) { return (file_re != "" && file ~ file_re) || (fn_re != "" && fn ~ fn_re) }
	/^summary:/ { total = $2 }
	/^fl=/ { fl = substr($0, 4); next }
	/^fn=/ { fn = substr($0, 4); next }
	/^cfi=|^cfl=/ { cfl = substr($0, 5); next }
	/^cfn=/ { cfn = substr($0, 5); next }
	/^calls=/ { incall = 1; next }
	/^[0-9]/ {
		if (incall) {
			if (is_ck(cfl, cfn) && !is_ck(fl, fn))
				ck += $2
			incall = 0; cfl = ""
		}
		next
	}
	END { printf "%d %d\n", total, ck }' "$1"
}

run_cg() { # NAME TOGGLE BIN
	valgrind --tool=callgrind --compress-strings=no --compress-pos=no \
		--callgrind-out-file="$tmp/$1" --toggle-collect="$2" "$3" "$segments" >"$tmp/$1.out" 2>"$tmp/$1.err" || {
		echo "bench-cg: $3 failed under callgrind:" >&2
		tail -5 "$tmp/$1.err" >&2
		exit 1
	}
	[[ -f "$tmp/$1.1" ]] || { echo "bench-cg: $3 wrote no callgrind dump" >&2; exit 1; }
}

run_cg ours fp_rx_frame "$build/bench/bench_cg_rx"
run_cg lwip ip4_input "$build/bench/bench_lwip_rx"
read -r ours_total ours_ck < <(cg_costs "$tmp/ours.1" 'core/proto/checksum\.c$' '')
read -r lwip_total lwip_ck < <(cg_costs "$tmp/lwip.1" '' 'chksum')

echo "NIC receive path, callgrind instructions per in-order ${segments} x 1448 B data segments (load $(cut -d' ' -f1-3 /proc/loadavg); counts do not depend on load)"
printf '%-34s %14s %14s %18s\n' stack instr_per_seg checksum without_checksum
awk -v n="$segments" -v ot="$ours_total" -v oc="$ours_ck" -v lt="$lwip_total" -v lc="$lwip_ck" 'BEGIN {
	printf "%-34s %14.0f %14.0f %18.0f\n", "bluetas fp_rx_frame", ot / n, oc / n, (ot - oc) / n
	printf "%-34s %14.0f %14.0f %18.0f\n", "lwIP 2.1.3 ip4_input (Debian)", lt / n, lc / n, (lt - lc) / n
	printf "%-34s %14.2f %14.2f %18.2f\n", "ratio bluetas / lwIP", ot / lt, (lc ? oc / lc : 0), (ot - oc) / (lt - lc)
}'

# Where our instructions go: each function's own cost (exclusive) per
# segment, the largest first, so a change to the receive path shows which
# part it moved. BENCH_CG_TOP=0 leaves it out.
top=${BENCH_CG_TOP:-12}
if [[ $top -gt 0 ]] && command -v callgrind_annotate >/dev/null; then
	echo
	echo "bluetas fp_rx_frame, own instructions per segment by function (top $top):"
	# (the callers above fp_rx_frame, main and below, carry the whole total)
	callgrind_annotate --threshold=100 "$tmp/ours.1" 2>/dev/null | awk -v n="$segments" -v top="$top" -v total="$ours_total" '
		/^-+$/ { dash++; next }
		dash >= 3 && $1 ~ /^[0-9,]+$/ && $0 !~ /PROGRAM TOTALS/ {
			ir = $1; gsub(",", "", ir)
			if (ir + 0 >= total + 0) next
			fn = $NF; if (fn ~ /^\[/) fn = $(NF - 1)
			sub(/^.*\//, "", fn)
			if (fn ~ /libc-start|below main|_cmocka_run|bench_cg_rx.c:main|^\?\?\?:0x|ld-linux/) next
			if (shown++ < top) printf "  %8.0f  %s\n", ir / n, fn
		}'
fi
