/*
 * checksum_avx2.c: the bulk of an internet checksum 32 bytes per step, on
 * x86-64 CPUs with AVX2 (checksum.c asks the CPU and calls this for long
 * buffers; elsewhere it is not built in).
 *
 * Each 16-bit word w is taken as the signed value w - 32768 (its top bit
 * flipped: one XOR), and VPMADDWD with ones adds neighbouring pairs into
 * signed 32-bit lanes: three instructions per 32 bytes (xor, madd, add)
 * where the 64-bit add-with-carry chain needs four. The exact sum of the
 * words is then the lanes' total plus 32768 per word. A lane moves by at
 * most 65536 per step, so the lanes are emptied into a 64-bit total every
 * 16,384 steps (512 KiB), long before they could overflow.
 */
#include "core/proto/checksum_avx2.h"

#if CSUM_AVX2

#include <immintrin.h>
#include <stdint.h>

#define STEPS_PER_FLUSH 16384u

/* The eight signed lanes, added as 64-bit numbers. */
__attribute__((target("avx2"))) static uint64_t lanes_total(__m256i acc)
{
	__m256i wide = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(acc)),
					_mm256_cvtepi32_epi64(_mm256_extracti128_si256(acc, 1)));
	__m128i two = _mm_add_epi64(_mm256_castsi256_si128(wide), _mm256_extracti128_si256(wide, 1));
	return (uint64_t)_mm_cvtsi128_si64(_mm_add_epi64(two, _mm_unpackhi_epi64(two, two)));
}

/* Four blocks per step: one loop test per 128 bytes. */
__attribute__((target("avx2"))) static __m256i sum_steps(const uint8_t *p, size_t quads, size_t rest)
{
	const __m256i top_bits = _mm256_set1_epi16((short)0x8000);
	const __m256i ones = _mm256_set1_epi16(1);
	__m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
	/* In assembly: compilers copy each accumulator once per step
	 * (GCC 12: a move after every add), a third more instructions. */
	if (quads) {
		const uint8_t *end = p + quads * 128;
		__m256i t0, t1, t2, t3;
		__asm__("1:\n\t"
			"vpxor (%[p]), %[top], %[t0]\n\t"
			"vpxor 32(%[p]), %[top], %[t1]\n\t"
			"vpxor 64(%[p]), %[top], %[t2]\n\t"
			"vpxor 96(%[p]), %[top], %[t3]\n\t"
			"vpmaddwd %[ones], %[t0], %[t0]\n\t"
			"vpmaddwd %[ones], %[t1], %[t1]\n\t"
			"vpmaddwd %[ones], %[t2], %[t2]\n\t"
			"vpmaddwd %[ones], %[t3], %[t3]\n\t"
			"vpaddd %[t0], %[a0], %[a0]\n\t"
			"vpaddd %[t1], %[a1], %[a1]\n\t"
			"vpaddd %[t2], %[a2], %[a2]\n\t"
			"vpaddd %[t3], %[a3], %[a3]\n\t"
			"subq $-128, %[p]\n\t"
			"cmpq %[p], %[end]\n\t"
			"jne 1b"
			: [p] "+r"(p), [a0] "+x"(a0), [a1] "+x"(a1), [a2] "+x"(a2), [a3] "+x"(a3), [t0] "=&x"(t0),
			  [t1] "=&x"(t1), [t2] "=&x"(t2), [t3] "=&x"(t3)
			: [end] "r"(end), [top] "x"(top_bits), [ones] "x"(ones)
			: "cc", "memory"); /* reads p[0 .. quads * 128) */
	}
	for (; rest; rest--, p += 32)
		a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_xor_si256(_mm256_loadu_si256((const __m256i *)p), top_bits), ones));
	return _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3));
}

/* The same sum over a copy: each block is loaded once, stored to dst and
 * summed from the register, four per step, one index for both buffers
 * (23 instructions per 128 bytes where a copy and then a sum take 26). */
