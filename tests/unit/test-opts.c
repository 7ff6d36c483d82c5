/* SPDX-License-Identifier: MIT */
/*
 * The `sz` contract of struct pytrace_attach_opts: the same size, an older caller's smaller size,
 * a newer caller's larger size with a zero or non-zero unknown part, and sizes too small to hold
 * `sz`. Whether an option took effect is not visible through the public API, so these tests look
 * at the profile object libpytrace installs (white-box: struct pt_thread from internal.h).
 * Real CPython, GIL held by the test thread.
 */
#include "unit.h"

#include "internal.h"

#define offsetofend(TYPE, FIELD) (offsetof(TYPE, FIELD) + sizeof(((TYPE *)0)->FIELD))

/* Everything after the last field libpytrace knows is "unknown tail", padding included. */
#define KNOWN offsetofend(struct pytrace_attach_opts, pytrace_attach_opts__last_field)

/* A newer caller's options: our struct followed by fields this library does not know. */
struct bigger_opts {
	union {
		struct pytrace_attach_opts o;
		unsigned char bytes[sizeof(struct pytrace_attach_opts) + 24];
	};
};

TestSuite(opts, .init = py_init, .fini = py_fini);

/* The c_calls option the current thread was attached with (through its libpytrace object: the
 * profile object up to 3.11, the one in its thread state's dict from 3.12 on; see unit.h). */
static bool attached_c_calls(void)
{
	PyObject *obj = thread_obj();

	cr_assert_not_null(obj, "the thread has no libpytrace object");
	return ((struct pt_thread *)obj)->pi->cfg->c_calls;
}

/* Checks that a failed attach left nothing behind and that good options attach afterwards. */
static void assert_not_attached_then_attach(void)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	PYTRACE_OPTS(pytrace_attach_opts, good);

	cr_assert_eq(hooked(), 0);
	cr_assert(py_true(PY_UNTRACED));
	assert_call(pytrace_thread_attach(), -ENOENT);
	assert_call(pytrace_attach(interp, &good), 0);
	assert_call(pytrace_detach(interp), 0);
}

Test(opts, layout)
{
	/* The rest of this file assumes what the header promises: sz first, then c_calls (the
	 * only field of 0.1), max_depth last. */
	cr_assert_eq(offsetof(struct pytrace_attach_opts, sz), 0);
	cr_assert_eq(offsetof(struct pytrace_attach_opts, c_calls), sizeof(size_t));
	cr_assert_gt(offsetof(struct pytrace_attach_opts, max_depth),
		     offsetof(struct pytrace_attach_opts, exclude));
	cr_assert_lt(KNOWN, sizeof(struct pytrace_attach_opts), "no padding to test");
	cr_assert_str_eq(UNIT_THREAD_KEY, PT_THREAD_KEY);
}

#if UNIT_MONITORING
/* Whether libpytrace's sys.monitoring events include those of C calls, -1 if it has no events.
 * (C_RETURN and C_RAISE come with CALL: get_events() does not list them.) */
static int monitored_c_calls(void)
{
	return py_int("next((int(" PY_MON ".get_events(i) & " PY_MON ".events.CALL != 0) "
		      "for i in (3, 4) if " PY_MON ".get_tool(i) == 'pytrace' and "
		      PY_MON ".get_events(i)), -1)");
}

Test(opts, c_calls_set_the_monitoring_events)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	PYTRACE_OPTS(pytrace_attach_opts, c_calls, .c_calls = true);
	PYTRACE_OPTS(pytrace_attach_opts, defaults);

	/* 3.12+: the events of C calls cost even when nothing is recorded: only with c_calls,
	 * and pytrace_config_set() turns them on and off. */
	assert_call(pytrace_attach(interp, NULL), 0);
	cr_assert_eq(monitored_c_calls(), 0);
	assert_call(pytrace_config_set(interp, &c_calls), 0);
	cr_assert_eq(monitored_c_calls(), 1);
	cr_assert(attached_c_calls());
	assert_call(pytrace_config_set(interp, &defaults), 0);
	cr_assert_eq(monitored_c_calls(), 0);
	cr_assert_not(attached_c_calls());
	assert_call(pytrace_detach(interp), 0);

	assert_call(pytrace_attach(interp, &c_calls), 0);
	cr_assert_eq(monitored_c_calls(), 1);
	assert_call(pytrace_detach(interp), 0);
	cr_assert_eq(monitored_c_calls(), -1);
}
#endif

