/* SPDX-License-Identifier: MIT */
/*
 * Names for events: a struct pt_code built once per code object and kept in the code object's
 * extra slot, the names of C functions and of exception types. All of it runs with the GIL held,
 * inside a hook callback, so nothing here may raise into the program: every Python error is
 * cleared, the pending exception of the program is saved and restored around the slow path.
 */
#include "internal.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#if PY_VERSION_HEX < 0x030B0000
#include <opcode.h>
#endif

#define CODE_INDEX_KEY "libpytrace.code_extra_index"

/*
 * Every struct pt_code is on this list. CPython 3.11 frees the extra slots of its deep-frozen
 * (static) code objects at finalization without calling our free function, so the blocks still
 * listed once the runtime is finalized are freed by a Py_AtExit() callback, which runs after
 * that (see codes_fini()). Slow path only (once per code object); a lock because code objects of several
 * interpreters may die concurrently once interpreters have their own GIL.
 */
static pthread_mutex_t codes_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pt_code codes = { .prev = &codes, .next = &codes };
static bool codes_atexit;
static PyObject *name_key; /* "__name__" */
unsigned int pt_code_gen = 1;

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

	__atomic_add_fetch(&pt_code_gen, 1, __ATOMIC_RELAXED);
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

/* After finalization: the runtime is gone, so module_obj cannot be released. A block holding
 * one stays listed (reachable, with the string it holds, instead of leaking it): a few blocks
 * per runtime, for the modules of static code that ran while recording. */
