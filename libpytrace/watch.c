/* SPDX-License-Identifier: MIT */
/*
 * The watcher: one thread per process (`pytrace-watch`) that installs the hooks of the attached
 * interpreters while some session records their events, and removes them when none does, so
 * that an attached program runs at full speed while nobody records. It does the same for the
 * logging handler (logging.c) of interpreters that forward logging, following the sessions
 * that record `lttng_python:event`.
 *
 * Every WATCH_PERIOD_MS it reads the tracepoints' recorders (session.c: a few loads, no
 * system call but the sleep) and, only when the wanted state of an interpreter differs from its
 * hooks (or fast-mode buffers may have grown stale), takes that interpreter's GIL with a thread
 * state of its own to act. It never holds a lock while it waits for a GIL; an interpreter being
 * detached or finalized is marked `closing` first (api.c), and the watcher leaves it alone from
 * then on, so it never takes the GIL of a finalizing interpreter. For the same reason it also
 * copies the logger names that the agent thread (agent.c) needs to answer `lttng list --python`.
 */
#include "agent.h"
#include "internal.h"
#include "logging.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-bp.h>

#define WATCH_PERIOD_MS 20
#define FLUSH_PERIOD_MS 100
#define MAX_INTERPS 64

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cond = PTHREAD_COND_INITIALIZER;
static bool watch_running;
/* exit(): set by at_process_exit(), then the watcher leaves its loop (watch_stopped). */
static bool watch_exiting, watch_stopped;
static unsigned long watch_ident; /* PyThread_get_thread_ident() of the watcher */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

bool pt_watch_owns(PyThreadState *ts)
{
	return watch_running && ts->thread_id == __atomic_load_n(&watch_ident, __ATOMIC_RELAXED);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool pt_watch_enter(struct pt_interp *pi, PyThreadState **out)
{
	PyThreadState *ts = PyThreadState_New(pi->interp);

	if (!ts) {
		return false;
	}
	PyEval_RestoreThread(ts);
	if (__atomic_load_n(&pi->closing, __ATOMIC_ACQUIRE)) {
		pt_watch_leave(ts);
		return false;
	}
	*out = ts;
	return true;
}

void pt_watch_leave(PyThreadState *ts)
{
	PyThreadState_Clear(ts);
	PyThreadState_DeleteCurrent();
}

/* Takes @pi's GIL: brings its hooks and its logging handler to the wanted state; flushes stale
 * fast-mode buffers. */
static void act(struct pt_interp *pi, bool want, bool log_want)
{
	PyThreadState *ts;

	if (!pt_watch_enter(pi, &ts)) {
		return;
	}
	pt_interp_apply(pi, want);
	pt_logging_apply(pi, log_want);
	if (pi->active) {
		pt_hook_foreach_thread(pi, pt_fast_flush_stale);
	}
	pt_watch_leave(ts);
}

static void *watch_main(void *arg)
{
	struct pt_interp *todo[MAX_INTERPS];
	uint64_t last_flush = 0;

	(void)arg;
	__atomic_store_n(&watch_ident, PyThread_get_thread_ident(), __ATOMIC_RELAXED);
	for (;;) {
		struct timespec d = { 0, WATCH_PERIOD_MS * 1000000L };
		bool want, log_want, flush = false;
		uint64_t now;
		size_t n;

		while (nanosleep(&d, &d) < 0 && errno == EINTR) {
		}
		if (__atomic_load_n(&watch_exiting, __ATOMIC_ACQUIRE)) {
			pthread_mutex_lock(&watch_lock);
			watch_stopped = true;
			pthread_cond_broadcast(&watch_cond);
			pthread_mutex_unlock(&watch_lock);
			return NULL;
		}
		pt_session_check();
		want = pt_session_wanted();
		log_want = pt_logging_wanted();
		now = now_ms();
		if (want && now - last_flush >= FLUSH_PERIOD_MS) {
			flush = true;
			last_flush = now;
		}
		n = pt_interp_grab(todo, MAX_INTERPS, want, log_want, flush);
		for (size_t i = 0; i < n; i++) {
			act(todo[i], want, log_want);
			pt_interp_release(todo[i]);
		}
		/* `lttng list --python` waits for the logger names (agent.c). */
		pt_agent_watch();
	}
	return NULL;
}

static int spawn(void)
{
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;
	int err;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Signals are for the program's threads (Python handles them in the main thread). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&th, &attr, watch_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err) {
		pt_warn("cannot start the watcher thread: %s", strerror(err));
		return -err;
	}
	pthread_setname_np(th, "pytrace-watch");
	watch_running = true;
	return 0;
}

/* The child of a fork has no watcher: it gets its own, so that it records (or stops) on its
 * own. RCU state of liburcu-bp is made consistent around the fork too. */
static void atfork_child(void)
{
	urcu_bp_after_fork_child();
	pthread_mutex_init(&watch_lock, NULL);
	pthread_cond_init(&watch_cond, NULL);
	watch_stopped = false;
	if (watch_running) {
		watch_running = false;
		spawn();
	}
}

/*
 * exit() runs the destructors of lttng-ust and of our tracepoint definitions (_dl_fini), which
 * clear the pointers through which the watcher reads the recorders: a watcher still scanning
 * then called NULL (seen about once in 15 exits of a program logging while a session recorded).
 * atexit() handlers run before _dl_fini: this one stops the watcher first. It waits at most
 * WATCH_EXIT_WAIT_MS, a few of its periods; a watcher not back by then is blocked on a GIL, not
 * in lttng-ust, and finds the flag when it is.
 */
#define WATCH_EXIT_WAIT_MS 200

static void at_process_exit(void)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_nsec += WATCH_EXIT_WAIT_MS * 1000000L;
	deadline.tv_sec += deadline.tv_nsec / 1000000000L;
	deadline.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&watch_lock);
	__atomic_store_n(&watch_exiting, true, __ATOMIC_RELEASE);
	while (watch_running && !watch_stopped &&
	       pthread_cond_timedwait(&watch_cond, &watch_lock, &deadline) == 0) {
	}
	pthread_mutex_unlock(&watch_lock);
}

static void atfork_init(void)
{
	pthread_atfork(urcu_bp_before_fork, urcu_bp_after_fork_parent, atfork_child);
	atexit(at_process_exit);
}

int pt_watch_start(void)
{
	int err = 0;

	pthread_once(&atfork_once, atfork_init);
	pthread_mutex_lock(&watch_lock);
	if (!watch_running) {
		err = spawn();
	}
	pthread_mutex_unlock(&watch_lock);
	return err;
}
