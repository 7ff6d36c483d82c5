/* SPDX-License-Identifier: MIT */
/*
 * Fast mode: each thread writes 16-byte records (a CLOCK_MONOTONIC timestamp, which is LTTng's
 * clock; a definition id, a type and a kind) into a buffer of its own, handed to LTTng as one
 * `python:records` event of up to FAST_RECORDS records. What an id stands for is emitted once
 * per session as a `python:code` event, before the first batch that names it.
 *
 * "Once per session": a definition is emitted again whenever pt_session_gen changed since it
 * was last emitted (a session started recording; see session.c), so each session's trace holds
 * every definition its records use. A buffer written before such a change is checked when it is
 * handed over, and the definitions it names are emitted again first: the entry records hold a
 * reference on their code's description (struct pt_code) until then, so that it outlives the
 * code object if need be.
 *
 * Timestamps: where the kernel keeps CLOCK_MONOTONIC on the TSC (x86-64, clocksource "tsc":
 * constant, synchronized across CPUs), a record stores the raw TSC (one rdtsc, a few ns, against
 * ~20 ns for clock_gettime()) and the buffer converts its records when it is handed over: it
 * reads both clocks at its first record and again at the hand-over, and maps each TSC value
 * linearly between the two. The result is CLOCK_MONOTONIC ns, exact at both ends, non-decreasing,
 * and never later than the `python:records` event that carries it nor earlier than the batch
 * before. Elsewhere, or with PYTRACE_FAST_CLOCK=monotonic, each record reads CLOCK_MONOTONIC.
 *
 * GIL held everywhere (the buffer's thread, or the watcher flushing an idle thread's buffer with
 * the GIL of its interpreter).
 */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#define HAVE_TSC 1
#else
#define HAVE_TSC 0
#endif

#include "tp/python-tp.h"

#define FAST_RECORDS 128
#define FAST_MAX_AGE_NS 100000000ull /* a buffer older than this is handed over */

enum rec_type {
	REC_PY_ENTRY = 0,
	REC_PY_RETURN = 1,
	REC_C_ENTRY = 2,
	REC_C_RETURN = 3,
};

struct pt_fastbuf {
	size_t n;
	unsigned int gen; /* pt_session_gen when the definitions of the records were checked */
	uint64_t first_ts;  /* the first record's clock value (TSC or ns) */
	uint64_t first_ns;  /* CLOCK_MONOTONIC read with it (TSC clock only) */
	uint64_t words[2 * FAST_RECORDS];
	/* per record: the description it names (a reference, for Python entries) */
	const struct pt_code *codes[FAST_RECORDS];
	const struct pt_cname *cnames[FAST_RECORDS];
};

static uint32_t next_id = 1;

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the records' clock ---- */

static bool use_tsc;
/* FAST_MAX_AGE_NS in clock units; in TSC ticks, first for a 3 GHz TSC, then measured. */
static uint64_t max_age = FAST_MAX_AGE_NS;
static pthread_once_t clock_once = PTHREAD_ONCE_INIT;

/* Whether the kernel's CLOCK_MONOTONIC runs on the TSC (so the TSC is usable and in step). */
static bool kernel_uses_tsc(void)
{
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
	char name[32] = "";
	bool tsc;

	if (!f) {
		return false;
	}
	tsc = fgets(name, sizeof(name), f) && strcmp(name, "tsc\n") == 0;
	fclose(f);
	return tsc;
}

static void clock_init(void)
{
	const char *env = getenv("PYTRACE_FAST_CLOCK");

	if (env && *env && strcmp(env, "monotonic") != 0 && strcmp(env, "auto") != 0) {
		pt_warn("PYTRACE_FAST_CLOCK: unknown clock '%s' (auto or monotonic); using auto", env);
	}
	use_tsc = HAVE_TSC && !(env && strcmp(env, "monotonic") == 0) && kernel_uses_tsc();
	if (use_tsc) {
		max_age = FAST_MAX_AGE_NS * 3;
	}
	pt_debug("fast mode clock: %s", use_tsc ? "tsc" : "CLOCK_MONOTONIC");
}

