/* SPDX-License-Identifier: MIT */
/*
 * The GIL and thread rules of pytrace.h: calls without a thread state, pytrace_thread_attach()
 * on the main thread and on C threads (PyGILState_Ensure), detach from another thread, threads
 * of `threading`, and sub-interpreters (a thread state of another interpreter is -EINVAL; each
 * interpreter is attached on its own). Real CPython; the main thread holds the GIL except where
 * a test releases it for a C thread. Assertions run on the main thread only: a C thread records
 * what it saw in a struct job.
 */
#include "unit.h"

#include <pthread.h>

TestSuite(threads, .init = py_init, .fini = py_fini);

#define JOB_SLOTS 8

struct job {
	void (*fn)(struct job *j);
	PyInterpreterState *interp;
	int r[JOB_SLOTS];
};

static void *job_main(void *arg)
{
	struct job *j = arg;

	j->fn(j);
	return NULL;
}

/* Runs @j on a new C thread; releases the GIL meanwhile if @release_gil. */
static void run_job(struct job *j, bool release_gil)
{
	PyThreadState *saved = NULL;
	pthread_t th;

	for (int i = 0; i < JOB_SLOTS; i++) {
		j->r[i] = 0x7eadbeef;
	}
	if (release_gil) {
		saved = PyEval_SaveThread();
	}
	cr_assert_eq(pthread_create(&th, NULL, job_main, j), 0);
	cr_assert_eq(pthread_join(th, NULL), 0);
	if (release_gil) {
		PyEval_RestoreThread(saved);
	}
}

Test(threads, no_thread_state_is_einval)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	PyThreadState *ts;

	ts = PyEval_SaveThread();
	cr_assert_null(_PyThreadState_UncheckedGet());
	cr_assert_eq(pytrace_attach(interp, NULL), -EINVAL);
	cr_assert_eq(pytrace_detach(interp), -EINVAL);
	cr_assert_eq(pytrace_thread_attach(), -EINVAL);
	cr_assert_eq(pytrace_attach(NULL, NULL), -EINVAL);
	PyEval_RestoreThread(ts);
	assert_no_pyerr();
	/* The refused attach did not attach. */
	assert_call(pytrace_detach(interp), -ENOENT);

	assert_call(pytrace_attach(interp, NULL), 0);
	ts = PyEval_SaveThread();
	cr_assert_eq(pytrace_detach(interp), -EINVAL);
	cr_assert_eq(pytrace_attach(interp, NULL), -EINVAL);
	cr_assert_eq(pytrace_thread_attach(), -EINVAL);
	PyEval_RestoreThread(ts);
	/* The refused detach did not detach. */
	cr_assert_eq(hooked(), 1);
	assert_call(pytrace_detach(interp), 0);
}

static void job_no_thread_state(struct job *j)
{
	j->r[0] = pytrace_thread_attach();
	j->r[1] = pytrace_attach(j->interp, NULL);
	j->r[2] = pytrace_detach(j->interp);
}

Test(threads, c_thread_without_thread_state_is_einval)
{
	struct job j = { .fn = job_no_thread_state, .interp = PyInterpreterState_Get() };

	/* The main thread keeps the GIL: the calls must fail at once, not wait for it. */
	assert_call(pytrace_attach(j.interp, NULL), 0);
	run_job(&j, false);
	cr_expect_eq(j.r[0], -EINVAL, "thread_attach() returned %d", j.r[0]);
	cr_expect_eq(j.r[1], -EINVAL, "attach() returned %d", j.r[1]);
	cr_expect_eq(j.r[2], -EINVAL, "detach() returned %d", j.r[2]);
	cr_expect_eq(hooked(), 1, "the interpreter was detached by a thread without the GIL");
	pytrace_detach(j.interp);
}

