#!/usr/bin/env bash
# The promotion rehearsal: `bluetas promote` end to end against a stand-in
# DPU, and a failure injected at each step (docs/hardware.md, "Promotion
# rehearsed here").
#
# The stand-in DPU is an sshd of ours (Debian's openssh-server) in a
# network namespace made here, on 10.251.N.2/29 across a veth from
# 10.251.N.1 (.5 plays the unreachable DPU), with a throw-away host key and
# an authorized key generated in a temp dir. Everything of the promotion
# runs for real: ssh with a ControlMaster, rsync of a copy of this tree,
# make on the "DPU", the DPU's
# preflight (on the BlueField-2 fixture tree), the daemon started there,
# `bluetas app` here against it, the scenario suite there and here, fetch,
# report, stop. Only mlx5 is replaced by emu backends: the daemon's port
# is DPDK net_af_packet on a veth named like the card's SF netdev
# (enp3s0f0s0) whose other end is the wire peer (Linux, 10.252.0.1, an echo
# server); the channel is ipc (a Unix socket path is reachable across
# namespaces: the file system is shared) instead of verbs over mlx5.
#
# The remote build is incremental, honestly: the "DPU"'s tree is seeded as
# a previous promotion of this tree leaves it (the sources, and build/ with
# this build's objects; rsync -a keeps the sources' mtimes, so make finds
# them up to date), so rsync and make run for real but move and compile
# only what changed; the injected build failure changes one source and
# fails in the compiler. A first promotion copies 7 MB and builds
# everything: about 2 min here under load, so not in this test.
#
# Output is cmocka-shaped (counted by tests/run-tests.sh; PROMOTE=0 skips
# it there; `make test-promote` runs it alone). Needs root (netns, sshd);
# without root or sshd it prints "[  SKIPPED ]" and exits 0. Every promote
# run is bounded by `timeout`; a trap removes the namespace and stops
# every process this script started.
set -u
build=${1:-build}
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/support/netns_lock.sh
source tests/support/netns_lock.sh
netns_lock_take
root=$PWD
B=$PWD/$build/bluetas
F=tests/fixtures/preflight

skip() {
	echo "[  SKIPPED ] promote rehearsal: $*"
	echo "[==========] promote: 0 test(s) run."
	echo "[  PASSED  ] 0 test(s)."
	exit 0
}
if [[ ! -x $B ]]; then
	echo "promote: $B not built"
	echo "[  FAILED  ] 1 test(s), listed below:"
	exit 1
fi
[[ $(id -u) == 0 ]] || skip "needs root (network namespace, sshd)"
for t in /usr/sbin/sshd ssh ssh-keygen rsync python3 ethtool; do
	command -v "$t" >/dev/null 2>&1 || skip "$t missing (ci/install-deps.sh installs openssh-server, rsync)"
done

t_start=${EPOCHREALTIME/./}
n=$(($$ % 250 + 1))
ns=btpromo$$
vh=bp$$h
vd=bp$$d
host_ip=10.251.$n.1
dpu_ip=10.251.$n.2
gone_ip=10.251.$n.5
peer_ip=10.252.0.1
peer_mac=02:00:00:fc:00:01
stack_ip=10.252.0.2
echo_port=7007
tmp=$(mktemp -d /tmp/bt-promote-test.XXXXXX)
dpu=$tmp/dpu/bluetas
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.2
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	if ip netns list 2>/dev/null | grep -qw "$ns"; then
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	fi
	ip link del "$vh" 2>/dev/null
	chattr -i "$dpu/README.md" 2>/dev/null
	[[ ${PROMOTE_KEEP:-0} == 1 ]] && echo "promote: kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

note() { echo "promote: $*"; }
in_ns() { ip netns exec "$ns" "$@"; }

# ---- the stand-in DPU -------------------------------------------------------
ip netns add "$ns" || skip "cannot create a network namespace"
ip link add "$vh" type veth peer name "$vd" &&
	ip link set "$vd" netns "$ns" &&
	ip addr add "$host_ip/29" dev "$vh" && ip link set "$vh" up &&
	in_ns ip addr add "$dpu_ip/29" dev "$vd" && in_ns ip link set "$vd" up && in_ns ip link set lo up ||
	{ note "cannot set up the management veth"; exit 1; }