static inline uint64_t clock_now(void)
{
#if HAVE_TSC
	if (__builtin_expect(use_tsc, 1)) {
		return __rdtsc();
	}
#endif
	return now_ns();
}

/* Turns the buffer's TSC values into CLOCK_MONOTONIC ns (see the top of the file). */
static void convert(struct pt_fastbuf *b)
{
	uint64_t t0 = b->first_ts, n0 = b->first_ns, t1, n1, prev = n0;

	if (!use_tsc) {
		return;
	}
#if HAVE_TSC
	t1 = __rdtsc();
#else
	t1 = t0;
#endif
	n1 = now_ns();
	if (n1 < n0) {
		n1 = n0;
	}
	/* ns per tick, in 32.32 fixed point: one division per batch */
	unsigned __int128 rate = t1 > t0 ? ((unsigned __int128)(n1 - n0) << 32) / (t1 - t0) : 0;

	for (size_t i = 0; i < b->n; i++) {
		uint64_t t = b->words[2 * i], ns = n0;

		if (t > t0) {
			ns = t >= t1 ? n1 : n0 + (uint64_t)(((t - t0) * rate) >> 32);
		}
		/* A TSC a few ticks off between CPUs must not reorder the thread's records. */
		if (ns < prev) {
			ns = prev;
		}
		b->words[2 * i] = prev = ns;
	}
	/* The age limit in ticks, from a batch long enough to measure the TSC's rate. */
	if (n1 - n0 >= 10000000 && t1 > t0) {
		__atomic_store_n(&max_age,
				 (uint64_t)((unsigned __int128)(t1 - t0) * FAST_MAX_AGE_NS / (n1 - n0)),
				 __ATOMIC_RELAXED);
	}
}

static inline uint32_t new_id(void)
{
	return __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
}

static void define_code(struct pt_thread *t, uint32_t id, const struct pt_code *c,
			const char *module)
{
	lttng_ust_tracepoint(python, code, id, 0, c->filename, c->name, c->firstlineno, c->qualname,
			     module, t->interp_id);
}

static void define_cname(struct pt_thread *t, const struct pt_cname *cn)
{
	lttng_ust_tracepoint(python, code, cn->fast_id, 1, "", cn->name, 0, cn->name, "",
			     t->interp_id);
}

/* Emits again the definitions that the buffered records name and session @gen has not seen. */
static void redefine(struct pt_thread *t, struct pt_fastbuf *b, unsigned int gen)
{
	for (size_t i = 0; i < b->n; i++) {
		struct pt_code *c = (struct pt_code *)b->codes[i];
		struct pt_cname *cn = (struct pt_cname *)b->cnames[i];

		if (c && c->def_gen != gen && (uint32_t)b->words[2 * i + 1] == c->fast_id) {
			define_code(t, c->fast_id, c, c->module);
			c->def_gen = gen;
		} else if (cn && cn->def_gen != gen) {
			define_cname(t, cn);
			cn->def_gen = gen;
		}
	}
	b->gen = gen;
}

void pt_fast_flush(struct pt_thread *t)
{
	struct pt_fastbuf *b = t->fast;
	unsigned int gen;

	if (!b || !b->n) {
		return;
	}
	/* A session may have started since the watcher last looked: look now, so that it gets
	 * the definitions before this batch. */
	pt_session_check();
	gen = __atomic_load_n(&pt_session_gen, __ATOMIC_RELAXED);
	if (b->gen != gen) {
		redefine(t, b, gen);
	}
	convert(b);
	lttng_ust_tracepoint(python, records, b->words, (unsigned int)(2 * b->n), t->tid,
			     t->interp_id);
	for (size_t i = 0; i < b->n; i++) {
		if (b->codes[i]) {
			pt_code_unref(b->codes[i]);
		}
	}
	b->n = 0;
}

void pt_fast_free(struct pt_thread *t)
{
	if (t->fast) {
		pt_fast_flush(t);
		PyMem_RawFree(t->fast);
		t->fast = NULL;
	}
}

