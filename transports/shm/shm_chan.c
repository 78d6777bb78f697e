/*
 * shm_chan.c: the channel contract (channel.h) between two ends in one
 * process. The NIC side of a verbs RC queue pair is played by progress():
 * it executes queued work once its due time has passed, checking the
 * remote key, permission and bounds only then, as a real remote NIC does.
 *
 * Choices the contract leaves open:
 *   - remote->addr must be 0 or the peer region's base address: both are
 *     what an shm peer may advertise; anything else is a forged descriptor.
 *     remote->len_bytes is the caller's copy and is not trusted: bounds are
 *     checked against the registered region.
 *   - Serialization occupies the wire in the direction the DATA flows (a
 *     READ's data comes back over the peer's direction), so back-to-back
 *     large operations queue behind each other instead of all overlapping.
 *   - A local region deregistered while an operation on it is queued makes
 *     that operation fail with CHAN_ELOCAL (like IBV_WC_LOC_PROT_ERR) and
 *     breaks the link; memory is never touched through a stale key.
 *   - poll_cq on a broken link keeps returning the remaining (flushed)
 *     completions, then 0, as ibv_poll_cq does.
 *   - next_event_ns of an end is its peer's first message, its own first
 *     signaled operation (its completion) and the peer's first WRITE (it
 *     lands in this end's memory, which its owner may be polling: a NIC's
 *     event or payload for a host that is awake); each queue is in due
 *     order. An unsignaled operation's completion is no event for its
 *     poster: nothing comes of it but the slot a later signaled
 *     completion retires. next_msg_ns is the peer's first message only.
 *     Once something may break the link (an operation its target
 *     refuses at post, a region deregistered, an error fault) both are
 *     the link's next due time for both ends.
 *   - Messages still in flight when the link breaks are lost; messages
 *     already delivered can still be polled.
 */
#include "shm_chan.h"

#include "../../core/util/mix.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define SHM_MAX_REGIONS 1024u
#define SHM_DEFAULT_SQ 256u
#define SHM_DEFAULT_MSG 64u

struct shm_region {
	void *base;
	uint64_t len;
	uint32_t lkey, rkey, access;
};

/* Work posted by one end, not yet executed: one-sided op or message. They
 * share one queue per direction so that ordering across kinds holds. */
struct shm_wr {
	uint64_t due, seq, wr_id, loff, roff, raddr;
	uint32_t lkey, rkey, len, flags;
	uint8_t opcode;
	uint8_t msg[CHAN_MSG_MAX_BYTES];
};

struct shm_cqe {
	struct chan_completion c;
	uint64_t seq; /* polling it retires every op posted up to here */
};

struct shm_msg {
	uint32_t len;
	uint8_t data[CHAN_MSG_MAX_BYTES];
};

struct shm_end_state {
	struct chan chan; /* first: the ops recover the end by a cast */
	struct shm_link *link;
	unsigned idx;
	struct shm_region regions[SHM_MAX_REGIONS];
	uint32_t n_regions;
	uint32_t lkey_hint; /* where find_lkey last found a key: posts name one region over and over */
	struct shm_wr *wq; /* this end -> peer, ordered by due time */
	uint32_t wq_head, wq_len, wq_cap;
	uint64_t last_due;  /* in-order: nothing is due before its predecessor */
	uint64_t wire_free; /* data flowing out of this end occupies the wire until then */
	struct shm_cqe *cq; /* cap sq_depth: each cqe holds an SQ slot */
	uint32_t cq_head, cq_len;
	uint64_t posted, retired; /* SQ slots in use = posted - retired */
	struct shm_msg *inbox;    /* cap msg_depth: delivered, not yet polled */
	uint32_t in_head, in_len;
	uint32_t msgs_out; /* our messages in flight or unpolled at the peer */
	/* Messages among wq's entries, and the due time of the first message,
	 * of the first signaled operation and of the first WRITE in wq,
	 * BT_TIME_NEVER if none (next_event_ns). */
	uint32_t wq_msgs;
	uint64_t msg_due, sig_due, write_due;
	uint32_t credits_withheld; /* freed by the peer, held back by a stall fault */
};

