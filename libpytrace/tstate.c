/* SPDX-License-Identifier: MIT */
/*
 * The struct pt_thread of a thread state, kept in the thread state's dict (PT_THREAD_KEY), for
 * the backends whose hooks get no per-thread argument: sys.monitoring (3.12+) and the frame
 * evaluation hook (fast mode on 3.11). The current thread's is cached per OS thread, keyed by
 * the thread state and by pt_thread_gen (bumped when any struct pt_thread is freed or taken off
 * its thread state, so a reused thread state address never finds a stale object).
 *
 * GIL held everywhere.
 */
#include "internal.h"

#include <string.h>

__thread struct pt_tls_cache pt_tls __attribute__((tls_model("initial-exec")));

static bool is_thread_obj(PyObject *obj)
{
	return obj && strcmp(Py_TYPE(obj)->tp_name, "pytrace.ThreadState") == 0;
}

struct pt_thread *pt_tstate_thread_of(PyThreadState *ts, struct pt_interp *pi)
{
	PyObject *obj;

	/* Another thread's dict: read the field (PyThreadState_GetDict() is the caller's). */
	if (!ts->dict) {
		return NULL;
	}
	obj = PyDict_GetItemString(ts->dict, PT_THREAD_KEY);
	if (!is_thread_obj(obj) || ((struct pt_thread *)obj)->pi != pi) {
		return NULL;
	}
	return (struct pt_thread *)obj;
}

struct pt_thread *pt_tstate_thread_slow(PyThreadState *ts)
{
	unsigned int gen = __atomic_load_n(&pt_thread_gen, __ATOMIC_ACQUIRE);
	struct pt_interp *pi;
	struct pt_thread *t;
	bool closing;

	if (!ts) {
		return NULL;
	}
	pi = pt_interp_find(ts->interp);
	if (!pi) {
		return NULL;
	}
	closing = __atomic_load_n(&pi->closing, __ATOMIC_ACQUIRE);
	/* Finalizing: the thread states may be cleared already; PyThreadState_GetDict() would
	 * give a cleared one a new dict that nobody frees. */
	if (!ts->dict && !closing) {
		PyThreadState_GetDict();
	}
	t = pt_tstate_thread_of(ts, pi);
	if (!t) {
		if (closing || !ts->dict) {
			PyErr_Clear();
			return NULL;
		}
#if PT_EVAL_HOOK
		/* 3.11 keeps only the frame evaluation function's state here. It runs while not the
		 * hook when another function that replaced it calls it, or put it back: nothing to
		 * record then (the profile hook has taken over). */
		if (!pi->eval_hook) {
			return NULL;
		}
#endif
		/* PyDict_SetItemString() would intern the key, which 3.12+ never frees. */
		PyObject *key = PyUnicode_FromString(PT_THREAD_KEY);

		t = key ? pt_thread_new(pi) : NULL;
		if (!t || PyDict_SetItem(ts->dict, key, (PyObject *)t) < 0) {
			Py_XDECREF(t);
			Py_XDECREF(key);
			pt_log_pyerr("cannot keep a thread's state");
			return NULL;
		}
		Py_DECREF(key);
		Py_DECREF(t); /* the dict holds it */
	}
	pt_tls.ts = ts;
	pt_tls.gen = gen;
	pt_tls.t = t;
	return t;
}

void pt_tstate_thread_remove(struct pt_interp *pi, PyThreadState *ts, bool emit)
{
	struct pt_thread *t = pt_tstate_thread_of(ts, pi);

	if (!t) {
		return;
	}
	Py_INCREF(t);
	pt_thread_close(t, emit);
	if (PyDict_DelItemString(ts->dict, PT_THREAD_KEY) < 0) {
		PyErr_Clear();
	}
	__atomic_add_fetch(&pt_thread_gen, 1, __ATOMIC_RELAXED);
	Py_DECREF(t);
}

void pt_tstate_foreach(struct pt_interp *pi, void (*fn)(struct pt_thread *t))
{
	for (PyThreadState *ts = PyInterpreterState_ThreadHead(pi->interp); ts;
	     ts = PyThreadState_Next(ts)) {
		struct pt_thread *t = pt_tstate_thread_of(ts, pi);

		if (t) {
			fn(t);
		}
	}
}
