/*
 * discover.c: the RoCE v2 IPv4 GID and the hugepage size (discover.h).
 */
#include "discover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "0000:0000:0000:0000:0000:ffff:c0a8:3201" -> 192.168.50.1. Returns 1
 * if IPv4-mapped, 0 if another non-zero GID, -1 if all zero/unparsable. */
static int gid_ipv4(const char *gid, char *ip, size_t ip_len)
{
	unsigned g[8];
	if (sscanf(gid, "%4x:%4x:%4x:%4x:%4x:%4x:%4x:%4x", &g[0], &g[1], &g[2], &g[3], &g[4], &g[5], &g[6],
		   &g[7]) != 8)
		return -1;
	unsigned any = 0;
	for (int i = 0; i < 8; i++)
		any |= g[i];
	if (!any)
		return -1;
	if (g[0] | g[1] | g[2] | g[3] | g[4] || g[5] != 0xffff)
		return 0;
	snprintf(ip, ip_len, "%u.%u.%u.%u", (g[6] >> 8) & 0xff, g[6] & 0xff, (g[7] >> 8) & 0xff, g[7] & 0xff);
	return 1;
}

static enum bt_gid_result pick_on(const struct bt_sysroot *r, const char *dev, int want, struct bt_gid_pick *out)
{
	char path[BT_SYSROOT_PATH_MAX], buf[128], ip[16];
	snprintf(out->dev, sizeof(out->dev), "%s", dev);
	out->port = 1;
	out->gid_index = -1;
	out->ipv4[0] = '\0';
	snprintf(path, sizeof(path), "/sys/class/infiniband/%s", dev);
	if (!bt_sysroot_exists(r, path))
		return BT_GID_NO_DEVICE;
	bool any = false;
	for (int i = want >= 0 ? want : 0; i < (want >= 0 ? want + 1 : BT_GID_TABLE_MAX); i++) {
		snprintf(path, sizeof(path), "/sys/class/infiniband/%s/ports/1/gids/%d", dev, i);
		if (bt_sysroot_read(r, path, buf, sizeof(buf)) <= 0)
			continue;
		int kind = gid_ipv4(buf, ip, sizeof(ip));
		if (kind < 0)
			continue;
		any = true;
		snprintf(path, sizeof(path), "/sys/class/infiniband/%s/ports/1/gid_attrs/types/%d", dev, i);
		if (kind == 1 && bt_sysroot_read(r, path, buf, sizeof(buf)) > 0 && !strcmp(buf, "RoCE v2")) {
			out->gid_index = i;
			snprintf(out->ipv4, sizeof(out->ipv4), "%s", ip);
			return BT_GID_FOUND;
		}
	}
	return any ? BT_GID_NO_V2_IPV4 : BT_GID_EMPTY;
}

enum bt_gid_result bt_gid_pick(const struct bt_sysroot *r, const char *dev, int gid_index, struct bt_gid_pick *out)
{
	if (dev && dev[0] && strcmp(dev, "auto"))
		return pick_on(r, dev, gid_index, out);
	char names[32][BT_SYSROOT_NAME_MAX];
	int n = bt_sysroot_list(r, "/sys/class/infiniband", names, 32);
	enum bt_gid_result best = BT_GID_NO_DEVICE;
	struct bt_gid_pick best_pick;
	memset(&best_pick, 0, sizeof(best_pick));
	for (int i = 0; i < n; i++) {
		enum bt_gid_result rc = pick_on(r, names[i], gid_index, out);
		if (rc == BT_GID_FOUND)
			return rc;
		/* Keep the most telling failure: "GIDs but no v2 IPv4" (-3)
		 * over "empty table" (-2) over "no device" (-1). */
		if (rc < best) {
			best = rc;
			best_pick = *out;
		}
	}
	*out = best_pick;
	return best;
}

unsigned long bt_hugepage_default_kb(const struct bt_sysroot *r)
{
	char buf[4096];
	if (bt_sysroot_read(r, "/proc/meminfo", buf, sizeof(buf)) > 0) {
		const char *p = strstr(buf, "Hugepagesize:");
		unsigned long kb;
		if (p && sscanf(p, "Hugepagesize: %lu kB", &kb) == 1 && kb)
			return kb;
	}
	char names[8][BT_SYSROOT_NAME_MAX];
	int n = bt_sysroot_list(r, "/sys/kernel/mm/hugepages", names, 8);
	unsigned long kb;
	if (n >= 1 && sscanf(names[0], "hugepages-%lukB", &kb) == 1)
		return kb;
	return 0;
}

/* The mount point of a hugetlbfs with pages of size_kb ("pagesize=" absent
 * means the default size) from /proc/mounts. */
static void hugetlbfs_mount(const struct bt_sysroot *r, unsigned long size_kb, unsigned long default_kb, char *out,
			    size_t out_len)
{
	enum { MOUNTS_MAX = 65536 };
	char *mounts = malloc(MOUNTS_MAX);
	int n = mounts ? bt_sysroot_read(r, "/proc/mounts", mounts, MOUNTS_MAX) : -1;
	for (char *line = n > 0 ? mounts : NULL; line && *line && !out[0];) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char src[128], dir[256], type[64], opts[512];
		if (sscanf(line, "%127s %255s %63s %511s", src, dir, type, opts) == 4 && !strcmp(type, "hugetlbfs")) {
			const char *ps = strstr(opts, "pagesize=");
			unsigned long v = 0;
			char unit = 'K';
			if (ps)
				sscanf(ps + 9, "%lu%c", &v, &unit);
			unsigned long ps_kb = !ps ? default_kb : unit == 'G' ? v << 20 : unit == 'M' ? v << 10 : v;
			if (ps_kb == size_kb)
				snprintf(out, out_len, "%s", dir);
		}
		line = next;
	}
	free(mounts);
}

int bt_hugepages_find(const struct bt_sysroot *r, struct bt_hugepages *out)
{
	memset(out, 0, sizeof(*out));
	out->size_kb = bt_hugepage_default_kb(r);
	if (!out->size_kb)
		return -1;
	char path[128];
	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%lukB/nr_hugepages", out->size_kb);
	if (bt_sysroot_read_u64(r, path, &out->nr) != 0)
		out->nr = 0;
	hugetlbfs_mount(r, out->size_kb, out->size_kb, out->mount, sizeof(out->mount));
	return out->nr > 0 && out->mount[0] ? 0 : -1;
}
