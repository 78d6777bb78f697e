/*
 * bench_linux_tcp: Linux kernel TCP baseline for a closed-loop echo RPC over
 * loopback, so the BlueTAS stack numbers have something to be compared with.
 *
 * Two processes, as two applications would be: a server process echoes,
 * the client process (this one) keeps exactly one request in flight per
 * connection. "Round trips per CPU-second" divides by the CPU time of BOTH
 * processes over the measurement window only (the warm-up excluded on both
 * sides): the client reads the server's CPU clock (clock_getcpuclockid) at
 * the window's edges. With --cpu N both processes are pinned to CPU N (the
 * configuration in which Linux loopback costs least per round trip);
 * without it the scheduler places them.
 *
 * Output: one key=value line on stdout; everything else goes to stderr.
 * Exit: 0 success, 1 run failure (setup, timeout, echo mismatch), 2 usage.
 */

#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROG "bench_linux_tcp"

#define MAX_CONNS 4096
#define MAX_MSG_BYTES (64LL * 1024 * 1024)
#define MAX_DURATION_MS 3600000LL
#define MAX_WARMUP_MS 600000LL

/* Extra time allowed beyond warmup+duration before the run is declared hung;
 * covers connection setup and teardown with a wide margin. */
#define HARD_CAP_NS (10LL * 1000000000LL)
/* Connection setup must finish well inside the hard cap so a stuck accept
 * or connect is reported as such rather than as a generic timeout. */
#define SETUP_TIMEOUT_NS (5LL * 1000000000LL)
/* Upper bound on any single blocking wait, so stop flags and deadlines are
 * noticed promptly even when no traffic flows. */
#define POLL_SLICE_MS 50

#define LAT_CAP 2000000u
#define LAT_INITIAL 65536u

/* Requests are slices of one random pattern taken at a per-request offset, so
 * consecutive requests differ (a stale or misrouted echo is caught) without
 * generating fresh payload bytes on every round trip. */
#define PATTERN_SLACK 251u

#define SERVER_BUF_MAX 65536u
#define MAX_EVENTS 256

struct config {
    int conns;
    size_t msg_bytes;
    long long duration_ms;
    long long warmup_ms;
    int port;
    int cpu;                 /* pin both processes here; -1: not pinned */
};

struct results {
    uint64_t rtts;           /* completed inside the measurement window */
    uint64_t mismatches;     /* over the whole run, warmup included */
    double wall_s;
    double cpu_s;
    uint64_t *lat_ns;        /* reservoir of measured round-trip times */
    size_t lat_len;
    size_t lat_cap;          /* current allocation */
    uint64_t lat_seen;       /* measured samples offered to the reservoir */
    bool lat_alloc_failed;
    uint64_t rng;
    bool measured;           /* the measurement window ran to its end */
};

struct bench_ctx {
    struct config cfg;
    int listen_fd;
    int64_t hard_deadline_ns;
    int64_t setup_deadline_ns;
    const unsigned char *pattern;  /* msg_bytes + PATTERN_SLACK bytes */

    /* In memory shared by the two processes. `stop` is set by the
     * client once measurement is over (or on failure) so the server does
     * not treat the resulting resets as errors. */
    struct shared_flags {
        atomic_int stop;
        atomic_int server_failed;
        atomic_int client_failed;
    } *fl;
    clockid_t server_cpu_clock;    /* the server process's CPU clock */

    struct results res;      /* written by the client thread only */
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of both ends of every round trip: this process and the server. */
static double cpu_seconds(const struct bench_ctx *ctx)
{
    return clock_s(CLOCK_PROCESS_CPUTIME_ID) + clock_s(ctx->server_cpu_clock);
}

/* Wait time for epoll/poll: never past the deadline, never longer than one
 * slice, and rounded up so we do not spin on a sub-millisecond remainder. */
static int wait_ms_until(int64_t deadline_ns)
{
    int64_t left = deadline_ns - mono_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > POLL_SLICE_MS ? POLL_SLICE_MS : (int)ms;
}

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0)
        return -1;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int set_nodelay(int fd)
{
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ------------------------------------------------------------------ */
/* Server                                                              */
/* ------------------------------------------------------------------ */

struct srv_conn {
    int fd;
    unsigned char *buf;
    size_t len;          /* bytes read and not yet fully echoed */
    size_t off;          /* bytes of buf already echoed */
    bool want_out;
};

static void srv_close(int ep, struct srv_conn *c, int *open_conns)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    (*open_conns)--;
}

