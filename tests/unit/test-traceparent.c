/* SPDX-License-Identifier: MIT */
/*
 * The W3C traceparent parser (libpytrace/traceparent.c, compiled into this test: it is hidden in
 * the library). Cases from Trace Context Level 1, section 3.2.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "traceparent.h"

#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define PARENT "00f067aa0ba902b7"

static int parse(const char *s, struct pt_traceparent *tp)
{
	return pt_traceparent_parse(s, s ? strlen(s) : 0, tp);
}

static void assert_invalid(const char *s)
{
	struct pt_traceparent tp;

	cr_assert_eq(parse(s, &tp), -1, "accepted \"%s\"", s ? s : "(null)");
	cr_assert_str_empty(tp.trace_id);
	cr_assert_str_empty(tp.parent_id);
	cr_assert_eq(tp.flags, 0);
}

Test(traceparent, valid)
{
	struct pt_traceparent tp;

	cr_assert_eq(parse("00-" TRACE "-" PARENT "-01", &tp), 0);
	cr_assert_str_eq(tp.trace_id, TRACE);
	cr_assert_str_eq(tp.parent_id, PARENT);
	cr_assert_eq(tp.flags, 1);
	cr_assert_eq(parse("00-" TRACE "-" PARENT "-00", &tp), 0);
	cr_assert_eq(tp.flags, 0);
	cr_assert_eq(parse("00-" TRACE "-" PARENT "-fe", &tp), 0);
	cr_assert_eq(tp.flags, 0xfe);
}

Test(traceparent, optional_whitespace_is_ignored)
{
	struct pt_traceparent tp;

	cr_assert_eq(parse(" \t00-" TRACE "-" PARENT "-01\t ", &tp), 0);
	cr_assert_str_eq(tp.trace_id, TRACE);
}

Test(traceparent, the_length_is_honoured_without_nul)
{
	static const char buf[] = "00-" TRACE "-" PARENT "-01GARBAGE";
	struct pt_traceparent tp;

	cr_assert_eq(pt_traceparent_parse(buf, 55, &tp), 0);
	cr_assert_str_eq(tp.parent_id, PARENT);
	cr_assert_eq(pt_traceparent_parse(buf, 54, &tp), -1);
}

Test(traceparent, later_versions_may_append_fields)
{
	struct pt_traceparent tp;

	cr_assert_eq(parse("01-" TRACE "-" PARENT "-01", &tp), 0);
	cr_assert_eq(parse("cc-" TRACE "-" PARENT "-01-what-comes-next", &tp), 0);
	cr_assert_str_eq(tp.trace_id, TRACE);
	assert_invalid("cc-" TRACE "-" PARENT "-01what");
	assert_invalid("00-" TRACE "-" PARENT "-01-more");
}

Test(traceparent, invalid)
{
	assert_invalid(NULL);
	assert_invalid("");
	assert_invalid("00");
	assert_invalid("00-" TRACE "-" PARENT "-0");
	assert_invalid("ff-" TRACE "-" PARENT "-01");
	assert_invalid("00-00000000000000000000000000000000-" PARENT "-01");
	assert_invalid("00-" TRACE "-0000000000000000-01");
	assert_invalid("00-4BF92F3577B34DA6A3CE929D0E0E4736-" PARENT "-01");
	assert_invalid("00-" TRACE "-00F067AA0BA902B7-01");
	assert_invalid("0g-" TRACE "-" PARENT "-01");
	assert_invalid("00-" TRACE "-" PARENT "-0x");
	assert_invalid("00_" TRACE "-" PARENT "-01");
	assert_invalid("00-" TRACE "_" PARENT "-01");
	assert_invalid("00-" TRACE "-" PARENT "_01");
	assert_invalid("00-" TRACE "a-" PARENT "-01");
	assert_invalid("00-" TRACE "-" PARENT "a-01");
}
