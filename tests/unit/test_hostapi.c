/*
 * test_hostapi: the socket semantics of the host API (bluetas.h, "socket
 * semantics"): addresses, shutdown of either direction, abort, closing a
 * listener, per-connection options and poll readiness, each checked on
 * the wire against a scripted peer (tests/support/harness.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/nic/nic_internal.h"
#include "tests/support/harness.h"

#define PORT 80

static uint8_t ctl(const struct harness_frame *f)
{
	return f->tcp.flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_ACK);
}

/* ---------- addresses ---------- */

static void test_addresses_of_accepted_and_connected(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct bt_addr local, peer;
	int c1 = harness_passive_open(h, PORT, 1000, NULL, NULL);
	assert_int_equal(bt_conn_addrs(h->host, c1, &local, &peer), BT_OK);
	assert_int_equal(local.ip, HARNESS_NIC_IP);
	assert_int_equal(local.port, PORT);
	assert_int_equal(peer.ip, HARNESS_PEER_IP);
	assert_int_equal(peer.port, h->peer.port);
	assert_int_equal(bt_conn_addrs(h->host, h->listener, &local, NULL), BT_OK);
	assert_int_equal(local.port, PORT);
	assert_int_equal(bt_conn_addrs(h->host, h->listener, NULL, &peer), BT_ENOTCONN);

	/* Active open: the local port is the one the NIC picked for the SYN,
	 * and there is none to tell before the connection is open. */
	int c2 = bt_connect(h->host, HARNESS_PEER_IP, 7070);
	assert_true(c2 >= 0);
	assert_int_equal(bt_conn_addrs(h->host, c2, &local, &peer), BT_ENOTCONN);
	harness_advance(h, 0);
	assert_int_equal(bt_close(h->host, c2), BT_OK);
	harness_advance(h, 0);
	harness_drop_frames(h);
	int c3 = harness_active_open(h, 7071, 5000, NULL, NULL);
	assert_int_equal(bt_conn_addrs(h->host, c3, &local, &peer), BT_OK);
	assert_int_equal(local.ip, HARNESS_NIC_IP);
	assert_int_equal(local.port, h->peer.nic_port);
	assert_true(local.port >= 49152);
	assert_int_equal(peer.ip, HARNESS_PEER_IP);
	assert_int_equal(peer.port, 7071);
	assert_int_equal(bt_conn_addrs(h->host, 12345, &local, &peer), BT_EINVAL);
	harness_destroy(h);
}

/* bind before connect: the SYN leaves from the port asked for; the same
 * 4-tuple again is refused with BT_EADDRINUSE, port 0 with BT_EINVAL. */
static void test_connect_from_a_chosen_port(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	assert_int_equal(bt_connect_from(h->host, 0, HARNESS_PEER_IP, 7072, NULL), BT_EINVAL);
	int c1 = bt_connect_from(h->host, 5001, HARNESS_PEER_IP, 7072, NULL);
	assert_true(c1 >= 0);
	harness_advance(h, 0);
	struct harness_frame f;
	assert_int_equal(harness_expect_frame(h, &f), 1);
	assert_true(f.is_tcp);
	assert_int_equal(ctl(&f), TCP_SYN);
	assert_int_equal(f.tcp.sport, 5001);
	assert_int_equal(f.tcp.dport, 7072);
	int c2 = bt_connect_from(h->host, 5001, HARNESS_PEER_IP, 7072, NULL);
	assert_true(c2 >= 0);
	harness_advance(h, 0);
	assert_true(harness_take_flags(h, c2) & BT_EV_ERROR);
	assert_int_equal(harness_conn_err(h, c2), BT_EADDRINUSE);
	assert_int_equal(harness_pending_frames(h), 0); /* no second SYN */
	/* Another remote port is another 4-tuple. */
	int c3 = bt_connect_from(h->host, 5001, HARNESS_PEER_IP, 7073, NULL);
	assert_true(c3 >= 0);
	harness_advance(h, 0);
	assert_int_equal(harness_expect_frame(h, &f), 1);
	assert_int_equal(f.tcp.sport, 5001);
	assert_int_equal(f.tcp.dport, 7073);
	harness_destroy(h);
}

/* ---------- shutdown ---------- */

static void test_shutdown_wr_fin_after_data_then_keeps_reading(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6000, 0x1000, NULL, NULL);
	struct harness_frame f;
	harness_app_send(h, conn, 0, 3000);
	assert_int_equal(bt_shutdown(h->host, conn, BT_SHUT_WR), BT_OK);
	assert_int_equal(bt_send(h->host, conn, "x", 1), BT_EPIPE);
	harness_advance(h, 0);
	uint32_t got = 0;
	bool fin = false;
	while (!fin && harness_expect_frame(h, &f)) {
		harness_peer_absorb(h, &f);
		got += f.tcp.payload_len;
		fin = f.tcp.flags & TCP_FIN;
		if (fin)
			assert_int_equal(f.tcp.seq + f.tcp.payload_len, h->peer.nic_iss + 1 + 3000);
	}
	assert_true(fin);
	assert_int_equal(got, 3000);
	harness_peer_ack(h);
	harness_advance(h, 0);
	assert_int_equal(harness_tcp_state(h), TCP_FIN_WAIT_2);
	/* Half-closed: the peer still sends, the application still reads,
	 * and no FIN_WAIT_2 timer runs for a socket that is not orphaned. */
	harness_peer_send(h, TCP_ACK, "hello", 5);
	harness_advance(h, 0);
	char buf[16];
	bool eof;
	assert_int_equal(harness_app_read(h, conn, buf, sizeof(buf), &eof), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_false(eof);
	assert_int_equal(harness_stats(h).conns_reset, 0);
	harness_advance(h, 2 * h->opts.nic.fin_wait2_ns);
	assert_int_equal(harness_tcp_state(h), TCP_FIN_WAIT_2);
	harness_drop_frames(h);
	harness_peer_send(h, TCP_FIN, NULL, 0);
	harness_advance(h, 0);
	assert_int_equal(harness_tcp_state(h), TCP_TIME_WAIT);
	assert_int_equal(harness_app_read(h, conn, buf, sizeof(buf), &eof), 0);
	assert_true(eof);
	assert_int_equal(bt_readiness(h->host, conn) & (BT_READY_HUP | BT_READY_RDHUP | BT_READY_IN),
			 BT_READY_HUP | BT_READY_RDHUP | BT_READY_IN);
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	harness_advance(h, 0);
	assert_int_equal(harness_host_stats(h).conns_in_use, 0);
	harness_destroy(h);
}

