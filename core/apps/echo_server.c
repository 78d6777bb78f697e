/*
 * echo_server.c: accepts every connection on a port and sends back what
 * it receives. Per connection one bounded buffer: when it is full the
 * server stops reading, so a slow client pushes back on its own sender
 * through the TCP window instead of growing memory.
 */
#include <stdlib.h>
#include <string.h>

#include "app_server.h"
#include "echo.h"

struct server_conn {
	bool open;
	bool eof;
	uint8_t *buf;
	uint32_t head, used; /* ring of bytes received, not yet sent back */
};

struct echo_server {
	struct bt_host *h;
	struct app_server srv;
	uint32_t buf_bytes;
	struct server_conn *conns; /* indexed by connection id */
	struct echo_server_stats stats;
};

struct echo_server *echo_server_create(struct bt_host *h, uint16_t port, uint32_t backlog, uint32_t buf_bytes,
				       int *err)
{
	struct echo_server *s = calloc(1, sizeof(*s));
	if (!s) {
		*err = BT_ENOMEM;
		return NULL;
	}
	s->h = h;
	s->buf_bytes = buf_bytes ? buf_bytes : 65536;
	s->conns = app_server_open(&s->srv, h, port, backlog, sizeof(*s->conns), err);
	if (!s->conns) {
		free(s);
		return NULL;
	}
	return s;
}

static void conn_close(struct echo_server *s, int id)
{
	struct server_conn *c = &s->conns[id];
	bt_close(s->h, id);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	s->stats.closed++;
}

/* Moves bytes until neither direction can; returns bytes moved. */
static uint64_t conn_progress(struct echo_server *s, int id)
{
	struct server_conn *c = &s->conns[id];
	uint64_t moved = 0;
	for (int round = 0; round < 64 && c->open; round++) {
		uint64_t before = moved;
		while (c->used) {
			uint32_t chunk = s->buf_bytes - c->head < c->used ? s->buf_bytes - c->head : c->used;
			ssize_t n = bt_send(s->h, id, c->buf + c->head, chunk);
			if (n <= 0) {
				if (n != BT_EAGAIN) {
					s->stats.errors++;
					conn_close(s, id);
					return moved;
				}
				break;
			}
			c->head = (c->head + (uint32_t)n) % s->buf_bytes;
			c->used -= (uint32_t)n;
			moved += (uint64_t)n;
			s->stats.bytes_echoed += (uint64_t)n;
		}
		while (!c->eof && c->used < s->buf_bytes) {
			uint32_t tail = (c->head + c->used) % s->buf_bytes;
			uint32_t room = tail >= c->head ? s->buf_bytes - tail : c->head - tail;
			if (room > s->buf_bytes - c->used)
				room = s->buf_bytes - c->used;
			ssize_t n = bt_recv(s->h, id, c->buf + tail, room);
			if (n == 0) {
				c->eof = true;
				break;
			}
			if (n < 0) {
				if (n != BT_EAGAIN) {
					s->stats.errors++;
					conn_close(s, id);
					return moved;
				}
				break;
			}
			c->used += (uint32_t)n;
			moved += (uint64_t)n;
		}
		if (c->eof && c->used == 0) {
			conn_close(s, id);
			return moved;
		}
		if (moved == before)
			break;
	}
	return moved;
}

static bool conn_is_open(void *app, int id)
{
	struct echo_server *s = app;
	return s->conns[id].open;
}

static int conn_accepted(void *app, int id)
{
	struct echo_server *s = app;
	struct server_conn *c = &s->conns[id];
	c->buf = malloc(s->buf_bytes);
	if (!c->buf) {
		bt_close(s->h, id);
		return 0;
	}
	c->open = true;
	s->stats.accepted++;
	conn_progress(s, id);
	return 1;
}

static int conn_ready(void *app, int id)
{
	conn_progress(app, id);
	return 0;
}

static void conn_failed(void *app, int id, int err)
{
	(void)err;
	struct echo_server *s = app;
	s->stats.errors++;
	conn_close(s, id);
}

int echo_server_poll(struct echo_server *s)
{
	static const struct app_server_ops ops = {
		.is_open = conn_is_open,
		.accepted = conn_accepted,
		.ready = conn_ready,
		.failed = conn_failed,
	};
	return app_server_poll(&s->srv, &ops, s);
}

void echo_server_stats(const struct echo_server *s, struct echo_server_stats *out)
{
	*out = s->stats;
}

void echo_server_destroy(struct echo_server *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->srv.max_conns; i++)
		free(s->conns[i].buf);
	free(s->conns);
	free(s);
}
