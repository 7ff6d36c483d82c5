/* SPDX-License-Identifier: MIT */
/*
 * Creates the probes of provider `python`. Both hidden-definition macros keep the provider's and
 * the tracepoints' symbols inside libpytrace.so, so they never clash with a host or another
 * library that defines tracepoints too.
 *
 * Also defines (one LTTNG_UST_TRACEPOINT_DEFINE per shared object) the site of the agent's
 * `lttng_python:event`, without probes: see tp/lttng-python-site.h. Its provider lives in another
 * shared object (the agent library, dlopen()ed), hence dynamic linkage: no reference to a
 * provider symbol (that would otherwise only keep a static provider from being dropped).
 */
#define LTTNG_UST_TRACEPOINT_PROBE_DYNAMIC_LINKAGE
#define LTTNG_UST_TRACEPOINT_DEFINE
#define LTTNG_UST_TRACEPOINT_HIDDEN_DEFINITION
#define LTTNG_UST_TRACEPOINT_PROVIDER_HIDDEN_DEFINITION
#include "tp/lttng-python-site.h"

#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#include "tp/python-tp.h"
