/*
 * fp_rx.c: the fast path's receive story. A frame is validated layer by
 * layer; a segment for an established flow without SYN or RST is handled
 * here (ACK, window, payload placement, ACK policy); everything else is
 * handed to the slow path by name (sp_segment, sp_fin_received).
 */
#include <assert.h>
#include <string.h>

#include "../bluetas.h"
#include "nic_internal.h"

static void rx_fast(struct nic *nic, uint32_t fi, const struct ipv4_view *ip, const struct tcp_view *tcp,
		    bool sw_verify);

/* Anything tcp4_parse_fast did not take, layer by layer: false when the
 * frame ends here (ARP, ICMP, not for us, malformed: each counted), true
 * with the views of a TCP segment for us. */
/* An ARP frame: arp.c decides, the fast path acts (the reply goes out,
 * the slow path wakes the connections a reply resolved). */
static void fp_rx_arp(struct nic *nic, const uint8_t *pkt, size_t len)
{
	struct arp_rx_result r;
	arp_rx(nic, pkt, len, &r);
	if (r.resolved_ip)
		sp_arp_resolved(nic, r.resolved_ip);
	if (r.reply.len && fp_emit_frame(nic, r.reply.bytes, r.reply.len) == 0)
		nic->stats.arp_replies_sent++;
}

static bool rx_layers(struct nic *nic, const uint8_t *frame, uint16_t len, uint16_t hw_flags, struct ipv4_view *ip,
		      struct tcp_view *tcp)
{
	struct eth_hdr_view eth;
	if (eth_parse(frame, len, &eth) < 0) {
		nic->stats.rx_bad_eth++;
		return false;
	}
	if (!eth_is_broadcast(eth.dst) && memcmp(eth.dst, nic->mac, ETH_ADDR_BYTES) != 0) {
		nic->stats.rx_not_for_us++;
		return false;
	}
	if (eth.ethertype == ETH_TYPE_ARP) {
		fp_rx_arp(nic, frame + ETH_HDR_BYTES, len - ETH_HDR_BYTES);
		return false;
	}
	if (eth.ethertype != ETH_TYPE_IPV4) {
		nic->stats.rx_not_for_us++;
		return false;
	}
	int rc = ipv4_parse_hw(frame + ETH_HDR_BYTES, len - ETH_HDR_BYTES, (hw_flags & NETIF_RX_IP_CSUM_GOOD) != 0, ip);
	if (rc < 0) {
		if (rc == PROTO_ECHECKSUM)
			nic->stats.rx_bad_csum++;
		else
			nic->stats.rx_bad_ip++;
		return false;
	}
	if (ip->dst == nic->cfg.ip && sp_icmp_rx(nic, ip))
		return false;
	if (ip->dst != nic->cfg.ip || ip->proto != IPV4_PROTO_TCP) {
		nic->stats.rx_not_for_us++;
		return false;
	}
	rc = tcp_parse(ip->payload, ip->payload_len, ip->src, ip->dst, false, tcp);
	if (rc < 0) {
		/* A bad sum goes before a bad option (tcp_parse's precedence). */
		bool sw_verify = (hw_flags & NETIF_RX_L4_CSUM_GOOD) == 0;
		nic->stats.rx_csum_hw_verified += !sw_verify;
		if (rc == PROTO_EOPTION && sw_verify && !tcp_csum_ok(ip->payload, ip->payload_len, ip->src, ip->dst))
			nic->stats.rx_bad_csum++;
		else
			nic->stats.rx_bad_tcp++;
		return false;
	}
	return true;
}

