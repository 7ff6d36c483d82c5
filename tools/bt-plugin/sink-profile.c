/* SPDX-License-Identifier: MIT */
/*
 * sink.pytrace.profile: a deterministic profile of a libpytrace trace, as cProfile would have
 * measured it (docs/profile.md): a table of functions (ncalls, tottime, cumtime), folded stacks
 * for flame-graph tools, or an SVG flame graph. The decoder (decode.h) gives time-ordered calls
 * and returns; each thread keeps a stack of open frames, and what a frame costs is added to its
 * function and to its node of the call tree when it closes. Memory grows with the number of
 * distinct functions and call paths (and the deepest stack), never with the trace's length.
 *
 * babeltrace2 runs a graph on one thread: no locks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <babeltrace2/babeltrace.h>

#include "decode.h"
#include "sinks.h"

#define NONE UINT32_MAX

enum fclass { FC_PY, FC_C, FC_NATIVE };
enum sort_col { SORT_CALLS, SORT_TOTTIME, SORT_CUMTIME, SORT_NAME, SORT_FILE };

struct func {
	char *module, *name, *file; /* name: qualname, C name or native symbol */
	int64_t line;
	enum fclass cls;
	uint64_t ncalls, nprim;
	int64_t tottime, cumtime; /* ns */
	char *label;		  /* folded/SVG name, made at the end */
};

/* A call path: parent node, function. A thread's root node has func NONE. */
struct node {
	uint32_t parent, func, thread;
	uint64_t calls;
	int64_t self, total; /* ns; total is summed at the end */
};

struct frame {
	uint32_t func, node, level; /* level: index of this (thread, function)'s recursion count */
	int64_t start, child;
	bool outer; /* the function's outermost activation on its thread: counts cumtime */
};

struct thread {
	int64_t pid, tid, first_ts, last_ts;
	uint32_t root;
	struct frame *stack;
	size_t depth, cap;
	int64_t root_done; /* time of the thread's closed outermost frames */
	long run;	   /* index in a run of `active` entries, -1 outside one */
	bool ran;	   /* had a frame: counts in the table's threads */
	int64_t run_ts;
};

struct slot {
	uint64_t hash;
	uint32_t idx;
};

/* Open addressing; entries live in the arrays below, the table holds their indexes. */
struct table {
	struct slot *s;
	size_t cap, n;
};

struct vec {
	void *p;
	size_t n, cap, size;
};

struct profile {
	bt_self_component *self;
	bt_message_iterator *it;
	struct pt_decoder *dec;
	/* params */
	enum sort_col sort;
	uint64_t limit; /* 0: all */
	bool folded, folded_calls, progress;
	double unit_div; /* ns per unit */
	const char *unit_name;
	int unit_prec; /* decimals */
	bool with_pid; /* threads named pid/tid: the trace has several processes */
	char *svg_path, *title;
	FILE *svg;
	bool svg_regular; /* svg_path is a regular file */
	/* state */
	struct vec funcs, nodes, threads, levels; /* levels: uint32_t recursion counts */
	struct table ftab, ntab, ttab, ltab;
	bool oom;
	struct timespec last_report;
	uint64_t last_count;
};

/* ---- small containers ---- */

static void *vec_push(struct vec *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		void *p = realloc(v->p, cap * v->size);

		if (!p) {
			return NULL;
		}
		v->p = p;
		v->cap = cap;
	}
	memset((char *)v->p + v->n * v->size, 0, v->size);
	return (char *)v->p + v->n++ * v->size;
}

#define VAT(v, type, i) (&((type *)(v).p)[i])

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++) {
		h = (h ^ c[i]) * 0x100000001b3ULL;
	}
	return h;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	/* the terminating NUL too, so ("ab","c") and ("a","bc") differ */
	return hash_bytes(h, s ? s : "", strlen(s ? s : "") + 1);
}

#define HASH_INIT 0xcbf29ce484222325ULL

typedef bool (*eq_fn)(const struct profile *p, uint32_t idx, const void *key);

static uint32_t table_find(const struct profile *p, const struct table *t, uint64_t h, eq_fn eq,
			   const void *key)
{
	if (!t->cap) {
		return NONE;
	}
	for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		if (t->s[i].idx == NONE) {
			return NONE;
		}
		if (t->s[i].hash == h && eq(p, t->s[i].idx, key)) {
			return t->s[i].idx;
		}
	}
}

static int table_add(struct table *t, uint64_t h, uint32_t idx)
{
	if ((t->n + 1) * 2 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct slot *s = malloc(cap * sizeof(*s));

		if (!s) {
			return -ENOMEM;
		}
		for (size_t i = 0; i < cap; i++) {
			s[i].idx = NONE;
		}
		for (size_t j = 0; j < t->cap; j++) {
			if (t->s[j].idx == NONE) {
				continue;
			}
			size_t i = t->s[j].hash & (cap - 1);

			while (s[i].idx != NONE) {
				i = (i + 1) & (cap - 1);
			}
			s[i] = t->s[j];
		}
		free(t->s);
		t->s = s;
		t->cap = cap;
	}
	size_t i = h & (t->cap - 1);

	while (t->s[i].idx != NONE) {
		i = (i + 1) & (t->cap - 1);
	}
	t->s[i].hash = h;
	t->s[i].idx = idx;
	t->n++;
	return 0;
}

/* ---- interning ---- */

struct fkey {
	enum fclass cls;
	const char *module, *name, *file;
	int64_t line;
};

static const char *nz(const char *s)
{
	return s ? s : "";
}

static bool func_eq(const struct profile *p, uint32_t idx, const void *key)
{
	const struct func *f = VAT(p->funcs, struct func, idx);
	const struct fkey *k = key;

	return f->cls == k->cls && f->line == k->line && !strcmp(f->name, k->name) &&
	       !strcmp(f->module, k->module) && !strcmp(f->file, k->file);
}

