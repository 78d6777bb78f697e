/*
 * nicd_ext.c: applications in other processes (`bluetas app`) attached to
 * the daemon over the RDMA verbs channel (--channel verbs:ADDR). The loop
 * looks at the listener's fd once per millisecond and accepts without
 * blocking; each accepted channel becomes one more application of the
 * NIC, and one whose channel breaks (the process exited or was killed,
 * the device refused an access) is detached, its flows reset, and its
 * channel freed, while the others go on.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "nicd.h"

void nicd_ext_detach(struct daemon *d, struct ext_app *e, const char *why)
{
	struct nic_stats before, after;
	nic_get_stats(d->nic, &before);
	nic_detach_app(d->nic, e->idx); /* resets its flows (RST to the peers) */
	nic_get_stats(d->nic, &after);
	uint64_t reset = after.conns_reset - before.conns_reset;
	chan_destroy(e->ch); /* releases its QP, CQ, regions */
	d->apps_detached++;
	d->apps_active--;
	d->apps_flows_reset += reset;
	fprintf(stderr, "bluetas nic: app %" PRIu64 " detached (%s; %" PRIu64 " connection%s reset)\n", e->seq, why, reset,
		reset == 1 ? "" : "s");
	memset(e, 0, sizeof(*e));
}

static void ext_accept(struct daemon *d)
{
	for (int n = 0; n < NIC_ACCEPTS_PER_CHECK; n++) {
		char err[256];
		struct chan *ch = verbs_accept(d->listener, 0, err, sizeof(err));
		if (!ch) {
			if (strcmp(err, "timeout") != 0) {
				d->apps_refused++;
				fprintf(stderr, "bluetas nic: application refused: %s\n", err);
				continue;
			}
			return; /* nobody (else) waiting */
		}
		struct verbs_chan_info vi;
		verbs_chan_describe(ch, &vi);
		struct ext_app *e = NULL;
		for (int i = 0; i < NIC_MAX_APPS && !e; i++)
			if (!d->ext[i].ch)
				e = &d->ext[i];
		int idx = e ? nic_attach_app(d->nic, ch) : BT_ENOMEM;
		if (idx < 0) {
			d->apps_refused++;
			fprintf(stderr, "bluetas nic: application from %s refused: no free application slot (at most %d)\n",
				vi.peer, NIC_MAX_APPS);
			chan_destroy(ch); /* the application sees its channel break */
			continue;
		}
		e->ch = ch;
		e->idx = idx;
		e->seq = ++d->apps_attached;
		snprintf(e->peer, sizeof(e->peer), "%s", vi.peer);
		d->apps_active++;
		fprintf(stderr, "bluetas nic: app %" PRIu64 " attached (peer %s, device %s, qp %u)\n", e->seq, vi.peer, vi.dev,
			vi.qp_num);
	}
}

/* Detaches every application whose channel broke, then, once per
 * NIC_ACCEPT_CHECK_NS, accepts whoever is waiting on the listener. Called
 * right after nic_poll: a break is found by the poll that first saw it,
 * before the NIC's next poll resets the flows itself, so the count of
 * connections reset is the application's. */
int nicd_ext_service(struct daemon *d, uint64_t now)
{
	int work = 0;
	for (int i = 0; i < NIC_MAX_APPS && d->apps_active; i++) {
		struct ext_app *e = &d->ext[i];
		struct verbs_chan_stats v;
		if (!e->ch || verbs_chan_stats(e->ch, &v) != 0 || !v.broken)
			continue;
		/* "CHAN_EDISCONNECTED: peer disconnected" */
		const char *name = chan_err_name(v.broken);
		char why[160];
		snprintf(why, sizeof(why), "%.*s: %s", (int)strcspn(name, " "), name, v.broken_why);
		nicd_ext_detach(d, e, why);
		work++;
	}
	if (now < d->next_accept_check_ns)
		return work;
	d->next_accept_check_ns = now + NIC_ACCEPT_CHECK_NS;
	struct pollfd pfd = {.fd = verbs_listener_fd(d->listener), .events = POLLIN};
	if (poll(&pfd, 1, 0) > 0) {
		ext_accept(d);
		work++;
	}
	return work;
}
