#!/usr/bin/env bash
# Fails when a compiler flag meant for DPDK's objects reached any other
# object: DPDK's pkg-config carries -march= (corei7 on x86, armv8-a+crc on
# arm64), and an object built with it outside transports/dpdk/ would not
# run on every CPU of its architecture (or, the x86 flag in the aarch64
# build, not compile at all). GCC records each object's options in its
# DWARF producer string (-g is always on), which is what is checked here,
# for the objects of the project's own folders (not a nested build or the
# sysroot under BUILD).
#
# The compiler's own default (x86 gcc records -march=x86-64 in every
# object) is what an object without extra flags has; anything else fails.
#
# usage: ci/check-objects.sh BUILD_DIR [CC]
set -uo pipefail
build=${1:?usage: ci/check-objects.sh BUILD_DIR [CC]}
cc=${2:-cc}
[[ -d $build ]] || { echo "check-objects: no build directory $build" >&2; exit 2; }
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int probe;' >"$probe/p.c"
"$cc" -g -c "$probe/p.c" -o "$probe/p.o" || { echo "check-objects: cannot compile with $cc" >&2; exit 2; }
default=$(readelf --debug-dump=info "$probe/p.o" | grep -m1 DW_AT_producer | grep -o -- '-march=[^ ]*' | tr '\n' ' ')
bad=0
checked=0
while IFS= read -r obj; do
	case $obj in "$build"/transports/dpdk/*) continue ;; esac
	producer=$(readelf --debug-dump=info "$obj" 2>/dev/null | grep -m1 'DW_AT_producer')
	[[ -n $producer ]] || { echo "check-objects: $obj has no DWARF producer (built without -g?)" >&2; bad=1; continue; }
	checked=$((checked + 1))
	marchs=$(grep -o -- '-march=[^ ]*' <<<"$producer" | tr '\n' ' ')
	if [[ $marchs != "$default" ]]; then
		echo "check-objects: $obj was built with ${marchs:-no -march} (the compiler's default: ${default:-none}): DPDK's flags leaked outside transports/dpdk/" >&2
		bad=1
	fi
done < <(for d in core transports sim hw tests; do [[ -d $build/$d ]] && find "$build/$d" -name '*.o'; done)
[[ $checked -gt 0 ]] || { echo "check-objects: no objects under $build" >&2; exit 2; }
[[ $bad == 0 ]] && echo "check-objects: $checked objects in $build, none with a -march of its own outside transports/dpdk/"
exit $bad
