/*
 * cli_results.h: the machine-readable outputs of `bluetas run`: JSON lines
 * (`--results FILE`, read back by `bluetas report`) and JUnit XML
 * (`--junit FILE`, read by CI systems). Formats in docs/campaigns.md.
 *
 * Every writer returns 0, or -1 with errno set when the stream failed
 * (the caller reports it: output that cannot be written is an error).
 */
#ifndef BT_CLI_RESULTS_H
#define BT_CLI_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RESULTS_FORMAT "bluetas-results"
#define RESULTS_VERSION 1

/* What a results file covers: one shard of one sweep. */
struct campaign_info {
	uint32_t shard, shards;         /* K of N; 0 of 1 when not sharded */
	uint64_t seed_lo, seed_hi;
	const char *const *scenarios;   /* names, in command-line order */
	size_t scenario_count;
	const char *bugs;               /* "rx-first-segment,..." or "" */
	bool swarm;
	const char *backend;            /* sim, shm, rxe */
	size_t runs;                    /* runs in this shard */
};

/* One finished run. */
struct result_row {
	const char *scenario, *file;
	uint64_t seed;
	bool pass;
	const char *diagnosis;          /* "" when it passed */
	const char *swarm;              /* what swarm chose, NULL without --swarm */
	uint64_t virtual_ns, bytes;
	double wall_s;
	const char *reproduce;          /* the command line that reproduces it */
	const char *counters;           /* "name value\n" lines, or NULL */
};

/* The sweep's identity: the same for every shard of one sweep, whatever
 * the machine or the paths of the scripts (names, seeds, bugs, swarm and
 * backend only). 16 hex digits into out (17 bytes). */
void campaign_sweep_id(const struct campaign_info *c, char out[17]);

int results_write_header(FILE *f, const struct campaign_info *c);
int results_write_run(FILE *f, const struct result_row *r);
/* The last line: a file without it is a shard that did not finish. */
int results_write_end(FILE *f, size_t passed, size_t failed);

/* The whole JUnit document: a <testsuite> per scenario, a <testcase> per
 * run, a <failure> with the diagnosis and the reproduce line. */
int junit_write(FILE *f, const char *suite_name, const struct result_row *rows, size_t n);

/* FNV-1a, 64 bits: the digest of a run's counters that `bluetas report
 * --runs` prints, so two sweeps compare seed for seed. */
uint64_t fnv1a64(const char *s);

void json_put_string(FILE *f, const char *s);

#endif
