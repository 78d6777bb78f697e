/*
 * nic_hops.c: the NIC's points of the RPC hop trace (core/util/hop_trace.h).
 * The fast path calls these only when a recorder is set (nic->hops), so a
 * NIC without one pays a pointer test per hop. Offsets are stream offsets
 * (bytes after the SYN), the host library's TX and RX totals.
 */
#include "nic_internal.h"

void nic_set_hop_trace(struct nic *nic, struct hop_trace *t)
{
	nic->hops = t;
}

static void record_at(struct nic *nic, const struct flow *f, enum hop_point p, uint32_t off_end, uint64_t t_ns)
{
	hop_record(nic->hops, p, hop_conn_key(f->local_port, f->remote_port), off_end, t_ns, 0);
}

static void record(struct nic *nic, const struct flow *f, enum hop_point p, uint32_t off_end)
{
	record_at(nic, f, p, off_end, bt_clock_now_ns(nic->clock));
}

void nic_hop_doorbell(struct nic *nic, uint32_t fi)
{
	const struct flow *f = &nic->flows[fi];
	record(nic, f, HOP_DB_SEEN, f->host_tx_total);
}

void nic_hop_dma_done(struct nic *nic, const struct dma_op *op)
{
	if ((op->kind != DMA_TX_READ && op->kind != DMA_RX_WRITE) || op->flow >= nic->cfg.max_flows)
		return;
	const struct flow *f = &nic->flows[op->flow];
	if (!f->in_use || f->gen != op->gen)
		return;
	if (op->kind == DMA_TX_READ)
		record(nic, f, HOP_READ_DONE, op->seq + op->len - (f->iss + 1));
	else
		record(nic, f, HOP_RX_WRITTEN, op->seq + op->len - (f->irs + 1));
}

/* A segment built from a doorbell's inline payload: its bytes were at
 * hand without a READ, so they are "read" now. */
void nic_hop_read_done(struct nic *nic, const struct flow *f, uint32_t seq_end)
{
	record(nic, f, HOP_READ_DONE, seq_end - (f->iss + 1));
}

void nic_hop_frame_out(struct nic *nic, const struct flow *f, uint32_t seq, uint16_t payload_len)
{
	if (payload_len)
		record(nic, f, HOP_FRAME_OUT, seq + payload_len - (f->iss + 1));
}

void nic_hop_frame_in(struct nic *nic, uint32_t fi)
{
	const struct flow *f = &nic->flows[fi];
	record(nic, f, HOP_FRAME_IN, f->rcv_nxt - (f->irs + 1));
}

void nic_hop_event(struct nic *nic, uint32_t fi, uint64_t t_ns)
{
	const struct flow *f = &nic->flows[fi];
	/* A FIN is in rcv_nxt but not in the stream. */
	record_at(nic, f, HOP_EV_POSTED, f->rcv_nxt - (f->irs + 1) - (f->fin_received ? 1 : 0), t_ns);
}
