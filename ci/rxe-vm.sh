#!/usr/bin/env bash
# Runs a command where Soft-RoCE (rdma_rxe) and the emu topology exist.
#
#   ci/rxe-vm.sh [OPTIONS] [--] CMD...     run CMD, exit with CMD's status
#   ci/rxe-vm.sh [OPTIONS] --check         smoke test: RDMA across the veth
#
# Where the running kernel has rdma_rxe (modprobe rdma_rxe works) CMD runs
# natively between `ci/rxe-topology.sh up` and `down`. Where it does not
# (many CI machines and containers), Debian's own kernel boots in qemu: the
# host's / shared read-only over virtio-9p, the work directory (the
# repository) read-write at the same path, tmpfs over /tmp /run /var/tmp
# /var/log; the guest loads the RDMA modules, brings the topology up, runs
# CMD in the same working directory with the same environment, and powers
# off. Binaries built on the host run unchanged in the guest.
#
# Options:
#   --check          run tests/rxe/smoke.sh all (devices, rc_pingpong,
#                    ib_send_lat, ib_write_lat, rping) instead of CMD
#   --wire-ns NAME   also create the wire peer's namespace (rxe-topology.sh)
#   --mode M         topology mode: auto (default), netns or single
#   --timeout S      CMD's time limit in seconds (default 900)
#   --vm             use the VM even if the kernel has rdma_rxe
# Environment:
#   RXE_VM_ACCEL=auto|kvm|tcg   auto tries KVM, falls back to TCG within a
#                               few seconds and remembers the verdict
#   RXE_VM_MEM (1536M: room for the suite's two lanes), RXE_VM_SMP (2), RXE_VM_CACHE (kernel cache directory),
#   RXE_VM_KERNEL_ABI (e.g. 6.1.0-56: instead of what linux-image-amd64 names)
#   RXE_VM_KEEP=1               keep the run directory (build/rxe-vm/run-*)
#   RXE_VM_APPEND="..."         more kernel command line (loglevel=7 to debug)
# Exit status: CMD's; 125 when the environment could not be set up (missing
# packages, kernel download, boot, topology), with the reason on stderr and
# the guest console in build/rxe-vm/console.log.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
me=rxe-vm
EX_INFRA=125

say() { echo "$me: $*"; }
die() {
	echo "$me: error: $*" >&2
	exit $EX_INFRA
}
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
secs() { printf '%d.%01d' $(($1 / 1000)) $((($1 % 1000) / 100)); }

usage() {
	sed -n '2,/^set -uo/p' "$0" | sed -e '/^set -uo/d' -e 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------------------
# Inside the guest: called by the initramfs's init, chrooted into the
# host's root, stdout on the second serial port (streamed to the host).
guest_stage() {
	local run=$1 rc t_up
	# shellcheck disable=SC1091
	source "$run/env.sh" || { echo "$me: guest: cannot read $run/env.sh"; exit $EX_INFRA; }
	local -a cmd topo
	eval "cmd=($(<"$run/cmd"))"
	eval "topo=($(<"$run/topology-args"))"
	local mem
	read -r _ mem _ </proc/meminfo
	read -r t_up _ </proc/uptime
	say "guest: kernel $(uname -r), $(nproc) vCPUs, $((mem / 1024)) MiB; guest stage started at ${t_up}s of uptime"
	if ! bash "$repo/ci/rxe-topology.sh" up "${topo[@]}"; then
		echo "topology" >"$run/failed"
		say "guest: ci/rxe-topology.sh up failed"
		return $EX_INFRA
	fi
	read -r t_up _ </proc/uptime
	echo "$t_up" >"$run/topology-up.tmp" && mv "$run/topology-up.tmp" "$run/topology-up"
	say "guest: topology up at ${t_up}s of guest uptime; running: ${cmd[*]}"
	cd "$(<"$run/cwd")" || { echo "cwd" >"$run/failed"; return $EX_INFRA; }
	timeout -k 10 "$(<"$run/timeout")" "${cmd[@]}" </dev/null
	rc=$?
	[[ $rc -eq 124 ]] && say "guest: CMD timed out after $(<"$run/timeout") s"
	# The VM is thrown away: `down` only runs to test it (--check).
	if [[ -e $run/down ]]; then
		timeout 60 bash "$repo/ci/rxe-topology.sh" down || { say "guest: ci/rxe-topology.sh down failed"; rc=$EX_INFRA; }
	fi
	echo "$rc" >"$run/status"
	return "$rc"
}

if [[ ${1:-} == --guest ]]; then
	guest_stage "$2"
	exit $?
fi

# ---------------------------------------------------------------------------
# Host side: options
check=0 force_vm=0 timeout_s=900
topo_args=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--check) check=1; shift ;;
	--wire-ns) topo_args+=(--wire-ns "${2:?--wire-ns needs a name}"); shift 2 ;;
	--mode) topo_args+=(--mode "${2:?--mode needs auto, netns or single}"); shift 2 ;;
	--timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
	--vm) force_vm=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) echo "$me: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	*) break ;;
	esac
