/*
 * hosts.c: the hosts file parser (hosts.h). Line by line, no allocation:
 * a section header, a blank or comment line, or `key = value`.
 */
#include "hosts.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#define LINE_MAX_BYTES 512

void bt_hosts_init(struct bt_hosts *h)
{
	memset(h, 0, sizeof(*h));
	strcpy(h->host.rdma_dev, "auto");
	strcpy(h->dpu.rdma_dev, "auto");
	h->host.gid_index = -1;
	h->dpu.gid_index = -1;
}

static int fail(char *err, size_t err_len, const char *name, unsigned line, const char *fmt, ...)
{
	int n = snprintf(err, err_len, "%s:%u: ", name, line);
	if (n >= 0 && (size_t)n < err_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err + n, err_len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static bool is_ipv4(const char *s)
{
	struct in_addr a;
	return strlen(s) < 16 && inet_pton(AF_INET, s, &a) == 1;
}

static bool is_mac(const char *s)
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* 0000:03:00.0 (domain optional) or auxiliary:mlx5_core.sf.N, each
 * optionally followed by ,key=value devargs. */
static bool is_devargs(const char *s)
{
	size_t head = strcspn(s, ",");
	if (!strncmp(s, "auxiliary:", 10)) {
		const char *p = s + 10;
		if (strncmp(p, "mlx5_core.sf.", 13))
			return false;
		p += 13;
		size_t digits = strspn(p, "0123456789");
		return digits > 0 && p + digits == s + head;
	}
	unsigned dom, bus, dev, fn;
	char tail;
	if (sscanf(s, "%4x:%2x:%2x.%1x%c", &dom, &bus, &dev, &fn, &tail) >= 4 && head == 12)
		return true;
	return sscanf(s, "%2x:%2x.%1x%c", &bus, &dev, &fn, &tail) >= 3 && head == 7;
}

static bool is_name(const char *s)
{
	if (!*s || strlen(s) >= 32)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
			return false;
	return true;
}

static const char *const key_names[BT_HOSTS_KEYS] = {"addr",	  "ssh",      "devargs",  "netdev",
							   "rdma_dev",	  "gid_index", "ip",      "mtu",
							   "peer_ip",	  "arp_seed", "vdev",     "wire_ip"};

const char *bt_hosts_key_name(enum bt_hosts_key k)
{
	return (unsigned)k < BT_HOSTS_KEYS ? key_names[k] : "?";
}

/* An ethdev virtual device: net_NAME<N>[,key=value...], no spaces or
 * shell characters (it ends up on a command line). */
static bool is_vdev(const char *s)
{
	if (strncmp(s, "net_", 4) || strpbrk(s, " \t'\"`$;|&"))
		return false;
	size_t head = strcspn(s, ",");
	return head > 4 && isdigit((unsigned char)s[head - 1]);
}

static int set_key(struct bt_hosts_side *s, bool is_dpu, const char *key, char *val, const char *name,
		   unsigned line, char *err, size_t err_len, unsigned *seen)
{
	unsigned k = 0;
	while (k < BT_HOSTS_KEYS && strcmp(key_names[k], key))
		k++;
	if (k == BT_HOSTS_KEYS)
		return fail(err, err_len, name, line,
			    "unknown key '%s' (known: addr ssh devargs vdev netdev rdma_dev gid_index ip wire_ip mtu peer_ip arp_seed)",
			    key);
	if (*seen & (1u << k))
		return fail(err, err_len, name, line, "key '%s' given twice in this section", key);
	/* The DPDK port, the wire address and the static ARP table are the
	 * daemon's, and the daemon runs on the ARM. */
	if (!is_dpu && (k == BT_HOSTS_DEVARGS || k == BT_HOSTS_VDEV || k == BT_HOSTS_WIRE_IP || k == BT_HOSTS_ARP_SEED))
		return fail(err, err_len, name, line,
			    "key '%s' does not apply to [host]: it belongs to the NIC daemon's section [dpu]", key);
	if ((k == BT_HOSTS_DEVARGS && (*seen & (1u << BT_HOSTS_VDEV))) ||
	    (k == BT_HOSTS_VDEV && (*seen & (1u << BT_HOSTS_DEVARGS))))
		return fail(err, err_len, name, line, "give devargs (a PCI or SF port) or vdev (a virtual one), not both (line %u)",
			    s->line[k == BT_HOSTS_VDEV ? BT_HOSTS_DEVARGS : BT_HOSTS_VDEV]);
	*seen |= 1u << k;
	s->line[k] = line;
	if (strlen(val) >= BT_HOSTS_STR)
		return fail(err, err_len, name, line, "value of '%s' longer than %u characters", key, BT_HOSTS_STR - 1);
	switch (k) {
	case 0: /* addr: a host name or address, no spaces */
	case 1: /* ssh */
		if (strpbrk(val, " \t'\"`$;|&"))
			return fail(err, err_len, name, line, "%s '%s': no spaces or shell characters allowed", key, val);
		strcpy(k == 0 ? s->addr : s->ssh, val);
		return 0;
	case 2:
		if (!is_devargs(val))
			return fail(err, err_len, name, line,
				    "devargs '%s': expected a PCI address (0000:03:00.0) or auxiliary:mlx5_core.sf.N, optionally ,key=value...",
				    val);
		strcpy(s->devargs, val);
		return 0;
	case 3:
	case 4:
		if (!is_name(val))
			return fail(err, err_len, name, line, "%s '%s': expected a device name like %s", key, val,
				    k == 3 ? "enp3s0f0s0" : "mlx5_2 or auto");
		strcpy(k == 3 ? s->netdev : s->rdma_dev, val);
		return 0;
	case 5: {
		if (!strcmp(val, "auto")) {
			s->gid_index = -1;
			return 0;
		}
		char *end;
		errno = 0;
		long v = strtol(val, &end, 10);
		if (errno || *end || end == val || v < 0 || v > 255)
			return fail(err, err_len, name, line, "gid_index '%s': expected auto or 0..255", val);
		s->gid_index = (int)v;
		return 0;
	}
	case 6:
	case 8:
		if (!is_ipv4(val))
			return fail(err, err_len, name, line, "%s '%s': expected an IPv4 address A.B.C.D", key, val);
		strcpy(k == 6 ? s->ip : s->peer_ip, val);
		return 0;
	case 7: {
		char *end;
		errno = 0;
		long v = strtol(val, &end, 10);
		if (errno || *end || end == val || v < 68 || v > 9216)
			return fail(err, err_len, name, line, "mtu '%s': expected 68..9216", val);
		s->mtu = (uint32_t)v;
		return 0;
	}
	case BT_HOSTS_VDEV:
		if (!is_vdev(val))
			return fail(err, err_len, name, line,
				    "vdev '%s': expected a DPDK virtual ethdev like net_tap0,iface=dtap0 or net_null0", val);
		strcpy(s->vdev, val);
		return 0;
	case BT_HOSTS_WIRE_IP: {
		char ip[32];
		snprintf(ip, sizeof(ip), "%.*s", (int)strcspn(val, "/"), val);
		long len = 24;
		const char *slash = strchr(val, '/');
		if (slash) {
			char *end;
			errno = 0;
			len = strtol(slash + 1, &end, 10);
			if (errno || *end || end == slash + 1 || !isdigit((unsigned char)slash[1]) || len < 1 || len > 32)
				len = -1;
		}
		if (!is_ipv4(ip) || len < 0)
			return fail(err, err_len, name, line, "wire_ip '%s': expected A.B.C.D or A.B.C.D/LEN (LEN 1..32)", val);
		strcpy(s->wire_ip, ip);
		s->wire_prefix_len = (int)len;
		return 0;
	}
	default: { /* arp_seed = IP MAC */
		char ip[32], mac[32], extra[2];
		if (sscanf(val, "%31s %31s %1s", ip, mac, extra) != 2 || !is_ipv4(ip) || !is_mac(mac))
			return fail(err, err_len, name, line,
				    "arp_seed '%s': expected 'A.B.C.D xx:xx:xx:xx:xx:xx'", val);
		s->has_arp_seed = true;
		strcpy(s->arp_seed_ip, ip);
		strcpy(s->arp_seed_mac, mac);
		return 0;
	}
	}
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int bt_hosts_parse(const char *text, const char *name, struct bt_hosts *out, char *err, size_t err_len)
{
	bt_hosts_init(out);
	snprintf(out->name, sizeof(out->name), "%s", name);
	struct bt_hosts_side *cur = NULL;
	unsigned seen[2] = {0, 0}, line = 0;
	const char *p = text;
	while (*p) {
		line++;
		size_t len = strcspn(p, "\n");
		if (len >= LINE_MAX_BYTES)
			return fail(err, err_len, name, line, "line longer than %d characters", LINE_MAX_BYTES - 1);
		char buf[LINE_MAX_BYTES];
		memcpy(buf, p, len);
		buf[len] = '\0';
		p += len + (p[len] == '\n');
		char *hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(buf);
		if (!*s)
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (!close || *trim(close + 1))
				return fail(err, err_len, name, line, "malformed section header '%s' (expected [host] or [dpu])", s);
			*close = '\0';
			char *sec = trim(s + 1);
			if (!strcmp(sec, "host"))
				cur = &out->host;
			else if (!strcmp(sec, "dpu"))
				cur = &out->dpu;
			else
				return fail(err, err_len, name, line, "unknown section [%s] (expected [host] or [dpu])", sec);
			if (cur->present)
				return fail(err, err_len, name, line, "section [%s] given twice (first on line %u)", sec,
					    cur->section_line);
			cur->present = true;
			cur->section_line = line;
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq)
			return fail(err, err_len, name, line, "expected 'key = value', [host] or [dpu], got '%s'", s);
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		if (!*key)
			return fail(err, err_len, name, line, "missing key before '='");
		if (!cur)
			return fail(err, err_len, name, line, "key '%s' before any [host] or [dpu] section", key);
		if (!*val)
			return fail(err, err_len, name, line, "key '%s' has no value", key);
		if (set_key(cur, cur == &out->dpu, key, val, name, line, err, err_len, &seen[cur == &out->dpu]) != 0)
			return -1;
	}
	if (!out->host.present && !out->dpu.present)
		return fail(err, err_len, name, line ? line : 1, "no [host] or [dpu] section");
	return 0;
}

int bt_hosts_load(const char *path, struct bt_hosts *out, char *err, size_t err_len)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	enum { MAX_BYTES = 64 * 1024 };
	char *text = malloc(MAX_BYTES + 1);
	if (!text) {
		fclose(f);
		snprintf(err, err_len, "%s: out of memory", path);
		return -1;
	}
	size_t n = fread(text, 1, MAX_BYTES + 1, f);
	int bad = ferror(f);
	fclose(f);
	int rc = -1;
	if (bad)
		snprintf(err, err_len, "%s: read error", path);
	else if (n > MAX_BYTES)
		snprintf(err, err_len, "%s: larger than %d bytes", path, MAX_BYTES);
	else if (memchr(text, '\0', n))
		snprintf(err, err_len, "%s: contains a NUL byte (not a text file)", path);
	else {
		text[n] = '\0';
		rc = bt_hosts_parse(text, path, out, err, err_len);
	}
	free(text);
	return rc;
}

const struct bt_hosts_side *bt_hosts_side(const struct bt_hosts *h, const char *role)
{
	if (!strcmp(role, "host"))
		return &h->host;
	if (!strcmp(role, "dpu"))
		return &h->dpu;
	return NULL;
}
