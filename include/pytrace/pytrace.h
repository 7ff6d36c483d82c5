/* SPDX-License-Identifier: MIT */
/**
 * @file pytrace.h
 * @brief libpytrace: trace every Python call of an embedded CPython interpreter with LTTng-UST.
 *
 * A host that embeds CPython attaches libpytrace to an interpreter; from then on every Python
 * function entry and return, generator resume and yield, and exception of that interpreter is
 * recorded as an LTTng-UST event of provider `python` (see docs/events.md), on the same timeline
 * as the host's own tracepoints and the kernel. While no LTTng session enables the `python`
 * events, libpytrace installs no hook at all: a background thread (`pytrace-watch`) looks every
 * 20 ms whether one does, and installs the hooks within that delay when a session starts (and
 * removes them when none records any more).
 *
 * Conventions, for every function here:
 * - It returns 0 on success or a negative errno; it never aborts the host and never leaves a
 *   Python exception set.
 * - "GIL: required" means the calling thread must hold the GIL with a thread state of the
 *   interpreter concerned as its current thread state (as after PyGILState_Ensure() or inside
 *   code called from Python).
 * - Misuse (NULL pointers, a thread state of another interpreter) returns -EINVAL and logs one
 *   line to stderr, prefixed `libpytrace:`. `PYTRACE_LOG=none|error|warn|info|debug` sets how
 *   much is logged (default `warn`).
 *
 * Minimal use:
 * @code
 * Py_Initialize();
 * int err = pytrace_attach(PyInterpreterState_Get(), NULL);
 * if (err)
 *         fprintf(stderr, "pytrace_attach: %s\n", strerror(-err));
 * PyRun_SimpleString("import json; json.dumps([1, 2])");
 * pytrace_detach(PyInterpreterState_Get());
 * Py_FinalizeEx();
 * @endcode
 */
#ifndef PYTRACE_PYTRACE_H
#define PYTRACE_PYTRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pytrace/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CPython's own declaration (pytypedefs.h); repeating an identical typedef is valid C11 and C++,
 * so this header needs neither Python.h nor a particular include order. */
typedef struct _is PyInterpreterState;

#ifndef PYTRACE_API
#define PYTRACE_API __attribute__((visibility("default")))
#endif

/** How events are recorded (see docs/events.md). */
enum pytrace_mode {
	/**
	 * One self-describing LTTng event per call and per return (`python:function__entry`,
	 * `python:function__return`, ...): file, qualified name and module as strings in each.
	 * Readable by any CTF tool as it is.
	 */
	PYTRACE_MODE_EVENTS = 0,
	/**
	 * Compact 16-byte records per call and return, buffered per thread and handed to LTTng in
	 * batches (`python:records`), with each code object described once per session
	 * (`python:code`). Several times cheaper; decoded by pytrace's tools. Records reach LTTng
	 * when a thread's buffer fills (128 records), when the thread stops being traced, or at the
	 * latest about 0.5 s after they were written; a crash loses what is still buffered.
	 */
	PYTRACE_MODE_FAST = 1,
};

/**
 * Options of pytrace_attach() and pytrace_config_set().
 *
 * Initialise with PYTRACE_OPTS() so that `sz` is right and every field you do not name is zero,
 * which is its default. Fields are only ever appended: a program compiled against an older header
 * passes a smaller `sz` and gets the defaults for the fields it does not know; a program compiled
 * against a newer header may run with an older library only if the fields it does not know are
 * zero (otherwise the call returns -EINVAL rather than ignore a request).
 *
 * At attach, the environment variables PYTRACE_MODE (`events` or `fast`), PYTRACE_C_CALLS
 * (`1`/`0`, `yes`/`no`, `true`/`false`, `on`/`off`), PYTRACE_MAX_DEPTH, PYTRACE_INCLUDE,
 * PYTRACE_EXCLUDE and PYTRACE_LOGGING (a boolean, as PYTRACE_C_CALLS) override the
 * corresponding fields when they are set, so that an operator can
 * change what a host records without rebuilding it. pytrace_config_set() does not read them.
 */
