/* SPDX-License-Identifier: MIT */
/*
 * sink.pytrace.chrome: a libpytrace trace as JSON that trace viewers and tracing backends load
 * (docs/export.md). format=chrome (default): Chrome trace-event JSON for Perfetto UI and
 * chrome://tracing, a track per thread; format=zipkin: Zipkin v2 spans of requests and spans;
 * format=otlp: the same as an OTLP/JSON ExportTraceServiceRequest.
 *
 * Streamed: each interval is written when it ends, so memory is bounded by the threads' open
 * intervals (their stack depth), never by the size of the trace. Viewers need the complete
 * events of one track to nest: each thread has a track of frames and one of spans and requests
 * (iv_close()).
 *
 * babeltrace2 runs a sink on one thread; no locking.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "sinks.h"

enum format { FMT_CHROME, FMT_ZIPKIN, FMT_OTLP };

/* What an open interval is; frames are matched by kind, spans and requests by id. */
enum iv_kind { IV_PY, IV_C, IV_NATIVE, IV_SPAN, IV_REQUEST };

/* The strings an interval keeps until it ends, in one block. */
enum {
	S_NAME, S_MODULE, S_FILE, S_ATTRS, S_METHOD, S_PATH, S_ENDPOINT, S_RULE, S_TRACE, S_PARENT,
	S_NSTR
};

enum iv_flag { F_CLIPPED = 1, F_UNFINISHED = 2, F_UNSTARTED = 4 };

struct interval {
	enum iv_kind kind;
	int sub;      /* the entry's kind (call, resume, active) */
	int flags;    /* F_CLIPPED once its start moved */
	int64_t ts;   /* start */
	int64_t line; /* first line */
	uint64_t id;  /* span or request id */
	uint64_t addr;
	const char *s[S_NSTR];
	char *block;
	/* zipkin/otlp */
	char trace_id[33], span_id[17], parent_id[17];
};

struct thread {
	int64_t pid, tid;
	int64_t first_ts, last_ts;
	struct interval *stack;
	size_t depth, cap;
	/* a run of `active` entries restates the stack (docs/events.md, Balance) */
	bool restating;
	size_t restate_pos;
	int64_t restate_ts;
	bool span_track; /* its metadata is written */
};

/* The chrome track of a thread's spans and requests: a tid no thread has (Linux's are below
 * 2^22). */
#define SPAN_TRACK (INT64_C(1) << 30)

struct chrome {
	bt_self_component *self;
	bt_message_iterator *iter;
	struct pt_decoder *dec;
	enum format format;
	char *path; /* NULL: stdout */
	char *service;
	bool progress;
	FILE *f;
	char *buf;
	size_t len;
	bool write_error, started, first_item, first_member;
	int write_errno;
	int64_t origin; /* chrome: ts are relative to the trace's first event */
	struct thread **threads; /* open addressing by (pid, tid) */
	size_t nthreads, tcap;
	int64_t *pids;
	size_t npids, pidcap;
	struct timespec progress_at; /* last progress line */
	uint64_t progress_events;
	char error[256];	  /* the first failure inside the decoder's callback */
};

#define OUT_BUF 65536

/* ---- output ---- */

static void out_flush(struct chrome *c)
{
	if (c->len && !c->write_error && fwrite(c->buf, 1, c->len, c->f) != c->len) {
		c->write_error = true;
		c->write_errno = errno;
	}
	c->len = 0;
}

static void out_write(struct chrome *c, const char *p, size_t n)
{
	if (c->len + n > OUT_BUF) {
		out_flush(c);
		if (n > OUT_BUF) {
			if (!c->write_error && fwrite(p, 1, n, c->f) != n) {
				c->write_error = true;
				c->write_errno = errno;
			}
			return;
		}
	}
	memcpy(c->buf + c->len, p, n);
	c->len += n;
}

static void out_str(struct chrome *c, const char *s)
{
	out_write(c, s, strlen(s));
}

static void out_char(struct chrome *c, char ch)
{
	if (c->len == OUT_BUF) {
		out_flush(c);
	}
	c->buf[c->len++] = ch;
}

static void out_i64(struct chrome *c, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);

	out_write(c, tmp, (size_t)n);
}

static void out_u64(struct chrome *c, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);

	out_write(c, tmp, (size_t)n);
}

/* ns as µs with three decimals: a double holds that exactly for any trace shorter than years. */
static void out_us(struct chrome *c, int64_t ns)
{
	char tmp[32];
	uint64_t a = ns < 0 ? -(uint64_t)ns : (uint64_t)ns;
	int n = snprintf(tmp, sizeof(tmp), "%s%" PRIu64 ".%03u", ns < 0 ? "-" : "", a / 1000,
			 (unsigned)(a % 1000));

	out_write(c, tmp, (size_t)n);
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF), 0 when there is none; end bounds the bytes that may be read. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] < 0x80) {
		return 1;
	} else if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		lo = p[0] == 0xe0 ? 0xa0 : 0x80;
		hi = p[0] == 0xed ? 0x9f : 0xbf;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		lo = p[0] == 0xf0 ? 0x90 : 0x80;
		hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi) {
		return 0;
	}
	for (i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf) {
			return 0;
		}
	}
	return n;
}

/* A JSON string of any bytes: escapes per RFC 8259, each byte that starts no valid UTF-8
 * sequence becomes U+FFFD. */
static void out_json_str(struct chrome *c, const char *str)
{
	const unsigned char *p = (const unsigned char *)(str ? str : "");
	const unsigned char *end = p + strlen((const char *)p), *run = p;
	static const char hex[] = "0123456789abcdef";

	out_char(c, '"');
	while (p < end) {
		size_t n;

		if (*p >= 0x20 && *p != '"' && *p != '\\' && *p < 0x80) {
			p++;
			continue;
		}
		n = *p >= 0x80 ? utf8_len(p, end) : 0;
		if (n) {
			p += n;
			continue;
		}
		out_write(c, (const char *)run, (size_t)(p - run));
		switch (*p) {
		case '"': out_str(c, "\\\""); break;
		case '\\': out_str(c, "\\\\"); break;
		case '\n': out_str(c, "\\n"); break;
		case '\r': out_str(c, "\\r"); break;
		case '\t': out_str(c, "\\t"); break;
		case '\b': out_str(c, "\\b"); break;
		case '\f': out_str(c, "\\f"); break;
		default:
			if (*p < 0x20) {
				char esc[7] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15],
						0 };

				out_str(c, esc);
			} else {
				out_str(c, "\xef\xbf\xbd");
			}
		}
		run = ++p;
	}
	out_write(c, (const char *)run, (size_t)(p - run));
	out_char(c, '"');
}

