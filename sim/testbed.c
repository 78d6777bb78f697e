/* testbed.c: builds, runs and tears down the two-stack topology. */
#include "testbed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../transports/pcap_mirror.h"
#include "rng.h"
#include "run_clock.h"

struct testbed {
	const struct testbed_config *cfg;
	struct sim sim;
	struct bt_clock mono;
	const struct bt_clock *clock;
	struct sim_link *wire;
	struct netif *client_port; /* possibly the pcap mirror */
	struct shm_link *chan_client, *chan_server;
	struct nic *nic_client, *nic_server;
	struct bt_host *host_client, *host_server;
	struct echo_client *client;
	struct echo_server *server;
	bool client_stopped;
};

void testbed_default_config(struct testbed_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->seed = 1;
	cfg->conns = 1;
	cfg->msg_bytes = 1448;
	cfg->messages = 10;
	cfg->cycles = 1;
	cfg->server_backlog = 64;
	cfg->mss = 1448;
	cfg->ecn = true;
	bt_host_default_config(&cfg->host);
	cfg->max_flows = 4096;
	sim_link_default_params(&cfg->link);
	cfg->chan_latency_ns = 1000;
	cfg->time_limit_ns = 600ull * 1000 * 1000 * 1000;
}

static int nic_actor_poll(void *ctx, uint64_t now) { return nic_poll(ctx, now); }
static uint64_t nic_actor_next(void *ctx) { return nic_next_event_ns(ctx); }
static int client_actor_poll(void *ctx, uint64_t now)
{
	(void)now;
	return echo_client_poll(((struct testbed *)ctx)->client);
}
static int server_actor_poll(void *ctx, uint64_t now)
{
	(void)now;
	return echo_server_poll(((struct testbed *)ctx)->server);
}
/* The apps' own events are their channels' (a WAKEUP arriving): the
 * NIC's end of a channel does not count what arrives at the host's. */
static uint64_t client_actor_next(void *ctx)
{
	return chan_next_event_ns(shm_link_end(((struct testbed *)ctx)->chan_client, SHM_END_HOST));
}
static uint64_t server_actor_next(void *ctx)
{
	return chan_next_event_ns(shm_link_end(((struct testbed *)ctx)->chan_server, SHM_END_HOST));
}
/* A NIC has work only at its next event or after a peer's (sim.h,
 * nic_waits); the echo apps cannot say when they have work, so they are
 * polled in every round (no waits). */
static bool nic_actor_waits(void *ctx) { return nic_waits(ctx); }
static int wire_actor_poll(void *ctx, uint64_t now)
{
	(void)ctx;
	(void)now;
	return 0; /* frames are pulled by the receiving NIC */
}
static uint64_t wire_actor_next(void *ctx) { return sim_link_next_event_ns(ctx); }

static void teardown(struct testbed *tb)
{
	echo_client_destroy(tb->client);
	echo_server_destroy(tb->server);
	bt_host_destroy(tb->host_client);
	bt_host_destroy(tb->host_server);
	nic_destroy(tb->nic_client);
	nic_destroy(tb->nic_server);
	if (tb->client_port && tb->wire && tb->client_port != sim_link_port(tb->wire, 0))
		netif_destroy(tb->client_port); /* the pcap mirror: flushes the file */
	shm_link_destroy(tb->chan_client);
	shm_link_destroy(tb->chan_server);
	sim_link_destroy(tb->wire);
}

static struct nic *make_nic(struct testbed *tb, uint32_t ip, struct netif *port, uint64_t isn_seed, char *err,
			    size_t err_len)
{
	struct nic_config nc;
	nic_default_config(&nc);
	nc.ip = ip;
	nc.netmask = 0xffffff00;
	nc.mss = tb->cfg->mss;
	nc.max_flows = tb->cfg->max_flows;
	nc.ecn = tb->cfg->ecn;
	nc.isn_seed = (uint32_t)isn_seed;
	if (tb->cfg->realtime) {
		/* No wire delay in real time: keep the timers above the
		 * scheduling noise of a loaded laptop. */
		nc.delayed_ack_ns = 0;
	}
	return nic_create(&nc, port, tb->clock, err, err_len);
}