struct pytrace_attach_opts {
	/** Size of this struct as the caller knows it: `sizeof(struct pytrace_attach_opts)`. */
	size_t sz;
	/**
	 * Also record calls of C functions (builtins such as `len`, methods of C types such as
	 * `list.append`, functions of C modules such as `time.sleep`) as `c_function__entry` and
	 * `c_function__return` events. Off by default: it roughly doubles the number of events.
	 * A C call is recorded when the Python frame calling it is.
	 */
	bool c_calls;
	/** An enum pytrace_mode; PYTRACE_MODE_EVENTS by default. (Since 0.2.) */
	int mode;
	/**
	 * Record only code whose module (the `__name__` of its globals; `__main__` for the script)
	 * matches one of these comma-separated globs, e.g. `"myapp.*,__main__"`. `*`, `?` and
	 * `[...]` as in fnmatch(3); `pkg.*` also matches `pkg`; `:stdlib` stands for every module of
	 * the standard library. NULL or empty: every module. Copied; the caller keeps ownership.
	 * (Since 0.2.)
	 */
	const char *include;
	/** Do not record code of modules matching these globs (same syntax), e.g. `":stdlib"`.
	 *  Applied after `include`. (Since 0.2.) */
	const char *exclude;
	/**
	 * Record at most this many nested frames per thread (counting recorded frames only);
	 * deeper calls are not recorded. 0: no limit. At most 1000000. (Since 0.2.)
	 */
	unsigned int max_depth;
	/**
	 * Forward the interpreter's Python `logging` records to LTTng as `lttng_python:event`,
	 * exactly as the official agent (`lttngust`) does: same as calling
	 * pytrace_logging_enable() right after attach. Overridden by PYTRACE_LOGGING when set.
	 * Read by pytrace_attach() only: pytrace_config_set() leaves forwarding as it is.
	 * (Since 0.3.)
	 */
	bool logging;
	size_t : 0;
};
#define pytrace_attach_opts__last_field logging

/**
 * Declare and initialise an options struct: `PYTRACE_OPTS(pytrace_attach_opts, o, .c_calls = true);`
 * declares `struct pytrace_attach_opts o` with `sz` set and every other field zero.
 */
#define PYTRACE_OPTS(TYPE, NAME, ...)                                                              \
	struct TYPE NAME = ({                                                                      \
		__builtin_memset(&NAME, 0, sizeof(struct TYPE));                                   \
		(struct TYPE){ .sz = sizeof(struct TYPE), __VA_ARGS__ };                           \
	})

/**
 * Start tracing an interpreter.
 *
 * Every thread of @p interp is traced: those that exist now, those started later by `threading`,
 * and, after they call pytrace_thread_attach(), threads created in C that enter Python with
 * PyGILState_Ensure(). Other interpreters of the process (sub-interpreters included) stay silent
 * unless attached themselves.
 *
 * Frames already running when a thread is first seen after attach are reported as
 * `function__entry` events of kind `active`, so that every later return has its entry (see
 * docs/events.md, "Balance").
 *
 * CPython 3.12+: libpytrace uses `sys.monitoring` with a tool id of its own (the first free of 3
 * and 4), which covers every thread of the interpreter, however created.
 *
 * CPython 3.8-3.11: while a session records, libpytrace takes each thread's profile hook
 * (PyEval_SetProfile) and, in per-event mode where the thread has none, its trace hook for
 * exception events only. `sys.getprofile()` then returns a libpytrace object. A thread on which the program later installs its own profile function stops
 * being traced (its open frames are closed with `detach` returns when it is next seen or at
 * detach); a program's own trace function (pdb, coverage) is never displaced: that thread then
 * only lacks `exception` events.
 *
 * @param interp The interpreter; must be the interpreter of the calling thread's current thread
 *        state.
 * @param opts Options, or NULL for the defaults.
 * @return 0 on success;
 *         -EINVAL if @p interp is NULL, the calling thread holds no thread state of @p interp,
 *                 @p opts is malformed (`sz` smaller than `sizeof(size_t)`, or larger than this
 *                 library knows with a non-zero byte in the part it does not know), or an
 *                 option or PYTRACE_* variable is invalid (a message naming the bad part is
 *                 logged);
 *         -EALREADY if @p interp is already attached;
 *         -EBUSY on 3.8-3.11 if a thread of @p interp (or threading.setprofile()) already has
 *                a profile function (cProfile, a profiler); on 3.12+ if no sys.monitoring tool
 *                id is free (3 and 4 are taken);
 *         -ENOMEM when memory runs out;
 *         -EIO if the interpreter refused (a Python error, which is logged and cleared);
 *         -ELIBACC if `logging` forwarding is asked for (the option or PYTRACE_LOGGING) and
 *                  liblttng-ust-python-agent.so.1 cannot be loaded (see
 *                  pytrace_logging_enable()).
 *         On error nothing is left installed.
 *
 * Attach also registers a module named `_libpytrace` in `sys.modules` of @p interp, through
 * which Python code switches `logging` forwarding (docs/logging.md); detach removes it.
 *
 * GIL: required. Thread safety: MT-Safe (the GIL and an internal lock serialise attach/detach).
 * Not async-signal-safe.
 */
