/* SPDX-License-Identifier: MIT */
/*
 * pytrace._native's requests (pytrace.flask; docs/python.md, "Flask"): request_recording(),
 * request_begin() and the Request type over pytrace_request_begin()/pytrace_request_end().
 *
 * The strings come from the network (a path, a header): nothing in them may raise into the
 * server. A lone surrogate is recorded escaped (`\udcff`), a NUL as `\x00` (C strings end at
 * NUL). Everything runs with the GIL held; a Request ends once, by end() or, if its owner drops
 * it without ending it, when it is freed (error "abandoned"), so that events come in pairs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <string.h>

#include <pytrace/pytrace.h>

#include "_native.h"

typedef struct {
	PyObject_HEAD
	struct pytrace_request *req; /* NULL once ended */
	unsigned long long id;
} Request;

/* @s (str or None) as UTF-8 for C; NULL for None. Bytes made here are kept in @keep. */
static int c_string(PyObject *s, const char *what, PyObject *keep, const char **out)
{
	Py_ssize_t len;
	const char *u;
	PyObject *b = NULL, *fixed;

	*out = NULL;
	if (s == Py_None) {
		return 0;
	}
	if (!PyUnicode_Check(s)) {
		PyErr_Format(PyExc_TypeError, "pytrace.flask: %s must be a str or None, not %.100s",
			     what, Py_TYPE(s)->tp_name);
		return -1;
	}
	u = PyUnicode_AsUTF8AndSize(s, &len);
	if (!u) {
		if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
			return -1;
		}
		PyErr_Clear();
		b = PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace");
		if (!b) {
			return -1;
		}
		u = PyBytes_AS_STRING(b);
		len = PyBytes_GET_SIZE(b);
	}
	if (memchr(u, '\0', (size_t)len)) {
		if (!b && !(b = PyUnicode_AsUTF8String(s))) {
			return -1;
		}
		fixed = PyObject_CallMethod(b, "replace", "y#y#", "\0", (Py_ssize_t)1, "\\x00",
					    (Py_ssize_t)4);
		Py_SETREF(b, fixed);
		if (!b) {
			return -1;
		}
		u = PyBytes_AS_STRING(b);
	}
	if (b) {
		if (PyList_Append(keep, b) < 0) {
			Py_DECREF(b);
			return -1;
		}
		Py_DECREF(b);
	}
	*out = u;
	return 0;
}

static PyObject *request_end(Request *self, PyObject *args)
{
	PyObject *error = Py_None, *keep;
	const char *cerror;
	int status;

	if (!PyArg_ParseTuple(args, "i|O:end", &status, &error)) {
		return NULL;
	}
	if (!self->req) {
		Py_RETURN_NONE; /* ended already: a teardown that runs twice records once */
	}
	keep = PyList_New(0);
	if (!keep || c_string(error, "error", keep, &cerror) < 0) {
		Py_XDECREF(keep);
		return NULL;
	}
	pytrace_request_end(self->req, status, cerror);
	self->req = NULL;
	Py_DECREF(keep);
	Py_RETURN_NONE;
}

static PyObject *request_get_id(Request *self, void *closure)
{
	(void)closure;
	return PyLong_FromUnsignedLongLong(self->id);
}

static PyObject *request_get_ended(Request *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(self->req == NULL);
}

static void request_dealloc(Request *self)
{
	if (self->req) {
		pytrace_request_end(self->req, 0, "abandoned");
	}
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *request_repr(Request *self)
{
	return PyUnicode_FromFormat("<pytrace._native.Request id=%llu%s>", self->id,
				    self->req ? "" : " ended");
}

static PyMethodDef request_methods[] = {
	{ "end", (PyCFunction)request_end, METH_VARARGS,
	  "end(status, error=None): record python:request_exit (pytrace_request_end()). Only the "
	  "first call records." },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef request_getset[] = {
	{ "id", (getter)request_get_id, NULL, "The id recorded in the request's events.", NULL },
	{ "ended", (getter)request_get_ended, NULL, "Whether end() was called.", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject RequestType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "pytrace._native.Request",
	.tp_basicsize = sizeof(Request),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A request being recorded: made by request_begin(), ended by end().",
	.tp_dealloc = (destructor)request_dealloc,
	.tp_repr = (reprfunc)request_repr,
	.tp_methods = request_methods,
	.tp_getset = request_getset,
};

static PyObject *native_request_recording(PyObject *self, PyObject *lab)
{
	int truth = PyObject_IsTrue(lab), ret;

	(void)self;
	if (truth < 0) {
		return NULL;
	}
	ret = pytrace_request_recording(truth);
	if (ret < 0) {
		return pt_native_raise("flask", ret == -ENOENT ? -ELIBACC : ret);
	}
	return PyBool_FromLong(ret);
}

static PyObject *native_request_begin(PyObject *self, PyObject *args)
{
	static const char *const what[] = { "method", "path", "endpoint", "rule", "traceparent",
					    "lab_logger", "thread_name" };
	PyObject *in[7], *keep;
	const char *s[7];
	struct pytrace_request *req = NULL;
	Request *r;
	int err;

	(void)self;
	if (!PyArg_UnpackTuple(args, "request_begin", 7, 7, &in[0], &in[1], &in[2], &in[3],
			       &in[4], &in[5], &in[6])) {
		return NULL;
	}
	keep = PyList_New(0);
	if (!keep) {
		return NULL;
	}
	for (int i = 0; i < 7; i++) {
		if (c_string(in[i], what[i], keep, &s[i]) < 0) {
			Py_DECREF(keep);
			return NULL;
		}
	}
	PYTRACE_OPTS(pytrace_request_opts, o, .method = s[0], .path = s[1], .endpoint = s[2],
		     .rule = s[3], .traceparent = s[4], .lab_logger = s[5], .thread_name = s[6]);
	err = pytrace_request_begin(&o, &req);
	Py_DECREF(keep);
	if (err) {
		return pt_native_raise("flask", err == -ENOENT ? -ELIBACC : err);
	}
	if (!req) {
		Py_RETURN_NONE;
	}
	r = PyObject_New(Request, &RequestType);
	if (!r) {
		pytrace_request_end(req, 0, "MemoryError");
		return NULL;
	}
	r->req = req;
	r->id = pytrace_request_id(req);
	return (PyObject *)r;
}

static PyMethodDef request_functions[] = {
	{ "request_recording", native_request_recording, METH_O,
	  "request_recording(lab_records) -> bool: pytrace_request_recording() (AgentLibraryError "
	  "if the lab records are impossible)." },
	{ "request_begin", native_request_begin, METH_VARARGS,
	  "request_begin(method, path, endpoint, rule, traceparent, lab_logger, thread_name) -> "
	  "Request or None: pytrace_request_begin() (each argument a str or None)." },
	{ NULL, NULL, 0, NULL },
};

int pt_native_add_requests(PyObject *m)
{
	if (PyType_Ready(&RequestType) < 0 || PyModule_AddFunctions(m, request_functions) < 0) {
		return -1;
	}
	Py_INCREF(&RequestType);
	if (PyModule_AddObject(m, "Request", (PyObject *)&RequestType) < 0) {
		Py_DECREF(&RequestType);
		return -1;
	}
	return 0;
}
