# SPDX-License-Identifier: MIT
"""Threads started by `threading` under pytrace-run: each thread has its own balanced stream,
with its own kernel tid on every event, compared exactly against the program's per-thread
oracle. The program prints the native id of each thread, so the test knows which tid is which."""
import re

import lttngharness
import runlib
from runlib import expect, lines, prog


def test_threads_each_have_their_own_exact_stream():
    path = prog("threads.py")
    L = lines(path)
    t = runlib.run([path])
    assert t.returncode == 0 and t.stderr == ""
    m = re.fullmatch(r"main (\d+) (\d+)\nt2 (\d+) 1\nt3 (\d+) 5\n", t.stdout)
    assert m, t.stdout
    pid, main_tid, t2, t3 = map(int, m.groups())
    assert pid == main_tid  # the main thread's tid is the process id

    # 3.8-3.11: bootstrap frames of a threading thread already run when libpytrace first sees
    # the thread (its hook is installed from threading's own profile hook). 3.12+: sys.monitoring
    # covers the thread from its first Python call, Thread._bootstrap itself.
    boot = "active" if runlib.PY < (3, 12) else "call"
    runlib.check_common(t, active_ok=("Thread._bootstrap", "Thread._bootstrap_inner")
                        if boot == "active" else ())
    # exactly three threads emitted events, each under its own tid
    assert sorted(t.tids()) == sorted({main_tid, t2, t3})
    by_tid = t.by_tid()

    exp_main = [
        ("call <module>", 1),
        ("call main", L["def-main"]),
        # a list comprehension is a frame of its own up to 3.11, inlined from 3.12 (PEP 709)
        *([("call main.<locals>.<listcomp>", L["listcomp"]),
           ("return main.<locals>.<listcomp>", L["listcomp"])] if runlib.PY < (3, 12) else []),
        ("return main", L["ret-main"]),
        # the implicit return after a module-level for loop carries the `for` line (3.10+,
        # PEP 626); up to 3.9 the line of the loop's last statement
        ("return <module>", L["for-end"] if runlib.PY >= (3, 10) else L["for-body"]),
    ]
    expect(by_tid[main_tid], exp_main, path)

    def exp_worker(n):
        return ([("call runner", L["def-runner"]), ("call work", L["def-work"])]
                + [("call square", L["def-square"]), ("return square", L["ret-square"])] * n
                + [("return work", L["ret-work"]), ("return runner", L["ret-runner"])])

    for tid, n in ((t2, 2), (t3, 3)):
        evs = by_tid[tid]
        assert all(e["tid"] == tid for e in evs)
        expect(evs, exp_worker(n), path)
        # the thread's whole stream: opened by threading's bootstrap frames (already running
        # up to 3.11, hence `active`), closed by their returns; Thread.run calls the target
        whole = lttngharness.compact(evs, modules=None)
        assert whole[:2] == [f"{boot} Thread._bootstrap", f"{boot} Thread._bootstrap_inner"]
        run = whole.index("call Thread.run")
        # up to 3.11 the hook comes with Thread.run; 3.12+ also sees the calls _bootstrap_inner
        # makes before it (threading's own bookkeeping, module threading)
        if boot == "active":
            assert run == 2, whole[:5]
        else:
            assert {e["module"] for e in evs[2:run]} == {"threading"}, whole[:run]
        assert whole[-2:] == ["return Thread._bootstrap_inner", "return Thread._bootstrap"]
        assert whole[run + 1:run + 3] == ["call runner", "call work"]
        lttngharness.assert_balanced(evs)
        for e in evs:
            if e["module"] == "threading":
                assert e["co_filename"].endswith("/threading.py"), e
