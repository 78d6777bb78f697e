/*
 * rng.h: the simulator's one source of randomness. xoshiro256** seeded by
 * splitmix64 from a 64-bit seed: same seed, same sequence, on every
 * machine. Each consumer gets its own stream (sim_rng_fork) so adding a
 * draw in one place does not shift every other.
 */
#ifndef BT_SIM_RNG_H
#define BT_SIM_RNG_H

#include <stdint.h>

struct sim_rng {
	uint64_t s[4];
};

void sim_rng_seed(struct sim_rng *r, uint64_t seed);
uint64_t sim_rng_next(struct sim_rng *r);
/* Uniform in [0, bound) without modulo bias; bound 0 returns 0. */
uint64_t sim_rng_below(struct sim_rng *r, uint64_t bound);
/* Uniform double in [0, 1). */
double sim_rng_unit(struct sim_rng *r);
/* A new independent stream derived from r and a label. */
void sim_rng_fork(struct sim_rng *r, uint64_t label, struct sim_rng *out);

#endif
