/*
 * test_flow_reuse.c: a flow slot freed while the fast path handles an ACK
 * and taken again by the next frame of the same receive burst.
 *
 * In LAST_ACK, the ACK of our FIN ends the flow inside process_ack
 * (fp_rx.c): sp_fin_acked retires the slot and, with no event and no
 * transmission pending on it, frees it at once. The free list is LIFO, so
 * a SYN later in the same burst gets that very slot. Whatever
 * process_ack or fp_rx_established do to the slot after the flow ended
 * (schedule a transmission, write state) then lands on the new
 * connection. These tests deliver both frames in one burst and check that
 * the new connection opens cleanly and the old one is gone for good.
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
#define PEER_PORT_OLD 40000 /* harness_passive_open's */
#define PEER_PORT_NEW 40001

static void expect_flags(struct harness *h, uint8_t flags, struct harness_frame *f)
{
	harness_expect_tcp(h, f);
	assert_int_equal(f->tcp.flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_ACK), flags);
}

/* The one flow in use, or FLOW_NONE. */
static uint32_t only_flow(const struct harness *h)
{
	uint32_t found = FLOW_NONE;
	for (uint32_t i = 0; i < h->nic->cfg.max_flows; i++)
		if (h->nic->flows[i].in_use) {
			assert_int_equal(found, FLOW_NONE);
			found = i;
		}
	return found;
}

/* The NIC's transmit list: every member in use and marked in_tx, no
 * cycle (bounded by the table size). */
static void check_tx_list(const struct harness *h)
{
	uint32_t n = 0;
	for (uint32_t i = h->nic->tx_head; i != FLOW_NONE; i = h->nic->flows[i].tx_next) {
		assert_true(i < h->nic->cfg.max_flows);
		assert_true(h->nic->flows[i].in_use);
		assert_true(h->nic->flows[i].in_tx);
		assert_true(++n <= h->nic->cfg.max_flows);
	}
}

/* Opens the old connection and takes it to LAST_ACK (peer FIN first, then
 * the application's close). Returns the slot and leaves the NIC's FIN
 * popped; the peer's view then acknowledges it. */
static uint32_t old_conn_in_last_ack(struct harness *h, int *listener_conn)
{
	struct harness_frame f;
	int conn = harness_passive_open(h, PORT, 1000, NULL, NULL);
	*listener_conn = conn;
	harness_peer_send(h, TCP_FIN, NULL, 0);
	harness_advance(h, 0);
	expect_flags(h, TCP_ACK, &f);
	assert_int_equal(harness_tcp_state(h), TCP_CLOSE_WAIT);
	uint8_t buf[16];
	bool eof = false;
	assert_int_equal(harness_app_read(h, conn, buf, sizeof(buf), &eof), 0);
	assert_true(eof);
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	harness_advance(h, 0);
	expect_flags(h, TCP_FIN | TCP_ACK, &f);
	assert_int_equal(harness_tcp_state(h), TCP_LAST_ACK);
	h->peer.rcv_nxt = f.tcp.seq + 1;
	uint32_t slot = only_flow(h);
	assert_int_not_equal(slot, FLOW_NONE);
	return slot;
}

/* A harness whose one connection is in LAST_ACK; *slot is its flow. */
static struct harness *in_last_ack(uint32_t *slot)
{
	struct harness_opts o;
	harness_default_opts(&o);
	struct harness *h = harness_init(&o);
	int conn;
	*slot = old_conn_in_last_ack(h, &conn);
	return h;
}

static void new_syn(struct harness *h, uint32_t isn)
{
	struct tcp_opts o = {.has_mss = true, .mss = 1460};
	struct harness_seg x = {.opts = &o, .sport = PEER_PORT_NEW, .dport = PORT};
	harness_inject(h, TCP_SYN, isn, 0, 65535, NULL, 0, &x);
}

/* The flow in use for this peer port, or FLOW_NONE. */
static uint32_t flow_of(const struct harness *h, uint16_t peer_port)
{
	for (uint32_t i = 0; i < h->nic->cfg.max_flows; i++)
		if (h->nic->flows[i].in_use && !h->nic->flows[i].retired && h->nic->flows[i].remote_port == peer_port)
			return i;
	return FLOW_NONE;
}

