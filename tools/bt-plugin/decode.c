/* SPDX-License-Identifier: MIT */
/*
 * The decoder of decode.h: babeltrace2 event messages of a libpytrace trace in, pt_events out.
 *
 * Per-event mode passes through at once. Fast mode (docs/events.md, "Fast mode") is a port of
 * python/pytrace/records.py: `python:code` definitions are kept per (pid, interp, id), each
 * `python:records` batch is expanded into entries and returns that take the names of the entry
 * they close. A batch's records are no later than the batch event and no earlier than the
 * thread's previous batch, so a thread's other events (spans, logging, exceptions) are held in a
 * per-thread queue until its next batch, then merged with the batch's records by time.
 *
 * A process's mode is known from its first function event (per-event: nothing is ever held for
 * it) or its first `code`/`records` event (fast); until then its events are held, so the records
 * of a first batch still sort before them. Delivery across threads is in order of release.
 *
 * Single-threaded: one decoder per sink component, called from its consume method.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

#define MAX_RECORD_WORDS 256 /* 128 records of two words (docs/events.md) */

/* ---- a small open-addressing table keyed by three integers ---- */

struct key {
	int64_t a, b, c;
};

struct slot {
	struct key k;
	void *v; /* NULL: empty */
};

struct table {
	struct slot *slots;
	size_t cap, len;
};

static uint64_t key_hash(const struct key *k)
{
	uint64_t h = (uint64_t)k->a * 0x9e3779b97f4a7c15ULL;

	h ^= (uint64_t)k->b + 0x7f4a7c159e3779b9ULL + (h << 6) + (h >> 2);
	h ^= (uint64_t)k->c * 0xbf58476d1ce4e5b9ULL + (h << 6) + (h >> 2);
	return h ^ (h >> 31);
}

static struct slot *table_slot(struct table *t, const struct key *k)
{
	size_t i = key_hash(k) & (t->cap - 1);

	while (t->slots[i].v &&
	       (t->slots[i].k.a != k->a || t->slots[i].k.b != k->b || t->slots[i].k.c != k->c)) {
		i = (i + 1) & (t->cap - 1);
	}
	return &t->slots[i];
}

static void *table_get(struct table *t, int64_t a, int64_t b, int64_t c)
{
	struct key k = { a, b, c };

	if (!t->cap) {
		return NULL;
	}
	return table_slot(t, &k)->v;
}

