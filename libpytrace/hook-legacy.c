/* SPDX-License-Identifier: MIT */
/*
 * The hook backend for CPython 3.8-3.11: each thread state of an attached interpreter gets
 * - the profile hook (calls, returns, generator resumes and yields, C calls), and
 * - when its trace slot is free, the trace hook, used for PyTrace_EXCEPTION only: CPython hides
 *   the exception in flight from the profile hook, so its type is only known there.
 * Both take the thread's struct pt_thread as argument. Threads started later by `threading` get
 * them from a callable given to threading.setprofile(), on their first event. On 3.11, fast mode
 * without C calls uses the frame evaluation function instead (hook-eval.c).
 *
 * GIL held everywhere. With one GIL per process (3.11) the callbacks of all interpreters are
 * serialised, so the per-thread state needs no lock.
 */
#include "internal.h"

#include <errno.h>
#include <opcode.h>

#include <urcu/urcu-bp.h>

#define GEN_FLAGS (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR)

static int profile_cb(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg);

#if PY_VERSION_HEX >= 0x030B0000
/* The instruction the frame stopped at: RESUME n (n > 0: after a yield or an await) or
 * YIELD_VALUE (a throw()/close() into a suspended generator) tell a resume from a first call;
 * YIELD_VALUE at a return tells a yield. -1 if the frame has not started. */
static int opcode_at_lasti(PyFrameObject *frame, PyCodeObject *code, int *oparg)
{
	int lasti = PyFrame_GetLasti(frame);
	Py_ssize_t idx;
	_Py_CODEUNIT word;

	if (lasti < 0) {
		return -1;
	}
	idx = lasti / (int)sizeof(_Py_CODEUNIT);
	if (idx >= Py_SIZE(code)) {
		return -1;
	}
	word = _PyCode_CODE(code)[idx];
	*oparg = _Py_OPARG(word);
	return _Py_OPCODE(word);
}

static enum pt_entry_kind entry_kind(PyFrameObject *frame, PyCodeObject *code)
{
	int op, oparg = 0;

	if (!(code->co_flags & GEN_FLAGS)) {
		return PT_ENTRY_CALL;
	}
	op = opcode_at_lasti(frame, code, &oparg);
	if (op == YIELD_VALUE || ((op == RESUME || op == RESUME_QUICK) && oparg > 0)) {
		return PT_ENTRY_RESUME;
	}
	return PT_ENTRY_CALL;
}

static enum pt_return_kind return_kind(PyFrameObject *frame, PyCodeObject *code, PyObject *arg)
{
	int oparg;

	if (!arg) {
		return PT_RETURN_UNWIND;
	}
	if ((code->co_flags & GEN_FLAGS) && opcode_at_lasti(frame, code, &oparg) == YIELD_VALUE) {
		return PT_RETURN_YIELD;
	}
	return PT_RETURN_RETURN;
}
#else
/* 3.8-3.10: a frame that has run before (lasti >= 0) resumes: after a yield or an await, or for
 * a throw()/close() into a suspended generator. */
static enum pt_entry_kind entry_kind(PyFrameObject *frame, PyCodeObject *code)
{
	if ((code->co_flags & GEN_FLAGS) && PyFrame_GetLasti(frame) >= 0) {
		return PT_ENTRY_RESUME;
	}
	return PT_ENTRY_CALL;
}

/* A frame left with a value but still suspended yields (see pt_frame_suspended()). */
static enum pt_return_kind return_kind(PyFrameObject *frame, PyCodeObject *code, PyObject *arg)
{
	(void)code;
	if (!arg) {
		return PT_RETURN_UNWIND;
	}
	return pt_frame_suspended(frame) ? PT_RETURN_YIELD : PT_RETURN_RETURN;
}
#endif

/* @globals: whether the event needs them (an entry: the module of the frame pushed). */
static inline struct pt_pyframe pyframe(PyFrameObject *frame, PyCodeObject *code, bool globals)
{
	struct pt_pyframe pf = {
		.key = frame,
		.code = code,
		.globals = globals ? pt_frame_globals(frame) : NULL,
		.frame = frame,
	};

	return pf;
}

