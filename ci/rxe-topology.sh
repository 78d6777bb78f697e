#!/usr/bin/env bash
# The emu topology on a kernel that has rdma_rxe (natively, or inside the VM
# of ci/rxe-vm.sh): a veth pair bt-host <-> bt-nic with a Soft-RoCE device on
# each end, rxe_host (10.10.0.1/24) and rxe_nic (10.10.0.2/24).
#
#   ci/rxe-topology.sh up [--wire-ns NAME] [--mode auto|netns|single]
#   ci/rxe-topology.sh down
#   ci/rxe-topology.sh status
#   ci/rxe-topology.sh exec host|nic|wire CMD...   run CMD on that side
#
# `up` finds out whether the kernel's rdma_rxe is namespace-aware and says so:
#   netns   each end in its own namespace, bt-hostns and bt-nicns (checked
#           with a real ibv_rc_pingpong across them; single mode if it fails);
#   single  (Debian 6.1/6.12: rxe's UDP socket and route lookups stay in the
#           initial namespace) both ends stay in the initial namespace, and
#           policy routing forces the traffic across the veth pair instead of
#           the local shortcut; a ping checks that the veth counters move.
# --wire-ns NAME also creates the namespace for the NIC daemon's wire peer
# (just the netns; the daemon's driver moves its DPDK tap into it).
# RXE_TOPOLOGY_MODE=netns|single forces a mode like --mode.
#
# What it built is written to /run/bluetas-rxe/topology.env (shell syntax,
# RXE_* variables: mode, devices, interfaces, addresses, namespaces, GID
# indexes), which tests source; `down` removes exactly what `up` made and
# restores the sysctls and the `local` rule it changed. Every command is
# bounded by a timeout (RXE_CMD_TIMEOUT, 15 s). Names can be changed
# through the environment (RXE_HOST_IF, RXE_NIC_IF, RXE_HOST_DEV, RXE_NIC_DEV,
# RXE_HOST_IP, RXE_NIC_IP, RXE_HOST_NS, RXE_NIC_NS). Must run as root.
#
# Few processes on purpose: under qemu's TCG every exec costs 50-200 ms, so
# sysfs and /proc/sys are read and written with shell builtins and the
# routing setup is one `ip -batch`.
set -uo pipefail

HOST_IF=${RXE_HOST_IF:-bt-host}
NIC_IF=${RXE_NIC_IF:-bt-nic}
HOST_DEV=${RXE_HOST_DEV:-rxe_host}
NIC_DEV=${RXE_NIC_DEV:-rxe_nic}
HOST_IP=${RXE_HOST_IP:-10.10.0.1}
NIC_IP=${RXE_NIC_IP:-10.10.0.2}
PREFIX=24
HOST_NS=${RXE_HOST_NS:-bt-hostns}
NIC_NS=${RXE_NIC_NS:-bt-nicns}
PROBE_NS=bt-rxeprobe
PROBE_DEV=bt_rxeprobe
TABLE_TO_NIC=100 # route to NIC_IP out of HOST_IF
TABLE_TO_HOST=101
# ip rule priorities (single mode). The kernel's `local` rule sits at 0; it
# is moved to PRIO_LOCAL, below the rules that force traffic over the veth.
PRIO_IIF=10
PRIO_TO=20
PRIO_LOCAL=30
STATE_DIR=${RXE_STATE_DIR:-/run/bluetas-rxe}
STATE=$STATE_DIR/topology.env
UNDO=$STATE_DIR/undo
T=${RXE_CMD_TIMEOUT:-15} # seconds, per command

me=rxe-topology
t_start=${EPOCHREALTIME/./}
# messages carry the seconds since the script started
say() {
	local us=$((${EPOCHREALTIME/./} - t_start))
	printf '%s: [%d.%02ds] %s\n' "$me" $((us / 1000000)) $((us % 1000000 / 10000)) "$*"
}
err() { echo "$me: error: $*" >&2; }
die() {
	err "$@"
	exit 1
}
# q CMD...: CMD bounded and quiet; its stderr kept in $last_err
last_err=
errf=
q() {
	local rc
	timeout -k 2 "$T" "$@" 2>"$errf" >/dev/null
	rc=$?
	last_err=
	read -r -d '' last_err <"$errf"
	last_err=${last_err%$'\n'}
	[[ $rc -eq 124 ]] && last_err="timed out after ${T}s: $*"
	return $rc
}
# ipb [-n NS] < commands: one bounded `ip -batch`
ipb() { q ip "$@" -batch -; }
# the undo log: "ip ARGS" (run as one batch by down), "rdma ARGS", "sys PATH VALUE"
undo() { printf '%s\n' "$*" >>"$UNDO"; }

