/*
 * cli_run.c: `bluetas run`, scenario scripts (docs/scenarios.md) over
 * seeds, in worker processes.
 *
 * Every file is parsed before anything runs, so a typo in the tenth file
 * costs nothing. Each run happens in a forked child: a crash or a hang in
 * one run becomes a FAIL row for that run (with its signal), not the end of
 * the whole sweep, and runs are independent of each other by construction.
 * A child sends back one fixed-size record over a pipe and never prints;
 * the parent prints the table in (file, seed) order whatever order the
 * runs finish in, so the output does not depend on --jobs.
 *
 * A failure is run again with the same seed, pcap and trace on, into the
 * failure directory: the sweep itself stays fast (no capture on runs that
 * pass), and what a failure leaves behind is the evidence for it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../core/util/appendf.h"
#include "../scenario.h"
#include "../scenario_swarm.h"
#include "cli.h"
#include "cli_results.h"
#include "../../hw/backends/rxe_channels.h"

#define RUN_MAX_JOBS 64
#define RUN_MAX_RUNS 1000000u    /* files x seeds; the parent keeps a slot per run */
#define RUN_MAX_CAPTURES 16      /* failures re-run with pcap and trace */
/* A virtual-time run is bounded by its time_limit in virtual time only; a
 * bug that spins without advancing it would hang the sweep without this. */
#define RUN_WATCHDOG_S 600u
#define RUN_DEFAULT_DIR "bluetas-failures"
#define RUN_RECORD_MAGIC 0x52554e31u /* "RUN1" */
#define RUN_MAX_SHARDS 1000000u
#define RUN_MAX_COUNTERS_BYTES (1u << 20) /* a run's counters text, at most */

void cli_run_usage(FILE *out)
{
	fprintf(out,
		"usage: bluetas run FILE... [OPTIONS]\n"
		"\n"
		"Runs scenario scripts (docs/scenarios.md): topology, stack and link settings,\n"
		"applications, faults and expectations. Every FILE is parsed first; any error\n"
		"is reported as FILE:LINE:COL and nothing runs. Each scenario then runs once\n"
		"per seed, each run in its own worker process, and a table says PASS or FAIL\n"
		"per run. A failing run is run again with the same seed, recording the wire\n"
		"(pcap) and an event trace into the failure directory, and the command that\n"
		"reproduces it is printed.\n"
		"Exit status: 0 every run passed, 1 a run failed, 2 usage or parse error.\n"
		"\n"
		"options:\n"
		"      --backend B        sim: virtual time, deterministic (default); shm: the same\n"
		"                         stacks and shm channels in real time; rxe: real time with\n"
		"                         every application's channel on RDMA verbs between\n"
		"                         $RXE_HOST_IP and $RXE_NIC_IP (Soft-RoCE: make test-rxe)\n"
		"      --seed N           run with this seed (default 1)\n"
		"      --seeds A..B       run with every seed from A to B (at most 1000000)\n"
		"  -j, --jobs N           worker processes, 1..64 (default 1)\n"
		"      --pcap DIR         where failing runs are recorded again: DIR/NAME-seedN.pcap,\n"
		"                         .trace, .perfetto.json, .png (plot) and .deadlock.txt\n"
		"                         (default " RUN_DEFAULT_DIR ")\n"
		"      --trace FILE       with a single run (one FILE, one seed): its event trace\n"
		"      --perfetto FILE    with a single run: its timeline as Chrome trace event JSON\n"
		"                         (open in ui.perfetto.dev)\n"
		"      --pcap-all FILE    with a single run: the wire as pcap, pass or fail\n"
		"      --shard K/N        run only shard K (0-based, K < N) of N: every Nth of the\n"
		"                         (scenario, seed) pairs, so N machines cover the sweep with\n"
		"                         no coordination (K = $SLURM_ARRAY_TASK_ID, a k8s Job's\n"
		"                         completion index, a CI matrix entry; docs/campaigns.md)\n"
		"      --results FILE     JSON lines: the sweep, then every run with its verdict,\n"
		"                         reproduce line and every counter (for bluetas report)\n"
		"      --junit FILE       JUnit XML: a testcase per scenario and seed, failures with\n"
		"                         their diagnosis and reproduce line\n"
		"      --swarm            each seed also picks which of the script's rate faults are\n"
		"                         on and at what fraction of their rate (swarm testing); the\n"
		"                         choice is in the table, the results and the reproduce line\n"
		"  -q, --quiet            print only failures and the summary; no progress bar\n"
		"      --bug NAME         bring a BlueTAS bug class back (negative control), repeatable:\n"
		"                         rx-first-segment, wakeup-no-timeout, write-without-credits,\n"
		"                         sleep-without-arm, drop-wakeups,\n"
		"                         no-sack (loss recovery without SACK: go-back-N, as TAS),\n"
		"                         no-simultaneous-open, no-simultaneous-close (a SYN in SYN_SENT,\n"
		"                         a FIN in FIN_WAIT_1 dropped: a stack with fixed roles),\n"
		"                         no-tail-recovery (no tail loss probe, no early retransmit:\n"
		"                         a lost tail waits for the RTO, as TAS)\n"
		"  -h, --help             this help\n"
		"\n"
		"examples:\n"
		"  bluetas run scenarios/*.scn\n"
		"  bluetas run scenarios/send_deadlock.scn --seeds 1..200 --jobs 8\n"
		"  bluetas run scenarios/multiseg_rx_mss536.scn --bug rx-first-segment   # must FAIL\n"
		"  bluetas run scenarios/*.scn --seeds 1..1000 --shard 3/8 --results s3.jsonl --junit s3.xml\n"
		"  bluetas report s*.jsonl          # merge the shards\n");
}

static const struct {
	const char *name;
	enum scn_bug bit;
} bug_names[] = {
	{"rx-first-segment", SCN_BUG_RX_FIRST_SEGMENT_ONLY},
	{"wakeup-no-timeout", SCN_BUG_WAKEUP_NO_TIMEOUT},
	{"write-without-credits", SCN_BUG_WRITE_WITHOUT_CREDITS},
	{"sleep-without-arm", SCN_BUG_SLEEP_WITHOUT_ARM},
	{"no-sack", SCN_BUG_NO_SACK},
	{"drop-wakeups", SCN_BUG_DROP_WAKEUPS},
	{"no-simultaneous-open", SCN_BUG_NO_SIMULTANEOUS_OPEN},
	{"no-simultaneous-close", SCN_BUG_NO_SIMULTANEOUS_CLOSE},
	{"no-tail-recovery", SCN_BUG_NO_TAIL_RECOVERY},
};
#define BUG_COUNT (sizeof(bug_names) / sizeof(bug_names[0]))

