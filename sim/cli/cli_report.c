/*
 * cli_report.c: `bluetas report FILES...`, the shards of a campaign
 * (`bluetas run --shard K/N --results FILE`) merged into one summary:
 * per scenario how many runs passed, every failure with its diagnosis and
 * reproduce line. It checks that the files belong to one sweep and that
 * the sweep is complete: every shard present once, each finished (its end
 * line written), no (scenario, seed) pair twice, every pair there.
 * `--runs` lists every run, one line each in (scenario, seed) order with
 * its counters' digest, so two campaigns compare seed for seed with diff.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_results.h"
#include "json_read.h"

#define REPORT_MAX_LINE_BYTES (8u << 20)
#define REPORT_MAX_PROBLEMS 20 /* problems listed before "and N more" */

void cli_report_usage(FILE *out)
{
	fprintf(out,
		"usage: bluetas report FILE... [--runs]\n"
		"\n"
		"Merges the JSON results of `bluetas run --results` (one file per shard of a\n"
		"campaign, `--shard K/N`, or one file for a whole sweep) into one summary: runs,\n"
		"passes and failures per scenario, and every failure with its diagnosis, swarm\n"
		"choice and reproduce line. The files must be one sweep (same scenarios, seeds,\n"
		"bugs, swarm, backend and shard count); a shard missing or given twice, a shard\n"
		"that did not finish, and a (scenario, seed) pair seen twice are reported.\n"
		"Exit status: 0 complete and every run passed, 1 complete with failures,\n"
		"2 unreadable input or an incomplete campaign (the summary still shows what is there).\n"
		"\n"
		"options:\n"
		"      --runs         also list every run: scenario, seed, result, virtual ns, bytes\n"
		"                     and the digest of its counters, in (scenario, seed) order\n"
		"  -h, --help         this help\n"
		"\n"
		"examples:\n"
		"  bluetas report out/shard-*/results.jsonl\n"
		"  diff <(bluetas report --runs all.jsonl) <(bluetas report --runs shard-*.jsonl)\n");
}

struct rfile {
	const char *path;
	uint64_t shard, shards, runs_declared;
	char sweep[32];
	char *header_text;          /* scenarios, seeds, bugs, swarm, backend: for the summary */
	char **scenarios;
	size_t scenario_count;
	size_t runs_seen;
	bool ended;
	uint64_t end_passed, end_failed;
};

struct rrun {
	size_t scenario;            /* index in the first file's scenario list */
	uint64_t seed;
	bool pass;
	char *diagnosis, *swarm, *reproduce, *digest;
	uint64_t virtual_ns, bytes;
	size_t file;
};

struct report {
	struct rfile *files;
	size_t nfiles;
	struct rrun *runs;
	size_t nruns, cap;
	size_t problems;
	bool unreadable;
	uint64_t seed_lo, seed_hi;
};

