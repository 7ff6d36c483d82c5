/* SPDX-License-Identifier: MIT */
/* Shared by the files of pytrace._native (hidden symbols; GIL held). */
#ifndef PYTRACE_NATIVE_H
#define PYTRACE_NATIVE_H

#include <Python.h>

/* Raises the Python exception for libpytrace's error @err of pytrace.@what; returns NULL. */
PyObject *pt_native_raise(const char *what, int err);

/* Adds request_recording(), request_begin() and the Request type to the module. 0 or -1. */
int pt_native_add_requests(PyObject *m);

#endif /* PYTRACE_NATIVE_H */
