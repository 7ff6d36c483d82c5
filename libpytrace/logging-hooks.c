/* SPDX-License-Identifier: MIT */
/*
 * logging-hooks.c: where the forwarder sits in Python `logging`, invisible to the program.
 *
 * The official agent puts its handler on the root logger and sets the root level to NOTSET:
 * it records every record whose logger's effective level, with the root's taken as NOTSET,
 * allows it, that the logger (`disabled`, its filters) lets through, and whose propagation
 * chain reaches the root logger. Doing the same would change the program's output (basicConfig()
 * sees a handler, lastResort no longer fires, the program's root handlers get DEBUG/INFO). So,
 * while a session records, three methods of logging.Logger are wrapped at class level instead:
 *
 * - isEnabledFor(level): the original's answer, or true where the agent's view allows the level
 *   (so that the record the agent would record is created); a true that is ours only marks
 *   the (logger, level) for the thread: the record it creates does not exist untraced;
 * - handle(record): the marked record goes through `disabled` and the logger's filters, then
 *   to LTTng; it never reaches callHandlers() (the program's own, a subclass's), so no code of
 *   the program's handlers ever sees it;
 * - callHandlers(record): the original (a record handed to logger.handle() directly exists
 *   untraced too), then the record to LTTng if the chain reaches the root logger (after the
 *   program's handlers, as the agent's handler on root comes after those of the loggers below).
 *
 * Root level and handlers, basicConfig(), lastResort and the managers' isEnabledFor caches
 * (which only ever hold the original answers) are never touched. A wrapper is put back only if
 * it is still the class's attribute: a program that replaced it after us keeps its own, and the
 * wrappers it still calls pass through while no session records.
 *
 * GIL: everything here runs with the GIL of the interpreter the hooks belong to. The per-thread
 * state (tl_*) tells nested calls of one thread apart.
 */
#include "logging.h"

#include <string.h>

#include <structmember.h>

#if PY_VERSION_HEX < 0x03090000
#define PyObject_Vectorcall _PyObject_Vectorcall
#endif

#define HOOKS_CAPSULE "_libpytrace_loghooks"

enum { H_ISENABLED, H_HANDLE, H_CALLHANDLERS, H_COUNT };

static const char *const hook_names[H_COUNT] = { "isEnabledFor", "handle", "callHandlers" };

enum {
	K_LEVEL,
	K_PARENT,
	K_PROPAGATE,
	K_DISABLED,
	K_MANAGER,
	K_DISABLE,
	K_FILTER,
	K_LEVELNO,
	K_COUNT,
};

static const char *const key_names[K_COUNT] = { "level",    "parent",  "propagate", "disabled",
						"manager",  "disable", "filter",   "levelno" };

/* Shared by the wrappers of one interpreter (a capsule each wrapper holds). */
struct hookstate {
	PyObject *handler; /* the LTTngHandler instance that formats and records */
	PyObject *root;	   /* logging.root */
	PyObject *record_cls; /* logging.LogRecord */
	PyObject *name[H_COUNT];
	PyObject *key[K_COUNT];
	bool active;	      /* a session records: the wrappers act */
};

struct pt_loghooks {
	PyObject *state;    /* capsule of struct hookstate */
	PyObject *cls;	    /* logging.Logger */
	PyObject *type;	    /* the wrappers' type (LoggerMethod) */
	/* The wrappers we set on it (NULL: none). One the program replaced stays here while its
	 * replacement may call it: it acts again when a session records, and is not wrapped
	 * twice. */
	PyObject *wrapper[H_COUNT];
};

/* A wrapper: a callable bound like a Python function (a method descriptor), so that
 * `Logger.callHandlers` read and set back by a program keeps working. */
struct wrapper {
	PyObject_HEAD
#if PY_VERSION_HEX >= 0x03090000
	vectorcallfunc vectorcall;
#endif
	PyObject *state; /* capsule of struct hookstate */
	PyObject *orig;	 /* the function it wraps */
	int kind;	 /* H_* */
};

