/*
 * pd_world.c: see pd_world.h. The loop is the test harness's
 * (tests/support/harness.c): poll the NIC and the host library until a
 * whole round does nothing, then jump to the earliest deadline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/proto/bytes.h"
#include "core/proto/proto.h"
#include "pd_world.h"
#include "transports/netif.h"
#include "transports/shm/shm_chan.h"

#define WIRE_POOL 512
#define OUT_QUEUE 4096
#define ROUNDS_PER_INSTANT 10000

static const uint8_t NIC_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};

struct out_pkt {
	uint64_t at_ns;
	uint16_t len;
	uint8_t *data;
};

/* The wire: a netif whose far side is packetdrill. */
struct pd_wire {
	struct netif nif;
	struct pd_world *w;
	struct netif_buf bufs[WIRE_POOL];
	uint8_t *slab;
	int free_list[WIRE_POOL];
	int free_count;
	/* frames for the NIC, in order */
	struct netif_buf *rx[WIRE_POOL];
	int rx_head, rx_count;
};

struct pd_world {
	uint64_t now_ns;
	struct bt_clock clock;
	struct pd_wire wire;
	struct shm_link *chan;
	struct nic *nic;
	struct bt_host *host;
	struct out_pkt out[OUT_QUEUE];
	uint32_t out_head, out_count;
};

static uint64_t world_clock(void *ctx)
{
	return ((struct pd_world *)ctx)->now_ns;
}

/* ---- the wire netif ---- */

static struct pd_wire *wire_of(struct netif *nif)
{
	return (struct pd_wire *)nif;
}

static struct netif_buf *wire_alloc(struct netif *nif)
{
	struct pd_wire *wr = wire_of(nif);
	if (wr->free_count == 0)
		return NULL;
	int i = wr->free_list[--wr->free_count];
	struct netif_buf *b = &wr->bufs[i];
	b->len = 0;
	return b;
}

static void wire_free(struct netif *nif, struct netif_buf *b)
{
	struct pd_wire *wr = wire_of(nif);
	wr->free_list[wr->free_count++] = (int)(b - wr->bufs);
}

static int wire_rx_burst(struct netif *nif, struct netif_buf **bufs, int max)
{
	struct pd_wire *wr = wire_of(nif);
	int n = 0;
	while (n < max && wr->rx_count > 0) {
		bufs[n++] = wr->rx[wr->rx_head];
		wr->rx_head = (wr->rx_head + 1) % WIRE_POOL;
		wr->rx_count--;
	}
	return n;
}

static void wire_to_nic(struct pd_wire *wr, struct netif_buf *b)
{
	wr->rx[(wr->rx_head + wr->rx_count) % WIRE_POOL] = b;
	wr->rx_count++;
}

/* Every ARP request is answered as if the address were on the wire. */
static void answer_arp(struct pd_wire *wr, const uint8_t *frame, uint16_t len)
{
	struct arp_view arp;
	if (arp_parse(frame + ETH_HDR_BYTES, len - ETH_HDR_BYTES, &arp) < 0 || arp.op != ARP_OP_REQUEST)
		return;
	struct netif_buf *b = wire_alloc(&wr->nif);
	if (!b)
		return;
	int n = arp_build_frame(b->data, b->cap, ARP_OP_REPLY, PEER_MAC, arp.target_ip, arp.sender_mac, arp.sender_ip);
	if (n < 0) {
		wire_free(&wr->nif, b);
		return;
	}
	b->len = (uint16_t)n;
	wire_to_nic(wr, b);
}

static void queue_out(struct pd_world *w, const uint8_t *ip, uint16_t len)
{
	if (w->out_count == OUT_QUEUE)
		return; /* packetdrill stopped reading long ago: the script has failed */
	uint8_t *copy = malloc(len);
	if (!copy)
		return;
	memcpy(copy, ip, len);
	w->out[(w->out_head + w->out_count) % OUT_QUEUE] = (struct out_pkt){.at_ns = w->now_ns, .len = len, .data = copy};
	w->out_count++;
}