Test(opts, null_opts_are_the_defaults)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	assert_call(pytrace_attach(interp, NULL), 0);
	cr_assert_not(attached_c_calls());
	assert_call(pytrace_detach(interp), 0);
}

Test(opts, same_sz)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	PYTRACE_OPTS(pytrace_attach_opts, defaults);
	PYTRACE_OPTS(pytrace_attach_opts, c_calls, .c_calls = true);

	cr_assert_eq(defaults.sz, sizeof(struct pytrace_attach_opts));
	assert_call(pytrace_attach(interp, &defaults), 0);
	cr_assert_not(attached_c_calls());
	assert_call(pytrace_detach(interp), 0);

	assert_call(pytrace_attach(interp, &c_calls), 0);
	cr_assert(attached_c_calls());
	assert_call(pytrace_detach(interp), 0);
}

Test(opts, opts_are_not_written)
{
	PYTRACE_OPTS(pytrace_attach_opts, opts, .c_calls = true);
	struct pytrace_attach_opts copy;

	memcpy(&copy, &opts, sizeof(opts));
	assert_call(pytrace_attach(PyInterpreterState_Get(), &opts), 0);
	cr_assert_eq(memcmp(&copy, &opts, sizeof(opts)), 0, "pytrace_attach() wrote to opts");
	assert_call(pytrace_detach(PyInterpreterState_Get()), 0);
}

static void dirty_stack(void)
{
	volatile unsigned char junk[4096];

	for (size_t i = 0; i < sizeof(junk); i++) {
		junk[i] = 0xa5;
	}
}

static void check_macro_padding(void)
{
	PYTRACE_OPTS(pytrace_attach_opts, opts, .c_calls = true);
	const unsigned char *b = (const unsigned char *)&opts;

	for (size_t i = KNOWN; i < sizeof(opts); i++) {
		cr_assert_eq(b[i], 0, "PYTRACE_OPTS left byte %zu = %#x", i, b[i]);
	}
	assert_call(pytrace_attach(PyInterpreterState_Get(), &opts), 0);
	assert_call(pytrace_detach(PyInterpreterState_Get()), 0);
}

Test(opts, macro_zeroes_padding)
{
	/* Otherwise a correct caller could get -EINVAL from stack garbage in the padding. */
	dirty_stack();
	check_macro_padding();
}

Test(opts, smaller_sz_gets_defaults)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	/* sz of no field, and of a 0.1 caller (c_calls only) */
	const size_t sizes[] = { sizeof(size_t), offsetof(struct pytrace_attach_opts, c_calls),
				 offsetofend(struct pytrace_attach_opts, c_calls) };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct pytrace_attach_opts opts;

		/* An older caller's struct ends at sz: what follows is not its to set, so it
		 * must not be read (here: c_calls and the padding hold garbage). */
		memset(&opts, 0xff, sizeof(opts));
		opts.sz = sizes[i];
		if (sizes[i] > offsetof(struct pytrace_attach_opts, c_calls)) {
			opts.c_calls = false; /* the 0.1 caller's own field */
		}
		assert_call(pytrace_attach(interp, &opts), 0);
		cr_assert_not(attached_c_calls(), "sz=%zu: c_calls was read", sizes[i]);
		assert_call(pytrace_detach(interp), 0);
	}
}

Test(opts, sz_up_to_last_field)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	struct pytrace_attach_opts opts;

	/* sz covering the known fields exactly: they are read, the padding after them is not. */
	memset(&opts, 0xff, sizeof(opts));
	opts.sz = KNOWN;
	opts.c_calls = true;
	opts.mode = PYTRACE_MODE_EVENTS;
	opts.include = NULL;
	opts.exclude = NULL;
	opts.max_depth = 0;
	assert_call(pytrace_attach(interp, &opts), 0);
	cr_assert(attached_c_calls());
	assert_call(pytrace_detach(interp), 0);
}

