/* SPDX-License-Identifier: MIT */
/*
 * The hook backend for CPython 3.12+: `sys.monitoring` with a tool id of our own (3 or 4).
 *
 * Events are per interpreter and cover every thread of it, however created. The callbacks are C
 * functions (METH_FASTCALL) registered through the Python API, as cProfile does; they get no
 * per-thread argument, so each thread's struct pt_thread lives in its thread state's dict
 * (PT_THREAD_KEY) and the current one is cached per OS thread, keyed by the thread state and by
 * pt_thread_gen (bumped when any struct pt_thread is freed or taken off its thread state, so a
 * reused thread state address never finds a stale object).
 *
 * Filtered code costs nothing: the local events (PY_START, PY_RESUME, PY_RETURN, PY_YIELD) of a
 * code object the filters exclude return sys.monitoring.DISABLE, which removes that location's
 * instrumentation for our tool until restart_events() (config change, start).
 *
 * GIL held everywhere. With one GIL per interpreter (3.12+), callbacks of two interpreters run at
 * once: everything they write is per thread (struct pt_thread, the TLS cache); the only globals,
 * DISABLE and MISSING, are immortal runtime singletons, the same for every interpreter.
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <urcu/urcu-bp.h>

/* The frame's globals without PyEval_GetGlobals()'s thread-local lookup (see frame_globals()). */
#define Py_BUILD_CORE 1
#include <internal/pycore_frame.h>
#undef Py_BUILD_CORE

#if PY_VERSION_HEX < 0x030C0000
#error "hook-monitor.c is the backend of CPython 3.12+"
#endif

/* Event numbers: public from 3.13 on (cpython/monitoring.h), the same values in 3.12. */
#ifndef PY_MONITORING_EVENT_PY_START
#define PY_MONITORING_EVENT_PY_START 0
#define PY_MONITORING_EVENT_PY_RESUME 1
#define PY_MONITORING_EVENT_PY_RETURN 2
#define PY_MONITORING_EVENT_PY_YIELD 3
#define PY_MONITORING_EVENT_CALL 4
#define PY_MONITORING_EVENT_RAISE 10
#define PY_MONITORING_EVENT_PY_UNWIND 12
#define PY_MONITORING_EVENT_PY_THROW 13
#define PY_MONITORING_EVENT_C_RETURN 15
#define PY_MONITORING_EVENT_C_RAISE 16
#endif

#define TOOL_NAME "pytrace"
#define TOOL_FIRST 3
#define TOOL_LAST 4
/* The interpreter dict holds the sys.monitoring module from attach to detach: the program may
 * rebind `sys.monitoring`, we must still be able to remove our tool. */
#define MONITORING_KEY "libpytrace.monitoring"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* sys.monitoring.DISABLE and MISSING: immortal, shared by all interpreters of the runtime. */
static PyObject *mon_disable;
static PyObject *mon_missing;

/* The calling thread's object (NULL: not traced), and its thread state in @tsp. */
static inline struct pt_thread *current(PyThreadState **tsp)
{
	PyThreadState *ts = pt_tstate_unchecked();

	*tsp = ts;
	return pt_tstate_thread(ts);
}

/* ---- the callbacks ---- */

/* An error must never reach the program (nor turn our None into a SystemError). @ts: the
 * current thread state (NULL if none); its field is PyErr_Occurred() without a TLS lookup. */
static inline PyObject *done(PyThreadState *ts)
{
	if (unlikely(ts && ts->current_exception)) {
		PyErr_Clear();
	}
	Py_RETURN_NONE;
}

static inline PyObject *disable(PyThreadState *ts)
{
	if (unlikely(ts && ts->current_exception)) {
		PyErr_Clear();
	}
	return Py_NewRef(mon_disable);
}

/* Every callback gets (code, instruction offset, ...) first. */
static inline bool args_ok(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t want)
{
	return likely(nargs >= want && PyCode_Check(args[0]));
}

/* The globals of the running frame of @ts, the current thread state: what PyEval_GetGlobals()
 * returns (3.12 and 3.13 read this field), without its thread-local lookup of the thread state:
 * that is a call into CPython and __tls_get_addr(), ~30 instructions per call of a function. */
static inline PyObject *frame_globals(PyThreadState *ts)
{
#if PY_VERSION_HEX >= 0x030D0000
	_PyInterpreterFrame *f = ts->current_frame;
#else
	_PyInterpreterFrame *f = ts->cframe->current_frame;
#endif

	return f ? f->f_globals : NULL;
}

