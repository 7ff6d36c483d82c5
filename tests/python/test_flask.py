# SPDX-License-Identifier: MIT
"""pytrace.flask under real LTTng sessions, read back with bt2 (lttngharness.py).

Runs under Debian's /usr/bin/python3 (bt2, pytest); the application (programs/flask_app.py)
runs under the build's CPython with the build's package and Debian's Flask on its path. Checked
against what the clients saw, request by request:
- Flask's test client and a real threaded server on 127.0.0.1 with concurrent clients: each
  request has exactly one request_entry and one request_exit, on the thread that served it,
  with its method, path, endpoint, rule, status (200, 203 from another before_request hook,
  403, 404, 500 with the exception's name) and duration, and the W3C traceparent's ids when
  valid;
- under `python -m pytrace`, the request events nest with the function events of their thread:
  inside the same Flask.wsgi_app activation, around the view function;
- lab_records: the Trace Compass lab's tracing_entry/tracing_exit records, one each per request,
  on the serving thread, with the route as message and never seen by the program's handlers;
- the program's output and exit status are those of the same program without pytrace.flask;
- the extension's argument errors.
"""
import json
import os
import subprocess
import tempfile

import pytest

import lttngharness

HERE = os.path.dirname(os.path.abspath(__file__))
APP = os.path.join(HERE, "programs", "flask_app.py")
PYTHON = os.environ["PYTRACE_PYTHON"]
SHIM = os.environ["PYTRACE_SHIM_PATH"]
DIST = "/usr/lib/python3/dist-packages"
# Flask 2.2 and its dependencies: pure Python, so that Debian's copies serve every CPython.
FLASK_PACKAGES = ("flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click",
                  "blinker")
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
REQUEST_EVENTS = "python:request_entry,python:request_exit"
# (endpoint, rule, error) of each path of flask_app.REQUESTS; "-" is none (no string field of
# the request events is ever empty: babeltrace2 2.0.4 would read the previous event's value)
ROUTES = {
    "/": ("index", "/", "-"),
    "/work/5": ("work", "/work/<int:n>", "-"),
    "/boom": ("boom", "/boom", "ValueError"),
    "/missing": ("-", "-", "-"),
    "/forbidden": ("forbidden", "/forbidden", "-"),
    "/early": ("-", "-", "-"),
    "/slow": ("slow", "/slow", "-"),
}
EXPECTED_STATUS = {"/": 200, "/work/5": 200, "/boom": 500, "/missing": 404, "/forbidden": 403,
                   "/early": 203, "/slow": 200}


def _flask_path():
    """A PYTHONPATH on which the build's CPython imports Flask: its own, or Debian's."""
    r = subprocess.run([PYTHON, "-c", "import flask"], capture_output=True, timeout=60)
    if r.returncode == 0:
        return SHIM
    d = tempfile.mkdtemp(prefix="pytrace-flask-")
    for name in FLASK_PACKAGES:
        src = os.path.join(DIST, name)
        assert os.path.isdir(src), f"{src} missing: apt-get install python3-flask"
        os.symlink(src, os.path.join(d, name))
    return f"{SHIM}:{d}"


ENV = dict(os.environ, PYTHONPATH=_flask_path())


def retried(run, *args, **kw):
    """run(*args, **kw), again if `lttng` itself failed (a daemon shared with other users of
    the machine), never on an assertion."""
    for attempt in range(3):
        try:
            return run(*args, **kw)
        except RuntimeError as e:
            if not str(e).startswith("lttng ") or attempt == 2:
                raise


def traced(args, events=REQUEST_EVENTS, python_rules=(), launcher=()):
    t = retried(lttngharness.run_traced, [PYTHON, *launcher, APP, *args], env=ENV,
                events=events, python_rules=python_rules)
    assert t.returncode == 0, t.stderr
    return t


def seen(stdout):
    return [json.loads(line) for line in stdout.splitlines()]


def by_id(events, name):
    out = {}
    for e in events:
        if e["provider"] == "python" and e["event"] == name:
            assert e["id"] not in out, f"two {name} with id {e['id']}"
            out[e["id"]] = e
    return out


