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

#include "compat.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/* ---- config.c: what to record (filters, depth, C calls, mode) ---- */

enum pt_mode {
	PT_MODE_EVENTS = 0, /* self-describing events (function__entry, ...) */
	PT_MODE_FAST = 1,   /* compact records in batches (python:records, python:code) */
};

struct pt_glob;

/*
 * One immutable configuration of an attached interpreter. Published with rcu_assign_pointer()
 * in struct pt_interp; replaced as a whole, freed after a grace period. The hot path does not
 * even take the read lock: each thread keeps a copy of the scalar fields, refreshed when the
 * global generation pt_config_gen changes, and each code object caches its filter verdict with
 * the generation it was computed for.
 */
struct pt_config {
	enum pt_mode mode;
	bool c_calls;
	unsigned int max_depth; /* 0: unlimited */
	struct pt_glob *include; /* NULL: every module */
	struct pt_glob *exclude;
};

#define offsetofend(TYPE, FIELD) (offsetof(TYPE, FIELD) + sizeof(((TYPE *)0)->FIELD))

/*
 * Copies a caller's options struct (first field `size_t sz`) into @out (@out_size bytes,
 * zeroed first; its sz set to @out_size), following the `sz` contract of pytrace.h: @known is
 * how many bytes of it this library knows; bytes past them must be zero. NULL @opts: defaults.
 * -EINVAL (logged, naming @func) otherwise.
 */
int pt_opts_copy(const char *func, const void *opts, size_t known, void *out, size_t out_size);

/* Bumped by every configuration change of any interpreter (relaxed atomic). */
extern unsigned int pt_config_gen;

/* Builds a configuration from attach options (sz already checked) and the PYTRACE_* environment
 * variables, which override them when set (@env). -EINVAL (logged, naming the bad part). */
struct pytrace_attach_opts;
int pt_config_new(const struct pytrace_attach_opts *opts, bool env, struct pt_config **out);
void pt_config_free(struct pt_config *cfg);

/* Parses a comma-separated list of module globs; NULL for an empty list. -EINVAL (logged) on a
 * bad pattern. @what names the option in messages. */
int pt_glob_parse(const char *spec, const char *what, struct pt_glob **out);
void pt_glob_free(struct pt_glob *g);
/* Whether @module (a dotted name) matches one of the patterns. */
bool pt_glob_match(const struct pt_glob *g, const char *module);

/* The scalar settings, as the environment spells them. -EINVAL (logged, naming @what). */
int pt_parse_mode(const char *s, const char *what, enum pt_mode *out);
int pt_parse_bool(const char *s, const char *what, bool *out);
int pt_parse_depth(const char *s, const char *what, unsigned int *out);

/* Whether code of @module is recorded under @cfg. */
bool pt_config_traces(const struct pt_config *cfg, const char *module);

/* ---- names.c: what an event says about a code object, C function or exception type ---- */

#define PT_LINE_CACHE 4 /* struct pt_code's cache of line numbers (a power of 2) */

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
	/* the filter's verdict on `module`, valid while filter_gen == pt_config_gen */
	bool traced;
	unsigned int filter_gen;
	/* fast mode: the id of this code's definition, and the session generation in which that
	 * definition was last emitted */
	uint32_t fast_id;
	unsigned int def_gen;
	uint64_t fast_batch; /* the last batch that holds a reference on it (fast.h) */
	unsigned int refs; /* fast-mode batches holding this block (GIL) */
	bool dead;	   /* the code object is gone; freed when refs drops to 0 */
	/* sys.monitoring: recent (offset + 1) << 32 | line pairs, see pt_pyframe_line() (relaxed
	 * atomics: static code objects may be shared by interpreters with a GIL each) */
	uint64_t lines[PT_LINE_CACHE];
	char strings[];
};

/* The code-extra index of the current interpreter (requested once, kept in the interpreter's
 * dict so that attach/detach cycles do not exhaust CPython's 255 indices); -1 on error. */
Py_ssize_t pt_code_index(void);

