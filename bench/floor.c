/* SPDX-License-Identifier: MIT */
/*
 * pytrace_bench_floor: the "floor" of the benchmarks, an extension module loaded by the bare host.
 *
 *   import pytrace_bench_floor as f
 *   f.install("empty")       # an empty C hook of the mechanism libpytrace uses
 *   f.install("tp", co_filename, co_name, co_qualname, module)
 *                            # the same hook firing pytrace_bench:function__entry at every call
 *                            # and resume, pytrace_bench:function__return at every return, yield
 *                            # and unwind, from these constant strings
 *   f.install("tp-exc", ...) # "tp" plus an empty hook for exceptions, the other half of what
 *                            # per-event mode installs: up to 3.11 a C trace function
 *                            # (PyEval_SetTrace, which 3.8-3.11 call for every line, call and
 *                            # return too); 3.12+ a RAISE callback
 *   f.uninstall()
 *
 * The mechanism: CPython 3.8-3.11, a C profile function (PyEval_SetProfile, calling thread only);
 * 3.12+, sys.monitoring with C callables for PY_START/PY_RESUME/PY_RETURN/PY_YIELD/PY_UNWIND under
 * the first free tool id (3.12 and 3.13 have no C API for it: the Python functions are called
 * through the C API, as cProfile does). The GIL is held in every function here.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX < 0x030C0000
#include <frameobject.h>
#endif

#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "floor-tp.h"

/* The constant payload (owned copies) and whether the hook fires tracepoints. */
static char *s_filename, *s_name, *s_qualname, *s_module;
static int64_t s_interp;
static int s_with_tp;
static int s_with_exc;
static int s_installed;

static __thread int32_t t_tid;

static inline int32_t cur_tid(void)
{
	if (!t_tid) {
		t_tid = (int32_t)syscall(SYS_gettid);
	}
	return t_tid;
}

static inline void fire_entry(int kind)
{
	lttng_ust_tracepoint(pytrace_bench, function__entry, s_filename, s_name, 1, s_qualname,
			     s_module, kind, cur_tid(), s_interp);
}

static inline void fire_return(int kind)
{
	lttng_ust_tracepoint(pytrace_bench, function__return, s_filename, s_name, 1, s_qualname,
			     s_module, kind, cur_tid(), s_interp);
}

#if PY_VERSION_HEX < 0x030C0000

static int hook_empty(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
	(void)obj;
	(void)frame;
	(void)what;
	(void)arg;
	return 0;
}

static int hook_tp(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
	(void)obj;
	(void)frame;
	(void)arg;
	if (what == PyTrace_CALL) {
		fire_entry(0);
	} else if (what == PyTrace_RETURN) {
		fire_return(0);
	}
	return 0;
}

/* libpytrace's exception hook does nothing else than look at PyTrace_EXCEPTION. */
static int hook_exc(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
	(void)obj;
	(void)frame;
	(void)what;
	(void)arg;
	return 0;
}

static int mechanism_install(void)
{
	PyEval_SetProfile(s_with_tp ? hook_tp : hook_empty, NULL);
	if (s_with_exc) {
		PyEval_SetTrace(hook_exc, NULL);
	}
	return 0;
}

static int mechanism_uninstall(void)
{
	PyEval_SetProfile(NULL, NULL);
	PyEval_SetTrace(NULL, NULL);
	return 0;
}

static PyObject *mechanism_name(void)
{
	return PyUnicode_FromString(s_with_exc ? "PyEval_SetProfile + PyEval_SetTrace (C functions, "
						 "this thread)"
					       : "PyEval_SetProfile (C profile function, this thread)");
}

#else /* 3.12+: sys.monitoring */

static int s_tool = -1;

#define CB(NAME, BODY)                                                                             \
	static PyObject *NAME(PyObject *self, PyObject *const *args, Py_ssize_t nargs)             \
	{                                                                                          \
		(void)self;                                                                        \
		(void)args;                                                                        \
		(void)nargs;                                                                       \
		BODY;                                                                              \
		Py_RETURN_NONE;                                                                    \
	}