static void srv_fail(struct bench_ctx *ctx, const char *what, int err)
{
    /* After stop, resets from the client closing mid-exchange are expected. */
    if (atomic_load(&ctx->fl->stop))
        return;
    fprintf(stderr, PROG ": server: %s: %s\n", what, strerror(err));
    atomic_store(&ctx->fl->server_failed, 1);
}

static int srv_accept_all(struct bench_ctx *ctx, struct srv_conn *conns,
                          int ep, size_t cap)
{
    int n = ctx->cfg.conns;
    int accepted = 0;

    while (accepted < n) {
        if (atomic_load(&ctx->fl->stop)) {
            fprintf(stderr, PROG ": server: run stopped after accepting "
                    "%d of %d connections\n", accepted, n);
            return -1;
        }
        if (mono_ns() >= ctx->setup_deadline_ns) {
            fprintf(stderr, PROG ": server: accepted only %d of %d "
                    "connections before the setup timeout\n", accepted, n);
            return -1;
        }
        struct pollfd pfd = { .fd = ctx->listen_fd, .events = POLLIN };
        int pr = poll(&pfd, 1, wait_ms_until(ctx->setup_deadline_ns));
        if (pr < 0 && errno != EINTR) {
            fprintf(stderr, PROG ": server: poll: %s\n", strerror(errno));
            return -1;
        }
        if (pr <= 0)
            continue;

        for (;;) {
            if (accepted >= n)
                break;
            int fd = accept(ctx->listen_fd, NULL, NULL);
            if (fd < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                    errno == ECONNABORTED)
                    break;
                fprintf(stderr, PROG ": server: accept: %s\n", strerror(errno));
                return -1;
            }
            struct srv_conn *c = &conns[accepted];
            c->fd = fd;
            c->buf = malloc(cap);
            if (!c->buf || set_nonblock(fd) != 0 || set_nodelay(fd) != 0) {
                fprintf(stderr, PROG ": server: connection setup failed\n");
                close(fd);
                c->fd = -1;
                return -1;
            }
            struct epoll_event ev = { .events = EPOLLIN,
                                      .data.u32 = (uint32_t)accepted };
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
                fprintf(stderr, PROG ": server: epoll_ctl: %s\n",
                        strerror(errno));
                close(fd);
                c->fd = -1;
                return -1;
            }
            accepted++;
        }
    }
    return 0;
}

/* Returns false once the connection has been closed. */
static bool srv_service(struct bench_ctx *ctx, int ep, struct srv_conn *c,
                        uint32_t idx, uint32_t events, size_t cap,
                        int *open_conns)
{
    if (c->len == 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        ssize_t r = recv(c->fd, c->buf, cap, 0);
        if (r == 0) {
            srv_close(ep, c, open_conns);
            return false;
        }
        if (r < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                srv_fail(ctx, "recv", errno);
                srv_close(ep, c, open_conns);
                return false;
            }
        } else {
            c->len = (size_t)r;
            c->off = 0;
        }
    }

    while (c->off < c->len) {
        ssize_t w = send(c->fd, c->buf + c->off, c->len - c->off,
                         MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            srv_fail(ctx, "send", errno);
            srv_close(ep, c, open_conns);
            return false;
        }
        c->off += (size_t)w;
    }

    /* While an echo is pending, stop reading: the buffer is bounded and the
     * client always drains its side, so waiting for EPOLLOUT cannot deadlock. */
    bool pending = c->off < c->len;
    if (!pending)
        c->len = c->off = 0;
    if (pending != c->want_out) {
        struct epoll_event ev = { .events = pending ? EPOLLOUT : EPOLLIN,
                                  .data.u32 = idx };
        if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
            srv_fail(ctx, "epoll_ctl", errno);
            srv_close(ep, c, open_conns);
            return false;
        }
        c->want_out = pending;
    }
    return true;
}