usage() {
	sed -n '2,/^set -uo/p' "$0" | sed -e '/^set -uo/d' -e 's/^# \{0,1\}//'
}

need_tools() {
	[[ $(id -u) -eq 0 ]] || die "must run as root (it creates veths, namespaces and rdma links)"
	local t
	for t in ip rdma timeout; do
		command -v "$t" >/dev/null 2>&1 ||
			die "'$t' not found: install iproute2 and coreutils (bash ci/install-deps.sh --rxe)"
	done
}

# rdma_rxe present, loaded by modprobe when it can be.
need_modules() {
	if [[ ! -d /sys/module/rdma_rxe ]]; then
		if ! command -v modprobe >/dev/null 2>&1 || ! q modprobe rdma_rxe; then
			die "rdma_rxe module not available in kernel $(uname -r): run ci/rxe-vm.sh CMD (it boots Debian's kernel in qemu)"
		fi
	fi
	# veth may be built in (no /sys/module/veth then): `ip link add` says
	# so if it is really missing.
	[[ -d /sys/module/veth ]] || ! command -v modprobe >/dev/null 2>&1 || q modprobe veth || true
	# rxe needs the crc32 shash; Debian's kernel does not declare the
	# dependency, and without a working modprobe nothing loads it.
	[[ -d /sys/module/crc32_generic ]] || ! command -v modprobe >/dev/null 2>&1 || q modprobe crc32_generic || true
}

rxe_add() { # ns dev netdev
	local ns=$1 dev=$2 netdev=$3
	local cmd=(rdma link add "$dev" type rxe netdev "$netdev")
	[[ -n $ns ]] && cmd=(ip netns exec "$ns" "${cmd[@]}")
	if ! q "${cmd[@]}"; then
		local hint=
		if [[ ! -d /sys/module/crc32_generic ]]; then
			hint=" (crc32_generic is not loaded: rdma_rxe needs it, 'failed to init crc32 algorithm' in dmesg)"
		fi
		die "'rdma link add $dev type rxe netdev $netdev' failed: ${last_err:-no message}$hint"
	fi
}

# Waits (bounded, 5 s) until the port is ACTIVE (sysfs: "4: ACTIVE").
wait_active() { # dev
	local i s=
	for ((i = 0; i < 50; i++)); do
		read -r s 2>/dev/null <"/sys/class/infiniband/$1/ports/1/state"
		[[ $s == *ACTIVE* ]] && return 0
		sleep 0.1
	done
	die "$1 port did not become ACTIVE within 5 s (state: ${s:-no device in /sys/class/infiniband})"
}

# Index of the RoCEv2 GID holding IPv4 address $2 (::ffff:a.b.c.d), bounded.
# The rdma subsystem is in shared netns mode by default, so /sys/class/
# infiniband shows every device from the initial namespace.
gid_index() { # dev ip
	local dev=$1 ip=$2 want i f g a b c d
	IFS=. read -r a b c d <<<"$ip"
	printf -v want '0000:0000:0000:0000:0000:ffff:%02x%02x:%02x%02x' "$a" "$b" "$c" "$d"
	for ((i = 0; i < 50; i++)); do
		for f in /sys/class/infiniband/"$dev"/ports/1/gids/*; do
			g=
			read -r g 2>/dev/null <"$f"
			if [[ $g == "$want" ]]; then
				echo "${f##*/}"
				return 0
			fi
		done
		sleep 0.1
	done
	err "no GID for $ip on $dev after 5 s"
	return 1
}

