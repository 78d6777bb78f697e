/*
 * fp_rx_stage.c: the software TCP checksum of a segment the fast path
 * serves, verified in the same pass that copies its payload into the
 * application's staging area: the bytes are read once for both, and
 * place_payload posts the copy without making another (fp_rx.c).
 *
 * The payload is staged only where place_payload will likely post it
 * (in the window, the host still reading); anything else is verified in
 * place as before. A bad sum gives the reservation back: the segment is
 * dropped before any of it is acted on, and fp_rx.c counts it
 * (rx_bad_csum).
 */
#include "nic_internal.h"

static bool worth_staging(struct nic *nic, const struct flow *f, const struct tcp_view *tcp)
{
	if (tcp->payload_len == 0 || !flow_takes_data(f))
		return false;
	uint32_t offset = tcp->seq - f->rcv_nxt;
	return seq_geq(tcp->seq, f->rcv_nxt) && offset < f->rx_avail && dma_sq_free(&nic->apps[f->app]) >= 2;
}

bool fp_rx_verify_stage(struct nic *nic, uint32_t fi, const struct ipv4_view *ip, const struct tcp_view *tcp,
			struct rx_stage *st)
{
	const struct flow *f = &nic->flows[fi];
	struct nic_app *a = &nic->apps[f->app];
	uint32_t off;
	/* The whole segment is copied, header too: one pass sums it all
	 * (the header's few bytes of staging are cheaper than a second
	 * sum), and the payload is posted from behind the header. */
	if (!worth_staging(nic, f, tcp) || dma_reserve(a, ip->payload_len, &off) < 0)
		return tcp_csum_ok(ip->payload, ip->payload_len, ip->src, ip->dst);
	uint32_t sum = tcp_pseudo_sum(ip->src, ip->dst, ip->payload_len);
	if (inet_sum_finish(inet_sum_copy(a->staging + off, ip->payload, ip->payload_len, sum)) != 0) {
		dma_unreserve(a, off, ip->payload_len);
		return false;
	}
	*st = (struct rx_stage){.staged = true, .app = f->app, .off = off, .hdr = tcp->hdr_bytes, .len = ip->payload_len};
	return true;
}
