/*
 * test_ctxq_layout: the host<->NIC formats of core/ctxq.h are the same
 * bytes on every build. The host is x86-64, the NIC daemon runs on the
 * BlueField's aarch64 cores: each message and event, filled with distinct
 * field values, must encode to the golden bytes below (little-endian, no
 * padding), and so must the region arithmetic. `make test` runs this
 * binary on the x86 build and, under qemu-aarch64, on the aarch64 build
 * (tests/arm64/run.sh); with CTXQ_LAYOUT_DUMP=FILE it also writes the bytes
 * it produced, and that script checks the two builds' files are identical.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctxq.h"

static FILE *dump;

/* Compares `len` bytes at `got` with the golden ones and, when dumping,
 * writes them as one hex line named `what`. */
static void check_bytes(const char *what, const void *got, const uint8_t *want, size_t len)
{
	const uint8_t *g = got;
	if (dump) {
		fprintf(dump, "%s", what);
		for (size_t i = 0; i < len; i++)
			fprintf(dump, " %02x", g[i]);
		fprintf(dump, "\n");
	}
	for (size_t i = 0; i < len; i++)
		if (g[i] != want[i])
			fail_msg("%s: byte %zu is 0x%02x, the format says 0x%02x", what, i, g[i], want[i]);
}

static struct ctxq_hello sample_hello(void)
{
	struct ctxq_hello h;
	memset(&h, 0, sizeof(h));
	h.type = CTXQ_HELLO;
	h.version = CTXQ_VERSION;
	h.event_entries = 1024;
	h.rx_ring_bytes = 0x10000;
	h.tx_ring_bytes = 0x20000;
	h.max_conns = 64;
	h.doorbell_refresh_us = 1000;
	h.region_addr = 0x00007f1234567000ull;
	h.region_len = 0xc10000ull;
	h.region_rkey = 0xdeadbeefu;
	return h;
}

static void test_hello_bytes(void **state)
{
	(void)state;
	static const uint8_t want[CTXQ_HELLO_BYTES] = {
		0x01, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, /* type version(3) reserved event_entries */
		0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, /* rx_ring_bytes tx_ring_bytes */
		0x40, 0x00, 0x00, 0x00, 0xe8, 0x03, 0x00, 0x00, /* max_conns doorbell_refresh_us */
		0x00, 0x70, 0x56, 0x34, 0x12, 0x7f, 0x00, 0x00, /* region_addr */
		0x00, 0x00, 0xc1, 0x00, 0x00, 0x00, 0x00, 0x00, /* region_len */
		0xef, 0xbe, 0xad, 0xde, 0x00, 0x00, 0x00, 0x00, /* region_rkey reserved3 */
	};
	struct ctxq_hello h = sample_hello();
	check_bytes("hello", &h, want, sizeof(want));
}

static void test_cmd_bytes(void **state)
{
	(void)state;
	static const uint8_t want[CTXQ_CMD_BYTES] = {
		0x05, 0x00, 0x90, 0x1f, 0x02, 0x01, 0x00, 0x00, /* type flags port flow_id */
		0x07, 0x00, 0x00, 0x00, 0x04, 0x03, 0x02, 0x01, /* host_conn ev_consumed */
		0xd0, 0xc0, 0xb0, 0xa0, 0x44, 0x33, 0x22, 0x11, /* arg0 arg1 */
		0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* arg2 arg3 */
	};
	struct ctxq_cmd c;
	memset(&c, 0, sizeof(c));
	c.type = CTXQ_DOORBELL;
	c.port = 8080;
	c.flow_id = 0x102;
	c.host_conn = 7;
	c.ev_consumed = 0x01020304;
	c.arg0 = 0xa0b0c0d0u;
	c.arg1 = 0x11223344;
	c.arg2 = 9;
	check_bytes("cmd", &c, want, sizeof(want));
}

/* A DOORBELL with inline payload: the command, flag bit 3, then the
 * bytes at offset 32 (CTXQ_INLINE_OFF), at most 128 of them. */