/* The cached description of @p code, created on first use with @p globals (for the module
 * name; may be NULL) and @p frame, a frame running @p code (may be NULL; before 3.11, which has
 * no co_qualname, its first argument helps to name a method). NULL only when memory runs out;
 * never leaves a Python error set. */
const struct pt_code *pt_code_get(PyCodeObject *code, PyObject *globals, PyFrameObject *frame,
				  Py_ssize_t index);

/* Bumped (relaxed atomic) whenever a code object's struct pt_code is detached from it (the code
 * object dies): per-thread caches of code -> pt_code (struct pt_thread.codecache) are then
 * stale, as another code object may take its address. */
extern unsigned int pt_code_gen;

/* Fast-mode references to a pt_code, which outlive its code object until released. */
void pt_code_ref(const struct pt_code *pc);
void pt_code_unref(const struct pt_code *pc);

/* The `__name__` of @p globals (borrowed; NULL if none). */
PyObject *pt_globals_module(PyObject *globals);

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

/*
 * Frame keys. The legacy hooks see a PyFrameObject per frame, which is the key. sys.monitoring
 * passes only the code object: there every Python frame event is exact (each PY_START has its
 * PY_RETURN, PY_YIELD or PY_UNWIND), so the innermost open frame running that code is the one
 * that returns, and the code object is the key.
 */
#if PT_MONITORING
#define PT_FRAME_KEY(frame, code) ((const void *)(code))
#else
#define PT_FRAME_KEY(frame, code) ((const void *)(frame))
#endif

/* A Python frame as the hot path sees it. */
struct pt_pyframe {
	const void *key;
	PyCodeObject *code;   /* borrowed */
	PyObject *globals;    /* borrowed; NULL if unknown */
	PyFrameObject *frame; /* legacy hooks: for the line number; NULL with sys.monitoring */
	PyObject *offset;     /* sys.monitoring: the instruction offset (an int, borrowed), for
			       * the line number: read only when an event needs it; NULL: 0 */
};

/* The line the frame is at (computed only when an event needs it). @c: the description of the
 * frame's code, whose cache of recent lines serves sys.monitoring's offsets (may be NULL). */
int pt_pyframe_line(const struct pt_pyframe *f, const struct pt_code *c);

/* One open frame. @key identifies it (see PT_FRAME_KEY; the callable of a C call) and is only
 * compared, never dereferenced. */
struct pt_frame {
	const void *key;
	PyCodeObject *code;	   /* strong reference; NULL for a C call */
	const struct pt_code *info; /* Python frame */
	const struct pt_cname *cname; /* C call: owned by the thread's name cache */
	PyObject *module;	   /* strong; set when this frame's globals name another module
				    * than the one cached with its code object (shared code) */
	bool emit;		   /* recorded: passes the filters and the depth limit */
};

/* The name of a C function, cached per thread (see thread.c). */
struct pt_cname {
	const void *ml;
	const void *owner;
	uint32_t fast_id; /* fast mode: id of its definition, and the session generation in */
	unsigned int def_gen; /* which that definition was last emitted */
	uint64_t fast_batch;  /* the last batch that names it (fast.h) */
	char name[];
};

struct pt_fastbuf;
struct pt_interp;

#define PT_MODCACHE 8 /* entries of struct pt_thread's module cache (a power of 2) */
#define PT_CODECACHE 64 /* entries of struct pt_thread's code cache (a power of 2) */

/* The Python object installed as profile (and trace) argument of one thread state (3.8-3.11),
 * or kept in the thread state's dict (3.12+). */
