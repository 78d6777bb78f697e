/*
 * sp_conn.c: the slow path's connection story: active and passive open,
 * the listen backlog, FIN and RST through every close state, and the
 * commands that start and end connections. Every TCP state transition of
 * the stack happens in this file.
 */
#include <stdlib.h>
#include <string.h>

#include "../bluetas.h"
#include "nic_internal.h"

#define EPHEMERAL_FIRST 49152u
#define EPHEMERAL_COUNT 16384u
#define MSS_DEFAULT_PEER 536u /* RFC 1122: assume this when no MSS option */

const char *tcp_state_name(int state)
{
	static const char *const names[] = {"CLOSED",     "SYN_SENT",   "SYN_RCVD", "ESTABLISHED",
					    "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING",
					    "LAST_ACK",   "TIME_WAIT"};
	if (state < 0 || state > TCP_TIME_WAIT)
		return "?";
	return names[state];
}

static uint32_t pick_iss(struct nic *nic, const struct flow *f)
{
	/* RFC 6528 shape (a keyed function of the tuple plus a counter),
	 * with a seed instead of a secret so simulated runs repeat. */
	uint64_t h = ((uint64_t)f->remote_ip << 32 | (uint64_t)f->remote_port << 16 | f->local_port) ^ nic->cfg.isn_seed;
	h *= 0x9e3779b97f4a7c15ull;
	h ^= h >> 29;
	nic->isn_counter += 0x10000;
	return (uint32_t)h + nic->isn_counter + (uint32_t)(nic_now(nic) / 4000);
}

static void attach_rings(struct nic *nic, struct flow *f, int app, uint32_t slot)
{
	const struct ctxq_hello *h = &nic->apps[app].hello;
	f->app = (uint16_t)app;
	f->host_slot = slot;
	f->rx_ring_off = ctxq_rx_ring_off(h, slot);
	f->rx_ring_len = h->rx_ring_bytes;
	f->rx_avail = h->rx_ring_bytes;
	f->rx_buf_bytes = h->rx_ring_bytes;
	f->tx_ring_off = ctxq_tx_ring_off(h, slot);
	f->tx_ring_len = h->tx_ring_bytes;
	f->rings_attached = true;
	nic->apps[app].slot_flow[slot] = flow_index(nic, f);
}

static void apply_syn_options(struct nic *nic, struct flow *f, const struct tcp_view *tcp)
{
	uint32_t peer_mss = tcp->opts.has_mss ? tcp->opts.mss : MSS_DEFAULT_PEER;
	uint16_t ours = sp_adv_mss(nic, f);
	f->mss = (uint16_t)(peer_mss < ours ? peer_mss : ours);
	if (f->mss < 64)
		f->mss = 64;
	f->wscale_ok = tcp->opts.has_wscale && nic->cfg.window_scaling;
	f->snd_wscale = f->wscale_ok ? tcp->opts.wscale : 0;
	if (!f->wscale_ok)
		f->rcv_wscale = 0;
	f->sack_ok = nic->cfg.sack && tcp->opts.sack_permitted;
	f->ts_ok = tcp->opts.has_ts && nic->cfg.timestamps;
	if (f->ts_ok)
		f->ts_recent = tcp->opts.ts_val;
	f->snd_wnd = tcp->window; /* windows in SYN segments are never scaled */
}

static void return_slot(struct nic *nic, struct flow *f)
{
	if (f->listener == FLOW_NONE || f->host_slot == FLOW_NONE)
		return;
	struct listener *l = &nic->listeners[f->listener];
	if (l->in_use && l->app == f->app && l->free_count < l->backlog) {
		l->free_slots[l->free_count++] = f->host_slot;
		nic->apps[f->app].slot_flow[f->host_slot] = SLOT_LISTENING;
	}
	f->host_slot = FLOW_NONE;
}

void sp_flow_release(struct nic *nic, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	if (!f->rings_attached)
		return;
	f->rings_attached = false;
	if (f->host_slot != FLOW_NONE) {
		nic->apps[f->app].slot_flow[f->host_slot] = FLOW_NONE;
		app_notify(nic, fi, CTXQ_EVF_RELEASED, 0);
	}
}