# The wire: the daemon's port (af_packet on enp3s0f0s0) and the peer.
in_ns ip link add enp3s0f0s0 type veth peer name btwire0 &&
	in_ns ip link set btwire0 address "$peer_mac" &&
	in_ns ip addr add "$peer_ip/24" dev btwire0 &&
	in_ns ip link set btwire0 up && in_ns ip link set enp3s0f0s0 up ||
	{ note "cannot set up the wire veth"; exit 1; }
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
# af_packet reads frames as the kernel has them: no TSO/GSO super-frames.
in_ns ethtool -K btwire0 tso off gso off >/dev/null 2>&1
in_ns ethtool -K enp3s0f0s0 gro off >/dev/null 2>&1

in_ns timeout 900 python3 tests/rxe/echo_server.py "$echo_port" --addr "$peer_ip" --timeout-s 880 \
	>"$tmp/echo.out" 2>&1 &
echo_pid=$!
pids+=("$echo_pid")

ssh-keygen -q -t ed25519 -N '' -C promote-rehearsal-host -f "$tmp/host_key" &&
	ssh-keygen -q -t ed25519 -N '' -C promote-rehearsal-user -f "$tmp/id_ed25519" || { note "ssh-keygen failed"; exit 1; }
cp "$tmp/id_ed25519.pub" "$tmp/authorized_keys"
cat >"$tmp/sshd_config" <<EOF
ListenAddress $dpu_ip
HostKey $tmp/host_key
AuthorizedKeysFile $tmp/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $tmp/sshd.pid
MaxStartups 50
MaxSessions 50
LogLevel ERROR
EOF
cat >"$tmp/ssh_config" <<EOF
Host $dpu_ip
    IdentityFile $tmp/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $tmp/known_hosts
    StrictHostKeyChecking yes
Host *
    UserKnownHostsFile $tmp/known_hosts
    IdentityFile $tmp/id_ed25519
    IdentitiesOnly yes
EOF
echo "$dpu_ip $(cut -d' ' -f1,2 "$tmp/host_key.pub")" >"$tmp/known_hosts"
mkdir -p /run/sshd
in_ns /usr/sbin/sshd -D -f "$tmp/sshd_config" -E "$tmp/sshd.log" &
sshd_pid=$!
pids+=("$sshd_pid")
for _ in $(seq 100); do
	ssh -F "$tmp/ssh_config" -o BatchMode=yes -o ConnectTimeout=2 "root@$dpu_ip" true 2>/dev/null && break
	sleep 0.1
done
ssh -F "$tmp/ssh_config" -o BatchMode=yes -o ConnectTimeout=2 "root@$dpu_ip" true ||
	{ note "the stand-in DPU's sshd does not answer"; cat "$tmp/sshd.log"; exit 1; }

# The tree to promote: a copy (the build failure is injected into it),
# with its mtimes; the DPU's build/ seeded with this build's objects.
rsync -a --exclude=/build/ --exclude='/build-*/' ./ "$tmp/src/" || { note "cannot copy the tree"; exit 1; }
# The DPU as a previous promotion of this tree left it: the sources (rsync
# then only compares mtimes and sizes) and the objects of their build.
mkdir -p "$dpu" && rsync -a --exclude=/.git/ "$tmp/src/" "$dpu/" || { note "cannot seed the DPU's tree"; exit 1; }
mkdir -p "$dpu/build"
for d in bluetas libbluetas.a libbluetas_verbs.a core transports sim hw; do
	[[ -e $build/$d ]] && cp -a "$build/$d" "$dpu/build/"
done

cat >"$tmp/rehearsal.hosts" <<EOF
# The stand-in DPU of tests/promote/run.sh: the BlueField-2 DPU-mode
# fixture's devices, reached over ssh in a network namespace.
[host]
rdma_dev = auto
ip       = 192.168.50.1
mtu      = 9000
peer_ip  = 192.168.50.2