struct pt_thread {
	PyObject_HEAD
	struct pt_interp *pi; /* valid while the thread's hooks are installed */
	int32_t tid;	    /* kernel thread id, known from the thread's first event */
	int64_t interp_id;
	Py_ssize_t code_index;
	/* copy of the interpreter's configuration, refreshed when pt_config_gen changes */
	unsigned int cfg_gen;
	enum pt_mode mode;
	bool c_calls;
	unsigned int max_depth;
	bool synced;	/* the frames running at attach have been pushed */
	bool recording; /* the python events were enabled at the last event */
	unsigned int session_gen; /* pt_session_gen the stack was last restated in */
	unsigned int fork_gen;	  /* fork generation the stack was last restated in */
	size_t depth;
	size_t emitted; /* frames on the stack with emit set */
	size_t cap;
	struct pt_frame *stack;
	struct pt_cname **cnames; /* open-addressing table of C function names */
	size_t cnames_cap;
	size_t cnames_len;
	struct pt_fastbuf *fast; /* fast mode's record buffer, NULL until used */
	/* The module (__name__, borrowed) of recently seen globals dicts, valid while the dict's
	 * version tag is unchanged (tags are unique per interpreter: a dict freed and another
	 * created at its address never match). Per thread: no lock, no race. */
	struct {
		PyObject *globals;
		uint64_t version;
		PyObject *module;
	} modcache[PT_MODCACHE];
	/* The description of recently seen code objects: pt_code_get() without a call into
	 * CPython, valid while pt_code_gen is unchanged (no code object with a description
	 * died). Per thread: no lock, no race. */
	struct {
		const PyCodeObject *code;
		unsigned int gen;
		const struct pt_code *info;
	} codecache[PT_CODECACHE];
};

/* Creates the object to install on a thread state of the current interpreter. */
struct pt_thread *pt_thread_new(struct pt_interp *pi);

/* Bumped (relaxed atomic) whenever a struct pt_thread is freed or taken off its thread state:
 * 3.12+ caches the current thread's object per OS thread, keyed by thread state and this. */
extern unsigned int pt_thread_gen;

/* ---- tstate.c: a thread state's struct pt_thread in its dict (3.12+; 3.11 fast mode) ---- */

/* The key of the struct pt_thread in its thread state's dict (PyThreadState_GetDict()). */
#define PT_THREAD_KEY "libpytrace.thread"

/* The current OS thread's last lookup. */
struct pt_tls_cache {
	PyThreadState *ts;
	unsigned int gen; /* pt_thread_gen at the lookup */
	struct pt_thread *t; /* borrowed from ts->dict */
};
/* initial-exec: a plain TLS load, no __tls_get_addr() call per event (24 bytes of the static TLS
 * surplus, which glibc keeps for libraries dlopen()ed later). */
extern __thread struct pt_tls_cache pt_tls __attribute__((tls_model("initial-exec")));

/* The cache missed: finds (or creates) the object of @ts, the current thread state; NULL when
 * its interpreter is not attached or is closing. */
struct pt_thread *pt_tstate_thread_slow(PyThreadState *ts);

/* The object of @ts, the current thread state (NULL: not traced). */
static inline struct pt_thread *pt_tstate_thread(PyThreadState *ts)
{
	if (__builtin_expect(pt_tls.ts == ts &&
				     pt_tls.gen == __atomic_load_n(&pt_thread_gen, __ATOMIC_RELAXED),
			     1)) {
		return pt_tls.t;
	}
	return pt_tstate_thread_slow(ts);
}

/* The object of any thread state @ts of @pi (borrowed), or NULL. */
struct pt_thread *pt_tstate_thread_of(PyThreadState *ts, struct pt_interp *pi);

/* Closes the frames of @ts's thread (emitting `detach` returns if @emit) and drops its object. */
void pt_tstate_thread_remove(struct pt_interp *pi, PyThreadState *ts, bool emit);

/* Calls @fn with the object of every thread state of @pi that has one. */
void pt_tstate_foreach(struct pt_interp *pi, void (*fn)(struct pt_thread *t));

/* First event of a thread whose running frames the backend collected itself: pushes @frames
 * (outermost first) as pt_thread_sync() does. */
void pt_thread_sync_frames(struct pt_thread *t, const struct pt_pyframe *frames, size_t n);

/* 1 + the index of the innermost open frame with @key, or 0 if none is open. */
size_t pt_thread_find(const struct pt_thread *t, const void *key);

/* Closes the frames above the first @depth with `detach` returns: they returned unseen. */
void pt_thread_pop_above(struct pt_thread *t, size_t depth);

