/* SPDX-License-Identifier: MIT */
/*
 * pytrace._native: the Python shim's bridge to libpytrace (docs/python.md).
 *
 * One libpytrace per process: this module links the shared libpytrace.so.0, never a copy, so
 * that under pytrace-run or any C host that already loaded it, `import pytrace` uses that same
 * instance (one tracepoint provider, one registry of attached interpreters). It is built like
 * any extension module, against the interpreter's headers without linking libpython; libpytrace
 * itself names libpython3.X.so (DT_NEEDED). In a `python3` with a statically linked libpython
 * (Debian's /usr/bin/python3) that library is mapped but never runs: the executable comes first
 * in the global symbol scope, so every Py* reference of libpytrace binds to the executable's
 * CPython (checked with LD_DEBUG=bindings and LD_BIND_NOW=1, see docs/python.md), and nothing
 * calls into the second copy (its only constructor is the compiler's frame_dummy).
 *
 * Everything here runs with the GIL held; validation of the options is done by pytrace/__init__.py,
 * validation of names and attributes here (at construction of a span, so that a decorator with a
 * bad attribute fails where it is written).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <pytrace/pytrace.h>

#include "_native.h"

#if PY_VERSION_HEX < 0x03090000
#define PyInterpreterState_Get _PyInterpreterState_Get /* public from 3.9 on */
#endif
#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *Py_NewRef(PyObject *o)
{
	Py_INCREF(o);
	return o;
}
#endif

/* pytrace._native.AgentLibraryError: a RuntimeError, so that the launcher can fall back. */
static PyObject *agent_library_error;

PyObject *pt_native_raise(const char *what, int err)
{
	switch (err) {
	case -ELIBACC:
		PyErr_Format(agent_library_error,
			     "pytrace.%s: cannot forward Python logging: libpytrace cannot load "
			     "liblttng-ust-python-agent.so.1 (Debian: liblttng-ust-python-agent1; "
			     "libpytrace's message on stderr says why)", what);
		break;
	case -EINVAL:
		PyErr_Format(PyExc_ValueError,
			     "pytrace.%s: libpytrace refused the options or a PYTRACE_* environment "
			     "variable (its message on stderr names the bad part)", what);
		break;
	case -EALREADY:
		PyErr_Format(PyExc_RuntimeError,
			     "pytrace.%s: this interpreter is already attached (by pytrace.attach(), "
			     "pytrace-run or the host)", what);
		break;
	case -ENOENT:
		PyErr_Format(PyExc_RuntimeError, "pytrace.%s: this interpreter is not attached",
			     what);
		break;
	case -EBUSY:
		PyErr_Format(PyExc_RuntimeError,
			     "pytrace.%s: another tool holds the hooks libpytrace needs (a profiler's "
			     "profile function on 3.8-3.11, sys.monitoring tool ids 3 and 4 on 3.12+; "
			     "libpytrace's message on stderr says which)", what);
		break;
	case -ENOMEM:
		PyErr_NoMemory();
		break;
	default:
		errno = -err;
		PyErr_SetFromErrno(PyExc_OSError);
		break;
	}
	return NULL;
}

/* ---- attach, detach, configure ---- */

/*
 * (c_calls, mode, include, exclude, max_depth[, logging]), already validated by
 * pytrace/__init__.py; `logging` only for attach (pytrace_config_set() does not read it).
 */
static int opts_parse(PyObject *args, struct pytrace_attach_opts *o)
{
	int c_calls, mode, logging = 0;
	unsigned int max_depth;
	const char *include, *exclude;

	if (!PyArg_ParseTuple(args, "pizzI|p", &c_calls, &mode, &include, &exclude, &max_depth,
			      &logging)) {
		return -1;
	}
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	o->c_calls = c_calls;
	o->mode = mode;
	o->include = include;
	o->exclude = exclude;
	o->max_depth = max_depth;
	o->logging = logging;
	return 0;
}

static PyObject *native_attach(PyObject *self, PyObject *args)
{
	struct pytrace_attach_opts o;
	int err;

	(void)self;
	if (opts_parse(args, &o) < 0) {
		return NULL;
	}
	err = pytrace_attach(PyInterpreterState_Get(), &o);
	return err ? pt_native_raise("attach", err) : Py_NewRef(Py_None);
}

