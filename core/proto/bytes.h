/*
 * bytes.h: big-endian loads and stores at any alignment, for the codec.
 * memcpy keeps them free of unaligned access and strict-aliasing traps;
 * compilers turn each into one instruction.
 */
#ifndef BT_PROTO_BYTES_H
#define BT_PROTO_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint16_t load_be16(const uint8_t *p)
{
	uint8_t b[2];
	memcpy(b, p, sizeof(b));
	return (uint16_t)(((uint16_t)b[0] << 8) | b[1]);
}

static inline uint32_t load_be32(const uint8_t *p)
{
	uint8_t b[4];
	memcpy(b, p, sizeof(b));
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static inline void store_be16(uint8_t *p, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	memcpy(p, b, sizeof(b));
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	memcpy(p, b, sizeof(b));
}

#endif
