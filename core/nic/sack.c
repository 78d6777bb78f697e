/*
 * sack.c: the receiver's out-of-order intervals and the sender's SACK
 * scoreboard (contract and sizes in sack.h). Every loop runs over at most
 * SACK_TX_INTERVALS + 1 entries.
 */
#include <string.h>

#include "sack.h"

static uint32_t seq_min(uint32_t a, uint32_t b) { return seq_lt(a, b) ? a : b; }
static uint32_t seq_max(uint32_t a, uint32_t b) { return seq_gt(a, b) ? a : b; }

/* Disjoint and not adjacent: the two cannot be one interval. */
static bool apart(uint32_t s1, uint32_t e1, uint32_t s2, uint32_t e2)
{
	return seq_lt(e1, s2) || seq_lt(e2, s1);
}

/* ---- receiver ---- */

bool sack_rx_add(struct sack_rx *r, uint32_t seq, uint32_t end)
{
	struct sack_interval kept[SACK_RX_INTERVALS];
	uint8_t nkept = 0;
	uint32_t s = seq, e = end;
	for (uint8_t i = 0; i < r->count; i++) {
		const struct sack_interval *iv = &r->iv[i];
		if (apart(iv->start, iv->end, s, e)) {
			kept[nkept++] = *iv;
			continue;
		}
		s = seq_min(s, iv->start);
		e = seq_max(e, iv->end);
	}
	if (nkept == SACK_RX_INTERVALS)
		return false; /* it touches none and there is no room */
	r->iv[0] = (struct sack_interval){s, e};
	memcpy(&r->iv[1], kept, nkept * sizeof(kept[0]));
	r->count = (uint8_t)(nkept + 1);
	return true;
}

uint32_t sack_rx_take_in_order(struct sack_rx *r, uint32_t rcv_nxt)
{
	uint8_t i = 0;
	while (i < r->count) {
		if (seq_gt(r->iv[i].start, rcv_nxt)) {
			i++;
			continue;
		}
		rcv_nxt = seq_max(rcv_nxt, r->iv[i].end);
		memmove(&r->iv[i], &r->iv[i + 1], (size_t)(r->count - i - 1) * sizeof(r->iv[0]));
		r->count--;
		i = 0; /* the new rcv_nxt may reach one passed over */
	}
	return rcv_nxt;
}

uint8_t sack_rx_blocks(const struct sack_rx *r, struct tcp_sack_block *out, uint8_t max)
{
	uint8_t n = r->count < max ? r->count : max;
	for (uint8_t i = 0; i < n; i++) {
		out[i].start = r->iv[i].start;
		out[i].end = r->iv[i].end;
	}
	return n;
}

bool sack_rx_first_overlap(const struct sack_rx *r, uint32_t seq, uint32_t end, struct sack_interval *out)
{
	bool found = false;
	for (uint8_t i = 0; i < r->count; i++) {
		uint32_t s = seq_max(seq, r->iv[i].start), e = seq_min(end, r->iv[i].end);
		if (!seq_lt(s, e))
			continue;
		if (!found || seq_lt(s, out->start)) {
			out->start = s;
			out->end = e;
			found = true;
		}
	}
	return found;
}

/* ---- sender ---- */

static void tx_trim(struct sack_tx *t, uint32_t snd_una)
{
	uint8_t n = 0;
	for (uint8_t i = 0; i < t->count; i++) {
		if (seq_leq(t->iv[i].end, snd_una))
			continue;
		t->iv[n] = t->iv[i];
		t->iv[n].start = seq_max(t->iv[n].start, snd_una);
		n++;
	}
	t->count = n;
}

/* Merges [s, e) in, keeping the board sorted; a full board forgets its
 * highest interval (see sack.h). */
static void tx_insert(struct sack_tx *t, uint32_t s, uint32_t e)
{
	struct sack_interval out[SACK_TX_INTERVALS + 1];
	uint8_t n = 0;
	bool placed = false;
	for (uint8_t i = 0; i < t->count; i++) {
		const struct sack_interval *iv = &t->iv[i];
		if (!apart(iv->start, iv->end, s, e)) {
			s = seq_min(s, iv->start);
			e = seq_max(e, iv->end);
			continue;
		}
		if (!placed && seq_lt(e, iv->start)) {
			out[n++] = (struct sack_interval){s, e};
			placed = true;
		}
		out[n++] = *iv;
	}
	if (!placed)
		out[n++] = (struct sack_interval){s, e};
	if (n > SACK_TX_INTERVALS)
		n = SACK_TX_INTERVALS;
	memcpy(t->iv, out, n * sizeof(out[0]));
	t->count = n;
}