static int wire_tx_burst(struct netif *nif, struct netif_buf **bufs, int n)
{
	struct pd_wire *wr = wire_of(nif);
	for (int i = 0; i < n; i++) {
		struct netif_buf *b = bufs[i];
		struct eth_hdr_view eth;
		if (eth_parse(b->data, b->len, &eth) == 0) {
			if (eth.ethertype == ETH_TYPE_ARP) {
				answer_arp(wr, b->data, b->len);
			} else if (eth.ethertype == ETH_TYPE_IPV4 && b->len >= ETH_HDR_BYTES + IPV4_HDR_MIN_BYTES) {
				/* Without the Ethernet header and its padding. */
				uint16_t ip_len = load_be16(b->data + ETH_HDR_BYTES + 2);
				if (ip_len <= b->len - ETH_HDR_BYTES)
					queue_out(wr->w, b->data + ETH_HDR_BYTES, ip_len);
			}
		}
		wire_free(nif, b);
	}
	return n;
}

static void wire_get_mac(struct netif *nif, uint8_t mac[6])
{
	(void)nif;
	memcpy(mac, NIC_MAC, 6);
}

static void wire_get_stats(struct netif *nif, struct netif_stats *out)
{
	(void)nif;
	memset(out, 0, sizeof(*out));
}

static uint64_t wire_next_rx_ns(struct netif *nif)
{
	return wire_of(nif)->rx_count ? wire_of(nif)->w->now_ns : BT_TIME_NEVER;
}

static void wire_destroy(struct netif *nif)
{
	(void)nif;
}

static const struct netif_ops wire_ops = {
	.rx_burst = wire_rx_burst,
	.tx_burst = wire_tx_burst,
	.alloc = wire_alloc,
	.free = wire_free,
	.get_mac = wire_get_mac,
	.get_stats = wire_get_stats,
	.next_rx_ns = wire_next_rx_ns,
	.destroy = wire_destroy,
};

static int wire_init(struct pd_wire *wr, struct pd_world *w)
{
	wr->nif.ops = &wire_ops;
	wr->w = w;
	wr->slab = malloc((size_t)WIRE_POOL * NETIF_FRAME_MAX_BYTES);
	if (!wr->slab)
		return -1;
	for (int i = 0; i < WIRE_POOL; i++) {
		wr->bufs[i] = (struct netif_buf){.data = wr->slab + (size_t)i * NETIF_FRAME_MAX_BYTES,
						 .cap = NETIF_FRAME_MAX_BYTES};
		wr->free_list[i] = WIRE_POOL - 1 - i;
	}
	wr->free_count = WIRE_POOL;
	return 0;
}

/* ---- the world ---- */

struct pd_world *pd_world_create(const struct nic_config *nic_cfg, const struct bt_host_config *host_cfg, char *err,
				 size_t err_len)
{
	struct pd_world *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, err_len, "pd_world: out of memory");
		return NULL;
	}
	w->now_ns = PD_WORLD_START_NS;
	w->clock = (struct bt_clock){.now_ns = world_clock, .ctx = w};
	if (wire_init(&w->wire, w) < 0) {
		snprintf(err, err_len, "pd_world: out of memory for the wire");
		goto fail;
	}
	struct shm_link_params cp = {.key_seed = 0x9d11c0de5eedull};
	w->chan = shm_link_create(&cp, &w->clock);
	if (!w->chan) {
		snprintf(err, err_len, "pd_world: shm_link_create failed");
		goto fail;
	}
	w->nic = nic_create(nic_cfg, &w->wire.nif, &w->clock, err, err_len);
	if (!w->nic)
		goto fail;
	if (nic_attach_app(w->nic, shm_link_end(w->chan, SHM_END_NIC)) < 0) {
		snprintf(err, err_len, "pd_world: nic_attach_app failed");
		goto fail;
	}
	int rc = 0;
	w->host = bt_host_create(host_cfg, shm_link_end(w->chan, SHM_END_HOST), &w->clock, &rc);
	if (!w->host) {
		snprintf(err, err_len, "pd_world: bt_host_create: %s", bt_strerror(rc));
		goto fail;
	}
	pd_world_settle(w); /* the HELLO reaches the NIC */
	return w;
