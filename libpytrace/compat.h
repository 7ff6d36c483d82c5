/* SPDX-License-Identifier: MIT */
/*
 * The CPython API differences between the versions libpytrace supports (3.8-3.13), reduced to
 * the few calls it makes. Everything else in libpytrace uses the 3.11 spelling and this header
 * maps it onto older or newer interpreters.
 *
 * Backends: 3.8-3.11 use the profile/trace hooks (hook-legacy.c); 3.12+ use sys.monitoring
 * (hook-monitor.c), selected by PT_MONITORING.
 */
#ifndef PYTRACE_COMPAT_H
#define PYTRACE_COMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

#if PY_VERSION_HEX < 0x03080000 || PY_VERSION_HEX >= 0x030E0000
#error "libpytrace supports CPython 3.8 to 3.13"
#endif

#define PT_MONITORING (PY_VERSION_HEX >= 0x030C0000)

/* ---- 3.12+: the unstable API got its names ---- */
#if PY_VERSION_HEX >= 0x030C0000
#define pt_code_extra_index(free) PyUnstable_Eval_RequestCodeExtraIndex(free)
#define pt_code_get_extra(code, index, extra) PyUnstable_Code_GetExtra(code, index, extra)
#define pt_code_set_extra(code, index, extra) PyUnstable_Code_SetExtra(code, index, extra)
#else
#define pt_code_extra_index(free) _PyEval_RequestCodeExtraIndex(free)
#define pt_code_get_extra(code, index, extra) _PyCode_GetExtra(code, index, extra)
#define pt_code_set_extra(code, index, extra) _PyCode_SetExtra(code, index, extra)
#endif

/* ---- 3.13: PyThreadState_GetUnchecked() replaces the private spelling ---- */
#if PY_VERSION_HEX >= 0x030D0000
#define pt_tstate_unchecked() PyThreadState_GetUnchecked()
#else
#define pt_tstate_unchecked() _PyThreadState_UncheckedGet()
#endif

/* ---- the pending exception, saved around our own Python calls (3.12 deprecated Fetch) ---- */
struct pt_exc {
	PyObject *type, *value, *tb;
};

static inline struct pt_exc pt_exc_save(void)
{
	struct pt_exc e = { NULL, NULL, NULL };

#if PY_VERSION_HEX >= 0x030C0000
	e.value = PyErr_GetRaisedException();
#else
	PyErr_Fetch(&e.type, &e.value, &e.tb);
#endif
	return e;
}

static inline void pt_exc_restore(struct pt_exc e)
{
#if PY_VERSION_HEX >= 0x030C0000
	PyErr_SetRaisedException(e.value);
#else
	PyErr_Restore(e.type, e.value, e.tb);
#endif
}

/* ---- 3.8-3.10: frame accessors that 3.9/3.11 added ---- */
#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *pt_compat_newref(PyObject *o)
{
	Py_INCREF(o);
	return o;
}
static inline PyObject *pt_compat_xnewref(PyObject *o)
{
	Py_XINCREF(o);
	return o;
}
#define Py_NewRef(o) pt_compat_newref((PyObject *)(o))
#define Py_XNewRef(o) pt_compat_xnewref((PyObject *)(o))
#endif

#if PY_VERSION_HEX < 0x030B0000
static inline PyObject *PyFrame_GetGlobals(PyFrameObject *frame)
{
	return Py_NewRef(frame->f_globals);
}

/* The offset in bytes of the last instruction started, -1 before the first (3.10 counts in
 * code units). */
static inline int PyFrame_GetLasti(PyFrameObject *frame)
{
#if PY_VERSION_HEX >= 0x030A0000
	return frame->f_lasti < 0 ? -1 : frame->f_lasti * (int)sizeof(_Py_CODEUNIT);
#else
	return frame->f_lasti;
#endif
}

