/*
 * scn_apps.c: scenario workloads on the host library. Clients (echo, rpc,
 * stream, churn) generate their bytes from (key, stream offset); servers
 * (echo-server, sink, rpc-server) and clients check every byte they
 * receive. Application faults (slow reader, stop reading, exit) and the
 * sleep/wakeup discipline live here too.
 */
#include "scn_apps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/ctxq.h"
#include "../core/util/mix.h"
#include "scn_pattern.h"
#include "../core/util/appendf.h"

#define CHUNK_BYTES 65536u
#define CONN_HDR_BYTES 16u
#define MSG_HDR_BYTES 8u
#define RESP_SALT 0x5bd1e9955bd1e995ull

enum cphase { C_IDLE = 0, C_CONNECTING, C_ACTIVE, C_DONE };

struct cconn {
	int id;
	uint8_t phase;
	uint32_t cycle;
	uint64_t key;
	uint64_t rng;
	uint64_t out_off, in_off;
	uint64_t msg_idx;
	bool msg_active;
	uint64_t msg_out_end, msg_in_end;
	uint64_t msg_hdr_at; /* rpc: out offset of the current message header */
	uint8_t msg_hdr[MSG_HDR_BYTES];
	bool eof_seen;
	/* peer: the other peer's stream, checked as a sink checks one */
	uint8_t in_hdr[CONN_HDR_BYTES];
	uint64_t in_key;
};

struct sconn {
	bool open;
	bool eof;
	uint64_t in_off;
	uint8_t conn_hdr[CONN_HDR_BYTES];
	uint64_t key, total;
	/* echo */
	uint8_t *buf;
	uint32_t head, used;
	/* rpc */
	uint8_t mhdr[MSG_HDR_BYTES];
	uint32_t mhdr_have;
	uint64_t req_left;
	uint64_t resp_left, resp_off;
	uint32_t cur_resp; /* response size of the request being read */
};

struct scn_app_rt {
	struct scn_app cfg;
	struct scn_app_env env;
	struct bt_host *h;
	uint32_t max_ids;
	struct cconn *cc;      /* clients: cfg.conns */
	uint32_t cc_done;      /* how many of them reached C_DONE (they stay there) */
	int32_t *cc_of_id;
	struct sconn *sc;      /* servers: by connection id */
	int listener;
	bool started;
	/* sleeping */
	bool sleeping;
	uint64_t sleep_deadline_ns;
	/* reading budget (slow reader, stop reading) */
	uint64_t read_total;
	uint64_t read_t0_ns;
	uint64_t own_deadline_ns;
	uint8_t chunk[CHUNK_BYTES];
	struct scn_pattern pat;  /* what every byte must be */
	struct scn_app_stats st;
	bool hostile_done;
	uint8_t *hostile_mem;
	struct chan_mr hostile_mr;
};

/* Checks received bytes [off, off + n) of key's stream, except those in
 * [skip_off, skip_off + skip_len) (a header the caller checks itself),
 * and counts every byte that differs. */
static void check_bytes(struct scn_app_rt *a, uint64_t key, uint64_t off, const uint8_t *buf, uint64_t n,
			uint64_t skip_off, uint64_t skip_len)
{
	uint64_t end = off + n, skip_end = skip_off + skip_len;
	uint64_t first = 0, bad = 0;
	if (skip_len && skip_off < end && skip_end > off) {
		if (skip_off > off)
			bad += scn_pattern_check(&a->pat, key, off, buf, skip_off - off, &first);
		if (skip_end < end) {
			uint64_t b = 0, f = 0;
			b = scn_pattern_check(&a->pat, key, skip_end, buf + (skip_end - off), end - skip_end, &f);
			if (b && !bad)
				first = f;
			bad += b;
		}
	} else {
		bad = scn_pattern_check(&a->pat, key, off, buf, n, &first);
	}
	if (bad) {
		if (!a->st.mismatches)
			a->st.first_mismatch_offset = first;
		a->st.mismatches += bad;
	}
}

static void mismatch_at(struct scn_app_rt *a, uint64_t off)
{
	if (!a->st.mismatches)
		a->st.first_mismatch_offset = off;
	a->st.mismatches++;
}

static uint64_t now_of(const struct scn_app_rt *a)
{
	return bt_clock_now_ns(a->env.clock);
}

static void progress_mark(struct scn_app_rt *a)
{
	a->st.last_progress_ns = now_of(a);
}

static void app_error(struct scn_app_rt *a, int err)
{
	a->st.errors++;
	a->st.error_mask |= scn_error_bit(err);
	if (!a->st.first_error)
		a->st.first_error = err;
}

static bool is_client_kind(enum scn_workload_kind k)
{
	return k == SCN_WL_ECHO || k == SCN_WL_RPC || k == SCN_WL_STREAM || k == SCN_WL_CHURN || k == SCN_WL_PEER;
}

bool scn_app_is_client(const struct scn_app_rt *a)
{
	return is_client_kind(a->cfg.kind);
}

/* ---- reading budget ---- */

