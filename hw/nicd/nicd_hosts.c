/*
 * nicd_hosts.c: `bluetas nic --hosts FILE`. The daemon runs on the ARM,
 * so it reads the [dpu] section: the port (devargs or vdev), its own wire
 * address (wire_ip), the static ARP seed, the wire peer (peer_ip), and the
 * channel for applications on the host (ip, rdma_dev, gid_index). A
 * setting given on the command line wins; the file fills what is left
 * open. A file setting that cannot work with the result (a seed or peer
 * off the wire subnet, an "auto" RDMA device that does not carry `ip`)
 * is an error naming FILE:LINE, found here rather than at the first frame.
 */
#include <stdio.h>
#include <string.h>

#include "../../core/proto/proto.h"
#include "nicd.h"

static bool eal_names_port(const struct nic_opts *o)
{
	for (int i = 0; i < o->eal_argc; i++) {
		const char *a = o->eal_argv[i];
		if (!strncmp(a, "-a", 2) || !strncmp(a, "--allow", 7) || !strncmp(a, "--vdev", 6))
			return true;
	}
	return false;
}

static uint32_t mask_of(int len)
{
	return len <= 0 ? 0 : (uint32_t)(0xffffffffull << (32 - len));
}

/* An address the daemon reaches without a gateway: on its subnet. */
static bool on_link(const struct nic_opts *o, uint32_t ip)
{
	return (ip & o->netmask) == (o->ip & o->netmask);
}

/* The verbs listener for the host's applications: verbs:IP,dev=DEV. With
 * rdma_dev auto, DEV is the device whose RoCE v2 IPv4 GID carries IP. */
static int hosts_channel(struct nic_opts *o, const struct bt_hosts_side *s, const char *file)
{
	char dev[BT_HOSTS_STR], how[200] = "";
	snprintf(dev, sizeof(dev), "%s", s->rdma_dev);
	if (!strcmp(s->rdma_dev, "auto")) {
		struct bt_sysroot root;
		char err[256];
		if (bt_sysroot_init(&root, o->rt.sysroot, err, sizeof(err)) != 0) {
			fprintf(stderr, "bluetas nic: --sysroot: %s\n", err);
			return 2;
		}
		struct bt_gid_pick pick;
		enum bt_gid_result rc = bt_gid_pick(&root, "auto", s->gid_index, &pick);
		unsigned line = s->line[BT_HOSTS_RDMA_DEV] ? s->line[BT_HOSTS_RDMA_DEV] : s->line[BT_HOSTS_IP];
		if (rc != BT_GID_FOUND) {
			fprintf(stderr,
				"bluetas nic: %s:%u: rdma_dev auto: no RDMA device has a RoCE v2 GID with an IPv4 address "
				"(%s; bluetas preflight --role dpu says why); name one (rdma_dev = mlx5_2), or give "
				"--channel on the command line\n",
				file, line,
				rc == BT_GID_NO_DEVICE ? "no device under /sys/class/infiniband"
				: rc == BT_GID_EMPTY   ? "empty GID table"
						       : "no RoCE v2 IPv4 entry");
			return 2;
		}
		if (strcmp(pick.ipv4, s->ip)) {
			fprintf(stderr,
				"bluetas nic: %s:%u: ip = %s, but rdma_dev auto picked %s, whose RoCE v2 GID (index %d) "
				"carries %s: name the device (rdma_dev = ...) or fix ip\n",
				file, s->line[BT_HOSTS_IP], s->ip, pick.dev, pick.gid_index, pick.ipv4);
			return 2;
		}
		snprintf(dev, sizeof(dev), "%s", pick.dev);
		snprintf(how, sizeof(how), ", rdma_dev auto: %s GID index %d (RoCE v2, %s)", pick.dev, pick.gid_index,
			 pick.ipv4);
	}
	snprintf(o->hosts_channel, sizeof(o->hosts_channel), "verbs:%s,dev=%s", s->ip, dev);
	char why[256];
	if (verbs_parse_spec(o->hosts_channel, &o->chan_spec, why, sizeof(why)) < 0) {
		fprintf(stderr, "bluetas nic: %s:%u: the channel verbs:%s,dev=%s: %s\n", file, s->line[BT_HOSTS_IP], s->ip,
			dev, why);
		return 2;
	}
	o->channel = o->hosts_channel;
	/* where the setting came from, for --print-config: a long path may
	 * cut it short, which only shortens that line */
	snprintf(o->from_channel, sizeof(o->from_channel), "%.160s:%u ip%.200s", file, s->line[BT_HOSTS_IP], how);
	return 0;
}

