/*
 * hostapp.c: `bluetas app`, an application on the host library in real
 * time, connected to a NIC daemon over the RDMA verbs channel (the "emu"
 * and "hw" modes of docs/architecture.md: the application in its own
 * process, the NIC in `bluetas nic`). The application is one of the
 * built-in ones (core/apps): an echo client that checks every byte and
 * measures round trips, an echo server, a sink that hashes what it reads,
 * a source that sends a seeded pattern.
 *
 * The loop is the one any real-time user of the host library runs:
 * bt_poll (inside the app's poll) until nothing happens, then bt_wait,
 * which arms a WAKEUP with the NIC and sleeps on the channel (completion
 * and rdma_cm fds) with a timeout. --busy-poll never sleeps.
 *
 * stdout carries only lines meant for scripts ("ready ...", results,
 * "stat.NAME=VALUE", "exit ..."); diagnostics go to stderr.
 */
#define _GNU_SOURCE /* sigaction in C11 mode */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../core/bluetas.h"
#include "../../core/proto/proto.h"
#include "../../core/util/spin_policy.h"
#include "../../transports/clock.h"
#include "../../transports/ipc/ipc_chan.h"
#include "../../transports/verbs/verbs_chan.h"
#include "../../sim/cli/cli.h"
#include "../../transports/chan_stats.h"
#include "../commands.h"
#include "../hosts/discover.h"
#include "../hosts/hosts.h"
#include "../rt/app_runner.h"
#include "../rt/rt.h"
#include "../rt/rt_hops.h"
#include "../rt/rt_opts.h"

#define NS_PER_S 1000000000ull
#define APP_CONNECT_MS 10000
#define APP_DRAIN_NS (5ull * NS_PER_S)   /* after the work: let closes finish */
#define APP_SPIN_US 50ull                 /* idle at least this long before sleeping */
#define APP_SPIN_MAX_US 2000ull          /* adaptive: up to this (core/util/spin_policy.h) */
#define APP_WAIT_MAX_NS 10000000ull      /* one bt_wait at most (a lost WAKEUP costs this) */
#define APP_YIELD_POLLS 0u               /* default --yield-polls: never (it measured no gain, docs/emu.md) */
#define APP_RTT_SAMPLES 1000000u
#define APP_BACKLOG 32u

enum app_kind { APP_ECHO_CLIENT, APP_ECHO_SERVER, APP_SINK, APP_SOURCE };
static const char *const app_names[] = { "echo-client", "echo-server", "sink", "source" };

struct app_opts {
	const char *channel;
	enum app_kind app;
	bool has_app;
	uint32_t remote_ip;
	uint16_t remote_port;
	bool has_remote;
	uint16_t listen_port;
	uint32_t conns;
	uint64_t msg_bytes, messages, bytes, seed;
	bool has_bytes, has_messages;
	uint64_t duration_ns;
	bool has_duration;
	uint64_t exit_after_conns;
	uint64_t connect_retry_ns;
	uint32_t max_conns, ring_bytes;
	bool busy_poll;
	uint64_t spin_ns;   /* --spin-us, else APP_SPIN_US */
	bool spin_fixed;    /* --spin-us given: no adaptive poll */
	bool no_inline;     /* --no-inline */
	uint32_t yield_polls; /* --yield-polls: sched_yield after this many empty polls; 0 never */
	struct rt_opts rt; /* --hosts, --sysroot, --print-config, --hops, --stats */
	/* hardware configuration */
	struct bt_hosts hosts;
	char hosts_channel[4 * BT_HOSTS_STR];
	char from_channel[512];
};


