/*
 * ipc_nic.c: the daemon's end of the ipc channel and the listener. The
 * daemon is the DMA engine: it executes the application's work requests
 * (progress(), run by every call on this end) and its own operations (at
 * post time), copying between its own registered memory and the
 * application's segments, after checking keys, permissions and bounds.
 *
 * Everything in the control area and in the segments is written by the
 * application and may be hostile: entries are copied before they are
 * checked, indices are checked against the rings, and a violation breaks
 * this application's link with a reason. Nothing the application does can
 * make the daemon touch memory outside that application's segments.
 */
#define _GNU_SOURCE
#include "ipc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct nic_region {
	uint64_t base; /* host address (application regions) or ours */
	uint64_t len;
	uint32_t lkey, rkey, access;
};

struct nic_seg {
	uint32_t id;
	uint64_t host_start, len;
	uint8_t *map;
};

struct nic_cqe {
	struct chan_completion c;
	uint64_t seq;
};

struct ipc_nic {
	struct chan chan; /* first: the ops recover the end by a cast */
	int sock;
	struct ipc_ctl *ctl;
	uint64_t ctl_len;
	struct ipc_wr *wr;
	struct ipc_cqe *hcq;
	struct ipc_msg *msgq;
	uint32_t sq, msgd, wr_cap;
	uint64_t wr_cons, hcq_prod, msg_prod; /* ours: never read back from shared memory */
	/* the application's regions and segments, as its WRs announced them */
	struct nic_region *hreg;
	uint32_t n_hreg;
	struct nic_seg segs[IPC_MAX_SEGS];
	uint32_t n_segs;
	/* our own regions and send queue */
	struct nic_region *own;
	uint32_t n_own;
	struct nic_cqe *cq;
	uint32_t cq_head, cq_len;
	uint64_t posted, retired;
	/* the application's messages, moved out of the WR ring */
	struct ipc_msg *inbox;
	uint32_t in_head, in_len;
	uint64_t msgs_polled;
	int broken;
	char why[96];
	int wake_fd;     /* the application's wakeup eventfd (ipc_proto.h) */
	bool wake_muted; /* test hook: never written (ipc_nic_mute_wake_fd) */
	struct ipc_chan_stats st;
};

static struct ipc_nic *nic_of(struct chan *ch) { return (struct ipc_nic *)ch; }

static bool in_bounds(uint64_t off, uint64_t len, uint64_t region_len)
{
	return !(off > region_len || len > region_len - off);
}

static void nic_break(struct ipc_nic *e, int status, const char *why);

/* The eventfd is the application's too: it could make it blocking and
 * fill its counter to stall the daemon in write(2). Both are refused
 * before they can block (the flag is looked at before each write; an
 * application racing its own fcntl against that look is the one gap, and
 * it stalls only until it reads the eventfd). */
static void signal_wake_fd(struct ipc_nic *e)
{
	int fl = fcntl(e->wake_fd, F_GETFL);
	uint64_t one = 1;
	if (fl < 0 || !(fl & O_NONBLOCK)) {
		e->wake_muted = true;
		nic_break(e, CHAN_EIO, "misbehaving application: wakeup eventfd made blocking");
	} else if (write(e->wake_fd, &one, sizeof(one)) != (ssize_t)sizeof(one)) {
		e->wake_muted = true;
		nic_break(e, CHAN_EIO, "misbehaving application: wakeup eventfd full");
	} else {
		e->st.fd_wakeups_sent++;
	}
}

static void kick_host(struct ipc_nic *e)
{
	if (ipc_kick(&e->ctl->host_sleeping, &e->ctl->host_futex))
		e->st.wakeups_sent++;
	/* After ipc_kick's fence, as the futex flag: pairs with the fence in
	 * host_wait_fd_arm. */
	if (!e->wake_muted && __atomic_load_n(&e->ctl->host_fd_sleepers, __ATOMIC_RELAXED))
		signal_wake_fd(e);
}

