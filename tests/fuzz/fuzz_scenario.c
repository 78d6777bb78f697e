/*
 * fuzz_scenario.c: libFuzzer target for the scenario language parser
 * (sim/scenario_parse.c). The input is a file's text; NUL bytes end it
 * early as they would a C string (scenario_load refuses them before the
 * parser sees them). What must hold: no crash, no sanitizer report, and
 * either success or an error message in FILE:LINE:COL form; a parsed
 * scenario stays within its documented limits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 16))
		return 0; /* long inputs only slow the search; the parser bounds lines itself */
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	static struct scenario s; /* large: not on the stack */
	char err[1024];
	int rc = scenario_parse("fuzz.scn", text, &s, err, sizeof(err));
	if (rc < 0 && strncmp(err, "fuzz.scn:", 9) != 0) {
		fprintf(stderr, "error message without FILE:LINE:COL: '%s'\n", err);
		abort();
	}
	if (rc == 0 && (s.app_count == 0 || s.app_count > SCN_MAX_APPS || s.fault_count > SCN_MAX_FAULTS ||
			s.expect_count > SCN_MAX_EXPECTS)) {
		fprintf(stderr, "parsed scenario out of limits: %u apps %u faults %u expects\n", s.app_count,
			s.fault_count, s.expect_count);
		abort();
	}
	free(text);
	return 0;
}