static void test_shutdown_wr_then_close_releases_and_orphan_timer_runs(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6001, 0x1000, NULL, NULL);
	struct harness_frame f;
	assert_int_equal(bt_shutdown(h->host, conn, BT_SHUT_WR), BT_OK);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_int_equal(ctl(&f), TCP_FIN | TCP_ACK);
	harness_peer_ack(h);
	harness_advance(h, 0);
	assert_int_equal(harness_tcp_state(h), TCP_FIN_WAIT_2);
	assert_int_equal(harness_host_stats(h).conns_in_use, 1);
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	harness_advance(h, 0);
	assert_int_equal(harness_host_stats(h).conns_in_use, 0); /* released at once */
	assert_int_equal(harness_pending_frames(h), 0);          /* no second FIN */
	harness_advance(h, h->opts.nic.fin_wait2_ns);
	assert_int_equal(harness_tcp_state(h), -1);
	harness_destroy(h);
}

static void test_shutdown_rd_ends_the_stream_when_drained(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6002, 0x1000, NULL, NULL);
	struct harness_frame f;
	uint8_t data[1000];
	harness_fill(data, sizeof(data), 0);
	char buf[2000];
	assert_int_equal(bt_recv(h->host, conn, buf, sizeof(buf)), BT_EAGAIN);
	assert_int_equal(bt_shutdown(h->host, conn, BT_SHUT_RD), BT_OK);
	/* Nothing buffered: end of stream instead of EAGAIN. */
	assert_int_equal(bt_recv(h->host, conn, buf, sizeof(buf)), 0);
	assert_true(bt_readiness(h->host, conn) & BT_READY_RDHUP);
	assert_true(bt_readiness(h->host, conn) & BT_READY_IN);
	/* Bytes that arrive are still delivered, as Linux does. */
	harness_peer_send(h, TCP_ACK, data, sizeof(data));
	harness_advance(h, HARNESS_MS);
	assert_int_equal(bt_recv(h->host, conn, buf, sizeof(buf)), 1000);
	assert_memory_equal(buf, data, 1000);
	assert_int_equal(bt_recv(h->host, conn, buf, sizeof(buf)), 0);
	assert_int_equal(harness_stats(h).conns_reset, 0);
	/* The sending side still works. */
	harness_drop_frames(h);
	harness_app_send_expect(h, conn, 0, 10, &f);
	assert_int_equal(f.tcp.payload_len, 10);
	harness_destroy(h);
}

/* recv(MSG_PEEK): the bytes stay buffered (no ring space freed, so no
 * window update), and the next bt_recv returns the same bytes. */
static void test_peek_leaves_the_bytes_buffered(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6003, 0x1000, NULL, NULL);
	uint8_t data[1000];
	harness_fill(data, sizeof(data), 7);
	char buf[2000];
	assert_int_equal(bt_peek(h->host, conn, buf, sizeof(buf)), BT_EAGAIN);
	harness_peer_send(h, TCP_ACK, data, sizeof(data));
	harness_advance(h, HARNESS_MS);
	harness_drop_frames(h);
	assert_int_equal(bt_peek(h->host, conn, buf, 10), 10);
	assert_memory_equal(buf, data, 10);
	assert_int_equal(bt_peek(h->host, conn, buf, sizeof(buf)), 1000);
	assert_memory_equal(buf, data, 1000);
	assert_int_equal(bt_rx_ready(h->host, conn), 1000);
	harness_advance(h, HARNESS_MS);
	struct harness_frame f;
	assert_false(harness_expect_frame(h, &f)); /* nothing freed, nothing to announce */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(bt_recv(h->host, conn, buf, sizeof(buf)), 1000);
	assert_memory_equal(buf, data, 1000);
	assert_int_equal(bt_peek(h->host, conn, buf, sizeof(buf)), BT_EAGAIN);
	harness_destroy(h);
}

/* An RPC turn: the reply read to the end, then the next request sent.
 * The drained read's doorbell is owed until the send, so one DOORBELL
 * carries both (one NIC command and one confirming event, not two), and
 * the NIC still learns every freed byte. A drained read that no send
 * follows is posted by bt_wait, with the ARM riding on it (ctxq.h,
 * CTXQ_CMDF_ARM): one message, not a DOORBELL and an ARM; a bt_recv that
 * finds nothing leaves it owed, and bt_poll posts it. */