void sp_flow_abort(struct nic *nic, uint32_t fi, int err, bool send_rst)
{
	struct flow *f = &nic->flows[fi];
	if (!f->in_use || f->retired)
		return;
	/* At the highest sequence on the wire, not snd_nxt (which counts
	 * payload whose READ is still in flight): a peer enforcing RFC 5961
	 * accepts an RST only at exactly its rcv_nxt. */
	if (send_rst && f->state != TCP_SYN_SENT && f->state != TCP_CLOSED)
		fp_send_ctrl(nic, fi, TCP_RST, f->snd_emitted);
	if (err == BT_ETIMEDOUT)
		nic->stats.conns_timed_out++;
	else
		nic->stats.conns_reset++;
	if (f->state == TCP_SYN_RCVD && f->listener != FLOW_NONE) {
		/* The host never heard of this half-open connection: its slot
		 * goes back to the listener, nobody is told. */
		return_slot(nic, f);
		f->rings_attached = false;
	} else {
		if (err && f->host_slot != FLOW_NONE)
			app_notify(nic, fi, CTXQ_EVF_ERROR, err);
		sp_flow_release(nic, fi);
	}
	f->err = err;
	flow_retire(nic, fi);
}

static void enter_time_wait(struct nic *nic, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	f->state = TCP_TIME_WAIT;
	/* Nothing can arrive for the host any more: its rings are free. */
	sp_flow_release(nic, fi);
	f->rto_deadline_ns = 0;
	f->persist_deadline_ns = 0;
	f->tw_deadline_ns = nic_now(nic) + nic->cfg.time_wait_ns;
	nic->stats.conns_closed++;
	sp_timer_update(nic, fi);
}

void sp_fin_sent_state(struct nic *nic, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	if (f->state == TCP_ESTABLISHED)
		f->state = TCP_FIN_WAIT_1;
	else if (f->state == TCP_CLOSE_WAIT)
		f->state = TCP_LAST_ACK;
}

void sp_fin_acked(struct nic *nic, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	/* Our FIN acknowledged means every byte before it was too: the host's
	 * TX ring is done with. The RX ring is too once the host closed its
	 * handle or the peer sent its FIN; after shutdown(SHUT_WR) alone the
	 * peer may still send, and the host still reads. */
	if (f->app_gone || f->fin_received)
		sp_flow_release(nic, fi);
	switch (f->state) {
	case TCP_FIN_WAIT_1:
		f->state = TCP_FIN_WAIT_2;
		/* Only an orphaned flow gives up on the peer's FIN (as Linux:
		 * a half-closed socket may stay half-closed). */
		if (f->app_gone) {
			f->tw_deadline_ns = nic_now(nic) + nic->cfg.fin_wait2_ns;
			sp_timer_update(nic, fi);
		}
		break;
	case TCP_CLOSING:
		enter_time_wait(nic, fi);
		break;
	case TCP_LAST_ACK:
		nic->stats.conns_closed++;
		flow_retire(nic, fi);
		break;
	default:
		break;
	}
}

void sp_fin_received(struct nic *nic, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	if (f->state == TCP_FIN_WAIT_1 && (nic->cfg.inject_bugs & NIC_BUG_NO_SIMULTANEOUS_CLOSE))
		return; /* negative control: a closer that expects only an ACK first */
	f->fin_received = true;
	f->rcv_nxt += 1;
	f->ack_now = true;
	if (f->rings_attached)
		app_notify(nic, fi, CTXQ_EVF_FIN, 0);
	switch (f->state) {
	case TCP_ESTABLISHED:
		f->state = TCP_CLOSE_WAIT;
		break;
	case TCP_FIN_WAIT_1:
		f->state = TCP_CLOSING;
		nic->stats.simultaneous_closes++;
		break;
	case TCP_FIN_WAIT_2:
		enter_time_wait(nic, fi);
		break;
	default:
		break;
	}
	fp_tx_schedule(nic, fi);
}

#define SYN_RESENT UINT64_MAX /* syn_sent_ns: sent more than once, no sample */

/* The handshake's round trip (RFC 6298 allows the SYN's): from the
 * echoed timestamp, else from when our SYN or SYN-ACK left, if it was
 * never resent (Karn). Without it the first RTO stays rto_initial. */
static void handshake_rtt_sample(struct nic *nic, uint32_t fi, const struct tcp_view *tcp)
{
	struct flow *f = &nic->flows[fi];
	if (f->ts_ok && tcp->opts.has_ts && tcp->opts.ts_ecr)
		sp_rtt_sample(nic, fi, nic_ts_rtt_us(nic, tcp->opts.ts_ecr));
	else if (f->syn_sent_ns != 0 && f->syn_sent_ns != SYN_RESENT && nic_now(nic) >= f->syn_sent_ns)
		sp_rtt_sample(nic, fi, (uint32_t)((nic_now(nic) - f->syn_sent_ns) / 1000));
}

