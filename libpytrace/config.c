/* SPDX-License-Identifier: MIT */
/*
 * What to record: the attach options and the PYTRACE_* environment variables, parsed into an
 * immutable struct pt_config. The parsers here are plain C (no Python, no GIL), so that they can
 * be fuzzed on their own; only the standard library's module list is read from the interpreter.
 *
 * Filter syntax: a comma-separated list of module globs (fnmatch(3): `*`, `?`, `[...]`), spaces
 * around items ignored. A pattern `pkg.*` also matches `pkg` itself. The item `:stdlib` stands
 * for every module of the interpreter's standard library (by top-level package name).
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pytrace/pytrace.h>

#define MAX_DEPTH_LIMIT 1000000u

unsigned int pt_config_gen = 1;

struct pt_glob {
	bool stdlib;	   /* `:stdlib` was listed */
	char **stdlib_names; /* sorted top-level names, set by pt_config_new() */
	size_t n_stdlib;
	size_t n;
	char *pats[];
};

void pt_glob_free(struct pt_glob *g)
{
	if (!g) {
		return;
	}
	for (size_t i = 0; i < g->n; i++) {
		free(g->pats[i]);
	}
	for (size_t i = 0; i < g->n_stdlib; i++) {
		free(g->stdlib_names[i]);
	}
	free(g->stdlib_names);
	free(g);
}

/* Why @pat (of length @len) is not a module glob, or NULL if it is one. */
static const char *glob_error(const char *pat, size_t len, char *bad)
{
	bool in_class = false;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = pat[i];

		if (in_class) {
			if (c == ']') {
				in_class = false;
			}
			continue;
		}
		if (c == '[') {
			in_class = true;
			/* `[]...]` and `[!]...]` take the first `]` literally. */
			if (i + 1 < len && pat[i + 1] == '!') {
				i++;
			}
			if (i + 1 < len && pat[i + 1] == ']') {
				i++;
			}
			continue;
		}
		if (!(isalnum(c) || c == '_' || c == '.' || c == '*' || c == '?' || c >= 0x80)) {
			*bad = (char)c;
			return "character not allowed in a module glob";
		}
	}
	return in_class ? "unclosed '['" : NULL;
}

