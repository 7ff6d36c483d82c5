/* SPDX-License-Identifier: MIT */
/*
 * Python `logging` forwarded to LTTng as the official agent (`lttngust`) does: each record that
 * reaches the root logger's handlers becomes one `lttng_python:event`, with the agent's fields
 * and formatting, written by py_tracepoint() of liblttng-ust-python-agent.so.1 (dlopen()ed once,
 * on first use). That library owns the `lttng_python` provider: libpytrace never registers a
 * second one, so `lttng enable-event --python` rules (turned by lttng into `lttng_python:*` with
 * a filter on logger_name and int_loglevel) apply to our records exactly as to the agent's.
 *
 * The records are formatted by `_libpytrace.LTTngHandler`, a subclass of logging.Handler created
 * per interpreter (PyType_FromSpecWithBases) whose handle() and emit() are C. It is on no logger:
 * while some session enables `lttng_python:event` in this process, logging.Logger's methods are
 * wrapped (logging-hooks.c) so that the records the agent's handler on the root logger would get
 * reach it, while the program sees its root logger untouched. The watcher (watch.c) wraps and
 * unwraps them, so a program costs nothing more while nobody records.
 *
 * emit() formats without running Python code in the common case: the handler's formatter is
 * the stock logging.Formatter('%(asctime)s') and the record a stock logging.LogRecord (both
 * classes checked through their type version tag, re-validated when a class attribute changes).
 * Anything else goes through self.format(record) and record.getMessage(), as the agent does.
 *
 * GIL: every function that touches Python objects runs with the GIL of the interpreter
 * concerned. The agent library's state is set once (pthread_once); pt_logging_wanted() reads a
 * tracepoint without any lock.
 */
#include "logging.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <pytrace/pytrace.h>

#include "tp/lttng-python-site.h"

/*
 * The agent-registration side (`lttng list --python`) is written separately in agent.c. When
 * it is there, forwarding on starts it and forwarding off forgets it.
 */
#include "agent.h"

#define AGENT_LIB "liblttng-ust-python-agent.so.1"
#define MODULE_NAME "_libpytrace"
#define STATE_ATTR "_libpytrace_state"
#define ASCTIME_FMT "%(asctime)s"

/* ---- the agent library ---- */

typedef void (*py_tracepoint_fn)(const char *asctime, const char *msg, const char *logger_name,
				 const char *func_name, unsigned int lineno,
				 unsigned int int_loglevel, unsigned int thread,
				 const char *thread_name);

static pthread_once_t agent_once = PTHREAD_ONCE_INIT;
static py_tracepoint_fn agent_tracepoint; /* NULL: not loaded */
/* Our own site of lttng_python:event (tp/lttng-python-site.h): connected to the agent
 * library's probes, it says whether and by whom the event is enabled. */
#define agent_tp (&lttng_ust_tracepoint_lttng_python___event)
static char agent_error[256];

static void agent_load(void)
{
	py_tracepoint_fn fn;
	void *h;

	/* NODELETE: the provider must outlive every event, and ctypes (lttngust) may load it too:
	 * both get the same copy, hence one `lttng_python` provider. */
	h = dlopen(AGENT_LIB, RTLD_NOW | RTLD_NODELETE);
	if (!h) {
		snprintf(agent_error, sizeof(agent_error), "%s", dlerror());
		return;
	}
	fn = (py_tracepoint_fn)dlsym(h, "py_tracepoint");
	if (!fn) {
		snprintf(agent_error, sizeof(agent_error), "%s has no py_tracepoint()", AGENT_LIB);
		return;
	}
	__atomic_store_n(&agent_tracepoint, fn, __ATOMIC_RELEASE);
}

static bool agent_ok(void)
{
	pthread_once(&agent_once, agent_load);
	return agent_tracepoint != NULL;
}

bool pt_logging_wanted(void)
{
	if (!__atomic_load_n(&agent_tracepoint, __ATOMIC_ACQUIRE)) {
		return false;
	}
	return pt_session_tp_recording(agent_tp);
}

/* Per record: does any session enable the event at all (one load)? */
bool pt_logging_tp_enabled(void)
{
	if (!__atomic_load_n(&agent_tracepoint, __ATOMIC_ACQUIRE)) {
		return false;
	}
	return lttng_ust_tracepoint_enabled(lttng_python, event);
}

int pt_logging_agent(void)
{
	static bool logged;

	if (agent_ok()) {
		return 0;
	}
	if (!__atomic_exchange_n(&logged, true, __ATOMIC_RELAXED)) {
		pt_warn("cannot load %s: %s", AGENT_LIB, agent_error);
	}
	return -ENOENT;
}

void pt_logging_record(const char *msg, const char *logger, const char *func,
		       unsigned int level, const char *thread_name)
{
	char asctime[64], day[48], tname[16];
	struct timespec now;
	struct tm tm;

	if (!pt_logging_tp_enabled()) {
		return;
	}
	/* logging.Formatter's default asctime: local time, then ",mmm". */
	clock_gettime(CLOCK_REALTIME, &now);
	if (!localtime_r(&now.tv_sec, &tm) || !strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S",
							  &tm)) {
		day[0] = '\0';
	}
	snprintf(asctime, sizeof(asctime), "%s,%03ld", day, now.tv_nsec / 1000000);
	if (!thread_name) {
		thread_name = pthread_getname_np(pthread_self(), tname, sizeof(tname)) ? "" : tname;
	}
	/* The `thread` of a logging record: threading.get_ident(), pthread_self() on Linux. */
	agent_tracepoint(asctime, msg, logger, func, 0, level,
			 (unsigned int)(unsigned long)pthread_self(), thread_name);
}

/* ---- the handler type's state (one per interpreter) ---- */

