/* SPDX-License-Identifier: MIT */
/*
 * Fast mode's record buffer and the writing of one record, inline in thread.c's hot path (a
 * record is a few stores: less than a call into fast.c). What happens once per batch, per
 * definition or per session is in fast.c. GIL held everywhere.
 */
#ifndef PYTRACE_FAST_H
#define PYTRACE_FAST_H

#include "internal.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#define PT_HAVE_TSC 1
#else
#define PT_HAVE_TSC 0
#endif

#define PT_FAST_RECORDS 128

/* Inlined into the hot path whatever the compiler's estimate of its size. */
#define PT_FAST_HOT static inline __attribute__((always_inline))

enum pt_rec_type {
	PT_REC_PY_ENTRY = 0,
	PT_REC_PY_RETURN = 1,
	PT_REC_C_ENTRY = 2,
	PT_REC_C_RETURN = 3,
};

struct pt_fastbuf {
	size_t n;
	unsigned int gen; /* pt_session_gen when the definitions of the records were checked */
	uint64_t batch;	  /* this batch's number, unique in the process (pt_code.fast_batch) */
	uint64_t first_ts; /* the first record's clock value (TSC or ns) */
	/* TSC clock only: the TSC and CLOCK_MONOTONIC read together when the batch began, and the
	 * time the previous batch of this buffer was handed over (no record is earlier). */
	uint64_t anchor_ts, anchor_ns, floor_ns;
	size_t n_codes;
	size_t n_cnames;
	uint64_t words[2 * PT_FAST_RECORDS];
	/* The descriptions the batch's entries name by their fast_id (mostly once each; one
	 * reference per entry here): emitted again before the batch if a session started. */
	const struct pt_code *codes[PT_FAST_RECORDS];
	const struct pt_cname *cnames[PT_FAST_RECORDS];
};

/* Whether records read the TSC (else CLOCK_MONOTONIC), and the hand-over age in clock units. */
extern bool pt_fast_tsc;
extern uint64_t pt_fast_max_age;

uint64_t pt_fast_now_ns(void);

/* The rare paths, in fast.c: a buffer to create or whose definitions a new session needs; the
 * first record of a batch; a definition to emit (returns the id the entry names). */
struct pt_fastbuf *pt_fast_buffer_slow(struct pt_thread *t, unsigned int gen);
void pt_fast_begin(struct pt_fastbuf *b, uint64_t ts);
uint32_t pt_fast_define_py(struct pt_thread *t, const struct pt_frame *f, unsigned int gen);
void pt_fast_define_c(struct pt_thread *t, struct pt_cname *cn, unsigned int gen);

static inline uint64_t pt_fast_clock(void)
{
#if PT_HAVE_TSC
	if (__builtin_expect(pt_fast_tsc, 1)) {
		return __rdtsc();
	}
#endif
	return pt_fast_now_ns();
}

/* The buffer with room for one more record, or NULL when memory runs out. */
static inline struct pt_fastbuf *pt_fast_buffer(struct pt_thread *t, unsigned int gen)
{
	struct pt_fastbuf *b = t->fast;

	if (__builtin_expect(!b || b->gen != gen, 0)) {
		return pt_fast_buffer_slow(t, gen);
	}
	return b;
}

PT_FAST_HOT void pt_fast_append(struct pt_thread *t, struct pt_fastbuf *b, uint64_t ts, uint32_t id,
				enum pt_rec_type type, int kind)
{
	size_t i = b->n++;

	if (__builtin_expect(!i, 0)) {
		pt_fast_begin(b, ts);
	}
	b->words[2 * i] = ts;
	b->words[2 * i + 1] = id | (uint64_t)type << 32 | (uint64_t)(kind & 0xff) << 40;
	if (__builtin_expect(b->n == PT_FAST_RECORDS ||
				     ts - b->first_ts >
					     __atomic_load_n(&pt_fast_max_age, __ATOMIC_RELAXED),
			     0)) {
		pt_fast_flush(t);
	}
}

/* Appends one record; flushes the buffer when full. The emitting side of thread.c. */
PT_FAST_HOT void pt_fast_entry(struct pt_thread *t, const struct pt_frame *f,
			       enum pt_entry_kind kind)
{
	unsigned int gen = __atomic_load_n(&pt_session_gen, __ATOMIC_RELAXED);
	struct pt_fastbuf *b = pt_fast_buffer(t, gen);
	uint64_t ts = pt_fast_clock();
	uint32_t id;

	if (!b) {
		return;
	}
	if (f->code) {
		struct pt_code *c = (struct pt_code *)f->info;

		if (__builtin_expect(f->module != NULL, 0)) {
			/* Shared code run in another module's namespace: a definition of its own,
			 * emitted now, under an id no other record names. */
			id = pt_fast_define_py(t, f, gen);
		} else {
			if (__builtin_expect(c->def_gen != gen || !c->fast_id, 0)) {
				pt_fast_define_py(t, f, gen);
			}
			if (__builtin_expect(c->fast_batch != b->batch, 0)) {
				c->fast_batch = b->batch;
				c->refs++; /* pt_code_ref(), released at the flush */
				b->codes[b->n_codes++] = c;
			}
			id = c->fast_id;
		}
		pt_fast_append(t, b, ts, id, PT_REC_PY_ENTRY, kind);
	} else {
		struct pt_cname *cn = (struct pt_cname *)f->cname;

		if (__builtin_expect(cn->def_gen != gen || !cn->fast_id, 0)) {
			pt_fast_define_c(t, cn, gen);
		}
		if (__builtin_expect(cn->fast_batch != b->batch, 0)) {
			cn->fast_batch = b->batch;
			b->cnames[b->n_cnames++] = cn;
		}
		pt_fast_append(t, b, ts, cn->fast_id, PT_REC_C_ENTRY, kind);
	}
}

PT_FAST_HOT void pt_fast_return(struct pt_thread *t, const struct pt_frame *f,
				enum pt_return_kind kind)
{
	unsigned int gen = __atomic_load_n(&pt_session_gen, __ATOMIC_RELAXED);
	struct pt_fastbuf *b = pt_fast_buffer(t, gen);
	uint64_t ts = pt_fast_clock();

	if (!b) {
		return;
	}
	/* A return names no definition of its own: it closes the thread's innermost open entry.
	 * Its id repeats the entry's for checking (0 for shared code, see above). */
	if (f->code) {
		pt_fast_append(t, b, ts, f->module ? 0 : f->info->fast_id, PT_REC_PY_RETURN, kind);
	} else {
		pt_fast_append(t, b, ts, f->cname->fast_id, PT_REC_C_RETURN, kind);
	}
}

#endif /* PYTRACE_FAST_H */
