# SPDX-License-Identifier: MIT
"""libpytrace for plain Python programs: trace this interpreter's calls with LTTng-UST.

    import pytrace

    pytrace.attach()                      # or: with pytrace.tracing(mode="fast"): ...
    pytrace.forward_logging()             # logging records too (or: attach(logging=True))
    with pytrace.span("checkout", user="ann"):
        ...
    pytrace.mark("cache-miss", key="k1")
    pytrace.detach()

Every Python call, return and exception of every thread of the interpreter becomes a
`python:*` LTTng-UST event whenever a session records them (docs/events.md); while none does,
no hook is installed. `python3 -m pytrace script.py` runs a whole program that way, like
`pytrace-run`, and forwards the program's `logging` records as the official LTTng Python agent
does (`lttng_python:event`, docs/logging.md). Spans and marks are recorded whether or not the
interpreter is attached.

This is the same libpytrace a C host links (one per process): under `pytrace-run` or a host
that attached already, `attach()` raises RuntimeError (already attached) and spans just work.
See docs/python.md.
"""
from . import _native

__all__ = ["attach", "detach", "configure", "tracing", "forward_logging", "span", "mark",
           "__version__"]

#: The version of the libpytrace in use, as pytrace_version() gives it ("MAJOR.MINOR.PATCH").
__version__ = _native.version()

_MODES = {"events": _native.MODE_EVENTS, "fast": _native.MODE_FAST}
_MAX_DEPTH = 1000000


def _glob_error(pat):
    """Why @pat is not a module glob (libpytrace's words, config.c), or None."""
    in_class = False
    i = 0
    while i < len(pat):
        c = pat[i]
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            if pat[i + 1:i + 2] == "!":
                i += 1
            if pat[i + 1:i + 2] == "]":
                i += 1
        elif not (c.isascii() and (c.isalnum() or c in "_.*?") or ord(c) >= 0x80):
            return f"character not allowed in a module glob: {c!r} in {pat!r}"
        i += 1
    return f"unclosed '[' in {pat!r}" if in_class else None


def _filter(func, what, value):
    """A filter option as libpytrace takes it: None, or a comma-separated str."""
    if value is None:
        return None
    if isinstance(value, str):
        items = value.split(",")
        spec = value
        if not value.strip():
            return None
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        for item in items:
            if not isinstance(item, str):
                raise TypeError(f"{func}: {what} items must be str, not {type(item).__name__}")
            if "," in item:
                raise ValueError(f"{func}: {what}: {item!r} contains a comma (one glob per item)")
        spec = ",".join(items)
        if not items:
            return None
    else:
        raise TypeError(f"{func}: {what} must be a str or a list of str, not "
                        f"{type(value).__name__}")
    for n, item in enumerate(items, 1):
        item = item.strip(" \t\n\r\f\v")
        if not item:
            raise ValueError(f"{func}: {what}: empty pattern (item {n} of {spec!r})")
        if item.startswith(":"):
            if item != ":stdlib":
                raise ValueError(f"{func}: {what}: unknown name {item!r} "
                                 "(the only one is ':stdlib')")
            continue
        if "\0" in item:
            raise ValueError(f"{func}: {what}: NUL character in {item!r}")
        why = _glob_error(item)
        if why:
            raise ValueError(f"{func}: {what}: {why}")
    return spec


def _options(func, c_calls, mode, include, exclude, max_depth):
    """Validates the options (TypeError/ValueError naming the bad one) before anything is done,
    so that a bad call leaves nothing attached or changed."""
    if not isinstance(c_calls, bool):
        raise TypeError(f"{func}: c_calls must be a bool, not {type(c_calls).__name__}")
    if not isinstance(mode, str):
        raise TypeError(f"{func}: mode must be a str ('events' or 'fast'), not "
                        f"{type(mode).__name__}")
    if mode not in _MODES:
        raise ValueError(f"{func}: unknown mode {mode!r} (events or fast)")
    if isinstance(max_depth, bool) or not isinstance(max_depth, int):
        raise TypeError(f"{func}: max_depth must be an int, not {type(max_depth).__name__}")
    if not 0 <= max_depth <= _MAX_DEPTH:
        raise ValueError(f"{func}: max_depth={max_depth} is not a depth "
                         f"(0 for no limit, up to {_MAX_DEPTH})")
    return (c_calls, _MODES[mode], _filter(func, "include", include),
            _filter(func, "exclude", exclude), max_depth)


def _bool(func, what, value):
    if not isinstance(value, bool):
        raise TypeError(f"{func}: {what} must be a bool, not {type(value).__name__}")
    return value


def attach(*, c_calls=False, mode="events", include=None, exclude=None, max_depth=0,
           logging=False):
    """Trace every thread of the current interpreter (pytrace_attach()).

    Options, as the C API's (docs/api.md, "Options"); the PYTRACE_* environment variables
    override them when set:

    c_calls: also record calls of C functions (`len`, `list.append`, `time.sleep`).
    mode: "events" (one self-describing event per call and return) or "fast" (compact records
        in batches).
    include, exclude: module globs, a comma-separated str or a list of str
        ("myapp.*,__main__", [":stdlib"]); `*`, `?`, `[...]`; `pkg.*` also matches `pkg`.
    max_depth: record at most this many nested frames per thread (0: no limit, up to 1000000).
    logging: also forward the interpreter's Python `logging` records to LTTng as
        `lttng_python:event`, as the official agent does (docs/logging.md); the same as calling
        forward_logging() right after. PYTRACE_LOGGING overrides it when set.

    Raises TypeError or ValueError for a bad option (before anything is done: nothing is
    attached), ValueError if libpytrace refuses a PYTRACE_* variable, RuntimeError if the
    interpreter is already attached (pytrace-run, a host, an earlier attach()), another tool
    holds the hooks libpytrace needs (a profiler on 3.8-3.11, sys.monitoring tool ids 3 and 4
    on 3.12+), or logging is to be forwarded (the option or PYTRACE_LOGGING) and libpytrace
    cannot load liblttng-ust-python-agent.so.1. On error nothing is left attached.
    """
    opts = _options("pytrace.attach", c_calls, mode, include, exclude, max_depth)
    _native.attach(*opts, _bool("pytrace.attach", "logging", logging))


