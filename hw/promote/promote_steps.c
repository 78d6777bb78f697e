/*
 * promote_steps.c: the steps of `bluetas promote` (promote.h lists them).
 * Each runs its commands through promote_exec (bounded), logs to
 * OUT/logs/STEP.log, and on failure sets one message that names the step,
 * the host and the reason, with the lines of the log that say why.
 *
 * On the DPU everything lives under REMOTE_DIR: the tree (rsync), its
 * build/ (kept between promotions: the next build is incremental) and
 * build/promote/ (this run: hosts file, daemon log, pid, exit status,
 * pcap, scenario results, counters), which fetch brings to OUT/dpu/.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "promote.h"

/* The run's files on the DPU, relative to REMOTE_DIR. */
#define RUN_DIR "build/promote"

static const char *const step_names[PS_COUNT] = {
	"preflight-host", "connect", "sync", "build", "preflight-dpu", "daemon",
	"checks", "fetch", "emu", "report", "stop",
};

const char *promote_step_name(enum promote_step s)
{
	return s < PS_COUNT ? step_names[s] : "?";
}

int promote_step_from_name(const char *name)
{
	for (int i = 0; i < PS_COUNT; i++)
		if (!strcmp(name, step_names[i]))
			return i;
	return -1;
}

static bool step_is_local(enum promote_step s)
{
	return s == PS_PREFLIGHT_HOST || s == PS_EMU || s == PS_REPORT;
}

/* "step build on root@10.251.0.2 failed: make exited 2" + detail lines. */
__attribute__((format(printf, 4, 5))) static int fail(struct promote_cfg *c, enum promote_step s, const char *detail,
							const char *fmt, ...)
{
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(c->failure, sizeof(c->failure), "step %s on %s failed: %s%s%s", promote_step_name(s),
		 step_is_local(s) ? "this host" : c->target, why, detail && *detail ? "\n" : "", detail ? detail : "");
	return -1;
}

static void log_path(const struct promote_cfg *c, enum promote_step s, char *out, size_t len)
{
	snprintf(out, len, "%s/logs/%s.log", c->out_dir, promote_step_name(s));
}

/* fail() with the last `lines` lines of step s's log as the detail: what
 * a step that ran a command says when the command did not succeed. */
