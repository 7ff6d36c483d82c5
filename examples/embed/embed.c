/* SPDX-License-Identifier: MIT */
/*
 * pytrace-embed-example: a C program that embeds CPython and traces it with libpytrace.
 *
 * It shows the three calls a host needs: pytrace_attach() once the interpreter runs,
 * pytrace_thread_attach() on a thread created in C that enters Python, and pytrace_detach()
 * before finalizing. Python work runs on a thread started by `threading` (traced with no extra
 * call) and on a pthread created here. Pass --c-calls to record calls of C functions too.
 *
 * GIL: the main thread holds it from Py_Initialize() on, except while it waits for the C thread,
 * which takes it with PyGILState_Ensure().
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX < 0x03090000
#define PyInterpreterState_Get _PyInterpreterState_Get /* public from 3.9 on */
#endif

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <pytrace/pytrace.h>

/* Runs in __main__ on the main thread; the C thread then calls work() from the same module. */
static const char program[] =
	"import threading\n"
	"\n"
	"def fib(n):\n"
	"    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
	"\n"
	"def work(who):\n"
	"    tid = threading.get_native_id()\n"
	"    print(f'{who} (tid {tid}): fib(5) = {fib(5)}', flush=True)\n"
	"\n"
	"t = threading.Thread(target=work, args=('python thread',))\n"
	"t.start()\n"
	"t.join()\n";

static void *c_thread_main(void *arg)
{
	PyGILState_STATE gil;
	int err;

	(void)arg;
	/* Creates this thread's Python thread state in the main interpreter and takes the GIL. */
	gil = PyGILState_Ensure();
	/* CPython 3.11 tells nobody that a new thread entered Python: without this call the thread
	 * runs untraced. */
	err = pytrace_thread_attach();
	if (err) {
		fprintf(stderr, "pytrace_thread_attach: %s\n", strerror(-err));
	}
	if (PyRun_SimpleString("work('C thread')") < 0) {
		fprintf(stderr, "embed: the Python code of the C thread failed\n");
	}
	/* Deletes the thread state: libpytrace forgets the thread with it. */
	PyGILState_Release(gil);
	return NULL;
}

int main(int argc, char **argv)
{
	bool c_calls = argc > 1 && !strcmp(argv[1], "--c-calls");
	/* Sets opts.sz, so that this program keeps working with later versions of the library. */
	PYTRACE_OPTS(pytrace_attach_opts, opts, .c_calls = c_calls);
	pthread_t thread;
	int err, ret = 0;

	Py_Initialize();

	/* Attach as soon as the interpreter runs, before any Python code of ours. A host should
	 * keep working when tracing is not possible (another profiler: -EBUSY), so only warn. */
	err = pytrace_attach(PyInterpreterState_Get(), &opts);
	if (err) {
		fprintf(stderr, "pytrace_attach: %s; running untraced\n", strerror(-err));
	} else {
		printf("libpytrace %s attached%s\n", pytrace_version(),
		       opts.c_calls ? " (with C calls)" : "");
		fflush(stdout);
	}

	/* Defines fib() and work(), and runs work() on a thread started by `threading`. */
	if (PyRun_SimpleString(program) < 0) {
		ret = 1;
		goto out;
	}

	/* The C thread needs the GIL: release it while waiting, or both threads would block. */
	Py_BEGIN_ALLOW_THREADS
	err = pthread_create(&thread, NULL, c_thread_main, NULL);
	if (!err) {
		pthread_join(thread, NULL);
	}
	Py_END_ALLOW_THREADS
	if (err) {
		fprintf(stderr, "pthread_create: %s\n", strerror(err));
		ret = 1;
	}

out:
	/* Optional before Py_FinalizeEx(), which detaches after the atexit handlers; detaching here
	 * leaves finalization untraced. */
	err = pytrace_detach(PyInterpreterState_Get());
	if (err && err != -ENOENT) {
		fprintf(stderr, "pytrace_detach: %s\n", strerror(-err));
	}
	if (Py_FinalizeEx() < 0) {
		ret = 120; /* what python3 exits with when finalization fails */
	}
	printf("done\n");
	return ret;
}