int pt_glob_parse(const char *spec, const char *what, struct pt_glob **out)
{
	struct pt_glob *g = NULL;
	size_t items = 1, n = 0;
	const char *p;

	*out = NULL;
	if (!spec) {
		return 0;
	}
	for (p = spec; *p && isspace((unsigned char)*p); p++) {
	}
	if (!*p) {
		return 0; /* empty or blank: no filter */
	}
	for (p = spec; *p; p++) {
		items += *p == ',';
	}
	g = calloc(1, sizeof(*g) + items * sizeof(char *));
	if (!g) {
		return -ENOMEM;
	}
	p = spec;
	for (size_t item = 0; item < items; item++) {
		const char *end = strchr(p, ',');
		const char *b = p, *e = end ? end : p + strlen(p);
		const char *why;
		char bad = 0;

		while (b < e && isspace((unsigned char)*b)) {
			b++;
		}
		while (e > b && isspace((unsigned char)e[-1])) {
			e--;
		}
		if (b == e) {
			pt_warn("%s: empty pattern (item %zu of \"%s\")", what, item + 1, spec);
			goto inval;
		}
		if (*b == ':') {
			if ((size_t)(e - b) == 7 && !strncmp(b, ":stdlib", 7)) {
				g->stdlib = true;
			} else {
				pt_warn("%s: unknown name \"%.*s\" (the only one is \":stdlib\")", what,
					(int)(e - b), b);
				goto inval;
			}
		} else if ((why = glob_error(b, (size_t)(e - b), &bad))) {
			if (bad) {
				pt_warn("%s: %s: '%c' in \"%.*s\"", what, why, bad, (int)(e - b), b);
			} else {
				pt_warn("%s: %s in \"%.*s\"", what, why, (int)(e - b), b);
			}
			goto inval;
		} else {
			g->pats[n] = strndup(b, (size_t)(e - b));
			if (!g->pats[n]) {
				pt_glob_free(g);
				return -ENOMEM;
			}
			g->n = ++n;
		}
		p = end ? end + 1 : e;
	}
	*out = g;
	return 0;
inval:
	pt_glob_free(g);
	return -EINVAL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool stdlib_has(const struct pt_glob *g, const char *module)
{
	size_t len = strcspn(module, ".");
	char top[256];
	const char *key = top;

	if (len >= sizeof(top) || !g->n_stdlib) {
		return false;
	}
	memcpy(top, module, len);
	top[len] = '\0';
	return bsearch(&key, g->stdlib_names, g->n_stdlib, sizeof(char *), cmp_str) != NULL;
}

bool pt_glob_match(const struct pt_glob *g, const char *module)
{
	if (g->stdlib && stdlib_has(g, module)) {
		return true;
	}
	for (size_t i = 0; i < g->n; i++) {
		const char *pat = g->pats[i];
		size_t len = strlen(pat);

		if (!fnmatch(pat, module, 0)) {
			return true;
		}
		/* `pkg.*` names the package too. */
		if (len >= 2 && !strcmp(pat + len - 2, ".*") && !strncmp(pat, module, len - 2) &&
		    module[len - 2] == '\0') {
			return true;
		}
	}
	return false;
}

bool pt_config_traces(const struct pt_config *cfg, const char *module)
{
	if (cfg->include && !pt_glob_match(cfg->include, module)) {
		return false;
	}
	return !(cfg->exclude && pt_glob_match(cfg->exclude, module));
}

/* Fills @g's standard-library names from the interpreter (GIL held). */
static int load_stdlib(struct pt_glob *g)
{
	static const char code[] =
		"import sys\n"
		"try:\n"
		"    names = set(sys.stdlib_module_names)\n"
		"except AttributeError:\n"
		"    import os, sysconfig\n"
		"    names = set(sys.builtin_module_names)\n"
		"    for d in (sysconfig.get_paths()['stdlib'],\n"
		"              os.path.join(sysconfig.get_paths()['platstdlib'], 'lib-dynload')):\n"
		"        try:\n"
		"            names.update(f.split('.')[0] for f in os.listdir(d))\n"
		"        except OSError:\n"
		"            pass\n"
		"    names -= {'site-packages', 'dist-packages', '__pycache__', ''}\n"
		"names = sorted(names)\n";
	PyObject *globals, *res, *names;
	struct pt_exc exc = pt_exc_save();
	int err = -EIO;

	globals = PyDict_New();
	if (!globals) {
		goto out;
	}
	if (PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) < 0) {
		goto out;
	}
	res = PyRun_String(code, Py_file_input, globals, globals);
	if (!res) {
		goto out;
	}
	Py_DECREF(res);
	names = PyDict_GetItemString(globals, "names");
	if (!names || !PyList_Check(names)) {
		goto out;
	}
	g->stdlib_names = calloc((size_t)PyList_GET_SIZE(names) + 1, sizeof(char *));
	if (!g->stdlib_names) {
		err = -ENOMEM;
		goto out;
	}
	for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names); i++) {
		const char *s = PyUnicode_AsUTF8(PyList_GET_ITEM(names, i));

		if (!s) {
			goto out;
		}
		g->stdlib_names[g->n_stdlib] = strdup(s);
		if (!g->stdlib_names[g->n_stdlib]) {
			err = -ENOMEM;
			goto out;
		}
		g->n_stdlib++;
	}
	/* sorted() sorts by code point, as strcmp() does on UTF-8. */
	err = 0;
out:
	if (err == -EIO) {
		pt_log_pyerr("cannot list the standard library's modules for :stdlib");
	}
	PyErr_Clear();
	Py_XDECREF(globals);
	pt_exc_restore(exc);
	return err;
}

