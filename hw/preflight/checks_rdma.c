/*
 * checks_rdma.c: the RoCE v2 IPv4 GID (and the device it settles on),
 * the port state and link layer, whether DPDK's mlx5 PMD would probe the
 * port, and the DPDK/libmlx5 the binary resolves.
 */
#include "preflight.h"

#include <stdlib.h>
#include <string.h>

/* The netdev whose device link names the same function as the RDMA
 * device's (both are children of one PCI function or SF). */
static int netdev_of(struct pf_ctx *c, const char *ibdev, char *out, size_t out_len)
{
	char path[BT_SYSROOT_PATH_MAX], fn[BT_SYSROOT_NAME_MAX], nfn[BT_SYSROOT_NAME_MAX];
	pf_fmt(path, sizeof(path), "/sys/class/infiniband/%s/device", ibdev);
	if (bt_sysroot_link_base(&c->root, path, fn, sizeof(fn)) != 0)
		return -1;
	/* A PF's representors (pf0hpf, en3f0pf0sf0) link to the same
	 * function as its own netdev (p0): the shortest name is the PF's. */
	char names[128][BT_SYSROOT_NAME_MAX];
	int n = bt_sysroot_list(&c->root, "/sys/class/net", names, 128), best = -1;
	for (int i = 0; i < n; i++) {
		pf_fmt(path, sizeof(path), "/sys/class/net/%s/device", names[i]);
		if (bt_sysroot_link_base(&c->root, path, nfn, sizeof(nfn)) == 0 && !strcmp(fn, nfn) &&
		    (best < 0 || strlen(names[i]) < strlen(names[best])))
			best = i;
	}
	if (best < 0)
		return -1;
	pf_fmt(out, out_len, "%s", names[best]);
	return 0;
}

/* The RDMA device of a function (PCI address or mlx5_core.sf.N). */
static int ibdev_of(struct pf_ctx *c, const char *fn, char *out, size_t out_len)
{
	char names[32][BT_SYSROOT_NAME_MAX], path[BT_SYSROOT_PATH_MAX], base[BT_SYSROOT_NAME_MAX];
	int n = bt_sysroot_list(&c->root, "/sys/class/infiniband", names, 32);
	for (int i = 0; i < n; i++) {
		pf_fmt(path, sizeof(path), "/sys/class/infiniband/%s/device", names[i]);
		if (bt_sysroot_link_base(&c->root, path, base, sizeof(base)) == 0 && !strcmp(base, fn)) {
			pf_fmt(out, out_len, "%s", names[i]);
			return 0;
		}
	}
	return -1;
}

/* The first RDMA device on a scalable function, for the switchdev hint. */
static int sf_ibdev(struct pf_ctx *c, char *out, size_t out_len)
{
	char names[32][BT_SYSROOT_NAME_MAX], path[BT_SYSROOT_PATH_MAX], base[BT_SYSROOT_NAME_MAX];
	int n = bt_sysroot_list(&c->root, "/sys/class/infiniband", names, 32);
	for (int i = 0; i < n; i++) {
		pf_fmt(path, sizeof(path), "/sys/class/infiniband/%s/device", names[i]);
		if (bt_sysroot_link_base(&c->root, path, base, sizeof(base)) == 0 && !strncmp(base, "mlx5_core.sf.", 13)) {
			pf_fmt(out, out_len, "%s", names[i]);
			return 0;
		}
	}
	return -1;
}

