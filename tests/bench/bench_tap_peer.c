/*
 * bench_tap_peer: the Linux side of the net_tap benchmark (run-bench-tap.sh).
 * The same program is both ends of the Linux-to-Linux veth baseline, so
 * the stack and Linux are measured by one and the same client.
 *
 *   echo-client HOST PORT  closed-loop RPC of --msg-bytes over one
 *                          connection for --duration-ms after --warmup-ms;
 *                          prints rtts, rtt_per_s, p50_us, p99_us
 *   echo-server PORT       echoes one connection until EOF
 *   bulk-send HOST PORT    sends --bytes, shuts down, waits for the
 *                          peer's EOF; prints bytes, secs, mbit_per_s
 *   bulk-recv PORT         reads one connection to EOF; prints bytes and
 *                          the rate from first byte to EOF
 *
 * Output: one key=value line on stdout. Every blocking call has a
 * deadline (--timeout-s, default 60): a stuck peer fails the run.
 * Exit: 0 success, 1 run failure, 2 usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define PROG "bench_tap_peer"
#define IO_BYTES (256 * 1024)
#define MAX_SAMPLES (4u << 20)

struct opts {
	const char *mode, *host;
	uint16_t port;
	uint64_t msg_bytes, bytes, duration_ms, warmup_ms, timeout_s;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int fail(const char *what)
{
	fprintf(stderr, PROG ": %s: %s\n", what, strerror(errno));
	return 1;
}

/* Waits until fd is ready for `events` or the deadline passes. */
static int wait_fd(int fd, short events, uint64_t deadline_ns)
{
	for (;;) {
		uint64_t now = now_ns();
		if (now >= deadline_ns) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd p = {.fd = fd, .events = events};
		int ms = (int)((deadline_ns - now) / 1000000) + 1;
		int rc = poll(&p, 1, ms > 1000 ? 1000 : ms);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

static int connect_to(const struct opts *o, uint64_t deadline)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(o->port)};
	if (inet_pton(AF_INET, o->host, &a.sin_addr) != 1) {
		fprintf(stderr, PROG ": '%s' is not an IPv4 address\n", o->host);
		return -1;
	}
	/* Retried: the server side may still be coming up. */
	while (now_ns() < deadline) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			return fd;
		}
		close(fd);
		usleep(50000);
	}
	errno = ETIMEDOUT;
	return -1;
}

