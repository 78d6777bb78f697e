/*
 * harness.c: see harness.h. The loop is sim_run's, unrolled so the test
 * can stop between instants: at one instant poll the NIC, the host library
 * and the peer's port until a whole round does nothing; then jump to the
 * earliest thing anyone is waiting for.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "core/host/host_internal.h"
#include "core/nic/nic_internal.h"

static_assert(sizeof(((struct harness *)0)->listener_flags) == HOST_MAX_LISTENERS * sizeof(uint32_t),
	      "one flag word per host listener");

#define ROUNDS_PER_INSTANT 10000
#define PEER_PORT_DEFAULT 40000

void harness_default_opts(struct harness_opts *o)
{
	memset(o, 0, sizeof(*o));
	nic_default_config(&o->nic);
	o->nic.ip = HARNESS_NIC_IP;
	o->nic.netmask = 0xffffff00;
	o->nic.max_flows = 64;
	bt_host_default_config(&o->host);
	o->host.max_conns = 16;
	o->static_arp = true;
}

void harness_default_syn_opts(struct harness_syn_opts *so)
{
	memset(so, 0, sizeof(*so));
	so->mss = true;
	so->mss_val = 1460;
	so->wscale = true;
	so->wscale_val = 0;
	so->ts = true;
	so->window = 65535;
}

struct harness *harness_init(const struct harness_opts *o)
{
	struct harness *h = calloc(1, sizeof(*h));
	assert_non_null(h);
	h->opts = *o;
	sim_init(&h->sim);
	h->sim.now_ns = HARNESS_START_NS;

	struct sim_link_params lp;
	sim_link_default_params(&lp);
	lp.latency_ns = o->link_latency_ns;
	lp.bandwidth_bps = o->link_bandwidth_bps;
	lp.pool_frames = o->link_pool_frames ? o->link_pool_frames : 1024;
	h->link = sim_link_create(&lp, &h->sim.clock, HARNESS_NIC_MAC, HARNESS_PEER_MAC);
	assert_non_null(h->link);
	h->nic_port = sim_link_port(h->link, 0);
	h->peer_port = sim_link_port(h->link, 1);

	struct shm_link_params cp = {.op_latency_ns = o->chan_latency_ns,
				     .msg_latency_ns = o->chan_latency_ns,
				     .key_seed = 0x5eedbeefcafe0001ull};
	h->chan = shm_link_create(&cp, &h->sim.clock);
	assert_non_null(h->chan);

	struct nic_config nc = o->nic;
	if (o->static_arp) {
		assert_true(nc.static_arp_count < NIC_MAX_STATIC_ARP);
		nc.static_arp[nc.static_arp_count].ip = HARNESS_PEER_IP;
		memcpy(nc.static_arp[nc.static_arp_count].mac, HARNESS_PEER_MAC, 6);
		nc.static_arp_count++;
	}
	char err[128] = "";
	h->nic = nic_create(&nc, h->nic_port, &h->sim.clock, err, sizeof(err));
	if (!h->nic)
		fail_msg("nic_create: %s", err);
	h->app = nic_attach_app(h->nic, shm_link_end(h->chan, SHM_END_NIC));
	assert_true(h->app >= 0);
	int rc = 0;
	h->host = bt_host_create(&o->host, shm_link_end(h->chan, SHM_END_HOST), &h->sim.clock, &rc);
	if (!h->host)
		fail_msg("bt_host_create: %s", bt_strerror(rc));
	h->conn_flags = calloc(o->host.max_conns, sizeof(*h->conn_flags));
	h->conn_err = calloc(o->host.max_conns, sizeof(*h->conn_err));
	h->cap_size = 256;
	h->cap = calloc(h->cap_size, sizeof(*h->cap));
	assert_true(h->conn_flags && h->conn_err && h->cap);
	h->conn = -1;
	h->listener = -1;
	h->trace = getenv("HARNESS_TRACE") != NULL;
	h->peer.port = PEER_PORT_DEFAULT;
	h->peer.window = 65535;
	h->peer.ts_val = 1000;
	/* The HELLO reaches the NIC. */
	harness_advance(h, 2 * o->chan_latency_ns);
	return h;
}

