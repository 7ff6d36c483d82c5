/* SPDX-License-Identifier: MIT */
/*
 * Names for events: a struct pt_code built once per code object and kept in the code object's
 * extra slot, the names of C functions and of exception types. All of it runs with the GIL held,
 * inside a hook callback, so nothing here may raise into the program: every Python error is
 * cleared, the pending exception of the program is saved and restored around the slow path.
 */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define CODE_INDEX_KEY "libpytrace.code_extra_index"

/*
 * Every struct pt_code is on this list. CPython 3.11 frees the extra slots of its deep-frozen
 * (static) code objects at finalization without calling our free function, so the blocks still
 * listed once the runtime is finalized are freed by a Py_AtExit() callback, which runs after
 * that. Slow path only (once per code object); a lock because code objects of several
 * interpreters may die concurrently once interpreters have their own GIL.
 */
static pthread_mutex_t codes_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pt_code codes = { .prev = &codes, .next = &codes };
static bool codes_atexit;
static PyObject *name_key; /* "__name__" */

static void code_release(struct pt_code *pc)
{
	pthread_mutex_lock(&codes_lock);
	pc->prev->next = pc->next;
	pc->next->prev = pc->prev;
	pthread_mutex_unlock(&codes_lock);
	Py_XDECREF(pc->module_obj);
	PyMem_RawFree(pc);
}

/* The code object is being freed (GIL held). Fast-mode records still buffered may name it: then
 * the block lives on until the last of them is flushed. */
static void code_free(void *p)
{
	struct pt_code *pc = p;

	if (pc->refs) {
		pc->dead = true;
		return;
	}
	code_release(pc);
}

void pt_code_ref(const struct pt_code *pc)
{
	((struct pt_code *)pc)->refs++;
}

void pt_code_unref(const struct pt_code *pc)
{
	struct pt_code *c = (struct pt_code *)pc;

	if (--c->refs == 0 && c->dead) {
		code_release(c);
	}
}

/* After finalization: the runtime is gone, so module_obj is not released. */
static void codes_fini(void)
{
	pthread_mutex_lock(&codes_lock);
	while (codes.next != &codes) {
		struct pt_code *pc = codes.next;

		codes.next = pc->next;
		PyMem_RawFree(pc);
	}
	codes.prev = &codes;
	codes_atexit = false;
	name_key = NULL;
	pthread_mutex_unlock(&codes_lock);
}

static void codes_add(struct pt_code *pc)
{
	bool reg;

	pthread_mutex_lock(&codes_lock);
	pc->next = &codes;
	pc->prev = codes.prev;
	codes.prev->next = pc;
	codes.prev = pc;
	reg = !codes_atexit;
	codes_atexit = true;
	pthread_mutex_unlock(&codes_lock);
	/* Once per runtime initialization: the callbacks are dropped after they ran. */
	if (reg && Py_AtExit(codes_fini) < 0) {
		pt_debug("no Py_AtExit() slot left: name caches of static code objects leak at exit");
	}
}

Py_ssize_t pt_code_index(void)
{
	PyObject *dict = PyInterpreterState_GetDict(PyInterpreterState_Get());
	PyObject *val;
	Py_ssize_t index;

	if (!dict) {
		return -1;
	}
	val = PyDict_GetItemString(dict, CODE_INDEX_KEY);
	if (val) {
		return PyLong_AsSsize_t(val);
	}
	index = pt_code_extra_index(code_free);
	if (index < 0) {
		pt_log_pyerr("cannot get a code extra index");
		return -1;
	}
	val = PyLong_FromSsize_t(index);
	if (!val || PyDict_SetItemString(dict, CODE_INDEX_KEY, val) < 0) {
		Py_XDECREF(val);
		pt_log_pyerr("cannot store the code extra index");
		return -1;
	}
	Py_DECREF(val);
	return index;
}

/*
 * UTF-8 of a str, escaped when it holds lone surrogates (undecodable file names under
 * surrogateescape): "\udcff" instead of a failure. Returns a new bytes object or NULL (no error
 * set) when @p s is no str at all.
 */
static PyObject *utf8_bytes(PyObject *s)
{
	PyObject *b;

	if (!s || !PyUnicode_Check(s)) {
		return NULL;
	}
	b = PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace");
	if (!b) {
		PyErr_Clear();
	}
	return b;
}

static size_t put(char **p, PyObject *bytes, const char *fallback)
{
	const char *src = bytes ? PyBytes_AS_STRING(bytes) : fallback;
	size_t len = bytes ? (size_t)PyBytes_GET_SIZE(bytes) : strlen(fallback);

	if (*p) {
		memcpy(*p, src, len);
		(*p)[len] = '\0';
		*p += len + 1;
	}
	return len + 1;
}

PyObject *pt_globals_module(PyObject *globals)
{
	PyObject *name = NULL;

	if (!name_key) {
		/* Interned, hence shared by every interpreter of the runtime; dropped by
		 * codes_fini() with the runtime. */
		name_key = PyUnicode_InternFromString("__name__");
		if (!name_key) {
			PyErr_Clear();
			return NULL;
		}
	}
	if (globals && PyDict_Check(globals)) {
		/* Borrowed from the frame's globals, which the running frame keeps alive. */
		name = PyDict_GetItemWithError(globals, name_key);
		PyErr_Clear();
	}
	return name;
}

