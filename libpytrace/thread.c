/* SPDX-License-Identifier: MIT */
/*
 * Per-thread-state tracing: a shadow stack of the frames open on one thread, and the events.
 *
 * The shadow stack is what makes the stream balanced whatever happens around it:
 * - frames already running when the thread is first seen are pushed then (pt_thread_sync());
 * - whenever the events become enabled (a session starts) or the process is a new fork child,
 *   the whole stack is restated as `active` entries before the next event, so that each return a
 *   consumer sees has its entry;
 * - a return whose frame is not open is an orphan and is not emitted; a return that skips frames
 *   closes those with `detach` returns;
 * - detach, thread exit and replacement of the hook close what is left with `detach` returns.
 *
 * Everything runs with the GIL held, on the thread that owns the state, except pt_thread_close()
 * and the deallocation, which may run on another thread of the same interpreter (detach,
 * finalization) and therefore use the stored tid.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <urcu/urcu-bp.h>

#include "fast.h"
#include "tp/python-tp.h"

#define CNAME_MAX 256

static __thread int32_t cached_tid;
static unsigned int fork_gen; /* bumped in every fork child */
unsigned int pt_thread_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void atfork_child(void)
{
	cached_tid = 0;
	__atomic_add_fetch(&fork_gen, 1, __ATOMIC_RELAXED);
}