/* Stores v (not NULL) under a new key; 0 or -1 when out of memory. */
static int table_put(struct table *t, int64_t a, int64_t b, int64_t c, void *v)
{
	struct key k = { a, b, c };
	struct slot *s;

	if ((t->len + 1) * 10 >= t->cap * 7) {
		size_t ncap = t->cap ? t->cap * 2 : 64, i;
		struct table n = { calloc(ncap, sizeof(struct slot)), ncap, 0 };

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

/* ---- decoder state ---- */

struct code_def {
	int kind; /* 0 python, 1 c */
	int64_t line;
	char *file, *name, *qualname, *module;
};

/* An event held back: its own copy of every string. */
struct held {
	struct pt_event ev;
	char *strings;
};

enum pid_mode { MODE_UNKNOWN = 1, MODE_PER_EVENT, MODE_FAST };

struct thread {
	int64_t pid, tid;
	struct held *q; /* held events, in arrival (time) order */
	size_t qlen, qcap;
	const struct code_def **stack; /* fast mode: entries open on this thread */
	size_t depth, scap;
};

struct pt_decoder {
	pt_event_cb cb;
	void *data;
	struct pt_decoder_stats stats;
	struct table defs;    /* (pid, interp, id) -> struct code_def */
	struct table threads; /* (pid, tid, 0) -> struct thread */
	struct table modes;   /* (pid, 0, 0) -> (void *)enum pid_mode */
	struct thread **order; /* threads in order of appearance (for finish) */
	size_t nthreads, ocap;
	struct code_def unknown; /* names of an undefined id, rewritten each time */
	char unknown_name[48];
	char req_name[512];
	char native_name[32];
	char err[512];
};

static int fail(struct pt_decoder *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	return -1;
}

struct pt_decoder *pt_decoder_create(pt_event_cb cb, void *data)
{
	struct pt_decoder *d = calloc(1, sizeof(*d));

	if (!d) {
		return NULL;
	}
	d->cb = cb;
	d->data = data;
	d->unknown.file = "?";
	d->unknown.module = "?";
	return d;
}

static void thread_free(struct thread *t)
{
	size_t i;

	for (i = 0; i < t->qlen; i++) {
		free(t->q[i].strings);
	}
	free(t->q);
	free(t->stack);
	free(t);
}

void pt_decoder_destroy(struct pt_decoder *d)
{
	size_t i;

	if (!d) {
		return;
	}
	for (i = 0; i < d->defs.cap; i++) {
		struct code_def *c = d->defs.slots[i].v;

		if (c) {
			free(c->file);
			free(c->name);
			free(c->qualname);
			free(c->module);
			free(c);
		}
	}
	free(d->defs.slots);
	for (i = 0; i < d->nthreads; i++) {
		thread_free(d->order[i]);
	}
	free(d->order);
	free(d->threads.slots);
	free(d->modes.slots);
	free(d);
}

const struct pt_decoder_stats *pt_decoder_stats(const struct pt_decoder *d)
{
	return &d->stats;
}

const char *pt_decoder_error(const struct pt_decoder *d)
{
	return d->err[0] ? d->err : "no error";
}

static struct thread *thread_get(struct pt_decoder *d, int64_t pid, int64_t tid)
{
	struct thread *t = table_get(&d->threads, pid, tid, 0);

	if (t) {
		return t;
	}
	if (d->nthreads == d->ocap) {
		size_t ncap = d->ocap ? d->ocap * 2 : 16;
		struct thread **n = realloc(d->order, ncap * sizeof(*n));

		if (!n) {
			return NULL;
		}
		d->order = n;
		d->ocap = ncap;
	}
	t = calloc(1, sizeof(*t));
	if (!t || table_put(&d->threads, pid, tid, 0, t)) {
		free(t);
		return NULL;
	}
	t->pid = pid;
	t->tid = tid;
	d->order[d->nthreads++] = t;
	d->stats.threads++;
	return t;
}

static void deliver(struct pt_decoder *d, const struct pt_event *ev)
{
	d->stats.events++;
	d->cb(ev, d->data);
}

/* ---- holding events ---- */

/* The string members of pt_event, copied into a held event's own buffer. */
#define PT_STRINGS(X)                                                                          \
	X(name) X(module) X(file) X(detail) X(method) X(path) X(endpoint) X(rule) X(trace_id)  \
	X(parent_id) X(error)

static int hold(struct pt_decoder *d, struct thread *t, const struct pt_event *ev)
{
	struct held *h;
	size_t n = 0;
	char *p;

	if (t->qlen == t->qcap) {
		size_t ncap = t->qcap ? t->qcap * 2 : 16;
		struct held *q = realloc(t->q, ncap * sizeof(*q));

		if (!q) {
			return fail(d, "out of memory holding an event of tid %" PRId64, t->tid);
		}
		t->q = q;
		t->qcap = ncap;
	}
	h = &t->q[t->qlen];
	h->ev = *ev;
#define X(F) n += ev->F ? strlen(ev->F) + 1 : 0;
	PT_STRINGS(X)
#undef X
	h->strings = p = malloc(n ? n : 1);
	if (!p) {
		return fail(d, "out of memory holding an event of tid %" PRId64, t->tid);
	}
#define X(F)                                                                                   \
	if (ev->F) {                                                                           \
		size_t l = strlen(ev->F) + 1;                                                  \
		memcpy(p, ev->F, l);                                                           \
		h->ev.F = p;                                                                   \
		p += l;                                                                        \
	}
	PT_STRINGS(X)
#undef X
	t->qlen++;
	return 0;
}

/* Delivers the thread's held events up to (not including) index n, and shifts the rest. */
static void release(struct pt_decoder *d, struct thread *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		deliver(d, &t->q[i].ev);
		free(t->q[i].strings);
	}
	memmove(t->q, t->q + n, (t->qlen - n) * sizeof(*t->q));
	t->qlen -= n;
}

static enum pid_mode mode_of(struct pt_decoder *d, int64_t pid)
{
	void *v = table_get(&d->modes, pid, 0, 0);

	return v ? (enum pid_mode)(uintptr_t)v : MODE_UNKNOWN;
}

/* Once a process is known to use per-event mode, what it held goes out: nothing will sort
 * before it. */
static int set_mode(struct pt_decoder *d, int64_t pid, enum pid_mode m)
{
	enum pid_mode old = mode_of(d, pid);
	size_t i;

	if (old == m || old == MODE_FAST) {
		return 0;
	}
	if (table_put(&d->modes, pid, 0, 0, (void *)(uintptr_t)m)) {
		return fail(d, "out of memory");
	}
	if (m == MODE_PER_EVENT) {
		for (i = 0; i < d->nthreads; i++) {
			if (d->order[i]->pid == pid) {
				release(d, d->order[i], d->order[i]->qlen);
			}
		}
	}
	return 0;
}

/* An event of its own thread: delivered now, or held while the thread's process may still
 * hand over records that sort before it. */
static int emit(struct pt_decoder *d, const struct pt_event *ev)
{
	struct thread *t = thread_get(d, ev->pid, ev->tid);

	if (!t) {
		return fail(d, "out of memory");
	}
	if (mode_of(d, ev->pid) == MODE_PER_EVENT) {
		deliver(d, ev);
		return 0;
	}
	return hold(d, t, ev);
}

/* ---- reading fields ---- */

static const bt_field *member(const bt_field *s, const char *name)
{
	if (!s || bt_field_get_class_type(s) != BT_FIELD_CLASS_TYPE_STRUCTURE) {
		return NULL;
	}
	return bt_field_structure_borrow_member_field_by_name_const(s, name);
}

static bool get_int(const bt_field *f, int64_t *out)
{
	bt_field_class_type t;

	if (!f) {
		return false;
	}
	t = bt_field_get_class_type(f);
	if (bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_UNSIGNED_INTEGER)) {
		*out = (int64_t)bt_field_integer_unsigned_get_value(f);
	} else if (bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_SIGNED_INTEGER)) {
		*out = bt_field_integer_signed_get_value(f);
	} else {
		return false;
	}
	return true;
}

