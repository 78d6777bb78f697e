/*
 * netif_fault.c: a netif that wraps another and misbehaves on purpose,
 * deterministically. Receive-side faults act in rx_burst on frames pulled
 * from the inner netif; delayed frames wait in a small hold queue ordered
 * by release time. Transmit-side faults act in tx_burst before the frames
 * reach the inner netif.
 */
#include "netif_fault.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct held_frame {
	struct netif_buf *buf;
	uint64_t release_ns;
	uint64_t order; /* ties keep arrival order */
};

struct fault_netif {
	struct netif base; /* first: the netif pointer is the wrapper */
	struct netif *inner;
	const struct bt_clock *clock;
	struct netif_fault_params p;
	uint64_t rng;
	uint32_t rx_burst_left, tx_burst_left;
	bool none_set; /* no fault in p: frames pass as they are (netif_fault_set) */
	struct held_frame hold[NETIF_FAULT_HOLD_FRAMES];
	uint32_t hold_count;
	uint64_t hold_order;
	struct netif_buf *reorder_slot; /* frame waiting to go after reorder_left more */
	uint32_t reorder_left;          /* frames still to overtake it */
	struct netif_fault_stats stats;
};

static struct fault_netif *fault_of(struct netif *n)
{
	return (struct fault_netif *)n;
}

static uint64_t next_rand(struct fault_netif *f)
{
	/* xorshift64*: enough for fault decisions, and free of any shared
	 * state so two wrappers never perturb each other. */
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 0x2545f4914f6cdd1dull;
}

static bool chance(struct fault_netif *f, uint32_t ppm)
{
	if (ppm == 0)
		return false;
	if (ppm >= NETIF_FAULT_PPM)
		return true;
	return (next_rand(f) % NETIF_FAULT_PPM) < ppm;
}

static bool partitioned(struct fault_netif *f, uint64_t now)
{
	return f->p.partition_end_ns > f->p.partition_start_ns && now >= f->p.partition_start_ns &&
	       now < f->p.partition_end_ns;
}

/* Loss decisions shared by both directions; true means drop. */
static bool lose_decide(struct fault_netif *f, const struct netif_fault_dir *d, uint32_t *burst_left, uint64_t now)
{
	if (partitioned(f, now)) {
		f->stats.partitioned++;
		return true;
	}
	if (*burst_left) {
		(*burst_left)--;
		f->stats.burst_lost++;
		return true;
	}
	if (d->burst_len && chance(f, d->burst_start_ppm)) {
		*burst_left = d->burst_len - 1;
		f->stats.burst_lost++;
		return true;
	}
	if (chance(f, d->loss_ppm)) {
		f->stats.lost++;
		return true;
	}
	return false;
}

/* TCP payload bytes an Ethernet/IPv4 frame carries (0 for anything else
 * or anything malformed): what a loss costs a sender, the denominator of
 * its resent/lost ratio. */
static uint32_t tcp_payload_bytes(const struct netif_buf *b)
{
	const uint8_t *p = b->data;
	if (b->len < 14 + 20 + 20 || p[12] != 0x08 || p[13] != 0x00 || p[14 + 9] != 6)
		return 0;
	uint32_t ihl = (p[14] & 0x0fu) * 4u;
	uint32_t ip_total = (uint32_t)p[16] << 8 | p[17];
	if (ihl < 20 || 14u + ihl + 20u > b->len || ip_total > b->len - 14u)
		return 0;
	uint32_t doff = (p[14 + ihl + 12] >> 4) * 4u;
	return ip_total >= ihl + doff ? ip_total - ihl - doff : 0;
}

static bool lose(struct fault_netif *f, const struct netif_fault_dir *d, uint32_t *burst_left, uint64_t now,
		 const struct netif_buf *b, uint64_t *lost_payload_bytes)
{
	bool dropped = lose_decide(f, d, burst_left, now);
	if (dropped)
		*lost_payload_bytes += tcp_payload_bytes(b);
	return dropped;
}

/* Corruption flips a byte past Ethernet+IPv4 (into TCP), so the frame is
 * still delivered to the right flow and only its checksum can catch it. */
static void mangle(struct fault_netif *f, const struct netif_fault_dir *d, struct netif_buf *b)
{
	if (b->len > 40 && chance(f, d->corrupt_ppm)) {
		uint32_t at = 34 + (uint32_t)(next_rand(f) % (uint64_t)(b->len - 34));
		b->data[at] ^= (uint8_t)(1u + next_rand(f) % 255u);
		b->flags &= (uint16_t)~(NETIF_RX_IP_CSUM_GOOD | NETIF_RX_L4_CSUM_GOOD); /* nobody verified these bytes */
		f->stats.corrupted++;
	}
	if (b->len > 1 && chance(f, d->truncate_ppm)) {
		b->len = (uint16_t)(1 + next_rand(f) % (uint64_t)(b->len - 1));
		b->flags &= (uint16_t)~(NETIF_RX_IP_CSUM_GOOD | NETIF_RX_L4_CSUM_GOOD);
		f->stats.truncated++;
	}
}

