/* SPDX-License-Identifier: MIT */
/*
 * The public API: attach/detach and the registry of attached interpreters.
 *
 * The registry is a list under a mutex (attach, detach and a thread's first event look it up;
 * none of them is on the per-call path). An attached interpreter also holds a capsule in its
 * interpreter dict: when the interpreter is finalized without pytrace_detach(), clearing that
 * dict (after its thread states, hence after its last Python code) unregisters it.
 */
#include "agent.h"
#include "internal.h"
#include "logging.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <urcu/urcu-bp.h>

#include <pytrace/pytrace.h>

#define ATTACHED_KEY "libpytrace.attached"
#define EXIT_KEY "libpytrace.at_exit"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t registry_cond = PTHREAD_COND_INITIALIZER;
static struct pt_interp *registry;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

const char *pytrace_version(void)
{
	return PYTRACE_VERSION_STRING;
}

/* The registry lock is held across fork(), so that the child finds it consistent; the watcher
 * does not exist in the child, so nothing there is busy. */
static void atfork_prepare(void)
{
	pthread_mutex_lock(&registry_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&registry_lock);
}

static void atfork_child(void)
{
	for (struct pt_interp *pi = registry; pi; pi = pi->next) {
		pi->busy = 0;
	}
	pthread_mutex_unlock(&registry_lock);
	pthread_cond_init(&registry_cond, NULL);
}

