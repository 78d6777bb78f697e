/*
 * verbs_chan.c: the channel contract (channel.h) on an RDMA RC queue pair
 * (libibverbs data path, librdmacm setup). It must behave exactly as the
 * shm backend does; where verbs forced a decision, it is written here.
 *
 * Mapping
 *   - Region = one ibv_reg_mr in the connection's own protection domain.
 *     CHAN_ACCESS_LOCAL -> IBV_ACCESS_LOCAL_WRITE only (a READ lands in
 *     local memory); REMOTE_READ / REMOTE_WRITE add IBV_ACCESS_REMOTE_*
 *     (REMOTE_WRITE needs LOCAL_WRITE in verbs anyway). lkey/rkey are the
 *     MR's; chan_remote_mr.addr is the region's virtual address.
 *   - READ/WRITE = IBV_WR_RDMA_READ/WRITE, remote_addr = addr + off,
 *     signalled only with CHAN_WR_SIGNALED (sq_sig_all = 0).
 *   - Messages = SEND/RECV into pre-posted receive buffers, with credits
 *     (below). Errors: every ibv_wc_status is mapped, never asserted:
 *     REM_ACCESS_ERR -> CHAN_EACCESS, LOC_PROT_ERR/LOC_LEN_ERR ->
 *     CHAN_ELOCAL, WR_FLUSH_ERR -> CHAN_EFLUSHED, anything else -> CHAN_EIO.
 *
 * Decisions the contract left open, or verbs forced
 *   1. Remote checks are the remote device's only. This file never looks
 *      at an rkey, a remote address or remote bounds: a refused access is
 *      refused by the peer's RDMA device (rxe's or the ConnectX's MR/PD
 *      check) and reported as IBV_WC_REM_ACCESS_ERR. That is what makes the
 *      isolation tests meaningful: an rkey of another connection fails
 *      because that MR is in another PD, not because we compared numbers.
 *      Local checks (lkey known, local bounds) are done at post, as shm
 *      does, so a bad local argument is CHAN_ELOCAL at once and never
 *      breaks the link; the device would report the same as LOC_PROT_ERR.
 *   2. remote->addr is a virtual address, not a token checked for
 *      equality with the base (shm refuses any addr but 0 or the base).
 *      A forged addr inside the region only shifts the window; anything
 *      outside it is refused by the device. addr + off wraps mod 2^64 and
 *      a wrapped address always lies below the region: refused.
 *   3. Keys are the device's. On rxe (and mlx5) lkey == rkey for a region
 *      with remote access, and a deregistered key's index is reused with a
 *      new 8-bit variant: a key can recur after deregistration (shm
 *      guarantees it never does). The contract only promises that a key is
 *      valid while registered, on its own connection.
 *   4. Send-queue slots follow shm's rule exactly: posted - retired <
 *      sq_depth, and a user operation retires only when the CALLER polls
 *      its completion or a later one. Internally we poll the CQ earlier
 *      (to get messages), and stash user completions (at most sq_depth)
 *      until chan_poll_cq. The QP's send queue is sq_depth + the message
 *      send slots, and the CQ holds every WR that can be outstanding (SQ +
 *      RQ), so neither can overflow whatever the caller does.
 *   5. Ordering. RC executes one end's requests in posting order at the
 *      responder, so the peer sees an earlier WRITE (or the memory an
 *      earlier READ read) before a later WRITE or message: the contract's
 *      order. No IBV_SEND_FENCE is used: the only thing a fence would add
 *      is the order of a READ's data landing locally versus a later WRITE
 *      reading the same local buffer, which the contract already forbids
 *      (the local buffer of a READ is not to be read before completion).
 *      Within ONE write, verbs promises no byte order; ctxq's "phase byte
 *      written last" holds on rxe (a forward copy, x86 stores in order) and
 *      for a single PCIe write on hardware, not by the verbs spec.
 *   6. Credits. Each end posts msg_depth + 2 receive buffers: msg_depth for
 *      the peer's messages (its credits) and 2 reserved for credit-only
 *      messages. Every message carries an 8-byte header with two running
 *      counts: messages of the peer taken by poll_msg, and credit-only
 *      messages of the peer processed. Running totals (mod 2^32/2^16)
 *      rather than increments, so they are idempotent. A credit-only
 *      message goes out when half the window (>= 1) is owed, nothing else
 *      carried it, a reserved slot is free at the peer, and poll_msg has
 *      taken the last queued message (so a burst costs one); it never
 *      surfaces to poll_msg and its buffer is reposted at once. Credit
 *      return is therefore LAZIER than shm's (shm returns a credit the
 *      moment poll_msg takes a message): after taking one message the
 *      sender may still see CHAN_EAGAIN until half the window is taken or
 *      the receiver sends something. Liveness: a sender at zero credits has
 *      a full window outstanding, so once the receiver takes it all it owes
 *      the whole window and, as every credit-only message it sent before
 *      was answered by a message carrying its acknowledgement (the sender
 *      could only use those credits by sending), a reserved slot is free.
 *      A receive never lands on an unposted buffer (rnr_retry is finite, so
 *      a credit bug would surface as CHAN_EIO, never as a silent stall).
 *   7. Message send slots: our own SENDs (data and credit-only) are always
 *      signalled and each holds a send buffer until its completion; there
 *      are msg_depth + 2 of them. So post_msg can also see CHAN_EAGAIN
 *      briefly when the peer has more receive slots than we have send
 *      slots; the next call succeeds once the device acknowledged them.
 *   8. Breaking. The first error completion of any kind (a user operation,
 *      one of our SENDs, a flushed receive when the PEER broke the
 *      connection, e.g. by an access the device refused on our side), a
 *      protocol violation by the peer, or RDMA_CM_EVENT_DISCONNECTED marks
 *      the link broken and calls rdma_disconnect: our QP goes to the error
 *      state (every outstanding WR flushes: CHAN_EFLUSHED, even unsignalled
 *      ones, as shm does) and the peer gets a DREQ, so both ends see the
 *      break. Later posts return CHAN_EDISCONNECTED; poll_msg returns the
 *      messages already received, then CHAN_EDISCONNECTED; poll_cq returns
 *      the remaining completions, then 0 (as ibv_poll_cq and shm do).
 *      Messages in flight are lost, as with shm.
 *   9. The rdma_cm event channel is a syscall to read; the poll path reads
 *      it at most once per millisecond (chan_wait always), so a
 *      busy-polling NIC loop pays nothing for it and a peer's disconnect is
 *      seen within a millisecond. A peer that vanishes without a DREQ (cable
 *      cut) is seen when the next SEND/WRITE exhausts its retries (EIO).
 *  10. GID: rdma_cm picks the source GID of the address, of the port's
 *      default RoCE type (RoCE v2 on current kernels; configfs
 *      rdma_cm/<dev>/ports/<n>/default_roce_mode changes it). gid=N cannot
 *      override that through rdma_cm; it is checked instead, and a
 *      connection whose GID index differs fails loudly.
 *  11. verbs_accept returns a channel only once it is ESTABLISHED (so the
 *      caller can post at once), waiting up to 5 s for the requester's
 *      handshake even when the caller only polled for a request: a
 *      requester that never completes it costs the caller that long.
 *  12. An operation longer than the port's max_msg_sz is CHAN_EINVAL at
 *      post: the device would otherwise fail it and break the link over a
 *      bad local argument.
 *  13. Messages are SEND/RECV, not RDMA WRITE with immediate: both consume
 *      a receive WR and a receive completion per message on the receiver
 *      (so the same credits), a 64-byte message goes inline either way,
 *      and WRITE-with-immediate would need a REMOTE_WRITE ring on the NIC
 *      side, which the design forbids (the NIC registers nothing remote).
 */
#define _GNU_SOURCE /* ppoll */
#include "verbs_chan.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>

#include <arpa/inet.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "../chan_signal.h"
#include "../clock.h"

#define VC_CTL_RESERVE 2u
#define VC_HDR_BYTES 8u
#define VC_SLOT_BYTES (VC_HDR_BYTES + CHAN_MSG_MAX_BYTES)
#define VC_MAX_REGIONS 1024u
#define VC_MAX_DEPTH 16384u
#define VC_RECV_TAG (1ull << 63)
#define VC_SEND_TAG (1ull << 62)
#define VC_SEQ_MASK (VC_SEND_TAG - 1)
#define VC_MAGIC 0x43565442u /* "BTVC" little-endian */
#define VC_VERSION 1u
#define VC_CM_POLL_NS 1000000ull
#define VC_RD_ATOMIC_MAX 16
#define VC_ESTABLISH_MIN_MS 5000
#define VC_RESOLVE_MS 2000

enum vc_kind { VC_KIND_DATA = 1, VC_KIND_CREDIT = 2 };

/* Exchanged in the rdma_cm private data of the request and the reply. */
struct vc_private {
	uint32_t magic;
	uint16_t version;
	uint16_t ctl_reserve; /* receive buffers reserved for our credit-only messages */
	uint32_t msg_depth;   /* receive buffers for the peer's data messages */
	uint32_t sq_depth;    /* informative */
};

/* A user one-sided operation between post and retirement. */
struct vc_uwr {
	uint64_t seq;
	uint64_t wr_id;
	uint32_t len;
	uint8_t opcode;
	uint8_t signaled;
};

