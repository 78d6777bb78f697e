/*
 * sp_timers.c: every per-flow timer folds into one deadline in the NIC's
 * timer heap: retransmission (RFC 6298, exponential backoff), zero-window
 * persist, the delayed-ACK bound, the rate limiter's next slot, ARP retry
 * for a pending connect, TIME_WAIT and FIN_WAIT_2 expiry, keepalive
 * (sp_keepalive.c), and a doorbell confirmation no event carried in time
 * (app_chan.c, confirm_doorbell).
 */
#include "../bluetas.h"
#include "nic_internal.h"

/* The earlier of two deadlines, 0 meaning none: 0 - 1 wraps to the
 * largest value, so one unsigned compare orders "none" last (no branches:
 * sp_timer_update folds six of these every time the delayed ACK is armed). */
static uint64_t min_nonzero(uint64_t a, uint64_t b)
{
	return a - 1 < b - 1 ? a : b;
}

static bool rate_blocked(const struct flow *f)
{
	return f->rate_bps && f->rings_attached && seq_lt(f->snd_nxt, f->snd_una + f->tx_queued);
}

void sp_timer_update(struct nic *nic, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	if (!f->in_use || f->retired) {
		timer_heap_cancel(&nic->timers, fi);
		return;
	}
	uint64_t d = 0;
	d = min_nonzero(d, f->rto_deadline_ns);
	d = min_nonzero(d, f->persist_deadline_ns);
	d = min_nonzero(d, f->delack_deadline_ns);
	d = min_nonzero(d, f->tw_deadline_ns);
	d = min_nonzero(d, f->ka_deadline_ns);
	d = min_nonzero(d, f->more_deadline_ns);
	d = min_nonzero(d, f->confirm_deadline_ns);
	if (rate_blocked(f) && f->next_tx_ns > nic_now(nic))
		d = min_nonzero(d, f->next_tx_ns);
	if (d == 0)
		timer_heap_cancel(&nic->timers, fi);
	else
		timer_heap_set(&nic->timers, fi, d);
}

/* When a tail loss probe is due before the RTO (0: none), outside
 * recovery, before any timeout, and with no probe out (RFC 8985 7.2).
 * - tlp (the default): with SACK and a flight of more than one segment,
 *   PTO = 2 SRTT plus the delayed-ACK bound, since the ACK of a flight's
 *   odd last segment may be held that long (RFC 8985's WCDelAckT), and
 *   never under a quarter of rto_min: an SRTT taken in the handshake says
 *   nothing of the queue a burst of new connections then meets, and
 *   probes fired into it add to it (concurrent_1000 at 2 SRTT + 200 us,
 *   when lone segments were probed too: 2,800 needless probes a run, 9x
 *   the queue drops, 6.5 ms instead of 2.0). A one-segment flight is not probed: its ACK is the one a peer
 *   delays, and Linux delays it 4-40 ms (TCP_ATO_MIN to TCP_DELACK_MAX),
 *   so a probe at 1.25 ms went out for nearly every request of an
 *   interactive client (tests/apps poll_syscalls_on_stack: each woke its
 *   sleeper for nothing). An RTO of at least rto_min (5 ms) is hundreds
 *   of datacenter round trips: with 1% loss each way an RPC workload
 *   spent most of its time in them (docs/architecture.md).
 * - tail_probe (the linux-like profile, Linux's tcp_schedule_loss_probe):
 *   with SACK and a flight of more than one segment, PTO = 2 SRTT + 2 ms
 *   (TCP_TIMEOUT_MIN); a one-segment flight's probe is the RTO's first
 *   expiry (rto_fired). */
