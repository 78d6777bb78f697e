/*
 * host_sock.c: what the socket API needs beyond open/send/recv/close:
 * addresses, shutdown, abort, closing a listener, per-connection options
 * and poll readiness. Everything here reads host memory only; what the
 * NIC must hear is recorded as owed and flushed like every command.
 */
#include <string.h>

#include "host_internal.h"

static_assert((int)BT_OPT_RCVBUF == (int)CTXQ_OPT_RCVBUF && (int)BT_OPT_NODELAY == (int)CTXQ_OPT_NODELAY &&
		      (int)BT_OPT_MAXSEG == (int)CTXQ_OPT_MAXSEG &&
		      (int)BT_OPT_USER_TIMEOUT == (int)CTXQ_OPT_USER_TIMEOUT && (int)BT_OPT_CORK == (int)CTXQ_OPT_CORK &&
		      (int)BT_OPT_KEEPALIVE == (int)CTXQ_OPT_KEEPALIVE && (int)BT_OPT_KEEPIDLE == (int)CTXQ_OPT_KEEPIDLE &&
		      (int)BT_OPT_KEEPINTVL == (int)CTXQ_OPT_KEEPINTVL && (int)BT_OPT_KEEPCNT == (int)CTXQ_OPT_KEEPCNT &&
		      (int)BT_OPT_TOS == (int)CTXQ_OPT_TOS,
	      "SETOPT carries enum bt_opt as is");

uint32_t host_tx_space(const struct bt_host *h, const struct host_conn *c)
{
	uint32_t limit = h->cfg.tx_ring_bytes;
	if (c->opts_set & (1u << BT_OPT_SNDBUF) && c->sndbuf_bytes < limit)
		limit = c->sndbuf_bytes;
	return c->tx_used >= limit ? 0 : limit - c->tx_used;
}

int host_opt_check(const struct bt_host *h, int opt, uint32_t val)
{
	switch (opt) {
	case BT_OPT_SNDBUF:
		return val >= 1 && val <= h->cfg.tx_ring_bytes ? 0 : -1;
	case BT_OPT_RCVBUF:
		return val >= 1 && val <= h->cfg.rx_ring_bytes ? 0 : -1;
	case BT_OPT_NODELAY:
	case BT_OPT_CORK:
	case BT_OPT_KEEPALIVE:
		return val <= 1 ? 0 : -1;
	case BT_OPT_KEEPIDLE:
		return val >= 1 && val <= BT_KEEPIDLE_MAX_S ? 0 : -1;
	case BT_OPT_KEEPINTVL:
		return val >= 1 && val <= BT_KEEPINTVL_MAX_S ? 0 : -1;
	case BT_OPT_KEEPCNT:
		return val >= 1 && val <= BT_KEEPCNT_MAX ? 0 : -1;
	case BT_OPT_MAXSEG:
		return val >= 64 && val <= 0xffff ? 0 : -1;
	case BT_OPT_USER_TIMEOUT:
		return 0;
	case BT_OPT_TOS:
		return val <= 0xff ? 0 : -1;
	default:
		return -1; /* includes BT_OPT_ERROR: read-only */
	}
}

int host_opts_check(const struct bt_host *h, const struct bt_opts *opts)
{
	if (!opts)
		return 0;
	if (opts->set & ~((1u << BT_OPT__COUNT) - 1))
		return -1;
	for (int opt = 0; opt < BT_OPT__COUNT; opt++)
		if ((opts->set & (1u << opt)) && host_opt_check(h, opt, opts->val[opt]) < 0)
			return -1;
	return 0;
}

void host_conn_take_opts(struct host_conn *c, const struct bt_opts *opts, bool owed)
{
	for (int opt = 0; opt < BT_OPT__COUNT; opt++) {
		if (!(opts->set & (1u << opt)))
			continue;
		c->opt_val[opt] = opts->val[opt];
		c->opts_set |= 1u << opt;
		if (opt == BT_OPT_SNDBUF)
			c->sndbuf_bytes = opts->val[opt];
		else if (owed)
			c->opts_owed |= 1u << opt;
	}
}