void sp_send_syn(struct nic *nic, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	uint8_t flags = TCP_SYN;
	if (f->state == TCP_SYN_SENT && nic->cfg.ecn)
		flags |= TCP_ECE | TCP_CWR; /* RFC 3168 ECN-setup SYN */
	if (f->state == TCP_SYN_RCVD && f->ecn_ok)
		flags |= TCP_ECE;
	fp_send_ctrl(nic, fi, flags, f->iss);
	/* Karn: only a SYN sent once measures the round trip. */
	f->syn_sent_ns = f->syn_sent_ns == 0 ? nic_now(nic) : SYN_RESENT;
	f->snd_nxt = f->iss + 1;
	if (seq_gt(f->snd_nxt, f->snd_max))
		f->snd_max = f->snd_nxt;
	if (f->rto_deadline_ns == 0) {
		f->rto_deadline_ns = nic_now(nic) + f->rto_ns;
		sp_timer_update(nic, fi);
	}
}

static bool port_listening(const struct nic *nic, uint16_t port)
{
	for (uint32_t li = 0; li < nic->cfg.max_listeners; li++)
		if (nic->listeners[li].in_use && nic->listeners[li].port == port)
			return true;
	return false;
}

static void passive_open(struct nic *nic, const uint8_t *src_mac, const struct ipv4_view *ip,
			 const struct tcp_view *tcp)
{
	struct listener *l = NULL;
	uint32_t li;
	for (li = 0; li < nic->cfg.max_listeners; li++) {
		if (nic->listeners[li].in_use && nic->listeners[li].port == tcp->dport) {
			l = &nic->listeners[li];
			break;
		}
	}
	if (!l) {
		nic->stats.rx_no_flow_rst++;
		fp_send_rst_reply(nic, src_mac, ip, tcp);
		return;
	}
	if (l->free_count == 0) {
		/* Backlog full: drop the SYN and let the client's SYN timer
		 * retry, as Linux does with a full accept queue. */
		nic->stats.syn_backlog_drops++;
		return;
	}
	uint32_t fi = flow_alloc(nic);
	if (fi == FLOW_NONE) {
		nic->stats.syn_backlog_drops++;
		return;
	}
	struct flow *f = &nic->flows[fi];
	f->local_ip = ip->dst;
	f->local_port = tcp->dport;
	f->remote_ip = ip->src;
	f->remote_port = tcp->sport;
	f->next_hop_ip = nic_next_hop(nic, ip->src);
	memcpy(f->remote_mac, src_mac, ETH_ADDR_BYTES);
	if (arp_learn(nic, ip->src, src_mac))
		sp_arp_resolved(nic, ip->src);
	f->listener = li;
	attach_rings(nic, f, l->app, l->free_slots[--l->free_count]);
	f->opts = l->opts;
	f->mss = nic->cfg.mss;
	sp_opts_apply_open(nic, fi);
	f->state = TCP_SYN_RCVD;
	f->irs = tcp->seq;
	f->rcv_nxt = tcp->seq + 1;
	f->adv_wnd_edge = f->rcv_nxt;
	apply_syn_options(nic, f, tcp);
	sp_opts_on_peer_syn(nic, fi);
	f->ecn_ok = nic->cfg.ecn && (tcp->flags & TCP_ECE) && (tcp->flags & TCP_CWR);
	f->iss = pick_iss(nic, f);
	f->snd_una = f->iss;
	f->snd_max = f->iss;
	f->snd_emitted = f->iss;
	f->rto_ns = nic->cfg.rto_initial_ns;
	f->persist_backoff_ns = nic->cfg.rto_min_ns;
	sp_cc_init(nic, f);
	flow_hash_insert(nic, fi);
	sp_send_syn(nic, fi);
}

/* RFC 5961 3.2/4.2: an ACK that tells the peer where we are, instead of
 * acting on a segment that may be blind. */
static void send_challenge_ack(struct nic *nic, uint32_t fi)
{
	nic->stats.tx_challenge_acks++;
	fp_send_challenge_ack(nic, fi);
}

/* RFC 5961 3.2: in the receive window (RCV.WND). That is the buffer space
 * from rcv_nxt on, except for a half-open passive connection, which holds
 * no more than its SYN-ACK advertised. */
static bool seq_in_rcv_wnd(const struct flow *f, uint32_t seq)
{
	uint32_t wnd = f->rx_avail;
	if (f->state == TCP_SYN_RCVD && f->listener != FLOW_NONE)
		wnd = seq_gt(f->adv_wnd_edge, f->rcv_nxt) ? f->adv_wnd_edge - f->rcv_nxt : 0;
	return seq_in_window(seq, f->rcv_nxt, wnd ? wnd : 1);
}

