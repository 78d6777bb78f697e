/*
 * fp_prr.c: proportional rate reduction (RFC 6937) for SACK recovery
 * episodes, under nic_config.prr (the linux-like profile). Instead of
 * cutting cwnd to ssthresh at entry and sending whatever cwnd - pipe
 * allows (RFC 6675), each ACK sets cwnd to pipe plus what PRR lets go:
 * while pipe is above ssthresh, ssthresh/prior_cwnd of what the ACK
 * delivered; below it, PRR-SSRB's slow start towards ssthresh (one more
 * segment when snd_una advanced). The arithmetic is Linux's
 * tcp_cwnd_reduction, in bytes, so packetdrill scripts written against
 * Linux see its segments (docs/conformance.md).
 */
#include "nic_internal.h"

/* Only a window-based algorithm has a cwnd to reduce (sp_cc.c). */
static bool prr_applies(const struct nic *nic, const struct flow *f)
{
	return nic->cfg.prr && f->sack_ok && nic->cfg.cc == NIC_CC_DCTCP;
}

void fp_prr_enter(struct nic *nic, struct flow *f)
{
	if (!prr_applies(nic, f))
		return;
	/* sp_cc_on_fast_retransmit cut cwnd already: PRR reduces it ACK by ACK. */
	f->cwnd = f->prior_cwnd;
	f->prr_delivered = 0;
	f->prr_out = 0;
}

void fp_prr_sent(struct flow *f, uint32_t bytes)
{
	if (f->tx_sack.in_recovery)
		f->prr_out += bytes;
}

void fp_prr_on_ack(struct nic *nic, struct flow *f, uint32_t delivered_bytes, bool una_advanced)
{
	if (!prr_applies(nic, f) || !f->tx_sack.in_recovery || delivered_bytes == 0 || !f->prior_cwnd)
		return;
	uint32_t pipe = sack_tx_pipe(&f->tx_sack, f->snd_una, f->snd_nxt, f->mss);
	f->prr_delivered += delivered_bytes;
	int64_t delta = (int64_t)f->ssthresh - pipe;
	int64_t sndcnt;
	if (delta < 0) {
		/* Proportional part: ceil(ssthresh * delivered / prior_cwnd) - out. */
		uint64_t due = ((uint64_t)f->ssthresh * f->prr_delivered + f->prior_cwnd - 1) / f->prior_cwnd;
		sndcnt = (int64_t)due - f->prr_out;
	} else {
		/* PRR-SSRB: slow start back up to ssthresh, one segment more
		 * on an ACK that advanced snd_una (Linux leaves the lost-
		 * retransmission case out; the scoreboard does not tell it). */
		int64_t owed = (int64_t)f->prr_delivered - f->prr_out;
		sndcnt = owed > delivered_bytes ? owed : delivered_bytes;
		if (una_advanced)
			sndcnt += f->mss;
		if (sndcnt > delta)
			sndcnt = delta;
	}
	/* The first resend of an episode goes whatever the pipe says. */
	if (f->prr_out == 0 && sndcnt < f->mss)
		sndcnt = f->mss;
	int64_t cwnd = (int64_t)pipe + sndcnt;
	f->cwnd = cwnd > f->mss ? (uint32_t)cwnd : f->mss;
}
