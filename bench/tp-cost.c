/* SPDX-License-Identifier: MIT */
/*
 * pytrace-bench-tp-cost: the cost of one pytrace_bench:function__entry event (the payload layout
 * of python:function__entry) fired from C in a loop, to read the tables with: a tracer writing
 * two such events per Python call cannot cost less than twice this. Run it with a session
 * enabling pytrace_bench:* (recording) or without (disabled tracepoint).
 *
 *   pytrace-bench-tp-cost [EVENTS]      prints "<ns per event, realistic strings> <ns, empty>"
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "floor-tp.h"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double per_event(long n, const char *file, const char *name, const char *qual,
			const char *mod)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		lttng_ust_tracepoint(pytrace_bench, function__entry, file, name, 1, qual, mod, 0,
				     1234, 5678);
	}
	return (now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;

	if (n <= 0) {
		fprintf(stderr, "usage: pytrace-bench-tp-cost [EVENTS]\n");
		return 2;
	}
	/* A path, a method name, its qualified name and a module, as python:* events carry. */
	double full = per_event(n, "/usr/lib/python3.11/logging/__init__.py", "handle",
				"Logger.handle", "logging");
	double empty = per_event(n, "", "", "", "");

	printf("%.1f %.1f\n", full, empty);
	return 0;
}
