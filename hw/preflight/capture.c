/*
 * capture.c: `bluetas preflight --capture DIR` writes every file the
 * checks read (and the command outputs they use) from a root into DIR in
 * the same layout, so `bluetas preflight --sysroot DIR` on any machine
 * gives the verdicts the captured machine gives. Symlinks whose target
 * name matters (driver, master, device) stay symlinks; device nodes become
 * empty files; all-zero GID entries are left out.
 */
#define _GNU_SOURCE
#include "preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cap {
	const struct bt_sysroot *src;
	const char *dst;
	unsigned files;
	int failed; /* errno of the first write failure */
};

static int mkdir_p(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = mkdir(path, 0755);
		*p = '/';
		if (rc != 0 && errno != EEXIST)
			return -1;
	}
	return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static int write_file(struct cap *c, const char *rel, const char *data, size_t len)
{
	char out[BT_SYSROOT_PATH_MAX];
	pf_fmt(out, sizeof(out), "%s%s", c->dst, rel);
	char *slash = strrchr(out, '/');
	*slash = '\0';
	int rc = mkdir_p(out);
	*slash = '/';
	FILE *f = rc == 0 ? fopen(out, "w") : NULL;
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		if (!c->failed)
			c->failed = errno ? errno : EIO;
		return -1;
	}
	c->files++;
	return 0;
}

/* Copies one path (rel is as seen on the machine, e.g. /proc/modules). */
static void copy_one(struct cap *c, const char *rel)
{
	char in[BT_SYSROOT_PATH_MAX], out[BT_SYSROOT_PATH_MAX];
	if (bt_sysroot_path(c->src, rel, in, sizeof(in)) != 0)
		return;
	pf_fmt(out, sizeof(out), "%s%s", c->dst, rel);
	struct stat st;
	if (lstat(in, &st) != 0)
		return;
	if (S_ISLNK(st.st_mode) && (strstr(rel, "/driver") || strstr(rel, "/master") || strstr(rel, "/device"))) {
		char target[BT_SYSROOT_PATH_MAX];
		ssize_t n = readlink(in, target, sizeof(target) - 1);
		if (n <= 0)
			return;
		target[n] = '\0';
		char *slash = strrchr(out, '/');
		*slash = '\0';
		mkdir_p(out);
		*slash = '/';
		unlink(out);
		if (symlink(target, out) != 0) {
			if (!c->failed)
				c->failed = errno;
			return;
		}
		c->files++;
		return;
	}
	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		write_file(c, rel, "", 0);
		return;
	}
	if (stat(in, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (mkdir_p(out) != 0 && !c->failed)
			c->failed = errno;
		return;
	}
	char *buf = malloc(65536);
	FILE *f = buf ? fopen(in, "r") : NULL;
	size_t n = f ? fread(buf, 1, 65536, f) : 0;
	bool bad = !f || ferror(f);
	if (f)
		fclose(f);
	/* Unreadable sysfs entries (gid_attrs of empty GIDs: EINVAL) and
	 * all-zero GIDs carry nothing the checks use. */
	if (!bad && !(strstr(rel, "/gids/") && n >= 39 && !memcmp(buf, "0000:0000:0000:0000:0000:0000:0000:0000", 39)))
		write_file(c, rel, buf, n);
	free(buf);
}

static void copy_glob(struct cap *c, const char *pattern)
{
	char full[BT_SYSROOT_PATH_MAX];
	if (bt_sysroot_path(c->src, pattern, full, sizeof(full)) != 0)
		return;
	glob_t g;
	if (glob(full, 0, NULL, &g) != 0)
		return;
	size_t skip = strlen(c->src->dir);
	for (size_t i = 0; i < g.gl_pathc; i++)
		copy_one(c, g.gl_pathv[i] + skip);
	globfree(&g);
}