static int setup(struct testbed *tb, char *err, size_t err_len)
{
	const struct testbed_config *cfg = tb->cfg;
	struct sim_rng rng;
	sim_rng_seed(&rng, cfg->seed);
	sim_init(&tb->sim);
	bt_clock_monotonic(&tb->mono);
	/* Real time too runs on the loop's clock: run_realtime sets it from
	 * CLOCK_MONOTONIC once per pass, as a NIC samples its clock once per
	 * burst, instead of every component reading the system clock on every
	 * operation (that was a quarter of the CPU of an echo round trip). */
	tb->clock = &tb->sim.clock;
	if (cfg->realtime)
		tb->sim.now_ns = bt_clock_now_ns(&tb->mono); /* components start at the real now */

	const uint8_t mac_client[6] = {0x02, 0, 0, 0, 0, 0x01};
	const uint8_t mac_server[6] = {0x02, 0, 0, 0, 0, 0x02};
	tb->wire = sim_link_create(&cfg->link, tb->clock, mac_client, mac_server);
	if (!tb->wire) {
		snprintf(err, err_len, "testbed: cannot create the simulated link");
		return -1;
	}
	tb->client_port = sim_link_port(tb->wire, 0);
	if (cfg->pcap_path) {
		struct netif *m = pcap_mirror_create(tb->client_port, cfg->pcap_path, tb->clock, err, err_len);
		if (!m)
			return -1;
		tb->client_port = m;
	}
	struct shm_link_params cp = {.op_latency_ns = cfg->realtime ? 0 : cfg->chan_latency_ns,
				     .msg_latency_ns = cfg->realtime ? 0 : cfg->chan_latency_ns,
				     .key_seed = sim_rng_next(&rng)};
	tb->chan_client = shm_link_create(&cp, tb->clock);
	cp.key_seed = sim_rng_next(&rng); /* distinct keys per link: no key is valid on two links */
	tb->chan_server = shm_link_create(&cp, tb->clock);
	if (!tb->chan_client || !tb->chan_server) {
		snprintf(err, err_len, "testbed: cannot create the shm channels");
		return -1;
	}
	tb->nic_client = make_nic(tb, TESTBED_CLIENT_IP, tb->client_port, sim_rng_next(&rng), err, err_len);
	if (!tb->nic_client)
		return -1;
	tb->nic_server = make_nic(tb, TESTBED_SERVER_IP, sim_link_port(tb->wire, 1), sim_rng_next(&rng), err, err_len);
	if (!tb->nic_server)
		return -1;
	if (nic_attach_app(tb->nic_client, shm_link_end(tb->chan_client, SHM_END_NIC)) < 0 ||
	    nic_attach_app(tb->nic_server, shm_link_end(tb->chan_server, SHM_END_NIC)) < 0) {
		snprintf(err, err_len, "testbed: cannot attach applications to the NICs");
		return -1;
	}
	int rc;
	/* Each side gets the slots its workload needs: the client one per
	 * connection, the server one per connection plus its accept backlog. */
	struct bt_host_config hc = cfg->host, hs = cfg->host;
	if (hc.max_conns < cfg->conns)
		hc.max_conns = cfg->conns;
	if (hs.max_conns < cfg->conns + cfg->server_backlog)
		hs.max_conns = cfg->conns + cfg->server_backlog;
	tb->host_client = bt_host_create(&hc, shm_link_end(tb->chan_client, SHM_END_HOST), tb->clock, &rc);
	if (!tb->host_client) {
		snprintf(err, err_len, "testbed: client host library: %s", bt_strerror(rc));
		return -1;
	}
	tb->host_server = bt_host_create(&hs, shm_link_end(tb->chan_server, SHM_END_HOST), tb->clock, &rc);
	if (!tb->host_server) {
		snprintf(err, err_len, "testbed: server host library: %s", bt_strerror(rc));
		return -1;
	}
	if (cfg->hops_client) {
		bt_host_set_hop_trace(tb->host_client, cfg->hops_client);
		nic_set_hop_trace(tb->nic_client, cfg->hops_client);
	}
	if (cfg->hops_server) {
		bt_host_set_hop_trace(tb->host_server, cfg->hops_server);
		nic_set_hop_trace(tb->nic_server, cfg->hops_server);
	}
	uint32_t echo_buf = cfg->host.rx_ring_bytes > 65536 ? cfg->host.rx_ring_bytes : 65536;
	tb->server = echo_server_create(tb->host_server, TESTBED_ECHO_PORT, cfg->server_backlog, echo_buf, &rc);
	if (!tb->server) {
		snprintf(err, err_len, "testbed: echo server: %s", bt_strerror(rc));
		return -1;
	}
	struct echo_client_config ec = {.remote_ip = TESTBED_SERVER_IP,
					.remote_port = TESTBED_ECHO_PORT,
					.conns = cfg->conns,
					.msg_bytes = cfg->msg_bytes,
					.messages = cfg->messages,
					.cycles = cfg->cycles,
					.seed = sim_rng_next(&rng),
					.max_rtt_samples = cfg->max_rtt_samples};
	tb->client = echo_client_create(tb->host_client, &ec, tb->clock, &rc);
	if (!tb->client) {
		snprintf(err, err_len, "testbed: echo client: %s", bt_strerror(rc));
		return -1;
	}
	struct sim_actor actors[] = {
		{"nic-client", nic_actor_poll, nic_actor_next, tb->nic_client},
		{"nic-server", nic_actor_poll, nic_actor_next, tb->nic_server},
		{"app-client", client_actor_poll, client_actor_next, tb},
		{"app-server", server_actor_poll, server_actor_next, tb},
		{"wire", wire_actor_poll, wire_actor_next, tb->wire},
	};
	for (size_t i = 0; i < sizeof(actors) / sizeof(actors[0]); i++)
		sim_add_actor(&tb->sim, &actors[i]);
	sim_actor_waits(&tb->sim, 0, nic_actor_waits, 0);
	sim_actor_waits(&tb->sim, 1, nic_actor_waits, 0);
	return 0;
}

