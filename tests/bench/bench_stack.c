/*
 * bench_stack.c: the stack's own numbers, printed in the same key=value
 * shape as bench_linux_tcp so run-bench.sh can set them side by side.
 *
 *   --mode rt    closed-loop echo RPC between two whole stacks on the shm
 *                channel in REAL time, all in this one thread (so round
 *                trips per CPU-second is the per-core rate); the first
 *                --warmup-ms of the run are not measured;
 *                With --hops, both sides also record every RPC's hops
 *                (the first BENCH_HOPS_RECORDS each) and the per-hop
 *                breakdown follows the figures (docs/benchmarks.md).
 *   --mode bulk  the simulator's speed on the documented bulk workload
 *                (docs/benchmarks.md): --flows streams of --bytes-per-flow
 *                from a stream app to a sink over 10 Gbit/s, 10 us one way,
 *                MSS 1448, every byte checked, in virtual time. Reported as
 *                ONE-WAY DATA segments (the sender NIC's data segments,
 *                retransmissions included; no ACKs, no reverse direction)
 *                per wall second and per CPU second of the run itself.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/hop_join.h"
#include "sim/scenario.h"
#include "sim/testbed.h"

#define BENCH_HOPS_RECORDS (1u << 20)

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: bench_stack [--mode rt|bulk] [--conns N] [--msg-bytes B] [--duration-ms D] [--warmup-ms W] [--hops]\n"
		     "                   [--flows N] [--bytes-per-flow B]\n"
		     "  rt:   echo RPC over the shm channel in real time (default 1 conn, 64 B, 2000 ms\n"
		     "        measured after 200 ms of warm-up); --hops: and the per-hop breakdown of\n"
		     "        the first RPCs (the trace costs a clock read per hop: figures of a\n"
		     "        traced run are not the benchmark's)\n"
		     "  bulk: simulator speed: N flows of B bytes (default 1, 67108864), 10 Gbit/s, 10 us,\n"
		     "        MSS 1448; one-way data segments per wall and per CPU second\n");
}

static int parse_num(const char *flag, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || v < min || v > max) {
		fprintf(stderr, "bench_stack: %s: '%s' is not a number in %" PRIu64 "..%" PRIu64 "\n", flag, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int run_rt(uint32_t conns, uint64_t msg_bytes, uint64_t duration_ms, uint64_t warmup_ms, bool hops)
{
	struct testbed_config cfg;
	testbed_default_config(&cfg);
	struct hop_trace ht[2];
	if (hops) {
		if (hop_trace_init(&ht[0], BENCH_HOPS_RECORDS, 0) < 0 || hop_trace_init(&ht[1], BENCH_HOPS_RECORDS, 1) < 0) {
			fprintf(stderr, "bench_stack: out of memory for the hop trace\n");
			return 1;
		}
		cfg.hops_client = &ht[0];
		cfg.hops_server = &ht[1];
	}
	cfg.realtime = true;
	cfg.conns = conns;
	cfg.server_backlog = conns;
	cfg.msg_bytes = msg_bytes;
	cfg.messages = 0;
	cfg.warmup_ns = warmup_ms * 1000000ull;
	cfg.duration_ns = (warmup_ms + duration_ms) * 1000000ull;
	cfg.time_limit_ns = cfg.duration_ns + 10ull * 1000000000ull;
	cfg.max_rtt_samples = 4000000;
	cfg.link.latency_ns = 0;
	cfg.link.bandwidth_bps = 0;
	cfg.host.rx_ring_bytes = cfg.host.tx_ring_bytes = 16384;
	char err[256];
	struct testbed_result r;
	if (testbed_run(&cfg, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_stack: %s\n", err);
		return 1;
	}
	int rc = 0;
	if (hops) {
		/* The trace holds the first RPCs (warm-up included); the
		 * client's first samples are the same RPCs when there is one
		 * connection. */
		const struct hop_trace *both[2] = {&ht[0], &ht[1]};
		uint32_t sends = 0;
		for (uint32_t i = 0; i < ht[0].count; i++)
			sends += ht[0].recs[i].point == HOP_SEND;
		if (hop_print_traces(both, 2, "shm, real time, first RPCs", stdout) < 0 ||
		    (conns == 1 && hop_print_measured(r.rtt_ns, r.rtt_count < sends ? r.rtt_count : sends, stdout) < 0))
			rc = 1;
		hop_trace_free(&ht[0]);
		hop_trace_free(&ht[1]);
	}
	/* Latencies of the measured window only: samples before it were
	 * taken during the warm-up. */
	uint32_t first = r.rtt_first_measured < r.rtt_count ? r.rtt_first_measured : r.rtt_count;
	uint32_t n = r.rtt_count - first;
	if (!r.passed || n == 0 || r.measured_messages == 0 || r.measured_cpu_s <= 0) {
		fprintf(stderr, "bench_stack: run failed: %s\n", r.passed ? "no round trips measured" : r.failure);
		testbed_result_free(&r);
		return 1;
	}
	uint64_t *lat = r.rtt_ns + first;
	qsort(lat, n, sizeof(uint64_t), cmp_u64);
	double p50 = (double)lat[n / 2] / 1000.0;
	double p99 = (double)lat[(uint64_t)n * 99 / 100] / 1000.0;
	printf("bluetas_shm conns=%u msg_bytes=%" PRIu64 " rtts=%" PRIu64 " rtt_per_s=%.0f rtt_per_cpu_s=%.0f "
	       "p50_us=%.2f p99_us=%.2f cpu_s=%.2f wall_s=%.2f\n",
	       conns, msg_bytes, r.measured_messages, (double)r.measured_messages / r.measured_wall_s,
	       (double)r.measured_messages / r.measured_cpu_s, p50, p99, r.measured_cpu_s, r.measured_wall_s);
	testbed_result_free(&r);
	return rc;
}

