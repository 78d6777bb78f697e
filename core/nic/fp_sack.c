/*
 * fp_sack.c: the fast path's SACK glue (RFC 2018, RFC 6675). Puts the
 * receiver's out-of-order intervals on outgoing segments, takes the
 * blocks of incoming ACKs into the scoreboard, begins and ends loss
 * recovery episodes, and resends holes. The scoreboard arithmetic is
 * sack.c's; this file owns the flow, the counters and the READs.
 *
 * Without SACK negotiated every function here is a no-op and the flow
 * recovers as TAS does: go-back-N on three duplicate ACKs (fp_rx.c).
 */
#include "nic_internal.h"

/* A bound no real episode reaches (4096 segments are 6 MB at MSS 1448);
 * each resend moves HighRxt forward, so the loop ends anyway. */
#define HOLES_PER_RUN_MAX 4096u

void fp_sack_opts(struct nic *nic, const struct flow *f, struct tcp_opts *opts, bool syn, bool offer)
{
	if (syn) {
		/* Our SYN offers when configured; a SYN-ACK only answers an offer. */
		opts->sack_permitted = offer ? nic->cfg.sack : f->sack_ok;
		return;
	}
	if (!f->sack_ok)
		return;
	uint8_t room = opts->has_ts ? TCP_SACK_MAX_BLOCKS - 1 : TCP_SACK_MAX_BLOCKS;
	uint8_t first = 0;
	if (f->dsack_owed) {
		/* RFC 2883: a duplicate range first, then the usual blocks. */
		opts->sack[0].start = f->dsack.start;
		opts->sack[0].end = f->dsack.end;
		first = 1;
	}
	opts->sack_count = first + sack_rx_blocks(&f->rx_ooo, opts->sack + first, room - first);
	nic->stats.tx_sack_blocks += opts->sack_count;
}

/* Early retransmit (RFC 5827, SACK-based): nothing unsent is left to
 * bring more duplicate ACKs, fewer than four segments are out, and all
 * of them but at most one segment at `una` is SACKed: that one is lost,
 * DupThresh or not. (A 4 KiB response's first segment lost used to wait
 * for the RTO; docs/benchmarks.md, "Tail losses".) */
static bool small_flight_lost(const struct nic *nic, const struct flow *f, uint32_t una)
{
	const struct sack_tx *t = &f->tx_sack;
	if (!nic->cfg.early_retransmit || !f->sack_ok || t->in_recovery || t->hold_after_rto || !t->count)
		return false;
	if (f->rings_attached && seq_gt(f->snd_una + f->tx_queued, f->snd_max))
		return false; /* new data will go, and its ACKs count */
	uint32_t out = f->snd_max - una;
	if (out >= 4u * f->mss || !seq_lt(una, t->iv[0].start))
		return false;
	return sack_tx_sacked_in(t, una, f->snd_max) + f->mss >= out;
}

/* Begins an episode when the first unacknowledged byte, `una` (the ACK
 * being processed may not have moved snd_una yet), is lost. */
static void recover_at(struct nic *nic, uint32_t fi, uint32_t una)
{
	struct flow *f = &nic->flows[fi];
	if (!sack_tx_should_recover(&f->tx_sack, una, f->dupacks, f->mss)) {
		if (!small_flight_lost(nic, f, una))
			return;
		nic->stats.early_retransmits++;
	}
	sack_tx_enter(&f->tx_sack, una, f->snd_max);
	f->tx_sack.all_holes_lost = nic->cfg.prr;
	nic->stats.sack_recoveries++;
	nic->stats.fast_retransmits++;
	sp_cc_on_fast_retransmit(nic, f);
	fp_prr_enter(nic, f);
	fp_tx_schedule(nic, fi);
}

void fp_sack_recover(struct nic *nic, uint32_t fi)
{
	recover_at(nic, fi, nic->flows[fi].snd_una);
}