/* The event's frame: the globals (for the module of a frame pushed or of an exception; @ts:
 * the current thread state) only when the event needs them. */
static inline struct pt_pyframe pyframe(PyObject *code, PyObject *offset, PyThreadState *ts)
{
	struct pt_pyframe pf = {
		.key = PT_FRAME_KEY(NULL, code),
		.code = (PyCodeObject *)code,
		.globals = ts ? frame_globals(ts) : NULL,
		.frame = NULL,
		.offset = offset,
	};

	return pf;
}

/* The innermost open frame, or NULL. */
static inline const struct pt_frame *top(const struct pt_thread *t)
{
	return t->depth ? &t->stack[t->depth - 1] : NULL;
}

static inline bool top_is(const struct pt_thread *t, const void *key)
{
	return t->depth && t->stack[t->depth - 1].key == key;
}

/* Whether a frame with @key is open on the shadow stack below its top @n frames. */
static bool is_open(const struct pt_thread *t, const void *key, size_t n)
{
	for (size_t i = t->depth - n; i > 0; i--) {
		if (t->stack[i - 1].key == key) {
			return true;
		}
	}
	return false;
}

/* First event on this thread: push the frames running on it. @self: whether the event's own
 * frame is among them (a return, an exception, a call made by it) or is about to be pushed (a
 * start or resume: then only its callers). */
static __attribute__((noinline)) void sync_thread(struct pt_thread *t, bool self)
{
	PyFrameObject *frame = PyEval_GetFrame(); /* borrowed */

	if (self || !frame) {
		pt_thread_sync(t, frame);
	} else {
		PyFrameObject *back = PyFrame_GetBack(frame);

		pt_thread_sync(t, back);
		Py_XDECREF(back);
	}
}

/* PY_START, PY_RESUME, PY_THROW (code, offset[, exception]) */
static inline PyObject *py_entry(PyObject *const *args, Py_ssize_t nargs, enum pt_entry_kind kind)
{
	const struct pt_frame *f;
	struct pt_thread *t;
	struct pt_pyframe pf;
	PyThreadState *ts = NULL;

	if (!args_ok(args, nargs, 2) || unlikely(!(t = current(&ts)))) {
		return done(ts);
	}
	if (unlikely(!t->synced)) {
		sync_thread(t, false);
	}
	pf = pyframe(args[0], NULL, ts);
	pt_thread_py_entry(t, &pf, kind);
	/* Pushed but not recorded: the filters exclude it, or the depth limit. Filtered code gets
	 * its instrumentation off, unless another frame of it is open (it ran before the filter
	 * changed, or was running at attach): then this one stays, unrecorded, so that the
	 * returns pair up. (Checked after the push: one code lookup in the common case.) */
	f = top(t);
	if (unlikely(f && f->key == pf.key && !f->emit) && !pt_thread_traces(t, &pf) &&
	    !is_open(t, pf.key, 1)) {
		pt_thread_py_return(t, &pf, PT_RETURN_RETURN); /* silent: not recorded */
		return disable(ts);
	}
	return done(ts);
}

/* PY_RETURN, PY_YIELD (code, offset, value), PY_UNWIND (code, offset, exception) */
static inline PyObject *py_return(PyObject *const *args, Py_ssize_t nargs,
				  enum pt_return_kind kind, bool local)
{
	struct pt_thread *t;
	struct pt_pyframe pf;
	PyThreadState *ts = NULL;

	if (!args_ok(args, nargs, 2) || unlikely(!(t = current(&ts)))) {
		return done(ts);
	}
	if (unlikely(!t->synced)) {
		sync_thread(t, true);
	}
	pf = pyframe(args[0], args[1], NULL);
	if (unlikely(!top_is(t, pf.key))) {
		/* Not the innermost open frame: code the filters exclude (never pushed), or
		 * frames were skipped (pt_thread_py_return() closes them). */
		pf.globals = frame_globals(ts);
		if (!pt_thread_traces(t, &pf)) {
			return local ? disable(ts) : done(ts);
		}
	}
	pt_thread_py_return(t, &pf, kind);
	return done(ts);
}

static PyObject *on_py_start(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	(void)self;
	return py_entry(args, nargs, PT_ENTRY_CALL);
}

static PyObject *on_py_resume(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	(void)self;
	return py_entry(args, nargs, PT_ENTRY_RESUME);
}

