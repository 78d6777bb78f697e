/*
 * nicd_opts.c: `bluetas nic --help`, the option parser and the defaults.
 * Every flag is validated here with a message naming it (exit 2), so
 * setup only meets options that make sense together. tests/interop/run.sh
 * checks that each long option of the table below is in --help and in
 * docs/dpdk.md.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/proto/proto.h"
#include "../../sim/cli/cli.h"
#include "nicd.h"

void cli_nic_usage(FILE *out)
{
	fprintf(out,
		"usage: bluetas nic [OPTIONS] [-- EAL_ARGS...]\n"
		"\n"
		"Runs the NIC fast path and slow path on a DPDK port, with an application\n"
		"(echo, sink or source) in the same process over the shm channel, and/or, with\n"
		"--channel, any number of applications in other processes (`bluetas app`) over\n"
		"the RDMA verbs channel, busy-polling one core until the work is done,\n"
		"--duration-s passes, or SIGINT/SIGTERM.\n"
		"EAL arguments after `--` go to rte_eal_init unchanged; bluetas adds\n"
		"--no-huge -m 256 --no-shconf --no-telemetry (and --no-pci when only virtual\n"
		"devices are used) unless those arguments choose otherwise; for a hardware\n"
		"port (-a) it uses hugepages of the size the machine has (--in-memory -m N\n"
		"--huge-dir DIR), and --no-pci for an SF alone. A port must be named (--vdev,\n"
		"-a or --hosts): DPDK is never left to probe every PCI device. Exit status: 0\n"
		"the work finished cleanly, 1 a failure (EAL, port, connection, a --pcap file\n"
		"that could not be written), 2 usage error.\n"
		"\n"
		"port:\n"
		"  --vdev DEVARGS         add a DPDK virtual device (repeatable), e.g.\n"
		"                         net_tap0,iface=dtap0 | net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap\n"
		"                         | net_af_packet0,iface=veth1 | net_af_xdp0,iface=veth1;\n"
		"                         hardware: EAL -a PCI_ADDR\n"
		"  --port NAME|N          the ethdev port to use (default: the first one)\n"
		"  --mbufs N              mbuf pool size (default 8191; mind -m with --no-huge)\n"
		"  --rx-desc N, --tx-desc N  descriptor ring sizes (default 1024)\n"
		"  --mtu N                set the port MTU, 68..9000 (default: leave it; MSS follows)\n"
		"  --promisc              receive every frame (automatic when --mac is not the\n"
		"                         port's address and the PMD has no address filter)\n"
		"  --partial-csum auto|on|off  complete PARTIAL TCP checksums a kernel left for\n"
		"                         offload (auto: on for net_af_packet, net_af_xdp)\n"
		"  --eal-mem-mb N         -m for the default --no-huge memory (default 256)\n"
		"\n"
		"addresses:\n"
		"  --ip A.B.C.D[/LEN]     the stack's IPv4 address (required); /LEN sets the netmask\n"
		"  --netmask A.B.C.D      (default 255.255.255.0)\n"
		"  --gateway A.B.C.D      next hop off the subnet (default: none, unreachable)\n"
		"  --mac XX:XX:XX:XX:XX:XX  the stack's MAC (default: the port's)\n"
		"  --arp IP=MAC           static ARP entry (repeatable, up to 32); every other\n"
		"                         neighbour is resolved with ARP\n"
		"\n"
		"stack:\n"
		"  --mss N                maximum segment size, 64..9000 (default MTU - 52)\n"
		"  --max-flows N          NIC flow table size (default 4096)\n"
		"  --max-conns N          application connection slots (default 64)\n"
		"  --ring-bytes N         per-connection RX and TX ring, K/M suffixes (default 256K)\n"
		"  --cc dctcp|none        congestion control (default dctcp)\n"
		"  --no-ecn               do not negotiate ECN\n"
		"  --delayed-ack-us N     bound on ACK delay, 0 = ACK every segment (default 200)\n"
		"  --rto-min-ms N         minimum retransmission timeout (default 50: above Linux's\n"
		"                         40 ms delayed ACK, so a delayed ACK is not taken for a loss)\n"
		"  --isn-seed N           initial sequence number seed (default: random)\n"
		"  --inject-bug drop-wakeups  a negative control: forget every WAKEUP owed to an\n"
		"                         application (its waits then end by their timeout with\n"
		"                         events pending: tests/rxe/wake.sh)\n"
		"\n"
		"application (an option for another --app than the chosen one is refused):\n"
		"  --app echo|sink|source the in-process application. echo: send back what\n"
		"                         arrives; sink: read to EOF and print bytes and sha256 per\n"
		"                         connection; source: connect, send, close, print bytes and\n"
		"                         sha256 (default echo; none when --channel is given)\n"
		"  --listen N             echo/sink port (default 7 echo, 9 sink)\n"
		"  --backlog N            accept backlog (default 32)\n"
		"  --connect IP:PORT      source: the peer to send to\n"
		"  --bytes N              source: stream length, K/M/G suffixes (default 64M)\n"
		"  --file PATH            source: send this file instead of the pattern\n"
		"  --seed N               source: pattern seed (default 1)\n"
		"  --connect-retry-s N    source: retry a refused/unanswered connect this long (default 10)\n"
		"  --exit-after-conns N   echo/sink: exit once N connections have finished\n"
		"\n"
		"external applications (RDMA verbs channel, `bluetas app --channel ...`):\n"
		"  --channel verbs:ADDR[:PORT][,dev=NAME][,sq=N][,msg=N]\n"
		"                         listen for applications on ADDR (an address of an RDMA\n"
		"                         device: rxe, mlx5), PORT default %u; dev= insists on that\n"
		"                         device; sq=/msg= size each channel. Any number of\n"
		"                         applications (up to %d, the in-process one included);\n"
		"                         each attaches on connect and is detached, its connections\n"
		"                         reset, when its channel breaks. Without --app, no\n"
		"                         in-process application runs\n"
		"  --channel ipc:PATH     listen for applications on this host (shared memory,\n"
		"                         `bluetas app --channel ipc:PATH` or LD_PRELOAD=\n"
		"                         libbluetas_preload.so): a Unix socket at PATH; may be\n"
		"                         given next to a verbs channel\n"
		"  --exit-after-apps N    exit once N external applications have detached and\n"
		"                         none is attached\n"
		"\n"
		"hardware configuration (docs/hardware.md):\n"
		"  --hosts FILE           take the [dpu] section of a hosts file: the port (devargs =\n"
		"                         PCI address or auxiliary:mlx5_core.sf.N,class=eth, or vdev),\n"
		"                         wire_ip (--ip), arp_seed (--arp), peer_ip (checked to be\n"
		"                         reachable), and ip + rdma_dev (auto: the device whose RoCE v2\n"
		"                         IPv4 GID carries ip) as the verbs channel's listener. Options\n"
		"                         given here override the file\n"
		"  --sysroot DIR          read /sys and /proc under DIR when discovering the RDMA device\n"
		"                         and the hugepage size (default /; for fixtures)\n"
		"  --print-config         print every setting, where it came from, and the EAL\n"
		"                         arguments; run nothing\n"
		"\n"
		"run:\n"
		"  --duration-s N         stop after N seconds (default: until done or a signal)\n"
		"  --yield-polls N        give the CPU to whatever else is runnable on it\n"
		"                         (sched_yield) after N empty polls in a row (default 64;\n"
		"                         0: never)\n"
		"  --idle-sleep-us N      once no poll found work for N us, sleep N us before\n"
		"                         each next poll until one does (default 0: poll\n"
		"                         without sleeping); costs up to N us of latency after\n"
		"                         an idle gap, saves the CPU an idle daemon spins on\n"
		"  --stats                print every counter at exit (stat.NAME=VALUE lines)\n"
		"  --hops FILE            record the NIC's half of every RPC's hops (the first 1 Mi)\n"
		"                         into FILE at exit; `bluetas hops APPFILE FILE` joins it with\n"
		"                         an application's (`bluetas app --hops APPFILE`)\n"
		"  --pcap FILE            record every frame received or sent on the port (pcap, ns)\n"
		"\n"
		"software fault injection on the DPDK netif (parts per million):\n"
		"  --fault-rx-loss-ppm N, --fault-tx-loss-ppm N   drop frames\n"
		"  --fault-reorder-ppm N  hold a received frame until after the next one\n"
		"  --fault-jitter-us N    delay received frames by up to N us (reorders too)\n"
		"  --fault-dup-ppm N      duplicate frames (both directions)\n"
		"  --fault-corrupt-ppm N  flip a byte past the IPv4 header (both directions)\n"
		"  --fault-seed N         fault decisions' seed (default 1)\n"
		"  -h, --help             this help\n"
		"\n"
		"example (peer namespace has the tap's kernel side, 10.77.0.1/24):\n"
		"  bluetas nic --vdev net_tap0,iface=dtap0 --ip 10.77.0.2/24 --app sink --stats\n"
		"  bluetas nic --vdev net_tap0,iface=dtap0 --ip 10.77.0.2/24 --channel verbs:10.10.0.2\n",
		VERBS_DEFAULT_PORT, NIC_MAX_APPS);
}

/* ---- option parsing ---- */

