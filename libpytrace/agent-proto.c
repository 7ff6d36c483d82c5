/* SPDX-License-Identifier: MIT */
/*
 * The agent protocol of lttng-tools 2.13, as bytes: encoding of what the agent sends, bounded
 * decoding of what the daemon sends, and the enable rules. No I/O, no lock, no Python: agent.c
 * calls these under its own lock; tests/unit/test-agent.c feeds them malformed input.
 */
#include "agent.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void put32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

void pt_agent_encode_register(uint8_t out[PT_AGENT_REGISTER_SIZE], uint32_t pid)
{
	put32(out, PT_AGENT_DOMAIN_PYTHON);
	put32(out + 4, pid);
	put32(out + 8, PT_AGENT_MAJOR);
	put32(out + 12, PT_AGENT_MINOR);
}

void pt_agent_encode_status(uint8_t out[4], uint32_t ret_code)
{
	put32(out, ret_code);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int pt_agent_parse_port(const char *buf, size_t len)
{
	size_t i = 0;
	long port = 0;
	size_t digits = 0;

	while (i < len && is_space(buf[i])) {
		i++;
	}
	for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		port = port * 10 + (buf[i] - '0');
		if (++digits > 5) {
			return -EINVAL;
		}
	}
	while (i < len && is_space(buf[i])) {
		i++;
	}
	if (!digits || i != len || port < 1 || port > 65535) {
		return -EINVAL;
	}
	return (int)port;
}

void pt_agent_rx_reset(struct pt_agent_rx *rx)
{
	rx->have = 0;
	rx->size = 0;
	rx->cmd = 0;
	rx->version = 0;
}

uint8_t *pt_agent_rx_space(struct pt_agent_rx *rx, size_t *len)
{
	if (rx->have < PT_AGENT_HDR_SIZE) {
		*len = PT_AGENT_HDR_SIZE - rx->have;
		return rx->hdr + rx->have;
	}
	*len = (size_t)(PT_AGENT_HDR_SIZE + rx->size - rx->have);
	return rx->data + (rx->have - PT_AGENT_HDR_SIZE);
}

int pt_agent_rx_got(struct pt_agent_rx *rx, size_t n)
{
	uint64_t size;

	rx->have += n;
	if (rx->have < PT_AGENT_HDR_SIZE) {
		return 0;
	}
	if (rx->have == PT_AGENT_HDR_SIZE && n) {
		memcpy(&size, rx->hdr, 8);
		size = be64toh(size);
		if (size > PT_AGENT_PAYLOAD_MAX) {
			return -EPROTO;
		}
		rx->size = size;
		rx->cmd = get32(rx->hdr + 8);
		rx->version = get32(rx->hdr + 12);
	}
	return rx->have == PT_AGENT_HDR_SIZE + rx->size ? 1 : 0;
}

bool pt_agent_rx_partial(const struct pt_agent_rx *rx)
{
	return rx->have > 0;
}

/* Copies a NUL-terminated name of at most PT_AGENT_NAME_LEN bytes (NUL included). */
static int copy_name(char dst[PT_AGENT_NAME_LEN], const uint8_t *src)
{
	const void *nul = memchr(src, '\0', PT_AGENT_NAME_LEN);

	if (!nul) {
		return -EINVAL;
	}
	memcpy(dst, src, (size_t)((const uint8_t *)nul - src) + 1);
	return 0;
}

int pt_agent_decode_enable(const uint8_t *data, size_t size, struct pt_agent_enable *out)
{
	uint32_t flen;

	memset(out, 0, sizeof(*out));
	if (size < PT_AGENT_ENABLE_FIXED) {
		return -EINVAL;
	}
	out->loglevel = get32(data);
	out->loglevel_type = get32(data + 4);
	if (copy_name(out->name, data + 8) < 0) {
		return -EINVAL;
	}
	flen = get32(data + 8 + PT_AGENT_NAME_LEN);
	if (flen > size - PT_AGENT_ENABLE_FIXED) {
		return -EINVAL;
	}
	if (flen) {
		const uint8_t *f = data + PT_AGENT_ENABLE_FIXED;

		if (!memchr(f, '\0', flen)) {
			return -EINVAL;
		}
		out->filter = (const char *)f;
	}
	return 0;
}

int pt_agent_decode_disable(const uint8_t *data, size_t size, char name[PT_AGENT_NAME_LEN])
{
	name[0] = '\0';
	if (size < PT_AGENT_NAME_LEN) {
		return -EINVAL;
	}
	return copy_name(name, data);
}

bool pt_agent_glob(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*p == '*') {
			star = ++p;
			resume = s;
			continue;
		}
		if (*p == '\\' && p[1]) {
			if (p[1] == *s) {
				p += 2;
				s++;
				continue;
			}
		} else if (*p && *p == *s) {
			p++;
			s++;
			continue;
		}
		if (!star) {
			return false;
		}
		p = star;
		s = ++resume;
	}
	while (*p == '*') {
		p++;
	}
	return !*p;
}

