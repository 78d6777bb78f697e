/*
 * fp_tx.c: the fast path's transmit story. Flows with something to send
 * (new data, a window that opened, an ACK owed, a FIN) sit on one work
 * list. For data the NIC posts a one-sided READ of the payload from the
 * host's TX ring into staging, one per burst of segments (tx_burst); the
 * frames are built when the READ completes (fp_tx_read_done). Payload is
 * never kept on the NIC beyond that: a retransmission reads it from host
 * memory again.
 */
#include <string.h>

#include "nic_internal.h"

void fp_tx_schedule(struct nic *nic, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	if (f->in_tx)
		return;
	f->in_tx = true;
	f->tx_next = FLOW_NONE;
	if (nic->tx_tail == FLOW_NONE)
		nic->tx_head = fi;
	else
		nic->flows[nic->tx_tail].tx_next = fi;
	nic->tx_tail = fi;
}

static uint32_t tx_list_pop(struct nic *nic)
{
	uint32_t fi = nic->tx_head;
	if (fi == FLOW_NONE)
		return FLOW_NONE;
	nic->tx_head = nic->flows[fi].tx_next;
	if (nic->tx_head == FLOW_NONE)
		nic->tx_tail = FLOW_NONE;
	nic->flows[fi].in_tx = false;
	return fi;
}

uint32_t fp_window_to_advertise(const struct flow *f)
{
	uint32_t w = f->rx_avail >> f->rcv_wscale;
	return w > 0xffff ? 0xffff : w;
}

int fp_flush_txq(struct nic *nic)
{
	if (nic->txq_count == 0)
		return 0;
	int sent = netif_tx_burst(nic->wire, nic->txq, nic->txq_count);
	if (sent < 0)
		sent = 0;
	for (int i = sent; i < nic->txq_count; i++) {
		netif_free(nic->wire, nic->txq[i]);
		nic->stats.tx_ring_full++;
	}
	nic->stats.tx_frames += (uint64_t)sent;
	int n = nic->txq_count;
	nic->txq_count = 0;
	return n;
}

static struct netif_buf *txq_alloc(struct nic *nic)
{
	if (nic->txq_count == NIC_TXQ_FRAMES)
		fp_flush_txq(nic);
	struct netif_buf *b = netif_alloc(nic->wire);
	if (!b)
		nic->stats.tx_no_buf++;
	return b;
}

int fp_emit_frame(struct nic *nic, const uint8_t *frame, uint16_t len)
{
	struct netif_buf *b = txq_alloc(nic);
	if (!b)
		return -1;
	if (len > b->cap) {
		netif_free(nic->wire, b);
		return -1;
	}
	memcpy(b->data, frame, len);
	b->len = len;
	b->flags = 0;
	nic->txq[nic->txq_count++] = b;
	return 0;
}

/* Hands a built TCP frame to the TX queue, with the hardware asked to
 * finish its checksum when tcp_frame_build left that to it. */
static void txq_push_tcp(struct nic *nic, struct netif_buf *b, int len, bool offload)
{
	b->len = (uint16_t)len;
	b->flags = offload ? NETIF_TX_L4_CSUM : 0;
	if (offload)
		nic->stats.tx_csum_offloaded++;
	nic->txq[nic->txq_count++] = b;
}

/* The template holds this flow's pure ACK as it would be built now: the
 * same next hop, timestamps and checksum mode. */
static bool ack_tmpl_fits(const struct ack_tmpl *t, const struct flow *f, bool offload)
{
	return t->len_bytes != 0 && t->l4_csum_offload == offload && (t->ts_off != 0) == f->ts_ok &&
	       memcmp(t->frame, f->remote_mac, ETH_ADDR_BYTES) == 0;
}

