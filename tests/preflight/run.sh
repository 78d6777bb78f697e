#!/usr/bin/env bash
# The preflight suite: `bluetas preflight` on the fixture trees of
# tests/fixtures/preflight (BlueField-2/-3 in DPU, separated host and NIC
# mode, host side and ARM side) and on broken copies of them, one mutation
# per case, so every check's PASS and FAIL (and WARN where it has one) is
# seen; the hosts file's errors through the CLI; a capture of each
# fixture re-checked to the same verdicts; and `bluetas nic|app --hosts`
# and the daemon's hardening (hw_cmds.sh). Prints cmocka-shaped summary
# lines; tests/run-tests.sh counts them (PREFLIGHT=0 skips it there).
set -u
build=${1:-build}
cd "$(dirname "$0")/../.." || exit 2
B=$build/bluetas
F=tests/fixtures/preflight
if [[ ! -x $B ]]; then
	echo "preflight: $B not built"
	echo "[  FAILED  ] 1 test(s), listed below:"
	exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bt-preflight.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

pass=0
failed=()

# fresh TREE: t = the path of a private copy to mutate
copies=0
fresh() {
	copies=$((copies + 1))
	t=$tmp/t$copies
	cp -a "$F/$1" "$t"
}

# matches TEXT REGEX: some line of TEXT matches (bash regex, no grep
# process per pattern: the suite runs ~100 of these)
matches() {
	local line
	while IFS= read -r line; do
		[[ $line =~ $2 ]] && return 0
	done <<<"$1"
	return 1
}

# check NAME RC PATTERN... -- CMD...: CMD exits RC and its output matches
# every extended regex PATTERN (a PATTERN starting with ! must NOT match).
check() {
	local name=$1 want=$2
	shift 2
	local pats=()
	while [[ $1 != -- ]]; do pats+=("$1"); shift; done
	shift
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	local ok=1 why=""
	if [[ $rc -ne $want ]]; then ok=0; why="exit $rc, want $want"; fi
	for p in "${pats[@]}"; do
		if [[ $p == !* ]]; then
			if matches "$out" "${p#!}"; then ok=0; why+=" unexpected /${p#!}/"; fi
		elif ! matches "$out" "$p"; then
			ok=0; why+=" missing /$p/"
		fi
	done
	if [[ $ok == 1 ]]; then
		echo "[       OK ] $name"
		pass=$((pass + 1))
	else
		echo "[  FAILED  ] $name:$why"
		printf '%s\n' "$out" | sed 's/^/    | /'
		failed+=("$name")
	fi
}

DH=$F/hosts/dpu-mode.hosts
SH=$F/hosts/separated.hosts
pf() { "$B" preflight "$@"; }

# PF_ONLY=hw runs only the hw commands' part (tests/preflight/hw_cmds.sh).
if [[ ${PF_ONLY:-all} != hw ]]; then

# ---- the good trees: every check PASSes (or SKIPs where it does not apply)
for card in 2 3; do
	check "bf$card DPU mode, ARM: all pass" 0 'verdict: PASS' '^PASS  ovs +pf0hpf and en3f0pf0sf0 on OVS bridge ovsbr1' \
		'^PASS  gid +mlx5_2 port 1 GID index 3' '^PASS  mode +BlueField-'$card' in DPU mode' '!^(FAIL|WARN)' \
		-- pf --role dpu --hosts "$DH" --sysroot "$F/bf$card-dpu-arm"
	check "bf$card DPU mode, host: all pass, rshim on vfio accepted" 0 'verdict: PASS' '81:00.2 vfio-pci \(rshim\)' '!^(FAIL|WARN)' \
		-- pf --role host --hosts "$DH" --sysroot "$F/bf$card-dpu-host"
	check "bf$card separated host, ARM: pass, no OVS/MTU" 0 'verdict: PASS' '^SKIP  ovs' '^SKIP  mtu' 'separated host mode' '!^(FAIL|WARN)' \
		-- pf --role dpu --hosts "$SH" --sysroot "$F/bf$card-sep-arm"
	check "bf$card separated host, host: pass" 0 'verdict: PASS' 'separated host mode' '!^(FAIL|WARN)' \
		-- pf --role host --hosts "$SH" --sysroot "$F/bf$card-sep-host"
	check "bf$card NIC mode refused" 1 '^FAIL  mode +BlueField-'$card' in NIC mode' 'fix: mlxconfig -d /dev/mst/mt416(86|92)_pciconf0 s .*INTERNAL_CPU_OFFLOAD_ENGINE=0' 'verdict: FAIL' \
		-- pf --role host --sysroot "$F/bf$card-nic-host"
