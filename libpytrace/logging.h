/* SPDX-License-Identifier: MIT */
/*
 * logging.c: Python `logging` records forwarded to LTTng as `lttng_python:event`, through the
 * official agent library's py_tracepoint(). Nothing here is exported; every function that takes
 * a struct pt_interp runs with that interpreter's GIL held unless it says otherwise.
 */
#ifndef PYTRACE_LOGGING_H
#define PYTRACE_LOGGING_H

#include "internal.h"

struct pytrace_attach_opts;

/* The forwarding an attach asks for: opts->logging (already sz-checked), overridden by
 * PYTRACE_LOGGING when set. -EINVAL (logged) for a bad value. No GIL needed. */
int pt_logging_opt(const struct pytrace_attach_opts *opts, bool *out);

/* At attach: registers the `_libpytrace` module in sys.modules. 0 or -EIO (logged). */
int pt_logging_attach(struct pt_interp *pi);

/* At detach and finalization: switches forwarding off and unregisters the module. */
void pt_logging_detach(struct pt_interp *pi);

/* Switches forwarding on or off for @pi (see pytrace_logging_enable()). */
int pt_logging_set(struct pt_interp *pi, bool on);

/* Whether a session records `lttng_python:event` in this process (the agent library's
 * tracepoint): logging.Logger's methods are wrapped only then. Lock-free, no GIL. */
bool pt_logging_wanted(void);

/* Watcher: wraps logging.Logger's methods (@want) or unwraps them. Never imports
 * `logging` (that would run module code on the watcher's thread): a program that has not
 * imported it yet is retried at the next round. */
void pt_logging_apply(struct pt_interp *pi, bool want);

/* Whether the watcher must act on @pi for @want (registry lock held; reads flags only). */
bool pt_logging_needs(const struct pt_interp *pi, bool want);

/* Whether any session enables `lttng_python:event` (one load; no GIL). */
bool pt_logging_tp_enabled(void);

/* Loads the agent library if it is not yet: 0, or -ENOENT (the reason logged once). No GIL. */
int pt_logging_agent(void);

/* Records one `lttng_python:event` made in C (request.c's lab records), when a session enables
 * the event: @msg, @logger, @func, @level, the calling thread and @thread_name (NULL: its
 * kernel name), asctime now. pt_logging_agent() must have succeeded. No GIL needed. */
void pt_logging_record(const char *msg, const char *logger, const char *func,
		       unsigned int level, const char *thread_name);

/* Records @record through @handler (an LTTngHandler) as its emit() does: 0, or -1 with an
 * exception that must propagate (KeyboardInterrupt & co.); other errors go to handleError(),
 * or, with @quiet (a record that exists for LTTng only), nowhere. */
int pt_logging_emit(PyObject *handler, PyObject *record, bool quiet);

/* Whether @f is `logging`'s own function @qualname. Never raises. */
bool pt_logging_stock_function(PyObject *f, const char *qualname);

/* logging-hooks.c: logging.Logger's isEnabledFor, handle and callHandlers wrapped while a
 * session records, so that the records the official agent would record reach LTTng while the
 * program sees what it sees untraced. */
struct pt_loghooks;

/* Wraps the three methods (those not already ours) and lets the wrappers act; *@hooks is
 * allocated on first use. 0, or -1 with an exception. */
int pt_loghooks_install(struct pt_loghooks **hooks, PyObject *logging, PyObject *handler);

/* The wrappers pass through; each still set on logging.Logger is replaced by what it wrapped
 * (one the program set after ours stays). NULL: no-op. */
void pt_loghooks_remove(struct pt_loghooks *hooks);

void pt_loghooks_free(struct pt_loghooks *hooks);

/* Frees what pt_interp keeps for forwarding (last reference to @pi dropped, GIL held). */
void pt_logging_free(struct pt_interp *pi);

#endif /* PYTRACE_LOGGING_H */
