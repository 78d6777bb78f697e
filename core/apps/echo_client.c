/*
 * echo_client.c: closed-loop echo. Each connection sends one message,
 * reads the whole echo back (checking every byte against the pattern),
 * then sends the next; after `messages` it closes and, for churn, opens
 * again. Sending and receiving of one message overlap, so a message far
 * larger than the rings flows through both directions at once.
 */
#include <stdlib.h>
#include <string.h>

#include "echo.h"
#include "../util/mix.h"

#define CHUNK_BYTES 65536

enum conn_phase { PHASE_IDLE = 0, PHASE_CONNECTING, PHASE_ACTIVE, PHASE_DONE };

struct client_conn {
	int id;
	uint8_t phase;
	uint32_t cycle;
	uint64_t msg_index;
	uint64_t sent_in_msg, recv_in_msg;
	uint64_t stream_sent, stream_recv; /* offsets in this cycle's pattern */
	uint64_t msg_start_ns;
};

struct echo_client {
	struct bt_host *h;
	const struct bt_clock *clock;
	struct echo_client_config cfg;
	struct client_conn *conns;
	int32_t *conn_of_id;   /* host connection id -> index in conns */
	uint32_t max_ids;
	bool stopping;
	uint8_t chunk[CHUNK_BYTES];
	struct echo_client_stats stats;
};

static uint64_t pattern_word(uint64_t seed, uint32_t conn, uint32_t cycle, uint64_t word_index)
{
	return mix64(seed ^ ((uint64_t)conn << 40) ^ ((uint64_t)cycle << 20) ^ mix64(word_index));
}

uint8_t echo_pattern_byte(uint64_t seed, uint32_t conn, uint32_t cycle, uint64_t offset)
{
	return (uint8_t)(pattern_word(seed, conn, cycle, offset >> 3) >> ((offset & 7) * 8));
}

/* The same bytes as echo_pattern_byte, one hash per 8 bytes. */
static void fill_pattern(const struct echo_client *c, uint32_t ci, uint32_t cycle, uint64_t off, uint8_t *out,
			 uint32_t len)
{
	uint32_t i = 0;
	while (i < len) {
		uint64_t word = pattern_word(c->cfg.seed, ci, cycle, (off + i) >> 3);
		for (unsigned b = (unsigned)((off + i) & 7); b < 8 && i < len; b++, i++)
			out[i] = (uint8_t)(word >> (b * 8));
	}
}

static void fail(struct echo_client *c, int err)
{
	if (!c->stats.first_error)
		c->stats.first_error = err;
}

static void start_cycle(struct echo_client *c, uint32_t ci)
{
	struct client_conn *cc = &c->conns[ci];
	if (c->stopping || cc->cycle >= c->cfg.cycles) {
		cc->phase = PHASE_DONE;
		cc->id = -1;
		return;
	}
	int id = bt_connect(c->h, c->cfg.remote_ip, c->cfg.remote_port);
	if (id < 0 || (uint32_t)id >= c->max_ids) {
		if (id >= 0)
			bt_close(c->h, id);
		fail(c, id < 0 ? id : BT_EINVAL);
		c->stats.conns_failed++;
		cc->phase = PHASE_DONE;
		cc->id = -1;
		return;
	}
	cc->id = id;
	c->conn_of_id[id] = (int32_t)ci;
	cc->phase = PHASE_CONNECTING;
	cc->msg_index = 0;
	cc->sent_in_msg = cc->recv_in_msg = 0;
	cc->stream_sent = cc->stream_recv = 0;
}

static void end_cycle(struct echo_client *c, uint32_t ci, bool failed)
{
	struct client_conn *cc = &c->conns[ci];
	if (cc->id >= 0) {
		bt_close(c->h, cc->id);
		c->conn_of_id[cc->id] = -1;
	}
	if (failed)
		c->stats.conns_failed++;
	else
		c->stats.conns_closed++;
	cc->id = -1;
	cc->cycle++;
	if (failed)
		cc->cycle = c->cfg.cycles; /* a failed connection does not retry */
	start_cycle(c, ci);
}

static void record_rtt(struct echo_client *c, uint64_t rtt)
{
	if (c->stats.rtt_count < c->cfg.max_rtt_samples)
		c->stats.rtt_ns[c->stats.rtt_count++] = rtt;
}