Test(threads, thread_attach_main_thread)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	PyObject *obj;

	assert_call(pytrace_thread_attach(), -ENOENT);
	assert_call(pytrace_attach(interp, NULL), 0);
	obj = thread_obj();
	cr_assert_not_null(obj);
	/* Already traced since attach: nothing to do, same hook object. */
	assert_call(pytrace_thread_attach(), 0);
	assert_call(pytrace_thread_attach(), 0);
	cr_assert_eq(thread_obj(), obj);
	assert_call(pytrace_detach(interp), 0);
	assert_call(pytrace_thread_attach(), -ENOENT);
	cr_assert_eq(hooked(), 0);
}

#if !UNIT_MONITORING
Test(threads, thread_attach_after_program_profile_is_ebusy)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	PyThreadState *ts = PyThreadState_Get();

	assert_call(pytrace_attach(interp, NULL), 0);
	PyEval_SetProfile(dummy_profile, NULL);
	assert_call(pytrace_thread_attach(), -EBUSY);
	cr_assert_eq(ts->c_profilefunc, dummy_profile);
	PyEval_SetProfile(NULL, NULL);
	assert_call(pytrace_thread_attach(), 0);
	cr_assert_eq(hooked(), 1);
	assert_call(pytrace_detach(interp), 0);
	cr_assert_null(ts->c_profilefunc);
	cr_assert_null(ts->c_tracefunc);
}

Test(threads, thread_attach_again_gets_exception_hook)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	PyThreadState *ts = PyThreadState_Get();

	/* A thread the program took over and gave back, then traced again with
	 * pytrace_thread_attach(): its trace slot holds no program trace function, so the
	 * exception hook must serve the new attachment like on any other thread. */
	assert_call(pytrace_attach(interp, NULL), 0);
	cr_assert_eq(ts->c_traceobj, ts->c_profileobj);
	PyEval_SetProfile(dummy_profile, NULL);
	PyEval_SetProfile(NULL, NULL);
	assert_call(pytrace_thread_attach(), 0);
	cr_assert_eq(hooked(), 1);
	py_run("try:\n    raise KeyError(1)\nexcept KeyError:\n    pass");
	cr_assert_not_null(ts->c_tracefunc, "the exception hook is gone after thread_attach()");
	cr_assert_eq(ts->c_traceobj, ts->c_profileobj,
		     "the exception hook still serves the previous attachment");
	assert_call(pytrace_detach(interp), 0);
	cr_assert_null(ts->c_tracefunc);
}
#else
Test(threads, thread_attach_with_program_profile)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	PyThreadState *ts = PyThreadState_Get();
	PyObject *obj;

	/* 3.12+: the program's profile function is another sys.monitoring tool. Both run, and
	 * libpytrace keeps its events, exceptions included, while the program takes its profile
	 * hook and gives it back. */
	assert_call(pytrace_attach(interp, NULL), 0);
	obj = thread_obj();
	PyEval_SetProfile(dummy_profile, NULL);
	assert_call(pytrace_thread_attach(), 0);
	cr_assert_eq(ts->c_profilefunc, dummy_profile);
	cr_assert_eq(hooked(), 1);
	cr_assert_eq(thread_obj(), obj);
	PyEval_SetProfile(NULL, NULL);
	assert_call(pytrace_thread_attach(), 0);
	cr_assert_eq(hooked(), 1);
	cr_assert(py_true("any(" PY_MON ".get_tool(i) == 'pytrace' and " PY_MON ".get_events(i) & "
			  PY_MON ".events.RAISE for i in (3, 4))"));
	assert_call(pytrace_detach(interp), 0);
	cr_assert_eq(hooked(), 0);
	cr_assert_null(ts->c_profilefunc);
	cr_assert_null(ts->c_tracefunc);
}
#endif

static void job_thread_attach(struct job *j)
{
	PyGILState_STATE g = PyGILState_Ensure();

	j->r[0] = hooked();
	j->r[1] = pytrace_thread_attach();
	j->r[2] = hooked();
	j->r[3] = pytrace_thread_attach();
	j->r[4] = hooked();
	j->r[5] = PyErr_Occurred() != NULL;
	/* The thread runs Python code while traced. */
	j->r[6] = PyRun_SimpleString("sum(i * i for i in range(100))");
	PyGILState_Release(g);
}

