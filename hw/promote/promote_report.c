/*
 * promote_report.c: the verdicts of the hardware run next to the emu run
 * of the same commit, in one text file (docs/hardware.md has an example).
 * Scenario runs are keyed by scenario and seed; with the sim backend both
 * sides must agree on the verdict and on the digest of every counter.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../sim/cli/json_read.h"
#include "promote.h"

struct promote_check *promote_check_get(struct promote_cfg *c, const char *name)
{
	for (size_t i = 0; i < c->check_count; i++)
		if (!strcmp(c->checks[i].name, name))
			return &c->checks[i];
	if (c->check_count >= PROMOTE_MAX_CHECKS)
		return NULL;
	struct promote_check *k = &c->checks[c->check_count++];
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
	snprintf(k->hw, sizeof(k->hw), "-");
	snprintf(k->emu, sizeof(k->emu), "-");
	return k;
}

int promote_read_results(struct promote_cfg *c, const char *path, bool hw, char *why, size_t why_len)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned runs = 0, lineno = 0;
	int rc = 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		struct json v;
		char err[128];
		if (json_parse(line, (size_t)len, &v, err, sizeof(err)) < 0) {
			snprintf(why, why_len, "%s:%u: %s", path, lineno, err);
			json_free(&v);
			rc = -1;
			break;
		}
		const char *type = json_get_string(&v, "type");
		const char *scn = json_get_string(&v, "scenario");
		const char *result = json_get_string(&v, "result");
		uint64_t seed;
		if (type && !strcmp(type, "run") && scn && result && json_get_u64(&v, "seed", &seed) == 0) {
			char name[96];
			snprintf(name, sizeof(name), "scenario %s seed %llu", scn, (unsigned long long)seed);
			struct promote_check *k = promote_check_get(c, name);
			if (k) {
				const char *digest = json_get_string(&v, "counters_digest");
				const char *diag = json_get_string(&v, "diagnosis");
				snprintf(hw ? k->hw : k->emu, sizeof(k->hw), "%s", result);
				snprintf(hw ? k->hw_digest : k->emu_digest, sizeof(k->hw_digest), "%s", digest ? digest : "");
				if (diag && *diag && strcmp(result, "PASS"))
					snprintf(k->note, sizeof(k->note), "%s: %s", hw ? "hw" : "emu", diag);
			}
			runs++;
		}
		json_free(&v);
	}
	free(line);
	fclose(f);
	if (rc == 0 && runs == 0) {
		snprintf(why, why_len, "%s holds no run", path);
		rc = -1;
	}
	return rc;
}

/* SAME, DIFFERENT, or ONE-SIDED (a side did not run it). */
static const char *agreement(const struct promote_check *k)
{
	if (!strcmp(k->hw, "-") || !strcmp(k->emu, "-"))
		return "one side";
	if (strcmp(k->hw, k->emu))
		return "DIFFERENT";
	if (k->hw_digest[0] && k->emu_digest[0] && strcmp(k->hw_digest, k->emu_digest))
		return "DIFFERENT counters";
	return "same";
}

bool promote_verdicts_agree(const struct promote_cfg *c)
{
	if (!c->check_count)
		return false;
	for (size_t i = 0; i < c->check_count; i++) {
		const struct promote_check *k = &c->checks[i];
		const char *a = agreement(k);
		if (!strncmp(a, "DIFFERENT", 9))
			return false;
		/* A check with no emu twin must pass on hw. */
		if (!strcmp(a, "one side") && strcmp(k->hw, "PASS"))
			return false;
	}
	return true;
}

static void copy_file_lines(FILE *out, const char *path, const char *prefix, unsigned max_lines)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(out, "  (%s: %s)\n", path, strerror(errno));
		return;
	}
	char line[512];
	unsigned n = 0;
	while (fgets(line, sizeof(line), f) && n < max_lines) {
		if (prefix && strncmp(line, prefix, strlen(prefix)))
			continue;
		fprintf(out, "  %s", line);
		n++;
	}
	fclose(f);
}

