/*
 * json_read.c: the JSON reader of json_read.h, recursive descent.
 */
#include "json_read.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
	const char *s;
	size_t len, pos;
	char *err;
	size_t err_len;
	bool failed;
};

static int fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct reader *r, const char *fmt, ...)
{
	if (r->failed)
		return -1;
	r->failed = true;
	int n = snprintf(r->err, r->err_len, "column %zu: ", r->pos + 1);
	if (n >= 0 && (size_t)n < r->err_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->err + n, r->err_len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static void skip_ws(struct reader *r)
{
	while (r->pos < r->len && strchr(" \t\r\n", r->s[r->pos]) && r->s[r->pos])
		r->pos++;
}

static int peek(struct reader *r)
{
	return r->pos < r->len ? (unsigned char)r->s[r->pos] : -1;
}

static int put_utf8(char *out, size_t *n, unsigned long cp)
{
	if (cp < 0x80) {
		out[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*n)++] = (char)(0xc0 | (cp >> 6));
		out[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		out[(*n)++] = (char)(0xe0 | (cp >> 12));
		out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[(*n)++] = (char)(0xf0 | (cp >> 18));
		out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
	return 0;
}

static int hex4(struct reader *r, unsigned long *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		int c = peek(r);
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return fail(r, "\\u needs four hex digits");
		*v = *v * 16 + (unsigned long)d;
		r->pos++;
	}
	return 0;
}

/* At the opening quote; a malloc'd, decoded string. */
static char *parse_string(struct reader *r)
{
	r->pos++;
	size_t start = r->pos;
	/* Decoded text is never longer than the escaped text. */
	size_t end = start;
	while (end < r->len && r->s[end] != '"') {
		if (r->s[end] == '\\')
			end++;
		end++;
	}
	if (end >= r->len) {
		fail(r, "unterminated string");
		return NULL;
	}
	char *out = malloc(end - start + 1);
	if (!out) {
		fail(r, "out of memory");
		return NULL;
	}
	size_t n = 0;
	while (r->s[r->pos] != '"') {
		unsigned char c = (unsigned char)r->s[r->pos];
		if (c < 0x20) {
			fail(r, "control character in a string");
			free(out);
			return NULL;
		}
		if (c != '\\') {
			out[n++] = (char)c;
			r->pos++;
			continue;
		}
		r->pos++;
		char e = r->s[r->pos++];
		unsigned long cp;
		switch (e) {
		case '"': out[n++] = '"'; break;
		case '\\': out[n++] = '\\'; break;
		case '/': out[n++] = '/'; break;
		case 'b': out[n++] = '\b'; break;
		case 'f': out[n++] = '\f'; break;
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		case 't': out[n++] = '\t'; break;
		case 'u':
			if (hex4(r, &cp) < 0) {
				free(out);
				return NULL;
			}
			if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff)) {
				/* No NUL inside a C string; surrogates are not
				 * written by bluetas: refused rather than guessed. */
				fail(r, "\\u%04lx is not accepted in a string", cp);
				free(out);
				return NULL;
			}
			put_utf8(out, &n, cp);
			break;
		default:
			r->pos--;
			fail(r, "unknown escape '\\%c'", e);
			free(out);
			return NULL;
		}
	}
	r->pos++;
	out[n] = 0;
	return out;
}

static int parse_value(struct reader *r, struct json *v, int depth);

static int parse_number(struct reader *r, struct json *v)
{
	size_t start = r->pos;
	if (peek(r) == '-')
		r->pos++;
	if (peek(r) == '0') {
		r->pos++;
	} else if (peek(r) >= '1' && peek(r) <= '9') {
		while (peek(r) >= '0' && peek(r) <= '9')
			r->pos++;
	} else {
		return fail(r, "expected a value");
	}
	if (peek(r) == '.') {
		r->pos++;
		if (!(peek(r) >= '0' && peek(r) <= '9'))
			return fail(r, "expected a digit after '.'");
		while (peek(r) >= '0' && peek(r) <= '9')
			r->pos++;
	}
	if (peek(r) == 'e' || peek(r) == 'E') {
		r->pos++;
		if (peek(r) == '+' || peek(r) == '-')
			r->pos++;
		if (!(peek(r) >= '0' && peek(r) <= '9'))
			return fail(r, "expected a digit in the exponent");
		while (peek(r) >= '0' && peek(r) <= '9')
			r->pos++;
	}
	v->kind = JSON_NUMBER;
	v->text = strndup(r->s + start, r->pos - start);
	return v->text ? 0 : fail(r, "out of memory");
}

