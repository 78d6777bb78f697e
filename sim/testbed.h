/*
 * testbed.h: two whole stacks in one process. Client side: echo client ->
 * host library -> shm channel -> NIC (fast + slow path); then the
 * simulated wire; then the server side's NIC -> channel -> host library ->
 * echo server. Run in virtual time by the event loop (the default, fully
 * deterministic from the seed), or in real time by a busy-polling loop
 * reading CLOCK_MONOTONIC (for benchmarks).
 */
#ifndef BT_SIM_TESTBED_H
#define BT_SIM_TESTBED_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/apps/echo.h"
#include "../core/bluetas.h"
#include "../core/nic/nic.h"
#include "../transports/shm/shm_chan.h"
#include "link.h"
#include "sim.h"

#define TESTBED_CLIENT_IP 0x0a000001u /* 10.0.0.1 */
#define TESTBED_SERVER_IP 0x0a000002u /* 10.0.0.2 */
#define TESTBED_ECHO_PORT 7

struct testbed_config {
	uint64_t seed;
	/* workload */
	uint32_t conns;
	uint64_t msg_bytes;
	uint64_t messages;          /* per connection cycle; 0 with duration_ns */
	uint32_t cycles;            /* open/close cycles per connection */
	uint32_t server_backlog;
	uint32_t max_rtt_samples;
	/* stack */
	uint16_t mss;
	bool ecn;
	struct bt_host_config host;
	uint32_t max_flows;
	/* wire and channel */
	struct sim_link_params link;
	uint64_t chan_latency_ns;
	/* run */
	bool realtime;
	uint64_t duration_ns;       /* realtime: stop issuing messages after this */
	uint64_t warmup_ns;         /* realtime: the first warmup_ns of duration_ns are
				     * not measured (measured_* in the result); the
				     * window is duration_ns - warmup_ns from the end
				     * of the warm-up (<= duration_ns) */
	uint64_t time_limit_ns;     /* virtual (sim) or wall (realtime) */
	bool wait_quiesce;          /* after the workload, run until no flow is left */
	const char *pcap_path;      /* NULL: no capture */
	/* RPC hop traces (core/util/hop_trace.h), NULL: off. The client's
	 * host and NIC record into hops_client (side 0), the server's into
	 * hops_server (side 1); the caller owns both. */
	struct hop_trace *hops_client, *hops_server;
};

struct testbed_result {
	bool passed;
	char failure[256];
	enum sim_stop stop;
	uint64_t virtual_ns;
	double wall_s;
	uint64_t expected_bytes;
	struct echo_client_stats client;   /* rtt_ns points at rtt_ns below */
	struct echo_server_stats server;
	struct nic_stats nic_client, nic_server;
	struct sim_link_dir_stats wire_to_server, wire_to_client;
	struct shm_link_stats chan_client, chan_server;
	uint32_t host_conns_left_client, host_conns_left_server;
	uint64_t sim_instants;
	uint64_t *rtt_ns;                  /* owned; testbed_result_free */
	uint32_t rtt_count;
	/* realtime: the window after the warm-up; rtt_ns[rtt_first_measured..]
	 * are its samples */
	uint64_t measured_messages;
	double measured_wall_s, measured_cpu_s;
	uint32_t rtt_first_measured;
};

void testbed_default_config(struct testbed_config *cfg);
/* Returns 0 when the run happened (passed or not: see result->passed),
 * -1 when it could not be set up or its pcap could not be written (message
 * in err; result then holds nothing to free). */
int testbed_run(const struct testbed_config *cfg, struct testbed_result *result, char *err, size_t err_len);
void testbed_result_free(struct testbed_result *result);

#endif