enum {
	S_FORMATTER,
	S_DICT,
	S_FMT_KEY,
	S_DATEFMT,
	S_MSG,
	S_ARGS,
	S_CREATED,
	S_MSECS,
	S_EXC_INFO,
	S_EXC_TEXT,
	S_STACK_INFO,
	S_NAME,
	S_FUNCNAME,
	S_LINENO,
	S_LEVELNO,
	S_THREAD,
	S_THREADNAME,
	S_FILTERS,
	S_FILTER,
	S_FORMAT,
	S_GETMESSAGE,
	S_FORMATEXCEPTION,
	S_FORMATSTACK,
	S_HANDLEERROR,
	S_HANDLERS,
	S_LTTNGUST,
	S_NLINE,
	S_COUNT,
};

static const char *const str_names[S_COUNT] = {
	"formatter", "__dict__", "_fmt", "datefmt", "msg", "args", "created", "msecs", "exc_info",
	"exc_text", "stack_info", "name", "funcName", "lineno", "levelno", "thread", "threadName",
	"filters", "filter", "format", "getMessage", "formatException", "formatStack",
	"handleError", "handlers", "lttngust.loghandler", "\n",
};

struct logtype {
	PyTypeObject *type;	/* the handler type (borrowed: it owns this state) */
	PyObject *base_init;	/* logging.Handler.__init__ */
	PyObject *base_handle;	/* logging.Handler.handle */
	PyTypeObject *formatter; /* logging.Formatter */
	PyTypeObject *record;	/* logging.LogRecord */
	PyObject *root;		/* logging.root */
	PyObject *localtime;	/* time.localtime */
	PyObject *fmt;		/* "%(asctime)s", the format of the handler's formatter */
	Py_ssize_t fmt_dict_size; /* attributes of a fresh Formatter */
	PyObject *lttngust_type; /* lttngust.loghandler._Handler, once imported */
	PyObject *str[S_COUNT];
	/* Class checks, valid while the class's version tag is unchanged. */
	unsigned int formatter_tag, record_tag;
	bool formatter_stock, record_stock;
	/* asctime of the last second formatted, with the time zone it was formatted in */
	long long sec;
	long tz;
	int daylight;
	const char *tzname0;
	char asctime[64];
	size_t asctime_len;
};

/* Bumped when a struct logtype is freed: the per-thread cache of logtype_of() is then stale. */
static unsigned int logtype_gen;

static void logtype_free(struct logtype *lt)
{
	__atomic_add_fetch(&logtype_gen, 1, __ATOMIC_RELEASE);
	Py_XDECREF(lt->base_init);
	Py_XDECREF(lt->base_handle);
	Py_XDECREF(lt->formatter);
	Py_XDECREF(lt->record);
	Py_XDECREF(lt->root);
	Py_XDECREF(lt->localtime);
	Py_XDECREF(lt->fmt);
	Py_XDECREF(lt->lttngust_type);
	for (size_t i = 0; i < S_COUNT; i++) {
		Py_XDECREF(lt->str[i]);
	}
	PyMem_RawFree(lt);
}

static void state_capsule_free(PyObject *capsule)
{
	struct logtype *lt = PyCapsule_GetPointer(capsule, STATE_ATTR);

	if (lt) {
		logtype_free(lt);
	}
	PyErr_Clear();
}

/* The state of @type (our handler type or a subclass): NULL with an exception if none. The
 * lookup of the type's attribute cost more than the rest of a record's formatting: the last
 * answer is kept per thread, keyed by the type, its interpreter (one state per interpreter) and
 * logtype_gen. */
static struct logtype *logtype_of(PyTypeObject *type)
{
	static __thread struct {
		PyTypeObject *type;
		PyInterpreterState *interp;
		unsigned int gen;
		struct logtype *lt;
	} last;
	unsigned int gen = __atomic_load_n(&logtype_gen, __ATOMIC_ACQUIRE);
	PyInterpreterState *interp = PyInterpreterState_Get();
	PyObject *cap;
	struct logtype *lt;

	if (last.lt && last.type == type && last.interp == interp && last.gen == gen) {
		return last.lt;
	}
	cap = PyObject_GetAttrString((PyObject *)type, STATE_ATTR);
	if (!cap) {
		return NULL;
	}
	lt = PyCapsule_GetPointer(cap, STATE_ATTR);
	Py_DECREF(cap);
	if (lt) {
		last.type = type;
		last.interp = interp;
		last.gen = gen;
		last.lt = lt;
	}
	return lt;
}

/* Whether @type's attributes are unchanged since its tag was stored in @tag. */
static inline bool type_unchanged(PyTypeObject *type, unsigned int tag)
{
#if PY_VERSION_HEX >= 0x030C0000
	return type->tp_version_tag != 0 && type->tp_version_tag == tag;
#else
	return PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG) && type->tp_version_tag == tag;
#endif
}

bool pt_logging_stock_function(PyObject *f, const char *qualname)
{
	PyObject *q = NULL, *m = NULL;
	bool ok = false;

	if (f && PyFunction_Check(f)) {
		q = PyObject_GetAttrString(f, "__qualname__");
		m = PyObject_GetAttrString(f, "__module__");
		ok = q && m && PyUnicode_Check(q) && PyUnicode_Check(m) &&
		     !PyUnicode_CompareWithASCIIString(q, qualname) &&
		     !PyUnicode_CompareWithASCIIString(m, "logging");
	}
	Py_XDECREF(q);
	Py_XDECREF(m);
	PyErr_Clear();
	return ok;
}

/* Whether @cls.@name is logging's own function @qualname. */
static bool stock_function(PyObject *cls, const char *name, const char *qualname)
{
	PyObject *f = PyObject_GetAttrString(cls, name);
	bool ok = pt_logging_stock_function(f, qualname);

	Py_XDECREF(f);
	PyErr_Clear();
	return ok;
}