/* Pushes the frames that were running when the thread was first seen: @frame and its callers. */
static inline void sync_thread(struct pt_thread *t, PyFrameObject *frame)
{
	if (__builtin_expect(!t->synced, 0)) {
		pt_thread_sync(t, frame);
	}
}

static int profile_cb(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
	struct pt_thread *t = (struct pt_thread *)obj;
	PyCodeObject *code;
	struct pt_pyframe pf;

	switch (what) {
	case PyTrace_CALL:
		code = PyFrame_GetCode(frame);
		if (__builtin_expect(!t->synced, 0)) {
			PyFrameObject *back = PyFrame_GetBack(frame);

			pt_thread_sync(t, back);
			Py_XDECREF(back);
		}
		pf = pyframe(frame, code, true);
		pt_thread_py_entry(t, &pf, entry_kind(frame, code));
		Py_DECREF(code);
		break;
	case PyTrace_RETURN:
		sync_thread(t, frame);
		code = PyFrame_GetCode(frame);
		pf = pyframe(frame, code, false);
		pt_thread_py_return(t, &pf, return_kind(frame, code, arg));
		Py_DECREF(code);
		break;
	case PyTrace_C_CALL:
		sync_thread(t, frame);
		pt_thread_c_entry(t, arg);
		break;
	case PyTrace_C_RETURN:
	case PyTrace_C_EXCEPTION:
		sync_thread(t, frame);
		pt_thread_c_return(t, arg, what == PyTrace_C_EXCEPTION);
		break;
	default:
		break;
	}
	return 0;
}

static int trace_cb(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
	PyThreadState *ts;

	if (what != PyTrace_EXCEPTION) {
		return 0;
	}
	ts = PyThreadState_Get();
	if (ts->c_profileobj != obj) {
		/* The program installed its own profile function: this thread is no longer
		 * traced. Close its frames and step out of the trace slot too. */
		Py_INCREF(obj);
		pt_thread_close((struct pt_thread *)obj, true);
		if (_PyEval_SetTrace(ts, NULL, NULL) < 0) {
			PyErr_Clear();
		}
		Py_DECREF(obj);
		return 0;
	}
	if (arg && PyTuple_Check(arg) && PyTuple_GET_SIZE(arg) > 0) {
		struct pt_thread *t = (struct pt_thread *)obj;
		PyCodeObject *code = PyFrame_GetCode(frame);
		struct pt_pyframe pf = pyframe(frame, code, true);

		sync_thread(t, frame);
		pt_thread_exception(t, &pf, PyTuple_GET_ITEM(arg, 0));
		Py_DECREF(code);
	}
	return 0;
}

int pt_hook_install_thread(struct pt_interp *pi, PyThreadState *ts)
{
	struct pt_thread *t;

	if (pi->eval_hook) {
		return 0; /* the evaluation function covers every thread */
	}
	if (ts->c_profilefunc == profile_cb) {
		return 0;
	}
	/* The only profile function we replace is our own threading trampoline. */
	if (ts->c_profilefunc && !(pi->thread_hook && ts->c_profileobj == pi->thread_hook)) {
		return -EBUSY;
	}
	t = pt_thread_new(pi);
	if (!t) {
		pt_log_pyerr("cannot create a thread state object");
		return -ENOMEM;
	}
	if (_PyEval_SetProfile(ts, profile_cb, (PyObject *)t) < 0) {
		Py_DECREF(t);
		pt_log_pyerr("cannot install the profile hook");
		return -EIO;
	}
	/* Our own stale trace hook (from before the program took the profile slot) is replaced:
	 * freeing its object closes the frames it still had open. Fast mode goes without: 3.8-3.11
	 * call a trace function for every line too, which would cost more than the records. */
	if (pt_interp_mode(pi) == PT_MODE_EVENTS && (!ts->c_tracefunc || ts->c_tracefunc == trace_cb) &&
	    _PyEval_SetTrace(ts, trace_cb, (PyObject *)t) < 0) {
		/* Only exception events are lost; the call stream is complete. */
		pt_log_pyerr("cannot install the exception hook");
	}
	Py_DECREF(t);
	return 0;
}

