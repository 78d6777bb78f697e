/*
 * test_netif_fault.c: the wire fault wrapper's reordering, frame by frame.
 * reorder= alone holds a frame until after the next one; with depth=N the
 * held frame goes after N later frames (reordering deeper than one frame,
 * which jitter only approximates), and a held frame is never kept once the
 * wire goes quiet.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sim/link.h"
#include "sim/sim.h"
#include "transports/netif_fault.h"

#define FRAMES 12

/* Sends FRAMES frames (byte 14 holds the index) from port 0 one at a time
 * through a wrapper on port 1 that reorders every frame it can, and
 * returns the indexes in the order they came out. */
static int receive_order(uint32_t depth, int *order)
{
	struct sim s;
	sim_init(&s);
	struct sim_link_params lp;
	sim_link_default_params(&lp);
	lp.latency_ns = 1000;
	lp.bandwidth_bps = 0;
	const uint8_t a[6] = {2, 0, 0, 0, 0, 1}, b[6] = {2, 0, 0, 0, 0, 2};
	struct sim_link *l = sim_link_create(&lp, &s.clock, a, b);
	assert_non_null(l);
	struct netif_fault_params fp = {.seed = 7};
	fp.rx.reorder_ppm = NETIF_FAULT_PPM;
	fp.rx.reorder_depth = depth;
	struct netif *rx = netif_fault_create(sim_link_port(l, 1), &fp, &s.clock);
	assert_non_null(rx);
	int got = 0;
	for (int i = 0; i < FRAMES; i++) {
		struct netif_buf *fr = netif_alloc(sim_link_port(l, 0));
		assert_non_null(fr);
		memset(fr->data, 0, 60);
		memcpy(fr->data, b, 6);
		fr->data[14] = (uint8_t)i;
		fr->len = 60;
		assert_int_equal(netif_tx_burst(sim_link_port(l, 0), &fr, 1), 1);
		s.now_ns += 2000; /* delivered, one frame per receive poll */
		struct netif_buf *in[8];
		int n = netif_rx_burst(rx, in, 8);
		for (int k = 0; k < n; k++) {
			order[got++] = in[k]->data[14];
			netif_free(rx, in[k]);
		}
	}
	/* the wire is quiet: whatever is held comes out now */
	s.now_ns += 2000;
	struct netif_buf *in[8];
	int n = netif_rx_burst(rx, in, 8);
	for (int k = 0; k < n; k++) {
		order[got++] = in[k]->data[14];
		netif_free(rx, in[k]);
	}
	struct netif_fault_stats st;
	netif_fault_get_stats(rx, &st);
	assert_true(st.reordered > 0);
	netif_destroy(rx);
	sim_link_destroy(l);
	return got;
}

static void reorder_by_one_frame(void **state)
{
	(void)state;
	int order[FRAMES * 2];
	assert_int_equal(receive_order(0, order), FRAMES);
	/* every frame held, overtaken by the next: 1 0 3 2 5 4 ... */
	const int want[FRAMES] = {1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10};
	assert_memory_equal(order, want, sizeof(want));
}

static void reorder_deeper_than_one_frame(void **state)
{
	(void)state;
	int order[FRAMES * 2];
	assert_int_equal(receive_order(3, order), FRAMES);
	/* frame 0 goes after 1, 2 and 3; then 4 is held behind 5, 6, 7; ... */
	const int want[FRAMES] = {1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8};
	assert_memory_equal(order, want, sizeof(want));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reorder_by_one_frame),
		cmocka_unit_test(reorder_deeper_than_one_frame),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
