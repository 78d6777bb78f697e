/*
 * sp_opts.c: per-connection options (SETOPT). A listener's options are
 * inherited by the flows it accepts; a free slot's options wait for the
 * slot's CONNECT; an open flow's change at once. What each option does to
 * the wire: the receive window limit and its scale, the MSS clamp in the
 * SYN, Nagle and cork in fp_tx.c, the user timeout in sp_timers.c,
 * keepalive in sp_keepalive.c.
 */
#include "../bluetas.h"
#include "nic_internal.h"

void sp_opts_default(const struct nic *nic, struct flow_opts *o)
{
	*o = (struct flow_opts){.nagle = nic->cfg.nagle};
}

uint16_t sp_adv_mss(const struct nic *nic, const struct flow *f)
{
	uint16_t mss = nic->cfg.mss;
	if (f->opts.maxseg_bytes && f->opts.maxseg_bytes < mss)
		mss = f->opts.maxseg_bytes;
	return mss;
}

static uint8_t wscale_for(uint32_t window_bytes)
{
	uint8_t shift = 0;
	while (shift < TCP_WSCALE_MAX && (window_bytes >> shift) > 0xffff)
		shift++;
	return shift;
}

void sp_opts_apply_open(struct nic *nic, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	uint32_t buf = f->rx_ring_len;
	if (f->opts.rcvbuf_bytes && f->opts.rcvbuf_bytes < buf)
		buf = f->opts.rcvbuf_bytes;
	f->rx_buf_bytes = buf;
	f->rx_avail = buf;
	f->quickacks_left = nic->cfg.quickack_segs;
	f->rcv_wscale = nic->cfg.rcv_wscale >= 0 ? (uint8_t)nic->cfg.rcv_wscale : wscale_for(buf);
	uint16_t adv = sp_adv_mss(nic, f);
	if (f->mss > adv)
		f->mss = adv;
}

void sp_opts_on_peer_syn(struct nic *nic, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	if (!nic->cfg.rcvbuf_round_mss || f->mss == 0)
		return;
	/* FreeBSD's tcp_mss: the buffer becomes a whole number of segments. */
	uint32_t want = (f->rx_buf_bytes + f->mss - 1) / f->mss * f->mss;
	if (want > f->rx_ring_len)
		want = f->rx_ring_len;
	if (want > f->rx_buf_bytes) {
		f->rx_avail += want - f->rx_buf_bytes;
		f->rx_buf_bytes = want;
	}
}

/* Validates and stores one option; false for an unknown one. */
static bool opts_store(struct flow_opts *o, uint32_t opt, uint32_t val)
{
	switch (opt) {
	case CTXQ_OPT_RCVBUF:
		if (val == 0)
			return false;
		o->rcvbuf_bytes = val;
		return true;
	case CTXQ_OPT_NODELAY:
		o->nagle = val == 0;
		return true;
	case CTXQ_OPT_MAXSEG:
		if (val < 64 || val > 0xffff)
			return false;
		o->maxseg_bytes = (uint16_t)val;
		return true;
	case CTXQ_OPT_USER_TIMEOUT:
		o->user_timeout_ms = val;
		return true;
	case CTXQ_OPT_CORK:
		o->cork = val != 0;
		return true;
	case CTXQ_OPT_KEEPALIVE:
		o->keepalive = val != 0;
		return true;
	case CTXQ_OPT_KEEPIDLE:
		if (val < 1 || val > BT_KEEPIDLE_MAX_S)
			return false;
		o->keepidle_s = (uint16_t)val;
		return true;
	case CTXQ_OPT_KEEPINTVL:
		if (val < 1 || val > BT_KEEPINTVL_MAX_S)
			return false;
		o->keepintvl_s = (uint16_t)val;
		return true;
	case CTXQ_OPT_KEEPCNT:
		if (val < 1 || val > BT_KEEPCNT_MAX)
			return false;
		o->keepcnt = (uint8_t)val;
		return true;
	case CTXQ_OPT_TOS:
		if (val > 0xff)
			return false;
		o->tos = (uint8_t)val;
		return true;
	default:
		return false;
	}
}