static PyObject *on_py_return(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	(void)self;
	return py_return(args, nargs, PT_RETURN_RETURN, true);
}

static PyObject *on_py_yield(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	(void)self;
	return py_return(args, nargs, PT_RETURN_YIELD, true);
}

static PyObject *on_py_unwind(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	(void)self;
	return py_return(args, nargs, PT_RETURN_UNWIND, false);
}

/* RAISE (code, offset, exception): raised in, or propagating into, the current frame. */
static PyObject *on_raise(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	struct pt_thread *t;
	struct pt_pyframe pf;
	PyThreadState *ts = NULL;

	(void)self;
	if (!args_ok(args, nargs, 3) || unlikely(!(t = current(&ts)))) {
		return done(ts);
	}
	if (unlikely(!t->synced)) {
		sync_thread(t, true);
	}
	pf = pyframe(args[0], args[1], ts);
	pt_thread_exception(t, &pf, (PyObject *)Py_TYPE(args[2]));
	return done(ts);
}

/* The C calls the legacy profile hook reports: builtin functions and methods, and methods of C
 * types called through their descriptor (`lst.append(x)`; not without a `self`). */
static inline bool is_c_function(PyObject *callable, PyObject *arg0)
{
	return PyCFunction_Check(callable) ||
	       (Py_TYPE(callable) == &PyMethodDescr_Type && arg0 != mon_missing);
}

/* CALL (code, offset, callable, arg0): every call; C functions are pushed when the calling frame
 * (@code, the current frame) is on the shadow stack. Never disabled: one call site may call
 * Python and C functions alike. */
static PyObject *on_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	struct pt_thread *t;
	PyThreadState *ts = NULL;

	(void)self;
	if (!args_ok(args, nargs, 4) || unlikely(!(t = current(&ts)))) {
		return done(ts);
	}
	if (unlikely(!t->synced)) {
		sync_thread(t, true);
	}
	if (is_c_function(args[2], args[3]) && top_is(t, args[0])) {
		pt_thread_c_entry(t, args[2]);
	}
	return done(ts);
}

/* C_RETURN, C_RAISE (code, offset, callable, arg0): only the C frame on top, pushed by its
 * caller @code (the frame below it): a filtered caller's call of the same function is not it. */
static inline PyObject *c_return(PyObject *const *args, Py_ssize_t nargs, bool unwind)
{
	const struct pt_frame *f;
	struct pt_thread *t;
	PyThreadState *ts = NULL;

	if (!args_ok(args, nargs, 4) || unlikely(!(t = current(&ts)))) {
		return done(ts);
	}
	f = top(t);
	if (f && f->key == args[2] && !f->code && t->depth >= 2 &&
	    t->stack[t->depth - 2].key == args[0]) {
		pt_thread_c_return(t, args[2], unwind);
	}
	return done(ts);
}

static PyObject *on_c_return(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	(void)self;
	return c_return(args, nargs, false);
}

static PyObject *on_c_raise(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	(void)self;
	return c_return(args, nargs, true);
}

#define CB(name, fn)                                                                               \
	{                                                                                          \
		name, (PyCFunction)(void (*)(void))fn, METH_FASTCALL,                              \
			"libpytrace: sys.monitoring callback."                                     \
	}

static PyMethodDef callback_defs[] = {
	CB("_pytrace_py_start", on_py_start),	CB("_pytrace_py_resume", on_py_resume),
	CB("_pytrace_py_return", on_py_return), CB("_pytrace_py_yield", on_py_yield),
	CB("_pytrace_py_unwind", on_py_unwind), CB("_pytrace_raise", on_raise),
	CB("_pytrace_call", on_call),		CB("_pytrace_c_return", on_c_return),
	CB("_pytrace_c_raise", on_c_raise),
};

static const struct {
	int event;
	const PyMethodDef *def;
	bool c_calls; /* only with the c_calls option */
} events[] = {
	{ PY_MONITORING_EVENT_PY_START, &callback_defs[0], false },
	{ PY_MONITORING_EVENT_PY_RESUME, &callback_defs[1], false },
	/* throw() into a suspended generator (close() too): it resumes */
	{ PY_MONITORING_EVENT_PY_THROW, &callback_defs[1], false },
	{ PY_MONITORING_EVENT_PY_RETURN, &callback_defs[2], false },
	{ PY_MONITORING_EVENT_PY_YIELD, &callback_defs[3], false },
	{ PY_MONITORING_EVENT_PY_UNWIND, &callback_defs[4], false },
	{ PY_MONITORING_EVENT_RAISE, &callback_defs[5], false },
	{ PY_MONITORING_EVENT_CALL, &callback_defs[6], true },
	{ PY_MONITORING_EVENT_C_RETURN, &callback_defs[7], true },
	{ PY_MONITORING_EVENT_C_RAISE, &callback_defs[8], true },
};