static struct netif_buf *copy_of(struct fault_netif *f, const struct netif_buf *b)
{
	struct netif_buf *c = netif_alloc(f->inner);
	if (!c || c->cap < b->len) {
		if (c)
			netif_free(f->inner, c);
		return NULL;
	}
	memcpy(c->data, b->data, b->len);
	c->len = b->len;
	c->flags = b->flags;
	return c;
}

static void hold_push(struct fault_netif *f, struct netif_buf *b, uint64_t release_ns)
{
	uint32_t i = f->hold_count++;
	/* Insertion keeps the queue sorted by (release, arrival order). */
	while (i > 0 && f->hold[i - 1].release_ns > release_ns) {
		f->hold[i] = f->hold[i - 1];
		i--;
	}
	f->hold[i] = (struct held_frame){.buf = b, .release_ns = release_ns, .order = f->hold_order++};
}

/* Decides what happens to one received frame: dropped, delayed, or
 * appended to out[] (possibly twice). Returns frames appended. */
static int admit_rx(struct fault_netif *f, struct netif_buf *b, uint64_t now, struct netif_buf **out, int room)
{
	const struct netif_fault_dir *d = &f->p.rx;
	if (lose(f, d, &f->rx_burst_left, now, b, &f->stats.rx_lost_payload_bytes)) {
		netif_free(f->inner, b);
		return 0;
	}
	mangle(f, d, b);
	struct netif_buf *dup = NULL;
	if (chance(f, d->duplicate_ppm)) {
		dup = copy_of(f, b);
		if (dup)
			f->stats.duplicated++;
	}
	struct netif_buf *frames[2] = {b, dup};
	int n = 0;
	for (int i = 0; i < 2 && frames[i]; i++) {
		struct netif_buf *fr = frames[i];
		uint64_t delay = d->jitter_ns ? next_rand(f) % (d->jitter_ns + 1) : 0;
		if (delay && f->hold_count < NETIF_FAULT_HOLD_FRAMES) {
			f->stats.delayed++;
			hold_push(f, fr, now + delay);
			continue;
		}
		if (delay)
			f->stats.hold_overflow++;
		if (!f->reorder_slot && chance(f, d->reorder_ppm)) {
			f->reorder_slot = fr;
			f->reorder_left = d->reorder_depth ? d->reorder_depth : 1;
			f->stats.reordered++;
			continue;
		}
		if (n < room) {
			out[n++] = fr;
			if (f->reorder_slot && f->reorder_left)
				f->reorder_left--;
			if (f->reorder_slot && !f->reorder_left && n < room) {
				out[n++] = f->reorder_slot;
				f->reorder_slot = NULL;
			}
		} else if (f->hold_count < NETIF_FAULT_HOLD_FRAMES) {
			hold_push(f, fr, now);
		} else {
			netif_free(f->inner, fr); /* cannot happen with room sized right */
			f->stats.hold_overflow++;
		}
	}
	return n;
}

/* How many frames rx_burst pulls from the inner netif with `room` left:
 * half of it (each frame may turn into two), 1..64. */
static int rx_pull_count(int room)
{
	int want = room / 2;
	if (want < 1)
		want = 1;
	return want > 64 ? 64 : want;
}

/* With no fault set and nothing held back from one set before, every
 * frame passes as it is: no clock read, no decision per frame. */
static bool passes_through(const struct fault_netif *f, uint32_t burst_left)
{
	return f->none_set && !burst_left && !f->hold_count && !f->reorder_slot;
}

static int fault_rx_burst(struct netif *n, struct netif_buf **bufs, int max)
{
	struct fault_netif *f = fault_of(n);
	if (max > 0 && passes_through(f, f->rx_burst_left))
		return netif_rx_burst(f->inner, bufs, rx_pull_count(max)); /* what the path below would do */
	uint64_t now = bt_clock_now_ns(f->clock);
	int count = 0;
	while (count < max && f->hold_count && f->hold[0].release_ns <= now) {
		bufs[count++] = f->hold[0].buf;
		f->hold_count--;
		memmove(&f->hold[0], &f->hold[1], f->hold_count * sizeof(f->hold[0]));
	}
	if (count >= max)
		return count;
	struct netif_buf *in[64];
	int got = netif_rx_burst(f->inner, in, rx_pull_count(max - count));
	for (int i = 0; i < got; i++)
		count += admit_rx(f, in[i], now, bufs + count, max - count);
	/* A frame held for reordering must not wait forever for a successor
	 * that never comes: if the wire went quiet, let it go now. */
	if (got == 0 && f->reorder_slot && count < max) {
		bufs[count++] = f->reorder_slot;
		f->reorder_slot = NULL;
	}
	return count;
}