/* The last isEnabledFor() of this thread that answered true only for LTTng: its logger
 * (borrowed, compared only) and level. The record it lets the logger create is the next one its
 * handle() gets at that level (Logger.debug() & co. call isEnabledFor(), then _log(), which
 * runs no code of the program's in between but a LogRecord factory). Also the record our
 * callHandlers() is running the original for. */
static _Thread_local PyObject *tl_mark;
static _Thread_local long tl_mark_level;
static _Thread_local PyObject *tl_record;

static void hookstate_free(PyObject *cap)
{
	struct hookstate *st = PyCapsule_GetPointer(cap, HOOKS_CAPSULE);

	if (!st) {
		PyErr_Clear();
		return;
	}
	Py_XDECREF(st->handler);
	Py_XDECREF(st->root);
	Py_XDECREF(st->record_cls);
	for (size_t i = 0; i < H_COUNT; i++) {
		Py_XDECREF(st->name[i]);
	}
	for (size_t i = 0; i < K_COUNT; i++) {
		Py_XDECREF(st->key[i]);
	}
	PyMem_RawFree(st);
}

static struct hookstate *state_of(struct wrapper *w)
{
	return PyCapsule_GetPointer(w->state, HOOKS_CAPSULE);
}

/* Truth of @obj.@key: 1, 0, or -1 with an exception. */
static int attr_true(PyObject *obj, PyObject *key)
{
	PyObject *v = PyObject_GetAttr(obj, key);
	int t;

	if (!v) {
		return -1;
	}
	t = PyObject_IsTrue(v);
	Py_DECREF(v);
	return t;
}

/* One step up the chain a record of *@c (a strong reference, not the root) travels: to its
 * parent if it propagates. 1: moved; 0: the chain stops before the root (`propagate = False`,
 * or a Logger outside the hierarchy); -1 with an exception. *@c is released unless moved. */
static int step_up(struct hookstate *st, PyObject **c)
{
	PyObject *next;
	int t;

	if ((t = attr_true(*c, st->key[K_PROPAGATE])) <= 0) {
		Py_DECREF(*c);
		return t;
	}
	next = PyObject_GetAttr(*c, st->key[K_PARENT]);
	Py_DECREF(*c);
	if (!next) {
		return -1;
	}
	if (next == Py_None) {
		Py_DECREF(next);
		return 0;
	}
	*c = next;
	return 1;
}

/* Whether the official agent's handler on the root logger would get the records that @logger
 * hands to its handlers: no `propagate = False` before the root. 1, 0, -1 with an exception. */
static int reaches_root(struct hookstate *st, PyObject *logger)
{
	PyObject *c = Py_NewRef(logger);
	int t;

	while (c != st->root) {
		if ((t = step_up(st, &c)) <= 0) {
			return t;
		}
	}
	Py_DECREF(c);
	return 1;
}

/* isEnabledFor(@level) as the official agent makes it (the root level taken as NOTSET), and
 * the record's chain reaching the root: whether the agent would record at @level. 1, 0, -1. */
