/*
 * bench_lwip_rx.c: lwIP 2.1.3 fed the same in-order 1448 B data segments
 * that bench_cg_rx feeds our NIC, for `make bench-cg`, which runs it under
 * callgrind with --toggle-collect=ip4_input: lwIP's receive path per data
 * segment (IPv4 and TCP input, checksum verify, reassembly bookkeeping, the
 * ACK decision and any ACK it sends, our receive callback).
 *
 * Debian's liblwip-dev ships lwIP 2.1.3 as a shared library built with
 * NO_SYS=0 and core locking (the GNU Hurd port's options): we start its
 * tcpip thread (tcpip_init) and call the raw API from this thread holding
 * the core lock, which is that build's supported way to use the raw API
 * from another thread. Segments enter at ip4_input (that build's netif
 * needs ARP for Ethernet input; the Ethernet header is 14 bytes of parsing
 * on our side). The segments carry the same TCP timestamp option as ours;
 * lwIP, built without timestamps, skips it.
 *
 * The receive callback frees the pbuf and opens the window (tcp_recved):
 * lwIP hands the application its buffer, so no copy is made, where our
 * NIC posts a DMA write into the host's ring.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lwip/init.h>
#include <lwip/ip4.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/tcp.h>
#include <lwip/tcpip.h>
#include <valgrind/callgrind.h>

#include "core/proto/proto.h"

#define SEG_BYTES 1448u
#define PEER_ISN 1000000u
#define LOCAL_IP 0x0a000001u /* 10.0.0.1: lwIP */
#define PEER_IP 0x0a000002u  /* 10.0.0.2: the scripted peer */
#define PORT 7u
#define PEER_PORT 40000u

static struct netif nif;
static uint32_t lwip_isn;
static bool synack_seen;
static uint64_t received;
static uint32_t ts_val = 1;

/* What lwIP sends (SYN-ACK, ACKs): only the SYN-ACK's sequence matters. */
static err_t capture_output(struct netif *n, struct pbuf *p, const ip4_addr_t *dst)
{
	(void)n;
	(void)dst;
	uint8_t hdr[40];
	if (pbuf_copy_partial(p, hdr, sizeof(hdr), 0) == sizeof(hdr) && (hdr[33] & TCP_SYN)) {
		lwip_isn = (uint32_t)hdr[24] << 24 | (uint32_t)hdr[25] << 16 | (uint32_t)hdr[26] << 8 | hdr[27];
		synack_seen = true;
	}
	return ERR_OK;
}

static err_t netif_setup(struct netif *n)
{
	n->output = capture_output;
	n->mtu = 1500;
	n->flags = NETIF_FLAG_UP | NETIF_FLAG_LINK_UP;
	return ERR_OK;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg;
	(void)err;
	if (!p)
		return ERR_OK;
	received += p->tot_len;
	tcp_recved(pcb, p->tot_len);
	pbuf_free(p);
	return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	(void)arg;
	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	tcp_recv(pcb, on_recv);
	return ERR_OK;
}

/* One segment from the peer, built by our own codec (the same bytes our
 * NIC gets, less the Ethernet header), into a fresh pbuf, into lwIP. */
static void feed(uint8_t flags, uint32_t seq, uint32_t ack, const uint8_t *payload, uint16_t len)
{
	static const uint8_t mac_a[6] = {2, 0, 0, 0, 0, 1}, mac_b[6] = {2, 0, 0, 0, 0, 2};
	struct tcp_opts opts;
	memset(&opts, 0, sizeof(opts));
	opts.has_ts = true;
	opts.ts_val = ts_val++;
	if (flags & TCP_SYN) {
		opts.has_mss = true;
		opts.mss = SEG_BYTES;
	}
	struct tcp_frame_args fa = {.src_mac = mac_b, .dst_mac = mac_a, .src_ip = PEER_IP, .dst_ip = LOCAL_IP,
				    .tcp = {.sport = PEER_PORT, .dport = PORT, .seq = seq, .ack = ack, .flags = flags,
					    .window = 65535, .opts = &opts},
				    .payload = payload, .payload_len = len};
	uint8_t frame[2048];
	int n = tcp_frame_build(frame, sizeof(frame), &fa);
	if (n < ETH_HDR_BYTES) {
		fprintf(stderr, "bench_lwip_rx: cannot build a segment\n");
		exit(1);
	}
	uint16_t ip_len = (uint16_t)((frame[ETH_HDR_BYTES + 2] << 8) | frame[ETH_HDR_BYTES + 3]);
	struct pbuf *p = pbuf_alloc(PBUF_RAW, ip_len, PBUF_RAM);
	if (!p || pbuf_take(p, frame + ETH_HDR_BYTES, ip_len) != ERR_OK) {
		fprintf(stderr, "bench_lwip_rx: out of pbufs\n");
		exit(1);
	}
	ip4_input(p, &nif);
}

int main(int argc, char **argv)
{
	uint32_t segments = 10000;
	if (argc > 1) {
		char *end;
		unsigned long v = strtoul(argv[1], &end, 10);
		if (argv[1][0] == '-' || *end || v == 0 || v > 10000000) {
			fprintf(stderr, "usage: bench_lwip_rx [SEGMENTS]   (1..10000000, default 10000)\n"
					"  run it under callgrind --toggle-collect=ip4_input (make bench-cg)\n");
			return 2;
		}
		segments = (uint32_t)v;
	}
	tcpip_init(NULL, NULL);
	LOCK_TCPIP_CORE();
	ip4_addr_t ip, mask, gw;
	IP4_ADDR(&ip, 10, 0, 0, 1);
	IP4_ADDR(&mask, 255, 255, 255, 0);
	IP4_ADDR(&gw, 0, 0, 0, 0);
	if (!netif_add(&nif, &ip, &mask, &gw, NULL, netif_setup, ip4_input)) {
		fprintf(stderr, "bench_lwip_rx: netif_add failed\n");
		return 1;
	}
	netif_set_default(&nif);
	netif_set_up(&nif);
	netif_set_link_up(&nif);
	struct tcp_pcb *pcb = tcp_new();
	if (!pcb || tcp_bind(pcb, IP_ADDR_ANY, PORT) != ERR_OK || !(pcb = tcp_listen(pcb))) {
		fprintf(stderr, "bench_lwip_rx: cannot listen on port %u\n", PORT);
		return 1;
	}
	tcp_accept(pcb, on_accept);

	feed(TCP_SYN, PEER_ISN, 0, NULL, 0);
	if (!synack_seen) {
		fprintf(stderr, "bench_lwip_rx: lwIP did not answer the SYN\n");
		return 1;
	}
	feed(TCP_ACK, PEER_ISN + 1, lwip_isn + 1, NULL, 0);

	uint8_t payload[SEG_BYTES];
	for (uint32_t i = 0; i < SEG_BYTES; i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	CALLGRIND_ZERO_STATS;
	for (uint32_t i = 0; i < segments; i++)
		feed(TCP_ACK, PEER_ISN + 1 + i * SEG_BYTES, lwip_isn + 1, payload, SEG_BYTES);
	CALLGRIND_DUMP_STATS_AT("segments");
	UNLOCK_TCPIP_CORE();
	if (received != (uint64_t)segments * SEG_BYTES) {
		fprintf(stderr, "bench_lwip_rx: the application got %llu bytes, expected %llu\n",
			(unsigned long long)received, (unsigned long long)segments * SEG_BYTES);
		return 1;
	}
	printf("bench_lwip_rx segments=%u segment_bytes=%u\n", segments, SEG_BYTES);
	return 0;
}