int cli_parse_bug(const char *name, uint32_t *bugs)
{
	for (size_t i = 0; i < BUG_COUNT; i++)
		if (!strcmp(name, bug_names[i].name)) {
			*bugs |= bug_names[i].bit;
			return 0;
		}
	fprintf(stderr, "bluetas: --bug: unknown bug '%s' (expected ", name);
	for (size_t i = 0; i < BUG_COUNT; i++)
		fprintf(stderr, "%s%s", i == 0 ? "" : i + 1 == BUG_COUNT ? " or " : ", ", bug_names[i].name);
	fprintf(stderr, ")\n");
	return -1;
}

struct run_cfg {
	const char *prog;
	char **files;
	size_t nfiles;
	struct scenario **scn;
	bool realtime;
	bool rxe;      /* channels over RDMA verbs (Soft-RoCE or a real NIC) */
	bool seeds_given;
	uint64_t seed_lo, seed_hi;
	unsigned jobs;
	const char *dir;
	const char *trace;
	const char *perfetto;  /* single run: Chrome trace event JSON */
	const char *pcap_all;  /* single run: pcap whatever the verdict */
	bool quiet;
	uint32_t bugs;
	size_t nruns;
	uint32_t shard_k, shard_n;   /* shard_n 0: no --shard */
	bool swarm;
	const char *results_path, *junit_path;
	FILE *results, *junit;
	bool output_failed;          /* a write to --results failed */
	int output_errno;
};

/* What a worker sends back: one write, smaller than PIPE_BUF. */
struct run_record {
	uint32_t magic;
	int32_t rc;
	int32_t verdict;
	int32_t first_error;
	uint8_t deadlock, data_mismatch, deadlock_written, output_failed;
	uint64_t virtual_ns, bytes, access_errors;
	double wall_s;
	char diagnosis[1024];
	char output_error[256]; /* the pcap or trace could not be written */
	char loss_note[SCN_LOSS_NOTE_MAX]; /* scenario_loss_note: printed on a PASS row */
	char swarm[SCN_SWARM_DESC_MAX];
	uint32_t counters_len;       /* this many bytes of counters text follow */
};
_Static_assert(sizeof(struct run_record) <= PIPE_BUF, "a record must reach the parent in one write");

/* One run in the parent: the table row and, for failures, the diagnosis. */
struct run_slot {
	bool done, pass;
	uint64_t virtual_ns, bytes;
	double wall_s;
	char *diagnosis;
	char loss_note[SCN_LOSS_NOTE_MAX];
	char *swarm;                 /* what swarm chose (--swarm) */
	char *counters;              /* until written to --results */
	/* capture re-run of a failure */
	bool captured;
	struct run_record capture;
};

struct job {
	size_t run;                  /* index into the slots */
	size_t file;                 /* index into cfg->files */
	const struct scenario *s;
	uint64_t seed;
	const char *pcap, *trace, *deadlock;
	const char *perfetto, *series, *plot; /* series: written, plotted to plot, removed */
};

struct worker {
	pid_t pid;
	int fd;
	size_t job;
	size_t got;
	struct run_record rec;
	char *extra;                 /* the counters text after the record */
	size_t extra_len, extra_cap;
};

/* ---------- worker side ---------- */

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void worker_main(int fd, const struct run_cfg *cfg, const struct job *j)
{
	unsigned watchdog = RUN_WATCHDOG_S;
	if (cfg->realtime)
		watchdog += (unsigned)(j->s->time_limit_ns / 1000000000u);
	alarm(watchdog);
	struct scenario_run_opts o = {
		.seed = j->seed,
		.bugs = cfg->bugs,
		.pcap_path = j->pcap,
		.trace_path = j->trace,
		.perfetto_path = j->perfetto,
		.series_path = j->series,
		.realtime = cfg->realtime,
		.want_counters = cfg->results != NULL,
	};
	const struct scenario *scn = j->s;
	char swarm[SCN_SWARM_DESC_MAX] = "";
	struct scenario *variant = NULL;
	if (cfg->swarm) {
		variant = malloc(sizeof(*variant));
		if (!variant)
			_exit(4);
		scenario_swarm(j->s, j->seed, variant, swarm, sizeof(swarm));
		scn = variant;
	}
	struct scenario_result r;
	int rc;
	struct rxe_channels *rxe = NULL;
	char ferr[256] = "";
	if (cfg->rxe && !(o.channels = rxe_channels_create(&rxe, ferr, sizeof(ferr)))) {
		/* No channel, no run: a FAIL row that says why. */
		memset(&r, 0, sizeof(r));
		r.verdict = SCN_FAIL;
		snprintf(r.diagnosis, sizeof(r.diagnosis), "%s", ferr);
		rc = -1;
	} else {
		rc = scenario_run(scn, &o, &r);
	}
	rxe_channels_destroy(rxe);
	struct run_record rec;
	memset(&rec, 0, sizeof(rec));
	rec.magic = RUN_RECORD_MAGIC;
	/* A lost pcap or trace is an error of its own, not the scenario's
	 * verdict: the run itself happened. */
	rec.output_failed = r.output_error[0] != 0;
	snprintf(rec.output_error, sizeof(rec.output_error), "%s", r.output_error);
	rec.rc = rec.output_failed ? 0 : rc;
	rec.verdict = rec.rc == 0 ? (int32_t)r.verdict : SCN_FAIL;
	rec.first_error = r.first_error;
	rec.deadlock = r.deadlock;
	rec.data_mismatch = r.data_mismatch;
	rec.virtual_ns = r.virtual_ns;
	rec.bytes = r.bytes_delivered;
	rec.access_errors = r.access_errors;
	rec.wall_s = r.wall_s;
	scenario_loss_note(&r, rec.loss_note, sizeof(rec.loss_note));
	snprintf(rec.diagnosis, sizeof(rec.diagnosis), "%s",
		 r.diagnosis[0] || rec.verdict == SCN_PASS ? r.diagnosis : "failed without a diagnosis");
	snprintf(rec.swarm, sizeof(rec.swarm), "%s", swarm);
	if (j->deadlock && r.deadlock_report && write_file(j->deadlock, r.deadlock_report) == 0)
		rec.deadlock_written = 1;
	if (j->series && j->plot && !rec.output_failed) {
		char title[256], perr[256];
		snprintf(title, sizeof(title), "%s seed %" PRIu64, j->s->name, j->seed);
		if (plot_series(j->series, j->plot, title, perr, sizeof(perr)) < 0) {
			rec.output_failed = 1;
			snprintf(rec.output_error, sizeof(rec.output_error), "%s", perr);
		}
	}
	if (j->series)
		unlink(j->series);
	size_t clen = r.counters ? strlen(r.counters) : 0;
	rec.counters_len = clen <= RUN_MAX_COUNTERS_BYTES ? (uint32_t)clen : 0;
	int wrc = write_all(fd, &rec, sizeof(rec));
	if (wrc == 0 && rec.counters_len)
		wrc = write_all(fd, r.counters, rec.counters_len);
	scenario_result_free(&r);
	free(variant);
	_exit(wrc == 0 ? 0 : 3);
}