static void *server_main(void *arg)
{
    struct bench_ctx *ctx = arg;
    int n = ctx->cfg.conns;
    size_t cap = ctx->cfg.msg_bytes < SERVER_BUF_MAX ? ctx->cfg.msg_bytes
                                                     : SERVER_BUF_MAX;
    struct srv_conn *conns = calloc((size_t)n, sizeof *conns);
    int ep = epoll_create1(0);

    if (!conns || ep < 0) {
        fprintf(stderr, PROG ": server: out of resources\n");
        atomic_store(&ctx->fl->server_failed, 1);
        goto out;
    }
    for (int i = 0; i < n; i++)
        conns[i].fd = -1;

    if (srv_accept_all(ctx, conns, ep, cap) != 0) {
        atomic_store(&ctx->fl->server_failed, 1);
        goto out;
    }

    int open_conns = n;
    struct epoll_event evs[MAX_EVENTS];
    while (open_conns > 0 && !atomic_load(&ctx->fl->stop)) {
        if (mono_ns() >= ctx->hard_deadline_ns) {
            fprintf(stderr, PROG ": server: hard deadline reached\n");
            atomic_store(&ctx->fl->server_failed, 1);
            break;
        }
        int k = epoll_wait(ep, evs, MAX_EVENTS,
                           wait_ms_until(ctx->hard_deadline_ns));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            srv_fail(ctx, "epoll_wait", errno);
            break;
        }
        for (int i = 0; i < k; i++) {
            uint32_t idx = evs[i].data.u32;
            if (conns[idx].fd < 0)
                continue;
            srv_service(ctx, ep, &conns[idx], idx, evs[i].events, cap,
                        &open_conns);
        }
    }

out:
    if (conns) {
        for (int i = 0; i < n; i++) {
            if (conns[i].fd >= 0)
                close(conns[i].fd);
            free(conns[i].buf);
        }
        free(conns);
    }
    if (ep >= 0)
        close(ep);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Client                                                              */
/* ------------------------------------------------------------------ */

struct cli_conn {
    int fd;
    unsigned char *rbuf;
    const unsigned char *req;  /* slice of the shared pattern */
    size_t sent;
    size_t rcvd;
    uint64_t seq;
    int64_t t_send;
    bool want_out;
};

enum phase { PHASE_WARMUP, PHASE_MEASURE };

static void lat_record(struct results *r, uint64_t ns)
{
    r->lat_seen++;
    if (r->lat_len < r->lat_cap) {
        r->lat_ns[r->lat_len++] = ns;
        return;
    }
    if (r->lat_cap < LAT_CAP && !r->lat_alloc_failed) {
        size_t ncap = r->lat_cap ? r->lat_cap * 2 : LAT_INITIAL;
        if (ncap > LAT_CAP)
            ncap = LAT_CAP;
        uint64_t *p = realloc(r->lat_ns, ncap * sizeof *p);
        if (p) {
            r->lat_ns = p;
            r->lat_cap = ncap;
            r->lat_ns[r->lat_len++] = ns;
            return;
        }
        /* Keep going with what we have; the reservoir stays unbiased. */
        r->lat_alloc_failed = true;
        fprintf(stderr, PROG ": latency buffer stuck at %zu samples\n",
                r->lat_cap);
    }
    if (r->lat_cap == 0)
        return;
    /* Reservoir sampling keeps percentiles representative of the whole
     * window instead of only its first LAT_CAP round trips. */
    uint64_t j = xorshift64(&r->rng) % r->lat_seen;
    if (j < r->lat_cap)
        r->lat_ns[j] = ns;
}

static int connect_one(struct bench_ctx *ctx, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        fprintf(stderr, PROG ": client: socket: %s\n", strerror(errno));
        return -1;
    }
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    if (set_nonblock(fd) != 0 || set_nodelay(fd) != 0) {
        fprintf(stderr, PROG ": client: socket options: %s\n", strerror(errno));
        goto fail;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        return fd;
    if (errno != EINPROGRESS) {
        fprintf(stderr, PROG ": client: connect: %s\n", strerror(errno));
        goto fail;
    }
    for (;;) {
        if (atomic_load(&ctx->fl->stop))
            goto fail;
        if (mono_ns() >= ctx->setup_deadline_ns) {
            fprintf(stderr, PROG ": client: connect timed out\n");
            goto fail;
        }
        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
        int pr = poll(&pfd, 1, wait_ms_until(ctx->setup_deadline_ns));
        if (pr < 0 && errno != EINTR) {
            fprintf(stderr, PROG ": client: poll: %s\n", strerror(errno));
            goto fail;
        }
        if (pr > 0)
            break;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        fprintf(stderr, PROG ": client: connect: %s\n",
                strerror(err ? err : errno));
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

static int cli_set_out(int ep, struct cli_conn *c, uint32_t idx, bool want)
{
    if (c->want_out == want)
        return 0;
    struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0u),
                              .data.u32 = idx };
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        return -1;
    c->want_out = want;
    return 0;
}

