/*
 * host_wait.c: the sleeping half of the host library. A host that is about
 * to sleep arms a wakeup (ARM carries how many events it has consumed, so
 * the NIC can answer at once if it has already written more); the NIC's
 * WAKEUP message ends the sleep; the caller's timeout covers a lost one.
 */
#include "host_internal.h"

void bt_wait_arm(struct bt_host *h)
{
	if (h->broken)
		return;
	struct ctxq_cmd arm = {.type = CTXQ_ARM, .ev_consumed = h->ev_consumed};
	/* No credit for the ARM: sleep anyway, the timeout is the fallback. */
	if (chan_post_msg(h->ch, &arm, sizeof(arm)) == CHAN_OK)
		h->ev_reported = h->ev_consumed;
}

bool bt_wait_woken(struct bt_host *h)
{
	uint8_t msg[CHAN_MSG_MAX_BYTES];
	bool woken = false;
	for (int i = 0; i < 64; i++) {
		uint32_t len;
		int rc = chan_poll_msg(h->ch, msg, sizeof(msg), &len);
		if (rc < 0)
			return true; /* a broken channel is news: let the app see it */
		if (rc == 0)
			break;
		if (len >= 1 && msg[0] == CTXQ_WAKEUP)
			woken = true;
	}
	return woken;
}

void bt_host_region(const struct bt_host *h, struct chan_remote_mr *out)
{
	*out = (struct chan_remote_mr){.addr = h->hello.region_addr,
				       .len_bytes = h->hello.region_len,
				       .rkey = h->hello.region_rkey};
}