static void uninstall_thread(struct pt_interp *pi, PyThreadState *ts, bool emit)
{
	PyObject *obj = NULL;

	if (ts->c_profilefunc == profile_cb) {
		obj = ts->c_profileobj;
	} else if (ts->c_tracefunc == trace_cb) {
		obj = ts->c_traceobj;
	}
	if (obj) {
		Py_INCREF(obj);
		pt_thread_close((struct pt_thread *)obj, emit);
	}
	if (ts->c_profilefunc == profile_cb ||
	    (pi->thread_hook && ts->c_profileobj == pi->thread_hook)) {
		if (_PyEval_SetProfile(ts, NULL, NULL) < 0) {
			pt_log_pyerr("cannot remove the profile hook");
		}
	}
	if (ts->c_tracefunc == trace_cb && _PyEval_SetTrace(ts, NULL, NULL) < 0) {
		pt_log_pyerr("cannot remove the exception hook");
	}
	Py_XDECREF(obj);
}

static int event_what(PyObject *event)
{
	static const struct {
		const char *name;
		int what;
	} map[] = {
		{ "call", PyTrace_CALL },	  { "return", PyTrace_RETURN },
		{ "c_call", PyTrace_C_CALL },	  { "c_return", PyTrace_C_RETURN },
		{ "c_exception", PyTrace_C_EXCEPTION },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (PyUnicode_CompareWithASCIIString(event, map[i].name) == 0) {
			return map[i].what;
		}
	}
	return -1;
}

/*
 * threading.setprofile() callable: runs on a thread started by `threading`, at its first profile
 * event, through CPython's Python-level trampoline. It puts the C hooks in place of the
 * trampoline and hands them the event it was called for.
 */
static PyObject *thread_start(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	PyThreadState *ts = PyThreadState_Get();
	struct pt_interp *pi = pt_interp_find(ts->interp);
	int what;

	(void)self;
	if (!pi || !pi->active) {
		/* Detached or stopped before this thread ran: leave it untraced. */
		if (_PyEval_SetProfile(ts, NULL, NULL) < 0) {
			PyErr_Clear();
		}
		Py_RETURN_NONE;
	}
	if (pt_hook_install_thread(pi, ts) < 0) {
		Py_RETURN_NONE;
	}
	if (nargs == 3 && PyFrame_Check(args[0]) && PyUnicode_Check(args[1])) {
		what = event_what(args[1]);
		if (what >= 0) {
			profile_cb(ts->c_profileobj, (PyFrameObject *)args[0], what, args[2]);
		}
	}
	Py_RETURN_NONE;
}

static PyMethodDef thread_start_def = {
	"_pytrace_thread_start", (PyCFunction)(void (*)(void))thread_start, METH_FASTCALL,
	"libpytrace: starts tracing a thread started by threading.",
};

static int threading_hook_install(struct pt_interp *pi, bool check_only)
{
	PyObject *threading, *prev = NULL, *res = NULL;
	int err = -EIO;

	threading = PyImport_ImportModule("threading");
	if (!threading) {
		goto out;
	}
	prev = pt_threading_getprofile(threading);
	if (!prev) {
		goto out;
	}
	if (prev != Py_None) {
		err = -EBUSY;
		goto out;
	}
	if (check_only) {
		err = 0;
		goto out;
	}
	pi->thread_hook = PyCFunction_New(&thread_start_def, NULL);
	if (!pi->thread_hook) {
		goto out;
	}
	res = PyObject_CallMethod(threading, "setprofile", "O", pi->thread_hook);
	if (!res) {
		Py_CLEAR(pi->thread_hook);
		goto out;
	}
	err = 0;
out:
	if (err == -EIO) {
		pt_log_pyerr("cannot hook threading");
	}
	Py_XDECREF(res);
	Py_XDECREF(prev);
	Py_XDECREF(threading);
	return err;
}

