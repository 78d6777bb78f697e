#!/usr/bin/env bash
# The aarch64 build under qemu-aarch64-static (make test-arm64, and a
# section of `make test`): the BlueField's ARM cores run the NIC daemon, so
# the same sources must build and behave the same there.
#
#   arm64/unit_e2e           every unit and e2e cmocka binary of the aarch64
#                            build (test_scenarios aside: its full sweep takes
#                            minutes under qemu; the short sweep replaces it)
#   arm64/ctxq_bytes         the host<->NIC formats (core/ctxq.h) encode to the
#                            same bytes on the x86 and the aarch64 build
#   arm64/scenario_sweep     every scenario over ARM64_SEEDS seeds (default 1;
#                            the x86 sweep runs 200), aarch64 `bluetas run`
#   arm64/nic_pcap_replay    aarch64 `bluetas nic` on DPDK net_pcap (EAL
#                            --no-huge --no-pci) replaying a capture
#   arm64/x86_rejected       negative controls: x86 inline asm, intrinsics,
#                            rdtsc and -march=corei7 do not build for aarch64,
#                            and ci/check-objects.sh catches -march= leaking
#                            into a non-DPDK object
#
# Cmocka-shaped output, counted by tests/run-tests.sh; the unit/e2e binaries'
# own test cases are counted one by one.
#
# usage: tests/arm64/run.sh X86_BUILD ARM64_BUILD SYSROOT
set -u
x86=${1:-build}
arm=${2:-build/arm64}
sysroot=${3:-build/arm64-sysroot}
cd "$(dirname "$0")/../.." || exit 2
sysroot=$(cd "$sysroot" 2>/dev/null && pwd) || { echo "arm64: no sysroot at ${3:-build/arm64-sysroot} (make cross-arm64)"; echo "[  FAILED  ] 1 test(s), listed below:"; exit 1; }
qemu=${QEMU_AARCH64:-qemu-aarch64-static}
cc=${ARM64_CC:-aarch64-linux-gnu-gcc}
for tool in "$qemu" "$cc" python3 readelf; do
	command -v "$tool" >/dev/null || { echo "arm64: $tool not found (make deps installs qemu-user-static, crossbuild-essential-arm64)"; echo "[  FAILED  ] 1 test(s), listed below:"; exit 1; }