/* The hot path, called by the hook backends. */
void pt_thread_py_entry(struct pt_thread *t, const struct pt_pyframe *f, enum pt_entry_kind kind);
void pt_thread_py_return(struct pt_thread *t, const struct pt_pyframe *f, enum pt_return_kind kind);
void pt_thread_c_entry(struct pt_thread *t, PyObject *func);
void pt_thread_c_return(struct pt_thread *t, PyObject *func, bool unwind);
void pt_thread_exception(struct pt_thread *t, const struct pt_pyframe *f, PyObject *type);

/* Whether code of @f is recorded at all (filters only, not depth): sys.monitoring disables the
 * events of code that is not. */
bool pt_thread_traces(struct pt_thread *t, const struct pt_pyframe *f);

/* Pushes the frames running on this thread (@frame and its callers) if not done yet. */
void pt_thread_sync(struct pt_thread *t, PyFrameObject *frame);

/* Emits a `detach` return for every open frame, innermost first (if @emit and events are
 * enabled), flushes fast-mode records and empties the stack. */
void pt_thread_close(struct pt_thread *t, bool emit);

/* The kernel id of the calling thread (cached; reset in a fork child). */
int32_t pt_gettid(void);

/* ---- fast.c: fast mode's records and definitions ---- */

/* Records are appended by fast.h's inline functions (thread.c). Hands the buffer over. */
void pt_fast_flush(struct pt_thread *t);
void pt_fast_free(struct pt_thread *t);
/* Flushes the buffer if its oldest record is older than the hand-over delay (watcher). */
void pt_fast_flush_stale(struct pt_thread *t);

/* ---- session.c: is anybody recording? ---- */

/* Whether some session enables one of the `python` events (cheap: reads tracepoint states). */
bool pt_session_wanted(void);

/* Bumped when a session starts recording `python` events in this process (relaxed atomic):
 * open frames are restated and fast-mode definitions emitted again. */
extern unsigned int pt_session_gen;

/* Checks whether the set of sessions recording changed since the last call; bumps
 * pt_session_gen if a new one appeared. Cheap (a few loads under LTTng's RCU read lock). */
void pt_session_check(void);

/* Whether an active session records tracepoint @tp of any provider (logging.c: the agent
 * library's `lttng_python:event`). Lock-free, no GIL. */
struct lttng_ust_tracepoint;
bool pt_session_tp_recording(struct lttng_ust_tracepoint *tp);

/* ---- watch.c: the thread that installs the hooks while somebody records ---- */

/* Starts the watcher (once per process; again in a fork child). 0 or -errno. */
int pt_watch_start(void);

/* Whether @ts is the watcher's own (temporary) thread state. */
bool pt_watch_owns(PyThreadState *ts);

/* On the watcher thread only, @pi held (pt_interp_grab() or pt_interp_hold()): takes @pi's GIL
 * with a thread state of its own. false if that failed or @pi began closing meanwhile (nothing
 * is held then); true: pt_watch_leave(*ts) gives it back. */
struct pt_interp;
bool pt_watch_enter(struct pt_interp *pi, PyThreadState **ts);
void pt_watch_leave(PyThreadState *ts);

/* ---- hook-eval.c: fast mode's frame evaluation function (3.11) ---- */
#define PT_EVAL_HOOK (PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000)
#if PT_EVAL_HOOK
/* Whether @pi's hooks would be the frame evaluation function (fast mode, no C calls, the
 * default evaluation function in place, not PYTRACE_FAST_HOOK=profile). */
bool pt_eval_usable(struct pt_interp *pi);
int pt_eval_start(struct pt_interp *pi);
/* Removes it and every thread's state, closing their frames (emitting if @emit). */
void pt_eval_stop(struct pt_interp *pi, bool emit);
/* Whether @pi's frame evaluation function is installed but no longer in place: a debugger or
 * a JIT replaced it. GIL held. */
bool pt_eval_replaced(const struct pt_interp *pi);
/* At detach: removes the function if it is in place although not the hook (a debugger that had
 * replaced it put it back). GIL held. */
void pt_eval_detach(struct pt_interp *pi);
#else
static inline bool pt_eval_replaced(const struct pt_interp *pi)
{
	(void)pi;
	return false;
}
#endif