static uint64_t func_hash(const struct fkey *k)
{
	uint64_t h = hash_bytes(HASH_INIT, &k->cls, sizeof(k->cls));

	h = hash_str(h, k->module);
	h = hash_str(h, k->name);
	h = hash_str(h, k->file);
	return hash_bytes(h, &k->line, sizeof(k->line));
}

static uint32_t func_get(struct profile *p, const struct fkey *k)
{
	uint64_t h = func_hash(k);
	uint32_t idx = table_find(p, &p->ftab, h, func_eq, k);
	struct func *f;

	if (idx != NONE) {
		return idx;
	}
	idx = p->funcs.n;
	f = vec_push(&p->funcs);
	if (!f) {
		goto oom;
	}
	f->cls = k->cls;
	f->line = k->line;
	f->module = strdup(k->module);
	f->name = strdup(k->name);
	f->file = strdup(k->file);
	if (!f->module || !f->name || !f->file || table_add(&p->ftab, h, idx)) {
		goto oom;
	}
	return idx;
oom:
	p->oom = true;
	return NONE;
}

/* A return whose entry is not in the trace names its function but not its first line. */
static uint32_t func_get_by_name(struct profile *p, struct fkey *k)
{
	for (size_t i = 0; i < p->funcs.n; i++) {
		const struct func *f = VAT(p->funcs, struct func, i);

		if (f->cls == k->cls && !strcmp(f->name, k->name) &&
		    !strcmp(f->module, k->module) && !strcmp(f->file, k->file)) {
			return i;
		}
	}
	k->line = 0;
	return func_get(p, k);
}

struct nkey {
	uint32_t parent, func;
};

static bool node_eq(const struct profile *p, uint32_t idx, const void *key)
{
	const struct node *n = VAT(p->nodes, struct node, idx);
	const struct nkey *k = key;

	return n->parent == k->parent && n->func == k->func;
}

static uint32_t node_new(struct profile *p, uint32_t parent, uint32_t func, uint32_t thread)
{
	uint32_t idx = p->nodes.n;
	struct node *n = vec_push(&p->nodes);

	if (!n) {
		p->oom = true;
		return NONE;
	}
	n->parent = parent;
	n->func = func;
	n->thread = thread;
	return idx;
}

static uint32_t node_get(struct profile *p, uint32_t parent, uint32_t func)
{
	struct nkey k = { parent, func };
	uint64_t h = hash_bytes(HASH_INIT, &k, sizeof(k));
	uint32_t idx = table_find(p, &p->ntab, h, node_eq, &k);

	if (idx != NONE) {
		return idx;
	}
	idx = node_new(p, parent, func, VAT(p->nodes, struct node, parent)->thread);
	if (idx != NONE && table_add(&p->ntab, h, idx)) {
		p->oom = true;
		return NONE;
	}
	return idx;
}

struct tkey {
	int64_t pid, tid;
};

static bool thread_eq(const struct profile *p, uint32_t idx, const void *key)
{
	const struct thread *t = VAT(p->threads, struct thread, idx);
	const struct tkey *k = key;

	return t->pid == k->pid && t->tid == k->tid;
}

static struct thread *thread_get(struct profile *p, int64_t pid, int64_t tid, int64_t ts)
{
	struct tkey k = { pid, tid };
	uint64_t h = hash_bytes(HASH_INIT, &k, sizeof(k));
	uint32_t idx = table_find(p, &p->ttab, h, thread_eq, &k);
	struct thread *t;

	if (idx != NONE) {
		return VAT(p->threads, struct thread, idx);
	}
	idx = p->threads.n;
	t = vec_push(&p->threads);
	if (!t || table_add(&p->ttab, h, idx)) {
		p->oom = true;
		return NULL;
	}
	t->pid = pid;
	t->tid = tid;
	t->first_ts = t->last_ts = ts;
	t->run = -1;
	t->root = node_new(p, NONE, NONE, idx);
	return t->root == NONE ? NULL : t;
}

/* Recursion counts per (thread, function): cProfile counts cumtime once per outermost call.
 * The hash is splitmix64's finalizer of (thread, function), a bijection: equal hashes are
 * equal keys. */
static bool level_eq(const struct profile *p, uint32_t idx, const void *key)
{
	(void)p;
	(void)idx;
	(void)key;
	return true;
}

static uint32_t level_get(struct profile *p, uint32_t thread, uint32_t func)
{
	uint64_t h = (uint64_t)thread << 32 | func;
	uint32_t idx, *l;

	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	h ^= h >> 31;
	idx = table_find(p, &p->ltab, h, level_eq, NULL);
	if (idx != NONE) {
		return idx;
	}
	idx = p->levels.n;
	l = vec_push(&p->levels);
	if (!l || table_add(&p->ltab, h, idx)) {
		p->oom = true;
		return NONE;
	}
	return idx;
}

/* ---- frames ---- */

static uint32_t thread_index(const struct profile *p, const struct thread *t)
{
	return t - (const struct thread *)p->threads.p;
}

static void frame_push(struct profile *p, struct thread *t, uint32_t func, int64_t ts)
{
	uint32_t parent = t->depth ? t->stack[t->depth - 1].node : t->root;
	struct func *f = VAT(p->funcs, struct func, func);
	struct frame *fr;
	uint32_t *level;

	if (t->depth == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct frame *s = realloc(t->stack, cap * sizeof(*s));

		if (!s) {
			p->oom = true;
			return;
		}
		t->stack = s;
		t->cap = cap;
	}
	fr = &t->stack[t->depth];
	fr->func = func;
	fr->node = node_get(p, parent, func);
	fr->level = level_get(p, thread_index(p, t), func);
	if (fr->node == NONE || fr->level == NONE) {
		return;
	}
	level = VAT(p->levels, uint32_t, fr->level);
	fr->outer = (*level)++ == 0;
	fr->start = ts;
	fr->child = 0;
	t->depth++;
	t->ran = true;
	f->ncalls++;
	f->nprim += fr->outer;
	VAT(p->nodes, struct node, fr->node)->calls++;
}