static uint64_t read_allowance(struct scn_app_rt *a, uint64_t want)
{
	const struct scn_app_fault *f = &a->cfg.fault;
	if (f->stop_reading_after && a->read_total >= f->stop_reading_after)
		return 0;
	if (f->stop_reading_after && want > f->stop_reading_after - a->read_total)
		want = f->stop_reading_after - a->read_total;
	if (f->read_bytes_per_ms) {
		uint64_t elapsed = now_of(a) - a->read_t0_ns;
		uint64_t allowed = (elapsed / 1000) * f->read_bytes_per_ms / 1000 + f->read_bytes_per_ms;
		uint64_t left = allowed > a->read_total ? allowed - a->read_total : 0;
		if (left == 0) {
			/* Next time a useful amount is allowed. */
			uint64_t step = f->read_bytes_per_ms < 4096 ? f->read_bytes_per_ms : 4096;
			uint64_t t = a->read_t0_ns + (a->read_total + step - f->read_bytes_per_ms) * 1000000ull /
							     f->read_bytes_per_ms;
			if (t <= now_of(a))
				t = now_of(a) + 1000;
			if (!a->own_deadline_ns || t < a->own_deadline_ns)
				a->own_deadline_ns = t;
		}
		if (want > left)
			want = left;
	}
	return want;
}

/* bt_recv within the budget; returns bytes, 0 at EOF, or a bt_err
 * (BT_EAGAIN also when the budget is spent). */
static ssize_t budget_recv(struct scn_app_rt *a, int id, uint8_t *buf, uint64_t want)
{
	uint64_t n = read_allowance(a, want > CHUNK_BYTES ? CHUNK_BYTES : want);
	if (n == 0)
		return BT_EAGAIN;
	ssize_t got = bt_recv(a->h, id, buf, n);
	if (got > 0)
		a->read_total += (uint64_t)got;
	return got;
}

/* ---- clients ---- */

static uint64_t draw(uint64_t *rng, uint64_t lo, uint64_t hi)
{
	*rng = mix64(*rng + 0x9e3779b97f4a7c15ull);
	return hi > lo ? lo + *rng % (hi - lo + 1) : lo;
}

static uint64_t planned_messages(const struct scn_app_rt *a)
{
	switch (a->cfg.kind) {
	case SCN_WL_STREAM:
	case SCN_WL_PEER:
		return 1;
	case SCN_WL_CHURN:
		return 1;
	default:
		return a->cfg.messages;
	}
}

static void conn_header(const struct scn_app_rt *a, const struct cconn *c, uint8_t out[CONN_HDR_BYTES])
{
	uint64_t total = a->cfg.kind == SCN_WL_STREAM || a->cfg.kind == SCN_WL_PEER ? a->cfg.bytes : 0;
	memcpy(out, &c->key, 8);
	memcpy(out + 8, &total, 8);
}

static uint8_t out_byte(const struct scn_app_rt *a, const struct cconn *c, uint64_t off)
{
	if (off < CONN_HDR_BYTES) {
		uint8_t hdr[CONN_HDR_BYTES];
		conn_header(a, c, hdr);
		return hdr[off];
	}
	if (a->cfg.kind == SCN_WL_RPC && off >= c->msg_hdr_at && off < c->msg_hdr_at + MSG_HDR_BYTES)
		return c->msg_hdr[off - c->msg_hdr_at];
	return scn_pattern_byte(&a->pat, c->key, off);
}

/* Bytes [off, off + n) of what the client sends: the pattern, with the
 * connection header and (rpc) the current message header laid over it.
 * Earlier message headers are behind out_off, so never asked for again. */
static void fill_out(const struct scn_app_rt *a, const struct cconn *c, uint64_t off, uint8_t *buf, uint64_t n)
{
	scn_pattern_fill(&a->pat, c->key, off, buf, n);
	for (uint64_t o = off; o < off + n && o < CONN_HDR_BYTES; o++)
		buf[o - off] = out_byte(a, c, o);
	if (a->cfg.kind == SCN_WL_RPC) {
		uint64_t from = c->msg_hdr_at > off ? c->msg_hdr_at : off;
		for (uint64_t o = from; o < off + n && o < c->msg_hdr_at + MSG_HDR_BYTES; o++)
			buf[o - off] = c->msg_hdr[o - c->msg_hdr_at];
	}
}

static void start_message(struct scn_app_rt *a, struct cconn *c)
{
	uint64_t start = c->out_off;
	uint64_t hdr = start == 0 ? CONN_HDR_BYTES : 0;
	switch (a->cfg.kind) {
	case SCN_WL_STREAM:
		c->msg_out_end = start + hdr + a->cfg.bytes;
		c->msg_in_end = c->in_off;
		break;
	case SCN_WL_PEER: /* how much comes in, its header says */
		c->msg_out_end = start + hdr + a->cfg.bytes;
		c->msg_in_end = CONN_HDR_BYTES;
		break;
	case SCN_WL_RPC: {
		uint32_t req = (uint32_t)draw(&c->rng, a->cfg.msg_min_bytes, a->cfg.msg_max_bytes);
		uint32_t resp = (uint32_t)a->cfg.resp_bytes;
		c->msg_hdr_at = start + hdr;
		memcpy(c->msg_hdr, &req, 4);
		memcpy(c->msg_hdr + 4, &resp, 4);
		c->msg_out_end = c->msg_hdr_at + MSG_HDR_BYTES + req;
		c->msg_in_end = c->in_off + resp;
		break;
	}
	default: /* echo, churn: the whole outgoing stream comes back */
		c->msg_out_end = start + hdr + draw(&c->rng, a->cfg.msg_min_bytes, a->cfg.msg_max_bytes);
		c->msg_in_end = c->msg_out_end;
		break;
	}
	c->msg_active = true;
}

