/*
 * bluetas: the command-line front end. Subcommands dispatch to one
 * function each; every flag is validated with a message naming it, and
 * usage errors exit 2 (failures of a run exit 1).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../testbed.h"
#include "../../hw/commands.h"
#include "../../hw/rt/rt_hops.h"
#include "cli.h"


static void usage_main(FILE *out)
{
	fprintf(out,
		"usage: bluetas COMMAND [OPTIONS]\n"
		"\n"
		"BlueTAS testbed: a TAS-derived TCP stack split between host and SmartNIC.\n"
		"\n"
		"commands:\n"
		"  sim       run the built-in echo workload between two whole stacks in the\n"
		"            deterministic simulator and print a result table\n"
		"  run       run scenario scripts (docs/scenarios.md) over seeds, in parallel,\n"
		"            or one shard of a campaign (docs/campaigns.md)\n"
		"  report    merge the results of a campaign's shards into one summary\n"
		"  shrink    reduce a failing scenario run to a small reproducer\n"
		"  nic       run the NIC daemon on a DPDK port (net_tap, net_pcap, mlx5) with\n"
		"            an echo, sink or source application in the same process\n"
		"  app       run an application on the host library against a NIC daemon\n"
		"            over the RDMA verbs channel (Soft-RoCE or a real RDMA NIC)\n"
		"  plot      draw a scenario run's connections over time (gnuplot: PNG or SVG)\n"
		"  hops      join the hop traces of `app --hops` and `nic --hops`: where an RPC's\n"
		"            time goes, hop by hop\n"
		"  preflight check that this machine is ready for the hardware mode\n"
		"            (BlueField/mlx5: drivers, mode, GID, OVS, MTU, hugepages, ...)\n"
		"  promote   build this tree on the BlueField of a hosts file, run the checks\n"
		"            there and here, and report them next to the emu run\n"
		"  help      show this help, or `bluetas help COMMAND`\n"
		"\n"
		"Run `bluetas COMMAND --help` for a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage_main(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		if (argc > 2 && !strcmp(cmd, "help") && !strcmp(argv[2], "sim")) {
			cli_sim_usage(stdout);
			return 0;
		}
		if (argc > 2 && !strcmp(cmd, "help") && !strcmp(argv[2], "run")) {
			cli_run_usage(stdout);
			return 0;
		}
		if (argc > 2 && !strcmp(cmd, "help") && !strcmp(argv[2], "shrink")) {
			cli_shrink_usage(stdout);
			return 0;
		}
		if (argc > 2 && !strcmp(cmd, "help") && !strcmp(argv[2], "report")) {
			cli_report_usage(stdout);
			return 0;
		}
		if (argc > 2 && !strcmp(cmd, "help") && !strcmp(argv[2], "nic")) {
			cli_nic_usage(stdout);
			return 0;
		}
		if (argc > 2 && !strcmp(cmd, "help") && !strcmp(argv[2], "plot")) {
			cli_plot_usage(stdout);
			return 0;
		}
		if (argc > 2 && !strcmp(cmd, "help") && !strcmp(argv[2], "app")) {
			cli_app_usage(stdout);
			return 0;
		}
		if (argc > 2 && !strcmp(cmd, "help") && !strcmp(argv[2], "preflight")) {
			cli_preflight_usage(stdout);
			return 0;
		}
		if (argc > 2 && !strcmp(cmd, "help") && !strcmp(argv[2], "promote")) {
			cli_promote_usage(stdout);
			return 0;
		}
		usage_main(stdout);
		return 0;
	}
	if (!strcmp(cmd, "sim"))
		return cli_sim(argc - 1, argv + 1);
	if (!strcmp(cmd, "run"))
		return cli_run(argc - 1, argv + 1, argv[0]);
	if (!strcmp(cmd, "shrink"))
		return cli_shrink(argc - 1, argv + 1);
	if (!strcmp(cmd, "report"))
		return cli_report(argc - 1, argv + 1);
	if (!strcmp(cmd, "nic"))
		return cli_nic(argc - 1, argv + 1);
	if (!strcmp(cmd, "app"))
		return cli_app(argc - 1, argv + 1);
	if (!strcmp(cmd, "plot"))
		return cli_plot(argc - 1, argv + 1);
	if (!strcmp(cmd, "preflight"))
		return cli_preflight(argc - 1, argv + 1);
	if (!strcmp(cmd, "hops"))
		return cli_hops(argc - 1, argv + 1);
	if (!strcmp(cmd, "promote"))
		return cli_promote(argc - 1, argv + 1);
	fprintf(stderr, "bluetas: unknown command '%s'\n", cmd);
	usage_main(stderr);
	return 2;
}