struct vc_done {
	struct chan_completion c;
	uint64_t seq; /* polling it retires every op posted up to here */
};

struct vc_inmsg {
	uint32_t slot;
	uint32_t len;
};

struct verbs_chan {
	struct chan chan; /* first: the ops recover the end by a cast */
	struct rdma_event_channel *ec;
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_comp_channel *cc;
	struct ibv_cq *cq;
	bool established, disconnected;
	/* The CQ asks for an event (ibv_req_notify_cq) and none was taken
	 * since: notification is one-shot, so it is re-armed lazily, only
	 * before the next sleep. */
	bool cq_armed;
	/* wait_fd_arm's descriptor, made at the first arm (-1 before): an
	 * epoll instance over the completion channel and the CM event
	 * channel, so a sleeper also wakes on a disconnect. */
	int wake_ep;
	/* An eventfd in vc_wait's ppoll that a signal handler on the
	 * sleeping thread writes (chan_signal_sleep_begin), made at the first
	 * sleep (-1 before, or where eventfd failed: then only a handler
	 * before the last look is seen at once). */
	int intr_fd;

	uint32_t sq_depth, msg_depth, ctl_reserve;
	uint32_t peer_msg_depth, peer_ctl_reserve, peer_sq_depth;
	uint32_t max_inline;
	uint32_t max_msg_bytes; /* the port's largest message: longer is a bad argument */
	uint32_t credit_threshold;

	struct ibv_mr *regions[VC_MAX_REGIONS];
	uint32_t access[VC_MAX_REGIONS];
	uint32_t n_regions;

	/* user one-sided operations */
	struct vc_uwr *uwr; /* [sq_depth], by seq % sq_depth */
	uint64_t posted, retired;
	struct vc_done *done; /* [sq_depth]: completions polled from the CQ, not yet by the caller */
	uint32_t done_head, done_len;

	/* messages */
	uint32_t n_slots;   /* receive buffers = send buffers = msg_depth + ctl_reserve */
	uint8_t *rbuf, *sbuf;
	struct ibv_mr *rmr, *smr;
	struct vc_inmsg *inbox; /* [n_slots] */
	uint32_t in_head, in_len;
	uint64_t sends_posted, sends_done;
	uint32_t data_sent, peer_consumed;      /* our data messages: sent / taken by the peer */
	uint32_t my_consumed, my_consumed_told; /* the peer's data messages we took / told it */
	uint16_t ctl_sent, peer_ctl_consumed, my_ctl_consumed;
	bool credit_deferred;

	int broken;
	uint64_t next_cm_check_ns;

	struct verbs_chan_info info;
	struct verbs_chan_stats stats;
};

struct verbs_listener {
	struct rdma_event_channel *ec;
	struct rdma_cm_id *id;
	struct verbs_params p;
	char dev[VERBS_NAME_MAX];
	uint16_t port;
};

static const struct chan_ops verbs_chan_ops;

/* ---- small helpers ---- */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}
static void put_le16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}
static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}
static uint16_t get_le16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return le16toh(v);
}

static void encode_private(const struct vc_private *in, uint8_t out[16])
{
	put_le32(out, in->magic);
	put_le16(out + 4, in->version);
	put_le16(out + 6, in->ctl_reserve);
	put_le32(out + 8, in->msg_depth);
	put_le32(out + 12, in->sq_depth);
}

static int decode_private(const void *data, size_t len, struct vc_private *out)
{
	if (!data || len < 16)
		return -1;
	const uint8_t *p = data;
	out->magic = get_le32(p);
	out->version = get_le16(p + 4);
	out->ctl_reserve = get_le16(p + 6);
	out->msg_depth = get_le32(p + 8);
	out->sq_depth = get_le32(p + 12);
	if (out->magic != VC_MAGIC || out->version != VC_VERSION || out->msg_depth == 0 ||
	    out->msg_depth > VC_MAX_DEPTH || out->ctl_reserve == 0 || out->ctl_reserve > 64)
		return -1;
	return 0;
}

static void sockaddr_str(const struct sockaddr *sa, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(out, cap, "%s:%u", host, port);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof(host));
		port = ntohs(in->sin6_port);
		snprintf(out, cap, "[%s]:%u", host, port);
	} else {
		snprintf(out, cap, "?");
	}
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static const char *dev_name_of(struct ibv_context *ctx)
{
	return ctx && ctx->device ? ibv_get_device_name(ctx->device) : NULL;
}

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *out, char *err, size_t err_len)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	char ps[8];
	snprintf(ps, sizeof(ps), "%u", port);
	int rc = getaddrinfo(host, ps, &hints, &res);
	if (rc != 0 || !res) {
		snprintf(err, err_len, "cannot resolve '%s': %s", host, gai_strerror(rc));
		return -1;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out, res->ai_addr, res->ai_addrlen < sizeof(*out) ? res->ai_addrlen : sizeof(*out));
	freeaddrinfo(res);
	return 0;
}

void verbs_default_params(struct verbs_params *p)
{
	memset(p, 0, sizeof(*p));
	p->gid_index = -1;
}

int verbs_device_count(void)
{
	int n = 0;
	struct ibv_device **list = ibv_get_device_list(&n);
	if (!list)
		return 0;
	ibv_free_device_list(list);
	return n;
}

/* ---- spec parsing ---- */

static int parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	if (n == 0 || n > 10)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static int copy_field(char *dst, size_t cap, const char *src, size_t n)
{
	if (n == 0 || n >= cap)
		return -1;
	memcpy(dst, src, n);
	dst[n] = 0;
	return 0;
}

int verbs_parse_spec(const char *spec, struct verbs_spec *out, char *err, size_t err_len)
{
	static const char prefix[] = "verbs:";
	memset(out, 0, sizeof(*out));
	out->port = VERBS_DEFAULT_PORT;
	out->gid_index = -1;
	if (!spec || strncmp(spec, prefix, sizeof(prefix) - 1) != 0) {
		snprintf(err, err_len, "'%s' is not a verbs channel (expected verbs:ADDR[:PORT][,dev=NAME])",
			 spec ? spec : "");
		return -1;
	}
	const char *p = spec + sizeof(prefix) - 1;
	const char *end = p + strcspn(p, ",");
	/* ADDR[:PORT]: [v6]:port, v4:port, v4, bare v6 (more than one ':'). */
	const char *host = p, *host_end, *port = NULL;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (!rb) {
			snprintf(err, err_len, "'%s': missing ']' after an IPv6 address", spec);
			return -1;
		}
		host = p + 1;
		host_end = rb;
		if (rb + 1 < end) {
			if (rb[1] != ':') {
				snprintf(err, err_len, "'%s': expected ':PORT' after ']'", spec);
				return -1;
			}
			port = rb + 2;
		}
	} else {
		const char *c1 = memchr(p, ':', (size_t)(end - p));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
		if (c1 && !c2) {
			host_end = c1;
			port = c1 + 1;
		} else {
			host_end = end;
		}
	}
	if (copy_field(out->addr, sizeof(out->addr), host, (size_t)(host_end - host)) < 0) {
		snprintf(err, err_len, "'%s': the address is empty or too long", spec);
		return -1;
	}
	if (port) {
		uint64_t v;
		if (parse_uint(port, (size_t)(end - port), 65535, &v) < 0 || v == 0) {
			snprintf(err, err_len, "'%s': the port must be 1..65535", spec);
			return -1;
		}
		out->port = (uint16_t)v;
	}
	while (*end == ',') {
		const char *opt = end + 1;
		end = opt + strcspn(opt, ",");
		const char *eq = memchr(opt, '=', (size_t)(end - opt));
		if (!eq) {
			snprintf(err, err_len, "'%s': option '%.*s' is not KEY=VALUE", spec, (int)(end - opt), opt);
			return -1;
		}
		size_t klen = (size_t)(eq - opt), vlen = (size_t)(end - eq - 1);
		const char *val = eq + 1;
		uint64_t v = 0;
		int bad = 0;
		if (klen == 3 && !memcmp(opt, "dev", 3))
			bad = copy_field(out->dev, sizeof(out->dev), val, vlen);
		else if (klen == 3 && !memcmp(opt, "src", 3))
			bad = copy_field(out->src, sizeof(out->src), val, vlen);
		else if (klen == 3 && !memcmp(opt, "gid", 3)) {
			bad = parse_uint(val, vlen, 255, &v);
			out->gid_index = (int)v;
		} else if (klen == 2 && !memcmp(opt, "sq", 2)) {
			bad = parse_uint(val, vlen, VC_MAX_DEPTH, &v) < 0 || v == 0 ? -1 : 0;
			out->sq_depth = (uint32_t)v;
		} else if (klen == 3 && !memcmp(opt, "msg", 3)) {
			bad = parse_uint(val, vlen, VC_MAX_DEPTH, &v) < 0 || v == 0 ? -1 : 0;
			out->msg_depth = (uint32_t)v;
		} else {
			snprintf(err, err_len, "'%s': unknown option '%.*s' (known: dev, src, gid, sq, msg)", spec,
				 (int)klen, opt);
			return -1;
		}
		if (bad) {
			snprintf(err, err_len, "'%s': bad value for '%.*s' (dev/src: 1..63 chars; gid 0..255; sq, msg 1..%u)",
				 spec, (int)klen, opt, VC_MAX_DEPTH);
			return -1;
		}
	}
	if (*end) {
		snprintf(err, err_len, "'%s': trailing characters", spec);
		return -1;
	}
	return 0;
}

