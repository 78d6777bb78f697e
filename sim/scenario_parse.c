/*
 * scenario_parse.c: the .scn language (docs/scenarios.md) into struct
 * scenario. Two passes: the first reads the statements in order, checks
 * everything a line can check on its own and stops at the first problem;
 * the second checks what needs the whole file (references between apps,
 * which may point forward; ports; limits that depend on two settings) and
 * reports the earliest of its problems in file order, so that the message
 * is the same whatever order the checks happen to run in.
 *
 * The input is untrusted: every access is bounded by the line's length,
 * every number by overflow checks, and nothing is allocated except the
 * file buffer in scenario_load.
 */
#include "scenario.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/bluetas.h"

#define LINE_MAX_BYTES 4096u
/* The longest statement (a wire fault with every key) has 16 tokens. */
#define LINE_MAX_TOKENS 64u
/* A scenario is at most 16 apps, 32 faults and 32 expectations; 1 MiB
 * leaves room for any amount of commentary and bounds what we read. */
#define FILE_MAX_BYTES (1u << 20)

#define KIB ((uint64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define NS_PER_S ((uint64_t)1000000000)
/* Times stay far below UINT64_MAX so that the engine can add them to the
 * clock without overflow; a million virtual seconds is 11.5 days. */
#define TIME_MAX_NS (1000000ull * NS_PER_S)
#define MSG_MAX_BYTES (16ull * GIB)
#define STREAM_MAX_BYTES (1024ull * GIB)

/* ---------- tokens and errors ---------- */

struct tok {
	const char *s;
	uint32_t len;
	uint32_t col; /* 1-based byte offset in its line */
};

struct line {
	uint32_t no;
	uint32_t n;
	uint32_t end_col; /* just past the last token: where a missing one is reported */
	struct tok t[LINE_MAX_TOKENS];
};

enum set_id {
	SET_MSS,
	SET_ECN,
	SET_MAX_FLOWS,
	SET_STAGING,
	SET_DELAYED_ACK,
	SET_RTO_MIN,
	SET_TIME_WAIT,
	SET_CHAN_SQ,
	SET_CHAN_MSGS,
	SET_CHAN_LATENCY,
	SET_WAIT_TIMEOUT,
	SET_DOORBELL_REFRESH,
	SET_LINK_LATENCY,
	SET_LINK_BANDWIDTH,
	SET_LINK_QUEUE,
	SET_LINK_ECN_MARK,
	SET_TIME_LIMIT,
	SET_DEADLOCK_AFTER,
	SET_COUNT
};

/* Where things were written, for the second pass's messages. A column of
 * 0 means "not given on the line" (columns start at 1). */
struct app_src {
	uint32_t line, name_col, kind_col;
	uint32_t port_col, to_col, victim_col, resp_col, max_conns_col;
};

struct expect_src {
	uint32_t col;                   /* the token an error is reported at */
	char ref_app[SCN_NAME_MAX];     /* an app the expectation names, "" if none */
};

struct parser {
	const char *path;
	char *err;
	size_t err_len;
	bool failed;
	uint32_t err_line, err_col;
	struct scenario *s;
	bool have_scenario;
	uint32_t scenario_line, scenario_col;
	uint32_t set_line[SET_COUNT], set_col[SET_COUNT];
	struct app_src app[SCN_MAX_APPS];
	uint32_t fault_app_col[SCN_MAX_FAULTS];
	struct expect_src expect[SCN_MAX_EXPECTS];
};

/* Records "PATH:LINE:COL: error: WHAT (expected EXPECTED)" unless an error
 * earlier in the file is already recorded: the second pass finds problems
 * out of file order, and the first one in the file is the one to report.
 * Always returns -1. */
