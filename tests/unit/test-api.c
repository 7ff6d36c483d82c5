/* SPDX-License-Identifier: MIT */
/*
 * The contract of pytrace.h, on the calling thread: version, attach/detach life cycle and its
 * errors, foreign profilers (-EBUSY: profile functions up to 3.11, sys.monitoring tool ids from
 * 3.12 on; see unit.h for the two backends), an interpreter that refuses (-EIO), the caller's
 * pending exception, and finalization while attached. Real CPython, GIL held by the test thread
 * (see unit.h); thread, GIL and sub-interpreter rules are in test-threads.c, options in
 * test-opts.c.
 */
#include "unit.h"

#include <pytrace/version.h>

TestSuite(version);

Test(version, matches_the_headers)
{
	const char *v = pytrace_version();
	char expect[64];

	cr_assert_not_null(v);
	cr_assert_str_eq(v, PYTRACE_VERSION_STRING);
	snprintf(expect, sizeof(expect), "%d.%d.%d", PYTRACE_VERSION_MAJOR, PYTRACE_VERSION_MINOR,
		 PYTRACE_VERSION_PATCH);
	cr_assert_str_eq(v, expect);
	/* A static string: the same pointer every time, no interpreter needed. */
	cr_assert_eq(pytrace_version(), v);
	cr_assert_not(Py_IsInitialized());
}

TestSuite(api, .init = py_init, .fini = py_fini);

Test(api, null_interp_is_einval)
{
	PYTRACE_OPTS(pytrace_attach_opts, opts);

	assert_call(pytrace_attach(NULL, NULL), -EINVAL);
	assert_call(pytrace_attach(NULL, &opts), -EINVAL);
	assert_call(pytrace_detach(NULL), -EINVAL);
	/* NULL did not attach anything by accident. */
	cr_assert(py_true(PY_UNTRACED));
	assert_call(pytrace_detach(PyInterpreterState_Get()), -ENOENT);
}

Test(api, attach_installs_and_detach_removes)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	cr_assert(py_true(PY_UNTRACED));
	assert_call(pytrace_attach(interp, NULL), 0);
	cr_assert(py_true(PY_TRACED));
	cr_assert_eq(hooked(), 1);
#if UNIT_MONITORING
	/* sys.monitoring covers every thread: the profile hooks stay the program's. */
	cr_assert(py_true("__import__('sys').getprofile() is None"));
	cr_assert(py_true(THREADING_PROFILE " is None"));
#else
	cr_assert(py_true(THREADING_PROFILE " is not None"));
#endif
	/* Python code runs normally under the hook. */
	py_run("import json\n"
	       "assert json.loads(json.dumps([1, {'a': (2, 3)}])) == [1, {'a': [2, 3]}]");
	assert_call(pytrace_detach(interp), 0);
	cr_assert(py_true(PY_UNTRACED));
	cr_assert_eq(hooked(), 0);
	cr_assert(py_true(THREADING_PROFILE " is None"));
	cr_assert_null(PyThreadState_Get()->c_tracefunc, "the exception hook was left installed");
}

Test(api, attach_twice_is_ealready)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	PYTRACE_OPTS(pytrace_attach_opts, opts, .c_calls = true);

	assert_call(pytrace_attach(interp, NULL), 0);
	assert_call(pytrace_attach(interp, NULL), -EALREADY);
	assert_call(pytrace_attach(interp, &opts), -EALREADY);
	/* The failed attach left the first one in place. */
	cr_assert(py_true(PY_TRACED));
	assert_call(pytrace_detach(interp), 0);
	assert_call(pytrace_detach(interp), -ENOENT);
	cr_assert(py_true(PY_UNTRACED));
}

Test(api, detach_unattached_is_enoent)
{
	assert_call(pytrace_detach(PyInterpreterState_Get()), -ENOENT);
}

Test(api, attach_detach_cycles)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	/* Each cycle must give back what it took (registry entry, code-extra index, hooks). */
	for (int i = 0; i < 1000; i++) {
		int ret = pytrace_attach(interp, NULL);

		cr_assert_eq(ret, 0, "attach #%d returned %d", i, ret);
		cr_assert(py_true(PY_TRACED), "cycle %d", i);
		ret = pytrace_detach(interp);
		cr_assert_eq(ret, 0, "detach #%d returned %d", i, ret);
		cr_assert(py_true(PY_UNTRACED), "cycle %d", i);
		assert_no_pyerr();
	}
}

/* Sets a pending ValueError, runs @call, and checks it returned @expected and kept that error.
 * The value compared is the one the interpreter holds: the message string up to 3.11, the
 * exception instance PyErr_SetObject() already creates from 3.12 on. */