PYTRACE_API int pytrace_attach(PyInterpreterState *interp, const struct pytrace_attach_opts *opts);

/**
 * Change what an attached interpreter records, while it runs.
 *
 * Every field of @p opts replaces the current setting (mode, C calls, include and exclude
 * filters, depth limit), as if given to pytrace_attach(); the environment is not read again.
 * Each thread applies the change at its next event; on CPython 3.12+ code that a filter had
 * excluded is instrumented again. Frames already open keep being recorded as they were (their
 * returns match their entries). On error nothing changes.
 *
 * @param interp An attached interpreter; must be the interpreter of the calling thread's current
 *        thread state.
 * @param opts The new settings (NULL: the defaults: record everything, per-event mode).
 * @return 0 on success;
 *         -EINVAL if @p interp is NULL, the calling thread holds no thread state of @p interp,
 *                 @p opts is malformed, or a filter or the depth is invalid (a message naming
 *                 the bad part is logged);
 *         -ENOENT if @p interp is not attached;
 *         -ENOMEM when memory runs out.
 *
 * GIL: required. Thread safety: MT-Safe: threads of the interpreter read the settings
 * without a lock (an RCU-protected snapshot, see docs/api.md). Not async-signal-safe.
 */
PYTRACE_API int pytrace_config_set(PyInterpreterState *interp,
				   const struct pytrace_attach_opts *opts);

/**
 * Stop tracing an interpreter.
 *
 * Removes every hook libpytrace installed in @p interp and, on every thread, emits a
 * `function__return` (or `c_function__return`) of kind `detach` for each frame still open, so
 * that no entry stays unclosed. It may be called from any thread of @p interp, not only the one
 * that attached. Finalizing the interpreter (Py_FinalizeEx(), Py_EndInterpreter()) detaches it
 * implicitly, after the last Python code of that interpreter (atexit handlers included) ran.
 *
 * @param interp The interpreter; must be the interpreter of the calling thread's current thread
 *        state.
 * @return 0 on success;
 *         -EINVAL if @p interp is NULL or the calling thread holds no thread state of @p interp;
 *         -ENOENT if @p interp is not attached.
 *
 * GIL: required. Thread safety: MT-Safe. Not async-signal-safe.
 */
PYTRACE_API int pytrace_detach(PyInterpreterState *interp);