done
check "hugepage size discovered: 2 MB on BF-2" 0 '^PASS  hugepages +128 x 2 MB reserved \(256 MB\)' -- pf --role dpu --sysroot "$F/bf2-dpu-arm"
check "hugepage size discovered: 512 MB on BF-3 (64K kernel)" 0 '^PASS  hugepages +4 x 512 MB reserved \(2 GB\)' -- pf --role dpu --sysroot "$F/bf3-dpu-arm"

# ---- no mlx5 at all: a few lines, not a wall of failures
fresh no-mlx5
check "no mlx5: short verdict naming what is missing" 1 'no Mellanox/NVIDIA PCI function found' 'emu backends' 'verdict: FAIL \(no mlx5 hardware\)' \
	'!^(PASS|FAIL)  (gid|port|ovs|hugepages)' -- pf --sysroot "$t"
lines=$(pf --sysroot "$t" | wc -l)
check "no mlx5: at most 8 lines" 0 -- test "$lines" -le 8

# ---- one mutation per case
fresh bf2-dpu-arm; sed -i '/^mlx5_ib /d' "$t/proc/modules"
check "modules FAIL: mlx5_ib missing" 1 '^FAIL  modules +not loaded: mlx5_ib' 'fix: modprobe -a mlx5_ib' -- pf --role dpu --sysroot "$t"
fresh bf2-dpu-arm; mkdir -p "$t/sys/module/mlx5_ib"; sed -i '/^mlx5_ib /d' "$t/proc/modules"
check "modules PASS: built in (/sys/module only)" 0 '^PASS  modules' -- pf --role dpu --sysroot "$t"
fresh bf2-dpu-arm; rm "$t/dev/infiniband/rdma_cm"
check "devnodes FAIL: no rdma_cm" 1 '^FAIL  devnodes +/dev/infiniband lacks rdma_cm' 'fix: modprobe -a ib_uverbs rdma_ucm' -- pf --role dpu --sysroot "$t"
fresh bf3-dpu-arm; ln -sfn ../../../../bus/pci/drivers/vfio-pci "$t/sys/bus/pci/devices/0000:03:00.0/driver"
check "pci FAIL: mlx5 PF bound to vfio-pci" 1 '^FAIL  pci .*0000:03:00.0 vfio-pci \(WRONG' \
	'fix: echo 0000:03:00.0 > /sys/bus/pci/drivers/vfio-pci/unbind; echo 0000:03:00.0 > /sys/bus/pci/drivers/mlx5_core/bind' -- pf --role dpu --sysroot "$t"