void harness_destroy(struct harness *h)
{
	if (!h)
		return;
	bt_host_destroy(h->host);
	nic_destroy(h->nic);
	shm_link_destroy(h->chan);
	sim_link_destroy(h->link);
	for (uint32_t i = 0; i < h->cap_count; i++)
		free(h->cap[(h->cap_head + i) % h->cap_size].data);
	free(h->cap);
	free(h->conn_flags);
	free(h->conn_err);
	free(h);
}

/* ---------- tracing (HARNESS_TRACE=1 in the environment) ---------- */

static void trace_frame(const struct harness *h, const char *dir, const uint8_t *frame, uint16_t len)
{
	if (!h->trace)
		return;
	struct eth_hdr_view eth;
	struct ipv4_view ip;
	struct tcp_view tcp;
	if (eth_parse(frame, len, &eth) < 0 || eth.ethertype != ETH_TYPE_IPV4 ||
	    ipv4_parse(frame + ETH_HDR_BYTES, len - ETH_HDR_BYTES, &ip) < 0 ||
	    tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, false, &tcp) < 0) {
		fprintf(stderr, "%12llu %s non-TCP frame, %u bytes\n", (unsigned long long)h->sim.now_ns, dir, len);
		return;
	}
	char fl[8] = "";
	int k = 0;
	const char *names = "FSRPAUEC";
	for (int i = 0; i < 8; i++)
		if (tcp.flags & (1u << i))
			fl[k++] = names[i];
	fl[k] = 0;
	fprintf(stderr, "%12llu %s %-6s seq %u ack %u win %u len %u tos %u ts %u/%u\n",
		(unsigned long long)h->sim.now_ns, dir, fl, tcp.seq, tcp.ack, tcp.window, tcp.payload_len, ip.tos,
		tcp.opts.ts_val, tcp.opts.ts_ecr);
}

/* ---------- the loop ---------- */

static void capture_push(struct harness *h, const struct netif_buf *b)
{
	if (h->cap_count == h->cap_size) {
		uint32_t nsize = h->cap_size * 2;
		struct harness_capture *n = calloc(nsize, sizeof(*n));
		assert_non_null(n);
		for (uint32_t i = 0; i < h->cap_count; i++)
			n[i] = h->cap[(h->cap_head + i) % h->cap_size];
		free(h->cap);
		h->cap = n;
		h->cap_head = 0;
		h->cap_size = nsize;
	}
	struct harness_capture *c = &h->cap[(h->cap_head + h->cap_count) % h->cap_size];
	c->at_ns = h->sim.now_ns;
	c->len = b->len;
	trace_frame(h, "nic->peer", b->data, b->len);
	c->data = malloc(b->len ? b->len : 1);
	assert_non_null(c->data);
	memcpy(c->data, b->data, b->len);
	h->cap_count++;
}

static int capture(struct harness *h)
{
	struct netif_buf *bufs[32];
	int total = 0, n;
	while ((n = netif_rx_burst(h->peer_port, bufs, 32)) > 0) {
		for (int i = 0; i < n; i++) {
			capture_push(h, bufs[i]);
			netif_free(h->peer_port, bufs[i]);
		}
		total += n;
	}
	return total;
}

static void record_event(struct harness *h, const struct bt_event *ev)
{
	h->events_seen++;
	if (ev->id >= 0 && (uint32_t)ev->id < h->opts.host.max_conns) {
		h->conn_flags[ev->id] |= ev->flags;
		if (ev->flags & BT_EV_ERROR)
			h->conn_err[ev->id] = ev->err;
		return;
	}
	int li = ev->id - HOST_LISTENER_BASE;
	if (li >= 0 && li < HOST_MAX_LISTENERS)
		h->listener_flags[li] |= ev->flags;
}

