/* SPDX-License-Identifier: MIT */
/*
 * sink.pytrace.stack: what `pytrace view` prints. Every event of a libpytrace trace as one line
 * of an indented call stack, in time order (decode.h), on stdout:
 *
 *   thread 5207:
 *     -> Shop.checkout  shop.py:23
 *       -> Shop.items  shop.py:14
 *       <- 4.7 us [yield]
 *       !! __main__.OutOfStock in Shop.take line 20
 *
 * Threads interleave: a `thread TID:` header is printed each time the thread changes, so a
 * thread may have several sections. Return lines give the duration and the kind, no line
 * number (fast mode records none), so both modes print the same lines. Parameters: `color` (bool, default: stdout is a terminal),
 * `path` ("base": file base names, the default; "full"; any other string: a prefix stripped
 * from file names), `progress` (bool: events read, on stderr at most once a second); others
 * are an error. A summary goes to stderr; a trace with no libpytrace event is an error.
 *
 * Single-threaded, like every babeltrace2 component method.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "decode.h"
#include "sinks.h"

enum item_type { IT_FRAME, IT_C, IT_NATIVE, IT_SPAN, IT_REQUEST };

struct item {
	enum item_type type;
	int64_t ts;
	uint64_t id;
};

struct tstate {
	int64_t pid, tid;
	struct item *items; /* what is open on the thread, innermost last */
	size_t n, cap;
	bool in_active_run; /* the last event was an `active` entry */
};

enum path_mode { PATH_BASE, PATH_FULL, PATH_PREFIX };

struct stack_sink {
	bt_self_component *self;
	bt_message_iterator *it;
	struct pt_decoder *dec;
	struct tstate *threads;
	size_t nthreads, tcap, last;
	bool have_last;
	bool color;
	enum path_mode path_mode;
	char *prefix;
	FILE *out;
	bool failed; /* out of memory in the callback */
	bool progress;
	struct timespec progress_at; /* last progress line */
	uint64_t progress_events;
};

#define C_RESET "\033[0m"
#define C_DIM "\033[2m"
#define C_BOLD "\033[1m"
#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_BLUE "\033[34m"
#define C_MAGENTA "\033[35m"
#define C_CYAN "\033[36m"

static const char *col(const struct stack_sink *s, const char *code)
{
	return s->color ? code : "";
}

static struct tstate *thread_of(struct stack_sink *s, int64_t pid, int64_t tid)
{
	size_t i;

	if (s->have_last && s->threads[s->last].pid == pid && s->threads[s->last].tid == tid) {
		return &s->threads[s->last];
	}
	for (i = 0; i < s->nthreads; i++) {
		if (s->threads[i].pid == pid && s->threads[i].tid == tid) {
			break;
		}
	}
	if (i == s->nthreads) {
		if (s->nthreads == s->tcap) {
			size_t ncap = s->tcap ? s->tcap * 2 : 16;
			struct tstate *n = realloc(s->threads, ncap * sizeof(*n));

			if (!n) {
				return NULL;
			}
			s->threads = n;
			s->tcap = ncap;
		}
		memset(&s->threads[i], 0, sizeof(s->threads[i]));
		s->threads[i].pid = pid;
		s->threads[i].tid = tid;
		s->nthreads++;
	}
	if (!s->have_last || s->last != i) {
		if (tid >= 0) {
			fprintf(s->out, "%sthread %" PRId64 ":%s\n", col(s, C_BOLD), tid,
				col(s, C_RESET));
		} else {
			fprintf(s->out, "%sthread ?:%s\n", col(s, C_BOLD), col(s, C_RESET));
		}
	}
	s->last = i;
	s->have_last = true;
	return &s->threads[i];
}

static int push(struct tstate *t, enum item_type type, int64_t ts, uint64_t id)
{
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 32;
		struct item *n = realloc(t->items, ncap * sizeof(*n));

		if (!n) {
			return -1;
		}
		t->items = n;
		t->cap = ncap;
	}
	t->items[t->n++] = (struct item){ type, ts, id };
	return 0;
}