void cli_app_usage(FILE *out)
{
	fprintf(out,
		"usage: bluetas app --channel verbs:ADDR[:PORT][,dev=NAME]|ipc:PATH --app KIND [OPTIONS]\n"
		"       bluetas app --hosts FILE --app KIND [OPTIONS]\n"
		"\n"
		"Runs a built-in application on the host library, in real time, against a NIC\n"
		"daemon (`bluetas nic` with a verbs channel listener) over the RDMA verbs channel:\n"
		"the application and the NIC in separate processes, as on a SmartNIC. Bounded:\n"
		"stops when the work is done, --duration-s passes, or SIGINT/SIGTERM. An option\n"
		"that does not apply to the chosen --app is a usage error. Exit status: 0 the\n"
		"work finished cleanly (every byte verified), 1 a failure, 2 usage.\n"
		"\n"
		"channel:\n"
		"  --channel SPEC         verbs:ADDR[:PORT][,dev=NAME][,src=ADDR][,gid=N][,sq=N][,msg=N]\n"
		"                         ADDR: the NIC daemon's channel address (an address of an\n"
		"                         RDMA device: rxe, mlx5); PORT default %u; dev= insists on\n"
		"                         the local device; src= the local address to connect from;\n"
		"                         gid= fails unless rdma_cm picks that GID index\n"
		"  --channel ipc:PATH[,sq=N][,msg=N]\n"
		"                         the daemon on this host (`bluetas nic --channel ipc:PATH`),\n"
		"                         over shared memory (memfd regions, a Unix socket at PATH)\n"
		"\n"
		"application:\n"
		"  --app KIND             echo-client: connect, send --msg-bytes messages, check every\n"
		"                         byte echoed back, report round trips (p50/p99);\n"
		"                         echo-server: echo what arrives; sink: read to EOF, print\n"
		"                         bytes and sha256 per connection; source: connect, send\n"
		"                         --bytes of a seeded pattern, close, print bytes and sha256\n"
		"  --remote IP:PORT       echo-client, source: the peer to connect to (required)\n"
		"  --listen PORT          echo-server (default 7), sink (default 9)\n"
		"  --conns N              echo-client: concurrent connections (default 1)\n"
		"  --msg-bytes N          echo-client: bytes per message (default 64; K/M suffixes)\n"
		"  --messages N           echo-client: messages per connection (default: as many as\n"
		"                         --duration-s allows)\n"
		"  --bytes N              source: bytes to send (default 64M); echo-client: bytes per\n"
		"                         connection (messages = N / msg-bytes); sink: stop after N\n"
		"                         bytes in total\n"
		"  --seed N               payload pattern seed (default 1)\n"
		"  --exit-after-conns N   echo-server, sink: stop after N connections finished\n"
		"  --connect-retry-s N    source: retry a refused connect for N s (default 10)\n"
		"\n"
		"hardware configuration (docs/hardware.md):\n"
		"  --hosts FILE           take the channel from the [host] section of a hosts file:\n"
		"                         verbs:PEER_IP,src=IP,dev=DEV,gid=N from peer_ip (the daemon's\n"
		"                         channel address), ip, rdma_dev and gid_index (auto: the device\n"
		"                         and index of a RoCE v2 GID with an IPv4 address); --channel\n"
		"                         overrides it\n"
		"  --sysroot DIR          read /sys under DIR for rdma_dev/gid_index auto (default /)\n"
		"  --print-config         print the settings and where they came from; run nothing\n"
		"\n"
		"run:\n"
		"  --duration-s N         stop after N seconds (echo-client default 10 when neither\n"
		"                         --messages nor --bytes bounds it; others: unbounded)\n"
		"  --max-conns N          host connection slots (default 64)\n"
		"  --ring-bytes N         per-connection RX and TX ring (default 256K)\n"
		"  --busy-poll            never sleep in bt_wait (lowest latency, one core busy)\n"
		"  --spin-us N            poll exactly this long after the last work before\n"
		"                         sleeping in bt_wait (0: sleep at once). Default: 50 us,\n"
		"                         or up to 2000 us while the gaps between work are that\n"
		"                         short (core/util/spin_policy.h)\n"
		"  --yield-polls N        while polling, give the CPU to whatever else is runnable\n"
		"                         on it (sched_yield) after N empty polls in a row\n"
		"                         (default 0: never; an A/B knob)\n"
		"  --no-inline            never carry a send's bytes in its doorbell: the daemon\n"
		"                         READs every one (core/ctxq.h, Inline payload; an A/B)\n"
		"  --stats                print host, channel and application counters\n"
		"  --hops FILE            record the host's half of every RPC's hops (the first 1 Mi)\n"
		"                         into FILE at exit; `bluetas hops FILE NICFILE` joins it\n"
		"                         with the daemon's (`bluetas nic --hops NICFILE`)\n"
		"  -h, --help             this help\n"
		"\n"
		"example (NIC daemon listening for applications on 10.10.0.2):\n"
		"  bluetas app --channel verbs:10.10.0.2,src=10.10.0.1 --app echo-client \\\n"
		"      --remote 10.77.0.1:7 --conns 4 --msg-bytes 1K --duration-s 5\n",
		VERBS_DEFAULT_PORT);
}