struct shm_link {
	struct shm_end_state end[2];
	struct shm_link_params p;
	const struct bt_clock *clock;
	struct shm_link_stats stats;
	uint32_t key_ctr, key_k0, key_k1;
	int broken;
	/* Earliest due time over both queues (BT_TIME_NEVER: none), so the
	 * progress() every channel call makes costs one compare when nothing
	 * is due; 0 means "not known yet". */
	uint64_t next_due_ns;
	struct shm_faults faults;
	uint64_t fault_rng;
	/* Set once something may break the link at an operation of either
	 * end (a region deregistered, an operation its target will refuse):
	 * from then on each end's next event is the link's (next_event_ns). */
	bool may_break;
	/* Grows with every change to what next_event_ns reads (the fields
	 * above, each end's msg_due, sig_due, write_due and credits_withheld): own_moves,
	 * or a count shared with other links (shm_link_count_moves_in). */
	uint64_t *moves;
	uint64_t own_moves;
};

static struct shm_end_state *end_of(struct chan *ch) { return (struct shm_end_state *)ch; }
static struct shm_end_state *peer_of(struct shm_end_state *e) { return &e->link->end[e->idx ^ 1u]; }

/* A bijection on 32 bits: xorshifts and odd multiplies are invertible. */
static uint32_t mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

/* Keys are a keyed permutation of a counter rather than raw random draws:
 * that makes them unpredictable-looking yet provably never repeated within
 * a link (until 2^32 draws). 0 is reserved so a zeroed descriptor is never
 * valid. */
static int new_key(struct shm_link *l, uint32_t *out)
{
	uint32_t k;
	do {
		if (l->key_ctr == UINT32_MAX)
			return CHAN_ENOMEM;
		k = mix32(mix32(l->key_ctr++ ^ l->key_k0) ^ l->key_k1);
	} while (k == 0);
	*out = k;
	return CHAN_OK;
}

/* (pos + step) within a ring of cap slots, step <= cap: a compare, not a
 * division (these run once per operation and message). */
static uint32_t ring_idx(uint32_t pos, uint32_t step, uint32_t cap)
{
	uint32_t i = pos + step;
	return i >= cap ? i - cap : i;
}

static uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* Live keys are distinct and never handed out again, so a match at the
 * hint is the region the scan would find. */
static struct shm_region *find_lkey(struct shm_end_state *e, uint32_t key)
{
	uint32_t hint = e->lkey_hint;
	if (key && hint < e->n_regions && e->regions[hint].lkey == key)
		return &e->regions[hint];
	for (uint32_t i = 0; key && i < e->n_regions; i++)
		if (e->regions[i].lkey == key) {
			e->lkey_hint = i;
			return &e->regions[i];
		}
	return NULL;
}

static struct shm_region *find_rkey(struct shm_end_state *e, uint32_t key)
{
	for (uint32_t i = 0; key && i < e->n_regions; i++)
		if (e->regions[i].rkey == key)
			return &e->regions[i];
	return NULL;
}

static int in_bounds(uint64_t off, uint64_t len, uint64_t region_len)
{
	return !(off > region_len || len > region_len - off);
}

/* Whether the target refuses an operation on its region `rem`. */
static bool remote_refused(const struct shm_region *rem, uint8_t opcode, uint64_t roff, uint32_t len, uint64_t raddr)
{
	uint32_t need = opcode == CHAN_OP_READ ? CHAN_ACCESS_REMOTE_READ : CHAN_ACCESS_REMOTE_WRITE;
	return !rem || !(rem->access & need) || !in_bounds(roff, len, rem->len) ||
	       (raddr != 0 && raddr != (uint64_t)(uintptr_t)rem->base);
}