static void test_a_drained_read_and_the_next_send_share_a_doorbell(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6004, 0x1000, NULL, NULL);
	uint32_t fi = flow_lookup(h->nic, HARNESS_NIC_IP, h->peer.nic_port, HARNESS_PEER_IP, h->peer.port);
	assert_int_not_equal(fi, FLOW_NONE);
	const struct flow *f = &h->nic->flows[fi];
	uint8_t data[64];
	char buf[256];
	harness_fill(data, sizeof(data), 0);
	harness_peer_send(h, TCP_ACK, data, sizeof(data));
	harness_advance(h, HARNESS_MS);
	harness_drop_frames(h);
	uint64_t db0 = harness_host_stats(h).doorbells_sent;
	uint64_t cmds0 = harness_stats(h).cmds;
	assert_int_equal(bt_recv(h->host, conn, buf, sizeof(buf)), 64);
	assert_int_equal(harness_host_stats(h).doorbells_sent, db0); /* owed, not posted */
	harness_app_send(h, conn, 0, 64);
	assert_int_equal(harness_host_stats(h).doorbells_sent, db0 + 1);
	harness_advance(h, HARNESS_MS);
	assert_int_equal(harness_stats(h).cmds - cmds0, 1);
	assert_int_equal(f->host_rx_freed_total, 64);
	assert_int_equal(f->host_tx_total, 64);

	/* A drained read alone: read to EAGAIN, then the sleep. Only
	 * bt_wait_arm posts, one command: the doorbell with the ARM. */
	harness_peer_send(h, TCP_ACK, data, sizeof(data));
	harness_advance(h, HARNESS_MS);
	harness_drop_frames(h);
	uint64_t db1 = harness_host_stats(h).doorbells_sent;
	uint64_t cmds1 = harness_stats(h).cmds;
	assert_int_equal(bt_recv(h->host, conn, buf, sizeof(buf)), 64);
	assert_int_equal(bt_recv(h->host, conn, buf, sizeof(buf)), BT_EAGAIN);
	assert_int_equal(harness_host_stats(h).doorbells_sent, db1);
	assert_true(bt_wait_arm(h->host));
	assert_int_equal(harness_host_stats(h).doorbells_sent, db1 + 1);
	harness_advance(h, HARNESS_MS);
	assert_int_equal(harness_stats(h).cmds - cmds1, 1);
	assert_int_equal(f->host_rx_freed_total, 128);
	/* The NIC holds the ARM: the next bytes wake the host, and the
	 * WAKEUP names the ARM's sequence (the host then arms afresh: a
	 * WAKEUP naming an older ARM would leave ours held, and no ARM go). */
	uint64_t w1 = harness_stats(h).wakeups_sent;
	harness_peer_send(h, TCP_ACK, data, sizeof(data));
	harness_advance(h, HARNESS_MS);
	assert_int_equal(harness_stats(h).wakeups_sent, w1 + 1);
	uint64_t cmds2 = harness_stats(h).cmds;
	assert_true(bt_wait_arm(h->host)); /* nothing owed: an ARM alone */
	harness_advance(h, HARNESS_MS);
	assert_int_equal(harness_stats(h).cmds - cmds2, 1);
	/* A program that polls instead of sleeping: bt_poll posts the
	 * drained read's doorbell, so the window of the NIC's next ACK
	 * counts what was read (FreeBSD's rcv-data-segments/overlapping-*
	 * saw 634 bytes short of 65535 while bt_poll left it owed). */
	uint64_t db3 = harness_host_stats(h).doorbells_sent;
	assert_int_equal(bt_recv(h->host, conn, buf, sizeof(buf)), 64);
	assert_int_equal(harness_host_stats(h).doorbells_sent, db3);
	struct bt_event ev[4];
	assert_true(bt_poll(h->host, ev, 4) >= 0);
	assert_int_equal(harness_host_stats(h).doorbells_sent, db3 + 1);
	harness_advance(h, HARNESS_MS);
	assert_int_equal(f->host_rx_freed_total, 192);
	harness_destroy(h);
}

/* A sender whose ring is full can only wait for the space the NIC frees:
 * its doorbell carries the ARM (ctxq.h, CTXQ_CMDF_ARM), so the sleep that
 * follows posts nothing (the ARM is held) and the ACK that frees space
 * wakes it. Without the ride the sleep posted an ARM of its own: two
 * commands. */
static void test_a_sender_that_fills_its_ring_arms_with_the_doorbell(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.host.tx_ring_bytes = 4096;
	struct harness *h = harness_init(&o);
	int conn = harness_active_open(h, 6006, 0x1000, NULL, NULL);
	harness_advance(h, HARNESS_MS);
	harness_drop_frames(h);
	uint64_t cmds0 = harness_stats(h).cmds;
	harness_app_send(h, conn, 0, 4096);
	assert_int_equal(bt_tx_space(h->host, conn), 0);
	assert_true(bt_wait_arm(h->host));
	harness_advance(h, HARNESS_MS);
	assert_int_equal(harness_stats(h).cmds - cmds0, 1);
	struct harness_frame f;
	uint32_t got = 0;
	while (harness_expect_frame(h, &f))
		got += harness_peer_absorb(h, &f);
	assert_true(got > 0); /* the full segments (the runt tail waits for their ACK) */
	uint64_t w0 = harness_stats(h).wakeups_sent;
	harness_peer_send(h, TCP_ACK, NULL, 0);
	harness_advance(h, HARNESS_MS);
	assert_int_equal(harness_stats(h).wakeups_sent, w0 + 1);
	assert_int_equal(bt_tx_space(h->host, conn), got);
	harness_destroy(h);
}

