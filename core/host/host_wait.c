/*
 * host_wait.c: the sleeping half of the host library.
 *
 * The wakeup rule (bluetas.h, bt_wait_arm): a host sleeps only after every
 * command it owes and then its ARM are on the channel. ARM carries how many
 * events the host has consumed, so the NIC answers at once if it has
 * already written more; otherwise it sends one WAKEUP after its next event
 * write. Commands and the ARM share the channel's message credits, and
 * nothing can make the NIC wake a host whose ARM never left: so when a
 * credit is missing the host does not sleep, it waits for the credit
 * instead (the NIC returns it when it takes the earlier messages). A
 * timeout then only covers what a channel fault can lose (an ARM or a
 * WAKEUP dropped), and a timeout with work waiting is counted as a lost
 * wakeup, which the scenario engine treats as an error in a run without
 * channel faults.
 */
#include <stdatomic.h>
#include <string.h>

#include "host_internal.h"

/* Whether an unconsumed event is news the NIC owes a WAKEUP for
 * (ctxq_event_wakes): a wait that timed out beside bare doorbell
 * confirmations lost nothing, the NIC never wakes for those. */
bool host_wakeful_events_waiting(const struct bt_host *h)
{
	uint32_t entries = h->cfg.event_entries;
	for (uint32_t i = 0; i < entries; i++) {
		uint32_t n = h->ev_consumed + i;
		const uint8_t *slot = h->region + ctxq_event_ring_off(&h->hello) + (uint64_t)(n % entries) * CTXQ_EVENT_BYTES;
		uint8_t phase = atomic_load_explicit(
			(_Atomic uint8_t *)(uintptr_t)(slot + offsetof(struct ctxq_event, phase)), memory_order_acquire);
		if (phase != ctxq_phase_for(n, entries))
			return false;
		struct ctxq_event ev;
		memcpy(&ev, slot, sizeof(ev));
		if (ctxq_event_wakes(&ev))
			return true;
	}
	return false;
}

bool host_owes_commands(const struct bt_host *h)
{
	return h->dirty_head != HOST_NONE || h->listeners_dirty;
}

void host_arm_posted(struct bt_host *h, uint64_t now_ns)
{
	h->arm_owed = false;
	h->arm_seq++;
	h->arm_pending = true;
	h->arm_sent_ns = now_ns;
	h->ev_reported = h->ev_consumed;
}

bool bt_wait_arm(struct bt_host *h)
{
	if (h->broken)
		return true; /* nothing will ever come: the app saw the errors */
	/* The NIC still holds our last ARM (its WAKEUP has not come): it
	 * wakes us after its next event write, so another ARM would say
	 * nothing new. Re-arming on every wait instead turns each wait that
	 * something else cut short (over verbs, the completion of our own
	 * ARM's SEND ends chan_wait) into one more ARM: a message, a credit
	 * and a NIC command every few tens of microseconds while an RPC is
	 * out. After the refresh interval a held ARM is assumed lost (a
	 * channel fault) and posted again, as a doorbell would be. */
	uint64_t now = bt_clock_now_ns(h->clock);
	bool arm_held = host_arm_held(h, now);
	/* An ARM we need rides on the flush's last command if that is a
	 * doorbell (ctxq.h, CTXQ_CMDF_ARM): one message instead of two. */
	h->arm_ride = !arm_held;
	h->arm_rode = false;
	host_flush_commands(h);
	h->arm_ride = false;
	if (h->broken)
		return true;
	if (h->arm_rode)
		return true; /* the last command was ours: nothing owed after it */
	if (host_owes_commands(h)) {
		/* The NIC has not taken earlier commands yet: an ARM now would
		 * overtake nothing, but the owed commands would wait for our
		 * next poll, which nobody would cause. Stay awake. */
		h->arm_owed = true;
		h->stats.arms_deferred++;
		return false;
	}
	if (arm_held) {
		h->arm_owed = false;
		return true;
	}
	struct ctxq_cmd arm = {.type = CTXQ_ARM, .ev_consumed = h->ev_consumed, .arg2 = h->arm_seq + 1};
	int rc = chan_post_msg(h->ch, &arm, sizeof(arm));
	if (rc == CHAN_EAGAIN) {
		h->arm_owed = true;
		h->stats.arms_deferred++;
		return false;
	}
	if (rc != CHAN_OK) {
		host_channel_failed(h);
		return true;
	}
	host_arm_posted(h, now);
	return true;
}

