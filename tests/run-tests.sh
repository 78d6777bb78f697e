#!/usr/bin/env bash
# Runs every cmocka test binary under BUILD/tests (or the ones named) and,
# when none are named, every other suite of `make test`; shows each
# section's output and ends with one summary line that counts individual
# test cases: "N passed, N failed".
#
# Sections run in two lanes at once (TEST_LANES=1 runs them one after the
# other): "net" holds every suite that uses namespaces, TAP devices, the
# Soft-RoCE VM or a daemon in real time, one at a time, so they never
# collide on names; "sim" holds the rest, which need only CPU
# (virtual-time tests, the sweep, qemu-user). The sanitizer and fuzz
# passes go to whichever lane is shorter. On 2 cores most sections are
# single-threaded, so two lanes nearly halve the wall time. Each section's
# output is printed whole when it ends, with its wall time; the full logs
# stay in BUILD/test-logs/.
set -u
build=${1:-build}
shift || true
cd "$(dirname "$0")/.." || exit 2

export BLUETAS_BIN="$build/bluetas"
logs="$build/test-logs"
rm -rf "$logs"
mkdir -p "$logs" || { echo "run-tests: cannot create $logs" >&2; echo "0 passed, 1 failed"; exit 1; }
# Every suite starts python3 through PATH: past a version manager's shim
# (tests/support/python_pin.sh), each start costs 0.16 s instead of 1.4 s.
# shellcheck source=tests/support/python_pin.sh
source tests/support/python_pin.sh
python_past_shims "$logs/bin" && export PATH="$PWD/$logs/bin:$PATH"