/* The wakeup rule (ctxq.h): a doorbell's confirmation is no news, so an
 * armed host is not woken for it (an RPC client sleeping on its request
 * used to be woken mid round trip by the echo of its own doorbell); the
 * reply's bytes wake it, once. */
static void test_a_doorbell_confirmation_wakes_nobody(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6005, 0x1000, NULL, NULL);
	harness_advance(h, HARNESS_MS);
	harness_drop_frames(h);
	uint64_t w0 = harness_stats(h).wakeups_sent;
	uint64_t ev0 = harness_stats(h).events_written;
	harness_app_send(h, conn, 0, 64);
	assert_true(bt_wait_arm(h->host));
	harness_advance(h, 0);
	struct harness_frame f;
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.payload_len, 64);
	/* No ACK within the confirm delay (a quarter of the 1 ms refresh):
	 * the confirmation goes alone, and wakes nobody. */
	harness_advance(h, HARNESS_MS / 4 + HARNESS_US);
	assert_int_equal(harness_stats(h).events_written, ev0 + 1); /* the confirmation */
	assert_int_equal(harness_stats(h).wakeups_sent, w0);
	harness_peer_absorb(h, &f);
	uint8_t data[64];
	harness_fill(data, sizeof(data), 0);
	harness_peer_send(h, TCP_ACK, data, sizeof(data));
	harness_advance(h, HARNESS_MS);
	assert_int_equal(harness_stats(h).wakeups_sent, w0 + 1);
	harness_destroy(h);
}

/* A refusal is news like a flow's event: a connect the NIC refuses at
 * once (no route) while the host sleeps on it wakes the host, whether its
 * ARM came after the refusal or the host was asleep before it. Both were
 * lost (app_refuse wrote the event without a WAKEUP or counting it for an
 * ARM): the host slept to its timeout. */
static void refusal_wakes(bool arm_first)
{
	struct harness *h = harness_init_default();
	harness_advance(h, HARNESS_MS);
	uint64_t w0 = harness_stats(h).wakeups_sent;
	if (arm_first) {
		assert_true(bt_wait_arm(h->host));
		harness_advance(h, HARNESS_US); /* the NIC holds the ARM */
	}
	int conn = bt_connect(h->host, 0xc0a80505, 80); /* 192.168.5.5: off-subnet, no gateway */
	assert_true(conn >= 0);
	if (!arm_first)
		assert_true(bt_wait_arm(h->host)); /* the ARM follows the CONNECT */
	harness_advance(h, HARNESS_US * 100);
	assert_int_equal(harness_stats(h).wakeups_sent, w0 + 1);
	harness_advance(h, 0);
	assert_int_equal(harness_conn_err(h, conn), BT_EHOSTUNREACH);
	harness_destroy(h);
}

static void test_a_refusal_wakes_a_sleeping_host(void **state)
{
	(void)state;
	refusal_wakes(false);
	refusal_wakes(true);
}

/* A doorbell's confirmation rides on the flow's next event (ctxq.h): the
 * ACK of its bytes frees TX space, and that one event carries both. A
 * confirmation of its own per doorbell was 42% of all events in a bulk
 * transfer. */
static void test_a_doorbell_is_confirmed_by_the_event_freeing_its_bytes(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6006, 0x1000, NULL, NULL);
	uint32_t fi = flow_lookup(h->nic, HARNESS_NIC_IP, h->peer.nic_port, HARNESS_PEER_IP, h->peer.port);
	assert_int_not_equal(fi, FLOW_NONE);
	harness_advance(h, HARNESS_MS);
	harness_drop_frames(h);
	uint64_t ev0 = harness_stats(h).events_written;
	harness_app_send(h, conn, 0, 64);
	harness_advance(h, 0);
	struct harness_frame f;
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.payload_len, 64);
	assert_int_equal(harness_stats(h).events_written, ev0); /* no event for the doorbell alone */
	assert_true(h->nic->flows[fi].confirm_deadline_ns != 0);
	harness_peer_absorb(h, &f);
	harness_peer_ack(h);
	harness_advance(h, 10 * HARNESS_US);
	assert_int_equal(harness_stats(h).events_written, ev0 + 1); /* tx_freed, and the echo with it */
	assert_int_equal(h->nic->flows[fi].confirm_deadline_ns, 0);
	/* Past the confirm delay and the host's refresh: nothing more, and
	 * the host never re-rang. */
	harness_advance(h, 3 * HARNESS_MS);
	assert_int_equal(harness_stats(h).events_written, ev0 + 1);
	assert_int_equal(harness_host_stats(h).doorbells_refreshed, 0);
	harness_destroy(h);
}

/* With nothing else to say (bytes the peer does not acknowledge), the
 * NIC confirms alone, within a quarter of the host's refresh interval
 * (HELLO's doorbell_refresh_us): the host never re-rings without a fault. */
static void test_an_unanswered_doorbell_is_confirmed_before_the_refresh(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.host.doorbell_refresh_ns = 2 * HARNESS_MS; /* so the delay is 500 us */
	struct harness *h = harness_init(&o);
	int conn = harness_active_open(h, 6007, 0x1000, NULL, NULL);
	harness_advance(h, HARNESS_MS);
	harness_drop_frames(h);
	uint64_t ev0 = harness_stats(h).events_written;
	harness_app_send(h, conn, 0, 64);
	harness_advance(h, 0);
	harness_advance(h, 490 * HARNESS_US);
	assert_int_equal(harness_stats(h).events_written, ev0);
	harness_advance(h, 20 * HARNESS_US);
	assert_int_equal(harness_stats(h).events_written, ev0 + 1); /* the echo alone */
	harness_advance(h, 5 * HARNESS_MS);
	assert_int_equal(harness_host_stats(h).doorbells_refreshed, 0);
	assert_int_equal(harness_stats(h).events_written, ev0 + 1);
	harness_destroy(h);
}

