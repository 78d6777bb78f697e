/*
 * test_bulk.c: the bulk apps' building blocks. SHA-256 against the FIPS
 * 180-4 / NIST example vectors (including every block-boundary split), the
 * x86 SHA-extensions block function against the portable one, the
 * source pattern's independence from chunking, and a source -> sink stream
 * through two whole stacks in the simulator whose digests must agree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/apps/bulk.h"
#include "core/nic/nic.h"
#include "sim/link.h"
#include "sim/sim.h"
#include "transports/shm/shm_chan.h"

static void hex_of(const void *data, size_t len, char out[SHA256_HEX_BYTES])
{
	struct sha256 s;
	uint8_t d[SHA256_DIGEST_BYTES];
	sha256_init(&s);
	sha256_update(&s, data, len);
	sha256_final(&s, d);
	sha256_hex(d, out);
}

static void test_sha256_vectors(void **state)
{
	(void)state;
	char hex[SHA256_HEX_BYTES];
	hex_of("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hex_of("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	hex_of(two_blocks, strlen(two_blocks), hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	const char *four =
		"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	hex_of(four, strlen(four), hex);
	assert_string_equal(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_sha256_million_a_in_odd_pieces(void **state)
{
	(void)state;
	uint8_t buf[1024]; /* pieces are at most 1003 bytes */
	memset(buf, 'a', sizeof(buf));
	struct sha256 s;
	sha256_init(&s);
	/* Piece sizes that straddle the 64-byte block in every way. */
	size_t done = 0, piece = 1;
	while (done < 1000000) {
		size_t n = piece < 1000000 - done ? piece : 1000000 - done;
		sha256_update(&s, buf, n);
		done += n;
		piece = piece % 997 + 7;
	}
	uint8_t d[SHA256_DIGEST_BYTES];
	char hex[SHA256_HEX_BYTES];
	sha256_final(&s, d);
	sha256_hex(d, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_sha256_lengths_around_padding(void **state)
{
	(void)state;
	/* 55, 56 and 64 bytes are where the length field moves to a new
	 * block; byte-at-a-time and all-at-once must agree. */
	uint8_t data[130];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	for (size_t len = 50; len < sizeof(data); len++) {
		char whole[SHA256_HEX_BYTES], bytewise[SHA256_HEX_BYTES];
		hex_of(data, len, whole);
		struct sha256 s;
		uint8_t d[SHA256_DIGEST_BYTES];
		sha256_init(&s);
		for (size_t i = 0; i < len; i++)
			sha256_update(&s, data + i, 1);
		sha256_final(&s, d);
		sha256_hex(d, bytewise);
		assert_string_equal(whole, bytewise);
	}
	char hex[SHA256_HEX_BYTES];
	uint8_t zeros[64] = {0};
	hex_of(zeros, 64, hex);
	assert_string_equal(hex, "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b");
}

/* The digest of data[0..len) fed in pieces of up to `piece` bytes, on
 * the block function sha256_init chose (ni) or on the portable one. */
static void digest_pieces(const uint8_t *data, size_t len, size_t piece, bool ni, uint8_t out[SHA256_DIGEST_BYTES])
{
	struct sha256 s;
	sha256_init(&s);
	if (!ni)
		s.ni = false;
	for (size_t off = 0; off < len; off += piece)
		sha256_update(&s, data + off, len - off < piece ? len - off : piece);
	sha256_final(&s, out);
}

static void test_sha256_ni_matches_portable(void **state)
{
	(void)state;
	struct sha256 probe;
	sha256_init(&probe);
	if (!probe.ni) {
		/* No SHA extensions here (or SHA256_PORTABLE=1): the vector
		 * tests above cover the portable loop alone. */
		print_message("sha256: no x86 SHA extensions on this CPU, comparison skipped\n");
		skip();
	}
	enum { LEN = 70000 };
	uint8_t *data = malloc(LEN);
	assert_non_null(data);
	uint32_t x = 12345;
	for (size_t i = 0; i < LEN; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (uint8_t)(x >> 24);
	}
	/* Lengths around the block and padding edges and long runs of
	 * whole blocks (a segment's 1448 bytes is 22 blocks and a tail),
	 * each fed whole, per segment, and in odd pieces. */
	static const size_t lens[] = {0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 1448, 4096, 65536, LEN};
	static const size_t pieces[] = {LEN, 1448, 97, 64, 1};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		for (size_t j = 0; j < sizeof(pieces) / sizeof(pieces[0]); j++) {
			if (pieces[j] == 1 && lens[i] > 4096)
				continue;
			uint8_t fast[SHA256_DIGEST_BYTES], slow[SHA256_DIGEST_BYTES];
			digest_pieces(data, lens[i], pieces[j], true, fast);
			digest_pieces(data, lens[i], pieces[j], false, slow);
			if (memcmp(fast, slow, sizeof(fast)) != 0)
				fail_msg("sha256: SHA-NI and portable differ at %zu bytes in pieces of %zu", lens[i], pieces[j]);
		}
	free(data);
}

static void test_pattern_is_independent_of_chunking(void **state)
{
	(void)state;
	enum { LEN = 10007 };
	uint8_t *a = malloc(LEN), *b = malloc(LEN);
	assert_non_null(a);
	assert_non_null(b);
	uint64_t st = bulk_pattern_init(42), off = 0;
	bulk_pattern_fill(&st, &off, a, LEN);
	st = bulk_pattern_init(42);
	off = 0;
	for (size_t done = 0, piece = 1; done < LEN; piece = piece % 61 + 1) {
		size_t n = piece < LEN - done ? piece : LEN - done;
		bulk_pattern_fill(&st, &off, b + done, n);
		done += n;
	}
	assert_memory_equal(a, b, LEN);
	st = bulk_pattern_init(43);
	off = 0;
	bulk_pattern_fill(&st, &off, b, LEN);
	assert_memory_not_equal(a, b, 64);
	free(a);
	free(b);
}

/* ---- source -> sink through two stacks in the simulator ---- */

struct side {
	struct shm_link *chan;
	struct nic *nic;
	struct bt_host *host;
};

struct stream_run {
	struct sim sim;
	struct sim_link *wire;
	struct side a, b;
	struct sink *sink;
	struct source *source;
	struct bulk_result sink_r[4], source_r;
	int sink_done, source_done_count;
};

static void on_sink_done(void *ctx, const struct bulk_result *r)
{
	struct stream_run *run = ctx;
	if (run->sink_done < 4)
		run->sink_r[run->sink_done] = *r;
	run->sink_done++;
}

static void on_source_done(void *ctx, const struct bulk_result *r)
{
	struct stream_run *run = ctx;
	run->source_r = *r;
	run->source_done_count++;
}

static int nic_poll_actor(void *ctx, uint64_t now) { return nic_poll(ctx, now); }
static uint64_t nic_next_actor(void *ctx) { return nic_next_event_ns(ctx); }
static int sink_actor(void *ctx, uint64_t now)
{
	(void)now;
	return sink_poll(ctx);
}
static int source_actor(void *ctx, uint64_t now)
{
	(void)now;
	return source_poll(ctx);
}
static uint64_t never(void *ctx)
{
	(void)ctx;
	return BT_TIME_NEVER;
}
static int wire_poll(void *ctx, uint64_t now)
{
	(void)ctx;
	(void)now;
	return 0;
}
static uint64_t wire_next(void *ctx) { return sim_link_next_event_ns(ctx); }

static bool stream_finished(void *ctx)
{
	struct stream_run *run = ctx;
	return run->sink_done >= 1 && run->source_done_count >= 1;
}

static void side_init(struct stream_run *run, struct side *s, uint32_t ip, int port, uint64_t seed)
{
	struct shm_link_params cp = {.op_latency_ns = 1000, .msg_latency_ns = 1000, .key_seed = seed};
	s->chan = shm_link_create(&cp, &run->sim.clock);
	assert_non_null(s->chan);
	struct nic_config nc;
	nic_default_config(&nc);
	nc.ip = ip;
	nc.isn_seed = (uint32_t)seed;
	char err[128];
	s->nic = nic_create(&nc, sim_link_port(run->wire, port), &run->sim.clock, err, sizeof(err));
	assert_non_null(s->nic);
	assert_true(nic_attach_app(s->nic, shm_link_end(s->chan, SHM_END_NIC)) >= 0);
	struct bt_host_config hc;
	bt_host_default_config(&hc);
	hc.max_conns = 8;
	int rc;
	s->host = bt_host_create(&hc, shm_link_end(s->chan, SHM_END_HOST), &run->sim.clock, &rc);
	assert_non_null(s->host);
}

static void side_fini(struct side *s)
{
	bt_host_destroy(s->host);
	nic_destroy(s->nic);
	shm_link_destroy(s->chan);
}

/* Two stacks on one simulated wire (seed_a, seed_b: each side's channel
 * keys and ISNs), a sink listening on b's port 9. */
static struct stream_run *stream_run_new(uint64_t seed_a, uint64_t seed_b)
{
	struct stream_run *run = calloc(1, sizeof(*run));
	assert_non_null(run);
	sim_init(&run->sim);
	struct sim_link_params lp;
	sim_link_default_params(&lp);
	const uint8_t mac_a[6] = {2, 0, 0, 0, 0, 1}, mac_b[6] = {2, 0, 0, 0, 0, 2};
	run->wire = sim_link_create(&lp, &run->sim.clock, mac_a, mac_b);
	assert_non_null(run->wire);
	side_init(run, &run->a, 0x0a000001, 0, seed_a);
	side_init(run, &run->b, 0x0a000002, 1, seed_b);
	int rc;
	struct sink_config sc = {.port = 9, .backlog = 4, .on_done = on_sink_done, .ctx = run};
	run->sink = sink_create(run->b.host, &sc, &run->sim.clock, &rc);
	assert_non_null(run->sink);
	return run;
}

/* A source on a as `oc` says, and every party registered with the loop. */
static void stream_run_start(struct stream_run *run, const struct source_config *oc)
{
	int rc;
	run->source = source_create(run->a.host, oc, &run->sim.clock, &rc);
	assert_non_null(run->source);
	const struct sim_actor actors[] = {
		{"nic-a", nic_poll_actor, nic_next_actor, run->a.nic},
		{"nic-b", nic_poll_actor, nic_next_actor, run->b.nic},
		{"source", source_actor, never, run->source},
		{"sink", sink_actor, never, run->sink},
		{"wire", wire_poll, wire_next, run->wire},
	};
	for (size_t i = 0; i < sizeof(actors) / sizeof(actors[0]); i++)
		sim_add_actor(&run->sim, &actors[i]);
}

static void stream_run_free(struct stream_run *run)
{
	source_destroy(run->source);
	sink_destroy(run->sink);
	side_fini(&run->a);
	side_fini(&run->b);
	sim_link_destroy(run->wire);
	free(run);
}

static void test_source_to_sink_digests_agree(void **state)
{
	(void)state;
	struct stream_run *run = stream_run_new(11, 22);
	const uint64_t bytes = 3u << 20 | 12345; /* not a multiple of anything */
	struct source_config oc = {.remote_ip = 0x0a000002,
				   .remote_port = 9,
				   .bytes = bytes,
				   .seed = 7,
				   .on_done = on_source_done,
				   .ctx = run};
	stream_run_start(run, &oc);
	enum sim_stop stop = sim_run(&run->sim, 60ull * 1000 * 1000 * 1000, stream_finished, run);
	assert_int_equal(stop, SIM_STOP_DONE);
	assert_int_equal(run->source_r.err, 0);
	assert_int_equal(run->sink_r[0].err, 0);
	assert_int_equal(run->source_r.bytes, bytes);
	assert_int_equal(run->sink_r[0].bytes, bytes);
	assert_memory_equal(run->source_r.sha256, run->sink_r[0].sha256, SHA256_DIGEST_BYTES);

	/* And both equal the digest of the pattern computed here. */
	uint8_t *p = malloc(bytes);
	assert_non_null(p);
	uint64_t st = bulk_pattern_init(7), off = 0;
	bulk_pattern_fill(&st, &off, p, bytes);
	struct sha256 s;
	uint8_t d[SHA256_DIGEST_BYTES];
	sha256_init(&s);
	sha256_update(&s, p, bytes);
	sha256_final(&s, d);
	assert_memory_equal(d, run->sink_r[0].sha256, SHA256_DIGEST_BYTES);
	free(p);

	struct sink_stats ss;
	sink_stats(run->sink, &ss);
	assert_int_equal(ss.accepted, 1);
	assert_int_equal(ss.finished, 1);
	assert_int_equal(ss.errors, 0);
	assert_int_equal(ss.open, 0);
	stream_run_free(run);
}

static long read_from_string(void *ctx, uint8_t *buf, size_t cap)
{
	const char **p = ctx;
	size_t len = strlen(*p);
	size_t n = len < cap ? len : cap;
	if (n > 3)
		n = 3; /* tiny reads: the source must keep asking */
	memcpy(buf, *p, n);
	*p += n;
	return (long)n;
}

static void test_source_sends_what_the_reader_supplies(void **state)
{
	(void)state;
	struct stream_run *run = stream_run_new(5, 6);
	const char *text = "abc";
	struct source_config oc = {.remote_ip = 0x0a000002,
				   .remote_port = 9,
				   .read = read_from_string,
				   .read_ctx = &text,
				   .on_done = on_source_done,
				   .ctx = run};
	stream_run_start(run, &oc);
	assert_int_equal(sim_run(&run->sim, 10ull * 1000 * 1000 * 1000, stream_finished, run), SIM_STOP_DONE);
	char hex[SHA256_HEX_BYTES];
	sha256_hex(run->sink_r[0].sha256, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(run->sink_r[0].bytes, 3);
	assert_int_equal(run->source_r.bytes, 3);
	stream_run_free(run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_million_a_in_odd_pieces),
		cmocka_unit_test(test_sha256_lengths_around_padding),
		cmocka_unit_test(test_sha256_ni_matches_portable),
		cmocka_unit_test(test_pattern_is_independent_of_chunking),
		cmocka_unit_test(test_source_to_sink_digests_agree),
		cmocka_unit_test(test_source_sends_what_the_reader_supplies),
	};
	return cmocka_run_group_tests_name("bulk", tests, NULL, NULL);
}
