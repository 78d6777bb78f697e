# shellcheck shell=bash
# Sourced by tests/preflight/run.sh (its check/fresh helpers, $B, $F, $DH,
# $SH, $tmp): the hw commands reading the hosts file (`bluetas nic --hosts`,
# `bluetas app --hosts`, each in --print-config mode against the fixture
# trees), and the daemon's and the app's hardening (options that do not
# apply, no port named, --pcap write errors, --stats from the field lists).
# The few cases that start the EAL use net_null (no device, no root-only
# interface; a second or two each).

RH=$F/hosts/rehearsal.hosts
nic() { "$B" nic "$@"; }
# mut NAME SRC SED: a copy of hosts file SRC edited by SED, at $tmp/NAME
# (a named file, so the errors' FILE:LINE can be checked)
mut() { sed "$3" "$2" >"$tmp/$1"; m=$tmp/$1; }
app() { "$B" app "$@"; }

# ---- bluetas nic --hosts: the [dpu] section, command line over the file
check "nic --hosts: port, wire_ip, channel (auto RDMA device) from the file" 0 \
	'^config port=-a 0000:03:00.0 \(.*dpu-mode.hosts:12 devargs\)' '^config ip=192.168.60.2/24 \(.*dpu-mode.hosts:17 wire_ip\)' \
	'^config channel=verbs:192.168.50.2,dev=mlx5_2 \(.*dpu-mode.hosts:16 ip, rdma_dev auto: mlx5_2 GID index 3' \
	'^config peer_ip=192.168.60.9' '^config app=none' '!--no-pci' \
	-- nic --hosts "$DH" --sysroot "$F/bf2-dpu-arm" --print-config
check "nic --hosts: hugepage size found at run time: 512 MB pages on BF-3 (-m in whole pages)" 0 \
	'^config memory=1 x 512 MB hugepages of 4 reserved, hugetlbfs /dev/hugepages' \
	'^config eal=.*--in-memory -m 512 --huge-dir /dev/hugepages' '!^config eal=.*--no-huge' \
	-- nic --hosts "$DH" --sysroot "$F/bf3-dpu-arm" --print-config
check "nic --hosts: 2 MB pages on BF-2" 0 '^config memory=128 x 2 MB hugepages' '^config eal=.*-m 256 --huge-dir /dev/hugepages' \
	-- nic --hosts "$DH" --sysroot "$F/bf2-dpu-arm" --print-config
fresh bf3-dpu-arm; echo 0 >"$t/sys/kernel/mm/hugepages/hugepages-524288kB/nr_hugepages"
check "nic --hosts: no hugepages reserved: --no-huge, saying what is missing" 0 \
	'^config memory=--no-huge: hugepage size 512 MB, 0 reserved \(1 needed\)' '^config eal=--no-huge' \
	-- nic --hosts "$DH" --sysroot "$t" --print-config
check "nic --hosts: an SF port alone gets --no-pci (an allowlist narrows its own bus only)" 0 \
	'^config eal=.*-a auxiliary:mlx5_core.sf.2,class=eth --no-pci' \
	-- nic --hosts <(sed 's/^devargs .*/devargs = auxiliary:mlx5_core.sf.2,class=eth/' "$DH") --sysroot "$F/bf2-dpu-arm" --print-config
check "nic --hosts: command-line options override the file" 0 '^config port=--vdev net_null0 \(command line' \
	'^config ip=10.99.0.2/24 \(command line\)' '^config arp=10.99.0.1=02:00:00:00:00:01 \(command line\)' \
	'^config channel=ipc:' '!-a 0000:03:00.0' \
	-- nic --hosts "$DH" --sysroot "$F/bf2-dpu-arm" --print-config --vdev net_null0 --ip 10.99.0.2/24 \
	--arp 10.99.0.1=02:00:00:00:00:01 --channel "ipc:$tmp/nic.sock"
check "nic --hosts: a vdev port and the ARP seed from the file" 0 '^config port=--vdev net_null0,no-rx=1 \(.*rehearsal.hosts:9 vdev\)' \
	'^config arp=10.99.0.1=02:00:00:99:00:01 \(.*rehearsal.hosts:12 arp_seed\)' '^config eal=.*--no-pci --vdev net_null0' \
	-- nic --hosts "$RH" --print-config
