/*
 * appendf.c: bounded text appends (appendf.h).
 */
#include "appendf.h"

#include <stdio.h>

size_t bt_vappendf(char *buf, size_t cap, size_t len, const char *fmt, va_list ap)
{
	if (len + 1 >= cap)
		return len;
	int n = vsnprintf(buf + len, cap - len, fmt, ap);
	if (n <= 0)
		return len;
	return (size_t)n < cap - len ? len + (size_t)n : cap - 1;
}

size_t bt_appendf(char *buf, size_t cap, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	len = bt_vappendf(buf, cap, len, fmt, ap);
	va_end(ap);
	return len;
}
