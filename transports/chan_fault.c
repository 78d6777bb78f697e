/* chan_fault.c: see chan_fault.h. */
#include "chan_fault.h"

#include <stdlib.h>

struct fault_chan {
	struct chan base; /* first: the ops recover the wrapper by a cast */
	struct chan *inner;
	bool nic_end;
	chan_fault_drop_fn drop;
	void *ctx;
	const struct bt_clock *clock;
	struct chan_fault_stats stats;
};

static struct fault_chan *fc(struct chan *ch) { return (struct fault_chan *)ch; }

static void f_info(struct chan *ch, struct chan_info *out) { chan_info(fc(ch)->inner, out); }
static int f_mr_register(struct chan *ch, void *base, uint64_t len, uint32_t access, struct chan_mr *out)
{
	return chan_mr_register(fc(ch)->inner, base, len, access, out);
}
static int f_mr_deregister(struct chan *ch, struct chan_mr *mr) { return chan_mr_deregister(fc(ch)->inner, mr); }
static int f_post_read(struct chan *ch, struct chan_sge_local l, struct chan_sge_remote r, uint32_t len,
		       uint64_t wr_id, uint32_t flags)
{
	return chan_post_read(fc(ch)->inner, l, r, len, wr_id, flags);
}
static int f_post_write(struct chan *ch, struct chan_sge_local l, struct chan_sge_remote r, uint32_t len,
			uint64_t wr_id, uint32_t flags)
{
	return chan_post_write(fc(ch)->inner, l, r, len, wr_id, flags);
}

static int f_post_msg(struct chan *ch, const void *msg, uint32_t len)
{
	struct fault_chan *f = fc(ch);
	f->stats.msgs_seen++;
	if (f->drop && msg && len && f->drop(f->ctx, f->nic_end, msg, len, bt_clock_now_ns(f->clock))) {
		f->stats.msgs_dropped++;
		return CHAN_OK; /* a lost message is silent to its sender */
	}
	return chan_post_msg(f->inner, msg, len);
}

static int f_poll_msg(struct chan *ch, void *buf, uint32_t cap, uint32_t *len_out)
{
	return chan_poll_msg(fc(ch)->inner, buf, cap, len_out);
}
static int f_poll_cq(struct chan *ch, struct chan_completion *out, int max)
{
	return chan_poll_cq(fc(ch)->inner, out, max);
}
static uint64_t f_next_event_ns(struct chan *ch) { return chan_next_event_ns(fc(ch)->inner); }
static uint64_t f_next_msg_ns(struct chan *ch) { return chan_next_msg_ns(fc(ch)->inner); }
static int f_wait(struct chan *ch, uint64_t timeout_ns) { return chan_wait(fc(ch)->inner, timeout_ns); }
static int f_ready(struct chan *ch) { return chan_ready(fc(ch)->inner); }
static void f_destroy(struct chan *ch) { (void)ch; /* the owner calls chan_fault_free */ }

static const struct chan_ops fault_chan_ops = {
	.info = f_info,
	.mr_register = f_mr_register,
	.mr_deregister = f_mr_deregister,
	.post_read = f_post_read,
	.post_write = f_post_write,
	.post_msg = f_post_msg,
	.poll_msg = f_poll_msg,
	.poll_cq = f_poll_cq,
	.next_event_ns = f_next_event_ns,
	.next_msg_ns = f_next_msg_ns,
	.wait = f_wait,
	.destroy = f_destroy,
	.ready = f_ready,
};

struct chan *chan_fault_wrap(struct chan *inner, bool nic_end, chan_fault_drop_fn drop, void *ctx,
			     const struct bt_clock *clock)
{
	struct fault_chan *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->base.ops = &fault_chan_ops;
	f->inner = inner;
	f->nic_end = nic_end;
	f->drop = drop;
	f->ctx = ctx;
	f->clock = clock;
	return &f->base;
}

void chan_fault_stats(struct chan *wrapper, struct chan_fault_stats *out)
{
	*out = fc(wrapper)->stats;
}

void chan_fault_free(struct chan *wrapper)
{
	free(wrapper);
}