static int cli_push(int ep, struct cli_conn *c, uint32_t idx, size_t msg)
{
    while (c->sent < msg) {
        ssize_t w = send(c->fd, c->req + c->sent, msg - c->sent, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            fprintf(stderr, PROG ": client: send: %s\n", strerror(errno));
            return -1;
        }
        c->sent += (size_t)w;
    }
    if (cli_set_out(ep, c, idx, c->sent < msg) != 0) {
        fprintf(stderr, PROG ": client: epoll_ctl: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static int cli_start_request(struct bench_ctx *ctx, int ep, struct cli_conn *c,
                             uint32_t idx, int64_t now)
{
    /* Offsets step by one per request so back-to-back requests on a
     * connection never carry identical bytes. */
    size_t off = (size_t)((c->seq + (uint64_t)idx * 7u) % PATTERN_SLACK);
    c->req = ctx->pattern + off;
    c->sent = 0;
    c->rcvd = 0;
    c->t_send = now;
    return cli_push(ep, c, idx, ctx->cfg.msg_bytes);
}

/* Returns -1 on a fatal connection error. */
static int cli_service(struct bench_ctx *ctx, int ep, struct cli_conn *c,
                       uint32_t idx, uint32_t events, enum phase phase)
{
    size_t msg = ctx->cfg.msg_bytes;
    struct results *res = &ctx->res;

    if ((events & EPOLLOUT) && c->sent < msg) {
        if (cli_push(ep, c, idx, msg) != 0)
            return -1;
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return 0;

    for (;;) {
        ssize_t r = recv(c->fd, c->rbuf + c->rcvd, msg - c->rcvd, 0);
        if (r == 0) {
            fprintf(stderr, PROG ": client: server closed connection %u\n",
                    idx);
            return -1;
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            fprintf(stderr, PROG ": client: recv: %s\n", strerror(errno));
            return -1;
        }
        c->rcvd += (size_t)r;
        if (c->rcvd < msg)
            continue;

        int64_t now = mono_ns();
        /* An echo cannot legitimately complete before the request was fully
         * sent, so that counts as a mismatch too. */
        if (c->sent != msg || memcmp(c->rbuf, c->req, msg) != 0) {
            if (res->mismatches == 0)
                fprintf(stderr, PROG ": client: echo mismatch on "
                        "connection %u, request %llu\n", idx,
                        (unsigned long long)c->seq);
            res->mismatches++;
        }
        if (phase == PHASE_MEASURE) {
            res->rtts++;
            lat_record(res, (uint64_t)(now - c->t_send));
        }
        c->seq++;
        if (cli_start_request(ctx, ep, c, idx, now) != 0)
            return -1;
    }
}

static void *client_main(void *arg)
{
    struct bench_ctx *ctx = arg;
    struct results *res = &ctx->res;
    int n = ctx->cfg.conns;
    size_t msg = ctx->cfg.msg_bytes;
    struct cli_conn *conns = calloc((size_t)n, sizeof *conns);
    int ep = epoll_create1(0);
    bool ok = false;

    if (!conns || ep < 0) {
        fprintf(stderr, PROG ": client: out of resources\n");
        goto out;
    }
    for (int i = 0; i < n; i++)
        conns[i].fd = -1;

    struct sockaddr_in la;
    socklen_t lalen = sizeof la;
    if (getsockname(ctx->listen_fd, (struct sockaddr *)&la, &lalen) != 0) {
        fprintf(stderr, PROG ": client: getsockname: %s\n", strerror(errno));
        goto out;
    }
    uint16_t port = ntohs(la.sin_port);

    for (int i = 0; i < n; i++) {
        struct cli_conn *c = &conns[i];
        c->rbuf = malloc(msg);
        if (!c->rbuf) {
            fprintf(stderr, PROG ": client: out of memory\n");
            goto out;
        }
        c->fd = connect_one(ctx, port);
        if (c->fd < 0)
            goto out;
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
            fprintf(stderr, PROG ": client: epoll_ctl: %s\n", strerror(errno));
            goto out;
        }
    }

    int64_t t_begin = mono_ns();
    for (int i = 0; i < n; i++)
        if (cli_start_request(ctx, ep, &conns[i], (uint32_t)i, t_begin) != 0)
            goto out;

    int64_t measure_start = t_begin + ctx->cfg.warmup_ms * 1000000LL;
    int64_t measure_end = measure_start + ctx->cfg.duration_ms * 1000000LL;
    int64_t t_start = 0;
    double cpu_start = 0.0;
    enum phase phase = PHASE_WARMUP;
    struct epoll_event evs[MAX_EVENTS];

    for (;;) {
        int64_t now = mono_ns();
        if (phase == PHASE_WARMUP && now >= measure_start) {
            cpu_start = cpu_seconds(ctx);
            t_start = mono_ns();
            phase = PHASE_MEASURE;
        }
        if (phase == PHASE_MEASURE && now >= measure_end) {
            int64_t t_end = mono_ns();
            res->cpu_s = cpu_seconds(ctx) - cpu_start;
            res->wall_s = (double)(t_end - t_start) / 1e9;
            res->measured = true;
            break;
        }
        if (now >= ctx->hard_deadline_ns) {
            fprintf(stderr, PROG ": client: hard deadline reached\n");
            goto out;
        }
        if (atomic_load(&ctx->fl->server_failed)) {
            fprintf(stderr, PROG ": client: server failed, aborting\n");
            goto out;
        }
        int64_t next = phase == PHASE_WARMUP ? measure_start : measure_end;
        int k = epoll_wait(ep, evs, MAX_EVENTS, wait_ms_until(next));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, PROG ": client: epoll_wait: %s\n", strerror(errno));
            goto out;
        }
        for (int i = 0; i < k; i++) {
            uint32_t idx = evs[i].data.u32;
            if (cli_service(ctx, ep, &conns[idx], idx, evs[i].events,
                            phase) != 0)
                goto out;
        }
    }
    ok = true;

out:
    /* Stop before closing, so the server sees the stop flag before it can
     * observe the resets our close() may cause. */
    atomic_store(&ctx->fl->stop, 1);
    if (!ok)
        atomic_store(&ctx->fl->client_failed, 1);
    if (conns) {
        for (int i = 0; i < n; i++) {
            if (conns[i].fd >= 0)
                close(conns[i].fd);
            free(conns[i].rbuf);
        }
        free(conns);
    }
    if (ep >= 0)
        close(ep);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Setup, statistics, CLI                                              */
/* ------------------------------------------------------------------ */

static int make_listener(const struct config *cfg)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        fprintf(stderr, PROG ": socket: %s\n", strerror(errno));
        return -1;
    }
    int one = 1;
    /* A fixed --port must be reusable right after a previous run. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);

    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t)cfg->port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int backlog = cfg->conns < 128 ? 128 : cfg->conns;

    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, PROG ": bind 127.0.0.1:%d: %s\n", cfg->port,
                strerror(errno));
        goto fail;
    }
    if (listen(fd, backlog) != 0 || set_nonblock(fd) != 0) {
        fprintf(stderr, PROG ": listen: %s\n", strerror(errno));
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

/* Each connection costs two descriptors here (both ends live in-process). */
static int ensure_fd_limit(int conns)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)conns * 2 + 32;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        fprintf(stderr, PROG ": --conns %d needs %llu file descriptors, "
                "hard limit is %llu\n", conns, (unsigned long long)need,
                (unsigned long long)rl.rlim_max);
        return -1;
    }
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, PROG ": setrlimit: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile on a sorted array. */
static double pct_us(const uint64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    double rank = p * (double)n;
    size_t idx = (size_t)rank;
    if ((double)idx < rank)
        idx++;
    if (idx == 0)
        idx = 1;
    if (idx > n)
        idx = n;
    return (double)v[idx - 1] / 1000.0;
}