static void frame_pop(struct profile *p, struct thread *t, int64_t ts)
{
	struct frame *fr = &t->stack[--t->depth];
	struct func *f = VAT(p->funcs, struct func, fr->func);
	int64_t dur = ts > fr->start ? ts - fr->start : 0;
	int64_t own = dur > fr->child ? dur - fr->child : 0;

	f->tottime += own;
	if (fr->outer) {
		f->cumtime += dur;
	}
	(*VAT(p->levels, uint32_t, fr->level))--;
	VAT(p->nodes, struct node, fr->node)->self += own;
	if (t->depth) {
		t->stack[t->depth - 1].child += dur;
	} else {
		t->root_done += dur;
	}
}

static void truncate_to(struct profile *p, struct thread *t, size_t depth, int64_t ts)
{
	while (t->depth > depth) {
		frame_pop(p, t, ts);
	}
}

/* A return with no open entry: the frame ran since before the trace (docs/events.md,
 * "Balance"); it encloses everything its thread did so far at the outermost level. */
static void orphan(struct profile *p, struct thread *t, uint32_t func, int64_t ts)
{
	struct func *f = VAT(p->funcs, struct func, func);
	uint32_t node = node_get(p, t->root, func);
	int64_t dur = ts - t->first_ts;
	int64_t own = dur > t->root_done ? dur - t->root_done : 0;

	if (node == NONE) {
		return;
	}
	t->ran = true;
	f->ncalls++;
	f->nprim++;
	f->tottime += own;
	f->cumtime += dur;
	VAT(p->nodes, struct node, node)->calls++;
	VAT(p->nodes, struct node, node)->self += own;
	t->root_done = dur > t->root_done ? dur : t->root_done;
}

static bool fkey_of(const struct pt_event *ev, struct fkey *k, char *buf, size_t len)
{
	*k = (struct fkey){ .module = "", .name = nz(ev->name), .file = "" };
	switch (ev->kind) {
	case PT_ENTRY:
	case PT_RETURN:
		k->cls = FC_PY;
		k->module = nz(ev->module);
		k->file = nz(ev->file);
		k->line = ev->kind == PT_ENTRY ? ev->line : 0;
		return true;
	case PT_C_ENTRY:
	case PT_C_RETURN:
		k->cls = FC_C;
		return true;
	case PT_NATIVE_ENTRY:
	case PT_NATIVE_RETURN:
		k->cls = FC_NATIVE;
		if (!*k->name) {
			snprintf(buf, len, "0x%" PRIx64, ev->addr);
			k->name = buf;
		}
		return true;
	default:
		return false;
	}
}

static void on_event(const struct pt_event *ev, void *data)
{
	struct profile *p = data;
	struct thread *t;
	struct fkey k;
	char buf[32];
	bool active, entry;
	uint32_t func;

	if (p->oom || ev->tid < 0) {
		return; /* a logging record without the vtid context belongs to no known thread */
	}
	t = thread_get(p, ev->pid, ev->tid, ev->ts);
	if (!t) {
		return;
	}
	if (ev->ts > t->last_ts) {
		t->last_ts = ev->ts;
	}
	if (!fkey_of(ev, &k, buf, sizeof(buf))) {
		return;
	}
	entry = ev->kind == PT_ENTRY || ev->kind == PT_C_ENTRY || ev->kind == PT_NATIVE_ENTRY;
	active = (ev->kind == PT_ENTRY || ev->kind == PT_C_ENTRY) && ev->sub == 2;
	/* A run of `active` entries restates the thread's whole stack: frames it does not
	 * restate have ended (docs/events.md, "Balance"). */
	if (!active && t->run >= 0) {
		truncate_to(p, t, t->run, t->run_ts);
		t->run = -1;
	}
	if (entry) {
		func = func_get(p, &k);
		if (func == NONE) {
			return;
		}
		if (active) {
			size_t i = t->run < 0 ? 0 : t->run;

			t->run = i + 1;
			t->run_ts = ev->ts;
			if (i < t->depth && t->stack[i].func == func) {
				return;
			}
			truncate_to(p, t, i, ev->ts);
		}
		frame_push(p, t, func, ev->ts);
		return;
	}
	/* A return closes the innermost open frame of its class (Python and C frames always
	 * nest; native ones may be unbalanced against them). */
	for (size_t i = t->depth; i-- > 0;) {
		if (VAT(p->funcs, struct func, t->stack[i].func)->cls == k.cls) {
			truncate_to(p, t, i, ev->ts);
			return;
		}
	}
	func = func_get_by_name(p, &k);
	if (func != NONE) {
		orphan(p, t, func, ev->ts);
	}
}

/* ---- output ---- */

static const char *row_file(const struct func *f)
{
	/* pstats files built-ins under "~", so they sort last by file */
	return f->cls == FC_PY ? f->file : "~";
}

static const struct profile *sort_p;

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct func *x = VAT(sort_p->funcs, struct func, *(const uint32_t *)a);
	const struct func *y = VAT(sort_p->funcs, struct func, *(const uint32_t *)b);
	int c = 0;

	switch (sort_p->sort) {
	case SORT_CALLS:
		c = cmp_i64(y->ncalls, x->ncalls);
		break;
	case SORT_TOTTIME:
		c = cmp_i64(y->tottime, x->tottime);
		break;
	case SORT_CUMTIME:
		c = cmp_i64(y->cumtime, x->cumtime);
		break;
	case SORT_NAME:
		c = strcmp(x->name, y->name);
		break;
	case SORT_FILE:
		c = strcmp(row_file(x), row_file(y));
		if (!c) {
			c = cmp_i64(x->line, y->line);
		}
		break;
	}
	if (!c) {
		c = strcmp(row_file(x), row_file(y));
	}
	if (!c) {
		c = cmp_i64(x->line, y->line);
	}
	if (!c) {
		c = strcmp(x->name, y->name);
	}
	if (!c) {
		c = strcmp(x->module, y->module);
	}
	return c ? c : cmp_i64(x->cls, y->cls);
}

