/* SPDX-License-Identifier: MIT */
/*
 * pytrace_span_begin(), pytrace_span_end(), pytrace_mark(): the argument contract, without a
 * session (tests/python/ reads the events back). They need no interpreter and no GIL.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include <pytrace/pytrace.h>

static const char *const keys[] = { "k1", "k2" };
static const char *const values[] = { "v1", "a \"quoted\"\nvalue" };

Test(span, ids_are_unique_and_never_zero)
{
	uint64_t a = 0, b = 0;

	cr_assert_eq(pytrace_span_begin("a", keys, values, 2, &a), 0);
	cr_assert_eq(pytrace_span_begin("b", NULL, NULL, 0, &b), 0);
	cr_assert(a != 0 && b != 0 && a != b);
	cr_assert_eq(pytrace_span_end("b", b), 0);
	cr_assert_eq(pytrace_span_end("a", a), 0);
}

Test(span, bad_arguments_are_einval)
{
	static const char *const null_value[] = { NULL };
	uint64_t id = 0;

	cr_assert_eq(pytrace_span_begin(NULL, NULL, NULL, 0, &id), -EINVAL);
	cr_assert_eq(pytrace_span_begin("a", NULL, NULL, 0, NULL), -EINVAL);
	cr_assert_eq(pytrace_span_begin("a", NULL, values, 1, &id), -EINVAL);
	cr_assert_eq(pytrace_span_begin("a", keys, NULL, 1, &id), -EINVAL);
	cr_assert_eq(pytrace_span_begin("a", keys, null_value, 1, &id), -EINVAL);
	cr_assert_eq(pytrace_span_begin("a", null_value, values, 1, &id), -EINVAL);
	cr_assert_eq(id, 0, "no id is taken on error");
	cr_assert_eq(pytrace_span_end(NULL, 1), -EINVAL);
	cr_assert_eq(pytrace_span_end("a", 0), -EINVAL);
	cr_assert_eq(pytrace_mark(NULL, NULL, NULL, 0), -EINVAL);
	cr_assert_eq(pytrace_mark("m", keys, NULL, 1), -EINVAL);
	cr_assert_eq(pytrace_mark("m", null_value, values, 1), -EINVAL);
}

Test(span, mark_accepts_attributes)
{
	cr_assert_eq(pytrace_mark("m", NULL, NULL, 0), 0);
	cr_assert_eq(pytrace_mark("m", keys, values, 2), 0);
}

static void *begin_many(void *arg)
{
	uint64_t *ids = arg;

	for (int i = 0; i < 1000; i++) {
		if (pytrace_span_begin("t", NULL, NULL, 0, &ids[i])) {
			return (void *)1;
		}
	}
	return NULL;
}

Test(span, ids_unique_across_threads_without_python)
{
	static uint64_t ids[2][1000];
	pthread_t t[2];
	void *ret;

	for (int i = 0; i < 2; i++) {
		cr_assert_eq(pthread_create(&t[i], NULL, begin_many, ids[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(pthread_join(t[i], &ret), 0);
		cr_assert_null(ret);
	}
	for (int i = 0; i < 1000; i++) {
		for (int j = 0; j < 1000; j++) {
			cr_assert_neq(ids[0][i], ids[1][j]);
		}
	}
}