/* What a changed option means for a flow that is already open. */
static void apply_live(struct nic *nic, uint32_t fi, uint32_t opt)
{
	struct flow *f = &nic->flows[fi];
	switch (opt) {
	case CTXQ_OPT_RCVBUF: {
		/* Grows at once; shrinks only by the free part of the window,
		 * never by bytes already promised (RFC 9293 3.8.6). */
		uint32_t want = f->opts.rcvbuf_bytes < f->rx_ring_len ? f->opts.rcvbuf_bytes : f->rx_ring_len;
		if (want > f->rx_buf_bytes) {
			f->rx_avail += want - f->rx_buf_bytes;
			f->rx_buf_bytes = want;
		} else {
			uint32_t used = f->rx_buf_bytes - f->rx_avail;
			uint32_t keep_free = f->rx_avail;
			uint32_t promised = f->adv_wnd_edge - f->rcv_nxt;
			if (seq_lt(f->adv_wnd_edge, f->rcv_nxt))
				promised = 0;
			uint32_t floor_free = promised < keep_free ? promised : keep_free;
			uint32_t new_free = want > used ? want - used : 0;
			if (new_free < floor_free)
				new_free = floor_free;
			f->rx_buf_bytes = used + new_free;
			f->rx_avail = new_free;
		}
		fp_tx_schedule(nic, fi);
		break;
	}
	case CTXQ_OPT_MAXSEG:
		if (f->opts.maxseg_bytes < f->mss)
			f->mss = f->opts.maxseg_bytes;
		break;
	case CTXQ_OPT_NODELAY:
		/* Setting TCP_NODELAY (again) pushes what is held, corked or
		 * not, once, as Linux's setsockopt does (sockopt_cork_nodelay). */
		if (!f->opts.nagle)
			f->push_held = true;
		fp_tx_schedule(nic, fi);
		break;
	case CTXQ_OPT_CORK:
		/* Turning it off releases what it held back. */
		fp_tx_schedule(nic, fi);
		break;
	case CTXQ_OPT_KEEPALIVE:
	case CTXQ_OPT_KEEPIDLE:
		/* On, off, or a new idle time counted from the peer's last
		 * segment. A new interval or count applies from the next probe. */
		sp_keepalive_arm(nic, fi, false);
		break;
	default:
		break;
	}
}

void sp_cmd_setopt(struct nic *nic, int app, const struct ctxq_cmd *cmd)
{
	struct nic_app *a = &nic->apps[app];
	if (cmd->flags & CTXQ_CMDF_LISTENER) {
		for (uint32_t i = 0; i < nic->cfg.max_listeners; i++) {
			struct listener *l = &nic->listeners[i];
			if (l->in_use && l->app == app && l->host_id == cmd->host_conn) {
				if (!opts_store(&l->opts, cmd->arg0, cmd->arg1))
					nic->stats.cmds_invalid++;
				return;
			}
		}
		nic->stats.cmds_invalid++;
		return;
	}
	uint32_t slot = cmd->host_conn;
	if (slot >= a->hello.max_conns) {
		nic->stats.cmds_invalid++;
		return;
	}
	uint32_t fi = a->slot_flow[slot];
	if (fi == FLOW_NONE) {
		if (!opts_store(&a->slot_opts[slot], cmd->arg0, cmd->arg1))
			nic->stats.cmds_invalid++;
		return;
	}
	/* A flow that ended meanwhile (or a slot lent to a listener): stale. */
	if (fi != cmd->flow_id || fi >= nic->cfg.max_flows)
		return;
	struct flow *f = &nic->flows[fi];
	if (!opts_store(&f->opts, cmd->arg0, cmd->arg1)) {
		nic->stats.cmds_invalid++;
		return;
	}
	apply_live(nic, fi, cmd->arg0);
}