/* Removes the innermost open item of @type (and @id for spans and requests): its depth, or -1
 * when none is open (a frame entered before the trace started). Items opened after it and
 * still open (spans ended out of order) stay. */
static long pop(struct tstate *t, enum item_type type, uint64_t id, int64_t *ts)
{
	size_t i = t->n;
	bool by_id = type == IT_SPAN || type == IT_REQUEST;

	while (i > 0) {
		i--;
		if (t->items[i].type == type && (!by_id || t->items[i].id == id)) {
			*ts = t->items[i].ts;
			memmove(&t->items[i], &t->items[i + 1], (t->n - i - 1) * sizeof(*t->items));
			t->n--;
			return (long)i;
		}
	}
	return -1;
}

static void indent(struct stack_sink *s, size_t depth)
{
	size_t i;

	fputs("  ", s->out);
	for (i = 0; i < depth; i++) {
		fputs("  ", s->out);
	}
}

static void duration(struct stack_sink *s, int64_t ns)
{
	fputs(col(s, C_DIM), s->out);
	if (ns < 0) {
		fputs("?", s->out);
	} else if (ns < 1000000) {
		fprintf(s->out, "%.1f us", (double)ns / 1e3);
	} else if (ns < 1000000000) {
		fprintf(s->out, "%.1f ms", (double)ns / 1e6);
	} else {
		fprintf(s->out, "%.2f s", (double)ns / 1e9);
	}
	fputs(col(s, C_RESET), s->out);
}

static const char *file_name(const struct stack_sink *s, const char *file)
{
	const char *slash;

	switch (s->path_mode) {
	case PATH_BASE:
		slash = strrchr(file, '/');
		return slash ? slash + 1 : file;
	case PATH_PREFIX:
		if (!strncmp(file, s->prefix, strlen(s->prefix))) {
			file += strlen(s->prefix);
			while (*file == '/') {
				file++;
			}
		}
		return file;
	default:
		return file;
	}
}

static const char *const ENTRY_KINDS[] = { "call", "resume", "active" };
static const char *const RETURN_KINDS[] = { "return", "yield", "unwind", "detach" };

static void kind_tag(struct stack_sink *s, int sub, const char *const *names, size_t n)
{
	if (sub == 0) {
		return;
	}
	if (sub > 0 && (size_t)sub < n) {
		fprintf(s->out, " [%s]", names[sub]);
	} else {
		fprintf(s->out, " [kind %d]", sub);
	}
}

static const char *level_name(int64_t level, char *buf, size_t len)
{
	switch (level) {
	case 10:
		return "DEBUG";
	case 20:
		return "INFO";
	case 30:
		return "WARNING";
	case 40:
		return "ERROR";
	case 50:
		return "CRITICAL";
	default:
		snprintf(buf, len, "Level %" PRId64, level);
		return buf;
	}
}

static void attrs(struct stack_sink *s, const char *json)
{
	if (json && *json && strcmp(json, "{}")) {
		fprintf(s->out, " %s", json);
	}
}

