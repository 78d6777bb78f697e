/*
 * ipc_host.c: the application's end of the ipc channel. It writes work
 * requests into the shared WR ring and reads completions and messages the
 * daemon writes; the daemon does every data movement. Registration turns
 * the region's pages into a sealed memfd mapped in place (ipc_chan.h).
 */
#define _GNU_SOURCE
#include "ipc_internal.h"
#include "transports/chan_signal.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct host_region {
	uintptr_t base;
	uint64_t len;
	uintptr_t pages_start, pages_end; /* the pages holding it */
	uint32_t lkey, rkey, access;
};

/* A segment this connection's daemon has mapped, and how many of this
 * connection's regions lie on it. */
struct conn_seg {
	uintptr_t start, end;
	uint32_t id, refs;
};

/*
 * The process's segments. Turning pages into a memfd changes the address
 * space, which belongs to the process, not to one connection: a process
 * with two connections (two daemons, or a test) must back a page with ONE
 * memfd, sent to every daemon that needs it, or the first daemon would keep
 * a mapping the process no longer uses. Segments never overlap and never
 * change; a new registration creates memfds only for pages no segment
 * covers yet, so one region may span several segments. This is the only
 * process-wide state of the backend, hence the lock.
 */
struct proc_seg {
	uintptr_t start, end;
	int fd;          /* kept to send to later connections */
	uint32_t id;
	uint32_t users;  /* connections that mapped it */
};
static struct {
	pthread_mutex_t mu;
	struct proc_seg segs[IPC_MAX_SEGS];
	uint32_t n, next_id;
} g_segs = {.mu = PTHREAD_MUTEX_INITIALIZER};

struct ipc_host {
	struct chan chan; /* first: the ops recover the end by a cast */
	int sock;
	struct ipc_ctl *ctl;
	uint64_t ctl_len;
	struct ipc_wr *wr;
	struct ipc_cqe *cq;
	struct ipc_msg *msgq;
	uint32_t sq, msgd, wr_cap;
	uint64_t wr_prod, cq_cons, msg_cons;
	uint64_t posted, retired, msgs_posted;
	int broken;
	bool flushed; /* WRs the daemon never saw are flushed into the CQ */
	char why[96];
	struct host_region regions[IPC_MAX_REGIONS];
	uint32_t n_regions;
	struct conn_seg segs[IPC_MAX_SEGS];
	uint32_t n_segs;
	uint32_t empty_polls;
	uint64_t page;
	int wake_fd; /* the daemon's wakeup eventfd (wait_fd_arm) */
	struct ipc_chan_stats st;
};

static struct ipc_host *host_of(struct chan *ch) { return (struct ipc_host *)ch; }

/* The daemon stopped (broken flag) or vanished: every op it never
 * executed completes with CHAN_EFLUSHED, written by us into the CQ. The
 * daemon writes nothing after setting `broken`, so the CQ is ours now. */
static void host_flush(struct ipc_host *e, uint64_t from)
{
	if (e->flushed)
		return;
	e->flushed = true;
	uint64_t cq_prod = ipc_load(&e->ctl->cq_prod.v);
	if (from > e->wr_prod || e->wr_prod - from > e->wr_cap)
		from = e->wr_prod;
	for (uint64_t i = from; i < e->wr_prod; i++) {
		const struct ipc_wr *w = &e->wr[i % e->wr_cap];
		if (w->opcode != CHAN_OP_READ && w->opcode != CHAN_OP_WRITE)
			continue;
		if (cq_prod - e->cq_cons >= e->sq)
			break; /* cannot happen: outstanding ops fit the CQ */
		e->cq[cq_prod % e->sq] = (struct ipc_cqe){
			.wr_id = w->wr_id, .seq = w->seq, .status = CHAN_EFLUSHED, .len = w->len, .opcode = w->opcode};
		cq_prod++;
	}
	ipc_store(&e->ctl->cq_prod.v, cq_prod);
}

static void host_break(struct ipc_host *e, int status, const char *why)
{
	if (e->broken)
		return;
	e->broken = status;
	snprintf(e->why, sizeof(e->why), "%s", why);
	host_flush(e, ipc_load(&e->ctl->wr_cons.v));
}