/* A SYN in SYN_SENT (RFC 9293 3.5, figure 8): both sides opened at once.
 * We answer with a SYN-ACK and wait in SYN_RCVD for the ACK of our SYN. */
static void simultaneous_open(struct nic *nic, uint32_t fi, const struct tcp_view *tcp)
{
	struct flow *f = &nic->flows[fi];
	nic->stats.simultaneous_opens++;
	f->irs = tcp->seq;
	f->rcv_nxt = tcp->seq + 1;
	f->adv_wnd_edge = f->rcv_nxt;
	apply_syn_options(nic, f, tcp);
	f->ecn_ok = nic->cfg.ecn && (tcp->flags & TCP_ECE) && (tcp->flags & TCP_CWR);
	sp_opts_on_peer_syn(nic, fi);
	sp_cc_init(nic, f);
	f->state = TCP_SYN_RCVD;
	f->snd_nxt = f->iss;
	sp_send_syn(nic, fi); /* in SYN_RCVD: SYN-ACK, options echoing the peer's */
	app_notify(nic, fi, CTXQ_EVF_PEER_SYN, 0);
}

static void syn_sent_segment(struct nic *nic, uint32_t fi, const struct ipv4_view *ip, const struct tcp_view *tcp,
			     const uint8_t *src_mac)
{
	struct flow *f = &nic->flows[fi];
	bool ack_ok = (tcp->flags & TCP_ACK) && tcp->ack == f->iss + 1;
	if ((tcp->flags & TCP_ACK) && !ack_ok) {
		if (!(tcp->flags & TCP_RST))
			fp_send_rst_reply(nic, src_mac, ip, tcp);
		return;
	}
	if (tcp->flags & TCP_RST) {
		if (ack_ok)
			sp_flow_abort(nic, fi, BT_ECONNREFUSED, false);
		else
			nic->stats.rx_rst_ignored++;
		return;
	}
	if ((tcp->flags & TCP_SYN) && !(tcp->flags & TCP_ACK)) {
		if (nic->cfg.inject_bugs & NIC_BUG_NO_SIMULTANEOUS_OPEN)
			return; /* negative control: a stack that only knows client and server */
		simultaneous_open(nic, fi, tcp);
		return;
	}
	if (!(tcp->flags & TCP_SYN) || !ack_ok)
		return; /* neither SYN nor ACK: dropped (RFC 9293 3.10.7.3) */
	f->irs = tcp->seq;
	f->rcv_nxt = tcp->seq + 1;
	apply_syn_options(nic, f, tcp);
	f->ecn_ok = nic->cfg.ecn && (tcp->flags & TCP_ECE) && !(tcp->flags & TCP_CWR);
	f->snd_una = tcp->ack;
	f->state = TCP_ESTABLISHED;
	f->retries = 0;
	f->rto_ns = nic->cfg.rto_initial_ns;
	handshake_rtt_sample(nic, fi, tcp);
	sp_cc_init(nic, f);
	sp_opts_on_peer_syn(nic, fi);
	f->ack_now = true;
	nic->stats.conns_opened++;
	app_notify(nic, fi, CTXQ_EVF_CONNECTED, 0);
	sp_rto_restart(nic, fi);
	sp_keepalive_arm(nic, fi, true);
	fp_tx_schedule(nic, fi);
}