CB(cb_empty, (void)0)
CB(cb_start, fire_entry(0))
CB(cb_resume, fire_entry(1))
CB(cb_return, fire_return(0))
CB(cb_yield, fire_return(1))
CB(cb_unwind, fire_return(2))

static PyMethodDef cb_defs[] = {
	{ "floor_empty", (PyCFunction)(void (*)(void))cb_empty, METH_FASTCALL, NULL },
	{ "floor_start", (PyCFunction)(void (*)(void))cb_start, METH_FASTCALL, NULL },
	{ "floor_resume", (PyCFunction)(void (*)(void))cb_resume, METH_FASTCALL, NULL },
	{ "floor_return", (PyCFunction)(void (*)(void))cb_return, METH_FASTCALL, NULL },
	{ "floor_yield", (PyCFunction)(void (*)(void))cb_yield, METH_FASTCALL, NULL },
	{ "floor_unwind", (PyCFunction)(void (*)(void))cb_unwind, METH_FASTCALL, NULL },
};

/* Event names in sys.monitoring.events and the index in cb_defs of their tracepoint callback. */
static const struct {
	const char *event;
	int cb;
} events[] = {
	{ "PY_START", 1 }, { "PY_RESUME", 2 }, { "PY_RETURN", 3 }, { "PY_YIELD", 4 }, { "PY_UNWIND", 5 },
	{ "RAISE", 0 }, /* tp-exc only, always empty */
};

/* The events installed: RAISE only for tp-exc. */
static size_t n_events(void)
{
	return sizeof(events) / sizeof(events[0]) - (s_with_exc ? 0 : 1);
}

static PyObject *monitoring(void)
{
	PyObject *mon = PySys_GetObject("monitoring"); /* borrowed */

	if (!mon) {
		PyErr_SetString(PyExc_RuntimeError, "sys.monitoring is missing");
	}
	return mon;
}

static int call_mon(const char *method, const char *fmt, ...)
{
	PyObject *mon = monitoring(), *fn, *args, *res;
	va_list ap;

	if (!mon) {
		return -1;
	}
	fn = PyObject_GetAttrString(mon, method);
	if (!fn) {
		return -1;
	}
	va_start(ap, fmt);
	args = Py_VaBuildValue(fmt, ap);
	va_end(ap);
	if (!args) {
		Py_DECREF(fn);
		return -1;
	}
	res = PyObject_CallObject(fn, args);
	Py_DECREF(args);
	Py_DECREF(fn);
	if (!res) {
		return -1;
	}
	Py_DECREF(res);
	return 0;
}

static long event_bit(const char *name)
{
	PyObject *mon = monitoring(), *evs, *v;
	long bit;

	if (!mon) {
		return -1;
	}
	evs = PyObject_GetAttrString(mon, "events");
	if (!evs) {
		return -1;
	}
	v = PyObject_GetAttrString(evs, name);
	Py_DECREF(evs);
	if (!v) {
		return -1;
	}
	bit = PyLong_AsLong(v);
	Py_DECREF(v);
	return bit;
}

static int free_tool_id(void)
{
	PyObject *mon = monitoring();

	if (!mon) {
		return -1;
	}
	for (int id = 0; id < 6; id++) {
		PyObject *holder = PyObject_CallMethod(mon, "get_tool", "i", id);

		if (!holder) {
			return -1;
		}
		int is_free = holder == Py_None;

		Py_DECREF(holder);
		if (is_free) {
			return id;
		}
	}
	PyErr_SetString(PyExc_RuntimeError, "no free sys.monitoring tool id");
	return -1;
}

static int mechanism_install(void)
{
	long mask = 0;
	int id = free_tool_id();

	if (id < 0) {
		return -1;
	}
	if (call_mon("use_tool_id", "(is)", id, "pytrace-bench-floor")) {
		return -1;
	}
	s_tool = id;
	for (size_t i = 0; i < n_events(); i++) {
		long bit = event_bit(events[i].event);
		PyObject *cb;
		int err;

		if (bit < 0) {
			return -1;
		}
		cb = PyCFunction_New(&cb_defs[s_with_tp ? events[i].cb : 0], NULL);
		if (!cb) {
			return -1;
		}
		err = call_mon("register_callback", "(ilO)", id, bit, cb);
		Py_DECREF(cb);
		if (err) {
			return -1;
		}
		mask |= bit;
	}
	return call_mon("set_events", "(il)", id, mask);
}

