/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the Criterion unit tests: an interpreter fixture, Python one-liners evaluated
 * in __main__, and stderr capture. Criterion runs each test in its own process, so every test
 * starts without an interpreter; the fixture gives it one, held by the main thread (GIL held).
 */
#ifndef PYTRACE_TESTS_UNIT_H
#define PYTRACE_TESTS_UNIT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h> /* PyFrameObject: 3.8's Python.h does not declare it */

#if PY_VERSION_HEX < 0x03090000
#define PyInterpreterState_Get _PyInterpreterState_Get /* public from 3.9 on */
#endif

#include <criterion/criterion.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pytrace/pytrace.h>

/* threading.getprofile() as a Python expression: 3.8/3.9 have no such function; there the hook
 * is the module global that threading.setprofile() sets (and that libpytrace reads). */
#if PY_VERSION_HEX >= 0x030A0000
#define THREADING_PROFILE "__import__('threading').getprofile()"
#else
#define THREADING_PROFILE "__import__('threading')._profile_hook"
#endif

static inline void py_init(void)
{
	Py_InitializeEx(0);
	cr_assert(Py_IsInitialized(), "Py_InitializeEx failed");
}

static inline void py_fini(void)
{
	/* A test that failed half-way may leave an error or a released GIL behind. */
	if (Py_IsInitialized() && _PyThreadState_UncheckedGet()) {
		PyErr_Clear();
		Py_FinalizeEx();
	}
}

/* Evaluates @expr in __main__ of the current interpreter and returns its truth value. */
static inline bool py_true(const char *expr)
{
	PyObject *main_dict = PyModule_GetDict(PyImport_AddModule("__main__"));
	PyObject *res = PyRun_String(expr, Py_eval_input, main_dict, main_dict);
	int truth;

	if (!res) {
		PyErr_Print();
		cr_assert_fail("evaluating `%s` raised", expr);
	}
	truth = PyObject_IsTrue(res);
	Py_DECREF(res);
	cr_assert_geq(truth, 0, "truth value of `%s`", expr);
	return truth;
}

/* Runs @code (statements) in __main__; fails the test if it raises. */
static inline void py_run(const char *code)
{
	cr_assert_not(PyErr_Occurred(), "an exception is pending before running `%s`", code);
	cr_assert_eq(PyRun_SimpleString(code), 0, "`%s` raised", code);
}

#define assert_no_pyerr() cr_assert_null(PyErr_Occurred(), "a Python exception is left set")

/* The return value of @call, checked to leave no Python exception set. */
#define assert_call(call, expected)                                                                \
	do {                                                                                       \
		int ret_ = (call);                                                                 \
		cr_assert_eq(ret_, (expected), "%s returned %d (%s), expected %d", #call, ret_,    \
			     strerror(-ret_), (expected));                                         \
		assert_no_pyerr();                                                                 \
	} while (0)

/* A foreign C profile function, as a profiler written in C would install. */
static inline int dummy_profile(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
	(void)obj;
	(void)frame;
	(void)what;
	(void)arg;
	return 0;
}

/*
 * The hook backend under test, for the tests that look at the hooks themselves.
 * 3.8-3.11: libpytrace takes the profile hook of each thread (and threading.setprofile()); a
 * program's own profile function makes attach -EBUSY. 3.12+: sys.monitoring, with a tool id of
 * its own (3 or 4) whose events cover every thread of the interpreter at once; the program's
 * profile and trace functions are other tools (6, 7) and never in the way: only other tools on
 * both ids make attach -EBUSY.
 */
#define UNIT_MONITORING (PY_VERSION_HEX >= 0x030C0000)

/* internal.h's PT_THREAD_KEY (test-opts.c checks that they agree). */
#define UNIT_THREAD_KEY "libpytrace.thread"

#if UNIT_MONITORING
#define PY_MON "__import__('sys').monitoring"
/* Python expressions: libpytrace's hooks are in place for the code evaluating it ... */
#define PY_TRACED                                                                                  \
	"any(" PY_MON ".get_tool(i) == 'pytrace' and " PY_MON ".get_events(i) != 0 "             \
	"for i in (3, 4))"
/* ... nothing of libpytrace is installed ... */
#define PY_UNTRACED "all(" PY_MON ".get_tool(i) != 'pytrace' for i in (3, 4))"
/* ... and which of the two, as a thread of the test reports it. */
#define PY_TRACE_STATE                                                                             \
	"('ThreadState' if " PY_TRACED " else 'NoneType' if " PY_UNTRACED " else 'other')"
#else
#define PY_TRACED "type(__import__('sys').getprofile()).__name__ == 'ThreadState'"
#define PY_UNTRACED "__import__('sys').getprofile() is None"
#define PY_TRACE_STATE "type(__import__('sys').getprofile()).__name__"
#endif

/* Evaluates @expr in __main__; its int value, or -2 if it raised. Unlike py_true(), usable on any
 * thread (no assertion). */