/* ",\n" between the items of the array being streamed. */
static void out_item(struct chrome *c)
{
	out_str(c, c->first_item ? "\n" : ",\n");
	c->first_item = false;
}

/* Objects and arrays: a comma before every member but the first. */
static void out_open(struct chrome *c, char ch)
{
	out_char(c, ch);
	c->first_member = true;
}

static void out_close(struct chrome *c, char ch)
{
	out_char(c, ch);
	c->first_member = false;
}

static void out_sep(struct chrome *c)
{
	if (!c->first_member) {
		out_char(c, ',');
	}
	c->first_member = false;
}

static void out_key(struct chrome *c, const char *key)
{
	out_sep(c);
	out_char(c, '"');
	out_str(c, key);
	out_str(c, "\":");
}

static void out_kv_str(struct chrome *c, const char *key, const char *v)
{
	out_key(c, key);
	out_json_str(c, v);
}

/* ---- attributes: the JSON object of strings that spans and marks record ---- */

typedef void (*member_fn)(struct chrome *c, const char *key, size_t klen, const char *val,
			  size_t vlen, bool is_str);

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
		p++;
	}
	return p;
}

/* A JSON string's body at p (after the quote): the closing quote, or NULL when malformed. */
static const char *scan_string(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	const unsigned char *end = u + strlen(p);

	while (u < end) {
		if (*u == '"') {
			return (const char *)u;
		} else if (*u < 0x20) {
			return NULL;
		} else if (*u == '\\') {
			u++;
			if (*u == 'u') {
				int i;

				for (i = 1; i <= 4; i++) {
					if (!strchr("0123456789abcdefABCDEF", u[i]) || !u[i]) {
						return NULL;
					}
				}
				u += 5;
			} else if (*u && strchr("\"\\/bfnrt", *u)) {
				u++;
			} else {
				return NULL;
			}
		} else {
			size_t n = utf8_len(u, end);

			if (!n) {
				return NULL;
			}
			u += n;
		}
	}
	return NULL;
}

static const char *scan_scalar(const char *p)
{
	static const char *const words[] = { "true", "false", "null" };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (!strncmp(p, words[i], strlen(words[i]))) {
			return p + strlen(words[i]);
		}
	}
	if (*p == '-') {
		p++;
	}
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (*p >= '0' && *p <= '9') {
			p++;
		}
	} else {
		return NULL;
	}
	if (*p == '.') {
		if (!(*++p >= '0' && *p <= '9')) {
			return NULL;
		}
		while (*p >= '0' && *p <= '9') {
			p++;
		}
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-') {
			p++;
		}
		if (!(*p >= '0' && *p <= '9')) {
			return NULL;
		}
		while (*p >= '0' && *p <= '9') {
			p++;
		}
	}
	return p;
}

/* Walks @s as a flat JSON object (members with string, number, true, false or null values),
 * calling @fn with each member's raw key and value text (string bodies still escaped, and
 * valid); -1 without any call when @s is anything else: a trace is outside input. */
static int attrs_walk(struct chrome *c, const char *s, member_fn fn)
{
	int pass;

	for (pass = fn ? 0 : 1; pass < 2; pass++) {
		const char *p = skip_ws(s ? s : "");

		if (*p++ != '{') {
			return -1;
		}
		p = skip_ws(p);
		if (*p == '}') {
			return *skip_ws(p + 1) ? -1 : 0;
		}
		for (;;) {
			const char *key, *kend, *val, *vend;
			bool is_str;

			if (*p != '"' || !(kend = scan_string(key = p + 1))) {
				return -1;
			}
			p = skip_ws(kend + 1);
			if (*p++ != ':') {
				return -1;
			}
			p = skip_ws(p);
			is_str = *p == '"';
			if (is_str) {
				val = p + 1;
				if (!(vend = scan_string(val))) {
					return -1;
				}
				p = vend + 1;
			} else {
				val = p;
				if (!(vend = scan_scalar(val))) {
					return -1;
				}
				p = vend;
			}
			if (pass == 1 && fn) {
				fn(c, key, (size_t)(kend - key), val, (size_t)(vend - val), is_str);
			}
			p = skip_ws(p);
			if (*p == '}') {
				if (*skip_ws(p + 1)) {
					return -1;
				}
				break;
			}
			if (*p++ != ',') {
				return -1;
			}
			p = skip_ws(p);
		}
	}
	return 0;
}

/* chrome args: members as they are */
static void member_raw(struct chrome *c, const char *key, size_t klen, const char *val,
		       size_t vlen, bool is_str)
{
	out_sep(c);
	out_char(c, '"');
	out_write(c, key, klen);
	out_str(c, "\":");
	if (is_str) {
		out_char(c, '"');
	}
	out_write(c, val, vlen);
	if (is_str) {
		out_char(c, '"');
	}
}

/* zipkin tags are strings */
static void member_str(struct chrome *c, const char *key, size_t klen, const char *val,
		       size_t vlen, bool is_str)
{
	(void)is_str;
	out_sep(c);
	out_char(c, '"');
	out_write(c, key, klen);
	out_str(c, "\":\"");
	out_write(c, val, vlen);
	out_char(c, '"');
}

static void member_otlp(struct chrome *c, const char *key, size_t klen, const char *val,
			size_t vlen, bool is_str)
{
	(void)is_str;
	out_sep(c);
	out_str(c, "{\"key\":\"");
	out_write(c, key, klen);
	out_str(c, "\",\"value\":{\"stringValue\":\"");
	out_write(c, val, vlen);
	out_str(c, "\"}}");
}

/* The members of @attrs after what the caller wrote; an @attrs that is no such object is kept
 * whole, as a string member `attrs`. */
