/* SPDX-License-Identifier: MIT */
/*
 * The agent protocol as bytes (libpytrace/agent-proto.c): what the agent sends is what
 * lttng-sessiond 2.13 reads, and what a daemon (or anything else on that port) sends is decoded
 * without crash, overread or allocation driven by the peer: short input, oversized lengths,
 * unterminated names, garbage. No socket, no interpreter.
 */
#include <criterion/criterion.h>

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

static uint32_t be32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

static void put_hdr(uint8_t *p, uint64_t size, uint32_t cmd, uint32_t version)
{
	size = htobe64(size);
	memcpy(p, &size, 8);
	put_be32(p + 8, cmd);
	put_be32(p + 12, version);
}

/* Feeds @len bytes through the reader in chunks of @chunk; the last status. */
static int feed(struct pt_agent_rx *rx, const uint8_t *buf, size_t len, size_t chunk)
{
	int ret = 0;

	while (len) {
		size_t want, n;
		uint8_t *space = pt_agent_rx_space(rx, &want);

		cr_assert_gt(want, 0);
		n = want < chunk ? want : chunk;
		n = n < len ? n : len;
		memcpy(space, buf, n);
		ret = pt_agent_rx_got(rx, n);
		buf += n;
		len -= n;
		if (ret != 0) {
			break;
		}
	}
	return ret;
}

Test(agent_proto, register_message_is_what_sessiond_reads)
{
	uint8_t m[PT_AGENT_REGISTER_SIZE];

	pt_agent_encode_register(m, 12345);
	cr_assert_eq(be32_at(m), 5, "domain python");
	cr_assert_eq(be32_at(m + 4), 12345);
	cr_assert_eq(be32_at(m + 8), 2, "protocol major");
	cr_assert_eq(be32_at(m + 12), 0, "protocol minor");
}

Test(agent_proto, port_file)
{
	cr_assert_eq(pt_agent_parse_port("5345\n", 5), 5345);
	cr_assert_eq(pt_agent_parse_port("  1 ", 4), 1);
	cr_assert_eq(pt_agent_parse_port("65535", 5), 65535);
	cr_assert_eq(pt_agent_parse_port("65536", 5), -EINVAL);
	cr_assert_eq(pt_agent_parse_port("0", 1), -EINVAL);
	cr_assert_eq(pt_agent_parse_port("", 0), -EINVAL);
	cr_assert_eq(pt_agent_parse_port("\n", 1), -EINVAL);
	cr_assert_eq(pt_agent_parse_port("-1", 2), -EINVAL);
	cr_assert_eq(pt_agent_parse_port("53a", 3), -EINVAL);
	cr_assert_eq(pt_agent_parse_port("5345 5346", 9), -EINVAL);
	cr_assert_eq(pt_agent_parse_port("000000005345", 12), -EINVAL, "too many digits");
	cr_assert_eq(pt_agent_parse_port("99999999999999999999", 20), -EINVAL);
	/* Not NUL-terminated: only @len bytes are read. */
	cr_assert_eq(pt_agent_parse_port("53459", 4), 5345);
}

Test(agent_proto, commands_in_any_chunking)
{
	static struct pt_agent_rx rx;
	uint8_t buf[PT_AGENT_HDR_SIZE + 4] = { 0 };

	put_hdr(buf, 4, PT_AGENT_CMD_DISABLE, 7);
	memcpy(buf + 16, "abc", 4);
	for (size_t chunk = 1; chunk <= sizeof(buf); chunk++) {
		pt_agent_rx_reset(&rx);
		cr_assert_not(pt_agent_rx_partial(&rx));
		cr_assert_eq(feed(&rx, buf, sizeof(buf), chunk), 1, "chunk %zu", chunk);
		cr_assert_eq(rx.cmd, PT_AGENT_CMD_DISABLE);
		cr_assert_eq(rx.version, 7);
		cr_assert_eq(rx.size, 4);
		cr_assert_str_eq((char *)rx.data, "abc");
	}
	/* A header alone is a whole command when it announces no data. */
	pt_agent_rx_reset(&rx);
	put_hdr(buf, 0, PT_AGENT_CMD_LIST, 0);
	cr_assert_eq(feed(&rx, buf, 15, 16), 0);
	cr_assert(pt_agent_rx_partial(&rx));
	cr_assert_eq(feed(&rx, buf + 15, 1, 16), 1);
	cr_assert_eq(rx.cmd, PT_AGENT_CMD_LIST);
}

