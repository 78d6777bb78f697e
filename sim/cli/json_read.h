/*
 * json_read.h: a small JSON reader (RFC 8259) for the files `bluetas run
 * --results` writes and `bluetas report` reads back. It builds a tree;
 * numbers keep their text (a seed is a 64-bit integer, more than a double
 * holds). Input is untrusted: depth and size are bounded, and every error
 * says where.
 */
#ifndef BT_CLI_JSON_READ_H
#define BT_CLI_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32

enum json_kind { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
	enum json_kind kind;
	bool boolean;
	char *text;            /* STRING: decoded (UTF-8, no NUL inside); NUMBER: as written */
	size_t count;          /* ARRAY, OBJECT: members */
	struct json *items;    /* ARRAY, OBJECT: the values */
	char **keys;           /* OBJECT: the names */
};

/* Parses exactly one value (surrounding whitespace allowed). 0, or -1
 * with "column N: what" in err. *out is freed by json_free either way. */
int json_parse(const char *text, size_t len, struct json *out, char *err, size_t err_len);
void json_free(struct json *v);

/* The member `key` of an object, NULL if absent or v is not an object. */
const struct json *json_get(const struct json *v, const char *key);
/* The string member `key`, NULL if absent or not a string. */
const char *json_get_string(const struct json *v, const char *key);
/* The member `key` as an unsigned integer: 0, or -1 if absent, not a
 * number or not an integer in range. */
int json_get_u64(const struct json *v, const char *key, uint64_t *out);

#endif
