# SPDX-License-Identifier: MIT
"""sink.pytrace.chrome on real traces: known programs recorded by real sessions (lttngharness)
in per-event and fast mode, exported with `babeltrace2 --plugin-path=PLUGIN_DIR TRACE -c
sink.pytrace.chrome -p 'path="out.json",...'`, read back with json.load and compared with what
the programs did and with the trace itself (read with bt2 by the harness):

- format=chrome: every frame is one complete event whose ts/dur give the recorded entry and
  return times exactly (ns), on its thread's track, nested; counts per function are the
  program's; exceptions, logging records and marks are instants with their args; spans and
  requests are complete events on the thread's span track; metadata names every track; C
  calls (--c-calls) are complete events too;
- format=zipkin: a SERVER span per request with the recorded W3C trace ids and its status, the
  view's span a child of its request; format=otlp: the same spans;
- bad parameters fail the component's initialization with a message, a write error or a trace
  that is not libpytrace's fails the graph;
- memory does not grow with the trace: a 1M-call trace exports in the RSS of a 100k-call one;
- synthetic traces from a bt2 source (exact messages a session cannot be made to write):
  string escaping, frames left open or entered before the trace, restated stacks, spans that
  interleave, attributes that are not JSON, native frames, Zipkin/OTLP parents;
- the export and a failing initialization under valgrind.
"""
import collections
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid

import bt2
import pytest

import lttngharness

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
PLUGIN_DIR = os.environ["PYTRACE_BT_PLUGIN_DIR"]
RUN = os.environ["PYTRACE_RUN"]
SHIM = os.environ.get("PYTRACE_SHIM_PATH", "")
PYTHON = os.environ.get("PYTRACE_PYTHON", "/usr/bin/python3")
BABELTRACE2 = shutil.which("babeltrace2") or "/usr/bin/babeltrace2"
CI = os.environ.get("CI") == "true"
DIST = "/usr/lib/python3/dist-packages"
FLASK_PACKAGES = ("flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click",
                  "blinker")
SPAN_TRACK = 1 << 30  # a thread's span track: tid + 2^30
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
# the summary line every sink of the plugin prints on stderr
SUMMARY = re.compile(r"^pytrace: (\d+) events, (\d+) threads(?:, \d+ records of undefined code)?"
                     r"(?:, (\d+) events lost \(discarded by LTTng\))?(?:, \d+ packets lost)?$",
                     re.M)

# known.py: activations of its functions (module __main__) per thread
KNOWN_MAIN = {"<module>": 1, "top": 2, "middle": 4, "leaf": 13, "gen": 4, "catches": 1,
              "fails": 1}
KNOWN_WORKER = {"worker": 1, "top": 1, "middle": 2, "leaf": 5}
OUTER_ATTRS = {"user": "ann", "quote": 'say "hi"\n\\', "uni": "\u00fc"}
# webapp.py's requests: path -> (endpoint, rule, status, error, trace id, parent id)
REQUESTS = {
    "/": ("index", "/", 200, "", TRACE, PARENT),
    "/work/3": ("work", "/work/<int:n>", 200, "", TRACE, PARENT),
    "/work/2": ("work", "/work/<int:n>", 200, "", "", ""),
    "/boom": ("boom", "/boom", 500, "ValueError", "", ""),
    "/missing": ("", "", 404, "", "", ""),
    "/forbidden": ("forbidden", "/forbidden", 403, "", "", ""),
}

# Flask's own frames (250k events) would only slow the test down: the requests' and spans'
# track does not depend on them.
WEBAPP_INCLUDE = "__main__"

_traces = {}
_tmp = tempfile.mkdtemp(prefix="pytrace-chrome-")


def teardown_module():
    for t in _traces.values():
        shutil.rmtree(t.path, ignore_errors=True)
    shutil.rmtree(_tmp, ignore_errors=True)


def plugin_only():
    """The plugin does not depend on the build's CPython: its costly checks (valgrind, memory)
    run in the build of Debian's CPython only, not again in each pyenv build of
    scripts/test.sh."""
    if not os.path.realpath(PYTHON).startswith("/usr/bin/"):
        pytest.skip(f"checks the plugin only: run in the build of Debian's CPython, not {PYTHON}")


def need(what, ok):
    if not ok:
        if CI:
            pytest.fail(f"{what} is missing")
        pytest.skip(f"{what} is missing")


def python_path():
    """The shim, and Flask for the build's CPython: its own, or Debian's (pure Python) linked
    into a temporary directory, as tests/python/test_flask.py does."""
    r = subprocess.run([PYTHON, "-c", "import flask"], capture_output=True, timeout=60)
    if r.returncode == 0:
        return SHIM
    d = os.path.join(_tmp, "flask")
    os.makedirs(d, exist_ok=True)
    for name in FLASK_PACKAGES:
        src, dst = os.path.join(DIST, name), os.path.join(d, name)
        if os.path.isdir(src) and not os.path.lexists(dst):
            os.symlink(src, dst)
    return f"{SHIM}:{d}"


def retried(run, *args, **kw):
    """run(*args, **kw), again if `lttng` itself failed (a session daemon shared with other
    tests), never on an assertion."""
    for attempt in range(3):
        try:
            return run(*args, **kw)
        except RuntimeError as e:
            if not str(e).startswith("lttng ") or attempt == 2:
                raise