Test(threads, thread_attach_c_thread)
{
	struct job j = { .fn = job_thread_attach };

	assert_call(pytrace_attach(PyInterpreterState_Get(), NULL), 0);
	run_job(&j, true);
	/* 3.12+: sys.monitoring traces every thread of the interpreter, this one too, and
	 * pytrace_thread_attach() has nothing left to do. */
	cr_assert_eq(j.r[0], UNIT_MONITORING ? 1 : 0,
		     "a C thread was traced before pytrace_thread_attach() (or not on 3.12+)");
	cr_assert_eq(j.r[1], 0);
	cr_assert_eq(j.r[2], 1);
	cr_assert_eq(j.r[3], 0, "a second pytrace_thread_attach() returned %d", j.r[3]);
	cr_assert_eq(j.r[4], 1);
	cr_assert_eq(j.r[5], 0, "a Python exception was left set");
	cr_assert_eq(j.r[6], 0);
	assert_call(pytrace_detach(PyInterpreterState_Get()), 0);
}

Test(threads, c_threads_one_after_another)
{
	/* Each C thread gets a new thread state, often at the address of the previous one, which
	 * was freed with its libpytrace object: no thread may find a stale one (3.12+ caches the
	 * object per OS thread and thread state; valgrind/ASan builds see any stale use). */
	assert_call(pytrace_attach(PyInterpreterState_Get(), NULL), 0);
	for (int i = 0; i < 30; i++) {
		struct job j = { .fn = job_thread_attach };

		run_job(&j, true);
		cr_assert_eq(j.r[1], 0, "round %d", i);
		cr_assert_eq(j.r[2], 1, "round %d", i);
		cr_assert_eq(j.r[4], 1, "round %d", i);
		cr_assert_eq(j.r[5], 0, "round %d: a Python exception was left set", i);
		cr_assert_eq(j.r[6], 0, "round %d", i);
		py_run("sum(i * i for i in range(10))");
	}
	assert_call(pytrace_detach(PyInterpreterState_Get()), 0);
}

Test(threads, thread_attach_c_thread_unattached)
{
	struct job j = { .fn = job_thread_attach };

	run_job(&j, true);
	cr_assert_eq(j.r[0], 0);
	cr_assert_eq(j.r[1], -ENOENT);
	cr_assert_eq(j.r[2], 0);
	cr_assert_eq(j.r[5], 0, "a Python exception was left set");
}

static void job_thread_attach_busy(struct job *j)
{
	PyGILState_STATE g = PyGILState_Ensure();

	PyEval_SetProfile(dummy_profile, NULL);
	j->r[0] = pytrace_thread_attach();
	j->r[1] = PyThreadState_Get()->c_profilefunc == dummy_profile;
	PyEval_SetProfile(NULL, NULL);
	j->r[2] = pytrace_thread_attach();
	j->r[3] = hooked();
	j->r[4] = PyErr_Occurred() != NULL;
	PyGILState_Release(g);
}

Test(threads, thread_attach_c_thread_with_profile_is_ebusy)
{
	struct job j = { .fn = job_thread_attach_busy };

	assert_call(pytrace_attach(PyInterpreterState_Get(), NULL), 0);
	run_job(&j, true);
	/* 3.12+: the program's profile function is no obstacle (another sys.monitoring tool). */
	cr_assert_eq(j.r[0], UNIT_MONITORING ? 0 : -EBUSY);
	cr_assert_eq(j.r[1], 1, "the program's profile function was displaced");
	cr_assert_eq(j.r[2], 0);
	cr_assert_eq(j.r[3], 1);
	cr_assert_eq(j.r[4], 0, "a Python exception was left set");
	assert_call(pytrace_detach(PyInterpreterState_Get()), 0);
}