static void syn_rcvd_segment(struct nic *nic, uint32_t fi, const struct ipv4_view *ip, const struct tcp_view *tcp,
			     const uint8_t *src_mac)
{
	struct flow *f = &nic->flows[fi];
	bool active = f->listener == FLOW_NONE; /* reached by a simultaneous open */
	if (tcp->flags & TCP_RST) {
		/* RFC 5961 3.2, as in every synchronized state. From an active
		 * open the connection was refused (RFC 9293 3.10.7.4). */
		if (tcp->seq == f->rcv_nxt) {
			sp_flow_abort(nic, fi, active ? BT_ECONNREFUSED : BT_ECONNRESET, false);
			return;
		}
		nic->stats.rx_rst_ignored++;
		if (seq_in_rcv_wnd(f, tcp->seq))
			send_challenge_ack(nic, fi);
		return;
	}
	/* A simultaneous open (RFC 9293 3.5, figure 8): the peer answered
	 * our SYN with its SYN-ACK while ours to it crossed. Its ACK of our
	 * SYN completes the handshake; its SYN is old news, answered with an
	 * ACK (3.10.7.4). Taken for a lost SYN-ACK, it would be answered with
	 * our SYN-ACK by both ends, forever. */
	bool crossing_synack = active && (tcp->flags & TCP_SYN) && (tcp->flags & TCP_ACK) && tcp->seq == f->irs &&
			       tcp->ack == f->iss + 1;
	if ((tcp->flags & TCP_SYN) && !crossing_synack) {
		if (tcp->seq == f->irs) {
			f->snd_nxt = f->iss; /* their SYN again: our SYN-ACK was lost */
			sp_send_syn(nic, fi);
		}
		return;
	}
	if (crossing_synack) {
		f->ack_now = true;
		fp_tx_schedule(nic, fi);
	}
	if (!(tcp->flags & TCP_ACK))
		return;
	if (tcp->ack != f->iss + 1) {
		fp_send_rst_reply(nic, src_mac, ip, tcp);
		return;
	}
	f->snd_una = tcp->ack;
	f->snd_wnd = (uint32_t)tcp->window << f->snd_wscale;
	f->state = TCP_ESTABLISHED;
	f->retries = 0;
	f->rto_ns = nic->cfg.rto_initial_ns;
	handshake_rtt_sample(nic, fi, tcp);
	sp_rto_restart(nic, fi);
	sp_keepalive_arm(nic, fi, true);
	if (active) {
		nic->stats.conns_opened++;
		app_notify(nic, fi, CTXQ_EVF_CONNECTED, 0);
	} else {
		nic->stats.conns_accepted++;
		app_notify(nic, fi, CTXQ_EVF_ACCEPTED, 0);
	}
	/* The handshake's last ACK may carry data and even a FIN. */
	if (tcp->payload_len || (tcp->flags & TCP_FIN))
		fp_rx_established(nic, fi, ip, tcp);
}

static void synchronized_rst_or_syn(struct nic *nic, uint32_t fi, const struct tcp_view *tcp)
{
	struct flow *f = &nic->flows[fi];
	if (tcp->flags & TCP_RST) {
		/* RFC 5961 3.2: only an RST at exactly rcv_nxt resets; one
		 * elsewhere in the window earns a challenge ACK; the rest is
		 * dropped. Blind resets need to guess rcv_nxt exactly. */
		if (tcp->seq == f->rcv_nxt) {
			sp_flow_abort(nic, fi, BT_ECONNRESET, false);
			return;
		}
		nic->stats.rx_rst_ignored++;
		if (seq_in_rcv_wnd(f, tcp->seq))
			send_challenge_ack(nic, fi);
		return;
	}
	/* RFC 5961 4.2: a SYN on a synchronized connection gets a challenge
	 * ACK, never a reset of the connection. */
	send_challenge_ack(nic, fi);
}

/* TIME_WAIT (RFC 9293 3.10.7.4 with RFC 5961): a reset at rcv_nxt ends
 * it, one elsewhere in the window is challenged; a SYN is challenged; a
 * segment without ACK is dropped; a FIN is the peer repeating itself (our
 * last ACK was lost): ACK again and restart 2MSL; anything but an exact
 * duplicate ACK is answered with an ACK. */
static void time_wait_segment(struct nic *nic, uint32_t fi, const struct tcp_view *tcp)
{
	struct flow *f = &nic->flows[fi];
	if (tcp->flags & TCP_RST) {
		if (tcp->seq == f->rcv_nxt) {
			flow_retire(nic, fi);
			return;
		}
		nic->stats.rx_rst_ignored++;
		if (seq_in_rcv_wnd(f, tcp->seq))
			send_challenge_ack(nic, fi);
		return;
	}
	if (tcp->flags & TCP_SYN) {
		send_challenge_ack(nic, fi);
		return;
	}
	if (!(tcp->flags & TCP_ACK))
		return;
	if (tcp->flags & TCP_FIN) {
		f->tw_deadline_ns = nic_now(nic) + nic->cfg.time_wait_ns;
		sp_timer_update(nic, fi);
		fp_send_ack(nic, fi);
		return;
	}
	bool duplicate = tcp->payload_len == 0 && tcp->seq == f->rcv_nxt && tcp->ack == f->snd_nxt;
	if (!duplicate)
		fp_send_ack(nic, fi);
}

