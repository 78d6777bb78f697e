/*
 * ipv4.c: IPv4 header parse/build (RFC 791). No fragments, options are
 * accepted on parse (skipped via IHL) and never built.
 */
#include "core/proto/proto.h"
#include "core/proto/bytes.h"

#include <string.h>

#define IPV4_FLAG_DF 0x4000
#define IPV4_FLAG_MF 0x2000
#define IPV4_FRAG_OFF_MASK 0x1fff

/* Error precedence: ETRUNC (< 20 bytes), EVERSION (version, IHL < 5),
 * ETRUNC (IHL past buffer), ELENGTH (total_len < IHL), ETRUNC (total_len
 * past buffer), ECHECKSUM, EUNSUPPORTED (fragment). */
/* A header that includes its own checksum sums to 0xffff, in any byte
 * order (RFC 1071): five 32-bit words, folded once. The usual 20-byte
 * header costs a few instructions this way. */
static bool hdr_sum_ok(const uint8_t *pkt, size_t ihl)
{
	if (ihl != IPV4_HDR_MIN_BYTES)
		return inet_checksum(pkt, ihl, 0) == 0;
	uint64_t acc = 0;
	for (size_t i = 0; i < IPV4_HDR_MIN_BYTES; i += 4) {
		uint32_t w;
		memcpy(&w, pkt + i, sizeof(w));
		acc += w;
	}
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffu) + (acc >> 16);
	acc = (acc & 0xffffu) + (acc >> 16);
	acc = (acc & 0xffffu) + (acc >> 16);
	return acc == 0xffff;
}

int ipv4_parse(const uint8_t *pkt, size_t len, struct ipv4_view *out)
{
	return ipv4_parse_hw(pkt, len, false, out);
}

int ipv4_parse_hw(const uint8_t *pkt, size_t len, bool csum_verified, struct ipv4_view *out)
{
	if (pkt == NULL || len < IPV4_HDR_MIN_BYTES)
		return PROTO_ETRUNC;
	if ((pkt[0] >> 4) != 4)
		return PROTO_EVERSION;
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
	if (ihl < IPV4_HDR_MIN_BYTES)
		return PROTO_EVERSION;
	if (ihl > len)
		return PROTO_ETRUNC;
	uint16_t total_len = load_be16(pkt + 2);
	if (total_len < ihl)
		return PROTO_ELENGTH;
	if (total_len > len)
		return PROTO_ETRUNC;
	/* Summing a header that includes its own checksum gives 0xffff, i.e.
	 * a finished checksum of 0. */
	if (!csum_verified && !hdr_sum_ok(pkt, ihl))
		return PROTO_ECHECKSUM;
	uint16_t frag = load_be16(pkt + 6);
	if ((frag & IPV4_FLAG_MF) || (frag & IPV4_FRAG_OFF_MASK))
		return PROTO_EUNSUPPORTED;

	out->ihl_bytes = (uint8_t)ihl;
	out->tos = pkt[1];
	out->total_len = total_len;
	out->id = load_be16(pkt + 4);
	out->ttl = pkt[8];
	out->proto = pkt[9];
	out->src = load_be32(pkt + 12);
	out->dst = load_be32(pkt + 16);
	out->payload = pkt + ihl;
	out->payload_len = (uint16_t)(total_len - ihl);
	return PROTO_OK;
}

/* DF is always set (no fragmentation anywhere in the stack). A payload too
 * large for the 16-bit total length is PROTO_ELENGTH. */
int ipv4_build(uint8_t *buf, size_t cap, uint32_t src, uint32_t dst, uint8_t proto,
	       uint8_t tos, uint16_t id, uint8_t ttl, uint16_t payload_len)
{
	if (buf == NULL || cap < IPV4_HDR_MIN_BYTES)
		return PROTO_ENOSPACE;
	if ((uint32_t)payload_len + IPV4_HDR_MIN_BYTES > 0xffffu)
		return PROTO_ELENGTH;
	buf[0] = 0x45;
	buf[1] = tos;
	store_be16(buf + 2, (uint16_t)(payload_len + IPV4_HDR_MIN_BYTES));
	store_be16(buf + 4, id);
	store_be16(buf + 6, IPV4_FLAG_DF);
	buf[8] = ttl;
	buf[9] = proto;
	store_be16(buf + 10, 0);
	store_be32(buf + 12, src);
	store_be32(buf + 16, dst);
	uint16_t csum = inet_checksum(buf, IPV4_HDR_MIN_BYTES, 0);
	memcpy(buf + 10, &csum, sizeof(csum)); /* already network order */
	return IPV4_HDR_MIN_BYTES;
}