enum {
	OPT_CHANNEL = 256,
	OPT_APP,
	OPT_REMOTE,
	OPT_LISTEN,
	OPT_CONNS,
	OPT_MSG_BYTES,
	OPT_MESSAGES,
	OPT_BYTES,
	OPT_SEED,
	OPT_EXIT_AFTER,
	OPT_RETRY,
	OPT_DURATION,
	OPT_MAX_CONNS,
	OPT_RING_BYTES,
	OPT_BUSY,
	OPT_SPIN,
	OPT_YIELD_POLLS,
	OPT_NO_INLINE,
	OPT_END
};

/* Options that mean something only for some applications: given for
 * another one they would be silently ignored, so they are a usage error
 * naming the option and the application. */
static const struct rt_app_only app_only_opts[] = {
	{OPT_REMOTE, "--remote", 1u << APP_ECHO_CLIENT | 1u << APP_SOURCE, "echo-client, source"},
	{OPT_LISTEN, "--listen", 1u << APP_ECHO_SERVER | 1u << APP_SINK, "echo-server, sink"},
	{OPT_CONNS, "--conns", 1u << APP_ECHO_CLIENT, "echo-client"},
	{OPT_MSG_BYTES, "--msg-bytes", 1u << APP_ECHO_CLIENT, "echo-client"},
	{OPT_MESSAGES, "--messages", 1u << APP_ECHO_CLIENT, "echo-client"},
	{OPT_BYTES, "--bytes", 1u << APP_ECHO_CLIENT | 1u << APP_SINK | 1u << APP_SOURCE, "echo-client, sink, source"},
	{OPT_SEED, "--seed", 1u << APP_ECHO_CLIENT | 1u << APP_SOURCE, "echo-client, source"},
	{OPT_EXIT_AFTER, "--exit-after-conns", 1u << APP_ECHO_SERVER | 1u << APP_SINK, "echo-server, sink"},
	{OPT_RETRY, "--connect-retry-s", 1u << APP_SOURCE, "source"},
};

/* --hosts FILE: the [host] section gives the channel when --channel does
 * not: verbs:PEER_IP (the daemon's listener), src=IP, dev= and gid= of a
 * RoCE v2 GID with an IPv4 address (rdma_dev/gid_index, each "auto" or
 * named). The hugepage size is no concern here: the host library needs
 * none. Returns 0, or -1 after a message naming FILE:LINE. */
static int app_apply_hosts(struct app_opts *o)
{
	char err[512];
	if (bt_hosts_load(o->rt.hosts_path, &o->hosts, err, sizeof(err)) != 0) {
		fprintf(stderr, "bluetas app: --hosts: %s\n", err);
		return -1;
	}
	const char *file = o->hosts.name;
	const struct bt_hosts_side *s = &o->hosts.host;
	if (!s->present) {
		fprintf(stderr, "bluetas app: --hosts %s: no [host] section (the application's side: peer_ip, ip, "
				"rdma_dev)\n",
			file);
		return -1;
	}
	if (o->channel)
		return 0;
	if (!s->peer_ip[0]) {
		fprintf(stderr, "bluetas app: --hosts %s: [host] (line %u) has no peer_ip (the NIC daemon's channel "
				"address, [dpu] ip), and no --channel was given\n",
			file, s->section_line);
		return -1;
	}
	struct bt_sysroot root;
	if (bt_sysroot_init(&root, o->rt.sysroot, err, sizeof(err)) != 0) {
		fprintf(stderr, "bluetas app: --sysroot: %s\n", err);
		return -1;
	}
	struct bt_gid_pick pick;
	enum bt_gid_result rc = bt_gid_pick(&root, s->rdma_dev, s->gid_index, &pick);
	unsigned line = s->line[BT_HOSTS_GID_INDEX]   ? s->line[BT_HOSTS_GID_INDEX]
			: s->line[BT_HOSTS_RDMA_DEV] ? s->line[BT_HOSTS_RDMA_DEV]
						     : s->section_line;
	if (rc != BT_GID_FOUND) {
		fprintf(stderr,
			"bluetas app: %s:%u: rdma_dev %s%s: %s (bluetas preflight --role host says why and how to fix it)\n",
			file, line, s->rdma_dev, s->gid_index >= 0 ? " with gid_index" : "",
			rc == BT_GID_NO_DEVICE ? (strcmp(s->rdma_dev, "auto") ? "no such RDMA device under /sys/class/infiniband"
									      : "no RDMA device under /sys/class/infiniband")
			: rc == BT_GID_EMPTY   ? "its GID table is empty (no IPv4 address on its netdev?)"
					       : "no RoCE v2 GID with an IPv4 address there");
		return -1;
	}
	if (s->ip[0] && strcmp(s->ip, pick.ipv4)) {
		fprintf(stderr,
			"bluetas app: %s:%u: ip = %s, but rdma_dev %s found %s, whose RoCE v2 GID (index %d) carries %s: "
			"name rdma_dev and gid_index, or fix ip\n",
			file, s->line[BT_HOSTS_IP], s->ip, s->rdma_dev, pick.dev, pick.gid_index, pick.ipv4);
		return -1;
	}
	snprintf(o->hosts_channel, sizeof(o->hosts_channel), "verbs:%s,src=%s,dev=%s,gid=%d", s->peer_ip, pick.ipv4,
		 pick.dev, pick.gid_index);
	snprintf(o->from_channel, sizeof(o->from_channel), "%s:%u peer_ip; rdma_dev %s: %s GID index %d (RoCE v2, %s)",
		 file, s->line[BT_HOSTS_PEER_IP], s->rdma_dev, pick.dev, pick.gid_index, pick.ipv4);
	o->channel = o->hosts_channel;
	return 0;
}