int promote_write_report(const struct promote_cfg *c, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	const struct bt_hosts_side *d = &c->hosts.dpu;
	fprintf(f, "# bluetas promote report\n\n");
	fprintf(f, "commit:    %s (the tree at %s; the emu run below is the same tree)\n", c->commit, c->src_dir);
	fprintf(f, "hosts:     %s\n", c->hosts_path);
	fprintf(f, "dpu:       %s (%s), tree in %s\n", c->target, c->remote_arch[0] ? c->remote_arch : "arch unknown",
		c->remote_dir);
	fprintf(f, "daemon:    bluetas nic %s %s, stack %s, channel %s\n", c->port_vdev ? "--vdev" : "-- -a",
		c->port_vdev ? c->port_vdev : d->devargs, c->stack_ip, c->daemon_channel);
	fprintf(f, "apps:      bluetas app --channel %s, wire peer %s:%u\n", c->app_channel, d->peer_ip, c->peer_port);
	fprintf(f, "scenarios: %s, seeds %s (sim backend on both sides)\n", c->scenarios, c->seeds);
	fprintf(f, "\n## steps\n\n");
	for (int s = 0; s < PS_COUNT; s++) {
		const char *st = c->state[s] == STEP_OK ? "ok" : c->state[s] == STEP_FAILED ? "FAILED" : "not run";
		if (c->state[s] == STEP_NOT_RUN)
			fprintf(f, "  %-15s %s\n", promote_step_name((enum promote_step)s), st);
		else
			fprintf(f, "  %-15s %-7s %7.1f s\n", promote_step_name((enum promote_step)s), st, c->secs[s]);
	}
	if (c->failure[0])
		fprintf(f, "\n%s\n", c->failure);
	fprintf(f, "\n## checks\n\n");
	fprintf(f, "  %-44s %-5s %-5s %s\n", "check", "hw", "emu", "agreement");
	for (size_t i = 0; i < c->check_count; i++) {
		const struct promote_check *k = &c->checks[i];
		fprintf(f, "  %-44s %-5s %-5s %s\n", k->name, k->hw, k->emu, agreement(k));
		if (k->note[0])
			fprintf(f, "  %-44s %s\n", "", k->note);
	}
	bool agree = promote_verdicts_agree(c) && !c->failure[0];
	fprintf(f, "\nverdict: %s\n", agree ? "PASS (hw agrees with emu)"
				      : c->failure[0] ? "FAIL (a step failed)" : "FAIL (hw differs from emu, or failed)");
	fprintf(f, "\n## artifacts (%s)\n\n", c->out_dir);
	fprintf(f, "  dpu/daemon.out      the daemon's ready line and --stats counters\n");
	fprintf(f, "  dpu/daemon.err      its log;  dpu/daemon.rc its exit status\n");
	fprintf(f, "  dpu/daemon.pcap     every frame of the port\n");
	fprintf(f, "  dpu/counters.txt    ethtool -S of [dpu] netdev, RDMA port counters\n");
	fprintf(f, "  dpu/scenarios.jsonl, emu/scenarios.jsonl   every run with its counters\n");
	fprintf(f, "  host/*.log          the e2e applications;  logs/STEP.log every step\n");
	char p[PROMOTE_PATH + 64];
	snprintf(p, sizeof(p), "%s/dpu/daemon.out", c->out_dir);
	fprintf(f, "\n## daemon counters (dpu/daemon.out)\n\n");
	if (access(p, R_OK) == 0) {
		copy_file_lines(f, p, "stat.daemon.", 12);
		copy_file_lines(f, p, "stat.nic.conns", 8);
	} else {
		fprintf(f, "  (none: the daemon's output was not fetched)\n");
	}
	bool bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		if (!errno)
			errno = EIO;
		return -1;
	}
	return 0;
}