static int fail(struct parser *p, uint32_t line, uint32_t col, const char *expected, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(struct parser *p, uint32_t line, uint32_t col, const char *expected, const char *fmt, ...)
{
	if (p->failed && (line > p->err_line || (line == p->err_line && col >= p->err_col)))
		return -1;
	p->failed = true;
	p->err_line = line;
	p->err_col = col;
	if (!p->err || p->err_len == 0)
		return -1;
	char what[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->err_len, "%s:%" PRIu32 ":%" PRIu32 ": error: %s (expected %s)", p->path, line, col, what,
		 expected);
	return -1;
}

/* A token as it can be shown in a message: printable ASCII as is, other
 * bytes as \xNN, long tokens cut, so that a binary file gives a readable
 * message of bounded length. */
struct quoted {
	char s[128];
};

static const char *quote(struct quoted *q, const char *s, size_t len)
{
	size_t o = 0, i;
	for (i = 0; i < len && i < 48; i++) {
		unsigned char c = (unsigned char)s[i];
		bool plain = c >= 0x20 && c < 0x7f && c != '\\';
		/* Room for this byte's form, then "..." and the NUL. */
		if (o + (plain ? 1 : 4) + 4 > sizeof(q->s))
			break;
		if (plain) {
			q->s[o++] = (char)c;
		} else {
			snprintf(q->s + o, sizeof(q->s) - o, "\\x%02x", c);
			o += 4;
		}
	}
	if (i < len) {
		memcpy(q->s + o, "...", 3);
		o += 3;
	}
	q->s[o] = 0;
	return q->s;
}

static const char *qtok(struct quoted *q, const struct tok *t)
{
	return quote(q, t->s, t->len);
}

static bool bytes_are(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	return len == n && memcmp(s, lit, n) == 0;
}

static bool tok_is(const struct tok *t, const char *lit)
{
	return bytes_are(t->s, t->len, lit);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* App names appear inside dotted counter names (app.NAME.bytes), so they
 * cannot contain dots; scenario names become file names (NAME-seedN.pcap),
 * so they cannot contain slashes nor start with a dot. */
static bool name_ok(const char *s, size_t len, bool allow_dot)
{
	if (len == 0 || len >= SCN_NAME_MAX || !is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-' && !(allow_dot && s[i] == '.'))
			return false;
	return true;
}

#define APP_NAME_HINT "an app name: letters, digits, '_' or '-', starting with a letter or digit, at most 63 bytes"
#define SCENARIO_NAME_HINT                                                                                     \
	"a scenario name: letters, digits, '_', '-' or '.', starting with a letter or digit, at most 63 bytes"

static void copy_name(char dst[SCN_NAME_MAX], const char *s, size_t len)
{
	if (len >= SCN_NAME_MAX)
		len = SCN_NAME_MAX - 1;
	memcpy(dst, s, len);
	dst[len] = 0;
}

/* ---------- quantities ---------- */

enum qkind { Q_N, Q_COUNT, Q_SIZE, Q_TIME, Q_RATE, Q_PCT };

static const char *const q_hint[] = {
	[Q_N] = "an unsigned integer like 0, 8, 4000",
	[Q_COUNT] = "a count like 0, 3, 1500, 4K, 1M",
	[Q_SIZE] = "a size like 4096, 4K, 1M",
	[Q_TIME] = "a time like 200us, 1.5ms, 2s",
	[Q_RATE] = "a rate like 100Mbps, 10Gbps",
	[Q_PCT] = "a percentage like 0.5%, 100%",
};

static const char *const q_noun[] = {
	[Q_N] = "an unsigned integer",
	[Q_COUNT] = "a count",
	[Q_SIZE] = "a size",
	[Q_TIME] = "a time",
	[Q_RATE] = "a rate",
	[Q_PCT] = "a percentage",
};

static const char *const q_resolution[] = {
	[Q_N] = "1",
	[Q_COUNT] = "1",
	[Q_SIZE] = "1 byte",
	[Q_TIME] = "1ns",
	[Q_RATE] = "1bps",
	[Q_PCT] = "0.0001% (1 ppm)",
};

/* A unit multiplies by `mult` (binary units, whole numbers only) or by
 * 10^`dec` (decimal units: a fraction is allowed when the result is a
 * whole number of the base unit). */
struct unit {
	const char *name;
	uint64_t mult;
	unsigned dec;
};

static const struct unit units_n[] = {{"", 1, 0}};
static const struct unit units_count[] = {{"", 1, 0}, {"K", KIB, 0}, {"M", MIB, 0}, {"G", GIB, 0}};
static const struct unit units_size[] = {{"", 1, 0}, {"B", 1, 0}, {"K", KIB, 0}, {"M", MIB, 0}, {"G", GIB, 0}};
static const struct unit units_time[] = {{"ns", 0, 0}, {"us", 0, 3}, {"ms", 0, 6}, {"s", 0, 9}};
static const struct unit units_rate[] = {{"bps", 0, 0}, {"Kbps", 0, 3}, {"Mbps", 0, 6}, {"Gbps", 0, 9}};
static const struct unit units_pct[] = {{"%", 0, 4}};

static const struct {
	const struct unit *u;
	size_t n;
} q_units[] = {
	[Q_N] = {units_n, 1},
	[Q_COUNT] = {units_count, 4},
	[Q_SIZE] = {units_size, 5},
	[Q_TIME] = {units_time, 4},
	[Q_RATE] = {units_rate, 4},
	[Q_PCT] = {units_pct, 1},
};

enum qerr { QE_OK, QE_NOT_NUMBER, QE_UNIT, QE_NO_UNIT, QE_FRACTION, QE_TOO_FINE, QE_OVERFLOW };

/* Parses v[0, len) as a quantity of kind k. *unit_off is where the unit
 * starts (for the "unknown unit" message). */
static enum qerr parse_q(enum qkind k, const char *v, size_t len, uint64_t *out, size_t *unit_off)
{
	size_t i = 0;
	*unit_off = 0;
	if (len == 0 || !is_digit(v[0]))
		return QE_NOT_NUMBER;
	uint64_t ip = 0;
	bool overflow = false;
	for (; i < len && is_digit(v[i]); i++) {
		unsigned d = (unsigned)(v[i] - '0');
		if (ip > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			ip = ip * 10 + d;
	}
	size_t fs = 0, fl = 0;
	if (i + 1 < len && v[i] == '.' && is_digit(v[i + 1])) {
		fs = ++i;
		while (i < len && is_digit(v[i]))
			i++;
		fl = i - fs;
	}
	*unit_off = i;
	const char *u = v + i;
	size_t ul = len - i;
	const struct unit *unit = NULL;
	for (size_t j = 0; j < q_units[k].n; j++)
		if (bytes_are(u, ul, q_units[k].u[j].name))
			unit = &q_units[k].u[j];
	bool zero = !overflow && ip == 0;
	for (size_t j = 0; j < fl; j++)
		zero = zero && v[fs + j] == '0';
	if (!unit) {
		/* Zero is zero in any unit; any other bare number is ambiguous. */
		if (ul == 0 && zero) {
			*out = 0;
			return QE_OK;
		}
		return ul == 0 ? QE_NO_UNIT : QE_UNIT;
	}
	if (overflow)
		return QE_OVERFLOW;
	if (unit->mult) {
		if (fl)
			return QE_FRACTION;
		if (ip > UINT64_MAX / unit->mult)
			return QE_OVERFLOW;
		*out = ip * unit->mult;
		return QE_OK;
	}
	uint64_t p10 = 1, frac = 0;
	for (unsigned j = 0; j < unit->dec; j++) {
		p10 *= 10;
		frac = frac * 10 + (j < fl ? (uint64_t)(v[fs + j] - '0') : 0);
	}
	for (size_t j = unit->dec; j < fl; j++)
		if (v[fs + j] != '0')
			return QE_TOO_FINE;
	if (ip > UINT64_MAX / p10 || ip * p10 > UINT64_MAX - frac)
		return QE_OVERFLOW;
	*out = ip * p10 + frac;
	return QE_OK;
}

/* A value in the same notation the file uses, for range messages. */
static void fmt_q(char *b, size_t n, enum qkind k, uint64_t v)
{
	static const char *const time_u[] = {"s", "ms", "us"};
	static const uint64_t time_m[] = {NS_PER_S, 1000000, 1000};
	static const char *const rate_u[] = {"Gbps", "Mbps", "Kbps"};
	static const uint64_t rate_m[] = {1000000000, 1000000, 1000};
	switch (k) {
	case Q_SIZE:
		if (v && v % GIB == 0)
			snprintf(b, n, "%" PRIu64 "G", v / GIB);
		else if (v && v % MIB == 0)
			snprintf(b, n, "%" PRIu64 "M", v / MIB);
		else if (v && v % KIB == 0)
			snprintf(b, n, "%" PRIu64 "K", v / KIB);
		else
			snprintf(b, n, "%" PRIu64 "B", v);
		return;
	case Q_TIME:
		for (int i = 0; i < 3; i++)
			if (v && v % time_m[i] == 0) {
				snprintf(b, n, "%" PRIu64 "%s", v / time_m[i], time_u[i]);
				return;
			}
		snprintf(b, n, "%" PRIu64 "ns", v);
		return;
	case Q_RATE:
		for (int i = 0; i < 3; i++)
			if (v && v % rate_m[i] == 0) {
				snprintf(b, n, "%" PRIu64 "%s", v / rate_m[i], rate_u[i]);
				return;
			}
		snprintf(b, n, "%" PRIu64 "bps", v);
		return;
	case Q_PCT:
		if (v % 10000 == 0) {
			snprintf(b, n, "%" PRIu64 "%%", v / 10000);
		} else {
			char frac[8];
			snprintf(frac, sizeof(frac), "%04" PRIu64, v % 10000);
			for (int i = 3; i > 0 && frac[i] == '0'; i--)
				frac[i] = 0;
			snprintf(b, n, "%" PRIu64 ".%s%%", v / 10000, frac);
		}
		return;
	case Q_N:
	case Q_COUNT:
		break;
	}
	snprintf(b, n, "%" PRIu64, v);
}

/* Parses v[0, vlen), the value part of token t (t itself for a bare
 * value), as kind k within [min, max]. */
static int quantity(struct parser *p, uint32_t line, const struct tok *t, const char *v, size_t vlen, enum qkind k,
		    uint64_t min, uint64_t max, uint64_t *out)
{
	struct quoted qt, qv;
	char in[160] = "";
	if (v != t->s || vlen != t->len)
		snprintf(in, sizeof(in), " in '%s'", qtok(&qt, t));
	size_t uo;
	uint64_t x = 0;
	bool too_large = false;
	switch (parse_q(k, v, vlen, &x, &uo)) {
	case QE_OK:
		break;
	case QE_NOT_NUMBER:
		return fail(p, line, t->col, q_hint[k], "'%s' is not a number%s", quote(&qv, v, vlen), in);
	case QE_UNIT:
		return fail(p, line, t->col, q_hint[k], "unknown unit '%s'%s", quote(&qv, v + uo, vlen - uo), in);
	case QE_NO_UNIT:
		return fail(p, line, t->col, q_hint[k], "missing unit in '%s'%s", quote(&qv, v, vlen), in);
	case QE_FRACTION:
		return fail(p, line, t->col, q_hint[k], "'%s' is not a whole number%s", quote(&qv, v, vlen), in);
	case QE_TOO_FINE:
		return fail(p, line, t->col, q_hint[k], "'%s' is finer than %s%s", quote(&qv, v, vlen), q_resolution[k],
			    in);
	case QE_OVERFLOW:
		too_large = true;
		break;
	}
	if (too_large || x < min || x > max) {
		char a[32], b[32], expected[128];
		fmt_q(a, sizeof(a), k, min);
		fmt_q(b, sizeof(b), k, max);
		snprintf(expected, sizeof(expected), "%s within %s..%s", q_noun[k], a, b);
		return fail(p, line, t->col, expected, "'%s' is out of range%s", quote(&qv, v, vlen), in);
	}
	*out = x;
	return 0;
}

static const char *find_dots(const char *v, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (v[i] == '.' && v[i + 1] == '.')
			return v + i;
	return NULL;
}

/* ---------- key=value lists ---------- */

enum key_id {
	K_PORT,
	K_BACKLOG,
	K_TO,
	K_CONNS,
	K_MSG,
	K_MESSAGES,
	K_START,
	K_BYTES,
	K_RESP,
	K_REQ,
	K_CYCLES,
	K_VICTIM,
	K_RX_RING,
	K_TX_RING,
	K_EVENTS,
	K_MAX_CONNS,
	K_READ_RATE,
	K_STOP_READING_AFTER,
	K_EXIT_AT,
	K_CLOSE_AT,
	K_DIR,
	K_FROM,
	K_UNTIL,
	K_LOSS,
	K_BURST,
	K_BURST_LEN,
	K_DUP,
	K_CORRUPT,
	K_TRUNCATE,
	K_REORDER,
	K_DEPTH,
	K_JITTER,
	K_PARTITION,
	K_APP,
	K_DELAY,
	K_RATE,
	K_AT,
	K_EXCEPT,
	K_SWARM,
	K_COUNT
};

enum vtype {
	VT_N,
	VT_COUNT,
	VT_SIZE,
	VT_SIZE_RANGE, /* SIZE or SIZE..SIZE */
	VT_TIME,
	VT_TIME_RANGE, /* TIME..TIME, both required */
	VT_RATE,
	VT_PCT,
	VT_NAME,       /* an app name */
	VT_DIR,        /* rx | tx */
	VT_ONOFF,      /* on | off */
};

static enum qkind vt_qkind(enum vtype t)
{
	switch (t) {
	case VT_COUNT:
		return Q_COUNT;
	case VT_SIZE:
	case VT_SIZE_RANGE:
		return Q_SIZE;
	case VT_TIME:
	case VT_TIME_RANGE:
		return Q_TIME;
	case VT_RATE:
		return Q_RATE;
	case VT_PCT:
		return Q_PCT;
	default:
		return Q_N;
	}
}

struct keyspec {
	const char *name;
	enum key_id id;
	enum vtype type;
	uint64_t min, max;
	const char *hint; /* how it is written, for "expected" */
};

struct kv {
	const struct tok *t;
	uint64_t a, b;      /* value; ranges: min and max */
	const char *v;      /* names: the value text */
	uint32_t vlen;
};

struct kvs {
	struct kv item[LINE_MAX_TOKENS];
	const struct kv *by_id[K_COUNT];
};

#define PCT_MAX 1000000u
#define KS_TO {"to", K_TO, VT_NAME, 0, 0, "to=APP"}
#define KS_CONNS {"conns", K_CONNS, VT_N, 1, 4000, "conns=N within 1..4000"}
#define KS_START {"start", K_START, VT_TIME, 0, TIME_MAX_NS, "start=TIME"}
#define KS_MESSAGES {"messages", K_MESSAGES, VT_N, 1, 1ull << 32, "messages=N"}
#define KS_PORT {"port", K_PORT, VT_N, 1, 65535, "port=N within 1..65535"}
#define KS_BACKLOG {"backlog", K_BACKLOG, VT_N, 1, 65536, "backlog=N"}
#define KS_RESP {"resp", K_RESP, VT_SIZE, 1, MSG_MAX_BYTES, "resp=SIZE"}
#define KS_FROM {"from", K_FROM, VT_TIME, 0, TIME_MAX_NS, "from=TIME"}
#define KS_UNTIL {"until", K_UNTIL, VT_TIME, 0, TIME_MAX_NS, "until=TIME"}
#define KS_APP {"app", K_APP, VT_NAME, 0, 0, "app=APP"}
#define KS(a) a, sizeof(a) / sizeof(a[0])

static const struct keyspec ks_app_common[] = {
	{"rx_ring", K_RX_RING, VT_SIZE, 64, GIB, "rx_ring=SIZE"},
	{"tx_ring", K_TX_RING, VT_SIZE, 64, GIB, "tx_ring=SIZE"},
	{"events", K_EVENTS, VT_N, 4, 1u << 20, "events=N within 4..1048576"},
	{"max_conns", K_MAX_CONNS, VT_N, 0, 65536, "max_conns=N"},
	{"read_rate", K_READ_RATE, VT_SIZE, 1, STREAM_MAX_BYTES, "read_rate=SIZE (bytes per ms)"},
	{"stop_reading_after", K_STOP_READING_AFTER, VT_SIZE, 1, STREAM_MAX_BYTES, "stop_reading_after=SIZE"},
	{"exit_at", K_EXIT_AT, VT_TIME, 1, TIME_MAX_NS, "exit_at=TIME"},
};
static const struct keyspec ks_echo_server[] = {KS_PORT, KS_BACKLOG};
static const struct keyspec ks_echo[] = {
	KS_TO, KS_CONNS, {"msg", K_MSG, VT_SIZE_RANGE, 1, MSG_MAX_BYTES, "msg=SIZE or msg=MIN..MAX"}, KS_MESSAGES,
	KS_START,
};
static const struct keyspec ks_stream[] = {
	KS_TO, KS_CONNS, {"bytes", K_BYTES, VT_SIZE, 1, STREAM_MAX_BYTES, "bytes=SIZE"}, KS_START,
};
static const struct keyspec ks_rpc_server[] = {KS_PORT, KS_RESP, KS_BACKLOG};
static const struct keyspec ks_rpc[] = {
	KS_TO,	 KS_CONNS, {"req", K_REQ, VT_SIZE_RANGE, 1, MSG_MAX_BYTES, "req=SIZE or req=MIN..MAX"},
	KS_RESP, KS_MESSAGES, KS_START,
};
static const struct keyspec ks_churn[] = {
	KS_TO, KS_CONNS, {"cycles", K_CYCLES, VT_N, 1, 1000000, "cycles=N within 1..1000000"},
	{"msg", K_MSG, VT_SIZE_RANGE, 1, MSG_MAX_BYTES, "msg=SIZE or msg=MIN..MAX"}, KS_START,
};
/* A peer's port is its own (it connects from it); to= names the peer
 * that connects back, from the port this one connects to. */
static const struct keyspec ks_peer[] = {
	KS_TO, KS_PORT, {"bytes", K_BYTES, VT_SIZE, 1, STREAM_MAX_BYTES, "bytes=SIZE"}, KS_START,
	{"close_at", K_CLOSE_AT, VT_TIME, 1, TIME_MAX_NS, "close_at=TIME"},
};
static const struct keyspec ks_hostile[] = {{"victim", K_VICTIM, VT_NAME, 0, 0, "victim=APP"}};

static const struct keyspec ks_wire[] = {
	{"dir", K_DIR, VT_DIR, 0, 0, "dir=rx or dir=tx"},
	KS_FROM,
	KS_UNTIL,
	{"loss", K_LOSS, VT_PCT, 0, PCT_MAX, "loss=PCT"},
	{"burst", K_BURST, VT_PCT, 0, PCT_MAX, "burst=PCT"},
	{"burst_len", K_BURST_LEN, VT_N, 1, 1000000, "burst_len=N within 1..1000000"},
	{"dup", K_DUP, VT_PCT, 0, PCT_MAX, "dup=PCT"},
	{"corrupt", K_CORRUPT, VT_PCT, 0, PCT_MAX, "corrupt=PCT"},
	{"truncate", K_TRUNCATE, VT_PCT, 0, PCT_MAX, "truncate=PCT"},
	{"reorder", K_REORDER, VT_PCT, 0, PCT_MAX, "reorder=PCT"},
	{"depth", K_DEPTH, VT_N, 1, 64, "depth=N within 1..64 (frames that overtake a reordered one)"},
	{"jitter", K_JITTER, VT_TIME, 0, TIME_MAX_NS, "jitter=TIME"},
	{"partition", K_PARTITION, VT_TIME_RANGE, 0, TIME_MAX_NS, "partition=TIME..TIME"},
};
static const struct keyspec ks_chan_delay[] = {
	KS_APP, {"delay", K_DELAY, VT_TIME, 1, TIME_MAX_NS, "delay=TIME"}, KS_FROM, KS_UNTIL};
static const struct keyspec ks_chan_drop[] = {
	KS_APP, {"rate", K_RATE, VT_PCT, 0, PCT_MAX, "rate=PCT"}, KS_FROM, KS_UNTIL};
static const struct keyspec ks_chan_error[] = {KS_APP, {"at", K_AT, VT_TIME, 0, TIME_MAX_NS, "at=TIME"}};
static const struct keyspec ks_shrink[] = {KS_APP, {"bytes", K_BYTES, VT_SIZE, 1, UINT32_MAX, "bytes=SIZE"}};
static const struct keyspec ks_window_app[] = {KS_APP, KS_FROM, KS_UNTIL};
static const struct keyspec ks_window[] = {KS_FROM, KS_UNTIL};
/* Rate faults only: swarm varies nothing else (scenario_swarm.h). */
static const struct keyspec ks_fault_swarm[] = {{"swarm", K_SWARM, VT_NAME, 0, 0, "swarm=keep or swarm=vary"}};
static const struct keyspec ks_no_access[] = {{"except", K_EXCEPT, VT_NAME, 0, 0, "except=APP"}};

static const struct keyspec *find_key(const struct keyspec *ks, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (bytes_are(s, len, ks[i].name))
			return &ks[i];
	return NULL;
}

/* Appends `s` to b (capacity n) if it fits, for lists in messages. */
static void append(char *b, size_t n, const char *s)
{
	size_t have = strlen(b), add = strlen(s);
	if (have + add < n)
		memcpy(b + have, s, add + 1);
}

static int parse_value(struct parser *p, uint32_t line, const struct keyspec *ks, const struct tok *t, const char *v,
		       size_t vlen, struct kv *kv)
{
	struct quoted qt, qv;
	kv->v = v;
	kv->vlen = (uint32_t)vlen;
	switch (ks->type) {
	case VT_NAME:
		if (!name_ok(v, vlen, false))
			return fail(p, line, t->col, APP_NAME_HINT, "invalid app name '%s' in '%s'", quote(&qv, v, vlen),
				    qtok(&qt, t));
		return 0;
	case VT_DIR:
		if (bytes_are(v, vlen, "rx") || bytes_are(v, vlen, "tx")) {
			kv->a = v[0] == 't';
			return 0;
		}
		return fail(p, line, t->col, ks->hint, "unknown direction '%s' in '%s'", quote(&qv, v, vlen),
			    qtok(&qt, t));
	case VT_ONOFF:
		if (bytes_are(v, vlen, "on") || bytes_are(v, vlen, "off")) {
			kv->a = v[1] == 'n';
			return 0;
		}
		return fail(p, line, t->col, "on or off", "'%s' is not on or off", quote(&qv, v, vlen));
	case VT_SIZE_RANGE:
	case VT_TIME_RANGE: {
		const char *dots = find_dots(v, vlen);
		enum qkind k = vt_qkind(ks->type);
		if (!dots) {
			if (ks->type == VT_TIME_RANGE)
				return fail(p, line, t->col, ks->hint, "'%s' is not a range in '%s'",
					    quote(&qv, v, vlen), qtok(&qt, t));
			if (quantity(p, line, t, v, vlen, k, ks->min, ks->max, &kv->a) < 0)
				return -1;
			kv->b = kv->a;
			return 0;
		}
		size_t l1 = (size_t)(dots - v);
		if (quantity(p, line, t, v, l1, k, ks->min, ks->max, &kv->a) < 0 ||
		    quantity(p, line, t, dots + 2, vlen - l1 - 2, k, ks->min, ks->max, &kv->b) < 0)
			return -1;
		if (ks->type == VT_SIZE_RANGE && kv->a > kv->b)
			return fail(p, line, t->col, "MIN..MAX with MIN <= MAX", "range '%s' runs backwards",
				    qtok(&qt, t));
		if (ks->type == VT_TIME_RANGE && kv->a >= kv->b)
			return fail(p, line, t->col, "START..END with START < END", "range '%s' is empty",
				    qtok(&qt, t));
		return 0;
	}
	default:
		if (find_dots(v, vlen))
			return fail(p, line, t->col, ks->hint, "a range is not allowed in '%s'", qtok(&qt, t));
		if (quantity(p, line, t, v, vlen, vt_qkind(ks->type), ks->min, ks->max, &kv->a) < 0)
			return -1;
		kv->b = kv->a;
		return 0;
	}
}

/* Parses tokens [first, n) as key=value pairs, each key from list a or b,
 * each at most once. `what` names the statement for messages. */
static int parse_kvs(struct parser *p, const struct line *L, uint32_t first, const struct keyspec *a, size_t na,
		     const struct keyspec *b, size_t nb, const char *what, struct kvs *out)
{
	struct quoted qt, qk;
	memset(out->by_id, 0, sizeof(out->by_id));
	for (uint32_t i = first; i < L->n; i++) {
		const struct tok *t = &L->t[i];
		const char *eq = memchr(t->s, '=', t->len);
		if (!eq)
			return fail(p, L->no, t->col, "key=value", "'%s' is not a key=value pair", qtok(&qt, t));
		size_t klen = (size_t)(eq - t->s);
		if (klen == 0)
			return fail(p, L->no, t->col, "key=value", "missing key in '%s'", qtok(&qt, t));
		const struct keyspec *ks = find_key(a, na, t->s, klen);
		if (!ks)
			ks = find_key(b, nb, t->s, klen);
		if (!ks) {
			char list[512] = "one of ";
			for (size_t j = 0; j < na + nb; j++) {
				append(list, sizeof(list), j ? ", " : "");
				append(list, sizeof(list), j < na ? a[j].name : b[j - na].name);
			}
			if (na + nb == 0)
				snprintf(list, sizeof(list), "no keys after %s", what);
			return fail(p, L->no, t->col, list, "unknown key '%s' for %s", quote(&qk, t->s, klen), what);
		}
		if (out->by_id[ks->id])
			return fail(p, L->no, t->col, "each key at most once per line", "key '%s' given twice", ks->name);
		const char *v = eq + 1;
		size_t vlen = t->len - klen - 1;
		if (vlen == 0)
			return fail(p, L->no, t->col, ks->hint, "missing value in '%s'", qtok(&qt, t));
		struct kv *kv = &out->item[i];
		memset(kv, 0, sizeof(*kv));
		kv->t = t;
		if (parse_value(p, L->no, ks, t, v, vlen, kv) < 0)
			return -1;
		out->by_id[ks->id] = kv;
	}
	return 0;
}

static int require(struct parser *p, const struct line *L, const struct tok *at, const struct kvs *kv, enum key_id id,
		   const struct keyspec *ks, size_t n, const char *what)
{
	if (kv->by_id[id])
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ks[i].id == id)
			return fail(p, L->no, at->col, ks[i].hint, "%s needs %s=", what, ks[i].name);
	return fail(p, L->no, at->col, "a required key", "%s misses a key", what);
}

/* ---------- statements ---------- */

static int end_of_line(struct parser *p, const struct line *L, uint32_t n, const char *after)
{
	struct quoted q;
	if (L->n > n)
		return fail(p, L->no, L->t[n].col, "end of line", "unexpected '%s' after %s", qtok(&q, &L->t[n]), after);
	return 0;
}

static int missing(struct parser *p, const struct line *L, const char *expected, const char *what)
{
	return fail(p, L->no, L->end_col, expected, "missing %s", what);
}

static int stmt_scenario(struct parser *p, const struct line *L)
{
	struct quoted q;
	const struct tok *t = L->t;
	if (p->have_scenario)
		return fail(p, L->no, t[0].col, "one `scenario` line per file", "scenario stated twice (first on line %" PRIu32 ")",
			    p->scenario_line);
	if (L->n < 2)
		return missing(p, L, "scenario NAME", "the scenario name");
	if (!name_ok(t[1].s, t[1].len, true))
		return fail(p, L->no, t[1].col, SCENARIO_NAME_HINT, "invalid scenario name '%s'", qtok(&q, &t[1]));
	if (end_of_line(p, L, 2, "the scenario name") < 0)
		return -1;
	copy_name(p->s->name, t[1].s, t[1].len);
	p->have_scenario = true;
	p->scenario_line = L->no;
	p->scenario_col = t[0].col;
	return 0;
}

struct setspec {
	const char *name;
	enum vtype type;
	uint64_t min, max;
	size_t off;
	unsigned width; /* bytes of the field in struct scenario */
};

#define SET(n, t, lo, hi, f) {n, t, lo, hi, offsetof(struct scenario, f), sizeof(((struct scenario *)0)->f)}
static const struct setspec set_specs[SET_COUNT] = {
	[SET_MSS] = SET("mss", VT_N, 64, 9000, mss),
	[SET_ECN] = SET("ecn", VT_ONOFF, 0, 1, ecn),
	[SET_MAX_FLOWS] = SET("max_flows", VT_N, 1, 1u << 22, max_flows),
	[SET_STAGING] = SET("staging", VT_SIZE, 4 * KIB, GIB, staging_bytes),
	[SET_DELAYED_ACK] = SET("delayed_ack", VT_TIME, 0, TIME_MAX_NS, delayed_ack_ns),
	[SET_RTO_MIN] = SET("rto_min", VT_TIME, 1, TIME_MAX_NS, rto_min_ns),
	[SET_TIME_WAIT] = SET("time_wait", VT_TIME, 0, TIME_MAX_NS, time_wait_ns),
	[SET_CHAN_SQ] = SET("chan_sq", VT_N, 1, 65536, chan_sq_depth),
	[SET_CHAN_MSGS] = SET("chan_msgs", VT_N, 1, 65536, chan_msg_depth),
	[SET_CHAN_LATENCY] = SET("chan_latency", VT_TIME, 0, TIME_MAX_NS, chan_latency_ns),
	[SET_WAIT_TIMEOUT] = SET("wait_timeout", VT_TIME, 1, TIME_MAX_NS, wait_timeout_ns),
	[SET_DOORBELL_REFRESH] = SET("doorbell_refresh", VT_TIME, 1, TIME_MAX_NS, doorbell_refresh_ns),
	[SET_LINK_LATENCY] = SET("link_latency", VT_TIME, 0, TIME_MAX_NS, link_latency_ns),
	[SET_LINK_BANDWIDTH] = SET("link_bandwidth", VT_RATE, 0, 1000000000000ull, link_bandwidth_bps),
	[SET_LINK_QUEUE] = SET("link_queue", VT_SIZE, 1, GIB, link_queue_bytes),
	[SET_LINK_ECN_MARK] = SET("link_ecn_mark", VT_SIZE, 0, GIB, link_ecn_mark_bytes),
	[SET_TIME_LIMIT] = SET("time_limit", VT_TIME, 1, TIME_MAX_NS, time_limit_ns),
	[SET_DEADLOCK_AFTER] = SET("deadlock_after", VT_TIME, 1, TIME_MAX_NS, deadlock_after_ns),
};

static const char *const vt_word[] = {
	[VT_N] = "N", [VT_COUNT] = "N", [VT_SIZE] = "SIZE", [VT_SIZE_RANGE] = "SIZE", [VT_TIME] = "TIME",
	[VT_TIME_RANGE] = "TIME..TIME", [VT_RATE] = "RATE", [VT_PCT] = "PCT", [VT_NAME] = "APP",
	[VT_DIR] = "rx|tx", [VT_ONOFF] = "on|off",
};

static int stmt_set(struct parser *p, const struct line *L)
{
	struct quoted q;
	const struct tok *t = L->t;
	char list[512] = "one of ";
	for (int i = 0; i < SET_COUNT; i++) {
		append(list, sizeof(list), i ? ", " : "");
		append(list, sizeof(list), set_specs[i].name);
	}
	if (L->n < 2)
		return missing(p, L, list, "the setting after `set`");
	int id = -1;
	for (int i = 0; i < SET_COUNT; i++)
		if (tok_is(&t[1], set_specs[i].name))
			id = i;
	if (id < 0)
		return fail(p, L->no, t[1].col, list, "unknown setting '%s'", qtok(&q, &t[1]));
	const struct setspec *ss = &set_specs[id];
	char form[96];
	snprintf(form, sizeof(form), "set %s %s", ss->name, vt_word[ss->type]);
	if (L->n < 3)
		return missing(p, L, form, "the value");
	if (end_of_line(p, L, 3, "the value") < 0)
		return -1;
	if (p->set_line[id])
		return fail(p, L->no, t[1].col, "each setting at most once per file",
			    "'%s' already set on line %" PRIu32, ss->name, p->set_line[id]);
	struct keyspec ks = {ss->name, K_COUNT, ss->type, ss->min, ss->max, form};
	struct kv kv = {0};
	if (parse_value(p, L->no, &ks, &t[2], t[2].s, t[2].len, &kv) < 0)
		return -1;
	uint8_t *f = (uint8_t *)p->s + ss->off;
	switch (ss->width) {
	case 1: {
		bool b = kv.a != 0;
		memcpy(f, &b, 1);
		break;
	}
	case 2: {
		uint16_t v = (uint16_t)kv.a;
		memcpy(f, &v, 2);
		break;
	}
	case 4: {
		uint32_t v = (uint32_t)kv.a;
		memcpy(f, &v, 4);
		break;
	}
	default:
		memcpy(f, &kv.a, 8);
		break;
	}
	p->set_line[id] = L->no;
	p->set_col[id] = t[2].col;
	return 0;
}

static const struct {
	const char *name;
	enum scn_workload_kind kind;
	const struct keyspec *ks;
	size_t n;
} kinds[] = {
	{"echo-server", SCN_WL_ECHO_SERVER, KS(ks_echo_server)},
	{"echo", SCN_WL_ECHO, KS(ks_echo)},
	{"sink", SCN_WL_SINK, KS(ks_echo_server)},
	{"stream", SCN_WL_STREAM, KS(ks_stream)},
	{"rpc-server", SCN_WL_RPC_SERVER, KS(ks_rpc_server)},
	{"rpc", SCN_WL_RPC, KS(ks_rpc)},
	{"churn", SCN_WL_CHURN, KS(ks_churn)},
	{"hostile", SCN_WL_HOSTILE, KS(ks_hostile)},
	{"peer", SCN_WL_PEER, KS(ks_peer)},
};
#define KIND_COUNT (sizeof(kinds) / sizeof(kinds[0]))

static const char *kind_name(enum scn_workload_kind k)
{
	for (size_t i = 0; i < KIND_COUNT; i++)
		if (kinds[i].kind == k)
			return kinds[i].name;
	return "?";
}

/* The server kind a client kind talks to; SCN_WL_NONE for servers. */
static enum scn_workload_kind server_of(enum scn_workload_kind k)
{
	switch (k) {
	case SCN_WL_ECHO:
	case SCN_WL_CHURN:
		return SCN_WL_ECHO_SERVER;
	case SCN_WL_STREAM:
		return SCN_WL_SINK;
	case SCN_WL_RPC:
		return SCN_WL_RPC_SERVER;
	default:
		return SCN_WL_NONE;
	}
}

static bool is_server(enum scn_workload_kind k)
{
	return k == SCN_WL_ECHO_SERVER || k == SCN_WL_SINK || k == SCN_WL_RPC_SERVER;
}

static int parse_host(struct parser *p, const struct line *L, uint32_t on_idx, const char *form, enum scn_host *out)
{
	struct quoted q;
	if (L->n <= on_idx)
		return missing(p, L, form, "'on client' or 'on server'");
	if (!tok_is(&L->t[on_idx], "on"))
		return fail(p, L->no, L->t[on_idx].col, "'on client' or 'on server'", "unexpected '%s'",
			    qtok(&q, &L->t[on_idx]));
	if (L->n <= on_idx + 1)
		return missing(p, L, "client or server", "the host after 'on'");
	const struct tok *h = &L->t[on_idx + 1];
	if (tok_is(h, "client"))
		*out = SCN_HOST_CLIENT;
	else if (tok_is(h, "server"))
		*out = SCN_HOST_SERVER;
	else
		return fail(p, L->no, h->col, "client or server", "unknown host '%s'", qtok(&q, h));
	return 0;
}

static void app_defaults(struct scn_app *a)
{
	memset(a, 0, sizeof(*a));
	a->conns = 1;
	a->messages = 10;
	a->msg_min_bytes = a->msg_max_bytes = 1448;
	a->backlog = 64;
	a->rx_ring_bytes = a->tx_ring_bytes = 64u << 10;
	a->event_entries = 1024;
	a->cycles = 1;
	a->bytes = 1u << 20;
	a->resp_bytes = 64;
}

static int stmt_app(struct parser *p, const struct line *L)
{
	struct quoted q;
	const struct tok *t = L->t;
	static const char form[] = "app NAME on client|server KIND [key=value ...]";
	struct scenario *s = p->s;
	if (s->app_count >= SCN_MAX_APPS)
		return fail(p, L->no, t[0].col, "at most 16 apps per scenario", "too many apps");
	if (L->n < 2)
		return missing(p, L, form, "the app name");
	if (!name_ok(t[1].s, t[1].len, false))
		return fail(p, L->no, t[1].col, APP_NAME_HINT, "invalid app name '%s'", qtok(&q, &t[1]));
	for (uint32_t i = 0; i < s->app_count; i++)
		if (tok_is(&t[1], s->apps[i].name))
			return fail(p, L->no, t[1].col, "a name no other app has",
				    "duplicate app name '%s' (first on line %" PRIu32 ")", s->apps[i].name, p->app[i].line);
	enum scn_host host;
	if (parse_host(p, L, 2, form, &host) < 0)
		return -1;
	char list[256] = "one of ";
	for (size_t i = 0; i < KIND_COUNT; i++) {
		append(list, sizeof(list), i ? ", " : "");
		append(list, sizeof(list), kinds[i].name);
	}
	if (L->n < 5)
		return missing(p, L, list, "the app kind");
	size_t k = KIND_COUNT;
	for (size_t i = 0; i < KIND_COUNT; i++)
		if (tok_is(&t[4], kinds[i].name))
			k = i;
	if (k == KIND_COUNT)
		return fail(p, L->no, t[4].col, list, "unknown app kind '%s'", qtok(&q, &t[4]));
	struct kvs kv;
	if (parse_kvs(p, L, 5, kinds[k].ks, kinds[k].n, KS(ks_app_common), kinds[k].name, &kv) < 0)
		return -1;
	enum scn_workload_kind kind = kinds[k].kind;
	if ((server_of(kind) != SCN_WL_NONE || kind == SCN_WL_PEER) &&
	    require(p, L, &t[4], &kv, K_TO, KS(ks_echo), kinds[k].name) < 0)
		return -1;
	if (kind == SCN_WL_HOSTILE && require(p, L, &t[4], &kv, K_VICTIM, KS(ks_hostile), kinds[k].name) < 0)
		return -1;

	struct scn_app *a = &s->apps[s->app_count];
	struct app_src *src = &p->app[s->app_count];
	app_defaults(a);
	memset(src, 0, sizeof(*src));
	copy_name(a->name, t[1].s, t[1].len);
	a->host = host;
	a->kind = kind;
	if (is_server(kind) || kind == SCN_WL_PEER)
		a->port = 7;
	if (kind == SCN_WL_PEER)
		a->bytes = 64u << 10;
	src->line = L->no;
	src->name_col = t[1].col;
	src->kind_col = t[4].col;
	const struct kv *v;
	if ((v = kv.by_id[K_PORT])) {
		a->port = (uint16_t)v->a;
		src->port_col = v->t->col;
	}
	if ((v = kv.by_id[K_TO])) {
		copy_name(a->target, v->v, v->vlen);
		src->to_col = v->t->col;
	}
	if ((v = kv.by_id[K_VICTIM])) {
		copy_name(a->victim, v->v, v->vlen);
		src->victim_col = v->t->col;
	}
	if ((v = kv.by_id[K_RESP])) {
		a->resp_bytes = v->a;
		src->resp_col = v->t->col;
	}
	if ((v = kv.by_id[K_MAX_CONNS])) {
		a->max_conns = (uint32_t)v->a;
		src->max_conns_col = v->t->col;
	}
	if ((v = kv.by_id[K_BACKLOG]))
		a->backlog = (uint32_t)v->a;
	if ((v = kv.by_id[K_CONNS]))
		a->conns = (uint32_t)v->a;
	if ((v = kv.by_id[K_MSG]) || (v = kv.by_id[K_REQ])) {
		a->msg_min_bytes = v->a;
		a->msg_max_bytes = v->b;
	}
	if ((v = kv.by_id[K_MESSAGES]))
		a->messages = v->a;
	if ((v = kv.by_id[K_START]))
		a->start_ns = v->a;
	if ((v = kv.by_id[K_BYTES]))
		a->bytes = v->a;
	if ((v = kv.by_id[K_CYCLES]))
		a->cycles = (uint32_t)v->a;
	if ((v = kv.by_id[K_RX_RING]))
		a->rx_ring_bytes = (uint32_t)v->a;
	if ((v = kv.by_id[K_TX_RING]))
		a->tx_ring_bytes = (uint32_t)v->a;
	if ((v = kv.by_id[K_EVENTS]))
		a->event_entries = (uint32_t)v->a;
	if ((v = kv.by_id[K_READ_RATE]))
		a->fault.read_bytes_per_ms = v->a;
	if ((v = kv.by_id[K_STOP_READING_AFTER]))
		a->fault.stop_reading_after = v->a;
	if ((v = kv.by_id[K_EXIT_AT]))
		a->fault.exit_at_ns = v->a;
	if ((v = kv.by_id[K_CLOSE_AT]))
		a->close_at_ns = v->a;
	s->app_count++;
	return 0;
}

enum fault_form { FF_HOST, FF_APP };

static const struct {
	const char *name;
	enum scn_fault_kind kind;
	enum fault_form form;
	const struct keyspec *ks;
	size_t n;
	enum key_id required[3];
	size_t n_required;
} fault_kinds[] = {
	{"wire", SCN_FAULT_WIRE, FF_HOST, KS(ks_wire), {0}, 0},
	{"chan-delay", SCN_FAULT_CHAN_DELAY, FF_APP, KS(ks_chan_delay), {K_APP, K_DELAY}, 2},
	{"drop-doorbell", SCN_FAULT_CHAN_DROP_DOORBELL, FF_APP, KS(ks_chan_drop), {K_APP, K_RATE}, 2},
	{"drop-wakeup", SCN_FAULT_CHAN_DROP_WAKEUP, FF_APP, KS(ks_chan_drop), {K_APP, K_RATE}, 2},
	{"chan-error", SCN_FAULT_CHAN_ERROR, FF_APP, KS(ks_chan_error), {K_APP, K_AT}, 2},
	{"shrink-region", SCN_FAULT_CHAN_SHRINK_REGION, FF_APP, KS(ks_shrink), {K_APP, K_BYTES}, 2},
	{"stall-credits", SCN_FAULT_CHAN_STALL_CREDITS, FF_APP, KS(ks_window_app), {K_APP, K_FROM, K_UNTIL}, 3},
	{"slowpath-stall", SCN_FAULT_NIC_SLOWPATH_STALL, FF_HOST, KS(ks_window), {K_FROM, K_UNTIL}, 2},
	{"nic-pause", SCN_FAULT_NIC_PAUSE, FF_HOST, KS(ks_window), {K_FROM, K_UNTIL}, 2},
};
#define FAULT_KIND_COUNT (sizeof(fault_kinds) / sizeof(fault_kinds[0]))

static const enum key_id wire_effects[] = {K_LOSS,	   K_BURST,   K_DUP,	K_CORRUPT,
					   K_TRUNCATE, K_REORDER, K_JITTER, K_PARTITION};

static int wire_fault(struct parser *p, const struct line *L, const struct tok *kind_tok, const struct kvs *kv,
		      struct scn_fault *f)
{
	bool any = false;
	for (size_t i = 0; i < sizeof(wire_effects) / sizeof(wire_effects[0]); i++)
		any = any || kv->by_id[wire_effects[i]];
	if (!any)
		return fail(p, L->no, kind_tok->col,
			    "at least one of loss=, burst=, dup=, corrupt=, truncate=, reorder=, jitter=, partition=",
			    "wire fault without an effect");
	bool tx = kv->by_id[K_DIR] && kv->by_id[K_DIR]->a;
	/* The fault wrapper delays and reorders only what it receives: a
	 * transmitted frame is handed over at once (netif_fault.h). */
	const enum key_id rx_only[] = {K_REORDER, K_JITTER};
	for (size_t i = 0; tx && i < 2; i++)
		if (kv->by_id[rx_only[i]])
			return fail(p, L->no, kv->by_id[rx_only[i]]->t->col, "dir=rx (the default) with reorder= and jitter=",
				    "%s= applies only to frames a NIC receives", rx_only[i] == K_REORDER ? "reorder" : "jitter");
	if (kv->by_id[K_DEPTH] && !kv->by_id[K_REORDER])
		return fail(p, L->no, kv->by_id[K_DEPTH]->t->col, "reorder=PCT with depth=", "depth= without reorder=");
	if (kv->by_id[K_BURST] && !kv->by_id[K_BURST_LEN])
		return fail(p, L->no, kv->by_id[K_BURST]->t->col, "burst_len=N with burst=", "burst= without burst_len=");
	if (kv->by_id[K_BURST_LEN] && !kv->by_id[K_BURST])
		return fail(p, L->no, kv->by_id[K_BURST_LEN]->t->col, "burst=PCT with burst_len=",
			    "burst_len= without burst=");
	struct netif_fault_dir *d = tx ? &f->wire.tx : &f->wire.rx;
	const struct kv *v;
	if ((v = kv->by_id[K_LOSS]))
		d->loss_ppm = (uint32_t)v->a;
	if ((v = kv->by_id[K_BURST]))
		d->burst_start_ppm = (uint32_t)v->a;
	if ((v = kv->by_id[K_BURST_LEN]))
		d->burst_len = (uint32_t)v->a;
	if ((v = kv->by_id[K_DUP]))
		d->duplicate_ppm = (uint32_t)v->a;
	if ((v = kv->by_id[K_CORRUPT]))
		d->corrupt_ppm = (uint32_t)v->a;
	if ((v = kv->by_id[K_TRUNCATE]))
		d->truncate_ppm = (uint32_t)v->a;
	if ((v = kv->by_id[K_REORDER]))
		d->reorder_ppm = (uint32_t)v->a;
	if ((v = kv->by_id[K_DEPTH]))
		d->reorder_depth = (uint32_t)v->a;
	if ((v = kv->by_id[K_JITTER]))
		d->jitter_ns = v->a;
	if ((v = kv->by_id[K_PARTITION])) {
		f->wire.partition_start_ns = v->a;
		f->wire.partition_end_ns = v->b;
	}
	f->wire.seed = 0; /* the engine seeds it from the run's seed */
	return 0;
}

static int stmt_fault(struct parser *p, const struct line *L)
{
	struct quoted q;
	const struct tok *t = L->t;
	struct scenario *s = p->s;
	char list[256] = "one of ";
	for (size_t i = 0; i < FAULT_KIND_COUNT; i++) {
		append(list, sizeof(list), i ? ", " : "");
		append(list, sizeof(list), fault_kinds[i].name);
	}
	if (s->fault_count >= SCN_MAX_FAULTS)
		return fail(p, L->no, t[0].col, "at most 32 faults per scenario", "too many faults");
	if (L->n < 2)
		return missing(p, L, list, "the fault kind");
	size_t k = FAULT_KIND_COUNT;
	for (size_t i = 0; i < FAULT_KIND_COUNT; i++)
		if (tok_is(&t[1], fault_kinds[i].name))
			k = i;
	if (k == FAULT_KIND_COUNT)
		return fail(p, L->no, t[1].col, list, "unknown fault '%s'", qtok(&q, &t[1]));
	struct scn_fault *f = &s->faults[s->fault_count];
	memset(f, 0, sizeof(*f));
	f->kind = fault_kinds[k].kind;
	f->line = L->no;
	uint32_t first = 2;
	char what[64];
	snprintf(what, sizeof(what), "fault %s", fault_kinds[k].name);
	if (fault_kinds[k].form == FF_HOST) {
		char form[96];
		snprintf(form, sizeof(form), "fault %s on client|server ...", fault_kinds[k].name);
		if (parse_host(p, L, 2, form, &f->host) < 0)
			return -1;
		first = 4;
	}
	struct kvs kv;
	bool swarm_varies = f->kind == SCN_FAULT_WIRE || f->kind == SCN_FAULT_CHAN_DELAY ||
			    f->kind == SCN_FAULT_CHAN_DROP_DOORBELL || f->kind == SCN_FAULT_CHAN_DROP_WAKEUP;
	if (parse_kvs(p, L, first, fault_kinds[k].ks, fault_kinds[k].n, swarm_varies ? ks_fault_swarm : NULL,
		      swarm_varies ? 1 : 0, what, &kv) < 0)
		return -1;
	const struct kv *sw = kv.by_id[K_SWARM];
	struct quoted qs;
	if (sw && !bytes_are(sw->v, sw->vlen, "keep") && !bytes_are(sw->v, sw->vlen, "vary"))
		return fail(p, L->no, sw->t->col, "swarm=keep or swarm=vary", "unknown swarm choice '%s' in '%s'",
			    quote(&q, sw->v, sw->vlen), qtok(&qs, sw->t));
	f->swarm_keep = sw && bytes_are(sw->v, sw->vlen, "keep");
	for (size_t i = 0; i < fault_kinds[k].n_required; i++)
		if (require(p, L, &t[1], &kv, fault_kinds[k].required[i], fault_kinds[k].ks, fault_kinds[k].n, what) < 0)
			return -1;
	const struct kv *v;
	f->at_ns = 0;
	f->until_ns = SCN_TIME_END;
	if ((v = kv.by_id[K_FROM]))
		f->at_ns = v->a;
	if ((v = kv.by_id[K_UNTIL])) {
		if (v->a <= f->at_ns) {
			char a[32], b[32];
			fmt_q(a, sizeof(a), Q_TIME, v->a);
			fmt_q(b, sizeof(b), Q_TIME, f->at_ns);
			return fail(p, L->no, v->t->col, "until= later than from=", "until=%s is not after from=%s", a, b);
		}
		f->until_ns = v->a;
	}
	if ((v = kv.by_id[K_AT]))
		f->at_ns = v->a;
	if ((v = kv.by_id[K_APP])) {
		copy_name(f->app, v->v, v->vlen);
		p->fault_app_col[s->fault_count] = v->t->col;
	}
	if ((v = kv.by_id[K_DELAY]))
		f->delay_ns = v->a;
	if ((v = kv.by_id[K_RATE]))
		f->ppm = (uint32_t)v->a;
	if (f->kind == SCN_FAULT_CHAN_SHRINK_REGION && (v = kv.by_id[K_BYTES]))
		f->shrink_bytes = (uint32_t)v->a;
	if (f->kind == SCN_FAULT_WIRE && wire_fault(p, L, &t[1], &kv, f) < 0)
		return -1;
	s->fault_count++;
	return 0;
}

static const struct {
	const char *name;
	int err;
} err_names[] = {
	{"EINVAL", BT_EINVAL},	       {"ENOMEM", BT_ENOMEM},	{"ECONNREFUSED", BT_ECONNREFUSED},
	{"ECONNRESET", BT_ECONNRESET}, {"ETIMEDOUT", BT_ETIMEDOUT}, {"EPIPE", BT_EPIPE},
	{"ENOTCONN", BT_ENOTCONN},     {"ECHANNEL", BT_ECHANNEL}, {"EADDRINUSE", BT_EADDRINUSE},
	{"EHOSTUNREACH", BT_EHOSTUNREACH}, {"ENICREFUSED", BT_ENICREFUSED}, {"ENOBUFS", BT_ENOBUFS},
};

static const struct {
	const char *op;
	enum scn_cmp cmp;
} cmps[] = {{"==", SCN_CMP_EQ}, {"!=", SCN_CMP_NE}, {"<", SCN_CMP_LT},
	    {"<=", SCN_CMP_LE}, {">", SCN_CMP_GT},  {">=", SCN_CMP_GE}};

#define COUNTER_FORMS                                                                                     \
	"client.nic.FIELD, server.nic.FIELD, client.faults.FIELD, server.faults.FIELD, wire.to_server.FIELD, "   \
	"wire.to_client.FIELD, loss.to_server.FIELD, loss.to_client.FIELD, app.APP.FIELD, chan.APP.FIELD or "   \
	"host.APP.FIELD (docs/scenarios.md)"

/* Which counters exist is the engine's to say (scenario_counter_known):
 * it is the engine that reads them. Here: the length the struct can hold,
 * the app a counter names (it must exist, checked in the second pass),
 * and a message that says which part of the name is wrong. */
static int parse_counter(struct parser *p, const struct line *L, const struct tok *t, struct scn_expect *e,
			 struct expect_src *src)
{
	static const struct {
		const char *scope, *mid; /* mid NULL: the middle part is an app name */
		const char *fields;
	} forms[] = {
		{"client", "nic", "a field of struct nic_stats, e.g. rtos, tx_retransmits, syn_backlog_drops"},
		{"server", "nic", "a field of struct nic_stats, e.g. rtos, tx_retransmits, syn_backlog_drops"},
		{"client", "faults", "a field of struct netif_fault_stats, e.g. lost, duplicated, reordered"},
		{"server", "faults", "a field of struct netif_fault_stats, e.g. lost, duplicated, reordered"},
		{"wire", "to_server", "a field of struct sim_link_dir_stats, e.g. frames, dropped_queue, ecn_marked"},
		{"wire", "to_client", "a field of struct sim_link_dir_stats, e.g. frames, dropped_queue, ecn_marked"},
		{"loss", "to_server", "lost_bytes, resent_bytes, resent_per_lost_pct or goodput_mbps"},
		{"loss", "to_client", "lost_bytes, resent_bytes, resent_per_lost_pct or goodput_mbps"},
		{"app", NULL, "an app counter, e.g. bytes, errors, conns_opened, conns_failed, access_errors"},
		{"chan", NULL, "a field of struct chan_stats, e.g. msgs_dropped, bytes_read, access_errors"},
		{"host", NULL, "a field of struct bt_host_stats, e.g. doorbells_refreshed, doorbells_deferred"},
	};
	struct quoted q, qf;
	if (t->len >= SCN_NAME_MAX)
		return fail(p, L->no, t->col, "a counter name of at most 63 bytes", "counter name '%s' is too long",
			    qtok(&q, t));
	const char *d1 = memchr(t->s, '.', t->len);
	const char *d2 = NULL;
	for (const char *c = t->s + t->len; c > t->s; c--)
		if (c[-1] == '.') {
			d2 = c - 1;
			break;
		}
	if (!d1 || d1 == d2)
		return fail(p, L->no, t->col, COUNTER_FORMS, "unknown counter '%s'", qtok(&q, t));
	const char *scope = t->s, *mid = d1 + 1, *field = d2 + 1;
	size_t scope_len = (size_t)(d1 - scope), mid_len = (size_t)(d2 - mid);
	size_t field_len = (size_t)(t->s + t->len - field);
	size_t f = sizeof(forms) / sizeof(forms[0]);
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		if (bytes_are(scope, scope_len, forms[i].scope) &&
		    (!forms[i].mid || bytes_are(mid, mid_len, forms[i].mid)))
			f = i;
	if (f == sizeof(forms) / sizeof(forms[0]))
		return fail(p, L->no, t->col, COUNTER_FORMS, "unknown counter '%s'", qtok(&q, t));
	if (!forms[f].mid) {
		if (!name_ok(mid, mid_len, false))
			return fail(p, L->no, t->col, APP_NAME_HINT, "invalid app name '%s' in counter '%s'",
				    quote(&qf, mid, mid_len), qtok(&q, t));
		copy_name(src->ref_app, mid, mid_len);
	}
	copy_name(e->counter, t->s, t->len);
	if (!scenario_counter_known(e->counter))
		return fail(p, L->no, t->col, forms[f].fields, "unknown counter field '%s' in '%s'",
			    quote(&qf, field, field_len), qtok(&q, t));
	return 0;
}

static int stmt_expect(struct parser *p, const struct line *L)
{
	struct quoted q;
	const struct tok *t = L->t;
	struct scenario *s = p->s;
	static const char *const names[] = {
		[SCN_EXPECT_INTACT] = "intact",
		[SCN_EXPECT_WITHIN] = "within",
		[SCN_EXPECT_NO_DEADLOCK] = "no-deadlock",
		[SCN_EXPECT_ERROR] = "error",
		[SCN_EXPECT_COUNTER] = "counter",
		[SCN_EXPECT_NO_ACCESS_ERRORS] = "no-access-errors",
		[SCN_EXPECT_DEADLOCK] = "deadlock",
	};
	static const char list[] = "one of intact, within, no-deadlock, deadlock, error, counter, no-access-errors";
	if (s->expect_count >= SCN_MAX_EXPECTS)
		return fail(p, L->no, t[0].col, "at most 32 expectations per scenario", "too many expectations");
	if (L->n < 2)
		return missing(p, L, list, "the expectation after `expect`");
	enum scn_expect_kind kind = 0;
	for (int i = SCN_EXPECT_INTACT; i <= SCN_EXPECT_DEADLOCK; i++)
		if (tok_is(&t[1], names[i]))
			kind = (enum scn_expect_kind)i;
	if (!kind)
		return fail(p, L->no, t[1].col, list, "unknown expectation '%s'", qtok(&q, &t[1]));
	/* Stating one of these twice is a slip (or two conflicting limits). */
	if (kind != SCN_EXPECT_ERROR && kind != SCN_EXPECT_COUNTER)
		for (uint32_t i = 0; i < s->expect_count; i++)
			if (s->expects[i].kind == kind)
				return fail(p, L->no, t[1].col,
					    "each of intact, within, no-deadlock, deadlock, no-access-errors at most once",
					    "expectation '%s' stated twice (first on line %" PRIu32 ")", names[kind],
					    s->expects[i].line);
	/* A run cannot both end in a deadlock report and not. */
	enum scn_expect_kind opposite = kind == SCN_EXPECT_DEADLOCK	 ? SCN_EXPECT_NO_DEADLOCK
					: kind == SCN_EXPECT_NO_DEADLOCK ? SCN_EXPECT_DEADLOCK
									 : 0;
	for (uint32_t i = 0; opposite && i < s->expect_count; i++)
		if (s->expects[i].kind == opposite)
			return fail(p, L->no, t[1].col, "either deadlock or no-deadlock",
				    "expectation '%s' contradicts '%s' on line %" PRIu32, names[kind], names[opposite],
				    s->expects[i].line);
	struct scn_expect *e = &s->expects[s->expect_count];
	struct expect_src *src = &p->expect[s->expect_count];
	memset(e, 0, sizeof(*e));
	memset(src, 0, sizeof(*src));
	e->kind = kind;
	e->line = L->no;
	switch (kind) {
	case SCN_EXPECT_INTACT:
	case SCN_EXPECT_NO_DEADLOCK:
	case SCN_EXPECT_DEADLOCK:
		if (end_of_line(p, L, 2, names[kind]) < 0)
			return -1;
		break;
	case SCN_EXPECT_WITHIN:
		if (L->n < 3)
			return missing(p, L, "expect within TIME", "the time");
		if (end_of_line(p, L, 3, "the time") < 0 ||
		    quantity(p, L->no, &t[2], t[2].s, t[2].len, Q_TIME, 1, TIME_MAX_NS, &e->within_ns) < 0)
			return -1;
		src->col = t[2].col;
		break;
	case SCN_EXPECT_ERROR: {
		if (L->n < 3)
			return missing(p, L, "expect error APP ERRNAME", "the app name");
		if (!name_ok(t[2].s, t[2].len, false))
			return fail(p, L->no, t[2].col, APP_NAME_HINT, "invalid app name '%s'", qtok(&q, &t[2]));
		char elist[256] = "one of ";
		for (size_t i = 0; i < sizeof(err_names) / sizeof(err_names[0]); i++) {
			append(elist, sizeof(elist), i ? ", " : "");
			append(elist, sizeof(elist), err_names[i].name);
		}
		if (L->n < 4)
			return missing(p, L, elist, "the error name");
		bool found = false;
		for (size_t i = 0; i < sizeof(err_names) / sizeof(err_names[0]); i++)
			if (tok_is(&t[3], err_names[i].name)) {
				e->error = err_names[i].err;
				found = true;
			}
		if (!found)
			return fail(p, L->no, t[3].col, elist, "unknown error '%s'", qtok(&q, &t[3]));
		if (end_of_line(p, L, 4, "the error name") < 0)
			return -1;
		copy_name(e->app, t[2].s, t[2].len);
		copy_name(src->ref_app, t[2].s, t[2].len);
		src->col = t[2].col;
		break;
	}
	case SCN_EXPECT_COUNTER: {
		if (L->n < 3)
			return missing(p, L, "expect counter NAME OP VALUE", "the counter name");
		if (parse_counter(p, L, &t[2], e, src) < 0)
			return -1;
		src->col = t[2].col;
		if (L->n < 4)
			return missing(p, L, "one of ==, !=, <, <=, >, >=", "the comparison");
		bool found = false;
		for (size_t i = 0; i < sizeof(cmps) / sizeof(cmps[0]); i++)
			if (tok_is(&t[3], cmps[i].op)) {
				e->cmp = cmps[i].cmp;
				found = true;
			}
		if (!found)
			return fail(p, L->no, t[3].col, "one of ==, !=, <, <=, >, >=", "unknown comparison '%s'",
				    qtok(&q, &t[3]));
		if (L->n < 5)
			return missing(p, L, q_hint[Q_COUNT], "the value");
		if (end_of_line(p, L, 5, "the value") < 0 ||
		    quantity(p, L->no, &t[4], t[4].s, t[4].len, Q_COUNT, 0, UINT64_MAX, &e->value) < 0)
			return -1;
		break;
	}
	case SCN_EXPECT_NO_ACCESS_ERRORS: {
		struct kvs kv;
		if (parse_kvs(p, L, 2, KS(ks_no_access), NULL, 0, "expect no-access-errors", &kv) < 0)
			return -1;
		const struct kv *v = kv.by_id[K_EXCEPT];
		if (v) {
			copy_name(e->app, v->v, v->vlen);
			copy_name(src->ref_app, v->v, v->vlen);
			src->col = v->t->col;
		}
		break;
	}
	}
	s->expect_count++;
	return 0;
}

/* ---------- lines ---------- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Splits one line (without its '\n') into tokens; a '#' anywhere starts a
 * comment. CR counts as a blank so that files with CRLF endings work. */
static int split_line(struct parser *p, const char *s, size_t len, uint32_t no, struct line *L)
{
	L->no = no;
	L->n = 0;
	L->end_col = 1;
	if (len > LINE_MAX_BYTES)
		return fail(p, no, LINE_MAX_BYTES + 1, "at most 4096 bytes per line", "line is %zu bytes long", len);
	size_t i = 0;
	for (;;) {
		while (i < len && is_blank(s[i]))
			i++;
		if (i == len || s[i] == '#')
			return 0;
		size_t start = i;
		while (i < len && !is_blank(s[i]) && s[i] != '#')
			i++;
		if (L->n == LINE_MAX_TOKENS)
			return fail(p, no, (uint32_t)start + 1, "at most 64 tokens per line", "too many tokens");
		L->t[L->n++] = (struct tok){s + start, (uint32_t)(i - start), (uint32_t)start + 1};
		L->end_col = (uint32_t)i + 1;
	}
}

static int statement(struct parser *p, const struct line *L)
{
	struct quoted q;
	static const struct {
		const char *name;
		int (*fn)(struct parser *, const struct line *);
	} stmts[] = {
		{"scenario", stmt_scenario}, {"set", stmt_set}, {"app", stmt_app},
		{"fault", stmt_fault},	     {"expect", stmt_expect},
	};
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		if (!tok_is(&L->t[0], stmts[i].name))
			continue;
		if (!p->have_scenario && i != 0)
			return fail(p, L->no, L->t[0].col, "`scenario NAME` as the first statement",
				    "'%s' before the scenario line", stmts[i].name);
		return stmts[i].fn(p, L);
	}
	return fail(p, L->no, L->t[0].col, "one of scenario, set, app, fault, expect", "unknown statement '%s'",
		    qtok(&q, &L->t[0]));
}

/* ---------- whole-file checks ---------- */

static int app_index(const struct scenario *s, const char *name)
{
	for (uint32_t i = 0; i < s->app_count; i++)
		if (!strcmp(s->apps[i].name, name))
			return (int)i;
	return -1;
}

static const char *const host_names[] = {"client", "server"};

/* The app app i's to= names, or NULL (reported). */
static const struct scn_app *target_of(struct parser *p, uint32_t i)
{
	const struct scn_app *a = &p->s->apps[i];
	int ti = app_index(p->s, a->target);
	if (ti < 0) {
		fail(p, p->app[i].line, p->app[i].to_col, "the name of an app in this scenario", "to=%s names no app",
		     a->target);
		return NULL;
	}
	return &p->s->apps[ti];
}

static void check_app(struct parser *p, uint32_t i)
{
	struct scenario *s = p->s;
	struct scn_app *a = &s->apps[i];
	const struct app_src *src = &p->app[i];
	enum scn_workload_kind want = server_of(a->kind);
	if (want != SCN_WL_NONE) {
		const struct scn_app *tg = target_of(p, i);
		if (!tg)
			return;
		char expected[96];
		snprintf(expected, sizeof(expected), "to= naming an app of kind %s: what %s clients talk to",
			 kind_name(want), kind_name(a->kind));
		if (tg->kind != want) {
			fail(p, src->line, src->to_col, expected, "'%s' is of kind %s", tg->name, kind_name(tg->kind));
			return;
		}
		/* The NIC has no loopback path: a connection leaves through the
		 * wire, so it can only reach the other host. */
		if (tg->host == a->host) {
			fail(p, src->line, src->to_col, "a server on the other host",
			     "'%s' is on the same host (%s) as '%s'", tg->name, host_names[a->host], a->name);
			return;
		}
		a->port = tg->port;
		if (a->kind == SCN_WL_RPC) {
			if (!src->resp_col)
				a->resp_bytes = tg->resp_bytes;
			else if (a->resp_bytes != tg->resp_bytes) {
				char mine[32], theirs[32], expected2[192];
				fmt_q(mine, sizeof(mine), Q_SIZE, a->resp_bytes);
				fmt_q(theirs, sizeof(theirs), Q_SIZE, tg->resp_bytes);
				snprintf(expected2, sizeof(expected2), "resp=%s as rpc-server '%s' answers, or no resp=",
					 theirs, tg->name);
				fail(p, src->line, src->resp_col, expected2, "resp=%s does not match the server", mine);
			}
		}
		if (a->max_conns && a->max_conns < a->conns)
			fail(p, src->line, src->max_conns_col, "max_conns= at least conns=",
			     "max_conns=%" PRIu32 " is less than conns=%" PRIu32, a->max_conns, a->conns);
	}
	if (a->kind == SCN_WL_PEER) {
		const struct scn_app *tg = target_of(p, i);
		if (!tg)
			return;
		if (tg->kind != SCN_WL_PEER || strcmp(tg->target, a->name)) {
			char expected[128];
			snprintf(expected, sizeof(expected), "to= naming a peer whose to= names '%s' back", a->name);
			if (tg->kind != SCN_WL_PEER)
				fail(p, src->line, src->to_col, expected, "'%s' is of kind %s", tg->name,
				     kind_name(tg->kind));
			else
				fail(p, src->line, src->to_col, expected, "'%s' names '%s'", tg->name, tg->target);
			return;
		}
		if (tg->host == a->host)
			fail(p, src->line, src->to_col, "a peer on the other host", "'%s' is on the same host (%s) as '%s'",
			     tg->name, host_names[a->host], a->name);
	}
	if (is_server(a->kind) && a->max_conns && a->max_conns < a->backlog)
		fail(p, src->line, src->max_conns_col, "max_conns= at least backlog= (64 unless given)",
		     "max_conns=%" PRIu32 " is less than backlog=%" PRIu32, a->max_conns, a->backlog);
	if (a->kind == SCN_WL_HOSTILE) {
		int vi = app_index(s, a->victim);
		if (vi < 0)
			fail(p, src->line, src->victim_col, "the name of an app in this scenario",
			     "victim=%s names no app", a->victim);
		else if ((uint32_t)vi == i)
			fail(p, src->line, src->victim_col, "another app", "a hostile app cannot be its own victim");
	}
	if (is_server(a->kind))
		for (uint32_t j = 0; j < i; j++)
			if (is_server(s->apps[j].kind) && s->apps[j].host == a->host && s->apps[j].port == a->port)
				fail(p, src->line, src->port_col ? src->port_col : src->name_col,
				     "a port no other server on this host listens on",
				     "port %u on %s is already taken by '%s' (line %" PRIu32 ")", a->port,
				     host_names[a->host], s->apps[j].name, p->app[j].line);
}

static void check_refs(struct parser *p)
{
	struct scenario *s = p->s;
	for (uint32_t i = 0; i < s->fault_count; i++)
		if (s->faults[i].app[0] && app_index(s, s->faults[i].app) < 0)
			fail(p, s->faults[i].line, p->fault_app_col[i], "the name of an app in this scenario",
			     "app=%s names no app", s->faults[i].app);
	for (uint32_t i = 0; i < s->expect_count; i++) {
		const struct expect_src *src = &p->expect[i];
		if (src->ref_app[0] && app_index(s, src->ref_app) < 0)
			fail(p, s->expects[i].line, src->col, "the name of an app in this scenario",
			     "'%s' names no app", src->ref_app);
		if (s->expects[i].kind == SCN_EXPECT_WITHIN && s->expects[i].within_ns > s->time_limit_ns) {
			char w[32], tl[32];
			fmt_q(w, sizeof(w), Q_TIME, s->expects[i].within_ns);
			fmt_q(tl, sizeof(tl), Q_TIME, s->time_limit_ns);
			fail(p, s->expects[i].line, src->col, "a time within the run's time_limit",
			     "within %s is beyond time_limit %s", w, tl);
		}
	}
}

static int validate(struct parser *p)
{
	struct scenario *s = p->s;
	if (!p->have_scenario)
		return fail(p, 1, 1, "a `scenario NAME` line first", "no statements: the file is empty");
	if (s->app_count == 0)
		fail(p, p->scenario_line, p->scenario_col, "at least one `app` line", "scenario '%s' has no apps",
		     s->name);
	for (uint32_t i = 0; i < s->app_count; i++)
		check_app(p, i);
	check_refs(p);
	/* The NIC needs staging for four full segments plus headroom
	 * (nic_create refuses less); say so where the user set it. */
	uint64_t need = 4ull * s->mss + 4096;
	if (s->staging_bytes < need) {
		int id = p->set_line[SET_STAGING] >= p->set_line[SET_MSS] ? SET_STAGING : SET_MSS;
		char have[32], want[32];
		fmt_q(have, sizeof(have), Q_SIZE, s->staging_bytes);
		fmt_q(want, sizeof(want), Q_SIZE, need);
		char expected[96];
		snprintf(expected, sizeof(expected), "staging of at least 4 x mss + 4K = %s", want);
		fail(p, p->set_line[id], p->set_col[id], expected, "staging %s is too small for mss %u", have, s->mss);
	}
	return p->failed ? -1 : 0;
}

/* ---------- entry points ---------- */

void scenario_defaults(struct scenario *s)
{
	memset(s, 0, sizeof(*s));
	s->mss = 1448;
	s->ecn = true;
	s->max_flows = 4096;
	s->staging_bytes = 512u << 10;
	s->delayed_ack_ns = 200 * 1000ull;
	s->rto_min_ns = 5 * 1000000ull;
	s->time_wait_ns = 10 * 1000000ull;
	s->chan_sq_depth = 256;
	s->chan_msg_depth = 64;
	s->chan_latency_ns = 1000;
	s->wait_timeout_ns = 2 * 1000000ull;
	s->doorbell_refresh_ns = 1000000ull;
	s->link_latency_ns = 5000;
	s->link_bandwidth_bps = 10 * 1000000000ull;
	s->link_queue_bytes = 1u << 20;
	s->link_ecn_mark_bytes = 0;
	s->time_limit_ns = 60 * NS_PER_S;
	s->deadlock_after_ns = 500 * 1000000ull;
}

int scenario_parse(const char *path, const char *text, struct scenario *out, char *err, size_t err_len)
{
	struct parser parser = {0};
	struct parser *p = &parser;
	struct line line;
	struct line *L = &line;
	if (err && err_len)
		err[0] = 0;
	if (!path)
		path = "<input>";
	if (!out || !text) {
		if (err && err_len)
			snprintf(err, err_len, "%s:0:0: error: nothing to parse (expected a scenario text)", path);
		return -1;
	}
	scenario_defaults(out);
	snprintf(out->path, sizeof(out->path), "%s", path);
	p->path = path;
	p->err = err;
	p->err_len = err_len;
	p->s = out;
	int rc = 0;
	const char *q = text;
	uint32_t no = 0;
	while (rc == 0 && *q) {
		const char *e = strchr(q, '\n');
		size_t len = e ? (size_t)(e - q) : strlen(q);
		if (no < UINT32_MAX)
			no++;
		rc = split_line(p, q, len, no, L);
		if (rc == 0 && L->n)
			rc = statement(p, L);
		if (!e)
			break;
		q = e + 1;
	}
	if (rc == 0)
		rc = validate(p);
	return rc;
}

int scenario_load(const char *path, struct scenario *out, char *err, size_t err_len)
{
	const char *why = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = NULL;
	size_t len = 0;
	int saved = 0;
	struct stat st;
	if (fd < 0) {
		saved = errno;
		why = "cannot open";
	} else if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		saved = EISDIR;
		why = "cannot read";
	} else if (!(buf = malloc(FILE_MAX_BYTES + 2))) {
		saved = ENOMEM;
		why = "cannot read";
	} else {
		/* Read one byte past the limit to tell "exactly at" from "over". */
		while (len <= FILE_MAX_BYTES) {
			ssize_t n = read(fd, buf + len, FILE_MAX_BYTES + 1 - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				saved = errno;
				why = "cannot read";
				break;
			}
			if (n == 0)
				break;
			len += (size_t)n;
		}
	}
	if (fd >= 0)
		close(fd);
	if (why) {
		if (err && err_len)
			snprintf(err, err_len, "%s:0:0: error: %s: %s (expected a readable scenario file)", path, why,
				 strerror(saved));
		free(buf);
		return -1;
	}
	if (len > FILE_MAX_BYTES) {
		if (err && err_len)
			snprintf(err, err_len, "%s:0:0: error: file is larger than 1 MiB (expected a scenario of at most 1 MiB)",
				 path);
		free(buf);
		return -1;
	}
	buf[len] = 0;
	/* A NUL would silently end the text early: say where it is. */
	const char *nul = memchr(buf, 0, len);
	if (nul) {
		uint32_t line = 1, col = 1;
		for (const char *c = buf; c < nul; c++, col++)
			if (*c == '\n') {
				line++;
				col = 0;
			}
		if (err && err_len)
			snprintf(err, err_len, "%s:%" PRIu32 ":%" PRIu32 ": error: NUL byte in the file (expected text)",
				 path, line, col);
		free(buf);
		return -1;
	}
	int rc = scenario_parse(path, buf, out, err, err_len);
	free(buf);
	return rc;
}