void verbs_spec_params(const struct verbs_spec *s, struct verbs_params *out)
{
	verbs_default_params(out);
	out->sq_depth = s->sq_depth;
	out->msg_depth = s->msg_depth;
	out->dev = s->dev[0] ? s->dev : NULL;
	out->src_addr = s->src[0] ? s->src : NULL;
	out->gid_index = s->gid_index;
}

/* ---- link state ---- */

static struct verbs_chan *vc_of(struct chan *ch) { return (struct verbs_chan *)ch; }

static int map_status(enum ibv_wc_status st)
{
	switch (st) {
	case IBV_WC_SUCCESS:
		return CHAN_OK;
	case IBV_WC_REM_ACCESS_ERR:
		return CHAN_EACCESS;
	case IBV_WC_LOC_PROT_ERR:
	case IBV_WC_LOC_LEN_ERR:
		return CHAN_ELOCAL;
	case IBV_WC_WR_FLUSH_ERR:
		return CHAN_EFLUSHED;
	default:
		return CHAN_EIO;
	}
}

/* RC semantics: one error and the QP is gone. rdma_disconnect moves our
 * QP to the error state (everything outstanding flushes) and tells the
 * peer (DREQ), so the break is seen from both ends whatever the device
 * does with its own QP on, e.g., a remote access error. */
static void vc_break(struct verbs_chan *vc, int err, const char *why)
{
	if (vc->broken)
		return;
	vc->broken = err ? err : CHAN_EDISCONNECTED;
	vc->stats.broken = vc->broken;
	snprintf(vc->stats.broken_why, sizeof(vc->stats.broken_why), "%s", why);
	if (vc->established && !vc->disconnected) {
		vc->disconnected = true;
		rdma_disconnect(vc->id);
	}
}

static void vc_note_wc_error(struct verbs_chan *vc, const struct ibv_wc *wc, const char *what)
{
	if (!vc->stats.first_wc_status) {
		vc->stats.first_wc_status = (int)wc->status;
		vc->stats.first_wc_vendor_err = wc->vendor_err;
	}
	char why[96];
	snprintf(why, sizeof(why), "%s: %s", what, ibv_wc_status_str(wc->status));
	vc_break(vc, wc->status == IBV_WC_WR_FLUSH_ERR ? CHAN_EDISCONNECTED : map_status(wc->status), why);
}

static int vc_post_recv(struct verbs_chan *vc, uint32_t slot)
{
	struct ibv_sge sge = { .addr = (uintptr_t)(vc->rbuf + (size_t)slot * VC_SLOT_BYTES),
			       .length = VC_SLOT_BYTES,
			       .lkey = vc->rmr->lkey };
	struct ibv_recv_wr wr = { .wr_id = VC_RECV_TAG | slot, .sg_list = &sge, .num_sge = 1 }, *bad = NULL;
	int rc = ibv_post_recv(vc->id->qp, &wr, &bad);
	if (rc) {
		char why[96];
		snprintf(why, sizeof(why), "ibv_post_recv: %s", strerror(rc));
		vc_break(vc, CHAN_EIO, why);
		return -1;
	}
	return 0;
}

/* Posts one SEND of header + payload from the next send buffer. Caller
 * checked that a send buffer is free. */
static int vc_send(struct verbs_chan *vc, uint8_t kind, const void *payload, uint32_t len)
{
	uint64_t seq = vc->sends_posted;
	uint8_t *buf = vc->sbuf + (size_t)(seq % vc->n_slots) * VC_SLOT_BYTES;
	put_le32(buf, vc->my_consumed);
	put_le16(buf + 4, vc->my_ctl_consumed);
	buf[6] = kind;
	buf[7] = (uint8_t)len;
	if (len)
		memcpy(buf + VC_HDR_BYTES, payload, len);
	struct ibv_sge sge = { .addr = (uintptr_t)buf, .length = VC_HDR_BYTES + len, .lkey = vc->smr->lkey };
	struct ibv_send_wr wr = { .wr_id = VC_SEND_TAG | seq, .sg_list = &sge, .num_sge = 1, .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED },
			   *bad = NULL;
	/* Inline: the device copies the bytes at post, one DMA read less. */
	if (sge.length <= vc->max_inline)
		wr.send_flags |= IBV_SEND_INLINE;
	int rc = ibv_post_send(vc->id->qp, &wr, &bad);
	if (rc == ENOMEM)
		return CHAN_EAGAIN; /* cannot happen with our accounting; never lose it though */
	if (rc) {
		char why[96];
		snprintf(why, sizeof(why), "ibv_post_send (message): %s", strerror(rc));
		vc_break(vc, CHAN_EIO, why);
		return CHAN_EDISCONNECTED;
	}
	vc->sends_posted++;
	vc->my_consumed_told = vc->my_consumed;
	vc->credit_deferred = false;
	return CHAN_OK;
}

static bool vc_send_slot_free(const struct verbs_chan *vc)
{
	return vc->sends_posted - vc->sends_done < vc->n_slots;
}

/* Returns credits nobody else carried once half the window is owed. */
static void vc_maybe_send_credit(struct verbs_chan *vc)
{
	if (vc->broken || (uint32_t)(vc->my_consumed - vc->my_consumed_told) < vc->credit_threshold)
		return;
	uint16_t ctl_used = (uint16_t)(vc->ctl_sent - vc->peer_ctl_consumed);
	if (ctl_used >= vc->peer_ctl_reserve || !vc_send_slot_free(vc)) {
		if (!vc->credit_deferred)
			vc->stats.credits_deferred++;
		vc->credit_deferred = true;
		return;
	}
	if (vc_send(vc, VC_KIND_CREDIT, NULL, 0) == CHAN_OK) {
		vc->ctl_sent++;
		vc->stats.credit_msgs_sent++;
	} else {
		vc->credit_deferred = true; /* retried on the next poll */
	}
}

/* A running count may only move forward, and never past what it counts. */
static bool advance32(uint32_t *cur, uint32_t val, uint32_t limit)
{
	if ((int32_t)(val - limit) > 0)
		return false;
	if ((int32_t)(val - *cur) > 0)
		*cur = val;
	return true;
}

static void vc_on_recv(struct verbs_chan *vc, const struct ibv_wc *wc)
{
	uint32_t slot = (uint32_t)(wc->wr_id & ~VC_RECV_TAG);
	if (wc->status != IBV_WC_SUCCESS) {
		/* A flush here with the link still up means the peer broke it
		 * (our QP went to error as the responder of a refused access). */
		vc_note_wc_error(vc, wc, "receive");
		return;
	}
	if (slot >= vc->n_slots || wc->opcode != IBV_WC_RECV || wc->byte_len < VC_HDR_BYTES ||
	    wc->byte_len > VC_SLOT_BYTES) {
		vc_break(vc, CHAN_EIO, "protocol: malformed receive");
		return;
	}
	const uint8_t *buf = vc->rbuf + (size_t)slot * VC_SLOT_BYTES;
	uint32_t consumed = get_le32(buf);
	uint16_t ctl_consumed = get_le16(buf + 4);
	uint8_t kind = buf[6], len = buf[7];
	uint32_t payload = wc->byte_len - VC_HDR_BYTES;
	if (!advance32(&vc->peer_consumed, consumed, vc->data_sent) ||
	    (int16_t)(ctl_consumed - vc->ctl_sent) > 0) {
		vc_break(vc, CHAN_EIO, "protocol: peer acknowledged more than we sent");
		return;
	}
	if ((int16_t)(ctl_consumed - vc->peer_ctl_consumed) > 0)
		vc->peer_ctl_consumed = ctl_consumed;
	if (kind == VC_KIND_CREDIT && payload == 0) {
		vc->my_ctl_consumed++;
		vc->stats.credit_msgs_received++;
		vc_post_recv(vc, slot);
		return;
	}
	if (kind != VC_KIND_DATA || len != payload || len == 0 || len > CHAN_MSG_MAX_BYTES) {
		vc_break(vc, CHAN_EIO, "protocol: malformed message header");
		return;
	}
	if (vc->in_len >= vc->msg_depth) {
		vc_break(vc, CHAN_EIO, "protocol: peer sent beyond its credits");
		return;
	}
	vc->inbox[(vc->in_head + vc->in_len++) % vc->n_slots] = (struct vc_inmsg){ .slot = slot, .len = len };
	vc->stats.msgs_received++;
}

static void vc_on_send(struct verbs_chan *vc, const struct ibv_wc *wc)
{
	uint64_t seq = wc->wr_id & VC_SEQ_MASK;
	if (seq != vc->sends_done) {
		vc_break(vc, CHAN_EIO, "internal: message completion out of order");
		return;
	}
	vc->sends_done++;
	if (wc->status != IBV_WC_SUCCESS)
		vc_note_wc_error(vc, wc, "message send");
}