int bt_conn_addrs(struct bt_host *h, int id, struct bt_addr *local, struct bt_addr *peer)
{
	struct host_listener *l = host_user_listener(h, id);
	if (l) {
		if (local)
			*local = (struct bt_addr){.ip = 0, .port = l->port};
		return peer ? BT_ENOTCONN : BT_OK;
	}
	struct host_conn *c = host_user_conn(h, id);
	if (!c)
		return BT_EINVAL;
	if (!c->has_info || c->state != SLOT_OPEN)
		return BT_ENOTCONN;
	if (local)
		*local = (struct bt_addr){.ip = c->info.local_ip, .port = c->info.local_port};
	if (peer)
		*peer = (struct bt_addr){.ip = c->info.remote_ip, .port = c->info.remote_port};
	return BT_OK;
}

int bt_conn_info(struct bt_host *h, int id, struct bt_conn_info *out)
{
	struct host_conn *c = host_user_conn(h, id);
	if (!c || !out)
		return BT_EINVAL;
	if (!c->has_info)
		return BT_ENOTCONN;
	uint8_t o = c->info.options;
	*out = (struct bt_conn_info){.mss = c->info.mss,
				     .snd_wscale = c->info.snd_wscale,
				     .rcv_wscale = c->info.rcv_wscale,
				     .timestamps = o & CTXQ_INFO_TS,
				     .window_scaling = o & CTXQ_INFO_WSCALE,
				     .ecn = o & CTXQ_INFO_ECN,
				     .sack = o & CTXQ_INFO_SACK};
	return BT_OK;
}

int bt_shutdown(struct bt_host *h, int id, int how)
{
	struct host_conn *c = host_user_conn(h, id);
	if (!c || how < BT_SHUT_RD || how > BT_SHUT_RDWR)
		return BT_EINVAL;
	if (c->state != SLOT_OPEN)
		return BT_ENOTCONN;
	if (how & BT_SHUT_RD)
		c->shut_rd = true;
	if ((how & BT_SHUT_WR) && !c->shut_wr) {
		c->shut_wr = true;
		if (!c->nic_released) {
			c->shut_wr_owed = true;
			host_mark_dirty(h, id);
		}
	}
	host_flush_commands(h);
	return BT_OK;
}

int bt_abort(struct bt_host *h, int id)
{
	struct host_conn *c = host_user_conn(h, id);
	if (!c)
		return BT_EINVAL;
	if (host_close_local(h, id, c))
		return BT_OK;
	c->abort_owed = true;
	host_mark_dirty(h, id);
	host_flush_commands(h);
	return BT_OK;
}

int bt_listen_close(struct bt_host *h, int id)
{
	struct host_listener *l = host_user_listener(h, id);
	if (!l)
		return BT_EINVAL;
	int li = id - HOST_LISTENER_BASE;
	/* Accepted by the NIC, not taken by the application: reset. */
	for (int slot = l->accept_head; slot != HOST_NONE;) {
		struct host_conn *c = &h->conns[slot];
		int next = c->accept_next;
		c->state = SLOT_OPEN;
		c->app_closed = true;
		c->abort_owed = true;
		host_mark_dirty(h, slot);
		slot = next;
	}
	/* Lent to the NIC as accept slots: those never posted are freed now;
	 * the others come back with the NIC's answer to UNLISTEN (REFUSED),
	 * or as an ACCEPTED connection, reset on arrival (host.c). */
	for (uint32_t i = 0; i < h->cfg.max_conns; i++) {
		struct host_conn *c = &h->conns[i];
		if (!c->allocated || c->state != SLOT_POSTED || c->listener != li)
			continue;
		c->listener = HOST_NONE;
		if (c->slot_owed) {
			c->slot_owed = false;
			host_free_slot(h, (int)i);
		}
	}
	bool listen_sent = !l->listen_owed;
	*l = (struct host_listener){.unlisten_owed = listen_sent, .accept_head = HOST_NONE, .accept_tail = HOST_NONE};
	h->listeners_dirty = true;
	host_flush_commands(h);
	return BT_OK;
}

