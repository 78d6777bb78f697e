/*
 * test_echo.c: two whole stacks in the simulator, end to end. Every test
 * checks the echo byte for byte (the client compares each received byte
 * with the seeded pattern) and the exact byte count.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/testbed.h"

static void run_ok(const struct testbed_config *cfg, struct testbed_result *r)
{
	char err[256] = "";
	int rc = testbed_run(cfg, r, err, sizeof(err));
	if (rc != 0)
		fail_msg("setup failed: %s", err);
	if (!r->passed)
		fail_msg("run failed: %s", r->failure);
	assert_int_equal(r->client.mismatched_bytes, 0);
	assert_int_equal(r->client.first_error, 0);
	assert_true(r->client.bytes_received == r->expected_bytes);
	assert_true(r->expected_bytes > 0);
}

static void echo_size(uint64_t msg_bytes, uint64_t messages)
{
	struct testbed_config cfg;
	testbed_default_config(&cfg);
	cfg.msg_bytes = msg_bytes;
	cfg.messages = messages;
	struct testbed_result r;
	run_ok(&cfg, &r);
	assert_int_equal(r.client.messages_done, messages);
	assert_true(r.client.bytes_received == msg_bytes * messages);
	testbed_result_free(&r);
}

static void test_echo_1_byte(void **state)
{
	(void)state;
	echo_size(1, 50);
}

static void test_echo_one_full_segment(void **state)
{
	(void)state;
	echo_size(1448, 20);
}

static void test_echo_one_byte_past_a_segment(void **state)
{
	(void)state;
	echo_size(1449, 20);
}

static void test_echo_64k(void **state)
{
	(void)state;
	echo_size(64 * 1024, 4);
}

static void test_echo_16m(void **state)
{
	(void)state;
	echo_size(16u << 20, 1);
}

static void test_echo_mss_536_and_jumbo(void **state)
{
	(void)state;
	uint16_t mss[] = {536, 8960};
	for (int i = 0; i < 2; i++) {
		struct testbed_config cfg;
		testbed_default_config(&cfg);
		cfg.mss = mss[i];
		cfg.msg_bytes = 300 * 1000;
		cfg.messages = 2;
		struct testbed_result r;
		run_ok(&cfg, &r);
		testbed_result_free(&r);
	}
}

static void test_echo_through_4k_rings(void **state)
{
	(void)state;
	struct testbed_config cfg;
	testbed_default_config(&cfg);
	cfg.host.rx_ring_bytes = cfg.host.tx_ring_bytes = 4096;
	cfg.msg_bytes = 1u << 20; /* 256 times the ring */
	cfg.messages = 1;
	struct testbed_result r;
	run_ok(&cfg, &r);
	testbed_result_free(&r);
}

static void test_100_concurrent_connections(void **state)
{
	(void)state;
	struct testbed_config cfg;
	testbed_default_config(&cfg);
	cfg.conns = 100;
	cfg.server_backlog = 100;
	cfg.msg_bytes = 2000;
	cfg.messages = 5;
	cfg.host.rx_ring_bytes = cfg.host.tx_ring_bytes = 16384;
	struct testbed_result r;
	run_ok(&cfg, &r);
	assert_int_equal(r.client.conns_opened, 100);
	assert_int_equal(r.server.accepted, 100);
	assert_true(r.nic_server.flows_max_seen >= 100);
	testbed_result_free(&r);
}

static void test_1000_open_close_cycles_leave_nothing_behind(void **state)
{
	(void)state;
	struct testbed_config cfg;
	testbed_default_config(&cfg);
	cfg.conns = 10;
	cfg.cycles = 100;
	cfg.messages = 1;
	cfg.msg_bytes = 64;
	cfg.server_backlog = 16;
	cfg.host.rx_ring_bytes = cfg.host.tx_ring_bytes = 4096;
	cfg.wait_quiesce = true;
	struct testbed_result r;
	run_ok(&cfg, &r);
	assert_int_equal(r.client.conns_opened, 1000);
	assert_int_equal(r.client.conns_closed, 1000);
	assert_int_equal(r.server.accepted, 1000);
	assert_int_equal(r.server.closed, 1000);
	/* Nothing leaks: every NIC flow returned, every host slot back
	 * (the server keeps exactly its listener's accept slots). */
	assert_int_equal(r.nic_client.flows_active, 0);
	assert_int_equal(r.nic_server.flows_active, 0);
	assert_int_equal(r.host_conns_left_client, 0);
	assert_int_equal(r.host_conns_left_server, cfg.server_backlog);
	assert_int_equal(r.nic_client.conns_reset + r.nic_server.conns_reset, 0);
	testbed_result_free(&r);
}

