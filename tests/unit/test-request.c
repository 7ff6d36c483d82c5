/* SPDX-License-Identifier: MIT */
/*
 * pytrace_request_begin(), pytrace_request_end(), pytrace_request_id(): the argument contract,
 * without a session (tests/python/test_flask.py reads the events back). No interpreter, no GIL.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <pytrace/pytrace.h>

/* Whatever the request, nothing records: no allocation, a NULL request, and a valid end. */
Test(request, nothing_recording_gives_null)
{
	PYTRACE_OPTS(pytrace_request_opts, o, .method = "GET", .path = "/", .endpoint = "index",
		     .rule = "/", .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-"
						 "00f067aa0ba902b7-01");
	struct pytrace_request *req = (struct pytrace_request *)&o;

	cr_assert_eq(pytrace_request_begin(&o, &req), 0);
	cr_assert_null(req);
	cr_assert_eq(pytrace_request_id(req), 0);
	cr_assert_eq(pytrace_request_end(req, 200, NULL), 0);
	cr_assert_eq(pytrace_request_end(NULL, 500, "ValueError"), 0);
}

Test(request, null_opts_is_an_empty_request)
{
	struct pytrace_request *req = NULL;

	cr_assert_eq(pytrace_request_begin(NULL, &req), 0);
	cr_assert_eq(pytrace_request_end(req, 0, NULL), 0);
}

Test(request, null_req_is_einval)
{
	PYTRACE_OPTS(pytrace_request_opts, o, .method = "GET");

	cr_assert_eq(pytrace_request_begin(&o, NULL), -EINVAL);
	cr_assert_eq(pytrace_request_begin(NULL, NULL), -EINVAL);
}

/* The sz contract: a smaller struct (an older caller), the same, a larger one whose tail is zero,
 * and a larger one with a non-zero tail (a newer caller asking for what we cannot do). */
Test(request, opts_sz_contract)
{
	struct {
		struct pytrace_request_opts o;
		uint64_t tail;
	} big;
	struct pytrace_request *req = (struct pytrace_request *)&big;

	memset(&big, 0, sizeof(big));
	big.o.sz = sizeof(size_t) + sizeof(const char *); /* sz and method only */
	big.o.method = "GET";
	cr_assert_eq(pytrace_request_begin(&big.o, &req), 0);
	cr_assert_null(req);

	big.o.sz = sizeof(big.o);
	cr_assert_eq(pytrace_request_begin(&big.o, &req), 0);

	big.o.sz = sizeof(big);
	cr_assert_eq(pytrace_request_begin(&big.o, &req), 0);
	big.tail = 1;
	req = (struct pytrace_request *)&big;
	cr_assert_eq(pytrace_request_begin(&big.o, &req), -EINVAL);
	cr_assert_null(req, "*req is NULL after an error");

	big.o.sz = 0;
	cr_assert_eq(pytrace_request_begin(&big.o, &req), -EINVAL);
}

/* Without a session nothing would be recorded; the lab records need the agent library, which the
 * test suite installs (liblttng-ust-python-agent1): loading it is not an error. */
Test(request, recording_is_false_without_a_session)
{
	cr_assert_eq(pytrace_request_recording(false), 0);
	cr_assert_eq(pytrace_request_recording(true), 0);
}

Test(request, lab_logger_without_a_session_gives_null)
{
	PYTRACE_OPTS(pytrace_request_opts, o, .method = "GET", .path = "/", .lab_logger = "app",
		     .thread_name = "worker-1");
	struct pytrace_request *req = (struct pytrace_request *)&o;

	cr_assert_eq(pytrace_request_begin(&o, &req), 0);
	cr_assert_null(req);
}