static void vc_on_user(struct verbs_chan *vc, const struct ibv_wc *wc)
{
	uint64_t seq = wc->wr_id & VC_SEQ_MASK;
	const struct vc_uwr *u = &vc->uwr[seq % vc->sq_depth];
	if (u->seq != seq || seq < vc->retired || seq >= vc->posted || vc->done_len >= vc->sq_depth) {
		vc_break(vc, CHAN_EIO, "internal: completion for an unknown operation");
		return;
	}
	int status = map_status(wc->status);
	if (status == CHAN_OK) {
		if (u->opcode == CHAN_OP_READ)
			vc->stats.reads++;
		else
			vc->stats.writes++;
		if (!u->signaled)
			return; /* devices do not report these; harmless if one did */
	}
	vc->done[(vc->done_head + vc->done_len++) % vc->sq_depth] =
		(struct vc_done){ .c = { .wr_id = u->wr_id, .status = status, .opcode = u->opcode,
					 .len_bytes = u->len },
				  .seq = seq };
	if (status != CHAN_OK)
		vc_note_wc_error(vc, wc, u->opcode == CHAN_OP_READ ? "RDMA READ" : "RDMA WRITE");
}

/* Returns the number of work completions taken. */
static int vc_drain_cq(struct verbs_chan *vc)
{
	struct ibv_wc wc[32];
	int taken = 0;
	/* Bounded: a peer streaming messages must not keep us here forever. */
	for (int round = 0; round < 16; round++) {
		int n = ibv_poll_cq(vc->cq, 32, wc);
		if (n < 0) {
			vc_break(vc, CHAN_EIO, "ibv_poll_cq failed");
			return taken;
		}
		taken += n;
		for (int i = 0; i < n; i++) {
			if (wc[i].wr_id & VC_RECV_TAG)
				vc_on_recv(vc, &wc[i]);
			else if (wc[i].wr_id & VC_SEND_TAG)
				vc_on_send(vc, &wc[i]);
			else
				vc_on_user(vc, &wc[i]);
		}
		if (n < 32)
			break;
	}
	if (vc->credit_deferred)
		vc_maybe_send_credit(vc);
	return taken;
}

static void vc_drain_cm(struct verbs_chan *vc)
{
	struct rdma_cm_event *ev;
	while (rdma_get_cm_event(vc->ec, &ev) == 0) {
		enum rdma_cm_event_type type = ev->event;
		rdma_ack_cm_event(ev);
		switch (type) {
		case RDMA_CM_EVENT_DISCONNECTED:
			vc_break(vc, CHAN_EDISCONNECTED, "peer disconnected");
			break;
		case RDMA_CM_EVENT_DEVICE_REMOVAL:
			vc_break(vc, CHAN_EDISCONNECTED, "RDMA device removed");
			break;
		case RDMA_CM_EVENT_ADDR_CHANGE:
			vc_break(vc, CHAN_EDISCONNECTED, "local address changed");
			break;
		default:
			break; /* TIMEWAIT_EXIT and the like: nothing to do */
		}
	}
}

/* Everything the owner's loop needs done without blocking. */
static void vc_progress(struct verbs_chan *vc, bool force_cm)
{
	vc_drain_cq(vc);
	uint64_t now = 0;
	if (!force_cm) {
		now = mono_ns();
		if (now < vc->next_cm_check_ns)
			return;
	}
	vc_drain_cm(vc);
	vc->next_cm_check_ns = (now ? now : mono_ns()) + VC_CM_POLL_NS;
	if (vc->broken)
		vc_drain_cq(vc); /* the break may have flushed more */
}

/* ---- chan_ops ---- */

static void vc_info(struct chan *ch, struct chan_info *out)
{
	struct verbs_chan *vc = vc_of(ch);
	if (!out)
		return;
	out->backend = "verbs";
	out->sq_depth = vc->sq_depth;
	out->msg_depth = vc->peer_msg_depth;
	out->addr_mode = CHAN_ADDR_VIRTUAL;
	out->credit_mode = CHAN_CREDIT_DEFERRED;
	out->keys_reused = 1;
}

static int vc_find_lkey(const struct verbs_chan *vc, uint32_t lkey)
{
	for (uint32_t i = 0; i < vc->n_regions; i++)
		if (vc->regions[i]->lkey == lkey)
			return (int)i;
	return -1;
}

static int vc_mr_register(struct chan *ch, void *base, uint64_t len, uint32_t access, struct chan_mr *out)
{
	struct verbs_chan *vc = vc_of(ch);
	if (!base || len == 0 || !out ||
	    (access & ~(uint32_t)(CHAN_ACCESS_REMOTE_READ | CHAN_ACCESS_REMOTE_WRITE)))
		return CHAN_EINVAL;
	if (len - 1 > (uint64_t)UINTPTR_MAX - (uintptr_t)base || len > SIZE_MAX)
		return CHAN_EINVAL;
	if (vc->n_regions == VC_MAX_REGIONS)
		return CHAN_ENOMEM;
	int flags = IBV_ACCESS_LOCAL_WRITE;
	if (access & CHAN_ACCESS_REMOTE_READ)
		flags |= IBV_ACCESS_REMOTE_READ;
	if (access & CHAN_ACCESS_REMOTE_WRITE)
		flags |= IBV_ACCESS_REMOTE_WRITE;
	struct ibv_mr *mr = ibv_reg_mr(vc->pd, base, (size_t)len, flags);
	if (!mr)
		return errno == EINVAL || errno == EFAULT ? CHAN_EINVAL : CHAN_ENOMEM;
	vc->regions[vc->n_regions] = mr;
	vc->access[vc->n_regions] = access;
	vc->n_regions++;
	*out = (struct chan_mr){ .base = base, .len_bytes = len, .lkey = mr->lkey, .rkey = mr->rkey,
				 .access = access };
	return CHAN_OK;
}

static int vc_mr_deregister(struct chan *ch, struct chan_mr *mr)
{
	struct verbs_chan *vc = vc_of(ch);
	int i = mr ? vc_find_lkey(vc, mr->lkey) : -1;
	if (i < 0 || vc->regions[i]->rkey != mr->rkey)
		return CHAN_EINVAL;
	if (ibv_dereg_mr(vc->regions[i]) != 0)
		return CHAN_EINVAL; /* still bound (a memory window): the region stays */
	vc->n_regions--;
	vc->regions[i] = vc->regions[vc->n_regions];
	vc->access[i] = vc->access[vc->n_regions];
	return CHAN_OK;
}

static int vc_post_op(struct chan *ch, uint8_t opcode, struct chan_sge_local local, struct chan_sge_remote remote,
		      uint32_t len, uint64_t wr_id, uint32_t flags)
{
	struct verbs_chan *vc = vc_of(ch);
	if (vc->broken)
		return CHAN_EDISCONNECTED;
	if (len == 0 || !local.mr || !remote.mr)
		return CHAN_EINVAL;
	/* The local side is ours to check now (the table, not the caller's
	 * copy, holds the bounds); the remote side is the peer device's. */
	int i = vc_find_lkey(vc, local.mr->lkey);
	if (i < 0)
		return CHAN_ELOCAL;
	const struct ibv_mr *mr = vc->regions[i];
	/* The key alone does not name a region of ours: two rxe devices (the
	 * host's and the NIC's in one process, as in the contract suite)
	 * number their regions alike, so the other end's region can carry
	 * one of our keys. Its base must be the one registered here too. */
	if (mr->addr != local.mr->base)
		return CHAN_ELOCAL;
	if (local.off > mr->length || len > mr->length - local.off)
		return CHAN_ELOCAL;
	/* The device would refuse it and break the link; it is the caller's
	 * argument, so it is refused here instead. */
	if (len > vc->max_msg_bytes)
		return CHAN_EINVAL;
	if (vc->posted - vc->retired >= vc->sq_depth) {
		vc->stats.eagain_sq++;
		return CHAN_EAGAIN;
	}
	uint64_t seq = vc->posted;
	struct ibv_sge sge = { .addr = (uintptr_t)mr->addr + local.off, .length = len, .lkey = mr->lkey };
	struct ibv_send_wr wr = { .wr_id = seq, .sg_list = &sge, .num_sge = 1,
				  .opcode = opcode == CHAN_OP_READ ? IBV_WR_RDMA_READ : IBV_WR_RDMA_WRITE,
				  .send_flags = (flags & CHAN_WR_SIGNALED) ? IBV_SEND_SIGNALED : 0 },
			   *bad = NULL;
	/* Wraps mod 2^64 when off is absurd: the device then sees an address
	 * below the region and refuses it. */
	wr.wr.rdma.remote_addr = remote.mr->addr + remote.off;
	wr.wr.rdma.rkey = remote.mr->rkey;
	int rc = ibv_post_send(vc->id->qp, &wr, &bad);
	if (rc == ENOMEM) {
		vc->stats.eagain_sq++;
		return CHAN_EAGAIN;
	}
	if (rc) {
		char why[96];
		snprintf(why, sizeof(why), "ibv_post_send: %s", strerror(rc));
		vc_break(vc, CHAN_EIO, why);
		return CHAN_EDISCONNECTED;
	}
	vc->uwr[seq % vc->sq_depth] = (struct vc_uwr){ .seq = seq, .wr_id = wr_id, .len = len, .opcode = opcode,
						       .signaled = (flags & CHAN_WR_SIGNALED) ? 1 : 0 };
	vc->posted++;
	return CHAN_OK;
}

static int vc_post_read(struct chan *ch, struct chan_sge_local local, struct chan_sge_remote remote, uint32_t len,
			uint64_t wr_id, uint32_t flags)
{
	return vc_post_op(ch, CHAN_OP_READ, local, remote, len, wr_id, flags);
}