static void test_ecn_marking_drives_dctcp(void **state)
{
	(void)state;
	struct testbed_config cfg;
	testbed_default_config(&cfg);
	cfg.link.bandwidth_bps = 1000000000ull;
	cfg.link.ecn_mark_bytes = 30000;
	cfg.msg_bytes = 4u << 20;
	cfg.messages = 1;
	cfg.conns = 4;
	struct testbed_result r;
	run_ok(&cfg, &r);
	assert_true(r.wire_to_server.ecn_marked + r.wire_to_client.ecn_marked > 0);
	assert_true(r.nic_client.ecn_ece_acked_bytes + r.nic_server.ecn_ece_acked_bytes > 0);
	assert_true(r.nic_server.ecn_ce_received + r.nic_client.ecn_ce_received > 0);
	testbed_result_free(&r);
}

static void test_queue_drops_are_repaired(void **state)
{
	(void)state;
	struct testbed_config cfg;
	testbed_default_config(&cfg);
	cfg.ecn = false;
	cfg.link.bandwidth_bps = 1000000000ull;
	cfg.link.queue_limit_bytes = 20000; /* slow start overruns this */
	cfg.msg_bytes = 2u << 20;
	cfg.messages = 1;
	cfg.conns = 3;
	struct testbed_result r;
	run_ok(&cfg, &r);
	assert_true(r.wire_to_server.dropped_queue + r.wire_to_client.dropped_queue > 0);
	assert_true(r.nic_client.tx_retransmits + r.nic_server.tx_retransmits > 0);
	testbed_result_free(&r);
}

static void capture(uint64_t seed, const char *path)
{
	struct testbed_config cfg;
	testbed_default_config(&cfg);
	cfg.seed = seed;
	cfg.conns = 3;
	cfg.msg_bytes = 20000;
	cfg.messages = 3;
	cfg.link.bandwidth_bps = 1000000000ull;
	cfg.link.queue_limit_bytes = 16000; /* drops and retransmissions too */
	cfg.pcap_path = path;
	struct testbed_result r;
	run_ok(&cfg, &r);
	testbed_result_free(&r);
}

static void test_same_seed_same_pcap_bytes(void **state)
{
	(void)state;
	char a[64], b[64], c[64];
	snprintf(a, sizeof(a), "/tmp/bt_det_a_%d.pcap", (int)getpid());
	snprintf(b, sizeof(b), "/tmp/bt_det_b_%d.pcap", (int)getpid());
	snprintf(c, sizeof(c), "/tmp/bt_det_c_%d.pcap", (int)getpid());
	capture(7, a);
	capture(7, b);
	capture(8, c);
	size_t la, lb, lc;
	char *da = test_read_file(a, &la), *db = test_read_file(b, &lb), *dc = test_read_file(c, &lc);
	assert_non_null(da);
	assert_non_null(db);
	assert_non_null(dc);
	assert_true(la > 24 + 1000); /* header plus real traffic */
	assert_int_equal(la, lb);
	assert_memory_equal(da, db, la);
	assert_true(la != lc || memcmp(da, dc, la) != 0);
	free(da);
	free(db);
	free(dc);
	unlink(a);
	unlink(b);
	unlink(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_1_byte),
		cmocka_unit_test(test_echo_one_full_segment),
		cmocka_unit_test(test_echo_one_byte_past_a_segment),
		cmocka_unit_test(test_echo_64k),
		cmocka_unit_test(test_echo_16m),
		cmocka_unit_test(test_echo_mss_536_and_jumbo),
		cmocka_unit_test(test_echo_through_4k_rings),
		cmocka_unit_test(test_100_concurrent_connections),
		cmocka_unit_test(test_1000_open_close_cycles_leave_nothing_behind),
		cmocka_unit_test(test_ecn_marking_drives_dctcp),
		cmocka_unit_test(test_queue_drops_are_repaired),
		cmocka_unit_test(test_same_seed_same_pcap_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
