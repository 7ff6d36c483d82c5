/* SPDX-License-Identifier: MIT */
/* The W3C `traceparent` header (traceparent.c). Hidden; no GIL, no state. */
#ifndef PYTRACE_TRACEPARENT_H
#define PYTRACE_TRACEPARENT_H

#include <stddef.h>

struct pt_traceparent {
	char trace_id[33];  /* 32 lowercase hex digits and NUL; "" if invalid */
	char parent_id[17]; /* 16 lowercase hex digits and NUL; "" if invalid */
	unsigned char flags;
};

/* Parses the @len bytes at @s (no NUL needed). 0, or -1 if it is not a valid traceparent
 * (then @out holds empty strings). @s may be NULL (-1). */
int pt_traceparent_parse(const char *s, size_t len, struct pt_traceparent *out);

#endif /* PYTRACE_TRACEPARENT_H */
