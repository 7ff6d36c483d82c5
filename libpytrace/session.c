/* SPDX-License-Identifier: MIT */
/*
 * Is anybody recording the `python` events of this process, and did a new session start?
 *
 * lttng-ust registers one probe on a tracepoint per (session, event) that enables it, with the
 * session's event recorder as the probe's data; the recorder leads to its channel and session,
 * whose `enabled`/`active` flags say whether events are recorded right now. These structures are
 * the public probe-provider ABI of lttng-ust 2.13 (<lttng/ust-events.h>, base fields only), read
 * under lttng-ust's own RCU read lock as the generated probe code does. So:
 * - pt_session_wanted(): some recorder of a `python` event is enabled in an active session;
 * - pt_session_check(): the set of such recorders changed (a session started, stopped, or
 *   enabled the events): pt_session_gen is bumped, which restates open frames and re-emits
 *   fast-mode definitions, so that each session gets what it needs to read its own trace.
 *
 * Lock-free; called by the watcher thread (no GIL) and by traced threads at a fast-mode flush.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include <lttng/ust-events.h>

#include "tp/python-tp.h"

unsigned int pt_session_gen = 1;

static uintptr_t last_fingerprint;

/* Sum (a fingerprint) and count of the active recorders of tracepoint @tp. Under
 * lttng_ust_tp_rcu_read_lock(). */
static uintptr_t recorders(struct lttng_ust_tracepoint *tp, unsigned int *count)
{
	struct lttng_ust_tracepoint_probe *p;
	uintptr_t sum = 0;

	if (!CMM_LOAD_SHARED(tp->state)) {
		return 0;
	}
	p = lttng_ust_tp_rcu_dereference(tp->probes);
	for (; p && p->func; p++) {
		const struct lttng_ust_event_common *ev = p->data;
		const struct lttng_ust_event_recorder *rec;
		const struct lttng_ust_channel_common *chan;

		if (!ev || ev->type != LTTNG_UST_EVENT_TYPE_RECORDER || !ev->child) {
			continue;
		}
		rec = ev->child;
		if (!rec->chan || !(chan = rec->chan->parent) || !chan->session) {
			continue;
		}
		if (CMM_LOAD_SHARED(ev->enabled) && CMM_LOAD_SHARED(chan->enabled) &&
		    CMM_LOAD_SHARED(chan->session->active)) {
			sum += (uintptr_t)ev * 0x9E3779B97F4A7C15ull;
			(*count)++;
		}
	}
	return sum;
}

/* The events whose recording needs the hooks. */
static uintptr_t scan(unsigned int *count)
{
	uintptr_t fp = 0;

	*count = 0;
	if (!LTTNG_UST_TP_RCU_LINK_TEST()) {
		return 0;
	}
	/* One read-side section for all: each costs two calls into lttng-ust and a TLS lookup,
	 * and a traced thread scans at every hand-over of fast-mode records. */
	lttng_ust_tp_rcu_read_lock();
	fp += recorders(&lttng_ust_tracepoint_python___function__entry, count);
	fp += recorders(&lttng_ust_tracepoint_python___function__return, count);
	fp += recorders(&lttng_ust_tracepoint_python___exception, count);
	fp += recorders(&lttng_ust_tracepoint_python___c_function__entry, count);
	fp += recorders(&lttng_ust_tracepoint_python___records, count);
	fp += recorders(&lttng_ust_tracepoint_python___code, count);
	lttng_ust_tp_rcu_read_unlock();
	return fp;
}

bool pt_session_tp_recording(struct lttng_ust_tracepoint *tp)
{
	unsigned int count = 0;

	if (!LTTNG_UST_TP_RCU_LINK_TEST()) {
		return false;
	}
	lttng_ust_tp_rcu_read_lock();
	recorders(tp, &count);
	lttng_ust_tp_rcu_read_unlock();
	return count > 0;
}

/* PYTRACE_HOOKS=always keeps the hooks installed while nobody records (the behaviour of
 * libpytrace 0.1): for debugging, and for tests that look at the hooks without a session. */
static bool hooks_always(void)
{
	static int always = -1;

	if (__builtin_expect(always < 0, 0)) {
		const char *v = getenv("PYTRACE_HOOKS");

		always = v && !strcmp(v, "always");
		if (v && !always && strcmp(v, "auto")) {
			pt_warn("PYTRACE_HOOKS: unknown value \"%s\" (auto or always); using auto", v);
		}
	}
	return always;
}

bool pt_session_wanted(void)
{
	unsigned int count;

	if (hooks_always()) {
		return true;
	}
	scan(&count);
	return count > 0;
}

void pt_session_check(void)
{
	uintptr_t old = __atomic_load_n(&last_fingerprint, __ATOMIC_RELAXED);
	unsigned int count;
	uintptr_t fp = scan(&count);

	if (__builtin_expect(fp == old, 1)) {
		return;
	}
	if (__atomic_compare_exchange_n(&last_fingerprint, &old, fp, false, __ATOMIC_RELAXED,
					__ATOMIC_RELAXED) &&
	    count) {
		__atomic_add_fetch(&pt_session_gen, 1, __ATOMIC_RELAXED);
	}
}