static void push_cqe(struct shm_end_state *e, const struct shm_wr *wr, int status)
{
	/* Cannot overflow: every queued op holds an SQ slot until its cqe (or a
	 * later one) is polled, and the CQ is sq_depth deep. */
	uint32_t cap = e->link->p.sq_depth;
	struct shm_cqe *q = &e->cq[ring_idx(e->cq_head, e->cq_len++, cap)];
	q->c = (struct chan_completion){ .wr_id = wr->wr_id, .status = status,
					 .opcode = wr->opcode, .len_bytes = wr->len };
	q->seq = wr->seq;
}

/* RC semantics: once broken, nothing queued will ever execute, so every
 * op is reported (flushed) and in-flight messages are lost. */
static void break_link(struct shm_link *l)
{
	l->broken = 1;
	(*l->moves)++;
	for (unsigned i = 0; i < 2; i++) {
		struct shm_end_state *e = &l->end[i];
		e->wq_msgs = 0;
		e->msg_due = e->sig_due = e->write_due = BT_TIME_NEVER;
		for (; e->wq_len; e->wq_len--, e->wq_head = (e->wq_head + 1) % e->wq_cap) {
			const struct shm_wr *wr = &e->wq[e->wq_head];
			if (wr->opcode == CHAN_OP_MSG)
				e->msgs_out--;
			else
				push_cqe(e, wr, CHAN_EFLUSHED);
		}
	}
}

static void execute(struct shm_end_state *e, const struct shm_wr *wr)
{
	struct shm_link *l = e->link;
	struct shm_end_state *peer = peer_of(e);

	if (wr->opcode == CHAN_OP_MSG) {
		struct shm_msg *m = &peer->inbox[ring_idx(peer->in_head, peer->in_len++, l->p.msg_depth)];
		m->len = wr->len;
		memcpy(m->data, wr->msg, wr->len);
		l->stats.msgs++;
		return;
	}

	int status = CHAN_OK;
	if (l->faults.error_at_ns && bt_clock_now_ns(l->clock) >= l->faults.error_at_ns) {
		l->faults.error_at_ns = 0;
		l->stats.errors_injected++;
		push_cqe(e, wr, CHAN_EIO);
		break_link(l);
		return;
	}
	struct shm_region *loc = find_lkey(e, wr->lkey);
	struct shm_region *rem = find_rkey(peer, wr->rkey);
	if (!loc || !in_bounds(wr->loff, wr->len, loc->len))
		status = CHAN_ELOCAL;
	else if (remote_refused(rem, wr->opcode, wr->roff, wr->len, wr->raddr))
		status = CHAN_EACCESS;

	if (status == CHAN_OK) {
		uint8_t *lp = (uint8_t *)loc->base + wr->loff;
		uint8_t *rp = (uint8_t *)rem->base + wr->roff;
		/* memmove: both ends may register the same process memory. */
		if (wr->opcode == CHAN_OP_READ) {
			memmove(lp, rp, wr->len);
			l->stats.reads++;
			l->stats.bytes_read += wr->len;
		} else {
			memmove(rp, lp, wr->len);
			l->stats.writes++;
			l->stats.bytes_written += wr->len;
		}
		if (wr->flags & CHAN_WR_SIGNALED)
			push_cqe(e, wr, CHAN_OK);
		return;
	}
	if (status == CHAN_EACCESS)
		l->stats.access_errors++;
	push_cqe(e, wr, status);
	break_link(l);
}

enum due_kind { DUE_MSG, DUE_SIGNALED, DUE_WRITE };

static bool is_kind(const struct shm_wr *wr, enum due_kind k)
{
	if (k == DUE_MSG)
		return wr->opcode == CHAN_OP_MSG;
	if (k == DUE_WRITE)
		return wr->opcode == CHAN_OP_WRITE;
	return wr->opcode != CHAN_OP_MSG && (wr->flags & CHAN_WR_SIGNALED);
}