/* Adopts the daemon's verdict once it set `broken`. */
static int host_state(struct ipc_host *e)
{
	if (e->broken)
		return e->broken;
	int b = __atomic_load_n(&e->ctl->broken, __ATOMIC_ACQUIRE);
	if (b) {
		e->broken = b < 0 && b >= CHAN_EIO ? b : CHAN_EDISCONNECTED;
		memcpy(e->why, e->ctl->broken_why, sizeof(e->why));
		e->why[sizeof(e->why) - 1] = 0;
		host_flush(e, ipc_load(&e->ctl->wr_cons_at_break));
	}
	return e->broken;
}

static void host_check_hup(struct ipc_host *e)
{
	if (!e->broken && host_state(e) == 0 && ipc_sock_hung_up(e->sock))
		host_break(e, CHAN_EDISCONNECTED, "the NIC daemon is gone (socket closed)");
}

int ipc_host_check(struct chan *ch)
{
	struct ipc_host *e = host_of(ch);
	host_check_hup(e);
	return e->broken;
}

static void host_info(struct chan *ch, struct chan_info *out)
{
	struct ipc_host *e = host_of(ch);
	if (out)
		*out = (struct chan_info){.backend = "ipc", .sq_depth = e->sq, .msg_depth = e->msgd,
					  /* base or 0 only; consumer index published on poll; random keys */
					  .addr_mode = CHAN_ADDR_EXACT, .credit_mode = CHAN_CREDIT_ON_POLL, .keys_reused = 1};
}

/* Waits (bounded) for `need` free WR-ring entries. */
static bool ring_room(struct ipc_host *e, uint32_t need, bool may_wait)
{
	for (int spins = 0;; spins++) {
		uint64_t cons = ipc_load(&e->ctl->wr_cons.v);
		if (e->wr_prod - cons + need <= e->wr_cap)
			return true;
		if (!may_wait || spins > 200000 || host_state(e))
			return false;
		sched_yield();
	}
}

static void push_wr(struct ipc_host *e, const struct ipc_wr *w)
{
	e->wr[e->wr_prod % e->wr_cap] = *w;
	e->wr_prod++;
	ipc_store(&e->ctl->wr_prod.v, e->wr_prod);
	if (ipc_kick(&e->ctl->nic_sleeping, &e->ctl->nic_futex))
		e->st.wakeups_sent++;
}

static struct proc_seg *proc_seg_by_id(uint32_t id)
{
	for (uint32_t i = 0; i < g_segs.n; i++)
		if (g_segs.segs[i].id == id)
			return &g_segs.segs[i];
	return NULL;
}

/* With g_segs.mu held: a connection stopped using a process segment. */
static void proc_seg_release(uint32_t id)
{
	struct proc_seg *p = proc_seg_by_id(id);
	if (p && --p->users == 0) {
		/* Back to private memory, without a copy and without a window
		 * in which a write could be lost: a private (copy-on-write)
		 * mapping of the same file shows the same bytes. Left shared,
		 * the pages would be shared with any child forked later, and
		 * the heap they return to with them. */
		mmap((void *)p->start, p->end - p->start, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, p->fd, 0);
		close(p->fd);
		*p = g_segs.segs[--g_segs.n];
	}
}

/* Writes the bytes of [pos, pos + len) at offset 0 of fd, whole pages of
 * zeros left out: ftruncate made the file all zero, and a page never
 * written stays a hole that costs no memory. The host library's region is
 * fresh from mmap, 64 MiB by default, and copying it whole made a
 * process's first socket allocate and fill 64 MiB of shared memory
 * (seconds on a loaded machine); now that costs what the process used.
 * The bytes are read with process_vm_readv, which reports a page the
 * process cannot read as EFAULT (pwrite's answer too) where a plain load
 * would fault; where it is not allowed (a seccomp filter), every byte is
 * written as before. */
static int copy_plain(int fd, uintptr_t pos, uint64_t len)
{
	for (uint64_t done = 0; done < len;) {
		ssize_t n = pwrite(fd, (const void *)(pos + done), len - done, (off_t)done);
		if (n <= 0)
			return errno == EFAULT ? CHAN_EINVAL : CHAN_ENOMEM;
		done += (uint64_t)n;
	}
	return CHAN_OK;
}

