/*
 * bench_cg_rx.c: feeds our NIC in-order 1448 B data segments for
 * `make bench-cg`, which runs it under callgrind with
 * --toggle-collect=fp_rx_frame: the instructions of the NIC receive path
 * per data segment (parse, checksum verify, flow lookup, placement into the
 * host's RX ring, the ACK decision), nothing of the peer or the host.
 *
 * One connection is opened through the test harness (tests/support: a
 * scripted peer on a simulated link); callgrind's counters are zeroed once
 * it is established, so the handshake is not counted, and dumped after the
 * last segment. The application reads everything, so the window stays
 * open and every segment takes the in-order path. The harness asserts with
 * cmocka, hence the cmocka wrapper.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <valgrind/callgrind.h>

#include "tests/support/harness.h"

#define SEG_BYTES 1448u
#define PEER_ISN 1000000u

static uint32_t segments = 10000;

static void feed_segments(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.nic.mss = SEG_BYTES;
	o.host.rx_ring_bytes = 1u << 20;
	struct harness *h = harness_init(&o);
	struct harness_syn_opts so;
	harness_default_syn_opts(&so);
	so.mss_val = SEG_BYTES;
	int id = harness_passive_open(h, 7, PEER_ISN, &so, NULL);
	assert_true(id >= 0);
	uint8_t payload[SEG_BYTES], sink[1u << 16];
	for (uint32_t i = 0; i < SEG_BYTES; i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	uint64_t received = 0;
	CALLGRIND_ZERO_STATS;
	for (uint32_t i = 0; i < segments; i++) {
		harness_peer_send(h, TCP_ACK, payload, SEG_BYTES);
		harness_advance(h, 2 * HARNESS_US);
		for (int k = 0; k < 64; k++) {
			ssize_t n = bt_recv(h->host, id, sink, sizeof(sink));
			if (n <= 0)
				break;
			received += (uint64_t)n;
		}
		harness_drop_frames(h); /* the NIC's ACKs: nobody needs them */
	}
	CALLGRIND_DUMP_STATS_AT("segments");
	/* Everything must have taken the in-order path and reached the app. */
	harness_advance(h, 1000 * HARNESS_US);
	for (int k = 0; k < 1024; k++) {
		ssize_t n = bt_recv(h->host, id, sink, sizeof(sink));
		if (n <= 0)
			break;
		received += (uint64_t)n;
	}
	assert_int_equal(received, (uint64_t)segments * SEG_BYTES);
	printf("bench_cg_rx segments=%u segment_bytes=%u\n", segments, SEG_BYTES);
	harness_destroy(h);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		char *end;
		unsigned long v = strtoul(argv[1], &end, 10);
		if (argv[1][0] == '-' || *end || v == 0 || v > 10000000) {
			fprintf(stderr, "usage: bench_cg_rx [SEGMENTS]   (1..10000000, default 10000)\n"
					"  run it under callgrind --toggle-collect=fp_rx_frame (make bench-cg)\n");
			return 2;
		}
		segments = (uint32_t)v;
	}
	const struct CMUnitTest t[] = {cmocka_unit_test(feed_segments)};
	return cmocka_run_group_tests(t, NULL, NULL);
}