Test(agent_proto, oversized_length_is_refused_before_any_data)
{
	static struct pt_agent_rx rx;
	uint8_t buf[PT_AGENT_HDR_SIZE];
	const uint64_t sizes[] = { PT_AGENT_PAYLOAD_MAX + 1ULL, 1ULL << 32, UINT64_MAX,
				   0x8000000000000000ULL };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		pt_agent_rx_reset(&rx);
		put_hdr(buf, sizes[i], PT_AGENT_CMD_ENABLE, 0);
		cr_assert_eq(feed(&rx, buf, sizeof(buf), 3), -EPROTO, "size %llu",
			     (unsigned long long)sizes[i]);
	}
	/* The largest accepted fits the fixed buffer exactly. */
	pt_agent_rx_reset(&rx);
	put_hdr(buf, PT_AGENT_PAYLOAD_MAX, PT_AGENT_CMD_ENABLE, 0);
	cr_assert_eq(feed(&rx, buf, sizeof(buf), 16), 0);
	size_t want;

	pt_agent_rx_space(&rx, &want);
	cr_assert_eq(want, PT_AGENT_PAYLOAD_MAX);
}

/* An ENABLE payload as lttng-sessiond 2.13 builds it (enable_event() in agent.c). */
static size_t enable_payload(uint8_t *p, uint32_t level, uint32_t type, const char *name,
			     const char *filter)
{
	size_t flen = filter ? strlen(filter) + 1 : 0;

	memset(p, 0, PT_AGENT_ENABLE_FIXED);
	put_be32(p, level);
	put_be32(p + 4, type);
	strcpy((char *)p + 8, name);
	put_be32(p + 8 + PT_AGENT_NAME_LEN, (uint32_t)flen);
	if (flen) {
		memcpy(p + PT_AGENT_ENABLE_FIXED, filter, flen);
	}
	return PT_AGENT_ENABLE_FIXED + flen;
}

Test(agent_proto, enable_decoding)
{
	static uint8_t p[PT_AGENT_PAYLOAD_MAX];
	struct pt_agent_enable e;
	size_t n;

	n = enable_payload(p, 30, PT_AGENT_LOGLEVEL_RANGE, "app.db", "logger_name == \"app.db\"");
	cr_assert_eq(pt_agent_decode_enable(p, n, &e), 0);
	cr_assert_eq(e.loglevel, 30);
	cr_assert_eq(e.loglevel_type, PT_AGENT_LOGLEVEL_RANGE);
	cr_assert_str_eq(e.name, "app.db");
	cr_assert_str_eq(e.filter, "logger_name == \"app.db\"");

	n = enable_payload(p, 0, PT_AGENT_LOGLEVEL_ALL, "*", NULL);
	cr_assert_eq(pt_agent_decode_enable(p, n, &e), 0);
	cr_assert_null(e.filter);

	/* Every truncation of a valid payload is refused, none reads past it. */
	n = enable_payload(p, 0, PT_AGENT_LOGLEVEL_ALL, "*", "a == 1");
	for (size_t cut = 0; cut < n; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);

		memcpy(copy, p, cut);
		cr_assert_eq(pt_agent_decode_enable(copy, cut, &e), -EINVAL, "cut at %zu", cut);
		free(copy);
	}
}