#define assert_keeps_pending_error(call, expected)                                                 \
	do {                                                                                       \
		PyObject *type_, *value_, *tb_, *type0_, *value0_, *tb0_;                          \
		PyObject *msg_ = PyUnicode_FromString("the caller's own error");                   \
		int ret_;                                                                          \
		cr_assert_not_null(msg_);                                                          \
		PyErr_SetObject(PyExc_ValueError, msg_);                                           \
		Py_DECREF(msg_);                                                                   \
		PyErr_Fetch(&type0_, &value0_, &tb0_);                                             \
		Py_XINCREF(type0_);                                                                \
		Py_XINCREF(value0_);                                                               \
		Py_XINCREF(tb0_);                                                                  \
		PyErr_Restore(type0_, value0_, tb0_);                                              \
		ret_ = (call);                                                                     \
		cr_assert_eq(ret_, (expected), "%s returned %d, expected %d", #call, ret_,         \
			     (expected));                                                          \
		PyErr_Fetch(&type_, &value_, &tb_);                                                \
		cr_assert_eq(type_, PyExc_ValueError, "%s replaced the pending exception", #call); \
		cr_assert_eq(value_, value0_, "%s replaced the pending exception value", #call);   \
		Py_XDECREF(type_);                                                                 \
		Py_XDECREF(value_);                                                                \
		Py_XDECREF(tb_);                                                                   \
		Py_XDECREF(type0_);                                                                \
		Py_XDECREF(value0_);                                                               \
		Py_XDECREF(tb0_);                                                                  \
		assert_no_pyerr();                                                                 \
	} while (0)

Test(api, pending_exception_is_preserved)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	assert_keeps_pending_error(pytrace_attach(interp, NULL), 0);
	cr_assert(py_true(PY_TRACED));
	assert_keeps_pending_error(pytrace_attach(interp, NULL), -EALREADY);
	assert_keeps_pending_error(pytrace_thread_attach(), 0);
	assert_keeps_pending_error(pytrace_detach(interp), 0);
	cr_assert(py_true(PY_UNTRACED));
	assert_keeps_pending_error(pytrace_detach(interp), -ENOENT);
	assert_keeps_pending_error(pytrace_thread_attach(), -ENOENT);
	assert_keeps_pending_error(pytrace_attach(NULL, NULL), -EINVAL);
}

Test(api, pending_exception_is_preserved_on_failure)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	block_hooks();
	assert_keeps_pending_error(pytrace_attach(interp, NULL), -EBUSY);
	unblock_hooks();

	py_run(PY_BREAK_HOOKS);
	assert_keeps_pending_error(pytrace_attach(interp, NULL), -EIO);
	py_run(PY_FIX_HOOKS);
	assert_call(pytrace_attach(interp, NULL), 0);
	assert_call(pytrace_detach(interp), 0);
}

#if !UNIT_MONITORING
Test(api, foreign_c_profile_is_ebusy)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	PyThreadState *ts = PyThreadState_Get();

	PyEval_SetProfile(dummy_profile, NULL);
	assert_call(pytrace_attach(interp, NULL), -EBUSY);
	/* The program's profiler is untouched and nothing of ours is left behind. */
	cr_assert_eq(ts->c_profilefunc, dummy_profile);
	cr_assert_null(ts->c_tracefunc);
	cr_assert(py_true(THREADING_PROFILE " is None"));
	assert_call(pytrace_detach(interp), -ENOENT);
	assert_call(pytrace_thread_attach(), -ENOENT);

	PyEval_SetProfile(NULL, NULL);
	assert_call(pytrace_attach(interp, NULL), 0);
	assert_call(pytrace_detach(interp), 0);
}

Test(api, foreign_python_profile_is_ebusy)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	py_run("import sys\nprof = lambda *a: None\nsys.setprofile(prof)");
	assert_call(pytrace_attach(interp, NULL), -EBUSY);
	cr_assert(py_true("sys.getprofile() is prof"));
	cr_assert(py_true(THREADING_PROFILE " is None"));
	py_run("sys.setprofile(None)");
	assert_call(pytrace_attach(interp, NULL), 0);
	assert_call(pytrace_detach(interp), 0);
}