done
if [[ $check == 1 ]]; then
	[[ $# -eq 0 ]] || die "--check takes no command"
	set -- bash "$repo/tests/rxe/smoke.sh" all
fi
[[ $# -gt 0 ]] || { usage >&2; exit 2; }
[[ $timeout_s =~ ^[0-9]+$ ]] || die "--timeout needs whole seconds, not '$timeout_s'"
# One VM or topology at a time where BLUETAS_NETNS_LOCK names a lock.
# shellcheck source=tests/support/netns_lock.sh
source "$repo/tests/support/netns_lock.sh"
# shellcheck source=tests/support/python_pin.sh
source "$repo/tests/support/python_pin.sh"
netns_lock_take

# The verbs tools both ways need (rdma-core, ibverbs-utils, perftest, ...).
bash "$repo/ci/install-deps.sh" --rxe || die "missing packages could not be installed (see above)"

kernel_has_rxe() {
	[[ -d /sys/module/rdma_rxe ]] && return 0
	[[ $(id -u) -eq 0 ]] && command -v modprobe >/dev/null 2>&1 &&
		timeout 20 modprobe -q rdma_rxe 2>/dev/null && return 0
	return 1
}

# ---------------------------------------------------------------------------
# Native: the kernel has rdma_rxe.
if [[ $force_vm == 0 ]] && kernel_has_rxe; then
	say "kernel $(uname -r) has rdma_rxe: running natively (no VM)"
	[[ $(id -u) -eq 0 ]] || die "the topology needs root: run as root (or with sudo)"
	trap 'timeout 60 bash "$repo/ci/rxe-topology.sh" down >/dev/null 2>&1' EXIT
	trap 'exit 130' INT TERM
	bash "$repo/ci/rxe-topology.sh" up "${topo_args[@]}" || die "ci/rxe-topology.sh up failed (above)"
	timeout -k 10 "$timeout_s" "$@" </dev/null
	rc=$?
	[[ $rc -eq 124 ]] && say "CMD timed out after $timeout_s s"
	exit $rc
fi

# ---------------------------------------------------------------------------
# VM: Debian's kernel under qemu.
t_start=$(now_ms)
if [[ $force_vm == 1 ]]; then
	say "--vm: using the VM"
elif [[ $(id -u) -ne 0 ]] && find "/lib/modules/$(uname -r)" -name 'rdma_rxe.ko*' 2>/dev/null | grep -q .; then
	say "kernel $(uname -r) has an rdma_rxe module, but loading it and building the topology need root: booting Debian's kernel in qemu instead"
else
	say "kernel $(uname -r) has no rdma_rxe: booting Debian's kernel in qemu"
fi
bash "$repo/ci/install-deps.sh" --rxe-vm || die "qemu/busybox-static could not be installed (see above)"
for t in qemu-system-x86_64 busybox dpkg-deb apt-get xz; do
	command -v $t >/dev/null 2>&1 || die "'$t' not found (bash ci/install-deps.sh --rxe-vm installs qemu-system-x86 and busybox-static)"
done

cache=${RXE_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluetas-rxe}
mkdir -p "$cache" || die "cannot create the cache directory $cache"

# Which kernel: the one linux-image-amd64 depends on, e.g. 6.1.0-56.
abi=${RXE_VM_KERNEL_ABI:-}
if [[ -z $abi ]]; then
	abi=$(timeout 30 apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/.*Depends: linux-image-\([0-9][0-9.]*-[0-9]*\)-amd64$/\1/p' | head -1)
fi
if [[ -z $abi ]]; then
	# apt knows nothing (no lists, offline): the newest cached kernel
	abi=$(find "$cache" -maxdepth 1 -name '*-amd64' -printf '%f\n' 2>/dev/null | sed 's/-amd64$//' | sort -V | tail -1)
	[[ -n $abi ]] || die "cannot tell which Debian kernel to use: 'apt-cache depends linux-image-amd64' names none (apt-get update?) and the cache $cache is empty"
	say "apt names no kernel: using the cached $abi-amd64"
fi
kdir=$cache/$abi-amd64

# Modules for: 9p root over virtio-pci, the RDMA stack and rxe (crc32_generic
# is needed but not declared), veth; tun for a DPDK net_tap. Load order is
# derived from each module's depends= (there is no modules.dep in the
# package).
module_roots=(virtio_pci 9pnet_virtio 9p crc32_generic ib_uverbs rdma_ucm rdma_rxe veth tun)

fetch_kernel() {
	local tmp pkg deb
	tmp=$(mktemp -d "$cache/fetch.XXXXXX") || die "cannot create a temporary directory in $cache"
	pkg=linux-image-$abi-amd64
	say "fetching $pkg (apt-get download, once; cached in $kdir)"
	if ! (cd "$tmp" && timeout 300 apt-get download -q "$pkg" >"$tmp/apt.log" 2>&1); then
		if [[ $(id -u) -eq 0 ]] && grep -qiE 'unable to locate|no candidate|404' "$tmp/apt.log"; then
			say "apt-get download failed; apt-get update and one more try"
			timeout 120 apt-get update -qq >/dev/null 2>&1
			(cd "$tmp" && timeout 300 apt-get download -q "$pkg" >"$tmp/apt.log" 2>&1)
		fi
	fi
	deb=$(ls "$tmp"/*.deb 2>/dev/null | head -1)
	if [[ -z $deb ]]; then
		sed 's/^/  /' "$tmp/apt.log" >&2
		rm -rf "$tmp"
		die "apt-get download $pkg failed (no access to the Debian archive?)"
	fi
	timeout 120 dpkg-deb -x "$deb" "$tmp/x" || { rm -rf "$tmp"; die "dpkg-deb -x $deb failed"; }
	local stage=$tmp/k mroot=$tmp/x/lib/modules/$abi-amd64
	mkdir -p "$stage/modules"
	cp "$tmp/x/boot/vmlinuz-$abi-amd64" "$stage/vmlinuz" &&
		cp "$tmp/x/boot/config-$abi-amd64" "$stage/config" || { rm -rf "$tmp"; die "the package holds no /boot/vmlinuz-$abi-amd64"; }

	# name -> path of every module, then a depth-first walk of depends=
	declare -A path seen
	local f n order=()
	while IFS= read -r f; do
		n=${f##*/}
		n=${n%%.ko*}
		path[${n//-/_}]=$f
	done < <(find "$mroot" -name '*.ko*')
	modinfo_depends() {
		local f=$1
		case $f in
		*.ko.xz) xz -dc "$f" ;;
		*.ko.zst) zstd -dcq "$f" ;;
		*.ko.gz) gzip -dc "$f" ;;
		*) cat "$f" ;;
		esac | tr '\0' '\n' | sed -n 's/^depends=//p' | head -1 | tr ',' ' '
	}
	visit() {
		local m=${1//-/_} d
		[[ -n ${seen[$m]:-} ]] && return 0
		seen[$m]=1
		if [[ -z ${path[$m]:-} ]]; then
			if grep -q "/${1}.ko\$\|/${m}.ko\$" "$mroot/modules.builtin" 2>/dev/null; then return 0; fi
			if [[ $m == tun ]]; then return 0; fi # optional
			die "module $m not found in $pkg"
		fi
		for d in $(modinfo_depends "${path[$m]}"); do visit "$d"; done
		order+=("$m")
	}
	for n in "${module_roots[@]}"; do visit "$n"; done
	for n in "${order[@]}"; do
		case ${path[$n]} in
		*.ko.xz) xz -dc "${path[$n]}" >"$stage/modules/$n.ko" ;;
		*.ko.zst) zstd -dcq "${path[$n]}" >"$stage/modules/$n.ko" ;;
		*.ko.gz) gzip -dc "${path[$n]}" >"$stage/modules/$n.ko" ;;
		*) cp "${path[$n]}" "$stage/modules/$n.ko" ;;
		esac || die "copying module $n failed"
	done
	printf '%s\n' "${order[@]}" >"$stage/modules.order"

	# The uncompressed vmlinux (PVH entry) boots ~3 s faster under TCG
	# with qboot than the bzImage: find the payload by its magic.
	local magic off
	for magic in xz zstd gzip; do
		case $magic in
		xz) off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$stage/vmlinuz" | head -1 | cut -d: -f1) ;;
		zstd) off=$(LC_ALL=C grep -obUaP '\x28\xb5\x2f\xfd' "$stage/vmlinuz" | head -1 | cut -d: -f1) ;;
		gzip) off=$(LC_ALL=C grep -obUaP '\x1f\x8b\x08' "$stage/vmlinuz" | head -1 | cut -d: -f1) ;;
		esac
		[[ -n $off ]] || continue
		case $magic in
		xz) tail -c +$((off + 1)) "$stage/vmlinuz" | xz -dc --single-stream >"$stage/vmlinux" 2>/dev/null ;;
		zstd) tail -c +$((off + 1)) "$stage/vmlinuz" | zstd -dcq >"$stage/vmlinux" 2>/dev/null ;;
		gzip) tail -c +$((off + 1)) "$stage/vmlinuz" | gzip -dc >"$stage/vmlinux" 2>/dev/null ;;
		esac
		if [[ $(head -c 4 "$stage/vmlinux" 2>/dev/null | od -An -c | tr -d ' ') == 177ELF ]]; then
			break
		fi
		rm -f "$stage/vmlinux"
	done
	[[ -e $stage/vmlinux ]] || say "note: could not extract vmlinux from the bzImage: booting the bzImage (~3 s slower)"
	echo "$pkg $(dpkg-deb -f "$deb" Version)" >"$stage/version"
	rm -rf "$kdir"
	mv "$stage" "$kdir" || die "cannot move the kernel into $kdir"
	rm -rf "$tmp"
	say "cached $(<"$kdir/version"): $(du -sh "$kdir" | cut -f1) in $kdir"
}

