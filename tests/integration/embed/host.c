/* SPDX-License-Identifier: MIT */
/*
 * pytrace-test-host: the C host of the embedding integration tests.
 *
 *   pytrace-test-host script.py [args...]
 *
 * It runs the script as python3 would (Py_RunMain), WITHOUT attaching libpytrace: the script
 * decides when to attach and detach, through the built-in module `_pytracehost`, which exposes
 * the C API and the two things a Python script cannot do by itself, entering Python from a thread
 * created in C and running code in a sub-interpreter:
 *
 *   attach(c_calls=False) -> int      pytrace_attach() of the current interpreter
 *   detach() -> int                   pytrace_detach() of the current interpreter
 *   thread_attach() -> int            pytrace_thread_attach()
 *   interp_id() -> int                PyInterpreterState_GetID() of the current interpreter
 *   run_in_c_thread(code, attach=True)
 *   run_in_subinterpreter(code, attach=False, detach=True)
 *   set_eval_frame(on) -> int         3.9+: install (or remove) a frame evaluation function of
 *                                     the host's own, as a debugger or JIT would (PEP 523)
 *   eval_frame_calls() -> int         the frames it has evaluated so far
 *
 * The int results are those of the C functions (0 or a negative errno), so that the tests check
 * the C contract itself. GIL: every function runs with it held, as code called from Python; the
 * two `run_in_` functions release it (C thread) or swap thread states (sub-interpreter).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX < 0x03090000
#define PyInterpreterState_Get _PyInterpreterState_Get /* public from 3.9 on */
#endif

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <pytrace/pytrace.h>

/* attach() and config_set() take the same keywords: the fields of pytrace_attach_opts. */
static int parse_opts(PyObject *args, PyObject *kwargs, const char *fmt,
		      struct pytrace_attach_opts *opts)
{
	static char *kwlist[] = { "c_calls", "mode", "include", "exclude", "max_depth", NULL };
	int c_calls = 0, mode = 0;
	const char *include = NULL, *exclude = NULL;
	unsigned int max_depth = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kwlist, &c_calls, &mode, &include,
					 &exclude, &max_depth)) {
		return -1;
	}
	memset(opts, 0, sizeof(*opts));
	opts->sz = sizeof(*opts);
	opts->c_calls = c_calls;
	opts->mode = mode;
	opts->include = include;
	opts->exclude = exclude;
	opts->max_depth = max_depth;
	return 0;
}

static PyObject *host_attach(PyObject *self, PyObject *args, PyObject *kwargs)
{
	struct pytrace_attach_opts opts;

	(void)self;
	if (parse_opts(args, kwargs, "|pizzI:attach", &opts) < 0) {
		return NULL;
	}
	return PyLong_FromLong(pytrace_attach(PyInterpreterState_Get(), &opts));
}

static PyObject *host_config_set(PyObject *self, PyObject *args, PyObject *kwargs)
{
	struct pytrace_attach_opts opts;

	(void)self;
	if (parse_opts(args, kwargs, "|pizzI:config_set", &opts) < 0) {
		return NULL;
	}
	return PyLong_FromLong(pytrace_config_set(PyInterpreterState_Get(), &opts));
}

static PyObject *host_detach(PyObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	return PyLong_FromLong(pytrace_detach(PyInterpreterState_Get()));
}

static PyObject *host_thread_attach(PyObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	return PyLong_FromLong(pytrace_thread_attach());
}

static PyObject *host_interp_id(PyObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	return PyLong_FromLongLong(PyInterpreterState_GetID(PyInterpreterState_Get()));
}

struct c_thread {
	const char *code;
	bool attach;
	int attach_err;
	int run_err;
};

static void *c_thread_main(void *arg)
{
	struct c_thread *c = arg;
	PyGILState_STATE gil = PyGILState_Ensure();

	if (c->attach) {
		c->attach_err = pytrace_thread_attach();
	}
	c->run_err = PyRun_SimpleString(c->code);
	PyGILState_Release(gil);
	return NULL;
}