static int parse_ip(const char *flag, const char *text, uint32_t *out)
{
	if (ipv4_from_str(text, out) < 0) {
		fprintf(stderr, "bluetas nic: %s: '%s' is not an IPv4 address (A.B.C.D)\n", flag, text);
		return -1;
	}
	return 0;
}

static int parse_mac(const char *flag, const char *text, uint8_t mac[6])
{
	if (mac_from_str(text, mac) < 0) {
		fprintf(stderr, "bluetas nic: %s: '%s' is not a MAC address (xx:xx:xx:xx:xx:xx)\n", flag, text);
		return -1;
	}
	return 0;
}

static int parse_ip_prefix(const char *text, struct nic_opts *o)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", text);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = 0;
	if (parse_ip("--ip", buf, &o->ip) < 0)
		return -1;
	if (slash) {
		uint64_t len;
		if (cli_parse_u64("--ip prefix length", slash + 1, 1, 32, &len) < 0)
			return -1;
		o->netmask = (uint32_t)(0xffffffffull << (32 - len));
		o->has_netmask = true;
	}
	o->has_ip = true;
	return 0;
}

static int parse_arp(const char *text, struct nic_opts *o)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", text);
	char *eq = strchr(buf, '=');
	if (!eq) {
		fprintf(stderr, "bluetas nic: --arp: expected IP=MAC, got '%s'\n", text);
		return -1;
	}
	*eq = 0;
	if (o->arp_count >= NIC_MAX_STATIC_ARP) {
		fprintf(stderr, "bluetas nic: --arp: at most %d static entries\n", NIC_MAX_STATIC_ARP);
		return -1;
	}
	struct nic_static_arp *e = &o->arp[o->arp_count];
	if (parse_ip("--arp", buf, &e->ip) < 0 || parse_mac("--arp", eq + 1, e->mac) < 0)
		return -1;
	o->arp_count++;
	return 0;
}