static void client_start_cycle(struct scn_app_rt *a, uint32_t ci);

static void client_end_cycle(struct scn_app_rt *a, uint32_t ci, bool failed)
{
	struct cconn *c = &a->cc[ci];
	if (c->id >= 0) {
		bt_close(a->h, c->id);
		a->cc_of_id[c->id] = -1;
	}
	c->id = -1;
	if (failed) {
		a->st.conns_failed++;
		c->cycle = a->cfg.cycles; /* a failed connection does not retry */
	} else {
		a->st.conns_closed++;
		c->cycle++;
	}
	progress_mark(a);
	client_start_cycle(a, ci);
}

static void client_start_cycle(struct scn_app_rt *a, uint32_t ci)
{
	struct cconn *c = &a->cc[ci];
	if (c->cycle >= (a->cfg.cycles ? a->cfg.cycles : 1)) {
		a->cc_done += c->phase != C_DONE;
		c->phase = C_DONE;
		return;
	}
	/* A peer connects from its own port to the port its peer connects
	 * from: both SYNs name the same 4-tuple (simultaneous open). */
	int id = a->cfg.kind == SCN_WL_PEER
			 ? bt_connect_from(a->h, a->cfg.port, a->env.target_ip, a->env.target_port, NULL)
			 : bt_connect(a->h, a->env.target_ip, a->env.target_port);
	if (id < 0 || (uint32_t)id >= a->max_ids) {
		if (id >= 0)
			bt_close(a->h, id);
		app_error(a, id < 0 ? id : BT_EINVAL);
		a->st.conns_failed++;
		a->cc_done += c->phase != C_DONE;
		c->phase = C_DONE;
		return;
	}
	c->id = id;
	a->cc_of_id[id] = (int32_t)ci;
	c->phase = C_CONNECTING;
	c->key = mix64(a->env.seed ^ ((uint64_t)a->env.app_index << 48) ^ ((uint64_t)ci << 24) ^ c->cycle);
	c->rng = c->key ^ 0x2545f4914f6cdd1dull;
	c->out_off = c->in_off = 0;
	c->msg_idx = 0;
	c->msg_active = false;
	c->eof_seen = false;
}

/* The other peer's stream: its header (key, length), then its pattern. */
static void peer_consume(struct scn_app_rt *a, struct cconn *c, const uint8_t *buf, uint64_t n)
{
	uint64_t i = 0;
	for (; i < n && c->in_off < CONN_HDR_BYTES; i++, c->in_off++) {
		c->in_hdr[c->in_off] = buf[i];
		if (c->in_off == CONN_HDR_BYTES - 1) {
			uint64_t total;
			memcpy(&c->in_key, c->in_hdr, 8);
			memcpy(&total, c->in_hdr + 8, 8);
			c->msg_in_end = CONN_HDR_BYTES + total;
		}
	}
	if (i < n) {
		check_bytes(a, c->in_key, c->in_off, buf + i, n - i, 0, 0);
		c->in_off += n - i;
	}
	a->st.bytes_verified += n;
	progress_mark(a);
}

static void verify_in(struct scn_app_rt *a, struct cconn *c, const uint8_t *buf, uint64_t n)
{
	if (a->cfg.kind == SCN_WL_PEER) {
		peer_consume(a, c, buf, n);
		return;
	}
	if (a->cfg.kind == SCN_WL_RPC) {
		check_bytes(a, c->key ^ RESP_SALT, c->in_off, buf, n, 0, 0);
	} else {
		/* The echo of our own stream: its header, then the pattern. */
		for (uint64_t off = c->in_off; off < c->in_off + n && off < CONN_HDR_BYTES; off++)
			if (buf[off - c->in_off] != out_byte(a, c, off))
				mismatch_at(a, off);
		check_bytes(a, c->key, c->in_off, buf, n, 0, CONN_HDR_BYTES);
	}
	a->st.bytes_verified += n;
	c->in_off += n;
	progress_mark(a);
}