void sp_segment(struct nic *nic, uint32_t fi, const uint8_t *src_mac, const struct ipv4_view *ip,
		const struct tcp_view *tcp)
{
	if (fi == FLOW_NONE) {
		if (tcp->flags & TCP_RST) {
			nic->stats.rx_rst_ignored++; /* never answer a reset */
			return;
		}
		if (!(tcp->flags & TCP_ACK) && port_listening(nic, tcp->dport)) {
			/* LISTEN (RFC 9293 3.10.7.2): a SYN opens; anything else
			 * without an ACK is dropped, not answered. */
			if ((tcp->flags & TCP_SYN) && !((tcp->flags & TCP_FIN) && nic->cfg.drop_syn_fin))
				passive_open(nic, src_mac, ip, tcp);
			else
				nic->stats.rx_listen_dropped++;
			return;
		}
		/* CLOSED, or an ACK to a listener: RST. */
		nic->stats.rx_no_flow_rst++;
		fp_send_rst_reply(nic, src_mac, ip, tcp);
		return;
	}
	struct flow *f = &nic->flows[fi];
	if ((tcp->flags & (TCP_SYN | TCP_FIN)) == (TCP_SYN | TCP_FIN) && nic->cfg.drop_syn_fin &&
	    f->state != TCP_TIME_WAIT) {
		nic->stats.rx_bad_tcp++; /* FreeBSD's drop_synfin: SYN with FIN is never legitimate */
		return;
	}
	switch (f->state) {
	case TCP_SYN_SENT:
		syn_sent_segment(nic, fi, ip, tcp, src_mac);
		return;
	case TCP_SYN_RCVD:
		syn_rcvd_segment(nic, fi, ip, tcp, src_mac);
		return;
	case TCP_TIME_WAIT:
		time_wait_segment(nic, fi, tcp);
		return;
	case TCP_CLOSED:
		/* A flow already ended that has not left its lists yet: to the
		 * peer it does not exist, so answer as for no flow. Its
		 * challenge ACK to our RST gets the RST it can accept. */
		if (!(tcp->flags & TCP_RST)) {
			nic->stats.rx_no_flow_rst++;
			fp_send_rst_reply(nic, src_mac, ip, tcp);
		} else {
			nic->stats.rx_rst_ignored++;
		}
		return;
	default:
		synchronized_rst_or_syn(nic, fi, tcp);
		return;
	}
}

/* ---- commands from the host ---- */

static bool slot_valid_and_free(struct nic *nic, int app, uint32_t slot)
{
	struct nic_app *a = &nic->apps[app];
	return slot < a->hello.max_conns && a->slot_flow[slot] == FLOW_NONE;
}

static struct listener *find_listener(struct nic *nic, int app, uint32_t host_id)
{
	for (uint32_t i = 0; i < nic->cfg.max_listeners; i++) {
		struct listener *l = &nic->listeners[i];
		if (l->in_use && l->app == app && l->host_id == host_id)
			return l;
	}
	return NULL;
}

void sp_cmd_listen(struct nic *nic, int app, const struct ctxq_cmd *cmd)
{
	uint32_t backlog = cmd->arg0;
	if (backlog == 0 || backlog > nic->apps[app].hello.max_conns || find_listener(nic, app, cmd->host_conn)) {
		app_refuse(nic, app, cmd->host_conn, CTXQ_EVF_LISTEN_ERR, BT_EINVAL);
		return;
	}
	struct listener *free_l = NULL;
	for (uint32_t i = 0; i < nic->cfg.max_listeners; i++) {
		struct listener *l = &nic->listeners[i];
		if (l->in_use && l->port == cmd->port) {
			app_refuse(nic, app, cmd->host_conn, CTXQ_EVF_LISTEN_ERR, BT_EADDRINUSE);
			return;
		}
		if (!l->in_use && !free_l)
			free_l = l;
	}
	uint32_t *slots = free_l ? calloc(backlog, sizeof(*slots)) : NULL;
	if (!slots) {
		app_refuse(nic, app, cmd->host_conn, CTXQ_EVF_LISTEN_ERR, BT_ENOMEM);
		return;
	}
	*free_l = (struct listener){.in_use = true,
				    .port = cmd->port,
				    .app = (uint16_t)app,
				    .host_id = cmd->host_conn,
				    .backlog = backlog,
				    .free_slots = slots};
	sp_opts_default(nic, &free_l->opts);
}