/* Returns 0, 1 after --help, or -1 after a usage message. */
static int parse_opts(int argc, char **argv, struct app_opts *o)
{
	static const struct option longopts[] = {
		{ "channel", required_argument, NULL, OPT_CHANNEL },
		{ "app", required_argument, NULL, OPT_APP },
		{ "remote", required_argument, NULL, OPT_REMOTE },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "conns", required_argument, NULL, OPT_CONNS },
		{ "msg-bytes", required_argument, NULL, OPT_MSG_BYTES },
		{ "messages", required_argument, NULL, OPT_MESSAGES },
		{ "bytes", required_argument, NULL, OPT_BYTES },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "exit-after-conns", required_argument, NULL, OPT_EXIT_AFTER },
		{ "connect-retry-s", required_argument, NULL, OPT_RETRY },
		{ "duration-s", required_argument, NULL, OPT_DURATION },
		{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
		{ "ring-bytes", required_argument, NULL, OPT_RING_BYTES },
		{ "busy-poll", no_argument, NULL, OPT_BUSY },
		{ "spin-us", required_argument, NULL, OPT_SPIN },
		{ "yield-polls", required_argument, NULL, OPT_YIELD_POLLS },
		{ "no-inline", no_argument, NULL, OPT_NO_INLINE },
		RT_OPTS_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	optind = 1;
	opterr = 0;
	int c;
	uint64_t v;
	bool given[OPT_END - 256];
	memset(given, 0, sizeof(given));
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (rt_opts_take(c, optarg, &o->rt))
			continue;
		if (c >= 256 && c < OPT_END)
			given[c - 256] = true;
		switch (c) {
		case OPT_CHANNEL:
			o->channel = optarg;
			break;
		case OPT_APP: {
			bool found = false;
			for (int i = 0; i < 4; i++)
				if (!strcmp(optarg, app_names[i])) {
					o->app = (enum app_kind)i;
					found = true;
				}
			if (!found) {
				fprintf(stderr, "bluetas app: --app: '%s' is not echo-client, echo-server, sink or source\n",
					optarg);
				return -1;
			}
			o->has_app = true;
			break;
		}
		case OPT_REMOTE:
			if (cli_parse_endpoint("--remote", optarg, &o->remote_ip, &o->remote_port) < 0)
				return -1;
			o->has_remote = true;
			break;
		case OPT_LISTEN:
			if (cli_parse_u64("--listen", optarg, 1, 65535, &v) < 0)
				return -1;
			o->listen_port = (uint16_t)v;
			break;
		case OPT_CONNS:
			if (cli_parse_u64("--conns", optarg, 1, 4000, &v) < 0)
				return -1;
			o->conns = (uint32_t)v;
			break;
		case OPT_MSG_BYTES:
			if (cli_parse_u64("--msg-bytes", optarg, 1, 1ull << 30, &o->msg_bytes) < 0)
				return -1;
			break;
		case OPT_MESSAGES:
			if (cli_parse_u64("--messages", optarg, 1, 1ull << 40, &o->messages) < 0)
				return -1;
			o->has_messages = true;
			break;
		case OPT_BYTES:
			if (cli_parse_u64("--bytes", optarg, 1, 1ull << 50, &o->bytes) < 0)
				return -1;
			o->has_bytes = true;
			break;
		case OPT_SEED:
			if (cli_parse_u64("--seed", optarg, 0, UINT64_MAX, &o->seed) < 0)
				return -1;
			break;
		case OPT_EXIT_AFTER:
			if (cli_parse_u64("--exit-after-conns", optarg, 1, 1ull << 32, &o->exit_after_conns) < 0)
				return -1;
			break;
		case OPT_RETRY:
			if (cli_parse_u64("--connect-retry-s", optarg, 0, 3600, &v) < 0)
				return -1;
			o->connect_retry_ns = v * NS_PER_S;
			break;
		case OPT_DURATION:
			if (cli_parse_u64("--duration-s", optarg, 1, 86400 * 365, &v) < 0)
				return -1;
			o->duration_ns = v * NS_PER_S;
			o->has_duration = true;
			break;
		case OPT_MAX_CONNS:
			if (cli_parse_u64("--max-conns", optarg, 1, 65536, &v) < 0)
				return -1;
			o->max_conns = (uint32_t)v;
			break;
		case OPT_RING_BYTES:
			if (cli_parse_u64("--ring-bytes", optarg, 4096, 1ull << 30, &v) < 0)
				return -1;
			o->ring_bytes = (uint32_t)v;
			break;
		case OPT_BUSY:
			o->busy_poll = true;
			break;
		case OPT_SPIN:
			if (cli_parse_u64("--spin-us", optarg, 0, 10000000, &v) < 0)
				return -1;
			o->spin_ns = v * 1000;
			o->spin_fixed = true;
			break;
		case OPT_NO_INLINE:
			o->no_inline = true;
			break;
		case OPT_YIELD_POLLS:
			if (cli_parse_u64("--yield-polls", optarg, 0, 1u << 30, &v) < 0)
				return -1;
			o->yield_polls = (uint32_t)v;
			break;
		case 'h':
			cli_app_usage(stdout);
			return 1;
		default: /* ':' a value missing, '?' an unknown option */
			cli_opt_error("app", c, argv);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bluetas app: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!o->has_app) {
		fprintf(stderr, "bluetas app: --app echo-client|echo-server|sink|source is required\n");
		return -1;
	}
	const struct rt_app_only *misfit =
		rt_app_only_misfit(app_only_opts, sizeof(app_only_opts) / sizeof(app_only_opts[0]), given, o->app);
	if (misfit) {
		fprintf(stderr, "bluetas app: %s does not apply to --app %s (only to %s)\n", misfit->name,
			app_names[o->app], misfit->which);
		return -1;
	}
	if (o->channel)
		snprintf(o->from_channel, sizeof(o->from_channel), "command line%s",
			 o->rt.hosts_path ? " (the hosts file's channel is not used)" : "");
	if (o->rt.hosts_path && app_apply_hosts(o) != 0)
		return -1;
	if (!o->channel) {
		fprintf(stderr, "bluetas app: --channel verbs:ADDR[:PORT] or ipc:PATH is required (the NIC daemon's channel), "
				"or --hosts FILE with peer_ip in [host]\n");
		return -1;
	}
	if ((o->app == APP_ECHO_CLIENT || o->app == APP_SOURCE) && !o->has_remote) {
		fprintf(stderr, "bluetas app: --app %s needs --remote IP:PORT\n", app_names[o->app]);
		return -1;
	}
	if (o->app == APP_ECHO_CLIENT && o->has_bytes && o->has_messages) {
		fprintf(stderr, "bluetas app: give --messages or --bytes, not both\n");
		return -1;
	}
	if (o->conns > o->max_conns) {
		fprintf(stderr, "bluetas app: --conns %u exceeds --max-conns %u\n", o->conns, o->max_conns);
		return -1;
	}
	return 0;
}

