/*
 * sysroot.c: reading the machine's files through one root (sysroot.h).
 */
#include "sysroot.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bt_sysroot_init(struct bt_sysroot *r, const char *dir, char *err, size_t err_len)
{
	r->dir[0] = '\0';
	if (!dir || !strcmp(dir, "/") || !dir[0])
		return 0;
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n >= sizeof(r->dir) - 256) {
		snprintf(err, err_len, "sysroot '%s': path too long", dir);
		return -1;
	}
	struct stat st;
	if (stat(dir, &st) != 0) {
		snprintf(err, err_len, "sysroot '%s': %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, err_len, "sysroot '%s': not a directory", dir);
		return -1;
	}
	memcpy(r->dir, dir, n);
	r->dir[n] = '\0';
	return 0;
}

bool bt_sysroot_is_live(const struct bt_sysroot *r)
{
	return r->dir[0] == '\0';
}

int bt_sysroot_path(const struct bt_sysroot *r, const char *path, char *out, size_t out_len)
{
	int n = snprintf(out, out_len, "%s%s%s", r->dir, path[0] == '/' ? "" : "/", path);
	return n < 0 || (size_t)n >= out_len ? -1 : 0;
}

int bt_sysroot_read(const struct bt_sysroot *r, const char *path, char *buf, size_t buf_len)
{
	char full[BT_SYSROOT_PATH_MAX];
	if (!buf_len || bt_sysroot_path(r, path, full, sizeof(full)) != 0)
		return -1;
	FILE *f = fopen(full, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, buf_len - 1, f);
	int bad = ferror(f);
	fclose(f);
	if (bad)
		return -1;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	return (int)n;
}

int bt_sysroot_read_u64(const struct bt_sysroot *r, const char *path, unsigned long long *out)
{
	char buf[64];
	if (bt_sysroot_read(r, path, buf, sizeof(buf)) <= 0)
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 0);
	if (errno || end == buf || (*end && *end != '\n' && *end != ' '))
		return -1;
	*out = v;
	return 0;
}

bool bt_sysroot_exists(const struct bt_sysroot *r, const char *path)
{
	char full[BT_SYSROOT_PATH_MAX];
	struct stat st;
	return bt_sysroot_path(r, path, full, sizeof(full)) == 0 && lstat(full, &st) == 0;
}

int bt_sysroot_link_base(const struct bt_sysroot *r, const char *path, char *out, size_t out_len)
{
	char full[BT_SYSROOT_PATH_MAX], target[BT_SYSROOT_PATH_MAX];
	if (bt_sysroot_path(r, path, full, sizeof(full)) != 0)
		return -1;
	ssize_t n = readlink(full, target, sizeof(target) - 1);
	if (n <= 0)
		return -1;
	target[n] = '\0';
	while (n > 1 && target[n - 1] == '/')
		target[--n] = '\0';
	const char *slash = strrchr(target, '/');
	snprintf(out, out_len, "%s", slash ? slash + 1 : target);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

int bt_sysroot_list(const struct bt_sysroot *r, const char *path, char (*names)[BT_SYSROOT_NAME_MAX], int max)
{
	char full[BT_SYSROOT_PATH_MAX];
	if (bt_sysroot_path(r, path, full, sizeof(full)) != 0)
		return -1;
	DIR *d = opendir(full);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while (n < max && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || strlen(e->d_name) >= BT_SYSROOT_NAME_MAX)
			continue;
		memcpy(names[n], e->d_name, strlen(e->d_name) + 1);
		n++;
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
	return n;
}
