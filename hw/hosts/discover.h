/*
 * discover.h: what the hw commands find out about the machine at run time
 * instead of being told: the RDMA device and GID index to use (RoCE v2,
 * IPv4), and the hugepage size. Everything is read through a sysroot
 * (sysroot.h), so tests run it on fixture trees.
 *
 * sysfs layout used (per the kernel's ABI docs, sysfs-class-infiniband):
 *   /sys/class/infiniband/DEV/ports/P/gids/N            "0000:...:ffff:c0a8:3201"
 *   /sys/class/infiniband/DEV/ports/P/gid_attrs/types/N "RoCE v2" | "IB/RoCE v1"
 *   /sys/kernel/mm/hugepages/hugepages-SIZEkB/nr_hugepages
 *   /proc/meminfo                                        "Hugepagesize: N kB"
 */
#ifndef BT_HW_DISCOVER_H
#define BT_HW_DISCOVER_H

#include <stddef.h>

#include "sysroot.h"

#define BT_GID_TABLE_MAX 256

enum bt_gid_result {
	BT_GID_FOUND = 0,      /* a RoCE v2 IPv4-mapped GID */
	BT_GID_NO_DEVICE = -1, /* the device (or any device, for auto) does not exist */
	BT_GID_EMPTY = -2,     /* the table is all zero: e.g. a PF in switchdev mode */
	BT_GID_NO_V2_IPV4 = -3 /* GIDs exist, none is RoCE v2 with an IPv4 address */
};

struct bt_gid_pick {
	char dev[BT_SYSROOT_NAME_MAX];
	int port;       /* always 1 here: BlueField/ConnectX RDMA devices have one port each */
	int gid_index;
	char ipv4[16];  /* the address the GID carries, dotted */
};

/* Looks up a RoCE v2 IPv4 GID on dev ("auto" or NULL: every device under
 * /sys/class/infiniband in name order, the first that has one wins; for
 * auto the result is the best failure seen). gid_index >= 0 demands that
 * index (BT_GID_NO_V2_IPV4 if it is not RoCE v2 IPv4). On failure
 * out->dev names the device the result is about (if any). */
enum bt_gid_result bt_gid_pick(const struct bt_sysroot *r, const char *dev, int gid_index, struct bt_gid_pick *out);

/* The default hugepage size in kB (/proc/meminfo Hugepagesize, else the
 * only /sys/kernel/mm/hugepages entry); 0 when there are none. */
unsigned long bt_hugepage_default_kb(const struct bt_sysroot *r);

/* The default-size hugepages as DPDK would use them: the size, how many
 * are reserved, and a hugetlbfs mounted with that page size. */
struct bt_hugepages {
	unsigned long size_kb;     /* 0: no hugepage support at all */
	unsigned long long nr;     /* reserved (nr_hugepages of that size) */
	char mount[256];           /* a hugetlbfs of that page size, "" if none */
};
/* Fills out (zeroed first); returns 0 when pages are reserved AND
 * mounted (usable), -1 otherwise (out says what is missing). */
int bt_hugepages_find(const struct bt_sysroot *r, struct bt_hugepages *out);

#endif
