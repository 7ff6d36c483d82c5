/* SPDX-License-Identifier: MIT */
/*
 * The logging contract of pytrace.h: misuse returns -EINVAL and logs one line to stderr prefixed
 * `libpytrace:`; PYTRACE_LOG sets how much is logged. libpytrace reads PYTRACE_LOG once per
 * process, and Criterion runs each test in a fresh process, so each test sets it before the
 * first call. Real CPython, GIL held by the test thread.
 */
#include "unit.h"

TestSuite(log, .init = py_init, .fini = py_fini);

/* Runs @call with stderr captured; checks its return value and returns what it logged. */
#define logged_by(call, expected)                                                                  \
	({                                                                                         \
		struct capture c_;                                                                 \
		int ret_;                                                                          \
		capture_begin(&c_);                                                                \
		ret_ = (call);                                                                     \
		char *out_ = capture_end(&c_);                                                     \
		cr_assert_eq(ret_, (expected), "%s returned %d, expected %d", #call, ret_,         \
			     (expected));                                                          \
		if (_PyThreadState_UncheckedGet()) {                                               \
			assert_no_pyerr();                                                         \
		}                                                                                  \
		out_;                                                                              \
	})

static void assert_one_line(char *out, const char *what)
{
	cr_assert_eq(count_lines(out), 1, "%s logged %zu lines: \"%s\"", what, count_lines(out),
		     out);
	cr_assert_eq(strncmp(out, "libpytrace: ", strlen("libpytrace: ")), 0,
		     "%s logged \"%s\" without the prefix", what, out);
	free(out);
}

static void assert_silent(char *out, const char *what)
{
	cr_assert_str_eq(out, "", "%s logged \"%s\"", what, out);
	free(out);
}

Test(log, misuse_logs_one_line)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	struct pytrace_attach_opts bad = { .sz = 2 };
	PyThreadState *ts;

	unsetenv("PYTRACE_LOG");
	assert_one_line(logged_by(pytrace_attach(NULL, NULL), -EINVAL), "attach(NULL)");
	assert_one_line(logged_by(pytrace_detach(NULL), -EINVAL), "detach(NULL)");
	assert_one_line(logged_by(pytrace_attach(interp, &bad), -EINVAL), "attach(sz=2)");

	ts = PyEval_SaveThread();
	assert_one_line(logged_by(pytrace_attach(interp, NULL), -EINVAL), "attach without GIL");
	assert_one_line(logged_by(pytrace_detach(interp), -EINVAL), "detach without GIL");
	assert_one_line(logged_by(pytrace_thread_attach(), -EINVAL), "thread_attach without GIL");
	PyEval_RestoreThread(ts);
}

Test(log, success_is_silent)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	unsetenv("PYTRACE_LOG");
	assert_silent(logged_by(pytrace_attach(interp, NULL), 0), "attach");
	assert_silent(logged_by(pytrace_thread_attach(), 0), "thread_attach");
	assert_silent(logged_by(pytrace_detach(interp), 0), "detach");
}

Test(log, level_none_is_silent)
{
	setenv("PYTRACE_LOG", "none", 1);
	assert_silent(logged_by(pytrace_attach(NULL, NULL), -EINVAL), "attach(NULL)");
	assert_silent(logged_by(pytrace_detach(NULL), -EINVAL), "detach(NULL)");
}

Test(log, level_error_hides_misuse_warnings)
{
	setenv("PYTRACE_LOG", "error", 1);
	assert_silent(logged_by(pytrace_attach(NULL, NULL), -EINVAL), "attach(NULL)");
}

Test(log, unknown_level_is_reported_and_warn_is_used)
{
	char *out;

	setenv("PYTRACE_LOG", "loud", 1);
	out = logged_by(pytrace_attach(NULL, NULL), -EINVAL);
	/* One line about the variable, then the misuse itself at the default level. */
	cr_assert_eq(count_lines(out), 2, "logged \"%s\"", out);
	cr_assert_not_null(strstr(out, "PYTRACE_LOG=loud"), "logged \"%s\"", out);
	cr_assert_not_null(strstr(strchr(out, '\n') + 1, "libpytrace: "), "logged \"%s\"", out);
	free(out);
}