static const char *get_str(const bt_field *f)
{
	if (!f || bt_field_get_class_type(f) != BT_FIELD_CLASS_TYPE_STRING) {
		return NULL;
	}
	return bt_field_string_get_value(f);
}

/* What the current event gives: its payload, contexts and where it comes from. */
struct cur {
	const char *ename; /* full name: python:function__entry */
	const bt_field *payload, *common, *specific;
	int64_t ts, offset; /* ns from origin; what to add to a CLOCK_MONOTONIC value */
	int64_t pid;
};

static bool payload_int(const struct cur *c, const char *name, int64_t *out)
{
	return get_int(member(c->payload, name), out);
}

static const char *payload_str(const struct cur *c, const char *name)
{
	return get_str(member(c->payload, name));
}

static bool context_int(const struct cur *c, const char *name, int64_t *out)
{
	return get_int(member(c->common, name), out) || get_int(member(c->specific, name), out);
}

/* "-" is libpytrace's "none" in request events (no empty strings, see decode.h). */
static const char *dash(const char *s)
{
	return s && strcmp(s, "-") ? s : "";
}

static int malformed(struct pt_decoder *d, const struct cur *c, const char *field)
{
	return fail(d, "malformed %s event: no valid field `%s`", c->ename, field);
}

#define NEED_STR(VAR, NAME)                                                                    \
	do {                                                                                   \
		if (!((VAR) = payload_str(c, NAME))) {                                         \
			return malformed(d, c, NAME);                                          \
		}                                                                              \
	} while (0)
#define NEED_INT(VAR, NAME)                                                                    \
	do {                                                                                   \
		if (!payload_int(c, NAME, &(VAR))) {                                           \
			return malformed(d, c, NAME);                                          \
		}                                                                              \
	} while (0)

/* ---- per-event events ---- */

static int frame_event(struct pt_decoder *d, const struct cur *c, struct pt_event *ev,
		       bool entry)
{
	int64_t kind, line;

	NEED_STR(ev->file, "co_filename");
	NEED_STR(ev->name, "co_qualname");
	NEED_STR(ev->module, "module");
	NEED_INT(line, "line_no");
	NEED_INT(kind, "kind");
	ev->kind = entry ? PT_ENTRY : PT_RETURN;
	ev->line = line;
	ev->sub = (int)kind;
	if (set_mode(d, c->pid, MODE_PER_EVENT)) {
		return -1;
	}
	return emit(d, ev);
}

