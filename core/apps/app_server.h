/*
 * app_server.h: what the built-in servers (echo server, sink) share: one
 * zeroed slot per connection id the host can hand out, a listener, and
 * the poll loop that accepts, bounds-checks each event's id and tells an
 * error apart from readable data. Each server supplies what it does with
 * a connection (struct app_server_ops); the loop is written once here.
 */
#ifndef BT_APPS_APP_SERVER_H
#define BT_APPS_APP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bluetas.h"

struct app_server {
	struct bt_host *h;
	int listener;
	uint32_t max_conns; /* connection ids are below this: the slots' count */
};

/* What a server does with its connections; `app` is the server. */
struct app_server_ops {
	/* The slot of connection `id` is in use (events for other ids are
	 * stale: a closed connection's, dropped). */
	bool (*is_open)(void *app, int id);
	/* A new connection `id` (below max_conns): returns the work done
	 * (the loop adds it up). */
	int (*accepted)(void *app, int id);
	/* Connection `id` has data or room: returns the work done. */
	int (*ready)(void *app, int id);
	/* Connection `id` failed with nothing left to read (err: the event's
	 * bt_err, 0 when it named none). */
	void (*failed)(void *app, int id, int err);
};

/* Allocates max_conns zeroed slots of slot_bytes each and listens on
 * `port`. The slots (free them), or NULL with *err (bt_err). */
void *app_server_open(struct app_server *s, struct bt_host *h, uint16_t port, uint32_t backlog, size_t slot_bytes,
		      int *err);
/* One round: polls up to 64 events; accepts every pending connection
 * (one beyond max_conns is closed unseen); hands each open connection's
 * event to ops. Returns the events seen plus the work ops reported. */
int app_server_poll(const struct app_server *s, const struct app_server_ops *ops, void *app);

#endif