static void on_event(const struct pt_event *ev, void *data)
{
	struct stack_sink *s = data;
	struct tstate *t;
	enum item_type type = IT_FRAME;
	int64_t ts0 = 0;
	long depth;
	char buf[32];

	if (s->failed) {
		return;
	}
	t = thread_of(s, ev->pid, ev->tid);
	if (!t) {
		s->failed = true;
		return;
	}
	/* A run of `active` entries restates the thread's whole stack (docs/events.md). */
	if (ev->kind == PT_ENTRY && ev->sub == 2) {
		if (!t->in_active_run) {
			t->n = 0;
		}
		t->in_active_run = true;
	} else {
		t->in_active_run = false;
	}
	switch (ev->kind) {
	case PT_ENTRY:
	case PT_C_ENTRY:
	case PT_NATIVE_ENTRY:
		indent(s, t->n);
		if (ev->kind == PT_ENTRY) {
			fprintf(s->out, "-> %s%s%s", col(s, C_CYAN), ev->name, col(s, C_RESET));
			kind_tag(s, ev->sub, ENTRY_KINDS, 3);
			fprintf(s->out, "  %s:%" PRId64 "\n", file_name(s, ev->file), ev->line);
		} else if (ev->kind == PT_C_ENTRY) {
			type = IT_C;
			fprintf(s->out, "-> %s()", ev->name);
			kind_tag(s, ev->sub, ENTRY_KINDS, 3);
			fputc('\n', s->out);
		} else {
			type = IT_NATIVE;
			fprintf(s->out, "-> %s%s%s [native]\n", col(s, C_BLUE), ev->name,
				col(s, C_RESET));
		}
		s->failed = push(t, type, ev->ts, 0) != 0;
		break;
	case PT_RETURN:
	case PT_C_RETURN:
	case PT_NATIVE_RETURN:
		type = ev->kind == PT_RETURN	? IT_FRAME :
		       ev->kind == PT_C_RETURN	? IT_C :
						  IT_NATIVE;
		depth = pop(t, type, 0, &ts0);
		indent(s, depth < 0 ? t->n : (size_t)depth);
		fputs("<- ", s->out);
		if (depth < 0) {
			/* Its entry came before the trace: a frame active when it started. */
			fprintf(s->out, "%s (entered before the trace)", ev->name);
		} else {
			duration(s, ev->ts - ts0);
		}
		if (ev->kind != PT_NATIVE_RETURN) {
			kind_tag(s, ev->sub, RETURN_KINDS, 4);
		}
		fputc('\n', s->out);
		break;
	case PT_EXCEPTION:
		indent(s, t->n);
		fprintf(s->out, "%s!! %s in %s line %" PRId64 "%s\n", col(s, C_RED), ev->name,
			ev->detail, ev->line, col(s, C_RESET));
		break;
	case PT_SPAN_BEGIN:
		indent(s, t->n);
		fprintf(s->out, "%s{ span %s%s", col(s, C_MAGENTA), ev->name, col(s, C_RESET));
		attrs(s, ev->detail);
		fputc('\n', s->out);
		s->failed = push(t, IT_SPAN, ev->ts, ev->id) != 0;
		break;
	case PT_SPAN_END:
		depth = pop(t, IT_SPAN, ev->id, &ts0);
		indent(s, depth < 0 ? t->n : (size_t)depth);
		fprintf(s->out, "%s} span %s%s ", col(s, C_MAGENTA), ev->name, col(s, C_RESET));
		duration(s, depth < 0 ? -1 : ev->ts - ts0);
		fputc('\n', s->out);
		break;
	case PT_MARK:
		indent(s, t->n);
		fprintf(s->out, "%s* mark %s%s", col(s, C_MAGENTA), ev->name, col(s, C_RESET));
		attrs(s, ev->detail);
		fputc('\n', s->out);
		break;
	case PT_LOG:
		indent(s, t->n);
		fprintf(s->out, "%s[log %s %s]%s %s\n", col(s, C_YELLOW),
			level_name(ev->level, buf, sizeof(buf)), ev->detail, col(s, C_RESET),
			ev->name);
		break;
	case PT_REQUEST_ENTRY:
		indent(s, t->n);
		fprintf(s->out, "%s=> %s%s", col(s, C_GREEN), ev->name, col(s, C_RESET));
		if (*ev->endpoint) {
			fprintf(s->out, " (%s)", ev->endpoint);
		}
		fputc('\n', s->out);
		s->failed = push(t, IT_REQUEST, ev->ts, ev->id) != 0;
		break;
	case PT_REQUEST_EXIT:
		depth = pop(t, IT_REQUEST, ev->id, &ts0);
		indent(s, depth < 0 ? t->n : (size_t)depth);
		fprintf(s->out, "%s<= %" PRId64 "%s ", col(s, C_GREEN), ev->status,
			col(s, C_RESET));
		duration(s, (int64_t)ev->duration_ns);
		if (*ev->error) {
			fprintf(s->out, " %s%s%s", col(s, C_RED), ev->error, col(s, C_RESET));
		}
		fputc('\n', s->out);
		break;
	}
}

