#include "link.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../core/proto/proto.h" /* layout constants only; nothing linked */

/*
 * Buffers live in one slab split into two per-port pools: slots
 * [0, pool_frames) belong to port 0, the rest to port 1. A frame sent by
 * port p is freed by whoever receives it on the other port, so a slot
 * returns to its home pool (found from its index) whichever port frees it:
 * alloc on a port still fails exactly when that port's own pool is empty.
 * Slots never used yet are on no list: a port takes them in index order
 * once its free list is empty (the order one list of every slot would
 * give), so creating a link touches none of them.
 */

enum slot_state { SLOT_FREE, SLOT_OWNED, SLOT_IN_FLIGHT };

struct slot {
	struct netif_buf buf; /* buf.backend points back at the slot */
	struct slot *next;    /* free list or in-flight FIFO */
	uint64_t depart_ns;   /* last bit leaves the sender */
	uint64_t arrive_ns;   /* receivable at the other port */
	int home;             /* port whose pool owns it */
	enum slot_state state;
};

/* Frames sent by one port toward the other. */
struct direction {
	struct slot *head, *tail; /* in flight, in send order */
	/* First frame still being serialized (depart > now); every frame
	 * before it has left the queue. Frames ahead of it are the only ones
	 * rx can take, since arrive >= depart. */
	struct slot *ser_head;
	uint32_t ser_bytes;       /* bytes from ser_head to tail */
	/* The wire is busy until busy_ns + busy_frac / bandwidth: the
	 * fraction keeps long trains at the exact configured rate instead of
	 * drifting by a rounding step per frame. */
	uint64_t busy_ns;
	uint64_t busy_frac;
	struct sim_link_dir_stats st;
};

struct port {
	struct netif nif; /* first member: the netif pointer is the port */
	struct sim_link *link;
	int idx;
	uint8_t mac[6];
	struct slot *free_list;
	uint32_t fresh_next, fresh_end; /* never-used slots of this pool */
	struct netif_stats stats;
};

struct sim_link {
	struct port ports[2];
	struct direction dirs[2]; /* dirs[p]: frames sent by port p */
	struct sim_link_params p;
	struct bt_clock clock;
	struct slot *slots;
	uint32_t nslots;
	uint8_t *slab;
	uint64_t moves; /* sim_link_moves */
};

void sim_link_default_params(struct sim_link_params *p)
{
	if (!p)
		return;
	memset(p, 0, sizeof(*p));
	p->latency_ns = 5000;
	p->bandwidth_bps = 10000000000ull;
	p->queue_limit_bytes = 1u << 20;
	p->ecn_mark_bytes = 0;
	p->pool_frames = 4096;
	p->mtu_bytes = 9216;
}

static uint64_t link_now(const struct sim_link *l)
{
	return bt_clock_now_ns(&l->clock);
}

static struct port *as_port(struct netif *nif)
{
	return (struct port *)nif;
}

/* NULL when the buffer is not one of this link's slots, so a foreign or
 * corrupted pointer is refused instead of written through. */
static struct slot *slot_of(struct sim_link *l, struct netif_buf *b)
{
	if (!b)
		return NULL;
	struct slot *s = b->backend;
	if (s < l->slots || s >= l->slots + l->nslots || &s->buf != b)
		return NULL;
	return s;
}

static void slot_release(struct sim_link *l, struct slot *s)
{
	struct port *home = &l->ports[s->home];
	s->state = SLOT_FREE;
	s->next = home->free_list;
	home->free_list = s;
}

/* Drops frames that finished serializing from the queue occupancy. */
static void dir_advance(struct direction *d, uint64_t now)
{
	while (d->ser_head && d->ser_head->depart_ns <= now) {
		d->ser_bytes -= d->ser_head->buf.len;
		d->ser_head = d->ser_head->next;
	}
}