/* The cumulative ACK moved to snd_una. */
static void tx_cum_ack(struct sack_tx *t, uint32_t snd_una, uint32_t snd_max)
{
	tx_trim(t, snd_una);
	if (t->in_recovery && t->head_rtx_seq != snd_una) {
		/* A new head: if it was resent, it was before now. */
		t->head_mark_valid = t->in_recovery && seq_lt(snd_una, t->high_rxt);
		t->head_rtx_seq = snd_una;
		t->head_rtx_mark = snd_max;
	}
	if (seq_lt(t->high_rxt, snd_una))
		t->high_rxt = snd_una;
	if (!seq_geq(snd_una, t->recovery_point))
		return;
	t->hold_after_rto = false;
	t->in_recovery = false;
	t->first_rtx_due = false;
	t->head_mark_valid = false;
}

void sack_tx_on_ack(struct sack_tx *t, uint32_t snd_una, uint32_t snd_max, const struct tcp_opts *o,
		    struct sack_tx_events *ev)
{
	*ev = (struct sack_tx_events){0};
	tx_cum_ack(t, snd_una, snd_max);
	for (uint8_t b = 0; b < o->sack_count && b < TCP_SACK_MAX_BLOCKS; b++) {
		uint32_t s = o->sack[b].start, e = o->sack[b].end;
		if (!seq_lt(s, e) || seq_leq(e, snd_una) || seq_gt(e, snd_max)) {
			ev->ignored++;
			continue;
		}
		tx_insert(t, seq_max(s, snd_una), e);
		ev->taken++;
	}
	if (t->in_recovery && t->head_mark_valid && t->head_rtx_seq == snd_una && t->count &&
	    seq_gt(t->iv[t->count - 1].end, t->head_rtx_mark)) {
		t->first_rtx_due = true; /* next_hole gives the head again */
		t->head_mark_valid = false;
		ev->head_rtx_lost = true;
	}
}

/* SACKed bytes and intervals wholly above `seq`. */
static void sacked_above(const struct sack_tx *t, uint32_t seq, uint32_t *bytes, uint32_t *intervals)
{
	*bytes = *intervals = 0;
	for (uint8_t i = 0; i < t->count; i++) {
		if (seq_gt(t->iv[i].start, seq)) {
			*bytes += t->iv[i].end - t->iv[i].start;
			(*intervals)++;
		}
	}
}

bool sack_tx_is_lost(const struct sack_tx *t, uint32_t seq, uint16_t mss)
{
	uint32_t bytes, intervals;
	sacked_above(t, seq, &bytes, &intervals);
	return bytes > (SACK_DUPTHRESH - 1) * (uint32_t)mss || intervals >= SACK_DUPTHRESH;
}

bool sack_tx_should_recover(const struct sack_tx *t, uint32_t snd_una, uint8_t dupacks, uint16_t mss)
{
	if (t->in_recovery || t->hold_after_rto)
		return false;
	return dupacks >= SACK_DUPTHRESH || (t->count && sack_tx_is_lost(t, snd_una, mss));
}

void sack_tx_enter(struct sack_tx *t, uint32_t snd_una, uint32_t snd_max)
{
	t->in_recovery = true;
	t->first_rtx_due = true;
	t->recovery_point = snd_max;
	t->high_rxt = snd_una;
}

void sack_tx_on_rto(struct sack_tx *t, uint32_t snd_max, bool forget)
{
	t->in_recovery = false;
	t->first_rtx_due = false;
	t->head_mark_valid = false;
	t->hold_after_rto = true;
	t->recovery_point = snd_max;
	if (forget)
		t->count = 0;
}

/* Hole k lies below interval k: [k ? iv[k-1].end : snd_una, iv[k].start). */
static uint32_t hole_start(const struct sack_tx *t, uint8_t k, uint32_t snd_una)
{
	return k ? t->iv[k - 1].end : snd_una;
}

static bool hole_lost(const struct sack_tx *t, uint8_t k, uint32_t snd_una, uint16_t mss)
{
	return (k == 0 && t->first_rtx_due) || t->all_holes_lost || sack_tx_is_lost(t, hole_start(t, k, snd_una), mss);
}