static void out_attrs(struct chrome *c, const char *attrs, member_fn fn)
{
	if (attrs_walk(c, attrs, fn) == 0) {
		return;
	} else if (fn == member_otlp) {
		out_sep(c);
		out_str(c, "{\"key\":\"attrs\",\"value\":{\"stringValue\":");
		out_json_str(c, attrs);
		out_str(c, "}}");
	} else {
		out_kv_str(c, "attrs", attrs);
	}
}

/* ---- ids (zipkin, otlp) ---- */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Deterministic, so that the same trace exports the same ids; the start time keeps requests of
 * two runs whose pids and counters coincide apart. */
static uint64_t derive_id(uint64_t salt, int64_t pid, uint64_t id, int64_t ts)
{
	uint64_t h = mix64(mix64(mix64(salt ^ (uint64_t)pid) ^ id) ^ (uint64_t)ts);

	return h ? h : 1;
}

static void hex64(char *out, uint64_t v)
{
	snprintf(out, 17, "%016" PRIx64, v);
}

/* W3C ids: n lowercase hex digits, not all zero (what libpytrace records, but a trace is
 * outside input). */
static bool valid_hex_id(const char *s, size_t n)
{
	bool nonzero = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
		nonzero |= s[i] != '0';
	}
	return !s[n] && nonzero;
}

/* ---- threads ---- */

static void fail(struct chrome *c, const char *fmt, ...)
{
	va_list ap;

	if (c->error[0]) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
}

static void chrome_metadata(struct chrome *c, const char *what, int64_t pid, int64_t tid,
			    const char *fmt, int64_t v)
{
	char name[48];

	snprintf(name, sizeof(name), fmt, v);
	out_item(c);
	out_open(c, '{');
	out_kv_str(c, "ph", "M");
	out_kv_str(c, "name", what);
	out_key(c, "pid");
	out_i64(c, pid);
	out_key(c, "tid");
	out_i64(c, tid);
	out_key(c, "args");
	out_open(c, '{');
	out_kv_str(c, "name", name);
	out_close(c, '}');
	out_close(c, '}');
}

static void new_thread_metadata(struct chrome *c, const struct thread *th)
{
	size_t i;

	for (i = 0; i < c->npids && c->pids[i] != th->pid; i++) {
	}
	if (i == c->npids) {
		if (c->npids == c->pidcap) {
			size_t cap = c->pidcap ? 2 * c->pidcap : 8;
			int64_t *p = realloc(c->pids, cap * sizeof(*p));

			if (!p) {
				fail(c, "out of memory");
				return;
			}
			c->pids = p;
			c->pidcap = cap;
		}
		c->pids[c->npids++] = th->pid;
		chrome_metadata(c, "process_name", th->pid, th->pid, "pid %" PRId64, th->pid);
	}
	chrome_metadata(c, "thread_name", th->pid, th->tid,
			th->tid == th->pid ? "main %" PRId64 : "thread %" PRId64, th->tid);
}

static size_t thread_slot(struct thread **tab, size_t cap, int64_t pid, int64_t tid)
{
	size_t i = mix64((uint64_t)pid * 0x100000001b3ull ^ (uint64_t)tid) & (cap - 1);

	while (tab[i] && !(tab[i]->pid == pid && tab[i]->tid == tid)) {
		i = (i + 1) & (cap - 1);
	}
	return i;
}

static struct thread *thread_get(struct chrome *c, const struct pt_event *ev)
{
	struct thread *th;
	size_t i;

	if (2 * (c->nthreads + 1) > c->tcap) {
		size_t cap = c->tcap ? 2 * c->tcap : 64;
		struct thread **tab = calloc(cap, sizeof(*tab));

		if (!tab) {
			fail(c, "out of memory");
			return NULL;
		}
		for (i = 0; i < c->tcap; i++) {
			if (c->threads[i]) {
				tab[thread_slot(tab, cap, c->threads[i]->pid, c->threads[i]->tid)] =
					c->threads[i];
			}
		}
		free(c->threads);
		c->threads = tab;
		c->tcap = cap;
	}
	i = thread_slot(c->threads, c->tcap, ev->pid, ev->tid);
	if (c->threads[i]) {
		return c->threads[i];
	}
	th = calloc(1, sizeof(*th));
	if (!th) {
		fail(c, "out of memory");
		return NULL;
	}
	th->pid = ev->pid;
	th->tid = ev->tid;
	th->first_ts = th->last_ts = ev->ts;
	c->threads[i] = th;
	c->nthreads++;
	if (c->format == FMT_CHROME) {
		new_thread_metadata(c, th);
	}
	return th;
}

/* ---- intervals ---- */

static const char *nz(const char *s)
{
	return s ? s : "";
}

static struct interval *iv_push(struct chrome *c, struct thread *th, enum iv_kind kind,
				const struct pt_event *ev)
{
	const char *src[S_NSTR] = { 0 };
	size_t lens[S_NSTR], total = 0, i;
	struct interval *iv;
	char *p;

	if (th->depth == th->cap) {
		size_t cap = th->cap ? 2 * th->cap : 16;
		struct interval *st = realloc(th->stack, cap * sizeof(*st));

		if (!st) {
			fail(c, "out of memory");
			return NULL;
		}
		th->stack = st;
		th->cap = cap;
	}
	src[S_NAME] = ev->name;
	if (kind == IV_PY) {
		src[S_MODULE] = ev->module;
		src[S_FILE] = ev->file;
	} else if (kind == IV_SPAN) {
		src[S_ATTRS] = ev->detail;
	} else if (kind == IV_REQUEST) {
		src[S_METHOD] = ev->method;
		src[S_PATH] = ev->path;
		src[S_ENDPOINT] = ev->endpoint;
		src[S_RULE] = ev->rule;
		src[S_TRACE] = ev->trace_id;
		src[S_PARENT] = ev->parent_id;
	}
	for (i = 0; i < S_NSTR; i++) {
		lens[i] = strlen(nz(src[i]));
		total += lens[i] + 1;
	}
	if (kind == IV_REQUEST) {
		/* named by its route, so that the requests of one route group together */
		lens[S_NAME] = lens[S_METHOD] + 1 + (lens[S_RULE] ? lens[S_RULE] : lens[S_PATH]);
		total += lens[S_NAME];
	}
	iv = &th->stack[th->depth];
	memset(iv, 0, sizeof(*iv));
	iv->block = p = malloc(total);
	if (!p) {
		fail(c, "out of memory");
		return NULL;
	}
	for (i = 0; i < S_NSTR; i++) {
		iv->s[i] = p;
		if (i == S_NAME && kind == IV_REQUEST) {
			snprintf(p, lens[i] + 1, "%s %s", nz(ev->method),
				 lens[S_RULE] ? ev->rule : nz(ev->path));
		} else {
			memcpy(p, nz(src[i]), lens[i] + 1);
		}
		p += lens[i] + 1;
	}
	iv->kind = kind;
	iv->sub = ev->sub;
	iv->ts = ev->ts;
	iv->line = ev->line;
	iv->id = ev->id;
	iv->addr = ev->addr;
	th->depth++;
	return iv;
}

