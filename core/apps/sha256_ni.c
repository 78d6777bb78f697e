/*
 * sha256_ni.c: SHA-256's block function on the x86 SHA extensions
 * (sha256rnds2, sha256msg1, sha256msg2), about 5x the portable loop of
 * sha256.c. The bulk apps hash every byte they send or receive on the
 * daemon's own thread, so the portable loop (~0.3 GB/s) cost the interop
 * bulk and loss runs a third of the daemon's CPU at 1 Gbit/s
 * (docs/benchmarks.md). Two rounds per sha256rnds2, the state held as
 * ABEF and CDGH, as the instructions want it.
 */
#include "sha256_ni.h"

#if SHA256_NI
#include <cpuid.h>
#include <immintrin.h>

int sha256_ni_usable(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 29)))
		return 0;
	return __builtin_cpu_supports("sse4.1");
}

__attribute__((target("sha,sse4.1,ssse3"))) void sha256_ni_blocks(uint32_t h[8], const uint8_t *p, size_t blocks,
								  const uint32_t k[64])
{
	/* Each 32-bit word of a block is big-endian. */
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
	__m128i dcba = _mm_loadu_si128((const __m128i *)&h[0]);
	__m128i hgfe = _mm_loadu_si128((const __m128i *)&h[4]);
	__m128i cdab = _mm_shuffle_epi32(dcba, 0xb1);
	__m128i efgh = _mm_shuffle_epi32(hgfe, 0x1b);
	__m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
	__m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xf0);
	for (; blocks; blocks--, p += 64) {
		__m128i abef_in = abef, cdgh_in = cdgh;
		__m128i w[16]; /* the message schedule, four words each */
		for (int g = 0; g < 16; g++) {
			if (g < 4) {
				w[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), bswap);
			} else {
				/* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16] */
				__m128i t = _mm_sha256msg1_epu32(w[g - 4], w[g - 3]);
				t = _mm_add_epi32(t, _mm_alignr_epi8(w[g - 1], w[g - 2], 4));
				w[g] = _mm_sha256msg2_epu32(t, w[g - 1]);
			}
			__m128i wk = _mm_add_epi32(w[g], _mm_loadu_si128((const __m128i *)&k[4 * g]));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
			abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0e));
		}
		abef = _mm_add_epi32(abef, abef_in);
		cdgh = _mm_add_epi32(cdgh, cdgh_in);
	}
	__m128i feba = _mm_shuffle_epi32(abef, 0x1b);
	__m128i dchg = _mm_shuffle_epi32(cdgh, 0xb1);
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xf0));
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
}
#endif
