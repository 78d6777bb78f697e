/*
 * nicd_vdev_hint.c: when no --vdev device could be created, say what is
 * missing for the PMD the devargs name (DPDK's own log above says how the
 * probe failed, often in a PMD's terms): the interface net_af_packet or
 * net_af_xdp should open, /dev/net/tun for net_tap, the PMD's shared
 * object in DPDK's driver directory.
 */
#define _GNU_SOURCE
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../transports/dpdk/dpdk_netif.h"
#include "nicd.h"


/* The devargs' iface=NAME value into name (empty when absent). */
static void devargs_iface(const char *devargs, char *name, size_t cap)
{
	name[0] = '\0';
	const char *p = strstr(devargs, "iface=");
	if (!p)
		return;
	p += strlen("iface=");
	size_t n = strcspn(p, ",");
	if (n >= cap)
		n = cap - 1;
	memcpy(name, p, n);
	name[n] = '\0';
}

int nicd_vdev_hint(const char *devargs, char *out, size_t cap)
{
	char pmd[32];
	size_t n = strcspn(devargs, "0123456789,");
	if (n >= sizeof(pmd))
		n = sizeof(pmd) - 1;
	memcpy(pmd, devargs, n);
	pmd[n] = '\0';
	char dir[256];
	if (dpdk_pmd_installed(pmd, dir, sizeof(dir)) == 0)
		return snprintf(out, cap, "%s: the PMD librte_%s.so is not in %s (install DPDK's drivers: apt-get install dpdk)",
				devargs, pmd, dir);
	char iface[IF_NAMESIZE + 16];
	devargs_iface(devargs, iface, sizeof(iface));
	bool opens_iface = !strcmp(pmd, "net_af_packet") || !strcmp(pmd, "net_af_xdp");
	if (opens_iface && !iface[0])
		return snprintf(out, cap, "%s: %s needs iface=NAME, an existing interface (e.g. one end of a veth)",
				devargs, pmd);
	if (opens_iface && if_nametoindex(iface) == 0)
		return snprintf(out, cap,
				"%s: no interface '%s' in this network namespace (%s opens an existing one: make it "
				"first, e.g. ip link add %s type veth peer name OTHER)",
				devargs, iface, pmd, iface);
	if (!strcmp(pmd, "net_af_xdp"))
		return snprintf(out, cap,
				"%s: net_af_xdp needs root, a kernel with AF_XDP sockets (CONFIG_XDP_SOCKETS) and XDP on "
				"'%s', and libxdp/libbpf; DPDK's log above names the step that failed",
				devargs, iface);
	if (!strcmp(pmd, "net_af_packet"))
		return snprintf(out, cap, "%s: net_af_packet needs root or CAP_NET_ADMIN and CAP_NET_RAW", devargs);
	if (!strcmp(pmd, "net_tap") && access("/dev/net/tun", R_OK | W_OK) != 0)
		return snprintf(out, cap, "%s: net_tap needs /dev/net/tun (modprobe tun) and root or CAP_NET_ADMIN",
				devargs);
	return 0;
}
