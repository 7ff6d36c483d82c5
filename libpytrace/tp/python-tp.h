/* SPDX-License-Identifier: MIT */
/*
 * Tracepoint provider `python`: the event schema of libpytrace (docs/events.md). It is an ABI:
 * fields are only ever added. function__entry/function__return keep the names and the first
 * fields (co_filename, co_name, line_no) of CPython's unmerged LTTng patch (bpo-28909) so that
 * consumers written for it keep working.
 */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER python

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "tp/python-tp.h"

#if !defined(PYTRACE_TP_PYTHON_TP_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define PYTRACE_TP_PYTHON_TP_H

#include <stdint.h>

#include <lttng/tracepoint.h>

LTTNG_UST_TRACEPOINT_ENUM(python, entry_kind,
	LTTNG_UST_TP_ENUM_VALUES(
		lttng_ust_field_enum_value("call", 0)
		lttng_ust_field_enum_value("resume", 1)
		lttng_ust_field_enum_value("active", 2)
	)
)

LTTNG_UST_TRACEPOINT_ENUM(python, return_kind,
	LTTNG_UST_TP_ENUM_VALUES(
		lttng_ust_field_enum_value("return", 0)
		lttng_ust_field_enum_value("yield", 1)
		lttng_ust_field_enum_value("unwind", 2)
		lttng_ust_field_enum_value("detach", 3)
	)
)

LTTNG_UST_TRACEPOINT_EVENT(python, function__entry,
	LTTNG_UST_TP_ARGS(
		const char *, co_filename,
		const char *, co_name,
		int, line_no,
		const char *, co_qualname,
		const char *, module,
		int, kind,
		int32_t, tid,
		int64_t, interp
	),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(co_filename, co_filename)
		lttng_ust_field_string(co_name, co_name)
		lttng_ust_field_integer(int, line_no, line_no)
		lttng_ust_field_string(co_qualname, co_qualname)
		lttng_ust_field_string(module, module)
		lttng_ust_field_enum(python, entry_kind, int, kind, kind)
		lttng_ust_field_integer(int32_t, tid, tid)
		lttng_ust_field_integer(int64_t, interp, interp)
	)
)

LTTNG_UST_TRACEPOINT_EVENT(python, function__return,
	LTTNG_UST_TP_ARGS(
		const char *, co_filename,
		const char *, co_name,
		int, line_no,
		const char *, co_qualname,
		const char *, module,
		int, kind,
		int32_t, tid,
		int64_t, interp
	),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(co_filename, co_filename)
		lttng_ust_field_string(co_name, co_name)
		lttng_ust_field_integer(int, line_no, line_no)
		lttng_ust_field_string(co_qualname, co_qualname)
		lttng_ust_field_string(module, module)
		lttng_ust_field_enum(python, return_kind, int, kind, kind)
		lttng_ust_field_integer(int32_t, tid, tid)
		lttng_ust_field_integer(int64_t, interp, interp)
	)
)

LTTNG_UST_TRACEPOINT_EVENT(python, exception,
	LTTNG_UST_TP_ARGS(
		const char *, exc_type,
		const char *, co_filename,
		const char *, co_name,
		int, line_no,
		const char *, co_qualname,
		const char *, module,
		int32_t, tid,
		int64_t, interp
	),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(exc_type, exc_type)
		lttng_ust_field_string(co_filename, co_filename)
		lttng_ust_field_string(co_name, co_name)
		lttng_ust_field_integer(int, line_no, line_no)
		lttng_ust_field_string(co_qualname, co_qualname)
		lttng_ust_field_string(module, module)
		lttng_ust_field_integer(int32_t, tid, tid)
		lttng_ust_field_integer(int64_t, interp, interp)
	)
)

LTTNG_UST_TRACEPOINT_EVENT(python, c_function__entry,
	LTTNG_UST_TP_ARGS(
		const char *, name,
		int, kind,
		int32_t, tid,
		int64_t, interp
	),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(name, name)
		lttng_ust_field_enum(python, entry_kind, int, kind, kind)
		lttng_ust_field_integer(int32_t, tid, tid)
		lttng_ust_field_integer(int64_t, interp, interp)
	)
)

LTTNG_UST_TRACEPOINT_EVENT(python, c_function__return,
	LTTNG_UST_TP_ARGS(
		const char *, name,
		int, kind,
		int32_t, tid,
		int64_t, interp
	),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(name, name)
		lttng_ust_field_enum(python, return_kind, int, kind, kind)
		lttng_ust_field_integer(int32_t, tid, tid)
		lttng_ust_field_integer(int64_t, interp, interp)
	)
)

/* Fast mode (docs/events.md, "Fast mode"). */

LTTNG_UST_TRACEPOINT_ENUM(python, code_kind,
	LTTNG_UST_TP_ENUM_VALUES(
		lttng_ust_field_enum_value("python", 0)
		lttng_ust_field_enum_value("c", 1)
	)
)

