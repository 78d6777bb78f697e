/*
 * cli_plot.c: `bluetas plot`, per-connection time series of one scenario
 * run drawn with gnuplot (throughput, bytes in flight, congestion window,
 * receive window, RTT, queue depth), and plot_series for the failure
 * captures of `bluetas run`. The series come from the scenario engine's
 * timeline (sim/timeline.h, TIMELINE_TSV_HEADER columns).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../scenario.h"
#include "cli.h"

#define PLOT_MAX_CONNS 8      /* lines per panel: the busiest connections */
#define PLOT_MAX_KEYS 4096

void cli_plot_usage(FILE *out)
{
	fprintf(out,
		"usage: bluetas plot FILE.scn [--seed N] [--bug NAME] -o OUT.png|OUT.svg\n"
		"       bluetas plot --series FILE.tsv -o OUT.png|OUT.svg\n"
		"\n"
		"Runs the scenario (virtual time) and draws its connections over time with\n"
		"gnuplot: throughput, bytes in flight, congestion window, receive window,\n"
		"smoothed RTT and queued bytes, one line per connection (the %d that moved\n"
		"the most bytes). The format follows OUT's suffix. `bluetas run` draws the\n"
		"same plot next to the pcap of every failure it records.\n"
		"Exit status: 0 written, 1 cannot run or write, 2 usage error.\n"
		"\n"
		"options:\n"
		"  -o, --output FILE   the picture (.png or .svg)\n"
		"      --seed N        the scenario's seed (default 1)\n"
		"      --bug NAME      a negative control's bug, as for bluetas run\n"
		"      --series FILE   plot a series written earlier instead of running\n"
		"  -h, --help          this help\n",
		PLOT_MAX_CONNS);
}

struct conn_key {
	char host[8];
	uint32_t slot, gen;
	uint64_t acked;           /* last acked_bytes: how much it moved */
	double last_t_ms;
	uint64_t last_acked;
	int block;                /* gnuplot data block, -1 when not drawn */
};

/* Reads the series, keeps the busiest connections, writes one gnuplot data
 * block per connection (time_ms thr_mbps in_flight cwnd rcv_wnd srtt_us
 * queued). Returns the number of blocks, or -1. */