/* Due time of the first message, signaled operation or WRITE (`k`) in
 * e's queue, BT_TIME_NEVER if none: after a pop, usually near the head. */
static uint64_t first_due(const struct shm_end_state *e, enum due_kind k)
{
	uint32_t count = k == DUE_MSG ? e->wq_msgs : e->wq_len - e->wq_msgs;
	for (uint32_t i = 0, idx = e->wq_head; count && i < e->wq_len; i++) {
		const struct shm_wr *wr = &e->wq[idx];
		if (is_kind(wr, k))
			return wr->due;
		idx = idx + 1 == e->wq_cap ? 0 : idx + 1;
	}
	return BT_TIME_NEVER;
}

/* Runs all work due by `now` across both directions in due-time order, so
 * that an error in one direction flushes exactly what would not yet have
 * happened in the other. */
static void progress(struct shm_link *l, uint64_t now)
{
	struct shm_end_state *a = &l->end[0], *b = &l->end[1];
	if (now < l->next_due_ns)
		return;
	while (!l->broken) {
		uint64_t due_a = a->wq_len ? a->wq[a->wq_head].due : BT_TIME_NEVER;
		uint64_t due_b = b->wq_len ? b->wq[b->wq_head].due : BT_TIME_NEVER;
		/* Ties go to end 0, so the order is a pure function of the posts. */
		struct shm_end_state *pick = due_a <= due_b ? a : b;
		if ((due_a <= due_b ? due_a : due_b) > now || !pick->wq_len) {
			uint64_t due = due_a <= due_b ? due_a : due_b;
			if (l->next_due_ns != due)
				(*l->moves)++;
			l->next_due_ns = due;
			return;
		}
		/* Executed in place: nothing in execute() posts to a queue, so
		 * the slot is not reused before it returns. */
		const struct shm_wr *wr = &pick->wq[pick->wq_head];
		pick->wq_head = pick->wq_head + 1 == pick->wq_cap ? 0 : pick->wq_head + 1;
		pick->wq_len--;
		(*l->moves)++; /* msg_due, sig_due or write_due of pick moves */
		if (wr->opcode == CHAN_OP_MSG) {
			pick->wq_msgs--;
			pick->msg_due = first_due(pick, DUE_MSG);
		} else {
			if (wr->flags & CHAN_WR_SIGNALED)
				pick->sig_due = first_due(pick, DUE_SIGNALED);
			if (wr->opcode == CHAN_OP_WRITE)
				pick->write_due = first_due(pick, DUE_WRITE);
		}
		execute(pick, wr);
	}
}

static uint64_t fault_rand(struct shm_link *l)
{
	return splitmix64(&l->fault_rng);
}

static bool in_window(uint64_t now, uint64_t from, uint64_t until)
{
	return until != 0 && now >= from && now < until;
}

/* Credits a stall fault held back come back once its window has closed
 * (only ever withheld inside it). Out of line: tick() runs on every
 * channel call and this almost never. */
static void release_withheld_credits(struct shm_link *l, uint64_t now)
{
	if (in_window(now, l->faults.stall_credits_from_ns, l->faults.stall_credits_until_ns))
		return;
	for (unsigned i = 0; i < 2; i++) {
		l->end[i].msgs_out -= l->end[i].credits_withheld;
		l->end[i].credits_withheld = 0;
	}
	(*l->moves)++;
}

/* Every channel call first runs what is due. Inline: the common call
 * (nothing due, no credits held) costs a clock read and two compares. */
static inline uint64_t tick(struct shm_end_state *e)
{
	struct shm_link *l = e->link;
	uint64_t now = bt_clock_now_ns(l->clock);
	if (now >= l->next_due_ns)
		progress(l, now);
	if (l->end[0].credits_withheld | l->end[1].credits_withheld)
		release_withheld_credits(l, now);
	return now;
}

/* The next queue slot, due no earlier than its predecessor; the caller
 * fills the rest in place (a work request is ~140 bytes: no copy). */