static void atfork_init(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

struct pt_interp *pt_interp_find(PyInterpreterState *interp)
{
	struct pt_interp *pi;

	pthread_mutex_lock(&registry_lock);
	for (pi = registry; pi && pi->interp != interp; pi = pi->next) {
	}
	pthread_mutex_unlock(&registry_lock);
	return pi;
}

static void registry_add(struct pt_interp *pi)
{
	pthread_mutex_lock(&registry_lock);
	pi->next = registry;
	registry = pi;
	pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(struct pt_interp *pi)
{
	pthread_mutex_lock(&registry_lock);
	for (struct pt_interp **p = &registry; *p; p = &(*p)->next) {
		if (*p == pi) {
			*p = pi->next;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
}

enum pt_mode pt_interp_mode(struct pt_interp *pi)
{
	enum pt_mode m;

	urcu_bp_read_lock();
	m = rcu_dereference(pi->cfg)->mode;
	urcu_bp_read_unlock();
	return m;
}

size_t pt_interp_grab(struct pt_interp **out, size_t max, bool want, bool log_want, bool flush)
{
	size_t n = 0;

	pthread_mutex_lock(&registry_lock);
	for (struct pt_interp *pi = registry; pi && n < max; pi = pi->next) {
		bool active = __atomic_load_n(&pi->active, __ATOMIC_ACQUIRE);

		if (pi->closing) {
			continue;
		}
		if ((want != active && !(want && pi->start_failed)) ||
		    (flush && active && pt_interp_mode(pi) == PT_MODE_FAST) ||
		    pt_logging_needs(pi, log_want)) {
			pi->busy++;
			out[n++] = pi;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	return n;
}

struct pt_interp *pt_interp_hold(PyInterpreterState *interp)
{
	struct pt_interp *pi;

	pthread_mutex_lock(&registry_lock);
	for (pi = registry; pi && pi->interp != interp; pi = pi->next) {
	}
	if (pi && pi->closing) {
		pi = NULL;
	}
	if (pi) {
		pi->busy++;
	}
	pthread_mutex_unlock(&registry_lock);
	return pi;
}

void pt_interp_release(struct pt_interp *pi)
{
	pthread_mutex_lock(&registry_lock);
	pi->busy--;
	pthread_cond_broadcast(&registry_cond);
	pthread_mutex_unlock(&registry_lock);
}

/* Keeps the watcher off @pi from now on, and waits until it is done with it. GIL held: it is
 * released while waiting, since the watcher may be waiting for it. */
static void interp_close(struct pt_interp *pi)
{
	pthread_mutex_lock(&registry_lock);
	__atomic_store_n(&pi->closing, true, __ATOMIC_RELEASE);
	while (pi->busy) {
		pthread_mutex_unlock(&registry_lock);
		Py_BEGIN_ALLOW_THREADS
		pthread_mutex_lock(&registry_lock);
		while (pi->busy) {
			pthread_cond_wait(&registry_cond, &registry_lock);
		}
		pthread_mutex_unlock(&registry_lock);
		Py_END_ALLOW_THREADS
		pthread_mutex_lock(&registry_lock);
	}
	pthread_mutex_unlock(&registry_lock);
}

void pt_interp_apply(struct pt_interp *pi, bool want)
{
	int err;

	/* Frames that run under the other function pass by us: go on with the profile hook, which
	 * pt_hook_start() chooses now that the default function is not in place. */
	if (want && pi->active && pt_eval_replaced(pi)) {
		pt_warn("interp=%lld: another frame evaluation function replaced libpytrace's; fast "
			"mode goes on with the profile hook (calls since the replacement are not "
			"recorded)", (long long)pi->id);
		pt_hook_stop(pi, true);
		__atomic_store_n(&pi->active, false, __ATOMIC_RELEASE);
	}
	if (want && !pi->active) {
		if (pi->start_failed) {
			return;
		}
		err = pt_hook_start(pi);
		if (err) {
			pt_warn("cannot install the hooks of interp=%lld: %s", (long long)pi->id,
				strerror(-err));
			pi->start_failed = true;
			return;
		}
		__atomic_store_n(&pi->active, true, __ATOMIC_RELEASE);
		pt_debug("recording interp=%lld", (long long)pi->id);
	} else if (!want) {
		pi->start_failed = false;
		if (pi->active) {
			pt_hook_stop(pi, false);
			__atomic_store_n(&pi->active, false, __ATOMIC_RELEASE);
			pt_debug("idle interp=%lld", (long long)pi->id);
		}
	}
}

void pt_interp_ref(struct pt_interp *pi)
{
	pi->refs++;
}

void pt_interp_unref(struct pt_interp *pi)
{
	if (--pi->refs) {
		return;
	}
	Py_XDECREF(pi->exit_hook);
	Py_XDECREF(pi->thread_hook);
	pt_logging_free(pi);
	pt_config_free(pi->cfg);
	PyMem_RawFree(pi);
}

static void attached_destructor(PyObject *capsule)
{
	struct pt_interp *pi = PyCapsule_GetPointer(capsule, ATTACHED_KEY);

	if (!pi) {
		PyErr_Clear();
		return;
	}
	registry_remove(pi);
	pt_interp_unref(pi);
}

/* atexit callback: the interpreter is about to be finalized (its atexit handlers, which ran
 * before this one, were traced). From here on the watcher keeps off it; hooks still installed
 * are removed, with `detach` returns, as its threads are cleared. */
static PyObject *at_exit(PyObject *capsule, PyObject *unused)
{
	struct pt_interp *pi = PyCapsule_GetPointer(capsule, EXIT_KEY);

	(void)unused;
	if (pi) {
		interp_close(pi);
		pt_agent_forget(pi->interp);
		/* atexit holds the callable while it runs; ours would keep pi alive for ever. */
		Py_CLEAR(pi->exit_hook);
	}
	PyErr_Clear();
	Py_RETURN_NONE;
}

static void exit_capsule_destructor(PyObject *capsule)
{
	struct pt_interp *pi = PyCapsule_GetPointer(capsule, EXIT_KEY);

	if (pi) {
		pt_interp_unref(pi);
	}
	PyErr_Clear();
}

static PyMethodDef at_exit_def = {
	"_pytrace_at_exit", at_exit, METH_NOARGS,
	"libpytrace: the interpreter is being finalized.",
};

/* The atexit callable: it holds a reference on pi, and pi holds it until it is unregistered
 * (detach) or called (finalization), which break the cycle. */
static int exit_hook_new(struct pt_interp *pi)
{
	PyObject *capsule = PyCapsule_New(pi, EXIT_KEY, exit_capsule_destructor);

	if (!capsule) {
		return -EIO;
	}
	pt_interp_ref(pi);
	pi->exit_hook = PyCFunction_New(&at_exit_def, capsule);
	Py_DECREF(capsule);
	return pi->exit_hook ? 0 : -EIO;
}

/* (Un)registers @pi->exit_hook with the atexit module. */
static int exit_hook_set(struct pt_interp *pi, bool on)
{
	PyObject *atexit = PyImport_ImportModule("atexit");
	PyObject *res = NULL;

	if (atexit) {
		res = PyObject_CallMethod(atexit, on ? "register" : "unregister", "O", pi->exit_hook);
	}
	Py_XDECREF(res);
	Py_XDECREF(atexit);
	if (!res) {
		pt_log_pyerr(on ? "cannot register with atexit" : "cannot unregister from atexit");
		return -EIO;
	}
	return 0;
}

int pt_opts_copy(const char *func, const void *opts, size_t known, void *out, size_t out_size)
{
	const unsigned char *in = opts;
	size_t sz;

	memset(out, 0, out_size);
	*(size_t *)out = out_size;
	if (!opts) {
		return 0;
	}
	sz = *(const size_t *)opts;
	if (sz < sizeof(size_t)) {
		pt_warn("%s: opts->sz=%zu is smaller than sizeof(size_t)", func, sz);
		return -EINVAL;
	}
	for (size_t i = known; i < sz; i++) {
		if (in[i]) {
			pt_warn("%s: opts has non-zero byte %zu beyond the %zu bytes this "
				"library knows (opts->sz=%zu)", func, i, known, sz);
			return -EINVAL;
		}
	}
	memcpy((char *)out + sizeof(size_t), in + sizeof(size_t),
	       (sz < known ? sz : known) - sizeof(size_t));
	return 0;
}

static int opts_load(const char *func, const struct pytrace_attach_opts *opts,
		     struct pytrace_attach_opts *out)
{
	return pt_opts_copy(func, opts,
			    offsetofend(struct pytrace_attach_opts,
					pytrace_attach_opts__last_field),
			    out, sizeof(*out));
}

/* The calling thread's own thread state, or NULL when it holds none: in 3.11 the "unchecked"
 * thread state is the GIL holder's, not necessarily the caller's. */
static PyThreadState *own_tstate(void)
{
	PyThreadState *ts = pt_tstate_unchecked();

	return ts && ts->thread_id == PyThread_get_thread_ident() ? ts : NULL;
}

/* 0 if the calling thread runs @interp with the GIL held, else -EINVAL (logged). */
static int check_thread(const char *func, PyInterpreterState *interp)
{
	PyThreadState *ts = own_tstate();

	if (!interp) {
		pt_warn("%s: interp is NULL", func);
		return -EINVAL;
	}
	if (!ts || ts->interp != interp) {
		pt_warn("%s: the calling thread holds no thread state of interp=%p (current=%p)", func,
			(void *)interp, ts ? (void *)ts->interp : NULL);
		return -EINVAL;
	}
	return 0;
}

int pytrace_attach(PyInterpreterState *interp, const struct pytrace_attach_opts *opts)
{
	struct pytrace_attach_opts o;
	PyObject *dict, *capsule = NULL;
	struct pt_config *cfg;
	struct pt_interp *pi;
	struct pt_exc exc;
	bool logging;
	int err;

	err = check_thread("pytrace_attach", interp);
	if (err) {
		return err;
	}
	err = opts_load("pytrace_attach", opts, &o);
	if (err) {
		return err;
	}
	err = pt_logging_opt(&o, &logging);
	if (err) {
		return err;
	}
	if (pt_interp_find(interp)) {
		return -EALREADY;
	}
	pthread_once(&atfork_once, atfork_init);
	exc = pt_exc_save();
	err = pt_config_new(&o, true, &cfg);
	if (err) {
		goto out;
	}
	err = -ENOMEM;
	pi = PyMem_RawCalloc(1, sizeof(*pi));
	if (!pi) {
		pt_config_free(cfg);
		goto out;
	}
	pi->interp = interp;
	pi->id = PyInterpreterState_GetID(interp);
	pi->cfg = cfg;
	pi->refs = 1;
	pi->tool_id = -1;

	err = -EIO;
	pi->code_index = pt_code_index();
	dict = PyInterpreterState_GetDict(interp);
	if (pi->code_index < 0 || !dict) {
		pt_interp_unref(pi);
		goto out;
	}
	capsule = PyCapsule_New(pi, ATTACHED_KEY, attached_destructor);
	if (!capsule) {
		pt_interp_unref(pi);
		goto out;
	}
	/* From here on the capsule owns pi. */
	err = exit_hook_new(pi);
	if (err) {
		goto fail;
	}
	err = pt_hook_attach(pi);
	if (err) {
		goto fail;
	}
	err = exit_hook_set(pi, true);
	if (err) {
		pt_hook_detach(pi);
		goto fail;
	}
	if (PyDict_SetItemString(dict, ATTACHED_KEY, capsule) < 0) {
		exit_hook_set(pi, false);
		pt_hook_detach(pi);
		err = -EIO;
		goto fail;
	}
	registry_add(pi);
	/* A session that records already gets events from the first line on. */
	pt_session_check();
	pt_interp_apply(pi, pt_session_wanted());
	if (pi->start_failed) {
		pytrace_detach(interp);
		err = -EIO;
		goto out;
	}
	err = pt_logging_attach(pi);
	if (!err && logging) {
		err = pt_logging_set(pi, true);
	}
	if (!err) {
		err = pt_watch_start();
	}
	if (err) {
		pytrace_detach(interp);
		goto out;
	}
	pt_debug("attached interp=%p id=%lld", (void *)interp, (long long)pi->id);
	goto out;
fail:
	Py_CLEAR(pi->exit_hook);
out:
	if (err == -EIO) {
		pt_log_pyerr("cannot attach");
	}
	PyErr_Clear();
	Py_XDECREF(capsule);
	pt_exc_restore(exc);
	return err;
}

int pytrace_config_set(PyInterpreterState *interp, const struct pytrace_attach_opts *opts)
{
	struct pytrace_attach_opts o;
	struct pt_config *cfg, *old;
	struct pt_interp *pi;
	struct pt_exc exc;
	bool restart;
	int err;

	err = check_thread("pytrace_config_set", interp);
	if (err) {
		return err;
	}
	err = opts_load("pytrace_config_set", opts, &o);
	if (err) {
		return err;
	}
	pi = pt_interp_find(interp);
	if (!pi) {
		return -ENOENT;
	}
	exc = pt_exc_save();
	err = pt_config_new(&o, false, &cfg);
	if (err) {
		pt_exc_restore(exc);
		return err;
	}
	/* Frames open in one mode are closed in that mode: a mode change restarts the hooks. So
	 * does C calls on under 3.11's fast-mode hook, which cannot see them. */
	restart = pi->active && (cfg->mode != pt_interp_mode(pi) || (pi->eval_hook && cfg->c_calls));
	if (restart) {
		pt_hook_stop(pi, true);
	}
	old = rcu_xchg_pointer(&pi->cfg, cfg);
	__atomic_add_fetch(&pt_config_gen, 1, __ATOMIC_RELEASE);
	urcu_bp_synchronize_rcu();
	pt_config_free(old);
	if (restart && pt_hook_start(pi) < 0) {
		__atomic_store_n(&pi->active, false, __ATOMIC_RELEASE);
		pi->start_failed = true;
	} else if (pi->active) {
		pt_hook_config_changed(pi);
	}
	PyErr_Clear();
	pt_exc_restore(exc);
	return 0;
}

int pytrace_detach(PyInterpreterState *interp)
{
	PyObject *dict;
	struct pt_interp *pi;
	struct pt_exc exc;
	int err;

	err = check_thread("pytrace_detach", interp);
	if (err) {
		return err;
	}
	pi = pt_interp_find(interp);
	if (!pi) {
		return -ENOENT;
	}
	exc = pt_exc_save();
	interp_close(pi);
	pt_agent_forget(interp);
	if (pi->active) {
		pt_hook_stop(pi, true);
		__atomic_store_n(&pi->active, false, __ATOMIC_RELEASE);
	}
	pt_hook_detach(pi);
	pt_logging_detach(pi);
	if (pi->exit_hook) {
		exit_hook_set(pi, false);
		Py_CLEAR(pi->exit_hook);
	}
	registry_remove(pi);
	dict = PyInterpreterState_GetDict(interp);
	if (!dict || PyDict_DelItemString(dict, ATTACHED_KEY) < 0) {
		pt_log_pyerr("cannot drop the attached marker");
	}
	PyErr_Clear();
	pt_exc_restore(exc);
	pt_debug("detached interp=%p", (void *)interp);
	return 0;
}

int pytrace_thread_attach(void)
{
	PyThreadState *ts = own_tstate();
	struct pt_interp *pi;

	if (!ts) {
		pt_warn("pytrace_thread_attach: the calling thread holds no thread state");
		return -EINVAL;
	}
	pi = pt_interp_find(ts->interp);
	if (!pi) {
		return -ENOENT;
	}
	/* While nobody records, the watcher installs the hooks on every thread when needed. */
	return pi->active ? pt_hook_install_thread(pi, ts) : 0;
}

/* pytrace_logging_enable() and pytrace_logging_disable(). */
static int logging_switch(const char *func, PyInterpreterState *interp, bool on)
{
	struct pt_interp *pi;
	struct pt_exc exc;
	int err;

	err = check_thread(func, interp);
	if (err) {
		return err;
	}
	pi = pt_interp_find(interp);
	if (!pi || __atomic_load_n(&pi->closing, __ATOMIC_ACQUIRE)) {
		return -ENOENT;
	}
	exc = pt_exc_save();
	err = pt_logging_set(pi, on);
	PyErr_Clear();
	pt_exc_restore(exc);
	return err;
}

int pytrace_logging_enable(PyInterpreterState *interp)
{
	return logging_switch("pytrace_logging_enable", interp, true);
}

int pytrace_logging_disable(PyInterpreterState *interp)
{
	return logging_switch("pytrace_logging_disable", interp, false);
}