static uint16_t ipv4_checksum(const uint8_t *h, unsigned len)
{
	uint32_t sum = 0;
	for (unsigned i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)h[i] << 8 | h[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* True if the frame was ECT(0) or ECT(1) IPv4 and is now CE. Frames that
 * are too short or malformed to parse are left alone: the wire does not
 * validate, it only marks what it can. */
static bool ecn_mark(uint8_t *f, uint16_t len)
{
	if (len < ETH_HDR_BYTES + IPV4_HDR_MIN_BYTES)
		return false;
	if (((unsigned)f[12] << 8 | f[13]) != ETH_TYPE_IPV4)
		return false;
	uint8_t *ip = f + ETH_HDR_BYTES;
	if ((ip[0] >> 4) != 4)
		return false;
	unsigned ihl = (unsigned)(ip[0] & 0x0f) * 4;
	if (ihl < IPV4_HDR_MIN_BYTES || ETH_HDR_BYTES + ihl > len)
		return false;
	uint8_t ecn = ip[1] & IPV4_ECN_MASK;
	if (ecn == IPV4_ECN_NOT_ECT || ecn == IPV4_ECN_CE)
		return false;
	ip[1] |= IPV4_ECN_CE;
	ip[10] = 0;
	ip[11] = 0;
	uint16_t c = ipv4_checksum(ip, ihl);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	return true;
}

/* When the last bit of a `len`-byte frame offered at `now` leaves: it
 * waits for the frames ahead of it, then takes its own serialization time. */
static uint64_t dir_serialize(struct direction *d, uint64_t bw, uint64_t now, uint16_t len)
{
	if (bw == 0)
		return now;
	bool idle = now > d->busy_ns || (now == d->busy_ns && d->busy_frac == 0);
	if (idle) {
		d->busy_ns = now;
		d->busy_frac = 0;
	}
	uint64_t total = d->busy_frac + (uint64_t)len * 8u * 1000000000ull;
	d->busy_ns += total / bw;
	d->busy_frac = total % bw;
	/* The last bit is out only once the fractional nanosecond has passed. */
	return d->busy_ns + (d->busy_frac ? 1 : 0);
}

/*
 * Takes every buffer it is given, except one that is not this link's
 * (returned at that index so the caller keeps it). Oversize and tail-dropped
 * frames are freed here and still count as taken: a real wire gives the
 * sender no refusal, and leaving them with the caller would invite a retry
 * loop against a full queue.
 */
static int link_tx_burst(struct netif *nif, struct netif_buf **bufs, int n)
{
	struct port *pt = as_port(nif);
	struct sim_link *l = pt->link;
	struct direction *d = &l->dirs[pt->idx];
	uint64_t now = link_now(l);
	int i;

	if (!bufs)
		return 0;
	dir_advance(d, now);
	for (i = 0; i < n; i++) {
		struct slot *s = slot_of(l, bufs[i]);
		if (!s || s->state != SLOT_OWNED)
			break;
		uint16_t len = s->buf.len;
		if (len > l->p.mtu_bytes || len > s->buf.cap) {
			d->st.dropped_oversize++;
			pt->stats.tx_dropped++;
			slot_release(l, s);
			continue;
		}
		if ((uint64_t)d->ser_bytes + len > l->p.queue_limit_bytes) {
			d->st.dropped_queue++;
			pt->stats.tx_dropped++;
			slot_release(l, s);
			continue;
		}
		if (l->p.ecn_mark_bytes && d->ser_bytes > l->p.ecn_mark_bytes &&
		    ecn_mark(s->buf.data, len))
			d->st.ecn_marked++;

		s->depart_ns = dir_serialize(d, l->p.bandwidth_bps, now, len);
		s->arrive_ns = s->depart_ns + l->p.latency_ns;
		s->state = SLOT_IN_FLIGHT;
		s->next = NULL;
		if (d->tail) {
			d->tail->next = s;
		} else {
			d->head = s;
			l->moves++;
		}
		d->tail = s;
		if (s->depart_ns > now) {
			if (!d->ser_head)
				d->ser_head = s;
			d->ser_bytes += len;
			if (d->ser_bytes > d->st.max_queue_bytes)
				d->st.max_queue_bytes = d->ser_bytes;
		}
		d->st.frames++;
		d->st.bytes += len;
		pt->stats.tx_frames++;
		pt->stats.tx_bytes += len;
	}
	return i;
}

static int link_rx_burst(struct netif *nif, struct netif_buf **bufs, int max)
{
	struct port *pt = as_port(nif);
	struct sim_link *l = pt->link;
	struct direction *d = &l->dirs[1 - pt->idx];
	uint64_t now = link_now(l);
	int n = 0;

	if (!bufs)
		return 0;
	/* Must run first: ser_head may not point at a slot handed out below. */
	dir_advance(d, now);
	while (n < max && d->head && d->head->arrive_ns <= now) {
		struct slot *s = d->head;
		d->head = s->next;
		l->moves++;
		if (!d->head)
			d->tail = NULL;
		s->next = NULL;
		s->state = SLOT_OWNED;
		s->buf.flags = 0; /* a wire verifies nothing (and TX flags stay behind) */
		pt->stats.rx_frames++;
		pt->stats.rx_bytes += s->buf.len;
		bufs[n++] = &s->buf;
	}
	return n;
}

static struct netif_buf *link_alloc(struct netif *nif)
{
	struct port *pt = as_port(nif);
	struct slot *s = pt->free_list;
	if (s) {
		pt->free_list = s->next;
	} else if (pt->fresh_next < pt->fresh_end) {
		s = &pt->link->slots[pt->fresh_next++];
		s->buf.backend = s;
		s->home = pt->idx;
	} else {
		pt->stats.alloc_failed++;
		return NULL;
	}
	s->next = NULL;
	s->state = SLOT_OWNED;
	s->buf.len = 0;
	s->buf.cap = NETIF_FRAME_MAX_BYTES;
	s->buf.data = pt->link->slab + (size_t)(s - pt->link->slots) * NETIF_FRAME_MAX_BYTES;
	return &s->buf;
}

/* Either port may free any of the link's buffers; double frees and foreign
 * pointers are ignored so they cannot corrupt the free lists. */
static void link_free(struct netif *nif, struct netif_buf *b)
{
	struct sim_link *l = as_port(nif)->link;
	struct slot *s = slot_of(l, b);
	if (s && s->state == SLOT_OWNED)
		slot_release(l, s);
}

static void link_get_mac(struct netif *nif, uint8_t mac_out[6])
{
	memcpy(mac_out, as_port(nif)->mac, 6);
}

static void link_get_stats(struct netif *nif, struct netif_stats *out)
{
	*out = as_port(nif)->stats;
}

static uint64_t link_next_rx_ns(struct netif *nif)
{
	struct port *pt = as_port(nif);
	const struct direction *d = &pt->link->dirs[1 - pt->idx];
	return d->head ? d->head->arrive_ns : BT_TIME_NEVER;
}

/* The ports live inside the link; only sim_link_destroy releases them. */
static void link_port_destroy(struct netif *nif)
{
	(void)nif;
}

static const struct netif_ops link_ops = {
	.rx_burst = link_rx_burst,
	.tx_burst = link_tx_burst,
	.alloc = link_alloc,
	.free = link_free,
	.get_mac = link_get_mac,
	.get_stats = link_get_stats,
	.next_rx_ns = link_next_rx_ns,
	.destroy = link_port_destroy,
};

struct sim_link *sim_link_create(const struct sim_link_params *p, const struct bt_clock *clock,
				 const uint8_t mac0[6], const uint8_t mac1[6])
{
	if (!p || !clock || !clock->now_ns)
		return NULL;
	uint64_t nslots = (uint64_t)p->pool_frames * 2;
	if (nslots > UINT32_MAX || nslots > SIZE_MAX / NETIF_FRAME_MAX_BYTES)
		return NULL;

	struct sim_link *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->p = *p;
	l->clock = *clock;
	l->nslots = (uint32_t)nslots;
	if (nslots) {
		l->slots = calloc((size_t)nslots, sizeof(*l->slots));
		/* malloc, not calloc: a large pool's pages stay untouched until a
		 * frame is written into them. */
		l->slab = malloc((size_t)nslots * NETIF_FRAME_MAX_BYTES);
		if (!l->slots || !l->slab) {
			free(l->slots);
			free(l->slab);
			free(l);
			return NULL;
		}
	}

	const uint8_t *macs[2] = {mac0, mac1};
	for (int i = 0; i < 2; i++) {
		struct port *pt = &l->ports[i];
		pt->nif.ops = &link_ops;
		pt->link = l;
		pt->idx = i;
		if (macs[i])
			memcpy(pt->mac, macs[i], 6);
	}
	/* Each pool hands out its lowest slot first, which keeps buffer
	 * addresses in a run easy to follow in a debugger. */
	l->ports[0].fresh_next = 0;
	l->ports[0].fresh_end = p->pool_frames;
	l->ports[1].fresh_next = p->pool_frames;
	l->ports[1].fresh_end = l->nslots;
	return l;
}

struct netif *sim_link_port(struct sim_link *l, int port)
{
	if (!l || port < 0 || port > 1)
		return NULL;
	return &l->ports[port].nif;
}

void sim_link_dir_stats(const struct sim_link *l, int port, struct sim_link_dir_stats *out)
{
	if (!out)
		return;
	if (!l || port < 0 || port > 1) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = l->dirs[port].st;
}

const uint64_t *sim_link_moves(const struct sim_link *l)
{
	return &l->moves;
}

uint64_t sim_link_next_event_ns(const struct sim_link *l)
{
	uint64_t next = BT_TIME_NEVER;
	if (!l)
		return next;
	for (int i = 0; i < 2; i++)
		if (l->dirs[i].head && l->dirs[i].head->arrive_ns < next)
			next = l->dirs[i].head->arrive_ns;
	return next;
}

/* In-flight and caller-held buffers all live in the slab, so freeing it
 * releases them; callers must not touch buffers after this. */
void sim_link_destroy(struct sim_link *l)
{
	if (!l)
		return;
	free(l->slots);
	free(l->slab);
	free(l);
}
