/*
 * test_inline: payload carried in the DOORBELL (core/ctxq.h, "Inline
 * payload"). A send of up to CTXQ_INLINE_MAX_BYTES leaves the NIC one
 * channel one-way after bt_send, with no READ of the host's ring; a
 * longer one, or any with the host's inline switched off (the negative
 * control: the behaviour before), is READ, a channel round trip later. A
 * message that breaks the inline rules is refused and counted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/ctxq.h"
#include "core/nic/nic_internal.h"
#include "tests/support/harness.h"

#define CHAN_US 10 /* host <-> NIC one way */

struct sent {
	uint64_t after_ns;         /* bt_send -> the segment at the peer */
	uint64_t reads, inline_segs, inline_doorbells;
};

/* One send of `len` bytes on an open connection; the segment it made is
 * checked byte for byte. */
static struct sent send_once(bool no_inline, uint32_t len)
{
	struct harness_opts o;
	harness_default_opts(&o);
	o.chan_latency_ns = CHAN_US * HARNESS_US;
	o.host.doorbell_no_inline = no_inline;
	struct harness *h = harness_init(&o);
	int conn = harness_active_open(h, 6100, 0x1000, NULL, NULL);
	harness_advance(h, HARNESS_MS);
	harness_drop_frames(h);
	struct shm_link_stats c0;
	shm_link_stats(h->chan, &c0);
	struct nic_stats n0 = harness_stats(h);
	struct bt_host_stats h0 = harness_host_stats(h);
	uint64_t t0 = harness_now(h);
	harness_app_send(h, conn, 0, len);
	assert_true(harness_advance_to_frame(h, 10 * HARNESS_MS));
	struct harness_frame f;
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.payload_len, len);
	uint8_t want[256];
	assert_true(len <= sizeof(want));
	harness_fill(want, len, 0);
	assert_memory_equal(f.tcp.payload, want, len);
	struct shm_link_stats c1;
	shm_link_stats(h->chan, &c1);
	struct sent s = {.after_ns = f.at_ns - t0,
			 .reads = c1.reads - c0.reads,
			 .inline_segs = harness_stats(h).tx_inline_segments - n0.tx_inline_segments,
			 .inline_doorbells = harness_host_stats(h).doorbells_inline - h0.doorbells_inline};
	assert_int_equal(harness_stats(h).cmds_invalid, 0);
	harness_destroy(h);
	return s;
}

static void test_a_small_send_leaves_without_a_read(void **state)
{
	(void)state;
	struct sent s = send_once(false, 64);
	assert_int_equal(s.inline_doorbells, 1);
	assert_int_equal(s.inline_segs, 1);
	assert_int_equal(s.reads, 0);
	/* The doorbell's one-way, no READ round trip behind it. */
	assert_true(s.after_ns < 2 * CHAN_US * HARNESS_US);
	/* The largest inline send too. */
	s = send_once(false, CTXQ_INLINE_MAX_BYTES);
	assert_int_equal(s.inline_segs, 1);
	assert_int_equal(s.reads, 0);
}

/* The negative control: without inline payload the same send waits for
 * its READ (the behaviour before, and what a longer send still does). */
static void test_without_inline_the_send_is_read(void **state)
{
	(void)state;
	struct sent s = send_once(true, 64);
	assert_int_equal(s.inline_doorbells, 0);
	assert_int_equal(s.inline_segs, 0);
	assert_int_equal(s.reads, 1);
	assert_true(s.after_ns >= 2 * CHAN_US * HARNESS_US); /* + the READ */
	s = send_once(false, CTXQ_INLINE_MAX_BYTES + 1);
	assert_int_equal(s.inline_doorbells, 0);
	assert_int_equal(s.inline_segs, 0);
	assert_int_equal(s.reads, 1);
}

/* A retransmission of inline bytes needs no READ either: the bytes of a
 * stream offset never change. */