static void atfork_init(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

int32_t pt_gettid(void)
{
	if (__builtin_expect(!cached_tid, 0)) {
		cached_tid = (int32_t)gettid();
	}
	return cached_tid;
}

/* ---- configuration ---- */

/* Copies the interpreter's configuration, generation @gen, into the thread. */
static __attribute__((noinline)) void load_config(struct pt_thread *t, unsigned int gen)
{
	const struct pt_config *cfg;

	urcu_bp_read_lock();
	cfg = rcu_dereference(t->pi->cfg);
	if (t->mode == PT_MODE_FAST && cfg->mode != PT_MODE_FAST) {
		pt_fast_flush(t);
	}
	t->mode = cfg->mode;
	t->c_calls = cfg->c_calls;
	t->max_depth = cfg->max_depth;
	urcu_bp_read_unlock();
	t->cfg_gen = gen;
}

/* Refreshes the thread's copy of its interpreter's configuration when any changed. */
static inline void refresh_config(struct pt_thread *t)
{
	unsigned int gen = __atomic_load_n(&pt_config_gen, __ATOMIC_ACQUIRE);

	if (__builtin_expect(gen != t->cfg_gen, 0)) {
		load_config(t, gen);
	}
}

static bool module_traced(struct pt_thread *t, const char *module)
{
	bool traced;

	urcu_bp_read_lock();
	traced = pt_config_traces(rcu_dereference(t->pi->cfg), module);
	urcu_bp_read_unlock();
	return traced;
}

/* The filter's verdict on @info run in module @mod (NULL: the module cached with the code). */
static inline bool code_traced(struct pt_thread *t, const struct pt_code *info, PyObject *mod)
{
	struct pt_code *c = (struct pt_code *)info;

	if (__builtin_expect(mod != NULL, 0)) {
		return module_traced(t, pt_module_utf8(mod));
	}
	if (__builtin_expect(c->filter_gen != t->cfg_gen, 0)) {
		c->traced = module_traced(t, c->module);
		c->filter_gen = t->cfg_gen;
	}
	return c->traced;
}

/* ---- events ---- */

static inline const char *frame_module(const struct pt_frame *f)
{
	return f->module ? pt_module_utf8(f->module) : f->info->module;
}

/* The hot path below is inlined into the two calls each Python call makes
 * (pt_thread_py_entry(), pt_thread_py_return()): a call costs ~20 instructions of its own. */
#define HOT static inline __attribute__((always_inline))

static __attribute__((noinline)) void event_entry(struct pt_thread *t, const struct pt_frame *f,
						  int kind)
{
	if (f->code) {
		const struct pt_code *c = f->info;

		lttng_ust_tracepoint(python, function__entry, c->filename, c->name, c->firstlineno,
				     c->qualname, frame_module(f), kind, t->tid, t->interp_id);
	} else {
		lttng_ust_tracepoint(python, c_function__entry, f->cname->name, kind, t->tid,
				     t->interp_id);
	}
}

/* @pf: where the frame returns from, for the line number (NULL: unknown, 0). */
static __attribute__((noinline)) void event_return(struct pt_thread *t, const struct pt_frame *f,
						   const struct pt_pyframe *pf, int kind)
{
	if (f->code) {
		const struct pt_code *c = f->info;

		if (lttng_ust_tracepoint_enabled(python, function__return)) {
			int line = pf ? pt_pyframe_line(pf, c) : 0;

			lttng_ust_do_tracepoint(python, function__return, c->filename, c->name, line,
						c->qualname, frame_module(f), kind, t->tid,
						t->interp_id);
		}
	} else {
		lttng_ust_tracepoint(python, c_function__return, f->cname->name, kind, t->tid,
				     t->interp_id);
	}
}

HOT void emit_entry(struct pt_thread *t, const struct pt_frame *f, int kind)
{
	if (!f->emit) {
		return;
	}
	if (t->mode == PT_MODE_FAST) {
		pt_fast_entry(t, f, kind);
	} else {
		event_entry(t, f, kind);
	}
}

HOT void emit_return(struct pt_thread *t, const struct pt_frame *f, const struct pt_pyframe *pf,
		     int kind)
{
	if (!f->emit) {
		return;
	}
	if (t->mode == PT_MODE_FAST) {
		pt_fast_return(t, f, kind);
	} else {
		event_return(t, f, pf, kind);
	}
}

static inline bool events_enabled(const struct pt_thread *t)
{
	if (t->mode == PT_MODE_FAST) {
		return lttng_ust_tracepoint_enabled(python, records);
	}
	return lttng_ust_tracepoint_enabled(python, function__entry);
}

/* The events became enabled or disabled, a session started, or this is a new fork child. */
static __attribute__((noinline)) void recording_changed(struct pt_thread *t, bool on,
							 unsigned int fgen, unsigned int sgen)
{
	t->recording = on;
	t->fork_gen = fgen;
	t->session_gen = sgen;
	t->tid = pt_gettid();
	if (on) {
		for (size_t i = 0; i < t->depth; i++) {
			emit_entry(t, &t->stack[i], PT_ENTRY_ACTIVE);
		}
	}
}

/* Restates the open frames as `active` entries when a consumer may have missed their entries:
 * the events became enabled, a new session started, or this is a new fork child. Twice per
 * call: inlined, the rare part out of line. */
HOT void check_recording(struct pt_thread *t)
{
	bool on;
	unsigned int fgen, sgen;

	refresh_config(t);
	on = events_enabled(t);
	fgen = __atomic_load_n(&fork_gen, __ATOMIC_RELAXED);
	sgen = __atomic_load_n(&pt_session_gen, __ATOMIC_RELAXED);
	if (__builtin_expect(on != t->recording || fgen != t->fork_gen || sgen != t->session_gen,
			     0)) {
		recording_changed(t, on, fgen, sgen);
	}
}

/* ---- the shadow stack ---- */

static __attribute__((noinline)) bool grow(struct pt_thread *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64;
	struct pt_frame *s = PyMem_RawRealloc(t->stack, cap * sizeof(*s));

	if (!s) {
		return false;
	}
	t->stack = s;
	t->cap = cap;
	return true;
}

HOT bool push(struct pt_thread *t, const struct pt_frame *f)
{
	if (__builtin_expect(t->depth == t->cap, 0) && !grow(t)) {
		return false;
	}
	t->stack[t->depth++] = *f;
	t->emitted += f->emit;
	return true;
}

/* Pops the top frame, emitting its return when @emit. */
HOT void pop(struct pt_thread *t, const struct pt_pyframe *pf, int kind, bool emit)
{
	struct pt_frame *f = &t->stack[--t->depth];

	t->emitted -= f->emit;
	if (emit) {
		emit_return(t, f, pf, kind);
	}
	Py_XDECREF(f->module);
	Py_XDECREF(f->code);
}

/* 1 + the index of the innermost open frame with @key, or 0 if none is open. */
static size_t find(const struct pt_thread *t, const void *key)
{
	size_t i = t->depth;

	while (i > 0 && t->stack[i - 1].key != key) {
		i--;
	}
	return i;
}

/* Whether a frame pushed now is within the depth limit. */
static inline bool depth_ok(const struct pt_thread *t)
{
	return !t->max_depth || t->emitted < t->max_depth;
}

/* The module (__name__) of @globals, looked up only when the dict changed (pt_thread.modcache). */
static inline PyObject *globals_module(struct pt_thread *t, PyObject *globals)
{
	size_t slot = ((uintptr_t)globals >> 6) & (PT_MODCACHE - 1);
	uint64_t version;

	if (__builtin_expect(!PyDict_Check(globals), 0)) {
		return pt_globals_module(globals);
	}
	version = pt_dict_version(globals);
	if (__builtin_expect(t->modcache[slot].globals != globals ||
			     t->modcache[slot].version != version, 0)) {
		t->modcache[slot].module = pt_globals_module(globals);
		t->modcache[slot].globals = globals;
		t->modcache[slot].version = version;
	}
	return t->modcache[slot].module;
}

/* pt_code_get() through the thread's cache (pt_thread.codecache). */
static inline const struct pt_code *code_info(struct pt_thread *t, const struct pt_pyframe *pf)
{
	size_t slot = (uint32_t)((uintptr_t)pf->code >> 4) * 0x9E3779B1u >> 26;
	unsigned int gen = __atomic_load_n(&pt_code_gen, __ATOMIC_RELAXED);
	const struct pt_code *info;

	_Static_assert(PT_CODECACHE == 1 << (32 - 26), "PT_CODECACHE: the hash's bits");
	if (__builtin_expect(t->codecache[slot].code == pf->code && t->codecache[slot].gen == gen,
			     1)) {
		return t->codecache[slot].info;
	}
	info = pt_code_get(pf->code, pf->globals, pf->frame, t->code_index);
	if (info) {
		t->codecache[slot].code = pf->code;
		t->codecache[slot].gen = gen;
		t->codecache[slot].info = info;
	}
	return info;
}

HOT bool push_py(struct pt_thread *t, const struct pt_pyframe *pf)
{
	struct pt_frame f = { .key = pf->key, .code = pf->code };
	PyObject *mod;

	f.info = code_info(t, pf);
	if (!f.info) {
		return false;
	}
	/* The module is the frame's: one code object may run in several namespaces (exec). */
	mod = pf->globals ? globals_module(t, pf->globals) : f.info->module_obj;
	if (mod != f.info->module_obj) {
		f.module = Py_XNewRef(mod ? mod : Py_None);
	}
	f.emit = code_traced(t, f.info, f.module) && depth_ok(t);
	Py_INCREF(pf->code);
	if (!push(t, &f)) {
		Py_XDECREF(f.module);
		Py_DECREF(pf->code);
		return false;
	}
	return true;
}

bool pt_thread_traces(struct pt_thread *t, const struct pt_pyframe *pf)
{
	const struct pt_code *info;

	refresh_config(t);
	info = code_info(t, pf);
	if (!info) {
		return true;
	}
	return code_traced(t, info, NULL);
}

/* Marks the thread seen; the frames running are pushed next, silently: check_recording()
 * restates them. */
static void sync_begin(struct pt_thread *t)
{
	t->synced = true;
	t->tid = pt_gettid();
	refresh_config(t);
	t->recording = false;
}

void pt_thread_sync_frames(struct pt_thread *t, const struct pt_pyframe *frames, size_t n)
{
	sync_begin(t);
	for (size_t i = 0; i < n; i++) {
		push_py(t, &frames[i]);
	}
}

void pt_thread_pop_above(struct pt_thread *t, size_t depth)
{
	while (t->depth > depth) {
		pop(t, NULL, PT_RETURN_DETACH, t->recording);
	}
}

size_t pt_thread_find(const struct pt_thread *t, const void *key)
{
	return find(t, key);
}

void pt_thread_sync(struct pt_thread *t, PyFrameObject *frame)
{
	PyFrameObject **chain = NULL;
	size_t n = 0, cap = 0;

	sync_begin(t);
	Py_XINCREF(frame);
	while (frame) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			PyFrameObject **c = PyMem_RawRealloc(chain, ncap * sizeof(*c));

			if (!c) {
				Py_DECREF(frame);
				break;
			}
			chain = c;
			cap = ncap;
		}
		chain[n++] = frame;
		frame = PyFrame_GetBack(frame);
	}
	/* Outermost first. */
	for (size_t i = n; i-- > 0;) {
		PyCodeObject *code = PyFrame_GetCode(chain[i]);
		struct pt_pyframe pf = {
			.key = PT_FRAME_KEY(chain[i], code),
			.code = code,
			.globals = pt_frame_globals(chain[i]),
			.frame = chain[i],
		};

		push_py(t, &pf);
		Py_DECREF(code);
		Py_DECREF(chain[i]);
	}
	PyMem_RawFree(chain);
}

