#!/usr/bin/env bash
# Makes an aarch64 sysroot from Debian's arm64 packages, for `make
# cross-arm64`: the -dev packages the project links (libc, cmocka, pcap,
# verbs, rdmacm, DPDK) and everything they depend on, downloaded with
# `apt-get download` and unpacked with `dpkg-deb -x`. Nothing is installed
# on the machine and no root is needed: apt runs on a private state
# directory (build/arm64-apt) with the machine's own sources.list and the
# architecture set to arm64. (libdpdk-dev:arm64 cannot be co-installed
# with the amd64 one through multiarch; unpacking into a sysroot can.)
#
# Cached: a second run with the same package roots and scripts does
# nothing (the stamp SYSROOT/.complete records what it was made from).
#
# usage: ci/arm64-sysroot.sh [SYSROOT]   (default build/arm64-sysroot)
set -euo pipefail
cd "$(dirname "$0")/.."

sysroot=${1:-build/arm64-sysroot}
aptdir=${ARM64_APT_DIR:-$(dirname "$sysroot")/arm64-apt}
roots=(libc6-dev linux-libc-dev libcmocka-dev libpcap-dev libibverbs-dev librdmacm-dev libdpdk-dev)

stamp_want=$(cat ci/arm64-sysroot.sh ci/arm64-closure.py | sha256sum | cut -c1-16)
if [[ -f $sysroot/.complete && $(cat "$sysroot/.complete") == "$stamp_want" ]]; then
	echo "arm64-sysroot: $sysroot is up to date"
	exit 0
fi

t0=$SECONDS
phase() { echo "arm64-sysroot: $1 ($((SECONDS - t0)) s)"; }
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/debs"
: >"$aptdir/status"
aptdir=$(cd "$aptdir" && pwd)
apt_opts=(
	-o "Dir::State=$aptdir" -o "Dir::State::Lists=$aptdir/lists" -o "Dir::State::status=$aptdir/status"
	-o "Dir::Cache=$aptdir/cache" -o "APT::Architecture=arm64" -o "APT::Architectures::=arm64"
	-o "Debug::NoLocking=1" -o "APT::Sandbox::User=root" -q
)

phase "fetching Debian's arm64 package index (private apt state in $aptdir)"
apt-get "${apt_opts[@]}" update >"$aptdir/update.log" 2>&1 || {
	tail -5 "$aptdir/update.log" >&2
	echo "arm64-sysroot: apt-get update for arm64 failed (is a Debian archive reachable? see $aptdir/update.log)" >&2
	exit 1
}
shopt -s nullglob
indexes=("$aptdir"/lists/*_binary-arm64_Packages*)
shopt -u nullglob
[[ ${#indexes[@]} -gt 0 ]] || { echo "arm64-sysroot: no arm64 Packages index in $aptdir/lists" >&2; exit 1; }
/usr/lib/apt/apt-helper cat-file "${indexes[@]}" | python3 ci/arm64-closure.py "${roots[@]}" >"$aptdir/packages.txt"

phase "downloading $(wc -l <"$aptdir/packages.txt") packages"
# Already downloaded .debs of the right version are kept by apt-get download.
(cd "$aptdir/debs" && xargs -a ../packages.txt apt-get "${apt_opts[@]}" download >../download.log 2>&1) || {
	tail -5 "$aptdir/download.log" >&2
	echo "arm64-sysroot: apt-get download failed (see $aptdir/download.log)" >&2
	exit 1
}

phase "unpacking"
tmp=$sysroot.tmp
rm -rf "$tmp"
mkdir -p "$tmp"
# Unpacked in parallel, without what a sysroot never reads: docs, man
# pages, locales, and DPDK's static archives (the build links DPDK shared).
extract() {
	dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --exclude='./usr/share/doc/*' --exclude='./usr/share/man/*' \
		--exclude='./usr/share/locale/*' --exclude='./usr/lib/aarch64-linux-gnu/librte_*.a'
}
export -f extract
# Only the packages of this closure (the cache may hold others).
debs=()
while IFS= read -r name; do
	f=("$aptdir/debs/${name}"_*_arm64.deb "$aptdir/debs/${name}"_*_all.deb)
	for d in "${f[@]}"; do [[ -f $d ]] && debs+=("$d"); done
done <"$aptdir/packages.txt"
printf '%s\n' "${debs[@]}" | xargs -P "$(nproc)" -I{} bash -c 'extract "$1" "$2"' _ {} "$tmp"
# Absolute symlinks (libm.so -> /lib/aarch64-linux-gnu/libm.so.6) would
# point into the build machine's own root: make them relative to the
# sysroot, so the linker and qemu-aarch64 -L find the arm64 files.
while IFS= read -r link; do
	target=$(readlink "$link")
	rel=$(realpath -m --relative-to="$(dirname "$link")" "$tmp$target")
	ln -sfn "$rel" "$link"
done < <(find "$tmp" -type l -lname '/*')
rm -rf "$sysroot"
mv "$tmp" "$sysroot"
echo "$stamp_want" >"$sysroot/.complete"
echo "arm64-sysroot: $sysroot ready ($(du -sh "$sysroot" | cut -f1), $((SECONDS - t0)) s)"