static bool host_cq_push(struct ipc_nic *e, const struct ipc_wr *w, int status)
{
	uint64_t cons = ipc_load(&e->ctl->cq_cons.v);
	if (cons > e->hcq_prod || e->hcq_prod - cons >= e->sq)
		return false; /* the application overran its send queue, or lies */
	e->hcq[e->hcq_prod % e->sq] =
		(struct ipc_cqe){.wr_id = w->wr_id, .seq = w->seq, .status = status, .len = w->len, .opcode = w->opcode};
	e->hcq_prod++;
	return true;
}

/* Breaks the link: the application's WRs not yet executed complete with
 * CHAN_EFLUSHED, and `broken` is published last, after which the daemon
 * writes nothing more into the control area. */
static void nic_break(struct ipc_nic *e, int status, const char *why)
{
	if (e->broken)
		return;
	e->broken = status;
	snprintf(e->why, sizeof(e->why), "%s", why);
	uint64_t prod = ipc_load(&e->ctl->wr_prod.v);
	if (prod < e->wr_cons || prod - e->wr_cons > e->wr_cap)
		prod = e->wr_cons;
	for (; e->wr_cons < prod; e->wr_cons++) {
		struct ipc_wr w = e->wr[e->wr_cons % e->wr_cap];
		if ((w.opcode == CHAN_OP_READ || w.opcode == CHAN_OP_WRITE) && !host_cq_push(e, &w, CHAN_EFLUSHED))
			break;
	}
	ipc_store(&e->ctl->wr_cons.v, e->wr_cons);
	ipc_store(&e->ctl->wr_cons_at_break, e->wr_cons);
	ipc_store(&e->ctl->cq_prod.v, e->hcq_prod);
	memcpy(e->ctl->broken_why, e->why, sizeof(e->ctl->broken_why));
	__atomic_store_n(&e->ctl->broken, status, __ATOMIC_RELEASE);
	kick_host(e);
}

static struct nic_region *find_key(struct nic_region *t, uint32_t n, uint32_t key, bool remote)
{
	for (uint32_t i = 0; key && i < n; i++)
		if ((remote ? t[i].rkey : t[i].lkey) == key)
			return &t[i];
	return NULL;
}

static struct nic_seg *seg_at(struct ipc_nic *e, uint64_t hva)
{
	for (uint32_t i = 0; i < e->n_segs; i++) {
		struct nic_seg *s = &e->segs[i];
		if (hva >= s->host_start && hva - s->host_start < s->len)
			return s;
	}
	return NULL;
}

/* Whether segments cover every byte of [hva, hva+len): a region may span
 * several (ipc_host.c never merges them). Checked in full before any byte
 * moves, so a refused access touches nothing. */
static bool host_range_ok(struct ipc_nic *e, uint64_t hva, uint64_t len)
{
	if (hva > UINT64_MAX - len)
		return false;
	while (len) {
		struct nic_seg *s = seg_at(e, hva);
		if (!s)
			return false;
		uint64_t n = s->len - (hva - s->host_start);
		n = n < len ? n : len;
		hva += n;
		len -= n;
	}
	return true;
}

/* Copies between the application's memory at `hva` and ours at `p`. */
static void host_copy(struct ipc_nic *e, uint64_t hva, uint8_t *p, uint64_t len, bool to_host)
{
	while (len) {
		struct nic_seg *s = seg_at(e, hva);
		uint64_t n = s->len - (hva - s->host_start);
		n = n < len ? n : len;
		uint8_t *h = s->map + (hva - s->host_start);
		/* memmove: our own memory may be registered on both ends in a test */
		if (to_host)
			memmove(h, p, n);
		else
			memmove(p, h, n);
		hva += n;
		p += n;
		len -= n;
	}
}

/* One application WR: READ or WRITE between its region (local) and ours
 * (remote). Returns the completion status. */
