/*
 * checksum.c: Internet checksum (RFC 1071) and the TCP/IPv4 pseudo header.
 *
 * Sums are kept as numbers over big-endian 16-bit words (the byte order of
 * the wire), so partial sums from inet_sum_partial and tcp_pseudo_sum can be
 * added freely. Only inet_sum_finish / inet_checksum convert the final
 * 16-bit value to network byte order, so a memcpy of the result into the
 * packet stores it correctly on any host.
 *
 * Pieces combined with inet_sum_partial must have even lengths except for
 * the last one (an odd trailing byte is padded with a zero low byte).
 */
#include "core/proto/proto.h"

#include <string.h>

/* Folds a 64-bit accumulator to a 32-bit value with the same ones'
 * complement sum (end-around carry). */
static inline uint32_t fold64_to32(uint64_t s)
{
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

static inline uint16_t fold32_to16(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)s;
}

/* Host value -> the uint16_t whose in-memory bytes are big-endian. */
static inline uint16_t to_net16(uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	uint16_t out;
	memcpy(&out, b, sizeof(out));
	return out;
}

uint32_t inet_sum_partial(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t acc = sum;
	size_t i = 0;

	if (len == 0 || p == NULL)
		return sum;
	/* 8 bytes per step; the uint64_t accumulator cannot overflow before
	 * 2^46 bytes, far beyond any buffer handed to us. */
	for (; i + 8 <= len; i += 8) {
		acc += ((uint32_t)p[i] << 8) | p[i + 1];
		acc += ((uint32_t)p[i + 2] << 8) | p[i + 3];
		acc += ((uint32_t)p[i + 4] << 8) | p[i + 5];
		acc += ((uint32_t)p[i + 6] << 8) | p[i + 7];
	}
	for (; i + 2 <= len; i += 2)
		acc += ((uint32_t)p[i] << 8) | p[i + 1];
	if (i < len)
		acc += (uint32_t)p[i] << 8;
	return fold64_to32(acc);
}

uint16_t inet_sum_finish(uint32_t sum)
{
	return to_net16((uint16_t)~fold32_to16(sum));
}

uint16_t inet_checksum(const void *data, size_t len, uint32_t initial)
{
	return inet_sum_finish(inet_sum_partial(data, len, initial));
}

uint32_t tcp_pseudo_sum(uint32_t src_ip, uint32_t dst_ip, uint16_t tcp_len_bytes)
{
	uint64_t acc = 0;

	acc += src_ip >> 16;
	acc += src_ip & 0xffffu;
	acc += dst_ip >> 16;
	acc += dst_ip & 0xffffu;
	acc += IPV4_PROTO_TCP; /* zero byte, protocol byte */
	acc += tcp_len_bytes;
	return fold64_to32(acc);
}