fresh bf2-dpu-host; ln -sfn ../../../../bus/pci/drivers/igb_uio "$t/sys/bus/pci/devices/0000:81:00.1/driver"
check "pci FAIL: igb_uio on the host PF" 1 '^FAIL  pci .*81:00.1 igb_uio' -- pf --sysroot "$t"
fresh bf2-dpu-arm; rm "$t/sys/bus/pci/devices/0000:03:00.1/driver"
check "pci WARN: function without driver" 0 '^WARN  pci .*03:00.1 \(none\)' 'fix: modprobe mlx5_core; echo 0000:03:00.1 > /sys/bus/pci/drivers/mlx5_core/bind' -- pf --role dpu --sysroot "$t"
fresh bf2-dpu-arm; rm "$t/bluetas/cmd/mlxconfig-q.txt"
check "mode PASS from sysfs signs (representors, no mlxconfig)" 0 '^PASS  mode +BlueField-2 in DPU mode \(ECPF; from sysfs' -- pf --role dpu --sysroot "$t"
fresh bf3-dpu-host; rm "$t/bluetas/cmd/mlxconfig-q.txt"
check "mode WARN: unknown on the host without mlxconfig" 0 '^WARN  mode +BlueField-3 mode unknown' 'fix: mst start; mlxconfig -d /dev/mst/mt41692_pciconf0 q' -- pf --sysroot "$t"
fresh bf2-dpu-arm; sed -i 's/EMBEDDED_CPU(1)/SEPERATED_HOST(0)/' "$t/bluetas/cmd/mlxconfig-q.txt"
check "mode WARN: mlxconfig next boot disagrees with the running ARM" 0 '^WARN  mode +mlxconfig says SEPERATED_HOST\(0\) but the ARM has representors' 'power-cycle' -- pf --role dpu --sysroot "$t"
fresh bf2-dpu-arm
check "gid FAIL: switchdev PF has no GIDs, use the SF" 1 '^FAIL  gid +mlx5_0 has no GIDs: a PF in switchdev mode' \
	'fix: use the SF.s RDMA device: rdma_dev = mlx5_2 in \[dpu\]' -- pf --role dpu --device mlx5_0 --sysroot "$t"
fresh bf3-dpu-arm; echo "IB/RoCE v1" >"$t/sys/class/infiniband/mlx5_2/ports/1/gid_attrs/types/3"
check "gid FAIL: GIDs but none RoCE v2 IPv4" 1 '^FAIL  gid +mlx5_2 has GIDs but none is RoCE v2 with an IPv4 address' 'cma_roce_mode -d mlx5_2' -- pf --role dpu --device mlx5_2 --sysroot "$t"
fresh bf2-sep-host; rm -r "$t/sys/class/infiniband/mlx5_0/ports/1/gids" "$t/sys/class/infiniband/mlx5_0/ports/1/gid_attrs"
check "gid FAIL: empty table, netdev has no address" 1 '^FAIL  gid +mlx5_0 has no GIDs: its netdev ens1f0np0 has no IP' 'ip addr add A.B.C.D/24 dev ens1f0np0' -- pf --device mlx5_0 --sysroot "$t"
fresh bf2-sep-host
check "gid FAIL: hosts file gid_index not RoCE v2 IPv4" 1 '^FAIL  gid +mlx5_0 GID index 2 is not RoCE v2' 'gid_index = auto' \
	-- pf --hosts <(sed 's/^gid_index = 3/gid_index = 2/' "$SH") --sysroot "$t"