static int accept_one(const struct opts *o, uint64_t deadline)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0)
		return -1;
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(o->port), .sin_addr.s_addr = INADDR_ANY};
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 4) < 0) {
		close(ls);
		return -1;
	}
	/* Tell a script it may start the other end now. */
	fprintf(stderr, PROG ": listening on %u\n", o->port);
	if (wait_fd(ls, POLLIN, deadline) < 0) {
		close(ls);
		return -1;
	}
	int fd = accept(ls, NULL, NULL);
	close(ls);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int echo_client(const struct opts *o)
{
	uint64_t deadline = now_ns() + o->timeout_s * 1000000000ull;
	int fd = connect_to(o, deadline);
	if (fd < 0)
		return fail("connect");
	struct timeval tv = {.tv_sec = (time_t)o->timeout_s};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	uint8_t *msg = malloc(o->msg_bytes), *back = malloc(o->msg_bytes);
	uint64_t *samples = malloc(sizeof(uint64_t) * MAX_SAMPLES);
	if (!msg || !back || !samples) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	for (uint64_t i = 0; i < o->msg_bytes; i++)
		msg[i] = (uint8_t)(i * 31 + 7);
	uint64_t start = now_ns();
	uint64_t measure_from = start + o->warmup_ms * 1000000ull;
	uint64_t end = measure_from + o->duration_ms * 1000000ull;
	uint64_t n = 0;
	for (;;) {
		uint64_t t0 = now_ns();
		if (t0 >= end)
			break;
		for (uint64_t sent = 0; sent < o->msg_bytes;) {
			ssize_t k = send(fd, msg + sent, o->msg_bytes - sent, MSG_NOSIGNAL);
			if (k < 0)
				return fail("send");
			sent += (uint64_t)k;
		}
		for (uint64_t got = 0; got < o->msg_bytes;) {
			/* Blocking with SO_RCVTIMEO: one system call per reply,
			 * not a poll and a recv. */
			ssize_t k = recv(fd, back + got, o->msg_bytes - got, 0);
			if (k < 0)
				return fail("echo recv");
			if (k == 0) {
				fprintf(stderr, PROG ": server closed the connection\n");
				return 1;
			}
			got += (uint64_t)k;
		}
		if (memcmp(msg, back, o->msg_bytes) != 0) {
			fprintf(stderr, PROG ": echo differs from the request\n");
			return 1;
		}
		uint64_t t1 = now_ns();
		if (t0 >= measure_from && n < MAX_SAMPLES)
			samples[n++] = t1 - t0;
	}
	shutdown(fd, SHUT_WR);
	(void)wait_fd(fd, POLLIN, now_ns() + 2000000000ull);
	close(fd);
	if (n == 0) {
		fprintf(stderr, PROG ": no round trip completed in the window\n");
		return 1;
	}
	qsort(samples, n, sizeof(uint64_t), cmp_u64);
	double secs = (double)o->duration_ms / 1e3;
	printf("tap_peer mode=echo msg_bytes=%" PRIu64 " rtts=%" PRIu64 " rtt_per_s=%.0f p50_us=%.2f p99_us=%.2f\n",
	       o->msg_bytes, n, (double)n / secs, (double)samples[n / 2] / 1e3, (double)samples[n * 99 / 100] / 1e3);
	free(msg);
	free(back);
	free(samples);
	return 0;
}

static int echo_server(const struct opts *o)
{
	uint64_t deadline = now_ns() + o->timeout_s * 1000000000ull;
	int fd = accept_one(o, deadline);
	if (fd < 0)
		return fail("accept");
	static uint8_t buf[IO_BYTES];
	for (;;) {
		if (wait_fd(fd, POLLIN, deadline) < 0)
			return fail("echo server wait");
		ssize_t k = recv(fd, buf, sizeof(buf), 0);
		if (k == 0)
			break;
		if (k < 0)
			return fail("recv");
		for (ssize_t sent = 0; sent < k;) {
			ssize_t w = send(fd, buf + sent, (size_t)(k - sent), MSG_NOSIGNAL);
			if (w < 0)
				return fail("send");
			sent += w;
		}
	}
	close(fd);
	printf("tap_peer mode=echo_server result=ok\n");
	return 0;
}

static int bulk_send(const struct opts *o)
{
	uint64_t deadline = now_ns() + o->timeout_s * 1000000000ull;
	int fd = connect_to(o, deadline);
	if (fd < 0)
		return fail("connect");
	static uint8_t buf[IO_BYTES];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 17);
	uint64_t t0 = now_ns();
	for (uint64_t sent = 0; sent < o->bytes;) {
		if (wait_fd(fd, POLLOUT, deadline) < 0)
			return fail("send wait");
		uint64_t left = o->bytes - sent;
		ssize_t k = send(fd, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf), MSG_NOSIGNAL);
		if (k < 0)
			return fail("send");
		sent += (uint64_t)k;
	}
	shutdown(fd, SHUT_WR);
	/* Done when the receiver has read everything and closed. */
	for (;;) {
		if (wait_fd(fd, POLLIN, deadline) < 0)
			return fail("waiting for the receiver's EOF");
		ssize_t k = recv(fd, buf, sizeof(buf), 0);
		if (k <= 0)
			break;
	}
	double secs = (double)(now_ns() - t0) / 1e9;
	close(fd);
	printf("tap_peer mode=bulk_send bytes=%" PRIu64 " secs=%.6f mbit_per_s=%.1f\n", o->bytes, secs,
	       (double)o->bytes * 8 / secs / 1e6);
	return 0;
}