static int c_frame_event(struct pt_decoder *d, const struct cur *c, struct pt_event *ev,
			 bool entry)
{
	int64_t kind;

	NEED_STR(ev->name, "name");
	NEED_INT(kind, "kind");
	ev->kind = entry ? PT_C_ENTRY : PT_C_RETURN;
	ev->sub = (int)kind;
	if (set_mode(d, c->pid, MODE_PER_EVENT)) {
		return -1;
	}
	return emit(d, ev);
}

static int exception_event(struct pt_decoder *d, const struct cur *c, struct pt_event *ev)
{
	NEED_STR(ev->name, "exc_type");
	NEED_STR(ev->file, "co_filename");
	NEED_STR(ev->module, "module");
	NEED_STR(ev->detail, "co_qualname");
	NEED_INT(ev->line, "line_no");
	ev->kind = PT_EXCEPTION;
	return emit(d, ev);
}

static int span_event(struct pt_decoder *d, const struct cur *c, struct pt_event *ev,
		      enum pt_kind kind)
{
	int64_t id = 0;

	NEED_STR(ev->name, "name");
	if (kind != PT_MARK) {
		NEED_INT(id, "id");
	}
	if (kind != PT_SPAN_END) {
		NEED_STR(ev->detail, "attrs");
	}
	ev->id = (uint64_t)id;
	ev->kind = kind;
	return emit(d, ev);
}

static int request_event(struct pt_decoder *d, const struct cur *c, struct pt_event *ev,
			 bool entry)
{
	int64_t id, status = 0, dur = 0;

	NEED_INT(id, "id");
	NEED_STR(ev->method, "method");
	NEED_STR(ev->path, "path");
	NEED_STR(ev->endpoint, "endpoint");
	NEED_STR(ev->rule, "rule");
	ev->endpoint = dash(ev->endpoint);
	ev->rule = dash(ev->rule);
	if (entry) {
		NEED_STR(ev->trace_id, "trace_id");
		NEED_STR(ev->parent_id, "parent_span_id");
		ev->trace_id = dash(ev->trace_id);
		ev->parent_id = dash(ev->parent_id);
	} else {
		NEED_INT(status, "status");
		NEED_INT(dur, "duration_ns");
		NEED_STR(ev->error, "error");
		ev->error = dash(ev->error);
	}
	snprintf(d->req_name, sizeof(d->req_name), "%s %s", ev->method, ev->path);
	ev->name = d->req_name;
	ev->kind = entry ? PT_REQUEST_ENTRY : PT_REQUEST_EXIT;
	ev->id = (uint64_t)id;
	ev->status = status;
	ev->duration_ns = (uint64_t)dur;
	return emit(d, ev);
}

/* The official agent's logging record (also libpytrace's forwarder). Its `thread` field is a
 * pthread id, not a kernel tid: the thread is the `vtid` context's (lttng add-context -u -t
 * vtid), or -1 when the channel has none. An empty `msg` may read as the previous record's
 * (babeltrace2 2.0.4, see decode.h). */
static int log_event(struct pt_decoder *d, const struct cur *c, struct pt_event *ev)
{
	int64_t line = 0;

	NEED_STR(ev->name, "msg");
	NEED_STR(ev->detail, "logger_name");
	NEED_INT(ev->level, "int_loglevel");
	payload_int(c, "lineno", &line);
	ev->line = line;
	ev->kind = PT_LOG;
	if (!context_int(c, "vtid", &ev->tid)) {
		ev->tid = -1;
	}
	return emit(d, ev);
}

/* lttng_ust_cyg_profile*: the function's address, symbolized by flt.lttng-utils.debug-info's
 * `debug_info` context member `func` ("name+0x0") when the graph has that filter. */
static int native_event(struct pt_decoder *d, const struct cur *c, struct pt_event *ev,
			bool entry)
{
	const bt_field *dbg = member(c->common, "debug_info");
	const char *func = get_str(member(dbg, "func"));
	int64_t addr;

	NEED_INT(addr, "addr");
	if (!context_int(c, "vtid", &ev->tid)) {
		return fail(d, "%s event without a vtid context: record with "
			       "`lttng add-context -u -t vtid`", c->ename);
	}
	ev->addr = (uint64_t)addr;
	ev->kind = entry ? PT_NATIVE_ENTRY : PT_NATIVE_RETURN;
	if (func && *func) {
		const char *plus = strrchr(func, '+');
		size_t n = plus && plus != func ? (size_t)(plus - func) : strlen(func);

		snprintf(d->req_name, sizeof(d->req_name), "%.*s", (int)n, func);
		ev->name = d->req_name;
	} else {
		snprintf(d->native_name, sizeof(d->native_name), "0x%" PRIx64, ev->addr);
		ev->name = d->native_name;
	}
	return emit(d, ev);
}

