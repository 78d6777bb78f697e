/*
 * hop_trace.c: the recorder's storage and its text file (hop_trace.h).
 */
#include "hop_trace.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *const point_names[HOP__COUNT] = {
	[HOP_SEND] = "send",           [HOP_DB_POST] = "db_post",       [HOP_DB_SEEN] = "db_seen",
	[HOP_READ_DONE] = "read_done", [HOP_FRAME_OUT] = "frame_out",   [HOP_FRAME_IN] = "frame_in",
	[HOP_EV_POSTED] = "ev_posted", [HOP_RX_WRITTEN] = "rx_written", [HOP_WOKE] = "woke",
	[HOP_EV_SEEN] = "ev_seen",     [HOP_RECV] = "recv",
};

const char *hop_point_name(int p)
{
	return p >= 0 && p < HOP__COUNT ? point_names[p] : "?";
}

int hop_trace_init(struct hop_trace *t, uint32_t cap, uint8_t side)
{
	memset(t, 0, sizeof(*t));
	t->side = side;
	if (cap == 0)
		return -1;
	t->recs = calloc(cap, sizeof(*t->recs));
	if (!t->recs)
		return -1;
	t->cap = cap;
	return 0;
}

void hop_trace_free(struct hop_trace *t)
{
	free(t->recs);
	memset(t, 0, sizeof(*t));
}

int hop_trace_write(const struct hop_trace *t, FILE *out)
{
	fprintf(out, "bluetas-hops 1 records=%" PRIu32 " dropped=%" PRIu64 "\n", t->count, t->dropped);
	for (uint32_t i = 0; i < t->count; i++) {
		const struct hop_rec *r = &t->recs[i];
		fprintf(out, "%" PRIu64 " %s %u %" PRIu32 " %" PRIu32 " %u\n", r->t_ns, hop_point_name(r->point), r->side,
			r->conn, r->off_end, r->flags);
	}
	if (fflush(out) != 0 || ferror(out))
		return -1;
	return 0;
}

static int point_of(const char *name)
{
	for (int p = 0; p < HOP__COUNT; p++)
		if (!strcmp(name, point_names[p]))
			return p;
	return -1;
}

static int grow(struct hop_trace *t)
{
	uint32_t cap = t->cap ? t->cap * 2 : 1024;
	if (cap < t->cap)
		return -1;
	struct hop_rec *r = realloc(t->recs, (size_t)cap * sizeof(*r));
	if (!r)
		return -1;
	t->recs = r;
	t->cap = cap;
	return 0;
}

int hop_trace_read(struct hop_trace *t, FILE *in, const char *name, char *err, size_t err_len)
{
	char line[256];
	unsigned long lineno = 0;
	bool header = false;
	while (fgets(line, sizeof(line), in)) {
		lineno++;
		if (!header) {
			unsigned long long dropped = 0;
			unsigned records = 0;
			if (sscanf(line, "bluetas-hops 1 records=%u dropped=%llu", &records, &dropped) != 2) {
				snprintf(err, err_len, "%s:%lu: not a hop trace (no \"bluetas-hops 1\" header)", name,
					 lineno);
				return -1;
			}
			t->dropped += dropped;
			header = true;
			continue;
		}
		unsigned long long t_ns;
		char point[32];
		unsigned side, conn, off, flags;
		char extra;
		if (sscanf(line, "%llu %31s %u %u %u %u %c", &t_ns, point, &side, &conn, &off, &flags, &extra) != 6 ||
		    point_of(point) < 0 || side > 255 || flags > 255) {
			snprintf(err, err_len, "%s:%lu: bad record: %.60s", name, lineno, line);
			return -1;
		}
		if (t->count == t->cap && grow(t) < 0) {
			snprintf(err, err_len, "%s: out of memory at line %lu", name, lineno);
			return -1;
		}
		t->recs[t->count++] = (struct hop_rec){.t_ns = t_ns,
						       .conn = conn,
						       .off_end = off,
						       .point = (uint8_t)point_of(point),
						       .side = (uint8_t)side,
						       .flags = (uint8_t)flags};
	}
	if (ferror(in)) {
		snprintf(err, err_len, "%s: read error", name);
		return -1;
	}
	if (!header) {
		snprintf(err, err_len, "%s: empty (no \"bluetas-hops 1\" header)", name);
		return -1;
	}
	return 0;
}