static bool quiesced(const struct testbed *tb)
{
	struct nic_stats a, b;
	struct bt_host_stats ha, hb;
	nic_get_stats(tb->nic_client, &a);
	nic_get_stats(tb->nic_server, &b);
	bt_host_stats(tb->host_client, &ha);
	bt_host_stats(tb->host_server, &hb);
	/* The server keeps its listener's accept slots: they are its own. */
	return a.flows_active == 0 && b.flows_active == 0 && ha.conns_in_use == 0 &&
	       hb.conns_in_use == tb->cfg->server_backlog;
}

static bool run_done(void *ctx)
{
	struct testbed *tb = ctx;
	if (!echo_client_done(tb->client))
		return false;
	return !tb->cfg->wait_quiesce || quiesced(tb);
}

/* Where the measured window starts and ends: counters and clocks. */
struct rt_mark {
	uint64_t messages;
	uint32_t rtt_count;
	double wall_s, cpu_s;
};

static void rt_mark_now(struct testbed *tb, struct rt_mark *m)
{
	struct echo_client_stats st;
	echo_client_stats(tb->client, &st);
	m->messages = st.messages_done;
	m->rtt_count = st.rtt_count;
	m->wall_s = run_wall_s();
	m->cpu_s = run_cpu_s();
}

static enum sim_stop run_realtime(struct testbed *tb, struct testbed_result *r)
{
	uint64_t start = bt_clock_now_ns(&tb->mono);
	tb->sim.now_ns = start;
	bool warm = tb->cfg->warmup_ns == 0;
	uint64_t window_start = start;
	struct rt_mark from, to;
	rt_mark_now(tb, &from);
	for (;;) {
		uint64_t now = bt_clock_now_ns(&tb->mono);
		tb->sim.now_ns = now;
		for (int i = 0; i < tb->sim.actor_count; i++)
			tb->sim.actors[i].poll(tb->sim.actors[i].ctx, now);
		if (!warm && now - start >= tb->cfg->warmup_ns) {
			rt_mark_now(tb, &from);
			warm = true;
			window_start = now;
		}
		/* The window lasts duration - warmup from where the warm-up
		 * really ended: a pass delayed by a busy machine shifts it,
		 * never empties it. */
		if (warm && !tb->client_stopped && tb->cfg->duration_ns &&
		    now - window_start >= tb->cfg->duration_ns - tb->cfg->warmup_ns) {
			/* The window ends here: what follows is draining. */
			rt_mark_now(tb, &to);
			r->measured_messages = to.messages - from.messages;
			r->measured_wall_s = to.wall_s - from.wall_s;
			r->measured_cpu_s = to.cpu_s - from.cpu_s;
			r->rtt_first_measured = from.rtt_count;
			echo_client_stop(tb->client);
			tb->client_stopped = true;
		}
		if (run_done(tb))
			return SIM_STOP_DONE;
		if (now - start >= tb->cfg->time_limit_ns)
			return SIM_STOP_TIME_LIMIT;
	}
}