static PyObject *native_configure(PyObject *self, PyObject *args)
{
	struct pytrace_attach_opts o;
	int err;

	(void)self;
	if (opts_parse(args, &o) < 0) {
		return NULL;
	}
	err = pytrace_config_set(PyInterpreterState_Get(), &o);
	return err ? pt_native_raise("configure", err) : Py_NewRef(Py_None);
}

static PyObject *native_detach(PyObject *self, PyObject *unused)
{
	int err;

	(void)self;
	(void)unused;
	err = pytrace_detach(PyInterpreterState_Get());
	return err ? pt_native_raise("detach", err) : Py_NewRef(Py_None);
}

static PyObject *native_forward_logging(PyObject *self, PyObject *arg)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	int on = PyObject_IsTrue(arg), err;

	(void)self;
	if (on < 0) {
		return NULL;
	}
	err = on ? pytrace_logging_enable(interp) : pytrace_logging_disable(interp);
	return err ? pt_native_raise("forward_logging", err) : Py_NewRef(Py_None);
}

static PyObject *native_version(PyObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	return PyUnicode_FromString(pytrace_version());
}

/* ---- names and attributes ---- */

/*
 * UTF-8 of @s, a str, for an event. A string that has no UTF-8 form (lone surrogates, as
 * `surrogateescape` makes them) is recorded with them escaped (`\udcff`): its bytes are kept in
 * @keep. NUL characters are refused: C strings end there.
 */
static const char *utf8_of(const char *func, const char *what, PyObject *key, PyObject *s,
			   PyObject *keep)
{
	Py_ssize_t len;
	const char *u = PyUnicode_AsUTF8AndSize(s, &len);
	PyObject *b;

	if (!u) {
		if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
			return NULL;
		}
		PyErr_Clear();
		b = PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace");
		if (!b || PyList_Append(keep, b) < 0) {
			Py_XDECREF(b);
			return NULL;
		}
		Py_DECREF(b);
		u = PyBytes_AS_STRING(b);
		len = PyBytes_GET_SIZE(b);
	}
	if (strlen(u) != (size_t)len) {
		if (key) {
			PyErr_Format(PyExc_ValueError, "%s: %s %R contains a NUL character", func,
				     what, key);
		} else {
			PyErr_Format(PyExc_ValueError, "%s: %s contains a NUL character", func, what);
		}
		return NULL;
	}
	return u;
}

static const char *name_of(const char *func, PyObject *name, PyObject *keep)
{
	if (!PyUnicode_Check(name)) {
		PyErr_Format(PyExc_TypeError, "%s: name must be a str, not %.100s", func,
			     Py_TYPE(name)->tp_name);
		return NULL;
	}
	if (PyUnicode_GET_LENGTH(name) == 0) {
		PyErr_Format(PyExc_ValueError, "%s: name must not be empty", func);
		return NULL;
	}
	return utf8_of(func, "name", NULL, name, keep);
}

/* The attributes of a dict (NULL: none) as C arrays; free with attrs_free(). */
struct attrs {
	size_t n;
	const char **keys;
	const char **values;
	PyObject *keep; /* list: bytes backing escaped strings */
};

static void attrs_free(struct attrs *a)
{
	PyMem_Free(a->keys);
	PyMem_Free(a->values);
	Py_XDECREF(a->keep);
	memset(a, 0, sizeof(*a));
}