static int poll_round(struct harness *h)
{
	int work = 0;
	int w = nic_poll(h->nic, h->sim.now_ns);
	if (w > 0)
		work += w;
	struct bt_event ev[32];
	int n;
	while (h->host && (n = bt_poll(h->host, ev, 32)) > 0) {
		for (int i = 0; i < n; i++)
			record_event(h, &ev[i]);
		work += n;
	}
	work += capture(h);
	return work;
}

static uint64_t next_event(struct harness *h)
{
	uint64_t t = nic_next_event_ns(h->nic);
	uint64_t l = sim_link_next_event_ns(h->link);
	if (l < t)
		t = l;
	uint64_t b = h->host ? bt_host_next_event_ns(h->host) : BT_TIME_NEVER;
	if (b < t)
		t = b;
	/* What arrives at the host's end (a WAKEUP) is not the NIC end's event. */
	uint64_t c = chan_next_event_ns(shm_link_end(h->chan, SHM_END_HOST));
	return c < t ? c : t;
}

/* The current instant until a round does nothing and nobody waits for a
 * time that has come (a command the host posted without reporting work). */
static void settle(struct harness *h)
{
	int quiet = 0;
	for (int i = 0; i < ROUNDS_PER_INSTANT; i++) {
		if (poll_round(h) > 0) {
			quiet = 0;
			continue;
		}
		if (next_event(h) > h->sim.now_ns || ++quiet >= 2)
			return;
	}
	fail_msg("harness: instant %llu never became quiet", (unsigned long long)h->sim.now_ns);
}

/* Moves the clock to the next event due by `until` (at least one tick
 * on) and settles that instant; false when nothing is due by then. */
static bool step_to_next_event(struct harness *h, uint64_t until)
{
	uint64_t t = next_event(h);
	if (t == BT_TIME_NEVER || t > until)
		return false;
	if (t <= h->sim.now_ns)
		t = h->sim.now_ns + 1;
	if (t > until)
		return false;
	h->sim.now_ns = t;
	settle(h);
	return true;
}

void harness_advance(struct harness *h, uint64_t ns)
{
	uint64_t until = h->sim.now_ns + ns;
	settle(h);
	while (step_to_next_event(h, until))
		;
	if (h->sim.now_ns < until) {
		h->sim.now_ns = until;
		settle(h);
	}
}

bool harness_advance_until(struct harness *h, uint64_t max_ns, harness_pred pred, void *ctx)
{
	uint64_t until = h->sim.now_ns + max_ns;
	settle(h);
	while (!pred(h, ctx) && step_to_next_event(h, until))
		;
	if (pred(h, ctx))
		return true;
	h->sim.now_ns = until;
	settle(h);
	return pred(h, ctx);
}

static bool frame_waiting(struct harness *h, void *ctx)
{
	(void)ctx;
	return h->cap_count > 0;
}

bool harness_advance_to_frame(struct harness *h, uint64_t max_ns)
{
	return harness_advance_until(h, max_ns, frame_waiting, NULL);
}

struct flag_wait {
	int id;
	uint32_t flags;
};

static bool flag_seen(struct harness *h, void *ctx)
{
	const struct flag_wait *w = ctx;
	return (harness_peek_flags(h, w->id) & w->flags) != 0;
}

static bool nic_listening(struct harness *h, void *ctx)
{
	uint16_t port = *(const uint16_t *)ctx;
	for (uint32_t i = 0; i < h->nic->cfg.max_listeners; i++)
		if (h->nic->listeners[i].in_use && h->nic->listeners[i].port == port &&
		    h->nic->listeners[i].free_count > 0)
			return true;
	return false;
}

/* ---------- the peer's segments ---------- */

void harness_inject_raw(struct harness *h, const uint8_t *frame, uint16_t len)
{
	struct netif_buf *b = netif_alloc(h->peer_port);
	assert_non_null(b);
	assert_true(len <= b->cap);
	memcpy(b->data, frame, len);
	b->len = len;
	trace_frame(h, "peer->nic", b->data, b->len);
	struct netif_buf *bufs[1] = {b};
	assert_int_equal(netif_tx_burst(h->peer_port, bufs, 1), 1);
}