void fp_rx_frame(struct nic *nic, const uint8_t *frame, uint16_t len, uint16_t hw_flags)
{
	/* The common frame, TCP/IPv4 to us, in one pass; the rest layer by
	 * layer. */
	struct ipv4_view ip;
	struct tcp_view tcp;
	if (!tcp4_parse_fast(frame, len, nic->mac, nic->cfg.ip, (hw_flags & NETIF_RX_IP_CSUM_GOOD) != 0, &ip, &tcp) &&
	    !rx_layers(nic, frame, len, hw_flags, &ip, &tcp))
		return;
	/* The TCP checksum is verified below, once the flow is known: for
	 * the fast path in the pass that copies the payload to staging. */
	bool sw_verify = (hw_flags & NETIF_RX_L4_CSUM_GOOD) == 0;
	nic->stats.rx_csum_hw_verified += !sw_verify;
	uint32_t fi = flow_lookup(nic, ip.dst, tcp.dport, ip.src, tcp.sport);
	if (fi != FLOW_NONE && flow_state_synced(nic->flows[fi].state) && !(tcp.flags & (TCP_SYN | TCP_RST))) {
		rx_fast(nic, fi, &ip, &tcp, sw_verify);
		return;
	}
	if (sw_verify && !tcp_csum_ok(ip.payload, ip.payload_len, ip.src, ip.dst)) {
		nic->stats.rx_bad_csum++;
		return;
	}
	if (nic_slowpath_stalled(nic)) {
		nic->stats.sp_stall_drops++; /* its queue is not being served: the peer retries */
		return;
	}
	sp_segment(nic, fi, frame + ETH_ADDR_BYTES, &ip, &tcp);
}

/* The linux-like profile's PRR (fp_prr.c) after an ACK's scoreboard and
 * snd_una moved: what it delivered is the bytes it acknowledged or SACKed
 * anew (Linux's newly_acked_sacked); an episode that just ended leaves
 * cwnd at ssthresh (tcp_end_cwnd_reduction). */
static void prr_after_ack(struct nic *nic, struct flow *f, uint32_t una_before, uint32_t sacked_before,
			  bool was_in_recovery)
{
	if (was_in_recovery && !f->tx_sack.in_recovery) {
		f->cwnd = f->ssthresh;
		return;
	}
	uint32_t sacked_now = sack_tx_sacked_in(&f->tx_sack, f->snd_una, f->snd_max);
	int64_t delivered = (int64_t)(f->snd_una - una_before) + sacked_now - sacked_before;
	fp_prr_on_ack(nic, f, delivered > 0 ? (uint32_t)delivered : 0, f->snd_una != una_before);
}

/* Returns false when the segment must be dropped (it acknowledges data we
 * never sent). */