void sp_cmd_unlisten(struct nic *nic, int app, const struct ctxq_cmd *cmd)
{
	struct listener *l = find_listener(nic, app, cmd->host_conn);
	if (!l) {
		nic->stats.cmds_invalid++;
		return;
	}
	uint32_t li = (uint32_t)(l - nic->listeners);
	/* Half-open connections are reset (their slots come back to the
	 * list below); accepted ones the host has not taken yet are the
	 * host's to abort: it knows which it took. */
	for (uint32_t i = 0; i < nic->flows_hi; i++) {
		struct flow *f = &nic->flows[i];
		if (!f->in_use || f->retired || f->listener != li)
			continue;
		if (f->state == TCP_SYN_RCVD)
			sp_flow_abort(nic, i, 0, true);
		f->listener = FLOW_NONE;
	}
	struct nic_app *a = &nic->apps[app];
	for (uint32_t k = 0; k < l->free_count; k++) {
		a->slot_flow[l->free_slots[k]] = FLOW_NONE;
		app_return_slot(nic, app, l->free_slots[k]);
	}
	free(l->free_slots);
	memset(l, 0, sizeof(*l));
}

void sp_cmd_accept_slot(struct nic *nic, int app, const struct ctxq_cmd *cmd)
{
	struct listener *l = find_listener(nic, app, cmd->arg0);
	if (!l || !slot_valid_and_free(nic, app, cmd->host_conn) || l->free_count >= l->backlog) {
		app_refuse(nic, app, cmd->host_conn, CTXQ_EVF_REFUSED, BT_EINVAL);
		return;
	}
	l->free_slots[l->free_count++] = cmd->host_conn;
	nic->apps[app].slot_flow[cmd->host_conn] = SLOT_LISTENING;
}

static uint16_t pick_local_port(struct nic *nic, uint32_t remote_ip, uint16_t remote_port)
{
	for (uint32_t tries = 0; tries < EPHEMERAL_COUNT; tries++) {
		uint16_t port = (uint16_t)(EPHEMERAL_FIRST + nic->next_ephemeral_port % EPHEMERAL_COUNT);
		nic->next_ephemeral_port = (uint16_t)((nic->next_ephemeral_port + 1) % EPHEMERAL_COUNT);
		if (!flow_port_in_use(nic, port, remote_ip, remote_port))
			return port;
	}
	return 0;
}

void sp_cmd_connect(struct nic *nic, int app, const struct ctxq_cmd *cmd)
{
	uint32_t slot = cmd->host_conn;
	if (!slot_valid_and_free(nic, app, slot) || cmd->port == 0 || cmd->arg0 == 0) {
		app_refuse(nic, app, slot, CTXQ_EVF_REFUSED, BT_EINVAL);
		return;
	}
	uint32_t next_hop = nic_next_hop(nic, cmd->arg0);
	if (next_hop == 0) {
		app_refuse(nic, app, slot, CTXQ_EVF_REFUSED, BT_EHOSTUNREACH);
		return;
	}
	if (cmd->arg1 > UINT16_MAX) {
		app_refuse(nic, app, slot, CTXQ_EVF_REFUSED, BT_EINVAL);
		return;
	}
	/* A local port the application chose (bind before connect, as a
	 * simultaneous open needs): any port, unless the 4-tuple is taken. */
	if (cmd->arg1 && flow_port_in_use(nic, (uint16_t)cmd->arg1, cmd->arg0, cmd->port)) {
		app_refuse(nic, app, slot, CTXQ_EVF_REFUSED, BT_EADDRINUSE);
		return;
	}
	uint16_t local_port = cmd->arg1 ? (uint16_t)cmd->arg1 : pick_local_port(nic, cmd->arg0, cmd->port);
	uint32_t fi = local_port ? flow_alloc(nic) : FLOW_NONE;
	if (fi == FLOW_NONE) {
		app_refuse(nic, app, slot, CTXQ_EVF_REFUSED, BT_ENOBUFS);
		return;
	}
	struct flow *f = &nic->flows[fi];
	f->local_ip = nic->cfg.ip;
	f->local_port = local_port;
	f->remote_ip = cmd->arg0;
	f->remote_port = cmd->port;
	f->next_hop_ip = next_hop;
	attach_rings(nic, f, app, slot);
	f->opts = nic->apps[app].slot_opts[slot];
	sp_opts_default(nic, &nic->apps[app].slot_opts[slot]);
	f->mss = nic->cfg.mss;
	sp_opts_apply_open(nic, fi);
	f->state = TCP_SYN_SENT;
	f->iss = pick_iss(nic, f);
	f->snd_una = f->iss;
	f->snd_nxt = f->iss;
	f->snd_max = f->iss;
	f->snd_emitted = f->iss;
	f->rto_ns = nic->cfg.rto_initial_ns;
	f->persist_backoff_ns = nic->cfg.rto_min_ns;
	flow_hash_insert(nic, fi);
	if (sp_arp_lookup(nic, next_hop, f->remote_mac)) {
		sp_send_syn(nic, fi);
	} else {
		f->arp_wait = true;
		f->rto_deadline_ns = nic_now(nic) + nic->cfg.arp_timeout_ns;
		sp_timer_update(nic, fi);
	}
}