/* zipkin, otlp: the ids of a new span or request, in the trace of the spans and requests that
 * enclose it on its thread (the outermost gives the trace, the innermost is the parent). */
static void iv_ids(struct thread *th, struct interval *iv)
{
	struct interval *outer = NULL, *inner = NULL;
	size_t i;

	for (i = 0; i + 1 < th->depth; i++) {
		if (th->stack[i].kind == IV_SPAN || th->stack[i].kind == IV_REQUEST) {
			outer = outer ? outer : &th->stack[i];
			inner = &th->stack[i];
		}
	}
	hex64(iv->span_id, derive_id(iv->kind == IV_REQUEST ? 0x52 : 0x53, th->pid, iv->id,
				     iv->ts));
	if (iv->kind == IV_REQUEST && valid_hex_id(iv->s[S_TRACE], 32)) {
		/* the caller's trace (W3C traceparent) */
		memcpy(iv->trace_id, iv->s[S_TRACE], 33);
		if (valid_hex_id(iv->s[S_PARENT], 16)) {
			memcpy(iv->parent_id, iv->s[S_PARENT], 17);
		}
	} else if (outer) {
		memcpy(iv->trace_id, outer->trace_id, 33);
		memcpy(iv->parent_id, inner->span_id, 17);
	} else {
		hex64(iv->trace_id, derive_id(0x54, th->pid, iv->id, iv->ts));
		hex64(iv->trace_id + 16, derive_id(0x55, th->pid, iv->id, iv->ts));
	}
}

static bool is_frame(const struct interval *iv)
{
	return iv->kind == IV_PY || iv->kind == IV_C || iv->kind == IV_NATIVE;
}

static const char *const entry_kinds[] = { "call", "resume", "active" };
static const char *const return_kinds[] = { "return", "yield", "unwind", "detach" };

static void out_flags(struct chrome *c, int flags)
{
	static const char *const names[] = { "clipped", "unfinished", "unstarted" };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (flags & (1 << i)) {
			out_key(c, names[i]);
			out_str(c, "true");
		}
	}
}

/* One complete event. @end_ev is the event that ends it (NULL when the sink closes it). */
static void chrome_interval(struct chrome *c, const struct thread *th, const struct interval *iv,
			    int64_t end, int flags, const struct pt_event *end_ev)
{
	static const char *const cats[] = { "python", "c", "native", "span", "request" };
	char addr[24];

	out_item(c);
	out_open(c, '{');
	out_kv_str(c, "ph", "X");
	out_kv_str(c, "name", iv->s[S_NAME]);
	out_kv_str(c, "cat", cats[iv->kind]);
	out_key(c, "ts");
	out_us(c, iv->ts - c->origin);
	out_key(c, "dur");
	out_us(c, end - iv->ts);
	out_key(c, "pid");
	out_i64(c, th->pid);
	out_key(c, "tid");
	out_i64(c, th->tid + (is_frame(iv) ? 0 : SPAN_TRACK));
	out_key(c, "args");
	out_open(c, '{');
	switch (iv->kind) {
	case IV_PY:
		out_kv_str(c, "module", iv->s[S_MODULE]);
		out_kv_str(c, "file", iv->s[S_FILE]);
		out_key(c, "line");
		out_i64(c, iv->line);
		/* fall through */
	case IV_C:
		if (iv->sub > 0 && iv->sub < 3) {
			out_kv_str(c, "entry", entry_kinds[iv->sub]);
		}
		if (end_ev && end_ev->sub > 0 && end_ev->sub < 4) {
			out_kv_str(c, "return", return_kinds[end_ev->sub]);
		}
		break;
	case IV_NATIVE:
		snprintf(addr, sizeof(addr), "0x%" PRIx64, iv->addr);
		out_kv_str(c, "addr", addr);
		break;
	case IV_SPAN:
		out_attrs(c, iv->s[S_ATTRS], member_raw);
		break;
	case IV_REQUEST:
		out_kv_str(c, "method", iv->s[S_METHOD]);
		out_kv_str(c, "path", iv->s[S_PATH]);
		out_kv_str(c, "endpoint", iv->s[S_ENDPOINT]);
		out_kv_str(c, "rule", iv->s[S_RULE]);
		if (end_ev) {
			out_key(c, "status");
			out_i64(c, end_ev->status);
			out_kv_str(c, "error", nz(end_ev->error));
		}
		out_kv_str(c, "trace_id", iv->s[S_TRACE]);
		out_kv_str(c, "parent_span_id", iv->s[S_PARENT]);
		break;
	}
	out_flags(c, flags | iv->flags);
	out_close(c, '}');
	out_close(c, '}');
}

