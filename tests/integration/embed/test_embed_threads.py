# SPDX-License-Identifier: MIT
"""A `threading` thread already running (blocked on an Event) when the interpreter is attached:
its running frames appear as `active` entries, outermost first, then return normally."""
from embedhelp import run_script, seq, thread_events, tids
from lttngharness import assert_balanced

SCRIPT = """
    import threading

    import _pytracehost as host

    ready = threading.Event()
    go = threading.Event()

    def after():
        return 42

    def blocked():
        ready.set()
        go.wait()
        return after()

    def worker():
        print("tid worker", threading.get_native_id(), flush=True)
        blocked()
        after()

    t = threading.Thread(target=worker)
    t.start()
    ready.wait()
    print("tid main", threading.get_native_id(), flush=True)
    assert host.attach() == 0
    go.set()
    t.join()
    assert host.detach() == 0
"""


def test_thread_running_at_attach(tmp_path):
    t = run_script(tmp_path, SCRIPT)
    ids = tids(t.stdout)
    assert set(t.tids()) == {ids["main"], ids["worker"]}

    assert seq(t, ids["worker"]) == [
        "active worker", "active blocked",
        "call after", "return after",
        "return blocked",
        "call after", "return after",
        "return worker",
    ]
    # The whole stack of the worker is restated before anything else happens on it, outermost
    # first, from threading's bootstrap down. Below blocked() the thread may be anywhere between
    # ready.set() and the lock of go.wait(), so only the first five are certain.
    events = thread_events(t, ids["worker"])
    n_active = 0
    while events[n_active]["event"] == "function__entry" and events[n_active]["kind"] == "active":
        n_active += 1
    assert [e["co_qualname"] for e in events[:5]] == [
        "Thread._bootstrap", "Thread._bootstrap_inner", "Thread.run", "worker", "blocked",
    ]
    assert n_active >= 5
    assert not [e for e in events[n_active:] if e.get("kind") in ("active", "detach")]
    # The thread ended before detach: its bootstrap frames returned normally too.
    boot = ("Thread._bootstrap", "Thread._bootstrap_inner", "Thread.run")
    assert [(e["kind"], e["co_qualname"]) for e in events
            if e["event"] == "function__return" and e["co_qualname"] in boot] == [
        ("return", "Thread.run"),
        ("return", "Thread._bootstrap_inner"),
        ("return", "Thread._bootstrap"),
    ]
    assert events[-1]["co_qualname"] == "Thread._bootstrap"

    # The main thread attached at module level and detached there.
    assert seq(t, ids["main"]) == ["active <module>", "detach <module>"]
    assert_balanced(t.events)
