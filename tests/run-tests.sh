#!/usr/bin/env bash
# Runs every cmocka test binary under BUILD/tests (or the ones named),
# shows each one's output, and ends with one summary line that counts
# individual test cases: "N passed, N failed".
set -u
build=${1:-build}
shift || true
cd "$(dirname "$0")/.." || exit 2

if [[ $# -gt 0 ]]; then
	bins=()
	for name in "$@"; do bins+=("$build/tests/$name"); done
else
	mapfile -t bins < <(find "$build/tests" -type f -perm -u+x -name 'test_*' | sort)
fi
if [[ ${#bins[@]} -eq 0 ]]; then
	echo "run-tests: no test binaries under $build/tests" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

export BLUETAS_BIN="$build/bluetas"
passed=0
failed=0
failed_bins=()

# count_suite OUTPUT RC LABEL: adds a suite's cmocka-shaped summary lines
# ("[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:")
# to the totals. A non-zero exit counts as at least one failure even when
# the suite never got to print its summary (a crash or a timeout).
count_suite() {
	local out=$1 rc=$2 label=$3 p f
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' | tail -1)
	passed=$((passed + ${p:-0}))
	if [[ $rc -ne 0 ]]; then
		failed=$((failed + ${f:-1}))
		failed_bins+=("$label")
	fi
}

for bin in "${bins[@]}"; do
	echo "=== ${bin#"$build"/tests/}"
	out=$(timeout 600 "$bin" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	count_suite "$out" $rc "${bin#"$build"/tests/} (exit $rc)"
done

# ---- interop: `bluetas nic` on DPDK against Linux TCP (tests/interop) ----
# A shell-driven suite with cmocka-shaped summary lines, counted like one
# more binary. It runs when no test names were given (`make interop` runs
# it alone); INTEROP=0 skips it. Without root or net_tap it prints
# "[  SKIPPED ] ..." with the reason and counts those cases as neither.
run_interop=0
if [[ ${INTEROP:-1} == 1 && $# -eq 0 && -f tests/interop/run.sh ]]; then
	run_interop=1
fi
if [[ $run_interop == 1 ]]; then
	echo "=== interop (tests/interop/run.sh)"
	out=$(timeout 900 bash tests/interop/run.sh "$build" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	count_suite "$out" $rc "interop (exit $rc)"
fi
# ---- end interop ----

# ---- apps: unmodified programs on the stack through LD_PRELOAD and the
# ipc channel, against Linux TCP (tests/apps/run.sh, docs/sockets.md).
# Runs when no test names were given; APPS=0 skips it.
if [[ ${APPS:-1} == 1 && $# -eq 0 && -f tests/apps/run.sh ]]; then
	echo "=== apps (tests/apps/run.sh)"
	out=$(timeout 300 bash tests/apps/run.sh "$build" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	count_suite "$out" $rc "apps (exit $rc)"
fi
# ---- end apps ----

# ---- preflight: `bluetas preflight` on BlueField fixture trees and broken
# copies of them, the hosts file through the CLI, capture round trips
# (tests/preflight/run.sh, a few seconds). PREFLIGHT=0 skips it.
if [[ ${PREFLIGHT:-1} == 1 && $# -eq 0 && -f tests/preflight/run.sh ]]; then
	echo "=== preflight (tests/preflight/run.sh)"
	out=$(timeout 300 bash tests/preflight/run.sh "$build" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -v '^\[       OK \]'
	count_suite "$out" $rc "preflight (exit $rc)"
fi
# ---- end preflight ----

# ---- Soft-RoCE (tests/rxe): the verbs channel, `bluetas nic` serving
# applications in other processes over RDMA, and the BlueTAS scenarios on
# the verbs channel. Natively where the kernel has rdma_rxe, else in Debian's
# kernel under qemu (ci/rxe-vm.sh, docs/emu.md). RXE=0 skips it.
if [[ ${RXE:-1} == 1 && $# -eq 0 && -f tests/rxe/run.sh ]]; then
	echo "=== rxe (ci/rxe-vm.sh: tests/rxe/run.sh)"
	out=$(BUILD="$build" timeout 1500 bash ci/rxe-vm.sh --wire-ns bt-wire bash tests/rxe/run.sh 2>&1)
	rc=$?
	out=${out//$'\r'/} # the guest's serial console ends lines with CR LF
	printf '%s\n' "$out" | grep -vE '^\[[#.]{5}' | tail -80
	count_suite "$out" $rc "rxe (exit $rc; guest console: build/rxe-vm/console.log)"
fi
# ---- end Soft-RoCE ----

# ---- conformance: packetdrill's and FreeBSD's corpora against the stack in
# virtual time (tests/packetdrill, docs/conformance.md). It needs
# PACKETDRILL_SRC (and TCP_TESTSUITE_SRC for FreeBSD's corpus; .ci/run sets
# both); without it the section says what to set and counts nothing.
# Passing scripts count as passed, scripts on no list that fail as failed;
# known failures and scripts not applicable count as neither.
# CONFORMANCE=0 skips it.
if [[ ${CONFORMANCE:-1} == 1 && $# -eq 0 && -f tests/packetdrill/run-conformance.sh ]]; then
	echo "=== conformance (tests/packetdrill/run-conformance.sh)"
	out=$(timeout 900 bash tests/packetdrill/run-conformance.sh "$build" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	count_suite "$out" $rc "conformance (exit $rc)"
fi
# ---- end conformance ----

# ---- aarch64 (tests/arm64): the aarch64 build (make cross-arm64, which
# `make test` builds first) under qemu-aarch64-static: unit and e2e tests, a
# short scenario sweep, `bluetas nic` on net_pcap, the host<->NIC formats
# byte-identical on both builds, and the negative controls for x86-only
# code. ARM64=0 skips it (then `make test` does not build it either).
if [[ ${ARM64:-1} == 1 && $# -eq 0 && -f tests/arm64/run.sh ]]; then
	echo "=== arm64 (tests/arm64/run.sh under qemu-aarch64-static)"
	out=$(timeout 900 bash tests/arm64/run.sh "$build" "${ARM64_BUILD:-$build/arm64}" \
		"${ARM64_SYSROOT:-build/arm64-sysroot}" 2>&1)
	rc=$?
	printf '%s\n' "$out" | tail -40
	count_suite "$out" $rc "arm64 (exit $rc)"
fi
# ---- end aarch64 ----
# ---- campaigns (tests/campaign): --shard/--results/--junit/--swarm,
# `bluetas report`, `bluetas shrink` of the three negative controls, GNU
# parallel, and a Slurm job array on a single-node cluster the suite starts
# and stops (as root; skipped with the reason otherwise). CAMPAIGN=0 skips
# it all, SLURM=0 or PARALLEL=0 one engine.
if [[ ${CAMPAIGN:-1} == 1 && $# -eq 0 && -x "$build/bluetas" && -f tests/campaign/run.sh ]]; then
	echo "=== campaign (tests/campaign/run.sh)"
	out=$(timeout 900 bash tests/campaign/run.sh "$build" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	count_suite "$out" $rc "campaign (exit $rc)"
fi
# ---- end campaigns ----

# Every scenario script over a seed sweep, then a swarm sweep (each seed
# also picks which rate faults are on and how strong: docs/campaigns.md).
# Each run is one test; failures leave pcap, trace and a reproduce line
# under $build/scenario-failures, and every run is in
# $build/scenario-sweep*.xml (JUnit). SCENARIO_RUNS (default 10200) is the
# total: 200 seeds of every script (SCENARIO_SEEDS overrides), the rest
# swarm runs of the scripts with rate faults and of the two cheapest ones;
# SCENARIO_RUNS=100000 is the long campaign.
run_sweep() { # LABEL SEEDS SUBDIR [bluetas run options...] -- FILES...
	local label=$1 range=$2 sub=$3
	shift 3
	local opts=()
	while [[ $1 != -- ]]; do opts+=("$1"); shift; done
	shift
	echo "=== $label: $# scripts x seeds $range"
	local sweep rc sp sf
	sweep=$("$build/bluetas" run "$@" --seeds "$range" --jobs "${JOBS:-2}" --quiet "${opts[@]}" \
		--pcap "$build/scenario-failures$sub" --junit "$build/scenario-sweep${sub//\//-}.xml" 2>&1)
	rc=$?
	printf '%s\n' "$sweep" | tail -40
	sp=$(printf '%s\n' "$sweep" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' | tail -1)
	sf=$(printf '%s\n' "$sweep" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' | tail -1)
	passed=$((passed + ${sp:-0}))
	if [[ $rc -ne 0 ]]; then
		failed=$((failed + ${sf:-1}))
		[[ ${sf:-0} -eq 0 ]] && failed=$((failed + 1))
		failed_bins+=("$label (exit $rc)")
	fi
}
if [[ -x "$build/bluetas" && -z "${SKIP_SCENARIOS:-}" && $# -eq 0 ]]; then
	scripts=(scenarios/*.scn)
	# Scripts whose rate faults swarm varies, and the two cheapest (swarm
	# leaves them as written: more seeds of them).
	swarm_scripts=(scenarios/handshake_loss.scn scenarios/channel_faults.scn scenarios/multiseg_rx_mss8960.scn
		scenarios/multiseg_rx_mss1448.scn scenarios/backlog_overflow.scn scenarios/isolation.scn)
	total_runs=${SCENARIO_RUNS:-10200}
	seeds=${SCENARIO_SEEDS:-$((total_runs * 3 / 10 / ${#scripts[@]} > 200 ? total_runs * 3 / 10 / ${#scripts[@]} : 200))}
	swarm_seeds=$(((total_runs - seeds * ${#scripts[@]}) / ${#swarm_scripts[@]}))
	run_sweep "scenario sweep" "1..$seeds" "" -- "${scripts[@]}"
	if [[ $swarm_seeds -gt 0 ]]; then
		run_sweep "swarm sweep" "1..$swarm_seeds" "/swarm" --swarm -- "${swarm_scripts[@]}"
	fi
fi

# The end-to-end suite once more under memcheck: a leak or an invalid
# access anywhere in two whole stacks fails the run. MEMCHECK=0 skips it.
if [[ ${MEMCHECK:-1} == 1 && -x "$build/tests/e2e/test_echo" ]] && command -v valgrind >/dev/null; then
	echo "=== memcheck e2e/test_echo"
	if valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		"$build/tests/e2e/test_echo" >"$build/memcheck.log" 2>&1; then
		echo "memcheck: no leaks, no invalid accesses"
		passed=$((passed + 1))
	else
		tail -60 "$build/memcheck.log"
		echo "memcheck: FAILED (full log: $build/memcheck.log)"
		failed=$((failed + 1))
		failed_bins+=("memcheck e2e/test_echo")
	fi
fi

# ---- sanitizers: the unit and e2e suites and a short sweep again, built
# with ASan + UBSan in build-san/ (make sanitize-bins, a prerequisite of
# make test). tests/run-sanitized.sh; SANITIZE=0 skips it. ----
if [[ ${SANITIZE:-1} == 1 && $# -eq 0 && -x build-san/bluetas ]]; then
	echo "=== sanitizers (tests/run-sanitized.sh build-san)"
	out=$(timeout 900 bash tests/run-sanitized.sh build-san 2>&1)
	rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' | tail -1)
	passed=$((passed + ${p:-0}))
	if [[ $rc -ne 0 ]]; then
		failed=$((failed + ${f:-1}))
		[[ ${f:-0} -eq 0 ]] && failed=$((failed + 1))
		failed_bins+=("sanitizers (exit $rc)")
	fi
fi
# ---- end sanitizers ----

# ---- fuzzing: each libFuzzer target (tests/fuzz/) for FUZZ_TEST_SECONDS
# (default 15) from its corpus in the repo (make fuzz-bins -> build-fuzz/;
# `make fuzz` runs them longer). FUZZ=0 skips it. ----
if [[ ${FUZZ:-1} == 1 && $# -eq 0 && -d build-fuzz/fuzz ]]; then
	echo "=== fuzz (tests/fuzz/run.sh build-fuzz)"
	out=$(FUZZ_TEST_SECONDS=${FUZZ_TEST_SECONDS:-15} bash tests/fuzz/run.sh build-fuzz 2>&1)
	rc=$?
	printf '%s\n' "$out"
	count_suite "$out" $rc "fuzz (exit $rc)"
fi
# ---- end fuzzing ----

echo
if [[ ${#failed_bins[@]} -gt 0 ]]; then
	echo "failing binaries: ${failed_bins[*]}"
fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