static int bulk_recv(const struct opts *o)
{
	uint64_t deadline = now_ns() + o->timeout_s * 1000000000ull;
	int fd = accept_one(o, deadline);
	if (fd < 0)
		return fail("accept");
	static uint8_t buf[IO_BYTES];
	uint64_t total = 0, first = 0;
	for (;;) {
		if (wait_fd(fd, POLLIN, deadline) < 0)
			return fail("recv wait");
		ssize_t k = recv(fd, buf, sizeof(buf), 0);
		if (k == 0)
			break;
		if (k < 0)
			return fail("recv");
		if (!first)
			first = now_ns();
		total += (uint64_t)k;
	}
	double secs = first ? (double)(now_ns() - first) / 1e9 : 0;
	close(fd);
	printf("tap_peer mode=bulk_recv bytes=%" PRIu64 " secs=%.6f mbit_per_s=%.1f\n", total, secs,
	       secs > 0 ? (double)total * 8 / secs / 1e6 : 0.0);
	return 0;
}

static int num(const char *flag, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, PROG ": %s: '%s' is not a number in %" PRIu64 "..%" PRIu64 "\n", flag, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " echo-client HOST PORT | echo-server PORT | bulk-send HOST PORT | bulk-recv PORT\n"
		   "  [--msg-bytes N] [--duration-ms N] [--warmup-ms N] [--bytes N] [--timeout-s N]\n");
}

int main(int argc, char **argv)
{
	struct opts o = {.msg_bytes = 64, .bytes = 64ull << 20, .duration_ms = 2000, .warmup_ms = 200, .timeout_s = 60};
	const char *pos[3];
	int npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] == '-' && a[1] == '-') {
			if (!strcmp(a, "--help")) {
				usage(stdout);
				return 0;
			}
			if (i + 1 >= argc) {
				fprintf(stderr, PROG ": %s needs a value\n", a);
				return 2;
			}
			const char *v = argv[++i];
			int rc;
			if (!strcmp(a, "--msg-bytes"))
				rc = num(a, v, 1, 1u << 20, &o.msg_bytes);
			else if (!strcmp(a, "--bytes"))
				rc = num(a, v, 1, 1ull << 40, &o.bytes);
			else if (!strcmp(a, "--duration-ms"))
				rc = num(a, v, 1, 3600000, &o.duration_ms);
			else if (!strcmp(a, "--warmup-ms"))
				rc = num(a, v, 0, 600000, &o.warmup_ms);
			else if (!strcmp(a, "--timeout-s"))
				rc = num(a, v, 1, 3600, &o.timeout_s);
			else {
				fprintf(stderr, PROG ": unknown option '%s'\n", a);
				return 2;
			}
			if (rc < 0)
				return 2;
		} else if (npos < 3) {
			pos[npos++] = a;
		} else {
			fprintf(stderr, PROG ": unexpected argument '%s'\n", a);
			return 2;
		}
	}
	if (npos < 2) {
		usage(stderr);
		return 2;
	}
	o.mode = pos[0];
	bool client = !strcmp(o.mode, "echo-client") || !strcmp(o.mode, "bulk-send");
	if (client && npos != 3) {
		usage(stderr);
		return 2;
	}
	uint64_t port;
	if (num("PORT", pos[client ? 2 : 1], 1, 65535, &port) < 0)
		return 2;
	o.port = (uint16_t)port;
	o.host = client ? pos[1] : NULL;
	if (!strcmp(o.mode, "echo-client"))
		return echo_client(&o);
	if (!strcmp(o.mode, "echo-server"))
		return echo_server(&o);
	if (!strcmp(o.mode, "bulk-send"))
		return bulk_send(&o);
	if (!strcmp(o.mode, "bulk-recv"))
		return bulk_recv(&o);
	fprintf(stderr, PROG ": unknown mode '%s'\n", o.mode);
	usage(stderr);
	return 2;
}