static void job_thread_attach_pending_error(struct job *j)
{
	PyGILState_STATE g = PyGILState_Ensure();

	PyErr_SetString(PyExc_ValueError, "the caller's own error");
	j->r[0] = pytrace_thread_attach();
	j->r[1] = PyErr_ExceptionMatches(PyExc_ValueError);
	PyErr_Clear();
	j->r[2] = hooked();
	PyGILState_Release(g);
}

Test(threads, thread_attach_keeps_pending_exception)
{
	struct job j = { .fn = job_thread_attach_pending_error };

	/* With an audit hook, installing a profile function runs Python code. */
	py_run("import sys\nsys.addaudithook(lambda event, args: None)");
	assert_call(pytrace_attach(PyInterpreterState_Get(), NULL), 0);
	run_job(&j, true);
	cr_assert_eq(j.r[0], 0);
	cr_assert_eq(j.r[1], 1, "the pending exception was lost");
	cr_assert_eq(j.r[2], 1);
	assert_call(pytrace_detach(PyInterpreterState_Get()), 0);
}

static void job_detach(struct job *j)
{
	PyGILState_STATE g = PyGILState_Ensure();

	j->r[0] = pytrace_detach(j->interp);
	j->r[1] = pytrace_detach(j->interp);
	j->r[2] = PyErr_Occurred() != NULL;
	PyGILState_Release(g);
}

Test(threads, detach_from_another_thread)
{
	struct job j = { .fn = job_detach, .interp = PyInterpreterState_Get() };

	assert_call(pytrace_attach(j.interp, NULL), 0);
	run_job(&j, true);
	cr_assert_eq(j.r[0], 0);
	cr_assert_eq(j.r[1], -ENOENT);
	cr_assert_eq(j.r[2], 0, "a Python exception was left set");
	/* The main thread, which attached, is no longer traced. */
	cr_assert_eq(hooked(), 0);
	cr_assert_null(PyThreadState_Get()->c_tracefunc);
	assert_call(pytrace_detach(j.interp), -ENOENT);
}

static void job_attach(struct job *j)
{
	PyGILState_STATE g = PyGILState_Ensure();

	j->r[0] = pytrace_attach(PyInterpreterState_Get(), NULL);
	j->r[1] = hooked();
	PyGILState_Release(g);
}

Test(threads, attach_from_c_thread_traces_existing_threads)
{
	struct job j = { .fn = job_attach };

	run_job(&j, true);
	cr_assert_eq(j.r[0], 0);
	cr_assert_eq(j.r[1], 1);
	/* "Every thread of interp is traced: those that exist now". */
	cr_assert_eq(hooked(), 1);
	assert_call(pytrace_detach(PyInterpreterState_Get()), 0);
}

Test(threads, threading_threads_started_after_attach)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	py_run("import sys, threading\n"
	       "def seen():\n"
	       "    r = []\n"
	       "    t = threading.Thread(\n"
	       "        target=lambda: r.append(" PY_TRACE_STATE "))\n"
	       "    t.start()\n"
	       "    t.join()\n"
	       "    return r[0]\n");
	cr_assert(py_true("seen() == 'NoneType'"));
	assert_call(pytrace_attach(interp, NULL), 0);
	cr_assert(py_true("seen() == 'ThreadState'"));
	cr_assert(py_true("seen() == 'ThreadState'"));
	assert_call(pytrace_detach(interp), 0);
	cr_assert(py_true("seen() == 'NoneType'"));
}

Test(threads, threading_thread_running_at_attach_and_detach)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	py_run("import sys, threading, time\n"
	       "go1, go2, seen = threading.Event(), threading.Event(), []\n"
	       "def worker():\n"
	       "    go1.wait()\n"
	       "    seen.append(" PY_TRACE_STATE ")\n"
	       "    go2.wait()\n"
	       "    seen.append(" PY_TRACE_STATE ")\n"
	       "t = threading.Thread(target=worker)\n"
	       "t.start()\n");
	assert_call(pytrace_attach(interp, NULL), 0);
	py_run("go1.set()\nwhile not seen:\n    time.sleep(0.001)");
	assert_call(pytrace_detach(interp), 0);
	py_run("go2.set()\nt.join()");
	cr_assert(py_true("seen == ['ThreadState', 'NoneType']"));
}

