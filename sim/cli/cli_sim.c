/* cli_sim.c: `bluetas sim`, the echo workload in the simulator. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/proto/proto.h"
#include "../../core/util/hop_join.h"
#include "../testbed.h"

#define SIM_HOPS_MAX_RECORDS (4u << 20) /* 4 Mi records, 96 MiB */
#include "cli.h"

void cli_sim_usage(FILE *out)
{
	fprintf(out,
		"usage: bluetas sim [OPTIONS]\n"
		"\n"
		"Runs an echo workload between two complete stacks (client 10.0.0.1, server\n"
		"10.0.0.2: app, host library, shm channel, NIC fast+slow path each) over a\n"
		"simulated wire, in virtual time. The same seed gives the same bytes on the\n"
		"wire. Exit status: 0 all bytes echoed intact, 1 failure, 2 usage error.\n"
		"\n"
		"options:\n"
		"  -s, --msg-bytes N     bytes per echo message (default 1448; K/M/G suffixes)\n"
		"  -c, --conns N         concurrent connections (default 1)\n"
		"  -n, --messages N      messages per connection (default 10)\n"
		"      --cycles N        connect/close cycles per connection (default 1)\n"
		"  -m, --mss N           maximum segment size, 64..9000 (default 1448)\n"
		"  -S, --seed N          seed for payload, sequence numbers and keys (default 1)\n"
		"      --ring-bytes N    per-connection RX and TX ring size (default 64K)\n"
		"      --latency-us N    one-way wire latency in microseconds (default 5)\n"
		"      --gbps N          wire bandwidth in Gbit/s, 0 = unlimited (default 10)\n"
		"      --chan-latency-ns N  host<->NIC channel one-way latency (default 1000)\n"
		"      --no-ecn          do not negotiate ECN (DCTCP then sees no marks)\n"
		"  -p, --pcap FILE       write every frame on the wire to FILE (pcap, ns)\n"
		"      --time-limit-s N  virtual seconds before giving up (default 600)\n"
		"      --hops            trace every RPC hop by hop (client and server host and NIC)\n"
		"                        and print the breakdown: p50/p99 per hop (docs/benchmarks.md)\n"
		"  -h, --help            this help\n");
}

void cli_opt_error(const char *cmd, int c, char *const argv[])
{
	if (c == ':')
		fprintf(stderr, "bluetas %s: option %s needs a value\n", cmd, argv[optind - 1]);
	else
		fprintf(stderr, "bluetas %s: unknown option '%s' (see bluetas %s --help)\n", cmd, argv[optind - 1], cmd);
}

int cli_parse_u64(const char *flag, const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	/* Digits first: strtoull itself would skip spaces and take a sign
	 * (" -1" becomes 2^64-1). */
	if (!text || *text < '0' || *text > '9') {
		fprintf(stderr, "bluetas: %s: expected a non-negative number, got '%s'\n", flag, text ? text : "");
		return -1;
	}
	errno = 0;
	char *end;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || end == text) {
		fprintf(stderr, "bluetas: %s: '%s' is not a number\n", flag, text);
		return -1;
	}
	uint64_t mult = 1;
	if (*end == 'K' || *end == 'k')
		mult = 1024ull;
	else if (*end == 'M' || *end == 'm')
		mult = 1024ull * 1024;
	else if (*end == 'G' || *end == 'g')
		mult = 1024ull * 1024 * 1024;
	if (mult != 1)
		end++;
	if (*end) {
		fprintf(stderr, "bluetas: %s: trailing characters in '%s'\n", flag, text);
		return -1;
	}
	if (v > UINT64_MAX / mult || v * mult < min || v * mult > max) {
		fprintf(stderr, "bluetas: %s: %s is out of range %" PRIu64 "..%" PRIu64 "\n", flag, text, min, max);
		return -1;
	}
	*out = v * mult;
	return 0;
}