static int mechanism_uninstall(void)
{
	int id = s_tool;

	if (id < 0) {
		return 0;
	}
	if (call_mon("set_events", "(il)", id, 0L)) {
		return -1;
	}
	for (size_t i = 0; i < n_events(); i++) {
		long bit = event_bit(events[i].event);

		if (bit < 0 || call_mon("register_callback", "(ilO)", id, bit, Py_None)) {
			return -1;
		}
	}
	s_tool = -1;
	return call_mon("free_tool_id", "(i)", id);
}

static PyObject *mechanism_name(void)
{
	return PyUnicode_FromFormat("sys.monitoring (C callables, tool id %d)", s_tool);
}

#endif

static char *dup_or_null(const char *s)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d) {
		PyErr_NoMemory();
	}
	return d;
}

static void payload_free(void)
{
	free(s_filename);
	free(s_name);
	free(s_qualname);
	free(s_module);
	s_filename = s_name = s_qualname = s_module = NULL;
}

static PyObject *floor_install(PyObject *self, PyObject *args)
{
	const char *kind, *filename = "<bench>", *name = "f", *qualname = "f", *module = "__main__";

	(void)self;
	if (!PyArg_ParseTuple(args, "s|ssss:install", &kind, &filename, &name, &qualname, &module)) {
		return NULL;
	}
	if (s_installed) {
		PyErr_SetString(PyExc_RuntimeError, "already installed");
		return NULL;
	}
	if (!strcmp(kind, "empty")) {
		s_with_tp = 0;
		s_with_exc = 0;
	} else if (!strcmp(kind, "tp") || !strcmp(kind, "tp-exc")) {
		s_with_tp = 1;
		s_with_exc = !strcmp(kind, "tp-exc");
	} else {
		PyErr_Format(PyExc_ValueError, "kind must be 'empty', 'tp' or 'tp-exc', not %R",
			     PyTuple_GET_ITEM(args, 0));
		return NULL;
	}
	s_filename = dup_or_null(filename);
	s_name = dup_or_null(name);
	s_qualname = dup_or_null(qualname);
	s_module = dup_or_null(module);
	if (!s_filename || !s_name || !s_qualname || !s_module) {
		payload_free();
		return NULL;
	}
#if PY_VERSION_HEX < 0x03090000
	s_interp = (int64_t)(intptr_t)_PyInterpreterState_Get();
#else
	s_interp = (int64_t)(intptr_t)PyInterpreterState_Get();
#endif
	if (mechanism_install()) {
		PyObject *type, *value, *tb;

		PyErr_Fetch(&type, &value, &tb);
		mechanism_uninstall();
		PyErr_Restore(type, value, tb);
		payload_free();
		return NULL;
	}
	s_installed = 1;
	return mechanism_name();
}

static PyObject *floor_uninstall(PyObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	if (!s_installed) {
		Py_RETURN_NONE;
	}
	if (mechanism_uninstall()) {
		return NULL;
	}
	s_installed = 0;
	payload_free();
	Py_RETURN_NONE;
}

static PyMethodDef floor_methods[] = {
	{ "install", floor_install, METH_VARARGS,
	  "install(kind, co_filename='<bench>', co_name='f', co_qualname='f', module='__main__'): "
	  "install the floor hook; kind is 'empty', 'tp' or 'tp-exc'. Returns the mechanism's name." },
	{ "uninstall", floor_uninstall, METH_NOARGS, "uninstall(): remove the floor hook." },
	{ NULL, NULL, 0, NULL },
};

static struct PyModuleDef floor_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "pytrace_bench_floor",
	.m_doc = "Benchmark floor: an empty C hook, optionally firing two bare tracepoints per call.",
	.m_size = -1,
	.m_methods = floor_methods,
};

PyMODINIT_FUNC PyInit_pytrace_bench_floor(void);

PyMODINIT_FUNC PyInit_pytrace_bench_floor(void)
{
	return PyModule_Create(&floor_module);
}
