/* Flow allocation and the 4-tuple hash. Flows live in one array sized at
 * creation; freed slots go on a free list threaded through hash_next, and
 * slots never used are taken in index order from flows_hi (the same order
 * as one list of every slot, without touching them all at creation). */
#include <string.h>

#include "nic_internal.h"

static uint32_t tuple_hash(uint32_t local_ip, uint16_t local_port, uint32_t remote_ip, uint16_t remote_port)
{
	uint64_t h = ((uint64_t)remote_ip << 32) ^ ((uint64_t)remote_port << 16) ^ local_port;
	h ^= (uint64_t)local_ip * 0x9e3779b97f4a7c15ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (uint32_t)h;
}

uint32_t flow_alloc(struct nic *nic)
{
	uint32_t idx = nic->flow_free_head;
	struct flow *f;
	if (idx != FLOW_NONE) {
		f = &nic->flows[idx];
		nic->flow_free_head = f->hash_next;
	} else if (nic->flows_hi < nic->cfg.max_flows) {
		idx = nic->flows_hi++;
		f = &nic->flows[idx];
	} else {
		return FLOW_NONE;
	}
	uint32_t gen = f->gen + 1;
	memset(f, 0, sizeof(*f));
	f->gen = gen;
	f->in_use = true;
	f->hash_next = FLOW_NONE;
	f->listener = FLOW_NONE;
	f->host_slot = FLOW_NONE;
	nic->stats.flows_active++;
	if (nic->stats.flows_active > nic->stats.flows_max_seen)
		nic->stats.flows_max_seen = nic->stats.flows_active;
	return idx;
}

static void hash_remove(struct nic *nic, uint32_t idx)
{
	struct flow *f = &nic->flows[idx];
	uint32_t b = tuple_hash(f->local_ip, f->local_port, f->remote_ip, f->remote_port) & nic->hash_mask;
	uint32_t *link = &nic->hash_buckets[b];
	while (*link != FLOW_NONE) {
		if (*link == idx) {
			*link = f->hash_next;
			return;
		}
		link = &nic->flows[*link].hash_next;
	}
}

void flow_hash_insert(struct nic *nic, uint32_t idx)
{
	struct flow *f = &nic->flows[idx];
	uint32_t b = tuple_hash(f->local_ip, f->local_port, f->remote_ip, f->remote_port) & nic->hash_mask;
	f->hash_next = nic->hash_buckets[b];
	nic->hash_buckets[b] = idx;
}

void flow_free(struct nic *nic, uint32_t idx)
{
	struct flow *f = &nic->flows[idx];
	if (!f->in_use)
		return;
	hash_remove(nic, idx);
	timer_heap_cancel(&nic->timers, idx);
	f->in_use = false;
	f->state = TCP_CLOSED;
	f->hash_next = nic->flow_free_head;
	nic->flow_free_head = idx;
	nic->stats.flows_active--;
}

uint32_t flow_lookup(struct nic *nic, uint32_t local_ip, uint16_t local_port, uint32_t remote_ip,
		     uint16_t remote_port)
{
	uint32_t b = tuple_hash(local_ip, local_port, remote_ip, remote_port) & nic->hash_mask;
	for (uint32_t i = nic->hash_buckets[b]; i != FLOW_NONE; i = nic->flows[i].hash_next) {
		const struct flow *f = &nic->flows[i];
		if (f->local_port == local_port && f->remote_port == remote_port && f->remote_ip == remote_ip &&
		    f->local_ip == local_ip)
			return i;
	}
	return FLOW_NONE;
}

bool flow_port_in_use(struct nic *nic, uint16_t local_port, uint32_t remote_ip, uint16_t remote_port)
{
	return flow_lookup(nic, nic->cfg.ip, local_port, remote_ip, remote_port) != FLOW_NONE;
}

void flow_free_if_retired(struct nic *nic, uint32_t idx)
{
	struct flow *f = &nic->flows[idx];
	if (f->in_use && f->retired && !f->in_notify && !f->in_tx)
		flow_free(nic, idx);
}

void flow_retire(struct nic *nic, uint32_t idx)
{
	struct flow *f = &nic->flows[idx];
	if (!f->in_use)
		return;
	f->retired = true;
	f->state = TCP_CLOSED;
	f->rings_attached = false;
	timer_heap_cancel(&nic->timers, idx);
	flow_free_if_retired(nic, idx);
}