int cli_parse_endpoint(const char *flag, const char *text, uint32_t *ip, uint16_t *port)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", text);
	char *colon = strrchr(buf, ':');
	if (!colon) {
		fprintf(stderr, "bluetas: %s: expected IP:PORT, got '%s'\n", flag, text);
		return -1;
	}
	*colon = 0;
	if (ipv4_from_str(buf, ip) < 0) {
		fprintf(stderr, "bluetas: %s: '%s' is not an IPv4 address (A.B.C.D)\n", flag, buf);
		return -1;
	}
	char port_flag[64];
	snprintf(port_flag, sizeof(port_flag), "%s port", flag);
	uint64_t v;
	if (cli_parse_u64(port_flag, colon + 1, 1, 65535, &v) < 0)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static void print_result(const struct testbed_config *cfg, const struct testbed_result *r)
{
	printf("%-10s %-6s %-10s %-9s %-14s %-12s %-9s %-8s %s\n", "scenario", "conns", "msg_bytes", "messages",
	       "bytes_echoed", "virtual_ms", "wall_ms", "retrans", "result");
	printf("%-10s %-6u %-10" PRIu64 " %-9" PRIu64 " %-14" PRIu64 " %-12.3f %-9.1f %-8" PRIu64 " %s\n", "echo",
	       cfg->conns, cfg->msg_bytes, r->client.messages_done, r->client.bytes_received,
	       (double)r->virtual_ns / 1e6, r->wall_s * 1e3,
	       r->nic_client.tx_retransmits + r->nic_server.tx_retransmits, r->passed ? "PASS" : "FAIL");
	uint64_t segs = r->nic_client.tx_segments + r->nic_server.tx_segments + r->nic_client.tx_acks +
			r->nic_server.tx_acks;
	printf("\nwire: %" PRIu64 " frames to server, %" PRIu64 " to client; %" PRIu64 " ECN marks; %" PRIu64
	       " queue drops\n",
	       r->wire_to_server.frames, r->wire_to_client.frames,
	       r->wire_to_server.ecn_marked + r->wire_to_client.ecn_marked,
	       r->wire_to_server.dropped_queue + r->wire_to_client.dropped_queue);
	printf("stack: %" PRIu64 " segments+acks sent, %" PRIu64 " fast retransmits, %" PRIu64 " RTOs; "
	       "simulator: %.0f segments per wall second\n",
	       segs, r->nic_client.fast_retransmits + r->nic_server.fast_retransmits,
	       r->nic_client.rtos + r->nic_server.rtos, r->wall_s > 0 ? (double)segs / r->wall_s : 0.0);
	printf("channel: client %" PRIu64 " reads %" PRIu64 " writes %" PRIu64 " msgs; server %" PRIu64 " reads %" PRIu64
	       " writes %" PRIu64 " msgs; access errors %" PRIu64 "\n",
	       r->chan_client.reads, r->chan_client.writes, r->chan_client.msgs, r->chan_server.reads,
	       r->chan_server.writes, r->chan_server.msgs, r->chan_client.access_errors + r->chan_server.access_errors);
	if (!r->passed)
		printf("\nFAIL: %s\n", r->failure);
}

