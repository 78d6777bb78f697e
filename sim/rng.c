#include "rng.h"

#include "../core/util/mix.h"

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void sim_rng_seed(struct sim_rng *r, uint64_t seed)
{
	/* splitmix64 expands one word into four well-mixed ones, so nearby
	 * seeds (0, 1, 2...) still give unrelated streams and the all-zero
	 * state xoshiro cannot leave is out of practical reach. */
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

uint64_t sim_rng_next(struct sim_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t sim_rng_below(struct sim_rng *r, uint64_t bound)
{
	if (bound == 0)
		return 0;
	/* Values below 2^64 mod bound would make the low residues one draw
	 * likelier; rejecting them leaves an exact multiple of bound. */
	uint64_t threshold = (0 - bound) % bound;
	for (;;) {
		uint64_t x = sim_rng_next(r);
		if (x >= threshold)
			return x % bound;
	}
}

double sim_rng_unit(struct sim_rng *r)
{
	/* The top 53 bits fill a double's mantissa exactly; 1.0 is unreachable. */
	return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53;
}

void sim_rng_fork(struct sim_rng *r, uint64_t label, struct sim_rng *out)
{
	/* Mixing the label first keeps labels 0,1,2 from flipping only low bits
	 * of the parent's draw; reseeding through splitmix64 then decorrelates
	 * the child from the parent's state. */
	uint64_t l = label;
	uint64_t seed = sim_rng_next(r) ^ splitmix64(&l);
	sim_rng_seed(out, seed);
}