void pt_thread_close(struct pt_thread *t, bool emit)
{
	bool on = emit && t->recording && events_enabled(t);

	while (t->depth > 0) {
		pop(t, NULL, PT_RETURN_DETACH, on);
	}
	pt_fast_flush(t);
	t->synced = false;
}

/* ---- the hot path ---- */

void pt_thread_py_entry(struct pt_thread *t, const struct pt_pyframe *pf, enum pt_entry_kind kind)
{
	check_recording(t);
	if (push_py(t, pf) && t->recording) {
		emit_entry(t, &t->stack[t->depth - 1], kind);
	}
}

void pt_thread_py_return(struct pt_thread *t, const struct pt_pyframe *pf,
			 enum pt_return_kind kind)
{
	size_t i;

	check_recording(t);
	i = find(t, pf->key);
	if (!i) {
		return;
	}
	pt_thread_pop_above(t, i);
	pop(t, pf, kind, t->recording);
}

/* The slot of (@ml, @owner) in @tab: its entry, or the empty slot where it belongs. */
static size_t cname_slot(struct pt_cname **tab, size_t cap, const void *ml, const void *owner)
{
	size_t h = ((uintptr_t)ml >> 4 ^ (uintptr_t)owner >> 4) & (cap - 1);

	while (tab[h] && !(tab[h]->ml == ml && tab[h]->owner == owner)) {
		h = (h + 1) & (cap - 1);
	}
	return h;
}

