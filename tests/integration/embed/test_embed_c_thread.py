# SPDX-License-Identifier: MIT
"""A thread created in C that enters Python with PyGILState_Ensure() after attach: traced from
pytrace_thread_attach() on, with its own tid; silent without that call up to 3.11 (3.12+:
sys.monitoring traces it anyway, the call is a no-op)."""
from embedhelp import PY, run_script, seq, thread_events, tids
from lttngharness import assert_balanced

SCRIPT = """
    import sys
    import threading

    import _pytracehost as host

    def leaf(x):
        return x * 2

    def in_c_thread():
        print("tid c", threading.get_native_id(), flush=True)
        return leaf(1) + leaf(2)

    def main(attach_c_thread):
        print("tid main", threading.get_native_id(), flush=True)
        assert host.attach() == 0
        host.run_in_c_thread("in_c_thread()", attach=attach_c_thread)
        leaf(3)
        assert host.detach() == 0

    main(sys.argv[1] == "attach")
"""

# The main thread's frames were running at attach (attach is called inside main()), and are
# still open at detach.
MAIN = [
    "active <module>", "active main",
    "call leaf", "return leaf",
    "detach main", "detach <module>",
]


def check_c_thread_traced(t):
    ids = tids(t.stdout)
    assert ids["c"] != ids["main"]
    assert set(t.tids()) == {ids["main"], ids["c"]}

    # PyRun_SimpleString() runs "in_c_thread()" as a <module> frame of __main__ (file <string>).
    assert seq(t, ids["c"]) == [
        "call <module>",
        "call in_c_thread",
        "call leaf", "return leaf",
        "call leaf", "return leaf",
        "return in_c_thread",
        "return <module>",
    ]
    c_events = thread_events(t, ids["c"])
    assert c_events[0]["co_filename"] == "<string>"
    assert {e["interp"] for e in c_events} == {0}
    # The C thread started after attach: nothing of it was running, so nothing is `active`, and
    # it ended normally, so nothing is closed by `detach`.
    assert all(e["kind"] == "call" for e in c_events if e["event"] == "function__entry")
    assert all(e["kind"] == "return" for e in c_events if e["event"] == "function__return")

    assert seq(t, ids["main"]) == MAIN
    assert_balanced(t.events)


def test_c_thread_with_thread_attach(tmp_path):
    check_c_thread_traced(run_script(tmp_path, SCRIPT, "attach"))


def test_c_thread_without_thread_attach_is_silent(tmp_path):
    t = run_script(tmp_path, SCRIPT, "no-attach")
    if PY >= (3, 12):
        # sys.monitoring's events are the interpreter's: every thread has them, however it
        # was created, so the C thread is traced exactly as with pytrace_thread_attach().
        check_c_thread_traced(t)
        return
    ids = tids(t.stdout)
    assert ids["c"] != ids["main"]
    assert thread_events(t, ids["c"]) == []
    assert set(t.tids()) == {ids["main"]}
    assert seq(t, ids["main"]) == MAIN
    assert_balanced(t.events)


def test_c_thread_running_at_attach_needs_no_call(tmp_path):
    # The C thread entered Python before attach (its thread state exists at attach), so attach
    # finds it like any other thread: its running frames appear as `active` entries.
    t = run_script(tmp_path, """
        import threading

        import _pytracehost as host

        ready = threading.Event()
        go = threading.Event()

        def after():
            return 1

        def in_c_thread():
            print("tid c", threading.get_native_id(), flush=True)
            ready.set()
            go.wait()
            after()

        def starter():
            print("tid starter", threading.get_native_id(), flush=True)
            host.run_in_c_thread("in_c_thread()", attach=False)
            after()

        th = threading.Thread(target=starter)
        th.start()
        ready.wait()
        print("tid main", threading.get_native_id(), flush=True)
        assert host.attach() == 0
        go.set()
        th.join()
        assert host.detach() == 0
    """)
    ids = tids(t.stdout)
    assert set(t.tids()) == {ids["main"], ids["starter"], ids["c"]}
    assert seq(t, ids["c"]) == [
        "active <module>", "active in_c_thread",
        "call after", "return after",
        "return in_c_thread", "return <module>",
    ]
    # The threading thread waited in C (pthread_join, GIL released) the whole time.
    assert seq(t, ids["starter"]) == [
        "active starter", "call after", "return after", "return starter",
    ]
    assert seq(t, ids["main"]) == ["active <module>", "detach <module>"]
    assert_balanced(t.events)


def test_thread_attach_before_attach(tmp_path):
    # pytrace_thread_attach() on a C thread while nothing is attached: -ENOENT, and the thread
    # runs untraced (run_in_c_thread() raises RuntimeError with the value it got). The same call
    # after attach traces the next C thread.
    t = run_script(tmp_path, """
        import errno
        import threading

        import _pytracehost as host

        def in_c_thread(label):
            print("tid", label, threading.get_native_id(), flush=True)

        try:
            host.run_in_c_thread("in_c_thread('early')")
        except RuntimeError as e:
            assert str(e) == f"pytrace_thread_attach() returned {-errno.ENOENT}", e
        else:
            raise AssertionError("no error")
        assert host.attach() == 0
        host.run_in_c_thread("in_c_thread('late')")
        assert host.detach() == 0
    """)
    ids = tids(t.stdout)
    assert thread_events(t, ids["early"]) == []
    assert seq(t, ids["late"]) == [
        "call <module>", "call in_c_thread", "return in_c_thread", "return <module>",
    ]
    assert_balanced(t.events)
