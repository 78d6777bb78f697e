/* scn_pattern.c: the scenario byte pattern (see scn_pattern.h). */
#include "scn_pattern.h"

#include <string.h>

#include "../core/util/mix.h"

#define TABLE_SEED 0x6a09e667f3bcc908ull

void scn_pattern_init(struct scn_pattern *p)
{
	uint64_t word = 0;
	for (uint32_t i = 0; i < SCN_PATTERN_PERIOD; i++) {
		if ((i & 7) == 0)
			word = mix64(TABLE_SEED + i);
		p->table[i] = (uint8_t)(word >> ((i & 7) * 8));
	}
}

/* Where window `w` of `key` starts in the table. */
static uint32_t phase(uint64_t key, uint64_t w)
{
	return (uint32_t)(mix64(key ^ mix64(w + 0x9e3779b97f4a7c15ull)) % SCN_PATTERN_PERIOD);
}

/* The longest run from `off` that is contiguous in the table (it ends at a
 * window edge or where the table wraps), capped at `len`; its first table
 * index in *idx. */
static size_t run_at(uint64_t key, uint64_t off, size_t len, uint32_t *idx)
{
	uint64_t in_window = off % SCN_PATTERN_WINDOW_BYTES;
	uint64_t i = (in_window + phase(key, off / SCN_PATTERN_WINDOW_BYTES)) % SCN_PATTERN_PERIOD;
	uint64_t run = SCN_PATTERN_WINDOW_BYTES - in_window;
	if (run > SCN_PATTERN_PERIOD - i)
		run = SCN_PATTERN_PERIOD - i;
	*idx = (uint32_t)i;
	return run < len ? (size_t)run : len;
}

uint8_t scn_pattern_byte(const struct scn_pattern *p, uint64_t key, uint64_t off)
{
	uint32_t i;
	run_at(key, off, 1, &i);
	return p->table[i];
}

void scn_pattern_fill(const struct scn_pattern *p, uint64_t key, uint64_t off, uint8_t *out, size_t len)
{
	while (len) {
		uint32_t i;
		size_t run = run_at(key, off, len, &i);
		memcpy(out, p->table + i, run);
		out += run;
		off += run;
		len -= run;
	}
}

uint64_t scn_pattern_check(const struct scn_pattern *p, uint64_t key, uint64_t off, const uint8_t *in, size_t len,
			   uint64_t *first_bad_off)
{
	uint64_t bad = 0;
	while (len) {
		uint32_t i;
		size_t run = run_at(key, off, len, &i);
		if (memcmp(in, p->table + i, run) != 0) {
			/* Rare: count exactly which bytes differ. */
			for (size_t k = 0; k < run; k++) {
				if (in[k] == p->table[i + k])
					continue;
				if (!bad && first_bad_off)
					*first_bad_off = off + k;
				bad++;
			}
		}
		in += run;
		off += run;
		len -= run;
	}
	return bad;
}