static int agent_enabled_for(struct hookstate *st, PyObject *logger, PyObject *level_obj,
			     long *levelp)
{
	PyObject *manager, *v, *c;
	long level, lv;
	bool eff_found = false;
	int t;

	if (!pt_logging_tp_enabled() || !PyLong_Check(level_obj)) {
		return 0;
	}
	level = *levelp = PyLong_AsLong(level_obj);
	if (level == -1 && PyErr_Occurred()) {
		return -1;
	}
	if ((t = attr_true(logger, st->key[K_DISABLED])) != 0) {
		return t < 0 ? -1 : 0;
	}
	manager = PyObject_GetAttr(logger, st->key[K_MANAGER]);
	if (!manager) {
		return -1;
	}
	v = PyObject_GetAttr(manager, st->key[K_DISABLE]);
	Py_DECREF(manager);
	if (!v) {
		return -1;
	}
	lv = PyLong_Check(v) ? PyLong_AsLong(v) : 0;
	Py_DECREF(v);
	if (lv >= level) {
		return 0;
	}
	/* getEffectiveLevel() up to the root (whose level counts as NOTSET), and the chain. */
	c = Py_NewRef(logger);
	while (c != st->root) {
		if (!eff_found) {
			v = PyObject_GetAttr(c, st->key[K_LEVEL]);
			if (!v) {
				goto fail;
			}
			lv = PyLong_Check(v) ? PyLong_AsLong(v) : 0;
			Py_DECREF(v);
			if (lv != 0) {
				if (level < lv) {
					Py_DECREF(c);
					return 0;
				}
				eff_found = true;
			}
		}
		if ((t = step_up(st, &c)) <= 0) {
			return t;
		}
	}
	Py_DECREF(c);
	return eff_found || level >= 0;
fail:
	Py_DECREF(c);
	return -1;
}

static PyObject *w_isenabled(struct wrapper *w, PyObject *const *args, Py_ssize_t nargs,
			     PyObject *kwnames)
{
	struct hookstate *st = state_of(w);
	PyObject *res;
	long level;
	int t;

	res = PyObject_Vectorcall(w->orig, args, nargs, kwnames);
	if (!res || res == Py_True || !st || !st->active || nargs != 2 || kwnames) {
		return res;
	}
	t = agent_enabled_for(st, args[0], args[1], &level);
	if (t < 0) {
		PyErr_Clear(); /* never an error of ours in the program */
		return res;
	}
	if (t) {
		tl_mark = args[0];
		tl_mark_level = level;
		Py_DECREF(res);
		return Py_NewRef(Py_True);
	}
	return res;
}

/* Whether @record, given to @logger, is the one the mark allowed (then the mark is used up):
 * a record that exists for LTTng only. */
static bool take_mark(struct hookstate *st, PyObject *logger, PyObject *record)
{
	PyObject *v;
	long level;

	if (tl_mark != logger) {
		return false;
	}
	v = PyObject_GetAttr(record, st->key[K_LEVELNO]);
	level = v && PyLong_Check(v) ? PyLong_AsLong(v) : -1;
	Py_XDECREF(v);
	PyErr_Clear();
	if (level != tl_mark_level) {
		return false;
	}
	tl_mark = NULL;
	return true;
}

/* A record made for LTTng only: Logger.handle() as the official agent's records go through it
 * (`disabled`, the logger's filters), then LTTng if the chain reaches the root; the logger's
 * callHandlers() (the program's, a subclass's) never sees it. */
static PyObject *forward_only(struct hookstate *st, PyObject *logger, PyObject *record)
{
	PyObject *rv = NULL;

	if (attr_true(logger, st->key[K_DISABLED]) != 0) {
		goto out;
	}
	rv = PyObject_CallMethodObjArgs(logger, st->key[K_FILTER], record, NULL);
	if (!rv || PyObject_IsTrue(rv) <= 0) {
		goto out;
	}
#if PY_VERSION_HEX >= 0x030C0000
	/* 3.12+: a filter may hand back another record to log. */
	if (PyObject_TypeCheck(rv, (PyTypeObject *)st->record_cls)) {
		record = rv;
	}
#endif
	if (reaches_root(st, logger) > 0) {
		pt_logging_emit(st->handler, record, true);
	}
out:
	Py_XDECREF(rv);
	/* Untraced, this record does not exist: nor does an error about it, unless it is
	 * KeyboardInterrupt & co. (which propagate from Python's own handlers too). */
	if (PyErr_Occurred()) {
		if (!PyErr_ExceptionMatches(PyExc_Exception)) {
			return NULL;
		}
		PyErr_Clear();
	}
	Py_RETURN_NONE;
}