static const char *const sort_names[] = { "call count", "internal time", "cumulative time",
					  "function name", "file name" };

static void print_func(FILE *out, const struct func *f)
{
	if (f->cls == FC_PY) {
		fprintf(out, "%s:%" PRId64 "(%s)\n", f->file, f->line, f->name);
	} else if (f->cls == FC_C) {
		fprintf(out, "{%s}\n", f->name);
	} else {
		fprintf(out, "[%s]\n", f->name);
	}
}

static int print_table(struct profile *p, int64_t total)
{
	uint64_t calls = 0, prim = 0, rows, threads = 0;
	uint32_t *order = malloc((p->funcs.n + 1) * sizeof(*order));
	double d = p->unit_div;
	int u = p->unit_prec;

	if (!order) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->funcs.n; i++) {
		calls += VAT(p->funcs, struct func, i)->ncalls;
		prim += VAT(p->funcs, struct func, i)->nprim;
		order[i] = i;
	}
	for (size_t i = 0; i < p->threads.n; i++) {
		threads += VAT(p->threads, struct thread, i)->ran;
	}
	sort_p = p;
	qsort(order, p->funcs.n, sizeof(*order), cmp_rows);
	printf("%12" PRIu64 " function calls", calls);
	if (prim != calls) {
		printf(" (%" PRIu64 " primitive calls)", prim);
	}
	printf(" in %.*f %s\n", p->unit_prec, total / d, p->unit_name);
	printf("%12" PRIu64 " threads\n\n", threads);
	printf("   Ordered by: %s\n", sort_names[p->sort]);
	rows = p->limit && p->limit < p->funcs.n ? p->limit : p->funcs.n;
	if (rows < p->funcs.n) {
		printf("   List reduced from %zu to %" PRIu64 " due to restriction <%" PRIu64 ">\n",
		       p->funcs.n, rows, p->limit);
	}
	printf("\n%13s %12s %12s %12s %12s %s\n", "ncalls", "tottime", "percall", "cumtime",
	       "percall", "filename:lineno(function)");
	for (uint64_t r = 0; r < rows; r++) {
		const struct func *f = VAT(p->funcs, struct func, order[r]);
		char nc[48];

		if (f->nprim != f->ncalls) {
			snprintf(nc, sizeof(nc), "%" PRIu64 "/%" PRIu64, f->ncalls, f->nprim);
		} else {
			snprintf(nc, sizeof(nc), "%" PRIu64, f->ncalls);
		}
		printf("%13s %12.*f %12.*f %12.*f %12.*f ", nc, u, f->tottime / d, u,
		       f->ncalls ? f->tottime / d / f->ncalls : 0.0, u, f->cumtime / d, u,
		       f->nprim ? f->cumtime / d / f->nprim : 0.0);
		print_func(stdout, f);
	}
	free(order);
	return fflush(stdout) ? -errno : 0;
}

static int cmp_labels(const void *a, const void *b)
{
	const struct func *x = VAT(sort_p->funcs, struct func, *(const uint32_t *)a);
	const struct func *y = VAT(sort_p->funcs, struct func, *(const uint32_t *)b);

	return strcmp(x->label, y->label);
}

static char *dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *dup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	s = len < 0 ? NULL : malloc(len + 1);
	if (s) {
		va_start(ap, fmt);
		vsnprintf(s, len + 1, fmt, ap);
		va_end(ap);
	}
	return s;
}

/* Flame-graph names: module.qualname for Python, the name for C and native functions; where
 * two functions would share one, where the later ones come from is appended to theirs. */
static int make_labels(struct profile *p)
{
	uint32_t *order = malloc((p->funcs.n + 1) * sizeof(*order));
	size_t n = p->funcs.n;

	if (!order) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct func *f = VAT(p->funcs, struct func, i);

		if (f->cls == FC_PY) {
			f->label = dup_printf("%s%s%s", f->module, *f->module ? "." : "", f->name);
		} else {
			f->label = strdup(f->name);
		}
		if (!f->label) {
			goto oom;
		}
		order[i] = i;
	}
	sort_p = p;
	qsort(order, n, sizeof(*order), cmp_labels);
	for (size_t i = 0, j; i < n; i = j) {
		const char *l = VAT(p->funcs, struct func, order[i])->label;

		for (j = i + 1; j < n && !strcmp(l, VAT(p->funcs, struct func, order[j])->label);) {
			j++;
		}
		if (j == i + 1) {
			continue;
		}
		/* these share a label: the one seen first in the trace keeps it */
		uint32_t keep = order[i];

		for (size_t m = i + 1; m < j; m++) {
			keep = order[m] < keep ? order[m] : keep;
		}
		for (size_t m = i; m < j; m++) {
			struct func *f = VAT(p->funcs, struct func, order[m]);
			char *s;

			if (order[m] == keep) {
				continue;
			}
			if (f->cls == FC_PY) {
				s = dup_printf("%s (%s:%" PRId64 ")", f->label, f->file, f->line);
			} else {
				s = dup_printf("%s [%s]", f->label,
					       f->cls == FC_C ? "c" : "native");
			}
			if (!s) {
				goto oom;
			}
			free(f->label);
			f->label = s;
		}
	}
	free(order);
	return 0;
oom:
	free(order);
	return -ENOMEM;
}

static const char *node_label(const struct profile *p, const struct node *n, char *buf,
			      size_t len, bool with_pid)
{
	const struct thread *t = VAT(p->threads, struct thread, n->thread);

	if (n->func != NONE) {
		return VAT(p->funcs, struct func, n->func)->label;
	}
	if (with_pid) {
		snprintf(buf, len, "thread %" PRId64 "/%" PRId64, t->pid, t->tid);
	} else {
		snprintf(buf, len, "thread %" PRId64, t->tid);
	}
	return buf;
}