static int prepare_data(const char *tsv, const char *dat, char names[][64], char *err, size_t err_len)
{
	FILE *in = fopen(tsv, "r");
	if (!in) {
		snprintf(err, err_len, "plot: cannot read %s: %s", tsv, strerror(errno));
		return -1;
	}
	static struct conn_key keys[PLOT_MAX_KEYS];
	uint32_t nkeys = 0;
	char line[512];
	/* pass 1: bytes moved per connection */
	while (fgets(line, sizeof(line), in)) {
		struct conn_key k = {0};
		double t;
		char state[24];
		unsigned long long acked;
		if (sscanf(line, "%lf\t%7s\t%" SCNu32 "\t%" SCNu32 "\t%23s\t%*u\t%*u\t%*u\t%*u\t%*u\t%*u\t%llu", &t, k.host,
			   &k.slot, &k.gen, state, &acked) != 6)
			continue;
		uint32_t i = 0;
		while (i < nkeys && !(keys[i].slot == k.slot && keys[i].gen == k.gen && !strcmp(keys[i].host, k.host)))
			i++;
		if (i == nkeys) {
			if (nkeys == PLOT_MAX_KEYS)
				continue;
			keys[nkeys++] = k;
		}
		keys[i].acked = acked;
	}
	/* the busiest PLOT_MAX_CONNS get a block each */
	int nblocks = 0;
	for (uint32_t i = 0; i < nkeys; i++)
		keys[i].block = -1;
	for (int b = 0; b < PLOT_MAX_CONNS; b++) {
		int best = -1;
		for (uint32_t i = 0; i < nkeys; i++)
			if (keys[i].block < 0 && (best < 0 || keys[i].acked > keys[best].acked))
				best = (int)i;
		if (best < 0)
			break;
		keys[best].block = nblocks;
		snprintf(names[nblocks], 64, "%s slot %" PRIu32 " gen %" PRIu32, keys[best].host, keys[best].slot,
			 keys[best].gen);
		nblocks++;
	}
	FILE *out = fopen(dat, "w");
	if (!out) {
		snprintf(err, err_len, "plot: cannot write %s: %s", dat, strerror(errno));
		fclose(in);
		return -1;
	}
	/* pass 2, once per block so that gnuplot's `index` finds each */
	for (int b = 0; b < nblocks; b++) {
		rewind(in);
		struct conn_key *key = NULL;
		for (uint32_t i = 0; i < nkeys; i++)
			if (keys[i].block == b)
				key = &keys[i];
		key->last_t_ms = -1;
		while (fgets(line, sizeof(line), in)) {
			char host[8], state[24];
			uint32_t slot, gen;
			double t;
			unsigned long long cwnd, infl, swnd, rwnd, rtt, queued, acked;
			if (sscanf(line, "%lf\t%7s\t%" SCNu32 "\t%" SCNu32 "\t%23s\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu", &t,
				   host, &slot, &gen, state, &cwnd, &infl, &swnd, &rwnd, &rtt, &queued, &acked) != 12)
				continue;
			if (slot != key->slot || gen != key->gen || strcmp(host, key->host))
				continue;
			double mbps = 0;
			if (key->last_t_ms >= 0 && t > key->last_t_ms)
				mbps = (double)(acked - key->last_acked) * 8.0 / ((t - key->last_t_ms) * 1e3);
			key->last_t_ms = t;
			key->last_acked = acked;
			fprintf(out, "%.6f %.3f %llu %llu %llu %llu %llu\n", t, mbps, infl, cwnd, rwnd, rtt, queued);
		}
		fprintf(out, "\n\n");
	}
	fclose(in);
	if (fclose(out) != 0) {
		snprintf(err, err_len, "plot: cannot write %s: %s", dat, strerror(errno));
		return -1;
	}
	if (nblocks == 0)
		snprintf(err, err_len, "plot: %s holds no connection samples", tsv);
	return nblocks ? nblocks : -1;
}

int plot_series(const char *tsv, const char *out_path, const char *title, char *err, size_t err_len)
{
	const char *dot = strrchr(out_path, '.');
	bool svg = dot && !strcmp(dot, ".svg");
	if (!dot || (!svg && strcmp(dot, ".png"))) {
		snprintf(err, err_len, "plot: %s: the output must end in .png or .svg", out_path);
		return -1;
	}
	char dat[PATH_MAX];
	if (snprintf(dat, sizeof(dat), "%s.dat", out_path) >= (int)sizeof(dat)) {
		snprintf(err, err_len, "plot: %s: path too long", out_path);
		return -1;
	}
	char names[PLOT_MAX_CONNS][64];
	int nblocks = prepare_data(tsv, dat, names, err, err_len);
	if (nblocks < 0) {
		unlink(dat);
		return -1;
	}
	/* gnuplot reads its script from stdin; its own errors go to ours */
	FILE *g = popen("gnuplot 2>&1", "w");
	if (!g) {
		snprintf(err, err_len, "plot: cannot start gnuplot (apt-get install gnuplot-nox): %s", strerror(errno));
		unlink(dat);
		return -1;
	}
	fprintf(g, "set terminal %s size 1400,1000 font ',10' noenhanced\nset output '%s'\n", svg ? "svg" : "pngcairo", out_path);
	fprintf(g, "set multiplot layout 3,2 title '%s'\nset xlabel 'time (ms)'\nset key top right font ',8'\nset grid\n",
		title);
	static const struct {
		const char *title;
		int col;
	} panels[] = {{"throughput (Mbit/s, acknowledged)", 2}, {"bytes in flight", 3}, {"congestion window (bytes)", 4},
		      {"receive window (bytes)", 5},           {"smoothed RTT (us)", 6}, {"queued bytes (send ring)", 7}};
	for (size_t p = 0; p < sizeof(panels) / sizeof(panels[0]); p++) {
		fprintf(g, "set title '%s'\nplot ", panels[p].title);
		for (int b = 0; b < nblocks; b++)
			fprintf(g, "%s'%s' index %d using 1:%d with steps title '%s'", b ? ", " : "", dat, b, panels[p].col,
				names[b]);
		fprintf(g, "\n");
	}
	fprintf(g, "unset multiplot\nset output\n");
	int status = pclose(g);
	unlink(dat);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, err_len, "plot: gnuplot failed writing %s (exit status %d)", out_path,
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	if (access(out_path, R_OK) != 0) {
		snprintf(err, err_len, "plot: gnuplot wrote no %s", out_path);
		return -1;
	}
	return 0;
}