static void test_shutdown_before_connected_is_enotconn(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = bt_connect(h->host, HARNESS_PEER_IP, 9999);
	assert_true(conn >= 0);
	assert_int_equal(bt_shutdown(h->host, conn, BT_SHUT_WR), BT_ENOTCONN);
	assert_int_equal(bt_shutdown(h->host, conn, 7), BT_EINVAL);
	assert_int_equal(bt_readiness(h->host, conn), 0); /* connecting: nothing yet */
	harness_destroy(h);
}

/* ---------- abort ---------- */

static void test_abort_sends_rst_and_drops_queued_data(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_passive_open(h, PORT, 77, NULL, NULL);
	struct harness_frame f;
	h->peer.window = 0; /* the data stays queued */
	harness_peer_ack(h);
	harness_advance(h, 0);
	harness_drop_frames(h);
	harness_app_send(h, conn, 0, 5000);
	harness_advance(h, 0);
	harness_drop_frames(h);
	uint32_t in_use = harness_host_stats(h).conns_in_use;
	assert_int_equal(bt_abort(h->host, conn), BT_OK);
	assert_int_equal(bt_send(h->host, conn, "x", 1), BT_EINVAL); /* the id is gone */
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.flags & (TCP_RST | TCP_FIN | TCP_SYN), TCP_RST);
	assert_int_equal(f.tcp.seq, h->peer.rcv_nxt);
	assert_int_equal(harness_tcp_state(h), -1);
	assert_int_equal(harness_pending_frames(h), 0);
	assert_int_equal(harness_host_stats(h).conns_in_use, in_use - 1);
	harness_destroy(h);
}

/* close-on-syn-sent: a close while connecting drops the connection at
 * once; the SYN-ACK that comes later finds no flow and gets an RST at its
 * ACK. The close used to wait for CONNECTED (the host cannot name the
 * flow before), so the handshake completed first. */
static void test_close_while_connecting_drops_the_flow(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct harness_frame f;
	uint32_t in_use = harness_host_stats(h).conns_in_use;
	int conn = bt_connect(h->host, HARNESS_PEER_IP, 7000);
	assert_true(conn >= 0);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK), TCP_SYN);
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0); /* nothing to say in SYN_SENT */
	assert_int_equal(harness_stats(h).flows_active, 0);
	assert_int_equal(harness_host_stats(h).conns_in_use, in_use);
	struct harness_seg x = {.sport = 7000, .dport = f.tcp.sport};
	harness_inject(h, TCP_SYN | TCP_ACK, 5000, f.tcp.seq + 1, 32767, NULL, 0, &x);
	harness_advance(h, 0);
	struct harness_frame r;
	assert_true(harness_expect_frame(h, &r));
	assert_int_equal(r.tcp.flags & (TCP_RST | TCP_ACK | TCP_SYN), TCP_RST);
	assert_int_equal(r.tcp.seq, f.tcp.seq + 1);
	harness_destroy(h);
}

/* ---------- listener close ---------- */

static void test_listen_close_resets_pending_and_queued(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct harness_frame f;
	int l = bt_listen(h->host, PORT, 4);
	assert_true(l >= 0);
	harness_advance(h, 0);
	struct tcp_opts o = {.has_mss = true, .mss = 1460};
	/* One connection completes (queued, not accepted), one stays half-open. */
	struct harness_seg a = {.opts = &o, .sport = 41000, .dport = PORT};
	harness_inject(h, TCP_SYN, 100, 0, 65535, NULL, 0, &a);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	uint32_t iss_a = f.tcp.seq;
	harness_inject(h, TCP_ACK, 101, iss_a + 1, 65535, NULL, 0, &a);
	struct harness_seg b = {.opts = &o, .sport = 41001, .dport = PORT};
	harness_inject(h, TCP_SYN, 200, 0, 65535, NULL, 0, &b);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	uint32_t iss_b = f.tcp.seq;
	assert_int_equal(f.tcp.dport, 41001);
	assert_int_equal(harness_stats(h).conns_accepted, 1);
	assert_true(bt_readiness(h->host, l) & BT_READY_IN);

	assert_int_equal(bt_listen_close(h->host, l), BT_OK);
	assert_int_equal(bt_accept(h->host, l), BT_EINVAL);
	harness_advance(h, HARNESS_MS);
	bool rst_a = false, rst_b = false;
	while (harness_expect_frame(h, &f)) {
		assert_true(f.tcp.flags & TCP_RST);
		if (f.tcp.dport == 41000 && f.tcp.seq == iss_a + 1)
			rst_a = true;
		if (f.tcp.dport == 41001 && f.tcp.seq == iss_b + 1)
			rst_b = true;
	}
	assert_true(rst_a && rst_b);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.flows_active, 0);
	assert_int_equal(s.cmds_invalid, 0);
	assert_int_equal(harness_host_stats(h).conns_in_use, 0); /* every slot came back */
	/* The port is free: a new SYN gets an RST, a new listener works. */
	harness_inject(h, TCP_SYN, 300, 0, 65535, NULL, 0, &a);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_true(f.tcp.flags & TCP_RST);
	h->listener = -1;
	int conn = harness_passive_open(h, PORT, 400, NULL, NULL);
	assert_true(conn >= 0);
	harness_destroy(h);
}

