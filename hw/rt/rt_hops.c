/*
 * rt_hops.c: the hop trace's files for the real-time programs, and
 * `bluetas hops`, which joins them (rt_hops.h).
 */
#include "rt_hops.h"

#include <errno.h>
#include <string.h>

#include "../../core/util/hop_join.h"

int rt_hops_open(struct rt_hops *h, const char *path, char *err, size_t err_len)
{
	memset(h, 0, sizeof(*h));
	h->path = path;
	h->out = fopen(path, "w");
	if (!h->out) {
		snprintf(err, err_len, "--hops %s: %s", path, strerror(errno));
		return -1;
	}
	if (hop_trace_init(&h->trace, RT_HOPS_RECORDS, 0) < 0) {
		fclose(h->out);
		h->out = NULL;
		snprintf(err, err_len, "--hops: out of memory for %u records", RT_HOPS_RECORDS);
		return -1;
	}
	return 0;
}

int rt_hops_close(struct rt_hops *h, char *err, size_t err_len)
{
	if (!h->out)
		return 0;
	int rc = hop_trace_write(&h->trace, h->out);
	if (fclose(h->out) != 0)
		rc = -1;
	h->out = NULL;
	if (rc < 0)
		snprintf(err, err_len, "--hops %s: cannot write the trace", h->path);
	hop_trace_free(&h->trace);
	return rc;
}

void cli_hops_usage(FILE *out)
{
	fprintf(out,
		"usage: bluetas hops FILE...\n"
		"\n"
		"Joins the hop traces that `bluetas app --hops FILE` and `bluetas nic --hops FILE`\n"
		"wrote (the two halves of the same RPCs, stamped with CLOCK_MONOTONIC of one\n"
		"machine) and prints where the time of an RPC goes: p50 and p99 per hop, the sum\n"
		"of the p50s and the end-to-end p50/p99 (docs/benchmarks.md, \"Where the time\n"
		"goes\"). Exit status: 0 printed, 1 nothing joined, 2 a file cannot be read.\n");
}

int cli_hops(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		cli_hops_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	struct hop_trace all;
	memset(&all, 0, sizeof(all));
	char err[512];
	for (int i = 1; i < argc; i++) {
		FILE *in = fopen(argv[i], "r");
		if (!in) {
			fprintf(stderr, "bluetas hops: %s: %s\n", argv[i], strerror(errno));
			hop_trace_free(&all);
			return 2;
		}
		int rc = hop_trace_read(&all, in, argv[i], err, sizeof(err));
		fclose(in);
		if (rc < 0) {
			fprintf(stderr, "bluetas hops: %s\n", err);
			hop_trace_free(&all);
			return 2;
		}
	}
	struct hop_report r;
	if (hop_join(all.recs, all.count, all.dropped, &r) < 0) {
		fprintf(stderr, "bluetas hops: out of memory\n");
		hop_trace_free(&all);
		return 1;
	}
	char label[64];
	snprintf(label, sizeof(label), "%d file%s joined", argc - 1, argc > 2 ? "s" : "");
	int rc = hop_report_print(&r, label, stdout) < 0 ? 1 : 0;
	if (rc)
		fprintf(stderr, "bluetas hops: cannot write the report\n");
	if (!rc && r.count == 0) {
		fprintf(stderr, "bluetas hops: no RPC could be joined (%u incomplete): were both halves recorded?\n",
			r.incomplete);
		rc = 1;
	}
	hop_report_free(&r);
	hop_trace_free(&all);
	return rc;
}