/**
 * Forward the Python `logging` records of an attached interpreter to LTTng.
 *
 * Each record that the official Python agent (`lttngust`, whose handler sits on the root logger
 * with the root level NOTSET) would record is recorded as an
 * `lttng_python:event`, with the fields and formatting of the official Python agent
 * (`lttngust`): `asctime` (the record's time as logging formats it, followed by the formatted
 * traceback when the record carries exc_info), `msg` (record.getMessage()), `logger_name`,
 * `funcName`, `lineno`, `int_loglevel`, `thread`, `threadName`. The event is written by
 * py_tracepoint() of liblttng-ust-python-agent.so.1 (Debian: liblttng-ust-python-agent1),
 * loaded the first time this is called, so that `lttng enable-event --python` (`-a`, a logger
 * name, `--loglevel`, `--loglevel-only`) and `lttng disable-event --python` select records
 * exactly as with the official agent.
 *
 * Unlike the agent, libpytrace adds no handler and leaves the root logger's level alone: the
 * program prints what it prints untraced (basicConfig(), logging.lastResort, its handlers). Only
 * while a session records `lttng_python:event` in this process, logging.Logger's isEnabledFor,
 * handle and callHandlers are wrapped at class level (libpytrace's watcher wraps them
 * within about 20 ms of a session starting and unwraps them when none records, so a program
 * pays nothing while nobody records); isEnabledFor() then also answers true for the levels the
 * agent records. If a session records when this is called, `logging` is imported and the
 * methods wrapped before it returns. When the program also uses `lttngust` and its handler is
 * on the root logger, that handler records and libpytrace stands down: every record is
 * recorded once. Errors while formatting a record (a failing `__str__`, wrong format
 * arguments) are reported by the handler's handleError(), as Python's own handlers do, and
 * never raised into the program. Details: docs/logging.md.
 *
 * Calling it when forwarding is already on does nothing and returns 0.
 *
 * @param interp An attached interpreter; must be the interpreter of the calling thread's
 *        current thread state.
 * @return 0 on success;
 *         -EINVAL if @p interp is NULL or the calling thread holds no thread state of
 *                 @p interp;
 *         -ENOENT if @p interp is not attached (or is being detached or finalized);
 *         -ELIBACC if liblttng-ust-python-agent.so.1 cannot be loaded (logged with the
 *                  reason);
 *         -ENOMEM when memory runs out.
 *         A Python error while adding the handler (the program's `logging` refuses it) is
 *         logged and cleared; forwarding stays on and is retried when a session next starts.
 *
 * GIL: required. Thread safety: MT-Safe (serialised by the GIL). Not async-signal-safe.
 * (Since 0.3.)
 */
PYTRACE_API int pytrace_logging_enable(PyInterpreterState *interp);

/**
 * Stop forwarding the Python `logging` records of an attached interpreter.
 *
 * Removes the handler from the root logger (giving the root logger back its former level, see
 * pytrace_logging_enable()). Calling it when forwarding is off does nothing and returns 0.
 * pytrace_detach() and finalization switch forwarding off too.
 *
 * @param interp An attached interpreter; must be the interpreter of the calling thread's
 *        current thread state.
 * @return 0 on success;
 *         -EINVAL if @p interp is NULL or the calling thread holds no thread state of
 *                 @p interp;
 *         -ENOENT if @p interp is not attached (or is being detached or finalized).
 *
 * GIL: required. Thread safety: MT-Safe (serialised by the GIL). Not async-signal-safe.
 * (Since 0.3.)
 */
PYTRACE_API int pytrace_logging_disable(PyInterpreterState *interp);

/**
 * Trace the calling thread, a thread created in C that entered Python with PyGILState_Ensure()
 * (or PyThreadState_New() and PyEval_RestoreThread()) after its interpreter was attached.
 *
 * On CPython 3.8-3.11 nothing tells a library that a C thread entered Python, so such a thread is
 * traced from this call on; call it once after PyGILState_Ensure(). Threads that already existed
 * at attach and threads started by `threading` need no call. Calling it on a thread already
 * traced does nothing and returns 0. On CPython 3.12+ every thread of an attached interpreter is
 * traced (sys.monitoring's events are the interpreter's): the call only checks its arguments.
 *
 * @return 0 on success (or if the thread is already traced);
 *         -EINVAL if the calling thread holds no thread state (no GIL);
 *         -ENOENT if the interpreter of the calling thread is not attached;
 *         -EBUSY on 3.8-3.11 if the thread already has another profile function;
 *         -ENOMEM when memory runs out.
 *
 * GIL: required. Thread safety: MT-Safe. Not async-signal-safe.
 */
PYTRACE_API int pytrace_thread_attach(void);

/**
 * The version of the library in use, as "MAJOR.MINOR.PATCH" (compare with
 * PYTRACE_VERSION_STRING, the version of the headers).
 *
 * @return A static string; never NULL.
 *
 * GIL: not needed. Thread safety: MT-Safe, async-signal-safe.
 */
PYTRACE_API const char *pytrace_version(void);