static bool process_ack(struct nic *nic, uint32_t fi, const struct tcp_view *tcp)
{
	struct flow *f = &nic->flows[fi];
	uint32_t ack = tcp->ack;
	if (seq_gt(ack, f->snd_max)) {
		nic->stats.rx_ack_unsent++;
		/* RFC 9293 3.10.7.4 and RFC 5961 5.2 answer with an ACK;
		 * Linux's tcp_ack discards silently (the linux-like profile). */
		if (!nic->cfg.ack_unsent_silent) {
			f->ack_now = true;
			fp_tx_schedule(nic, fi);
		}
		return false;
	}
	bool prr = nic->cfg.prr && f->sack_ok && nic->cfg.cc == NIC_CC_DCTCP;
	uint32_t wnd = (uint32_t)tcp->window << f->snd_wscale;
	if (ack == f->snd_una && wnd == f->snd_wnd && wnd != 0 && tcp->payload_len && !prr) {
		/* A receiver's common ACK: it moves neither snd_una nor the
		 * window and carries data (no duplicate). Below, only the
		 * scoreboard would act on it; the scoreboard changes neither. */
		if (fp_sack_tracks(nic, f))
			fp_sack_on_ack(nic, fi, tcp);
		return true;
	}
	/* The linux-like profile grows cwnd by what an ACK newly delivered:
	 * not by bytes SACKed before it (Linux's acked_sacked). */
	uint32_t sacked_before = nic->cfg.cc_skip_sacked && seq_gt(ack, f->snd_una)
					 ? sack_tx_sacked_in(&f->tx_sack, f->snd_una, ack) + fp_reno_sacked(nic, f)
					 : 0;
	uint32_t una_before = f->snd_una;
	uint32_t board_before = prr ? sack_tx_sacked_in(&f->tx_sack, f->snd_una, f->snd_max) : 0;
	bool was_in_recovery = f->tx_sack.in_recovery;
	if (fp_sack_tracks(nic, f))
		fp_sack_on_ack(nic, fi, tcp); /* scoreboard, RFC 6675 entry and exit */
	if (seq_gt(ack, f->snd_una)) {
		uint32_t acked = ack - f->snd_una;
		bool fin_acked = f->fin_sent && seq_geq(ack, f->fin_seq + 1);
		uint32_t data_acked = fin_acked ? acked - 1 : acked;
		if (data_acked > f->tx_queued)
			data_acked = f->tx_queued;
		f->snd_una = ack;
		if (seq_lt(f->snd_nxt, ack))
			f->snd_nxt = ack;
		f->tx_queued -= data_acked;
		if (f->tx_ring_len)
			f->tx_una_pos = (uint32_t)(((uint64_t)f->tx_una_pos + data_acked) % f->tx_ring_len);
		f->dupacks = 0;
		f->retries = 0;
		f->unacked_since_ns = 0; /* progress: the user timeout starts over */
		if (data_acked) {
			f->ev_tx_freed += data_acked;
			app_notify(nic, fi, 0, 0);
		}
		if (f->ts_ok && tcp->opts.has_ts && tcp->opts.ts_ecr != 0)
			sp_rtt_sample(nic, fi, nic_ts_rtt_us(nic, tcp->opts.ts_ecr));
		sp_cc_on_ack(nic, f, data_acked > sacked_before ? data_acked - sacked_before : 0,
			     (tcp->flags & TCP_ECE) != 0);
		f->snd_wnd = wnd;
		if (prr)
			prr_after_ack(nic, f, una_before, board_before, was_in_recovery);
		sp_rto_restart(nic, fi);
		if (fin_acked)
			sp_fin_acked(nic, fi);
		/* A slot the FIN's ACK freed must not join the transmit list:
		 * the next flow_alloc would clear its links while the list
		 * still points at it (a cycle: fp_tx_run would never end). */
		if (f->in_use)
			fp_tx_schedule(nic, fi);
		return true;
	}
	if (ack == f->snd_una) {
		bool is_dup = tcp->payload_len == 0 && !(tcp->flags & TCP_FIN) && wnd == f->snd_wnd &&
			      f->snd_max != f->snd_una;
		/* An ACK of a shut window answers a zero-window probe: the
		 * peer is alive, so the probe's timeouts must not add up to
		 * ETIMEDOUT (a peer may keep its window shut for long). */
		if (wnd == 0)
			f->retries = 0;
		if (is_dup && ++f->dupacks == 3 && (f->sack_ok || nic->cfg.newreno)) {
			fp_sack_recover(nic, fi); /* RFC 6675; without SACK, NewReno (fp_sack.c) */
		} else if (is_dup && f->dupacks == 3) {
			/* Without SACK: go-back-N from the last acknowledged byte, as TAS does:
			 * the receiver keeps one out-of-order interval, so
			 * resending the tail is what repairs it. */
			f->snd_nxt = f->snd_una;
			nic->stats.fast_retransmits++;
			sp_cc_on_fast_retransmit(nic, f);
			fp_tx_schedule(nic, fi);
		} else if (is_dup && !f->sack_ok && nic->cfg.newreno) {
			fp_tx_schedule(nic, fi); /* limited transmit, recovery's inflation (fp_tx.c) */
		}
		if (prr)
			prr_after_ack(nic, f, una_before, board_before, was_in_recovery);
		if (wnd != f->snd_wnd) {
			/* The window reopens without covering our probe byte:
			 * the peer dropped it beyond the shut window, so it
			 * goes again, first. */
			if (f->snd_wnd == 0)
				f->snd_nxt = f->snd_una;
			f->snd_wnd = wnd;
			fp_tx_schedule(nic, fi);
			sp_timer_update(nic, fi);
		}
	} else if (prr) {
		/* Below snd_una (reordered): its SACK blocks still count. */
		prr_after_ack(nic, f, una_before, board_before, was_in_recovery);
	}
	return true;
}

/* Inline: once per in-order segment. The division only where the ring
 * wraps. */
static inline void rx_advance(struct nic *nic, uint32_t fi, uint32_t bytes)
{
	struct flow *f = &nic->flows[fi];
	f->rcv_nxt += bytes;
	uint64_t pos = (uint64_t)f->rx_pos + bytes;
	f->rx_pos = (uint32_t)(pos < f->rx_ring_len ? pos : pos % f->rx_ring_len);
	f->rx_avail -= bytes;
	f->ev_rx_bytes += bytes;
	app_notify(nic, fi, 0, 0);
	if (nic->hops)
		nic_hop_frame_in(nic, fi);
}

