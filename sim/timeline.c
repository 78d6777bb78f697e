/*
 * timeline.c: the Chrome trace event JSON writer and the per-connection
 * time series behind `bluetas plot` (timeline.h). The JSON follows the
 * Trace Event Format: {"traceEvents":[...]} with ph "M" (process and
 * thread names), "B"/"E" (state slices, matched per pid/tid), "C"
 * (counters) and "i" (instants); ts in microseconds.
 */
#include "timeline.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void note_error(struct timeline *tl, FILE *f)
{
	if (!tl->write_errno && f && ferror(f))
		tl->write_errno = errno ? errno : EIO;
}

/* ts in microseconds with ns precision kept (Perfetto reads fractions). */
static void put_event_head(struct timeline *tl, const char *ph, uint32_t pid, uint32_t tid, uint64_t t_ns)
{
	fprintf(tl->json, "%s\n{\"ph\":\"%s\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"ts\":%" PRIu64 ".%03u",
		tl->first_event ? "" : ",", ph, pid, tid, t_ns / 1000u, (unsigned)(t_ns % 1000u));
	tl->first_event = false;
}

/* Names are ours (apps are [A-Za-z0-9_-], states fixed words), but quote
 * defensively: anything outside printable ASCII or a quote becomes '?'. */
static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
		fputc(*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\' ? *s : '?', f);
	fputc('"', f);
}

int timeline_open(struct timeline *tl, const char *json_path, const char *tsv_path, uint32_t max_flows, char *err,
		  size_t err_len)
{
	memset(tl, 0, sizeof(*tl));
	tl->first_event = true;
	tl->max_flows = max_flows;
	for (int h = 0; h < 2; h++)
		tl->conn[h] = calloc(max_flows, sizeof(*tl->conn[h]));
	tl->scratch = calloc(max_flows, sizeof(*tl->scratch));
	if (!tl->conn[0] || !tl->conn[1] || !tl->scratch) {
		snprintf(err, err_len, "timeline: out of memory for %u flows", max_flows);
		timeline_close(tl, 0, NULL, 0);
		return -1;
	}
	if (json_path) {
		snprintf(tl->json_path, sizeof(tl->json_path), "%s", json_path);
		if (!(tl->json = fopen(json_path, "w"))) {
			snprintf(err, err_len, "perfetto: cannot write %s: %s", json_path, strerror(errno));
			timeline_close(tl, 0, NULL, 0);
			return -1;
		}
		fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", tl->json);
	}
	if (tsv_path) {
		snprintf(tl->tsv_path, sizeof(tl->tsv_path), "%s", tsv_path);
		if (!(tl->tsv = fopen(tsv_path, "w"))) {
			snprintf(err, err_len, "series: cannot write %s: %s", tsv_path, strerror(errno));
			timeline_close(tl, 0, NULL, 0);
			return -1;
		}
		fputs(TIMELINE_TSV_HEADER "\n", tl->tsv);
	}
	return 0;
}

static void put_name(struct timeline *tl, const char *kind, uint32_t pid, uint32_t tid, const char *name)
{
	if (!tl->json)
		return;
	fprintf(tl->json, "%s\n{\"ph\":\"M\",\"name\":\"%s\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"args\":{\"name\":",
		tl->first_event ? "" : ",", kind, pid, tid);
	tl->first_event = false;
	put_string(tl->json, name);
	fputs("}}", tl->json);
}

void timeline_process(struct timeline *tl, uint32_t pid, const char *name)
{
	put_name(tl, "process_name", pid, 0, name);
}

static void slice(struct timeline *tl, const char *ph, uint32_t pid, uint32_t tid, const char *name, uint64_t t_ns,
		  const struct nic_flow_sample *s)
{
	if (!tl->json)
		return;
	put_event_head(tl, ph, pid, tid, t_ns);
	fputs(",\"name\":", tl->json);
	put_string(tl->json, name);
	if (s)
		fprintf(tl->json,
			",\"args\":{\"local_port\":%u,\"remote\":\"%u.%u.%u.%u:%u\",\"gen\":%" PRIu32 "}",
			s->local_port, s->remote_ip >> 24, (s->remote_ip >> 16) & 255, (s->remote_ip >> 8) & 255,
			s->remote_ip & 255, s->remote_port, s->gen);
	fputc('}', tl->json);
}

static bool same_values(const struct nic_flow_sample *a, const struct nic_flow_sample *b)
{
	return a->cwnd_bytes == b->cwnd_bytes && a->in_flight_bytes == b->in_flight_bytes &&
	       a->snd_wnd_bytes == b->snd_wnd_bytes && a->rcv_wnd_bytes == b->rcv_wnd_bytes &&
	       a->srtt_us == b->srtt_us && a->tx_queued_bytes == b->tx_queued_bytes && a->snd_una == b->snd_una;
}