/**
 * Begin a span: record a `python:span_begin` event with a name, a new span id and string
 * attributes, on the calling thread (docs/events.md, "Spans and marks").
 *
 * A span is a named interval of a thread's work (a request, a phase) that a consumer nests with
 * the `function__entry`/`function__return` events of the same thread. End it with
 * pytrace_span_end() and the same name and id. Spans are independent of pytrace_attach(): they
 * are recorded whenever a session enables `python:span_begin`, attached or not, and their events
 * never make libpytrace install its hooks. The attributes are recorded as one JSON object of
 * strings (`{"route":"/users","method":"GET"}`), in the order given; nothing is checked about
 * duplicate keys.
 *
 * @param name The span's name, UTF-8, NUL-terminated; copied into the event.
 * @param keys The attributes' keys (UTF-8), @p n_attrs of them; may be NULL if @p n_attrs is 0.
 * @param values Their values (UTF-8), in the same order; may be NULL if @p n_attrs is 0.
 * @param n_attrs The number of attributes.
 * @param[out] id The span's id: unique in the process (a counter from 1, never 0). Set even
 *        when no session records, so that the matching pytrace_span_end() is always valid.
 * @return 0 on success;
 *         -EINVAL if @p name or @p id is NULL, or @p n_attrs is not 0 and @p keys, @p values or
 *                 one of their strings is NULL (logged);
 *         -ENOMEM if the attributes could not be encoded (nothing is recorded; *@p id is set).
 *
 * GIL: not needed (no Python is touched: a thread created in C may call it). Thread safety:
 * MT-Safe. Not async-signal-safe (it allocates while a session records). (Since 0.3.)
 */
PYTRACE_API int pytrace_span_begin(const char *name, const char *const *keys,
				   const char *const *values, size_t n_attrs, uint64_t *id);

/**
 * End a span: record a `python:span_end` event with its name and id, on the calling thread.
 *
 * Nothing is checked against the begin: spans of one thread normally nest (a consumer matches
 * an end with its begin by id, within the process), but a span may end on another thread than
 * the one that began it (then the events carry different `tid`s).
 *
 * @param name The name given to pytrace_span_begin().
 * @param id The id pytrace_span_begin() returned.
 * @return 0 on success; -EINVAL if @p name is NULL or @p id is 0 (logged).
 *
 * GIL: not needed. Thread safety: MT-Safe, async-signal-safe. (Since 0.3.)
 */
PYTRACE_API int pytrace_span_end(const char *name, uint64_t id);

/**
 * Record a `python:mark` event: a named instant of the calling thread with string attributes
 * (same rules as pytrace_span_begin(); no id).
 *
 * @return 0 on success;
 *         -EINVAL if @p name is NULL, or @p n_attrs is not 0 and @p keys, @p values or one of
 *                 their strings is NULL (logged);
 *         -ENOMEM if the attributes could not be encoded (nothing is recorded).
 *
 * GIL: not needed. Thread safety: MT-Safe. Not async-signal-safe. (Since 0.3.)
 */
PYTRACE_API int pytrace_mark(const char *name, const char *const *keys, const char *const *values,
			     size_t n_attrs);

/**
 * An HTTP request for pytrace_request_begin() (docs/events.md, "Requests"). Every string is
 * UTF-8 and NUL-terminated, copied by pytrace_request_begin(); NULL or "" is recorded as "-"
 * (no string field of the request events is ever empty: babeltrace2 2.0.4 misreads them).
 * Declare it with PYTRACE_OPTS(pytrace_request_opts, o, .method = "GET", ...). (Since 0.4.)
 */
struct pytrace_request_opts {
	/** Size of this struct as the caller knows it: `sizeof(struct pytrace_request_opts)`. */
	size_t sz;
	/** The method: `"GET"`. */
	const char *method;
	/** The path, without the query string: `"/users/7"`. */
	const char *path;
	/** The name of the handler that serves it (Flask's endpoint: `"users.show"`); NULL when
	 *  no route matched. */
	const char *endpoint;
	/** The route that matched, as written by the application (`"/users/<int:id>"`); NULL when
	 *  none did. Requests of one route share it, whatever their path. */
	const char *rule;
	/**
	 * The request's W3C `traceparent` header (Trace Context), or NULL. When valid, its trace id
	 * and parent id are recorded in `request_entry`, so that the requests of one trace can be
	 * followed from service to service; an invalid one is recorded as absent (never an error).
	 */
	const char *traceparent;
	/**
	 * Non-NULL: also record the two logging records of the Trace Compass "Python XML analysis"
	 * lab, as `lttng_python:event` (the official Python agent's event; recorded by
	 * `lttng enable-event --python`): funcName `tracing_entry` at the begin and `tracing_exit`
	 * at the end, level INFO, with this logger name and the message "METHOD ROUTE" (the rule,
	 * or the path when none matched). Needs the agent library, liblttng-ust-python-agent.so.1.
	 * These records go to LTTng only, never to the program's `logging` handlers.
	 */
	const char *lab_logger;
	/** The `threadName` of those records (the lab's analysis tells threads apart by it); NULL:
	 *  the calling thread's kernel name (pthread_getname_np()). */
	const char *thread_name;
	size_t : 0;
};
#define pytrace_request_opts__last_field thread_name