Test(agent_proto, enable_garbage)
{
	static uint8_t p[PT_AGENT_PAYLOAD_MAX];
	struct pt_agent_enable e;
	size_t n;

	/* Name filling its 256 bytes without a NUL. */
	n = enable_payload(p, 0, 0, "x", NULL);
	memset(p + 8, 'x', PT_AGENT_NAME_LEN);
	cr_assert_eq(pt_agent_decode_enable(p, n, &e), -EINVAL);
	/* A 255-byte name is the longest. */
	p[8 + PT_AGENT_NAME_LEN - 1] = '\0';
	cr_assert_eq(pt_agent_decode_enable(p, n, &e), 0);
	cr_assert_eq(strlen(e.name), PT_AGENT_NAME_LEN - 1);

	/* Filter length beyond the payload, huge, or without its NUL. */
	n = enable_payload(p, 0, 0, "a", "f");
	put_be32(p + 8 + PT_AGENT_NAME_LEN, 3);
	cr_assert_eq(pt_agent_decode_enable(p, n, &e), -EINVAL);
	put_be32(p + 8 + PT_AGENT_NAME_LEN, UINT32_MAX);
	cr_assert_eq(pt_agent_decode_enable(p, n, &e), -EINVAL);
	put_be32(p + 8 + PT_AGENT_NAME_LEN, 1);
	cr_assert_eq(pt_agent_decode_enable(p, n, &e), -EINVAL, "\"f\" without its NUL");
	/* Trailing bytes after the filter are ignored (as lttngust does). */
	n = enable_payload(p, 0, 0, "a", "f");
	cr_assert_eq(pt_agent_decode_enable(p, n + 10, &e), 0);

	/* Random bytes: any verdict, no crash (ASan/valgrind builds check the reads). */
	srand(42);
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)rand() % 600;
		uint8_t *buf = malloc(len ? len : 1);

		for (size_t i = 0; i < len; i++) {
			buf[i] = (uint8_t)rand();
		}
		if (len > 8 + PT_AGENT_NAME_LEN + 4 && round % 2) {
			put_be32(buf + 8 + PT_AGENT_NAME_LEN, (uint32_t)rand() % 700);
		}
		(void)pt_agent_decode_enable(buf, len, &e);
		free(buf);
	}
}

Test(agent_proto, disable_decoding)
{
	uint8_t p[PT_AGENT_NAME_LEN] = { 0 };
	char name[PT_AGENT_NAME_LEN];

	strcpy((char *)p, "app");
	cr_assert_eq(pt_agent_decode_disable(p, sizeof(p), name), 0);
	cr_assert_str_eq(name, "app");
	cr_assert_eq(pt_agent_decode_disable(p, sizeof(p) - 1, name), -EINVAL, "short");
	cr_assert_eq(pt_agent_decode_disable(p, 0, name), -EINVAL, "empty");
	memset(p, 'z', sizeof(p));
	cr_assert_eq(pt_agent_decode_disable(p, sizeof(p), name), -EINVAL, "no NUL");
}

/* The names of a LIST reply, checked against the header's count and size. */
static size_t list_names(const uint8_t *buf, size_t size, const char **out, size_t max)
{
	uint32_t data = be32_at(buf + 4), count = be32_at(buf + 8);
	size_t off = 12, n = 0;

	cr_assert_eq(be32_at(buf), PT_AGENT_RET_SUCCESS);
	cr_assert_eq(size, 12 + (size_t)data, "data_size covers the names exactly");
	while (off < size) {
		cr_assert_lt(n, max);
		out[n++] = (const char *)buf + off;
		off += strlen((const char *)buf + off) + 1;
	}
	cr_assert_eq(off, size);
	cr_assert_eq(n, count);
	return n;
}

Test(agent_proto, list_reply)
{
	static const char a[] = "app\0app.db\0other";
	static const char b[] = "app\0sub\0";
	const struct pt_agent_names sets[] = { { a, sizeof(a) }, { b, sizeof(b) - 1 } };
	const char *names[8];
	size_t size, n;
	uint8_t *buf;

	buf = pt_agent_encode_list(sets, 2, &size);
	cr_assert_not_null(buf);
	n = list_names(buf, size, names, 8);
	cr_assert_eq(n, 4, "duplicates across interpreters listed once");
	cr_assert_str_eq(names[0], "app");
	cr_assert_str_eq(names[1], "app.db");
	cr_assert_str_eq(names[2], "other");
	cr_assert_str_eq(names[3], "sub");
	free(buf);

	buf = pt_agent_encode_list(NULL, 0, &size);
	cr_assert_not_null(buf);
	cr_assert_eq(list_names(buf, size, names, 8), 0);
	free(buf);
}

