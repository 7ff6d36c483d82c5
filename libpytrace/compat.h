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
#endif

/* The globals of a frame, borrowed (the running frame keeps them alive). */
static inline PyObject *pt_frame_globals(PyFrameObject *frame)
{
	PyObject *g = PyFrame_GetGlobals(frame);

	Py_XDECREF(g);
	return g;
}

#endif /* PYTRACE_COMPAT_H */
