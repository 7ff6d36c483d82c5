/* SPDX-License-Identifier: MIT */
/*
 * The babeltrace2 plugin `pytrace`'s shared decoder: babeltrace2 messages of a libpytrace trace
 * in, one time-ordered stream of `struct pt_event` out (docs/events.md), whatever the mode:
 * per-event events pass through, fast-mode `python:code` definitions are remembered and
 * `python:records` batches are expanded into entries and returns with their own timestamps,
 * merged in time order with the thread's other events (a per-thread queue: memory bounded by
 * what one batch interval holds, not by the trace). Also decoded: spans and marks, requests,
 * `lttng_python:event` logging records, and `lttng_ust_cyg_profile*:func_entry/func_exit`
 * native frames (symbolized when the graph has `flt.lttng-utils.debug-info` before the sink:
 * its `debug_info` context field gives `func`).
 *
 * Order: each thread's events come exactly in time order. Across threads they come in the order
 * they are released: at once in per-event mode; in fast mode a thread's events wait for its next
 * batch (or the end of the trace), so another thread's later events may come first. Until a
 * process shows its mode (a function event, or a `code`/`records` event), its events are held,
 * unless its trace has no `python:records` event class (nothing can sort before them).
 *
 * Threads are keyed by (pid, tid): pid is the trace environment's `vpid` (per-process buffers)
 * or the `vpid` context field, -1 when neither exists.
 *
 * Note: babeltrace2 2.0.4 (Debian bookworm) reads an empty string field as the previous event's
 * value of that field; libpytrace never records empty strings in its newer events ("-" instead),
 * the decoder maps "-" back to "" where the schema says "-" means none.
 *
 * Not thread-safe; one decoder per sink component.
 */
#ifndef PYTRACE_BT_DECODE_H
#define PYTRACE_BT_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include <babeltrace2/babeltrace.h>

enum pt_kind {
	PT_ENTRY,	  /* a Python frame starts: sub = call 0, resume 1, active 2 */
	PT_RETURN,	  /* it ends: sub = return 0, yield 1, unwind 2, detach 3 */
	PT_C_ENTRY,	  /* a C function (name) */
	PT_C_RETURN,
	PT_NATIVE_ENTRY,  /* lttng_ust_cyg_profile*: func_entry (addr, name if symbolized) */
	PT_NATIVE_RETURN, /* func_exit */
	PT_EXCEPTION,	  /* name = exception type; module/file/line of the frame,
			   * detail = its co_qualname */
	PT_SPAN_BEGIN,	  /* name, id, detail = attrs JSON */
	PT_SPAN_END,	  /* name, id */
	PT_MARK,	  /* name, detail = attrs JSON */
	PT_LOG,		  /* lttng_python:event: name = msg, detail = logger_name, level,
			   * line = lineno; tid = the vtid context (-1 without it: the
			   * record's `thread` field is a pthread id, not a tid) */
	PT_REQUEST_ENTRY, /* name = "METHOD path", id, method, path, endpoint, rule, trace ids */
	PT_REQUEST_EXIT,  /* + status, duration_ns, error */
};

struct pt_event {
	enum pt_kind kind;
	int sub;
	int64_t ts; /* ns from the clock's origin (bt_clock_snapshot_get_ns_from_origin) */
	int64_t pid;
	int64_t tid;
	const char *name;   /* qualname (Python), C name, native symbol or hex address, ... */
	const char *module; /* Python frames and exceptions; "" otherwise */
	const char *file;   /* co_filename; "" when unknown */
	int64_t line;	    /* entry: first line; return: line left (0 in fast mode) */
	const char *detail;
	int64_t level;
	uint64_t id;
	uint64_t addr;
	/* requests */
	const char *method, *path, *endpoint, *rule, *trace_id, *parent_id, *error;
	int64_t status;
	uint64_t duration_ns;
};

/* Strings of a pt_event live until the callback returns. */
typedef void (*pt_event_cb)(const struct pt_event *ev, void *data);

struct pt_decoder_stats {
	uint64_t messages;	     /* event messages read */
	uint64_t events;	     /* pt_events delivered */
	uint64_t discarded_events;   /* as the discarded-events messages count them */
	uint64_t discarded_packets;
	uint64_t threads;	     /* distinct (pid, tid) seen */
	uint64_t unknown_codes;	     /* fast-mode records naming a code id never defined */
	bool ours;		     /* at least one event of libpytrace's or the agent's */
};

struct pt_decoder;

struct pt_decoder *pt_decoder_create(pt_event_cb cb, void *data);
void pt_decoder_destroy(struct pt_decoder *d);

/* Decodes one message (event, discarded events/packets; others are ignored). Events whose
 * order depends on fast-mode batches not yet read are held back. 0, or -1 on a malformed
 * event (a message in pt_decoder_error()). */
int pt_decoder_push(struct pt_decoder *d, const bt_message *msg);

/* End of the trace: delivers everything held back, in time order. */
int pt_decoder_finish(struct pt_decoder *d);

const struct pt_decoder_stats *pt_decoder_stats(const struct pt_decoder *d);
const char *pt_decoder_error(const struct pt_decoder *d);

#endif /* PYTRACE_BT_DECODE_H */