[dpu]
addr     = $dpu_ip
ssh      = root@$dpu_ip
devargs  = 0000:03:00.0
rdma_dev = auto
netdev   = enp3s0f0s0
ip       = 192.168.50.2
wire_ip  = $stack_ip/24
peer_ip  = $peer_ip
arp_seed = $peer_ip $peer_mac
EOF
# What runs in the namespace before any promotion: sshd's listener and the
# wire peer (with their wrappers); anything else afterwards is a leak.
baseline=$(ip netns pids "$ns" | tr '\n' ' ')
note "stand-in DPU root@$dpu_ip in $ns ready after $(((${EPOCHREALTIME/./} - t_start) / 1000)) ms"

# ---- running promote ---------------------------------------------------------
mkdir -p "$tmp/t"
# promote HOSTS OUT [ARGS...]: one bounded run; sets out (stdout+stderr), rc.
promote() {
	local hosts=$1 o=$2
	shift 2
	# no --stack-ip: the daemon's address comes from [dpu] wire_ip
	out=$(TMPDIR=$tmp/t timeout -k 5 300 "$B" promote --hosts "$hosts" \
		--src "$tmp/src" --remote-dir "$dpu" --out "$o" --ssh-config "$tmp/ssh_config" \
		--connect-timeout-s 3 --jobs 2 --channel "ipc:$tmp/dpu/nic.sock" \
		--port-vdev "net_af_packet0,iface=enp3s0f0s0" --peer-port "$echo_port" --daemon-max-s 60 \
		--host-sysroot "$F/bf2-dpu-host" --dpu-sysroot "$F/bf2-dpu-arm" \
		--scenarios "scenarios/send_deadlock.scn scenarios/mr_overflow.scn" --seeds 1..1 "$@" 2>&1)
	rc=$?
}

pass=0
failed=()
matches() {
	local line
	while IFS= read -r line; do [[ $line =~ $2 ]] && return 0; done <<<"$1"
	return 1
}
# verdict NAME WANT_RC PATTERN...: the last promote run exited WANT_RC and
# its output matches every regex (a leading ! must not match).
verdict() {
	local name=$1 want=$2 ok=1 why="" p
	shift 2
	[[ $rc == "$want" ]] || { ok=0; why="exit $rc, want $want"; }
	for p in "$@"; do
		if [[ $p == !* ]]; then
			matches "$out" "${p#!}" && { ok=0; why+=" unexpected /${p#!}/"; }
		else
			matches "$out" "$p" || { ok=0; why+=" missing /$p/"; }
		fi
	done
	record "$name" "$ok" "$why" "$out"
}
record() {
	if [[ $2 == 1 ]]; then
		echo "[       OK ] $1"
		pass=$((pass + 1))
	else
		echo "[  FAILED  ] $1:$3"
		[[ -n ${4:-} ]] && printf '%s\n' "$4" | tail -40 | sed 's/^/    | /'
		failed+=("$1")
	fi
}
# nothing_left NAME: no process of the run is left: in the namespace only
# sshd's listener and the wire peer, no ssh master here, the private temp
# dir removed. sshd's session processes end right after the master: bounded.
nothing_left() {
	local extra="" i p
	for ((i = 0; i < 50; i++)); do
		extra=""
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			[[ " $baseline " == *" $p "* ]] && continue
			extra+=" $p:$(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null | cut -c1-60)"
		done
		for p in $(pgrep -f "$tmp/t/bt-promote" 2>/dev/null); do extra+=" ssh-master:$p"; done
		[[ -z $extra && -z $(ls -A "$tmp/t") ]] && break
		sleep 0.1
	done
	[[ -n $(ls -A "$tmp/t") ]] && extra+=" temp:$(ls -A "$tmp/t")"
	record "$1: nothing left running" "$([[ -z $extra ]] && echo 1 || echo 0)" " left:$extra"
	# Do not let one leak spoil the next case.
	for p in $(pgrep -f "$tmp/t/bt-promote" 2>/dev/null); do kill -KILL "$p"; done
	rm -rf "${tmp:?}/t/"*
}

H=$tmp/rehearsal.hosts
D="root@$dpu_ip"

