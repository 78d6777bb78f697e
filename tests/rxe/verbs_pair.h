/*
 * verbs_pair.h: two connected ends of a verbs channel in ONE process, for
 * the tests and the benchmark in tests/rxe. The NIC end listens on the NIC
 * address (BLUETAS_RXE_NIC_ADDR, else the topology's RXE_NIC_IP, else
 * 10.10.0.2) and the host end connects from the host address
 * (BLUETAS_RXE_HOST_ADDR / RXE_HOST_IP / 10.10.0.1), each on its own
 * thread, so the accept and the connect run at once.
 *
 * When the topology put the two sides in network namespaces (ci/rxe-
 * topology.sh netns mode: RXE_NIC_NS / RXE_HOST_NS), the listen and the
 * connect run on threads that first setns(2) into their side's namespace:
 * rdma_cm ids belong to the namespace of the thread that creates them, and
 * once connected, a queue pair works from any thread.
 */
#ifndef BT_TESTS_RXE_VERBS_PAIR_H
#define BT_TESTS_RXE_VERBS_PAIR_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "transports/verbs/verbs_chan.h"

#define PAIR_WAIT_MS 10000 /* generous: the CI VM may run without KVM */

static inline const char *pair_env(const char *a, const char *b, const char *def)
{
	const char *v = getenv(a);
	if (v)
		return v;
	v = b ? getenv(b) : NULL;
	return v && *v ? v : def;
}
static inline const char *pair_nic_addr(void) { return pair_env("BLUETAS_RXE_NIC_ADDR", "RXE_NIC_IP", "10.10.0.2"); }
static inline const char *pair_host_addr(void) { return pair_env("BLUETAS_RXE_HOST_ADDR", "RXE_HOST_IP", "10.10.0.1"); }
static inline const char *pair_nic_ns(void) { return pair_env("BLUETAS_RXE_NIC_NS", "RXE_NIC_NS", ""); }
static inline const char *pair_host_ns(void) { return pair_env("BLUETAS_RXE_HOST_NS", "RXE_HOST_NS", ""); }
static inline const char *pair_nic_dev(void) { return pair_env("BLUETAS_RXE_NIC_DEV", NULL, ""); }
static inline const char *pair_host_dev(void) { return pair_env("BLUETAS_RXE_HOST_DEV", NULL, ""); }

static inline uint64_t pair_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int pair_enter_ns(const char *ns, char *err, size_t err_len)
{
	if (!ns || !*ns)
		return 0;
	char path[256];
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
		snprintf(err, err_len, "entering network namespace %s: %s", ns, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

struct pair_call {
	/* in */
	const char *ns;
	const struct verbs_params *p;
	struct verbs_listener *l; /* accept and connect (its port) */
	uint16_t port;            /* connect: instead of l's port */
	int kind;                 /* 0 listen, 1 accept, 2 connect */
	/* out */
	struct verbs_listener *listener;
	struct chan *ch;
	char err[256];
};

static inline void *pair_call_main(void *arg)
{
	struct pair_call *c = arg;
	if (pair_enter_ns(c->ns, c->err, sizeof(c->err)) < 0)
		return NULL;
	struct verbs_params p;
	if (c->p)
		p = *c->p;
	else
		verbs_default_params(&p);
	if (c->kind == 0) {
		const char *dev = pair_nic_dev();
		if (*dev && !p.dev)
			p.dev = dev;
		/* Port 0: rdma_cm picks a free one, so runs never collide. */
		c->listener = verbs_listen(pair_nic_addr(), 0, &p, c->err, sizeof(c->err));
	} else if (c->kind == 1) {
		c->ch = verbs_accept(c->l, PAIR_WAIT_MS, c->err, sizeof(c->err));
	} else {
		const char *src = pair_host_addr(), *dev = pair_host_dev();
		if (!p.src_addr)
			p.src_addr = *src ? src : NULL;
		if (*dev && !p.dev)
			p.dev = dev;
		c->ch = verbs_connect(pair_nic_addr(), c->port ? c->port : verbs_listener_port(c->l), &p, PAIR_WAIT_MS,
				      c->err, sizeof(c->err));
	}
	return NULL;
}

/* Runs the call on a thread of its own when a namespace must be entered
 * (setns changes only the calling thread), inline otherwise. */
static inline void pair_run(struct pair_call *c)
{
	if (!c->ns || !*c->ns) {
		pair_call_main(c);
		return;
	}
	pthread_t t;
	if (pthread_create(&t, NULL, pair_call_main, c) != 0) {
		snprintf(c->err, sizeof(c->err), "pthread_create failed");
		return;
	}
	pthread_join(t, NULL);
}

/* The NIC side's listener, or NULL with err. */
static inline struct verbs_listener *pair_listen(const struct verbs_params *p, char *err, size_t err_len)
{
	struct pair_call c = { .ns = pair_nic_ns(), .p = p, .kind = 0 };
	pair_run(&c);
	if (!c.listener)
		snprintf(err, err_len, "verbs_listen on %.40s: %.180s", pair_nic_addr(), c.err);
	return c.listener;
}

/* A host end connected to `l`; *nic_out gets the accepted NIC end. NULL
 * with err if either side failed (nothing is left behind). */
static inline struct chan *pair_connect(struct verbs_listener *l, const struct verbs_params *p,
					struct chan **nic_out, char *err, size_t err_len)
{
	struct pair_call acc = { .l = l, .p = p, .kind = 1 };
	struct pair_call con = { .ns = pair_host_ns(), .l = l, .p = p, .kind = 2 };
	pthread_t t;
	*nic_out = NULL;
	if (pthread_create(&t, NULL, pair_call_main, &acc) != 0) {
		snprintf(err, err_len, "pthread_create failed");
		return NULL;
	}
	pair_run(&con);
	pthread_join(t, NULL);
	if (!con.ch || !acc.ch) {
		snprintf(err, err_len, "connect %.40s -> %.40s:%u: %.200s; accept: %.200s", pair_host_addr(), pair_nic_addr(),
			 verbs_listener_port(l), con.ch ? "ok" : con.err, acc.ch ? "ok" : acc.err);
		if (con.ch)
			chan_destroy(con.ch);
		if (acc.ch)
			chan_destroy(acc.ch);
		return NULL;
	}
	*nic_out = acc.ch;
	return con.ch;
}

#endif