__attribute__((target("avx2"))) static __m256i sum_copy_steps(uint8_t *dst, const uint8_t *src, size_t quads,
							       size_t rest)
{
	const __m256i top_bits = _mm256_set1_epi16((short)0x8000);
	const __m256i ones = _mm256_set1_epi16(1);
	__m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
	if (quads) {
		/* The index runs from -quads * 128 up to 0: its add sets
		 * the flags the loop ends on. */
		intptr_t i = -(intptr_t)(quads * 128);
		const uint8_t *s_end = src + quads * 128;
		uint8_t *d_end = dst + quads * 128;
		__m256i t0, t1, t2, t3;
		__asm__("1:\n\t"
			"vmovdqu (%[s],%[i]), %[t0]\n\t"
			"vmovdqu 32(%[s],%[i]), %[t1]\n\t"
			"vmovdqu 64(%[s],%[i]), %[t2]\n\t"
			"vmovdqu 96(%[s],%[i]), %[t3]\n\t"
			"vmovdqu %[t0], (%[d],%[i])\n\t"
			"vmovdqu %[t1], 32(%[d],%[i])\n\t"
			"vmovdqu %[t2], 64(%[d],%[i])\n\t"
			"vmovdqu %[t3], 96(%[d],%[i])\n\t"
			"vpxor %[t0], %[top], %[t0]\n\t"
			"vpxor %[t1], %[top], %[t1]\n\t"
			"vpxor %[t2], %[top], %[t2]\n\t"
			"vpxor %[t3], %[top], %[t3]\n\t"
			"vpmaddwd %[ones], %[t0], %[t0]\n\t"
			"vpmaddwd %[ones], %[t1], %[t1]\n\t"
			"vpmaddwd %[ones], %[t2], %[t2]\n\t"
			"vpmaddwd %[ones], %[t3], %[t3]\n\t"
			"vpaddd %[t0], %[a0], %[a0]\n\t"
			"vpaddd %[t1], %[a1], %[a1]\n\t"
			"vpaddd %[t2], %[a2], %[a2]\n\t"
			"vpaddd %[t3], %[a3], %[a3]\n\t"
			"addq $128, %[i]\n\t"
			"jnz 1b"
			: [i] "+r"(i), [a0] "+x"(a0), [a1] "+x"(a1), [a2] "+x"(a2), [a3] "+x"(a3), [t0] "=&x"(t0),
			  [t1] "=&x"(t1), [t2] "=&x"(t2), [t3] "=&x"(t3)
			: [s] "r"(s_end), [d] "r"(d_end), [top] "x"(top_bits), [ones] "x"(ones)
			: "cc", "memory"); /* reads src, writes dst, quads * 128 bytes each */
		src = s_end;
		dst = d_end;
	}
	for (; rest; rest--, src += 32, dst += 32) {
		__m256i w = _mm256_loadu_si256((const __m256i *)src);
		_mm256_storeu_si256((__m256i *)dst, w);
		a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_xor_si256(w, top_bits), ones));
	}
	return _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3));
}

__attribute__((target("avx2"))) uint64_t csum_avx2_copy(uint8_t *dst, const uint8_t *src, size_t len)
{
	size_t blocks = len / 32, tail = len % 32, even_tail = tail & ~(size_t)1;
	uint64_t total = (uint64_t)blocks * 16u * 32768u;
	for (size_t left = blocks; left;) {
		size_t steps = left < STEPS_PER_FLUSH ? left : STEPS_PER_FLUSH;
		total += lanes_total(sum_copy_steps(dst, src, steps / 4, steps % 4));
		src += steps * 32;
		dst += steps * 32;
		left -= steps;
	}
	if (even_tail) {
		/* The 32 bytes ending with the tail's last whole word, loaded
		 * and stored again (the bytes before the tail are the same),
		 * the ones before the tail masked to zero: a zero word adds
		 * nothing, and the bias counts the block's 16 words. The
		 * block starts at an even offset, so its words are the
		 * buffer's words. */
		const __m256i index = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
						       19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
		const uint8_t *s_block = src + even_tail - 32;
		__m256i w = _mm256_loadu_si256((const __m256i *)s_block);
		_mm256_storeu_si256((__m256i *)(dst + even_tail - 32), w);
		__m256i in_tail = _mm256_cmpgt_epi8(index, _mm256_set1_epi8((char)(31 - even_tail)));
		w = _mm256_xor_si256(_mm256_and_si256(w, in_tail), _mm256_set1_epi16((short)0x8000));
		total += lanes_total(_mm256_madd_epi16(w, _mm256_set1_epi16(1))) + 16u * 32768u;
	}
	if (tail & 1) {
		/* An odd last byte: the low byte of a word padded with zero
		 * (little-endian, the only order this file is built for). */
		dst[tail - 1] = src[tail - 1];
		total += src[tail - 1];
	}
	return total;
}

__attribute__((target("avx2"))) uint64_t csum_avx2_words(const uint8_t *p, size_t blocks)
{
	uint64_t total = (uint64_t)blocks * 16u * 32768u; /* 16 words per block */
	while (blocks) {
		size_t steps = blocks < STEPS_PER_FLUSH ? blocks : STEPS_PER_FLUSH;
		total += lanes_total(sum_steps(p, steps / 4, steps % 4));
		p += steps * 32;
		blocks -= steps;
	}
	return total;
}

#endif