def record(prog, mode, include=None, opts=()):
    """The trace of programs/@prog in @mode ("events" or "fast"), recorded once per module;
    @include: PYTRACE_INCLUDE (the modules whose frames are recorded), default all; @opts:
    pytrace-run's options."""
    key = (prog, mode, tuple(opts))
    if key in _traces:
        return _traces[key]
    need("babeltrace2", os.path.exists(BABELTRACE2))
    need("the shim package pytrace (PYTRACE_SHIM_PATH)", SHIM)
    env = dict(os.environ, PYTRACE_MODE=mode, PYTHONPATH=python_path())
    if include:
        env["PYTRACE_INCLUDE"] = include
    t = retried(lttngharness.run_traced, [RUN, *opts, os.path.join(PROGRAMS, prog)], env=env,
                keep=True, python_rules=(("-a",),), contexts=("vtid",))
    assert t.returncode == 0, t.stderr
    _traces[key] = t
    return t


def export(trace, **params):
    """(completed process, parsed JSON or None) of the sink on the trace at @trace."""
    out = os.path.join(_tmp, f"out-{uuid.uuid4().hex[:8]}.json")
    params.setdefault("path", out)
    p = ",".join(f"{k}={json.dumps(v) if isinstance(v, str) else v}"
                 for k, v in params.items())
    r = subprocess.run([BABELTRACE2, f"--plugin-path={PLUGIN_DIR}", trace,
                        "-c", "sink.pytrace.chrome", "-p", p],
                       capture_output=True, text=True, timeout=120)
    data = None
    if r.returncode == 0 and os.path.exists(out):
        with open(out, encoding="utf-8") as f:
            data = json.load(f)
        os.unlink(out)
    return r, data


def ns(us):
    """A chrome ts or dur (µs, three decimals) in ns."""
    return round(us * 1000)


def origin(data):
    return int(data["otherData"]["origin_ns"])


def complete(data, cat=None):
    return [e for e in data["traceEvents"]
            if e["ph"] == "X" and (cat is None or e["cat"] == cat)]


def check_nesting(data):
    """On every track (pid, tid), each complete event lies within the one enclosing it."""
    tracks = collections.defaultdict(list)
    for e in complete(data):
        assert e["dur"] >= 0, e
        tracks[e["pid"], e["tid"]].append((ns(e["ts"]), ns(e["ts"]) + ns(e["dur"]), e))
    for key, evs in tracks.items():
        evs.sort(key=lambda x: (x[0], -x[1]))
        stack = []
        for start, end, e in evs:
            while stack and stack[-1][1] <= start and not (stack[-1][0] == start == end):
                stack.pop()
            if stack:
                assert end <= stack[-1][1], \
                    f"track {key}: {e['name']} [{start}, {end}] overlaps {stack[-1][2]['name']}"
            stack.append((start, end, e))


def check_metadata(data):
    """A process_name per pid, a thread_name per track."""
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in data["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"}
    pids = {e["pid"] for e in data["traceEvents"]
            if e["ph"] == "M" and e["name"] == "process_name"}
    for e in data["traceEvents"]:
        if e["ph"] == "X" or (e["ph"] == "i" and e["s"] == "t"):
            assert (e["pid"], e["tid"]) in names, e
        if e["ph"] != "M":
            assert e["pid"] in pids, e
    for (pid, tid), name in names.items():
        if tid >= SPAN_TRACK:
            assert name == f"spans of {tid - SPAN_TRACK}"
        else:
            assert name == (f"main {tid}" if tid == pid else f"thread {tid}")
    return names


def frames_of(events):
    """(tid, qualname, module, file, first line, entry ns, return ns) of every Python frame
    activation in the harness's events, paired by the thread's stack."""
    stacks, out = collections.defaultdict(list), []
    for e in events:
        if e["event"] == "function__entry":
            stacks[e["tid"]].append(e)
        elif e["event"] == "function__return":
            b = stacks[e["tid"]].pop()
            assert b["co_qualname"] == e["co_qualname"]
            out.append((e["tid"], b["co_qualname"], b["module"], b["co_filename"],
                        b["line_no"], b["ts"], e["ts"]))
    assert not any(stacks.values()), "unbalanced trace"
    return sorted(out)


def summary(stderr):
    """(events, threads, events lost) of the sink's summary line."""
    m = SUMMARY.search(stderr)
    assert m, stderr
    return tuple(int(x or 0) for x in m.groups())


# ---- format=chrome on known.py ----

