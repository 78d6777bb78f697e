/*
 * test_flow_table.c: the NIC's flow slots are handed out lazily (slots
 * never used are on no list and untouched by nic_create), in the order one
 * free list of every slot would give: fresh slots in index order, freed
 * ones first and last-freed first; and loops over flows stop at the
 * highest slot ever used.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/nic/nic_internal.h"
#include "sim/link.h"
#include "sim/sim.h"

struct fixture {
	struct sim sim;
	struct sim_link *link;
	struct nic *nic;
};

static void make(struct fixture *fx, uint32_t max_flows)
{
	sim_init(&fx->sim);
	struct sim_link_params lp;
	sim_link_default_params(&lp);
	const uint8_t m0[6] = {2, 0, 0, 0, 0, 1}, m1[6] = {2, 0, 0, 0, 0, 2};
	fx->link = sim_link_create(&lp, &fx->sim.clock, m0, m1);
	assert_non_null(fx->link);
	struct nic_config nc;
	nic_default_config(&nc);
	nc.max_flows = max_flows;
	char err[128];
	fx->nic = nic_create(&nc, sim_link_port(fx->link, 0), &fx->sim.clock, err, sizeof(err));
	assert_non_null(fx->nic);
}

static void unmake(struct fixture *fx)
{
	nic_destroy(fx->nic);
	sim_link_destroy(fx->link);
}

static void test_fresh_slots_in_index_order_none_touched(void **state)
{
	(void)state;
	struct fixture fx;
	make(&fx, 4096);
	/* nic_create used no slot: the high-water mark is 0. */
	assert_int_equal(fx.nic->flows_hi, 0);
	for (uint32_t i = 0; i < 5; i++)
		assert_int_equal(flow_alloc(fx.nic), i);
	assert_int_equal(fx.nic->flows_hi, 5);
	assert_int_equal(fx.nic->stats.flows_active, 5);
	unmake(&fx);
}

static void test_freed_slots_reused_last_freed_first(void **state)
{
	(void)state;
	struct fixture fx;
	make(&fx, 8);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(flow_alloc(fx.nic), i);
	flow_free(fx.nic, 1);
	flow_free(fx.nic, 3);
	/* As one list of every slot: 3, then 1, then the untouched 4, 5... */
	assert_int_equal(flow_alloc(fx.nic), 3);
	assert_int_equal(flow_alloc(fx.nic), 1);
	assert_int_equal(flow_alloc(fx.nic), 4);
	/* A reused slot is clean and a generation further on. */
	assert_true(fx.nic->flows[3].in_use);
	assert_int_equal(fx.nic->flows[3].gen, 2);
	assert_int_equal(fx.nic->flows[4].gen, 1);
	unmake(&fx);
}

static void test_table_full_then_free(void **state)
{
	(void)state;
	struct fixture fx;
	make(&fx, 3);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(flow_alloc(fx.nic), i);
	assert_int_equal(flow_alloc(fx.nic), FLOW_NONE);
	assert_int_equal(fx.nic->flows_hi, 3);
	flow_free(fx.nic, 0);
	assert_int_equal(flow_alloc(fx.nic), 0);
	assert_int_equal(flow_alloc(fx.nic), FLOW_NONE);
	unmake(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_slots_in_index_order_none_touched),
		cmocka_unit_test(test_freed_slots_reused_last_freed_first),
		cmocka_unit_test(test_table_full_then_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
