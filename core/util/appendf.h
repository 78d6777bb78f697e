/*
 * appendf.h: printf-style text appended to a fixed buffer, cut where the
 * buffer ends: the one helper behind every text built piece by piece
 * (the NIC's, the host library's and the scenario apps' deadlock reports,
 * the CLI's reproduce lines).
 */
#ifndef BT_UTIL_APPENDF_H
#define BT_UTIL_APPENDF_H

#include <stdarg.h>
#include <stddef.h>

/* buf[0..len) holds text, NUL-terminated, in a buffer of cap bytes.
 * Appends the formatted text, cut to fit; the result stays NUL-terminated.
 * Returns the new length, at most cap - 1 (once full, later appends add
 * nothing). */
size_t bt_appendf(char *buf, size_t cap, size_t len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
size_t bt_vappendf(char *buf, size_t cap, size_t len, const char *fmt, va_list ap);

#endif