if [[ ! -e $kdir/version ]]; then
	fetch_kernel
fi
for f in "$cache"/fetch.*; do [[ -d $f ]] && rm -rf "$f"; done # leftovers of interrupted fetches

# ---------------------------------------------------------------------------
# The initramfs: busybox-static as PID 1, the modules, /init. Cached by
# content (init script + modules + busybox).
init_script() {
	cat <<'EOF'
#!/bin/busybox sh
# PID 1 of the rxe-vm guest, generated by ci/rxe-vm.sh.
/bin/busybox --install -s /bin
export PATH=/bin
log() { echo "rxe-vm-init: $*"; }
stop() {
	sync
	poweroff -f
	echo o >/proc/sysrq-trigger
	sleep 5
}
fail() {
	log "FAILED: $*"
	[ -d "$BT_RUN" ] && echo "$*" >"$BT_RUN/failed" 2>/dev/null
	stop
}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
log "started"
[ "$BT_MODE" = probe ] && stop
for m in $(cat /modules.order); do
	insmod /modules/$m.ko || fail "insmod $m"
done
o=trans=virtio,version=9p2000.L,msize=262144
mkdir -p /newroot
mount -t 9p -o $o,ro,cache=loose root /newroot || fail "mounting the host's / (9p) failed"
for d in /tmp /run /var/tmp /var/log; do
	mount -t tmpfs -o mode=1777 tmpfs /newroot$d || fail "tmpfs on $d"
done
# A work dir under one of those tmpfs (a checkout in /tmp, say) has no
# mount point in the guest until we make one.
[ -d "/newroot$BT_WORK" ] || mkdir -p "/newroot$BT_WORK" || fail "cannot create the mount point for $BT_WORK"
mount -t 9p -o $o,cache=mmap work "/newroot$BT_WORK" || fail "mounting the work dir $BT_WORK (9p) failed"
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
ln -sf /proc/self/fd /newroot/dev/fd
ln -sf /proc/self/fd/0 /newroot/dev/stdin
ln -sf /proc/self/fd/1 /newroot/dev/stdout
ln -sf /proc/self/fd/2 /newroot/dev/stderr
[ -d /newroot/dev/hugepages ] || mkdir -p /newroot/dev/hugepages
mount -t hugetlbfs hugetlbfs /newroot/dev/hugepages 2>/dev/null
hostname rxe-vm
ip link set lo up || fail "lo up"
[ -d "/newroot$BT_RUN" ] || fail "run dir $BT_RUN not visible in the guest"
log "modules loaded, / and $BT_WORK mounted: running the guest stage"
chroot /newroot /bin/bash "$BT_WORK/ci/rxe-vm.sh" --guest "$BT_RUN" </dev/null >/dev/ttyS1 2>&1
log "guest stage exited $?"
stop
EOF
}
[[ -x /bin/busybox ]] || die "/bin/busybox missing (busybox-static)"
file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || ! command -v file >/dev/null ||
	die "/bin/busybox is not statically linked: install busybox-static (it replaces busybox)"