# Is rdma_rxe namespace-aware? Add an rxe device on a veth inside a
# throwaway namespace and look where RoCEv2's UDP socket (port 4791) lives:
# in that namespace too (aware), or only in the initial one (Debian 6.1).
# Sets probe_verdict to "aware" or "not-aware: why".
probe_netns() {
	probe_verdict=
	[[ -e /run/netns/$PROBE_NS ]] && q ip netns del "$PROBE_NS"
	if ! q ip netns add "$PROBE_NS"; then
		probe_verdict="not-aware: cannot create a network namespace ($last_err)"
		return
	fi
	if ! ipb -n "$PROBE_NS" <<-EOF; then
		link add bt-probe0 type veth peer name bt-probe1
		link set bt-probe0 up
		link set bt-probe1 up
	EOF
		probe_verdict="not-aware: a veth inside a namespace failed ($last_err)"
	elif ! q ip netns exec "$PROBE_NS" rdma link add "$PROBE_DEV" type rxe netdev bt-probe0; then
		probe_verdict="not-aware: 'rdma link add' inside a namespace failed ($last_err)"
	else
		# 4791 = 0x12B7 in the local address column of /proc/net/udp{,6}
		local udp
		udp=$(timeout -k 2 "$T" ip netns exec "$PROBE_NS" cat /proc/net/udp /proc/net/udp6 2>/dev/null)
		if [[ $udp =~ :12B7[[:space:]] ]]; then
			probe_verdict=aware
		else
			probe_verdict="not-aware: the rxe UDP socket (port 4791) stays in the initial namespace"
		fi
		q rdma link delete "$PROBE_DEV"
	fi
	q ip netns del "$PROBE_NS"
}

setsys() { # key(a/b/c) value: remembers the old value for down
	local f=/proc/sys/$1 old
	read -r old 2>/dev/null <"$f" || die "sysctl ${1//\//.} not readable"
	undo "sys $f $old"
	echo "$2" 2>/dev/null >"$f" || die "cannot set sysctl ${1//\//.} to $2"
}

counter() { local v; read -r v <"/sys/class/net/$1/statistics/$2"; echo "$v"; }

up_single() {
	# ARP, reverse-path and local-source checks between two addresses of
	# the same host, each end seeing its own address as a sender
	setsys net/ipv4/conf/all/rp_filter 0
	local i
	for i in "$HOST_IF" "$NIC_IF"; do
		setsys "net/ipv4/conf/$i/rp_filter" 0
		setsys "net/ipv4/conf/$i/accept_local" 1
		setsys "net/ipv4/conf/$i/arp_ignore" 1
	done
	# Packets arriving on either end are delivered locally; packets to the
	# other end's address leave through the veth; the local rule moves
	# below these (added at PRIO_LOCAL before the one at 0 goes, so there
	# is no moment without one).
	local move_local=0
	if [[ $(timeout 5 ip rule show pref 0 2>/dev/null) == *"lookup local"* ]]; then
		move_local=1
	else
		say "note: no 'local' rule at priority 0 (moved already?): the rule list is left as it is"
	fi
	undo "ip rule del pref $PRIO_IIF iif $HOST_IF lookup local"
	undo "ip rule del pref $PRIO_IIF iif $NIC_IF lookup local"
	undo "ip route flush table $TABLE_TO_NIC"
	undo "ip route flush table $TABLE_TO_HOST"
	undo "ip rule del pref $PRIO_TO to $NIC_IP lookup $TABLE_TO_NIC"
	undo "ip rule del pref $PRIO_TO to $HOST_IP lookup $TABLE_TO_HOST"
	if [[ $move_local == 1 ]]; then
		undo "ip rule del pref $PRIO_LOCAL lookup local"
		undo "ip rule add pref 0 lookup local"
	fi
	ipb <<-EOF || die "setting up the addresses and the policy routing failed: $last_err"
		addr add $HOST_IP/$PREFIX dev $HOST_IF
		addr add $NIC_IP/$PREFIX dev $NIC_IF
		link set $HOST_IF up
		link set $NIC_IF up
		rule add pref $PRIO_IIF iif $HOST_IF lookup local
		rule add pref $PRIO_IIF iif $NIC_IF lookup local
		route add $NIC_IP dev $HOST_IF src $HOST_IP table $TABLE_TO_NIC
		route add $HOST_IP dev $NIC_IF src $NIC_IP table $TABLE_TO_HOST
		rule add pref $PRIO_TO to $NIC_IP lookup $TABLE_TO_NIC
		rule add pref $PRIO_TO to $HOST_IP lookup $TABLE_TO_HOST
		$([[ $move_local == 1 ]] && printf 'rule add pref %s lookup local\nrule del pref 0 lookup local' $PRIO_LOCAL)
	EOF

	rxe_add "" "$HOST_DEV" "$HOST_IF"
	undo "rdma link delete $HOST_DEV"
	rxe_add "" "$NIC_DEV" "$NIC_IF"
	undo "rdma link delete $NIC_DEV"

	# Proof that traffic between the two addresses crosses the veth.
	local p=()
	if command -v ping >/dev/null 2>&1; then
		p=(ping)
	elif command -v busybox >/dev/null 2>&1; then
		p=(busybox ping)
	else
		say "warning: no ping (iputils-ping or busybox): veth crossing not checked here"
		return 0
	fi
	local h0 n0 h1 n1
	h0=$(counter "$HOST_IF" tx_packets) n0=$(counter "$NIC_IF" tx_packets)
	q "${p[@]}" -c 3 -i 0.2 -W 2 -I "$HOST_IP" "$NIC_IP" ||
		die "ping $HOST_IP -> $NIC_IP failed: the policy routing does not work here ($last_err)"
	h1=$(counter "$HOST_IF" tx_packets) n1=$(counter "$NIC_IF" tx_packets)
	if ((h1 - h0 < 3 || n1 - n0 < 3)); then
		die "ping $HOST_IP -> $NIC_IP did not cross the veth ($HOST_IF tx +$((h1 - h0)), $NIC_IF tx +$((n1 - n0)) packets): the traffic took the local shortcut"
	fi
	say "veth crossing checked: ping $HOST_IP -> $NIC_IP: $HOST_IF tx +$((h1 - h0)), $NIC_IF tx +$((n1 - n0)) packets"
}