Test(api, foreign_profile_on_another_thread_state_is_ebusy)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	PyThreadState *main_ts = PyThreadState_Get();
	PyThreadState *other = PyThreadState_New(interp);

	cr_assert_not_null(other);
	PyThreadState_Swap(other);
	PyEval_SetProfile(dummy_profile, NULL);
	PyThreadState_Swap(main_ts);

	assert_call(pytrace_attach(interp, NULL), -EBUSY);
	/* "On error nothing is left installed": not even on the threads checked first. */
	cr_assert_null(main_ts->c_profilefunc);
	cr_assert_null(main_ts->c_tracefunc);
	cr_assert_eq(other->c_profilefunc, dummy_profile);
	cr_assert(py_true(THREADING_PROFILE " is None"));

	PyThreadState_Clear(other);
	PyThreadState_Delete(other);
	assert_call(pytrace_attach(interp, NULL), 0);
	assert_call(pytrace_detach(interp), 0);
}

Test(api, threading_setprofile_is_ebusy)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	py_run("import threading\nthreading.setprofile(lambda *a: None)");
	assert_call(pytrace_attach(interp, NULL), -EBUSY);
	cr_assert(py_true(THREADING_PROFILE " is not None"));
	cr_assert(py_true(THREADING_PROFILE ".__name__ == '<lambda>'"));
	cr_assert(py_true("__import__('sys').getprofile() is None"));
	cr_assert_null(PyThreadState_Get()->c_tracefunc);
	assert_call(pytrace_detach(interp), -ENOENT);

	py_run("threading.setprofile(None)");
	assert_call(pytrace_attach(interp, NULL), 0);
	assert_call(pytrace_detach(interp), 0);
}
#else
Test(api, foreign_profilers_are_no_obstacle)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	PyThreadState *main_ts = PyThreadState_Get();
	PyThreadState *other = PyThreadState_New(interp);

	/* 3.12+: profile functions (C, Python, threading's, on any thread state) are other
	 * sys.monitoring tools. Attach and detach leave them as they are. */
	cr_assert_not_null(other);
	PyThreadState_Swap(other);
	PyEval_SetProfile(dummy_profile, NULL);
	PyThreadState_Swap(main_ts);
	py_run("import sys, threading\nprof = lambda *a: None\nsys.setprofile(prof)\n"
	       "tprof = lambda *a: None\nthreading.setprofile(tprof)");

	assert_call(pytrace_attach(interp, NULL), 0);
	cr_assert(py_true(PY_TRACED));
	cr_assert_eq(hooked(), 1);
	cr_assert(py_true("sys.getprofile() is prof"));
	cr_assert(py_true(THREADING_PROFILE " is tprof"));
	cr_assert_eq(other->c_profilefunc, dummy_profile);
	py_run("import json\njson.dumps([1])");
	assert_call(pytrace_detach(interp), 0);
	cr_assert(py_true(PY_UNTRACED));
	cr_assert(py_true("sys.getprofile() is prof"));
	cr_assert(py_true(THREADING_PROFILE " is tprof"));
	cr_assert_eq(other->c_profilefunc, dummy_profile);

	py_run("sys.setprofile(None)\nthreading.setprofile(None)");
	PyThreadState_Clear(other);
	PyThreadState_Delete(other);
}

Test(api, tool_ids_taken_is_ebusy)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	struct capture c;
	char *log;

	block_hooks();
	capture_begin(&c);
	assert_call(pytrace_attach(interp, NULL), -EBUSY);
	log = capture_end(&c);
	/* One line, naming the holders. */
	cr_assert_eq(count_lines(log), 1, "%s", log);
	cr_assert_not_null(strstr(log, "tool ids 3 and 4 are both in use (by 'other3' and "
				  "'other4')"), "%s", log);
	free(log);
	/* The other tools are untouched, nothing of ours is left. */
	cr_assert(py_true(PY_MON ".get_tool(3) == 'other3' and " PY_MON ".get_tool(4) == 'other4'"));
	cr_assert(py_true(PY_MON ".get_events(3) == 0 and " PY_MON ".get_events(4) == 0"));
	assert_call(pytrace_detach(interp), -ENOENT);
	assert_call(pytrace_thread_attach(), -ENOENT);

	/* One free id is enough: 4 when 3 is taken. */
	py_run("sys.monitoring.free_tool_id(4)");
	assert_call(pytrace_attach(interp, NULL), 0);
	cr_assert(py_true(PY_MON ".get_tool(4) == 'pytrace' and " PY_MON ".get_events(4) != 0"));
	cr_assert(py_true(PY_MON ".get_tool(3) == 'other3' and " PY_MON ".get_events(3) == 0"));
	assert_call(pytrace_detach(interp), 0);
	cr_assert(py_true(PY_MON ".get_tool(4) is None and " PY_MON ".get_tool(3) == 'other3'"));
	py_run("sys.monitoring.free_tool_id(3)");
	assert_call(pytrace_attach(interp, NULL), 0);
	cr_assert(py_true(PY_MON ".get_tool(3) == 'pytrace'"));
	assert_call(pytrace_detach(interp), 0);
}
#endif