static const struct pt_cname *cname_get(struct pt_thread *t, PyObject *func)
{
	const void *ml = func, *owner = Py_TYPE(func);
	char buf[CNAME_MAX];
	struct pt_cname *e;
	size_t len;

	if (PyCFunction_Check(func)) {
		PyCFunctionObject *f = (PyCFunctionObject *)func;
		PyObject *self = f->m_self;

		ml = f->m_ml;
		if (!self || PyModule_Check(self)) {
			owner = f->m_module;
		} else {
			owner = PyType_Check(self) ? (const void *)self : (const void *)Py_TYPE(self);
		}
	} else if (Py_TYPE(func) == &PyMethodDescr_Type) {
		/* sys.monitoring reports `obj.method()` of a C type as a call of its descriptor */
		ml = ((PyMethodDescrObject *)func)->d_method;
		owner = ((PyDescrObject *)func)->d_type;
	}
	if (t->cnames_cap) {
		e = t->cnames[cname_slot(t->cnames, t->cnames_cap, ml, owner)];
		if (e) {
			return e;
		}
	}
	if (2 * (t->cnames_len + 1) > t->cnames_cap) {
		size_t cap = t->cnames_cap ? t->cnames_cap * 2 : 64;
		struct pt_cname **tab = PyMem_RawCalloc(cap, sizeof(*tab));

		if (!tab) {
			return NULL;
		}
		for (size_t j = 0; j < t->cnames_cap; j++) {
			if ((e = t->cnames[j])) {
				tab[cname_slot(tab, cap, e->ml, e->owner)] = e;
			}
		}
		PyMem_RawFree(t->cnames);
		t->cnames = tab;
		t->cnames_cap = cap;
	}
	pt_cfunc_name(func, buf, sizeof(buf));
	len = strlen(buf);
	e = PyMem_RawMalloc(sizeof(*e) + len + 1);
	if (!e) {
		return NULL;
	}
	e->ml = ml;
	e->owner = owner;
	e->fast_id = 0;
	e->def_gen = 0;
	e->fast_batch = 0;
	memcpy(e->name, buf, len + 1);
	t->cnames[cname_slot(t->cnames, t->cnames_cap, ml, owner)] = e;
	t->cnames_len++;
	return e;
}