static void test_inline_doorbell_bytes(void **state)
{
	(void)state;
	static const uint8_t want[CTXQ_CMD_BYTES + 3] = {
		0x05, 0x08, 0x00, 0x00, 0x02, 0x01, 0x00, 0x00, /* type flags(INLINE) port flow_id */
		0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* host_conn ev_consumed */
		0x43, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* arg0 (TX total, 0x43) arg1 */
		0x01, 0x00, 0x00, 0x00, 0x43, 0x00, 0x00, 0x00, /* arg2 arg3 */
		0xaa, 0xbb, 0xcc,                               /* stream bytes 0x40..0x42 */
	};
	assert_int_equal(CTXQ_INLINE_OFF, 32);
	assert_int_equal(CTXQ_INLINE_MAX_BYTES, 128);
	uint8_t msg[CTXQ_CMD_BYTES + 3];
	struct ctxq_cmd c;
	memset(&c, 0, sizeof(c));
	c.type = CTXQ_DOORBELL;
	c.flags = CTXQ_CMDF_INLINE;
	c.flow_id = 0x102;
	c.host_conn = 7;
	c.arg0 = 0x43;
	c.arg2 = 1;
	c.arg3 = 0x43;
	memcpy(msg, &c, sizeof(c));
	memcpy(msg + CTXQ_INLINE_OFF, "\xaa\xbb\xcc", 3);
	check_bytes("inline doorbell", msg, want, sizeof(want));
	/* An ARM riding on a doorbell: flag 0x10, its sequence's low 16 bits
	 * in port (little-endian at offset 2). */
	static const uint8_t want_arm[8] = {0x05, 0x10, 0x34, 0x12, 0x02, 0x01, 0x00, 0x00};
	c.flags = CTXQ_CMDF_ARM;
	c.port = 0x1234;
	memcpy(msg, &c, sizeof(c));
	check_bytes("doorbell with ARM", msg, want_arm, sizeof(want_arm));
}

static void test_event_bytes(void **state)
{
	(void)state;
	static const uint8_t want[CTXQ_EVENT_BYTES] = {
		0x02, 0x01, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, /* flow_id host_conn */
		0xa8, 0x05, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, /* rx_bytes tx_freed */
		0xfb, 0xff, 0xff, 0xff, 0x02, 0x01, 0x05, 0x00, /* status listener flags */
		0x01, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x02, /* doorbell_seen reserved phase */
	};
	struct ctxq_event e;
	memset(&e, 0, sizeof(e));
	e.flow_id = 0x102;
	e.host_conn = 3;
	e.rx_bytes = 1448;
	e.tx_freed = 0x10000;
	e.status = -5;
	e.listener = 0x102;
	e.flags = CTXQ_EVF_CONNECTED | CTXQ_EVF_FIN;
	e.doorbell_seen = 0x80000001u;
	e.phase = 2;
	check_bytes("event", &e, want, sizeof(want));
}

static void test_wakeup_bytes(void **state)
{
	(void)state;
	static const uint8_t want[12] = {0x40, 0x00, 0x00, 0x00, 0xef, 0xcd, 0xab, 0x00, 0x07, 0x06, 0x05, 0x04};
	struct ctxq_wakeup w;
	memset(&w, 0, sizeof(w));
	w.type = CTXQ_WAKEUP;
	w.ev_produced = 0xabcdef;
	w.arm_seq = 0x04050607;
	assert_int_equal(sizeof(w), 12);
	check_bytes("wakeup", &w, want, sizeof(want));
}

