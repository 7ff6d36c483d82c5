/* SPDX-License-Identifier: MIT */
/*
 * W3C Trace Context: the `traceparent` header of an incoming request (Trace Context Level 1,
 * section 3.2), for the request events (request.c). Pure and reentrant: no allocation, no
 * Python, no LTTng (tests/unit/test-request.c and tests/fuzz/fuzz-traceparent.c use it alone).
 *
 *   traceparent = version "-" trace-id "-" parent-id "-" trace-flags
 *   00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
 *
 * Lowercase hex only; version ff, an all-zero trace-id or parent-id make the header invalid. A
 * version above 00 may append fields after a `-` (forward compatibility): the known prefix is
 * taken, as the specification asks. Surrounding spaces and tabs (HTTP optional whitespace) are
 * ignored.
 */
#include "traceparent.h"

#include <stdbool.h>
#include <string.h>

static bool lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return true;
}

static bool all_zero(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '0') {
			return false;
		}
	}
	return true;
}

int pt_traceparent_parse(const char *s, size_t len, struct pt_traceparent *out)
{
	enum { V = 0, T = 3, P = 36, F = 53, END = 55 };

	memset(out, 0, sizeof(*out));
	if (!s) {
		return -1;
	}
	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
		len--;
	}
	if (len < END || !lower_hex(s + V, 2) || s[V + 2] != '-' || !lower_hex(s + T, 32) ||
	    s[T + 32] != '-' || !lower_hex(s + P, 16) || s[P + 16] != '-' || !lower_hex(s + F, 2)) {
		return -1;
	}
	if (!memcmp(s, "ff", 2) || all_zero(s + T, 32) || all_zero(s + P, 16)) {
		return -1;
	}
	/* Version 00 has exactly these fields; a later one may add "-..." after them. */
	if (len > END && (!memcmp(s, "00", 2) || s[END] != '-')) {
		return -1;
	}
	memcpy(out->trace_id, s + T, 32);
	memcpy(out->parent_id, s + P, 16);
	out->flags = (unsigned char)((s[F] <= '9' ? s[F] - '0' : s[F] - 'a' + 10) << 4 |
				     (s[F + 1] <= '9' ? s[F + 1] - '0' : s[F + 1] - 'a' + 10));
	return 0;
}
