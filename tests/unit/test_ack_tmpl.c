/*
 * test_ack_tmpl.c: a pure ACK from the per-flow template (core/proto/
 * ack_tmpl.c) is byte for byte the frame tcp_frame_build makes for the
 * same values: every option layout, with and without timestamps, with the
 * checksum in software and left to the hardware, over many random field
 * values (including the ones whose sums wrap). And frames a template
 * cannot hold are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/proto/ack_tmpl.h"
#include "core/proto/proto.h"

static const uint8_t MAC_A[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0a};
static const uint8_t MAC_B[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0b};

struct ack_case {
	uint8_t layout;
	bool ts;
	bool offload;
	uint8_t flags;
	uint16_t payload_len;
	const struct tcp_opts *extra; /* NULL: timestamps only, as `ts` says */
};

static int build(uint8_t *buf, size_t cap, const struct ack_case *c, const struct ack_tmpl_fields *v)
{
	static const uint8_t payload[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct tcp_opts o = {.has_ts = c->ts, .ts_val = v->ts_val, .ts_ecr = v->ts_ecr};
	if (c->extra) {
		o = *c->extra;
		o.ts_val = v->ts_val;
		o.ts_ecr = v->ts_ecr;
	}
	struct tcp_frame_args a = {
		.src_mac = MAC_A,
		.dst_mac = MAC_B,
		.src_ip = 0x0a000001u,
		.dst_ip = 0xc0a80102u,
		.ip_id = v->ip_id,
		.tcp = {.sport = 5001, .dport = 43210, .seq = v->seq, .ack = v->ack, .flags = c->flags,
			.layout = c->layout, .window = v->window, .opts = &o},
		.payload = payload,
		.payload_len = c->payload_len,
		.l4_csum_offload = c->offload,
	};
	return tcp_frame_build(buf, cap, &a);
}

/* A small deterministic generator; the first values are the edges. */
static uint32_t next_u32(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 32);
}

static void fields_for(unsigned i, uint64_t *rng, struct ack_tmpl_fields *v)
{
	static const uint32_t edges[] = {0, 0xffffffffu, 0xffff0000u, 0x0000ffffu, 0x8000u, 1};
	if (i < sizeof(edges) / sizeof(edges[0])) {
		uint32_t e = edges[i];
		*v = (struct ack_tmpl_fields){e, e, e, e, (uint16_t)e, (uint16_t)e};
		return;
	}
	*v = (struct ack_tmpl_fields){next_u32(rng), next_u32(rng), next_u32(rng), next_u32(rng),
				      (uint16_t)next_u32(rng), (uint16_t)next_u32(rng)};
}

static void matches_builder(const struct ack_case *c)
{
	uint8_t first[128], built[128], filled[128];
	struct ack_tmpl_fields v0 = {.seq = 7, .ack = 9, .ts_val = 11, .ts_ecr = 13, .window = 1000, .ip_id = 3};
	int n0 = build(first, sizeof(first), c, &v0);
	assert_true(n0 > 0);
	struct ack_tmpl t;
	assert_int_equal(ack_tmpl_capture(&t, first, (size_t)n0, c->offload), 0);
	uint64_t rng = 42;
	for (unsigned i = 0; i < 2000; i++) {
		struct ack_tmpl_fields v;
		fields_for(i, &rng, &v);
		int nb = build(built, sizeof(built), c, &v);
		int nf = ack_tmpl_fill(&t, filled, sizeof(filled), &v);
		assert_int_equal(nf, nb);
		assert_memory_equal(filled, built, (size_t)nb);
	}
	assert_int_equal(ack_tmpl_fill(&t, filled, (size_t)n0 - 1, &v0), PROTO_ENOSPACE);
}

static void test_every_layout_and_mode(void **state)
{
	(void)state;
	for (uint8_t layout = TCP_LAYOUT_BLUETAS; layout <= TCP_LAYOUT_FREEBSD; layout++)
		for (int ts = 0; ts < 2; ts++)
			for (int offload = 0; offload < 2; offload++) {
				struct ack_case c = {.layout = layout, .ts = ts, .offload = offload, .flags = TCP_ACK};
				matches_builder(&c);
			}
}

static void test_refuses_what_it_cannot_hold(void **state)
{
	(void)state;
	uint8_t frame[128];
	struct ack_tmpl t;
	struct ack_tmpl_fields v = {.seq = 1, .ack = 2, .window = 3};
	struct tcp_opts sack = {.has_ts = true, .sack_count = 1, .sack[0] = {100, 200}};
	const struct ack_case refused[] = {
		{.flags = TCP_ACK, .payload_len = 8, .ts = true},         /* payload */
		{.flags = TCP_ACK | TCP_FIN, .ts = true},                 /* a flag but ACK */
		{.flags = TCP_ACK | TCP_ECE, .ts = true},
		{.flags = TCP_ACK | TCP_SYN, .ts = true},
		{.flags = TCP_ACK, .extra = &sack},                       /* SACK blocks */
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		int n = build(frame, sizeof(frame), &refused[i], &v);
		assert_true(n > 0);
		t.len_bytes = 1;
		assert_int_equal(ack_tmpl_capture(&t, frame, (size_t)n, false), PROTO_EUNSUPPORTED);
		assert_int_equal(t.len_bytes, 0);
		uint8_t out[128];
		assert_int_equal(ack_tmpl_fill(&t, out, sizeof(out), &v), PROTO_EUNSUPPORTED);
	}
	/* Truncated and not IPv4. */
	struct ack_case ok = {.flags = TCP_ACK, .ts = true};
	int n = build(frame, sizeof(frame), &ok, &v);
	assert_int_equal(ack_tmpl_capture(&t, frame, 40, false), PROTO_EUNSUPPORTED);
	frame[12] = 0x86;
	assert_int_equal(ack_tmpl_capture(&t, frame, (size_t)n, false), PROTO_EUNSUPPORTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_layout_and_mode),
		cmocka_unit_test(test_refuses_what_it_cannot_hold),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