/* What sending a segment with `window` (and ACK in `flags`) settles. */
static void emitted(struct nic *nic, struct flow *f, uint8_t flags, uint32_t seq, uint16_t payload_len,
		    uint16_t window)
{
	if (nic->hops)
		nic_hop_frame_out(nic, f, seq, payload_len);
	uint32_t seq_end = seq + payload_len + ((flags & TCP_SYN) ? 1 : 0) + ((flags & TCP_FIN) ? 1 : 0);
	if (seq_gt(seq_end, f->snd_emitted))
		f->snd_emitted = seq_end;
	if (flags & TCP_ACK) {
		uint32_t scale = (flags & TCP_SYN) ? 0 : f->rcv_wscale;
		f->adv_wnd_edge = f->rcv_nxt + ((uint32_t)window << scale);
		f->rx_unacked_bytes = 0;
		f->dsack_owed = false;
		f->delack_deadline_ns = 0;
		f->ack_now = false;
		f->ce_seen = false;
	}
}

/* A pure ACK from the flow's template (ack_tmpl.h), when the segment
 * fp_emit_tcp would build is one: ACK alone (no ECE to echo), no SACK
 * blocks, a template for this next hop. Returns 0 sent, -1 no buffer,
 * 1 not a template's ACK (fp_emit_tcp builds it). */
static int emit_template_ack(struct nic *nic, struct flow *f, uint32_t seq)
{
	bool offload = (nic->wire->caps & NETIF_CAP_TX_L4_CSUM) != 0;
	bool sack_blocks = f->sack_ok && (f->dsack_owed || f->rx_ooo.count);
	if (f->state == TCP_SYN_SENT || f->ce_seen || sack_blocks || !ack_tmpl_fits(&f->ack_tmpl, f, offload))
		return 1;
	struct netif_buf *b = txq_alloc(nic);
	if (!b)
		return -1;
	uint16_t window = (uint16_t)fp_window_to_advertise(f);
	if (window == 0)
		nic->stats.tx_zero_window++;
	struct ack_tmpl_fields v = {.seq = seq, .ack = f->rcv_nxt, .window = window, .ip_id = nic->ip_id++};
	if (f->ts_ok) {
		v.ts_val = nic_tsval(nic);
		v.ts_ecr = f->ts_recent;
	}
	int len = ack_tmpl_fill(&f->ack_tmpl, b->data, b->cap, &v);
	if (len < 0) {
		netif_free(nic->wire, b);
		return -1;
	}
	txq_push_tcp(nic, b, len, offload);
	emitted(nic, f, TCP_ACK, seq, 0, window);
	return 0;
}

/* fp_emit_tcp's segment built field by field (tcp_frame_build). */
static int emit_built(struct nic *nic, struct flow *f, uint8_t flags, uint32_t seq, const uint8_t *payload,
		      uint16_t payload_len, bool with_syn_opts)
{
	struct netif_buf *b = txq_alloc(nic);
	if (!b)
		return -1;
	struct tcp_opts opts = {0};
	/* RFC 7323 2.2, 3.2: a SYN-ACK may carry WS and TS only if the SYN
	 * it answers did; our own SYN offers both. */
	bool offer = with_syn_opts && f->state != TCP_SYN_RCVD;
	if (with_syn_opts) {
		opts.has_mss = true;
		opts.mss = sp_adv_mss(nic, f);
		opts.has_wscale = (offer && nic->cfg.window_scaling) || f->wscale_ok;
		opts.wscale = f->rcv_wscale;
	}
	if (f->ts_ok || (offer && nic->cfg.timestamps)) {
		opts.has_ts = true;
		opts.ts_val = nic_tsval(nic);
		opts.ts_ecr = f->ts_recent;
	}
	fp_sack_opts(nic, f, &opts, with_syn_opts, offer);
	if (f->state != TCP_SYN_SENT)
		flags |= TCP_ACK;
	if ((flags & TCP_ACK) && f->ce_seen)
		flags |= TCP_ECE;
	uint16_t window;
	if (flags & TCP_SYN)
		window = f->rx_avail > 0xffff ? 0xffff : (uint16_t)f->rx_avail;
	else
		window = (uint16_t)fp_window_to_advertise(f);
	if (window == 0)
		nic->stats.tx_zero_window++;
	/* IP_TOS sets the upper six bits; the ECN field is ours (RFC 3168 6.1.1:
	 * ECT on data segments only). */
	uint8_t tos = (uint8_t)(f->opts.tos & ~IPV4_ECN_MASK) |
		      ((f->ecn_ok && payload_len > 0) ? IPV4_ECN_ECT0 : IPV4_ECN_NOT_ECT);
	bool offload = (nic->wire->caps & NETIF_CAP_TX_L4_CSUM) != 0;
	struct tcp_frame_args args = {
		.src_mac = nic->mac,
		.dst_mac = f->remote_mac,
		.src_ip = f->local_ip,
		.dst_ip = f->remote_ip,
		.tos = tos,
		.ip_id = nic->ip_id++,
		.tcp = {.sport = f->local_port,
			.dport = f->remote_port,
			.layout = nic->cfg.opt_layout,
			.seq = seq,
			.ack = (flags & TCP_ACK) ? f->rcv_nxt : 0,
			.flags = flags,
			.window = window,
			.opts = &opts},
		.payload = payload,
		.payload_len = payload_len,
		.l4_csum_offload = offload,
	};
	int len = tcp_frame_build(b->data, b->cap, &args);
	if (len < 0) {
		netif_free(nic->wire, b);
		return -1;
	}
	/* The flow's first pure ACK (or one after a change of next hop)
	 * becomes its template. */
	if (flags == TCP_ACK && payload_len == 0 && !with_syn_opts && opts.sack_count == 0)
		ack_tmpl_capture(&f->ack_tmpl, b->data, (size_t)len, offload);
	txq_push_tcp(nic, b, len, offload);
	emitted(nic, f, flags, seq, payload_len, window);
	return 0;
}