/* Moves one client connection as far as it can go now. */
static int client_progress(struct scn_app_rt *a, uint32_t ci)
{
	struct cconn *c = &a->cc[ci];
	int work = 0;
	for (int round = 0; round < 64 && c->phase == C_ACTIVE; round++) {
		bool moved = false;
		if (!c->msg_active)
			start_message(a, c);
		while (c->out_off < c->msg_out_end) {
			uint32_t space = bt_tx_space(a->h, c->id);
			if (space == 0)
				break;
			uint64_t n = c->msg_out_end - c->out_off;
			if (n > space)
				n = space;
			if (n > CHUNK_BYTES)
				n = CHUNK_BYTES;
			fill_out(a, c, c->out_off, a->chunk, n);
			ssize_t sent = bt_send(a->h, c->id, a->chunk, n);
			if (sent < 0) {
				if (sent == BT_EAGAIN)
					break;
				app_error(a, (int)sent);
				client_end_cycle(a, ci, true);
				return work + 1;
			}
			c->out_off += (uint64_t)sent;
			a->st.bytes_sent += (uint64_t)sent;
			moved = true;
		}
		bool want_eof = a->cfg.kind == SCN_WL_STREAM && c->out_off == c->msg_out_end;
		while (c->in_off < c->msg_in_end || want_eof) {
			uint64_t want = want_eof ? 1 : c->msg_in_end - c->in_off;
			ssize_t got = budget_recv(a, c->id, a->chunk, want);
			if (got == BT_EAGAIN)
				break;
			if (got == 0 && want_eof) {
				c->eof_seen = true; /* the sink has everything and closed */
				break;
			}
			if (got <= 0) {
				app_error(a, got == 0 ? BT_ECONNRESET : (int)got);
				client_end_cycle(a, ci, true);
				return work + 1;
			}
			if (want_eof) { /* a sink never talks back */
				a->st.mismatches += (uint64_t)got;
				continue;
			}
			verify_in(a, c, a->chunk, (uint64_t)got);
			moved = true;
		}
		bool msg_done = c->out_off == c->msg_out_end && c->in_off == c->msg_in_end &&
				(a->cfg.kind != SCN_WL_STREAM || c->eof_seen) &&
				(a->cfg.kind != SCN_WL_PEER || c->in_off >= CONN_HDR_BYTES);
		if (msg_done && a->cfg.kind == SCN_WL_PEER && now_of(a) < a->cfg.close_at_ns) {
			/* Everything moved; the close waits for its time. */
			if (!a->own_deadline_ns || a->cfg.close_at_ns < a->own_deadline_ns)
				a->own_deadline_ns = a->cfg.close_at_ns;
			break;
		}
		if (msg_done) {
			a->st.messages_done++;
			c->msg_active = false;
			c->msg_idx++;
			progress_mark(a);
			moved = true;
			if (c->msg_idx >= planned_messages(a)) {
				client_end_cycle(a, ci, false);
				return work + 1;
			}
		}
		if (!moved)
			break;
		work++;
	}
	return work;
}

/* ---- servers ---- */

static void server_close(struct scn_app_rt *a, int id)
{
	struct sconn *s = &a->sc[id];
	bt_close(a->h, id);
	free(s->buf);
	memset(s, 0, sizeof(*s));
	a->st.conns_closed++;
	progress_mark(a);
}

static void sink_consume(struct scn_app_rt *a, struct sconn *s, const uint8_t *buf, uint64_t n)
{
	uint64_t i = 0;
	for (; i < n && s->in_off < CONN_HDR_BYTES; i++, s->in_off++) {
		s->conn_hdr[s->in_off] = buf[i];
		if (s->in_off == CONN_HDR_BYTES - 1) {
			memcpy(&s->key, s->conn_hdr, 8);
			memcpy(&s->total, s->conn_hdr + 8, 8);
		}
	}
	if (i < n) {
		check_bytes(a, s->key, s->in_off, buf + i, n - i, 0, 0);
		s->in_off += n - i;
	}
	a->st.bytes_verified += n;
	progress_mark(a);
}

/* Returns bytes of response the rpc server must now produce. */
static void rpc_consume(struct scn_app_rt *a, struct sconn *s, const uint8_t *buf, uint64_t n)
{
	for (uint64_t i = 0; i < n;) {
		if (s->in_off < CONN_HDR_BYTES) {
			s->conn_hdr[s->in_off] = buf[i];
			if (s->in_off == CONN_HDR_BYTES - 1)
				memcpy(&s->key, s->conn_hdr, 8);
			i++;
			s->in_off++;
			continue;
		}
		if (s->req_left == 0 && s->mhdr_have < MSG_HDR_BYTES) {
			s->mhdr[s->mhdr_have++] = buf[i];
			if (s->mhdr_have == MSG_HDR_BYTES) {
				uint32_t req, resp;
				memcpy(&req, s->mhdr, 4);
				memcpy(&resp, s->mhdr + 4, 4);
				s->req_left = req;
				if (req == 0) {
					s->resp_left += resp;
					s->mhdr_have = 0;
				} else {
					s->cur_resp = resp; /* owed once the payload is in */
				}
			}
			i++;
			s->in_off++;
			continue;
		}
		/* A run of request payload: checked in one piece. */
		uint64_t run = n - i < s->req_left ? n - i : s->req_left;
		check_bytes(a, s->key, s->in_off, buf + i, run, 0, 0);
		i += run;
		s->in_off += run;
		s->req_left -= run;
		if (s->req_left == 0) {
			s->resp_left += s->cur_resp;
			s->mhdr_have = 0;
		}
	}
	a->st.bytes_verified += n;
	progress_mark(a);
}

