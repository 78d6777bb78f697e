/*
 * pd_shim.c: packetdrill's shared-object interface over the stack
 * (docs/conformance.md). packetdrill loads this object (--so_filename),
 * calls packetdrill_interface_init with --so_flags, and from then on sends
 * it IPv4 packets (netdev_send), sniffs the packets the stack sends
 * (netdev_receive), reads and sleeps on its clock (gettimeofday, usleep)
 * and makes socket calls (pd_sock.c, pd_poll.c).
 *
 * The clock is the world's virtual clock: every gettimeofday moves it on
 * by 1 us (packetdrill spins on it for waits under 20 us), usleep jumps
 * it, and netdev_receive jumps it to the stack's next deadline until a
 * packet comes out, bounded by PD_SNIFF_LIMIT_NS of virtual time.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "packetdrill.h"
#include "pd_shim.h"

#define PD_TICK_NS 1000ull                      /* per gettimeofday */
#define PD_SNIFF_LIMIT_NS (600ull * 1000000000) /* no packet within this: give up */
#define PD_KICK_WAIT_S 2                        /* real time a sleeper gets to look */

/* ---- the sleeping call ---- */

void pd_kick(struct pd_shim *s)
{
	struct timespec end;
	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += PD_KICK_WAIT_S;
	if (s->waiting) {
		s->gen++;
		pthread_cond_broadcast(&s->changed);
		while (s->waiting && s->waiter_seen != s->gen)
			if (pthread_cond_timedwait(&s->acked, &s->mu, &end) == ETIMEDOUT)
				break;
	}
	/* A blocking call that just returned: its thread reads the clock
	 * next, to stamp the return. The clock waits for that, or the stamp
	 * would depend on which thread the scheduler runs first (it did:
	 * blocking-write passed now and then). */
	while (s->returned_pending && !pthread_equal(pthread_self(), s->returned_tid))
		if (pthread_cond_timedwait(&s->acked, &s->mu, &end) == ETIMEDOUT) {
			s->returned_pending = false;
			break;
		}
}

bool pd_sleep(struct pd_shim *s, uint64_t deadline_ns)
{
	if (deadline_ns && pd_world_now_ns(s->w) >= deadline_ns)
		return false;
	s->waiting = true;
	s->waiter_seen = s->gen;
	pthread_cond_broadcast(&s->acked);
	uint64_t gen = s->gen;
	while (s->gen == gen)
		pthread_cond_wait(&s->changed, &s->mu);
	return !(deadline_ns && pd_world_now_ns(s->w) >= deadline_ns);
}

void pd_sleep_done(struct pd_shim *s)
{
	if (!s->waiting)
		return;
	s->waiting = false;
	s->returned_pending = true;
	s->returned_tid = pthread_self();
	pthread_cond_broadcast(&s->acked);
}

/* ---- descriptors ---- */

int pd_new_fd(struct pd_shim *s)
{
	/* A real descriptor: packetdrill closes what is left with close(2). */
	int fd = dup(s->devnull);
	if (fd < 0)
		return -1;
	if (fd >= PD_MAX_FDS) {
		close(fd);
		errno = EMFILE;
		return -1;
	}
	return fd;
}

struct pd_sock *pd_sock_of(struct pd_shim *s, int fd)
{
	return fd >= 0 && fd < PD_MAX_FDS ? s->socks[fd] : NULL;
}

/* ---- time and the wire ---- */

static int pd_gettimeofday(void *u, struct timeval *tv, struct timezone *tz)
{
	(void)tz;
	struct pd_shim *s = u;
	pthread_mutex_lock(&s->mu);
	if (s->returned_pending && pthread_equal(pthread_self(), s->returned_tid)) {
		s->returned_pending = false;
		pthread_cond_broadcast(&s->acked);
	}
	pd_world_advance(s->w, pd_world_now_ns(s->w) + PD_TICK_NS);
	uint64_t now = pd_world_now_ns(s->w);
	pd_kick(s);
	pthread_mutex_unlock(&s->mu);
	tv->tv_sec = (time_t)(now / 1000000000ull);
	tv->tv_usec = (suseconds_t)(now % 1000000000ull / 1000);
	return 0;
}

