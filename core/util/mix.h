/*
 * mix.h: the splitmix64 finalizer, a fast bijective scrambler of 64-bit
 * values. Payload patterns are built from it so that a byte's value is a
 * pure function of (key, offset) and a misplaced byte never matches.
 */
#ifndef BT_UTIL_MIX_H
#define BT_UTIL_MIX_H

#include <stdint.h>

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* splitmix64: the next value of the generator whose state is *state (a
 * Weyl sequence through mix64); seeds xoshiro and draws keys. */
static inline uint64_t splitmix64(uint64_t *state)
{
	return mix64(*state += 0x9e3779b97f4a7c15ull);
}

#endif