static bool several_pids(const struct profile *p)
{
	for (size_t i = 1; i < p->threads.n; i++) {
		if (VAT(p->threads, struct thread, i)->pid !=
		    VAT(p->threads, struct thread, 0)->pid) {
			return true;
		}
	}
	return false;
}

struct sbuf {
	char *s;
	size_t n, cap;
};

static int sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *q = realloc(b->s, cap);

		if (!q) {
			return -ENOMEM;
		}
		b->s = q;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = 0;
	return 0;
}

/* A frame of a folded line: `;` separates frames and a newline ends the line. */
static int sb_frame(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		char c = *s == ';' ? ':' : (*s == '\n' || *s == '\r') ? ' ' : *s;

		if (sb_put(b, &c, 1)) {
			return -ENOMEM;
		}
	}
	return 0;
}

static int cmp_strs(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int print_folded(struct profile *p)
{
	bool with_pid = p->with_pid;
	char **lines = calloc(p->nodes.n + 1, sizeof(*lines));
	uint32_t *path = malloc((p->nodes.n + 1) * sizeof(*path));
	size_t nl = 0;
	int ret = -ENOMEM;

	if (!lines || !path) {
		goto out;
	}
	for (size_t i = 0; i < p->nodes.n; i++) {
		const struct node *n = VAT(p->nodes, struct node, i);
		uint64_t value = p->folded_calls ? n->calls : (uint64_t)(n->self + 500) / 1000;
		struct sbuf b = { 0 };
		size_t depth = 0;
		char num[32], buf[64];

		if (n->func == NONE) {
			continue;
		}
		for (uint32_t j = i; j != NONE; j = VAT(p->nodes, struct node, j)->parent) {
			path[depth++] = j;
		}
		while (depth--) {
			const struct node *m = VAT(p->nodes, struct node, path[depth]);

			if (sb_frame(&b, node_label(p, m, buf, sizeof(buf), with_pid)) ||
			    sb_put(&b, depth ? ";" : " ", 1)) {
				free(b.s);
				goto out;
			}
		}
		snprintf(num, sizeof(num), "%" PRIu64, value);
		if (sb_put(&b, num, strlen(num))) {
			free(b.s);
			goto out;
		}
		lines[nl++] = b.s;
	}
	qsort(lines, nl, sizeof(*lines), cmp_strs);
	for (size_t i = 0; i < nl; i++) {
		puts(lines[i]);
	}
	ret = fflush(stdout) ? -errno : 0;
out:
	for (size_t i = 0; lines && i < nl; i++) {
		free(lines[i]);
	}
	free(lines);
	free(path);
	return ret;
}

/* ---- SVG flame graph, laid out as flamegraph.pl does ---- */

#define SVG_WIDTH 1200.0
#define SVG_FRAME 16.0
#define SVG_FONT 12.0
#define SVG_FONTW 0.59
#define SVG_XPAD 10.0
#define SVG_MINW 0.1

/* Length of the UTF-8 sequence at s, 0 if it is not one XML may hold: no overlong forms,
 * surrogates, U+FFFE/U+FFFF or code points past U+10FFFF. */
static size_t utf8_len(const unsigned char *s)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n = s[0] < 0x80 ? 1 : (s[0] >> 5) == 6 ? 2 : (s[0] >> 4) == 14 ? 3 :
				 (s[0] >> 3) == 30 ? 4 : 0;
	uint32_t c = n == 1 ? s[0] : s[0] & (0x7f >> n);

	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			return 0;
		}
		c = c << 6 | (s[i] & 0x3f);
	}
	if (!n || c < min[n] || (c >= 0xd800 && c < 0xe000) || c == 0xfffe || c == 0xffff ||
	    c > 0x10ffff) {
		return 0;
	}
	return n;
}

/* Escaped for XML text and attributes; at most @max characters (0: all), ".." after a cut.
 * Characters XML 1.0 cannot hold and bytes that are not UTF-8 become '?'. */
static void xml_put(FILE *out, const char *str, size_t max)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t chars = 0, total = 0;

	for (const unsigned char *q = s; *q; q += utf8_len(q) ? utf8_len(q) : 1) {
		total++;
	}
	if (max && total > max) {
		max = max > 2 ? max - 2 : 0;
	} else {
		max = total;
	}
	for (; *s && chars < max; chars++) {
		size_t n = utf8_len(s);

		if (!n) {
			fputc('?', out);
			s++;
			continue;
		}
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&apos;", out);
			break;
		default:
			if (*s < 0x20 || *s == 0x7f) {
				fputc('?', out);
			} else {
				fwrite(s, 1, n, out);
			}
		}
		s += n;
	}
	if (max < total) {
		fputs("..", out);
	}
}

static const struct profile *sort_np;

static int cmp_children(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	char bx[64], by[64];
	int c = strcmp(node_label(sort_np, VAT(sort_np->nodes, struct node, x), bx, sizeof(bx),
				  sort_np->with_pid),
		       node_label(sort_np, VAT(sort_np->nodes, struct node, y), by, sizeof(by),
				  sort_np->with_pid));

	return c ? c : cmp_i64(x, y);
}

static void svg_frame(const struct profile *p, FILE *out, const char *label, int64_t time,
		      int64_t total, double x, double width, unsigned depth, double height)
{
	double y2 = height - (SVG_FONT * 2 + 10) - depth * SVG_FRAME;
	double y1 = y2 - SVG_FRAME + 1;
	uint64_t h = hash_str(HASH_INIT, label);
	unsigned r = 205 + (h & 0xff) * 50 / 255, g = ((h >> 8) & 0xff) * 230 / 255;
	unsigned b = ((h >> 16) & 0xff) * 55 / 255;
	size_t chars = (size_t)(width / (SVG_FONT * SVG_FONTW));

	fputs("<g>\n<title>", out);
	xml_put(out, label, 0);
	fprintf(out, " (%.*f %s, %.2f%%)</title>\n", p->unit_prec, time / p->unit_div, p->unit_name,
		total ? 100.0 * time / total : 100.0);
	fprintf(out,
		"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		"fill=\"rgb(%u,%u,%u)\" rx=\"2\" ry=\"2\"/>\n",
		x, y1, width, y2 - y1, r, g, b);
	fprintf(out, "<text x=\"%.2f\" y=\"%.1f\">", x + 3, 3 + (y1 + y2) / 2);
	if (chars >= 3) {
		xml_put(out, label, chars);
	}
	fputs("</text>\n</g>\n", out);
}