/* ---------- the pool ---------- */

/* extra: the counters text of the run (extra_len bytes, NUL-terminated),
 * or NULL. */
typedef void (*done_fn)(void *ctx, const struct job *j, const struct run_record *rec, const char *extra);

/* A record for a run that produced none: the worker crashed, was killed
 * by the watchdog, or could not be started. */
static void lost_record(struct run_record *rec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lost_record(struct run_record *rec, const char *fmt, ...)
{
	memset(rec, 0, sizeof(*rec));
	rec->magic = RUN_RECORD_MAGIC;
	rec->rc = -1;
	rec->verdict = SCN_FAIL;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rec->diagnosis, sizeof(rec->diagnosis), fmt, ap);
	va_end(ap);
}

static void finish_worker(struct worker *w, const struct job *jobs, done_fn done, void *ctx)
{
	close(w->fd);
	int status = 0;
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	struct run_record rec;
	const char *extra = NULL;
	if (w->got == sizeof(w->rec) && w->rec.magic == RUN_RECORD_MAGIC) {
		rec = w->rec;
		rec.diagnosis[sizeof(rec.diagnosis) - 1] = 0;
		rec.swarm[sizeof(rec.swarm) - 1] = 0;
		if (rec.counters_len && w->extra && w->extra_len == rec.counters_len)
			extra = w->extra;
	} else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
		lost_record(&rec, "no result after %u s of wall-clock time: killed by the watchdog", RUN_WATCHDOG_S);
	} else if (WIFSIGNALED(status)) {
		lost_record(&rec, "the run crashed: signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	} else {
		lost_record(&rec, "the run ended without a result (exit status %d)",
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	done(ctx, &jobs[w->job], &rec, extra);
	free(w->extra);
	w->extra = NULL;
}

/* Runs every job in up to cfg->jobs children; done() is called in the
 * parent as each finishes. */
static void run_pool(const struct run_cfg *cfg, const struct job *jobs, size_t n, done_fn done, void *ctx)
{
	struct worker w[RUN_MAX_JOBS];
	struct pollfd pfd[RUN_MAX_JOBS];
	size_t active = 0, next = 0;
	while (next < n || active) {
		while (next < n && active < cfg->jobs) {
			int fds[2];
			if (pipe(fds) < 0) {
				if (active)
					break; /* out of descriptors: wait for a worker to finish */
				struct run_record rec;
				lost_record(&rec, "cannot start a worker: pipe: %s", strerror(errno));
				done(ctx, &jobs[next++], &rec, NULL);
				continue;
			}
			/* Unflushed output would be printed again by the child. */
			fflush(stdout);
			fflush(stderr);
			pid_t pid = fork();
			if (pid == 0) {
				close(fds[0]);
				for (size_t i = 0; i < active; i++)
					close(w[i].fd);
				worker_main(fds[1], cfg, &jobs[next]);
			}
			close(fds[1]);
			if (pid < 0) {
				int e = errno;
				close(fds[0]);
				if (active)
					break;
				struct run_record rec;
				lost_record(&rec, "cannot start a worker: fork: %s", strerror(e));
				done(ctx, &jobs[next++], &rec, NULL);
				continue;
			}
			w[active++] = (struct worker){.pid = pid, .fd = fds[0], .job = next++, .got = 0, .extra = NULL};
		}
		if (!active)
			continue;
		for (size_t i = 0; i < active; i++)
			pfd[i] = (struct pollfd){.fd = w[i].fd, .events = POLLIN};
		if (poll(pfd, active, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("bluetas run: poll");
			exit(2);
		}
		for (size_t i = active; i-- > 0;) {
			if (!pfd[i].revents)
				continue;
			/* The record, then its counters text into a growing buffer
			 * (bounded: a worker cannot make the parent hoard memory). */
			char scratch[4096];
			char *dst = scratch;
			size_t cap = sizeof(scratch);
			if (w[i].got < sizeof(w[i].rec)) {
				dst = (char *)&w[i].rec + w[i].got;
				cap = sizeof(w[i].rec) - w[i].got;
			} else if (w[i].extra_len + 1 >= w[i].extra_cap &&
				   w[i].extra_cap <= RUN_MAX_COUNTERS_BYTES) {
				size_t ncap = w[i].extra_cap ? w[i].extra_cap * 2 : 8192;
				char *b = realloc(w[i].extra, ncap);
				if (b) {
					w[i].extra = b;
					w[i].extra_cap = ncap;
				}
			}
			if (w[i].got >= sizeof(w[i].rec) && w[i].extra_len + 1 < w[i].extra_cap) {
				dst = w[i].extra + w[i].extra_len;
				cap = w[i].extra_cap - w[i].extra_len - 1;
			}
			ssize_t r = read(w[i].fd, dst, cap);
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r > 0) {
				if (dst == (char *)&w[i].rec + w[i].got)
					w[i].got += (size_t)r;
				else if (dst != scratch) {
					w[i].extra_len += (size_t)r;
					w[i].extra[w[i].extra_len] = 0;
				}
				continue;
			}
			finish_worker(&w[i], jobs, done, ctx);
			w[i] = w[--active];
		}
	}
}

/* ---------- output ---------- */

struct table {
	struct run_cfg *cfg;
	struct run_slot *slot;
	const struct job *jobs;
	size_t next_print;
	size_t finished, failed;
	size_t output_errors; /* runs whose pcap or trace could not be written */
	int name_width;
	bool header_done;
	bool progress;
	bool bar_shown;
};

static void write_result(struct table *t, size_t run);

static void bar_clear(struct table *t)
{
	if (t->bar_shown) {
		fprintf(stderr, "\r%72s\r", "");
		fflush(stderr);
		t->bar_shown = false;
	}
}

static void bar_draw(struct table *t)
{
	if (!t->progress)
		return;
	enum { WIDTH = 30 };
	size_t n = t->cfg->nruns, fill = n ? t->finished * WIDTH / n : WIDTH;
	char bar[WIDTH + 1];
	for (size_t i = 0; i < WIDTH; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[WIDTH] = 0;
	fprintf(stderr, "\r[%s] %zu/%zu runs, %zu failed", bar, t->finished, n, t->failed);
	fflush(stderr);
	t->bar_shown = true;
}

static void print_header(struct table *t)
{
	if (t->header_done)
		return;
	printf("%-*s %-8s %-6s %-12s %-11s %-9s %s\n", t->name_width, "scenario", "seed", "result", "bytes",
	       "virtual_ms", "wall_ms", "diagnosis");
	t->header_done = true;
}

static void print_row(struct table *t, size_t run)
{
	const struct run_slot *s = &t->slot[run];
	const struct job *j = &t->jobs[run];
	if (t->cfg->quiet && s->pass)
		return;
	print_header(t);
	int diag_len = (int)strlen(s->loss_note);
	if (!s->pass)
		diag_len = (int)strcspn(s->diagnosis, "\n");
	char row[512];
	int n = snprintf(row, sizeof(row), "%-*s %-8" PRIu64 " %-6s %-12" PRIu64 " %-11.3f %-9.1f %.*s", t->name_width,
			 j->s->name, j->seed, s->pass ? "PASS" : "FAIL", s->bytes, (double)s->virtual_ns / 1e6,
			 s->wall_s * 1e3, diag_len, s->pass ? s->loss_note : s->diagnosis);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof(row) ? (size_t)n : sizeof(row) - 1;
	while (len && row[len - 1] == ' ')
		len--;
	printf("%.*s\n", (int)len, row);
}

static void on_run_done(void *ctx, const struct job *j, const struct run_record *rec, const char *extra)
{
	struct table *t = ctx;
	struct run_slot *s = &t->slot[j->run];
	s->done = true;
	s->pass = rec->rc == 0 && rec->verdict == SCN_PASS;
	s->virtual_ns = rec->virtual_ns;
	s->bytes = rec->bytes;
	s->wall_s = rec->wall_s;
	if (rec->output_failed) {
		bar_clear(t);
		fprintf(stderr, "bluetas run: error: %s\n", rec->output_error);
		t->output_errors++;
	}
	memcpy(s->loss_note, rec->loss_note, sizeof(s->loss_note));
	s->loss_note[sizeof(s->loss_note) - 1] = 0;
	if (t->cfg->swarm)
		s->swarm = strdup(rec->swarm);
	if (extra && t->cfg->results)
		s->counters = strdup(extra);
	if (!s->pass) {
		s->diagnosis = strdup(rec->diagnosis);
		t->failed++;
	}
	t->finished++;
	if (t->next_print < t->cfg->nruns && t->slot[t->next_print].done) {
		bar_clear(t);
		while (t->next_print < t->cfg->nruns && t->slot[t->next_print].done) {
			print_row(t, t->next_print);
			write_result(t, t->next_print++);
		}
		fflush(stdout);
	}
	bar_draw(t);
}

static void on_capture_done(void *ctx, const struct job *j, const struct run_record *rec, const char *extra)
{
	(void)extra;
	struct table *t = ctx;
	t->slot[j->run].captured = true;
	t->slot[j->run].capture = *rec;
}

struct strbuf {
	char *p;
	size_t cap, len;
};

static void sb_put(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_put(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	b->len = bt_vappendf(b->p, b->cap, b->len, fmt, ap);
	va_end(ap);
}

/* Shows a word as a shell would need it typed. */
static void put_shell_word(struct strbuf *b, const char *w)
{
	bool plain = *w != 0;
	for (const char *c = w; *c; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%", *c))
			plain = false;
	if (plain) {
		sb_put(b, "%s", w);
		return;
	}
	sb_put(b, "'");
	for (const char *c = w; *c; c++) {
		if (*c == '\'')
			sb_put(b, "'\\''");
		else
			sb_put(b, "%c", *c);
	}
	sb_put(b, "'");
}

/* The command that runs exactly this run again (swarm included). */
static void format_reproduce(const struct run_cfg *cfg, const char *file, uint64_t seed, char *out, size_t cap)
{
	struct strbuf b = {out, cap, 0};
	out[0] = 0;
	put_shell_word(&b, cfg->prog);
	sb_put(&b, " run ");
	put_shell_word(&b, file);
	sb_put(&b, " --seed %" PRIu64, seed);
	if (cfg->swarm)
		sb_put(&b, " --swarm");
	if (cfg->rxe)
		sb_put(&b, " --backend rxe");
	else if (cfg->realtime)
		sb_put(&b, " --backend shm");
	sb_put(&b, " --pcap ");
	put_shell_word(&b, cfg->dir);
	for (size_t i = 0; i < BUG_COUNT; i++)
		if (cfg->bugs & bug_names[i].bit)
			sb_put(&b, " --bug %s", bug_names[i].name);
}

static void print_reproduce(const struct run_cfg *cfg, const char *file, uint64_t seed)
{
	char line[PATH_MAX * 2 + 256];
	format_reproduce(cfg, file, seed, line, sizeof(line));
	printf("  reproduce: %s\n", line);
}

static const char *backend_name(const struct run_cfg *cfg)
{
	return cfg->rxe ? "rxe" : cfg->realtime ? "shm" : "sim";
}

static void bugs_text(const struct run_cfg *cfg, char *out, size_t cap)
{
	struct strbuf b = {out, cap, 0};
	out[0] = 0;
	for (size_t i = 0; i < BUG_COUNT; i++)
		if (cfg->bugs & bug_names[i].bit)
			sb_put(&b, "%s%s", b.len ? "," : "", bug_names[i].name);
}

static void fill_row(const struct run_cfg *cfg, const struct run_slot *s, const struct job *j, struct result_row *row,
		     char *repro, size_t repro_cap)
{
	format_reproduce(cfg, cfg->files[j->file], j->seed, repro, repro_cap);
	*row = (struct result_row){
		.scenario = j->s->name,
		.file = cfg->files[j->file],
		.seed = j->seed,
		.pass = s->pass,
		.diagnosis = s->pass || !s->diagnosis ? "" : s->diagnosis,
		.swarm = cfg->swarm ? (s->swarm ? s->swarm : "") : NULL,
		.virtual_ns = s->virtual_ns,
		.bytes = s->bytes,
		.wall_s = s->wall_s,
		.reproduce = repro,
		.counters = s->counters,
	};
}

/* One JSON line per run, in table order; the counters are dropped once
 * written (a long sweep would otherwise hold them all). */
static void write_result(struct table *t, size_t run)
{
	struct run_cfg *cfg = t->cfg;
	struct run_slot *s = &t->slot[run];
	if (cfg->results && !cfg->output_failed) {
		struct result_row row;
		char repro[PATH_MAX * 2 + 256];
		fill_row(cfg, s, &t->jobs[run], &row, repro, sizeof(repro));
		if (results_write_run(cfg->results, &row) < 0) {
			cfg->output_failed = true;
			cfg->output_errno = errno;
		}
	}
	free(s->counters);
	s->counters = NULL;
}

/* ---------- failures ---------- */

/* mkdir -p: the failure directory may be a fresh nested path. */
static int make_dirs(const char *path)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0777) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0777) < 0 && errno != EEXIST)
		return -1;
	struct stat st;
	if (stat(buf, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

struct capture_paths {
	char pcap[PATH_MAX], trace[PATH_MAX], deadlock[PATH_MAX];
	char perfetto[PATH_MAX], series[PATH_MAX], plot[PATH_MAX];
};

static void report_failures(const struct run_cfg *cfg, struct table *t)
{
	size_t nfail = 0;
	for (size_t i = 0; i < cfg->nruns; i++)
		nfail += !t->slot[i].pass;
	if (!nfail)
		return;
	size_t ncap = nfail < RUN_MAX_CAPTURES ? nfail : RUN_MAX_CAPTURES;
	struct job *cap = calloc(ncap, sizeof(*cap));
	struct capture_paths *paths = calloc(ncap, sizeof(*paths));
	bool dir_ok = make_dirs(cfg->dir) == 0;
	if (!dir_ok)
		fprintf(stderr, "bluetas run: cannot create %s: %s: failures are not recorded\n", cfg->dir,
			strerror(errno));
	size_t n = 0;
	for (size_t i = 0; dir_ok && cap && paths && i < cfg->nruns && n < ncap; i++) {
		if (t->slot[i].pass)
			continue;
		const struct job *j = &t->jobs[i];
		struct capture_paths *p = &paths[n];
		int a = snprintf(p->pcap, PATH_MAX, "%s/%s-seed%" PRIu64 ".pcap", cfg->dir, j->s->name, j->seed);
		int b = snprintf(p->trace, PATH_MAX, "%s/%s-seed%" PRIu64 ".trace", cfg->dir, j->s->name, j->seed);
		int c = snprintf(p->deadlock, PATH_MAX, "%s/%s-seed%" PRIu64 ".deadlock.txt", cfg->dir, j->s->name,
				 j->seed);
		int d = snprintf(p->perfetto, PATH_MAX, "%s/%s-seed%" PRIu64 ".perfetto.json", cfg->dir, j->s->name,
				 j->seed);
		int e = snprintf(p->series, PATH_MAX, "%s/%s-seed%" PRIu64 ".series.tsv", cfg->dir, j->s->name, j->seed);
		int g = snprintf(p->plot, PATH_MAX, "%s/%s-seed%" PRIu64 ".png", cfg->dir, j->s->name, j->seed);
		if (a >= PATH_MAX || b >= PATH_MAX || c >= PATH_MAX || d >= PATH_MAX || e >= PATH_MAX || g >= PATH_MAX)
			continue;
		/* A report left by an earlier sweep would be taken for this run's. */
		unlink(p->deadlock);
		cap[n] = (struct job){.run = i, .file = j->file, .s = j->s, .seed = j->seed, .pcap = p->pcap,
				      .trace = p->trace, .deadlock = p->deadlock, .perfetto = p->perfetto,
				      .series = p->series, .plot = p->plot};
		n++;
	}
	if (n) {
		if (!cfg->quiet)
			fprintf(stderr, "recording %zu failing run%s again into %s/ ...\n", n, n == 1 ? "" : "s", cfg->dir);
		run_pool(cfg, cap, n, on_capture_done, t);
	}
	printf("\n");
	size_t shown = 0;
	for (size_t i = 0; i < cfg->nruns; i++) {
		const struct run_slot *s = &t->slot[i];
		if (s->pass)
			continue;
		const struct job *j = &t->jobs[i];
		if (shown++)
			printf("\n");
		printf("FAIL %s seed %" PRIu64 ":", j->s->name, j->seed);
		/* The whole diagnosis, continuation lines indented. */
		for (const char *l = s->diagnosis ? s->diagnosis : ""; *l;) {
			size_t len = strcspn(l, "\n");
			printf("%s%.*s\n", l == s->diagnosis ? " " : "    ", (int)len, l);
			l += len;
			if (*l == '\n')
				l++;
		}
		if (!s->diagnosis || !*s->diagnosis)
			printf("\n");
		const struct capture_paths *p = NULL;
		for (size_t k = 0; k < n; k++)
			if (cap[k].run == i)
				p = &paths[k];
		if (p && s->captured) {
			const struct run_record *c = &s->capture;
			printf("  pcap:      %s\n  trace:     %s\n  perfetto:  %s\n", p->pcap, p->trace, p->perfetto);
			if (!c->output_failed)
				printf("  plot:      %s\n", p->plot);
			if (c->deadlock_written)
				printf("  deadlock:  %s\n", p->deadlock);
			if (c->rc == 0 && c->verdict == SCN_PASS)
				printf("  note:      the recorded re-run passed: this failure did not reproduce%s\n",
				       cfg->realtime ? " (real time is not deterministic)" : "");
			else if (c->output_failed)
				printf("  note:      the recording is incomplete: %s\n", c->output_error);
			else if (c->rc != 0)
				printf("  note:      the recorded re-run could not run: %.*s\n",
				       (int)strcspn(c->diagnosis, "\n"), c->diagnosis);
		}
		if (s->swarm)
			printf("  swarm:     %s\n", s->swarm);
		print_reproduce(cfg, cfg->files[j->file], j->seed);
	}
	if (nfail > n && dir_ok)
		printf("(recorded the first %zu failures only)\n", n);
	free(cap);
	free(paths);
}

/* ---------- options ---------- */

static int parse_seeds(const char *text, uint64_t *lo, uint64_t *hi)
{
	const char *dots = strstr(text, "..");
	if (!dots) {
		fprintf(stderr, "bluetas run: --seeds: expected A..B, got '%s'\n", text);
		return -1;
	}
	char first[64];
	size_t len = (size_t)(dots - text);
	if (len >= sizeof(first)) {
		fprintf(stderr, "bluetas run: --seeds: '%s' is not a number range\n", text);
		return -1;
	}
	memcpy(first, text, len);
	first[len] = 0;
	if (cli_parse_u64("--seeds", first, 0, UINT64_MAX, lo) < 0 ||
	    cli_parse_u64("--seeds", dots + 2, 0, UINT64_MAX, hi) < 0)
		return -1;
	if (*lo > *hi) {
		fprintf(stderr, "bluetas run: --seeds %s: the first seed is after the last (expected A..B with A <= B)\n",
			text);
		return -1;
	}
	if (*hi - *lo >= RUN_MAX_RUNS) {
		fprintf(stderr, "bluetas run: --seeds %s: more than %u seeds\n", text, RUN_MAX_RUNS);
		return -1;
	}
	return 0;
}

/* "K/N": shard K (0-based, as $SLURM_ARRAY_TASK_ID) of N. */
static int parse_shard(const char *text, uint32_t *k, uint32_t *n)
{
	const char *slash = strchr(text, '/');
	char first[32];
	size_t len = slash ? (size_t)(slash - text) : 0;
	if (!slash || len == 0 || len >= sizeof(first) || !slash[1]) {
		fprintf(stderr, "bluetas run: --shard: expected K/N (shard K of N, K counted from 0), got '%s'\n", text);
		return -1;
	}
	memcpy(first, text, len);
	first[len] = 0;
	uint64_t kv, nv;
	if (cli_parse_u64("--shard", first, 0, RUN_MAX_SHARDS - 1, &kv) < 0 ||
	    cli_parse_u64("--shard", slash + 1, 1, RUN_MAX_SHARDS, &nv) < 0)
		return -1;
	if (kv >= nv) {
		fprintf(stderr,
			"bluetas run: --shard %s: shard %" PRIu64 " does not exist: shards of %" PRIu64 " are numbered 0..%" PRIu64
			" (K counts from 0, like $SLURM_ARRAY_TASK_ID)\n",
			text, kv, nv, nv - 1);
		return -1;
	}
	*k = (uint32_t)kv;
	*n = (uint32_t)nv;
	return 0;
}

static int parse_args(int argc, char **argv, struct run_cfg *cfg)
{
	enum { OPT_BACKEND = 256, OPT_SEED, OPT_SEEDS, OPT_PCAP, OPT_TRACE, OPT_BUG, OPT_PERFETTO, OPT_PCAP_ALL, OPT_SHARD,
	       OPT_RESULTS, OPT_JUNIT, OPT_SWARM };
	static const struct option opts[] = {
		{"backend", required_argument, 0, OPT_BACKEND},
		{"seed", required_argument, 0, OPT_SEED},
		{"seeds", required_argument, 0, OPT_SEEDS},
		{"jobs", required_argument, 0, 'j'},
		{"pcap", required_argument, 0, OPT_PCAP},
		{"trace", required_argument, 0, OPT_TRACE},
		{"perfetto", required_argument, 0, OPT_PERFETTO},
		{"pcap-all", required_argument, 0, OPT_PCAP_ALL},
		{"quiet", no_argument, 0, 'q'},
		{"bug", required_argument, 0, OPT_BUG},
		{"shard", required_argument, 0, OPT_SHARD},
		{"results", required_argument, 0, OPT_RESULTS},
		{"junit", required_argument, 0, OPT_JUNIT},
		{"swarm", no_argument, 0, OPT_SWARM},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	bool seed_given = false;
	uint64_t v;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":j:qh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_BACKEND:
			if (!strcmp(optarg, "sim")) {
				cfg->realtime = false;
			} else if (!strcmp(optarg, "shm")) {
				cfg->realtime = true;
			} else if (!strcmp(optarg, "rxe")) {
				cfg->realtime = true;
				cfg->rxe = true;
			} else {
				fprintf(stderr, "bluetas run: --backend: unknown backend '%s' (expected sim, shm or rxe)\n",
					optarg);
				return 2;
			}
			break;
		case OPT_SEED:
			if (cli_parse_u64("--seed", optarg, 0, UINT64_MAX, &cfg->seed_lo) < 0)
				return 2;
			cfg->seed_hi = cfg->seed_lo;
			seed_given = true;
			break;
		case OPT_SEEDS:
			if (parse_seeds(optarg, &cfg->seed_lo, &cfg->seed_hi) < 0)
				return 2;
			cfg->seeds_given = true;
			break;
		case 'j':
			if (cli_parse_u64("--jobs", optarg, 1, RUN_MAX_JOBS, &v) < 0)
				return 2;
			cfg->jobs = (unsigned)v;
			break;
		case OPT_PCAP:
			if (!*optarg) {
				fprintf(stderr, "bluetas run: --pcap: expected a directory\n");
				return 2;
			}
			cfg->dir = optarg;
			break;
		case OPT_TRACE:
			if (!*optarg) {
				fprintf(stderr, "bluetas run: --trace: expected a file name\n");
				return 2;
			}
			cfg->trace = optarg;
			break;
		case OPT_PERFETTO:
		case OPT_PCAP_ALL:
			if (!*optarg) {
				fprintf(stderr, "bluetas run: %s: expected a file name\n", argv[optind - 1]);
				return 2;
			}
			*(c == OPT_PERFETTO ? &cfg->perfetto : &cfg->pcap_all) = optarg;
			break;
		case 'q':
			cfg->quiet = true;
			break;
		case OPT_SHARD:
			if (parse_shard(optarg, &cfg->shard_k, &cfg->shard_n) < 0)
				return 2;
			break;
		case OPT_RESULTS:
		case OPT_JUNIT:
			if (!*optarg) {
				fprintf(stderr, "bluetas run: %s: expected a file name\n", c == OPT_RESULTS ? "--results" : "--junit");
				return 2;
			}
			*(c == OPT_RESULTS ? &cfg->results_path : &cfg->junit_path) = optarg;
			break;
		case OPT_SWARM:
			cfg->swarm = true;
			break;
		case OPT_BUG:
			if (cli_parse_bug(optarg, &cfg->bugs) < 0)
				return 2;
			break;
		case 'h':
			cli_run_usage(stdout);
			return 0;
		default: /* ':' a value missing, '?' an unknown option */
			cli_opt_error("run", c, argv);
			return 2;
		}
	}
	if (seed_given && cfg->seeds_given) {
		fprintf(stderr, "bluetas run: --seed and --seeds exclude each other\n");
		return 2;
	}
	cfg->files = argv + optind;
	cfg->nfiles = (size_t)(argc - optind);
	if (!cfg->nfiles) {
		fprintf(stderr, "bluetas run: no scenario file given (see bluetas run --help)\n");
		return 2;
	}
	uint64_t nseeds = cfg->seed_hi - cfg->seed_lo + 1;
	if (cfg->nfiles > RUN_MAX_RUNS || nseeds * cfg->nfiles > RUN_MAX_RUNS) {
		fprintf(stderr, "bluetas run: %zu files x %" PRIu64 " seeds is more than %u runs\n", cfg->nfiles, nseeds,
			RUN_MAX_RUNS);
		return 2;
	}
	cfg->nruns = (size_t)(nseeds * cfg->nfiles);
	if (cfg->shard_n) {
		/* Shard K holds the pairs whose index in (file, seed) order is
		 * K modulo N: every shard gets a share of every scenario. */
		size_t all = cfg->nruns;
		cfg->nruns = all / cfg->shard_n + (cfg->shard_k < all % cfg->shard_n ? 1 : 0);
	}
	if (cfg->trace && cfg->nruns != 1) {
		fprintf(stderr, "bluetas run: --trace FILE needs a single run (one scenario file, one seed)\n");
		return 2;
	}
	const struct {
		const char *flag, *path;
	} single[] = {{"--trace", cfg->trace}, {"--perfetto", cfg->perfetto}, {"--pcap-all", cfg->pcap_all}};
	for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
		if (!single[i].path)
			continue;
		if (cfg->nruns != 1) {
			fprintf(stderr, "bluetas run: %s FILE needs a single run (one scenario file, one seed)\n",
				single[i].flag);
			return 2;
		}
		/* A file that cannot be created is the user's mistake: say so
		 * now, not as a failed scenario after the run. */
		FILE *f = fopen(single[i].path, "w");
		if (!f) {
			fprintf(stderr, "bluetas run: %s: cannot write %s: %s\n", single[i].flag, single[i].path,
				strerror(errno));
			return 2;
		}
		fclose(f);
	}
	return -1; /* go on */
}

/* ---------- the command ---------- */

static int load_all(struct run_cfg *cfg)
{
	int bad = 0;
	cfg->scn = calloc(cfg->nfiles, sizeof(*cfg->scn));
	if (!cfg->scn) {
		fprintf(stderr, "bluetas run: out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < cfg->nfiles; i++) {
		char err[1024];
		cfg->scn[i] = malloc(sizeof(struct scenario));
		if (!cfg->scn[i]) {
			fprintf(stderr, "bluetas run: out of memory\n");
			return -1;
		}
		if (scenario_load(cfg->files[i], cfg->scn[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			bad++;
		}
	}
	if (bad)
		return -1;
	/* Failure files are named after the scenario: two files with one name
	 * would overwrite each other's evidence. */
	for (size_t i = 0; i < cfg->nfiles; i++)
		for (size_t k = 0; k < i; k++)
			if (!strcmp(cfg->scn[i]->name, cfg->scn[k]->name)) {
				fprintf(stderr, "bluetas run: %s and %s both declare scenario '%s' (names must be unique in one run)\n",
					cfg->files[k], cfg->files[i], cfg->scn[i]->name);
				return -1;
			}
	return 0;
}

static void free_all(struct run_cfg *cfg, struct run_slot *slot, struct job *jobs)
{
	if (slot)
		for (size_t i = 0; i < cfg->nruns; i++) {
			free(slot[i].diagnosis);
			free(slot[i].swarm);
			free(slot[i].counters);
		}
	free(slot);
	free(jobs);
	if (cfg->scn)
		for (size_t i = 0; i < cfg->nfiles; i++)
			free(cfg->scn[i]);
	free(cfg->scn);
	if (cfg->results)
		fclose(cfg->results);
	if (cfg->junit)
		fclose(cfg->junit);
	cfg->results = cfg->junit = NULL;
}

/* The output files are opened before anything runs: a path that cannot
 * be written costs nothing then. */
static int open_outputs(struct run_cfg *cfg)
{
	const char *paths[2] = {cfg->results_path, cfg->junit_path};
	FILE **files[2] = {&cfg->results, &cfg->junit};
	static const char *const flags[2] = {"--results", "--junit"};
	for (int i = 0; i < 2; i++) {
		if (!paths[i])
			continue;
		if (i == 1 && cfg->results_path && !strcmp(paths[0], paths[1])) {
			fprintf(stderr, "bluetas run: --results and --junit name the same file %s\n", paths[1]);
			return -1;
		}
		*files[i] = fopen(paths[i], "w");
		if (!*files[i]) {
			fprintf(stderr, "bluetas run: %s %s: %s\n", flags[i], paths[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The end line of --results and the JUnit document; both closed. A write
 * or close that fails is reported: 0, or -1. */
static int finish_outputs(struct run_cfg *cfg, struct table *t)
{
	int rc = 0;
	if (cfg->results) {
		if (!cfg->output_failed && results_write_end(cfg->results, cfg->nruns - t->failed, t->failed) < 0) {
			cfg->output_failed = true;
			cfg->output_errno = errno;
		}
		FILE *f = cfg->results;
		cfg->results = NULL;
		if (fclose(f) != 0 && !cfg->output_failed) {
			cfg->output_failed = true;
			cfg->output_errno = errno;
		}
		if (cfg->output_failed) {
			fprintf(stderr, "bluetas run: --results %s: write error: %s\n", cfg->results_path,
				strerror(cfg->output_errno ? cfg->output_errno : EIO));
			rc = -1;
		}
	}
	if (cfg->junit) {
		struct result_row *rows = calloc(cfg->nruns ? cfg->nruns : 1, sizeof(*rows));
		char (*repro)[PATH_MAX * 2 + 256] = calloc(cfg->nruns ? cfg->nruns : 1, sizeof(*repro));
		int werr = 0;
		if (!rows || !repro) {
			werr = ENOMEM;
		} else {
			for (size_t i = 0; i < cfg->nruns; i++)
				fill_row(cfg, &t->slot[i], &t->jobs[i], &rows[i], repro[i], sizeof(repro[i]));
			if (junit_write(cfg->junit, "bluetas run", rows, cfg->nruns) < 0)
				werr = errno;
		}
		free(rows);
		free(repro);
		FILE *f = cfg->junit;
		cfg->junit = NULL;
		if (fclose(f) != 0 && !werr)
			werr = errno ? errno : EIO;
		if (werr) {
			fprintf(stderr, "bluetas run: --junit %s: write error: %s\n", cfg->junit_path, strerror(werr));
			rc = -1;
		}
	}
	return rc;
}

int cli_run(int argc, char **argv, const char *prog)
{
	struct run_cfg cfg = {
		.prog = prog && *prog ? prog : "bluetas",
		.seed_lo = 1,
		.seed_hi = 1,
		.jobs = 1,
		.dir = RUN_DEFAULT_DIR,
	};
	int rc = parse_args(argc, argv, &cfg);
	if (rc >= 0)
		return rc;
	if (load_all(&cfg) < 0) {
		free_all(&cfg, NULL, NULL);
		return 2;
	}
	uint64_t nseeds = cfg.seed_hi - cfg.seed_lo + 1;
	struct run_slot *slot = calloc(cfg.nruns ? cfg.nruns : 1, sizeof(*slot));
	struct job *jobs = calloc(cfg.nruns ? cfg.nruns : 1, sizeof(*jobs));
	if (!slot || !jobs) {
		fprintf(stderr, "bluetas run: out of memory for %zu runs\n", cfg.nruns);
		free_all(&cfg, slot, jobs);
		return 2;
	}
	if (open_outputs(&cfg) < 0) {
		free_all(&cfg, slot, jobs);
		return 2;
	}
	int name_width = 8;
	size_t n = 0;
	for (size_t f = 0; f < cfg.nfiles; f++) {
		int len = (int)strlen(cfg.scn[f]->name);
		name_width = len > name_width ? len : name_width;
		for (uint64_t k = 0; k < nseeds; k++) {
			size_t pair = f * (size_t)nseeds + (size_t)k;
			if (cfg.shard_n && pair % cfg.shard_n != cfg.shard_k)
				continue;
			jobs[n] = (struct job){.run = n, .file = f, .s = cfg.scn[f], .seed = cfg.seed_lo + k};
			n++;
		}
	}
	if (cfg.trace && cfg.nruns)
		jobs[0].trace = cfg.trace;
	if (cfg.perfetto)
		jobs[0].perfetto = cfg.perfetto;
	if (cfg.pcap_all)
		jobs[0].pcap = cfg.pcap_all;
	if (cfg.results) {
		const char **names = calloc(cfg.nfiles, sizeof(*names));
		char bugs[128];
		bugs_text(&cfg, bugs, sizeof(bugs));
		for (size_t f = 0; names && f < cfg.nfiles; f++)
			names[f] = cfg.scn[f]->name;
		struct campaign_info ci = {
			.shard = cfg.shard_k,
			.shards = cfg.shard_n ? cfg.shard_n : 1,
			.seed_lo = cfg.seed_lo,
			.seed_hi = cfg.seed_hi,
			.scenarios = names,
			.scenario_count = names ? cfg.nfiles : 0,
			.bugs = bugs,
			.swarm = cfg.swarm,
			.backend = backend_name(&cfg),
			.runs = cfg.nruns,
		};
		if (!names || results_write_header(cfg.results, &ci) < 0) {
			cfg.output_failed = true;
			cfg.output_errno = names ? errno : ENOMEM;
		}
		free(names);
	}
	struct table t = {
		.cfg = &cfg,
		.slot = slot,
		.jobs = jobs,
		.name_width = name_width,
		.progress = cfg.seeds_given && !cfg.quiet && isatty(STDERR_FILENO),
	};
	if (!cfg.quiet)
		print_header(&t);
	bar_draw(&t);
	run_pool(&cfg, jobs, cfg.nruns, on_run_done, &t);
	bar_clear(&t);
	if (cfg.trace && !t.output_errors)
		printf("trace: %s\n", cfg.trace);
	if (cfg.perfetto && !t.output_errors)
		printf("perfetto: %s\n", cfg.perfetto);
	if (cfg.pcap_all && !t.output_errors)
		printf("pcap: %s\n", cfg.pcap_all);
	report_failures(&cfg, &t);
	if (t.header_done)
		printf("\n");
	if (cfg.shard_n)
		printf("%zu passed, %zu failed (shard %" PRIu32 "/%" PRIu32 ": %zu of %zu scenario%s x %" PRIu64
		       " seed%s)\n",
		       cfg.nruns - t.failed, t.failed, cfg.shard_k, cfg.shard_n, cfg.nruns, (size_t)(nseeds * cfg.nfiles),
		       cfg.nfiles == 1 ? "" : "s", nseeds, nseeds == 1 ? "" : "s");
	else
		printf("%zu passed, %zu failed (%zu scenario%s x %" PRIu64 " seed%s)\n", cfg.nruns - t.failed, t.failed,
		       cfg.nfiles, cfg.nfiles == 1 ? "" : "s", nseeds, nseeds == 1 ? "" : "s");
	rc = t.failed || t.output_errors ? 1 : 0;
	fflush(stdout);
	if (finish_outputs(&cfg, &t) < 0 || ferror(stdout))
		rc = 2;
	free_all(&cfg, slot, jobs);
	return rc;
}