static int fault_tx_burst(struct netif *n, struct netif_buf **bufs, int cnt)
{
	struct fault_netif *f = fault_of(n);
	if (cnt <= 126 && passes_through(f, f->tx_burst_left)) {
		/* The path below with no fault: one batch, refusals freed. */
		int sent = cnt > 0 ? netif_tx_burst(f->inner, bufs, cnt) : 0;
		for (int i = sent < 0 ? 0 : sent; i < cnt; i++)
			netif_free(f->inner, bufs[i]);
		return cnt;
	}
	uint64_t now = bt_clock_now_ns(f->clock);
	const struct netif_fault_dir *d = &f->p.tx;
	struct netif_buf *pass[128];
	int taken = 0;
	while (taken < cnt) {
		int npass = 0;
		int batch_start = taken;
		for (; taken < cnt && npass < 126; taken++) {
			struct netif_buf *b = bufs[taken];
			if (lose(f, d, &f->tx_burst_left, now, b, &f->stats.tx_lost_payload_bytes)) {
				netif_free(f->inner, b);
				continue;
			}
			mangle(f, d, b);
			pass[npass++] = b;
			if (chance(f, d->duplicate_ppm)) {
				struct netif_buf *dup = copy_of(f, b);
				if (dup) {
					pass[npass++] = dup;
					f->stats.duplicated++;
				}
			}
		}
		int sent = npass ? netif_tx_burst(f->inner, pass, npass) : 0;
		if (sent < 0)
			sent = 0;
		/* The caller handed these over; what the inner netif refused
		 * is dropped here, as a full NIC queue would. */
		for (int i = sent; i < npass; i++)
			netif_free(f->inner, pass[i]);
		(void)batch_start;
	}
	return cnt;
}

static struct netif_buf *fault_alloc(struct netif *n) { return netif_alloc(fault_of(n)->inner); }
static void fault_free(struct netif *n, struct netif_buf *b) { netif_free(fault_of(n)->inner, b); }
static void fault_get_mac(struct netif *n, uint8_t mac[6]) { netif_get_mac(fault_of(n)->inner, mac); }
static void fault_get_stats(struct netif *n, struct netif_stats *s) { netif_get_stats(fault_of(n)->inner, s); }

static uint64_t fault_next_rx_ns(struct netif *n)
{
	struct fault_netif *f = fault_of(n);
	uint64_t next = netif_next_rx_ns(f->inner);
	if (f->hold_count && f->hold[0].release_ns < next)
		next = f->hold[0].release_ns;
	/* A frame held for reordering is due at once. Said as 0, not as a
	 * fresh clock read: in real time that read is later than the now the
	 * NIC took at the start of its poll, so the NIC took the frame for a
	 * future one, never asked the wire again, and its receive path
	 * starved (interop's echo under faults: every ARP went unanswered). */
	if (f->reorder_slot)
		next = 0;
	return next;
}

static void fault_destroy(struct netif *n)
{
	struct fault_netif *f = fault_of(n);
	for (uint32_t i = 0; i < f->hold_count; i++)
		netif_free(f->inner, f->hold[i].buf);
	if (f->reorder_slot)
		netif_free(f->inner, f->reorder_slot);
	netif_destroy(f->inner);
	free(f);
}

static const struct netif_ops fault_ops = {
	.rx_burst = fault_rx_burst,
	.tx_burst = fault_tx_burst,
	.alloc = fault_alloc,
	.free = fault_free,
	.get_mac = fault_get_mac,
	.get_stats = fault_get_stats,
	.next_rx_ns = fault_next_rx_ns,
	.destroy = fault_destroy,
};

void netif_fault_set(struct netif *wrapper, const struct netif_fault_params *p)
{
	struct fault_netif *f = fault_of(wrapper);
	uint64_t old_seed = f->p.seed;
	f->p = *p;
	if (p->seed != old_seed)
		f->rng = p->seed * 0x9e3779b97f4a7c15ull + 0x7f4a7c15u;
	if (!f->rng)
		f->rng = 0x853c49e6748fea9bull;
	static const struct netif_fault_dir none = {0};
	f->none_set = !memcmp(&p->rx, &none, sizeof(none)) && !memcmp(&p->tx, &none, sizeof(none)) &&
		      p->partition_end_ns <= p->partition_start_ns;
}

struct netif *netif_fault_create(struct netif *inner, const struct netif_fault_params *p,
				 const struct bt_clock *clock)
{
	struct fault_netif *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->base.ops = &fault_ops;
	f->inner = inner;
	f->clock = clock;
	f->p.seed = ~p->seed; /* force the seeding path below */
	netif_fault_set(&f->base, p);
	return &f->base;
}

void netif_fault_get_stats(struct netif *wrapper, struct netif_fault_stats *out)
{
	*out = fault_of(wrapper)->stats;
}
