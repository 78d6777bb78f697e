/*
 * promote_ssh.c: the ssh and rsync command lines of `bluetas promote`.
 * The user's own keys and ~/.ssh/config (or -F FILE); never a password:
 * BatchMode=yes makes a missing key a failure instead of a prompt. One
 * master connection (ControlMaster) under a private temp dir carries every
 * step; ControlPersist bounds its idle life, so even a promote killed with
 * SIGKILL does not leave it for long, and the stop step closes it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "promote.h"

/* How long an idle master lives on its own if nobody closes it. */
#define CONTROL_PERSIST_S 120

void argv_init(struct argv_buf *a)
{
	a->count = 0;
	a->used = 0;
	a->argv[0] = NULL;
}

int argv_add(struct argv_buf *a, const char *arg)
{
	size_t len = strlen(arg) + 1;
	if (a->count >= PROMOTE_MAX_ARGV || a->used + len > sizeof(a->store))
		return -1;
	char *p = a->store + a->used;
	memcpy(p, arg, len);
	a->used += len;
	a->argv[a->count++] = p;
	a->argv[a->count] = NULL;
	return 0;
}

int argv_add_all(struct argv_buf *a, const char *const args[], size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n; i++)
		rc |= argv_add(a, args[i]);
	return rc;
}

int shq(char *out, size_t out_len, const char *s)
{
	size_t used = strlen(out);
	/* it's -> 'it'\''s': close the quote, an escaped quote, reopen. */
	if (used + 1 >= out_len)
		return -1;
	out[used++] = '\'';
	for (const char *p = s; *p; p++) {
		const char *piece = *p == '\'' ? "'\\''" : NULL;
		size_t n = piece ? strlen(piece) : 1;
		if (used + n + 1 >= out_len)
			return -1;
		if (piece)
			memcpy(out + used, piece, n);
		else
			out[used] = *p;
		used += n;
	}
	if (used + 1 >= out_len)
		return -1;
	out[used++] = '\'';
	out[used] = 0;
	return 0;
}

static int common_opts(const struct promote_cfg *c, struct argv_buf *a)
{
	int rc = 0;
	if (c->ssh_config) {
		rc |= argv_add(a, "-F");
		rc |= argv_add(a, c->ssh_config);
	}
	char timeout[32], path[PROMOTE_PATH + 32], persist[32];
	snprintf(timeout, sizeof(timeout), "ConnectTimeout=%u", c->connect_timeout_s);
	snprintf(path, sizeof(path), "ControlPath=%s/cm", c->ctl_dir);
	snprintf(persist, sizeof(persist), "ControlPersist=%u", CONTROL_PERSIST_S);
	/* ServerAlive: a DPU that stops answering mid-step is noticed in
	 * ~15 s, not never. */
	const char *opts[] = {
		"-o", "BatchMode=yes",
		"-o", timeout,
		"-o", "ServerAliveInterval=5",
		"-o", "ServerAliveCountMax=3",
		"-o", path,
		"-o", "ControlMaster=auto",
		"-o", persist,
	};
	rc |= ARGV_ADD_ALL(a, opts);
	return rc ? -1 : 0;
}

int ssh_argv(const struct promote_cfg *c, struct argv_buf *a, const char *remote_cmd)
{
	argv_init(a);
	if (argv_add(a, "ssh") < 0 || common_opts(c, a) < 0 || argv_add(a, c->target) < 0 ||
	    argv_add(a, remote_cmd) < 0)
		return -1;
	return 0;
}

void ssh_command_string(const struct promote_cfg *c, char *out, size_t out_len)
{
	struct argv_buf a;
	argv_init(&a);
	out[0] = 0;
	if (argv_add(&a, "ssh") < 0 || common_opts(c, &a) < 0)
		return;
	/* rsync splits -e itself and honours single quotes. */
	for (size_t i = 0; i < a.count; i++) {
		if (i && strlen(out) + 2 < out_len)
			strcat(out, " ");
		if (shq(out, out_len, a.argv[i]) < 0) {
			out[0] = 0;
			return;
		}
	}
}

int ssh_exit_argv(const struct promote_cfg *c, struct argv_buf *a)
{
	argv_init(a);
	if (argv_add(a, "ssh") < 0 || common_opts(c, a) < 0 || argv_add(a, "-O") < 0 || argv_add(a, "exit") < 0 ||
	    argv_add(a, c->target) < 0)
		return -1;
	return 0;
}