/* Sub-interpreters: Py_NewInterpreter() makes the new interpreter's thread state current. */

Test(threads, other_interpreters_thread_state_is_einval)
{
	PyThreadState *main_ts = PyThreadState_Get();
	PyInterpreterState *main_interp = main_ts->interp, *sub_interp;
	PyThreadState *sub_ts = Py_NewInterpreter();

	cr_assert_not_null(sub_ts);
	sub_interp = sub_ts->interp;
	cr_assert_neq(sub_interp, main_interp);

	assert_call(pytrace_attach(main_interp, NULL), -EINVAL);
	assert_call(pytrace_detach(main_interp), -EINVAL);
	assert_call(pytrace_attach(sub_interp, NULL), 0);
	cr_assert_eq(hooked(), 1);
	cr_assert(py_true(PY_TRACED));
	assert_call(pytrace_thread_attach(), 0);
	assert_call(pytrace_attach(sub_interp, NULL), -EALREADY);
	assert_call(pytrace_detach(sub_interp), 0);
	assert_call(pytrace_detach(sub_interp), -ENOENT);
	cr_assert_eq(hooked(), 0);

	/* The other way round: the sub-interpreter from the main thread state. */
	PyThreadState_Swap(main_ts);
	assert_call(pytrace_attach(sub_interp, NULL), -EINVAL);
	assert_call(pytrace_detach(sub_interp), -EINVAL);
	assert_call(pytrace_detach(main_interp), -ENOENT);
	cr_assert_eq(hooked(), 0);

	PyThreadState_Swap(sub_ts);
	Py_EndInterpreter(sub_ts);
	PyThreadState_Swap(main_ts);
	assert_call(pytrace_attach(main_interp, NULL), 0);
	assert_call(pytrace_detach(main_interp), 0);
}

Test(threads, interpreters_are_attached_independently)
{
	PyThreadState *main_ts = PyThreadState_Get();
	PyInterpreterState *main_interp = main_ts->interp;
	PyThreadState *sub_ts;

	assert_call(pytrace_attach(main_interp, NULL), 0);
	sub_ts = Py_NewInterpreter();
	cr_assert_not_null(sub_ts);
	/* The main interpreter's attachment does not reach the sub-interpreter. */
	cr_assert_eq(hooked(), 0);
	cr_assert(py_true(PY_UNTRACED));
	cr_assert(py_true(THREADING_PROFILE " is None"));
	assert_call(pytrace_thread_attach(), -ENOENT);
	assert_call(pytrace_detach(sub_ts->interp), -ENOENT);

	assert_call(pytrace_attach(sub_ts->interp, NULL), 0);
	PyThreadState_Swap(main_ts);
	assert_call(pytrace_detach(main_interp), 0);
	cr_assert_eq(hooked(), 0);
	PyThreadState_Swap(sub_ts);
	/* Detaching the main interpreter left the sub-interpreter attached. */
	cr_assert_eq(hooked(), 1);
	assert_call(pytrace_attach(sub_ts->interp, NULL), -EALREADY);
	/* Ended while attached: detached implicitly. */
	Py_EndInterpreter(sub_ts);
	PyThreadState_Swap(main_ts);
	assert_call(pytrace_attach(main_interp, NULL), 0);
	assert_call(pytrace_detach(main_interp), 0);
}