static int exec_host_op(struct ipc_nic *e, const struct ipc_wr *w)
{
	struct nic_region *loc = find_key(e->hreg, e->n_hreg, w->lkey, false);
	if (!loc || !in_bounds(w->loff, w->len, loc->len) || !host_range_ok(e, loc->base + w->loff, w->len))
		return CHAN_ELOCAL;
	struct nic_region *rem = find_key(e->own, e->n_own, w->rkey, true);
	uint32_t need = w->opcode == CHAN_OP_READ ? CHAN_ACCESS_REMOTE_READ : CHAN_ACCESS_REMOTE_WRITE;
	if (!rem || !(rem->access & need) || !in_bounds(w->roff, w->len, rem->len) ||
	    (w->raddr != 0 && w->raddr != rem->base)) {
		e->st.access_errors++;
		return CHAN_EACCESS;
	}
	uint8_t *rp = (uint8_t *)(uintptr_t)rem->base + w->roff;
	if (w->opcode == CHAN_OP_READ) {
		host_copy(e, loc->base + w->loff, rp, w->len, true);
		e->st.reads++;
		e->st.bytes_read += w->len;
	} else {
		host_copy(e, loc->base + w->loff, rp, w->len, false);
		e->st.writes++;
		e->st.bytes_written += w->len;
	}
	return CHAN_OK;
}