static bool class_str_is(PyObject *cls, const char *name, const char *value)
{
	PyObject *v = PyObject_GetAttrString(cls, name);
	bool ok = v && PyUnicode_Check(v) && !PyUnicode_CompareWithASCIIString(v, value);

	Py_XDECREF(v);
	PyErr_Clear();
	return ok;
}

/* logging.Formatter still formats asctime as emit()'s C path does. */
static bool formatter_stock(struct logtype *lt)
{
	PyObject *cls = (PyObject *)lt->formatter, *conv;
	bool ok;

	if (type_unchanged(lt->formatter, lt->formatter_tag)) {
		return lt->formatter_stock;
	}
	conv = PyObject_GetAttrString(cls, "converter");
	ok = conv == lt->localtime && stock_function(cls, "format", "Formatter.format") &&
	     stock_function(cls, "formatTime", "Formatter.formatTime") &&
	     stock_function(cls, "formatMessage", "Formatter.formatMessage") &&
	     stock_function(cls, "usesTime", "Formatter.usesTime") &&
	     class_str_is(cls, "default_time_format", "%Y-%m-%d %H:%M:%S") &&
	     class_str_is(cls, "default_msec_format", "%s,%03d");
	Py_XDECREF(conv);
	PyErr_Clear();
	/* The lookups above gave the class a valid tag again. */
	lt->formatter_tag = lt->formatter->tp_version_tag;
	lt->formatter_stock = ok;
	return ok;
}

static bool record_stock(struct logtype *lt)
{
	if (type_unchanged(lt->record, lt->record_tag)) {
		return lt->record_stock;
	}
	lt->record_stock = stock_function((PyObject *)lt->record, "getMessage",
					  "LogRecord.getMessage");
	lt->record_tag = lt->record->tp_version_tag;
	return lt->record_stock;
}

/* ---- emit ---- */

/* UTF-8 of a field: str(obj) as `%(field)s` formats it; text that UTF-8 cannot hold (lone
 * surrogates) is escaped (backslashreplace), as on sys.stderr. @keep holds what must stay alive
 * while the result is used. NULL with an exception if str() fails. */
static const char *field_utf8(PyObject *obj, PyObject **keep)
{
	PyObject *s = PyUnicode_Check(obj) ? Py_NewRef(obj) : PyObject_Str(obj);
	const char *u;

	*keep = s;
	if (!s) {
		return NULL;
	}
	if (!PyUnicode_Check(s)) {
		PyErr_SetString(PyExc_TypeError, "__str__ returned non-string");
		return NULL;
	}
	u = PyUnicode_AsUTF8(s);
	if (u) {
		return u;
	}
	if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
		return NULL;
	}
	PyErr_Clear();
	*keep = PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace");
	Py_DECREF(s);
	return *keep ? PyBytes_AS_STRING(*keep) : NULL;
}

/* An unsigned int field: C int conversion as ctypes does (low 32 bits); 0 if not an int. */
static unsigned int field_uint(PyObject *obj)
{
	unsigned long v;

	if (!PyLong_Check(obj)) {
		return 0;
	}
	v = PyLong_AsUnsignedLongMask(obj);
	if (v == (unsigned long)-1 && PyErr_Occurred()) {
		PyErr_Clear();
		return 0;
	}
	return (unsigned int)v;
}

/*
 * asctime as logging.Formatter.formatTime(record) writes it with the stock class:
 * time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(record.created)) + ',%03d' % record.msecs.
 * Returns false (no exception) where Python might behave differently (a value that is not a
 * finite number, a time localtime_r() cannot convert): the caller then asks Python.
 */
static bool asctime_fast(struct logtype *lt, PyObject *record, char *buf, size_t size)
{
	PyObject *created = PyObject_GetAttr(record, lt->str[S_CREATED]);
	PyObject *msecs = PyObject_GetAttr(record, lt->str[S_MSECS]);
	double c, m;
	struct tm tm;
	long long ms;
	time_t t;
	int n;

	c = created && PyFloat_CheckExact(created) ? PyFloat_AS_DOUBLE(created) : NAN;
	m = msecs && PyFloat_CheckExact(msecs) ? PyFloat_AS_DOUBLE(msecs) : NAN;
	Py_XDECREF(created);
	Py_XDECREF(msecs);
	PyErr_Clear();
	if (!isfinite(c) || !isfinite(m) || fabs(c) > 1e15 || fabs(m) > 1e15) {
		return false;
	}
	t = (time_t)floor(c); /* time.localtime() rounds a float down */
	if (t != lt->sec || timezone != lt->tz || daylight != lt->daylight ||
	    tzname[0] != lt->tzname0 || !lt->asctime_len) {
		if (!localtime_r(&t, &tm)) {
			return false;
		}
		lt->asctime_len = strftime(lt->asctime, sizeof(lt->asctime), "%Y-%m-%d %H:%M:%S",
					   &tm);
		if (!lt->asctime_len) {
			return false;
		}
		/* tzset() (time.tzset()) changes these: a new zone is a new cache key. */
		lt->sec = t;
		lt->tz = timezone;
		lt->daylight = daylight;
		lt->tzname0 = tzname[0];
	}
	/* ',%03d' % msecs: truncated toward zero; msecs is in [0, 1000) for the stock record. */
	ms = (long long)m;
	if (ms < 0 || ms > 999 || lt->asctime_len + 5 > size) {
		n = snprintf(buf, size, "%s,%03lld", lt->asctime, ms);
		return n > 0 && (size_t)n < size;
	}
	memcpy(buf, lt->asctime, lt->asctime_len);
	buf += lt->asctime_len;
	buf[0] = ',';
	buf[1] = (char)('0' + ms / 100);
	buf[2] = (char)('0' + ms / 10 % 10);
	buf[3] = (char)('0' + ms % 10);
	buf[4] = '\0';
	return true;
}