void pf_check_gid(struct pf_ctx *c)
{
	struct bt_gid_pick pick;
	int want = c->side ? c->side->gid_index : -1;
	enum bt_gid_result rc = bt_gid_pick(&c->root, c->device_arg, want, &pick);
	char fix[320], netdev[BT_SYSROOT_NAME_MAX] = "NETDEV", sf[BT_SYSROOT_NAME_MAX];
	const char *section = c->role == PF_ROLE_DPU ? "[dpu]" : "[host]";
	if (rc == BT_GID_FOUND) {
		pf_fmt(c->rdma_dev, sizeof(c->rdma_dev), "%s", pick.dev);
		pf_report(c, PF_PASS, "gid", NULL, "%s port 1 GID index %d: RoCE v2, IPv4 %s%s", pick.dev, pick.gid_index,
			  pick.ipv4, strcmp(c->device_arg, "auto") ? "" : " (auto-picked)");
		return;
	}
	if (pick.dev[0])
		netdev_of(c, pick.dev, netdev, sizeof(netdev));
	switch (rc) {
	case BT_GID_NO_DEVICE:
		if (pick.dev[0]) {
			pf_fmt(fix, sizeof(fix), "rdma link show lists the devices; set rdma_dev in %s (or auto)", section);
			pf_report(c, PF_FAIL, "gid", fix, "no RDMA device %s", pick.dev);
		} else {
			pf_report(c, PF_FAIL, "gid", "modprobe mlx5_ib", "no RDMA device under /sys/class/infiniband");
		}
		return;
	case BT_GID_EMPTY:
		pf_fmt(c->rdma_dev, sizeof(c->rdma_dev), "%s", pick.dev);
		if (c->switchdev && sf_ibdev(c, sf, sizeof(sf)) == 0 && strcmp(sf, pick.dev)) {
			pf_fmt(fix, sizeof(fix), "use the SF's RDMA device: rdma_dev = %s in %s (or --device %s, or auto)", sf,
				 section, sf);
			pf_report(c, PF_FAIL, "gid", fix,
				  "%s has no GIDs: a PF in switchdev mode (DPU mode) has an empty GID table", pick.dev);
		} else {
			pf_fmt(fix, sizeof(fix), "ip addr add A.B.C.D/24 dev %s && ip link set %s up", netdev, netdev);
			pf_report(c, PF_FAIL, "gid", fix, "%s has no GIDs: its netdev %s has no IP address", pick.dev, netdev);
		}
		return;
	default:
		pf_fmt(c->rdma_dev, sizeof(c->rdma_dev), "%s", pick.dev);
		if (want >= 0)
			pf_fmt(fix, sizeof(fix), "gid_index = auto in %s (or the index of a RoCE v2 IPv4 entry: show_gids)",
				 section);
		else
			pf_fmt(fix, sizeof(fix),
				 "ip addr add A.B.C.D/24 dev %s; RoCE v2 is the default (cma_roce_mode -d %s -p 1 -m 2)", netdev,
				 pick.dev);
		if (want >= 0)
			pf_report(c, PF_FAIL, "gid", fix, "%s GID index %d is not RoCE v2 with an IPv4 address", pick.dev, want);
		else
			pf_report(c, PF_FAIL, "gid", fix, "%s has GIDs but none is RoCE v2 with an IPv4 address", pick.dev);
		return;
	}
}

void pf_check_port(struct pf_ctx *c)
{
	char dev[BT_SYSROOT_NAME_MAX], path[BT_SYSROOT_PATH_MAX], state[64], layer[64], fix[256];
	char names[1][BT_SYSROOT_NAME_MAX];
	if (c->rdma_dev[0])
		pf_fmt(dev, sizeof(dev), "%s", c->rdma_dev);
	else if (bt_sysroot_list(&c->root, "/sys/class/infiniband", names, 1) == 1)
		pf_fmt(dev, sizeof(dev), "%s", names[0]);
	else {
		pf_report(c, PF_FAIL, "port", "modprobe mlx5_ib", "no RDMA device: no port to check");
		return;
	}
	pf_fmt(path, sizeof(path), "/sys/class/infiniband/%s/ports/1/state", dev);
	if (bt_sysroot_read(&c->root, path, state, sizeof(state)) <= 0)
		strcpy(state, "(unreadable)");
	pf_fmt(path, sizeof(path), "/sys/class/infiniband/%s/ports/1/link_layer", dev);
	if (bt_sysroot_read(&c->root, path, layer, sizeof(layer)) <= 0)
		strcpy(layer, "(unreadable)");
	char netdev[BT_SYSROOT_NAME_MAX] = "NETDEV";
	netdev_of(c, dev, netdev, sizeof(netdev));
	if (strcmp(layer, "Ethernet")) {
		pf_fmt(fix, sizeof(fix), "mlxconfig -d /dev/mst/<dev> s LINK_TYPE_P1=2 (Ethernet), then power-cycle");
		pf_report(c, PF_FAIL, "port", fix, "%s port 1 link layer %s: RoCE needs Ethernet", dev, layer);
		return;
	}
	if (!strstr(state, "ACTIVE")) {
		pf_fmt(fix, sizeof(fix), "ip link set %s up; check the cable and the switch port (ibv_devinfo -d %s)",
			 netdev, dev);
		pf_report(c, PF_FAIL, "port", fix, "%s port 1 is %s, not ACTIVE", dev, state);
		return;
	}
	const char *colon = strchr(state, ':'); /* "4: ACTIVE" */
	pf_report(c, PF_PASS, "port", NULL, "%s port 1 %s, Ethernet (netdev %s)", dev, colon ? colon + 2 : state, netdev);
}

