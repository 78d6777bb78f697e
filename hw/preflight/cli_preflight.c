/*
 * cli_preflight.c: `bluetas preflight`: options, the hosts file, and
 * either the checks (preflight.c) or a capture (capture.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../commands.h"
#include "preflight.h"

void cli_preflight_usage(FILE *out)
{
	fprintf(out,
		"usage: bluetas preflight [--role host|dpu] [--hosts FILE] [--sysroot DIR] [--device NAME]\n"
		"       bluetas preflight --capture DIR [--sysroot DIR]\n"
		"\n"
		"Checks that this machine is ready for the hardware mode (BlueField/mlx5):\n"
		"kernel modules, /dev/infiniband, mlx5 PCI driver binding, BlueField mode,\n"
		"RoCE v2 IPv4 GID, RDMA port, firmware; on the DPU also the OVS path, MTU\n"
		"ordering, hugepages, whether DPDK's mlx5 PMD would probe the port (sysfs),\n"
		"and DPDK probing it for real (rte_eal_init on the hosts file's devargs or\n"
		"vdev only, never every PCI device, in a child bounded to 20 s); then\n"
		"the DPDK/libmlx5 the binary resolves, RLIMIT_MEMLOCK, the peer's neighbour\n"
		"entry, isolated CPUs and clock sync. One line per check (PASS/WARN/FAIL/SKIP)\n"
		"with the fix on the next, then a verdict. docs/hardware.md explains each line.\n"
		"\n"
		"  --role host|dpu   which side this machine is (default host; dpu = the ARM)\n"
		"  --hosts FILE      the hosts file (docs/hardware.md): this role's section gives\n"
		"                    rdma_dev, gid_index, devargs or vdev, netdev, peer_ip,\n"
		"                    arp_seed, mtu\n"
		"  --device NAME     the RDMA device to check (default: hosts file, else auto =\n"
		"                    the first device with a RoCE v2 IPv4 GID)\n"
		"  --sysroot DIR     read /sys, /proc, /dev and captured command outputs\n"
		"                    (DIR/bluetas/cmd/) under DIR instead of / (for fixtures)\n"
		"  --capture DIR     write the files the checks read into DIR (same layout), so\n"
		"                    `--sysroot DIR` reproduces this machine's verdicts elsewhere\n"
		"\n"
		"Exit status: 0 every check passed or warned, 1 a check failed (or the capture\n"
		"failed), 2 usage error (bad flag, unreadable hosts file or sysroot).\n");
}

int cli_preflight(int argc, char **argv)
{
	static const struct option opts[] = {
		{"role", required_argument, NULL, 'r'},    {"hosts", required_argument, NULL, 'H'},
		{"sysroot", required_argument, NULL, 's'}, {"device", required_argument, NULL, 'd'},
		{"capture", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *role = "host", *hosts_path = NULL, *sysroot = NULL, *device = NULL, *capture = NULL;
	int ch;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': role = optarg; break;
		case 'H': hosts_path = optarg; break;
		case 's': sysroot = optarg; break;
		case 'd': device = optarg; break;
		case 'c': capture = optarg; break;
		case 'h': cli_preflight_usage(stdout); return 0;
		default:
			fprintf(stderr, "bluetas preflight: %s '%s'\n", ch == ':' ? "missing value for" : "unknown option",
				argv[optind - 1]);
			cli_preflight_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bluetas preflight: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (strcmp(role, "host") && strcmp(role, "dpu")) {
		fprintf(stderr, "bluetas preflight: --role '%s': expected host or dpu\n", role);
		return 2;
	}
	if (device && (!device[0] || strlen(device) >= BT_SYSROOT_NAME_MAX || strchr(device, '/'))) {
		fprintf(stderr, "bluetas preflight: --device '%s': expected an RDMA device name like mlx5_2, or auto\n", device);
		return 2;
	}
	char err[512];
	struct pf_ctx c;
	memset(&c, 0, sizeof(c));
	c.out = stdout;
	c.role = strcmp(role, "dpu") ? PF_ROLE_HOST : PF_ROLE_DPU;
	if (bt_sysroot_init(&c.root, sysroot, err, sizeof(err)) != 0) {
		fprintf(stderr, "bluetas preflight: --sysroot: %s\n", err);
		return 2;
	}
	if (capture)
		return pf_capture(&c.root, capture);
	struct bt_hosts hosts;
	if (hosts_path) {
		if (bt_hosts_load(hosts_path, &hosts, err, sizeof(err)) != 0) {
			fprintf(stderr, "bluetas preflight: --hosts: %s\n", err);
			return 2;
		}
		c.hosts = &hosts;
		c.side = bt_hosts_side(&hosts, role);
		if (!c.side->present) {
			fprintf(stderr, "bluetas preflight: --hosts %s has no [%s] section for --role %s\n", hosts_path, role, role);
			return 2;
		}
	}
	pf_fmt(c.device_arg, sizeof(c.device_arg), "%s",
		 device ? device : c.side && c.side->rdma_dev[0] ? c.side->rdma_dev : "auto");
	return pf_run(&c);
}
