/* SPDX-License-Identifier: MIT */
/*
 * A call site of `lttng_python:event`, the event of the official Python agent, whose provider is
 * liblttng-ust-python-agent.so.1 (not libpytrace: this header creates no probe, so libpytrace
 * never registers a second `lttng_python` provider). lttng-ust connects every site of an event
 * to the probes of its provider, so this site's `state` tells cheaply whether a session enables
 * the event and its probes which sessions record it (logging.c). The records themselves are
 * written by the agent library's py_tracepoint().
 *
 * The arguments must be the agent's, character for character: lttng-ust compares the
 * stringified argument lists (the "signature") and leaves a site with another signature
 * disconnected. These are lttng-ust 2.13's (src/lib/lttng-ust-python-agent/lttng_ust_python.h).
 *
 * Deliberately no <lttng/tracepoint-event.h> at the end: that is what would create probes.
 */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER lttng_python

#if !defined(PYTRACE_TP_LTTNG_PYTHON_SITE_H)
#define PYTRACE_TP_LTTNG_PYTHON_SITE_H

#include <lttng/tracepoint.h>

LTTNG_UST_TRACEPOINT_EVENT(lttng_python, event,
	LTTNG_UST_TP_ARGS(
		const char *, asctime,
		const char *, msg,
		const char *, logger_name,
		const char *, funcName,
		int, lineno,
		int, int_loglevel,
		int, thread,
		const char *, threadName
	),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(asctime, asctime)
		lttng_ust_field_string(msg, msg)
		lttng_ust_field_string(logger_name, logger_name)
		lttng_ust_field_string(funcName, funcName)
		lttng_ust_field_integer(int, lineno, lineno)
		lttng_ust_field_integer(int, int_loglevel, int_loglevel)
		lttng_ust_field_integer(int, thread, thread)
		lttng_ust_field_string(threadName, threadName)
	)
)

#endif /* PYTRACE_TP_LTTNG_PYTHON_SITE_H */
