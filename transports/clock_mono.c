#define _POSIX_C_SOURCE 200809L
#include "clock.h"

#include <time.h>

static uint64_t monotonic_now_ns(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bt_clock_monotonic(struct bt_clock *out)
{
	out->now_ns = monotonic_now_ns;
	out->ctx = 0;
}