uint32_t fp_reno_sacked(const struct nic *nic, const struct flow *f)
{
	if (f->sack_ok || !nic->cfg.newreno || !f->mss)
		return 0;
	/* Linux's tcp_limit_reno_sacked: one segment at least stays a hole. */
	uint32_t segs = (f->snd_max - f->snd_una) / f->mss;
	uint32_t dups = f->dupacks < segs ? f->dupacks : (segs ? segs - 1 : 0);
	return dups * (uint32_t)f->mss;
}

/* Under nic_config.prr (Linux's RACK in recovery): a resend is lost when
 * bytes resent after it were newly SACKed while it was not, and at least
 * an SRTT has passed since the last resend (sooner, the SACK may answer
 * the original transmission: Linux asks for its minimum RTT).
 * `resent_sacked` is what the board held SACKed below HighRxt before the
 * ACK. */
static bool lost_resend(const struct nic *nic, const struct flow *f, uint32_t una, uint32_t resent_sacked)
{
	const struct sack_tx *t = &f->tx_sack;
	if (!nic->cfg.prr || !t->in_recovery || !t->all_holes_lost || !t->count || !f->srtt_us)
		return false;
	if (!seq_lt(una, t->iv[0].start) || !seq_lt(t->iv[0].start, t->high_rxt))
		return false; /* no resent hole below a resent SACKed byte */
	if (sack_tx_sacked_in(t, una, t->high_rxt) <= resent_sacked)
		return false;
	return nic_now(nic) - f->last_hole_rtx_ns >= (uint64_t)f->srtt_us * 1000u;
}

/* Called for every acceptable ACK before the fast path acts on it. */
void fp_sack_on_ack(struct nic *nic, uint32_t fi, const struct tcp_view *tcp)
{
	struct flow *f = &nic->flows[fi];
	if (!fp_sack_tracks(nic, f))
		return;
	uint32_t una = seq_gt(tcp->ack, f->snd_una) ? tcp->ack : f->snd_una;
	struct sack_tx_events ev;
	/* Without SACK (NewReno, RFC 6582) the episode is the same, with an
	 * empty board: blocks a peer sends unasked are not taken. */
	static const struct tcp_opts no_blocks;
	uint32_t resent_sacked = sack_tx_sacked_in(&f->tx_sack, una, f->tx_sack.high_rxt);
	sack_tx_on_ack(&f->tx_sack, una, f->snd_max, f->sack_ok ? &tcp->opts : &no_blocks, &ev);
	if (lost_resend(nic, f, una, resent_sacked)) {
		/* Every hole goes again from the first (RACK, RFC 8985 6.2). */
		f->tx_sack.high_rxt = una;
		nic->stats.sack_rtx_lost++;
	}
	if (!f->sack_ok && f->tx_sack.in_recovery && seq_gt(tcp->ack, f->snd_una)) {
		/* A partial ACK: the new first unacknowledged segment goes
		 * at once (RFC 6582 3.2 step 5). */
		f->tx_sack.first_rtx_due = true;
	}
	nic->stats.rx_sack_blocks += ev.taken;
	nic->stats.rx_sack_ignored += ev.ignored;
	nic->stats.sack_rtx_lost += ev.head_rtx_lost;
	/* RFC 6675 enters on duplicate ACKs; the SACKed bytes above the
	 * first hole say it is lost sooner than three of them when the
	 * peer's window moved (not a duplicate by RFC 5681's definition).
	 * An ACK that SACKs new data counts "regardless of its status as a
	 * cumulative acknowledgment" (RFC 6675 section 5, step 2), so one
	 * that also moves snd_una starts recovery too when the new first
	 * byte is lost (sack-route-refresh-ip-tos). */
	if (f->tx_sack.count && (tcp->ack == f->snd_una || (seq_gt(tcp->ack, f->snd_una) && ev.taken)))
		recover_at(nic, fi, una);
	if (f->tx_sack.count || f->tx_sack.in_recovery)
		fp_tx_schedule(nic, fi); /* the pipe shrank: room to send */
}