/* At a profile RETURN with a value: whether the frame is suspended (a yield, or an await that
 * suspends) rather than finished. The evaluation loop marks it before calling the hook: 3.10
 * with f_state, 3.8/3.9 by keeping the value stack (f_stacktop, reset to NULL when the frame
 * starts or resumes). Checked on 3.8.18, 3.9.18 and 3.10.13. 3.11 has no such mark: there
 * hook-legacy.c reads the opcode at lasti. */
static inline int pt_frame_suspended(PyFrameObject *frame)
{
#if PY_VERSION_HEX >= 0x030A0000
	return frame->f_state == FRAME_SUSPENDED;
#else
	return frame->f_stacktop != NULL;
#endif
}
#endif

/* ---- threading.getprofile() is 3.10+: before, the module global that setprofile() sets ---- */
static inline PyObject *pt_threading_getprofile(PyObject *threading)
{
#if PY_VERSION_HEX >= 0x030A0000
	return PyObject_CallMethod(threading, "getprofile", NULL);
#else
	return PyObject_GetAttrString(threading, "_profile_hook");
#endif
}

/* ---- 3.8: what 3.9 added or made public ---- */
#if PY_VERSION_HEX < 0x03090000
static inline PyCodeObject *PyFrame_GetCode(PyFrameObject *frame)
{
	Py_INCREF(frame->f_code);
	return frame->f_code;
}

static inline PyFrameObject *PyFrame_GetBack(PyFrameObject *frame)
{
	Py_XINCREF(frame->f_back);
	return frame->f_back;
}

#define PyInterpreterState_Get _PyInterpreterState_Get

/*
 * 3.8 exports no setter of another thread's hooks. The profile hook is only fields of the thread
 * state: set as PyEval_SetProfile() sets them for the current thread (older yappi sets them
 * directly too). The previous object is released only once the hook no longer refers to it, as
 * releasing it may run code. Never fails.
 */
static inline int _PyEval_SetProfile(PyThreadState *ts, Py_tracefunc func, PyObject *arg)
{
	PyObject *old = ts->c_profileobj;

	Py_XINCREF(arg);
	ts->c_profilefunc = NULL;
	ts->c_profileobj = NULL;
	ts->use_tracing = ts->c_tracefunc != NULL;
	Py_XDECREF(old);
	ts->c_profilefunc = func;
	ts->c_profileobj = arg;
	ts->use_tracing = func != NULL || ts->c_tracefunc != NULL;
	return 0;
}

/*
 * The trace hook also counts in a runtime-wide counter (`tracing_possible`, which gates line
 * events) that only the internal API reaches; setting the fields alone would leave it wrong once
 * the program takes the slot over (its tracer would then miss line events). So
 * PyEval_SetTrace() runs with @ts made current for the time of the call: swapping thread states
 * under the GIL, as debuggers attaching to running threads do. @ts's thread is not running (we
 * hold the GIL), and nothing of the call touches the real thread's stack. Never fails.
 */
static inline int _PyEval_SetTrace(PyThreadState *ts, Py_tracefunc func, PyObject *arg)
{
	PyThreadState *cur = PyThreadState_Swap(ts);

	PyEval_SetTrace(func, arg);
	PyThreadState_Swap(cur);
	return 0;
}
#endif

/* A dict's version tag: changed by every change of the dict, and unique among the live and
 * past dicts of an interpreter (a global counter). 3.12 deprecates reading it (it stays, and is
 * maintained, through 3.13). */
static inline uint64_t pt_dict_version(PyObject *dict)
{
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
	return ((PyDictObject *)dict)->ma_version_tag;
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
}

/* The globals of a frame, borrowed (the running frame keeps them alive). */
static inline PyObject *pt_frame_globals(PyFrameObject *frame)
{
	PyObject *g = PyFrame_GetGlobals(frame);

	Py_XDECREF(g);
	return g;
}

#endif /* PYTRACE_COMPAT_H */
