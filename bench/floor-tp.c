/* SPDX-License-Identifier: MIT */
/*
 * Creates the probes of the bench-only provider `pytrace_bench`, hidden inside the floor
 * extension module (it is dlopen()ed by CPython, hence -z nodelete in bench/meson.build).
 */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#define LTTNG_UST_TRACEPOINT_HIDDEN_DEFINITION
#define LTTNG_UST_TRACEPOINT_PROVIDER_HIDDEN_DEFINITION
#include "floor-tp.h"