up_netns() {
	undo "ip netns del $HOST_NS"
	undo "ip netns del $NIC_NS"
	ipb <<-EOF || die "creating $HOST_NS/$NIC_NS and moving the veth ends failed: $last_err"
		netns add $HOST_NS
		netns add $NIC_NS
		link set $HOST_IF netns $HOST_NS
		link set $NIC_IF netns $NIC_NS
	EOF
	ipb -n "$HOST_NS" <<-EOF || die "configuring $HOST_IF in $HOST_NS failed: $last_err"
		link set lo up
		addr add $HOST_IP/$PREFIX dev $HOST_IF
		link set $HOST_IF up
	EOF
	ipb -n "$NIC_NS" <<-EOF || die "configuring $NIC_IF in $NIC_NS failed: $last_err"
		link set lo up
		addr add $NIC_IP/$PREFIX dev $NIC_IF
		link set $NIC_IF up
	EOF
	# deleting the namespaces deletes the veth and, with it, the rxe devices
	rxe_add "$HOST_NS" "$HOST_DEV" "$HOST_IF"
	undo "rdma link delete $HOST_DEV"
	rxe_add "$NIC_NS" "$NIC_DEV" "$NIC_IF"
	undo "rdma link delete $NIC_DEV"
}

# A real exchange across the namespaces (the structural probe could be
# wrong about a kernel not seen yet): ibv_rc_pingpong, 10 iterations, bounded.
verify_netns() {
	if ! command -v ibv_rc_pingpong >/dev/null 2>&1; then
		say "note: ibv_rc_pingpong missing (ibverbs-utils): cross-namespace exchange not verified"
		return 0
	fi
	local hg ng spid ok=0 i
	hg=$(gid_index "$HOST_DEV" "$HOST_IP") && ng=$(gid_index "$NIC_DEV" "$NIC_IP") || return 1
	timeout -k 2 20 ip netns exec "$NIC_NS" ibv_rc_pingpong -d "$NIC_DEV" -g "$ng" -n 10 -p 18599 >/dev/null 2>&1 &
	spid=$!
	for ((i = 0; i < 10; i++)); do
		sleep 0.3
		if timeout -k 2 15 ip netns exec "$HOST_NS" ibv_rc_pingpong -d "$HOST_DEV" -g "$hg" -n 10 -p 18599 "$NIC_IP" >/dev/null 2>&1; then
			ok=1
			break
		fi
		kill -0 "$spid" 2>/dev/null || break
	done
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	[[ $ok == 1 ]]
}