static int write_svg(struct profile *p)
{
	size_t n = p->nodes.n;
	uint32_t *first = malloc((n + 1) * sizeof(*first)), *next = malloc((n + 1) * sizeof(*next));
	uint32_t *kids = malloc((n + 1) * sizeof(*kids)), *depth = malloc((n + 1) * sizeof(*depth));
	double *x = malloc((n + 1) * sizeof(*x));
	int64_t total = 0;
	unsigned maxdepth = 0;
	double scale, height;
	FILE *out = p->svg;
	char buf[64];
	int ret = -ENOMEM;

	if (!first || !next || !kids || !depth || !x) {
		goto out;
	}
	/* parents come before their children in p->nodes */
	for (size_t i = n; i-- > 0;) {
		struct node *m = VAT(p->nodes, struct node, i);

		m->total += m->self;
		if (m->parent != NONE) {
			VAT(p->nodes, struct node, m->parent)->total += m->total;
		} else {
			total += m->total;
		}
	}
	for (size_t i = 0; i < n; i++) {
		first[i] = next[i] = NONE;
	}
	for (size_t i = n; i-- > 0;) {
		struct node *m = VAT(p->nodes, struct node, i);

		if (m->parent != NONE) {
			next[i] = first[m->parent];
			first[m->parent] = i;
		}
	}
	/* the threads, then each node's children, side by side in alphabetical order */
	sort_np = p;
	double at = SVG_XPAD;
	size_t nk = 0;

	scale = total ? (SVG_WIDTH - 2 * SVG_XPAD) / total : 0;
	for (size_t i = 0; i < n; i++) {
		if (VAT(p->nodes, struct node, i)->parent == NONE) {
			kids[nk++] = i;
		}
	}
	qsort(kids, nk, sizeof(*kids), cmp_children);
	for (size_t k = 0; k < nk; k++) {
		x[kids[k]] = at;
		depth[kids[k]] = 1;
		at += VAT(p->nodes, struct node, kids[k])->total * scale;
	}
	for (size_t i = 0; i < n; i++) {
		nk = 0;
		for (uint32_t c = first[i]; c != NONE; c = next[c]) {
			kids[nk++] = c;
		}
		qsort(kids, nk, sizeof(*kids), cmp_children);
		at = x[i];
		for (size_t k = 0; k < nk; k++) {
			x[kids[k]] = at;
			depth[kids[k]] = depth[i] + 1;
			if (depth[kids[k]] > maxdepth) {
				maxdepth = depth[kids[k]];
			}
			at += VAT(p->nodes, struct node, kids[k])->total * scale;
		}
	}
	if (maxdepth < 1) {
		maxdepth = 1;
	}
	height = (maxdepth + 1) * SVG_FRAME + SVG_FONT * 3 + SVG_FONT * 2 + 10;
	fprintf(out,
		"<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
		"\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
		"<svg version=\"1.1\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		"xmlns=\"http://www.w3.org/2000/svg\">\n"
		"<!-- made by sink.pytrace.profile of libpytrace; laid out as flamegraph.pl -->\n"
		"<style>text { font-family: Verdana, sans-serif; font-size: %.0fpx; "
		"fill: rgb(0,0,0); } g:hover rect { stroke: rgb(0,0,0); stroke-width: 0.5; }"
		"</style>\n"
		"<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"rgb(248,248,240)\"/>\n"
		"<text text-anchor=\"middle\" x=\"%.0f\" y=\"%.0f\" style=\"font-size: 17px\">",
		SVG_WIDTH, height, SVG_WIDTH, height, SVG_FONT, SVG_WIDTH, height, SVG_WIDTH / 2,
		SVG_FONT * 2);
	xml_put(out, p->title, 0);
	fputs("</text>\n", out);
	svg_frame(p, out, "all", total, total, SVG_XPAD, total * scale, 0, height);
	for (size_t i = 0; i < n; i++) {
		const struct node *m = VAT(p->nodes, struct node, i);
		double w = m->total * scale;

		if (w < SVG_MINW) {
			continue;
		}
		svg_frame(p, out, node_label(p, m, buf, sizeof(buf), p->with_pid), m->total,
			  total, x[i], w, depth[i], height);
	}
	fputs("</svg>\n", out);
	ret = 0;
out:
	free(first);
	free(next);
	free(kids);
	free(depth);
	free(x);
	return ret;
}

/* ---- the component ---- */

/* A flame graph not written in full is not left behind, if it is a file we made (never a
 * device such as /dev/stdout). */
static void svg_remove(struct profile *p)
{
	if (p->svg_regular) {
		unlink(p->svg_path);
	}
}

static void profile_destroy(struct profile *p)
{
	if (!p) {
		return;
	}
	pt_decoder_destroy(p->dec);
	bt_message_iterator_put_ref(p->it);
	for (size_t i = 0; i < p->funcs.n; i++) {
		struct func *f = VAT(p->funcs, struct func, i);

		free(f->module);
		free(f->name);
		free(f->file);
		free(f->label);
	}
	for (size_t i = 0; i < p->threads.n; i++) {
		free(VAT(p->threads, struct thread, i)->stack);
	}
	free(p->funcs.p);
	free(p->nodes.p);
	free(p->threads.p);
	free(p->levels.p);
	free(p->ftab.s);
	free(p->ntab.s);
	free(p->ttab.s);
	free(p->ltab.s);
	if (p->svg) {
		fclose(p->svg);
		svg_remove(p);
	}
	free(p->svg_path);
	free(p->title);
	free(p);
}