static void codes_fini(void)
{
	struct pt_code *pc, *next;

	pthread_mutex_lock(&codes_lock);
	for (pc = codes.next; pc != &codes; pc = next) {
		next = pc->next;
		if (!pc->module_obj) {
			pc->prev->next = next;
			next->prev = pc->prev;
			PyMem_RawFree(pc);
		}
	}
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
		if (!name) {
			PyErr_Clear(); /* per call: only when there is something to clear */
		}
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

/* A new description of @code named @qualname (a str, or NULL: unknown) in module @mod. */
static struct pt_code *code_build(PyCodeObject *code, PyObject *qualname, PyObject *mod)
{
	PyObject *s[4] = {
		utf8_bytes(code->co_filename),
		utf8_bytes(code->co_name),
		utf8_bytes(qualname ? qualname : code->co_name),
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

/* Puts @pc in @code's extra slot; frees it and returns NULL if that fails. */
static struct pt_code *code_store(PyCodeObject *code, struct pt_code *pc, Py_ssize_t index)
{
	if (pc && pt_code_set_extra((PyObject *)code, index, pc) < 0) {
		Py_XDECREF(pc->module_obj);
		PyMem_RawFree(pc);
		pc = NULL;
	}
	if (pc) {
		codes_add(pc);
	}
	return pc;
}

#if PY_VERSION_HEX < 0x030B0000
/*
 * Qualified names before 3.11, which has co_qualname; the answer is the same, computed once per
 * code object. The compiler leaves every qualified name in the bytecode of the code that creates
 * the function (`LOAD_CONST <code>; LOAD_CONST <qualname>; MAKE_FUNCTION`), and a class body
 * starts with `__qualname__ = <const>`. So when a function's description is built, those of the
 * code objects it creates (closures, comprehensions, local classes) are built too, from its
 * bytecode (prebuild()): exact, whatever the function's own name. Any other code object is named
 * as it first runs (resolve()): a class body by its constant; a function by the function object
 * that runs it (whose __qualname__ the compiler set), found in the module's globals, in the MRO
 * of its first argument (a method's `self` or `cls`), or anywhere in the module's functions and
 * classes (a staticmethod, a decorator's wrapper) -- or by its creator's bytecode, found there
 * too. Else it keeps its co_name. Nothing here calls Python code: dictionaries are read
 * directly, and attributes only of exact builtin types (staticmethod, classmethod, property).
 */

#define PREBUILD_MAX_DEPTH 32

static bool is_str(PyObject *o, const char *s)
{
	return o && PyUnicode_Check(o) && PyUnicode_CompareWithASCIIString(o, s) == 0;
}

static bool is_module_code(PyCodeObject *code)
{
	return !(code->co_flags & CO_NEWLOCALS) && is_str(code->co_name, "<module>");
}

/* A class body: no fast locals of its own (CO_NEWLOCALS) and not a module's code. */
static bool is_class_body(PyCodeObject *code)
{
	return !(code->co_flags & CO_NEWLOCALS) && !is_str(code->co_name, "<module>");
}

/* Calls @fn(@code, i, oparg, @arg) for each instruction (EXTENDED_ARG folded in) until it
 * returns true. */
static void for_each_op(PyCodeObject *code, bool (*fn)(PyCodeObject *, int, int, void *), void *arg)
{
	const _Py_CODEUNIT *w;
	Py_ssize_t n;
	int ext = 0;

	if (!PyBytes_Check(code->co_code)) {
		return;
	}
	w = (const _Py_CODEUNIT *)PyBytes_AS_STRING(code->co_code);
	n = PyBytes_GET_SIZE(code->co_code) / (Py_ssize_t)sizeof(_Py_CODEUNIT);
	for (Py_ssize_t i = 0; i < n; i++) {
		int op = _Py_OPCODE(w[i]);
		int oparg = _Py_OPARG(w[i]) | ext;

		if (op == EXTENDED_ARG) {
			ext = oparg << 8;
			continue;
		}
		ext = 0;
		if (fn(code, op, oparg, arg)) {
			return;
		}
	}
}

static PyObject *const_at(PyCodeObject *code, int i)
{
	PyObject *consts = code->co_consts;

	if (!consts || !PyTuple_Check(consts) || i < 0 || i >= PyTuple_GET_SIZE(consts)) {
		return NULL;
	}
	return PyTuple_GET_ITEM(consts, i);
}

struct class_scan {
	PyObject *last_const; /* the str just loaded, if any */
	PyObject *qualname;   /* result, borrowed from co_consts */
};

static bool class_scan_op(PyCodeObject *code, int op, int oparg, void *arg)
{
	struct class_scan *cs = arg;

	if (op == STORE_NAME && cs->last_const && oparg < PyTuple_GET_SIZE(code->co_names) &&
	    is_str(PyTuple_GET_ITEM(code->co_names, oparg), "__qualname__")) {
		cs->qualname = cs->last_const;
		return true;
	}
	cs->last_const = NULL;
	if (op == LOAD_CONST) {
		PyObject *c = const_at(code, oparg);

		cs->last_const = c && PyUnicode_Check(c) ? c : NULL;
	}
	return false;
}

/* The `__qualname__ = '...'` a class body starts with (borrowed), or NULL. */
static PyObject *class_body_qualname(PyCodeObject *code)
{
	struct class_scan cs = { NULL, NULL };

	if (PyTuple_Check(code->co_names)) {
		for_each_op(code, class_scan_op, &cs);
	}
	return cs.qualname;
}

struct child_scan {
	PyObject *module;
	Py_ssize_t index;
	int depth;
	PyCodeObject *last_code; /* the code object just loaded, if any */
	PyCodeObject *only;	 /* child_qualname(): the one child wanted, */
	PyObject *found;	 /* and its name (borrowed) */
};

/* The name the bytecode gives @child: a class body's own, the function's otherwise. */
static PyObject *named(PyCodeObject *child, PyObject *given)
{
	/* A class body's function is given the bare class name: its own is in its body. */
	PyObject *q = is_class_body(child) ? class_body_qualname(child) : NULL;

	return q ? q : given;
}

static void prebuild(PyCodeObject *code, PyObject *module, Py_ssize_t index, int depth);

static bool child_scan_op(PyCodeObject *code, int op, int oparg, void *arg)
{
	struct child_scan *cs = arg;
	PyCodeObject *child = cs->last_code;
	PyObject *c;

	cs->last_code = NULL;
	if (op != LOAD_CONST || !(c = const_at(code, oparg))) {
		return false;
	}
	if (PyCode_Check(c)) {
		cs->last_code = (PyCodeObject *)c;
	} else if (child && PyUnicode_Check(c)) {
		void *extra = NULL;

		if (cs->only) {
			cs->found = child == cs->only ? named(child, c) : NULL;
			return cs->found != NULL;
		}
		if (pt_code_get_extra((PyObject *)child, cs->index, &extra) == 0 && !extra &&
		    code_store(child, code_build(child, named(child, c), cs->module), cs->index)) {
			prebuild(child, cs->module, cs->index, cs->depth + 1);
		}
		PyErr_Clear();
	}
	return false;
}

/* The qualified name @code's bytecode gives @child (borrowed), or NULL. */
static PyObject *child_qualname(PyCodeObject *code, PyCodeObject *child)
{
	struct child_scan cs = { NULL, -1, 0, NULL, child, NULL };

	for_each_op(code, child_scan_op, &cs);
	return cs.found;
}

/* Whether what a class body creates can be reached from its module without it: the class is
 * not local to a function (its methods are then found in the MRO of their `self`, or by the
 * module walk). */
static bool reachable_class(PyCodeObject *code)
{
	PyObject *q = class_body_qualname(code);

	return q && PyUnicode_Check(q) &&
	       PyUnicode_FindChar(q, '<', 0, PyUnicode_GET_LENGTH(q), 1) < 0;
}

/*
 * Builds the descriptions of the code objects that @code creates, and of theirs, when they could
 * not be named without @code: those of functions (closures, comprehensions, local classes), not
 * those of a module or of a class of the module, which resolve() names right as they run. A
 * module imports many more methods than it runs: descriptions are built for little else than
 * code that runs.
 */
static void prebuild(PyCodeObject *code, PyObject *module, Py_ssize_t index, int depth)
{
	struct child_scan cs = { module, index, depth, NULL, NULL, NULL };

	if (depth > PREBUILD_MAX_DEPTH || is_module_code(code) ||
	    (is_class_body(code) && reachable_class(code))) {
		return;
	}
	for_each_op(code, child_scan_op, &cs);
}

/* The value of the frame's first positional argument (borrowed), or NULL. 3.8-3.10 move an
 * argument that a closure captures into its cell when the frame starts. */
static PyObject *first_arg(PyFrameObject *frame, PyCodeObject *code)
{
	PyObject *v;

	if (!frame || frame->f_code != code || code->co_argcount < 1) {
		return NULL;
	}
	v = frame->f_localsplus[0];
	if (!v && code->co_cell2arg) {
		for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(code->co_cellvars); i++) {
			if (code->co_cell2arg[i] == 0) {
				PyObject *cell = frame->f_localsplus[code->co_nlocals + i];

				v = cell && PyCell_Check(cell) ? PyCell_GET(cell) : NULL;
				break;
			}
		}
	}
	return v;
}

/* A staticmethod or classmethod (exactly: a subclass may run code on attribute access). */
static bool is_method_wrapper(PyObject *v)
{
	return Py_TYPE(v) == &PyStaticMethod_Type || Py_TYPE(v) == &PyClassMethod_Type;
}

/* The functions a property holds. */
static const char *const property_acc[3] = { "fget", "fset", "fdel" };

/* Reads one attribute of an object of an exact builtin type (a member: no code runs). */
static PyObject *builtin_attr(PyObject *o, const char *name)
{
	PyObject *v = PyObject_GetAttrString(o, name);

	if (!v) {
		PyErr_Clear();
		return NULL;
	}
	Py_DECREF(v); /* still held by @o */
	return v;
}

/* @q if it can be @code's qualified name: @code's co_name, or ending with "." and it. A
 * decorator may have given its wrapper the name of the function it wraps (functools.wraps):
 * that is not the name of the wrapper's code. */
static PyObject *names_code(PyObject *q, PyCodeObject *code)
{
	Py_ssize_t qlen, nlen;

	if (!q || !PyUnicode_Check(q) || !PyUnicode_Check(code->co_name)) {
		return NULL;
	}
	qlen = PyUnicode_GET_LENGTH(q);
	nlen = PyUnicode_GET_LENGTH(code->co_name);
	if (qlen < nlen || PyUnicode_Tailmatch(q, code->co_name, 0, qlen, 1) != 1 ||
	    (qlen > nlen && PyUnicode_READ_CHAR(q, qlen - nlen - 1) != '.')) {
		PyErr_Clear();
		return NULL;
	}
	return q;
}

/* `__wrapped__` of a decorator's result (functools.wraps), from its instance dict. */
static PyObject *wrapped_of(PyObject *o)
{
	PyObject **dictp = _PyObject_GetDictPtr(o);
	PyObject *v = NULL;

	if (dictp && *dictp && PyDict_Check(*dictp)) {
		v = PyDict_GetItemString(*dictp, "__wrapped__");
	}
	return v;
}

/* The __qualname__ (borrowed) of the function running @code that @v stands for: the function
 * itself, a staticmethod, classmethod or property holding it, or a decorator's result wrapping
 * it. NULL if @v has nothing to do with @code. */
static PyObject *qualname_in(PyObject *v, PyCodeObject *code)
{
	for (int hops = 0; v && hops < 8; hops++) {
		if (PyFunction_Check(v)) {
			if (PyFunction_GET_CODE(v) == (PyObject *)code) {
				return names_code(((PyFunctionObject *)v)->func_qualname, code);
			}
		} else if (is_method_wrapper(v)) {
			v = builtin_attr(v, "__func__");
			continue;
		} else if (Py_TYPE(v) == &PyProperty_Type) {
			for (int i = 0; i < 3; i++) {
				PyObject *q = qualname_in(builtin_attr(v, property_acc[i]), code);

				if (q) {
					return q;
				}
			}
			return NULL;
		}
		v = wrapped_of(v);
	}
	return NULL;
}

/* Searches the dicts of @type's MRO for the function running @code. */
static PyObject *qualname_in_mro(PyTypeObject *type, PyCodeObject *code)
{
	PyObject *mro = type->tp_mro;

	if (!mro || !PyTuple_Check(mro)) {
		return NULL;
	}
	for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
		PyObject *base = PyTuple_GET_ITEM(mro, i), *dict, *k, *v, *q;
		Py_ssize_t pos = 0;

		if (!PyType_Check(base) || !(dict = ((PyTypeObject *)base)->tp_dict)) {
			continue;
		}
		while (PyDict_Next(dict, &pos, &k, &v)) {
			if ((q = qualname_in(v, code))) {
				return q;
			}
		}
	}
	return NULL;
}

/*
 * The module walk: the functions of @globals' module, the classes it defines (their methods,
 * nested classes) and the code objects these functions create, searched for @target. Bounded by
 * WALK_BUDGET objects visited.
 */
#define WALK_BUDGET 20000
#define WALK_MAX_DEPTH 8

struct walk {
	PyCodeObject *target;
	PyObject *globals;
	PyObject *module;     /* the module's __name__ */
	int budget;
	PyObject *qualname;   /* found: a function running @target, named so (borrowed) */
	PyCodeObject *parent; /* found: the code object that creates @target (borrowed) */
};

/* Whether the search is over (found, or out of budget). */
static bool walk_code(struct walk *w, PyCodeObject *code)
{
	PyObject *consts = code->co_consts;

	if (!consts || !PyTuple_Check(consts)) {
		return false;
	}
	for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); i++) {
		PyObject *c = PyTuple_GET_ITEM(consts, i);

		if (!PyCode_Check(c)) {
			continue;
		}
		if (--w->budget < 0) {
			return true;
		}
		if (c == (PyObject *)w->target) {
			w->parent = code;
			return true;
		}
		if (walk_code(w, (PyCodeObject *)c)) {
			return true;
		}
	}
	return false;
}