int fp_emit_tcp(struct nic *nic, struct flow *f, uint8_t flags, uint32_t seq, const uint8_t *payload,
		uint16_t payload_len, bool with_syn_opts)
{
	if (flags == TCP_ACK && payload_len == 0 && !with_syn_opts) {
		int rc = emit_template_ack(nic, f, seq);
		if (rc <= 0)
			return rc;
	}
	return emit_built(nic, f, flags, seq, payload, payload_len, with_syn_opts);
}

void fp_send_ack(struct nic *nic, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	/* The freebsd-like profile resends an unacknowledged FIN with every
	 * ACK, as FreeBSD's tcp_output does. */
	if (nic->cfg.ack_carries_fin && f->fin_sent && seq_lt(f->snd_una, f->fin_seq + 1) &&
	    f->state != TCP_TIME_WAIT) {
		if (fp_emit_tcp(nic, f, TCP_ACK | TCP_FIN, f->fin_seq, NULL, 0, false) == 0)
			nic->stats.tx_acks++;
		return;
	}
	/* Not snd_nxt: that counts payload whose READ is still in flight,
	 * and an ACK must not claim sequence space no frame has carried.
	 * fp_emit_tcp's two steps here, without its tests for a pure ACK:
	 * a bulk receive sends one every second segment. */
	int rc = emit_template_ack(nic, f, f->snd_emitted);
	if (rc > 0)
		rc = emit_built(nic, f, TCP_ACK, f->snd_emitted, NULL, 0, false);
	if (rc == 0)
		nic->stats.tx_acks++;
}

void fp_send_challenge_ack(struct nic *nic, uint32_t fi)
{
	/* Never repeats a FIN (FreeBSD answers with tcp_respond, not tcp_output). */
	struct flow *f = &nic->flows[fi];
	if (fp_emit_tcp(nic, f, TCP_ACK, f->snd_emitted, NULL, 0, false) == 0)
		nic->stats.tx_acks++;
}

void fp_send_ctrl(struct nic *nic, uint32_t fi, uint8_t flags, uint32_t seq)
{
	struct flow *f = &nic->flows[fi];
	fp_emit_tcp(nic, f, flags, seq, NULL, 0, (flags & TCP_SYN) != 0);
}