/* A misspelt parameter is an error, not silently a default. */
static bt_value_map_foreach_entry_const_func_status check_param(const char *key,
								 const bt_value *value, void *data)
{
	(void)value;
	if (strcmp(key, "color") && strcmp(key, "path") && strcmp(key, "progress")) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT((bt_self_component *)data,
			"sink.pytrace.stack: unknown parameter `%s` (known: color, path, progress)",
			key);
		return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_ERROR;
	}
	return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_OK;
}

bt_component_class_initialize_method_status
pt_stack_init(bt_self_component_sink *self, bt_self_component_sink_configuration *config,
	      const bt_value *params, void *init_data)
{
	bt_self_component *comp = bt_self_component_sink_as_self_component(self);
	struct stack_sink *s = calloc(1, sizeof(*s));
	const bt_value *v;

	(void)config;
	(void)init_data;
	if (!s) {
		return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_MEMORY_ERROR;
	}
	s->self = comp;
	s->out = stdout;
	s->color = isatty(STDOUT_FILENO);
	if (bt_value_map_foreach_entry_const(params, check_param, comp) !=
	    BT_VALUE_MAP_FOREACH_ENTRY_CONST_STATUS_OK) {
		goto error;
	}
	v = bt_value_map_borrow_entry_value_const(params, "progress");
	if (v) {
		if (bt_value_get_type(v) != BT_VALUE_TYPE_BOOL) {
			BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(comp,
				"sink.pytrace.stack: parameter `progress` must be a boolean "
				"(progress=yes)");
			goto error;
		}
		s->progress = bt_value_bool_get(v);
	}
	v = bt_value_map_borrow_entry_value_const(params, "color");
	if (v) {
		if (bt_value_get_type(v) != BT_VALUE_TYPE_BOOL) {
			BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(comp,
				"sink.pytrace.stack: parameter `color` must be a boolean "
				"(color=yes)");
			goto error;
		}
		s->color = bt_value_bool_get(v);
	}
	v = bt_value_map_borrow_entry_value_const(params, "path");
	if (v) {
		const char *p;

		if (bt_value_get_type(v) != BT_VALUE_TYPE_STRING) {
			BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(comp,
				"sink.pytrace.stack: parameter `path` must be a string: "
				"\"base\", \"full\" or a prefix to strip");
			goto error;
		}
		p = bt_value_string_get(v);
		if (!strcmp(p, "base")) {
			s->path_mode = PATH_BASE;
		} else if (!strcmp(p, "full")) {
			s->path_mode = PATH_FULL;
		} else {
			s->path_mode = PATH_PREFIX;
			s->prefix = strdup(p);
			if (!s->prefix) {
				goto error;
			}
		}
	}
	s->dec = pt_decoder_create(on_event, s);
	if (!s->dec) {
		goto error;
	}
	if (bt_self_component_sink_add_input_port(self, "in", NULL, NULL) !=
	    BT_SELF_COMPONENT_ADD_PORT_STATUS_OK) {
		goto error;
	}
	bt_self_component_set_data(comp, s);
	return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_OK;
error:
	pt_decoder_destroy(s->dec);
	free(s->prefix);
	free(s);
	return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_ERROR;
}

void pt_stack_finalize(bt_self_component_sink *self)
{
	struct stack_sink *s =
		bt_self_component_get_data(bt_self_component_sink_as_self_component(self));
	size_t i;

	if (!s) {
		return;
	}
	bt_message_iterator_put_ref(s->it);
	pt_decoder_destroy(s->dec);
	for (i = 0; i < s->nthreads; i++) {
		free(s->threads[i].items);
	}
	free(s->threads);
	free(s->prefix);
	free(s);
}

