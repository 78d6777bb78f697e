/*
 * test_ipc_listen: an application in another process listens on the stack
 * over the ipc channel (transports/ipc), as `bluetas app --app sink` and
 * LD_PRELOAD servers do. A forked child creates a host on an ipc channel,
 * listens, tells the parent, accepts one connection and echoes what it
 * reads; the parent runs the NIC (tests/support/harness.h) and, as the
 * scripted peer, connects: the SYN must get a SYN-ACK, not a reset, and
 * the bytes must come back. Real time bounds every wait (the child is a
 * real process); the NIC's clock stays virtual.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/bluetas.h"
#include "transports/clock.h"
#include "tests/support/harness.h"
#include "transports/ipc/ipc_chan.h"

#define PORT 8080
#define WAIT_MS 10000
#define PAYLOAD "hello over ipc"

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The child: listen, say so on `ready_fd`, accept one connection, echo
 * one message, exit 0; any failure exits with a code naming the step. */
static int child_main(const char *path, int ready_fd)
{
	char why[256];
	struct chan *ch = ipc_connect(path, NULL, WAIT_MS, why, sizeof(why));
	if (!ch) {
		fprintf(stderr, "child: ipc_connect: %s\n", why);
		return 10;
	}
	struct bt_clock clock;
	bt_clock_monotonic(&clock);
	struct bt_host_config hc;
	bt_host_default_config(&hc);
	hc.max_conns = 64;
	int rc;
	struct bt_host *h = bt_host_create(&hc, ch, &clock, &rc);
	if (!h)
		return 11;
	int l = bt_listen(h, PORT, 32);
	if (l < 0)
		return 12;
	char one = 'L';
	if (write(ready_fd, &one, 1) != 1)
		return 13;
	uint64_t end = mono_ms() + WAIT_MS;
	int conn = -1;
	char buf[64];
	size_t got = 0;
	while (mono_ms() < end) {
		struct bt_event ev[16];
		bt_poll(h, ev, 16);
		if (conn < 0) {
			conn = bt_accept(h, l);
			if (conn < 0 && conn != BT_EAGAIN)
				return 14;
		}
		if (conn >= 0) {
			ssize_t n = bt_recv(h, conn, buf + got, sizeof(buf) - got);
			if (n > 0)
				got += (size_t)n;
			else if (n < 0 && n != BT_EAGAIN)
				return 15;
			if (got == strlen(PAYLOAD)) {
				if (bt_send(h, conn, buf, got) != (ssize_t)got)
					return 16;
				/* Let the NIC take the doorbell before we go. */
				uint64_t linger = mono_ms() + 500;
				while (mono_ms() < linger) {
					bt_poll(h, ev, 16);
					bt_wait(h, 10 * 1000000ull);
				}
				return memcmp(buf, PAYLOAD, got) ? 17 : 0;
			}
		}
		bt_wait(h, 2000 * 1000000ull);
	}
	return 18;
}

struct fixture {
	struct harness *h;
	struct ipc_listener *lis;
	struct chan *ch;
	pid_t child;
	int ready_fd;
	char path[108];
};

/* Runs the NIC (virtual time, one step) and lets real time pass a little. */
static void step(struct fixture *f)
{
	harness_advance(f->h, 100 * 1000);
	usleep(200);
}

