/*
 * preflight.c: the report lines, captured command outputs, the order of
 * the checks and the verdict (preflight.h).
 */
#include "preflight.h"

#include <stdarg.h>
#include <string.h>

static const char *const level_name[PF_LEVELS] = {"PASS", "WARN", "FAIL", "SKIP"};

int pf_fmt(char *out, size_t out_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, out_len, fmt, ap);
	va_end(ap);
	return n;
}

void pf_report(struct pf_ctx *c, enum pf_level lvl, const char *check, const char *fix, const char *fmt, ...)
{
	c->count[lvl]++;
	fprintf(c->out, "%s  %-11s ", level_name[lvl], check);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
	fputc('\n', c->out);
	if (fix)
		fprintf(c->out, "      fix: %s\n", fix);
}

int pf_cmd_output(struct pf_ctx *c, const char *name, const char *live_cmd, char *buf, size_t buf_len)
{
	char path[BT_SYSROOT_PATH_MAX];
	snprintf(path, sizeof(path), "/bluetas/cmd/%s", name);
	if (!bt_sysroot_is_live(&c->root) || !live_cmd || bt_sysroot_exists(&c->root, path))
		return bt_sysroot_read(&c->root, path, buf, buf_len);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "timeout 10 sh -c '%s' 2>/dev/null", live_cmd);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = fread(buf, 1, buf_len - 1, p);
	int rc = pclose(p);
	buf[n] = '\0';
	return rc == 0 && n > 0 ? (int)n : -1;
}

int pf_run(struct pf_ctx *c)
{
	fprintf(c->out, "bluetas preflight: role %s, root %s\n", c->role == PF_ROLE_DPU ? "dpu (ARM side)" : "host",
		bt_sysroot_is_live(&c->root) ? "/" : c->root.dir);
	pf_check_pci(c);
	pf_check_modules(c);
	if (c->n_funcs == 0) {
		/* Without any mlx5 function every later check would fail for
		 * the same reason: say it once. A port the hosts file names is
		 * still probed by the EAL (a vdev works anywhere). */
		if (c->role == PF_ROLE_DPU && c->side && (c->side->devargs[0] || c->side->vdev[0]))
			pf_check_eal_probe(c);
		fprintf(c->out, "      the remaining checks (RDMA, GID, OVS, MTU, hugepages, DPDK, ...) need an mlx5 device\n");
		fprintf(c->out, "verdict: FAIL (no mlx5 hardware)\n");
		return 1;
	}
	pf_check_devnodes(c);
	pf_check_mode(c);
	pf_check_gid(c);
	pf_check_port(c);
	pf_check_firmware(c);
	if (c->role == PF_ROLE_DPU) {
		pf_check_ovs(c);
		pf_check_mtu(c);
		pf_check_hugepages(c);
		pf_check_dpdk_probe(c);
		pf_check_eal_probe(c);
	}
	pf_check_libs(c);
	pf_check_memlock(c);
	pf_check_neighbour(c);
	pf_check_cpus(c);
	pf_check_clock(c);
	const char *verdict = c->count[PF_FAIL] ? "FAIL" : c->count[PF_WARN] ? "WARN" : "PASS";
	fprintf(c->out, "verdict: %s (%u pass, %u warn, %u fail, %u skipped)\n", verdict, c->count[PF_PASS],
		c->count[PF_WARN], c->count[PF_FAIL], c->count[PF_SKIP]);
	return c->count[PF_FAIL] ? 1 : 0;
}
