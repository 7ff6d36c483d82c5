/* SPDX-License-Identifier: MIT */
/*
 * Diagnostics on stderr, one line each, prefixed "libpytrace: ". The level comes from PYTRACE_LOG
 * (none, error, warn, info, debug; default warn), read once. No lock: a line is one write().
 */
#include "internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum pt_log_level log_level = PT_LOG_WARN;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void log_init(void)
{
	static const char *const names[] = { "none", "error", "warn", "info", "debug" };
	const char *env = getenv("PYTRACE_LOG");

	if (!env || !*env) {
		return;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(env, names[i])) {
			log_level = (enum pt_log_level)i;
			return;
		}
	}
	dprintf(STDERR_FILENO, "libpytrace: PYTRACE_LOG=%s is not one of none, error, warn, info, "
			       "debug; using warn\n", env);
}

void pt_log(enum pt_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int len;

	pthread_once(&log_once, log_init);
	if (level > log_level || level == PT_LOG_NONE) {
		return;
	}
	len = snprintf(line, sizeof(line), "libpytrace: ");
	va_start(ap, fmt);
	len += vsnprintf(line + len, sizeof(line) - (size_t)len - 1, fmt, ap);
	va_end(ap);
	if (len > (int)sizeof(line) - 2) {
		len = (int)sizeof(line) - 2;
	}
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)len) < 0) {
		/* Nowhere left to report it. */
	}
}

void pt_log_pyerr(const char *what)
{
	PyObject *type, *value, *tb, *str = NULL;
	const char *msg = "unknown error";

	if (!PyErr_Occurred()) {
		return;
	}
	PyErr_Fetch(&type, &value, &tb);
	if (value) {
		str = PyObject_Str(value);
	}
	if (str) {
		msg = PyUnicode_AsUTF8(str);
	}
	if (!msg) {
		msg = "(unprintable)";
	}
	pt_err("%s: %s: %s", what, type ? ((PyTypeObject *)type)->tp_name : "?", msg);
	Py_XDECREF(str);
	Py_XDECREF(type);
	Py_XDECREF(value);
	Py_XDECREF(tb);
	PyErr_Clear();
}