static void copy_mlx5_pci(struct cap *c)
{
	char names[256][BT_SYSROOT_NAME_MAX], path[BT_SYSROOT_PATH_MAX];
	int n = bt_sysroot_list(c->src, "/sys/bus/pci/devices", names, 256);
	for (int i = 0; i < n; i++) {
		unsigned long long vendor;
		if (pf_fmt(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", names[i]) >= (int)sizeof(path) ||
		    bt_sysroot_read_u64(c->src, path, &vendor) != 0 || vendor != 0x15b3)
			continue;
		static const char *const leaves[] = {"vendor", "device", "driver"};
		for (int l = 0; l < 3; l++) {
			if (pf_fmt(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", names[i], leaves[l]) < (int)sizeof(path))
				copy_one(c, path);
		}
	}
}

static void copy_clock_daemons(struct cap *c)
{
	static const char *const daemons[] = {"chronyd", "ptp4l", "phc2sys", "ntpd", "systemd-timesyn"};
	char full[BT_SYSROOT_PATH_MAX];
	if (bt_sysroot_path(c->src, "/proc/[0-9]*/comm", full, sizeof(full)) != 0)
		return;
	glob_t g;
	if (glob(full, 0, NULL, &g) != 0)
		return;
	size_t skip = strlen(c->src->dir);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		char comm[64];
		if (bt_sysroot_read(c->src, g.gl_pathv[i] + skip, comm, sizeof(comm)) <= 0)
			continue;
		for (size_t d = 0; d < sizeof(daemons) / sizeof(daemons[0]); d++)
			if (!strcmp(comm, daemons[d]))
				copy_one(c, g.gl_pathv[i] + skip);
	}
	globfree(&g);
}

int pf_capture(const struct bt_sysroot *root, const char *dir)
{
	static const char *const patterns[] = {
		"/proc/modules", "/proc/mounts", "/proc/meminfo", "/proc/net/arp", "/proc/self/limits",
		"/sys/module/mlx5_core", "/sys/module/mlx5_ib", "/sys/module/ib_uverbs", "/sys/module/rdma_ucm",
		"/dev/infiniband/*",
		"/sys/bus/auxiliary/devices/mlx5_core.sf.*",
		"/sys/class/infiniband/*", "/sys/class/net/*",
		"/sys/class/infiniband/*/fw_ver", "/sys/class/infiniband/*/device",
		"/sys/class/infiniband/*/ports/*/state", "/sys/class/infiniband/*/ports/*/link_layer",
		"/sys/class/infiniband/*/ports/*/gids/*", "/sys/class/infiniband/*/ports/*/gid_attrs/types/*",
		"/sys/class/net/*/mtu", "/sys/class/net/*/master", "/sys/class/net/*/device",
		"/sys/kernel/mm/hugepages/*/nr_hugepages", "/sys/kernel/mm/hugepages/*/free_hugepages",
		"/sys/devices/system/cpu/isolated", "/sys/devices/system/cpu/online",
		"/run/systemd/timesync/synchronized",
		"/bluetas/cmd/*",
	};
	char out[BT_SYSROOT_PATH_MAX];
	pf_fmt(out, sizeof(out), "%s", dir);
	if (mkdir_p(out) != 0) {
		fprintf(stderr, "bluetas preflight --capture: cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	struct cap c = {.src = root, .dst = dir};
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
		copy_glob(&c, patterns[i]);
	copy_mlx5_pci(&c);
	copy_clock_daemons(&c);
	if (bt_sysroot_is_live(root)) {
		/* The command outputs the checks would otherwise run. */
		struct pf_ctx ctx = {.root = *root, .out = stdout};
		char *buf = malloc(65536);
		if (buf && pf_cmd_output(&ctx, "mlxconfig-q.txt",
					 "mst start >/dev/null; for d in /dev/mst/mt*_pciconf0; do mlxconfig -d $d q; break; done",
					 buf, 65536) > 0)
			write_file(&c, "/bluetas/cmd/mlxconfig-q.txt", buf, strlen(buf));
		if (buf && pf_cmd_output(&ctx, "ovs-vsctl-show.txt", "ovs-vsctl show", buf, 65536) > 0)
			write_file(&c, "/bluetas/cmd/ovs-vsctl-show.txt", buf, strlen(buf));
		if (buf && pf_libs_live(buf, 65536) > 0)
			write_file(&c, "/bluetas/cmd/libs.txt", buf, strlen(buf));
		free(buf);
	}
	if (c.failed) {
		fprintf(stderr, "bluetas preflight --capture: writing under %s failed: %s\n", dir, strerror(c.failed));
		return 1;
	}
	printf("captured %u files into %s; check them with: bluetas preflight --sysroot %s\n", c.files, dir, dir);
	return 0;
}