def check_requests(t, expect_threads):
    """Every request the clients saw has one entry and one exit that say what happened; no
    other request event exists."""
    requests = seen(t.stdout)
    entries, exits = by_id(t.events, "request_entry"), by_id(t.events, "request_exit")
    ids = [int(r["request_id"]) for r in requests]
    assert sorted(ids) == sorted(entries) == sorted(exits)
    tids = set()
    for r in requests:
        rid = int(r["request_id"])
        entry, exit_ = entries[rid], exits[rid]
        endpoint, rule, error = ROUTES[r["path"]]
        assert r["status"] == EXPECTED_STATUS[r["path"]], r
        for e in (entry, exit_):
            assert (e["method"], e["path"], e["endpoint"], e["rule"]) == \
                ("GET", r["path"], endpoint, rule), e
        assert exit_["status"] == r["status"]
        assert exit_["error"] == error
        valid = r["traceparent"] and r["traceparent"] == r["traceparent"].lower()
        assert entry["trace_id"] == (TRACE if valid else "-")
        assert entry["parent_span_id"] == (PARENT if valid else "-")
        assert entry["tid"] == exit_["tid"]
        assert entry["ts"] < exit_["ts"]
        # duration_ns is read by the same clock just before each event's timestamp
        assert 0 < exit_["duration_ns"] <= exit_["ts"] - entry["ts"] + 5_000_000
        if r["path"] == "/slow":
            assert exit_["duration_ns"] >= 20_000_000
        tids.add(entry["tid"])
    assert len(tids) >= expect_threads
    return requests, entries, exits


