/*
 * timer_heap.h: an indexed binary min-heap of (deadline, id) where each id
 * (0 .. capacity-1, e.g. a flow index) has at most one entry, so a flow's
 * timer can be moved or cancelled in O(log n) without leaving stale
 * entries behind. The caller owns all memory (no allocation after init).
 */
#ifndef BT_TIMER_HEAP_H
#define BT_TIMER_HEAP_H

#include <stdbool.h>
#include <stdint.h>

struct timer_heap {
	uint32_t capacity;
	uint32_t count;
	uint32_t *heap_ids;      /* heap order: ids */
	uint64_t *deadline_ns;   /* by id */
	uint32_t *pos_of_id;     /* by id: index in heap_ids, or UINT32_MAX */
};

/* Returns 0, or -1 if allocation fails. */
int timer_heap_init(struct timer_heap *th, uint32_t capacity);
void timer_heap_free(struct timer_heap *th);
/* Inserts or moves id's timer. Ids >= capacity are ignored (returns -1). */
int timer_heap_set(struct timer_heap *th, uint32_t id, uint64_t deadline_ns);
void timer_heap_cancel(struct timer_heap *th, uint32_t id);
bool timer_heap_armed(const struct timer_heap *th, uint32_t id);
/* Earliest deadline, UINT64_MAX when empty. */
uint64_t timer_heap_peek_ns(const struct timer_heap *th);
/* Pops the earliest entry if its deadline <= now: returns 1 and stores
 * the id, else 0. */
int timer_heap_pop_due(struct timer_heap *th, uint64_t now_ns, uint32_t *id_out);

#endif