const char *pt_module_utf8(PyObject *name)
{
	const char *s = NULL;

	if (name && PyUnicode_Check(name)) {
		s = PyUnicode_AsUTF8(name);
		if (!s) {
			PyErr_Clear();
		}
	}
	return s ? s : "?";
}

static struct pt_code *code_build(PyCodeObject *code, PyObject *globals)
{
	PyObject *mod = pt_globals_module(globals);
	PyObject *s[4] = {
		utf8_bytes(code->co_filename),
		utf8_bytes(code->co_name),
		utf8_bytes(code->co_qualname),
		utf8_bytes(mod),
	};
	static const char *const fallback[4] = { "?", "?", "?", "?" };
	struct pt_code *pc = NULL;
	size_t size = 0;
	char *p = NULL;

	for (int i = 0; i < 4; i++) {
		size += put(&p, s[i], fallback[i]);
	}
	pc = PyMem_RawMalloc(sizeof(*pc) + size);
	if (pc) {
		const char **dst[4] = { &pc->filename, &pc->name, &pc->qualname, &pc->module };

		memset(pc, 0, sizeof(*pc));
		p = pc->strings;
		for (int i = 0; i < 4; i++) {
			*dst[i] = p;
			put(&p, s[i], fallback[i]);
		}
		pc->module_obj = Py_XNewRef(mod);
		pc->firstlineno = code->co_firstlineno;
		pc->is_gen = code->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR);
	}
	for (int i = 0; i < 4; i++) {
		Py_XDECREF(s[i]);
	}
	return pc;
}

const struct pt_code *pt_code_get(PyCodeObject *code, PyObject *globals, Py_ssize_t index)
{
	struct pt_exc exc;
	void *extra = NULL;
	struct pt_code *pc;

	if (pt_code_get_extra((PyObject *)code, index, &extra) == 0 && extra) {
		return extra;
	}
	exc = pt_exc_save();
	pc = code_build(code, globals);
	if (pc && pt_code_set_extra((PyObject *)code, index, pc) < 0) {
		PyMem_RawFree(pc);
		pc = NULL;
	}
	if (pc) {
		codes_add(pc);
	}
	PyErr_Clear();
	pt_exc_restore(exc);
	return pc;
}

/* Appends @s's UTF-8 (escaped) to buf at *off, never overflowing; *off stays <= size - 1. */
static void append_obj(char *buf, size_t size, size_t *off, PyObject *s)
{
	PyObject *b = utf8_bytes(s);

	if (b) {
		int n = snprintf(buf + *off, size - *off, "%s", PyBytes_AS_STRING(b));

		*off += n < 0 ? 0 : (size_t)n;
		Py_DECREF(b);
	} else {
		int n = snprintf(buf + *off, size - *off, "?");

		*off += n < 0 ? 0 : (size_t)n;
	}
	if (*off >= size) {
		*off = size - 1;
	}
}

static void append_str(char *buf, size_t size, size_t *off, const char *s)
{
	int n = snprintf(buf + *off, size - *off, "%s", s);

	*off += n < 0 ? 0 : (size_t)n;
	if (*off >= size) {
		*off = size - 1;
	}
}

static bool is_builtins(PyObject *mod)
{
	return mod && PyUnicode_Check(mod) && PyUnicode_CompareWithASCIIString(mod, "builtins") == 0;
}

/* "list", "collections.OrderedDict", "json.decoder.JSONDecodeError": module-qualified except
 * for builtins. Static types carry their module in tp_name already. */
static void type_name(PyTypeObject *type, char *buf, size_t size, size_t *off)
{
	PyObject *mod, *qual;

	if (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
		append_str(buf, size, off, type->tp_name);
		return;
	}
	mod = type->tp_dict ? PyDict_GetItemString(type->tp_dict, "__module__") : NULL;
	PyErr_Clear();
	if (mod && PyUnicode_Check(mod) && !is_builtins(mod)) {
		append_obj(buf, size, off, mod);
		append_str(buf, size, off, ".");
	}
	qual = ((PyHeapTypeObject *)type)->ht_qualname;
	if (qual) {
		append_obj(buf, size, off, qual);
	} else {
		append_str(buf, size, off, type->tp_name);
	}
}

void pt_type_name(PyTypeObject *type, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	type_name(type, buf, size, &off);
}

void pt_cfunc_name(PyObject *func, char *buf, size_t size)
{
	PyCFunctionObject *f = (PyCFunctionObject *)func;
	PyObject *self, *mod;
	size_t off = 0;

	buf[0] = '\0';
	if (!PyCFunction_Check(func)) {
		type_name(Py_TYPE(func), buf, size, &off);
		return;
	}
	self = f->m_self;
	if (!self || PyModule_Check(self)) {
		mod = f->m_module;
		if (mod && PyUnicode_Check(mod) && !is_builtins(mod)) {
			append_obj(buf, size, &off, mod);
			append_str(buf, size, &off, ".");
		}
	} else {
		type_name(PyType_Check(self) ? (PyTypeObject *)self : Py_TYPE(self), buf, size, &off);
		append_str(buf, size, &off, ".");
	}
	append_str(buf, size, &off, f->m_ml->ml_name);
}