bool sack_tx_next_hole(const struct sack_tx *t, uint32_t snd_una, uint32_t data_end, uint16_t mss,
		       bool lost_only, uint32_t *seq_out, uint32_t *len_out)
{
	if (!t->in_recovery)
		return false;
	if (t->first_rtx_due) {
		/* The head goes first at entry (and again when its resend was
		 * lost), whatever HighRxt and the SACKs above it say. */
		uint32_t end = seq_min(t->count ? t->iv[0].start : snd_una + mss, data_end);
		if (!seq_lt(snd_una, end))
			return false;
		*seq_out = snd_una;
		*len_out = end - snd_una < mss ? end - snd_una : mss;
		return true;
	}
	for (uint8_t k = 0; k < t->count; k++) {
		uint32_t start = seq_max(hole_start(t, k, snd_una), t->high_rxt);
		uint32_t end = seq_min(t->iv[k].start, data_end);
		if (!seq_lt(start, end))
			continue;
		if (lost_only && !hole_lost(t, k, snd_una, mss))
			return false; /* holes above have less SACKed above them */
		*seq_out = start;
		*len_out = end - start < mss ? end - start : mss;
		return true;
	}
	return false;
}

void sack_tx_hole_sent(struct sack_tx *t, uint32_t seq, uint32_t len, uint32_t snd_una, uint32_t snd_max)
{
	if (seq_gt(seq + len, t->high_rxt))
		t->high_rxt = seq + len;
	t->first_rtx_due = false;
	if (seq == snd_una) {
		t->head_mark_valid = true;
		t->head_rtx_seq = seq;
		t->head_rtx_mark = snd_max;
	}
}

/* Length of [s, e) within [lo, hi). */
static uint32_t overlap(uint32_t s, uint32_t e, uint32_t lo, uint32_t hi)
{
	s = seq_max(s, lo);
	e = seq_min(e, hi);
	return seq_lt(s, e) ? e - s : 0;
}

uint32_t sack_tx_sacked_in(const struct sack_tx *t, uint32_t from, uint32_t to)
{
	uint32_t n = 0;
	for (uint8_t k = 0; k < t->count; k++)
		n += overlap(t->iv[k].start, t->iv[k].end, from, to);
	return n;
}

uint32_t sack_tx_pipe(const struct sack_tx *t, uint32_t snd_una, uint32_t snd_nxt, uint16_t mss)
{
	if (!seq_gt(snd_nxt, snd_una))
		return 0;
	uint32_t pipe = snd_nxt - snd_una;
	for (uint8_t k = 0; k < t->count; k++) {
		pipe -= overlap(t->iv[k].start, t->iv[k].end, snd_una, snd_nxt);
		if (t->in_recovery && hole_lost(t, k, snd_una, mss)) {
			uint32_t unsent_from = seq_max(hole_start(t, k, snd_una), t->high_rxt);
			pipe -= overlap(unsent_from, t->iv[k].start, snd_una, snd_nxt);
		}
	}
	return pipe;
}

uint32_t sack_tx_cwnd_outstanding(const struct sack_tx *t, uint32_t cwnd, uint32_t snd_una, uint32_t snd_nxt,
				  uint16_t mss)
{
	if (t->count == 0 && !t->in_recovery)
		return cwnd;
	uint32_t outstanding = seq_gt(snd_nxt, snd_una) ? snd_nxt - snd_una : 0;
	uint32_t gone = outstanding - sack_tx_pipe(t, snd_una, snd_nxt, mss);
	return cwnd > UINT32_MAX - gone ? UINT32_MAX : cwnd + gone;
}

uint32_t sack_tx_skip_sacked(const struct sack_tx *t, uint32_t seq)
{
	for (uint8_t i = 0; i < t->count; i++)
		if (seq_geq(seq, t->iv[i].start) && seq_lt(seq, t->iv[i].end))
			seq = t->iv[i].end;
	return seq;
}

uint32_t sack_tx_unsacked_run(const struct sack_tx *t, uint32_t seq, uint32_t len)
{
	for (uint8_t i = 0; i < t->count; i++)
		if (seq_gt(t->iv[i].start, seq) && seq_lt(t->iv[i].start, seq + len))
			len = t->iv[i].start - seq;
	return len;
}
