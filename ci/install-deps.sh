#!/usr/bin/env bash
# Installs the Debian packages the project builds and tests with, only the
# ones missing. apt-get as root, sudo otherwise; a clear message if neither.
set -euo pipefail

packages=(
	build-essential pkg-config
	dpdk libdpdk-dev
	rdma-core libibverbs-dev librdmacm-dev
	libpcap-dev libcmocka-dev
	# make bench-cg's lwIP harness (built by make test)
	liblwip-dev
	lcov valgrind
	tshark iproute2
	# loss on the interop paths where the kernel lacks sch_netem: nft numgen
	nftables
	netcat-openbsd ethtool python3 procps
	# real programs on the stack (tests/apps, make bench-apps)
	curl redis-server redis-tools iperf3 memcached libmemcached-tools nginx-light
	# tests/apps redis_syscalls_on_stack counts the server's kernel calls
	strace
	# tests/apps fork_relay: socat in fork mode on the stack (fork, dup2, exec)
	socat
	# packetdrill, built from PACKETDRILL_SRC by make conformance
	flex bison
	# the Soft-RoCE suite, part of make test: verbs tools, and qemu with
	# busybox to boot Debian's own kernel where the host kernel has no rdma_rxe
	ibverbs-utils rdmacm-utils perftest kmod qemu-system-x86 busybox-static
	# the fuzz targets (libFuzzer ships in clang's runtime library) and
	# `bluetas plot`
	clang libclang-rt-14-dev gnuplot-nox
	# the aarch64 build (make cross-arm64, part of make test): the cross
	# compiler and qemu's user mode; the arm64 libraries are not installed
	# but unpacked into a sysroot by ci/arm64-sysroot.sh
	crossbuild-essential-arm64 qemu-user-static binutils
	# campaigns (tests/campaign): a single-node Slurm cluster started by the
	# test (ci/slurm-local.sh) and GNU parallel (ci/campaign-parallel.sh)
	slurm-wlm munge parallel
	# the promotion (bluetas promote: ssh, rsync) and its rehearsal, whose
	# stand-in DPU is an sshd of the test's in a network namespace
	openssh-client openssh-server rsync
)

# ---- rxe suite (make test-rxe: ci/rxe-vm.sh, ci/rxe-topology.sh) ----------
# Opt-in, so `make deps` / `make test` never pull in qemu:
#   --rxe      the verbs tools the Soft-RoCE suite runs (enough where the
#              kernel has rdma_rxe: the suite then runs natively)
#   --rxe-vm   those plus qemu and busybox-static, to boot Debian's own
#              kernel under qemu where the host kernel lacks rdma_rxe
#   --ns3      Debian's ns-3 3.37 (ns3, libns3-dev) for make bench-ns3
# The guest kernel itself is not a package install: ci/rxe-vm.sh fetches it
# with `apt-get download` into its cache.
rxe_packages=(rdma-core ibverbs-utils rdmacm-utils perftest iproute2 kmod)
rxe_vm_packages=(qemu-system-x86 busybox-static)
for arg in "$@"; do
	case $arg in
	--rxe) packages+=("${rxe_packages[@]}") ;;
	--ns3) packages+=(ns3 libns3-dev) ;; # make bench-ns3: large, so opt-in
	--rxe-vm) packages+=("${rxe_packages[@]}" "${rxe_vm_packages[@]}") ;;
	*) echo "install-deps: unknown option: $arg (known: --rxe, --rxe-vm, --ns3)" >&2; exit 2 ;;
	esac
done
# ---- end rxe suite --------------------------------------------------------

# One dpkg-query for all of them (one per package took ~4 s, paid at the
# start of every make test-rxe and bench-rxe); a package dpkg does not know
# prints no line and so counts as missing.
declare -A installed=()
while read -r pkg status; do
	if [[ $status == "install ok installed" ]]; then installed[$pkg]=1; fi
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)
missing=()
for pkg in "${packages[@]}"; do
	[[ -n ${installed[$pkg]:-} ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
	exit 0
fi

echo "install-deps: installing missing Debian packages: ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
	as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	as_root=(sudo)
else
	echo "install-deps: need root or passwordless sudo to install: ${missing[*]}" >&2
	echo "install-deps: run as root: apt-get install -y ${missing[*]}" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | "${as_root[@]}" debconf-set-selections 2>/dev/null || true
"${as_root[@]}" apt-get update -qq || { echo "install-deps: apt-get update failed (no package archive reachable?)" >&2; exit 1; }
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
	echo "install-deps: apt-get install failed for: ${missing[*]}" >&2
	exit 1
}
echo "install-deps: done"
