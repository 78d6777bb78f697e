/*
 * netif.h: packet I/O under the NIC's fast path. Burst receive and transmit
 * of whole Ethernet frames (no FCS), the backend owning the buffers: the
 * simulated link, DPDK (net_tap, net_pcap, mlx5) later. Modelled on DPDK's
 * rx_burst/tx_burst so an l2fwd reader recognizes it.
 *
 * Buffer ownership:
 *   - netif_alloc returns an empty buffer the caller now owns (NULL when
 *     the pool is exhausted: drop, never wait).
 *   - netif_rx_burst hands the caller up to `max` received buffers; the
 *     caller owns them and must netif_free each one.
 *   - netif_tx_burst takes ownership of bufs[0..ret) and transmits them;
 *     the caller still owns bufs[ret..n) and must retry or free them.
 * `data` points at the frame's first byte; `len` is its length; `cap` the
 * room from `data` on. A caller may write up to `cap` bytes.
 *
 * Checksum offload (`flags`, `caps`):
 *   - RX: the backend sets `flags` on every buffer it hands out, to the
 *     NETIF_RX_* bits of what the hardware verified (0 when it checked
 *     nothing: the simulated link, net_pcap, anything that may have
 *     changed the bytes since). The stack skips only what a bit vouches
 *     for. A wrapper that changes a frame's bytes (fault injection)
 *     clears the bits of that frame, so corruption is always caught by
 *     the software checksum.
 *   - TX: a caller may set NETIF_TX_L4_CSUM only when `caps` has
 *     NETIF_CAP_TX_L4_CSUM; the frame's TCP checksum field then holds
 *     the folded IPv4 pseudo-header sum (as DPDK wants) and the hardware
 *     completes it. Otherwise the frame goes out exactly as written. A
 *     backend must not pass the flag of a reused buffer on: `flags` is
 *     the caller's to set on every transmit.
 *   - `caps` is fixed when the netif is created. A wrapper that reads or
 *     changes frames on the way out (pcap mirror, fault injection)
 *     advertises 0, so what it sees is what goes on the wire.
 */
#ifndef BT_NETIF_H
#define BT_NETIF_H

#include <stdint.h>

#define NETIF_FRAME_MAX_BYTES 9216 /* room for MSS 8960 + headers */

enum netif_buf_flags {
	NETIF_RX_IP_CSUM_GOOD = 1u << 0, /* hardware verified the IPv4 header checksum */
	NETIF_RX_L4_CSUM_GOOD = 1u << 1, /* hardware verified the TCP checksum */
	NETIF_TX_L4_CSUM = 1u << 8,      /* hardware fills the TCP checksum */
};

enum netif_caps {
	NETIF_CAP_TX_L4_CSUM = 1u << 0,  /* NETIF_TX_L4_CSUM is honoured */
};

struct netif_buf {
	uint8_t *data;
	uint16_t len;
	uint16_t cap;
	uint16_t flags; /* enum netif_buf_flags: RX set by the backend, TX by the caller */
	void *backend; /* the backend's own handle (mbuf, sim slot) */
};

struct netif_stats {
	uint64_t rx_frames, rx_bytes;
	uint64_t tx_frames, tx_bytes;
	uint64_t tx_dropped;   /* refused by the backend's queue */
	uint64_t alloc_failed;
};
/* Every field of struct netif_stats, in order (the daemon's --stats). */
#define NETIF_STATS_FIELDS(X) X(rx_frames) X(rx_bytes) X(tx_frames) X(tx_bytes) X(tx_dropped) X(alloc_failed)

struct netif;
struct netif_ops {
	int (*rx_burst)(struct netif *nif, struct netif_buf **bufs, int max);
	int (*tx_burst)(struct netif *nif, struct netif_buf **bufs, int n);
	struct netif_buf *(*alloc)(struct netif *nif);
	void (*free)(struct netif *nif, struct netif_buf *buf);
	void (*get_mac)(struct netif *nif, uint8_t mac_out[6]);
	void (*get_stats)(struct netif *nif, struct netif_stats *out);
	/* Earliest time a frame will become receivable without any further
	 * transmit (BT_TIME_NEVER if none). For the simulator. */
	uint64_t (*next_rx_ns)(struct netif *nif);
	void (*destroy)(struct netif *nif);
};

struct netif {
	const struct netif_ops *ops;
	uint32_t caps; /* enum netif_caps; 0 unless the backend sets it at creation */
};

static inline int netif_rx_burst(struct netif *n, struct netif_buf **b, int max)
{
	return n->ops->rx_burst(n, b, max);
}
static inline int netif_tx_burst(struct netif *n, struct netif_buf **b, int cnt)
{
	return n->ops->tx_burst(n, b, cnt);
}
static inline struct netif_buf *netif_alloc(struct netif *n) { return n->ops->alloc(n); }
static inline void netif_free(struct netif *n, struct netif_buf *b) { n->ops->free(n, b); }
static inline void netif_get_mac(struct netif *n, uint8_t mac[6]) { n->ops->get_mac(n, mac); }
static inline void netif_get_stats(struct netif *n, struct netif_stats *s) { n->ops->get_stats(n, s); }
static inline uint64_t netif_next_rx_ns(struct netif *n) { return n->ops->next_rx_ns(n); }
static inline void netif_destroy(struct netif *n) { n->ops->destroy(n); }

#endif
