#!/usr/bin/env bash
# The unit and e2e suites and a short scenario sweep, built with
# AddressSanitizer + UndefinedBehaviorSanitizer (make sanitize-bins ->
# build-san/). Any report aborts the binary that made it, so it fails.
# Ends with "N passed, N failed" like tests/run-tests.sh.
#   SAN_SEEDS   seeds per scenario in the sweep (default 3)
set -u
san=${1:-build-san}
cd "$(dirname "$0")/.." || exit 2
if [[ ! -x $san/bluetas ]]; then
	echo "run-sanitized: no $san/bluetas (make sanitize-bins)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mapfile -t names < <(cd "$san/tests" && find unit e2e -type f -perm -u+x -name 'test_*' | sort)
# Named binaries only: the suite runner then skips interop, rxe, the sweep
# and memcheck (valgrind cannot run ASan binaries).
out=$(MEMCHECK=0 bash tests/run-tests.sh "$san" "${names[@]}" 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E '^(===|\[  FAILED|\[  PASSED)|ERROR: |runtime error|SUMMARY: ' | tail -60
passed=$(printf '%s\n' "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' | tail -1)
failed=$(printf '%s\n' "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' | tail -1)
passed=${passed:-0}
failed=${failed:-0}
[[ $rc -ne 0 && $failed -eq 0 ]] && failed=1

seeds=${SAN_SEEDS:-3}
echo "=== sanitized sweep: scenarios/*.scn x seeds 1..$seeds"
sweep=$("$san/bluetas" run scenarios/*.scn --seeds "1..$seeds" --jobs "${JOBS:-2}" --quiet \
	--pcap "$san/scenario-failures" 2>&1)
src=$?
printf '%s\n' "$sweep" | grep -vE '^\s*$' | tail -20
sp=$(printf '%s\n' "$sweep" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' | tail -1)
sf=$(printf '%s\n' "$sweep" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' | tail -1)
passed=$((passed + ${sp:-0}))
failed=$((failed + ${sf:-0}))
[[ $src -ne 0 && ${sf:-0} -eq 0 ]] && failed=$((failed + 1))
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