void fp_send_rst_reply(struct nic *nic, const uint8_t *dst_mac, const struct ipv4_view *ip,
		       const struct tcp_view *tcp)
{
	/* RFC 793 "Reset Generation": take the sequence number from the ACK
	 * if there is one, otherwise acknowledge everything the segment
	 * occupied. */
	struct tcp_build_args t = {.sport = tcp->dport, .dport = tcp->sport, .window = 0};
	if (tcp->flags & TCP_ACK) {
		t.seq = tcp->ack;
		t.flags = TCP_RST;
	} else {
		uint32_t occupied = tcp->payload_len + ((tcp->flags & TCP_SYN) ? 1 : 0) + ((tcp->flags & TCP_FIN) ? 1 : 0);
		t.seq = 0;
		t.ack = tcp->seq + occupied;
		t.flags = TCP_RST | TCP_ACK;
	}
	struct netif_buf *b = txq_alloc(nic);
	if (!b)
		return;
	struct tcp_frame_args args = {
		.src_mac = nic->mac,
		.dst_mac = dst_mac,
		.src_ip = ip->dst,
		.dst_ip = ip->src,
		.ip_id = nic->ip_id++,
		.tcp = t,
		.l4_csum_offload = (nic->wire->caps & NETIF_CAP_TX_L4_CSUM) != 0,
	};
	int len = tcp_frame_build(b->data, b->cap, &args);
	if (len < 0) {
		netif_free(nic->wire, b);
		return;
	}
	txq_push_tcp(nic, b, len, args.l4_csum_offload);
}

void fp_note_record_end(struct flow *f, uint32_t seq)
{
	if (!seq_gt(seq, f->snd_una))
		return;
	if (f->eor_count && !seq_gt(seq, f->eor_seq[f->eor_count - 1]))
		return; /* a doorbell again (refresh): known */
	if (f->eor_count == FLOW_EOR_MARKS)
		return;
	f->eor_seq[f->eor_count++] = seq;
}

/* The first record end above `seq`, forgetting those at or below
 * snd_una; 0 with none (then `*found` is false). */
static uint32_t next_record_end(struct flow *f, uint32_t seq, bool *found)
{
	uint8_t drop = 0;
	while (drop < f->eor_count && !seq_gt(f->eor_seq[drop], f->snd_una))
		drop++;
	if (drop) {
		memmove(f->eor_seq, f->eor_seq + drop, (f->eor_count - drop) * sizeof(f->eor_seq[0]));
		f->eor_count = (uint8_t)(f->eor_count - drop);
	}
	for (uint8_t i = 0; i < f->eor_count; i++) {
		if (seq_gt(f->eor_seq[i], seq)) {
			*found = true;
			return f->eor_seq[i];
		}
	}
	*found = false;
	return 0;
}

static bool may_send_data(const struct flow *f)
{
	if (!f->rings_attached)
		return false;
	switch (f->state) {
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
	case TCP_FIN_WAIT_1:
	case TCP_CLOSING:
	case TCP_LAST_ACK:
		return true;
	default:
		return false;
	}
}

static uint64_t serialization_ns(uint64_t bytes, uint64_t rate_bps)
{
	return rate_bps ? bytes * 8ull * 1000000000ull / rate_bps : 0;
}

/* A last, partial segment waits under TCP_CORK, and under Nagle (RFC 896)
 * while data is in flight. A FIN goes regardless (the caller checks). */
static bool small_segment_held(const struct flow *f, uint32_t inflight)
{
	if (f->push_held)
		return false;
	return f->opts.cork || (f->opts.nagle && inflight > 0);
}

enum tx_result { TX_DONE, TX_BLOCKED_RESOURCES };

/* Sends what the windows, the rate and the DMA resources allow. */
/* A segment wholly inside the newest doorbell's inline payload (ctxq.h,
 * Inline payload) is built at once from those bytes: no READ, no staging,
 * no channel round trip. Only with no READ in flight, so segments still
 * leave in sequence order (an earlier one may be waiting for its READ). */