Test(api, interpreter_refusal_is_eio)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	/* libpytrace needs `threading` to follow new threads (3.8-3.11), `sys.monitoring` (3.12+):
	 * make it unavailable. */
	py_run(PY_BREAK_HOOKS);
	assert_call(pytrace_attach(interp, NULL), -EIO);
	cr_assert(py_true("__import__('sys').getprofile() is None"));
	cr_assert_null(PyThreadState_Get()->c_tracefunc);
	assert_call(pytrace_detach(interp), -ENOENT);

	py_run(PY_FIX_HOOKS);
	cr_assert(py_true(PY_UNTRACED));
	assert_call(pytrace_attach(interp, NULL), 0);
	assert_call(pytrace_detach(interp), 0);
}

Test(api, program_profile_installed_after_attach_is_kept_at_detach)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	assert_call(pytrace_attach(interp, NULL), 0);
	py_run("import sys, threading\nprof = lambda *a: None\nsys.setprofile(prof)\n"
	       "tprof = lambda *a: None\nthreading.setprofile(tprof)");
	assert_call(pytrace_detach(interp), 0);
	cr_assert(py_true("sys.getprofile() is prof"));
	cr_assert(py_true(THREADING_PROFILE " is tprof"));
	cr_assert_null(PyThreadState_Get()->c_tracefunc, "the exception hook was left installed");
#if UNIT_MONITORING
	/* 3.12+: the program's profiler is another tool; both run. */
	assert_call(pytrace_attach(interp, NULL), 0);
	cr_assert(py_true("sys.getprofile() is prof"));
	assert_call(pytrace_detach(interp), 0);
#else
	/* The program's profiler now holds the thread. */
	assert_call(pytrace_attach(interp, NULL), -EBUSY);
#endif
	py_run("sys.setprofile(None)\nthreading.setprofile(None)");
	assert_call(pytrace_attach(interp, NULL), 0);
	assert_call(pytrace_detach(interp), 0);
}

Test(api, program_trace_function_is_not_displaced)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	py_run("import sys\ntr = lambda *a: None\nsys.settrace(tr)");
	assert_call(pytrace_attach(interp, NULL), 0);
	cr_assert(py_true("sys.gettrace() is tr"));
	cr_assert(py_true(PY_TRACED));
	assert_call(pytrace_detach(interp), 0);
	cr_assert(py_true("sys.gettrace() is tr"));
	py_run("sys.settrace(None)");
}

Test(api, finalize_while_attached)
{
	for (int i = 0; i < 3; i++) {
		PyInterpreterState *interp = PyInterpreterState_Get();

		assert_call(pytrace_attach(interp, NULL), 0);
		py_run("import json\njson.dumps({'x': [1, 2]})");
		cr_assert_eq(Py_FinalizeEx(), 0, "round %d", i);
		py_init();
		/* The finalized interpreter left the registry, although the new main interpreter
		 * may well have the same address. */
		interp = PyInterpreterState_Get();
		assert_call(pytrace_detach(interp), -ENOENT);
		assert_call(pytrace_attach(interp, NULL), 0);
		cr_assert(py_true(PY_TRACED));
		assert_call(pytrace_detach(interp), 0);
	}
	/* The last round leaves it attached for the fixture's Py_FinalizeEx(). */
	assert_call(pytrace_attach(PyInterpreterState_Get(), NULL), 0);
}

Test(api, atexit_handlers_are_still_traced)
{
	char path[] = "/tmp/pytrace-unit-XXXXXX";
	char code[512], got[64] = "";
	int fd = mkstemp(path);
	FILE *f;

	cr_assert_geq(fd, 0);
	close(fd);
	/* "Finalizing detaches implicitly, after the last Python code (atexit included) ran". */
	snprintf(code, sizeof(code),
		 "import atexit, sys\n"
		 "def at_exit():\n"
		 "    with open('%s', 'w') as f:\n"
		 "        f.write(" PY_TRACE_STATE ")\n"
		 "atexit.register(at_exit)\n",
		 path);
	py_run(code);
	assert_call(pytrace_attach(PyInterpreterState_Get(), NULL), 0);
	cr_assert_eq(Py_FinalizeEx(), 0);

	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(got, sizeof(got), f));
	fclose(f);
	unlink(path);
	cr_assert_str_eq(got, "ThreadState");
}