int cli_sim(int argc, char **argv)
{
	struct testbed_config cfg;
	testbed_default_config(&cfg);
	bool hops = false;
	enum { OPT_CYCLES = 256, OPT_RING, OPT_LAT, OPT_GBPS, OPT_CHAN_LAT, OPT_NO_ECN, OPT_TIME_LIMIT, OPT_HOPS };
	static const struct option opts[] = {
		{"msg-bytes", required_argument, 0, 's'},
		{"conns", required_argument, 0, 'c'},
		{"messages", required_argument, 0, 'n'},
		{"cycles", required_argument, 0, OPT_CYCLES},
		{"mss", required_argument, 0, 'm'},
		{"seed", required_argument, 0, 'S'},
		{"ring-bytes", required_argument, 0, OPT_RING},
		{"latency-us", required_argument, 0, OPT_LAT},
		{"gbps", required_argument, 0, OPT_GBPS},
		{"chan-latency-ns", required_argument, 0, OPT_CHAN_LAT},
		{"no-ecn", no_argument, 0, OPT_NO_ECN},
		{"hops", no_argument, 0, OPT_HOPS},
		{"pcap", required_argument, 0, 'p'},
		{"time-limit-s", required_argument, 0, OPT_TIME_LIMIT},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	uint64_t v;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:c:n:m:S:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (cli_parse_u64("--msg-bytes", optarg, 1, 1ull << 34, &cfg.msg_bytes) < 0)
				return 2;
			break;
		case 'c':
			if (cli_parse_u64("--conns", optarg, 1, 4000, &v) < 0)
				return 2;
			cfg.conns = (uint32_t)v;
			break;
		case 'n':
			if (cli_parse_u64("--messages", optarg, 1, 1ull << 32, &cfg.messages) < 0)
				return 2;
			break;
		case OPT_CYCLES:
			if (cli_parse_u64("--cycles", optarg, 1, 1000000, &v) < 0)
				return 2;
			cfg.cycles = (uint32_t)v;
			break;
		case 'm':
			if (cli_parse_u64("--mss", optarg, 64, 9000, &v) < 0)
				return 2;
			cfg.mss = (uint16_t)v;
			break;
		case 'S':
			if (cli_parse_u64("--seed", optarg, 0, UINT64_MAX, &cfg.seed) < 0)
				return 2;
			break;
		case OPT_RING:
			if (cli_parse_u64("--ring-bytes", optarg, 1024, 1ull << 28, &v) < 0)
				return 2;
			cfg.host.rx_ring_bytes = cfg.host.tx_ring_bytes = (uint32_t)v;
			break;
		case OPT_LAT:
			if (cli_parse_u64("--latency-us", optarg, 0, 10000000, &v) < 0)
				return 2;
			cfg.link.latency_ns = v * 1000;
			break;
		case OPT_GBPS:
			if (cli_parse_u64("--gbps", optarg, 0, 1000, &v) < 0)
				return 2;
			cfg.link.bandwidth_bps = v * 1000000000ull;
			break;
		case OPT_CHAN_LAT:
			if (cli_parse_u64("--chan-latency-ns", optarg, 0, 1000000000, &cfg.chan_latency_ns) < 0)
				return 2;
			break;
		case OPT_NO_ECN:
			cfg.ecn = false;
			break;
		case OPT_HOPS:
			hops = true;
			break;
		case 'p':
			cfg.pcap_path = optarg;
			break;
		case OPT_TIME_LIMIT:
			if (cli_parse_u64("--time-limit-s", optarg, 1, 1000000, &v) < 0)
				return 2;
			cfg.time_limit_ns = v * 1000000000ull;
			break;
		case 'h':
			cli_sim_usage(stdout);
			return 0;
		default: /* ':' a value missing, '?' an unknown option */
			cli_opt_error("sim", c, argv);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bluetas sim: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	char err[256];
	struct hop_trace ht[2];
	if (hops) {
		/* About a dozen records per segment and side; the first ones
		 * are kept when the run is longer. */
		uint64_t cap;
		if (__builtin_mul_overflow((cfg.msg_bytes / 536 + 2) * 16, cfg.messages * cfg.conns * cfg.cycles, &cap) ||
		    cap > SIM_HOPS_MAX_RECORDS)
			cap = SIM_HOPS_MAX_RECORDS;
		if (hop_trace_init(&ht[0], (uint32_t)cap, 0) < 0 || hop_trace_init(&ht[1], (uint32_t)cap, 1) < 0) {
			fprintf(stderr, "bluetas sim: out of memory for the hop trace\n");
			return 1;
		}
		cfg.hops_client = &ht[0];
		cfg.hops_server = &ht[1];
		uint64_t samples = cfg.messages * cfg.conns * cfg.cycles;
		cfg.max_rtt_samples = samples && samples < (1u << 20) ? (uint32_t)samples : (1u << 20);
	}
	struct testbed_result r;
	if (testbed_run(&cfg, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "bluetas sim: %s\n", err);
		return 1;
	}
	print_result(&cfg, &r);
	if (cfg.pcap_path)
		printf("pcap: %s\n", cfg.pcap_path);
	int rc = r.passed ? 0 : 1;
	if (hops) {
		const struct hop_trace *both[2] = {&ht[0], &ht[1]};
		if (hop_print_traces(both, 2, "sim, virtual time", stdout) < 0 ||
		    hop_print_measured(r.rtt_ns, r.rtt_count, stdout) < 0) {
			fprintf(stderr, "bluetas sim: cannot print the hop breakdown\n");
			rc = 1;
		}
		hop_trace_free(&ht[0]);
		hop_trace_free(&ht[1]);
	}
	testbed_result_free(&r);
	return rc;
}
