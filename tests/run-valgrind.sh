#!/usr/bin/env bash
# make valgrind: the end-to-end and unit tests under memcheck. Any invalid
# access or leak fails the run (exit code 99 from valgrind).
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 2
export BLUETAS_BIN="$build/bluetas"
status=0
for bin in $(find "$build/tests" -type f -perm -u+x -name 'test_*' | sort); do
	case "$bin" in */test_cli) continue ;; esac # it runs the CLI: covered below
	if valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		"$bin" >/tmp/bt-valgrind.$$ 2>&1; then
		echo "valgrind clean: ${bin#"$build"/tests/}"
	else
		echo "valgrind FAILED: ${bin#"$build"/tests/}"
		tail -40 /tmp/bt-valgrind.$$
		status=1
	fi
done
if valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
	"$build/bluetas" sim -c 4 -s 100K -n 3 >/tmp/bt-valgrind.$$ 2>&1; then
	echo "valgrind clean: bluetas sim"
else
	echo "valgrind FAILED: bluetas sim"
	tail -40 /tmp/bt-valgrind.$$
	status=1
fi
rm -f /tmp/bt-valgrind.$$
exit $status