write_state() { # mode aware
	local mode=$1 aware=$2 hns='' nns='' hg ng
	[[ $mode == netns ]] && hns=$HOST_NS nns=$NIC_NS
	wait_active "$HOST_DEV"
	wait_active "$NIC_DEV"
	hg=$(gid_index "$HOST_DEV" "$HOST_IP") || exit 1
	ng=$(gid_index "$NIC_DEV" "$NIC_IP") || exit 1
	cat >"$STATE" <<-EOF
		# written by ci/rxe-topology.sh up, kernel $(uname -r)
		RXE_MODE=$mode
		RXE_NETNS_AWARE=$aware
		RXE_HOST_DEV=$HOST_DEV
		RXE_NIC_DEV=$NIC_DEV
		RXE_HOST_IF=$HOST_IF
		RXE_NIC_IF=$NIC_IF
		RXE_HOST_IP=$HOST_IP
		RXE_NIC_IP=$NIC_IP
		RXE_HOST_NS=$hns
		RXE_NIC_NS=$nns
		RXE_HOST_GID_INDEX=$hg
		RXE_NIC_GID_INDEX=$ng
		RXE_WIRE_NS=${wire_ns:-}
	EOF
	say "up: mode $mode: $HOST_DEV on $HOST_IF $HOST_IP${hns:+ (netns $hns)}, gid index $hg <-> $NIC_DEV on $NIC_IF $NIC_IP${nns:+ (netns $nns)}, gid index $ng${wire_ns:+; wire peer netns $wire_ns}"
	say "state: $STATE"
}

veth_add() {
	q ip link add "$HOST_IF" type veth peer name "$NIC_IF" ||
		die "ip link add $HOST_IF type veth peer name $NIC_IF failed (no veth in this kernel?): $last_err"
	undo "ip link del $HOST_IF"
}

cmd_up() {
	local mode=auto forced=0
	wire_ns=
	while [[ $# -gt 0 ]]; do
		case $1 in
		--wire-ns) wire_ns=${2:?--wire-ns needs a name}; shift 2 ;;
		--wire-ns=*) wire_ns=${1#*=}; shift ;;
		--mode) mode=${2:?--mode needs auto, netns or single}; shift 2 ;;
		--mode=*) mode=${1#*=}; shift ;;
		*) die "up: unknown option '$1' (known: --wire-ns NAME, --mode auto|netns|single)" ;;
		esac
	done
	mode=${RXE_TOPOLOGY_MODE:-$mode}
	case $mode in auto) ;; netns | single) forced=1 ;; *) die "--mode must be auto, netns or single, not '$mode'" ;; esac
	need_tools
	need_modules
	mkdir -p "$STATE_DIR" || die "cannot create $STATE_DIR"
	if [[ -e $STATE || -e $UNDO || -e /sys/class/net/$HOST_IF ]]; then
		say "a previous topology is still there: removing it first"
		cmd_down >/dev/null
		mkdir -p "$STATE_DIR"
	fi
	: >"$UNDO"
	trap 'rc=$?; if [[ $rc -ne 0 ]]; then err "up failed: undoing what was made"; cmd_down >/dev/null 2>&1; fi; rm -f "$errf"' EXIT

	local aware
	probe_netns
	# test hook: RXE_TOPOLOGY_PROBE=aware|not-aware overrides the verdict
	[[ -n ${RXE_TOPOLOGY_PROBE:-} ]] && probe_verdict=${RXE_TOPOLOGY_PROBE/#not-aware/not-aware: RXE_TOPOLOGY_PROBE says so}
	if [[ $probe_verdict == aware ]]; then
		aware=1
		say "kernel $(uname -r): rdma_rxe is namespace-aware (its UDP socket follows the netdev's namespace)"
	else
		aware=0
		say "kernel $(uname -r): rdma_rxe is NOT namespace-aware (${probe_verdict#not-aware: })"
	fi
	if [[ $mode == auto ]]; then
		if [[ $aware == 1 ]]; then mode=netns; else mode=single; fi
	elif [[ $mode == netns && $aware == 0 ]]; then
		say "warning: netns mode forced on a kernel that does not look namespace-aware"
	fi

	veth_add
	if [[ $mode == netns ]]; then
		say "netns mode: $HOST_IF in $HOST_NS, $NIC_IF in $NIC_NS"
		up_netns
		wait_active "$HOST_DEV"
		wait_active "$NIC_DEV"
		if verify_netns; then
			say "cross-namespace RDMA verified (ibv_rc_pingpong $HOST_NS -> $NIC_NS)"
		else
			[[ $forced == 1 ]] && die "ibv_rc_pingpong across $HOST_NS/$NIC_NS failed and netns mode was forced"
			say "ibv_rc_pingpong across $HOST_NS/$NIC_NS failed: falling back to single mode"
			aware=0
			cmd_down >/dev/null
			mkdir -p "$STATE_DIR"
			: >"$UNDO"
			veth_add
			mode=single
		fi
	fi
	if [[ $mode == single ]]; then
		say "single mode: both ends in the initial namespace, policy routing forces $HOST_IP <-> $NIC_IP over $HOST_IF <-> $NIC_IF"
		up_single
	fi

	if [[ -n $wire_ns ]]; then
		undo "ip netns del $wire_ns"
		q ip netns add "$wire_ns" || die "ip netns add $wire_ns: $last_err"
		q ip -n "$wire_ns" link set lo up || true
		say "wire peer namespace $wire_ns created (empty: the daemon's driver moves its tap into it)"
	fi
	write_state "$mode" "$aware"
}