void pf_check_dpdk_probe(struct pf_ctx *c)
{
	char target[BT_SYSROOT_NAME_MAX] = "", path[BT_SYSROOT_PATH_MAX], ib[BT_SYSROOT_NAME_MAX], fix[320];
	const char *devargs = c->side && c->side->devargs[0] ? c->side->devargs : NULL;
	if (c->side && c->side->vdev[0]) {
		pf_report(c, PF_SKIP, "dpdk-probe", NULL, "vdev %s is not an mlx5 port (eal-probe probes it)", c->side->vdev);
		return;
	}
	if (devargs) {
		const char *name = !strncmp(devargs, "auxiliary:", 10) ? devargs + 10 : devargs;
		pf_fmt(target, sizeof(target), "%.*s", (int)strcspn(name, ","), name);
		if (strlen(target) == 7) { /* bus:dev.fn without the domain */
			char full[BT_SYSROOT_NAME_MAX];
			pf_fmt(full, sizeof(full), "0000:%s", target);
			memcpy(target, full, sizeof(target));
		}
	} else {
		for (int i = 0; i < c->n_funcs && !target[0]; i++)
			if (strlen(c->funcs[i]) > 2 && !strcmp(c->funcs[i] + strlen(c->funcs[i]) - 2, ".0"))
				pf_fmt(target, sizeof(target), "%s", c->funcs[i]);
	}
	if (!target[0]) {
		pf_report(c, PF_FAIL, "dpdk-probe", "set devargs in [dpu] (a PCI address or auxiliary:mlx5_core.sf.N)",
			  "no port for DPDK: no devargs and no mlx5 function .0");
		return;
	}
	bool sf = !strncmp(target, "mlx5_core.sf.", 13);
	pf_fmt(path, sizeof(path), sf ? "/sys/bus/auxiliary/devices/%s" : "/sys/bus/pci/devices/%s", target);
	if (!bt_sysroot_exists(&c->root, path)) {
		if (sf)
			pf_fmt(fix, sizeof(fix),
				 "mlxdevm port add pci/<PF> flavour pcisf pfnum 0 sfnum N; set its MAC; mlxdevm port function set ... state active; or fix devargs in [dpu]");
		else
			pf_fmt(fix, sizeof(fix), "lspci -d 15b3: lists the functions; fix devargs in [dpu]");
		pf_report(c, PF_FAIL, "dpdk-probe", fix, "%s does not exist", target);
		return;
	}
	if (ibdev_of(c, target, ib, sizeof(ib)) != 0) {
		pf_report(c, PF_FAIL, "dpdk-probe", "modprobe -a mlx5_ib ib_uverbs, and keep the function bound to mlx5_core",
			  "%s has no verbs device: DPDK's mlx5 PMD would fail with \"No Verbs device matches PCI device %s, are kernel drivers loaded?\"",
			  target, target);
		return;
	}
	char netdev[BT_SYSROOT_NAME_MAX] = "?";
	netdev_of(c, ib, netdev, sizeof(netdev));
	pf_report(c, PF_PASS, "dpdk-probe", NULL,
		  "%s%s -> driver net_mlx5 (verbs %s, netdev %s; indirect: from sysfs, not an EAL run)", sf ? "auxiliary:" : "",
		  target, ib, netdev);
}