static int server_progress(struct scn_app_rt *a, int id)
{
	struct sconn *s = &a->sc[id];
	int work = 0;
	for (int round = 0; round < 64 && s->open; round++) {
		bool moved = false;
		if (a->cfg.kind == SCN_WL_ECHO_SERVER) {
			while (s->used) {
				uint32_t chunk = CHUNK_BYTES - s->head < s->used ? CHUNK_BYTES - s->head : s->used;
				ssize_t n = bt_send(a->h, id, s->buf + s->head, chunk);
				if (n <= 0) {
					if (n != BT_EAGAIN) {
						app_error(a, (int)n);
						server_close(a, id);
						return work + 1;
					}
					break;
				}
				s->head = (s->head + (uint32_t)n) % CHUNK_BYTES;
				s->used -= (uint32_t)n;
				a->st.bytes_sent += (uint64_t)n;
				moved = true;
			}
		}
		if (a->cfg.kind == SCN_WL_RPC_SERVER) {
			while (s->resp_left) {
				uint32_t space = bt_tx_space(a->h, id);
				uint64_t n = s->resp_left < space ? s->resp_left : space;
				if (n > CHUNK_BYTES)
					n = CHUNK_BYTES;
				if (n == 0)
					break;
				scn_pattern_fill(&a->pat, s->key ^ RESP_SALT, s->resp_off, a->chunk, n);
				ssize_t sent = bt_send(a->h, id, a->chunk, n);
				if (sent <= 0) {
					if (sent != BT_EAGAIN) {
						app_error(a, (int)sent);
						server_close(a, id);
						return work + 1;
					}
					break;
				}
				s->resp_off += (uint64_t)sent;
				s->resp_left -= (uint64_t)sent;
				a->st.bytes_sent += (uint64_t)sent;
				moved = true;
			}
		}
		while (!s->eof) {
			uint8_t *dst = a->chunk;
			uint64_t room = CHUNK_BYTES;
			if (a->cfg.kind == SCN_WL_ECHO_SERVER) {
				if (s->used == CHUNK_BYTES)
					break;
				uint32_t tail = (s->head + s->used) % CHUNK_BYTES;
				room = tail >= s->head ? CHUNK_BYTES - tail : s->head - tail;
				if (room > CHUNK_BYTES - s->used)
					room = CHUNK_BYTES - s->used;
				dst = s->buf + tail;
			} else if (a->cfg.kind == SCN_WL_RPC_SERVER && s->resp_left) {
				break; /* answer before reading more: bounded state */
			}
			ssize_t got = budget_recv(a, id, dst, room);
			if (got == BT_EAGAIN)
				break;
			if (got == 0) {
				s->eof = true;
				break;
			}
			if (got < 0) {
				app_error(a, (int)got);
				server_close(a, id);
				return work + 1;
			}
			if (a->cfg.kind == SCN_WL_ECHO_SERVER) {
				s->used += (uint32_t)got;
				progress_mark(a);
			} else if (a->cfg.kind == SCN_WL_SINK) {
				sink_consume(a, s, dst, (uint64_t)got);
				if (s->in_off >= CONN_HDR_BYTES && s->in_off == CONN_HDR_BYTES + s->total) {
					server_close(a, id); /* all of it: closing tells the sender */
					return work + 1;
				}
			} else {
				rpc_consume(a, s, dst, (uint64_t)got);
			}
			moved = true;
		}
		if (s->eof && s->used == 0 && s->resp_left == 0) {
			if (a->cfg.kind == SCN_WL_SINK && s->in_off != CONN_HDR_BYTES + s->total) {
				/* The sender closed before its announced length. */
				app_error(a, BT_ECONNRESET);
			}
			server_close(a, id);
			return work + 1;
		}
		if (!moved)
			break;
		work++;
	}
	return work;
}

static int server_accept_all(struct scn_app_rt *a)
{
	int work = 0;
	for (;;) {
		int id = bt_accept(a->h, a->listener);
		if (id < 0) {
			if (id != BT_EAGAIN)
				app_error(a, id);
			break;
		}
		if ((uint32_t)id >= a->max_ids) {
			bt_close(a->h, id);
			continue;
		}
		struct sconn *s = &a->sc[id];
		memset(s, 0, sizeof(*s));
		if (a->cfg.kind == SCN_WL_ECHO_SERVER) {
			s->buf = malloc(CHUNK_BYTES);
			if (!s->buf) {
				bt_close(a->h, id);
				continue;
			}
		}
		s->open = true;
		a->st.accepted++;
		progress_mark(a);
		server_progress(a, id);
		work++;
	}
	return work;
}

/* ---- hostile ---- */

static void attack_result(struct scn_app_rt *a, int rc)
{
	a->st.attacks++;
	if (rc != CHAN_OK)
		a->st.attacks_refused++;
}

/* Forged commands first, while its channel is healthy (the NIC must
 * refuse every one by ownership checks), then one-sided accesses to the
 * victim's region with its leaked key and to guessed NIC keys (the
 * channel must refuse every one: the first breaks the link, the rest
 * find it broken). */
