/*
 * app_runner.h: the built-in applications (core/apps: echo server, echo
 * client, sink, source) hosted on one bt_host in real time. Both real-time
 * programs use it: the NIC daemon for its in-process application
 * (hw/nicd) and `bluetas app` (hw/hostapp). One place picks the app,
 * polls it, says when its work is done, prints its result lines and
 * counters, and gives the verdict, so the two programs cannot drift.
 *
 * Output (stdout, for scripts): per finished sink/source connection
 * "KIND conn=N bytes=B sha256=HEX ... result=ok|error"; at the end the
 * app's summary line (rt_app_report) and, on request, "stat.app.*" lines.
 * The run loop (busy polling, bt_wait, signals) stays with each program.
 */
#ifndef BT_HW_RT_APP_RUNNER_H
#define BT_HW_RT_APP_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../core/apps/bulk.h"
#include "../../core/bluetas.h"

enum rt_app_kind { RT_APP_ECHO_SERVER, RT_APP_ECHO_CLIENT, RT_APP_SINK, RT_APP_SOURCE };

struct rt_app_config {
	enum rt_app_kind kind;
	/* The word the echo server's summary line starts with: the daemon
	 * says "echo", `bluetas app` "echo-server" (scripts parse both). */
	const char *echo_server_name;
	/* echo server, sink */
	uint16_t listen_port;
	uint32_t backlog;
	uint32_t echo_buf_bytes;    /* the echo server's per-connection buffer */
	/* echo client, source */
	uint32_t remote_ip;
	uint16_t remote_port;
	/* echo client */
	uint32_t conns;
	uint64_t msg_bytes, messages; /* messages 0: until rt_app_stop */
	uint32_t max_rtt_samples;
	uint64_t seed;              /* client and source payload pattern */
	/* source: stream length (ignored with `read`); sink: done once this
	 * many bytes arrived in total and no connection is open (0: no bound) */
	uint64_t bytes;
	uint64_t connect_retry_ns;  /* source */
	bulk_read_fn read;          /* source: NULL sends the seeded pattern */
	void *read_ctx;
	/* echo server, sink: done after this many connections finished (0:
	 * never by count); fewer at the end is a failure. */
	uint64_t exit_after_conns;
};

struct rt_app;

/* Creates the app on `host` (a server listens at once). NULL with a
 * message in err ("echo server on port 7: ...") on failure. */
struct rt_app *rt_app_create(struct bt_host *host, const struct rt_app_config *cfg, const struct bt_clock *clock,
			     char *err, size_t err_len);
/* One round of the app's work; returns how much it did (0: idle). */
int rt_app_poll(struct rt_app *a);
/* The work the config asks for is finished (a client's messages, a
 * source's stream, a server's or sink's connection count or bytes). */
bool rt_app_done(const struct rt_app *a);
/* A timed run ended: true if the app now finishes what is in flight (the
 * echo client verifies its outstanding messages and closes, so keep
 * polling until rt_app_done), false if it simply stops here. */
bool rt_app_stop(struct rt_app *a);
/* Prints the summary line(s) and returns 0 if the work succeeded (every
 * byte verified, no connection error, the connection count reached, a
 * source's stream sent), else 1. `secs`: the run's length, for rates. */
int rt_app_report(const struct rt_app *a, double secs);
/* "stat.app.KIND.FIELD=VALUE" lines. */
void rt_app_print_stats(const struct rt_app *a);
void rt_app_destroy(struct rt_app *a);

#endif
