/*
 * test_proto.c: unit tests for core/proto (checksums, sequence arithmetic,
 * Ethernet/ARP/IPv4/TCP parse and build, formatting) plus a fuzz loop that
 * must run clean under valgrind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/proto/proto.h"

static const uint8_t MAC_A[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0a};
static const uint8_t MAC_B[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0b};
#define IP_A 0x0a000001u /* 10.0.0.1 */
#define IP_B 0x0a000002u /* 10.0.0.2 */

/* Checksum as the two bytes stored in the packet, big-endian number. */
static uint16_t csum_wire_value(uint16_t c)
{
	uint8_t b[2];
	memcpy(b, &c, 2);
	return (uint16_t)((b[0] << 8) | b[1]);
}

static uint16_t fold16(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint16_t be16_at(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

/* Local xorshift32 PRNG. */
static uint32_t xorshift32(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

/* ------------------------------------------------------------------ */
/* checksums */

/* The reference: RFC 1071 in its plainest form, big-endian 16-bit words
 * built byte by byte, an odd last byte padded with a zero low byte. */
static uint16_t ref_sum16(const uint8_t *p, size_t len, uint32_t initial)
{
	uint64_t acc = initial;
	size_t i = 0;
	for (; i + 2 <= len; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (i < len)
		acc += (uint32_t)p[i] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* The wide-word sum against the reference: every length 0..300 and random
 * ones up to a jumbo frame, every alignment 0..7, random, all-ones (every
 * add carries) and all-zero data, random initial sums; pieces combined at
 * even boundaries; copy-and-checksum copies exactly and sums the same. */
static void test_checksum_fast_matches_reference(void **state)
{
	(void)state;
	enum { MAX = 9000 + 16 };
	static uint8_t buf[MAX], copy[MAX];
	uint32_t seed = 0x1234567u;
	for (int round = 0; round < 3000; round++) {
		int fill = round % 3; /* random, all ones, zero */
		size_t len = round < 301 ? (size_t)round : xorshift32(&seed) % 9001;
		size_t align = xorshift32(&seed) % 8;
		uint32_t initial = round % 5 == 0 ? 0 : xorshift32(&seed);
		for (size_t i = 0; i < len; i++)
			buf[align + i] = fill == 0 ? (uint8_t)xorshift32(&seed) : fill == 1 ? 0xff : 0;
		const uint8_t *p = buf + align;
		uint16_t want = ref_sum16(p, len, initial);
		uint32_t got = inet_sum_partial(p, len, initial);
		if (fold16(got) != want)
			fail_msg("len %zu align %zu fill %d initial %08x: %04x, reference %04x", len, align, fill, initial,
				 fold16(got), want);
		assert_int_equal(csum_wire_value(inet_checksum(p, len, initial)), (uint16_t)~want);
		size_t cut = (xorshift32(&seed) % (len + 1)) & ~(size_t)1;
		uint32_t pieces = inet_sum_partial(p + cut, len - cut, inet_sum_partial(p, cut, initial));
		assert_int_equal(fold16(pieces), want);
		size_t dst_align = xorshift32(&seed) % 8;
		memset(copy, 0xa5, sizeof(copy));
		uint32_t copied = inet_sum_copy(copy + dst_align, p, len, initial);
		assert_memory_equal(copy + dst_align, p, len);
		if (dst_align + len < sizeof(copy))
			assert_int_equal(copy[dst_align + len], 0xa5);
		assert_int_equal(fold16(copied), want);
	}
}

/* Buffers long enough that the AVX2 loops (checksum_avx2.c, where the CPU
 * has them) empty their 32-bit lanes several times: all ones and all
 * zeros drive every lane to its extreme on each step. The sum and the
 * copy-and-sum. */
static void test_checksum_long_buffers(void **state)
{
	(void)state;
	enum { MAX = (2u << 20) + 64 };
	uint8_t *buf = malloc(MAX), *copy = malloc(MAX);
	assert_non_null(buf);
	assert_non_null(copy);
	uint32_t seed = 0x7654321u;
	const size_t lens[] = {MAX - 64, (1u << 20) + 37, (512u << 10) + 32, (512u << 10) - 32, 256, 255};
	for (int fill = 0; fill < 3; fill++)
		for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
			size_t align = xorshift32(&seed) % 8;
			for (size_t i = 0; i < lens[k]; i++)
				buf[align + i] = fill == 0 ? (uint8_t)xorshift32(&seed) : fill == 1 ? 0xff : 0;
			uint16_t want = ref_sum16(buf + align, lens[k], 0);
			assert_int_equal(fold16(inet_sum_partial(buf + align, lens[k], 0)), want);
			size_t dst_align = xorshift32(&seed) % 8;
			memset(copy, 0xa5, MAX);
			assert_int_equal(fold16(inet_sum_copy(copy + dst_align, buf + align, lens[k], 0)), want);
			assert_memory_equal(copy + dst_align, buf + align, lens[k]);
			assert_int_equal(copy[dst_align + lens[k]], 0xa5);
		}
	free(copy);
	free(buf);
}

static void test_checksum_rfc1071_example(void **state)
{
	(void)state;
	/* RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2. */
	const uint8_t d[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	uint32_t part = inet_sum_partial(d, sizeof(d), 0);
	assert_int_equal(fold16(part), 0xddf2);
	assert_int_equal(csum_wire_value(inet_sum_finish(part)), 0x220d);
	assert_int_equal(csum_wire_value(inet_checksum(d, sizeof(d), 0)), 0x220d);
	/* Pieces of even length combine to the same result. */
	uint32_t split = inet_sum_partial(d + 4, 4, inet_sum_partial(d, 4, 0));
	assert_int_equal(fold16(split), 0xddf2);
	/* Empty data leaves the initial sum untouched. */
	assert_int_equal(inet_sum_partial(d, 0, 0x1234), 0x1234);
}

static void test_checksum_known_ipv4_header(void **state)
{
	(void)state;
	uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
	uint16_t c = inet_checksum(h, sizeof(h), 0);
	assert_int_equal(csum_wire_value(c), 0xb861);
	/* Stored with memcpy it lands as b8 61. */
	memcpy(h + 10, &c, 2);
	assert_int_equal(h[10], 0xb8);
	assert_int_equal(h[11], 0x61);
	/* A header including its valid checksum verifies to 0. */
	assert_int_equal(inet_checksum(h, sizeof(h), 0), 0);
	h[15] ^= 0x01;
	assert_int_not_equal(inet_checksum(h, sizeof(h), 0), 0);
}

static void test_checksum_odd_length(void **state)
{
	(void)state;
	const uint8_t d[3] = {0x01, 0x02, 0x03};
	/* 0x0102 + 0x0300 = 0x0402, complement 0xfbfd. */
	assert_int_equal(fold16(inet_sum_partial(d, 3, 0)), 0x0402);
	assert_int_equal(csum_wire_value(inet_checksum(d, 3, 0)), 0xfbfd);
	/* Sums needing more than one fold: ffff + ffff... */
	assert_int_equal(inet_sum_finish(0xffffffffu), 0);
	assert_int_equal(csum_wire_value(inet_sum_finish(0x0001fffeu)), 0x0000);
	assert_int_equal(csum_wire_value(inet_sum_finish(0x00010000u)), 0xfffe);
	const uint8_t ff[2] = {0xff, 0xff};
	assert_int_equal(fold16(inet_sum_partial(ff, 2, 0xffffffffu)), 0xffff);
	assert_int_equal(inet_checksum(ff, 2, 0xffffffffu), 0);
	/* Carries fold back in: ffff + 0001 -> 0001. */
	const uint8_t e[4] = {0xff, 0xff, 0x00, 0x01};
	assert_int_equal(fold16(inet_sum_partial(e, 4, 0)), 0x0001);
	assert_int_equal(csum_wire_value(inet_checksum(e, 4, 0)), 0xfffe);
}

static void test_tcp_pseudo_sum_value(void **state)
{
	(void)state;
	/* 0a00 + 0001 + 0a00 + 0002 + 0006 + 0014 = 141d */
	assert_int_equal(fold16(tcp_pseudo_sum(IP_A, IP_B, 20)), 0x141d);
	/* c0a8 + 0001 + c0a8 + 00c7 + 0006 + ffff: check against a byte-wise
	 * pseudo header summed by inet_sum_partial. */
	const uint8_t ph[12] = {0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7, 0x00, 0x06, 0xff, 0xff};
	assert_int_equal(fold16(tcp_pseudo_sum(0xc0a80001u, 0xc0a800c7u, 0xffff)),
			 fold16(inet_sum_partial(ph, sizeof(ph), 0)));
}

/* ------------------------------------------------------------------ */
/* sequence numbers */

static void test_seq_compare_wraparound(void **state)
{
	(void)state;
	assert_true(seq_lt(0xfffffff0u, 0x10u));
	assert_false(seq_lt(0x10u, 0xfffffff0u));
	assert_true(seq_gt(0x10u, 0xfffffff0u));
	assert_false(seq_gt(0xfffffff0u, 0x10u));
	assert_true(seq_leq(0xffffffffu, 0u));
	assert_true(seq_leq(5u, 5u));
	assert_true(seq_geq(5u, 5u));
	assert_false(seq_lt(5u, 5u));
	assert_false(seq_gt(5u, 5u));
	assert_true(seq_geq(0u, 0xffffffffu));
	assert_true(seq_lt(100u, 200u));
	assert_true(seq_gt(0x7fffffffu, 0u));
	assert_true(seq_lt(0x80000001u, 0u)); /* more than 2^31 ahead is behind */
}

static void test_seq_in_window_wraparound(void **state)
{
	(void)state;
	/* window [0xfffffff0, 0xfffffff0 + 0x40) spans the wrap */
	assert_true(seq_in_window(0xfffffff0u, 0xfffffff0u, 0x40));
	assert_true(seq_in_window(0xffffffffu, 0xfffffff0u, 0x40));
	assert_true(seq_in_window(0x0u, 0xfffffff0u, 0x40));
	assert_true(seq_in_window(0x2fu, 0xfffffff0u, 0x40));
	assert_false(seq_in_window(0x30u, 0xfffffff0u, 0x40));
	assert_false(seq_in_window(0xffffffefu, 0xfffffff0u, 0x40));
	assert_false(seq_in_window(0x10u, 0x10u, 0)); /* empty window */
	assert_true(seq_in_window(1000u, 1000u, 1));
	assert_false(seq_in_window(1001u, 1000u, 1));
}

/* ------------------------------------------------------------------ */
/* Ethernet / ARP */

static void test_eth_build_parse_roundtrip(void **state)
{
	(void)state;
	uint8_t f[ETH_HDR_BYTES + 1];
	memset(f, 0xee, sizeof(f));
	assert_int_equal(eth_build(f, sizeof(f), MAC_B, MAC_A, ETH_TYPE_IPV4), ETH_HDR_BYTES);
	assert_int_equal(f[12], 0x08);
	assert_int_equal(f[13], 0x00);
	assert_int_equal(f[14], 0xee); /* nothing written past 14 bytes */
	struct eth_hdr_view v;
	assert_int_equal(eth_parse(f, ETH_HDR_BYTES, &v), PROTO_OK);
	assert_memory_equal(v.dst, MAC_B, 6);
	assert_memory_equal(v.src, MAC_A, 6);
	assert_int_equal(v.ethertype, ETH_TYPE_IPV4);

	assert_int_equal(eth_build(f, ETH_HDR_BYTES - 1, MAC_B, MAC_A, ETH_TYPE_ARP), PROTO_ENOSPACE);

	assert_true(eth_is_broadcast(ETH_BROADCAST_ADDR));
	assert_false(eth_is_broadcast(MAC_A));
	const uint8_t almost[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
	assert_false(eth_is_broadcast(almost));
}

static void test_eth_truncated(void **state)
{
	(void)state;
	uint8_t f[ETH_HDR_BYTES] = {0};
	struct eth_hdr_view v;
	assert_int_equal(eth_parse(f, ETH_HDR_BYTES - 1, &v), PROTO_ETRUNC);
	assert_int_equal(eth_parse(f, 0, &v), PROTO_ETRUNC);
	assert_int_equal(eth_parse(f, ETH_HDR_BYTES, &v), PROTO_OK);
}

static void test_arp_request_roundtrip(void **state)
{
	(void)state;
	uint8_t f[64];
	memset(f, 0xaa, sizeof(f));
	int n = arp_build_frame(f, sizeof(f), ARP_OP_REQUEST, MAC_A, IP_A, MAC_B, IP_B);
	assert_int_equal(n, ETH_MIN_FRAME_BYTES);
	struct eth_hdr_view e;
	assert_int_equal(eth_parse(f, (size_t)n, &e), PROTO_OK);
	assert_true(eth_is_broadcast(e.dst));
	assert_memory_equal(e.src, MAC_A, 6);
	assert_int_equal(e.ethertype, ETH_TYPE_ARP);
	/* fixed fields */
	const uint8_t fixed[6] = {0x00, 0x01, 0x08, 0x00, 6, 4};
	assert_memory_equal(f + ETH_HDR_BYTES, fixed, 6);
	/* padding 42..59 zero */
	for (int i = ETH_HDR_BYTES + ARP_PKT_BYTES; i < ETH_MIN_FRAME_BYTES; i++)
		assert_int_equal(f[i], 0);
	assert_int_equal(f[60], 0xaa);

	struct arp_view a;
	assert_int_equal(arp_parse(f + ETH_HDR_BYTES, (size_t)n - ETH_HDR_BYTES, &a), PROTO_OK);
	assert_int_equal(a.op, ARP_OP_REQUEST);
	assert_memory_equal(a.sender_mac, MAC_A, 6);
	assert_int_equal(a.sender_ip, IP_A);
	const uint8_t zero[6] = {0};
	assert_memory_equal(a.target_mac, zero, 6);
	assert_int_equal(a.target_ip, IP_B);
}

static void test_arp_reply_roundtrip(void **state)
{
	(void)state;
	uint8_t f[ETH_MIN_FRAME_BYTES];
	int n = arp_build_frame(f, sizeof(f), ARP_OP_REPLY, MAC_B, IP_B, MAC_A, IP_A);
	assert_int_equal(n, ETH_MIN_FRAME_BYTES);
	struct eth_hdr_view e;
	assert_int_equal(eth_parse(f, (size_t)n, &e), PROTO_OK);
	assert_memory_equal(e.dst, MAC_A, 6);
	assert_memory_equal(e.src, MAC_B, 6);
	struct arp_view a;
	/* exactly 28 bytes is enough */
	assert_int_equal(arp_parse(f + ETH_HDR_BYTES, ARP_PKT_BYTES, &a), PROTO_OK);
	assert_int_equal(a.op, ARP_OP_REPLY);
	assert_memory_equal(a.sender_mac, MAC_B, 6);
	assert_int_equal(a.sender_ip, IP_B);
	assert_memory_equal(a.target_mac, MAC_A, 6);
	assert_int_equal(a.target_ip, IP_A);
}

static void test_arp_malformed(void **state)
{
	(void)state;
	uint8_t f[ETH_MIN_FRAME_BYTES];
	struct arp_view a;
	assert_int_equal(arp_build_frame(f, ETH_MIN_FRAME_BYTES - 1, ARP_OP_REQUEST, MAC_A, IP_A,
					 NULL, IP_B),
			 PROTO_ENOSPACE);
	assert_int_equal(arp_build_frame(f, sizeof(f), ARP_OP_REQUEST, MAC_A, IP_A, NULL, IP_B),
			 ETH_MIN_FRAME_BYTES);
	uint8_t *p = f + ETH_HDR_BYTES;
	assert_int_equal(arp_parse(p, ARP_PKT_BYTES - 1, &a), PROTO_ETRUNC);
	p[1] = 6; /* htype IEEE 802 */
	assert_int_equal(arp_parse(p, ARP_PKT_BYTES, &a), PROTO_EUNSUPPORTED);
	p[1] = 1;
	p[2] = 0x86; /* ptype IPv6 */
	assert_int_equal(arp_parse(p, ARP_PKT_BYTES, &a), PROTO_EUNSUPPORTED);
	p[2] = 0x08;
	p[5] = 16; /* plen */
	assert_int_equal(arp_parse(p, ARP_PKT_BYTES, &a), PROTO_EUNSUPPORTED);
	p[5] = 4;
	p[7] = 3; /* RARP op */
	assert_int_equal(arp_parse(p, ARP_PKT_BYTES, &a), PROTO_EUNSUPPORTED);
	p[7] = 1;
	assert_int_equal(arp_parse(p, ARP_PKT_BYTES, &a), PROTO_OK);
}

/* ------------------------------------------------------------------ */
/* IPv4 */

/* Builds header + `plen` payload bytes (pattern) into buf; returns length. */
static size_t make_ipv4(uint8_t *buf, size_t cap, uint16_t plen)
{
	assert_true(cap >= (size_t)IPV4_HDR_MIN_BYTES + plen);
	assert_int_equal(ipv4_build(buf, cap, IP_A, IP_B, IPV4_PROTO_TCP, 0x2a, 0x1234, 64, plen),
			 IPV4_HDR_MIN_BYTES);
	for (uint16_t i = 0; i < plen; i++)
		buf[IPV4_HDR_MIN_BYTES + i] = (uint8_t)(i * 7 + 1);
	return (size_t)IPV4_HDR_MIN_BYTES + plen;
}

/* Recompute the header checksum after editing a header field. */
static void ipv4_refresh_csum(uint8_t *h)
{
	size_t ihl = (size_t)(h[0] & 0x0f) * 4;
	h[10] = h[11] = 0;
	uint16_t c = inet_checksum(h, ihl, 0);
	memcpy(h + 10, &c, 2);
}

static void test_ipv4_roundtrip(void **state)
{
	(void)state;
	uint8_t b[128];
	memset(b, 0x55, sizeof(b));
	size_t n = make_ipv4(b, sizeof(b), 30);
	assert_int_equal(b[0], 0x45);
	assert_int_equal(be16_at(b + 2), 50);
	assert_int_equal(b[8], 64);
	assert_int_equal(b[9], IPV4_PROTO_TCP);

	struct ipv4_view v;
	assert_int_equal(ipv4_parse(b, n, &v), PROTO_OK);
	assert_int_equal(v.ihl_bytes, 20);
	assert_int_equal(v.tos, 0x2a);
	assert_int_equal(v.total_len, 50);
	assert_int_equal(v.id, 0x1234);
	assert_int_equal(v.ttl, 64);
	assert_int_equal(v.proto, IPV4_PROTO_TCP);
	assert_int_equal(v.src, IP_A);
	assert_int_equal(v.dst, IP_B);
	assert_ptr_equal(v.payload, b + 20);
	assert_int_equal(v.payload_len, 30);
	assert_int_equal(v.payload[29], (uint8_t)(29 * 7 + 1));

	/* Trailing Ethernet padding beyond total_len is ignored. */
	assert_int_equal(ipv4_parse(b, n + 26, &v), PROTO_OK);
	assert_int_equal(v.payload_len, 30);

	/* No payload. */
	n = make_ipv4(b, sizeof(b), 0);
	assert_int_equal(ipv4_parse(b, n, &v), PROTO_OK);
	assert_int_equal(v.payload_len, 0);
	assert_ptr_equal(v.payload, b + 20);

	assert_int_equal(ipv4_build(b, 19, IP_A, IP_B, 6, 0, 0, 64, 0), PROTO_ENOSPACE);
	assert_int_equal(ipv4_build(b, sizeof(b), IP_A, IP_B, 6, 0, 0, 64, 0xffff - 19), PROTO_ELENGTH);
	assert_int_equal(ipv4_build(b, sizeof(b), IP_A, IP_B, 6, 0, 0, 64, 0xffff - 20), 20);
}

static void test_ipv4_with_options(void **state)
{
	(void)state;
	uint8_t b[64] = {0};
	/* IHL 6: 4 bytes of options (NOP x3, EOL), 8 bytes payload */
	b[0] = 0x46;
	b[2] = 0;
	b[3] = 32;
	b[8] = 1;
	b[9] = 17;
	b[12] = 10; b[15] = 1;
	b[16] = 10; b[19] = 2;
	b[20] = 1; b[21] = 1; b[22] = 1; b[23] = 0;
	ipv4_refresh_csum(b);
	struct ipv4_view v;
	assert_int_equal(ipv4_parse(b, 32, &v), PROTO_OK);
	assert_int_equal(v.ihl_bytes, 24);
	assert_int_equal(v.payload_len, 8);
	assert_ptr_equal(v.payload, b + 24);
	assert_int_equal(v.proto, 17);
	/* IHL 6 but only 22 bytes of buffer */
	assert_int_equal(ipv4_parse(b, 22, &v), PROTO_ETRUNC);
}

static void test_ipv4_truncated(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n = make_ipv4(b, sizeof(b), 0);
	struct ipv4_view v;
	assert_int_equal(ipv4_parse(b, n - 1, &v), PROTO_ETRUNC);
	assert_int_equal(ipv4_parse(b, 1, &v), PROTO_ETRUNC);
	assert_int_equal(ipv4_parse(b, 0, &v), PROTO_ETRUNC);
}

static void test_ipv4_bad_version(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n = make_ipv4(b, sizeof(b), 4);
	b[0] = 0x65; /* version 6 */
	ipv4_refresh_csum(b);
	struct ipv4_view v;
	assert_int_equal(ipv4_parse(b, n, &v), PROTO_EVERSION);
}

static void test_ipv4_ihl_below_5(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n = make_ipv4(b, sizeof(b), 4);
	b[0] = 0x44;
	struct ipv4_view v;
	assert_int_equal(ipv4_parse(b, n, &v), PROTO_EVERSION);
	b[0] = 0x40;
	assert_int_equal(ipv4_parse(b, n, &v), PROTO_EVERSION);
}

static void test_ipv4_total_len_inconsistent(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n = make_ipv4(b, sizeof(b), 10); /* total_len 30 */
	struct ipv4_view v;
	/* total_len larger than the buffer */
	assert_int_equal(ipv4_parse(b, n - 1, &v), PROTO_ETRUNC);
	b[2] = 0;
	b[3] = 200;
	ipv4_refresh_csum(b);
	assert_int_equal(ipv4_parse(b, sizeof(b), &v), PROTO_ETRUNC);
	/* total_len smaller than the header */
	b[3] = 19;
	ipv4_refresh_csum(b);
	assert_int_equal(ipv4_parse(b, n, &v), PROTO_ELENGTH);
}

static void test_ipv4_fragment_unsupported(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n = make_ipv4(b, sizeof(b), 8);
	struct ipv4_view v;
	b[6] = 0x20; /* MF */
	b[7] = 0x00;
	ipv4_refresh_csum(b);
	assert_int_equal(ipv4_parse(b, n, &v), PROTO_EUNSUPPORTED);
	b[6] = 0x00; /* offset 1 (8 bytes), last fragment */
	b[7] = 0x01;
	ipv4_refresh_csum(b);
	assert_int_equal(ipv4_parse(b, n, &v), PROTO_EUNSUPPORTED);
	b[6] = 0x40; /* DF only: fine */
	b[7] = 0x00;
	ipv4_refresh_csum(b);
	assert_int_equal(ipv4_parse(b, n, &v), PROTO_OK);
}

static void test_ipv4_checksum_byte_flip(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n = make_ipv4(b, sizeof(b), 8);
	struct ipv4_view v;
	assert_int_equal(ipv4_parse(b, n, &v), PROTO_OK);
	/* Flip every header byte that does not change the length checks. */
	const int pos[] = {1, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
	for (size_t i = 0; i < sizeof(pos) / sizeof(pos[0]); i++) {
		b[pos[i]] ^= 0xff;
		assert_int_equal(ipv4_parse(b, n, &v), PROTO_ECHECKSUM);
		b[pos[i]] ^= 0xff;
	}
	/* Payload bytes are not covered by the header checksum. */
	b[25] ^= 0xff;
	assert_int_equal(ipv4_parse(b, n, &v), PROTO_OK);
}

/* ------------------------------------------------------------------ */
/* TCP */

static void test_tcp_options_all_combinations(void **state)
{
	(void)state;
	const uint8_t flag_sets[2] = {TCP_SYN, TCP_ACK | TCP_PSH};
	const uint16_t payload_lens[2] = {0, 37};
	int checked = 0;

	for (int fi = 0; fi < 2; fi++)
	for (int combo = 0; combo < 16; combo++)
	for (int pi = 0; pi < 2; pi++) {
		uint8_t flags = flag_sets[fi];
		bool syn = (flags & TCP_SYN) != 0;
		struct tcp_opts o = {
			.has_mss = combo & 1, .mss = 1460,
			.has_wscale = (combo & 2) != 0, .wscale = 7,
			.has_ts = (combo & 4) != 0, .ts_val = 0xdeadbeef, .ts_ecr = 0x01020304,
			.sack_permitted = true, /* sent on a SYN only */
		};
		bool null_opts = (combo & 8) != 0;
		struct tcp_build_args a = {
			.sport = 40000, .dport = 80, .seq = 0xfffffff0u, .ack = 0x10u,
			.flags = flags, .window = 0xabcd, .opts = null_opts ? NULL : &o,
		};
		uint8_t seg[TCP_HDR_MAX_BYTES + 64];
		memset(seg, 0x77, sizeof(seg));
		int h = tcp_build_hdr(seg, sizeof(seg), &a);
		int expect = 20;
		if (!null_opts) {
			if (syn && o.has_mss)
				expect += 4;
			if (syn && o.has_wscale)
				expect += 4;
			if (syn && !o.has_ts)
				expect += 4; /* NOP NOP SACK-permitted; with TS it takes TS's NOPs */
			if (o.has_ts)
				expect += 12;
		}
		assert_int_equal(h, expect);
		assert_int_equal(h % 4, 0);
		assert_int_equal(seg[16], 0); /* checksum left 0 */
		assert_int_equal(seg[17], 0);
		/* Exactly-sized buffer works, one byte less does not. */
		uint8_t exact[TCP_HDR_MAX_BYTES];
		assert_int_equal(tcp_build_hdr(exact, (size_t)h, &a), h);
		assert_int_equal(tcp_build_hdr(exact, (size_t)h - 1, &a), PROTO_ENOSPACE);

		uint16_t plen = payload_lens[pi];
		for (uint16_t i = 0; i < plen; i++)
			seg[h + i] = (uint8_t)(0x30 + i);
		uint16_t seg_len = (uint16_t)(h + plen);
		tcp_fill_checksum(seg, seg_len, IP_A, IP_B);

		struct tcp_view v;
		assert_int_equal(tcp_parse(seg, seg_len, IP_A, IP_B, true, &v), PROTO_OK);
		assert_int_equal(v.sport, 40000);
		assert_int_equal(v.dport, 80);
		assert_int_equal(v.seq, 0xfffffff0u);
		assert_int_equal(v.ack, 0x10u);
		assert_int_equal(v.flags, flags);
		assert_int_equal(v.window, 0xabcd);
		assert_int_equal(v.urg, 0);
		assert_int_equal(v.hdr_bytes, h);
		assert_int_equal(v.payload_len, plen);
		assert_ptr_equal(v.payload, seg + h);
		if (plen)
			assert_int_equal(v.payload[plen - 1], (uint8_t)(0x30 + plen - 1));
		bool want_mss = !null_opts && syn && o.has_mss;
		bool want_ws = !null_opts && syn && o.has_wscale;
		bool want_ts = !null_opts && o.has_ts;
		assert_int_equal(v.opts.has_mss, want_mss);
		if (want_mss)
			assert_int_equal(v.opts.mss, 1460);
		assert_int_equal(v.opts.has_wscale, want_ws);
		if (want_ws)
			assert_int_equal(v.opts.wscale, 7);
		assert_int_equal(v.opts.has_ts, want_ts);
		if (want_ts) {
			assert_int_equal(v.opts.ts_val, 0xdeadbeef);
			assert_int_equal(v.opts.ts_ecr, 0x01020304);
		}
		assert_int_equal(v.opts.sack_permitted, syn && !null_opts);
		assert_int_equal(v.opts.sack_count, 0);
		/* Checksum against the wrong pseudo header fails. */
		assert_int_equal(tcp_parse(seg, seg_len, IP_A, IP_B + 1, true, &v), PROTO_ECHECKSUM);
		checked++;
	}
	assert_int_equal(checked, 64);
}

static void test_tcp_option_layout(void **state)
{
	(void)state;
	struct tcp_opts o = {.has_mss = true, .mss = 0x05b4, .has_wscale = true, .wscale = 9,
			     .has_ts = true, .ts_val = 1, .ts_ecr = 2};
	struct tcp_build_args a = {.flags = TCP_SYN, .opts = &o};
	uint8_t seg[TCP_HDR_MAX_BYTES];
	assert_int_equal(tcp_build_hdr(seg, sizeof(seg), &a), 40);
	assert_int_equal(seg[12], 0xa0); /* data offset 10 */
	const uint8_t want[20] = {2, 4, 0x05, 0xb4, 1, 3, 3, 9, 1, 1, 8, 10,
				  0, 0, 0, 1, 0, 0, 0, 2};
	assert_memory_equal(seg + 20, want, sizeof(want));
}

static void test_tcp_syn_sack_permitted_layout(void **state)
{
	(void)state;
	/* With TS: SACK-permitted takes TS's two NOPs, as Linux lays it out. */
	struct tcp_opts o = {.has_mss = true, .mss = 0x05b4, .has_ts = true, .ts_val = 1, .ts_ecr = 2,
			     .sack_permitted = true};
	struct tcp_build_args a = {.flags = TCP_SYN, .opts = &o};
	uint8_t seg[TCP_HDR_MAX_BYTES];
	assert_int_equal(tcp_build_hdr(seg, sizeof(seg), &a), 36);
	const uint8_t want_ts[16] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
	assert_memory_equal(seg + 20, want_ts, sizeof(want_ts));
	/* Without TS: NOP NOP SACK-permitted. */
	o.has_ts = false;
	assert_int_equal(tcp_build_hdr(seg, sizeof(seg), &a), 28);
	const uint8_t want[8] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2};
	assert_memory_equal(seg + 20, want, sizeof(want));
	/* Never on a segment without SYN. */
	a.flags = TCP_ACK;
	assert_int_equal(tcp_build_hdr(seg, sizeof(seg), &a), 20);
}

/* SACK blocks go out in the order given, as many as fit: 4 alone, 3
 * next to timestamps (RFC 2018 section 3), and parse back the same. */
static void test_tcp_sack_blocks_fit_and_roundtrip(void **state)
{
	(void)state;
	struct tcp_opts o = {.sack_count = 4};
	for (uint32_t b = 0; b < 4; b++) {
		o.sack[b].start = 0xfffff000u + b * 0x1000;
		o.sack[b].end = o.sack[b].start + 100 + b;
	}
	for (int ts = 0; ts < 2; ts++) {
		o.has_ts = ts;
		o.ts_val = 7;
		struct tcp_build_args a = {.sport = 1, .dport = 2, .flags = TCP_ACK, .opts = &o};
		uint8_t seg[TCP_HDR_MAX_BYTES];
		int h = tcp_build_hdr(seg, sizeof(seg), &a);
		uint8_t want_blocks = ts ? 3 : 4;
		assert_int_equal(h, 20 + (ts ? 12 : 0) + 4 + 8 * want_blocks);
		assert_true(h <= TCP_HDR_MAX_BYTES);
		tcp_fill_checksum(seg, (uint16_t)h, IP_A, IP_B);
		struct tcp_view v;
		assert_int_equal(tcp_parse(seg, (size_t)h, IP_A, IP_B, true, &v), PROTO_OK);
		assert_int_equal(v.opts.sack_count, want_blocks);
		assert_int_equal(v.opts.has_ts, ts);
		for (uint32_t b = 0; b < want_blocks; b++) {
			assert_int_equal(v.opts.sack[b].start, o.sack[b].start);
			assert_int_equal(v.opts.sack[b].end, o.sack[b].end);
		}
	}
	/* Never on a SYN. */
	struct tcp_build_args syn = {.flags = TCP_SYN | TCP_ACK, .opts = &o};
	uint8_t seg[TCP_HDR_MAX_BYTES];
	assert_int_equal(tcp_build_hdr(seg, sizeof(seg), &syn), 32);
}

static void test_tcp_wscale_clamped(void **state)
{
	(void)state;
	/* Builder clamps. */
	struct tcp_opts o = {.has_wscale = true, .wscale = 20};
	struct tcp_build_args a = {.flags = TCP_SYN, .opts = &o};
	uint8_t seg[TCP_HDR_MAX_BYTES];
	int h = tcp_build_hdr(seg, sizeof(seg), &a);
	assert_int_equal(h, 24);
	assert_int_equal(seg[23], TCP_WSCALE_MAX);
	/* Parser clamps a raw 20. */
	seg[23] = 20;
	struct tcp_view v;
	assert_int_equal(tcp_parse(seg, (size_t)h, 0, 0, false, &v), PROTO_OK);
	assert_true(v.opts.has_wscale);
	assert_int_equal(v.opts.wscale, TCP_WSCALE_MAX);
	seg[23] = 14;
	assert_int_equal(tcp_parse(seg, (size_t)h, 0, 0, false, &v), PROTO_OK);
	assert_int_equal(v.opts.wscale, 14);
}

/* Raw TCP header with the given option bytes (padded with EOL to a multiple
 * of 4), checksum filled. Returns its length. */
static size_t make_tcp_raw(uint8_t *seg, size_t cap, const uint8_t *opt, size_t optlen)
{
	size_t hdr = 20 + ((optlen + 3) & ~(size_t)3);
	assert_true(hdr <= cap && hdr <= 60);
	memset(seg, 0, hdr);
	seg[0] = 0x12; seg[1] = 0x34; seg[2] = 0x00; seg[3] = 0x50;
	seg[7] = 1;
	seg[12] = (uint8_t)((hdr / 4) << 4);
	seg[13] = TCP_ACK;
	seg[14] = 0xff; seg[15] = 0xff;
	if (optlen > 0)
		memcpy(seg + 20, opt, optlen);
	tcp_fill_checksum(seg, (uint16_t)hdr, IP_A, IP_B);
	return hdr;
}

static void test_tcp_parse_option_variety(void **state)
{
	(void)state;
	uint8_t seg[64];
	struct tcp_view v;
	/* unknown kind 30 (len 6) skipped, SACK-permitted, NOP, MSS, EOL then
	 * garbage that must be ignored */
	const uint8_t opt[] = {30, 6, 9, 9, 9, 9, 4, 2, 1, 2, 4, 0x23, 0x28, 0, 0xee, 0x01};
	size_t n = make_tcp_raw(seg, sizeof(seg), opt, sizeof(opt));
	assert_int_equal(tcp_parse(seg, n, IP_A, IP_B, true, &v), PROTO_OK);
	assert_true(v.opts.sack_permitted);
	assert_true(v.opts.has_mss);
	assert_int_equal(v.opts.mss, 9000);
	assert_false(v.opts.has_ts);
	assert_false(v.opts.has_wscale);
	assert_int_equal(v.hdr_bytes, 36);

	/* SACK blocks option (kind 5, len 10): one block. */
	const uint8_t sack[] = {1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2};
	n = make_tcp_raw(seg, sizeof(seg), sack, sizeof(sack));
	assert_int_equal(tcp_parse(seg, n, IP_A, IP_B, true, &v), PROTO_OK);
	assert_false(v.opts.sack_permitted);
	assert_int_equal(v.opts.sack_count, 1);
	assert_int_equal(v.opts.sack[0].start, 1);
	assert_int_equal(v.opts.sack[0].end, 2);
	/* A SACK length that is not 2 + 8n (n 1..4) is malformed. */
	const uint8_t bad_sacks[][12] = {
		{1, 1, 5, 2, 1, 1, 1, 1, 1, 1, 1, 1},  /* no block */
		{1, 1, 5, 9, 0, 0, 0, 1, 0, 0, 0, 1},  /* 7 bytes of block */
	};
	for (size_t i = 0; i < 2; i++) {
		n = make_tcp_raw(seg, sizeof(seg), bad_sacks[i], sizeof(bad_sacks[i]));
		assert_int_equal(tcp_parse(seg, n, IP_A, IP_B, true, &v), PROTO_EOPTION);
	}
	uint8_t five[44] = {1, 1, 5, 42};
	n = make_tcp_raw(seg, sizeof(seg), five, 40);
	assert_int_equal(tcp_parse(seg, n, IP_A, IP_B, true, &v), PROTO_EOPTION); /* 5 blocks */

	/* Kind without room for its length byte at the end of the header, in
	 * an exactly sized heap block (valgrind/ASan catch a peek past it). */
	const uint8_t tail[] = {1, 1, 1, 2};
	n = make_tcp_raw(seg, sizeof(seg), tail, sizeof(tail));
	uint8_t *exact = malloc(n);
	assert_non_null(exact);
	memcpy(exact, seg, n);
	assert_int_equal(tcp_parse(exact, n, IP_A, IP_B, true, &v), PROTO_EOPTION);
	free(exact);

	/* Wrong fixed lengths for WS and SACK-permitted. */
	const uint8_t ws4[] = {3, 4, 7, 1};
	n = make_tcp_raw(seg, sizeof(seg), ws4, sizeof(ws4));
	assert_int_equal(tcp_parse(seg, n, IP_A, IP_B, true, &v), PROTO_EOPTION);
	const uint8_t sp3[] = {4, 3, 0, 1};
	n = make_tcp_raw(seg, sizeof(seg), sp3, sizeof(sp3));
	assert_int_equal(tcp_parse(seg, n, IP_A, IP_B, true, &v), PROTO_EOPTION);
}

static void expect_tcp_opt_err(const uint8_t *opt, size_t optlen, int err)
{
	uint8_t seg[64];
	struct tcp_view v;
	size_t n = make_tcp_raw(seg, sizeof(seg), opt, optlen);
	assert_int_equal(tcp_parse(seg, n, IP_A, IP_B, true, &v), err);
	assert_int_equal(tcp_parse(seg, n, IP_A, IP_B, false, &v), err);
}

static void test_tcp_option_len_zero(void **state)
{
	(void)state;
	const uint8_t opt[] = {30, 0, 1, 1};
	expect_tcp_opt_err(opt, sizeof(opt), PROTO_EOPTION);
}

static void test_tcp_option_len_one(void **state)
{
	(void)state;
	const uint8_t opt[] = {2, 1, 1, 1};
	expect_tcp_opt_err(opt, sizeof(opt), PROTO_EOPTION);
}

static void test_tcp_option_past_header(void **state)
{
	(void)state;
	/* header has 8 option bytes; unknown kind claims 10 */
	const uint8_t opt[] = {1, 1, 30, 8, 0, 0, 0, 0};
	expect_tcp_opt_err(opt, sizeof(opt), PROTO_EOPTION);
	/* TS option (10 bytes) in an 8-byte option area */
	const uint8_t ts[] = {8, 10, 0, 0, 0, 1, 0, 0};
	expect_tcp_opt_err(ts, sizeof(ts), PROTO_EOPTION);
	/* Same unknown option fitting exactly is fine */
	const uint8_t ok[] = {1, 1, 30, 6, 0, 0, 0, 0};
	expect_tcp_opt_err(ok, sizeof(ok), PROTO_OK);
}

static void test_tcp_option_mss_len5(void **state)
{
	(void)state;
	const uint8_t opt[] = {2, 5, 0x05, 0xb4, 0, 1, 1, 1};
	expect_tcp_opt_err(opt, sizeof(opt), PROTO_EOPTION);
}

static void test_tcp_option_ts_len9(void **state)
{
	(void)state;
	const uint8_t opt[] = {8, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1};
	expect_tcp_opt_err(opt, sizeof(opt), PROTO_EOPTION);
}

static void test_tcp_truncated(void **state)
{
	(void)state;
	uint8_t seg[64];
	struct tcp_view v;
	size_t n = make_tcp_raw(seg, sizeof(seg), NULL, 0);
	assert_int_equal(n, 20);
	assert_int_equal(tcp_parse(seg, n, IP_A, IP_B, true, &v), PROTO_OK);
	assert_int_equal(tcp_parse(seg, 19, IP_A, IP_B, false, &v), PROTO_ETRUNC);
	assert_int_equal(tcp_parse(seg, 0, IP_A, IP_B, false, &v), PROTO_ETRUNC);
}

static void test_tcp_data_offset_below_5(void **state)
{
	(void)state;
	uint8_t seg[64];
	struct tcp_view v;
	size_t n = make_tcp_raw(seg, sizeof(seg), NULL, 0);
	seg[12] = 0x40;
	tcp_fill_checksum(seg, (uint16_t)n, IP_A, IP_B);
	assert_int_equal(tcp_parse(seg, n, IP_A, IP_B, true, &v), PROTO_ELENGTH);
	seg[12] = 0x00;
	assert_int_equal(tcp_parse(seg, n, IP_A, IP_B, false, &v), PROTO_ELENGTH);
}

static void test_tcp_data_offset_past_buffer(void **state)
{
	(void)state;
	uint8_t seg[64];
	struct tcp_view v;
	const uint8_t opt[] = {1, 1, 1, 1};
	size_t n = make_tcp_raw(seg, sizeof(seg), opt, sizeof(opt)); /* 24 */
	assert_int_equal(tcp_parse(seg, n, IP_A, IP_B, false, &v), PROTO_OK);
	assert_int_equal(tcp_parse(seg, n - 1, IP_A, IP_B, false, &v), PROTO_ELENGTH);
	assert_int_equal(tcp_parse(seg, 20, IP_A, IP_B, false, &v), PROTO_ELENGTH);
	seg[12] = 0xf0; /* 60 bytes claimed, 24 present */
	assert_int_equal(tcp_parse(seg, n, IP_A, IP_B, false, &v), PROTO_ELENGTH);
}

static void test_tcp_checksum_byte_flip(void **state)
{
	(void)state;
	struct tcp_opts o = {.has_ts = true, .ts_val = 77, .ts_ecr = 88};
	struct tcp_build_args a = {.sport = 1, .dport = 2, .seq = 3, .ack = 4,
				   .flags = TCP_ACK, .window = 5, .opts = &o};
	uint8_t seg[128];
	int h = tcp_build_hdr(seg, sizeof(seg), &a);
	assert_int_equal(h, 32);
	for (int i = 0; i < 21; i++)
		seg[h + i] = (uint8_t)(i * 13); /* odd payload length */
	uint16_t len = (uint16_t)(h + 21);
	tcp_fill_checksum(seg, len, IP_A, IP_B);
	assert_true(seg[16] != 0 || seg[17] != 0);
	struct tcp_view v;
	assert_int_equal(tcp_parse(seg, len, IP_A, IP_B, true, &v), PROTO_OK);
	/* Every single-byte flip that keeps the header parseable is caught. */
	for (uint16_t i = 0; i < len; i++) {
		if (i == 12)
			continue; /* data offset: would be a length error */
		seg[i] ^= 0xff;
		assert_int_equal(tcp_parse(seg, len, IP_A, IP_B, true, &v), PROTO_ECHECKSUM);
		seg[i] ^= 0xff;
	}
	/* Without verification a flipped payload byte is accepted. */
	seg[len - 1] ^= 0xff;
	assert_int_equal(tcp_parse(seg, len, IP_A, IP_B, false, &v), PROTO_OK);
	seg[len - 1] ^= 0xff;
	/* Wrong addresses or length also fail. */
	assert_int_equal(tcp_parse(seg, len, IP_B, IP_A + 1, true, &v), PROTO_ECHECKSUM);
	assert_int_equal(tcp_parse(seg, len - 1, IP_A, IP_B, true, &v), PROTO_ECHECKSUM);
}

/* Parses a whole frame back: Ethernet, IPv4, TCP with checksum. */
static void parse_frame(const uint8_t *f, size_t n, struct ipv4_view *ip, struct tcp_view *tcp)
{
	struct eth_hdr_view e;
	assert_int_equal(eth_parse(f, n, &e), PROTO_OK);
	assert_int_equal(e.ethertype, ETH_TYPE_IPV4);
	assert_memory_equal(e.dst, MAC_B, 6);
	assert_memory_equal(e.src, MAC_A, 6);
	assert_int_equal(ipv4_parse(f + ETH_HDR_BYTES, n - ETH_HDR_BYTES, ip), PROTO_OK);
	assert_int_equal(tcp_parse(ip->payload, ip->payload_len, ip->src, ip->dst, true, tcp),
			 PROTO_OK);
}

static void test_tcp_frame_build_padded(void **state)
{
	(void)state;
	uint8_t f[128];
	memset(f, 0xcc, sizeof(f));
	struct tcp_frame_args a = {
		.src_mac = MAC_A, .dst_mac = MAC_B, .src_ip = IP_A, .dst_ip = IP_B,
		.tos = IPV4_ECN_ECT0, .ip_id = 99,
		.tcp = {.sport = 5000, .dport = 6000, .seq = 111, .ack = 222,
			.flags = TCP_ACK, .window = 1024, .opts = NULL},
	};
	int n = tcp_frame_build(f, sizeof(f), &a);
	assert_int_equal(n, ETH_MIN_FRAME_BYTES);
	for (int i = 54; i < 60; i++)
		assert_int_equal(f[i], 0);
	assert_int_equal(f[60], 0xcc);
	struct ipv4_view ip;
	struct tcp_view t;
	parse_frame(f, (size_t)n, &ip, &t);
	assert_int_equal(ip.total_len, 40); /* padding excluded */
	assert_int_equal(ip.ttl, 64);
	assert_int_equal(ip.tos, IPV4_ECN_ECT0);
	assert_int_equal(ip.id, 99);
	assert_int_equal(ip.proto, IPV4_PROTO_TCP);
	assert_int_equal(t.sport, 5000);
	assert_int_equal(t.dport, 6000);
	assert_int_equal(t.seq, 111);
	assert_int_equal(t.ack, 222);
	assert_int_equal(t.flags, TCP_ACK);
	assert_int_equal(t.payload_len, 0);

	/* Small payload still padded: 54 + 3 = 57 -> 60. */
	const uint8_t p[3] = {'a', 'b', 'c'};
	a.payload = p;
	a.payload_len = 3;
	n = tcp_frame_build(f, sizeof(f), &a);
	assert_int_equal(n, 60);
	assert_int_equal(f[57], 0);
	parse_frame(f, (size_t)n, &ip, &t);
	assert_int_equal(t.payload_len, 3);
	assert_memory_equal(t.payload, "abc", 3);

	assert_int_equal(tcp_frame_build(f, 59, &a), PROTO_ENOSPACE);
}

/* TX checksum offload: the frame carries the folded pseudo-header sum in
 * the TCP checksum field, as DPDK wants; what a NIC then computes over the
 * segment is the correct checksum. Without offload the payload's sum rides
 * on its copy and the frame verifies as built, odd payload lengths too. */
static void test_tcp_frame_build_checksum_offload(void **state)
{
	(void)state;
	uint8_t f[1600], payload[1001];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	struct tcp_frame_args a = {
		.src_mac = MAC_A, .dst_mac = MAC_B, .src_ip = IP_A, .dst_ip = IP_B,
		.tcp = {.sport = 1, .dport = 2, .seq = 5, .ack = 9, .flags = TCP_ACK | TCP_PSH, .window = 100},
		.payload = payload, .payload_len = sizeof(payload), .l4_csum_offload = true,
	};
	int n = tcp_frame_build(f, sizeof(f), &a);
	assert_true(n > 0);
	uint8_t *seg = f + 14 + 20;
	uint16_t seg_len = (uint16_t)(20 + sizeof(payload));
	uint16_t pseudo = fold16(tcp_pseudo_sum(IP_A, IP_B, seg_len));
	assert_int_equal(be16_at(seg + 16), pseudo);
	struct tcp_view t;
	assert_int_equal(tcp_parse(seg, seg_len, IP_A, IP_B, true, &t), PROTO_ECHECKSUM); /* not finished yet */
	/* The hardware's part: checksum of the segment as it stands. */
	uint16_t hw = inet_checksum(seg, seg_len, 0);
	memcpy(seg + 16, &hw, 2);
	assert_int_equal(tcp_parse(seg, seg_len, IP_A, IP_B, true, &t), PROTO_OK);
	assert_memory_equal(t.payload, payload, sizeof(payload));
	/* Software: the same frame, verified as built. */
	a.l4_csum_offload = false;
	assert_int_equal(tcp_frame_build(f, sizeof(f), &a), n);
	assert_int_equal(tcp_parse(seg, seg_len, IP_A, IP_B, true, &t), PROTO_OK);
	assert_int_equal(be16_at(seg + 16), be16_at((uint8_t *)&hw));
}

static void test_tcp_frame_build_payload(void **state)
{
	(void)state;
	uint8_t f[1600];
	uint8_t payload[1000];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i ^ 0x5a);
	struct tcp_opts o = {.has_mss = true, .mss = 1460, .has_wscale = true, .wscale = 10,
			     .has_ts = true, .ts_val = 123456, .ts_ecr = 0};
	struct tcp_frame_args a = {
		.src_mac = MAC_A, .dst_mac = MAC_B, .src_ip = IP_A, .dst_ip = IP_B,
		.tcp = {.sport = 1, .dport = 2, .seq = 0xffffffffu, .ack = 0,
			.flags = TCP_SYN | TCP_ACK, .window = 65535, .opts = &o},
		.payload = payload, .payload_len = sizeof(payload),
	};
	int n = tcp_frame_build(f, sizeof(f), &a);
	assert_int_equal(n, 14 + 20 + 40 + 1000);
	struct ipv4_view ip;
	struct tcp_view t;
	parse_frame(f, (size_t)n, &ip, &t);
	assert_int_equal(ip.total_len, 20 + 40 + 1000);
	assert_int_equal(t.hdr_bytes, 40);
	assert_int_equal(t.payload_len, 1000);
	assert_memory_equal(t.payload, payload, sizeof(payload));
	assert_true(t.opts.has_mss && t.opts.has_wscale && t.opts.has_ts);
	assert_int_equal(t.opts.wscale, 10);
	assert_int_equal(t.opts.ts_val, 123456);
	/* DF set, no fragment */
	assert_int_equal(f[14 + 6], 0x40);
	/* Exact capacity works, one less does not. */
	assert_int_equal(tcp_frame_build(f, (size_t)n, &a), n);
	assert_int_equal(tcp_frame_build(f, (size_t)n - 1, &a), PROTO_ENOSPACE);

	/* Payload already in place inside the output buffer. */
	memcpy(f + 14 + 20 + 40, payload, sizeof(payload));
	a.payload = f + 14 + 20 + 40;
	assert_int_equal(tcp_frame_build(f, sizeof(f), &a), n);
	parse_frame(f, (size_t)n, &ip, &t);
	assert_memory_equal(t.payload, payload, sizeof(payload));

	/* Payload overlapping the header area (e.g. staged at the frame
	 * start): it is moved before any header byte is written. */
	memcpy(f + 14, payload, sizeof(payload));
	a.payload = f + 14;
	assert_int_equal(tcp_frame_build(f, sizeof(f), &a), n);
	parse_frame(f, (size_t)n, &ip, &t);
	assert_memory_equal(t.payload, payload, sizeof(payload));

	/* A flipped payload byte in the frame fails the TCP checksum. */
	f[n - 1] ^= 0x01;
	assert_int_equal(ipv4_parse(f + 14, (size_t)n - 14, &ip), PROTO_OK);
	assert_int_equal(tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, true, &t),
			 PROTO_ECHECKSUM);
}

static void test_tcp_fill_checksum_matches_manual(void **state)
{
	(void)state;
	uint8_t seg[20] = {0};
	struct tcp_build_args a = {.sport = 0x1111, .dport = 0x2222, .flags = TCP_RST};
	assert_int_equal(tcp_build_hdr(seg, sizeof(seg), &a), 20);
	seg[16] = 0xde; /* stale checksum is overwritten */
	seg[17] = 0xad;
	tcp_fill_checksum(seg, 20, 0xc0a80001u, 0xc0a800c7u);
	/* Manual: pseudo header bytes + header with zero checksum. */
	uint8_t buf[32] = {0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7, 0x00, 0x06, 0x00, 20};
	memcpy(buf + 12, seg, 20);
	buf[12 + 16] = buf[12 + 17] = 0;
	uint16_t want = inet_checksum(buf, 32, 0);
	assert_memory_equal(seg + 16, &want, 2);
	/* Too short for a checksum field: untouched. */
	uint8_t tiny[10];
	memset(tiny, 0x33, sizeof(tiny));
	tcp_fill_checksum(tiny, sizeof(tiny), IP_A, IP_B);
	for (size_t i = 0; i < sizeof(tiny); i++)
		assert_int_equal(tiny[i], 0x33);
}

/* ------------------------------------------------------------------ */
/* fuzz */

static bool valid_err(int rc)
{
	return rc <= PROTO_OK && rc >= PROTO_ENOSPACE;
}

static void fuzz_one(const uint8_t *b, size_t len)
{
	struct eth_hdr_view e;
	struct arp_view a;
	struct ipv4_view ip;
	struct tcp_view t;
	int rc = eth_parse(b, len, &e);
	assert_int_equal(rc, len >= 14 ? PROTO_OK : PROTO_ETRUNC);
	rc = arp_parse(b, len, &a);
	assert_true(valid_err(rc));
	rc = ipv4_parse(b, len, &ip);
	assert_true(valid_err(rc));
	if (rc == PROTO_OK) {
		assert_true(ip.payload >= b + 20);
		assert_true((size_t)(ip.payload - b) + ip.payload_len <= len);
		rc = tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, true, &t);
		assert_true(valid_err(rc));
	}
	if (len > ETH_HDR_BYTES) {
		rc = ipv4_parse(b + ETH_HDR_BYTES, len - ETH_HDR_BYTES, &ip);
		assert_true(valid_err(rc));
	}
	for (int verify = 0; verify < 2; verify++) {
		rc = tcp_parse(b, len, IP_A, IP_B, verify, &t);
		assert_true(valid_err(rc));
		if (rc == PROTO_OK) {
			assert_true(t.hdr_bytes >= 20 && t.hdr_bytes <= len);
			assert_true((size_t)t.hdr_bytes + t.payload_len == len);
			assert_true(t.opts.wscale <= TCP_WSCALE_MAX);
		}
	}
}

static void test_fuzz_random_buffers(void **state)
{
	(void)state;
	uint32_t rng = 0x2545f491u;
	int tcp_ok = 0;
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = xorshift32(&rng) % 201;
		/* Exactly sized heap block so valgrind sees any over-read. */
		uint8_t *b = malloc(len ? len : 1);
		assert_non_null(b);
		for (size_t i = 0; i < len; i++)
			b[i] = (uint8_t)xorshift32(&rng);
		/* Bias some buffers towards plausible headers to go deeper. */
		if (len >= 20 && (iter & 3) == 1) {
			b[0] = (uint8_t)(0x40 | (b[0] & 0x0f)); /* IPv4 */
			b[2] = 0;
			b[3] = (uint8_t)(xorshift32(&rng) % (len + 8));
		} else if (len >= 20 && (iter & 3) == 2) {
			/* TCP with random data offset and option bytes */
			b[12] = (uint8_t)((5 + xorshift32(&rng) % 11) << 4);
		}
		fuzz_one(b, len);
		struct tcp_view t;
		if (tcp_parse(b, len, 0, 0, false, &t) == PROTO_OK)
			tcp_ok++;
		free(b);
	}
	assert_true(tcp_ok > 0); /* the loop really reached the option parser */
}

static void test_fuzz_mutated_frames(void **state)
{
	(void)state;
	uint32_t rng = 12345;
	uint8_t tmpl[200];
	struct tcp_opts o = {.has_mss = true, .mss = 1400, .has_wscale = true, .wscale = 3,
			     .has_ts = true, .ts_val = 9, .ts_ecr = 8};
	const uint8_t payload[40] = {1, 2, 3};
	struct tcp_frame_args fa = {
		.src_mac = MAC_A, .dst_mac = MAC_B, .src_ip = IP_A, .dst_ip = IP_B,
		.tcp = {.flags = TCP_SYN, .opts = &o}, .payload = payload, .payload_len = 40,
	};
	int n = tcp_frame_build(tmpl, sizeof(tmpl), &fa);
	assert_true(n > 0);
	int ip_ok = 0;
	for (int iter = 0; iter < 5000; iter++) {
		size_t len = xorshift32(&rng) % (size_t)(n + 1);
		uint8_t *b = malloc(len ? len : 1);
		assert_non_null(b);
		memcpy(b, tmpl, len);
		int flips = (int)(xorshift32(&rng) % 4);
		for (int k = 0; k < flips && len > 0; k++)
			b[xorshift32(&rng) % len] = (uint8_t)xorshift32(&rng);
		fuzz_one(b, len);
		struct ipv4_view ip;
		if (len > ETH_HDR_BYTES &&
		    ipv4_parse(b + ETH_HDR_BYTES, len - ETH_HDR_BYTES, &ip) == PROTO_OK) {
			struct tcp_view t;
			int rc = tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, true, &t);
			assert_true(valid_err(rc));
			ip_ok++;
		}
		free(b);
	}
	assert_true(ip_ok > 0);
}

/* ------------------------------------------------------------------ */
/* formatting */

static void test_format_ipv4_roundtrip(void **state)
{
	(void)state;
	char s[16];
	const uint32_t ips[] = {0, 0x0a000001u, 0xc0a800c7u, 0xffffffffu, 0x01020304u, 0x7f000001u};
	const char *want[] = {"0.0.0.0", "10.0.0.1", "192.168.0.199", "255.255.255.255",
			      "1.2.3.4", "127.0.0.1"};
	for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
		memset(s, 'x', sizeof(s));
		ipv4_to_str(ips[i], s);
		assert_string_equal(s, want[i]);
		uint32_t back = 0x5a5a5a5a;
		assert_int_equal(ipv4_from_str(s, &back), 0);
		assert_int_equal(back, ips[i]);
	}
	uint32_t rng = 99;
	for (int i = 0; i < 1000; i++) {
		uint32_t ip = xorshift32(&rng), back = 0;
		ipv4_to_str(ip, s);
		assert_int_equal(ipv4_from_str(s, &back), 0);
		assert_int_equal(back, ip);
	}
}