static int parse_u32(const char *flag, const char *text, uint64_t min, uint64_t max, uint32_t *out)
{
	uint64_t v;
	if (cli_parse_u64(flag, text, min, max, &v) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_u16(const char *flag, const char *text, uint64_t min, uint64_t max, uint16_t *out)
{
	uint64_t v;
	if (cli_parse_u64(flag, text, min, max, &v) < 0)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

enum {
	OPT_VDEV = 256,
	OPT_PORT,
	OPT_MBUFS,
	OPT_RX_DESC,
	OPT_TX_DESC,
	OPT_MTU,
	OPT_PROMISC,
	OPT_PARTIAL_CSUM,
	OPT_EAL_MEM,
	OPT_IP,
	OPT_NETMASK,
	OPT_GATEWAY,
	OPT_MAC,
	OPT_ARP,
	OPT_MSS,
	OPT_MAX_FLOWS,
	OPT_MAX_CONNS,
	OPT_RING,
	OPT_CC,
	OPT_NO_ECN,
	OPT_DELACK,
	OPT_RTO_MIN,
	OPT_ISN_SEED,
	OPT_INJECT_BUG,
	OPT_APP,
	OPT_LISTEN,
	OPT_BACKLOG,
	OPT_CONNECT,
	OPT_BYTES,
	OPT_FILE,
	OPT_SEED,
	OPT_CONNECT_RETRY,
	OPT_EXIT_AFTER,
	OPT_DURATION,
	OPT_YIELD_POLLS,
	OPT_IDLE_SLEEP,
	OPT_PCAP,
	OPT_F_RX_LOSS,
	OPT_F_TX_LOSS,
	OPT_F_REORDER,
	OPT_F_JITTER,
	OPT_F_DUP,
	OPT_F_CORRUPT,
	OPT_F_SEED,
	OPT_CHANNEL,
	OPT_EXIT_AFTER_APPS,
	OPT_END
};

/* Options that mean something only for some in-process applications:
 * given for another one they would be silently ignored, so they are a
 * usage error naming the option and the application. */
static const struct rt_app_only app_only_opts[] = {
	{OPT_LISTEN, "--listen", 1u << APP_ECHO | 1u << APP_SINK, "echo or sink"},
	{OPT_BACKLOG, "--backlog", 1u << APP_ECHO | 1u << APP_SINK, "echo or sink"},
	{OPT_EXIT_AFTER, "--exit-after-conns", 1u << APP_ECHO | 1u << APP_SINK, "echo or sink"},
	{OPT_CONNECT, "--connect", 1u << APP_SOURCE, "source"},
	{OPT_BYTES, "--bytes", 1u << APP_SOURCE, "source"},
	{OPT_FILE, "--file", 1u << APP_SOURCE, "source"},
	{OPT_SEED, "--seed", 1u << APP_SOURCE, "source"},
	{OPT_CONNECT_RETRY, "--connect-retry-s", 1u << APP_SOURCE, "source"},
};

int nicd_parse_opts(int argc, char **argv, struct nic_opts *o)
{
	static const struct option opts[] = {
		{"vdev", required_argument, 0, OPT_VDEV},
		{"port", required_argument, 0, OPT_PORT},
		{"mbufs", required_argument, 0, OPT_MBUFS},
		{"rx-desc", required_argument, 0, OPT_RX_DESC},
		{"tx-desc", required_argument, 0, OPT_TX_DESC},
		{"mtu", required_argument, 0, OPT_MTU},
		{"promisc", no_argument, 0, OPT_PROMISC},
		{"partial-csum", required_argument, 0, OPT_PARTIAL_CSUM},
		{"eal-mem-mb", required_argument, 0, OPT_EAL_MEM},
		{"ip", required_argument, 0, OPT_IP},
		{"netmask", required_argument, 0, OPT_NETMASK},
		{"gateway", required_argument, 0, OPT_GATEWAY},
		{"mac", required_argument, 0, OPT_MAC},
		{"arp", required_argument, 0, OPT_ARP},
		{"mss", required_argument, 0, OPT_MSS},
		{"max-flows", required_argument, 0, OPT_MAX_FLOWS},
		{"max-conns", required_argument, 0, OPT_MAX_CONNS},
		{"ring-bytes", required_argument, 0, OPT_RING},
		{"cc", required_argument, 0, OPT_CC},
		{"no-ecn", no_argument, 0, OPT_NO_ECN},
		{"delayed-ack-us", required_argument, 0, OPT_DELACK},
		{"rto-min-ms", required_argument, 0, OPT_RTO_MIN},
		{"isn-seed", required_argument, 0, OPT_ISN_SEED},
		{"inject-bug", required_argument, 0, OPT_INJECT_BUG},
		{"app", required_argument, 0, OPT_APP},
		{"listen", required_argument, 0, OPT_LISTEN},
		{"backlog", required_argument, 0, OPT_BACKLOG},
		{"connect", required_argument, 0, OPT_CONNECT},
		{"bytes", required_argument, 0, OPT_BYTES},
		{"file", required_argument, 0, OPT_FILE},
		{"seed", required_argument, 0, OPT_SEED},
		{"connect-retry-s", required_argument, 0, OPT_CONNECT_RETRY},
		{"exit-after-conns", required_argument, 0, OPT_EXIT_AFTER},
		{"duration-s", required_argument, 0, OPT_DURATION},
		{"yield-polls", required_argument, 0, OPT_YIELD_POLLS},
		{"idle-sleep-us", required_argument, 0, OPT_IDLE_SLEEP},
		{"pcap", required_argument, 0, OPT_PCAP},
		{"fault-rx-loss-ppm", required_argument, 0, OPT_F_RX_LOSS},
		{"fault-tx-loss-ppm", required_argument, 0, OPT_F_TX_LOSS},
		{"fault-reorder-ppm", required_argument, 0, OPT_F_REORDER},
		{"fault-jitter-us", required_argument, 0, OPT_F_JITTER},
		{"fault-dup-ppm", required_argument, 0, OPT_F_DUP},
		{"fault-corrupt-ppm", required_argument, 0, OPT_F_CORRUPT},
		{"fault-seed", required_argument, 0, OPT_F_SEED},
		{"channel", required_argument, 0, OPT_CHANNEL},
		{"exit-after-apps", required_argument, 0, OPT_EXIT_AFTER_APPS},
		RT_OPTS_LONGOPTS,
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	uint64_t v;
	uint32_t ppm;
	int c;
	bool given[OPT_END - 256];
	memset(given, 0, sizeof(given));
	optind = 1;
	opterr = 0;
	/* '+': stop at the first non-option, so EAL arguments after `--`
	 * (and only those) are left for rte_eal_init. */
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		if (rt_opts_take(c, optarg, &o->rt))
			continue;
		if (c >= 256 && c < OPT_END)
			given[c - 256] = true;
		switch (c) {
		case OPT_VDEV:
			if (o->vdev_count >= NIC_MAX_VDEVS) {
				fprintf(stderr, "bluetas nic: --vdev: at most %d devices\n", NIC_MAX_VDEVS);
				return 2;
			}
			o->vdevs[o->vdev_count++] = optarg;
			break;
		case OPT_PORT:
			o->port = optarg;
			break;
		case OPT_MBUFS:
			if (parse_u32("--mbufs", optarg, 1024, 1u << 20, &o->mbufs) < 0)
				return 2;
			break;
		case OPT_RX_DESC:
			if (parse_u16("--rx-desc", optarg, 32, 16384, &o->rx_desc) < 0)
				return 2;
			break;
		case OPT_TX_DESC:
			if (parse_u16("--tx-desc", optarg, 32, 16384, &o->tx_desc) < 0)
				return 2;
			break;
		case OPT_MTU:
			if (parse_u16("--mtu", optarg, 68, 9000, &o->mtu) < 0)
				return 2;
			break;
		case OPT_PROMISC:
			o->promisc = true;
			break;
		case OPT_PARTIAL_CSUM:
			if (!strcmp(optarg, "auto"))
				o->partial_csum = DPDK_PARTIAL_CSUM_AUTO;
			else if (!strcmp(optarg, "on"))
				o->partial_csum = DPDK_PARTIAL_CSUM_ON;
			else if (!strcmp(optarg, "off"))
				o->partial_csum = DPDK_PARTIAL_CSUM_OFF;
			else {
				fprintf(stderr, "bluetas nic: --partial-csum: expected auto, on or off, got '%s'\n", optarg);
				return 2;
			}
			break;
		case OPT_EAL_MEM:
			if (parse_u32("--eal-mem-mb", optarg, 64, 65536, &o->eal_mem_mb) < 0)
				return 2;
			break;
		case OPT_IP:
			if (parse_ip_prefix(optarg, o) < 0)
				return 2;
			break;
		case OPT_NETMASK:
			if (parse_ip("--netmask", optarg, &o->netmask) < 0)
				return 2;
			/* The same masks as --ip A.B.C.D/LEN takes (LEN 1..32): 0.0.0.0
			 * would put every IPv4 address on the link. */
			if (!o->netmask || (~o->netmask & (~o->netmask + 1))) {
				fprintf(stderr,
					"bluetas nic: --netmask: '%s' is not a contiguous mask of 1..32 bits (as /1../32)\n",
					optarg);
				return 2;
			}
			o->has_netmask = true;
			break;
		case OPT_GATEWAY:
			if (parse_ip("--gateway", optarg, &o->gateway) < 0)
				return 2;
			break;
		case OPT_MAC:
			if (parse_mac("--mac", optarg, o->mac) < 0)
				return 2;
			if (o->mac[0] & 1) {
				fprintf(stderr, "bluetas nic: --mac: '%s' is a multicast address\n", optarg);
				return 2;
			}
			o->has_mac = true;
			break;
		case OPT_ARP:
			if (parse_arp(optarg, o) < 0)
				return 2;
			break;
		case OPT_MSS:
			if (parse_u16("--mss", optarg, 64, 9000, &o->mss) < 0)
				return 2;
			break;
		case OPT_MAX_FLOWS:
			if (parse_u32("--max-flows", optarg, 1, 1u << 22, &o->max_flows) < 0)
				return 2;
			break;
		case OPT_MAX_CONNS:
			if (parse_u32("--max-conns", optarg, 1, 65536, &o->max_conns) < 0)
				return 2;
			break;
		case OPT_RING:
			if (parse_u32("--ring-bytes", optarg, 4096, 1u << 28, &o->ring_bytes) < 0)
				return 2;
			break;
		case OPT_CC:
			if (!strcmp(optarg, "dctcp"))
				o->cc = NIC_CC_DCTCP;
			else if (!strcmp(optarg, "none"))
				o->cc = NIC_CC_NONE;
			else {
				fprintf(stderr, "bluetas nic: --cc: expected dctcp or none, got '%s'\n", optarg);
				return 2;
			}
			break;
		case OPT_NO_ECN:
			o->no_ecn = true;
			break;
		case OPT_DELACK:
			if (cli_parse_u64("--delayed-ack-us", optarg, 0, 1000000, &v) < 0)
				return 2;
			o->delayed_ack_ns = v * 1000;
			o->has_delayed_ack = true;
			break;
		case OPT_RTO_MIN:
			if (cli_parse_u64("--rto-min-ms", optarg, 1, 60000, &v) < 0)
				return 2;
			o->rto_min_ns = v * 1000000;
			o->has_rto_min = true;
			break;
		case OPT_ISN_SEED:
			if (parse_u32("--isn-seed", optarg, 0, UINT32_MAX, &o->isn_seed) < 0)
				return 2;
			o->has_isn_seed = true;
			break;
		case OPT_INJECT_BUG:
			if (strcmp(optarg, "drop-wakeups")) {
				fprintf(stderr, "bluetas nic: --inject-bug: expected drop-wakeups, got '%s'\n", optarg);
				return 2;
			}
			o->inject_bugs |= NIC_BUG_DROP_WAKEUPS;
			break;
		case OPT_APP:
			if (!strcmp(optarg, "echo"))
				o->app = APP_ECHO;
			else if (!strcmp(optarg, "sink"))
				o->app = APP_SINK;
			else if (!strcmp(optarg, "source"))
				o->app = APP_SOURCE;
			else {
				fprintf(stderr, "bluetas nic: --app: expected echo, sink or source, got '%s'\n", optarg);
				return 2;
			}
			o->has_app = true;
			break;
		case OPT_CHANNEL: {
			char why[256];
			if (!strncmp(optarg, "ipc:", 4)) {
				if (o->ipc_channel) {
					fprintf(stderr, "bluetas nic: --channel: one ipc channel at most\n");
					return 2;
				}
				if (ipc_parse_spec(optarg, &o->ipc_spec, why, sizeof(why)) < 0) {
					fprintf(stderr, "bluetas nic: --channel: %s\n", why);
					return 2;
				}
				o->ipc_channel = optarg;
				break;
			}
			if (o->channel) {
				fprintf(stderr, "bluetas nic: --channel: one verbs channel at most\n");
				return 2;
			}
			if (verbs_parse_spec(optarg, &o->chan_spec, why, sizeof(why)) < 0) {
				fprintf(stderr, "bluetas nic: --channel: %s\n", why);
				return 2;
			}
			if (o->chan_spec.src[0] || o->chan_spec.gid_index >= 0) {
				fprintf(stderr, "bluetas nic: --channel: %s= applies to `bluetas app` (the connecting side), "
						"not to the daemon's listener\n",
					o->chan_spec.src[0] ? "src" : "gid");
				return 2;
			}
			o->channel = optarg;
			break;
		}
		case OPT_EXIT_AFTER_APPS:
			if (cli_parse_u64("--exit-after-apps", optarg, 1, UINT32_MAX, &o->exit_after_apps) < 0)
				return 2;
			break;
		case OPT_LISTEN:
			if (parse_u16("--listen", optarg, 1, 65535, &o->listen_port) < 0)
				return 2;
			break;
		case OPT_BACKLOG:
			if (parse_u32("--backlog", optarg, 1, 65536, &o->backlog) < 0)
				return 2;
			break;
		case OPT_CONNECT:
			if (cli_parse_endpoint("--connect", optarg, &o->remote_ip, &o->remote_port) < 0)
				return 2;
			break;
		case OPT_BYTES:
			if (cli_parse_u64("--bytes", optarg, 0, 1ull << 46, &o->bytes) < 0)
				return 2;
			break;
		case OPT_FILE:
			o->file = optarg;
			break;
		case OPT_SEED:
			if (cli_parse_u64("--seed", optarg, 0, UINT64_MAX, &o->seed) < 0)
				return 2;
			break;
		case OPT_CONNECT_RETRY:
			if (cli_parse_u64("--connect-retry-s", optarg, 0, 3600, &v) < 0)
				return 2;
			o->connect_retry_ns = v * NS_PER_S;
			break;
		case OPT_EXIT_AFTER:
			if (cli_parse_u64("--exit-after-conns", optarg, 1, UINT32_MAX, &o->exit_after_conns) < 0)
				return 2;
			break;
		case OPT_DURATION:
			if (cli_parse_u64("--duration-s", optarg, 1, 1000000, &v) < 0)
				return 2;
			o->duration_ns = v * NS_PER_S;
			break;
		case OPT_YIELD_POLLS:
			if (cli_parse_u64("--yield-polls", optarg, 0, 1u << 30, &v) < 0)
				return 2;
			o->yield_polls = (uint32_t)v;
			break;
		case OPT_IDLE_SLEEP:
			if (cli_parse_u64("--idle-sleep-us", optarg, 0, 1000000, &v) < 0)
				return 2;
			o->idle_sleep_ns = v * 1000;
			break;
		case OPT_PCAP:
			o->pcap = optarg;
			break;
		case OPT_F_RX_LOSS:
		case OPT_F_TX_LOSS:
		case OPT_F_REORDER:
		case OPT_F_DUP:
		case OPT_F_CORRUPT: {
			if (parse_u32(c == OPT_F_RX_LOSS	   ? "--fault-rx-loss-ppm"
				      : c == OPT_F_TX_LOSS ? "--fault-tx-loss-ppm"
				      : c == OPT_F_REORDER ? "--fault-reorder-ppm"
				      : c == OPT_F_DUP	   ? "--fault-dup-ppm"
							   : "--fault-corrupt-ppm",
				      optarg, 0, NETIF_FAULT_PPM, &ppm) < 0)
				return 2;
			if (c == OPT_F_RX_LOSS)
				o->fault.rx.loss_ppm = ppm;
			else if (c == OPT_F_TX_LOSS)
				o->fault.tx.loss_ppm = ppm;
			else if (c == OPT_F_REORDER)
				o->fault.rx.reorder_ppm = ppm;
			else if (c == OPT_F_DUP)
				o->fault.rx.duplicate_ppm = o->fault.tx.duplicate_ppm = ppm;
			else
				o->fault.rx.corrupt_ppm = o->fault.tx.corrupt_ppm = ppm;
			o->fault_on = true;
			break;
		}
		case OPT_F_JITTER:
			if (cli_parse_u64("--fault-jitter-us", optarg, 0, 1000000, &v) < 0)
				return 2;
			o->fault.rx.jitter_ns = v * 1000;
			o->fault_on = true;
			break;
		case OPT_F_SEED:
			if (cli_parse_u64("--fault-seed", optarg, 0, UINT64_MAX, &o->fault.seed) < 0)
				return 2;
			break;
		case 'h':
			cli_nic_usage(stdout);
			return 1;
		default: /* ':' a value missing, '?' an unknown option */
			cli_opt_error("nic", c, argv);
			return 2;
		}
	}
	/* Everything after `--` belongs to the EAL; anything else left over
	 * is a mistake we name rather than pass on silently. */
	if (optind < argc && strcmp(argv[optind - 1], "--") != 0) {
		fprintf(stderr, "bluetas nic: unexpected argument '%s' (EAL arguments go after --)\n", argv[optind]);
		return 2;
	}
	o->eal_argv = argv + optind;
	o->eal_argc = argc - optind;
	if (o->rt.hosts_path && nicd_apply_hosts(o) != 0)
		return 2;
	if (!o->has_ip) {
		fprintf(stderr, "bluetas nic: --ip is required (the stack's address, e.g. --ip 10.77.0.2/24)\n");
		return 2;
	}
	if ((o->ip & ~o->netmask) == 0 || (o->ip | o->netmask) == 0xffffffffu) {
		fprintf(stderr, "bluetas nic: --ip: the network or broadcast address of its own subnet\n");
		return 2;
	}
	if (o->gateway && (o->gateway & o->netmask) != (o->ip & o->netmask)) {
		fprintf(stderr, "bluetas nic: --gateway: not on the subnet of --ip\n");
		return 2;
	}
	if ((o->channel || o->ipc_channel) && !o->has_app)
		o->app = APP_NONE; /* external applications only */
	static const char *const app_names[] = {"echo", "sink", "source", "none"};
	const struct rt_app_only *a =
		rt_app_only_misfit(app_only_opts, sizeof(app_only_opts) / sizeof(app_only_opts[0]), given, o->app);
	if (a) {
		fprintf(stderr, "bluetas nic: %s does not apply to %s%s (it is for --app %s)\n", a->name,
			o->app == APP_NONE ? "a daemon without an in-process application" : "--app ",
			o->app == APP_NONE ? "" : app_names[o->app], a->which);
		return 2;
	}
	if (o->exit_after_apps && !o->channel && !o->ipc_channel) {
		fprintf(stderr, "bluetas nic: --exit-after-apps needs --channel (it counts external applications)\n");
		return 2;
	}
	if (o->app == APP_NONE && o->exit_after_conns) {
		fprintf(stderr, "bluetas nic: --exit-after-conns applies to the in-process --app echo|sink "
				"(external applications: --exit-after-apps)\n");
		return 2;
	}
	if (o->app == APP_SOURCE && !o->remote_ip) {
		fprintf(stderr, "bluetas nic: --app source needs --connect IP:PORT\n");
		return 2;
	}
	if (o->app != APP_SOURCE && (o->remote_ip || o->file)) {
		fprintf(stderr, "bluetas nic: %s applies to --app source only\n", o->remote_ip ? "--connect" : "--file");
		return 2;
	}
	if (o->app == APP_SOURCE && o->exit_after_conns) {
		fprintf(stderr, "bluetas nic: --exit-after-conns applies to echo and sink (a source exits when sent)\n");
		return 2;
	}
	if (o->backlog >= o->max_conns) {
		fprintf(stderr, "bluetas nic: --backlog %u must be below --max-conns %u (accepted connections need slots too)\n",
			o->backlog, o->max_conns);
		return 2;
	}
	return 0;
}

void nicd_default_opts(struct nic_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->mbufs = 8191;
	o->rx_desc = 1024;
	o->tx_desc = 1024;
	o->netmask = 0xffffff00u;
	o->max_flows = 4096;
	o->max_conns = 64;
	o->ring_bytes = 256u << 10;
	o->cc = NIC_CC_DCTCP;
	o->app = APP_ECHO;
	o->backlog = 32;
	o->yield_polls = NIC_IDLE_POLLS;
	o->bytes = 64ull << 20;
	o->seed = 1;
	o->connect_retry_ns = 10 * NS_PER_S;
	o->fault.seed = 1;
	/* The stack's own default (5 ms) suits a peer that ACKs at once;
	 * Linux may hold an ACK for 40 ms, and every such wait would be
	 * a spurious RTO and a collapsed window. */
	o->rto_min_ns = 50ull * 1000 * 1000;
	o->has_rto_min = true;
}