static int take_segment(struct ipc_nic *e, uint32_t id, char *why, size_t cap)
{
	struct ipc_sock_msg m;
	int fd;
	if (ipc_sock_recv(e->sock, &m, &fd, 0) != 0) {
		snprintf(why, cap, "segment %u announced but not sent", id);
		return -1;
	}
	struct stat sb;
	int seals = fd >= 0 ? fcntl(fd, F_GET_SEALS) : -1;
	int rc = -1;
	if (m.type != IPC_SOCK_SEG || m.seg_id != id || fd < 0)
		snprintf(why, cap, "malformed segment message");
	else if (seals < 0 || !(seals & F_SEAL_SHRINK))
		snprintf(why, cap, "segment %u is not a memfd sealed against shrinking", id);
	else if (fstat(fd, &sb) != 0 || m.len_bytes == 0 || m.len_bytes > IPC_MAX_SEG_BYTES ||
		 (uint64_t)sb.st_size < m.len_bytes || m.host_start > UINT64_MAX - m.len_bytes)
		snprintf(why, cap, "segment %u has a bad size", id);
	else if (e->n_segs == IPC_MAX_SEGS)
		snprintf(why, cap, "more than %u segments", IPC_MAX_SEGS);
	else {
		void *map = mmap(NULL, m.len_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED) {
			snprintf(why, cap, "mapping segment %u: %s", id, strerror(errno));
		} else {
			e->segs[e->n_segs++] = (struct nic_seg){.id = id, .host_start = m.host_start,
								.len = m.len_bytes, .map = map};
			e->st.segments = e->n_segs;
			rc = 0;
		}
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Control entries: registrations and segments. 0, or -1 with why. */
static int exec_ctl(struct ipc_nic *e, const struct ipc_wr *w, char *why, size_t cap)
{
	switch (w->opcode) {
	case IPC_WR_REG:
		if (e->n_hreg == IPC_MAX_REGIONS) {
			snprintf(why, cap, "more than %u regions", IPC_MAX_REGIONS);
			return -1;
		}
		if (!w->lkey || !w->rkey || w->lkey == w->rkey || find_key(e->hreg, e->n_hreg, w->lkey, false) ||
		    find_key(e->hreg, e->n_hreg, w->rkey, true) || w->roff == 0 ||
		    (w->flags & ~(uint32_t)(CHAN_ACCESS_REMOTE_READ | CHAN_ACCESS_REMOTE_WRITE))) {
			snprintf(why, cap, "malformed or duplicate region registration");
			return -1;
		}
		e->hreg[e->n_hreg++] = (struct nic_region){.base = w->loff, .len = w->roff, .lkey = w->lkey,
							   .rkey = w->rkey, .access = w->flags};
		e->st.regions = e->n_hreg;
		return 0;
	case IPC_WR_DEREG: {
		struct nic_region *r = find_key(e->hreg, e->n_hreg, w->lkey, false);
		if (r) {
			*r = e->hreg[--e->n_hreg];
			e->st.regions = e->n_hreg;
		}
		return 0;
	}
	case IPC_WR_SEG:
		return take_segment(e, w->lkey, why, cap);
	case IPC_WR_SEG_DROP:
		for (uint32_t i = 0; i < e->n_segs; i++)
			if (e->segs[i].id == w->lkey) {
				munmap(e->segs[i].map, e->segs[i].len);
				e->segs[i] = e->segs[--e->n_segs];
				e->st.segments = e->n_segs;
				break;
			}
		return 0;
	default:
		snprintf(why, cap, "unknown work request opcode %u", w->opcode);
		return -1;
	}
}

/* Executes up to IPC_BUDGET of the application's work requests in order. */
static void progress(struct ipc_nic *e)
{
	if (e->broken)
		return;
	if (__atomic_load_n(&e->ctl->host_gone, __ATOMIC_ACQUIRE)) {
		nic_break(e, CHAN_EDISCONNECTED, "the application closed its end");
		return;
	}
	uint64_t prod = ipc_load(&e->ctl->wr_prod.v);
	if (prod == e->wr_cons)
		return;
	if (prod < e->wr_cons || prod - e->wr_cons > e->wr_cap) {
		nic_break(e, CHAN_EIO, "misbehaving application: work-request index past its ring");
		return;
	}
	bool cq_written = false;
	for (uint32_t n = 0; n < IPC_BUDGET && e->wr_cons < prod && !e->broken; n++) {
		/* A private copy: the application cannot change it under us. */
		struct ipc_wr w = e->wr[e->wr_cons % e->wr_cap];
		char why[96];
		if (w.opcode == CHAN_OP_MSG) {
			if (w.len == 0 || w.len > CHAN_MSG_MAX_BYTES) {
				nic_break(e, CHAN_EIO, "misbehaving application: message length out of range");
				break;
			}
			if (e->in_len == e->msgd) {
				nic_break(e, CHAN_EIO, "misbehaving application: message sent without credit");
				break;
			}
			struct ipc_msg *m = &e->inbox[(e->in_head + e->in_len++) % e->msgd];
			m->len = w.len;
			memcpy(m->data, w.msg, w.len);
			e->st.msgs_received++;
		} else if (w.opcode == CHAN_OP_READ || w.opcode == CHAN_OP_WRITE) {
			int status = exec_host_op(e, &w);
			if (status != CHAN_OK || (w.flags & CHAN_WR_SIGNALED)) {
				if (!host_cq_push(e, &w, status)) {
					nic_break(e, CHAN_EIO, "misbehaving application: completion queue overrun");
					break;
				}
				cq_written = true;
			}
			if (status != CHAN_OK) {
				e->wr_cons++;
				ipc_store(&e->ctl->cq_prod.v, e->hcq_prod);
				nic_break(e, status, status == CHAN_EACCESS ? "remote access refused (key, bounds or permission)"
									    : "local region refused");
				return;
			}
		} else if (exec_ctl(e, &w, why, sizeof(why)) != 0) {
			char full[128];
			snprintf(full, sizeof(full), "misbehaving application: %.70s", why);
			nic_break(e, CHAN_EIO, full);
			break;
		}
		e->wr_cons++;
	}
	if (e->broken)
		return;
	ipc_store(&e->ctl->wr_cons.v, e->wr_cons);
	if (cq_written) {
		ipc_store(&e->ctl->cq_prod.v, e->hcq_prod);
		kick_host(e);
	}
}

int ipc_nic_check(struct chan *ch)
{
	struct ipc_nic *e = nic_of(ch);
	progress(e);
	if (!e->broken && ipc_sock_hung_up(e->sock))
		nic_break(e, CHAN_EDISCONNECTED, "the application is gone (socket closed)");
	return e->broken;
}

static void nic_info(struct chan *ch, struct chan_info *out)
{
	struct ipc_nic *e = nic_of(ch);
	if (out)
		*out = (struct chan_info){.backend = "ipc", .sq_depth = e->sq, .msg_depth = e->msgd,
					  /* base or 0 only; consumer index published on poll; random keys */
					  .addr_mode = CHAN_ADDR_EXACT, .credit_mode = CHAN_CREDIT_ON_POLL, .keys_reused = 1};
}

static int nic_mr_register(struct chan *ch, void *base, uint64_t len, uint32_t access, struct chan_mr *out)
{
	struct ipc_nic *e = nic_of(ch);
	progress(e);
	if (!base || len == 0 || !out || (access & ~(uint32_t)(CHAN_ACCESS_REMOTE_READ | CHAN_ACCESS_REMOTE_WRITE)))
		return CHAN_EINVAL;
	if (len - 1 > (uint64_t)UINTPTR_MAX - (uintptr_t)base)
		return CHAN_EINVAL;
	if (e->n_own == IPC_MAX_REGIONS)
		return CHAN_ENOMEM;
	struct nic_region r = {.base = (uint64_t)(uintptr_t)base, .len = len, .access = access};
	do
		r.lkey = ipc_random_key();
	while (find_key(e->own, e->n_own, r.lkey, false) || find_key(e->own, e->n_own, r.lkey, true));
	do
		r.rkey = ipc_random_key();
	while (r.rkey == r.lkey || find_key(e->own, e->n_own, r.rkey, false) ||
	       find_key(e->own, e->n_own, r.rkey, true));
	e->own[e->n_own++] = r;
	*out = (struct chan_mr){.base = base, .len_bytes = len, .lkey = r.lkey, .rkey = r.rkey, .access = access};
	return CHAN_OK;
}

static int nic_mr_deregister(struct chan *ch, struct chan_mr *mr)
{
	struct ipc_nic *e = nic_of(ch);
	progress(e);
	struct nic_region *r = mr ? find_key(e->own, e->n_own, mr->lkey, false) : NULL;
	if (!r || r->rkey != mr->rkey)
		return CHAN_EINVAL;
	*r = e->own[--e->n_own];
	return CHAN_OK;
}

static void own_cq_push(struct ipc_nic *e, uint64_t seq, uint64_t wr_id, int status, uint8_t op, uint32_t len)
{
	struct nic_cqe *q = &e->cq[(e->cq_head + e->cq_len++) % e->sq];
	q->c = (struct chan_completion){.wr_id = wr_id, .status = status, .opcode = op, .len_bytes = len};
	q->seq = seq;
}

/* Our operations execute now, in posting order by construction. */
static int post_op(struct chan *ch, uint8_t opcode, struct chan_sge_local local, struct chan_sge_remote remote,
		   uint32_t len, uint64_t wr_id, uint32_t flags)
{
	struct ipc_nic *e = nic_of(ch);
	progress(e);
	if (e->broken)
		return CHAN_EDISCONNECTED;
	if (len == 0 || !local.mr || !remote.mr)
		return CHAN_EINVAL;
	struct nic_region *loc = find_key(e->own, e->n_own, local.mr->lkey, false);
	if (!loc || !in_bounds(local.off, len, loc->len))
		return CHAN_ELOCAL;
	if (e->posted - e->retired >= e->sq)
		return CHAN_EAGAIN;
	uint64_t seq = e->posted++;
	struct nic_region *rem = find_key(e->hreg, e->n_hreg, remote.mr->rkey, true);
	uint32_t need = opcode == CHAN_OP_READ ? CHAN_ACCESS_REMOTE_READ : CHAN_ACCESS_REMOTE_WRITE;
	if (!(rem && (rem->access & need) && in_bounds(remote.off, len, rem->len) &&
	      (remote.mr->addr == 0 || remote.mr->addr == rem->base) && host_range_ok(e, rem->base + remote.off, len))) {
		e->st.access_errors++;
		own_cq_push(e, seq, wr_id, CHAN_EACCESS, opcode, len);
		nic_break(e, CHAN_EACCESS, "remote access refused (key, bounds or permission)");
		return CHAN_OK; /* the error is the completion's, as on a real NIC */
	}
	uint8_t *lp = (uint8_t *)(uintptr_t)loc->base + local.off;
	if (opcode == CHAN_OP_READ) {
		host_copy(e, rem->base + remote.off, lp, len, false);
		e->st.reads++;
		e->st.bytes_read += len;
	} else {
		host_copy(e, rem->base + remote.off, lp, len, true);
		e->st.writes++;
		e->st.bytes_written += len;
	}
	if (flags & CHAN_WR_SIGNALED)
		own_cq_push(e, seq, wr_id, CHAN_OK, opcode, len);
	return CHAN_OK;
}

static int nic_post_read(struct chan *ch, struct chan_sge_local l, struct chan_sge_remote r, uint32_t len,
			 uint64_t wr_id, uint32_t flags)
{
	return post_op(ch, CHAN_OP_READ, l, r, len, wr_id, flags);
}

static int nic_post_write(struct chan *ch, struct chan_sge_local l, struct chan_sge_remote r, uint32_t len,
			  uint64_t wr_id, uint32_t flags)
{
	return post_op(ch, CHAN_OP_WRITE, l, r, len, wr_id, flags);
}

static int nic_post_msg(struct chan *ch, const void *msg, uint32_t len)
{
	struct ipc_nic *e = nic_of(ch);
	progress(e);
	if (e->broken)
		return CHAN_EDISCONNECTED;
	int bad = chan_msg_check(msg, len);
	if (bad)
		return bad;
	uint64_t cons = ipc_load(&e->ctl->msg_cons.v);
	if (cons > e->msg_prod) {
		nic_break(e, CHAN_EIO, "misbehaving application: message index past its ring");
		return CHAN_EDISCONNECTED;
	}
	if (e->msg_prod - cons >= e->msgd)
		return CHAN_EAGAIN;
	struct ipc_msg *m = &e->msgq[e->msg_prod % e->msgd];
	m->len = len;
	memcpy(m->data, msg, len);
	e->msg_prod++;
	ipc_store(&e->ctl->msg_prod.v, e->msg_prod);
	e->st.msgs_sent++;
	kick_host(e);
	return CHAN_OK;
}

static int nic_poll_msg(struct chan *ch, void *buf, uint32_t cap, uint32_t *len_out)
{
	struct ipc_nic *e = nic_of(ch);
	progress(e);
	if (e->in_len == 0)
		return e->broken ? CHAN_EDISCONNECTED : 0;
	const struct ipc_msg *m = &e->inbox[e->in_head];
	if (!buf || !len_out || cap < m->len)
		return CHAN_EINVAL;
	memcpy(buf, m->data, m->len);
	*len_out = m->len;
	e->in_head = (e->in_head + 1) % e->msgd;
	e->in_len--;
	/* The receive slot is free again: the application's credit. */
	if (!e->broken)
		ipc_store(&e->ctl->h2n_msgs_used.v, ++e->msgs_polled);
	return 1;
}

static int nic_poll_cq(struct chan *ch, struct chan_completion *out, int max)
{
	struct ipc_nic *e = nic_of(ch);
	progress(e);
	if (max < 0 || (max > 0 && !out))
		return CHAN_EINVAL;
	int n = 0;
	for (; n < max && e->cq_len; n++) {
		const struct nic_cqe *q = &e->cq[e->cq_head];
		out[n] = q->c;
		e->retired = q->seq + 1;
		e->cq_head = (e->cq_head + 1) % e->sq;
		e->cq_len--;
	}
	return n;
}

static uint64_t nic_next_event_ns(struct chan *ch)
{
	progress(nic_of(ch));
	return BT_TIME_NEVER;
}

static bool nic_ready(struct ipc_nic *e)
{
	return e->broken || e->in_len || e->cq_len || ipc_load(&e->ctl->wr_prod.v) != e->wr_cons ||
	       __atomic_load_n(&e->ctl->host_gone, __ATOMIC_ACQUIRE);
}

static int nic_wait(struct chan *ch, uint64_t timeout_ns)
{
	struct ipc_nic *e = nic_of(ch);
	progress(e);
	if (nic_ready(e))
		return e->broken ? CHAN_EDISCONNECTED : 0;
	uint32_t seq = __atomic_load_n(&e->ctl->nic_futex, __ATOMIC_ACQUIRE);
	__atomic_store_n(&e->ctl->nic_sleeping, 1, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_seq_cst);
	if (!nic_ready(e) && timeout_ns) {
		e->st.sleeps++;
		ipc_futex_wait(&e->ctl->nic_futex, seq, timeout_ns);
	}
	__atomic_store_n(&e->ctl->nic_sleeping, 0, __ATOMIC_RELAXED);
	ipc_nic_check(ch);
	return e->broken ? CHAN_EDISCONNECTED : 0;
}

static void nic_destroy(struct chan *ch)
{
	struct ipc_nic *e = nic_of(ch);
	progress(e);
	nic_break(e, CHAN_EDISCONNECTED, "the NIC daemon detached the application");
	close(e->sock);
	close(e->wake_fd);
	for (uint32_t i = 0; i < e->n_segs; i++)
		munmap(e->segs[i].map, e->segs[i].len);
	munmap(e->ctl, e->ctl_len);
	free(e->hreg);
	free(e->own);
	free(e->cq);
	free(e->inbox);
	free(e);
}

int ipc_nic_broken(const struct chan *ch) { return ((const struct ipc_nic *)ch)->broken; }

int ipc_nic_stats(const struct chan *ch, struct ipc_chan_stats *out)
{
	const struct ipc_nic *e = (const struct ipc_nic *)ch;
	*out = e->st;
	out->broken = e->broken;
	snprintf(out->broken_why, sizeof(out->broken_why), "%s", e->why);
	return 0;
}

void ipc_nic_mute_wake_fd(struct chan *ch)
{
	if (ch && ch->ops == &ipc_nic_ops)
		nic_of(ch)->wake_muted = true;
}

const struct chan_ops ipc_nic_ops = {
	.info = nic_info,
	.mr_register = nic_mr_register,
	.mr_deregister = nic_mr_deregister,
	.post_read = nic_post_read,
	.post_write = nic_post_write,
	.post_msg = nic_post_msg,
	.poll_msg = nic_poll_msg,
	.poll_cq = nic_poll_cq,
	.next_event_ns = nic_next_event_ns,
	.wait = nic_wait,
	.destroy = nic_destroy,
};

/* ---- listener ---- */

struct ipc_listener {
	int fd;
	char path[IPC_PATH_MAX];
};

struct ipc_listener *ipc_listen(const char *path, char *err, size_t err_len)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (!path || !*path || strlen(path) >= sizeof(a.sun_path)) {
		snprintf(err, err_len, "socket path must be 1 to %zu bytes", sizeof(a.sun_path) - 1);
		return NULL;
	}
	struct stat sb;
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			snprintf(err, err_len, "%s exists and is not a socket: not replacing it", path);
			return NULL;
		}
		unlink(path); /* a previous daemon's socket */
	}
	strcpy(a.sun_path, path);
	struct ipc_listener *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	snprintf(l->path, sizeof(l->path), "%s", path);
	l->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l->fd, 64) != 0) {
		snprintf(err, err_len, "listening on %s: %s", path, strerror(errno));
		if (l->fd >= 0)
			close(l->fd);
		free(l);
		return NULL;
	}
	return l;
}