/* The buffer with room for one more record, or NULL when memory runs out. */
static inline struct pt_fastbuf *buffer(struct pt_thread *t, unsigned int gen)
{
	struct pt_fastbuf *b = t->fast;

	if (__builtin_expect(!b, 0)) {
		pthread_once(&clock_once, clock_init);
		b = PyMem_RawMalloc(sizeof(*b));
		if (!b) {
			return NULL;
		}
		b->n = 0;
		b->gen = gen;
		t->fast = b;
	}
	if (__builtin_expect(b->gen != gen, 0)) {
		redefine(t, b, gen);
	}
	return b;
}

static inline void append(struct pt_thread *t, struct pt_fastbuf *b, uint64_t ts, uint32_t id,
			  enum rec_type type, int kind)
{
	size_t i = b->n++;

	if (!i) {
		b->first_ts = ts;
		b->first_ns = use_tsc ? now_ns() : ts;
	}
	b->words[2 * i] = ts;
	b->words[2 * i + 1] = id | (uint64_t)type << 32 | (uint64_t)(kind & 0xff) << 40;
	if (b->n == FAST_RECORDS ||
	    ts - b->first_ts > __atomic_load_n(&max_age, __ATOMIC_RELAXED)) {
		pt_fast_flush(t);
	}
}

void pt_fast_entry(struct pt_thread *t, const struct pt_frame *f, enum pt_entry_kind kind)
{
	unsigned int gen = __atomic_load_n(&pt_session_gen, __ATOMIC_RELAXED);
	struct pt_fastbuf *b = buffer(t, gen);
	uint64_t ts = clock_now();
	uint32_t id;

	if (!b) {
		return;
	}
	if (f->code) {
		struct pt_code *c = (struct pt_code *)f->info;

		if (__builtin_expect(f->module != NULL, 0)) {
			/* Shared code run in another module's namespace: a definition of its own. */
			id = new_id();
			define_code(t, id, c, pt_module_utf8(f->module));
		} else {
			if (__builtin_expect(!c->fast_id, 0)) {
				c->fast_id = new_id();
			}
			if (__builtin_expect(c->def_gen != gen, 0)) {
				define_code(t, c->fast_id, c, c->module);
				c->def_gen = gen;
			}
			id = c->fast_id;
		}
		pt_code_ref(c);
		b->codes[b->n] = c;
		b->cnames[b->n] = NULL;
		append(t, b, ts, id, REC_PY_ENTRY, kind);
	} else {
		struct pt_cname *cn = (struct pt_cname *)f->cname;

		if (__builtin_expect(!cn->fast_id, 0)) {
			cn->fast_id = new_id();
		}
		if (__builtin_expect(cn->def_gen != gen, 0)) {
			define_cname(t, cn);
			cn->def_gen = gen;
		}
		b->codes[b->n] = NULL;
		b->cnames[b->n] = cn;
		append(t, b, ts, cn->fast_id, REC_C_ENTRY, kind);
	}
}

void pt_fast_return(struct pt_thread *t, const struct pt_frame *f, enum pt_return_kind kind)
{
	unsigned int gen = __atomic_load_n(&pt_session_gen, __ATOMIC_RELAXED);
	struct pt_fastbuf *b = buffer(t, gen);
	uint64_t ts = clock_now();

	if (!b) {
		return;
	}
	/* A return names no definition of its own: it closes the thread's innermost open entry.
	 * Its id repeats the entry's for checking (0 for shared code, see above). */
	b->codes[b->n] = NULL;
	b->cnames[b->n] = NULL;
	if (f->code) {
		append(t, b, ts, f->module ? 0 : f->info->fast_id, REC_PY_RETURN, kind);
	} else {
		append(t, b, ts, f->cname->fast_id, REC_C_RETURN, kind);
	}
}

void pt_fast_flush_stale(struct pt_thread *t)
{
	struct pt_fastbuf *b = t->fast;

	if (b && b->n && clock_now() - b->first_ts > __atomic_load_n(&max_age, __ATOMIC_RELAXED)) {
		pt_fast_flush(t);
	}
}