check "nic --hosts: missing file" 2 "--hosts: $tmp/nope.hosts: No such file or directory" -- nic --hosts "$tmp/nope.hosts" --print-config
printf '[dpu]\nvdev = net_null0\nwire_ip = 10.0.0.2/33\n' >"$tmp/badwire.hosts"
check "nic --hosts: invalid value names FILE:LINE" 2 "badwire.hosts:3: wire_ip '10.0.0.2/33'" -- nic --hosts "$tmp/badwire.hosts" --print-config
printf '[host]\npeer_ip = 10.0.0.2\ndevargs = 0000:03:00.0\n[dpu]\nvdev = net_null0\n' >"$tmp/hostdev.hosts"
check "hosts file: a key that does not apply to [host] names FILE:LINE" 2 "hostdev.hosts:3: key 'devargs' does not apply to \[host\]" \
	-- nic --hosts "$tmp/hostdev.hosts" --print-config
printf '[dpu]\ndevargs = 0000:03:00.0\nvdev = net_null0\n' >"$tmp/both.hosts"
check "hosts file: devargs and vdev both" 2 "both.hosts:3: give devargs .* or vdev .*, not both \(line 2\)" -- nic --hosts "$tmp/both.hosts" --print-config
printf '[host]\npeer_ip = 10.0.0.2\n' >"$tmp/hostonly.hosts"
check "nic --hosts: no [dpu] section" 2 'hostonly.hosts: no \[dpu\] section' -- nic --hosts "$tmp/hostonly.hosts" --print-config
printf '# no address\n[dpu]\nvdev = net_null0\n' >"$tmp/noip.hosts"
check "nic --hosts: no wire_ip and no --ip" 2 'noip.hosts: \[dpu\] \(line 2\) has no wire_ip' -- nic --hosts "$tmp/noip.hosts" --print-config
mut seed.hosts "$RH" 's/^arp_seed .*/arp_seed = 10.98.0.1 02:00:00:99:00:01/'
check "nic --hosts: arp_seed off the wire subnet names FILE:LINE" 2 'seed.hosts:12: arp_seed 10.98.0.1 is not on the daemon.s wire subnet' \
	-- nic --hosts "$m" --print-config
mut peer.hosts "$RH" 's/^peer_ip .*/peer_ip = 10.98.0.1/'
check "nic --hosts: peer_ip unreachable names FILE:LINE" 2 'peer.hosts:11: peer_ip 10.98.0.1 is not on the daemon.s wire subnet' \
	-- nic --hosts "$m" --print-config
mut dpuip.hosts "$DH" 's/^ip       = 192.168.50.2/ip = 192.168.50.9/'
check "nic --hosts: rdma_dev auto whose GID is not ip" 2 'dpuip.hosts:16: ip = 192.168.50.9, but rdma_dev auto picked mlx5_2, whose RoCE v2 GID \(index 3\) carries 192.168.50.2' \
	-- nic --hosts "$m" --sysroot "$F/bf2-dpu-arm" --print-config
check "nic --hosts: rdma_dev auto without any RDMA device" 2 'dpu-mode.hosts:13: rdma_dev auto: no RDMA device has a RoCE v2 GID' \
	-- nic --hosts "$DH" --sysroot "$F/no-mlx5" --print-config

# ---- bluetas app --hosts: the [host] section
check "app --hosts: channel from peer_ip, ip and the auto-picked device and GID" 0 \
	'^config channel=verbs:192.168.50.2,src=192.168.50.1,dev=mlx5_0,gid=3 \(.*dpu-mode.hosts:7 peer_ip; rdma_dev auto: mlx5_0 GID index 3' \
	-- app --hosts "$DH" --sysroot "$F/bf2-dpu-host" --app echo-client --remote 192.168.60.9:7 --print-config
check "app --hosts: a named device and GID index" 0 '^config channel=verbs:192.168.50.2,src=192.168.50.1,dev=mlx5_0,gid=3 \(.*separated.hosts:7 peer_ip; rdma_dev mlx5_0' \
	-- app --hosts "$SH" --sysroot "$F/bf3-sep-host" --app sink --print-config
check "app --hosts: --channel overrides the file" 0 '^config channel=ipc:/x \(command line \(the hosts file' \
	-- app --hosts "$SH" --sysroot "$F/bf3-sep-host" --channel ipc:/x --app sink --print-config
mut gid.hosts "$SH" 's/^gid_index = 3/gid_index = 2/'
check "app --hosts: gid_index that is not RoCE v2 IPv4 names FILE:LINE" 2 'gid.hosts:5: rdma_dev mlx5_0 with gid_index: no RoCE v2 GID' \
	-- app --hosts "$m" --sysroot "$F/bf2-sep-host" --app sink --print-config
