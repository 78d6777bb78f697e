/*
 * sp_cc.c: congestion control. The slow path owns cwnd, ssthresh and the
 * rate; the fast path only enforces them. DCTCP (RFC 8257): per window of
 * data, alpha <- (1 - g) alpha + g F with g = 1/16 and F the fraction of
 * bytes acknowledged with ECE; a window that saw marks shrinks cwnd by
 * alpha/2. Loss falls back to Reno-style halving.
 */
#include "nic_internal.h"

#define CWND_MAX_BYTES (64u << 20)
#define ALPHA_ONE_Q10 1024u

static uint32_t inflight_bytes(const struct flow *f)
{
	return f->snd_max - f->snd_una;
}

void sp_cc_init(struct nic *nic, struct flow *f)
{
	f->cwnd = nic->cfg.initial_cwnd_segs * (uint32_t)f->mss;
	f->ssthresh = CWND_MAX_BYTES;
	f->dctcp_alpha_q10 = ALPHA_ONE_Q10;
	f->cc_round_end = f->snd_max;
	f->cc_acked_bytes = f->cc_ecn_bytes = 0;
	f->rate_bps = 0;
	if (nic->cfg.cc == NIC_CC_NONE || nic->cfg.cc == NIC_CC_CONST_RATE)
		f->cwnd = CWND_MAX_BYTES;
	if (nic->cfg.cc == NIC_CC_CONST_RATE)
		f->rate_bps = nic->cfg.const_rate_bps;
}

void sp_cc_on_ack(struct nic *nic, struct flow *f, uint32_t acked_bytes, bool ece)
{
	if (nic->cfg.cc != NIC_CC_DCTCP)
		return;
	if (ece) {
		f->cc_ecn_bytes += acked_bytes;
		nic->stats.ecn_ece_acked_bytes += acked_bytes;
	}
	f->cc_acked_bytes += acked_bytes;
	if (f->cwnd < f->ssthresh) {
		f->cwnd += acked_bytes;
	} else {
		f->cwnd_frac += acked_bytes;
		if (f->cwnd_frac >= f->cwnd) {
			f->cwnd_frac -= f->cwnd;
			f->cwnd += f->mss;
		}
	}
	if (f->cwnd > CWND_MAX_BYTES)
		f->cwnd = CWND_MAX_BYTES;
	if (seq_lt(f->snd_una, f->cc_round_end))
		return;
	/* One observation window (about an RTT) ended. */
	if (f->cc_acked_bytes) {
		uint32_t frac_q10 = (uint32_t)(((uint64_t)f->cc_ecn_bytes * ALPHA_ONE_Q10) / f->cc_acked_bytes);
		f->dctcp_alpha_q10 = f->dctcp_alpha_q10 - f->dctcp_alpha_q10 / 16 + frac_q10 / 16;
		if (f->cc_ecn_bytes) {
			uint32_t cut = (uint32_t)(((uint64_t)f->cwnd * f->dctcp_alpha_q10) / (2 * ALPHA_ONE_Q10));
			f->cwnd -= cut;
			if (f->cwnd < 2u * f->mss)
				f->cwnd = 2u * f->mss;
			f->ssthresh = f->cwnd;
		}
	}
	f->cc_acked_bytes = f->cc_ecn_bytes = 0;
	f->cc_round_end = f->snd_max;
}

void sp_cc_on_fast_retransmit(struct nic *nic, struct flow *f)
{
	if (nic->cfg.cc != NIC_CC_DCTCP)
		return;
	f->prior_cwnd = f->cwnd; /* PRR's starting point (fp_prr.c) */
	if (nic->cfg.cubic_decrease) {
		/* Linux's CUBIC: beta 717/1024 of cwnd, in whole segments. */
		uint32_t segs = (uint32_t)(((uint64_t)(f->cwnd / f->mss) * 717u) / 1024u);
		f->ssthresh = (segs > 2u ? segs : 2u) * (uint32_t)f->mss;
	} else {
		uint32_t half = inflight_bytes(f) / 2;
		f->ssthresh = half > 2u * f->mss ? half : 2u * f->mss;
	}
	f->cwnd = f->ssthresh;
}

void sp_cc_on_rto(struct nic *nic, struct flow *f)
{
	if (nic->cfg.cc != NIC_CC_DCTCP)
		return;
	uint32_t half = inflight_bytes(f) / 2;
	f->ssthresh = half > 2u * f->mss ? half : 2u * f->mss;
	f->cwnd = f->mss;
}