ikey=$( (init_script; cat "$kdir/modules.order"; sha256sum /bin/busybox "$kdir"/modules/*.ko) | sha256sum | cut -c1-16)
initrd=$kdir/initramfs-$ikey.cpio
if [[ ! -e $initrd ]]; then
	rm -f "$kdir"/initramfs-*.cpio
	st=$(mktemp -d "$cache/initrd.XXXXXX") || die "mktemp in $cache failed"
	mkdir -p "$st"/{bin,dev,proc,sys,modules,newroot}
	cp /bin/busybox "$st/bin/busybox"
	cp "$kdir"/modules/*.ko "$st/modules/"
	cp "$kdir/modules.order" "$st/modules.order"
	init_script >"$st/init"
	chmod 755 "$st/init" "$st/bin/busybox"
	(cd "$st" && find . -mindepth 1 | busybox cpio -o -H newc -R 0:0 >"$initrd.tmp.$$" 2>/dev/null) &&
		mv "$initrd.tmp.$$" "$initrd" || { rm -rf "$st"; die "building the initramfs with busybox cpio failed"; }
	rm -rf "$st"
fi

# ---------------------------------------------------------------------------
# The run directory: what the guest reads (command, cwd, environment) and
# writes (topology-up, status, failed), plus the serial logs.
workdir=$repo
[[ $workdir =~ [[:space:]] ]] && die "the work directory path contains whitespace: $workdir"
mkdir -p "$workdir/build/rxe-vm" || die "cannot create $workdir/build/rxe-vm"
run=$(mktemp -d "$workdir/build/rxe-vm/run-XXXXXX") || die "mktemp in $workdir/build/rxe-vm failed"
case $PWD/ in
"$workdir"/*) ;;
*) say "note: the working directory $PWD is outside $workdir: read-only in the guest" ;;
esac
printf '%q ' "$@" >"$run/cmd"
: >"$run/topology-args"
[[ ${#topo_args[@]} -eq 0 ]] || printf '%q ' "${topo_args[@]}" >"$run/topology-args"
printf '%s\n' "$PWD" >"$run/cwd"
echo "$timeout_s" >"$run/timeout"
[[ $check == 1 ]] && : >"$run/down"
{
	# the caller's environment, minus what belongs to this host or to a
	# parent make's jobserver
	for v in $(compgen -e); do
		case $v in
		PWD | OLDPWD | SHLVL | _ | MAKEFLAGS | MFLAGS | MAKELEVEL | MAKEOVERRIDES | SSH_* | DISPLAY | XAUTHORITY | \
			XDG_RUNTIME_DIR | DBUS_* | TMUX* | STY | WINDOWID | TERM | COLORTERM | BASH_FUNC_*) continue ;;
		esac
		printf 'export %s=%q\n' "$v" "${!v}"
	done
	# An interpreter behind a version manager's shim is pinned to the one
	# it picks here (tests/support/python_pin.sh): under TCG every process
	# start costs ~0.1 s, and one `python3 -c pass` through pyenv's shim
	# measured 16-21 s in the guest.
	python_past_shims "$run/bin" || true
	[[ -d $run/bin ]] && printf 'export PATH=%q:"$PATH"\n' "$run/bin"
} >"$run/env.sh"

qpid='' tpid=''
# qpid is the subshell around `timeout qemu`; qemu's own pid is in its
# pidfile (-pidfile). Both are ended, by pid.
stop_qemu() {
	local p=
	if [[ -n $qpid ]]; then # qemu may be starting: its pidfile comes first
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			[[ -s $run/qemu.pid ]] || ! kill -0 "$qpid" 2>/dev/null && break
			sleep 0.1
		done
	fi
	[[ -s $run/qemu.pid ]] && p=$(<"$run/qemu.pid")
	if [[ -n $p ]] && kill -0 "$p" 2>/dev/null; then
		kill "$p" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	fi
	if [[ -n $qpid ]]; then
		kill "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null
	fi
	qpid=
}
cleanup() {
	[[ -n $tpid ]] && kill "$tpid" 2>/dev/null
	stop_qemu
	if [[ -d $run ]]; then
		cp -f "$run/console.log" "$workdir/build/rxe-vm/console.log" 2>/dev/null
		cp -f "$run/output.log" "$workdir/build/rxe-vm/output.log" 2>/dev/null
		[[ ${RXE_VM_KEEP:-0} == 1 ]] || rm -rf "$run"
	fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM HUP

kernel=$kdir/vmlinux
[[ -e $kernel ]] || kernel=$kdir/vmlinuz
bios=()
if [[ $kernel == */vmlinux && -e /usr/share/qemu/qboot.rom ]]; then
	bios=(-bios /usr/share/qemu/qboot.rom)