check "gid FAIL: no such device" 1 '^FAIL  gid +no RDMA device mlx5_9' -- pf --device mlx5_9 --sysroot "$F/bf2-sep-host"
fresh bf2-dpu-arm; echo "1: DOWN" >"$t/sys/class/infiniband/mlx5_2/ports/1/state"
check "port FAIL: DOWN" 1 '^FAIL  port +mlx5_2 port 1 is 1: DOWN' 'fix: ip link set enp3s0f0s0 up' -- pf --role dpu --sysroot "$t"
fresh bf3-sep-host; echo "InfiniBand" >"$t/sys/class/infiniband/mlx5_0/ports/1/link_layer"
check "port FAIL: InfiniBand link layer" 1 '^FAIL  port +mlx5_0 port 1 link layer InfiniBand' 'LINK_TYPE_P1=2' -- pf --sysroot "$t"
fresh bf2-dpu-arm; echo "16.35.2000" >"$t/sys/class/infiniband/mlx5_2/fw_ver"
check "firmware WARN: not a BlueField-2 image" 0 '^WARN  firmware +mlx5_2 firmware 16.35.2000 is not a BlueField-2 image' -- pf --role dpu --sysroot "$t"
fresh bf3-dpu-arm; sed -i 's/^        Port en3f0pf0sf0$/        Port en3f0pf0sf0X/' "$t/bluetas/cmd/ovs-vsctl-show.txt"
sed -i 's/^        Port en3f1pf1sf0$/        Port en3f0pf0sf0/' "$t/bluetas/cmd/ovs-vsctl-show.txt"
check "ovs FAIL: SF representor on the other bridge" 1 '^FAIL  ovs +pf0hpf on ovsbr1, en3f0pf0sf0 on ovsbr2' 'fix: ovs-vsctl del-port ovsbr2 en3f0pf0sf0; ovs-vsctl add-port ovsbr1 en3f0pf0sf0' -- pf --role dpu --sysroot "$t"
fresh bf2-dpu-arm; rm "$t/bluetas/cmd/ovs-vsctl-show.txt"
check "ovs WARN: OVS ports, bridge unknown without ovs-vsctl" 0 '^WARN  ovs +pf0hpf and en3f0pf0sf0 are OVS ports' -- pf --role dpu --sysroot "$t"
fresh bf2-dpu-arm; rm "$t/bluetas/cmd/ovs-vsctl-show.txt" "$t/sys/class/net/pf0hpf/master"
check "ovs FAIL: pf0hpf on no bridge (sysfs)" 1 '^FAIL  ovs +pf0hpf is on no bridge' 'fix: ovs-vsctl add-port ovsbr1 pf0hpf' -- pf --role dpu --sysroot "$t"
fresh bf2-dpu-arm; rm -r "$t/sys/class/net/en3f0pf0sf0"
check "ovs FAIL: no SF representor" 1 '^FAIL  ovs +no SF representor' 'mlxdevm port add' -- pf --role dpu --sysroot "$t"
fresh bf3-dpu-arm; echo 1500 >"$t/sys/class/net/pf0hpf/mtu"
check "mtu FAIL: representor below the endpoints" 1 '^FAIL  mtu +.*MTU 9000 above the uplink p0 \(9000\) or representor pf0hpf \(1500\)' 'fix: ip link set p0 mtu 9000; ip link set pf0hpf mtu 9000' -- pf --role dpu --hosts "$DH" --sysroot "$t"
fresh bf3-dpu-arm
check "mtu FAIL: host PF (hosts file) above the uplink" 1 '^FAIL  mtu +host PF MTU 9100 above' -- pf --role dpu --hosts <(sed 's/^mtu      = 9000/mtu = 9100/' "$DH") --sysroot "$t"
fresh bf3-dpu-arm; echo 0 >"$t/sys/kernel/mm/hugepages/hugepages-524288kB/nr_hugepages"
check "hugepages FAIL: none reserved (512 MB size named)" 1 '^FAIL  hugepages +no 512 MB hugepages reserved' 'fix: echo 1 > /sys/kernel/mm/hugepages/hugepages-524288kB/nr_hugepages' -- pf --role dpu --sysroot "$t"
fresh bf2-dpu-arm; sed -i '/hugetlbfs/d' "$t/proc/mounts"
check "hugepages FAIL: not mounted" 1 '^FAIL  hugepages +128 x 2 MB reserved .* no hugetlbfs' 'mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages' -- pf --role dpu --sysroot "$t"
fresh bf3-dpu-arm; sed -i 's/pagesize=512M/pagesize=2M/' "$t/proc/mounts"
check "hugepages FAIL: mounted with another page size" 1 '^FAIL  hugepages .*no hugetlbfs of that size' -- pf --role dpu --sysroot "$t"
fresh bf2-dpu-host; sed -i 's/^Max locked memory .*/Max locked memory         8388608              8388608              bytes/' "$t/proc/self/limits"
check "memlock FAIL: 8 MiB (Debian's default)" 1 '^FAIL  memlock +RLIMIT_MEMLOCK 8192 KiB < [0-9]+ KiB' 'fix: ulimit -l unlimited' -- pf --sysroot "$t"
fresh bf2-dpu-host; sed -i 's/^Max locked memory .*/Max locked memory         1073741824           1073741824           bytes/' "$t/proc/self/limits"
check "memlock PASS: 1 GiB" 0 '^PASS  memlock +RLIMIT_MEMLOCK 1024 MiB' -- pf --sysroot "$t"
fresh bf2-dpu-arm; rm "$t/sys/class/infiniband/mlx5_0/device"
check "dpdk-probe FAIL: no verbs device for the port" 1 '^FAIL  dpdk-probe +0000:03:00.0 has no verbs device: .*No Verbs device matches PCI device' -- pf --role dpu --hosts "$DH" --sysroot "$t"
check "dpdk-probe PASS: SF devargs" 0 '^PASS  dpdk-probe +auxiliary:mlx5_core.sf.2 -> driver net_mlx5 \(verbs mlx5_2, netdev enp3s0f0s0' \
	-- pf --role dpu --hosts <(sed 's/^devargs .*/devargs = auxiliary:mlx5_core.sf.2,class=eth/' "$DH") --sysroot "$F/bf2-dpu-arm"
