/*
 * checksum_avx2.h: the internet checksum's bulk loop in AVX2
 * (checksum_avx2.c), for checksum.c only.
 */
#ifndef BT_PROTO_CHECKSUM_AVX2_H
#define BT_PROTO_CHECKSUM_AVX2_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CSUM_AVX2 1
/* The exact sum of the native-order 16-bit words of p[0 .. 32 * blocks)
 * (not folded: a plain number). Call only where the CPU has AVX2. */
uint64_t csum_avx2_words(const uint8_t *p, size_t blocks);
/* The exact sum of the native-order 16-bit words of src[0..len) (an odd
 * last byte padded with zero), copied to dst on the way (no overlap).
 * len >= 32. */
uint64_t csum_avx2_copy(uint8_t *dst, const uint8_t *src, size_t len);
static inline int csum_avx2_usable(void)
{
	return __builtin_cpu_supports("avx2");
}
#else
#define CSUM_AVX2 0
#endif

#endif
