/*
 * clock.h: the only way anything in core/ or transports/ learns the time.
 * The simulator hands out a virtual clock; real-time backends a monotonic
 * one. Nanoseconds since an arbitrary origin; never goes backwards.
 */
#ifndef BT_CLOCK_H
#define BT_CLOCK_H

#include <stdint.h>

#define BT_TIME_NEVER UINT64_MAX /* "no deadline" */

struct bt_clock {
	uint64_t (*now_ns)(void *ctx);
	void *ctx;
};

static inline uint64_t bt_clock_now_ns(const struct bt_clock *c)
{
	return c->now_ns(c->ctx);
}

/* A clock reading CLOCK_MONOTONIC (defined in transports/clock_mono.c). */
void bt_clock_monotonic(struct bt_clock *out);

#endif