# 1. preflight FAIL here (the BlueField-2 in NIC mode): stops before ssh.
promote "$H" "$tmp/o1" --host-sysroot "$F/bf2-nic-host"
verdict "preflight-host FAIL stops the run" 1 "step preflight-host on this host failed: preflight found a FAIL" \
	'FAIL  mode +BlueField-2 in NIC mode' '!promote: connect'
nothing_left "preflight-host FAIL"

# 2. unreachable DPU: an address of the management subnet that nobody has
# (ARP gets no answer; nothing leaves our veth).
sed "s/^ssh .*/ssh      = root@$gone_ip/" "$H" >"$tmp/unreach.hosts"
promote "$tmp/unreach.hosts" "$tmp/o2"
verdict "unreachable DPU: the connect step names the host" 1 \
	"step connect on root@$gone_ip failed: ssh to root@$gone_ip failed \(exit 255" '!promote: sync'
nothing_left "unreachable DPU"

# 3. the whole promotion.
promote "$H" "$tmp/ok"
verdict "promotion passes end to end" 0 'promote: build +ok' 'promote: preflight-dpu +ok' 'promote: checks +ok' \
	'promote: fetch +ok' "report $tmp/ok/report.txt: PASS"
r=$(cat "$tmp/ok/report.txt" 2>/dev/null)
d=$(cat "$tmp/ok/dpu/daemon.out" 2>/dev/null)
ok=1 why=""
for p in '^verdict: PASS' '^  e2e/echo-4conns +PASS +- +one side' '^  e2e/echo-64k +PASS' \
	'^  scenario send_deadlock seed 1 +PASS +PASS +same' '^  scenario mr_overflow seed 1 +PASS +PASS +same' \
	'^  stop +ok' "^dpu: +$D \\(x86_64\\)" 'stat.daemon.apps_attached=2'; do
	matches "$r" "$p" || { ok=0; why+=" report lacks /$p/"; }
done
record "the report compares hw and emu verdicts" "$ok" "$why" "$r"
ok=1 why=""
matches "$d" '^ready port=0 name=net_af_packet0' || { ok=0; why+=" no ready line"; }
matches "$d" '^stat.daemon.apps_detached=2$' || { ok=0; why+=" apps_detached"; }
[[ $(grep -c '^stat\.' <<<"$d") -gt 20 ]] || { ok=0; why+=" few stat lines"; }
[[ $(stat -c %s "$tmp/ok/dpu/daemon.pcap" 2>/dev/null || echo 0) -gt 1000 ]] || { ok=0; why+=" pcap empty"; }
grep -q '^# ethtool -S enp3s0f0s0' "$tmp/ok/dpu/counters.txt" 2>/dev/null &&
	grep -q 'peer_ifindex' "$tmp/ok/dpu/counters.txt" || { ok=0; why+=" no port counters"; }
[[ $(cat "$tmp/ok/dpu/daemon.rc" 2>/dev/null) == 0 ]] || { ok=0; why+=" daemon exit $(cat "$tmp/ok/dpu/daemon.rc" 2>/dev/null)"; }
grep -q '"result":"PASS"' "$tmp/ok/emu/scenarios.jsonl" 2>/dev/null || { ok=0; why+=" no emu results"; }
record "fetched: daemon stats, pcap, port counters, results" "$ok" "$why" "$d"
nothing_left "promotion"

# 4. a failed build on the DPU (one source broken in the tree promoted).
victim=core/proto/checksum.c
cp -a "$tmp/src/$victim" "$tmp/victim.c"
echo '#error "promote rehearsal: injected build failure"' >>"$tmp/src/$victim"
promote "$H" "$tmp/o4"
verdict "failed build: the build step names the host and the error" 1 \
	"step build on $D failed: make build/bluetas exited 2" 'injected build failure' '!promote: preflight-dpu'
cp -a "$tmp/victim.c" "$tmp/src/$victim"
nothing_left "failed build"

# 5. preflight FAIL on the DPU (a tree without mlx5): no daemon started.
promote "$H" "$tmp/o5" --dpu-sysroot "$F/no-mlx5"
verdict "preflight-dpu FAIL stops the run" 1 "step preflight-dpu on $D failed: preflight found a FAIL" \
	'FAIL  pci +no Mellanox/NVIDIA PCI function found' '!promote: daemon'