/* What a record's id stands for; emitted before the first record naming it in each session. */
LTTNG_UST_TRACEPOINT_EVENT(python, code,
	LTTNG_UST_TP_ARGS(
		uint32_t, id,
		int, kind,
		const char *, co_filename,
		const char *, co_name,
		int, line_no,
		const char *, co_qualname,
		const char *, module,
		int64_t, interp
	),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(uint32_t, id, id)
		lttng_ust_field_enum(python, code_kind, int, kind, kind)
		lttng_ust_field_string(co_filename, co_filename)
		lttng_ust_field_string(co_name, co_name)
		lttng_ust_field_integer(int, line_no, line_no)
		lttng_ust_field_string(co_qualname, co_qualname)
		lttng_ust_field_string(module, module)
		lttng_ust_field_integer(int64_t, interp, interp)
	)
)

/* A batch of one thread's records: two 64-bit words each (timestamp; id, type and kind). */
LTTNG_UST_TRACEPOINT_EVENT(python, records,
	LTTNG_UST_TP_ARGS(
		const uint64_t *, words,
		unsigned int, n_words,
		int32_t, tid,
		int64_t, interp
	),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(int32_t, tid, tid)
		lttng_ust_field_integer(int64_t, interp, interp)
		lttng_ust_field_sequence(uint64_t, records, words, unsigned int, n_words)
	)
)

/*
 * Spans and marks (docs/events.md, "Spans and marks"): pytrace_span_begin(), pytrace_span_end(),
 * pytrace_mark() and the Python shim's pytrace.span() / pytrace.mark(). lttng-ust 2.13 has no
 * array of strings, so the attributes are one string holding a JSON object of strings.
 */
LTTNG_UST_TRACEPOINT_EVENT(python, span_begin,
	LTTNG_UST_TP_ARGS(
		const char *, name,
		uint64_t, id,
		const char *, attrs,
		int32_t, tid
	),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(name, name)
		lttng_ust_field_integer(uint64_t, id, id)
		lttng_ust_field_string(attrs, attrs)
		lttng_ust_field_integer(int32_t, tid, tid)
	)
)

LTTNG_UST_TRACEPOINT_EVENT(python, span_end,
	LTTNG_UST_TP_ARGS(
		const char *, name,
		uint64_t, id,
		int32_t, tid
	),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(name, name)
		lttng_ust_field_integer(uint64_t, id, id)
		lttng_ust_field_integer(int32_t, tid, tid)
	)
)

LTTNG_UST_TRACEPOINT_EVENT(python, mark,
	LTTNG_UST_TP_ARGS(
		const char *, name,
		const char *, attrs,
		int32_t, tid
	),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(name, name)
		lttng_ust_field_string(attrs, attrs)
		lttng_ust_field_integer(int32_t, tid, tid)
	)
)

/*
 * HTTP requests (docs/events.md, "Requests"): pytrace_request_begin(), pytrace_request_end()
 * and the shim's pytrace.flask. Strings are "" when unknown (no route matched, no traceparent).
 */
LTTNG_UST_TRACEPOINT_EVENT(python, request_entry,
	LTTNG_UST_TP_ARGS(
		uint64_t, id,
		const char *, method,
		const char *, path,
		const char *, endpoint,
		const char *, rule,
		const char *, trace_id,
		const char *, parent_span_id,
		int32_t, tid
	),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(uint64_t, id, id)
		lttng_ust_field_string(method, method)
		lttng_ust_field_string(path, path)
		lttng_ust_field_string(endpoint, endpoint)
		lttng_ust_field_string(rule, rule)
		lttng_ust_field_string(trace_id, trace_id)
		lttng_ust_field_string(parent_span_id, parent_span_id)
		lttng_ust_field_integer(int32_t, tid, tid)
	)
)

LTTNG_UST_TRACEPOINT_EVENT(python, request_exit,
	LTTNG_UST_TP_ARGS(
		uint64_t, id,
		const char *, method,
		const char *, path,
		const char *, endpoint,
		const char *, rule,
		int32_t, status,
		uint64_t, duration_ns,
		const char *, error,
		int32_t, tid
	),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(uint64_t, id, id)
		lttng_ust_field_string(method, method)
		lttng_ust_field_string(path, path)
		lttng_ust_field_string(endpoint, endpoint)
		lttng_ust_field_string(rule, rule)
		lttng_ust_field_integer(int32_t, status, status)
		lttng_ust_field_integer(uint64_t, duration_ns, duration_ns)
		lttng_ust_field_string(error, error)
		lttng_ust_field_integer(int32_t, tid, tid)
	)
)

#endif /* PYTRACE_TP_PYTHON_TP_H */

#include <lttng/tracepoint-event.h>