/* ---- fast mode ---- */

static char *dup_str(const char *s)
{
	return strdup(s ? s : "");
}

static int code_event(struct pt_decoder *d, const struct cur *c)
{
	int64_t id, interp, kind, line;
	const char *file, *name, *qualname, *module;
	struct code_def *def;

	NEED_INT(id, "id");
	NEED_INT(interp, "interp");
	NEED_INT(kind, "kind");
	NEED_INT(line, "line_no");
	NEED_STR(file, "co_filename");
	NEED_STR(name, "co_name");
	NEED_STR(qualname, "co_qualname");
	NEED_STR(module, "module");
	if (set_mode(d, c->pid, MODE_FAST)) {
		return -1;
	}
	/* Ids are never reused in a process: a definition seen again (a new session started)
	 * is the same one. */
	if (table_get(&d->defs, c->pid, interp, id)) {
		return 0;
	}
	def = calloc(1, sizeof(*def));
	if (!def) {
		return fail(d, "out of memory");
	}
	def->kind = (int)kind;
	def->line = line;
	/* A C function's file and module are "" in the trace, which babeltrace2 2.0.4 reads as
	 * the previous definition's: they are not read. */
	def->file = dup_str(kind == 1 ? "" : file);
	def->module = dup_str(kind == 1 ? "" : module);
	def->name = dup_str(name);
	def->qualname = dup_str(qualname);
	if (!def->file || !def->module || !def->name || !def->qualname ||
	    table_put(&d->defs, c->pid, interp, id, def)) {
		free(def->file);
		free(def->module);
		free(def->name);
		free(def->qualname);
		free(def);
		return fail(d, "out of memory");
	}
	return 0;
}

static const struct code_def *code_lookup(struct pt_decoder *d, int64_t pid, int64_t interp,
					  uint32_t id)
{
	const struct code_def *def = table_get(&d->defs, pid, interp, id);

	if (def) {
		return def;
	}
	d->stats.unknown_codes++;
	snprintf(d->unknown_name, sizeof(d->unknown_name), "<code %" PRIu32 ">", id);
	d->unknown.name = d->unknown.qualname = d->unknown_name;
	return &d->unknown;
}

static int push_frame(struct pt_decoder *d, struct thread *t, const struct code_def *def)
{
	if (t->depth == t->scap) {
		size_t ncap = t->scap ? t->scap * 2 : 64;
		const struct code_def **n = realloc(t->stack, ncap * sizeof(*n));

		if (!n) {
			return fail(d, "out of memory");
		}
		t->stack = n;
		t->scap = ncap;
	}
	t->stack[t->depth++] = def;
	return 0;
}

/* One record as the event per-event mode would have written. An entry of an undefined id is
 * kept on the stack as an undefined entry (NULL) and named again at its return. */
static int record_event(struct pt_decoder *d, struct thread *t, int64_t interp, uint64_t ts,
			uint64_t w, int64_t offset, struct pt_event *ev)
{
	uint32_t id = (uint32_t)(w & 0xffffffffu);
	unsigned type = (unsigned)((w >> 32) & 0xff), kind = (unsigned)((w >> 40) & 0xff);
	const struct code_def *def;

	if (type > 3) {
		return fail(d, "malformed python:records event: record type %u (tid %" PRId64 ")",
			    type, t->tid);
	}
	memset(ev, 0, sizeof(*ev));
	ev->pid = t->pid;
	ev->tid = t->tid;
	ev->ts = (int64_t)ts + offset;
	ev->sub = (int)kind;
	if (type == 0 || type == 2) {
		const struct code_def *known = table_get(&d->defs, t->pid, interp, id);

		def = code_lookup(d, t->pid, interp, id);
		if (push_frame(d, t, known)) {
			return -1;
		}
		ev->kind = type == 0 ? PT_ENTRY : PT_C_ENTRY;
	} else {
		const struct code_def *top = t->depth ? t->stack[--t->depth] : NULL;

		def = top ? top : code_lookup(d, t->pid, interp, id);
		ev->kind = type == 1 ? PT_RETURN : PT_C_RETURN;
	}
	ev->id = id;
	if (type < 2) {
		ev->name = def->qualname;
		ev->file = def->file;
		ev->module = def->module;
		ev->line = type == 0 ? def->line : 0;
	} else {
		ev->name = def->name;
		ev->file = "";
		ev->module = "";
	}
	ev->detail = "";
	return 0;
}

