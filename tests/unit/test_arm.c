/*
 * test_arm: the host posts an ARM only when the NIC does not already hold
 * one (core/host/host_wait.c). Found while tracing the RPC's hops over
 * Soft-RoCE: a wait cut short by something other than a WAKEUP (over
 * verbs, the completion of the ARM's own SEND: one completion queue, every
 * SEND signaled) re-armed on the next wait, one ARM per wait while an RPC
 * was out. The NIC side here is the bare channel end: every message the
 * host posts is seen.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/bluetas.h"
#include "core/ctxq.h"
#include "transports/shm/shm_chan.h"

struct rig {
	uint64_t now_ns;
	struct bt_clock clock;
	struct shm_link *link;
	struct chan *nic;
	struct bt_host *host;
};

static uint64_t rig_now(void *ctx)
{
	return *(uint64_t *)ctx;
}

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	r->now_ns = 1000;
	r->clock = (struct bt_clock){.now_ns = rig_now, .ctx = &r->now_ns};
	struct shm_link_params p = {.key_seed = 1};
	r->link = shm_link_create(&p, &r->clock);
	assert_non_null(r->link);
	r->nic = shm_link_end(r->link, SHM_END_NIC);
	struct bt_host_config cfg;
	bt_host_default_config(&cfg);
	cfg.max_conns = 4;
	int err;
	r->host = bt_host_create(&cfg, shm_link_end(r->link, SHM_END_HOST), &r->clock, &err);
	assert_non_null(r->host);
}

static void rig_fini(struct rig *r)
{
	bt_host_destroy(r->host);
	shm_link_destroy(r->link);
}

/* Takes every message the host posted; returns how many were ARMs and
 * the sequence of the last one. */
static int arms_taken(struct rig *r, uint32_t *last_seq)
{
	uint8_t msg[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	int arms = 0;
	while (chan_poll_msg(r->nic, msg, sizeof(msg), &len) == 1) {
		if (len == sizeof(struct ctxq_cmd) && msg[0] == CTXQ_ARM) {
			struct ctxq_cmd c;
			memcpy(&c, msg, sizeof(c));
			*last_seq = c.arg2;
			arms++;
		}
	}
	return arms;
}

static void nic_wakes(struct rig *r, uint32_t arm_seq)
{
	struct ctxq_wakeup w = {.type = CTXQ_WAKEUP, .arm_seq = arm_seq};
	assert_int_equal(chan_post_msg(r->nic, &w, sizeof(w)), CHAN_OK);
}

static void test_a_held_arm_is_not_posted_again(void **state)
{
	(void)state;
	struct rig r;
	rig_init(&r);
	uint32_t seq = 0;
	arms_taken(&r, &seq); /* the HELLO */
	assert_true(bt_wait_arm(r.host));
	assert_int_equal(arms_taken(&r, &seq), 1);
	assert_int_equal(seq, 1);
	/* Woken by something else (no WAKEUP): the NIC still holds ARM 1. */
	r.now_ns += 50000;
	assert_false(bt_wait_woken(r.host));
	assert_true(bt_wait_arm(r.host));
	assert_true(bt_wait_arm(r.host));
	assert_int_equal(arms_taken(&r, &seq), 0);
	/* Its WAKEUP comes: the next sleep arms again. */
	nic_wakes(&r, 1);
	assert_true(bt_wait_woken(r.host));
	assert_true(bt_wait_arm(r.host));
	assert_int_equal(arms_taken(&r, &seq), 1);
	assert_int_equal(seq, 2);
	rig_fini(&r);
}

static void test_a_wakeup_of_an_older_arm_keeps_the_newer_held(void **state)
{
	(void)state;
	struct rig r;
	rig_init(&r);
	uint32_t seq = 0;
	arms_taken(&r, &seq);
	assert_true(bt_wait_arm(r.host)); /* ARM 1 */
	nic_wakes(&r, 1);
	assert_true(bt_wait_woken(r.host));
	assert_true(bt_wait_arm(r.host)); /* ARM 2 */
	assert_int_equal(arms_taken(&r, &seq), 2);
	/* A late WAKEUP of ARM 1 (a duplicate, say) says nothing about ARM 2. */
	nic_wakes(&r, 1);
	assert_true(bt_wait_woken(r.host));
	assert_true(bt_wait_arm(r.host));
	assert_int_equal(arms_taken(&r, &seq), 0);
	rig_fini(&r);
}

static void test_a_held_arm_older_than_the_refresh_is_posted_again(void **state)
{
	(void)state;
	struct rig r;
	rig_init(&r);
	uint32_t seq = 0;
	arms_taken(&r, &seq);
	assert_true(bt_wait_arm(r.host));
	assert_int_equal(arms_taken(&r, &seq), 1);
	/* No WAKEUP for a whole refresh interval (1 ms by default): the ARM
	 * may have been lost on the way (a channel fault); arm again. */
	r.now_ns += 1000000;
	assert_true(bt_wait_arm(r.host));
	assert_int_equal(arms_taken(&r, &seq), 1);
	assert_int_equal(seq, 2);
	rig_fini(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_held_arm_is_not_posted_again),
		cmocka_unit_test(test_a_wakeup_of_an_older_arm_keeps_the_newer_held),
		cmocka_unit_test(test_a_held_arm_older_than_the_refresh_is_posted_again),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