static void test_format_ipv4_rejects_garbage(void **state)
{
	(void)state;
	const char *bad[] = {"1.2.3", "256.1.1.1", "1.2.3.4x", "", "1.2.3.4.5", "1..2.3",
			     ".1.2.3", "1.2.3.", "a.b.c.d", " 1.2.3.4", "1.2.3.4 ", "-1.2.3.4",
			     "1.2.3.1000", "01.2.3.4", "1.2.3.+4", "4294967297.0.0.1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t ip = 0x12345678;
		assert_int_equal(ipv4_from_str(bad[i], &ip), -1);
		assert_int_equal(ip, 0x12345678); /* untouched on failure */
	}
	uint32_t ip;
	assert_int_equal(ipv4_from_str(NULL, &ip), -1);
	assert_int_equal(ipv4_from_str("0.0.0.0", &ip), 0);
	assert_int_equal(ip, 0);
}

static void test_format_mac(void **state)
{
	(void)state;
	char s[18];
	const uint8_t m[6] = {0xaa, 0xbb, 0xcc, 0x0d, 0xe0, 0xff};
	memset(s, 'x', sizeof(s));
	mac_to_str(m, s);
	assert_string_equal(s, "aa:bb:cc:0d:e0:ff");
	uint8_t back[6] = {0};
	assert_int_equal(mac_from_str(s, back), 0);
	assert_memory_equal(back, m, 6);
	assert_int_equal(mac_from_str("AA:BB:CC:0D:E0:FF", back), 0);
	assert_memory_equal(back, m, 6);

	const char *bad[] = {"", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff:", "aa:bb:cc:dd:ee:fg",
			     "aa-bb-cc-dd-ee-ff", "aabb.ccdd.eeff", "a:bb:cc:dd:ee:ff",
			     "aa:bb:cc:dd:ee:f", "aa:bb:cc:dd:ee:ff0", " aa:bb:cc:dd:ee:ff",
			     "aa:bb:cc:dd:ee:ff "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t out[6] = {1, 2, 3, 4, 5, 6};
		const uint8_t orig[6] = {1, 2, 3, 4, 5, 6};
		assert_int_equal(mac_from_str(bad[i], out), -1);
		assert_memory_equal(out, orig, 6);
	}
	assert_int_equal(mac_from_str(NULL, back), -1);
}

