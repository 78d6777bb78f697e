# tests/support/netns_lock.sh: sourced by the suites that create system-wide
# things (network namespaces, TAP devices, the Soft-RoCE VM, a Slurm cluster).
#
# Where several people or helpers share one machine, set BLUETAS_NETNS_LOCK
# to a lock file (e.g. /run/lock/bluetas-netns.lock) and each such suite runs
# alone: `netns_lock_take` blocks until it holds the lock on fd 8 and keeps it
# until the script exits. Unset (CI, a laptop), it does nothing. Do not also
# wrap a suite in `flock` on the same file: the suite's own flock is a second
# open file description and would wait for the wrapper forever.
#
# BLUETAS_NETNS_LOCK_HELD marks the lock as held by a parent suite (ci/rxe-vm.sh
# around tests/rxe/run.sh, run-bench-* around helpers), so a nested suite does
# not take it a second time.
netns_lock_take() {
	[[ -n ${BLUETAS_NETNS_LOCK:-} && -z ${BLUETAS_NETNS_LOCK_HELD:-} ]] || return 0
	if ! exec 8>>"$BLUETAS_NETNS_LOCK"; then
		echo "netns_lock: cannot open BLUETAS_NETNS_LOCK=$BLUETAS_NETNS_LOCK" >&2
		exit 2
	fi
	flock 8
	export BLUETAS_NETNS_LOCK_HELD=$$
}