static void zipkin_span(struct chrome *c, const struct thread *th, const struct interval *iv,
			int64_t end, int flags, const struct pt_event *end_ev)
{
	int64_t dur = (end - iv->ts + 500) / 1000;
	char num[24];

	out_item(c);
	out_open(c, '{');
	out_kv_str(c, "traceId", iv->trace_id);
	out_kv_str(c, "id", iv->span_id);
	if (iv->parent_id[0]) {
		out_kv_str(c, "parentId", iv->parent_id);
	}
	if (iv->kind == IV_REQUEST) {
		out_kv_str(c, "kind", "SERVER");
	}
	out_kv_str(c, "name", iv->s[S_NAME]);
	out_key(c, "timestamp");
	out_i64(c, iv->ts / 1000);
	out_key(c, "duration");
	out_i64(c, dur > 0 ? dur : 1);
	out_key(c, "localEndpoint");
	out_open(c, '{');
	out_kv_str(c, "serviceName", c->service);
	out_close(c, '}');
	out_key(c, "tags");
	out_open(c, '{');
	if (iv->kind == IV_REQUEST) {
		out_kv_str(c, "http.method", iv->s[S_METHOD]);
		out_kv_str(c, "http.path", iv->s[S_PATH]);
		if (iv->s[S_RULE][0]) {
			out_kv_str(c, "http.route", iv->s[S_RULE]);
		}
		if (end_ev) {
			snprintf(num, sizeof(num), "%" PRId64, end_ev->status);
			out_kv_str(c, "http.status_code", num);
			if (nz(end_ev->error)[0]) {
				out_kv_str(c, "error", end_ev->error);
			}
		}
	} else {
		out_attrs(c, iv->s[S_ATTRS], member_str);
	}
	snprintf(num, sizeof(num), "%" PRId64, th->tid);
	out_kv_str(c, "thread.id", num);
	if (flags & F_UNFINISHED) {
		out_kv_str(c, "pytrace.unfinished", "true");
	}
	out_close(c, '}');
	out_close(c, '}');
}

static void otlp_attr(struct chrome *c, const char *key, const char *type, const char *value)
{
	out_sep(c);
	out_open(c, '{');
	out_kv_str(c, "key", key);
	out_key(c, "value");
	out_open(c, '{');
	out_kv_str(c, type, value);
	out_close(c, '}');
	out_close(c, '}');
}

static void otlp_span(struct chrome *c, const struct thread *th, const struct interval *iv,
		      int64_t end, int flags, const struct pt_event *end_ev)
{
	char num[24];

	out_item(c);
	out_open(c, '{');
	out_kv_str(c, "traceId", iv->trace_id);
	out_kv_str(c, "spanId", iv->span_id);
	if (iv->parent_id[0]) {
		out_kv_str(c, "parentSpanId", iv->parent_id);
	}
	out_kv_str(c, "name", iv->s[S_NAME]);
	out_key(c, "kind");
	out_str(c, iv->kind == IV_REQUEST ? "2" : "1");
	snprintf(num, sizeof(num), "%" PRId64, iv->ts);
	out_kv_str(c, "startTimeUnixNano", num);
	snprintf(num, sizeof(num), "%" PRId64, end);
	out_kv_str(c, "endTimeUnixNano", num);
	out_key(c, "attributes");
	out_open(c, '[');
	if (iv->kind == IV_REQUEST) {
		otlp_attr(c, "http.method", "stringValue", iv->s[S_METHOD]);
		if (iv->s[S_RULE][0]) {
			otlp_attr(c, "http.route", "stringValue", iv->s[S_RULE]);
		}
		otlp_attr(c, "http.target", "stringValue", iv->s[S_PATH]);
		if (end_ev) {
			snprintf(num, sizeof(num), "%" PRId64, end_ev->status);
			otlp_attr(c, "http.status_code", "intValue", num);
		}
	} else {
		out_attrs(c, iv->s[S_ATTRS], member_otlp);
	}
	snprintf(num, sizeof(num), "%" PRId64, th->tid);
	otlp_attr(c, "thread.id", "intValue", num);
	if (flags & F_UNFINISHED) {
		out_sep(c);
		out_str(c, "{\"key\":\"pytrace.unfinished\",\"value\":{\"boolValue\":true}}");
	}
	out_close(c, ']');
	if (end_ev && iv->kind == IV_REQUEST && nz(end_ev->error)[0]) {
		out_key(c, "status");
		out_open(c, '{');
		out_key(c, "code");
		out_str(c, "2");
		out_kv_str(c, "message", end_ev->error);
		out_close(c, '}');
	}
	out_close(c, '}');
}

static void iv_emit(struct chrome *c, const struct thread *th, const struct interval *iv,
		    int64_t end, int flags, const struct pt_event *end_ev)
{
	if (end < iv->ts) {
		end = iv->ts; /* a clock that went back: an empty interval, never a negative one */
	}
	if (c->format == FMT_CHROME) {
		chrome_interval(c, th, iv, end, flags, end_ev);
	} else if (c->format == FMT_ZIPKIN) {
		zipkin_span(c, th, iv, end, flags, end_ev);
	} else {
		otlp_span(c, th, iv, end, flags, end_ev);
	}
}

/* Ends stack[i] at @ts. The chrome format keeps each of a thread's two tracks nested (frames;
 * spans and requests, which need not nest with frames: a request begins and ends in hooks of
 * the framework's own frames): intervals of its track still open above it are frames whose
 * end was never recorded (they end with it, unfinished) or spans that go on from its end
 * (clipped). Zipkin and otlp need no nesting and keep the recorded times. */
static void iv_close(struct chrome *c, struct thread *th, size_t i, int64_t ts, int flags,
		     const struct pt_event *end_ev)
{
	struct interval *st = th->stack;
	int64_t end = ts;
	size_t j, k;

	for (j = th->depth - 1; c->format == FMT_CHROME && j > i && j < th->depth; j--) {
		if (is_frame(&st[j]) != is_frame(&st[i])) {
			continue;
		} else if (is_frame(&st[j])) {
			iv_emit(c, th, &st[j], ts, F_UNFINISHED, NULL);
			free(st[j].block);
			st[j].block = NULL;
		} else if (st[j].ts < ts) {
			st[j].ts = ts;
			st[j].flags |= F_CLIPPED;
		}
	}
	iv_emit(c, th, &st[i], end, flags, end_ev);
	free(st[i].block);
	st[i].block = NULL;
	/* drop what ended */
	for (j = k = i; j < th->depth; j++) {
		if (st[j].block) {
			st[k++] = st[j];
		}
	}
	th->depth = k;
}

/* Ends every interval from @from up, innermost first, at @ts. */
static void iv_close_from(struct chrome *c, struct thread *th, size_t from, int64_t ts, int flags)
{
	while (th->depth > from) {
		iv_close(c, th, th->depth - 1, ts, flags, NULL);
	}
}

/* The innermost open interval of @kind (and @id for spans and requests), or depth if none. */
static size_t iv_find(const struct thread *th, enum iv_kind kind, uint64_t id)
{
	size_t i = th->depth;

	while (i-- > 0) {
		const struct interval *iv = &th->stack[i];

		if (iv->kind == kind && ((kind != IV_SPAN && kind != IV_REQUEST) || iv->id == id)) {
			return i;
		}
	}
	return th->depth;
}

