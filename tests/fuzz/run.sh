#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD/fuzz/ for FUZZ_TEST_SECONDS (default
# 15) each, starting from its corpus in tests/fuzz/corpus/NAME/ (the repo's
# corpus is read, never written: new inputs go to BUILD/fuzz-work/NAME/).
# A target that crashes, trips a sanitizer or hangs (10 s per input) is a
# failure; its input is kept as BUILD/fuzz-artifacts/NAME-crash-... with
# the command that replays it. Prints cmocka-shaped summary lines, one case
# per target, for tests/run-tests.sh.
set -u
build=${1:-build-fuzz}
cd "$(dirname "$0")/../.." || exit 2
secs=${FUZZ_TEST_SECONDS:-15}
passed=0
failed=()
for bin in "$build"/fuzz/fuzz_*; do
	[[ -x $bin ]] || continue
	name=${bin##*/fuzz_}
	corpus=tests/fuzz/corpus/$name
	work=$build/fuzz-work/$name
	arts=$build/fuzz-artifacts
	mkdir -p "$work" "$arts"
	log=$build/fuzz-work/$name.log
	echo "[ RUN      ] fuzz_$name (${secs}s from $corpus)"
	timeout $((secs + 60)) "$bin" "$work" "$corpus" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$arts/$name-" -print_final_stats=1 >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	if [[ $rc -eq 0 ]]; then
		echo "[       OK ] fuzz_$name (${runs:-?} inputs)"
		passed=$((passed + 1))
	else
		grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" | head -20
		echo "  replay: $bin <the input above>; full log: $log"
		echo "[  FAILED  ] fuzz_$name (exit $rc)"
		failed+=("fuzz_$name")
	fi
done
if [[ $passed -eq 0 && ${#failed[@]} -eq 0 ]]; then
	echo "fuzz: no targets under $build/fuzz (make fuzz-bins)" >&2
	echo "[  FAILED  ] 1 test(s), listed below:"
	exit 1
fi
echo "[  PASSED  ] $passed test(s)."
if [[ ${#failed[@]} -gt 0 ]]; then
	echo "[  FAILED  ] ${#failed[@]} test(s), listed below:"
	printf '[  FAILED  ] %s\n' "${failed[@]}"
	exit 1
fi