Test(threads, ended_sub_interpreter_leaves_the_registry)
{
	PyThreadState *main_ts = PyThreadState_Get();

	/* A new interpreter may reuse the address of one ended while attached: it must not be
	 * taken for attached. */
	for (int i = 0; i < 20; i++) {
		PyThreadState *sub_ts = Py_NewInterpreter();

		cr_assert_not_null(sub_ts);
		assert_call(pytrace_detach(sub_ts->interp), -ENOENT);
		assert_call(pytrace_attach(sub_ts->interp, NULL), 0);
		py_run("import json\njson.dumps([1])");
		Py_EndInterpreter(sub_ts);
		PyThreadState_Swap(main_ts);
	}
	assert_call(pytrace_detach(main_ts->interp), -ENOENT);
}

#if UNIT_MONITORING
/* 3.12+: interpreters with a GIL of their own run their callbacks at the same time. */

#define OWN_GIL_CODE                                                                               \
	"def fib(n):\n"                                                                            \
	"    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"                                      \
	"def gen(n):\n"                                                                            \
	"    for i in range(n):\n"                                                                 \
	"        yield i\n"                                                                        \
	"for _ in range(200):\n"                                                                   \
	"    fib(12)\n"                                                                            \
	"    sorted(gen(50), key=lambda v: -v)\n"                                                  \
	"    try:\n"                                                                               \
	"        {}['missing']\n"                                                                  \
	"    except KeyError:\n"                                                                   \
	"        pass\n"

static void job_own_gil(struct job *j)
{
	PyInterpreterConfig cfg = {
		.use_main_obmalloc = 0,
		.allow_threads = 1,
		.check_multi_interp_extensions = 1,
		.gil = PyInterpreterConfig_OWN_GIL,
	};
	PYTRACE_OPTS(pytrace_attach_opts, opts, .c_calls = true);
	PyThreadState *ts = NULL;
	PyStatus st = Py_NewInterpreterFromConfig(&ts, &cfg);

	if (PyStatus_Exception(st) || !ts) {
		j->r[0] = -1000;
		return;
	}
	j->r[0] = pytrace_attach(PyInterpreterState_Get(), &opts);
	j->r[1] = PyRun_SimpleString(OWN_GIL_CODE);
	j->r[2] = hooked();
	j->r[3] = pytrace_detach(PyInterpreterState_Get());
	j->r[4] = PyErr_Occurred() != NULL;
	Py_EndInterpreter(ts);
}

static void job_main_interp(struct job *j)
{
	PyGILState_STATE g = PyGILState_Ensure();

	j->r[0] = PyRun_SimpleString(OWN_GIL_CODE);
	j->r[1] = hooked();
	PyGILState_Release(g);
}

Test(threads, own_gil_interpreters_at_once)
{
	struct job subs[2] = { { .fn = job_own_gil }, { .fn = job_own_gil } };
	struct job main_job = { .fn = job_main_interp };
	pthread_t th[3];
	PyThreadState *saved;

	assert_call(pytrace_attach(PyInterpreterState_Get(), NULL), 0);
	py_run("pass");
	saved = PyEval_SaveThread();
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(pthread_create(&th[i], NULL, job_main, &subs[i]), 0);
	}
	cr_assert_eq(pthread_create(&th[2], NULL, job_main, &main_job), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(pthread_join(th[i], NULL), 0);
	}
	PyEval_RestoreThread(saved);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(subs[i].r[0], 0, "sub %d: attach returned %d", i, subs[i].r[0]);
		cr_assert_eq(subs[i].r[1], 0, "sub %d: the code failed", i);
		cr_assert_eq(subs[i].r[2], 1, "sub %d: not traced", i);
		cr_assert_eq(subs[i].r[3], 0, "sub %d: detach returned %d", i, subs[i].r[3]);
		cr_assert_eq(subs[i].r[4], 0, "sub %d: a Python exception was left set", i);
	}
	cr_assert_eq(main_job.r[0], 0);
	cr_assert_eq(main_job.r[1], 1);
	cr_assert_eq(hooked(), 1);
	assert_call(pytrace_detach(PyInterpreterState_Get()), 0);
}
#endif
