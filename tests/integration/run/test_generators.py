# SPDX-License-Identifier: MIT
"""Generators and coroutines under pytrace-run: a first start is an entry of kind `call`, every
later resume one of kind `resume`; each suspension is a return of kind `yield`, the end a return
of kind `return` (or `unwind` when an exception leaves the frame). Entries carry the code's
first line, also on resume; returns carry the line of the yield / return."""
import runlib
from runlib import expect, lines, prog


def test_generators():
    path = prog("generators.py")
    L = lines(path)
    t = runlib.run([path])
    assert t.returncode == 0 and t.stderr == ""
    assert t.stdout == "[[0, 1, 'done'], (0, 7, 9), (1, 2), 0, ['s1', 's2', 'sub-done'], 5]\n"
    runlib.check_common(t)
    runlib.single_thread(t)

    c, y = L["def-counter"], L["yield-counter"]
    ca, cy1, cy2 = L["def-catcher"], L["yield1-catcher"], L["yield2-catcher"]
    dg, yf, yr = L["def-delegator"], L["yield-from"], L["yield-r"]
    sb = L["def-sub"]
    ge = L["genexpr"]
    exp = [
        ("call <module>", 1),
        ("call main", L["def-main"]),
        # next(), next(), next() -> StopIteration("done") raised into drive_next and caught
        ("call drive_next", L["def-drive_next"]),
        ("call counter", c), ("yield counter", y),
        ("resume counter", c), ("yield counter", y),
        ("resume counter", c), ("return counter", L["ret-counter"]),
        ("exception StopIteration in drive_next", L["stop-next"]),
        ("return drive_next", L["ret-drive_next"]),
        # next(), send(7), send(9), close(): GeneratorExit raised at the yield, not caught
        ("call drive_send", L["def-drive_send"]),
        ("call counter", c), ("yield counter", y),
        ("resume counter", c), ("yield counter", y),
        ("resume counter", c), ("yield counter", y),
        # (3.13+ closes a generator suspended outside any `try`/`with` without running its
        # frame again: no event)
        *([("resume counter", c),
           ("exception GeneratorExit in counter", y),
           ("unwind counter", y)] if runlib.PY < (3, 13) else []),
        ("return drive_send", L["ret-drive_send"]),
        # throw(KeyError) is caught inside and the generator yields again; throw(ValueError)
        # is not: it unwinds the generator and propagates into drive_throw
        ("call drive_throw", L["def-drive_throw"]),
        ("call catcher", ca), ("yield catcher", cy1),
        ("resume catcher", ca),
        ("exception KeyError in catcher", cy1),
        ("yield catcher", cy2),
        ("resume catcher", ca),
        ("exception ValueError in catcher", cy2),
        ("unwind catcher", cy2),
        ("exception ValueError in drive_throw", L["throw-value"]),
        ("return drive_throw", L["ret-drive_throw"]),
        # CPython 3.11's close() of a never-started generator still runs its frame, with
        # GeneratorExit thrown in before the first instruction: a first start, so kind
        # `call`, at the first line. 3.12+ returns early instead: the frame never runs.
        ("call drive_close_unstarted", L["def-drive_close_unstarted"]),
        *([("call counter", c),
           ("exception GeneratorExit in counter", c),
           ("unwind counter", c)] if runlib.PY < (3, 12) else []),
        ("return drive_close_unstarted", L["ret-drive_close_unstarted"]),
        # for-loop over a delegating generator: each next() resumes the delegator, whose
        # `yield from` resumes sub; sub's `return` value comes back as StopIteration, which
        # CPython 3.11 reports to tracers in the delegating frame (PEP 380). 3.12+'s SEND
        # takes the value without raising anything (sys.monitoring calls it STOP_ITERATION,
        # not RAISE): no exception there.
        ("call drive_for", L["def-drive_for"]),
        ("call delegator", dg), ("call sub", sb), ("yield sub", L["yield1-sub"]),
        ("yield delegator", yf),
        ("resume delegator", dg), ("resume sub", sb), ("yield sub", L["yield2-sub"]),
        ("yield delegator", yf),
        ("resume delegator", dg), ("resume sub", sb), ("return sub", L["ret-sub"]),
        *([("exception StopIteration in delegator", yf)] if runlib.PY < (3, 12) else []),
        ("yield delegator", yr),
        # the end of a for loop is no exception (FOR_ITER, no StopIteration raised)
        ("resume delegator", dg), ("return delegator", yr),
        # ... except up to 3.9, whose tracers are told of a StopIteration caught by the `for`
        # when a generator ends (sys.settrace sees it too); 3.10+ generators end without one
        *([("exception StopIteration in drive_for", L["for-drive_for"])]
          if runlib.PY < (3, 10) else []),
        ("return drive_for", L["ret-drive_for"]),
        # sum() over a generator expression of 3 items: 3 yields, 3 resumes
        ("call drive_genexpr", L["def-drive_genexpr"]),
        ("call drive_genexpr.<locals>.<genexpr>", ge),
        ("yield drive_genexpr.<locals>.<genexpr>", ge),
        ("resume drive_genexpr.<locals>.<genexpr>", ge),
        ("yield drive_genexpr.<locals>.<genexpr>", ge),
        ("resume drive_genexpr.<locals>.<genexpr>", ge),
        ("yield drive_genexpr.<locals>.<genexpr>", ge),
        ("resume drive_genexpr.<locals>.<genexpr>", ge),
        ("return drive_genexpr.<locals>.<genexpr>", ge),
        ("return drive_genexpr", ge),
        ("return main", L["ret-main"]),
        ("return <module>", L["last"]),
    ]
    expect(t.events, exp, path)


def test_asyncio_coroutines():
    path = prog("coroutines.py")
    L = lines(path)
    t = runlib.run([path])
    assert (t.returncode, t.stdout, t.stderr) == (0, "6\n", "")
    runlib.check_common(t)
    runlib.single_thread(t)

    lf, mn = L["def-leaf"], L["def-main"]
    exp = [
        ("call <module>", 1),
        # first Task step: main starts, awaits leaf(1), which suspends in asyncio.sleep(0):
        # both coroutines yield up to the event loop
        ("call main", mn), ("call leaf", lf),
        ("yield leaf", L["await-leaf"]), ("yield main", L["await1-main"]),
        # second step: both resume, leaf returns into main, which awaits leaf(2)
        ("resume main", mn), ("resume leaf", lf), ("return leaf", L["ret-leaf"]),
        ("call leaf", lf),
        ("yield leaf", L["await-leaf"]), ("yield main", L["await2-main"]),
        # third step: both resume, leaf returns, main returns to the Task
        ("resume main", mn), ("resume leaf", lf), ("return leaf", L["ret-leaf"]),
        ("return main", L["ret-main"]),
        ("return <module>", L["last"]),
    ]
    own = runlib.of_modules(t.events)
    calls = [e for e in own if e["event"] != "exception"]
    expect(calls, exp, path)
    # With a tracer installed, CPython 3.11's SEND reports the StopIteration that carries an
    # awaited coroutine's result to the awaiting frame. Those are the only exceptions allowed
    # in the program's coroutines, and only at an await.
    awaits = {("leaf", L["await-leaf"]), ("main", L["await1-main"]), ("main", L["await2-main"])}
    for e in own:
        if e["event"] == "exception":
            assert e["exc_type"] == "StopIteration", e
            assert (e["co_qualname"], e["line_no"]) in awaits, e
    # the event loop's own frames are there (asyncio), under their own module names
    assert any(e["module"].startswith("asyncio.") for e in t.events if "module" in e)