int cli_plot(int argc, char **argv)
{
	enum { OPT_SEED = 256, OPT_BUG, OPT_SERIES };
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'}, {"seed", required_argument, 0, OPT_SEED},
		{"bug", required_argument, 0, OPT_BUG}, {"series", required_argument, 0, OPT_SERIES},
		{"help", no_argument, 0, 'h'},         {0, 0, 0, 0},
	};
	const char *out = NULL, *series = NULL;
	uint64_t seed = 1;
	uint32_t bugs = 0;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case OPT_SEED:
			if (cli_parse_u64("--seed", optarg, 0, UINT64_MAX, &seed) < 0)
				return 2;
			break;
		case OPT_BUG:
			if (cli_parse_bug(optarg, &bugs) < 0)
				return 2;
			break;
		case OPT_SERIES:
			series = optarg;
			break;
		case 'h':
			cli_plot_usage(stdout);
			return 0;
		default: /* ':' a value missing, '?' an unknown option */
			cli_opt_error("plot", c, argv);
			return 2;
		}
	}
	if (!out) {
		fprintf(stderr, "bluetas plot: -o OUT.png or OUT.svg is required\n");
		return 2;
	}
	if ((series != NULL) == (optind < argc) || argc - optind > 1) {
		fprintf(stderr, "bluetas plot: give one scenario file or --series FILE (see bluetas plot --help)\n");
		return 2;
	}
	char err[1024];
	char tmp[PATH_MAX] = "";
	if (!series) {
		static struct scenario s;
		if (scenario_load(argv[optind], &s, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			return 2;
		}
		if (snprintf(tmp, sizeof(tmp), "%s.series.tsv", out) >= (int)sizeof(tmp)) {
			fprintf(stderr, "bluetas plot: %s: path too long\n", out);
			return 2;
		}
		struct scenario_run_opts o = {.seed = seed, .bugs = bugs, .series_path = tmp};
		struct scenario_result r;
		int rc = scenario_run(&s, &o, &r);
		scenario_result_free(&r);
		if (rc < 0) {
			fprintf(stderr, "bluetas plot: %s\n", r.output_error[0] ? r.output_error : r.diagnosis);
			unlink(tmp);
			return 1;
		}
		printf("%s seed %" PRIu64 ": %s%s%s\n", s.name, seed, r.verdict == SCN_PASS ? "PASS" : "FAIL",
		       r.verdict == SCN_PASS ? "" : ": ", r.verdict == SCN_PASS ? "" : r.diagnosis);
		series = tmp;
	}
	char title[256];
	snprintf(title, sizeof(title), "%.200s", tmp[0] ? argv[optind] : series);
	int rc = plot_series(series, out, title, err, sizeof(err));
	if (tmp[0])
		unlink(tmp);
	if (rc < 0) {
		fprintf(stderr, "bluetas %s\n", err);
		return 1;
	}
	printf("plot: %s\n", out);
	return 0;
}
