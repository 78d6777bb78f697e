/*
 * bulk.h: bulk-transfer applications written only against bluetas.h, so
 * they run on every backend (simulator, DPDK daemon):
 *
 *   - sink: accepts every connection on a port, reads until EOF, and
 *     reports per connection the byte count and the SHA-256 of exactly
 *     what it received, so a test compares it with `sha256sum` of what
 *     the peer sent;
 *   - source: connects to a peer, sends N bytes of a seeded pattern (or
 *     whatever a read callback supplies, e.g. a file), closes, and
 *     reports the byte count and the SHA-256 of what the stack accepted.
 *
 * And the SHA-256 they use (FIPS 180-4), here because the project takes no
 * crypto library dependency for one hash.
 *
 * Both apps are event-driven like echo.h: call *_poll repeatedly; neither
 * blocks. A finished connection is reported once, through the callback in
 * the config, at the moment it ends.
 */
#ifndef BT_APPS_BULK_H
#define BT_APPS_BULK_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bluetas.h"

/* ---- SHA-256 ---- */
#define SHA256_DIGEST_BYTES 32
#define SHA256_HEX_BYTES 65 /* 64 hex digits and the NUL */

struct sha256 {
	uint32_t h[8];
	uint64_t total_bytes;
	uint8_t block[64];
	uint32_t block_used;
	bool ni; /* whole blocks on the x86 SHA extensions (sha256_init decides; false: portable) */
};
void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Writes the digest; `s` must be re-initialised before reuse. */
void sha256_final(struct sha256 *s, uint8_t out[SHA256_DIGEST_BYTES]);
void sha256_hex(const uint8_t digest[SHA256_DIGEST_BYTES], char out[SHA256_HEX_BYTES]);

/* ---- what a finished connection reports ---- */
struct bulk_result {
	int conn;                 /* host connection id it had */
	uint64_t bytes;           /* received (sink) / accepted by bt_send (source) */
	uint8_t sha256[SHA256_DIGEST_BYTES];
	int err;                  /* 0: clean end (EOF / all sent and closed); else bt_err */
	uint64_t start_ns;        /* accepted / connected */
	uint64_t first_byte_ns;   /* first byte received / sent (0: none) */
	uint64_t end_ns;          /* EOF seen / last byte handed to the stack */
};
typedef void (*bulk_done_fn)(void *ctx, const struct bulk_result *r);

/* ---- sink ---- */
struct sink_config {
	uint16_t port;
	uint32_t backlog;
	bulk_done_fn on_done;     /* may be NULL */
	void *ctx;
};
struct sink_stats {
	uint64_t accepted, finished, errors;
	uint64_t bytes;           /* over all connections */
	uint32_t open;            /* connections open now */
};
/* Every counter of struct sink_stats, in the order printers list them
 * (hw/rt/app_runner.c: `stat.app.sink.*`). */
#define SINK_STATS_FIELDS(X) X(accepted) X(finished) X(errors) X(bytes) X(open)
#define SINK_STATS_SIZE_(f) +sizeof(((struct sink_stats *)0)->f)
static_assert(sizeof(struct sink_stats) == (0 SINK_STATS_FIELDS(SINK_STATS_SIZE_) + 7) / 8 * 8,
	      "SINK_STATS_FIELDS must list every field of struct sink_stats");
struct sink;
/* NULL with *err (bt_err) on failure. */
struct sink *sink_create(struct bt_host *h, const struct sink_config *cfg, const struct bt_clock *clock, int *err);
int sink_poll(struct sink *s);
void sink_stats(const struct sink *s, struct sink_stats *out);
void sink_destroy(struct sink *s);

/* ---- source ---- */
/* Supplies the next bytes of the stream: returns how many it wrote into
 * buf (<= cap), 0 at the end of the stream, or -1 on a read error. */
typedef long (*bulk_read_fn)(void *ctx, uint8_t *buf, size_t cap);

struct source_config {
	uint32_t remote_ip;
	uint16_t remote_port;
	uint64_t bytes;           /* pattern length (ignored with `read`) */
	uint64_t seed;            /* pattern seed */
	/* A connect refused, unanswered or unresolved is tried again every
	 * 100 ms for this long (a peer that starts listening, or gets its
	 * address, a moment after we do); 0: fail at once. */
	uint64_t connect_retry_ns;
	bulk_read_fn read;        /* NULL: send `bytes` of the seeded pattern */
	void *read_ctx;
	bulk_done_fn on_done;     /* may be NULL */
	void *ctx;
};
struct source_stats {
	uint64_t bytes_sent;
	uint32_t connect_attempts;
	bool connected, done;
	int err;                  /* first failure, 0 if none */
};
/* The counters of struct source_stats, in the order printers list them
 * (`stat.app.source.*`); `connected` and `err` are state. */
#define SOURCE_STATS_COUNTERS(X) X(bytes_sent) X(connect_attempts) X(done)
struct source;
struct source *source_create(struct bt_host *h, const struct source_config *cfg, const struct bt_clock *clock,
			     int *err);
int source_poll(struct source *s);
/* The stream was sent and closed, or the connection failed. */
bool source_done(const struct source *s);
void source_stats(const struct source *s, struct source_stats *out);
void source_destroy(struct source *s);

/* The pattern a source sends by default: a seeded xorshift stream, 8 bytes
 * per step, little-endian. Filling from offset 0 in any chunking gives the
 * same bytes. `state` starts as bulk_pattern_init(seed). */
uint64_t bulk_pattern_init(uint64_t seed);
void bulk_pattern_fill(uint64_t *state, uint64_t *offset, uint8_t *out, size_t len);

#endif