void pt_thread_c_entry(struct pt_thread *t, PyObject *func)
{
	struct pt_frame f = { .key = func };

	check_recording(t);
	if (!t->c_calls) {
		return;
	}
	f.cname = cname_get(t, func);
	/* A C call is recorded when its caller is (or it is called from outside any frame). */
	f.emit = (!t->depth || t->stack[t->depth - 1].emit) && depth_ok(t);
	if (f.cname && push(t, &f) && t->recording) {
		emit_entry(t, &f, PT_ENTRY_CALL);
	}
}

void pt_thread_c_return(struct pt_thread *t, PyObject *func, bool unwind)
{
	size_t i;

	check_recording(t);
	i = find(t, func);
	if (!i || t->stack[i - 1].code) {
		return;
	}
	pt_thread_pop_above(t, i);
	pop(t, NULL, unwind ? PT_RETURN_UNWIND : PT_RETURN_RETURN, t->recording);
}

void pt_thread_exception(struct pt_thread *t, const struct pt_pyframe *pf, PyObject *type)
{
	char name[CNAME_MAX];
	const struct pt_code *c;
	PyObject *mod;
	bool emit;

	check_recording(t);
	if (!lttng_ust_tracepoint_enabled(python, exception)) {
		return;
	}
	c = code_info(t, pf);
	if (!c) {
		return;
	}
	mod = pf->globals ? globals_module(t, pf->globals) : c->module_obj;
	if (t->depth && t->stack[t->depth - 1].key == pf->key) {
		emit = t->stack[t->depth - 1].emit;
	} else {
		emit = code_traced(t, c, mod != c->module_obj ? mod : NULL);
	}
	if (!emit) {
		return;
	}
	if (type && PyType_Check(type)) {
		pt_type_name((PyTypeObject *)type, name, sizeof(name));
	} else {
		strcpy(name, "?");
	}
	/* Fast mode: the records before it go first, so that the thread's order holds. */
	pt_fast_flush(t);
	lttng_ust_do_tracepoint(python, exception, name, c->filename, c->name, pt_pyframe_line(pf, c),
				c->qualname, mod == c->module_obj ? c->module : pt_module_utf8(mod),
				t->tid, t->interp_id);
}

/* 3.12+: compiler-generated code (the re-raise that ends an `except`, `finally` or `with`
 * cleanup) has no line. sys.monitoring events are about the current frame, whose own line is
 * then that of the statement it cleans up after (as 3.11's). */