fail:
	pd_world_destroy(w);
	return NULL;
}

void pd_world_destroy(struct pd_world *w)
{
	if (!w)
		return;
	bt_host_destroy(w->host);
	nic_destroy(w->nic);
	if (w->chan)
		shm_link_destroy(w->chan);
	for (uint32_t i = 0; i < w->out_count; i++)
		free(w->out[(w->out_head + i) % OUT_QUEUE].data);
	free(w->wire.slab);
	free(w);
}

struct bt_host *pd_world_host(struct pd_world *w)
{
	return w->host;
}

uint64_t pd_world_now_ns(const struct pd_world *w)
{
	return w->now_ns;
}

static int poll_round(struct pd_world *w)
{
	int work = nic_poll(w->nic, w->now_ns);
	if (work < 0)
		work = 0;
	struct bt_event ev[32];
	int n;
	/* Readiness is read level-triggered (bt_readiness): the events
	 * themselves are not needed, only their processing. */
	while ((n = bt_poll(w->host, ev, 32)) > 0)
		work += n;
	return work;
}

uint64_t pd_world_next_event_ns(struct pd_world *w)
{
	uint64_t t = nic_next_event_ns(w->nic);
	uint64_t b = bt_host_next_event_ns(w->host);
	return b < t ? b : t;
}

void pd_world_settle(struct pd_world *w)
{
	int quiet = 0;
	for (int i = 0; i < ROUNDS_PER_INSTANT; i++) {
		if (poll_round(w) > 0) {
			quiet = 0;
			continue;
		}
		if (pd_world_next_event_ns(w) > w->now_ns || ++quiet >= 2)
			return;
	}
}

void pd_world_advance(struct pd_world *w, uint64_t until_ns)
{
	pd_world_settle(w);
	for (;;) {
		uint64_t t = pd_world_next_event_ns(w);
		if (t == BT_TIME_NEVER || t > until_ns)
			break;
		if (t <= w->now_ns)
			t = w->now_ns + 1;
		if (t > until_ns)
			break;
		w->now_ns = t;
		pd_world_settle(w);
	}
	if (w->now_ns < until_ns) {
		w->now_ns = until_ns;
		pd_world_settle(w);
	}
}

int pd_world_inject(struct pd_world *w, const void *ip_packet, size_t len)
{
	if (len < IPV4_HDR_MIN_BYTES || (((const uint8_t *)ip_packet)[0] >> 4) != 4 ||
	    len > NETIF_FRAME_MAX_BYTES - ETH_HDR_BYTES)
		return -1;
	struct netif_buf *b = wire_alloc(&w->wire.nif);
	if (!b)
		return -1;
	eth_build(b->data, b->cap, NIC_MAC, PEER_MAC, ETH_TYPE_IPV4);
	memcpy(b->data + ETH_HDR_BYTES, ip_packet, len);
	b->len = (uint16_t)(ETH_HDR_BYTES + len);
	wire_to_nic(&w->wire, b);
	pd_world_settle(w);
	return 0;
}

void pd_world_print_stats(struct pd_world *w)
{
	struct nic_stats st;
	nic_get_stats(w->nic, &st);
#define PRINT_U64(f)                                                                                               \
	if (st.f)                                                                                                  \
		fprintf(stderr, "bluetas shim: nic." #f " = %llu\n", (unsigned long long)st.f);
	NIC_STATS_FIELDS_U64(PRINT_U64)
#undef PRINT_U64
}

bool pd_world_has_output(const struct pd_world *w)
{
	return w->out_count > 0;
}

bool pd_world_pop(struct pd_world *w, void *buf, size_t cap, size_t *len, uint64_t *at_ns)
{
	if (w->out_count == 0)
		return false;
	struct out_pkt *p = &w->out[w->out_head];
	size_t n = p->len < cap ? p->len : cap;
	memcpy(buf, p->data, n);
	*len = n;
	*at_ns = p->at_ns;
	free(p->data);
	w->out_head = (w->out_head + 1) % OUT_QUEUE;
	w->out_count--;
	return true;
}