int ipc_listener_fd(const struct ipc_listener *l) { return l->fd; }

static void refuse(int fd, const char *why)
{
	struct ipc_sock_msg m = {.type = IPC_SOCK_REFUSE, .magic = IPC_MAGIC, .version = IPC_VERSION};
	snprintf(m.text, sizeof(m.text), "%s", why);
	ipc_sock_send(fd, &m, -1);
}

static struct ipc_nic *nic_new(int fd, uint32_t sq, uint32_t msgd, int *ctl_fd, char *err, size_t err_len)
{
	struct ipc_nic *e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	e->chan.ops = &ipc_nic_ops;
	e->sock = fd;
	/* Non-blocking: a write never waits (signal_wake_fd checks the
	 * application left it so); the daemon never reads it. */
	e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->sq = sq;
	e->msgd = msgd;
	e->wr_cap = ipc_wr_cap(sq, msgd);
	e->ctl_len = ipc_ctl_bytes(e->wr_cap, sq, msgd);
	e->hreg = calloc(IPC_MAX_REGIONS, sizeof(*e->hreg));
	e->own = calloc(IPC_MAX_REGIONS, sizeof(*e->own));
	e->cq = calloc(sq, sizeof(*e->cq));
	e->inbox = calloc(msgd, sizeof(*e->inbox));
	*ctl_fd = memfd_create("bluetas-ipc-ctl", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *map = MAP_FAILED;
	if (e->hreg && e->own && e->cq && e->inbox && *ctl_fd >= 0 && ftruncate(*ctl_fd, (off_t)e->ctl_len) == 0 &&
	    fcntl(*ctl_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0)
		map = mmap(NULL, e->ctl_len, PROT_READ | PROT_WRITE, MAP_SHARED, *ctl_fd, 0);
	if (map == MAP_FAILED || e->wake_fd < 0) {
		snprintf(err, err_len, "creating the control area or the wakeup eventfd: %s", strerror(errno));
		if (map != MAP_FAILED)
			munmap(map, e->ctl_len);
		if (e->wake_fd >= 0)
			close(e->wake_fd);
		free(e->hreg);
		free(e->own);
		free(e->cq);
		free(e->inbox);
		free(e);
		return NULL;
	}
	e->ctl = map;
	*e->ctl = (struct ipc_ctl){.magic = IPC_MAGIC, .version = IPC_VERSION, .sq_depth = sq, .msg_depth = msgd,
				   .wr_cap = e->wr_cap};
	e->wr = (struct ipc_wr *)((uint8_t *)map + ipc_wr_ring_off());
	e->hcq = (struct ipc_cqe *)((uint8_t *)map + ipc_cq_ring_off(e->wr_cap));
	e->msgq = (struct ipc_msg *)((uint8_t *)map + ipc_msg_ring_off(e->wr_cap, sq));
	return e;
}

struct chan *ipc_accept(struct ipc_listener *l, int timeout_ms, char *err, size_t err_len)
{
	struct pollfd p = {.fd = l->fd, .events = POLLIN};
	if (poll(&p, 1, timeout_ms) <= 0) {
		snprintf(err, err_len, "timeout");
		return NULL;
	}
	int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_len, errno == EAGAIN ? "timeout" : "accept: %s", strerror(errno));
		return NULL;
	}
	struct ucred cr = {0};
	socklen_t cl = sizeof(cr);
	getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl);
	struct ipc_sock_msg m;
	int junk;
	if (ipc_sock_recv(fd, &m, &junk, IPC_HELLO_WAIT_MS) != 0 || m.type != IPC_SOCK_HELLO || junk >= 0) {
		if (junk >= 0)
			close(junk);
		snprintf(err, err_len, "application (pid %d) sent no HELLO within %d ms", (int)cr.pid, IPC_HELLO_WAIT_MS);
		refuse(fd, "expected HELLO");
		close(fd);
		return NULL;
	}
	if (m.magic != IPC_MAGIC || m.version != IPC_VERSION) {
		snprintf(err, err_len, "application (pid %d) speaks ipc version %u, not %u", (int)cr.pid, m.version,
			 IPC_VERSION);
		refuse(fd, "protocol version mismatch");
		close(fd);
		return NULL;
	}
	uint32_t sq = m.sq_depth ? m.sq_depth : IPC_DEFAULT_SQ, msgd = m.msg_depth ? m.msg_depth : IPC_DEFAULT_MSG;
	if (sq > IPC_MAX_DEPTH || msgd > IPC_MAX_DEPTH) {
		snprintf(err, err_len, "application (pid %d) asked for depths sq=%u msg=%u (at most %u)", (int)cr.pid, sq,
			 msgd, IPC_MAX_DEPTH);
		refuse(fd, "sq or msg depth too large");
		close(fd);
		return NULL;
	}
	int ctl_fd = -1;
	struct ipc_nic *e = nic_new(fd, sq, msgd, &ctl_fd, err, err_len);
	if (!e) {
		refuse(fd, "daemon out of memory");
		if (ctl_fd >= 0)
			close(ctl_fd);
		close(fd);
		return NULL;
	}
	e->st.peer_pid = cr.pid;
	struct ipc_sock_msg w = {.type = IPC_SOCK_WELCOME, .magic = IPC_MAGIC, .version = IPC_VERSION,
				 .sq_depth = sq, .msg_depth = msgd, .len_bytes = e->ctl_len};
	int src = ipc_sock_send(fd, &w, ctl_fd);
	close(ctl_fd);
	struct ipc_sock_msg wk = {.type = IPC_SOCK_WAKEFD, .magic = IPC_MAGIC, .version = IPC_VERSION};
	if (src == 0)
		src = ipc_sock_send(fd, &wk, e->wake_fd);
	if (src != 0) {
		snprintf(err, err_len, "application (pid %d) left during setup", (int)cr.pid);
		nic_destroy(&e->chan);
		return NULL;
	}
	return &e->chan;
}

void ipc_listener_destroy(struct ipc_listener *l)
{
	if (!l)
		return;
	close(l->fd);
	unlink(l->path);
	free(l);
}