static int current_frame_line(const struct pt_pyframe *pf)
{
	PyFrameObject *frame = PyEval_GetFrame();
	PyCodeObject *code = frame ? PyFrame_GetCode(frame) : NULL;
	int line = -1;

	if (code == pf->code) {
		line = PyFrame_GetLineNumber(frame);
	}
	Py_XDECREF(code);
	return line < 0 ? 0 : line;
}

/* An instruction offset (sys.monitoring): always a small int, read inline. An error is cleared
 * by the callback. */
static inline int offset_value(PyObject *offset)
{
	if (!offset) {
		return 0;
	}
#if PY_VERSION_HEX >= 0x030C0000
	if (__builtin_expect(PyLong_CheckExact(offset) &&
				     PyUnstable_Long_IsCompact((PyLongObject *)offset),
			     1)) {
		return (int)PyUnstable_Long_CompactValue((PyLongObject *)offset);
	}
#endif
	return (int)PyLong_AsLong(offset);
}

int pt_pyframe_line(const struct pt_pyframe *pf, const struct pt_code *c)
{
	struct pt_code *cc = (struct pt_code *)c;
	uint64_t *slot = NULL, key, word;
	int line, offset;

	if (pf->frame) {
		return PyFrame_GetLineNumber(pf->frame);
	}
	offset = offset_value(pf->offset);
	key = (uint64_t)(uint32_t)offset + 1;
	/* PyCode_Addr2Line() scans the line table from its start: ~700 instructions per return
	 * of a small function, more than all the rest of the hook. The last pairs seen are kept
	 * with the code's description: a frame returns from one of a few offsets. */
	if (cc && offset >= 0) {
		slot = &cc->lines[((uint32_t)offset >> 1) & (PT_LINE_CACHE - 1)];
		word = __atomic_load_n(slot, __ATOMIC_RELAXED);
		if (__builtin_expect(word >> 32 == key, 1)) {
			return (int)(uint32_t)word;
		}
	}
	line = PyCode_Addr2Line(pf->code, offset);
	if (line < 0) {
		return current_frame_line(pf);
	}
	if (slot) {
		__atomic_store_n(slot, key << 32 | (uint32_t)line, __ATOMIC_RELAXED);
	}
	return line;
}

/* ---- the object ---- */

static void thread_dealloc(PyObject *self)
{
	struct pt_thread *t = (struct pt_thread *)self;

	__atomic_add_fetch(&pt_thread_gen, 1, __ATOMIC_RELAXED);
	pt_thread_close(t, true);
	pt_fast_free(t);
	PyMem_RawFree(t->stack);
	for (size_t i = 0; i < t->cnames_cap; i++) {
		PyMem_RawFree(t->cnames[i]);
	}
	PyMem_RawFree(t->cnames);
	pt_interp_unref(t->pi);
	Py_TYPE(self)->tp_free(self);
}

static PyTypeObject thread_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "pytrace.ThreadState",
	.tp_doc = "libpytrace's state of one traced thread (the profile hook's argument).",
	.tp_basicsize = sizeof(struct pt_thread),
	.tp_dealloc = thread_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
};

struct pt_thread *pt_thread_new(struct pt_interp *pi)
{
	struct pt_thread *t;

	pthread_once(&atfork_once, atfork_init);
	if (PyType_Ready(&thread_type) < 0) {
		return NULL;
	}
	t = PyObject_New(struct pt_thread, &thread_type);
	if (!t) {
		return NULL;
	}
	memset((char *)t + sizeof(PyObject), 0, sizeof(*t) - sizeof(PyObject));
	t->pi = pi;
	pt_interp_ref(pi);
	t->interp_id = pi->id;
	t->code_index = pi->code_index;
	t->cfg_gen = __atomic_load_n(&pt_config_gen, __ATOMIC_ACQUIRE) - 1; /* refresh at once */
	t->fork_gen = __atomic_load_n(&fork_gen, __ATOMIC_RELAXED);
	return t;
}