check "dpdk-probe FAIL: SF that does not exist" 1 '^FAIL  dpdk-probe +mlx5_core.sf.9 does not exist' 'mlxdevm port add' \
	-- pf --role dpu --hosts <(sed 's/^devargs .*/devargs = auxiliary:mlx5_core.sf.9/' "$DH") --sysroot "$F/bf2-dpu-arm"
fresh bf3-dpu-arm; sed -i 's/MLX5_1.24$/MLX5_1.21/' "$t/bluetas/cmd/libs.txt"
check "libs FAIL: libmlx5 without MLX5_1.24" 1 '^FAIL  libs +.*MLX5_1.21, DPDK 22.11.s mlx5 PMD needs MLX5_1.24' -- pf --role dpu --sysroot "$t"
fresh bf3-dpu-arm; sed -i '/^net_mlx5/d' "$t/bluetas/cmd/libs.txt"
check "libs FAIL: DPDK without the mlx5 PMD" 1 '^FAIL  libs +DPDK 22.11 at .* has no mlx5 PMD' -- pf --role dpu --sysroot "$t"
fresh bf2-dpu-host; rm "$t/bluetas/cmd/libs.txt"
check "libs FAIL: no libmlx5 on the host" 1 '^FAIL  libs +libmlx5.so.1 .* not found' 'ibverbs-providers' -- pf --sysroot "$t"
fresh bf2-dpu-arm; sed -i '2,$d' "$t/proc/net/arp"
check "neighbour WARN: no entry for the peer" 0 '^WARN  neighbour +no complete neighbour entry for peer 192.168.60.9' 'fix: ping -c1 192.168.60.9' -- pf --role dpu --hosts "$DH" --sysroot "$t"
check "neighbour PASS: seeded by the hosts file" 0 '^PASS  neighbour +192.168.60.9 seeded statically' \
	-- pf --role dpu --hosts <(cat "$DH"; echo "arp_seed = 192.168.60.9 0c:42:a1:60:00:09") --sysroot "$t"
check "neighbour SKIP: no peer without a hosts file" 0 '^SKIP  neighbour' -- pf --role dpu --sysroot "$F/bf2-dpu-arm"
fresh bf2-dpu-arm; : >"$t/sys/devices/system/cpu/isolated"
check "cpus WARN: none isolated; verdict WARN, exit 0" 0 'verdict: WARN \([0-9]+ pass, 1 warn, 0 fail' '^WARN  cpus +no isolated CPUs \(online 0-7\)' 'fix: add isolcpus=7 nohz_full=7 rcu_nocbs=7' -- pf --role dpu --sysroot "$t"
fresh bf2-dpu-arm; rm -r "$t/proc/812"
check "clock WARN: no sync daemon" 0 '^WARN  clock +no clock sync daemon' 'chrony' -- pf --role dpu --sysroot "$t"
fresh bf2-dpu-arm; rm -r "$t/proc/812"; mkdir -p "$t/run/systemd/timesync"; : >"$t/run/systemd/timesync/synchronized"
check "clock PASS: timesyncd synchronised" 0 '^PASS  clock +synchronised' -- pf --role dpu --sysroot "$t"