static void test_proto_err_names(void **state)
{
	(void)state;
	assert_string_equal(proto_err_name(PROTO_OK), "PROTO_OK");
	assert_string_equal(proto_err_name(PROTO_ETRUNC), "PROTO_ETRUNC");
	assert_string_equal(proto_err_name(PROTO_EVERSION), "PROTO_EVERSION");
	assert_string_equal(proto_err_name(PROTO_ECHECKSUM), "PROTO_ECHECKSUM");
	assert_string_equal(proto_err_name(PROTO_EOPTION), "PROTO_EOPTION");
	assert_string_equal(proto_err_name(PROTO_EUNSUPPORTED), "PROTO_EUNSUPPORTED");
	assert_string_equal(proto_err_name(PROTO_ELENGTH), "PROTO_ELENGTH");
	assert_string_equal(proto_err_name(PROTO_ENOSPACE), "PROTO_ENOSPACE");
	assert_non_null(proto_err_name(-42));
	assert_string_not_equal(proto_err_name(-42), "PROTO_OK");
	assert_non_null(proto_err_name(7));
}

/* ------------------------------------------------------------------ */
/* tcp4_parse_fast against the layered parsers */

/* The layered parse as fp_rx_frame does it for a TCP segment to us. */
static bool layered_tcp4(const uint8_t *frame, size_t len, const uint8_t mac[6], uint32_t our_ip, bool ip_hw,
			 struct ipv4_view *ip, struct tcp_view *tcp)
{
	struct eth_hdr_view eth;
	if (eth_parse(frame, len, &eth) < 0 || memcmp(eth.dst, mac, 6) != 0 || eth.ethertype != ETH_TYPE_IPV4)
		return false;
	if (ipv4_parse_hw(frame + ETH_HDR_BYTES, len - ETH_HDR_BYTES, ip_hw, ip) < 0 || ip->dst != our_ip ||
	    ip->proto != IPV4_PROTO_TCP)
		return false;
	return tcp_parse(ip->payload, ip->payload_len, ip->src, ip->dst, false, tcp) == PROTO_OK;
}

