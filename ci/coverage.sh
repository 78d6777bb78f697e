#!/usr/bin/env bash
# make coverage: a gcov build in build-cov/, the whole suite (interop too,
# as root), an lcov HTML report, and the summary for the project's own code
# (core/, transports/, sim/; tests excluded). transports/verbs and
# `bluetas app` run only in the Soft-RoCE VM (make test-rxe), so they count
# as uncovered here.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build-cov
make -s BUILD=$out OPT=-O0 EXTRA_CFLAGS=--coverage LDFLAGS=--coverage all
lcov --quiet --zerocounters --directory $out
MEMCHECK=0 RXE=0 SCENARIO_SEEDS=10 bash tests/run-tests.sh $out
lcov --quiet --capture --directory $out --output-file $out/all.info 2>/dev/null
lcov --quiet --extract $out/all.info "$PWD/core/*" "$PWD/transports/*" "$PWD/sim/*" \
	--output-file $out/project.info
genhtml --quiet $out/project.info --output-directory $out/coverage
echo
echo "coverage report: $out/coverage/index.html"
for dir in core transports sim; do
	lcov --quiet --extract $out/project.info "$PWD/$dir/*" --output-file $out/$dir.info 2>/dev/null
	lcov --summary $out/$dir.info 2>&1 | awk -v d="$dir/" '/lines|functions/ {printf "  %-12s %s\n", d, $0}'
done
echo "total:"
lcov --summary $out/project.info 2>&1 | grep -E "lines|functions"
