/* SPDX-License-Identifier: MIT */
/*
 * Creates the probes of provider `python`. Both hidden-definition macros keep the provider's and
 * the tracepoints' symbols inside libpytrace.so, so they never clash with a host or another
 * library that defines tracepoints too.
 */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#define LTTNG_UST_TRACEPOINT_HIDDEN_DEFINITION
#define LTTNG_UST_TRACEPOINT_PROVIDER_HIDDEN_DEFINITION
#include "tp/python-tp.h"
