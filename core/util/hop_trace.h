/*
 * hop_trace.h: where the time of one RPC goes. The host library and the
 * NIC each take an optional recorder (NULL: off, and then a hop costs one
 * pointer test); while on, they append one record per hop an RPC's bytes
 * pass, stamped with the time of their own injected clock. Nothing here is
 * global: a process holds as many recorders as it has stacks (the
 * simulator: one per side).
 *
 * An RPC is named by its connection and a stream offset, never by a
 * sequence number of ours: a request is the bytes a bt_send ended at TX
 * offset E (bytes ever sent on the connection, mod 2^32), and its answer
 * is complete when the RX offset (bytes ever received) reaches E, which
 * is what an echo does. Every record says how far its point has got
 * (`off_end`: the offset just past the last byte it covers), so the
 * joiner (hop_join.h) finds, for each RPC and each point, the first record
 * in time that covers E. Host and NIC see the same offsets, so records of
 * two processes (`bluetas app` and `bluetas nic`, both on CLOCK_MONOTONIC
 * of one machine) join after the fact, from two files.
 *
 * The connection is named by its ports as the recording side sees them
 * (local << 16 | remote): a host and its NIC agree, and the peer's stack
 * sees them swapped.
 *
 * The recorder keeps the FIRST `cap` records and counts the rest as
 * dropped: a long run is traced from its start, in bounded memory, with
 * no allocation after hop_trace_init.
 */
#ifndef BT_HOP_TRACE_H
#define BT_HOP_TRACE_H

#include <stdint.h>
#include <stdio.h>

/* The points, in the order an RPC passes them on one side. */
enum hop_point {
	HOP_SEND = 0,   /* host: bt_send took the request's last byte */
	HOP_DB_POST,    /* host: the doorbell covering it went on the channel */
	HOP_DB_SEEN,    /* NIC: that doorbell applied */
	HOP_READ_DONE,  /* NIC: READ completion of the payload (host memory -> NIC) */
	HOP_FRAME_OUT,  /* NIC: the segment with the last byte built for the netif */
	HOP_FRAME_IN,   /* NIC: the in-order segment completing the bytes arrived */
	HOP_EV_POSTED,  /* NIC: the event announcing them posted (one-sided WRITE) */
	HOP_RX_WRITTEN, /* NIC: WRITE completion of that payload (NIC -> host memory) */
	HOP_WOKE,       /* host: bt_wait returned before it saw the event (or the event time: awake) */
	HOP_EV_SEEN,    /* host: the event consumed */
	HOP_RECV,       /* host: bt_recv took the last byte */
	HOP__COUNT
};

/* Flags of a HOP_WOKE record: how that bt_wait ended. */
enum hop_flags {
	HOP_F_SLEPT = 1u << 0,   /* the host had been in bt_wait (else: it was polling) */
	HOP_F_WAKEUP = 1u << 1,  /* a WAKEUP message ended it */
	HOP_F_TIMEOUT = 1u << 2, /* its timeout ended it */
};

struct hop_rec {
	uint64_t t_ns;
	uint32_t conn;    /* local port << 16 | remote port */
	uint32_t off_end; /* stream offset just past the bytes this point has */
	uint8_t point;    /* enum hop_point */
	uint8_t side;     /* the recorder's side (0: the RPC's client) */
	uint8_t flags;    /* enum hop_flags */
	uint8_t pad;
};

struct hop_trace {
	struct hop_rec *recs;
	uint32_t cap, count;
	uint64_t dropped;
	uint8_t side;
};

/* 0, or -1 when the records cannot be allocated. */
int hop_trace_init(struct hop_trace *t, uint32_t cap, uint8_t side);
void hop_trace_free(struct hop_trace *t);

static inline uint32_t hop_conn_key(uint16_t local_port, uint16_t remote_port)
{
	return (uint32_t)local_port << 16 | remote_port;
}

static inline void hop_record(struct hop_trace *t, enum hop_point p, uint32_t conn, uint32_t off_end,
			      uint64_t t_ns, uint8_t flags)
{
	if (t->count == t->cap) {
		t->dropped++;
		return;
	}
	t->recs[t->count++] = (struct hop_rec){
		.t_ns = t_ns, .conn = conn, .off_end = off_end, .point = (uint8_t)p, .side = t->side, .flags = flags};
}

/* Short names ("send", "db_post", ...), as in files and reports. */
const char *hop_point_name(int p);

/* Text file: a header line "bluetas-hops 1 records=N dropped=D", then
 * one "T_NS POINT SIDE CONN OFF_END FLAGS" line per record (POINT by
 * name). Returns 0, or -1 when the stream failed (a full disk). */
int hop_trace_write(const struct hop_trace *t, FILE *out);
/* Appends the records of one such file to `t` (growing it). 0, or -1 with
 * a message naming the line in err. */
int hop_trace_read(struct hop_trace *t, FILE *in, const char *name, char *err, size_t err_len);

#endif