/* Appends "\n" (unless @s already ends with one) and @extra to @s, as Formatter.format() does.
 * Steals @s; NULL with an exception on error. */
static PyObject *append_block(struct logtype *lt, PyObject *s, PyObject *extra)
{
	Py_ssize_t len = PyUnicode_GET_LENGTH(s);
	PyObject *t;

	if (len == 0 || PyUnicode_READ_CHAR(s, len - 1) != '\n') {
		t = PyUnicode_Concat(s, lt->str[S_NLINE]);
		Py_DECREF(s);
		if (!t) {
			return NULL;
		}
		s = t;
	}
	t = PyUnicode_Concat(s, extra);
	Py_DECREF(s);
	return t;
}

/* The `asctime` field: what the agent's self.format(record) gives. New reference or NULL. */
static PyObject *format_asctime(struct logtype *lt, PyObject *self, PyObject *record)
{
	PyObject *fmt = NULL, *dict = NULL, *s = NULL, *exc_info = NULL, *exc_text = NULL;
	PyObject *stack = NULL, *v;
	char buf[96];
	bool fast;
	int truth;

	fmt = PyObject_GetAttr(self, lt->str[S_FORMATTER]);
	if (!fmt) {
		return NULL;
	}
	fast = Py_TYPE(fmt) == lt->formatter && formatter_stock(lt);
	if (fast) {
		/* A Formatter('%(asctime)s') with no datefmt and no attribute of its own. */
		dict = PyObject_GenericGetDict(fmt, NULL);
		fast = dict && PyDict_Check(dict) && PyDict_GET_SIZE(dict) == lt->fmt_dict_size &&
		       (v = PyDict_GetItemWithError(dict, lt->str[S_FMT_KEY])) &&
		       (v == lt->fmt || (PyUnicode_Check(v) &&
					 PyUnicode_Compare(v, lt->fmt) == 0)) &&
		       PyDict_GetItemWithError(dict, lt->str[S_DATEFMT]) == Py_None;
		Py_XDECREF(dict);
		PyErr_Clear();
	}
	if (!fast || !asctime_fast(lt, record, buf, sizeof(buf))) {
		Py_DECREF(fmt);
		return PyObject_CallMethodObjArgs(self, lt->str[S_FORMAT], record, NULL);
	}
	s = PyUnicode_FromString(buf);
	if (!s) {
		goto out;
	}
	/* Formatter.format(): the traceback (cached in record.exc_text), then the stack. */
	exc_info = PyObject_GetAttr(record, lt->str[S_EXC_INFO]);
	if (!exc_info || (truth = PyObject_IsTrue(exc_info)) < 0) {
		goto fail;
	}
	exc_text = PyObject_GetAttr(record, lt->str[S_EXC_TEXT]);
	if (!exc_text) {
		goto fail;
	}
	if (truth && (truth = PyObject_IsTrue(exc_text)) <= 0) {
		if (truth < 0) {
			goto fail;
		}
		Py_DECREF(exc_text);
		exc_text = PyObject_CallMethodObjArgs(fmt, lt->str[S_FORMATEXCEPTION], exc_info,
						      NULL);
		if (!exc_text || PyObject_SetAttr(record, lt->str[S_EXC_TEXT], exc_text) < 0) {
			goto fail;
		}
	}
	if ((truth = PyObject_IsTrue(exc_text)) < 0) {
		goto fail;
	}
	if (truth && !(s = append_block(lt, s, exc_text))) {
		goto out;
	}
	stack = PyObject_GetAttr(record, lt->str[S_STACK_INFO]);
	if (!stack || (truth = PyObject_IsTrue(stack)) < 0) {
		goto fail;
	}
	if (truth) {
		v = PyObject_CallMethodObjArgs(fmt, lt->str[S_FORMATSTACK], stack, NULL);
		if (!v) {
			goto fail;
		}
		s = append_block(lt, s, v);
		Py_DECREF(v);
	}
	goto out;
fail:
	Py_CLEAR(s);
out:
	Py_DECREF(fmt);
	Py_XDECREF(exc_info);
	Py_XDECREF(exc_text);
	Py_XDECREF(stack);
	return s;
}

/* The `msg` field: record.getMessage(), i.e. str(record.msg) % record.args if args. */
static PyObject *format_msg(struct logtype *lt, PyObject *record)
{
	PyObject *msg, *args, *s, *res;
	int truth;

	if (Py_TYPE(record) != lt->record || !record_stock(lt)) {
		return PyObject_CallMethodObjArgs(record, lt->str[S_GETMESSAGE], NULL);
	}
	msg = PyObject_GetAttr(record, lt->str[S_MSG]);
	if (!msg) {
		return NULL;
	}
	s = PyObject_Str(msg);
	Py_DECREF(msg);
	if (!s) {
		return NULL;
	}
	args = PyObject_GetAttr(record, lt->str[S_ARGS]);
	if (!args || (truth = PyObject_IsTrue(args)) < 0) {
		Py_XDECREF(args);
		Py_DECREF(s);
		return NULL;
	}
	if (!truth) {
		Py_DECREF(args);
		return s;
	}
	res = PyNumber_Remainder(s, args);
	Py_DECREF(s);
	Py_DECREF(args);
	return res;
}

/* Whether the official agent's handler is on the root logger: it records, we stand down. */
static bool official_present(struct logtype *lt)
{
	PyObject *handlers;
	bool found = false;

	if (!lt->lttngust_type) {
		PyObject *mod = PyImport_GetModule(lt->str[S_LTTNGUST]);

		if (mod) {
			lt->lttngust_type = PyObject_GetAttrString(mod, "_Handler");
			Py_DECREF(mod);
		}
		PyErr_Clear();
		if (!lt->lttngust_type || !PyType_Check(lt->lttngust_type)) {
			Py_CLEAR(lt->lttngust_type);
			return false;
		}
	}
	handlers = PyObject_GetAttr(lt->root, lt->str[S_HANDLERS]);
	if (handlers && PyList_Check(handlers)) {
		for (Py_ssize_t i = 0; i < PyList_GET_SIZE(handlers) && !found; i++) {
			found = PyObject_TypeCheck(PyList_GET_ITEM(handlers, i),
						   (PyTypeObject *)lt->lttngust_type);
		}
	}
	Py_XDECREF(handlers);
	PyErr_Clear();
	return found;
}