__attribute__((format(printf, 4, 5))) static int fail_log_tail(struct promote_cfg *c, enum promote_step s,
								unsigned lines, const char *fmt, ...)
{
	char why[512], log[PROMOTE_PATH + 64], tail[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_path(c, s, log, sizeof(log));
	promote_log_tail(log, lines, tail, sizeof(tail));
	return fail(c, s, tail, "%s", why);
}

/* The lines of a status reply after its first (EXITED N), each as
 * "    | LINE", for a failure's detail. */
static void lines_after_status(const char *out, char *detail, size_t cap)
{
	detail[0] = 0;
	const char *rest = strchr(out, '\n');
	for (const char *l = rest ? rest + 1 : ""; *l;) {
		size_t ll = strcspn(l, "\n");
		size_t used = strlen(detail);
		snprintf(detail + used, cap - used, "    | %.*s\n", (int)ll, l);
		l += ll + (l[ll] ? 1 : 0);
	}
}

/* Why a child failed, in words. */
static void describe_exit(const struct exec_result *r, unsigned timeout_s, char *out, size_t len)
{
	if (r->interrupted)
		snprintf(out, len, "interrupted (SIGINT/SIGTERM)");
	else if (r->timed_out)
		snprintf(out, len, "no result within its %u s timeout", timeout_s);
	else if (r->status == -1 || r->status == 127)
		snprintf(out, len, "could not start the command (exit %d)", r->status);
	else if (r->status > 128)
		snprintf(out, len, "killed by signal %d (%s)", r->status - 128, strsignal(r->status - 128));
	else
		snprintf(out, len, "exit status %d", r->status);
}

/* Runs argv for step s into its log. Returns the exec result's status, or
 * -2 (with the failure set) when it could not run or ran out of time. */
static int run_step_cmd(struct promote_cfg *c, enum promote_step s, char *const argv[], struct exec_result *r)
{
	char log[PROMOTE_PATH + 64];
	log_path(c, s, log, sizeof(log));
	FILE *f = fopen(log, "a");
	if (f) {
		fprintf(f, "$");
		for (size_t i = 0; argv[i]; i++)
			fprintf(f, " %s", argv[i]);
		fprintf(f, "\n");
		fclose(f);
	}
	if (promote_exec(argv, log, c->timeout_s[s], NULL, 0, r) < 0)
		return fail(c, s, NULL, "cannot start %s: %s", argv[0], strerror(errno)), -2;
	if (r->timed_out || r->interrupted) {
		char why[128], tail[2048];
		describe_exit(r, c->timeout_s[s], why, sizeof(why));
		promote_log_tail(log, 6, tail, sizeof(tail));
		fail(c, s, tail, "%s", why);
		return -2;
	}
	return r->status;
}

/* ssh TARGET CMD for step s; ssh's own failure (255) is "unreachable". */
static int run_remote(struct promote_cfg *c, enum promote_step s, const char *cmd, struct exec_result *r)
{
	struct argv_buf a;
	if (ssh_argv(c, &a, cmd) < 0)
		return fail(c, s, NULL, "remote command too long"), -2;
	int st = run_step_cmd(c, s, a.argv, r);
	if (st == 255) {
		fail_log_tail(c, s, 4, "ssh to %s failed (exit 255: unreachable, refused, or the key was not accepted)",
			      c->target);
		return -2;
	}
	return st;
}

/* A remote command whose output we want (short: status lines). */
static int remote_text(struct promote_cfg *c, enum promote_step s, const char *cmd, char *out, size_t out_len)
{
	struct argv_buf a;
	struct exec_result r;
	if (ssh_argv(c, &a, cmd) < 0 || promote_exec(a.argv, NULL, c->timeout_s[s], out, out_len, &r) < 0)
		return -1;
	if (r.timed_out || r.interrupted || r.status == 255)
		return -1;
	return r.status;
}

/* "cd 'REMOTE_DIR' && " */
static void cd_prefix(const struct promote_cfg *c, char *out, size_t len)
{
	snprintf(out, len, "cd ");
	shq(out, len, c->remote_dir);
	strncat(out, " && ", len - strlen(out) - 1);
}

/* The FAIL lines of a preflight log, indented, at most 8. */
static void fail_lines(const char *log, char *out, size_t len)
{
	out[0] = 0;
	FILE *f = fopen(log, "r");
	if (!f)
		return;
	char line[512];
	unsigned n = 0;
	bool keep_fix = false;
	while (fgets(line, sizeof(line), f) && n < 16) {
		bool is_fail = !strncmp(line, "FAIL", 4);
		bool is_fix = keep_fix && !strncmp(line, "      fix:", 10);
		keep_fix = is_fail;
		if (!is_fail && !is_fix && strncmp(line, "verdict:", 8))
			continue;
		size_t used = strlen(out);
		snprintf(out + used, len - used, "    | %s", line);
		n++;
	}
	fclose(f);
}

static int preflight_result(struct promote_cfg *c, enum promote_step s, int st)
{
	char log[PROMOTE_PATH + 64], lines[4096];
	log_path(c, s, log, sizeof(log));
	if (st == 0)
		return 0;
	if (st == 1) {
		fail_lines(log, lines, sizeof(lines));
		return fail(c, s, lines, "preflight found a FAIL (fix it and promote again; the log: %s)", log);
	}
	promote_log_tail(log, 6, lines, sizeof(lines));
	return fail(c, s, lines, "preflight could not run (exit %d)", st);
}

int step_preflight_host(struct promote_cfg *c)
{
	struct argv_buf a;
	argv_init(&a);
	argv_add(&a, c->self);
	argv_add(&a, "preflight");
	argv_add(&a, "--role");
	argv_add(&a, "host");
	argv_add(&a, "--hosts");
	argv_add(&a, c->hosts_path);
	if (c->host_sysroot) {
		argv_add(&a, "--sysroot");
		argv_add(&a, c->host_sysroot);
	}
	struct exec_result r;
	int st = run_step_cmd(c, PS_PREFLIGHT_HOST, a.argv, &r);
	if (st == -2)
		return -1;
	return preflight_result(c, PS_PREFLIGHT_HOST, st);
}

int step_connect(struct promote_cfg *c)
{
	char cmd[2048] = "mkdir -p ";
	shq(cmd, sizeof(cmd), c->remote_dir);
	strncat(cmd, "/" RUN_DIR " && missing= && for t in make cc rsync pkg-config setsid; do "
		     "command -v $t >/dev/null 2>&1 || missing=\"$missing $t\"; done; "
		     "if [ -n \"$missing\" ]; then echo \"missing on the DPU:$missing\"; exit 3; fi",
		sizeof(cmd) - strlen(cmd) - 1);
	struct exec_result r;
	c->master_started = true; /* from here on, stop closes the master */
	int st = run_remote(c, PS_CONNECT, cmd, &r);
	if (st == -2)
		return -1;
	if (st == 3)
		return fail_log_tail(c, PS_CONNECT, 3,
				     "the DPU lacks build tools (apt-get install build-essential rsync pkg-config)");
	if (st != 0)
		return fail_log_tail(c, PS_CONNECT, 3, "cannot create %s there (exit %d)", c->remote_dir, st);
	/* For the report: what the build there will be for. */
	char arch[64] = "";
	if (remote_text(c, PS_CONNECT, "uname -m", arch, sizeof(arch)) == 0) {
		arch[strcspn(arch, "\n")] = 0;
		snprintf(c->remote_arch, sizeof(c->remote_arch), "%.31s", arch);
	}
	return 0;
}

int step_sync(struct promote_cfg *c)
{
	char e[2048], src[PROMOTE_PATH + 2], dst[PROMOTE_PATH + BT_HOSTS_STR + 32];
	ssh_command_string(c, e, sizeof(e));
	snprintf(src, sizeof(src), "%s/", c->src_dir);
	snprintf(dst, sizeof(dst), "%s:%s/", c->target, c->remote_dir);
	struct argv_buf a;
	argv_init(&a);
	/* -a keeps mtimes: make on the DPU rebuilds only what changed. The
	 * excluded build dirs are also protected from --delete. */
	const char *args[] = {"rsync", "-a", "--delete", "--exclude=/build/", "--exclude=/build-*/",
			      "--exclude=/.git/", "-e", e, src, dst};
	ARGV_ADD_ALL(&a, args);
	struct exec_result r;
	int st = run_step_cmd(c, PS_SYNC, a.argv, &r);
	if (st == -2)
		return -1;
	if (st != 0)
		return fail_log_tail(c, PS_SYNC, 5, "rsync of %s to %s exited %d", src, dst, st);
	/* The hosts file goes with the run, for the DPU's preflight. */
	snprintf(dst, sizeof(dst), "%s:%s/" RUN_DIR "/hosts", c->target, c->remote_dir);
	argv_init(&a);
	const char *hargs[] = {"rsync", "-e", e, c->hosts_path, dst};
	ARGV_ADD_ALL(&a, hargs);
	st = run_step_cmd(c, PS_SYNC, a.argv, &r);
	if (st == -2)
		return -1;
	if (st != 0)
		return fail_log_tail(c, PS_SYNC, 5, "rsync of the hosts file to %s exited %d", dst, st);
	return 0;
}

int step_build(struct promote_cfg *c)
{
	char cmd[2048], jobs[32];
	cd_prefix(c, cmd, sizeof(cmd));
	if (c->make_jobs)
		snprintf(jobs, sizeof(jobs), "%u", c->make_jobs);
	else
		snprintf(jobs, sizeof(jobs), "$(nproc)");
	/* The card's packages are its owner's: never apt-get there (the stamp
	 * that would run ci/install-deps.sh is touched). NVIDIA's DPDK under
	 * /opt/mellanox/dpdk wins over any other pkg-config dir. */
	size_t used = strlen(cmd);
	snprintf(cmd + used, sizeof(cmd) - used,
		 "mkdir -p build && touch build/.deps-installed && "
		 "for d in /opt/mellanox/dpdk/lib/*/pkgconfig; do if [ -d \"$d\" ]; then "
		 "PKG_CONFIG_PATH=\"$d${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}\"; echo \"DPDK from $d\"; fi; done; "
		 "export PKG_CONFIG_PATH; echo \"dpdk $(pkg-config --modversion libdpdk 2>&1)\"; "
		 "make -j%s build/bluetas",
		 jobs);
	struct exec_result r;
	int st = run_remote(c, PS_BUILD, cmd, &r);
	if (st == -2)
		return -1;
	if (st != 0) {
		char log[PROMOTE_PATH + 64];
		log_path(c, PS_BUILD, log, sizeof(log));
		return fail_log_tail(c, PS_BUILD, 8, "make build/bluetas exited %d (the log: %s)", st, log);
	}
	return 0;
}

int step_preflight_dpu(struct promote_cfg *c)
{
	char cmd[2048];
	cd_prefix(c, cmd, sizeof(cmd));
	strncat(cmd, "build/bluetas preflight --role dpu --hosts " RUN_DIR "/hosts", sizeof(cmd) - strlen(cmd) - 1);
	if (c->dpu_sysroot) {
		strncat(cmd, " --sysroot ", sizeof(cmd) - strlen(cmd) - 1);
		shq(cmd, sizeof(cmd), c->dpu_sysroot);
	}
	struct exec_result r;
	int st = run_remote(c, PS_PREFLIGHT_DPU, cmd, &r);
	if (st == -2)
		return -1;
	return preflight_result(c, PS_PREFLIGHT_DPU, st);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The daemon's command line, each word quoted. */
static int daemon_command(const struct promote_cfg *c, char *out, size_t len)
{
	const struct bt_hosts_side *d = &c->hosts.dpu;
	char arp[64], dur[32];
	const char *words[48];
	size_t n = 0;
	words[n++] = "build/bluetas";
	words[n++] = "nic";
	if (c->port_vdev) {
		words[n++] = "--vdev";
		words[n++] = c->port_vdev;
	}
	words[n++] = "--ip";
	words[n++] = c->stack_ip;
	if (d->has_arp_seed) {
		snprintf(arp, sizeof(arp), "%s=%s", d->arp_seed_ip, d->arp_seed_mac);
		words[n++] = "--arp";
		words[n++] = arp;
	}
	words[n++] = "--channel";
	words[n++] = c->daemon_channel;
	words[n++] = "--stats";
	words[n++] = "--pcap";
	words[n++] = RUN_DIR "/daemon.pcap";
	snprintf(dur, sizeof(dur), "%u", c->daemon_max_s);
	words[n++] = "--duration-s";
	words[n++] = dur;
	for (size_t i = 0; i < c->daemon_extra_count && n < 44; i++)
		words[n++] = c->daemon_extra[i];
	if (!c->port_vdev) {
		words[n++] = "--";
		words[n++] = "-a";
		words[n++] = d->devargs;
	}
	out[0] = 0;
	for (size_t i = 0; i < n; i++) {
		if (i)
			strncat(out, " ", len - strlen(out) - 1);
		if (shq(out, len, words[i]) < 0)
			return -1;
	}
	return 0;
}

int step_daemon(struct promote_cfg *c)
{
	char dcmd[2048], inner[3072], cmd[4096];
	if (daemon_command(c, dcmd, sizeof(dcmd)) < 0)
		return fail(c, PS_DAEMON, NULL, "daemon command line too long");
	/* A wrapper shell outside the ssh session (setsid) waits for the
	 * daemon and writes its exit status: the daemon's pid for stop, its
	 * status for "it died" (a crash shows as 128+signal). */
	snprintf(inner, sizeof(inner),
		 "%s >" RUN_DIR "/daemon.out 2>" RUN_DIR "/daemon.err & echo $! >" RUN_DIR "/daemon.pid; wait $!; "
		 "echo $? >" RUN_DIR "/daemon.rc",
		 dcmd);
	cd_prefix(c, cmd, sizeof(cmd));
	strncat(cmd,
		"rm -f " RUN_DIR "/daemon.out " RUN_DIR "/daemon.err " RUN_DIR "/daemon.pid " RUN_DIR "/daemon.rc " RUN_DIR
		"/daemon.pcap && (setsid sh -c ",
		sizeof(cmd) - strlen(cmd) - 1);
	if (shq(cmd, sizeof(cmd), inner) < 0)
		return fail(c, PS_DAEMON, NULL, "daemon command line too long");
	strncat(cmd, " </dev/null >/dev/null 2>&1 &)", sizeof(cmd) - strlen(cmd) - 1);
	struct exec_result r;
	c->daemon_started = true;
	int st = run_remote(c, PS_DAEMON, cmd, &r);
	if (st == -2)
		return -1;
	if (st != 0)
		return fail(c, PS_DAEMON, NULL, "could not launch the daemon (exit %d)", st);
	/* Until "ready" or its exit, bounded by the step's timeout. */
	char poll[1024];
	cd_prefix(c, poll, sizeof(poll));
	strncat(poll,
		"if grep -q '^ready ' " RUN_DIR "/daemon.out 2>/dev/null; then echo READY; "
		"elif [ -s " RUN_DIR "/daemon.rc ]; then echo \"EXITED $(cat " RUN_DIR "/daemon.rc)\"; "
		"tail -n 8 " RUN_DIR "/daemon.err; else echo WAIT; fi",
		sizeof(poll) - strlen(poll) - 1);
	double end = now_s() + c->timeout_s[PS_DAEMON];
	char out[4096];
	while (now_s() < end && !promote_exec_interrupted()) {
		int pst = remote_text(c, PS_DAEMON, poll, out, sizeof(out));
		if (pst < 0)
			return fail(c, PS_DAEMON, NULL, "%s", promote_exec_interrupted() ? "interrupted (SIGINT/SIGTERM)"
							: "lost the ssh connection while waiting for the daemon");
		if (!strncmp(out, "READY", 5))
			return 0;
		if (!strncmp(out, "EXITED", 6)) {
			char detail[4096];
			lines_after_status(out, detail, sizeof(detail));
			int rc = atoi(out + 7);
			c->daemon_started = false; /* nothing left to stop */
			return fail(c, PS_DAEMON, detail, "the daemon exited (status %d) before it was ready", rc);
		}
		sleep_ms(200);
	}
	return fail(c, PS_DAEMON, NULL, "the daemon was not ready within %u s", c->timeout_s[PS_DAEMON]);
}

/* The line of an application's log that says most: its error, else its
 * result line, else its last line. */
static void telling_line(const char *log, char *out, size_t len)
{
	out[0] = 0;
	FILE *f = fopen(log, "r");
	if (!f)
		return;
	char line[512], result[512] = "", last[512] = "";
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!line[0])
			continue;
		if (!strncmp(line, "bluetas app:", 12)) {
			snprintf(out, len, "%s", line);
			fclose(f);
			return;
		}
		if (!strncmp(line, "echo-client ", 12))
			snprintf(result, sizeof(result), "%s", line);
		snprintf(last, sizeof(last), "%s", line);
	}
	fclose(f);
	snprintf(out, len, "%s", result[0] ? result : last);
}