static void test_conn_info_bytes(void **state)
{
	(void)state;
	static const uint8_t want[CTXQ_INFO_BYTES] = {
		0x02, 0x00, 0x0a, 0x0a, 0x01, 0x00, 0x0a, 0x0a, /* local_ip remote_ip (host order) */
		0x07, 0x00, 0x90, 0x1f, 0xa8, 0x05, 0x07, 0x09, /* ports mss snd_wscale rcv_wscale */
		0x02, 0x01, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, /* flow_id options reserved */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	struct ctxq_conn_info ci;
	memset(&ci, 0, sizeof(ci));
	ci.local_ip = 0x0a0a0002;
	ci.remote_ip = 0x0a0a0001;
	ci.local_port = 7;
	ci.remote_port = 8080;
	ci.mss = 1448;
	ci.snd_wscale = 7;
	ci.rcv_wscale = 9;
	ci.flow_id = 0x102;
	ci.options = CTXQ_INFO_TS | CTXQ_INFO_WSCALE | CTXQ_INFO_SACK;
	check_bytes("conn_info", &ci, want, sizeof(want));
}

/* The region arithmetic both sides do: 64-bit on both, whatever the
 * slot count and ring sizes. */
static void test_region_arithmetic(void **state)
{
	(void)state;
	struct ctxq_hello h = sample_hello();
	uint64_t got[4] = {ctxq_rx_ring_off(&h, 3), ctxq_tx_ring_off(&h, 3), ctxq_event_ring_off(&h),
			   ctxq_region_bytes(&h)};
	/* rings, then one 32-byte info entry per slot, then the event ring */
	uint64_t want[4] = {3ull * 0x30000, 3ull * 0x30000 + 0x10000, 64ull * 0x30000 + 64 * 32,
			    64ull * 0x30000 + 64 * 32 + 1024 * 32};
	for (int i = 0; i < 4; i++)
		assert_int_equal(got[i], want[i]);
	/* Past 4 GiB: no 32-bit truncation on either target. */
	h.max_conns = 65536;
	assert_int_equal(ctxq_event_ring_off(&h), 65536ull * 0x30000 + 65536ull * 32);
	uint8_t le[8];
	uint64_t off = ctxq_event_ring_off(&h);
	memcpy(le, &off, sizeof(le));
	static const uint8_t want_le[8] = {0x00, 0x00, 0x20, 0x00, 0x03, 0x00, 0x00, 0x00};
	check_bytes("event_ring_off", le, want_le, sizeof(le));
	/* The lap rule: phase 1 on even laps, 2 on odd ones. */
	assert_int_equal(ctxq_phase_for(0, 1024), 1);
	assert_int_equal(ctxq_phase_for(1023, 1024), 1);
	assert_int_equal(ctxq_phase_for(1024, 1024), 2);
	assert_int_equal(ctxq_phase_for(2048, 1024), 1);
	assert_int_equal(ctxq_phase_for(0xffffffffull * 4, 4), 2);
}

/* What the header states about alignment, checked on this build. */
static void test_alignment(void **state)
{
	(void)state;
	assert_int_equal(_Alignof(struct ctxq_hello), 8);
	assert_int_equal(_Alignof(struct ctxq_cmd), 4);
	assert_int_equal(_Alignof(struct ctxq_event), 4);
	assert_int_equal(_Alignof(struct ctxq_wakeup), 4);
	assert_int_equal(_Alignof(struct ctxq_conn_info), 4);
	/* Events are copied out with memcpy; only `phase` is read in place,
	 * one byte, so any ring offset works. */
	assert_int_equal(offsetof(struct ctxq_event, phase), CTXQ_EVENT_BYTES - 1);
}

int main(void)
{
	const char *path = getenv("CTXQ_LAYOUT_DUMP");
	if (path && !(dump = fopen(path, "w"))) {
		fprintf(stderr, "test_ctxq_layout: cannot write %s\n", path);
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_bytes),     cmocka_unit_test(test_cmd_bytes),
		cmocka_unit_test(test_inline_doorbell_bytes),
		cmocka_unit_test(test_event_bytes),     cmocka_unit_test(test_wakeup_bytes),
		cmocka_unit_test(test_conn_info_bytes),
		cmocka_unit_test(test_region_arithmetic), cmocka_unit_test(test_alignment),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (dump && fclose(dump) != 0) {
		fprintf(stderr, "test_ctxq_layout: cannot write %s\n", path);
		return 1;
	}
	return rc;
}
