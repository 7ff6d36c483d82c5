/* SPDX-License-Identifier: MIT */
/*
 * The decoder's lookup table (decode-int.h): open addressing, keyed by three integers (code
 * definitions by pid, interp and id; threads by pid and tid; modes by pid). Values are never
 * removed: a trace's processes, threads and code objects only accumulate. Single-threaded.
 */
#include <stdlib.h>

#include "decode-int.h"

static uint64_t key_hash(const struct pt_key *k)
{
	uint64_t h = (uint64_t)k->a * 0x9e3779b97f4a7c15ULL;

	h ^= (uint64_t)k->b + 0x7f4a7c159e3779b9ULL + (h << 6) + (h >> 2);
	h ^= (uint64_t)k->c * 0xbf58476d1ce4e5b9ULL + (h << 6) + (h >> 2);
	return h ^ (h >> 31);
}

static struct pt_slot *table_slot(struct pt_table *t, const struct pt_key *k)
{
	size_t i = key_hash(k) & (t->cap - 1);

	while (t->slots[i].v &&
	       (t->slots[i].k.a != k->a || t->slots[i].k.b != k->b || t->slots[i].k.c != k->c)) {
		i = (i + 1) & (t->cap - 1);
	}
	return &t->slots[i];
}

void *pt_table_get(struct pt_table *t, int64_t a, int64_t b, int64_t c)
{
	struct pt_key k = { a, b, c };

	if (!t->cap) {
		return NULL;
	}
	return table_slot(t, &k)->v;
}

int pt_table_put(struct pt_table *t, int64_t a, int64_t b, int64_t c, void *v)
{
	struct pt_key k = { a, b, c };
	struct pt_slot *s;

	if ((t->len + 1) * 10 >= t->cap * 7) {
		size_t ncap = t->cap ? t->cap * 2 : 64, i;
		struct pt_table n = { calloc(ncap, sizeof(struct pt_slot)), ncap, 0 };

		if (!n.slots) {
			return -1;
		}
		for (i = 0; i < t->cap; i++) {
			if (t->slots[i].v) {
				*table_slot(&n, &t->slots[i].k) = t->slots[i];
				n.len++;
			}
		}
		free(t->slots);
		*t = n;
	}
	s = table_slot(t, &k);
	if (!s->v) {
		t->len++;
	}
	s->k = k;
	s->v = v;
	return 0;
}
