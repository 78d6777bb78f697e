/*
 * nicd.h: the NIC daemon (`bluetas nic`), split by job:
 *   nicd.c        the entry point and the run loop (when the work is done)
 *   nicd_opts.c   --help, option parsing and validation, defaults
 *   nicd_setup.c  the port, the NIC, the in-process application; teardown
 *   nicd_vdev_hint.c  what a --vdev that could not be created is missing
 *   nicd_ext.c    applications in other processes over the verbs channel
 *   nicd_stats.c  every counter at exit (--stats)
 *   nicd_hosts.c  --hosts FILE: the [dpu] section merged under the command line
 *   nicd_eal.c    the EAL arguments: which port (never every PCI device),
 *                 hugepages of the size found at run time; --print-config
 * The in-process application runs through the shared runner
 * (hw/rt/app_runner.h), the same one `bluetas app` uses.
 */
#ifndef BT_HW_NICD_H
#define BT_HW_NICD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../../core/bluetas.h"
#include "../../core/nic/nic.h"
#include "../../transports/dpdk/dpdk_netif.h"
#include "../../transports/chan_stats.h"
#include "../../transports/netif_fault.h"
#include "../../transports/shm/shm_chan.h"
#include "../../transports/ipc/ipc_chan.h"
#include "../../transports/verbs/verbs_chan.h"
#include "../hosts/discover.h"
#include "../hosts/hosts.h"
#include "../rt/app_runner.h"
#include "../rt/rt_hops.h"
#include "../rt/rt_opts.h"

#define NIC_MAX_VDEVS 8
#define NIC_EAL_ARGS_MAX 256
#define NIC_EXTRA_EAL_MAX 16 /* arguments bluetas adds: -a from the hosts file, --no-pci, hugepages */
#define NIC_FROM_MAX 384     /* "where a setting came from" for --print-config */
#define NIC_SETUP_ROUNDS 2000            /* polls for HELLO/LISTEN before the port starts */
#define NIC_DRAIN_NS (5ull * 1000000000) /* after the work: let FINs and ACKs finish */
#define NS_PER_S 1000000000ull
#define NIC_ACCEPT_CHECK_NS 1000000ull /* look at the verbs listener every 1 ms */
#define NIC_ACCEPTS_PER_CHECK 4
#define NIC_IDLE_POLLS 64 /* default --yield-polls: empty polls in a row before the loop yields its CPU */

/* The in-process application; the names are those of --app and of the
 * "ready" line. */
enum app_kind { APP_ECHO = 0, APP_SINK = 1, APP_SOURCE = 2, APP_NONE = 3 };

struct nic_opts {
	/* port */
	const char *vdevs[NIC_MAX_VDEVS];
	int vdev_count;
	const char *port;
	uint32_t mbufs;
	uint16_t rx_desc, tx_desc, mtu;
	bool promisc;
	enum dpdk_partial_csum partial_csum;
	uint32_t eal_mem_mb;
	/* addresses */
	uint32_t ip, netmask, gateway;
	bool has_ip, has_netmask, has_mac;
	uint8_t mac[6];
	struct nic_static_arp arp[NIC_MAX_STATIC_ARP];
	uint32_t arp_count;
	/* stack */
	uint16_t mss;
	uint32_t max_flows, max_conns, ring_bytes;
	enum nic_cc_algo cc;
	bool no_ecn;
	bool has_delayed_ack, has_rto_min, has_isn_seed;
	uint64_t delayed_ack_ns, rto_min_ns;
	uint32_t isn_seed;
	uint32_t inject_bugs; /* --inject-bug: enum nic_bug, negative controls only */
	/* application */
	enum app_kind app;
	bool has_app;
	/* external applications over the verbs channel */
	const char *channel;
	struct verbs_spec chan_spec;
	const char *ipc_channel; /* --channel ipc:PATH */
	struct ipc_spec ipc_spec;
	uint64_t exit_after_apps;
	uint16_t listen_port;
	uint32_t backlog;
	uint32_t remote_ip;
	uint16_t remote_port;
	uint64_t bytes, seed, connect_retry_ns;
	const char *file;
	uint64_t exit_after_conns;
	/* run */
	uint64_t duration_ns;
	uint32_t yield_polls; /* --yield-polls: sched_yield after this many empty polls; 0 never */
	uint64_t idle_sleep_ns; /* --idle-sleep-us: once idle this long, sleep this long per poll; 0 never */
	const char *pcap;
	bool fault_on;
	struct netif_fault_params fault;
	/* EAL arguments after `--` */
	char **eal_argv;
	int eal_argc;
	/* --hosts, --sysroot, --print-config (the settings and EAL arguments,
	 * run nothing), --hops (the NIC's half of the hop trace), --stats */
	struct rt_opts rt;
	/* hardware configuration (nicd_hosts.c, nicd_eal.c) */
	struct bt_hosts hosts;  /* the loaded file (when rt.hosts_path) */
	char *extra_eal[NIC_EXTRA_EAL_MAX]; /* added before the user's EAL arguments */
	int extra_eal_count;
	char hosts_channel[2 * BT_HOSTS_STR]; /* the verbs channel built from the hosts file */
	char eal_mem_arg[24], huge_dir[256];
	/* where each hardware setting came from: command line, FILE:LINE, auto */
	char from_port[NIC_FROM_MAX], from_ip[NIC_FROM_MAX], from_arp[NIC_FROM_MAX], from_channel[NIC_FROM_MAX];
	char from_mem[NIC_FROM_MAX], from_peer[NIC_FROM_MAX];
};