done
[[ -x $arm/bluetas ]] || { echo "arm64: no $arm/bluetas (make cross-arm64)"; echo "[  FAILED  ] 1 test(s), listed below:"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/bt-arm64.XXXXXX")
trap 'rm -rf "$work"' EXIT
# binfmt_misc may not be mounted: every aarch64 program runs through qemu.
run_arm() { "$qemu" -L "$sysroot" "$@"; }
printf '#!/bin/sh\nexec %s -L %s %s "$@"\n' "$qemu" "$sysroot" "$(pwd)/$arm/bluetas" >"$work/bluetas"
chmod +x "$work/bluetas"

passed=0
failed=0
failed_names=()
t_start=$SECONDS
begin() { echo "[ RUN      ] $1"; t0=$SECONDS; }
ok() { echo "[       OK ] $1 ($((SECONDS - t0)) s)"; passed=$((passed + 1)); }
bad() { echo "arm64: $2"; echo "[  FAILED  ] $1"; failed=$((failed + 1)); failed_names+=("$1"); }

# ---- the unit and e2e binaries, two at a time (one qemu per core) ----
begin arm64/unit_e2e
mapfile -t bins < <(find "$arm/tests/unit" "$arm/tests/e2e" -type f -perm -u+x -name 'test_*' ! -name test_scenarios | sort)
if [[ ${#bins[@]} -lt 5 ]]; then
	bad arm64/unit_e2e "only ${#bins[@]} test binaries under $arm/tests"
else
	export BLUETAS_BIN=$work/bluetas QEMU_AARCH64=$qemu SYSROOT=$sysroot
	printf '%s\n' "${bins[@]}" | xargs -P 2 -I{} sh -c \
		'out=$1; timeout 600 "$QEMU_AARCH64" -L "$SYSROOT" "$1" >"$2/$(basename "$1").log" 2>&1; echo $? >"$2/$(basename "$1").rc"' \
		_ {} "$work"
	cases_ok=0 bins_bad=()
	for b in "${bins[@]}"; do
		n=$(basename "$b")
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$work/$n.log" | tail -1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' "$work/$n.log" | tail -1)
		cases_ok=$((cases_ok + ${p:-0}))
		if [[ $(cat "$work/$n.rc") != 0 ]]; then
			cat "$work/$n.log"
			failed=$((failed + ${f:-1}))
			bins_bad+=("$n (exit $(cat "$work/$n.rc"))")
		fi
	done
	passed=$((passed + cases_ok))
	if [[ ${#bins_bad[@]} -eq 0 ]]; then
		echo "arm64: ${#bins[@]} binaries, $cases_ok test cases passed under $qemu"
		echo "[       OK ] arm64/unit_e2e ($((SECONDS - t0)) s)"
	else
		echo "arm64: failed under $qemu: ${bins_bad[*]}"
		echo "[  FAILED  ] arm64/unit_e2e"
		failed_names+=("arm64/unit_e2e: ${bins_bad[*]}")
	fi
fi

# ---- the formats are the same bytes on both builds ----
begin arm64/ctxq_bytes
if [[ ! -x $x86/tests/unit/test_ctxq_layout || ! -x $arm/tests/unit/test_ctxq_layout ]]; then
	bad arm64/ctxq_bytes "test_ctxq_layout missing from $x86 or $arm"
elif ! CTXQ_LAYOUT_DUMP=$work/ctxq.x86 "$x86/tests/unit/test_ctxq_layout" >"$work/ctxq.x86.log" 2>&1; then
	cat "$work/ctxq.x86.log"
	bad arm64/ctxq_bytes "the x86 build fails its golden bytes"
elif ! CTXQ_LAYOUT_DUMP=$work/ctxq.arm run_arm "$arm/tests/unit/test_ctxq_layout" >"$work/ctxq.arm.log" 2>&1; then
	cat "$work/ctxq.arm.log"
	bad arm64/ctxq_bytes "the aarch64 build fails its golden bytes"
elif [[ ! -s $work/ctxq.x86 ]] || ! cmp -s "$work/ctxq.x86" "$work/ctxq.arm"; then
	diff "$work/ctxq.x86" "$work/ctxq.arm"
	bad arm64/ctxq_bytes "the two builds wrote different bytes"
else
	echo "arm64: $(wc -l <"$work/ctxq.x86") formats, byte-identical on x86-64 and aarch64"
	ok arm64/ctxq_bytes
fi

# ---- a short scenario sweep ----
begin arm64/scenario_sweep
if timeout 600 "$work/bluetas" run scenarios/*.scn --seeds "1..${ARM64_SEEDS:-1}" --jobs 2 --quiet --pcap "$work/sweep" >"$work/sweep.log" 2>&1 &&
	summary=$(grep -E '^[0-9]+ passed, 0 failed' "$work/sweep.log"); then
	echo "arm64: $summary"
	ok arm64/scenario_sweep
else
	tail -20 "$work/sweep.log"
	bad arm64/scenario_sweep "aarch64 bluetas run failed"
fi

# ---- bluetas nic on net_pcap, replaying the simulator's capture ----
# As the simulator's server (10.0.0.2): the client's frames are for us.
begin arm64/nic_pcap_replay
stat_of() { sed -n "s/^stat\.$1=//p" "$work/nic.out"; }
if ! "$work/bluetas" sim -c 4 -s 64K -n 4 --pcap "$work/sim.pcap" >"$work/sim.log" 2>&1; then
	cat "$work/sim.log"
	bad arm64/nic_pcap_replay "aarch64 bluetas sim could not write the capture"
else
	frames=$(python3 -c 'import struct,sys
d=open(sys.argv[1],"rb").read(); o=24; n=0
while o+16<=len(d): n+=1; o+=16+struct.unpack_from("<I",d,o+8)[0]
print(n)' "$work/sim.pcap")
	timeout 120 "$work/bluetas" nic --vdev "net_pcap0,rx_pcap=$work/sim.pcap,tx_pcap=$work/tx.pcap" --ip 10.0.0.2/24 \
		--mac 02:00:00:00:00:02 --app echo --duration-s 2 --stats >"$work/nic.out" 2>"$work/nic.err"
	rc=$?
	if [[ $rc == 0 ]] && grep -q '^ready .*driver=net_pcap' "$work/nic.out" && [[ $(stat_of nic.rx_frames) == "$frames" ]] &&
		[[ $(stat_of nic.rx_bad_csum) == 0 ]] && [[ $(stat_of nic.tx_frames) -gt 0 ]] && [[ -s $work/tx.pcap ]]; then
		echo "arm64: net_pcap replay: $frames frames in, rx $(stat_of nic.rx_frames), tx $(stat_of nic.tx_frames), bad checksums 0"
		ok arm64/nic_pcap_replay
	else
		tail -5 "$work/nic.err"
		grep -E '^(ready|exit)|rx_frames|tx_frames|bad_csum' "$work/nic.out"
		bad arm64/nic_pcap_replay "aarch64 bluetas nic on net_pcap (exit $rc): expected $frames frames received, none with a bad checksum, replies sent"
	fi
fi

# ---- negative controls: what must not build for the NIC's cores ----
begin arm64/x86_rejected
neg_ok=1
try_cc() { # NAME SOURCE [FLAGS...]: must fail
	local name=$1 src=$2
	shift 2
	printf '%s\n' "$src" >"$work/neg.c"
	if "$cc" --sysroot="$sysroot" -std=c11 -Wall -Werror -c "$work/neg.c" -o "$work/neg.o" "$@" 2>"$work/neg.err"; then
		echo "arm64: $name compiled for aarch64: the cross build would not catch it"
		neg_ok=0
	else
		echo "arm64: $name rejected: $(grep -m1 -E 'error|Error' "$work/neg.err" | sed 's/^[^ ]* //' | cut -c1-90)"
	fi
}
try_cc "x86 inline asm (pause)" 'void relax(void) { __asm__ volatile("pause"); }'
try_cc "x86 intrinsics" '#include <immintrin.h>
void relax(void) { _mm_pause(); }'
try_cc "rdtsc" 'unsigned long long tsc(void) { return __builtin_ia32_rdtsc(); }'
try_cc "-march=corei7" 'int x;' -march=corei7
# A non-DPDK object built with DPDK's -march is caught; clean objects pass.
mkdir -p "$work/objs/core"
printf 'int x;\n' >"$work/leak.c"
"$cc" --sysroot="$sysroot" -g -march=armv8-a+crc -c "$work/leak.c" -o "$work/objs/core/leak.o" 2>/dev/null
if bash ci/check-objects.sh "$work/objs" "$cc" >/dev/null 2>&1; then
	echo "arm64: ci/check-objects.sh passed an object built with -march= outside transports/dpdk/"
	neg_ok=0
else
	echo "arm64: ci/check-objects.sh rejects a non-DPDK object built with -march=armv8-a+crc"
fi
if ! bash ci/check-objects.sh "$x86" "${CC:-cc}"; then
	echo "arm64: the x86 build has non-DPDK objects built with -march="
	neg_ok=0
fi
if [[ $neg_ok == 1 ]]; then ok arm64/x86_rejected; else bad arm64/x86_rejected "a negative control did not fail"; fi

echo "[==========] arm64: $((SECONDS - t_start)) s"
if [[ $failed -gt 0 ]]; then
	echo "[  FAILED  ] $failed test(s), listed below:"
	printf '[  FAILED  ] %s\n' "${failed_names[@]}"
	echo "[  PASSED  ] $passed test(s)."
	exit 1
fi
echo "[  PASSED  ] $passed test(s)."