static void threading_hook_uninstall(struct pt_interp *pi)
{
	PyObject *threading, *cur = NULL, *res = NULL;

	if (!pi->thread_hook) {
		return;
	}
	threading = PyImport_ImportModule("threading");
	if (threading) {
		cur = pt_threading_getprofile(threading);
	}
	/* Restore only if nobody replaced our hook since. */
	if (cur == pi->thread_hook) {
		res = PyObject_CallMethod(threading, "setprofile", "O", Py_None);
	}
	if (PyErr_Occurred()) {
		pt_log_pyerr("cannot unhook threading");
	}
	Py_XDECREF(res);
	Py_XDECREF(cur);
	Py_XDECREF(threading);
}

int pt_hook_attach(struct pt_interp *pi)
{
	PyThreadState *ts;

	for (ts = PyInterpreterState_ThreadHead(pi->interp); ts; ts = PyThreadState_Next(ts)) {
		if (ts->c_profilefunc && ts->c_profilefunc != profile_cb) {
			pt_warn("cannot attach: thread %lu already has a profile function",
				ts->thread_id);
			return -EBUSY;
		}
	}
	if (threading_hook_install(pi, true) == -EBUSY) {
		pt_warn("cannot attach: threading.setprofile() already holds a profile function");
		return -EBUSY;
	}
	return 0;
}

void pt_hook_detach(struct pt_interp *pi)
{
#if PT_EVAL_HOOK
	pt_eval_detach(pi);
#else
	(void)pi;
#endif
}

int pt_hook_start(struct pt_interp *pi)
{
	PyThreadState *ts;
	int err;

#if PT_EVAL_HOOK
	if (pt_eval_usable(pi)) {
		return pt_eval_start(pi);
	}
#endif
	err = threading_hook_install(pi, false);
	if (err == -EBUSY) {
		pt_warn("threading.setprofile() holds a profile function of the program: threads "
			"started from now on are not traced");
	} else if (err) {
		return err;
	}
	for (ts = PyInterpreterState_ThreadHead(pi->interp); ts; ts = PyThreadState_Next(ts)) {
		if (pt_watch_owns(ts)) {
			continue;
		}
		err = pt_hook_install_thread(pi, ts);
		if (err == -EBUSY) {
			/* The program profiles this thread itself (since attach): it keeps it. */
			pt_debug("thread %lu has a profile function of its own: not traced",
				 ts->thread_id);
			continue;
		}
		if (err) {
			pt_hook_stop(pi, false);
			return err;
		}
	}
	return 0;
}

void pt_hook_stop(struct pt_interp *pi, bool emit)
{
	PyThreadState *ts;

#if PT_EVAL_HOOK
	if (pi->eval_hook) {
		pt_eval_stop(pi, emit);
		return;
	}
#endif
	/* The calling thread first: the Python code run below to unhook threading is ours, not the
	 * program's. Other threads only after it, because calling into threading may hand the
	 * GIL to a thread that must still find its hook to remove. */
	uninstall_thread(pi, PyThreadState_Get(), emit);
	threading_hook_uninstall(pi);
	Py_CLEAR(pi->thread_hook);
	for (ts = PyInterpreterState_ThreadHead(pi->interp); ts; ts = PyThreadState_Next(ts)) {
		uninstall_thread(pi, ts, emit);
	}
}

void pt_hook_foreach_thread(struct pt_interp *pi, void (*fn)(struct pt_thread *t))
{
	if (pi->eval_hook) {
		pt_tstate_foreach(pi, fn);
		return;
	}
	for (PyThreadState *ts = PyInterpreterState_ThreadHead(pi->interp); ts;
	     ts = PyThreadState_Next(ts)) {
		if (ts->c_profilefunc == profile_cb) {
			fn((struct pt_thread *)ts->c_profileobj);
		}
	}
}

void pt_hook_config_changed(struct pt_interp *pi)
{
	(void)pi;
}