/* ---- events ---- */

/* A run of `active` entries restates the thread's stack (docs/events.md, Balance): frames
 * still open that it restates stay open, the others ended while nobody recorded. Returns
 * whether @ev restated a frame that is open. */
static bool restate(struct chrome *c, struct thread *th, const struct pt_event *ev,
		    enum iv_kind kind)
{
	size_t pos;

	if (!th->restating) {
		th->restating = true;
		th->restate_pos = 0;
		th->restate_ts = th->last_ts;
	}
	for (pos = th->restate_pos; pos < th->depth; pos++) {
		if (th->stack[pos].kind == IV_PY || th->stack[pos].kind == IV_C) {
			break;
		}
	}
	if (pos < th->depth && th->stack[pos].kind == kind &&
	    !strcmp(th->stack[pos].s[S_NAME], nz(ev->name))) {
		th->restate_pos = pos + 1;
		return true;
	}
	iv_close_from(c, th, pos, th->restate_ts, F_UNFINISHED);
	th->restate_pos = th->depth + 1; /* past the entry about to be pushed */
	return false;
}

static void end_restate(struct chrome *c, struct thread *th)
{
	th->restating = false;
	iv_close_from(c, th, th->restate_pos, th->restate_ts, F_UNFINISHED);
}

/* An end without its beginning (a frame active before the trace starts): it began no later
 * than the thread's first event, or within the interval of its track open when it ends, so
 * that it nests. */
static void end_unstarted(struct chrome *c, struct thread *th, enum iv_kind kind,
			  const struct pt_event *ev)
{
	bool frame = kind == IV_PY || kind == IV_C || kind == IV_NATIVE;
	int64_t start = th->first_ts;
	struct interval *iv;
	size_t i;

	for (i = th->depth; i-- > 0;) {
		if (is_frame(&th->stack[i]) == frame) {
			start = th->stack[i].ts;
			break;
		}
	}
	/* a request's exit has its duration: exact, where nesting allows (zipkin, otlp: always) */
	if (kind == IV_REQUEST && ev->duration_ns &&
	    ((int64_t)ev->duration_ns <= ev->ts - start || c->format != FMT_CHROME)) {
		start = ev->ts - (int64_t)ev->duration_ns;
	}
	iv = iv_push(c, th, kind, ev);
	if (!iv) {
		return;
	}
	iv->ts = start;
	if (c->format != FMT_CHROME) {
		iv_ids(th, iv);
	}
	iv_close(c, th, th->depth - 1, ev->ts, F_UNSTARTED, ev);
}

static void end_interval(struct chrome *c, struct thread *th, enum iv_kind kind,
			 const struct pt_event *ev)
{
	size_t i = iv_find(th, kind, ev->id);

	if (i == th->depth) {
		end_unstarted(c, th, kind, ev);
	} else {
		iv_close(c, th, i, ev->ts, 0, ev);
	}
}

static void chrome_instant(struct chrome *c, const struct thread *th, const struct pt_event *ev)
{
	out_item(c);
	out_open(c, '{');
	out_kv_str(c, "ph", "i");
	out_kv_str(c, "s", th ? "t" : "p");
	out_kv_str(c, "name", ev->kind == PT_LOG && !nz(ev->name)[0] ? "(log)" : ev->name);
	out_kv_str(c, "cat", ev->kind == PT_EXCEPTION ? "exception" :
			     ev->kind == PT_LOG ? "log" : "mark");
	out_key(c, "ts");
	out_us(c, ev->ts - c->origin);
	out_key(c, "pid");
	out_i64(c, ev->pid);
	out_key(c, "tid");
	out_i64(c, th ? th->tid : ev->pid);
	out_key(c, "args");
	out_open(c, '{');
	if (ev->kind == PT_EXCEPTION) {
		out_kv_str(c, "function", ev->detail);
		out_kv_str(c, "module", ev->module);
		out_kv_str(c, "file", ev->file);
		out_key(c, "line");
		out_i64(c, ev->line);
	} else if (ev->kind == PT_LOG) {
		out_kv_str(c, "logger", ev->detail);
		out_key(c, "level");
		out_i64(c, ev->level);
		out_kv_str(c, "msg", ev->name);
	} else {
		out_attrs(c, ev->detail, member_raw);
	}
	out_close(c, '}');
	out_close(c, '}');
}

static void on_event(const struct pt_event *ev, void *data)
{
	struct chrome *c = data;
	bool chrome = c->format == FMT_CHROME;
	struct thread *th = NULL;
	struct interval *iv;
	bool entry_active;

	if (c->error[0]) {
		return;
	}
	if (!c->started) { /* a trace whose events have no clock */
		c->started = true;
		c->origin = ev->ts;
	}
	if (ev->kind == PT_LOG && ev->tid < 0) {
		/* a logging record whose channel has no vtid context: the process's */
		if (chrome) {
			chrome_instant(c, NULL, ev);
		}
		return;
	}
	th = thread_get(c, ev);
	if (!th) {
		return;
	}
	entry_active = (ev->kind == PT_ENTRY || ev->kind == PT_C_ENTRY) && ev->sub == 2;
	if (th->restating && !entry_active) {
		end_restate(c, th);
	}
	switch (ev->kind) {
	case PT_ENTRY:
	case PT_C_ENTRY:
		if (chrome) {
			enum iv_kind kind = ev->kind == PT_ENTRY ? IV_PY : IV_C;

			if (!entry_active || !restate(c, th, ev, kind)) {
				iv_push(c, th, kind, ev);
			}
		}
		break;
	case PT_NATIVE_ENTRY:
		if (chrome) {
			iv_push(c, th, IV_NATIVE, ev);
		}
		break;
	case PT_RETURN:
	case PT_C_RETURN:
	case PT_NATIVE_RETURN:
		if (chrome) {
			end_interval(c, th, ev->kind == PT_RETURN ? IV_PY :
					    ev->kind == PT_C_RETURN ? IV_C : IV_NATIVE, ev);
		}
		break;
	case PT_SPAN_BEGIN:
	case PT_REQUEST_ENTRY:
		iv = iv_push(c, th, ev->kind == PT_SPAN_BEGIN ? IV_SPAN : IV_REQUEST, ev);
		if (iv && !chrome) {
			iv_ids(th, iv);
		} else if (iv && !th->span_track) {
			th->span_track = true;
			chrome_metadata(c, "thread_name", th->pid, th->tid + SPAN_TRACK,
					"spans of %" PRId64, th->tid);
		}
		break;
	case PT_SPAN_END:
	case PT_REQUEST_EXIT:
		end_interval(c, th, ev->kind == PT_SPAN_END ? IV_SPAN : IV_REQUEST, ev);
		break;
	case PT_EXCEPTION:
	case PT_LOG:
	case PT_MARK:
		if (chrome) {
			chrome_instant(c, th, ev);
		}
		break;
	}
	if (ev->ts > th->last_ts) {
		th->last_ts = ev->ts;
	}
	if (c->write_error) {
		fail(c, "cannot write %s: %s", c->path ? c->path : "stdout",
		     strerror(c->write_errno));
	}
}