static uint64_t probe_timeout_ns(const struct nic *nic, const struct flow *f)
{
	if (!f->srtt_us || f->retries != 0 || f->tlp_out || f->tx_sack.in_recovery || f->state == TCP_SYN_RCVD ||
	    f->state == TCP_SYN_SENT || f->snd_wnd == 0)
		return 0; /* a shut window is the persist timer's to probe */
	bool one_segment = f->snd_max - f->snd_una <= (uint32_t)f->mss + 1u; /* + 1: a FIN */
	uint64_t two_srtt_ns = 2ull * f->srtt_us * 1000ull;
	if (nic->cfg.tail_probe)
		return f->sack_ok && !one_segment ? two_srtt_ns + 2000000ull : 0;
	if (!nic->cfg.tlp || !f->sack_ok || one_segment)
		return 0;
	uint64_t pto_ns = two_srtt_ns + nic->cfg.delayed_ack_ns;
	uint64_t floor_ns = nic->cfg.rto_min_ns / 4;
	return pto_ns > floor_ns ? pto_ns : floor_ns;
}

void sp_rto_restart(struct nic *nic, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	uint64_t now = nic_now(nic);
	bool outstanding = f->snd_una != f->snd_max;
	f->rto_deadline_ns = outstanding ? now + f->rto_ns : 0;
	f->tlp_armed = false;
	if (f->tlp_out && !seq_lt(f->snd_una, f->tlp_high_seq))
		f->tlp_out = false;
	uint64_t pto_ns = outstanding ? probe_timeout_ns(nic, f) : 0;
	if (pto_ns && pto_ns < f->rto_ns) {
		f->rto_deadline_ns = now + pto_ns;
		f->tlp_armed = true;
	}
	if (!outstanding)
		f->unacked_since_ns = 0;
	else if (f->unacked_since_ns == 0)
		f->unacked_since_ns = now;
	/* With TCP_USER_TIMEOUT the connection ends on time, not a backoff later. */
	uint64_t user_end_ns = f->unacked_since_ns + (uint64_t)f->opts.user_timeout_ms * 1000000ull;
	if (outstanding && f->opts.user_timeout_ms && f->rto_deadline_ns > user_end_ns) {
		f->rto_deadline_ns = user_end_ns > now ? user_end_ns : now;
		f->tlp_armed = false; /* what comes then is the end, not a probe */
	}
	/* Persist: data waits, nothing is in flight to bring an ACK, and
	 * the peer's window is shut. Only a probe can learn it reopened. */
	bool data_waiting = f->rings_attached && seq_lt(f->snd_nxt, f->snd_una + f->tx_queued);
	if (!outstanding && data_waiting && f->snd_wnd == 0) {
		if (f->persist_deadline_ns == 0)
			f->persist_deadline_ns = now + f->persist_backoff_ns;
	} else {
		f->persist_deadline_ns = 0;
		f->persist_backoff_ns = nic->cfg.rto_min_ns;
	}
	sp_timer_update(nic, fi);
}

void sp_rtt_sample(struct nic *nic, uint32_t fi, uint32_t rtt_us)
{
	struct flow *f = &nic->flows[fi];
	if (rtt_us > 60u * 1000u * 1000u)
		return; /* a wrapped or forged echo, not a measurement */
	if (f->srtt_us == 0) {
		f->srtt_us = rtt_us ? rtt_us : 1;
		f->rttvar_us = rtt_us / 2;
	} else {
		uint32_t diff = f->srtt_us > rtt_us ? f->srtt_us - rtt_us : rtt_us - f->srtt_us;
		f->rttvar_us = (3 * f->rttvar_us + diff) / 4;
		f->srtt_us = (7 * f->srtt_us + rtt_us) / 8;
	}
	uint64_t var_ns = 4ull * (f->rttvar_us ? f->rttvar_us : 1) * 1000ull;
	uint64_t rto;
	if (nic->cfg.rto_min_on_var) {
		/* Linux (tcp_set_rto): the variance term is at least the
		 * minimum, so the RTO is SRTT plus at least rto_min. */
		rto = (uint64_t)f->srtt_us * 1000ull + (var_ns > nic->cfg.rto_min_ns ? var_ns : nic->cfg.rto_min_ns);
	} else {
		rto = (uint64_t)f->srtt_us * 1000ull + var_ns; /* RFC 6298 2.4: the whole RTO at least rto_min */
		if (rto < nic->cfg.rto_min_ns)
			rto = nic->cfg.rto_min_ns;
	}
	if (rto > nic->cfg.rto_max_ns)
		rto = nic->cfg.rto_max_ns;
	f->rto_ns = rto;
}

