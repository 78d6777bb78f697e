/* cli.h: the subcommands of build/bluetas and their shared helpers. */
#ifndef BT_CLI_H
#define BT_CLI_H

#include <stdint.h>
#include <stdio.h>

int cli_sim(int argc, char **argv);
void cli_sim_usage(FILE *out);
/* `bluetas run`; prog is argv[0] of the binary, for the reproduce lines. */
int cli_run(int argc, char **argv, const char *prog);
void cli_run_usage(FILE *out);
/* `bluetas nic` and `bluetas app` live under hw/: hw/commands.h. */
/* `bluetas report`: the results of a campaign's shards merged. */
int cli_report(int argc, char **argv);
void cli_report_usage(FILE *out);
/* `bluetas shrink`: a failing run reduced to a small reproducer. */
int cli_shrink(int argc, char **argv);
void cli_shrink_usage(FILE *out);

/* `bluetas plot`: a scenario run's connections over time, with gnuplot. */
int cli_plot(int argc, char **argv);
void cli_plot_usage(FILE *out);
/* Draws a series written by the scenario engine (scenario_run_opts.
 * series_path) to out_path (.png or .svg). Returns 0, or -1 with a
 * message in err ("plot: ..."). */
int plot_series(const char *tsv_path, const char *out_path, const char *title, char *err, size_t err_len);
/* Adds the bit of a negative control's bug (`--bug NAME`) to *bugs;
 * -1 after printing the known names. */
int cli_parse_bug(const char *name, uint32_t *bugs);

/* Parses an unsigned decimal integer with an optional K/M/G (x1024) suffix:
 * digits first (no spaces, no sign), nothing after the suffix. Returns 0,
 * or -1 after printing "bluetas: FLAG: ..." to stderr. */
int cli_parse_u64(const char *flag, const char *text, uint64_t min, uint64_t max, uint64_t *out);
/* Parses IP:PORT (an IPv4 address, a port 1..65535). Returns 0, or -1
 * after printing "bluetas: FLAG: ..." to stderr. */
int cli_parse_endpoint(const char *flag, const char *text, uint32_t *ip, uint16_t *port);
/* Every subcommand's message for what getopt_long (opterr 0, optstring
 * starting with ':') returned as ':' (an option without its value) or as
 * '?' (an unknown option), to stderr: "bluetas CMD: option --x needs a
 * value" or "bluetas CMD: unknown option '--x' (see bluetas CMD --help)".
 * Reads the option from argv[optind - 1]. */
void cli_opt_error(const char *cmd, int c, char *const argv[]);

#endif