Test(agent_proto, list_leaves_out_what_the_daemon_rejects)
{
	char *set = calloc(1, 2 * PT_AGENT_NAME_LEN + 64);
	const char *names[8];
	struct pt_agent_names s;
	size_t size, off = 0;
	uint8_t *buf;

	memset(set, 'L', PT_AGENT_NAME_LEN); /* 256 bytes: lttng_strncpy() fails on it */
	off = PT_AGENT_NAME_LEN + 1;
	memset(set + off, 'k', PT_AGENT_NAME_LEN - 1); /* 255: accepted */
	off += PT_AGENT_NAME_LEN;
	strcpy(set + off, "ok");
	off += 3;
	memcpy(set + off, "tail", 4); /* unterminated */
	off += 4;
	s.names = set;
	s.len = off;
	buf = pt_agent_encode_list(&s, 1, &size);
	cr_assert_eq(list_names(buf, size, names, 8), 2);
	cr_assert_eq(strlen(names[0]), PT_AGENT_NAME_LEN - 1);
	cr_assert_str_eq(names[1], "ok");
	free(buf);
	free(set);
}

Test(agent_proto, list_is_bounded)
{
	size_t len = PT_AGENT_LIST_MAX + 4096, off = 0, size;
	char *set = malloc(len);
	struct pt_agent_names s;
	uint8_t *buf;
	unsigned int i = 0;

	while (off + 32 < len) {
		off += (size_t)sprintf(set + off, "logger.%08u", i++) + 1;
	}
	s.names = set;
	s.len = off;
	buf = pt_agent_encode_list(&s, 1, &size);
	cr_assert_not_null(buf);
	cr_assert_leq(size, 12 + (size_t)PT_AGENT_LIST_MAX);
	cr_assert_eq(be32_at(buf + 4) + 12, size);
	cr_assert_lt(be32_at(buf + 8), i, "the names past the bound are left out");
	free(buf);
	free(set);
}

Test(agent_proto, glob)
{
	cr_assert(pt_agent_glob("*", "anything"));
	cr_assert(pt_agent_glob("*", ""));
	cr_assert(pt_agent_glob("app", "app"));
	cr_assert_not(pt_agent_glob("app", "app.db"), "exact names: children not included");
	cr_assert(pt_agent_glob("app*", "app.db"));
	cr_assert(pt_agent_glob("a*b*c", "aXbYc"));
	cr_assert_not(pt_agent_glob("a*b*c", "aXbY"));
	cr_assert(pt_agent_glob("a\\*", "a*"));
	cr_assert_not(pt_agent_glob("a\\*", "ab"));
	cr_assert(pt_agent_glob("?", "?"), "only '*' is special");
	cr_assert_not(pt_agent_glob("?", "x"));
}

Test(agent_proto, rules)
{
	static struct pt_agent_rules r;
	struct pt_agent_enable e = { .loglevel = 30, .loglevel_type = PT_AGENT_LOGLEVEL_RANGE };

	strcpy(e.name, "app");
	cr_assert_not(pt_agent_rules_match(&r, "app", 50));
	pt_agent_rules_enable(&r, &e);
	pt_agent_rules_enable(&r, &e); /* two sessions */
	cr_assert(pt_agent_rules_match(&r, "app", 30));
	cr_assert_not(pt_agent_rules_match(&r, "app", 20), "below the range");
	cr_assert_not(pt_agent_rules_match(&r, "app.db", 50));
	pt_agent_rules_disable(&r, "app");
	cr_assert(pt_agent_rules_match(&r, "app", 30), "one session still enables it");
	pt_agent_rules_disable(&r, "app");
	pt_agent_rules_disable(&r, "app"); /* a destroyed session disables again */
	pt_agent_rules_disable(&r, "never-enabled");
	cr_assert_not(pt_agent_rules_match(&r, "app", 30));

	e.loglevel_type = PT_AGENT_LOGLEVEL_SINGLE;
	strcpy(e.name, "*");
	pt_agent_rules_enable(&r, &e);
	cr_assert(pt_agent_rules_match(&r, "x", 30));
	cr_assert_not(pt_agent_rules_match(&r, "x", 40));
	cr_assert_leq(r.n, 1, "the emptied slot is reused");

	/* Past the table: every logger is wanted rather than one missed. */
	e.loglevel_type = PT_AGENT_LOGLEVEL_ALL;
	for (int i = 0; i < PT_AGENT_RULES_MAX + 5; i++) {
		snprintf(e.name, sizeof(e.name), "l%d", i);
		pt_agent_rules_enable(&r, &e);
	}
	cr_assert(r.overflow);
	cr_assert(pt_agent_rules_match(&r, "unrelated", 0));
}
