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
 */
#ifndef BT_NETIF_H
#define BT_NETIF_H

#include <stdint.h>

#define NETIF_FRAME_MAX_BYTES 9216 /* room for MSS 8960 + headers */

struct netif_buf {
	uint8_t *data;
	uint16_t len;
	uint16_t cap;
	void *backend; /* the backend's own handle (mbuf, sim slot) */
};

struct netif_stats {
	uint64_t rx_frames, rx_bytes;
	uint64_t tx_frames, tx_bytes;
	uint64_t tx_dropped;   /* refused by the backend's queue */
	uint64_t alloc_failed;
};

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
