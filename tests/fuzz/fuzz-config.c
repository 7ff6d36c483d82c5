/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the parsers of libpytrace's configuration, which read outside input (the
 * PYTRACE_* environment and the filter strings of the attach options): pt_parse_mode(),
 * pt_parse_bool(), pt_parse_depth(), pt_glob_parse() and pt_glob_match().
 *
 * Input: newline-separated fields, any of them missing:
 *   mode \n bool \n depth \n filter \n module \n module...
 * Besides "no crash, no leak, no undefined behaviour" it checks what a parse promises: a depth
 * accepted is at most 1000000 and is the number written; a filter accepted matches each of its
 * own items that contains no glob character; a filter rejected is -EINVAL.
 */
#include "fuzz.h"
#include "internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 8

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Every rejected input would print a warning: the parsers are what is fuzzed, not stderr. */
	setenv("PYTRACE_LOG", "none", 1);
	return 0;
}

/* Each item of @spec without glob characters, trimmed as the parser trims, matches @g. */
static void check_literals(const struct pt_glob *g, const char *spec)
{
	const char *p = spec;

	for (;;) {
		const char *end = strchr(p, ',');
		const char *b = p, *e = end ? end : p + strlen(p);

		while (b < e && (*b == ' ' || (*b >= '\t' && *b <= '\r'))) {
			b++;
		}
		while (e > b && (e[-1] == ' ' || (e[-1] >= '\t' && e[-1] <= '\r'))) {
			e--;
		}
		if (b < e && *b != ':' && !memchr(b, '*', (size_t)(e - b)) &&
		    !memchr(b, '?', (size_t)(e - b)) && !memchr(b, '[', (size_t)(e - b))) {
			char *item = strndup(b, (size_t)(e - b));

			if (item && !pt_glob_match(g, item)) {
				abort(); /* a filter must match its own literal items */
			}
			free(item);
		}
		if (!end) {
			break;
		}
		p = end + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *fields[MAX_FIELDS] = { 0 };
	size_t n = 0;
	enum pt_mode mode;
	unsigned int depth;
	struct pt_glob *g = NULL;
	bool b;
	int err;

	if (!buf) {
		return 0;
	}
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (char *p = buf; n < MAX_FIELDS; n++) {
		fields[n] = p;
		p = strchr(p, '\n');
		if (!p) {
			n++;
			break;
		}
		*p++ = '\0';
	}

	if (n > 0) {
		pt_parse_mode(fields[0], "fuzz", &mode);
	}
	if (n > 1) {
		pt_parse_bool(fields[1], "fuzz", &b);
	}
	if (n > 2 && pt_parse_depth(fields[2], "fuzz", &depth) == 0) {
		if (depth > 1000000 || depth != strtoul(fields[2], NULL, 10)) {
			abort();
		}
	}
	if (n > 3) {
		err = pt_glob_parse(fields[3], "fuzz", &g);
		if (err != 0 && err != -EINVAL) {
			abort();
		}
		if (g) {
			check_literals(g, fields[3]);
			for (size_t i = 4; i < n; i++) {
				pt_glob_match(g, fields[i]);
			}
			pt_glob_free(g);
		}
	}
	free(buf);
	return 0;
}