static bool walk_value(struct walk *w, PyObject *v, int depth);

/* A class of the module: its dict. */
static bool walk_type(struct walk *w, PyTypeObject *type, int depth)
{
	PyObject *dict = type->tp_dict, *mod, *k, *v;
	Py_ssize_t pos = 0;

	if (depth > WALK_MAX_DEPTH || !dict || !PyDict_Check(dict) || !w->module) {
		return false;
	}
	mod = PyDict_GetItemString(dict, "__module__");
	if (!mod || !PyUnicode_CheckExact(mod) || PyUnicode_Compare(mod, w->module) != 0) {
		PyErr_Clear();
		return false;
	}
	while (PyDict_Next(dict, &pos, &k, &v)) {
		if (walk_value(w, v, depth + 1)) {
			return true;
		}
	}
	return false;
}

static bool walk_value(struct walk *w, PyObject *v, int depth)
{
	for (int hops = 0; v && hops < 8; hops++) {
		if (--w->budget < 0) {
			return true;
		}
		if (PyFunction_Check(v)) {
			PyFunctionObject *f = (PyFunctionObject *)v;

			/* Another module's function (a decorator's wrapper) may wrap ours. */
			if (f->func_globals == w->globals) {
				if (f->func_code == (PyObject *)w->target &&
				    (w->qualname = names_code(f->func_qualname, w->target))) {
					return true;
				}
				if (PyCode_Check(f->func_code) &&
				    walk_code(w, (PyCodeObject *)f->func_code)) {
					return true;
				}
			}
		} else if (is_method_wrapper(v)) {
			v = builtin_attr(v, "__func__");
			continue;
		} else if (Py_TYPE(v) == &PyProperty_Type) {
			for (int i = 0; i < 3; i++) {
				if (walk_value(w, builtin_attr(v, property_acc[i]), depth)) {
					return true;
				}
			}
			return false;
		} else if (PyType_Check(v)) {
			return walk_type(w, (PyTypeObject *)v, depth);
		} else if (PyModule_Check(v)) {
			return false;
		}
		v = wrapped_of(v);
	}
	return false;
}

