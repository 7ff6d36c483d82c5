/* SPDX-License-Identifier: MIT */
/*
 * Tracepoint provider `pytrace_bench`: used only by the benchmark floor (floor.c). Its two events
 * have the payload layout of libpytrace's python:function__entry / function__return
 * (libpytrace/tp/python-tp.h: four strings, a line number, a kind enum, tid, interp), so that
 * "empty hook + two of these per call" is what a tracer writing that layout cannot go below.
 */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER pytrace_bench

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "floor-tp.h"

#if !defined(PYTRACE_BENCH_FLOOR_TP_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define PYTRACE_BENCH_FLOOR_TP_H

#include <stdint.h>

#include <lttng/tracepoint.h>

LTTNG_UST_TRACEPOINT_ENUM(pytrace_bench, entry_kind,
	LTTNG_UST_TP_ENUM_VALUES(
		lttng_ust_field_enum_value("call", 0)
		lttng_ust_field_enum_value("resume", 1)
	)
)

LTTNG_UST_TRACEPOINT_ENUM(pytrace_bench, return_kind,
	LTTNG_UST_TP_ENUM_VALUES(
		lttng_ust_field_enum_value("return", 0)
		lttng_ust_field_enum_value("yield", 1)
		lttng_ust_field_enum_value("unwind", 2)
	)
)

LTTNG_UST_TRACEPOINT_EVENT(pytrace_bench, function__entry,
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
		lttng_ust_field_enum(pytrace_bench, entry_kind, int, kind, kind)
		lttng_ust_field_integer(int32_t, tid, tid)
		lttng_ust_field_integer(int64_t, interp, interp)
	)
)

LTTNG_UST_TRACEPOINT_EVENT(pytrace_bench, function__return,
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
		lttng_ust_field_enum(pytrace_bench, return_kind, int, kind, kind)
		lttng_ust_field_integer(int32_t, tid, tid)
		lttng_ust_field_integer(int64_t, interp, interp)
	)
)

#endif /* PYTRACE_BENCH_FLOOR_TP_H */

#include <lttng/tracepoint-event.h>