static int attrs_load(const char *func, PyObject *dict, struct attrs *a)
{
	PyObject *k, *v;
	Py_ssize_t pos = 0, n = dict ? PyDict_GET_SIZE(dict) : 0;

	memset(a, 0, sizeof(*a));
	a->keep = PyList_New(0);
	if (!a->keep) {
		return -1;
	}
	if (!n) {
		return 0;
	}
	a->keys = PyMem_Calloc((size_t)n, sizeof(char *));
	a->values = PyMem_Calloc((size_t)n, sizeof(char *));
	if (!a->keys || !a->values) {
		PyErr_NoMemory();
		goto fail;
	}
	while (PyDict_Next(dict, &pos, &k, &v)) {
		if (!PyUnicode_Check(k)) {
			PyErr_Format(PyExc_TypeError, "%s: attribute names must be str, not %.100s",
				     func, Py_TYPE(k)->tp_name);
			goto fail;
		}
		if (PyUnicode_GET_LENGTH(k) == 0) {
			PyErr_Format(PyExc_ValueError, "%s: an attribute name is empty", func);
			goto fail;
		}
		if (!PyUnicode_Check(v)) {
			PyErr_Format(PyExc_TypeError,
				     "%s: attribute %R must be a str, not %.100s (attributes are "
				     "strings: convert with str())", func, k, Py_TYPE(v)->tp_name);
			goto fail;
		}
		a->keys[a->n] = utf8_of(func, "attribute name", k, k, a->keep);
		if (!a->keys[a->n]) {
			goto fail;
		}
		a->values[a->n] = utf8_of(func, "attribute", k, v, a->keep);
		if (!a->values[a->n]) {
			goto fail;
		}
		a->n++;
	}
	return 0;
fail:
	attrs_free(a);
	return -1;
}

/* ---- spans and marks ---- */

static PyObject *begin(const char *func, PyObject *name, PyObject *attrs)
{
	struct attrs a;
	const char *cname;
	uint64_t id = 0;
	int err;

	if (attrs_load(func, attrs, &a) < 0) {
		return NULL;
	}
	cname = name_of(func, name, a.keep);
	if (!cname) {
		attrs_free(&a);
		return NULL;
	}
	err = pytrace_span_begin(cname, a.keys, a.values, a.n, &id);
	attrs_free(&a);
	if (err) {
		return pt_native_raise("span", err);
	}
	return PyLong_FromUnsignedLongLong(id);
}

static int end(const char *func, PyObject *name, uint64_t id)
{
	PyObject *keep = PyList_New(0);
	const char *cname;
	int err;

	if (!keep) {
		return -1;
	}
	cname = name_of(func, name, keep);
	err = cname ? pytrace_span_end(cname, id) : 0;
	Py_DECREF(keep);
	if (!cname) {
		return -1;
	}
	if (err) {
		pt_native_raise("span", err);
		return -1;
	}
	return 0;
}

static PyObject *native_span_begin(PyObject *self, PyObject *args)
{
	PyObject *name, *attrs = NULL;

	(void)self;
	if (!PyArg_ParseTuple(args, "O|O!:span_begin", &name, &PyDict_Type, &attrs)) {
		return NULL;
	}
	return begin("pytrace.span", name, attrs);
}

static PyObject *native_span_end(PyObject *self, PyObject *args)
{
	unsigned long long id;
	PyObject *name;

	(void)self;
	if (!PyArg_ParseTuple(args, "OK:span_end", &name, &id)) {
		return NULL;
	}
	if (!id) {
		PyErr_SetString(PyExc_ValueError, "pytrace.span: span id 0 is no span");
		return NULL;
	}
	return end("pytrace.span", name, id) < 0 ? NULL : Py_NewRef(Py_None);
}

/* One positional argument, the name; keywords are attributes. */
static PyObject *one_name(const char *func, PyObject *args)
{
	if (PyTuple_GET_SIZE(args) != 1) {
		PyErr_Format(PyExc_TypeError,
			     "%s() takes exactly one positional argument, the name (%zd given); "
			     "attributes are keyword arguments", func, PyTuple_GET_SIZE(args));
		return NULL;
	}
	return PyTuple_GET_ITEM(args, 0);
}

static PyObject *native_mark(PyObject *self, PyObject *args, PyObject *kwargs)
{
	struct attrs a;
	PyObject *name = one_name("pytrace.mark", args);
	const char *cname;
	int err;

	(void)self;
	if (!name || attrs_load("pytrace.mark", kwargs, &a) < 0) {
		return NULL;
	}
	cname = name_of("pytrace.mark", name, a.keep);
	err = cname ? pytrace_mark(cname, a.keys, a.values, a.n) : 0;
	attrs_free(&a);
	if (!cname) {
		return NULL;
	}
	return err ? pt_native_raise("mark", err) : Py_NewRef(Py_None);
}