/* Whether @code's own consts hold @target. */
static bool creates(PyCodeObject *code, PyCodeObject *target)
{
	PyObject *consts = code->co_consts;

	if (consts && PyTuple_Check(consts)) {
		for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); i++) {
			if (PyTuple_GET_ITEM(consts, i) == (PyObject *)target) {
				return true;
			}
		}
	}
	return false;
}

/*
 * The qualified name of a code object met without its creator having been seen (borrowed;
 * NULL: its co_name). Or none, but then the creator's code was found and the descriptions of
 * what it creates were built (prebuild()), this one included.
 */
static PyObject *resolve(PyCodeObject *code, PyObject *globals, PyFrameObject *frame,
			 PyObject *mod, Py_ssize_t index)
{
	struct walk w = { code, globals, mod, WALK_BUDGET, NULL, NULL };
	PyObject *q = NULL, *self, *k, *v;
	Py_ssize_t pos = 0;

	if (is_class_body(code)) {
		return class_body_qualname(code);
	}
	if (is_module_code(code) || !globals || !PyDict_Check(globals)) {
		return NULL;
	}
	/* A function of the module. */
	q = qualname_in(PyDict_GetItemWithError(globals, code->co_name), code);
	PyErr_Clear();
	if (q) {
		return q;
	}
	/* Created by its caller: a comprehension, a generator expression, a local function. A
	 * module's code objects are named by their name. */
	if (frame && frame->f_code == code && frame->f_back &&
	    creates(frame->f_back->f_code, code)) {
		PyCodeObject *parent = frame->f_back->f_code;

		if (is_class_body(parent)) {
			return child_qualname(parent, code);
		}
		if (!is_module_code(parent)) {
			prebuild(parent, mod, index, 0);
		}
		return NULL;
	}
	/* A method (self), a classmethod or a metaclass method (cls). */
	self = first_arg(frame, code);
	if (self) {
		q = qualname_in_mro(Py_TYPE(self), code);
		if (!q && PyType_Check(self)) {
			q = qualname_in_mro((PyTypeObject *)self, code);
		}
		if (q) {
			return q;
		}
	}
	/* Anywhere in the module: a staticmethod, a decorator's wrapper, a closure. */
	while (PyDict_Next(globals, &pos, &k, &v)) {
		if (walk_value(&w, v, 0)) {
			break;
		}
	}
	if (w.parent) {
		prebuild(w.parent, mod, index, 0);
	}
	return w.qualname;
}

