/*
 * dpdk_netif.c: the netif on a DPDK ethdev port. One RX and one TX queue
 * polled from the caller's thread; each struct netif_buf lives in the
 * private area of its mbuf. See dpdk_netif.h for the life cycle and what
 * is done about checksums.
 */
#include "dpdk_netif.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>

#include "../clock.h"

#define DPDK_RX_BURST_MAX 64
#define DPDK_DEFAULT_MBUFS 8191      /* a power of two minus one suits rte_mempool */
#define DPDK_DEFAULT_DESC 1024
#define DPDK_DEFAULT_FRAME_BYTES 1518
#define DPDK_DEFAULT_TX_SPINS 64
#define DPDK_MEMPOOL_CACHE 256

struct dpdk_netif {
	struct netif nif; /* first member: the netif pointer is the backend */
	struct dpdk_netif_config cfg;
	struct rte_mempool *pool;
	bool started;
	uint8_t mac[6];
	struct dpdk_port_info info;
	struct netif_stats stats;
	struct dpdk_netif_stats ext;
};

static struct dpdk_netif *as_dpdk(struct netif *nif)
{
	return (struct dpdk_netif *)nif;
}

/* ---- EAL ---- */

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool user_chose(char *const *argv, int argc, const char *const *options)
{
	for (int i = 0; i < argc; i++)
		for (const char *const *o = options; *o; o++)
			if (has_prefix(argv[i], *o))
				return true;
	return false;
}

int dpdk_eal_build_args(const char *argv0, const struct dpdk_eal_defaults *d, const char *const *vdevs,
			int vdev_count, char *const *user_argv, int user_argc, char **out, int cap, char *scratch,
			size_t scratch_len)
{
	/* Any of these means the user decides about memory: --no-huge would
	 * contradict --in-memory, and -m theirs. ("-m" catches "-m512".) */
	static const char *const memory_opts[] = {"--no-huge", "--in-memory", "-m", "--socket-mem", "--huge-dir",
						  "--legacy-mem", "--socket-limit", "--single-file-segments",
						  "--huge-unlink", NULL};
	/* Shared config is wanted by anyone naming a prefix or a process type. */
	static const char *const shconf_opts[] = {"--no-shconf", "--in-memory", "--file-prefix", "--proc-type", NULL};
	static const char *const pci_opts[] = {"-a", "--allow", "-b", "--block", "--no-pci", NULL};
	static const char *const telemetry_opts[] = {"--telemetry", "--no-telemetry", NULL};
	static const char *const vdev_opts[] = {"--vdev", NULL};

	int n = 0;
#define PUSH(s)                                  \
	do {                                     \
		if (n >= cap)                    \
			return -1;               \
		out[n++] = (char *)(s);          \
	} while (0)
	PUSH(argv0);
	if (!user_chose(user_argv, user_argc, memory_opts)) {
		snprintf(scratch, scratch_len, "%u", d && d->mem_mb ? d->mem_mb : 256u);
		PUSH("--no-huge");
		PUSH("-m");
		PUSH(scratch);
	}
	if (!user_chose(user_argv, user_argc, shconf_opts))
		PUSH("--no-shconf");
	if (!user_chose(user_argv, user_argc, telemetry_opts))
		PUSH("--no-telemetry"); /* its socket is shared state, which --no-shconf avoids */
	/* Only virtual devices asked for: scanning PCI finds nothing we want
	 * and, as root, may grab a device someone else uses. */
	bool any_vdev = vdev_count > 0 || user_chose(user_argv, user_argc, vdev_opts);
	if (any_vdev && !user_chose(user_argv, user_argc, pci_opts))
		PUSH("--no-pci");
	for (int i = 0; i < vdev_count; i++) {
		PUSH("--vdev");
		PUSH(vdevs[i]);
	}
	for (int i = 0; i < user_argc; i++)
		PUSH(user_argv[i]);
#undef PUSH
	if (n >= cap)
		return -1;
	out[n] = NULL;
	return n;
}