void pt_config_free(struct pt_config *cfg)
{
	if (!cfg) {
		return;
	}
	pt_glob_free(cfg->include);
	pt_glob_free(cfg->exclude);
	free(cfg);
}

int pt_parse_mode(const char *s, const char *what, enum pt_mode *out)
{
	if (!strcmp(s, "events")) {
		*out = PT_MODE_EVENTS;
	} else if (!strcmp(s, "fast")) {
		*out = PT_MODE_FAST;
	} else {
		pt_warn("%s: unknown mode \"%s\" (events or fast)", what, s);
		return -EINVAL;
	}
	return 0;
}

int pt_parse_bool(const char *s, const char *what, bool *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	pt_warn("%s: \"%s\" is not a boolean (1/0, yes/no, true/false, on/off)", what, s);
	return -EINVAL;
}

int pt_parse_depth(const char *s, const char *what, unsigned int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end || errno || v > MAX_DEPTH_LIMIT) {
		pt_warn("%s: \"%s\" is not a depth (0 for no limit, up to %u)", what, s,
			MAX_DEPTH_LIMIT);
		return -EINVAL;
	}
	*out = (unsigned int)v;
	return 0;
}

static int set_glob(const char *spec, const char *what, struct pt_glob **g)
{
	int err = pt_glob_parse(spec, what, g);

	if (err || !*g) {
		return err;
	}
	return (*g)->stdlib ? load_stdlib(*g) : 0;
}

int pt_config_new(const struct pytrace_attach_opts *opts, bool env, struct pt_config **out)
{
	struct pt_config *cfg = calloc(1, sizeof(*cfg));
	const char *include = opts->include, *exclude = opts->exclude, *v;
	int err = -EINVAL;

	*out = NULL;
	if (!cfg) {
		return -ENOMEM;
	}
	cfg->c_calls = opts->c_calls;
	cfg->max_depth = opts->max_depth;
	switch (opts->mode) {
	case PYTRACE_MODE_EVENTS:
		cfg->mode = PT_MODE_EVENTS;
		break;
	case PYTRACE_MODE_FAST:
		cfg->mode = PT_MODE_FAST;
		break;
	default:
		pt_warn("opts->mode=%d is not a mode (PYTRACE_MODE_EVENTS or PYTRACE_MODE_FAST)",
			opts->mode);
		goto fail;
	}
	if (opts->max_depth > MAX_DEPTH_LIMIT) {
		pt_warn("opts->max_depth=%u is larger than %u", opts->max_depth, MAX_DEPTH_LIMIT);
		goto fail;
	}
	if (env) {
		if ((v = getenv("PYTRACE_MODE")) && (err = pt_parse_mode(v, "PYTRACE_MODE",
									  &cfg->mode))) {
			goto fail;
		}
		if ((v = getenv("PYTRACE_C_CALLS")) &&
		    (err = pt_parse_bool(v, "PYTRACE_C_CALLS", &cfg->c_calls))) {
			goto fail;
		}
		if ((v = getenv("PYTRACE_MAX_DEPTH")) &&
		    (err = pt_parse_depth(v, "PYTRACE_MAX_DEPTH", &cfg->max_depth))) {
			goto fail;
		}
		include = getenv("PYTRACE_INCLUDE") ? getenv("PYTRACE_INCLUDE") : include;
		exclude = getenv("PYTRACE_EXCLUDE") ? getenv("PYTRACE_EXCLUDE") : exclude;
	}
	err = set_glob(include, include == opts->include ? "include" : "PYTRACE_INCLUDE",
		       &cfg->include);
	if (err) {
		goto fail;
	}
	err = set_glob(exclude, exclude == opts->exclude ? "exclude" : "PYTRACE_EXCLUDE",
		       &cfg->exclude);
	if (err) {
		goto fail;
	}
	*out = cfg;
	return 0;
fail:
	pt_config_free(cfg);
	return err;
}