static PyObject *w_handle(struct wrapper *w, PyObject *const *args, Py_ssize_t nargs,
			  PyObject *kwnames)
{
	struct hookstate *st = state_of(w);

	if (!st || !st->active || nargs != 2 || kwnames || tl_mark != args[0] ||
	    !take_mark(st, args[0], args[1])) {
		return PyObject_Vectorcall(w->orig, args, nargs, kwnames);
	}
	return forward_only(st, args[0], args[1]);
}

static PyObject *w_callhandlers(struct wrapper *w, PyObject *const *args, Py_ssize_t nargs,
				PyObject *kwnames)
{
	PyObject *orig = w->orig, *res, *logger, *record, *saved = tl_record;
	struct hookstate *st = state_of(w);
	bool widened;
	int t;

	if (!st || !st->active || nargs != 2 || kwnames ||
	    args[1] == tl_record) {
		return PyObject_Vectorcall(orig, args, nargs, kwnames);
	}
	logger = args[0];
	record = args[1];
	/* (a subclass's handle() that does not call Logger.handle()) */
	widened = tl_mark == logger && take_mark(st, logger, record);
	if (widened) {
		/* made for LTTng only: the program's handlers never see it */
		res = Py_NewRef(Py_None);
	} else {
		tl_record = record;
		res = PyObject_Vectorcall(orig, args, nargs, kwnames);
		tl_record = saved;
		if (!res) {
			return NULL;
		}
	}
	t = reaches_root(st, logger);
	if (t < 0) {
		PyErr_Clear();
	} else if (t && pt_logging_emit(st->handler, record, widened) < 0) {
		Py_DECREF(res);
		return NULL; /* KeyboardInterrupt & co., as from Python's own handlers */
	}
	return res;
}

typedef PyObject *(*hook_fn)(struct wrapper *w, PyObject *const *args, Py_ssize_t nargs,
			    PyObject *kwnames);

static const hook_fn hook_fns[H_COUNT] = { w_isenabled, w_handle, w_callhandlers };

static PyObject *wrapper_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf,
				    PyObject *kwnames)
{
	struct wrapper *w = (struct wrapper *)self;

	return hook_fns[w->kind](w, args, PyVectorcall_NARGS(nargsf), kwnames);
}

/* tp_call: the vectorcall above with the keywords as names (3.8 has no vectorcall slot for
 * heap types). */
static PyObject *wrapper_call(PyObject *self, PyObject *args, PyObject *kwargs)
{
	Py_ssize_t n = PyTuple_GET_SIZE(args), k = kwargs ? PyDict_GET_SIZE(kwargs) : 0, pos = 0;
	PyObject **stack, *kwnames, *key, *value, *res;

	if (k == 0) {
		return wrapper_vectorcall(self, &PyTuple_GET_ITEM(args, 0), (size_t)n, NULL);
	}
	stack = PyMem_Malloc((size_t)(n + k) * sizeof(*stack));
	kwnames = PyTuple_New(k);
	if (!stack || !kwnames) {
		PyMem_Free(stack);
		Py_XDECREF(kwnames);
		return PyErr_NoMemory();
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		stack[i] = PyTuple_GET_ITEM(args, i);
	}
	for (Py_ssize_t i = 0; PyDict_Next(kwargs, &pos, &key, &value); i++) {
		stack[n + i] = value;
		PyTuple_SET_ITEM(kwnames, i, Py_NewRef(key));
	}
	res = wrapper_vectorcall(self, stack, (size_t)n, kwnames);
	PyMem_Free(stack);
	Py_DECREF(kwnames);
	return res;
}

/* Bound like a Python function: the wrapper itself from the class, a method from an instance. */
static PyObject *wrapper_get(PyObject *self, PyObject *obj, PyObject *type)
{
	(void)type;
	if (!obj || obj == Py_None) {
		return Py_NewRef(self);
	}
	return PyMethod_New(self, obj);
}

/* Attributes it does not have (__name__, __qualname__, __module__, __doc__, __wrapped__...)
 * are the wrapped function's, so that the method looks as before to introspection. */