/* ---------- options ---------- */

static void test_so_error_reported_once(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct harness_frame f;
	int conn = bt_connect(h->host, HARNESS_PEER_IP, 9);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	uint32_t err = 99;
	assert_int_equal(bt_getopt(h->host, conn, BT_OPT_ERROR, &err), BT_OK);
	assert_int_equal(err, 0);
	struct harness_seg x = {.sport = 9, .dport = f.tcp.sport};
	harness_inject(h, TCP_RST | TCP_ACK, 0, f.tcp.seq + 1, 0, NULL, 0, &x);
	harness_advance(h, 0);
	uint32_t r = bt_readiness(h->host, conn);
	assert_true(r & BT_READY_ERR);
	assert_true(r & BT_READY_HUP);
	assert_int_equal(bt_getopt(h->host, conn, BT_OPT_ERROR, &err), BT_OK);
	assert_int_equal(err, (uint32_t)-BT_ECONNREFUSED);
	assert_int_equal(bt_getopt(h->host, conn, BT_OPT_ERROR, &err), BT_OK);
	assert_int_equal(err, 0); /* SO_ERROR clears */
	assert_false(bt_readiness(h->host, conn) & BT_READY_ERR);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_ERROR, 1), BT_EINVAL);
	harness_destroy(h);
}

static void test_sndbuf_per_connection(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int c1 = harness_active_open(h, 6100, 0x1000, NULL, NULL);
	assert_int_equal(bt_setopt(h->host, c1, BT_OPT_SNDBUF, 1000), BT_OK);
	uint32_t v;
	assert_int_equal(bt_getopt(h->host, c1, BT_OPT_SNDBUF, &v), BT_OK);
	assert_int_equal(v, 1000);
	h->peer.window = 0; /* nothing leaves the ring */
	harness_peer_ack(h);
	harness_advance(h, 0);
	uint8_t buf[4000] = {0};
	assert_int_equal(bt_send(h->host, c1, buf, sizeof(buf)), 1000);
	assert_int_equal(bt_send(h->host, c1, buf, sizeof(buf)), BT_EAGAIN);
	assert_false(bt_readiness(h->host, c1) & BT_READY_OUT);
	assert_int_equal(bt_setopt(h->host, c1, BT_OPT_SNDBUF, 0), BT_EINVAL);
	assert_int_equal(bt_setopt(h->host, c1, BT_OPT_SNDBUF, 1u << 30), BT_EINVAL);
	/* Another connection of the same host keeps the whole ring. */
	int c2 = bt_connect(h->host, HARNESS_PEER_IP, 6101);
	assert_int_equal(bt_getopt(h->host, c2, BT_OPT_SNDBUF, &v), BT_OK);
	assert_int_equal(v, h->opts.host.tx_ring_bytes);
	harness_destroy(h);
}

static void test_rcvbuf_limits_window_and_scale(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.host.rx_ring_bytes = 256u << 10;
	struct harness *h = harness_init(&o);
	struct bt_opts lo = {0};
	bt_opts_set(&lo, BT_OPT_RCVBUF, 20000);
	h->listener = bt_listen_opts(h->host, PORT, 4, &lo);
	assert_true(h->listener >= 0);
	harness_advance(h, 0);
	struct harness_frame f;
	int conn = harness_passive_open(h, PORT, 1, NULL, &f);
	assert_int_equal(f.tcp.window, 20000);
	assert_int_equal(f.tcp.opts.wscale, 0);
	uint32_t v;
	assert_int_equal(bt_getopt(h->host, conn, BT_OPT_RCVBUF, &v), BT_OK);
	assert_int_equal(v, 20000); /* inherited */
	/* The peer can fill exactly the window, not the ring. */
	uint8_t data[1000];
	harness_fill(data, sizeof(data), 0);
	for (int i = 0; i < 25; i++)
		harness_peer_send(h, TCP_ACK, data, sizeof(data));
	harness_advance(h, HARNESS_MS);
	assert_int_equal(bt_rx_ready(h->host, conn), 20000);
	assert_int_equal(harness_stats(h).rx_out_of_window, 5);
	/* An active open with the default keeps the whole ring. */
	int c2 = bt_connect(h->host, HARNESS_PEER_IP, 7000);
	assert_true(c2 >= 0);
	harness_drop_frames(h);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK), TCP_SYN);
	assert_int_equal(f.tcp.opts.wscale, 3); /* 256 KiB >> 3 fits 16 bits */
	harness_destroy(h);
}

static void test_maxseg_clamps_syn_and_segments(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct bt_opts co = {0};
	bt_opts_set(&co, BT_OPT_MAXSEG, 500);
	int conn = bt_connect_opts(h->host, HARNESS_PEER_IP, 6200, &co);
	assert_true(conn >= 0);
	harness_advance(h, 0);
	struct harness_frame f;
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(f.tcp.opts.mss, 500);
	struct tcp_opts so = {.has_mss = true, .mss = 1460};
	struct harness_seg x = {.opts = &so, .sport = 6200, .dport = f.tcp.sport};
	h->peer.port = 6200;
	h->peer.nic_port = f.tcp.sport;
	h->peer.nic_iss = f.tcp.seq;
	h->peer.rcv_nxt = f.tcp.seq + 1;
	h->peer.snd_nxt = 5001;
	harness_inject(h, TCP_SYN | TCP_ACK, 5000, f.tcp.seq + 1, 65535, NULL, 0, &x);
	harness_advance(h, 0);
	harness_drop_frames(h);
	uint32_t v;
	assert_int_equal(bt_getopt(h->host, conn, BT_OPT_MAXSEG, &v), BT_OK);
	assert_int_equal(v, 500);
	harness_app_send(h, conn, 0, 1200);
	harness_advance(h, 0);
	uint32_t lens[3] = {500, 500, 200};
	for (int i = 0; i < 3; i++) {
		harness_expect_tcp(h, &f);
		assert_int_equal(f.tcp.payload_len, lens[i]);
	}
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_MAXSEG, 10), BT_EINVAL);
	harness_destroy(h);
}

