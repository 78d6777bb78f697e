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
 *
 * Speed: a 1448-byte segment costs about 0.2 instructions per byte on
 * x86-64 with 64-bit words (was 3.2 with 16-bit words built byte by
 * byte; see sum_native16), about 0.13 where the CPU has AVX2
 * (checksum_avx2.c).
 */
#include "core/proto/proto.h"
#include "core/proto/checksum_avx2.h"

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

/* The ones' complement sum does not care about byte order (RFC 1071
 * 2.(B)): summing native 64-bit words and folding once gives the same
 * 16 bits as summing big-endian 16-bit words, byte-swapped on a
 * little-endian host. So the data is read 8 bytes at a time (memcpy loads:
 * any alignment), carries are kept (x86-64: one add-with-carry chain per
 * 64 bytes, RFC 1071 "deferred carries"), and the result is folded to 16
 * bits and swapped once per call. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CSUM_ADC 1 /* (the _addcarry_u64 intrinsic spills the sum each step) */
#endif

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof(w));
	return w;
}

/* Below this the AVX2 loop's setup and lane folding cost more than they
 * save (headers, pure ACKs); a full segment's payload is well above. */
#define CSUM_AVX2_MIN_BYTES 256

/* Native-order ones' complement sum of p[0..len) added to acc (a 64-bit
 * sum of native words), folded to 16 bits. */
static uint16_t sum_words16(const uint8_t *p, size_t len, uint64_t acc)
{
#ifdef CSUM_ADC
	for (; len >= 64; p += 64, len -= 64)
		__asm__("addq 0(%[p]), %[a]\n\t"
			"adcq 8(%[p]), %[a]\n\t"
			"adcq 16(%[p]), %[a]\n\t"
			"adcq 24(%[p]), %[a]\n\t"
			"adcq 32(%[p]), %[a]\n\t"
			"adcq 40(%[p]), %[a]\n\t"
			"adcq 48(%[p]), %[a]\n\t"
			"adcq 56(%[p]), %[a]\n\t"
			"adcq $0, %[a]"
			: [a] "+r"(acc)
			: [p] "r"(p), "m"(*(const uint8_t(*)[64])p)
			: "cc");
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w = load64(p);
		acc += w;
		acc += acc < w;
	}
#else
	uint64_t carry = 0;
	for (; len >= 32; p += 32, len -= 32) {
		uint64_t w0 = load64(p), w1 = load64(p + 8), w2 = load64(p + 16), w3 = load64(p + 24);
		acc += w0;
		carry += acc < w0;
		acc += w1;
		carry += acc < w1;
		acc += w2;
		carry += acc < w2;
		acc += w3;
		carry += acc < w3;
	}
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w = load64(p);
		acc += w;
		carry += acc < w;
	}
	acc += carry;
	acc += acc < carry;
#endif
	/* The last 0..7 bytes, zero-padded into one word. */
	if (len) {
		/* Constant-size pieces: no call to memcpy for a variable length. */
		uint8_t b[8] = {0};
		size_t i = 0;
		if (len & 4) {
			memcpy(b, p, 4);
			i = 4;
		}
		if (len & 2) {
			memcpy(b + i, p + i, 2);
			i += 2;
		}
		if (len & 1)
			b[i] = p[i];
		uint64_t w = load64(b);
		acc += w;
		acc += acc < w;
	}
	uint32_t s32 = (uint32_t)acc + (uint32_t)(acc >> 32);
	s32 += s32 < (uint32_t)acc;
	return fold32_to16(s32);
}

/* Native-order ones' complement sum of p[0..len), folded to 16 bits. */
static uint16_t sum_native16(const uint8_t *p, size_t len)
{
	uint64_t acc = 0;
#if CSUM_AVX2
	if (len >= CSUM_AVX2_MIN_BYTES && csum_avx2_usable()) {
		/* Its exact word sum starts the 64-bit one: both are sums of
		 * the same native words, and 2^16 == 1 modulo 0xffff. */
		size_t blocks = len / 32;
		acc = csum_avx2_words(p, blocks);
		p += blocks * 32;
		len -= blocks * 32;
	}
#endif
	return sum_words16(p, len, acc);
}

static inline uint16_t native16_to_be_number(uint16_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return v;
#else
	return (uint16_t)((v << 8) | (v >> 8));
#endif
}

uint32_t inet_sum_partial(const void *data, size_t len, uint32_t sum)
{
	if (len == 0 || data == NULL)
		return sum;
	uint64_t acc = (uint64_t)sum + native16_to_be_number(sum_native16(data, len));
	return fold64_to32(acc);
}

uint32_t inet_sum_copy(void *dst, const void *src, size_t len, uint32_t sum)
{
	if (len == 0)
		return sum;
#if CSUM_AVX2
	if (len >= CSUM_AVX2_MIN_BYTES && csum_avx2_usable()) {
		/* One pass: each block is summed from the register it was
		 * copied through. */
		uint64_t acc = csum_avx2_copy(dst, src, len);
		uint32_t s32 = (uint32_t)acc + (uint32_t)(acc >> 32);
		s32 += s32 < (uint32_t)acc;
		return fold64_to32((uint64_t)sum + native16_to_be_number(fold32_to16(s32)));
	}
#endif
	/* The copy and the sum read the same cache lines once; the sum goes
	 * over the destination, which is what the wire carries. */
	memcpy(dst, src, len);
	return inet_sum_partial(dst, len, sum);
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