/* The final ACK and a new SYN in one burst. ACK processing ends the old
 * flow; its slot still owes the host the RELEASED event, so it must not
 * be handed to the SYN of the same burst (which would then inherit a
 * half-torn-down slot): the new flow gets another slot, the old one is
 * freed once its event is out and comes back with the next generation. */
static void test_last_ack_slot_not_reused_in_same_burst(void **state)
{
	(void)state;
	uint32_t slot;
	struct harness *h = in_last_ack(&slot);
	uint32_t gen_old = h->nic->flows[slot].gen;
	struct nic_stats before = harness_stats(h);

	harness_peer_ack(h); /* the final ACK: LAST_ACK -> CLOSED inside process_ack */
	new_syn(h, 5000);    /* same burst */
	harness_advance(h, 0);

	struct nic_stats after = harness_stats(h);
	assert_int_equal(after.conns_closed, before.conns_closed + 1);
	uint32_t nfi = flow_of(h, PEER_PORT_NEW);
	assert_int_not_equal(nfi, FLOW_NONE);
	assert_int_not_equal(nfi, slot);
	assert_int_equal(h->nic->flows[nfi].state, TCP_SYN_RCVD);
	assert_false(h->nic->flows[slot].in_use); /* freed after the burst, event delivered */
	assert_int_equal(h->nic->flows[slot].gen, gen_old);
	assert_int_equal(after.flows_active, 1);
	check_tx_list(h);

	struct harness_frame f;
	assert_int_equal(harness_expect_frame(h, &f), 1);
	assert_true(f.is_tcp);
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK | TCP_FIN | TCP_RST), TCP_SYN | TCP_ACK);
	assert_int_equal(f.tcp.dport, PEER_PORT_NEW);
	assert_int_equal(f.tcp.ack, 5001);
	assert_int_equal(harness_pending_frames(h), 0); /* nothing of the old flow */

	/* The old slot is free now: the next SYN takes it (LIFO), one
	 * generation on, and starts clean. */
	struct tcp_opts so = {.has_mss = true, .mss = 1460};
	struct harness_seg x3 = {.opts = &so, .sport = PEER_PORT_NEW + 1, .dport = PORT};
	harness_inject(h, TCP_SYN, 7000, 0, 65535, NULL, 0, &x3);
	harness_advance(h, 0);
	uint32_t third = flow_of(h, PEER_PORT_NEW + 1);
	assert_int_equal(third, slot);
	assert_int_equal(h->nic->flows[slot].gen, gen_old + 1);
	assert_int_equal(h->nic->flows[slot].state, TCP_SYN_RCVD);
	assert_int_equal(harness_expect_frame(h, &f), 1);
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK | TCP_FIN | TCP_RST), TCP_SYN | TCP_ACK);
	assert_int_equal(f.tcp.dport, PEER_PORT_NEW + 1);
	check_tx_list(h);
	/* Unanswered, the reused slot retransmits its SYN-ACK, never the old
	 * flow's FIN: no timer of the old flow survived. */
	harness_drop_frames(h);
	assert_true(harness_advance_to_frame(h, 1000 * HARNESS_MS));
	while (harness_expect_frame(h, &f) == 1)
		assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK | TCP_FIN), TCP_SYN | TCP_ACK);
	harness_destroy(h);
}

/* The final ACK of our FIN arrives together with the peer's FIN again
 * (its retransmission): ACK processing ends the flow, and the FIN must
 * not be handled on the ended flow (no second FIN event, no ACK from a
 * CLOSED slot). */
static void test_last_ack_fin_retransmission_with_final_ack(void **state)
{
	(void)state;
	uint32_t slot;
	struct harness *h = in_last_ack(&slot);
	struct nic_stats before = harness_stats(h);
	/* The peer's FIN again, now acknowledging ours. */
	h->peer.snd_nxt -= 1;
	harness_peer_send(h, TCP_FIN, NULL, 0);
	harness_advance(h, 0);
	struct nic_stats after = harness_stats(h);
	assert_int_equal(after.conns_closed, before.conns_closed + 1);
	assert_false(h->nic->flows[slot].in_use);
	assert_int_equal(after.flows_active, 0);
	check_tx_list(h);
	/* The flow is gone: nothing more is sent for it, ever. */
	harness_advance(h, 1000 * HARNESS_MS);
	assert_int_equal(harness_pending_frames(h), 0);
	harness_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_last_ack_slot_not_reused_in_same_burst),
		cmocka_unit_test(test_last_ack_fin_retransmission_with_final_ack),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