/* ---- hook-legacy.c (3.8-3.11) or hook-monitor.c (3.12+): the backend ---- */

/* At attach: reserves what the backend needs (3.12+: a sys.monitoring tool id) and checks that
 * it can install later. 0, -EBUSY (logged), -ENOMEM, -EIO. GIL held. */
int pt_hook_attach(struct pt_interp *pi);

/* Releases what pt_hook_attach() reserved; the hooks are stopped. */
void pt_hook_detach(struct pt_interp *pi);

/* Installs the hooks on every thread of @pi's interpreter (a session wants events). On error
 * everything done is undone. GIL held, any thread of the interpreter. */
int pt_hook_start(struct pt_interp *pi);

/* Removes every hook of @pi's interpreter; open frames get `detach` returns if @emit. */
void pt_hook_stop(struct pt_interp *pi, bool emit);

/* Installs the hooks on one thread state (3.8-3.11; nothing to do on 3.12+).
 * 0, -EBUSY (another profile function), -ENOMEM or -EIO. */
int pt_hook_install_thread(struct pt_interp *pi, PyThreadState *tstate);

/* Calls @fn on the struct pt_thread of every thread of @pi that has one (GIL held). */
void pt_hook_foreach_thread(struct pt_interp *pi, void (*fn)(struct pt_thread *t));

/* The configuration changed: 3.12+ re-enables the events it had disabled for filtered code. */
void pt_hook_config_changed(struct pt_interp *pi);

/* ---- api.c: attached interpreters ---- */

struct pt_interp {
	PyInterpreterState *interp;
	int64_t id;
	Py_ssize_t code_index;
	struct pt_config *cfg;	 /* RCU-protected */
	unsigned int refs;	 /* the attached marker and each struct pt_thread (GIL) */
	bool active;		 /* hooks installed (written with the GIL, read by the watcher) */
	bool start_failed;	 /* the last start failed: not retried until stopped */
	bool closing;		 /* detach or finalization began: the watcher keeps off (lock) */
	unsigned int busy;	 /* the watcher is working on it (lock) */
	PyObject *exit_hook;	 /* our atexit callback */
	PyObject *thread_hook;	 /* 3.8-3.11: our callable given to threading.setprofile() */
	int tool_id;		 /* 3.12+: our sys.monitoring tool id */
	bool eval_hook;		 /* 3.11 fast mode: our frame evaluation function is installed */
	/* logging.c: forwarding of Python logging (written with the GIL, read by the watcher) */
	bool logging;		 /* switched on */
	bool log_installed;	 /* logging.Logger's methods are wrapped */
	bool log_failed;	 /* wrapping failed: not retried until nobody records */
	struct pt_logging *log;	 /* the module, handler type and instance (GIL) */
	struct pt_interp *next;
};

/* The recording mode of @pi's current configuration. */
enum pt_mode pt_interp_mode(struct pt_interp *pi);

/* The attached interpreter @interp, or NULL. */
struct pt_interp *pt_interp_find(PyInterpreterState *interp);

/* References held by thread objects, so that a late event of a thread never finds its
 * interpreter's configuration freed (GIL held). */
void pt_interp_ref(struct pt_interp *pi);
void pt_interp_unref(struct pt_interp *pi);

/* For the watcher: marks busy, and returns in @out (at most @max), every attached interpreter
 * whose hooks are not in the wanted state (@want), whose logging handler is not (@log_want),
 * or, with @flush, whose fast-mode buffers may need a flush. Each must be given back with pt_interp_release(). */
size_t pt_interp_grab(struct pt_interp **out, size_t max, bool want, bool log_want, bool flush);
void pt_interp_release(struct pt_interp *pi);

/* For the watcher: marks @interp's entry busy, as pt_interp_grab() does, unless it is not
 * attached or closing (NULL). Given back with pt_interp_release(). */
struct pt_interp *pt_interp_hold(PyInterpreterState *interp);

/* Makes @pi's hooks match @want (start or stop them). GIL of @pi held. */
void pt_interp_apply(struct pt_interp *pi, bool want);

#endif /* PYTRACE_INTERNAL_H */
