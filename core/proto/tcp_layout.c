/*
 * tcp_layout.c: a SYN's options in the order and padding of Linux
 * (tcp_options_write) or FreeBSD (tcp_addoptions). Conformance scripts
 * compare options byte for byte, so the profiles that imitate those
 * stacks (core/nic/profiles.c) lay their SYNs out the same way.
 */
#include <string.h>

#include "core/proto/bytes.h"
#include "core/proto/proto.h"

#define OPT_EOL 0
#define OPT_NOP 1

static void put_mss(uint8_t *p, uint16_t mss)
{
	p[0] = 2;
	p[1] = 4;
	store_be16(p + 2, mss);
}

static void put_ws(uint8_t *p, uint8_t ws)
{
	p[0] = 3;
	p[1] = 3;
	p[2] = ws > TCP_WSCALE_MAX ? TCP_WSCALE_MAX : ws;
}

static void put_sack_perm(uint8_t *p)
{
	p[0] = 4;
	p[1] = 2;
}

static void put_ts(uint8_t *p, uint32_t val, uint32_t ecr)
{
	p[0] = 8;
	p[1] = 10;
	store_be32(p + 2, val);
	store_be32(p + 6, ecr);
}

/* Linux: MSS; SACK-permitted in the two bytes before TS, or NOP NOP;
 * NOP NOP SACK-permitted when there is no TS to pair it with; NOP WS. */
static int layout_linux(uint8_t *out, const struct tcp_opts *o)
{
	int n = 0;
	if (o->has_mss) {
		put_mss(out + n, o->mss);
		n += 4;
	}
	if (o->has_ts) {
		if (o->sack_permitted) {
			put_sack_perm(out + n);
		} else {
			out[n] = OPT_NOP;
			out[n + 1] = OPT_NOP;
		}
		put_ts(out + n + 2, o->ts_val, o->ts_ecr);
		n += 12;
	}
	if (o->sack_permitted && !o->has_ts) {
		out[n] = OPT_NOP;
		out[n + 1] = OPT_NOP;
		put_sack_perm(out + n + 2);
		n += 4;
	}
	if (o->has_wscale) {
		out[n] = OPT_NOP;
		put_ws(out + n + 1, o->wscale);
		n += 4;
	}
	return n;
}

/* FreeBSD: each option NOP-aligned as it needs (WS at an odd offset,
 * SACK-permitted at an even one, TS at 2 mod 4), then EOL and EOL
 * padding to a multiple of 4. */
static int layout_freebsd(uint8_t *out, const struct tcp_opts *o)
{
	int n = 0;
	if (o->has_mss) {
		put_mss(out + n, o->mss);
		n += 4;
	}
	if (o->has_wscale) {
		while (n == 0 || n % 2 != 1)
			out[n++] = OPT_NOP;
		put_ws(out + n, o->wscale);
		n += 3;
	}
	if (o->sack_permitted) {
		while (n % 2 != 0)
			out[n++] = OPT_NOP;
		put_sack_perm(out + n);
		n += 2;
	}
	if (o->has_ts) {
		while (n == 0 || n % 4 != 2)
			out[n++] = OPT_NOP;
		put_ts(out + n, o->ts_val, o->ts_ecr);
		n += 10;
	}
	if (n % 4)
		out[n++] = OPT_EOL;
	while (n % 4)
		out[n++] = OPT_EOL;
	return n;
}

int tcp_syn_opts_layout(uint8_t out[40], const struct tcp_opts *o, enum tcp_opt_layout layout)
{
	memset(out, 0, 40);
	switch (layout) {
	case TCP_LAYOUT_LINUX:
		return layout_linux(out, o);
	case TCP_LAYOUT_FREEBSD:
		return layout_freebsd(out, o);
	default:
		return -1;
	}
}
