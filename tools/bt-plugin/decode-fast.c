/* SPDX-License-Identifier: MIT */
/*
 * Fast mode (docs/events.md, "Fast mode"), a port of python/pytrace/records.py: `python:code`
 * definitions are kept per (pid, interp, id); each `python:records` batch becomes the entries
 * and returns per-event mode would have written, a return taking the names of the entry it
 * closes, merged by time with what the thread held since its previous batch (decode.c).
 * Single-threaded, like the decoder.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode-int.h"

/* ---- fast mode ---- */

static char *dup_str(const char *s)
{
	return strdup(s ? s : "");
}

int pt_fast_code(struct pt_decoder *d, const struct cur *c)
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
	if (pt_decoder_set_mode(d, c->pid, MODE_FAST)) {
		return -1;
	}
	/* Ids are never reused in a process: a definition seen again (a new session started)
	 * is the same one. */
	if (pt_table_get(&d->defs, c->pid, interp, id)) {
		return 0;
	}
	def = calloc(1, sizeof(*def));
	if (!def) {
		return pt_decoder_fail(d, "out of memory");
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
	    pt_table_put(&d->defs, c->pid, interp, id, def)) {
		free(def->file);
		free(def->module);
		free(def->name);
		free(def->qualname);
		free(def);
		return pt_decoder_fail(d, "out of memory");
	}
	return 0;
}

static const struct code_def *code_lookup(struct pt_decoder *d, int64_t pid, int64_t interp,
					  uint32_t id)
{
	const struct code_def *def = pt_table_get(&d->defs, pid, interp, id);

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
			return pt_decoder_fail(d, "out of memory");
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
		return pt_decoder_fail(d, "malformed python:records event: record type %u (tid %"
				       PRId64 ")", type, t->tid);
	}
	memset(ev, 0, sizeof(*ev));
	ev->pid = t->pid;
	ev->tid = t->tid;
	ev->ts = (int64_t)ts + offset;
	ev->sub = (int)kind;
	if (type == 0 || type == 2) {
		const struct code_def *known = pt_table_get(&d->defs, t->pid, interp, id);

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
int pt_fast_records(struct pt_decoder *d, const struct cur *c, struct pt_event *base)
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
		return pt_decoder_fail(d, "malformed python:records event: %" PRIu64
				       " words (tid %" PRId64 ")", n, base->tid);
	}
	for (i = 0; i < n; i++) {
		const bt_field *w = bt_field_array_borrow_element_field_by_index_const(arr, i);
		int64_t v;

		if (!get_int(w, &v)) {
			return malformed(d, c, "records");
		}
		words[i] = (uint64_t)v;
	}
	if (pt_decoder_set_mode(d, c->pid, MODE_FAST)) {
		return -1;
	}
	t = pt_decoder_thread(d, base->pid, base->tid);
	if (!t) {
		return pt_decoder_fail(d, "out of memory");
	}
	for (i = 0; i < n; i += 2) {
		struct pt_event ev;

		if (record_event(d, t, interp, words[i], words[i + 1], c->offset, &ev)) {
			return -1;
		}
		while (h < t->qlen && t->q[h].ev.ts < ev.ts) {
			pt_decoder_deliver(d, &t->q[h].ev);
			h++;
		}
		pt_decoder_deliver(d, &ev);
	}
	/* Everything held came before this batch event; later records are not earlier. */
	for (i = 0; i < t->qlen; i++) {
		if (i >= h) {
			pt_decoder_deliver(d, &t->q[i].ev);
		}
		free(t->q[i].strings);
	}
	t->qlen = 0;
	return 0;
}