int dpdk_eal_init(int argc, char **argv, char *err, size_t err_len)
{
	/* Our stdout carries results a script parses; DPDK's chatter goes
	 * where diagnostics go. Set before init so the EAL keeps it. */
	rte_openlog_stream(stderr);
	/* On bad arguments the EAL prints its usage to stdout; keep stdout
	 * for our results by pointing it at stderr for the call. */
	/* The --vdev values, for a hint: the EAL overwrites argv's slots. */
	const char *vdevs[16];
	int nvdev = 0;
	for (int i = 0; i + 1 < argc && nvdev < 16; i++)
		if (!strcmp(argv[i], "--vdev"))
			vdevs[nvdev++] = argv[i + 1];
	fflush(stdout);
	int saved_stdout = dup(STDOUT_FILENO);
	if (saved_stdout >= 0)
		dup2(STDERR_FILENO, STDOUT_FILENO);
	int rc = rte_eal_init(argc, argv);
	int e = rte_errno;
	fflush(stdout);
	if (saved_stdout >= 0) {
		dup2(saved_stdout, STDOUT_FILENO);
		close(saved_stdout);
	}
	if (rc < 0) {
		const char *hint = "";
		char dir[256], vdev_hint[512];
		switch (e) {
		case EACCES:
		case EPERM:
			hint = "; hint: net_tap and net_af_packet need root or CAP_NET_ADMIN, PCI devices need root";
			break;
		case ENOMEM:
			hint = "; hint: without reserved hugepages use --no-huge (bluetas adds it unless you pass memory "
			       "options yourself) and a larger -m, or reserve some: echo 256 > "
			       "/proc/sys/vm/nr_hugepages";
			break;
		case ENODEV:
			/* A --vdev naming a PMD the EAL did not load. */
			for (int i = 0; i < nvdev; i++) {
				char pmd[32];
				size_t n = strcspn(vdevs[i], "0123456789,");
				snprintf(pmd, sizeof(pmd), "%.*s", (int)(n < sizeof(pmd) ? n : sizeof(pmd) - 1), vdevs[i]);
				if (dpdk_pmd_installed(pmd, dir, sizeof(dir)) == 0) {
					snprintf(vdev_hint, sizeof(vdev_hint),
						 "; hint: --vdev %s: no PMD librte_%s.so in %s (a misspelt driver name, or "
						 "DPDK's drivers not installed: apt-get install dpdk)",
						 vdevs[i], pmd, dir);
					hint = vdev_hint;
					break;
				}
			}
			break;
		case EALREADY:
			hint = "; the EAL was initialised already in this process";
			break;
		case EINVAL:
			hint = "; the EAL rejected its arguments (its usage is printed above)";
			break;
		default:
			hint = "; hint: check the EAL arguments above (--vdev devargs, -a PCI address); run as root or "
			       "with CAP_NET_ADMIN for net_tap; --no-huge when no hugepages are reserved";
			break;
		}
		snprintf(err, err_len, "EAL init failed: %s (rte_errno %d)%s", rte_strerror(e), e, hint);
		return e == EINVAL ? DPDK_EARGS : DPDK_EEAL;
	}
	return DPDK_OK;
}

void dpdk_eal_fini(void)
{
	rte_eal_cleanup();
}

int dpdk_pmd_installed(const char *pmd, char *dir, size_t dir_len)
{
#ifdef RTE_EAL_PMD_PATH
	snprintf(dir, dir_len, "%s", RTE_EAL_PMD_PATH);
	DIR *d = opendir(RTE_EAL_PMD_PATH);
	if (!d)
		return -1;
	char want[80];
	snprintf(want, sizeof(want), "librte_%s.so", pmd);
	int found = 0;
	struct dirent *e;
	while (!found && (e = readdir(d)))
		found = !strncmp(e->d_name, want, strlen(want));
	closedir(d);
	return found;
#else
	snprintf(dir, dir_len, "?");
	(void)pmd;
	return -1;
#endif
}