/* One e2e check: `bluetas app` here, against the daemon there. */
static void e2e_check(struct promote_cfg *c, const char *name, const char *const extra[], size_t extra_count)
{
	struct promote_check *k = promote_check_get(c, name);
	if (!k)
		return;
	char remote[64], log[PROMOTE_PATH + 96];
	snprintf(remote, sizeof(remote), "%s:%u", c->hosts.dpu.peer_ip, c->peer_port);
	snprintf(log, sizeof(log), "%s/host/%s.log", c->out_dir, name + 4); /* after "e2e/" */
	struct argv_buf a;
	argv_init(&a);
	const char *base[] = {c->self, "app", "--channel", c->app_channel, "--app", "echo-client", "--remote", remote,
			      "--duration-s", "30", "--stats"};
	ARGV_ADD_ALL(&a, base);
	for (size_t i = 0; i < extra_count; i++)
		argv_add(&a, extra[i]);
	struct exec_result r;
	unlink(log);
	snprintf(k->emu, sizeof(k->emu), "-");
	snprintf(k->note, sizeof(k->note), "emu twin: tests/rxe/e2e.sh (make test-rxe)");
	if (promote_exec(a.argv, log, 60, NULL, 0, &r) < 0 || r.status != 0) {
		char why[128];
		describe_exit(&r, 60, why, sizeof(why));
		snprintf(k->hw, sizeof(k->hw), "FAIL");
		char said[512];
		telling_line(log, said, sizeof(said));
		snprintf(k->note, sizeof(k->note), "%.40s: %.110s", why, said[0] ? said : "(no output)");
		return;
	}
	snprintf(k->hw, sizeof(k->hw), "PASS");
}

