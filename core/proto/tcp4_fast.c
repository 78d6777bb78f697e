/*
 * tcp4_fast.c: the receive path's common frame, Ethernet + IPv4 + TCP to
 * us, parsed in one pass (proto.h, tcp4_parse_fast). The layered parsers
 * copy each header's fields into a view, check lengths layer by layer and
 * walk the TCP options; a data segment of a connection with timestamps
 * needs none of their generality. This reads each byte once and accepts
 * only what those parsers would accept with the same views; anything else
 * goes to them (tests/unit/test_proto.c checks the two agree).
 */
#include "core/proto/proto.h"

#include <string.h>

#include "core/proto/bytes.h"

#define IPV4_VER_IHL_PLAIN 0x45  /* version 4, 20-byte header */
#define IPV4_FRAG_BITS 0x3fff    /* MF and the fragment offset: DF alone is fine */
#define TCP_OPTS_NOP_NOP_TS 0x0101080au /* NOP, NOP, kind 8, length 10 */
#define TCP_HDR_WITH_TS 32

/* A 20-byte IPv4 header including its checksum sums to 0xffff in any
 * byte order (RFC 1071): five native 32-bit words, folded. Written out:
 * the loop in ipv4.c is not unrolled at -O2. */
static bool hdr20_sum_ok(const uint8_t *p)
{
	uint32_t w[5];
	memcpy(w, p, sizeof(w));
	uint64_t acc = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffu) + (acc >> 16);
	acc = (acc & 0xffffu) + (acc >> 16);
	acc = (acc & 0xffffu) + (acc >> 16);
	return acc == 0xffff;
}

bool tcp4_parse_fast(const uint8_t *frame, size_t len, const uint8_t our_mac[ETH_ADDR_BYTES], uint32_t our_ip,
		     bool ip_csum_verified, struct ipv4_view *ip, struct tcp_view *tcp)
{
	if (len < ETH_HDR_BYTES + IPV4_HDR_MIN_BYTES + TCP_HDR_MIN_BYTES || memcmp(frame, our_mac, ETH_ADDR_BYTES) != 0 ||
	    load_be16(frame + 2 * ETH_ADDR_BYTES) != ETH_TYPE_IPV4)
		return false;
	const uint8_t *p = frame + ETH_HDR_BYTES;
	uint16_t total_len = load_be16(p + 2);
	if (p[0] != IPV4_VER_IHL_PLAIN || p[9] != IPV4_PROTO_TCP || total_len > len - ETH_HDR_BYTES ||
	    total_len < IPV4_HDR_MIN_BYTES + TCP_HDR_MIN_BYTES || (load_be16(p + 6) & IPV4_FRAG_BITS) != 0 ||
	    load_be32(p + 16) != our_ip)
		return false;
	if (!ip_csum_verified && !hdr20_sum_ok(p))
		return false;
	const uint8_t *seg = p + IPV4_HDR_MIN_BYTES;
	uint16_t seg_len = (uint16_t)(total_len - IPV4_HDR_MIN_BYTES);
	uint8_t hdr = (uint8_t)((seg[12] >> 4) * 4);
	bool plain = hdr == TCP_HDR_MIN_BYTES;
	bool with_ts = hdr == TCP_HDR_WITH_TS && load_be32(seg + TCP_HDR_MIN_BYTES) == TCP_OPTS_NOP_NOP_TS;
	if (!(plain || with_ts) || hdr > seg_len)
		return false;

	*ip = (struct ipv4_view){
		.ihl_bytes = IPV4_HDR_MIN_BYTES,
		.tos = p[1],
		.total_len = total_len,
		.id = load_be16(p + 4),
		.ttl = p[8],
		.proto = IPV4_PROTO_TCP,
		.src = load_be32(p + 12),
		.dst = our_ip,
		.payload = seg,
		.payload_len = seg_len,
	};
	memset(&tcp->opts, 0, sizeof(tcp->opts));
	if (with_ts) {
		tcp->opts.has_ts = true;
		tcp->opts.ts_val = load_be32(seg + TCP_HDR_MIN_BYTES + 4);
		tcp->opts.ts_ecr = load_be32(seg + TCP_HDR_MIN_BYTES + 8);
	}
	tcp->sport = load_be16(seg);
	tcp->dport = load_be16(seg + 2);
	tcp->seq = load_be32(seg + 4);
	tcp->ack = load_be32(seg + 8);
	tcp->hdr_bytes = hdr;
	tcp->flags = seg[13];
	tcp->window = load_be16(seg + 14);
	tcp->urg = load_be16(seg + 18);
	tcp->payload = seg + hdr;
	tcp->payload_len = (uint16_t)(seg_len - hdr);
	return true;
}
