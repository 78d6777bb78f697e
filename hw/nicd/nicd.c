/*
 * nicd.c: `bluetas nic`, the NIC daemon on a DPDK port. The fast path
 * and slow path (core/nic) run on the DPDK netif; the application (echo,
 * sink or source) runs in the same process over an shm channel, exactly as
 * in the simulator, only in real time: one thread busy-polls the NIC and
 * the application until the work is done, --duration-s passes, or SIGINT /
 * SIGTERM arrives; then everything is torn down in order and, with --stats,
 * every counter is printed.
 *
 * With --channel verbs:ADDR the daemon also listens for applications in
 * other processes (`bluetas app`) over the RDMA verbs channel: the loop
 * looks at the listener's fd once per millisecond and accepts without
 * blocking, each accepted channel becomes one more application of the
 * NIC, and one whose channel breaks (the process exited or was killed,
 * the device refused an access) is detached (its flows reset) and its
 * channel freed, while the others go on.
 *
 * stdout carries only lines meant for scripts ("ready ...", one line per
 * finished connection, "stat.NAME=VALUE"); DPDK's log and our diagnostics
 * go to stderr.
 */
#define _GNU_SOURCE /* getentropy, sigaction in C11 mode */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../core/apps/bulk.h"
#include "../../core/apps/echo.h"
#include "../../core/bluetas.h"
#include "../../core/nic/nic.h"
#include "../../core/proto/proto.h"
#include "../../transports/dpdk/dpdk_netif.h"
#include "../../transports/netif_fault.h"
#include "../../transports/pcap_mirror.h"
#include "../../transports/shm/shm_chan.h"
#include "../../transports/verbs/verbs_chan.h"
#include "../../sim/cli/cli.h"
#include "../rt/rt.h"

#define NIC_MAX_VDEVS 8
#define NIC_EAL_ARGS_MAX 256
#define NIC_SETUP_ROUNDS 2000          /* polls for HELLO/LISTEN before the port starts */
#define NIC_DRAIN_NS (5ull * 1000000000) /* after the work: let FINs and ACKs finish */
#define NS_PER_S 1000000000ull
#define NIC_ACCEPT_CHECK_NS 1000000ull   /* look at the verbs listener every 1 ms */
#define NIC_ACCEPTS_PER_CHECK 4

enum app_kind { APP_ECHO = 0, APP_SINK = 1, APP_SOURCE = 2, APP_NONE = 3 };

struct nic_opts {
	/* port */
	const char *vdevs[NIC_MAX_VDEVS];
	int vdev_count;
	const char *port;
	uint32_t mbufs;
	uint16_t rx_desc, tx_desc, mtu;
	bool promisc;
	enum dpdk_partial_csum partial_csum;
	uint32_t eal_mem_mb;
	/* addresses */
	uint32_t ip, netmask, gateway;
	bool has_ip, has_netmask, has_mac;
	uint8_t mac[6];
	struct nic_static_arp arp[NIC_MAX_STATIC_ARP];
	uint32_t arp_count;
	/* stack */
	uint16_t mss;
	uint32_t max_flows, max_conns, ring_bytes;
	enum nic_cc_algo cc;
	bool no_ecn;
	bool has_delayed_ack, has_rto_min, has_isn_seed;
	uint64_t delayed_ack_ns, rto_min_ns;
	uint32_t isn_seed;
	/* application */
	enum app_kind app;
	bool has_app;
	/* external applications over the verbs channel */
	const char *channel;
	struct verbs_spec chan_spec;
	uint64_t exit_after_apps;
	uint16_t listen_port;
	uint32_t backlog;
	uint32_t remote_ip;
	uint16_t remote_port;
	uint64_t bytes, seed, connect_retry_ns;
	const char *file;
	uint64_t exit_after_conns;
	/* run */
	uint64_t duration_ns;
	bool stats;
	const char *pcap;
	bool fault_on;
	struct netif_fault_params fault;
	/* EAL arguments after `--` */
	char **eal_argv;
	int eal_argc;
};

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
		"devices are used) unless those arguments choose otherwise. Exit status: 0 the\n"
		"work finished cleanly, 1 a failure (EAL, port, connection), 2 usage error.\n"
		"\n"
		"port:\n"
		"  --vdev DEVARGS         add a DPDK virtual device (repeatable), e.g.\n"
		"                         net_tap0,iface=dtap0 | net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap\n"
		"                         | net_af_packet0,iface=veth1; hardware: EAL -a PCI_ADDR\n"
		"  --port NAME|N          the ethdev port to use (default: the first one)\n"
		"  --mbufs N              mbuf pool size (default 8191; mind -m with --no-huge)\n"
		"  --rx-desc N, --tx-desc N  descriptor ring sizes (default 1024)\n"
		"  --mtu N                set the port MTU, 68..9000 (default: leave it; MSS follows)\n"
		"  --promisc              receive every frame (automatic when --mac is not the\n"
		"                         port's address and the PMD has no address filter)\n"
		"  --partial-csum auto|on|off  complete PARTIAL TCP checksums a kernel left for\n"
		"                         offload (auto: on for net_af_packet)\n"
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
		"\n"
		"application:\n"
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
		"  --exit-after-apps N    exit once N external applications have detached and\n"
		"                         none is attached\n"
		"\n"
		"run:\n"
		"  --duration-s N         stop after N seconds (default: until done or a signal)\n"
		"  --stats                print every counter at exit (stat.NAME=VALUE lines)\n"
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