static struct shm_wr *enqueue(struct shm_end_state *e, uint64_t due)
{
	due = max_u64(due, e->last_due);
	e->last_due = due;
	if (due < e->link->next_due_ns)
		e->link->next_due_ns = due;
	(*e->link->moves)++; /* a new entry: the poster's msg_due, sig_due or write_due may move */
	uint32_t idx = e->wq_head + e->wq_len++;
	if (idx >= e->wq_cap)
		idx -= e->wq_cap;
	struct shm_wr *wr = &e->wq[idx];
	wr->due = due;
	return wr;
}

static void shm_info(struct chan *ch, struct chan_info *out)
{
	struct shm_end_state *e = end_of(ch);
	if (!out)
		return;
	out->backend = "shm";
	out->sq_depth = e->link->p.sq_depth;
	out->msg_depth = e->link->p.msg_depth;
	out->addr_mode = CHAN_ADDR_EXACT;
	out->credit_mode = CHAN_CREDIT_ON_POLL;
	out->keys_reused = 0;
}

static int shm_mr_register(struct chan *ch, void *base, uint64_t len, uint32_t access, struct chan_mr *out)
{
	struct shm_end_state *e = end_of(ch);
	tick(e);
	if (!base || len == 0 || !out ||
	    (access & ~(uint32_t)(CHAN_ACCESS_REMOTE_READ | CHAN_ACCESS_REMOTE_WRITE)))
		return CHAN_EINVAL;
	if (len - 1 > (uint64_t)UINTPTR_MAX - (uintptr_t)base)
		return CHAN_EINVAL; /* would wrap the address space */
	if (e->n_regions == SHM_MAX_REGIONS)
		return CHAN_ENOMEM;
	if (e->idx == SHM_END_HOST && access && e->link->faults.shrink_host_region_bytes &&
	    len > e->link->faults.shrink_host_region_bytes) {
		len -= e->link->faults.shrink_host_region_bytes;
		e->link->faults.shrink_host_region_bytes = 0;
	}
	struct shm_region r = { .base = base, .len = len, .access = access };
	if (new_key(e->link, &r.lkey) != CHAN_OK || new_key(e->link, &r.rkey) != CHAN_OK)
		return CHAN_ENOMEM;
	e->regions[e->n_regions++] = r;
	*out = (struct chan_mr){ .base = base, .len_bytes = len, .lkey = r.lkey, .rkey = r.rkey,
				 .access = access };
	return CHAN_OK;
}

static int shm_mr_deregister(struct chan *ch, struct chan_mr *mr)
{
	struct shm_end_state *e = end_of(ch);
	tick(e);
	struct shm_region *r = mr ? find_lkey(e, mr->lkey) : NULL;
	if (!r || r->rkey != mr->rkey)
		return CHAN_EINVAL;
	*r = e->regions[--e->n_regions]; /* order is irrelevant: keys are the handles */
	e->link->may_break = true; /* a queued operation on it now fails */
	(*e->link->moves)++;
	return CHAN_OK;
}

/* When an op posted now is due: after the wire has carried the data
 * before it (a bandwidth model), one latency later, plus a delay fault's
 * draw inside its window. Out of line: most links model neither. */
static uint64_t modelled_due(struct shm_end_state *e, uint8_t opcode, uint32_t len, uint64_t now)
{
	struct shm_link *l = e->link;
	uint64_t ready = now;
	if (l->p.bandwidth_bps) {
		struct shm_end_state *src = opcode == CHAN_OP_READ ? peer_of(e) : e;
		uint64_t ser = (uint64_t)((double)len * 8e9 / (double)l->p.bandwidth_bps);
		src->wire_free = sat_add(max_u64(now, src->wire_free), ser);
		ready = src->wire_free;
	}
	uint64_t extra = 0;
	if (l->faults.delay_max_ns && in_window(now, l->faults.delay_from_ns, l->faults.delay_until_ns)) {
		extra = fault_rand(l) % (l->faults.delay_max_ns + 1);
		l->stats.ops_delayed++;
	}
	return sat_add(sat_add(ready, l->p.op_latency_ns), extra);
}