bool bt_wait_woken(struct bt_host *h)
{
	uint8_t msg[CHAN_MSG_MAX_BYTES];
	bool woken = false;
	if (!(chan_ready(h->ch) & CHAN_READY_MSG))
		return false; /* the common case in a sleep: one cheap question */
	for (int i = 0; i < 64; i++) {
		uint32_t len;
		int rc = chan_poll_msg(h->ch, msg, sizeof(msg), &len);
		if (rc < 0)
			return true; /* a broken channel is news: let the app see it */
		if (rc == 0)
			break;
		if (host_take_msg(h, msg, len))
			woken = true;
	}
	return woken;
}

bool host_take_msg(struct bt_host *h, const uint8_t *msg, uint32_t len)
{
	if (len < 1 || msg[0] != CTXQ_WAKEUP)
		return false;
	/* The NIC disarms when it sends a WAKEUP; one for an older ARM than
	 * our newest leaves that one held (WAKEUPs come in ARM order). */
	if (len >= sizeof(struct ctxq_wakeup)) {
		struct ctxq_wakeup w;
		memcpy(&w, msg, sizeof(w));
		if ((int32_t)(w.arm_seq - h->arm_seq) >= 0)
			h->arm_pending = false;
	} else {
		h->arm_pending = false;
	}
	if (h->lost_suspect && len >= sizeof(struct ctxq_wakeup)) {
		struct ctxq_wakeup w;
		memcpy(&w, msg, sizeof(w));
		/* WAKEUPs come in ARM order: an older ARM's says nothing, the
		 * suspect's own one means it was only late, a newer one first
		 * means the suspect's was lost. */
		int32_t ahead = (int32_t)(w.arm_seq - h->lost_suspect_seq);
		if (ahead > 0)
			h->stats.lost_wakeups++;
		if (ahead >= 0)
			h->lost_suspect = false;
	}
	return true;
}

void bt_wait_timed_out(struct bt_host *h)
{
	h->stats.waits_timed_out++;
	if (h->broken)
		return;
	if (host_owes_commands(h) || h->arm_owed) {
		h->stats.lost_wakeups++; /* slept without an ARM: nobody could wake it */
	} else if (!h->lost_suspect && host_wakeful_events_waiting(h)) {
		/* The NIC owes a WAKEUP for these, but it may be in flight
		 * behind the event (a sleep can be shorter than a channel round
		 * trip): judged when a WAKEUP of this ARM or a later one comes;
		 * bt_host_stats counts one never judged as lost. An older
		 * suspect is judged first: its WAKEUP comes before ours. */
		h->lost_suspect = true;
		h->lost_suspect_seq = h->arm_seq;
	}
}

int bt_wait(struct bt_host *h, uint64_t timeout_ns)
{
	if (h->broken)
		return h->broken;
	if (h->ready_head != HOST_NONE)
		return BT_OK;
	uint64_t start = bt_clock_now_ns(h->clock);
	if (h->refresh_due_ns > start && h->refresh_due_ns - start < timeout_ns)
		timeout_ns = h->refresh_due_ns - start; /* owed doorbells cannot wait longer */
	/* Not armed: the credit we lack comes back as a channel arrival
	 * (channel.h, wait), which ends chan_wait; the caller polls and
	 * waits again, and that retries. */
	bool armed = bt_wait_arm(h);
	if (h->broken)
		return h->broken;
	int crc = chan_wait(h->ch, timeout_ns);
	if (crc < 0 && crc != CHAN_EINTR) /* a signal ends the sleep early: a spurious wake */
		return BT_ECHANNEL;
	bool woken = armed && bt_wait_woken(h);
	bool timed_out = !woken && bt_clock_now_ns(h->clock) - start >= timeout_ns;
	if (timed_out)
		bt_wait_timed_out(h);
	if (h->hops)
		host_hop_woke(h, HOP_F_SLEPT | (woken ? HOP_F_WAKEUP : 0) | (timed_out ? HOP_F_TIMEOUT : 0));
	return h->broken ? h->broken : BT_OK;
}

void bt_host_region(const struct bt_host *h, struct chan_remote_mr *out)
{
	*out = (struct chan_remote_mr){.addr = h->hello.region_addr,
				       .len_bytes = h->hello.region_len,
				       .rkey = h->hello.region_rkey};
}

bool bt_host_waits(const struct bt_host *h)
{
	return !h->broken;
}
