/* SPDX-License-Identifier: MIT */
/*
 * Fast mode's hook on CPython 3.11: the frame evaluation function (PEP 523), per interpreter.
 *
 * A profile function makes 3.11 run every instruction of every frame on its slow path (an empty
 * C profile function alone triples the time of a call-heavy program), and fast mode needs no
 * more than calls and returns. The evaluation function sees each frame as CPython starts or
 * resumes evaluating it and as it leaves, for every thread of the interpreter, whoever created
 * it; with it set, 3.11 also stops inlining Python-to-Python calls, so no frame escapes it. It
 * wraps _PyEval_EvalFrameDefault():
 * - entry: a frame whose evaluation starts; a generator or coroutine frame stopped at a
 *   YIELD_VALUE resumes. The run that only creates a generator (up to RETURN_GENERATOR, before
 *   the code's first traceable instruction) is no call: the profile hook does not report it
 *   either;
 * - return: NULL is an unwind; a generator frame left at a YIELD_VALUE yields.
 * The same events as the profile hook's, which run-fast checks record by record.
 *
 * Frames keep their _PyInterpreterFrame address as key (stable while they are open: on the
 * thread's data stack, or inside their generator). A frame that was running when the hook was
 * installed returns without passing through it; the next entry finds that its caller is not the
 * top of the shadow stack and closes the frames that returned unseen with `detach` returns.
 *
 * Used only when the mode is fast, C calls are off (C functions have no frame: they need the
 * profile hook), the interpreter runs the default evaluation function (a debugger or a JIT may
 * have installed its own; one that replaces this function later makes the watcher switch to the
 * profile hook, and this one, if still called, then passes frames through) and
 * CPython is 3.11.4 or later (3.11.0-3.11.3 inline a Python
 * __getitem__ without calling it: gh-104405). PYTRACE_FAST_HOOK=profile chooses the profile hook
 * instead.
 *
 * The layout of _PyInterpreterFrame comes from CPython's internal headers (stable within 3.11).
 * GIL held everywhere.
 */
#include "internal.h"

#include <errno.h>
#include <opcode.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-bp.h>

#define Py_BUILD_CORE 1
#include <internal/pycore_frame.h>
#undef Py_BUILD_CORE

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030C0000
#error "hook-eval.c is fast mode's hook on CPython 3.11"
#endif

#define GEN_FLAGS (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR)
#define SYNC_MAX 4096 /* frames pushed at a thread's first event, innermost kept */

/* The opcode the frame stopped at, -1 if it has not run. */
static inline int opcode_at(const _PyInterpreterFrame *f)
{
	int lasti = _PyInterpreterFrame_LASTI(f);

	if (lasti < 0 || lasti >= Py_SIZE(f->f_code)) {
		return -1;
	}
	return _Py_OPCODE(_PyCode_CODE(f->f_code)[lasti]);
}

/* No offset: fast mode's records carry no line (a mode change replaces this hook). */
static inline struct pt_pyframe pyframe(_PyInterpreterFrame *f)
{
	struct pt_pyframe pf = {
		.key = f,
		.code = f->f_code,
		.globals = f->f_globals,
		.frame = NULL,
	};

	return pf;
}

/* The frame running on the thread below @f, skipping frames still being set up (as
 * PyFrame_GetBack() does). */
static inline _PyInterpreterFrame *complete(_PyInterpreterFrame *f)
{
	while (f && _PyFrame_IsIncomplete(f)) {
		f = f->previous;
	}
	return f;
}

/* First event of the thread: push the frames running on it, @top and its callers. */
static __attribute__((noinline)) void sync_thread(struct pt_thread *t, _PyInterpreterFrame *top)
{
	struct pt_pyframe *frames = NULL;
	_PyInterpreterFrame *f;
	size_t n = 0, i;

	for (f = complete(top); f && n < SYNC_MAX; f = complete(f->previous)) {
		n++;
	}
	if (n) {
		frames = PyMem_RawMalloc(n * sizeof(*frames));
	}
	if (!frames) {
		n = 0;
	}
	/* Outermost first (of the innermost SYNC_MAX). */
	i = n;
	for (f = complete(top); f && i > 0; f = complete(f->previous)) {
		frames[--i] = pyframe(f);
	}
	pt_thread_sync_frames(t, frames, n);
	PyMem_RawFree(frames);
}

/* The caller @parent of a frame starting is not on top of the shadow stack: the frames above the
 * innermost of its callers that is there returned without passing through the hook (they were
 * running when it was installed). None there: every open frame is stale. */
static __attribute__((noinline)) void settle(struct pt_thread *t, _PyInterpreterFrame *parent)
{
	for (_PyInterpreterFrame *f = parent; f; f = f->previous) {
		size_t i = pt_thread_find(t, f);

		if (i) {
			pt_thread_pop_above(t, i);
			return;
		}
	}
	pt_thread_pop_above(t, 0);
}