#define N_EVENTS (sizeof(events) / sizeof(events[0]))

/* ---- sys.monitoring, called through the C API ---- */

/* The sys.monitoring module kept at attach (borrowed), or NULL (Python error set). */
static PyObject *monitoring(void)
{
	PyObject *dict = PyInterpreterState_GetDict(PyInterpreterState_Get());
	PyObject *mon = dict ? PyDict_GetItemString(dict, MONITORING_KEY) : NULL;

	if (!mon && !PyErr_Occurred()) {
		PyErr_SetString(PyExc_RuntimeError, "libpytrace: sys.monitoring was not kept");
	}
	return mon;
}

/* Calls sys.monitoring.@fn with arguments built from @fmt; 0, or -1 with a Python error set. */
static int mon_call(const char *fn, const char *fmt, ...)
{
	PyObject *mon = monitoring(), *func, *args, *res = NULL;
	va_list ap;

	if (!mon) {
		return -1;
	}
	func = PyObject_GetAttrString(mon, fn);
	if (!func) {
		return -1;
	}
	va_start(ap, fmt);
	args = Py_VaBuildValue(fmt, ap);
	va_end(ap);
	if (args) {
		res = PyObject_CallObject(func, args);
		Py_DECREF(args);
	}
	Py_DECREF(func);
	Py_XDECREF(res);
	return res ? 0 : -1;
}

static int event_mask(struct pt_interp *pi)
{
	bool c_calls;
	int mask = 0;

	urcu_bp_read_lock();
	c_calls = rcu_dereference(pi->cfg)->c_calls;
	urcu_bp_read_unlock();
	for (size_t i = 0; i < N_EVENTS; i++) {
		if (!events[i].c_calls || c_calls) {
			mask |= 1 << events[i].event;
		}
	}
	return mask;
}

/* The repr of sys.monitoring.get_tool(@id) into @buf, for messages. */
static void tool_holder(int id, char *buf, size_t size)
{
	PyObject *mon = monitoring();
	PyObject *name = mon ? PyObject_CallMethod(mon, "get_tool", "i", id) : NULL;
	PyObject *repr = name ? PyObject_Repr(name) : NULL;
	const char *s = repr ? PyUnicode_AsUTF8(repr) : NULL;

	snprintf(buf, size, "%s", s ? s : "?");
	Py_XDECREF(repr);
	Py_XDECREF(name);
	PyErr_Clear();
}

/* Takes the first free tool id of ours: 0, -EBUSY (none free) or -EIO. */
static int tool_take(struct pt_interp *pi)
{
	PyObject *mon = monitoring();

	if (!mon) {
		return -EIO;
	}
	for (int id = TOOL_FIRST; id <= TOOL_LAST; id++) {
		PyObject *holder = PyObject_CallMethod(mon, "get_tool", "i", id);
		bool free_id = holder == Py_None;

		Py_XDECREF(holder);
		if (!holder) {
			return -EIO;
		}
		if (free_id) {
			if (mon_call("use_tool_id", "(is)", id, TOOL_NAME) < 0) {
				return -EIO;
			}
			pi->tool_id = id;
			return 0;
		}
	}
	return -EBUSY;
}

