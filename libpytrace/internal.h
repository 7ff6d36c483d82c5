/* SPDX-License-Identifier: MIT */
/*
 * Declarations shared between libpytrace's files; nothing here is exported.
 *
 * The hot path is: hook callback (hook-legacy.c) -> per-thread shadow stack and emission
 * (thread.c) -> name cache (names.c) -> tracepoint (tp/python-tp.h). Every function here that
 * takes Python objects runs with the GIL held.
 */
#ifndef PYTRACE_INTERNAL_H
#define PYTRACE_INTERNAL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030C0000
#error "This libpytrace builds against CPython 3.11 only (the hook interface is in hook.h)."
#endif

/* ---- log.c ---- */

enum pt_log_level {
	PT_LOG_NONE,
	PT_LOG_ERROR,
	PT_LOG_WARN,
	PT_LOG_INFO,
	PT_LOG_DEBUG,
};

void pt_log(enum pt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define pt_err(...) pt_log(PT_LOG_ERROR, __VA_ARGS__)
#define pt_warn(...) pt_log(PT_LOG_WARN, __VA_ARGS__)
#define pt_debug(...) pt_log(PT_LOG_DEBUG, __VA_ARGS__)

/* Logs and clears the pending Python error, if any, as the reason of @p what. */
void pt_log_pyerr(const char *what);

/* ---- names.c: what an event says about a code object, C function or exception type ---- */

/* Cached once per code object (in its co_extra slot), freed with it. Strings are UTF-8, with
 * anything undecodable escaped (backslashreplace), never NULL. */
struct pt_code {
	struct pt_code *prev, *next; /* every live pt_code, see names.c */
	PyObject *module_obj;	     /* the `__name__` that `module` spells (strong) */
	const char *filename;
	const char *name;
	const char *qualname;
	const char *module;
	int firstlineno;
	bool is_gen; /* generator, coroutine or async generator: may yield and resume */
	char strings[];
};

/* The code-extra index of the current interpreter (requested once, kept in the interpreter's
 * dict so that attach/detach cycles do not exhaust CPython's 255 indices); -1 on error. */
Py_ssize_t pt_code_index(void);

/* The cached description of @p code, created on first use from @p frame (for the module name).
 * NULL only when memory runs out; never leaves a Python error set. */
const struct pt_code *pt_code_get(PyCodeObject *code, PyFrameObject *frame, Py_ssize_t index);

/* The `__name__` of @frame's globals (borrowed; NULL if none). */
PyObject *pt_frame_module(PyFrameObject *frame);

/* UTF-8 of a module name object for an event: never NULL. */
const char *pt_module_utf8(PyObject *name);

/* Writes the event name of a C function object ("len", "list.append", "time.sleep") into @p buf.
 * Never fails: an unknown callable gives its type's name. */
void pt_cfunc_name(PyObject *func, char *buf, size_t size);

/* Writes the qualified name of an exception type ("ValueError", "json.decoder.JSONDecodeError"). */
void pt_type_name(PyTypeObject *type, char *buf, size_t size);

/* ---- thread.c: per thread state, shadow stack, emission ---- */

enum pt_entry_kind {
	PT_ENTRY_CALL = 0,
	PT_ENTRY_RESUME = 1,
	PT_ENTRY_ACTIVE = 2,
};

enum pt_return_kind {
	PT_RETURN_RETURN = 0,
	PT_RETURN_YIELD = 1,
	PT_RETURN_UNWIND = 2,
	PT_RETURN_DETACH = 3,
};

/* One open frame. @key identifies it (the PyFrameObject of a Python frame, the callable of a C
 * call) and is only compared, never dereferenced. */
struct pt_frame {
	const void *key;
	PyCodeObject *code;	   /* strong reference; NULL for a C call */
	const struct pt_code *info; /* Python frame */
	const char *cname;	   /* C call: owned by the thread's name cache */
	PyObject *module;	   /* strong; set when this frame's globals name another module
				    * than the one cached with its code object (shared code) */
};

struct pt_cname;

/* The Python object installed as profile (and trace) argument of one thread state. */
struct pt_thread {
	PyObject_HEAD
	int32_t tid;	    /* kernel thread id, known from the thread's first event */
	int64_t interp_id;
	Py_ssize_t code_index;
	bool c_calls;
	bool synced;	/* the frames running at attach have been pushed */
	bool recording; /* the python events were enabled at the last event */
	unsigned int fork_gen; /* fork generation the stack was last restated in */
	size_t depth;
	size_t cap;
	struct pt_frame *stack;
	struct pt_cname **cnames; /* open-addressing table of C function names */
	size_t cnames_cap;
	size_t cnames_len;
};

/* Creates the object to install on a thread state of the current interpreter. */
struct pt_thread *pt_thread_new(int64_t interp_id, Py_ssize_t code_index, bool c_calls);

/* The hot path, called by the hook backends. @frame is the frame the event happens in. */
void pt_thread_py_entry(struct pt_thread *t, PyFrameObject *frame, PyCodeObject *code,
			enum pt_entry_kind kind);
void pt_thread_py_return(struct pt_thread *t, PyFrameObject *frame, enum pt_return_kind kind);
void pt_thread_c_entry(struct pt_thread *t, PyFrameObject *caller, PyObject *func);
void pt_thread_c_return(struct pt_thread *t, PyFrameObject *caller, PyObject *func, bool unwind);
void pt_thread_exception(struct pt_thread *t, PyFrameObject *frame, PyObject *type);

/* Pushes the frames running on this thread (@frame and its callers) if not done yet. */
void pt_thread_sync(struct pt_thread *t, PyFrameObject *frame);

/* Emits a `detach` return for every open frame, innermost first, and empties the stack. */
void pt_thread_close(struct pt_thread *t);

/* The kernel id of the calling thread (cached; reset in a fork child). */
int32_t pt_gettid(void);

/* ---- hook-legacy.c: the CPython 3.8-3.11 profile/trace hook backend ---- */

struct pt_interp;

/* Installs the hooks on one thread state of the attached interpreter @pi (GIL held).
 * 0, -EBUSY (another profile function), -ENOMEM or -EIO. */
int pt_hook_install_thread(struct pt_interp *pi, PyThreadState *tstate);

/* Installs on every thread state of @pi's interpreter and arranges for threads started later by
 * `threading`. On error everything done is undone. */
int pt_hook_install(struct pt_interp *pi);

/* Closes open frames and removes every hook of @pi's interpreter. */
void pt_hook_uninstall(struct pt_interp *pi);

/* ---- api.c: attached interpreters ---- */

struct pt_interp {
	PyInterpreterState *interp;
	int64_t id;
	Py_ssize_t code_index;
	bool c_calls;
	PyObject *thread_hook;	    /* our callable given to threading.setprofile() */
	PyObject *prev_thread_hook; /* what threading.setprofile() held before attach */
	struct pt_interp *next;
};

/* The attached interpreter @interp, or NULL. */
struct pt_interp *pt_interp_find(PyInterpreterState *interp);

#endif /* PYTRACE_INTERNAL_H */