static int parse_endpoint(const char *text, struct nic_opts *o)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", text);
	char *colon = strrchr(buf, ':');
	if (!colon) {
		fprintf(stderr, "bluetas nic: --connect: expected IP:PORT, got '%s'\n", text);
		return -1;
	}
	*colon = 0;
	uint64_t port;
	if (parse_ip("--connect", buf, &o->remote_ip) < 0 || cli_parse_u64("--connect port", colon + 1, 1, 65535, &port) < 0)
		return -1;
	o->remote_port = (uint16_t)port;
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
	OPT_STATS,
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
};

/* Returns 0 to run, 1 when --help was printed, 2 on a usage error. */
static int parse_opts(int argc, char **argv, struct nic_opts *o)
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
		{"stats", no_argument, 0, OPT_STATS},
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
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	uint64_t v;
	uint32_t ppm;
	int c;
	optind = 1;
	opterr = 0;
	/* '+': stop at the first non-option, so EAL arguments after `--`
	 * (and only those) are left for rte_eal_init. */
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
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
			if (o->netmask && (~o->netmask & (~o->netmask + 1))) {
				fprintf(stderr, "bluetas nic: --netmask: '%s' is not a contiguous mask\n", optarg);
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
			if (parse_endpoint(optarg, o) < 0)
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
		case OPT_STATS:
			o->stats = true;
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
		case ':':
			fprintf(stderr, "bluetas nic: option %s needs a value\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "bluetas nic: unknown option '%s' (see bluetas nic --help)\n", argv[optind - 1]);
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
	if (o->channel && !o->has_app)
		o->app = APP_NONE; /* external applications only */
	if (o->exit_after_apps && !o->channel) {
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

static void default_opts(struct nic_opts *o)
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

/* ---- the run ---- */

static uint64_t realtime_now_ns(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* One application in another process, attached over the verbs channel. */
struct ext_app {
	struct chan *ch; /* NULL: this entry is free */
	int idx;         /* its index on the NIC */
	uint64_t seq;    /* "app N" in the log: 1, 2, ... in order of attachment */
	char peer[VERBS_NAME_MAX];
};

struct daemon {
	struct nic_opts *o;
	struct bt_clock mono, wall;
	struct netif *dpdk, *fault, *mirror, *wire; /* wire: the outermost, what the NIC sees */
	struct shm_link *chan;
	struct nic *nic;
	struct bt_host *host;
	int app_idx; /* the application's index on the NIC, -1 if none */
	struct echo_server *echo;
	struct sink *sink;
	struct source *source;
	FILE *file;
	uint64_t conn_errors;
	/* external applications (--channel) */
	struct verbs_listener *listener;
	struct ext_app ext[NIC_MAX_APPS];
	uint64_t next_accept_check_ns;
	uint64_t apps_attached, apps_detached, apps_refused, apps_flows_reset;
	uint32_t apps_active;
};

static void on_sink_done(void *ctx, const struct bulk_result *r)
{
	struct daemon *d = ctx;
	if (r->err)
		d->conn_errors++;
	cli_rt_print_bulk("sink", r);
}

static void on_source_done(void *ctx, const struct bulk_result *r)
{
	struct daemon *d = ctx;
	if (r->err)
		d->conn_errors++;
	cli_rt_print_bulk("source", r);
}

static long read_file(void *ctx, uint8_t *buf, size_t cap)
{
	FILE *f = ctx;
	size_t n = fread(buf, 1, cap, f);
	if (n == 0 && ferror(f))
		return -1;
	return (long)n;
}

static int app_poll(struct daemon *d)
{
	if (d->echo)
		return echo_server_poll(d->echo);
	if (d->sink)
		return sink_poll(d->sink);
	if (d->source)
		return source_poll(d->source);
	return 0;
}

static uint64_t conns_finished(struct daemon *d)
{
	if (d->echo) {
		struct echo_server_stats s;
		echo_server_stats(d->echo, &s);
		return s.closed;
	}
	if (d->sink) {
		struct sink_stats s;
		sink_stats(d->sink, &s);
		return s.finished;
	}
	return 0;
}

static bool work_done(struct daemon *d)
{
	struct nic_opts *o = d->o;
	bool app_done;
	if (d->source)
		app_done = source_done(d->source);
	else if (d->echo || d->sink)
		app_done = o->exit_after_conns && conns_finished(d) >= o->exit_after_conns;
	else
		app_done = true; /* no in-process application */
	/* External applications: done once --exit-after-apps of them came
	 * and went; without the option they never are (a pure daemon runs
	 * until a signal or --duration-s), unless an in-process application
	 * decides. */
	bool ext_done = o->exit_after_apps ? d->apps_detached >= o->exit_after_apps && d->apps_active == 0
					   : o->app != APP_NONE;
	return app_done && ext_done;
}

/* ---- external applications over the verbs channel ---- */

static void ext_detach(struct daemon *d, struct ext_app *e, const char *why)
{
	struct nic_stats before, after;
	nic_get_stats(d->nic, &before);
	nic_detach_app(d->nic, e->idx); /* resets its flows (RST to the peers) */
	nic_get_stats(d->nic, &after);
	uint64_t reset = after.conns_reset - before.conns_reset;
	chan_destroy(e->ch); /* releases its QP, CQ, regions */
	d->apps_detached++;
	d->apps_active--;
	d->apps_flows_reset += reset;
	fprintf(stderr, "bluetas nic: app %" PRIu64 " detached (%s; %" PRIu64 " connection%s reset)\n", e->seq, why, reset,
		reset == 1 ? "" : "s");
	memset(e, 0, sizeof(*e));
}

static void ext_accept(struct daemon *d)
{
	for (int n = 0; n < NIC_ACCEPTS_PER_CHECK; n++) {
		char err[256];
		struct chan *ch = verbs_accept(d->listener, 0, err, sizeof(err));
		if (!ch) {
			if (strcmp(err, "timeout") != 0) {
				d->apps_refused++;
				fprintf(stderr, "bluetas nic: application refused: %s\n", err);
				continue;
			}
			return; /* nobody (else) waiting */
		}
		struct verbs_chan_info vi;
		verbs_chan_describe(ch, &vi);
		struct ext_app *e = NULL;
		for (int i = 0; i < NIC_MAX_APPS && !e; i++)
			if (!d->ext[i].ch)
				e = &d->ext[i];
		int idx = e ? nic_attach_app(d->nic, ch) : BT_ENOMEM;
		if (idx < 0) {
			d->apps_refused++;
			fprintf(stderr, "bluetas nic: application from %s refused: no free application slot (at most %d)\n",
				vi.peer, NIC_MAX_APPS);
			chan_destroy(ch); /* the application sees its channel break */
			continue;
		}
		e->ch = ch;
		e->idx = idx;
		e->seq = ++d->apps_attached;
		snprintf(e->peer, sizeof(e->peer), "%s", vi.peer);
		d->apps_active++;
		fprintf(stderr, "bluetas nic: app %" PRIu64 " attached (peer %s, device %s, qp %u)\n", e->seq, vi.peer, vi.dev,
			vi.qp_num);
	}
}

/* Detaches every application whose channel broke, then, once per
 * NIC_ACCEPT_CHECK_NS, accepts whoever is waiting on the listener. Called
 * right after nic_poll: a break is found by the poll that first saw it,
 * before the NIC's next poll resets the flows itself, so the count of
 * connections reset is the application's. */
static int ext_service(struct daemon *d, uint64_t now)
{
	int work = 0;
	for (int i = 0; i < NIC_MAX_APPS && d->apps_active; i++) {
		struct ext_app *e = &d->ext[i];
		struct verbs_chan_stats v;
		if (!e->ch || verbs_chan_stats(e->ch, &v) != 0 || !v.broken)
			continue;
		/* "CHAN_EDISCONNECTED: peer disconnected" */
		const char *name = chan_err_name(v.broken);
		char why[160];
		snprintf(why, sizeof(why), "%.*s: %s", (int)strcspn(name, " "), name, v.broken_why);
		ext_detach(d, e, why);
		work++;
	}
	if (now < d->next_accept_check_ns)
		return work;
	d->next_accept_check_ns = now + NIC_ACCEPT_CHECK_NS;
	struct pollfd pfd = {.fd = verbs_listener_fd(d->listener), .events = POLLIN};
	if (poll(&pfd, 1, 0) > 0) {
		ext_accept(d);
		work++;
	}
	return work;
}

static bool drained(struct daemon *d)
{
	struct nic_stats ns;
	nic_get_stats(d->nic, &ns);
	return ns.flows_active == 0;
}

/* Every counter, one per line. tests/interop/run.sh checks that each
 * field of struct nic_stats is printed here and documented in
 * docs/dpdk.md, so a new counter cannot be forgotten silently. */
#define STAT(prefix, s, field) printf("stat." prefix "." #field "=%" PRIu64 "\n", (uint64_t)(s).field)

static void print_stats(struct daemon *d)
{
	struct nic_stats n;
	nic_get_stats(d->nic, &n);
#define NIC_STAT(field) STAT("nic", n, field);
	NIC_STATS_FIELDS_U64(NIC_STAT)
	NIC_STATS_FIELDS_U32(NIC_STAT)
#undef NIC_STAT

	struct netif_stats w;
	netif_get_stats(d->dpdk, &w);
	STAT("netif", w, rx_frames);
	STAT("netif", w, rx_bytes);
	STAT("netif", w, tx_frames);
	STAT("netif", w, tx_bytes);
	STAT("netif", w, tx_dropped);
	STAT("netif", w, alloc_failed);
	struct dpdk_netif_stats x;
	dpdk_netif_get_ext_stats(d->dpdk, &x);
	STAT("dpdk", x, rx_multiseg_dropped);
	STAT("dpdk", x, rx_partial_csum_fixed);
	STAT("dpdk", x, tx_full_retries);
	STAT("dpdk", x, tx_oversize_dropped);
	STAT("dpdk", x, pmd_ipackets);
	STAT("dpdk", x, pmd_opackets);
	STAT("dpdk", x, pmd_ibytes);
	STAT("dpdk", x, pmd_obytes);
	STAT("dpdk", x, pmd_imissed);
	STAT("dpdk", x, pmd_ierrors);
	STAT("dpdk", x, pmd_oerrors);
	STAT("dpdk", x, pmd_rx_nombuf);
	if (d->fault) {
		struct netif_fault_stats f;
		netif_fault_get_stats(d->fault, &f);
		STAT("fault", f, lost);
		STAT("fault", f, burst_lost);
		STAT("fault", f, duplicated);
		STAT("fault", f, corrupted);
		STAT("fault", f, truncated);
		STAT("fault", f, reordered);
		STAT("fault", f, delayed);
		STAT("fault", f, partitioned);
		STAT("fault", f, hold_overflow);
	}
	if (d->host) {
		struct bt_host_stats h;
		bt_host_stats(d->host, &h);
		STAT("host", h, events_consumed);
		STAT("host", h, doorbells_sent);
		STAT("host", h, doorbells_deferred);
		STAT("host", h, tx_bytes);
		STAT("host", h, rx_bytes);
		STAT("host", h, conns_in_use);
	}
	STAT("daemon", *d, apps_attached);
	STAT("daemon", *d, apps_detached);
	STAT("daemon", *d, apps_refused);
	STAT("daemon", *d, apps_active);
	STAT("daemon", *d, apps_flows_reset);
	if (d->echo) {
		struct echo_server_stats e;
		echo_server_stats(d->echo, &e);
		STAT("app.echo", e, accepted);
		STAT("app.echo", e, closed);
		STAT("app.echo", e, errors);
		STAT("app.echo", e, bytes_echoed);
	}
	if (d->sink) {
		struct sink_stats s;
		sink_stats(d->sink, &s);
		STAT("app.sink", s, accepted);
		STAT("app.sink", s, finished);
		STAT("app.sink", s, errors);
		STAT("app.sink", s, bytes);
		STAT("app.sink", s, open);
	}
	if (d->source) {
		struct source_stats s;
		source_stats(d->source, &s);
		STAT("app.source", s, bytes_sent);
		STAT("app.source", s, connect_attempts);
		STAT("app.source", s, done);
	}
	fflush(stdout);
}

static void teardown(struct daemon *d)
{
	/* Connections still open get an RST while the port still runs, so
	 * peers learn at once that we are gone instead of timing out. */
	if (d->nic && d->app_idx >= 0)
		nic_detach_app(d->nic, d->app_idx);
	for (int i = 0; i < NIC_MAX_APPS; i++)
		if (d->nic && d->ext[i].ch)
			ext_detach(d, &d->ext[i], "the daemon is exiting");
	verbs_listener_destroy(d->listener);
	echo_server_destroy(d->echo);
	sink_destroy(d->sink);
	source_destroy(d->source);
	bt_host_destroy(d->host);
	nic_destroy(d->nic); /* frees frames it still holds: before the netif */
	shm_link_destroy(d->chan);
	/* Each wrapper destroys what it wraps; the outermost one is enough. */
	if (d->wire)
		netif_destroy(d->wire);
	if (d->file)
		fclose(d->file);
}

static int netmask_len(uint32_t mask)
{
	int n = 0;
	while (mask & 0x80000000u) {
		n++;
		mask <<= 1;
	}
	return n;
}

static uint32_t random_seed(void)
{
	uint32_t s = 0;
	if (getentropy(&s, sizeof(s)) != 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		s = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid();
	}
	return s ? s : 1;
}

/* The in-process application over the shm channel: attached, and a
 * server listening, before the port starts. 0, or 1 with a message. */
static int setup_inproc_app(struct daemon *d, uint16_t listen, char *err, size_t err_len)
{
	struct nic_opts *o = d->o;
	int rc;
	struct shm_link_params cp = {.key_seed = random_seed()};
	d->chan = shm_link_create(&cp, &d->mono);
	if (!d->chan) {
		snprintf(err, err_len, "cannot create the shm channel");
		return 1;
	}
	d->app_idx = nic_attach_app(d->nic, shm_link_end(d->chan, SHM_END_NIC));
	if (d->app_idx < 0) {
		snprintf(err, err_len, "cannot attach the application to the NIC");
		return 1;
	}
	struct bt_host_config hc;
	bt_host_default_config(&hc);
	hc.max_conns = o->max_conns;
	hc.rx_ring_bytes = hc.tx_ring_bytes = o->ring_bytes;
	d->host = bt_host_create(&hc, shm_link_end(d->chan, SHM_END_HOST), &d->mono, &rc);
	if (!d->host) {
		snprintf(err, err_len, "host library: %s", bt_strerror(rc));
		return 1;
	}

	/* A server must be listening before the first frame is read (a
	 * net_pcap replay delivers its SYNs at once), so its commands are
	 * polled through before the port starts. */
	if (o->app == APP_ECHO) {
		d->echo = echo_server_create(d->host, listen, o->backlog, o->ring_bytes, &rc);
		if (!d->echo) {
			snprintf(err, err_len, "echo server on port %u: %s", listen, bt_strerror(rc));
			return 1;
		}
	} else if (o->app == APP_SINK) {
		struct sink_config sc = {.port = listen, .backlog = o->backlog, .on_done = on_sink_done, .ctx = d};
		d->sink = sink_create(d->host, &sc, &d->mono, &rc);
		if (!d->sink) {
			snprintf(err, err_len, "sink on port %u: %s", listen, bt_strerror(rc));
			return 1;
		}
	}
	for (int i = 0; i < NIC_SETUP_ROUNDS; i++) {
		nic_poll(d->nic, bt_clock_now_ns(&d->mono));
		app_poll(d);
	}
	return 0;
}

/* Builds everything after the EAL; returns 0, or 1 (failure) or 2 (an
 * option that does not fit the port) with a message. */
static int setup(struct daemon *d, char *err, size_t err_len)
{
	struct nic_opts *o = d->o;
	int port = dpdk_port_lookup(o->port);
	if (port < 0) {
		if (o->port)
			snprintf(err, err_len, "--port: no DPDK port '%s' (%d probed)", o->port, dpdk_port_count());
		else if (o->vdev_count)
			snprintf(err, err_len,
				 "no --vdev device could be created (DPDK says why above): net_tap and net_af_packet "
				 "need root or CAP_NET_ADMIN, net_pcap an existing rx_pcap file, net_af_packet an "
				 "existing interface");
		else
			snprintf(err, err_len,
				 "no DPDK port probed: give --vdev (e.g. net_tap0,iface=dtap0) or a PCI device (-- -a ADDR)");
		return 1;
	}
	uint16_t mtu = o->mtu ? o->mtu : 1500;
	uint16_t mss = o->mss ? o->mss : (uint16_t)(mtu - 52); /* 20 IPv4 + 20 TCP + 12 timestamps */
	if ((uint32_t)mss + 52 > mtu) {
		/* The stack's segments carry timestamps on top of the MSS: a
		 * larger MSS makes frames the port (or the peer) drops. */
		snprintf(err, err_len, "--mss %u does not fit an MTU of %u (at most MTU - 52); raise --mtu or lower --mss",
			 mss, mtu);
		return 2;
	}
	struct dpdk_netif_config dc;
	dpdk_netif_default_config(&dc);
	dc.port_id = (uint16_t)port;
	dc.mbufs = o->mbufs;
	dc.rx_desc = o->rx_desc;
	dc.tx_desc = o->tx_desc;
	dc.mtu = o->mtu;
	/* Room for the largest frame either side may build: the MTU's, or
	 * our MSS with the longest TCP options. */
	uint32_t frame = (uint32_t)mtu + 14;
	if ((uint32_t)mss + 14 + 20 + 60 > frame)
		frame = (uint32_t)mss + 14 + 20 + 60;
	dc.frame_bytes = (uint16_t)frame;
	dc.set_mac = o->has_mac;
	memcpy(dc.mac, o->mac, 6);
	dc.promisc = o->promisc;
	dc.partial_csum = o->partial_csum;
	d->dpdk = dpdk_netif_create(&dc, err, err_len);
	if (!d->dpdk)
		return 1;
	d->wire = d->dpdk;
	struct dpdk_port_info info;
	/* The capture is the wire's view (inside the fault injector): a
	 * frame we drop on receive was on the wire, one we drop on send
	 * never was. */
	if (o->pcap) {
		d->mirror = pcap_mirror_create(d->wire, o->pcap, &d->wall, err, err_len);
		if (!d->mirror)
			return 1;
		d->wire = d->mirror;
	}
	if (o->fault_on) {
		d->fault = netif_fault_create(d->wire, &o->fault, &d->mono);
		if (!d->fault) {
			snprintf(err, err_len, "out of memory for the fault injector");
			return 1;
		}
		d->wire = d->fault;
	}

	struct nic_config nc;
	nic_default_config(&nc);
	nc.ip = o->ip;
	nc.netmask = o->netmask;
	nc.gateway = o->gateway;
	nc.mss = mss;
	nc.max_flows = o->max_flows;
	nc.cc = o->cc;
	nc.ecn = !o->no_ecn;
	if (o->has_delayed_ack)
		nc.delayed_ack_ns = o->delayed_ack_ns;
	if (o->has_rto_min) {
		nc.rto_min_ns = o->rto_min_ns;
		if (nc.rto_initial_ns < nc.rto_min_ns)
			nc.rto_initial_ns = nc.rto_min_ns;
		if (nc.rto_max_ns < nc.rto_initial_ns)
			nc.rto_max_ns = nc.rto_initial_ns;
	}
	nc.isn_seed = o->has_isn_seed ? o->isn_seed : random_seed();
	memcpy(nc.static_arp, o->arp, sizeof(o->arp));
	nc.static_arp_count = o->arp_count;
	d->nic = nic_create(&nc, d->wire, &d->mono, err, err_len);
	if (!d->nic)
		return 1;
	int rc;
	uint16_t listen = o->listen_port ? o->listen_port : o->app == APP_ECHO ? 7 : 9;
	if (o->channel) {
		/* Listening before the port starts and before "ready": an
		 * application started on "ready" finds the listener there. */
		struct verbs_params vp;
		verbs_spec_params(&o->chan_spec, &vp);
		char why[384];
		d->listener = verbs_listen(o->chan_spec.addr, o->chan_spec.port, &vp, why, sizeof(why));
		if (!d->listener) {
			snprintf(err, err_len, "--channel %s: %s", o->channel, why);
			return 1;
		}
	}
	if (o->app != APP_NONE) {
		int arc = setup_inproc_app(d, listen, err, err_len);
		if (arc)
			return arc;
	}
	if (dpdk_netif_start(d->dpdk, err, err_len) < 0)
		return 1;
	if (o->app == APP_SOURCE) {
		if (o->file) {
			d->file = fopen(o->file, "rb");
			if (!d->file) {
				snprintf(err, err_len, "--file: cannot open %s: %s", o->file, strerror(errno));
				return 1;
			}
		}
		struct source_config sc = {.remote_ip = o->remote_ip,
					   .remote_port = o->remote_port,
					   .bytes = o->bytes,
					   .seed = o->seed,
					   .connect_retry_ns = o->connect_retry_ns,
					   .read = d->file ? read_file : NULL,
					   .read_ctx = d->file,
					   .on_done = on_source_done,
					   .ctx = d};
		d->source = source_create(d->host, &sc, &d->mono, &rc);
		if (!d->source) {
			snprintf(err, err_len, "source: %s", bt_strerror(rc));
			return 1;
		}
	}
	dpdk_netif_get_info(d->dpdk, &info);
	uint8_t mac[6];
	netif_get_mac(d->dpdk, mac);
	char mac_s[18], port_mac_s[18], ip_s[16];
	mac_to_str(mac, mac_s);
	mac_to_str(info.port_mac, port_mac_s);
	ipv4_to_str(o->ip, ip_s);
	static const char *const app_names[] = {"echo", "sink", "source", "none"};
	printf("ready port=%d name=%s driver=%s port_mac=%s mac=%s ip=%s/%d mtu=%u mss=%u app=%s", port, info.name,
	       info.driver, port_mac_s, mac_s, ip_s, netmask_len(o->netmask), info.mtu, mss, app_names[o->app]);
	if (o->app == APP_SOURCE) {
		char rs[16];
		ipv4_to_str(o->remote_ip, rs);
		printf(" connect=%s:%u", rs, o->remote_port);
	} else if (o->app != APP_NONE) {
		printf(" listen=%u", listen);
	}
	if (d->listener)
		printf(" channel=verbs:%s:%u%s%s", o->chan_spec.addr, verbs_listener_port(d->listener),
		       o->chan_spec.dev[0] ? ",dev=" : "", o->chan_spec.dev);
	printf("%s%s\n", info.partial_csum_fix ? " partial_csum=on" : "", o->fault_on ? " faults=on" : "");
	fflush(stdout);
	return 0;
}

static const char *run_loop(struct daemon *d)
{
	struct nic_opts *o = d->o;
	uint64_t start = bt_clock_now_ns(&d->mono);
	uint64_t drain_until = 0;
	for (;;) {
		uint64_t now = bt_clock_now_ns(&d->mono);
		nic_poll(d->nic, now);
		app_poll(d);
		if (d->listener)
			ext_service(d, now);
		if (cli_rt_stop_reason())
			return cli_rt_stop_reason();
		if (o->duration_ns && now - start >= o->duration_ns)
			return "duration";
		if (!drain_until && work_done(d))
			drain_until = now + NIC_DRAIN_NS;
		if (drain_until) {
			if (drained(d))
				return "done";
			if (now >= drain_until)
				return "done (flows still open after the drain time)";
		}
	}
}

int cli_nic(int argc, char **argv)
{
	struct nic_opts o;
	default_opts(&o);
	int prc = parse_opts(argc, argv, &o);
	if (prc == 1)
		return 0;
	if (prc)
		return 2;

	char *eal_argv[NIC_EAL_ARGS_MAX + 1];
	char mem[32];
	struct dpdk_eal_defaults def = {.mem_mb = o.eal_mem_mb};
	int eal_argc = dpdk_eal_build_args("bluetas-nic", &def, o.vdevs, o.vdev_count, o.eal_argv, o.eal_argc, eal_argv,
					   NIC_EAL_ARGS_MAX, mem, sizeof(mem));
	if (eal_argc < 0) {
		fprintf(stderr, "bluetas nic: too many EAL arguments (at most %d)\n", NIC_EAL_ARGS_MAX);
		return 2;
	}
	fprintf(stderr, "bluetas nic: EAL arguments:");
	for (int i = 1; i < eal_argc; i++)
		fprintf(stderr, " %s", eal_argv[i]);
	fprintf(stderr, "\n");
	char err[512];
	int erc = dpdk_eal_init(eal_argc, eal_argv, err, sizeof(err));
	if (erc < 0) {
		fprintf(stderr, "bluetas nic: %s\n", err);
		return erc == DPDK_EARGS ? 2 : 1;
	}

	struct daemon d;
	memset(&d, 0, sizeof(d));
	d.o = &o;
	d.app_idx = -1;
	bt_clock_monotonic(&d.mono);
	d.wall = (struct bt_clock){.now_ns = realtime_now_ns, .ctx = NULL};
	cli_rt_catch_stop_signals();

	int rc = setup(&d, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "bluetas nic: %s\n", err);
	} else {
		const char *why = run_loop(&d);
		if (d.echo) {
			struct echo_server_stats e;
			echo_server_stats(d.echo, &e);
			printf("echo accepted=%" PRIu64 " closed=%" PRIu64 " bytes_echoed=%" PRIu64 " errors=%" PRIu64 "\n",
			       e.accepted, e.closed, e.bytes_echoed, e.errors);
			if (e.errors)
				rc = 1;
		}
		if (d.source && !source_done(d.source)) {
			struct source_stats s;
			source_stats(d.source, &s);
			printf("source bytes=%" PRIu64 " result=unfinished\n", s.bytes_sent);
			rc = 1;
		}
		if (d.conn_errors)
			rc = 1;
		if (o.exit_after_conns && conns_finished(&d) < o.exit_after_conns)
			rc = 1;
		if (o.stats)
			print_stats(&d);
		printf("exit reason=%s status=%d\n", why, rc);
		fflush(stdout);
	}
	teardown(&d);
	dpdk_eal_fini();
	return rc;
}