/* A batch: its records merged with what the thread held, by time (a record before an event of
 * the same time: records are handed over before the event that made the hand-over). */
static int records_event(struct pt_decoder *d, const struct cur *c, struct pt_event *base)
{
	const bt_field *arr = member(c->payload, "records");
	uint64_t words[MAX_RECORD_WORDS];
	uint64_t n, i;
	int64_t interp;
	struct thread *t;
	size_t h = 0;

	NEED_INT(interp, "interp");
	if (!arr || !bt_field_class_type_is(bt_field_get_class_type(arr),
					    BT_FIELD_CLASS_TYPE_ARRAY)) {
		return malformed(d, c, "records");
	}
	n = bt_field_array_get_length(arr);
	if (n > MAX_RECORD_WORDS || n % 2) {
		return fail(d, "malformed python:records event: %" PRIu64 " words (tid %" PRId64
			    ")", n, base->tid);
	}
	for (i = 0; i < n; i++) {
		const bt_field *w = bt_field_array_borrow_element_field_by_index_const(arr, i);
		int64_t v;

		if (!get_int(w, &v)) {
			return malformed(d, c, "records");
		}
		words[i] = (uint64_t)v;
	}
	if (set_mode(d, c->pid, MODE_FAST)) {
		return -1;
	}
	t = thread_get(d, base->pid, base->tid);
	if (!t) {
		return fail(d, "out of memory");
	}
	for (i = 0; i < n; i += 2) {
		struct pt_event ev;

		if (record_event(d, t, interp, words[i], words[i + 1], c->offset, &ev)) {
			return -1;
		}
		while (h < t->qlen && t->q[h].ev.ts < ev.ts) {
			deliver(d, &t->q[h].ev);
			h++;
		}
		deliver(d, &ev);
	}
	/* Everything held came before this batch event; later records are not earlier. */
	for (i = 0; i < t->qlen; i++) {
		if (i >= h) {
			deliver(d, &t->q[i].ev);
		}
		free(t->q[i].strings);
	}
	t->qlen = 0;
	return 0;
}

/* ---- messages ---- */

static int64_t trace_pid(const bt_event *event)
{
	const bt_stream *s = bt_event_borrow_stream_const(event);
	const bt_trace *tr = s ? bt_stream_borrow_trace_const(s) : NULL;
	const bt_value *v = tr ? bt_trace_borrow_environment_entry_value_by_name_const(tr, "vpid")
			       : NULL;

	if (v && bt_value_get_type(v) == BT_VALUE_TYPE_SIGNED_INTEGER) {
		return bt_value_integer_signed_get(v);
	}
	if (v && bt_value_get_type(v) == BT_VALUE_TYPE_UNSIGNED_INTEGER) {
		return (int64_t)bt_value_integer_unsigned_get(v);
	}
	return -1;
}