void sp_cmd_close(struct nic *nic, int app, const struct ctxq_cmd *cmd, bool abort)
{
	uint32_t slot = cmd->host_conn;
	struct nic_app *a = &nic->apps[app];
	if (slot >= a->hello.max_conns) {
		nic->stats.cmds_invalid++;
		return;
	}
	/* A close racing the RELEASED event of a flow that already ended is
	 * stale, not hostile: nothing to do. */
	uint32_t fi = cmd->flow_id;
	/* Closed before CONNECTED reached the host, which cannot name the
	 * flow yet: the one its CONNECT opened in this slot. */
	if (fi == FLOW_NONE)
		fi = a->slot_flow[slot];
	if (a->slot_flow[slot] != fi || fi >= nic->cfg.max_flows)
		return;
	struct flow *f = &nic->flows[fi];
	if (abort || f->state == TCP_SYN_SENT) {
		sp_flow_abort(nic, fi, 0, true);
		return;
	}
	if (!(cmd->flags & CTXQ_CMDF_WR_ONLY) && !f->app_gone) {
		f->app_gone = true;
		/* Shut for writing before and our FIN already acknowledged: the
		 * rings were kept for reading, which is over now. */
		if (f->fin_sent && seq_geq(f->snd_una, f->fin_seq + 1)) {
			sp_flow_release(nic, fi);
			if (f->state == TCP_FIN_WAIT_2) {
				f->tw_deadline_ns = nic_now(nic) + nic->cfg.fin_wait2_ns;
				sp_timer_update(nic, fi);
			}
		}
	}
	if (f->app_closed)
		return;
	f->app_closed = true;
	fp_tx_schedule(nic, fi);
}

int sp_arp_lookup(struct nic *nic, uint32_t ip, uint8_t mac_out[6])
{
	struct arp_frame request;
	if (arp_lookup(nic, ip, mac_out, &request))
		return 1;
	if (request.len && fp_emit_frame(nic, request.bytes, request.len) == 0)
		nic->stats.arp_requests_sent++;
	return 0;
}

void sp_arp_resolved(struct nic *nic, uint32_t ip)
{
	for (uint32_t i = 0; i < nic->flows_hi; i++) {
		struct flow *f = &nic->flows[i];
		if (f->in_use && f->arp_wait && f->next_hop_ip == ip && sp_arp_lookup(nic, ip, f->remote_mac)) {
			f->arp_wait = false;
			f->rto_deadline_ns = 0;
			f->retries = 0;
			sp_send_syn(nic, i);
		}
	}
}

void sp_app_gone(struct nic *nic, int app)
{
	for (uint32_t i = 0; i < nic->flows_hi; i++) {
		struct flow *f = &nic->flows[i];
		if (!f->in_use || f->app != app || f->retired)
			continue;
		bool synchronized = f->state != TCP_SYN_SENT && f->state != TCP_TIME_WAIT && f->state != TCP_CLOSED;
		if (f->in_notify) {
			/* Unlink nothing: the list dies with the app below;
			 * just make sure the flow does not wait for it. */
			f->in_notify = false;
		}
		f->host_slot = FLOW_NONE; /* no event for it ever again */
		/* Closed by the application and released (our FIN acknowledged,
		 * its rings handed back): the NIC finishes it alone, as Linux
		 * finishes an orphaned socket; resetting it would send an RST
		 * after a clean close. Nothing of the app is touched again
		 * (data arriving now is answered with an RST, fp_rx.c). */
		if (f->app_closed && !f->rings_attached && (f->state == TCP_FIN_WAIT_2 || f->state == TCP_TIME_WAIT))
			continue;
		f->rings_attached = false;
		if (synchronized && f->state != TCP_TIME_WAIT)
			fp_send_ctrl(nic, i, TCP_RST, f->snd_emitted);
		if (f->state != TCP_TIME_WAIT)
			nic->stats.conns_reset++;
		flow_retire(nic, i);
	}
	for (uint32_t i = 0; i < nic->cfg.max_listeners; i++) {
		struct listener *l = &nic->listeners[i];
		if (l->in_use && l->app == app) {
			free(l->free_slots);
			memset(l, 0, sizeof(*l));
		}
	}
	struct nic_app *a = &nic->apps[app];
	a->notify_head = a->notify_tail = FLOW_NONE;
}