int dpdk_port_count(void)
{
	return (int)rte_eth_dev_count_avail();
}

int dpdk_port_lookup(const char *name_or_index)
{
	if (!name_or_index || !*name_or_index) {
		uint16_t p;
		RTE_ETH_FOREACH_DEV(p)
		{
			return p;
		}
		return -1;
	}
	char *end;
	unsigned long v = strtoul(name_or_index, &end, 10);
	if (*end == 0 && end != name_or_index)
		return v < RTE_MAX_ETHPORTS && rte_eth_dev_is_valid_port((uint16_t)v) ? (int)v : -1;
	uint16_t id;
	if (rte_eth_dev_get_port_by_name(name_or_index, &id) == 0)
		return id;
	return -1;
}

/* ---- the netif ---- */

static void buf_wrap(struct rte_mbuf *m, struct netif_buf *b)
{
	uint32_t room = (uint32_t)m->buf_len - m->data_off;
	b->data = rte_pktmbuf_mtod(m, uint8_t *);
	b->len = m->data_len;
	b->cap = (uint16_t)(room > UINT16_MAX ? UINT16_MAX : room);
	b->backend = m;
}

static struct netif_buf *buf_of(struct rte_mbuf *m)
{
	return rte_mbuf_to_priv(m);
}

/*
 * A PARTIAL checksum is what Linux leaves for offload: the field holds the
 * folded pseudo-header sum, not the full sum. With fix_partial_csum such a
 * frame is recognised by that value and completed; a frame whose PMD says
 * RTE_MBUF_F_RX_L4_CKSUM_NONE (data verified, field not filled) is
 * completed without guessing. Recomputing a correct checksum yields the
 * same value, so a full checksum that happens to equal the pseudo sum is
 * left as it was. Anything malformed is left alone for the stack to count.
 */
static bool fix_partial_csum(struct rte_mbuf *m, bool known_partial)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = m->data_len;
	if (len < sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_tcp_hdr))
		return false;
	const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)p;
	if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return false;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + sizeof(*eth));
	uint32_t ihl = rte_ipv4_hdr_len(ip);
	uint32_t total = rte_be_to_cpu_16(ip->total_length);
	if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(*ip) || ip->next_proto_id != IPPROTO_TCP ||
	    total < ihl + sizeof(struct rte_tcp_hdr) || sizeof(*eth) + total > len ||
	    (rte_be_to_cpu_16(ip->fragment_offset) & (RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG)))
		return false;
	struct rte_tcp_hdr *tcp = (struct rte_tcp_hdr *)((uint8_t *)ip + ihl);
	if (!known_partial && tcp->cksum != rte_ipv4_phdr_cksum(ip, 0))
		return false;
	tcp->cksum = 0;
	tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
	return true;
}

