/*
 * preflight.h: `bluetas preflight`, the checks that a machine is ready to
 * run the hardware mode (docs/hardware.md has one section per check).
 *
 * Every check reads through ctx->root (hw/hosts/sysroot.h) and reports one
 * line, PASS/WARN/FAIL (or SKIP when it does not apply), with the exact fix
 * on the next line. Checks only read and report; the order and the verdict
 * are preflight.c's. Captured command outputs live in the tree under
 * /bluetas/cmd/ (mlxconfig-q.txt, ovs-vsctl-show.txt, libs.txt); on the live
 * machine they are produced at run time (pf_cmd_output).
 */
#ifndef BT_HW_PREFLIGHT_H
#define BT_HW_PREFLIGHT_H

#include <stdbool.h>
#include <stdio.h>

#include "../hosts/discover.h"
#include "../hosts/hosts.h"
#include "../hosts/sysroot.h"

enum pf_level { PF_PASS, PF_WARN, PF_FAIL, PF_SKIP, PF_LEVELS };
enum pf_role { PF_ROLE_HOST, PF_ROLE_DPU };
enum pf_mode { PF_MODE_UNKNOWN, PF_MODE_DPU, PF_MODE_SEPARATED, PF_MODE_NIC, PF_MODE_NOT_BLUEFIELD };

#define PF_MAX_FUNCS 16

struct pf_ctx {
	struct bt_sysroot root;
	enum pf_role role;
	const struct bt_hosts_side *side; /* this role's hosts-file section, or NULL */
	const struct bt_hosts *hosts;     /* NULL without --hosts */
	char device_arg[BT_SYSROOT_NAME_MAX]; /* --device, else the hosts file's rdma_dev, else "auto" */
	FILE *out;
	unsigned count[PF_LEVELS];

	/* Facts found by earlier checks for later ones. */
	int n_funcs;                                     /* mlx5 PCI functions (vendor 0x15b3) */
	char funcs[PF_MAX_FUNCS][BT_SYSROOT_NAME_MAX];   /* their addresses */
	unsigned func_device_id[PF_MAX_FUNCS];
	char card[32];                                   /* "BlueField-2", "ConnectX", ... */
	enum pf_mode mode;
	bool switchdev;                                  /* representors seen (pf0hpf): DPU mode, ARM side */
	char rdma_dev[BT_SYSROOT_NAME_MAX];              /* the device the GID check settled on, or "" */
};

/* snprintf for paths and messages built from names read off the machine:
 * a name too long is cut (the buffers fit every real sysfs name), never
 * overflowed. Returns what snprintf returns. */
int pf_fmt(char *out, size_t out_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One result line (and "      fix: ..." when fix is non-NULL). */
void pf_report(struct pf_ctx *c, enum pf_level lvl, const char *check, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* A command's output: from the tree's /bluetas/cmd/NAME, or, on the live
 * machine, by running argv-less shell command `live_cmd` (bounded by
 * timeout(1), stderr dropped). Returns the length, -1 when unavailable. */
int pf_cmd_output(struct pf_ctx *c, const char *name, const char *live_cmd, char *buf, size_t buf_len);

/* Runs every check for the role; returns the exit status (0 pass/warn, 1 fail). */
int pf_run(struct pf_ctx *c);

/* The checks, in the order pf_run calls them (files by subject). */
void pf_check_pci(struct pf_ctx *c);       /* checks_kernel.c */
void pf_check_modules(struct pf_ctx *c);
void pf_check_devnodes(struct pf_ctx *c);
void pf_check_mode(struct pf_ctx *c);
void pf_check_firmware(struct pf_ctx *c);
void pf_check_port(struct pf_ctx *c);      /* checks_rdma.c */
void pf_check_gid(struct pf_ctx *c);
void pf_check_dpdk_probe(struct pf_ctx *c);
void pf_check_eal_probe(struct pf_ctx *c);  /* eal_probe.c */
void pf_check_libs(struct pf_ctx *c);
void pf_check_ovs(struct pf_ctx *c);       /* checks_net.c */
void pf_check_mtu(struct pf_ctx *c);
void pf_check_neighbour(struct pf_ctx *c);
void pf_check_hugepages(struct pf_ctx *c); /* checks_host.c */
void pf_check_memlock(struct pf_ctx *c);
void pf_check_cpus(struct pf_ctx *c);
void pf_check_clock(struct pf_ctx *c);

/* The live libs.txt lines ("dpdk PATH VERSION", "net_mlx5 PATH",
 * "libmlx5 PATH MLX5_x.y..."), as the running binary resolves them
 * (libs_live.c). Returns the length. */
int pf_libs_live(char *buf, size_t buf_len);

/* `--capture DIR`: copies the files every check reads from c->root into
 * DIR in the same layout (capture.c). Returns 0, or 1 with a message. */
int pf_capture(const struct bt_sysroot *root, const char *dir);

#endif