int harness_build_frame(struct harness *h, uint8_t *frame, size_t cap, uint8_t flags, uint32_t seq, uint32_t ack,
			uint16_t window, const void *payload, uint16_t len, const struct harness_seg *x)
{
	struct tcp_frame_args a = {
		.src_mac = HARNESS_PEER_MAC,
		.dst_mac = HARNESS_NIC_MAC,
		.src_ip = HARNESS_PEER_IP,
		.dst_ip = HARNESS_NIC_IP,
		.tos = x ? x->tos : 0,
		.ip_id = h->ip_id++,
		.tcp = {.sport = x && x->sport ? x->sport : h->peer.port,
			.dport = x && x->dport ? x->dport : h->peer.nic_port,
			.seq = seq,
			.ack = ack,
			.flags = flags,
			.window = window,
			.opts = x ? x->opts : NULL},
		.payload = payload,
		.payload_len = len,
	};
	int n = tcp_frame_build(frame, cap, &a);
	assert_true(n > 0);
	return n;
}

void harness_inject(struct harness *h, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t window,
		    const void *payload, uint16_t len, const struct harness_seg *x)
{
	struct netif_buf *b = netif_alloc(h->peer_port);
	assert_non_null(b);
	b->len = (uint16_t)harness_build_frame(h, b->data, b->cap, flags, seq, ack, window, payload, len, x);
	trace_frame(h, "peer->nic", b->data, b->len);
	struct netif_buf *bufs[1] = {b};
	assert_int_equal(netif_tx_burst(h->peer_port, bufs, 1), 1);
}

void harness_peer_send(struct harness *h, uint8_t flags, const void *payload, uint16_t len)
{
	struct harness_peer *p = &h->peer;
	struct tcp_opts o = {0};
	if (p->ts) {
		o.has_ts = true;
		o.ts_val = p->ts_val++;
		o.ts_ecr = p->ts_recent;
	}
	struct harness_seg x = {.opts = &o, .tos = p->tos};
	harness_inject(h, flags | TCP_ACK, p->snd_nxt, p->rcv_nxt, p->window, payload, len, &x);
	p->snd_nxt += len + ((flags & TCP_FIN) ? 1u : 0u);
}

/* ---------- the NIC's frames ---------- */

static void parse_frame(struct harness_frame *out)
{
	out->is_arp = out->is_tcp = false;
	assert_int_equal(eth_parse(out->raw, out->len, &out->eth), 0);
	if (out->eth.ethertype == ETH_TYPE_ARP) {
		assert_int_equal(arp_parse(out->raw + ETH_HDR_BYTES, out->len - ETH_HDR_BYTES, &out->arp), 0);
		out->is_arp = true;
		return;
	}
	assert_int_equal(out->eth.ethertype, ETH_TYPE_IPV4);
	assert_int_equal(ipv4_parse(out->raw + ETH_HDR_BYTES, out->len - ETH_HDR_BYTES, &out->ip), 0);
	assert_int_equal(out->ip.proto, IPV4_PROTO_TCP);
	assert_int_equal(tcp_parse(out->ip.payload, out->ip.payload_len, out->ip.src, out->ip.dst, true, &out->tcp), 0);
	out->is_tcp = true;
}

int harness_expect_frame(struct harness *h, struct harness_frame *out)
{
	if (h->cap_count == 0)
		return 0;
	struct harness_capture *c = &h->cap[h->cap_head];
	h->cap_head = (h->cap_head + 1) % h->cap_size;
	h->cap_count--;
	memset(out, 0, offsetof(struct harness_frame, raw));
	out->at_ns = c->at_ns;
	out->len = c->len;
	memcpy(out->raw, c->data, c->len);
	free(c->data);
	c->data = NULL;
	parse_frame(out);
	return 1;
}

