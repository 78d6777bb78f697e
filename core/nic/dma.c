/*
 * dma.c: how the NIC touches host memory. Every access is a one-sided
 * operation on the application's own channel, from or into the app's
 * NIC-side staging area. Operations are recorded in posting order; the
 * channel completes them in that order, so freeing staging is a matter of
 * moving the tail to where the completed operation's data ended.
 *
 * The record FIFO mirrors the channel's send queue exactly, so the
 * completion queue can never overflow (the BlueTAS prototype posted up to
 * 110 signaled requests on a CQ of 10). Not every operation is signaled
 * (channel.h, completion rules): the RX payload and event WRITEs are not,
 * as nothing waits for their completion but their staging and send-queue
 * slot, which the next signaled completion frees with its own; a TX READ
 * is (its completion builds the segments), and so is one of every
 * DMA_SIGNAL_EVERY in a row, and every one while the hop trace is on (it
 * times each). A completion retires the unsignaled records before its
 * own, in order. An unsignaled WRITE is no event for the NIC (channel.h,
 * next_event_ns): where it lands is the host's business.
 */
#include <stdlib.h>
#include <string.h>

#include "nic_internal.h"

int dma_app_init(struct nic *nic, struct nic_app *a)
{
	chan_info(a->ch, &a->info);
	a->ops_cap = a->info.sq_depth ? a->info.sq_depth : 1;
	a->ops = calloc(a->ops_cap, sizeof(*a->ops));
	a->staging_len = nic->cfg.staging_bytes;
	a->staging = calloc(1, a->staging_len);
	if (!a->ops || !a->staging)
		return -1;
	if (chan_mr_register(a->ch, a->staging, a->staging_len, CHAN_ACCESS_LOCAL, &a->staging_mr) != CHAN_OK)
		return -1;
	a->staging_head = a->staging_tail = 0;
	return 0;
}

void dma_app_fini(struct nic_app *a)
{
	if (a->staging && a->staging_mr.lkey)
		chan_mr_deregister(a->ch, &a->staging_mr);
	free(a->staging);
	free(a->ops);
	a->staging = NULL;
	a->ops = NULL;
	memset(&a->staging_mr, 0, sizeof(a->staging_mr));
}

/* Contiguous space in the staging ring. Occupied bytes are [tail, head)
 * (circular); head == staging_len marks a ring full up to its end. A
 * reservation that does not fit before the end skips to the start. */
int dma_reserve(struct nic_app *a, uint32_t len, uint32_t *off_out)
{
	if (len == 0 || len > a->staging_len / 2)
		return -1;
	if (a->ops_count == 0)
		a->staging_head = a->staging_tail = 0;
	uint32_t head = a->staging_head, tail = a->staging_tail;
	if (head >= tail) {
		if (len <= a->staging_len - head) {
			*off_out = head;
			a->staging_head = head + len;
			return 0;
		}
		if (len < tail) {
			*off_out = 0;
			a->staging_head = len;
			return 0;
		}
		return -1;
	}
	if (head + len < tail) {
		*off_out = head;
		a->staging_head = head + len;
		return 0;
	}
	return -1;
}

int dma_reserve_more(struct nic_app *a, uint32_t end, uint32_t len)
{
	uint32_t head = a->staging_head, tail = a->staging_tail;
	if (head != end || len == 0)
		return -1;
	if (head >= tail ? len <= a->staging_len - head : head + len < tail) {
		a->staging_head = head + len;
		return 0;
	}
	return -1;
}

/* A reservation nothing was posted from: given back when it is the last
 * one (head returns to where it began; a reservation that skipped to the
 * start leaves the skipped end as dma_reserve's wrap does). After a later
 * one it stays until the operations posted after it complete, which frees
 * it with them. */
void dma_unreserve(struct nic_app *a, uint32_t off, uint32_t len)
{
	if (a->staging_head == off + len)
		a->staging_head = off;
}

/* One work request and its record; the record names `whole_off` as its
 * staging (the whole transfer's, whichever piece this is). Inline in
 * dma_ring_post: the receive path posts every segment through it. */
static inline int post_piece(struct nic *nic, struct nic_app *a, uint8_t kind, bool is_read, uint32_t staging_off,
			     uint64_t remote_off, uint32_t len, const struct dma_op *meta, uint32_t whole_off)
{
	if (a->broken)
		return CHAN_EDISCONNECTED;
	if (a->ops_count == a->ops_cap) {
		nic->stats.dma_sq_full++;
		return CHAN_EAGAIN;
	}
	uint64_t wr_id = a->next_wr_id++;
	struct chan_sge_local local = {.mr = &a->staging_mr, .off = staging_off};
	struct chan_sge_remote remote = {.mr = &a->host_mr, .off = remote_off};
	bool quiet = (kind == DMA_RX_WRITE || kind == DMA_EV_WRITE || kind == DMA_NONE) && !nic->hops &&
		     a->unsignaled_run + 1 < DMA_SIGNAL_EVERY;
	uint32_t flags = quiet ? 0 : CHAN_WR_SIGNALED;
	int rc = is_read ? chan_post_read(a->ch, local, remote, len, wr_id, flags)
			 : chan_post_write(a->ch, local, remote, len, wr_id, flags);
	if (rc == CHAN_EAGAIN) {
		nic->stats.dma_sq_full++;
		return rc;
	}
	if (rc != CHAN_OK) {
		a->broken = rc;
		return rc;
	}
	/* ops_head < ops_cap and ops_count < ops_cap here: one subtraction
	 * wraps the slot (no division on the per-segment path). */
	uint32_t slot = a->ops_head + a->ops_count;
	if (slot >= a->ops_cap)
		slot -= a->ops_cap;
	struct dma_op *op = &a->ops[slot];
	*op = *meta;
	op->kind = kind;
	op->signaled = !quiet;
	a->unsignaled_run = quiet ? a->unsignaled_run + 1 : 0;
	op->staging_off = whole_off;
	op->staging_end = a->staging_head;
	op->wr_id = wr_id;
	a->ops_count++;
	return CHAN_OK;
}