/* Inline in the two posts: the receive path posts every segment through
 * it, and a call with eight arguments passes two of them on the stack. */
static inline __attribute__((always_inline)) int post_op(struct chan *ch, uint8_t opcode,
							 struct chan_sge_local local, struct chan_sge_remote remote,
							 uint32_t len, uint64_t wr_id, uint32_t flags)
{
	struct shm_end_state *e = end_of(ch);
	struct shm_link *l = e->link;
	uint64_t now = tick(e);
	if (l->broken)
		return CHAN_EDISCONNECTED;
	if (len == 0 || !local.mr || !remote.mr)
		return CHAN_EINVAL;
	/* The local side is ours to check now; the remote side is the peer
	 * NIC's business and is checked when the op executes. */
	struct shm_region *loc = find_lkey(e, local.mr->lkey);
	if (!loc || !in_bounds(local.off, len, loc->len))
		return CHAN_ELOCAL;
	if (e->posted - e->retired >= l->p.sq_depth)
		return CHAN_EAGAIN;

	/* Without a bandwidth model or a delay fault (the common link) an
	 * op is due one latency from now. */
	uint64_t due = (l->p.bandwidth_bps | l->faults.delay_max_ns) ? modelled_due(e, opcode, len, now)
								    : sat_add(now, l->p.op_latency_ns);
	/* An operation its target would refuse now breaks the link when it
	 * executes: the peer must see that instant (next_event_ns). */
	if (!l->may_break && remote_refused(find_rkey(peer_of(e), remote.mr->rkey), opcode, remote.off, len,
					    remote.mr->addr))
		l->may_break = true; /* enqueue below counts the move */
	struct shm_wr *wr = enqueue(e, due);
	if ((flags & CHAN_WR_SIGNALED) && e->sig_due == BT_TIME_NEVER)
		e->sig_due = wr->due;
	if (opcode == CHAN_OP_WRITE && e->write_due == BT_TIME_NEVER)
		e->write_due = wr->due;
	wr->seq = e->posted++;
	wr->wr_id = wr_id;
	wr->loff = local.off;
	wr->roff = remote.off;
	wr->raddr = remote.mr->addr;
	wr->lkey = loc->lkey;
	wr->rkey = remote.mr->rkey;
	wr->len = len;
	wr->flags = flags;
	wr->opcode = opcode;
	return CHAN_OK;
}

static int shm_post_read(struct chan *ch, struct chan_sge_local local, struct chan_sge_remote remote,
			 uint32_t len, uint64_t wr_id, uint32_t flags)
{
	return post_op(ch, CHAN_OP_READ, local, remote, len, wr_id, flags);
}

static int shm_post_write(struct chan *ch, struct chan_sge_local local, struct chan_sge_remote remote,
			  uint32_t len, uint64_t wr_id, uint32_t flags)
{
	return post_op(ch, CHAN_OP_WRITE, local, remote, len, wr_id, flags);
}

static int shm_post_msg(struct chan *ch, const void *msg, uint32_t len)
{
	struct shm_end_state *e = end_of(ch);
	struct shm_link *l = e->link;
	uint64_t now = tick(e);
	if (l->broken)
		return CHAN_EDISCONNECTED;
	int bad = chan_msg_check(msg, len);
	if (bad)
		return bad;
	if (e->msgs_out >= l->p.msg_depth)
		return CHAN_EAGAIN;
	if (l->faults.drop_msg && l->faults.drop_msg(l->faults.drop_ctx, (enum shm_end)e->idx, msg, len, now)) {
		l->stats.msgs_dropped++;
		return CHAN_OK;
	}
	e->msgs_out++;
	struct shm_wr *wr = enqueue(e, sat_add(now, l->p.msg_latency_ns));
	if (e->wq_msgs++ == 0)
		e->msg_due = wr->due;
	wr->len = len;
	wr->opcode = CHAN_OP_MSG;
	memcpy(wr->msg, msg, len);
	return CHAN_OK;
}

