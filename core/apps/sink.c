/*
 * sink.c: accepts every connection on a port, reads each to EOF and
 * hashes what it read. Reading as fast as data arrives keeps the advertised
 * window open, so the sink measures the sender and the stack, not itself.
 * Memory is one small state per connection slot plus one read buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "app_server.h"
#include "bulk.h"

#define SINK_READ_BYTES 65536

struct sink_conn {
	bool open;
	bool more; /* stopped by the read bound with bytes still ready */
	struct sha256 hash;
	struct bulk_result r;
};

struct sink {
	struct bt_host *h;
	const struct bt_clock *clock;
	struct sink_config cfg;
	struct app_server srv;
	struct sink_conn *conns; /* indexed by connection id */
	struct sink_stats stats;
	uint32_t conns_with_more;
	uint8_t buf[SINK_READ_BYTES];
};

struct sink *sink_create(struct bt_host *h, const struct sink_config *cfg, const struct bt_clock *clock, int *err)
{
	if (!h || !cfg || !clock || cfg->port == 0 || cfg->backlog == 0) {
		*err = BT_EINVAL;
		return NULL;
	}
	struct sink *s = calloc(1, sizeof(*s));
	if (!s) {
		*err = BT_ENOMEM;
		return NULL;
	}
	s->h = h;
	s->clock = clock;
	s->cfg = *cfg;
	s->conns = app_server_open(&s->srv, h, cfg->port, cfg->backlog, sizeof(*s->conns), err);
	if (!s->conns) {
		free(s);
		return NULL;
	}
	return s;
}

static void finish(struct sink *s, int id, int err)
{
	struct sink_conn *c = &s->conns[id];
	if (c->more)
		s->conns_with_more--;
	c->r.err = err;
	c->r.end_ns = bt_clock_now_ns(s->clock);
	sha256_final(&c->hash, c->r.sha256);
	bt_close(s->h, id);
	s->stats.finished++;
	if (err)
		s->stats.errors++;
	s->stats.open--;
	if (s->cfg.on_done)
		s->cfg.on_done(s->cfg.ctx, &c->r);
	memset(c, 0, sizeof(*c));
}

static int drain(struct sink *s, int id)
{
	struct sink_conn *c = &s->conns[id];
	int work = 0;
	if (c->more) {
		c->more = false;
		s->conns_with_more--;
	}
	/* Bounded so one fast connection cannot starve the others or the
	 * NIC's poll in the same loop: the next readiness event resumes it. */
	for (int round = 0; round < 64; round++) {
		ssize_t n = bt_recv(s->h, id, s->buf, sizeof(s->buf));
		if (n == BT_EAGAIN)
			return work;
		if (n == 0) {
			finish(s, id, 0);
			return work + 1;
		}
		if (n < 0) {
			finish(s, id, (int)n);
			return work + 1;
		}
		if (c->r.bytes == 0)
			c->r.first_byte_ns = bt_clock_now_ns(s->clock);
		sha256_update(&c->hash, s->buf, (size_t)n);
		c->r.bytes += (uint64_t)n;
		s->stats.bytes += (uint64_t)n;
		work++;
	}
	c->more = true;
	s->conns_with_more++;
	return work;
}

static bool conn_is_open(void *app, int id)
{
	struct sink *s = app;
	return s->conns[id].open;
}

static int conn_accepted(void *app, int id)
{
	struct sink *s = app;
	struct sink_conn *c = &s->conns[id];
	memset(c, 0, sizeof(*c));
	c->open = true;
	c->r.conn = id;
	c->r.start_ns = bt_clock_now_ns(s->clock);
	sha256_init(&c->hash);
	s->stats.accepted++;
	s->stats.open++;
	/* Data that arrived with the handshake raised no event of its own
	 * after accept: read it now. */
	return drain(s, id);
}

static int conn_ready(void *app, int id)
{
	return drain(app, id);
}

static void conn_failed(void *app, int id, int err)
{
	finish(app, id, err ? err : BT_ECONNRESET);
}

int sink_poll(struct sink *s)
{
	static const struct app_server_ops ops = {
		.is_open = conn_is_open,
		.accepted = conn_accepted,
		.ready = conn_ready,
		.failed = conn_failed,
	};
	int work = app_server_poll(&s->srv, &ops, s);
	/* A connection cut short by the 64-read bound has no new event
	 * coming for what is already in its ring: keep reading it. */
	for (uint32_t id = 0; id < s->srv.max_conns && s->conns_with_more; id++)
		if (s->conns[id].open && s->conns[id].more)
			work += drain(s, (int)id);
	return work;
}

void sink_stats(const struct sink *s, struct sink_stats *out)
{
	*out = s->stats;
}

void sink_destroy(struct sink *s)
{
	if (!s)
		return;
	free(s->conns);
	free(s);
}