# ---- usage and the hosts file through the CLI (exit 2, FILE:LINE)
check "usage: unknown flag" 2 'unknown option' -- pf --bogus
check "usage: bad role" 2 "--role 'arm': expected host or dpu" -- pf --role arm
check "usage: sysroot missing" 2 "sysroot '$tmp/nope': No such file or directory" -- pf --sysroot "$tmp/nope"
check "usage: sysroot is a file" 2 'not a directory' -- pf --sysroot "$DH"
printf '[dpu]\nrdma_dev = mlx5_2\nmtu = 90000\n' >"$tmp/bad.hosts"
check "hosts file error names FILE:LINE" 2 "bad.hosts:3: mtu '90000': expected 68..9216" -- pf --hosts "$tmp/bad.hosts" --role dpu --sysroot "$F/bf2-dpu-arm"
printf '[dpu]\nrdma_dev = mlx5_2\n' >"$tmp/dpu-only.hosts"
check "hosts file without the role's section" 2 'has no \[host\] section' -- pf --hosts "$tmp/dpu-only.hosts" --sysroot "$F/bf2-dpu-arm"
check "help" 0 'usage: bluetas preflight' 'Exit status' -- pf --help

# ---- capture: a fixture captured through --sysroot gives the same output
for tree in bf3-dpu-arm bf2-sep-arm bf3-sep-host bf2-nic-host no-mlx5; do
	role=host hosts=$SH
	[[ $tree == *arm ]] && role=dpu
	[[ $tree == *dpu* ]] && hosts=$DH
	cap=$tmp/cap-$tree
	check "capture $tree" 0 "captured [0-9]+ files into $cap" -- pf --capture "$cap" --sysroot "$F/$tree"
	a=$(pf --role $role --hosts "$hosts" --sysroot "$F/$tree" | tail -n +2)
	b=$(pf --role $role --hosts "$hosts" --sysroot "$cap" | tail -n +2)
	check "capture $tree: same verdicts on the capture" 0 -- test "$a" == "$b"
done
check "capture into an unwritable place fails" 1 'cannot create' -- pf --capture /proc/bt-no/x --sysroot "$F/bf2-dpu-arm"

# ---- this machine (live root): capture it and re-check the capture
cap=$tmp/cap-live
check "live capture" 0 "captured [0-9]+ files into $cap" -- pf --capture "$cap"
a=$(pf | tail -n +2)
b=$(pf --sysroot "$cap" | tail -n +2)
check "live capture: same verdicts on the capture" 0 -- test "$a" == "$b"
# libibverbs-dev (ci/install-deps.sh) brings rdma-core's libmlx5, and the
# CLI links Debian's DPDK: what the binary resolves is named with versions.
libs=$(cat "$cap/bluetas/cmd/libs.txt" 2>/dev/null)
check "live libs: DPDK release and libmlx5 symbol version resolved" 0 '^dpdk /.*librte_eal\.so\.[0-9.]+ [0-9]+\.[0-9]+$' \
	'^libmlx5 /.*libmlx5\.so\.1[0-9.]* MLX5_1\.[0-9]+$' -- printf '%s\n' "$libs"
if ! grep -qs '^0x15b3$' /sys/bus/pci/devices/*/vendor; then
	check "live, no mlx5 here: a few lines naming what is missing" 1 'no Mellanox/NVIDIA PCI function found' \
		'verdict: FAIL \(no mlx5 hardware\)' '!^(PASS|WARN|FAIL)  (gid|port|ovs|hugepages|libs)' -- pf
fi

fi # PF_ONLY

# ---- the hw commands: hosts file, print-config, daemon hardening
# shellcheck source=tests/preflight/hw_cmds.sh
source tests/preflight/hw_cmds.sh

echo "[==========] preflight: $((pass + ${#failed[@]})) test(s) run."
echo "[  PASSED  ] $pass test(s)."
if [[ ${#failed[@]} -gt 0 ]]; then
	echo "[  FAILED  ] ${#failed[@]} test(s), listed below:"
	for f in "${failed[@]}"; do echo "[  FAILED  ] $f"; done
	exit 1
fi
exit 0
