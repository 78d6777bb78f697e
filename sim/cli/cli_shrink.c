/*
 * cli_shrink.c: `bluetas shrink FILE --seed N`: a failing run reduced to a
 * small reproducer by delta debugging, written as a scenario file that
 * still fails the same way (the same failure class, with the same seed and
 * bugs), with a comment naming where it came from.
 *
 * The reductions work on the script's text, so the result is a script a
 * person reads: drop fault lines, drop client apps (with the lines that
 * name them), drop expectations other than the failing one, halve
 * connections, messages, message sizes, stream bytes and cycles, and cut
 * the time limit to what the failure needs. A candidate is kept when it
 * parses and its run fails in the same class; every candidate runs in a
 * forked child (a crash or a hang there is a rejected candidate, not the
 * end of the shrink) under a watchdog. Greedy passes repeat until none
 * changes anything, bounded by --max-runs.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../scenario.h"
#include "cli.h"

#define SHRINK_MAX_LINES 512
#define SHRINK_DEFAULT_RUNS 400
#define SHRINK_WATCHDOG_S 300u

void cli_shrink_usage(FILE *out)
{
	fprintf(out,
		"usage: bluetas shrink FILE --seed N [--bug NAME]... [-o OUT] [--max-runs M]\n"
		"\n"
		"Reduces a failing run of scenario FILE with seed N (and the bugs given) to a\n"
		"small reproducer by delta debugging: fewer faults, fewer applications and\n"
		"connections, fewer and smaller messages, fewer bytes, a shorter time limit.\n"
		"Every candidate is run with the same seed and bugs; it is kept when it fails\n"
		"the same way (same failure class: data mismatch, deadlock, out-of-bounds\n"
		"access, unfinished work, a counter, an error). The result is written as a\n"
		"scenario file whose first lines say where it came from and how to run it.\n"
		"Exit status: 0 written, 1 the run does not fail (nothing to shrink),\n"
		"2 usage, parse or write error.\n"
		"\n"
		"options:\n"
		"      --seed N        the failing seed (required)\n"
		"      --bug NAME      a bug class the failure needs, repeatable (see bluetas run --help)\n"
		"  -o, --out FILE      where to write it (default: NAME-seedN.shrunk.scn here)\n"
		"      --max-runs M    stop after M candidate runs (default %d)\n"
		"  -q, --quiet         no progress lines\n"
		"  -h, --help          this help\n"
		"\n"
		"example:\n"
		"  bluetas shrink scenarios/send_deadlock.scn --seed 1 --bug wakeup-no-timeout -o small.scn\n",
		SHRINK_DEFAULT_RUNS);
}

static const struct {
	const char *name;
	uint32_t bit;
} bugs[] = {
	{"rx-first-segment", SCN_BUG_RX_FIRST_SEGMENT_ONLY},
	{"wakeup-no-timeout", SCN_BUG_WAKEUP_NO_TIMEOUT},
	{"write-without-credits", SCN_BUG_WRITE_WITHOUT_CREDITS},
};

/* The script as lines; a removed line is NULL. */
struct script {
	char *line[SHRINK_MAX_LINES];
	size_t n;
};

struct shrink {
	const char *path;
	uint64_t seed;
	uint32_t bugs;
	size_t runs, max_runs;
	bool quiet;
	char want_class[128];
	char diagnosis[1024];
	uint64_t virtual_ns;
};

/* ---- the failure class ---- */

/* What kind of failure a diagnosis names: its first clause, reduced to
 * the words that do not depend on sizes or times. */
static void failure_class(const char *diag, char *out, size_t cap)
{
	static const char *const kinds[] = {
		"data mismatch", "deadlock", "out-of-bounds", "expected the deadlock detector", "time limit",
		"not finished within", "never saw", "saw an error", "completed", "sink", "setup", "crashed",
		"watchdog",
	};
	size_t first = strcspn(diag, ";\n");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *at = strstr(diag, kinds[i]);
		if (at && (size_t)(at - diag) < first) {
			snprintf(out, cap, "%s", kinds[i]);
			return;
		}
	}
	/* "counter NAME is V, expected ...": the counter is the class. */
	if (!strncmp(diag, "counter ", 8)) {
		size_t len = strcspn(diag + 8, " ");
		snprintf(out, cap, "counter %.*s", (int)len, diag + 8);
		return;
	}
	snprintf(out, cap, "%.*s", (int)(first < 60 ? first : 60), diag);
}

