/*
 * app_server.c: the accept loop and event dispatch of the built-in
 * servers (app_server.h).
 */
#include <stdlib.h>

#include "app_server.h"

void *app_server_open(struct app_server *s, struct bt_host *h, uint16_t port, uint32_t backlog, size_t slot_bytes,
		      int *err)
{
	s->h = h;
	s->max_conns = bt_host_max_conns(h);
	void *slots = calloc(s->max_conns, slot_bytes);
	if (!slots) {
		*err = BT_ENOMEM;
		return NULL;
	}
	s->listener = bt_listen(h, port, backlog);
	if (s->listener < 0) {
		*err = s->listener;
		free(slots);
		return NULL;
	}
	*err = BT_OK;
	return slots;
}

static int accept_all(const struct app_server *s, const struct app_server_ops *ops, void *app)
{
	int work = 0;
	for (;;) {
		int id = bt_accept(s->h, s->listener);
		if (id < 0)
			return work;
		if ((uint32_t)id >= s->max_conns) {
			bt_close(s->h, id);
			continue;
		}
		work += ops->accepted(app, id);
	}
}

int app_server_poll(const struct app_server *s, const struct app_server_ops *ops, void *app)
{
	struct bt_event ev[64];
	int n = bt_poll(s->h, ev, 64);
	int work = n > 0 ? n : 0;
	for (int i = 0; i < n; i++) {
		int id = ev[i].id;
		if (id == s->listener) {
			work += accept_all(s, ops, app);
			continue;
		}
		if (id < 0 || (uint32_t)id >= s->max_conns || !ops->is_open(app, id))
			continue;
		if ((ev[i].flags & BT_EV_ERROR) && !(ev[i].flags & BT_EV_READABLE)) {
			ops->failed(app, id, ev[i].err);
			continue;
		}
		work += ops->ready(app, id);
	}
	return work;
}
