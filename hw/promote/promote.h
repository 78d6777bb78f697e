/*
 * promote.h: `bluetas promote`, the one command from a green emu run to a
 * BlueField run (docs/hardware.md, "Promotion"). It reads the hosts file
 * and runs these steps in order, each bounded by its own timeout, each
 * failing with "step STEP on HOST failed: why" and the tail of its log:
 *
 *   preflight-host  `bluetas preflight --role host` here; stop on FAIL
 *   connect         ssh to the DPU (ControlMaster under a private temp
 *                   dir, BatchMode, ConnectTimeout); make, cc, rsync there
 *   sync            rsync the source tree to the DPU (build dirs and .git
 *                   excluded; the DPU's own build/ is kept: incremental)
 *   build           `make build/bluetas` natively on the DPU, against the
 *                   card's DPDK (/opt/mellanox/dpdk/lib/ARCH/pkgconfig)
 *                   when present
 *   preflight-dpu   `bluetas preflight --role dpu` with the binary just
 *                   built (its libs line is about what that build resolved)
 *   daemon          `bluetas nic --channel ...` on the DPU, until "ready"
 *   checks          e2e: `bluetas app` here against that daemon; then the
 *                   scenario suite on the DPU's build; the daemon must
 *                   still be alive afterwards
 *   fetch           daemon log and stats, pcap, scenario results, port
 *                   counters (ethtool -S, RDMA port counters) to OUT/dpu/
 *   emu             the same scenario suite here, same commit
 *   report          OUT/report.txt: the verdicts side by side
 *
 * and, on every path out (success, a failed step, SIGINT/SIGTERM), stop:
 * the daemon stopped (TERM, then KILL), the ssh master closed, the
 * private temp dir removed. The runner is split by job: promote_exec.c
 * (a child with a deadline), promote_ssh.c (ssh/rsync command lines),
 * promote_steps.c (the steps), promote_report.c, cli_promote.c (options
 * and the sequence).
 */
#ifndef BT_HW_PROMOTE_H
#define BT_HW_PROMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../hosts/hosts.h"

enum promote_step {
	PS_PREFLIGHT_HOST,
	PS_CONNECT,
	PS_SYNC,
	PS_BUILD,
	PS_PREFLIGHT_DPU,
	PS_DAEMON,
	PS_CHECKS,
	PS_FETCH,
	PS_EMU,
	PS_REPORT,
	PS_STOP,
	PS_COUNT
};

enum step_state { STEP_NOT_RUN, STEP_OK, STEP_FAILED };

#define PROMOTE_PATH 512u
#define PROMOTE_MAX_CHECKS 64u

/* One verdict of one check, on one side. */
struct promote_check {
	char name[96];     /* "e2e/echo-4conns", "scenario mr_overflow seed 1" */
	char hw[8];        /* PASS, FAIL, or "-" (not run on that side) */
	char emu[8];
	char hw_digest[17];/* scenarios: the counters digest (sim is deterministic) */
	char emu_digest[17];
	char note[160];    /* a FAIL's diagnosis, or why a side has no twin */
};

struct promote_cfg {
	/* inputs */
	const char *hosts_path;
	struct bt_hosts hosts;
	const char *self;           /* this bluetas binary (preflight, app, run here) */
	const char *src_dir;        /* the tree to promote (default ".") */
	const char *remote_dir;     /* on the DPU, relative to the login's home or absolute */
	const char *out_dir;        /* here: fetched artifacts and the report */
	const char *report_path;
	const char *ssh_config;     /* ssh -F FILE, or NULL: the user's own ~/.ssh/config */
	const char *host_sysroot;   /* preflight roots (tests: fixture trees) */
	const char *dpu_sysroot;
	const char *channel;        /* ipc:PATH for both sides, or NULL: verbs from the hosts file */
	const char *port_vdev;      /* an emu stand-in for the mlx5 port (--vdev), or NULL */
	const char *stack_ip;       /* the daemon's address on the wire, A.B.C.D/LEN (default: [dpu] wire_ip) */
	uint16_t peer_port;         /* the echo service on the wire peer */
	const char *scenarios;      /* space-separated scenario files, relative to the tree */
	const char *seeds;          /* A..B */
	unsigned make_jobs;         /* 0: the DPU's nproc */
	unsigned daemon_max_s;      /* the daemon's own --duration-s: it ends even if we die */
	unsigned connect_timeout_s;
	unsigned timeout_s[PS_COUNT];
	const char *daemon_extra[16];
	size_t daemon_extra_count;
	/* derived */
	char target[BT_HOSTS_STR];  /* user@host of [dpu] ssh */
	char stack_ip_buf[24];      /* stack_ip from the hosts file: A.B.C.D/LEN */
	char ctl_dir[PROMOTE_PATH]; /* private temp dir: ControlPath and scratch */
	char daemon_channel[256];
	char app_channel[256];
	char commit[64];            /* git describe of src_dir, "+dirty" when it has changes */
	/* outcome */
	enum step_state state[PS_COUNT];
	double secs[PS_COUNT];
	char failure[1024];         /* the first failure's message, for the report */
	bool daemon_started;
	bool master_started;
	struct promote_check checks[PROMOTE_MAX_CHECKS];
	size_t check_count;
	char remote_arch[32];
};