int step_checks(struct promote_cfg *c)
{
	/* e2e over the channel: the host library here, the NIC there. */
	static const char *const small[] = {"--conns", "4", "--msg-bytes", "1K", "--messages", "200", "--seed", "1"};
	static const char *const large[] = {"--conns", "1", "--msg-bytes", "64K", "--messages", "64", "--seed", "2"};
	e2e_check(c, "e2e/echo-4conns", small, sizeof(small) / sizeof(small[0]));
	e2e_check(c, "e2e/echo-64k", large, sizeof(large) / sizeof(large[0]));
	if (promote_exec_interrupted())
		return fail(c, PS_CHECKS, NULL, "interrupted (SIGINT/SIGTERM)");
	/* The daemon must have survived them. */
	char cmd[4096], out[4096];
	cd_prefix(c, cmd, sizeof(cmd));
	strncat(cmd,
		"if [ -s " RUN_DIR "/daemon.rc ]; then echo \"EXITED $(cat " RUN_DIR "/daemon.rc)\"; tail -n 6 " RUN_DIR
		"/daemon.err; else echo ALIVE; fi",
		sizeof(cmd) - strlen(cmd) - 1);
	if (remote_text(c, PS_CHECKS, cmd, out, sizeof(out)) < 0)
		return fail(c, PS_CHECKS, NULL, "%s", promote_exec_interrupted() ? "interrupted (SIGINT/SIGTERM)"
							: "lost the ssh connection after the e2e checks");
	if (!strncmp(out, "EXITED", 6)) {
		int rc = atoi(out + 7);
		c->daemon_started = false;
		char how[96];
		if (rc > 128)
			snprintf(how, sizeof(how), "killed by signal %d (%s)", rc - 128, strsignal(rc - 128));
		else
			snprintf(how, sizeof(how), "exit status %d", rc);
		char detail[4096];
		lines_after_status(out, detail, sizeof(detail));
		return fail(c, PS_CHECKS, detail, "the daemon died during the checks (%s)", how);
	}
	/* The scenario suite on the DPU's own build (sim: deterministic, so
	 * the verdicts and counter digests must equal the emu run's). */
	cd_prefix(c, cmd, sizeof(cmd));
	size_t used = strlen(cmd);
	snprintf(cmd + used, sizeof(cmd) - used,
		 "rm -rf " RUN_DIR "/scenarios.jsonl " RUN_DIR "/failures && build/bluetas run %s --seeds ", c->scenarios);
	shq(cmd, sizeof(cmd), c->seeds);
	strncat(cmd, " --quiet --results " RUN_DIR "/scenarios.jsonl --pcap " RUN_DIR "/failures",
		sizeof(cmd) - strlen(cmd) - 1);
	struct exec_result r;
	int st = run_remote(c, PS_CHECKS, cmd, &r);
	if (st == -2)
		return -1;
	if (st != 0 && st != 1) { /* 1 is a verdict: a scenario failed */
		return fail_log_tail(c, PS_CHECKS, 6, "the scenario suite could not run (bluetas run exited %d)", st);
	}
	return 0;
}