static int vc_post_write(struct chan *ch, struct chan_sge_local local, struct chan_sge_remote remote, uint32_t len,
			 uint64_t wr_id, uint32_t flags)
{
	return vc_post_op(ch, CHAN_OP_WRITE, local, remote, len, wr_id, flags);
}

static bool vc_have_credit(const struct verbs_chan *vc)
{
	return (uint32_t)(vc->data_sent - vc->peer_consumed) < vc->peer_msg_depth && vc_send_slot_free(vc);
}

static int vc_post_msg(struct chan *ch, const void *msg, uint32_t len)
{
	struct verbs_chan *vc = vc_of(ch);
	if (vc->broken)
		return CHAN_EDISCONNECTED;
	int bad = chan_msg_check(msg, len);
	if (bad)
		return bad;
	if (!vc_have_credit(vc)) {
		/* Credits come back in messages: look before saying no. */
		vc_progress(vc, false);
		if (vc->broken)
			return CHAN_EDISCONNECTED;
		if (!vc_have_credit(vc)) {
			vc->stats.eagain_credit++;
			return CHAN_EAGAIN;
		}
	}
	int rc = vc_send(vc, VC_KIND_DATA, msg, len);
	if (rc == CHAN_OK) {
		vc->data_sent++;
		vc->stats.msgs_sent++;
	}
	return rc;
}

static int vc_poll_msg(struct chan *ch, void *buf, uint32_t cap, uint32_t *len_out)
{
	struct verbs_chan *vc = vc_of(ch);
	vc_progress(vc, false);
	if (vc->in_len == 0)
		return vc->broken ? CHAN_EDISCONNECTED : 0;
	const struct vc_inmsg *m = &vc->inbox[vc->in_head];
	/* Too small a buffer leaves the message queued rather than truncating. */
	if (!buf || !len_out || cap < m->len)
		return CHAN_EINVAL;
	memcpy(buf, vc->rbuf + (size_t)m->slot * VC_SLOT_BYTES + VC_HDR_BYTES, m->len);
	*len_out = m->len;
	uint32_t slot = m->slot;
	vc->in_head = (vc->in_head + 1) % vc->n_slots;
	vc->in_len--;
	if (!vc->broken) {
		/* The buffer goes back before the credit is announced, so a
		 * message sent on that credit always finds it posted. */
		if (vc_post_recv(vc, slot) == 0) {
			vc->my_consumed++;
			/* Mid-burst (more messages queued) the caller polls
			 * again anyway: one credit message for the whole burst
			 * rather than one per half window. */
			if (vc->in_len == 0)
				vc_maybe_send_credit(vc);
		}
	}
	return 1;
}

static int vc_poll_cq(struct chan *ch, struct chan_completion *out, int max)
{
	struct verbs_chan *vc = vc_of(ch);
	if (max < 0 || (max > 0 && !out))
		return CHAN_EINVAL;
	vc_progress(vc, false);
	int n = 0;
	for (; n < max && vc->done_len; n++) {
		const struct vc_done *d = &vc->done[vc->done_head];
		out[n] = d->c;
		/* In-order completion: this op and every earlier (unsignaled)
		 * one have finished, so their slots come back. */
		vc->retired = d->seq + 1;
		vc->done_head = (vc->done_head + 1) % vc->sq_depth;
		vc->done_len--;
	}
	return n;
}

static uint64_t vc_next_event_ns(struct chan *ch)
{
	(void)ch;
	return BT_TIME_NEVER; /* real time: things arrive when they arrive */
}

static void vc_take_cq_events(struct verbs_chan *vc)
{
	struct ibv_cq *cq;
	void *ctx;
	/* Non-blocking fd: returns -1/EAGAIN once there are no more. Each
	 * event is acknowledged at once, so destroy never waits for one. */
	while (ibv_get_cq_event(vc->cc, &cq, &ctx) == 0) {
		ibv_ack_cq_events(cq, 1);
		vc->stats.cq_events++;
		vc->cq_armed = false; /* an event disarms the CQ */
	}
}

/* Asks for the next completion's event unless already asked. */
static int vc_arm_cq(struct verbs_chan *vc)
{
	if (vc->cq_armed)
		return 0;
	if (ibv_req_notify_cq(vc->cq, 0) != 0) {
		vc_break(vc, CHAN_EIO, "ibv_req_notify_cq failed");
		return CHAN_EDISCONNECTED;
	}
	vc->cq_armed = true;
	return 0;
}

static int vc_wait(struct chan *ch, uint64_t timeout_ns)
{
	struct verbs_chan *vc = vc_of(ch);
	vc_take_cq_events(vc);
	vc_progress(vc, true);
	if (vc->in_len || vc->done_len)
		return 0;
	if (vc->broken)
		return CHAN_EDISCONNECTED; /* nothing will ever arrive */
	if (timeout_ns == 0)
		return 0;
	/* Arm first, then look again: a completion that landed between the
	 * drain above and the arm raises no event, but is seen here. */
	if (vc_arm_cq(vc) != 0)
		return CHAN_EDISCONNECTED;
	vc_drain_cq(vc);
	if (vc->in_len || vc->done_len || vc->broken)
		return 0;
	if (vc->intr_fd < 0)
		vc->intr_fd = (int)syscall(SYS_eventfd2, 0, EFD_NONBLOCK | EFD_CLOEXEC);
	/* A handler that ran since the caller's take ends the wait now; one
	 * that runs from here on writes intr_fd and ends the ppoll at once. */
	chan_signal_sleep_begin(NULL, vc->intr_fd);
	if (chan_signal_pending()) {
		chan_signal_sleep_end();
		return CHAN_EINTR;
	}
	struct pollfd pfd[3] = { { .fd = vc->cc->fd, .events = POLLIN }, { .fd = vc->ec->fd, .events = POLLIN },
				 { .fd = vc->intr_fd, .events = POLLIN } }; /* fd -1: ignored */
	struct timespec ts = { .tv_sec = (time_t)(timeout_ns / 1000000000ull),
			       .tv_nsec = (long)(timeout_ns % 1000000000ull) };
	vc->stats.sleeps++;
	int rc = ppoll(pfd, 3, timeout_ns == BT_TIME_NEVER ? NULL : &ts, NULL);
	int ppoll_errno = errno;
	chan_signal_sleep_end();
	/* Interrupted: ppoll's EINTR, or a handler noted during the sleep
	 * (it may have landed just before ppoll and written intr_fd). */
	bool noted = chan_signal_pending();
	bool interrupted = (rc < 0 && ppoll_errno == EINTR) || noted;
	if (rc < 0 && ppoll_errno != EINTR)
		return CHAN_EIO;
	/* Take what a handler wrote, whether or not ppoll saw it (a handler
	 * during ppoll ends it with EINTR and leaves the count): left there,
	 * it would end every later sleep at once. */
	if (noted || (rc > 0 && (pfd[2].revents & POLLIN))) {
		uint64_t count;
		if (syscall(SYS_read, vc->intr_fd, &count, sizeof(count)) < 0)
			(void)0; /* non-blocking: nothing was written */
	}
	if (rc > 0 && (pfd[0].revents & POLLIN))
		vc_take_cq_events(vc);
	vc_progress(vc, rc > 0 && (pfd[1].revents & POLLIN));
	if (rc == 0) {
		vc->stats.sleeps_timed_out++;
		/* Something is here although the sleep ran out, and no
		 * completion event for it is on the descriptor (the CQ was
		 * armed): it came during the sleep and raised no event, or its
		 * event is still on the way (rdma_rxe on 6.1 raises it from a
		 * tasklet after the CQE is visible) and it landed since the
		 * timeout. Counted as a diagnostic, not judged: under TCG on a
		 * loaded host the second happens (docs/emu.md). */
		struct pollfd cq_fd = { .fd = vc->cc->fd, .events = POLLIN };
		struct timespec now = { 0, 0 };
		if ((vc->in_len || vc->done_len) && ppoll(&cq_fd, 1, &now, NULL) == 0)
			vc->stats.sleeps_slept_through++;
	}
	/* ppoll is never restarted after a handler (signal(7)), SA_RESTART
	 * or not: report it, and let the caller decide by the handler's
	 * flags (transports/chan_signal.h), as over ipc. */
	if (interrupted)
		return vc->broken ? CHAN_EDISCONNECTED : CHAN_EINTR;
	return 0;
}

/* epoll through the system call: inside the preload the libc names are
 * the preload's own wrappers. */
static int vc_make_wake_ep(struct verbs_chan *vc)
{
	int ep = (int)syscall(SYS_epoll_create1, EPOLL_CLOEXEC);
	if (ep < 0)
		return -1;
	/* Level-triggered inside: the instance stays readable while an event
	 * is pending, so the caller's edge-triggered watch of it gets an edge
	 * whenever one arrives. */
	struct epoll_event cq_ev = {.events = EPOLLIN, .data.fd = vc->cc->fd};
	struct epoll_event cm_ev = {.events = EPOLLIN, .data.fd = vc->ec ? vc->ec->fd : -1};
	if (syscall(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, vc->cc->fd, &cq_ev) != 0 ||
	    (vc->ec && syscall(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, vc->ec->fd, &cm_ev) != 0)) {
		syscall(SYS_close, ep);
		return -1;
	}
	vc->wake_ep = ep;
	return 0;
}

