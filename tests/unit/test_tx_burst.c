/*
 * test_tx_burst: one READ per burst of segments (core/nic/fp_tx.c,
 * tx_burst). The segments one transmit pass sends from contiguous ring
 * and staging bytes share one READ of the host's TX ring; their frames
 * leave in order, byte for byte the stream, PSH on the last only. A
 * burst across the ring's end is one burst of two READ pieces. Before,
 * every segment had a READ of its own (5 and 5 here).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/nic/nic_internal.h"
#include "tests/support/harness.h"

#define MSS_MAX 1460u

/* Pops `count` frames and checks them against the stream from
 * stream_off: in sequence, each full but the last, PSH on the last. */
static void expect_burst(struct harness *h, uint32_t mss, uint32_t stream_off, uint32_t len, uint32_t count)
{
	uint8_t want[MSS_MAX];
	uint32_t off = 0;
	for (uint32_t i = 0; i < count; i++) {
		struct harness_frame f;
		harness_expect_tcp(h, &f);
		uint32_t n = len - off < mss ? len - off : mss;
		assert_int_equal(f.tcp.payload_len, n);
		harness_fill(want, n, stream_off + off);
		assert_memory_equal(f.tcp.payload, want, n);
		bool last = i + 1 == count;
		assert_int_equal((f.tcp.flags & TCP_PSH) != 0, last);
		off += n;
	}
	assert_int_equal(off, len);
}

/* The flow's MSS (1460 less the timestamp option). */
static uint32_t flow_mss(struct harness *h)
{
	uint32_t fi = flow_lookup(h->nic, HARNESS_NIC_IP, h->peer.nic_port, HARNESS_PEER_IP, h->peer.port);
	assert_int_not_equal(fi, FLOW_NONE);
	return h->nic->flows[fi].mss;
}

static uint64_t reads_now(struct harness *h)
{
	struct shm_link_stats c;
	shm_link_stats(h->chan, &c);
	return c.reads;
}

static void test_a_send_of_five_segments_is_one_read(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6200, 0x1000, NULL, NULL);
	harness_advance(h, HARNESS_MS);
	harness_drop_frames(h);
	uint64_t r0 = reads_now(h);
	uint64_t s0 = harness_stats(h).tx_segments;
	uint32_t mss = flow_mss(h);
	uint32_t len = 4 * mss + 100;
	harness_app_send(h, conn, 0, len);
	harness_advance(h, HARNESS_MS);
	assert_int_equal(harness_stats(h).tx_segments - s0, 5);
	assert_int_equal(reads_now(h) - r0, 1);
	expect_burst(h, mss, 0, len, 5);
	harness_destroy(h);
}

/* The ring's end inside a burst: two READ pieces (dma_ring_post), one
 * burst, the bytes across the wrap exact. */
static void test_a_burst_across_the_ring_end(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.host.tx_ring_bytes = 8192;
	struct harness *h = harness_init(&o);
	int conn = harness_active_open(h, 6201, 0x1000, NULL, NULL);
	harness_advance(h, HARNESS_MS);
	harness_drop_frames(h);
	uint32_t mss = flow_mss(h);
	uint32_t first = 3000;
	harness_app_send(h, conn, 0, first);
	harness_advance(h, HARNESS_MS);
	expect_burst(h, mss, 0, first, 3);
	harness_peer_send(h, TCP_ACK, NULL, 0); /* frees the ring */
	harness_advance(h, HARNESS_MS);
	uint64_t r0 = reads_now(h);
	uint32_t len = 6000; /* ring bytes 3000..8191, then 0..807 */
	harness_app_send(h, conn, first, len);
	harness_advance(h, HARNESS_MS);
	assert_int_equal(reads_now(h) - r0, 2);
	expect_burst(h, mss, first, len, 5);
	harness_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_send_of_five_segments_is_one_read),
		cmocka_unit_test(test_a_burst_across_the_ring_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
