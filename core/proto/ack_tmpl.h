/*
 * ack_tmpl.h: a pure ACK from a frame built once per flow.
 *
 * A flow's pure ACKs differ from one another in seven fields only: IPv4
 * ID, sequence and acknowledgment numbers, window, TSval, TSecr and the two
 * checksums. ack_tmpl_capture keeps a frame tcp_frame_build made, with the
 * sums of everything else precomputed; ack_tmpl_fill writes the frame again
 * with new values and finishes both checksums from those sums, instead of
 * building Ethernet, IPv4 and TCP headers and summing them each time. The
 * result is byte for byte what tcp_frame_build gives for the same values
 * (tests/unit/test_ack_tmpl.c).
 *
 * A template holds no SACK blocks, no payload, no flags but ACK: the
 * caller builds anything else the long way.
 */
#ifndef BT_PROTO_ACK_TMPL_H
#define BT_PROTO_ACK_TMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Ethernet + IPv4 (no options) + TCP with the longest option list
 * tcp_frame_build puts on a pure ACK (NOP NOP TS, 12 bytes) and room to
 * spare for a layout that pads differently. */
#define ACK_TMPL_FRAME_MAX_BYTES 96

struct ack_tmpl {
	uint8_t frame[ACK_TMPL_FRAME_MAX_BYTES];
	uint8_t len_bytes;    /* 0: nothing captured */
	uint8_t ts_off;       /* frame offset of TSval (TSecr follows), 0: no timestamps */
	bool l4_csum_offload; /* the TCP checksum field holds the hardware's seed: kept as is */
	uint16_t ip_sum;      /* IPv4 header, ID and checksum as zero (folded) */
	uint16_t tcp_sum;     /* pseudo header + TCP header, the patched fields as zero (folded) */
};

/* The fields a pure ACK patches, host byte order. */
struct ack_tmpl_fields {
	uint32_t seq, ack;
	uint32_t ts_val, ts_ecr; /* ignored without timestamps */
	uint16_t window;
	uint16_t ip_id;
};

/* Keeps frame[0..len) as the template: an Ethernet/IPv4/TCP pure ACK (flags
 * ACK only, no payload, options NOP, EOL or one timestamp). Returns 0, or
 * PROTO_EUNSUPPORTED for anything else (the template is then empty). */
int ack_tmpl_capture(struct ack_tmpl *t, const uint8_t *frame, size_t len, bool l4_csum_offload);

/* Writes the template with `v` into buf: its length, or PROTO_ENOSPACE /
 * PROTO_EUNSUPPORTED (nothing captured). Where cap allows, all
 * ACK_TMPL_FRAME_MAX_BYTES are written (a copy of constant size); the
 * bytes past the length are not part of the frame. */
int ack_tmpl_fill(const struct ack_tmpl *t, uint8_t *buf, size_t cap, const struct ack_tmpl_fields *v);

#endif