static bool tx_from_inline(struct nic *nic, struct flow *f, const struct dma_op *op)
{
	uint32_t begin = f->tx_inline_end - f->tx_inline_len;
	if (!f->tx_inline_len || f->tx_inflight_reads || seq_lt(op->seq, begin) ||
	    seq_gt(op->seq + op->len, f->tx_inline_end))
		return false;
	if (nic->hops)
		nic_hop_read_done(nic, f, op->seq + op->len);
	uint8_t flags = TCP_ACK | (op->psh ? TCP_PSH : 0) | (op->fin ? TCP_FIN : 0);
	if (fp_emit_tcp(nic, f, flags, op->seq, f->tx_inline + (op->seq - begin), (uint16_t)op->len, false) == 0) {
		nic->stats.tx_segments++;
		nic->stats.tx_inline_segments++;
		nic->stats.tx_payload_bytes += op->len;
	}
	return true;
}

/* One READ per burst (as TAS DMAs a whole burst): consecutive segments
 * of one transmit pass whose payload is contiguous in the host's TX ring
 * (a READ across the ring's end is split by dma_ring_post) and in
 * staging share one READ and one completion, and fp_tx_read_done builds
 * their frames in order. A burst grows by full segments without PSH or
 * FIN; the segment that is short, has PSH or FIN, or does not fit right
 * after it in staging ends it. Its READ is posted when it ends, before
 * the pass goes on or returns; until then it counts as a READ in flight
 * (tx_inflight_reads), so no inline segment overtakes it. */
#define TX_BURST_MAX_BYTES 65536u

struct tx_burst {
	struct dma_op meta;       /* seq: its first byte, len: all of it */
	uint32_t staging_off;
	uint32_t ring_pos;
	bool open;
	bool ended;               /* its last segment is short or flagged: it takes no more */
};

/* Posts the burst's READ. On failure (the channel broke: the send queue
 * had room when it opened) its bytes were never read: the pass's
 * snd_nxt goes back to its start. */
static int tx_burst_post(struct nic *nic, struct flow *f, struct tx_burst *b)
{
	if (!b->open)
		return 0;
	b->open = false;
	if (b->meta.seg_bytes == b->meta.len)
		b->meta.seg_bytes = 0; /* one segment */
	if (dma_ring_post(nic, f->app, DMA_TX_READ, true, b->staging_off, f->tx_ring_off, f->tx_ring_len, b->ring_pos,
			  b->meta.len, &b->meta) < 0) {
		f->tx_inflight_reads--;
		f->snd_nxt = b->meta.seq;
		return -1;
	}
	return 0;
}

/* Adds the segment [seq, seq + len) to the open burst if it continues it
 * (above); true when it did. */
static bool tx_burst_extend(struct nic_app *a, struct tx_burst *b, uint32_t seq, uint32_t len, bool psh, bool fin)
{
	if (!b->open || b->ended || len > b->meta.seg_bytes || b->meta.seq + b->meta.len != seq ||
	    b->meta.len + len > TX_BURST_MAX_BYTES || b->meta.len + len > a->staging_len / 4 ||
	    dma_reserve_more(a, b->staging_off + b->meta.len, len) < 0)
		return false;
	b->meta.len += len;
	b->meta.psh = psh;
	b->meta.fin = fin;
	b->ended = psh || fin || len < b->meta.seg_bytes;
	return true;
}