static int event_message(struct pt_decoder *d, const bt_message *msg)
{
	const bt_event *event = bt_message_event_borrow_event_const(msg);
	const char *name = bt_event_class_get_name(bt_event_borrow_class_const(event));
	const char *ev_name;
	struct pt_event ev = { 0 };
	struct cur c = { 0 };
	bool python, agent, cyg;

	d->stats.messages++;
	if (!name) {
		return 0;
	}
	python = !strncmp(name, "python:", 7);
	agent = !strcmp(name, "lttng_python:event");
	cyg = !strncmp(name, "lttng_ust_cyg_profile:", 22) ||
	      !strncmp(name, "lttng_ust_cyg_profile_fast:", 27);
	if (!python && !agent && !cyg) {
		return 0; /* other providers: not ours */
	}
	c.ename = name;
	c.payload = bt_event_borrow_payload_field_const(event);
	c.common = bt_event_borrow_common_context_field_const(event);
	c.specific = bt_event_borrow_specific_context_field_const(event);
	if (!context_int(&c, "vpid", &c.pid)) {
		c.pid = trace_pid(event);
	}
	if (bt_message_event_borrow_stream_class_default_clock_class_const(msg)) {
		const bt_clock_snapshot *cs = bt_message_event_borrow_default_clock_snapshot_const(msg);

		if (bt_clock_snapshot_get_ns_from_origin(cs, &c.ts) !=
		    BT_CLOCK_SNAPSHOT_GET_NS_FROM_ORIGIN_STATUS_OK) {
			return fail(d, "%s event: its time overflows", name);
		}
		c.offset = c.ts - (int64_t)bt_clock_snapshot_get_value(cs);
	}
	ev.ts = c.ts;
	ev.pid = c.pid;
	ev.module = ev.file = ev.detail = "";
	if (cyg) {
		return native_event(d, &c, &ev, !strcmp(strchr(name, ':') + 1, "func_entry"));
	}
	d->stats.ours = true;
	if (agent) {
		return log_event(d, &c, &ev);
	}
	ev_name = name + 7;
	if (!strcmp(ev_name, "code")) {
		return code_event(d, &c);
	}
	if (!payload_int(&c, "tid", &ev.tid)) {
		return malformed(d, &c, "tid");
	}
	if (!strcmp(ev_name, "function__entry") || !strcmp(ev_name, "function__return")) {
		return frame_event(d, &c, &ev, ev_name[10] == 'e');
	}
	if (!strcmp(ev_name, "c_function__entry") || !strcmp(ev_name, "c_function__return")) {
		return c_frame_event(d, &c, &ev, ev_name[12] == 'e');
	}
	if (!strcmp(ev_name, "records")) {
		return records_event(d, &c, &ev);
	}
	if (!strcmp(ev_name, "exception")) {
		return exception_event(d, &c, &ev);
	}
	if (!strcmp(ev_name, "span_begin")) {
		return span_event(d, &c, &ev, PT_SPAN_BEGIN);
	}
	if (!strcmp(ev_name, "span_end")) {
		return span_event(d, &c, &ev, PT_SPAN_END);
	}
	if (!strcmp(ev_name, "mark")) {
		return span_event(d, &c, &ev, PT_MARK);
	}
	if (!strcmp(ev_name, "request_entry") || !strcmp(ev_name, "request_exit")) {
		return request_event(d, &c, &ev, ev_name[8] == 'e' && ev_name[9] == 'n');
	}
	return 0; /* a python event added after this decoder: ignored (the schema only grows) */
}

int pt_decoder_push(struct pt_decoder *d, const bt_message *msg)
{
	uint64_t count;

	switch (bt_message_get_type(msg)) {
	case BT_MESSAGE_TYPE_EVENT:
		return event_message(d, msg);
	case BT_MESSAGE_TYPE_DISCARDED_EVENTS:
		if (bt_message_discarded_events_get_count(msg, &count) ==
		    BT_PROPERTY_AVAILABILITY_AVAILABLE) {
			d->stats.discarded_events += count;
		}
		return 0;
	case BT_MESSAGE_TYPE_DISCARDED_PACKETS:
		if (bt_message_discarded_packets_get_count(msg, &count) ==
		    BT_PROPERTY_AVAILABILITY_AVAILABLE) {
			d->stats.discarded_packets += count;
		}
		return 0;
	default:
		return 0;
	}
}

/* What is still held goes out in time order across threads (a merge of the sorted queues). */
int pt_decoder_finish(struct pt_decoder *d)
{
	size_t *pos = calloc(d->nthreads ? d->nthreads : 1, sizeof(*pos));
	size_t i;

	if (!pos) {
		return fail(d, "out of memory");
	}
	for (;;) {
		struct thread *best = NULL;
		size_t bi = 0;

		for (i = 0; i < d->nthreads; i++) {
			struct thread *t = d->order[i];

			if (pos[i] < t->qlen &&
			    (!best || t->q[pos[i]].ev.ts < best->q[pos[bi]].ev.ts)) {
				best = t;
				bi = i;
			}
		}
		if (!best) {
			break;
		}
		deliver(d, &best->q[pos[bi]].ev);
		free(best->q[pos[bi]].strings);
		best->q[pos[bi]].strings = NULL;
		pos[bi]++;
	}
	for (i = 0; i < d->nthreads; i++) {
		d->order[i]->qlen = 0;
	}
	free(pos);
	return 0;
}
