# SPDX-License-Identifier: MIT
"""Helpers shared by the pytrace-run integration tests of this folder.

The programs traced live in programs/. Their interesting lines carry `# @tag` markers, so that a
test names a line ("the `return` of fib's base case") instead of hard-coding its number: the
oracle stays right when a program is edited.
"""
import ast
import os
import re
import subprocess

import lttngharness

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
PYTRACE_RUN = os.environ["PYTRACE_RUN"]
SYS_PYTHON = "/usr/bin/python3"
# The interpreter pytrace-run embeds: what it must behave like (tracebacks differ by version).
PYTHON = os.environ.get("PYTRACE_PYTHON", SYS_PYTHON)


def _embedded_version():
    r = subprocess.run([PYTRACE_RUN, "-c", "import sys; print(*sys.version_info[:3])"],
                       capture_output=True, text=True, check=True, timeout=60)
    return tuple(int(x) for x in r.stdout.split())


# (major, minor) of the CPython pytrace-run embeds. 3.12+ is traced through sys.monitoring, and
# a few things the interpreter itself does differ from 3.11 (comprehensions have no frame of
# their own, closing a generator may run none of its code): the tests that depend on it say why.
PY_FULL = _embedded_version()
PY = PY_FULL[:2]

# Fast mode without C calls uses the frame evaluation function on 3.11.4+ (hook-eval.c): like
# sys.monitoring, it sees threads from their first frame.
FAST_EVAL_HOOK = PY == (3, 11) and PY_FULL >= (3, 11, 4)

ENTRY_KINDS = {"call", "resume", "active"}
RETURN_KINDS = {"return", "yield", "unwind", "detach"}


def prog(name):
    return os.path.join(PROGRAMS, name)


def run(args, env=None, **kw):
    """`pytrace-run ARGS` under a fresh LTTng session (lttngharness.run_traced).

    The session daemon is shared with everybody on the machine; if an `lttng` command itself
    fails (a session removed under our feet), the run is retried: the programs are
    deterministic, so a second run is the same experiment. Assertion errors are never retried.
    """
    for attempt in range(3):
        try:
            return lttngharness.run_traced([PYTRACE_RUN, *args], env=env, **kw)
        except RuntimeError as e:
            if not str(e).startswith("lttng ") or attempt == 2:
                raise


_TAG = re.compile(r"@([\w<>.\-]+)")


def lines(path):
    """{tag: line number} of the `# @tag` markers of a program (a line may carry several)."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for no, text in enumerate(f, 1):
            if "#" not in text:
                continue
            comment = text[text.index("#"):]
            for tag in _TAG.findall(comment):
                assert tag not in out, f"{path}: marker @{tag} used twice"
                out[tag] = no
    return out


def of_modules(events, modules=("__main__",)):
    """The Python events (entries, returns, exceptions) of frames of the given modules."""
    return [e for e in events
            if e["event"] in ("function__entry", "function__return", "exception")
            and e["module"] in modules]


def module_first_line(path):
    """The entry line (co_firstlineno) of a module's code: 1 from 3.10 on; 3.8 and 3.9 give the
    line of its first instruction, i.e. of its first statement (a decorated one's decorator)."""
    if PY >= (3, 10):
        return 1
    try:
        with open(path, "rb") as f:
            body = ast.parse(f.read()).body
    except OSError:  # "<string>" (-c), "<stdin>": no file to read
        return 1
    if not body:
        return 1
    return min([body[0].lineno] + [d.lineno for d in getattr(body[0], "decorator_list", [])])


def check_common(trace, active_ok=()):
    """What holds for every trace: balanced, interpreter 0, provider python, valid kinds,
    co_name consistent with co_qualname, no `detach` return (pytrace-run detaches only after
    the last Python code ran) and no `active` entry except for the frames in @active_ok
    (pytrace-run attaches before the program starts, so only a thread started by `threading`
    has frames already running when it is first seen)."""
    lttngharness.assert_balanced(trace.events)
    assert trace.events, "no event at all"
    for e in trace.events:
        assert e["provider"] == "python", e
        assert e["interp"] == 0, e
        assert isinstance(e["tid"], int) and e["tid"] > 0, e
        if e["event"] in lttngharness.ENTRY_EVENTS:
            assert e["kind"] in ENTRY_KINDS, e
            if e["kind"] == "active":
                assert e["event"] == "function__entry" and e["co_qualname"] in active_ok, e
        elif e["event"] in lttngharness.RETURN_EVENTS:
            assert e["kind"] in RETURN_KINDS, e
            assert e["kind"] != "detach", e
        if "co_qualname" in e:
            assert e["co_qualname"].rsplit(".", 1)[-1] == e["co_name"], e
            assert e["line_no"] >= 0, e


def expect(trace_events, expected, filename, modules=("__main__",)):
    """Compares the program's own events with a hand-written oracle.

    @expected is a list of (compact line, line number) pairs, e.g. ("call fib", 2): the compact
    sequence (lttngharness.compact) must be equal, then every event's line_no, and every
    event's co_filename must be @filename (a str, or a {module: filename} dict).
    """
    own = of_modules(trace_events, modules)
    got = lttngharness.compact(own, modules=modules)
    assert got == [s for s, _ in expected]
    got_lines = [(s, e["line_no"]) for s, e in zip(got, own)]
    file_of = lambda e: filename[e["module"]] if isinstance(filename, dict) else filename
    # a module's entry is written as line 1: see module_first_line() for 3.8/3.9
    expected = [(s, module_first_line(file_of(e)) if line == 1 and e["co_name"] == "<module>"
                 and e["event"] == "function__entry" else line)
                for (s, line), e in zip(expected, own)]
    assert got_lines == expected
    for e in own:
        assert e["co_filename"] == file_of(e), e
    return own


def single_thread(trace):
    """The events of a single-threaded program: asserts there is one tid and returns it."""
    tids = trace.tids()
    assert len(tids) == 1, tids
    return tids[0]