static void test_nagle_holds_small_segment_until_ack(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6300, 0x1000, NULL, NULL);
	struct harness_frame f;
	/* Default here: no Nagle. Two small writes go at once. */
	harness_app_send(h, conn, 0, 10);
	harness_advance(h, 0);
	harness_app_send_expect(h, conn, 0, 10, &f);
	harness_expect_tcp(h, &f);
	harness_peer_ack(h);
	harness_advance(h, 0);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_NODELAY, 0), BT_OK);
	harness_advance(h, 0);
	harness_app_send(h, conn, 0, 10);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f); /* nothing in flight: goes */
	harness_app_send(h, conn, 0, 10);
	harness_app_send(h, conn, 0, 10);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0); /* held: data in flight */
	harness_peer_ack(h);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.payload_len, 20); /* coalesced */
	assert_int_equal(harness_pending_frames(h), 0);
	/* TCP_NODELAY again releases what is held. */
	harness_app_send(h, conn, 0, 10);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_NODELAY, 1), BT_OK);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.payload_len, 10);
	harness_destroy(h);
}

static void test_cork_holds_partial_segments(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6400, 0x1000, NULL, NULL);
	struct harness_frame f;
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_CORK, 1), BT_OK);
	harness_advance(h, 0);
	harness_app_send(h, conn, 0, 100);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	harness_app_send_expect(h, conn, 0, 1448 + 100, &f);
	assert_int_equal(f.tcp.payload_len, 1448); /* full segments only */
	assert_int_equal(harness_pending_frames(h), 0);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_CORK, 0), BT_OK);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.payload_len, 200);
	harness_destroy(h);
}

/* MSG_EOR (google/eor/no-coalesce-*): no segment carries bytes of a
 * record and of what was sent after it; the record's last segment has
 * PSH. A plain send in its place shares segments with what follows. */
static void eor_first_segment(bool eor, struct harness_frame *first, struct harness_frame *second)
{
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6400, 0x1000, NULL, NULL);
	uint8_t buf[3000] = {0};
	assert_int_equal(bt_send_more(h->host, conn, buf, 1000), 1000);
	ssize_t n = eor ? bt_send_eor(h->host, conn, buf, 400) : bt_send_more(h->host, conn, buf, 400);
	assert_int_equal(n, 400);
	assert_int_equal(bt_send(h->host, conn, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	harness_advance(h, 0);
	harness_expect_tcp(h, first);
	harness_expect_tcp(h, second);
	harness_destroy(h);
}

static void test_eor_ends_segments_at_the_record(void **state)
{
	(void)state;
	struct harness_frame a, b;
	eor_first_segment(true, &a, &b);
	assert_int_equal(a.tcp.payload_len, 1400);
	assert_true(a.tcp.flags & TCP_PSH);
	assert_int_equal(b.tcp.seq, a.tcp.seq + 1400);
	eor_first_segment(false, &a, &b);
	assert_int_equal(a.tcp.payload_len, 1448);
	assert_false(a.tcp.flags & TCP_PSH);
}

/* IP_TOS (sack-route-refresh-ip-tos): the TOS byte of our segments is
 * the application's, but for the ECN field, which stays the stack's
 * (ECT(0) on data when ECN was negotiated). Out of range is refused. */
static void test_tos_marks_our_segments(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.nic.ecn = true;
	struct harness *h = harness_init(&o);
	struct harness_syn_opts so;
	harness_default_syn_opts(&so);
	so.ecn = true;
	int conn = harness_active_open(h, 6400, 0x1000, &so, NULL);
	struct harness_frame f;
	uint32_t v = 1;
	assert_int_equal(bt_getopt(h->host, conn, BT_OPT_TOS, &v), BT_OK);
	assert_int_equal(v, 0);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_TOS, 0x100), BT_EINVAL);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_TOS, 0xb9), BT_OK); /* ECN bits 01 asked */
	harness_advance(h, 0);
	harness_app_send_expect(h, conn, 0, 100, &f);
	assert_int_equal(f.ip.tos, 0xb8 | 0x02); /* DSCP as set, ECT(0) ours */
	harness_peer_ack(h);
	harness_advance(h, 0);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_TOS, 0), BT_OK);
	harness_advance(h, 0);
	harness_app_send_expect(h, conn, 0, 100, &f);
	assert_int_equal(f.ip.tos, 0x02);
	harness_destroy(h);
}

/* sockopt_cork_nodelay: setting TCP_NODELAY (again) while corked pushes
 * what cork holds, once, as Linux does; cork then holds again. A send
 * with more to follow (MSG_MORE) carries no PSH. */
