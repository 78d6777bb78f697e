/*
 * source.c: one connection that sends a stream and closes. The stream is a
 * seeded pattern or whatever the read callback supplies; the digest covers
 * exactly the bytes bt_send accepted, in order, which is what a correct
 * peer must receive.
 */
#include <stdlib.h>
#include <string.h>

#include "bulk.h"

#define SOURCE_CHUNK_BYTES 65536
#define SOURCE_RETRY_NS (100ull * 1000 * 1000)

struct source {
	struct bt_host *h;
	const struct bt_clock *clock;
	struct source_config cfg;
	int id;
	bool connected, eof, done;
	uint64_t created_ns, retry_at_ns; /* retry_at_ns != 0: reconnect then */
	uint32_t attempts;
	uint64_t pattern_state, pattern_off;
	uint8_t chunk[SOURCE_CHUNK_BYTES];
	uint32_t chunk_len, chunk_sent;
	struct sha256 hash;
	struct bulk_result r;
	uint8_t discard[4096];
};

static uint64_t xorshift(uint64_t x)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

uint64_t bulk_pattern_init(uint64_t seed)
{
	/* xorshift has one fixed point, zero: never start there. */
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 0x6a09e667f3bcc909ull;
	return s ? s : 1;
}

void bulk_pattern_fill(uint64_t *state, uint64_t *offset, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		out[i] = (uint8_t)(*state >> ((*offset & 7) * 8));
		if ((++*offset & 7) == 0)
			*state = xorshift(*state);
	}
}

static void end(struct source *s, int err)
{
	if (s->done)
		return;
	s->done = true;
	s->r.err = err;
	if (!s->r.end_ns)
		s->r.end_ns = bt_clock_now_ns(s->clock);
	sha256_final(&s->hash, s->r.sha256);
	if (s->id >= 0)
		bt_close(s->h, s->id); /* queued bytes still go out, then our FIN */
	s->id = -1;
	if (s->cfg.on_done)
		s->cfg.on_done(s->cfg.ctx, &s->r);
}

/* Refills the chunk; false at the end of the stream (eof set) or on error. */
static bool refill(struct source *s)
{
	uint32_t len = 0;
	if (s->cfg.read) {
		long n = s->cfg.read(s->cfg.read_ctx, s->chunk, sizeof(s->chunk));
		if (n < 0) {
			end(s, BT_EINVAL);
			return false;
		}
		len = (uint32_t)n;
	} else {
		uint64_t left = s->cfg.bytes - s->pattern_off;
		len = left < sizeof(s->chunk) ? (uint32_t)left : (uint32_t)sizeof(s->chunk);
		bulk_pattern_fill(&s->pattern_state, &s->pattern_off, s->chunk, len);
	}
	s->chunk_len = len;
	s->chunk_sent = 0;
	if (len == 0)
		s->eof = true;
	return len > 0;
}

static int progress(struct source *s)
{
	int work = 0;
	/* Bounded: the TX ring fills long before, but a huge ring must not
	 * keep the NIC from polling. */
	for (int round = 0; round < 64 && !s->done; round++) {
		if (s->chunk_sent == s->chunk_len && !refill(s)) {
			if (s->eof)
				end(s, 0);
			return work + 1;
		}
		ssize_t n = bt_send(s->h, s->id, s->chunk + s->chunk_sent, s->chunk_len - s->chunk_sent);
		if (n == BT_EAGAIN)
			return work;
		if (n < 0) {
			end(s, (int)n);
			return work + 1;
		}
		if (s->r.bytes == 0 && n > 0)
			s->r.first_byte_ns = bt_clock_now_ns(s->clock);
		sha256_update(&s->hash, s->chunk + s->chunk_sent, (size_t)n);
		s->chunk_sent += (uint32_t)n;
		s->r.bytes += (uint64_t)n;
		work++;
	}
	return work;
}

struct source *source_create(struct bt_host *h, const struct source_config *cfg, const struct bt_clock *clock,
			     int *err)
{
	if (!h || !cfg || !clock || !cfg->remote_ip || !cfg->remote_port) {
		*err = BT_EINVAL;
		return NULL;
	}
	struct source *s = calloc(1, sizeof(*s));
	if (!s) {
		*err = BT_ENOMEM;
		return NULL;
	}
	s->h = h;
	s->clock = clock;
	s->cfg = *cfg;
	s->pattern_state = bulk_pattern_init(cfg->seed);
	sha256_init(&s->hash);
	s->created_ns = bt_clock_now_ns(clock);
	s->id = bt_connect(h, cfg->remote_ip, cfg->remote_port);
	if (s->id < 0) {
		*err = s->id;
		free(s);
		return NULL;
	}
	s->attempts = 1;
	s->r.conn = s->id;
	*err = BT_OK;
	return s;
}

static bool retryable(int err)
{
	return err == BT_ECONNREFUSED || err == BT_EHOSTUNREACH || err == BT_ETIMEDOUT;
}

static int reconnect(struct source *s)
{
	uint64_t now = bt_clock_now_ns(s->clock);
	if (now < s->retry_at_ns)
		return 0;
	s->retry_at_ns = 0;
	s->id = bt_connect(s->h, s->cfg.remote_ip, s->cfg.remote_port);
	if (s->id < 0) {
		int err = s->id;
		s->id = -1;
		end(s, err);
		return 1;
	}
	s->attempts++;
	s->r.conn = s->id;
	return 1;
}

int source_poll(struct source *s)
{
	struct bt_event ev[16];
	int n = bt_poll(s->h, ev, 16);
	int work = n > 0 ? n : 0;
	if (s->retry_at_ns && !s->done)
		work += reconnect(s);
	for (int i = 0; i < n && !s->done; i++) {
		if (ev[i].id != s->id || s->id < 0)
			continue;
		if (ev[i].flags & BT_EV_ERROR) {
			int err = ev[i].err ? ev[i].err : BT_ECONNRESET;
			uint64_t now = bt_clock_now_ns(s->clock);
			if (!s->connected && retryable(err) && now - s->created_ns < s->cfg.connect_retry_ns) {
				bt_close(s->h, s->id);
				s->id = -1;
				s->retry_at_ns = now + SOURCE_RETRY_NS;
				break;
			}
			end(s, err);
			break;
		}
		if ((ev[i].flags & BT_EV_CONNECTED) && !s->connected) {
			s->connected = true;
			s->r.start_ns = bt_clock_now_ns(s->clock);
		}
		/* A peer that talks back is drained and ignored, so its bytes
		 * never fill our RX ring and stall its side. */
		if (ev[i].flags & (BT_EV_READABLE | BT_EV_EOF))
			while (bt_recv(s->h, s->id, s->discard, sizeof(s->discard)) > 0)
				work++;
	}
	if (s->connected && !s->done)
		work += progress(s);
	return work;
}

bool source_done(const struct source *s)
{
	return s->done;
}

void source_stats(const struct source *s, struct source_stats *out)
{
	out->bytes_sent = s->r.bytes;
	out->connect_attempts = s->attempts;
	out->connected = s->connected;
	out->done = s->done;
	out->err = s->done ? s->r.err : 0;
}

void source_destroy(struct source *s)
{
	if (!s)
		return;
	if (s->id >= 0)
		bt_close(s->h, s->id);
	free(s);
}