static void note_dsack(struct flow *f, const struct sack_interval *dup)
{
	if (!f->sack_ok)
		return;
	f->dsack = *dup;
	f->dsack_owed = true;
	f->ack_now = true;
}

/* After `len` new bytes in order: ACK now, at once at the end of the
 * batch, or arm the delayed-ACK bound. Inline: once per in-order segment. */
static inline void ack_policy(struct nic *nic, uint32_t fi, uint32_t len)
{
	struct flow *f = &nic->flows[fi];
	f->rx_unacked_bytes += len;
	/* FreeBSD ACKs the second segment while an ACK is delayed, whatever
	 * their sizes (the freebsd-like profile); RFC 1122 counts full
	 * segments, as the bytes below do. */
	bool second_segment = nic->cfg.ack_second_segment && f->delack_deadline_ns != 0;
	if (f->rx_unacked_bytes >= 2u * f->mss || second_segment) {
		/* At least every second full segment (RFC 1122 4.2.3.2), now:
		 * waiting for the end of the receive burst would ACK once per
		 * burst and starve the sender's ACK clock. */
		fp_send_ack(nic, fi);
	} else if (nic->cfg.delayed_ack_ns == 0 || f->ce_seen || f->quickacks_left) {
		if (f->quickacks_left)
			f->quickacks_left--; /* Linux's quick-ACK mode at the start of a connection */
		f->ack_now = true;
	} else if (f->delack_deadline_ns == 0) {
		f->delack_deadline_ns = nic_now(nic) + nic->cfg.delayed_ack_ns;
		sp_timer_update(nic, fi);
	}
}

/* The common segment of a bulk receive: the next bytes expected, nothing
 * held out of order, all in the window, the flow open for data, the
 * payload staged by the checksum pass. place_payload's steps for exactly
 * this case, without its tests for the others: no D-SACK, no trimming, no
 * interval, one write at the ring's head (dma_rx_write). Inline: the
 * receive path's per-segment work, its two callers the fast branches. */
static inline void place_in_order(struct nic *nic, uint32_t fi, const struct tcp_view *tcp, struct rx_stage *st)
{
	struct flow *f = &nic->flows[fi];
	uint32_t len = tcp->payload_len;
	if (dma_sq_free(&nic->apps[f->app]) < 2) {
		nic->stats.dma_staging_full++;
		return;
	}
	if (dma_rx_write(nic, fi, st->off + st->hdr, len) < 0)
		return;
	st->posted = true;
	nic->stats.rx_payload_bytes += len;
	rx_advance(nic, fi, len);
	ack_policy(nic, fi, len);
}

