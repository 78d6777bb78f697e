#include "timer_heap.h"

#include <stdlib.h>

#define POS_NONE UINT32_MAX

int timer_heap_init(struct timer_heap *th, uint32_t capacity)
{
	th->capacity = capacity;
	th->count = 0;
	th->heap_ids = calloc(capacity ? capacity : 1, sizeof(*th->heap_ids));
	th->deadline_ns = calloc(capacity ? capacity : 1, sizeof(*th->deadline_ns));
	th->pos_of_id = malloc((capacity ? capacity : 1) * sizeof(*th->pos_of_id));
	if (!th->heap_ids || !th->deadline_ns || !th->pos_of_id) {
		timer_heap_free(th);
		return -1;
	}
	for (uint32_t i = 0; i < capacity; i++)
		th->pos_of_id[i] = POS_NONE;
	return 0;
}

void timer_heap_free(struct timer_heap *th)
{
	free(th->heap_ids);
	free(th->deadline_ns);
	free(th->pos_of_id);
	th->heap_ids = 0;
	th->deadline_ns = 0;
	th->pos_of_id = 0;
	th->count = 0;
}

static bool earlier(const struct timer_heap *th, uint32_t a_pos, uint32_t b_pos)
{
	uint32_t a = th->heap_ids[a_pos], b = th->heap_ids[b_pos];
	if (th->deadline_ns[a] != th->deadline_ns[b])
		return th->deadline_ns[a] < th->deadline_ns[b];
	/* Ties broken by id so the pop order is a pure function of the
	 * deadlines: the simulator's determinism depends on it. */
	return a < b;
}

static void swap_pos(struct timer_heap *th, uint32_t i, uint32_t j)
{
	uint32_t a = th->heap_ids[i], b = th->heap_ids[j];
	th->heap_ids[i] = b;
	th->heap_ids[j] = a;
	th->pos_of_id[b] = i;
	th->pos_of_id[a] = j;
}

static void sift_up(struct timer_heap *th, uint32_t pos)
{
	while (pos > 0) {
		uint32_t parent = (pos - 1) / 2;
		if (!earlier(th, pos, parent))
			break;
		swap_pos(th, pos, parent);
		pos = parent;
	}
}

static void sift_down(struct timer_heap *th, uint32_t pos)
{
	for (;;) {
		uint32_t left = 2 * pos + 1, right = left + 1, best = pos;
		if (left < th->count && earlier(th, left, best))
			best = left;
		if (right < th->count && earlier(th, right, best))
			best = right;
		if (best == pos)
			return;
		swap_pos(th, pos, best);
		pos = best;
	}
}

int timer_heap_set(struct timer_heap *th, uint32_t id, uint64_t deadline_ns)
{
	if (id >= th->capacity)
		return -1;
	uint32_t pos = th->pos_of_id[id];
	uint64_t old_ns = th->deadline_ns[id];
	th->deadline_ns[id] = deadline_ns;
	if (pos == POS_NONE) {
		pos = th->count++;
		th->heap_ids[pos] = id;
		th->pos_of_id[id] = pos;
		sift_up(th, pos);
		return 0;
	}
	/* "earlier" is a strict total order (ties by id), so an entry moved
	 * earlier can only rise and one moved later only sink: the other
	 * sift would find nothing to swap. */
	if (deadline_ns < old_ns && pos > 0)
		sift_up(th, pos);
	else if (deadline_ns > old_ns && 2 * pos + 1 < th->count)
		sift_down(th, pos); /* not called for a leaf: one flow's heap is one entry */
	return 0;
}

void timer_heap_cancel(struct timer_heap *th, uint32_t id)
{
	if (id >= th->capacity || th->pos_of_id[id] == POS_NONE)
		return;
	uint32_t pos = th->pos_of_id[id];
	uint32_t last = --th->count;
	if (pos != last) {
		swap_pos(th, pos, last);
		th->pos_of_id[id] = POS_NONE;
		sift_up(th, pos);
		sift_down(th, pos);
	} else {
		th->pos_of_id[id] = POS_NONE;
	}
}

bool timer_heap_armed(const struct timer_heap *th, uint32_t id)
{
	return id < th->capacity && th->pos_of_id[id] != POS_NONE;
}

uint64_t timer_heap_peek_ns(const struct timer_heap *th)
{
	return th->count ? th->deadline_ns[th->heap_ids[0]] : UINT64_MAX;
}

int timer_heap_pop_due(struct timer_heap *th, uint64_t now_ns, uint32_t *id_out)
{
	if (th->count == 0 || th->deadline_ns[th->heap_ids[0]] > now_ns)
		return 0;
	uint32_t id = th->heap_ids[0];
	timer_heap_cancel(th, id);
	*id_out = id;
	return 1;
}