/*
 * Reports the pending exception of emit() as Python's handlers do: self.handleError(record)
 * with the exception as sys.exc_info(). Never raises: returns 0. KeyboardInterrupt, SystemExit
 * and RecursionError (which Python's handlers re-raise) stay pending: returns -1.
 */
static int handle_error(struct logtype *lt, PyObject *self, PyObject *record)
{
	PyFrameObject *frame = PyEval_GetFrame();
	PyObject *res;

	if (!PyErr_ExceptionMatches(PyExc_Exception) ||
	    PyErr_ExceptionMatches(PyExc_RecursionError)) {
		return -1;
	}
#if PY_VERSION_HEX >= 0x030C0000
	PyObject *exc, *old;

	/* handleError() walks the stack up from the traceback's first frame until it leaves
	 * logging: start the traceback with the caller's frame (logging's callHandlers), as an
	 * exception raised in Python's own emit() starts with emit(). */
	if (frame) {
		PyTraceBack_Here(frame);
	}
	exc = PyErr_GetRaisedException();
	old = PyErr_GetHandledException();
	PyErr_SetHandledException(exc);
	res = PyObject_CallMethodObjArgs(self, lt->str[S_HANDLEERROR], record, NULL);
	if (!res) {
		PyErr_WriteUnraisable(self);
	}
	Py_XDECREF(res);
	PyErr_SetHandledException(old);
	Py_XDECREF(old);
	Py_DECREF(exc);
#else
	PyObject *type, *value, *tb, *otype, *ovalue, *otb;

	/* See above. */
	if (frame) {
		PyTraceBack_Here(frame);
	}
	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	if (tb && value) {
		PyException_SetTraceback(value, tb);
	}
	PyErr_GetExcInfo(&otype, &ovalue, &otb);
	PyErr_SetExcInfo(type, value, tb);
	res = PyObject_CallMethodObjArgs(self, lt->str[S_HANDLEERROR], record, NULL);
	if (!res) {
		PyErr_WriteUnraisable(self);
	}
	Py_XDECREF(res);
	PyErr_SetExcInfo(otype, ovalue, otb);
#endif
	return 0;
}

/* emit() proper: 0, or -1 with an exception that must propagate (see handle_error()). With
 * @quiet, an error is not reported (a record that exists for LTTng only). */
static int emit_as(struct logtype *lt, PyObject *self, PyObject *record, bool quiet)
{
	PyObject *asctime = NULL, *msg = NULL, *name = NULL, *func = NULL, *tname = NULL;
	PyObject *lineno = NULL, *level = NULL, *thread = NULL;
	PyObject *k_asc = NULL, *k_msg = NULL, *k_name = NULL, *k_func = NULL, *k_tname = NULL;
	const char *u_asc, *u_msg, *u_name, *u_func, *u_tname;
	int ret = 0;

	if (!pt_logging_tp_enabled() || official_present(lt)) {
		return 0;
	}
	if (!(asctime = format_asctime(lt, self, record)) || !(msg = format_msg(lt, record)) ||
	    !(name = PyObject_GetAttr(record, lt->str[S_NAME])) ||
	    !(func = PyObject_GetAttr(record, lt->str[S_FUNCNAME])) ||
	    !(lineno = PyObject_GetAttr(record, lt->str[S_LINENO])) ||
	    !(level = PyObject_GetAttr(record, lt->str[S_LEVELNO])) ||
	    !(thread = PyObject_GetAttr(record, lt->str[S_THREAD])) ||
	    !(tname = PyObject_GetAttr(record, lt->str[S_THREADNAME])) ||
	    !(u_asc = field_utf8(asctime, &k_asc)) || !(u_msg = field_utf8(msg, &k_msg)) ||
	    !(u_name = field_utf8(name, &k_name)) || !(u_func = field_utf8(func, &k_func)) ||
	    !(u_tname = field_utf8(tname, &k_tname))) {
		if (!quiet) {
			ret = handle_error(lt, self, record);
		} else if (PyErr_ExceptionMatches(PyExc_Exception) &&
			   !PyErr_ExceptionMatches(PyExc_RecursionError)) {
			PyErr_Clear();
		} else {
			ret = -1;
		}
		goto out;
	}
	agent_tracepoint(u_asc, u_msg, u_name, u_func, field_uint(lineno), field_uint(level),
			 field_uint(thread), u_tname);
out:
	Py_XDECREF(asctime);
	Py_XDECREF(msg);
	Py_XDECREF(name);
	Py_XDECREF(func);
	Py_XDECREF(lineno);
	Py_XDECREF(level);
	Py_XDECREF(thread);
	Py_XDECREF(tname);
	Py_XDECREF(k_asc);
	Py_XDECREF(k_msg);
	Py_XDECREF(k_name);
	Py_XDECREF(k_func);
	Py_XDECREF(k_tname);
	return ret;
}

static int emit(struct logtype *lt, PyObject *self, PyObject *record)
{
	return emit_as(lt, self, record, false);
}

int pt_logging_emit(PyObject *handler, PyObject *record, bool quiet)
{
	struct logtype *lt = logtype_of(Py_TYPE(handler));

	if (!lt) {
		PyErr_Clear();
		return 0;
	}
	return emit_as(lt, handler, record, quiet);
}