/* "preflight-host", "connect", ... */
const char *promote_step_name(enum promote_step s);
/* Parses "STEP" -> step; -1 if unknown. */
int promote_step_from_name(const char *name);

/* ---- promote_exec.c: a child with a deadline ---- */

struct exec_result {
	int status;      /* exit status, 128+N after signal N, -1 could not start */
	bool timed_out;  /* killed at the deadline */
	bool interrupted;/* we got SIGINT/SIGTERM meanwhile */
};

/* Installs SIGINT/SIGTERM handlers that only set a flag: a running step is
 * stopped, then the cleanup runs. */
void promote_exec_init(void);
bool promote_exec_interrupted(void);
/* From now on an interrupt no longer stops children (only deadlines do):
 * the stop step runs to its end after a SIGINT. */
void promote_exec_cleanup_mode(void);
/* Runs argv (argv[0] looked up in PATH) in its own process group with
 * stdin from /dev/null and stdout+stderr appended to log_path (or into
 * out_text, at most out_len - 1 bytes kept, when log_path is NULL). At
 * timeout_s the whole group gets SIGTERM, 2 s later SIGKILL. */
int promote_exec(char *const argv[], const char *log_path, unsigned timeout_s, char *out_text, size_t out_len,
		 struct exec_result *res);
/* The last max_lines lines of a file, each prefixed with "    | ", into out. */
void promote_log_tail(const char *path, unsigned max_lines, char *out, size_t out_len);

/* ---- promote_ssh.c: command lines ---- */

#define PROMOTE_MAX_ARGV 48u
struct argv_buf {
	char *argv[PROMOTE_MAX_ARGV + 1];
	size_t count;
	char store[8192];
	size_t used;
};
void argv_init(struct argv_buf *a);
/* Appends one argument (copied); -1 when full. */
int argv_add(struct argv_buf *a, const char *arg);
/* Appends n arguments (copied); -1 when full. ARGV_ADD_ALL takes an array. */
int argv_add_all(struct argv_buf *a, const char *const args[], size_t n);
#define ARGV_ADD_ALL(a, args) argv_add_all(a, args, sizeof(args) / sizeof((args)[0]))
/* ssh ... TARGET REMOTE_CMD: REMOTE_CMD is one shell command line, run by
 * the login shell on the DPU (quote with shq). */
int ssh_argv(const struct promote_cfg *c, struct argv_buf *a, const char *remote_cmd);
/* The -e of rsync: the same ssh options as one string. */
void ssh_command_string(const struct promote_cfg *c, char *out, size_t out_len);
/* `ssh -O exit`: closes the master. */
int ssh_exit_argv(const struct promote_cfg *c, struct argv_buf *a);
/* Appends s to out single-quoted for a POSIX shell. -1 if it does not fit. */
int shq(char *out, size_t out_len, const char *s);

/* ---- promote_steps.c ---- */

/* Each returns 0, or -1 with c->failure set ("step NAME on HOST failed: ..."). */
int step_preflight_host(struct promote_cfg *c);
int step_connect(struct promote_cfg *c);
int step_sync(struct promote_cfg *c);
int step_build(struct promote_cfg *c);
int step_preflight_dpu(struct promote_cfg *c);
int step_daemon(struct promote_cfg *c);
int step_checks(struct promote_cfg *c);
int step_fetch(struct promote_cfg *c);
int step_emu(struct promote_cfg *c);
/* Stops the daemon if started and closes the ssh master. Never fails the
 * run; says what it could not stop. */
void step_stop(struct promote_cfg *c);

/* ---- promote_report.c ---- */

/* Reads `bluetas run --results` JSON lines into c->checks (side "hw" or
 * "emu"). 0, or -1 with why. */
int promote_read_results(struct promote_cfg *c, const char *path, bool hw, char *why, size_t why_len);
/* The report: steps, checks side by side, artifacts. 0 or -1 (errno). */
int promote_write_report(const struct promote_cfg *c, const char *path);
/* True when every check ran on both sides where it has a twin, passed on
 * hw, and agrees with emu. */
bool promote_verdicts_agree(const struct promote_cfg *c);
/* Finds or adds a check by name; NULL when the table is full. */
struct promote_check *promote_check_get(struct promote_cfg *c, const char *name);

#endif