static bool page_is_zero(const uint8_t *p, size_t len)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;
	uint64_t any = 0;
	for (size_t i = 0; i < len / 8; i++)
		any |= w[i];
	return any == 0;
}

static int copy_into_memfd(int fd, uintptr_t pos, uint64_t len)
{
	enum { CHUNK_BYTES = 256 * 1024 };
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *buf = malloc(CHUNK_BYTES);
	if (!buf)
		return CHAN_ENOMEM;
	int rc = CHAN_OK;
	for (uint64_t off = 0; off < len && rc == CHAN_OK;) {
		size_t n = len - off < CHUNK_BYTES ? (size_t)(len - off) : CHUNK_BYTES;
		struct iovec local = {.iov_base = buf, .iov_len = n};
		struct iovec remote = {.iov_base = (void *)(pos + off), .iov_len = n};
		ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
		if (got < 0 && (errno == ENOSYS || errno == EPERM)) {
			free(buf);
			return copy_plain(fd, pos, len);
		}
		if (got != (ssize_t)n) {
			rc = got < 0 && errno == ENOMEM ? CHAN_ENOMEM : CHAN_EINVAL; /* EFAULT, or a short read */
			break;
		}
		/* Runs of non-zero pages, one pwrite each (pos and len are whole pages). */
		for (size_t p = 0; p < n && rc == CHAN_OK;) {
			if (page_is_zero(buf + p, page)) {
				p += page;
				continue;
			}
			size_t q = p + page;
			while (q < n && !page_is_zero(buf + q, page))
				q += page;
			for (size_t done = p; done < q;) {
				ssize_t w = pwrite(fd, buf + done, q - done, (off_t)(off + done));
				if (w <= 0) {
					rc = CHAN_ENOMEM;
					break;
				}
				done += (size_t)w;
			}
			p = q;
		}
		off += n;
	}
	free(buf);
	return rc;
}

/* With g_segs.mu held: memfds over the pages of [start, end) that no
 * segment covers yet, holding the bytes there now. */