fi
mem=${RXE_VM_MEM:-1536M}
smp=${RXE_VM_SMP:-2}
append="console=ttyS0 quiet loglevel=4 panic=-1 oops=panic mitigations=off no_timer_check i8042.noaux i8042.nokbd i8042.nopnp tsc=reliable random.trust_cpu=on rdinit=/init BT_WORK=$workdir BT_RUN=$run ${RXE_VM_APPEND:-}"

# qemu under `timeout`: whole-run bound = CMD's limit + boot + topology.
launch() { # accel mode
	local accel=$1 mode=$2 cpu limit
	if [[ $accel == kvm ]]; then cpu=host; else cpu=max; fi
	cpu=${RXE_VM_CPU:-$cpu}
	limit=$((timeout_s + 180))
	[[ $mode == probe ]] && limit=20
	: >"$run/console.log"
	: >"$run/output.log"
	rm -f "$run/qemu.pid"
	# in a subshell, so that bash does not report qemu's own abort (KVM)
	(timeout -k 5 $limit qemu-system-x86_64 -name bluetas-rxe -pidfile "$run/qemu.pid" -nodefaults -no-user-config -display none -no-reboot \
		-accel "$accel" -cpu "$cpu" -smp "$smp" -m "$mem" "${bios[@]}" \
		-kernel "$kernel" -initrd "$initrd" -append "$append BT_MODE=$mode" \
		-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap \
		-device virtio-9p-pci,fsdev=root,mount_tag=root \
		-fsdev local,id=work,path="$workdir",security_model=none,multidevs=remap \
		-device virtio-9p-pci,fsdev=work,mount_tag=work \
		-serial file:"$run/console.log" -serial file:"$run/output.log" \
		</dev/null; exit $?) >"$run/qemu.log" 2>&1 &
	qpid=$!
}