static enum tx_result tx_flow(struct nic *nic, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	if (!may_send_data(f))
		goto ack_only;
	struct nic_app *a = &nic->apps[f->app];
	uint32_t data_end = f->snd_una + f->tx_queued;
	uint64_t now = nic_now(nic);
	bool sent_any = false;
	if (f->burst_ns != now)
		f->burst_segs = 0; /* a burst is what goes at one instant */
	f->burst_ns = now;
	bool held_more = false;
	/* SACK loss recovery (fp_sack.c): lost holes first, RFC 6675 NextSeg rule 1. */
	int holes = fp_sack_send_holes(nic, fi, true);
	if (holes < 0)
		return TX_BLOCKED_RESOURCES;
	sent_any = holes > 0;
	struct tx_burst burst = {.open = false};

	while (seq_lt(f->snd_nxt, data_end)) {
		/* Going back N after an RTO: not over what the peer SACKed. */
		f->snd_nxt = sack_tx_skip_sacked(&f->tx_sack, f->snd_nxt);
		if (!seq_lt(f->snd_nxt, data_end))
			break;
		if (f->rate_bps && now < f->next_tx_ns) {
			sp_timer_update(nic, fi);
			break;
		}
		uint32_t inflight = f->snd_nxt - f->snd_una;
		uint32_t cwnd = sack_tx_cwnd_outstanding(&f->tx_sack, f->cwnd, f->snd_una, f->snd_nxt, f->mss);
		/* Without SACK, each duplicate ACK says a segment left the
		 * network: limited transmit (RFC 3042), then NewReno's
		 * inflation (RFC 6582). */
		cwnd += fp_reno_sacked(nic, f);
		uint32_t wnd = cwnd < f->snd_wnd ? cwnd : f->snd_wnd;
		bool probe = f->probe_due && inflight == 0 && wnd == 0;
		/* A tail loss probe's new segment goes whatever cwnd says. */
		if (f->tlp_new_data && wnd < inflight + f->mss && f->snd_wnd >= inflight + f->mss)
			wnd = inflight + f->mss;
		if (wnd > 0)
			f->probe_due = false;
		if (inflight >= wnd && !probe) {
			/* Nothing outstanding means the peer's window is shut
			 * (cwnd is never 0) and no ACK is coming: arm the
			 * persist timer, or a window that closed before the
			 * data was queued would never be probed. */
			if (f->snd_una == f->snd_max)
				sp_rto_restart(nic, fi);
			else
				sp_timer_update(nic, fi);
			break;
		}
		uint32_t remaining = data_end - f->snd_nxt;
		uint32_t len = probe ? 1 : wnd - inflight;
		if (len > f->mss)
			len = f->mss;
		if (len > remaining)
			len = remaining;
		/* Sender silly window avoidance (RFC 1122 4.2.3.4): while data
		 * is in flight (an ACK is coming), no runt segment: not while
		 * the usable window is under a segment, and not for a tail of
		 * a send the host's full ring cut short (it is filled up when
		 * the host adds the rest, even across the ring's wrap). A tail
		 * that ends a send goes as soon as the window has room for a
		 * segment, with PSH. */
		/* No segment crosses a record end (MSG_EOR); one that reaches
		 * it ends with PSH, as the end of a send does. */
		bool has_record_end;
		uint32_t record_end = next_record_end(f, f->snd_nxt, &has_record_end);
		if (has_record_end && seq_gt(f->snd_nxt + len, record_end))
			len = record_end - f->snd_nxt;
		uint32_t push_seq = data_end - (f->app_closed ? 0 : f->tx_unpushed);
		bool at_record_end = has_record_end && f->snd_nxt + len == record_end;
		bool reaches_push = (seq_lt(f->snd_nxt, push_seq) && seq_geq(f->snd_nxt + len, push_seq)) ||
				    at_record_end;
		bool window_short = wnd - inflight < f->mss;
		bool tail_follows = len < remaining && !at_record_end;
		/* The linux-like profile's tail of a send with more to follow
		 * (MSG_MORE): with nothing in flight it waits for a probe at
		 * the RTO, which sends it with PSH; with data in flight the
		 * next ACK sends it (Linux pushes on ACKs without the cork
		 * MSG_MORE gave the send). */
		bool more_tail = nic->cfg.more_probe && len < f->mss && len == remaining && !reaches_push &&
				 !f->app_closed && !f->push_held;
		bool more_release = false;
		if (more_tail && !f->more_probe_due) {
			if (f->snd_una == f->tx_last_una) {
				if (inflight == 0 && !f->more_deadline_ns) {
					f->more_deadline_ns = now + f->rto_ns;
					sp_timer_update(nic, fi);
				}
				held_more = true;
				break;
			}
			more_release = true; /* an ACK came */
		}
		if (more_tail && f->more_probe_due)
			more_release = true;
		if (len < f->mss && inflight > 0 && !more_release && (window_short || tail_follows || !reaches_push))
			break;
		if (len < f->mss && len == remaining && !f->app_closed && small_segment_held(f, inflight))
			break;
		/* Not over what the peer SACKed; but the linux-like profile
		 * keeps a whole segment whose tail alone was SACKed, as
		 * Linux's scoreboard splits its skbs only at MSS multiples
		 * (tcp_match_skb_to_sack). */
		uint32_t run = sack_tx_unsacked_run(&f->tx_sack, f->snd_nxt, len);
		if (!nic->cfg.sack_whole_segments || run % f->mss == 0)
			len = run;
		bool with_fin = f->app_closed && f->snd_nxt + len == data_end;
		/* The linux-like profile: a burst of new data that the window
		 * ends (the next segment would not fit) ends with PSH, as the
		 * Linux TSO packet cut at the window does. */
		bool new_data = !seq_lt(f->snd_nxt, f->snd_max);
		bool burst_end = nic->cfg.psh_burst_end && new_data && f->burst_segs >= 1 && !probe &&
				 wnd - inflight - len < f->mss && len < remaining;
		struct dma_op meta = {.flow = fi, .gen = f->gen, .seq = f->snd_nxt, .len = len, .fin = with_fin,
				      .psh = reaches_push || with_fin || burst_end || (more_tail && f->more_probe_due)};
		if (!tx_burst_extend(a, &burst, meta.seq, len, meta.psh, meta.fin) && !tx_from_inline(nic, f, &meta)) {
			/* A new burst, after the one before it is posted. */
			uint32_t staging_off;
			if (tx_burst_post(nic, f, &burst) < 0)
				return TX_BLOCKED_RESOURCES;
			if (dma_sq_free(a) < 2) {
				nic->stats.dma_sq_full++;
				return TX_BLOCKED_RESOURCES;
			}
			if (dma_reserve(a, len, &staging_off) < 0)
				return TX_BLOCKED_RESOURCES;
			meta.seg_bytes = (uint16_t)len;
			burst = (struct tx_burst){
				.meta = meta,
				.staging_off = staging_off,
				.ring_pos = (uint32_t)(((uint64_t)f->tx_una_pos + (f->snd_nxt - f->snd_una)) % f->tx_ring_len),
				.open = true,
				.ended = meta.psh || meta.fin,
			};
			f->tx_inflight_reads++;
		}
		if (probe) {
			f->probe_due = false;
			nic->stats.zero_window_probes++;
		}
		if (seq_lt(f->snd_nxt, f->snd_max)) {
			nic->stats.tx_retransmits++;
			nic->stats.tx_retransmit_bytes += len;
		}
		if (new_data)
			f->burst_segs++;
		fp_prr_sent(f, len);
		f->snd_nxt += len;
		if (with_fin) {
			f->fin_seq = data_end;
			f->fin_alone = false;
			f->snd_nxt += 1;
			if (!f->fin_sent) {
				f->fin_sent = true;
				sp_fin_sent_state(nic, fi);
			}
		}
		if (seq_gt(f->snd_nxt, f->snd_max))
			f->snd_max = f->snd_nxt;
		if (f->rate_bps)
			f->next_tx_ns = (f->next_tx_ns > now ? f->next_tx_ns : now) + serialization_ns(len, f->rate_bps);
		sent_any = true;
		if (probe)
			break;
		if (f->tlp_new_data) {
			f->tlp_new_data = false;
			break;
		}
	}
	if (tx_burst_post(nic, f, &burst) < 0)
		return TX_BLOCKED_RESOURCES;
	f->tlp_new_data = false;
	f->tx_last_una = f->snd_una;
	f->more_probe_due = false;
	if (!held_more)
		f->more_deadline_ns = 0; /* nothing held for the probe */
	/* A FIN with no data to carry it goes alone, but only once every
	 * READ ahead of it has turned into a frame: a FIN overtaking the last
	 * data would arrive out of order. */
	if (f->app_closed && f->snd_nxt == data_end && f->tx_inflight_reads == 0 &&
	    (f->state == TCP_ESTABLISHED || f->state == TCP_CLOSE_WAIT || f->fin_sent)) {
		f->fin_seq = data_end;
		f->fin_alone = true;
		fp_send_ctrl(nic, fi, TCP_FIN | TCP_ACK, data_end);
		if (seq_lt(f->snd_nxt, f->snd_max))
			nic->stats.tx_retransmits++;
		f->snd_nxt = data_end + 1;
		if (seq_gt(f->snd_nxt, f->snd_max))
			f->snd_max = f->snd_nxt;
		if (!f->fin_sent) {
			f->fin_sent = true;
			sp_fin_sent_state(nic, fi);
		}
		sent_any = true;
	}
	f->push_held = false; /* what was queued when it was set has gone, or waits for the window */
	/* NextSeg rule 3: holes not yet known lost, when the window allows. */
	holes = fp_sack_send_holes(nic, fi, false);
	if (holes < 0)
		return TX_BLOCKED_RESOURCES;
	sent_any |= holes > 0;
	if (sent_any)
		sp_rto_restart(nic, fi);
ack_only:
	if (f->in_use && f->ack_now && f->state != TCP_SYN_SENT && f->state != TCP_CLOSED)
		fp_send_ack(nic, fi);
	return TX_DONE;
}