/* The caller's own kernel call sleeps (channel.h wait_fd_arm): the
 * completion channel signals the first completion after the arm (a
 * message, a credit, a one-sided op), which wakes every sleeper; the
 * CM channel signals a disconnect. */
static int vc_wait_fd_arm(struct chan *ch)
{
	struct verbs_chan *vc = vc_of(ch);
	vc_take_cq_events(vc); /* a stale event would wake the sleep at once */
	vc_progress(vc, true);
	if (vc->broken)
		return CHAN_EDISCONNECTED;
	if (vc->in_len || vc->done_len)
		return CHAN_EAGAIN;
	if (vc->wake_ep < 0 && vc_make_wake_ep(vc) != 0)
		return CHAN_EIO; /* the caller sleeps in slices */
	if (vc_arm_cq(vc) != 0)
		return CHAN_EDISCONNECTED;
	/* The classic race: a completion that landed between the drain above
	 * and the arm raises no event. Anything taken now (a credit too)
	 * means: do not sleep, look again. */
	if (vc_drain_cq(vc) > 0 || vc->in_len || vc->done_len)
		return vc->broken ? CHAN_EDISCONNECTED : CHAN_EAGAIN;
	vc->stats.fd_sleeps++;
	return vc->wake_ep;
}

static void vc_wait_fd_done(struct chan *ch)
{
	/* Take the event so the descriptor stops being readable; the CQ is
	 * re-armed at the next sleep. CM events are taken by the polls. */
	vc_take_cq_events(vc_of(ch));
}

static void vc_free(struct verbs_chan *vc)
{
	if (!vc)
		return;
	if (vc->established && !vc->disconnected && vc->id) {
		vc->disconnected = true;
		rdma_disconnect(vc->id);
	}
	if (vc->cq) {
		/* Drain what the disconnect flushed; nobody will poll it. */
		struct ibv_wc wc[32];
		while (ibv_poll_cq(vc->cq, 32, wc) > 0)
			;
	}
	if (vc->cc)
		vc_take_cq_events(vc);
	if (vc->wake_ep >= 0)
		syscall(SYS_close, vc->wake_ep);
	if (vc->intr_fd >= 0)
		syscall(SYS_close, vc->intr_fd);
	if (vc->id && vc->id->qp)
		rdma_destroy_qp(vc->id);
	/* Regions the caller left registered die with the PD. */
	for (uint32_t i = 0; i < vc->n_regions; i++)
		ibv_dereg_mr(vc->regions[i]);
	if (vc->rmr)
		ibv_dereg_mr(vc->rmr);
	if (vc->smr)
		ibv_dereg_mr(vc->smr);
	if (vc->cq)
		ibv_destroy_cq(vc->cq);
	if (vc->cc)
		ibv_destroy_comp_channel(vc->cc);
	if (vc->pd)
		ibv_dealloc_pd(vc->pd);
	if (vc->id)
		rdma_destroy_id(vc->id);
	if (vc->ec)
		rdma_destroy_event_channel(vc->ec);
	free(vc->rbuf);
	free(vc->sbuf);
	free(vc->inbox);
	free(vc->uwr);
	free(vc->done);
	free(vc);
}

static void vc_destroy(struct chan *ch)
{
	vc_free(vc_of(ch));
}

static const struct chan_ops verbs_chan_ops = {
	.info = vc_info,
	.mr_register = vc_mr_register,
	.mr_deregister = vc_mr_deregister,
	.post_read = vc_post_read,
	.post_write = vc_post_write,
	.post_msg = vc_post_msg,
	.poll_msg = vc_poll_msg,
	.poll_cq = vc_poll_cq,
	.next_event_ns = vc_next_event_ns,
	.wait = vc_wait,
	.wait_fd_arm = vc_wait_fd_arm,
	.wait_fd_done = vc_wait_fd_done,
	.destroy = vc_destroy,
};

bool verbs_chan_is(const struct chan *ch)
{
	return ch && ch->ops == &verbs_chan_ops;
}

int verbs_chan_describe(const struct chan *ch, struct verbs_chan_info *out)
{
	if (!verbs_chan_is(ch) || !out)
		return -1;
	*out = ((const struct verbs_chan *)ch)->info;
	return 0;
}

int verbs_chan_stats(const struct chan *ch, struct verbs_chan_stats *out)
{
	if (!verbs_chan_is(ch) || !out)
		return -1;
	*out = ((const struct verbs_chan *)ch)->stats;
	return 0;
}

/* ---- setup ---- */

static struct verbs_chan *vc_alloc(const struct verbs_params *p, char *err, size_t err_len)
{
	struct verbs_chan *vc = calloc(1, sizeof(*vc));
	if (!vc) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	vc->chan.ops = &verbs_chan_ops;
	vc->wake_ep = -1;
	vc->intr_fd = -1;
	vc->sq_depth = p && p->sq_depth ? p->sq_depth : VERBS_DEFAULT_SQ;
	vc->msg_depth = p && p->msg_depth ? p->msg_depth : VERBS_DEFAULT_MSG;
	if (vc->sq_depth > VC_MAX_DEPTH || vc->msg_depth > VC_MAX_DEPTH) {
		snprintf(err, err_len, "sq_depth and msg_depth must be 1..%u", VC_MAX_DEPTH);
		free(vc);
		return NULL;
	}
	vc->ctl_reserve = VC_CTL_RESERVE;
	vc->credit_threshold = vc->msg_depth / 2 ? vc->msg_depth / 2 : 1;
	vc->n_slots = vc->msg_depth + vc->ctl_reserve;
	vc->info.gid_index = -1;
	return vc;
}

static void vc_private_of(const struct verbs_chan *vc, uint8_t out[16])
{
	struct vc_private pd = { .magic = VC_MAGIC, .version = VC_VERSION, .ctl_reserve = (uint16_t)vc->ctl_reserve,
				 .msg_depth = vc->msg_depth, .sq_depth = vc->sq_depth };
	encode_private(&pd, out);
}

static int vc_check_dev(struct ibv_context *ctx, const char *want, const char *what, char *err, size_t err_len)
{
	const char *name = dev_name_of(ctx);
	if (!name) {
		snprintf(err, err_len, "%s belongs to no RDMA device", what);
		return -1;
	}
	if (want && *want && strcmp(name, want) != 0) {
		snprintf(err, err_len, "%s belongs to RDMA device %s, not %s", what, name, want);
		return -1;
	}
	return 0;
}

/* PD, CQ (with its completion channel), QP, message buffers and posted
 * receives: everything a connection needs before connect/accept. */
static int vc_setup_qp(struct verbs_chan *vc, char *err, size_t err_len)
{
	struct ibv_context *ctx = vc->id->verbs;
	struct ibv_device_attr da;
	int rc = ibv_query_device(ctx, &da);
	if (rc) {
		snprintf(err, err_len, "ibv_query_device: %s", strerror(rc));
		return -1;
	}
	uint32_t max_send = vc->sq_depth + vc->n_slots, max_recv = vc->n_slots;
	uint32_t cqe = max_send + max_recv;
	if (max_send > (uint32_t)da.max_qp_wr || max_recv > (uint32_t)da.max_qp_wr || cqe > (uint32_t)da.max_cqe) {
		snprintf(err, err_len, "%s allows %d WRs per queue and %d CQEs; sq %u + msg %u need %u/%u", dev_name_of(ctx),
			 da.max_qp_wr, da.max_cqe, vc->sq_depth, vc->msg_depth, max_send, cqe);
		return -1;
	}
	struct ibv_port_attr pa;
	vc->max_msg_bytes = UINT32_MAX;
	if (ibv_query_port(ctx, vc->id->port_num ? vc->id->port_num : 1, &pa) == 0 && pa.max_msg_sz &&
	    pa.max_msg_sz < UINT32_MAX)
		vc->max_msg_bytes = pa.max_msg_sz;
	vc->pd = ibv_alloc_pd(ctx);
	if (!vc->pd) {
		snprintf(err, err_len, "ibv_alloc_pd: %s", strerror(errno));
		return -1;
	}
	vc->cc = ibv_create_comp_channel(ctx);
	if (!vc->cc || set_nonblock(vc->cc->fd) < 0) {
		snprintf(err, err_len, "ibv_create_comp_channel: %s", strerror(errno));
		return -1;
	}
	/* Every WR that can be outstanding has room: the CQ cannot overflow. */
	vc->cq = ibv_create_cq(ctx, (int)cqe, vc, vc->cc, 0);
	if (!vc->cq) {
		snprintf(err, err_len, "ibv_create_cq(%u): %s", cqe, strerror(errno));
		return -1;
	}
	struct ibv_qp_init_attr qa;
	memset(&qa, 0, sizeof(qa));
	qa.send_cq = vc->cq;
	qa.recv_cq = vc->cq;
	qa.qp_type = IBV_QPT_RC;
	qa.sq_sig_all = 0;
	qa.cap.max_send_wr = max_send;
	qa.cap.max_recv_wr = max_recv;
	qa.cap.max_send_sge = 1;
	qa.cap.max_recv_sge = 1;
	qa.cap.max_inline_data = VC_SLOT_BYTES;
	if (rdma_create_qp(vc->id, vc->pd, &qa) != 0) {
		qa.cap.max_inline_data = 0; /* a device without inline sends */
		if (rdma_create_qp(vc->id, vc->pd, &qa) != 0) {
			snprintf(err, err_len, "rdma_create_qp: %s", strerror(errno));
			return -1;
		}
	}
	vc->max_inline = qa.cap.max_inline_data;
	size_t bytes = (size_t)vc->n_slots * VC_SLOT_BYTES;
	vc->rbuf = calloc(1, bytes);
	vc->sbuf = calloc(1, bytes);
	vc->inbox = calloc(vc->n_slots, sizeof(*vc->inbox));
	vc->uwr = calloc(vc->sq_depth, sizeof(*vc->uwr));
	vc->done = calloc(vc->sq_depth, sizeof(*vc->done));
	if (!vc->rbuf || !vc->sbuf || !vc->inbox || !vc->uwr || !vc->done) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	vc->rmr = ibv_reg_mr(vc->pd, vc->rbuf, bytes, IBV_ACCESS_LOCAL_WRITE);
	vc->smr = ibv_reg_mr(vc->pd, vc->sbuf, bytes, 0);
	if (!vc->rmr || !vc->smr) {
		snprintf(err, err_len, "ibv_reg_mr (message buffers): %s", strerror(errno));
		return -1;
	}
	/* Posted before the connection exists: the peer's first message (the
	 * host's HELLO) may follow the handshake at once. */
	for (uint32_t i = 0; i < vc->n_slots; i++) {
		if (vc_post_recv(vc, i) < 0) {
			snprintf(err, err_len, "ibv_post_recv: %s", vc->stats.broken_why);
			return -1;
		}
	}
	vc->info.max_inline = vc->max_inline;
	vc->info.sq_depth = vc->sq_depth;
	snprintf(vc->info.dev, sizeof(vc->info.dev), "%s", dev_name_of(ctx));
	return 0;
}