static int shm_poll_msg(struct chan *ch, void *buf, uint32_t cap, uint32_t *len_out)
{
	struct shm_end_state *e = end_of(ch);
	tick(e);
	if (e->in_len == 0)
		return e->link->broken ? CHAN_EDISCONNECTED : 0;
	const struct shm_msg *m = &e->inbox[e->in_head];
	/* Too small a buffer leaves the message queued rather than truncating. */
	if (!buf || !len_out || cap < m->len)
		return CHAN_EINVAL;
	memcpy(buf, m->data, m->len);
	*len_out = m->len;
	e->in_head = ring_idx(e->in_head, 1, e->link->p.msg_depth);
	e->in_len--;
	/* The credit returns to the sender at once, unless a stall fault
	 * holds it back until its window closes. */
	struct shm_link *l = e->link;
	uint64_t now = bt_clock_now_ns(l->clock);
	if (e->idx == SHM_END_NIC && in_window(now, l->faults.stall_credits_from_ns, l->faults.stall_credits_until_ns)) {
		peer_of(e)->credits_withheld++;
		(*e->link->moves)++;
		l->stats.credits_stalled++;
	} else {
		peer_of(e)->msgs_out--;
	}
	return 1;
}

static int shm_poll_cq(struct chan *ch, struct chan_completion *out, int max)
{
	struct shm_end_state *e = end_of(ch);
	tick(e);
	if (max < 0 || (max > 0 && !out))
		return CHAN_EINVAL;
	int n = 0;
	for (; n < max && e->cq_len; n++) {
		const struct shm_cqe *q = &e->cq[e->cq_head];
		out[n] = q->c;
		/* In-order completion: this op and every earlier (unsignaled)
		 * one have finished, so their slots come back. */
		e->retired = q->seq + 1;
		e->cq_head = ring_idx(e->cq_head, 1, e->link->p.sq_depth);
		e->cq_len--;
	}
	return n;
}

/* next_event_ns, or with msgs_only next_msg_ns (channel.h). */
static uint64_t next_arrival(struct chan *ch, bool msgs_only)
{
	struct shm_end_state *e = end_of(ch);
	struct shm_link *l = e->link;
	tick(e);
	/* After tick, next_due_ns is the earliest due time over both queues
	 * (progress sets it, enqueue lowers it); a broken link has emptied
	 * its queues and takes no more work. What arrives on this end is the
	 * peer's messages, its own signaled operations' results and the
	 * peer's WRITEs into its memory; the peer's READs and unsignaled
	 * completions are nobody's events here (channel.h), unless an
	 * operation may break the link, which this end must see when it
	 * happens. */
	uint64_t next;
	if (l->broken) {
		next = BT_TIME_NEVER;
	} else if (l->may_break || l->faults.error_at_ns) {
		next = l->next_due_ns;
	} else {
		const struct shm_end_state *peer = peer_of(e);
		next = peer->msg_due;
		if (!msgs_only) {
			if (peer->write_due < next)
				next = peer->write_due;
			if (e->sig_due < next)
				next = e->sig_due;
		}
	}
	if ((l->end[0].credits_withheld | l->end[1].credits_withheld) && l->faults.stall_credits_until_ns < next)
		next = l->faults.stall_credits_until_ns;
	return next;
}

static uint64_t shm_next_event_ns(struct chan *ch) { return next_arrival(ch, false); }

static uint64_t shm_next_msg_ns(struct chan *ch) { return next_arrival(ch, true); }

static int shm_ready(struct chan *ch)
{
	struct shm_end_state *e = end_of(ch);
	tick(e);
	if (e->link->broken)
		return CHAN_READY_MSG | CHAN_READY_CQ;
	return (e->in_len ? CHAN_READY_MSG : 0) | (e->cq_len ? CHAN_READY_CQ : 0);
}