/* A READ of [seq, seq + len) of the TX ring; the frame goes out when it
 * completes (fp_tx_read_done), as for any segment. */
static int post_resend(struct nic *nic, uint32_t fi, uint32_t seq, uint32_t len, bool psh)
{
	struct flow *f = &nic->flows[fi];
	struct nic_app *a = &nic->apps[f->app];
	uint32_t staging_off;
	if (dma_sq_free(a) < 2) {
		nic->stats.dma_sq_full++;
		return -1;
	}
	if (dma_reserve(a, len, &staging_off) < 0)
		return -1;
	struct dma_op meta = {.flow = fi, .gen = f->gen, .seq = seq, .len = len, .psh = psh};
	uint32_t ring_pos = (uint32_t)(((uint64_t)f->tx_una_pos + (seq - f->snd_una)) % f->tx_ring_len);
	if (dma_ring_post(nic, f->app, DMA_TX_READ, true, staging_off, f->tx_ring_off, f->tx_ring_len, ring_pos, len,
			  &meta) < 0)
		return -1;
	f->tx_inflight_reads++;
	return 0;
}

int fp_resend_range(struct nic *nic, uint32_t fi, uint32_t seq, uint32_t len, bool psh)
{
	if (post_resend(nic, fi, seq, len, psh) < 0)
		return -1;
	nic->stats.tx_retransmits++;
	nic->stats.tx_retransmit_bytes += len;
	return 0;
}

/* Whether the resend of [seq, seq + len) is the last hole: none would
 * follow it, whatever cwnd allows (the linux-like profile marks it with
 * PSH, nic_config.psh_burst_end: sack-route-refresh-ip-tos shows it; a
 * run that cwnd cuts before the last hole has none,
 * prr-ss-ack-below-snd_una-cubic). Asked of a copy of the board. */
static bool last_resend(const struct flow *f, uint32_t seq, uint32_t len, bool lost_only)
{
	struct sack_tx after = f->tx_sack;
	sack_tx_hole_sent(&after, seq, len, f->snd_una, f->snd_max);
	uint32_t next_seq, next_len;
	return !sack_tx_next_hole(&after, f->snd_una, f->snd_una + f->tx_queued, f->mss, lost_only, &next_seq,
				  &next_len);
}

/* RFC 6675 NextSeg rule 1 (lost_only) or rule 3, while cwnd - pipe >= 1
 * MSS (the first resend of an episode goes regardless, step 4.3).
 * Returns the segments sent, or -1 when DMA resources ran out. */
int fp_sack_send_holes(struct nic *nic, uint32_t fi, bool lost_only)
{
	struct flow *f = &nic->flows[fi];
	struct sack_tx *t = &f->tx_sack;
	uint32_t data_end = f->snd_una + f->tx_queued;
	int sent = 0;
	for (uint32_t n = 0; n < HOLES_PER_RUN_MAX && t->in_recovery; n++) {
		uint32_t seq, len;
		if (!sack_tx_next_hole(t, f->snd_una, data_end, f->mss, lost_only, &seq, &len))
			break;
		if (!t->first_rtx_due && sack_tx_pipe(t, f->snd_una, f->snd_nxt, f->mss) + f->mss > f->cwnd)
			break;
		bool psh = nic->cfg.psh_burst_end && sent > 0 && last_resend(f, seq, len, lost_only);
		if (post_resend(nic, fi, seq, len, psh) < 0)
			return -1;
		sack_tx_hole_sent(t, seq, len, f->snd_una, f->snd_max);
		fp_prr_sent(f, len);
		f->last_hole_rtx_ns = nic_now(nic);
		nic->stats.sack_hole_retransmits++;
		nic->stats.tx_retransmits++;
		nic->stats.tx_retransmit_bytes += len;
		sent++;
	}
	return sent;
}