static int hostile_run(struct scn_app_rt *a)
{
	struct chan *ch = a->env.raw_chan;
	if (a->hostile_done || !ch)
		return 0;
	a->hostile_done = true;
	/* First a legitimate HELLO for a small region of its own, so the
	 * forged commands meet the NIC's real ownership checks. */
	a->hostile_mem = calloc(1, 4096);
	if (!a->hostile_mem || chan_mr_register(ch, a->hostile_mem, 4096,
						CHAN_ACCESS_REMOTE_READ | CHAN_ACCESS_REMOTE_WRITE,
						&a->hostile_mr) != CHAN_OK)
		return 1;
	struct ctxq_hello hello = {.type = CTXQ_HELLO, .version = CTXQ_VERSION, .event_entries = 8,
				   .rx_ring_bytes = 1024, .tx_ring_bytes = 1024, .max_conns = 1,
				   .region_addr = (uint64_t)(uintptr_t)a->hostile_mem, .region_len = 4096,
				   .region_rkey = a->hostile_mr.rkey};
	chan_post_msg(ch, &hello, sizeof(hello));
	for (uint32_t fl = 0; fl < a->env.victim_flow_guess_max; fl++) {
		uint8_t types[] = {CTXQ_DOORBELL, CTXQ_CLOSE, CTXQ_ABORT};
		for (unsigned t = 0; t < sizeof(types); t++) {
			struct ctxq_cmd cmd = {.type = types[t], .flow_id = fl, .host_conn = fl, .arg0 = 4096, .arg1 = 4096, .arg2 = 1};
			if (chan_post_msg(ch, &cmd, sizeof(cmd)) == CHAN_OK)
				a->st.forged_cmds++;
		}
	}
	static const uint8_t junk[64] = {0};
	if (chan_post_msg(ch, junk, sizeof(junk)) == CHAN_OK) /* not a valid message at all */
		a->st.forged_cmds++;

	struct chan_sge_local l = {.mr = &a->hostile_mr, .off = 0};
	struct chan_sge_remote victim = {.mr = &a->env.victim_region, .off = 0};
	attack_result(a, chan_post_read(ch, l, victim, 64, 1, CHAN_WR_SIGNALED));
	attack_result(a, chan_post_write(ch, l, victim, 64, 2, CHAN_WR_SIGNALED));
	for (uint32_t k = 0; k < 16; k++) {
		struct chan_remote_mr guess = {.addr = 0, .len_bytes = 1u << 20, .rkey = k * 0x01000193u + 1};
		struct chan_sge_remote r = {.mr = &guess, .off = 0};
		attack_result(a, chan_post_write(ch, l, r, 64, 10 + k, CHAN_WR_SIGNALED));
	}
	return 1; /* completions arrive later: hostile_poll_completions */
}

static int hostile_poll_completions(struct scn_app_rt *a)
{
	struct chan_completion wc[32];
	int n = chan_poll_cq(a->env.raw_chan, wc, 32);
	for (int i = 0; i < n; i++) {
		if (wc[i].status == CHAN_EACCESS)
			a->st.access_errors++;
		if (wc[i].status != CHAN_OK) {
			a->st.attacks_refused++;
		} else {
			/* An attack went through: that is the failure this
			 * scenario exists to catch. */
			a->st.mismatches++;
		}
	}
	return n > 0 ? n : 0;
}

/* ---- the actor ---- */

struct scn_app_rt *scn_app_create(const struct scn_app *cfg, struct bt_host *h, const struct scn_app_env *env,
				  int *err)
{
	*err = BT_ENOMEM;
	struct scn_app_rt *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->cfg = *cfg;
	a->env = *env;
	a->h = h;
	a->listener = -1;
	a->read_t0_ns = bt_clock_now_ns(env->clock);
	scn_pattern_init(&a->pat);
	a->st.last_progress_ns = a->read_t0_ns;
	if (cfg->kind == SCN_WL_HOSTILE) {
		*err = BT_OK;
		return a;
	}
	a->max_ids = bt_host_max_conns(h);
	if (is_client_kind(cfg->kind)) {
		a->cc = calloc(cfg->conns, sizeof(*a->cc));
		a->cc_of_id = malloc(sizeof(*a->cc_of_id) * a->max_ids);
		if (!a->cc || !a->cc_of_id) {
			scn_app_destroy(a);
			return NULL;
		}
		for (uint32_t i = 0; i < a->max_ids; i++)
			a->cc_of_id[i] = -1;
		for (uint32_t i = 0; i < cfg->conns; i++)
			a->cc[i].id = -1;
	} else {
		a->sc = calloc(a->max_ids, sizeof(*a->sc));
		if (!a->sc) {
			scn_app_destroy(a);
			return NULL;
		}
		a->listener = bt_listen(h, cfg->port, cfg->backlog);
		if (a->listener < 0) {
			*err = a->listener;
			scn_app_destroy(a);
			return NULL;
		}
	}
	*err = BT_OK;
	return a;
}