static bool same_rule(const struct pt_agent_rule *r, const struct pt_agent_enable *e)
{
	return r->loglevel == e->loglevel && r->loglevel_type == e->loglevel_type &&
	       !strcmp(r->name, e->name);
}

void pt_agent_rules_enable(struct pt_agent_rules *r, const struct pt_agent_enable *e)
{
	struct pt_agent_rule *rule;

	for (unsigned int i = 0; i < r->n; i++) {
		if (r->rule[i].count && same_rule(&r->rule[i], e)) {
			r->rule[i].count++;
			return;
		}
	}
	/* Reuse a slot that dropped to zero, else append. */
	rule = NULL;
	for (unsigned int i = 0; i < r->n && !rule; i++) {
		if (!r->rule[i].count) {
			rule = &r->rule[i];
		}
	}
	if (!rule) {
		if (r->n == PT_AGENT_RULES_MAX) {
			r->overflow = true;
			return;
		}
		rule = &r->rule[r->n++];
	}
	memcpy(rule->name, e->name, sizeof(rule->name));
	rule->loglevel = e->loglevel;
	rule->loglevel_type = e->loglevel_type;
	rule->count = 1;
}

void pt_agent_rules_disable(struct pt_agent_rules *r, const char *name)
{
	/* A destroyed session may disable again what is gone: never below zero. */
	for (unsigned int i = 0; i < r->n; i++) {
		if (r->rule[i].count && !strcmp(r->rule[i].name, name)) {
			r->rule[i].count--;
			return;
		}
	}
}

bool pt_agent_rules_match(const struct pt_agent_rules *r, const char *logger, int level)
{
	if (r->overflow) {
		return true;
	}
	for (unsigned int i = 0; i < r->n; i++) {
		const struct pt_agent_rule *rule = &r->rule[i];
		bool level_ok;

		if (!rule->count) {
			continue;
		}
		switch (rule->loglevel_type) {
		case PT_AGENT_LOGLEVEL_RANGE:
			level_ok = level >= (int32_t)rule->loglevel;
			break;
		case PT_AGENT_LOGLEVEL_SINGLE:
			level_ok = level == (int32_t)rule->loglevel;
			break;
		default:
			level_ok = true;
			break;
		}
		if (level_ok && pt_agent_glob(rule->name, logger)) {
			return true;
		}
	}
	return false;
}

/* ---- LIST reply ---- */

/* A set of names seen, for duplicates across interpreters: open addressing on FNV-1a. */
struct name_set {
	size_t cap; /* power of 2 */
	const char **slot;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	}
	return h;
}

/* true if @name was added, false if already there. */
static bool name_set_add(struct name_set *set, const char *name)
{
	size_t i = (size_t)fnv1a(name) & (set->cap - 1);

	while (set->slot[i]) {
		if (!strcmp(set->slot[i], name)) {
			return false;
		}
		i = (i + 1) & (set->cap - 1);
	}
	set->slot[i] = name;
	return true;
}

uint8_t *pt_agent_encode_list(const struct pt_agent_names *sets, size_t nsets, size_t *size)
{
	struct name_set seen = { 0 };
	size_t total = 0, names = 0, bytes = 0;
	uint32_t count = 0;
	uint8_t *out;

	for (size_t i = 0; i < nsets; i++) {
		total += sets[i].len;
		for (size_t off = 0; off < sets[i].len; off += strnlen(sets[i].names + off,
									 sets[i].len - off) + 1) {
			names++;
		}
	}
	/* Bounded by what the sets hold, never by the peer. */
	if (total > PT_AGENT_LIST_MAX) {
		total = PT_AGENT_LIST_MAX;
	}
	out = malloc(12 + total);
	seen.cap = 16;
	while (seen.cap < 2 * names) {
		seen.cap *= 2;
	}
	seen.slot = calloc(seen.cap, sizeof(*seen.slot));
	if (!out || !seen.slot) {
		free(out);
		free(seen.slot);
		return NULL;
	}
	for (size_t i = 0; i < nsets; i++) {
		const char *p = sets[i].names, *end = p + sets[i].len;

		while (p < end) {
			size_t len = strnlen(p, (size_t)(end - p));

			if (p + len == end) {
				break; /* unterminated tail */
			}
			if (len < PT_AGENT_NAME_LEN && bytes + len + 1 <= total &&
			    name_set_add(&seen, p)) {
				memcpy(out + 12 + bytes, p, len + 1);
				bytes += len + 1;
				count++;
			}
			p += len + 1;
		}
	}
	free(seen.slot);
	put32(out, PT_AGENT_RET_SUCCESS);
	put32(out + 4, (uint32_t)bytes);
	put32(out + 8, count);
	*size = 12 + bytes;
	return out;
}
