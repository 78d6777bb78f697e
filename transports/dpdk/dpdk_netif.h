/*
 * dpdk_netif.h: the netif (transports/netif.h) on a DPDK 22.11 ethdev port:
 * net_tap (a Linux peer on a tap device), net_pcap (replay a capture, record
 * the replies), net_af_packet (a Linux interface such as a veth), and the
 * same code on net_mlx5 with hardware devargs.
 *
 * This header is plain C: nothing here needs DPDK's headers, so the CLI
 * compiles without DPDK's flags and only dpdk_netif.c does.
 *
 * Life cycle, because the EAL is one per process:
 *   dpdk_eal_init (once) -> dpdk_netif_create (configure the port) ->
 *   dpdk_netif_start (link up; the NIC may poll before, rx is then empty)
 *   -> ... -> netif_destroy (stop and close the port) -> dpdk_eal_fini.
 *
 * Buffers: each netif_buf lives in its mbuf's private area, so wrapping
 * costs nothing and a buffer from rx_burst can be transmitted as is.
 * One RX and one TX queue; tx_burst returns how many the PMD took.
 *
 * Checksums: the stack fills IPv4 and TCP checksums itself (tcp_frame_build)
 * and verifies them on receive (fp_rx.c), so no checksum offload is ever
 * requested: a frame is correct on every PMD, whatever it offers. What the
 * backend does on receive is repair frames whose L4 checksum the kernel
 * left PARTIAL (CHECKSUM_PARTIAL on a veth, seen through af_packet, or
 * flagged RTE_MBUF_F_RX_L4_CKSUM_NONE by a PMD): those carry only the
 * pseudo-header sum, and the kernel vouches for the data, so we compute
 * the full sum before the stack sees the frame. Frames with a plainly bad
 * checksum are passed on untouched and the stack counts them.
 */
#ifndef BT_DPDK_NETIF_H
#define BT_DPDK_NETIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../netif.h"

enum dpdk_err {
	DPDK_OK = 0,
	DPDK_EEAL = -1,      /* rte_eal_init failed (message says why) */
	DPDK_ENOPORT = -2,   /* no such ethdev port */
	DPDK_ECONFIG = -3,   /* port configuration refused */
	DPDK_ENOMEM = -4,    /* mbuf pool or allocation failed */
	DPDK_ESTART = -5,    /* rte_eth_dev_start failed */
	DPDK_EARGS = -6,     /* bad argument */
};

/* EAL arguments bluetas adds when the caller's own arguments do not
 * choose for themselves: memory without hugepages, no shared config
 * files, and no PCI scan when only virtual devices are asked for. */
struct dpdk_eal_defaults {
	uint32_t mem_mb;     /* -m for --no-huge; 0 -> 256 */
};

/* Builds the argument vector for rte_eal_init into out[0..cap): argv0,
 * then the defaults the user's arguments leave open, then one --vdev per
 * vdevs[i], then user_argv unchanged. Returns the count, or -1 when cap
 * is too small. Pointers in out point into the inputs or static strings;
 * `scratch` (>= 32 bytes) holds the -m value. */
int dpdk_eal_build_args(const char *argv0, const struct dpdk_eal_defaults *d, const char *const *vdevs,
			int vdev_count, char *const *user_argv, int user_argc, char **out, int cap, char *scratch,
			size_t scratch_len);

/* rte_eal_init on the given vector (which it may permute). DPDK's own log
 * (and its usage text) goes to stderr. On failure returns DPDK_EARGS when
 * the EAL refused its arguments, DPDK_EEAL otherwise, with the EAL's error
 * and a hint (hugepages, root, CAP_NET_ADMIN) in err. */
int dpdk_eal_init(int argc, char **argv, char *err, size_t err_len);
/* rte_eal_cleanup: after every netif is destroyed. */
void dpdk_eal_fini(void);

/* Ports the EAL probed, and a port's id from its name ("net_tap0") or
 * its number ("0"); -1 if none. */
int dpdk_port_count(void);

/* Is the PMD (by driver name, "net_af_xdp") in DPDK's driver directory,
 * RTE_EAL_PMD_PATH, which the EAL loads at start? 1 yes, 0 no (dir says
 * which directory), -1 that directory does not exist (a static DPDK or
 * another layout: nothing can be said). */
int dpdk_pmd_installed(const char *pmd, char *dir, size_t dir_len);
int dpdk_port_lookup(const char *name_or_index);
/* The n-th probed port (0 .. dpdk_port_count()-1): its device name
 * ("net_null0", "0000:03:00.0") and its driver ("net_null", "mlx5_pci").
 * Returns 0, or -1 when there is no such port. For `bluetas preflight`'s
 * EAL probe, which needs no netif. */
int dpdk_port_describe(int n, char *name, size_t name_len, char *driver, size_t driver_len);