static int app_step(struct scn_app_rt *a, uint64_t now)
{
	int work = 0;
	if (a->cfg.kind == SCN_WL_HOSTILE) {
		work += hostile_run(a);
		work += hostile_poll_completions(a);
		return work;
	}
	if (is_client_kind(a->cfg.kind) && !a->started) {
		if (now < a->cfg.start_ns) {
			a->own_deadline_ns = a->cfg.start_ns;
			return 0;
		}
		a->started = true;
		for (uint32_t i = 0; i < a->cfg.conns; i++)
			client_start_cycle(a, i);
		work++;
	}
	struct bt_event ev[64];
	int n = bt_poll(a->h, ev, 64);
	for (int i = 0; i < n; i++) {
		work++;
		if (a->listener >= 0 && ev[i].id == a->listener) {
			if (ev[i].flags & BT_EV_ERROR)
				app_error(a, ev[i].err);
			else
				work += server_accept_all(a);
			continue;
		}
		if (ev[i].id < 0 || (uint32_t)ev[i].id >= a->max_ids)
			continue;
		if (is_client_kind(a->cfg.kind)) {
			int32_t ci = a->cc_of_id[ev[i].id];
			if (ci < 0)
				continue;
			struct cconn *c = &a->cc[ci];
			if (ev[i].flags & BT_EV_CONNECTED) {
				c->phase = C_ACTIVE;
				a->st.conns_opened++;
				progress_mark(a);
			}
			if ((ev[i].flags & BT_EV_ERROR) || (c->phase == C_CONNECTING && (ev[i].flags & BT_EV_CLOSED))) {
				app_error(a, ev[i].err ? ev[i].err : BT_ECONNRESET);
				client_end_cycle(a, (uint32_t)ci, true);
				continue;
			}
			work += client_progress(a, (uint32_t)ci);
		} else if (a->sc[ev[i].id].open) {
			if ((ev[i].flags & BT_EV_ERROR) && !(ev[i].flags & BT_EV_READABLE)) {
				app_error(a, ev[i].err);
				server_close(a, ev[i].id);
				continue;
			}
			work += server_progress(a, ev[i].id);
		}
	}
	/* A reader held back by its budget has nothing new from the NIC to
	 * wake it: retry when the budget allows. */
	if (a->own_deadline_ns && now >= a->own_deadline_ns) {
		a->own_deadline_ns = 0;
		if (is_client_kind(a->cfg.kind)) {
			for (uint32_t i = 0; i < a->cfg.conns; i++)
				if (a->cc[i].phase == C_ACTIVE)
					work += client_progress(a, i);
		} else {
			for (uint32_t id = 0; id < a->max_ids; id++)
				if (a->sc[id].open)
					work += server_progress(a, (int)id);
		}
	}
	return work;
}

int scn_app_poll(struct scn_app_rt *a, uint64_t now)
{
	if (a->st.exited)
		return 0;
	if (a->cfg.fault.exit_at_ns && now >= a->cfg.fault.exit_at_ns) {
		scn_app_exit(a);
		return 1;
	}
	if (a->sleeping) {
		bool woken = a->cfg.kind != SCN_WL_HOSTILE && bt_wait_woken(a->h);
		bool timed_out = now >= a->sleep_deadline_ns;
		if (!woken && !timed_out)
			return 0;
		a->sleeping = false;
		if (woken) {
			a->st.wakeups++;
		} else {
			a->st.wait_timeouts++;
			bt_wait_timed_out(a->h); /* counts it as lost if work was waiting */
		}
	}
	int work = app_step(a, now);
	int done = work;
	/* Steps again while a step does work, so that the step that finds
	 * nothing, and the sleep after it, come in this poll instead of one
	 * more poll of the loop's (a few, bounded: the loop polls us again
	 * for the rest). A hostile application keeps its one step a poll. */
	for (int i = 0; work > 0 && i < 8 && a->cfg.kind != SCN_WL_HOSTILE; i++) {
		work = app_step(a, now);
		done += work;
	}
	if (work == 0 && a->cfg.kind != SCN_WL_HOSTILE) {
		/* Nothing to do: sleep until woken, the wait timeout, our own
		 * next deadline, or the host library's next deadline (owed
		 * doorbells to refresh). Without the timeout fallback only a
		 * wakeup ends the sleep. No sleep before the ARM is posted: the
		 * credit it lacks returns when the NIC takes our earlier
		 * commands, and the loop polls us again then. */
		if (!bt_wait_arm(a->h) && !a->env.sleep_without_arm) {
			a->st.arms_deferred++;
			return done;
		}
		a->sleeping = true;
		a->st.sleeps++;
		uint64_t d = BT_TIME_NEVER;
		if (a->env.wait_timeout_ns != BT_TIME_NEVER) {
			d = now + a->env.wait_timeout_ns;
			uint64_t hn = bt_host_next_event_ns(a->h);
			if (hn < d)
				d = hn;
		}
		if (a->own_deadline_ns && a->own_deadline_ns < d)
			d = a->own_deadline_ns;
		if (a->cfg.fault.exit_at_ns && a->cfg.fault.exit_at_ns < d)
			d = a->cfg.fault.exit_at_ns;
		a->sleep_deadline_ns = d;
	}
	return done;
}

