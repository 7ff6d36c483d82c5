/* SPDX-License-Identifier: MIT */
/*
 * The public API: attach/detach and the registry of attached interpreters.
 *
 * The registry is a list under a mutex (attach, detach and a thread's first event look it up;
 * none of them is on the per-call path). An attached interpreter also holds a capsule in its
 * interpreter dict: when the interpreter is finalized without pytrace_detach(), clearing that
 * dict (after its thread states, hence after its last Python code) unregisters it.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <pytrace/pytrace.h>

#define ATTACHED_KEY "libpytrace.attached"

#define offsetofend(TYPE, FIELD) (offsetof(TYPE, FIELD) + sizeof(((TYPE *)0)->FIELD))

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pt_interp *registry;

const char *pytrace_version(void)
{
	return PYTRACE_VERSION_STRING;
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

static void attached_destructor(PyObject *capsule)
{
	struct pt_interp *pi = PyCapsule_GetPointer(capsule, ATTACHED_KEY);

	if (!pi) {
		PyErr_Clear();
		return;
	}
	registry_remove(pi);
	Py_XDECREF(pi->thread_hook);
	PyMem_RawFree(pi);
}

/*
 * Copies the caller's options into @out (zeroed defaults for what it does not pass), following
 * the `sz` contract of the header.
 */
static int opts_load(const struct pytrace_attach_opts *opts, struct pytrace_attach_opts *out)
{
	const size_t known = offsetofend(struct pytrace_attach_opts, pytrace_attach_opts__last_field);

	memset(out, 0, sizeof(*out));
	out->sz = sizeof(*out);
	if (!opts) {
		return 0;
	}
	if (opts->sz < sizeof(size_t)) {
		pt_warn("pytrace_attach: opts->sz=%zu is smaller than sizeof(size_t)", opts->sz);
		return -EINVAL;
	}
	for (size_t i = known; i < opts->sz; i++) {
		if (((const unsigned char *)opts)[i]) {
			pt_warn("pytrace_attach: opts has non-zero byte %zu beyond the %zu bytes this "
				"library knows (opts->sz=%zu)", i, known, opts->sz);
			return -EINVAL;
		}
	}
	memcpy((char *)out + sizeof(size_t), (const char *)opts + sizeof(size_t),
	       (opts->sz < known ? opts->sz : known) - sizeof(size_t));
	return 0;
}

/* The calling thread's own thread state, or NULL when it holds none: in 3.11 the "unchecked"
 * thread state is the GIL holder's, not necessarily the caller's. */
static PyThreadState *own_tstate(void)
{
	PyThreadState *ts = _PyThreadState_UncheckedGet();

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
	PyObject *type, *value, *tb, *dict, *capsule = NULL;
	struct pt_interp *pi;
	int err;

	err = check_thread("pytrace_attach", interp);
	if (err) {
		return err;
	}
	err = opts_load(opts, &o);
	if (err) {
		return err;
	}
	if (pt_interp_find(interp)) {
		return -EALREADY;
	}
	pi = PyMem_RawCalloc(1, sizeof(*pi));
	if (!pi) {
		return -ENOMEM;
	}
	pi->interp = interp;
	pi->id = PyInterpreterState_GetID(interp);
	pi->c_calls = o.c_calls;

	PyErr_Fetch(&type, &value, &tb);
	err = -EIO;
	pi->code_index = pt_code_index();
	dict = PyInterpreterState_GetDict(interp);
	if (pi->code_index < 0 || !dict) {
		PyMem_RawFree(pi);
		goto out;
	}
	capsule = PyCapsule_New(pi, ATTACHED_KEY, attached_destructor);
	if (!capsule) {
		PyMem_RawFree(pi);
		goto out;
	}
	/* From here on the capsule owns pi. */
	if (PyDict_SetItemString(dict, ATTACHED_KEY, capsule) < 0) {
		goto out;
	}
	registry_add(pi);
	err = pt_hook_install(pi);
	if (err) {
		PyDict_DelItemString(dict, ATTACHED_KEY);
		goto out;
	}
	pt_debug("attached interp=%p id=%lld c_calls=%d", (void *)interp, (long long)pi->id,
		 pi->c_calls);
out:
	if (err == -EIO) {
		pt_log_pyerr("cannot attach");
	}
	PyErr_Clear();
	Py_XDECREF(capsule);
	PyErr_Restore(type, value, tb);
	return err;
}

int pytrace_detach(PyInterpreterState *interp)
{
	PyObject *type, *value, *tb, *dict;
	struct pt_interp *pi;
	int err;

	err = check_thread("pytrace_detach", interp);
	if (err) {
		return err;
	}
	pi = pt_interp_find(interp);
	if (!pi) {
		return -ENOENT;
	}
	PyErr_Fetch(&type, &value, &tb);
	pt_hook_uninstall(pi);
	registry_remove(pi);
	dict = PyInterpreterState_GetDict(interp);
	if (!dict || PyDict_DelItemString(dict, ATTACHED_KEY) < 0) {
		pt_log_pyerr("cannot drop the attached marker");
	}
	PyErr_Restore(type, value, tb);
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
	return pt_hook_install_thread(pi, ts);
}