static PyObject *wrapper_getattro(PyObject *self, PyObject *name)
{
	PyObject *v = PyObject_GenericGetAttr(self, name);

	if (v || !PyErr_ExceptionMatches(PyExc_AttributeError)) {
		return v;
	}
	PyErr_Clear();
	return PyObject_GetAttr(((struct wrapper *)self)->orig, name);
}

static int wrapper_traverse(PyObject *self, visitproc visit, void *arg)
{
	struct wrapper *w = (struct wrapper *)self;

	Py_VISIT(w->state);
	Py_VISIT(w->orig);
#if PY_VERSION_HEX >= 0x03090000
	Py_VISIT(Py_TYPE(self));
#endif
	return 0;
}

static int wrapper_clear(PyObject *self)
{
	struct wrapper *w = (struct wrapper *)self;

	Py_CLEAR(w->state);
	Py_CLEAR(w->orig);
	return 0;
}

static void wrapper_dealloc(PyObject *self)
{
	PyTypeObject *tp = Py_TYPE(self);

	PyObject_GC_UnTrack(self);
	wrapper_clear(self);
	PyObject_GC_Del(self);
	Py_DECREF(tp);
}

#if PY_VERSION_HEX >= 0x03090000
static PyMemberDef wrapper_members[] = {
	{ "__vectorcalloffset__", T_PYSSIZET, offsetof(struct wrapper, vectorcall), READONLY,
	  NULL },
	{ NULL, 0, 0, 0, NULL },
};
#endif

static PyType_Slot wrapper_slots[] = {
	{ Py_tp_call, (void *)wrapper_call },
	{ Py_tp_descr_get, (void *)wrapper_get },
	{ Py_tp_getattro, (void *)wrapper_getattro },
	{ Py_tp_traverse, (void *)wrapper_traverse },
	{ Py_tp_clear, (void *)wrapper_clear },
	{ Py_tp_dealloc, (void *)wrapper_dealloc },
#if PY_VERSION_HEX >= 0x03090000
	{ Py_tp_members, wrapper_members },
#endif
	{ 0, NULL },
};

static PyType_Spec wrapper_spec = {
	.name = "_libpytrace.LoggerMethod",
	.basicsize = sizeof(struct wrapper),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_METHOD_DESCRIPTOR
#if PY_VERSION_HEX >= 0x03090000
		 | Py_TPFLAGS_HAVE_VECTORCALL
#endif
	,
	.slots = wrapper_slots,
};

/* A wrapper of @orig (hook @kind), of type @type. */
static PyObject *wrapper_new(PyObject *type, PyObject *cap, PyObject *orig, int kind)
{
	struct wrapper *w = PyObject_GC_New(struct wrapper, (PyTypeObject *)type);

	if (!w) {
		return NULL;
	}
#if PY_VERSION_HEX >= 0x03090000
	w->vectorcall = wrapper_vectorcall;
#endif
	w->state = Py_NewRef(cap);
	w->orig = Py_NewRef(orig);
	w->kind = kind;
	PyObject_GC_Track(w);
	return (PyObject *)w;
}

/* Logger.__dict__[name] (borrowed), NULL if absent or on error (cleared). */
static PyObject *class_attr(PyObject *cls, PyObject *name)
{
	PyObject *v = PyDict_GetItemWithError(((PyTypeObject *)cls)->tp_dict, name);

	PyErr_Clear();
	return v;
}

static struct hookstate *state_new(PyObject *logging, PyObject *handler, PyObject **cap)
{
	struct hookstate *st = PyMem_RawCalloc(1, sizeof(*st));