/* One application in another process, attached over the verbs channel. */
struct ext_app {
	struct chan *ch; /* NULL: this entry is free */
	int idx;         /* its index on the NIC */
	uint64_t seq;    /* "app N" in the log: 1, 2, ... in order of attachment */
	char peer[VERBS_NAME_MAX];
};

/* Everything one run of the daemon holds; nicd_teardown frees it. */
struct daemon {
	struct nic_opts *o;
	struct bt_clock mono, wall;
	struct netif *dpdk, *fault, *mirror, *wire; /* wire: the outermost, what the NIC sees */
	struct shm_link *chan;
	struct nic *nic;
	struct bt_host *host;
	int app_idx; /* the application's index on the NIC, -1 if none */
	struct rt_app *app; /* the in-process application, NULL if none */
	FILE *file;         /* --file of a source */
	/* external applications (--channel) */
	struct verbs_listener *listener;
	struct ipc_listener *ipc_listener;
	struct ext_app ext[NIC_MAX_APPS];
	uint64_t next_accept_check_ns;
	uint64_t apps_attached, apps_detached, apps_refused, apps_flows_reset;
	uint32_t apps_active;
	/* the run loop: passes, sched_yield calls, --idle-sleep-us sleeps,
	 * and its time so far (the mean pass is loop_ns / loop_passes: how
	 * late a poll can see a doorbell or a frame) */
	uint64_t loop_passes, loop_yields, loop_sleeps, loop_ns;
	struct chan_stats ext_chan_detached; /* channel counters of the applications detached so far */
	struct rt_hops hops; /* --hops */
};

/* nicd_opts.c */
void cli_nic_usage(FILE *out);
/* Returns 0 to run, 1 when --help was printed, 2 on a usage error. */
int nicd_parse_opts(int argc, char **argv, struct nic_opts *o);
void nicd_default_opts(struct nic_opts *o);

/* nicd_hosts.c: merges the hosts file's [dpu] section into o where the
 * command line left a setting open, and checks it against the result.
 * Returns 0, or 2 after a message naming FILE:LINE. */
int nicd_apply_hosts(struct nic_opts *o);

/* nicd_eal.c: the EAL argument vector (out[0..NIC_EAL_ARGS_MAX]): refuses
 * (2, with a message) when no port is named, since DPDK would then probe
 * every PCI device; keeps a port on the auxiliary bus from scanning PCI;
 * uses hugepages of the size found at run time for a hardware port.
 * Returns the count, or -2 after a message. */
int nicd_eal_args(struct nic_opts *o, char **out, char *mem_scratch, size_t scratch_len);
/* --print-config: every setting with where it came from, and the EAL
 * arguments, on stdout. */
void nicd_print_config(const struct nic_opts *o, char *const *eal_argv, int eal_argc);

/* nicd_vdev_hint.c: what a --vdev's PMD is missing (no such interface,
 * no /dev/net/tun, the PMD not installed), written to out; 0 (nothing
 * written) when nothing is found missing. */
int nicd_vdev_hint(const char *devargs, char *out, size_t cap);

/* nicd_setup.c: builds everything after the EAL; returns 0, or 1
 * (failure) or 2 (an option that does not fit the port) with a message.
 * nicd_teardown undoes whatever part of it was done. */
int nicd_setup(struct daemon *d, char *err, size_t err_len);
void nicd_teardown(struct daemon *d);
uint64_t nicd_realtime_now_ns(void *ctx);

/* nicd_ext.c: detaches applications whose channel broke and accepts new
 * ones (at most every NIC_ACCEPT_CHECK_NS); returns how much it did. */
int nicd_ext_service(struct daemon *d, uint64_t now);
void nicd_ext_detach(struct daemon *d, struct ext_app *e, const char *why);

/* nicd_stats.c: every counter, "stat.NAME=VALUE" on stdout. */
void nicd_print_stats(struct daemon *d);

#endif