/* ---- the component ---- */

static const char *const format_names[] = { "chrome", "zipkin", "otlp" };

static void header(struct chrome *c)
{
	if (c->format == FMT_CHROME) {
		out_str(c, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[");
	} else if (c->format == FMT_ZIPKIN) {
		out_str(c, "[");
	} else {
		out_str(c, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":"
			   "\"service.name\",\"value\":{\"stringValue\":");
		out_json_str(c, c->service);
		out_str(c, "}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"libpytrace\"},\"spans\":[");
	}
	c->first_item = true;
}

static void trailer(struct chrome *c, const struct pt_decoder_stats *st)
{
	if (c->format == FMT_CHROME) {
		/* ts are relative to the first event: the absolute time would not keep ns in a
		 * double */
		out_str(c, "\n],\"otherData\":{\"origin_ns\":\"");
		out_i64(c, c->origin);
		out_str(c, "\",\"events\":\"");
		out_u64(c, st->events);
		out_str(c, "\",\"events_lost\":\"");
		out_u64(c, st->discarded_events);
		out_str(c, "\"}}\n");
	} else if (c->format == FMT_ZIPKIN) {
		out_str(c, "\n]\n");
	} else {
		out_str(c, "\n]}]}]}\n");
	}
}

static void destroy(struct chrome *c)
{
	size_t i, j;

	if (!c) {
		return;
	}
	bt_message_iterator_put_ref(c->iter);
	pt_decoder_destroy(c->dec);
	for (i = 0; i < c->tcap; i++) {
		struct thread *th = c->threads[i];

		if (th) {
			for (j = 0; j < th->depth; j++) {
				free(th->stack[j].block);
			}
			free(th->stack);
			free(th);
		}
	}
	free(c->threads);
	free(c->pids);
	if (c->f && c->f != stdout) {
		fclose(c->f);
	}
	free(c->buf);
	free(c->path);
	free(c->service);
	free(c);
}

static bt_value_map_foreach_entry_const_func_status check_key(const char *key,
							      const bt_value *v, void *data)
{
	static const char *const known[] = { "format", "path", "progress", "service" };
	struct chrome *c = data;
	size_t i;

	(void)v;
	for (i = 0; i < 4; i++) {
		if (!strcmp(key, known[i])) {
			return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_OK;
		}
	}
	/* the cause is appended after the loop: an interrupting function must not set one */
	snprintf(c->error, sizeof(c->error), "%s", key);
	return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_INTERRUPT;
}

/* The string parameter @key into *@out (strdup), or @def when absent; false on a wrong type. */
static bool param_str(struct chrome *c, const bt_value *params, const char *key, const char *def,
		      char **out)
{
	const bt_value *v = bt_value_map_borrow_entry_value_const(params, key);

	if (v && !bt_value_is_string(v)) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(c->self,
			"sink.pytrace.chrome: parameter `%s` must be a string (quote it: "
			"-p '%s=\"...\"')", key, key);
		return false;
	}
	*out = v ? strdup(bt_value_string_get(v)) : def ? strdup(def) : NULL;
	if ((v || def) && !*out) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(c->self,
			"sink.pytrace.chrome: out of memory");
		return false;
	}
	return true;
}

static bool configure(struct chrome *c, const bt_value *params)
{
	const bt_value *v;
	char *format = NULL;
	size_t i;

	if (bt_value_map_foreach_entry_const(params, check_key, c) !=
	    BT_VALUE_MAP_FOREACH_ENTRY_CONST_STATUS_OK) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(c->self,
			"sink.pytrace.chrome: unknown parameter `%s` (known: format, path, "
			"progress, service)", c->error);
		return false;
	}
	if (!param_str(c, params, "format", "chrome", &format)) {
		return false;
	}
	for (i = 0; i < 3 && strcmp(format, format_names[i]); i++) {
	}
	if (i == 3) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(c->self,
			"sink.pytrace.chrome: unknown format \"%s\" (chrome, zipkin or otlp)",
			format);
		free(format);
		return false;
	}
	free(format);
	c->format = (enum format)i;
	if (!param_str(c, params, "service", "python", &c->service) ||
	    !param_str(c, params, "path", NULL, &c->path)) {
		return false;
	}
	v = bt_value_map_borrow_entry_value_const(params, "progress");
	if (v && !bt_value_is_bool(v)) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(c->self,
			"sink.pytrace.chrome: parameter `progress` must be a boolean (yes/no)");
		return false;
	}
	c->progress = v && bt_value_bool_get(v);
	if (c->path && !c->path[0]) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(c->self,
			"sink.pytrace.chrome: parameter `path` is empty");
		return false;
	}
	c->f = c->path ? fopen(c->path, "w") : stdout;
	if (!c->f) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(c->self,
			"sink.pytrace.chrome: cannot open \"%s\" for writing: %s", c->path,
			strerror(errno));
		return false;
	}
	return true;
}

