/* SPDX-License-Identifier: MIT */
/*
 * pytrace-run: run a Python program exactly as `python3` would, with libpytrace attached.
 *
 *   pytrace-run [--c-calls] [--no-logging] [--] [python options] script.py [args...]
 *   pytrace-run [--c-calls] [--no-logging] [--] [python options] -m module [args...]
 *
 * Everything after pytrace-run's own options is parsed by CPython itself (PyConfig with
 * parse_argv), and the program is run by Py_RunMain(), the same code path as the `python3`
 * binary: same sys.argv, same output, same traceback and exit code. The interpreter is attached
 * after initialization and before the first line of the program runs; Py_RunMain() finalizes it,
 * which detaches implicitly after atexit handlers ran.
 *
 * Python `logging` records are forwarded to LTTng (`lttng_python:event`, as the official agent
 * does) unless --no-logging is given or PYTRACE_LOGGING=0; without the agent library the program
 * still runs traced, with a warning.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX < 0x03090000
#define PyInterpreterState_Get _PyInterpreterState_Get /* public from 3.9 on */
#endif

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <pytrace/pytrace.h>

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: pytrace-run [OPTIONS] [--] [PYTHON-OPTIONS] script.py [ARGS...]\n"
		"       pytrace-run [OPTIONS] [--] [PYTHON-OPTIONS] -m module [ARGS...]\n"
		"\n"
		"Run a Python program as python3 does, with every Python call recorded as an\n"
		"LTTng-UST event (provider `python`) whenever a session enables them:\n"
		"  lttng create s && lttng enable-event -u 'python:*' && lttng start\n"
		"and its `logging` records as the official LTTng Python agent records them\n"
		"(lttng_python:event) whenever a session enables Python events:\n"
		"  lttng enable-event --python -a       (or a logger name, --loglevel ...)\n"
		"\n"
		"Options:\n"
		"  --c-calls      also record calls of C functions (len, list.append, time.sleep)\n"
		"  --no-logging   do not forward `logging` records (same as PYTRACE_LOGGING=0)\n"
		"  --help         show this help and exit\n"
		"  --version      show the libpytrace version and exit\n"
		"\n"
		"Everything else is passed to Python (python3 --help lists its options).\n");
}

int main(int argc, char **argv)
{
	PYTRACE_OPTS(pytrace_attach_opts, opts, .logging = true);
	PyConfig config;
	PyStatus status;
	int first = 1, err;

	for (; first < argc; first++) {
		const char *a = argv[first];

		if (!strcmp(a, "--c-calls")) {
			opts.c_calls = true;
		} else if (!strcmp(a, "--no-logging")) {
			opts.logging = false;
		} else if (!strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf("pytrace-run (libpytrace) %s\n", pytrace_version());
			return 0;
		} else if (!strcmp(a, "--")) {
			first++;
			break;
		} else {
			break;
		}
	}
	if (first >= argc) {
		usage(stderr);
		return 2;
	}

	PyConfig_InitPythonConfig(&config);
	/* argv[first - 1] stands in for argv[0]: CPython parses the rest like python3's argv. */
	argv[first - 1] = argv[0];
	status = PyConfig_SetBytesArgv(&config, argc - first + 1, argv + first - 1);
	if (PyStatus_Exception(status)) {
		goto fail;
	}
	status = Py_InitializeFromConfig(&config);
	if (PyStatus_Exception(status)) {
		goto fail;
	}
	PyConfig_Clear(&config);

	err = pytrace_attach(PyInterpreterState_Get(), &opts);
	if (err == -ELIBACC && opts.logging) {
		/* libpytrace said why (no agent library): trace the calls all the same. */
		fprintf(stderr, "pytrace-run: Python logging is not forwarded\n");
		opts.logging = false;
		err = pytrace_attach(PyInterpreterState_Get(), &opts);
	}
	if (err) {
		/* Never keep the program from running: it runs untraced. */
		fprintf(stderr, "pytrace-run: cannot attach: %s; running untraced\n", strerror(-err));
	}
	return Py_RunMain();

fail:
	PyConfig_Clear(&config);
	if (PyStatus_IsExit(status)) {
		return status.exitcode;
	}
	Py_ExitStatusException(status);
}
