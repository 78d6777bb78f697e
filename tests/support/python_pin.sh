# shellcheck shell=bash
# tests/support/python_pin.sh: sourced by tests/run-tests.sh (for every
# suite on the host) and ci/rxe-vm.sh (for the Soft-RoCE guest).
#
# python_past_shims DIR: where `python3` or `python` on PATH is a version
# manager's shim (pyenv's is a bash script that runs more bash and several
# programs before the interpreter), links DIR/python3 (DIR/python) to the
# interpreter the shim picks, so that a caller putting DIR first on PATH
# starts it directly. On this machine one start through the shim took
# 1.4 s on the host (0.16 s direct) and 16-21 s in the TCG guest, and the
# interop and apps suites start python3 about 40 times. Says each pin on
# stderr; returns 0 when it made at least one link.
python_past_shims() {
	local dir=$1 py pyp real made=1
	for py in python3 python; do
		pyp=$(command -v "$py" 2>/dev/null) || continue
		[[ $pyp == */shims/* ]] || continue
		real=$("$py" -c 'import sys; print(sys.executable)' 2>/dev/null)
		[[ -x $real && $real != */shims/* ]] || continue
		mkdir -p "$dir" && ln -sf "$real" "$dir/$py" || continue
		echo "$py is a shim ($pyp): $real runs directly" >&2
		made=0
	done
	return $made
}