static int dpdk_rx_burst(struct netif *nif, struct netif_buf **bufs, int max)
{
	struct dpdk_netif *d = as_dpdk(nif);
	if (!d->started || max <= 0)
		return 0;
	struct rte_mbuf *m[DPDK_RX_BURST_MAX];
	uint16_t want = (uint16_t)(max < DPDK_RX_BURST_MAX ? max : DPDK_RX_BURST_MAX);
	uint16_t got = rte_eth_rx_burst(d->cfg.port_id, 0, m, want);
	int out = 0;
	for (uint16_t i = 0; i < got; i++) {
		if (m[i]->nb_segs != 1) {
			/* Scatter is never enabled, so a chain means a PMD
			 * split a frame larger than our mbufs: the stack
			 * wants contiguous frames, and the MTU promised none
			 * this large. */
			d->ext.rx_multiseg_dropped++;
			rte_pktmbuf_free(m[i]);
			continue;
		}
		bool flagged = (m[i]->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_NONE;
		if ((flagged || d->info.partial_csum_fix) && fix_partial_csum(m[i], flagged))
			d->ext.rx_partial_csum_fixed++;
		struct netif_buf *b = buf_of(m[i]);
		buf_wrap(m[i], b);
		b->flags = 0;
		if (d->info.rx_csum_offload) {
			uint64_t ol = m[i]->ol_flags;
			if ((ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
				b->flags |= NETIF_RX_IP_CSUM_GOOD;
			if ((ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
				b->flags |= NETIF_RX_L4_CSUM_GOOD;
		}
		d->stats.rx_frames++;
		d->stats.rx_bytes += b->len;
		bufs[out++] = b;
	}
	return out;
}

static int dpdk_tx_burst(struct netif *nif, struct netif_buf **bufs, int n)
{
	struct dpdk_netif *d = as_dpdk(nif);
	if (n <= 0)
		return 0;
	if (!d->started) {
		d->stats.tx_dropped += (uint64_t)n;
		return 0;
	}
	struct rte_mbuf *m[DPDK_RX_BURST_MAX];
	int sent_total = 0;
	while (sent_total < n) {
		int chunk = n - sent_total < DPDK_RX_BURST_MAX ? n - sent_total : DPDK_RX_BURST_MAX;
		int ready = 0;
		for (int i = 0; i < chunk; i++) {
			struct netif_buf *b = bufs[sent_total + i];
			struct rte_mbuf *mb = b->backend;
			/* The caller may have moved `data` within the buffer;
			 * the mbuf must describe exactly the frame. */
			uint8_t *base = (uint8_t *)mb->buf_addr;
			if (b->data < base || b->data + b->len > base + mb->buf_len) {
				d->ext.tx_oversize_dropped++;
				break; /* refused from here: the caller keeps and frees the rest */
			}
			mb->data_off = (uint16_t)(b->data - base);
			mb->data_len = b->len;
			mb->pkt_len = b->len;
			mb->nb_segs = 1;
			mb->next = NULL;
			mb->ol_flags = 0; /* checksums are already in the frame... */
			if ((b->flags & NETIF_TX_L4_CSUM) && d->info.tx_csum_offload && b->len >= 14 + 20 + 20) {
				/* ...unless the stack left the TCP sum to the port:
				 * the field holds the pseudo-header sum. */
				mb->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
				mb->l2_len = sizeof(struct rte_ether_hdr);
				mb->l3_len = (uint16_t)((b->data[14] & 0x0f) * 4);
			}
			m[i] = mb;
			ready++;
		}
		uint16_t sent = 0;
		for (uint32_t spin = 0; sent < ready; spin++) {
			sent += rte_eth_tx_burst(d->cfg.port_id, 0, m + sent, (uint16_t)(ready - sent));
			if (sent == ready || spin >= d->cfg.tx_retry_spins)
				break;
			/* Full ring: the PMD frees descriptors as it goes, so a
			 * short bounded retry saves the frame a retransmission. */
			d->ext.tx_full_retries++;
		}
		for (uint16_t i = 0; i < sent; i++)
			d->stats.tx_bytes += m[i]->pkt_len;
		d->stats.tx_frames += sent;
		sent_total += sent;
		if (sent < chunk)
			break;
	}
	d->stats.tx_dropped += (uint64_t)(n - sent_total);
	return sent_total;
}

static struct netif_buf *dpdk_alloc(struct netif *nif)
{
	struct dpdk_netif *d = as_dpdk(nif);
	struct rte_mbuf *m = rte_pktmbuf_alloc(d->pool);
	if (!m) {
		d->stats.alloc_failed++;
		return NULL;
	}
	struct netif_buf *b = buf_of(m);
	buf_wrap(m, b);
	b->len = 0;
	return b;
}

static void dpdk_free(struct netif *nif, struct netif_buf *buf)
{
	(void)nif;
	if (buf)
		rte_pktmbuf_free(buf->backend);
}

static void dpdk_get_mac(struct netif *nif, uint8_t mac_out[6])
{
	memcpy(mac_out, as_dpdk(nif)->mac, 6);
}

static void dpdk_get_stats(struct netif *nif, struct netif_stats *out)
{
	*out = as_dpdk(nif)->stats;
}

static uint64_t dpdk_next_rx_ns(struct netif *nif)
{
	(void)nif;
	/* Frames arrive from outside whenever they do: only polling tells. */
	return BT_TIME_NEVER;
}

static void dpdk_destroy(struct netif *nif)
{
	struct dpdk_netif *d = as_dpdk(nif);
	if (!d)
		return;
	if (d->started)
		rte_eth_dev_stop(d->cfg.port_id);
	/* Closing releases the mbufs the queues hold, so the pool goes last. */
	rte_eth_dev_close(d->cfg.port_id);
	rte_mempool_free(d->pool);
	free(d);
}

static const struct netif_ops dpdk_ops = {
	.rx_burst = dpdk_rx_burst,
	.tx_burst = dpdk_tx_burst,
	.alloc = dpdk_alloc,
	.free = dpdk_free,
	.get_mac = dpdk_get_mac,
	.get_stats = dpdk_get_stats,
	.next_rx_ns = dpdk_next_rx_ns,
	.destroy = dpdk_destroy,
};

void dpdk_netif_default_config(struct dpdk_netif_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mbufs = DPDK_DEFAULT_MBUFS;
	cfg->rx_desc = DPDK_DEFAULT_DESC;
	cfg->tx_desc = DPDK_DEFAULT_DESC;
	cfg->frame_bytes = DPDK_DEFAULT_FRAME_BYTES;
	cfg->tx_retry_spins = DPDK_DEFAULT_TX_SPINS;
}

static void fail(char *err, size_t err_len, const char *what, int rc)
{
	snprintf(err, err_len, "%s: %s", what, rte_strerror(rc < 0 ? -rc : rc));
}

struct netif *dpdk_netif_create(const struct dpdk_netif_config *cfg_in, char *err, size_t err_len)
{
	struct dpdk_netif_config cfg = *cfg_in;
	if (!cfg.mbufs)
		cfg.mbufs = DPDK_DEFAULT_MBUFS;
	if (!cfg.rx_desc)
		cfg.rx_desc = DPDK_DEFAULT_DESC;
	if (!cfg.tx_desc)
		cfg.tx_desc = DPDK_DEFAULT_DESC;
	if (!cfg.frame_bytes)
		cfg.frame_bytes = DPDK_DEFAULT_FRAME_BYTES;
	if (!cfg.tx_retry_spins)
		cfg.tx_retry_spins = DPDK_DEFAULT_TX_SPINS;
	uint16_t port = cfg.port_id;
	if (!rte_eth_dev_is_valid_port(port)) {
		snprintf(err, err_len, "no DPDK port %u (%d ports probed: is the --vdev or -a argument right?)", port,
			 dpdk_port_count());
		return NULL;
	}
	if (cfg.frame_bytes > NETIF_FRAME_MAX_BYTES) {
		snprintf(err, err_len, "frame size %u exceeds the netif limit %u", cfg.frame_bytes,
			 NETIF_FRAME_MAX_BYTES);
		return NULL;
	}
	/* Queue descriptors plus what the stack holds (TX queue, a burst)
	 * must fit, or RX starves the moment the stack keeps a few frames. */
	if (cfg.mbufs < (uint32_t)cfg.rx_desc + cfg.tx_desc + 256u) {
		snprintf(err, err_len, "%u mbufs cannot fill %u RX + %u TX descriptors and leave 256 for the stack",
			 cfg.mbufs, cfg.rx_desc, cfg.tx_desc);
		return NULL;
	}
	struct dpdk_netif *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	d->cfg = cfg;
	d->nif.ops = &dpdk_ops;

	struct rte_eth_dev_info di;
	int rc = rte_eth_dev_info_get(port, &di);
	if (rc != 0) {
		fail(err, err_len, "rte_eth_dev_info_get", rc);
		goto fail_free;
	}
	snprintf(d->info.driver, sizeof(d->info.driver), "%s", di.driver_name ? di.driver_name : "?");
	if (rte_eth_dev_get_name_by_port(port, d->info.name) != 0)
		snprintf(d->info.name, sizeof(d->info.name), "port%u", port);
	d->info.max_rx_pktlen = di.max_rx_pktlen;
	/* af_packet and af_xdp read a kernel interface after the kernel's
	 * checksum offload decision, so on a veth the sums arrive PARTIAL
	 * (af_xdp: XDP sees the frame as the peer's xmit left it). */
	bool reads_kernel_dev = !strcmp(d->info.driver, "net_af_packet") || !strcmp(d->info.driver, "net_af_xdp");
	d->info.partial_csum_fix = cfg.partial_csum == DPDK_PARTIAL_CSUM_ON ||
				   (cfg.partial_csum == DPDK_PARTIAL_CSUM_AUTO && reads_kernel_dev);

	int socket = rte_eth_dev_socket_id(port);
	if (socket < 0)
		socket = (int)SOCKET_ID_ANY;
	char pool_name[RTE_MEMPOOL_NAMESIZE];
	snprintf(pool_name, sizeof(pool_name), "bt_mbufs_p%u", port);
	/* At least DPDK's default 2 KiB of data: PMDs size their own buffers
	 * from it (af_packet's ring frames need 2016 bytes). */
	uint32_t room = RTE_PKTMBUF_HEADROOM + RTE_ALIGN_CEIL((uint32_t)cfg.frame_bytes, 128u);
	if (room < RTE_MBUF_DEFAULT_BUF_SIZE)
		room = RTE_MBUF_DEFAULT_BUF_SIZE;
	uint32_t cache = cfg.mbufs / 4 < DPDK_MEMPOOL_CACHE ? cfg.mbufs / 4 : DPDK_MEMPOOL_CACHE;
	d->pool = rte_pktmbuf_pool_create(pool_name, cfg.mbufs, cache,
					  RTE_ALIGN_CEIL(sizeof(struct netif_buf), RTE_MBUF_PRIV_ALIGN), (uint16_t)room,
					  socket);
	if (!d->pool) {
		snprintf(err, err_len,
			 "cannot create a pool of %u mbufs of %u bytes: %s (with --no-huge, raise the EAL -m or "
			 "lower --mbufs)",
			 cfg.mbufs, room, rte_strerror(rte_errno));
		goto fail_free;
	}

	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	/* Checksum offloads where the port has them (dpdk_netif.h); the stack
	 * checks and computes in software whatever the port does not. */
	const uint64_t rx_csum = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
	if (!cfg.no_csum_offload && (di.rx_offload_capa & rx_csum) == rx_csum) {
		conf.rxmode.offloads |= rx_csum;
		d->info.rx_csum_offload = true;
	}
	if (!cfg.no_csum_offload && (di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM)) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
		d->info.tx_csum_offload = true;
		d->nif.caps |= NETIF_CAP_TX_L4_CSUM;
	}
	rc = rte_eth_dev_configure(port, 1, 1, &conf);
	if (rc != 0) {
		fail(err, err_len, "rte_eth_dev_configure", rc);
		goto fail_pool;
	}
	if (cfg.mtu) {
		rc = rte_eth_dev_set_mtu(port, cfg.mtu);
		if (rc != 0 && rc != -ENOTSUP) {
			fail(err, err_len, "rte_eth_dev_set_mtu", rc);
			goto fail_close;
		}
	}
	uint16_t nrx = cfg.rx_desc, ntx = cfg.tx_desc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
	if (rc != 0) {
		fail(err, err_len, "rte_eth_dev_adjust_nb_rx_tx_desc", rc);
		goto fail_close;
	}
	rc = rte_eth_rx_queue_setup(port, 0, nrx, (unsigned)socket, NULL, d->pool);
	if (rc != 0) {
		fail(err, err_len, "rte_eth_rx_queue_setup", rc);
		goto fail_close;
	}
	rc = rte_eth_tx_queue_setup(port, 0, ntx, (unsigned)socket, NULL);
	if (rc != 0) {
		fail(err, err_len, "rte_eth_tx_queue_setup", rc);
		goto fail_close;
	}
	uint16_t mtu = 0;
	if (rte_eth_dev_get_mtu(port, &mtu) == 0)
		d->info.mtu = mtu;

	struct rte_ether_addr pa;
	rc = rte_eth_macaddr_get(port, &pa);
	if (rc != 0) {
		fail(err, err_len, "rte_eth_macaddr_get", rc);
		goto fail_close;
	}
	memcpy(d->info.port_mac, pa.addr_bytes, 6);
	memcpy(d->mac, cfg.set_mac ? cfg.mac : pa.addr_bytes, 6);
	return &d->nif;

fail_close:
	rte_eth_dev_close(port);
fail_pool:
	rte_mempool_free(d->pool);
fail_free:
	free(d);
	return NULL;
}

int dpdk_netif_start(struct netif *nif, char *err, size_t err_len)
{
	struct dpdk_netif *d = as_dpdk(nif);
	uint16_t port = d->cfg.port_id;
	if (d->started)
		return DPDK_OK;
	int rc = rte_eth_dev_start(port);
	if (rc != 0) {
		fail(err, err_len, "rte_eth_dev_start", rc);
		return DPDK_ESTART;
	}
	d->started = true;
	bool other_mac = memcmp(d->mac, d->info.port_mac, 6) != 0;
	bool promisc = d->cfg.promisc;
	if (other_mac && !promisc) {
		/* Prefer an address filter (hardware keeps dropping the rest);
		 * a PMD without one gets promiscuous mode. */
		struct rte_ether_addr a;
		memcpy(a.addr_bytes, d->mac, 6);
		if (rte_eth_dev_mac_addr_add(port, &a, 0) != 0)
			promisc = true;
	}
	if (promisc) {
		rc = rte_eth_promiscuous_enable(port);
		if (rc != 0 && rc != -ENOTSUP) {
			fail(err, err_len, "rte_eth_promiscuous_enable", rc);
			return DPDK_ESTART;
		}
	}
	return DPDK_OK;
}

void dpdk_netif_get_info(struct netif *nif, struct dpdk_port_info *out)
{
	*out = as_dpdk(nif)->info;
}

void dpdk_netif_get_ext_stats(struct netif *nif, struct dpdk_netif_stats *out)
{
	struct dpdk_netif *d = as_dpdk(nif);
	*out = d->ext;
	struct rte_eth_stats s;
	if (rte_eth_stats_get(d->cfg.port_id, &s) == 0) {
		out->pmd_ipackets = s.ipackets;
		out->pmd_opackets = s.opackets;
		out->pmd_ibytes = s.ibytes;
		out->pmd_obytes = s.obytes;
		out->pmd_imissed = s.imissed;
		out->pmd_ierrors = s.ierrors;
		out->pmd_oerrors = s.oerrors;
		out->pmd_rx_nombuf = s.rx_nombuf;
	}
}

bool dpdk_netif_link_up(struct netif *nif)
{
	struct rte_eth_link link;
	memset(&link, 0, sizeof(link));
	if (rte_eth_link_get_nowait(as_dpdk(nif)->cfg.port_id, &link) != 0)
		return false;
	return link.link_status == RTE_ETH_LINK_UP;
}

int dpdk_port_describe(int n, char *name, size_t name_len, char *driver, size_t driver_len)
{
	uint16_t p;
	int i = 0;
	RTE_ETH_FOREACH_DEV(p)
	{
		if (i++ != n)
			continue;
		struct rte_eth_dev_info info;
		char dev_name[RTE_ETH_NAME_MAX_LEN];
		if (rte_eth_dev_info_get(p, &info) != 0 || rte_eth_dev_get_name_by_port(p, dev_name) != 0)
			return -1;
		snprintf(name, name_len, "%s", dev_name);
		snprintf(driver, driver_len, "%s", info.driver_name ? info.driver_name : "?");
		return 0;
	}
	return -1;
}
