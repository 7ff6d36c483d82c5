# SPDX-License-Identifier: MIT
"""examples/embed under a real session: the thread started by `threading` and the thread created
in C (traced after pytrace_thread_attach()) both record their calls, balanced, and it exits 0."""
import re

from embedhelp import PY, check_clean_run, example_path, fib_calls, seq, thread_events
from lttngharness import assert_balanced, compact, run_traced

WORK = ["call work"] + fib_calls(5) + ["return work"]


def run_example(*args):
    t = run_traced([example_path(), *args])
    check_clean_run(t)
    lines = t.stdout.splitlines()
    assert lines[0].startswith("libpytrace ") and "attached" in lines[0]
    assert lines[-1] == "done"
    ids = {}
    for line in lines:
        m = re.fullmatch(r"(python thread|C thread) \(tid (\d+)\): fib\(5\) = 5", line)
        if m:
            ids[m[1]] = int(m[2])
    assert len(ids) == 2, t.stdout
    return t, ids["python thread"], ids["C thread"]


def test_example(tmp_path):
    t, py_tid, c_tid = run_example()
    main = [tid for tid in t.tids() if tid not in (py_tid, c_tid)]
    assert len(main) == 1
    main = main[0]

    # The program string, run by PyRun_SimpleString() on the main thread after attach.
    assert seq(t, main) == ["call <module>", "return <module>"]
    # Started by `threading` after attach: traced from its first call, with no call of the host.
    assert seq(t, py_tid) == WORK
    # Created in C: PyRun_SimpleString("work('C thread')") is a <module> frame of __main__.
    assert seq(t, c_tid) == ["call <module>"] + WORK + ["return <module>"]

    for tid in (main, py_tid, c_tid):
        events = thread_events(t, tid)
        assert {e["interp"] for e in events} == {0}
        # The Python thread's only `active` entries are threading's bootstrap frames, which ran
        # before its first event (up to 3.11; 3.12+'s sys.monitoring sees the thread from its
        # first call); the host detaches with nothing open.
        assert not [e for e in events if e["module"] == "__main__" and e["kind"] == "active"]
        assert not [e for e in events if e.get("kind") == "detach"]
    assert [e["co_qualname"] for e in thread_events(t, py_tid) if e["kind"] == "active"] == (
        ["Thread._bootstrap", "Thread._bootstrap_inner"] if PY < (3, 12) else [])
    assert_balanced(t.events)


def called_from_main(events):
    """The events of __main__'s frames and of the C calls those frames make directly."""
    stack, out = [], []
    for e in events:
        if e["event"] in ("function__return", "c_function__return"):
            stack.pop()
        caller = next((m for m in reversed(stack) if m is not None), None)
        if e.get("module", caller) == "__main__":
            out.append(e)
        if e["event"] == "function__entry":
            stack.append(e["module"])
        elif e["event"] == "c_function__entry":
            stack.append(None)
    return out


def test_example_c_calls():
    t, py_tid, c_tid = run_example("--c-calls")
    assert "(with C calls)" in t.stdout.splitlines()[0]
    c_names = {"_thread.get_native_id", "print"}
    work = (["call work", "c_call _thread.get_native_id", "c_return _thread.get_native_id"]
            + fib_calls(5) + ["c_call print", "c_return print", "return work"])
    # Only the program's calls: threading's bootstrap (traced from its start on 3.12+) calls
    # _thread.get_native_id() itself.
    assert compact(called_from_main(thread_events(t, py_tid)), c_names=c_names) == work
    assert compact(called_from_main(thread_events(t, c_tid)), c_names=c_names) == (
        ["call <module>"] + work + ["return <module>"])
    assert_balanced(t.events)
