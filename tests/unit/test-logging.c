/* SPDX-License-Identifier: MIT */
/*
 * pytrace_logging_enable()/pytrace_logging_disable(), the `logging` attach option and
 * PYTRACE_LOGGING, and the `_libpytrace` module: arguments, errors, idempotence, and what the
 * program sees with no session recording Python events (no handler on the root logger, its
 * level untouched). Real CPython and the real agent library; recording is checked by
 * tests/integration/logging. GIL held by the test thread.
 */
#include "unit.h"

TestSuite(logging, .init = py_init, .fini = py_fini);

#define ROOT_UNTOUCHED                                                                             \
	"__import__('logging').getLogger().handlers == [] and "                                  \
	"__import__('logging').getLogger().level == 30"

Test(logging, bad_arguments)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	assert_call(pytrace_logging_enable(NULL), -EINVAL);
	assert_call(pytrace_logging_disable(NULL), -EINVAL);
	assert_call(pytrace_logging_enable(interp), -ENOENT);
	assert_call(pytrace_logging_disable(interp), -ENOENT);
}

Test(logging, enable_disable_idempotent)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	assert_call(pytrace_attach(interp, NULL), 0);
	cr_assert(py_true("not __import__('_libpytrace').logging_enabled()"));
	assert_call(pytrace_logging_disable(interp), 0);
	assert_call(pytrace_logging_enable(interp), 0);
	assert_call(pytrace_logging_enable(interp), 0);
	cr_assert(py_true("__import__('_libpytrace').logging_enabled()"));
	/* Nobody records lttng_python:event: nothing on the root logger. */
	cr_assert(py_true(ROOT_UNTOUCHED));
	assert_call(pytrace_logging_disable(interp), 0);
	assert_call(pytrace_logging_disable(interp), 0);
	cr_assert(py_true("not __import__('_libpytrace').logging_enabled()"));
	assert_call(pytrace_detach(interp), 0);
	assert_call(pytrace_logging_enable(interp), -ENOENT);
}

Test(logging, attach_option_and_module)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	PYTRACE_OPTS(pytrace_attach_opts, opts, .logging = true);

	cr_assert(py_true("'_libpytrace' not in __import__('sys').modules"));
	assert_call(pytrace_attach(interp, &opts), 0);
	cr_assert(py_true("__import__('_libpytrace').logging_enabled()"));
	py_run("import _libpytrace, logging\n"
	       "T = _libpytrace.handler_type()\n"
	       "assert issubclass(T, logging.Handler) and T.__module__ == '_libpytrace'\n"
	       "h = T()\n"
	       "assert h.level == 0 and h.formatter._fmt == '%(asctime)s'\n"
	       "r = logging.LogRecord('n', 20, 'f.py', 1, 'm %s', ('x',), None)\n"
	       "assert h.handle(r) and h.emit(r) is None\n" /* no session: nothing recorded */
	       "_libpytrace.logging_disable()\n"
	       "assert not _libpytrace.logging_enabled()\n");
	cr_assert(py_true(ROOT_UNTOUCHED));
	assert_call(pytrace_detach(interp), 0);
	cr_assert(py_true("'_libpytrace' not in __import__('sys').modules"));
}

Test(logging, variable_overrides_option)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	PYTRACE_OPTS(pytrace_attach_opts, opts, .logging = true);

	setenv("PYTRACE_LOGGING", "0", 1);
	assert_call(pytrace_attach(interp, &opts), 0);
	cr_assert(py_true("not __import__('_libpytrace').logging_enabled()"));
	assert_call(pytrace_detach(interp), 0);
	setenv("PYTRACE_LOGGING", "on", 1);
	assert_call(pytrace_attach(interp, NULL), 0);
	cr_assert(py_true("__import__('_libpytrace').logging_enabled()"));
	assert_call(pytrace_detach(interp), 0);
	setenv("PYTRACE_LOGGING", "perhaps", 1);
	assert_call(pytrace_attach(interp, NULL), -EINVAL);
	assert_call(pytrace_detach(interp), -ENOENT);
	unsetenv("PYTRACE_LOGGING");
}

Test(logging, older_caller_gets_no_logging)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	PYTRACE_OPTS(pytrace_attach_opts, opts, .logging = true);

	/* A 0.2 caller's struct ends at max_depth: the byte of `logging` is not read. */
	opts.sz = offsetof(struct pytrace_attach_opts, logging);
	assert_call(pytrace_attach(interp, &opts), 0);
	cr_assert(py_true("not __import__('_libpytrace').logging_enabled()"));
	assert_call(pytrace_detach(interp), 0);
}