nothing_left "preflight-dpu FAIL"

# 6. the daemon crashes (SIGSEGV) once ready, while the checks run.
rm -f "$dpu/build/promote/daemon."*
(
	for _ in $(seq 600); do
		if grep -qs '^ready ' "$dpu/build/promote/daemon.out" && [[ -s $dpu/build/promote/daemon.pid ]]; then
			kill -SEGV "$(cat "$dpu/build/promote/daemon.pid")"
			exit 0
		fi
		sleep 0.02
	done
) &
killer=$!
pids+=("$killer")
promote "$H" "$tmp/o6"
wait "$killer" 2>/dev/null
verdict "daemon crash: the checks step says it died and how" 1 \
	"step checks on $D failed: the daemon died during the checks \(killed by signal 11" '!promote: fetch +ok'
grep -q '^verdict: FAIL (a step failed)' "$tmp/o6/report.txt" 2>/dev/null
record "daemon crash: the report is still written, with the failure" "$([[ $? == 0 ]] && echo 1 || echo 0)" "" \
	"$(cat "$tmp/o6/report.txt" 2>/dev/null)"
nothing_left "daemon crash"

# 7. rsync fails: a file of the DPU's copy is immutable (chattr +i stops
# root too) and the tree has a newer one.
cp -a "$tmp/src/README.md" "$tmp/readme.keep"
echo "promote rehearsal" >>"$tmp/src/README.md"
if chattr +i "$dpu/README.md" 2>/dev/null; then
	promote "$H" "$tmp/o7"
	chattr -i "$dpu/README.md"
	verdict "rsync failure: the sync step names the host" 1 \
		"step sync on $D failed: rsync of $tmp/src/ to $D:$dpu/ exited 23" 'Operation not permitted' '!promote: build'
	nothing_left "rsync failure"
else
	echo "[  SKIPPED ] rsync failure: chattr +i not supported on $(df -T "$tmp" | awk 'NR==2 {print $2}')"
fi
cp -a "$tmp/readme.keep" "$tmp/src/README.md"

# 8. fetch fails (a directory stands where the daemon's log is fetched to).
# A whole promotion more: only with PROMOTE_ALL=1.
if [[ ${PROMOTE_ALL:-0} == 1 ]]; then
	mkdir -p "$tmp/o8/dpu/daemon.out/x"
	promote "$H" "$tmp/o8"
	verdict "fetch failure: the fetch step names the host" 1 \
		"step fetch on $D failed: rsync of $D:$dpu/build/promote/ exited" 'promote: checks +ok'
	nothing_left "fetch failure"
fi

# 9. usage errors (no ssh at all).
grep -v '^wire_ip' "$H" >"$tmp/nowire.hosts"
out=$("$B" promote --hosts "$tmp/nowire.hosts" 2>&1); rc=$?
verdict "usage: --stack-ip required without [dpu] wire_ip" 2 'nowire.hosts: \[dpu\] has no wire_ip, so --stack-ip A.B.C.D/LEN is required'
printf '[dpu]\nrdma_dev = mlx5_2\n' >"$tmp/nossh.hosts"
out=$("$B" promote --hosts "$tmp/nossh.hosts" --stack-ip 1.2.3.4/24 2>&1); rc=$?
verdict "usage: hosts file without [dpu] ssh" 2 'nossh.hosts: \[dpu\] ssh = user@host is required'
out=$("$B" promote --hosts "$H" --stack-ip 1.2.3.4/24 --timeout bogus=3 2>&1); rc=$?
verdict "usage: unknown step in --timeout" 2 "unknown step 'bogus'"

ms=$(((${EPOCHREALTIME/./} - t_start) / 1000))
echo "[==========] promote: $((pass + ${#failed[@]})) test(s) run. ($ms ms total, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "[  PASSED  ] $pass test(s)."
if [[ ${#failed[@]} -gt 0 ]]; then
	echo "[  FAILED  ] ${#failed[@]} test(s), listed below:"
	for f in "${failed[@]}"; do echo "[  FAILED  ] $f"; done
	exit 1
fi
exit 0