static struct pt_code *code_new(PyCodeObject *code, PyObject *globals, PyFrameObject *frame,
				Py_ssize_t index)
{
	PyObject *mod = pt_globals_module(globals);
	PyObject *q = resolve(code, globals, frame, mod, index);
	struct pt_code *pc;
	void *extra = NULL;

	/* Built by resolve(), with the code object that creates it. */
	if (pt_code_get_extra((PyObject *)code, index, &extra) == 0 && extra) {
		return extra;
	}
	PyErr_Clear();
	pc = code_store(code, code_build(code, q, mod), index);
	if (pc) {
		prebuild(code, mod, index, 0);
	}
	return pc;
}
#else
static struct pt_code *code_new(PyCodeObject *code, PyObject *globals, PyFrameObject *frame,
				Py_ssize_t index)
{
	(void)frame;
	return code_store(code, code_build(code, code->co_qualname, pt_globals_module(globals)),
			  index);
}
#endif

const struct pt_code *pt_code_get(PyCodeObject *code, PyObject *globals, PyFrameObject *frame,
				  Py_ssize_t index)
{
	struct pt_exc exc;
	void *extra = NULL;
	struct pt_code *pc;

	if (pt_code_get_extra((PyObject *)code, index, &extra) == 0 && extra) {
		return extra;
	}
	exc = pt_exc_save();
	pc = code_new(code, globals, frame, index);
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
	if (Py_TYPE(func) == &PyMethodDescr_Type) {
		/* a method of a C type called through its descriptor (sys.monitoring): "list.append" */
		type_name(((PyDescrObject *)func)->d_type, buf, size, &off);
		append_str(buf, size, &off, ".");
		append_str(buf, size, &off, ((PyMethodDescrObject *)func)->d_method->ml_name);
		return;
	}
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
