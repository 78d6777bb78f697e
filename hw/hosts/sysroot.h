/*
 * sysroot.h: every file the hardware commands read about the machine
 * (sysfs, procfs, /dev, captured command outputs) is read through ONE root
 * directory. "/" is the live machine; tests and `bluetas preflight
 * --sysroot DIR` point it at a fixture tree of the same layout
 * (tests/fixtures/preflight/, docs/hardware.md).
 *
 * Paths given to these functions are absolute as seen on the machine
 * ("/sys/class/net/p0/mtu"); they are joined to the root here and nowhere
 * else, so no check can read the live machine by accident.
 */
#ifndef BT_HW_SYSROOT_H
#define BT_HW_SYSROOT_H

#include <stdbool.h>
#include <stddef.h>

#define BT_SYSROOT_PATH_MAX 1024u

struct bt_sysroot {
	char dir[BT_SYSROOT_PATH_MAX]; /* no trailing slash; "" for the live root "/" */
};

/* dir NULL or "/" = the live machine. Returns 0, or -1 with a message in
 * err when dir is not a readable directory. */
int bt_sysroot_init(struct bt_sysroot *r, const char *dir, char *err, size_t err_len);
/* True for the live machine (commands may then be run; see preflight). */
bool bt_sysroot_is_live(const struct bt_sysroot *r);
/* root + path into out. Returns 0, or -1 if it does not fit. */
int bt_sysroot_path(const struct bt_sysroot *r, const char *path, char *out, size_t out_len);
/* Reads a small text file (up to buf_len - 1 bytes), strips trailing
 * newlines/spaces. Returns its length, or -1 when missing/unreadable. */
int bt_sysroot_read(const struct bt_sysroot *r, const char *path, char *buf, size_t buf_len);
/* Reads a decimal (or 0x hex) number; -1 when missing or not a number. */
int bt_sysroot_read_u64(const struct bt_sysroot *r, const char *path, unsigned long long *out);
/* True if the path exists (a dangling symlink counts: sysfs fixtures keep
 * links whose targets are not captured). */
bool bt_sysroot_exists(const struct bt_sysroot *r, const char *path);
/* The last component of a symlink's target ("mlx5_core" for
 * .../drivers/mlx5_core). Returns 0, or -1 when path is not a symlink. */
int bt_sysroot_link_base(const struct bt_sysroot *r, const char *path, char *out, size_t out_len);

/* Directory entries of path (no "." or ".."), sorted by name, up to max;
 * each name up to BT_SYSROOT_NAME_MAX - 1 chars. Returns the count, or -1
 * when the directory is missing. */
#define BT_SYSROOT_NAME_MAX 64u
int bt_sysroot_list(const struct bt_sysroot *r, const char *path, char (*names)[BT_SYSROOT_NAME_MAX], int max);

#endif