@pytest.fixture(scope="module")
def plain():
    """The application without pytrace.flask, untraced: what every traced run must print."""
    out = {}
    for mode in ("client", "server"):
        r = subprocess.run([PYTHON, APP, mode, "--plain"], env=ENV, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        out[mode] = r
    return out


def unchanged(t, plain_run):
    """Output without what only tracing knows (request ids, the serving threads)."""
    def strip(stdout):
        return [{k: v for k, v in o.items() if k not in ("request_id", "thread", "ident")}
                for o in seen(stdout)]
    assert strip(t.stdout) == strip(plain_run.stdout)
    assert t.returncode == plain_run.returncode


def test_test_client(plain):
    t = traced(["client"])
    requests, _, _ = check_requests(t, expect_threads=1)
    assert [r["path"] for r in requests] == list(ROUTES)
    ids = [int(r["request_id"]) for r in requests]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    unchanged(t, plain["client"])
    assert "Exception on /boom [GET]" in t.stderr  # Flask's own log, as untraced
    assert "Exception on /boom [GET]" in plain["client"].stderr


def test_threaded_server(plain):
    t = traced(["server"])
    requests, _, _ = check_requests(t, expect_threads=2)
    assert len(requests) == 6 * 4
    unchanged(t, plain["server"])


def test_nesting_with_function_events():
    """Under `python -m pytrace`, each request's events lie inside one Flask.wsgi_app call of
    its thread, around the view function's call, and the function events stay balanced."""
    t = traced(["server"], events="python:*", launcher=("-m", "pytrace", "--no-logging"))
    requests, entries, exits = check_requests(t, expect_threads=2)
    lttngharness.assert_balanced([e for e in t.events if e["event"] not in
                                  ("request_entry", "request_exit")])
    views = {"/": "index", "/work/5": "work", "/boom": "boom", "/forbidden": "forbidden",
             "/slow": "slow"}
    for r in requests:
        rid = int(r["request_id"])
        entry = entries[rid]
        stream = [e for e in t.events if e.get("tid") == entry["tid"]]
        i, j = stream.index(entry), stream.index(exits[rid])
        stack = []
        for e in stream[:i]:
            if e["event"] == "function__entry":
                stack.append(e["co_qualname"])
            elif e["event"] == "function__return":
                stack.pop()
        assert "Flask.wsgi_app" in stack, f"request {rid} entered outside wsgi_app: {stack}"
        depth = len(stack) - stack[::-1].index("Flask.wsgi_app")  # wsgi_app's depth
        inside = stream[i:j]
        level, calls = len(stack), []
        for e in inside:
            if e["event"] == "function__entry":
                level += 1
                calls.append(e["co_qualname"])
            elif e["event"] == "function__return":
                level -= 1
                assert level >= depth, f"request {rid}: wsgi_app returned before its exit"
        view = views.get(r["path"])
        if view:
            assert view in calls, f"request {rid}: {view} not between entry and exit"
            if view == "work":
                assert calls.count("square") == 5
        else:
            assert not set(views.values()) & set(calls)


def test_lab_records(plain):
    """The lab's records, as its XML analysis reads them: funcName tracing_entry then
    tracing_exit on the serving thread (threadName), the route as msg, and only for LTTng."""
    t = traced(["server", "--lab"], python_rules=(("-a",),))
    requests, entries, exits = check_requests(t, expect_threads=2)
    unchanged(t, plain["server"])
    lab = [e for e in t.events if e["provider"] == "lttng_python"]
    assert len(lab) == 2 * len(requests)
    by_thread = {}
    for e in lab:
        assert e["logger_name"] == "flaskapp" and e["int_loglevel"] == 20
        by_thread.setdefault(e["threadName"], []).append(e)
    for r in requests:
        endpoint, rule, _ = ROUTES[r["path"]]
        records = by_thread.pop(r["thread"])  # werkzeug serves each request on a new thread
        assert [e["funcName"] for e in records] == ["tracing_entry", "tracing_exit"]
        assert [e["msg"] for e in records] == [f"GET {rule if rule != '-' else r['path']}"] * 2
        assert {e["thread"] for e in records} == {r["ident"] & 0xFFFFFFFF}
        rid = int(r["request_id"])
        assert entries[rid]["ts"] < records[0]["ts"] < records[1]["ts"]
        assert exits[rid]["ts"] < records[1]["ts"]
    assert not by_thread


def test_lab_records_need_their_rule():
    """Without an `enable-event --python` rule, lab_records adds nothing; the request events
    are the same."""
    t = traced(["client", "--lab"])
    check_requests(t, expect_threads=1)
    assert not [e for e in t.events if e["provider"] == "lttng_python"]


def test_no_session_no_request_id():
    r = subprocess.run([PYTHON, APP, "client"], env=ENV, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert all(o["request_id"] is None for o in seen(r.stdout))


def test_extension_errors():
    code = r'''
import flask, pytrace._native
from pytrace.flask import Pytrace, instrument
app = flask.Flask("a")
for bad, exc in ((lambda: Pytrace(object()), TypeError),
                 (lambda: Pytrace(app, lab_records=1), TypeError),
                 (lambda: instrument("app"), TypeError)):
    try:
        bad()
    except exc as e:
        print(type(e).__name__, e)
    else:
        raise SystemExit("no error")
assert not app.before_request_funcs and "pytrace" not in app.extensions
ext = Pytrace()
assert ext.init_app(app) is app and app.extensions["pytrace"] is ext
try:
    instrument(app)
except RuntimeError as e:
    print("RuntimeError", e)
other = flask.Flask("b")
other.route("/")(lambda: "ok")
other.test_client().get("/")
try:
    Pytrace(other)
except RuntimeError as e:
    print("RuntimeError", e)
assert not other.before_request_funcs.get(None)
two = flask.Flask("c")
ext.init_app(two)
assert two.extensions["pytrace"] is ext
print("ok")
'''
    r = subprocess.run([PYTHON, "-c", code], env=ENV, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "TypeError pytrace.flask: expected a flask.Flask application, not object"
    assert lines[1] == "TypeError pytrace.flask.Pytrace: lab_records must be a bool, not int"
    assert lines[2] == "TypeError pytrace.flask: expected a flask.Flask application, not str"
    assert lines[3] == "RuntimeError pytrace.flask: application 'a' is already instrumented"
    assert lines[4].startswith("RuntimeError pytrace.flask: application 'b' has already served")
    assert lines[5] == "ok"


def test_hostile_strings_never_raise():
    """A path with a NUL and a header with undecodable bytes come from clients: recorded escaped,
    the response is the application's."""
    code = r'''
import flask
from pytrace.flask import Pytrace
app = flask.Flask("h")
Pytrace(app)
@app.route("/<path:p>")
def echo(p):
    return "ok"
c = app.test_client()
print(c.get("/a%00b").status_code, c.get("/caf%C3%A9").status_code,
      c.get("/x", headers={"traceparent": "00-\udcff"}).status_code)
'''
    t = retried(lttngharness.run_traced, [PYTHON, "-c", code], env=ENV, events=REQUEST_EVENTS)
    assert t.returncode == 0, t.stderr
    assert t.stdout.split() == ["200", "200", "200"]
    entries = [e for e in t.events if e["event"] == "request_entry"]
    assert [e["path"] for e in entries] == ["/a\\x00b", "/caf\u00e9", "/x"]
    assert entries[2]["trace_id"] == "-"
    assert len([e for e in t.events if e["event"] == "request_exit"]) == 3