def configure(*, c_calls=False, mode="events", include=None, exclude=None, max_depth=0):
    """Replace every setting of the attached interpreter at once (pytrace_config_set()); the
    environment is not read again. Same options and errors as attach(), except `logging`:
    forwarding is not a setting configure() replaces (pytrace_config_set() leaves it as it is),
    so it is switched by forward_logging() only and `logging=` here is a TypeError (unknown
    option). RuntimeError if the interpreter is not attached. On error nothing changes."""
    _native.configure(*_options("pytrace.configure", c_calls, mode, include, exclude,
                                max_depth))


def detach():
    """Stop tracing the current interpreter (pytrace_detach()): every hook is removed and the
    frames still open get `detach` returns. RuntimeError if it is not attached. Finalizing the
    interpreter detaches it too, so a program that attaches need not detach."""
    _native.detach()


def forward_logging(on=True):
    """Switch the forwarding of Python `logging` records of the attached interpreter to LTTng
    (`lttng_python:event`, as the official agent records them; docs/logging.md) on or off, at
    any time: pytrace_logging_enable() / pytrace_logging_disable(). Switching it on when it is
    on, or off when it is off, does nothing. Detaching switches it off.

    Raises TypeError if `on` is not a bool, RuntimeError if the interpreter is not attached or
    (switching on) libpytrace cannot load liblttng-ust-python-agent.so.1 (Debian:
    liblttng-ust-python-agent1).
    """
    _native.forward_logging(_bool("pytrace.forward_logging", "on", on))


class tracing:
    """`with pytrace.tracing(**options):` attaches on entry and detaches on exit (also when the
    block raises; the exception is never suppressed). The options are those of attach(),
    `logging` included, and are checked when the object is created. Not reentrant: an
    interpreter is attached once."""

    __slots__ = ("_opts",)

    def __init__(self, *, c_calls=False, mode="events", include=None, exclude=None,
                 max_depth=0, logging=False):
        self._opts = (*_options("pytrace.tracing", c_calls, mode, include, exclude, max_depth),
                      _bool("pytrace.tracing", "logging", logging))

    def __enter__(self):
        _native.attach(*self._opts)
        return self

    def __exit__(self, exc_type, exc, tb):
        _native.detach()
        return False


def _is_coroutine_function(func):
    """inspect.iscoroutinefunction() without importing inspect (a large import, and all of it
    traced) when the program has not."""
    import sys

    inspect = sys.modules.get("inspect")
    if inspect is not None:
        return inspect.iscoroutinefunction(func)
    import functools

    while isinstance(func, functools.partial):
        func = func.func
    func = getattr(func, "__func__", func)
    code = getattr(func, "__code__", None)
    return code is not None and bool(code.co_flags & 0x80)  # CO_COROUTINE


class span(_native.Span):
    """A span: a named interval of this thread's work with string attributes.

    As a context manager, it records `python:span_begin` (name, a new id, the attributes as a
    JSON object) on entry and `python:span_end` (name, id) on exit, also when the block raises
    (never suppressed); `as` gives the span, whose `id` is the current entry's::

        with pytrace.span("checkout", user="ann", items="3") as s:
            ...

    As a decorator, every call of the function is a span of its own (a coroutine function: every
    run of the coroutine, from its first step to its end; a generator function: only the call
    that creates the generator)::

        @pytrace.span("load", source="db")
        def load(): ...

    The name and attributes are checked when the span is created: TypeError if the name or an
    attribute is not a str (attributes are strings: convert with str()), ValueError if the name
    is empty or one of them contains a NUL character. Spans are recorded whether or not the
    interpreter is attached, whenever a session enables `python:span_begin` / `python:span_end`.
    One span object may be entered again while entered (nested), by one thread at a time; the
    decorator is safe from any number of threads.
    """

    __slots__ = ()

    def __call__(self, func):
        if not callable(func):
            raise TypeError(f"pytrace.span: can only decorate a callable, not "
                            f"{type(func).__name__}")
        import functools

        name, attrs = self.name, self.attrs
        begin, end = _native.span_begin, _native.span_end
        if _is_coroutine_function(func):
            @functools.wraps(func)
            async def span_wrapper(*args, **kwargs):
                sid = begin(name, attrs)
                try:
                    return await func(*args, **kwargs)
                finally:
                    end(name, sid)
        else:
            @functools.wraps(func)
            def span_wrapper(*args, **kwargs):
                sid = begin(name, attrs)
                try:
                    return func(*args, **kwargs)
                finally:
                    end(name, sid)
        return span_wrapper


#: mark(name, /, **attrs): record a `python:mark` event, a named instant of this thread with
#: string attributes (same rules as span()).
mark = _native.mark
