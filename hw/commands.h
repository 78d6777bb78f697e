/*
 * commands.h: the `bluetas` subcommands that live under hw/ (the
 * real-time programs), dispatched from sim/cli/main.c like the others.
 */
#ifndef BT_HW_COMMANDS_H
#define BT_HW_COMMANDS_H

#include <stdio.h>

/* `bluetas nic`: the NIC daemon on a DPDK port (hw/nicd). */
int cli_nic(int argc, char **argv);
void cli_nic_usage(FILE *out);
/* `bluetas app`: a host-library application over the verbs channel (hw/hostapp). */
int cli_app(int argc, char **argv);
void cli_app_usage(FILE *out);
/* `bluetas preflight`: is this machine ready for the hardware mode (hw/preflight). */
int cli_preflight(int argc, char **argv);
void cli_preflight_usage(FILE *out);
/* `bluetas promote`: this tree to the BlueField of a hosts file, checked (hw/promote). */
int cli_promote(int argc, char **argv);
void cli_promote_usage(FILE *out);

#endif