/* TERM, then KILL after ~5 s; leaves daemon.rc written by the wrapper. */
static int stop_daemon(struct promote_cfg *c, enum promote_step s, char *said, size_t said_len)
{
	char cmd[2048];
	cd_prefix(c, cmd, sizeof(cmd));
	strncat(cmd,
		"P=$(cat " RUN_DIR "/daemon.pid 2>/dev/null); "
		"if [ -n \"$P\" ] && kill -0 \"$P\" 2>/dev/null; then kill -TERM \"$P\"; i=0; "
		"while kill -0 \"$P\" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; "
		"if kill -0 \"$P\" 2>/dev/null; then kill -KILL \"$P\"; echo \"daemon pid $P killed (did not stop on TERM)\"; "
		"else echo \"daemon pid $P stopped\"; fi; else echo 'daemon not running'; fi; "
		"i=0; while [ ! -s " RUN_DIR "/daemon.rc ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done",
		sizeof(cmd) - strlen(cmd) - 1);
	int st = remote_text(c, s, cmd, said, said_len);
	said[strcspn(said, "\n")] = 0;
	if (st == 0)
		c->daemon_started = false;
	return st;
}

int step_fetch(struct promote_cfg *c)
{
	char said[512];
	/* Stopped first: its --stats are printed when it exits. */
	if (stop_daemon(c, PS_FETCH, said, sizeof(said)) != 0)
		return fail(c, PS_FETCH, NULL, "%s", promote_exec_interrupted() ? "interrupted (SIGINT/SIGTERM)"
							: "could not stop the daemon before fetching its stats");
	char cmd[2048];
	cd_prefix(c, cmd, sizeof(cmd));
	strncat(cmd, "{ N=", sizeof(cmd) - strlen(cmd) - 1);
	shq(cmd, sizeof(cmd), c->hosts.dpu.netdev);
	/* The port's counters as the kernel sees them (mlx5: the same as
	 * rte_eth_xstats, which the daemon does not print), and every RDMA
	 * port counter. */
	strncat(cmd,
		"; if [ -n \"$N\" ] && command -v ethtool >/dev/null 2>&1; then echo \"# ethtool -S $N\"; ethtool -S \"$N\" 2>&1; "
		"fi; echo '# RDMA port counters'; for f in /sys/class/infiniband/*/ports/*/counters/* "
		"/sys/class/infiniband/*/ports/*/hw_counters/*; do [ -r \"$f\" ] && echo \"$f $(cat \"$f\" 2>/dev/null)\"; "
		"done; true; } >" RUN_DIR "/counters.txt 2>&1",
		sizeof(cmd) - strlen(cmd) - 1);
	struct exec_result r;
	int st = run_remote(c, PS_FETCH, cmd, &r);
	if (st == -2)
		return -1;
	char e[2048], src[PROMOTE_PATH + BT_HOSTS_STR + 32], dst[PROMOTE_PATH + 8];
	ssh_command_string(c, e, sizeof(e));
	snprintf(src, sizeof(src), "%s:%s/" RUN_DIR "/", c->target, c->remote_dir);
	snprintf(dst, sizeof(dst), "%s/dpu/", c->out_dir);
	struct argv_buf a;
	argv_init(&a);
	const char *args[] = {"rsync", "-a", "-e", e, src, dst};
	ARGV_ADD_ALL(&a, args);
	st = run_step_cmd(c, PS_FETCH, a.argv, &r);
	if (st == -2)
		return -1;
	if (st != 0)
		return fail_log_tail(c, PS_FETCH, 5, "rsync of %s exited %d", src, st);
	char path[PROMOTE_PATH + 64], why[256];
	snprintf(path, sizeof(path), "%s/dpu/scenarios.jsonl", c->out_dir);
	if (promote_read_results(c, path, true, why, sizeof(why)) < 0)
		return fail(c, PS_FETCH, NULL, "the DPU's scenario results: %s", why);
	return 0;
}