int bt_setopt(struct bt_host *h, int id, enum bt_opt opt, uint32_t val)
{
	if (host_opt_check(h, (int)opt, val) < 0)
		return BT_EINVAL;
	struct bt_opts one = {0};
	bt_opts_set(&one, opt, val);
	struct host_listener *l = host_user_listener(h, id);
	if (l) {
		l->opts.set |= 1u << opt;
		l->opts.val[opt] = val;
		if (opt != BT_OPT_SNDBUF) {
			l->opts_owed |= 1u << opt;
			h->listeners_dirty = true;
		}
		host_flush_commands(h);
		return BT_OK;
	}
	struct host_conn *c = host_user_conn(h, id);
	if (!c)
		return BT_EINVAL;
	host_conn_take_opts(c, &one, !c->nic_released);
	if (c->opts_owed)
		host_mark_dirty(h, id);
	host_flush_commands(h);
	return BT_OK;
}

int bt_getopt(struct bt_host *h, int id, enum bt_opt opt, uint32_t *val_out)
{
	if (!val_out || (int)opt < 0 || opt >= BT_OPT__COUNT)
		return BT_EINVAL;
	struct host_listener *l = host_user_listener(h, id);
	struct host_conn *c = l ? NULL : host_user_conn(h, id);
	if (!l && !c)
		return BT_EINVAL;
	uint32_t set = l ? l->opts.set : c->opts_set;
	const uint32_t *val = l ? l->opts.val : c->opt_val;
	switch (opt) {
	case BT_OPT_ERROR: {
		int err = l ? l->err : c->err;
		bool reported = c ? c->err_reported : false;
		*val_out = err && !reported ? (uint32_t)-err : 0;
		if (c && err)
			c->err_reported = true;
		return BT_OK;
	}
	case BT_OPT_SNDBUF:
		*val_out = set & (1u << opt) ? val[opt] : h->cfg.tx_ring_bytes;
		return BT_OK;
	case BT_OPT_RCVBUF:
		*val_out = set & (1u << opt) ? val[opt] : h->cfg.rx_ring_bytes;
		return BT_OK;
	case BT_OPT_MAXSEG:
		/* The MSS in use once open (the smaller of both sides'). */
		if (c && c->has_info)
			*val_out = c->info.mss;
		else
			*val_out = set & (1u << opt) ? val[opt] : 0;
		return BT_OK;
	case BT_OPT_KEEPIDLE:
		*val_out = set & (1u << opt) ? val[opt] : BT_KEEPIDLE_DEFAULT_S;
		return BT_OK;
	case BT_OPT_KEEPINTVL:
		*val_out = set & (1u << opt) ? val[opt] : BT_KEEPINTVL_DEFAULT_S;
		return BT_OK;
	case BT_OPT_KEEPCNT:
		*val_out = set & (1u << opt) ? val[opt] : BT_KEEPCNT_DEFAULT;
		return BT_OK;
	default:
		*val_out = set & (1u << opt) ? val[opt] : 0;
		return BT_OK;
	}
}

uint32_t bt_readiness(struct bt_host *h, int id)
{
	struct host_listener *l = host_user_listener(h, id);
	if (l)
		return (l->accept_head != HOST_NONE ? BT_READY_IN : 0) | (l->err ? BT_READY_IN | BT_READY_ERR : 0);
	struct host_conn *c = host_user_conn(h, id);
	if (!c)
		return 0;
	uint32_t r = 0;
	if (c->err && !c->err_reported)
		r |= BT_READY_ERR;
	if (c->err) /* reset, refused, timed out: every direction is over */
		return r | BT_READY_IN | BT_READY_OUT | BT_READY_RDHUP | BT_READY_HUP;
	if (c->state != SLOT_OPEN)
		return r; /* connecting */
	bool rd_done = c->eof || c->shut_rd;
	bool wr_done = c->shut_wr || c->nic_released;
	if (c->rx_ready || rd_done)
		r |= BT_READY_IN;
	if (rd_done)
		r |= BT_READY_RDHUP;
	if (rd_done && wr_done)
		r |= BT_READY_HUP;
	if (wr_done || host_tx_space(h, c) > 0)
		r |= BT_READY_OUT;
	return r;
}