static void start(struct fixture *f)
{
	struct harness_opts o;
	harness_default_opts(&o);
	f->h = harness_init(&o);
	snprintf(f->path, sizeof(f->path), "/tmp/bt-ipc-listen-%d.sock", (int)getpid());
	unlink(f->path);
	char why[256];
	f->lis = ipc_listen(f->path, why, sizeof(why));
	assert_non_null(f->lis);
	int p[2];
	assert_int_equal(pipe(p), 0);
	f->child = fork();
	assert_true(f->child >= 0);
	if (f->child == 0) {
		close(p[0]);
		_exit(child_main(f->path, p[1]));
	}
	close(p[1]);
	f->ready_fd = p[0];
	fcntl(f->ready_fd, F_SETFL, O_NONBLOCK);
	uint64_t end = mono_ms() + WAIT_MS;
	while (!f->ch && mono_ms() < end) {
		f->ch = ipc_accept(f->lis, 1, why, sizeof(why));
		step(f);
	}
	assert_non_null(f->ch);
	assert_true(nic_attach_app(f->h->nic, f->ch) >= 0);
	/* Serve the child until it says it listens (bt_listen returned). */
	char c = 0;
	while (read(f->ready_fd, &c, 1) != 1 && mono_ms() < end)
		step(f);
	assert_int_equal(c, 'L');
}

static int finish(struct fixture *f)
{
	int status = 0;
	uint64_t end = mono_ms() + WAIT_MS;
	while (waitpid(f->child, &status, WNOHANG) == 0) {
		if (mono_ms() > end) {
			kill(f->child, SIGKILL);
			waitpid(f->child, &status, 0);
			break;
		}
		step(f);
	}
	close(f->ready_fd);
	ipc_listener_destroy(f->lis);
	unlink(f->path);
	harness_destroy(f->h); /* the NIC first: it uses the channel to the end */
	chan_destroy(f->ch);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static bool has_frame(struct harness *h, void *ctx)
{
	(void)ctx;
	return harness_pending_frames(h) > 0;
}

/* The child listens once bt_listen returned: a SYN right then must be
 * answered by a SYN-ACK (a listener the NIC does not have yet would reset
 * it: the child listening on another port makes this test fail). */
static void test_syn_right_after_listen_is_accepted(void **state)
{
	(void)state;
	struct fixture f = {0};
	start(&f);
	/* What the host posted in bt_listen reaches the NIC by its own polls
	 * (a real NIC polls continually): a few steps, no waiting for more. */
	for (int i = 0; i < 5; i++)
		step(&f);
	harness_drop_frames(f.h);
	struct harness_syn_opts so;
	harness_default_syn_opts(&so);
	f.h->peer.port = 40000;
	f.h->peer.nic_port = PORT;
	f.h->peer.iss = 7000;
	f.h->peer.snd_nxt = 7000;
	f.h->peer.window = 65535;
	struct tcp_opts topts = {.has_mss = true, .mss = 1460};
	struct harness_seg x = {.opts = &topts};
	harness_inject(f.h, TCP_SYN, 7000, 0, 65535, NULL, 0, &x);
	f.h->peer.snd_nxt = 7001;
	assert_true(harness_advance_until(f.h, 100 * 1000 * 1000ull, has_frame, NULL));
	struct harness_frame fr;
	assert_int_equal(harness_expect_frame(f.h, &fr), 1);
	assert_true(fr.is_tcp);
	assert_int_equal(fr.tcp.flags & (TCP_SYN | TCP_ACK | TCP_RST), TCP_SYN | TCP_ACK);
	assert_int_equal(fr.tcp.ack, 7001);
	f.h->peer.rcv_nxt = fr.tcp.seq + 1;
	f.h->peer.nic_iss = fr.tcp.seq;
	harness_peer_send(f.h, TCP_ACK, PAYLOAD, (uint16_t)strlen(PAYLOAD));
	/* The echo: received in real time while the NIC runs. */
	uint8_t back[64];
	uint32_t got = 0;
	uint64_t end = mono_ms() + WAIT_MS;
	while (got < strlen(PAYLOAD) && mono_ms() < end) {
		got += harness_peer_recv(f.h, back + got, (uint32_t)strlen(PAYLOAD) - got, 1000 * 1000);
		usleep(200);
	}
	assert_int_equal(got, strlen(PAYLOAD));
	assert_memory_equal(back, PAYLOAD, strlen(PAYLOAD));
	assert_int_equal(finish(&f), 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syn_right_after_listen_is_accepted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