uint32_t harness_peer_absorb(struct harness *h, const struct harness_frame *f)
{
	struct harness_peer *p = &h->peer;
	if (!f->is_tcp)
		return 0;
	const struct tcp_view *t = &f->tcp;
	if (p->ts && t->opts.has_ts)
		p->ts_recent = t->opts.ts_val;
	if (!(t->flags & TCP_SYN))
		p->nic_wnd = (uint32_t)t->window << p->nic_wscale;
	uint32_t adv = 0;
	if (t->seq == p->rcv_nxt && !(t->flags & TCP_SYN) && !(t->flags & TCP_RST)) {
		adv = t->payload_len;
		p->rcv_nxt += t->payload_len + ((t->flags & TCP_FIN) ? 1u : 0u);
	}
	return adv;
}

void harness_expect_tcp(struct harness *h, struct harness_frame *out)
{
	if (!harness_expect_frame(h, out))
		fail_msg("harness: expected a TCP frame from the NIC at %llu ns, got none",
			 (unsigned long long)h->sim.now_ns);
	assert_true(out->is_tcp);
	assert_int_equal(out->ip.src, HARNESS_NIC_IP);
	assert_int_equal(out->ip.dst, HARNESS_PEER_IP);
	assert_memory_equal(out->eth.dst, HARNESS_PEER_MAC, 6);
	assert_int_equal(out->tcp.dport, h->peer.port);
	assert_int_equal(out->tcp.sport, h->peer.nic_port);
	harness_peer_absorb(h, out);
}

uint32_t harness_pending_frames(const struct harness *h)
{
	return h->cap_count;
}

void harness_drop_frames(struct harness *h)
{
	struct harness_frame *f = malloc(sizeof(*f));
	assert_non_null(f);
	while (harness_expect_frame(h, f))
		;
	free(f);
}

uint32_t harness_peer_recv(struct harness *h, uint8_t *buf, uint32_t want, uint64_t idle_ns)
{
	struct harness_frame *f = malloc(sizeof(*f));
	assert_non_null(f);
	uint32_t got = 0;
	while (got < want && harness_advance_to_frame(h, idle_ns)) {
		bool owe_ack = false;
		while (harness_expect_frame(h, f)) {
			if (!f->is_tcp || f->tcp.sport != h->peer.nic_port)
				continue;
			uint32_t adv = harness_peer_absorb(h, f);
			if (adv && buf) {
				uint32_t n = adv <= want - got ? adv : want - got;
				memcpy(buf + got, f->tcp.payload, n);
			}
			got += adv;
			if (f->tcp.payload_len || (f->tcp.flags & TCP_FIN))
				owe_ack = true;
		}
		if (owe_ack)
			harness_peer_ack(h);
	}
	free(f);
	return got;
}

/* ---------- opens ---------- */

static void syn_tcp_opts(const struct harness_syn_opts *so, struct harness *h, struct tcp_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->has_mss = so->mss;
	o->mss = so->mss_val;
	o->has_wscale = so->wscale;
	o->wscale = so->wscale_val;
	o->has_ts = so->ts;
	o->sack_permitted = so->sack;
	o->ts_val = h->peer.ts_val++;
	o->ts_ecr = h->peer.ts_recent;
}

/* What the NIC's SYN or SYN-ACK tells the peer. */
static void learn_syn(struct harness *h, const struct harness_syn_opts *so, const struct harness_frame *f)
{
	struct harness_peer *p = &h->peer;
	p->nic_iss = f->tcp.seq;
	p->rcv_nxt = f->tcp.seq + 1;
	p->nic_mss = f->tcp.opts.has_mss ? f->tcp.opts.mss : 536;
	p->ws = so->wscale && f->tcp.opts.has_wscale;
	p->nic_wscale = p->ws ? f->tcp.opts.wscale : 0;
	p->ts = so->ts && f->tcp.opts.has_ts;
	p->sack = so->sack && f->tcp.opts.sack_permitted;
	if (p->ts)
		p->ts_recent = f->tcp.opts.ts_val;
	p->nic_wnd = f->tcp.window;
}