int step_emu(struct promote_cfg *c)
{
	char results[PROMOTE_PATH + 64], fails[PROMOTE_PATH + 64];
	snprintf(results, sizeof(results), "%s/emu/scenarios.jsonl", c->out_dir);
	snprintf(fails, sizeof(fails), "%s/emu/failures", c->out_dir);
	unlink(results);
	struct argv_buf a;
	argv_init(&a);
	argv_add(&a, c->self);
	argv_add(&a, "run");
	/* The same files, from the same tree, as the DPU ran. */
	char list[2048];
	snprintf(list, sizeof(list), "%s", c->scenarios);
	for (char *save = NULL, *w = strtok_r(list, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		char p[PROMOTE_PATH * 2];
		snprintf(p, sizeof(p), "%s/%s", c->src_dir, w);
		if (argv_add(&a, p) < 0)
			return fail(c, PS_EMU, NULL, "too many scenarios");
	}
	const char *rest[] = {"--seeds", c->seeds, "--quiet", "--results", results, "--pcap", fails};
	ARGV_ADD_ALL(&a, rest);
	struct exec_result r;
	int st = run_step_cmd(c, PS_EMU, a.argv, &r);
	if (st == -2)
		return -1;
	char why[256];
	if ((st != 0 && st != 1) || promote_read_results(c, results, false, why, sizeof(why)) < 0)
		return fail_log_tail(c, PS_EMU, 6, "the local scenario run failed (bluetas run exited %d)", st);
	return 0;
}

void step_stop(struct promote_cfg *c)
{
	promote_exec_cleanup_mode();
	char log[PROMOTE_PATH + 64];
	log_path(c, PS_STOP, log, sizeof(log));
	FILE *f = fopen(log, "a");
	if (c->daemon_started) {
		char said[512] = "";
		if (stop_daemon(c, PS_STOP, said, sizeof(said)) != 0) {
			fprintf(stderr,
				"bluetas promote: step stop on %s: could not stop the daemon (no ssh); it ends by itself "
				"after --duration-s %u\n",
				c->target, c->daemon_max_s);
			c->state[PS_STOP] = STEP_FAILED;
		}
		if (f)
			fprintf(f, "%s\n", said);
	}
	if (c->master_started) {
		struct argv_buf a;
		struct exec_result r;
		char sock[PROMOTE_PATH + 8];
		snprintf(sock, sizeof(sock), "%s/cm", c->ctl_dir);
		struct stat sb;
		if (stat(sock, &sb) == 0 && ssh_exit_argv(c, &a) == 0) {
			char out[512];
			promote_exec(a.argv, NULL, 10, out, sizeof(out), &r);
			if (f)
				fprintf(f, "ssh -O exit: %s", out);
			/* The master unlinks its socket as it exits: give it 2 s. */
			for (int i = 0; i < 100 && stat(sock, &sb) == 0; i++)
				sleep_ms(20);
			unlink(sock);
		}
		c->master_started = false;
	}
	if (f)
		fclose(f);
	if (c->state[PS_STOP] != STEP_FAILED)
		c->state[PS_STOP] = STEP_OK;
}