/* ---- the run ---- */

struct app_run {
	struct app_opts *o;
	struct bt_clock mono;
	struct chan *ch;
	struct bt_host *host;
	struct rt_app *app;
	uint64_t waits, wait_ns;
	uint64_t yields; /* sched_yield calls of the polling loop */
	struct rt_hops hops;
	uint32_t floor_slots; /* slots still in use once every connection is gone */
};

static void print_stats(struct app_run *d)
{
	struct bt_host_stats h;
	bt_host_stats(d->host, &h);
	RT_PRINT_STATS("host", struct bt_host_stats, &h, BT_HOST_STATS_FIELDS_U64);
	RT_PRINT_STATS("host", struct bt_host_stats, &h, BT_HOST_STATS_FIELDS_U32);
	/* The channel's counters by struct chan_stats' field list, whatever
	 * the backend; then verbs' own, by its field list. */
	struct chan_stats c;
	memset(&c, 0, sizeof(c));
	rt_chan_stats_add(d->ch, &c);
	RT_PRINT_STATS("chan", struct chan_stats, &c, CHAN_STATS_FIELDS);
	struct verbs_chan_stats v;
	if (verbs_chan_stats(d->ch, &v) == 0)
		RT_PRINT_STATS("verbs", struct verbs_chan_stats, &v, VERBS_CHAN_STATS_FIELDS_U64);
	printf("stat.loop.waits=%" PRIu64 "\n", d->waits);
	printf("stat.loop.wait_ms=%.1f\n", (double)d->wait_ns / 1e6);
	printf("stat.loop.yields=%" PRIu64 "\n", d->yields);
	rt_app_print_stats(d->app);
}

