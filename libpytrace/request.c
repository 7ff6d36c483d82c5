/* SPDX-License-Identifier: MIT */
/*
 * HTTP requests: pytrace_request_begin(), pytrace_request_end() (events python:request_entry,
 * python:request_exit; docs/events.md, "Requests"), and the Trace Compass lab's logging records
 * (`lttng_python:event`, funcName tracing_entry/tracing_exit) through logging.c.
 *
 * No Python, no GIL, no lock. A request is allocated only while a session enables one of its
 * events, so a server costs one load per event while nobody records; the events of a request
 * come in pairs because the end records only what the begin allocated.
 *
 * No string field is ever empty: "-" stands for none. babeltrace2 2.0.4 (Debian bookworm's, and
 * its Python bindings) reads an empty string field as the value that field had in the previous
 * event of the same class (fixed in 2.0.5, review.lttng.org/c/babeltrace/+/4528): a 404 would
 * show the endpoint of the request before it.
 */
#include "internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pytrace/pytrace.h>

#include "logging.h"
#include "traceparent.h"
#include "tp/python-tp.h"

#define LAB_LEVEL 20 /* logging.INFO, as the lab's app.logger.info() */

struct pytrace_request {
	uint64_t id;
	uint64_t start_ns; /* CLOCK_MONOTONIC, the clock of LTTng's timestamps */
	const char *method, *path, *endpoint, *rule;
	const char *lab_logger; /* NULL: no lab records */
	const char *thread_name;
	const char *lab_msg;
	char strings[]; /* the strings above, one after the other */
};

static uint64_t last_request_id;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* What a string field records for @s: never "", see above. */
static const char *field(const char *s)
{
	return s && *s ? s : "-";
}

static char *put(char *at, const char **dest, const char *s)
{
	size_t n = strlen(s) + 1;

	memcpy(at, s, n);
	*dest = at;
	return at + n;
}

static struct pytrace_request *request_new(const struct pytrace_request_opts *o, bool lab)
{
	const char *method = field(o->method), *path = field(o->path);
	const char *endpoint = field(o->endpoint), *rule = field(o->rule);
	const char *route = o->rule && *o->rule ? rule : path;
	size_t len = strlen(method) + strlen(path) + strlen(endpoint) + strlen(rule) + 4;
	struct pytrace_request *r;
	char *at;

	if (lab) {
		len += strlen(o->lab_logger) + 1 + strlen(method) + 1 + strlen(route) + 1;
		len += o->thread_name ? strlen(o->thread_name) + 1 : 0;
	}
	r = calloc(1, sizeof(*r) + len);
	if (!r) {
		return NULL;
	}
	at = put(r->strings, &r->method, method);
	at = put(at, &r->path, path);
	at = put(at, &r->endpoint, endpoint);
	at = put(at, &r->rule, rule);
	if (lab) {
		at = put(at, &r->lab_logger, o->lab_logger);
		if (o->thread_name) {
			at = put(at, &r->thread_name, o->thread_name);
		}
		/* "GET /users/<int:id>": the lab's analysis shows the message as the frame name. */
		r->lab_msg = at;
		at += sprintf(at, "%s %s", method, route);
	}
	return r;
}

int pytrace_request_recording(bool lab_records)
{
	if (lab_records && pt_logging_agent()) {
		return -ENOENT;
	}
	return lttng_ust_tracepoint_enabled(python, request_entry) ||
	       lttng_ust_tracepoint_enabled(python, request_exit) ||
	       (lab_records && pt_logging_tp_enabled());
}

int pytrace_request_begin(const struct pytrace_request_opts *opts, struct pytrace_request **req)
{
	struct pytrace_request_opts o;
	struct pt_traceparent tp;
	struct pytrace_request *r;
	bool entry, exit, lab = false;
	int err;

	if (!req) {
		pt_warn("pytrace_request_begin: req is NULL");
		return -EINVAL;
	}
	*req = NULL;
	err = pt_opts_copy("pytrace_request_begin", opts,
			   offsetofend(struct pytrace_request_opts,
				       pytrace_request_opts__last_field),
			   &o, sizeof(o));
	if (err) {
		return err;
	}
	if (o.lab_logger) {
		err = pt_logging_agent();
		if (err) {
			return err;
		}
		lab = pt_logging_tp_enabled();
	}
	entry = lttng_ust_tracepoint_enabled(python, request_entry);
	exit = lttng_ust_tracepoint_enabled(python, request_exit);
	if (!entry && !exit && !lab) {
		return 0;
	}
	r = request_new(&o, lab);
	if (!r) {
		return -ENOMEM;
	}
	r->id = __atomic_add_fetch(&last_request_id, 1, __ATOMIC_RELAXED);
	r->start_ns = now_ns();
	if (entry) {
		pt_traceparent_parse(o.traceparent, o.traceparent ? strlen(o.traceparent) : 0, &tp);
		lttng_ust_do_tracepoint(python, request_entry, r->id, r->method, r->path,
					r->endpoint, r->rule, field(tp.trace_id),
					field(tp.parent_id), pt_gettid());
	}
	if (lab) {
		pt_logging_record(r->lab_msg, r->lab_logger, "tracing_entry", LAB_LEVEL,
				  r->thread_name);
	}
	*req = r;
	return 0;
}

int pytrace_request_end(struct pytrace_request *req, int status, const char *error)
{
	if (!req) {
		return 0;
	}
	lttng_ust_tracepoint(python, request_exit, req->id, req->method, req->path, req->endpoint,
			     req->rule, status, now_ns() - req->start_ns, field(error),
			     pt_gettid());
	if (req->lab_logger) {
		pt_logging_record(req->lab_msg, req->lab_logger, "tracing_exit", LAB_LEVEL,
				  req->thread_name);
	}
	free(req);
	return 0;
}

uint64_t pytrace_request_id(const struct pytrace_request *req)
{
	return req ? req->id : 0;
}