static void backoff(struct nic *nic, struct flow *f)
{
	f->rto_ns *= 2;
	if (f->rto_ns > nic->cfg.rto_max_ns)
		f->rto_ns = nic->cfg.rto_max_ns;
}

/* The probe (Linux's tcp_send_loss_probe): one new segment if the
 * peer's window has room for it, else the last segment (or the FIN)
 * again; no backoff, cwnd untouched, and the RTO follows. */
static void tail_probe_fired(struct nic *nic, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	uint64_t now = nic_now(nic);
	f->tlp_armed = false;
	f->tlp_out = true;
	nic->stats.tail_probes++;
	f->tlp_high_seq = f->snd_max;
	uint32_t data_end = f->snd_una + f->tx_queued;
	uint32_t unsent = f->rings_attached && seq_lt(f->snd_nxt, data_end) ? data_end - f->snd_nxt : 0;
	uint32_t seg = unsent < f->mss ? unsent : f->mss;
	if (seg && f->snd_nxt - f->snd_una + seg <= f->snd_wnd) {
		f->tlp_new_data = true;
		fp_tx_schedule(nic, fi);
	} else if (f->fin_sent && f->fin_alone && seq_lt(f->snd_una, f->fin_seq + 1)) {
		fp_send_ctrl(nic, fi, TCP_FIN | TCP_ACK, f->fin_seq);
		nic->stats.tx_retransmits++;
	} else if (f->rings_attached && f->tx_queued) {
		uint32_t end = seq_lt(f->snd_max, data_end) ? f->snd_max : data_end; /* below a FIN */
		uint32_t len = end - f->snd_una < f->mss ? end - f->snd_una : f->mss;
		if (len)
			fp_resend_range(nic, fi, end - len, len, end == data_end);
	}
	f->rto_deadline_ns = now + f->rto_ns;
}

static void rto_fired(struct nic *nic, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	uint64_t now = nic_now(nic);
	f->rto_deadline_ns = 0;
	f->retries++;
	if (f->state == TCP_SYN_SENT && f->arp_wait) {
		/* As many tries as the SYN would get, so that under loss ARP
		 * does not end a connection its SYN retries would have saved;
		 * but at a fixed interval, as Linux's retrans_time: a lost
		 * request is loss, not congestion, and every connection to
		 * that next hop waits on the one coalesced request. */
		if (f->retries > nic->cfg.syn_retries) {
			nic->stats.arp_unresolved++;
			sp_flow_abort(nic, fi, BT_EHOSTUNREACH, false);
		} else if (sp_arp_lookup(nic, f->next_hop_ip, f->remote_mac)) {
			f->arp_wait = false;
			f->retries = 0;
			sp_send_syn(nic, fi);
		} else {
			f->rto_deadline_ns = now + nic->cfg.arp_timeout_ns;
		}
		return;
	}
	if (f->state == TCP_SYN_SENT || f->state == TCP_SYN_RCVD) {
		if (f->retries > nic->cfg.syn_retries) {
			sp_flow_abort(nic, fi, BT_ETIMEDOUT, false);
			return;
		}
		backoff(nic, f);
		nic->stats.rtos++;
		f->snd_nxt = f->iss;
		sp_send_syn(nic, fi);
		return;
	}
	if (f->snd_una == f->snd_max)
		return;
	/* TCP_USER_TIMEOUT replaces the retry count: data unacknowledged
	 * this long ends the connection (RFC 5482). */
	uint64_t user_timeout_ns = (uint64_t)f->opts.user_timeout_ms * 1000000ull;
	if (user_timeout_ns ? now - f->unacked_since_ns >= user_timeout_ns : f->retries > nic->cfg.max_retries) {
		sp_flow_abort(nic, fi, BT_ETIMEDOUT, true);
		return;
	}
	/* The linux-like profile's tail loss probe (Linux's TLP, RFC 8985
	 * 7), for a flight of one segment or a lone FIN, where the probe
	 * resends what going back N would: the first expiry resends it
	 * without backing off or shrinking cwnd; the RTO proper follows. */
	if (nic->cfg.tail_probe && f->retries == 1 && f->snd_wnd != 0 && f->snd_max - f->snd_una <= (uint32_t)f->mss + 1u) {
		nic->stats.tail_probes++;
		f->snd_nxt = f->snd_una;
		f->rto_deadline_ns = now + f->rto_ns;
		fp_tx_schedule(nic, fi);
		return;
	}
	nic->stats.rtos++;
	backoff(nic, f);
	/* With the peer's window shut, what timed out is a zero-window
	 * probe: no sign of congestion, and going back N alone would send
	 * nothing (the window is 0), so probe again, with this backoff. */
	if (f->snd_wnd == 0)
		f->probe_due = true;
	else
		sp_cc_on_rto(nic, f);
	sack_tx_on_rto(&f->tx_sack, f->snd_max, f->retries > 1);
	f->snd_nxt = f->snd_una; /* go back N (over what the peer SACKed: fp_tx.c) */
	f->dupacks = 0;
	f->rto_deadline_ns = now + f->rto_ns;
	fp_tx_schedule(nic, fi);
}