mut hostip.hosts "$DH" 's/^ip       = 192.168.50.1/ip = 192.168.50.7/'
check "app --hosts: ip not carried by the picked GID" 2 'hostip.hosts:5: ip = 192.168.50.7, but rdma_dev auto found mlx5_0, whose RoCE v2 GID \(index 3\) carries 192.168.50.1' \
	-- app --hosts "$m" --sysroot "$F/bf2-dpu-host" --app sink --print-config
check "app --hosts: rdma_dev auto without any RDMA device" 2 'dpu-mode.hosts:4: rdma_dev auto: no RDMA device' \
	-- app --hosts "$DH" --sysroot "$F/no-mlx5" --app sink --print-config
printf '[dpu]\nvdev = net_null0\n' >"$tmp/dpuonly.hosts"
check "app --hosts: no [host] section" 2 'dpuonly.hosts: no \[host\] section' -- app --hosts "$tmp/dpuonly.hosts" --app sink --print-config
printf '[host]\nrdma_dev = auto\n' >"$tmp/nopeer.hosts"
check "app --hosts: no peer_ip" 2 'nopeer.hosts: \[host\] \(line 1\) has no peer_ip' -- app --hosts "$tmp/nopeer.hosts" --app sink --print-config

# ---- options that do not apply to the chosen application (issue 11 item 9)
for c in "sink|--remote 10.0.0.1:7" "echo-server|--conns 4" "sink|--msg-bytes 1K" "source|--messages 3 --remote 10.0.0.1:7" \
	"echo-server|--bytes 1K" "sink|--seed 3" "echo-client|--exit-after-conns 1 --remote 10.0.0.1:7" \
	"echo-client|--connect-retry-s 3 --remote 10.0.0.1:7" "source|--listen 9 --remote 10.0.0.1:7"; do
	a=${c%%|*} args=${c#*|} opt=${args%% *}
	# shellcheck disable=SC2086
	check "app: $opt refused for --app $a" 2 "$opt does not apply to --app $a" -- app --channel ipc:/x --app "$a" $args --print-config
done
check "app: options that apply are accepted (negative control)" 0 '^config app=sink' \
	-- app --channel ipc:/x --app sink --listen 9 --bytes 1K --exit-after-conns 1 --print-config
for c in "source|--listen 9" "source|--backlog 8" "sink|--bytes 1K" "echo|--seed 3" "sink|--connect-retry-s 3"; do
	a=${c%%|*} args=${c#*|} opt=${args%% *}
	extra=()
	[[ $a == source ]] && extra=(--connect 10.0.0.1:9)
	# shellcheck disable=SC2086
	check "nic: $opt refused for --app $a" 2 "$opt does not apply to --app $a" -- nic --ip 10.0.0.2/24 --vdev net_null0 --app "$a" "${extra[@]}" $args --print-config
done
check "nic: options that apply are accepted (negative control)" 0 '^config app=source' \
	-- nic --ip 10.0.0.2/24 --vdev net_null0 --app source --connect 10.0.0.1:9 --bytes 1K --seed 2 --print-config

# ---- no port named: never every PCI device (issue 11 item 9)
check "nic without --vdev, -a or --hosts is refused" 2 'no port named: give --vdev' '!EAL:' -- nic --ip 10.0.0.2/24 --duration-s 1
check "nic with only a PCI blocklist is refused" 2 '-b/--block still probes every other PCI device' \
	-- nic --ip 10.0.0.2/24 --vdev net_null0 --print-config -- -b 0000:00:01.0
check "nic with a vdev: --no-pci (negative control)" 0 '^config eal=.*--no-pci --vdev net_null0' -- nic --ip 10.0.0.2/24 --vdev net_null0 --print-config

# ---- every case below starts DPDK's EAL on net_null (1-2 s each, ~15 s in all
# on a loaded 2-core machine); PF_EAL=0 skips them
if [[ ${PF_EAL:-1} == 1 ]]; then
	# ---- the daemon on net_null: --pcap write errors, --stats from the field lists
	nullnic=(nic --vdev net_null0,no-rx=1 --ip 10.0.0.2/24 --duration-s 1)
	check "nic --pcap /dev/full: an error exit naming the file" 1 'bluetas nic: --pcap: .*/dev/full' 'exit reason=duration status=1' \
		-- timeout 60 "$B" "${nullnic[@]}" --app sink --pcap /dev/full
	"$B" "${nullnic[@]}" --app echo --channel "ipc:$tmp/nic.sock" --pcap "$tmp/ok.pcap" --stats >"$tmp/stats.out" 2>"$tmp/stats.err"
	check "nic --pcap to a writable file: exit 0, header written (negative control)" 0 'exit reason=duration status=0' \
		-- bash -c "cat '$tmp/stats.out'; [[ \$(stat -c %s '$tmp/ok.pcap') -ge 24 ]] && grep -q 'exit reason=duration status=0' '$tmp/stats.out'"
	# Every field of each struct --stats prints, read from the header itself.
	fields() { sed -n "/^struct $1 {/,/^};/p" "$2" | sed 's#/\*.*\*/##' | grep -o 'uint[0-9]*_t [^;]*' | sed 's/uint[0-9]*_t //' | tr ',' '\n' | tr -d ' '; }
	missing=""
	for spec in "chan chan_stats transports/chan_stats.h" "chan_ext chan_stats transports/chan_stats.h" \
		"netif netif_stats transports/netif.h" "dpdk dpdk_netif_stats transports/dpdk/dpdk_netif.h" "nic nic_stats core/nic/nic.h"; do
		read -r prefix struct header <<<"$spec"
		n=0
		for field in $(fields "$struct" "$header"); do
			n=$((n + 1))
			grep -q "^stat\.$prefix\.$field=" "$tmp/stats.out" || missing+=" $prefix.$field"
		done
		[[ $n -gt 0 ]] || missing+=" (no fields read from $header)"
	done
	check "nic --stats: every field of chan_stats (in-process and external), netif, dpdk and nic stats" 0 -- test -z "$missing"
	[[ -n $missing ]] && echo "    | not printed:$missing"

	# ---- eal-probe: rte_eal_init on the hosts file's port, in a child, bounded
	mut vdev.hosts "$DH" 's/^devargs .*/vdev = net_null0/'
	check "eal-probe PASS: a vdev port probed, its driver named, an explicit allowlist (no PCI scan)" 0 \
		'^PASS  eal-probe +net_null0 -> driver net_null \(rte_eal_init .*--no-pci --vdev net_null0\)' '^SKIP  dpdk-probe +vdev net_null0' \
		'verdict: PASS' '!^PASS  eal-probe .* -a ' -- pf --role dpu --hosts "$m" --sysroot "$F/bf2-dpu-arm"
	mut bogus.hosts "$DH" 's/^devargs .*/vdev = net_bogus0/'
	check "eal-probe FAIL: a vdev DPDK cannot create" 1 '^FAIL  eal-probe +.*net_bogus0' 'fix: fix vdev in \[dpu\]' \
		-- pf --role dpu --hosts "$m" --sysroot "$F/bf2-dpu-arm"
	mut pcap.hosts "$DH" "s|^devargs .*|vdev = net_pcap0,rx_pcap=$tmp/no-such.pcap|"
	check "eal-probe FAIL: the PMD refuses its devargs (missing rx_pcap), its complaint quoted" 1 '^FAIL  eal-probe +the EAL started but probed no port for net_pcap0,rx_pcap=.*DPDK: .*Couldn.t open' \
		-- pf --role dpu --hosts "$m" --sysroot "$F/bf2-dpu-arm"
	check "eal-probe SKIP: a PCI port on a fixture tree is not probed here" 0 '^SKIP  eal-probe +0000:03:00.0 is a device of the machine' \
		-- pf --role dpu --hosts "$DH" --sysroot "$F/bf2-dpu-arm"
	check "eal-probe SKIP: no port named" 0 '^SKIP  eal-probe +no port to probe: devargs or vdev in \[dpu\]' -- pf --role dpu --sysroot "$F/bf2-dpu-arm"
	if ! grep -qs '^0x15b3$' /sys/bus/pci/devices/*/vendor; then
		check "live, no mlx5, vdev port: still a few lines, the EAL probe among them" 1 '^PASS  eal-probe +net_null0,?.* -> driver net_null|^PASS  eal-probe +net_null0 -> driver net_null' \
			'verdict: FAIL \(no mlx5 hardware\)' -- pf --role dpu --hosts "$RH"
		lines=$(pf --role dpu --hosts "$RH" | wc -l)
		check "live, no mlx5, vdev port: at most 9 lines" 0 -- test "$lines" -le 9
		mut nopci.hosts "$DH" 's/^devargs .*/devargs = ffff:ff:1f.7/'
		check "live: a PCI port that is not there: FAIL naming it, only it allowed" 1 \
			'^FAIL  eal-probe +the EAL started but probed no port for ffff:ff:1f.7' -- pf --role dpu --hosts "$m"
	fi
	check "eal-probe leaves no runtime directory behind" 0 -- bash -c "! ls -d /var/run/dpdk/bt-preflight-* 2>/dev/null"
else
	echo "[  SKIPPED ] the EAL cases (PF_EAL=0)"
fi