@pytest.mark.parametrize("mode", ["events", "fast"])
def test_chrome_known_program(mode):
    t = record("known.py", mode)
    assert t.stdout == "done\n"
    r, data = export(t.path)
    assert r.returncode == 0, r.stderr
    events, threads, lost = summary(r.stderr)
    assert lost == 0 and threads >= 2
    assert data["displayTimeUnit"] == "ns"
    assert data["otherData"]["events"] == str(events)
    check_nesting(data)
    names = check_metadata(data)
    o = origin(data)
    pid = next(iter({e["pid"] for e in data["traceEvents"]}))
    main, = [tid for (p, tid) in names if tid == pid]
    worker, = [tid for (p, tid) in names if tid != pid and tid < SPAN_TRACK]

    # Every frame of the trace, exactly: thread, names, entry and return times.
    want = frames_of(t.events)
    got = sorted((e["tid"], e["name"], e["args"]["module"], e["args"]["file"],
                  e["args"]["line"], o + ns(e["ts"]), o + ns(e["ts"]) + ns(e["dur"]))
                 for e in complete(data, "python"))
    assert got == want
    assert all(e["pid"] == pid for e in data["traceEvents"])
    assert not any({"unfinished", "unstarted", "clipped"} & e["args"].keys()
                   for e in complete(data))
    # ... and what the program did.
    for tid, known in ((main, KNOWN_MAIN), (worker, KNOWN_WORKER)):
        counts = collections.Counter(e["name"] for e in complete(data, "python")
                                     if e["tid"] == tid and e["args"]["module"] == "__main__")
        assert counts == known, tid
    gen = [e for e in complete(data, "python") if e["name"] == "gen"]
    assert [e["args"].get("entry", "call") for e in gen] == ["call", "resume", "resume",
                                                             "resume"]
    assert [e["args"].get("return", "return") for e in gen] == ["yield"] * 3 + ["return"]

    # Exceptions: the trace's, with their frames (3.8-3.11 fast mode records none).
    instants = [e for e in data["traceEvents"] if e["ph"] == "i"]
    exc = sorted((e["tid"], e["name"], e["args"]["function"], e["args"]["module"],
                  e["args"]["line"], o + ns(e["ts"])) for e in instants
                 if e["cat"] == "exception")
    assert exc == sorted((e["tid"], e["exc_type"], e["co_qualname"], e["module"],
                          e["line_no"], e["ts"]) for e in t.events if e["event"] == "exception")
    if mode == "events":
        assert sorted((x[1], x[2]) for x in exc if x[3] == "__main__" and
                      x[1] == "ValueError") == [("ValueError", "catches"), ("ValueError", "fails")]
        fails, = [e for e in complete(data, "python") if e["name"] == "fails"]
        assert fails["args"]["return"] == "unwind"

    # The logging record and the mark, on the main thread, the mark inside span `outer`.
    log, = [e for e in instants if e["cat"] == "log"]
    assert (log["name"], log["tid"], log["s"], log["args"]) == (
        "hello log", main, "t", {"logger": "known", "level": 30, "msg": "hello log"})
    mark, = [e for e in instants if e["cat"] == "mark"]
    assert (mark["name"], mark["tid"], mark["s"], mark["args"]) == ("tick", main, "t",
                                                                     {"n": "1"})
    spans = {e["name"]: e for e in complete(data, "span")}
    assert spans.keys() == {"outer", "work"}
    outer, work = spans["outer"], spans["work"]
    assert (outer["tid"], outer["args"]) == (main + SPAN_TRACK, OUTER_ATTRS)
    assert (work["tid"], work["args"]) == (worker + SPAN_TRACK, {"kind": "thread"})
    begins = {e["name"]: e["ts"] for e in t.events if e["event"] == "span_begin"}
    ends = {e["name"]: e["ts"] for e in t.events if e["event"] == "span_end"}
    for name, e in spans.items():
        assert (o + ns(e["ts"]), o + ns(e["ts"]) + ns(e["dur"])) == (begins[name], ends[name])
    assert ns(outer["ts"]) <= ns(mark["ts"]) <= ns(outer["ts"]) + ns(outer["dur"])
    # Within `outer`, the main thread called top() once (and its callees).
    inside = collections.Counter(
        e["name"] for e in complete(data, "python")
        if e["tid"] == main and ns(outer["ts"]) <= ns(e["ts"])
        and ns(e["ts"]) + ns(e["dur"]) <= ns(outer["ts"]) + ns(outer["dur"]))
    assert (inside["top"], inside["middle"], inside["leaf"]) == (1, 2, 5)


@pytest.mark.parametrize("mode", ["events", "fast"])
def test_chrome_c_calls(mode):
    # --c-calls: each C call is a complete event of category c on its thread's track, at the
    # times of its entry and return, nested with the Python frames.
    t = record("known.py", mode, include="__main__", opts=["--c-calls"])
    r, data = export(t.path)
    assert r.returncode == 0, r.stderr
    check_nesting(data)
    o = origin(data)
    stacks, want = collections.defaultdict(list), []
    for e in t.events:
        if e["event"] == "c_function__entry":
            stacks[e["tid"]].append(e)
        elif e["event"] == "c_function__return":
            b = stacks[e["tid"]].pop()
            want.append((e["tid"], b["name"], b["ts"], e["ts"]))
    got = [(e["tid"], e["name"], o + ns(e["ts"]), o + ns(e["ts"]) + ns(e["dur"]))
           for e in complete(data, "c")]
    assert sorted(got) == sorted(want)
    # what known.py's module body calls in C: print() once, pytrace.mark() once
    names = collections.Counter(x[1] for x in got)
    assert (names["print"], names["pytrace._native.mark"]) == (1, 1)
    assert len(complete(data, "python")) == len(frames_of(t.events))


