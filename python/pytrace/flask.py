# SPDX-License-Identifier: MIT
"""Flask instrumentation: a `python:request_entry` / `python:request_exit` event pair for every
request an application serves (docs/python.md, "Flask"; docs/events.md, "Requests").

    from flask import Flask
    from pytrace.flask import Pytrace

    app = Flask(__name__)
    Pytrace(app)                  # or: instrument(app); or: ext = Pytrace(); ext.init_app(app)

Recorded whenever a session enables the events (`lttng enable-event -u 'python:request_*'`),
whether or not the interpreter is attached: under `python3 -m pytrace` or `pytrace-run` the
requests nest with the function events of their thread. While no session records them a request
costs three Python calls that return at once.

The hooks are Flask's own: the first before_request function (it runs before any other, so a
request that another hook answers early is recorded too), the last after_request function (it
sees the final status) and the last teardown_request function (it runs even when the view
raises, so that every entry has its exit). `lab_records=True` also records the logging records
of the Trace Compass "Python XML analysis" lab (`lttng_python:event`, funcName `tracing_entry` /
`tracing_exit`), for its analysis to work unchanged; they reach LTTng only, never the program's
logging handlers.

The hooks never raise into the application: an internal error switches the instrumentation of
that application off with one warning on stderr, and the requests are served as untraced.
"""
import sys
import threading

import flask

from . import _native

__all__ = ["Pytrace", "instrument", "current_request_id"]

#: Where a request's recording lives while it is served (one per WSGI environ).
_ENVIRON_KEY = "pytrace.request"


def _error_name(exc):
    """`ValueError`, `myapp.errors.Conflict`: as the `exception` events name types."""
    t = type(exc)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _traceparent(headers):
    """The traceparent header, or None when absent or repeated (W3C Trace Context: a request
    with several is treated as having none)."""
    values = headers.getlist("traceparent")
    return values[0] if len(values) == 1 else None


class _Hooks:
    """The three hooks of one application."""

    __slots__ = ("lab", "logger", "broken")

    def __init__(self, app, lab):
        self.lab = lab
        # Flask's app.logger is logging.getLogger(app.name); app.logger itself is not read:
        # its first use adds Flask's default handler, which would change the program.
        self.logger = app.name if lab else None
        self.broken = False

    def fail(self, where):
        self.broken = True
        exc = sys.exc_info()[1]
        print(f"pytrace.flask: request events switched off after an error in {where}: "
              f"{_error_name(exc)}: {exc}", file=sys.stderr)

    def before(self):
        try:
            if self.broken or not _native.request_recording(self.lab):
                return None
            req = flask.request
            rule = req.url_rule
            r = _native.request_begin(
                req.method, req.path, req.endpoint, rule.rule if rule is not None else None,
                _traceparent(req.headers), self.logger,
                threading.current_thread().name if self.lab else None)
            if r is not None:
                req.environ[_ENVIRON_KEY] = [r, None]
        except Exception:
            self.fail("before_request")
        return None

    def after(self, response):
        try:
            state = flask.request.environ.get(_ENVIRON_KEY)
            if state is not None:
                state[1] = response.status_code
        except Exception:
            self.fail("after_request")
        return response

    def teardown(self, exc):
        try:
            state = flask.request.environ.pop(_ENVIRON_KEY, None)
            if state is not None:
                r, status = state
                # No response was made (the exception propagates to the server): 500 is what
                # a WSGI server answers then.
                r.end(status if status is not None else 500,
                      _error_name(exc) if exc is not None else None)
        except Exception:
            self.fail("teardown_request")


class Pytrace:
    """The Flask extension: `Pytrace(app)`, or `Pytrace()` then `init_app(app)` (one
    extension may serve several applications).

    `lab_records=True` also records the Trace Compass lab's logging records (needs
    liblttng-ust-python-agent.so.1, Debian package liblttng-ust-python-agent1; without it
    init_app() raises pytrace._native.AgentLibraryError, a RuntimeError).
    """

    def __init__(self, app=None, *, lab_records=False):
        if not isinstance(lab_records, bool):
            raise TypeError(f"pytrace.flask.Pytrace: lab_records must be a bool, not "
                            f"{type(lab_records).__name__}")
        self.lab_records = lab_records
        self.app = app
        if app is not None:
            self.init_app(app)

    def init_app(self, app):
        """Install the hooks on @app (a flask.Flask). Raises TypeError for another object and
        RuntimeError if @app is already instrumented or has served a request (Flask allows no
        new hook then). Nothing is installed when it raises."""
        if not isinstance(app, flask.Flask):
            raise TypeError(f"pytrace.flask: expected a flask.Flask application, not "
                            f"{type(app).__name__}")
        if "pytrace" in app.extensions:
            raise RuntimeError(f"pytrace.flask: application {app.name!r} is already "
                               f"instrumented")
        if getattr(app, "_got_first_request", False):
            raise RuntimeError(f"pytrace.flask: application {app.name!r} has already served a "
                               f"request; instrument it before it serves")
        if self.lab_records:
            _native.request_recording(True)  # AgentLibraryError if the records are impossible
        hooks = _Hooks(app, self.lab_records)
        # First before_request (Flask calls them in order), last after_request and
        # teardown_request (called in reverse order of registration).
        app.before_request_funcs.setdefault(None, []).insert(0, hooks.before)
        app.after_request_funcs.setdefault(None, []).insert(0, hooks.after)
        app.teardown_request_funcs.setdefault(None, []).insert(0, hooks.teardown)
        app.extensions["pytrace"] = self
        return app


def instrument(app, *, lab_records=False):
    """`Pytrace(app, lab_records=...)`: instrument @app and return the extension."""
    return Pytrace(app, lab_records=lab_records)


def current_request_id():
    """The id of the request being served, as recorded in its events (to put in a log line or a
    response header), or None outside a request or while nothing records it."""
    if not flask.has_request_context():
        return None
    state = flask.request.environ.get(_ENVIRON_KEY)
    return state[0].id if state is not None else None
