/*
 * scn_pattern.h: the byte pattern scenario applications send and check.
 * Every byte of a stream is a pure function of (key, stream offset), so a
 * receiver checks every byte it gets; generating and checking a range is a
 * memcpy / memcmp against one shared table, so a 1448 B segment costs a
 * few hundred instructions on each side instead of two hash calls per byte.
 *
 * The stream is cut into windows of SCN_PATTERN_WINDOW_BYTES at aligned
 * stream offsets. Window w of key k is the run of the table starting at
 * phase(k, w), a hash of both, wrapping around the table:
 *
 *   byte(k, off) = table[(off % WINDOW + phase(k, off / WINDOW)) % PERIOD]
 *
 * The table is SCN_PATTERN_PERIOD bytes from a fixed seed; PERIOD is prime
 * and each window starts at its own hashed phase, so bytes displaced by any
 * distance (a ring size, a window, a segment) or delivered to the wrong
 * connection match only by chance, about once in PERIOD per window: not a
 * pattern that repeats at a power of two, where ring bugs land.
 */
#ifndef BT_SIM_SCN_PATTERN_H
#define BT_SIM_SCN_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#define SCN_PATTERN_PERIOD 65521u         /* largest prime below 2^16 */
#define SCN_PATTERN_WINDOW_BYTES 65536u

struct scn_pattern {
	uint8_t table[SCN_PATTERN_PERIOD];
};

/* Fills the table; the same for every instance (a fixed seed), so a sender
 * and a receiver built apart agree. */
void scn_pattern_init(struct scn_pattern *p);

/* The one byte at `off`. */
uint8_t scn_pattern_byte(const struct scn_pattern *p, uint64_t key, uint64_t off);

/* Writes bytes [off, off + len) of key's stream into out. */
void scn_pattern_fill(const struct scn_pattern *p, uint64_t key, uint64_t off, uint8_t *out, size_t len);

/* Compares in[0, len) with bytes [off, off + len) of key's stream: returns
 * how many bytes differ (0: all equal), and the stream offset of the first
 * that differs in *first_bad_off (untouched when none differs). Every byte
 * is compared. */
uint64_t scn_pattern_check(const struct scn_pattern *p, uint64_t key, uint64_t off, const uint8_t *in, size_t len,
			   uint64_t *first_bad_off);

#endif