/* Connects the channel and the host library, starts the app. 0, or 1
 * with a message. */
static int setup(struct app_run *d, char *err, size_t err_len)
{
	struct app_opts *o = d->o;
	char why[512];
	/* First: a --hops file that cannot be written is a usage error. */
	if (o->rt.hops_path && rt_hops_open(&d->hops, o->rt.hops_path, err, err_len) < 0)
		return 2;
	if (!strncmp(o->channel, "ipc:", 4)) {
		struct ipc_spec is;
		if (ipc_parse_spec(o->channel, &is, why, sizeof(why)) < 0) {
			snprintf(err, err_len, "--channel: %s", why);
			return 2;
		}
		struct ipc_params ip = {.sq_depth = is.sq_depth, .msg_depth = is.msg_depth};
		d->ch = ipc_connect(is.path, &ip, APP_CONNECT_MS, why, sizeof(why));
	} else {
		struct verbs_spec spec;
		if (verbs_parse_spec(o->channel, &spec, why, sizeof(why)) < 0) {
			snprintf(err, err_len, "--channel: %s", why);
			return 2;
		}
		struct verbs_params vp;
		verbs_spec_params(&spec, &vp);
		d->ch = verbs_connect(spec.addr, spec.port, &vp, APP_CONNECT_MS, why, sizeof(why));
	}
	if (!d->ch) {
		snprintf(err, err_len, "channel %s: cannot connect to the NIC daemon: %s", o->channel, why);
		return 1;
	}
	struct bt_host_config hc;
	bt_host_default_config(&hc);
	hc.max_conns = o->max_conns;
	hc.rx_ring_bytes = hc.tx_ring_bytes = o->ring_bytes;
	hc.doorbell_no_inline = o->no_inline;
	int rc;
	d->host = bt_host_create(&hc, d->ch, &d->mono, &rc);
	if (!d->host) {
		snprintf(err, err_len, "host library: %s", bt_strerror(rc));
		return 1;
	}
	if (o->rt.hops_path)
		bt_host_set_hop_trace(d->host, &d->hops.trace);
	uint16_t listen = o->listen_port ? o->listen_port : o->app == APP_ECHO_SERVER ? 7 : 9;
	if (o->app == APP_ECHO_SERVER || o->app == APP_SINK)
		d->floor_slots = APP_BACKLOG < o->max_conns ? APP_BACKLOG : o->max_conns;
	static const enum rt_app_kind kinds[] = {RT_APP_ECHO_CLIENT, RT_APP_ECHO_SERVER, RT_APP_SINK, RT_APP_SOURCE};
	struct rt_app_config ac = {.kind = kinds[o->app],
				   .echo_server_name = "echo-server",
				   .listen_port = listen,
				   .backlog = APP_BACKLOG,
				   .echo_buf_bytes = o->ring_bytes,
				   .remote_ip = o->remote_ip,
				   .remote_port = o->remote_port,
				   .conns = o->conns,
				   .msg_bytes = o->msg_bytes,
				   .messages = o->messages,
				   .max_rtt_samples = APP_RTT_SAMPLES,
				   .seed = o->seed,
				   .connect_retry_ns = o->connect_retry_ns};
	if (o->app == APP_ECHO_SERVER || o->app == APP_SINK)
		ac.exit_after_conns = o->exit_after_conns; /* a count of served connections */
	if (o->app == APP_ECHO_CLIENT && o->has_bytes)
		ac.messages = (o->bytes + o->msg_bytes - 1) / o->msg_bytes;
	if (o->app == APP_SOURCE)
		ac.bytes = o->has_bytes ? o->bytes : 64ull << 20;
	if (o->app == APP_SINK && o->has_bytes)
		ac.bytes = o->bytes;
	d->app = rt_app_create(d->host, &ac, &d->mono, err, err_len);
	if (!d->app)
		return 1;
	struct verbs_chan_info vi;
	if (ipc_chan_is(d->ch)) {
		struct chan_info ci;
		chan_info(d->ch, &ci);
		printf("ready channel=ipc path=%s sq=%u msg=%u app=%s", o->channel + 4, ci.sq_depth, ci.msg_depth,
		       app_names[o->app]);
	} else if (verbs_chan_describe(d->ch, &vi) == 0)
		printf("ready channel=verbs dev=%s port=%u gid_index=%d gid_type=\"%s\" local=%s nic=%s sq=%u msg=%u app=%s",
	       vi.dev, vi.port_num, vi.gid_index, vi.gid_type, vi.local, vi.peer, vi.sq_depth, vi.msg_depth,
	       app_names[o->app]);
	if (o->app == APP_ECHO_CLIENT || o->app == APP_SOURCE) {
		char rs[16];
		ipv4_to_str(o->remote_ip, rs);
		printf(" remote=%s:%u", rs, o->remote_port);
	} else {
		printf(" listen=%u", listen);
	}
	printf("\n");
	fflush(stdout);
	return 0;
}

