/*
 * run_clock.h: the two clocks a simulator run is measured by (not the
 * virtual clock it simulates with): wall time, and this process's CPU
 * time, which a benchmark divides by because it does not count the time
 * other work on a shared machine took. Seconds since an arbitrary origin.
 */
#ifndef BT_SIM_RUN_CLOCK_H
#define BT_SIM_RUN_CLOCK_H

#include <time.h>

static inline double run_clock_seconds(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline double run_wall_s(void) { return run_clock_seconds(CLOCK_MONOTONIC); }
static inline double run_cpu_s(void) { return run_clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }

#endif