static void assert_views_equal(const struct ipv4_view *a, const struct ipv4_view *b, const struct tcp_view *ta,
			       const struct tcp_view *tb)
{
	assert_int_equal(a->ihl_bytes, b->ihl_bytes);
	assert_int_equal(a->tos, b->tos);
	assert_int_equal(a->total_len, b->total_len);
	assert_int_equal(a->id, b->id);
	assert_int_equal(a->ttl, b->ttl);
	assert_int_equal(a->proto, b->proto);
	assert_int_equal(a->src, b->src);
	assert_int_equal(a->dst, b->dst);
	assert_ptr_equal(a->payload, b->payload);
	assert_int_equal(a->payload_len, b->payload_len);
	assert_int_equal(ta->sport, tb->sport);
	assert_int_equal(ta->dport, tb->dport);
	assert_int_equal(ta->seq, tb->seq);
	assert_int_equal(ta->ack, tb->ack);
	assert_int_equal(ta->hdr_bytes, tb->hdr_bytes);
	assert_int_equal(ta->flags, tb->flags);
	assert_int_equal(ta->window, tb->window);
	assert_int_equal(ta->urg, tb->urg);
	assert_ptr_equal(ta->payload, tb->payload);
	assert_int_equal(ta->payload_len, tb->payload_len);
	const struct tcp_opts *oa = &ta->opts, *ob = &tb->opts;
	assert_int_equal(oa->has_mss, ob->has_mss);
	assert_int_equal(oa->mss, ob->mss);
	assert_int_equal(oa->has_wscale, ob->has_wscale);
	assert_int_equal(oa->wscale, ob->wscale);
	assert_int_equal(oa->has_ts, ob->has_ts);
	assert_int_equal(oa->ts_val, ob->ts_val);
	assert_int_equal(oa->ts_ecr, ob->ts_ecr);
	assert_int_equal(oa->sack_permitted, ob->sack_permitted);
	assert_int_equal(oa->sack_count, ob->sack_count);
}

