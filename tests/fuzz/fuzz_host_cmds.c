/*
 * fuzz_host_cmds.c: libFuzzer target for what a hostile application can
 * send its NIC. The host->NIC protocol is channel messages (core/ctxq.h:
 * HELLO, then 32-byte commands naming flows, slots, listeners, ports and
 * running totals); an application controls every byte of them, and of
 * its own memory region that the NIC reads. Each input builds a fresh NIC
 * with one application that has an established connection (the harness),
 * then posts the input's messages on that application's channel as if
 * its host library were replaced by an attacker, with virtual time in
 * between so the NIC acts on each.
 *
 * Input: records of [kind][bytes...]:
 *   kind % 4 == 0  a 32-byte command exactly as given
 *   kind % 4 == 1  a command whose type is one of the known ones and
 *                  whose flow_id is the connection's (deeper states)
 *   kind % 4 == 2  a message of the given length (1..64 bytes: short,
 *                  long, a second HELLO)
 *   kind % 4 == 3  the attacker's TX ring is overwritten with the bytes
 *                  and a doorbell claims them sent
 * What must hold: no crash and no sanitizer report; the NIC refuses what
 * it cannot use and the other state stays intact.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MSGS_MAX 64
#define STEP_NS (100 * HARNESS_US)

static const uint8_t known_types[] = {CTXQ_HELLO,    CTXQ_LISTEN, CTXQ_ACCEPT_SLOT, CTXQ_CONNECT, CTXQ_DOORBELL,
				      CTXQ_CLOSE,    CTXQ_ABORT,  CTXQ_EV_CREDIT,   CTXQ_ARM};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness_opts o;
	harness_default_opts(&o);
	/* a fresh NIC and host per input: keep their tables and rings small */
	o.nic.max_flows = 16;
	o.host.max_conns = 4;
	o.host.rx_ring_bytes = o.host.tx_ring_bytes = 8192;
	o.host.event_entries = 64;
	o.link_pool_frames = 64;
	struct harness *h = harness_init(&o);
	harness_passive_open(h, 80, 1000, NULL, NULL);
	harness_drop_frames(h);
	struct chan *host_end = shm_link_end(h->chan, SHM_END_HOST);
	uint32_t flow = flow_lookup(h->nic, HARNESS_NIC_IP, h->peer.nic_port, HARNESS_PEER_IP, h->peer.port);
	size_t at = 0;
	for (int n = 0; n < MSGS_MAX && at < size; n++) {
		uint8_t kind = data[at++];
		uint8_t msg[64] = {0};
		size_t len;
		switch (kind % 4) {
		case 0:
		case 1:
			len = size - at < CTXQ_CMD_BYTES ? size - at : CTXQ_CMD_BYTES;
			memcpy(msg, data + at, len);
			at += len;
			len = CTXQ_CMD_BYTES;
			if (kind % 4 == 1) {
				struct ctxq_cmd c;
				memcpy(&c, msg, sizeof(c));
				c.type = known_types[c.type % sizeof(known_types)];
				c.flow_id = flow;
				memcpy(msg, &c, sizeof(c));
			}
			break;
		case 2: {
			size_t want = at < size ? 1u + data[at++] % 64u : 1u;
			size_t have = size - at < want ? size - at : want;
			memcpy(msg, data + at, have);
			at += have;
			len = want; /* the rest stays zero */
			break;
		}
		default: {
			/* The ring is the application's own memory: write into it
			 * through the host library's view, then a doorbell with
			 * an arbitrary total. */
			len = size - at < 16 ? size - at : 16;
			uint8_t junk[16] = {0};
			memcpy(junk, data + at, len);
			at += len;
			if (h->host && h->conn >= 0)
				bt_send(h->host, h->conn, junk, 16);
			struct ctxq_cmd c = {.type = CTXQ_DOORBELL, .flow_id = flow};
			memcpy(&c.arg0, junk, 12);
			memcpy(msg, &c, sizeof(c));
			len = CTXQ_CMD_BYTES;
			break;
		}
		}
		chan_post_msg(host_end, msg, (uint32_t)len); /* a full queue refuses: also fine */
		harness_advance(h, STEP_NS);
		struct harness_frame f;
		while (harness_expect_frame(h, &f))
			harness_peer_absorb(h, &f);
		harness_peer_ack(h);
	}
	harness_advance(h, 50 * HARNESS_MS);
	harness_destroy(h);
	return 0;
}
