/*
 * checks_kernel.c: the PCI functions and their drivers, the kernel
 * modules, /dev/infiniband, the BlueField mode and the firmware version.
 */
#include "preflight.h"

#include <stdlib.h>
#include <string.h>

#define MLX_VENDOR 0x15b3ull

static const char *card_of(unsigned id)
{
	switch (id) {
	case 0xa2d2: return "BlueField";
	case 0xa2d6: return "BlueField-2";
	case 0xa2dc: return "BlueField-3";
	case 0xc2d2: return "BlueField-2"; /* the SoC management (rshim) function */
	case 0xc2d3: return "BlueField-3";
	default: return NULL;
	}
}

static bool is_rshim_function(const char *bdf)
{
	size_t n = strlen(bdf);
	return n >= 2 && !strcmp(bdf + n - 2, ".2");
}

void pf_check_pci(struct pf_ctx *c)
{
	char names[256][BT_SYSROOT_NAME_MAX], path[BT_SYSROOT_PATH_MAX];
	int n = bt_sysroot_list(&c->root, "/sys/bus/pci/devices", names, 256);
	pf_fmt(c->card, sizeof(c->card), "ConnectX");
	for (int i = 0; i < n && c->n_funcs < PF_MAX_FUNCS; i++) {
		unsigned long long vendor = 0, device = 0;
		pf_fmt(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", names[i]);
		if (bt_sysroot_read_u64(&c->root, path, &vendor) != 0 || vendor != MLX_VENDOR)
			continue;
		pf_fmt(path, sizeof(path), "/sys/bus/pci/devices/%s/device", names[i]);
		if (bt_sysroot_read_u64(&c->root, path, &device) != 0)
			device = 0;
		memcpy(c->funcs[c->n_funcs], names[i], BT_SYSROOT_NAME_MAX);
		c->func_device_id[c->n_funcs++] = (unsigned)device;
		if (card_of((unsigned)device))
			pf_fmt(c->card, sizeof(c->card), "%s", card_of((unsigned)device));
	}
	if (c->n_funcs == 0) {
		pf_report(c, PF_FAIL, "pci", "run preflight on the machine with the card; here the emu backends stand in (make test-rxe, docs/emu.md)",
			  "no Mellanox/NVIDIA PCI function found (vendor 0x15b3): this host has no BlueField/ConnectX");
		return;
	}
	char summary[512] = "", fix[512] = "";
	size_t used = 0;
	enum pf_level lvl = PF_PASS;
	for (int i = 0; i < c->n_funcs; i++) {
		char drv[BT_SYSROOT_NAME_MAX];
		pf_fmt(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", c->funcs[i]);
		if (bt_sysroot_link_base(&c->root, path, drv, sizeof(drv)) != 0)
			strcpy(drv, "(none)");
		bool uio = !strcmp(drv, "vfio-pci") || !strcmp(drv, "igb_uio") || !strcmp(drv, "uio_pci_generic");
		bool rshim = is_rshim_function(c->funcs[i]) && (uio || !strcmp(drv, "rshim"));
		if (uio && !rshim && lvl != PF_FAIL) {
			lvl = PF_FAIL;
			pf_fmt(fix, sizeof(fix),
				 "echo %s > /sys/bus/pci/drivers/%s/unbind; echo %s > /sys/bus/pci/drivers/mlx5_core/bind  (mlx5 is bifurcated: never dpdk-devbind it)",
				 c->funcs[i], drv, c->funcs[i]);
		} else if (!strcmp(drv, "(none)") && !is_rshim_function(c->funcs[i]) && lvl == PF_PASS) {
			lvl = PF_WARN;
			pf_fmt(fix, sizeof(fix), "modprobe mlx5_core; echo %s > /sys/bus/pci/drivers/mlx5_core/bind",
				 c->funcs[i]);
		}
		int w = pf_fmt(summary + used, sizeof(summary) - used, "%s%s %s%s", i ? ", " : "", c->funcs[i], drv,
				 rshim ? " (rshim)" : uio ? " (WRONG: mlx5 needs mlx5_core)" : "");
		if (w > 0 && (size_t)w < sizeof(summary) - used)
			used += (size_t)w;
	}
	pf_report(c, lvl, "pci", lvl == PF_PASS ? NULL : fix, "%d mlx5 function(s), %s: %s", c->n_funcs, c->card,
		  summary);
}

static bool module_loaded(struct pf_ctx *c, const char *mods, const char *name)
{
	char path[BT_SYSROOT_PATH_MAX];
	pf_fmt(path, sizeof(path), "/sys/module/%s", name);
	if (bt_sysroot_exists(&c->root, path))
		return true; /* loaded, or built into the kernel */
	size_t len = strlen(name);
	for (const char *p = mods; p && *p;) {
		if (!strncmp(p, name, len) && p[len] == ' ')
			return true;
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return false;
}

void pf_check_modules(struct pf_ctx *c)
{
	static const char *const need[] = {"mlx5_core", "mlx5_ib", "ib_uverbs", "rdma_ucm"};
	char *mods = malloc(65536);
	if (mods && bt_sysroot_read(&c->root, "/proc/modules", mods, 65536) < 0)
		mods[0] = '\0';
	char missing[128] = "";
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (!module_loaded(c, mods, need[i])) {
			strcat(missing, " ");
			strcat(missing, need[i]);
		}
	}
	free(mods);
	if (!missing[0]) {
		pf_report(c, PF_PASS, "modules", NULL, "mlx5_core mlx5_ib ib_uverbs rdma_ucm loaded");
		return;
	}
	char fix[192];
	pf_fmt(fix, sizeof(fix), "modprobe -a%s", missing);
	pf_report(c, PF_FAIL, "modules", fix, "not loaded:%s", missing);
}

void pf_check_devnodes(struct pf_ctx *c)
{
	char names[64][BT_SYSROOT_NAME_MAX];
	int n = bt_sysroot_list(&c->root, "/dev/infiniband", names, 64);
	int uverbs = 0;
	bool rdma_cm = false;
	for (int i = 0; i < n; i++) {
		uverbs += !strncmp(names[i], "uverbs", 6);
		rdma_cm |= !strcmp(names[i], "rdma_cm");
	}
	if (uverbs && rdma_cm) {
		pf_report(c, PF_PASS, "devnodes", NULL, "/dev/infiniband: %d uverbs node(s) and rdma_cm", uverbs);
		return;
	}
	pf_report(c, PF_FAIL, "devnodes",
		  "modprobe -a ib_uverbs rdma_ucm (udev then creates /dev/infiniband/uverbsN and rdma_cm)",
		  "/dev/infiniband lacks %s%s%s", uverbs ? "" : "uverbsN", !uverbs && !rdma_cm ? " and " : "",
		  rdma_cm ? "" : "rdma_cm");
}

/* The value of `key` in `mlxconfig q` output: the first token after it
 * on its line ("EMBEDDED_CPU(1)"); "" if absent. */
static void mlx_value(const char *text, const char *key, char *out, size_t out_len)
{
	out[0] = '\0';
	const char *p = text;
	size_t klen = strlen(key);
	while ((p = strstr(p, key)) != NULL) {
		bool starts = p == text || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n';
		if (starts && (p[klen] == ' ' || p[klen] == '\t')) {
			sscanf(p + klen, "%63s", out);
			(void)out_len;
			return;
		}
		p += klen;
	}
}

void pf_check_mode(struct pf_ctx *c)
{
	bool bluefield = strncmp(c->card, "BlueField", 9) == 0;
	c->switchdev = bt_sysroot_exists(&c->root, "/sys/class/net/pf0hpf");
	if (!bluefield) {
		c->mode = PF_MODE_NOT_BLUEFIELD;
		pf_report(c, PF_SKIP, "mode", NULL, "%s: no ARM cores, no BlueField mode", c->card);
		return;
	}
	const char *mst = strcmp(c->card, "BlueField-3") ? "/dev/mst/mt41686_pciconf0" : "/dev/mst/mt41692_pciconf0";
	char *q = malloc(65536), cpu_model[64] = "", offload[64] = "", dev[128];
	pf_fmt(dev, sizeof(dev), "%s", mst);
	if (q && pf_cmd_output(c, "mlxconfig-q.txt", "mst start >/dev/null; for d in /dev/mst/mt*_pciconf0; do mlxconfig -d $d q; break; done",
			       q, 65536) > 0) {
		mlx_value(q, "INTERNAL_CPU_MODEL", cpu_model, sizeof(cpu_model));
		mlx_value(q, "INTERNAL_CPU_OFFLOAD_ENGINE", offload, sizeof(offload));
		char d[128] = "";
		mlx_value(q, "Device:", d, sizeof(d));
		if (d[0])
			pf_fmt(dev, sizeof(dev), "%s", d);
	}
	free(q);
	char fix[512];
	if (!cpu_model[0] && c->role == PF_ROLE_DPU && c->switchdev) {
		c->mode = PF_MODE_DPU;
		pf_report(c, PF_PASS, "mode", NULL, "%s in DPU mode (ECPF; from sysfs: representor pf0hpf)", c->card);
		return;
	}
	if (!cpu_model[0]) {
		c->mode = PF_MODE_UNKNOWN;
		pf_fmt(fix, sizeof(fix), "mst start; mlxconfig -d %s q > mlxconfig-q.txt (or capture it: bluetas preflight --capture DIR)", dev);
		pf_report(c, PF_WARN, "mode", fix, "%s mode unknown: no mlxconfig output (INTERNAL_CPU_MODEL)%s", c->card,
			  c->role == PF_ROLE_DPU ? " and no representors" : "");
		return;
	}
	if (!strncmp(cpu_model, "SEPERATED_HOST", 14) || !strncmp(cpu_model, "SEPARATED_HOST", 14) || !strcmp(cpu_model, "0")) {
		c->mode = PF_MODE_SEPARATED;
	} else if (!strncmp(offload, "DISABLED", 8) || !strcmp(offload, "1")) {
		c->mode = PF_MODE_NIC;
		if (!strcmp(c->card, "BlueField-3"))
			pf_fmt(fix, sizeof(fix), "mlxconfig -d %s s INTERNAL_CPU_OFFLOAD_ENGINE=0, then power-cycle the host", dev);
		else
			pf_fmt(fix, sizeof(fix),
				 "mlxconfig -d %s s INTERNAL_CPU_PAGE_SUPPLIER=0 INTERNAL_CPU_ESWITCH_MANAGER=0 INTERNAL_CPU_IB_VPORT0=0 INTERNAL_CPU_OFFLOAD_ENGINE=0, then power-cycle the host",
				 dev);
		pf_report(c, PF_FAIL, "mode", fix, "%s in NIC mode (INTERNAL_CPU_OFFLOAD_ENGINE %s): the ARM cores cannot run the daemon",
			  c->card, offload);
		return;
	} else {
		c->mode = PF_MODE_DPU;
	}
	if (c->role == PF_ROLE_DPU && (c->mode == PF_MODE_DPU) != c->switchdev) {
		pf_fmt(fix, sizeof(fix), "mlxconfig shows the next boot's setting: power-cycle the host to apply it");
		pf_report(c, PF_WARN, "mode", fix, "mlxconfig says %s but the ARM %s representors (pf0hpf)", cpu_model,
			  c->switchdev ? "has" : "has no");
		return;
	}
	pf_report(c, PF_PASS, "mode", NULL, "%s in %s, INTERNAL_CPU_MODEL %s", c->card,
		  c->mode == PF_MODE_DPU ? "DPU mode (ECPF: the ARM owns the eswitch)" : "separated host mode", cpu_model);
}

/* The RDMA device to describe: the one the GID check chose, else the first. */
static int report_dev(struct pf_ctx *c, char *out, size_t out_len)
{
	if (c->rdma_dev[0]) {
		pf_fmt(out, out_len, "%s", c->rdma_dev);
		return 0;
	}
	char names[32][BT_SYSROOT_NAME_MAX];
	if (bt_sysroot_list(&c->root, "/sys/class/infiniband", names, 32) <= 0)
		return -1;
	pf_fmt(out, out_len, "%s", names[0]);
	return 0;
}

void pf_check_firmware(struct pf_ctx *c)
{
	char dev[BT_SYSROOT_NAME_MAX], path[BT_SYSROOT_PATH_MAX], fw[64];
	if (report_dev(c, dev, sizeof(dev)) != 0) {
		pf_report(c, PF_WARN, "firmware", "modprobe mlx5_ib (the version is read from /sys/class/infiniband/DEV/fw_ver)",
			  "no RDMA device to read the firmware version from");
		return;
	}
	pf_fmt(path, sizeof(path), "/sys/class/infiniband/%s/fw_ver", dev);
	if (bt_sysroot_read(&c->root, path, fw, sizeof(fw)) <= 0) {
		pf_report(c, PF_WARN, "firmware", "flint -d /dev/mst/... q shows it; check the mlx5_ib driver",
			  "%s: fw_ver unreadable", dev);
		return;
	}
	/* mlx5 firmware majors: 24 = BlueField-2, 32 = BlueField-3. */
	int major = atoi(fw);
	int want = !strcmp(c->card, "BlueField-2") ? 24 : !strcmp(c->card, "BlueField-3") ? 32 : 0;
	if (want && major != want) {
		char fix[160];
		pf_fmt(fix, sizeof(fix), "install the %s firmware from NVIDIA's DOCA/BFB bundle (mlxfwmanager --online -u)",
			 c->card);
		pf_report(c, PF_WARN, "firmware", fix, "%s firmware %s is not a %s image (expected %d.x)", dev, fw, c->card,
			  want);
		return;
	}
	pf_report(c, PF_PASS, "firmware", NULL, "%s firmware %s", dev, fw);
}