/* Frames of every option shape, then mutated at random bytes of their
 * headers (and cut short or padded): wherever the one-pass parse accepts
 * a frame, the layered parsers accept it with the same views; and the
 * plain and timestamp-only shapes, unmutated, are accepted (else the fast
 * path would never run). */
static void test_tcp4_fast_matches_layers(void **state)
{
	(void)state;
	const uint32_t our_ip = IP_B;
	uint8_t payload[64], frame[256];
	uint32_t seed = 0xfa57u;
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)xorshift32(&seed);
	unsigned accepted = 0, shapes_accepted = 0;
	for (int round = 0; round < 40000; round++) {
		int shape = round % 5; /* none, TS, MSS (SYN), TS + SACK, TS in another layout */
		struct tcp_opts o = {0};
		uint8_t flags = TCP_ACK;
		uint8_t layout = TCP_LAYOUT_LINUX;
		if (shape == 1 || shape == 3 || shape == 4) {
			o.has_ts = true;
			o.ts_val = xorshift32(&seed);
			o.ts_ecr = xorshift32(&seed);
		}
		if (shape == 2) {
			o.has_mss = true;
			o.mss = 1460;
			flags = TCP_SYN;
		}
		if (shape == 3) {
			o.sack_count = 1;
			o.sack[0].start = 5;
			o.sack[0].end = 9;
		}
		if (shape == 4)
			layout = TCP_LAYOUT_FREEBSD;
		struct tcp_frame_args a = {
			.src_mac = MAC_A, .dst_mac = MAC_B, .src_ip = IP_A, .dst_ip = our_ip,
			.ip_id = (uint16_t)round,
			.tcp = {.sport = 1234, .dport = 80, .seq = xorshift32(&seed), .ack = xorshift32(&seed),
				.flags = flags, .layout = layout, .window = 512, .opts = &o},
			.payload = payload, .payload_len = (uint16_t)(xorshift32(&seed) % sizeof(payload)),
		};
		int n = tcp_frame_build(frame, sizeof(frame), &a);
		assert_true(n > 0);
		size_t len = (size_t)n;
		bool mutated = round >= 5;
		if (mutated) {
			int flips = 1 + (int)(xorshift32(&seed) % 3);
			for (int k = 0; k < flips; k++) {
				size_t at = xorshift32(&seed) % 80;
				frame[at] = (xorshift32(&seed) & 1) ? (uint8_t)xorshift32(&seed) : (uint8_t)(frame[at] ^ 0x40);
			}
			uint32_t cut = xorshift32(&seed) % 8;
			if (cut == 0)
				len = xorshift32(&seed) % len;
			else if (cut == 1 && len + 16 <= sizeof(frame))
				len += 16;
		}
		bool ip_hw = (round & 8) != 0;
		struct ipv4_view ip_f, ip_l;
		struct tcp_view t_f, t_l;
		bool fast = tcp4_parse_fast(frame, len, MAC_B, our_ip, ip_hw, &ip_f, &t_f);
		bool layered = layered_tcp4(frame, len, MAC_B, our_ip, ip_hw, &ip_l, &t_l);
		if (!mutated && (shape == 0 || shape == 1))
			shapes_accepted += fast;
		if (!fast)
			continue;
		accepted++;
		if (!layered)
			fail_msg("round %d: the fast parse took a frame the layered parsers refuse", round);
		assert_views_equal(&ip_f, &ip_l, &t_f, &t_l);
	}
	assert_int_equal(shapes_accepted, 2);
	assert_true(accepted > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checksum_long_buffers),
		cmocka_unit_test(test_checksum_rfc1071_example),
		cmocka_unit_test(test_checksum_fast_matches_reference),
		cmocka_unit_test(test_tcp_frame_build_checksum_offload),
		cmocka_unit_test(test_checksum_known_ipv4_header),
		cmocka_unit_test(test_checksum_odd_length),
		cmocka_unit_test(test_tcp_pseudo_sum_value),
		cmocka_unit_test(test_seq_compare_wraparound),
		cmocka_unit_test(test_seq_in_window_wraparound),
		cmocka_unit_test(test_eth_build_parse_roundtrip),
		cmocka_unit_test(test_eth_truncated),
		cmocka_unit_test(test_arp_request_roundtrip),
		cmocka_unit_test(test_arp_reply_roundtrip),
		cmocka_unit_test(test_arp_malformed),
		cmocka_unit_test(test_ipv4_roundtrip),
		cmocka_unit_test(test_ipv4_with_options),
		cmocka_unit_test(test_ipv4_truncated),
		cmocka_unit_test(test_ipv4_bad_version),
		cmocka_unit_test(test_ipv4_ihl_below_5),
		cmocka_unit_test(test_ipv4_total_len_inconsistent),
		cmocka_unit_test(test_ipv4_fragment_unsupported),
		cmocka_unit_test(test_ipv4_checksum_byte_flip),
		cmocka_unit_test(test_tcp_options_all_combinations),
		cmocka_unit_test(test_tcp_option_layout),
		cmocka_unit_test(test_tcp_syn_sack_permitted_layout),
		cmocka_unit_test(test_tcp_sack_blocks_fit_and_roundtrip),
		cmocka_unit_test(test_tcp_wscale_clamped),
		cmocka_unit_test(test_tcp_parse_option_variety),
		cmocka_unit_test(test_tcp_option_len_zero),
		cmocka_unit_test(test_tcp_option_len_one),
		cmocka_unit_test(test_tcp_option_past_header),
		cmocka_unit_test(test_tcp_option_mss_len5),
		cmocka_unit_test(test_tcp_option_ts_len9),
		cmocka_unit_test(test_tcp_truncated),
		cmocka_unit_test(test_tcp_data_offset_below_5),
		cmocka_unit_test(test_tcp_data_offset_past_buffer),
		cmocka_unit_test(test_tcp_checksum_byte_flip),
		cmocka_unit_test(test_tcp4_fast_matches_layers),
		cmocka_unit_test(test_tcp_frame_build_padded),
		cmocka_unit_test(test_tcp_frame_build_payload),
		cmocka_unit_test(test_tcp_fill_checksum_matches_manual),
		cmocka_unit_test(test_fuzz_random_buffers),
		cmocka_unit_test(test_fuzz_mutated_frames),
		cmocka_unit_test(test_format_ipv4_roundtrip),
		cmocka_unit_test(test_format_ipv4_rejects_garbage),
		cmocka_unit_test(test_format_mac),
		cmocka_unit_test(test_proto_err_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
