/*
 * nicd_ext.c: applications in other processes (`bluetas app`, LD_PRELOAD
 * programs) attached to the daemon over the RDMA verbs channel (--channel
 * verbs:ADDR) or the ipc channel on this host (--channel ipc:PATH). The loop
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

#include "../rt/rt.h"
#include "nicd.h"

void nicd_ext_detach(struct daemon *d, struct ext_app *e, const char *why)
{
	struct nic_stats before, after;
	nic_get_stats(d->nic, &before);
	nic_detach_app(d->nic, e->idx); /* resets its flows (RST to the peers) */
	nic_get_stats(d->nic, &after);
	uint64_t reset = after.conns_reset - before.conns_reset;
	rt_chan_stats_add(e->ch, &d->ext_chan_detached);
	chan_destroy(e->ch); /* releases its QP, CQ, regions */
	d->apps_detached++;
	d->apps_active--;
	d->apps_flows_reset += reset;
	fprintf(stderr, "bluetas nic: app %" PRIu64 " detached (%s; %" PRIu64 " connection%s reset)\n", e->seq, why, reset,
		reset == 1 ? "" : "s");
	memset(e, 0, sizeof(*e));
}

/* Gives an accepted channel an application slot on the NIC. */
static void ext_attach(struct daemon *d, struct chan *ch, const char *peer, const char *detail)
{
	struct ext_app *e = NULL;
	for (int i = 0; i < NIC_MAX_APPS && !e; i++)
		if (!d->ext[i].ch)
			e = &d->ext[i];
	int idx = e ? nic_attach_app(d->nic, ch) : BT_ENOMEM;
	if (idx < 0) {
		d->apps_refused++;
		fprintf(stderr, "bluetas nic: application from %s refused: no free application slot (at most %d)\n", peer,
			NIC_MAX_APPS);
		chan_destroy(ch); /* the application sees its channel break */
		return;
	}
	e->ch = ch;
	e->idx = idx;
	e->seq = ++d->apps_attached;
	snprintf(e->peer, sizeof(e->peer), "%s", peer);
	d->apps_active++;
	fprintf(stderr, "bluetas nic: app %" PRIu64 " attached (peer %s, %s)\n", e->seq, peer, detail);
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
		char detail[128];
		snprintf(detail, sizeof(detail), "device %s, qp %u", vi.dev, vi.qp_num);
		ext_attach(d, ch, vi.peer, detail);
	}
}

/* Applications on this host over the ipc channel (transports/ipc). */
static void ext_accept_ipc(struct daemon *d)
{
	for (int n = 0; n < NIC_ACCEPTS_PER_CHECK; n++) {
		char err[256];
		struct chan *ch = ipc_accept(d->ipc_listener, 0, err, sizeof(err));
		if (!ch) {
			if (strcmp(err, "timeout") != 0) {
				d->apps_refused++;
				fprintf(stderr, "bluetas nic: application refused: %s\n", err);
				continue;
			}
			return;
		}
		struct ipc_chan_stats st;
		ipc_chan_stats(ch, &st);
		char peer[48];
		snprintf(peer, sizeof(peer), "pid %d", (int)st.peer_pid);
		ext_attach(d, ch, peer, "ipc shared memory");
	}
}

/* The reason a channel broke, or 0. `deep` also looks for a hang-up of
 * an ipc peer (a syscall: once per accept check, not every loop). */
static int ext_broken(struct chan *ch, bool deep, char *why, size_t cap)
{
	int broken = 0;
	const char *text = "";
	struct verbs_chan_stats v;
	struct ipc_chan_stats st;
	if (verbs_chan_stats(ch, &v) == 0) {
		broken = v.broken;
		text = v.broken_why;
	} else if (ipc_chan_is(ch)) {
		if (deep)
			ipc_chan_check(ch);
		/* Not the stats on every poll: they format the reason string
		 * (vfprintf was 3.5% of the daemon's samples under redis). */
		broken = ipc_chan_broken(ch);
		if (broken) {
			ipc_chan_stats(ch, &st);
			text = st.broken_why;
		}
	}
	if (broken) {
		/* "CHAN_EDISCONNECTED: peer disconnected" */
		const char *name = chan_err_name(broken);
		snprintf(why, cap, "%.*s: %s", (int)strcspn(name, " "), name, text);
	}
	return broken;
}

/* Detaches every application whose channel broke, then, once per
 * NIC_ACCEPT_CHECK_NS, accepts whoever is waiting on the listeners. Called
 * right after nic_poll: a break is found by the poll that first saw it,
 * before the NIC's next poll resets the flows itself, so the count of
 * connections reset is the application's. */
int nicd_ext_service(struct daemon *d, uint64_t now)
{
	int work = 0;
	bool deep = now >= d->next_accept_check_ns;
	for (int i = 0; i < NIC_MAX_APPS && d->apps_active; i++) {
		struct ext_app *e = &d->ext[i];
		char why[160];
		if (!e->ch || !ext_broken(e->ch, deep, why, sizeof(why)))
			continue;
		nicd_ext_detach(d, e, why);
		work++;
	}
	if (!deep)
		return work;
	d->next_accept_check_ns = now + NIC_ACCEPT_CHECK_NS;
	struct pollfd pfd[2] = {{.fd = d->listener ? verbs_listener_fd(d->listener) : -1, .events = POLLIN},
				{.fd = d->ipc_listener ? ipc_listener_fd(d->ipc_listener) : -1, .events = POLLIN}};
	if (poll(pfd, 2, 0) > 0) {
		if (pfd[0].revents)
			ext_accept(d);
		if (pfd[1].revents)
			ext_accept_ipc(d);
		work++;
	}
	return work;
}
