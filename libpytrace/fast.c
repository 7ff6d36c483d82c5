/* SPDX-License-Identifier: MIT */
/*
 * Fast mode: each thread writes 16-byte records (a CLOCK_MONOTONIC timestamp, which is LTTng's
 * clock; a definition id, a type and a kind) into a buffer of its own (fast.h writes them),
 * handed to LTTng as one `python:records` event of up to PT_FAST_RECORDS records. What an id
 * stands for is emitted once per session as a `python:code` event, before the first batch that
 * names it.
 *
 * "Once per session": a definition is emitted again whenever pt_session_gen changed since it
 * was last emitted (a session started recording; see session.c), so each session's trace holds
 * every definition its records use. A buffer written before such a change is checked when it is
 * handed over, and the definitions it names are emitted again first: the batch holds a
 * reference on each code description (struct pt_code) its entries name, taken at the first such
 * entry of the batch (pt_code.fast_batch), until then, so that it outlives the code object if
 * need be.
 *
 * Timestamps: where the kernel keeps CLOCK_MONOTONIC on the TSC (x86-64, clocksource "tsc":
 * constant, synchronized across CPUs), a record stores the raw TSC (one rdtsc, a few ns, against
 * ~20 ns for clock_gettime()) and the buffer converts its records when it is handed over: it
 * reads both clocks together when its first record is written and again at the hand-over, and
 * maps each TSC value linearly through the two pairs (the first record, read before its code's
 * definition was emitted, lies a little before the first pair). The result is CLOCK_MONOTONIC
 * ns, within a few tens of ns of the clock read at that moment, non-decreasing, never later than
 * the `python:records` event that carries it nor earlier than the batch before. Elsewhere, or with PYTRACE_FAST_CLOCK=monotonic, each record reads CLOCK_MONOTONIC.
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

#include "fast.h"
#include "tp/python-tp.h"

#define FAST_MAX_AGE_NS 100000000ull /* a buffer older than this is handed over */

static uint32_t next_id = 1;
static uint64_t next_batch = 1;

uint64_t pt_fast_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the records' clock ---- */

bool pt_fast_tsc;
/* FAST_MAX_AGE_NS in clock units; in TSC ticks, first for a 3 GHz TSC, then measured. */
uint64_t pt_fast_max_age = FAST_MAX_AGE_NS;
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
	pt_fast_tsc = PT_HAVE_TSC && !(env && strcmp(env, "monotonic") == 0) && kernel_uses_tsc();
	if (pt_fast_tsc) {
		pt_fast_max_age = FAST_MAX_AGE_NS * 3;
	}
	pt_debug("fast mode clock: %s", pt_fast_tsc ? "tsc" : "CLOCK_MONOTONIC");
}

/* The TSC and CLOCK_MONOTONIC at one moment: the TSC halfway through the clock's read. A read
 * that took long (the thread was preempted in it, or an interrupt came) would put that moment
 * anywhere in between: of a few tries, the narrowest is kept. */
static void clock_pair(uint64_t *tsc, uint64_t *ns)
{
#if PT_HAVE_TSC
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 4; i++) {
		uint64_t before = __rdtsc(), n = pt_fast_now_ns(), after = __rdtsc();

		if (after - before < best) {
			best = after - before;
			*tsc = before + best / 2;
			*ns = n;
		}
		if (best < 2000) { /* under 1 us on any TSC of 2 GHz or more */
			break;
		}
	}
#else
	*ns = pt_fast_now_ns();
	*tsc = 0;
#endif
}

