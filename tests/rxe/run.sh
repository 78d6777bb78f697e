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

# Three groups: `alone` runs first with nothing else on the topology (the
# smoke tests judge the veth's packet counters, which any other traffic
# would move; the channel's tests and benchmark busy-poll); then lanes `a`
# and `b`, one test after another in this order, or with RXE_JOBS=2 side
# by side (each lane's tests in turn). Not the default: under TCG on this
# 2-core host the VM is CPU-bound, and two lanes took twice as long per
# test, no less in all (docs/emu.md, "Timings").
# Lane b's daemons listen on their own verbs port (RXE_CHAN_PORT, 7472) and
# its tests make their own wire namespace (RXE_WIRE_NS empty: tests/rxe/
# lib.sh), so the two lanes share no port, address or namespace; the
# scenarios and the channel binaries listen on ports of the kernel's choice.
alone=(
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
	# its latency next to smoke/ib_send_lat and smoke/ib_write_lat (key=value
	# lines; the figures are make bench-rxe's to judge, here it must run)
	"verbs/bench|\"${BUILD:-build}/rxe/bench_verbs_chan\" --iters ${RXE_VBENCH_ITERS:-5000}"
)
lane_a=(
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
	"e2e/64_conns_4_apps|bash tests/rxe/e2e.sh many"
	"e2e/app_killed|bash tests/rxe/e2e.sh kill"
	"e2e/daemon_restarted|bash tests/rxe/e2e.sh restart"
)
lane_b=(
	# the BlueTAS failure scenarios on the verbs channel, in real time, and
	# their negative controls (each must fail with its diagnosis)
	"scenarios/rxe|bash tests/rxe/scenarios.sh pass"
	"scenarios/neg-rx-first-segment|bash tests/rxe/scenarios.sh negative rx-first-segment 'data mismatch'"
	"scenarios/neg-write-without-credits|bash tests/rxe/scenarios.sh negative write-without-credits 'out-of-bounds'"
	"scenarios/neg-wakeup-no-timeout|bash tests/rxe/scenarios.sh negative wakeup-no-timeout 'deadlock'"
	"e2e/bulk|bash tests/rxe/e2e.sh bulk"
)
# unmodified programs over the verbs channel through the preload library:
# nc both ways, redis-cli, and redis-server on the stack, byte-exact
# (tests/rxe/apps.sh; RXE_APPS=0 leaves it out)
[[ ${RXE_APPS:-1} == 0 ]] || lane_b+=("apps/nc_redis@240|bash tests/rxe/apps.sh")
# every test, "GROUP|name|command" (the group: alone, a or b)
tests=()
for t in "${alone[@]}"; do tests+=("alone|$t"); done
for t in "${lane_a[@]}"; do tests+=("a|$t"); done
for t in "${lane_b[@]}"; do tests+=("b|$t"); done

name_of() { # GROUP|name[@S]|command -> name
	local n=${1#*|}
	n=${n%%|*}
	echo "${n%@*}"
}
if [[ ${1:-} == --list ]]; then
	for t in "${tests[@]}"; do name_of "$t"; done
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
			[[ $(name_of "$t") == "$want" ]] && { selected+=("$t"); found=1; }
		done
		[[ $found == 1 ]] || { echo "rxe suite: no test named '$want' (--list shows them)" >&2; exit 2; }
	done
else
	selected=("${tests[@]}")
fi
jobs=${RXE_JOBS:-1}
[[ $jobs == 1 || $jobs == 2 ]] || { echo "rxe suite: RXE_JOBS takes 1 or 2, not '$jobs'" >&2; exit 2; }

limit=${RXE_TEST_TIMEOUT:-120}
out=$(mktemp -d /tmp/bt-rxe-suite.XXXXXX)
trap 'rm -rf "$out"' EXIT
# run_one INDEX: test INDEX of `selected`, its output in $out/INDEX.log,
# printed whole between its RUN and OK/FAILED lines once it ended (under a
# lock: the two lanes' blocks never interleave); "rc ms" in $out/INDEX.rc.
run_one() {
	local i=$1 t=${selected[$1]} group name cmd tlimit=$limit rc ms t0 env=()
	group=${t%%|*}
	t=${t#*|}
	name=${t%%|*}
	cmd=${t#*|}
	if [[ $name == *@* ]]; then
		((${name#*@} > limit)) && tlimit=${name#*@}
		name=${name%@*}
	fi
	# lane b: a verbs port and a wire namespace of its own
	[[ $group == b ]] && env=(RXE_CHAN_PORT="${RXE_LANE_B_PORT:-7472}" RXE_WIRE_NS=)
	t0=${EPOCHREALTIME/./}
	env "${env[@]}" timeout -k 5 "$tlimit" bash -c "$cmd" </dev/null >"$out/$i.log" 2>&1
	rc=$?
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	echo "$rc $ms" >"$out/$i.rc"
	{
		flock 9
		echo "[ RUN      ] $name"
		cat "$out/$i.log"
		if [[ $rc -eq 0 ]]; then
			echo "[       OK ] $name ($ms ms)"
		else
			[[ $rc -eq 124 ]] && echo "rxe suite: $name timed out after $tlimit s"
			echo "[  FAILED  ] $name (exit $rc, $ms ms)"
		fi
	} 9>>"$out/print.lock"
}
run_group() { # GROUP...: its selected tests, one after another
	local i g
	for i in "${!selected[@]}"; do
		for g in "$@"; do
			[[ ${selected[$i]%%|*} == "$g" ]] && run_one "$i"
		done
	done
}

t_suite=${EPOCHREALTIME/./}
echo "[==========] Running ${#selected[@]} test(s) (emu topology: mode $RXE_MODE, kernel $(uname -r); $jobs lane(s) after the smoke tests)."
run_group alone
if [[ $jobs == 2 ]]; then
	run_group a &
	lane=$!
	run_group b
	wait "$lane"
else
	run_group a b
fi
passed=0
failed=()
for i in "${!selected[@]}"; do
	rc=1
	[[ -r $out/$i.rc ]] && read -r rc _ <"$out/$i.rc"
	if [[ $rc == 0 ]]; then passed=$((passed + 1)); else failed+=("$(name_of "${selected[$i]}")"); fi
done
echo "[==========] ${#selected[@]} test(s) run. ($(((${EPOCHREALTIME/./} - t_suite) / 1000)) ms total; guest load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "[  PASSED  ] $passed test(s)."
if [[ ${#failed[@]} -gt 0 ]]; then
	echo "[  FAILED  ] ${#failed[@]} test(s), listed below:"
	for name in "${failed[@]}"; do echo "[  FAILED  ] $name"; done
	exit 1
fi
exit 0