static int shm_wait(struct chan *ch, uint64_t timeout_ns)
{
	(void)ch;
	(void)timeout_ns;
	return 0; /* one thread drives both ends: there is nobody to wait for */
}

static void shm_end_destroy(struct chan *ch) { (void)ch; /* owned by the link */ }

static const struct chan_ops shm_chan_ops = {
	.info = shm_info,
	.mr_register = shm_mr_register,
	.mr_deregister = shm_mr_deregister,
	.post_read = shm_post_read,
	.post_write = shm_post_write,
	.post_msg = shm_post_msg,
	.poll_msg = shm_poll_msg,
	.poll_cq = shm_poll_cq,
	.next_event_ns = shm_next_event_ns,
	.next_msg_ns = shm_next_msg_ns,
	.wait = shm_wait,
	.destroy = shm_end_destroy,
	.ready = shm_ready,
};

struct shm_link *shm_link_create(const struct shm_link_params *p, const struct bt_clock *clock)
{
	if (!p || !clock || !clock->now_ns)
		return NULL;
	struct shm_link *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->moves = &l->own_moves;
	l->p = *p;
	if (!l->p.sq_depth)
		l->p.sq_depth = SHM_DEFAULT_SQ;
	if (!l->p.msg_depth)
		l->p.msg_depth = SHM_DEFAULT_MSG;
	l->clock = clock;
	uint64_t s = p->key_seed;
	uint64_t k = splitmix64(&s);
	l->key_k0 = (uint32_t)k;
	l->key_k1 = (uint32_t)(k >> 32);
	/* Unexecuted work per direction: at most sq_depth ops plus msg_depth
	 * messages, both bounded at post time. */
	uint64_t wq_cap = (uint64_t)l->p.sq_depth + l->p.msg_depth;
	for (unsigned i = 0; i < 2; i++) {
		struct shm_end_state *e = &l->end[i];
		e->chan.ops = &shm_chan_ops;
		e->link = l;
		e->idx = i;
		e->msg_due = e->sig_due = e->write_due = BT_TIME_NEVER;
		if (wq_cap <= UINT32_MAX) {
			e->wq_cap = (uint32_t)wq_cap;
			e->wq = calloc(e->wq_cap, sizeof(*e->wq));
		}
		e->cq = calloc(l->p.sq_depth, sizeof(*e->cq));
		e->inbox = calloc(l->p.msg_depth, sizeof(*e->inbox));
		if (!e->wq || !e->cq || !e->inbox) {
			shm_link_destroy(l);
			return NULL;
		}
	}
	return l;
}

struct chan *shm_link_end(struct shm_link *link, enum shm_end end)
{
	if (!link || (end != SHM_END_HOST && end != SHM_END_NIC))
		return NULL;
	return &link->end[end].chan;
}

void shm_link_stats(const struct shm_link *link, struct shm_link_stats *out)
{
	if (link && out)
		*out = link->stats;
}

const uint64_t *shm_link_moves(const struct shm_link *link)
{
	return link->moves;
}

void shm_link_count_moves_in(struct shm_link *link, uint64_t *counter)
{
	link->moves = counter ? counter : &link->own_moves;
}

void shm_link_break(struct shm_link *link)
{
	if (!link || link->broken)
		return;
	/* Whatever was due before the break still happened. */
	progress(link, bt_clock_now_ns(link->clock));
	if (!link->broken)
		break_link(link);
}

void shm_link_destroy(struct shm_link *link)
{
	if (!link)
		return;
	for (unsigned i = 0; i < 2; i++) {
		free(link->end[i].wq);
		free(link->end[i].cq);
		free(link->end[i].inbox);
	}
	free(link);
}

void shm_link_set_faults(struct shm_link *link, const struct shm_faults *f)
{
	link->faults = *f;
	(*link->moves)++;
	link->fault_rng = f->seed ^ 0x5851f42d4c957f2dull;
}
