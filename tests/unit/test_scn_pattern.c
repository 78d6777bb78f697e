/*
 * test_scn_pattern.c: the scenario byte pattern checks every byte. A
 * corrupted byte anywhere in a segment, bytes displaced by a ring size or a
 * window, and bytes of another connection are all reported, at the right
 * offset; and the pattern is the same in any chunking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/scn_pattern.h"

#define KEY 0x1234567890abcdefull

static struct scn_pattern *new_pattern(void)
{
	struct scn_pattern *p = malloc(sizeof(*p));
	assert_non_null(p);
	scn_pattern_init(p);
	return p;
}

static void test_fill_matches_byte_in_any_chunking(void **state)
{
	(void)state;
	struct scn_pattern *p = new_pattern();
	const uint64_t base = 3 * SCN_PATTERN_WINDOW_BYTES - 5000; /* crosses a window edge */
	uint8_t *whole = malloc(20000), *pieces = malloc(20000);
	scn_pattern_fill(p, KEY, base, whole, 20000);
	for (uint64_t off = 0, step = 1; off < 20000; off += step, step = step * 7 % 1453 + 1)
		scn_pattern_fill(p, KEY, base + off, pieces + off, off + step > 20000 ? 20000 - off : step);
	assert_memory_equal(whole, pieces, 20000);
	for (uint64_t off = 0; off < 20000; off += 97)
		assert_int_equal(whole[off], scn_pattern_byte(p, KEY, base + off));
	uint64_t first = 99;
	assert_int_equal(scn_pattern_check(p, KEY, base, whole, 20000, &first), 0);
	assert_int_equal(first, 99); /* untouched */
	free(whole);
	free(pieces);
	free(p);
}

/* One flipped byte at every position of a 1448 B segment, at stream
 * offsets that put the segment across a window edge and the table's wrap. */
static void test_every_corrupted_byte_is_found(void **state)
{
	(void)state;
	struct scn_pattern *p = new_pattern();
	const uint64_t offs[] = {0, 16, SCN_PATTERN_WINDOW_BYTES - 700, 5 * SCN_PATTERN_WINDOW_BYTES + 64000,
				 (1ull << 40) + 12345};
	uint8_t seg[1448];
	for (size_t o = 0; o < sizeof(offs) / sizeof(offs[0]); o++) {
		scn_pattern_fill(p, KEY, offs[o], seg, sizeof(seg));
		for (size_t i = 0; i < sizeof(seg); i++) {
			seg[i] ^= 0x01;
			uint64_t first = 0;
			assert_int_equal(scn_pattern_check(p, KEY, offs[o], seg, sizeof(seg), &first), 1);
			assert_int_equal(first, offs[o] + i);
			seg[i] ^= 0x01;
		}
	}
	free(p);
}

/* Bytes from the right stream but the wrong place, or the right place of
 * another connection's stream, never pass. */
static void test_displaced_or_foreign_bytes_are_found(void **state)
{
	(void)state;
	struct scn_pattern *p = new_pattern();
	const uint64_t shifts[] = {1, 8, 1448, 4096, 65536, SCN_PATTERN_PERIOD, 1u << 17, 1u << 20, 1u << 24};
	uint8_t want[1448], got[1448];
	for (uint64_t at = 0; at < 4 * SCN_PATTERN_WINDOW_BYTES; at += 33333) {
		scn_pattern_fill(p, KEY, at, want, sizeof(want));
		for (size_t s = 0; s < sizeof(shifts) / sizeof(shifts[0]); s++) {
			scn_pattern_fill(p, KEY, at + shifts[s], got, sizeof(got));
			uint64_t bad = scn_pattern_check(p, KEY, at, got, sizeof(got), NULL);
			/* Random bytes agree 1 in 256: most must differ. */
			assert_true(bad > sizeof(got) / 2);
		}
		scn_pattern_fill(p, KEY + 1, at, got, sizeof(got));
		assert_true(scn_pattern_check(p, KEY, at, got, sizeof(got), NULL) > sizeof(got) / 2);
		assert_memory_not_equal(want, got, sizeof(got));
	}
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fill_matches_byte_in_any_chunking),
		cmocka_unit_test(test_every_corrupted_byte_is_found),
		cmocka_unit_test(test_displaced_or_foreign_bytes_are_found),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
