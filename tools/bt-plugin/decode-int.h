/* SPDX-License-Identifier: MIT */
/*
 * What the decoder's files share (decode.c: messages, per-event events, holding and release;
 * decode-fast.c: fast mode's definitions and batches; decode-table.c: the lookup table). Not
 * part of the plugin's interface: the sinks use decode.h only.
 */
#ifndef PYTRACE_BT_DECODE_INT_H
#define PYTRACE_BT_DECODE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "decode.h"

#define MAX_RECORD_WORDS 256 /* 128 records of two words (docs/events.md) */

/* ---- a small open-addressing table keyed by three integers ---- */

struct pt_key {
	int64_t a, b, c;
};

struct pt_slot {
	struct pt_key k;
	void *v; /* NULL: empty */
};

struct pt_table {
	struct pt_slot *slots;
	size_t cap, len;
};

void *pt_table_get(struct pt_table *t, int64_t a, int64_t b, int64_t c);
/* Stores v (not NULL) under a new key; 0 or -1 when out of memory. */
int pt_table_put(struct pt_table *t, int64_t a, int64_t b, int64_t c, void *v);

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
	struct pt_table defs;    /* (pid, interp, id) -> struct code_def */
	struct pt_table threads; /* (pid, tid, 0) -> struct thread */
	struct pt_table modes;   /* (pid, 0, 0) -> (void *)enum pid_mode */
	struct pt_table fast_capable; /* (trace class address, 0, 0) -> 1 no, 2 yes */
	struct thread **order; /* threads in order of appearance (for finish) */
	size_t nthreads, ocap;
	struct code_def unknown; /* names of an undefined id, rewritten each time */
	char unknown_name[48];
	char req_name[512];
	char native_name[32];
	char err[512];
};

/* Sets the decoder's error message; returns -1. */
int pt_decoder_fail(struct pt_decoder *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The thread (pid, tid), made on first use; NULL when out of memory. */
struct thread *pt_decoder_thread(struct pt_decoder *d, int64_t pid, int64_t tid);
void pt_decoder_deliver(struct pt_decoder *d, const struct pt_event *ev);
int pt_decoder_set_mode(struct pt_decoder *d, int64_t pid, enum pid_mode m);

/* ---- reading fields ---- */

static inline const bt_field *member(const bt_field *s, const char *name)
{
	if (!s || bt_field_get_class_type(s) != BT_FIELD_CLASS_TYPE_STRUCTURE) {
		return NULL;
	}
	return bt_field_structure_borrow_member_field_by_name_const(s, name);
}

static inline bool get_int(const bt_field *f, int64_t *out)
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

static inline const char *get_str(const bt_field *f)
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

static inline bool payload_int(const struct cur *c, const char *name, int64_t *out)
{
	return get_int(member(c->payload, name), out);
}

static inline const char *payload_str(const struct cur *c, const char *name)
{
	return get_str(member(c->payload, name));
}

static inline bool context_int(const struct cur *c, const char *name, int64_t *out)
{
	return get_int(member(c->common, name), out) || get_int(member(c->specific, name), out);
}

/* "-" is libpytrace's "none" in request events (no empty strings, see decode.h). */
static inline const char *dash(const char *s)
{
	return s && strcmp(s, "-") ? s : "";
}

static inline int malformed(struct pt_decoder *d, const struct cur *c, const char *field)
{
	return pt_decoder_fail(d, "malformed %s event: no valid field `%s`", c->ename, field);
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

/* decode-fast.c */
int pt_fast_code(struct pt_decoder *d, const struct cur *c);
int pt_fast_records(struct pt_decoder *d, const struct cur *c, struct pt_event *base);

#endif /* PYTRACE_BT_DECODE_INT_H */