# ---- counting ---------------------------------------------------------
# A section adds "PASSED FAILED LABEL" lines to $counts (one file per
# section, so lanes never write the same file); the totals are summed at
# the end. count_suite OUTPUT RC LABEL reads cmocka-shaped summary lines
# ("[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:").
# A non-zero exit counts as at least one failure even when the suite never
# got to print its summary (a crash or a timeout).
counts=/dev/null
count_suite() {
	local out=$1 rc=$2 label=$3 p f
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' | tail -1)
	if [[ $rc -ne 0 ]]; then
		f=${f:-1}
		[[ $f -eq 0 ]] && f=1
	else
		f=0
	fi
	printf '%s %s %s\n' "${p:-0}" "$f" "$label" >>"$counts"
}
# count_total OUTPUT RC LABEL: the same for a runner that ends with
# "N passed, N failed" (this script's own shape, the sweep's, sanitizers').
count_total() {
	local out=$1 rc=$2 label=$3 p f
	p=$(printf '%s\n' "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' | tail -1)
	if [[ $rc -ne 0 ]]; then
		f=${f:-1}
		[[ $f -eq 0 ]] && f=1
	else
		f=0
	fi
	printf '%s %s %s\n' "${p:-0}" "$f" "$label" >>"$counts"
}

# run_section NAME FUNCTION: runs one section with its output in
# $logs/NAME.log and its counts in $logs/NAME.counts, then prints the log
# whole (under a lock, so the two lanes never interleave) with the time.
run_section() {
	local name=$1 fn=$2 t0 t1 rc
	t0=$(date +%s)
	counts="$logs/$name.counts"
	: >"$counts"
	"$fn" >"$logs/$name.log" 2>&1
	rc=$?
	t1=$(date +%s)
	# a section that died before counting anything is a failure
	[[ $rc -ne 0 && ! -s $counts ]] && printf '0 1 %s (exit %s)\n' "$name" "$rc" >>"$counts"
	{
		flock 9
		cat "$logs/$name.log"
		awk -v n="$name" -v s=$((t1 - t0)) '{p += $1; f += $2}
			END {printf "--- %s: %d passed, %d failed, %d s\n", n, p, f, s}' "$counts"
	} 9>"$logs/.print"
}

# ---- sections ---------------------------------------------------------
# script_suite NAME TIMEOUT_S SCRIPT: a shell suite with cmocka-shaped
# summary lines, run on $build within its bound, shown whole and counted.
script_suite() {
	local name=$1 limit=$2 script=$3 out rc
	echo "=== $name ($script)"
	out=$(timeout "$limit" bash "$script" "$build" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	count_suite "$out" $rc "$name (exit $rc)"
}

sec_cmocka() { # the cmocka binaries (named ones, or every test_* under BUILD/tests)
	local bins=() bin out rc
	if [[ ${#named[@]} -gt 0 ]]; then
		for bin in "${named[@]}"; do bins+=("$build/tests/$bin"); done
	else
		mapfile -t bins < <(find "$build/tests" -type f -perm -u+x -name 'test_*' | sort)
	fi
	if [[ ${#bins[@]} -eq 0 ]]; then
		echo "run-tests: no test binaries under $build/tests"
		printf '0 1 no test binaries\n' >>"$counts"
		return
	fi
	for bin in "${bins[@]}"; do
		echo "=== ${bin#"$build"/tests/}"
		out=$(timeout 600 "$bin" 2>&1)
		rc=$?
		printf '%s\n' "$out"
		count_suite "$out" $rc "${bin#"$build"/tests/} (exit $rc)"
	done
}

# interop: `bluetas nic` on DPDK against Linux TCP (tests/interop). Without
# root or net_tap it prints "[  SKIPPED ] ..." with the reason and counts
# those cases as neither. INTEROP=0 skips it.
sec_interop() { script_suite interop 900 tests/interop/run.sh; }

# apps: unmodified programs on the stack through LD_PRELOAD and the ipc
# channel, against Linux TCP (tests/apps/run.sh, docs/sockets.md). APPS=0
# skips it.
sec_apps() { script_suite apps 300 tests/apps/run.sh; }

# preflight: `bluetas preflight` on BlueField fixture trees and broken
# copies of them, the hosts file through the CLI, capture round trips,
# `bluetas nic|app --hosts --print-config` and the daemon's hardening
# (tests/preflight/run.sh: ~10 s CPU; 30-60 s wall on a loaded 2-core
# machine, half of it the EAL cases on net_null, PF_EAL=0 skips those).
# PREFLIGHT=0 skips it.
sec_preflight() {
	echo "=== preflight (tests/preflight/run.sh)"
	local out rc
	out=$(timeout 300 bash tests/preflight/run.sh "$build" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -v '^\[       OK \]'
	count_suite "$out" $rc "preflight (exit $rc)"
}

# promote: `bluetas promote` rehearsed against a stand-in DPU (an sshd in a
# network namespace), a failure injected at each step (tests/promote/run.sh;
# root; 54 s idle, ~8 min at load 12). PROMOTE=0 skips it.
sec_promote() { script_suite promote 600 tests/promote/run.sh; }

# Soft-RoCE (tests/rxe): the verbs channel, `bluetas nic` serving
# applications in other processes over RDMA, and the BlueTAS scenarios on
# the verbs channel. Natively where the kernel has rdma_rxe, else in
# Debian's kernel under qemu (ci/rxe-vm.sh, docs/emu.md). RXE=0 skips it.
sec_rxe() {
	echo "=== rxe (ci/rxe-vm.sh: tests/rxe/run.sh)"
	local out rc
	out=$(BUILD="$build" timeout 1500 bash ci/rxe-vm.sh --wire-ns bt-wire bash tests/rxe/run.sh 2>&1)
	rc=$?
	out=${out//$'\r'/} # the guest's serial console ends lines with CR LF
	printf '%s\n' "$out" | grep -vE '^\[[#.]{5}' | tail -80
	count_suite "$out" $rc "rxe (exit $rc; guest console: build/rxe-vm/console.log)"
}

# conformance: packetdrill's and FreeBSD's corpora against the stack in
# virtual time (tests/packetdrill, docs/conformance.md). It needs
# PACKETDRILL_SRC (and TCP_TESTSUITE_SRC for FreeBSD's corpus; .ci/run sets
# both); without it the section says what to set and counts nothing.
# Passing scripts count as passed, scripts on no list that fail as failed;
# known failures and scripts not applicable count as neither.
# CONFORMANCE=0 skips it.
sec_conformance() { script_suite conformance 900 tests/packetdrill/run-conformance.sh; }

# aarch64 (tests/arm64): the aarch64 build (make cross-arm64, which `make
# test` builds first) under qemu-aarch64-static: unit and e2e tests, a short
# scenario sweep, `bluetas nic` on net_pcap, the host<->NIC formats
# byte-identical on both builds, and the negative controls for x86-only
# code. ARM64=0 skips it (then `make test` does not build it either).
sec_arm64() {
	echo "=== arm64 (tests/arm64/run.sh under qemu-aarch64-static)"
	local out rc
	out=$(timeout 900 bash tests/arm64/run.sh "$build" "${ARM64_BUILD:-$build/arm64}" \
		"${ARM64_SYSROOT:-build/arm64-sysroot}" 2>&1)
	rc=$?
	printf '%s\n' "$out" | tail -40
	count_suite "$out" $rc "arm64 (exit $rc)"
}

# campaigns (tests/campaign): --shard/--results/--junit/--swarm, `bluetas
# report`, `bluetas shrink` of the three negative controls, GNU parallel,
# and a Slurm job array on a single-node cluster the suite starts and stops
# (as root; skipped with the reason otherwise). CAMPAIGN=0 skips it all,
# SLURM=0 or PARALLEL=0 one engine. It is in the net lane: slurmd and
# munged are real daemons.
sec_campaign() { script_suite campaign 900 tests/campaign/run.sh; }

# Event-driven polling (sim.h): every scenario script, seeds
# 1..SIM_VERIFY_SEEDS (default 2), with BT_SIM_VERIFY=1: every actor is polled
# as well, and a run aborts (FAIL, "crashed") when an actor the loop would have
# skipped did work (a next_event_ns or waits that misses some of its work).
# About 2 CPU seconds. SIM_VERIFY=0 skips it.
sec_simverify() {
	echo "=== event-driven polling check: BT_SIM_VERIFY=1, every script x seeds 1..${SIM_VERIFY_SEEDS:-2}"
	local out rc
	out=$(BT_SIM_VERIFY=1 timeout 600 "$build/bluetas" run scenarios/*.scn --seeds "1..${SIM_VERIFY_SEEDS:-2}" \
		--jobs "${JOBS:-2}" --quiet --pcap "$build/scenario-failures/sim-verify" 2>&1)
	rc=$?
	printf '%s\n' "$out" | tail -20
	count_total "$out" $rc "event-driven polling check (exit $rc)"
}

# Every scenario script over a seed sweep, then a swarm sweep (each seed
# also picks which rate faults are on and how strong: docs/campaigns.md).
# Each run is one test; failures leave pcap, trace and a reproduce line
# under $build/scenario-failures, and every run is in
# $build/scenario-sweep*.xml (JUnit). SCENARIO_RUNS (default 10200) is the
# total: 200 seeds of every script (SCENARIO_SEEDS overrides), 5 swarm
# seeds of every script (SWARM_ALL_SEEDS), the rest swarm runs of the
# scripts with rate faults and of the two cheapest ones;
# SCENARIO_RUNS=100000 is the long campaign. SKIP_SCENARIOS=1 skips it.
run_sweep() { # LABEL SEEDS SUBDIR [bluetas run options...] -- FILES...
	local label=$1 range=$2 sub=$3
	shift 3
	local opts=()
	while [[ $1 != -- ]]; do opts+=("$1"); shift; done
	shift
	echo "=== $label: $# scripts x seeds $range"
	local sweep rc
	sweep=$("$build/bluetas" run "$@" --seeds "$range" --jobs "${JOBS:-2}" --quiet "${opts[@]}" \
		--pcap "$build/scenario-failures$sub" --junit "$build/scenario-sweep${sub//\//-}.xml" 2>&1)
	rc=$?
	printf '%s\n' "$sweep" | tail -40
	count_total "$sweep" $rc "$label (exit $rc)"
}
sec_sweep() {
	local scripts=(scenarios/*.scn)
	# Scripts whose rate faults swarm varies, and the two cheapest (swarm
	# leaves them as written: more seeds of them).
	local swarm_scripts=(scenarios/handshake_loss.scn scenarios/channel_faults.scn scenarios/multiseg_rx_mss8960.scn
		scenarios/multiseg_rx_mss1448.scn scenarios/backlog_overflow.scn scenarios/isolation.scn)
	local total_runs=${SCENARIO_RUNS:-10200}
	local seeds=${SCENARIO_SEEDS:-$((total_runs * 3 / 10 / ${#scripts[@]} > 200 ? total_runs * 3 / 10 / ${#scripts[@]} : 200))}
	# Every script takes part in swarm runs too (a fault an expectation
	# needs is marked swarm=keep), SWARM_ALL_SEEDS seeds each (default 5),
	# counted in the total.
	local swarm_all_seeds=${SWARM_ALL_SEEDS:-5}
	local swarm_seeds=$(((total_runs - (seeds + swarm_all_seeds) * ${#scripts[@]}) / ${#swarm_scripts[@]}))
	run_sweep "scenario sweep" "1..$seeds" "" -- "${scripts[@]}"
	if [[ $swarm_all_seeds -gt 0 ]]; then
		run_sweep "swarm sweep, every script" "1..$swarm_all_seeds" "/swarm-all" --swarm -- "${scripts[@]}"
	fi
	if [[ $swarm_seeds -gt 0 ]]; then
		run_sweep "swarm sweep" "1..$swarm_seeds" "/swarm" --swarm -- "${swarm_scripts[@]}"
	fi
}

# The end-to-end suite once more under memcheck: a leak or an invalid
# access anywhere in two whole stacks fails the run. MEMCHECK=0 skips it.
sec_memcheck() {
	echo "=== memcheck e2e/test_echo"
	if valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		"$build/tests/e2e/test_echo" >"$build/memcheck.log" 2>&1; then
		echo "memcheck: no leaks, no invalid accesses"
		printf '1 0 memcheck\n' >>"$counts"
	else
		tail -60 "$build/memcheck.log"
		echo "memcheck: FAILED (full log: $build/memcheck.log)"
		printf '0 1 memcheck e2e/test_echo\n' >>"$counts"
	fi
}

# sanitizers: the unit and e2e suites and a short sweep again, built with
# ASan + UBSan in build-san/ (make sanitize-bins, a prerequisite of make
# test). tests/run-sanitized.sh; SANITIZE=0 skips it.
sec_sanitizers() {
	echo "=== sanitizers (tests/run-sanitized.sh build-san)"
	local out rc
	out=$(timeout 900 bash tests/run-sanitized.sh build-san 2>&1)
	rc=$?
	printf '%s\n' "$out"
	count_total "$out" $rc "sanitizers (exit $rc)"
}

# fuzzing: each libFuzzer target (tests/fuzz/) for FUZZ_TEST_SECONDS
# (default 15) from its corpus in the repo (make fuzz-bins -> build-fuzz/;
# `make fuzz` runs them longer). FUZZ=0 skips it.
sec_fuzz() {
	echo "=== fuzz (tests/fuzz/run.sh build-fuzz)"
	local out rc
	out=$(FUZZ_TEST_SECONDS=${FUZZ_TEST_SECONDS:-15} bash tests/fuzz/run.sh build-fuzz 2>&1)
	rc=$?
	printf '%s\n' "$out"
	count_suite "$out" $rc "fuzz (exit $rc)"
}

# ---- which sections run, in which lane ----------------------------------
# typical_s SECTION: its wall time in seconds in a CI run on 2 cores (only
# used to even the lanes out; a wrong figure costs time, never a result)
typical_s() {
	case $1 in
	interop) echo 90 ;; apps) echo 60 ;; promote) echo 115 ;; rxe) echo 450 ;;
	campaign) echo 30 ;; preflight) echo 12 ;; conformance) echo 60 ;;
	arm64) echo 40 ;; sweep) echo 290 ;; memcheck) echo 12 ;;
	sanitizers) echo 60 ;; fuzz) echo 50 ;; cmocka) echo 16 ;; *) echo 1 ;;
	esac
}
lane_s() { local s t=0; for s in "$@"; do t=$((t + $(typical_s "$s"))); done; echo $t; }
to_shorter_lane() {
	if (( $(lane_s "${net_lane[@]}") <= $(lane_s "${sim_lane[@]}") )); then
		net_lane+=("$1")
	else
		sim_lane+=("$1")
	fi
}
named=("$@")
net_lane=()
sim_lane=(cmocka)
if [[ ${#named[@]} -eq 0 ]]; then
	on() { [[ ${!1:-1} == 1 && -f $2 ]]; } # VARIABLE FILE: not switched off, and present
	on INTEROP tests/interop/run.sh && net_lane+=(interop)
	on APPS tests/apps/run.sh && net_lane+=(apps)
	[[ -x $build/bluetas ]] && on PROMOTE tests/promote/run.sh && net_lane+=(promote)
	on RXE tests/rxe/run.sh && net_lane+=(rxe)
	[[ -x $build/bluetas ]] && on CAMPAIGN tests/campaign/run.sh && net_lane+=(campaign)
	on PREFLIGHT tests/preflight/run.sh && sim_lane+=(preflight)
	on CONFORMANCE tests/packetdrill/run-conformance.sh && sim_lane+=(conformance)
	on ARM64 tests/arm64/run.sh && sim_lane+=(arm64)
	[[ -x $build/bluetas && ${SIM_VERIFY:-1} == 1 ]] && sim_lane+=(simverify)
	[[ -x $build/bluetas && -z ${SKIP_SCENARIOS:-} ]] && sim_lane+=(sweep)
	[[ ${MEMCHECK:-1} == 1 && -x $build/tests/e2e/test_echo ]] && command -v valgrind >/dev/null &&
		sim_lane+=(memcheck)
	# CPU only: each goes to the lane that is shorter so far, by the
	# sections' typical wall times on 2 cores (CI of 2026-12-03), so the
	# lanes stay even whether or not the Soft-RoCE VM runs
	[[ ${SANITIZE:-1} == 1 && -x build-san/bluetas ]] && to_shorter_lane sanitizers
	[[ ${FUZZ:-1} == 1 && -d build-fuzz/fuzz ]] && to_shorter_lane fuzz
else
	# named binaries (also how run-sanitized.sh calls this script): the
	# cmocka section alone, and memcheck unless MEMCHECK=0
	[[ ${MEMCHECK:-1} == 1 && -x $build/tests/e2e/test_echo ]] && command -v valgrind >/dev/null &&
		sim_lane+=(memcheck)
fi

run_lane() { local s; for s in "$@"; do run_section "$s" "sec_$s"; done; }
t_start=$(date +%s)
if [[ ${TEST_LANES:-2} == 1 || ${#net_lane[@]} -eq 0 ]]; then
	run_lane "${sim_lane[@]}" "${net_lane[@]}"
else
	echo "run-tests: two lanes at once (TEST_LANES=1: one after the other)"
	echo "  net: ${net_lane[*]}"
	echo "  sim: ${sim_lane[*]}"
	run_lane "${net_lane[@]}" &
	net_pid=$!
	run_lane "${sim_lane[@]}"
	wait "$net_pid"
fi

# ---- totals ---------------------------------------------------------------
passed=0
failed=0
failed_bins=()
while read -r p f label; do
	passed=$((passed + p))
	failed=$((failed + f))
	[[ $f -gt 0 ]] && failed_bins+=("$label")
done < <(cat "$logs"/*.counts 2>/dev/null)
echo
echo "run-tests: $(( $(date +%s) - t_start )) s in all; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ ${#failed_bins[@]} -gt 0 ]]; then
	echo "failing: ${failed_bins[*]}"
fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
