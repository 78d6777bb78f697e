/*
 * sp_keepalive.c: keepalive probes (RFC 1122 4.2.3.6, RFC 9293 3.8.4),
 * as Linux's tcp_keepalive_timer does them. A flow with SO_KEEPALIVE that
 * heard nothing from its peer for KEEPIDLE seconds, and has nothing in
 * flight or queued (the RTO watches those), sends a bare ACK at
 * snd_una - 1: outside the peer's window, so a live peer answers with an
 * ACK. Any segment from the peer counts as the answer (fp_rx.c stamps
 * last_rx_ns) and starts the idle time over; after KEEPCNT probes in a
 * row unanswered, KEEPINTVL seconds apart, the flow ends with an RST and
 * BT_ETIMEDOUT, at idle + cnt * intvl after the peer's last segment.
 *
 * The deadline is not moved on every received segment (that would put a
 * timer heap update on the fast path): when it fires early, it is set
 * again from last_rx_ns.
 */
#include "../bluetas.h"
#include "nic_internal.h"

#define NS_PER_S 1000000000ull

static uint64_t idle_ns(const struct flow *f)
{
	return (uint64_t)(f->opts.keepidle_s ? f->opts.keepidle_s : BT_KEEPIDLE_DEFAULT_S) * NS_PER_S;
}

static uint64_t intvl_ns(const struct flow *f)
{
	return (uint64_t)(f->opts.keepintvl_s ? f->opts.keepintvl_s : BT_KEEPINTVL_DEFAULT_S) * NS_PER_S;
}

static uint32_t probe_limit(const struct flow *f)
{
	return f->opts.keepcnt ? f->opts.keepcnt : BT_KEEPCNT_DEFAULT;
}

void sp_keepalive_arm(struct nic *nic, uint32_t fi, bool heard_now)
{
	struct flow *f = &nic->flows[fi];
	uint64_t now = nic_now(nic);
	if (heard_now || f->last_rx_ns == 0)
		f->last_rx_ns = now;
	if (!f->opts.keepalive || !flow_state_synced(f->state)) {
		f->ka_deadline_ns = 0;
		f->ka_probes = 0;
	} else {
		/* Linux (tcp_set_keepalive, TCP_KEEPIDLE): the new idle time
		 * counts from the peer's last segment, and at least until now. */
		uint64_t due = f->last_rx_ns + idle_ns(f);
		f->ka_deadline_ns = due > now ? due : now;
	}
	sp_timer_update(nic, fi);
}

void sp_keepalive_fired(struct nic *nic, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	uint64_t now = nic_now(nic);
	f->ka_deadline_ns = 0;
	if (!f->opts.keepalive || !flow_state_synced(f->state))
		return;
	/* Heard since the last probe: it was answered (Linux resets
	 * icsk_probes_out on every ACK it takes). */
	if (f->ka_probes && f->last_rx_ns >= f->ka_probe_ns)
		f->ka_probes = 0;
	bool data_waiting = f->rings_attached && seq_lt(f->snd_nxt, f->snd_una + f->tx_queued);
	if (f->snd_una != f->snd_max || data_waiting) {
		/* The retransmission or persist timer is on it. */
		f->ka_deadline_ns = now + idle_ns(f);
		return;
	}
	uint64_t idle = now - f->last_rx_ns;
	if (idle < idle_ns(f)) {
		f->ka_deadline_ns = f->last_rx_ns + idle_ns(f);
		return;
	}
	/* With TCP_USER_TIMEOUT, it bounds the probing instead of the count
	 * (Linux's tcp_keepalive_timer, RFC 5482). */
	uint64_t user_ns = (uint64_t)f->opts.user_timeout_ms * 1000000ull;
	bool give_up = user_ns ? f->ka_probes > 0 && idle >= user_ns : f->ka_probes >= probe_limit(f);
	if (give_up) {
		sp_flow_abort(nic, fi, BT_ETIMEDOUT, true);
		return;
	}
	fp_send_ctrl(nic, fi, TCP_ACK, f->snd_una - 1);
	nic->stats.keepalive_probes++;
	f->ka_probes++;
	f->ka_probe_ns = now;
	f->ka_deadline_ns = now + intvl_ns(f);
}
