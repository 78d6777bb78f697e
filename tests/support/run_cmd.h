/* run_cmd.h: run the CLI under test as a user would, for the e2e suites. */
#ifndef BT_TEST_RUN_CMD_H
#define BT_TEST_RUN_CMD_H

#include <stddef.h>

/* The bluetas binary to test: $BLUETAS_BIN (default build/bluetas),
 * resolved to an absolute path; then moves to $BT_SRCDIR if set, so
 * repository-relative paths work. Returns the path (static storage). */
const char *test_bluetas_bin(void);

/* Runs `BIN ARGS` through the shell with stderr merged into stdout, the
 * output (cut to cap-1 bytes, NUL-terminated) in out. Returns the exit
 * status, or -1 when the command died by a signal or could not start. */
int test_run_bluetas(const char *args, char *out, size_t cap);

/* Runs `BIN ARGS` and fails the test unless it exits `want` with output
 * that mentions `must` and never `must_not` (either may be NULL). Returns
 * the output (static storage, until the next call). */
const char *test_expect_bluetas(const char *args, int want, const char *must, const char *must_not);

#endif
