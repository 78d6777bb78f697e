/*
 * libs_live.c: the DPDK and libmlx5 this binary resolves on the live
 * machine, in the libs.txt form the checks read (preflight.h):
 *   dpdk PATH VERSION     librte_eal as loaded (ABI major -> release)
 *   net_mlx5 PATH         the mlx5 PMD next to it, if installed
 *   libmlx5 PATH TAG      libmlx5.so.1 as the dynamic linker finds it,
 *                         TAG its newest MLX5_1.N symbol version
 */
#define _GNU_SOURCE
#include "preflight.h"

#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct found {
	char eal[512];
};

static int find_eal(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct found *f = arg;
	if (info->dlpi_name && strstr(info->dlpi_name, "librte_eal.so"))
		pf_fmt(f->eal, sizeof(f->eal), "%s", info->dlpi_name);
	return 0;
}

/* The newest "MLX5_1.N" string in the file (its version definitions). */
static int newest_mlx5_tag(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	enum { MAX_BYTES = 8 << 20 };
	char *buf = malloc(MAX_BYTES);
	size_t n = buf ? fread(buf, 1, MAX_BYTES, f) : 0;
	fclose(f);
	int best = -1;
	for (size_t i = 0; i + 8 < n; i++) {
		if (buf[i] == 'M' && !memcmp(buf + i, "MLX5_1.", 7)) {
			int v = atoi(buf + i + 7);
			if (v > best)
				best = v;
		}
	}
	free(buf);
	return best;
}

/* librte_eal ABI major -> DPDK release (DPDK's ABI policy: one per LTS). */
static const char *dpdk_release(int abi)
{
	switch (abi) {
	case 21: return "20.11";
	case 22: return "21.11";
	case 23: return "22.11";
	case 24: return "23.11";
	case 25: return "24.11";
	default: return "?";
	}
}

int pf_libs_live(char *buf, size_t buf_len)
{
	size_t used = 0;
	buf[0] = '\0';
	struct found f = {""};
	dl_iterate_phdr(find_eal, &f);
	if (f.eal[0]) {
		char real[512];
		const char *path = realpath(f.eal, real) ? real : f.eal;
		const char *so = strstr(path, ".so.");
		int abi = so ? atoi(so + 4) : 0;
		used += (size_t)pf_fmt(buf + used, buf_len - used, "dpdk %s %s\n", path, dpdk_release(abi));
		char pmd[600];
		pf_fmt(pmd, sizeof(pmd), "%.*slibrte_net_mlx5.so.%d", (int)(strrchr(path, '/') - path + 1), path, abi);
		if (used < buf_len && !access(pmd, R_OK))
			used += (size_t)pf_fmt(buf + used, buf_len - used, "net_mlx5 %s\n", pmd);
	}
	void *h = dlopen("libmlx5.so.1", RTLD_LAZY | RTLD_LOCAL);
	struct link_map *lm = NULL;
	if (h && dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name && used < buf_len) {
		char real[512];
		const char *path = realpath(lm->l_name, real) ? real : lm->l_name;
		int tag = newest_mlx5_tag(path);
		if (tag >= 0)
			used += (size_t)pf_fmt(buf + used, buf_len - used, "libmlx5 %s MLX5_1.%d\n", path, tag);
		else
			used += (size_t)pf_fmt(buf + used, buf_len - used, "libmlx5 %s\n", path);
	}
	if (h)
		dlclose(h);
	return used < buf_len ? (int)used : (int)buf_len - 1;
}