/* "MLX5_1.24" -> 24 (minor); -1 otherwise. */
static int mlx5_minor(const char *tag)
{
	int minor;
	return sscanf(tag, "MLX5_1.%d", &minor) == 1 ? minor : -1;
}

void pf_check_libs(struct pf_ctx *c)
{
	char text[2048];
	int n = bt_sysroot_is_live(&c->root) && !bt_sysroot_exists(&c->root, "/bluetas/cmd/libs.txt")
			? pf_libs_live(text, sizeof(text))
			: pf_cmd_output(c, "libs.txt", NULL, text, sizeof(text));
	char dpdk_path[256] = "", dpdk_ver[64] = "", pmd[256] = "", mlx5_path[256] = "", mlx5_tag[64] = "";
	for (char *line = n > 0 ? text : NULL; line && *line;) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char kind[32], a[256], b[64];
		int got = sscanf(line, "%31s %255s %63s", kind, a, b);
		if (got >= 2 && !strcmp(kind, "dpdk")) {
			pf_fmt(dpdk_path, sizeof(dpdk_path), "%s", a);
			pf_fmt(dpdk_ver, sizeof(dpdk_ver), "%s", got == 3 ? b : "?");
		} else if (got >= 2 && !strcmp(kind, "net_mlx5")) {
			pf_fmt(pmd, sizeof(pmd), "%s", a);
		} else if (got >= 2 && !strcmp(kind, "libmlx5")) {
			pf_fmt(mlx5_path, sizeof(mlx5_path), "%s", a);
			pf_fmt(mlx5_tag, sizeof(mlx5_tag), "%s", got == 3 ? b : "");
		}
		line = next;
	}
	if (!mlx5_path[0]) {
		pf_report(c, PF_FAIL, "libs", "apt-get install ibverbs-providers (rdma-core >= 44), or use the card's DOCA image",
			  "libmlx5.so.1 (rdma-core's mlx5 provider) not found");
		return;
	}
	if (c->role == PF_ROLE_DPU) {
		if (!dpdk_path[0]) {
			pf_report(c, PF_FAIL, "libs",
				  "build on the card against its DPDK: PKG_CONFIG_PATH=/opt/mellanox/dpdk/lib/aarch64-linux-gnu/pkgconfig make",
				  "the binary resolved no DPDK (librte_eal)");
			return;
		}
		if (!pmd[0]) {
			pf_report(c, PF_FAIL, "libs", "apt-get install librte-net-mlx5-23 (or use /opt/mellanox/dpdk)",
				  "DPDK %s at %s has no mlx5 PMD (librte_net_mlx5)", dpdk_ver, dpdk_path);
			return;
		}
		if (mlx5_minor(mlx5_tag) < 24) {
			pf_report(c, PF_FAIL, "libs",
				  "rdma-core >= 44 (libmlx5 MLX5_1.24), or build against the card's DPDK under /opt/mellanox/dpdk",
				  "%s has symbol version %s, DPDK 22.11's mlx5 PMD needs MLX5_1.24 (\"version MLX5_1.24 not found\")",
				  mlx5_path, mlx5_tag[0] ? mlx5_tag : "(none)");
			return;
		}
		pf_report(c, PF_PASS, "libs", NULL, "DPDK %s (%s), net_mlx5, libmlx5 %s (%s)", dpdk_ver, dpdk_path, mlx5_tag,
			  mlx5_path);
		return;
	}
	pf_report(c, PF_PASS, "libs", NULL, "libmlx5 %s (%s)%s%s", mlx5_tag[0] ? mlx5_tag : "?", mlx5_path,
		  dpdk_ver[0] ? ", DPDK " : "", dpdk_ver);
}
