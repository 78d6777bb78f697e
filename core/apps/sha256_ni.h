/*
 * sha256_ni.h: SHA-256's block function on the x86 SHA extensions
 * (sha256_ni.c), for sha256.c only.
 */
#ifndef BT_APPS_SHA256_NI_H
#define BT_APPS_SHA256_NI_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SHA256_NI 1
/* Runs `blocks` 64-byte blocks of p through the state h (FIPS 180-4
 * order: h[0] is a), with the round constants k. Call only where
 * sha256_ni_usable() said yes. */
void sha256_ni_blocks(uint32_t h[8], const uint8_t *p, size_t blocks, const uint32_t k[64]);
/* The CPU has the SHA extensions (CPUID 7.0:EBX bit 29) and SSE4.1. */
int sha256_ni_usable(void);
#else
#define SHA256_NI 0
#endif

#endif