static void test_a_retransmission_of_inline_bytes(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6101, 0x1000, NULL, NULL);
	harness_advance(h, HARNESS_MS);
	harness_drop_frames(h);
	harness_app_send(h, conn, 0, 64);
	assert_true(harness_advance_to_frame(h, 10 * HARNESS_MS));
	struct harness_frame f;
	harness_expect_tcp(h, &f); /* not acknowledged: lost */
	struct shm_link_stats c0;
	shm_link_stats(h->chan, &c0);
	assert_true(harness_advance_to_frame(h, 5000 * HARNESS_MS));
	struct harness_frame r;
	harness_expect_tcp(h, &r);
	assert_int_equal(r.tcp.seq, f.tcp.seq);
	assert_int_equal(r.tcp.payload_len, 64);
	assert_memory_equal(r.tcp.payload, f.tcp.payload, 64);
	struct shm_link_stats c1;
	shm_link_stats(h->chan, &c1);
	assert_int_equal(c1.reads, c0.reads);
	assert_int_equal(harness_stats(h).tx_inline_segments, 2);
	assert_int_equal(harness_stats(h).tx_retransmits, 1);
	harness_destroy(h);
}

static void post_raw(struct harness *h, const struct ctxq_cmd *cmd, uint32_t extra)
{
	uint8_t msg[CHAN_MSG_MAX_BYTES];
	memset(msg, 0x5a, sizeof(msg));
	memcpy(msg, cmd, sizeof(*cmd));
	assert_int_equal(chan_post_msg(shm_link_end(h->chan, SHM_END_HOST), msg, CTXQ_CMD_BYTES + extra), CHAN_OK);
	harness_advance(h, HARNESS_MS);
}

/* Bad input: bytes after a command other than a flagged DOORBELL, a
 * flagged one with none, or more than the doorbell leaves queued. Each is
 * refused whole (cmds_invalid) and nothing goes on the wire. */
static void test_bad_inline_messages_are_refused(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	harness_active_open(h, 6102, 0x1000, NULL, NULL);
	harness_advance(h, HARNESS_MS);
	harness_drop_frames(h);
	uint32_t fi = flow_lookup(h->nic, HARNESS_NIC_IP, h->peer.nic_port, HARNESS_PEER_IP, h->peer.port);
	assert_int_not_equal(fi, FLOW_NONE);
	const struct flow *fl = &h->nic->flows[fi];
	struct ctxq_cmd db = {.type = CTXQ_DOORBELL, .flow_id = fi, .host_conn = fl->host_slot, .arg2 = 77};
	uint64_t bad0 = harness_stats(h).cmds_invalid;

	db.flags = CTXQ_CMDF_INLINE; /* flagged, no bytes */
	post_raw(h, &db, 0);
	assert_int_equal(harness_stats(h).cmds_invalid, bad0 + 1);
	db.flags = 0; /* bytes, not flagged */
	post_raw(h, &db, 8);
	assert_int_equal(harness_stats(h).cmds_invalid, bad0 + 2);
	struct ctxq_cmd credit = {.type = CTXQ_EV_CREDIT, .flags = CTXQ_CMDF_INLINE};
	post_raw(h, &credit, 8); /* bytes after another command */
	assert_int_equal(harness_stats(h).cmds_invalid, bad0 + 3);
	db.flags = CTXQ_CMDF_INLINE; /* 16 bytes, 8 written: more than queued */
	db.arg0 = fl->host_tx_total + 8;
	post_raw(h, &db, 16);
	assert_int_equal(harness_stats(h).cmds_invalid, bad0 + 4);
	assert_int_equal(fl->host_tx_total, 0);
	assert_int_not_equal(fl->doorbell_seen, 77); /* not applied in part */
	assert_int_equal(harness_pending_frames(h), 0);
	assert_int_equal(harness_stats(h).tx_inline_segments, 0);
	harness_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_small_send_leaves_without_a_read),
		cmocka_unit_test(test_without_inline_the_send_is_read),
		cmocka_unit_test(test_a_retransmission_of_inline_bytes),
		cmocka_unit_test(test_bad_inline_messages_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
