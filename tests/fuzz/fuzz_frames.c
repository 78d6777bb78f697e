/*
 * fuzz_frames.c: libFuzzer target for the NIC's receive path with an
 * established connection behind it. Each input builds a fresh NIC and
 * application (tests/support/harness: the NIC at 10.0.0.1, a scripted
 * peer at 10.0.0.2), opens one connection passively, then delivers the
 * input as a sequence of frames from the peer, each followed by a little
 * virtual time so timers, ACKs and the host library run too.
 *
 * Input: records of [mode][len][bytes...]:
 *   mode % 3 == 0  a raw Ethernet frame (every layer's parser)
 *   mode % 3 == 1  a TCP segment of the connection with the given flags,
 *                  seq/ack offsets from the peer's view, window and
 *                  payload, checksums right (reaches the fast path)
 *   mode % 3 == 2  the same with raw TCP option bytes (the option parser)
 * What must hold: no crash and no sanitizer report; the harness's own
 * checks (cmocka assertions) exit the process, which libFuzzer reports.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "tests/support/harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FRAMES_MAX 64
#define STEP_NS (200 * HARNESS_US)


/* A segment with raw option bytes: the harness builder only writes
 * options it understands, so this one is laid out here. */
static void inject_with_raw_options(struct harness *h, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t window,
				    const uint8_t *opts, uint8_t opt_len, const uint8_t *payload, uint16_t len)
{
	uint8_t frame[NETIF_FRAME_MAX_BYTES];
	uint8_t opt_bytes = (uint8_t)((opt_len + 3u) & ~3u);
	uint16_t tcp_len = (uint16_t)(20u + opt_bytes + len);
	if ((size_t)ETH_HDR_BYTES + 20u + tcp_len > sizeof(frame))
		return;
	eth_build(frame, sizeof(frame), HARNESS_NIC_MAC, HARNESS_PEER_MAC, ETH_TYPE_IPV4);
	ipv4_build(frame + ETH_HDR_BYTES, sizeof(frame) - ETH_HDR_BYTES, HARNESS_PEER_IP, HARNESS_NIC_IP,
		   IPV4_PROTO_TCP, 0, 1, 64, tcp_len);
	uint8_t *t = frame + ETH_HDR_BYTES + 20;
	memset(t, 0, 20u + opt_bytes);
	t[0] = (uint8_t)(h->peer.port >> 8);
	t[1] = (uint8_t)h->peer.port;
	t[2] = (uint8_t)(h->peer.nic_port >> 8);
	t[3] = (uint8_t)h->peer.nic_port;
	for (int i = 0; i < 4; i++) {
		t[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
		t[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
	}
	t[12] = (uint8_t)(((20u + opt_bytes) / 4u) << 4);
	t[13] = flags;
	t[14] = (uint8_t)(window >> 8);
	t[15] = (uint8_t)window;
	memcpy(t + 20, opts, opt_len);
	memcpy(t + 20 + opt_bytes, payload, len);
	tcp_fill_checksum(t, tcp_len, HARNESS_PEER_IP, HARNESS_NIC_IP);
	uint16_t flen = (uint16_t)(ETH_HDR_BYTES + 20u + tcp_len);
	harness_inject_raw(h, frame, flen < 60 ? 60 : flen);
}

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
	o.nic.delayed_ack_ns = 0;
	struct harness *h = harness_init(&o);
	harness_passive_open(h, 80, 1000, NULL, NULL);
	harness_drop_frames(h);
	size_t at = 0;
	for (int n = 0; n < FRAMES_MAX && at + 2 <= size; n++) {
		uint8_t mode = data[at];
		size_t len = data[at + 1];
		at += 2;
		if (len > size - at)
			len = size - at;
		const uint8_t *p = data + at;
		at += len;
		if (mode % 3 == 0 || len < 11) {
			uint8_t frame[NETIF_FRAME_MAX_BYTES];
			memcpy(frame, p, len);
			/* the link carries at least a minimum Ethernet frame */
			memset(frame + len, 0, 60 - (len < 60 ? len : 60));
			harness_inject_raw(h, frame, (uint16_t)(len < 60 ? 60 : len));
		} else {
			uint8_t flags = p[0];
			uint32_t seq = h->peer.snd_nxt + (uint32_t)(int32_t)(int16_t)(p[1] << 8 | p[2]);
			uint32_t ack = h->peer.rcv_nxt + (uint32_t)(int32_t)(int16_t)(p[3] << 8 | p[4]);
			uint16_t window = (uint16_t)(p[5] << 8 | p[6]);
			if (mode % 3 == 1) {
				harness_inject(h, flags, seq, ack, window, p + 7, (uint16_t)(len - 7), NULL);
			} else {
				uint8_t opt_len = p[7] % 41;
				if (opt_len > len - 8)
					opt_len = (uint8_t)(len - 8);
				inject_with_raw_options(h, flags, seq, ack, window, p + 8, opt_len, p + 8 + opt_len,
							(uint16_t)(len - 8 - opt_len));
			}
		}
		harness_advance(h, STEP_NS);
		/* the peer takes in what the NIC sent, so its view stays current */
		struct harness_frame f;
		while (harness_expect_frame(h, &f))
			harness_peer_absorb(h, &f);
		uint8_t sink[4096];
		if (h->host && h->conn >= 0)
			harness_app_read(h, h->conn, sink, sizeof(sink), NULL);
	}
	harness_advance(h, 50 * HARNESS_MS);
	harness_destroy(h);
	return 0;
}