static void vc_conn_param(struct verbs_chan *vc, struct rdma_conn_param *cp, uint8_t priv[16], int peer_init,
			  int peer_resp)
{
	struct ibv_device_attr da;
	int resp = VC_RD_ATOMIC_MAX, init = VC_RD_ATOMIC_MAX;
	if (ibv_query_device(vc->id->verbs, &da) == 0) {
		resp = da.max_qp_rd_atom < resp ? da.max_qp_rd_atom : resp;
		init = da.max_qp_init_rd_atom < init ? da.max_qp_init_rd_atom : init;
	}
	/* Accepting: never offer more than the requester can use. */
	if (peer_init >= 0 && peer_init < resp)
		resp = peer_init;
	if (peer_resp >= 0 && peer_resp < init)
		init = peer_resp;
	vc_private_of(vc, priv);
	memset(cp, 0, sizeof(*cp));
	cp->private_data = priv;
	cp->private_data_len = 16;
	cp->responder_resources = (uint8_t)(resp > 0 ? resp : 0);
	cp->initiator_depth = (uint8_t)(init > 0 ? init : 0);
	cp->retry_count = 7;     /* transport retries before a dead peer is declared */
	cp->rnr_retry_count = 3; /* credits make RNR impossible; finite so a bug is loud */
}

/* Records what the connection ended up using (and checks gid=N). */
static int vc_established(struct verbs_chan *vc, const struct vc_private *peer, const struct verbs_params *p, char *err,
			  size_t err_len)
{
	vc->peer_msg_depth = peer->msg_depth;
	vc->peer_ctl_reserve = peer->ctl_reserve;
	vc->peer_sq_depth = peer->sq_depth;
	vc->established = true;
	vc->info.msg_depth = vc->peer_msg_depth;
	vc->info.peer_sq_depth = vc->peer_sq_depth;
	vc->info.qp_num = vc->id->qp->qp_num;
	vc->info.port_num = vc->id->port_num;
	sockaddr_str(rdma_get_local_addr(vc->id), vc->info.local, sizeof(vc->info.local));
	sockaddr_str(rdma_get_peer_addr(vc->id), vc->info.peer, sizeof(vc->info.peer));
	struct ibv_qp_attr qa;
	struct ibv_qp_init_attr qi;
	snprintf(vc->info.gid_type, sizeof(vc->info.gid_type), "?");
	if (ibv_query_qp(vc->id->qp, &qa, IBV_QP_AV, &qi) == 0) {
		vc->info.gid_index = qa.ah_attr.grh.sgid_index;
		if (qa.ah_attr.port_num)
			vc->info.port_num = qa.ah_attr.port_num;
		struct ibv_gid_entry ge;
		if (ibv_query_gid_ex(vc->id->verbs, vc->info.port_num, (uint32_t)vc->info.gid_index, &ge, 0) == 0)
			snprintf(vc->info.gid_type, sizeof(vc->info.gid_type), "%s",
				 ge.gid_type == IBV_GID_TYPE_ROCE_V2   ? "RoCE v2"
				 : ge.gid_type == IBV_GID_TYPE_ROCE_V1 ? "RoCE v1"
								       : "IB");
	}
	if (p && p->gid_index >= 0 && p->gid_index != vc->info.gid_index) {
		snprintf(err, err_len, "rdma_cm chose GID index %d (%s), not gid=%d", vc->info.gid_index,
			 vc->info.gid_type, p->gid_index);
		return -1;
	}
	return 0;
}

static int remaining_ms(uint64_t deadline)
{
	if (deadline == UINT64_MAX)
		return -1;
	uint64_t now = mono_ns();
	if (now >= deadline)
		return 0;
	uint64_t ms = (deadline - now + 999999) / 1000000;
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

static uint64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? UINT64_MAX : mono_ns() + (uint64_t)timeout_ms * 1000000ull;
}

/* Waits for the next event on a (non-blocking) cm channel. 0 with *out
 * set (caller acks), or -1 with err ("timeout" or the poll error). */