/* The documented bulk workload (docs/benchmarks.md), as a scenario. */
static int run_bulk(uint32_t flows, uint64_t bytes_per_flow)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "scenario bench_bulk_%u\n"
		 "set mss 1448\n"
		 "set link_bandwidth 10Gbps\n"
		 "set link_latency 10us\n"
		 "set time_limit 600s\n"
		 "app sink on server sink port=9 backlog=%u\n"
		 "app src on client stream to=sink conns=%u bytes=%" PRIu64 "\n"
		 "expect intact\n",
		 flows, flows, flows, bytes_per_flow);
	struct scenario *s = calloc(1, sizeof(*s));
	char err[512];
	if (!s || scenario_parse("bench_bulk", text, s, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_stack: bulk scenario: %s\n", s ? err : "out of memory");
		free(s);
		return 1;
	}
	struct scenario_run_opts o = {.seed = 1};
	struct scenario_result r;
	int rc = scenario_run(s, &o, &r);
	free(s);
	if (rc < 0 || r.verdict != SCN_PASS) {
		fprintf(stderr, "bench_stack: bulk run failed: %s\n", r.diagnosis);
		scenario_result_free(&r);
		return 1;
	}
	uint64_t segs = r.tx_data_segments[SCN_HOST_CLIENT];
	/* Segments beyond one per full MSS of the stream (16 B header
	 * included): short segments and retransmissions. */
	uint64_t full = (uint64_t)flows * ((bytes_per_flow + 16 + 1447) / 1448);
	uint64_t extra = segs > full ? segs - full : 0;
	printf("bluetas_sim flows=%u bytes_per_flow=%" PRIu64 " data_segments=%" PRIu64 " extra_segments=%" PRIu64
	       " retransmitted=%" PRIu64 " virtual_ms=%.3f wall_s=%.3f cpu_s=%.3f segs_per_wall_s=%.0f segs_per_cpu_s=%.0f\n",
	       flows, bytes_per_flow, segs, extra, r.tx_retransmits[SCN_HOST_CLIENT], (double)r.virtual_ns / 1e6, r.run_wall_s,
	       r.run_cpu_s,
	       (double)segs / r.run_wall_s, (double)segs / r.run_cpu_s);
	scenario_result_free(&r);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"mode", required_argument, 0, 'M'},
					     {"conns", required_argument, 0, 'c'},
					     {"msg-bytes", required_argument, 0, 's'},
					     {"duration-ms", required_argument, 0, 'd'},
					     {"warmup-ms", required_argument, 0, 'w'},
					     {"flows", required_argument, 0, 'f'},
					     {"bytes-per-flow", required_argument, 0, 'b'},
					     {"hops", no_argument, 0, 'H'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	const char *mode = "rt";
	uint64_t conns = 1, msg = 64, dur = 2000, warmup = 200, flows = 1, bytes_per_flow = 64ull << 20;
	bool hops = false;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'M':
			mode = optarg;
			break;
		case 'c':
			if (parse_num("--conns", optarg, 1, 1000, &conns) < 0)
				return 2;
			break;
		case 's':
			if (parse_num("--msg-bytes", optarg, 1, 1u << 20, &msg) < 0)
				return 2;
			break;
		case 'd':
			if (parse_num("--duration-ms", optarg, 1, 3600000, &dur) < 0)
				return 2;
			break;
		case 'w':
			if (parse_num("--warmup-ms", optarg, 0, 600000, &warmup) < 0)
				return 2;
			break;
		case 'f':
			if (parse_num("--flows", optarg, 1, 1000, &flows) < 0)
				return 2;
			break;
		case 'b':
			if (parse_num("--bytes-per-flow", optarg, 1, 1ull << 36, &bytes_per_flow) < 0)
				return 2;
			break;
		case 'H':
			hops = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "bench_stack: bad option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (!strcmp(mode, "rt"))
		return run_rt((uint32_t)conns, msg, dur, warmup, hops);
	if (!strcmp(mode, "bulk"))
		return run_bulk((uint32_t)flows, bytes_per_flow);
	fprintf(stderr, "bench_stack: --mode must be rt or bulk, got '%s'\n", mode);
	return 2;
}