static void problem(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct report *r, const char *fmt, ...)
{
	if (r->problems++ >= REPORT_MAX_PROBLEMS)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("bluetas report: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static int read_header(struct report *r, struct rfile *f, const struct json *v, size_t line)
{
	const char *format = json_get_string(v, "format");
	uint64_t version = 0;
	if (!format || strcmp(format, RESULTS_FORMAT) || json_get_u64(v, "version", &version) < 0) {
		problem(r, "%s:%zu: not a results file of `bluetas run --results` (no \"format\":\"" RESULTS_FORMAT
			   "\" header)", f->path, line);
		return -1;
	}
	if (version != RESULTS_VERSION) {
		problem(r, "%s:%zu: results format version %" PRIu64 ", this bluetas reads version %d", f->path, line, version,
			RESULTS_VERSION);
		return -1;
	}
	const char *sweep = json_get_string(v, "sweep"), *seeds = json_get_string(v, "seeds");
	const struct json *names = json_get(v, "scenarios");
	if (!sweep || !seeds || !names || names->kind != JSON_ARRAY || json_get_u64(v, "shard", &f->shard) < 0 ||
	    json_get_u64(v, "shards", &f->shards) < 0 || json_get_u64(v, "runs", &f->runs_declared) < 0 ||
	    f->shards == 0 || f->shard >= f->shards || strlen(sweep) >= sizeof(f->sweep)) {
		problem(r, "%s:%zu: the campaign header lacks sweep, seeds, scenarios, shard < shards or runs", f->path,
			line);
		return -1;
	}
	snprintf(f->sweep, sizeof(f->sweep), "%s", sweep);
	f->scenarios = calloc(names->count ? names->count : 1, sizeof(*f->scenarios));
	if (!f->scenarios)
		return -1;
	for (size_t i = 0; i < names->count; i++) {
		if (names->items[i].kind != JSON_STRING) {
			problem(r, "%s:%zu: a scenario name is not a string", f->path, line);
			return -1;
		}
		f->scenarios[i] = strdup(names->items[i].text);
		f->scenario_count++;
	}
	const struct json *swarm = json_get(v, "swarm");
	char text[512];
	snprintf(text, sizeof(text), "seeds %s, %zu scenario%s, bugs %s, swarm %s, backend %s", seeds,
		 f->scenario_count, f->scenario_count == 1 ? "" : "s",
		 json_get_string(v, "bugs") && *json_get_string(v, "bugs") ? json_get_string(v, "bugs") : "none",
		 swarm && swarm->boolean ? "on" : "off",
		 json_get_string(v, "backend") ? json_get_string(v, "backend") : "?");
	f->header_text = strdup(text);
	const char *dots = strstr(seeds, "..");
	if (dots) {
		r->seed_lo = strtoull(seeds, NULL, 10);
		r->seed_hi = strtoull(dots + 2, NULL, 10);
	}
	return 0;
}

static size_t scenario_index(const struct rfile *first, const char *name)
{
	for (size_t i = 0; i < first->scenario_count; i++)
		if (!strcmp(first->scenarios[i], name))
			return i;
	return (size_t)-1;
}

static int read_run(struct report *r, size_t fi, const struct json *v, size_t line)
{
	struct rfile *f = &r->files[fi];
	const char *scenario = json_get_string(v, "scenario"), *result = json_get_string(v, "result");
	struct rrun run = {.file = fi};
	if (!scenario || !result || json_get_u64(v, "seed", &run.seed) < 0 ||
	    (strcmp(result, "PASS") && strcmp(result, "FAIL"))) {
		problem(r, "%s:%zu: a run without scenario, seed and result PASS or FAIL", f->path, line);
		return -1;
	}
	run.scenario = scenario_index(&r->files[0], scenario);
	if (run.scenario == (size_t)-1) {
		problem(r, "%s:%zu: scenario '%s' is not in the campaign header", f->path, line, scenario);
		return -1;
	}
	run.pass = !strcmp(result, "PASS");
	json_get_u64(v, "virtual_ns", &run.virtual_ns);
	json_get_u64(v, "bytes", &run.bytes);
	run.diagnosis = dup_or_empty(json_get_string(v, "diagnosis"));
	run.swarm = json_get_string(v, "swarm") ? strdup(json_get_string(v, "swarm")) : NULL;
	run.reproduce = dup_or_empty(json_get_string(v, "reproduce"));
	run.digest = dup_or_empty(json_get_string(v, "counters_digest"));
	if (r->nruns == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 1024;
		struct rrun *n = realloc(r->runs, cap * sizeof(*n));
		if (!n)
			return -1;
		r->runs = n;
		r->cap = cap;
	}
	r->runs[r->nruns++] = run;
	f->runs_seen++;
	return 0;
}

static void read_file(struct report *r, size_t fi)
{
	struct rfile *f = &r->files[fi];
	FILE *in = fopen(f->path, "r");
	if (!in) {
		problem(r, "%s: %s", f->path, strerror(errno));
		r->unreadable = true;
		return;
	}
	char *line = NULL;
	size_t cap = 0, no = 0;
	ssize_t len;
	bool header = false;
	while ((len = getline(&line, &cap, in)) >= 0) {
		no++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = 0;
		if ((size_t)len > REPORT_MAX_LINE_BYTES) {
			problem(r, "%s:%zu: line longer than %u bytes", f->path, no, REPORT_MAX_LINE_BYTES);
			r->unreadable = true;
			break;
		}
		if (!len)
			continue;
		struct json v;
		char err[256];
		if (json_parse(line, (size_t)len, &v, err, sizeof(err)) < 0) {
			problem(r, "%s:%zu: %s", f->path, no, err);
			json_free(&v);
			r->unreadable = true;
			break;
		}
		const char *type = json_get_string(&v, "type");
		int rc = 0;
		if (!header) {
			if (!type || strcmp(type, "campaign")) {
				problem(r, "%s:%zu: expected the campaign header first", f->path, no);
				rc = -1;
			} else {
				rc = read_header(r, f, &v, no);
				header = rc == 0;
			}
		} else if (f->ended) {
			problem(r, "%s:%zu: text after the end line", f->path, no);
			rc = -1;
		} else if (type && !strcmp(type, "run")) {
			rc = read_run(r, fi, &v, no);
		} else if (type && !strcmp(type, "end")) {
			f->ended = true;
			json_get_u64(&v, "passed", &f->end_passed);
			json_get_u64(&v, "failed", &f->end_failed);
		} else {
			problem(r, "%s:%zu: unknown line type", f->path, no);
			rc = -1;
		}
		json_free(&v);
		if (rc < 0) {
			r->unreadable = true;
			break;
		}
		if (fi > 0 && no == 1 && header && strcmp(f->sweep, r->files[0].sweep)) {
			problem(r, "%s is from another sweep than %s (%s, not %s)", f->path, r->files[0].path,
				f->header_text, r->files[0].header_text ? r->files[0].header_text : "?");
			r->unreadable = true;
			break;
		}
	}
	if (ferror(in)) {
		problem(r, "%s: read error: %s", f->path, strerror(errno));
		r->unreadable = true;
	}
	free(line);
	fclose(in);
	if (!header && !r->unreadable) {
		problem(r, "%s: empty: no campaign header", f->path);
		r->unreadable = true;
	}
}

static int by_pair(const void *a, const void *b)
{
	const struct rrun *x = a, *y = b;
	if (x->scenario != y->scenario)
		return x->scenario < y->scenario ? -1 : 1;
	if (x->seed != y->seed)
		return x->seed < y->seed ? -1 : 1;
	return 0;
}

/* Shards present once each, every one finished, the pairs complete and
 * unique. Problems are printed; returns true when complete. */
static bool check_complete(struct report *r)
{
	bool ok = true;
	uint64_t n = r->files[0].shards;
	for (size_t i = 1; i < r->nfiles; i++)
		if (r->files[i].shards != n) {
			problem(r, "%s is shard %" PRIu64 " of %" PRIu64 ", %s of %" PRIu64 ": not one campaign", r->files[i].path,
				r->files[i].shard, r->files[i].shards, r->files[0].path, n);
			return false;
		}
	size_t missing = 0;
	char list[256] = "";
	for (uint64_t k = 0; k < n && k < 10000000; k++) {
		const struct rfile *seen = NULL;
		for (size_t i = 0; i < r->nfiles; i++) {
			if (r->files[i].shard != k)
				continue;
			if (seen) {
				problem(r, "shard %" PRIu64 "/%" PRIu64 " given twice: %s and %s", k, n, seen->path,
					r->files[i].path);
				ok = false;
			}
			seen = &r->files[i];
		}
		if (!seen) {
			if (missing++ < 20) {
				size_t l = strlen(list);
				snprintf(list + l, sizeof(list) - l, "%s%" PRIu64, l ? ", " : "", k);
			}
		}
	}
	if (missing) {
		problem(r, "%zu of %" PRIu64 " shards missing: %s%s", missing, n, list, missing > 20 ? ", ..." : "");
		ok = false;
	}
	for (size_t i = 0; i < r->nfiles; i++) {
		const struct rfile *f = &r->files[i];
		if (!f->ended) {
			problem(r, "%s: shard %" PRIu64 "/%" PRIu64 " did not finish (no end line; %zu of %" PRIu64 " runs)",
				f->path, f->shard, f->shards, f->runs_seen, f->runs_declared);
			ok = false;
		} else if (f->runs_seen != f->runs_declared) {
			problem(r, "%s: %zu runs, its header says %" PRIu64, f->path, f->runs_seen, f->runs_declared);
			ok = false;
		}
	}
	for (size_t i = 1; i < r->nruns; i++)
		if (!by_pair(&r->runs[i - 1], &r->runs[i])) {
			problem(r, "%s seed %" PRIu64 " is in the results twice (%s and %s)",
				r->files[0].scenarios[r->runs[i].scenario], r->runs[i].seed, r->files[r->runs[i - 1].file].path,
				r->files[r->runs[i].file].path);
			ok = false;
		}
	uint64_t want = (r->seed_hi - r->seed_lo + 1) * r->files[0].scenario_count;
	if (ok && r->nruns != want) {
		problem(r, "%zu runs in all, the sweep has %" PRIu64, r->nruns, want);
		ok = false;
	}
	return ok;
}

static void print_summary(const struct report *r, bool list_runs)
{
	const struct rfile *first = &r->files[0];
	printf("campaign %s: %s, %" PRIu64 " shard%s, %zu file%s\n", first->sweep, first->header_text, first->shards,
	       first->shards == 1 ? "" : "s", r->nfiles, r->nfiles == 1 ? "" : "s");
	int width = 8;
	for (size_t i = 0; i < first->scenario_count; i++)
		if ((int)strlen(first->scenarios[i]) > width)
			width = (int)strlen(first->scenarios[i]);
	printf("\n%-*s %8s %8s %8s\n", width, "scenario", "runs", "passed", "failed");
	size_t passed = 0, failed = 0;
	for (size_t s = 0; s < first->scenario_count; s++) {
		size_t n = 0, p = 0;
		for (size_t i = 0; i < r->nruns; i++)
			if (r->runs[i].scenario == s) {
				n++;
				p += r->runs[i].pass;
			}
		printf("%-*s %8zu %8zu %8zu\n", width, first->scenarios[s], n, p, n - p);
		passed += p;
		failed += n - p;
	}
	for (size_t i = 0; i < r->nruns; i++) {
		const struct rrun *x = &r->runs[i];
		if (x->pass)
			continue;
		printf("\nFAIL %s seed %" PRIu64 ":", first->scenarios[x->scenario], x->seed);
		for (const char *l = x->diagnosis; *l;) {
			size_t len = strcspn(l, "\n");
			printf("%s%.*s\n", l == x->diagnosis ? " " : "    ", (int)len, l);
			l += len;
			if (*l)
				l++;
		}
		if (!*x->diagnosis)
			printf("\n");
		if (x->swarm)
			printf("  swarm:     %s\n", x->swarm);
		printf("  reproduce: %s\n", x->reproduce);
	}
	if (list_runs) {
		printf("\n%-*s %-20s %-6s %-14s %-12s %s\n", width, "scenario", "seed", "result", "virtual_ns", "bytes",
		       "counters_digest");
		for (size_t i = 0; i < r->nruns; i++) {
			const struct rrun *x = &r->runs[i];
			printf("%-*s %-20" PRIu64 " %-6s %-14" PRIu64 " %-12" PRIu64 " %s\n", width,
			       first->scenarios[x->scenario], x->seed, x->pass ? "PASS" : "FAIL", x->virtual_ns, x->bytes,
			       x->digest);
		}
	}
	printf("\n%zu passed, %zu failed (%zu runs)\n", passed, failed, r->nruns);
}

static void free_report(struct report *r)
{
	for (size_t i = 0; i < r->nruns; i++) {
		free(r->runs[i].diagnosis);
		free(r->runs[i].swarm);
		free(r->runs[i].reproduce);
		free(r->runs[i].digest);
	}
	free(r->runs);
	for (size_t i = 0; i < r->nfiles; i++) {
		for (size_t k = 0; k < r->files[i].scenario_count; k++)
			free(r->files[i].scenarios[k]);
		free(r->files[i].scenarios);
		free(r->files[i].header_text);
	}
	free(r->files);
}

int cli_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{"runs", no_argument, 0, 'r'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	bool list_runs = false;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			list_runs = true;
			break;
		case 'h':
			cli_report_usage(stdout);
			return 0;
		default: /* ':' a value missing, '?' an unknown option */
			cli_opt_error("report", c, argv);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "bluetas report: no results file given (see bluetas report --help)\n");
		return 2;
	}
	struct report r = {0};
	r.nfiles = (size_t)(argc - optind);
	r.files = calloc(r.nfiles, sizeof(*r.files));
	if (!r.files) {
		fprintf(stderr, "bluetas report: out of memory\n");
		return 2;
	}
	for (size_t i = 0; i < r.nfiles; i++)
		r.files[i].path = argv[optind + (int)i];
	for (size_t i = 0; i < r.nfiles && !r.unreadable; i++)
		read_file(&r, i);
	if (r.unreadable) {
		if (r.problems > REPORT_MAX_PROBLEMS)
			fprintf(stderr, "bluetas report: and %zu more problems\n", r.problems - REPORT_MAX_PROBLEMS);
		free_report(&r);
		return 2;
	}
	qsort(r.runs, r.nruns, sizeof(*r.runs), by_pair);
	bool complete = check_complete(&r);
	print_summary(&r, list_runs);
	if (r.problems > REPORT_MAX_PROBLEMS)
		fprintf(stderr, "bluetas report: and %zu more problems\n", r.problems - REPORT_MAX_PROBLEMS);
	if (!complete)
		printf("INCOMPLETE: the merged results do not cover the sweep (see the messages above)\n");
	size_t failed = 0;
	for (size_t i = 0; i < r.nruns; i++)
		failed += !r.runs[i].pass;
	fflush(stdout);
	int rc = !complete || ferror(stdout) ? 2 : failed ? 1 : 0;
	free_report(&r);
	return rc;
}