def test_zipkin_and_otlp_known_program():
    t = record("known.py", "events")
    r, spans = export(t.path, format="zipkin")
    assert r.returncode == 0, r.stderr
    begins = {e["name"]: e for e in t.events if e["event"] == "span_begin"}
    ends = {e["name"]: e for e in t.events if e["event"] == "span_end"}
    assert sorted(s["name"] for s in spans) == ["outer", "work"]
    for s in spans:
        # Spans outside any request: local spans, each its own trace.
        assert "kind" not in s and "parentId" not in s
        assert HEX32.match(s["traceId"]) and HEX16.match(s["id"])
        b, e = begins[s["name"]], ends[s["name"]]
        assert s["timestamp"] == b["ts"] // 1000
        assert abs(s["duration"] - (e["ts"] - b["ts"]) / 1000) <= 1
        assert s["localEndpoint"] == {"serviceName": "python"}
        assert s["tags"]["thread.id"] == str(b["tid"])
    assert len({s["traceId"] for s in spans}) == 2
    assert {k: v for k, v in spans[0 if spans[0]["name"] == "outer" else 1]["tags"].items()
            if k != "thread.id"} == OUTER_ATTRS

    r, otlp = export(t.path, format="otlp", service="known")
    assert r.returncode == 0, r.stderr
    rs, = otlp["resourceSpans"]
    assert rs["resource"]["attributes"] == [{"key": "service.name",
                                             "value": {"stringValue": "known"}}]
    ss, = rs["scopeSpans"]
    assert ss["scope"] == {"name": "libpytrace"}
    by_name = {s["name"]: s for s in spans}
    for s in ss["spans"]:
        z = by_name[s["name"]]
        assert (s["traceId"], s["spanId"], s["kind"]) == (z["traceId"], z["id"], 1)
        assert "parentSpanId" not in s and "status" not in s
        assert (int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"])) == (
            begins[s["name"]]["ts"], ends[s["name"]]["ts"])
    assert len(ss["spans"]) == 2


# ---- the Flask application ----

def request_events(t):
    entries = {e["id"]: e for e in t.events if e["event"] == "request_entry"}
    exits = {e["id"]: e for e in t.events if e["event"] == "request_exit"}
    assert entries.keys() == exits.keys() and len(entries) == len(REQUESTS)
    return entries, exits


@pytest.mark.parametrize("mode", ["events", "fast"])
def test_chrome_flask(mode):
    t = record("webapp.py", mode, include=WEBAPP_INCLUDE)
    assert t.stdout.split("\n")[:-1] == [f"{p} {REQUESTS[p][2]}" for p in REQUESTS]
    r, data = export(t.path)
    assert r.returncode == 0, r.stderr
    assert summary(r.stderr)[2] == 0
    check_nesting(data)
    check_metadata(data)
    o = origin(data)
    assert len(complete(data, "python")) == len(frames_of(t.events))
    entries, exits = request_events(t)
    reqs = complete(data, "request")
    assert [e["args"]["path"] for e in reqs] == list(REQUESTS)
    tid = exits[1]["tid"]
    for e in reqs:
        endpoint, rule, status, error, trace, parent = REQUESTS[e["args"]["path"]]
        assert e["name"] == f"GET {rule or e['args']['path']}"
        assert e["tid"] == tid + SPAN_TRACK
        assert e["args"] == {"method": "GET", "path": e["args"]["path"], "endpoint": endpoint,
                             "rule": rule, "status": status, "error": error, "trace_id": trace,
                             "parent_span_id": parent}
        entry, = [x for x in entries.values() if x["path"] == e["args"]["path"]]
        exit_ = exits[entry["id"]]
        assert (o + ns(e["ts"]), o + ns(e["ts"]) + ns(e["dur"])) == (entry["ts"], exit_["ts"])
    # The view's span lies on the same track, inside its request.
    spans = complete(data, "span")
    assert [(s["name"], s["args"], s["tid"]) for s in spans] == [
        ("compute", {"n": "3"}, tid + SPAN_TRACK), ("compute", {"n": "2"}, tid + SPAN_TRACK)]
    for s, path in zip(spans, ("/work/3", "/work/2")):
        req, = [e for e in reqs if e["args"]["path"] == path]
        assert ns(req["ts"]) <= ns(s["ts"])
        assert ns(s["ts"]) + ns(s["dur"]) <= ns(req["ts"]) + ns(req["dur"])