static void conn_sample(struct timeline *tl, int host, uint32_t pid, uint64_t t_ns, const struct nic_flow_sample *s)
{
	struct timeline_conn *c = &tl->conn[host][s->index];
	uint32_t tid = s->index + 1;
	bool fresh = !c->open || c->gen != s->gen;
	if (c->open && (fresh || strcmp(c->state, s->state) != 0)) {
		slice(tl, "E", pid, tid, c->state, t_ns, NULL);
		c->open = false;
	}
	if (!c->named) {
		char name[48];
		snprintf(name, sizeof(name), "conn slot %" PRIu32, s->index);
		put_name(tl, "thread_name", pid, tid, name);
		c->named = true;
	}
	if (fresh)
		c->first_una = s->snd_una;
	if (!c->open) {
		slice(tl, "B", pid, tid, s->state, t_ns, s);
		c->open = true;
		c->state = s->state;
		c->gen = s->gen;
	} else if (same_values(&c->last, s)) {
		return;
	}
	c->last = *s;
	if (tl->json) {
		put_event_head(tl, "C", pid, 0, t_ns);
		fprintf(tl->json,
			",\"name\":\"conn %" PRIu32 "\",\"args\":{\"cwnd\":%" PRIu32 ",\"in_flight\":%" PRIu32
			",\"snd_wnd\":%" PRIu32 ",\"rcv_wnd\":%" PRIu32 ",\"srtt_us\":%" PRIu32 ",\"queued\":%" PRIu32 "}}",
			s->index, s->cwnd_bytes, s->in_flight_bytes, s->snd_wnd_bytes, s->rcv_wnd_bytes, s->srtt_us,
			s->tx_queued_bytes);
	}
	if (tl->tsv)
		fprintf(tl->tsv,
			"%.6f\t%s\t%" PRIu32 "\t%" PRIu32 "\t%s\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32
			"\t%" PRIu32 "\t%" PRIu32 "\n",
			(double)t_ns / 1e6, host ? "server" : "client", s->index, s->gen, s->state, s->cwnd_bytes,
			s->in_flight_bytes, s->snd_wnd_bytes, s->rcv_wnd_bytes, s->srtt_us, s->tx_queued_bytes,
			s->snd_una - c->first_una);
}

void timeline_flows(struct timeline *tl, int host, uint64_t t_ns, const struct nic *nic)
{
	uint32_t pid = TIMELINE_PID_NIC(host);
	uint32_t n = nic_flow_samples(nic, tl->scratch, tl->max_flows);
	/* Flows gone since the last sample end their slice now. */
	uint32_t k = 0;
	for (uint32_t i = 0; i < tl->max_flows; i++) {
		struct timeline_conn *c = &tl->conn[host][i];
		while (k < n && tl->scratch[k].index < i)
			k++;
		bool present = k < n && tl->scratch[k].index == i;
		if (c->open && !present) {
			slice(tl, "E", pid, i + 1, c->state, t_ns, NULL);
			c->open = false;
		}
	}
	for (uint32_t i = 0; i < n; i++)
		conn_sample(tl, host, pid, t_ns, &tl->scratch[i]);
	note_error(tl, tl->json);
	note_error(tl, tl->tsv);
}

void timeline_counters(struct timeline *tl, uint32_t pid, const char *track, uint64_t t_ns, const char *const *names,
		       const uint64_t *values, size_t n)
{
	if (!tl->json || n > TIMELINE_MAX_COUNTERS)
		return;
	struct timeline_track *t = NULL;
	for (uint32_t i = 0; i < tl->ntracks && !t; i++)
		if (tl->tracks[i].pid == pid && !strcmp(tl->tracks[i].name, track))
			t = &tl->tracks[i];
	if (!t) {
		if (tl->ntracks == TIMELINE_MAX_TRACKS)
			return;
		t = &tl->tracks[tl->ntracks++];
		t->pid = pid;
		snprintf(t->name, sizeof(t->name), "%s", track);
	}
	if (t->seen && !memcmp(t->last, values, n * sizeof(*values)))
		return;
	t->seen = true;
	memcpy(t->last, values, n * sizeof(*values));
	put_event_head(tl, "C", pid, 0, t_ns);
	fputs(",\"name\":", tl->json);
	put_string(tl->json, track);
	fputs(",\"args\":{", tl->json);
	for (size_t i = 0; i < n; i++) {
		put_string(tl->json, names[i]);
		fprintf(tl->json, ":%" PRIu64 "%s", values[i], i + 1 < n ? "," : "");
	}
	fputs("}}", tl->json);
	note_error(tl, tl->json);
}

void timeline_instant(struct timeline *tl, uint32_t pid, const char *name, uint64_t t_ns)
{
	if (!tl->json)
		return;
	put_event_head(tl, "i", pid, 0, t_ns);
	fputs(",\"s\":\"p\",\"name\":", tl->json);
	put_string(tl->json, name);
	fputc('}', tl->json);
}

static void close_file(struct timeline *tl, FILE **f, const char *what, const char *path, char *err, size_t err_len)
{
	if (!*f)
		return;
	note_error(tl, *f);
	errno = 0;
	int saved = tl->write_errno;
	if (fclose(*f) != 0 && !saved)
		saved = errno ? errno : EIO;
	*f = NULL;
	if (saved && err && err_len && !err[0])
		snprintf(err, err_len, "%s: cannot write %s: %s", what, path, strerror(saved));
	if (saved)
		tl->write_errno = saved;
}

int timeline_close(struct timeline *tl, uint64_t t_ns, char *err, size_t err_len)
{
	if (err && err_len)
		err[0] = 0;
	for (int h = 0; h < 2; h++)
		for (uint32_t i = 0; tl->conn[h] && i < tl->max_flows; i++)
			if (tl->conn[h][i].open) {
				slice(tl, "E", TIMELINE_PID_NIC(h), i + 1, tl->conn[h][i].state, t_ns, NULL);
				tl->conn[h][i].open = false;
			}
	if (tl->json)
		fputs("\n]}\n", tl->json);
	close_file(tl, &tl->json, "perfetto", tl->json_path, err, err_len);
	close_file(tl, &tl->tsv, "series", tl->tsv_path, err, err_len);
	free(tl->conn[0]);
	free(tl->conn[1]);
	free(tl->scratch);
	tl->conn[0] = tl->conn[1] = NULL;
	tl->scratch = NULL;
	return tl->write_errno ? -1 : 0;
}