static void persist_fired(struct nic *nic, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	f->persist_deadline_ns = 0;
	if (f->snd_wnd != 0 || f->snd_una != f->snd_max)
		return;
	f->probe_due = true;
	f->persist_backoff_ns *= 2;
	if (f->persist_backoff_ns > nic->cfg.rto_max_ns)
		f->persist_backoff_ns = nic->cfg.rto_max_ns;
	fp_tx_schedule(nic, fi);
}

int sp_timers_run(struct nic *nic)
{
	int work = 0;
	if (nic_slowpath_stalled(nic))
		return 0; /* the slow path owns the timers: they wait with it */
	uint64_t now = nic_now(nic);
	uint32_t fi;
	while (timer_heap_pop_due(&nic->timers, now, &fi)) {
		struct flow *f = &nic->flows[fi];
		if (!f->in_use || f->retired)
			continue;
		work++;
		if (f->tw_deadline_ns && f->tw_deadline_ns <= now) {
			if (f->state == TCP_FIN_WAIT_2) {
				/* Peer never closed its side; give up quietly. */
				nic->stats.conns_closed++;
			}
			f->tw_deadline_ns = 0;
			if (f->state == TCP_TIME_WAIT || f->state == TCP_FIN_WAIT_2) {
				flow_retire(nic, fi);
				continue;
			}
		}
		if (f->delack_deadline_ns && f->delack_deadline_ns <= now) {
			f->delack_deadline_ns = 0;
			f->ack_now = true;
			fp_tx_schedule(nic, fi);
		}
		if (rate_blocked(f) && f->next_tx_ns <= now)
			fp_tx_schedule(nic, fi);
		if (f->confirm_deadline_ns && f->confirm_deadline_ns <= now) {
			/* No event carried the doorbell's echo in time: one of its own. */
			f->confirm_deadline_ns = 0;
			app_notify(nic, fi, 0, 0);
		}
		if (f->more_deadline_ns && f->more_deadline_ns <= now) {
			f->more_deadline_ns = 0;
			f->more_probe_due = true; /* the held MSG_MORE tail goes, with PSH */
			fp_tx_schedule(nic, fi);
		}
		if (f->rto_deadline_ns && f->rto_deadline_ns <= now && f->tlp_armed)
			tail_probe_fired(nic, fi);
		else if (f->rto_deadline_ns && f->rto_deadline_ns <= now)
			rto_fired(nic, fi);
		if (f->in_use && !f->retired && f->persist_deadline_ns && f->persist_deadline_ns <= now)
			persist_fired(nic, fi);
		if (f->in_use && !f->retired && f->ka_deadline_ns && f->ka_deadline_ns <= now)
			sp_keepalive_fired(nic, fi);
		sp_timer_update(nic, fi);
	}
	return work;
}
