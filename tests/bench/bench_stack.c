/*
 * bench_stack.c: the stack's own numbers, printed in the same key=value
 * shape as bench_linux_tcp so run-bench.sh can set them side by side.
 *
 *   --mode rt   closed-loop echo RPC between two whole stacks on the shm
 *               channel in REAL time, all in this one thread (so round
 *               trips per CPU-second is the per-core rate);
 *   --mode sim  the simulator's speed: a bulk echo in virtual time,
 *               reported as simulated segments per wall-clock second.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "sim/testbed.h"

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: bench_stack [--mode rt|sim] [--conns N] [--msg-bytes B] [--duration-ms D]\n"
		     "  rt:  echo RPC over the shm channel in real time (default 1 conn, 64 B, 2000 ms)\n"
		     "  sim: simulator speed on a 16 MiB echo (segments per wall second)\n");
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

static int run_rt(uint32_t conns, uint64_t msg_bytes, uint64_t duration_ms)
{
	struct testbed_config cfg;
	testbed_default_config(&cfg);
	cfg.realtime = true;
	cfg.conns = conns;
	cfg.server_backlog = conns;
	cfg.msg_bytes = msg_bytes;
	cfg.messages = 0;
	cfg.duration_ns = duration_ms * 1000000ull;
	cfg.time_limit_ns = cfg.duration_ns + 10ull * 1000000000ull;
	cfg.max_rtt_samples = 4000000;
	cfg.link.latency_ns = 0;
	cfg.link.bandwidth_bps = 0;
	cfg.host.rx_ring_bytes = cfg.host.tx_ring_bytes = 16384;
	char err[256];
	struct testbed_result r;
	double cpu0 = cpu_seconds();
	if (testbed_run(&cfg, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_stack: %s\n", err);
		return 1;
	}
	double cpu = cpu_seconds() - cpu0;
	if (!r.passed || r.rtt_count == 0) {
		fprintf(stderr, "bench_stack: run failed: %s\n", r.passed ? "no round trips" : r.failure);
		testbed_result_free(&r);
		return 1;
	}
	qsort(r.rtt_ns, r.rtt_count, sizeof(uint64_t), cmp_u64);
	double p50 = (double)r.rtt_ns[r.rtt_count / 2] / 1000.0;
	double p99 = (double)r.rtt_ns[(uint64_t)r.rtt_count * 99 / 100] / 1000.0;
	printf("bluetas_shm conns=%u msg_bytes=%" PRIu64 " rtts=%" PRIu64 " rtt_per_s=%.0f rtt_per_cpu_s=%.0f "
	       "p50_us=%.2f p99_us=%.2f cpu_s=%.2f wall_s=%.2f\n",
	       conns, msg_bytes, r.client.messages_done, (double)r.client.messages_done / r.wall_s,
	       (double)r.client.messages_done / cpu, p50, p99, cpu, r.wall_s);
	testbed_result_free(&r);
	return 0;
}

static int run_sim(void)
{
	struct testbed_config cfg;
	testbed_default_config(&cfg);
	cfg.msg_bytes = 16u << 20;
	cfg.messages = 1;
	char err[256];
	struct testbed_result r;
	if (testbed_run(&cfg, &r, err, sizeof(err)) < 0 || !r.passed) {
		fprintf(stderr, "bench_stack: simulator run failed: %s\n", r.passed ? err : r.failure);
		return 1;
	}
	uint64_t segs = r.nic_client.tx_segments + r.nic_client.tx_acks + r.nic_server.tx_segments +
			r.nic_server.tx_acks;
	printf("simulator workload=echo_16MiB segments=%" PRIu64 " virtual_ms=%.3f wall_s=%.3f "
	       "segments_per_wall_s=%.0f virtual_to_wall=%.3f\n",
	       segs, (double)r.virtual_ns / 1e6, r.wall_s, (double)segs / r.wall_s,
	       ((double)r.virtual_ns / 1e9) / r.wall_s);
	testbed_result_free(&r);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"mode", required_argument, 0, 'M'},
					     {"conns", required_argument, 0, 'c'},
					     {"msg-bytes", required_argument, 0, 's'},
					     {"duration-ms", required_argument, 0, 'd'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	const char *mode = "rt";
	uint64_t conns = 1, msg = 64, dur = 2000;
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
		return run_rt((uint32_t)conns, msg, dur);
	if (!strcmp(mode, "sim"))
		return run_sim();
	fprintf(stderr, "bench_stack: --mode must be rt or sim, got '%s'\n", mode);
	return 2;
}