static PyObject *eval_cb(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag)
{
	PyCodeObject *code = f->f_code;
	_PyInterpreterFrame *parent;
	struct pt_pyframe pf;
	struct pt_thread *t;
	enum pt_entry_kind entry = PT_ENTRY_CALL;
	enum pt_return_kind ret = PT_RETURN_RETURN;
	PyObject *res;

	if (__builtin_expect(code->co_flags & GEN_FLAGS, 0)) {
		int op = opcode_at(f);

		/* The call that creates the generator: no event (see above). */
		if (op < 0 && f->owner == FRAME_OWNED_BY_THREAD) {
			return _PyEval_EvalFrameDefault(ts, f, throwflag);
		}
		entry = op == YIELD_VALUE ? PT_ENTRY_RESUME : PT_ENTRY_CALL;
	}
	/* NULL too while this function runs but is not the hook (pi->eval_hook): called by one
	 * that replaced it, or put back by one that had (tstate.c). */
	t = pt_tstate_thread(ts);
	if (__builtin_expect(!t, 0)) {
		return _PyEval_EvalFrameDefault(ts, f, throwflag);
	}
	parent = ts->cframe->current_frame;
	if (__builtin_expect(!t->synced, 0)) {
		sync_thread(t, parent);
	} else if (__builtin_expect(t->depth && t->stack[t->depth - 1].key != (void *)parent, 0)) {
		settle(t, parent);
	}
	/* The hook may be removed, and this object dropped, while the frame runs. */
	Py_INCREF(t);
	pf = pyframe(f);
	pt_thread_py_entry(t, &pf, entry);

	res = _PyEval_EvalFrameDefault(ts, f, throwflag);

	if (!res) {
		PyObject *type, *value, *tb;

		PyErr_Fetch(&type, &value, &tb);
		pt_thread_py_return(t, &pf, PT_RETURN_UNWIND);
		PyErr_Restore(type, value, tb);
	} else {
		if (__builtin_expect(code->co_flags & GEN_FLAGS, 0) && opcode_at(f) == YIELD_VALUE) {
			ret = PT_RETURN_YIELD;
		}
		pt_thread_py_return(t, &pf, ret);
	}
	Py_DECREF(t);
	return res;
}

bool pt_eval_usable(struct pt_interp *pi)
{
	const char *env = getenv("PYTRACE_FAST_HOOK");
	const struct pt_config *cfg;
	bool want;

	if (env && *env && strcmp(env, "auto") != 0 && strcmp(env, "profile") != 0) {
		pt_warn("PYTRACE_FAST_HOOK: unknown hook '%s' (auto or profile); using auto", env);
	}
	urcu_bp_read_lock();
	cfg = rcu_dereference(pi->cfg);
	want = cfg->mode == PT_MODE_FAST && !cfg->c_calls;
	urcu_bp_read_unlock();
	if (!want || (env && strcmp(env, "profile") == 0)) {
		return false;
	}
	/* Before 3.11.4, BINARY_SUBSCR_GETITEM ran a Python __getitem__ without calling the
	 * evaluation function (CPython gh-104405): those frames would be missing. */
	if (Py_Version < 0x030B0400) {
		pt_debug("CPython %s runs some frames without the frame evaluation function: fast mode "
			 "uses the profile hook", Py_GetVersion());
		return false;
	}
	if (_PyInterpreterState_GetEvalFrameFunc(pi->interp) != _PyEval_EvalFrameDefault) {
		pt_debug("the interpreter runs another frame evaluation function: fast mode uses the "
			"profile hook");
		return false;
	}
	return true;
}

int pt_eval_start(struct pt_interp *pi)
{
	_PyInterpreterState_SetEvalFrameFunc(pi->interp, eval_cb);
	pi->eval_hook = true;
	pt_debug("fast mode hook: frame evaluation function");
	return 0;
}

bool pt_eval_replaced(const struct pt_interp *pi)
{
	return pi->eval_hook && _PyInterpreterState_GetEvalFrameFunc(pi->interp) != eval_cb;
}

void pt_eval_detach(struct pt_interp *pi)
{
	if (_PyInterpreterState_GetEvalFrameFunc(pi->interp) == eval_cb) {
		_PyInterpreterState_SetEvalFrameFunc(pi->interp, _PyEval_EvalFrameDefault);
	}
}

void pt_eval_stop(struct pt_interp *pi, bool emit)
{
	if (!pi->eval_hook) {
		return;
	}
	/* Restore only our own: whoever replaced it since keeps it. */
	if (_PyInterpreterState_GetEvalFrameFunc(pi->interp) == eval_cb) {
		_PyInterpreterState_SetEvalFrameFunc(pi->interp, _PyEval_EvalFrameDefault);
	}
	pi->eval_hook = false;
	for (PyThreadState *ts = PyInterpreterState_ThreadHead(pi->interp); ts;
	     ts = PyThreadState_Next(ts)) {
		pt_tstate_thread_remove(pi, ts, emit);
	}
}