static void collect(struct testbed *tb, struct testbed_result *r)
{
	const struct testbed_config *cfg = tb->cfg;
	echo_client_stats(tb->client, &r->client);
	echo_server_stats(tb->server, &r->server);
	nic_get_stats(tb->nic_client, &r->nic_client);
	nic_get_stats(tb->nic_server, &r->nic_server);
	sim_link_dir_stats(tb->wire, 0, &r->wire_to_server);
	sim_link_dir_stats(tb->wire, 1, &r->wire_to_client);
	shm_link_stats(tb->chan_client, &r->chan_client);
	shm_link_stats(tb->chan_server, &r->chan_server);
	struct bt_host_stats hs;
	bt_host_stats(tb->host_client, &hs);
	r->host_conns_left_client = hs.conns_in_use;
	bt_host_stats(tb->host_server, &hs);
	r->host_conns_left_server = hs.conns_in_use;
	r->sim_instants = tb->sim.instants;
	if (r->client.rtt_count) {
		r->rtt_ns = malloc(sizeof(uint64_t) * r->client.rtt_count);
		if (r->rtt_ns) {
			memcpy(r->rtt_ns, r->client.rtt_ns, sizeof(uint64_t) * r->client.rtt_count);
			r->rtt_count = r->client.rtt_count;
		}
	}
	r->client.rtt_ns = r->rtt_ns;
	r->expected_bytes = cfg->messages ? (uint64_t)cfg->conns * cfg->cycles * cfg->messages * cfg->msg_bytes
					  : r->client.bytes_sent;

	const char *why = NULL;
	char buf[160];
	if (r->stop != SIM_STOP_DONE) {
		snprintf(buf, sizeof(buf), "run ended without finishing: %s", sim_stop_name(r->stop));
		why = buf;
	} else if (r->client.mismatched_bytes) {
		snprintf(buf, sizeof(buf), "%llu echoed bytes differ from what was sent (first at offset %llu)",
			 (unsigned long long)r->client.mismatched_bytes,
			 (unsigned long long)r->client.first_mismatch_offset);
		why = buf;
	} else if (r->client.first_error) {
		snprintf(buf, sizeof(buf), "connection error: %s", bt_strerror(r->client.first_error));
		why = buf;
	} else if (r->client.bytes_received != r->expected_bytes) {
		snprintf(buf, sizeof(buf), "echoed %llu bytes, expected %llu",
			 (unsigned long long)r->client.bytes_received, (unsigned long long)r->expected_bytes);
		why = buf;
	}
	r->passed = why == NULL;
	snprintf(r->failure, sizeof(r->failure), "%s", why ? why : "");
}

int testbed_run(const struct testbed_config *cfg, struct testbed_result *result, char *err, size_t err_len)
{
	memset(result, 0, sizeof(*result));
	if (cfg->warmup_ns && (!cfg->realtime || cfg->warmup_ns >= cfg->duration_ns)) {
		snprintf(err, err_len, "testbed: a warm-up needs real time and a longer duration");
		return -1;
	}
	struct testbed *tb = calloc(1, sizeof(*tb));
	if (!tb) {
		snprintf(err, err_len, "testbed: out of memory");
		return -1;
	}
	tb->cfg = cfg;
	if (setup(tb, err, err_len) < 0) {
		teardown(tb);
		free(tb);
		return -1;
	}
	double wall_start = run_wall_s();
	if (cfg->realtime)
		result->stop = run_realtime(tb, result);
	else
		result->stop = sim_run(&tb->sim, cfg->time_limit_ns, run_done, tb);
	result->wall_s = run_wall_s() - wall_start;
	result->virtual_ns = cfg->realtime ? 0 : tb->sim.now_ns;
	collect(tb, result);
	/* A capture that could not be written is an error, not a result. */
	int rc = 0;
	if (cfg->pcap_path && pcap_mirror_close(tb->client_port, err, err_len) < 0) {
		testbed_result_free(result);
		rc = -1;
	}
	teardown(tb);
	free(tb);
	return rc;
}

void testbed_result_free(struct testbed_result *result)
{
	free(result->rtt_ns);
	result->rtt_ns = NULL;
	result->client.rtt_ns = NULL;
	result->rtt_count = 0;
}