int fp_tx_run(struct nic *nic)
{
	int work = 0;
	/* Bounded by the list as it stands: a flow rescheduled during the
	 * pass waits for the next poll. */
	uint32_t pending = 0;
	for (uint32_t i = nic->tx_head; i != FLOW_NONE; i = nic->flows[i].tx_next)
		pending++;
	while (pending--) {
		uint32_t fi = tx_list_pop(nic);
		if (fi == FLOW_NONE)
			break;
		if (!nic->flows[fi].in_use)
			continue;
		if (nic->flows[fi].retired) {
			flow_free_if_retired(nic, fi);
			continue;
		}
		uint32_t before_frames = (uint32_t)nic->txq_count;
		uint32_t before_reads = nic->flows[fi].tx_inflight_reads;
		if (tx_flow(nic, fi) == TX_BLOCKED_RESOURCES) {
			/* Staging or the send queue is full: completions will
			 * free them; retry from the next poll. */
			fp_tx_schedule(nic, fi);
			work += (uint32_t)nic->txq_count != before_frames ||
				nic->flows[fi].tx_inflight_reads != before_reads;
			break;
		}
		work++;
	}
	return work;
}

void fp_tx_read_done(struct nic *nic, const struct dma_op *op)
{
	struct flow *f = &nic->flows[op->flow];
	if (!f->in_use || f->gen != op->gen)
		return;
	if (f->tx_inflight_reads)
		f->tx_inflight_reads--;
	if (!f->rings_attached || f->state == TCP_CLOSED)
		return;
	struct nic_app *a = &nic->apps[f->app];
	/* A burst's segments in order (tx_burst_extend), PSH and FIN only on
	 * its last. */
	uint32_t seg = op->seg_bytes ? op->seg_bytes : op->len;
	for (uint32_t off = 0; off < op->len; off += seg) {
		uint32_t n = op->len - off < seg ? op->len - off : seg;
		bool last = off + n == op->len;
		bool fin = last && op->fin;
		/* Acknowledged while the READ was in flight (a retransmission
		 * that crossed the original's ACK): nothing left to say. */
		if (seq_leq(op->seq + off + n + (fin ? 1 : 0), f->snd_una))
			continue;
		uint8_t flags = TCP_ACK | (last && op->psh ? TCP_PSH : 0) | (fin ? TCP_FIN : 0);
		if (fp_emit_tcp(nic, f, flags, op->seq + off, a->staging + op->staging_off + off, (uint16_t)n, false) == 0) {
			nic->stats.tx_segments++;
			nic->stats.tx_payload_bytes += n;
		}
	}
	if (f->tx_inflight_reads == 0 && f->app_closed)
		fp_tx_schedule(nic, op->flow);
}
