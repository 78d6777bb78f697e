/*
 * rt.h: what the real-time commands (`bluetas nic`, `bluetas app`)
 * share: stopping on SIGINT/SIGTERM, and the one-line result of a bulk
 * (sink/source) connection that scripts parse.
 */
#ifndef BT_CLI_RT_H
#define BT_CLI_RT_H

#include "../../core/apps/bulk.h"

/* Installs SIGINT/SIGTERM handlers that only record the signal, and
 * ignores SIGPIPE (a peer closing must be an error value, not a death). */
void cli_rt_catch_stop_signals(void);
/* "SIGINT" or "SIGTERM" once one arrived, else NULL. */
const char *cli_rt_stop_reason(void);
/* "APP conn=N bytes=B sha256=HEX secs=S mbit_per_s=R result=ok|error [err=E (why)]" */
void cli_rt_print_bulk(const char *app, const struct bulk_result *r);

#endif