static inline int py_int(const char *expr)
{
	PyObject *main_dict = PyModule_GetDict(PyImport_AddModule("__main__"));
	PyObject *res = PyRun_String(expr, Py_eval_input, main_dict, main_dict);
	long v = res ? PyLong_AsLong(res) : -2;

	Py_XDECREF(res);
	if (PyErr_Occurred()) {
		PyErr_Clear();
		v = -2;
	}
	return (int)v;
}

/*
 * The calling thread's libpytrace object (a struct pt_thread, "pytrace.ThreadState"), borrowed,
 * or NULL. 3.8-3.11: the argument of its profile hook. 3.12+: kept in its thread state's dict,
 * from the thread's first Python event after attach on: a statement is run first.
 */
static inline PyObject *thread_obj(void)
{
	PyThreadState *ts = PyThreadState_Get();
	PyObject *obj;

#if UNIT_MONITORING
	PyObject *dict;

	if (PyRun_SimpleString("pass") < 0) {
		PyErr_Clear();
	}
	dict = PyThreadState_GetDict();
	obj = dict ? PyDict_GetItemString(dict, UNIT_THREAD_KEY) : NULL;
#else
	obj = ts->c_profilefunc ? ts->c_profileobj : NULL;
#endif
	(void)ts;
	return obj && !strcmp(Py_TYPE(obj)->tp_name, "pytrace.ThreadState") ? obj : NULL;
}

/*
 * 1 if libpytrace traces the calling thread, 0 if nothing of libpytrace is installed for it, -1
 * if something else: another profile function holds the thread (3.8-3.11), or libpytrace's tool
 * has no events or the thread no state object (3.12+). Runs on any thread.
 */
static inline int hooked(void)
{
#if UNIT_MONITORING
	int events = py_int("next((int(" PY_MON ".get_events(i) != 0) for i in (3, 4) "
			    "if " PY_MON ".get_tool(i) == 'pytrace'), -1)");

	if (events < 0) {
		return 0;
	}
	return events == 1 && thread_obj() ? 1 : -1;
#else
	PyThreadState *ts = PyThreadState_Get();

	if (!ts->c_profilefunc) {
		return 0;
	}
	return thread_obj() ? 1 : -1;
#endif
}

/*
 * Makes pytrace_attach() of the current interpreter fail with -EBUSY, as another profiler does:
 * 3.8-3.11 a C profile function on the calling thread; 3.12+ other tools on sys.monitoring ids 3
 * and 4 (named "other3" and "other4"). unblock_hooks() undoes it.
 */
static inline void block_hooks(void)
{
#if UNIT_MONITORING
	cr_assert_eq(PyRun_SimpleString("import sys\n"
					"sys.monitoring.use_tool_id(3, 'other3')\n"
					"sys.monitoring.use_tool_id(4, 'other4')"),
		     0);
#else
	PyEval_SetProfile(dummy_profile, NULL);
#endif
}

static inline void unblock_hooks(void)
{
#if UNIT_MONITORING
	cr_assert_eq(PyRun_SimpleString("import sys\n"
					"sys.monitoring.free_tool_id(3)\n"
					"sys.monitoring.free_tool_id(4)"),
		     0);
#else
	PyEval_SetProfile(NULL, NULL);
#endif
}

/*
 * Python statements that make the interpreter refuse pytrace_attach() with a Python error
 * (-EIO), and undo it: libpytrace needs `threading` (3.8-3.11) or `sys.monitoring` (3.12+).
 */
#if UNIT_MONITORING
#define PY_BREAK_HOOKS "import sys\nsaved_monitoring = sys.monitoring\nsys.monitoring = None"
#define PY_FIX_HOOKS "sys.monitoring = saved_monitoring"
#else
#define PY_BREAK_HOOKS "import sys\nsys.modules['threading'] = None"
#define PY_FIX_HOOKS "del sys.modules['threading']"
#endif

/*
 * stderr capture by file descriptor: libpytrace logs with write(2) on STDERR_FILENO, so stdio-level
 * redirection would not see it.
 */
struct capture {
	int saved_fd;
	FILE *file;
};

static inline void capture_begin(struct capture *c)
{
	c->file = tmpfile();
	cr_assert_not_null(c->file);
	c->saved_fd = dup(STDERR_FILENO);
	cr_assert_geq(c->saved_fd, 0);
	cr_assert_geq(dup2(fileno(c->file), STDERR_FILENO), 0);
}

/* Restores stderr and returns what was written to it (malloc()ed, NUL-terminated). */
static inline char *capture_end(struct capture *c)
{
	long len;
	char *buf;

	cr_assert_geq(dup2(c->saved_fd, STDERR_FILENO), 0);
	close(c->saved_fd);
	cr_assert_geq(fseek(c->file, 0, SEEK_END), 0);
	len = ftell(c->file);
	cr_assert_geq(len, 0);
	rewind(c->file);
	buf = calloc(1, (size_t)len + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)len, c->file), (size_t)len);
	fclose(c->file);
	return buf;
}

/* Number of '\n'-terminated lines in @s. */
static inline size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++) {
		n += *s == '\n';
	}
	return n;
}

#endif /* PYTRACE_TESTS_UNIT_H */