static int grow(struct reader *r, struct json *v, size_t *cap, bool keys)
{
	if (v->count < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 8;
	struct json *items = realloc(v->items, ncap * sizeof(*items));
	if (!items)
		return fail(r, "out of memory");
	v->items = items;
	if (keys) {
		char **k = realloc(v->keys, ncap * sizeof(*k));
		if (!k)
			return fail(r, "out of memory");
		v->keys = k;
	}
	*cap = ncap;
	return 0;
}

static int parse_container(struct reader *r, struct json *v, int depth, bool object)
{
	if (depth >= JSON_MAX_DEPTH)
		return fail(r, "nested deeper than %d", JSON_MAX_DEPTH);
	v->kind = object ? JSON_OBJECT : JSON_ARRAY;
	char close = object ? '}' : ']';
	size_t cap = 0;
	r->pos++;
	skip_ws(r);
	if (peek(r) == close) {
		r->pos++;
		return 0;
	}
	for (;;) {
		skip_ws(r);
		if (grow(r, v, &cap, object) < 0)
			return -1;
		char *key = NULL;
		if (object) {
			if (peek(r) != '"')
				return fail(r, "expected a member name in quotes");
			if (!(key = parse_string(r)))
				return -1;
			skip_ws(r);
			if (peek(r) != ':') {
				free(key);
				return fail(r, "expected ':' after a member name");
			}
			r->pos++;
		}
		struct json *item = &v->items[v->count];
		memset(item, 0, sizeof(*item));
		if (object)
			v->keys[v->count] = key;
		v->count++;
		if (parse_value(r, item, depth + 1) < 0)
			return -1;
		skip_ws(r);
		if (peek(r) == ',') {
			r->pos++;
			continue;
		}
		if (peek(r) == close) {
			r->pos++;
			return 0;
		}
		return fail(r, "expected ',' or '%c'", close);
	}
}

static int parse_value(struct reader *r, struct json *v, int depth)
{
	skip_ws(r);
	int c = peek(r);
	if (c == '{' || c == '[')
		return parse_container(r, v, depth, c == '{');
	if (c == '"') {
		v->kind = JSON_STRING;
		return (v->text = parse_string(r)) ? 0 : -1;
	}
	static const struct {
		const char *word;
		enum json_kind kind;
		bool value;
	} words[] = {{"true", JSON_BOOL, true}, {"false", JSON_BOOL, false}, {"null", JSON_NULL, false}};
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(words[i].word);
		if (r->len - r->pos >= n && !memcmp(r->s + r->pos, words[i].word, n)) {
			r->pos += n;
			v->kind = words[i].kind;
			v->boolean = words[i].value;
			return 0;
		}
	}
	if (c == -1)
		return fail(r, "unexpected end of input");
	return parse_number(r, v);
}

int json_parse(const char *text, size_t len, struct json *out, char *err, size_t err_len)
{
	memset(out, 0, sizeof(*out));
	struct reader r = {.s = text, .len = len, .err = err, .err_len = err_len};
	if (err_len)
		err[0] = 0;
	if (parse_value(&r, out, 0) < 0)
		return -1;
	skip_ws(&r);
	if (r.pos != r.len)
		return fail(&r, "unexpected text after the value");
	return 0;
}

void json_free(struct json *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->count; i++) {
		json_free(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->text);
	memset(v, 0, sizeof(*v));
}

const struct json *json_get(const struct json *v, const char *key)
{
	if (!v || v->kind != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < v->count; i++)
		if (!strcmp(v->keys[i], key))
			return &v->items[i];
	return NULL;
}

const char *json_get_string(const struct json *v, const char *key)
{
	const struct json *m = json_get(v, key);
	return m && m->kind == JSON_STRING ? m->text : NULL;
}

int json_get_u64(const struct json *v, const char *key, uint64_t *out)
{
	const struct json *m = json_get(v, key);
	if (!m || m->kind != JSON_NUMBER || !m->text[0] || m->text[0] == '-' || strpbrk(m->text, ".eE"))
		return -1;
	errno = 0;
	char *end;
	unsigned long long x = strtoull(m->text, &end, 10);
	if (errno || *end)
		return -1;
	*out = x;
	return 0;
}