bt_component_class_initialize_method_status pt_chrome_init(bt_self_component_sink *self,
	bt_self_component_sink_configuration *config, const bt_value *params, void *init_data)
{
	struct chrome *c = calloc(1, sizeof(*c));

	(void)config;
	(void)init_data;
	if (!c) {
		return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_MEMORY_ERROR;
	}
	c->self = bt_self_component_sink_as_self_component(self);
	c->buf = malloc(OUT_BUF);
	c->dec = pt_decoder_create(on_event, c);
	if (!c->buf || !c->dec) {
		destroy(c);
		return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_MEMORY_ERROR;
	}
	if (!configure(c, params)) {
		destroy(c);
		return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_ERROR;
	}
	if (bt_self_component_sink_add_input_port(self, "in", NULL, NULL) !=
	    BT_SELF_COMPONENT_ADD_PORT_STATUS_OK) {
		destroy(c);
		return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_ERROR;
	}
	header(c);
	clock_gettime(CLOCK_MONOTONIC, &c->progress_at);
	bt_self_component_set_data(c->self, c);
	return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_OK;
}

void pt_chrome_finalize(bt_self_component_sink *self)
{
	destroy(bt_self_component_get_data(bt_self_component_sink_as_self_component(self)));
}

bt_component_class_sink_graph_is_configured_method_status
pt_chrome_configured(bt_self_component_sink *self)
{
	struct chrome *c =
		bt_self_component_get_data(bt_self_component_sink_as_self_component(self));
	bt_self_component_port_input *port =
		bt_self_component_sink_borrow_input_port_by_name(self, "in");

	if (bt_message_iterator_create_from_sink_component(self, port, &c->iter) !=
	    BT_MESSAGE_ITERATOR_CREATE_FROM_SINK_COMPONENT_STATUS_OK) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(c->self,
			"sink.pytrace.chrome: cannot create the input's message iterator");
		return BT_COMPONENT_CLASS_SINK_GRAPH_IS_CONFIGURED_METHOD_STATUS_ERROR;
	}
	return BT_COMPONENT_CLASS_SINK_GRAPH_IS_CONFIGURED_METHOD_STATUS_OK;
}

static bt_component_class_sink_consume_method_status error(struct chrome *c, const char *what)
{
	out_flush(c);
	BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(c->self, "sink.pytrace.chrome: %s",
							    what);
	return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_ERROR;
}

/* "N events read (R/s)" on stderr, once a second. */
static void progress(struct chrome *c)
{
	struct timespec now;
	uint64_t n = pt_decoder_stats(c->dec)->messages;
	double dt;

	clock_gettime(CLOCK_MONOTONIC, &now);
	dt = (double)(now.tv_sec - c->progress_at.tv_sec) +
	     (double)(now.tv_nsec - c->progress_at.tv_nsec) / 1e9;
	if (dt >= 1.0) {
		fprintf(stderr, "%" PRIu64 " events read (%.0f/s)\n", n,
			(double)(n - c->progress_events) / dt);
		c->progress_events = n;
		c->progress_at = now;
	}
}

/* The end of the trace: what the decoder held back, then the frames still open, each closed
 * at its thread's last event. */
static bt_component_class_sink_consume_method_status finish(struct chrome *c)
{
	const struct pt_decoder_stats *st;
	size_t i;

	if (pt_decoder_finish(c->dec)) {
		return error(c, pt_decoder_error(c->dec));
	}
	for (i = 0; i < c->tcap && !c->error[0]; i++) {
		struct thread *th = c->threads[i];

		if (th) {
			th->restating = false;
			iv_close_from(c, th, 0, th->last_ts, F_UNFINISHED);
		}
	}
	if (c->error[0]) {
		return error(c, c->error);
	}
	st = pt_decoder_stats(c->dec);
	trailer(c, st);
	out_flush(c);
	if (!c->write_error && (fflush(c->f) || ferror(c->f))) {
		c->write_error = true;
		c->write_errno = errno;
	}
	if (c->write_error) {
		char msg[300];

		snprintf(msg, sizeof(msg), "cannot write %s: %s", c->path ? c->path : "stdout",
			 strerror(c->write_errno));
		return error(c, msg);
	}
	if (!st->ours) {
		fprintf(stderr, "pytrace: no libpytrace events in this trace\n");
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(c->self,
			"sink.pytrace.chrome: no libpytrace events in this trace (%" PRIu64
			" events read): was `lttng enable-event -u 'python:*'` on?", st->messages);
		return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_ERROR;
	}
	fprintf(stderr, "pytrace: %" PRIu64 " events, %" PRIu64 " threads", st->events,
		st->threads);
	if (st->unknown_codes) {
		fprintf(stderr, ", %" PRIu64 " records of undefined code", st->unknown_codes);
	}
	/* the summary as sink.pytrace.stack words it */
	if (st->discarded_events) {
		fprintf(stderr, ", %" PRIu64 " events lost (discarded by LTTng)",
			st->discarded_events);
	}
	if (st->discarded_packets) {
		fprintf(stderr, ", %" PRIu64 " packets lost", st->discarded_packets);
	}
	fputc('\n', stderr);
	return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_END;
}

bt_component_class_sink_consume_method_status pt_chrome_consume(bt_self_component_sink *self)
{
	struct chrome *c =
		bt_self_component_get_data(bt_self_component_sink_as_self_component(self));
	bt_message_array_const msgs;
	uint64_t count, i;
	int err = 0;

	switch (bt_message_iterator_next(c->iter, &msgs, &count)) {
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_OK:
		break;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_END:
		return finish(c);
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_AGAIN:
		return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_AGAIN;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_MEMORY_ERROR:
		return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_MEMORY_ERROR;
	default:
		return error(c, "cannot read the trace (see the causes above)");
	}
	for (i = 0; i < count; i++) {
		if (!c->started && bt_message_get_type(msgs[i]) == BT_MESSAGE_TYPE_EVENT &&
		    bt_message_event_borrow_stream_class_default_clock_class_const(msgs[i])) {
			/* The trace's first event: the decoder may deliver a thread's fast-mode
			 * records, stamped earlier, after another thread's later events. */
			c->started = !bt_clock_snapshot_get_ns_from_origin(
				bt_message_event_borrow_default_clock_snapshot_const(msgs[i]),
				&c->origin);
		}
		if (!err) {
			err = pt_decoder_push(c->dec, msgs[i]);
		}
		bt_message_put_ref(msgs[i]);
	}
	if (err) {
		return error(c, pt_decoder_error(c->dec));
	}
	if (c->error[0]) {
		return error(c, c->error);
	}
	if (c->progress) {
		progress(c);
	}
	return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_OK;
}
