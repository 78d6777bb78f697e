/*
 * cli_promote.c: `bluetas promote`: options, what they derive (ssh
 * target, channel specs, commit), and the sequence of steps with the stop
 * step on every way out (promote.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../sim/cli/cli.h"
#include "../commands.h"
#include "promote.h"

#define DEFAULT_SCENARIOS "scenarios/multiseg_rx_mss1448.scn scenarios/send_deadlock.scn scenarios/mr_overflow.scn"

void cli_promote_usage(FILE *out)
{
	fprintf(out,
		"usage: bluetas promote --hosts FILE [--stack-ip A.B.C.D/LEN] [OPTIONS]\n"
		"\n"
		"Promotes this tree to the BlueField of the hosts file (docs/hardware.md,\n"
		"\"Promotion\"): preflight here, ssh to the DPU, rsync the tree, build it there,\n"
		"preflight there, start the NIC daemon there, run the e2e checks here against it\n"
		"and the scenario suite there, fetch logs, stats, pcap and counters, run the\n"
		"same scenarios here, and write one report with both sides' verdicts. Every\n"
		"step is bounded; a failure names the step and the host; the daemon and the\n"
		"ssh master are stopped on every way out.\n"
		"Exit status: 0 every step passed and hw agrees with emu, 1 a step failed or\n"
		"the verdicts differ, 2 usage error.\n"
		"\n"
		"setup:\n"
		"  --hosts FILE           the hosts file (docs/hardware.md); [dpu] ssh is the target\n"
		"  --stack-ip A.B.C.D/LEN the daemon's address on the wire (default: [dpu] wire_ip)\n"
		"  --src DIR              the tree to promote (default .)\n"
		"  --remote-dir DIR       where it goes on the DPU (default bluetas, in the login's home)\n"
		"  --out DIR              here: fetched artifacts, logs, report (default build/promote)\n"
		"  --report FILE          the report (default OUT/report.txt)\n"
		"  --ssh-config FILE      ssh -F FILE (default: your own ~/.ssh/config and keys)\n"
		"  --connect-timeout-s N  ssh ConnectTimeout (default 10)\n"
		"  --jobs N               make -jN on the DPU (default: its nproc)\n"
		"  --timeout STEP=S       bound one step (repeatable); steps and default seconds:\n"
		"                         preflight-host 60, connect 30 (at least ConnectTimeout + 20),\n"
		"                         sync 300, build 1800, preflight-dpu 60, daemon 60, checks 600,\n"
		"                         fetch 120, emu 600\n"
		"\n"
		"what runs:\n"
		"  --peer-port N          the echo service of the wire peer ([dpu] peer_ip) the e2e\n"
		"                         checks connect to (default 7)\n"
		"  --scenarios 'F...'     scenario files, relative to the tree (default the three\n"
		"                         BlueTAS failure scenarios)\n"
		"  --seeds A..B           (default 1..2)\n"
		"  --daemon-max-s N       the daemon's own --duration-s, so it ends even if promote\n"
		"                         is killed (default 600)\n"
		"  --daemon-arg ARG       one more daemon argument (repeatable)\n"
		"\n"
		"rehearsal (tests/promote/run.sh: a stand-in DPU without mlx5):\n"
		"  --channel ipc:PATH     both sides on the ipc channel instead of verbs from the\n"
		"                         hosts file ([dpu] ip, rdma_dev; [host] ip, gid_index)\n"
		"  --port-vdev DEVARGS    the daemon on this DPDK vdev instead of -a [dpu] devargs\n"
		"  --host-sysroot DIR, --dpu-sysroot DIR   the preflights' roots (fixture trees;\n"
		"                         the DPU's is a path there)\n"
		"  -h, --help             this help\n"
		"\n"
		"example:\n"
		"  bluetas promote --hosts lab.hosts\n"
		"  make promote HOSTS=lab.hosts PROMOTE_ARGS='--stack-ip 192.168.60.2/24'\n");
}

enum {
	OPT_HOSTS = 256,
	OPT_STACK_IP,
	OPT_SRC,
	OPT_REMOTE_DIR,
	OPT_OUT,
	OPT_REPORT,
	OPT_SSH_CONFIG,
	OPT_CONNECT_TIMEOUT,
	OPT_JOBS,
	OPT_TIMEOUT,
	OPT_PEER_PORT,
	OPT_SCENARIOS,
	OPT_SEEDS,
	OPT_DAEMON_MAX,
	OPT_DAEMON_ARG,
	OPT_CHANNEL,
	OPT_PORT_VDEV,
	OPT_HOST_SYSROOT,
	OPT_DPU_SYSROOT,
};

static void defaults(struct promote_cfg *c)
{
	memset(c, 0, sizeof(*c));
	bt_hosts_init(&c->hosts);
	c->src_dir = ".";
	c->remote_dir = "bluetas";
	c->out_dir = "build/promote";
	c->peer_port = 7;
	c->scenarios = DEFAULT_SCENARIOS;
	c->seeds = "1..2";
	c->daemon_max_s = 600;
	c->connect_timeout_s = 10;
	static const unsigned t[PS_COUNT] = {
		[PS_PREFLIGHT_HOST] = 60, [PS_CONNECT] = 30, [PS_SYNC] = 300, [PS_BUILD] = 1800,
		[PS_PREFLIGHT_DPU] = 60, [PS_DAEMON] = 60, [PS_CHECKS] = 600, [PS_FETCH] = 120,
		[PS_EMU] = 600, [PS_REPORT] = 10, [PS_STOP] = 30,
	};
	memcpy(c->timeout_s, t, sizeof(t));
}

static int parse_timeout(struct promote_cfg *c, const char *arg)
{
	char name[32];
	const char *eq = strchr(arg, '=');
	if (!eq || (size_t)(eq - arg) >= sizeof(name)) {
		fprintf(stderr, "bluetas promote: --timeout: expected STEP=SECONDS, got '%s'\n", arg);
		return -1;
	}
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = 0;
	int s = promote_step_from_name(name);
	if (s < 0) {
		fprintf(stderr, "bluetas promote: --timeout: unknown step '%s' (see --help)\n", name);
		return -1;
	}
	uint64_t v;
	if (cli_parse_u64("--timeout seconds", eq + 1, 1, 86400, &v) < 0)
		return -1;
	c->timeout_s[s] = (unsigned)v;
	return 0;
}

/* Returns 0, 1 after --help, -1 after a usage message. */
static int parse_args(int argc, char **argv, struct promote_cfg *c)
{
	static const struct option opts[] = {
		{"hosts", required_argument, 0, OPT_HOSTS},
		{"stack-ip", required_argument, 0, OPT_STACK_IP},
		{"src", required_argument, 0, OPT_SRC},
		{"remote-dir", required_argument, 0, OPT_REMOTE_DIR},
		{"out", required_argument, 0, OPT_OUT},
		{"report", required_argument, 0, OPT_REPORT},
		{"ssh-config", required_argument, 0, OPT_SSH_CONFIG},
		{"connect-timeout-s", required_argument, 0, OPT_CONNECT_TIMEOUT},
		{"jobs", required_argument, 0, OPT_JOBS},
		{"timeout", required_argument, 0, OPT_TIMEOUT},
		{"peer-port", required_argument, 0, OPT_PEER_PORT},
		{"scenarios", required_argument, 0, OPT_SCENARIOS},
		{"seeds", required_argument, 0, OPT_SEEDS},
		{"daemon-max-s", required_argument, 0, OPT_DAEMON_MAX},
		{"daemon-arg", required_argument, 0, OPT_DAEMON_ARG},
		{"channel", required_argument, 0, OPT_CHANNEL},
		{"port-vdev", required_argument, 0, OPT_PORT_VDEV},
		{"host-sysroot", required_argument, 0, OPT_HOST_SYSROOT},
		{"dpu-sysroot", required_argument, 0, OPT_DPU_SYSROOT},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	uint64_t v;
	int ch;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_HOSTS: c->hosts_path = optarg; break;
		case OPT_STACK_IP: c->stack_ip = optarg; break;
		case OPT_SRC: c->src_dir = optarg; break;
		case OPT_REMOTE_DIR: c->remote_dir = optarg; break;
		case OPT_OUT: c->out_dir = optarg; break;
		case OPT_REPORT: c->report_path = optarg; break;
		case OPT_SSH_CONFIG: c->ssh_config = optarg; break;
		case OPT_CONNECT_TIMEOUT:
			if (cli_parse_u64("--connect-timeout-s", optarg, 1, 600, &v) < 0)
				return -1;
			c->connect_timeout_s = (unsigned)v;
			break;
		case OPT_JOBS:
			if (cli_parse_u64("--jobs", optarg, 1, 256, &v) < 0)
				return -1;
			c->make_jobs = (unsigned)v;
			break;
		case OPT_TIMEOUT:
			if (parse_timeout(c, optarg) < 0)
				return -1;
			break;
		case OPT_PEER_PORT:
			if (cli_parse_u64("--peer-port", optarg, 1, 65535, &v) < 0)
				return -1;
			c->peer_port = (uint16_t)v;
			break;
		case OPT_SCENARIOS: c->scenarios = optarg; break;
		case OPT_SEEDS: c->seeds = optarg; break;
		case OPT_DAEMON_MAX:
			if (cli_parse_u64("--daemon-max-s", optarg, 5, 86400, &v) < 0)
				return -1;
			c->daemon_max_s = (unsigned)v;
			break;
		case OPT_DAEMON_ARG:
			if (c->daemon_extra_count >= sizeof(c->daemon_extra) / sizeof(c->daemon_extra[0])) {
				fprintf(stderr, "bluetas promote: --daemon-arg: at most 16\n");
				return -1;
			}
			c->daemon_extra[c->daemon_extra_count++] = optarg;
			break;
		case OPT_CHANNEL: c->channel = optarg; break;
		case OPT_PORT_VDEV: c->port_vdev = optarg; break;
		case OPT_HOST_SYSROOT: c->host_sysroot = optarg; break;
		case OPT_DPU_SYSROOT: c->dpu_sysroot = optarg; break;
		case 'h': cli_promote_usage(stdout); return 1;
		default: cli_opt_error("promote", ch, argv); return -1; /* ':' or an unknown option */
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bluetas promote: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

/* What the options and the hosts file mean together; -1 after a message. */
static int derive(struct promote_cfg *c)
{
	char err[512];
	if (!c->hosts_path) {
		fprintf(stderr, "bluetas promote: --hosts FILE is required (docs/hardware.md, \"The hosts file\")\n");
		return -1;
	}
	if (bt_hosts_load(c->hosts_path, &c->hosts, err, sizeof(err)) < 0) {
		fprintf(stderr, "bluetas promote: %s\n", err);
		return -1;
	}
	const struct bt_hosts_side *h = &c->hosts.host, *d = &c->hosts.dpu;
	if (!d->present || !d->ssh[0]) {
		fprintf(stderr, "bluetas promote: %s: [dpu] ssh = user@host is required (the DPU to promote to)\n",
			c->hosts_path);
		return -1;
	}
	snprintf(c->target, sizeof(c->target), "%s", d->ssh);
	if (!d->peer_ip[0]) {
		fprintf(stderr, "bluetas promote: %s: [dpu] peer_ip is required (the wire peer the e2e checks reach)\n",
			c->hosts_path);
		return -1;
	}
	if (!c->port_vdev && !d->devargs[0]) {
		fprintf(stderr, "bluetas promote: %s: [dpu] devargs is required (the daemon's DPDK port)\n", c->hosts_path);
		return -1;
	}
	if (!c->stack_ip && d->wire_ip[0]) {
		/* The hosts file's own answer, as bluetas nic --hosts takes it. */
		snprintf(c->stack_ip_buf, sizeof(c->stack_ip_buf), "%s/%d", d->wire_ip, d->wire_prefix_len);
		c->stack_ip = c->stack_ip_buf;
	}
	if (!c->stack_ip) {
		fprintf(stderr,
			"bluetas promote: %s: [dpu] has no wire_ip, so --stack-ip A.B.C.D/LEN is required (the daemon's "
			"address on the wire)\n",
			c->hosts_path);
		return -1;
	}
	if (c->channel) {
		if (strncmp(c->channel, "ipc:", 4) || !c->channel[4]) {
			fprintf(stderr, "bluetas promote: --channel: expected ipc:PATH, got '%s' (verbs comes from the hosts file)\n",
				c->channel);
			return -1;
		}
		snprintf(c->daemon_channel, sizeof(c->daemon_channel), "%s", c->channel);
		snprintf(c->app_channel, sizeof(c->app_channel), "%s", c->channel);
	} else {
		if (!d->ip[0] || !h->ip[0]) {
			fprintf(stderr, "bluetas promote: %s: [dpu] ip and [host] ip are required for the verbs channel\n",
				c->hosts_path);
			return -1;
		}
		int n = snprintf(c->daemon_channel, sizeof(c->daemon_channel), "verbs:%s", d->ip);
		if (strcmp(d->rdma_dev, "auto"))
			snprintf(c->daemon_channel + n, sizeof(c->daemon_channel) - (size_t)n, ",dev=%s", d->rdma_dev);
		n = snprintf(c->app_channel, sizeof(c->app_channel), "verbs:%s,src=%s", d->ip, h->ip);
		if (strcmp(h->rdma_dev, "auto"))
			n += snprintf(c->app_channel + n, sizeof(c->app_channel) - (size_t)n, ",dev=%s", h->rdma_dev);
		if (h->gid_index >= 0)
			snprintf(c->app_channel + n, sizeof(c->app_channel) - (size_t)n, ",gid=%d", h->gid_index);
	}
	char probe[PROMOTE_PATH + 32];
	snprintf(probe, sizeof(probe), "%s/Makefile", c->src_dir);
	struct stat sb;
	if (stat(probe, &sb) != 0) {
		fprintf(stderr, "bluetas promote: --src %s: no Makefile there (run from the repository root or give --src)\n",
			c->src_dir);
		return -1;
	}
	for (const char *p = c->scenarios; *p; p++) {
		if (strchr("'\"`$;&|<>\\", *p)) {
			fprintf(stderr, "bluetas promote: --scenarios: '%c' is not allowed in a file name here\n", *p);
			return -1;
		}
	}
	static char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		fprintf(stderr, "bluetas promote: cannot find this binary (/proc/self/exe): %s\n", strerror(errno));
		return -1;
	}
	self[n] = 0;
	c->self = self;
	return 0;
}

static int mkdir_p(const char *path)
{
	char buf[PROMOTE_PATH + 64];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* "abc1234" or "abc1234+dirty"; "unknown (no git)" outside a checkout. */
static void read_commit(struct promote_cfg *c)
{
	char *argv[] = {"git", "-C", (char *)c->src_dir, "describe", "--always", "--dirty=+dirty", NULL};
	struct exec_result r;
	char out[128] = "";
	if (promote_exec(argv, NULL, 10, out, sizeof(out), &r) == 0 && r.status == 0 && out[0]) {
		out[strcspn(out, "\n")] = 0;
		snprintf(c->commit, sizeof(c->commit), "%.63s", out); /* describe output is short */
	} else {
		snprintf(c->commit, sizeof(c->commit), "unknown (no git)");
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cli_promote(int argc, char **argv)
{
	static struct promote_cfg cfg; /* large (check table): not on the stack */
	struct promote_cfg *c = &cfg;
	defaults(c);
	int rc = parse_args(argc, argv, c);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (derive(c) < 0)
		return 2;
	c->timeout_s[PS_CONNECT] = c->connect_timeout_s + 20 > c->timeout_s[PS_CONNECT] ? c->connect_timeout_s + 20
											 : c->timeout_s[PS_CONNECT];
	char dir[PROMOTE_PATH + 16];
	const char *sub[] = {"", "/logs", "/dpu", "/emu", "/host"};
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(dir, sizeof(dir), "%s%s", c->out_dir, sub[i]);
		if (mkdir_p(dir) < 0) {
			fprintf(stderr, "bluetas promote: --out: cannot create %s: %s\n", dir, strerror(errno));
			return 2;
		}
	}
	for (int s = 0; s < PS_COUNT; s++) { /* this run's logs only */
		snprintf(dir, sizeof(dir), "%s/logs/%s.log", c->out_dir, promote_step_name((enum promote_step)s));
		unlink(dir);
	}
	char report[PROMOTE_PATH + 16];
	snprintf(report, sizeof(report), "%s", c->report_path ? c->report_path : "");
	if (!report[0])
		snprintf(report, sizeof(report), "%s/report.txt", c->out_dir);
	/* Private (0700) temp dir for the ssh ControlPath: nobody else can
	 * ride our master connection. */
	const char *tmp = getenv("TMPDIR");
	snprintf(c->ctl_dir, sizeof(c->ctl_dir), "%s/bt-promote.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(c->ctl_dir)) {
		fprintf(stderr, "bluetas promote: cannot create a private temp dir %s: %s\n", c->ctl_dir, strerror(errno));
		return 2;
	}
	promote_exec_init();
	read_commit(c);
	printf("promote: %s to %s (%s), out %s\n", c->commit, c->target, c->remote_dir, c->out_dir);
	fflush(stdout);

	static int (*const steps[])(struct promote_cfg *) = {
		[PS_PREFLIGHT_HOST] = step_preflight_host, [PS_CONNECT] = step_connect, [PS_SYNC] = step_sync,
		[PS_BUILD] = step_build, [PS_PREFLIGHT_DPU] = step_preflight_dpu, [PS_DAEMON] = step_daemon,
		[PS_CHECKS] = step_checks, [PS_FETCH] = step_fetch, [PS_EMU] = step_emu,
	};
	bool failed = false;
	for (int s = 0; s <= PS_EMU && !failed; s++) {
		if (promote_exec_interrupted()) {
			snprintf(c->failure, sizeof(c->failure), "step %s: not started: interrupted (SIGINT/SIGTERM)",
				 promote_step_name((enum promote_step)s));
			failed = true;
			break;
		}
		double t0 = now_s();
		int r = steps[s](c);
		c->secs[s] = now_s() - t0;
		c->state[s] = r == 0 ? STEP_OK : STEP_FAILED;
		printf("promote: %-15s %s (%.1f s)\n", promote_step_name((enum promote_step)s), r == 0 ? "ok" : "FAILED",
		       c->secs[s]);
		fflush(stdout);
		failed = r != 0;
	}
	double t0 = now_s();
	step_stop(c);
	c->secs[PS_STOP] = now_s() - t0;
	rmdir(c->ctl_dir); /* the master removed its socket on exit */

	t0 = now_s();
	c->state[PS_REPORT] = STEP_OK; /* the report says it was written */
	int wr = promote_write_report(c, report);
	c->secs[PS_REPORT] = now_s() - t0;
	if (failed)
		fprintf(stderr, "bluetas promote: %s\n", c->failure);
	if (wr < 0) {
		fprintf(stderr, "bluetas promote: step report on this host failed: cannot write %s: %s\n", report,
			strerror(errno));
		return 1;
	}
	bool agree = !failed && promote_verdicts_agree(c);
	printf("promote: report %s: %s\n", report,
	       failed ? "FAIL (a step failed)" : agree ? "PASS (hw agrees with emu)" : "FAIL (hw differs from emu, or failed)");
	return failed || !agree ? 1 : 0;
}