cmd_down() {
	[[ $(id -u) -eq 0 ]] || die "must run as root"
	local n=0 line kind rest ipcmds=() rdmacmds=() syscmds=()
	if [[ -s $UNDO ]]; then
		while IFS= read -r line; do # newest first
			kind=${line%% *} rest=${line#* }
			case $kind in
			ip) ipcmds+=("$rest") ;;
			rdma) rdmacmds+=("$rest") ;;
			sys) syscmds+=("$rest") ;;
			esac
		done < <(tac "$UNDO")
	fi
	for line in "${rdmacmds[@]}"; do
		# shellcheck disable=SC2086
		q rdma $line && n=$((n + 1))
	done
	if [[ ${#ipcmds[@]} -gt 0 ]]; then
		printf '%s\n' "${ipcmds[@]}" | timeout -k 2 "$T" ip -force -batch - >/dev/null 2>&1
		n=$((n + ${#ipcmds[@]}))
	fi
	for line in "${syscmds[@]}"; do
		echo "${line#* }" 2>/dev/null >"${line%% *}" && n=$((n + 1))
	done
	# Whatever is left by name (state lost with /run, an interrupted up).
	local d ns
	for d in "$HOST_DEV" "$NIC_DEV" "$PROBE_DEV"; do
		[[ -e /sys/class/infiniband/$d ]] && q rdma link delete "$d" && n=$((n + 1))
	done
	[[ -e /sys/class/net/$HOST_IF ]] && q ip link del "$HOST_IF" && n=$((n + 1))
	for ns in "$HOST_NS" "$NIC_NS" "$PROBE_NS"; do
		[[ -e /run/netns/$ns ]] && q ip netns del "$ns" && n=$((n + 1))
	done
	rm -f "$STATE" "$UNDO"
	say "down: removed ($n steps)"
}

cmd_status() {
	if [[ ! -r $STATE ]]; then
		say "no topology (no $STATE)"
		return 1
	fi
	cat "$STATE"
	timeout 5 rdma link show 2>&1
	return 0
}

cmd_exec() {
	local side=${1:-}
	shift || true
	[[ $# -gt 0 ]] || die "exec: usage: exec host|nic|wire CMD..."
	[[ -r $STATE ]] || die "no topology: run '$0 up' first"
	# shellcheck disable=SC1090
	source "$STATE"
	local ns
	case $side in
	host) ns=$RXE_HOST_NS ;;
	nic) ns=$RXE_NIC_NS ;;
	wire)
		ns=$RXE_WIRE_NS
		[[ -n $ns ]] || die "exec wire: no wire namespace (up --wire-ns NAME)"
		;;
	*) die "exec: side must be host, nic or wire, not '$side'" ;;
	esac
	if [[ -n $ns ]]; then exec ip netns exec "$ns" "$@"; else exec "$@"; fi
}

errf=$(mktemp "${TMPDIR:-/tmp}/rxe-topology.XXXXXX") || die "mktemp failed"
trap 'rm -f "$errf"' EXIT
case ${1:-} in
up) shift; cmd_up "$@" ;;
down) shift; cmd_down ;;
status) shift; cmd_status ;;
exec) shift; rm -f "$errf"; cmd_exec "$@" ;;
-h | --help | help) usage ;;
*) usage >&2; exit 2 ;;
esac