	*cap = NULL;
	if (!st) {
		PyErr_NoMemory();
		return NULL;
	}
	for (size_t i = 0; i < H_COUNT; i++) {
		if (!(st->name[i] = PyUnicode_InternFromString(hook_names[i]))) {
			goto fail;
		}
	}
	for (size_t i = 0; i < K_COUNT; i++) {
		if (!(st->key[i] = PyUnicode_InternFromString(key_names[i]))) {
			goto fail;
		}
	}
	st->handler = Py_NewRef(handler);
	if (!(st->root = PyObject_GetAttrString(logging, "root")) ||
	    !(st->record_cls = PyObject_GetAttrString(logging, "LogRecord"))) {
		goto fail;
	}
	if ((*cap = PyCapsule_New(st, HOOKS_CAPSULE, hookstate_free))) {
		return st;
	}
fail:
	Py_XDECREF(st->handler);
	Py_XDECREF(st->root);
	Py_XDECREF(st->record_cls);
	for (size_t i = 0; i < H_COUNT; i++) {
		Py_XDECREF(st->name[i]);
	}
	for (size_t i = 0; i < K_COUNT; i++) {
		Py_XDECREF(st->key[i]);
	}
	PyMem_RawFree(st);
	return NULL;
}

int pt_loghooks_install(struct pt_loghooks **hooksp, PyObject *logging, PyObject *handler)
{
	struct pt_loghooks *h = *hooksp;
	struct hookstate *st;
	PyObject *cur, *w;

	if (!h) {
		if (!(h = PyMem_RawCalloc(1, sizeof(*h)))) {
			PyErr_NoMemory();
			return -1;
		}
		*hooksp = h;
	}
	if (!h->state) {
		if (!(st = state_new(logging, handler, &h->state))) {
			return -1;
		}
	} else {
		st = PyCapsule_GetPointer(h->state, HOOKS_CAPSULE);
	}
	if (!h->type && !(h->type = PyType_FromSpec(&wrapper_spec))) {
		return -1;
	}
	if (!h->cls) {
		h->cls = PyObject_GetAttrString(logging, "Logger");
		if (!h->cls) {
			return -1;
		}
		if (!PyType_Check(h->cls)) {
			Py_CLEAR(h->cls);
			PyErr_SetString(PyExc_TypeError, "logging.Logger is not a class");
			return -1;
		}
	}
	for (int i = 0; i < H_COUNT; i++) {
		cur = class_attr(h->cls, st->name[i]);
		if (!cur) {
			PyErr_Format(PyExc_AttributeError, "logging.Logger has no %s",
				     hook_names[i]);
			return -1;
		}
		/* Ours (set by us, or set back by the program), or ours displaced by the program's
		 * own, which calls it: acts again through st->active, never wrapped twice. */
		if (Py_TYPE(cur) == (PyTypeObject *)h->type || h->wrapper[i]) {
			continue;
		}
		w = wrapper_new(h->type, h->state, cur, i);
		if (!w) {
			return -1;
		}
		if (PyObject_SetAttr(h->cls, st->name[i], w) < 0) {
			Py_DECREF(w);
			return -1;
		}
		h->wrapper[i] = w;
	}
	st->active = true;
	return 0;
}

void pt_loghooks_remove(struct pt_loghooks *h)
{
	struct hookstate *st;
	struct wrapper *w;

	if (!h || !h->state) {
		return;
	}
	st = PyCapsule_GetPointer(h->state, HOOKS_CAPSULE);
	st->active = false;
	for (int i = 0; i < H_COUNT; i++) {
		w = (struct wrapper *)h->wrapper[i];
		/* Only if still ours: a program's own replacement stays (ours, which it may call,
		 * passes through while no session records). */
		if (!w || class_attr(h->cls, st->name[i]) != (PyObject *)w) {
			continue;
		}
		if (PyObject_SetAttr(h->cls, st->name[i], w->orig) < 0) {
			pt_log_pyerr("cannot give logging.Logger its method back");
			continue;
		}
		Py_CLEAR(h->wrapper[i]);
	}
}

void pt_loghooks_free(struct pt_loghooks *h)
{
	if (!h) {
		return;
	}
	for (int i = 0; i < H_COUNT; i++) {
		Py_XDECREF(h->wrapper[i]);
	}
	Py_XDECREF(h->state);
	Py_XDECREF(h->cls);
	Py_XDECREF(h->type);
	PyMem_RawFree(h);
}