static void test_nodelay_pushes_corked_data_once(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6400, 0x1000, NULL, NULL);
	struct harness_frame f;
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_NODELAY, 1), BT_OK);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_CORK, 1), BT_OK);
	harness_advance(h, 0);
	harness_app_send(h, conn, 0, 100);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_NODELAY, 1), BT_OK);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.payload_len, 100);
	assert_true(f.tcp.flags & TCP_PSH);
	harness_peer_ack(h);
	harness_advance(h, 0);
	uint8_t buf[60] = {0};
	assert_int_equal(bt_send_more(h->host, conn, buf, sizeof(buf)), 60);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0); /* corked again */
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_NODELAY, 1), BT_OK);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.payload_len, 60);
	assert_false(f.tcp.flags & TCP_PSH);
	harness_destroy(h);
}

static void test_user_timeout_ends_connection_on_time(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.nic.max_retries = 50; /* the retry count alone would take minutes */
	struct harness *h = harness_init(&o);
	int conn = harness_active_open(h, 6500, 0x1000, NULL, NULL);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_USER_TIMEOUT, 300), BT_OK);
	harness_advance(h, 0);
	uint64_t t0 = harness_now(h);
	harness_app_send(h, conn, 0, 100);
	/* The peer never answers. */
	bool rst = false;
	while (!(harness_peek_flags(h, conn) & BT_EV_ERROR) && harness_now(h) - t0 < 10000 * HARNESS_MS) {
		harness_advance(h, HARNESS_MS);
		struct harness_frame f;
		while (harness_expect_frame(h, &f))
			rst |= (f.tcp.flags & TCP_RST) != 0;
	}
	assert_int_equal(harness_conn_err(h, conn), BT_ETIMEDOUT);
	uint64_t took = harness_now(h) - t0;
	assert_true(took >= 300 * HARNESS_MS);
	assert_true(took <= 301 * HARNESS_MS);
	(void)rst;
	uint32_t v;
	assert_int_equal(bt_getopt(h->host, conn, BT_OPT_USER_TIMEOUT, &v), BT_OK);
	assert_int_equal(v, 300);
	harness_destroy(h);
}

/* ---------- readiness ---------- */

static void test_readiness_follows_the_connection(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6600, 0x1000, NULL, NULL);
	assert_int_equal(bt_readiness(h->host, conn), BT_READY_OUT);
	harness_peer_send(h, TCP_ACK, "abc", 3);
	harness_advance(h, 0);
	assert_int_equal(bt_readiness(h->host, conn), BT_READY_OUT | BT_READY_IN);
	char buf[8];
	assert_int_equal(bt_recv(h->host, conn, buf, sizeof(buf)), 3);
	assert_int_equal(bt_readiness(h->host, conn), BT_READY_OUT);
	harness_peer_send(h, TCP_FIN, NULL, 0);
	harness_advance(h, 0);
	assert_int_equal(bt_readiness(h->host, conn), BT_READY_OUT | BT_READY_IN | BT_READY_RDHUP);
	assert_int_equal(bt_shutdown(h->host, conn, BT_SHUT_WR), BT_OK);
	assert_int_equal(bt_readiness(h->host, conn), BT_READY_OUT | BT_READY_IN | BT_READY_RDHUP | BT_READY_HUP);
	assert_int_equal(bt_readiness(h->host, 4242), 0);
	harness_destroy(h);
}

static void test_readiness_after_reset(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6700, 0x1000, NULL, NULL);
	harness_peer_send(h, TCP_RST, NULL, 0);
	harness_advance(h, 0);
	assert_int_equal(bt_readiness(h->host, conn),
			 BT_READY_IN | BT_READY_OUT | BT_READY_RDHUP | BT_READY_HUP | BT_READY_ERR);
	harness_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses_of_accepted_and_connected),
		cmocka_unit_test(test_connect_from_a_chosen_port),
		cmocka_unit_test(test_shutdown_wr_fin_after_data_then_keeps_reading),
		cmocka_unit_test(test_shutdown_wr_then_close_releases_and_orphan_timer_runs),
		cmocka_unit_test(test_shutdown_rd_ends_the_stream_when_drained),
		cmocka_unit_test(test_peek_leaves_the_bytes_buffered),
		cmocka_unit_test(test_a_drained_read_and_the_next_send_share_a_doorbell),
		cmocka_unit_test(test_a_sender_that_fills_its_ring_arms_with_the_doorbell),
		cmocka_unit_test(test_a_doorbell_confirmation_wakes_nobody),
		cmocka_unit_test(test_a_refusal_wakes_a_sleeping_host),
		cmocka_unit_test(test_a_doorbell_is_confirmed_by_the_event_freeing_its_bytes),
		cmocka_unit_test(test_an_unanswered_doorbell_is_confirmed_before_the_refresh),
		cmocka_unit_test(test_shutdown_before_connected_is_enotconn),
		cmocka_unit_test(test_abort_sends_rst_and_drops_queued_data),
		cmocka_unit_test(test_close_while_connecting_drops_the_flow),
		cmocka_unit_test(test_listen_close_resets_pending_and_queued),
		cmocka_unit_test(test_so_error_reported_once),
		cmocka_unit_test(test_sndbuf_per_connection),
		cmocka_unit_test(test_rcvbuf_limits_window_and_scale),
		cmocka_unit_test(test_maxseg_clamps_syn_and_segments),
		cmocka_unit_test(test_nagle_holds_small_segment_until_ack),
		cmocka_unit_test(test_cork_holds_partial_segments),
		cmocka_unit_test(test_tos_marks_our_segments),
		cmocka_unit_test(test_eor_ends_segments_at_the_record),
		cmocka_unit_test(test_nodelay_pushes_corked_data_once),
		cmocka_unit_test(test_user_timeout_ends_connection_on_time),
		cmocka_unit_test(test_readiness_follows_the_connection),
		cmocka_unit_test(test_readiness_after_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