static int cm_next_event(struct rdma_event_channel *ec, uint64_t deadline, struct rdma_cm_event **out, char *err,
			 size_t err_len)
{
	for (;;) {
		if (rdma_get_cm_event(ec, out) == 0)
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			snprintf(err, err_len, "rdma_get_cm_event: %s", strerror(errno));
			return -1;
		}
		int ms = remaining_ms(deadline);
		if (ms == 0) {
			snprintf(err, err_len, "timeout");
			return -1;
		}
		struct pollfd pfd = { .fd = ec->fd, .events = POLLIN };
		if (poll(&pfd, 1, ms) < 0 && errno != EINTR) {
			snprintf(err, err_len, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

/* Waits for `want`; anything else is the error it stands for. */
static int cm_expect(struct rdma_event_channel *ec, enum rdma_cm_event_type want, uint64_t deadline,
		     struct rdma_cm_event **out, const char *what, char *err, size_t err_len)
{
	char why[128];
	if (cm_next_event(ec, deadline, out, why, sizeof(why)) < 0) {
		snprintf(err, err_len, "%s: %s", what, why);
		return -1;
	}
	if ((*out)->event == want)
		return 0;
	int status = (*out)->status;
	enum rdma_cm_event_type got = (*out)->event;
	rdma_ack_cm_event(*out);
	*out = NULL;
	if (got == RDMA_CM_EVENT_REJECTED)
		snprintf(err, err_len, "%s: rejected by the peer (reason %d: nobody listening, or refused)", what, status);
	else if (got == RDMA_CM_EVENT_UNREACHABLE)
		snprintf(err, err_len, "%s: peer unreachable (status %d)", what, status);
	else
		snprintf(err, err_len, "%s: %s (status %d%s%s)", what, rdma_event_str(got), status,
			 status < 0 ? ": " : "", status < 0 ? strerror(-status) : "");
	return -1;
}

struct chan *verbs_connect(const char *addr, uint16_t port, const struct verbs_params *p, int timeout_ms, char *err,
			   size_t err_len)
{
	char tmp[8];
	if (!err) {
		err = tmp;
		err_len = sizeof(tmp);
	}
	if (!addr || !*addr || port == 0) {
		snprintf(err, err_len, "verbs_connect: an address and a port 1..65535 are needed");
		return NULL;
	}
	struct sockaddr_storage dst, src;
	if (resolve(addr, port, &dst, err, err_len) < 0)
		return NULL;
	bool has_src = p && p->src_addr && *p->src_addr;
	if (has_src && resolve(p->src_addr, 0, &src, err, err_len) < 0)
		return NULL;
	struct verbs_chan *vc = vc_alloc(p, err, err_len);
	if (!vc)
		return NULL;
	uint64_t deadline = deadline_of(timeout_ms);
	struct rdma_cm_event *ev = NULL;
	char where[96];
	snprintf(where, sizeof(where), "connect to %s:%u", addr, port);
	vc->ec = rdma_create_event_channel();
	if (!vc->ec) {
		snprintf(err, err_len, "%s: rdma_create_event_channel: %s (is rdma_ucm loaded?)", where, strerror(errno));
		goto fail;
	}
	if (set_nonblock(vc->ec->fd) < 0 || rdma_create_id(vc->ec, &vc->id, vc, RDMA_PS_TCP) != 0) {
		snprintf(err, err_len, "%s: rdma_create_id: %s", where, strerror(errno));
		goto fail;
	}
	int ms = remaining_ms(deadline);
	if (rdma_resolve_addr(vc->id, has_src ? (struct sockaddr *)&src : NULL, (struct sockaddr *)&dst,
			      ms < 0 || ms > VC_RESOLVE_MS ? VC_RESOLVE_MS : (ms ? ms : 1)) != 0) {
		snprintf(err, err_len, "%s: rdma_resolve_addr: %s", where, strerror(errno));
		goto fail;
	}
	if (cm_expect(vc->ec, RDMA_CM_EVENT_ADDR_RESOLVED, deadline, &ev, where, err, err_len) < 0)
		goto fail;
	rdma_ack_cm_event(ev);
	char what[160];
	snprintf(what, sizeof(what), "%s: the local address", where);
	if (vc_check_dev(vc->id->verbs, p ? p->dev : NULL, what, err, err_len) < 0)
		goto fail;
	ms = remaining_ms(deadline);
	if (rdma_resolve_route(vc->id, ms < 0 || ms > VC_RESOLVE_MS ? VC_RESOLVE_MS : (ms ? ms : 1)) != 0) {
		snprintf(err, err_len, "%s: rdma_resolve_route: %s", where, strerror(errno));
		goto fail;
	}
	if (cm_expect(vc->ec, RDMA_CM_EVENT_ROUTE_RESOLVED, deadline, &ev, where, err, err_len) < 0)
		goto fail;
	rdma_ack_cm_event(ev);
	char why[200];
	if (vc_setup_qp(vc, why, sizeof(why)) < 0) {
		snprintf(err, err_len, "%s: %s", where, why);
		goto fail;
	}
	struct rdma_conn_param cp;
	uint8_t priv[16];
	vc_conn_param(vc, &cp, priv, -1, -1);
	if (rdma_connect(vc->id, &cp) != 0) {
		snprintf(err, err_len, "%s: rdma_connect: %s", where, strerror(errno));
		goto fail;
	}
	if (cm_expect(vc->ec, RDMA_CM_EVENT_ESTABLISHED, deadline, &ev, where, err, err_len) < 0)
		goto fail;
	struct vc_private peer;
	int bad = decode_private(ev->param.conn.private_data, ev->param.conn.private_data_len, &peer);
	rdma_ack_cm_event(ev);
	vc->established = true; /* from here a failure must disconnect */
	if (bad) {
		snprintf(err, err_len, "%s: the listener is not a BlueTAS verbs channel (bad reply)", where);
		goto fail;
	}
	if (vc_established(vc, &peer, p, why, sizeof(why)) < 0) {
		snprintf(err, err_len, "%s: %s", where, why);
		goto fail;
	}
	return &vc->chan;
fail:
	vc_free(vc);
	return NULL;
}

struct verbs_listener *verbs_listen(const char *bind_addr, uint16_t port, const struct verbs_params *p, char *err,
				    size_t err_len)
{
	char tmp[8];
	if (!err) {
		err = tmp;
		err_len = sizeof(tmp);
	}
	struct verbs_listener *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	if (p)
		l->p = *p;
	else
		verbs_default_params(&l->p);
	if (l->p.dev) {
		snprintf(l->dev, sizeof(l->dev), "%s", l->p.dev);
		l->p.dev = l->dev;
	}
	l->p.src_addr = NULL;
	struct sockaddr_storage sa;
	char where[96];
	snprintf(where, sizeof(where), "listen on %s:%u", bind_addr && *bind_addr ? bind_addr : "*", port);
	if (resolve(bind_addr && *bind_addr ? bind_addr : "0.0.0.0", port, &sa, err, err_len) < 0)
		goto fail;
	l->ec = rdma_create_event_channel();
	if (!l->ec) {
		snprintf(err, err_len, "%s: rdma_create_event_channel: %s (is rdma_ucm loaded?)", where, strerror(errno));
		goto fail;
	}
	if (set_nonblock(l->ec->fd) < 0 || rdma_create_id(l->ec, &l->id, l, RDMA_PS_TCP) != 0) {
		snprintf(err, err_len, "%s: rdma_create_id: %s", where, strerror(errno));
		goto fail;
	}
	if (rdma_bind_addr(l->id, (struct sockaddr *)&sa) != 0) {
		snprintf(err, err_len, "%s: rdma_bind_addr: %s%s", where, strerror(errno),
			 errno == ENODEV || errno == EADDRNOTAVAIL ? " (no RDMA device has this address)" : "");
		goto fail;
	}
	/* A specific address pins the device now; a wildcard one is checked
	 * for every connection in verbs_accept. */
	if (l->id->verbs && vc_check_dev(l->id->verbs, l->p.dev, where, err, err_len) < 0)
		goto fail;
	if (rdma_listen(l->id, 64) != 0) {
		snprintf(err, err_len, "%s: rdma_listen: %s", where, strerror(errno));
		goto fail;
	}
	struct sockaddr *bound = rdma_get_local_addr(l->id);
	l->port = bound && bound->sa_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)bound)->sin6_port)
		  : bound ? ntohs(((struct sockaddr_in *)bound)->sin_port)
			  : port;
	return l;
fail:
	verbs_listener_destroy(l);
	return NULL;
}

int verbs_listener_fd(const struct verbs_listener *l)
{
	return l && l->ec ? l->ec->fd : -1;
}

uint16_t verbs_listener_port(const struct verbs_listener *l)
{
	return l ? l->port : 0;
}

void verbs_listener_destroy(struct verbs_listener *l)
{
	if (!l)
		return;
	if (l->id)
		rdma_destroy_id(l->id);
	if (l->ec)
		rdma_destroy_event_channel(l->ec);
	free(l);
}

struct chan *verbs_accept(struct verbs_listener *l, int timeout_ms, char *err, size_t err_len)
{
	char tmp[8];
	if (!err) {
		err = tmp;
		err_len = sizeof(tmp);
	}
	if (!l) {
		snprintf(err, err_len, "verbs_accept: no listener");
		return NULL;
	}
	uint64_t deadline = deadline_of(timeout_ms);
	struct rdma_cm_event *ev = NULL;
	for (;;) {
		if (cm_next_event(l->ec, deadline, &ev, err, err_len) < 0)
			return NULL;
		if (ev->event == RDMA_CM_EVENT_CONNECT_REQUEST)
			break;
		enum rdma_cm_event_type type = ev->event;
		rdma_ack_cm_event(ev);
		if (type == RDMA_CM_EVENT_DEVICE_REMOVAL) {
			snprintf(err, err_len, "accept: the RDMA device was removed");
			return NULL;
		}
	}
	struct rdma_cm_id *id = ev->id;
	struct vc_private peer;
	int bad = decode_private(ev->param.conn.private_data, ev->param.conn.private_data_len, &peer);
	int peer_init = ev->param.conn.initiator_depth, peer_resp = ev->param.conn.responder_resources;
	rdma_ack_cm_event(ev);
	char from[VERBS_NAME_MAX];
	sockaddr_str(rdma_get_peer_addr(id), from, sizeof(from));
	if (bad) {
		snprintf(err, err_len, "accept from %s: not a BlueTAS verbs client (bad private data): rejected", from);
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		return NULL;
	}
	char where[128];
	snprintf(where, sizeof(where), "accept from %s", from);
	if (vc_check_dev(id->verbs, l->p.dev, where, err, err_len) < 0) {
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		return NULL;
	}
	struct verbs_chan *vc = vc_alloc(&l->p, err, err_len);
	if (!vc) {
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		return NULL;
	}
	/* The connection's own event channel, so its DISCONNECTED reaches
	 * its owner and nobody else. */
	vc->ec = rdma_create_event_channel();
	if (!vc->ec || set_nonblock(vc->ec->fd) < 0 || rdma_migrate_id(id, vc->ec) != 0) {
		snprintf(err, err_len, "%s: cannot give the connection its own event channel: %s", where, strerror(errno));
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		vc_free(vc);
		return NULL;
	}
	vc->id = id;
	id->context = vc;
	char why[200];
	if (vc_setup_qp(vc, why, sizeof(why)) < 0) {
		snprintf(err, err_len, "%s: %s", where, why);
		rdma_reject(id, NULL, 0);
		vc_free(vc);
		return NULL;
	}
	struct rdma_conn_param cp;
	uint8_t priv[16];
	vc_conn_param(vc, &cp, priv, peer_init, peer_resp);
	if (rdma_accept(id, &cp) != 0) {
		snprintf(err, err_len, "%s: rdma_accept: %s", where, strerror(errno));
		vc_free(vc);
		return NULL;
	}
	/* The requester answers within a round trip: give it that even when
	 * the caller only polled for a request. */
	int ms = remaining_ms(deadline);
	uint64_t est_deadline = ms >= 0 && ms < VC_ESTABLISH_MIN_MS ? deadline_of(VC_ESTABLISH_MIN_MS) : deadline;
	if (cm_expect(vc->ec, RDMA_CM_EVENT_ESTABLISHED, est_deadline, &ev, where, err, err_len) < 0) {
		vc_free(vc);
		return NULL;
	}
	rdma_ack_cm_event(ev);
	vc->established = true;
	if (vc_established(vc, &peer, &l->p, why, sizeof(why)) < 0) {
		snprintf(err, err_len, "%s: %s", where, why);
		vc_free(vc);
		return NULL;
	}
	return &vc->chan;
}
