#!/usr/bin/env bash
# The Soft-RoCE suite. Runs where the emu topology is up: through
# `make test-rxe` (= bash ci/rxe-vm.sh bash tests/rxe/run.sh), natively or in
# the VM. Each entry of `tests` below is one test: a name and a command run
# from the repository root, passing when it exits 0, bounded by
# RXE_TEST_TIMEOUT seconds (default 120). Output is cmocka-style so
# tests/run-tests.sh-like tooling can count it:
#   [  PASSED  ] N test(s).
#   [  FAILED  ] N test(s), listed below:
#
#   tests/rxe/run.sh              every test
#   tests/rxe/run.sh NAME...      only these (names as listed below)
#   tests/rxe/run.sh --list       the names
#
# To add a test, append "name|command" to the list ("name@SECONDS|command"
# gives that test its own bound, at least RXE_TEST_TIMEOUT). Commands see the
# topology's RXE_* variables (/run/bluetas-rxe/topology.env, exported here)
# and can run on one side with `bash ci/rxe-topology.sh exec host|nic|wire CMD`.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

tests=(
	# smoke: the RDMA path itself, rxe_host <-> rxe_nic across the veth
	"smoke/devices|bash tests/rxe/smoke.sh devices"
	"smoke/rc_pingpong|bash tests/rxe/smoke.sh rc_pingpong"
	"smoke/ib_send_lat|bash tests/rxe/smoke.sh send_lat"
	"smoke/ib_write_lat|bash tests/rxe/smoke.sh write_lat"
	"smoke/rping|bash tests/rxe/smoke.sh rping"
	# verbs channel backend (transports/verbs; binaries from `make verbs-bins`,
	# under ${BUILD:-build}/rxe). No RDMA device is a failure here, not a skip.
	# The conformance suite's 28 tests and the verbs-only ones: ~35 s on an
	# idle machine under TCG, several times that on a loaded one.
	"verbs/chan@360|BLUETAS_RXE_REQUIRED=1 \"${BUILD:-build}/rxe/test_verbs_chan\""
	# its latency next to smoke/ib_send_lat and smoke/ib_write_lat (key=value lines)
	"verbs/bench|\"${BUILD:-build}/rxe/bench_verbs_chan\" --iters 20000"
	# the BlueTAS failure scenarios on the verbs channel, in real time, and
	# their negative controls (each must fail with its diagnosis)
	"scenarios/rxe|bash tests/rxe/scenarios.sh pass"
	"scenarios/neg-rx-first-segment|bash tests/rxe/scenarios.sh negative rx-first-segment 'data mismatch'"
	"scenarios/neg-write-without-credits|bash tests/rxe/scenarios.sh negative write-without-credits 'out-of-bounds'"
	"scenarios/neg-wakeup-no-timeout|bash tests/rxe/scenarios.sh negative wakeup-no-timeout 'deadlock'"
	# emu end to end (tests/rxe/e2e.sh): `bluetas nic --channel verbs:...` on
	# net_af_packet on a veth (RXE_PMD, tests/rxe/lib.sh) to Linux in the wire
	# namespace, `bluetas app` processes on the host side; every stream
	# checked, every wait bounded
	"e2e/echo|bash tests/rxe/e2e.sh echo"
	# a sleeping echo server (--spin-us 0) is woken by every WAKEUP, never
	# by its wait's timeout (counters), and the check's negative control
	"e2e/echo_sleeping|bash tests/rxe/wake.sh pass"
	"e2e/neg-drop-wakeups|bash tests/rxe/wake.sh negative"
	# the same on net_tap whatever RXE_PMD says, so its support (a port the
	# daemon creates, its kernel side moved into the wire namespace) does
	# not rot; the daemon must report driver=net_tap
	"e2e/echo_net_tap|RXE_PMD=tap bash tests/rxe/e2e.sh echo"
	"e2e/bulk|bash tests/rxe/e2e.sh bulk"
	"e2e/64_conns_4_apps|bash tests/rxe/e2e.sh many"
	"e2e/app_killed|bash tests/rxe/e2e.sh kill"
	"e2e/daemon_restarted|bash tests/rxe/e2e.sh restart"
)
# unmodified programs over the verbs channel through the preload library:
# nc both ways, redis-cli, and redis-server on the stack, byte-exact
# (tests/rxe/apps.sh; RXE_APPS=0 leaves it out)
[[ ${RXE_APPS:-1} == 0 ]] || tests+=("apps/nc_redis@240|bash tests/rxe/apps.sh")

if [[ ${1:-} == --list ]]; then
	for t in "${tests[@]}"; do
		n=${t%%|*}
		echo "${n%@*}"
	done
	exit 0
fi

STATE=${RXE_STATE_DIR:-/run/bluetas-rxe}/topology.env
if [[ ! -r $STATE ]]; then
	echo "rxe suite: no emu topology ($STATE missing): run it as 'make test-rxe' or 'bash ci/rxe-vm.sh bash tests/rxe/run.sh'" >&2
	echo "[  FAILED  ] 1 test(s), listed below:"
	echo "[  FAILED  ] topology"
	exit 1
fi
set -a
# shellcheck disable=SC1090
source "$STATE"
set +a

selected=()
if [[ $# -gt 0 ]]; then
	for want in "$@"; do
		found=0
		for t in "${tests[@]}"; do
			n=${t%%|*}
			[[ ${n%@*} == "$want" ]] && { selected+=("$t"); found=1; }
		done
		[[ $found == 1 ]] || { echo "rxe suite: no test named '$want' (--list shows them)" >&2; exit 2; }
	done
else
	selected=("${tests[@]}")
fi

limit=${RXE_TEST_TIMEOUT:-120}
passed=0
failed=()
t_suite=${EPOCHREALTIME/./}
echo "[==========] Running ${#selected[@]} test(s) (emu topology: mode $RXE_MODE, kernel $(uname -r))."
for t in "${selected[@]}"; do
	name=${t%%|*}
	cmd=${t#*|}
	tlimit=$limit
	if [[ $name == *@* ]]; then
		((${name#*@} > limit)) && tlimit=${name#*@}
		name=${name%@*}
	fi
	echo "[ RUN      ] $name"
	t0=${EPOCHREALTIME/./}
	timeout -k 5 "$tlimit" bash -c "$cmd" </dev/null
	rc=$?
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	if [[ $rc -eq 0 ]]; then
		echo "[       OK ] $name ($ms ms)"
		passed=$((passed + 1))
	else
		[[ $rc -eq 124 ]] && echo "rxe suite: $name timed out after $tlimit s"
		echo "[  FAILED  ] $name (exit $rc, $ms ms)"
		failed+=("$name")
	fi
done
echo "[==========] ${#selected[@]} test(s) run. ($(((${EPOCHREALTIME/./} - t_suite) / 1000)) ms total)"
echo "[  PASSED  ] $passed test(s)."
if [[ ${#failed[@]} -gt 0 ]]; then
	echo "[  FAILED  ] ${#failed[@]} test(s), listed below:"
	for name in "${failed[@]}"; do echo "[  FAILED  ] $name"; done
	exit 1
fi
exit 0