static void place_payload(struct nic *nic, uint32_t fi, const struct tcp_view *tcp, struct rx_stage *st)
{
	struct flow *f = &nic->flows[fi];
	uint32_t seq = tcp->seq;
	uint32_t len = tcp->payload_len;
	const uint8_t *data = tcp->payload;
	if (st->staged && seq == f->rcv_nxt && len <= f->rx_avail && f->rx_ooo.count == 0 && flow_takes_data(f) &&
	    !(nic->cfg.inject_bugs & NIC_BUG_RX_FIRST_SEGMENT_ONLY)) {
		place_in_order(nic, fi, tcp, st);
		return;
	}

	/* RFC 2883: the duplicate part of a segment goes first in the next
	 * ACK's SACK blocks, and that ACK goes at once (the sender learns
	 * its retransmission was spurious): below rcv_nxt, else the lowest
	 * part already held out of order. */
	struct sack_interval dup_range;
	if (seq_lt(seq, f->rcv_nxt)) {
		dup_range = (struct sack_interval){seq, seq_lt(seq + len, f->rcv_nxt) ? seq + len : f->rcv_nxt};
		note_dsack(f, &dup_range);
	} else if (f->rx_ooo.count && sack_rx_first_overlap(&f->rx_ooo, seq, seq + len, &dup_range)) {
		note_dsack(f, &dup_range);
	}
	if (seq_lt(seq, f->rcv_nxt)) {
		uint32_t dup = f->rcv_nxt - seq;
		if (dup >= len) {
			/* A retransmission of what we have: re-ACK it, whatever
			 * the application has done since. */
			nic->stats.rx_duplicate++;
			f->ack_now = true;
			return;
		}
		seq += dup;
		data += dup;
		len -= dup;
	}
	if (f->fin_received) {
		f->ack_now = true;
		return;
	}
	if (f->app_gone || !f->rings_attached) {
		/* New bytes nobody will ever read: tell the peer (RFC 1122
		 * 4.2.2.13). The reset answers this segment, at its ACK and
		 * without one, as Linux (tcp_v4_send_reset) and FreeBSD
		 * (tcp_dropwithreset) send it (user_timeout). */
		struct ipv4_view ip = {.src = f->remote_ip, .dst = f->local_ip};
		uint8_t mac[6];
		memcpy(mac, f->remote_mac, sizeof(mac));
		sp_flow_abort(nic, fi, BT_ECONNRESET, false);
		fp_send_rst_reply(nic, mac, &ip, tcp);
		return;
	}
	uint32_t offset = seq - f->rcv_nxt;
	if (offset >= f->rx_avail) {
		/* Includes every zero-window probe: the ACK we send back
		 * carries the current window, which is what unblocks a
		 * sender facing a window that has reopened. */
		nic->stats.rx_out_of_window++;
		f->ack_now = true;
		return;
	}
	if (len > f->rx_avail - offset)
		len = f->rx_avail - offset;

	/* Out of order: held only in one of the flow's intervals (sack.h);
	 * a segment needing one more is dropped before any DMA is spent. */
	struct sack_rx saved_ooo; /* only out of order: in order, nothing changes it before the post */
	if (offset > 0) {
		saved_ooo = f->rx_ooo;
		if (!sack_rx_add(&f->rx_ooo, seq, seq + len)) {
			nic->stats.rx_ooo_dropped++;
			fp_send_ack(nic, fi); /* a duplicate ACK per segment, see below */
			return;
		}
	}
	struct nic_app *a = &nic->apps[f->app];
	uint32_t staging_off = st->off + st->hdr + (uint32_t)(data - tcp->payload); /* staged: copied already */
	if (dma_sq_free(a) < 2 || (!st->staged && dma_reserve(a, len, &staging_off) < 0)) {
		nic->stats.dma_staging_full++;
		if (offset > 0)
			f->rx_ooo = saved_ooo;
		return;
	}
	if (!st->staged)
		memcpy(a->staging + staging_off, data, len);
	struct dma_op meta = {.flow = fi, .gen = f->gen, .seq = seq, .len = len};
	uint32_t ring_pos = (uint32_t)(((uint64_t)f->rx_pos + offset) % f->rx_ring_len);
	if (offset == 0 && (nic->cfg.inject_bugs & NIC_BUG_RX_FIRST_SEGMENT_ONLY)) {
		/* Negative control, the BlueTAS RX bug: every update points at
		 * the unread head, so a second segment lands on the first. */
		ring_pos = (uint32_t)(((uint64_t)f->rx_pos + f->rx_avail) % f->rx_ring_len);
	}
	if (dma_ring_post(nic, f->app, DMA_RX_WRITE, false, staging_off, f->rx_ring_off, f->rx_ring_len, ring_pos,
			  len, &meta) < 0) {
		if (offset > 0)
			f->rx_ooo = saved_ooo;
		return;
	}
	st->posted = true;
	nic->stats.rx_payload_bytes += len;

	if (offset > 0) {
		nic->stats.rx_ooo_segments++;
		/* The duplicate ACK drives the sender's fast retransmit, which
		 * counts them: one per segment, now (RFC 5681 4.2). ack_now
		 * would fold a burst received in one batch into one ACK and
		 * leave the repair to the RTO. */
		fp_send_ack(nic, fi);
		return;
	}
	rx_advance(nic, fi, len);
	uint8_t ooo_held = f->rx_ooo.count;
	uint32_t in_order_end = ooo_held ? sack_rx_take_in_order(&f->rx_ooo, f->rcv_nxt) : f->rcv_nxt;
	if (in_order_end != f->rcv_nxt)
		rx_advance(nic, fi, in_order_end - f->rcv_nxt); /* reached held intervals: in order now */
	if (ooo_held) {
		/* A segment that fills all or part of a gap is ACKed at once
		 * (RFC 5681 4.2): the sender learns what the hole still
		 * lacks, or that it is closed, without a delayed-ACK wait. */
		f->ack_now = true;
	}
	ack_policy(nic, fi, len);
}

