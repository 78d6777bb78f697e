/*
 * hosts.h: the hosts file, the one description of a hardware setup that
 * every hw command reads (`bluetas preflight --hosts FILE`, and the
 * promotion runner). Format (docs/hardware.md, "The hosts file"):
 *
 *     # comment (also after a value)
 *     [host]                      the x86 host: application + host library
 *     ssh      = user@host-mgmt
 *     rdma_dev = auto             or mlx5_0
 *     ip       = 192.168.50.1
 *     [dpu]                       the BlueField's ARM: the NIC daemon
 *     ssh      = ubuntu@192.168.100.2
 *     devargs  = auxiliary:mlx5_core.sf.2,class=eth
 *     rdma_dev = mlx5_2
 *     gid_index = auto
 *     wire_ip  = 192.168.60.2/24
 *     peer_ip  = 192.168.60.9
 *     arp_seed = 192.168.60.9 0c:42:a1:00:00:09
 *
 * Keys (each at most once per section): addr, ssh, devargs, vdev, netdev,
 * rdma_dev, gid_index, ip, wire_ip, mtu, peer_ip, arp_seed. The daemon's
 * port and wire (devargs, vdev, wire_ip, arp_seed) exist in [dpu] only,
 * and a port is devargs or vdev, not both. Every error names FILE:LINE and
 * the problem. The hugepage size is deliberately NOT a key:
 * it is discovered at run time (hw/hosts/discover.h), since the card's
 * 64K-page kernel uses 512 MB pages and a host 2 MB ones.
 */
#ifndef BT_HW_HOSTS_H
#define BT_HW_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BT_HOSTS_STR 128u

/* The keys, in the order of the format above (append only: the index is
 * the bit of a section's key set and the slot of its line number). */
enum bt_hosts_key {
	BT_HOSTS_ADDR,
	BT_HOSTS_SSH,
	BT_HOSTS_DEVARGS,
	BT_HOSTS_NETDEV,
	BT_HOSTS_RDMA_DEV,
	BT_HOSTS_GID_INDEX,
	BT_HOSTS_IP,
	BT_HOSTS_MTU,
	BT_HOSTS_PEER_IP,
	BT_HOSTS_ARP_SEED,
	BT_HOSTS_VDEV,
	BT_HOSTS_WIRE_IP,
	BT_HOSTS_KEYS
};

struct bt_hosts_side {
	bool present;               /* the section appeared */
	char addr[BT_HOSTS_STR];    /* management address (rshim tmfifo_net0 or OOB port) */
	char ssh[BT_HOSTS_STR];     /* ssh target, user@host; used for ssh/rsync only */
	char devargs[BT_HOSTS_STR]; /* DPDK -a: a PCI address 0000:03:00.0 or auxiliary:mlx5_core.sf.N[,...] */
	char netdev[BT_HOSTS_STR];  /* the data-plane netdev (host PF, or the ARM's SF netdev) */
	char rdma_dev[BT_HOSTS_STR];/* "auto" (default) or an RDMA device name, e.g. mlx5_2 */
	int gid_index;              /* -1 = auto: the RoCE v2 IPv4 GID found in sysfs */
	char ip[16];                /* this side's data-plane IPv4, dotted */
	uint32_t mtu;               /* 0 = not given */
	char peer_ip[16];           /* the other end of this side's traffic, dotted; "" if not given */
	bool has_arp_seed;
	char arp_seed_ip[16];       /* a static neighbour entry: the daemon's --arp IP=MAC */
	char arp_seed_mac[18];
	/* added for `bluetas nic --hosts` (hw/nicd) and `bluetas app --hosts` */
	char vdev[BT_HOSTS_STR];    /* DPDK --vdev instead of devargs: net_tap0,iface=..., net_null0 (rehearsal, tests) */
	char wire_ip[16];           /* the daemon's own IPv4 on the wire port, dotted ("" if not given) */
	int wire_prefix_len;        /* its netmask length, 1..32 (wire_ip = A.B.C.D/LEN; 24 if no /LEN) */
	unsigned line[BT_HOSTS_KEYS]; /* the line each key was given on; 0 = not given */
	unsigned section_line;      /* the line of the section header; 0 if absent */
};

struct bt_hosts {
	struct bt_hosts_side host;
	struct bt_hosts_side dpu;
	char name[256];             /* the file as errors call it (bt_hosts_parse's name) */
};

/* Defaults: both sides absent, rdma_dev "auto", gid_index -1. */
void bt_hosts_init(struct bt_hosts *h);
/* Parses text (name is what errors call the file). Returns 0, or -1 with
 * "NAME:LINE: problem" in err. */
int bt_hosts_parse(const char *text, const char *name, struct bt_hosts *out, char *err, size_t err_len);
/* Reads and parses a file (at most 64 KiB). Same contract. */
int bt_hosts_load(const char *path, struct bt_hosts *out, char *err, size_t err_len);
/* "host" or "dpu" -> that side; NULL otherwise. */
const struct bt_hosts_side *bt_hosts_side(const struct bt_hosts *h, const char *role);
/* The key's name as written in the file ("devargs"). */
const char *bt_hosts_key_name(enum bt_hosts_key k);

#endif