int harness_passive_open(struct harness *h, uint16_t port, uint32_t peer_isn, const struct harness_syn_opts *so_in,
			 struct harness_frame *synack_out)
{
	struct harness_syn_opts so;
	if (so_in)
		so = *so_in;
	else
		harness_default_syn_opts(&so);
	if (h->listener < 0) {
		uint32_t backlog = h->opts.host.max_conns < 8 ? h->opts.host.max_conns : 8;
		h->listener = bt_listen(h->host, port, backlog);
		assert_true(h->listener >= 0);
		if (!harness_advance_until(h, HARNESS_OPEN_WAIT_NS, nic_listening, &port))
			fail_msg("harness: the NIC never listened on port %u", port);
	}
	struct harness_peer *p = &h->peer;
	p->nic_port = port;
	p->iss = peer_isn;
	p->snd_nxt = peer_isn;
	p->rcv_nxt = 0;
	p->ts_recent = 0;
	struct tcp_opts o;
	syn_tcp_opts(&so, h, &o);
	struct harness_seg x = {.opts = &o};
	harness_inject(h, TCP_SYN | (so.ecn ? TCP_ECE | TCP_CWR : 0), peer_isn, 0, so.window, NULL, 0, &x);
	p->snd_nxt = peer_isn + 1;
	harness_advance_to_frame(h, HARNESS_OPEN_WAIT_NS);

	struct harness_frame *f = malloc(sizeof(*f));
	assert_non_null(f);
	if (!harness_expect_frame(h, f))
		fail_msg("harness: no SYN-ACK");
	assert_true(f->is_tcp);
	assert_int_equal(f->tcp.flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN), TCP_SYN | TCP_ACK);
	assert_int_equal(f->tcp.ack, peer_isn + 1);
	assert_int_equal(f->tcp.sport, port);
	assert_int_equal(f->tcp.dport, p->port);
	learn_syn(h, &so, f);
	if (synack_out)
		memcpy(synack_out, f, sizeof(*f));
	free(f);

	harness_peer_ack(h);
	struct flag_wait w = {.id = h->listener, .flags = BT_EV_ACCEPTABLE};
	if (!harness_advance_until(h, HARNESS_OPEN_WAIT_NS, flag_seen, &w))
		fail_msg("harness: the application never saw the connection");
	h->listener_flags[h->listener - HOST_LISTENER_BASE] = 0;
	int conn = bt_accept(h->host, h->listener);
	assert_true(conn >= 0);
	h->conn = conn;
	harness_advance(h, 0);
	return conn;
}

int harness_active_open(struct harness *h, uint16_t port, uint32_t peer_isn, const struct harness_syn_opts *so_in,
			struct harness_frame *syn_out)
{
	struct harness_syn_opts so;
	if (so_in)
		so = *so_in;
	else
		harness_default_syn_opts(&so);
	struct harness_peer *p = &h->peer;
	int conn = bt_connect(h->host, HARNESS_PEER_IP, port);
	assert_true(conn >= 0);
	h->conn = conn;
	harness_advance_to_frame(h, HARNESS_OPEN_WAIT_NS);