/* ---- running a candidate ---- */

struct verdict {
	int32_t parsed;              /* 0: did not parse (diagnosis holds why) */
	int32_t failed;
	uint64_t virtual_ns;
	char diagnosis[1024];
};

static char *join(const struct script *s)
{
	size_t len = 1;
	for (size_t i = 0; i < s->n; i++)
		if (s->line[i])
			len += strlen(s->line[i]) + 1;
	char *text = malloc(len), *p = text;
	if (!text)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		if (s->line[i]) {
			size_t l = strlen(s->line[i]);
			memcpy(p, s->line[i], l);
			p += l;
			*p++ = '\n';
		}
	*p = 0;
	return text;
}

static void child_run(int fd, const struct shrink *sh, const char *text)
{
	alarm(SHRINK_WATCHDOG_S);
	struct verdict v = {0};
	struct scenario *s = malloc(sizeof(*s));
	if (s && scenario_parse(sh->path, text, s, v.diagnosis, sizeof(v.diagnosis)) == 0) {
		v.parsed = 1;
		struct scenario_run_opts o = {.seed = sh->seed, .bugs = sh->bugs};
		struct scenario_result r;
		int rc = scenario_run(s, &o, &r);
		v.failed = rc != 0 || r.verdict != SCN_PASS;
		v.virtual_ns = r.virtual_ns;
		snprintf(v.diagnosis, sizeof(v.diagnosis), "%s", r.diagnosis);
		scenario_result_free(&r);
	}
	ssize_t w = write(fd, &v, sizeof(v));
	_exit(w == (ssize_t)sizeof(v) ? 0 : 3);
}

