/* SPDX-License-Identifier: MIT */
/*
 * The decoder of decode.h: babeltrace2 event messages of a libpytrace trace in, pt_events out.
 *
 * Per-event mode passes through at once. Fast mode (docs/events.md, "Fast mode") is a port of
 * python/pytrace/records.py (decode-fast.c): `python:code` definitions are kept per (pid,
 * interp, id), each `python:records` batch is expanded into entries and returns that take the
 * names of the entry they close. A batch's records are no later than the batch event and no
 * earlier than the thread's previous batch, so a thread's other events (spans, logging,
 * exceptions) are held in a per-thread queue until its next batch, then merged with the batch's
 * records by time.
 *
 * A process's mode is known from its first function event (per-event: nothing is ever held for
 * it) or its first `code`/`records` event (fast); until then its events are held, so the records
 * of a first batch still sort before them, unless its trace has no `python:records` class at
 * all (spans, requests or logging only). Delivery across threads is in order of release.
 *
 * Single-threaded: one decoder per sink component, called from its consume method.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode-int.h"

int pt_decoder_fail(struct pt_decoder *d, const char *fmt, ...)
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
	for (i = 0; i < d->fast_capable.cap; i++) {
		if (d->fast_capable.slots[i].v) {
			bt_trace_class_put_ref(
				(const bt_trace_class *)(uintptr_t)d->fast_capable.slots[i].k.a);
		}
	}
	free(d->fast_capable.slots);
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

struct thread *pt_decoder_thread(struct pt_decoder *d, int64_t pid, int64_t tid)
{
	struct thread *t = pt_table_get(&d->threads, pid, tid, 0);

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
	if (!t || pt_table_put(&d->threads, pid, tid, 0, t)) {
		free(t);
		return NULL;
	}
	t->pid = pid;
	t->tid = tid;
	d->order[d->nthreads++] = t;
	d->stats.threads++;
	return t;
}

void pt_decoder_deliver(struct pt_decoder *d, const struct pt_event *ev)
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
			return pt_decoder_fail(d, "out of memory holding an event of tid %" PRId64,
					       t->tid);
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
		return pt_decoder_fail(d, "out of memory holding an event of tid %" PRId64,
				       t->tid);
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
		pt_decoder_deliver(d, &t->q[i].ev);
		free(t->q[i].strings);
	}
	memmove(t->q, t->q + n, (t->qlen - n) * sizeof(*t->q));
	t->qlen -= n;
}

static enum pid_mode mode_of(struct pt_decoder *d, int64_t pid)
{
	void *v = pt_table_get(&d->modes, pid, 0, 0);

	return v ? (enum pid_mode)(uintptr_t)v : MODE_UNKNOWN;
}

/* Once a process is known to use per-event mode, what it held goes out: nothing will sort
 * before it. */
int pt_decoder_set_mode(struct pt_decoder *d, int64_t pid, enum pid_mode m)
{
	enum pid_mode old = mode_of(d, pid);
	size_t i;

	if (old == m || old == MODE_FAST) {
		return 0;
	}
	if (pt_table_put(&d->modes, pid, 0, 0, (void *)(uintptr_t)m)) {
		return pt_decoder_fail(d, "out of memory");
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
	struct thread *t = pt_decoder_thread(d, ev->pid, ev->tid);

	if (!t) {
		return pt_decoder_fail(d, "out of memory");
	}
	if (mode_of(d, ev->pid) == MODE_PER_EVENT) {
		pt_decoder_deliver(d, ev);
		return 0;
	}
	return hold(d, t, ev);
}

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
	if (pt_decoder_set_mode(d, c->pid, MODE_PER_EVENT)) {
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
	if (pt_decoder_set_mode(d, c->pid, MODE_PER_EVENT)) {
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
		return pt_decoder_fail(d, "%s event without a vtid context: record with "
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

/* Whether the event's trace can hold fast-mode batches at all: a trace whose metadata has no
 * `python:records` class (spans, requests or logging only) never makes its events wait. Read
 * once per trace class; a live trace whose metadata grows later is read as it was then. */
static bool fast_capable(struct pt_decoder *d, const bt_event *event)
{
	const bt_stream_class *sc = bt_event_class_borrow_stream_class_const(
		bt_event_borrow_class_const(event));
	const bt_trace_class *tc = bt_stream_class_borrow_trace_class_const(sc);
	int64_t key = (int64_t)(uintptr_t)tc;
	uintptr_t known = (uintptr_t)pt_table_get(&d->fast_capable, key, 0, 0);
	uint64_t i, j;
	bool yes = false;

	if (known) {
		return known == 2;
	}
	for (i = 0; !yes && i < bt_trace_class_get_stream_class_count(tc); i++) {
		const bt_stream_class *s = bt_trace_class_borrow_stream_class_by_index_const(tc, i);

		for (j = 0; !yes && j < bt_stream_class_get_event_class_count(s); j++) {
			const char *n = bt_event_class_get_name(
				bt_stream_class_borrow_event_class_by_index_const(s, j));

			yes = n && !strcmp(n, "python:records");
		}
	}
	/* A reference keeps the address from naming another trace class later. Out of memory
	 * only costs reading the classes again. */
	if (!pt_table_put(&d->fast_capable, key, 0, 0, (void *)(uintptr_t)(yes ? 2 : 1))) {
		bt_trace_class_get_ref(tc);
	}
	return yes;
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
		const bt_clock_snapshot *cs =
			bt_message_event_borrow_default_clock_snapshot_const(msg);

		if (bt_clock_snapshot_get_ns_from_origin(cs, &c.ts) !=
		    BT_CLOCK_SNAPSHOT_GET_NS_FROM_ORIGIN_STATUS_OK) {
			return pt_decoder_fail(d, "%s event: its time overflows", name);
		}
		c.offset = c.ts - (int64_t)bt_clock_snapshot_get_value(cs);
	}
	ev.ts = c.ts;
	ev.pid = c.pid;
	ev.module = ev.file = ev.detail = "";
	if (mode_of(d, c.pid) == MODE_UNKNOWN && !fast_capable(d, event) &&
	    pt_decoder_set_mode(d, c.pid, MODE_PER_EVENT)) {
		return -1;
	}
	if (cyg) {
		return native_event(d, &c, &ev, !strcmp(strchr(name, ':') + 1, "func_entry"));
	}
	d->stats.ours = true;
	if (agent) {
		return log_event(d, &c, &ev);
	}
	ev_name = name + 7;
	if (!strcmp(ev_name, "code")) {
		return pt_fast_code(d, &c);
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
		return pt_fast_records(d, &c, &ev);
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
		return pt_decoder_fail(d, "out of memory");
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
		pt_decoder_deliver(d, &best->q[pos[bi]].ev);
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