struct param_ctx {
	struct profile *p;
	char err[512];
};

static bool is_int(const bt_value *v)
{
	return bt_value_is_signed_integer(v) || bt_value_is_unsigned_integer(v);
}

static bt_value_map_foreach_entry_const_func_status param_one(const char *key,
							      const bt_value *v, void *data)
{
	struct param_ctx *c = data;
	struct profile *p = c->p;
	const char *s = bt_value_is_string(v) ? bt_value_string_get(v) : NULL;

#define FAIL(...)                                                                              \
	do {                                                                                   \
		snprintf(c->err, sizeof(c->err), __VA_ARGS__);                                 \
		return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_INTERRUPT;                 \
	} while (0)

	if (!strcmp(key, "sort")) {
		/* pstats' names of the same orders are accepted too */
		static const char *const cols[][2] = {
			{ "calls", "ncalls" }, { "tottime", "time" }, { "cumtime", "cumulative" },
			{ "name", "name" },    { "file", "filename" },
		};
		size_t i;

		for (i = 0; s && i < 5 && strcmp(s, cols[i][0]) && strcmp(s, cols[i][1]); i++) {
		}
		if (!s || i == 5) {
			FAIL("parameter `sort` must be one of calls, tottime, cumtime, name, file, "
			     "not %s", s ? s : "a value of another type than string");
		}
		p->sort = i;
	} else if (!strcmp(key, "limit")) {
		if (!is_int(v) || (bt_value_is_signed_integer(v) &&
				   bt_value_integer_signed_get(v) < 0)) {
			FAIL("parameter `limit` must be an integer >= 0 (0: all rows)");
		}
		if (bt_value_is_signed_integer(v)) {
			p->limit = bt_value_integer_signed_get(v);
		} else {
			p->limit = bt_value_integer_unsigned_get(v);
		}
	} else if (!strcmp(key, "unit")) {
		if (s && !strcmp(s, "s")) {
			p->unit_div = 1e9, p->unit_name = "seconds", p->unit_prec = 6;
		} else if (s && !strcmp(s, "ms")) {
			p->unit_div = 1e6, p->unit_name = "ms", p->unit_prec = 3;
		} else if (s && !strcmp(s, "us")) {
			p->unit_div = 1e3, p->unit_name = "us", p->unit_prec = 3;
		} else {
			FAIL("parameter `unit` must be s, ms or us, not %s",
			     s ? s : "a value of another type than string");
		}
	} else if (!strcmp(key, "folded") || !strcmp(key, "progress")) {
		if (!bt_value_is_bool(v)) {
			FAIL("parameter `%s` must be a boolean (true or false)", key);
		}
		*(!strcmp(key, "folded") ? &p->folded : &p->progress) = bt_value_bool_get(v);
	} else if (!strcmp(key, "folded-value") || !strcmp(key, "folded_value")) {
		if (!s || (strcmp(s, "time") && strcmp(s, "calls"))) {
			FAIL("parameter `%s` must be time or calls, not %s", key,
			     s ? s : "a value of another type than string");
		}
		p->folded_calls = !strcmp(s, "calls");
	} else if (!strcmp(key, "svg") || !strcmp(key, "title")) {
		char **dst = !strcmp(key, "svg") ? &p->svg_path : &p->title;

		if (!s || !*s) {
			FAIL("parameter `%s` must be a non-empty string", key);
		}
		free(*dst);
		*dst = strdup(s);
		if (!*dst) {
			return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_MEMORY_ERROR;
		}
	} else {
		FAIL("unknown parameter `%s` (known: sort, limit, unit, folded, folded-value, svg, "
		     "title, progress)", key);
	}
	return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_OK;
#undef FAIL
}

bt_component_class_initialize_method_status pt_profile_init(
	bt_self_component_sink *self_sink, bt_self_component_sink_configuration *config,
	const bt_value *params, void *init_data)
{
	bt_self_component *self = bt_self_component_sink_as_self_component(self_sink);
	struct profile *p = calloc(1, sizeof(*p));
	struct param_ctx ctx = { .p = p };

	(void)config;
	(void)init_data;
	if (!p) {
		return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_MEMORY_ERROR;
	}
	p->self = self;
	p->sort = SORT_CUMTIME;
	p->unit_div = 1e9, p->unit_name = "seconds", p->unit_prec = 6;
	p->funcs.size = sizeof(struct func);
	p->nodes.size = sizeof(struct node);
	p->threads.size = sizeof(struct thread);
	p->levels.size = sizeof(uint32_t);
	if (params && bt_value_is_map(params) &&
	    bt_value_map_foreach_entry_const(params, param_one, &ctx) !=
		    BT_VALUE_MAP_FOREACH_ENTRY_CONST_STATUS_OK) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(
			self, "sink.pytrace.profile: %s", *ctx.err ? ctx.err : "out of memory");
		goto err;
	}
	if (!p->title) {
		p->title = strdup("Flame Graph");
	}
	if (p->svg_path) {
		/* opened now, so that a path we cannot write fails before the trace is read */
		struct stat st;

		p->svg = fopen(p->svg_path, "w");
		p->svg_regular = p->svg && !fstat(fileno(p->svg), &st) && S_ISREG(st.st_mode);
		if (!p->svg) {
			BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(
				self, "sink.pytrace.profile: cannot write the SVG file %s: %s",
				p->svg_path, strerror(errno));
			goto err;
		}
	}
	p->dec = pt_decoder_create(on_event, p);
	if (!p->title || !p->dec ||
	    bt_self_component_sink_add_input_port(self_sink, "in", NULL, NULL) !=
		    BT_SELF_COMPONENT_ADD_PORT_STATUS_OK) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(
			self, "sink.pytrace.profile: out of memory");
		profile_destroy(p);
		return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_MEMORY_ERROR;
	}
	bt_self_component_set_data(self, p);
	return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_OK;
err:
	profile_destroy(p);
	return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_ERROR;
}