/* Turns the buffer's TSC values into CLOCK_MONOTONIC ns (see the top of the file). */
static void convert(struct pt_fastbuf *b)
{
	uint64_t t0 = b->anchor_ts, n0 = b->anchor_ns, t1, n1, prev = b->floor_ns, span, r;
	unsigned __int128 rate;

	if (!pt_fast_tsc) {
		return;
	}
	clock_pair(&t1, &n1);
	if (n1 < n0) {
		n1 = n0;
	}
	b->floor_ns = n1;
	span = t1 > t0 ? t1 - t0 : 0;
	/* ns per tick, in 32.32 fixed point: one division per batch */
	rate = span ? ((unsigned __int128)(n1 - n0) << 32) / span : 0;
	/* Every batch younger than ~1 s of a TSC faster than 1 GHz: products of 64 bits. */
	r = span < (1ull << 32) && rate < (1ull << 32) ? (uint64_t)rate : 0;
	for (size_t i = 0; i < b->n; i++) {
		uint64_t t = b->words[2 * i], ns, back;

		if (t < t0) {
			/* Read before the anchors: the batch's first record (its code's definition
			 * may be emitted in between), or another CPU's TSC a few ticks off. */
			back = (uint64_t)(((unsigned __int128)(t0 - t) * rate) >> 32);
			ns = back < n0 ? n0 - back : 0;
		} else if (t - t0 >= span) {
			ns = n1;
		} else {
			ns = r ? n0 + ((t - t0) * r >> 32)
			       : n0 + (uint64_t)(((unsigned __int128)(t - t0) * rate) >> 32);
		}
		/* Never before the previous record or batch: the thread's order stays. */
		prev = ns < prev ? prev : ns;
		b->words[2 * i] = prev;
	}
	/* The age limit in ticks, from a batch long enough to measure the TSC's rate. */
	if (n1 - n0 >= 10000000 && t1 > t0) {
		__atomic_store_n(&pt_fast_max_age,
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

uint32_t pt_fast_define_py(struct pt_thread *t, const struct pt_frame *f, unsigned int gen)
{
	struct pt_code *c = (struct pt_code *)f->info;
	uint32_t id;

	if (f->module) {
		id = new_id();
		define_code(t, id, c, pt_module_utf8(f->module));
		return id;
	}
	if (!c->fast_id) {
		c->fast_id = new_id();
	}
	if (c->def_gen != gen) {
		define_code(t, c->fast_id, c, c->module);
		c->def_gen = gen;
	}
	return c->fast_id;
}

void pt_fast_define_c(struct pt_thread *t, struct pt_cname *cn, unsigned int gen)
{
	if (!cn->fast_id) {
		cn->fast_id = new_id();
	}
	if (cn->def_gen != gen) {
		define_cname(t, cn);
		cn->def_gen = gen;
	}
}

/* Emits again the definitions that the buffered records name and session @gen has not seen. */
static void redefine(struct pt_thread *t, struct pt_fastbuf *b, unsigned int gen)
{
	for (size_t i = 0; i < b->n_codes; i++) {
		struct pt_code *c = (struct pt_code *)b->codes[i];

		if (c->def_gen != gen) {
			define_code(t, c->fast_id, c, c->module);
			c->def_gen = gen;
		}
	}
	for (size_t i = 0; i < b->n_cnames; i++) {
		struct pt_cname *cn = (struct pt_cname *)b->cnames[i];

		if (cn->def_gen != gen) {
			define_cname(t, cn);
			cn->def_gen = gen;
		}
	}
	b->gen = gen;
}

static inline uint64_t new_batch(void)
{
	return __atomic_fetch_add(&next_batch, 1, __ATOMIC_RELAXED);
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
	for (size_t i = 0; i < b->n_codes; i++) {
		pt_code_unref(b->codes[i]);
	}
	b->n = 0;
	b->n_codes = 0;
	b->n_cnames = 0;
	b->batch = new_batch(); /* the descriptions of the next batch are marked anew */
}

void pt_fast_free(struct pt_thread *t)
{
	if (t->fast) {
		pt_fast_flush(t);
		PyMem_RawFree(t->fast);
		t->fast = NULL;
	}
}

struct pt_fastbuf *pt_fast_buffer_slow(struct pt_thread *t, unsigned int gen)
{
	struct pt_fastbuf *b = t->fast;

	if (!b) {
		pthread_once(&clock_once, clock_init);
		b = PyMem_RawMalloc(sizeof(*b));
		if (!b) {
			return NULL;
		}
		b->n = 0;
		b->n_codes = 0;
		b->n_cnames = 0;
		b->floor_ns = 0;
		b->gen = gen;
		b->batch = new_batch();
		t->fast = b;
	}
	if (b->gen != gen) {
		redefine(t, b, gen);
	}
	return b;
}

void pt_fast_begin(struct pt_fastbuf *b, uint64_t ts)
{
	b->first_ts = ts;
	if (pt_fast_tsc) {
		clock_pair(&b->anchor_ts, &b->anchor_ns);
	}
}

void pt_fast_flush_stale(struct pt_thread *t)
{
	struct pt_fastbuf *b = t->fast;

	if (b && b->n &&
	    pt_fast_clock() - b->first_ts > __atomic_load_n(&pt_fast_max_age, __ATOMIC_RELAXED)) {
		pt_fast_flush(t);
	}
}