static void established(struct nic *nic, uint32_t fi, const struct ipv4_view *ip, const struct tcp_view *tcp,
			struct rx_stage *st)
{
	struct flow *f = &nic->flows[fi];
	if (!(tcp->flags & TCP_ACK))
		return; /* RFC 793: in synchronized states a segment without ACK is dropped */
	f->last_rx_ns = nic_now(nic); /* the peer is alive: keepalive's idle time starts over */

	if (f->ecn_ok && (ip->tos & IPV4_ECN_MASK) == IPV4_ECN_CE) {
		f->ce_seen = true;
		nic->stats.ecn_ce_received++;
	}
	/* ACK processing may end the flow (our FIN acked in LAST_ACK): the
	 * slot is then retired, or already free. It cannot hold another flow
	 * yet: only passive_open and sp_cmd_connect allocate a slot, neither
	 * runs inside process_ack, and a retired slot is freed only once its
	 * RELEASED event is out (tests/unit/test_flow_reuse.c). The
	 * assertion keeps that premise checked. */
	uint32_t gen_before = f->gen;
	if (!process_ack(nic, fi, tcp))
		return;
	assert(f->gen == gen_before);
	(void)gen_before;
	if (!f->in_use || f->retired)
		return;
	/* Acceptability (RFC 793 3.3): a segment wholly left of rcv_nxt is a
	 * duplicate; it still carries a useful ACK, so ACK processing runs,
	 * but its timestamp must not move ts_recent backwards. Only once its
	 * ACK passed: a blind segment acknowledging unsent data with a huge
	 * TSval would otherwise set what we echo from then on (Linux
	 * updates it after its ACK check too; ts_recent/invalid_ack). */
	if (f->ts_ok && tcp->opts.has_ts && seq_leq(tcp->seq, f->rcv_nxt) &&
	    (int32_t)(tcp->opts.ts_val - f->ts_recent) >= 0)
		f->ts_recent = tcp->opts.ts_val;
	if (tcp->payload_len)
		place_payload(nic, fi, tcp, st);
	else if (seq_lt(tcp->seq, f->rcv_nxt) && !(tcp->flags & TCP_FIN))
		/* Unacceptable: answered with an ACK (RFC 9293 3.10.7.4).
		 * This is how Linux probes a zero window and keeps a
		 * connection alive (no data at snd_una - 1); unanswered, it
		 * never learns of a window update that was lost. */
		f->ack_now = true;
	if (!f->in_use)
		return;
	if ((tcp->flags & TCP_FIN) && !f->fin_received) {
		uint32_t fin_seq = tcp->seq + tcp->payload_len;
		if (fin_seq == f->rcv_nxt || (seq_gt(fin_seq, f->rcv_nxt) && fin_seq - f->rcv_nxt <= f->rx_avail)) {
			/* Beyond a gap it is kept, like the data before it, and
			 * taken once the gap is filled (RFC 9293 3.10.7.4: a
			 * FIN is processed in sequence); the ACK asks for the gap. */
			f->fin_held = true;
			f->fin_held_seq = fin_seq;
		}
		/* Data with it already had its ACK (a duplicate, out of order). */
		if (fin_seq != f->rcv_nxt && tcp->payload_len == 0)
			f->ack_now = true;
	}
	/* A FIN in sequence, or one held beyond a gap just filled. */
	if (f->fin_held && !f->fin_received && f->fin_held_seq == f->rcv_nxt) {
		f->fin_held = false;
		sp_fin_received(nic, fi);
	}
	if (f->in_use && f->ack_now)
		fp_tx_schedule(nic, fi);
}

void fp_rx_established(struct nic *nic, uint32_t fi, const struct ipv4_view *ip, const struct tcp_view *tcp)
{
	struct rx_stage none = {0};
	established(nic, fi, ip, tcp, &none);
}

/* Whether a staged segment is the common one of a bulk receive, for
 * which rx_in_order does all established() would: an ACK that moves
 * nothing (neither snd_una nor the window; no PRR; it carries data, so it
 * is no duplicate), the next bytes expected, nothing held out of order or
 * beyond a gap, all in the window, no FIN. Staged means payload to take. */
