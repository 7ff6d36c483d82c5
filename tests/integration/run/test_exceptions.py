# SPDX-License-Identifier: MIT
"""Exceptions under pytrace-run. An `exception` event is emitted in the frame where an exception
is raised and again in every frame it propagates into (the catching frame included), before
that frame's `unwind` return; it carries the frame's current line. A bare `raise` re-raises
without a new event (CPython jumps straight to unwinding), and so does the implicit re-raise at
the end of a `finally`."""
import subprocess

import runlib
from runlib import expect, lines, prog


def test_caught_exceptions():
    path = prog("exc_caught.py")
    L = lines(path)
    t = runlib.run([path])
    assert (t.returncode, t.stderr) == (0, "")
    assert t.stdout == "['caught', 'ValueError', 'finally', 4]\n"
    runlib.check_common(t)
    runlib.single_thread(t)

    def inner_raises():
        return [("call inner", L["def-inner"]),
                ("exception ValueError in inner", L["raise-inner"]),
                ("unwind inner", L["raise-inner"])]

    exp = [
        ("call <module>", 1),
        ("call AppError", L["def-AppError"]),
        ("call AppError.Detail", L["def-Detail"]),
        ("return AppError.Detail", L["ret-Detail"]),
        ("return AppError", L["def-Detail"]),
        ("call main", L["def-main"]),
        # inner raises, middle lets it through, outer catches it and returns normally
        ("call outer", L["def-outer"]),
        ("call middle", L["def-middle"]),
        *inner_raises(),
        ("exception ValueError in middle", L["call-inner"]),
        ("unwind middle", L["call-inner"]),
        ("exception ValueError in outer", L["call-middle"]),
        ("return outer", L["ret-outer"]),
        # translate catches ValueError and raises AppError from it; reraise catches it and
        # re-raises it bare (no new event); main catches it
        ("call reraise", L["def-reraise"]),
        ("call translate", L["def-translate"]),
        *inner_raises(),
        ("exception ValueError in translate", L["translate-call"]),
        ("exception __main__.AppError in translate", L["translate-raise"]),
        ("unwind translate", L["translate-raise"]),
        ("exception __main__.AppError in reraise", L["reraise-call"]),
        ("unwind reraise", L["reraise-raise"]),
        ("exception __main__.AppError in main", L["main-reraise"]),
        # the finally block runs (a normal call) while the exception is in flight
        ("call with_finally", L["def-with_finally"]),
        *inner_raises(),
        ("exception ValueError in with_finally", L["finally-call"]),
        ("call cleanup", L["def-cleanup"]),
        ("return cleanup", L["ret-cleanup"]),
        ("unwind with_finally", L["finally-cleanup"]),
        ("exception ValueError in main", L["main-finally"]),
        # exceptions raised by C code (int(), a dict lookup, json's C scanner) and a nested
        # exception class of this module: type names are module-qualified except builtins
        ("call in_c", L["def-in_c"]),
        ("exception ValueError in in_c", L["int-call"]),
        ("exception KeyError in in_c", L["dict-lookup"]),
        ("exception json.decoder.JSONDecodeError in in_c", L["json-call"]),
        ("exception __main__.AppError.Detail in in_c", L["detail-raise"]),
        ("return in_c", L["ret-in_c"]),
        ("return main", L["ret-main"]),
        ("return <module>", L["last"]),
    ]
    own = expect(t.events, exp, path)
    tid = t.tids()[0]
    assert all(e["tid"] == tid and e["module"] == "__main__" for e in own)
    # the JSONDecodeError is also reported in json's own frames, under their module names
    json_exc = [e for e in t.events if e["event"] == "exception"
                and e["exc_type"] == "json.decoder.JSONDecodeError" and e["module"] != "__main__"]
    assert json_exc and {e["module"] for e in json_exc} <= {"json", "json.decoder"}


def _python3(args):
    r = subprocess.run([runlib.PYTHON, *args], capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def test_uncaught_exception():
    path = prog("exc_uncaught.py")
    L = lines(path)
    t = runlib.run([path])
    # same status, output and traceback as python3 itself
    assert (t.returncode, t.stdout, t.stderr) == _python3([path])
    assert t.returncode == 1 and t.stdout == "started\n"
    assert t.stderr.startswith("Traceback (most recent call last):\n")
    assert t.stderr.endswith("RuntimeError: boom 42\n")
    assert f'File "{path}", line {L["raise-fail"]}, in fail\n' in t.stderr
    runlib.check_common(t)
    runlib.single_thread(t)
    exp = [
        ("call <module>", 1),
        ("call main", L["def-main"]),
        ("call fail", L["def-fail"]),
        ("exception RuntimeError in fail", L["raise-fail"]),
        ("unwind fail", L["raise-fail"]),
        ("exception RuntimeError in main", L["call-fail"]),
        ("unwind main", L["call-fail"]),
        ("exception RuntimeError in <module>", L["last"]),
        ("unwind <module>", L["last"]),
    ]
    expect(t.events, exp, path)


def test_sys_exit():
    path = prog("sys_exit.py")
    L = lines(path)
    t = runlib.run([path])
    assert (t.returncode, t.stdout, t.stderr) == (3, "exiting\n", "")
    assert (t.returncode, t.stdout, t.stderr) == _python3([path])
    runlib.check_common(t)
    runlib.single_thread(t)
    exp = [
        ("call <module>", 1),
        ("call main", L["def-main"]),
        # SystemExit is an exception like any other: raised by sys.exit (C) into main
        ("exception SystemExit in main", L["exit"]),
        ("unwind main", L["exit"]),
        ("exception SystemExit in <module>", L["last"]),
        ("unwind <module>", L["last"]),
    ]
    expect(t.events, exp, path)


def test_program_with_its_own_trace_function():
    """The program's sys.settrace() keeps working and sees exactly what it sees untraced. On
    3.8-3.11 it takes the thread's trace slot, which libpytrace uses only for `exception` events:
    those are missing while it holds it, calls and returns stay complete. 3.12+'s
    sys.monitoring tools are independent: nothing is missing."""
    path = prog("own_tracer.py")
    L = lines(path)
    plain = subprocess.run([runlib.PYTHON, path], capture_output=True, text=True, timeout=60)
    t = runlib.run([path])
    assert (t.returncode, t.stdout, t.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    assert "('fail', 'exception')" in t.stdout
    runlib.check_common(t)
    runlib.single_thread(t)
    exc = [("exception KeyError in fail", L["raise-fail"])] if runlib.PY >= (3, 12) else []
    exc_main = [("exception KeyError in main", L["call-fail"])] if runlib.PY >= (3, 12) else []
    expect(t.events, [
        ("call <module>", 1),
        ("call main", L["def-main"]),
        ("call fail", L["def-fail"]),
        *exc,
        ("unwind fail", L["raise-fail"]),
        *exc_main,
        ("return main", L["ret-main"]),
        ("return <module>", L["last"]),
    ], path)
