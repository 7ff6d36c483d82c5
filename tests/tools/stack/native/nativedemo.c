/* SPDX-License-Identifier: MIT */
/*
 * A CPython extension module built with -finstrument-functions, for test_native.py: with
 * liblttng-ust-cyg-profile preloaded, each of its functions records func_entry/func_exit
 * events, which sink.pytrace.stack shows between the Python frames of the same thread
 * (symbolized by flt.lttng-utils.debug-info). Nothing here may be inlined: the test expects
 * every function's own events.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

__attribute__((noinline)) static long triple(long n)
{
	return n * 3;
}

__attribute__((noinline)) static long add_one(long n)
{
	return n + 1;
}

/* compute(n) = add_one(triple(n)) */
static PyObject *compute(PyObject *self, PyObject *arg)
{
	long n = PyLong_AsLong(arg);

	(void)self;
	if (n == -1 && PyErr_Occurred()) {
		return NULL;
	}
	return PyLong_FromLong(add_one(triple(n)));
}

static PyMethodDef methods[] = {
	{ "compute", compute, METH_O, "add_one(triple(n))" },
	{ NULL, NULL, 0, NULL },
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT, "nativedemo", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_nativedemo(void);

PyMODINIT_FUNC PyInit_nativedemo(void)
{
	return PyModule_Create(&module);
}
