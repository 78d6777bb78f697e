/*
 * checks_net.c: the OVS path host <-> ARM in DPU mode, the MTU ordering,
 * and the peer's neighbour entry (offered as a static ARP seed).
 */
#include "preflight.h"

#include <stdlib.h>
#include <string.h>

/* The SF representor on the ARM (en3f0pf0sf0 style: "pf0sf" in the name). */
static int sf_representor(struct pf_ctx *c, char *out, size_t out_len)
{
	char names[128][BT_SYSROOT_NAME_MAX];
	int n = bt_sysroot_list(&c->root, "/sys/class/net", names, 128);
	for (int i = 0; i < n; i++) {
		if (strstr(names[i], "pf0sf")) {
			pf_fmt(out, out_len, "%s", names[i]);
			return 0;
		}
	}
	return -1;
}

/* The bridge holding `port` in `ovs-vsctl show` output; "" if none. */
static void ovs_bridge_of(const char *show, const char *port, char *out, size_t out_len)
{
	char bridge[BT_SYSROOT_NAME_MAX] = "", word[64], name[128];
	out[0] = '\0';
	for (const char *line = show; line && *line;) {
		if (sscanf(line, " %63s %127s", word, name) == 2) {
			char *q = name; /* ovs-vsctl quotes some names */
			if (*q == '"') {
				q++;
				q[strcspn(q, "\"")] = '\0';
			}
			if (!strcmp(word, "Bridge"))
				pf_fmt(bridge, sizeof(bridge), "%s", q);
			else if (!strcmp(word, "Port") && !strcmp(q, port)) {
				pf_fmt(out, out_len, "%s", bridge);
				return;
			}
		}
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
}

void pf_check_ovs(struct pf_ctx *c)
{
	if (c->mode != PF_MODE_DPU) {
		pf_report(c, PF_SKIP, "ovs", NULL, "not in DPU mode: host and ARM talk without the OVS bridge");
		return;
	}
	char rep[BT_SYSROOT_NAME_MAX], fix[256];
	if (sf_representor(c, rep, sizeof(rep)) != 0) {
		pf_report(c, PF_FAIL, "ovs",
			  "create the ARM's SF: mlxdevm port add pci/0000:03:00.0 flavour pcisf pfnum 0 sfnum 0 (the DOCA image makes en3f0pf0sf0)",
			  "no SF representor (en3f0pf0sf0) on the ARM: the host cannot reach the ARM's RDMA device");
		return;
	}
	char *show = malloc(65536);
	if (show && pf_cmd_output(c, "ovs-vsctl-show.txt", "ovs-vsctl show", show, 65536) > 0) {
		char br_host[BT_SYSROOT_NAME_MAX], br_sf[BT_SYSROOT_NAME_MAX];
		ovs_bridge_of(show, "pf0hpf", br_host, sizeof(br_host));
		ovs_bridge_of(show, rep, br_sf, sizeof(br_sf));
		free(show);
		if (br_host[0] && !strcmp(br_host, br_sf)) {
			pf_report(c, PF_PASS, "ovs", NULL, "pf0hpf and %s on OVS bridge %s", rep, br_host);
			return;
		}
		const char *br = br_host[0] ? br_host : "ovsbr1";
		if (br_sf[0])
			pf_fmt(fix, sizeof(fix), "ovs-vsctl del-port %s %s; ovs-vsctl add-port %s %s", br_sf, rep, br, rep);
		else if (!br_host[0])
			pf_fmt(fix, sizeof(fix), "ovs-vsctl add-port ovsbr1 pf0hpf; ovs-vsctl add-port ovsbr1 %s", rep);
		else
			pf_fmt(fix, sizeof(fix), "ovs-vsctl add-port %s %s", br, rep);
		pf_report(c, PF_FAIL, "ovs", fix, "pf0hpf on %s, %s on %s: no path host <-> ARM", br_host[0] ? br_host : "no bridge",
			  rep, br_sf[0] ? br_sf : "no bridge");
		return;
	}
	free(show);
	/* No ovs-vsctl output: sysfs says which master each port has. */
	char m_host[BT_SYSROOT_NAME_MAX] = "", m_sf[BT_SYSROOT_NAME_MAX] = "", path[BT_SYSROOT_PATH_MAX];
	bt_sysroot_link_base(&c->root, "/sys/class/net/pf0hpf/master", m_host, sizeof(m_host));
	pf_fmt(path, sizeof(path), "/sys/class/net/%s/master", rep);
	bt_sysroot_link_base(&c->root, path, m_sf, sizeof(m_sf));
	if (!m_host[0] || !m_sf[0]) {
		pf_fmt(fix, sizeof(fix), "ovs-vsctl add-port ovsbr1 %s", !m_host[0] ? "pf0hpf" : rep);
		pf_report(c, PF_FAIL, "ovs", fix, "%s is on no bridge (no master in sysfs)", !m_host[0] ? "pf0hpf" : rep);
		return;
	}
	if (!strcmp(m_host, "ovs-system") && !strcmp(m_sf, "ovs-system")) {
		pf_report(c, PF_WARN, "ovs", "ovs-vsctl show (or capture it with --capture) to see their bridges",
			  "pf0hpf and %s are OVS ports, which bridge is unknown without ovs-vsctl", rep);
		return;
	}
	if (strcmp(m_host, m_sf)) {
		pf_fmt(fix, sizeof(fix), "put pf0hpf and %s on one bridge (ip link set %s master %s)", rep, rep, m_host);
		pf_report(c, PF_FAIL, "ovs", fix, "pf0hpf on %s, %s on %s: no path host <-> ARM", m_host, rep, m_sf);
		return;
	}
	pf_report(c, PF_PASS, "ovs", NULL, "pf0hpf and %s on bridge %s", rep, m_host);
}

static unsigned long netdev_mtu(struct pf_ctx *c, const char *netdev)
{
	char path[BT_SYSROOT_PATH_MAX];
	unsigned long long v;
	pf_fmt(path, sizeof(path), "/sys/class/net/%s/mtu", netdev);
	return bt_sysroot_read_u64(&c->root, path, &v) == 0 ? (unsigned long)v : 0;
}

void pf_check_mtu(struct pf_ctx *c)
{
	if (c->mode != PF_MODE_DPU) {
		pf_report(c, PF_SKIP, "mtu", NULL, "not in DPU mode: no bridge between host and wire");
		return;
	}
	unsigned long p0 = netdev_mtu(c, "p0"), hpf = netdev_mtu(c, "pf0hpf");
	if (!p0 || !hpf) {
		pf_report(c, PF_FAIL, "mtu", "check the DOCA image's representors: ip -br link", "cannot read the MTU of %s",
			  !p0 ? "p0 (uplink)" : "pf0hpf (host PF representor)");
		return;
	}
	unsigned long floor = p0 < hpf ? p0 : hpf;
	/* The endpoints: the host PF (from the hosts file, as the ARM cannot
	 * see it) and the ARM's own SF netdev and its representor. */
	char rep[BT_SYSROOT_NAME_MAX] = "", fix[256];
	sf_representor(c, rep, sizeof(rep));
	const char *sf_netdev = c->side && c->side->netdev[0] ? c->side->netdev : NULL;
	struct { const char *name; unsigned long mtu; } ends[3] = {
		{"host PF", c->hosts && c->hosts->host.mtu ? c->hosts->host.mtu : 0},
		{rep, rep[0] ? netdev_mtu(c, rep) : 0},
		{sf_netdev, sf_netdev ? netdev_mtu(c, sf_netdev) : 0},
	};
	for (int i = 0; i < 3; i++) {
		if (ends[i].mtu > floor) {
			pf_fmt(fix, sizeof(fix), "ip link set p0 mtu %lu; ip link set pf0hpf mtu %lu (or lower %s's to %lu)",
				 ends[i].mtu, ends[i].mtu, ends[i].name, floor);
			pf_report(c, PF_FAIL, "mtu", fix, "%s MTU %lu above the uplink p0 (%lu) or representor pf0hpf (%lu)",
				  ends[i].name, ends[i].mtu, p0, hpf);
			return;
		}
	}
	char host_mtu[48];
	if (ends[0].mtu)
		pf_fmt(host_mtu, sizeof(host_mtu), "%lu", ends[0].mtu);
	else
		pf_fmt(host_mtu, sizeof(host_mtu), "unknown (mtu in [host])");
	pf_report(c, PF_PASS, "mtu", NULL, "uplink p0 %lu, pf0hpf %lu; endpoints not above: host PF %s, %s %lu", p0, hpf,
		  host_mtu, rep[0] ? rep : "SF representor", ends[1].mtu);
}

void pf_check_neighbour(struct pf_ctx *c)
{
	const char *peer = c->side && c->side->peer_ip[0] ? c->side->peer_ip : NULL;
	if (!peer) {
		pf_report(c, PF_SKIP, "neighbour", NULL, "no peer_ip in the hosts file's [%s] section",
			  c->role == PF_ROLE_DPU ? "dpu" : "host");
		return;
	}
	if (c->side->has_arp_seed && !strcmp(c->side->arp_seed_ip, peer)) {
		pf_report(c, PF_PASS, "neighbour", NULL, "%s seeded statically: arp_seed = %s %s", peer, peer,
			  c->side->arp_seed_mac);
		return;
	}
	char *arp = malloc(65536);
	int n = arp ? bt_sysroot_read(&c->root, "/proc/net/arp", arp, 65536) : -1;
	for (char *line = n > 0 ? arp : NULL; line && *line;) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char ip[64], mac[64], dev[64];
		unsigned hw, flags;
		if (sscanf(line, "%63s 0x%x 0x%x %63s %*s %63s", ip, &hw, &flags, mac, dev) == 5 && !strcmp(ip, peer) &&
		    (flags & 0x2) && strcmp(mac, "00:00:00:00:00:00")) {
			pf_report(c, PF_PASS, "neighbour", NULL, "%s is at %s (dev %s); static seed line: arp_seed = %s %s", peer,
				  mac, dev, peer, mac);
			free(arp);
			return;
		}
		line = next;
	}
	free(arp);
	char fix[256];
	pf_fmt(fix, sizeof(fix), "ping -c1 %s, then rerun for the arp_seed line; or set arp_seed = %s MAC in [%s]", peer,
		 peer, c->role == PF_ROLE_DPU ? "dpu" : "host");
	pf_report(c, PF_WARN, "neighbour", fix, "no complete neighbour entry for peer %s in /proc/net/arp", peer);
}
