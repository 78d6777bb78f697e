/*
 * cli_results.c: JSON lines and JUnit XML for `bluetas run`
 * (cli_results.h, docs/campaigns.md).
 */
#include "cli_results.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; s && *s; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

void campaign_sweep_id(const struct campaign_info *c, char out[17])
{
	uint64_t h = 0xcbf29ce484222325ull;
	char buf[128];
	for (size_t i = 0; i < c->scenario_count; i++) {
		h = (h ^ fnv1a64(c->scenarios[i])) * 0x100000001b3ull;
	}
	snprintf(buf, sizeof(buf), "%" PRIu64 "..%" PRIu64 "|%s|%d|%s", c->seed_lo, c->seed_hi, c->bugs,
		 (int)c->swarm, c->backend);
	h = (h ^ fnv1a64(buf)) * 0x100000001b3ull;
	snprintf(out, 17, "%016" PRIx64, h);
}

void json_put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
		switch (*c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		case '\r': fputs("\\r", f); break;
		default:
			if (*c < 0x20)
				fprintf(f, "\\u%04x", *c);
			else
				fputc(*c, f);
		}
	}
	fputc('"', f);
}

static int stream_status(FILE *f)
{
	if (ferror(f)) {
		if (!errno)
			errno = EIO;
		return -1;
	}
	return 0;
}

int results_write_header(FILE *f, const struct campaign_info *c)
{
	char id[17];
	campaign_sweep_id(c, id);
	fprintf(f, "{\"type\":\"campaign\",\"format\":\"" RESULTS_FORMAT "\",\"version\":%d,\"sweep\":\"%s\"", RESULTS_VERSION,
		id);
	fprintf(f, ",\"shard\":%" PRIu32 ",\"shards\":%" PRIu32 ",\"seeds\":\"%" PRIu64 "..%" PRIu64 "\"", c->shard,
		c->shards, c->seed_lo, c->seed_hi);
	fputs(",\"scenarios\":[", f);
	for (size_t i = 0; i < c->scenario_count; i++) {
		if (i)
			fputc(',', f);
		json_put_string(f, c->scenarios[i]);
	}
	fputs("],\"bugs\":", f);
	json_put_string(f, c->bugs);
	fprintf(f, ",\"swarm\":%s,\"backend\":", c->swarm ? "true" : "false");
	json_put_string(f, c->backend);
	fprintf(f, ",\"runs\":%zu}\n", c->runs);
	return stream_status(f);
}

int results_write_run(FILE *f, const struct result_row *r)
{
	fputs("{\"type\":\"run\",\"scenario\":", f);
	json_put_string(f, r->scenario);
	fputs(",\"file\":", f);
	json_put_string(f, r->file);
	fprintf(f, ",\"seed\":%" PRIu64 ",\"result\":\"%s\",\"diagnosis\":", r->seed, r->pass ? "PASS" : "FAIL");
	json_put_string(f, r->diagnosis);
	if (r->swarm) {
		fputs(",\"swarm\":", f);
		json_put_string(f, r->swarm);
	}
	fprintf(f, ",\"virtual_ns\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"wall_ms\":%.3f,\"reproduce\":", r->virtual_ns,
		r->bytes, r->wall_s * 1e3);
	json_put_string(f, r->reproduce);
	fprintf(f, ",\"counters_digest\":\"%016" PRIx64 "\",\"counters\":{", fnv1a64(r->counters));
	bool first = true;
	for (const char *l = r->counters ? r->counters : ""; *l;) {
		size_t len = strcspn(l, "\n");
		const char *sp = memchr(l, ' ', len);
		if (sp) {
			fprintf(f, "%s\"%.*s\":%.*s", first ? "" : ",", (int)(sp - l), l, (int)(len - (size_t)(sp - l) - 1),
				sp + 1);
			first = false;
		}
		l += len;
		if (*l)
			l++;
	}
	fputs("}}\n", f);
	return stream_status(f);
}

int results_write_end(FILE *f, size_t passed, size_t failed)
{
	fprintf(f, "{\"type\":\"end\",\"passed\":%zu,\"failed\":%zu}\n", passed, failed);
	return stream_status(f);
}

/* XML 1.0 text: the five escapes, and control characters it cannot hold
 * (all but tab, newline, carriage return) shown as '?'. */
static void xml_put(FILE *f, const char *s)
{
	for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
		switch (*c) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default:
			fputc(*c < 0x20 && *c != '\t' && *c != '\n' && *c != '\r' ? '?' : *c, f);
		}
	}
}

int junit_write(FILE *f, const char *suite_name, const struct result_row *rows, size_t n)
{
	size_t failures = 0;
	double total_s = 0;
	for (size_t i = 0; i < n; i++) {
		failures += !rows[i].pass;
		total_s += rows[i].wall_s;
	}
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"", f);
	xml_put(f, suite_name);
	fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" time=\"%.3f\">\n", n, failures, total_s);
	for (size_t i = 0; i < n;) {
		size_t end = i, fails = 0;
		double t = 0;
		while (end < n && !strcmp(rows[end].scenario, rows[i].scenario)) {
			fails += !rows[end].pass;
			t += rows[end].wall_s;
			end++;
		}
		fputs("  <testsuite name=\"", f);
		xml_put(f, rows[i].scenario);
		fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" time=\"%.3f\">\n", end - i, fails, t);
		for (; i < end; i++) {
			const struct result_row *r = &rows[i];
			fputs("    <testcase classname=\"bluetas.", f);
			xml_put(f, r->scenario);
			fprintf(f, "\" name=\"seed %" PRIu64 "%s\" file=\"", r->seed, r->swarm ? " swarm" : "");
			xml_put(f, r->file);
			fprintf(f, "\" time=\"%.6f\"", r->wall_s);
			if (r->pass && !r->swarm) {
				fputs("/>\n", f);
				continue;
			}
			fputs(">\n", f);
			if (!r->pass) {
				fputs("      <failure type=\"FAIL\" message=\"", f);
				size_t first = strcspn(r->diagnosis, "\n");
				char line[1024];
				snprintf(line, sizeof(line), "%.*s", (int)first, r->diagnosis);
				xml_put(f, line);
				fputs("\">", f);
				xml_put(f, r->diagnosis);
				fputs("\nreproduce: ", f);
				xml_put(f, r->reproduce);
				fputs("</failure>\n", f);
			}
			if (r->swarm) {
				fputs("      <system-out>swarm: ", f);
				xml_put(f, r->swarm);
				fputs("</system-out>\n", f);
			}
			fputs("    </testcase>\n", f);
		}
		fputs("  </testsuite>\n", f);
	}
	fputs("</testsuites>\n", f);
	return stream_status(f);
}
