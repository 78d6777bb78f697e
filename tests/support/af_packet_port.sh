# shellcheck shell=bash
# tests/support/af_packet_port.sh: sourced by the suites and benches that
# run `bluetas nic` against Linux (interop, apps, bench-tap, bench-apps,
# and the Soft-RoCE suite and bench-rxe through tests/rxe/lib.sh).
#
# The daemon's default port there is DPDK net_af_packet on one end of a veth
# pair, Linux on the other: PACKET_MMAP rings, so no system call per frame
# (net_tap makes one read or write per frame; docs/benchmarks.md has the
# figures).
#
# af_packet_veth NS LINUX_END DAEMON_END: makes the veth pair in network
# namespace NS, both ends up, no address (the caller gives LINUX_END the
# peer address). Linux's end sends no TSO/GSO super-frames (af_packet's ring
# frames hold 2 KiB: a 64 KiB frame would arrive cut short) and keeps TX
# checksum offload (the daemon completes the PARTIAL sums, automatic for
# net_af_packet); the daemon's end does no GRO. Prints the --vdev to use.
# On failure says what is missing on stderr and returns 1.
af_packet_veth() {
	local ns=$1 lk=$2 dk=$3
	if ! ip -n "$ns" link add "$lk" type veth peer name "$dk" 2>/dev/null; then
		echo "af_packet_veth: cannot create a veth pair $lk/$dk in $ns (kernel without CONFIG_VETH? names over 15 characters?)" >&2
		return 1
	fi
	if ! command -v ethtool >/dev/null; then
		echo "af_packet_veth: needs ethtool to turn TSO/GSO off on $lk (apt-get install ethtool)" >&2
		return 1
	fi
	if ! ip netns exec "$ns" ethtool -K "$lk" tso off gso off >/dev/null 2>&1; then
		echo "af_packet_veth: ethtool -K $lk tso off gso off failed: af_packet would see 64 KiB frames" >&2
		return 1
	fi
	ip netns exec "$ns" ethtool -K "$dk" gro off >/dev/null 2>&1
	ip -n "$ns" link set "$dk" up && ip -n "$ns" link set "$lk" up || return 1
	af_packet_vdev "$dk"
}

# af_packet_vdev IFACE: the --vdev for net_af_packet on IFACE. 4096 ring
# frames each way (the PMD's default is 512): a 1 MiB window is over 700
# frames in flight, and a full ring drops silently (DPDK 22.11's af_packet
# counts no imissed), which the interop capture check saw as "previous
# segment not captured".
af_packet_vdev() {
	echo "net_af_packet0,iface=$1,framecnt=4096"
}