int pt_hook_attach(struct pt_interp *pi)
{
	PyObject *dict = PyInterpreterState_GetDict(pi->interp);
	PyObject *mon = PySys_GetObject("monitoring"); /* borrowed */
	PyObject *obj;
	int err;

	if (!dict || !mon || mon == Py_None) {
		pt_warn("cannot attach: sys.monitoring is missing");
		return -EIO;
	}
	/* Runtime singletons: every interpreter stores the same immortal objects. */
	obj = PyObject_GetAttrString(mon, "DISABLE");
	if (obj) {
		__atomic_store_n(&mon_disable, obj, __ATOMIC_RELEASE);
		Py_DECREF(obj);
	}
	obj = PyObject_GetAttrString(mon, "MISSING");
	if (obj) {
		__atomic_store_n(&mon_missing, obj, __ATOMIC_RELEASE);
		Py_DECREF(obj);
	}
	if (!mon_disable || !mon_missing || PyDict_SetItemString(dict, MONITORING_KEY, mon) < 0) {
		return -EIO;
	}
	err = tool_take(pi);
	if (err == -EBUSY) {
		char h3[128], h4[128];

		tool_holder(TOOL_FIRST, h3, sizeof(h3));
		tool_holder(TOOL_LAST, h4, sizeof(h4));
		pt_warn("cannot attach: sys.monitoring tool ids %d and %d are both in use (by %s and "
			"%s)", TOOL_FIRST, TOOL_LAST, h3, h4);
	}
	if (err) {
		PyDict_DelItemString(dict, MONITORING_KEY);
		return err;
	}
	pt_debug("sys.monitoring tool id %d", pi->tool_id);
	return 0;
}

void pt_hook_detach(struct pt_interp *pi)
{
	PyObject *dict = PyInterpreterState_GetDict(pi->interp);

	if (pi->tool_id < 0) {
		return;
	}
	if (mon_call("set_events", "(ii)", pi->tool_id, 0) < 0) {
		pt_log_pyerr("cannot turn sys.monitoring events off");
	}
	for (size_t i = 0; i < N_EVENTS; i++) {
		if (mon_call("register_callback", "(iiO)", pi->tool_id, 1 << events[i].event,
			     Py_None) < 0) {
			pt_log_pyerr("cannot unregister a sys.monitoring callback");
		}
	}
	if (mon_call("free_tool_id", "(i)", pi->tool_id) < 0) {
		pt_log_pyerr("cannot free the sys.monitoring tool id");
	}
	pi->tool_id = -1;
	if (dict && PyDict_DelItemString(dict, MONITORING_KEY) < 0) {
		PyErr_Clear();
	}
}

int pt_hook_start(struct pt_interp *pi)
{
	if (pi->tool_id < 0) {
		return -EIO;
	}
	/* Callback objects are created inside each interpreter (they are its objects). */
	for (size_t i = 0; i < N_EVENTS; i++) {
		PyObject *cb = PyCFunction_New((PyMethodDef *)events[i].def, NULL);
		int err;

		if (!cb) {
			goto fail;
		}
		err = mon_call("register_callback", "(iiO)", pi->tool_id, 1 << events[i].event, cb);
		Py_DECREF(cb);
		if (err < 0) {
			goto fail;
		}
	}
	/* Code DISABLEd under an earlier configuration is instrumented again. */
	if (mon_call("restart_events", "()") < 0 ||
	    mon_call("set_events", "(ii)", pi->tool_id, event_mask(pi)) < 0) {
		goto fail;
	}
	return 0;
fail:
	pt_log_pyerr("cannot install the sys.monitoring callbacks");
	if (mon_call("set_events", "(ii)", pi->tool_id, 0) < 0) {
		PyErr_Clear();
	}
	return -EIO;
}

void pt_hook_stop(struct pt_interp *pi, bool emit)
{
	if (pi->tool_id >= 0 && mon_call("set_events", "(ii)", pi->tool_id, 0) < 0) {
		pt_log_pyerr("cannot turn sys.monitoring events off");
	}
	for (PyThreadState *ts = PyInterpreterState_ThreadHead(pi->interp); ts;
	     ts = PyThreadState_Next(ts)) {
		pt_tstate_thread_remove(pi, ts, emit);
	}
}

int pt_hook_install_thread(struct pt_interp *pi, PyThreadState *tstate)
{
	/* sys.monitoring covers every thread of the interpreter already. */
	(void)pi;
	(void)tstate;
	return 0;
}

void pt_hook_foreach_thread(struct pt_interp *pi, void (*fn)(struct pt_thread *t))
{
	pt_tstate_foreach(pi, fn);
}

void pt_hook_config_changed(struct pt_interp *pi)
{
	if (pi->tool_id < 0) {
		return;
	}
	/* C calls on or off; code a filter DISABLEd is instrumented again (for every tool: CPython
	 * has no per-tool restart). */
	if (mon_call("set_events", "(ii)", pi->tool_id, event_mask(pi)) < 0 ||
	    mon_call("restart_events", "()") < 0) {
		pt_log_pyerr("cannot apply the new configuration to sys.monitoring");
	}
}