static PyObject *handler_emit(PyObject *self, PyObject *record)
{
	struct logtype *lt = logtype_of(Py_TYPE(self));

	if (!lt || emit(lt, self, record) < 0) {
		return NULL;
	}
	Py_RETURN_NONE;
}

/*
 * handle(): logging.Handler.handle() without its lock (emit() keeps no state of its own and
 * runs with the GIL) and without a Python frame. A subclass gets the base class's handle(),
 * so that its own emit() runs as it expects.
 */
static PyObject *handler_handle(PyObject *self, PyObject *record)
{
	struct logtype *lt = logtype_of(Py_TYPE(self));
	PyObject *filters, *rv;
	int truth;

	if (!lt) {
		return NULL;
	}
	if (Py_TYPE(self) != lt->type) {
		return PyObject_CallFunctionObjArgs(lt->base_handle, self, record, NULL);
	}
	filters = PyObject_GetAttr(self, lt->str[S_FILTERS]);
	if (!filters) {
		return NULL;
	}
	if (PyList_CheckExact(filters) && PyList_GET_SIZE(filters) == 0) {
		/* What Filterer.filter() returns with no filter: True, the record from 3.12. */
#if PY_VERSION_HEX >= 0x030C0000
		rv = Py_NewRef(record);
#else
		rv = Py_NewRef(Py_True);
#endif
	} else {
		rv = PyObject_CallMethodObjArgs(self, lt->str[S_FILTER], record, NULL);
	}
	Py_DECREF(filters);
	if (!rv || (truth = PyObject_IsTrue(rv)) < 0) {
		Py_XDECREF(rv);
		return NULL;
	}
	if (truth) {
		/* 3.12+: a filter may hand back another record to emit. */
		PyObject *rec = PY_VERSION_HEX >= 0x030C0000 &&
						PyObject_TypeCheck(rv, lt->record) ?
					rv :
					record;

		if (emit(lt, self, rec) < 0) {
			Py_DECREF(rv);
			return NULL;
		}
	}
	return rv;
}

static int handler_init(PyObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "level", NULL };
	PyObject *level = NULL, *res, *formatter;
	struct logtype *lt = logtype_of(Py_TYPE(self));

	if (!lt || !PyArg_ParseTupleAndKeywords(args, kwds, "|O:LTTngHandler", kwlist, &level)) {
		return -1;
	}
	/* As lttngust's handler: no instance without the library that records. */
	if (!agent_ok()) {
		PyErr_Format(PyExc_OSError, "cannot load %s: %s", AGENT_LIB, agent_error);
		return -1;
	}
	if (!level) {
		level = PyLong_FromLong(0);
	} else {
		Py_INCREF(level);
	}
	if (!level) {
		return -1;
	}
	res = PyObject_CallFunctionObjArgs(lt->base_init, self, level, NULL);
	Py_DECREF(level);
	if (!res) {
		return -1;
	}
	Py_DECREF(res);
	/* The agent's formatter: logging.Formatter('%(asctime)s'). */
	formatter = PyObject_CallFunctionObjArgs((PyObject *)lt->formatter, lt->fmt, NULL);
	if (!formatter) {
		return -1;
	}
	res = PyObject_CallMethod(self, "setFormatter", "O", formatter);
	Py_DECREF(formatter);
	Py_XDECREF(res);
	return res ? 0 : -1;
}

static PyMethodDef handler_methods[] = {
	{ "emit", handler_emit, METH_O,
	  "Record @record as lttng_python:event (what lttngust's handler records)." },
	{ "handle", handler_handle, METH_O,
	  "Filter @record and emit it (logging.Handler.handle(), without the lock)." },
	{ NULL, NULL, 0, NULL },
};

static PyType_Slot handler_slots[] = {
	{ Py_tp_init, (void *)handler_init },
	{ Py_tp_methods, handler_methods },
	{ Py_tp_doc, (void *)"libpytrace's logging handler: each record becomes an "
			     "lttng_python:event, exactly as with lttngust's handler." },
	{ 0, NULL },
};

static PyType_Spec handler_spec = {
	.name = MODULE_NAME ".LTTngHandler",
	.basicsize = 0,
	.itemsize = 0,
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.slots = handler_slots,
};

/* Creates the handler type of the current interpreter, whose `logging` is @logging. */
static PyObject *type_new(PyObject *logging)
{
	struct logtype *lt = PyMem_RawCalloc(1, sizeof(*lt));
	PyObject *handler_cls = NULL, *bases = NULL, *type = NULL, *cap = NULL, *time_mod = NULL;
	PyObject *f = NULL, *d = NULL;

	if (!lt) {
		PyErr_NoMemory();
		return NULL;
	}
	for (size_t i = 0; i < S_COUNT; i++) {
		lt->str[i] = PyUnicode_InternFromString(str_names[i]);
		if (!lt->str[i]) {
			goto fail;
		}
	}
	lt->fmt = PyUnicode_FromString(ASCTIME_FMT);
	handler_cls = PyObject_GetAttrString(logging, "Handler");
	lt->formatter = (PyTypeObject *)PyObject_GetAttrString(logging, "Formatter");
	lt->record = (PyTypeObject *)PyObject_GetAttrString(logging, "LogRecord");
	lt->root = PyObject_GetAttrString(logging, "root");
	time_mod = PyImport_ImportModule("time");
	if (!lt->fmt || !handler_cls || !lt->formatter || !lt->record || !lt->root || !time_mod) {
		goto fail;
	}
	if (!PyType_Check(handler_cls) || !PyType_Check(lt->formatter) ||
	    !PyType_Check(lt->record)) {
		PyErr_SetString(PyExc_TypeError, "logging.Handler, Formatter or LogRecord is not a "
						 "class");
		goto fail;
	}
	lt->localtime = PyObject_GetAttrString(time_mod, "localtime");
	lt->base_init = PyObject_GetAttrString(handler_cls, "__init__");
	lt->base_handle = PyObject_GetAttrString(handler_cls, "handle");
	if (!lt->localtime || !lt->base_init || !lt->base_handle) {
		goto fail;
	}
	/* The attributes a fresh Formatter has (_style, _fmt, datefmt). */
	f = PyObject_CallFunctionObjArgs((PyObject *)lt->formatter, lt->fmt, NULL);
	d = f ? PyObject_GenericGetDict(f, NULL) : NULL;
	if (!d || !PyDict_Check(d)) {
		goto fail;
	}
	lt->fmt_dict_size = PyDict_GET_SIZE(d);
	bases = PyTuple_Pack(1, handler_cls);
	if (!bases) {
		goto fail;
	}
	type = PyType_FromSpecWithBases(&handler_spec, bases);
	if (!type) {
		goto fail;
	}
	lt->type = (PyTypeObject *)type;
	cap = PyCapsule_New(lt, STATE_ATTR, state_capsule_free);
	if (!cap) {
		goto fail;
	}
	lt = NULL; /* the capsule owns it */
	if (PyObject_SetAttrString(type, STATE_ATTR, cap) < 0) {
		Py_CLEAR(type);
	}
	goto out;
fail:
	Py_CLEAR(type);
out:
	if (lt) {
		logtype_free(lt);
	}
	Py_XDECREF(cap);
	Py_XDECREF(handler_cls);
	Py_XDECREF(bases);
	Py_XDECREF(time_mod);
	Py_XDECREF(f);
	Py_XDECREF(d);
	return type;
}