uint64_t scn_app_next_event_ns(struct scn_app_rt *a)
{
	if (a->st.exited)
		return BT_TIME_NEVER;
	if (a->sleeping)
		return a->sleep_deadline_ns;
	/* Awake: the loop polls every round; the next instant matters only
	 * through our own deadlines. */
	uint64_t d = a->own_deadline_ns ? a->own_deadline_ns : BT_TIME_NEVER;
	if (a->cfg.fault.exit_at_ns && a->cfg.fault.exit_at_ns < d)
		d = a->cfg.fault.exit_at_ns;
	return d;
}

bool scn_app_done(const struct scn_app_rt *a)
{
	if (a->st.exited)
		return true;
	if (a->cfg.kind == SCN_WL_HOSTILE)
		return a->hostile_done;
	if (!is_client_kind(a->cfg.kind))
		return true;
	if (a->cfg.kind == SCN_WL_PEER && a->cc_done >= a->cfg.conns) {
		/* Closed is not done: the NIC must finish the close (our FIN
		 * acknowledged, theirs received) and hand the connection back,
		 * so the run covers the whole exchange of FINs. */
		struct bt_host_stats hs;
		bt_host_stats(a->h, &hs);
		return hs.conns_in_use == 0;
	}
	return a->cc_done >= a->cfg.conns;
}

void scn_app_exit(struct scn_app_rt *a)
{
	a->st.exited = true;
	a->sleeping = false;
	progress_mark(a);
}

bool scn_app_exited(const struct scn_app_rt *a)
{
	return a->st.exited;
}

uint64_t scn_app_last_progress_ns(const struct scn_app_rt *a)
{
	return a->st.last_progress_ns;
}

void scn_app_get_stats(const struct scn_app_rt *a, struct scn_app_stats *out)
{
	*out = a->st;
	out->sleeping = a->sleeping;
	out->done = scn_app_done(a);
}

void scn_app_describe(const struct scn_app_rt *a, char *buf, size_t cap)
{
	size_t len = strlen(buf);
#define APPEND(...) (len = bt_appendf(buf, cap, len, __VA_ARGS__))
	APPEND("app %s: %s%s%s, sleeps %llu, wakeups %llu, wait timeouts %llu, verified %llu B, errors %llu\n",
	       a->cfg.name, a->st.exited ? "exited" : a->sleeping ? "asleep" : "awake",
	       a->sleeping && a->sleep_deadline_ns == BT_TIME_NEVER ? " (no timeout: only a wakeup can end it)" : "",
	       scn_app_done(a) ? ", done" : ", not done", (unsigned long long)a->st.sleeps,
	       (unsigned long long)a->st.wakeups, (unsigned long long)a->st.wait_timeouts,
	       (unsigned long long)a->st.bytes_verified, (unsigned long long)a->st.errors);
	if (a->cc) {
		for (uint32_t i = 0; i < a->cfg.conns; i++) {
			const struct cconn *c = &a->cc[i];
			if (c->phase == C_DONE)
				continue;
			APPEND("  conn %u (id %d): %s, cycle %u, msg %llu, sent %llu/%llu, received %llu/%llu, "
			       "tx space %u, rx ready %u\n",
			       i, c->id, c->phase == C_CONNECTING ? "connecting" : c->phase == C_ACTIVE ? "active" : "idle",
			       c->cycle, (unsigned long long)c->msg_idx, (unsigned long long)c->out_off,
			       (unsigned long long)c->msg_out_end, (unsigned long long)c->in_off,
			       (unsigned long long)c->msg_in_end, c->id >= 0 ? bt_tx_space(a->h, c->id) : 0,
			       c->id >= 0 ? bt_rx_ready(a->h, c->id) : 0);
		}
	}
	if (a->sc && a->cfg.kind != SCN_WL_HOSTILE) {
		for (uint32_t id = 0; id < a->max_ids; id++) {
			const struct sconn *s = &a->sc[id];
			if (!s->open)
				continue;
			APPEND("  conn id %u: received %llu, buffered %u, response owed %llu, eof %d, rx ready %u\n", id,
			       (unsigned long long)s->in_off, s->used, (unsigned long long)s->resp_left, s->eof,
			       bt_rx_ready(a->h, (int)id));
		}
	}
#undef APPEND
}

void scn_app_destroy(struct scn_app_rt *a)
{
	if (!a)
		return;
	free(a->hostile_mem); /* its link is gone or broken: nothing can touch it */
	if (a->sc) {
		for (uint32_t i = 0; i < a->max_ids; i++)
			free(a->sc[i].buf);
		free(a->sc);
	}
	free(a->cc);
	free(a->cc_of_id);
	free(a);
}

bool scn_app_sleeping(const struct scn_app_rt *a) { return a->sleeping && !a->st.exited; }

bool scn_app_waits(const struct scn_app_rt *a)
{
	/* exit_at is checked on every poll, asleep or not, but is not among
	 * a sleeper's next events: such an app cannot wait. */
	if (a->st.exited)
		return true;
	return a->sleeping && !a->cfg.fault.exit_at_ns;
}
