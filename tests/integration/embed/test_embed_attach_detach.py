# SPDX-License-Identifier: MIT
"""Attach and detach from inside running Python code: the frames open at attach appear as
`active` entries, those open at detach are closed by `detach` returns, nothing is recorded
between a detach and the next attach, and attaching again works."""
from embedhelp import run_script, seq, tids
from lttngharness import assert_balanced, compact

SCRIPT = """
    import threading

    import _pytracehost as host

    def leaf():
        return 1

    def f():
        assert host.attach() == 0
        leaf()
        return 2

    def g():
        f()
        leaf()

    def h():
        leaf()
        assert host.detach() == 0
        leaf()

    def k():
        h()
        leaf()

    def untraced():
        leaf()

    def m():
        leaf()

    print("tid main", threading.get_native_id(), flush=True)
    g()
    k()
    untraced()
    assert host.attach() == 0
    m()
    assert host.detach() == 0
    untraced()
"""

FIRST = [
    # attach() inside f() called from g(): the three running frames, outermost first.
    "active <module>", "active g", "active f",
    "call leaf", "return leaf",
    "return f",
    "call leaf", "return leaf",
    "return g",
    "call k", "call h",
    "call leaf", "return leaf",
    # detach() inside h() called from k(): the open frames, innermost first.
    "detach h", "detach k", "detach <module>",
]
SECOND = [
    # attach() at module level: only <module> runs.
    "active <module>",
    "call m", "call leaf", "return leaf", "return m",
    "detach <module>",
]


def test_attach_mid_stack_detach_with_open_frames_and_again(tmp_path):
    t = run_script(tmp_path, SCRIPT)
    main = tids(t.stdout)["main"]
    assert set(t.tids()) == {main}
    # untraced() never appears: nothing is recorded between a detach and the next attach, nor
    # after the last detach (finalization included).
    assert seq(t, main) == FIRST + SECOND
    events = [e for e in t.events if e["module"] == "__main__"]
    assert [e["kind"] for e in events] == [line.split()[0] for line in FIRST + SECOND]
    assert all(e["line_no"] == 0 for e in events if e["kind"] == "detach")
    assert t.events[-1] is events[-1]
    first_detach = next(i for i, e in enumerate(t.events)
                        if e["kind"] == "detach" and e["co_qualname"] == "<module>")
    assert (t.events[first_detach + 1]["kind"], t.events[first_detach + 1]["co_qualname"]) == (
        "active", "<module>")
    assert_balanced(t.events)


def test_detach_records_nothing_of_its_own(tmp_path):
    # No frame of another module runs while the script is attached, so the whole trace is the
    # script's: what libpytrace itself runs to detach must not appear as calls of the program.
    t = run_script(tmp_path, SCRIPT)
    foreign = [f"{e['kind']} {e['module']}.{e['co_qualname']}" for e in t.events
               if e.get("module") != "__main__"]
    assert foreign == []
    assert compact(t.events, modules=None) == FIRST + SECOND


def test_detach_with_open_frames_on_another_thread(tmp_path):
    # detach() from the main thread while a worker is blocked inside work(): the worker's frames
    # are closed with `detach` returns carrying the worker's tid, and the worker, which goes on
    # running, is not recorded any more.
    t = run_script(tmp_path, """
        import threading

        import _pytracehost as host

        started = threading.Event()
        go = threading.Event()

        def after():
            return 1

        def work():
            started.set()
            go.wait()
            after()

        def worker():
            print("tid worker", threading.get_native_id(), flush=True)
            work()

        assert host.attach() == 0
        th = threading.Thread(target=worker)
        th.start()
        started.wait()
        print("tid main", threading.get_native_id(), flush=True)
        assert host.detach() == 0
        go.set()
        th.join()
    """)
    ids = tids(t.stdout)
    assert set(t.tids()) == {ids["main"], ids["worker"]}
    assert seq(t, ids["worker"]) == [
        "call worker", "call work",
        "detach work", "detach worker",
    ]
    # Every worker frame still open at detach (threading's included) is closed as `detach`,
    # and the last of them, the thread's outermost frame, is its last event.
    worker = [e for e in t.events if e["tid"] == ids["worker"]]
    closing = [e for e in worker if e["event"] == "function__return" and e["kind"] == "detach"]
    assert closing[-1]["co_qualname"] == "Thread._bootstrap"
    assert worker[-1] is closing[-1]
    assert seq(t, ids["main"]) == ["active <module>", "detach <module>"]
    assert_balanced(t.events)
