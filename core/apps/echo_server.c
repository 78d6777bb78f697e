/*
 * echo_server.c: accepts every connection on a port and sends back what
 * it receives. Per connection one bounded buffer: when it is full the
 * server stops reading, so a slow client pushes back on its own sender
 * through the TCP window instead of growing memory.
 */
#include <stdlib.h>
#include <string.h>

#include "echo.h"

struct server_conn {
	bool open;
	bool eof;
	uint8_t *buf;
	uint32_t head, used; /* ring of bytes received, not yet sent back */
};

struct echo_server {
	struct bt_host *h;
	int listener;
	uint32_t buf_bytes;
	uint32_t max_conns;
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
	s->max_conns = bt_host_max_conns(h);
	s->conns = calloc(s->max_conns, sizeof(*s->conns));
	if (!s->conns) {
		free(s);
		*err = BT_ENOMEM;
		return NULL;
	}
	s->listener = bt_listen(h, port, backlog);
	if (s->listener < 0) {
		*err = s->listener;
		free(s->conns);
		free(s);
		return NULL;
	}
	*err = BT_OK;
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

int echo_server_poll(struct echo_server *s)
{
	struct bt_event ev[64];
	int n = bt_poll(s->h, ev, 64);
	int work = n > 0 ? n : 0;
	for (int i = 0; i < n; i++) {
		if (ev[i].id == s->listener) {
			for (;;) {
				int id = bt_accept(s->h, s->listener);
				if (id < 0)
					break;
				if ((uint32_t)id >= s->max_conns) {
					bt_close(s->h, id);
					continue;
				}
				struct server_conn *c = &s->conns[id];
				c->buf = malloc(s->buf_bytes);
				if (!c->buf) {
					bt_close(s->h, id);
					continue;
				}
				c->open = true;
				s->stats.accepted++;
				conn_progress(s, id);
				work++;
			}
			continue;
		}
		if (ev[i].id < 0 || (uint32_t)ev[i].id >= s->max_conns || !s->conns[ev[i].id].open)
			continue;
		if ((ev[i].flags & BT_EV_ERROR) && !(ev[i].flags & BT_EV_READABLE)) {
			s->stats.errors++;
			conn_close(s, ev[i].id);
			continue;
		}
		conn_progress(s, ev[i].id);
	}
	return work;
}

void echo_server_stats(const struct echo_server *s, struct echo_server_stats *out)
{
	*out = s->stats;
}

void echo_server_destroy(struct echo_server *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->max_conns; i++)
		free(s->conns[i].buf);
	free(s->conns);
	free(s);
}