/* Failures raise RuntimeError in the calling script, so that a test cannot pass by accident. */
static PyObject *host_run_in_c_thread(PyObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = { "code", "attach", NULL };
	struct c_thread c = { 0 };
	int attach = 1, err;
	pthread_t thread;

	(void)self;
	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|p:run_in_c_thread", kwlist, &c.code,
					 &attach)) {
		return NULL;
	}
	c.attach = attach;
	/* The new thread blocks in PyGILState_Ensure() until this one lets the GIL go. */
	Py_BEGIN_ALLOW_THREADS
	err = pthread_create(&thread, NULL, c_thread_main, &c);
	if (!err) {
		pthread_join(thread, NULL);
	}
	Py_END_ALLOW_THREADS
	if (err) {
		errno = err;
		return PyErr_SetFromErrno(PyExc_OSError);
	}
	if (c.attach_err) {
		return PyErr_Format(PyExc_RuntimeError, "pytrace_thread_attach() returned %d",
				    c.attach_err);
	}
	if (c.run_err) {
		return PyErr_Format(PyExc_RuntimeError, "the code of the C thread failed");
	}
	Py_RETURN_NONE;
}

static PyObject *host_run_in_subinterpreter(PyObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = { "code", "attach", "detach", NULL };
	int attach = 0, detach = 1, attach_err = 0, detach_err = 0, run_err;
	PyThreadState *main_ts, *sub_ts;
	const char *code;

	(void)self;
	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|pp:run_in_subinterpreter", kwlist, &code,
					 &attach, &detach)) {
		return NULL;
	}
	main_ts = PyThreadState_Get();
	sub_ts = Py_NewInterpreter();
	if (!sub_ts) {
		PyThreadState_Swap(main_ts);
		return PyErr_Format(PyExc_RuntimeError, "Py_NewInterpreter() failed");
	}
	/* The sub-interpreter's thread state is now current: the calls below concern it alone. */
	if (attach) {
		attach_err = pytrace_attach(PyInterpreterState_Get(), NULL);
	}
	run_err = PyRun_SimpleString(code);
	if (attach && detach && !attach_err) {
		detach_err = pytrace_detach(PyInterpreterState_Get());
	}
	/* Without detach, ending the interpreter detaches it implicitly. */
	Py_EndInterpreter(sub_ts);
	PyThreadState_Swap(main_ts);
	if (attach_err || detach_err) {
		return PyErr_Format(PyExc_RuntimeError, "in the sub-interpreter: pytrace_attach() "
				    "returned %d, pytrace_detach() %d", attach_err, detach_err);
	}
	if (run_err) {
		return PyErr_Format(PyExc_RuntimeError, "the code of the sub-interpreter failed");
	}
	Py_RETURN_NONE;
}

#if PY_VERSION_HEX >= 0x03090000
/* A pass-through frame evaluation function: whatever was in place when it was installed (CPython's
 * default) does the work. Its counter tells that it stays in place and runs. */
static _PyFrameEvalFunction host_eval_next;
static unsigned long host_eval_count;

#if PY_VERSION_HEX >= 0x030B0000
static PyObject *host_eval(PyThreadState *ts, struct _PyInterpreterFrame *f, int throwflag)
#else
static PyObject *host_eval(PyThreadState *ts, PyFrameObject *f, int throwflag)
#endif
{
	host_eval_count++;
	return host_eval_next(ts, f, throwflag);
}

static PyObject *host_set_eval_frame(PyObject *self, PyObject *arg)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	int on = PyObject_IsTrue(arg);

	(void)self;
	if (on < 0) {
		return NULL;
	}
	if (on) {
		if (_PyInterpreterState_GetEvalFrameFunc(interp) == host_eval) {
			return PyLong_FromLong(-EALREADY);
		}
		host_eval_next = _PyInterpreterState_GetEvalFrameFunc(interp);
		_PyInterpreterState_SetEvalFrameFunc(interp, host_eval);
	} else {
		if (_PyInterpreterState_GetEvalFrameFunc(interp) != host_eval) {
			return PyLong_FromLong(-ENOENT);
		}
		_PyInterpreterState_SetEvalFrameFunc(interp, host_eval_next);
	}
	return PyLong_FromLong(0);
}

