/* SPDX-License-Identifier: MIT */
/*
 * Spans and marks: pytrace_span_begin(), pytrace_span_end(), pytrace_mark() (events
 * python:span_begin, python:span_end, python:mark; docs/events.md, "Spans and marks").
 *
 * No Python, no GIL, no lock: a span id comes from one atomic counter, and the attributes are
 * encoded (only while a session enables the event) into a JSON object on the heap. lttng-ust 2.13
 * has no array-of-strings field; one JSON string is what babeltrace2 prints and Trace Compass
 * shows as it is, and any consumer parses with its standard library. The encoder is the few lines
 * of RFC 8259 string escaping below rather than a new dependency (jansson) of libpytrace: the
 * input is UTF-8 by contract, so only `"`, `\` and control characters need escaping.
 */
#include "internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pytrace/pytrace.h>

#include "tp/python-tp.h"

static uint64_t last_span_id;

/* The letter of @c's two-character JSON escape (`\n`...), or 0 if it has none. */
static char short_escape(unsigned char c)
{
	switch (c) {
	case '"':
		return '"';
	case '\\':
		return '\\';
	case '\n':
		return 'n';
	case '\t':
		return 't';
	case '\r':
		return 'r';
	case '\b':
		return 'b';
	case '\f':
		return 'f';
	default:
		return 0;
	}
}

/* Bytes @s takes as the inside of a JSON string. */
static size_t json_len(const char *s)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		n += short_escape(*p) ? 2 : *p < 0x20 ? 6 : 1; /* 6: \u00XX */
	}
	return n;
}

/* Writes @s as a JSON string at @out; returns the end. */
static char *json_put(char *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	*out++ = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc = short_escape(*p);

		if (esc) {
			*out++ = '\\';
			*out++ = esc;
		} else if (*p < 0x20) {
			memcpy(out, "\\u00", 4);
			out[4] = hex[*p >> 4];
			out[5] = hex[*p & 0xf];
			out += 6;
		} else {
			*out++ = (char)*p;
		}
	}
	*out++ = '"';
	return out;
}

/* `{"k1":"v1","k2":"v2"}` (malloc'ed), or NULL when memory runs out. */
static char *attrs_json(const char *const *keys, const char *const *values, size_t n)
{
	size_t len = 3; /* {} and NUL */
	char *buf, *p;

	for (size_t i = 0; i < n; i++) {
		len += json_len(keys[i]) + json_len(values[i]) + 6; /* "":"", */
	}
	buf = malloc(len);
	if (!buf) {
		return NULL;
	}
	p = buf;
	*p++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i) {
			*p++ = ',';
		}
		p = json_put(p, keys[i]);
		*p++ = ':';
		p = json_put(p, values[i]);
	}
	*p++ = '}';
	*p = '\0';
	return buf;
}

static int check_attrs(const char *func, const char *const *keys, const char *const *values,
		       size_t n)
{
	if (n && (!keys || !values)) {
		pt_warn("%s: n_attrs=%zu but keys=%p, values=%p", func, n, (const void *)keys,
			(const void *)values);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!keys[i] || !values[i]) {
			pt_warn("%s: attribute %zu has a NULL %s", func, i, keys[i] ? "value" : "key");
			return -EINVAL;
		}
	}
	return 0;
}

int pytrace_span_begin(const char *name, const char *const *keys, const char *const *values,
		       size_t n_attrs, uint64_t *id)
{
	char *attrs;
	int err;

	if (!id || !name) {
		pt_warn("pytrace_span_begin: %s is NULL", id ? "name" : "id");
		return -EINVAL;
	}
	err = check_attrs("pytrace_span_begin", keys, values, n_attrs);
	if (err) {
		return err;
	}
	*id = __atomic_add_fetch(&last_span_id, 1, __ATOMIC_RELAXED);
	if (lttng_ust_tracepoint_enabled(python, span_begin)) {
		attrs = attrs_json(keys, values, n_attrs);
		if (!attrs) {
			return -ENOMEM;
		}
		lttng_ust_do_tracepoint(python, span_begin, name, *id, attrs, pt_gettid());
		free(attrs);
	}
	return 0;
}

int pytrace_span_end(const char *name, uint64_t id)
{
	if (!name || !id) {
		pt_warn("pytrace_span_end: %s", name ? "id is 0" : "name is NULL");
		return -EINVAL;
	}
	lttng_ust_tracepoint(python, span_end, name, id, pt_gettid());
	return 0;
}

int pytrace_mark(const char *name, const char *const *keys, const char *const *values,
		 size_t n_attrs)
{
	char *attrs;
	int err;

	if (!name) {
		pt_warn("pytrace_mark: name is NULL");
		return -EINVAL;
	}
	err = check_attrs("pytrace_mark", keys, values, n_attrs);
	if (err) {
		return err;
	}
	if (lttng_ust_tracepoint_enabled(python, mark)) {
		attrs = attrs_json(keys, values, n_attrs);
		if (!attrs) {
			return -ENOMEM;
		}
		lttng_ust_do_tracepoint(python, mark, name, attrs, pt_gettid());
		free(attrs);
	}
	return 0;
}