static bool channel_broken(struct app_run *d, char *why, size_t cap)
{
	struct verbs_chan_stats v;
	if (verbs_chan_stats(d->ch, &v) == 0 && v.broken) {
		snprintf(why, cap, "%s", v.broken_why);
		return true;
	}
	struct ipc_chan_stats is;
	if (ipc_chan_stats(d->ch, &is) == 0 && is.broken) {
		snprintf(why, cap, "%s", is.broken_why);
		return true;
	}
	return false;
}

static const char *run_loop(struct app_run *d, char *why, size_t why_len)
{
	struct app_opts *o = d->o;
	uint64_t start = bt_clock_now_ns(&d->mono);
	uint64_t deadline = o->has_duration ? start + o->duration_ns : UINT64_MAX;
	uint64_t drain_until = 0, idle_since = 0, last_work = 0;
	uint32_t empty_polls = 0;
	bool stopping = false, was_idle = false;
	struct spin_policy spin;
	spin_policy_init(&spin, o->spin_ns, o->spin_fixed ? 0 : APP_SPIN_MAX_US * 1000, o->spin_ns);
	for (;;) {
		int n = rt_app_poll(d->app);
		/* --yield-polls N: give the CPU to whatever else is runnable on
		 * it (the Linux peer a request woke, the kernel's deferred work)
		 * every N empty polls. Off by default: in the Soft-RoCE VM it
		 * made the RPC slower, not faster (docs/emu.md, "Placement"). */
		if (n > 0) {
			empty_polls = 0;
		} else if (o->yield_polls && ++empty_polls >= o->yield_polls) {
			empty_polls = 0;
			sched_yield();
			d->yields++;
		}
		uint64_t now = bt_clock_now_ns(&d->mono);
		if (n > 0) {
			/* A gap ends: work after the loop had gone idle. */
			if (was_idle && last_work)
				spin_policy_learn(&spin, now - last_work);
			last_work = now;
			was_idle = false;
		}
		if (rt_stop_reason())
			return rt_stop_reason();
		if (channel_broken(d, why, why_len))
			return "channel broken";
		if (now >= deadline && !stopping) {
			/* An echo client finishes the messages in flight,
			 * verifies them and closes; the others stop here. */
			if (!rt_app_stop(d->app))
				return "duration";
			stopping = true;
			deadline = now + APP_DRAIN_NS;
		} else if (now >= deadline) {
			return "duration (echo client did not finish within the drain time)";
		}
		if (!drain_until && rt_app_done(d->app))
			drain_until = now + APP_DRAIN_NS;
		if (drain_until) {
			/* The NIC releases the slots once the closes completed:
			 * leaving earlier would reset the connections. A server
			 * keeps its listener's accept slots (min(backlog,
			 * max_conns) of them) posted to the end. */
			struct bt_host_stats hs;
			bt_host_stats(d->host, &hs);
			if (hs.conns_in_use <= d->floor_slots)
				return "done";
			if (now >= drain_until)
				return "done (connections still open after the drain time)";
		}
		if (n > 0 || o->busy_poll) {
			idle_since = 0;
			continue;
		}
		was_idle = true;
		if (!idle_since) {
			idle_since = now;
			continue;
		}
		if (now - idle_since < spin_policy_spin_ns(&spin))
			continue;
		/* Idle: sleep until the NIC's WAKEUP, the next deadline, or the
		 * cap that bounds what a lost WAKEUP can cost. */
		uint64_t limit = APP_WAIT_MAX_NS;
		uint64_t until = drain_until ? drain_until : deadline;
		if (until != UINT64_MAX && until > now && until - now < limit)
			limit = until - now;
		uint64_t t0 = now;
		int rc = bt_wait(d->host, limit);
		d->waits++;
		d->wait_ns += bt_clock_now_ns(&d->mono) - t0;
		idle_since = 0;
		if (rc == BT_ECHANNEL) {
			if (!channel_broken(d, why, why_len))
				snprintf(why, why_len, "bt_wait: %s", bt_strerror(rc));
			return "channel broken";
		}
	}
}

