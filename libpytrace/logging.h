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
 * tracepoint): the handler is on the root logger only then. Lock-free, no GIL. */
bool pt_logging_wanted(void);

/* Watcher: puts the handler on the root logger (@want) or takes it off. Never imports
 * `logging` (that would run module code on the watcher's thread): a program that has not
 * imported it yet is retried at the next round. */
void pt_logging_apply(struct pt_interp *pi, bool want);

/* Whether the watcher must act on @pi for @want (registry lock held; reads flags only). */
bool pt_logging_needs(const struct pt_interp *pi, bool want);

/* Frees what pt_interp keeps for forwarding (last reference to @pi dropped, GIL held). */
void pt_logging_free(struct pt_interp *pi);

#endif /* PYTRACE_LOGGING_H */
