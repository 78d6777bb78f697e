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
for bin in "${bins[@]}"; do
	echo "=== ${bin#"$build"/tests/}"
	out=$(timeout 600 "$bin" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' | tail -1)
	passed=$((passed + ${p:-0}))
	if [[ $rc -ne 0 ]]; then
		# A crash or timeout counts as at least one failure even when
		# cmocka never got to print its summary.
		failed=$((failed + ${f:-1}))
		failed_bins+=("${bin#"$build"/tests/} (exit $rc)")
	fi
done

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

echo
if [[ ${#failed_bins[@]} -gt 0 ]]; then
	echo "failing binaries: ${failed_bins[*]}"
fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