/* ---- per interpreter: the handler on the root logger ---- */

/* sys.modules[@name] if the program imported it (new reference), else NULL; never raises. */
static PyObject *imported(const char *name)
{
	PyObject *n = PyUnicode_FromString(name), *mod = n ? PyImport_GetModule(n) : NULL;

	Py_XDECREF(n);
	if (!mod) {
		PyErr_Clear();
	}
	return mod;
}

struct pt_logging {
	PyObject *module;  /* _libpytrace, as registered in sys.modules */
	PyObject *type;	   /* LTTngHandler */
	PyObject *handler; /* the instance that formats and records for the hooks */
	struct pt_loghooks *hooks; /* logging.Logger's methods wrapped (logging-hooks.c) */
};

/* The handler type of @pi, created on first use (needs `logging`). Borrowed. */
static PyObject *interp_type(struct pt_interp *pi, PyObject *logging)
{
	if (!pi->log->type) {
		pi->log->type = type_new(logging);
	}
	return pi->log->type;
}

/* Wraps logging.Logger's methods (logging-hooks.c): the root logger keeps its handlers and
 * level. With @may_import, imports `logging` if the program has not yet (the caller's thread,
 * never the watcher's); otherwise waits for the program to. */
static void install(struct pt_interp *pi, bool may_import)
{
	struct pt_logging *log = pi->log;
	struct pt_exc exc = pt_exc_save();
	PyObject *logging;

	logging = may_import ? PyImport_ImportModule("logging") : imported("logging");
	if (!logging) {
		goto out;
	}
	if (!interp_type(pi, logging)) {
		goto out;
	}
	if (!log->handler && !(log->handler = PyObject_CallObject(log->type, NULL))) {
		goto out;
	}
	if (pt_loghooks_install(&log->hooks, logging, log->handler) == 0) {
		__atomic_store_n(&pi->log_installed, true, __ATOMIC_RELEASE);
		pt_debug("logging: forwarding in interp=%lld", (long long)pi->id);
	}
out:
	if (PyErr_Occurred()) {
		pt_log_pyerr("cannot wrap logging.Logger's methods");
		pt_loghooks_remove(log->hooks);
		__atomic_store_n(&pi->log_failed, true, __ATOMIC_RELEASE);
	}
	Py_XDECREF(logging);
	pt_exc_restore(exc);
}

static void uninstall(struct pt_interp *pi)
{
	struct pt_exc exc = pt_exc_save();

	__atomic_store_n(&pi->log_installed, false, __ATOMIC_RELEASE);
	pt_loghooks_remove(pi->log->hooks);
	pt_debug("logging: forwarding off in interp=%lld", (long long)pi->id);
	if (PyErr_Occurred()) {
		pt_log_pyerr("cannot give logging.Logger its methods back");
	}
	pt_exc_restore(exc);
}

bool pt_logging_needs(const struct pt_interp *pi, bool want)
{
	if (!__atomic_load_n(&pi->logging, __ATOMIC_ACQUIRE)) {
		return false;
	}
	if (want) {
		return !__atomic_load_n(&pi->log_installed, __ATOMIC_ACQUIRE) &&
		       !__atomic_load_n(&pi->log_failed, __ATOMIC_ACQUIRE);
	}
	return __atomic_load_n(&pi->log_installed, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&pi->log_failed, __ATOMIC_ACQUIRE);
}

void pt_logging_apply(struct pt_interp *pi, bool want)
{
	if (!pi->logging || !pi->log) {
		return;
	}
	if (want && !pi->log_installed && !pi->log_failed) {
		install(pi, false);
	} else if (!want) {
		__atomic_store_n(&pi->log_failed, false, __ATOMIC_RELEASE);
		if (pi->log_installed) {
			uninstall(pi);
		}
	}
}

