/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: pt_traceparent_parse(), which reads a header every client of a server
 * controls. The input is the header's bytes, not NUL-terminated (the parser must stay within
 * them). Besides "no crash, no overread, no undefined behaviour" it checks what a parse promises:
 * an accepted header gives 32 and 16 lowercase hex digits, not all zero, that appear in the
 * input at their place; a rejected one gives empty strings.
 */
#define _GNU_SOURCE /* memmem() */
#include "fuzz.h"
#include "traceparent.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check_hex(const char *s, size_t n)
{
	size_t zeros = 0;

	if (strlen(s) != n) {
		abort();
	}
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			abort();
		}
		zeros += s[i] == '0';
	}
	if (zeros == n) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly @size bytes on the heap: ASan catches a read past them. */
	char *buf = malloc(size ? size : 1);
	struct pt_traceparent tp;

	if (!buf) {
		return 0;
	}
	memcpy(buf, data, size);
	if (pt_traceparent_parse(buf, size, &tp) == 0) {
		check_hex(tp.trace_id, 32);
		check_hex(tp.parent_id, 16);
		if (!memmem(buf, size, tp.trace_id, 32) || !memmem(buf, size, tp.parent_id, 16)) {
			abort();
		}
	} else if (tp.trace_id[0] || tp.parent_id[0] || tp.flags) {
		abort();
	}
	free(buf);
	return 0;
}
