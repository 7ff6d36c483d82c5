# SPDX-License-Identifier: MIT
"""The pytrace package under real LTTng sessions, read back with bt2 (lttngharness.py).

Runs under Debian's /usr/bin/python3 (bt2 and pytest live there); the traced programs run under
the build's CPython (PYTRACE_PYTHON) with the build's package on PYTHONPATH:
- `python -m pytrace prog.py` records, for the program's frames, the same events as
  `pytrace-run prog.py`, event by event, with the same output and exit status as untraced;
- spans and marks come back with their attributes, nested with the function events of their
  thread;
- attach()/tracing() record only while attached and leave no hook behind; a bad attach records
  nothing;
- under pytrace-run, `import pytrace` uses pytrace-run's libpytrace (one instance);
- `python -m pytrace` forwards the program's `logging` records as `lttng_python:event` unless
  --no-logging or PYTRACE_LOGGING=0; attach(logging=True) and forward_logging() in a plain
  program forward exactly while switched on (sessions of `lttng enable-event --python`, run by
  tests/integration/logging/loglib.py).
"""
import json
import os
import subprocess

import pytest

import lttngharness
import loglib

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
RUN_PROGRAMS = os.path.join(HERE, "..", "integration", "run", "programs")
PYTHON = os.environ["PYTRACE_PYTHON"]
PYTRACE_RUN = os.environ["PYTRACE_RUN"]
ENV = dict(os.environ, PYTHONPATH=os.environ["PYTRACE_SHIM_PATH"])
SPAN_EVENTS = {"span_begin", "span_end", "mark"}
PY = tuple(int(x) for x in subprocess.run(
    [PYTHON, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True,
    check=True, timeout=60).stdout.split())


def retried(run, *args, **kw):
    """run(*args, **kw), again if `lttng` itself failed (a session daemon shared with other
    users of the machine), never on an assertion."""
    for attempt in range(3):
        try:
            return run(*args, **kw)
        except RuntimeError as e:
            if not str(e).startswith("lttng ") or attempt == 2:
                raise


def traced(argv, env=None):
    """argv under a fresh session tracking only its process."""
    return retried(lttngharness.run_traced, argv, env=dict(ENV, **(env or {})))


def untraced(argv):
    r = subprocess.run(argv, env=ENV, capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def balanced(events):
    lttngharness.assert_balanced([e for e in events if e["event"] not in SPAN_EVENTS])


def program_events(events, path):
    """The events of @path's own frames, one tuple each, threads numbered by first appearance
    (tids differ between runs)."""
    path = os.path.realpath(path)
    tids, out = {}, []
    for e in events:
        if e["event"] not in ("function__entry", "function__return", "exception"):
            continue
        if os.path.realpath(e["co_filename"]) != path:
            continue
        n = tids.setdefault(e["tid"], len(tids))
        out.append((n, e["event"], e["kind"] if "kind" in e else e["exc_type"],
                    e["co_qualname"], e["module"], e["line_no"]))
    return out


def test_same_events_as_pytrace_run():
    path = os.path.join(PROGRAMS, "mixed.py")
    # Without the standard library: printing the final traceback imports and runs thousands of
    # its frames on 3.13 (seconds of bt2 reading), and the comparison is of the program's.
    quiet = {"PYTRACE_EXCLUDE": ":stdlib"}
    want = traced([PYTRACE_RUN, path], quiet)
    got = traced([PYTHON, "-m", "pytrace", path], quiet)
    plain = untraced([PYTHON, path])
    assert plain[0] == 1 and "The above exception was the direct cause" in plain[2]
    assert (got.returncode, got.stdout, got.stderr) == plain
    assert (want.returncode, want.stdout, want.stderr) == plain
    balanced(got.events)
    mine = program_events(got.events, path)
    assert len({e[0] for e in mine}) == 2, "both threads"
    assert mine == program_events(want.events, path)


# Fast mode's records carry their own timestamps; decoded and sorted by time, they nest with the
# spans as well, a few hundred ns apart here. This caught the TSC conversion anchoring a batch at
# the end of its first record's code definition, microseconds late.
@pytest.mark.parametrize("mode", ["events", "fast"])
def test_spans_and_marks(mode):
    path = os.path.join(PROGRAMS, "spans.py")
    env = {"PYTRACE_MODE": mode}
    t = traced([PYTHON, "-m", "pytrace", path], env)
    assert (t.returncode, t.stdout, t.stderr) == (0, "done\n", "")
    balanced(t.events)
    real = os.path.realpath(path)
    spans = [e for e in t.events if e["event"] in SPAN_EVENTS]
    assert [(e["event"], e["name"]) for e in spans if e["event"] != "span_end"] == [
        ("span_begin", "work"), ("mark", "tick"), ("span_begin", "decorated"),
        ("span_begin", "work"), ("mark", "tick"), ("span_begin", "failing")]
    begins = {e["id"]: e for e in spans if e["event"] == "span_begin"}
    ends = {e["id"]: e for e in spans if e["event"] == "span_end"}
    assert len(begins) == 4 and begins.keys() == ends.keys()
    for i, b in begins.items():
        assert ends[i]["name"] == b["name"] and ends[i]["tid"] == b["tid"]
    work = [b for b in begins.values() if b["name"] == "work"]
    assert [json.loads(b["attrs"]) for b in work] == [
        {"n": n, "quote": 'say "hi"\n\\', "uni": "ü"} for n in ("1", "2")]
    assert json.loads(begins[min(begins)]["attrs"]) == {"n": "1", "quote": 'say "hi"\n\\',
                                                        "uni": "ü"}
    assert [json.loads(e["attrs"]) for e in spans if e["event"] == "mark"] == [{"n": "1"},
                                                                             {"n": "2"}]
    assert work[0]["tid"] != work[1]["tid"]

    # Per thread, in the order recorded: the program's frames and the spans, nested.
    def line(e):
        if e["event"] in SPAN_EVENTS:
            return f"{e['event']} {e['name']}"
        if e["event"] == "exception":
            return f"exception {e['exc_type']} in {e['co_qualname']}"
        return f"{e['kind']} {e['co_qualname']}"

    per_tid = {}
    for e in t.events:
        if e["event"] in SPAN_EVENTS or (
                e["event"] in ("function__entry", "function__return", "exception")
                and os.path.realpath(e["co_filename"]) == real):
            per_tid.setdefault(e["tid"], []).append(line(e))
    # 3.8-3.11 fast mode records no exception events (docs/events.md, "Fast mode").
    exc = [] if mode == "fast" and PY < (3, 12) else ["exception ValueError in <module>"]
    main_tid, thread_tid = work[0]["tid"], work[1]["tid"]
    work_lines = ["call work", "span_begin work", "call inner", "return inner", "mark tick",
                  "span_end work", "return work"]
    assert per_tid[thread_tid] == work_lines
    assert per_tid[main_tid] == ["call <module>", *work_lines,
                                 "span_begin decorated", "call deco", "call inner",
                                 "return inner", "return deco", "span_end decorated",
                                 "span_begin failing", "call inner", "return inner",
                                 *exc, "span_end failing",
                                 "return <module>"]


def test_attach_detach_record_only_while_attached():
    path = os.path.join(PROGRAMS, "attach_cycle.py")
    t = traced([PYTHON, path])
    assert t.returncode == 0, t.stderr
    assert t.stdout.splitlines() == ["bad attach: ValueError", "hooked True", "after False",
                                     "hooked True", "after False"]
    balanced(t.events)
    names = [e["co_qualname"] for e in t.events
             if e["event"] == "function__entry" and e["module"] == "__main__"]
    assert names.count("traced") == 2 and "untraced" not in names, names
    # What was open at detach is closed by `detach` returns; nothing is left open.
    assert not [e for e in t.events if e["event"] == "function__entry"
                and e["co_qualname"] == "untraced"]


def test_one_libpytrace_under_pytrace_run():
    code = ("import pytrace, sys\n"
            "try:\n"
            "    pytrace.attach()\n"
            "except RuntimeError as e:\n"
            "    print('attach:', e)\n"
            "pytrace.mark('once')\n"
            "maps = {l.split()[-1] for l in open('/proc/self/maps') if 'libpytrace.so' in l}\n"
            "print(len(maps))\n")
    t = traced([PYTRACE_RUN, "-c", code])
    assert t.returncode == 0, t.stderr
    assert "already attached" in t.stdout
    assert t.stdout.splitlines()[-1] == "1"
    marks = [e for e in t.events if e["event"] == "mark"]
    assert len(marks) == 1 and marks[0]["name"] == "once", marks


@pytest.mark.parametrize("how, want", [
    ("-m pytrace", ["one", "two"]),
    ("-m pytrace --no-logging", []),
    ("-m pytrace PYTRACE_LOGGING=0", []),
    ("attach(logging=True)", ["one", "two"]),
])
def test_logging_records(how, want):
    argv, env = [PYTHON, os.path.join(PROGRAMS, "logs.py")], {}
    if how == "attach(logging=True)":
        argv.append("--attach")
    else:
        argv[1:1] = ["-m", "pytrace"] + (["--no-logging"] if "--no-logging" in how else [])
        if "PYTRACE_LOGGING" in how:
            env["PYTRACE_LOGGING"] = "0"
    run = retried(loglib.run_logged, argv,
                  env=loglib.env(PYTHONPATH=os.environ["PYTRACE_SHIM_PATH"], **env))
    assert (run.returncode, run.stdout, run.stderr) == (0, "done\n", "")
    assert [(e["logger_name"], e["msg"]) for e in run.events] == [("shim", m) for m in want]