Test(opts, sz_smaller_than_size_t_is_einval)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	const size_t sizes[] = { 0, 1, 4, sizeof(size_t) - 1 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct pytrace_attach_opts opts = { .sz = sizes[i] };

		assert_call(pytrace_attach(interp, &opts), -EINVAL);
		cr_assert(py_true(PY_UNTRACED), "sz=%zu", sizes[i]);
		assert_call(pytrace_detach(interp), -ENOENT);
	}
	assert_not_attached_then_attach();
}

Test(opts, larger_sz_zero_tail)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	struct bigger_opts big;

	memset(&big, 0, sizeof(big));
	big.o.sz = sizeof(big);
	assert_call(pytrace_attach(interp, &big.o), 0);
	cr_assert_not(attached_c_calls());
	assert_call(pytrace_detach(interp), 0);

	big.o.c_calls = true;
	assert_call(pytrace_attach(interp, &big.o), 0);
	cr_assert(attached_c_calls());
	assert_call(pytrace_detach(interp), 0);
}

Test(opts, larger_sz_nonzero_tail_is_einval)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	struct bigger_opts big;

	/* Every byte a newer caller may have set, one at a time, first and last included. */
	for (size_t i = sizeof(struct pytrace_attach_opts); i < sizeof(big); i++) {
		memset(&big, 0, sizeof(big));
		big.o.sz = sizeof(big);
		big.o.c_calls = true;
		big.bytes[i] = 1;
		assert_call(pytrace_attach(interp, &big.o), -EINVAL);
		cr_assert_eq(hooked(), 0, "byte %zu: left attached", i);
		assert_call(pytrace_detach(interp), -ENOENT);
	}
	assert_not_attached_then_attach();
}

Test(opts, nonzero_padding_after_last_field_is_einval)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	for (size_t i = KNOWN; i < sizeof(struct pytrace_attach_opts); i++) {
		struct bigger_opts big;
		PYTRACE_OPTS(pytrace_attach_opts, opts);

		((unsigned char *)&opts)[i] = 0x80;
		assert_call(pytrace_attach(interp, &opts), -EINVAL);
		assert_call(pytrace_detach(interp), -ENOENT);

		/* Also when the padding is followed by a zero tail. */
		memset(&big, 0, sizeof(big));
		big.o.sz = sizeof(big);
		big.bytes[i] = 0x80;
		assert_call(pytrace_attach(interp, &big.o), -EINVAL);
		assert_call(pytrace_detach(interp), -ENOENT);
	}
	assert_not_attached_then_attach();
}

Test(opts, bytes_beyond_sz_are_not_read)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	struct bigger_opts big;

	/* The caller's struct ends at sz; whatever memory follows is not part of it. */
	memset(&big, 0xff, sizeof(big));
	memset(&big.o, 0, sizeof(big.o));
	big.o.sz = sizeof(big.o);
	big.o.c_calls = true;
	assert_call(pytrace_attach(interp, &big.o), 0);
	cr_assert(attached_c_calls());
	assert_call(pytrace_detach(interp), 0);
}

Test(opts, bad_opts_with_null_interp_is_einval)
{
	struct pytrace_attach_opts opts = { .sz = 0 };

	assert_call(pytrace_attach(NULL, &opts), -EINVAL);
}

Test(opts, bad_opts_while_attached)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	struct pytrace_attach_opts bad = { .sz = 1 };
	int ret;

	/* Which of the two errors wins is not specified; either way the attachment in place is
	 * neither dropped nor altered. */
	assert_call(pytrace_attach(interp, NULL), 0);
	ret = pytrace_attach(interp, &bad);
	cr_assert(ret == -EINVAL || ret == -EALREADY, "returned %d", ret);
	assert_no_pyerr();
	cr_assert(py_true(PY_TRACED));
	cr_assert_not(attached_c_calls());
	assert_call(pytrace_detach(interp), 0);
}