/* The Span type: a context manager; pytrace.span subclasses it to add the decorator. */
typedef struct {
	PyObject_HEAD
	PyObject *name;
	PyObject *attrs; /* dict of str */
	PyObject *ids;	 /* list: ids of the entries not exited yet, innermost last */
} Span;

static int span_init(Span *self, PyObject *args, PyObject *kwargs)
{
	struct attrs a;
	PyObject *name = one_name("pytrace.span", args);

	if (!name) {
		return -1;
	}
	/* Validate now: a bad span fails where it is written, not at its first use. */
	if (attrs_load("pytrace.span", kwargs, &a) < 0) {
		return -1;
	}
	if (!name_of("pytrace.span", name, a.keep)) {
		attrs_free(&a);
		return -1;
	}
	attrs_free(&a);
	Py_XSETREF(self->name, Py_NewRef(name));
	Py_XSETREF(self->attrs, kwargs ? PyDict_Copy(kwargs) : PyDict_New());
	Py_XSETREF(self->ids, PyList_New(0));
	return self->attrs && self->ids ? 0 : -1;
}

static int span_traverse(Span *self, visitproc visit, void *arg)
{
	Py_VISIT(self->name);
	Py_VISIT(self->attrs);
	Py_VISIT(self->ids);
	return 0;
}

static int span_clear(Span *self)
{
	Py_CLEAR(self->name);
	Py_CLEAR(self->attrs);
	Py_CLEAR(self->ids);
	return 0;
}