static PyObject *host_eval_frame_calls(PyObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	return PyLong_FromUnsignedLong(host_eval_count);
}
#endif

static PyMethodDef host_methods[] = {
	{ "attach", (PyCFunction)(void (*)(void))host_attach, METH_VARARGS | METH_KEYWORDS,
	  "attach(c_calls=False, mode=0, include=None, exclude=None, max_depth=0) -> int:\n"
	  "pytrace_attach() of the current interpreter." },
	{ "config_set", (PyCFunction)(void (*)(void))host_config_set, METH_VARARGS | METH_KEYWORDS,
	  "config_set(c_calls=False, mode=0, include=None, exclude=None, max_depth=0) -> int:\n"
	  "pytrace_config_set() of the current interpreter." },
	{ "detach", host_detach, METH_NOARGS,
	  "detach() -> int: pytrace_detach() of the current interpreter." },
	{ "thread_attach", host_thread_attach, METH_NOARGS,
	  "thread_attach() -> int: pytrace_thread_attach()." },
	{ "interp_id", host_interp_id, METH_NOARGS,
	  "interp_id() -> int: the id of the current interpreter (the `interp` event field)." },
	{ "run_in_c_thread", (PyCFunction)(void (*)(void))host_run_in_c_thread,
	  METH_VARARGS | METH_KEYWORDS,
	  "run_in_c_thread(code, attach=True): run code in __main__ on a new pthread that enters\n"
	  "Python with PyGILState_Ensure() and, if attach, calls pytrace_thread_attach()." },
	{ "run_in_subinterpreter", (PyCFunction)(void (*)(void))host_run_in_subinterpreter,
	  METH_VARARGS | METH_KEYWORDS,
	  "run_in_subinterpreter(code, attach=False, detach=True): run code in a new\n"
	  "sub-interpreter, attached to libpytrace if attach, detached before it ends if detach." },
#if PY_VERSION_HEX >= 0x03090000
	{ "set_eval_frame", host_set_eval_frame, METH_O,
	  "set_eval_frame(on) -> int: install (0, -EALREADY) or remove (0, -ENOENT) the host's own\n"
	  "frame evaluation function, which calls the one it replaced." },
	{ "eval_frame_calls", host_eval_frame_calls, METH_NOARGS,
	  "eval_frame_calls() -> int: the frames the host's evaluation function has run." },
#endif
	{ NULL, NULL, 0, NULL },
};

/* Multi-phase initialisation: the module can then be imported in sub-interpreters too. */
static PyModuleDef_Slot host_slots[] = {
	{ 0, NULL },
};

static struct PyModuleDef host_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "_pytracehost",
	.m_doc = "The C API of libpytrace, for the tests of pytrace-test-host.",
	.m_size = 0,
	.m_methods = host_methods,
	.m_slots = host_slots,
};

static PyObject *host_module_init(void)
{
	return PyModuleDef_Init(&host_module);
}

int main(int argc, char **argv)
{
	PyConfig config;
	PyStatus status;

	if (argc < 2) {
		fprintf(stderr, "Usage: %s script.py [args...]\n", argv[0]);
		return 2;
	}
	if (PyImport_AppendInittab("_pytracehost", host_module_init) < 0) {
		fprintf(stderr, "%s: cannot register _pytracehost\n", argv[0]);
		return 1;
	}
	PyConfig_InitPythonConfig(&config);
	/* Parsed as python3 parses its argv, so that `host script.py args` behaves as
	 * `python3 script.py args` (sys.argv, exit code, tracebacks). */
	status = PyConfig_SetBytesArgv(&config, argc, argv);
	if (PyStatus_Exception(status)) {
		goto fail;
	}
	status = Py_InitializeFromConfig(&config);
	if (PyStatus_Exception(status)) {
		goto fail;
	}
	PyConfig_Clear(&config);
	return Py_RunMain();

fail:
	PyConfig_Clear(&config);
	if (PyStatus_IsExit(status)) {
		return status.exitcode;
	}
	Py_ExitStatusException(status);
}