static void teardown(struct app_run *d)
{
	rt_app_destroy(d->app);
	char ignored[64];
	rt_hops_close(&d->hops, ignored, sizeof(ignored)); /* a setup that failed half-way */
	bt_host_destroy(d->host); /* deregisters its region: before the channel goes */
	if (d->ch)
		chan_destroy(d->ch);
}

int cli_app(int argc, char **argv)
{
	struct app_opts o;
	memset(&o, 0, sizeof(o));
	o.conns = 1;
	o.msg_bytes = 64;
	o.seed = 1;
	o.connect_retry_ns = 10 * NS_PER_S;
	o.max_conns = 64;
	o.ring_bytes = 256u << 10;
	o.spin_ns = APP_SPIN_US * 1000;
	o.yield_polls = APP_YIELD_POLLS;
	int prc = parse_opts(argc, argv, &o);
	if (prc == 1)
		return 0;
	if (prc)
		return 2;
	if (o.app == APP_ECHO_CLIENT && !o.has_duration && !o.has_messages && !o.has_bytes) {
		o.duration_ns = 10 * NS_PER_S;
		o.has_duration = true;
	}
	if (o.rt.print_config) {
		if (o.rt.hosts_path)
			printf("config hosts=%s section=[host]\n", o.hosts.name);
		printf("config channel=%s (%s)\n", o.channel, o.from_channel[0] ? o.from_channel : "command line");
		printf("config app=%s", app_names[o.app]);
		if (o.has_remote) {
			char rs[16];
			ipv4_to_str(o.remote_ip, rs);
			printf(" remote=%s:%u", rs, o.remote_port);
		}
		printf("\n");
		fflush(stdout);
		return 0;
	}

	struct app_run d;
	memset(&d, 0, sizeof(d));
	d.o = &o;
	bt_clock_monotonic(&d.mono);
	rt_catch_stop_signals();

	char err[1024];
	int rc = setup(&d, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "bluetas app: %s\n", err);
		teardown(&d);
		return rc;
	}
	uint64_t t0 = bt_clock_now_ns(&d.mono);
	char why[256] = "";
	const char *reason = run_loop(&d, why, sizeof(why));
	double secs = (double)(bt_clock_now_ns(&d.mono) - t0) / 1e9;
	rc |= rt_app_report(d.app, secs);
	if (!strcmp(reason, "channel broken")) {
		fprintf(stderr, "bluetas app: channel %s: the link to the NIC daemon broke: %s\n", o.channel, why);
		rc = 1;
	}
	if (!strncmp(reason, "done (", 6) || !strncmp(reason, "duration (", 10))
		rc = 1;
	if (o.rt.stats)
		print_stats(&d);
	if (o.rt.hops_path) {
		bt_host_set_hop_trace(d.host, NULL);
		if (rt_hops_close(&d.hops, err, sizeof(err)) < 0) {
			fprintf(stderr, "bluetas app: %s\n", err);
			rc = 1;
		}
	}
	printf("exit reason=%s status=%d\n", reason, rc);
	fflush(stdout);
	teardown(&d);
	return rc;
}