static bool in_order_common(const struct nic *nic, const struct flow *f, const struct tcp_view *tcp)
{
	uint32_t wnd = (uint32_t)tcp->window << f->snd_wscale;
	return (tcp->flags & (TCP_ACK | TCP_FIN)) == TCP_ACK && tcp->ack == f->snd_una && wnd == f->snd_wnd &&
	       wnd != 0 && tcp->seq == f->rcv_nxt && tcp->payload_len <= f->rx_avail && f->rx_ooo.count == 0 &&
	       !f->fin_held && f->in_use && !f->retired && flow_takes_data(f) &&
	       !(nic->cfg.prr && f->sack_ok && nic->cfg.cc == NIC_CC_DCTCP) &&
	       !(nic->cfg.inject_bugs & NIC_BUG_RX_FIRST_SEGMENT_ONLY);
}

/* established() for a segment in_order_common accepts, step for step
 * without the tests whose outcome it fixed: liveness and ECN, the
 * scoreboard (all process_ack does with such an ACK), the timestamp
 * (seq == rcv_nxt), the payload at the ring's head, the ACK if owed. */
static void rx_in_order(struct nic *nic, uint32_t fi, const struct ipv4_view *ip, const struct tcp_view *tcp,
			struct rx_stage *st)
{
	struct flow *f = &nic->flows[fi];
	f->last_rx_ns = nic_now(nic);
	if (f->ecn_ok && (ip->tos & IPV4_ECN_MASK) == IPV4_ECN_CE) {
		f->ce_seen = true;
		nic->stats.ecn_ce_received++;
	}
	if (fp_sack_tracks(nic, f))
		fp_sack_on_ack(nic, fi, tcp);
	if (f->ts_ok && tcp->opts.has_ts && (int32_t)(tcp->opts.ts_val - f->ts_recent) >= 0)
		f->ts_recent = tcp->opts.ts_val;
	place_in_order(nic, fi, tcp, st);
	if (f->in_use && f->ack_now)
		fp_tx_schedule(nic, fi);
}

/* The checksum first (a segment that fails it is dropped before any of
 * it is acted on), its payload staged on the way (fp_rx_stage.c). */
static void rx_fast(struct nic *nic, uint32_t fi, const struct ipv4_view *ip, const struct tcp_view *tcp,
		    bool sw_verify)
{
	struct rx_stage st = {0};
	if (sw_verify && !fp_rx_verify_stage(nic, fi, ip, tcp, &st)) {
		nic->stats.rx_bad_csum++;
		return;
	}
	if (st.staged && in_order_common(nic, &nic->flows[fi], tcp))
		rx_in_order(nic, fi, ip, tcp, &st);
	else
		established(nic, fi, ip, tcp, &st);
	fp_rx_unstage(nic, &st);
}

void fp_host_rx_freed(struct nic *nic, uint32_t fi, uint32_t bytes)
{
	struct flow *f = &nic->flows[fi];
	uint32_t old_edge = f->adv_wnd_edge;
	f->rx_avail += bytes;
	/* A pure window update only when the peer may be held back by the
	 * window it knows: that window is at most half the ring and the new
	 * one at least twice as large (as Linux decides), and the edge moves
	 * by at least min(MSS, half the ring) (receiver silly window
	 * avoidance, RFC 1122 4.2.3.3). Otherwise the next ACK, every second
	 * segment or at the delayed-ACK bound, carries the new window: a
	 * reader freeing its ring segment by segment costs no extra ACKs. */
	/* The window field caps what can be told (64 KiB unscaled): a
	 * ring freed beyond it moves no edge, and an ACK would say nothing
	 * new (ioctl-siocinq-fin, a peer without window scaling). */
	uint32_t new_edge = f->rcv_nxt + (fp_window_to_advertise(f) << f->rcv_wscale);
	uint32_t threshold = f->rx_ring_len / 2 < f->mss ? f->rx_ring_len / 2 : f->mss;
	uint32_t peer_wnd = seq_gt(old_edge, f->rcv_nxt) ? old_edge - f->rcv_nxt : 0;
	bool peer_held_back = peer_wnd <= f->rx_ring_len / 2 && f->rx_avail >= 2 * (uint64_t)peer_wnd;
	if (seq_geq(new_edge, old_edge + threshold) && peer_held_back) {
		f->ack_now = true;
		fp_tx_schedule(nic, fi);
	}
}
