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

#include <criterion/criterion.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pytrace/pytrace.h>

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