static const char usage_text[] =
    "usage: " PROG " [options]\n"
    "  Linux kernel TCP closed-loop echo RPC baseline over 127.0.0.1.\n"
    "  --conns N        concurrent connections, 1 outstanding request each "
    "(default 1, max 4096)\n"
    "  --msg-bytes B    request/response size in bytes (default 64)\n"
    "  --duration-ms D  measurement window (default 2000)\n"
    "  --warmup-ms W    unmeasured warmup before the window (default 200)\n"
    "  --port P         listener port, 0 = kernel-chosen (default 0)\n"
    "  --cpu N          pin client and server processes both to CPU N\n"
    "                   (default: not pinned)\n"
    "  --help           show this text\n"
    "Prints one key=value result line on stdout. Exit 0 ok, 1 run failure, "
    "2 usage error.\n";

static bool parse_ll(const char *flag, const char *s, long long lo,
                     long long hi, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
        fprintf(stderr, PROG ": %s: invalid value '%s' (expected an integer "
                "in [%lld, %lld])\n", flag, s, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

/* Returns 0 to run, 1 after --help, -1 on a usage error. */
static int parse_args(int argc, char **argv, struct config *cfg)
{
    cfg->conns = 1;
    cfg->msg_bytes = 64;
    cfg->duration_ms = 2000;
    cfg->warmup_ms = 200;
    cfg->port = 0;
    cfg->cpu = -1;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage_text, stdout);
            return 1;
        }

        static const struct {
            const char *name;
            long long lo, hi;
        } opts[] = {
            { "--conns", 1, MAX_CONNS },
            { "--msg-bytes", 1, MAX_MSG_BYTES },
            { "--duration-ms", 1, MAX_DURATION_MS },
            { "--warmup-ms", 0, MAX_WARMUP_MS },
            { "--port", 0, 65535 },
            { "--cpu", 0, CPU_SETSIZE - 1 },
        };
        int which = -1;
        const char *val = NULL;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
            size_t len = strlen(opts[k].name);
            if (strncmp(arg, opts[k].name, len) != 0)
                continue;
            if (arg[len] == '\0') {
                which = (int)k;
                if (i + 1 >= argc) {
                    fprintf(stderr, PROG ": %s requires a value\n", arg);
                    return -1;
                }
                val = argv[++i];
                break;
            }
            if (arg[len] == '=') {
                which = (int)k;
                val = arg + len + 1;
                break;
            }
        }
        if (which < 0) {
            fprintf(stderr, PROG ": unknown option '%s' (try --help)\n", arg);
            return -1;
        }
        long long v;
        if (!parse_ll(opts[which].name, val, opts[which].lo, opts[which].hi,
                      &v))
            return -1;
        switch (which) {
        case 0: cfg->conns = (int)v; break;
        case 1: cfg->msg_bytes = (size_t)v; break;
        case 2: cfg->duration_ms = v; break;
        case 3: cfg->warmup_ms = v; break;
        case 4: cfg->port = (int)v; break;
        default: cfg->cpu = (int)v; break;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct bench_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.listen_fd = -1;

    int pr = parse_args(argc, argv, &ctx.cfg);
    if (pr > 0)
        return 0;
    if (pr < 0)
        return 2;
    ctx.fl = mmap(NULL, sizeof *ctx.fl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ctx.fl == MAP_FAILED) {
        fprintf(stderr, PROG ": mmap of the shared flags: %s\n", strerror(errno));
        return 1;
    }
    atomic_init(&ctx.fl->stop, 0);
    atomic_init(&ctx.fl->server_failed, 0);
    atomic_init(&ctx.fl->client_failed, 0);
    if (ctx.cfg.cpu >= 0) {
        /* Before the fork: the server inherits the same single CPU. */
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(ctx.cfg.cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) {
            fprintf(stderr, PROG ": cannot pin to CPU %d: %s\n", ctx.cfg.cpu, strerror(errno));
            return 1;
        }
    }
    if (ensure_fd_limit(ctx.cfg.conns) != 0)
        return 1;

    int64_t t0 = mono_ns();
    ctx.hard_deadline_ns = t0 +
        (ctx.cfg.warmup_ms + ctx.cfg.duration_ms) * 1000000LL + HARD_CAP_NS;
    ctx.setup_deadline_ns = t0 + SETUP_TIMEOUT_NS;
    ctx.res.rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)t0;
    if (ctx.res.rng == 0)
        ctx.res.rng = 1;

    size_t plen = ctx.cfg.msg_bytes + PATTERN_SLACK;
    unsigned char *pattern = malloc(plen);
    if (!pattern) {
        fprintf(stderr, PROG ": out of memory for %zu-byte pattern\n", plen);
        return 1;
    }
    uint64_t prng = 0x2545f4914f6cdd1dULL;
    for (size_t i = 0; i < plen; i++)
        pattern[i] = (unsigned char)(xorshift64(&prng) >> 56);
    ctx.pattern = pattern;

    int rc = 1;
    ctx.listen_fd = make_listener(&ctx.cfg);
    if (ctx.listen_fd < 0)
        goto done;

    fflush(NULL);
    pid_t srv = fork();
    if (srv < 0) {
        fprintf(stderr, PROG ": cannot start the server process: %s\n", strerror(errno));
        goto done;
    }
    if (srv == 0) {
        server_main(&ctx);
        _exit(atomic_load(&ctx.fl->server_failed) ? 1 : 0);
    }
    if (clock_getcpuclockid(srv, &ctx.server_cpu_clock) != 0) {
        fprintf(stderr, PROG ": cannot read the server's CPU clock\n");
        atomic_store(&ctx.fl->stop, 1);
        waitpid(srv, NULL, 0);
        goto done;
    }
    client_main(&ctx);
    /* The server leaves its loop within one poll slice of `stop`, or at
     * the hard deadline: this wait is bounded. */
    int status = 0;
    if (waitpid(srv, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        atomic_store(&ctx.fl->server_failed, 1);

    /* Report every failure cause, not just the first, since one often
     * explains another (e.g. a server error leaves the window empty). */
    struct results *r = &ctx.res;
    bool failed = false;
    if (atomic_load(&ctx.fl->client_failed) || !r->measured) {
        fprintf(stderr, PROG ": client did not complete the run\n");
        failed = true;
    }
    if (atomic_load(&ctx.fl->server_failed)) {
        fprintf(stderr, PROG ": server reported an error\n");
        failed = true;
    }
    if (r->mismatches > 0) {
        fprintf(stderr, PROG ": %llu echo mismatches\n",
                (unsigned long long)r->mismatches);
        failed = true;
    }
    if (r->measured && r->rtts == 0) {
        fprintf(stderr, PROG ": no round trips completed in the window\n");
        failed = true;
    }
    if (failed)
        goto done;

    qsort(r->lat_ns, r->lat_len, sizeof *r->lat_ns, cmp_u64);
    double p50 = pct_us(r->lat_ns, r->lat_len, 0.50);
    double p99 = pct_us(r->lat_ns, r->lat_len, 0.99);
    double per_s = r->wall_s > 0 ? (double)r->rtts / r->wall_s : 0.0;
    double per_cpu = r->cpu_s > 0 ? (double)r->rtts / r->cpu_s : 0.0;
    if (r->lat_seen > r->lat_len)
        fprintf(stderr, PROG ": latency percentiles from a %zu-sample "
                "reservoir of %llu\n", r->lat_len,
                (unsigned long long)r->lat_seen);

    printf("linux_tcp%s conns=%d msg_bytes=%zu rtts=%llu rtt_per_s=%.0f "
           "rtt_per_cpu_s=%.0f p50_us=%.1f p99_us=%.1f cpu_s=%.2f "
           "wall_s=%.2f\n",
           ctx.cfg.cpu >= 0 ? "_pinned" : "_unpinned", ctx.cfg.conns, ctx.cfg.msg_bytes,
           (unsigned long long)r->rtts,
           per_s, per_cpu, p50, p99, r->cpu_s, r->wall_s);
    fflush(stdout);
    rc = 0;

done:
    if (ctx.listen_fd >= 0)
        close(ctx.listen_fd);
    free(ctx.res.lat_ns);
    free(pattern);
    return rc;
}
