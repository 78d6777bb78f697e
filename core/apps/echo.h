/*
 * echo.h: built-in applications written only against bluetas.h, so they
 * run unchanged on every backend: an echo server, and a closed-loop echo
 * client that checks every byte it gets back against a seeded pattern and
 * records round-trip times.
 *
 * Both are event-driven: call *_poll repeatedly (the simulator does it as
 * an actor; a real-time driver in a loop). Neither blocks.
 */
#ifndef BT_APPS_ECHO_H
#define BT_APPS_ECHO_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "../bluetas.h"

struct echo_server_stats {
	uint64_t accepted, closed, errors;
	uint64_t bytes_echoed;
};
/* Every counter of struct echo_server_stats, in the order printers list
 * them (hw/rt/app_runner.c: `stat.app.echo.*`). */
#define ECHO_SERVER_STATS_FIELDS(X) X(accepted) X(closed) X(errors) X(bytes_echoed)
#define ECHO_SERVER_STATS_COUNT_(f) +1
static_assert(sizeof(struct echo_server_stats) == 8 * (0 ECHO_SERVER_STATS_FIELDS(ECHO_SERVER_STATS_COUNT_)),
	      "ECHO_SERVER_STATS_FIELDS must list every field of struct echo_server_stats");

struct echo_server;
/* Listens on `port`; buf_bytes is the per-connection echo buffer. NULL
 * with *err set (bt_err) on failure. */
struct echo_server *echo_server_create(struct bt_host *h, uint16_t port, uint32_t backlog, uint32_t buf_bytes,
				       int *err);
int echo_server_poll(struct echo_server *s);
void echo_server_stats(const struct echo_server *s, struct echo_server_stats *out);
void echo_server_destroy(struct echo_server *s);

struct echo_client_config {
	uint32_t remote_ip;
	uint16_t remote_port;
	uint32_t conns;             /* concurrent connections */
	uint64_t msg_bytes;         /* per message, >= 1 */
	uint64_t messages;          /* per connection cycle; 0 = until echo_client_stop */
	uint32_t cycles;            /* connect..close cycles per connection, >= 1 */
	uint64_t seed;              /* payload pattern */
	uint32_t max_rtt_samples;   /* 0 = keep none */
};

struct echo_client_stats {
	uint64_t messages_done;
	uint64_t bytes_sent, bytes_received;
	uint64_t mismatched_bytes;  /* received byte != pattern */
	uint64_t first_mismatch_offset;
	uint32_t conns_opened, conns_closed, conns_failed;
	int first_error;            /* bt_err of the first failure */
	uint64_t *rtt_ns;           /* samples, owned by the client */
	uint32_t rtt_count;
};
/* The counters of struct echo_client_stats, in the order printers list
 * them (`stat.app.client.*`); the rest are a first failure and samples. */
#define ECHO_CLIENT_STATS_COUNTERS(X)                                                                                \
	X(messages_done) X(bytes_sent) X(bytes_received) X(mismatched_bytes) X(conns_opened) X(conns_closed)       \
	X(conns_failed)

struct echo_client;
struct echo_client *echo_client_create(struct bt_host *h, const struct echo_client_config *cfg,
				       const struct bt_clock *clock, int *err);
int echo_client_poll(struct echo_client *c);
/* Every cycle finished (or failed) and every connection closed. */
bool echo_client_done(const struct echo_client *c);
/* Finish the messages in flight, then close (for timed runs). */
void echo_client_stop(struct echo_client *c);
void echo_client_stats(const struct echo_client *c, struct echo_client_stats *out);
void echo_client_destroy(struct echo_client *c);

/* The byte the client sends at `offset` of connection `conn`, cycle
 * `cycle`: a seeded, non-periodic pattern so that a misplaced segment is
 * a mismatch, never a coincidence. */
uint8_t echo_pattern_byte(uint64_t seed, uint32_t conn, uint32_t cycle, uint64_t offset);

#endif