int pt_logging_set(struct pt_interp *pi, bool on)
{
	int err;

	if (on) {
		if (!agent_ok()) {
			pt_err("cannot forward Python logging: %s (Debian: apt-get install "
			       "liblttng-ust-python-agent1)", agent_error);
			return -ELIBACC;
		}
		if (!pi->log && !(pi->log = PyMem_RawCalloc(1, sizeof(*pi->log)))) {
			return -ENOMEM;
		}
		if (pi->logging) {
			return 0;
		}
		__atomic_store_n(&pi->log_failed, false, __ATOMIC_RELEASE);
		__atomic_store_n(&pi->logging, true, __ATOMIC_RELEASE);
		/* `lttng list --python` shows the process (agent.c); never a reason to fail. */
		err = pt_agent_start(pi->interp);
		if (err) {
			pt_warn("cannot register with the session daemon: interp=%lld, ret=%d (%s)",
				(long long)pi->id, err, strerror(-err));
		}
		/* A session that records already gets the program's first records. */
		if (pt_logging_wanted()) {
			install(pi, true);
		}
		return 0;
	}
	if (!pi->logging) {
		return 0;
	}
	__atomic_store_n(&pi->logging, false, __ATOMIC_RELEASE);
	if (pi->log && pi->log_installed) {
		uninstall(pi);
	}
	__atomic_store_n(&pi->log_failed, false, __ATOMIC_RELEASE);
	/* The session daemon forgets the process's Python domain. */
	pt_agent_forget(pi->interp);
	return 0;
}

int pt_logging_opt(const struct pytrace_attach_opts *opts, bool *out)
{
	const char *v = getenv("PYTRACE_LOGGING");

	*out = opts->logging;
	return v ? pt_parse_bool(v, "PYTRACE_LOGGING", out) : 0;
}

void pt_logging_free(struct pt_interp *pi)
{
	struct pt_logging *log = pi->log;

	if (!log) {
		return;
	}
	Py_XDECREF(log->module);
	Py_XDECREF(log->handler);
	pt_loghooks_free(log->hooks);
	Py_XDECREF(log->type);
	PyMem_RawFree(log);
	pi->log = NULL;
}

/* ---- the `_libpytrace` module: the switch, from Python ---- */

static struct pt_interp *module_interp(void)
{
	struct pt_interp *pi = pt_interp_find(PyInterpreterState_Get());

	if (!pi) {
		errno = ENOENT;
		PyErr_SetString(PyExc_RuntimeError, "libpytrace is not attached to this interpreter");
	}
	return pi;
}

static PyObject *mod_enable(PyObject *mod, PyObject *unused)
{
	int err;

	(void)mod;
	(void)unused;
	if (!module_interp()) {
		return NULL;
	}
	err = pytrace_logging_enable(PyInterpreterState_Get());
	if (err) {
		errno = -err;
		return PyErr_SetFromErrno(PyExc_OSError);
	}
	Py_RETURN_NONE;
}

static PyObject *mod_disable(PyObject *mod, PyObject *unused)
{
	int err;

	(void)mod;
	(void)unused;
	if (!module_interp()) {
		return NULL;
	}
	err = pytrace_logging_disable(PyInterpreterState_Get());
	if (err) {
		errno = -err;
		return PyErr_SetFromErrno(PyExc_OSError);
	}
	Py_RETURN_NONE;
}

static PyObject *mod_enabled(PyObject *mod, PyObject *unused)
{
	struct pt_interp *pi = module_interp();

	(void)mod;
	(void)unused;
	if (!pi) {
		return NULL;
	}
	return PyBool_FromLong(pi->logging);
}

static PyObject *mod_handler_type(PyObject *mod, PyObject *unused)
{
	struct pt_interp *pi = module_interp();
	PyObject *logging, *type;

	(void)mod;
	(void)unused;
	if (!pi) {
		return NULL;
	}
	if (!pi->log && !(pi->log = PyMem_RawCalloc(1, sizeof(*pi->log)))) {
		return PyErr_NoMemory();
	}
	logging = PyImport_ImportModule("logging");
	if (!logging) {
		return NULL;
	}
	type = interp_type(pi, logging);
	Py_DECREF(logging);
	return Py_XNewRef(type);
}

static PyMethodDef module_methods[] = {
	{ "logging_enable", mod_enable, METH_NOARGS,
	  "Forward logging records to LTTng (lttng_python:event), as pytrace_logging_enable()." },
	{ "logging_disable", mod_disable, METH_NOARGS,
	  "Stop forwarding logging records, as pytrace_logging_disable()." },
	{ "logging_enabled", mod_enabled, METH_NOARGS,
	  "Whether logging records are forwarded (while a session records them)." },
	{ "handler_type", mod_handler_type, METH_NOARGS,
	  "The LTTngHandler class (imports logging)." },
	{ NULL, NULL, 0, NULL },
};

int pt_logging_attach(struct pt_interp *pi)
{
	PyObject *mod, *modules = PyImport_GetModuleDict();

	if (!pi->log && !(pi->log = PyMem_RawCalloc(1, sizeof(*pi->log)))) {
		return -ENOMEM;
	}
	mod = PyModule_New(MODULE_NAME);
	if (!mod || PyModule_AddFunctions(mod, module_methods) < 0 ||
	    PyModule_AddStringConstant(mod, "__doc__",
				       "libpytrace, attached to this interpreter (private: the "
				       "pytrace package re-exports it).") < 0 ||
	    PyModule_AddStringConstant(mod, "version", pytrace_version()) < 0 ||
	    PyDict_SetItemString(modules, MODULE_NAME, mod) < 0) {
		Py_XDECREF(mod);
		pt_log_pyerr("cannot register the " MODULE_NAME " module");
		return -EIO;
	}
	pi->log->module = mod;
	return 0;
}

void pt_logging_detach(struct pt_interp *pi)
{
	PyObject *modules = PyImport_GetModuleDict(), *cur;

	pt_logging_set(pi, false);
	if (!pi->log || !pi->log->module || !modules) {
		return;
	}
	cur = PyDict_GetItemString(modules, MODULE_NAME);
	if (cur == pi->log->module && PyDict_DelItemString(modules, MODULE_NAME) < 0) {
		pt_log_pyerr("cannot unregister the " MODULE_NAME " module");
	}
	PyErr_Clear();
	Py_CLEAR(pi->log->module);
}
