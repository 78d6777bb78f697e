#include "run_cmd.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char bin_path[PATH_MAX];

const char *test_bluetas_bin(void)
{
	if (bin_path[0])
		return bin_path;
	const char *b = getenv("BLUETAS_BIN");
	if (!b || !*b)
		b = "build/bluetas";
	/* Resolve the binary before moving to the source directory. */
	if (!realpath(b, bin_path))
		snprintf(bin_path, sizeof(bin_path), "%s", b);
	const char *dir = getenv("BT_SRCDIR");
	if (dir && *dir && chdir(dir) < 0)
		perror(dir);
	return bin_path;
}

int test_run_bluetas(const char *args, char *out, size_t cap)
{
	static char cmd[PATH_MAX + 8192];
	if (snprintf(cmd, sizeof(cmd), "%s %s 2>&1", test_bluetas_bin(), args) >= (int)sizeof(cmd))
		return -1;
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	/* Drain what did not fit so the child never blocks on a full pipe. */
	char sink[4096];
	while (fread(sink, 1, sizeof(sink), p) > 0)
		;
	int status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char *test_expect_bluetas(const char *args, int want, const char *must, const char *must_not)
{
	static char out[65536];
	int rc = test_run_bluetas(args, out, sizeof(out));
	if (rc != want || (must && !strstr(out, must)) || (must_not && strstr(out, must_not)))
		fail_msg("`bluetas %s`: exit %d, output:\n%s\n(expected exit %d%s%s%s%s)", args, rc, out, want,
			 must ? ", mentioning " : "", must ? must : "", must_not ? ", never " : "",
			 must_not ? must_not : "");
	return out;
}