int dma_post(struct nic *nic, int app, uint8_t kind, bool is_read, uint32_t staging_off, uint64_t remote_off,
	     uint32_t len, const struct dma_op *meta)
{
	return post_piece(nic, &nic->apps[app], kind, is_read, staging_off, remote_off, len, meta, meta->staging_off);
}

int dma_ring_post(struct nic *nic, int app, uint8_t kind, bool is_read, uint32_t staging_off, uint64_t ring_off,
		  uint32_t ring_len, uint32_t ring_pos, uint32_t len, const struct dma_op *meta)
{
	/* The record names the whole transfer's staging, whichever piece
	 * carries it. */
	struct nic_app *a = &nic->apps[app];
	uint32_t first = ring_len - ring_pos;
	if (first >= len)
		return post_piece(nic, a, kind, is_read, staging_off, ring_off + ring_pos, len, meta, staging_off);
	/* The ring wraps inside this transfer: two operations, the record
	 * of the first inert so that only the second (whose completion
	 * implies the first's) triggers the follow-up. */
	if (dma_sq_free(a) < 2)
		return CHAN_EAGAIN;
	int rc = post_piece(nic, a, DMA_NONE, is_read, staging_off, ring_off + ring_pos, first, meta, staging_off);
	if (rc != CHAN_OK)
		return rc;
	return post_piece(nic, a, kind, is_read, staging_off + first, ring_off, len - first, meta, staging_off);
}

/* The in-order receive's write: `len` bytes from staging_off to the head
 * of flow fi's RX ring (rx_pos), the record's seq rcv_nxt (called before
 * rx_advance). The common unsplit write is built here with post_piece
 * inline, so its record is written in place instead of through a copied
 * meta; one the ring's end splits goes through dma_ring_post. */
int dma_rx_write(struct nic *nic, uint32_t fi, uint32_t staging_off, uint32_t len)
{
	const struct flow *f = &nic->flows[fi];
	if (len > f->rx_ring_len - f->rx_pos) {
		struct dma_op split = {.flow = fi, .gen = f->gen, .seq = f->rcv_nxt, .len = len};
		return dma_ring_post(nic, f->app, DMA_RX_WRITE, false, staging_off, f->rx_ring_off, f->rx_ring_len,
				     f->rx_pos, len, &split);
	}
	/* Its own meta, whose address does not escape: the compiler stores
	 * its fields straight into the record. */
	struct dma_op meta = {.flow = fi, .gen = f->gen, .seq = f->rcv_nxt, .len = len};
	return post_piece(nic, &nic->apps[f->app], DMA_RX_WRITE, false, staging_off, f->rx_ring_off + f->rx_pos, len,
			  &meta, staging_off);
}

/* Takes the oldest record off the FIFO into *out. */
static void pop_record(struct nic_app *a, struct dma_op *out)
{
	*out = a->ops[a->ops_head];
	a->ops_head = a->ops_head + 1 == a->ops_cap ? 0 : a->ops_head + 1;
	a->ops_count--;
}

int dma_poll_completions(struct nic *nic, int app, struct dma_op done[DMA_POLL_BATCH], bool *more)
{
	struct nic_app *a = &nic->apps[app];
	int n_done = 0;
	bool polled = false;
	*more = false;
	for (;;) {
		if (a->wc_head == a->wc_count) {
			/* One poll of the queue a call; a full one may have
			 * left more (the caller asks again). */
			if (polled) {
				*more = a->wc_count == DMA_POLL_BATCH;
				return n_done;
			}
			int n = chan_poll_cq(a->ch, a->wc, DMA_POLL_BATCH);
			polled = true;
			a->wc_head = a->wc_count = 0;
			if (n < 0) {
				a->broken = n;
				return n_done;
			}
			if (n == 0)
				return n_done;
			a->wc_count = (uint32_t)n;
		}
		const struct chan_completion *wc = &a->wc[a->wc_head];
		/* The unsignaled records before it completed with it. */
		while (a->ops_count && !a->ops[a->ops_head].signaled && a->ops[a->ops_head].wr_id != wc->wr_id) {
			if (n_done == DMA_POLL_BATCH) {
				*more = true;
				return n_done;
			}
			pop_record(a, &done[n_done]);
			if (nic->hops)
				nic_hop_dma_done(nic, &done[n_done]);
			n_done++;
		}
		if (a->ops_count == 0 || a->ops[a->ops_head].wr_id != wc->wr_id) {
			/* The channel broke its ordering promise: nothing the
			 * NIC posts for this app can be trusted. */
			a->broken = CHAN_EINVAL;
			nic->stats.dma_errors++;
			a->wc_head = a->wc_count = 0;
			return n_done;
		}
		if (n_done == DMA_POLL_BATCH) {
			*more = true;
			return n_done;
		}
		a->wc_head++;
		pop_record(a, &done[n_done]);
		if (wc->status != CHAN_OK) {
			nic->stats.dma_errors++;
			if (!a->broken)
				a->broken = wc->status;
			continue;
		}
		if (nic->hops)
			nic_hop_dma_done(nic, &done[n_done]);
		n_done++;
	}
}