/** A request being recorded, from pytrace_request_begin() to pytrace_request_end(). */
struct pytrace_request;

/**
 * Begin a request: record a `python:request_entry` event on the calling thread, and (with
 * @p opts->lab_logger) the lab's `tracing_entry` record.
 *
 * Like spans, requests are recorded whenever a session enables their events, attached or not,
 * and never make libpytrace install its hooks. When no session enables `python:request_entry`,
 * `python:request_exit` or (with @p opts->lab_logger) `lttng_python:event`, nothing is
 * allocated or recorded and *@p req is NULL: pass it to pytrace_request_end() all the same, so
 * that the events of a request always come in pairs (a session started in the middle of a
 * request records the requests that begin after it).
 *
 * @param opts The request (see struct pytrace_request_opts); NULL is an empty request.
 * @param[out] req The request to end, or NULL when nothing records it.
 * @return 0 on success (*@p req may be NULL);
 *         -EINVAL if @p req is NULL or @p opts breaks the `sz` contract (logged);
 *         -ENOENT if @p opts->lab_logger is set but the agent library cannot be loaded (logged
 *                 once; nothing is recorded, *@p req is NULL);
 *         -ENOMEM (nothing is recorded, *@p req is NULL).
 *
 * GIL: not needed. Thread safety: MT-Safe. Not async-signal-safe (it allocates). (Since 0.4.)
 */
PYTRACE_API int pytrace_request_begin(const struct pytrace_request_opts *opts,
				      struct pytrace_request **req);

/**
 * End a request: record `python:request_exit` with its status and duration (and, with a
 * lab_logger, the lab's `tracing_exit` record) on the calling thread, and free @p req.
 *
 * @param req What pytrace_request_begin() gave; NULL is a no-op returning 0.
 * @param status The HTTP status sent (500 for a request that failed before a response existed).
 * @param error The name of the exception or error that ended the request, or NULL for none.
 * @return 0.
 *
 * GIL: not needed. Thread safety: MT-Safe for distinct requests; a request is ended once, by one
 * thread (usually the one that began it). Not async-signal-safe. (Since 0.4.)
 */
PYTRACE_API int pytrace_request_end(struct pytrace_request *req, int status, const char *error);

/**
 * Whether pytrace_request_begin() would record anything now: a session enables
 * `python:request_entry` or `python:request_exit`, or, with @p lab_records, `lttng_python:event`.
 * One load per event: a server asks it before it gathers a request's strings, so that a request
 * costs next to nothing while nobody records.
 *
 * @param lab_records Whether the caller sets struct pytrace_request_opts.lab_logger: the agent
 *        library is loaded on first use, so a server may call this once at start-up to learn
 *        that the lab records are impossible.
 * @return 1 if it would, 0 if not;
 *         -ENOENT if @p lab_records is true and the agent library cannot be loaded (logged once).
 *
 * GIL: not needed. Thread safety: MT-Safe. (Since 0.4.)
 */
PYTRACE_API int pytrace_request_recording(bool lab_records);

/**
 * The id recorded in the request's events: unique in the process (a counter from 1).
 *
 * @return The id, or 0 for NULL.
 *
 * GIL: not needed. Thread safety: MT-Safe, async-signal-safe. (Since 0.4.)
 */
PYTRACE_API uint64_t pytrace_request_id(const struct pytrace_request *req);

#ifdef __cplusplus
}
#endif

#endif /* PYTRACE_PYTRACE_H */