enum dpdk_partial_csum {
	DPDK_PARTIAL_CSUM_AUTO = 0, /* on for net_af_packet and net_af_xdp, off elsewhere */
	DPDK_PARTIAL_CSUM_ON = 1,
	DPDK_PARTIAL_CSUM_OFF = 2,
};

struct dpdk_netif_config {
	uint16_t port_id;
	uint32_t mbufs;           /* pool size; 0 -> 8191 */
	uint16_t rx_desc;         /* 0 -> 1024 (adjusted to what the PMD allows) */
	uint16_t tx_desc;         /* 0 -> 1024 */
	uint16_t mtu;             /* 0: leave the port's MTU as is */
	uint16_t frame_bytes;     /* largest frame the stack builds; sizes the mbufs; 0 -> 1518 */
	bool set_mac;             /* use `mac` as the stack's address */
	uint8_t mac[6];
	bool promisc;             /* receive every frame (also enabled when `mac`
				   * cannot be added as a filter) */
	enum dpdk_partial_csum partial_csum; /* complete PARTIAL L4 checksums (see above) */
	uint32_t tx_retry_spins;  /* extra tx attempts when the TX ring is full; 0 -> 64 */
	bool no_csum_offload;     /* never use the port's checksum offloads (see below) */
};
void dpdk_netif_default_config(struct dpdk_netif_config *cfg);

/* What the backend counts beyond struct netif_stats, with the PMD's own
 * counters (rte_eth_stats) next to them. */
struct dpdk_netif_stats {
	uint64_t rx_multiseg_dropped;   /* chained mbufs: scatter is never enabled */
	uint64_t rx_partial_csum_fixed; /* PARTIAL checksums completed in software */
	uint64_t tx_full_retries;       /* TX attempts repeated on a full ring */
	uint64_t tx_oversize_dropped;   /* frame longer than the mbuf: never sent */
	/* the PMD's view (rte_eth_stats_get) */
	uint64_t pmd_ipackets, pmd_opackets, pmd_ibytes, pmd_obytes;
	uint64_t pmd_imissed, pmd_ierrors, pmd_oerrors, pmd_rx_nombuf;
};
/* Every field of struct dpdk_netif_stats, in order (the daemon's --stats). */
#define DPDK_NETIF_STATS_FIELDS(X)                                                                         \
	X(rx_multiseg_dropped) X(rx_partial_csum_fixed) X(tx_full_retries) X(tx_oversize_dropped)          \
	X(pmd_ipackets) X(pmd_opackets) X(pmd_ibytes) X(pmd_obytes) X(pmd_imissed) X(pmd_ierrors)           \
	X(pmd_oerrors) X(pmd_rx_nombuf)

struct dpdk_port_info {
	char driver[32];          /* "net_tap", "net_pcap", "mlx5_pci", ... */
	char name[64];            /* the device name ("net_tap0") */
	uint8_t port_mac[6];      /* the port's own address */
	uint16_t mtu;
	uint32_t max_rx_pktlen;
	bool partial_csum_fix;    /* what partial_csum resolved to */
	bool rx_csum_offload;     /* IPv4 and TCP checksums verified by the port */
	bool tx_csum_offload;     /* TCP checksums filled by the port (netif caps) */
};

/* Configures the port (one RX, one TX queue) and its mbuf pool. The port
 * is not started. NULL with a message on failure.
 *
 * Checksum offloads, unless no_csum_offload: where the port advertises
 * RTE_ETH_RX_OFFLOAD_IPV4_CKSUM and _TCP_CKSUM they are enabled, and a
 * frame the PMD marks RTE_MBUF_F_RX_IP_CKSUM_GOOD / RTE_MBUF_F_RX_L4_CKSUM_GOOD
 * is handed up with NETIF_RX_IP_CSUM_GOOD / NETIF_RX_L4_CSUM_GOOD (the
 * stack then skips that sum); anything else (BAD, UNKNOWN, NONE) is left
 * to the stack's software check. Where the port advertises
 * RTE_ETH_TX_OFFLOAD_TCP_CKSUM, the netif advertises NETIF_CAP_TX_L4_CSUM
 * and a frame sent with NETIF_TX_L4_CSUM goes out with
 * RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM (mlx5 does it in hardware;
 * net_tap in its PMD). */
struct netif *dpdk_netif_create(const struct dpdk_netif_config *cfg, char *err, size_t err_len);
int dpdk_netif_start(struct netif *nif, char *err, size_t err_len);
void dpdk_netif_get_info(struct netif *nif, struct dpdk_port_info *out);
void dpdk_netif_get_ext_stats(struct netif *nif, struct dpdk_netif_stats *out);
/* Link state as the PMD reports it (no wait). */
bool dpdk_netif_link_up(struct netif *nif);

#endif