static void span_dealloc(Span *self)
{
	PyObject_GC_UnTrack(self);
	span_clear(self);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int span_ready(Span *self)
{
	if (!self->name || !self->ids) {
		PyErr_SetString(PyExc_RuntimeError, "pytrace.span: object not initialised");
		return -1;
	}
	return 0;
}

static PyObject *span_enter(Span *self, PyObject *unused)
{
	PyObject *id;

	(void)unused;
	if (span_ready(self) < 0) {
		return NULL;
	}
	id = begin("pytrace.span", self->name, self->attrs);
	if (!id) {
		return NULL;
	}
	if (PyList_Append(self->ids, id) < 0) {
		Py_DECREF(id);
		return NULL;
	}
	Py_DECREF(id);
	return Py_NewRef((PyObject *)self);
}

static PyObject *span_exit(Span *self, PyObject *args)
{
	Py_ssize_t n;
	uint64_t id;

	(void)args;
	if (span_ready(self) < 0) {
		return NULL;
	}
	n = PyList_GET_SIZE(self->ids);
	if (!n) {
		PyErr_SetString(PyExc_RuntimeError, "pytrace.span: __exit__ without __enter__");
		return NULL;
	}
	id = PyLong_AsUnsignedLongLong(PyList_GET_ITEM(self->ids, n - 1));
	if (PyList_SetSlice(self->ids, n - 1, n, NULL) < 0 || end("pytrace.span", self->name, id)) {
		return NULL;
	}
	Py_RETURN_FALSE; /* never swallows the exception */
}

static PyObject *span_get_id(Span *self, void *closure)
{
	Py_ssize_t n = self->ids ? PyList_GET_SIZE(self->ids) : 0;

	(void)closure;
	return n ? Py_NewRef(PyList_GET_ITEM(self->ids, n - 1)) : Py_NewRef(Py_None);
}

static PyObject *span_get_name(Span *self, void *closure)
{
	(void)closure;
	return Py_NewRef(self->name ? self->name : Py_None);
}

static PyObject *span_get_attrs(Span *self, void *closure)
{
	(void)closure;
	return self->attrs ? PyDict_Copy(self->attrs) : PyDict_New();
}

static PyObject *span_repr(Span *self)
{
	return PyUnicode_FromFormat("%s(%R, **%R)", Py_TYPE(self)->tp_name,
				    self->name ? self->name : Py_None,
				    self->attrs ? self->attrs : Py_None);
}

static PyMethodDef span_methods[] = {
	{ "__enter__", (PyCFunction)span_enter, METH_NOARGS,
	  "Begin the span: record python:span_begin; returns the span." },
	{ "__exit__", (PyCFunction)span_exit, METH_VARARGS,
	  "End the span: record python:span_end. Never suppresses the exception." },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef span_getset[] = {
	{ "name", (getter)span_get_name, NULL, "The span's name.", NULL },
	{ "attrs", (getter)span_get_attrs, NULL, "A copy of the span's attributes.", NULL },
	{ "id", (getter)span_get_id, NULL,
	  "The id of the innermost entry not exited yet, or None.", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject SpanType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "pytrace._native.Span",
	.tp_basicsize = sizeof(Span),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
	.tp_doc = "Span(name, /, **attrs): a context manager recording python:span_begin and "
		  "python:span_end.",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)span_init,
	.tp_dealloc = (destructor)span_dealloc,
	.tp_traverse = (traverseproc)span_traverse,
	.tp_clear = (inquiry)span_clear,
	.tp_repr = (reprfunc)span_repr,
	.tp_methods = span_methods,
	.tp_getset = span_getset,
};

static PyMethodDef native_methods[] = {
	{ "attach", native_attach, METH_VARARGS,
	  "attach(c_calls, mode, include, exclude, max_depth, logging=False): pytrace_attach()." },
	{ "configure", native_configure, METH_VARARGS,
	  "configure(c_calls, mode, include, exclude, max_depth): pytrace_config_set()." },
	{ "detach", native_detach, METH_NOARGS, "detach(): pytrace_detach()." },
	{ "forward_logging", native_forward_logging, METH_O,
	  "forward_logging(on): pytrace_logging_enable() or pytrace_logging_disable()." },
	{ "version", native_version, METH_NOARGS, "version(): pytrace_version()." },
	{ "span_begin", native_span_begin, METH_VARARGS,
	  "span_begin(name, attrs=None) -> id: pytrace_span_begin()." },
	{ "span_end", native_span_end, METH_VARARGS, "span_end(name, id): pytrace_span_end()." },
	{ "mark", (PyCFunction)(void (*)(void))native_mark, METH_VARARGS | METH_KEYWORDS,
	  "mark(name, /, **attrs)\n--\n\n"
	  "Record a python:mark event: a named instant of this thread with string attributes." },
	{ NULL, NULL, 0, NULL },
};

static struct PyModuleDef native_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "pytrace._native",
	.m_doc = "libpytrace's C API for the pytrace package (use pytrace, not this module).",
	.m_size = -1,
	.m_methods = native_methods,
};

/* 3.8's PyMODINIT_FUNC does not say "default visibility"; the module is built with hidden. */
__attribute__((visibility("default"))) PyMODINIT_FUNC PyInit__native(void);

PyMODINIT_FUNC PyInit__native(void)
{
	PyObject *m;

	if (PyType_Ready(&SpanType) < 0) {
		return NULL;
	}
	m = PyModule_Create(&native_module);
	if (!m) {
		return NULL;
	}
	Py_INCREF(&SpanType);
	if (PyModule_AddObject(m, "Span", (PyObject *)&SpanType) < 0) {
		Py_DECREF(&SpanType);
		Py_DECREF(m);
		return NULL;
	}
	agent_library_error = PyErr_NewExceptionWithDoc(
		"pytrace._native.AgentLibraryError",
		"libpytrace cannot load liblttng-ust-python-agent.so.1: Python logging cannot be "
		"forwarded.", PyExc_RuntimeError, NULL);
	if (!agent_library_error) {
		Py_DECREF(m);
		return NULL;
	}
	Py_INCREF(agent_library_error);
	if (PyModule_AddObject(m, "AgentLibraryError", agent_library_error) < 0) {
		Py_DECREF(agent_library_error);
		Py_DECREF(m);
		return NULL;
	}
	if (pt_native_add_requests(m) < 0 ||
	    PyModule_AddIntConstant(m, "MODE_EVENTS", PYTRACE_MODE_EVENTS) < 0 ||
	    PyModule_AddIntConstant(m, "MODE_FAST", PYTRACE_MODE_FAST) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