void pt_profile_finalize(bt_self_component_sink *self)
{
	profile_destroy(bt_self_component_get_data(bt_self_component_sink_as_self_component(self)));
}

bt_component_class_sink_graph_is_configured_method_status pt_profile_configured(
	bt_self_component_sink *self_sink)
{
	bt_self_component *self = bt_self_component_sink_as_self_component(self_sink);
	struct profile *p = bt_self_component_get_data(self);
	bt_self_component_port_input *port =
		bt_self_component_sink_borrow_input_port_by_name(self_sink, "in");

	if (bt_message_iterator_create_from_sink_component(self_sink, port, &p->it) !=
	    BT_MESSAGE_ITERATOR_CREATE_FROM_SINK_COMPONENT_STATUS_OK) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(
			self, "sink.pytrace.profile: cannot create the message iterator of port "
			      "in");
		return BT_COMPONENT_CLASS_SINK_GRAPH_IS_CONFIGURED_METHOD_STATUS_ERROR;
	}
	clock_gettime(CLOCK_MONOTONIC, &p->last_report);
	return BT_COMPONENT_CLASS_SINK_GRAPH_IS_CONFIGURED_METHOD_STATUS_OK;
}

static void report_progress(struct profile *p)
{
	struct timespec now;
	double dt;
	uint64_t n = pt_decoder_stats(p->dec)->messages;

	clock_gettime(CLOCK_MONOTONIC, &now);
	dt = (now.tv_sec - p->last_report.tv_sec) + (now.tv_nsec - p->last_report.tv_nsec) / 1e9;
	if (dt < 1.0) {
		return;
	}
	fprintf(stderr, "%" PRIu64 " events read (%.0f/s)\n", n, (n - p->last_count) / dt);
	p->last_report = now;
	p->last_count = n;
}

static int finish(struct profile *p)
{
	const struct pt_decoder_stats *st;
	int64_t total = 0;
	int ret;

	if (pt_decoder_finish(p->dec)) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(
			p->self, "sink.pytrace.profile: %s", pt_decoder_error(p->dec));
		return -EINVAL;
	}
	st = pt_decoder_stats(p->dec);
	if (!st->ours) {
		fprintf(stderr, "pytrace: no libpytrace events in this trace\n");
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(
			p->self,
			"sink.pytrace.profile: no libpytrace events in this trace (%" PRIu64
			" events read): was `lttng enable-event -u 'python:*'` on?",
			st->messages);
		return -EINVAL;
	}
	/* frames still open end with their thread's last event */
	for (size_t i = 0; i < p->threads.n && !p->oom; i++) {
		struct thread *t = VAT(p->threads, struct thread, i);

		if (t->run >= 0) {
			truncate_to(p, t, t->run, t->run_ts);
		}
		truncate_to(p, t, 0, t->last_ts);
		total += t->root_done;
	}
	if (p->oom) {
		ret = -ENOMEM;
		goto fail;
	}
	p->with_pid = several_pids(p);
	ret = p->folded || p->svg ? make_labels(p) : 0;
	if (!ret && p->svg) {
		ret = write_svg(p);
		errno = 0;
		if (!ret && (fflush(p->svg) || ferror(p->svg))) {
			ret = errno ? -errno : -EIO;
		}
		if (fclose(p->svg) && !ret) {
			ret = -errno;
		}
		p->svg = NULL;
		if (ret) {
			svg_remove(p);
			BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(
				p->self, "sink.pytrace.profile: cannot write the SVG file %s: %s",
				p->svg_path, strerror(-ret));
			return ret;
		}
	}
	if (!ret) {
		ret = p->folded ? print_folded(p) : print_table(p, total);
	}
	if (ret) {
		goto fail;
	}
	/* the summary as sink.pytrace.stack words it */
	fprintf(stderr, "pytrace: %" PRIu64 " events, %" PRIu64 " threads", st->events,
		st->threads);
	if (st->unknown_codes) {
		fprintf(stderr, ", %" PRIu64 " records of undefined code", st->unknown_codes);
	}
	if (st->discarded_events) {
		fprintf(stderr, ", %" PRIu64 " events lost (discarded by LTTng)",
			st->discarded_events);
	}
	if (st->discarded_packets) {
		fprintf(stderr, ", %" PRIu64 " packets lost", st->discarded_packets);
	}
	fputc('\n', stderr);
	return 0;
fail:
	BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(p->self, "sink.pytrace.profile: %s",
							    strerror(-ret));
	return ret;
}

bt_component_class_sink_consume_method_status pt_profile_consume(bt_self_component_sink *self)
{
	struct profile *p =
		bt_self_component_get_data(bt_self_component_sink_as_self_component(self));
	bt_message_array_const msgs;
	uint64_t count = 0, i;

	switch (bt_message_iterator_next(p->it, &msgs, &count)) {
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_OK:
		break;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_END:
		BT_MESSAGE_ITERATOR_PUT_REF_AND_RESET(p->it);
		return finish(p) ? BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_ERROR :
				   BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_END;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_AGAIN:
		return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_AGAIN;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_MEMORY_ERROR:
		return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_MEMORY_ERROR;
	default:
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(
			bt_self_component_sink_as_self_component(self),
			"sink.pytrace.profile: cannot read the trace (see the causes above)");
		return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_ERROR;
	}
	for (i = 0; i < count; i++) {
		if (pt_decoder_push(p->dec, msgs[i])) {
			break;
		}
		bt_message_put_ref(msgs[i]);
	}
	if (i < count) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(
			bt_self_component_sink_as_self_component(self),
			"sink.pytrace.profile: %s", pt_decoder_error(p->dec));
		for (; i < count; i++) {
			bt_message_put_ref(msgs[i]);
		}
		return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_ERROR;
	}
	if (p->oom) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(
			bt_self_component_sink_as_self_component(self),
			"sink.pytrace.profile: out of memory");
		return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_MEMORY_ERROR;
	}
	if (p->progress) {
		report_progress(p);
	}
	return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_OK;
}