int nicd_apply_hosts(struct nic_opts *o)
{
	char err[512];
	if (bt_hosts_load(o->rt.hosts_path, &o->hosts, err, sizeof(err)) != 0) {
		fprintf(stderr, "bluetas nic: --hosts: %s\n", err);
		return 2;
	}
	const char *file = o->hosts.name;
	const struct bt_hosts_side *s = &o->hosts.dpu;
	if (!s->present) {
		fprintf(stderr, "bluetas nic: --hosts %s: no [dpu] section (the NIC daemon's side: devargs or vdev, "
				"wire_ip, ...)\n",
			file);
		return 2;
	}

	/* The port. */
	bool cli_port = o->vdev_count > 0 || eal_names_port(o);
	if (cli_port) {
		snprintf(o->from_port, sizeof(o->from_port), "command line%s", s->devargs[0] || s->vdev[0] ? " (the hosts file's port is not used)" : "");
	} else if (s->devargs[0]) {
		o->extra_eal[o->extra_eal_count++] = "-a";
		o->extra_eal[o->extra_eal_count++] = (char *)s->devargs;
		snprintf(o->from_port, sizeof(o->from_port), "%s:%u devargs", file, s->line[BT_HOSTS_DEVARGS]);
	} else if (s->vdev[0]) {
		o->vdevs[o->vdev_count++] = s->vdev;
		snprintf(o->from_port, sizeof(o->from_port), "%s:%u vdev", file, s->line[BT_HOSTS_VDEV]);
	}

	/* The daemon's own address on the wire. */
	if (o->has_ip) {
		snprintf(o->from_ip, sizeof(o->from_ip), "command line");
	} else if (s->wire_ip[0]) {
		if (ipv4_from_str(s->wire_ip, &o->ip) < 0) /* validated by the parser */
			return 2;
		if (!o->has_netmask)
			o->netmask = mask_of(s->wire_prefix_len);
		o->has_ip = o->has_netmask = true;
		snprintf(o->from_ip, sizeof(o->from_ip), "%s:%u wire_ip", file, s->line[BT_HOSTS_WIRE_IP]);
	} else {
		fprintf(stderr, "bluetas nic: --hosts %s: [dpu] (line %u) has no wire_ip (the daemon's own address on "
				"the wire port, e.g. wire_ip = 192.168.60.2/24), and no --ip was given\n",
			file, s->section_line);
		return 2;
	}

	/* The static ARP seed: only an on-link neighbour is ever resolved. */
	if (o->arp_count) {
		snprintf(o->from_arp, sizeof(o->from_arp), "command line");
	} else if (s->has_arp_seed) {
		struct nic_static_arp *e = &o->arp[0];
		if (ipv4_from_str(s->arp_seed_ip, &e->ip) < 0 || mac_from_str(s->arp_seed_mac, e->mac) < 0)
			return 2;
		bool ip_from_file = strcmp(o->from_ip, "command line") != 0;
		if (!on_link(o, e->ip) && !(o->gateway && e->ip == o->gateway) && !ip_from_file) {
			/* --ip moved the daemon elsewhere: the file's seed is for
			 * the other subnet, so it is left out, not an error. */
			fprintf(stderr, "bluetas nic: %s:%u: arp_seed %s is off the subnet of --ip: not used\n", file,
				s->line[BT_HOSTS_ARP_SEED], s->arp_seed_ip);
		} else if (!on_link(o, e->ip) && !(o->gateway && e->ip == o->gateway)) {
			fprintf(stderr,
				"bluetas nic: %s:%u: arp_seed %s is not on the daemon's wire subnet (%s): a static entry "
				"is only used for an on-link neighbour or the gateway\n",
				file, s->line[BT_HOSTS_ARP_SEED], s->arp_seed_ip, o->from_ip);
			return 2;
		} else {
			o->arp_count = 1;
			snprintf(o->from_arp, sizeof(o->from_arp), "%s:%u arp_seed", file, s->line[BT_HOSTS_ARP_SEED]);
		}
	}

	/* The wire peer: the daemon must be able to reach it. */
	if (s->peer_ip[0]) {
		uint32_t peer;
		if (ipv4_from_str(s->peer_ip, &peer) < 0)
			return 2;
		if (!on_link(o, peer) && !o->gateway && !strcmp(o->from_ip, "command line")) {
			fprintf(stderr, "bluetas nic: %s:%u: note: peer_ip %s is off the subnet of --ip and no --gateway is given\n",
				file, s->line[BT_HOSTS_PEER_IP], s->peer_ip);
		} else if (!on_link(o, peer) && !o->gateway) {
			fprintf(stderr,
				"bluetas nic: %s:%u: peer_ip %s is not on the daemon's wire subnet (%s) and no --gateway "
				"is given: the daemon could not reach it\n",
				file, s->line[BT_HOSTS_PEER_IP], s->peer_ip, o->from_ip);
			return 2;
		}
		snprintf(o->from_peer, sizeof(o->from_peer), "%s:%u peer_ip", file, s->line[BT_HOSTS_PEER_IP]);
	}

	/* Applications on the host reach the daemon on [dpu] ip. */
	if (o->channel || o->ipc_channel)
		snprintf(o->from_channel, sizeof(o->from_channel), "command line");
	else if (s->ip[0])
		return hosts_channel(o, s, file);
	return 0;
}