/* Runs the script; false if it could not be run at all. */
static bool try_run(struct shrink *sh, const struct script *s, struct verdict *v)
{
	memset(v, 0, sizeof(*v));
	char *text = join(s);
	int fds[2];
	if (!text || pipe(fds) < 0) {
		free(text);
		return false;
	}
	sh->runs++;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		child_run(fds[1], sh, text);
	}
	close(fds[1]);
	free(text);
	if (pid < 0) {
		close(fds[0]);
		return false;
	}
	size_t got = 0;
	while (got < sizeof(*v)) {
		ssize_t n = read(fds[0], (char *)v + got, sizeof(*v) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fds[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got != sizeof(*v)) {
		/* Crashed or killed: a failure, of the class "crashed". */
		memset(v, 0, sizeof(*v));
		v->parsed = 1;
		v->failed = 1;
		snprintf(v->diagnosis, sizeof(v->diagnosis), "%s",
			 WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? "watchdog" : "the run crashed");
	}
	v->diagnosis[sizeof(v->diagnosis) - 1] = 0;
	return true;
}

/* The candidate parses and fails the same way. */
static bool still_fails(struct shrink *sh, const struct script *s)
{
	if (sh->runs >= sh->max_runs)
		return false;
	struct verdict v;
	if (!try_run(sh, s, &v) || !v.parsed || !v.failed)
		return false;
	char cls[128];
	failure_class(v.diagnosis, cls, sizeof(cls));
	if (strcmp(cls, sh->want_class))
		return false;
	snprintf(sh->diagnosis, sizeof(sh->diagnosis), "%s", v.diagnosis);
	sh->virtual_ns = v.virtual_ns;
	return true;
}

/* ---- the size: faults x connections x bytes ---- */

struct size {
	uint64_t faults, conns, bytes;
};

static struct size size_of(const struct scenario *s)
{
	struct size z = {s->fault_count ? s->fault_count : 1, 0, 0};
	for (uint32_t i = 0; i < s->app_count; i++) {
		const struct scn_app *a = &s->apps[i];
		uint64_t per = 0;
		switch (a->kind) {
		case SCN_WL_ECHO: per = a->messages * a->msg_max_bytes; break;
		case SCN_WL_RPC: per = a->messages * (a->msg_max_bytes + a->resp_bytes); break;
		case SCN_WL_STREAM:
		case SCN_WL_PEER: per = a->bytes * (a->cycles ? a->cycles : 1); break;
		case SCN_WL_CHURN: per = (uint64_t)a->cycles * a->msg_max_bytes; break;
		default: continue;
		}
		z.conns += a->conns;
		z.bytes += a->conns * per;
	}
	if (!z.conns)
		z.conns = 1;
	return z;
}

static bool size_of_text(const struct shrink *sh, const struct script *s, struct size *out)
{
	char *text = join(s);
	struct scenario *scn = malloc(sizeof(*scn));
	char err[512];
	bool ok = text && scn && scenario_parse(sh->path, text, scn, err, sizeof(err)) == 0;
	if (ok)
		*out = size_of(scn);
	free(text);
	free(scn);
	return ok;
}

/* ---- text helpers ---- */

/* The n-th whitespace-separated word of line into out; false if none. */
static bool word(const char *line, int n, char *out, size_t cap)
{
	const char *p = line;
	for (int i = 0;; i++) {
		p += strspn(p, " \t");
		if (!*p)
			return false;
		size_t len = strcspn(p, " \t");
		if (i == n) {
			snprintf(out, cap, "%.*s", (int)len, p);
			return true;
		}
		p += len;
	}
}

static bool is_client_kind(const char *kind)
{
	return !strcmp(kind, "echo") || !strcmp(kind, "stream") || !strcmp(kind, "rpc") || !strcmp(kind, "churn") ||
	       !strcmp(kind, "hostile");
}

/* The line names app `name` (as a key's value, or in a counter or an
 * expectation). */
static bool mentions(const char *line, const char *name)
{
	char w[256];
	size_t nl = strlen(name);
	for (int i = 1; word(line, i, w, sizeof(w)); i++) {
		const char *eq = strchr(w, '=');
		if (eq && !strcmp(eq + 1, name))
			return true;
		if (!strcmp(w, name))
			return true;
		const char *dot = strchr(w, '.');
		if (dot && !strncmp(dot + 1, name, nl) && dot[1 + nl] == '.')
			return true;
	}
	return false;
}

/* Replaces key=VALUE in a line (returns a new malloc'd line). */
static char *with_value(const char *line, const char *key, const char *value)
{
	char pat[64];
	snprintf(pat, sizeof(pat), " %s=", key);
	const char *at = strstr(line, pat);
	if (!at)
		return NULL;
	const char *v = at + strlen(pat);
	size_t vlen = strcspn(v, " \t");
	size_t len = (size_t)(v - line) + strlen(value) + strlen(v + vlen) + 1;
	char *out = malloc(len);
	if (out)
		snprintf(out, len, "%.*s%s%s", (int)(v - line), line, value, v + vlen);
	return out;
}

/* SIZE/N text to a number (K/M/G powers of 1024, optional B). */
static bool parse_amount(const char *t, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	for (; i < len && t[i] >= '0' && t[i] <= '9'; i++) {
		if (v > UINT64_MAX / 10)
			return false;
		v = v * 10 + (uint64_t)(t[i] - '0');
	}
	if (i == 0)
		return false;
	uint64_t mul = 1;
	if (i < len) {
		switch (t[i]) {
		case 'K': mul = 1ull << 10; break;
		case 'M': mul = 1ull << 20; break;
		case 'G': mul = 1ull << 30; break;
		case 'B': break;
		default: return false;
		}
		i++;
	}
	if (i != len || v > UINT64_MAX / mul)
		return false;
	*out = v * mul;
	return true;
}

/* key's value on a line: a single amount or MIN..MAX. */
static bool get_range(const char *line, const char *key, uint64_t *lo, uint64_t *hi)
{
	char pat[64];
	snprintf(pat, sizeof(pat), " %s=", key);
	const char *at = strstr(line, pat);
	if (!at)
		return false;
	const char *v = at + strlen(pat);
	size_t vlen = strcspn(v, " \t");
	const char *dots = strstr(v, "..");
	if (dots && (size_t)(dots - v) < vlen)
		return parse_amount(v, (size_t)(dots - v), lo) && parse_amount(dots + 2, vlen - (size_t)(dots - v) - 2, hi);
	if (!parse_amount(v, vlen, lo))
		return false;
	*hi = *lo;
	return true;
}

/* ---- the passes ---- */

static void note(const struct shrink *sh, const char *what, const char *line)
{
	if (!sh->quiet)
		fprintf(stderr, "shrink: run %zu: %s: %s\n", sh->runs, what, line);
}

/* Drops lines of one statement kind, with the lines naming a dropped app. */
static bool pass_remove(struct shrink *sh, struct script *s, const char *stmt)
{
	bool changed = false;
	for (size_t i = s->n; i-- > 0;) {
		char w0[32], w1[128], w3[64];
		if (!s->line[i] || !word(s->line[i], 0, w0, sizeof(w0)) || strcmp(w0, stmt))
			continue;
		char *removed[SHRINK_MAX_LINES] = {0};
		removed[i] = s->line[i];
		s->line[i] = NULL;
		if (!strcmp(stmt, "app")) {
			if (!word(removed[i], 3, w3, sizeof(w3)) || !is_client_kind(w3) || !word(removed[i], 1, w1, sizeof(w1))) {
				s->line[i] = removed[i];
				continue;
			}
			for (size_t k = 0; k < s->n; k++)
				if (s->line[k] && mentions(s->line[k], w1)) {
					removed[k] = s->line[k];
					s->line[k] = NULL;
				}
		}
		if (still_fails(sh, s)) {
			note(sh, "dropped", removed[i]);
			for (size_t k = 0; k < s->n; k++)
				free(removed[k]);
			changed = true;
		} else {
			for (size_t k = 0; k < s->n; k++)
				if (removed[k])
					s->line[k] = removed[k];
		}
	}
	return changed;
}

/* Halves a key of app lines while the failure stays. */
static bool pass_halve(struct shrink *sh, struct script *s, const char *key)
{
	bool changed = false;
	for (size_t i = 0; i < s->n; i++) {
		char w0[32];
		if (!s->line[i] || !word(s->line[i], 0, w0, sizeof(w0)) || strcmp(w0, "app"))
			continue;
		for (int step = 0; step < 64 && sh->runs < sh->max_runs; step++) {
			uint64_t lo, hi;
			if (!get_range(s->line[i], key, &lo, &hi) || hi <= 1)
				break;
			uint64_t nhi = hi / 2, nlo = lo < nhi ? lo : nhi;
			char value[64];
			if (nlo == nhi)
				snprintf(value, sizeof(value), "%" PRIu64, nhi);
			else
				snprintf(value, sizeof(value), "%" PRIu64 "..%" PRIu64, nlo, nhi);
			char *cand = with_value(s->line[i], key, value);
			if (!cand)
				break;
			char *old = s->line[i];
			s->line[i] = cand;
			if (still_fails(sh, s)) {
				note(sh, "halved", cand);
				free(old);
				changed = true;
			} else {
				s->line[i] = old;
				free(cand);
				break;
			}
		}
	}
	return changed;
}

/* The time limit cut to a little more than the failing run needed. */
static bool pass_time(struct shrink *sh, struct script *s)
{
	uint64_t ms = sh->virtual_ns / 1000000u * 2 + 10;
	char line[64];
	snprintf(line, sizeof(line), "set time_limit %" PRIu64 "ms", ms);
	size_t at = s->n;
	for (size_t i = 0; i < s->n; i++) {
		char w0[32], w1[32];
		if (s->line[i] && word(s->line[i], 0, w0, sizeof(w0)) && !strcmp(w0, "set") &&
		    word(s->line[i], 1, w1, sizeof(w1)) && !strcmp(w1, "time_limit"))
			at = i;
	}
	char *old = at < s->n ? s->line[at] : NULL;
	if (old && !strcmp(old, line))
		return false;
	if (at == s->n) {
		if (s->n >= SHRINK_MAX_LINES)
			return false;
		/* After the scenario line, which is the first statement. */
		memmove(&s->line[2], &s->line[1], (s->n - 1) * sizeof(s->line[0]));
		at = 1;
		s->n++;
	}
	s->line[at] = strdup(line);
	if (s->line[at] && still_fails(sh, s)) {
		note(sh, "time limit", line);
		free(old);
		return true;
	}
	free(s->line[at]);
	s->line[at] = old;
	if (!old) {
		memmove(&s->line[1], &s->line[2], (s->n - 2) * sizeof(s->line[0]));
		s->n--;
	}
	return false;
}

/* Reads FILE as statements: comments and blank lines dropped. */
static int load_script(const char *path, struct script *s, char *err, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = NULL;
	size_t bcap = 0;
	ssize_t len;
	while ((len = getline(&buf, &bcap, f)) >= 0) {
		buf[strcspn(buf, "#\r\n")] = 0;
		len = (ssize_t)strlen(buf);
		while (len && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
			buf[--len] = 0;
		if (!buf[strspn(buf, " \t")])
			continue;
		if (s->n >= SHRINK_MAX_LINES - 1) {
			snprintf(err, cap, "%s: more than %d statements", path, SHRINK_MAX_LINES - 1);
			free(buf);
			fclose(f);
			return -1;
		}
		s->line[s->n++] = strdup(buf + strspn(buf, " \t"));
	}
	free(buf);
	fclose(f);
	return 0;
}

static void free_script(struct script *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->line[i]);
	s->n = 0;
}

static void bug_flags(uint32_t mask, char *out, size_t cap)
{
	out[0] = 0;
	for (size_t i = 0; i < sizeof(bugs) / sizeof(bugs[0]); i++)
		if (mask & bugs[i].bit) {
			size_t l = strlen(out);
			snprintf(out + l, cap - l, " --bug %s", bugs[i].name);
		}
}

static int write_result(const struct shrink *sh, const struct script *s, FILE *f, const char *out,
			const struct size *from, const struct size *to)
{
	char flags[256];
	bug_flags(sh->bugs, flags, sizeof(flags));
	fprintf(f, "# Shrunk by `bluetas shrink %s --seed %" PRIu64 "%s` (%zu candidate runs)\n", sh->path, sh->seed,
		flags, sh->runs);
	fprintf(f, "# from %s: faults x connections x bytes %" PRIu64 " x %" PRIu64 " x %" PRIu64 " -> %" PRIu64
		   " x %" PRIu64 " x %" PRIu64 ".\n",
		sh->path, from->faults, from->conns, from->bytes, to->faults, to->conns, to->bytes);
	fprintf(f, "# It fails the same way (%s): %.*s\n", sh->want_class, (int)strcspn(sh->diagnosis, "\n"),
		sh->diagnosis);
	fprintf(f, "# Run it with: bluetas run %s --seed %" PRIu64 "%s\n", out, sh->seed, flags);
	for (size_t i = 0; i < s->n; i++)
		if (s->line[i])
			fprintf(f, "%s\n", s->line[i]);
	if (ferror(f) | (fclose(f) != 0)) {
		fprintf(stderr, "bluetas shrink: %s: write error: %s\n", out, strerror(errno ? errno : EIO));
		return -1;
	}
	return 0;
}

int cli_shrink(int argc, char **argv)
{
	enum { OPT_SEED = 256, OPT_BUG, OPT_MAX_RUNS };
	static const struct option opts[] = {
		{"seed", required_argument, 0, OPT_SEED}, {"bug", required_argument, 0, OPT_BUG},
		{"out", required_argument, 0, 'o'},       {"max-runs", required_argument, 0, OPT_MAX_RUNS},
		{"quiet", no_argument, 0, 'q'},           {"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	struct shrink sh = {.max_runs = SHRINK_DEFAULT_RUNS};
	bool seed_given = false;
	const char *out = NULL;
	uint64_t v;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:qh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SEED:
			if (cli_parse_u64("--seed", optarg, 0, UINT64_MAX, &sh.seed) < 0)
				return 2;
			seed_given = true;
			break;
		case OPT_BUG: {
			size_t i = 0;
			while (i < sizeof(bugs) / sizeof(bugs[0]) && strcmp(optarg, bugs[i].name))
				i++;
			if (i == sizeof(bugs) / sizeof(bugs[0])) {
				fprintf(stderr, "bluetas shrink: --bug: unknown bug '%s' (expected rx-first-segment, "
						"wakeup-no-timeout or write-without-credits)\n", optarg);
				return 2;
			}
			sh.bugs |= bugs[i].bit;
			break;
		}
		case 'o':
			if (!*optarg) {
				fprintf(stderr, "bluetas shrink: --out: expected a file name\n");
				return 2;
			}
			out = optarg;
			break;
		case OPT_MAX_RUNS:
			if (cli_parse_u64("--max-runs", optarg, 1, 1000000, &v) < 0)
				return 2;
			sh.max_runs = (size_t)v;
			break;
		case 'q':
			sh.quiet = true;
			break;
		case 'h':
			cli_shrink_usage(stdout);
			return 0;
		default: /* ':' a value missing, '?' an unknown option */
			cli_opt_error("shrink", c, argv);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "bluetas shrink: expected exactly one scenario file (see bluetas shrink --help)\n");
		return 2;
	}
	if (!seed_given) {
		fprintf(stderr, "bluetas shrink: --seed N is required: the seed of the failing run\n");
		return 2;
	}
	sh.path = argv[optind];
	struct scenario *orig = malloc(sizeof(*orig));
	char err[1024];
	if (!orig || scenario_load(sh.path, orig, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", orig ? err : "bluetas shrink: out of memory");
		free(orig);
		return 2;
	}
	char default_out[512];
	if (!out) {
		snprintf(default_out, sizeof(default_out), "%s-seed%" PRIu64 ".shrunk.scn", orig->name, sh.seed);
		out = default_out;
	}
	struct size from = size_of(orig);
	free(orig);
	static struct script s;
	if (load_script(sh.path, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "bluetas shrink: %s\n", err);
		return 2;
	}
	/* Opened first: a path that cannot be written costs no runs. */
	FILE *outf = fopen(out, "w");
	if (!outf) {
		fprintf(stderr, "bluetas shrink: --out %s: %s\n", out, strerror(errno));
		free_script(&s);
		return 2;
	}
	/* The original must fail; its class is what every candidate keeps. */
	struct verdict first;
	if (!try_run(&sh, &s, &first) || !first.parsed || !first.failed) {
		if (!first.parsed)
			fprintf(stderr, "bluetas shrink: %s: cannot run it: %s\n", sh.path, first.diagnosis);
		else
			fprintf(stderr, "bluetas shrink: %s passes with seed %" PRIu64 ": nothing to shrink\n", sh.path,
				sh.seed);
		fclose(outf);
		unlink(out);
		free_script(&s);
		return first.parsed ? 1 : 2;
	}
	failure_class(first.diagnosis, sh.want_class, sizeof(sh.want_class));
	snprintf(sh.diagnosis, sizeof(sh.diagnosis), "%s", first.diagnosis);
	sh.virtual_ns = first.virtual_ns;
	if (!sh.quiet)
		fprintf(stderr, "shrink: %s seed %" PRIu64 " fails (%s): %.*s\n", sh.path, sh.seed, sh.want_class,
			(int)strcspn(first.diagnosis, "\n"), first.diagnosis);
	static const char *const halve_keys[] = {"conns", "messages", "bytes", "msg", "req", "resp", "cycles"};
	for (int round = 0; round < 8 && sh.runs < sh.max_runs; round++) {
		bool changed = false;
		changed |= pass_remove(&sh, &s, "fault");
		changed |= pass_remove(&sh, &s, "app");
		for (size_t k = 0; k < sizeof(halve_keys) / sizeof(halve_keys[0]); k++)
			changed |= pass_halve(&sh, &s, halve_keys[k]);
		changed |= pass_remove(&sh, &s, "expect");
		changed |= pass_time(&sh, &s);
		if (!changed)
			break;
	}
	struct size to = from;
	size_of_text(&sh, &s, &to);
	int rc = write_result(&sh, &s, outf, out, &from, &to) < 0 ? 2 : 0;
	if (rc == 0)
		printf("%s: faults x connections x bytes %" PRIu64 " x %" PRIu64 " x %" PRIu64 " -> %" PRIu64 " x %" PRIu64
		       " x %" PRIu64 " after %zu runs; fails the same way (%s)\n",
		       out, from.faults, from.conns, from.bytes, to.faults, to.conns, to.bytes, sh.runs, sh.want_class);
	free_script(&s);
	return rc;
}
