/*
 * eal_probe.c: the `eal-probe` line: DPDK itself probes the port of the
 * hosts file's [dpu] section and names its driver (the `dpdk-probe` line
 * only infers it from sysfs).
 *
 * rte_eal_init runs in a child of this process, for three reasons: the
 * EAL can be initialised once per process and keeps threads and memory,
 * a probe can hang (a device that does not answer), and its log must not
 * mix with the report. The parent waits at most EAL_PROBE_TIMEOUT_MS,
 * then kills it. The child gets an explicit allowlist and nothing else:
 *   devargs = PCI address   -> -a DEVARGS           (only that function)
 *   devargs = auxiliary:... -> -a DEVARGS --no-pci  (an allowlist narrows
 *                                                    its own bus only)
 *   vdev    = net_...       -> --vdev VDEV --no-pci
 * so it never probes every PCI device. Memory: hugepages of the size
 * found at run time when reserved and mounted (--in-memory), else
 * --no-huge -m 64 (enough to probe, not to run); a unique --file-prefix
 * either way, its runtime directory removed afterwards.
 *
 * A PCI or SF port is a device of the live machine: on a fixture tree
 * (--sysroot) it is not probed (SKIP); a vdev is software and is probed
 * anywhere, which is how the suite tests this line (net_null).
 */
#define _GNU_SOURCE
#include "preflight.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../transports/dpdk/dpdk_netif.h"

#define EAL_PROBE_TIMEOUT_MS 20000
#define EAL_PROBE_MEM_MB "64"
#define EAL_PROBE_MAX_PORTS 8

/* In the child: the EAL on argv, then one line per probed port ("port
 * NAME DRIVER") or "error MESSAGE" on fd. Never returns. */
static void probe_child(int fd, int log_fd, int argc, char **argv)
{
	dup2(log_fd, STDOUT_FILENO);
	dup2(log_fd, STDERR_FILENO);
	FILE *out = fdopen(fd, "w");
	if (!out)
		_exit(2);
	char err[512];
	if (dpdk_eal_init(argc, argv, err, sizeof(err)) < 0) {
		fprintf(out, "error %s\n", err);
		fclose(out);
		_exit(1);
	}
	int n = dpdk_port_count();
	for (int i = 0; i < n && i < EAL_PROBE_MAX_PORTS; i++) {
		char name[128], driver[64];
		if (dpdk_port_describe(i, name, sizeof(name), driver, sizeof(driver)) == 0)
			fprintf(out, "port %s %s\n", name, driver);
	}
	fclose(out);
	dpdk_eal_fini();
	_exit(0);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the child's report into buf until EOF or the deadline. Returns
 * the length, or -1 on timeout. */
static int read_report(int fd, char *buf, size_t cap, long long deadline_ms)
{
	size_t len = 0;
	for (;;) {
		long long left = deadline_ms - now_ms();
		if (left <= 0)
			return -1;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (len += (size_t)n) >= cap - 1)
			break;
	}
	buf[len] = '\0';
	return (int)len;
}

/* The first line of the EAL's log that says what went wrong (the PMD's
 * own complaint comes before the bus's summary), for the FAIL line; the
 * whole log would be the wall of text this command avoids. */
static void last_log_line(int log_fd, char *out, size_t out_len)
{
	char log[8192];
	out[0] = '\0';
	if (lseek(log_fd, 0, SEEK_SET) < 0)
		return;
	ssize_t n = read(log_fd, log, sizeof(log) - 1);
	if (n <= 0)
		return;
	log[n] = '\0';
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strncmp(line, "EAL: ", 5))
			line += 5;
		if (!out[0] && (strcasestr(line, "fail") || strcasestr(line, "error") || strcasestr(line, "cannot") ||
				strcasestr(line, "couldn't") || strstr(line, "No ") || strstr(line, "not found")))
			pf_fmt(out, out_len, "%s", line);
	}
}