bt_component_class_sink_graph_is_configured_method_status
pt_stack_configured(bt_self_component_sink *self)
{
	struct stack_sink *s =
		bt_self_component_get_data(bt_self_component_sink_as_self_component(self));
	bt_self_component_port_input *port = bt_self_component_sink_borrow_input_port_by_name(self,
											      "in");

	if (bt_message_iterator_create_from_sink_component(self, port, &s->it) !=
	    BT_MESSAGE_ITERATOR_CREATE_FROM_SINK_COMPONENT_STATUS_OK) {
		return BT_COMPONENT_CLASS_SINK_GRAPH_IS_CONFIGURED_METHOD_STATUS_ERROR;
	}
	clock_gettime(CLOCK_MONOTONIC, &s->progress_at);
	return BT_COMPONENT_CLASS_SINK_GRAPH_IS_CONFIGURED_METHOD_STATUS_OK;
}

/* "N events read (R/s)" on stderr, at most once a second. */
static void report_progress(struct stack_sink *s)
{
	uint64_t n = pt_decoder_stats(s->dec)->messages;
	struct timespec now;
	double dt;

	clock_gettime(CLOCK_MONOTONIC, &now);
	dt = (double)(now.tv_sec - s->progress_at.tv_sec) +
	     (double)(now.tv_nsec - s->progress_at.tv_nsec) / 1e9;
	if (dt < 1.0) {
		return;
	}
	fprintf(stderr, "%" PRIu64 " events read (%.0f/s)\n", n,
		(double)(n - s->progress_events) / dt);
	s->progress_at = now;
	s->progress_events = n;
}

/* The end of the trace: what the decoder held, the summary, and whether it was ours at all. */
static bt_component_class_sink_consume_method_status finish(struct stack_sink *s)
{
	const struct pt_decoder_stats *st;

	if (pt_decoder_finish(s->dec) || s->failed) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(s->self,
			"sink.pytrace.stack: %s", s->failed ? "out of memory" :
			pt_decoder_error(s->dec));
		return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_ERROR;
	}
	fflush(s->out);
	st = pt_decoder_stats(s->dec);
	if (!st->ours) {
		fprintf(stderr, "pytrace: no libpytrace events in this trace\n");
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(s->self,
			"sink.pytrace.stack: no libpytrace events in this trace (%" PRIu64
			" events read): was `lttng enable-event -u 'python:*'` on?", st->messages);
		return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_ERROR;
	}
	fprintf(stderr, "pytrace: %" PRIu64 " events, %" PRIu64 " threads", st->events,
		st->threads);
	if (st->unknown_codes) {
		fprintf(stderr, ", %" PRIu64 " records of undefined code", st->unknown_codes);
	}
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

bt_component_class_sink_consume_method_status pt_stack_consume(bt_self_component_sink *self)
{
	struct stack_sink *s =
		bt_self_component_get_data(bt_self_component_sink_as_self_component(self));
	bt_message_array_const msgs;
	uint64_t count, i;
	int err = 0;

	switch (bt_message_iterator_next(s->it, &msgs, &count)) {
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_OK:
		break;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_END:
		return finish(s);
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_AGAIN:
		return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_AGAIN;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_MEMORY_ERROR:
		return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_MEMORY_ERROR;
	default:
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(s->self,
			"sink.pytrace.stack: cannot read the trace (see the causes above)");
		return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_ERROR;
	}
	for (i = 0; i < count; i++) {
		if (!err) {
			err = pt_decoder_push(s->dec, msgs[i]);
		}
		bt_message_put_ref(msgs[i]);
	}
	if (s->progress) {
		report_progress(s);
	}
	if (err || s->failed) {
		fflush(s->out);
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_COMPONENT(s->self,
			"sink.pytrace.stack: %s", s->failed ? "out of memory" :
			pt_decoder_error(s->dec));
		return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_ERROR;
	}
	return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_OK;
}
