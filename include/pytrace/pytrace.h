/* SPDX-License-Identifier: MIT */
/**
 * @file pytrace.h
 * @brief libpytrace: trace every Python call of an embedded CPython interpreter with LTTng-UST.
 *
 * A host that embeds CPython attaches libpytrace to an interpreter; from then on every Python
 * function entry and return, generator resume and yield, and exception of that interpreter is
 * recorded as an LTTng-UST event of provider `python` (see docs/events.md), on the same timeline
 * as the host's own tracepoints and the kernel. Nothing is recorded, and the cost is that of the
 * installed hook only, while no LTTng session enables the `python` events.
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

/**
 * Options of pytrace_attach().
 *
 * Initialise with PYTRACE_OPTS() so that `sz` is right and every field you do not name is zero,
 * which is its default. Fields are only ever appended: a program compiled against an older header
 * passes a smaller `sz` and gets the defaults for the fields it does not know; a program compiled
 * against a newer header may run with an older library only if the fields it does not know are
 * zero (otherwise pytrace_attach() returns -EINVAL rather than ignore a request).
 */
struct pytrace_attach_opts {
	/** Size of this struct as the caller knows it: `sizeof(struct pytrace_attach_opts)`. */
	size_t sz;
	/**
	 * Also record calls of C functions (builtins such as `len`, methods of C types such as
	 * `list.append`, functions of C modules such as `time.sleep`) as `c_function__entry` and
	 * `c_function__return` events. Off by default: it roughly doubles the number of events.
	 */
	bool c_calls;
	size_t : 0;
};
#define pytrace_attach_opts__last_field c_calls

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
 * CPython 3.8-3.11: libpytrace takes each thread's profile hook (PyEval_SetProfile) and, where
 * the thread has none, its trace hook for exception events only. `sys.getprofile()` then returns
 * a libpytrace object. A thread on which the program later installs its own profile function stops
 * being traced (its open frames are closed with `detach` returns when it is next seen or at
 * detach); a program's own trace function (pdb, coverage) is never displaced: that thread then
 * only lacks `exception` events.
 *
 * @param interp The interpreter; must be the interpreter of the calling thread's current thread
 *        state.
 * @param opts Options, or NULL for the defaults.
 * @return 0 on success;
 *         -EINVAL if @p interp is NULL, the calling thread holds no thread state of @p interp,
 *                 or @p opts is malformed (`sz` smaller than `sizeof(size_t)`, or larger than this
 *                 library knows with a non-zero byte in the part it does not know);
 *         -EALREADY if @p interp is already attached;
 *         -EBUSY if a thread of @p interp already has a profile function (cProfile, a profiler);
 *         -ENOMEM when memory runs out;
 *         -EIO if the interpreter refused (a Python error, which is logged and cleared).
 *         On error nothing is left installed.
 *
 * GIL: required. Thread safety: MT-Safe (the GIL and an internal lock serialise attach/detach).
 * Not async-signal-safe.
 */
PYTRACE_API int pytrace_attach(PyInterpreterState *interp, const struct pytrace_attach_opts *opts);

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
 * Trace the calling thread, a thread created in C that entered Python with PyGILState_Ensure()
 * (or PyThreadState_New() and PyEval_RestoreThread()) after its interpreter was attached.
 *
 * On CPython 3.8-3.11 nothing tells a library that a C thread entered Python, so such a thread is
 * traced from this call on; call it once after PyGILState_Ensure(). Threads that already existed
 * at attach and threads started by `threading` need no call. Calling it on a thread already
 * traced does nothing and returns 0.
 *
 * @return 0 on success (or if the thread is already traced);
 *         -EINVAL if the calling thread holds no thread state (no GIL);
 *         -ENOENT if the interpreter of the calling thread is not attached;
 *         -EBUSY if the thread already has another profile function;
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

#ifdef __cplusplus
}
#endif

#endif /* PYTRACE_PYTRACE_H */