static void conn_progress(struct echo_client *c, uint32_t ci)
{
	struct client_conn *cc = &c->conns[ci];
	for (int round = 0; round < 256 && cc->phase == PHASE_ACTIVE; round++) {
		bool moved = false;
		while (cc->sent_in_msg < c->cfg.msg_bytes) {
			uint64_t left = c->cfg.msg_bytes - cc->sent_in_msg;
			uint32_t len = left < CHUNK_BYTES ? (uint32_t)left : CHUNK_BYTES;
			uint32_t space = bt_tx_space(c->h, cc->id);
			if (space == 0)
				break;
			if (len > space)
				len = space;
			if (cc->sent_in_msg == 0 && len > 0)
				cc->msg_start_ns = bt_clock_now_ns(c->clock);
			fill_pattern(c, ci, cc->cycle, cc->stream_sent, c->chunk, len);
			ssize_t n = bt_send(c->h, cc->id, c->chunk, len);
			if (n < 0) {
				if (n == BT_EAGAIN)
					break;
				fail(c, (int)n);
				end_cycle(c, ci, true);
				return;
			}
			cc->sent_in_msg += (uint64_t)n;
			cc->stream_sent += (uint64_t)n;
			c->stats.bytes_sent += (uint64_t)n;
			moved = true;
		}
		while (cc->recv_in_msg < cc->sent_in_msg) {
			uint64_t want = cc->sent_in_msg - cc->recv_in_msg;
			uint32_t len = want < CHUNK_BYTES ? (uint32_t)want : CHUNK_BYTES;
			ssize_t n = bt_recv(c->h, cc->id, c->chunk, len);
			if (n == BT_EAGAIN)
				break;
			if (n <= 0) {
				/* EOF or an error before the echo completed */
				fail(c, n == 0 ? BT_ECONNRESET : (int)n);
				end_cycle(c, ci, true);
				return;
			}
			/* Every byte checked: the expected bytes a piece at a
			 * time, compared whole, counted one by one only when a
			 * piece differs. */
			for (ssize_t at = 0; at < n;) {
				uint8_t expect[512];
				uint32_t piece = n - at < (ssize_t)sizeof(expect) ? (uint32_t)(n - at) : sizeof(expect);
				uint64_t off = cc->stream_recv + (uint64_t)at;
				fill_pattern(c, ci, cc->cycle, off, expect, piece);
				if (memcmp(c->chunk + at, expect, piece) != 0) {
					for (uint32_t i = 0; i < piece; i++) {
						if (c->chunk[at + i] == expect[i])
							continue;
						if (!c->stats.mismatched_bytes)
							c->stats.first_mismatch_offset = off + i;
						c->stats.mismatched_bytes++;
					}
				}
				at += piece;
			}
			cc->recv_in_msg += (uint64_t)n;
			cc->stream_recv += (uint64_t)n;
			c->stats.bytes_received += (uint64_t)n;
			moved = true;
		}
		if (cc->recv_in_msg == c->cfg.msg_bytes) {
			record_rtt(c, bt_clock_now_ns(c->clock) - cc->msg_start_ns);
			c->stats.messages_done++;
			cc->msg_index++;
			cc->sent_in_msg = cc->recv_in_msg = 0;
			bool more = c->cfg.messages ? cc->msg_index < c->cfg.messages : !c->stopping;
			if (!more || c->stopping) {
				end_cycle(c, ci, false);
				return;
			}
			moved = true;
		}
		if (!moved)
			break;
	}
}

struct echo_client *echo_client_create(struct bt_host *h, const struct echo_client_config *cfg,
				       const struct bt_clock *clock, int *err)
{
	*err = BT_EINVAL;
	if (!cfg->conns || !cfg->msg_bytes || !cfg->cycles || !cfg->remote_ip || !cfg->remote_port)
		return NULL;
	struct echo_client *c = calloc(1, sizeof(*c));
	if (!c) {
		*err = BT_ENOMEM;
		return NULL;
	}
	c->h = h;
	c->clock = clock;
	c->cfg = *cfg;
	c->max_ids = bt_host_max_conns(h);
	c->conns = calloc(cfg->conns, sizeof(*c->conns));
	c->conn_of_id = malloc(sizeof(*c->conn_of_id) * c->max_ids);
	c->stats.rtt_ns = cfg->max_rtt_samples ? calloc(cfg->max_rtt_samples, sizeof(uint64_t)) : NULL;
	if (!c->conns || !c->conn_of_id || (cfg->max_rtt_samples && !c->stats.rtt_ns)) {
		echo_client_destroy(c);
		*err = BT_ENOMEM;
		return NULL;
	}
	for (uint32_t i = 0; i < c->max_ids; i++)
		c->conn_of_id[i] = -1;
	for (uint32_t i = 0; i < cfg->conns; i++)
		start_cycle(c, i);
	*err = BT_OK;
	return c;
}

int echo_client_poll(struct echo_client *c)
{
	struct bt_event ev[64];
	int n = bt_poll(c->h, ev, 64);
	for (int i = 0; i < n; i++) {
		if (ev[i].id < 0 || (uint32_t)ev[i].id >= c->max_ids || c->conn_of_id[ev[i].id] < 0)
			continue;
		uint32_t ci = (uint32_t)c->conn_of_id[ev[i].id];
		struct client_conn *cc = &c->conns[ci];
		if (ev[i].flags & BT_EV_CONNECTED) {
			cc->phase = PHASE_ACTIVE;
			c->stats.conns_opened++;
		}
		if (ev[i].flags & BT_EV_ERROR) {
			fail(c, ev[i].err ? ev[i].err : BT_ECONNRESET);
			end_cycle(c, ci, true);
			continue;
		}
		if (cc->phase == PHASE_CONNECTING && (ev[i].flags & BT_EV_CLOSED)) {
			fail(c, BT_ECONNRESET);
			end_cycle(c, ci, true);
			continue;
		}
		conn_progress(c, ci);
	}
	return n > 0 ? n : 0;
}

bool echo_client_done(const struct echo_client *c)
{
	for (uint32_t i = 0; i < c->cfg.conns; i++)
		if (c->conns[i].phase != PHASE_DONE)
			return false;
	return true;
}

void echo_client_stop(struct echo_client *c)
{
	c->stopping = true;
	for (uint32_t i = 0; i < c->cfg.conns; i++) {
		struct client_conn *cc = &c->conns[i];
		/* Between messages: nothing in flight, close now. */
		if (cc->phase == PHASE_ACTIVE && cc->sent_in_msg == 0)
			end_cycle(c, i, false);
	}
}

void echo_client_stats(const struct echo_client *c, struct echo_client_stats *out)
{
	*out = c->stats;
}

void echo_client_destroy(struct echo_client *c)
{
	if (!c)
		return;
	free(c->conns);
	free(c->conn_of_id);
	free(c->stats.rtt_ns);
	free(c);
}