void pf_check_eal_probe(struct pf_ctx *c)
{
	const struct bt_hosts_side *s = c->side;
	const char *devargs = s && s->devargs[0] ? s->devargs : NULL;
	const char *vdev = s && s->vdev[0] ? s->vdev : NULL;
	if (!devargs && !vdev) {
		pf_report(c, PF_SKIP, "eal-probe", NULL, "no port to probe: devargs or vdev in [dpu] (--hosts FILE)");
		return;
	}
	if (devargs && !bt_sysroot_is_live(&c->root)) {
		pf_report(c, PF_SKIP, "eal-probe", NULL, "%s is a device of the machine: probed on the live root only", devargs);
		return;
	}
	char prefix[32], mem_dir[256] = "";
	pf_fmt(prefix, sizeof(prefix), "bt-preflight-%d", (int)getpid());
	char *argv[24];
	int argc = 0;
	argv[argc++] = "bluetas-preflight";
	struct bt_hugepages hp;
	struct bt_sysroot live;
	char err[128];
	bool huge = bt_sysroot_init(&live, "/", err, sizeof(err)) == 0 && bt_hugepages_find(&live, &hp) == 0;
	if (huge) {
		pf_fmt(mem_dir, sizeof(mem_dir), "%s", hp.mount);
		argv[argc++] = "--in-memory";
		argv[argc++] = "--huge-dir";
		argv[argc++] = mem_dir;
	} else {
		/* --no-huge is legacy memory, which --in-memory refuses. */
		argv[argc++] = "--no-huge";
		argv[argc++] = "-m";
		argv[argc++] = EAL_PROBE_MEM_MB;
		argv[argc++] = "--no-shconf";
	}
	argv[argc++] = "--file-prefix";
	argv[argc++] = prefix;
	argv[argc++] = "--no-telemetry";
	char port_arg[BT_HOSTS_STR];
	pf_fmt(port_arg, sizeof(port_arg), "%s", devargs ? devargs : vdev);
	if (vdev || strncmp(devargs, "auxiliary:", 10) == 0)
		argv[argc++] = "--no-pci";
	argv[argc++] = vdev ? "--vdev" : "-a";
	argv[argc++] = port_arg;
	argv[argc] = NULL;
	char shown[512] = "";
	for (int i = 1; i < argc; i++)
		pf_fmt(shown + strlen(shown), sizeof(shown) - strlen(shown), "%s%s", i > 1 ? " " : "", argv[i]);

	int fds[2];
	char log_path[] = "/tmp/bt-preflight-eal.XXXXXX";
	int log_fd = mkstemp(log_path);
	if (log_fd >= 0)
		unlink(log_path);
	if (log_fd < 0 || pipe(fds) != 0) {
		pf_report(c, PF_FAIL, "eal-probe", "free file descriptors / space in /tmp and rerun",
			  "cannot set up the probe: %s", strerror(errno));
		if (log_fd >= 0)
			close(log_fd);
		return;
	}
	fflush(NULL); /* the child must not write our buffered report again */
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		probe_child(fds[1], log_fd, argc, argv);
	}
	close(fds[1]);
	char report[2048] = "";
	int n = pid < 0 ? -2 : read_report(fds[0], report, sizeof(report), now_ms() + EAL_PROBE_TIMEOUT_MS);
	close(fds[0]);
	if (pid > 0) {
		if (n == -1)
			kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	char why[300];
	last_log_line(log_fd, why, sizeof(why));
	close(log_fd);
	char rundir[300];
	pf_fmt(rundir, sizeof(rundir), "/var/run/dpdk/%s", prefix);
	rmdir(rundir); /* ours alone (unique prefix); left if the EAL put files there */

	if (n == -2) {
		pf_report(c, PF_FAIL, "eal-probe", "check ulimit -u and free memory, and rerun", "cannot fork the probe: %s",
			  strerror(errno));
		return;
	}
	if (n == -1) {
		pf_report(c, PF_FAIL, "eal-probe", "look for a device that does not answer (dmesg), or run dpdk-testpmd with the same arguments",
			  "the EAL did not finish probing %s within %d s (%s)", port_arg, EAL_PROBE_TIMEOUT_MS / 1000, shown);
		return;
	}
	char ports[1024] = "";
	int probed = 0;
	for (char *line = strtok(report, "\n"); line; line = strtok(NULL, "\n")) {
		char name[128], driver[64];
		if (!strncmp(line, "error ", 6)) {
			char *hint = strstr(line, "; hint:"); /* the daemon's hints; the fix line is ours */
			if (hint)
				*hint = '\0';
			pf_report(c, PF_FAIL, "eal-probe",
				  vdev ? "fix vdev in [dpu] (DPDK's --vdev syntax: net_tap0,iface=NAME, net_pcap0,rx_pcap=FILE, ...)"
				       : "bluetas preflight's hugepages, libs and dpdk-probe lines say what the EAL lacks",
				  "rte_eal_init failed for %s: %s%s%s", port_arg, line + 6, why[0] ? "; DPDK: " : "", why);
			return;
		}
		if (sscanf(line, "port %127s %63s", name, driver) == 2) {
			pf_fmt(ports + strlen(ports), sizeof(ports) - strlen(ports), "%s%s -> driver %s", probed ? ", " : "",
				 name, driver);
			probed++;
		}
	}
	if (!probed) {
		char fix[256];
		if (vdev)
			pf_fmt(fix, sizeof(fix), "fix vdev in [dpu]: DPDK created no port from it (is the PMD installed? dpdk-testpmd --vdev ... lists them)");
		else
			pf_fmt(fix, sizeof(fix), "keep %s bound to mlx5_core with mlx5_ib loaded (dpdk-probe above), install DPDK's mlx5 PMD (libs)", port_arg);
		pf_report(c, PF_FAIL, "eal-probe", fix, "the EAL started but probed no port for %s%s%s", port_arg,
			  why[0] ? "; DPDK: " : "", why);
		return;
	}
	pf_report(c, PF_PASS, "eal-probe", NULL, "%s (rte_eal_init %s)", ports, shown);
}