def test_zipkin_and_otlp_flask():
    t = record("webapp.py", "events", include=WEBAPP_INCLUDE)
    entries, exits = request_events(t)
    r, spans = export(t.path, format="zipkin", service="webapp")
    assert r.returncode == 0, r.stderr
    server = [s for s in spans if s.get("kind") == "SERVER"]
    local = [s for s in spans if "kind" not in s]
    assert len(server) == len(REQUESTS) and len(local) == 2 and len(spans) == 8
    by_path = {}
    for s in server:
        path = s["tags"]["http.path"]
        by_path[path] = s
        endpoint, rule, status, error, trace, parent = REQUESTS[path]
        entry, = [x for x in entries.values() if x["path"] == path]
        assert s["name"] == f"GET {rule or path}"
        assert s["timestamp"] == entry["ts"] // 1000
        assert abs(s["duration"] - (exits[entry["id"]]["ts"] - entry["ts"]) / 1000) <= 0.5
        assert s["localEndpoint"] == {"serviceName": "webapp"}
        tags = {"http.method": "GET", "http.path": path, "http.status_code": str(status),
                "thread.id": str(entry["tid"])}
        if rule:
            tags["http.route"] = rule
        if error:
            tags["error"] = error
        assert s["tags"] == tags
        assert HEX16.match(s["id"])
        if trace:
            assert (s["traceId"], s["parentId"]) == (trace, parent)
        else:
            assert HEX32.match(s["traceId"]) and s["traceId"] != TRACE
            assert "parentId" not in s
    assert len({s["id"] for s in spans}) == 8
    assert len({s["traceId"] for s in server}) == len(REQUESTS) - 1  # two share TRACE
    for s, path in zip(local, ("/work/3", "/work/2")):
        req = by_path[path]
        assert (s["name"], s["tags"]["n"]) == ("compute", path[-1])
        assert (s["traceId"], s["parentId"]) == (req["traceId"], req["id"])

    r, otlp = export(t.path, format="otlp", service="webapp")
    assert r.returncode == 0, r.stderr
    rs, = otlp["resourceSpans"]
    assert rs["resource"]["attributes"] == [{"key": "service.name",
                                             "value": {"stringValue": "webapp"}}]
    ospans = rs["scopeSpans"][0]["spans"]
    assert len(ospans) == 8
    zipkin = {s["id"]: s for s in spans}
    for s in ospans:
        z = zipkin[s["spanId"]]
        assert HEX32.match(s["traceId"]) and HEX16.match(s["spanId"])
        assert (s["traceId"], s.get("parentSpanId"), s["name"]) == (
            z["traceId"], z.get("parentId"), z["name"])
        attrs = {a["key"]: a["value"] for a in s["attributes"]}
        if s["kind"] == 2:
            path = z["tags"]["http.path"]
            endpoint, rule, status, error, trace, parent = REQUESTS[path]
            assert attrs["http.method"] == {"stringValue": "GET"}
            assert attrs["http.target"] == {"stringValue": path}
            assert attrs["http.status_code"] == {"intValue": str(status)}
            assert attrs.get("http.route") == ({"stringValue": rule} if rule else None)
            assert s.get("status") == ({"code": 2, "message": error} if error else None)
        else:
            assert s["kind"] == 1 and attrs["n"] == {"stringValue": z["tags"]["n"]}
        assert int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"])


# ---- parameters ----

