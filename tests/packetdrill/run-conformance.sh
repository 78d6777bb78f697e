#!/usr/bin/env bash
# make conformance: builds packetdrill from PACKETDRILL_SRC and the shim,
# unpacks the corpora (Google's from the same source, FreeBSD's from
# TCP_TESTSUITE_SRC) under BUILD/packetdrill, and runs them
# (tests/packetdrill/conformance.py). See docs/conformance.md.
#
#   bash tests/packetdrill/run-conformance.sh [BUILD] [conformance.py options]
#
# Without PACKETDRILL_SRC it says what to set and exits 0 (skipped).
# Relative paths in the variables are taken from the repository root.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
root=$(pwd)
if [[ ${1:-} == --help || ${1:-} == -h || ${2:-} == --help || ${2:-} == -h ]]; then
	sed -n '2,10p' tests/packetdrill/run-conformance.sh | sed 's/^# \{0,1\}//'
	python3 tests/packetdrill/conformance.py --help
	exit 0
fi
build=${1:-build}
shift || true

abspath() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "$root/$1" ;;
	esac
}

skip() {
	echo "conformance: SKIPPED: $*"
	echo "[  SKIPPED ] conformance: $*"
	exit 0
}

if [[ -z ${PACKETDRILL_SRC:-} ]]; then
	skip "PACKETDRILL_SRC is not set (a packetdrill tarball or checkout, e.g." \
		"PACKETDRILL_SRC=../shared/third_party/packetdrill.tar.gz; and TCP_TESTSUITE_SRC for FreeBSD's corpus)"
fi
pd_src=$(abspath "$PACKETDRILL_SRC")
[[ -e $pd_src ]] || skip "PACKETDRILL_SRC=$PACKETDRILL_SRC does not exist"

pd_build="$build/packetdrill"
mkdir -p "$pd_build"
pd_dir="$pd_build/src/gtests/net/packetdrill"

# Unpack (or copy) the source once per source: the stamp names it.
stamp="$pd_build/.src-stamp"
want="$pd_src $(stat -c '%s %Y' "$pd_src")"
if [[ ! -f $stamp || $(cat "$stamp") != "$want" || ! -f $pd_dir/packetdrill.h ]]; then
	rm -rf "$pd_build/src" "$pd_build/packetdrill"
	mkdir -p "$pd_build/src"
	if [[ -d $pd_src ]]; then
		if [[ ! -d $pd_src/gtests/net/packetdrill ]]; then
			echo "conformance: $pd_src has no gtests/net/packetdrill: not a packetdrill checkout" >&2
			exit 1
		fi
		cp -r "$pd_src/gtests" "$pd_build/src/"
	else
		# A tarball: its one top folder holds gtests/.
		if ! tar -xzf "$pd_src" -C "$pd_build/src" --strip-components=1; then
			echo "conformance: cannot unpack $pd_src" >&2
			exit 1
		fi
	fi
	if [[ ! -f $pd_dir/packetdrill.h ]]; then
		echo "conformance: $pd_src holds no gtests/net/packetdrill/packetdrill.h" >&2
		exit 1
	fi
	printf '%s\n' "$want" >"$stamp"
fi

if [[ ! -x $pd_build/packetdrill ]]; then
	echo "conformance: building packetdrill (log: $pd_build/build.log)"
	if ! (cd "$pd_dir" && ./configure && make -j2 packetdrill) >"$pd_build/build.log" 2>&1; then
		echo "conformance: building packetdrill failed (needs flex and bison); last lines of $pd_build/build.log:" >&2
		tail -20 "$pd_build/build.log" >&2
		exit 1
	fi
	cp "$pd_dir/packetdrill" "$pd_build/packetdrill"
fi

if ! make -s -j2 BUILD="$build" pd-shim; then
	echo "conformance: building the shim failed" >&2
	exit 1
fi

corpora=(--corpus "google=$pd_build/src/gtests/net/tcp")
if [[ -n ${TCP_TESTSUITE_SRC:-} ]]; then
	ts_src=$(abspath "$TCP_TESTSUITE_SRC")
	if [[ ! -e $ts_src ]]; then
		echo "conformance: TCP_TESTSUITE_SRC=$TCP_TESTSUITE_SRC does not exist" >&2
		exit 1
	fi
	ts_dir="$pd_build/tcp-testsuite"
	ts_stamp="$pd_build/.ts-stamp"
	ts_want="$ts_src $(stat -c '%s %Y' "$ts_src")"
	if [[ ! -f $ts_stamp || $(cat "$ts_stamp") != "$ts_want" ]]; then
		rm -rf "$ts_dir"
		mkdir -p "$ts_dir"
		if [[ -d $ts_src ]]; then
			cp -r "$ts_src/." "$ts_dir/"
		elif ! tar -xzf "$ts_src" -C "$ts_dir" --strip-components=1; then
			echo "conformance: cannot unpack $ts_src" >&2
			exit 1
		fi
		printf '%s\n' "$ts_want" >"$ts_stamp"
	fi
	corpora+=(--corpus "freebsd=$ts_dir")
else
	echo "conformance: TCP_TESTSUITE_SRC is not set: FreeBSD's corpus is skipped" \
		"(e.g. TCP_TESTSUITE_SRC=../shared/third_party/tcp-testsuite.tar.gz)"
fi

exec python3 tests/packetdrill/conformance.py --packetdrill "$pd_build/packetdrill" \
	--shim "$pd_build/bluetas_pd.so" --work "$pd_build/run" "${corpora[@]}" "$@"