# KVM: /dev/kvm usable and known (or found within a few seconds) to boot.
accel=${RXE_VM_ACCEL:-auto}
probe_file=$cache/kvm-verdict
probe_key="$(uname -r) $(qemu-system-x86_64 --version | head -1) $abi"
if [[ $accel == auto ]]; then
	if [[ ! -r /dev/kvm || ! -w /dev/kvm ]]; then
		accel=tcg
		say "no usable /dev/kvm: TCG (software emulation)"
	elif [[ -r $probe_file && $(head -1 "$probe_file") == "$probe_key" ]]; then
		accel=$(sed -n 2p "$probe_file")
		say "KVM verdict cached for this host kernel and qemu: $accel"
	else
		say "trying KVM (falls back to TCG within 6 s)"
		t0=$(now_ms)
		launch kvm probe
		accel=tcg
		while kill -0 "$qpid" 2>/dev/null && (($(now_ms) - t0 < 6000)); do
			grep -q 'rxe-vm-init: started' "$run/console.log" 2>/dev/null && { accel=kvm; break; }
			sleep 0.1
		done
		grep -q 'rxe-vm-init: started' "$run/console.log" 2>/dev/null && accel=kvm
		stop_qemu
		if [[ $accel == kvm ]]; then
			say "KVM works ($(secs $(($(now_ms) - t0))) s to init)"
		else
			why=$(grep -m1 -iE 'error|fail|abort' "$run/qemu.log" 2>/dev/null)
			say "KVM does not work here (${why:-no init after 6 s}): TCG"
		fi
		printf '%s\n%s\n' "$probe_key" "$accel" >"$probe_file"
	fi