@pytest.mark.parametrize("params, message", [
    ('format="svg"', 'unknown format "svg" (chrome, zipkin or otlp)'),
    ("format=3", "parameter `format` must be a string"),
    ('path="/nonexistent-dir/out.json"', 'cannot open "/nonexistent-dir/out.json" for writing'),
    ('path=""', "parameter `path` is empty"),
    ('progress="yes"', "parameter `progress` must be a boolean"),
    ("service=1", "parameter `service` must be a string"),
    ('colour="red"', "unknown parameter `colour`"),
])
def test_bad_parameters(params, message):
    t = record("known.py", "events")
    r = subprocess.run([BABELTRACE2, f"--plugin-path={PLUGIN_DIR}", t.path,
                        "-c", "sink.pytrace.chrome", "-p", params],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert message in r.stderr
    assert r.stdout == ""


def test_stdout_and_progress():
    # Without `path`, the JSON goes to stdout; `progress` adds lines on stderr, never on stdout.
    t = record("known.py", "fast")
    r = subprocess.run([BABELTRACE2, f"--plugin-path={PLUGIN_DIR}", t.path,
                        "-c", "sink.pytrace.chrome", "-p", "progress=yes,format=\"zipkin\""],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert [s["name"] for s in json.loads(r.stdout)] == ["outer", "work"]
    for line in r.stderr.splitlines():
        assert SUMMARY.match(line) or re.match(r"^\d+ events read \(\d+/s\)$", line), line


# ---- the sink under valgrind: no error, no definite leak, on the export and error paths ----

def test_valgrind():
    plugin_only()
    valgrind = shutil.which("valgrind")
    need("valgrind", valgrind)
    t = record("webapp.py", "fast", include=WEBAPP_INCLUDE)  # small: requests, spans, frames
    vg = [valgrind, "--error-exitcode=99", "--leak-check=full", "--show-leak-kinds=definite",
          "--errors-for-leak-kinds=definite", BABELTRACE2, f"--plugin-path={PLUGIN_DIR}",
          t.path, "-c", "sink.pytrace.chrome", "-p"]
    out = os.path.join(_tmp, "valgrind.json")
    r = subprocess.run(vg + [f'path="{out}"'], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    with open(out, encoding="utf-8") as f:
        data = json.load(f)
    assert len(complete(data, "python")) == len(frames_of(t.events))
    assert len(complete(data, "request")) == len(REQUESTS)
    r = subprocess.run(vg + ['format="zipkin",path="/dev/null"'], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    # A component that fails to initialize frees what it had made.
    r = subprocess.run(vg + ['format="otlp",path="/nonexistent-dir/x"'], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 1, r.stderr


# ---- memory: bounded by the stacks, not by the trace ----

def record_calls(n):
    """A trace of programs/many.py making @n calls in per-event mode, its frames only
    (PYTRACE_INCLUDE), on a blocking channel: the program waits for the consumer rather than
    lose events (LTTNG_UST_ALLOW_BLOCKING). Not read back by the harness: bt2 in Python would
    take a minute."""
    lttngharness.ensure_sessiond()
    name = f"pytrace-chrome-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    outdir = tempfile.mkdtemp(prefix="pytrace-trace-", dir=_tmp)
    lttng = lttngharness._lttng
    lttng("create", name, f"--output={outdir}")
    try:
        lttng("enable-channel", "-u", "-s", name, "--buffers-pid", "--subbuf-size=4M",
              "--num-subbuf=8", "--blocking-timeout=inf", "chan")
        lttng("enable-event", "-u", "-s", name, "-c", "chan",
              "python:function__entry,python:function__return")
        env = dict(os.environ, PYTRACE_INCLUDE="__main__", LTTNG_UST_ALLOW_BLOCKING="1")
        proc = subprocess.Popen(["/bin/sh", "-c", 'kill -STOP $$; exec "$@"', "sh", RUN,
                                 os.path.join(PROGRAMS, "many.py"), str(n)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status)
        lttng("track", "-u", "-s", name, f"--vpid={proc.pid}")
        lttng("start", name)
        os.kill(proc.pid, signal.SIGCONT)
        out, err = proc.communicate(timeout=120)
        lttng("stop", name)
    finally:
        lttng("destroy", name, check=False)
    assert (proc.returncode, out) == (0, b"done\n"), err
    return outdir


# Runs argv and prints its maximum RSS (KiB): a process of its own, so that no other child of
# the test counts.
# Also counts the complete events of the JSON it writes on stdout.
MAXRSS = """
import resource, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
n = sum(1 for line in p.stdout if line.startswith(b'{"ph":"X"'))
p.wait()
print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, n)
"""


def maxrss(path, sink):
    """(babeltrace2's maximum RSS in KiB, complete events written, stderr) for @sink on the
    trace at @path."""
    r = subprocess.run([sys.executable, "-c", MAXRSS, BABELTRACE2, f"--plugin-path={PLUGIN_DIR}",
                        path, "-c", sink], capture_output=True, text=True, timeout=300)
    rc, rss, n = (int(x) for x in r.stdout.split())
    assert rc == 0, r.stderr
    return rss, n, r.stderr


def test_memory_does_not_grow_with_the_trace():
    # babeltrace2's own RSS grows with the trace (its CTF source maps the stream files): the
    # sink's growth is measured against sink.utils.dummy's on the same traces.
    plugin_only()
    need("babeltrace2", os.path.exists(BABELTRACE2))
    chrome, dummy = {}, {}
    for n in (100_000, 1_000_000):
        path = retried(record_calls, n)
        chrome[n], written, err = maxrss(path, "sink.pytrace.chrome")
        dummy[n], _, _ = maxrss(path, "sink.utils.dummy")
        # the calls, loop() and the module, each an entry and a return; no event lost
        assert summary(err) == (2 * (n + 2), 1, 0)
        assert written == n + 2
        shutil.rmtree(path, ignore_errors=True)
    growth = (chrome[1_000_000] - chrome[100_000]) - (dummy[1_000_000] - dummy[100_000])
    assert growth < 4096, (chrome, dummy)


# ---- synthetic traces: exact messages from a bt2 source ----

PID = 4242
_LIB = ctypes.CDLL("libbabeltrace2.so.0")
_LIB.bt_field_string_set_value.argtypes = (ctypes.c_void_p, ctypes.c_char_p)


def _plugin():
    for p in bt2.find_plugins_in_path(PLUGIN_DIR):
        if p.name == "pytrace":
            return p
    raise AssertionError(f"no plugin pytrace in {PLUGIN_DIR}")


class _Iter(bt2._UserMessageIterator):
    def __init__(self, config, port):
        tc, sc, classes, events = port.user_data
        stream = tc(environment={"vpid": PID}).create_stream(sc)
        self._msgs = [self._create_stream_beginning_message(stream)]
        for name, ts, fields in events:
            msg = self._create_event_message(classes[name, tuple(fields)], stream,
                                             default_clock_snapshot=ts)
            # the vtid context, as `lttng add-context -u -t vtid` records it
            msg.event.common_context_field["vtid"] = fields.get("tid", fields.get("vtid", 0))
            for k, v in fields.items():
                if isinstance(v, bytes):  # any bytes: what bt2's str setter cannot make
                    _LIB.bt_field_string_set_value(
                        ctypes.c_void_p(int(msg.event.payload_field[k]._ptr)), v)
                else:
                    msg.event.payload_field[k] = v
            self._msgs.append(msg)
        self._msgs.append(self._create_stream_end_message(stream))
        self._msgs.reverse()

    def __next__(self):
        if not self._msgs:
            raise StopIteration
        return self._msgs.pop()


class _Source(bt2._UserSourceComponent, message_iterator_class=_Iter):
    def __init__(self, config, params, events):
        tc = self._create_trace_class()
        cc = self._create_clock_class(frequency=1_000_000_000, offset=bt2.ClockClassOffset(100))
        ctx = tc.create_structure_field_class()
        ctx.append_member("vtid", tc.create_signed_integer_field_class(64))
        sc = tc.create_stream_class(default_clock_class=cc, event_common_context_field_class=ctx)
        classes = {}
        for name, _, fields in events:
            if (name, tuple(fields)) in classes:
                continue
            payload = tc.create_structure_field_class()
            for k, v in fields.items():
                payload.append_member(k, tc.create_string_field_class()
                                      if isinstance(v, (str, bytes))
                                      else tc.create_signed_integer_field_class(64))
            classes[name, tuple(fields)] = sc.create_event_class(name=name,
                                                                 payload_field_class=payload)
        self._add_output_port("out", (tc, sc, classes, events))


def synthetic(events, **params):
    """The sink's parsed output on @events: (name, clock value in ns, fields); the clock's
    origin is 100 s before its value 0."""
    out = os.path.join(_tmp, f"syn-{uuid.uuid4().hex[:8]}.json")
    graph = bt2.Graph()
    src = graph.add_component(_Source, "src", obj=events)
    sink = graph.add_component(_plugin().sink_component_classes["chrome"], "sink",
                               params=dict(params, path=out))
    graph.connect_ports(src.output_ports["out"], sink.input_ports["in"])
    graph.run()
    with open(out, encoding="utf-8") as f:  # strict: the file must be valid UTF-8
        data = json.load(f)
    os.unlink(out)
    return data


def entry(ts, tid, q, kind=0, line=1):
    return ("python:function__entry", ts, dict(
        co_filename="/a.py", co_name=q, line_no=line, co_qualname=q, module="m", kind=kind,
        tid=tid, interp=0))


def ret(ts, tid, q, kind=0):
    return ("python:function__return", ts, dict(
        co_filename="/a.py", co_name=q, line_no=2, co_qualname=q, module="m", kind=kind,
        tid=tid, interp=0))


def span(ts, tid, name, ident, attrs="{}"):
    return ("python:span_begin", ts, dict(name=name, id=ident, attrs=attrs, tid=tid))


def span_end(ts, tid, name, ident):
    return ("python:span_end", ts, dict(name=name, id=ident, tid=tid))


def mark(ts, tid, name, attrs):
    return ("python:mark", ts, dict(name=name, attrs=attrs, tid=tid))


def request(ts, tid, ident, path, trace="-", parent="-"):
    return ("python:request_entry", ts, dict(id=ident, method="GET", path=path, endpoint="-",
                                             rule="-", trace_id=trace, parent_span_id=parent,
                                             tid=tid))


def request_end(ts, tid, ident, path, status=200, error="-"):
    return ("python:request_exit", ts, dict(id=ident, method="GET", path=path, endpoint="-",
                                            rule="-", status=status, duration_ns=1,
                                            error=error, tid=tid))


def slices(data, tid=None):
    """(name, start as a clock value, dur ns, args) of the complete events (of track @tid), by
    start."""
    o = origin(data) - 100 * 10**9
    return sorted((e["name"], o + ns(e["ts"]), ns(e["dur"]), e["args"]) for e in complete(data)
                  if tid is None or e["tid"] == tid)


NASTY = "q\"b\\s/\x01\x1f\t\n\r\x7f\u2028\u00e9\u4e2d\U0001f600"


def test_strings_are_escaped():
    # Every string written is JSON: control characters, quotes and backslashes escaped, any
    # UTF-8 kept, bytes that are not UTF-8 replaced by U+FFFD, each on its own.
    data = synthetic([
        entry(1000, 1, NASTY),
        mark(1100, 1, "m1", '{"k":"v\\u0041\\n","n":-1.5e3,"t":true,"z":null}'),
        mark(1200, 1, "m2", "not json {"),
        mark(1300, 1, "m3", '{"nested":{"a":"b"}}'),
        mark(1400, 1, b"bad\xff\xc3(\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82end", "{}"),
        mark(1500, 1, "m5", b'{"k":"\xff"}'),
        ret(2000, 1, NASTY),
    ])
    (name, ts, dur, args), = slices(data)
    assert (name, ts, dur) == (NASTY, 1000, 1000)
    marks = {e["name"]: e["args"] for e in data["traceEvents"] if e["ph"] == "i"}
    assert marks == {
        "m1": {"k": "vA\n", "n": -1500.0, "t": True, "z": None},
        "m2": {"attrs": "not json {"},
        "m3": {"attrs": '{"nested":{"a":"b"}}'},
        "bad\ufffd\ufffd(\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffdend": {},
        "m5": {"attrs": '{"k":"\ufffd"}'},
    }
    assert data["traceEvents"][0]["ph"] == "M"


def test_frames_open_at_either_end():
    # A return whose entry predates the trace begins at its thread's first event (or inside
    # the frame open on its track: the span open then is on the other track); frames still
    # open at the end close at their thread's last event.
    data = synthetic([
        entry(1000, 1, "a"), ret(1500, 1, "a"), span(1600, 1, "s", 1), ret(2000, 1, "before"),
        span_end(2050, 1, "s", 1),
        entry(2100, 1, "b"), entry(2200, 1, "c"), mark(2500, 1, "last", "{}"),
        entry(3000, 2, "other"),
    ])
    check_nesting(data)
    assert slices(data, 1) == [
        ("a", 1000, 500, {"module": "m", "file": "/a.py", "line": 1}),
        ("b", 2100, 400, {"module": "m", "file": "/a.py", "line": 1, "unfinished": True}),
        # the line it returned from: its entry's is unknown
        ("before", 1000, 1000, {"module": "m", "file": "/a.py", "line": 2, "unstarted": True}),
        ("c", 2200, 300, {"module": "m", "file": "/a.py", "line": 1, "unfinished": True}),
    ]
    assert slices(data, 2) == [("other", 3000, 0, {"module": "m", "file": "/a.py", "line": 1,
                                                   "unfinished": True})]
    assert origin(data) == 100 * 10**9 + 1000


def test_active_run_restates_the_stack():
    # A second run of `active` entries (a session started again) restates what is open:
    # frames it names stay open, the others ended while nobody recorded.
    data = synthetic([
        entry(100, 1, "outer"), entry(200, 1, "inner"), entry(300, 1, "gone"),
        entry(1000, 1, "outer", kind=2), entry(1000, 1, "inner", kind=2),
        entry(1000, 1, "new", kind=2),
        ret(1100, 1, "new"), ret(1200, 1, "inner"), ret(1300, 1, "outer"),
    ])
    check_nesting(data)
    assert [(n, ts, d, a.get("entry"), a.get("unfinished")) for n, ts, d, a in slices(data)] == [
        ("gone", 300, 0, None, True),
        ("inner", 200, 1000, None, None),
        ("new", 1000, 100, "active", None),
        ("outer", 100, 1200, None, None),
    ]


def native(ts, tid, addr, exit=False):
    name = "lttng_ust_cyg_profile:func_" + ("exit" if exit else "entry")
    return (name, ts, dict(addr=addr, call_site=addr + 0x40, vtid=tid))


def test_native_frames():
    # lttng_ust_cyg_profile's functions, named by their address without debug info, are
    # complete events of category native on their thread's track, nested with its frames.
    data = synthetic([
        entry(100, 1, "f"), native(200, 1, 0x401000), native(300, 1, 0x402000),
        native(400, 1, 0x402000, exit=True), entry(450, 1, "callback"), ret(480, 1, "callback"),
        native(500, 1, 0x401000, exit=True), ret(600, 1, "f"),
    ])
    check_nesting(data)
    m = {"module": "m", "file": "/a.py", "line": 1}
    assert slices(data, 1) == [
        ("0x401000", 200, 300, {"addr": "0x401000"}),
        ("0x402000", 300, 100, {"addr": "0x402000"}),
        ("callback", 450, 30, m),
        ("f", 100, 500, m),
    ]
    assert {e["cat"] for e in complete(data)} == {"native", "python"}


def test_spans_that_interleave():
    # Spans ended out of order (asyncio tasks on one thread): the span track stays nested,
    # the span still open goes on from the end of the one that encloses it (clipped).
    # Frames are not affected: they have their own track.
    data = synthetic([
        entry(100, 1, "f"), span(200, 1, "a", 1), span(300, 1, "b", 2), ret(400, 1, "f"),
        span_end(500, 1, "a", 1), span_end(700, 1, "b", 2),
    ])
    check_nesting(data)
    assert slices(data, 1) == [("f", 100, 300, {"module": "m", "file": "/a.py", "line": 1})]
    assert slices(data, 1 + SPAN_TRACK) == [("a", 200, 300, {}),
                                            ("b", 500, 200, {"clipped": True})]


def test_zipkin_parents_and_ids():
    # A span inside a span inside a request without traceparent: one derived trace, each
    # the child of the one enclosing it; a request with traceparent: the caller's trace.
    events = [
        request(100, 1, 1, "/a"), span(200, 1, "outer", 1), span(300, 1, "inner", 2),
        span_end(400, 1, "inner", 2), span_end(500, 1, "outer", 1),
        request_end(600, 1, 1, "/a", status=503, error="pkg.Busy"),
        request(700, 1, 2, "/b", trace=TRACE, parent=PARENT), request_end(900, 1, 2, "/b"),
        span(1000, 2, "alone", 3),
        request_end(5000, 3, 9, "/late"),  # begun before the trace: its duration says when
    ]
    spans = {s["name"]: s for s in synthetic(events, format="zipkin")}
    assert spans.keys() == {"GET /a", "outer", "inner", "GET /b", "alone", "GET /late"}
    late = spans["GET /late"]
    assert (late["kind"], late["timestamp"], late["duration"]) == ("SERVER", 100 * 10**6 + 4, 1)
    a, outer, inner, b, alone = (spans[k] for k in ("GET /a", "outer", "inner", "GET /b",
                                                    "alone"))
    assert HEX32.match(a["traceId"]) and a["traceId"] == outer["traceId"] == inner["traceId"]
    assert "parentId" not in a
    assert (outer["parentId"], inner["parentId"]) == (a["id"], outer["id"])
    assert a["tags"]["error"] == "pkg.Busy" and a["tags"]["http.status_code"] == "503"
    assert (b["traceId"], b["parentId"]) == (TRACE, PARENT)
    assert alone["tags"] == {"thread.id": "2", "pytrace.unfinished": "true"}
    assert a["timestamp"] == 100 * 10**6  # µs since the clock's origin
    # The same trace gives the same ids.
    again = {s["name"]: (s["traceId"], s["id"]) for s in synthetic(events, format="zipkin")}
    assert again == {k: (s["traceId"], s["id"]) for k, s in spans.items()}
    otlp = synthetic(events, format="otlp")["resourceSpans"][0]["scopeSpans"][0]["spans"]
    o = {s["name"]: s for s in otlp}
    assert o["GET /a"]["status"] == {"code": 2, "message": "pkg.Busy"}
    assert o["inner"]["parentSpanId"] == outer["id"]
    assert o["GET /a"]["startTimeUnixNano"] == str(100 * 10**9 + 100)


def test_write_errors_and_foreign_traces():
    # A full disk fails the graph with the reason; so does a trace with no libpytrace event.
    t = record("known.py", "events")
    r, _ = export(t.path, path="/dev/full")
    assert r.returncode == 1 and "cannot write /dev/full: No space left on device" in r.stderr
    with pytest.raises(bt2._Error, match="no libpytrace events in this trace"):
        synthetic([("other:event", 100, dict(tid=1))])