	struct harness_frame *f = malloc(sizeof(*f));
	assert_non_null(f);
	if (!harness_expect_frame(h, f))
		fail_msg("harness: no SYN");
	assert_true(f->is_tcp);
	assert_int_equal(f->tcp.flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN), TCP_SYN);
	assert_int_equal(f->tcp.dport, port);
	p->port = port;
	p->nic_port = f->tcp.sport;
	p->iss = peer_isn;
	p->ts_recent = 0;
	learn_syn(h, &so, f);
	if (syn_out)
		memcpy(syn_out, f, sizeof(*f));

	struct tcp_opts o;
	syn_tcp_opts(&so, h, &o);
	struct harness_seg x = {.opts = &o};
	harness_inject(h, TCP_SYN | TCP_ACK | (so.ecn ? TCP_ECE : 0), peer_isn, p->rcv_nxt, so.window, NULL, 0, &x);
	p->snd_nxt = peer_isn + 1;
	harness_advance_to_frame(h, HARNESS_OPEN_WAIT_NS);
	harness_expect_tcp(h, f);
	assert_int_equal(f->tcp.flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN), TCP_ACK);
	assert_int_equal(f->tcp.ack, peer_isn + 1);
	assert_int_equal(f->tcp.seq, p->nic_iss + 1);
	free(f);
	struct flag_wait w = {.id = conn, .flags = BT_EV_CONNECTED};
	if (!harness_advance_until(h, HARNESS_OPEN_WAIT_NS, flag_seen, &w))
		fail_msg("harness: the application never saw CONNECTED");
	assert_true(harness_take_flags(h, conn) & BT_EV_CONNECTED);
	return conn;
}

/* ---------- the application ---------- */

uint32_t harness_take_flags(struct harness *h, int id)
{
	uint32_t fl = harness_peek_flags(h, id);
	if (id >= 0 && (uint32_t)id < h->opts.host.max_conns)
		h->conn_flags[id] = 0;
	else if (id - HOST_LISTENER_BASE >= 0 && id - HOST_LISTENER_BASE < HOST_MAX_LISTENERS)
		h->listener_flags[id - HOST_LISTENER_BASE] = 0;
	return fl;
}

uint32_t harness_peek_flags(const struct harness *h, int id)
{
	if (id >= 0 && (uint32_t)id < h->opts.host.max_conns)
		return h->conn_flags[id];
	if (id - HOST_LISTENER_BASE >= 0 && id - HOST_LISTENER_BASE < HOST_MAX_LISTENERS)
		return h->listener_flags[id - HOST_LISTENER_BASE];
	return 0;
}

int harness_conn_err(const struct harness *h, int id)
{
	if (id >= 0 && (uint32_t)id < h->opts.host.max_conns)
		return h->conn_err[id];
	return 0;
}

uint32_t harness_app_read(struct harness *h, int conn, void *buf, uint32_t cap, bool *eof_out)
{
	uint32_t got = 0;
	if (eof_out)
		*eof_out = false;
	while (got < cap) {
		ssize_t n = bt_recv(h->host, conn, (uint8_t *)buf + got, cap - got);
		if (n == 0 && eof_out)
			*eof_out = true;
		if (n <= 0)
			break;
		got += (uint32_t)n;
	}
	return got;
}

int harness_tcp_state(struct harness *h)
{
	uint32_t fi = flow_lookup(h->nic, HARNESS_NIC_IP, h->peer.nic_port, HARNESS_PEER_IP, h->peer.port);
	if (fi == FLOW_NONE)
		return -1;
	return h->nic->flows[fi].state;
}

struct nic_stats harness_stats(const struct harness *h)
{
	struct nic_stats s;
	nic_get_stats(h->nic, &s);
	return s;
}

struct bt_host_stats harness_host_stats(const struct harness *h)
{
	struct bt_host_stats s;
	bt_host_stats(h->host, &s);
	return s;
}

void harness_fill(uint8_t *buf, uint32_t len, uint32_t stream_off)
{
	for (uint32_t i = 0; i < len; i++)
		buf[i] = harness_pattern(stream_off + i);
}

void harness_app_send(struct harness *h, int conn, uint32_t stream_off, uint32_t len)
{
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	harness_fill(buf, len, stream_off);
	assert_int_equal(bt_send(h->host, conn, buf, len), (ssize_t)len);
	free(buf);
}

void harness_app_send_expect(struct harness *h, int conn, uint32_t stream_off, uint32_t len, struct harness_frame *out)
{
	harness_app_send(h, conn, stream_off, len);
	harness_advance(h, 0);
	harness_expect_tcp(h, out);
}

struct harness *harness_init_default(void)
{
	struct harness_opts o;
	harness_default_opts(&o);
	return harness_init(&o);
}