fi
case $accel in kvm | tcg) ;; *) die "RXE_VM_ACCEL must be auto, kvm or tcg, not '$accel'" ;; esac

t_boot=$(now_ms)
say "booting $(<"$kdir/version" ) ($accel, -smp $smp -m $mem, ${kernel##*/}${bios:+ + qboot}); CMD: $*"
launch "$accel" run
tail -n +1 -s 0.2 -f --pid="$qpid" "$run/output.log" &
tpid=$!
reported=0
while kill -0 "$qpid" 2>/dev/null; do
	if [[ $reported == 0 && -e $run/topology-up ]]; then
		reported=1
		say "topology up $(secs $(($(now_ms) - t_boot))) s after qemu started (guest uptime $(<"$run/topology-up") s)" >&2
	fi
	sleep 0.1
done
wait "$qpid"
qrc=$?
qpid=
wait "$tpid" 2>/dev/null
tpid=
t_end=$(now_ms)

if [[ -r $run/status ]]; then
	rc=$(<"$run/status")
	say "guest finished: CMD exit status $rc; VM wall time $(secs $((t_end - t_boot))) s, total $(secs $((t_end - t_start))) s"
	if [[ $rc != 0 ]]; then
		echo "$me: guest console (last 40 lines; all in build/rxe-vm/console.log):" >&2
		tail -n 40 "$run/console.log" | sed 's/^/  | /' >&2
	fi
	exit "$rc"
fi

# No status: the VM failed before or while running CMD.
reason=
if [[ -r $run/failed ]]; then
	reason="in the guest: $(<"$run/failed")"
elif [[ $qrc -eq 124 || $qrc -eq 137 ]]; then
	reason="the VM did not finish within $((timeout_s + 180)) s (killed)"
elif grep -q 'Kernel panic' "$run/console.log" 2>/dev/null; then
	reason="kernel panic: $(grep -m1 'Kernel panic' "$run/console.log")"
elif [[ $qrc -ne 0 ]]; then
	reason="qemu exited with status $qrc: $(head -3 "$run/qemu.log" | tr '\n' ' ')"
else
	reason="the guest powered off without a status"
fi
echo "$me: error: no result from the VM: $reason" >&2
echo "$me: qemu: $(tr '\n' ' ' <"$run/qemu.log" | head -c 500)" >&2
echo "$me: guest console (last 60 lines; all in build/rxe-vm/console.log):" >&2
tail -n 60 "$run/console.log" | sed 's/^/  | /' >&2
exit $EX_INFRA