static int pd_usleep(void *u, useconds_t usec)
{
	struct pd_shim *s = u;
	pthread_mutex_lock(&s->mu);
	pd_world_advance(s->w, pd_world_now_ns(s->w) + (uint64_t)usec * 1000ull);
	pd_kick(s);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static int pd_netdev_send(void *u, const void *buf, size_t count)
{
	struct pd_shim *s = u;
	pthread_mutex_lock(&s->mu);
	if (s->verbose && count >= 20) {
		const uint8_t *ip = buf;
		fprintf(stderr, "bluetas shim: in %zu bytes %u.%u.%u.%u -> %u.%u.%u.%u\n", count, ip[12], ip[13], ip[14],
			ip[15], ip[16], ip[17], ip[18], ip[19]);
	}
	int rc = pd_world_inject(s->w, buf, count);
	pd_kick(s);
	pthread_mutex_unlock(&s->mu);
	if (rc < 0)
		fprintf(stderr, "bluetas shim: netdev_send: not an IPv4 packet the wire can carry (%zu bytes)\n", count);
	return rc;
}

static int pd_netdev_receive(void *u, void *buf, size_t *count, long long *time_usecs)
{
	struct pd_shim *s = u;
	pthread_mutex_lock(&s->mu);
	uint64_t start = pd_world_now_ns(s->w);
	int rc = 0;
	for (;;) {
		pd_kick(s);
		uint64_t at;
		if (pd_world_pop(s->w, buf, *count, count, &at)) {
			*time_usecs = (long long)(at / 1000);
			break;
		}
		uint64_t t = pd_world_next_event_ns(s->w);
		if (t == BT_TIME_NEVER || t > start + PD_SNIFF_LIMIT_NS) {
			/* A zero-length packet: packetdrill reports it as a
			 * parse failure and the script fails there. */
			fprintf(stderr, "bluetas shim: the stack sends nothing more (waited %.3f s of virtual time)\n",
				(double)(pd_world_now_ns(s->w) - start) / 1e9);
			if (s->verbose)
				pd_world_print_stats(s->w);
			*count = 0;
			*time_usecs = (long long)(pd_world_now_ns(s->w) / 1000);
			break;
		}
		pd_world_advance(s->w, t);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int pd_pipe(void *u, int pipefd[2])
{
	(void)u;
	(void)pipefd;
	errno = ENOSYS;
	return -1;
}

static int pd_splice(void *u, int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len, unsigned int flags)
{
	(void)u, (void)fd_in, (void)off_in, (void)fd_out, (void)off_out, (void)len, (void)flags;
	errno = ENOSYS;
	return -1;
}

/* ---- lifecycle ---- */

static void pd_free(void *u)
{
	struct pd_shim *s = u;
	if (!s)
		return;
	if (s->verbose && s->w)
		pd_world_print_stats(s->w);
	pd_world_destroy(s->w);
	for (int i = 0; i < PD_MAX_FDS; i++) {
		free(s->socks[i]);
		free(s->eps[i]);
	}
	if (s->devnull >= 0)
		close(s->devnull);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->changed);
	pthread_cond_destroy(&s->acked);
	free(s);
}

void packetdrill_interface_init(const char *flags, struct packetdrill_interface *ifc);
void packetdrill_interface_init(const char *flags, struct packetdrill_interface *ifc)
{
	struct pd_shim *s = calloc(1, sizeof(*s));
	if (!s) {
		fprintf(stderr, "bluetas shim: out of memory\n");
		exit(2);
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->changed, NULL);
	pthread_cond_init(&s->acked, NULL);
	s->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (s->devnull < 0) {
		perror("bluetas shim: /dev/null");
		exit(2);
	}
	struct nic_config nc;
	struct bt_host_config hc;
	char err[256] = "";
	if (pd_profile_parse(flags ? flags : "", s, &nc, &hc, err, sizeof(err)) < 0) {
		fprintf(stderr, "bluetas shim: --so_flags: %s\n", err);
		exit(2);
	}
	s->w = pd_world_create(&nc, &hc, err, sizeof(err));
	if (!s->w) {
		fprintf(stderr, "bluetas shim: %s\n", err);
		exit(2);
	}
	*ifc = (struct packetdrill_interface){
		.userdata = s,
		.free = pd_free,
		.socket = pd_socket,
		.bind = pd_bind,
		.listen = pd_listen,
		.accept = pd_accept,
		.connect = pd_connect,
		.read = pd_read,
		.readv = pd_readv,
		.recv = pd_recv,
		.recvfrom = pd_recvfrom,
		.recvmsg = pd_recvmsg,
		.write = pd_write,
		.writev = pd_writev,
		.send = pd_send,
		.sendto = pd_sendto,
		.sendmsg = pd_sendmsg,
		.fcntl = pd_fcntl,
		.ioctl = pd_ioctl,
		.close = pd_close,
		.shutdown = pd_shutdown,
		.getsockopt = pd_getsockopt,
		.setsockopt = pd_setsockopt,
		.poll = pd_poll,
		.netdev_send = pd_netdev_send,
		.netdev_receive = pd_netdev_receive,
		.usleep = pd_usleep,
		.gettimeofday = pd_gettimeofday,
		.epoll_create = pd_epoll_create,
		.epoll_ctl = pd_epoll_ctl,
		.epoll_wait = pd_epoll_wait,
		.pipe = pd_pipe,
		.splice = pd_splice,
	};
}