static int proc_cover(uintptr_t start, uintptr_t end)
{
	uintptr_t pos = start;
	while (pos < end) {
		uintptr_t next = end;
		bool covered = false;
		for (uint32_t i = 0; i < g_segs.n; i++) {
			struct proc_seg *p = &g_segs.segs[i];
			if (p->start <= pos && pos < p->end) {
				pos = p->end;
				covered = true;
				break;
			}
			if (p->start > pos && p->start < next)
				next = p->start;
		}
		if (covered)
			continue;
		if (g_segs.n == IPC_MAX_SEGS)
			return CHAN_ENOMEM;
		uint64_t len = next - pos;
		int fd = memfd_create("bluetas-ipc-seg", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0)
			return CHAN_ENOMEM;
		int rc = CHAN_ENOMEM;
		if (ftruncate(fd, (off_t)len) != 0)
			goto fail;
		if ((rc = copy_into_memfd(fd, pos, len)) != CHAN_OK)
			goto fail;
		rc = CHAN_ENOMEM;
		if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0 ||
		    mmap((void *)pos, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
			goto fail;
		g_segs.segs[g_segs.n++] = (struct proc_seg){.start = pos, .end = next, .fd = fd, .id = ++g_segs.next_id};
		pos = next;
		continue;
	fail:
		close(fd);
		return rc;
	}
	return CHAN_OK;
}

static struct conn_seg *conn_seg_by_id(struct ipc_host *e, uint32_t id)
{
	for (uint32_t i = 0; i < e->n_segs; i++)
		if (e->segs[i].id == id)
			return &e->segs[i];
	return NULL;
}

/* Makes every page of [start, end) reachable by this connection's daemon
 * and counts the region on each segment. */
static int segs_attach(struct ipc_host *e, uintptr_t start, uintptr_t end)
{
	pthread_mutex_lock(&g_segs.mu);
	int rc = proc_cover(start, end);
	uint32_t need = 1;
	for (uint32_t i = 0; rc == CHAN_OK && i < g_segs.n; i++) {
		struct proc_seg *p = &g_segs.segs[i];
		if (p->start < end && start < p->end && !conn_seg_by_id(e, p->id))
			need++;
	}
	if (rc == CHAN_OK && (e->n_segs + need - 1 > IPC_MAX_SEGS || need > e->wr_cap || !ring_room(e, need, true)))
		rc = CHAN_ENOMEM;
	for (uint32_t i = 0; rc == CHAN_OK && i < g_segs.n; i++) {
		struct proc_seg *p = &g_segs.segs[i];
		if (!(p->start < end && start < p->end))
			continue;
		struct conn_seg *c = conn_seg_by_id(e, p->id);
		if (!c) {
			struct ipc_sock_msg m = {.type = IPC_SOCK_SEG, .magic = IPC_MAGIC, .version = IPC_VERSION,
						 .seg_id = p->id, .host_start = p->start, .len_bytes = p->end - p->start};
			if (ipc_sock_send(e->sock, &m, p->fd) != 0) {
				rc = CHAN_EDISCONNECTED;
				break;
			}
			struct ipc_wr w = {.opcode = IPC_WR_SEG, .lkey = p->id};
			push_wr(e, &w);
			p->users++;
			c = &e->segs[e->n_segs++];
			*c = (struct conn_seg){.start = p->start, .end = p->end, .id = p->id};
		}
		c->refs++;
	}
	/* Segments created for nothing (a failure above) go again. */
	for (uint32_t i = 0; i < g_segs.n;) {
		if (g_segs.segs[i].users == 0) {
			g_segs.segs[i].users = 1;
			proc_seg_release(g_segs.segs[i].id);
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&g_segs.mu);
	e->st.segments = e->n_segs;
	if (rc == CHAN_EDISCONNECTED)
		host_break(e, CHAN_EDISCONNECTED, "the NIC daemon is gone (socket closed)");
	return rc;
}

/* The region on [start, end) is gone: segments no region of this
 * connection uses any more are dropped by its daemon. */
static void segs_detach(struct ipc_host *e, uintptr_t start, uintptr_t end, bool tell_daemon)
{
	pthread_mutex_lock(&g_segs.mu);
	for (uint32_t i = 0; i < e->n_segs;) {
		struct conn_seg *c = &e->segs[i];
		if (c->start < end && start < c->end && --c->refs == 0) {
			if (tell_daemon) {
				struct ipc_wr w = {.opcode = IPC_WR_SEG_DROP, .lkey = c->id};
				push_wr(e, &w);
			}
			proc_seg_release(c->id);
			*c = e->segs[--e->n_segs];
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&g_segs.mu);
	e->st.segments = e->n_segs;
}

static bool key_used(struct ipc_host *e, uint32_t k)
{
	for (uint32_t i = 0; i < e->n_regions; i++)
		if (e->regions[i].lkey == k || e->regions[i].rkey == k)
			return true;
	return false;
}

static uint32_t new_key(struct ipc_host *e)
{
	uint32_t k;
	do
		k = ipc_random_key();
	while (key_used(e, k));
	return k;
}

static int host_mr_register(struct chan *ch, void *base, uint64_t len, uint32_t access, struct chan_mr *out)
{
	struct ipc_host *e = host_of(ch);
	if (!base || len == 0 || !out || (access & ~(uint32_t)(CHAN_ACCESS_REMOTE_READ | CHAN_ACCESS_REMOTE_WRITE)))
		return CHAN_EINVAL;
	uintptr_t b = (uintptr_t)base;
	if (len - 1 > (uint64_t)UINTPTR_MAX - b || len > IPC_MAX_SEG_BYTES)
		return CHAN_EINVAL;
	if (host_state(e))
		return CHAN_EDISCONNECTED;
	if (e->n_regions == IPC_MAX_REGIONS)
		return CHAN_ENOMEM;
	uintptr_t start = b & ~(uintptr_t)(e->page - 1);
	uintptr_t last = b + (uintptr_t)(len - 1);
	if (last > UINTPTR_MAX - e->page)
		return CHAN_EINVAL;
	uintptr_t end = (last & ~(uintptr_t)(e->page - 1)) + e->page;
	struct host_region r = {.base = b, .len = len, .access = access, .pages_start = start, .pages_end = end};
	r.lkey = new_key(e);
	do
		r.rkey = new_key(e);
	while (r.rkey == r.lkey);
	int rc = segs_attach(e, start, end);
	if (rc != CHAN_OK)
		return rc;
	e->regions[e->n_regions++] = r;
	e->st.regions = e->n_regions;
	struct ipc_wr w = {.opcode = IPC_WR_REG, .flags = access, .lkey = r.lkey, .rkey = r.rkey, .loff = b, .roff = len};
	push_wr(e, &w);
	*out = (struct chan_mr){.base = base, .len_bytes = len, .lkey = r.lkey, .rkey = r.rkey, .access = access};
	return CHAN_OK;
}

static int host_mr_deregister(struct chan *ch, struct chan_mr *mr)
{
	struct ipc_host *e = host_of(ch);
	struct host_region *r = NULL;
	for (uint32_t i = 0; mr && i < e->n_regions && !r; i++)
		if (e->regions[i].lkey == mr->lkey && e->regions[i].rkey == mr->rkey)
			r = &e->regions[i];
	if (!r)
		return CHAN_EINVAL;
	/* DEREG, then at most one SEG_DROP per segment of this connection. */
	bool tell = !host_state(e) && ring_room(e, 1 + e->n_segs, true);
	if (tell) {
		struct ipc_wr w = {.opcode = IPC_WR_DEREG, .lkey = r->lkey};
		push_wr(e, &w);
	}
	segs_detach(e, r->pages_start, r->pages_end, tell);
	*r = e->regions[--e->n_regions];
	e->st.regions = e->n_regions;
	return CHAN_OK;
}

static struct host_region *find_lkey(struct ipc_host *e, uint32_t k)
{
	for (uint32_t i = 0; k && i < e->n_regions; i++)
		if (e->regions[i].lkey == k)
			return &e->regions[i];
	return NULL;
}

static int post_op(struct chan *ch, uint8_t opcode, struct chan_sge_local local, struct chan_sge_remote remote,
		   uint32_t len, uint64_t wr_id, uint32_t flags)
{
	struct ipc_host *e = host_of(ch);
	if (host_state(e))
		return CHAN_EDISCONNECTED;
	if (len == 0 || !local.mr || !remote.mr)
		return CHAN_EINVAL;
	struct host_region *r = find_lkey(e, local.mr->lkey);
	if (!r || local.off > r->len || len > r->len - local.off)
		return CHAN_ELOCAL;
	if (e->posted - e->retired >= e->sq || !ring_room(e, 1 + IPC_CTL_RESERVE, false))
		return CHAN_EAGAIN;
	struct ipc_wr w = {.opcode = opcode, .flags = flags, .len = len, .lkey = r->lkey, .rkey = remote.mr->rkey,
			   .wr_id = wr_id, .seq = e->posted++, .loff = local.off, .roff = remote.off,
			   .raddr = remote.mr->addr};
	push_wr(e, &w);
	if (opcode == CHAN_OP_READ)
		e->st.reads++, e->st.bytes_read += len;
	else
		e->st.writes++, e->st.bytes_written += len;
	return CHAN_OK;
}

static int host_post_read(struct chan *ch, struct chan_sge_local l, struct chan_sge_remote r, uint32_t len,
			  uint64_t wr_id, uint32_t flags)
{
	return post_op(ch, CHAN_OP_READ, l, r, len, wr_id, flags);
}

static int host_post_write(struct chan *ch, struct chan_sge_local l, struct chan_sge_remote r, uint32_t len,
			   uint64_t wr_id, uint32_t flags)
{
	return post_op(ch, CHAN_OP_WRITE, l, r, len, wr_id, flags);
}

static int host_post_msg(struct chan *ch, const void *msg, uint32_t len)
{
	struct ipc_host *e = host_of(ch);
	if (host_state(e))
		return CHAN_EDISCONNECTED;
	int bad = chan_msg_check(msg, len);
	if (bad)
		return bad;
	uint64_t used = ipc_load(&e->ctl->h2n_msgs_used.v);
	if (e->msgs_posted - used >= e->msgd || !ring_room(e, 1 + IPC_CTL_RESERVE, false))
		return CHAN_EAGAIN;
	struct ipc_wr w = {.opcode = CHAN_OP_MSG, .len = len};
	memcpy(w.msg, msg, len);
	e->msgs_posted++;
	push_wr(e, &w);
	e->st.msgs_sent++;
	return CHAN_OK;
}

static void note_empty(struct ipc_host *e)
{
	if (++e->empty_polls >= IPC_HUP_CHECK_POLLS) {
		e->empty_polls = 0;
		host_check_hup(e);
	}
}

static int host_poll_msg(struct chan *ch, void *buf, uint32_t cap, uint32_t *len_out)
{
	struct ipc_host *e = host_of(ch);
	uint64_t prod = ipc_load(&e->ctl->msg_prod.v);
	if (prod == e->msg_cons || prod - e->msg_cons > e->msgd) {
		note_empty(e);
		return host_state(e) ? CHAN_EDISCONNECTED : 0;
	}
	const struct ipc_msg *m = &e->msgq[e->msg_cons % e->msgd];
	uint32_t len = m->len;
	if (len == 0 || len > CHAN_MSG_MAX_BYTES)
		len = CHAN_MSG_MAX_BYTES; /* the daemon is trusted; never overrun anyway */
	if (!buf || !len_out || cap < len)
		return CHAN_EINVAL;
	memcpy(buf, m->data, len);
	*len_out = len;
	e->msg_cons++;
	ipc_store(&e->ctl->msg_cons.v, e->msg_cons);
	e->empty_polls = 0;
	e->st.msgs_received++;
	return 1;
}

static int host_poll_cq(struct chan *ch, struct chan_completion *out, int max)
{
	struct ipc_host *e = host_of(ch);
	if (max < 0 || (max > 0 && !out))
		return CHAN_EINVAL;
	host_state(e);
	uint64_t prod = ipc_load(&e->ctl->cq_prod.v);
	if (prod - e->cq_cons > e->sq)
		prod = e->cq_cons;
	int n = 0;
	for (; n < max && e->cq_cons < prod; n++) {
		const struct ipc_cqe *q = &e->cq[e->cq_cons % e->sq];
		out[n] = (struct chan_completion){.wr_id = q->wr_id, .status = q->status, .opcode = q->opcode,
						  .len_bytes = q->len};
		if (q->seq + 1 > e->retired && q->seq < e->posted)
			e->retired = q->seq + 1;
		e->cq_cons++;
	}
	if (n) {
		ipc_store(&e->ctl->cq_cons.v, e->cq_cons);
		e->empty_polls = 0;
	} else if (e->posted != e->retired) {
		note_empty(e);
	}
	return n;
}

static uint64_t host_next_event_ns(struct chan *ch)
{
	(void)ch;
	return BT_TIME_NEVER; /* real time: nothing is scheduled */
}

static bool host_ready(struct ipc_host *e)
{
	return host_state(e) || ipc_load(&e->ctl->msg_prod.v) != e->msg_cons ||
	       ipc_load(&e->ctl->cq_prod.v) != e->cq_cons;
}

static int host_wait(struct chan *ch, uint64_t timeout_ns)
{
	struct ipc_host *e = host_of(ch);
	if (host_ready(e))
		return e->broken ? CHAN_EDISCONNECTED : 0;
	/* A handler that runs from here on bumps the futex word, so the
	 * FUTEX_WAIT below returns at once (chan_signal.h); one that ran
	 * before is seen by chan_signal_pending. */
	chan_signal_sleep_begin(&e->ctl->host_futex, -1);
	uint32_t seq = __atomic_load_n(&e->ctl->host_futex, __ATOMIC_ACQUIRE);
	/* A count, not a flag: a thread whose sleep ends must not turn the
	 * daemon's wake off for another still asleep. */
	__atomic_fetch_add(&e->ctl->host_sleeping, 1, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_seq_cst);
	bool interrupted = chan_signal_pending();
	if (!interrupted && !host_ready(e) && timeout_ns) {
		e->st.sleeps++;
		/* A timed FUTEX_WAIT fails with EINTR after any handler, with
		 * SA_RESTART or without (the kernel restarts it only without a
		 * timeout): reported as CHAN_EINTR, and the caller decides by the
		 * handler's flags (transports/chan_signal.h), as over verbs. */
		interrupted = ipc_futex_wait(&e->ctl->host_futex, seq, timeout_ns) < 0 && errno == EINTR;
		interrupted = interrupted || chan_signal_pending(); /* the word bumped before the wait */
	}
	chan_signal_sleep_end();
	__atomic_fetch_sub(&e->ctl->host_sleeping, 1, __ATOMIC_RELAXED);
	/* Sleeping is when a syscall costs nothing: look for a dead daemon. */
	host_check_hup(e);
	return e->broken ? CHAN_EDISCONNECTED : interrupted ? CHAN_EINTR : 0;
}

/* Sleeping in the caller's kernel call: the same protocol as host_wait
 * with host_fd_sleepers for the flag and the eventfd for the futex. The
 * count (not a flag) lets several threads sleep at once: one thread
 * leaving does not turn the daemon's signal off for the others. */
static int host_wait_fd_arm(struct chan *ch)
{
	struct ipc_host *e = host_of(ch);
	if (host_ready(e))
		return e->broken ? CHAN_EDISCONNECTED : CHAN_EAGAIN;
	__atomic_fetch_add(&e->ctl->host_fd_sleepers, 1, __ATOMIC_RELAXED);
	/* Pairs with the daemon's fence in kick_host: either it sees our
	 * count, or we see its entry here. */
	atomic_thread_fence(memory_order_seq_cst);
	if (host_ready(e)) {
		__atomic_fetch_sub(&e->ctl->host_fd_sleepers, 1, __ATOMIC_RELAXED);
		return e->broken ? CHAN_EDISCONNECTED : CHAN_EAGAIN;
	}
	e->st.fd_sleeps++;
	return e->wake_fd;
}

static void host_wait_fd_done(struct chan *ch)
{
	struct ipc_host *e = host_of(ch);
	/* Atomic only: a dead daemon is found by the empty polls that follow
	 * (note_empty), as ever. */
	__atomic_fetch_sub(&e->ctl->host_fd_sleepers, 1, __ATOMIC_RELAXED);
}

static void host_destroy(struct chan *ch)
{
	struct ipc_host *e = host_of(ch);
	__atomic_store_n(&e->ctl->host_gone, 1, __ATOMIC_RELEASE);
	ipc_kick(&e->ctl->nic_sleeping, &e->ctl->nic_futex);
	close(e->sock);
	close(e->wake_fd);
	munmap(e->ctl, e->ctl_len);
	/* Registered pages stay mapped: they are the caller's memory. */
	pthread_mutex_lock(&g_segs.mu);
	for (uint32_t i = 0; i < e->n_segs; i++)
		proc_seg_release(e->segs[i].id);
	pthread_mutex_unlock(&g_segs.mu);
	free(e);
}

int ipc_host_broken(const struct chan *ch) { return host_state(host_of((struct chan *)ch)); }

int ipc_host_stats(const struct chan *ch, struct ipc_chan_stats *out)
{
	struct ipc_host *e = host_of((struct chan *)ch);
	host_state(e);
	*out = e->st;
	out->broken = e->broken;
	snprintf(out->broken_why, sizeof(out->broken_why), "%s", e->why);
	return 0;
}

void *ipc_host_ctl(struct chan *ch)
{
	return ch && ch->ops == &ipc_host_ops ? host_of(ch)->ctl : NULL;
}

int ipc_host_socket(struct chan *ch) { return ch && ch->ops == &ipc_host_ops ? host_of(ch)->sock : -1; }

const struct chan_ops ipc_host_ops = {
	.info = host_info,
	.mr_register = host_mr_register,
	.mr_deregister = host_mr_deregister,
	.post_read = host_post_read,
	.post_write = host_post_write,
	.post_msg = host_post_msg,
	.poll_msg = host_poll_msg,
	.poll_cq = host_poll_cq,
	.next_event_ns = host_next_event_ns,
	.wait = host_wait,
	.wait_fd_arm = host_wait_fd_arm,
	.wait_fd_done = host_wait_fd_done,
	.destroy = host_destroy,
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Connects, retrying while the daemon is not there yet (no socket file,
 * or nobody listening) until the deadline. */
static int connect_path(const char *path, int timeout_ms, char *err, size_t err_len)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(err, err_len, "socket path too long (at most %zu bytes): %s", sizeof(a.sun_path) - 1, path);
		return -1;
	}
	strcpy(a.sun_path, path);
	uint64_t deadline = mono_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			snprintf(err, err_len, "socket: %s", strerror(errno));
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		int saved = errno;
		close(fd);
		if ((saved != ENOENT && saved != ECONNREFUSED && saved != EAGAIN) || mono_ms() >= deadline) {
			snprintf(err, err_len, "connect %s: %s%s", path, strerror(saved),
				 saved == ENOENT || saved == ECONNREFUSED ? " (is `bluetas nic --channel ipc:PATH` running?)"
									   : "");
			return -1;
		}
		struct timespec ts = {.tv_nsec = 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

struct chan *ipc_connect(const char *path, const struct ipc_params *p, int timeout_ms, char *err, size_t err_len)
{
	if (!path || !*path) {
		snprintf(err, err_len, "no socket path");
		return NULL;
	}
	uint32_t sq = p && p->sq_depth ? p->sq_depth : IPC_DEFAULT_SQ;
	uint32_t msgd = p && p->msg_depth ? p->msg_depth : IPC_DEFAULT_MSG;
	if (sq > IPC_MAX_DEPTH || msgd > IPC_MAX_DEPTH) {
		snprintf(err, err_len, "sq and msg depths are at most %u", IPC_MAX_DEPTH);
		return NULL;
	}
	int fd = connect_path(path, timeout_ms, err, err_len);
	if (fd < 0)
		return NULL;
	struct ipc_sock_msg m = {.type = IPC_SOCK_HELLO, .magic = IPC_MAGIC, .version = IPC_VERSION, .sq_depth = sq,
				 .msg_depth = msgd};
	int ctl_fd = -1, wake_fd = -1;
	struct ipc_host *e = NULL;
	if (ipc_sock_send(fd, &m, -1) != 0) {
		snprintf(err, err_len, "sending HELLO: %s", strerror(errno));
		goto fail;
	}
	if (ipc_sock_recv(fd, &m, &ctl_fd, timeout_ms < 1000 ? 1000 : timeout_ms) != 0) {
		snprintf(err, err_len, "no answer from the NIC daemon: %s", strerror(errno));
		goto fail;
	}
	if (m.type == IPC_SOCK_REFUSE) {
		snprintf(err, err_len, "refused by the NIC daemon: %s", m.text);
		goto fail;
	}
	struct stat sb;
	if (m.type != IPC_SOCK_WELCOME || m.magic != IPC_MAGIC || ctl_fd < 0 || m.sq_depth != sq ||
	    m.msg_depth != msgd || m.len_bytes != ipc_ctl_bytes(ipc_wr_cap(sq, msgd), sq, msgd) ||
	    fstat(ctl_fd, &sb) != 0 || (uint64_t)sb.st_size < m.len_bytes) {
		snprintf(err, err_len, "malformed WELCOME from the NIC daemon (another protocol version?)");
		goto fail;
	}
	struct ipc_sock_msg wm;
	if (ipc_sock_recv(fd, &wm, &wake_fd, timeout_ms < 1000 ? 1000 : timeout_ms) != 0 ||
	    wm.type != IPC_SOCK_WAKEFD || wm.magic != IPC_MAGIC || wake_fd < 0) {
		snprintf(err, err_len, "no wakeup descriptor from the NIC daemon (another protocol version?)");
		goto fail;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	e->ctl_len = m.len_bytes;
	void *map = mmap(NULL, e->ctl_len, PROT_READ | PROT_WRITE, MAP_SHARED, ctl_fd, 0);
	if (map == MAP_FAILED) {
		snprintf(err, err_len, "mapping the control area: %s", strerror(errno));
		goto fail;
	}
	close(ctl_fd);
	e->chan.ops = &ipc_host_ops;
	e->sock = fd;
	e->ctl = map;
	e->sq = sq;
	e->msgd = msgd;
	e->wr_cap = ipc_wr_cap(sq, msgd);
	e->wr = (struct ipc_wr *)((uint8_t *)map + ipc_wr_ring_off());
	e->cq = (struct ipc_cqe *)((uint8_t *)map + ipc_cq_ring_off(e->wr_cap));
	e->msgq = (struct ipc_msg *)((uint8_t *)map + ipc_msg_ring_off(e->wr_cap, sq));
	e->page = (uint64_t)sysconf(_SC_PAGESIZE);
	e->wake_fd = wake_fd;
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0)
		e->st.peer_pid = cr.pid;
	return &e->chan;
fail:
	free(e);
	if (ctl_fd >= 0)
		close(ctl_fd);
	if (wake_fd >= 0)
		close(wake_fd);
	close(fd);
	return NULL;
}
